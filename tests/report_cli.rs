//! Small things a user trips on: an unknown `--strategy` exits 2 naming the known ones, a
//! missing file is one plain error line, `keyrace strategies` shows where each strategy
//! exists, a closed stdout ends quietly, singular "1 strategy".

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn keyrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run keyrace")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn unknown_strategy_exits_2_listing_the_known_ones() {
    let o = keyrace(&[
        "run",
        "scenarios/signup-race.toml",
        "--strategy",
        "nosuch",
        "--no-html",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("`nosuch`"), "{e}");
    assert!(
        e.contains("check-then-insert") && e.contains("on-conflict-do-nothing"),
        "{e}"
    );
}

#[test]
fn missing_file_is_one_plain_error() {
    let o = keyrace(&["run", "nope.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(err(&o), "error: nope.toml: no such file or directory\n");
    let o = keyrace(&["check", "nope.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(err(&o), "error: nope.toml: no such file or directory\n");
}

#[test]
fn strategies_show_where_they_exist() {
    let o = keyrace(&["strategies"]);
    assert_eq!(o.status.code(), Some(0));
    let t = out(&o);
    let header = t.lines().next().unwrap();
    assert!(
        header.contains("PostgreSQL") && header.contains("MySQL"),
        "{t}"
    );
    let row = |name: &str| {
        t.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}:\n{t}"))
            .split_whitespace()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("insert-ignore"), ["–", "✓"]);
    assert_eq!(row("on-conflict-do-nothing"), ["✓", "–"]);
    assert_eq!(row("check-then-insert"), ["✓", "✓"]);
}

#[test]
fn closed_stdout_ends_quietly() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-repeat.json");
    for format in ["json", "table", "csv", "markdown"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyrace"))
            .args(["show", fixture.to_str().unwrap(), "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keyrace show");
        // Like `| head -c 1`: read a little, then close the pipe.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        let _ = stdout.read(&mut first);
        drop(stdout);
        let o = child.wait_with_output().expect("wait");
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{format}: {:?} {}",
            o.status,
            err(&o)
        );
        assert!(!err(&o).contains("panicked"), "{format}: {}", err(&o));
    }
}

#[test]
fn check_says_one_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/signup-race.toml"),
    )
    .unwrap();
    // Keep the first [[strategy]] only (and the expectations of all strategies out).
    let head = text.split("[[strategy]]").next().unwrap();
    let p = dir.path().join("one.toml");
    std::fs::write(
        &p,
        format!("{head}[[strategy]]\nuse = \"check-then-insert\"\n"),
    )
    .unwrap();
    let o = keyrace(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("(1 strategy)"), "{}", out(&o));
}

/// A small signup race on both engines: `repeat` in the file, relative expectations.
const RACE: &str = r#"
name = "repeat-check"
teaches = "repetitions and relative expectations"
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
repeat = 2
[[strategy]]
use = "check-then-insert"
[[strategy]]
use = "insert-catch-select"
[[expect]]
that = ["rows = rounds", "duplicate_rows = 0", "p99_us < 60000000"]
[[expect]]
strategy = "insert-catch-select"
that = ["inserted = rounds", "errors = 0"]
"#;

fn run_race(dir: &std::path::Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let scenario = dir.join("race.toml");
    std::fs::write(&scenario, RACE).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .arg("run")
        .arg(&scenario)
        .args([
            "--postgres",
            &common::url(keyrace::db::Dialect::Postgres),
            "--mysql",
            &common::url(keyrace::db::Dialect::Mysql),
            "--no-html",
            "--format",
            "json",
            "--out",
        ])
        .arg(dir.join("out"))
        .args(extra)
        .output()
        .expect("run keyrace");
    let json = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out(&o), err(&o)));
    (o, json)
}

#[test]
fn repeat_runs_every_cell_n_times_and_relative_bounds_follow_overrides() {
    let dir = tempfile::tempdir().unwrap();
    // `repeat = 2` from the file; --duration instead of the 20 rounds the file asks for.
    let (o, doc) = run_race(dir.path(), &["--duration", "1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = &doc["scenarios"][0];
    assert_eq!(s["repeat"], 2);
    let results = s["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        assert_eq!(r["repetitions"].as_array().unwrap().len(), 2, "{r}");
        let sp = &r["spread"]["ops_per_sec"];
        assert!(sp["ci_low"].as_f64() <= sp["median"].as_f64());
        assert!(sp["min"].as_f64() <= sp["max"].as_f64());
        let ops: u64 = r["repetitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["ops"].as_u64().unwrap())
            .sum();
        assert_eq!(r["ops"].as_u64(), Some(ops), "counts are summed");
        assert!(
            r["expectations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["held"] == true)
        );
        let level = r["verdict"]["level"].as_str().unwrap();
        match r["strategy"].as_str().unwrap() {
            "insert-catch-select" => assert_eq!(level, "safe", "{r}"),
            _ => assert!(level != "unsafe", "{r}"),
        }
    }
    // One progress line per cell (stderr is not a terminal here), counting 2 × 4 cells.
    assert!(err(&o).contains("[cell 8 of 8]"), "{}", err(&o));
    // --repeat overrides the file.
    let (o, doc) = run_race(dir.path(), &["--repeat", "1", "--operations", "40"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(doc["scenarios"][0]["repeat"], 1);
    assert!(doc["scenarios"][0]["results"][0]["spread"].is_null());
    assert_eq!(doc["scenarios"][0]["results"][0]["rows"], 10);
}
