//! A throwaway PostgreSQL cluster from the installed binaries: `initdb` + `postgres`.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::db::Dialect;

use super::lifecycle::{Handle, LocalProcess, Resource, create_session_dir};
use super::local::{self, RunAs};
use super::{Provider, ProvisionError, Server, procs};

/// Environment variable naming a directory that holds `initdb` and `postgres`; searched first.
pub const PG_BINDIR_ENV: &str = "KEYRACE_PG_BINDIR";

/// The unprivileged system user the server runs as when keyrace runs as root (PostgreSQL
/// refuses to run as root: "root" execution of the PostgreSQL server is not permitted).
pub const PG_SYSTEM_USER: &str = "postgres";

/// `max_connections` of a throwaway cluster: room for 1,000 workers plus keyrace's own
/// connections (the default, 100, is far too small for contention runs).
pub const PG_MAX_CONNECTIONS: u32 = 1100;

/// The `initdb` and `postgres` binaries of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// `initdb`.
    pub initdb: PathBuf,
    /// `postgres`.
    pub postgres: PathBuf,
    /// The installation's `lib/`, put on `LD_LIBRARY_PATH` of `initdb` and `postgres`
    /// (binaries from keyrace's cache or `$KEYRACE_PG_BIN_DIRS` bring their own libraries);
    /// `None` for system packages.
    pub lib_dir: Option<PathBuf>,
}

/// Where PostgreSQL binaries were looked for, for error messages.
pub(crate) fn search_description() -> String {
    format!(
        "${PG_BINDIR_ENV}, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, $PATH, /usr/sbin, /usr/bin"
    )
}

/// Finds `initdb` and `postgres`: `$KEYRACE_PG_BINDIR`, then the Debian layout
/// `/usr/lib/postgresql/<version>/bin` and the PGDG RPM layout `/usr/pgsql-<version>/bin`,
/// newest version first, then `PATH`. Both binaries must come from the same directory.
pub fn find_pg_binaries() -> Option<PgBinaries> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os(PG_BINDIR_ENV).filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = Vec::new();
    for (parent, prefix, suffix) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
    ] {
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(v) = name.strip_prefix(prefix) else {
                continue;
            };
            let version: Option<Vec<u32>> = v.split('.').map(|p| p.parse().ok()).collect();
            if let Some(version) = version {
                versioned.push((version, e.path().join(suffix)));
            }
        }
    }
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    dirs.extend(versioned.into_iter().map(|(_, d)| d));
    dirs.extend(local::search_dirs());
    dirs.into_iter().find_map(|d| {
        let b = PgBinaries {
            initdb: d.join("initdb"),
            postgres: d.join("postgres"),
            lib_dir: None,
        };
        (local::is_executable(&b.initdb) && local::is_executable(&b.postgres)).then_some(b)
    })
}

/// The user the server must run as: `postgres` when keyrace runs as root, else keyrace's own.
pub(crate) fn run_as() -> Result<Option<RunAs>, ProvisionError> {
    if !procs::running_as_root() {
        return Ok(None);
    }
    let (uid, gid) =
        procs::lookup_user(PG_SYSTEM_USER).ok_or_else(|| ProvisionError::NoUnprivilegedUser {
            user: PG_SYSTEM_USER.to_string(),
        })?;
    Ok(Some(RunAs { uid, gid }))
}

/// Starts a throwaway cluster: a session directory under the servers root, `initdb` into
/// `<dir>/data` (superuser `postgres`, trust authentication, UTF8, C locale), then
/// `postgres` on a free port of 127.0.0.1 with its socket in `<dir>/run`, until a connection
/// succeeds. Durability settings stay at their defaults so results are representative.
pub(crate) async fn start(bins: &PgBinaries) -> Result<Server, ProvisionError> {
    let t0 = Instant::now();
    let run_as = run_as()?;
    let dir = create_session_dir(Dialect::Postgres)?;
    let handle = Handle::register(Resource::Local(LocalProcess {
        dir: dir.clone(),
        child: None,
        graceful: libc::SIGINT,
    }));
    // The session directory stays keyrace's (its marker must not be writable by the server's
    // user); the server gets `data/` and `run/` (its socket and lock file), mode 0700.
    let data = dir.join("data");
    let run = dir.join("run");
    for d in [&data, &run] {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(d)
            .map_err(|e| ProvisionError::io("create directory", d, e))?;
        if let Some(RunAs { uid, gid }) = run_as {
            std::os::unix::fs::chown(d, Some(uid), Some(gid))
                .map_err(|e| ProvisionError::io("chown", d, e))?;
        }
    }
    let mut initdb = local::command(&bins.initdb, &dir, run_as);
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .env("LC_ALL", "C");
    with_libs(&mut initdb, bins);
    local::run_setup(initdb).await?;
    let initdb_ms = t0.elapsed().as_millis();

    let log = dir.join("server.log");
    let mut attempt = 0;
    let (port, url, pid) = loop {
        attempt += 1;
        let port = local::free_port()?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let mut cmd = server_command(&bins.postgres, &dir, &data, port, run_as);
        with_libs(&mut cmd, bins);
        let pid = local::spawn_server(&handle, Dialect::Postgres, &dir, cmd, &log, port)?;
        match local::wait_ready(&handle, Dialect::Postgres, &dir, &bins.postgres, &url, &log).await
        {
            Ok(()) => break (port, url, pid),
            Err(e) if attempt == 1 && local::is_port_taken(&e) => {
                tracing::debug!(port, "port taken before postgres bound it; retrying");
            }
            Err(e) => return Err(e),
        }
    };
    let startup_ms = t0.elapsed().as_millis() as u64;
    tracing::info!(
        dir = %dir.display(), port, pid, startup_ms, initdb_ms = initdb_ms as u64,
        "started a throwaway postgres ({})", bins.postgres.display()
    );
    Ok(Server {
        dialect: Dialect::Postgres,
        provider: Provider::Local,
        url,
        host: "127.0.0.1".into(),
        port,
        startup_ms: Some(startup_ms),
        image: None,
        dir: Some(dir),
        pid: Some(pid as u32),
        nodes: Vec::new(),
        node_handles: Vec::new(),
        handle: Some(handle),
    })
}

/// Puts the installation's own `lib/` (if any) on the command's `LD_LIBRARY_PATH`.
fn with_libs(cmd: &mut std::process::Command, bins: &PgBinaries) {
    if let Some(lib) = &bins.lib_dir {
        cmd.env("LD_LIBRARY_PATH", lib);
    }
}

fn server_command(
    postgres: &Path,
    dir: &Path,
    data: &Path,
    port: u16,
    run_as: Option<RunAs>,
) -> std::process::Command {
    let mut cmd = local::command(postgres, dir, run_as);
    cmd.arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir.join("run"))
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("max_connections={PG_MAX_CONNECTIONS}"))
        .env("LC_ALL", "C");
    cmd
}
