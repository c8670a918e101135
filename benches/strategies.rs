//! Criterion benches of one operation of each built-in strategy against the real servers:
//! a dedicated connection in a fresh database, `keyrace::runner::execute::operation` in a
//! loop over 1,000 uniform keys (first inserts, then conflicts). Servers come from
//! KEYRACE_POSTGRES_URL / KEYRACE_MYSQL_URL (default: the local services); an unreachable
//! server is skipped with a message. The databases are dropped afterwards.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use keyrace::app;
use keyrace::db::{Conn, Dialect, Param, database_url};
use keyrace::plan::KeyType;
use keyrace::runner::execute::{Values, operation};
use keyrace::runner::keys::KeyGen;
use keyrace::runner::{Target, connect_session, create_database, drop_database, session_sql};
use keyrace::vocab::KeyText;

/// Every built-in, on a table where each of them applies (text key, counter and payload).
fn scenario() -> String {
    let mut s = String::from(
        r#"name = "bench-strategies"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(255)) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
payload = "name"
[workload]
workers = 1
operations = 1
keys = 1000
"#,
    );
    for b in keyrace::strategy::BUILTINS {
        s.push_str(&format!("[[strategy]]\nuse = \"{}\"\n", b.name));
    }
    s
}

fn url(dialect: Dialect) -> String {
    let var = match dialect {
        Dialect::Postgres => "KEYRACE_POSTGRES_URL",
        Dialect::Mysql => "KEYRACE_MYSQL_URL",
    };
    std::env::var(var).unwrap_or_else(|_| app::default_url(dialect).to_string())
}

fn strategies(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, scenario()).expect("write scenario");
    let plan = keyrace::scenario::load(Path::new(&path)).unwrap_or_else(|d| panic!("{d}"));
    let mut g = c.benchmark_group("operation");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.sample_size(20);
    for dialect in Dialect::ALL {
        let target = Target::new(dialect, dialect.name(), url(dialect));
        if let Err(e) = rt.block_on(Conn::connect(dialect, &target.url)) {
            eprintln!(
                "skipping {dialect}: server unreachable ({e}); set KEYRACE_{}_URL",
                dialect.name().to_uppercase()
            );
            continue;
        }
        for s in &plan.strategies {
            let Some(Ok(program)) = s.programs.get(&dialect) else {
                continue;
            };
            let db = format!("keyrace_bench_{}", std::process::id());
            let setup = rt.block_on(async {
                create_database(&target, &db).await?;
                let durl = database_url(&target.url, &db);
                let mut conn = connect_session(
                    target.engine,
                    &durl,
                    &session_sql(target.engine, s.isolation, plan.workload.lock_timeout_ms),
                )
                .await?;
                conn.batch(&plan.schema[&dialect]).await?;
                if let Some(sql) = s.setup.get(&dialect) {
                    conn.batch(sql).await?;
                }
                Ok::<_, keyrace::db::DbError>(conn)
            });
            let mut conn = match setup {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("skipping {} on {dialect}: {e}", s.name);
                    let _ = rt.block_on(drop_database(&target, &db));
                    continue;
                }
            };
            let mut keys = KeyGen::new(&plan.workload, 0);
            let mut text = KeyText::new(plan.table.key_type, &plan.table.key_format);
            let mut payload = String::new();
            let mut seq = 0u64;
            g.bench_function(format!("{dialect}/{}", s.name), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let k = keys.next(seq);
                            payload.clear();
                            payload.push_str("w0-");
                            payload.push_str(&seq.to_string());
                            let key = match plan.table.key_type {
                                KeyType::Bigint => Param::Int(k as i64),
                                KeyType::Text => Param::Text(text.text(k)),
                            };
                            let v = Values {
                                key,
                                worker: 0,
                                seq: seq as i64,
                                payload: &payload,
                            };
                            let r = operation(
                                &mut conn,
                                program,
                                &v,
                                |_| Duration::ZERO,
                                |_| Box::pin(async { None }),
                            )
                            .await;
                            black_box(r.outcome);
                            seq += 1;
                        }
                        start.elapsed()
                    })
                })
            });
            rt.block_on(async {
                conn.close().await;
                if let Err(e) = drop_database(&target, &db).await {
                    eprintln!("could not drop {db} on {dialect}: {e}");
                }
            });
        }
    }
    g.finish();
}

criterion_group!(benches, strategies);
criterion_main!(benches);
