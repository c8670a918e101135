//! Client CPU per operation of one database driver: `CLIENTS` connections on one
//! current-thread tokio runtime (keyrace's default), each running one upsert per operation in
//! autocommit on a random key of 1,000 for `SECONDS`, as keyrace's hot path and
//! benches/compare.sh do. The process's own user and system time (getrusage) is read when
//! every connection is open and its statement prepared, and again when the last loop ends, so
//! connecting and preparing are not counted.
//!
//! Usage: `keyrace-driver-cost <driver> <url> <clients> <seconds>` with driver one of
//! `sqlx-mysql`, `mysql_async`, `sqlx-postgres`, `tokio-postgres`; the database must hold
//! `counters (k BIGINT PRIMARY KEY, n BIGINT NOT NULL)` (benches/drivers.sh creates it).
//! Prints one line: `driver=… clients=… ops=… ops_per_sec=… user_us_per_op=…
//! sys_us_per_op=… cpu_us_per_op=…`.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::Connection;

const MY_UPSERT: &str = "INSERT INTO counters (k, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1";
const PG_UPSERT: &str =
    "INSERT INTO counters (k, n) VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET n = counters.n + 1";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// User and system CPU time of this process so far, in µs.
fn cpu_us() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    (us(ru.ru_utime), us(ru.ru_stime))
}

/// A small xorshift generator per connection: the key choice must cost the same for every driver.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1000) as i64
    }
}

/// Runs `op` in a loop on every connection until `deadline`; returns the operations done.
async fn drive<C, F, Fut>(conns: Vec<C>, seconds: u64, op: F) -> Result<(u64, Duration), Error>
where
    C: Send + 'static,
    F: Fn(C, i64) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<C, Error>> + Send,
{
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move {
                let mut keys = Keys(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
                let mut ops = 0u64;
                while Instant::now() < deadline {
                    c = op(c, keys.next()).await?;
                    ops += 1;
                }
                Ok::<u64, Error>(ops)
            })
        })
        .collect();
    let mut ops = 0;
    for t in tasks {
        ops += t.await??;
    }
    Ok((ops, start.elapsed()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, driver, url, clients, seconds] = args.as_slice() else {
        return Err("usage: keyrace-driver-cost <sqlx-mysql|mysql_async|sqlx-postgres|tokio-postgres> <url> <clients> <seconds>".into());
    };
    let clients: usize = clients.parse()?;
    let seconds: u64 = seconds.parse()?;
    let before: (f64, f64);
    let (ops, wall) = match driver.as_str() {
        "sqlx-mysql" => {
            let mut conns = Vec::new();
            for _ in 0..clients {
                let mut c = sqlx::MySqlConnection::connect(url).await?;
                sqlx::query(MY_UPSERT).bind(0i64).execute(&mut c).await?;
                conns.push(c);
            }
            before = cpu_us();
            drive(conns, seconds, |mut c, k| async move {
                sqlx::query(MY_UPSERT).bind(k).execute(&mut c).await?;
                Ok(c)
            })
            .await?
        }
        "sqlx-postgres" => {
            let mut conns = Vec::new();
            for _ in 0..clients {
                let mut c = sqlx::PgConnection::connect(url).await?;
                sqlx::query(PG_UPSERT).bind(0i64).execute(&mut c).await?;
                conns.push(c);
            }
            before = cpu_us();
            drive(conns, seconds, |mut c, k| async move {
                sqlx::query(PG_UPSERT).bind(k).execute(&mut c).await?;
                Ok(c)
            })
            .await?
        }
        "mysql_async" => {
            use mysql_async::prelude::Queryable;
            let opts = mysql_async::Opts::from_url(url)?;
            let mut conns = Vec::new();
            for _ in 0..clients {
                let mut c = mysql_async::Conn::new(opts.clone()).await?;
                let stmt = c.prep(MY_UPSERT).await?;
                c.exec_drop(&stmt, (0i64,)).await?;
                conns.push((c, stmt));
            }
            before = cpu_us();
            drive(conns, seconds, |(mut c, stmt), k| async move {
                c.exec_drop(&stmt, (k,)).await?;
                Ok((c, stmt))
            })
            .await?
        }
        "tokio-postgres" => {
            let mut conns = Vec::new();
            for _ in 0..clients {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                let stmt = client.prepare(PG_UPSERT).await?;
                client.execute(&stmt, &[&0i64]).await?;
                conns.push((client, stmt));
            }
            before = cpu_us();
            drive(conns, seconds, |(client, stmt), k| async move {
                client.execute(&stmt, &[&k]).await?;
                Ok((client, stmt))
            })
            .await?
        }
        other => return Err(format!("unknown driver `{other}`").into()),
    };
    let after = cpu_us();
    let per = |a: f64, b: f64| (a - b) / ops.max(1) as f64;
    let (user, sys) = (per(after.0, before.0), per(after.1, before.1));
    println!(
        "driver={driver} clients={clients} ops={ops} ops_per_sec={:.0} user_us_per_op={user:.2} sys_us_per_op={sys:.2} cpu_us_per_op={:.2}",
        ops as f64 / wall.as_secs_f64(),
        user + sys
    );
    Ok(())
}
