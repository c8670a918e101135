//! Verification against the real tables: duplicates and lost updates are found, and the
//! figures agree with SQL counted independently.

mod common;

use std::collections::HashMap;

use keyrace::db::{Conn, Dialect};
use keyrace::plan::{KeyType, Shape, TableSpec};
use keyrace::runner::{self, Target};
use keyrace::verify;

fn table() -> TableSpec {
    TableSpec {
        name: "t".into(),
        key: "k".into(),
        key_type: KeyType::Text,
        key_format: "key-{}".into(),
        counter: Some("n".into()),
        payload: None,
    }
}

/// Builds a table by hand in a fresh database and checks what verify reports.
#[tokio::test]
async fn snapshot_and_verify_count_duplicates_missing_rows_and_lost_updates() {
    for dialect in Dialect::ALL {
        let server = common::server(dialect).await;
        let target = Target {
            dialect,
            label: server.target.label.clone(),
            url: server.target.url.clone(),
            nodes: Vec::new(),
        };
        let db = format!("keyrace_test_verify_{}", std::process::id());
        runner::create_database(&target, &db)
            .await
            .expect("create database");
        let url = keyrace::db::database_url(&target.url, &db);
        let mut c = Conn::connect(dialect, &url).await.expect("connect");
        c.batch("CREATE TABLE t (id INT, k VARCHAR(50) NOT NULL, n BIGINT NOT NULL)")
            .await
            .unwrap();
        c.batch("INSERT INTO t VALUES (1, 'import-1', 5)")
            .await
            .unwrap();
        let before = verify::snapshot(&mut c, &table(), Shape::Counter)
            .await
            .unwrap();
        // key-1: 3 rows (2 duplicates), total 3; key-2: 1 row, total 4; key-3 acked but absent.
        c.batch("INSERT INTO t VALUES (2, 'key-1', 1), (3, 'key-1', 1), (4, 'key-1', 1), (5, 'key-2', 4)").await.unwrap();
        let after = verify::snapshot(&mut c, &table(), Shape::Counter)
            .await
            .unwrap();
        assert_eq!(
            after.rows, 5,
            "{dialect}: every row counted, foreign keys included"
        );
        assert_eq!(
            after.keys.len(),
            2,
            "{dialect}: rows keyrace did not write are not keys"
        );
        let acked = HashMap::from([(1, 3), (2, 6), (3, 2)]);
        let v = verify::verify(&before, &after, &acked, Shape::Counter);
        assert_eq!(v.duplicate_rows, 2, "{dialect}");
        assert_eq!(v.missing_rows, 1, "{dialect}");
        // key-2: 6 acked, 4 present → 2 lost; key-3: 2 acked, row missing → 2 lost.
        assert_eq!(v.lost_updates, 4, "{dialect}");
        assert_eq!(v.rows, 4, "{dialect}");
        // Cross-check duplicates with SQL counted independently.
        let dups = c
            .scalar_text("SELECT COUNT(*) - COUNT(DISTINCT k) FROM t WHERE k LIKE 'key-%'")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(dups, "2");
        c.close().await;
        runner::drop_database(&target, &db)
            .await
            .expect("drop database");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_race_without_the_constraint_writes_duplicates_that_verify_finds() {
    let toml = r#"
name = "dups"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
[workload]
workers = 6
operations = 240
mode = "rounds"
isolation = "read-committed"
[[strategy]]
use = "check-then-insert"
"#;
    let report = common::run_toml(toml, &Dialect::ALL).await;
    for d in Dialect::ALL {
        let r = common::result(&report, "check-then-insert", d);
        assert!(
            r.duplicate_rows > 0,
            "{d}: expected duplicates without the constraint"
        );
        // Every inserted acknowledgement is a row: rows = inserted, and one row per round is not a duplicate.
        assert_eq!(r.rows, r.outcomes.inserted, "{d}");
        assert_eq!(
            r.duplicate_rows,
            r.rows - 40,
            "{d}: 40 rounds, one key each"
        );
        assert_eq!(r.missing_rows, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_modify_write_loses_updates_and_for_update_does_not() {
    let toml = r#"
name = "rmw"
[schema]
postgres = "CREATE TABLE c (k BIGINT PRIMARY KEY, n BIGINT NOT NULL)"
mysql = "CREATE TABLE c (k BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB"
[table]
name = "c"
key = "k"
key_type = "bigint"
counter = "n"
[workload]
shape = "read-modify-write"
workers = 6
operations = 600
keys = 3
isolation = "read-committed"
[[strategy]]
use = "check-then-insert"
[[strategy]]
use = "select-for-update-then-insert"
"#;
    let report = common::run_toml(toml, &Dialect::ALL).await;
    for d in Dialect::ALL {
        let racy = common::result(&report, "check-then-insert", d);
        assert!(
            racy.lost_updates > 0,
            "{d}: read-modify-write at read committed should lose updates"
        );
        let acked = racy.ops - racy.outcomes.errors();
        assert!(racy.lost_updates < acked, "{d}: some increments survive");
        let locked = common::result(&report, "select-for-update-then-insert", d);
        assert_eq!(locked.lost_updates, 0, "{d}");
    }
}
