//! Criterion benches of keyrace's client-side hot path, without a server: key generation,
//! key formatting, outcome classification, histogram recording and statement binding.
//! Whatever these cost per operation is taken from the server on a shared machine.

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyrace::db::{Dialect, Engine, Outcome};
use keyrace::metrics::Recorder;
use keyrace::plan::{Distribution, Isolation, KeyType, Mode, Shape, TableSpec, Workload};
use keyrace::runner::keys::KeyGen;
use keyrace::strategy::compile;
use keyrace::vocab::KeyText;

fn workload(distribution: Distribution) -> Workload {
    Workload {
        shape: Shape::Counter,
        workers: 16,
        operations: u64::MAX,
        duration: None,
        keys: 1000,
        distribution,
        mode: Mode::Random,
        seed: 7,
        isolation: Isolation::Default,
        lock_timeout_ms: 10_000,
        statement_timeout_ms: None,
        repeat: 1,
    }
}

fn keys(c: &mut Criterion) {
    let mut g = c.benchmark_group("keys");
    for (name, d) in [
        ("uniform", Distribution::Uniform),
        ("zipf", Distribution::Zipf { exponent: 1.1 }),
        (
            "hot_key",
            Distribution::HotKey {
                share: 0.9,
                hot_keys: 1,
            },
        ),
    ] {
        let mut gen_ = KeyGen::new(&workload(d), 3);
        let mut seq = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                seq += 1;
                black_box(gen_.next(seq))
            })
        });
    }
    let table = TableSpec {
        name: "users".into(),
        key: "email".into(),
        key_type: KeyType::Text,
        key_format: "user{}@example.com".into(),
        counter: None,
        payload: None,
    };
    let mut text = KeyText::new(table.key_type, &table.key_format);
    g.bench_function("text_format", |b| {
        let mut k = 0u64;
        b.iter(|| {
            k = (k + 7) % 1000;
            black_box(text.text(k).len())
        })
    });
    g.finish();
}

/// A database error as a driver reports it, to classify without a server.
#[derive(Debug)]
struct FakeDbError(&'static str);

impl std::fmt::Display for FakeDbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("duplicate key value violates unique constraint")
    }
}

impl std::error::Error for FakeDbError {}

impl sqlx::error::DatabaseError for FakeDbError {
    fn message(&self) -> &str {
        "duplicate key value violates unique constraint"
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0))
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::UniqueViolation
    }
}

fn classification(c: &mut Criterion) {
    let mut g = c.benchmark_group("classify");
    let unique = sqlx::Error::Database(Box::new(FakeDbError("23505")));
    g.bench_function("postgres_unique_violation", |b| {
        b.iter(|| {
            black_box(
                Engine::default_for(Dialect::Postgres)
                    .classify(black_box(&unique))
                    .class,
            )
        })
    });
    let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    g.bench_function("connection_error", |b| {
        b.iter(|| {
            black_box(
                Engine::default_for(Dialect::Mysql)
                    .classify(black_box(&io))
                    .class,
            )
        })
    });
    g.finish();
}

fn recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("recorder");
    let mut rec = Recorder::default();
    let mut lat = 0u64;
    g.bench_function("record", |b| {
        b.iter(|| {
            lat = (lat + 37) % 5000;
            rec.record(black_box(Outcome::Updated), black_box(100 + lat));
        })
    });
    // What a worker does per operation since the histograms are shared: one slot of its batch,
    // and every 32 operations a lock of its shard and 32 records.
    let shards = keyrace::metrics::Shards::new(16);
    let mut batch = shards.batch(3);
    let mut lat2 = 0u64;
    let mut sec = 0u64;
    g.bench_function("batch_to_shard", |b| {
        b.iter(|| {
            lat2 = (lat2 + 37) % 5000;
            sec += 1;
            batch.push(
                &shards,
                black_box(Outcome::Updated),
                black_box(100 + lat2),
                Some(sec / 100_000),
                false,
            );
        })
    });
    batch.flush(&shards);
    // The per-second count the worker adds to every operation: two instants it already has.
    let started = std::time::Instant::now();
    let mut n = 0u64;
    g.bench_function("count_second", |b| {
        b.iter(|| {
            n += 1;
            let end = started + std::time::Duration::from_micros(n * 100);
            let second = end.saturating_duration_since(started).as_secs();
            rec.seconds.count(
                black_box(second as usize),
                black_box(Outcome::Updated),
                false,
            );
        })
    });
    let mut parts: Vec<Recorder> = (0..16)
        .map(|i| {
            let mut r = Recorder::default();
            for j in 0..10_000u64 {
                r.record(Outcome::Updated, 50 + (i * 13 + j * 7) % 20_000);
            }
            r
        })
        .collect();
    g.bench_function("merge_16_workers", |b| {
        b.iter(|| {
            let mut total = Recorder::default();
            for p in &parts {
                total.merge(p.clone());
            }
            black_box(total.ops())
        })
    });
    parts.clear();
    g.finish();
}

fn binding(c: &mut Criterion) {
    let mut g = c.benchmark_group("bind");
    let template = "INSERT INTO \"counters\" (\"k\", \"n\") VALUES ({key}, 1) ON CONFLICT (\"k\") DO UPDATE SET \"n\" = \"counters\".\"n\" + 1 RETURNING (xmax = 0)";
    g.bench_function("compile_template", |b| {
        b.iter(|| black_box(compile(Dialect::Postgres, black_box(template)).unwrap()))
    });
    let (sql, _) = compile(Dialect::Postgres, template).unwrap();
    let sql = sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql));
    // What keyrace::db::Conn builds per statement before sending it: the query and its
    // encoded arguments.
    g.bench_function("pg_query_int_key", |b| {
        let mut k = 0i64;
        b.iter(|| {
            k = (k + 7) % 1000;
            black_box(sqlx::query::<sqlx::Postgres>(sql.clone()).bind(k))
        })
    });
    g.bench_function("pg_query_text_key_and_payload", |b| {
        let mut k = 0i64;
        b.iter(|| {
            k = (k + 7) % 1000;
            black_box(
                sqlx::query::<sqlx::Postgres>(sql.clone())
                    .bind(black_box("user42@example.com"))
                    .bind(black_box("w3-12345")),
            )
        })
    });
    g.bench_function("mysql_query_int_key", |b| {
        let mut k = 0i64;
        b.iter(|| {
            k = (k + 7) % 1000;
            black_box(sqlx::query::<sqlx::MySql>(sql.clone()).bind(k))
        })
    });
    g.finish();
}

criterion_group!(benches, keys, classification, recording, binding);
criterion_main!(benches);
