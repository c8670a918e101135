//! CSV: one line per strategy × database with every figure, for spreadsheets and scripts.

use super::{Report, StrategyResult};

/// The header line's fields, in column order.
pub const HEADER: &[&str] = &[
    "scenario",
    "strategy",
    "database",
    "dialect",
    "available",
    "verdict",
    "verdict_reasons",
    "repetitions",
    "ops",
    "duration_s",
    "ops_per_sec",
    "ops_per_sec_ci_low",
    "ops_per_sec_ci_high",
    "p50_us",
    "p90_us",
    "p99_us",
    "p99_us_ci_low",
    "p99_us_ci_high",
    "p999_us",
    "max_us",
    "inserted",
    "existed",
    "updated",
    "unique_violation",
    "deadlock",
    "serialization_failure",
    "lock_timeout",
    "query_canceled",
    "connection_error",
    "other",
    "handled_unique_violation",
    "handled_deadlock",
    "handled_serialization_failure",
    "retries",
    "rows",
    "duplicate_rows",
    "lost_updates",
    "missing_rows",
    "unacknowledged",
    "predictions_held",
    "predictions",
];

fn record(scenario: &str, r: &StrategyResult) -> Vec<String> {
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let sp = r.spread.as_ref();
    let o = &r.outcomes;
    vec![
        scenario.to_string(),
        r.strategy.clone(),
        r.database.clone(),
        r.dialect.clone(),
        r.available.to_string(),
        r.verdict
            .as_ref()
            .map(|v| v.level.name().to_string())
            .unwrap_or_default(),
        r.verdict
            .as_ref()
            .map(|v| v.reasons.join("; "))
            .unwrap_or_default(),
        sp.map_or(1, |s| s.repetitions).to_string(),
        r.ops.to_string(),
        r.duration_s.to_string(),
        r.ops_per_sec.to_string(),
        opt(sp.map(|s| s.ops_per_sec.ci_low)),
        opt(sp.map(|s| s.ops_per_sec.ci_high)),
        r.latency_us.p50.to_string(),
        r.latency_us.p90.to_string(),
        r.latency_us.p99.to_string(),
        opt(sp.map(|s| s.p99_us.ci_low)),
        opt(sp.map(|s| s.p99_us.ci_high)),
        r.latency_us.p999.to_string(),
        r.latency_us.max.to_string(),
        o.inserted.to_string(),
        o.existed.to_string(),
        o.updated.to_string(),
        o.unique_violation.to_string(),
        o.deadlock.to_string(),
        o.serialization_failure.to_string(),
        o.lock_timeout.to_string(),
        o.query_canceled.to_string(),
        o.connection_error.to_string(),
        o.other.to_string(),
        r.handled.unique_violation.to_string(),
        r.handled.deadlock.to_string(),
        r.handled.serialization_failure.to_string(),
        r.retries.to_string(),
        r.rows.to_string(),
        r.duplicate_rows.to_string(),
        r.lost_updates.to_string(),
        r.missing_rows.to_string(),
        r.unacknowledged.to_string(),
        r.expectations.iter().filter(|v| v.held).count().to_string(),
        r.expectations.len().to_string(),
    ]
}

/// Writes rows (a header, then one per record) as CSV text.
pub fn write_rows(rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&row);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The report as CSV: a header, then one line per strategy × database of every scenario.
pub fn render(report: &Report) -> String {
    let header = HEADER.iter().map(|s| s.to_string()).collect();
    write_rows(
        std::iter::once(header).chain(
            report
                .scenarios
                .iter()
                .flat_map(|s| s.results.iter().map(|r| record(&s.name, r))),
        ),
    )
}
