//! What a server is: version string and the settings that change race outcomes.

use std::collections::BTreeMap;

use super::{Conn, DbError, Dialect};

/// Reads the server's version (`SELECT version()`).
pub async fn version(conn: &mut Conn) -> Result<String, DbError> {
    Ok(conn
        .scalar_text("SELECT version()")
        .await?
        .unwrap_or_default())
}

/// Reads the settings recorded with every result: the default isolation level,
/// `max_connections`, and on MySQL/MariaDB `innodb_autoinc_lock_mode` and
/// `innodb_snapshot_isolation` (MariaDB 10.6.18+/11.x; absent on MySQL).
///
/// The isolation variable is `@@transaction_isolation` on MySQL 8 and MariaDB 11.1+, and
/// only `@@tx_isolation` on MariaDB 10.11; both are tried.
pub async fn settings(conn: &mut Conn) -> BTreeMap<String, String> {
    let queries: &[(&str, &[&str])] = match conn.dialect() {
        Dialect::Postgres => &[
            ("isolation", &["SHOW default_transaction_isolation"]),
            ("max_connections", &["SHOW max_connections"]),
            ("deadlock_timeout", &["SHOW deadlock_timeout"]),
            ("server_version_num", &["SHOW server_version_num"]),
        ],
        Dialect::Mysql => &[
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
        ],
    };
    let mut out = BTreeMap::new();
    for (name, candidates) in queries {
        for q in *candidates {
            if let Ok(Some(v)) = conn.scalar_text(q).await {
                out.insert(name.to_string(), v);
                break;
            }
        }
    }
    out
}

/// The isolation level the session's transactions run at, read back from the server.
pub async fn session_isolation(conn: &mut Conn) -> Option<String> {
    let candidates: &[&str] = match conn.dialect() {
        Dialect::Postgres => &["SHOW transaction_isolation"],
        Dialect::Mysql => &[
            "SELECT @@session.transaction_isolation",
            "SELECT @@session.tx_isolation",
        ],
    };
    for q in candidates {
        if let Ok(Some(v)) = conn.scalar_text(q).await {
            return Some(v.to_ascii_lowercase().replace(['-', ' '], "-"));
        }
    }
    None
}
