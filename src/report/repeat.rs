//! Folds the repetitions of one strategy × database into one result: counts summed,
//! ops/s and latencies as medians with their spread, expectations held only when they held
//! in every repetition, the verdict the worst.

use std::collections::BTreeMap;

use super::build::{check, run_figures};
use super::stats::{Spread, Stat, median};
use super::{Outcomes, StrategyResult};
use crate::expect::Expectation;
use crate::metrics::Latency;
use crate::plan::Workload;

fn add(a: &mut Outcomes, b: &Outcomes) {
    a.inserted += b.inserted;
    a.existed += b.existed;
    a.updated += b.updated;
    a.unique_violation += b.unique_violation;
    a.deadlock += b.deadlock;
    a.serialization_failure += b.serialization_failure;
    a.lock_timeout += b.lock_timeout;
    a.query_canceled += b.query_canceled;
    a.connection_error += b.connection_error;
    a.timeout += b.timeout;
    a.other += b.other;
}

fn med(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    median(&v)
}

/// Each quantile the median of the repetitions' (rounded to whole µs).
fn median_latency(ls: &[&Latency]) -> Latency {
    let q = |f: fn(&Latency) -> u64| med(ls.iter().map(|l| f(l) as f64)).round() as u64;
    Latency {
        p50: q(|l| l.p50),
        p90: q(|l| l.p90),
        p99: q(|l| l.p99),
        p999: q(|l| l.p999),
        max: ls.iter().map(|l| l.max).max().unwrap_or(0),
        mean: med(ls.iter().map(|l| l.mean)),
    }
}

/// One result from the repetitions of a cell (in run order, at least one). With one
/// repetition it is returned as it is. Counted expectations come from the repetitions'
/// own evaluations (held only if held in each); bounds on ops/s and latency are
/// evaluated on the medians.
pub fn combine(
    mut reps: Vec<StrategyResult>,
    expectations: &[Expectation],
    dialect: crate::vocab::Dialect,
    engine: &str,
    workload: &Workload,
) -> StrategyResult {
    if reps.len() <= 1 || reps.iter().any(|r| !r.available) {
        return reps.swap_remove(0);
    }
    let mut agg = reps[0].clone();
    agg.note = reps.iter().find_map(|r| r.note.clone());
    agg.ops = reps.iter().map(|r| r.ops).sum();
    agg.duration_s = (reps.iter().map(|r| r.duration_s).sum::<f64>() * 1000.0).round() / 1000.0;
    agg.outcomes = Outcomes::default();
    agg.handled = Outcomes::default();
    agg.other_codes = BTreeMap::new();
    for r in &reps {
        add(&mut agg.outcomes, &r.outcomes);
        add(&mut agg.handled, &r.handled);
        for (c, n) in &r.other_codes {
            *agg.other_codes.entry(c.clone()).or_default() += n;
        }
    }
    agg.partial = reps.iter().any(|r| r.partial);
    agg.errors = Vec::new();
    for r in &reps {
        for e in &r.errors {
            match agg.errors.iter_mut().find(|a| a.code == e.code) {
                Some(a) => a.count += e.count,
                None => agg.errors.push(e.clone()),
            }
        }
    }
    agg.retries = reps.iter().map(|r| r.retries).sum();
    agg.rows = reps.iter().map(|r| r.rows).sum();
    agg.duplicate_rows = reps.iter().map(|r| r.duplicate_rows).sum();
    agg.lost_updates = reps.iter().map(|r| r.lost_updates).sum();
    agg.missing_rows = reps.iter().map(|r| r.missing_rows).sum();
    agg.unacknowledged = reps.iter().map(|r| r.unacknowledged).sum();
    let ops_per_sec: Vec<f64> = reps.iter().map(|r| r.ops_per_sec).collect();
    let p50: Vec<f64> = reps.iter().map(|r| r.latency_us.p50 as f64).collect();
    let p99: Vec<f64> = reps.iter().map(|r| r.latency_us.p99 as f64).collect();
    let spread = Spread {
        repetitions: reps.len() as u32,
        ops_per_sec: Stat::of(&ops_per_sec),
        p50_us: Stat::of(&p50),
        p99_us: Stat::of(&p99),
    };
    agg.ops_per_sec = (spread.ops_per_sec.median * 10.0).round() / 10.0;
    agg.latency_us = median_latency(&reps.iter().map(|r| &r.latency_us).collect::<Vec<_>>());
    let classes: Vec<String> = reps
        .iter()
        .flat_map(|r| r.latency_by_outcome_us.keys().cloned())
        .collect();
    agg.latency_by_outcome_us = classes
        .into_iter()
        .map(|c| {
            let ls: Vec<&Latency> = reps
                .iter()
                .filter_map(|r| r.latency_by_outcome_us.get(&c))
                .collect();
            (c, median_latency(&ls))
        })
        .collect();
    let firsts: Vec<f64> = reps
        .iter()
        .filter_map(|r| r.time_to_first_violation_ms)
        .collect();
    agg.time_to_first_violation_ms = (!firsts.is_empty()).then(|| med(firsts.into_iter()));
    agg.spread = Some(spread);
    // The per-second series and the latency distribution are those of the repetition with
    // the median ops/s (each repetition keeps its own in `repetitions`).
    let mut by_rate: Vec<&StrategyResult> = reps.iter().collect();
    by_rate.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    let mid = by_rate[by_rate.len() / 2];
    agg.per_second = mid.per_second.clone();
    agg.latency_cdf_us = mid.latency_cdf_us.clone();
    let run = run_figures(workload, reps[0].ops);
    agg.expectations = crate::expect::select(expectations, &agg.strategy, dialect, engine)
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            if e.is_performance() {
                return check(e, &agg, &run);
            }
            let per_rep: Vec<_> = reps.iter().filter_map(|r| r.expectations.get(i)).collect();
            let mut v = check(e, &reps[0], &run);
            if per_rep.is_empty() {
                // Interrupted repetitions are not evaluated.
                return v;
            }
            match per_rep.iter().position(|c| !c.held) {
                Some(k) => {
                    v = per_rep[k].clone();
                    v.repetition = Some(k as u32 + 1);
                }
                None => {
                    v = per_rep[0].clone();
                    v.actual = med(per_rep.iter().map(|c| c.actual));
                }
            }
            v
        })
        .collect();
    agg.repetitions = reps;
    agg.verdict = None;
    agg.verdict = super::verdict::judge(&agg);
    agg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Distribution, Isolation, Mode, Shape};
    use crate::report::{Report, VerdictLevel};
    use crate::vocab::Dialect;

    fn workload() -> Workload {
        Workload {
            shape: Shape::Signup,
            workers: 8,
            operations: 40,
            duration: None,
            keys: 1000,
            distribution: Distribution::Uniform,
            mode: Mode::Rounds,
            seed: 1,
            isolation: Isolation::ReadCommitted,
            lock_timeout_ms: 1000,
            statement_timeout_ms: None,
            repeat: 3,
        }
    }

    #[test]
    fn counts_sum_figures_take_medians_verdict_takes_the_worst() {
        let r: Report =
            serde_json::from_str(include_str!("../../tests/fixtures/report-sample.json")).unwrap();
        let mut base = r.scenarios[0]
            .results
            .iter()
            .find(|x| x.available && x.dialect == "postgres" && x.ops > 0)
            .unwrap()
            .clone();
        base.outcomes = Outcomes::default();
        base.outcomes.inserted = 5;
        base.duplicate_rows = 0;
        base.lost_updates = 0;
        base.missing_rows = 0;
        let mut reps = vec![base.clone(), base.clone(), base.clone()];
        for (rep, ops) in reps.iter_mut().zip([100.0, 300.0, 200.0]) {
            rep.ops_per_sec = ops;
            rep.verdict = crate::report::verdict::judge(rep);
        }
        reps[1].outcomes.deadlock = 2;
        let e = Expectation::parse("*", None, "inserted = 5").unwrap();
        let perf = Expectation::parse("*", None, "ops_per_sec > 150").unwrap();
        for rep in &mut reps {
            let run = run_figures(&workload(), rep.ops);
            rep.expectations = vec![check(&e, rep, &run), check(&perf, rep, &run)];
        }
        reps[2].outcomes.inserted = 4;
        reps[2].expectations[0] = check(&e, &reps[2], &run_figures(&workload(), 40));
        let agg = combine(reps, &[e, perf], Dialect::Postgres, "postgres", &workload());
        assert_eq!(agg.ops, base.ops * 3);
        assert_eq!(agg.outcomes.deadlock, 2);
        assert_eq!(agg.ops_per_sec, 200.0);
        let sp = agg.spread.unwrap();
        assert_eq!((sp.ops_per_sec.min, sp.ops_per_sec.max), (100.0, 300.0));
        assert_eq!(sp.repetitions, 3);
        let v = agg.verdict.as_ref().unwrap();
        assert_eq!(v.level, VerdictLevel::Errors);
        assert!(v.reasons[0].contains("in 1 of 3 repetitions"), "{v:?}");
        // Counted: failed in repetition 3. Performance: on the median (200 > 150).
        assert!(!agg.expectations[0].held);
        assert_eq!(agg.expectations[0].repetition, Some(3));
        assert_eq!(agg.expectations[0].actual, 4.0);
        assert!(agg.expectations[1].held);
        assert_eq!(agg.repetitions.len(), 3);
    }
}
