//! Builds the report's [`StrategyResult`] from a finished run (figures, errors, table
//! checks) and evaluates its expectations.

use std::collections::BTreeMap;

use super::{StrategyRun, Target};
use crate::expect::Expectation;
use crate::metrics::{Latency, cdf};
use crate::plan::Workload;
use crate::report::{ErrorSummary, Outcomes, StrategyResult};
use crate::vocab::Outcome;

/// The result of a strategy that ran, with its expectations evaluated.
pub fn result_of(
    strategy: &str,
    target: &Target,
    run: &StrategyRun,
    expectations: &[Expectation],
    workload: &Workload,
) -> StrategyResult {
    let started = run.started;
    let rec = &run.recorder;
    let ops = rec.ops();
    let secs = run.elapsed.as_secs_f64();
    let mut by_outcome = BTreeMap::new();
    for o in Outcome::ALL {
        if let Some(h) = &rec.by_outcome[o.index()] {
            by_outcome.insert(o.name().to_string(), Latency::of(h));
        }
    }
    let v = run.verification;
    let partial = run.interrupted || run.failure.is_some() || !run.verified;
    let mut note = run.failure.clone();
    if run.interrupted {
        note.get_or_insert_with(|| "interrupted".into());
    }
    let note = note.map(|n| {
        if partial {
            format!("partial figures: {n}")
        } else {
            n
        }
    });
    let note = match (note, &run.timeouts) {
        (Some(n), Some(t)) => Some(format!("{n}; {t}")),
        (n, t) => n.or_else(|| t.clone()),
    };
    let errors = rec
        .errors
        .iter()
        .map(|(code, e)| ErrorSummary {
            code: code.clone(),
            class: e.class.name().into(),
            count: e.count,
            message: e.message.clone(),
            step: e.step.clone(),
        })
        .collect();
    let mut r = StrategyResult {
        strategy: strategy.to_string(),
        database: target.label.clone(),
        dialect: target.dialect().name().into(),
        available: true,
        note,
        isolation: run.isolation.clone(),
        ops,
        duration_s: (secs * 1000.0).round() / 1000.0,
        ops_per_sec: if secs > 0.0 {
            (ops as f64 / secs * 10.0).round() / 10.0
        } else {
            0.0
        },
        latency_us: Latency::of(rec.latency()),
        latency_by_outcome_us: by_outcome,
        outcomes: Outcomes::from_array(&rec.outcomes),
        handled: Outcomes::from_array(&rec.handled),
        other_codes: rec.other_codes.clone(),
        retries: rec.retries,
        time_to_first_violation_ms: rec
            .first_violation
            .map(|t| (t.saturating_duration_since(started).as_secs_f64() * 1e5).round() / 100.0),
        per_second: rec.seconds.to_series(secs),
        latency_cdf_us: cdf(rec.latency()),
        rows: v.rows,
        duplicate_rows: v.duplicate_rows,
        lost_updates: v.lost_updates,
        missing_rows: v.missing_rows,
        unacknowledged: v.unacknowledged,
        expectations: vec![],
        verdict: None,
        spread: None,
        repetitions: vec![],
        partial,
        errors,
        figures: BTreeMap::new(),
    };
    // Partial figures of an interrupted run would fail bounds like `inserted = 150` for no
    // reason: expectations are only evaluated on complete runs.
    if !partial {
        crate::report::evaluate(
            &mut r,
            expectations,
            target.dialect(),
            target.engine.name(),
            workload,
        );
    }
    r.verdict = crate::report::verdict::judge(&r);
    r
}

/// The entry for a strategy that does not exist on the target's dialect. Its
/// expectations are not evaluated.
pub fn unavailable(strategy: &str, target: &Target, why: &str) -> StrategyResult {
    StrategyResult {
        strategy: strategy.to_string(),
        database: target.label.clone(),
        dialect: target.dialect().name().into(),
        available: false,
        note: Some(why.to_string()),
        isolation: String::new(),
        ops: 0,
        duration_s: 0.0,
        ops_per_sec: 0.0,
        latency_us: Latency::default(),
        latency_by_outcome_us: BTreeMap::new(),
        outcomes: Outcomes::default(),
        handled: Outcomes::default(),
        other_codes: BTreeMap::new(),
        retries: 0,
        time_to_first_violation_ms: None,
        per_second: Default::default(),
        latency_cdf_us: Vec::new(),
        rows: 0,
        duplicate_rows: 0,
        lost_updates: 0,
        missing_rows: 0,
        unacknowledged: 0,
        expectations: vec![],
        verdict: None,
        spread: None,
        repetitions: vec![],
        partial: false,
        errors: Vec::new(),
        figures: BTreeMap::new(),
    }
}
