//! Outcome classes: what one operation (or one attempt of it) ended in, and a classified
//! database error. Classification itself is each engine's (see `db::backend`).

use serde::{Deserialize, Serialize};

/// What one operation (or one attempt of it) ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The operation inserted the row for its key.
    Inserted,
    /// The row already existed and the operation left it as it was (a no-op).
    Existed,
    /// The row existed and the operation changed it (upsert update, counter increment, REPLACE).
    Updated,
    /// PostgreSQL 23505; MySQL/MariaDB 1062, 1586, 1022.
    UniqueViolation,
    /// PostgreSQL 40P01; MySQL/MariaDB 1213.
    Deadlock,
    /// PostgreSQL 40001; MariaDB 1020 (`innodb_snapshot_isolation`).
    SerializationFailure,
    /// A lock wait that hit the server's limit: PostgreSQL 55P03 (`lock_timeout`);
    /// MySQL/MariaDB 1205 (`innodb_lock_wait_timeout`).
    LockTimeout,
    /// A statement the server cancelled: PostgreSQL 57014 (`statement_timeout` or a cancel
    /// request); MariaDB 1969 (`max_statement_time`); MySQL 3024 (`max_execution_time`).
    QueryCanceled,
    /// The connection failed, closed or could not be opened in time (no server error code).
    ConnectionError,
    /// A statement got no answer within keyrace's per-statement deadline (or was still
    /// running when the run had to end); it was cancelled from a side connection.
    Timeout,
    /// Any other error; its code is kept in [`DbError::code`].
    Other,
}

impl Outcome {
    /// How many classes there are (the length of per-class arrays).
    pub const COUNT: usize = 11;

    /// Every class, in report order.
    pub const ALL: [Outcome; Outcome::COUNT] = [
        Outcome::Inserted,
        Outcome::Existed,
        Outcome::Updated,
        Outcome::UniqueViolation,
        Outcome::Deadlock,
        Outcome::SerializationFailure,
        Outcome::LockTimeout,
        Outcome::QueryCanceled,
        Outcome::ConnectionError,
        Outcome::Timeout,
        Outcome::Other,
    ];

    /// The snake_case name used in JSON and expectations (`unique_violation`, `lock_timeout` ...).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Inserted => "inserted",
            Outcome::Existed => "existed",
            Outcome::Updated => "updated",
            Outcome::UniqueViolation => "unique_violation",
            Outcome::Deadlock => "deadlock",
            Outcome::SerializationFailure => "serialization_failure",
            Outcome::LockTimeout => "lock_timeout",
            Outcome::QueryCanceled => "query_canceled",
            Outcome::ConnectionError => "connection_error",
            Outcome::Timeout => "timeout",
            Outcome::Other => "other",
        }
    }

    /// Parses a snake_case name (also accepts dashes).
    pub fn parse(s: &str) -> Option<Outcome> {
        let s = s.replace('-', "_");
        Outcome::ALL.into_iter().find(|o| o.name() == s)
    }

    /// True for the classes a race produces and a strategy is expected to meet (unique
    /// violation, deadlock, serialization failure, lock timeout): an error of another class
    /// on every operation means the scenario or the server is broken, not the strategy.
    pub fn is_race(self) -> bool {
        matches!(
            self,
            Outcome::UniqueViolation
                | Outcome::Deadlock
                | Outcome::SerializationFailure
                | Outcome::LockTimeout
        )
    }

    /// True for the error classes (everything but inserted, existed, updated).
    pub fn is_error(self) -> bool {
        !matches!(
            self,
            Outcome::Inserted | Outcome::Existed | Outcome::Updated
        )
    }

    /// Dense index into `[_; Outcome::COUNT]` arrays, in [`Outcome::ALL`] order.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A classified database error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class_name} ({code}): {message}", class_name = .class.name())]
pub struct DbError {
    /// The outcome class.
    pub class: Outcome,
    /// SQLSTATE on PostgreSQL (e.g. `23505`), the error number on MySQL/MariaDB (e.g. `1062`),
    /// or a short tag for client-side errors (`io`, `protocol`, ...).
    pub code: String,
    /// The server's message (for display only; never used to classify).
    pub message: String,
}
