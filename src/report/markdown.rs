//! Markdown for a pull request: per scenario a table (the terminal's compact columns plus
//! predictions) and the conclusions as a list.

use super::table::{Col, columns};
use super::{Report, ScenarioReport, StrategyResult, VerdictLevel};

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn md_table(results: &[StrategyResult], cols: &[Col]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        cols.iter().map(|c| c.title).collect::<Vec<_>>().join(" | ")
    ));
    out.push_str(&format!(
        "|{}|\n",
        cols.iter()
            .map(|c| if c.left { " --- " } else { " ---: " })
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in results.iter().filter(|r| r.available) {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| {
                let v = escape(&(c.value)(r));
                let unsafe_ = r
                    .verdict
                    .as_ref()
                    .is_some_and(|v| v.level == VerdictLevel::Unsafe);
                if c.title == "verdict" && unsafe_ {
                    format!("**{v}**")
                } else {
                    v
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// One scenario as Markdown: heading, table, fastest safe strategies, why the others are
/// not safe, failed predictions.
pub fn render_scenario(s: &ScenarioReport) -> String {
    let mut out = format!("### {}\n\n", escape(&s.name));
    if !s.teaches.is_empty() {
        out.push_str(&format!("_{}_\n\n", s.teaches));
    }
    if s.repeat > 1 {
        out.push_str(&format!(
            "{} repetitions per strategy × database: medians, ± half the 95 % interval of the median.\n\n",
            s.repeat
        ));
    }
    if let Some(e) = &s.error {
        out.push_str(&format!("**error:** {}\n\n", escape(e)));
    }
    if s.results.is_empty() {
        return out;
    }
    let cols: Vec<Col> = columns()
        .into_iter()
        .filter(|c| c.compact || c.title == "predictions")
        .collect();
    out.push_str(&md_table(&s.results, &cols));
    out.push('\n');
    let na: Vec<String> = s
        .results
        .iter()
        .filter(|r| !r.available)
        .map(|r| format!("`{}` on {}", r.strategy, r.database))
        .collect();
    if !na.is_empty() {
        out.push_str(&format!("Not available there: {}.\n\n", na.join(", ")));
    }
    for f in &s.fastest_safe {
        out.push_str(&format!("- **{}**\n", escape(&f.line())));
    }
    for r in &s.results {
        if let Some(v) = r.verdict.as_ref().filter(|v| v.level != VerdictLevel::Safe) {
            out.push_str(&format!(
                "- {} `{}` on {}: {}\n",
                v.level.marked(),
                r.strategy,
                r.database,
                escape(&v.reasons.join("; "))
            ));
        }
        for v in r.expectations.iter().filter(|v| !v.held) {
            out.push_str(&format!(
                "- prediction failed: `{}` for `{}` on {} (got {})\n",
                v.text, r.strategy, r.database, v.actual
            ));
        }
    }
    out.push('\n');
    out
}

/// The whole report as Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::from("## keyrace results\n\n");
    for s in &report.servers {
        out.push_str(&format!("- server: {} ({})\n", s.database, s.provider));
    }
    out.push('\n');
    for s in &report.scenarios {
        out.push_str(&render_scenario(s));
    }
    for i in &report.interleavings {
        out.push_str(&format!(
            "### {} (interleaving)\n\n```\n{}\n```\n\n",
            escape(&i.scenario),
            i.summary.trim_end()
        ));
        for c in &i.claims {
            let verdicts: Vec<String> = c
                .servers
                .iter()
                .map(|s| format!("{}: {} {}", s.label, s.verdict.mark(), s.verdict.name()))
                .collect();
            out.push_str(&format!(
                "- claim `{}` ({}): “{}” — {}\n",
                c.id,
                escape(&c.seed),
                escape(&c.quote),
                escape(&verdicts.join(", "))
            ));
        }
        if !i.claims.is_empty() {
            out.push('\n');
        }
    }
    let (held, total) = report.predictions();
    out.push_str(&format!(
        "Predictions: {held} held, {} failed{}.\n",
        total - held,
        if report.interrupted {
            " (interrupted: partial results)"
        } else {
            ""
        }
    ));
    out
}
