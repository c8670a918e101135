//! The terminal comparison table: one row per strategy, one line per database in each cell.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::{Report, ScenarioReport, StrategyResult, num};

struct Col {
    title: &'static str,
    value: fn(&StrategyResult) -> String,
    /// Shown only when some result has a non-empty, non-zero value.
    optional: bool,
}

fn count(f: fn(&StrategyResult) -> u64) -> impl Fn(&StrategyResult) -> String {
    move |r| if r.available { num(f(r)) } else { "–".into() }
}

fn verdict(r: &StrategyResult) -> String {
    if !r.available {
        return "n/a".into();
    }
    let failed: Vec<String> = r
        .expectations
        .iter()
        .filter(|v| !v.held)
        .map(|v| format!("✗ {} (got {})", v.text, v.actual))
        .collect();
    match (r.expectations.is_empty(), failed.is_empty()) {
        (true, _) => "–".into(),
        (false, true) => format!("✓ {}", r.expectations.len()),
        (false, false) => failed.join("; "),
    }
}

macro_rules! c {
    ($title:expr, $opt:expr, $f:expr) => {
        Col {
            title: $title,
            value: $f,
            optional: $opt,
        }
    };
}

fn columns() -> Vec<Col> {
    vec![
        c!("ops/s", false, |r| if r.available {
            format!("{:.0}", r.ops_per_sec)
        } else {
            "–".into()
        }),
        c!("p50 µs", false, |r| if r.available {
            num(r.latency_us.p50)
        } else {
            "–".into()
        }),
        c!("p99 µs", false, |r| if r.available {
            num(r.latency_us.p99)
        } else {
            "–".into()
        }),
        c!("inserted", false, |r| count(|r| r.outcomes.inserted)(r)),
        c!("existed", false, |r| count(|r| r.outcomes.existed)(r)),
        c!("updated", true, |r| count(|r| r.outcomes.updated)(r)),
        c!("unique viol.", false, |r| count(|r| r
            .outcomes
            .unique_violation)(r)),
        c!("deadlock", false, |r| count(|r| r.outcomes.deadlock)(r)),
        c!("serial. fail", false, |r| count(|r| r
            .outcomes
            .serialization_failure)(
            r
        )),
        c!("lock t/o", true, |r| count(|r| r.outcomes.lock_timeout)(r)),
        c!(
            "conn err",
            true,
            |r| count(|r| r.outcomes.connection_error)(r)
        ),
        c!("other", true, |r| {
            if !r.available || r.outcomes.other == 0 {
                return count(|r| r.outcomes.other)(r);
            }
            let codes: Vec<String> = r
                .other_codes
                .iter()
                .map(|(c, n)| format!("{c}×{n}"))
                .collect();
            format!("{} ({})", num(r.outcomes.other), codes.join(" "))
        }),
        c!("handled", true, |r| {
            let h = &r.handled;
            let parts: Vec<String> = [
                ("uv", h.unique_violation),
                ("dl", h.deadlock),
                ("sf", h.serialization_failure),
                ("to", h.lock_timeout),
            ]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t} {}", num(*n)))
            .collect();
            if r.available {
                parts.join(" ")
            } else {
                "–".into()
            }
        }),
        c!("retries", true, |r| count(|r| r.retries)(r)),
        c!("dup rows", false, |r| count(|r| r.duplicate_rows)(r)),
        c!("lost upd", true, |r| count(|r| r.lost_updates)(r)),
        c!("missing", true, |r| count(|r| r.missing_rows)(r)),
        c!("expectations", false, verdict),
    ]
}

fn is_zeroish(s: &str) -> bool {
    s.is_empty() || s == "0" || s == "–"
}

/// Renders one scenario's comparison table (with its heading), or its error.
pub fn render_scenario(s: &ScenarioReport) -> String {
    let mut out = format!("\n{} ({})\n", s.name, s.file);
    if !s.teaches.is_empty() {
        out.push_str(&format!("  teaches: {}\n", s.teaches));
    }
    if let Some(e) = &s.error {
        out.push_str(&format!("  error: {e}\n"));
    }
    if s.results.is_empty() {
        return out;
    }
    let mut strategies: Vec<&str> = Vec::new();
    for r in &s.results {
        if !strategies.contains(&r.strategy.as_str()) {
            strategies.push(&r.strategy);
        }
    }
    let cols: Vec<Col> = columns()
        .into_iter()
        .filter(|c| !c.optional || s.results.iter().any(|r| !is_zeroish(&(c.value)(r))))
        .collect();
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let mut header = vec![Cell::new("strategy"), Cell::new("database")];
    header.extend(cols.iter().map(|c| Cell::new(c.title)));
    table.set_header(header);
    for name in strategies {
        let rows: Vec<&StrategyResult> = s.results.iter().filter(|r| r.strategy == name).collect();
        let join = |f: &dyn Fn(&StrategyResult) -> String| {
            rows.iter().map(|r| f(r)).collect::<Vec<_>>().join("\n")
        };
        let mut line = vec![Cell::new(name), Cell::new(join(&|r| r.database.clone()))];
        for c in &cols {
            let cell = Cell::new(join(&|r| (c.value)(r)));
            line.push(if c.title == "expectations" {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            });
        }
        table.add_row(line);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    let notes: Vec<String> = s
        .results
        .iter()
        .filter_map(|r| {
            r.note
                .as_ref()
                .filter(|_| r.available)
                .map(|n| format!("  note: {} on {}: {n}", r.strategy, r.database))
        })
        .collect();
    for n in notes {
        out.push_str(&n);
        out.push('\n');
    }
    out
}

/// Renders an interleaving scenario: each server's per-permutation output, the side-by-side
/// summary, and the expected-output verdict with any diff.
pub fn render_interleaving(i: &super::InterleaveResult) -> String {
    let mut out = format!("\n{} ({})\n", i.scenario, i.file);
    if !i.teaches.is_empty() {
        out.push_str(&format!("  teaches: {}\n", i.teaches));
    }
    for (label, text) in &i.outputs {
        out.push_str(&format!("\n--- {label}\n{text}"));
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(&i.summary);
    out.push('\n');
    match i.matched_expected {
        Some(true) => out.push_str("  expected output: ✓ same as the expected files\n"),
        Some(false) => {
            out.push_str("  expected output: ✗ differs\n");
            for d in &i.diffs {
                out.push_str(d);
                out.push('\n');
            }
        }
        None => {}
    }
    out
}

/// Renders the whole report: servers, then one table per scenario, then the verdict line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.servers {
        let iso = s
            .settings
            .get("isolation")
            .map(|i| format!(", default isolation {i}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "server: {} — {} via {}{iso}\n",
            s.database, s.url, s.provider
        ));
    }
    for s in &report.scenarios {
        out.push_str(&render_scenario(s));
    }
    for i in &report.interleavings {
        out.push_str(&render_interleaving(i));
    }
    let tally = super::Tally::of(report);
    out.push_str(&format!(
        "\nexpectations: {} held, {} failed",
        tally.held(),
        tally.failed()
    ));
    if report.interrupted {
        out.push_str(" (interrupted: partial results)");
    }
    out.push('\n');
    out
}
