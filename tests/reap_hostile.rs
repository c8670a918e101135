//! A hostile servers directory must not make keyrace signal anything: markers planted by
//! another user, directories named as a prefix of a live run's directory, and markers naming
//! processes that are not servers keyrace started. Needs root (to plant files as `nobody`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use keyrace::provision::{self, Marker, SERVERS_DIR_ENV};

const NOBODY: u32 = 65534;

/// A process that must survive: its own process group, so a group signal would reach it.
struct Victim {
    child: Child,
}

impl Victim {
    /// `program` (default `sleep`) with `args`, in a process group of its own.
    fn spawn(program: &Path, args: &[&str]) -> Victim {
        let child = Command::new(program)
            .args(args)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Victim { child }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn start(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        after.split_whitespace().nth(19).unwrap().parse().unwrap()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dead_pid() -> i32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id() as i32;
    c.wait().unwrap();
    pid
}

fn keyrace(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .env(SERVERS_DIR_ENV, root)
        .args(args)
        .output()
        .unwrap()
}

fn plant(dir: &Path, marker: &Marker, owner: Option<u32>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    marker.write(dir).unwrap();
    if let Some(uid) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
        std::os::unix::fs::chown(dir.join("owner.pid"), Some(uid), Some(uid)).unwrap();
    }
}

fn marker_naming(victim: &Victim, owner_pid: i32) -> Marker {
    Marker {
        owner_pid,
        owner_start: None,
        server_pid: Some(victim.pid()),
        server_start: Some(victim.start()),
        dialect: "postgres".into(),
        port: None,
    }
}

/// A servers root of keyrace's own user, as keyrace makes it (mode 0711), under `tmp`.
fn own_root(tmp: &Path) -> PathBuf {
    let root = tmp.join("servers");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).unwrap();
    root
}

fn require_root() {
    assert!(
        provision::running_as_root(),
        "this test plants files as another user and must run as root (CI does)"
    );
}

/// The shell's script for a process that waits, with whatever arguments follow.
const WAIT: &str = "while :; do sleep 1; done";

/// A copy of `sh` named `postgres`: run as `postgres -c WAIT postgres -D DIR` it looks like a
/// server to anything that checks the executable's name and arguments.
fn fake_postgres(dir: &Path) -> PathBuf {
    let path = dir.join("bin/postgres");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy("/bin/sh", &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_root_owned_by_another_user_is_not_trusted() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("servers");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::chown(&root, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut victim = Victim::spawn(Path::new("sleep"), &["300"]);
    let owner = dead_pid();
    let session = root.join(format!("postgres-{owner}-abcd1234"));
    plant(&session, &marker_naming(&victim, owner), Some(NOBODY));

    for args in [&["check", "."][..], &["reap"][..]] {
        let out = keyrace(&root, args);
        assert!(victim.alive(), "keyrace {args:?} killed the victim");
        assert!(
            session.exists(),
            "keyrace {args:?} removed a planted directory"
        );
        if args == ["reap"] {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert!(stderr.contains("not reaping"), "{stderr}");
            assert!(stderr.contains("owned by uid 65534"), "{stderr}");
        }
    }
}

#[test]
fn a_session_directory_of_another_user_is_left_alone() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let root = own_root(tmp.path());
    let mut victim = Victim::spawn(Path::new("sleep"), &["300"]);
    let owner = dead_pid();
    let session = root.join(format!("postgres-{owner}-abcd1234"));
    plant(&session, &marker_naming(&victim, owner), Some(NOBODY));
    let out = keyrace(&root, &["reap"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(victim.alive(), "{stderr}");
    assert!(session.exists(), "{stderr}");
    assert!(stderr.contains("left alone"), "{stderr}");
}

#[test]
fn a_marker_naming_a_process_that_is_not_a_server_kills_nothing() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let root = own_root(tmp.path());
    let owner = dead_pid();
    let session = root.join(format!("postgres-{owner}-abcd1234"));
    // Even an argument naming the session directory does not make `sleep` a server.
    let data = session.join("data");
    let mut victim = Victim::spawn(Path::new("sh"), &["-c", WAIT, "sh", data.to_str().unwrap()]);
    plant(&session, &marker_naming(&victim, owner), None);
    let out = keyrace(&root, &["reap"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(victim.alive(), "{stderr}");
    // The orphaned directory itself is keyrace's and is removed.
    assert!(!session.exists(), "{stderr}");
}

#[test]
fn a_prefix_of_a_live_directory_does_not_match_it() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let root = own_root(tmp.path());
    let postgres = fake_postgres(tmp.path());
    let owner = dead_pid();
    // A live "server" of another run whose directory name starts with the orphan's name.
    let other = root.join(format!("postgres-{owner}-abcd1234x"));
    std::fs::create_dir_all(other.join("data")).unwrap();
    let other_data = other.join("data");
    let mut live = Victim::spawn(
        &postgres,
        &["-c", WAIT, "postgres", "-D", other_data.to_str().unwrap()],
    );
    let orphan = root.join(format!("postgres-{owner}-abcd1234"));
    plant(
        &orphan,
        &Marker {
            owner_pid: owner,
            dialect: "postgres".into(),
            ..Marker::default()
        },
        None,
    );
    let out = keyrace(&root, &["reap"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        live.alive(),
        "reap killed a process of another directory: {stderr}"
    );
    assert!(!orphan.exists(), "{stderr}");
    assert!(other.exists(), "{stderr}");
}

#[test]
fn a_verified_orphan_server_is_still_stopped() {
    // The positive control: everything checks out, so the orphan is stopped.
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let root = own_root(tmp.path());
    let postgres = fake_postgres(tmp.path());
    let owner = dead_pid();
    let session = root.join(format!("postgres-{owner}-abcd1234"));
    let data = session.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut server = Victim::spawn(
        &postgres,
        &["-c", WAIT, "postgres", "-D", data.to_str().unwrap()],
    );
    plant(&session, &marker_naming(&server, owner), None);

    // `check` never reaps.
    let out = keyrace(&root, &["check", "/nonexistent.toml"]);
    assert!(server.alive(), "check signalled a process: {:?}", out);
    assert!(session.exists());

    let out = keyrace(&root, &["reap"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("reaped a throwaway server"), "{stderr}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while server.alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!server.alive(), "the verified orphan still runs: {stderr}");
    assert!(!session.exists(), "{stderr}");
}
