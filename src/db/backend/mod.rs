//! One backend per engine behind one trait: what keyrace knows about a server kind lives in
//! that engine's file (error classification, session and isolation SQL, create/drop of its
//! own database, blocking detection and its poll cadence, placeholders, version parsing and
//! capabilities by version). The stress runner, the interleaving runner and provisioning ask
//! the [`Engine`] handle; they never match on the server kind themselves.
//!
//! Adding an engine is a new file here plus one line in [`BACKENDS`].

mod galera;
mod mariadb;
mod mysql8;
mod mysql_family;
mod postgres;

use std::time::Duration;

use crate::vocab::{DbError, Dialect, Feature, Outcome};

/// Every engine keyrace knows, most specific first: detection takes the first that
/// recognises a server (Galera before plain MariaDB, MariaDB before MySQL).
pub static BACKENDS: &[&dyn Backend] = &[
    &postgres::Postgres,
    &galera::Galera,
    &mariadb::MariaDb,
    &mysql8::Mysql8,
];

/// A server version: major, minor, patch (`15.8` → `(15, 8, 0)`, `10.11.9` → `(10, 11, 9)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

/// What an engine version supports, as far as the built-in strategies care.
///
/// Sources: PostgreSQL release notes (MERGE in 15, `RETURNING merge_action()` in 17, ON
/// CONFLICT in 9.5); MySQL 8.0 reference manual (`performance_schema.data_lock_waits`, 8.0.1);
/// MariaDB knowledge base (`INSERT IGNORE`, `ON DUPLICATE KEY UPDATE`, `REPLACE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `MERGE INTO … WHEN MATCHED … WHEN NOT MATCHED …` (PostgreSQL 15+).
    pub merge: bool,
    /// `MERGE … RETURNING merge_action()` (PostgreSQL 17+).
    pub merge_returning: bool,
    /// `INSERT … ON CONFLICT` (PostgreSQL 9.5+).
    pub on_conflict: bool,
    /// `INSERT IGNORE`, `ON DUPLICATE KEY UPDATE`, `REPLACE` (MySQL family).
    pub insert_ignore: bool,
    /// `performance_schema.data_lock_waits` (MySQL 8.0.1+; not MariaDB).
    pub data_lock_waits: bool,
    /// Conflicts between nodes surface at COMMIT as certification failures (Galera).
    pub certification: bool,
}

impl Capabilities {
    /// True when `feature` is available.
    pub fn has(&self, feature: Feature) -> bool {
        match feature {
            Feature::Merge => self.merge,
            Feature::MergeReturning => self.merge_returning,
            Feature::OnConflict => self.on_conflict,
            Feature::InsertIgnore => self.insert_ignore,
        }
    }
}

/// What one engine knows. Implementations are unit structs registered in [`BACKENDS`].
pub trait Backend: Send + Sync + 'static {
    /// The engine's name in scenario files, JSON and `--help`: `postgres`, `mariadb`,
    /// `mysql8`, `galera`.
    fn name(&self) -> &'static str;

    /// How reports name the product (`PostgreSQL`, `MariaDB`, `MySQL`, `MariaDB Galera`).
    fn product(&self) -> &'static str;

    /// The SQL family it speaks (the wire protocol and the scenario key that applies when
    /// a scenario has no SQL under [`Backend::name`]).
    fn dialect(&self) -> Dialect;

    /// A query whose answer helps recognise the engine (e.g. `SELECT @@wsrep_on`); its
    /// text (or `None` when it failed) is passed to [`Backend::recognizes`].
    fn identify_sql(&self) -> Option<&'static str> {
        None
    }

    /// True when the server that answered `SELECT version()` with `version` (and
    /// [`Backend::identify_sql`] with `answer`) is this engine.
    fn recognizes(&self, version: &str, answer: Option<&str>) -> bool;

    /// The outcome class of a server error code: SQLSTATE on PostgreSQL, the error number
    /// (as text) on the MySQL family. Never by message text.
    fn classify_code(&self, code: &str) -> Outcome;

    /// Classifies a driver error: server errors by [`Backend::classify_code`], I/O, TLS,
    /// protocol and pool errors as connection errors, anything else as `other`.
    fn classify(&self, err: &sqlx::Error) -> DbError {
        classify_with(self, err)
    }

    /// The SQL that puts a fresh session at `isolation` (`None`: the server's default) with
    /// lock waits limited to `lock_timeout_ms` (rounded as the engine applies it).
    fn session_sql(&self, isolation: Option<&str>, lock_timeout_ms: u64) -> String;

    /// The lock wait limit the engine applies for `lock_timeout_ms` (InnoDB: whole seconds,
    /// at least 1).
    fn lock_wait_limit(&self, lock_timeout_ms: u64) -> Duration;

    /// Queries the session's current isolation level; the first that answers wins.
    fn isolation_queries(&self) -> &'static [&'static str];

    /// Settings recorded with every result, each a name and the queries that read it (the
    /// first that answers wins).
    fn settings_queries(&self) -> &'static [(&'static str, &'static [&'static str])];

    /// Statements that create database `name` (an already quoted-safe plain identifier),
    /// dropping a leftover of the same name first.
    fn create_database_sql(&self, name: &str) -> Vec<String> {
        let q = self.dialect().quote_ident(name);
        vec![
            format!("DROP DATABASE IF EXISTS {q}"),
            format!("CREATE DATABASE {q}"),
        ]
    }

    /// Statements that drop database `name`, alternatives in order: the first that succeeds
    /// is enough (PostgreSQL 13+ `WITH (FORCE)`, then plain).
    fn drop_database_sql(&self, name: &str) -> Vec<String>;

    /// A query counting (as text) the sessions still connected to database `name`, where a
    /// `DROP DATABASE` waits for them, `None` where it does not. PostgreSQL's waits in steps
    /// of 100 ms (`CountOtherDBBackends`) for a backend still exiting after its client
    /// closed the connection; asking first saves that.
    fn sessions_in_database_sql(&self, _name: &str) -> Option<String> {
        None
    }

    /// The query that returns the session's id as text (`pg_backend_pid()`,
    /// `CONNECTION_ID()`).
    fn backend_id_sql(&self) -> &'static str;

    /// Session settings for interleaving sessions, run once after connecting (PostgreSQL:
    /// `deadlock_timeout = '100ms'`, so deadlocks are found quickly and deterministically).
    fn interleave_session_sql(&self) -> Option<&'static str> {
        None
    }

    /// One query text, sent as one message (one round trip), that returns an interleaving
    /// session's connection to the state of a new one between permutations, so it can be
    /// kept ([`Backend::interleave_session_sql`] follows it in the same message). `None`: a
    /// new connection for every permutation.
    fn interleave_reset_sql(&self) -> Option<&'static str> {
        None
    }

    /// The statement, run from another connection, that cancels what session `id` runs.
    fn cancel_sql(&self, id: u64) -> String;

    /// A query returning (as text, one per row) those of the sessions `ids` that wait for
    /// a lock now. `ids` is never empty.
    fn blocked_sql(&self, ids: &str) -> String;

    /// [`Backend::blocked_sql`] as one statement text for every call, the session ids bound
    /// as its one parameter `$1` (an `int4[]`), so it can be prepared once per monitor
    /// connection (as the isolation tester prepares its wait query). `None`: the engine
    /// has no array parameters; [`Backend::blocked_sql`] is sent as text.
    fn blocked_prepared_sql(&self) -> Option<&'static str> {
        None
    }

    /// [`Backend::lock_waits_sql`] as one statement text for every call, the session ids
    /// bound as `$1` (an `int4[]`), prepared once per monitor connection. `None`: the
    /// engine has no array parameters; [`Backend::lock_waits_sql`] is sent as text.
    fn lock_waits_prepared_sql(&self) -> Option<&'static str> {
        None
    }

    /// A query explaining the lock waits of the sessions `ids` (never empty): one row per
    /// (waiting session, blocking session) with four text columns — the waiting session's
    /// id, the blocking session's id, the lock waited for (mode, kind, object) and the mode
    /// the blocker holds. `None` when the engine cannot say.
    fn lock_waits_sql(&self, _ids: &str) -> Option<String> {
        None
    }

    /// The least time between two blocking queries (MariaDB's InnoDB lock views are a
    /// cache refreshed only after 0.1 s without a read: 120 ms).
    fn poll_interval(&self) -> Duration;

    /// How long after the latest completion or launch a blocking query must start for its
    /// "blocked" verdict to count: how long the engine's lock views may lag behind a lock
    /// release (MariaDB's InnoDB cache: 120 ms; PostgreSQL: none).
    fn settle_interval(&self) -> Duration;

    /// The bind placeholder for the `n`-th parameter (1-based): `$n` or `?`.
    fn placeholder(&self, n: usize) -> String {
        match self.dialect() {
            Dialect::Postgres => format!("${n}"),
            Dialect::Mysql => "?".into(),
        }
    }

    /// The most bound parameters one statement may have (the protocol's 16-bit count).
    fn max_bind_params(&self) -> usize {
        65_535
    }

    /// Parses `SELECT version()` text.
    fn parse_version(&self, version: &str) -> Option<Version>;

    /// What the engine supports at `version`.
    fn capabilities(&self, version: Version) -> Capabilities;

    /// How reports name a server: product and version (`PostgreSQL 15.8`, `MariaDB 10.11.9`).
    fn label(&self, version: &str) -> String {
        match self.parse_version(version) {
            Some(Version(a, b, c)) if self.dialect() == Dialect::Mysql => {
                format!("{} {a}.{b}.{c}", self.product())
            }
            Some(Version(a, b, _)) => format!("{} {a}.{b}", self.product()),
            None => self.product().to_string(),
        }
    }
}

/// A handle on a registered backend: cheap to copy, compared and serialised by name.
#[derive(Clone, Copy)]
pub struct Engine(&'static dyn Backend);

impl Engine {
    /// The default engine of a dialect, used before a server has been asked what it is
    /// (PostgreSQL; MariaDB for the MySQL family).
    pub fn default_for(dialect: Dialect) -> Engine {
        match dialect {
            Dialect::Postgres => Engine(&postgres::Postgres),
            Dialect::Mysql => Engine(&mariadb::MariaDb),
        }
    }

    /// The registered engine called `name` (`postgres`, `mariadb`, `mysql8`, `galera`).
    pub fn by_name(name: &str) -> Option<Engine> {
        BACKENDS
            .iter()
            .find(|b| b.name() == name)
            .map(|&b| Engine(b))
    }

    /// Every registered engine.
    pub fn all() -> impl Iterator<Item = Engine> {
        BACKENDS.iter().map(|&b| Engine(b))
    }
}

impl std::ops::Deref for Engine {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}

impl Eq for Engine {}

impl std::hash::Hash for Engine {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name().hash(state)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

impl serde::Serialize for Engine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

/// Classification shared by every backend: server errors by the backend's code table,
/// client-side failures by kind.
fn classify_with<B: Backend + ?Sized>(b: &B, err: &sqlx::Error) -> DbError {
    use sqlx::Error as E;
    match err {
        E::Database(db) => {
            let code = match b.dialect() {
                Dialect::Postgres => db.code().map(|c| c.into_owned()).unwrap_or_default(),
                Dialect::Mysql => match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                    Some(my) => my.number().to_string(),
                    None => db.code().map(|c| c.into_owned()).unwrap_or_default(),
                },
            };
            DbError {
                class: b.classify_code(&code),
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

/// Parses the first `a.b[.c]` run of digits found in `text`.
fn parse_dotted(text: &str) -> Option<Version> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut parts = text[start..]
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()?
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    let a = parts.next()??;
    let b = parts.next().flatten().unwrap_or(0);
    let c = parts.next().flatten().unwrap_or(0);
    Some(Version(a, b, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let pg = Engine::default_for(Dialect::Postgres);
        assert_eq!(
            pg.parse_version("PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64"),
            Some(Version(15, 8, 0))
        );
        assert_eq!(
            pg.parse_version("PostgreSQL 17beta1 on x86_64"),
            Some(Version(17, 0, 0))
        );
        let my = Engine::default_for(Dialect::Mysql);
        assert_eq!(
            my.parse_version("10.11.9-MariaDB-0+deb12u1"),
            Some(Version(10, 11, 9))
        );
        assert_eq!(my.label("10.11.9-MariaDB-0+deb12u1"), "MariaDB 10.11.9");
    }

    #[test]
    fn capabilities_follow_versions() {
        let pg = Engine::default_for(Dialect::Postgres);
        assert!(!pg.capabilities(Version(13, 22, 0)).has(Feature::Merge));
        assert!(pg.capabilities(Version(13, 22, 0)).has(Feature::OnConflict));
        assert!(!pg.capabilities(Version(14, 9, 0)).merge);
        assert!(pg.capabilities(Version(15, 0, 0)).merge);
        assert!(!pg.capabilities(Version(16, 4, 0)).merge_returning);
        assert!(pg.capabilities(Version(17, 0, 0)).merge_returning);
    }

    #[test]
    fn every_backend_is_a_scenario_key() {
        for e in Engine::all() {
            assert!(
                crate::vocab::ENGINE_KEYS.contains(&(e.name(), e.dialect())),
                "{} missing from vocab::ENGINE_KEYS",
                e.name()
            );
        }
    }

    #[test]
    fn every_name_is_unique_and_found() {
        for e in Engine::all() {
            assert_eq!(Engine::by_name(e.name()), Some(e));
            assert_eq!(Engine::all().filter(|o| o.name() == e.name()).count(), 1);
        }
    }

    #[test]
    fn mysql_deadlock_is_not_serialization_failure() {
        let my = Engine::default_for(Dialect::Mysql);
        let pg = Engine::default_for(Dialect::Postgres);
        assert_eq!(my.classify_code("1213"), Outcome::Deadlock);
        assert_eq!(pg.classify_code("40001"), Outcome::SerializationFailure);
        assert_eq!(pg.classify_code("40P01"), Outcome::Deadlock);
    }
}
