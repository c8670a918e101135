//! Each built-in strategy on each dialect it supports, against the real servers: the sign-up
//! race in rounds mode, checking the outcome classes each one must (and must not) produce.

mod common;

use keyrace::db::Dialect;
use keyrace::strategy::BUILTINS;

const ROUNDS: u64 = 40;
const WORKERS: u64 = 6;

fn signup(strategies: &[&str], isolation: &str) -> String {
    let list: String = strategies
        .iter()
        .map(|s| format!("[[strategy]]\nuse = \"{s}\"\n"))
        .collect();
    format!(
        r#"
name = "strategies-test"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(255)) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
payload = "name"
[workload]
workers = {WORKERS}
operations = {}
mode = "rounds"
isolation = "{isolation}"
{list}"#,
        ROUNDS * WORKERS
    )
}

/// The major version of the PostgreSQL server the tests run on.
async fn pg_major() -> u32 {
    let v = common::server(Dialect::Postgres).await.info.version;
    keyrace::db::Engine::default_for(Dialect::Postgres)
        .parse_version(&v)
        .unwrap_or_else(|| panic!("version {v:?}"))
        .0
}

fn all_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_builtin_keeps_one_row_per_key_and_acknowledges_each_insert() {
    let report = common::run_toml(&signup(&all_names(), "read-committed"), &Dialect::ALL).await;
    let s = &report.scenarios[0];
    assert!(s.error.is_none(), "{:?}", s.error);
    for r in &s.results {
        if !r.available {
            let note = r.note.as_deref().unwrap_or("");
            assert!(
                note.starts_with("not available on"),
                "{}: {note}",
                r.strategy
            );
            continue;
        }
        assert_eq!(r.ops, ROUNDS * WORKERS, "{} on {}", r.strategy, r.database);
        assert_eq!(r.duplicate_rows, 0, "{} on {}", r.strategy, r.database);
        assert_eq!(r.missing_rows, 0, "{} on {}", r.strategy, r.database);
        assert_eq!(
            r.rows, ROUNDS,
            "{} on {}: one row per round",
            r.strategy, r.database
        );
        // Exactly one session per round is told "inserted" (REPLACE re-inserts: counted as updated).
        assert_eq!(
            r.outcomes.inserted, ROUNDS,
            "{} on {}",
            r.strategy, r.database
        );
        assert_eq!(
            r.outcomes.connection_error + r.outcomes.other,
            0,
            "{} on {}: {:?}",
            r.strategy,
            r.database,
            r.other_codes
        );
    }
    let available = |name: &str, d: Dialect| {
        s.results
            .iter()
            .any(|r| r.strategy == name && r.dialect == d.name() && r.available)
    };
    assert!(
        available("on-conflict-do-nothing", Dialect::Postgres)
            && !available("on-conflict-do-nothing", Dialect::Mysql)
    );
    assert!(
        available("insert-ignore", Dialect::Mysql)
            && !available("insert-ignore", Dialect::Postgres)
    );
    // MERGE arrived in PostgreSQL 15 (KEYRACE_POSTGRES_URL=local:13 runs these tests on 13).
    let merge_on_pg = pg_major().await >= 15;
    assert_eq!(available("merge", Dialect::Postgres), merge_on_pg);
    assert!(!available("merge", Dialect::Mysql));
    assert!(
        available("replace-into", Dialect::Mysql) && !available("replace-into", Dialect::Postgres)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racy_strategies_raise_unique_violations_and_atomic_ones_do_not() {
    let report = common::run_toml(&signup(&all_names(), "read-committed"), &Dialect::ALL).await;
    for d in Dialect::ALL {
        // The race is real for a check before the insert, on both engines.
        for racy in ["check-then-insert", "select-for-update-then-insert"] {
            let r = common::result(&report, racy, d);
            assert!(
                r.outcomes.unique_violation > 0,
                "{racy} on {d}: expected unique violations, got {:?}",
                r.outcomes
            );
        }
        // One INSERT … WHERE NOT EXISTS statement narrows the window but does not close it:
        // it never avoids the violation by itself, and on PostgreSQL it shows up every run
        // (on InnoDB it is rarer and timing-dependent, so not asserted per run).
        let r = common::result(&report, "insert-where-not-exists", d);
        assert_eq!(
            r.outcomes.unique_violation + r.outcomes.existed,
            ROUNDS * (WORKERS - 1),
            "{d}: {:?}",
            r.outcomes
        );
        if d == Dialect::Postgres {
            assert!(r.outcomes.unique_violation > 0, "{:?}", r.outcomes);
        }
        // Caught and turned into "existed".
        let r = common::result(&report, "insert-catch-select", d);
        assert_eq!(r.outcomes.unique_violation, 0);
        assert!(r.handled.unique_violation > 0);
        assert_eq!(r.outcomes.existed, ROUNDS * (WORKERS - 1));
        // Serialized by a lock: no errors at all.
        let r = common::result(&report, "advisory-lock", d);
        assert_eq!(r.outcomes.errors(), 0);
        assert_eq!(r.outcomes.existed, ROUNDS * (WORKERS - 1));
        // Retried to success.
        let r = common::result(&report, "serializable-retry", d);
        assert_eq!(r.outcomes.errors(), 0, "{d}: {:?}", r.outcomes);
        assert!(
            r.retries > 0,
            "{d}: SERIALIZABLE check-then-insert should need retries"
        );
        assert_eq!(r.isolation, "serializable");
    }
    for (name, d, updated) in [
        ("on-conflict-do-nothing", Dialect::Postgres, false),
        ("on-conflict-do-update", Dialect::Postgres, true),
        ("insert-ignore", Dialect::Mysql, false),
        ("on-duplicate-key-update", Dialect::Mysql, true),
    ] {
        let r = common::result(&report, name, d);
        assert_eq!(r.outcomes.errors(), 0, "{name}: {:?}", r.outcomes);
        let losers = ROUNDS * (WORKERS - 1);
        if updated {
            assert_eq!(r.outcomes.updated, losers, "{name}");
        } else {
            assert_eq!(r.outcomes.existed, losers, "{name}");
        }
    }
    // REPLACE never raises 1062, but its delete + insert on a unique secondary index can
    // deadlock under InnoDB (seen here on MariaDB 10.11): the only error it may produce.
    let r = common::result(&report, "replace-into", Dialect::Mysql);
    assert_eq!(r.outcomes.unique_violation, 0);
    assert_eq!(r.outcomes.errors(), r.outcomes.deadlock, "{:?}", r.outcomes);
    assert_eq!(
        r.outcomes.updated + r.outcomes.deadlock,
        ROUNDS * (WORKERS - 1)
    );
    // Retry classes differ by engine: PostgreSQL SSI raises 40001, InnoDB SERIALIZABLE deadlocks.
    assert!(
        common::result(&report, "serializable-retry", Dialect::Postgres)
            .handled
            .serialization_failure
            > 0
    );
    assert!(
        common::result(&report, "serializable-retry", Dialect::Mysql)
            .handled
            .deadlock
            > 0
    );
    // MERGE is not safe against concurrent inserts (PostgreSQL 15 and later; none before).
    if pg_major().await >= 15 {
        assert!(
            common::result(&report, "merge", Dialect::Postgres)
                .outcomes
                .unique_violation
                > 0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_on_a_missing_row_deadlocks_on_innodb_repeatable_read() {
    let report = common::run_toml(
        &signup(&["select-for-update-then-insert"], "repeatable-read"),
        &Dialect::ALL,
    )
    .await;
    let my = common::result(&report, "select-for-update-then-insert", Dialect::Mysql);
    assert!(
        my.outcomes.deadlock > 0,
        "InnoDB gap locks should deadlock: {:?}",
        my.outcomes
    );
    assert_eq!(my.isolation, "repeatable-read");
    let pg = common::result(&report, "select-for-update-then-insert", Dialect::Postgres);
    assert_eq!(pg.outcomes.deadlock, 0);
    assert!(pg.outcomes.unique_violation > 0);
}
