//! What a server is: version string and the settings that change race outcomes.

use std::collections::BTreeMap;

use super::{Conn, DbError};

/// Reads the server's version (`SELECT version()`).
pub async fn version(conn: &mut Conn) -> Result<String, DbError> {
    Ok(conn
        .scalar_text("SELECT version()")
        .await?
        .unwrap_or_default())
}

/// Reads the settings recorded with every result (the engine's
/// [`super::Backend::settings_queries`]: default isolation level, `max_connections`, and on
/// the MySQL family `innodb_autoinc_lock_mode`, `innodb_snapshot_isolation` …); a setting
/// none of whose queries answers is left out.
pub async fn settings(conn: &mut Conn) -> BTreeMap<String, String> {
    let queries = conn.engine().settings_queries();
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
    for q in conn.engine().isolation_queries() {
        if let Ok(Some(v)) = conn.scalar_text(q).await {
            return Some(v.to_ascii_lowercase().replace(['-', ' '], "-"));
        }
    }
    None
}
