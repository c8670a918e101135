//! The "errors:" section printed below the terminal table: for every strategy × database,
//! each error code that is none of the race classes (syntax, undefined column, permission,
//! connection, timeout ...) with its count, the step that raised it and the server's first
//! message, so a broken scenario or server is explained, not just counted.

use super::{Report, num};
use crate::vocab::Outcome;

/// The section (empty when no such error was counted), one line per code and cell:
/// `  strategy on database: CODE ×N in step STEP: message`.
pub fn render(report: &Report) -> String {
    let mut lines = Vec::new();
    for s in &report.scenarios {
        for r in &s.results {
            for e in &r.errors {
                if Outcome::parse(&e.class).is_some_and(Outcome::is_race) {
                    continue;
                }
                lines.push(format!(
                    "  {} on {}: {} ×{} in step {}: {}",
                    r.strategy,
                    r.database,
                    e.code,
                    num(e.count),
                    e.step,
                    e.message.replace('\n', " ")
                ));
            }
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("\nerrors:\n{}\n", lines.join("\n"))
}
