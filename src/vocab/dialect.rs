//! The SQL families keyrace speaks (the `postgres` and `mysql` keys of scenario files).

use serde::{Deserialize, Serialize};

/// The two SQL families keyrace speaks.
///
/// `Mysql` covers both MySQL and MariaDB (the wire protocol and most SQL are shared);
/// engine differences are handled where they matter (e.g. `@@transaction_isolation`
/// on MySQL 8 versus `@@tx_isolation` on MariaDB 10.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// PostgreSQL (errors classified by SQLSTATE).
    Postgres,
    /// MySQL or MariaDB (errors classified by engine error number).
    Mysql,
}

impl Dialect {
    /// Both dialects, in report order.
    pub const ALL: [Dialect; 2] = [Dialect::Postgres, Dialect::Mysql];

    /// The name used in scenario files, JSON and the CLI: `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// Parses `postgres`/`postgresql`/`pg` or `mysql`/`mariadb`.
    pub fn parse(s: &str) -> Option<Dialect> {
        match s.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            _ => None,
        }
    }

    /// Quotes an identifier that has already been checked to be a plain identifier.
    pub fn quote_ident(self, ident: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{ident}\""),
            Dialect::Mysql => format!("`{ident}`"),
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The engine names a scenario file may use instead of a dialect key to give one engine
/// its own SQL (`[schema] mariadb = "…"` overrides `mysql` on MariaDB), each with its
/// dialect. Every backend under `db::backend` is listed here (a test checks it).
pub const ENGINE_KEYS: &[(&str, Dialect)] = &[
    ("postgres", Dialect::Postgres),
    ("mariadb", Dialect::Mysql),
    ("mysql8", Dialect::Mysql),
    ("galera", Dialect::Mysql),
];

/// Where a piece of a scenario's SQL applies: a whole dialect, or one engine of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SqlKey {
    /// `postgres` or `mysql`: every engine of the dialect without its own SQL.
    Dialect(Dialect),
    /// `mariadb`, `mysql8`, `galera`: that engine only, overriding its dialect's SQL.
    Engine(&'static str, Dialect),
}

impl SqlKey {
    /// Parses a scenario key: `postgres`/`postgresql`/`pg`, `mysql`, or an engine of
    /// [`ENGINE_KEYS`] other than a dialect's own name.
    pub fn parse(s: &str) -> Option<SqlKey> {
        let lower = s.to_ascii_lowercase();
        match lower.as_str() {
            "postgres" | "postgresql" | "pg" => Some(SqlKey::Dialect(Dialect::Postgres)),
            "mysql" => Some(SqlKey::Dialect(Dialect::Mysql)),
            other => ENGINE_KEYS
                .iter()
                .find(|(n, _)| *n == other)
                .map(|&(n, d)| SqlKey::Engine(n, d)),
        }
    }

    /// The key's canonical name: `postgres`, `mysql`, `mariadb`, `mysql8` or `galera`.
    pub fn name(self) -> &'static str {
        match self {
            SqlKey::Dialect(d) => d.name(),
            SqlKey::Engine(e, _) => e,
        }
    }

    /// The dialect the SQL is written in.
    pub fn dialect(self) -> Dialect {
        match self {
            SqlKey::Dialect(d) | SqlKey::Engine(_, d) => d,
        }
    }

    /// Every key a scenario may use, for error messages.
    pub fn names() -> Vec<&'static str> {
        let mut v = vec!["postgres", "mysql"];
        v.extend(
            ENGINE_KEYS
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| *n != "postgres"),
        );
        v
    }
}
