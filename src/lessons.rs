//! `keyrace lessons`: run every scenario with `[[claim]]`s and list one line per claim with
//! its verdict per server, and the evidence that decided it.

use tokio_util::sync::CancellationToken;

use crate::app::{self, AppError, RunOutcome};
use crate::lesson::{ClaimResult, LessonLine};
use crate::options::RunOptions;
use crate::report::Report;

/// Loads the scenarios under `args.paths`, keeps the lessons (scenarios with claims) and
/// runs them as `keyrace run` would (results written to `--out`).
///
/// Errors: as [`app::run`]; [`AppError::Usage`] when no scenario under the paths has a claim.
pub async fn run_lessons(
    args: &RunOptions,
    cancel: &CancellationToken,
) -> Result<RunOutcome, AppError> {
    if let Some(d) = args.connect_timeout {
        crate::db::set_connect_timeout(d);
    }
    let mut scenarios = app::load_all(&args.paths)?;
    scenarios.plans.retain(|p| !p.lesson_claims.is_empty());
    scenarios.interleavings.retain(|p| !p.claims.is_empty());
    if scenarios.plans.is_empty() && scenarios.interleavings.is_empty() {
        let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        return Err(AppError::Usage(format!(
            "no lessons (scenarios with [[claim]]) under {}",
            paths.join(", ")
        )));
    }
    app::run_loaded(&scenarios, args, cancel).await
}

/// Every claim of every scenario in `report` (stress scenarios, then interleavings), in
/// run order.
pub fn lesson_lines(report: &Report) -> Vec<LessonLine> {
    let line = |lesson: &str, file: &str, c: &ClaimResult| LessonLine {
        lesson: lesson.to_string(),
        file: file.to_string(),
        claim: c.id.clone(),
        seed: c.seed.clone(),
        quote: c.quote.clone(),
        note: c.note.clone(),
        servers: c.servers.clone(),
    };
    let stress = report
        .scenarios
        .iter()
        .flat_map(|s| s.claim_verdicts.iter().map(|c| line(&s.name, &s.file, c)));
    let scripts = report
        .interleavings
        .iter()
        .flat_map(|i| i.claims.iter().map(|c| line(&i.scenario, &i.file, c)));
    stress.chain(scripts).collect()
}
