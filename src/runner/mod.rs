//! Runs one strategy of a plan on one server: a fresh database, the schema, one dedicated
//! connection per worker, workers released together, results merged and verified, the
//! database dropped again whatever happened; every step bounded in time, so a server that
//! dies or stops answering ends the run on time with its partial figures.

mod cancel;
mod database;
pub mod execute;
pub mod keys;
mod result;
mod worker;

use database::bounded;
pub use database::{
    DDL_TIMEOUT, check_strategy, create_database, create_database_on, create_database_within,
    drop_database, drop_database_on, drop_database_within, prepare_steps,
};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

use crate::db::{Conn, DbError, Engine, Outcome, database_url, info};
use crate::metrics::Recorder;
use crate::plan::{Isolation, Mode, Plan, StrategyPlan, Workload};
use crate::verify::{self, Verification};

pub use crate::db::Target;

/// The program `strategy` runs on `target`: the engine's own (user steps with a
/// `mariadb`/`mysql8`/`galera` key), else the dialect's; `Some(Err(why))` when it is not
/// available there (no SQL for it, or a feature the server's version lacks, e.g. MERGE
/// before PostgreSQL 15); `None` when the scenario does not cover the target's dialect.
pub fn program_for<'a>(
    strategy: &'a StrategyPlan,
    target: &Target,
) -> Option<Result<&'a crate::plan::Program, String>> {
    match strategy.program_for(target.dialect(), target.engine.name())? {
        Err(why) => Some(Err(why.clone())),
        Ok(program) => match strategy
            .requires
            .iter()
            .copied()
            .chain(crate::strategy::needs::features(program))
            .find(|f| !target.capabilities.has(*f))
        {
            Some(f) => Some(Err(format!(
                "not available on {}: needs {}",
                target.label,
                f.describe()
            ))),
            None => Some(Ok(program)),
        },
    }
}

/// The schema SQL of `plan` for `target` (the engine's own, else the dialect's).
pub fn schema_for<'a>(plan: &'a Plan, target: &Target) -> Option<&'a str> {
    plan.schema_for(target.dialect(), target.engine.name())
}
pub use result::{result_of, unavailable};

/// What one strategy run on one server produced.
#[derive(Debug, Clone)]
pub struct StrategyRun {
    /// Merged worker measurements.
    pub recorder: Recorder,
    /// Wall time of the measured phase (workers running).
    pub elapsed: Duration,
    /// Table checks after the run (all zero when `verified` is false).
    pub verification: Verification,
    /// False when the table could not be read after the run (server lost or stuck).
    pub verified: bool,
    /// The isolation level the sessions ran at, read back from the server.
    pub isolation: String,
    /// Why the run stopped early (a worker lost its connection, the table could not be
    /// checked, statements missed their deadline), if it did.
    pub failure: Option<String>,
    /// Set when the scenario is broken: every operation failed with an error that is no race
    /// class (the message names the step, its location and the server's message).
    pub fatal: Option<String>,
    /// Set when the server was lost or stopped answering: later cells on it are skipped.
    pub server_lost: Option<String>,
    /// Statements that missed their deadline and how many cancels the server confirmed
    /// (the figures stay complete: such operations are counted as `timeout`).
    pub timeouts: Option<String>,
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
    /// The server rejected a statement of a step when it was prepared before the run.
    #[error("strategy {strategy}, step {step}{}: {target} rejected the statement: {} ({})",
            .location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default(), .source.message, .source.code)]
    Prepare {
        /// The strategy.
        strategy: String,
        /// The step's name.
        step: String,
        /// `file:line:column` of the step's SQL, for a user's step.
        location: Option<String>,
        /// The target's label.
        target: String,
        /// The server's error.
        #[source]
        source: DbError,
    },
}

/// How long a statement may run, derived from the scenario: the lock wait limit (on
/// MySQL/MariaDB rounded up to whole seconds, as InnoDB applies it) plus 5 s, so a statement
/// that waits for a lock gets the server's own lock timeout first. The scenario's
/// `statement_timeout_ms` replaces the default; `custom` (`--statement-timeout`) overrides
/// both.
pub fn statement_timeout(engine: Engine, w: &Workload, custom: Option<Duration>) -> Duration {
    if let Some(d) = custom {
        return d;
    }
    if let Some(ms) = w.statement_timeout_ms {
        return Duration::from_millis(ms);
    }
    engine.lock_wait_limit(w.lock_timeout_ms) + Duration::from_secs(5)
}

/// How long past a `duration` an operation may still run before it is abandoned as a
/// timeout and the run ends.
pub const END_GRACE: Duration = Duration::from_secs(1);

/// Bound on each clean-up step (cancelling statements, reading the table, dropping the
/// database) once the run was interrupted or its server stopped answering.
pub const CLEANUP_BOUND: Duration = Duration::from_secs(1);

/// The SQL that puts a session at the strategy's isolation level and lock timeout (and on
/// PostgreSQL, TCP keepalives from the server, so a session of a killed keyrace does not
/// linger).
pub fn session_sql(engine: Engine, isolation: Isolation, lock_timeout_ms: u64) -> String {
    engine.session_sql(isolation.sql(), lock_timeout_ms)
}

/// Connects and applies the session settings (no statement deadline); see
/// [`connect_session_within`].
pub async fn connect_session(
    engine: Engine,
    url: &str,
    session_sql: &str,
) -> Result<Conn, DbError> {
    let mut c = Conn::open(engine, url).await?;
    c.batch(session_sql).await?;
    Ok(c)
}

/// Connects (within the connect timeout), bounds every statement by `statement_timeout`,
/// applies the session settings and records the session's backend id (for cancelling a
/// statement that misses its deadline).
pub async fn connect_session_within(
    engine: Engine,
    url: &str,
    session_sql: &str,
    statement_timeout: Duration,
) -> Result<Conn, DbError> {
    let mut c = Conn::open(engine, url).await?;
    c.set_statement_timeout(Some(statement_timeout));
    c.batch(session_sql).await?;
    c.read_backend_id().await?;
    Ok(c)
}

/// Runs `strategy` of `plan` on `target` in a database named `db_name`, which it creates and
/// always drops. `done` counts finished operations and `violations` unique violations that
/// reached the application so far (for a progress bar); every statement is bounded by
/// `statement_timeout`.
///
/// Returns `Ok(None)` when the strategy is not available on the target's dialect.
/// Errors: [`HarnessError`] when the database cannot be created, the setup SQL fails or a
/// step's statement is rejected when prepared.
#[allow(clippy::too_many_arguments)]
pub async fn run_strategy(
    plan: &Plan,
    strategy: &StrategyPlan,
    target: &Target,
    db_name: &str,
    statement_timeout: Duration,
    cancel: &CancellationToken,
    done: Arc<AtomicU64>,
    violations: Arc<AtomicU64>,
) -> Result<Option<StrategyRun>, HarnessError> {
    let Some(Ok(program)) = program_for(strategy, target) else {
        return Ok(None);
    };
    let server_err = |source| HarnessError::Server {
        target: target.label.clone(),
        source,
    };
    let created = tokio::select! {
        biased;
        r = create_database_within(target, db_name, statement_timeout.max(DDL_TIMEOUT)) => r,
        _ = cancel.cancelled() => Ok(()),
    };
    let url = database_url(&target.url, db_name);
    let result = match created {
        Err(e) => Err(server_err(e)),
        Ok(()) if cancel.is_cancelled() => Ok(None),
        Ok(()) => run_in_database(
            plan,
            strategy,
            program.clone(),
            target,
            &url,
            statement_timeout,
            cancel,
            (done, violations),
        )
        .await
        .map(Some),
    };
    let degraded = cancel.is_cancelled()
        || matches!(&result, Ok(Some(r)) if r.server_lost.is_some())
        || matches!(&result, Err(HarnessError::Server { .. }));
    let lost = matches!(&result, Ok(Some(r)) if r.server_lost.is_some())
        || matches!(&result, Err(HarnessError::Server { .. }));
    let limit = if lost {
        CLEANUP_BOUND / 2
    } else if degraded {
        2 * CLEANUP_BOUND
    } else {
        crate::db::connect_timeout() + statement_timeout.max(DDL_TIMEOUT)
    };
    let mut result = result;
    if let Err(e) = drop_database_within(target, db_name, limit).await {
        tracing::warn!("could not drop database {db_name} on {}: {e}", target.label);
        if let Ok(Some(run)) = &mut result
            && matches!(e.class, Outcome::ConnectionError | Outcome::Timeout)
        {
            let why = format!("dropping database {db_name} failed: {e}");
            run.server_lost.get_or_insert(why);
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_in_database(
    plan: &Plan,
    strategy: &StrategyPlan,
    program: crate::strategy::Program,
    target: &Target,
    url: &str,
    statement_timeout: Duration,
    cancel: &CancellationToken,
    (done, violations): (Arc<AtomicU64>, Arc<AtomicU64>),
) -> Result<StrategyRun, HarnessError> {
    let dialect = target.dialect();
    let engine = target.engine;
    let workload = plan.workload_for(strategy);
    let w = &workload;
    let setup_err = |what: String| {
        move |source| HarnessError::Setup {
            what,
            target: target.label.clone(),
            source,
        }
    };
    let mut admin = Conn::open(engine, url)
        .await
        .map_err(|source| HarnessError::Server {
            target: target.label.clone(),
            source,
        })?;
    // Schema, setup, prepares and the table checks are not the measured statements: they get
    // the DDL limit when the scenario's statement deadline is shorter.
    admin.set_statement_timeout(Some(statement_timeout.max(DDL_TIMEOUT)));
    if target.nodes.len() > 1 {
        // Causal reads: the table check after the run sees what every node committed.
        admin
            .batch("SET SESSION wsrep_sync_wait = 15")
            .await
            .map_err(setup_err("enabling causal reads on galera node 1".into()))?;
    }
    let schema = schema_for(plan, target).unwrap_or("");
    admin
        .batch(schema)
        .await
        .map_err(setup_err("the schema SQL".into()))?;
    if let Some(setup) = strategy.setup_for(dialect, engine.name()) {
        admin.batch(setup).await.map_err(setup_err(format!(
            "the setup SQL of strategy {}",
            strategy.name
        )))?;
    }
    prepare_steps(
        &mut admin,
        &program,
        &strategy.name,
        plan.table.key_type,
        &target.label,
    )
    .await?;
    let before = snapshot(&mut admin, &plan.table, w.shape)
        .await
        .map_err(setup_err("reading the table before the run".into()))?;

    // On a cluster, every node must have applied the database, schema and setup before
    // workers connect to it; worker i then goes to node i % N.
    let urls = match target.nodes.len() {
        0 | 1 => vec![url.to_string()],
        _ => {
            let db = crate::db::galera::url_database(url);
            crate::db::galera::wait_replicated(&target.nodes, db)
                .await
                .map_err(setup_err(
                    "waiting for every galera node to apply the setup".into(),
                ))?;
            (0..target.nodes.len())
                .map(|i| crate::db::galera::node_database_url(url, &target.nodes, i, db))
                .collect()
        }
    };
    let session = session_sql(engine, strategy.isolation, w.lock_timeout_ms);
    let conns: Vec<Result<Conn, DbError>> = stream::iter(0..w.workers)
        .map(|i| connect_session_within(engine, &urls[i % urls.len()], &session, statement_timeout))
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
    let deadline = w.duration.and_then(|d| start.checked_add(d));
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
        deadline,
        hard_end: deadline.and_then(|d| d.checked_add(END_GRACE)),
        statement_timeout,
        engine,
        cancels: std::sync::Mutex::new(Vec::new()),
        started: start,
        urls,
        session_sql: session,
        shards: crate::metrics::Shards::new(w.workers),
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
    let mut fatal = None;
    let mut server_lost = None;
    let mut conns = Vec::with_capacity(handles.len());
    let mut stuck = false;
    for h in handles {
        match h.await {
            Ok(end) => {
                recorder.merge(end.recorder);
                if let Some(f) = end.failure {
                    let message = format!("worker {} {}", f.worker, f.message);
                    if f.fatal {
                        fatal.get_or_insert(format!(
                            "strategy {} on {}: {}",
                            strategy.name, target.label, f.message
                        ));
                    } else {
                        server_lost.get_or_insert(message.clone());
                    }
                    failure.get_or_insert(message);
                }
                conns.extend(end.conn);
                stuck |= end.stuck;
            }
            Err(e) => failure = Some(format!("a worker panicked: {e}")),
        }
    }
    let elapsed = start.elapsed();
    // Every worker flushed its batch before it returned (a panicked one lost at most its
    // last batch's latencies, not its counts).
    recorder.merge(shared.shards.take());
    ticker.abort();
    watcher.abort();
    done.store(shared.done.load(Ordering::Relaxed), Ordering::Relaxed);
    violations.store(shared.violations.load(Ordering::Relaxed), Ordering::Relaxed);
    let timeouts = recorder.outcomes[Outcome::Timeout.index()];
    // An operation still running at the hard end, Ctrl-C or a lost server: every clean-up
    // step gets a short bound. Statements that merely missed their deadline while the
    // workers went on do not say the server is gone.
    let degraded = cancel.is_cancelled() || stuck || server_lost.is_some();
    let limit = if degraded {
        CLEANUP_BOUND
    } else {
        statement_timeout.max(DDL_TIMEOUT)
    };
    // Cancels (already running on side connections), polite closes and the table check
    // together: with a stopped server each waits its bound, not one after the other.
    admin.set_statement_timeout(Some(limit));
    let ((cancels, confirmed), _, after) = tokio::join!(
        cancel::finish_cancels(&shared, limit),
        futures_util::future::join_all(
            conns
                .into_iter()
                .map(|c| tokio::time::timeout(limit, c.close()))
        ),
        bounded(
            limit,
            "reading the table",
            snapshot(&mut admin, &plan.table, w.shape),
        )
    );
    let timeouts = (timeouts > 0).then(|| {
        format!(
            "{timeouts} operations missed their deadline (statement timeout {} ms); {confirmed} of {cancels} statements cancelled",
            statement_timeout.as_millis()
        )
    });
    admin.close().await;
    let (verification, verified) = match after {
        Ok(after) => (
            verify::verify(&before, &after, &recorder.acked, w.shape),
            true,
        ),
        Err(e) => {
            let why = format!("the table could not be checked after the run: {e}");
            if matches!(e.class, Outcome::ConnectionError | Outcome::Timeout) {
                server_lost.get_or_insert(why.clone());
            }
            failure = Some(match failure {
                Some(f) => format!("{f}; {why}"),
                None => why,
            });
            (Verification::default(), false)
        }
    };
    Ok(StrategyRun {
        recorder,
        elapsed,
        verification,
        verified,
        isolation,
        failure,
        fatal,
        server_lost,
        timeouts,
        interrupted: cancel.is_cancelled(),
        started: start,
    })
}

/// Reads rows and counter totals per key (see [`verify::snapshot_sql`]).
///
/// Errors: the classified database error of the GROUP BY query.
pub async fn snapshot(
    conn: &mut Conn,
    table: &crate::plan::TableSpec,
    shape: crate::plan::Shape,
) -> Result<verify::Snapshot, DbError> {
    let sql = verify::snapshot_sql(conn.dialect(), table, shape);
    let (_, rows) = conn.rows_text(&sql).await?;
    Ok(verify::Snapshot::from_rows(rows, table))
}
