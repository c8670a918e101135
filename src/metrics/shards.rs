//! Latency histograms and per-second counts of one run, kept in a few shards shared by the
//! workers instead of one set per worker: each worker batches [`BATCH`] operations on its own
//! and adds them to its shard under one short lock, so a run's memory grows with the shards
//! (at most [`MAX_SHARDS`], ≈ 160 KiB each), not with its workers or its length, and the
//! histograms keep their full precision (3 significant figures; see [`Recorder`]).

use std::sync::Mutex;

use super::Recorder;
use crate::vocab::Outcome;

/// Operations a worker keeps before it adds them to its shard (one lock per this many).
pub const BATCH: usize = 32;

/// Most shards of one run (with fewer workers, one per worker).
pub const MAX_SHARDS: usize = 16;

/// One finished operation as a batch holds it.
#[derive(Debug, Clone, Copy)]
struct Op {
    /// Latency, µs (clamped to [`super::MAX_LATENCY_US`] on the way in, so it fits).
    us: u32,
    /// The second since the run's start it finished in, if it is counted in the series.
    second: Option<u32>,
    /// Its final outcome.
    outcome: Outcome,
    /// Whether it saw a unique violation (handled or not).
    violation: bool,
}

/// The shared part: latency histograms and per-second counts in `n` [`Recorder`]s whose
/// outcome counters stay zero (the workers count outcomes in their own recorders).
#[derive(Debug)]
pub struct Shards(Box<[Mutex<Recorder>]>);

impl Shards {
    /// Shards for `workers` workers: one per worker up to [`MAX_SHARDS`].
    pub fn new(workers: usize) -> Shards {
        let n = workers.clamp(1, MAX_SHARDS);
        Shards((0..n).map(|_| Mutex::new(Recorder::default())).collect())
    }

    /// How many shards there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: there is at least one shard.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An empty batch for worker `worker` (which adds to shard `worker % len`).
    pub fn batch(&self, worker: usize) -> Batch {
        Batch {
            shard: worker % self.0.len(),
            len: 0,
            ops: [Op {
                us: 0,
                second: None,
                outcome: Outcome::Inserted,
                violation: false,
            }; BATCH],
        }
    }

    /// All shards merged into one recorder (histograms and series; no outcome counts),
    /// leaving them empty; call it once every worker flushed its batch.
    pub fn take(&self) -> Recorder {
        let mut total = Recorder::default();
        for m in self.0.iter() {
            let mut r = m.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            total.merge(std::mem::take(&mut *r));
        }
        total
    }
}

/// A worker's operations not yet added to its shard; [`Batch::flush`] it before handing the
/// worker's results back.
#[derive(Debug)]
pub struct Batch {
    shard: usize,
    len: usize,
    ops: [Op; BATCH],
}

impl Batch {
    /// Notes one operation: its outcome, latency (µs), the second since the run's start it
    /// finished in (`None`: not counted in the series) and whether it saw a unique violation.
    #[inline]
    pub fn push(
        &mut self,
        shards: &Shards,
        outcome: Outcome,
        latency_us: u64,
        second: Option<u64>,
        violation: bool,
    ) {
        self.ops[self.len] = Op {
            us: latency_us.min(super::MAX_LATENCY_US) as u32,
            second: second.map(|s| s.min(u64::from(u32::MAX)) as u32),
            outcome,
            violation,
        };
        self.len += 1;
        if self.len == BATCH {
            self.flush(shards);
        }
    }

    /// Adds the batched operations to the worker's shard.
    pub fn flush(&mut self, shards: &Shards) {
        if self.len == 0 {
            return;
        }
        let mut r = shards.0[self.shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for op in &self.ops[..self.len] {
            r.record_latency(op.outcome, u64::from(op.us));
            if let Some(s) = op.second {
                r.seconds.count(s as usize, op.outcome, op.violation);
            }
        }
        drop(r);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Latency;

    /// Through batches and shards, the histograms and series are exactly those of per-worker
    /// recorders merged (the same 3-significant-figure histograms, only fewer of them).
    #[test]
    fn shards_match_per_worker_recorders() {
        let shards = Shards::new(40);
        assert_eq!(shards.len(), MAX_SHARDS);
        let mut direct = Recorder::default();
        for w in 0..40u64 {
            let mut b = shards.batch(w as usize);
            let mut mine = Recorder::default();
            for i in 0..1000u64 {
                let us = 37 + (w * 7919 + i * 104_729) % 250_000;
                let o = if i % 5 == 0 {
                    Outcome::Inserted
                } else {
                    Outcome::Updated
                };
                let s = (i / 100) as usize;
                b.push(&shards, o, us, Some(s as u64), i % 7 == 0);
                mine.record(o, us);
                mine.seconds.count(s, o, i % 7 == 0);
            }
            b.flush(&shards);
            direct.merge(mine);
        }
        let sharded = shards.take();
        assert_eq!(sharded.latency().len(), 40_000);
        assert_eq!(
            Latency::of(sharded.latency()),
            Latency::of(direct.latency())
        );
        for o in Outcome::ALL {
            assert_eq!(
                sharded.by_outcome[o.index()].as_ref().map(Latency::of),
                direct.by_outcome[o.index()].as_ref().map(Latency::of),
                "{o:?}"
            );
        }
        assert_eq!(sharded.seconds, direct.seconds);
        assert_eq!(sharded.ops(), 0, "shards hold no outcome counts");
    }

    /// p50 and p99 read from the shards are within the histograms' precision (0.1 %) of the
    /// exact quantiles of the recorded values.
    #[test]
    fn quantiles_within_precision() {
        let shards = Shards::new(3);
        let mut all = Vec::new();
        for w in 0..3 {
            let mut b = shards.batch(w);
            for i in 0..10_001u64 {
                let us = 100 + (i * 2_654_435_761 + w as u64) % 90_000;
                all.push(us);
                b.push(&shards, Outcome::Updated, us, None, false);
            }
            b.flush(&shards);
        }
        all.sort_unstable();
        let r = shards.take();
        let l = Latency::of(r.latency());
        for (q, got) in [(0.50, l.p50), (0.99, l.p99)] {
            let exact = all[((q * all.len() as f64).ceil() as usize).saturating_sub(1)];
            let err = (got as f64 - exact as f64).abs() / exact as f64;
            assert!(err <= 0.001, "q{q}: {got} vs exact {exact}");
        }
        assert!(r.seconds.0.is_empty());
    }
}
