//! Key generation per worker: uniform, Zipf or hot-key draws from a seeded RNG, or one fresh
//! key per round; and formatting of key numbers into bound values.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution as _, Zipf};

use crate::plan::{Distribution, Mode, Workload};

/// Draws key numbers for one worker.
#[derive(Debug, Clone)]
pub struct KeyGen {
    rng: SmallRng,
    keys: u64,
    dist: Distribution,
    zipf: Option<Zipf<f64>>,
    mode: Mode,
}

impl KeyGen {
    /// A generator for `worker`, seeded from the workload seed and the worker number.
    pub fn new(w: &Workload, worker: usize) -> KeyGen {
        let seed = w.seed ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let zipf = match w.distribution {
            Distribution::Zipf { exponent } => Zipf::new(w.keys as f64, exponent).ok(),
            _ => None,
        };
        KeyGen {
            rng: SmallRng::seed_from_u64(seed),
            keys: w.keys,
            dist: w.distribution,
            zipf,
            mode: w.mode,
        }
    }

    /// The key number of operation `seq` (in rounds mode: the round number).
    #[inline]
    pub fn next(&mut self, seq: u64) -> u64 {
        if self.mode == Mode::Rounds {
            return seq;
        }
        match self.dist {
            Distribution::Uniform => self.rng.random_range(0..self.keys),
            Distribution::Zipf { .. } => match &self.zipf {
                Some(z) => (z.sample(&mut self.rng) as u64)
                    .saturating_sub(1)
                    .min(self.keys - 1),
                None => self.rng.random_range(0..self.keys),
            },
            Distribution::HotKey { share, hot_keys } => {
                if self.rng.random_bool(share) || hot_keys >= self.keys {
                    self.rng.random_range(0..hot_keys)
                } else {
                    self.rng.random_range(hot_keys..self.keys)
                }
            }
        }
    }

    /// A uniform number in `0..1`, for backoff jitter.
    pub fn jitter(&mut self) -> f64 {
        self.rng.random::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Isolation, Shape};

    fn workload(dist: Distribution) -> Workload {
        Workload {
            shape: Shape::Signup,
            workers: 2,
            operations: 100,
            duration: None,
            keys: 100,
            distribution: dist,
            mode: Mode::Random,
            seed: 7,
            isolation: Isolation::Default,
            lock_timeout_ms: 1000,
            statement_timeout_ms: None,
            repeat: 1,
        }
    }

    #[test]
    fn keys_stay_in_range_and_are_reproducible() {
        for d in [
            Distribution::Uniform,
            Distribution::Zipf { exponent: 1.2 },
            Distribution::HotKey {
                share: 0.9,
                hot_keys: 3,
            },
        ] {
            let w = workload(d);
            let a: Vec<u64> = {
                let mut g = KeyGen::new(&w, 0);
                (0..500).map(|i| g.next(i)).collect()
            };
            let b: Vec<u64> = {
                let mut g = KeyGen::new(&w, 0);
                (0..500).map(|i| g.next(i)).collect()
            };
            assert_eq!(a, b);
            assert!(a.iter().all(|&k| k < 100));
        }
        let w = workload(Distribution::HotKey {
            share: 0.9,
            hot_keys: 3,
        });
        let mut g = KeyGen::new(&w, 1);
        let hot = (0..1000).filter(|&i| g.next(i) < 3).count();
        assert!(hot > 800, "hot share not respected: {hot}");
    }
}
