//! Expected-output files (write, match, differ with a unified diff), JSON serialization, and
//! the error for an unreachable server.

use std::path::Path;

use keyrace::db::{Dialect, Outcome};
use keyrace::interleave::{
    self, Event, InterleaveReport, PermutationReport, StepError, StepOutcome, Target, TargetReport,
};
use tokio_util::sync::CancellationToken;

fn report() -> InterleaveReport {
    let perm = PermutationReport {
        label: "s1_insert s2_insert".into(),
        events: vec![
            Event::Step {
                step: "s1_insert".into(),
                sql: "INSERT INTO t VALUES (1)".into(),
                waiting: false,
                detected_by: None,
                output: Vec::new(),
                result: Some(StepOutcome::Ok {
                    rows: None,
                    query: false,
                }),
            },
            Event::Step {
                step: "s2_insert".into(),
                sql: "INSERT INTO t VALUES (1)".into(),
                waiting: false,
                detected_by: None,
                output: Vec::new(),
                result: Some(StepOutcome::Error(StepError {
                    class: Outcome::UniqueViolation,
                    code: "23505".into(),
                    message: "duplicate key value violates unique constraint \"t_pkey\"".into(),
                })),
            },
        ],
        failure: None,
    };
    InterleaveReport {
        scenario: "demo".into(),
        description: None,
        teaches: None,
        source: "demo.toml".into(),
        sessions: vec![],
        targets: vec![TargetReport {
            label: "postgres".into(),
            dialect: Dialect::Postgres,
            engine: None,
            server_version: None,
            skipped: None,
            permutations: vec![perm],
        }],
    }
}

#[test]
fn expected_files_are_written_matched_and_diffed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = report();
    assert!(interleave::compare_expected(&r, dir.path(), true).expect("written"));
    let file = dir.path().join("demo.postgres.out");
    let text = std::fs::read_to_string(&file).expect("expected file exists");
    assert_eq!(
        text,
        "starting permutation: s1_insert s2_insert\n\
         step s1_insert: INSERT INTO t VALUES (1)\n\
         step s2_insert: INSERT INTO t VALUES (1)\n\
         ERROR: unique_violation 23505: duplicate key value violates unique constraint \"t_pkey\"\n"
    );
    assert!(
        interleave::check_expected(&r, dir.path(), false)
            .expect("compared")
            .is_empty()
    );
    // A single file works too when one target ran.
    assert!(
        interleave::check_expected(&r, &file, false)
            .expect("compared")
            .is_empty()
    );

    std::fs::write(&file, text.replace("23505", "23000")).expect("rewrite");
    let diffs = interleave::check_expected(&r, dir.path(), false).expect("compared");
    assert_eq!(diffs.len(), 1);
    let d = &diffs[0].diff;
    assert!(d.contains("\n-ERROR: unique_violation 23000"), "{d}");
    assert!(d.contains("\n+ERROR: unique_violation 23505"), "{d}");
    assert!(d.contains("@@ -1,4 +1,4 @@"), "{d}");

    let missing = tempfile::tempdir().expect("temp dir");
    assert_eq!(
        interleave::check_expected(&r, missing.path(), false)
            .expect("compared")
            .len(),
        1
    );
}

#[test]
fn report_serializes_to_json() {
    let v = serde_json::to_value(report()).expect("serializes");
    let ev = &v["targets"][0]["permutations"][0]["events"][1];
    assert_eq!(ev["kind"], "step");
    assert_eq!(ev["result"]["status"], "error");
    assert_eq!(ev["result"]["class"], "unique_violation");
    assert_eq!(ev["result"]["code"], "23505");
}

#[test]
fn summary_shows_outcome_per_engine() {
    let s = report().render_summary();
    assert!(s.contains("s2_insert: unique_violation 23505"), "{s}");
    assert!(s.contains("s1_insert s2_insert"), "{s}");
}

#[tokio::test]
async fn unreachable_server_is_a_clear_error() {
    let plan = interleave::parse(
        Path::new("x.toml"),
        "[[session]]\nname = \"s\"\n[[session.step]]\nname = \"a\"\nsql = \"SELECT 1\"\n",
    )
    .expect("valid");
    let target = Target {
        dialect: Dialect::Postgres,
        label: "nowhere".into(),
        url: "postgres://u:secret@127.0.0.1:1/db".into(),
        nodes: Vec::new(),
    };
    let err = interleave::run(&plan, &[target], CancellationToken::new())
        .await
        .expect_err("port 1 is closed");
    let msg = err.to_string();
    assert_eq!(
        msg,
        "cannot connect to nowhere at postgres://u:***@127.0.0.1:1/db"
    );
}
