//! PostgreSQL 13–18: errors by SQLSTATE
//! (<https://www.postgresql.org/docs/current/errcodes-appendix.html>), blocking seen with
//! `pg_blocking_pids`, `DROP DATABASE … WITH (FORCE)` (13+), MERGE from 15 and
//! `MERGE … RETURNING merge_action()` from 17.

use std::time::Duration;

use super::{Backend, Capabilities, Version, parse_dotted};
use crate::vocab::{Dialect, Outcome};

/// PostgreSQL.
pub(super) struct Postgres;

impl Backend for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn product(&self) -> &'static str {
        "PostgreSQL"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn recognizes(&self, _version: &str, _answer: Option<&str>) -> bool {
        true
    }

    /// 23505 unique violation, 40P01 deadlock, 40001 serialization failure, 55P03
    /// lock_timeout, 57014 query_canceled (statement_timeout or a cancel request), class 08
    /// and 57P01–57P03 (server shutting down) connection errors.
    fn classify_code(&self, code: &str) -> Outcome {
        match code {
            "23505" => Outcome::UniqueViolation,
            "40P01" => Outcome::Deadlock,
            "40001" => Outcome::SerializationFailure,
            "55P03" => Outcome::LockTimeout,
            "57014" => Outcome::QueryCanceled,
            c if c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03" => {
                Outcome::ConnectionError
            }
            _ => Outcome::Other,
        }
    }

    /// Also asks the server for TCP keepalives, so a session of a killed keyrace does not
    /// linger.
    fn session_sql(&self, isolation: Option<&str>, lock_timeout_ms: u64) -> String {
        let mut sql = String::new();
        if let Some(level) = isolation {
            sql.push_str(&format!(
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level}; "
            ));
        }
        sql.push_str("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; ");
        sql.push_str(&format!("SET lock_timeout = {lock_timeout_ms}"));
        sql
    }

    fn lock_wait_limit(&self, lock_timeout_ms: u64) -> Duration {
        Duration::from_millis(lock_timeout_ms)
    }

    fn isolation_queries(&self) -> &'static [&'static str] {
        &["SHOW transaction_isolation"]
    }

    fn settings_queries(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("isolation", &["SHOW default_transaction_isolation"]),
            ("max_connections", &["SHOW max_connections"]),
            ("deadlock_timeout", &["SHOW deadlock_timeout"]),
            ("server_version_num", &["SHOW server_version_num"]),
        ]
    }

    fn drop_database_sql(&self, name: &str) -> Vec<String> {
        let q = self.dialect().quote_ident(name);
        vec![
            format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"),
            format!("DROP DATABASE IF EXISTS {q}"),
        ]
    }

    fn sessions_in_database_sql(&self, name: &str) -> Option<String> {
        Some(format!(
            "SELECT count(*)::text FROM pg_stat_activity WHERE datname = '{}'",
            name.replace('\'', "''")
        ))
    }

    fn backend_id_sql(&self) -> &'static str {
        "SELECT pg_backend_pid()::text"
    }

    fn interleave_session_sql(&self) -> Option<&'static str> {
        Some("SET deadlock_timeout = '100ms'")
    }

    /// `ROLLBACK`, then what `DISCARD ALL` does, statement by statement as its manual page
    /// lists them (<https://www.postgresql.org/docs/current/sql-discard.html>: cursors,
    /// session authorization, `SET`s, prepared statements, `LISTEN` registrations, advisory
    /// locks, cached plans, temporary tables, sequence state).
    /// `DISCARD ALL` itself refuses to run in the implicit transaction of a multi-statement
    /// query; its parts do not, so the whole reset is one simple-query message.
    fn interleave_reset_sql(&self) -> Option<&'static str> {
        Some(
            "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
             DEALLOCATE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD PLANS; \
             DISCARD TEMP; DISCARD SEQUENCES",
        )
    }

    fn cancel_sql(&self, id: u64) -> String {
        format!("SELECT pg_cancel_backend({id})::text")
    }

    fn blocked_sql(&self, ids: &str) -> String {
        format!(
            "SELECT pid::text FROM unnest(ARRAY[{ids}]::int[]) AS pid \
             WHERE cardinality(pg_blocking_pids(pid)) > 0"
        )
    }

    fn blocked_prepared_sql(&self) -> Option<&'static str> {
        Some(
            "SELECT pid::text FROM unnest($1::int4[]) AS pid \
             WHERE cardinality(pg_blocking_pids(pid)) > 0",
        )
    }

    fn lock_waits_prepared_sql(&self) -> Option<&'static str> {
        Some(LOCK_WAITS_BY_ID_ARRAY)
    }

    /// `pg_locks` of the waiting session (not granted) joined with `pg_blocking_pids()`, and
    /// the modes the blocker holds on the same object
    /// (<https://www.postgresql.org/docs/current/view-pg-locks.html>).
    fn lock_waits_sql(&self, ids: &str) -> Option<String> {
        Some(LOCK_WAITS_BY_ID_ARRAY.replace("$1::int4[]", &format!("ARRAY[{ids}]::int4[]")))
    }

    /// As the isolation tester, which asks every 10 ms whether a running step is blocked:
    /// a step that is slow without waiting for a lock (a commit's WAL flush) costs a
    /// blocking query per 10 ms, and on a busy server each one competes with the steps.
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(10)
    }

    /// None: `pg_blocking_pids` is current. The locks a completed step released were granted
    /// to their waiters before its result came back (the releasing backend wakes them), so
    /// a check right after a completion is not stale: a woken step is seen not blocked, and
    /// one still blocked is blocked by something else.
    fn settle_interval(&self) -> Duration {
        Duration::ZERO
    }

    /// `PostgreSQL 15.8 (Debian …) on …`, also `17beta1`.
    fn parse_version(&self, version: &str) -> Option<Version> {
        let v = version.split_whitespace().nth(1).unwrap_or(version);
        parse_dotted(v)
    }

    fn capabilities(&self, v: Version) -> Capabilities {
        Capabilities {
            merge: v >= Version(15, 0, 0),
            merge_returning: v >= Version(17, 0, 0),
            on_conflict: v >= Version(9, 5, 0),
            ..Capabilities::default()
        }
    }
}

/// Who blocks the sessions `$1` (an `int4[]` of backend pids) and on what: one row per
/// (waiting pid, blocking pid) with the lock waited for and the modes the blocker holds on
/// the same object, all as text.
const LOCK_WAITS_BY_ID_ARRAY: &str = "SELECT w.pid::text, b.pid::text, \
               w.mode || ' on ' || CASE w.locktype \
                 WHEN 'relation' THEN 'relation ' || w.relation::regclass::text \
                 WHEN 'transactionid' THEN 'transaction ' || w.transactionid::text \
                 WHEN 'tuple' THEN 'tuple (' || w.page || ',' || w.tuple || ') of ' || w.relation::regclass::text \
                 WHEN 'advisory' THEN 'advisory lock ' || (w.classid::bigint << 32 | w.objid::bigint)::text \
                 ELSE w.locktype END, \
               coalesce((SELECT string_agg(DISTINCT h.mode, ',') FROM pg_locks h \
                 WHERE h.pid = b.pid AND h.granted AND h.locktype = w.locktype \
                   AND h.database IS NOT DISTINCT FROM w.database \
                   AND h.relation IS NOT DISTINCT FROM w.relation \
                   AND h.page IS NOT DISTINCT FROM w.page AND h.tuple IS NOT DISTINCT FROM w.tuple \
                   AND h.transactionid IS NOT DISTINCT FROM w.transactionid \
                   AND h.classid IS NOT DISTINCT FROM w.classid AND h.objid IS NOT DISTINCT FROM w.objid \
                   AND h.objsubid IS NOT DISTINCT FROM w.objsubid), '') \
             FROM pg_locks w CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid) \
             WHERE NOT w.granted AND w.pid = ANY($1::int4[]) ORDER BY 1, 2";
