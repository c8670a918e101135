//! MariaDB (10.x, 11.x): the MySQL family's error numbers; lock waits from
//! `information_schema.INNODB_TRX`, a cache InnoDB refreshes only after 0.1 s without a
//! read, hence the 120 ms poll interval.

use std::time::Duration;

use super::{Backend, Capabilities, Version, mysql_family as fam};
use crate::vocab::{Dialect, Outcome};

/// MariaDB without Galera replication.
pub(super) struct MariaDb;

impl Backend for MariaDb {
    fn name(&self) -> &'static str {
        "mariadb"
    }

    fn product(&self) -> &'static str {
        "MariaDB"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn recognizes(&self, version: &str, _answer: Option<&str>) -> bool {
        version.to_ascii_lowercase().contains("mariadb")
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
            "SELECT CAST(trx_mysql_thread_id AS CHAR) FROM information_schema.INNODB_TRX \
             WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN ({ids}) UNION {}",
            fam::processlist_waits(ids)
        )
    }

    /// `INNODB_LOCK_WAITS` joined with `INNODB_LOCKS` (mode such as `X,GAP`, index, record)
    /// and `INNODB_TRX` for the session ids (<https://mariadb.com/kb/en/information-schema-innodb_lock_waits-table/>).
    /// The lock modes are cast: MariaDB 10.11 cuts `IFNULL(bl.lock_mode, '')` (and
    /// `COALESCE`, `CONCAT`) to two characters (`X,` for `X,GAP`) in this join with
    /// `ORDER BY`, where `CAST(… AS CHAR(32))` keeps the whole mode.
    fn lock_waits_sql(&self, ids: &str) -> Option<String> {
        Some(format!(
            "SELECT CAST(r.trx_mysql_thread_id AS CHAR), CAST(b.trx_mysql_thread_id AS CHAR), \
               CONCAT(CAST(rl.lock_mode AS CHAR(32)), ' ', rl.lock_type, ' on ', rl.lock_table, \
                 IFNULL(CONCAT(' index ', rl.lock_index), ''), \
                 IFNULL(CONCAT(' record ', rl.lock_data), '')), \
               IFNULL(CAST(bl.lock_mode AS CHAR(32)), '') \
             FROM information_schema.INNODB_LOCK_WAITS w \
             JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
             JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
             JOIN information_schema.INNODB_LOCKS rl ON rl.lock_id = w.requested_lock_id \
             JOIN information_schema.INNODB_LOCKS bl ON bl.lock_id = w.blocking_lock_id \
             WHERE r.trx_mysql_thread_id IN ({ids}) ORDER BY 1, 2"
        ))
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(120)
    }

    fn settle_interval(&self) -> Duration {
        Duration::from_millis(120)
    }

    fn parse_version(&self, version: &str) -> Option<Version> {
        fam::parse_version(version)
    }

    fn capabilities(&self, _v: Version) -> Capabilities {
        Capabilities {
            insert_ignore: true,
            ..Capabilities::default()
        }
    }
}
