//! Process facts and signals (Linux `/proc`, `kill(2)`): liveness, start times, process
//! groups and the processes that reference a directory.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether `pid` names a live process (a zombie counts as gone).
///
/// `kill(pid, 0)` failing with ESRCH means no such process; EPERM means it exists but
/// belongs to someone else. A zombie (`State: Z` in `/proc/<pid>/stat`) has exited and only
/// waits to be reaped, which in a container without an init may never happen.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    if r != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    !matches!(stat_fields(pid), Some((state, _)) if state == 'Z')
}

/// The start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), which
/// together with the pid identifies a process even after its pid is reused.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid).map(|(_, t)| t)
}

/// State letter and start time from `/proc/<pid>/stat`.
fn stat_fields(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: split after ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `after` starts at field 3; start time is field 22, i.e. the 20th from here.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether one command-line argument names `dir` or a path inside it, exactly: the argument
/// (or, for `--option=value`, its value) equals `dir` or starts with `dir/`. A directory
/// whose name is a prefix of another's (`postgres-1-ab` and `postgres-1-abc`) never matches
/// the other's processes.
pub fn arg_references(arg: &[u8], dir: &[u8]) -> bool {
    let names =
        |v: &[u8]| v == dir || (v.len() > dir.len() && v.starts_with(dir) && v[dir.len()] == b'/');
    if names(arg) {
        return true;
    }
    if arg.starts_with(b"--")
        && let Some(eq) = arg.iter().position(|&b| b == b'=')
    {
        return names(&arg[eq + 1..]);
    }
    false
}

/// The command-line arguments of `pid` (`/proc/<pid>/cmdline`, NUL-separated).
fn cmdline_args(pid: i32) -> Option<Vec<Vec<u8>>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// Whether some argument of `pid` names `dir` or a path inside it ([`arg_references`]).
pub fn references_dir(pid: i32, dir: &Path) -> bool {
    let needle = dir.as_os_str().as_encoded_bytes();
    !needle.is_empty()
        && cmdline_args(pid).is_some_and(|args| args.iter().any(|a| arg_references(a, needle)))
}

/// Live processes with an argument that names `dir` or a path inside it, exactly (e.g.
/// `postgres -D <dir>/data`, `mariadbd --datadir=<dir>/data`); see [`arg_references`].
/// Used to find servers that belong to a session directory without trusting a pid that may
/// have been reused.
pub fn processes_referencing(dir: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = all_pids()
        .into_iter()
        .filter(|&pid| pid != me && references_dir(pid, dir) && pid_alive(pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// Every pid in `/proc`.
fn all_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .collect()
}

/// Programs keyrace starts in a session directory: servers and their set-up tools, and what a
/// Galera node starts for a state transfer (the `wsrep_sst_rsync` script and its `rsync`
/// daemon or client, which name the node's data directory in their arguments).
/// (`mariadb-install-db` is a shell script: its interpreter runs with the script as argument.)
const KEYRACE_PROGRAMS: &[&str] = &[
    "postgres",
    "initdb",
    "mariadbd",
    "mysqld",
    "mariadb-install-db",
    "mysql_install_db",
    "wsrep_sst_rsync",
    "rsync",
];

/// The file name of the executable of `pid` (`/proc/<pid>/exe`), e.g. `postgres`.
pub fn exe_name(pid: i32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    // A binary replaced by a package upgrade reads as "postgres (deleted)".
    Some(name.trim_end_matches(" (deleted)").to_string())
}

/// Whether `pid` runs one of the programs keyrace starts for a throwaway server (a server
/// binary or its set-up tool, directly or as a script's argument).
pub fn runs_keyrace_program(pid: i32) -> bool {
    let Some(exe) = exe_name(pid) else {
        return false;
    };
    if KEYRACE_PROGRAMS.contains(&exe.as_str()) {
        return true;
    }
    if matches!(exe.as_str(), "sh" | "bash" | "dash" | "perl")
        && let Some(args) = cmdline_args(pid)
        && let Some(script) = args.get(1)
    {
        let name = Path::new(std::ffi::OsStr::from_bytes(script))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return KEYRACE_PROGRAMS.contains(&name.as_str());
    }
    false
}

/// Whether `pid` is, beyond doubt, a server (or set-up tool) keyrace started for the session
/// directory `dir`: it is alive, its executable is one keyrace starts, an argument names
/// `dir` exactly, and — when `start` is given — its start time is the one recorded. Nothing
/// is ever signalled that fails this test.
pub fn is_keyrace_process(pid: i32, dir: &Path, start: Option<u64>) -> bool {
    pid_alive(pid)
        && runs_keyrace_program(pid)
        && references_dir(pid, dir)
        && start.is_none_or(|s| start_time(pid) == Some(s))
}

/// Live children of `pid` (field 4 of `/proc/<child>/stat` is `pid`) that started after it:
/// e.g. PostgreSQL's backends, which each run in their own session and so escape a signal to
/// the postmaster's process group.
pub fn children(pid: i32) -> Vec<i32> {
    let parent_start = start_time(pid);
    all_pids()
        .into_iter()
        .filter(|&c| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{c}/stat")) else {
                return false;
            };
            let Some(close) = stat.rfind(')') else {
                return false;
            };
            let mut f = stat[close + 1..].split_whitespace();
            let state = f.next();
            let ppid = f.next().and_then(|p| p.parse::<i32>().ok());
            ppid == Some(pid)
                && state != Some("Z")
                && match (parent_start, start_time(c)) {
                    (Some(p), Some(cs)) => cs >= p,
                    _ => true,
                }
        })
        .collect()
}

/// Live (non-zombie) members of process group `pgid`, from field 5 of `/proc/<pid>/stat`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        if pgrp == Some(pgid) && state != Some("Z") {
            pids.push(pid);
        }
    }
    pids
}

/// Sends `sig` to `pid`; errors (no such process) are ignored.
pub fn signal(pid: i32, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: plain kill(2) on a positive pid.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Sends `sig` to the process group `pgid` (every process a server started in its session).
pub fn signal_group(pgid: i32, sig: libc::c_int) {
    if pgid > 1 {
        // SAFETY: kill(2) on a negative pid addresses the process group; pgid > 1 never
        // addresses "every process" (-1).
        unsafe { libc::kill(-pgid, sig) };
    }
}

/// Waits until `done()` is true or `timeout` passes, polling every 20 ms; returns `done()`.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a process that is not our child (an orphan from an earlier run, already verified
/// with [`is_keyrace_process`]): `graceful`, then after `grace` SIGKILL to its children
/// (PostgreSQL backends) and to itself. Never signals a process group: keyrace cannot prove it
/// created the group of a process it did not spawn. Returns whether it is gone.
pub fn terminate_foreign(pid: i32, graceful: libc::c_int, grace: Duration) -> bool {
    if graceful != libc::SIGKILL {
        signal(pid, graceful);
        if wait_until(grace, || !pid_alive(pid)) {
            return true;
        }
    }
    for child in children(pid) {
        signal(child, libc::SIGKILL);
    }
    signal(pid, libc::SIGKILL);
    wait_until(Duration::from_secs(2), || !pid_alive(pid))
}

/// Whether keyrace runs as root (effective uid 0).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Looks up a user's uid and gid (`getpwnam_r(3)`).
pub fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out-parameter; buf outlives the call.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the duration of the call.
    let r = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if r != 0 || result.is_null() {
        return None;
    }
    Some((pwd.pw_uid, pwd.pw_gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_with_start_time() {
        let me = std::process::id() as i32;
        assert!(pid_alive(me));
        assert!(start_time(me).is_some());
        assert!(!pid_alive(0));
    }

    #[test]
    fn reaped_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }

    #[test]
    fn exact_directory_arguments() {
        let d = b"/tmp/k/postgres-1-abc";
        assert!(arg_references(b"/tmp/k/postgres-1-abc", d));
        assert!(arg_references(b"/tmp/k/postgres-1-abc/data", d));
        assert!(arg_references(b"--datadir=/tmp/k/postgres-1-abc/data", d));
        assert!(!arg_references(b"/tmp/k/postgres-1-abcd/data", d));
        assert!(!arg_references(b"--datadir=/tmp/k/postgres-1-abcd", d));
        assert!(!arg_references(b"x/tmp/k/postgres-1-abc/data", d));
        assert!(!arg_references(b"/tmp/k/postgres-1-ab", d));
    }

    #[test]
    fn an_ordinary_process_is_not_a_keyrace_server() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30", "sh"])
            .arg(dir.path().join("data"))
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Between fork and exec /proc shows the parent's command line.
        assert!(wait_until(Duration::from_secs(5), || references_dir(
            pid,
            dir.path()
        )));
        assert!(!runs_keyrace_program(pid));
        assert!(!is_keyrace_process(pid, dir.path(), start_time(pid)));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn root_user_exists() {
        assert_eq!(lookup_user("root"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-keyrace"), None);
    }
}
