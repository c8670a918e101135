//! Process facts and signals (Linux `/proc`, `kill(2)`): liveness, start times, process
//! groups and the processes that reference a directory.

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

/// Live processes whose command line mentions `dir` (e.g. `postgres -D <dir>/data`,
/// `mariadbd --datadir=<dir>/data`). Used to find servers that belong to a session
/// directory without trusting a pid that may have been reused.
pub fn processes_referencing(dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    if needle.is_empty() {
        return Vec::new();
    }
    let me = std::process::id() as i32;
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
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(needle.len()).any(|w| w == needle) && pid_alive(pid) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
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

/// Stops a process that is not our child (an orphan from an earlier run): `graceful`, then
/// SIGKILL to its process group and itself after `grace`. Returns whether it is gone.
pub fn terminate_foreign(pid: i32, graceful: libc::c_int, grace: Duration) -> bool {
    signal(pid, graceful);
    if wait_until(grace, || !pid_alive(pid)) {
        return true;
    }
    // Servers run in their own session, so their pgid is their pid.
    // SAFETY: getpgid only reads.
    if unsafe { libc::getpgid(pid) } == pid {
        signal_group(pid, libc::SIGKILL);
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
    fn root_user_exists() {
        assert_eq!(lookup_user("root"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-keyrace"), None);
    }
}
