//! The HTML report's plots, drawn with plotters' SVG backend into strings: throughput per
//! strategy, latency quantiles per strategy × database, and the outcome mix. No fonts or files
//! are needed: SVG text names a font family and the browser draws it.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{StrategyResult, num};
use crate::vocab::Outcome;

/// Width of every plot, px.
pub(super) const WIDTH: u32 = 960;
/// Font family of all plot text.
pub(super) const FONT: &str = "sans-serif";
/// Height of one bar, px.
const BAR: u32 = 16;
/// Height of the legend strip, px.
const LEGEND_ROW: u32 = 20;

/// Colours for databases, in column order (repeats after six).
const DB_COLORS: [RGBColor; 6] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x9c, 0x75, 0x5f),
];

pub(super) const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);

/// The colour of an outcome class in the outcome-mix plot and its legend.
pub fn outcome_color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Inserted => RGBColor(0x3a, 0x8f, 0x3f),
        Outcome::Existed => RGBColor(0x9f, 0xd2, 0x8f),
        Outcome::Updated => RGBColor(0x4f, 0x9f, 0xb8),
        Outcome::UniqueViolation => RGBColor(0xd6, 0x3a, 0x3a),
        Outcome::Deadlock => RGBColor(0x7b, 0x3f, 0x9e),
        Outcome::SerializationFailure => RGBColor(0xf2, 0x8e, 0x2b),
        Outcome::LockTimeout => RGBColor(0xe8, 0xc5, 0x3a),
        Outcome::QueryCanceled => RGBColor(0xc9, 0x8b, 0x2e),
        Outcome::ConnectionError => RGBColor(0x55, 0x55, 0x55),
        Outcome::Timeout => RGBColor(0x33, 0x33, 0x33),
        Outcome::Other => RGBColor(0xb5, 0xa9, 0xa5),
    }
}

/// True when counts on an outcome's colour read better in black than in white.
fn dark_text(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::Existed | Outcome::LockTimeout | Outcome::Other | Outcome::SerializationFailure
    )
}

/// The colour of the `i`th database.
pub fn db_color(i: usize) -> RGBColor {
    DB_COLORS[i % DB_COLORS.len()]
}

/// What the plots draw: one scenario's results, with strategies and databases in display order.
pub struct PlotData<'a> {
    /// Strategy names, top to bottom.
    pub strategies: Vec<&'a str>,
    /// Database labels, in colour order.
    pub databases: Vec<&'a str>,
    /// The scenario's results.
    pub results: &'a [StrategyResult],
}

impl PlotData<'_> {
    fn get(&self, strategy: &str, database: &str) -> Option<&StrategyResult> {
        self.results
            .iter()
            .find(|r| r.strategy == strategy && r.database == database)
    }
}

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A latency in µs as a short label (`850 µs`, `12 ms`, `1.5 s`).
pub(super) fn fmt_us(v: f64) -> String {
    if v >= 1e6 {
        format!("{} s", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{} ms", trim(v / 1e3))
    } else {
        format!("{} µs", trim(v))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Approximate width of `text` at 12 px, px (SVG text is measured by the browser).
fn text_width(text: &str) -> u32 {
    (text.chars().count() as u32) * 8
}

/// Draws a legend of coloured swatches (or plain text, without a colour) at the top of
/// `area`, wrapping at the area's width (see [`legend_height`]).
pub(super) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    items: &[(String, Option<RGBColor>)],
    x0: i32,
) -> Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let (mut x, mut y) = (x0, 4);
    for (label, color) in items {
        let step = 22 + text_width(label) as i32 + 14;
        if x + step > w as i32 && x > x0 {
            x = x0;
            y += LEGEND_ROW as i32;
        }
        let tx = match color {
            Some(c) => {
                area.draw(&Rectangle::new([(x, y + 2), (x + 12, y + 14)], c.filled()))
                    .map_err(err)?;
                x + 17
            }
            None => x,
        };
        area.draw(&Text::new(label.clone(), (tx, y + 2), (FONT, 15)))
            .map_err(err)?;
        x += step;
    }
    Ok(())
}

/// Height the legend of `items` needs at width `WIDTH`, starting at `x0`.
pub(super) fn legend_height(items: &[(String, Option<RGBColor>)], x0: i32) -> u32 {
    let mut x = x0;
    let mut rows = 1;
    for (label, _) in items {
        let step = 22 + text_width(label) as i32 + 14;
        if x + step > WIDTH as i32 && x > x0 {
            x = x0;
            rows += 1;
        }
        x += step;
    }
    rows * LEGEND_ROW + 8
}

fn db_legend(data: &PlotData) -> Vec<(String, Option<RGBColor>)> {
    data.databases
        .iter()
        .enumerate()
        .map(|(i, d)| (d.to_string(), Some(db_color(i))))
        .collect()
}

/// A category axis of `n` bands over `0..n`, with a key point (label) at each band's centre.
struct Bands(usize);

impl Ranged for Bands {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let n = self.0.max(1) as f64;
        limit.0 + ((limit.1 - limit.0) as f64 * (v / n)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        (0..self.0).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.0 as f64
    }
}

/// The label of the band containing `v`, for categories drawn top to bottom.
fn band_label(labels: &[String], v: f64) -> String {
    let n = labels.len();
    let idx = v.floor();
    if idx < 0.0 || idx as usize >= n {
        return String::new();
    }
    labels[n - 1 - idx as usize].clone()
}

/// Vertical extent of sub-bar `j` of `k` in band `i` (counted from the top of `n`).
fn sub_bar(n: usize, i: usize, j: usize, k: usize) -> (f64, f64) {
    let top = (n - 1 - i) as f64 + 0.9;
    let h = 0.8 / k.max(1) as f64;
    (top - j as f64 * h, top - (j + 1) as f64 * h)
}

fn label_area(labels: &[String]) -> u32 {
    labels
        .iter()
        .map(|l| text_width(l))
        .max()
        .unwrap_or(40)
        .clamp(40, 380)
        + 14
}

/// Runs `draw` on a fresh SVG of `height` px and returns the SVG text.
pub(super) fn svg<F>(height: u32, draw: F) -> Result<String, String>
where
    F: FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
{
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// Throughput (ops/s) per strategy: horizontal bars grouped by strategy, one per database.
pub fn throughput(data: &PlotData) -> Result<String, String> {
    let n = data.strategies.len();
    let k = data.databases.len();
    if n == 0 || k == 0 {
        return Err("no results".into());
    }
    let labels: Vec<String> = data.strategies.iter().map(|s| s.to_string()).collect();
    let items = db_legend(data);
    let lw = label_area(&labels);
    let lh = legend_height(&items, lw as i32);
    let band = BAR * k as u32 + 10;
    let height = lh + n as u32 * band + 60;
    let max = data
        .results
        .iter()
        .filter(|r| r.available)
        .map(|r| r.ops_per_sec)
        .fold(0.0_f64, f64::max);
    let xmax = if max > 0.0 { max * 1.15 } else { 1.0 };
    svg(height, |root| {
        legend(root, &items, lw as i32)?;
        let (_, body) = root.split_vertically(lh);
        let mut chart = ChartBuilder::on(&body)
            .margin_right(20)
            .margin_bottom(6)
            .x_label_area_size(40)
            .y_label_area_size(lw)
            .build_cartesian_2d(0f64..xmax, Bands(n))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .x_desc("operations per second")
            .x_label_formatter(&|v| num(v.round() as u64))
            .y_label_formatter(&|v| band_label(&labels, *v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        for (i, s) in data.strategies.iter().enumerate() {
            for (j, d) in data.databases.iter().enumerate() {
                let Some(r) = data.get(s, d) else { continue };
                let (y0, y1) = sub_bar(n, i, j, k);
                let mid = (y0 + y1) / 2.0;
                if !r.available {
                    chart
                        .plotting_area()
                        .draw(&Text::new(
                            format!("n/a on {d}"),
                            (xmax * 0.005, mid),
                            (FONT, 13)
                                .into_font()
                                .color(&GREY)
                                .pos(Pos::new(HPos::Left, VPos::Center)),
                        ))
                        .map_err(err)?;
                    continue;
                }
                let area = chart.plotting_area();
                area.draw(&Rectangle::new(
                    [(0.0, y0), (r.ops_per_sec, y1)],
                    db_color(j).filled(),
                ))
                .map_err(err)?;
                area.draw(&Text::new(
                    num(r.ops_per_sec.round() as u64),
                    (r.ops_per_sec + xmax * 0.005, mid),
                    (FONT, 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// Latency quantiles per strategy × database on a log scale: a line from p50 to p99.9 with a
/// marker for each of p50, p90, p99 and p99.9.
pub fn latency(data: &PlotData) -> Result<String, String> {
    let n = data.strategies.len();
    let k = data.databases.len();
    if n == 0 || k == 0 {
        return Err("no results".into());
    }
    let measured: Vec<&StrategyResult> = data
        .results
        .iter()
        .filter(|r| r.available && r.ops > 0 && r.latency_us.p50 > 0)
        .collect();
    if measured.is_empty() {
        return Err("no operations were measured".into());
    }
    let lo = measured
        .iter()
        .map(|r| r.latency_us.p50)
        .min()
        .unwrap_or(1)
        .max(1) as f64;
    let hi = measured
        .iter()
        .map(|r| r.latency_us.p999.max(r.latency_us.p50))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (lo, hi) = (lo / 2.0, (hi * 6.0).max(lo * 8.0));
    let labels: Vec<String> = data.strategies.iter().map(|s| s.to_string()).collect();
    let mut items = db_legend(data);
    items.push(("● p50   ▲ p90   ■ p99   ✕ p99.9".into(), None));
    let lw = label_area(&labels);
    let lh = legend_height(&items, lw as i32);
    let band = BAR * k as u32 + 10;
    let height = lh + n as u32 * band + 60;
    svg(height, |root| {
        legend(root, &items, lw as i32)?;
        let (_, body) = root.split_vertically(lh);
        let mut chart = ChartBuilder::on(&body)
            .margin_right(20)
            .margin_bottom(6)
            .x_label_area_size(40)
            .y_label_area_size(lw)
            .build_cartesian_2d((lo..hi).log_scale(), Bands(n))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .x_desc("latency (log scale)")
            .x_label_formatter(&|v| fmt_us(*v))
            .y_label_formatter(&|v| band_label(&labels, *v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        let area = chart.plotting_area();
        for (i, s) in data.strategies.iter().enumerate() {
            for (j, d) in data.databases.iter().enumerate() {
                let Some(r) = data.get(s, d) else { continue };
                let (y0, y1) = sub_bar(n, i, j, k);
                let y = (y0 + y1) / 2.0;
                let note_style = (FONT, 13)
                    .into_font()
                    .color(&GREY)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                if !r.available || r.ops == 0 || r.latency_us.p50 == 0 {
                    let why = if r.available { "no operations" } else { "n/a" };
                    area.draw(&Text::new(
                        format!("{why} on {d}"),
                        (lo * 1.05, y),
                        note_style,
                    ))
                    .map_err(err)?;
                    continue;
                }
                let c = db_color(j);
                let l = r.latency_us;
                let at = |v: u64| (v.max(1) as f64, y);
                area.draw(&PathElement::new(
                    vec![at(l.p50), at(l.p999.max(l.p50))],
                    c.stroke_width(2),
                ))
                .map_err(err)?;
                area.draw(&(EmptyElement::at(at(l.p50)) + Circle::new((0, 0), 4, c.filled())))
                    .map_err(err)?;
                area.draw(
                    &(EmptyElement::at(at(l.p90)) + TriangleMarker::new((0, 0), 5, c.filled())),
                )
                .map_err(err)?;
                area.draw(
                    &(EmptyElement::at(at(l.p99)) + Rectangle::new([(-4, -4), (4, 4)], c.filled())),
                )
                .map_err(err)?;
                area.draw(
                    &(EmptyElement::at(at(l.p999)) + Cross::new((0, 0), 4, c.stroke_width(2))),
                )
                .map_err(err)?;
                area.draw(&Text::new(
                    format!(
                        "p50 {} · p99 {}",
                        fmt_us(l.p50 as f64),
                        fmt_us(l.p99 as f64)
                    ),
                    (l.p999.max(l.p50) as f64 * 1.15, y),
                    (FONT, 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// Outcome mix per strategy × database: stacked horizontal bars of the share of operations in
/// each outcome class, with the counts written on segments wide enough to hold them.
pub fn outcomes(data: &PlotData) -> Result<String, String> {
    let k = data.databases.len();
    let mut rows: Vec<(String, Option<&StrategyResult>)> = Vec::new();
    for s in &data.strategies {
        for d in &data.databases {
            if let Some(r) = data.get(s, d) {
                let label = if k > 1 {
                    format!("{s} · {d}")
                } else {
                    s.to_string()
                };
                rows.push((label, Some(r)));
            }
        }
    }
    let n = rows.len();
    if n == 0 {
        return Err("no results".into());
    }
    let labels: Vec<String> = rows.iter().map(|(l, _)| l.clone()).collect();
    let items: Vec<(String, Option<RGBColor>)> = Outcome::ALL
        .iter()
        .map(|&o| (o.name().to_string(), Some(outcome_color(o))))
        .collect();
    let lw = label_area(&labels);
    let lh = legend_height(&items, lw as i32);
    let height = lh + n as u32 * (BAR + 8) + 60;
    let px_per_pct = f64::from(WIDTH - lw - 20) / 100.0;
    svg(height, |root| {
        legend(root, &items, lw as i32)?;
        let (_, body) = root.split_vertically(lh);
        let mut chart = ChartBuilder::on(&body)
            .margin_right(20)
            .margin_bottom(6)
            .x_label_area_size(40)
            .y_label_area_size(lw)
            .build_cartesian_2d(0f64..100f64, Bands(n))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .x_desc("share of operations (%)")
            .x_label_formatter(&|v| format!("{v:.0}%"))
            .y_label_formatter(&|v| band_label(&labels, *v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        let area = chart.plotting_area();
        for (i, (_, r)) in rows.iter().enumerate() {
            let (y0, y1) = sub_bar(n, i, 0, 1);
            let mid = (y0 + y1) / 2.0;
            let Some(r) = r else { continue };
            let total: u64 = Outcome::ALL.iter().map(|&o| r.outcomes.get(o)).sum();
            if !r.available || total == 0 {
                let why = if r.available { "no operations" } else { "n/a" };
                area.draw(&Text::new(
                    why,
                    (0.5, mid),
                    (FONT, 13)
                        .into_font()
                        .color(&GREY)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(err)?;
                continue;
            }
            let mut x = 0.0;
            for &o in &Outcome::ALL {
                let count = r.outcomes.get(o);
                if count == 0 {
                    continue;
                }
                let w = count as f64 / total as f64 * 100.0;
                area.draw(&Rectangle::new(
                    [(x, y0), (x + w, y1)],
                    outcome_color(o).filled(),
                ))
                .map_err(err)?;
                let text = num(count);
                if w * px_per_pct > (text.len() * 7 + 6) as f64 {
                    area.draw(&Text::new(
                        text,
                        (x + w / 2.0, mid),
                        (FONT, 12)
                            .into_font()
                            .color(if dark_text(o) { &BLACK } else { &WHITE })
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ))
                    .map_err(err)?;
                }
                x += w;
            }
        }
        Ok(())
    })
}
