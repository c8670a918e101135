//! What MariaDB, MySQL 8 and Galera share: error numbers
//! (<https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html>,
//! <https://mariadb.com/kb/en/mariadb-error-codes/>), session SQL, version text.

use std::time::Duration;

use super::{Version, parse_dotted};
use crate::vocab::Outcome;

/// 1062/1586/1022 unique violation, 1213 deadlock (SQLSTATE 40001, which is why the
/// number decides), 1020 serialization failure (MariaDB `innodb_snapshot_isolation`),
/// 1205 lock wait timeout, 1969 (MariaDB max_statement_time) and 3024 (MySQL
/// max_execution_time) query cancelled, 1040/1053/2006/2013 connection errors.
pub(super) fn classify_number(code: &str) -> Outcome {
    match code.parse::<u16>().unwrap_or(0) {
        1062 | 1586 | 1022 => Outcome::UniqueViolation,
        1213 => Outcome::Deadlock,
        1020 => Outcome::SerializationFailure,
        1205 => Outcome::LockTimeout,
        1969 | 3024 => Outcome::QueryCanceled,
        1040 | 1053 | 2006 | 2013 => Outcome::ConnectionError,
        _ => Outcome::Other,
    }
}

/// Isolation and InnoDB's lock wait limit (whole seconds, at least 1).
pub(super) fn session_sql(isolation: Option<&str>, lock_timeout_ms: u64) -> String {
    let mut sql = String::new();
    if let Some(level) = isolation {
        sql.push_str(&format!(
            "SET SESSION TRANSACTION ISOLATION LEVEL {level}; "
        ));
    }
    sql.push_str(&format!(
        "SET SESSION innodb_lock_wait_timeout = {}",
        lock_wait_limit(lock_timeout_ms).as_secs()
    ));
    sql
}

/// InnoDB applies `innodb_lock_wait_timeout` in whole seconds, at least 1.
pub(super) fn lock_wait_limit(lock_timeout_ms: u64) -> Duration {
    Duration::from_secs(lock_timeout_ms.div_ceil(1000).max(1))
}

/// `DROP DATABASE IF EXISTS`.
pub(super) fn drop_database_sql(name: &str) -> Vec<String> {
    vec![format!("DROP DATABASE IF EXISTS `{name}`")]
}

/// `10.11.9-MariaDB-0+deb12u1`, `8.4.3`.
pub(super) fn parse_version(version: &str) -> Option<Version> {
    parse_dotted(version)
}

/// The isolation variable is `@@transaction_isolation` on MySQL 8 and MariaDB 11.1+, and
/// only `@@tx_isolation` on MariaDB 10.11: both are tried.
pub(super) const ISOLATION_QUERIES: &[&str] = &[
    "SELECT @@session.transaction_isolation",
    "SELECT @@session.tx_isolation",
];

/// Settings recorded with every result.
pub(super) const SETTINGS: &[(&str, &[&str])] = &[
    (
        "isolation",
        &["SELECT @@transaction_isolation", "SELECT @@tx_isolation"],
    ),
    ("max_connections", &["SELECT @@max_connections"]),
    (
        "innodb_autoinc_lock_mode",
        &["SELECT @@innodb_autoinc_lock_mode"],
    ),
    (
        "innodb_lock_wait_timeout",
        &["SELECT @@innodb_lock_wait_timeout"],
    ),
    (
        "innodb_snapshot_isolation",
        &["SELECT @@innodb_snapshot_isolation"],
    ),
];

/// Sessions waiting for a user lock (`GET_LOCK`) or a metadata/table lock, as
/// `PROCESSLIST` shows them.
pub(super) fn processlist_waits(ids: &str) -> String {
    format!(
        "SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST \
         WHERE ID IN ({ids}) AND (STATE = 'User lock' OR STATE LIKE 'Waiting for%lock%')"
    )
}
