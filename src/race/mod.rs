//! Races the user's own Rust code from `cargo test`: [`race`] runs an async closure from
//! many workers with keyrace's workload engine (rounds released by a barrier, or random keys
//! from a distribution; a number of operations or a duration; repetitions), classifies what
//! each call returned (an [`Outcome`] on success, a `sqlx::Error` by SQLSTATE / error number
//! through the engine's backend), runs the user's verification queries on the database, and
//! returns the same [`Report`] as `keyrace run`, with the per-strategy verdict.
//!
//! ```no_run
//! use keyrace::race::{Op, RaceOptions, race};
//! use keyrace::vocab::Outcome;
//!
//! # async fn example() -> Result<(), keyrace::race::RaceError> {
//! let url = "postgres://postgres@127.0.0.1:5432/test";
//! let pool = sqlx::PgPool::connect(url).await.unwrap();
//! sqlx::raw_sql("CREATE TABLE IF NOT EXISTS users (email text PRIMARY KEY)")
//!     .execute(&pool).await.unwrap();
//! let options = RaceOptions::new("get-or-create", url)
//!     .workers(8)
//!     .operations(400)
//!     .setup("DELETE FROM users")
//!     .verify("rows", "SELECT count(*) FROM users")
//!     .expect("rows = rounds");
//! let report = race(options, move |op: Op| {
//!     let pool = pool.clone();
//!     async move {
//!         // The fixed get-or-create: the insert cannot fail on a duplicate.
//!         let n = sqlx::query("INSERT INTO users (email) VALUES ($1) ON CONFLICT DO NOTHING")
//!             .bind(&op.key)
//!             .execute(&pool)
//!             .await?
//!             .rows_affected();
//!         Ok::<_, sqlx::Error>(if n == 1 { Outcome::Inserted } else { Outcome::Existed })
//!     }
//! })
//! .await?;
//! assert!(report.verdict().is_safe(), "{:?}", report.verdict());
//! assert!(report.all_held());
//! # Ok(())
//! # }
//! ```

mod classify;
mod figures;
pub(crate) mod limit;
mod worker;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use classify::Classify;
pub use worker::Op;

use crate::db::Conn;
use crate::expect::Expectation;
use crate::metrics::Recorder;
use crate::plan::{Distribution, Isolation, Mode, Shape, Workload};
use crate::report::{self, Report, ScenarioReport, StrategyResult};
use crate::runner::{StrategyRun, Target};
use crate::server::{self as app, Server};
use crate::vocab::{Dialect, KeyType, Outcome};

/// What to race and how to check it: the workload (defaults: 8 workers, 400 operations in
/// rounds mode, so every round of 8 calls shares one fresh key), the database the closure
/// writes to (for classifying errors and for the verification queries), and the
/// verification queries and expectations.
#[derive(Debug, Clone)]
pub struct RaceOptions {
    /// The strategy's name in the report (`get-or-create`).
    pub name: String,
    /// The database the closure writes to: `postgres://…` or `mysql://…` / `mariadb://…`.
    /// keyrace only reads it (and runs the `setup`/`cleanup` SQL you give).
    pub url: String,
    /// Workers, operations or duration, key distribution, mode, seed, repetitions.
    pub workload: Workload,
    /// Key text: `{}` is replaced by the key number (default `user{}@example.com`).
    pub key_format: String,
    /// How long one call may run before it is counted as [`Outcome::Timeout`] (default 10 s).
    pub call_timeout: Duration,
    /// What the report's error list calls the failing step (`closure`; `request` for HTTP).
    pub step: String,
    /// SQL run before each repetition (e.g. `DELETE FROM users`), on `url`.
    pub setup: Option<String>,
    /// SQL run after the last repetition's verification, on `url`.
    pub cleanup: Option<String>,
    /// Named verification queries, in order: each returns one number, which becomes a
    /// figure of the result. `duplicate_rows`, `missing_rows`, `lost_updates`,
    /// `unacknowledged` and `rows` fill the result's table checks (and so the verdict); see
    /// [`figures`](self) for `rows`.
    pub verify: Vec<(String, String)>,
    /// Expectations (`unique_violation = 0`, `duplicates = 0`), on the built-in figures and
    /// the verification queries' names.
    pub expect: Vec<String>,
}

impl RaceOptions {
    /// Options with the defaults above for strategy `name` on the database at `url`.
    pub fn new(name: &str, url: &str) -> RaceOptions {
        RaceOptions {
            name: name.into(),
            url: url.into(),
            workload: Workload {
                shape: Shape::Signup,
                workers: 8,
                operations: 400,
                duration: None,
                keys: 1000,
                distribution: Distribution::Uniform,
                mode: Mode::Rounds,
                seed: 1,
                isolation: Isolation::Default,
                lock_timeout_ms: 5000,
                statement_timeout_ms: None,
                repeat: 1,
            },
            key_format: "user{}@example.com".into(),
            call_timeout: Duration::from_secs(10),
            step: "closure".into(),
            setup: None,
            cleanup: None,
            verify: Vec::new(),
            expect: Vec::new(),
        }
    }

    /// Concurrent workers (each calls the closure one operation at a time).
    pub fn workers(mut self, n: usize) -> Self {
        self.workload.workers = n;
        self
    }

    /// Operations in all (split evenly across workers).
    pub fn operations(mut self, n: u64) -> Self {
        self.workload.operations = n;
        self
    }

    /// Run for this long instead of a number of operations.
    pub fn duration(mut self, d: Duration) -> Self {
        self.workload.duration = Some(d);
        self.workload.operations = u64::MAX;
        self
    }

    /// Random mode: each operation draws a key from `0..keys` by `distribution`.
    pub fn random(mut self, keys: u64, distribution: Distribution) -> Self {
        self.workload.mode = Mode::Random;
        self.workload.keys = keys;
        self.workload.distribution = distribution;
        self
    }

    /// Runs of the whole race (the verdict is the worst of them).
    pub fn repeat(mut self, n: u32) -> Self {
        self.workload.repeat = n;
        self
    }

    /// SQL run before each repetition.
    pub fn setup(mut self, sql: &str) -> Self {
        self.setup = Some(sql.into());
        self
    }

    /// SQL run once at the end.
    pub fn cleanup(mut self, sql: &str) -> Self {
        self.cleanup = Some(sql.into());
        self
    }

    /// Adds a verification query whose single numeric value becomes figure `name`.
    pub fn verify(mut self, name: &str, sql: &str) -> Self {
        self.verify.push((name.into(), sql.into()));
        self
    }

    /// Adds an expectation (`figure op bound`, as in scenario files).
    pub fn expect(mut self, text: &str) -> Self {
        self.expect.push(text.into());
        self
    }
}

/// Why a race could not run (the race itself going badly is in the report, not here).
#[derive(Debug, thiserror::Error)]
pub enum RaceError {
    /// Bad options: unknown URL scheme, no workers, an expectation that does not parse.
    #[error("race options: {0}")]
    Options(String),
    /// The database could not be reached.
    #[error("{0}")]
    Server(String),
    /// Set-up, verification or clean-up SQL failed.
    #[error("{what} failed on {url}: {message}")]
    Sql {
        /// Which SQL (`setup`, `verification query duplicates`).
        what: String,
        /// The redacted URL.
        url: String,
        /// The server's message with its code.
        message: String,
    },
}

/// The dialect of a database URL (`postgres://`, `postgresql://`, `mysql://`, `mariadb://`).
pub fn dialect_of_url(url: &str) -> Option<Dialect> {
    match url.split_once("://")?.0 {
        "postgres" | "postgresql" => Some(Dialect::Postgres),
        "mysql" | "mariadb" => Some(Dialect::Mysql),
        _ => None,
    }
}

/// Races `f`: every worker calls it once per operation with that operation's [`Op`] (in
/// rounds mode all workers are released together for each round and share its key), the
/// value or error it returns is classified into an outcome, and after each repetition the
/// verification queries run. The report holds one scenario with one result, its
/// expectations and its verdict ([`Report::verdict`]).
///
/// Errors: [`RaceError`] when the options are wrong, the database cannot be reached, or
/// the set-up, verification or clean-up SQL fails.
pub async fn race<F, Fut, T, E>(options: RaceOptions, f: F) -> Result<Report, RaceError>
where
    F: Fn(Op) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Into<Outcome> + Send + 'static,
    E: Classify + Send + 'static,
{
    let o = &options;
    let dialect = dialect_of_url(&o.url).ok_or_else(|| {
        RaceError::Options(format!(
            "`{}` is not a postgres:// or mysql:// URL",
            crate::db::redact_url(&o.url)
        ))
    })?;
    if o.workload.workers == 0 {
        return Err(RaceError::Options("workers must be at least 1".into()));
    }
    if o.workload.operations == u64::MAX && o.workload.duration.is_none() {
        return Err(RaceError::Options("give operations or a duration".into()));
    }
    let names: Vec<String> = o.verify.iter().map(|(n, _)| n.clone()).collect();
    let expectations = o
        .expect
        .iter()
        .map(|t| Expectation::parse_with(&o.name, None, t, &names))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RaceError::Options)?;
    let server = app::connect_server(dialect, &o.url, "url", None)
        .await
        .map_err(|e| RaceError::Server(e.to_string()))?;
    let started_at = now_rfc3339();
    let r = race_on(o, &server, Arc::new(f), &expectations).await?;
    Ok(assemble(o, server, started_at, r))
}

/// Races `f` with `o`'s workload against the database of `server` (already connected, its
/// engine detected) and returns the result with `expectations` evaluated (those that apply
/// to `o.name` on the server's dialect) and its verdict. `o.url` is not read: the database
/// is `server.target.url`.
///
/// Errors: [`RaceError`] when the set-up, verification or clean-up SQL fails.
pub async fn race_on<F, Fut, T, E>(
    o: &RaceOptions,
    server: &Server,
    f: Arc<F>,
    expectations: &[Expectation],
) -> Result<StrategyResult, RaceError>
where
    F: Fn(Op) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Into<Outcome> + Send + 'static,
    E: Classify + Send + 'static,
{
    let mut reps = Vec::new();
    let mut admin = open(&server.target).await?;
    for rep in 0..o.workload.repeat.max(1) {
        if let Some(sql) = &o.setup {
            run_sql(&mut admin, &server.target, "the setup SQL", sql).await?;
        }
        let (recorder, elapsed, started, spread) =
            worker::run_all(o, server.target.engine, f.clone(), rep).await;
        let measured = figures::measure(&mut admin, &server.target, &o.verify).await?;
        reps.push(result(
            o,
            server,
            recorder,
            elapsed,
            started,
            measured,
            spread,
            expectations,
        ));
    }
    if let Some(sql) = &o.cleanup {
        run_sql(&mut admin, &server.target, "the cleanup SQL", sql).await?;
    }
    admin.close().await;
    let figures = figures::combine(&reps);
    let mut r = report::combine(
        reps,
        expectations,
        server.target.dialect(),
        server.target.engine.name(),
        &o.workload,
    );
    r.figures = figures;
    r.verdict = report::verdict::judge(&r);
    Ok(r)
}

#[allow(clippy::too_many_arguments)]
fn result(
    o: &RaceOptions,
    server: &Server,
    recorder: Recorder,
    elapsed: Duration,
    started: Instant,
    measured: BTreeMap<String, f64>,
    spread: BTreeMap<String, f64>,
    expectations: &[Expectation],
) -> StrategyResult {
    let verification = figures::verification(&measured, &recorder);
    let run = StrategyRun {
        recorder,
        elapsed,
        verification,
        verified: true,
        isolation: "the application's".into(),
        failure: None,
        fatal: None,
        server_lost: None,
        timeouts: None,
        interrupted: false,
        started,
    };
    let mut r = crate::runner::result_of(&o.name, &server.target, &run, &[], &o.workload);
    r.figures = measured.into_iter().chain(spread).collect();
    report::evaluate(
        &mut r,
        expectations,
        server.target.dialect(),
        server.target.engine.name(),
        &o.workload,
    );
    r.verdict = report::verdict::judge(&r);
    r
}

fn assemble(o: &RaceOptions, server: Server, started_at: String, r: StrategyResult) -> Report {
    let scenario = ScenarioReport {
        name: o.name.clone(),
        file: String::new(),
        description: format!("keyrace::race of `{}`", o.name),
        teaches: String::new(),
        claims: vec![],
        claim_verdicts: vec![],
        workload: serde_json::to_value(&o.workload).unwrap_or_default(),
        table: serde_json::json!({ "key_type": KeyType::Text, "key_format": o.key_format }),
        results: vec![r],
        error: None,
        repeat: o.workload.repeat.max(1),
        fastest_safe: vec![],
    };
    let mut report = Report {
        format_version: report::FORMAT_VERSION,
        keyrace_version: env!("CARGO_PKG_VERSION").into(),
        run_id: run_id(),
        started_at,
        command: vec![format!("keyrace::race({})", o.name)],
        interrupted: false,
        servers: vec![server.info],
        scenarios: vec![scenario],
        interleavings: vec![],
    };
    report.conclude();
    report
}

async fn open(target: &Target) -> Result<Conn, RaceError> {
    let mut c = Conn::open(target.engine, &target.url)
        .await
        .map_err(|e| RaceError::Server(format!("cannot connect to {}: {e}", redacted(target))))?;
    c.set_statement_timeout(Some(crate::runner::DDL_TIMEOUT));
    Ok(c)
}

fn redacted(target: &Target) -> String {
    crate::db::redact_url(&target.url)
}

async fn run_sql(c: &mut Conn, target: &Target, what: &str, sql: &str) -> Result<(), RaceError> {
    c.batch(sql).await.map_err(|e| RaceError::Sql {
        what: what.into(),
        url: redacted(target),
        message: format!("{} ({})", e.message, e.code),
    })
}

fn run_id() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Report {
    /// The verdict of the first result of the first scenario: for a [`race`], its only one.
    /// A report without results gets an `errors` verdict saying so.
    pub fn verdict(&self) -> report::Verdict {
        self.scenarios
            .first()
            .and_then(|s| s.results.first())
            .and_then(|r| r.verdict.clone())
            .unwrap_or_else(|| report::Verdict {
                level: report::VerdictLevel::Errors,
                reasons: vec!["no operation finished".into()],
            })
    }
}
