//! The report (serde) and its renderers: isolation-tester style text and a summary table.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use super::session::{Rows, StepItem};
use crate::db::Engine;
use crate::db::{DbError, Dialect, Outcome};

/// Everything one run of an interleaving scenario produced, on every target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InterleaveReport {
    /// The scenario name.
    pub scenario: String,
    /// The scenario description, if any.
    pub description: Option<String>,
    /// What it teaches, if said.
    pub teaches: Option<String>,
    /// The file it came from.
    pub source: String,
    /// The sessions and the steps each owns, in declaration order (for swim-lane pictures).
    pub sessions: Vec<SessionSteps>,
    /// One entry per target, in the order given to [`super::run`].
    pub targets: Vec<TargetReport>,
}

/// A session's name and its steps' names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSteps {
    /// Session name.
    pub name: String,
    /// Its steps, in declaration order.
    pub steps: Vec<String>,
}

/// What happened on one target (server).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetReport {
    /// The target's label.
    pub label: String,
    /// The target's dialect.
    pub dialect: Dialect,
    /// The engine detected from `SELECT VERSION()`.
    pub engine: Option<Engine>,
    /// The server version.
    pub server_version: Option<String>,
    /// Why the scenario was not run here (dialect not supported), if it was not.
    pub skipped: Option<String>,
    /// One entry per permutation run.
    pub permutations: Vec<PermutationReport>,
}

/// What happened in one permutation on one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PermutationReport {
    /// The steps, as in `starting permutation: ...`.
    pub label: String,
    /// What was printed, in order.
    pub events: Vec<Event>,
    /// A harness-level problem (a step still waiting when its session was needed, setup
    /// failure, cancellation), if any.
    pub failure: Option<String>,
}

/// The errors raised by steps among `events`, as `(step, error)`, in output order.
pub fn step_errors(events: &[Event]) -> impl Iterator<Item = (&str, &StepError)> {
    events.iter().filter_map(|e| match e {
        Event::Step {
            step,
            result: Some(StepOutcome::Error(err)),
            ..
        }
        | Event::Completed {
            step,
            result: StepOutcome::Error(err),
            ..
        } => Some((step.as_str(), err)),
        _ => None,
    })
}

impl PermutationReport {
    /// True when a setup block (top-level or a session's) failed: the run on this target
    /// stopped after this permutation, as PostgreSQL's isolation tester exits.
    pub fn setup_failed(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::SetupError { what, .. } if what.starts_with("setup")))
    }
}

/// How a step was found to be waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detection {
    /// The monitor connection saw the session wait for a lock.
    Monitor,
    /// A permutation marker (`(*)` or `(other_step)`) said so.
    Marker,
    /// Neither completed nor seen blocked within `wait_timeout_ms` (fallback).
    Timeout,
}

/// Why a step waits: the session that blocks it and the lock (from the engine's lock views:
/// `pg_locks` + `pg_blocking_pids()`, InnoDB's lock waits, MySQL 8's `data_lock_waits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockWait {
    /// The blocking session's name, or `backend <id>` for a session outside the scenario.
    pub blocker: String,
    /// The blocking session's latest step, when it is one of the scenario's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocker_step: Option<String>,
    /// The lock waited for: mode, kind and object (`ShareLock on transaction 745`,
    /// `X,GAP RECORD on `t`.`users` index email record 'a@x'`).
    pub lock: String,
    /// The mode(s) the blocker holds on it (empty when the engine does not say).
    pub held: String,
}

/// A classified database error as reported for a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepError {
    /// The outcome class (`unique_violation`, `deadlock`, ...).
    pub class: Outcome,
    /// SQLSTATE (PostgreSQL) or error number (MySQL/MariaDB).
    pub code: String,
    /// The server's message.
    pub message: String,
}

impl From<DbError> for StepError {
    fn from(e: DbError) -> StepError {
        StepError {
            class: e.class,
            code: e.code,
            message: e.message,
        }
    }
}

/// What a step returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepOutcome {
    /// It succeeded; `rows` holds what it returned (none for statements without rows).
    Ok {
        /// The returned rows, or `None` when the statement returned none.
        rows: Option<Rows>,
        /// True when the step's SQL is a query (for printing `(0 rows)`).
        query: bool,
    },
    /// It failed.
    Error(StepError),
}

/// One line group of the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A step was launched; `result` is set when it completed right away.
    Step {
        /// Step name.
        step: String,
        /// The SQL run.
        sql: String,
        /// True when reported as `<waiting ...>`.
        waiting: bool,
        /// How the wait was detected.
        #[serde(skip_serializing_if = "Option::is_none")]
        detected_by: Option<Detection>,
        /// Who blocked it and on what, read when the wait was seen (empty when not waiting
        /// or the engine could not say).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        waits_for: Vec<LockWait>,
        /// What the step printed besides its result: earlier result sets (printed before
        /// it) and notifications (printed after it); empty while it is waiting.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        output: Vec<StepItem>,
        /// The result when it completed right away.
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<StepOutcome>,
    },
    /// A previously waiting step completed.
    Completed {
        /// Step name.
        step: String,
        /// What it printed before its result, and notifications (see [`Event::Step`]).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        output: Vec<StepItem>,
        /// Its result.
        result: StepOutcome,
    },
    /// A NOTICE or WARNING (PostgreSQL) a session received, printed when it arrived as
    /// PostgreSQL's isolation tester does: `s1: NOTICE:  message`.
    Notice {
        /// The session that received it.
        session: String,
        /// `NOTICE`, `WARNING` ...
        severity: String,
        /// The message text.
        message: String,
    },
    /// Setup or teardown SQL failed, printed `<what> failed: ERROR: ...` as the isolation
    /// tester does. A failed setup stops the run on that target.
    SetupError {
        /// Which block: `setup`, `setup of session s1`, `teardown of session s1`,
        /// `teardown`.
        what: String,
        /// The error.
        error: StepError,
        /// libpq's `LINE n: …` and `^` lines (each ending in `\n`) for an error the
        /// server located in the block's text (PostgreSQL), as the isolation tester prints
        /// them after the error.
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<String>,
    },
    /// A step still waiting after the step limit, when keyrace had to wait for it (its
    /// session was needed, or the permutation ended), was cancelled
    /// (`pg_cancel_backend`, `KILL QUERY`); its completion follows.
    Cancelled {
        /// Step name.
        step: String,
        /// How long it had been waited for (milliseconds).
        after_ms: u64,
    },
    /// The result set a setup or teardown block ended with, printed as a step's rows are
    /// (the isolation tester prints the last result of each block; nothing for a block
    /// whose last statement returns no rows).
    SetupResult {
        /// Which block, as in [`Event::SetupError`].
        what: String,
        /// The rows.
        rows: Rows,
    },
}

impl PermutationReport {
    /// The errors raised by steps, as `(step, error)`, in output order.
    pub fn step_errors(&self) -> Vec<(&str, &StepError)> {
        step_errors(&self.events).collect()
    }

    /// One line for the summary: the errors (`s2i: unique_violation 23505`), or `no error`.
    pub fn outcome(&self) -> String {
        let mut parts: Vec<String> = self
            .step_errors()
            .iter()
            .map(|(s, e)| format!("{s}: {} {}", e.class.name(), e.code))
            .collect();
        let waited: Vec<&str> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Step {
                    step,
                    waiting: true,
                    ..
                } => Some(step.as_str()),
                _ => None,
            })
            .collect();
        for e in &self.events {
            if let Event::SetupError { what, error, .. } = e {
                parts.push(format!("{what}: {} {}", error.class.name(), error.code));
            }
        }
        if parts.is_empty() {
            // A permutation that failed is never summarised as "no error".
            parts.push(if self.failure.is_some() {
                "failed".into()
            } else {
                "no error".into()
            });
        }
        let mut s = parts.join("; ");
        if !waited.is_empty() {
            s.push_str(&format!(" (waited: {})", waited.join(", ")));
        }
        if let Some(f) = &self.failure {
            s.push_str(&format!(" [failed: {f}]"));
        }
        s
    }
}

fn render_error(out: &mut String, e: &StepError) {
    out.push_str(&format!(
        "ERROR: {} {}: {}\n",
        e.class.name(),
        e.code,
        e.message
    ));
}

fn render_rows(out: &mut String, rows: &Rows) {
    let n = rows.columns.len();
    let cell = |c: &Option<String>| c.clone().unwrap_or_default();
    let mut widths: Vec<usize> = rows.columns.iter().map(|c| c.chars().count()).collect();
    for r in &rows.rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(cell(c).chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("|").trim_end().to_string()
    };
    out.push_str(&line(rows.columns.clone()));
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("+"),
    );
    out.push('\n');
    for r in &rows.rows {
        out.push_str(&line(r.iter().map(cell).collect()));
        out.push('\n');
    }
    let count = rows.rows.len();
    out.push_str(&format!(
        "({count} row{})\n",
        if count == 1 { "" } else { "s" }
    ));
}

/// Prints a step's result: earlier result sets in arrival order, the outcome,
/// then notifications (the isolation tester reports them after the step's results).
fn render_step_result(out: &mut String, output: &[StepItem], r: &StepOutcome) {
    for item in output {
        if let StepItem::Rows(rows) = item {
            render_rows(out, rows);
        }
    }
    render_outcome(out, r);
    for item in output {
        match item {
            StepItem::Affected { rows } => out.push_str(&format!("affected rows: {rows}\n")),
            StepItem::Warning {
                level,
                code,
                message,
            } => out.push_str(&format!("{level} {code}: {message}\n")),
            _ => {}
        }
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

fn render_outcome(out: &mut String, r: &StepOutcome) {
    match r {
        StepOutcome::Ok {
            rows: Some(rows), ..
        } => render_rows(out, rows),
        StepOutcome::Ok {
            rows: None,
            query: true,
        } => out.push_str("(0 rows)\n"),
        StepOutcome::Ok {
            rows: None,
            query: false,
        } => {}
        StepOutcome::Error(e) => render_error(out, e),
    }
}

impl TargetReport {
    /// The isolation-tester style output of this target.
    pub fn render_text(&self) -> String {
        self.render(false)
    }

    /// [`TargetReport::render_text`] with, under each `<waiting ...>` line, who blocks the
    /// step and on what (`--explain`).
    pub fn render_explained(&self) -> String {
        self.render(true)
    }

    fn render(&self, explain: bool) -> String {
        let mut out = String::new();
        if let Some(reason) = &self.skipped {
            out.push_str(&format!("skipped on {}: {reason}\n", self.dialect));
            return out;
        }
        for (i, p) in self.permutations.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("starting permutation: {}\n", p.label));
            for e in &p.events {
                match e {
                    Event::Step {
                        step,
                        sql,
                        waiting,
                        output,
                        result,
                        waits_for,
                        ..
                    } => {
                        // A `.spec` block keeps its newlines (as the isolation tester
                        // prints it); this format shows it trimmed.
                        out.push_str(&format!("step {step}: {}", sql.trim()));
                        out.push_str(if *waiting { " <waiting ...>\n" } else { "\n" });
                        if explain {
                            for w in waits_for {
                                let by = match &w.blocker_step {
                                    Some(s) => format!("{} (step {s})", w.blocker),
                                    None => w.blocker.clone(),
                                };
                                let held = if w.held.is_empty() {
                                    String::new()
                                } else {
                                    format!(", which holds {}", w.held)
                                };
                                out.push_str(&format!("  waits for {by}: {}{held}\n", w.lock));
                            }
                        }
                        if let Some(r) = result {
                            render_step_result(&mut out, output, r);
                        }
                    }
                    Event::Completed {
                        step,
                        output,
                        result,
                    } => {
                        out.push_str(&format!("step {step}: <... completed>\n"));
                        render_step_result(&mut out, output, result);
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
                        out.push_str(&format!("{what} failed: "));
                        render_error(&mut out, error);
                        out.push_str(position.as_deref().unwrap_or_default());
                    }
                    Event::SetupResult { rows, .. } => render_rows(&mut out, rows),
                    Event::Cancelled { step, after_ms } => out.push_str(&format!(
                        "cancelling step {step}: still waiting after {} s\n",
                        *after_ms as f64 / 1000.0
                    )),
                }
            }
            if let Some(f) = &p.failure {
                out.push_str(&format!("permutation failed: {f}\n"));
            }
        }
        out
    }
}

impl InterleaveReport {
    /// The target whose label or dialect name is `which`.
    pub fn target(&self, which: &str) -> Option<&TargetReport> {
        self.targets
            .iter()
            .find(|t| t.label == which)
            .or_else(|| self.targets.iter().find(|t| t.dialect.name() == which))
    }

    /// Isolation-tester style output for the target whose label or dialect name is `which`
    /// (empty when there is none).
    pub fn render_text(&self, which: &str) -> String {
        self.target(which)
            .map(TargetReport::render_text)
            .unwrap_or_default()
    }

    /// The summary as data: a header (`<scenario>: permutation`, then one label per
    /// server), then one row per permutation with each server's outcome.
    pub fn summary_rows(&self) -> Vec<Vec<String>> {
        let mut header = vec![format!("{}: permutation", self.scenario)];
        header.extend(self.targets.iter().map(|t| match &t.server_version {
            Some(v) if !t.label.contains(v.as_str()) => format!("{} ({v})", t.label),
            _ => t.label.clone(),
        }));
        let labels: Vec<String> = self
            .targets
            .iter()
            .find(|t| t.skipped.is_none())
            .map(|t| t.permutations.iter().map(|p| p.label.clone()).collect())
            .unwrap_or_default();
        let mut rows = vec![header];
        for (i, label) in labels.iter().enumerate() {
            let mut row = vec![label.clone()];
            for t in &self.targets {
                row.push(match (&t.skipped, t.permutations.get(i)) {
                    (Some(reason), _) => format!("skipped: {reason}"),
                    (None, Some(p)) => p.outcome(),
                    (None, None) => "not run".into(),
                });
            }
            rows.push(row);
        }
        rows
    }

    /// A table: one row per permutation, one column per target with its outcome.
    pub fn render_summary(&self) -> String {
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(160);
        let mut rows = self.summary_rows().into_iter();
        if let Some(header) = rows.next() {
            table.set_header(header);
        }
        for row in rows {
            table.add_row(row);
        }
        table.to_string()
    }
}

/// True when `sql` looks like it contains a statement that returns rows: only for
/// MySQL/MariaDB steps that returned no row, whose empty result sets sqlx does not describe.
pub(crate) fn is_query(sql: &str) -> bool {
    sql.split(';').any(|stmt| {
        let first = stmt
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--"))
            .flat_map(|l| l.split_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        matches!(
            first.as_str(),
            "SELECT" | "WITH" | "VALUES" | "SHOW" | "TABLE" | "EXPLAIN"
        ) || stmt.to_ascii_uppercase().contains("RETURNING")
    })
}
