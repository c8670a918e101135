//! Backends per engine against the real servers: detection from the server itself,
//! engine-specific SQL keys in scenario files, features gated by the server's version, and
//! the library's options checked like the command line's.

mod common;

use keyrace::db::{Conn, Dialect, Engine, Version, detect};
use keyrace::vocab::Feature;

#[tokio::test]
async fn each_server_is_detected_as_its_engine_and_classified_by_it() {
    let mut pg = Conn::connect(Dialect::Postgres, &common::url(Dialect::Postgres))
        .await
        .expect("postgres");
    let (version, engine) = detect(&mut pg).await.expect("version");
    assert_eq!(engine.name(), "postgres", "{version}");
    assert_eq!(pg.engine(), engine);
    let v = engine.parse_version(&version).expect("a version");
    assert!(v >= Version(13, 0, 0), "{version}");
    assert_eq!(
        engine.capabilities(v).has(Feature::Merge),
        v >= Version(15, 0, 0),
        "{version}"
    );
    // A real server error is classified by the engine's table: 23505 is a unique violation.
    pg.batch("CREATE TEMP TABLE u (k INT PRIMARY KEY); INSERT INTO u VALUES (1)")
        .await
        .expect("setup");
    let e = pg
        .batch("INSERT INTO u VALUES (1)")
        .await
        .expect_err("duplicate");
    assert_eq!(
        (e.code.as_str(), e.class.name()),
        ("23505", "unique_violation")
    );
    pg.close().await;

    let mut my = Conn::connect(Dialect::Mysql, &common::url(Dialect::Mysql))
        .await
        .expect("mysql");
    let (version, engine) = detect(&mut my).await.expect("version");
    // This machine's MySQL-family server is MariaDB without Galera.
    let expected = if version.to_ascii_lowercase().contains("mariadb") {
        "mariadb"
    } else {
        "mysql8"
    };
    assert_eq!(engine.name(), expected, "{version}");
    assert!(engine.label(&version).starts_with(engine.product()));
    my.batch("CREATE TEMPORARY TABLE u (k INT PRIMARY KEY); INSERT INTO u VALUES (1)")
        .await
        .expect("setup");
    let e = my
        .batch("INSERT INTO u VALUES (1)")
        .await
        .expect_err("duplicate");
    assert_eq!(
        (e.code.as_str(), e.class.name()),
        ("1062", "unique_violation")
    );
    my.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_key_overrides_its_dialects_sql_on_that_engine_only() {
    // `mysql` SQL is broken on purpose: MariaDB must run the `mariadb` SQL instead, and
    // PostgreSQL its own.
    let toml = r#"
name = "engine-keys"
[schema]
postgres = "CREATE TABLE t (k BIGINT PRIMARY KEY, n BIGINT NOT NULL)"
mysql = "CREATE TABLE t (k BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=NoSuchEngine"
mariadb = "CREATE TABLE t (k BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB"
mysql8 = "CREATE TABLE t (k BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB"
[table]
name = "t"
key = "k"
key_type = "bigint"
counter = "n"
[workload]
shape = "counter"
workers = 4
operations = 200
keys = 5
[[strategy]]
name = "own-upsert"
[[strategy.step]]
postgres = "INSERT INTO t (k, n) VALUES ({key}, 1) ON CONFLICT (k) DO UPDATE SET n = t.n + 1"
mysql = "INSERT INTO t (k, n) VALUES ({key}, 1) ON DUPLICATE KEY UPDATE n = n + no_such_column"
mariadb = "INSERT INTO t (k, n) VALUES ({key}, 1) ON DUPLICATE KEY UPDATE n = n + 1"
mysql8 = "INSERT INTO t (k, n) VALUES ({key}, 1) AS new ON DUPLICATE KEY UPDATE n = t.n + 1"
effect = "upsert"
"#;
    let report = common::run_toml(toml, &Dialect::ALL).await;
    for d in Dialect::ALL {
        let r = common::result(&report, "own-upsert", d);
        assert!(r.available, "{d}: {:?}", r.note);
        assert_eq!(r.outcomes.errors(), 0, "{d}: {:?}", r.errors);
        assert_eq!(r.ops, 200, "{d}");
        assert_eq!(r.lost_updates, 0, "{d}");
    }
    let engines: Vec<&str> = report.servers.iter().map(|s| s.engine.as_str()).collect();
    assert!(engines.contains(&"postgres"), "{engines:?}");
}

#[test]
fn an_unknown_engine_key_is_a_located_error() {
    let text = "name = \"x\"\n[schema]\nmariadb10 = \"CREATE TABLE t (k INT)\"\n[table]\nname = \"t\"\nkey = \"k\"\n[workload]\nworkers = 2\noperations = 2\n[[strategy]]\nuse = \"check-then-insert\"\n";
    let d = keyrace::scenario::parse(std::path::Path::new("x.toml"), text).expect_err("bad key");
    let msg = d.to_string();
    assert!(msg.contains("x.toml:3:1"), "{msg}");
    assert!(msg.contains("unknown database `mariadb10`"), "{msg}");
    assert!(msg.contains("`galera`"), "{msg}");
}

#[test]
fn merge_is_unavailable_before_postgresql_15_and_says_why() {
    let plan = keyrace::scenario::load(std::path::Path::new("scenarios/signup-race.toml"))
        .expect("bundled scenario");
    let merge = plan
        .strategies
        .iter()
        .find(|s| s.builtin == Some("merge"))
        .expect("signup-race compares MERGE");
    let pg = Engine::default_for(Dialect::Postgres);
    let mut target = keyrace::db::Target::new(Dialect::Postgres, "PostgreSQL 14.9", "postgres://x")
        .detected(pg, "PostgreSQL 14.9 on x86_64-pc-linux-gnu");
    let why = keyrace::runner::program_for(merge, &target)
        .expect("the scenario covers PostgreSQL")
        .expect_err("no MERGE on 14");
    assert!(why.contains("MERGE (PostgreSQL 15 or later)"), "{why}");
    target = target.detected(pg, "PostgreSQL 15.8 on x86_64-pc-linux-gnu");
    assert!(matches!(
        keyrace::runner::program_for(merge, &target),
        Some(Ok(_))
    ));
}

#[tokio::test]
async fn library_options_are_checked_like_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut o = keyrace::options::RunOptions::quiet(dir.path());
    o.workers = Some(0);
    let e = keyrace::app::run(&o, &Default::default())
        .await
        .expect_err("0 workers");
    assert!(
        e.to_string()
            .contains("--workers must be from 1 to 10000, found 0"),
        "{e}"
    );
    o.workers = Some(10_001);
    let e = keyrace::app::run(&o, &Default::default())
        .await
        .expect_err("10001 workers");
    assert!(e.to_string().contains("found 10001"), "{e}");
}

#[tokio::test]
async fn a_statement_the_server_cancels_is_query_canceled_not_a_lock_timeout() {
    let mut pg = Conn::connect(Dialect::Postgres, &common::url(Dialect::Postgres))
        .await
        .expect("postgres");
    detect(&mut pg).await.expect("version");
    pg.batch("SET statement_timeout = '50ms'")
        .await
        .expect("set");
    let e = pg.batch("SELECT pg_sleep(2)").await.expect_err("cancelled");
    assert_eq!(
        (e.code.as_str(), e.class.name()),
        ("57014", "query_canceled"),
        "{e}"
    );
    pg.close().await;

    let mut my = Conn::connect(Dialect::Mysql, &common::url(Dialect::Mysql))
        .await
        .expect("mysql");
    let (version, _) = detect(&mut my).await.expect("version");
    let (sql, code) = if version.to_ascii_lowercase().contains("mariadb") {
        (
            // BENCHMARK() stops quietly when interrupted; a big join does not.
            "SET STATEMENT max_statement_time = 0.05 FOR SELECT COUNT(*) FROM \
             information_schema.COLUMNS a, information_schema.COLUMNS b, information_schema.COLUMNS c",
            "1969",
        )
    } else {
        (
            "SELECT /*+ MAX_EXECUTION_TIME(50) */ COUNT(*) FROM information_schema.COLUMNS a, \
             information_schema.COLUMNS b, information_schema.COLUMNS c",
            "3024",
        )
    };
    let e = my.batch(sql).await.expect_err("cancelled");
    assert_eq!(
        (e.code.as_str(), e.class.name()),
        (code, "query_canceled"),
        "{e}"
    );
    my.close().await;
}
