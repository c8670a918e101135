//! The errors that stop `keyrace run` (and the other subcommands) before or outside any
//! scenario: exit code 2 (130 for an interruption).

use std::path::PathBuf;

use crate::report;

/// Errors that stop `keyrace run` before or outside any scenario (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// One or more scenario files are invalid (each message names file, line and column).
    #[error("{}", .0.join("\n\n"))]
    Scenario(Vec<String>),
    /// A server could not be reached or started.
    #[error("{0}")]
    Server(String),
    /// A usage error (bad flag value).
    #[error("{0}")]
    Usage(String),
    /// Ctrl-C (SIGINT, SIGTERM, SIGHUP) before the run started (exit code 130).
    #[error("interrupted {0}")]
    Interrupted(&'static str),
    /// `--out` cannot take results (checked before the run starts).
    #[error("--out: {0}; nothing was run: give a directory keyrace can write to")]
    OutDir(#[from] report::write::OutDirError),
    /// Writing results failed.
    #[error("cannot write results to {}: {source}", .path.display())]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
