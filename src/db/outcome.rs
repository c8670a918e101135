//! Outcome classes and the classification of database errors by SQLSTATE / error number.
//!
//! PostgreSQL errors are classified by SQLSTATE
//! (<https://www.postgresql.org/docs/current/errcodes-appendix.html>); MySQL/MariaDB errors
//! by engine error number (<https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html>,
//! <https://mariadb.com/kb/en/mariadb-error-codes/>), because MySQL's deadlock (1213) carries
//! SQLSTATE 40001, which on PostgreSQL means serialization failure. Never by message text.

use serde::{Deserialize, Serialize};

use super::Dialect;

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
    /// PostgreSQL 55P03 (lock_timeout) and 57014 (statement cancelled);
    /// MySQL/MariaDB 1205, 1969 (MariaDB max_statement_time), 3024 (MySQL max_execution_time).
    LockTimeout,
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
    pub const COUNT: usize = 10;

    /// Every class, in report order.
    pub const ALL: [Outcome; Outcome::COUNT] = [
        Outcome::Inserted,
        Outcome::Existed,
        Outcome::Updated,
        Outcome::UniqueViolation,
        Outcome::Deadlock,
        Outcome::SerializationFailure,
        Outcome::LockTimeout,
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

/// Classifies a sqlx error for the given dialect.
///
/// PostgreSQL: SQLSTATE 23505 → unique violation, 40P01 → deadlock, 40001 → serialization
/// failure, 55P03/57014 → lock timeout. MySQL/MariaDB: error 1062/1586/1022 → unique violation,
/// 1213 → deadlock, 1020 → serialization failure, 1205/1969/3024 → lock timeout. I/O, TLS,
/// protocol, pool and closed-connection errors → connection error. Everything else → other,
/// keeping the code.
pub fn classify(dialect: Dialect, err: &sqlx::Error) -> DbError {
    use sqlx::Error as E;
    match err {
        E::Database(db) => {
            let (class, code) = match dialect {
                Dialect::Postgres => {
                    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                    (classify_sqlstate(&code), code)
                }
                Dialect::Mysql => match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                    Some(my) => (classify_mysql_number(my.number()), my.number().to_string()),
                    None => (
                        Outcome::Other,
                        db.code().map(|c| c.into_owned()).unwrap_or_default(),
                    ),
                },
            };
            DbError {
                class,
                code,
                message: db.message().to_string(),
            }
        }
        E::Io(e) => conn_error("io", e.to_string()),
        E::Tls(e) => conn_error("tls", e.to_string()),
        E::Protocol(e) => conn_error("protocol", e.clone()),
        E::PoolTimedOut => conn_error("pool_timed_out", err.to_string()),
        E::PoolClosed => conn_error("pool_closed", err.to_string()),
        E::WorkerCrashed => conn_error("worker_crashed", err.to_string()),
        other => DbError {
            class: Outcome::Other,
            code: "client".into(),
            message: other.to_string(),
        },
    }
}

fn conn_error(code: &str, message: String) -> DbError {
    DbError {
        class: Outcome::ConnectionError,
        code: code.into(),
        message,
    }
}

/// Maps a PostgreSQL SQLSTATE to its outcome class.
pub fn classify_sqlstate(code: &str) -> Outcome {
    match code {
        "23505" => Outcome::UniqueViolation,
        "40P01" => Outcome::Deadlock,
        "40001" => Outcome::SerializationFailure,
        "55P03" | "57014" => Outcome::LockTimeout,
        c if c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03" => {
            Outcome::ConnectionError
        }
        _ => Outcome::Other,
    }
}

/// Maps a MySQL/MariaDB error number to its outcome class.
pub fn classify_mysql_number(number: u16) -> Outcome {
    match number {
        1062 | 1586 | 1022 => Outcome::UniqueViolation,
        1213 => Outcome::Deadlock,
        1020 => Outcome::SerializationFailure,
        1205 | 1969 | 3024 => Outcome::LockTimeout,
        1040 | 1053 | 2006 | 2013 => Outcome::ConnectionError,
        _ => Outcome::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_deadlock_is_not_serialization_failure() {
        assert_eq!(classify_mysql_number(1213), Outcome::Deadlock);
        assert_eq!(classify_sqlstate("40001"), Outcome::SerializationFailure);
        assert_eq!(classify_sqlstate("40P01"), Outcome::Deadlock);
    }

    #[test]
    fn names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.name()), Some(o));
            assert_eq!(Outcome::ALL[o.index()], o);
        }
    }
}
