//! One worker: a dedicated connection running operations on its own keys, recording into its
//! own [`Recorder`]; released together with the others per round in rounds mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

use super::execute::{Values, operation};
use super::keys::{KeyGen, KeyText};
use crate::db::{Conn, Outcome, Param};
use crate::metrics::Recorder;
use crate::plan::{KeyType, Mode, TableSpec, Workload};
use crate::strategy::Program;

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
    /// Rounds mode: the start barrier.
    pub barrier: Barrier,
    /// Rounds mode with a duration: the leader's decision to stop, read after the barrier.
    pub stop: AtomicBool,
    /// Stops the run (Ctrl-C, or a worker that lost its connection).
    pub cancel: CancellationToken,
    /// When set, workers stop at this instant.
    pub deadline: Option<Instant>,
    /// Reconnects a worker whose connection broke.
    pub url: String,
    /// Session settings (isolation level, lock timeout) applied to every connection.
    pub session_sql: String,
}

/// Why a worker stopped early.
#[derive(Debug, Clone)]
pub struct WorkerFailure {
    /// Worker number.
    pub worker: usize,
    /// What went wrong.
    pub message: String,
}

/// Runs `quota` operations (or until the deadline or cancellation).
pub async fn run(
    worker: usize,
    mut conn: Conn,
    quota: u64,
    shared: Arc<Shared>,
) -> (Recorder, Option<WorkerFailure>, Conn) {
    let w = &shared.workload;
    let mut rec = Recorder::default();
    let mut keys = KeyGen::new(w, worker);
    let mut key_text = KeyText::new(&shared.table);
    let mut payload = String::with_capacity(32);
    let mut failure = None;
    let mut pending_progress = 0u64;
    let backoff_base = shared.program.retry.backoff_us;
    let counts = w.shape.counts();
    for seq in 0..quota {
        if w.mode == Mode::Rounds {
            let synced = tokio::select! {
                biased;
                _ = shared.cancel.cancelled() => false,
                r = shared.barrier.wait() => {
                    if r.is_leader() {
                        shared.stop.store(shared.deadline.is_some_and(|d| Instant::now() >= d), Ordering::Relaxed);
                    }
                    tokio::select! {
                        biased;
                        _ = shared.cancel.cancelled() => false,
                        _ = shared.barrier.wait() => !shared.stop.load(Ordering::Relaxed),
                    }
                }
            };
            if !synced {
                break;
            }
        } else if shared.cancel.is_cancelled()
            || shared.deadline.is_some_and(|d| Instant::now() >= d)
        {
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
        let start = Instant::now();
        let jitter = keys.jitter();
        let fut = operation(&mut conn, &shared.program, &values, |retry| {
            let base = backoff_base.saturating_mul(1 << retry.min(16)).min(100_000);
            Duration::from_micros((base as f64 * (0.5 + jitter)) as u64)
        });
        let result = tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => break,
            r = fut => r,
        };
        let elapsed = start.elapsed();
        rec.record(result.outcome, elapsed.as_micros() as u64);
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
            *rec.acked.entry(k).or_default() += 1;
        }
        if let Some(e) = &result.error {
            if e.class == Outcome::Other {
                *rec.other_codes.entry(e.code.clone()).or_default() += 1;
            }
            if e.class == Outcome::ConnectionError {
                match super::connect_session(conn.dialect(), &shared.url, &shared.session_sql).await
                {
                    Ok(c) => conn = c,
                    Err(re) => {
                        failure = Some(WorkerFailure {
                            worker,
                            message: format!(
                                "lost its connection ({}) and could not reconnect: {}",
                                e.message, re.message
                            ),
                        });
                        shared.cancel.cancel();
                        break;
                    }
                }
            }
        }
        pending_progress += 1;
        if pending_progress == 16 {
            shared.done.fetch_add(pending_progress, Ordering::Relaxed);
            pending_progress = 0;
        }
    }
    shared.done.fetch_add(pending_progress, Ordering::Relaxed);
    (rec, failure, conn)
}
