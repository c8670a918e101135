//! Blocking detection from a separate monitor connection: `pg_blocking_pids` on PostgreSQL,
//! `INNODB_TRX`/`PROCESSLIST` on MariaDB, `performance_schema.data_lock_waits` on MySQL 8.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::db::{Conn, DbError, Dialect};

/// Which server family the monitor talks to (they expose lock waits differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// PostgreSQL: `pg_blocking_pids(pid)`.
    Postgres,
    /// MariaDB: `information_schema.INNODB_TRX` (cached, refreshed after 0.1 s without a
    /// read) and `PROCESSLIST` (user locks, metadata locks).
    MariaDb,
    /// MySQL 8: `performance_schema.data_lock_waits` and `PROCESSLIST`.
    Mysql,
}

impl Engine {
    /// Detects the engine from `SELECT VERSION()` text.
    pub fn from_version(dialect: Dialect, version: &str) -> Engine {
        match dialect {
            Dialect::Postgres => Engine::Postgres,
            Dialect::Mysql if version.to_ascii_lowercase().contains("mariadb") => Engine::MariaDb,
            Dialect::Mysql => Engine::Mysql,
        }
    }

    /// The least time between two blocking queries: InnoDB's lock views are a cache that is
    /// only refreshed when it was not read for 0.1 s, so MariaDB is polled every 120 ms.
    pub fn poll_interval(self) -> Duration {
        match self {
            Engine::Postgres => Duration::from_millis(5),
            Engine::MariaDb => Duration::from_millis(120),
            Engine::Mysql => Duration::from_millis(20),
        }
    }
}

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
    pub async fn open(dialect: Dialect, url: &str, engine: Engine) -> Result<Monitor, DbError> {
        Ok(Monitor {
            conn: Conn::connect(dialect, url).await?,
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
        let list = ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let sql = match self.engine {
            Engine::Postgres => format!(
                "SELECT pid::text FROM unnest(ARRAY[{list}]::int[]) AS pid \
                 WHERE cardinality(pg_blocking_pids(pid)) > 0"
            ),
            Engine::MariaDb => format!(
                "SELECT CAST(trx_mysql_thread_id AS CHAR) FROM information_schema.INNODB_TRX \
                 WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN ({list}) \
                 UNION SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST \
                 WHERE ID IN ({list}) AND (STATE = 'User lock' OR STATE LIKE 'Waiting for%lock%')"
            ),
            Engine::Mysql => format!(
                "SELECT CAST(t.PROCESSLIST_ID AS CHAR) FROM performance_schema.data_lock_waits w \
                 JOIN performance_schema.threads t ON t.THREAD_ID = w.REQUESTING_THREAD_ID \
                 WHERE t.PROCESSLIST_ID IN ({list}) \
                 UNION SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST \
                 WHERE ID IN ({list}) AND (STATE = 'User lock' OR STATE LIKE 'Waiting for%lock%')"
            ),
        };
        let (_, rows) = self.conn.rows_text(&sql).await?;
        let blocked = rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .filter_map(|s| s.parse::<u64>().ok())
            .collect();
        Ok(Verdict { blocked, started })
    }

    /// Cancels whatever session `id` is running (`pg_cancel_backend` / `KILL QUERY`).
    pub async fn cancel(&mut self, id: u64) -> Result<(), DbError> {
        let sql = match self.engine {
            Engine::Postgres => format!("SELECT pg_cancel_backend({id})"),
            Engine::MariaDb | Engine::Mysql => format!("KILL QUERY {id}"),
        };
        self.conn.batch(&sql).await
    }

    /// Closes the monitor connection.
    pub async fn close(self) {
        self.conn.close().await;
    }
}
