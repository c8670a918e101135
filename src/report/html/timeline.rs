//! Plots over time and over latency, one panel per database: throughput per second with the
//! seconds that saw unique violations marked, and the latency distribution (CDF) read from
//! each cell's hdrhistogram.

use plotters::prelude::*;

use super::plots::{FONT, PlotData, err, fmt_us, legend, legend_height, svg};
use crate::report::{StrategyResult, num};

/// Colours for strategies, in row order (repeats after twelve).
const STRATEGY_COLORS: [RGBColor; 12] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x39, 0x3b, 0x79),
    RGBColor(0x63, 0x79, 0x39),
    RGBColor(0x84, 0x3c, 0x39),
];

/// Marks a second in which unique violations reached the application.
const VIOLATION: RGBColor = RGBColor(0xd6, 0x1a, 0x1a);
/// Marks a second in which unique violations were seen but handled by the strategy.
const HANDLED: RGBColor = RGBColor(0xe0, 0x8a, 0x00);

/// Height of one database's panel, px.
const PANEL: u32 = 270;

/// The colour of the `i`th strategy.
pub fn strategy_color(i: usize) -> RGBColor {
    STRATEGY_COLORS[i % STRATEGY_COLORS.len()]
}

/// The results of `data` that ran, per database (in column order), with their strategy index.
fn per_database<'a>(
    data: &'a PlotData,
    keep: impl Fn(&StrategyResult) -> bool,
) -> Vec<(&'a str, Vec<(usize, &'a StrategyResult)>)> {
    data.databases
        .iter()
        .map(|d| {
            let cells = data
                .strategies
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    data.results
                        .iter()
                        .find(|r| r.strategy == *s && r.database == *d && r.available && keep(r))
                        .map(|r| (i, r))
                })
                .collect();
            (*d, cells)
        })
        .filter(|(_, cells): &(&str, Vec<_>)| !cells.is_empty())
        .collect()
}

fn strategy_legend(data: &PlotData) -> Vec<(String, Option<RGBColor>)> {
    data.strategies
        .iter()
        .enumerate()
        .map(|(i, s)| (s.to_string(), Some(strategy_color(i))))
        .collect()
}

/// Throughput per second of every cell, one panel per database, a line per strategy; a red
/// cross marks a second in which unique violations reached the application, an orange ring a
/// second in which violations were seen but handled, a triangle on the time axis the first
/// violation.
pub fn throughput_over_time(data: &PlotData) -> Result<String, String> {
    let panels = per_database(data, |r| !r.per_second.ops.is_empty());
    if panels.is_empty() {
        return Err("no per-second figures in this run".into());
    }
    let mut items = strategy_legend(data);
    items.push((
        "✕ violations reached the app   ○ violations handled   ▲ first violation".into(),
        None,
    ));
    let lh = legend_height(&items, 60);
    let height = lh + PANEL * panels.len() as u32;
    svg(height, |root| {
        legend(root, &items, 60)?;
        let (_, body) = root.split_vertically(lh);
        let areas = body.split_evenly((panels.len(), 1));
        for ((db, cells), area) in panels.iter().zip(&areas) {
            // Up to the last second with a rate (a last sliver under 0.1 s has none).
            let seconds = cells
                .iter()
                .map(|(_, r)| {
                    let ps = &r.per_second;
                    (0..ps.ops.len())
                        .rev()
                        .find(|&i| ps.rate(i).is_some())
                        .map_or(0, |i| i + 1)
                })
                .max()
                .unwrap_or(1)
                .max(1);
            let ymax = cells
                .iter()
                .flat_map(|(_, r)| (0..r.per_second.ops.len()).filter_map(|i| r.per_second.rate(i)))
                .fold(0.0_f64, f64::max)
                .max(1.0)
                * 1.12;
            let mut chart = ChartBuilder::on(area)
                .caption(*db, (FONT, 16))
                .margin_right(20)
                .margin_bottom(6)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..seconds as f64, 0f64..ymax)
                .map_err(err)?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
                .x_desc("seconds since the start")
                .y_desc("ops/s")
                .x_labels(seconds.min(20) + 1)
                .x_label_formatter(&|v| {
                    // Whole seconds only: key points between them would round to repeats.
                    if (v - v.round()).abs() < 1e-6 {
                        format!("{}", v.round() as i64)
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|v| num(v.round() as u64))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 13))
                .draw()
                .map_err(err)?;
            for (i, r) in cells {
                let c = strategy_color(*i);
                let ps = &r.per_second;
                let points: Vec<(f64, f64)> = (0..ps.ops.len())
                    .filter_map(|s| ps.rate(s).map(|v| (s as f64 + 0.5, v)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                    .map_err(err)?;
                if points.len() <= 60 {
                    chart
                        .draw_series(points.iter().map(|&p| Circle::new(p, 2, c.filled())))
                        .map_err(err)?;
                }
                if let Some(ms) = r.time_to_first_violation_ms {
                    let x = (ms / 1000.0).min(seconds as f64);
                    chart
                        .draw_series([TriangleMarker::new((x, 0.0), 6, c.filled())])
                        .map_err(err)?;
                }
                for &(x, y) in &points {
                    let s = x as usize;
                    let reached = ps.unique_violations(s);
                    let seen = ps.violations_seen.get(s).copied().unwrap_or(0);
                    if reached > 0 {
                        chart
                            .draw_series([Cross::new((x, y), 5, VIOLATION.stroke_width(2))])
                            .map_err(err)?;
                    } else if seen > 0 {
                        chart
                            .draw_series([Circle::new((x, y), 5, HANDLED.stroke_width(2))])
                            .map_err(err)?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// The latency distribution of every cell, one panel per database: the share of operations
/// (y) that took at most a latency (x, log scale), a line per strategy.
pub fn latency_cdf(data: &PlotData) -> Result<String, String> {
    let panels = per_database(data, |r| !r.latency_cdf_us.is_empty());
    if panels.is_empty() {
        return Err("no latency distribution in this run".into());
    }
    let items = strategy_legend(data);
    let lh = legend_height(&items, 60);
    let height = lh + PANEL * panels.len() as u32;
    svg(height, |root| {
        legend(root, &items, 60)?;
        let (_, body) = root.split_vertically(lh);
        let areas = body.split_evenly((panels.len(), 1));
        for ((db, cells), area) in panels.iter().zip(&areas) {
            let us = || {
                cells
                    .iter()
                    .flat_map(|(_, r)| &r.latency_cdf_us)
                    .map(|p| p.us)
            };
            let lo = us().min().unwrap_or(1).max(1) as f64 / 1.5;
            let hi = (us().max().unwrap_or(1).max(1) as f64 * 1.5).max(lo * 10.0);
            let mut chart = ChartBuilder::on(area)
                .caption(*db, (FONT, 16))
                .margin_right(20)
                .margin_bottom(6)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.0)
                .map_err(err)?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
                .x_desc("latency (log scale)")
                .y_desc("share of operations at most this slow")
                .x_label_formatter(&|v| fmt_us(*v))
                .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 13))
                .draw()
                .map_err(err)?;
            for (i, r) in cells {
                let c = strategy_color(*i);
                let points = r
                    .latency_cdf_us
                    .iter()
                    .map(|p| (p.us.max(1) as f64, p.fraction));
                chart
                    .draw_series(LineSeries::new(points, c.stroke_width(2)))
                    .map_err(err)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_repeat_after_the_palette() {
        assert_eq!(strategy_color(0), strategy_color(STRATEGY_COLORS.len()));
        assert_ne!(strategy_color(0), strategy_color(1));
    }
}
