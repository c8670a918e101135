//! The binary as a user runs it: exit codes (0 held, 1 expectation failed, 2 bad input or
//! harness error), located errors, results written and re-rendered, nothing left behind,
//! no password printed.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use keyrace::db::{Conn, Dialect};

fn keyrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args(args)
        .env_remove("KEYRACE_OUT")
        .output()
        .expect("run keyrace")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SCENARIO: &str = r#"# a test scenario
name = "cli-test"
teaches = "exit codes"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
[workload]
workers = 4
operations = 80
mode = "rounds"
[[strategy]]
use = "insert-catch-select"
[[expect]]
that = ["duplicate_rows = 0", "rows = 20", "EXPECT"]
"#;

fn scenario(dir: &Path, expect: &str) -> String {
    let p = dir.join("s.toml");
    std::fs::write(&p, SCENARIO.replace("EXPECT", expect)).unwrap();
    p.display().to_string()
}

fn urls() -> Vec<String> {
    vec![
        "--postgres".into(),
        common::url(Dialect::Postgres),
        "--mysql".into(),
        common::url(Dialect::Mysql),
    ]
}

#[test]
fn held_expectations_exit_0_and_results_can_be_shown_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "unique_violation = 0");
    let out_dir = dir.path().join("out");
    let mut args = vec!["run", &file, "--out", out_dir.to_str().unwrap(), "--quiet"];
    let u = urls();
    args.extend(u.iter().map(String::as_str));
    let out = keyrace(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("insert-catch-select")
            && stdout.contains("PostgreSQL")
            && stdout.contains("MariaDB"),
        "{stdout}"
    );
    let json = stderr
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .expect("results path printed");
    assert!(Path::new(json).exists());
    assert!(
        out_dir.read_dir().unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "html"))
    );
    let shown = keyrace(&["show", json]);
    assert_eq!(shown.status.code(), Some(0));
    assert!(text(&shown.stdout).contains("insert-catch-select"));
    // The run's databases are gone.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let run_id = report["run_id"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut pg = Conn::connect(Dialect::Postgres, &common::url(Dialect::Postgres)).await.unwrap();
        let n = pg.scalar_text(&format!("SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'keyrace_{run_id}%'")).await.unwrap();
        assert_eq!(n.as_deref(), Some("0"), "postgres databases left behind");
        let mut my = Conn::connect(Dialect::Mysql, &common::url(Dialect::Mysql)).await.unwrap();
        let n = my.scalar_text(&format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'keyrace_{run_id}%'")).await.unwrap();
        assert_eq!(n.as_deref(), Some("0"), "mysql databases left behind");
    });
}

#[test]
fn a_failed_expectation_exits_1_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "handled_unique_violation = 0");
    let out_dir = dir.path().join("out");
    let mut args = vec![
        "run",
        &file,
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
        "--no-html",
    ];
    let u = urls();
    args.extend(u.iter().map(String::as_str));
    let out = keyrace(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("✗ handled_unique_violation = 0"),
        "{stdout}"
    );
    assert!(stdout.contains("failed"), "{stdout}");
}

#[test]
fn a_bad_file_exits_2_with_file_line_and_column() {
    let bad =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/unknown-strategy.toml");
    for cmd in ["check", "run"] {
        let out = keyrace(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(
                "unknown-strategy.toml:11:7: error: unknown strategy `check-than-insert`"
            ),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = keyrace(&["run", "/no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/no/such/dir"));
    let out = keyrace(&["show", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreachable_server_exits_2_without_printing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "errors = 0");
    let out = keyrace(&[
        "run",
        &file,
        "--only",
        "postgres",
        "--postgres",
        "postgres://alice:s3cretpw@127.0.0.1:1/db",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out.stderr) + &text(&out.stdout);
    assert!(all.contains("postgres://alice:***@127.0.0.1:1/db"), "{all}");
    assert!(!all.contains("s3cretpw"), "{all}");
}

#[test]
fn bundled_scenarios_check_clean() {
    let out = keyrace(&["check", concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
