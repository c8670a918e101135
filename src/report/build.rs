//! Evaluates a result's expectations (the runner builds the result itself, see
//! `runner::result`).

use super::StrategyResult;
use crate::expect::{Bound, Expectation, RunFigures, Verdict};
use crate::plan::{Mode, Workload};

/// The workload quantities of one run, for relative bounds.
pub fn run_figures(w: &Workload, ops: u64) -> RunFigures {
    RunFigures {
        ops,
        operations: w.operations,
        workers: w.workers as u64,
        rounds_mode: w.mode == Mode::Rounds,
        keys: w.keys,
    }
}

/// Evaluates one expectation on a result whose workload quantities are `run`.
pub fn check(e: &Expectation, r: &StrategyResult, run: &RunFigures) -> Verdict {
    let actual = r.figure(&e.figure).unwrap_or(f64::NAN);
    Verdict {
        text: e.text.clone(),
        held: e.holds(actual, run),
        actual,
        bound: match e.bound {
            Bound::Value(_) => None,
            b @ Bound::Relative { .. } => Some(b.resolve(run)),
        },
        repetition: None,
    }
}

/// Evaluates `expectations` that apply to `r`'s strategy on `dialect` and the engine called
/// `engine` (see [`crate::expect::select`]), replacing `r.expectations`.
pub fn evaluate(
    r: &mut StrategyResult,
    expectations: &[Expectation],
    dialect: crate::vocab::Dialect,
    engine: &str,
    workload: &Workload,
) {
    let run = run_figures(workload, r.ops);
    r.expectations = crate::expect::select(expectations, &r.strategy, dialect, engine)
        .into_iter()
        .map(|e| check(e, r, &run))
        .collect();
}
