//! A throwaway MariaDB or MySQL server from the installed binaries: `mariadb-install-db` +
//! `mariadbd`, or MySQL's `mysqld --initialize-insecure` + `mysqld`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::db::Dialect;

use super::lifecycle::{Handle, LocalProcess, Resource, create_session_dir};
use super::local;
use super::{Provider, ProvisionError, Server, procs};

/// `max_connections` of a throwaway server: room for 1,000 workers with margin (the default,
/// 151, is far too small for contention runs).
pub const MYSQL_MAX_CONNECTIONS: u32 = 2000;

/// Which server family the binaries belong to, and the binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MysqlBinaries {
    /// MariaDB: `mariadb-install-db` (or the older `mysql_install_db`) and `mariadbd`/`mysqld`.
    MariaDb {
        /// The installer script.
        install_db: PathBuf,
        /// The server.
        server: PathBuf,
    },
    /// Oracle MySQL: `mysqld`, initialized with `--initialize-insecure`.
    Mysql {
        /// The server.
        server: PathBuf,
    },
}

impl MysqlBinaries {
    /// The server binary.
    pub fn server(&self) -> &Path {
        match self {
            MysqlBinaries::MariaDb { server, .. } | MysqlBinaries::Mysql { server } => server,
        }
    }
}

/// Where MySQL/MariaDB binaries were looked for, for error messages.
pub(crate) fn search_description() -> String {
    "$PATH, /usr/sbin, /usr/local/sbin, /sbin, /usr/bin, /usr/local/mysql/bin (mariadbd + mariadb-install-db, or mysqld)".into()
}

/// Finds MariaDB's `mariadbd` + `mariadb-install-db` first, else a `mysqld`: MariaDB's if
/// `mysqld --version` says so (then `mysql_install_db` is needed), else Oracle MySQL's.
pub fn find_mysql_binaries() -> Option<MysqlBinaries> {
    if let (Some(server), Some(install_db)) = (
        local::find_binary("mariadbd"),
        local::find_binary("mariadb-install-db"),
    ) {
        return Some(MysqlBinaries::MariaDb { install_db, server });
    }
    let server = local::find_binary("mysqld")?;
    let version = std::process::Command::new(&server)
        .arg("--version")
        .output()
        .ok()?;
    if String::from_utf8_lossy(&version.stdout).contains("MariaDB") {
        let install_db = local::find_binary("mariadb-install-db")
            .or_else(|| local::find_binary("mysql_install_db"))?;
        return Some(MysqlBinaries::MariaDb { install_db, server });
    }
    Some(MysqlBinaries::Mysql { server })
}

/// Starts a throwaway server: a session directory under the servers root, the system tables
/// in `<dir>/data` (root with an empty password, no test database), then the server on a
/// free port of 127.0.0.1 with its socket in `<dir>`, binary log off, a 64 MB buffer pool
/// and `max_connections` = [`MYSQL_MAX_CONNECTIONS`], until a connection succeeds.
pub(crate) async fn start(bins: &MysqlBinaries) -> Result<Server, ProvisionError> {
    let t0 = Instant::now();
    let dir = create_session_dir(Dialect::Mysql)?;
    let handle = Handle::register(Resource::Local(LocalProcess {
        dir: dir.clone(),
        child: None,
        graceful: libc::SIGTERM,
    }));
    let data = dir.join("data");
    // mysqld/mariadbd refuse to run as root unless told to with --user=root.
    let as_root = procs::running_as_root();
    let mut init = init_command(bins, &dir, &data, None);
    if as_root {
        init.arg("--user=root");
    }
    local::run_setup(init).await?;
    let init_ms = t0.elapsed().as_millis() as u64;

    let log = dir.join("server.log");
    let mut attempt = 0;
    let (port, url, pid) = loop {
        attempt += 1;
        let port = local::free_port()?;
        let url = format!("mysql://root@127.0.0.1:{port}/mysql");
        let cmd = server_command(bins, &dir, &data, port, as_root);
        let pid = local::spawn_server(&handle, Dialect::Mysql, &dir, cmd, &log, port)?;
        match local::wait_ready(&handle, Dialect::Mysql, &dir, bins.server(), &url, &log).await {
            Ok(()) => break (port, url, pid),
            Err(e) if attempt == 1 && local::is_port_taken(&e) => {
                tracing::debug!(port, "port taken before the server bound it; retrying");
            }
            Err(e) => return Err(e),
        }
    };
    let startup_ms = t0.elapsed().as_millis() as u64;
    tracing::info!(
        dir = %dir.display(), port, pid, startup_ms, init_ms,
        "started a throwaway mysql ({})", bins.server().display()
    );
    Ok(Server {
        dialect: Dialect::Mysql,
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

/// The command that writes the system tables of a new server into `data`:
/// `mariadb-install-db` (root with an empty password, no test database) or MySQL's
/// `mysqld --initialize-insecure`, with `--tmpdir=<dir>`.
///
/// `--tmpdir` is not optional: at start-up every server, the bootstrap one included,
/// deletes the `#sql*` files it finds in its tmpdir (MariaDB's `mysql_rm_tmp_tables`), so two
/// installs sharing `/tmp` delete each other's temporary tables and one aborts with
/// `ERROR: 1051 Unknown table 'mysql.tmp_proxies_priv'`.
pub(crate) fn init_command(
    bins: &MysqlBinaries,
    dir: &Path,
    data: &Path,
    run_as: Option<local::RunAs>,
) -> std::process::Command {
    let mut c = match bins {
        MysqlBinaries::MariaDb { install_db, .. } => {
            let mut c = local::command(install_db, dir, run_as);
            c.arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
            c
        }
        MysqlBinaries::Mysql { server } => {
            let mut c = local::command(server, dir, run_as);
            c.arg("--no-defaults")
                .arg("--initialize-insecure")
                .arg(format!("--datadir={}", data.display()));
            c
        }
    };
    c.arg(format!("--tmpdir={}", dir.display()));
    c
}

fn server_command(
    bins: &MysqlBinaries,
    dir: &Path,
    data: &Path,
    port: u16,
    as_root: bool,
) -> std::process::Command {
    let mut cmd = local::command(bins.server(), dir, None);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", dir.join("mysql.sock").display()))
        .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
        .arg(format!("--tmpdir={}", dir.display()))
        .arg("--innodb-buffer-pool-size=64M")
        .arg("--skip-log-bin")
        .arg(format!("--max-connections={MYSQL_MAX_CONNECTIONS}"));
    if matches!(bins, MysqlBinaries::Mysql { .. }) {
        // MySQL 8's X plugin listens on 33060 by default: two servers would collide.
        cmd.arg("--mysqlx=OFF");
    }
    if as_root {
        cmd.arg("--user=root");
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &std::process::Command) -> Vec<String> {
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn installs_keep_their_temporary_tables_in_their_own_directory() {
        let dir = Path::new("/srv/keyrace-servers-0/mysql-1");
        let data = dir.join("data");
        for bins in [
            MysqlBinaries::MariaDb {
                install_db: "/usr/bin/mariadb-install-db".into(),
                server: "/usr/sbin/mariadbd".into(),
            },
            MysqlBinaries::Mysql {
                server: "/usr/sbin/mysqld".into(),
            },
        ] {
            let a = args(&init_command(&bins, dir, &data, None));
            assert!(
                a.contains(&format!("--tmpdir={}", dir.display())),
                "{bins:?}: {a:?}"
            );
            assert!(
                a.contains(&format!("--datadir={}", data.display())),
                "{bins:?}: {a:?}"
            );
        }
    }
}
