//! The one mapping from how a subcommand ended to the process exit code, so `run`, `show`,
//! `compare`, `check`, `strategies` and `reap` agree: 0 every expectation held (or nothing
//! to judge), 1 an expectation, invariant or verdict comparison failed, 2 a usage,
//! scenario-file, server or harness error (or results that could not be written), 130
//! interrupted (SIGINT, SIGTERM, SIGHUP).

use crate::report::Report;
use crate::report::compare::Comparison;

/// How a subcommand ended.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// A run (or `show` of a saved run) produced this report; `unwritten` is true when its
    /// results could not be written where asked.
    Report {
        /// The report.
        report: &'a Report,
        /// The results (JSON, HTML) could not be written to `--out`.
        unwritten: bool,
    },
    /// `compare` produced this comparison.
    Compared(&'a Comparison),
    /// A command with nothing to judge finished (`check`, `strategies`, `reap`).
    Done,
    /// Ctrl-C (SIGINT, SIGTERM, SIGHUP) stopped it.
    Interrupted,
    /// A usage, scenario-file, server or harness error; or stdout could not be written.
    Error,
}

/// Exit code: 0 held, 1 failed, 2 error, 130 interrupted (see the module docs).
pub fn exit_code(ending: Ending<'_>) -> u8 {
    match ending {
        Ending::Report { report, .. } if report.interrupted => 130,
        Ending::Report { report, unwritten } => {
            if unwritten || report.has_errors() {
                2
            } else if report.all_held() {
                0
            } else {
                1
            }
        }
        Ending::Compared(c) => u8::from(c.failed()),
        Ending::Done => 0,
        Ending::Interrupted => 130,
        Ending::Error => 2,
    }
}
