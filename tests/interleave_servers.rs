//! Interleavings against the real servers (KEYRACE_POSTGRES_URL / KEYRACE_MYSQL_URL, default
//! the local ones): bundled scenarios repeat their expected output 20 times, blocking is
//! detected on both engines, markers and deadlocks are reported deterministically.
//!
//! The tests in this file run one at a time (a shared lock): InnoDB's lock views are a cache,
//! and two monitors polling it at once would see stale snapshots.

mod common;

use std::path::Path;

use keyrace::db::{Dialect, Outcome};
use keyrace::interleave::{self, Detection, Event, InterleaveReport, StepOutcome, Target};
use tokio_util::sync::CancellationToken;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn targets(which: &[Dialect]) -> Vec<Target> {
    common::interleave_targets(which)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(&format!(": {x}"));
        src = x.source();
    }
    s
}

async fn run_text(
    name: &str,
    text: &str,
    which: &[Dialect],
    times: usize,
) -> Vec<InterleaveReport> {
    let plan = interleave::parse(Path::new(name), text).unwrap_or_else(|d| panic!("{d}"));
    interleave::run_repeated(&plan, &targets(which), CancellationToken::new(), times)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {name} (are both servers up? CI starts them): {}",
                chain(&e)
            )
        })
}

fn events<'a>(r: &'a InterleaveReport, dialect: &str) -> &'a [Event] {
    &r.target(dialect).expect("target ran").permutations[0].events
}

const ROW_LOCK: &str = r#"
setup = ["CREATE TABLE item (id INT PRIMARY KEY, n INT NOT NULL)", "INSERT INTO item VALUES (1, 0)"]
teardown = "DROP TABLE item"
permutations = [["s1_begin", "s1_update", "s2_update", "s1_commit", "s2_show"]]
[[session]]
name = "s1"
[[session.step]]
name = "s1_begin"
sql = "BEGIN"
[[session.step]]
name = "s1_update"
sql = "UPDATE item SET n = n + 1 WHERE id = 1"
[[session.step]]
name = "s1_commit"
sql = "COMMIT"
[[session]]
name = "s2"
[[session.step]]
name = "s2_update"
sql = "UPDATE item SET n = n + 10 WHERE id = 1"
[[session.step]]
name = "s2_show"
sql = "SELECT id, n FROM item"
"#;

#[tokio::test]
async fn row_lock_wait_is_detected_then_completed_on_both_engines() {
    let _serial = SERIAL.lock().await;
    let reports = run_text("row-lock.toml", ROW_LOCK, &Dialect::ALL, 1).await;
    for d in ["postgres", "mysql"] {
        let ev = events(&reports[0], d);
        let text = reports[0].render_text(d);
        assert!(
            matches!(&ev[2], Event::Step { step, waiting: true, detected_by: Some(Detection::Monitor), .. } if step == "s2_update"),
            "{d}: s2_update must be seen waiting by the monitor:\n{text}"
        );
        assert!(
            matches!(&ev[3], Event::Step { step, waiting: false, .. } if step == "s1_commit"),
            "{d}:\n{text}"
        );
        assert!(
            matches!(&ev[4], Event::Completed { step, result: StepOutcome::Ok { .. }, .. } if step == "s2_update"),
            "{d}: s2_update must complete after s1_commit:\n{text}"
        );
        assert!(
            text.contains(
                "step s2_update: UPDATE item SET n = n + 10 WHERE id = 1 <waiting ...>\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("id|n\n--+--\n1 |11\n(1 row)\n"),
            "both updates applied:\n{text}"
        );
    }
}

#[tokio::test]
async fn user_lock_wait_is_detected_on_mariadb() {
    let _serial = SERIAL.lock().await;
    let toml = r#"
dialects = ["mysql"]
permutations = [["s1_lock", "s2_lock", "s1_release", "s2_release"]]
[[session]]
name = "s1"
[[session.step]]
name = "s1_lock"
sql = "SELECT GET_LOCK('keyrace', 10) AS got"
[[session.step]]
name = "s1_release"
sql = "SELECT RELEASE_LOCK('keyrace') AS released"
[[session]]
name = "s2"
[[session.step]]
name = "s2_lock"
sql = "SELECT GET_LOCK('keyrace', 10) AS got"
[[session.step]]
name = "s2_release"
sql = "SELECT RELEASE_LOCK('keyrace') AS released"
"#;
    let reports = run_text("user-lock.toml", toml, &[Dialect::Mysql], 1).await;
    let text = reports[0].render_text("mysql");
    let ev = events(&reports[0], "mysql");
    assert!(
        matches!(&ev[1], Event::Step { step, waiting: true, detected_by: Some(Detection::Monitor), .. } if step == "s2_lock"),
        "{text}"
    );
    assert!(
        matches!(&ev[3], Event::Completed { step, .. } if step == "s2_lock"),
        "{text}"
    );
    assert!(
        text.contains("step s2_lock: <... completed>\ngot\n---\n1\n(1 row)\n"),
        "{text}"
    );
}

const DEADLOCK_SPEC: &str = r#"
# Classic deadlock: each session updates the row the other holds.
# keyrace: dialects = postgres, mysql
setup { CREATE TABLE pair (id int PRIMARY KEY, v int); INSERT INTO pair VALUES (1, 0), (2, 0); }
teardown { DROP TABLE pair; }
session s1
step s1b { BEGIN; }
step s1a { UPDATE pair SET v = 1 WHERE id = 1; }
step s1x { UPDATE pair SET v = 1 WHERE id = 2; }
step s1c { COMMIT; }
session s2
step s2b { BEGIN; }
step s2a { UPDATE pair SET v = 2 WHERE id = 2; }
step s2x { UPDATE pair SET v = 2 WHERE id = 1; }
step s2c { COMMIT; }
permutation s1b s2b s1a s2a s1x s2x s1c s2c
"#;

#[tokio::test]
async fn deadlock_is_decided_by_the_server_and_reported_deterministically() {
    let _serial = SERIAL.lock().await;
    let reports = run_text("deadlock.spec", DEADLOCK_SPEC, &Dialect::ALL, 5).await;
    let first_pg = reports[0].render_text("postgres");
    let first_my = reports[0].render_text("mysql");
    for r in &reports {
        assert_eq!(r.render_text("postgres"), first_pg);
        assert_eq!(r.render_text("mysql"), first_my);
    }
    for (d, code) in [("postgres", "40P01"), ("mysql", "1213")] {
        let errs = reports[0].target(d).expect("ran").permutations[0]
            .step_errors()
            .len();
        let p = &reports[0].target(d).expect("ran").permutations[0];
        let dl: Vec<_> = p
            .step_errors()
            .into_iter()
            .filter(|(_, e)| e.class == Outcome::Deadlock)
            .collect();
        assert_eq!(
            (dl.len(), errs),
            (1, 1),
            "{d}: exactly one deadlock:\n{}",
            reports[0].render_text(d)
        );
        assert_eq!(dl[0].1.code, code);
    }
    // PostgreSQL: s1x waits first, so its deadlock_timeout fires first and it is the victim.
    assert!(
        first_pg.contains("step s1x: <... completed>\nERROR: deadlock 40P01"),
        "{first_pg}"
    );
    assert!(
        first_pg.contains("step s2x: <... completed>\nstep s1c: COMMIT"),
        "{first_pg}"
    );
}

#[tokio::test]
async fn markers_hold_a_finished_step_until_its_blocker_completes() {
    let _serial = SERIAL.lock().await;
    let spec = r#"
session s1
step s1a { SELECT 1 AS one; }
step s1b { SELECT 2 AS two; }
session s2
step s2a { SELECT 3 AS three; }
step s2b { SELECT 4 AS four; }
permutation s1a s2a(s1b) s1b s2b(*)
"#;
    let reports = run_text("markers.spec", spec, &[Dialect::Postgres], 1).await;
    let text = reports[0].render_text("postgres");
    let want = "starting permutation: s1a s2a(s1b) s1b s2b(*)\n\
step s1a: SELECT 1 AS one;\none\n---\n1\n(1 row)\n\
step s2a: SELECT 3 AS three; <waiting ...>\n\
step s1b: SELECT 2 AS two;\ntwo\n---\n2\n(1 row)\n\
step s2a: <... completed>\nthree\n-----\n3\n(1 row)\n\
step s2b: SELECT 4 AS four; <waiting ...>\n\
step s2b: <... completed>\nfour\n----\n4\n(1 row)\n";
    assert_eq!(text, want);
}

/// Each bundled interleaving gives its expected output on 20 runs in a row (one database
/// per engine, reused).
#[tokio::test]
async fn bundled_scenarios_repeat_their_expected_output() {
    let _serial = SERIAL.lock().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/interleave");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/interleave")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml" || e == "spec"))
        .collect();
    files.sort();
    assert!(files.len() >= 6);
    for file in files {
        let plan = interleave::load(&file).unwrap_or_else(|d| panic!("{d}"));
        let reports = interleave::run_repeated(
            &plan,
            &common::interleave_targets(&Dialect::ALL),
            CancellationToken::new(),
            20,
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (are both servers up?): {}",
                file.display(),
                chain(&e)
            )
        });
        for (i, r) in reports.iter().enumerate() {
            let diffs = interleave::check_expected(r, &dir.join("expected"), false)
                .expect("expected files readable");
            let shown: Vec<&str> = diffs.iter().map(|d| d.diff.as_str()).collect();
            assert!(
                diffs.is_empty(),
                "{} run {}: output differs from expected:\n{}",
                file.display(),
                i + 1,
                shown.join("\n")
            );
        }
    }
}

/// Two sessions wait on one advisory lock and are woken by the same COMMIT: they complete in
/// the same check and must be reported in the order they started waiting (s2, then s3), every
/// time, without a panic (removing them by index in finish-time order used to panic about
/// 3 runs in 20).
const SIMULTANEOUS_WAKEUP_SPEC: &str = r#"
session s1
step s1_begin { BEGIN; }
step s1_lock { SELECT pg_advisory_xact_lock(7) IS NOT NULL AS locked; }
step s1_commit { COMMIT; }
session s2
step s2_shared { SELECT pg_advisory_lock_shared(7) IS NOT NULL AS shared2; }
step s2_release { SELECT pg_advisory_unlock_shared(7) AS released2; }
session s3
step s3_shared { SELECT pg_advisory_lock_shared(7) IS NOT NULL AS shared3; }
step s3_release { SELECT pg_advisory_unlock_shared(7) AS released3; }
permutation s1_begin s1_lock s2_shared s3_shared s1_commit s2_release s3_release
"#;

#[tokio::test]
async fn steps_woken_together_complete_in_the_order_they_waited() {
    let _serial = SERIAL.lock().await;
    let reports = run_text(
        "wakeup.spec",
        SIMULTANEOUS_WAKEUP_SPEC,
        &[Dialect::Postgres],
        40,
    )
    .await;
    let first = reports[0].render_text("postgres");
    let s2 = first.find("step s2_shared: <... completed>");
    let s3 = first.find("step s3_shared: <... completed>");
    assert!(
        matches!((s2, s3), (Some(a), Some(b)) if a < b),
        "s2 must complete before s3:\n{first}"
    );
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.render_text("postgres"), first, "run {i} differs");
    }
}

#[tokio::test]
async fn a_failed_setup_is_never_summarised_as_no_error() {
    let _serial = SERIAL.lock().await;
    let spec = "setup { SELECT * FROM keyrace_no_such_table; }\nsession s1\nstep s1a { SELECT 1 AS one; }\n";
    let reports = run_text("failing-setup.spec", spec, &[Dialect::Postgres], 1).await;
    let t = reports[0].target("postgres").expect("ran");
    for p in &t.permutations {
        let line = p.outcome();
        assert!(!line.contains("no error"), "{line}");
        assert!(line.contains("42P01"), "{line}");
    }
}
