//! One worker: a dedicated connection running operations on its own keys, recording into its
//! own [`Recorder`]; released together with the others per round in rounds mode.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

use super::cancel::cancel_in_flight;
use super::execute::{Values, operation};
use super::keys::KeyGen;
use crate::db::{Conn, Engine, Outcome, Param};
use crate::metrics::{Recorder, Shards};
use crate::plan::{KeyType, Mode, TableSpec, Workload};
use crate::strategy::Program;
use crate::vocab::KeyText;

/// What every worker of one strategy run shares (read-only, or atomics touched per round
/// or per batch, never per statement).
pub struct Shared {
    /// The program to run.
    pub program: Program,
    /// The workload.
    pub workload: Workload,
    /// The table (for key formatting).
    pub table: TableSpec,
    /// Operations finished, for the progress bar (updated every few operations).
    pub done: AtomicU64,
    /// Unique violations that reached the application, for the progress bar (same cadence).
    pub violations: AtomicU64,
    /// Rounds mode: the start barrier.
    pub barrier: Barrier,
    /// Rounds mode with a duration: the leader's decision to stop, read after the barrier.
    pub stop: AtomicBool,
    /// Stops the run (Ctrl-C, or a worker that lost its connection).
    pub cancel: CancellationToken,
    /// `cancel` as the workers see it: a flag and one waker per worker, set by
    /// [`watch_cancel`]. Polling a `CancellationToken::cancelled()` per operation locks the
    /// token's and its `Notify`'s mutexes, shared by all workers, several times per operation;
    /// this is one relaxed load and, while an operation waits, a lock-free waker slot.
    pub stop_now: StopSignal,
    /// When set, workers start no operation after this instant.
    pub deadline: Option<Instant>,
    /// When set, an operation still running at this instant (`deadline` plus a short grace)
    /// is abandoned, counted as [`Outcome::Timeout`] and cancelled: the run ends on time
    /// even when the server stops answering.
    pub hard_end: Option<Instant>,
    /// The per-statement deadline of every worker connection.
    pub statement_timeout: Duration,
    /// The engine (for cancelling statements from a side connection).
    pub engine: Engine,
    /// Cancellations of statements that missed their deadline, running on side connections;
    /// awaited (briefly) before the database is dropped. Each yields whether the server
    /// confirmed it.
    pub cancels: std::sync::Mutex<Vec<tokio::task::JoinHandle<bool>>>,
    /// The run's start: per-second counts are seconds since this instant.
    pub started: Instant,
    /// Reconnects a worker whose connection broke: the database URL on each node of the
    /// target (one for a single server); worker `i` uses `urls[i % urls.len()]`.
    pub urls: Vec<String>,
    /// Session settings (isolation level, lock timeout) applied to every connection.
    pub session_sql: String,
    /// Latency histograms and per-second counts, shared by the workers in a few shards
    /// (locked once per [`crate::metrics::BATCH`] operations of a worker).
    pub shards: Shards,
}

/// A cancellation flag the workers can poll cheaply (see [`Shared::stop_now`]).
pub struct StopSignal {
    flag: AtomicBool,
    wakers: Box<[AtomicWaker]>,
}

impl StopSignal {
    /// A signal for `workers` workers.
    pub fn new(workers: usize) -> StopSignal {
        StopSignal {
            flag: AtomicBool::new(false),
            wakers: (0..workers).map(|_| AtomicWaker::new()).collect(),
        }
    }

    /// True once the run was cancelled.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Sets the flag and wakes every worker waiting on [`StopSignal::wait`].
    pub fn set(&self) {
        self.flag.store(true, Ordering::Release);
        for w in self.wakers.iter() {
            w.wake();
        }
    }

    /// Completes once the signal is set; for worker `worker`.
    pub fn wait(&self, worker: usize) -> StopWait<'_> {
        StopWait {
            signal: self,
            worker,
        }
    }
}

/// The future of [`StopSignal::wait`].
pub struct StopWait<'a> {
    signal: &'a StopSignal,
    worker: usize,
}

impl Future for StopWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.is_set() {
            return Poll::Ready(());
        }
        self.signal.wakers[self.worker].register(cx.waker());
        if self.signal.is_set() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Sets `shared.stop_now` when `shared.cancel` is cancelled; spawn it next to the workers
/// and abort it when they are done.
pub async fn watch_cancel(shared: Arc<Shared>) {
    shared.cancel.cancelled().await;
    shared.stop_now.set();
}

/// Acknowledged writes per key number, counted in a dense array of 32-bit counters while the
/// key space is small enough (no hashing per operation), else (or once a counter would
/// overflow) in a map.
enum Acked {
    Dense(Vec<u32>),
    Sparse(HashMap<u64, u64>),
}

impl Acked {
    /// Dense up to this many keys (4 MiB of counters per worker at most).
    const DENSE_MAX: u64 = 1 << 20;

    fn new(w: &Workload) -> Acked {
        if w.mode == Mode::Random && w.keys <= Self::DENSE_MAX {
            Acked::Dense(vec![0; w.keys as usize])
        } else {
            Acked::Sparse(HashMap::new())
        }
    }

    #[inline]
    fn add(&mut self, k: u64) {
        match self {
            Acked::Dense(v) if (k as usize) < v.len() && v[k as usize] < u32::MAX => {
                v[k as usize] += 1
            }
            Acked::Dense(v) => {
                let mut m = dense_to_map(std::mem::take(v));
                *m.entry(k).or_default() += 1;
                *self = Acked::Sparse(m);
            }
            Acked::Sparse(m) => *m.entry(k).or_default() += 1,
        }
    }

    fn into_map(self) -> HashMap<u64, u64> {
        match self {
            Acked::Dense(v) => dense_to_map(v),
            Acked::Sparse(m) => m,
        }
    }
}

fn dense_to_map(v: Vec<u32>) -> HashMap<u64, u64> {
    v.into_iter()
        .enumerate()
        .filter(|&(_, n)| n > 0)
        .map(|(k, n)| (k as u64, u64::from(n)))
        .collect()
}

/// Why a worker stopped early.
#[derive(Debug, Clone)]
pub struct WorkerFailure {
    /// Worker number.
    pub worker: usize,
    /// What went wrong.
    pub message: String,
    /// True when the scenario is broken (every operation failed with an error that is no
    /// race class), false when the server was lost.
    pub fatal: bool,
}

/// After this many operations of one worker that all failed with errors of no race class
/// (syntax, undefined column, permission, statement deadline ...), the cell is stopped as
/// broken.
pub const FATAL_AFTER: u64 = 20;

/// No server id known (see [`Conn::backend_id`]).
const NO_BACKEND: u64 = u64::MAX;

/// What a worker hands back: its measurements, why it stopped early, and its connection
/// (none when it was lost or left with a statement in flight).
pub struct WorkerEnd {
    /// The worker's measurements.
    pub recorder: Recorder,
    /// Why it stopped early, if it did.
    pub failure: Option<WorkerFailure>,
    /// Its connection, to close politely.
    pub conn: Option<Conn>,
    /// True when an operation was still running at the hard end (the server is stuck).
    pub stuck: bool,
}

/// Waits until `at`, or forever when there is none.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

impl Shared {
    /// The database URL worker `worker` connects to (its node, round-robin).
    pub fn url_of(&self, worker: usize) -> &str {
        &self.urls[worker % self.urls.len()]
    }
}

/// Reconnects a worker to its node, giving up on cancellation or at the hard end.
async fn reconnect(
    shared: &Shared,
    worker: usize,
    stop: impl Future<Output = ()>,
) -> Option<Result<Conn, String>> {
    tokio::select! {
        biased;
        _ = stop => None,
        _ = sleep_until(shared.hard_end) => None,
        r = super::connect_session_within(shared.engine, shared.url_of(worker), &shared.session_sql, shared.statement_timeout) => Some(r.map_err(|e| e.message)),
    }
}

/// Runs `quota` operations (or until the deadline or cancellation).
pub async fn run(worker: usize, conn: Conn, quota: u64, shared: Arc<Shared>) -> WorkerEnd {
    let w = &shared.workload;
    let mut conn = Some(conn);
    let mut rec = Recorder::default();
    let mut batch = shared.shards.batch(worker);
    let mut acked_keys = Acked::new(w);
    let stop = shared.stop_now.wait(worker);
    tokio::pin!(stop);
    let end = sleep_until(shared.hard_end);
    tokio::pin!(end);
    let mut keys = KeyGen::new(w, worker);
    let mut key_text = KeyText::new(shared.table.key_type, &shared.table.key_format);
    let mut payload = String::with_capacity(32);
    let mut failure = None;
    let mut stuck = false;
    let mut pending_progress = 0u64;
    // Operations that did not end in an error of no race class (see FATAL_AFTER).
    let mut sane = 0u64;
    let mut pending_violations = 0u64;
    let backoff_base = shared.program.retry.backoff_us;
    let counts = w.shape.counts();
    for seq in 0..quota {
        if w.mode == Mode::Rounds {
            let synced = tokio::select! {
                biased;
                _ = &mut stop => false,
                _ = &mut end => false,
                r = shared.barrier.wait() => {
                    if r.is_leader() {
                        shared.stop.store(shared.deadline.is_some_and(|d| Instant::now() >= d), Ordering::Relaxed);
                    }
                    tokio::select! {
                        biased;
                        _ = &mut stop => false,
                        _ = &mut end => false,
                        _ = shared.barrier.wait() => !shared.stop.load(Ordering::Relaxed),
                    }
                }
            };
            if !synced {
                break;
            }
        } else if shared.stop_now.is_set() {
            break;
        }
        let Some(c) = conn.as_mut() else {
            break;
        };
        // One clock read per operation: the deadline check and the start of the latency.
        // In rounds mode the barrier's leader decides for everyone (above): a worker that
        // stopped here on its own would leave the others waiting at the next barrier forever.
        let start = Instant::now();
        if w.mode != Mode::Rounds && shared.deadline.is_some_and(|d| start >= d) {
            break;
        }
        let k = keys.next(seq);
        payload.clear();
        {
            use std::fmt::Write;
            let _ = write!(payload, "w{worker}-{seq}");
        }
        let key = match shared.table.key_type {
            KeyType::Bigint => Param::Int(k as i64),
            KeyType::Text => Param::Text(key_text.text(k)),
        };
        let values = Values {
            key,
            worker: worker as i64,
            seq: seq as i64,
            payload: &payload,
        };
        let jitter = keys.jitter();
        let backend = c.backend_id();
        // The server id of the connection the operation is on (a retry after a timeout
        // moves it to a new one), for cancelling what it runs when the run is stopped.
        let in_flight = AtomicU64::new(backend.unwrap_or(NO_BACKEND));
        let fut = operation(
            c,
            &shared.program,
            &values,
            |retry| {
                let base = backoff_base.saturating_mul(1 << retry.min(16)).min(100_000);
                Duration::from_micros((base as f64 * (0.5 + jitter)) as u64)
            },
            |old: Option<u64>| {
                let (shared, in_flight) = (&shared, &in_flight);
                Box::pin(async move {
                    cancel_in_flight(shared, worker, old);
                    let fresh = reconnect(shared, worker, std::future::pending())
                        .await?
                        .ok()?;
                    in_flight.store(fresh.backend_id().unwrap_or(NO_BACKEND), Ordering::Relaxed);
                    Some(fresh)
                })
            },
        );
        let backend_now = || Some(in_flight.load(Ordering::Relaxed)).filter(|&b| b != NO_BACKEND);
        let result = tokio::select! {
            biased;
            _ = &mut stop => {
                // Interrupted with a statement in flight: cancel it so the database can be
                // dropped at once, and give up the connection.
                cancel_in_flight(&shared, worker, backend_now());
                conn = None;
                break;
            }
            _ = &mut end => {
                // Still running when the run had to end: the server is stuck or stopped.
                rec.count(Outcome::Timeout);
                batch.push(&shared.shards, Outcome::Timeout, start.elapsed().as_micros() as u64, None, false);
                rec.error(Outcome::Timeout, "timeout", "still running when the run's duration was over; cancelled", || "(in flight)".into());
                cancel_in_flight(&shared, worker, backend_now());
                conn = None;
                stuck = true;
                break;
            }
            r = fut => r,
        };
        let elapsed = start.elapsed();
        rec.count(result.outcome);
        // The second the operation finished in: arithmetic on instants already read.
        let second = (start + elapsed)
            .saturating_duration_since(shared.started)
            .as_secs();
        batch.push(
            &shared.shards,
            result.outcome,
            elapsed.as_micros() as u64,
            Some(second),
            result.violation_at.is_some(),
        );
        rec.retries += u64::from(result.retries);
        for h in &result.handled {
            rec.handled[h.index()] += 1;
        }
        if let Some(at) = result.violation_at {
            rec.saw_violation(at);
        }
        // Signup: an insert is acknowledged. Counting shapes: every successful operation
        // is an increment the application believes happened.
        let acked = if counts {
            !result.outcome.is_error()
        } else {
            result.outcome == Outcome::Inserted
        };
        if acked {
            acked_keys.add(k);
        }
        match &result.error {
            None => sane += 1,
            Some(e) => {
                let program = &shared.program;
                rec.error(e.class, &e.code, &e.message, || {
                    result
                        .failed_at
                        .map_or_else(|| "?".into(), |a| a.name(program).to_string())
                });
                if e.class == Outcome::Other {
                    *rec.other_codes.entry(e.code.clone()).or_default() += 1;
                }
                if e.class.is_race() {
                    sane += 1;
                }
                if e.class == Outcome::Timeout {
                    cancel_in_flight(&shared, worker, backend_now());
                }
                if !e.class.is_race() && sane == 0 && seq + 1 >= FATAL_AFTER {
                    let step = result.failed_at.map_or("?", |a| a.name(&shared.program));
                    let at = result
                        .failed_at
                        .and_then(|a| a.location(&shared.program))
                        .map(|l| format!(" ({l})"))
                        .unwrap_or_default();
                    failure = Some(WorkerFailure {
                        worker,
                        message: format!(
                            "every operation ({}) failed in step {step}{at} with {} ({}): {}",
                            seq + 1,
                            e.code,
                            e.class.name(),
                            e.message
                        ),
                        fatal: true,
                    });
                    shared.cancel.cancel();
                    break;
                }
                if matches!(e.class, Outcome::ConnectionError | Outcome::Timeout) {
                    conn = None;
                    match reconnect(&shared, worker, &mut stop).await {
                        None => break,
                        Some(Ok(c)) => conn = Some(c),
                        Some(Err(re)) => {
                            failure = Some(WorkerFailure {
                                worker,
                                message: format!(
                                    "lost its connection ({}) and could not reconnect: {re}",
                                    e.message
                                ),
                                fatal: false,
                            });
                            shared.cancel.cancel();
                            break;
                        }
                    }
                }
            }
        }
        pending_progress += 1;
        pending_violations += u64::from(result.outcome == Outcome::UniqueViolation);
        if pending_progress == 16 {
            shared.done.fetch_add(pending_progress, Ordering::Relaxed);
            shared
                .violations
                .fetch_add(pending_violations, Ordering::Relaxed);
            pending_progress = 0;
            pending_violations = 0;
        }
    }
    batch.flush(&shared.shards);
    shared.done.fetch_add(pending_progress, Ordering::Relaxed);
    shared
        .violations
        .fetch_add(pending_violations, Ordering::Relaxed);
    rec.acked = acked_keys.into_map();
    WorkerEnd {
        recorder: rec,
        failure,
        conn,
        stuck,
    }
}
