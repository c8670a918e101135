//! The `LINE n: …` and `^` lines libpq adds to an error that has a position (the `P` field
//! of PostgreSQL's ErrorResponse), as `psql` and the isolation tester print them under
//! `setup failed: ERROR:  …`.
//!
//! Follows libpq's `reportErrorPosition` (src/interfaces/libpq/fe-protocol3.c): the line of
//! the query holding the position (lines end at `\n`, `\r` or `\r\n`), tabs shown as spaces,
//! cut to 60 screen columns with `...` on the side that was cut (keeping at least 10 columns
//! right of the caret when cutting on the right is not enough), and the caret under the
//! position's column. Screen columns count wide characters twice (`unicode-width`, as
//! libpq's `pg_encoding_dsplen` does for UTF-8).

use unicode_width::UnicodeWidthChar;

/// Screen width limit of the `LINE` line, in columns (libpq's `DISPLAY_SIZE`).
const DISPLAY_SIZE: usize = 60;
/// How far from the cut end of a line the caret is kept, in columns (`MIN_RIGHT_CUT`).
const MIN_RIGHT_CUT: usize = 10;

/// The two lines (each ending in `\n`) libpq prints for an error at `position` (1-based, in
/// characters, as the server reports it) in `query`; `None` when the position is outside
/// the query.
pub fn position_lines(query: &str, position: u32) -> Option<String> {
    let loc = (position as usize).checked_sub(1)?;
    // Per character: its text (tabs as spaces) and screen column; line breaks found.
    let chars: Vec<char> = query
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let mut scr = Vec::with_capacity(chars.len() + 1);
    let (mut col, mut line, mut ibeg, mut iend) = (0usize, 1usize, 0usize, None);
    for (cno, &ch) in chars.iter().enumerate() {
        scr.push(col);
        if ch == '\r' || ch == '\n' {
            if cno < loc {
                // `\r\n` is one line break.
                if ch == '\r' || cno == 0 || chars[cno - 1] != '\r' {
                    line += 1;
                }
                ibeg = cno + 1;
            } else {
                iend = Some(cno);
                break;
            }
        }
        col += ch.width().unwrap_or(1).max(1);
    }
    let mut iend = match iend {
        Some(i) => i,
        None => {
            scr.push(col);
            chars.len()
        }
    };
    if loc > iend {
        return None;
    }
    let (mut beg_trunc, mut end_trunc) = (false, false);
    if scr[iend] - scr[ibeg] > DISPLAY_SIZE {
        if scr[ibeg] + DISPLAY_SIZE >= scr[loc] + MIN_RIGHT_CUT {
            while scr[iend] - scr[ibeg] > DISPLAY_SIZE {
                iend -= 1;
            }
            end_trunc = true;
        } else {
            while scr[loc] + MIN_RIGHT_CUT < scr[iend] {
                iend -= 1;
                end_trunc = true;
            }
            while scr[iend] - scr[ibeg] > DISPLAY_SIZE {
                ibeg += 1;
                beg_trunc = true;
            }
        }
    }
    let mut prefix = format!("LINE {line}: ");
    if beg_trunc {
        prefix.push_str("...");
    }
    let indent = prefix.chars().count() + scr[loc] - scr[ibeg];
    let text: String = chars[ibeg..iend].iter().collect();
    Some(format!(
        "{prefix}{text}{}\n{}^\n",
        if end_trunc { "..." } else { "" },
        " ".repeat(indent)
    ))
}

#[cfg(test)]
mod tests {
    use super::position_lines;

    // Each expected text is what psql 15 printed for the same query on PostgreSQL 15 (the
    // multi-line ones: psql on the same text sent as one query).

    #[test]
    fn a_short_line() {
        assert_eq!(
            position_lines("SELECT nosuchcol FROM t;", 8).as_deref(),
            Some("LINE 1: SELECT nosuchcol FROM t;\n               ^\n")
        );
    }

    #[test]
    fn the_line_that_holds_the_position() {
        let q = "CREATE TABLE t (k int);\nSELECT k,\n\tnosuchcol FROM t;";
        let at = q.find("nosuchcol").unwrap() as u32 + 1;
        assert_eq!(
            position_lines(q, at).as_deref(),
            Some("LINE 3:  nosuchcol FROM t;\n         ^\n")
        );
    }

    #[test]
    fn a_crlf_is_one_line_break() {
        let q = "SELECT 1;\r\nSELECT nosuchcol;";
        let at = q.find("nosuchcol").unwrap() as u32 + 1;
        assert_eq!(
            position_lines(q, at).as_deref(),
            Some("LINE 2: SELECT nosuchcol;\n               ^\n")
        );
    }

    fn cols(prefix: &str, n: usize) -> String {
        (0..n)
            .map(|i| format!("{i} AS {prefix}{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn at(q: &str, what: &str) -> u32 {
        q[..q.find(what).unwrap()].chars().count() as u32 + 1
    }

    #[test]
    fn a_long_line_is_cut_on_both_sides_around_the_position() {
        let q = format!(
            "SELECT {}, nosuchcol, {} FROM pg_class",
            cols("c", 12),
            cols("d", 12)
        );
        assert_eq!(
            position_lines(&q, at(&q, "nosuchcol")).unwrap(),
            "LINE 1: ... 7 AS c7, 8 AS c8, 9 AS c9, 10 AS c10, 11 AS c11, nosuchcol,...\n\
             \x20                                                            ^\n"
        );
    }

    #[test]
    fn a_long_line_is_cut_on_the_right_when_that_is_enough() {
        let q = format!("SELECT nosuchcol, {} FROM pg_class", cols("d", 12));
        assert_eq!(
            position_lines(&q, 8).unwrap(),
            "LINE 1: SELECT nosuchcol, 0 AS d0, 1 AS d1, 2 AS d2, 3 AS d3, 4 AS d...\n\
             \x20              ^\n"
        );
    }

    #[test]
    fn a_position_near_the_end_of_a_long_line() {
        let q = format!(
            "SELECT {}, {}, nosuchcol FROM pg_class",
            cols("c", 12),
            cols("d", 12)
        );
        assert_eq!(
            position_lines(&q, at(&q, "nosuchcol")).unwrap(),
            "LINE 1: ... 7 AS d7, 8 AS d8, 9 AS d9, 10 AS d10, 11 AS d11, nosuchcol ...\n\
             \x20                                                            ^\n"
        );
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let q = "SELECT 'ｗｉｄｅ文字' AS w, nosuchcol FROM pg_class";
        assert_eq!(
            position_lines(q, at(q, "nosuchcol")).unwrap(),
            format!("LINE 1: {q}\n{}^\n", " ".repeat(36))
        );
    }

    #[test]
    fn a_position_past_the_end_prints_nothing() {
        assert_eq!(position_lines("SELECT 1", 40), None);
        assert_eq!(position_lines("SELECT 1", 0), None);
    }
}
