//! Runs one strategy of a plan on one server: a fresh database, the schema, one dedicated
//! connection per worker, workers released together, results merged and verified, the
//! database dropped again whatever happened.

pub mod execute;
pub mod keys;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

use crate::db::{Conn, DbError, Dialect, database_url, info};
use crate::metrics::Recorder;
use crate::plan::{Isolation, Mode, Plan, StrategyPlan};
use crate::verify::{self, Verification};

/// A server to run on.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its dialect.
    pub dialect: Dialect,
    /// How reports name it (engine, version, provider).
    pub label: String,
    /// Admin URL (may hold a password: never print it; see [`crate::db::redact_url`]).
    pub url: String,
}

/// What one strategy run on one server produced.
#[derive(Debug, Clone)]
pub struct StrategyRun {
    /// Merged worker measurements.
    pub recorder: Recorder,
    /// Wall time of the measured phase (workers running).
    pub elapsed: Duration,
    /// Table checks after the run.
    pub verification: Verification,
    /// The isolation level the sessions ran at, read back from the server.
    pub isolation: String,
    /// Why the run stopped early (a worker lost its connection), if it did.
    pub failure: Option<String>,
    /// True when Ctrl-C stopped it.
    pub interrupted: bool,
    /// When the workers were released (time to first violation is measured from here).
    pub started: Instant,
}

/// A failure of the harness (not of a strategy): the scenario's SQL, or the server.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Could not reach the server or create the run's database.
    #[error("cannot prepare a database on {target}: {source}")]
    Server {
        /// The target's label.
        target: String,
        /// The database error.
        #[source]
        source: DbError,
    },
    /// The scenario's (or strategy's) setup SQL failed.
    #[error("{what} failed on {target}: {source}")]
    Setup {
        /// Which SQL (`schema`, `setup of strategy X`).
        what: String,
        /// The target's label.
        target: String,
        /// The database error.
        #[source]
        source: DbError,
    },
}

/// The SQL that puts a session at the strategy's isolation level and lock timeout.
pub fn session_sql(dialect: Dialect, isolation: Isolation, lock_timeout_ms: u64) -> String {
    let mut sql = String::new();
    match dialect {
        Dialect::Postgres => {
            if let Some(level) = isolation.sql() {
                sql.push_str(&format!(
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level}; "
                ));
            }
            sql.push_str(&format!("SET lock_timeout = {lock_timeout_ms}"));
        }
        Dialect::Mysql => {
            if let Some(level) = isolation.sql() {
                sql.push_str(&format!(
                    "SET SESSION TRANSACTION ISOLATION LEVEL {level}; "
                ));
            }
            sql.push_str(&format!(
                "SET SESSION innodb_lock_wait_timeout = {}",
                lock_timeout_ms.div_ceil(1000).max(1)
            ));
        }
    }
    sql
}

/// Connects and applies the session settings.
pub async fn connect_session(
    dialect: Dialect,
    url: &str,
    session_sql: &str,
) -> Result<Conn, DbError> {
    let mut c = Conn::connect(dialect, url).await?;
    c.batch(session_sql).await?;
    Ok(c)
}

/// Creates database `name` on the target (dropping a leftover of the same name first).
pub async fn create_database(target: &Target, name: &str) -> Result<(), DbError> {
    let mut admin = Conn::connect(target.dialect, &target.url).await?;
    let q = target.dialect.quote_ident(name);
    admin.batch(&format!("DROP DATABASE IF EXISTS {q}")).await?;
    let r = admin.batch(&format!("CREATE DATABASE {q}")).await;
    admin.close().await;
    r
}

/// Drops database `name` (PostgreSQL 13+: WITH (FORCE), so lingering sessions don't block it).
pub async fn drop_database(target: &Target, name: &str) -> Result<(), DbError> {
    let mut admin = Conn::connect(target.dialect, &target.url).await?;
    let q = target.dialect.quote_ident(name);
    let r = match target.dialect {
        Dialect::Postgres => match admin
            .batch(&format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"))
            .await
        {
            Ok(()) => Ok(()),
            Err(_) => admin.batch(&format!("DROP DATABASE IF EXISTS {q}")).await,
        },
        Dialect::Mysql => admin.batch(&format!("DROP DATABASE IF EXISTS {q}")).await,
    };
    admin.close().await;
    r
}

/// Runs `strategy` of `plan` on `target` in a database named `db_name`, which it creates and
/// always drops. `done` counts finished operations and `violations` unique violations that
/// reached the application so far (for a progress bar).
///
/// Returns `Ok(None)` when the strategy is not available on the target's dialect.
/// Errors: [`HarnessError`] when the database cannot be created or the setup SQL fails.
pub async fn run_strategy(
    plan: &Plan,
    strategy: &StrategyPlan,
    target: &Target,
    db_name: &str,
    cancel: &CancellationToken,
    done: Arc<AtomicU64>,
    violations: Arc<AtomicU64>,
) -> Result<Option<StrategyRun>, HarnessError> {
    let Some(Ok(program)) = strategy.programs.get(&target.dialect) else {
        return Ok(None);
    };
    let server_err = |source| HarnessError::Server {
        target: target.label.clone(),
        source,
    };
    create_database(target, db_name).await.map_err(server_err)?;
    let url = database_url(&target.url, db_name);
    let result = run_in_database(
        plan,
        strategy,
        program.clone(),
        target,
        &url,
        cancel,
        (done, violations),
    )
    .await;
    if let Err(e) = drop_database(target, db_name).await {
        tracing::warn!("could not drop database {db_name} on {}: {e}", target.label);
    }
    result.map(Some)
}

async fn run_in_database(
    plan: &Plan,
    strategy: &StrategyPlan,
    program: crate::strategy::Program,
    target: &Target,
    url: &str,
    cancel: &CancellationToken,
    (done, violations): (Arc<AtomicU64>, Arc<AtomicU64>),
) -> Result<StrategyRun, HarnessError> {
    let dialect = target.dialect;
    let w = &plan.workload;
    let setup_err = |what: String| {
        move |source| HarnessError::Setup {
            what,
            target: target.label.clone(),
            source,
        }
    };
    let mut admin = Conn::connect(dialect, url)
        .await
        .map_err(|source| HarnessError::Server {
            target: target.label.clone(),
            source,
        })?;
    let schema = plan.schema.get(&dialect).map(String::as_str).unwrap_or("");
    admin
        .batch(schema)
        .await
        .map_err(setup_err("the schema SQL".into()))?;
    if let Some(setup) = strategy.setup.get(&dialect) {
        admin.batch(setup).await.map_err(setup_err(format!(
            "the setup SQL of strategy {}",
            strategy.name
        )))?;
    }
    let before = verify::snapshot(&mut admin, &plan.table, w.shape)
        .await
        .map_err(setup_err("reading the table before the run".into()))?;

    let session = session_sql(dialect, strategy.isolation, w.lock_timeout_ms);
    let conns: Vec<Result<Conn, DbError>> = stream::iter(0..w.workers)
        .map(|_| connect_session(dialect, url, &session))
        .buffered(32)
        .collect()
        .await;
    let mut workers = Vec::with_capacity(w.workers);
    for c in conns {
        workers.push(c.map_err(setup_err(format!("opening {} worker sessions", w.workers)))?);
    }
    let isolation = match workers.first_mut() {
        Some(c) => info::session_isolation(c)
            .await
            .unwrap_or_else(|| strategy.isolation.name().into()),
        None => strategy.isolation.name().into(),
    };

    let run_cancel = cancel.child_token();
    let per_worker = match w.mode {
        Mode::Rounds => w.operations.div_ceil(w.workers as u64),
        Mode::Random => w.operations / w.workers as u64,
    };
    let extra = if w.mode == Mode::Random {
        w.operations % w.workers as u64
    } else {
        0
    };
    let start = Instant::now();
    let shared = Arc::new(worker::Shared {
        program,
        workload: w.clone(),
        table: plan.table.clone(),
        done: AtomicU64::new(0),
        violations: AtomicU64::new(0),
        barrier: Barrier::new(w.workers),
        stop: AtomicBool::new(false),
        cancel: run_cancel.clone(),
        stop_now: worker::StopSignal::new(w.workers),
        deadline: w.duration.map(|d| start + d),
        started: start,
        url: url.to_string(),
        session_sql: session,
    });
    let watcher = tokio::spawn(worker::watch_cancel(shared.clone()));
    let handles: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let quota = if w.operations == u64::MAX {
                u64::MAX
            } else {
                per_worker + u64::from((i as u64) < extra)
            };
            tokio::spawn(worker::run(i, conn, quota, shared.clone()))
        })
        .collect();
    let ticker = {
        let shared = shared.clone();
        let (done, violations) = (done.clone(), violations.clone());
        tokio::spawn(async move {
            loop {
                done.store(shared.done.load(Ordering::Relaxed), Ordering::Relaxed);
                violations.store(shared.violations.load(Ordering::Relaxed), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut recorder = Recorder::default();
    let mut failure = None;
    let mut conns = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok((rec, fail, conn)) => {
                recorder.merge(rec);
                if failure.is_none() {
                    failure = fail.map(|f| format!("worker {} {}", f.worker, f.message));
                }
                conns.push(conn);
            }
            Err(e) => failure = Some(format!("a worker panicked: {e}")),
        }
    }
    let elapsed = start.elapsed();
    ticker.abort();
    watcher.abort();
    done.store(shared.done.load(Ordering::Relaxed), Ordering::Relaxed);
    violations.store(shared.violations.load(Ordering::Relaxed), Ordering::Relaxed);
    for c in conns {
        c.close().await;
    }
    let after = verify::snapshot(&mut admin, &plan.table, w.shape)
        .await
        .map_err(setup_err("reading the table after the run".into()))?;
    admin.close().await;
    let verification = verify::verify(&before, &after, &recorder.acked, w.shape);
    Ok(StrategyRun {
        recorder,
        elapsed,
        verification,
        isolation,
        failure,
        interrupted: cancel.is_cancelled(),
        started: start,
    })
}
