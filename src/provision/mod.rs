//! Where a server comes from: a URL the user gives, a throwaway local server started from the
//! installed binaries, or a container; `auto` picks the first that is available.
//!
//! Throwaway servers live under [`servers_root`] in a session directory each
//! (`<dialect>-<pid>-<random>/` with `data/`, the socket, `server.log` and an `owner.pid`
//! marker). They are stopped and removed by [`Server::stop`], when a [`Server`] is dropped
//! (panics, early returns), by [`stop_all_blocking`] (signal handler, see
//! [`install_signal_handlers`]), and after a SIGKILL of keyrace by the next start's
//! [`reap_orphans`]. See `docs/servers.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyrace::provision::ProvisionError> {
//! use keyrace::db::Dialect;
//! use keyrace::provision::{self, ServerSpec};
//!
//! provision::reap_orphans();
//! let spec = ServerSpec::parse(Dialect::Postgres, "local")?;
//! let server = provision::start(Dialect::Postgres, &spec).await?;
//! println!("{} at {}", server.label(), keyrace::db::redact_url(&server.url));
//! server.stop().await?;
//! # Ok(()) }
//! ```

mod docker;
mod error;
mod lifecycle;
mod local;
mod local_galera;
mod local_mysql;
mod local_pg;
mod pg_bins;
mod private_dir;
mod procs;
mod reaper;
pub mod run_state;
mod signals;
mod spec;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::db::{Dialect, redact_url};

pub use docker::{
    OWNER_HOST_LABEL, OWNER_LABEL, OWNER_START_LABEL, PING_TIMEOUT, docker_endpoint, docker_ping,
};
pub use error::ProvisionError;
pub use lifecycle::{MARKER_FILE, Marker, SERVERS_DIR_ENV, servers_root, stop_all_blocking};
pub use local_galera::{
    GALERA_DEFAULT_NODES, GALERA_NODES, GALERA_PACKAGES, GALERA_PROVIDER_ENV, GALERA_SYSTEM_USER,
    GaleraBinaries, find_galera_binaries,
};
pub use local_mysql::{MYSQL_MAX_CONNECTIONS, MysqlBinaries, find_mysql_binaries};
pub use local_pg::{
    PG_BINDIR_ENV, PG_MAX_CONNECTIONS, PG_SYSTEM_USER, PgBinaries, find_pg_binaries,
};
pub use pg_bins::{
    CACHE_DIR_ENV, INSTALL_SCRIPT, PG_BIN_DIRS_ENV, ROOT_CACHE_DIR, cache_dir, cached_install,
    find_pg_major, install_command, major_of,
};
pub use private_dir::{PRIVATE_DIR_MODE, Untrusted};
pub use procs::{group_members, pid_alive, processes_referencing, running_as_root};
pub use reaper::{ReapReport, ReapedServer, is_session_dir, reap_orphans};
pub use signals::{FORCE_EXIT_AFTER, FORCED_EXIT_CODE, StopAllOnDrop, install_signal_handlers};
pub use spec::ServerSpec;

/// Which provider a [`Server`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// A server the user gave by URL; keyrace neither starts nor stops it.
    Url,
    /// A throwaway server started from the installed binaries.
    Local,
    /// A throwaway container.
    Docker,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Provider::Url => "url",
            Provider::Local => "local",
            Provider::Docker => "docker",
        })
    }
}

/// A server keyrace can connect to, and (for throwaway servers) the means to stop it.
///
/// Dropping a throwaway server stops it synchronously (kill the process group, remove the
/// directory; remove the container); prefer [`Server::stop`] in async code.
pub struct Server {
    /// The SQL family.
    pub dialect: Dialect,
    /// Where it came from.
    pub provider: Provider,
    /// Admin URL including the password, if any. Never print it: use
    /// [`redact_url`](crate::db::redact_url).
    pub url: String,
    /// Host from the URL; `127.0.0.1` for throwaway servers.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Milliseconds from the start request until the first successful connection
    /// (including initdb / install-db, or the container start); `None` for `url`.
    pub startup_ms: Option<u64>,
    /// `image:tag` for `docker`.
    pub image: Option<String>,
    /// The session directory for `local` (data, socket, `server.log`, `owner.pid`).
    pub dir: Option<PathBuf>,
    /// The server's pid (also its process-group id) for `local`; node 1's for a cluster.
    pub pid: Option<u32>,
    /// Admin URLs of every node of a multi-primary cluster (`galera:N`), node 1 first (the
    /// same as `url`); empty for a single server.
    pub nodes: Vec<String>,
    /// One handle per cluster node, stopped before `handle` (declared first: dropped first).
    node_handles: Vec<lifecycle::Handle>,
    handle: Option<lifecycle::Handle>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("dialect", &self.dialect)
            .field("provider", &self.provider)
            .field("url", &redact_url(&self.url))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("startup_ms", &self.startup_ms)
            .field("image", &self.image)
            .field("dir", &self.dir)
            .field("pid", &self.pid)
            .field(
                "nodes",
                &self.nodes.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Server {
    /// A short description for reports: `postgres local`, `mysql url 127.0.0.1:3306`,
    /// `postgres docker postgres:17`.
    pub fn label(&self) -> String {
        if self.nodes.len() > 1 {
            return format!("{} galera:{}", self.dialect, self.nodes.len());
        }
        match self.provider {
            Provider::Local => format!("{} local", self.dialect),
            Provider::Url => format!("{} url {}:{}", self.dialect, self.host, self.port),
            Provider::Docker => {
                format!(
                    "{} docker {}",
                    self.dialect,
                    self.image.as_deref().unwrap_or("?")
                )
            }
        }
    }

    /// Stops a throwaway server and removes its directory or container; does nothing for
    /// `url`. A local server gets a fast-shutdown signal (PostgreSQL SIGINT, MySQL/MariaDB
    /// SIGTERM) and SIGKILL to its process group after 10 s.
    ///
    /// Idempotent: stopping a server that [`stop_all_blocking`] already stopped succeeds.
    ///
    /// Errors: [`ProvisionError::Io`] when the directory cannot be removed,
    /// [`ProvisionError::Docker`] when the container cannot be removed.
    pub async fn stop(mut self) -> Result<(), ProvisionError> {
        // Cluster nodes leave the cluster in parallel, then the session directory goes.
        let nodes = std::mem::take(&mut self.node_handles);
        let stopped = futures_util::future::join_all(nodes.into_iter().map(|h| h.stop())).await;
        for r in stopped {
            if let Err(e) = r {
                tracing::warn!("stopping a galera node: {e}");
            }
        }
        match self.handle.take() {
            Some(h) => h.stop().await,
            None => Ok(()),
        }
    }
}

/// The environment variable `auto` reads a URL from: `KEYRACE_POSTGRES_URL` or
/// `KEYRACE_MYSQL_URL`.
pub fn url_env_var(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "KEYRACE_POSTGRES_URL",
        Dialect::Mysql => "KEYRACE_MYSQL_URL",
    }
}

/// What to install or set when no server is available, per dialect.
pub fn install_hint(dialect: Dialect) -> String {
    let (package, flag) = match dialect {
        Dialect::Postgres => ("postgresql", "--postgres"),
        Dialect::Mysql => ("mariadb-server", "--mysql"),
    };
    format!(
        "install the Debian package {package} (apt-get install {package}), or start Docker, or pass {flag} URL / set {}",
        url_env_var(dialect)
    )
}

/// Provides a server for `dialect` as `spec` says.
///
/// - `Url`: no connection is made here; host and port are read from the URL.
/// - `Local`: a throwaway server from the installed binaries (see `docs/servers.md`).
/// - `LocalMajor`: a throwaway PostgreSQL server of that major (see [`find_pg_major`]).
/// - `Docker`: a throwaway container (pulls the image if needed).
/// - `Auto`: `$KEYRACE_POSTGRES_URL`/`$KEYRACE_MYSQL_URL` if set, else Docker if an engine
///   answers [`docker_ping`] (falling through if the container fails), else local binaries.
///
/// Errors: [`ProvisionError::NothingAvailable`] (auto), [`ProvisionError::BinariesNotFound`]
/// (local) or [`ProvisionError::PgMajorNotFound`] (local:MAJOR) saying what to install, or
/// the error of the failing step.
pub async fn start(dialect: Dialect, spec: &ServerSpec) -> Result<Server, ProvisionError> {
    match spec {
        ServerSpec::Url(url) => from_url(dialect, url),
        ServerSpec::Local => start_local(dialect).await,
        ServerSpec::Galera { nodes } => {
            let bins = find_galera_binaries().map_err(|missing| {
                ProvisionError::GaleraUnavailable {
                    reason: format!(
                        "missing {missing}; install the Debian packages mariadb-server {GALERA_PACKAGES} (apt-get install mariadb-server {GALERA_PACKAGES})"
                    ),
                }
            })?;
            local_galera::start(&bins, *nodes).await
        }
        ServerSpec::LocalMajor(major) => {
            let bins = pg_bins::find_pg_major(*major)?;
            local_pg::start(&bins).await
        }
        ServerSpec::Docker { image, tag } => docker::start(dialect, image, tag).await,
        ServerSpec::Auto => start_auto(dialect).await,
    }
}

async fn start_auto(dialect: Dialect) -> Result<Server, ProvisionError> {
    let var = url_env_var(dialect);
    if let Ok(url) = std::env::var(var)
        && !url.trim().is_empty()
    {
        tracing::info!("{dialect}: using the server in ${var}");
        return match ServerSpec::parse(dialect, &url)? {
            ServerSpec::Url(u) => from_url(dialect, &u),
            _ => Err(ProvisionError::BadUrl {
                dialect,
                url: redact_url(&url),
                reason: "not a URL",
            }),
        };
    }
    let mut tried = vec![format!("${var} is not set")];
    match docker_ping() {
        Ok(()) => {
            let ServerSpec::Docker { image, tag } = ServerSpec::default_docker(dialect) else {
                unreachable!("default_docker returns Docker")
            };
            match docker::start(dialect, &image, &tag).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    tracing::warn!(
                        "{dialect}: docker answers but the container failed ({e}); trying local binaries"
                    );
                    tried.push(format!("docker {image}:{tag} failed: {e}"));
                }
            }
        }
        Err(e) => tried.push(e.to_string()),
    }
    match start_local(dialect).await {
        Err(ProvisionError::BinariesNotFound { looked, .. }) => {
            tried.push(format!("no local binaries in {looked}"));
            Err(ProvisionError::NothingAvailable {
                dialect,
                hint: format!("{} (tried: {})", install_hint(dialect), tried.join("; ")),
            })
        }
        other => other,
    }
}

async fn start_local(dialect: Dialect) -> Result<Server, ProvisionError> {
    let not_found = |looked: String| ProvisionError::BinariesNotFound {
        dialect,
        looked,
        hint: install_hint(dialect),
    };
    match dialect {
        Dialect::Postgres => {
            let bins =
                find_pg_binaries().ok_or_else(|| not_found(local_pg::search_description()))?;
            local_pg::start(&bins).await
        }
        Dialect::Mysql => {
            let bins = find_mysql_binaries()
                .ok_or_else(|| not_found(local_mysql::search_description()))?;
            local_mysql::start(&bins).await
        }
    }
}

/// A [`Server`] for a URL the user runs: reads host and port (default 5432 / 3306).
fn from_url(dialect: Dialect, url: &str) -> Result<Server, ProvisionError> {
    let (host, port) = host_port(dialect, url)?;
    Ok(Server {
        dialect,
        provider: Provider::Url,
        url: url.to_string(),
        host,
        port,
        startup_ms: None,
        image: None,
        dir: None,
        pid: None,
        nodes: Vec::new(),
        node_handles: Vec::new(),
        handle: None,
    })
}

/// Host and port of `scheme://[user[:password]@]host[:port][/db][?query]`; IPv6 hosts in
/// brackets. A missing host means `localhost`, a missing port the dialect's default.
fn host_port(dialect: Dialect, url: &str) -> Result<(String, u16), ProvisionError> {
    let bad = |reason| ProvisionError::BadUrl {
        dialect,
        url: redact_url(url),
        reason,
    };
    let rest = url
        .split_once("://")
        .ok_or_else(|| bad("missing scheme://"))?
        .1;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in host"))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse()
            .map_err(|_| bad("port is not a number from 1 to 65535"))?,
        None => match dialect {
            Dialect::Postgres => 5432,
            Dialect::Mysql => 3306,
        },
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_host_and_port() {
        let hp = |d, u| host_port(d, u).unwrap();
        assert_eq!(
            hp(Dialect::Mysql, "mysql://root@127.0.0.1:3306/test"),
            ("127.0.0.1".into(), 3306)
        );
        assert_eq!(
            hp(Dialect::Postgres, "postgres://u:p@db.example/x"),
            ("db.example".into(), 5432)
        );
        assert_eq!(
            hp(
                Dialect::Postgres,
                "postgres://u:p@[::1]:6543/x?sslmode=disable"
            ),
            ("::1".into(), 6543)
        );
        assert_eq!(
            hp(Dialect::Mysql, "mysql://h?ssl-mode=disabled"),
            ("h".into(), 3306)
        );
        assert!(host_port(Dialect::Mysql, "mysql://h:99999/x").is_err());
    }

    #[test]
    fn labels() {
        let s = from_url(Dialect::Mysql, "mysql://root:pw@127.0.0.1:3306/mysql").unwrap();
        assert_eq!(s.label(), "mysql url 127.0.0.1:3306");
        assert!(!format!("{s:?}").contains("pw"));
        assert_eq!(Provider::Docker.to_string(), "docker");
        assert_eq!(
            serde_json::to_string(&Provider::Local).unwrap(),
            "\"local\""
        );
    }

    #[test]
    fn hint_names_package_and_variable() {
        let h = install_hint(Dialect::Postgres);
        assert!(
            h.contains("postgresql")
                && h.contains("KEYRACE_POSTGRES_URL")
                && h.contains("--postgres URL")
        );
        assert!(install_hint(Dialect::Mysql).contains("mariadb-server"));
    }
}
