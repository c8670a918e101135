//! Issue 11 items 7 and 10 against the real servers: setup and teardown blocks print the
//! result of their last statement, a failing setup stops the run (no line per permutation),
//! and a step whose session is still waiting waits for it (at most the step limit, then the
//! waiting step is cancelled and the permutation goes on) without a stale failure.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use keyrace::db::Dialect;
use keyrace::interleave::{self, InterleaveReport};
use tokio_util::sync::CancellationToken;

async fn run_toml(name: &str, text: &str, which: &[Dialect]) -> InterleaveReport {
    let plan = interleave::parse(Path::new(name), text).unwrap_or_else(|d| panic!("{d}"));
    interleave::run(
        &plan,
        &common::interleave_targets(which),
        CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("cannot run {name} (is the server up? CI starts it): {e}"))
}

/// Item 7: results of setup and teardown blocks used not to be printed at all.
#[tokio::test]
async fn setup_and_teardown_results_are_printed() {
    let toml = r#"
setup = ["CREATE TABLE kr_st_t (k int)", "INSERT INTO kr_st_t VALUES (4); SELECT k, 'set' AS how FROM kr_st_t"]
teardown = "SELECT count(*) AS n FROM kr_st_t; DROP TABLE kr_st_t"
permutations = [["s1_read"]]
[[session]]
name = "s1"
setup = "SELECT 'ready' AS state"
teardown = "SELECT k + 1 AS later FROM kr_st_t"
[[session.step]]
name = "s1_read"
sql = "SELECT k FROM kr_st_t"
"#;
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        let r = run_toml("setup-results.toml", toml, &[dialect]).await;
        let text = r.render_text(dialect.name());
        assert_eq!(
            text,
            "starting permutation: s1_read\n\
             k|how\n-+---\n4|set\n(1 row)\n\
             state\n-----\nready\n(1 row)\n\
             step s1_read: SELECT k FROM kr_st_t\nk\n-\n4\n(1 row)\n\
             later\n-----\n5\n(1 row)\n",
            "{dialect}"
        );
    }
}

/// Item 7: a failing setup printed `permutation failed: setup failed` for every permutation
/// and the run exited 0; now it stops after the first, with the server's error.
#[tokio::test]
async fn a_failing_setup_stops_the_run() {
    let toml = r#"
setup = ["CREATE TABLE kr_st_fail (k int)", "SELECT 1/0", "SELECT 'never' AS x"]
teardown = "DROP TABLE kr_st_fail"
[[session]]
name = "s1"
[[session.step]]
name = "a"
sql = "SELECT 1"
[[session]]
name = "s2"
[[session.step]]
name = "b"
sql = "SELECT 2"
"#;
    let r = run_toml("setup-fails.toml", toml, &[Dialect::Postgres]).await;
    let t = &r.targets[0];
    assert_eq!(
        t.permutations.len(),
        1,
        "the run goes on after a failed setup"
    );
    assert!(t.permutations[0].setup_failed());
    let text = r.render_text("postgres");
    assert_eq!(
        text,
        "starting permutation: a b\n\
         setup failed: ERROR: other 22012: division by zero\n"
    );
    assert!(!text.contains("permutation failed"), "{text}");
}

const LEFT_WAITING: &str = r#"
wait_timeout_ms = WAIT
permutations = [["s1_lock", "s2_lock", "s2_next", "s1_unlock"]]
[[session]]
name = "s1"
[[session.step]]
name = "s1_lock"
sql = "SELECT pg_advisory_lock(811) IS NOT NULL AS locked"
[[session.step]]
name = "s1_unlock"
sql = "SELECT pg_advisory_unlock(811)"
[[session]]
name = "s2"
setup = "SET lock_timeout = 'LOCK_TIMEOUT'"
[[session.step]]
name = "s2_lock"
sql = "SELECT pg_advisory_lock(811) IS NOT NULL AS locked"
[[session.step]]
name = "s2_next"
sql = "SELECT 'next' AS step"
"#;

const HEAD: &str = "starting permutation: s1_lock s2_lock s2_next s1_unlock\n\
    step s1_lock: SELECT pg_advisory_lock(811) IS NOT NULL AS locked\n\
    locked\n------\nt\n(1 row)\n\
    step s2_lock: SELECT pg_advisory_lock(811) IS NOT NULL AS locked <waiting ...>\n";

const TAIL: &str = "step s2_next: SELECT 'next' AS step\nstep\n----\nnext\n(1 row)\n\
    step s1_unlock: SELECT pg_advisory_unlock(811)\npg_advisory_unlock\n------------------\nt\n(1 row)\n";

/// Item 10, the issue's reproduction: s2's lock_timeout ends s2_lock before the step limit;
/// it used to print the lock timeout and then a stale `permutation failed: step s2_next needs
/// session s2, whose step s2_lock is still waiting`, and s1_unlock never ran.
#[tokio::test]
async fn a_step_of_a_waiting_session_waits_for_it() {
    let toml = LEFT_WAITING
        .replace("WAIT", "1000")
        .replace("LOCK_TIMEOUT", "700ms");
    let r = run_toml("left-waiting.toml", &toml, &[Dialect::Postgres]).await;
    let text = r.render_text("postgres");
    let want = format!(
        "{HEAD}step s2_lock: <... completed>\n\
         ERROR: lock_timeout 55P03: canceling statement due to lock timeout\n{TAIL}"
    );
    assert_eq!(text, want);
    assert_eq!(r.targets[0].permutations[0].failure, None);
}

/// Item 10: past the step limit (twice `wait_timeout_ms` in TOML) the waiting step is
/// cancelled, said so, and the permutation goes on.
#[tokio::test]
async fn a_step_still_waiting_at_the_limit_is_cancelled() {
    let toml = LEFT_WAITING
        .replace("WAIT", "400")
        .replace("LOCK_TIMEOUT", "30s");
    let started = Instant::now();
    let r = run_toml("left-waiting.toml", &toml, &[Dialect::Postgres]).await;
    let text = r.render_text("postgres");
    let want = format!(
        "{HEAD}cancelling step s2_lock: still waiting after 0.8 s\n\
         step s2_lock: <... completed>\n\
         ERROR: query_canceled 57014: canceling statement due to user request\n{TAIL}"
    );
    assert_eq!(text, want);
    assert_eq!(r.targets[0].permutations[0].failure, None);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}: the lock timeout (30 s) decided, not the limit",
        started.elapsed()
    );
}
