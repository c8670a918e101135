//! A server to run on, shared by the stress runner and the interleaving runner: its engine,
//! the label reports use, and the admin URL through which keyrace creates and drops its own
//! databases.

use super::{Capabilities, Conn, DbError, Dialect, Engine, Version, info};

/// A server (or cluster) to run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its engine (detected from the server with [`Target::detect`]; until then the
    /// dialect's default).
    pub engine: Engine,
    /// How reports name it (engine, version, provider).
    pub label: String,
    /// Admin URL (may hold a password: never print it; see [`super::redact_url`]).
    pub url: String,
    /// Admin URLs of every node of a multi-primary cluster (Galera), node 1 first (equal to
    /// `url`); empty for a single server. Stress workers are spread round-robin over them
    /// (worker `i` on node `i % nodes.len()`); an interleaving session with `node = K`
    /// connects to node K.
    pub nodes: Vec<String>,
    /// What the server's version supports (MERGE, ON CONFLICT …); until the server was
    /// asked, everything its engine has at any version.
    pub capabilities: Capabilities,
}

impl Target {
    /// A single server of `dialect` at `url`, with the dialect's default engine.
    pub fn new(dialect: Dialect, label: impl Into<String>, url: impl Into<String>) -> Target {
        let engine = Engine::default_for(dialect);
        Target {
            engine,
            label: label.into(),
            url: url.into(),
            nodes: Vec::new(),
            capabilities: engine.capabilities(Version(u32::MAX, 0, 0)),
        }
    }

    /// The same server, now known to be `engine` at `version` (its `SELECT version()`).
    pub fn detected(self, engine: Engine, version: &str) -> Target {
        let v = engine.parse_version(version).unwrap_or_default();
        Target {
            engine,
            capabilities: engine.capabilities(v),
            ..self
        }
    }

    /// Drops database `name` on this server with the engine's statements (PostgreSQL 13+:
    /// `WITH (FORCE)`, then plain), connect and statements together bounded by `limit`.
    ///
    /// Errors: the connection or database error; no answer in time is an
    /// [`crate::vocab::Outcome::Timeout`] error.
    pub async fn drop_database(
        &self,
        name: &str,
        limit: std::time::Duration,
    ) -> Result<(), DbError> {
        let work = async {
            let mut admin = Conn::open(self.engine, &self.url).await?;
            // The first statement that succeeds is enough; the last error is kept.
            let mut r = Ok(());
            for sql in self.engine.drop_database_sql(name) {
                r = admin.batch(&sql).await;
                if r.is_ok() {
                    break;
                }
            }
            admin.close().await;
            r
        };
        super::bounded(limit, "DROP DATABASE", work).await
    }

    /// Its dialect (the engine's).
    pub fn dialect(&self) -> Dialect {
        self.engine.dialect()
    }

    /// The admin URL of node `i` (0-based, wrapping round-robin over the cluster).
    pub fn node_url(&self, i: usize) -> &str {
        if self.nodes.is_empty() {
            &self.url
        } else {
            &self.nodes[i % self.nodes.len()]
        }
    }

    /// How many nodes the target has (1 for a single server).
    pub fn node_count(&self) -> usize {
        self.nodes.len().max(1)
    }

    /// The default targets: `KEYRACE_POSTGRES_URL` and `KEYRACE_MYSQL_URL`, falling back to
    /// `postgres://postgres@127.0.0.1:5432/test` and `mysql://root@127.0.0.1:3306/test`.
    pub fn defaults() -> Vec<Target> {
        let pg = std::env::var("KEYRACE_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let my = std::env::var("KEYRACE_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        vec![
            Target::new(Dialect::Postgres, "postgres", pg),
            Target::new(Dialect::Mysql, "mysql", my),
        ]
    }
}

/// Asks the server on `conn` what it is: its `SELECT version()` text and the engine that
/// recognises it, in [`super::backend::BACKENDS`] order; the connection's error table becomes that
/// engine's.
///
/// Errors: the database error of `SELECT version()`.
pub async fn detect(conn: &mut Conn) -> Result<(String, Engine), DbError> {
    let version = info::version(conn).await?;
    let dialect = conn.dialect();
    // The first registered engine of the dialect that recognises the server (most
    // specific first: Galera before MariaDB); an identify query that fails answers `None`.
    let mut engine = Engine::default_for(dialect);
    for b in Engine::all().filter(|e| e.dialect() == dialect) {
        let answer = match b.identify_sql() {
            Some(sql) => conn.scalar_text(sql).await.ok().flatten(),
            None => None,
        };
        if b.recognizes(&version, answer.as_deref()) {
            engine = b;
            break;
        }
    }
    conn.set_engine(engine);
    Ok((version, engine))
}
