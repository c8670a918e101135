//! The `start` path of application scenarios on the real servers: keyrace creates a fresh
//! database per server, starts the sample application (the built example binary) on a free
//! port with that database's URL, waits until it is ready, races it, stops its process group
//! and drops the database; an application that exits before it is ready, or cannot be
//! started, is a harness error (exit 2) with its reason.

mod common;

use std::path::{Path, PathBuf};

use keyrace::app;
use keyrace::db::Dialect;
use keyrace::options::RunOptions;
use keyrace::report::Report;
use tokio_util::sync::CancellationToken;

/// The sample application's binary, built now if `cargo test` did not build it already.
fn sample_app() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--example", "signup_app"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the sample application failed");
    // target/debug/deps/app_start-<hash> -> target/debug/examples/signup_app
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/signup_app");
    assert!(bin.is_file(), "no {}", bin.display());
    bin
}

fn scenario(start: &str) -> String {
    format!(
        r#"
name = "start-test"
[workload]
workers = 4
operations = 80
mode = "rounds"

[app]
url = "http://127.0.0.1:{{port}}"
start = {start}
ready = "/health"
ready_timeout = "60s"
database = ["postgres", "mysql"]
setup = "DELETE FROM users"
verify = {{ rows = "SELECT count(*) FROM users" }}

[[endpoint]]
name = "fixed"
path = "/signup/fixed"
body = '{{"email": "{{key}}"}}'
headers = {{ content-type = "application/json" }}
status = {{ 201 = "inserted", 200 = "existed" }}

[[expect]]
that = ["inserted = rounds", "rows = rounds"]
"#
    )
}

async fn run(text: &str) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("start.toml");
    std::fs::write(&path, text).unwrap();
    let mut args = RunOptions::quiet(dir.path());
    args.postgres = vec![common::url(Dialect::Postgres)];
    args.mysql = vec![common::url(Dialect::Mysql)];
    args.paths = vec![path];
    app::run(&args, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("run failed: {e}"))
        .report
}

/// How many databases of run `run_id` are left on `dialect`'s server.
async fn left_over(dialect: Dialect, run_id: &str) -> String {
    let server = common::server(dialect).await;
    let sql = match dialect {
        Dialect::Postgres => format!(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'keyrace\\_{run_id}\\_app%'"
        ),
        Dialect::Mysql => format!(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'keyrace\\_{run_id}\\_app%'"
        ),
    };
    let mut c = keyrace::db::Conn::open(server.target.engine, &server.target.url)
        .await
        .unwrap();
    let n = c.scalar_text(&sql).await.unwrap().unwrap_or_default();
    c.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyrace_starts_the_application_per_server_and_stops_it() {
    let bin = sample_app();
    let report = run(&scenario(&format!(
        r#"["{}", "{{port}}", "{{database_url}}"]"#,
        bin.display()
    )))
    .await;
    let s = &report.scenarios[0];
    assert!(s.error.is_none(), "{:?}", s.error);
    assert_eq!(s.results.len(), 2, "one result per engine");
    for r in &s.results {
        assert!(
            r.verdict.as_ref().unwrap().is_safe(),
            "{}: {:?}",
            r.database,
            r.verdict
        );
        assert_eq!(r.outcomes.inserted, 20, "{}", r.database);
        assert!(r.held(), "{:?}", r.expectations);
    }
    // Every database the run created is dropped again.
    for dialect in Dialect::ALL {
        assert_eq!(left_over(dialect, &report.run_id).await, "0", "{dialect}");
    }
    // The application's process is gone: nothing of it runs any more.
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &bin.display().to_string()])
        .output();
    if let Ok(out) = ps {
        assert!(
            out.stdout.is_empty(),
            "still running: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_that_does_not_come_up_is_a_harness_error() {
    let report = run(&scenario(
        r#"["sh", "-c", "echo 'cannot bind port {port}' >&2; exit 4"]"#,
    ))
    .await;
    let e = report.scenarios[0].error.as_deref().expect("an error");
    assert!(
        e.contains("exited") && e.contains("cannot bind port"),
        "the reason and the application's standard error: {e}"
    );
    assert!(report.has_errors(), "exit 2");
    let report = run(&scenario(r#"["keyrace-no-such-app"]"#)).await;
    let e = report.scenarios[0].error.as_deref().expect("an error");
    assert!(e.contains("cannot start `keyrace-no-such-app`"), "{e}");
}
