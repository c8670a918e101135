//! The "what went wrong" chart: per strategy × database, duplicate rows, lost updates,
//! missing rows and errors left to the application, as four small bar panels side by side
//! (hand-written SVG; every panel has its own scale).

use std::fmt::Write;

use crate::report::{StrategyResult, num};

use super::escape;
use super::plots::PlotData;

/// Width of the chart, px.
const WIDTH: u32 = 960;
/// Height of one row, px.
const ROW: u32 = 22;
/// Height of the panel titles, px.
const HEAD: u32 = 40;

/// One panel: title, bar colour, value.
struct Panel {
    title: &'static str,
    color: &'static str,
    value: fn(&StrategyResult) -> u64,
}

const PANELS: [Panel; 4] = [
    Panel {
        title: "duplicate rows",
        color: "#b3261e",
        value: |r| r.duplicate_rows,
    },
    Panel {
        title: "lost updates",
        color: "#b3261e",
        value: |r| r.lost_updates,
    },
    Panel {
        title: "missing rows",
        color: "#b3261e",
        value: |r| r.missing_rows,
    },
    Panel {
        title: "errors to the app",
        color: "#e08a00",
        value: |r| r.outcomes.errors(),
    },
];

/// The chart as SVG, or why there is none.
pub fn chart(data: &PlotData) -> Result<String, String> {
    let multi = data.databases.len() > 1;
    let mut rows: Vec<(String, &StrategyResult)> = Vec::new();
    for s in &data.strategies {
        for d in &data.databases {
            if let Some(r) = data
                .results
                .iter()
                .find(|r| r.strategy == *s && r.database == *d && r.available)
            {
                let label = if multi {
                    format!("{s} · {d}")
                } else {
                    s.to_string()
                };
                rows.push((label, r));
            }
        }
    }
    if rows.is_empty() {
        return Err("no strategy ran".into());
    }
    let lw = rows
        .iter()
        .map(|(l, _)| l.chars().count() as u32 * 8)
        .max()
        .unwrap_or(40)
        .clamp(60, 340)
        + 12;
    let gap = 14;
    let pw = (WIDTH - lw - 3 * gap - 8) / 4;
    let height = HEAD + rows.len() as u32 * ROW + 10;
    let mut svg = String::with_capacity(8 * 1024);
    let _ = write!(
        svg,
        "<svg class=\"correctness\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\">\
         <rect width=\"{WIDTH}\" height=\"{height}\" fill=\"white\"/>"
    );
    for (i, (label, _)) in rows.iter().enumerate() {
        let y = HEAD + i as u32 * ROW;
        if i % 2 == 1 {
            let _ = write!(
                svg,
                "<rect x=\"0\" y=\"{y}\" width=\"{WIDTH}\" height=\"{ROW}\" fill=\"#f5f7f9\"/>"
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"end\">{}</text>",
            lw - 8,
            y + 15,
            escape(label)
        );
    }
    for (p, panel) in PANELS.iter().enumerate() {
        let x0 = lw + p as u32 * (pw + gap);
        let max = rows
            .iter()
            .map(|(_, r)| (panel.value)(r))
            .max()
            .unwrap_or(0);
        let _ = write!(
            svg,
            "<text x=\"{x0}\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{}</text>\
             <text x=\"{x0}\" y=\"32\" font-size=\"12\" fill=\"#5f6b76\">{}</text>\
             <line x1=\"{x0}\" y1=\"{HEAD}\" x2=\"{x0}\" y2=\"{}\" stroke=\"#aab4bd\"/>",
            panel.title,
            if max == 0 {
                "none in any run".to_string()
            } else {
                format!("max {}", num(max))
            },
            height - 6
        );
        for (i, (_, r)) in rows.iter().enumerate() {
            let v = (panel.value)(r);
            let y = HEAD + i as u32 * ROW;
            let text = num(v);
            let room = pw.saturating_sub(text.len() as u32 * 8 + 6);
            let w = if max == 0 {
                0
            } else {
                ((v as f64 / max as f64) * f64::from(room)).round() as u32
            }
            .max(u32::from(v > 0) * 2);
            if w > 0 {
                let _ = write!(
                    svg,
                    "<rect x=\"{x0}\" y=\"{}\" width=\"{w}\" height=\"{}\" fill=\"{}\"/>",
                    y + 4,
                    ROW - 8,
                    panel.color
                );
            }
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"{}\">{text}</text>",
                x0 + w + 4,
                y + 15,
                if v == 0 { "#a7b0b8" } else { "#1d2329" }
            );
        }
    }
    svg.push_str("</svg>");
    Ok(svg)
}
