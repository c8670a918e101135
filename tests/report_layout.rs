//! The terminal report fits the terminal: snapshots at 80 and 120 columns of saved runs
//! (one single run, one with three repetitions), no line longer than the width, and no
//! number or name broken across lines; plus the Markdown and CSV renderers of the same runs.

use std::path::PathBuf;

use keyrace::report::table::{TableOptions, max_width, render};
use keyrace::report::{Report, VerdictLevel};

fn fixture(name: &str) -> Report {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Report::read_json(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn check_fits(report: &Report, width: usize) -> String {
    let text = render(report, &TableOptions { width, wide: false });
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "line longer than {width} columns ({}):\n{line}\n\nwhole output:\n{text}",
            line.chars().count()
        );
    }
    // Every strategy and database name and every ops/s figure is on one line, whole.
    for s in &report.scenarios {
        for r in s.results.iter().filter(|r| r.available) {
            assert!(
                text.lines().any(|l| l.contains(&r.strategy)),
                "{} broken or missing",
                r.strategy
            );
            let ops = keyrace::report::num(r.ops_per_sec.round() as u64);
            assert!(text.contains(&ops), "{ops} ops/s broken or missing");
        }
    }
    text
}

#[test]
fn single_run_fits_80_and_120_columns() {
    let r = fixture("report-sample.json");
    insta::assert_snapshot!("sample_80", check_fits(&r, 80));
    insta::assert_snapshot!("sample_120", check_fits(&r, 120));
}

#[test]
fn repeated_run_fits_80_and_120_columns() {
    let r = fixture("report-repeat.json");
    insta::assert_snapshot!("repeat_80", check_fits(&r, 80));
    insta::assert_snapshot!("repeat_120", check_fits(&r, 120));
}

#[test]
fn narrow_terminals_get_narrower_layouts_never_wider_lines() {
    let r = fixture("report-repeat.json");
    for width in [60, 70, 100, 140, 200] {
        let text = render(&r, &TableOptions { width, wide: false });
        let longest = text
            .lines()
            .filter(|l| !l.starts_with("server:"))
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        assert!(longest <= width, "{width}: a line of {longest}\n{text}");
    }
    // --wide shows every column whatever the width.
    let wide = render(
        &r,
        &TableOptions {
            width: 80,
            wide: true,
        },
    );
    assert!(wide.contains("unique viol.") && wide.contains("predictions"));
    assert!(max_width(&wide) > 80);
}

#[test]
fn verdict_is_the_first_column_and_conclusions_follow() {
    let r = fixture("report-repeat.json");
    let text = render(&r, &TableOptions::default());
    let header = text
        .lines()
        .find(|l| l.contains("strategy") && l.contains("ops/s"))
        .expect("a header line");
    assert!(
        header.find("verdict") < header.find("strategy"),
        "verdict is not first: {header}"
    );
    assert!(
        text.contains("fastest safe strategy on PostgreSQL"),
        "{text}"
    );
    assert!(text.contains("fastest safe strategy on MariaDB"), "{text}");
    assert!(text.contains("predictions held:"), "{text}");
}

#[test]
fn repeated_fixture_has_verdicts_repetitions_and_intervals() {
    let r = fixture("report-repeat.json");
    let s = &r.scenarios[0];
    assert_eq!(s.repeat, 3);
    let cell = |strategy: &str, db: &str| {
        s.results
            .iter()
            .find(|x| x.strategy == strategy && x.database.starts_with(db))
            .unwrap_or_else(|| panic!("no {strategy} on {db}"))
    };
    for db in ["PostgreSQL", "MariaDB"] {
        let c = cell("check-then-insert", db);
        assert_ne!(c.verdict.as_ref().unwrap().level, VerdictLevel::Safe);
        assert_eq!(c.repetitions.len(), 3);
        let sp = c.spread.as_ref().expect("spread");
        assert!(sp.ops_per_sec.ci_low <= sp.ops_per_sec.median);
        assert!(sp.ops_per_sec.median <= sp.ops_per_sec.ci_high);
    }
    assert_eq!(
        cell("on-conflict-do-nothing", "PostgreSQL")
            .verdict
            .as_ref()
            .unwrap()
            .level,
        VerdictLevel::Safe
    );
    assert_eq!(
        cell("insert-ignore", "MariaDB")
            .verdict
            .as_ref()
            .unwrap()
            .level,
        VerdictLevel::Safe
    );
    assert_eq!(s.fastest_safe.len(), 2);
    assert!(s.fastest_safe.iter().all(|f| f.strategy.is_some()));
}

#[test]
fn markdown_and_csv_carry_the_verdicts() {
    let r = fixture("report-repeat.json");
    let md = keyrace::report::markdown::render(&r);
    assert!(md.contains("| verdict | strategy | database |"), "{md}");
    assert!(md.contains("fastest safe strategy"), "{md}");
    let csv = keyrace::report::csv::render(&r);
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("scenario,strategy,database,dialect,available,verdict"));
    let n = header.split(',').count();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows.len(),
        r.scenarios.iter().map(|s| s.results.len()).sum::<usize>()
    );
    assert!(rows.iter().any(|l| l.contains(",errors,")));
    assert!(rows.iter().all(|l| !l.is_empty()) && n > 30);
}

#[test]
fn interleaving_summaries_fit_and_list_postgresql_first() {
    // A real run of scenarios/interleave/: the transcripts are the isolation tester's format
    // (compared with expected files, so never rewrapped); every other line fits.
    let r = fixture("report-interleave.json");
    assert!(!r.interleavings.is_empty());
    for width in [80, 120] {
        let text = render(&r, &TableOptions { width, wide: false });
        let transcript = |l: &str| {
            ["starting permutation:", "step ", "ERROR:", "WARNING:"]
                .iter()
                .any(|p| l.starts_with(p))
        };
        for line in text.lines().filter(|l| !transcript(l)) {
            assert!(
                line.chars().count() <= width,
                "longer than {width}: {line}\n{text}"
            );
        }
        for i in &r.interleavings {
            let pg = text.find("--- PostgreSQL").unwrap();
            let maria = text.find("--- MariaDB").unwrap();
            assert!(pg < maria, "{}", i.scenario);
        }
    }
}

#[test]
fn results_written_before_verdicts_still_load_and_get_them() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-sample.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for s in doc["scenarios"].as_array_mut().unwrap() {
        let s = s.as_object_mut().unwrap();
        s.remove("repeat");
        s.remove("fastest_safe");
        for r in s["results"].as_array_mut().unwrap() {
            let r = r.as_object_mut().unwrap();
            r.remove("verdict");
            r.remove("spread");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    std::fs::write(&old, doc.to_string()).unwrap();
    let r = Report::read_json(&old).expect("an older results file loads");
    let s = &r.scenarios[0];
    assert_eq!(s.repeat, 1);
    assert_eq!(s.fastest_safe.len(), 2);
    assert!(
        s.results
            .iter()
            .filter(|x| x.available && x.ops > 0)
            .all(|x| x.verdict.is_some())
    );
}
