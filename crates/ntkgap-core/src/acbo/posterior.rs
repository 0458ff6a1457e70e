//! The posterior over candidate DAGs, kept in log space.
//!
//! log P(G | answers) = log prior(G) + Σ_answers log P(answer | G) − log Z, with the per-variable
//! likelihood of [`ErrorModel`]. Each candidate keeps its four answer tallies ([`BitCounts`]),
//! so the log posterior is recomputed exactly from counts (no drift from repeated additions) and
//! the truth-missing alarm can test the best candidate's disagreement count.
//!
//! Truth-missing alarm: after an update, take the candidates with the fewest disagreements and
//! compute P(D ≥ d) for D = Binomial(positives, β) + Binomial(negatives, α) — how surprising
//! their disagreement count d is if they were the truth. When even the least surprising one has
//! a tail below the alarm level (default 1e-3), the true DAG is probably not a candidate (or the
//! error model is wrong). With a noiseless model any disagreement gives a tail of 0.

use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::query::{Answer, Query};
use crate::acbo::stats::binomial_sum_upper_tail;
use crate::acbo::table::CandidateTable;

/// Posterior state over the candidates of one [`CandidateTable`].
#[derive(Debug, Clone)]
pub struct Posterior {
    model: ErrorModel,
    log_prior: Vec<f64>,
    counts: Vec<BitCounts>,
    log_posterior: Vec<f64>,
    contradicted: bool,
}

impl Posterior {
    /// The prior of `table` under the likelihood of `model`.
    pub fn new(table: &CandidateTable, model: ErrorModel) -> Self {
        let log_prior = table.log_prior().to_vec();
        let counts = vec![BitCounts::default(); log_prior.len()];
        let mut post = Self { model, log_posterior: log_prior.clone(), log_prior, counts, contradicted: false };
        post.renormalize();
        post
    }

    /// The error model of the likelihood.
    pub fn model(&self) -> ErrorModel {
        self.model
    }

    /// Condition on one answer. If every candidate now has likelihood 0 (noiseless model,
    /// contradictory answers), the previous posterior is kept and [`Posterior::is_contradicted`]
    /// turns true.
    pub fn update(&mut self, table: &CandidateTable, query: &Query, answer: &Answer) {
        for (c, counts) in self.counts.iter_mut().enumerate() {
            counts.add(query.truth(table.descendants(c)), answer.changed, query.targets);
        }
        self.renormalize();
    }

    fn renormalize(&mut self) {
        let raw: Vec<f64> =
            self.log_prior.iter().zip(&self.counts).map(|(p, c)| p + self.model.log_likelihood(c)).collect();
        let max = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            self.contradicted = true;
            return;
        }
        let log_z = max + raw.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        self.log_posterior = raw.iter().map(|v| v - log_z).collect();
    }

    /// True once every candidate contradicts the answers under a noiseless model.
    pub fn is_contradicted(&self) -> bool {
        self.contradicted
    }

    /// Normalized log posterior (natural log) per candidate.
    pub fn log_probabilities(&self) -> &[f64] {
        &self.log_posterior
    }

    /// Posterior probability per candidate.
    pub fn probabilities(&self) -> Vec<f64> {
        self.log_posterior.iter().map(|v| v.exp()).collect()
    }

    /// Posterior entropy in bits.
    pub fn entropy_bits(&self) -> f64 {
        self.log_posterior
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| -v.exp() * v / std::f64::consts::LN_2)
            .sum::<f64>()
            .max(0.0)
    }

    /// P(h) = Σ over candidates where `holds[c]` of their posterior probability.
    pub fn probability_of(&self, holds: &[bool]) -> f64 {
        let p: f64 = self.log_posterior.iter().zip(holds).filter(|(_, h)| **h).map(|(v, _)| v.exp()).sum();
        // + 0.0 turns the −0.0 of an empty sum into 0.0
        p.clamp(0.0, 1.0) + 0.0
    }

    /// The maximum-a-posteriori candidate and its probability (first on ties).
    pub fn map_candidate(&self) -> (usize, f64) {
        let mut best = (0, f64::NEG_INFINITY);
        for (c, &v) in self.log_posterior.iter().enumerate() {
            if v > best.1 {
                best = (c, v);
            }
        }
        (best.0, best.1.exp())
    }

    /// Answer tallies of candidate `c`.
    pub fn counts(&self, c: usize) -> BitCounts {
        self.counts[c]
    }

    /// The truth-missing test: the largest binomial tail P(D ≥ d) among the candidates with
    /// the fewest disagreements (1 when nothing disagrees).
    pub fn alarm_p_value(&self) -> f64 {
        let fewest = self.counts.iter().map(BitCounts::disagreements).min().unwrap_or(0);
        if fewest == 0 {
            return 1.0;
        }
        let mut seen: Vec<(u64, u64)> = Vec::new();
        let mut best: f64 = 0.0;
        for c in self.counts.iter().filter(|c| c.disagreements() == fewest) {
            let key = (c.positives(), c.negatives());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let tail = binomial_sum_upper_tail(
                fewest,
                key.0,
                self.model.false_negative_rate,
                key.1,
                self.model.false_positive_rate,
            );
            best = best.max(tail);
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_mec() -> CandidateTable {
        // 3 nodes, skeleton 0 - 1 - 2: 0→1→2, 0←1←2, 0←1→2
        CandidateTable::uniform(3, vec![vec![0b110, 0b100, 0], vec![0, 0b001, 0b011], vec![0, 0b101, 0]]).unwrap()
    }

    #[test]
    fn uniform_prior_and_noiseless_update() {
        let table = chain_mec();
        let mut post = Posterior::new(&table, ErrorModel::symmetric(0.0).unwrap());
        assert!((post.entropy_bits() - 3f64.log2()).abs() < 1e-12);
        let q = Query { intervene: 1, targets: 0b101 };
        post.update(&table, &q, &Answer { changed: 0b100 });
        assert!((post.probabilities()[0] - 1.0).abs() < 1e-12);
        assert!(post.entropy_bits().abs() < 1e-12);
        assert_eq!(post.alarm_p_value(), 1.0);
        assert!((post.probability_of(&[true, false, true]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn noisy_update_matches_bayes_rule() {
        let table = chain_mec();
        let mut post = Posterior::new(&table, ErrorModel::symmetric(0.2).unwrap());
        let q = Query { intervene: 0, targets: 0b110 };
        post.update(&table, &q, &Answer { changed: 0b010 });
        // truths: {1,2}, {}, {} → likelihoods .8·.2, .2·.8, .2·.8 → all equal
        for p in post.probabilities() {
            assert!((p - 1.0 / 3.0).abs() < 1e-12);
        }
        post.update(&table, &q, &Answer { changed: 0b110 });
        let l = [0.8f64 * 0.2 * 0.8 * 0.8, 0.2 * 0.8 * 0.2 * 0.2, 0.2 * 0.8 * 0.2 * 0.2];
        let z: f64 = l.iter().sum();
        for (p, li) in post.probabilities().iter().zip(l) {
            assert!((p - li / z).abs() < 1e-12);
        }
    }

    #[test]
    fn contradiction_keeps_last_posterior_and_alarms() {
        let table = chain_mec();
        let mut post = Posterior::new(&table, ErrorModel::symmetric(0.0).unwrap());
        // do(1) changes both 0 and 2: the fork 0←1→2 minus... none of the three says both? candidate 2 does.
        let q = Query { intervene: 1, targets: 0b101 };
        let table2 = table.without(2).unwrap();
        let mut post2 = Posterior::new(&table2, ErrorModel::symmetric(0.0).unwrap());
        post2.update(&table2, &q, &Answer { changed: 0b101 });
        assert!(post2.is_contradicted());
        assert!((post2.probabilities()[0] - 0.5).abs() < 1e-12);
        assert_eq!(post2.alarm_p_value(), 0.0);
        post.update(&table, &q, &Answer { changed: 0b101 });
        assert!(!post.is_contradicted());
    }
}
