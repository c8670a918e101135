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
