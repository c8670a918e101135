//! Spread over repetitions: median, min–max and a seeded bootstrap 95 % confidence
//! interval of the median (percentile method, 2,000 resamples).

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Resamples drawn for the bootstrap interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// One figure over repetitions (ops/s, or a latency in µs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Median of the repetitions.
    pub median: f64,
    /// Smallest repetition.
    pub min: f64,
    /// Largest repetition.
    pub max: f64,
    /// Lower end of the bootstrap 95 % confidence interval of the median.
    pub ci_low: f64,
    /// Upper end of the bootstrap 95 % confidence interval of the median.
    pub ci_high: f64,
}

impl Stat {
    /// The statistics of `values` (at least one); the bootstrap uses a fixed seed, so the
    /// same values always give the same interval.
    pub fn of(values: &[f64]) -> Stat {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (ci_low, ci_high) = bootstrap_median_ci(&sorted, 0x006b_6579_7261_6365);
        Stat {
            median: median(&sorted),
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            ci_low,
            ci_high,
        }
    }

    /// True when the two confidence intervals share a point.
    pub fn overlaps(&self, other: &Stat) -> bool {
        self.ci_low <= other.ci_high && other.ci_low <= self.ci_high
    }

    /// Half the interval's width relative to the median, in percent (0 for a zero median).
    pub fn half_width_pct(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.ci_high - self.ci_low) / 2.0 / self.median.abs() * 100.0
        }
    }
}

/// Spread of the measured figures of one strategy × database over its repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// How many repetitions.
    pub repetitions: u32,
    /// Throughput, ops/s.
    pub ops_per_sec: Stat,
    /// Median latency, µs.
    pub p50_us: Stat,
    /// 99th percentile latency, µs.
    pub p99_us: Stat,
}

/// The median of sorted values (mean of the middle two for an even count; 0 when empty).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Percentile bootstrap 95 % interval of the median of `sorted`, with a seeded generator.
pub fn bootstrap_median_ci(sorted: &[f64], seed: u64) -> (f64, f64) {
    let n = sorted.len();
    if n < 2 {
        let v = sorted.first().copied().unwrap_or(0.0);
        return (v, v);
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut medians = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut sample = vec![0.0; n];
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for s in sample.iter_mut() {
            *s = sorted[rng.random_range(0..n)];
        }
        sample.sort_by(f64::total_cmp);
        medians.push(median(&sample));
    }
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| {
        medians[((q * (medians.len() - 1) as f64).round() as usize).min(medians.len() - 1)]
    };
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let s = Stat::of(&[6872.0, 10783.0, 3253.0]);
        assert_eq!((s.median, s.min, s.max), (6872.0, 3253.0, 10783.0));
        assert!(s.ci_low >= s.min && s.ci_high <= s.max && s.ci_low <= s.median);
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), 2.5);
    }

    #[test]
    fn bootstrap_is_seeded_and_narrows_with_agreeing_values() {
        let wide = Stat::of(&[100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0]);
        assert_eq!(
            wide,
            Stat::of(&[700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0])
        );
        let narrow = Stat::of(&[400.0, 401.0, 399.0, 400.0, 402.0, 398.0, 400.0]);
        assert!(narrow.ci_high - narrow.ci_low < wide.ci_high - wide.ci_low);
        assert!(!narrow.overlaps(&Stat::of(&[900.0, 905.0, 910.0])));
        assert!(wide.overlaps(&narrow));
        let one = Stat::of(&[5.0]);
        assert_eq!((one.ci_low, one.ci_high), (5.0, 5.0));
    }
}
