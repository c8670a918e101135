//! What a strategy's SQL needs of the server's version — `MERGE` from PostgreSQL 15,
//! `MERGE … RETURNING merge_action()` from 17 — read from its steps, so a user's strategy the
//! server is too old for is reported "not available" (with the version it needs) instead of
//! failing the scenario when its statements are prepared. Whether a server has a feature is
//! its backend's (`db::Backend::capabilities`).

use crate::plan::Program;
use crate::vocab::Feature;

/// The features the steps of `program` use: a step whose statement begins with `MERGE`
/// needs [`Feature::Merge`]; one that calls `merge_action(` needs
/// [`Feature::MergeReturning`]. Sorted, without duplicates.
pub fn features(program: &Program) -> Vec<Feature> {
    let mut out = Vec::new();
    let steps = program
        .pre
        .iter()
        .chain(&program.steps)
        .chain(&program.fallback)
        .chain(&program.finally);
    for step in steps {
        let sql = step.template.to_ascii_lowercase();
        if sql.split_whitespace().next().is_some_and(|w| w == "merge") {
            out.push(Feature::Merge);
        }
        if sql.contains("merge_action(") {
            out.push(Feature::MergeReturning);
        }
    }
    out.sort();
    out.dedup();
    out
}
