//! What the local providers share: finding binaries, free ports, spawning a server in its own
//! session (optionally as an unprivileged user), running set-up commands and waiting until the
//! server accepts a real connection.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::db::{Conn, Dialect, redact_url};

use super::ProvisionError;
use super::lifecycle::{Handle, Marker};
use super::procs;

/// How long a local server may take to accept its first connection.
pub(crate) const READY_DEADLINE: Duration = Duration::from_secs(30);

/// Directories searched for server binaries after `PATH` (Debian keeps mariadbd and mysqld
/// in /usr/sbin, which is not on a normal user's PATH).
const EXTRA_DIRS: [&str; 5] = [
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
    "/usr/bin",
    "/usr/local/mysql/bin",
];

/// Every directory searched for a binary: `PATH`, then [`EXTRA_DIRS`], without duplicates.
pub(crate) fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in EXTRA_DIRS {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs
}

/// The first executable file called `name` in [`search_dirs`].
pub(crate) fn find_binary(name: &str) -> Option<PathBuf> {
    search_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// Whether `p` is a regular file with an execute bit.
pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A free TCP port on 127.0.0.1: bind port 0, read the port the kernel chose, release it.
///
/// Another process may take it before the server binds; callers retry once when the server
/// reports the address in use.
pub(crate) fn free_port() -> Result<u16, ProvisionError> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| ProvisionError::io("bind a free port on", "127.0.0.1", e))?;
    let port = l
        .local_addr()
        .map_err(|e| ProvisionError::io("bind a free port on", "127.0.0.1", e))?
        .port();
    Ok(port)
}

/// The user a server runs as when keyrace runs as root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// A command that runs in its own session (`setsid`), hence its own process group, so that a
/// Ctrl-C sent to the terminal's foreground group does not reach it and keyrace can stop it
/// (and every process it forks) through the group; optionally switched to `run_as`.
pub(crate) fn command(binary: &Path, cwd: &Path, run_as: Option<RunAs>) -> Command {
    let mut cmd = Command::new(binary);
    cmd.current_dir(cwd).stdin(Stdio::null());
    // SAFETY: the closure only makes async-signal-safe system calls (setsid, setgroups,
    // setgid, setuid) between fork and exec, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(RunAs { uid, gid }) = run_as
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Runs a set-up command (initdb, mariadb-install-db ...) to completion. Cancelling the
/// future kills it; its own children are killed when the session is stopped.
///
/// Errors: [`ProvisionError::Spawn`], or [`ProvisionError::CommandFailed`] with the end of
/// its output.
pub(crate) async fn run_setup(cmd: Command) -> Result<(), ProvisionError> {
    let binary = PathBuf::from(cmd.get_program());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().await.map_err(|source| ProvisionError::Spawn {
        binary: binary.clone(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text += &String::from_utf8_lossy(&out.stderr);
    Err(ProvisionError::CommandFailed {
        binary,
        status: out.status.to_string(),
        output: last_lines(&text, 15),
    })
}

/// The last `n` lines of `text`.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Spawns the server with stdout and stderr appended to `log`, records its pid in the
/// session's marker and hands it to `handle`.
pub(crate) fn spawn_server(
    handle: &Handle,
    dialect: Dialect,
    dir: &Path,
    mut cmd: Command,
    log: &Path,
    port: u16,
) -> Result<i32, ProvisionError> {
    let binary = PathBuf::from(cmd.get_program());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| ProvisionError::io("open", log, e))?;
    let file2 = file
        .try_clone()
        .map_err(|e| ProvisionError::io("open", log, e))?;
    cmd.stdout(file).stderr(file2);
    let child = cmd
        .spawn()
        .map_err(|source| ProvisionError::Spawn { binary, source })?;
    let pid = child.id() as i32;
    if !handle.attach_child(child) {
        return Err(ProvisionError::Cancelled {
            dialect,
            dir: dir.to_path_buf(),
        });
    }
    let mut marker = Marker::read(dir).unwrap_or_else(|| Marker {
        owner_pid: std::process::id() as i32,
        owner_start: procs::start_time(std::process::id() as i32),
        dialect: dialect.name().to_string(),
        ..Marker::default()
    });
    marker.server_pid = Some(pid);
    marker.server_start = procs::start_time(pid);
    marker.port = Some(port);
    marker.write(dir)?;
    Ok(pid)
}

/// Polls a real connection to `url` every 25 ms until it succeeds, the server process exits,
/// the session is stopped, or [`READY_DEADLINE`] passes.
pub(crate) async fn wait_ready(
    handle: &Handle,
    dialect: Dialect,
    dir: &Path,
    binary: &Path,
    url: &str,
    log: &Path,
) -> Result<(), ProvisionError> {
    let start = Instant::now();
    let mut last_error = None;
    loop {
        if let Some(status) = handle.try_wait() {
            let tail = std::fs::read_to_string(log)
                .map(|t| last_lines(&t, 12))
                .unwrap_or_default();
            return Err(ProvisionError::ServerExited {
                binary: binary.to_path_buf(),
                status: status.to_string(),
                log: log.to_path_buf(),
                tail,
            });
        }
        if !handle.is_registered() {
            return Err(ProvisionError::Cancelled {
                dialect,
                dir: dir.to_path_buf(),
            });
        }
        match tokio::time::timeout(Duration::from_secs(2), Conn::connect(dialect, url)).await {
            Ok(Ok(conn)) => {
                conn.close().await;
                return Ok(());
            }
            Ok(Err(e)) => last_error = Some(e),
            Err(_elapsed) => {}
        }
        if start.elapsed() >= READY_DEADLINE {
            return Err(ProvisionError::NotReady {
                dialect,
                url: redact_url(url),
                waited_ms: start.elapsed().as_millis() as u64,
                log: log.to_path_buf(),
                source: last_error,
            });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether a start failed because another process took the port between [`free_port`] and
/// the server's bind. There is no error code for this outside the server's log, so the log
/// tail is the only evidence (PostgreSQL: "could not bind ... Address already in use";
/// MySQL/MariaDB: "Can't start server: Bind on TCP/IP port: Address already in use").
pub(crate) fn is_port_taken(e: &ProvisionError) -> bool {
    matches!(e, ProvisionError::ServerExited { tail, .. } if tail.contains("Address already in use"))
}
