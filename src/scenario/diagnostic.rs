//! Located errors for scenario files: file, line, column, what is wrong, the line itself.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// An error in a scenario file, located by byte span.
///
/// `Display` renders `path:line:column: error: message`, then the offending line with the
/// span underlined, like rustc and sqllogictest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct Diagnostic {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong (lower case, no trailing period).
    pub message: String,
    /// The offending source line.
    pub source_line: String,
    /// Width of the underline, in characters (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// Locates `span` (byte offsets into `text`) and builds the diagnostic.
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
        let end = floor_char_boundary(text, span.end.clamp(start, line_end));
        let width = text[start..end].chars().count().max(1);
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            source_line: text[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
            width,
        }
    }

    /// A diagnostic for the whole file (line 1, column 1), e.g. when it cannot be read.
    pub fn file(path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: message.into(),
            source_line: String::new(),
            width: 1,
        }
    }

    /// A diagnostic without a location (line and column 0): rendered `path: error: message`.
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

    /// A TOML reader's error, located. The reader gives no span when a dotted key or table
    /// header is nested deeper than it allows; then the deepest such key is found here.
    pub fn from_toml(path: &Path, text: &str, error: &toml::de::Error, prefix: &str) -> Diagnostic {
        let message = error.message().trim().to_string();
        match error.span() {
            Some(span) => Diagnostic::at(path, text, span, format!("{prefix}{message}")),
            None => Diagnostic::at(
                path,
                text,
                deepest_dotted_key(text),
                format!(
                    "{prefix}dotted key or table header nested too deep ({message}): at most 80 parts"
                ),
            ),
        }
    }

    fn render(&self) -> String {
        if self.line == 0 {
            return format!("{}: error: {}", self.path.display(), self.message);
        }
        let mut s = format!(
            "{}:{}:{}: error: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        );
        if !self.source_line.is_empty() {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let lead: String = self
                .source_line
                .chars()
                .take(self.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            s.push_str(&format!(
                "\n{pad} |\n{num} | {}\n{pad} | {lead}{}",
                self.source_line,
                "^".repeat(self.width)
            ));
        }
        s
    }
}

/// The span of the key (or table header) with the most `.` separators outside quotes:
/// where a "recursion limit" error of the TOML reader comes from.
fn deepest_dotted_key(text: &str) -> Range<usize> {
    let mut best = (0, 0..0);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let lead = body.len() - body.trim_start().len();
        let (mut dots, mut quote, mut end) = (0, None, body.len());
        for (i, c) in body.char_indices().skip_while(|&(i, _)| i < lead) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '.') => dots += 1,
                (None, '=' | '#') => {
                    end = i;
                    break;
                }
                (None, ']') if body[lead..].starts_with('[') => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        if dots > best.0 {
            best = (dots, offset + lead..offset + end.max(lead));
        }
        offset += line.len();
    }
    best.1
}

/// The largest char boundary at or before `i` (spans from parsers may point inside a
/// multi-byte character).
fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_inside_a_multibyte_character_do_not_panic() {
        let text = "name = \"é\"\n";
        let d = Diagnostic::at(Path::new("f.toml"), text, 9..10, "x");
        assert_eq!((d.line, d.column), (1, 9));
        assert_eq!(
            Diagnostic::whole_file(Path::new("f"), "gone").to_string(),
            "f: error: gone"
        );
    }

    #[test]
    fn a_too_deep_dotted_header_is_located() {
        let header = format!("[{}]", vec!["a"; 200].join("."));
        let text = format!("name = \"x\"\n\n{header}\nb = 1\n");
        let e = toml::from_str::<toml::Table>(&text).expect_err("too deep");
        let d = Diagnostic::from_toml(Path::new("f.toml"), &text, &e, "");
        assert_eq!((d.line, d.column), (3, 1), "{d}");
        assert!(d.message.contains("at most 80 parts"), "{d}");
    }

    #[test]
    fn locates_line_and_column() {
        let text = "a = 1\nbad = \"x\"\n";
        let d = Diagnostic::at(Path::new("f.toml"), text, 12..15, "wrong");
        assert_eq!((d.line, d.column, d.width), (2, 7, 3));
        assert!(d.to_string().starts_with("f.toml:2:7: error: wrong"));
        assert!(d.to_string().contains("2 | bad = \"x\"\n  |       ^^^"));
    }
}
