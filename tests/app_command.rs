//! Command targets (`[[command]]` in an `[app]` scenario) on the real servers: the bundled
//! scenario races psql / mariadb processes (check-then-insert not safe, the duplicate-ignoring
//! insert safe) on a fresh database per engine; exit codes, signals, timeouts and output
//! rules become outcome classes with their values kept; arguments reach the program without
//! a shell; a program that cannot be found stops the run with exit 2 naming it; bad
//! `[[command]]` tables get located errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use keyrace::app;
use keyrace::db::Dialect;
use keyrace::options::RunOptions;
use keyrace::report::{Report, VerdictLevel};
use tokio_util::sync::CancellationToken;

async fn run_file(path: PathBuf, out: &Path) -> Report {
    let mut args = RunOptions::quiet(out);
    args.postgres = vec![common::url(Dialect::Postgres)];
    args.mysql = vec![common::url(Dialect::Mysql)];
    args.paths = vec![path];
    app::run(&args, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("run failed: {e}"))
        .report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_scenario_races_psql_and_mariadb_processes() {
    let out = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/app/signup-command.toml");
    let report = run_file(file, out.path()).await;
    let s = &report.scenarios[0];
    assert!(s.error.is_none(), "{:?}", s.error);
    assert_eq!(s.results.len(), 4, "naive and fixed on both engines");
    for r in &s.results {
        eprintln!(
            "{} on {}: {:?} other {:?} figures {:?} verdict {:?}",
            r.strategy, r.database, r.outcomes, r.other_codes, r.figures, r.verdict
        );
        assert_eq!(r.ops, 160, "{}", r.strategy);
        assert_eq!(
            r.figure("rows"),
            Some(20.0),
            "{}: one row per round",
            r.strategy
        );
        assert_eq!(r.figure("duplicates"), Some(0.0));
        assert_eq!(
            r.outcomes.inserted, 20,
            "{}: one `inserted` per round",
            r.strategy
        );
        let verdict = r.verdict.as_ref().unwrap();
        if r.strategy == "naive" {
            assert!(
                r.outcomes.unique_violation > 0,
                "{}: the check-then-insert never raced",
                r.database
            );
            assert_ne!(verdict.level, VerdictLevel::Safe);
        } else {
            assert!(verdict.is_safe(), "{}: {verdict:?}", r.database);
            assert_eq!(r.outcomes.existed, 140);
            assert!(r.held(), "{:?}", r.expectations);
        }
        assert!(r.figure("release_spread_p50_us").is_some());
    }
    // No database of the run is left behind.
    assert!(report.servers.len() >= 2);
}

fn scenario(commands: &str) -> String {
    format!(
        r#"
name = "command-test"
[workload]
workers = 2
operations = 4
mode = "rounds"

[app]
database = "{}"

{commands}
"#,
        common::url(Dialect::Postgres)
    )
}

async fn run_text(text: &str) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cmd.toml");
    std::fs::write(&path, text).unwrap();
    let mut args = RunOptions::quiet(dir.path());
    args.paths = vec![path];
    app::run(&args, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("run failed: {e}"))
        .report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_signals_timeouts_and_output_become_outcomes() {
    let report = run_text(&scenario(
        r#"
[[command]]
name = "exit3"
argv = ["sh", "-c", "exit 3"]
exit = { 0 = "inserted", 1 = "unique_violation" }

[[command]]
name = "killed"
argv = ["sh", "-c", "kill -9 $$"]
exit = { 0 = "inserted" }

[[command]]
name = "slow"
argv = ["sleep", "5"]
timeout = "300ms"
exit = { 0 = "inserted" }

[[command]]
name = "literal"
argv = ["printf", "%s|%s", "{key}; exit 7 $(id)", "w{worker} s{seq} {payload}"]
match = [{ stdout_regex = '^user[0-9]+@example\.com; exit 7 \$\(id\)\|w[01] s[01] w[01]-[01]$', outcome = "inserted" }]
exit = { 0 = "other" }

[[command]]
name = "stderr"
argv = ["sh", "-c", "echo 'ERROR 1062 (23000)' >&2; exit 1"]
match = [{ stderr = "ERROR 1062", exit = 1, outcome = "unique_violation" }, { stderr = "ERROR", outcome = "deadlock" }]
"#,
    ))
    .await;
    let s = &report.scenarios[0];
    assert!(s.error.is_none(), "{:?}", s.error);
    let get = |n: &str| s.results.iter().find(|r| r.strategy == n).unwrap();
    let exit3 = get("exit3");
    assert_eq!(exit3.outcomes.other, 4);
    assert_eq!(
        exit3.other_codes.get("exit 3"),
        Some(&4),
        "{:?}",
        exit3.other_codes
    );
    let killed = get("killed");
    assert_eq!(killed.outcomes.other, 4);
    assert_eq!(
        killed.other_codes.get("signal 9"),
        Some(&4),
        "{:?}",
        killed.other_codes
    );
    let slow = get("slow");
    assert_eq!(slow.outcomes.timeout, 4);
    assert!(
        slow.latency_us.max < 2_000_000,
        "the process group was killed at 300 ms"
    );
    let literal = get("literal");
    assert_eq!(literal.outcomes.inserted, 4, "{:?}", literal.errors);
    assert_eq!(get("stderr").outcomes.unique_violation, 4);
    assert_ne!(exit3.verdict.as_ref().unwrap().level, VerdictLevel::Safe);
}

#[test]
fn a_program_that_cannot_be_found_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cmd.toml");
    std::fs::write(
        &path,
        scenario(
            r#"
[[command]]
name = "missing"
argv = ["keyrace-no-such-program", "{key}"]
exit = { 0 = "inserted" }
"#,
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args(["run", "--quiet", "--no-html", "--out"])
        .arg(dir.path())
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("cannot start `keyrace-no-such-program`: not found in PATH"),
        "{text}"
    );
}

#[test]
fn command_tables_are_checked_with_locations() {
    let parse = |commands: &str| {
        keyrace::apptarget::parse(Path::new("c.toml"), &scenario(commands)).map(|_| ())
    };
    let ok = r#"
[[command]]
name = "a"
argv = { postgres = ["psql"], mysql = ["mariadb"] }
exit = { 0 = "inserted" }
"#;
    parse(ok).unwrap();
    for (bad, says) in [
        (
            "[[command]]\nname = \"a\"\nargv = []\nexit = { 0 = \"inserted\" }",
            "`argv` is a non-empty list",
        ),
        (
            "[[command]]\nname = \"a\"\nargv = { oracle = [\"x\"] }\nexit = { 0 = \"inserted\" }",
            "unknown dialect `oracle`",
        ),
        (
            "[[command]]\nname = \"a\"\nargv = [\"x\"]\nexit = { 300 = \"inserted\" }",
            "`300` is not an exit code",
        ),
        (
            "[[command]]\nname = \"a\"\nargv = [\"x\"]\nexit = { 0 = \"created\" }",
            "unknown outcome `created`",
        ),
        (
            "[[command]]\nname = \"a\"\nargv = [\"x\"]\nmatch = [{ stdout = \"a\", stderr = \"b\", outcome = \"inserted\" }]",
            "exactly one of",
        ),
        (
            "[[command]]\nname = \"a\"\nargv = [\"x\"]\nmatch = [{ stdout_regex = \"(\", outcome = \"inserted\" }]",
            "bad regular expression",
        ),
        ("[[command]]\nname = \"a\"\nargv = [\"x\"]", "needs `exit`"),
    ] {
        let e = parse(bad).expect_err(bad).to_string();
        assert!(e.contains(says), "{bad}: {e}");
        assert!(e.contains("c.toml:"), "located: {e}");
    }
    let twice = format!("{ok}\n{ok}");
    assert!(
        parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("a second endpoint or command named `a`")
    );
}
