//! The JSON results contract: `docs/results-schema.json` accepts the sample fixture and the
//! output of a real run against the local servers, and rejects results missing required fields.

use std::path::{Path, PathBuf};
use std::process::Command;

use jsonschema::Validator;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn schema() -> Value {
    read_json(&root().join("docs/results-schema.json"))
}

fn validator() -> Validator {
    let schema = schema();
    jsonschema::draft202012::meta::validate(&schema)
        .unwrap_or_else(|e| panic!("docs/results-schema.json is not a valid 2020-12 schema: {e}"));
    jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("docs/results-schema.json does not compile: {e}"))
}

fn assert_valid(v: &Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("  at {}: {e}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match docs/results-schema.json:\n{}",
        errors.join("\n")
    );
}

fn fixture() -> Value {
    read_json(&root().join("tests/fixtures/report-sample.json"))
}

/// The first result object of the first scenario, as a path for `pointer_mut`.
const FIRST_RESULT: &str = "/scenarios/0/results/0";

#[test]
fn fixture_matches_schema() {
    assert_valid(
        &validator(),
        &fixture(),
        "tests/fixtures/report-sample.json",
    );
}

#[test]
fn fixture_is_a_report() {
    // The fixture must also be what the code reads, or the schema and the structs drifted.
    let r = keyrace::report::Report::read_json(&root().join("tests/fixtures/report-sample.json"));
    assert!(r.is_ok(), "{}", r.err().unwrap_or_default());
}

#[test]
fn serialized_report_matches_schema() {
    // Round trip through the structs: every field the code writes is allowed by the schema.
    let r = keyrace::report::Report::read_json(&root().join("tests/fixtures/report-sample.json"))
        .expect("fixture parses");
    let v = serde_json::to_value(&r).expect("report serializes");
    assert_valid(&validator(), &v, "a re-serialized report");
}

#[test]
fn schema_rejects_result_without_ops_per_sec() {
    let v = validator();
    let mut doc = fixture();
    let result = doc
        .pointer_mut(FIRST_RESULT)
        .and_then(Value::as_object_mut)
        .expect("fixture has a result");
    assert!(result.remove("ops_per_sec").is_some());
    assert!(
        !v.is_valid(&doc),
        "schema accepted a result without ops_per_sec"
    );
}

#[test]
fn schema_requires_the_contract_fields() {
    let v = validator();
    let fields: &[&str] = &[
        "/format_version",
        "/run_id",
        "/started_at",
        "/servers/0/database",
        "/servers/0/version",
        "/servers/0/url",
        "/servers/0/settings",
        "/scenarios/0/name",
        "/scenarios/0/workload",
        "/scenarios/0/results",
        "/scenarios/0/results/0/strategy",
        "/scenarios/0/results/0/database",
        "/scenarios/0/results/0/ops",
        "/scenarios/0/results/0/latency_us/p50",
        "/scenarios/0/results/0/latency_us/p90",
        "/scenarios/0/results/0/latency_us/p99",
        "/scenarios/0/results/0/latency_us/p999",
        "/scenarios/0/results/0/latency_us/max",
        "/scenarios/0/results/0/outcomes/inserted",
        "/scenarios/0/results/0/outcomes/existed",
        "/scenarios/0/results/0/outcomes/updated",
        "/scenarios/0/results/0/outcomes/unique_violation",
        "/scenarios/0/results/0/outcomes/deadlock",
        "/scenarios/0/results/0/outcomes/serialization_failure",
        "/scenarios/0/results/0/outcomes/lock_timeout",
        "/scenarios/0/results/0/outcomes/connection_error",
        "/scenarios/0/results/0/outcomes/other",
        "/scenarios/0/results/0/retries",
        "/scenarios/0/results/0/duplicate_rows",
        "/scenarios/0/results/0/lost_updates",
        "/scenarios/0/results/0/missing_rows",
        "/scenarios/0/results/0/expectations",
        "/scenarios/0/results/0/expectations/0/text",
        "/scenarios/0/results/0/expectations/0/held",
    ];
    for path in fields {
        let mut doc = fixture();
        let (parent, key) = path.rsplit_once('/').expect("pointer has a parent");
        let removed = doc
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .and_then(|o| o.remove(key));
        assert!(removed.is_some(), "fixture lacks {path}");
        assert!(!v.is_valid(&doc), "schema accepted a report without {path}");
    }
}

#[test]
fn schema_rejects_wrong_types() {
    let v = validator();
    for (path, bad) in [
        ("/scenarios/0/results/0/ops", Value::from(-1)),
        ("/scenarios/0/results/0/ops_per_sec", Value::from("fast")),
        ("/scenarios/0/results/0/outcomes/deadlock", Value::from(1.5)),
        (
            "/scenarios/0/results/0/expectations/0/held",
            Value::from("yes"),
        ),
        ("/servers/0/dialect", Value::from("sqlite")),
        (
            "/scenarios/0/results/0/verdict/level",
            Value::from("probably-fine"),
        ),
        (
            "/scenarios/0/results/0/verdict/reasons",
            Value::from("none"),
        ),
    ] {
        let mut doc = fixture();
        *doc.pointer_mut(path).expect("fixture has the field") = bad;
        assert!(!v.is_valid(&doc), "schema accepted a bad {path}");
    }
}

/// A small signup race: both dialects, a few strategies (one unavailable on each dialect).
const SCENARIO: &str = r#"
name = "schema-check"
description = "4 sessions race to insert the same email; a small run for the schema test."
teaches = "Nothing new: this run feeds the results-schema test."
claims = ["the JSON output matches docs/results-schema.json"]

[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT);"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(255)) ENGINE=InnoDB;"

[table]
name = "users"
key = "email"
payload = "name"

[workload]
shape = "signup"
workers = 4
operations = 40
mode = "rounds"
isolation = "read-committed"
seed = 7

[[strategy]]
use = "check-then-insert"
[[strategy]]
use = "on-conflict-do-nothing"
[[strategy]]
use = "insert-ignore"

[[expect]]
that = ["duplicate_rows = 0"]
"#;

#[test]
fn real_run_matches_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("schema-check.toml");
    std::fs::write(&scenario, SCENARIO).expect("write scenario");
    let out_dir = dir.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out_dir)
        .args(["--quiet", "--operations", "40"])
        .output()
        .expect("run keyrace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // No skip: with no KEYRACE_*_URL keyrace starts throwaway servers itself; a run that
    // cannot reach one fails here with its message.
    // 0: all expectations held; 1: one failed (still a valid report). 2 is a harness error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "keyrace run failed ({:?}):\nstdout:\n{}\nstderr:\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let json: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .expect("results dir exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(json.len(), 1, "expected one results file, got {json:?}");
    let doc = read_json(&json[0]);
    assert_valid(&validator(), &doc, "the JSON of a real run");
    let results = doc
        .pointer("/scenarios/0/results")
        .and_then(Value::as_array)
        .expect("the run has results");
    assert!(!results.is_empty(), "the run produced no results");
    assert!(
        results.iter().any(|r| r["available"] == Value::Bool(false)),
        "expected an unavailable strategy (insert-ignore on PostgreSQL or ON CONFLICT on MySQL)"
    );
    // Every strategy that ran has a verdict with reasons; its per-second series add up to
    // its totals and its latency CDF ends at 100 %; the scenario names its fastest safe
    // strategy per database.
    for r in results
        .iter()
        .filter(|r| r["available"] == Value::Bool(true))
    {
        let sum = |v: &Value| -> u64 {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .sum()
        };
        let ps = &r["per_second"];
        assert_eq!(sum(&ps["ops"]), r["ops"].as_u64().unwrap(), "{ps}");
        for (class, series) in ps["outcomes"].as_object().unwrap() {
            assert_eq!(
                sum(series),
                r["outcomes"][class].as_u64().unwrap(),
                "{class}: {ps}"
            );
        }
        let cdf = r["latency_cdf_us"].as_array().unwrap();
        assert_eq!(
            cdf.last().unwrap()["fraction"].as_f64(),
            Some(1.0),
            "{cdf:?}"
        );
        assert_eq!(cdf.last().unwrap()["us"], r["latency_us"]["max"], "{cdf:?}");
        let level = r["verdict"]["level"].as_str().unwrap_or_default();
        assert!(
            ["safe", "errors", "unsafe"].contains(&level),
            "no verdict: {r}"
        );
        assert!(!r["verdict"]["reasons"].as_array().unwrap().is_empty());
    }
    let fastest = doc
        .pointer("/scenarios/0/fastest_safe")
        .and_then(Value::as_array)
        .expect("fastest_safe");
    assert_eq!(fastest.len(), 2, "{fastest:?}");
    // The HTML page written next to it renders the same run.
    let html = std::fs::read_to_string(json[0].with_extension("html")).expect("html written");
    assert!(html.contains("schema-check") && html.contains("<svg"));
}

#[test]
fn repeated_and_interleaving_runs_match_schema() {
    // Real runs kept as fixtures: signup-race with --repeat 3 (repetitions, spreads,
    // fastest safe strategies) and scenarios/interleave/.
    let v = validator();
    for name in ["report-repeat.json", "report-interleave.json"] {
        let path = root().join("tests/fixtures").join(name);
        assert_valid(&v, &read_json(&path), name);
        let r = keyrace::report::Report::read_json(&path).expect("fixture parses");
        let again = serde_json::to_value(&r).expect("report serializes");
        assert_valid(&v, &again, &format!("{name}, re-serialized"));
    }
}
