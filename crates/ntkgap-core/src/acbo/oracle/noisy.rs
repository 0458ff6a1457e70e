//! `noisy:η` — the true answer with every answered variable flipped independently with
//! probability η (seeded). For a binary query this is the paper's "truth flipped with
//! probability η"; for a set-valued query each variable's membership is flipped on its own.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::oracle::Oracle;
use crate::acbo::query::{Answer, Query};
use crate::error::Result;

/// A noisy oracle that knows the true DAG's descendant sets.
#[derive(Debug, Clone)]
pub struct NoisyOracle {
    descendants: Vec<u64>,
    model: ErrorModel,
    rng: ChaCha8Rng,
    measured: BitCounts,
}

impl NoisyOracle {
    /// An oracle for the DAG with descendant sets `descendants`, flip rate η, seeded.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] unless 0 ≤ η < ½.
    pub fn new(descendants: Vec<u64>, error_rate: f64, seed: u64) -> Result<Self> {
        Ok(Self {
            descendants,
            model: ErrorModel::symmetric(error_rate)?,
            rng: ChaCha8Rng::seed_from_u64(seed),
            measured: BitCounts::default(),
        })
    }
}

impl Oracle for NoisyOracle {
    fn name(&self) -> String {
        format!("noisy:{}", self.model.false_positive_rate)
    }

    fn error_model(&self) -> ErrorModel {
        self.model
    }

    fn answer(&mut self, query: &Query) -> Result<Answer> {
        let truth = query.truth(&self.descendants);
        let eta = self.model.false_positive_rate;
        let mut changed = truth;
        let mut bits = query.targets;
        while bits != 0 {
            let b = bits & bits.wrapping_neg();
            bits &= bits - 1;
            if self.rng.random::<f64>() < eta {
                changed ^= b;
            }
        }
        self.measured.add(truth, changed, query.targets);
        Ok(Answer { changed })
    }

    fn measured_errors(&self) -> Option<BitCounts> {
        Some(self.measured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noiseless_is_the_truth_and_noise_rate_is_eta() {
        let desc = vec![0b110, 0b100, 0];
        let q = Query { intervene: 0, targets: 0b110 };
        let mut exact = NoisyOracle::new(desc.clone(), 0.0, 1).unwrap();
        assert_eq!(exact.answer(&q).unwrap().changed, 0b110);
        let mut noisy = NoisyOracle::new(desc.clone(), 0.1, 2).unwrap();
        for _ in 0..5000 {
            noisy.answer(&q).unwrap();
        }
        let m = noisy.measured_errors().unwrap();
        let rate = m.disagreements() as f64 / 10_000.0;
        assert!((rate - 0.1).abs() < 0.01, "{rate}");
        let mut again = NoisyOracle::new(desc, 0.1, 2).unwrap();
        for _ in 0..5000 {
            again.answer(&q).unwrap();
        }
        assert_eq!(again.measured_errors(), Some(m));
    }
}
