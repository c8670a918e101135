//! MariaDB Galera cluster (multi-primary, certification-based replication): MariaDB's SQL
//! and error numbers, plus the conflicts of a cluster. Two sessions on different nodes both
//! write the same new key without waiting; the first COMMIT wins and the other transaction
//! fails certification with 1213 / SQLSTATE 40001 "Deadlock found…" (classified as a
//! deadlock, code 1213), at COMMIT or as a brute-force abort of the losing local
//! transaction. A node not ready for queries answers 1047 (WSREP has not yet prepared node
//! for application use): a connection error.
//! Source: <https://mariadb.com/kb/en/mariadb-galera-cluster-known-limitations/>.

use std::time::Duration;

use super::mariadb::MariaDb;
use super::{Backend, Capabilities, Version};
use crate::vocab::{Dialect, Outcome};

/// A MariaDB server with `wsrep_on = ON`.
pub(super) struct Galera;

impl Backend for Galera {
    fn name(&self) -> &'static str {
        "galera"
    }

    fn product(&self) -> &'static str {
        "MariaDB Galera"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn identify_sql(&self) -> Option<&'static str> {
        Some("SELECT CAST(@@wsrep_on AS CHAR)")
    }

    fn recognizes(&self, version: &str, answer: Option<&str>) -> bool {
        MariaDb.recognizes(version, None)
            && matches!(answer.map(str::trim), Some("1" | "ON" | "on"))
    }

    fn classify_code(&self, code: &str) -> Outcome {
        match code {
            "1047" => Outcome::ConnectionError,
            _ => MariaDb.classify_code(code),
        }
    }

    fn session_sql(&self, isolation: Option<&str>, lock_timeout_ms: u64) -> String {
        MariaDb.session_sql(isolation, lock_timeout_ms)
    }

    fn lock_wait_limit(&self, lock_timeout_ms: u64) -> Duration {
        MariaDb.lock_wait_limit(lock_timeout_ms)
    }

    fn isolation_queries(&self) -> &'static [&'static str] {
        MariaDb.isolation_queries()
    }

    fn settings_queries(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("isolation", &["SELECT @@tx_isolation"]),
            ("max_connections", &["SELECT @@max_connections"]),
            (
                "innodb_autoinc_lock_mode",
                &["SELECT @@innodb_autoinc_lock_mode"],
            ),
            (
                "wsrep_cluster_size",
                &[
                    "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'",
                ],
            ),
            ("wsrep_sync_wait", &["SELECT @@wsrep_sync_wait"]),
        ]
    }

    fn drop_database_sql(&self, name: &str) -> Vec<String> {
        MariaDb.drop_database_sql(name)
    }

    fn backend_id_sql(&self) -> &'static str {
        MariaDb.backend_id_sql()
    }

    fn cancel_sql(&self, id: u64) -> String {
        MariaDb.cancel_sql(id)
    }

    /// Lock waits on the node the monitor is connected to (a conflict with another node
    /// never waits: it fails certification).
    fn blocked_sql(&self, ids: &str) -> String {
        MariaDb.blocked_sql(ids)
    }

    fn lock_waits_sql(&self, ids: &str) -> Option<String> {
        MariaDb.lock_waits_sql(ids)
    }

    fn poll_interval(&self) -> Duration {
        MariaDb.poll_interval()
    }

    fn settle_interval(&self) -> Duration {
        MariaDb.settle_interval()
    }

    fn parse_version(&self, version: &str) -> Option<Version> {
        MariaDb.parse_version(version)
    }

    fn capabilities(&self, v: Version) -> Capabilities {
        Capabilities {
            certification: true,
            ..MariaDb.capabilities(v)
        }
    }
}
