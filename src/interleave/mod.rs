//! Deterministic interleavings: run named SQL steps of several sessions in a chosen order on
//! PostgreSQL and MySQL/MariaDB, detect which step blocks, and print what happened.
//!
//! Scenarios come from keyrace TOML files with `[[session]]` tables or from PostgreSQL
//! isolation tester `.spec` files (see `docs/interleavings.md`):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use keyrace::interleave::{self, Target};
//! let plan = interleave::load("scenarios/interleave/check-then-insert.toml".as_ref())?;
//! let report = interleave::run(&plan, &Target::defaults(), Default::default()).await?;
//! print!("{}", report.render_text("postgres"));
//! println!("{}", report.render_summary());
//! # Ok(()) }
//! ```

mod caret;
mod claims;
mod databases;
mod diag;
mod execute;
mod expected;
mod isotester;
mod monitor;
mod output;
mod plan;
mod session;
mod spec;
mod split;
mod toml;

use std::path::{Path, PathBuf};

pub use crate::db::Engine;
pub use claims::evaluate_claims;
pub use databases::{Databases, DropFailure};
pub use diag::Diagnostic;
pub use execute::{Target, run, run_in, run_named, run_repeated, runs_on};
pub use expected::{ExpectedDiff, check_expected, compare_expected, expected_path, unified_diff};
pub use isotester::IsolationTesterText;
pub use output::{
    Detection, Event, InterleaveReport, LockWait, PermutationReport, SessionSteps, StepError,
    StepOutcome, TargetReport,
};
pub use plan::{
    Blocker, InterleavePlan, Permutation, PermutationStep, Session, SourceFormat, SqlText, Step,
};
pub use session::{Rows, StepItem};
pub use spec::parse_spec;
pub use toml::parse_toml;

use crate::db::DbError;

/// Harness errors of an interleaving run (SQL errors of steps are results, not these).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A server could not be reached.
    #[error("cannot connect to {label} at {url}")]
    Connect {
        /// The target's label.
        label: String,
        /// The URL, password redacted.
        url: String,
        /// The connection error.
        #[source]
        source: DbError,
    },
    /// A harness statement failed (creating the database, polling, cancelling ...).
    #[error("{label}: {what} failed")]
    Db {
        /// The target's label.
        label: String,
        /// What was being done.
        what: String,
        /// The database error.
        #[source]
        source: DbError,
    },
    /// An expected-output file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One expected file was given for several targets.
    #[error(
        "expected file {path} can only be compared with one target, but {targets} ran: give a directory"
    )]
    ExpectedFileNeedsOneTarget {
        /// The file given.
        path: PathBuf,
        /// How many targets ran.
        targets: usize,
    },
    /// No targets were given.
    #[error("nothing was run: no targets")]
    NothingRun,
}

/// True when `path`/`text` is an interleaving scenario: a `.spec` file, or TOML with
/// `[[session]]` tables.
pub fn is_interleaving_file(path: &Path, text: &str) -> bool {
    path.extension().is_some_and(|e| e == "spec") || toml::has_sessions(text)
}

/// Reads and checks an interleaving file (`.spec` or TOML; a regular file of at most 1 MiB,
/// see [`crate::scenario::read_text`]).
///
/// Errors: a [`Diagnostic`] naming file, line and column, with the offending line.
pub fn load(path: &Path) -> Result<InterleavePlan, Diagnostic> {
    parse(path, &crate::scenario::read_text(path)?)
}

/// Parses interleaving text as if read from `path` (the extension picks the format).
pub fn parse(path: &Path, text: &str) -> Result<InterleavePlan, Diagnostic> {
    if path.extension().is_some_and(|e| e == "spec") {
        parse_spec(path, text)
    } else {
        parse_toml(path, text)
    }
}
