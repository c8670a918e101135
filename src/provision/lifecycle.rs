//! Lifecycle of throwaway servers: the directory root, per-server session directories with
//! their `owner.pid` marker, and the process-wide registry that stops every server on
//! [`Server::stop`](super::Server::stop), on drop, and on [`stop_all_blocking`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::db::Dialect;

use super::ProvisionError;
use super::private_dir;
use super::procs;

/// Environment variable that overrides [`servers_root`].
pub const SERVERS_DIR_ENV: &str = "KEYRACE_SERVERS_DIR";

/// The marker file in every session directory.
pub const MARKER_FILE: &str = "owner.pid";

/// How long a normal stop waits for a clean shutdown before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long [`stop_all_blocking`] waits before SIGKILL.
const EMERGENCY_GRACE: Duration = Duration::from_secs(1);

/// The directory under which every throwaway server lives: `$KEYRACE_SERVERS_DIR`, else
/// `std::env::temp_dir()/keyrace-servers-<euid>` (usually `/tmp/keyrace-servers-0` for root),
/// one per user. keyrace creates it with mode 0711 and trusts it only while it is a
/// directory (not a symlink) owned by keyrace's effective user and writable by nobody else
/// (see [`ensure_servers_root`]); it never creates, stops or removes anything outside it.
pub fn servers_root() -> PathBuf {
    match std::env::var_os(SERVERS_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => private_dir::default_root(),
    }
}

/// Creates [`servers_root`] if needed and checks that it can be trusted.
///
/// Errors: [`ProvisionError::UntrustedDir`] when it is another user's, writable by others or
/// a symlink (another local user may have created `/tmp/keyrace-servers-0` first: keyrace
/// then refuses to start local servers rather than work in a directory that user controls).
pub fn ensure_servers_root() -> Result<PathBuf, ProvisionError> {
    let root = servers_root();
    private_dir::ensure_dir(&root)?;
    Ok(root)
}

/// The contents of a session's `owner.pid`: who owns the directory and which server runs in it.
///
/// Written as `key=value` lines: `owner_pid`, `owner_start` (start time in clock ticks
/// since boot, from `/proc/<pid>/stat`, so a reused pid is recognised), `server_pid`,
/// `server_start`, `dialect`, `port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marker {
    /// The keyrace process that owns the server.
    pub owner_pid: i32,
    /// Its start time, when known.
    pub owner_start: Option<u64>,
    /// The server's pid (also its process-group id), once started.
    pub server_pid: Option<i32>,
    /// The server's start time, when known.
    pub server_start: Option<u64>,
    /// `postgres` or `mysql`.
    pub dialect: String,
    /// The server's TCP port on 127.0.0.1, once chosen.
    pub port: Option<u16>,
}

impl Marker {
    fn render(&self) -> String {
        let mut s = format!("owner_pid={}\n", self.owner_pid);
        if let Some(t) = self.owner_start {
            s += &format!("owner_start={t}\n");
        }
        if let Some(p) = self.server_pid {
            s += &format!("server_pid={p}\n");
        }
        if let Some(t) = self.server_start {
            s += &format!("server_start={t}\n");
        }
        s += &format!("dialect={}\n", self.dialect);
        if let Some(p) = self.port {
            s += &format!("port={p}\n");
        }
        s
    }

    /// Parses a marker; unknown lines are ignored. `None` when there is no `owner_pid`.
    pub fn parse(text: &str) -> Option<Marker> {
        let mut m = Marker::default();
        let mut has_owner = false;
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            match k.trim() {
                "owner_pid" => {
                    m.owner_pid = v.parse().ok()?;
                    has_owner = true;
                }
                "owner_start" => m.owner_start = v.parse().ok(),
                "server_pid" => m.server_pid = v.parse().ok(),
                "server_start" => m.server_start = v.parse().ok(),
                "dialect" => m.dialect = v.to_string(),
                "port" => m.port = v.parse().ok(),
                _ => {}
            }
        }
        has_owner.then_some(m)
    }

    /// Reads `<dir>/owner.pid`; `None` when it is missing, unreadable, or not a regular file
    /// owned by keyrace's effective user and writable by nobody else (a marker someone else
    /// could have written is never trusted).
    pub fn read(dir: &Path) -> Option<Marker> {
        let path = dir.join(MARKER_FILE);
        if let Err(reason) = private_dir::check_file(&path) {
            tracing::warn!(marker = %path.display(), "ignoring a marker that cannot be trusted: {reason}");
            return None;
        }
        Marker::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// Writes `<dir>/owner.pid` atomically (write a temporary file, then rename).
    pub fn write(&self, dir: &Path) -> Result<(), ProvisionError> {
        let tmp = dir.join(format!("{MARKER_FILE}.tmp"));
        std::fs::write(&tmp, self.render()).map_err(|e| ProvisionError::io("write", &tmp, e))?;
        let path = dir.join(MARKER_FILE);
        std::fs::rename(&tmp, &path).map_err(|e| ProvisionError::io("write", &path, e))
    }
}

/// Creates `<root>/<dialect>-<pid>-<random>/` with a marker naming this process.
pub(crate) fn create_session_dir(dialect: Dialect) -> Result<PathBuf, ProvisionError> {
    let root = ensure_servers_root()?;
    let me = std::process::id();
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-{me}-", dialect.name()))
        .rand_bytes(8)
        .tempdir_in(&root)
        .map_err(|e| ProvisionError::io("create directory in", &root, e))?
        .keep();
    // Others may traverse (a server running as `postgres` reaches `<dir>/data`), not list.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        &dir,
        std::fs::Permissions::from_mode(private_dir::PRIVATE_DIR_MODE),
    )
    .map_err(|e| ProvisionError::io("set permissions of", &dir, e))?;
    let marker = Marker {
        owner_pid: me as i32,
        owner_start: procs::start_time(me as i32),
        dialect: dialect.name().to_string(),
        ..Marker::default()
    };
    if let Err(e) = marker.write(&dir) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(dir)
}

/// Removes a session directory; a directory that is already gone is fine.
pub(crate) fn remove_dir(dir: &Path) -> Result<(), ProvisionError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ProvisionError::io("remove", dir, e)),
    }
}

/// A removable container, type-erased over the testcontainers image type.
pub(crate) trait RemovableContainer: Send {
    /// Removes the container (and its anonymous volumes).
    fn remove(
        self: Box<Self>,
    ) -> BoxFuture<'static, Result<(), testcontainers::TestcontainersError>>;
}

impl<I: testcontainers::Image + 'static> RemovableContainer for testcontainers::ContainerAsync<I> {
    fn remove(
        self: Box<Self>,
    ) -> BoxFuture<'static, Result<(), testcontainers::TestcontainersError>> {
        Box::pin((*self).rm())
    }
}

/// A throwaway server process and its session directory.
pub(crate) struct LocalProcess {
    pub dir: PathBuf,
    pub child: Option<Child>,
    /// The signal that asks the server for a clean, fast shutdown (PostgreSQL: SIGINT,
    /// "fast shutdown"; MySQL/MariaDB: SIGTERM).
    pub graceful: libc::c_int,
}

impl LocalProcess {
    /// Stops the server (graceful signal; after `grace` SIGKILL to its children, e.g.
    /// PostgreSQL backends that run in sessions of their own, and to the process group
    /// keyrace created for it with `setsid`), kills any other program keyrace starts that
    /// still runs from the directory (verified: executable, directory argument), and removes
    /// the directory.
    fn stop_blocking(mut self, grace: Duration) -> Result<(), ProvisionError> {
        if let Some(child) = self.child.as_mut() {
            let pid = child.id() as i32;
            if matches!(child.try_wait(), Ok(None)) {
                procs::signal(pid, self.graceful);
                let exited = procs::wait_until(grace, || !matches!(child.try_wait(), Ok(None)));
                if !exited {
                    tracing::warn!(pid, dir = %self.dir.display(), "server did not stop within {grace:?}; killing it and its backends");
                    for backend in procs::children(pid) {
                        procs::signal(backend, libc::SIGKILL);
                    }
                    procs::signal_group(pid, libc::SIGKILL);
                    let _ = child.wait();
                }
            }
            // Helpers left in the process group keyrace created for the server.
            procs::signal_group(pid, libc::SIGKILL);
        }
        for pid in procs::processes_referencing(&self.dir) {
            if procs::is_keyrace_process(pid, &self.dir, None) {
                procs::terminate_foreign(pid, libc::SIGKILL, Duration::ZERO);
            }
        }
        remove_dir(&self.dir)
    }
}

/// A container started through testcontainers.
pub(crate) struct DockerContainer {
    pub id: String,
    pub image: String,
    pub container: Box<dyn RemovableContainer>,
}

impl DockerContainer {
    async fn stop(self) -> Result<(), ProvisionError> {
        self.container
            .remove()
            .await
            .map_err(|source| ProvisionError::Docker {
                image: self.image,
                source,
            })
    }

    /// Removes the container from any thread, with or without a Tokio runtime: on a fresh
    /// thread with its own runtime; falls back to `docker rm -f -v ID` if that fails.
    fn stop_blocking(self) -> Result<(), ProvisionError> {
        let DockerContainer {
            id,
            image,
            container,
        } = self;
        let done = std::thread::spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt
                    .block_on(tokio::time::timeout(
                        Duration::from_secs(20),
                        container.remove(),
                    ))
                    .is_ok_and(|r| r.is_ok()),
                Err(_) => {
                    // Dropping it here would need a runtime; the CLI fallback removes it.
                    std::mem::forget(container);
                    false
                }
            }
        })
        .join()
        .unwrap_or(false);
        if done {
            return Ok(());
        }
        tracing::warn!(container = %id, %image, "removing the container through the docker cli");
        match std::process::Command::new("docker")
            .args(["rm", "-f", "-v", &id])
            .output()
        {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(ProvisionError::CommandFailed {
                binary: "docker".into(),
                status: o.status.to_string(),
                output: String::from_utf8_lossy(&o.stderr).trim().to_string(),
            }),
            Err(source) => Err(ProvisionError::Spawn {
                binary: "docker".into(),
                source,
            }),
        }
    }
}

/// Something keyrace started and must stop.
pub(crate) enum Resource {
    Local(LocalProcess),
    Docker(DockerContainer),
}

impl Resource {
    fn stop_blocking(self, grace: Duration) -> Result<(), ProvisionError> {
        match self {
            Resource::Local(p) => p.stop_blocking(grace),
            Resource::Docker(d) => d.stop_blocking(),
        }
    }
}

static REGISTRY: Mutex<BTreeMap<u64, Resource>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn registry() -> MutexGuard<'static, BTreeMap<u64, Resource>> {
    // A panic while holding the lock leaves the map consistent (single inserts/removes).
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ownership of one registered resource; dropping it stops the resource synchronously.
#[derive(Debug)]
pub(crate) struct Handle {
    id: u64,
}

impl Handle {
    /// Registers a resource; from now on [`stop_all_blocking`] stops it too.
    pub fn register(resource: Resource) -> Handle {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        registry().insert(id, resource);
        Handle { id }
    }

    /// Hands a freshly spawned server process to the registered session. If the session was
    /// already stopped (keyrace is shutting down), the process is killed and `false` returned.
    pub fn attach_child(&self, mut child: Child) -> bool {
        let mut reg = registry();
        if let Some(Resource::Local(p)) = reg.get_mut(&self.id) {
            p.child = Some(child);
            return true;
        }
        drop(reg);
        procs::signal_group(child.id() as i32, libc::SIGKILL);
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// The exit status of the registered server process if it has exited; `None` while it
    /// runs (or when there is none).
    pub fn try_wait(&self) -> Option<ExitStatus> {
        let mut reg = registry();
        match reg.get_mut(&self.id) {
            Some(Resource::Local(LocalProcess { child: Some(c), .. })) => {
                c.try_wait().ok().flatten()
            }
            _ => None,
        }
    }

    /// Whether the resource is still registered (not stopped by [`stop_all_blocking`]).
    pub fn is_registered(&self) -> bool {
        registry().contains_key(&self.id)
    }

    fn take(&self) -> Option<Resource> {
        registry().remove(&self.id)
    }

    /// Stops the resource at once from any thread: the graceful signal, SIGKILL after about
    /// a second (for a server that holds nothing worth a clean shutdown, e.g. a Galera node
    /// still joining, which ignores SIGTERM during its state transfer).
    pub fn stop_now_blocking(self) {
        if let Some(resource) = self.take()
            && let Err(e) = resource.stop_blocking(EMERGENCY_GRACE)
        {
            tracing::warn!("stopping a server: {e}");
        }
    }

    /// Stops the resource; a no-op when it is already stopped.
    pub async fn stop(self) -> Result<(), ProvisionError> {
        match self.take() {
            None => Ok(()),
            Some(Resource::Docker(d)) => d.stop().await,
            Some(local @ Resource::Local(_)) => {
                match tokio::task::spawn_blocking(move || local.stop_blocking(STOP_GRACE)).await {
                    Ok(r) => r,
                    Err(join) => std::panic::resume_unwind(join.into_panic()),
                }
            }
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(resource) = self.take()
            && let Err(e) = resource.stop_blocking(STOP_GRACE)
        {
            tracing::warn!("cleaning up a dropped server: {e}");
        }
    }
}

/// Stops every server this process started and removes their directories, in parallel,
/// waiting at most about a second for each to shut down cleanly before SIGKILL.
///
/// For the signal handler and as a last resort before the process exits. Safe to call from
/// any thread, with or without a Tokio runtime, any number of times; servers already stopped
/// are skipped, and [`Server`](super::Server) handles whose server it stopped become no-ops.
pub fn stop_all_blocking() {
    let all: Vec<Resource> = std::mem::take(&mut *registry()).into_values().collect();
    if all.is_empty() {
        return;
    }
    tracing::info!(count = all.len(), "stopping every server keyrace started");
    let threads: Vec<_> = all
        .into_iter()
        .map(|r| std::thread::spawn(move || r.stop_blocking(EMERGENCY_GRACE)))
        .collect();
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("stopping a server: {e}"),
            Err(_) => tracing::warn!("stopping a server panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let m = Marker {
            owner_pid: 42,
            owner_start: Some(7),
            server_pid: Some(43),
            server_start: None,
            dialect: "postgres".into(),
            port: Some(5432),
        };
        assert_eq!(Marker::parse(&m.render()), Some(m));
        assert_eq!(Marker::parse("server_pid=1\n"), None);
        assert_eq!(Marker::parse("owner_pid=x\n"), None);
    }
}
