//! The HTML page with plots (inline SVG, works offline). Placeholder until the plot renderer lands.

use super::Report;

/// Renders the report as a self-contained HTML page.
pub fn render(report: &Report) -> String {
    let table = super::table::render(report);
    format!(
        "<!doctype html><meta charset=utf-8><title>keyrace {}</title><pre>{}</pre>",
        report.run_id,
        table.replace('&', "&amp;").replace('<', "&lt;")
    )
}
