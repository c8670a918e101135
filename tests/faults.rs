//! Faults at run time, against throwaway servers each test starts itself (never the
//! machine's services): a server killed or stopped (SIGSTOP) mid-run, a silent listener,
//! two quick SIGINTs, a step with a typo'd column, a step that fails on every operation, and
//! a SIGKILLed run whose database `keyrace reap` drops. Each asserts the exit code, a
//! generous bound on the time to exit, the results written, and that nothing is left
//! (databases `keyrace_%`, state files, processes). Times to exit are printed (`--nocapture`).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use keyrace::db::{Conn, Dialect};
use keyrace::provision::{self, ServerSpec};

/// A temporary directory for one test: results, state directory, scenario files, log.
struct Sandbox {
    tmp: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            tmp: tempfile::tempdir().unwrap(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// `keyrace` with this sandbox's state directory and servers root, no URL from the
    /// environment, run in the sandbox.
    fn keyrace(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyrace"));
        c.env("KEYRACE_STATE_DIR", self.state_dir())
            .env(provision::SERVERS_DIR_ENV, self.path("servers"))
            .env_remove("KEYRACE_POSTGRES_URL")
            .env_remove("KEYRACE_MYSQL_URL")
            .env_remove("KEYRACE_OUT")
            .current_dir(self.tmp.path());
        c
    }

    /// `keyrace run --quiet --no-html --out results ARGS...`, output to `keyrace.log`, in its
    /// own process group.
    fn spawn_run(&self, args: &[&str]) -> Child {
        let log = std::fs::File::create(self.path("keyrace.log")).unwrap();
        let mut c = self.keyrace();
        c.args(["run", "--quiet", "--no-html", "--out"])
            .arg(self.path("results"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        c.spawn().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("keyrace.log")).unwrap_or_default()
    }

    /// The one results file written, as JSON.
    fn results(&self) -> serde_json::Value {
        let dir = self.path("results");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no results in {}: {e}\n{}", dir.display(), self.log()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}\n{}", self.log());
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Starts a throwaway server through keyrace's own `local` provider.
    fn start(&self, dialect: Dialect) -> provision::Server {
        self.rt
            .block_on(provision::start(dialect, &ServerSpec::Local))
            .unwrap_or_else(|e| panic!("cannot start a throwaway {dialect} server: {e}"))
    }

    fn stop(&self, server: provision::Server) {
        let dir = server.dir.clone();
        self.rt.block_on(server.stop()).unwrap();
        if let Some(d) = dir {
            assert!(!d.exists(), "{} still exists", d.display());
        }
    }

    /// Databases named `keyrace_%` on the server.
    fn keyrace_dbs(&self, dialect: Dialect, url: &str) -> Vec<String> {
        self.rt.block_on(async {
            let mut c = Conn::connect(dialect, url).await.unwrap();
            let sql = match dialect {
                Dialect::Postgres => {
                    "SELECT datname FROM pg_database WHERE datname LIKE 'keyrace\\_%' ORDER BY 1"
                }
                Dialect::Mysql => {
                    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'keyrace\\_%' ORDER BY 1"
                }
            };
            let (_, rows) = c.rows_text(sql).await.unwrap();
            c.close().await;
            rows.into_iter().filter_map(|r| r[0].clone()).collect()
        })
    }

    /// Waits until a database `keyrace_*_<n>` exists (cell n has started), then `settle`.
    fn wait_for_cell(
        &self,
        dialect: Dialect,
        url: &str,
        n: u32,
        child: &mut Child,
        settle: Duration,
    ) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let suffix = format!("_{n}");
        loop {
            if self
                .keyrace_dbs(dialect, url)
                .iter()
                .any(|d| d.ends_with(&suffix))
            {
                std::thread::sleep(settle);
                return;
            }
            if let Some(s) = child.try_wait().unwrap() {
                panic!(
                    "keyrace exited ({s}) before cell {n} started:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "cell {n} not started after 120 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn state_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.state_dir())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits for `child` at most `limit`; kills it and fails when it is still running.
fn exit_within(
    sandbox: &Sandbox,
    child: &mut Child,
    limit: Duration,
    what: &str,
) -> (i32, Duration) {
    exit_within_then(sandbox, child, limit, what, || {})
}

/// [`exit_within`], running `after` (e.g. SIGCONT to a stopped server) once the wait ends,
/// whether or not `child` exited, so a failing test leaves nothing stopped.
fn exit_within_then(
    sandbox: &Sandbox,
    child: &mut Child,
    limit: Duration,
    what: &str,
    after: impl FnOnce(),
) -> (i32, Duration) {
    let t0 = Instant::now();
    let status = wait_exit(child, limit);
    after();
    let Some(status) = status else {
        let _ = child.kill();
        panic!(
            "keyrace still runs {limit:?} after {what}:\n{}",
            sandbox.log()
        );
    };
    let took = t0.elapsed();
    eprintln!("TIME-TO-EXIT {what}: {} ms, {status}", took.as_millis());
    (status.code().unwrap_or(-1), took)
}

fn signal_group(child: &Child, sig: libc::c_int) {
    // SAFETY: signals the child's own process group (process_group(0) made it the leader).
    unsafe { libc::kill(-(child.id() as i32), sig) };
}

/// The pids of `pid`'s children and their children (from `/proc/*/stat`, field 4).
fn descendants(pid: i32) -> Vec<i32> {
    let parent_of = |p: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        stat[stat.rfind(')')? + 1..]
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let all: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(all.iter().copied().filter(|&c| parent_of(c) == Some(p)));
        i += 1;
    }
    found.remove(0);
    found
}

/// Signals the server and every process it forked. PostgreSQL backends call setsid(), so
/// signalling the postmaster's process group would miss them.
fn signal_server(server: &provision::Server, sig: libc::c_int) {
    let pid = server.pid.expect("a local server has a pid") as i32;
    let children = descendants(pid);
    // SAFETY: the throwaway server this test started leads its own process group; the
    // other pids are its own children, read just now.
    unsafe { libc::kill(-pid, sig) };
    for c in children {
        // SAFETY: as above.
        unsafe { libc::kill(c, sig) };
    }
}

fn signup_args<'a>(dialect: Dialect, url: &'a str, duration: &'a str) -> Vec<&'a str> {
    let (flag, only) = match dialect {
        Dialect::Postgres => ("--postgres", "postgres"),
        Dialect::Mysql => ("--mysql", "mysql"),
    };
    vec![
        flag,
        url,
        "--only",
        only,
        "--duration",
        duration,
        "--strategy",
        "check-then-insert,insert-catch-select,advisory-lock",
        concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/signup-race.toml"),
    ]
}

fn results_of(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["scenarios"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn server_killed_mid_run(dialect: Dialect) {
    let sandbox = Sandbox::new();
    let server = sandbox.start(dialect);
    let url = server.url.clone();
    let mut keyrace = sandbox.spawn_run(&signup_args(dialect, &url, "3s"));
    // The first cell is done and the second one running when the server dies.
    sandbox.wait_for_cell(dialect, &url, 2, &mut keyrace, Duration::from_millis(1500));
    signal_server(&server, libc::SIGKILL);
    let (code, took) = exit_within(
        &sandbox,
        &mut keyrace,
        Duration::from_secs(40),
        &format!("kill -9 of the {dialect} server"),
    );
    let log = sandbox.log();
    assert_eq!(code, 2, "{log}");
    assert!(took < Duration::from_secs(40));
    let json = sandbox.results();
    let results = results_of(&json);
    assert!(
        results.len() >= 2,
        "completed and interrupted cells kept: {results:#?}\n{log}"
    );
    assert_eq!(results[0]["partial"], false, "{:#}", results[0]);
    assert!(results[0]["ops"].as_u64().unwrap() > 0);
    let cut = &results[1];
    assert_eq!(cut["partial"], true, "{cut:#}");
    assert!(
        cut["ops"].as_u64().unwrap() > 0,
        "partial figures kept: {cut:#}"
    );
    assert!(
        cut["note"]
            .as_str()
            .unwrap_or("")
            .starts_with("partial figures"),
        "{cut:#}"
    );
    assert!(
        log.contains("partial figures"),
        "shown under the table:\n{log}"
    );
    assert!(
        json["scenarios"][0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("lost mid-run"),
        "{json:#}"
    );
    sandbox.stop(server);
}

#[test]
fn postgres_killed_mid_run_keeps_completed_and_partial_cells() {
    server_killed_mid_run(Dialect::Postgres);
}

#[test]
fn mariadb_killed_mid_run_keeps_completed_and_partial_cells() {
    server_killed_mid_run(Dialect::Mysql);
}

fn server_stopped_for_good(dialect: Dialect) {
    let sandbox = Sandbox::new();
    let server = sandbox.start(dialect);
    let url = server.url.clone();
    let mut keyrace = sandbox.spawn_run(&signup_args(dialect, &url, "5s"));
    sandbox.wait_for_cell(dialect, &url, 1, &mut keyrace, Duration::from_millis(1500));
    signal_server(&server, libc::SIGSTOP);
    // The 5 s duration was about 3.5 s from its end: the run must end soon after it.
    let (code, _) = exit_within_then(
        &sandbox,
        &mut keyrace,
        Duration::from_secs(30),
        &format!("SIGSTOP of the {dialect} server (5 s run, stopped ~1.5 s in)"),
        || signal_server(&server, libc::SIGCONT),
    );
    let log = sandbox.log();
    assert_eq!(code, 2, "{log}");
    let json = sandbox.results();
    let results = results_of(&json);
    assert_eq!(results.len(), 1, "later cells skipped: {results:#?}");
    let r = &results[0];
    assert_eq!(r["partial"], true, "{r:#}");
    assert!(r["outcomes"]["timeout"].as_u64().unwrap() > 0, "{r:#}");
    assert!(r["ops"].as_u64().unwrap() > 0, "{r:#}");
    // keyrace could not drop its database on the stopped server: the run state file says
    // so, and `keyrace reap` drops it now that the server answers again.
    assert_eq!(sandbox.keyrace_dbs(dialect, &url).len(), 1);
    let t1 = Instant::now();
    let out = sandbox.keyrace().arg("reap").output().unwrap();
    eprintln!(
        "TIME keyrace reap after SIGSTOP: {} ms",
        t1.elapsed().as_millis()
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sandbox.keyrace_dbs(dialect, &url), Vec::<String>::new());
    assert!(
        sandbox.state_files().is_empty(),
        "{:?}",
        sandbox.state_files()
    );
    sandbox.stop(server);
}

#[test]
fn postgres_stopped_for_good_run_ends_on_time() {
    server_stopped_for_good(Dialect::Postgres);
}

#[test]
fn mariadb_stopped_for_good_run_ends_on_time() {
    server_stopped_for_good(Dialect::Mysql);
}

/// Accepts TCP connections and never answers; keeps them open until dropped.
fn silent_listener() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(20) {
            match s {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    (port, h)
}

fn run_output(sandbox: &Sandbox, args: &[&str], limit: Duration, what: &str) -> (Output, Duration) {
    let log = std::fs::File::create(sandbox.path("keyrace.log")).unwrap();
    let mut c = sandbox.keyrace();
    let mut child = c
        .args(["run", "--quiet", "--no-html", "--out"])
        .arg(sandbox.path("results"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    let (code, took) = exit_within(sandbox, &mut child, limit, what);
    let out = Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(code << 8),
        stdout: Vec::new(),
        stderr: sandbox.log().into_bytes(),
    };
    (out, took)
}

#[test]
fn silent_listener_fails_within_the_connect_timeout() {
    let (port, _h) = silent_listener();
    let sandbox = Sandbox::new();
    let stress = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/signup-race.toml");
    let interleaving = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/interleave/check-then-insert.toml"
    );
    for (flag, scheme, file, what) in [
        ("--postgres", "postgres", stress, "postgres stress run"),
        ("--mysql", "mysql", stress, "mysql stress run"),
        (
            "--postgres",
            "postgres",
            interleaving,
            "postgres interleaving",
        ),
    ] {
        let url = format!("{scheme}://keyrace:s3cret-pw@127.0.0.1:{port}/db");
        let only = if scheme == "postgres" {
            "postgres"
        } else {
            "mysql"
        };
        let (out, took) = run_output(
            &sandbox,
            &[flag, &url, "--only", only, file],
            Duration::from_secs(25),
            &format!("silent listener, {what}, default 10 s connect timeout"),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(took < Duration::from_secs(20), "{took:?}");
        assert!(
            err.contains(&format!("127.0.0.1:{port}")),
            "names the server: {err}"
        );
        assert!(!err.contains("s3cret-pw"), "password printed: {err}");
        assert!(err.contains("connect timeout"), "{err}");
    }
    // The flag shortens it.
    let url = format!("postgres://keyrace@127.0.0.1:{port}/db");
    let (out, took) = run_output(
        &sandbox,
        &[
            "--postgres",
            &url,
            "--only",
            "postgres",
            "--connect-timeout",
            "2s",
            stress,
        ],
        Duration::from_secs(10),
        "silent listener, --connect-timeout 2s",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn two_quick_sigints_do_not_skip_the_cleanup() {
    let sandbox = Sandbox::new();
    let pg = sandbox.start(Dialect::Postgres);
    let my = sandbox.start(Dialect::Mysql);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/signup-race.toml");
    let mut keyrace = sandbox.spawn_run(&[
        "--postgres",
        &pg.url,
        "--mysql",
        &my.url,
        "--duration",
        "600s",
        scenario,
    ]);
    sandbox.wait_for_cell(
        Dialect::Postgres,
        &pg.url,
        1,
        &mut keyrace,
        Duration::from_secs(1),
    );
    assert_eq!(
        sandbox.state_files().len(),
        1,
        "the run records its database"
    );
    signal_group(&keyrace, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(2));
    signal_group(&keyrace, libc::SIGINT);
    let (code, took) = exit_within(
        &sandbox,
        &mut keyrace,
        Duration::from_secs(30),
        "two SIGINTs 2 ms apart",
    );
    let log = sandbox.log();
    assert_eq!(code, 130, "{log}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let json = sandbox.results();
    assert_eq!(json["interrupted"], true);
    let results = results_of(&json);
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0]["partial"], true);
    assert!(results[0]["ops"].as_u64().unwrap() > 0);
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Postgres, &pg.url),
        Vec::<String>::new()
    );
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Mysql, &my.url),
        Vec::<String>::new()
    );
    assert!(
        sandbox.state_files().is_empty(),
        "{:?}",
        sandbox.state_files()
    );
    sandbox.stop(pg);
    sandbox.stop(my);
}

const CUSTOM_HEAD: &str = r#"name = "broken-step"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(200)) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
[workload]
workers = 4
operations = 400
"#;

#[test]
fn typo_column_fails_before_the_workload_with_the_servers_message() {
    let sandbox = Sandbox::new();
    let pg = sandbox.start(Dialect::Postgres);
    let my = sandbox.start(Dialect::Mysql);
    let file = sandbox.write(
        "typo.toml",
        &format!(
            "{CUSTOM_HEAD}\n[[strategy]]\nname = \"typo\"\n[[strategy.step]]\nname = \"lookup\"\nsql = \"SELECT idd FROM users WHERE email = {{key}}\"\n[[strategy.step]]\nwhen = \"not-found\"\nsql = \"INSERT INTO users (email) VALUES ({{key}})\"\n"
        ),
    );
    for (dialect, flag, url, message) in [
        (
            Dialect::Postgres,
            "--postgres",
            &pg.url,
            "column \"idd\" does not exist",
        ),
        (Dialect::Mysql, "--mysql", &my.url, "Unknown column 'idd'"),
    ] {
        let (out, took) = run_output(
            &sandbox,
            &[flag, url, "--only", dialect.name(), file.to_str().unwrap()],
            Duration::from_secs(60),
            &format!("typo'd column on {dialect}"),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(message), "{err}");
        assert!(err.contains("strategy typo, step lookup"), "{err}");
        assert!(err.contains("typo.toml:16:7"), "located: {err}");
        let json = sandbox.results();
        assert!(results_of(&json).is_empty(), "no operation ran: {json:#}");
        assert_eq!(sandbox.keyrace_dbs(dialect, url), Vec::<String>::new());
        let _ = took;
        std::fs::remove_dir_all(sandbox.path("results")).unwrap();
    }
    // `keyrace check` with servers finds it too, on both engines, without a run.
    let out = sandbox
        .keyrace()
        .args(["check", "--postgres", &pg.url, "--mysql", &my.url])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("column \"idd\" does not exist") && err.contains("Unknown column 'idd'"),
        "{err}"
    );
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Postgres, &pg.url),
        Vec::<String>::new()
    );
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Mysql, &my.url),
        Vec::<String>::new()
    );
    assert!(sandbox.state_files().is_empty());
    sandbox.stop(pg);
    sandbox.stop(my);
}

#[test]
fn an_error_on_every_operation_stops_the_cell_with_its_message() {
    let sandbox = Sandbox::new();
    let pg = sandbox.start(Dialect::Postgres);
    // Prepares fine, fails at every execution: the subquery returns two rows.
    let file = sandbox.write(
        "every-op.toml",
        &format!(
            "{CUSTOM_HEAD}\n[[strategy]]\nname = \"two-rows\"\n[[strategy.step]]\nname = \"lookup\"\nsql = \"SELECT id FROM users WHERE email = {{key}} OR id = (SELECT 1 UNION ALL SELECT 2)\"\n"
        ),
    );
    let (out, _) = run_output(
        &sandbox,
        &[
            "--postgres",
            &pg.url,
            "--only",
            "postgres",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(60),
        "an error on every operation",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("more than one row returned by a subquery"),
        "{err}"
    );
    assert!(err.contains("step lookup"), "{err}");
    let json = sandbox.results();
    let r = &results_of(&json)[0];
    assert!(r["ops"].as_u64().unwrap() < 400, "stopped early: {r:#}");
    let e = &r["errors"][0];
    assert_eq!(e["code"], "21000", "{r:#}");
    assert_eq!(e["step"], "lookup");
    assert!(e["message"].as_str().unwrap().contains("more than one row"));
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Postgres, &pg.url),
        Vec::<String>::new()
    );
    sandbox.stop(pg);
}

#[test]
fn sigkilled_run_against_a_url_server_is_reaped() {
    let sandbox = Sandbox::new();
    let pg = sandbox.start(Dialect::Postgres);
    let mut keyrace = sandbox.spawn_run(&signup_args(Dialect::Postgres, &pg.url, "600s"));
    sandbox.wait_for_cell(
        Dialect::Postgres,
        &pg.url,
        1,
        &mut keyrace,
        Duration::from_millis(500),
    );
    keyrace.kill().unwrap();
    keyrace.wait().unwrap();
    let left = sandbox.keyrace_dbs(Dialect::Postgres, &pg.url);
    assert_eq!(left.len(), 1, "a SIGKILL cannot be caught: {left:?}");
    let files = sandbox.state_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(sandbox.state_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    let t0 = Instant::now();
    let out = sandbox.keyrace().arg("reap").output().unwrap();
    eprintln!(
        "TIME keyrace reap of a SIGKILLed run: {} ms",
        t0.elapsed().as_millis()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("dropped database {}", left[0])),
        "{err}"
    );
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Postgres, &pg.url),
        Vec::<String>::new()
    );
    assert!(sandbox.state_files().is_empty());
    sandbox.stop(pg);
}

#[test]
fn reap_trusts_no_state_directory_it_does_not_own_alone() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.state_dir()).unwrap();
    std::fs::set_permissions(sandbox.state_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = sandbox.keyrace().arg("reap").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not safe to use") && err.contains("mode 777"),
        "{err}"
    );
    // A planted state file owned by someone else is ignored, not acted on.
    std::fs::set_permissions(sandbox.state_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let planted = sandbox.state_dir().join("run-abcd1234.json");
    std::fs::write(
        &planted,
        r#"{"run_id":"abcd1234","owner_pid":999999,"owner_start":null,"databases":[{"dialect":"postgres","url":"postgres://postgres@127.0.0.1:1/x","server":"x","database":"keyrace_abcd1234_1"}]}"#,
    )
    .unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sandbox.keyrace().arg("reap").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ignored") && err.contains("run-abcd1234.json"),
        "{err}"
    );
    assert!(planted.exists());
}

#[test]
fn sigint_with_a_stopped_server_ends_within_seconds_with_results() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(Dialect::Postgres);
    let url = server.url.clone();
    let mut keyrace = sandbox.spawn_run(&signup_args(Dialect::Postgres, &url, "600s"));
    sandbox.wait_for_cell(
        Dialect::Postgres,
        &url,
        1,
        &mut keyrace,
        Duration::from_millis(1500),
    );
    signal_server(&server, libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(1));
    signal_group(&keyrace, libc::SIGINT);
    let (code, took) = exit_within_then(
        &sandbox,
        &mut keyrace,
        Duration::from_secs(30),
        "SIGINT with the postgres server stopped",
        || signal_server(&server, libc::SIGCONT),
    );
    let log = sandbox.log();
    assert_eq!(code, 130, "{log}");
    assert!(took < Duration::from_secs(10), "{took:?}\n{log}");
    let json = sandbox.results();
    assert_eq!(json["interrupted"], true);
    assert_eq!(results_of(&json)[0]["partial"], true);
    // The database could not be dropped on the stopped server; reap does it now.
    let out = sandbox.keyrace().arg("reap").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Postgres, &url),
        Vec::<String>::new()
    );
    assert!(sandbox.state_files().is_empty());
    sandbox.stop(server);
}

#[test]
fn a_statement_past_its_deadline_is_counted_as_timeout_and_cancelled() {
    let sandbox = Sandbox::new();
    let pg = sandbox.start(Dialect::Postgres);
    let my = sandbox.start(Dialect::Mysql);
    let file = sandbox.write(
        "slow.toml",
        &format!(
            "{}statement_timeout_ms = 500\n\n[[strategy]]\nname = \"sleepy\"\n[[strategy.step]]\nname = \"nap\"\npostgres = \"SELECT pg_sleep(30) WHERE {{key}} IS NOT NULL\"\nmysql = \"SELECT SLEEP(30) FROM DUAL WHERE {{key}} IS NOT NULL\"\n",
            CUSTOM_HEAD.replace("operations = 400", "operations = 8")
        ),
    );
    let (out, took) = run_output(
        &sandbox,
        &[
            "--postgres",
            &pg.url,
            "--mysql",
            &my.url,
            file.to_str().unwrap(),
        ],
        Duration::from_secs(60),
        "8 statements past a 500 ms deadline, 4 workers, both engines",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    let json = sandbox.results();
    for r in results_of(&json) {
        assert_eq!(r["outcomes"]["timeout"], 8, "{r:#}");
        assert_eq!(r["errors"][0]["code"], "timeout", "{r:#}");
        assert_eq!(r["errors"][0]["step"], "nap", "{r:#}");
        assert!(
            r["note"].as_str().unwrap().contains("statements cancelled"),
            "{r:#}"
        );
    }
    // No statement left running on either server: cancelled, not abandoned.
    sandbox.rt.block_on(async {
        let mut c = Conn::connect(Dialect::Postgres, &pg.url).await.unwrap();
        let n = c
            .scalar_text("SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()")
            .await
            .unwrap();
        assert_eq!(n.as_deref(), Some("0"));
        let mut c = Conn::connect(Dialect::Mysql, &my.url).await.unwrap();
        let n = c
            .scalar_text("SELECT CAST(count(*) AS CHAR) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(30)%' AND ID <> CONNECTION_ID()")
            .await
            .unwrap();
        assert_eq!(n.as_deref(), Some("0"));
    });
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Postgres, &pg.url),
        Vec::<String>::new()
    );
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Mysql, &my.url),
        Vec::<String>::new()
    );
    sandbox.stop(pg);
    sandbox.stop(my);
}

#[test]
fn a_third_sigint_abandons_the_cleanup_and_says_what_is_left() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(Dialect::Postgres);
    let url = server.url.clone();
    let mut keyrace = sandbox.spawn_run(&signup_args(Dialect::Postgres, &url, "600s"));
    sandbox.wait_for_cell(
        Dialect::Postgres,
        &url,
        1,
        &mut keyrace,
        Duration::from_millis(1000),
    );
    // A stopped server makes the clean-up take a second or two: time for a third Ctrl-C.
    signal_server(&server, libc::SIGSTOP);
    signal_group(&keyrace, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(2));
    signal_group(&keyrace, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    signal_group(&keyrace, libc::SIGINT);
    let (code, took) = exit_within_then(
        &sandbox,
        &mut keyrace,
        Duration::from_secs(30),
        "third SIGINT (server stopped)",
        || signal_server(&server, libc::SIGCONT),
    );
    let log = sandbox.log();
    assert_eq!(code, 130, "{log}");
    assert!(took < Duration::from_secs(5), "{log}");
    assert!(log.contains("still cleaning up"), "{log}");
    assert!(
        log.contains("left behind") && log.contains("keyrace reap"),
        "{log}"
    );
    assert!(log.contains("keyrace_"), "names the database: {log}");
    let out = sandbox.keyrace().arg("reap").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sandbox.keyrace_dbs(Dialect::Postgres, &url),
        Vec::<String>::new()
    );
    assert!(sandbox.state_files().is_empty());
    sandbox.stop(server);
}
