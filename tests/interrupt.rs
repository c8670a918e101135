//! Interrupting `keyrace run` with throwaway local servers: SIGINT, SIGTERM, two SIGINTs 2 ms
//! apart, SIGINT during server start-up, and SIGKILL
//! followed by `keyrace reap` must leave no server process, no open port and no directory.
//!
//! Each test gives the binary its own servers root (`KEYRACE_SERVERS_DIR`) and starts it in
//! its own process group, which it signals as a terminal would signal its foreground group.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keyrace::provision::{self, Marker, SERVERS_DIR_ENV};

/// One test at a time: five parallel `mariadb-install-db` runs on a loaded 2-core machine
/// sometimes fail, which says nothing about interrupting keyrace.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("servers")
    }

    fn keyrace(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyrace"));
        c.env(SERVERS_DIR_ENV, self.root())
            .env_remove("KEYRACE_POSTGRES_URL")
            .env_remove("KEYRACE_MYSQL_URL")
            .current_dir(self.tmp.path());
        c
    }

    /// `keyrace run` on a long signup race against two throwaway servers.
    fn spawn_run(&self) -> Child {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/signup-race.toml");
        let scenario = self.tmp.path().join("long.toml");
        std::fs::copy(source, &scenario).unwrap();
        let log = std::fs::File::create(self.tmp.path().join("keyrace.log")).unwrap();
        let mut c = self.keyrace();
        c.args([
            "run",
            "--postgres",
            "local",
            "--mysql",
            "local",
            "--duration",
            "600s",
            "--quiet",
            "--no-html",
        ])
        .arg("--out")
        .arg(self.tmp.path().join("results"))
        .arg(&scenario)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
        c.spawn().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("keyrace.log")).unwrap_or_default()
    }

    /// Session directories with a running server, once both servers answer.
    fn wait_for_servers(&self, keyrace: &mut Child) -> Vec<(PathBuf, Marker)> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let sessions = sessions(&self.root());
            let up = sessions
                .iter()
                .filter(|(_, m)| m.port.is_some_and(port_open))
                .count();
            if up == 2 {
                // Let the run get going (schema, workers) before interrupting it.
                std::thread::sleep(Duration::from_secs(2));
                return sessions;
            }
            if let Some(status) = keyrace.try_wait().unwrap() {
                panic!(
                    "keyrace exited ({status}) before both servers were up:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "servers not up after 120 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn sessions(root: &Path) -> Vec<(PathBuf, Marker)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut v: Vec<_> = entries
        .flatten()
        .filter_map(|e| Marker::read(&e.path()).map(|m| (e.path(), m)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn ps(root: &Path) -> String {
    let out = Command::new("ps")
        .args(["-eo", "pid,pgid,sid,stat,args"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let root = root.to_string_lossy();
    let mut lines: Vec<&str> = text.lines().take(1).collect();
    lines.extend(
        text.lines()
            .filter(|l| l.contains(root.as_ref()) && !l.contains(" ps ")),
    );
    lines.join("\n")
}

fn assert_all_gone(sessions: &[(PathBuf, Marker)], root: &Path) {
    for (dir, m) in sessions {
        let pid = m.server_pid.unwrap();
        assert!(
            !provision::pid_alive(pid),
            "server {pid} of {} still runs\n{}",
            dir.display(),
            ps(root)
        );
        assert!(
            provision::group_members(pid).is_empty(),
            "group {pid} still has members\n{}",
            ps(root)
        );
        assert!(
            provision::processes_referencing(dir).is_empty(),
            "processes from {}\n{}",
            dir.display(),
            ps(root)
        );
        let port = m.port.unwrap();
        assert!(!port_open(port), "port {port} still open");
        assert!(!dir.exists(), "{} still exists", dir.display());
    }
}

fn interrupt_with(sig: libc::c_int, name: &str) {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let mut keyrace = sandbox.spawn_run();
    let sessions = sandbox.wait_for_servers(&mut keyrace);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let t0 = Instant::now();
    // SAFETY: signals keyrace's own process group (process_group(0) made it the leader).
    unsafe { libc::kill(-(keyrace.id() as i32), sig) };
    let status = wait_exit(&mut keyrace, Duration::from_secs(60));
    let Some(status) = status else {
        let _ = keyrace.kill();
        panic!("keyrace still runs 60 s after {name}:\n{}", sandbox.log());
    };
    eprintln!(
        "{name}: keyrace exited with {status} after {} ms",
        t0.elapsed().as_millis()
    );
    eprintln!("ps after {name}:\n{}", ps(&sandbox.root()));
    assert_eq!(status.code(), Some(130), "{}", sandbox.log());
    assert_all_gone(&sessions, &sandbox.root());
}

#[test]
fn sigint_stops_servers_and_removes_directories() {
    interrupt_with(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_stops_servers_and_removes_directories() {
    interrupt_with(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sigkill_leaves_orphans_that_the_next_start_reaps() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let mut keyrace = sandbox.spawn_run();
    let sessions = sandbox.wait_for_servers(&mut keyrace);
    keyrace.kill().unwrap();
    keyrace.wait().unwrap();
    eprintln!("ps after SIGKILL:\n{}", ps(&sandbox.root()));
    // A SIGKILL cannot be caught: the servers, in their own sessions, survive it.
    for (dir, m) in &sessions {
        assert!(
            provision::pid_alive(m.server_pid.unwrap()),
            "{} died with keyrace",
            dir.display()
        );
    }
    let out = sandbox.keyrace().arg("reap").output().unwrap();
    assert!(
        out.status.success(),
        "keyrace reap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("ps after keyrace reap:\n{}", ps(&sandbox.root()));
    assert_all_gone(&sessions, &sandbox.root());
}

#[test]
fn two_sigints_2ms_apart_still_write_results_and_stop_servers() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let mut keyrace = sandbox.spawn_run();
    let sessions = sandbox.wait_for_servers(&mut keyrace);
    let t0 = Instant::now();
    // SAFETY: signals keyrace's own process group (process_group(0) made it the leader).
    unsafe { libc::kill(-(keyrace.id() as i32), libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(2));
    // SAFETY: as above.
    unsafe { libc::kill(-(keyrace.id() as i32), libc::SIGINT) };
    let Some(status) = wait_exit(&mut keyrace, Duration::from_secs(60)) else {
        let _ = keyrace.kill();
        panic!(
            "keyrace still runs 60 s after two SIGINTs:\n{}",
            sandbox.log()
        );
    };
    eprintln!(
        "TIME-TO-EXIT two SIGINTs 2 ms apart (local servers): {} ms, {status}",
        t0.elapsed().as_millis()
    );
    assert_eq!(status.code(), Some(130), "{}", sandbox.log());
    let results: Vec<_> = std::fs::read_dir(sandbox.tmp.path().join("results"))
        .unwrap_or_else(|e| panic!("no results directory: {e}\n{}", sandbox.log()))
        .flatten()
        .collect();
    assert_eq!(results.len(), 1, "results written:\n{}", sandbox.log());
    assert_all_gone(&sessions, &sandbox.root());
}

#[test]
fn sigint_during_server_start_up_exits_130() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let mut keyrace = sandbox.spawn_run();
    // As soon as a session directory exists, the server is being initialised.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(sandbox.root())
        .map(|d| d.count() == 0)
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "no server start:\n{}",
            sandbox.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t0 = Instant::now();
    // SAFETY: signals keyrace's own process group.
    unsafe { libc::kill(-(keyrace.id() as i32), libc::SIGINT) };
    let Some(status) = wait_exit(&mut keyrace, Duration::from_secs(60)) else {
        let _ = keyrace.kill();
        panic!("keyrace still runs 60 s after SIGINT:\n{}", sandbox.log());
    };
    eprintln!(
        "TIME-TO-EXIT SIGINT during server start-up: {} ms, {status}",
        t0.elapsed().as_millis()
    );
    assert_eq!(status.code(), Some(130), "{}", sandbox.log());
    let left: Vec<_> = std::fs::read_dir(sandbox.root())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}\n{}", ps(&sandbox.root()));
    assert!(
        provision::processes_referencing(&sandbox.root()).is_empty(),
        "{}",
        ps(&sandbox.root())
    );
}
