//! A throwaway multi-primary MariaDB Galera cluster of N nodes on 127.0.0.1 (`--mysql
//! galera:N`), from the installed `mariadbd`, `mariadb-install-db`, the `galera-4` provider
//! library and `rsync` (state transfer to joining nodes).
//!
//! One session directory holds every node (`<dir>/node<K>/` with `data/`, socket, pid file
//! and `server.log`); each node is a process of its own, registered for stopping like a
//! single server, and every node process (and any `wsrep_sst_rsync`/`rsync` child) names its
//! node directory in its arguments, so the reaper finds them after a SIGKILL of keyrace.

use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::db::{Conn, Dialect, redact_url};

use super::lifecycle::{Handle, LocalProcess, Marker, Resource, create_session_dir};
use super::local::{self, RunAs};
use super::local_mysql::{self, MYSQL_MAX_CONNECTIONS, MysqlBinaries};
use super::{Provider, ProvisionError, Server, procs};

/// Smallest and largest node count `galera:N` accepts.
pub const GALERA_NODES: std::ops::RangeInclusive<u8> = 2..=9;

/// Node count of a bare `galera` spec.
pub const GALERA_DEFAULT_NODES: u8 = 3;

/// Environment variable naming the Galera provider library (`libgalera_smm.so`) when it is
/// not in one of [`PROVIDER_PATHS`].
pub const GALERA_PROVIDER_ENV: &str = "KEYRACE_GALERA_PROVIDER";

/// The Debian packages a Galera cluster needs beyond `mariadb-server`.
pub const GALERA_PACKAGES: &str = "galera-4 rsync";

/// Where `galera-4` installs its provider on Debian/Ubuntu (`dpkg -L galera-4`), RHEL and
/// MariaDB's own packages.
const PROVIDER_PATHS: [&str; 4] = [
    "/usr/lib/galera/libgalera_smm.so",
    "/usr/lib/libgalera_smm.so",
    "/usr/lib64/galera-4/libgalera_smm.so",
    "/usr/lib/galera-4/libgalera_smm.so",
];

/// The user the nodes run as when keyrace is root: rsync state transfer refuses to run as
/// root, and `mariadb-server` creates this user.
pub const GALERA_SYSTEM_USER: &str = "mysql";

/// How long the whole cluster may take to form (every node `wsrep_ready=ON` with
/// `wsrep_cluster_size=N`), per node: a joiner's rsync state transfer takes 5–8 s here.
const JOIN_DEADLINE_PER_NODE: Duration = Duration::from_secs(30);

/// How often a forming node's status is read.
const STATUS_POLL: Duration = Duration::from_millis(100);

/// The binaries and library a cluster is started from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaleraBinaries {
    /// `mariadbd`.
    pub server: PathBuf,
    /// `mariadb-install-db`.
    pub install_db: PathBuf,
    /// `libgalera_smm.so`.
    pub provider: PathBuf,
}

/// Finds `mariadbd`, `mariadb-install-db`, `libgalera_smm.so` ([`GALERA_PROVIDER_ENV`],
/// else [`PROVIDER_PATHS`]), `rsync` and `wsrep_sst_rsync`; `Err` names what is missing.
pub fn find_galera_binaries() -> Result<GaleraBinaries, String> {
    let mut missing = Vec::new();
    let server = local::find_binary("mariadbd");
    let install_db = local::find_binary("mariadb-install-db");
    if server.is_none() || install_db.is_none() {
        missing.push("mariadbd and mariadb-install-db (package mariadb-server)".to_string());
    }
    let provider = std::env::var_os(GALERA_PROVIDER_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(PROVIDER_PATHS.iter().map(PathBuf::from))
        .find(|p| p.is_file());
    if provider.is_none() {
        missing.push(format!(
            "libgalera_smm.so (package galera-4; looked in ${GALERA_PROVIDER_ENV}, {})",
            PROVIDER_PATHS.join(", ")
        ));
    }
    if local::find_binary("rsync").is_none() {
        missing.push("rsync (package rsync)".into());
    }
    if local::find_binary("wsrep_sst_rsync").is_none() {
        missing.push("wsrep_sst_rsync (package mariadb-server)".into());
    }
    match (server, install_db, provider) {
        (Some(server), Some(install_db), Some(provider)) if missing.is_empty() => {
            Ok(GaleraBinaries {
                server,
                install_db,
                provider,
            })
        }
        _ => Err(missing.join("; ")),
    }
}

/// The ports of one node on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
struct NodePorts {
    /// SQL clients.
    client: u16,
    /// Group communication (`gmcast.listen_addr`, Galera's 4567).
    gmcast: u16,
    /// Incremental state transfer (`ist.recv_addr`, Galera's 4568).
    ist: u16,
    /// Full state transfer by rsync (`wsrep_sst_receive_address`, Galera's 4444).
    sst: u16,
}

/// `4 * nodes` distinct free ports: all bound at once (so none repeats), then released.
fn free_ports(nodes: usize) -> Result<Vec<NodePorts>, ProvisionError> {
    let mut held = Vec::with_capacity(4 * nodes);
    for _ in 0..4 * nodes {
        let l = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| ProvisionError::io("bind a free port on", "127.0.0.1", e))?;
        held.push(l);
    }
    let ports: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| ProvisionError::io("bind a free port on", "127.0.0.1", e))?;
    Ok(ports
        .chunks(4)
        .map(|c| NodePorts {
            client: c[0],
            gmcast: c[1],
            ist: c[2],
            sst: c[3],
        })
        .collect())
}

/// The user the nodes run as: [`GALERA_SYSTEM_USER`] when keyrace is root, else keyrace's own.
fn run_as() -> Result<Option<RunAs>, ProvisionError> {
    if !procs::running_as_root() {
        return Ok(None);
    }
    let (uid, gid) = procs::lookup_user(GALERA_SYSTEM_USER).ok_or_else(|| {
        ProvisionError::GaleraUnavailable {
            reason: format!(
                "rsync state transfer refuses to run as root and system user {GALERA_SYSTEM_USER:?} does not exist (install mariadb-server, or run keyrace as an unprivileged user)"
            ),
        }
    })?;
    Ok(Some(RunAs { uid, gid }))
}

/// Creates `path` with mode 0700, owned by `run_as` when given.
fn node_dir(path: &Path, run_as: Option<RunAs>) -> Result<(), ProvisionError> {
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| ProvisionError::io("create directory", path, e))?;
    if let Some(RunAs { uid, gid }) = run_as {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| ProvisionError::io("chown", path, e))?;
    }
    Ok(())
}

/// The nodes of a cluster still forming: if the start fails or is cancelled (its future
/// dropped), every node is stopped at once and in parallel (a joiner ignores SIGTERM during
/// its state transfer; one at a time with the normal grace would take 10 s each).
struct Forming(Vec<Node>);

impl Drop for Forming {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut self.0);
        std::thread::scope(|s| {
            for node in nodes {
                s.spawn(move || node.handle.stop_now_blocking());
            }
        });
    }
}

/// One node being started.
struct Node {
    dir: PathBuf,
    log: PathBuf,
    url: String,
    handle: Handle,
    pid: i32,
}

/// Starts a throwaway cluster of `nodes` nodes: a session directory under the servers root,
/// the system tables of node 1 (`mariadb-install-db`, root with an empty password), node 1
/// with `--wsrep-new-cluster`, then nodes 2..N with empty data directories, joining through
/// `gcomm://<every node>` and receiving node 1's data by rsync. Returns when every node
/// answers `wsrep_ready=ON` and `wsrep_cluster_size=N`; `startup_ms` covers all of it.
///
/// Each node listens on its own free ports of 127.0.0.1 (client, group communication, IST,
/// SST), runs with `binlog_format=ROW`, `innodb_autoinc_lock_mode=2`, a 64 MB buffer pool,
/// a 32 MB Galera cache and `wsrep_node_name=node<K>`; as [`GALERA_SYSTEM_USER`] when
/// keyrace runs as root.
///
/// Errors: [`ProvisionError::GaleraUnavailable`], [`ProvisionError::CommandFailed`] (install),
/// [`ProvisionError::ServerExited`] with the node's log tail, [`ProvisionError::NotReady`]
/// when the cluster does not form in time.
pub(crate) async fn start(bins: &GaleraBinaries, nodes: u8) -> Result<Server, ProvisionError> {
    let t0 = Instant::now();
    let n = usize::from(nodes);
    let run_as = run_as()?;
    let dir = create_session_dir(Dialect::Mysql)?;
    // The session handle removes the directory (and kills anything still running from it)
    // after the node handles have stopped their nodes.
    let session = Handle::register(Resource::Local(LocalProcess {
        dir: dir.clone(),
        child: None,
        graceful: libc::SIGTERM,
    }));
    let ports = free_ports(n)?;
    let gcomm: Vec<String> = ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.gmcast))
        .collect();
    let gcomm = format!("gcomm://{}", gcomm.join(","));

    for k in 1..=n {
        let nd = dir.join(format!("node{k}"));
        node_dir(&nd, run_as)?;
        node_dir(&nd.join("data"), run_as)?;
    }
    let node1 = dir.join("node1");
    let init = local_mysql::init_command(
        &MysqlBinaries::MariaDb {
            install_db: bins.install_db.clone(),
            server: bins.server.clone(),
        },
        &node1,
        &node1.join("data"),
        run_as,
    );
    local::run_setup(init).await?;
    let init_ms = t0.elapsed().as_millis() as u64;

    let mut started = Forming(Vec::with_capacity(n));
    for (i, p) in ports.iter().enumerate() {
        let k = i + 1;
        let nd = dir.join(format!("node{k}"));
        let handle = Handle::register(Resource::Local(LocalProcess {
            dir: nd.clone(),
            child: None,
            graceful: libc::SIGTERM,
        }));
        let log = nd.join("server.log");
        let cmd = node_command(bins, &nd, k, *p, &gcomm, run_as);
        let pid = local::spawn_server(&handle, Dialect::Mysql, &dir, cmd, &log, p.client)?;
        let url = format!("mysql://root@127.0.0.1:{}/mysql", p.client);
        let node = Node {
            dir: nd,
            log,
            url,
            handle,
            pid,
        };
        if k == 1 {
            // Node 1 bootstraps the cluster: the joiners need a primary component to join.
            let bootstrapped = wait_synced(bins, &node, 1, t0 + JOIN_DEADLINE_PER_NODE).await;
            started.0.push(node);
            bootstrapped?;
            tracing::info!(
                ms = t0.elapsed().as_millis() as u64,
                "galera node 1 bootstrapped"
            );
        } else {
            started.0.push(node);
        }
    }
    // The marker names node 1 (each spawn recorded its own node); the reaper finds the
    // other nodes by their `--datadir=<dir>/node<K>/data` argument.
    if let Some(mut marker) = Marker::read(&dir) {
        marker.server_pid = Some(started.0[0].pid);
        marker.server_start = procs::start_time(started.0[0].pid);
        marker.port = Some(ports[0].client);
        marker.write(&dir)?;
    }
    let deadline = t0 + JOIN_DEADLINE_PER_NODE * u32::from(nodes);
    for (i, node) in started.0.iter().enumerate() {
        wait_synced(bins, node, n, deadline).await?;
        tracing::info!(
            node = i + 1,
            ms = t0.elapsed().as_millis() as u64,
            "galera node synced"
        );
    }
    let startup_ms = t0.elapsed().as_millis() as u64;
    tracing::info!(
        dir = %dir.display(), nodes, startup_ms, init_ms,
        "started a throwaway galera cluster ({})", bins.provider.display()
    );
    let nodes_started = std::mem::take(&mut started.0);
    let first_pid = nodes_started[0].pid;
    let port = ports[0].client;
    let urls: Vec<String> = nodes_started.iter().map(|s| s.url.clone()).collect();
    Ok(Server {
        dialect: Dialect::Mysql,
        provider: Provider::Local,
        url: urls[0].clone(),
        host: "127.0.0.1".into(),
        port,
        startup_ms: Some(startup_ms),
        image: None,
        dir: Some(dir),
        pid: Some(first_pid as u32),
        nodes: urls,
        node_handles: nodes_started.into_iter().map(|s| s.handle).collect(),
        handle: Some(session),
    })
}

fn node_command(
    bins: &GaleraBinaries,
    nd: &Path,
    k: usize,
    p: NodePorts,
    gcomm: &str,
    run_as: Option<RunAs>,
) -> std::process::Command {
    let mut cmd = local::command(&bins.server, nd, run_as);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", nd.join("data").display()))
        .arg(format!("--port={}", p.client))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", nd.join("mysql.sock").display()))
        .arg(format!("--pid-file={}", nd.join("mysqld.pid").display()))
        .arg(format!("--tmpdir={}", nd.display()))
        .arg("--innodb-buffer-pool-size=64M")
        .arg(format!("--max-connections={MYSQL_MAX_CONNECTIONS}"))
        .arg("--wsrep-on=ON")
        .arg(format!("--wsrep-provider={}", bins.provider.display()))
        .arg("--binlog-format=ROW")
        .arg("--innodb-autoinc-lock-mode=2")
        .arg(format!("--wsrep-cluster-address={gcomm}"))
        .arg(format!(
            "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{};gcache.size=32M",
            p.gmcast, p.ist
        ))
        .arg(format!("--wsrep-sst-receive-address=127.0.0.1:{}", p.sst))
        .arg("--wsrep-sst-method=rsync")
        .arg("--wsrep-cluster-name=keyrace")
        .arg(format!("--wsrep-node-name=node{k}"))
        .arg(format!("--wsrep-node-incoming-address=127.0.0.1:{}", p.client));
    if k == 1 {
        cmd.arg("--wsrep-new-cluster");
    }
    cmd
}

/// Reads one `GLOBAL_STATUS` variable of the node.
async fn status(conn: &mut Conn, name: &str) -> Option<String> {
    conn.scalar_text(&format!(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '{name}'"
    ))
    .await
    .ok()
    .flatten()
}

/// Waits until the node answers `wsrep_ready=ON` and `wsrep_cluster_size` = `size`, its
/// process exits (error with its log tail), keyrace stops it, or `deadline` passes.
async fn wait_synced(
    bins: &GaleraBinaries,
    node: &Node,
    size: usize,
    deadline: Instant,
) -> Result<(), ProvisionError> {
    let want = size.to_string();
    let mut seen = String::from("no connection");
    loop {
        if let Some(status) = node.handle.try_wait() {
            let tail = std::fs::read_to_string(&node.log)
                .map(|t| local::last_lines(&t, 12))
                .unwrap_or_default();
            return Err(ProvisionError::ServerExited {
                binary: bins.server.clone(),
                status: status.to_string(),
                log: node.log.clone(),
                tail,
            });
        }
        if !node.handle.is_registered() {
            return Err(ProvisionError::Cancelled {
                dialect: Dialect::Mysql,
                dir: node.dir.clone(),
            });
        }
        let probe = async {
            let mut c = Conn::connect(Dialect::Mysql, &node.url).await.ok()?;
            let ready = status(&mut c, "WSREP_READY").await;
            let size = status(&mut c, "WSREP_CLUSTER_SIZE").await;
            c.close().await;
            Some((ready.unwrap_or_default(), size.unwrap_or_default()))
        };
        if let Ok(Some((ready, got))) = tokio::time::timeout(Duration::from_secs(2), probe).await {
            if ready == "ON" && got == want {
                return Ok(());
            }
            seen = format!("wsrep_ready={ready}, wsrep_cluster_size={got}");
        }
        if Instant::now() >= deadline {
            return Err(ProvisionError::ClusterNotFormed {
                url: redact_url(&node.url),
                want: size,
                seen,
                log: node.log.clone(),
            });
        }
        tokio::time::sleep(STATUS_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct() {
        let p = free_ports(3).unwrap();
        let mut all: Vec<u16> = p
            .iter()
            .flat_map(|n| [n.client, n.gmcast, n.ist, n.sst])
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 12);
    }
}
