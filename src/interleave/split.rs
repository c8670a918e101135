//! Splits a MySQL/MariaDB multi-statement text into its statements, as the server's parser
//! sees them: at `;` outside quoted text (`'…'`, `"…"`, `` `…` ``, backslash escapes and
//! doubled quotes inside), `#` and `-- ` line comments and `/* … */` comments.
//!
//! Used only to describe, one by one, statements of a step that returned nothing; a text
//! the splitter gets wrong (a `BEGIN … END` body with its own `;`) gives a count that does
//! not match the statements the server ran, and is then left alone.

/// The statements of `sql`, trimmed, empty ones (a trailing `;`) left out.
pub fn mysql_statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && q != b'`' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        // A doubled quote is the quote character itself.
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'#' => i = line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = line_end(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                out.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < sql.len() {
        out.push(&sql[start..]);
    }
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The index of the line break ending the comment at `i` (or the end).
fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::mysql_statements;

    #[test]
    fn splits_at_semicolons_outside_quotes_and_comments() {
        assert_eq!(
            mysql_statements(
                "SELECT 'a;b', \"c;\\\"d\", `e;f` FROM t; # x;y\n\
                 SELECT 'it''s;' -- z;w\n; /* p;q */ UPDATE t SET k = 1;"
            ),
            vec![
                "SELECT 'a;b', \"c;\\\"d\", `e;f` FROM t",
                "# x;y\nSELECT 'it''s;' -- z;w",
                "/* p;q */ UPDATE t SET k = 1",
            ]
        );
    }

    #[test]
    fn one_statement_and_empty_text() {
        assert_eq!(mysql_statements("SELECT 1"), vec!["SELECT 1"]);
        assert_eq!(mysql_statements(" ; "), Vec::<&str>::new());
        // `--` without a space after it is not a comment in MySQL (`1--1` is 2).
        assert_eq!(
            mysql_statements("SELECT 1--1; SELECT 2"),
            vec!["SELECT 1--1", "SELECT 2"]
        );
    }
}
