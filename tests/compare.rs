//! `keyrace compare`: a real run (tests/fixtures/report-repeat.json, three repetitions per
//! cell) against itself exits 0; against a copy where a safe strategy left duplicate rows it
//! exits 1; across server versions it matches databases by engine and says so; `--threshold`
//! gates on throughput.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-repeat.json")
}

fn load() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap()
}

fn save(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

fn compare_at(width: usize, old: &Path, new: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .arg("compare")
        .arg(old)
        .arg(new)
        .args(extra)
        .env("COLUMNS", width.to_string())
        .output()
        .expect("run keyrace compare")
}

fn compare(old: &Path, new: &Path, extra: &[&str]) -> Output {
    compare_at(120, old, new, extra)
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The result of `strategy` on the database whose label starts with `db`.
fn cell<'a>(doc: &'a mut Value, strategy: &str, db: &str) -> &'a mut Value {
    doc["scenarios"][0]["results"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["strategy"] == strategy && r["database"].as_str().unwrap().starts_with(db))
        .unwrap_or_else(|| panic!("no {strategy} on {db}"))
}

#[test]
fn a_run_against_itself_exits_0() {
    let out = compare(&fixture(), &fixture(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("0 verdict regressions, 0 performance regressions"),
        "{t}"
    );
    assert!(t.contains("1.00×"), "{t}");
    for line in t.lines() {
        assert!(line.chars().count() <= 120, "too long: {line}");
    }
}

#[test]
fn a_safe_strategy_turned_unsafe_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = load();
    let c = cell(&mut doc, "on-conflict-do-nothing", "PostgreSQL");
    assert_eq!(c["verdict"]["level"], "safe");
    c["duplicate_rows"] = Value::from(7);
    // Recomputed from the figures on load.
    c.as_object_mut().unwrap().remove("verdict");
    let new = save(dir.path(), "new.json", &doc);
    let out = compare(&fixture(), &new, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("verdict regressed"), "{t}");
    assert!(t.contains("safe → unsafe"), "{t}");
    assert!(t.contains("duplicate_rows 0 → 2"), "{t}");
    // The regression is listed before the performance table.
    assert!(t.find("verdict regressed") < t.find("performance ("), "{t}");
    // The reverse direction is an improvement: exit 0.
    let out = compare(&new, &fixture(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j: Value = serde_json::from_slice(&out.stdout).expect("compare --format json is JSON");
    assert_eq!(j["verdict_regressions"], 0);
    let improved: Vec<&Value> = j["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict_flag"] == "improved")
        .collect();
    assert_eq!(improved.len(), 1, "{j}");
    assert_eq!(improved[0]["strategy"], "on-conflict-do-nothing");
}

#[test]
fn other_server_versions_are_matched_by_engine() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = load();
    let old_label = doc["servers"][0]["database"].as_str().unwrap().to_string();
    assert!(old_label.starts_with("PostgreSQL"));
    let text_doc = serde_json::to_string(&doc)
        .unwrap()
        .replace(&format!("\"{old_label}\""), "\"PostgreSQL 17.2\"");
    doc = serde_json::from_str(&text_doc).unwrap();
    let new = save(dir.path(), "pg17.json", &doc);
    let out = compare(&fixture(), &new, &["--format", "markdown"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&format!(
            "{old_label} (old) compared with PostgreSQL 17.2 (new)"
        )),
        "{t}"
    );
    assert!(t.contains(&format!("{old_label} → PostgreSQL 17.2")), "{t}");
    assert!(!t.contains("only in the"), "{t}");
}

#[test]
fn threshold_gates_on_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = load();
    for r in doc["scenarios"][0]["results"].as_array_mut().unwrap() {
        let half = |v: &mut Value| {
            if let Some(x) = v["ops_per_sec"].as_f64() {
                v["ops_per_sec"] = Value::from(x / 3.0);
            }
        };
        half(r);
        if let Some(reps) = r.get_mut("repetitions").and_then(Value::as_array_mut) {
            reps.iter_mut().for_each(half);
        }
    }
    let new = save(dir.path(), "slow.json", &doc);
    let out = compare(&fixture(), &new, &["--threshold", "10"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("0.33×"), "{t}");
    // Without --threshold a performance change is shown (and flagged beyond the noise) but
    // does not fail the comparison.
    let out = compare(&fixture(), &new, &["--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).starts_with("scenario,strategy,database,old_database"));
    // Regressions beyond the noise make the longest summary line: it still fits.
    for width in [80, 120] {
        let out = compare_at(width, &fixture(), &new, &[]);
        let t = text(&out);
        assert!(t.contains("not failing without --threshold"), "{t}");
        for line in t.lines() {
            assert!(line.chars().count() <= width, "{width}: {line:?}");
        }
    }
}
