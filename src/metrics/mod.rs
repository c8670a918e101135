//! Recorders (hdrhistogram latencies in µs, outcome counters, acknowledged writes per key,
//! per-second counts), merged once at the end of a run. Workers count outcomes in their own
//! recorders and batch latencies and per-second counts into a few shared [`Shards`] (one
//! short lock per [`BATCH`] operations), so memory does not grow with the workers.

mod series;
mod shards;

pub use series::{CdfPoint, MAX_SECONDS, PerSecond, Second, SecondCounts, cdf};
pub use shards::{BATCH, Batch, MAX_SHARDS, Shards};

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::vocab::Outcome;

/// Highest latency recorded, µs (60 s); slower operations are clamped to it.
pub const MAX_LATENCY_US: u64 = 60_000_000;

fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, sigfig)
        .expect("static histogram bounds are valid")
}

/// What [`Recorder::latency`] shows before anything was recorded.
static EMPTY: std::sync::LazyLock<Histogram<u64>> = std::sync::LazyLock::new(|| histogram(3));

/// Everything one worker (or one [`Shards`] shard) measured; merged with [`Recorder::merge`].
/// Histograms are created on first use: a recorder that only counts costs no histogram.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Operation latency, µs, 3 significant figures (≈ 136 KiB once created); see
    /// [`Recorder::latency`].
    latency: Option<Histogram<u64>>,
    /// Latency per final outcome class, µs, 2 significant figures, created on first use.
    pub by_outcome: [Option<Histogram<u64>>; Outcome::COUNT],
    /// Final outcome of each operation, indexed by [`Outcome::index`].
    pub outcomes: [u64; Outcome::COUNT],
    /// Errors handled inside operations (retried, or caught and followed by a select).
    pub handled: [u64; Outcome::COUNT],
    /// Retries (attempts beyond the first).
    pub retries: u64,
    /// Codes of errors classified `other`, with counts.
    pub other_codes: BTreeMap<String, u64>,
    /// Per error code (SQLSTATE / error number / client tag) that ended an operation: how
    /// many, and the first message and step (see [`Recorder::error`]).
    pub errors: BTreeMap<String, ErrorSample>,
    /// When the first unique violation was seen (handled or not).
    pub first_violation: Option<Instant>,
    /// Acknowledged writes per key number: inserts (signup) or increments (counting shapes).
    pub acked: HashMap<u64, u64>,
    /// Operations per outcome class in each second since the run's start.
    pub seconds: SecondCounts,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            latency: None,
            by_outcome: Default::default(),
            outcomes: [0; Outcome::COUNT],
            handled: [0; Outcome::COUNT],
            retries: 0,
            other_codes: BTreeMap::new(),
            errors: BTreeMap::new(),
            first_violation: None,
            acked: HashMap::new(),
            seconds: SecondCounts::default(),
        }
    }
}

impl Recorder {
    /// Records one finished operation: [`Recorder::count`] and [`Recorder::record_latency`].
    #[inline]
    pub fn record(&mut self, outcome: Outcome, latency_us: u64) {
        self.count(outcome);
        self.record_latency(outcome, latency_us);
    }

    /// Counts one finished operation under its outcome (no latency).
    #[inline]
    pub fn count(&mut self, outcome: Outcome) {
        self.outcomes[outcome.index()] += 1;
    }

    /// Records the latency (µs, clamped to 1..=[`MAX_LATENCY_US`]) of one operation in the
    /// overall and the per-outcome histogram (no count).
    #[inline]
    pub fn record_latency(&mut self, outcome: Outcome, latency_us: u64) {
        let v = latency_us.clamp(1, MAX_LATENCY_US);
        self.latency
            .get_or_insert_with(|| histogram(3))
            .saturating_record(v);
        self.by_outcome[outcome.index()]
            .get_or_insert_with(|| histogram(2))
            .saturating_record(v);
    }

    /// Operation latency, µs, 3 significant figures (empty when nothing was recorded).
    pub fn latency(&self) -> &Histogram<u64> {
        self.latency.as_ref().unwrap_or(&EMPTY)
    }

    /// Counts an error that ended an operation under its code; the first one of each code
    /// keeps its message and the step that raised it (`step` is only called then, so the
    /// hot path allocates nothing for repeated codes).
    pub fn error(
        &mut self,
        class: Outcome,
        code: &str,
        message: &str,
        step: impl FnOnce() -> String,
    ) {
        if let Some(e) = self.errors.get_mut(code) {
            e.count += 1;
            return;
        }
        self.errors.insert(
            code.to_string(),
            ErrorSample {
                class,
                count: 1,
                message: message.to_string(),
                step: step(),
            },
        );
    }

    /// Notes a unique violation seen at `at` (keeps the earliest).
    #[inline]
    pub fn saw_violation(&mut self, at: Instant) {
        if self.first_violation.is_none_or(|f| at < f) {
            self.first_violation = Some(at);
        }
    }

    /// Total operations recorded.
    pub fn ops(&self) -> u64 {
        self.outcomes.iter().sum()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Recorder) {
        if let Some(h) = other.latency {
            match &mut self.latency {
                Some(m) => m.add(&h).expect("same histogram bounds"),
                None => self.latency = Some(h),
            }
        }
        for (mine, theirs) in self.by_outcome.iter_mut().zip(other.by_outcome) {
            if let Some(h) = theirs {
                match mine {
                    Some(m) => m.add(&h).expect("same histogram bounds"),
                    None => *mine = Some(h),
                }
            }
        }
        for i in 0..Outcome::COUNT {
            self.outcomes[i] += other.outcomes[i];
            self.handled[i] += other.handled[i];
        }
        self.retries += other.retries;
        for (k, v) in other.other_codes {
            *self.other_codes.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            match self.errors.get_mut(&k) {
                Some(mine) => mine.count += v.count,
                None => {
                    self.errors.insert(k, v);
                }
            }
        }
        self.seconds.merge(&other.seconds);
        if let Some(f) = other.first_violation {
            self.saw_violation(f);
        }
        if self.acked.len() < other.acked.len() {
            let mine = std::mem::replace(&mut self.acked, other.acked);
            for (k, v) in mine {
                *self.acked.entry(k).or_default() += v;
            }
        } else {
            for (k, v) in other.acked {
                *self.acked.entry(k).or_default() += v;
            }
        }
    }
}

/// The errors of one code that ended operations: count, and the first one's message and step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorSample {
    /// The outcome class of the code.
    pub class: Outcome,
    /// Operations that ended in it.
    pub count: u64,
    /// The server's (or client's) message of the first one.
    pub message: String,
    /// The step that raised the first one (`insert`, `COMMIT` ...).
    pub step: String,
}

/// Latency quantiles, µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median, µs.
    pub p50: u64,
    /// 90th percentile, µs.
    pub p90: u64,
    /// 99th percentile, µs.
    pub p99: u64,
    /// 99.9th percentile, µs.
    pub p999: u64,
    /// Maximum, µs.
    pub max: u64,
    /// Mean, µs.
    pub mean: f64,
}

impl Latency {
    /// Quantiles of a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_histograms() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        a.record(Outcome::Inserted, 100);
        b.record(Outcome::UniqueViolation, 1000);
        b.record(Outcome::UniqueViolation, 0);
        a.acked.insert(7, 1);
        b.acked.insert(7, 2);
        a.merge(b);
        assert_eq!(a.ops(), 3);
        assert_eq!(a.outcomes[Outcome::UniqueViolation.index()], 2);
        assert_eq!(a.acked[&7], 3);
        assert_eq!(a.latency().len(), 3);
        let max = Latency::of(
            a.by_outcome[Outcome::UniqueViolation.index()]
                .as_ref()
                .unwrap(),
        )
        .max;
        // 2 significant figures: within 1 % of the recorded maximum.
        assert!((1000..=1010).contains(&max), "{max}");
    }
}
