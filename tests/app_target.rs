//! Application scenarios (`[app]`) on the real servers: the sample sign-up service
//! (`examples/signup_app.rs`, served in-process here) raced over HTTP through a scenario
//! file with the application's database given by URL; the naive endpoint's 500s are counted
//! as `other` with their status and make it not safe, the fixed one is safe; a JSON API that
//! answers 200 to everything is read by a field of its body; an unreachable
//! application is a harness error naming its URL; bad files are located.

mod common;

#[path = "../examples/signup_app.rs"]
#[allow(dead_code)]
mod signup_app;

use keyrace::app;
use keyrace::db::Dialect;
use keyrace::options::RunOptions;
use keyrace::report::VerdictLevel;
use tokio_util::sync::CancellationToken;

fn scenario(url: &str, database: &str) -> String {
    format!(
        r#"
name = "app-test"
[workload]
workers = 6
operations = 180
mode = "rounds"

[app]
url = "{url}"
ready = "/health"
database = "{database}"
setup = "DELETE FROM users"
verify = {{ rows = "SELECT count(*) FROM users", duplicates = "SELECT count(*) - count(DISTINCT email) FROM users" }}

[[endpoint]]
name = "naive"
path = "/signup/naive"
body = '{{"email": "{{key}}", "name": "{{payload}}"}}'
headers = {{ content-type = "application/json" }}
status = {{ 201 = "inserted", 200 = "existed" }}

[[endpoint]]
name = "fixed"
path = "/signup/fixed"
body = '{{"email": "{{key}}", "name": "{{payload}}"}}'
headers = {{ content-type = "application/json" }}
status = {{ 201 = "inserted", 200 = "existed" }}

[[endpoint]]
name = "naive-json"
path = "/api/signup/naive"
body = '{{"email": "{{key}}", "name": "{{payload}}"}}'
headers = {{ content-type = "application/json" }}
status = {{ 200 = "existed" }}
json = {{ field = "/result", values = {{ created = "inserted", existed = "existed" }} }}

[[endpoint]]
name = "fixed-json"
path = "/api/signup/fixed"
body = '{{"email": "{{key}}", "name": "{{payload}}"}}'
headers = {{ content-type = "application/json" }}
status = {{ 200 = "existed" }}
json = {{ field = "/result", values = {{ created = "inserted", existed = "existed", error = "other" }} }}

[[expect]]
endpoint = "fixed"
that = ["inserted = rounds", "rows = rounds", "duplicates = 0", "other = 0"]
"#
    )
}

async fn run(text: &str) -> keyrace::report::Report {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.toml");
    std::fs::write(&path, text).expect("write");
    let mut args = RunOptions::quiet(dir.path());
    args.paths = vec![path];
    app::run(&args, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("run failed: {e}"))
        .report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_endpoint_is_not_safe_and_fixed_is_on_both_engines() {
    for dialect in Dialect::ALL {
        let server = common::server(dialect).await;
        let db = format!("keyrace_test_app_{}_{}", dialect.name(), std::process::id());
        keyrace::runner::create_database(&server.target, &db)
            .await
            .expect("create database");
        let db_url = keyrace::db::database_url(&server.target.url, &db);
        let pool = signup_app::connect(&db_url).await.expect("app connects");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let serving = tokio::spawn(async move {
            axum::serve(listener, signup_app::router(pool))
                .await
                .unwrap();
        });
        let report = run(&scenario(&format!("http://127.0.0.1:{port}"), &db_url)).await;
        serving.abort();
        keyrace::runner::drop_database(&server.target, &db)
            .await
            .expect("drop database");
        let s = &report.scenarios[0];
        assert!(s.error.is_none(), "{dialect}: {:?}", s.error);
        let naive = s.results.iter().find(|r| r.strategy == "naive").unwrap();
        let fixed = s.results.iter().find(|r| r.strategy == "fixed").unwrap();
        eprintln!(
            "{dialect}: naive {:?} {:?}; fixed {:?} figures {:?}",
            naive.outcomes, naive.other_codes, fixed.outcomes, fixed.figures
        );
        assert!(
            naive.outcomes.other > 0,
            "{dialect}: no 500 from the naive endpoint"
        );
        assert!(
            naive.other_codes.contains_key("http 500"),
            "{dialect}: {:?}",
            naive.other_codes
        );
        assert_ne!(naive.verdict.as_ref().unwrap().level, VerdictLevel::Safe);
        assert!(
            fixed.verdict.as_ref().unwrap().is_safe(),
            "{dialect}: {:?}",
            fixed.verdict
        );
        assert_eq!(fixed.ops, 180);
        assert_eq!(fixed.outcomes.inserted, 30, "{dialect}: one 201 per round");
        assert!(fixed.held(), "{dialect}: {:?}", fixed.expectations);
        assert!(fixed.figure("release_spread_p50_us").is_some());
        assert!(report.servers.iter().any(|i| i.database == fixed.database));
        // The JSON API answers 200 to everything: only its `result` field tells.
        let naive = s
            .results
            .iter()
            .find(|r| r.strategy == "naive-json")
            .unwrap();
        let fixed = s
            .results
            .iter()
            .find(|r| r.strategy == "fixed-json")
            .unwrap();
        assert!(
            naive
                .other_codes
                .get("json /result=error")
                .is_some_and(|&n| n > 0),
            "{dialect}: {:?}",
            naive.other_codes
        );
        assert_eq!(
            naive.outcomes.existed + naive.outcomes.inserted + naive.outcomes.other,
            180
        );
        assert_ne!(naive.verdict.as_ref().unwrap().level, VerdictLevel::Safe);
        assert_eq!(
            fixed.outcomes.inserted, 30,
            "{dialect}: {:?}",
            fixed.outcomes
        );
        assert_eq!(fixed.outcomes.existed, 150);
        assert!(fixed.verdict.as_ref().unwrap().is_safe());
    }
}

#[tokio::test]
async fn an_unreachable_application_is_a_harness_error_naming_its_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let report = run(&scenario(&url, &common::url(Dialect::Postgres))).await;
    let e = report.scenarios[0].error.as_deref().expect("an error");
    assert!(e.contains(&url) && e.contains("unreachable"), "{e}");
    assert!(report.has_errors(), "exit 2");
}

#[test]
fn application_files_are_checked_with_locations() {
    let bad = scenario("http://127.0.0.1:1", "postgres://x@127.0.0.1/x")
        .replace(r#"201 = "inserted""#, r#"201 = "created""#);
    let e = keyrace::apptarget::parse(std::path::Path::new("a.toml"), &bad).unwrap_err();
    assert!(e.to_string().contains("unknown outcome `created`"), "{e}");
    let bad = scenario("http://127.0.0.1:1", "postgres").to_string();
    let e = keyrace::apptarget::parse(std::path::Path::new("a.toml"), &bad).unwrap_err();
    assert!(e.to_string().contains("needs `start`"), "{e}");
    let bad =
        scenario("http://127.0.0.1:1", "postgres://x@h/x").replace("duplicates = 0", "dupes = 0");
    let e = keyrace::apptarget::parse(std::path::Path::new("a.toml"), &bad).unwrap_err();
    assert!(e.to_string().contains("unknown figure `dupes`"), "{e}");
    let bad = scenario("http://127.0.0.1:1", "postgres://x@h/x")
        .replace(r#"field = "/result""#, r#"field = "result""#);
    let e = keyrace::apptarget::parse(std::path::Path::new("a.toml"), &bad).unwrap_err();
    assert!(
        e.to_string()
            .contains("not a JSON pointer: write `/result`"),
        "{e}"
    );
    assert!(keyrace::apptarget::is_app_file(
        std::path::Path::new("a.toml"),
        &bad
    ));
    // Methods and header names are HTTP tokens; https is refused (no TLS).
    let check = |from: &str, to: &str, says: &str| {
        let bad = scenario("http://127.0.0.1:1", "postgres://x@h/x").replacen(from, to, 1);
        let e = keyrace::apptarget::parse(std::path::Path::new("a.toml"), &bad).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    };
    check(
        r#"path = "/signup/naive""#,
        "method = \"GET X\"\npath = \"/signup/naive\"",
        "`GET X` is not an HTTP method",
    );
    check(
        "content-type =",
        r#""content type" ="#,
        "`content type` is not a header name",
    );
    check("http://127.0.0.1:1", "https://127.0.0.1:1", "without TLS");
}
