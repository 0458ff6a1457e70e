//! Linear-Gaussian structural causal model on a DAG, for the `experiment:S` oracle.
//!
//! V_v = Σ_{p ∈ pa(v)} w_{p→v} V_p + N_v with N_v ~ N(0, 1) independent. Edge weights are drawn
//! once per system (seeded): |w| uniform in [0.5, 2], sign uniform. An intervention do(X = c)
//! replaces X's equation by the constant c. Under do(X = c) the mean of a descendant Y moves by
//! c · (total effect of X on Y) = c · Σ_paths Π w; non-descendants do not move. Random signs can
//! make path sums nearly cancel (an approximate faithfulness violation), which the experiment
//! oracle then misses — part of its measured error rate.

use rand::Rng;

use crate::acbo::query::topological_order;
use crate::acbo::stats::standard_normal;
use crate::error::Result;

/// Smallest absolute edge weight.
pub const WEIGHT_MIN: f64 = 0.5;
/// Largest absolute edge weight.
pub const WEIGHT_MAX: f64 = 2.0;

/// A linear-Gaussian SCM with unit noise variances.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearGaussianScm {
    order: Vec<usize>,
    /// `weights[v]` = (parent, w_{parent→v}) in increasing parent order.
    weights: Vec<Vec<(usize, f64)>>,
}

impl LinearGaussianScm {
    /// Random weights on the DAG given by parent bitsets.
    ///
    /// # Errors
    /// [`crate::Error::Graph`] if the parent sets are cyclic or out of range.
    pub fn random(parents: &[u64], rng: &mut impl Rng) -> Result<Self> {
        let order = topological_order(parents)?;
        let n = parents.len();
        let weights = parents
            .iter()
            .map(|&pa| {
                (0..n)
                    .filter(|&p| pa >> p & 1 == 1)
                    .map(|p| {
                        let magnitude = rng.random_range(WEIGHT_MIN..=WEIGHT_MAX);
                        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                        (p, sign * magnitude)
                    })
                    .collect()
            })
            .collect();
        Ok(Self { order, weights })
    }

    /// Number of variables.
    pub fn n(&self) -> usize {
        self.weights.len()
    }

    /// The weight of edge `from → to`, if present.
    pub fn weight(&self, from: usize, to: usize) -> Option<f64> {
        self.weights.get(to)?.iter().find(|(p, _)| *p == from).map(|(_, w)| *w)
    }

    /// `count` samples under do(`intervene` = `value`); result is `[variable][sample]`.
    pub fn sample_do(&self, intervene: usize, value: f64, count: usize, rng: &mut impl Rng) -> Vec<Vec<f64>> {
        self.sample(Some((intervene, value)), count, rng)
    }

    /// `count` observational samples (no intervention); result is `[variable][sample]`.
    pub fn sample_observational(&self, count: usize, rng: &mut impl Rng) -> Vec<Vec<f64>> {
        self.sample(None, count, rng)
    }

    fn sample(&self, intervention: Option<(usize, f64)>, count: usize, rng: &mut impl Rng) -> Vec<Vec<f64>> {
        let n = self.n();
        let mut data: Vec<Vec<f64>> = (0..n).map(|_| Vec::with_capacity(count)).collect();
        let mut row = vec![0.0; n];
        for _ in 0..count {
            for &v in &self.order {
                row[v] = if let Some((_, value)) = intervention.filter(|&(x, _)| x == v) {
                    value
                } else {
                    let mean: f64 = self.weights[v].iter().map(|&(p, w)| w * row[p]).sum();
                    mean + standard_normal(rng)
                };
            }
            for (column, &value) in data.iter_mut().zip(&row) {
                column.push(value);
            }
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acbo::stats::SampleSummary;
    use rand::SeedableRng;

    #[test]
    fn intervention_moves_descendants_by_the_total_effect() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // 0 → 1 → 2, 3 → 2
        let scm = LinearGaussianScm::random(&[0, 0b1, 0b1010, 0], &mut rng).unwrap();
        for (from, to) in [(0, 1), (1, 2), (3, 2)] {
            let w = scm.weight(from, to).unwrap().abs();
            assert!((WEIGHT_MIN..=WEIGHT_MAX).contains(&w));
        }
        assert_eq!(scm.weight(0, 2), None);
        let data = scm.sample_do(0, 1.0, 20_000, &mut rng);
        let effect = scm.weight(0, 1).unwrap() * scm.weight(1, 2).unwrap();
        let y = SampleSummary::of(&data[2]);
        assert!((y.mean - effect).abs() < 0.1, "{} vs {effect}", y.mean);
        assert!(SampleSummary::of(&data[3]).mean.abs() < 0.05);
        assert!(data[0].iter().all(|&v| v == 1.0));
    }

    #[test]
    fn observational_samples_follow_the_equations() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // 0 → 1: Var(V1) = w² + 1, Cov(V0, V1) = w.
        let scm = LinearGaussianScm::random(&[0, 0b1], &mut rng).unwrap();
        let w = scm.weight(0, 1).unwrap();
        let data = scm.sample_observational(40_000, &mut rng);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let cov =
            data[0].iter().zip(&data[1]).map(|(a, b)| a * b).sum::<f64>() / 40_000.0 - mean(&data[0]) * mean(&data[1]);
        assert!((cov - w).abs() < 0.05, "{cov} vs {w}");
        assert!((SampleSummary::of(&data[1]).variance - (w * w + 1.0)).abs() < 0.15);
    }
}
