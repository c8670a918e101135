//! The PostgreSQL version matrix: throwaway servers of majors 13, 15 and 17 started by
//! `--postgres local:<major>`, what really differs between them (MERGE, MERGE … RETURNING
//! merge_action()), the sign-up strategies on each, and the bundled
//! scenarios/merge-across-versions.toml with every expectation holding on all three.
//!
//! Needs the binaries: 15 from the Debian package, 13 and 17 from
//! `scripts/install-postgres.sh 13 17` (.ci/run installs them). A missing major fails with
//! the install command.

mod common;

use std::path::Path;

use keyrace::app::{self, Server};
use keyrace::db::{Conn, Dialect};
use keyrace::provision::ServerSpec;
use keyrace::report::Report;
use tokio_util::sync::CancellationToken;

/// The majors the suite exercises.
const MAJORS: [u32; 3] = [13, 15, 17];

fn url_of(major: u32) -> String {
    common::spec_url(Dialect::Postgres, &ServerSpec::LocalMajor(major))
}

async fn conn(major: u32) -> Conn {
    let url = url_of(major);
    Conn::connect(Dialect::Postgres, &url)
        .await
        .unwrap_or_else(|e| panic!("connect to local:{major}: {e}"))
}

async fn server(major: u32) -> Server {
    app::connect_server(Dialect::Postgres, &url_of(major), "local", None)
        .await
        .unwrap_or_else(|e| panic!("local:{major}: {e}"))
}

/// Runs `SQL` on a fresh temporary table `t(k int primary key, n int)` and returns the first
/// value, or the error's SQLSTATE.
async fn on_temp_table(major: u32, sql: &str) -> Result<Option<String>, String> {
    let mut c = conn(major).await;
    c.batch("CREATE TEMP TABLE t (k int PRIMARY KEY, n int NOT NULL)")
        .await
        .unwrap_or_else(|e| panic!("local:{major}: {e}"));
    let r = c.scalar_text(sql).await.map_err(|e| e.code.clone());
    c.close().await;
    r
}

const MERGE: &str = "MERGE INTO t USING (SELECT 1 AS k) AS s ON t.k = s.k \
    WHEN MATCHED THEN UPDATE SET n = t.n + 1 WHEN NOT MATCHED THEN INSERT (k, n) VALUES (s.k, 1)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_local_major_runs_that_major() {
    for major in MAJORS {
        let mut c = conn(major).await;
        let num = c
            .scalar_text("SELECT current_setting('server_version_num')")
            .await
            .unwrap()
            .expect("server_version_num");
        c.close().await;
        let num: u32 = num.parse().expect("a number");
        assert_eq!(
            num / 10_000,
            major,
            "local:{major} runs server_version_num {num}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_is_a_syntax_error_on_13_and_works_on_15() {
    assert_eq!(
        on_temp_table(13, MERGE).await,
        Err("42601".to_string()),
        "PostgreSQL 13 has no MERGE"
    );
    assert_eq!(on_temp_table(15, MERGE).await, Ok(None));
    let mut c = conn(15).await;
    c.batch(&format!(
        "CREATE TEMP TABLE t (k int PRIMARY KEY, n int NOT NULL); {MERGE}; {MERGE}"
    ))
    .await
    .unwrap();
    assert_eq!(
        c.scalar_text("SELECT n FROM t WHERE k = 1").await.unwrap(),
        Some("2".into()),
        "the first MERGE inserted, the second updated"
    );
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_returning_merge_action_works_on_17_and_fails_on_15() {
    let returning = format!("{MERGE} RETURNING merge_action()");
    assert_eq!(
        on_temp_table(15, &returning).await,
        Err("42601".to_string()),
        "PostgreSQL 15 has no RETURNING on MERGE"
    );
    let mut c = conn(17).await;
    c.batch("CREATE TEMP TABLE t (k int PRIMARY KEY, n int NOT NULL)")
        .await
        .unwrap();
    assert_eq!(
        c.scalar_text(&returning).await.unwrap().as_deref(),
        Some("INSERT")
    );
    assert_eq!(
        c.scalar_text(&returning).await.unwrap().as_deref(),
        Some("UPDATE")
    );
    c.close().await;
}

/// Runs the plan in `path` on the three servers, side by side.
async fn run_on_all(path: &Path, servers: &[Server]) -> Report {
    let plan = keyrace::scenario::load(path).unwrap_or_else(|d| panic!("{d}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let args = common::args(dir.path());
    app::run_plans(&[plan], servers, &args, vec![], &CancellationToken::new()).await
}

async fn all_servers() -> Vec<Server> {
    let mut servers = Vec::new();
    for major in MAJORS {
        servers.push(server(major).await);
    }
    app::disambiguate(&mut servers);
    servers
}

/// The result of `strategy` on the server of `major`.
fn cell<'a>(
    report: &'a Report,
    servers: &[Server],
    strategy: &str,
    major: u32,
) -> &'a keyrace::report::StrategyResult {
    let i = MAJORS.iter().position(|&m| m == major).unwrap();
    let label = &servers[i].target.label;
    report.scenarios[0]
        .results
        .iter()
        .find(|r| r.strategy == strategy && &r.database == label)
        .unwrap_or_else(|| panic!("no result for {strategy} on {label}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_merge_scenario_holds_on_13_15_and_17() {
    let servers = all_servers().await;
    let labels: Vec<&str> = servers.iter().map(|s| s.target.label.as_str()).collect();
    for (label, major) in labels.iter().zip(MAJORS) {
        assert!(
            label.starts_with(&format!("PostgreSQL {major}.")),
            "the label names the version: {label}"
        );
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/merge-across-versions.toml");
    let report = run_on_all(&path, &servers).await;
    let s = &report.scenarios[0];
    assert!(s.error.is_none(), "{:?}", s.error);
    assert!(!report.has_errors());
    assert!(
        report.all_held(),
        "every expectation holds on 13, 15 and 17: {:#?}",
        s.results
            .iter()
            .map(|r| (&r.strategy, &r.database, &r.expectations))
            .collect::<Vec<_>>()
    );
    // What is available where: MERGE from 15, RETURNING merge_action() from 17.
    let note = |st, major| {
        cell(&report, &servers, st, major)
            .note
            .clone()
            .unwrap_or_default()
    };
    let available = |st, major| cell(&report, &servers, st, major).available;
    assert!(
        MAJORS
            .iter()
            .all(|&m| available("on-conflict-do-update", m))
    );
    assert!(!available("merge", 13), "{}", note("merge", 13));
    assert!(note("merge", 13).contains("needs MERGE (PostgreSQL 15 or later)"));
    assert!(available("merge", 15) && available("merge", 17));
    assert!(!available("merge-returning-action", 13) && !available("merge-returning-action", 15));
    assert!(note("merge-returning-action", 15).contains("(PostgreSQL 17 or later)"));
    assert!(available("merge-returning-action", 17));
    // 15's MERGE cannot say it inserted; 17's RETURNING merge_action() can.
    assert_eq!(cell(&report, &servers, "merge", 15).outcomes.inserted, 0);
    assert_eq!(
        cell(&report, &servers, "merge-returning-action", 17)
            .outcomes
            .inserted,
        cell(&report, &servers, "on-conflict-do-update", 17)
            .outcomes
            .inserted
    );
    // Side by side, the JSON tells the three servers apart.
    let json = serde_json::to_value(&report).unwrap();
    let names: Vec<String> = json["servers"]
        .as_array()
        .expect("servers in the JSON")
        .iter()
        .map(|s| s["database"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names
            .iter()
            .zip(MAJORS)
            .all(|(n, m)| n.starts_with(&format!("PostgreSQL {m}."))),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_strategies_on_13_15_and_17() {
    const ROUNDS: u64 = 30;
    const WORKERS: u64 = 6;
    let toml = format!(
        r#"
name = "pg-versions-signup"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)"
[table]
name = "users"
key = "email"
payload = "name"
[workload]
workers = {WORKERS}
operations = {}
mode = "rounds"
isolation = "read-committed"
[[strategy]]
use = "check-then-insert"
[[strategy]]
use = "on-conflict-do-nothing"
[[strategy]]
use = "on-conflict-do-update"
[[strategy]]
use = "merge"
"#,
        ROUNDS * WORKERS
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("signup.toml");
    std::fs::write(&path, toml).unwrap();
    let servers = all_servers().await;
    let report = run_on_all(&path, &servers).await;
    assert!(
        report.scenarios[0].error.is_none(),
        "{:?}",
        report.scenarios[0].error
    );
    for major in MAJORS {
        let r = |st| cell(&report, &servers, st, major);
        let racy = r("check-then-insert");
        assert!(
            racy.outcomes.unique_violation > 0,
            "check-then-insert on {major}: {:?}",
            racy.outcomes
        );
        for atomic in ["on-conflict-do-nothing", "on-conflict-do-update"] {
            let a = r(atomic);
            assert_eq!(a.ops, ROUNDS * WORKERS, "{atomic} on {major}");
            assert_eq!(
                a.outcomes.unique_violation + a.outcomes.other + a.outcomes.connection_error,
                0,
                "{atomic} on {major}: {:?}",
                a.outcomes
            );
            assert_eq!(a.outcomes.inserted, ROUNDS, "{atomic} on {major}");
        }
        for st in [
            "check-then-insert",
            "on-conflict-do-nothing",
            "on-conflict-do-update",
        ] {
            let x = r(st);
            assert_eq!(
                (x.duplicate_rows, x.missing_rows, x.rows),
                (0, 0, ROUNDS),
                "{st} on {major}"
            );
        }
        let m = r("merge");
        if major < 15 {
            assert!(!m.available, "merge on {major}");
            assert!(
                m.note
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("not available on PostgreSQL 13"),
                "{:?}",
                m.note
            );
        } else {
            assert!(m.available, "merge on {major}");
            assert_eq!(m.ops, ROUNDS * WORKERS);
            assert_eq!((m.duplicate_rows, m.rows), (0, ROUNDS), "merge on {major}");
            assert!(
                m.outcomes.unique_violation > 0,
                "concurrent MERGEs on {major} race into 23505: {:?}",
                m.outcomes
            );
        }
    }
}

/// `keyrace run FILE --postgres SPEC` with `env`, without the caller's server variables.
fn keyrace_run(file: &Path, spec: &str, out: &Path, env: &[(&str, &Path)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_keyrace"));
    c.args([
        "run",
        "--only",
        "postgres",
        "--no-html",
        "--postgres",
        spec,
        "--out",
    ])
    .arg(out)
    .arg(file)
    .env_remove("KEYRACE_POSTGRES_URL")
    .env_remove("KEYRACE_MYSQL_URL")
    .env_remove(keyrace::provision::PG_BIN_DIRS_ENV);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run keyrace")
}

const TINY: &str = r#"
name = "pg-bin-dirs"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE)"
[table]
name = "users"
key = "email"
[workload]
workers = 2
operations = 20
[[strategy]]
use = "on-conflict-do-nothing"
[[expect]]
that = ["errors = 0", "duplicate_rows = 0"]
"#;

#[test]
fn bin_dirs_variable_names_installations_of_any_major() {
    // The cache's trees of 13 and 17, named through KEYRACE_PG_BIN_DIRS (one as its bin/,
    // one as the directory holding bin/), with the cache itself pointed at an empty directory.
    let (c13, c17) = (
        keyrace::provision::cached_install(13),
        keyrace::provision::cached_install(17),
    );
    for (major, c) in [(13, &c13), (17, &c17)] {
        assert!(
            c.join("bin/postgres").is_file(),
            "{} missing: run {}",
            c.display(),
            keyrace::provision::install_command(major)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let empty = dir.path().join("empty-cache");
    std::fs::create_dir(&empty).unwrap();
    let dirs = std::env::join_paths([c17.clone(), c13.join("bin")]).unwrap();
    let out = dir.path().join("out");
    let o = keyrace_run(
        &file,
        "local:13",
        &out,
        &[
            (keyrace::provision::CACHE_DIR_ENV, &empty),
            (keyrace::provision::PG_BIN_DIRS_ENV, Path::new(&dirs)),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let json = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("results JSON");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let version = report["servers"][0]["version"].as_str().unwrap_or("");
    assert!(version.starts_with("PostgreSQL 13."), "{version}");
}

#[test]
fn a_missing_major_names_the_places_searched_and_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let empty = dir.path().join("empty-cache");
    std::fs::create_dir(&empty).unwrap();
    // No Debian package ships 11 on this machine kind, and the cache is empty.
    assert!(!Path::new("/usr/lib/postgresql/11/bin/postgres").exists());
    let o = keyrace_run(
        &file,
        "local:11",
        &dir.path().join("out"),
        &[(keyrace::provision::CACHE_DIR_ENV, &empty)],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    for part in [
        "no PostgreSQL 11 server binaries found",
        "KEYRACE_PG_BIN_DIRS",
        "/usr/lib/postgresql/11/bin",
        &empty.join("postgres/11/bin").display().to_string(),
        "scripts/install-postgres.sh 11",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interleaving_using_merge_is_skipped_on_13_with_the_version_it_needs() {
    let plan = keyrace::interleave::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/interleave/merge-unique-violation.toml"
    )))
    .unwrap_or_else(|d| panic!("{d}"));
    let targets: Vec<_> = [13, 15]
        .iter()
        .map(|&m| keyrace::db::Target::new(Dialect::Postgres, format!("pg{m}"), url_of(m)))
        .collect();
    let r = keyrace::interleave::run(&plan, &targets, CancellationToken::new())
        .await
        .expect("ran");
    let on13 = r.target("pg13").expect("13");
    assert_eq!(
        on13.skipped.as_deref(),
        Some("needs MERGE (PostgreSQL 15 or later)"),
        "{}",
        on13.render_text()
    );
    let on15 = r.target("pg15").expect("15");
    assert!(on15.skipped.is_none(), "{:?}", on15.skipped);
    assert!(!on15.permutations.is_empty());
}
