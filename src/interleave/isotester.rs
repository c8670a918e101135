//! `--format isolationtester`: a target's output byte for byte as PostgreSQL 15's isolation
//! tester prints it (result sets in libpq's `PQprint` aligned format, `ERROR:  message`,
//! step SQL as written, permutation labels without markers), so keyrace's output can be
//! diffed against expected files written for the isolation tester.

use super::output::{Event, InterleaveReport, StepOutcome, TargetReport};
use super::session::{Rows, StepItem};

/// What the isolation tester would print for one target: on stdout, and on stderr (failed
/// setup or teardown blocks, harness failures).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsolationTesterText {
    /// The text it prints on stdout.
    pub stdout: String,
    /// The lines it prints on stderr, each ending in a newline.
    pub stderr: String,
}

impl InterleaveReport {
    /// The isolation tester's output for the target whose label or dialect name is `which`
    /// (`None` when there is no such target or it was skipped).
    pub fn render_isolationtester(&self, which: &str) -> Option<IsolationTesterText> {
        let t = self.target(which)?;
        t.skipped
            .is_none()
            .then(|| t.render_isolationtester(self.sessions.len()))
    }
}

impl TargetReport {
    /// This target's output as PostgreSQL 15's isolation tester prints it for a spec with
    /// `sessions` sessions: `Parsed test spec with N sessions`, then each permutation.
    pub fn render_isolationtester(&self, sessions: usize) -> IsolationTesterText {
        let mut out = String::new();
        let mut err = String::new();
        out.push_str(&format!("Parsed test spec with {sessions} sessions\n"));
        for p in &self.permutations {
            out.push_str(&format!(
                "\nstarting permutation: {}\n",
                without_markers(&p.label)
            ));
            for e in &p.events {
                match e {
                    Event::Step {
                        step,
                        sql,
                        waiting: true,
                        ..
                    } => out.push_str(&format!("step {step}: {sql} <waiting ...>\n")),
                    Event::Step {
                        step,
                        sql,
                        output,
                        result,
                        ..
                    } => {
                        out.push_str(&format!("step {step}: {sql}\n"));
                        if let Some(r) = result {
                            step_result(&mut out, output, r);
                        }
                    }
                    Event::Completed {
                        step,
                        output,
                        result,
                    } => {
                        out.push_str(&format!("step {step}: <... completed>\n"));
                        step_result(&mut out, output, result);
                    }
                    Event::Notice {
                        session,
                        severity,
                        message,
                    } => out.push_str(&format!("{session}: {severity}:  {message}\n")),
                    Event::SetupError {
                        what,
                        error,
                        position,
                    } => {
                        err.push_str(&format!("{what} failed: ERROR:  {}\n", error.message));
                        err.push_str(position.as_deref().unwrap_or_default());
                    }
                    Event::SetupResult { rows, .. } => pq_print(&mut out, rows),
                    Event::Cancelled { step, after_ms } => out.push_str(&format!(
                        "isolationtester: canceling step {step} after {} seconds\n",
                        after_ms / 1000
                    )),
                }
            }
            if let Some(f) = &p.failure {
                err.push_str(&format!("permutation failed: {f}\n"));
            }
        }
        IsolationTesterText {
            stdout: out,
            stderr: err,
        }
    }
}

/// A step's results as the isolation tester prints them: every result set, then the error
/// (primary message only), then notifications.
fn step_result(out: &mut String, output: &[StepItem], r: &StepOutcome) {
    for item in output {
        if let StepItem::Rows(rows) = item {
            pq_print(out, rows);
        }
    }
    match r {
        StepOutcome::Ok {
            rows: Some(rows), ..
        } => pq_print(out, rows),
        StepOutcome::Ok { rows: None, .. } => {}
        StepOutcome::Error(e) => out.push_str(&format!("ERROR:  {}\n", e.message)),
    }
    for item in output {
        if let StepItem::Notify {
            session,
            channel,
            payload,
            from,
        } = item
        {
            out.push_str(&format!(
                "{session}: NOTIFY \"{channel}\" with payload \"{payload}\" from {from}\n"
            ));
        }
    }
}

/// A permutation label without its markers: `a(*) b(a notices 1) c` → `a b c`.
fn without_markers(label: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in label.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// libpq's `PQprint` with the isolation tester's options (aligned, header, `|` between
/// fields): columns padded to their widest value in bytes, numeric-looking columns
/// right-aligned, NULL and empty values blank, `(N rows)` and a blank line after. A result
/// with no columns prints nothing.
pub(crate) fn pq_print(out: &mut String, rows: &Rows) {
    let n = rows.columns.len();
    if n == 0 {
        return;
    }
    let mut width: Vec<usize> = rows.columns.iter().map(String::len).collect();
    let mut not_num = vec![false; n];
    for row in &rows.rows {
        for (j, cell) in row.iter().enumerate().take(n) {
            let Some(v) = cell.as_deref().filter(|v| !v.is_empty()) else {
                continue;
            };
            if !not_num[j] {
                not_num[j] = !looks_numeric(v);
            }
            width[j] = width[j].max(v.len());
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        for (j, v) in cells.enumerate() {
            if j > 0 {
                out.push('|');
            }
            let pad = " ".repeat(width[j].saturating_sub(v.len()));
            if not_num[j] {
                out.push_str(v);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(v);
            }
        }
        out.push('\n');
    };
    line(out, &mut rows.columns.iter().map(String::as_str));
    let border: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&border.join("+"));
    out.push('\n');
    for row in &rows.rows {
        line(
            out,
            &mut (0..n).map(|j| row.get(j).and_then(|c| c.as_deref()).unwrap_or("")),
        );
    }
    let count = rows.rows.len();
    out.push_str(&format!(
        "({count} row{})\n\n",
        if count == 1 { "" } else { "s" }
    ));
}

/// `PQprint`'s test for a right-aligned value: only digits, `.`, `E`, `e`, space and `-`,
/// not starting with `E`/`e`, ending in a digit.
fn looks_numeric(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'E' | 'e' | ' ' | '-'))
        && !v.starts_with(['E', 'e'])
        && v.ends_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], cells: &[&[Option<&str>]]) -> Rows {
        Rows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: cells
                .iter()
                .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
                .collect(),
        }
    }

    #[test]
    fn numbers_right_text_left_null_blank() {
        let mut out = String::new();
        pq_print(
            &mut out,
            &rows(&["k", "v"], &[&[Some("1"), Some("a")], &[Some("22"), None]]),
        );
        assert_eq!(out, " k|v\n--+-\n 1|a\n22| \n(2 rows)\n\n");
    }

    #[test]
    fn zero_rows_keep_the_header_and_no_columns_print_nothing() {
        let mut out = String::new();
        pq_print(&mut out, &rows(&["abc"], &[]));
        assert_eq!(out, "abc\n---\n(0 rows)\n\n");
        let mut none = String::new();
        pq_print(&mut none, &rows(&[], &[&[]]));
        assert_eq!(none, "");
    }

    #[test]
    fn numeric_test_as_libpq() {
        assert!(looks_numeric("-1.5e10"));
        assert!(!looks_numeric("e1"));
        assert!(!looks_numeric("1."));
        assert!(!looks_numeric("t"));
        assert!(!looks_numeric("1é"));
    }

    #[test]
    fn labels_lose_their_markers() {
        assert_eq!(without_markers("a(*) b(a notices 1) c"), "a b c");
    }
}
