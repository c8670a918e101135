//! Blocking detection from a separate monitor connection, with the engine's query and poll
//! cadence ([`crate::db::Backend::blocked_sql`], prepared once where the engine can:
//! `pg_blocking_pids` on PostgreSQL,
//! `INNODB_TRX`/`PROCESSLIST` on MariaDB, `performance_schema.data_lock_waits` on MySQL 8).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::db::{Conn, DbError, Engine};

/// A verdict on which sessions are blocked, with when the query started.
#[derive(Debug)]
pub(crate) struct Verdict {
    pub blocked: HashSet<u64>,
    pub started: Instant,
}

/// The monitor connection.
pub(crate) struct Monitor {
    conn: Conn,
    /// The engine being watched.
    pub engine: Engine,
    last: Option<Instant>,
}

impl Monitor {
    /// Opens the monitor connection on `url`.
    pub async fn open(url: &str, engine: Engine) -> Result<Monitor, DbError> {
        Ok(Monitor {
            conn: Conn::open(engine, url).await?,
            engine,
            last: None,
        })
    }

    /// How long until the next query may run (0 when it may run now).
    pub fn until_next(&self) -> Duration {
        match self.last {
            None => Duration::ZERO,
            Some(t) => (t + self.engine.poll_interval()).saturating_duration_since(Instant::now()),
        }
    }

    /// Which of `ids` are waiting for a lock now. Sleeps first if the previous query was
    /// less than the engine's poll interval ago.
    pub async fn blocked(&mut self, ids: &[u64]) -> Result<Verdict, DbError> {
        let wait = self.until_next();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let started = Instant::now();
        self.last = Some(started);
        if ids.is_empty() {
            return Ok(Verdict {
                blocked: HashSet::new(),
                started,
            });
        }
        let rows = match self.engine.blocked_prepared_sql() {
            Some(sql) => self.conn.rows_text_by_ids(sql, ids).await?,
            None => {
                let sql = self.engine.blocked_sql(&id_list(ids));
                self.conn.rows_text(&sql).await?.1
            }
        };
        let blocked = rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .filter_map(|s| s.parse::<u64>().ok())
            .collect();
        Ok(Verdict { blocked, started })
    }

    /// Who blocks the sessions `ids` and on what (see [`crate::db::Backend::lock_waits_sql`]):
    /// `(waiting id, blocking id, lock waited for, mode held by the blocker)`; empty when the
    /// engine cannot say. Runs at once (no poll-interval wait), so on MariaDB it reads the same
    /// InnoDB snapshot as the blocking query just before it.
    pub async fn lock_waits(
        &mut self,
        ids: &[u64],
    ) -> Result<Vec<(u64, u64, String, String)>, DbError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = match self.engine.lock_waits_prepared_sql() {
            Some(sql) => self.conn.rows_text_by_ids(sql, ids).await?,
            None => match self.engine.lock_waits_sql(&id_list(ids)) {
                Some(sql) => self.conn.rows_text(&sql).await?.1,
                None => return Ok(Vec::new()),
            },
        };
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut c = r.into_iter();
                let w = c.next()??.parse().ok()?;
                let b = c.next()??.parse().ok()?;
                let lock = c.next().flatten().unwrap_or_default();
                let held = c.next().flatten().unwrap_or_default();
                Some((w, b, lock, held))
            })
            .collect())
    }

    /// Cancels whatever session `id` is running (`pg_cancel_backend` / `KILL QUERY`).
    pub async fn cancel(&mut self, id: u64) -> Result<(), DbError> {
        let sql = self.engine.cancel_sql(id);
        self.conn.batch(&sql).await
    }

    /// Closes the monitor connection.
    pub async fn close(self) {
        self.conn.close().await;
    }
}

/// `ids` as SQL text: `1,2,3`.
fn id_list(ids: &[u64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
