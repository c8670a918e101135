//! One task per session: it owns the session's connection and runs steps sent over a channel.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::db::{DbError, Engine, Notice, StepConn, StepText, Warning};

/// Rows a step returned, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rows {
    /// Column names (empty when no row came back).
    pub columns: Vec<String>,
    /// Cells, NULL as `None`.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Something a step printed besides its outcome: an earlier result set or a notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepItem {
    /// A result set (the server described its columns; it may have no rows).
    Rows(Rows),
    /// The affected-row count of one statement that returned no result set, printed
    /// `affected rows: N` after the step's result (scenarios with `effects`).
    Affected {
        /// The count the server reported.
        rows: u64,
    },
    /// A MySQL/MariaDB warning or note from `SHOW WARNINGS` after the step, printed
    /// `Warning 1048: message` after its result (scenarios with `effects`).
    Warning {
        /// `Note`, `Warning` or `Error`.
        level: String,
        /// The engine's error number.
        code: String,
        /// The message.
        message: String,
    },
    /// A notification delivered to the session, printed
    /// `s1: NOTIFY "c" with payload "hi" from s2`.
    Notify {
        /// The session that received it.
        session: String,
        /// The channel.
        channel: String,
        /// The payload.
        payload: String,
        /// The sending session's name, or `PID n` when no session of the permutation sent it.
        from: String,
    },
}

/// A finished step as the session task saw it.
#[derive(Debug)]
pub(crate) struct Completion {
    pub result: StepText,
    pub finished: Instant,
}

enum Cmd {
    Run {
        sql: String,
        reply: oneshot::Sender<Completion>,
    },
}

/// A session's connection, moved into its own task.
pub(crate) struct SessionTask {
    tx: Option<mpsc::Sender<Cmd>>,
    join: Option<JoinHandle<()>>,
    /// PostgreSQL backend pid or MySQL `CONNECTION_ID()`.
    pub id: u64,
    /// PostgreSQL notices, as they arrive (also while a step waits).
    pub notices: mpsc::UnboundedReceiver<Notice>,
    /// True when SQL ran since the connection was opened or last reset.
    used: bool,
}

impl SessionTask {
    /// Connects, prepares the connection (PostgreSQL: `deadlock_timeout = '100ms'`) and
    /// learns its server-side id. With `warnings`, every step on MySQL/MariaDB is followed
    /// by `SHOW WARNINGS` on the same connection, whose rows come back in
    /// [`StepText::warnings`].
    pub async fn open(engine: Engine, url: &str, warnings: bool) -> Result<SessionTask, DbError> {
        let (notice_tx, mut notices) = mpsc::unbounded_channel();
        let mut conn = StepConn::connect(engine, url, notice_tx).await?;
        if let Some(sql) = engine.interleave_session_sql() {
            conn.scalar(sql).await?;
        }
        let id = conn
            .scalar(engine.backend_id_sql())
            .await?
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| DbError {
                class: crate::db::Outcome::Other,
                code: "client".into(),
                message: "cannot read the session's connection id".into(),
            })?;
        let (tx, mut rx) = mpsc::channel::<Cmd>(4);
        let join = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                match cmd {
                    Cmd::Run { sql, reply } => {
                        let mut result = conn.run(&sql).await;
                        if warnings && engine.dialect() == crate::vocab::Dialect::Mysql {
                            result.warnings = show_warnings(&mut conn).await;
                        }
                        // After SHOW WARNINGS: preparing clears the warnings.
                        describe_empty_set(&mut conn, &sql, &mut result).await;
                        let _ = reply.send(Completion {
                            result,
                            finished: Instant::now(),
                        });
                    }
                }
            }
            conn.close().await;
        });
        // Notices of the connection's own set-up are not part of any step.
        while notices.try_recv().is_ok() {}
        Ok(SessionTask {
            tx: Some(tx),
            join: Some(join),
            id,
            notices,
            used: false,
        })
    }

    /// Starts running `sql`; the receiver yields its completion.
    pub async fn launch(&mut self, sql: &str) -> oneshot::Receiver<Completion> {
        self.used = true;
        let (reply, rx) = oneshot::channel();
        if let Some(tx) = &self.tx {
            // If the task is gone the receiver reports a closed channel, handled by the caller.
            let _ = tx
                .send(Cmd::Run {
                    sql: sql.to_string(),
                    reply,
                })
                .await;
        }
        rx
    }

    /// Runs `sql` to completion and returns what came back (a closed session reports
    /// [`closed`] as its error).
    pub async fn run_text(&mut self, sql: &str) -> StepText {
        match self.launch(sql).await.await {
            Ok(c) => c.result,
            Err(_) => StepText {
                error: Some(closed()),
                ..StepText::default()
            },
        }
    }

    /// Returns the connection to the state of a new one for the next permutation
    /// ([`crate::db::Backend::interleave_reset_sql`], then the session settings again, as
    /// one query text: one round trip) and drops the notices and notifications that caused.
    /// A session that ran nothing since it was opened or last reset is left as it is. False
    /// when the engine cannot or a statement failed: close it and open a new one.
    pub async fn reset(&mut self, engine: Engine) -> bool {
        let Some(reset) = engine.interleave_reset_sql() else {
            return false;
        };
        if !self.used {
            return true;
        }
        let sql = match engine.interleave_session_sql() {
            Some(session) => format!("{reset}; {session}"),
            None => reset.to_string(),
        };
        if self.run_text(&sql).await.error.is_some() {
            return false;
        }
        self.used = false;
        while self.notices.try_recv().is_ok() {}
        true
    }

    /// Closes the connection (after any running step ends) and waits for the task.
    pub async fn close(mut self) {
        self.tx.take();
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
}

/// MySQL/MariaDB: the statements of a text that returned neither rows nor an error and
/// changed no row: when the server describes result columns for one, it returned an empty
/// result set (a zero-row `SELECT`, `(SELECT …)`, `TABLE t`), reported as one with no rows
/// instead of an affected-row count, in its place among the text's result sets. (A write
/// that changed rows is not asked about: one round trip saved.) In a text of several
/// statements each is described on its own ([`super::split::mysql_statements`]) when the
/// split finds as many statements as the server ran; otherwise the text is left as it came.
async fn describe_empty_set(conn: &mut StepConn, sql: &str, result: &mut StepText) {
    if matches!(conn, StepConn::Pg(_)) || result.error.is_some() || !result.affected.contains(&0) {
        return;
    }
    // One statement: the text itself, whatever the splitter would make of it; several: as
    // the splitter finds them, when it finds as many as the server ran.
    let shapes = match result.returned_set.as_slice() {
        [] => vec![false],
        s => s.to_vec(),
    };
    let statements = if shapes.len() > 1 {
        super::split::mysql_statements(sql)
    } else {
        vec![sql]
    };
    if statements.len() != shapes.len() {
        return;
    }
    // Walk the statements in order: `sets` result sets and `counts` affected-row counts
    // seen before statement i (sets found empty here included).
    let last = shapes.len() - 1;
    let (mut sets, mut counts) = (0, 0);
    for (i, (text, returned_set)) in statements.into_iter().zip(shapes).enumerate() {
        if returned_set {
            sets += 1;
            continue;
        }
        if result.affected[counts] == 0
            && let Some(columns) = conn.describe_columns(text).await
        {
            result.affected.remove(counts);
            result.replies.insert(
                sets,
                crate::db::Reply::Set {
                    columns,
                    rows: Vec::new(),
                },
            );
            if i == last {
                result.last_is_set = true;
            }
            sets += 1;
            continue;
        }
        counts += 1;
    }
}

/// The rows of `SHOW WARNINGS` (Level, Code, Message); none when it fails.
async fn show_warnings(conn: &mut StepConn) -> Vec<Warning> {
    let out = conn.run("SHOW WARNINGS").await;
    out.replies
        .into_iter()
        .filter_map(|r| match r {
            crate::db::Reply::Set { rows, .. } => Some(rows),
            _ => None,
        })
        .flatten()
        .map(|row| {
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            Warning {
                level: cell(0),
                code: cell(1),
                message: cell(2),
            }
        })
        .collect()
}

/// The error reported when a session task ended without answering.
pub(crate) fn closed() -> DbError {
    DbError {
        class: crate::db::Outcome::ConnectionError,
        code: "closed".into(),
        message: "session connection closed".into(),
    }
}
