//! The scenario file format: raw serde types, parsing, validation into a [`Plan`], and
//! located diagnostics. Documented key by key in `docs/scenario-format.md`.

mod claims;
mod diagnostic;
mod files;
mod raw;
mod validate;

use std::path::Path;

pub use diagnostic::Diagnostic;
pub use files::{MAX_FILE_BYTES, discover, read_text, text_of};
pub use raw::RawWorkload;
pub use validate::{
    DurationError, MAX_DURATION, MAX_WORKERS, MIN_DURATION, parse_duration, validate_workload,
};

use crate::plan::Plan;

/// Parses and validates scenario text read from `path`.
///
/// Errors: a [`Diagnostic`] naming the file, line and column and what is wrong.
pub fn parse(path: &Path, text: &str) -> Result<Plan, Diagnostic> {
    let raw: raw::RawScenario =
        toml::from_str(text).map_err(|e| Diagnostic::from_toml(path, text, &e, ""))?;
    validate::validate(path, text, raw)
}

/// Reads, parses and validates a scenario file (a regular file of at most 1 MiB, see
/// [`read_text`]).
pub fn load(path: &Path) -> Result<Plan, Diagnostic> {
    parse(path, &read_text(path)?)
}
