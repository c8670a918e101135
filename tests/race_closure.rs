//! `keyrace::race` on the real servers: a naive get-or-create (SELECT, then INSERT when
//! absent) lets unique violations reach the application and is not safe; the fixed one
//! (INSERT … ON CONFLICT DO NOTHING / INSERT IGNORE, then SELECT) is safe, with one row per
//! key; the user's verification queries become figures and expectations bound them.

mod common;

use keyrace::db::Dialect;
use keyrace::race::{Op, RaceOptions, race};
use keyrace::report::{Report, StrategyResult, VerdictLevel};
use keyrace::runner::{self, Target};
use keyrace::vocab::Outcome;
use sqlx::{MySqlPool, PgPool};

const SCHEMA: &str = "CREATE TABLE users (email VARCHAR(200) PRIMARY KEY, name VARCHAR(200))";

fn options(name: &str, url: &str) -> RaceOptions {
    RaceOptions::new(name, url)
        .workers(8)
        .operations(240)
        .repeat(2)
        .setup("DELETE FROM users")
        .verify("rows", "SELECT count(*) FROM users")
        .verify(
            "duplicates",
            "SELECT count(*) - count(DISTINCT email) FROM users",
        )
        .expect("rows = rounds")
        .expect("duplicates = 0")
}

fn only(report: &Report) -> &StrategyResult {
    &report.scenarios[0].results[0]
}

async fn naive_pg(pool: PgPool, op: Op) -> Result<Outcome, sqlx::Error> {
    let found: Option<(String,)> = sqlx::query_as("SELECT email FROM users WHERE email = $1")
        .bind(&op.key)
        .fetch_optional(&pool)
        .await?;
    if found.is_some() {
        return Ok(Outcome::Existed);
    }
    sqlx::query("INSERT INTO users (email, name) VALUES ($1, $2)")
        .bind(&op.key)
        .bind(&op.payload)
        .execute(&pool)
        .await?;
    Ok(Outcome::Inserted)
}

async fn fixed_pg(pool: PgPool, op: Op) -> Result<Outcome, sqlx::Error> {
    let n = sqlx::query("INSERT INTO users (email, name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(&op.key)
        .bind(&op.payload)
        .execute(&pool)
        .await?
        .rows_affected();
    let _: (String,) = sqlx::query_as("SELECT email FROM users WHERE email = $1")
        .bind(&op.key)
        .fetch_one(&pool)
        .await?;
    Ok(if n == 1 {
        Outcome::Inserted
    } else {
        Outcome::Existed
    })
}

async fn naive_my(pool: MySqlPool, op: Op) -> Result<Outcome, sqlx::Error> {
    let found: Option<(String,)> = sqlx::query_as("SELECT email FROM users WHERE email = ?")
        .bind(&op.key)
        .fetch_optional(&pool)
        .await?;
    if found.is_some() {
        return Ok(Outcome::Existed);
    }
    sqlx::query("INSERT INTO users (email, name) VALUES (?, ?)")
        .bind(&op.key)
        .bind(&op.payload)
        .execute(&pool)
        .await?;
    Ok(Outcome::Inserted)
}

async fn fixed_my(pool: MySqlPool, op: Op) -> Result<Outcome, sqlx::Error> {
    let n = sqlx::query("INSERT IGNORE INTO users (email, name) VALUES (?, ?)")
        .bind(&op.key)
        .bind(&op.payload)
        .execute(&pool)
        .await?
        .rows_affected();
    let _: (String,) = sqlx::query_as("SELECT email FROM users WHERE email = ?")
        .bind(&op.key)
        .fetch_one(&pool)
        .await?;
    Ok(if n == 1 {
        Outcome::Inserted
    } else {
        Outcome::Existed
    })
}

/// Creates a fresh database with the users table on `dialect`'s test server; returns its
/// target (for dropping it) and URL.
async fn fresh_database(dialect: Dialect, name: &str) -> (Target, String, String) {
    let server = common::server(dialect).await;
    let target = server.target.clone();
    let db = format!("keyrace_test_race_{name}_{}", std::process::id());
    runner::create_database(&target, &db)
        .await
        .expect("create database");
    let url = keyrace::db::database_url(&target.url, &db);
    let mut c = keyrace::db::Conn::connect(dialect, &url)
        .await
        .expect("connect");
    c.batch(SCHEMA).await.expect("schema");
    c.close().await;
    (target, db, url)
}

fn check(dialect: Dialect, naive: &Report, fixed: &Report) {
    let n = only(naive);
    for r in [naive, fixed] {
        let x = only(r);
        eprintln!(
            "{dialect} {}: {:?}; {:?}; figures {:?}",
            x.strategy,
            x.outcomes,
            r.verdict(),
            x.figures
        );
    }
    assert!(
        n.outcomes.unique_violation > 0,
        "{dialect}: the naive get-or-create met no unique violation: {:?}",
        n.outcomes
    );
    assert_ne!(
        naive.verdict().level,
        VerdictLevel::Safe,
        "{dialect}: naive judged safe"
    );
    assert!(!naive.verdict().is_safe());
    assert_eq!(
        n.errors[0].code,
        match dialect {
            Dialect::Postgres => "23505",
            Dialect::Mysql => "1062",
        },
        "{dialect}: classified by the engine's code"
    );
    let f = only(fixed);
    assert!(
        fixed.verdict().is_safe(),
        "{dialect}: fixed not safe: {:?} {:?}",
        fixed.verdict(),
        f.outcomes
    );
    assert_eq!(f.ops, 480, "{dialect}: 2 repetitions of 240 operations");
    assert_eq!(f.outcomes.inserted, 60, "{dialect}: one insert per round");
    assert_eq!(f.outcomes.existed, 420, "{dialect}");
    assert_eq!(f.figure("rows"), Some(60.0), "{dialect}: rows summed");
    assert_eq!(f.figure("duplicates"), Some(0.0), "{dialect}");
    assert!(fixed.all_held(), "{dialect}: {:?}", f.expectations);
    assert_eq!(f.expectations.len(), 2, "{dialect}: {:?}", f.expectations);
    assert!(
        f.figure("release_spread_max_us").is_some(),
        "{dialect}: release spread measured"
    );
    // The report is the same type `keyrace run` writes: it renders and serialises.
    let json = serde_json::to_value(fixed).expect("serialises");
    assert_eq!(
        json["scenarios"][0]["results"][0]["verdict"]["level"],
        "safe"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_get_or_create_is_not_safe_and_the_fixed_one_is_on_postgres() {
    let (target, db, url) = fresh_database(Dialect::Postgres, "pg").await;
    let pool = PgPool::connect(&url).await.expect("pool");
    let p = pool.clone();
    let naive = race(options("naive", &url), move |op| naive_pg(p.clone(), op))
        .await
        .expect("naive race runs");
    let p = pool.clone();
    let fixed = race(options("fixed", &url), move |op| fixed_pg(p.clone(), op))
        .await
        .expect("fixed race runs");
    pool.close().await;
    runner::drop_database(&target, &db).await.expect("drop");
    check(Dialect::Postgres, &naive, &fixed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_get_or_create_is_not_safe_and_the_fixed_one_is_on_mariadb() {
    let (target, db, url) = fresh_database(Dialect::Mysql, "my").await;
    let pool = MySqlPool::connect(&url).await.expect("pool");
    let p = pool.clone();
    let naive = race(options("naive", &url), move |op| naive_my(p.clone(), op))
        .await
        .expect("naive race runs");
    let p = pool.clone();
    let fixed = race(options("fixed", &url), move |op| fixed_my(p.clone(), op))
        .await
        .expect("fixed race runs");
    pool.close().await;
    runner::drop_database(&target, &db).await.expect("drop");
    check(Dialect::Mysql, &naive, &fixed);
}

#[tokio::test]
async fn a_bad_expectation_and_a_failing_query_are_reported() {
    let url = common::url(Dialect::Postgres);
    let e = race(
        RaceOptions::new("x", &url).expect("dupes = 0"),
        |_op| async { Ok::<_, sqlx::Error>(Outcome::Inserted) },
    )
    .await
    .expect_err("unknown figure");
    assert!(e.to_string().contains("unknown figure `dupes`"), "{e}");
    let e = race(
        RaceOptions::new("x", &url)
            .operations(8)
            .verify("n", "SELECT count(*) FROM keyrace_no_such_table"),
        |_op| async { Ok::<_, sqlx::Error>(Outcome::Existed) },
    )
    .await
    .expect_err("failing query");
    assert!(e.to_string().contains("verification query `n`"), "{e}");
    let e = race(RaceOptions::new("x", "http://nowhere"), |_op| async {
        Ok::<_, sqlx::Error>(Outcome::Existed)
    })
    .await
    .expect_err("bad url");
    assert!(
        e.to_string().contains("not a postgres:// or mysql:// URL"),
        "{e}"
    );
}
