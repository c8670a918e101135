//! Per-second time series (operations finished per outcome class in each second of a run)
//! and the latency distribution (CDF) read from a histogram, as the report stores them.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::vocab::Outcome;

/// Longest series kept, s (one day); later operations count into the last second.
pub const MAX_SECONDS: usize = 86_400;

/// Counts for one second of a run, indexed by [`Outcome::index`], plus the operations that
/// saw a unique violation (handled or not). 32-bit counts keep a worker's series at 44 bytes
/// per second (a 1,000-worker, one-hour run: 158 MB at most).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    /// Final outcome of each operation that finished in this second.
    pub outcomes: [u32; Outcome::COUNT],
    /// Operations finished in this second that saw at least one unique violation.
    pub violations_seen: u32,
}

/// A worker's per-second counts: one [`Second`] per second since the run's start, grown once
/// per second of run time (never per operation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondCounts(pub Vec<Second>);

impl SecondCounts {
    /// Counts one operation that finished `second` seconds after the run's start.
    #[inline]
    pub fn count(&mut self, second: usize, outcome: Outcome, saw_violation: bool) {
        let s = second.min(MAX_SECONDS - 1);
        if s >= self.0.len() {
            self.0.resize(s + 1, Second::default());
        }
        let slot = &mut self.0[s];
        slot.outcomes[outcome.index()] = slot.outcomes[outcome.index()].saturating_add(1);
        slot.violations_seen = slot
            .violations_seen
            .saturating_add(u32::from(saw_violation));
    }

    /// Adds `other` second by second.
    pub fn merge(&mut self, other: &SecondCounts) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), Second::default());
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            for i in 0..Outcome::COUNT {
                mine.outcomes[i] = mine.outcomes[i].saturating_add(theirs.outcomes[i]);
            }
            mine.violations_seen = mine.violations_seen.saturating_add(theirs.violations_seen);
        }
    }

    /// The series as the report stores it; `duration_s` is the measured wall time, s.
    pub fn to_series(&self, duration_s: f64) -> PerSecond {
        let n = self
            .0
            .len()
            .max(duration_s.ceil() as usize)
            .min(MAX_SECONDS);
        let mut secs = self.0.clone();
        secs.resize(n, Second::default());
        let mut outcomes = BTreeMap::new();
        for o in Outcome::ALL {
            if secs.iter().any(|s| s.outcomes[o.index()] > 0) {
                outcomes.insert(
                    o.name().to_string(),
                    secs.iter()
                        .map(|s| u64::from(s.outcomes[o.index()]))
                        .collect(),
                );
            }
        }
        let last = duration_s - (n.saturating_sub(1)) as f64;
        PerSecond {
            ops: secs
                .iter()
                .map(|s| s.outcomes.iter().map(|&n| u64::from(n)).sum())
                .collect(),
            outcomes,
            violations_seen: secs.iter().map(|s| u64::from(s.violations_seen)).collect(),
            last_second_s: if n == 0 {
                0.0
            } else {
                (last.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
            },
        }
    }
}

/// Per-second counts of one strategy × database: entry `i` covers seconds `i..i+1` after the
/// run's start (the last entry covers `last_second_s`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerSecond {
    /// Operations finished in each second (the throughput, ops/s, of full seconds).
    pub ops: Vec<u64>,
    /// Final outcome class name → operations per second; classes that never occurred are
    /// left out.
    pub outcomes: BTreeMap<String, Vec<u64>>,
    /// Operations per second that saw a unique violation, handled or not.
    pub violations_seen: Vec<u64>,
    /// Length of the last (partial) second, s, in 0..=1.
    pub last_second_s: f64,
}

impl PerSecond {
    /// Throughput of second `i`, ops/s (the last, partial second scaled to a full one; `None`
    /// when it is too short, under 0.1 s, to say).
    pub fn rate(&self, i: usize) -> Option<f64> {
        let ops = *self.ops.get(i)? as f64;
        if i + 1 == self.ops.len() {
            (self.last_second_s >= 0.1).then(|| ops / self.last_second_s)
        } else {
            Some(ops)
        }
    }

    /// Unique violations (final, reaching the application) in second `i`.
    pub fn unique_violations(&self, i: usize) -> u64 {
        self.outcomes
            .get(Outcome::UniqueViolation.name())
            .and_then(|v| v.get(i))
            .copied()
            .unwrap_or(0)
    }
}

/// One point of a latency distribution: `fraction` of operations took at most `us` µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CdfPoint {
    /// Latency, µs.
    pub us: u64,
    /// Share of operations at or below `us`, 0..=1.
    pub fraction: f64,
}

/// Quantiles the CDF is read at: every 2 % up to 98 %, then the tail.
fn cdf_quantiles() -> impl Iterator<Item = f64> {
    (0..50)
        .map(|i| f64::from(i) / 50.0)
        .chain([0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0])
}

/// The latency distribution of `h` (µs) as at most 56 points, increasing in both `us` and
/// `fraction`; empty for an empty histogram.
pub fn cdf(h: &Histogram<u64>) -> Vec<CdfPoint> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<CdfPoint> = Vec::with_capacity(56);
    for q in cdf_quantiles() {
        let us = if q == 0.0 {
            h.min()
        } else {
            h.value_at_quantile(q)
        };
        let fraction = if q == 0.0 {
            h.count_between(0, us) as f64 / h.len() as f64
        } else {
            q
        };
        match out.last_mut() {
            Some(p) if p.us == us => p.fraction = p.fraction.max(fraction),
            _ => out.push(CdfPoint {
                us,
                fraction: (fraction * 1e4).round() / 1e4,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_become_a_series() {
        let mut a = SecondCounts::default();
        let mut b = SecondCounts::default();
        a.count(0, Outcome::Inserted, false);
        a.count(2, Outcome::UniqueViolation, true);
        b.count(1, Outcome::Existed, true);
        b.count(0, Outcome::Inserted, false);
        a.merge(&b);
        let s = a.to_series(2.5);
        assert_eq!(s.ops, vec![2, 1, 1]);
        assert_eq!(s.outcomes["inserted"], vec![2, 0, 0]);
        assert_eq!(s.outcomes["unique_violation"], vec![0, 0, 1]);
        assert!(!s.outcomes.contains_key("deadlock"));
        assert_eq!(s.violations_seen, vec![0, 1, 1]);
        assert_eq!(s.last_second_s, 0.5);
        assert_eq!(s.rate(2), Some(2.0));
        assert_eq!(s.unique_violations(2), 1);
    }

    #[test]
    fn series_covers_the_whole_duration() {
        let mut a = SecondCounts::default();
        a.count(0, Outcome::Inserted, false);
        let s = a.to_series(3.2);
        assert_eq!(s.ops, vec![1, 0, 0, 0]);
        assert!((s.last_second_s - 0.2).abs() < 1e-9);
        assert_eq!(s.rate(3), Some(0.0));
    }

    #[test]
    fn late_operations_count_into_the_last_second() {
        let mut a = SecondCounts::default();
        a.count(usize::MAX, Outcome::Inserted, false);
        assert_eq!(a.0.len(), MAX_SECONDS);
    }

    #[test]
    fn cdf_is_monotone_and_ends_at_one() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=1000 {
            h.record(v * 10).unwrap();
        }
        let c = cdf(&h);
        assert!(c.len() <= 56);
        assert_eq!(c.last().unwrap().fraction, 1.0);
        assert!(
            c.windows(2)
                .all(|w| w[0].us < w[1].us && w[0].fraction <= w[1].fraction)
        );
        let p50 = c.iter().find(|p| p.fraction == 0.5).unwrap();
        assert!((4990..=5010).contains(&p50.us), "{}", p50.us);
        assert!(cdf(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }
}
