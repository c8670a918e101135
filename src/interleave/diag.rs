//! Located errors for scenario files: `path:line:col: error: message` plus the offending line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A located error in an interleaving file (TOML scenario or isolation `.spec`).
///
/// `Display` prints `path:line:col: error: message`, then the offending line with a caret
/// under the faulty text, in the style of compilers and sqllogictest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the error is in.
    pub path: PathBuf,
    /// 1-based line; 0 when the error has no location (e.g. the file cannot be read).
    pub line: usize,
    /// 1-based column in characters; 0 when the error has no location.
    pub column: usize,
    /// What is wrong, in lower case.
    pub message: String,
    /// The text of the offending line (without its newline).
    pub source_line: String,
    /// How many characters to underline (at least 1 when located).
    pub width: usize,
}

impl Diagnostic {
    /// A diagnostic at the byte range `span` of `text`.
    pub fn at(
        path: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let source_line = text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let end = floor_char_boundary(text, span.end.clamp(start, line_end));
        let width = text[start..end].chars().count().max(1);
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            source_line,
            width,
        }
    }

    /// A diagnostic without a location (the whole file is at fault, or it cannot be read).
    pub fn whole_file(path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            source_line: String::new(),
            width: 0,
        }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: error: {}", self.path.display(), self.message);
        }
        writeln!(
            f,
            "{}:{}:{}: error: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "{pad} |")?;
        writeln!(f, "{number} | {}", self.source_line)?;
        let lead: String = self
            .source_line
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {lead}{}", "^".repeat(self.width))
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let text = "a = 1\nbb = oops\n";
        let d = Diagnostic::at(Path::new("f.toml"), text, 11..15, "bad value");
        assert_eq!((d.line, d.column, d.width), (2, 6, 4));
        assert_eq!(
            d.to_string(),
            "f.toml:2:6: error: bad value\n  |\n2 | bb = oops\n  |      ^^^^"
        );
    }
}
