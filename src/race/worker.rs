//! The workers of a [`super::race`]: each calls the closure once per operation, released
//! together per round by a barrier in rounds mode, recording into its own [`Recorder`];
//! and the release spread of each round (first to last call of the round started).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::Barrier;

use super::limit::Limit;
use super::{Classify, RaceOptions};
use crate::db::Engine;
use crate::metrics::Recorder;
use crate::plan::Mode;
use crate::runner::keys::KeyGen;
use crate::vocab::{KeyText, KeyType, Outcome};

/// One operation handed to the raced closure. `Op::default()` is the empty operation (empty
/// key and payload, numbers 0): what a request that depends on no operation is rendered with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Op {
    /// The key as text (the key format with the key number, `user17@example.com`).
    pub key: String,
    /// The key number (in rounds mode: the round).
    pub key_number: u64,
    /// The worker calling (0-based).
    pub worker: usize,
    /// The worker's operation number (0-based; in rounds mode the round).
    pub seq: u64,
    /// A value unique to this operation (`w3-17`), for a payload column.
    pub payload: String,
    /// The repetition (0-based).
    pub repetition: u32,
}

struct Shared<F> {
    f: Arc<F>,
    barrier: Barrier,
    stop: AtomicBool,
    deadline: Option<Instant>,
    started: Instant,
    engine: Engine,
    call_timeout: Duration,
    step: String,
}

/// What one worker measured, and when each of its calls started (ns since the start).
struct End {
    recorder: Recorder,
    starts: Vec<u64>,
}

/// Runs every worker of one repetition; returns the merged measurements, the measured
/// time, when the workers were released, and the release spread figures (rounds mode):
/// `release_spread_p50_us` and `release_spread_max_us`.
pub(super) async fn run_all<F, Fut, T, E>(
    o: &RaceOptions,
    engine: Engine,
    f: Arc<F>,
    rep: u32,
) -> (Recorder, Duration, Instant, BTreeMap<String, f64>)
where
    F: Fn(Op) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Into<Outcome> + Send + 'static,
    E: Classify + Send + 'static,
{
    let w = &o.workload;
    let started = Instant::now();
    let shared = Arc::new(Shared {
        f,
        barrier: Barrier::new(w.workers),
        stop: AtomicBool::new(false),
        deadline: w.duration.and_then(|d| started.checked_add(d)),
        started,
        engine,
        call_timeout: o.call_timeout,
        step: o.step.clone(),
    });
    let per_worker = w.operations.div_ceil(w.workers as u64);
    let handles: Vec<_> = (0..w.workers)
        .map(|i| {
            let shared = shared.clone();
            let (wl, fmt) = (w.clone(), o.key_format.clone());
            tokio::spawn(async move {
                let mut keys = KeyGen::new(&wl, i);
                let mut text = KeyText::new(KeyType::Text, &fmt);
                let quota = if wl.mode == Mode::Random {
                    wl.operations / wl.workers as u64
                        + u64::from((i as u64) < wl.operations % wl.workers as u64)
                } else {
                    per_worker
                };
                worker(i, quota, wl.mode, rep, &shared, &mut keys, &mut text).await
            })
        })
        .collect();
    let mut recorder = Recorder::default();
    let mut starts = Vec::new();
    for h in handles {
        if let Ok(end) = h.await {
            recorder.merge(end.recorder);
            starts.push(end.starts);
        }
    }
    let elapsed = started.elapsed();
    let spread = if w.mode == Mode::Rounds {
        release_spread(&starts)
    } else {
        BTreeMap::new()
    };
    (recorder, elapsed, started, spread)
}

async fn worker<F, Fut, T, E>(
    i: usize,
    quota: u64,
    mode: Mode,
    repetition: u32,
    shared: &Shared<F>,
    keys: &mut KeyGen,
    text: &mut KeyText,
) -> End
where
    F: Fn(Op) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Into<Outcome> + Send + 'static,
    E: Classify + Send + 'static,
{
    let mut rec = Recorder::default();
    let mut limit = Limit::default();
    // Call start times serve the release spread of rounds only.
    let rounds = mode == Mode::Rounds;
    let mut starts = Vec::with_capacity(if rounds {
        quota.min(1 << 16) as usize
    } else {
        0
    });
    let mut acked: HashMap<u64, u64> = HashMap::new();
    for seq in 0..quota {
        if rounds {
            // The leader decides for everyone after the first barrier, so no worker waits
            // at a barrier the others left.
            if shared.barrier.wait().await.is_leader() {
                let over = shared.deadline.is_some_and(|d| Instant::now() >= d);
                shared.stop.store(over, Ordering::Relaxed);
            }
            shared.barrier.wait().await;
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        let start = Instant::now();
        if mode != Mode::Rounds && shared.deadline.is_some_and(|d| start >= d) {
            break;
        }
        let k = keys.next(seq);
        let op = Op {
            key: text.text(k).to_string(),
            key_number: k,
            worker: i,
            seq,
            payload: format!("w{i}-{seq}"),
            repetition,
        };
        if rounds {
            starts.push(start.saturating_duration_since(shared.started).as_nanos() as u64);
        }
        let call = AssertUnwindSafe((shared.f)(op)).catch_unwind();
        let (outcome, error) = match limit.run(shared.call_timeout, call).await {
            Some(Ok(Ok(v))) => (v.into(), None),
            Some(Ok(Err(e))) => {
                let e = e.classify(shared.engine);
                (e.class, Some((e.code, e.message)))
            }
            Some(Err(_)) => (
                Outcome::Other,
                Some(("panic".into(), "the closure panicked".into())),
            ),
            None => (
                Outcome::Timeout,
                Some((
                    "timeout".into(),
                    format!("no answer within {} ms", shared.call_timeout.as_millis()),
                )),
            ),
        };
        let end = Instant::now();
        rec.record(outcome, end.duration_since(start).as_micros() as u64);
        let violation = outcome == Outcome::UniqueViolation;
        let second = end.saturating_duration_since(shared.started).as_secs() as usize;
        rec.seconds.count(second, outcome, violation);
        if violation {
            rec.saw_violation(end);
        }
        if let Some((code, message)) = error {
            rec.error(outcome, &code, &message, || shared.step.clone());
            if outcome == Outcome::Other {
                *rec.other_codes.entry(code).or_default() += 1;
            }
        }
        if outcome == Outcome::Inserted {
            *acked.entry(k).or_default() += 1;
        }
    }
    rec.acked = acked;
    End {
        recorder: rec,
        starts,
    }
}

/// Per round, the time between the first and the last worker's call starting; the median
/// and the largest over rounds, µs.
fn release_spread(starts: &[Vec<u64>]) -> BTreeMap<String, f64> {
    let rounds = starts.iter().map(Vec::len).min().unwrap_or(0);
    let mut spreads: Vec<u64> = (0..rounds)
        .map(|r| {
            let (lo, hi) = starts
                .iter()
                .map(|s| s[r])
                .fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
            hi - lo
        })
        .collect();
    let mut out = BTreeMap::new();
    if spreads.is_empty() {
        return out;
    }
    spreads.sort_unstable();
    let us = |ns: u64| (ns as f64 / 100.0).round() / 10.0;
    out.insert(
        "release_spread_p50_us".into(),
        us(spreads[spreads.len() / 2]),
    );
    out.insert(
        "release_spread_max_us".into(),
        us(*spreads.last().unwrap_or(&0)),
    );
    out
}
