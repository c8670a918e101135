//! The scenario file format: raw serde types, parsing, validation into a [`Plan`], and
//! located diagnostics. Documented key by key in `docs/scenario-format.md`.

mod diagnostic;
mod raw;
mod validate;

use std::path::{Path, PathBuf};

pub use diagnostic::Diagnostic;
pub use validate::parse_duration;

use crate::plan::Plan;

/// Parses and validates scenario text read from `path`.
///
/// Errors: a [`Diagnostic`] naming the file, line and column and what is wrong.
pub fn parse(path: &Path, text: &str) -> Result<Plan, Diagnostic> {
    let raw: raw::RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Diagnostic::at(
            path,
            text,
            span,
            e.message().trim_end_matches('\n').to_string(),
        )
    })?;
    validate::validate(path, text, raw)
}

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, Diagnostic> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::file(path, format!("cannot read the file: {e}")))?;
    parse(path, &text)
}

/// Expands files and directories into scenario files: `*.toml` and `*.spec`, recursively,
/// sorted, skipping `expected/` directories.
///
/// Errors: a path that does not exist.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)
                .map_err(|e| Diagnostic::file(p, format!("cannot list the directory: {e}")))?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(Diagnostic::file(p, "no such file or directory"));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "expected") {
                walk(&p, out)?;
            }
        } else if p.extension().is_some_and(|e| e == "toml" || e == "spec") {
            out.push(p);
        }
    }
    Ok(())
}
