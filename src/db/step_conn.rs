//! A session's connection for interleaving steps: a step's SQL runs as one query text and
//! every result set, notice and notification comes back in the order the server sent it.
//!
//! On PostgreSQL this uses `tokio-postgres`'s simple-query stream, not sqlx: sqlx 0.9's
//! simple-query stream drops the row description of a result set with no rows (so a
//! zero-row `SELECT` cannot be told from an `UPDATE` of no rows), logs notices through
//! `tracing` only (target `sqlx::postgres::notice`, with no way to tell which connection
//! sent them) and fails with `unexpected message: NotificationResponse` when a
//! notification arrives on a connection that is not a `PgListener`.

use std::future::poll_fn;
use std::pin::pin;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls, SimpleQueryMessage};

use super::{Conn, DbError, Dialect, Engine, Outcome};

/// Rows of cells as text, NULL as `None`.
type Cells = Vec<Vec<Option<String>>>;

/// A result set or notification a step's query text produced, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A result set: the server described its columns (possibly with no rows after).
    Set {
        /// Column names.
        columns: Vec<String>,
        /// Cells as text, NULL as `None`.
        rows: Vec<Vec<Option<String>>>,
    },
    /// A `NOTIFY` delivered to this connection (PostgreSQL).
    Notification {
        /// The channel.
        channel: String,
        /// The payload (empty when none was given).
        payload: String,
        /// The backend pid of the session that sent it.
        pid: u32,
    },
}

/// A NOTICE, WARNING, INFO ... message from PostgreSQL, forwarded as soon as it arrives
/// (a step that waits for a lock may send some before it blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Severity as the server sent it (`NOTICE`, `WARNING`).
    pub severity: String,
    /// The message text.
    pub message: String,
}

/// Everything one step's query text produced: the replies before the end or the error,
/// then the error if the text failed (statements after a failing one do not run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepText {
    /// Result sets and notifications in arrival order.
    pub replies: Vec<Reply>,
    /// The error that ended the text, if any.
    pub error: Option<DbError>,
    /// Where in the text that error is, when the server said (PostgreSQL's `P` field: a
    /// 1-based character position).
    pub error_position: Option<u32>,
    /// Affected-row counts the server reported, one per statement that returned no result
    /// set, in order (PostgreSQL: the command tag's count; MySQL/MariaDB: the OK packet's).
    pub affected: Vec<u64>,
    /// MySQL/MariaDB `SHOW WARNINGS` after the text, when the session asked for it
    /// (the warnings of the text's last statement).
    pub warnings: Vec<Warning>,
    /// True when the text's last statement returned a result set (what libpq's `PQexec`
    /// reports for a whole text: only the last statement's result).
    pub last_is_set: bool,
    /// MySQL/MariaDB: one entry per statement that ran, in order, true when it returned a
    /// result set (to tell which statement an `affected` entry belongs to).
    pub returned_set: Vec<bool>,
}

/// One row of MySQL/MariaDB `SHOW WARNINGS`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    /// `Note`, `Warning` or `Error`.
    pub level: String,
    /// The engine's error number, as text.
    pub code: String,
    /// The server's message.
    pub message: String,
}

/// A PostgreSQL connection driven by `tokio-postgres`; the task that drives the connection
/// forwards notices to the caller's channel as they arrive and notifications to this
/// connection, which reports them with the step that received them.
pub struct PgStepConn {
    client: tokio_postgres::Client,
    messages: mpsc::UnboundedReceiver<tokio_postgres::Notification>,
}

impl std::fmt::Debug for PgStepConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStepConn")
    }
}

/// A connection that runs interleaving steps: PostgreSQL through [`PgStepConn`],
/// MySQL/MariaDB through sqlx ([`Conn::step_text`]).
#[derive(Debug)]
pub enum StepConn {
    /// PostgreSQL.
    Pg(PgStepConn),
    /// MySQL/MariaDB.
    My(Conn),
}

impl StepConn {
    /// Connects to `url` (`postgres://` or `mysql://`); PostgreSQL notices go to `notices`
    /// as they arrive.
    ///
    /// Errors: the classified connection error.
    pub async fn connect(
        engine: Engine,
        url: &str,
        notices: mpsc::UnboundedSender<Notice>,
    ) -> Result<StepConn, DbError> {
        match engine.dialect() {
            Dialect::Postgres => {
                let (client, mut connection) = tokio_postgres::connect(url, NoTls)
                    .await
                    .map_err(|e| pg_error(&e))?;
                let (tx, messages) = mpsc::unbounded_channel();
                tokio::spawn(async move {
                    while let Some(Ok(m)) = poll_fn(|cx| connection.poll_message(cx)).await {
                        match m {
                            AsyncMessage::Notice(n) => {
                                let _ = notices.send(Notice {
                                    severity: n.severity().to_string(),
                                    message: n.message().to_string(),
                                });
                            }
                            AsyncMessage::Notification(n) => {
                                let _ = tx.send(n);
                            }
                            _ => {}
                        }
                    }
                });
                Ok(StepConn::Pg(PgStepConn { client, messages }))
            }
            Dialect::Mysql => Conn::open(engine, url).await.map(StepConn::My),
        }
    }

    /// Runs `sql` as one query text (PostgreSQL: one simple-protocol `Query` message, never
    /// split by keyrace; MySQL/MariaDB: sqlx's text protocol with multi-statements).
    pub async fn run(&mut self, sql: &str) -> StepText {
        match self {
            StepConn::Pg(c) => c.run(sql).await,
            StepConn::My(c) => c.step_text(sql).await,
        }
    }

    /// The column names of the result set `sql` returns, as the server describes it without
    /// running it: MySQL/MariaDB only ([`Conn::describe_columns`]; PostgreSQL steps
    /// report their row descriptions themselves), `None` when it cannot say.
    pub async fn describe_columns(&mut self, sql: &str) -> Option<Vec<String>> {
        match self {
            StepConn::Pg(_) => None,
            StepConn::My(c) => c.describe_columns(sql).await,
        }
    }

    /// The first column of the first row of `sql`'s first result set, as text.
    pub async fn scalar(&mut self, sql: &str) -> Result<Option<String>, DbError> {
        let out = self.run(sql).await;
        if let Some(e) = out.error {
            return Err(e);
        }
        Ok(out
            .replies
            .into_iter()
            .find_map(|r| match r {
                Reply::Set { rows, .. } => Some(rows.into_iter().next()?.into_iter().next()?),
                _ => None,
            })
            .flatten())
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self {
            StepConn::Pg(c) => drop(c),
            StepConn::My(c) => c.close().await,
        }
    }
}

impl PgStepConn {
    fn drain(&mut self, replies: &mut Vec<Reply>) {
        while let Ok(n) = self.messages.try_recv() {
            replies.push(Reply::Notification {
                channel: n.channel().to_string(),
                payload: n.payload().to_string(),
                pid: n.process_id() as u32,
            });
        }
    }

    async fn run(&mut self, sql: &str) -> StepText {
        let mut out = StepText::default();
        let stream = match self.client.simple_query_raw(sql).await {
            Ok(s) => s,
            Err(e) => {
                out.error = Some(pg_error(&e));
                out.error_position = pg_position(&e);
                return out;
            }
        };
        let mut stream = pin!(stream);
        // The set being received: it is reported when its CommandComplete arrives.
        let mut current: Option<(Vec<String>, Cells)> = None;
        while let Some(m) = stream.next().await {
            self.drain(&mut out.replies);
            match m {
                Ok(SimpleQueryMessage::RowDescription(cols)) => {
                    current = Some((cols.iter().map(|c| c.name().to_string()).collect(), vec![]));
                }
                Ok(SimpleQueryMessage::Row(row)) => {
                    if let Some((_, rows)) = &mut current {
                        rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        );
                    }
                }
                Ok(SimpleQueryMessage::CommandComplete(n)) => {
                    out.last_is_set = current.is_some();
                    match current.take() {
                        Some((columns, rows)) => out.replies.push(Reply::Set { columns, rows }),
                        None => out.affected.push(n),
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    // Rows of a set cut short by its own error are dropped, as libpq does.
                    out.error = Some(pg_error(&e));
                    out.error_position = pg_position(&e);
                    break;
                }
            }
        }
        // Give the connection task a moment to forward what came with ReadyForQuery.
        tokio::task::yield_now().await;
        self.drain(&mut out.replies);
        out
    }
}

/// Where in the query text a server error is (1-based, in characters), when it says.
fn pg_position(e: &tokio_postgres::Error) -> Option<u32> {
    match e.as_db_error()?.position()? {
        tokio_postgres::error::ErrorPosition::Original(p) => Some(*p),
        tokio_postgres::error::ErrorPosition::Internal { .. } => None,
    }
}

/// Classifies a `tokio-postgres` error like [`super::classify`] does sqlx's: by SQLSTATE.
fn pg_error(e: &tokio_postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(db) => DbError {
            class: Engine::default_for(Dialect::Postgres).classify_code(db.code().code()),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
        },
        None => DbError {
            class: Outcome::ConnectionError,
            code: if e.is_closed() { "closed" } else { "io" }.into(),
            message: e.to_string(),
        },
    }
}
