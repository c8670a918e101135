//! Rounds mode with a duration: every worker must leave at the same round. A worker that
//! checked the deadline on its own clock used to leave while the others waited for it at
//! the next round's barrier, for ever (about 1 run in 6 hung on MariaDB).

mod common;

use std::time::Duration;

use keyrace::db::Dialect;

const SCENARIO: &str = r#"name = "rounds-deadline"
teaches = "a duration ends rounds mode cleanly"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
[workload]
workers = 8
duration = "150ms"
mode = "rounds"
[[strategy]]
use = "check-then-insert"
"#;

#[tokio::test(flavor = "current_thread")]
async fn a_duration_never_strands_workers_at_the_barrier() {
    for dialect in Dialect::ALL {
        for attempt in 0..15 {
            let report = tokio::time::timeout(
                Duration::from_secs(60),
                common::run_toml(SCENARIO, &[dialect]),
            )
            .await
            .unwrap_or_else(|_| panic!("run {attempt} on {dialect} hung past its 150 ms duration"));
            let r = common::result(&report, "check-then-insert", dialect);
            assert!(r.ops > 0, "run {attempt} on {dialect} did nothing");
        }
    }
}
