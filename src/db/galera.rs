//! What keyrace knows about MariaDB Galera (multi-primary, certification-based replication):
//! its error numbers, how to tell a Galera node, and how to wait until every node has
//! applied what node 1 did (databases, tables, setup rows) before workers start.
//!
//! Galera checks a transaction against the write sets other nodes committed meanwhile only
//! at COMMIT ("certification"); the loser is rolled back with error 1213 / SQLSTATE 40001
//! ("Deadlock found when trying to get lock"), the same number InnoDB uses for a lock
//! deadlock, so it is classified as [`Outcome::Deadlock`] and the error number is kept.
//! A local transaction that holds locks a replicated write set needs is aborted ("brute
//! force abort") and its next statement fails with 1213 too. Measured on MariaDB 10.11 with
//! galera-4 26.4 (see docs/servers.md). Sources:
//! <https://mariadb.com/kb/en/mariadb-galera-cluster-known-limitations/>,
//! <https://galeracluster.com/library/documentation/certification.html>,
//! <https://mariadb.com/kb/en/wsrep_sync_wait/>.

use std::time::{Duration, Instant};

use super::{Conn, DbError, Dialect, Outcome, database_url};

/// Error number of a certification conflict or brute-force abort: ER_LOCK_DEADLOCK.
pub const CERTIFICATION_CONFLICT: u16 = 1213;

/// Error number of a node that is not part of a primary component (or still joining):
/// ER_UNKNOWN_COM_ERROR, "WSREP has not yet prepared node for application use".
pub const NODE_NOT_READY: u16 = 1047;

/// Error number of a commit that failed in replication (e.g. a write set larger than
/// `wsrep_max_ws_size`, or the node lost the primary component during COMMIT):
/// ER_ERROR_DURING_COMMIT, "Got error N during COMMIT".
pub const COMMIT_FAILED: u16 = 1180;

/// Maps a MariaDB error number met on a Galera node to its outcome class.
///
/// 1213 (certification conflict or brute-force abort) → deadlock, as on InnoDB; 1047 (node
/// not ready: non-primary, joining, desynced) → connection error (the node cannot serve the
/// session; reconnecting elsewhere is the remedy); 1180 (commit failed in replication) →
/// other, keeping its number; everything else as on a single MariaDB server. The table
/// itself is the Galera backend's (`db::backend::galera`).
pub fn classify_galera_number(number: u16) -> Outcome {
    super::Engine::by_name("galera")
        .unwrap_or_else(|| super::Engine::default_for(Dialect::Mysql))
        .classify_code(&number.to_string())
}

/// The cluster size a MariaDB server reports (`wsrep_cluster_size`), or `None` when it is
/// no Galera node (`@@wsrep_on` unknown or OFF).
pub async fn cluster_size(conn: &mut Conn) -> Option<u32> {
    let on = conn.scalar_text("SELECT @@wsrep_on").await.ok().flatten()?;
    if on != "1" && !on.eq_ignore_ascii_case("ON") {
        return None;
    }
    conn.scalar_text(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
         WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'",
    )
    .await
    .ok()
    .flatten()?
    .parse()
    .ok()
}

/// How long [`wait_replicated`] waits for a node to see a database.
pub const REPLICATION_WAIT: Duration = Duration::from_secs(30);

/// Waits until every node after the first (`nodes` are admin URLs, node 1 first) has applied
/// everything committed cluster-wide so far and sees database `db`: on each node a causal
/// read (`wsrep_sync_wait = 15`, the node first applies every write set committed before
/// the read) of `information_schema.SCHEMATA`, repeated every 50 ms until the database is
/// there or [`REPLICATION_WAIT`] passes.
///
/// Galera replicates DDL in total order (TOI) but applies it on the other nodes
/// asynchronously: a worker connecting to node 2 right after `CREATE DATABASE` on node 1
/// may otherwise get "Unknown database". Call it after creating the database and again
/// after the schema and setup.
///
/// Errors: the node's connection error, or [`Outcome::Timeout`] naming the node and `db`.
pub async fn wait_replicated(nodes: &[String], db: &str) -> Result<(), DbError> {
    let start = Instant::now();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let mut c = Conn::connect(Dialect::Mysql, node).await?;
        c.batch("SET SESSION wsrep_sync_wait = 15").await?;
        let q = format!(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{}'",
            db.replace('\'', "''")
        );
        loop {
            if c.scalar_text(&q).await?.as_deref() == Some("1") {
                break;
            }
            if start.elapsed() >= REPLICATION_WAIT {
                c.close().await;
                return Err(DbError {
                    class: Outcome::Timeout,
                    code: "timeout".into(),
                    message: format!(
                        "galera node {} did not see database {db} within {} s",
                        i + 1,
                        REPLICATION_WAIT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c.close().await;
    }
    Ok(())
}

/// The URL of database `db` on node `i` (0-based, wrapping around) of a target whose node
/// admin URLs are `nodes` (node 1 first); `admin` when there are none (a single server).
pub fn node_database_url(admin: &str, nodes: &[String], i: usize, db: &str) -> String {
    let base = if nodes.is_empty() {
        admin
    } else {
        &nodes[i % nodes.len()]
    };
    database_url(base, db)
}

/// The database name of a `scheme://authority/database?query` URL (empty when none).
pub fn url_database(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    path.split('?').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certification_conflict_is_a_deadlock_and_not_ready_a_connection_error() {
        assert_eq!(classify_galera_number(1213), Outcome::Deadlock);
        assert_eq!(classify_galera_number(1047), Outcome::ConnectionError);
        assert_eq!(classify_galera_number(1180), Outcome::Other);
        assert_eq!(classify_galera_number(1062), Outcome::UniqueViolation);
        assert_eq!(classify_galera_number(1205), Outcome::LockTimeout);
    }

    #[test]
    fn workers_go_round_robin() {
        let nodes: Vec<String> = (1..=3)
            .map(|p| format!("mysql://root@127.0.0.1:{p}/mysql"))
            .collect();
        let u = |i| node_database_url("mysql://root@h:9/mysql", &nodes, i, "d");
        assert_eq!(u(0), "mysql://root@127.0.0.1:1/d");
        assert_eq!(u(4), "mysql://root@127.0.0.1:2/d");
        assert_eq!(
            node_database_url("mysql://root@h:9/mysql", &[], 5, "d"),
            "mysql://root@h:9/d"
        );
        assert_eq!(url_database("mysql://root@h:9/d?ssl-mode=disabled"), "d");
        assert_eq!(url_database("mysql://root@h:9"), "");
    }
}
