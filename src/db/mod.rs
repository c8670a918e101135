//! Database dialects, dedicated connections, error classification and URL handling.

mod conn;
mod drop_guard;
pub mod info;
mod outcome;
mod step_conn;
mod url;

pub use conn::{
    Conn, DEFAULT_CONNECT_TIMEOUT, Param, StepResult, cancel_backend, connect_timeout,
    set_connect_timeout,
};
pub use drop_guard::{DropGuard, drop_database_sql};
pub use outcome::{DbError, Outcome, classify};
pub use step_conn::{Notice, PgStepConn, Reply, StepConn, StepText, Warning};
pub use url::{database_url, redact_url, scrub_secrets, url_secrets};

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
