//! One task per session: it owns the session's connection and runs steps sent over a channel.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::db::{Conn, DbError, Dialect};

/// Rows a step returned, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rows {
    /// Column names (empty when no row came back).
    pub columns: Vec<String>,
    /// Cells, NULL as `None`.
    pub rows: Vec<Vec<Option<String>>>,
}

/// A finished step as the session task saw it.
#[derive(Debug)]
pub(crate) struct Completion {
    pub result: Result<Rows, DbError>,
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
}

impl SessionTask {
    /// Connects, prepares the connection (PostgreSQL: `deadlock_timeout = '100ms'`) and
    /// learns its server-side id.
    pub async fn open(dialect: Dialect, url: &str) -> Result<SessionTask, DbError> {
        let mut conn = Conn::connect(dialect, url).await?;
        let id_sql = match dialect {
            Dialect::Postgres => {
                conn.batch("SET deadlock_timeout = '100ms'").await?;
                "SELECT pg_backend_pid()::bigint"
            }
            Dialect::Mysql => "SELECT CONNECTION_ID()",
        };
        let id = conn
            .scalar_text(id_sql)
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
                        let result = conn
                            .rows_text(&sql)
                            .await
                            .map(|(columns, rows)| Rows { columns, rows });
                        let _ = reply.send(Completion {
                            result,
                            finished: Instant::now(),
                        });
                    }
                }
            }
            conn.close().await;
        });
        Ok(SessionTask {
            tx: Some(tx),
            join: Some(join),
            id,
        })
    }

    /// Starts running `sql`; the receiver yields its completion.
    pub async fn launch(&self, sql: &str) -> oneshot::Receiver<Completion> {
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

    /// Runs `sql` to completion.
    pub async fn run(&self, sql: &str) -> Result<Rows, DbError> {
        match self.launch(sql).await.await {
            Ok(c) => c.result,
            Err(_) => Err(closed()),
        }
    }

    /// Closes the connection (after any running step ends) and waits for the task.
    pub async fn close(mut self) {
        self.tx.take();
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
}

/// The error reported when a session task ended without answering.
pub(crate) fn closed() -> DbError {
    DbError {
        class: crate::db::Outcome::ConnectionError,
        code: "closed".into(),
        message: "session connection closed".into(),
    }
}
