//! MySQL 8.0+ (Oracle): the MySQL family's error numbers; lock waits from
//! `performance_schema.data_lock_waits` (8.0.1+), `@@transaction_isolation`.

use std::time::Duration;

use super::{Backend, Capabilities, Version, mysql_family as fam};
use crate::vocab::{Dialect, Outcome};

/// MySQL 8.0 and later.
pub(super) struct Mysql8;

impl Backend for Mysql8 {
    fn name(&self) -> &'static str {
        "mysql8"
    }

    fn product(&self) -> &'static str {
        "MySQL"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    /// Any MySQL-protocol server that is not MariaDB.
    fn recognizes(&self, version: &str, _answer: Option<&str>) -> bool {
        !version.to_ascii_lowercase().contains("mariadb")
    }

    fn classify_code(&self, code: &str) -> Outcome {
        fam::classify_number(code)
    }

    fn session_sql(&self, isolation: Option<&str>, lock_timeout_ms: u64) -> String {
        fam::session_sql(isolation, lock_timeout_ms)
    }

    fn lock_wait_limit(&self, lock_timeout_ms: u64) -> Duration {
        fam::lock_wait_limit(lock_timeout_ms)
    }

    fn isolation_queries(&self) -> &'static [&'static str] {
        fam::ISOLATION_QUERIES
    }

    fn settings_queries(&self) -> &'static [(&'static str, &'static [&'static str])] {
        fam::SETTINGS
    }

    fn drop_database_sql(&self, name: &str) -> Vec<String> {
        fam::drop_database_sql(name)
    }

    fn backend_id_sql(&self) -> &'static str {
        "SELECT CAST(CONNECTION_ID() AS CHAR)"
    }

    fn cancel_sql(&self, id: u64) -> String {
        format!("KILL QUERY {id}")
    }

    fn blocked_sql(&self, ids: &str) -> String {
        format!(
            "SELECT CAST(t.PROCESSLIST_ID AS CHAR) FROM performance_schema.data_lock_waits w \
             JOIN performance_schema.threads t ON t.THREAD_ID = w.REQUESTING_THREAD_ID \
             WHERE t.PROCESSLIST_ID IN ({ids}) UNION {}",
            fam::processlist_waits(ids)
        )
    }

    /// `performance_schema.data_lock_waits` joined with `data_locks` and `threads` (MySQL
    /// 8.0.1+; <https://dev.mysql.com/doc/refman/8.0/en/performance-schema-data-lock-waits-table.html>).
    /// Not run on this project's machine (no MySQL 8 here).
    fn lock_waits_sql(&self, ids: &str) -> Option<String> {
        Some(format!(
            "SELECT CAST(rt.PROCESSLIST_ID AS CHAR), CAST(bt.PROCESSLIST_ID AS CHAR), \
               CONCAT(rl.LOCK_MODE, ' ', rl.LOCK_TYPE, ' on ', rl.OBJECT_SCHEMA, '.', rl.OBJECT_NAME, \
                 IFNULL(CONCAT(' index ', rl.INDEX_NAME), ''), \
                 IFNULL(CONCAT(' record ', rl.LOCK_DATA), '')), \
               IFNULL(bl.LOCK_MODE, '') \
             FROM performance_schema.data_lock_waits w \
             JOIN performance_schema.threads rt ON rt.THREAD_ID = w.REQUESTING_THREAD_ID \
             JOIN performance_schema.threads bt ON bt.THREAD_ID = w.BLOCKING_THREAD_ID \
             JOIN performance_schema.data_locks rl ON rl.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID \
             JOIN performance_schema.data_locks bl ON bl.ENGINE_LOCK_ID = w.BLOCKING_ENGINE_LOCK_ID \
             WHERE rt.PROCESSLIST_ID IN ({ids}) ORDER BY 1, 2"
        ))
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(20)
    }

    fn settle_interval(&self) -> Duration {
        Duration::from_millis(40)
    }

    fn parse_version(&self, version: &str) -> Option<Version> {
        fam::parse_version(version)
    }

    fn capabilities(&self, v: Version) -> Capabilities {
        Capabilities {
            insert_ignore: true,
            data_lock_waits: v >= Version(8, 0, 1),
            ..Capabilities::default()
        }
    }
}
