//! What a strategy's SQL needs of the server's version — `MERGE` from PostgreSQL 15,
//! `MERGE … RETURNING merge_action()` from 17 — read from its steps, so a user's strategy the
//! server is too old for is reported "not available" (with the version it needs) instead of
//! failing the scenario when its statements are prepared. Whether a server has a feature is
//! its backend's (`db::Backend::capabilities`).

use crate::plan::Program;
use crate::vocab::Feature;

/// The features the steps of `program` use (see [`Feature::used_by`]), sorted, without
/// duplicates.
pub fn features(program: &Program) -> Vec<Feature> {
    let mut out = Vec::new();
    let steps = program
        .pre
        .iter()
        .chain(&program.steps)
        .chain(&program.fallback)
        .chain(&program.finally);
    for step in steps {
        out.extend(Feature::used_by(&step.template));
    }
    out.sort();
    out.dedup();
    out
}
