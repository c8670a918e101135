//! Finding and removing orphans: throwaway servers whose keyrace process is gone (killed
//! with SIGKILL, crashed, or its machine session ended) are stopped and their directories
//! removed at the next keyrace start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::lifecycle::{Marker, remove_dir, servers_root};
use super::private_dir;
use super::procs;

/// What [`reap_orphans`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReapReport {
    /// Session directories whose owner was gone, now stopped and removed.
    pub reaped: Vec<ReapedServer>,
    /// Session directories left alone because their owner still runs.
    pub live: usize,
    /// Ids of containers removed because the keyrace on this host that started them is gone
    /// (only when a Docker engine answers).
    pub containers: Vec<String>,
    /// Problems met (a directory that could not be removed, a process that would not die).
    pub errors: Vec<String>,
}

/// One orphan that [`reap_orphans`] cleaned up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapedServer {
    /// Its session directory (now removed).
    pub dir: PathBuf,
    /// The keyrace pid that owned it (no longer running, or reused by another program).
    pub owner_pid: i32,
    /// The processes that were still running from the directory and were stopped.
    pub killed: Vec<i32>,
}

/// Stops every throwaway server under [`servers_root`](super::servers_root) whose owner is
/// gone, and removes its directory.
///
/// Nothing is trusted that another user could have written. The root must be a directory
/// (not a symlink) owned by keyrace's effective user and writable by nobody else; otherwise
/// nothing in it is touched and the reason is returned in [`ReapReport::errors`]. The same
/// holds for each session directory (`<dialect>-<pid>-<random>`, matched exactly) and its
/// `owner.pid` marker. A session's owner is gone when `kill(owner_pid, 0)` fails with ESRCH,
/// the owner is a zombie, or the pid now belongs to a process with a different start time
/// (`/proc/<pid>/stat` field 22, recorded in the marker), i.e. the pid was reused.
///
/// A process is signalled only when it is, beyond doubt, what keyrace started there
/// ([`procs::is_keyrace_process`]): its executable is a server or set-up tool keyrace runs
/// (`postgres`, `initdb`, `mariadbd`, `mysqld`, `mariadb-install-db`), one of its arguments
/// names the session directory exactly (not a prefix of it), and, for the recorded server
/// pid, its start time is the recorded one. The server gets PostgreSQL's SIGINT or
/// MySQL/MariaDB's SIGTERM, then SIGKILL (with its children) after 5 s; no process group is
/// ever signalled. Call it at the start of `keyrace run` and from `keyrace reap`; it takes
/// milliseconds when there is nothing to do.
///
/// When a Docker engine answers, containers labelled `keyrace.owner.pid` by a keyrace on this
/// host (label `keyrace.owner.host`) whose owner is gone (same test) are removed too.
pub fn reap_orphans() -> ReapReport {
    let mut report = ReapReport::default();
    let (containers, errors) = super::docker::reap_containers(owner_alive);
    report.containers = containers;
    report.errors = errors;
    let root = servers_root();
    if !root.exists() {
        return report;
    }
    if let Err(reason) = private_dir::check_dir(&root) {
        report.errors.push(format!(
            "not reaping in {}: {reason}; nothing in it was touched",
            root.display()
        ));
        return report;
    }
    let Ok(entries) = std::fs::read_dir(&root) else {
        return report;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some((dialect, name_pid)) = parse_session_name(&entry.file_name().to_string_lossy())
        else {
            continue;
        };
        if let Err(reason) = private_dir::check_dir(&path) {
            if matches!(reason, private_dir::Untrusted::Stat(_))
                && std::fs::symlink_metadata(&path).is_err()
            {
                // Removed since it was listed (its keyrace stopped the server): nothing to do.
                continue;
            }
            report.errors.push(format!(
                "not reaping {}: {reason}; it was left alone",
                path.display()
            ));
            continue;
        }
        let marker = Marker::read(&path);
        let owner_pid = marker.as_ref().map_or(name_pid, |m| m.owner_pid);
        let owner_start = marker.as_ref().and_then(|m| m.owner_start);
        if owner_alive(owner_pid, owner_start) {
            report.live += 1;
            continue;
        }
        tracing::info!(dir = %path.display(), owner_pid, "reaping an orphaned {dialect} server");
        let mut killed = Vec::new();
        if let Some(m) = &marker
            && let Some(server) = m.server_pid
            && m.server_start.is_some()
            && procs::is_keyrace_process(server, &path, m.server_start)
        {
            let graceful = if dialect == "postgres" {
                libc::SIGINT
            } else {
                libc::SIGTERM
            };
            if !procs::terminate_foreign(server, graceful, Duration::from_secs(5)) {
                report.errors.push(format!(
                    "server pid {server} of {} would not stop",
                    path.display()
                ));
            }
            killed.push(server);
        }
        for pid in procs::processes_referencing(&path) {
            if !procs::is_keyrace_process(pid, &path, None) {
                tracing::warn!(pid, dir = %path.display(), "a process names this directory but is not a server keyrace starts; left alone");
                continue;
            }
            if !procs::terminate_foreign(pid, libc::SIGKILL, Duration::ZERO) {
                report.errors.push(format!(
                    "pid {pid} running from {} would not stop",
                    path.display()
                ));
            }
            killed.push(pid);
        }
        match remove_dir(&path) {
            Ok(()) => report.reaped.push(ReapedServer {
                dir: path,
                owner_pid,
                killed,
            }),
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    report
}

/// `postgres-123-abcd1234` → (`postgres`, 123); `None` for anything else.
fn parse_session_name(name: &str) -> Option<(&'static str, i32)> {
    let (dialect, rest) = if let Some(r) = name.strip_prefix("postgres-") {
        ("postgres", r)
    } else if let Some(r) = name.strip_prefix("mysql-") {
        ("mysql", r)
    } else {
        return None;
    };
    // Exactly what create_session_dir makes: a positive pid and 8 alphanumeric characters.
    let (pid, random) = rest.split_once('-')?;
    if random.len() != 8 || !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: i32 = pid.parse().ok()?;
    (pid > 0).then_some((dialect, pid))
}

/// Whether the process that wrote a marker still runs (same pid, same start time).
fn owner_alive(pid: i32, recorded_start: Option<u64>) -> bool {
    if !procs::pid_alive(pid) {
        return false;
    }
    match (recorded_start, procs::start_time(pid)) {
        (Some(recorded), Some(now)) => recorded == now,
        // No /proc or no recorded start time: trust kill(pid, 0).
        _ => true,
    }
}

/// Whether `dir` is a session directory that [`reap_orphans`] would consider (used by tests).
pub fn is_session_dir(dir: &Path) -> bool {
    dir.parent() == Some(servers_root().as_path())
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_session_name)
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names() {
        assert_eq!(
            parse_session_name("postgres-12-abcd1234"),
            Some(("postgres", 12))
        );
        assert_eq!(parse_session_name("mysql-7-Ab3dE6gH"), Some(("mysql", 7)));
        assert_eq!(parse_session_name("postgres-12-abc"), None);
        assert_eq!(parse_session_name("postgres-12-abcd12345"), None);
        assert_eq!(parse_session_name("mysql-7-x-yabcdef"), None);
        assert_eq!(parse_session_name("mysql-+7-abcd1234"), None);
        assert_eq!(parse_session_name("mysql-0-abcd1234"), None);
        assert_eq!(parse_session_name("mysql-7-"), None);
        assert_eq!(parse_session_name("redis-7-abc"), None);
        assert_eq!(parse_session_name("postgres-x-abc"), None);
    }

    #[test]
    fn owner_with_other_start_time_is_gone() {
        let me = std::process::id() as i32;
        let start = procs::start_time(me);
        assert!(owner_alive(me, start));
        assert!(!owner_alive(me, start.map(|s| s + 1)));
    }
}
