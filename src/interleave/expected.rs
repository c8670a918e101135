//! Expected-output files: compare a report's text with `<scenario>.<dialect>.out`, or write it.

use std::path::{Path, PathBuf};

use super::Error;
use super::output::InterleaveReport;

/// One expected-output file that differs from what ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedDiff {
    /// The expected-output file.
    pub path: PathBuf,
    /// A unified diff from the file (`---`) to the actual output (`+++`).
    pub diff: String,
}

/// The expected-output file of `dialect` for `report` under `dir`: `<dir>/<scenario>.<dialect>.out`.
pub fn expected_path(dir: &Path, scenario: &str, dialect: &str) -> PathBuf {
    dir.join(format!("{scenario}.{dialect}.out"))
}

/// Compares (or with `update`, writes) the expected output of every target that ran.
///
/// `expected` is a directory holding `<scenario>.<dialect>.out` files, or one file when a
/// single target ran. A missing file is a difference unless `update` is set. Returns the
/// differences (empty when all matched or were written).
pub fn check_expected(
    report: &InterleaveReport,
    expected: &Path,
    update: bool,
) -> Result<Vec<ExpectedDiff>, Error> {
    let ran: Vec<_> = report
        .targets
        .iter()
        .filter(|t| t.skipped.is_none())
        .collect();
    let as_file = expected.extension().is_some_and(|e| e == "out") || expected.is_file();
    if as_file && ran.len() != 1 {
        return Err(Error::ExpectedFileNeedsOneTarget {
            path: expected.to_path_buf(),
            targets: ran.len(),
        });
    }
    let mut diffs = Vec::new();
    for t in ran {
        let path = if as_file {
            expected.to_path_buf()
        } else {
            expected_path(expected, &report.scenario, t.dialect.name())
        };
        let actual = t.render_text();
        if update {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, &actual).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            continue;
        }
        let want = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(Error::Io { path, source }),
        };
        if want != actual {
            let diff = unified_diff(
                &want,
                &actual,
                &path.display().to_string(),
                &format!("actual ({})", t.label),
            );
            diffs.push(ExpectedDiff { path, diff });
        }
    }
    Ok(diffs)
}

/// Compares (or writes) expected output and prints any unified diff to stderr; true when
/// everything matched (or was written).
pub fn compare_expected(
    report: &InterleaveReport,
    expected: &Path,
    update: bool,
) -> Result<bool, Error> {
    let diffs = check_expected(report, expected, update)?;
    for d in &diffs {
        eprintln!("{}", d.diff);
    }
    Ok(diffs.is_empty())
}

/// A unified diff (3 lines of context) between two texts, line by line.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence table, from the end.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // Edit script: (tag, old index, new index).
    let mut ops: Vec<(char, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i, j));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Deletions before insertions, as diff(1) prints them.
            ops.push(('-', i, j));
            i += 1;
        } else {
            ops.push(('+', i, j));
            j += 1;
        }
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(3);
        let mut end = (changed[k] + 4).min(ops.len());
        while k + 1 < changed.len() && changed[k + 1] < end + 3 {
            k += 1;
            end = (changed[k] + 4).min(ops.len());
        }
        let hunk = &ops[start..end];
        let old_start = hunk.first().map_or(0, |o| o.1);
        let new_start = hunk.first().map_or(0, |o| o.2);
        let old_len = hunk.iter().filter(|o| o.0 != '+').count();
        let new_len = hunk.iter().filter(|o| o.0 != '-').count();
        out.push_str(&format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            old_start + 1,
            new_start + 1
        ));
        for &(tag, oi, nj) in hunk {
            let line = if tag == '+' { b[nj] } else { a[oi] };
            out.push_str(&format!("{tag}{line}\n"));
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_changed_line_with_context() {
        let d = unified_diff("a\nb\nc\n", "a\nx\nc\n", "old", "new");
        assert_eq!(d, "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+x\n c\n");
        assert_eq!(unified_diff("same\n", "same\n", "o", "n"), "--- o\n+++ n\n");
    }
}
