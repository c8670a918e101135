//! The error type of server provisioning: what failed, with the path, binary or image involved.

use std::path::PathBuf;

use crate::db::{DbError, Dialect};

/// Why a server could not be provided, started or stopped.
///
/// Messages are lower-case and name the path, binary or image involved; the underlying
/// cause (I/O error, database error, container error) is kept in `#[source]`.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A `--postgres`/`--mysql` value that is none of the accepted forms.
    #[error(
        "invalid {dialect} server spec {spec:?}: expected auto, local, docker, docker:IMAGE:TAG, galera:N (mysql only), local:MAJOR (postgres only, e.g. local:17) or a {scheme}://... URL"
    )]
    BadSpec {
        /// The dialect the spec was given for.
        dialect: Dialect,
        /// The spec as given.
        spec: String,
        /// The URL scheme expected for this dialect.
        scheme: &'static str,
    },

    /// `auto` found no URL, no Docker engine and no local binaries.
    #[error("no {dialect} server available: {hint}")]
    NothingAvailable {
        /// The dialect asked for.
        dialect: Dialect,
        /// What to install or set, and what was tried.
        hint: String,
    },

    /// `local` found no server binaries.
    #[error("no local {dialect} server binaries found (looked in {looked}); {hint}")]
    BinariesNotFound {
        /// The dialect asked for.
        dialect: Dialect,
        /// The places searched.
        looked: String,
        /// What to install.
        hint: String,
    },

    /// `local:<major>` found no PostgreSQL binaries of that major version.
    #[error(
        "no PostgreSQL {major} server binaries found (looked in {looked}); install them with `{install}` (docs/servers.md), or name their directory in KEYRACE_PG_BIN_DIRS"
    )]
    PgMajorNotFound {
        /// The major version asked for, e.g. 17.
        major: u32,
        /// The places searched.
        looked: String,
        /// The command that installs that major.
        install: String,
    },

    /// PostgreSQL binaries were found but do not run (missing libraries, a directory the
    /// server's user cannot reach) or are of another major version than their place says.
    #[error("cannot use {}: {reason}", binary.display())]
    PgBinariesUnusable {
        /// The `postgres` binary.
        binary: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// A file-system operation failed.
    #[error("could not {action} {}", path.display())]
    Io {
        /// What was being done (`create directory`, `write`, `chown` ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A directory keyrace would keep servers or state in exists but cannot be trusted
    /// (another user's, writable by others, or a symbolic link): nothing in it is used.
    #[error("refusing to use {}: {reason}; remove it or set KEYRACE_SERVERS_DIR to a directory of your own", path.display())]
    UntrustedDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: super::private_dir::Untrusted,
    },

    /// A binary could not be executed at all.
    #[error("could not run {}", binary.display())]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A set-up command (initdb, mariadb-install-db, mysqld --initialize-insecure) failed.
    #[error("{} failed ({status}): {output}", binary.display())]
    CommandFailed {
        /// The binary.
        binary: PathBuf,
        /// Its exit status.
        status: String,
        /// The end of its combined output.
        output: String,
    },

    /// The server process exited before it accepted a connection.
    #[error("{} exited ({status}) before accepting connections; end of {}:\n{tail}", binary.display(), log.display())]
    ServerExited {
        /// The server binary.
        binary: PathBuf,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },

    /// The server did not accept a connection before the deadline.
    #[error("{dialect} server at {url} did not accept connections within {waited_ms} ms (log: {})", log.display())]
    NotReady {
        /// The dialect.
        dialect: Dialect,
        /// The redacted URL that was tried.
        url: String,
        /// How long keyrace waited, in milliseconds.
        waited_ms: u64,
        /// The server's log file.
        log: PathBuf,
        /// The last connection error.
        #[source]
        source: Option<DbError>,
    },

    /// PostgreSQL refuses to run as root and the unprivileged user does not exist.
    #[error(
        "postgresql refuses to run as root and system user {user:?} does not exist; create it (adduser --system {user}) or run keyrace as an unprivileged user"
    )]
    NoUnprivilegedUser {
        /// The user looked up.
        user: String,
    },

    /// `galera:N` with N outside 2..=9, or a `galera` spec for PostgreSQL.
    #[error("invalid {dialect} server spec {spec:?}: {reason}")]
    BadGaleraSpec {
        /// The dialect the spec was given for.
        dialect: Dialect,
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A Galera cluster cannot be started here: packages or the `mysql` user are missing.
    #[error("cannot start a galera cluster: {reason}")]
    GaleraUnavailable {
        /// What is missing and what to install.
        reason: String,
    },

    /// A Galera node did not join a cluster of the expected size before the deadline.
    #[error("galera node {url} did not reach wsrep_ready=ON with wsrep_cluster_size={want} in time (last seen: {seen}; log: {})", log.display())]
    ClusterNotFormed {
        /// The node's redacted URL.
        url: String,
        /// The cluster size waited for.
        want: usize,
        /// What the node last reported.
        seen: String,
        /// The node's log file.
        log: PathBuf,
    },

    /// No Docker engine answered.
    #[error("no docker engine answers at {endpoint}: {reason}")]
    DockerUnavailable {
        /// The socket or address tried.
        endpoint: String,
        /// Why it did not answer.
        reason: String,
    },

    /// Starting or removing a container failed.
    #[error("docker container {image} failed")]
    Docker {
        /// `image:tag`.
        image: String,
        /// The cause.
        #[source]
        source: testcontainers::TestcontainersError,
    },

    /// A URL whose host or port cannot be read.
    #[error("invalid {dialect} url {url}: {reason}")]
    BadUrl {
        /// The dialect.
        dialect: Dialect,
        /// The redacted URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Keyrace began stopping every server (a second Ctrl-C, [`super::stop_all_blocking`])
    /// while this one was starting.
    #[error("start of the {dialect} server in {} was cancelled: keyrace is stopping", dir.display())]
    Cancelled {
        /// The dialect.
        dialect: Dialect,
        /// The session directory (already removed).
        dir: PathBuf,
    },

    /// The signal handlers could not be installed.
    #[error("could not install the {signal} handler")]
    Signal {
        /// The signal's name.
        signal: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ProvisionError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ProvisionError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
