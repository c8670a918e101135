//! The user's own strategies: SQL steps with bound parameters, conditions, savepoints,
//! retries, and errors raised by COMMIT, against the real servers.

mod common;

use keyrace::db::Dialect;

const HEAD: &str = r#"
name = "custom"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT, w INT)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(200), w INT) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
[workload]
workers = 6
operations = 180
mode = "rounds"
isolation = "read-committed"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn savepoint_get_or_create_catches_every_violation() {
    let toml = format!(
        r#"{HEAD}
[[strategy]]
name = "get-or-create-savepoint"
on_unique_violation = "savepoint-and-select"
[[strategy.step]]
sql = "SELECT id FROM users WHERE email = {{key}}"
[[strategy.step]]
when = "not-found"
sql = "INSERT INTO users (email, name, w) VALUES ({{key}}, {{payload}}, {{worker}})"
[[strategy.fallback]]
sql = "SELECT id FROM users WHERE email = {{key}}"

[[strategy]]
name = "plain-insert-retried"
retry = {{ on = ["unique_violation"], max = 1, backoff_us = 100 }}
[[strategy.step]]
sql = "INSERT INTO users (email, name) VALUES ({{key}}, {{payload}})"
"#
    );
    let report = common::run_toml(&toml, &Dialect::ALL).await;
    for d in Dialect::ALL {
        let r = common::result(&report, "get-or-create-savepoint", d);
        assert_eq!(
            r.outcomes.errors(),
            0,
            "{d}: {:?} {:?}",
            r.outcomes,
            r.other_codes
        );
        assert_eq!(r.outcomes.inserted, 30, "{d}");
        assert_eq!(r.outcomes.existed, 150, "{d}");
        assert!(
            r.handled.unique_violation > 0,
            "{d}: the race must have happened and been caught"
        );
        // Retrying a plain INSERT on a unique violation only fails again: the retry is counted
        // apart from the operation, and the final outcome is still the violation.
        let r = common::result(&report, "plain-insert-retried", d);
        assert_eq!(r.outcomes.inserted, 30);
        assert_eq!(r.outcomes.unique_violation, 150, "{d}");
        assert_eq!(r.retries, 150, "{d}: one retry per losing operation");
        assert_eq!(r.handled.unique_violation, 150);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_unique_constraint_fails_at_commit_and_is_counted() {
    let toml = r#"
name = "deferred"
[schema]
postgres = "CREATE TABLE users (email TEXT NOT NULL, CONSTRAINT users_email_key UNIQUE (email) DEFERRABLE INITIALLY DEFERRED)"
[table]
name = "users"
key = "email"
[workload]
workers = 3
operations = 30
mode = "rounds"
[[strategy]]
name = "insert-then-commit"
transaction = true
[[strategy.step]]
sql = "INSERT INTO users (email) VALUES ({key})"
[[strategy.step]]
sql = "SELECT pg_sleep(0.001)"
"#;
    let report = common::run_toml(toml, &[Dialect::Postgres]).await;
    let r = common::result(&report, "insert-then-commit", Dialect::Postgres);
    // Each session's INSERT succeeds (the check is deferred); the COMMITs then check, wait on
    // each other's uncommitted rows and fail with 23505, or deadlock (40P01) when two wait on
    // each other. Either way the error comes from COMMIT and is counted.
    assert_eq!(r.outcomes.inserted, 10);
    assert!(
        r.outcomes.unique_violation > 0,
        "23505 raised by COMMIT counts: {:?}",
        r.outcomes
    );
    assert_eq!(
        r.outcomes.unique_violation + r.outcomes.deadlock,
        20,
        "{:?}",
        r.outcomes
    );
    assert_eq!(r.duplicate_rows, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_missing_for_one_dialect_makes_the_strategy_unavailable_there() {
    let toml = format!(
        r#"{HEAD}
[[strategy]]
name = "pg-only"
[[strategy.step]]
postgres = "INSERT INTO users (email) VALUES ({{key}}) ON CONFLICT DO NOTHING"
"#
    );
    let report = common::run_toml(&toml, &Dialect::ALL).await;
    let my = common::result(&report, "pg-only", Dialect::Mysql);
    assert!(!my.available);
    assert!(
        my.note
            .as_deref()
            .unwrap_or("")
            .contains("not available on mysql")
    );
    let pg = common::result(&report, "pg-only", Dialect::Postgres);
    assert_eq!(pg.outcomes.errors(), 0);
    assert_eq!(pg.outcomes.inserted, 30);
}
