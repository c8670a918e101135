//! Why a step waited (`--explain`, and always in the JSON): the blocking session, its step
//! and the lock, read from each engine's lock views on the real servers.

mod common;

use std::path::Path;

use keyrace::db::Dialect;
use keyrace::interleave::{self, Event};
use tokio_util::sync::CancellationToken;

const SPEC: &str = r#"
name = "explain"
setup = [
  { postgres = "CREATE TABLE job (id INT PRIMARY KEY, state TEXT)", mysql = "CREATE TABLE job (id INT PRIMARY KEY, state VARCHAR(10)) ENGINE=InnoDB" },
  "INSERT INTO job VALUES (10, 'later')",
]
permutations = [
  ["s1_begin", "s2_begin", "s1_lock", "s2_lock", "s1_insert", "s2_insert", "s1_commit", "s2_commit"],
]
[[session]]
name = "s1"
setup = { mysql = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", postgres = "SET default_transaction_isolation = 'read committed'" }
[[session.step]]
name = "s1_begin"
sql = "BEGIN"
[[session.step]]
name = "s1_lock"
sql = "SELECT id FROM job WHERE id = 1 FOR UPDATE"
[[session.step]]
name = "s1_insert"
sql = "INSERT INTO job VALUES (1, 's1')"
[[session.step]]
name = "s1_commit"
sql = "COMMIT"
[[session]]
name = "s2"
setup = { mysql = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", postgres = "SET default_transaction_isolation = 'read committed'" }
[[session.step]]
name = "s2_begin"
sql = "BEGIN"
[[session.step]]
name = "s2_lock"
sql = "SELECT id FROM job WHERE id = 1 FOR UPDATE"
[[session.step]]
name = "s2_insert"
sql = "INSERT INTO job VALUES (1, 's2')"
[[session.step]]
name = "s2_commit"
sql = "COMMIT"
"#;

#[tokio::test]
async fn each_wait_names_its_blocker_and_the_lock() {
    let plan = interleave::parse(Path::new("explain.toml"), SPEC).unwrap_or_else(|d| panic!("{d}"));
    let report = interleave::run(
        &plan,
        &common::interleave_targets(&Dialect::ALL),
        CancellationToken::new(),
    )
    .await
    .expect("ran");
    for (dialect, waiter, blocker, lock_words) in [
        // PostgreSQL: no gap locks; s2's insert waits for s1's transaction to end.
        (
            "postgres",
            "s2_insert",
            "s1",
            &["ShareLock", "transaction"][..],
        ),
        // InnoDB at REPEATABLE READ: both FOR UPDATEs locked the gap before row 10 (X,GAP);
        // s1's insert waits for s2's gap lock (then s2's insert is the deadlock victim).
        (
            "mysql",
            "s1_insert",
            "s2",
            &["RECORD", "`job`", "PRIMARY"][..],
        ),
    ] {
        let t = report.target(dialect).expect("target ran");
        assert!(!t.permutations.is_empty(), "{dialect}: {:?}", t.skipped);
        let p = &t.permutations[0];
        let waits = p
            .events
            .iter()
            .find_map(|e| match e {
                Event::Step {
                    step,
                    waiting: true,
                    waits_for,
                    ..
                } if step == waiter => Some(waits_for),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{dialect}: {waiter} did not wait:\n{}", t.render_text()));
        assert_eq!(waits.len(), 1, "{dialect}: {waits:?}");
        assert_eq!(waits[0].blocker, blocker, "{dialect}");
        assert_eq!(
            waits[0].blocker_step.as_deref(),
            Some(&*format!(
                "{blocker}_{}",
                if dialect == "postgres" {
                    "insert"
                } else {
                    "lock"
                }
            )),
            "{dialect}"
        );
        for w in lock_words {
            assert!(
                waits[0].lock.contains(w),
                "{dialect}: {:?} lacks {w}",
                waits[0].lock
            );
        }
        // The blocker's mode is a whole lock mode (MariaDB once cut `X,GAP` to `X,`).
        let held = &waits[0].held;
        let whole = if dialect == "postgres" {
            held.ends_with("Lock")
        } else {
            let mut parts = held.split(',');
            matches!(parts.next(), Some("S" | "X" | "IS" | "IX" | "AUTO_INC"))
                && parts.all(|p| ["GAP", "REC_NOT_GAP", "INSERT_INTENTION"].contains(&p))
        };
        assert!(whole, "{dialect}: held mode {held:?}");
        let explained = t.render_explained();
        assert!(
            explained.contains(&format!("  waits for {blocker} (step ")),
            "{explained}"
        );
        // The default output (compared with expected files) does not change.
        assert!(!t.render_text().contains("waits for"));
    }
}
