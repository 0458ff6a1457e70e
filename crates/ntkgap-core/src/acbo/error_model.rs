//! The oracle error model used in the A-CBO likelihood: a false-positive rate α ("changes"
//! reported for a variable that does not change) and a false-negative rate β (a change missed).
//!
//! Every answered target variable is one Bernoulli observation: the likelihood of a candidate
//! DAG is Π (1−β)^[truth 1, answer 1] β^[truth 1, answer 0] α^[truth 0, answer 1]
//! (1−α)^[truth 0, answer 0] (docs/science.md "A-CBO"; the paper's symmetric η is α = β = η).
//! A set-valued answer is therefore modelled as each variable's membership flipped
//! independently. Rates may be exactly 0 (a noiseless oracle): a contradicting candidate then
//! gets weight 0, and [`crate::acbo::Posterior`] handles the case where every candidate does.

use serde::Serialize;

use crate::error::{Error, Result};

/// Oracle error rates (α, β) assumed by the likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorModel {
    /// α: probability of answering "changes" for a variable the intervention does not reach.
    pub false_positive_rate: f64,
    /// β: probability of answering "does not change" for a descendant of the intervened node.
    pub false_negative_rate: f64,
}

/// Per-candidate tallies of answered target variables, split by (candidate truth, answer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BitCounts {
    /// Truth "changes", answer "changes".
    pub true_yes: u64,
    /// Truth "changes", answer "unchanged" (a miss under this candidate).
    pub true_no: u64,
    /// Truth "unchanged", answer "changes" (a false alarm under this candidate).
    pub false_yes: u64,
    /// Truth "unchanged", answer "unchanged".
    pub false_no: u64,
}

impl BitCounts {
    /// Add one answer: `truth` = the candidate's changed set, `answer` = the oracle's, both
    /// restricted to `mask` (the query's target variables).
    pub fn add(&mut self, truth: u64, answer: u64, mask: u64) {
        let (t, a) = (truth & mask, answer & mask);
        self.true_yes += u64::from((t & a).count_ones());
        self.true_no += u64::from((t & !a).count_ones());
        self.false_yes += u64::from((!t & a & mask).count_ones());
        self.false_no += u64::from((!t & !a & mask).count_ones());
    }

    /// Add another tally to this one.
    pub fn merge(&mut self, other: &BitCounts) {
        self.true_yes += other.true_yes;
        self.true_no += other.true_no;
        self.false_yes += other.false_yes;
        self.false_no += other.false_no;
    }

    /// Answers that disagree with this candidate.
    pub fn disagreements(&self) -> u64 {
        self.true_no + self.false_yes
    }

    /// Answered target variables whose truth is "changes".
    pub fn positives(&self) -> u64 {
        self.true_yes + self.true_no
    }

    /// Answered target variables whose truth is "unchanged".
    pub fn negatives(&self) -> u64 {
        self.false_yes + self.false_no
    }
}

impl ErrorModel {
    /// α = β = η, the paper's symmetric oracle.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless 0 ≤ η < ½.
    pub fn symmetric(error_rate: f64) -> Result<Self> {
        Self::new(error_rate, error_rate)
    }

    /// Separate false-positive (α) and false-negative (β) rates.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless both lie in [0, ½).
    pub fn new(false_positive_rate: f64, false_negative_rate: f64) -> Result<Self> {
        for (name, r) in [("false-positive rate", false_positive_rate), ("false-negative rate", false_negative_rate)] {
            if !(0.0..0.5).contains(&r) {
                return Err(Error::invalid(name, format!("{r} is outside [0, 0.5)")));
            }
        }
        Ok(Self { false_positive_rate, false_negative_rate })
    }

    /// Probability that the oracle answers "changes" given the truth for one variable.
    pub fn probability_yes(&self, truth: bool) -> f64 {
        if truth {
            1.0 - self.false_negative_rate
        } else {
            self.false_positive_rate
        }
    }

    /// log P(answers | candidate) from the candidate's tallies (natural log; −∞ when a
    /// noiseless model meets a contradiction).
    pub fn log_likelihood(&self, counts: &BitCounts) -> f64 {
        let (alpha, beta) = (self.false_positive_rate, self.false_negative_rate);
        term(counts.true_yes, 1.0 - beta)
            + term(counts.true_no, beta)
            + term(counts.false_yes, alpha)
            + term(counts.false_no, 1.0 - alpha)
    }

    /// Entropy (bits) of one answered variable given its truth.
    pub fn answer_entropy_bits(&self, truth: bool) -> f64 {
        binary_entropy_bits(self.probability_yes(truth))
    }
}

/// count · ln(p), with 0 · ln 0 = 0.
fn term(count: u64, p: f64) -> f64 {
    if count == 0 {
        0.0
    } else {
        count as f64 * p.ln()
    }
}

/// H_b(p) in bits, with H_b(0) = H_b(1) = 0.
pub fn binary_entropy_bits(p: f64) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        0.0
    } else {
        -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_by_truth_and_answer() {
        let mut c = BitCounts::default();
        c.add(0b0110, 0b0011, 0b1111);
        assert_eq!(c, BitCounts { true_yes: 1, true_no: 1, false_yes: 1, false_no: 1 });
        assert_eq!(c.disagreements(), 2);
    }

    #[test]
    fn likelihood_matches_the_formula_and_handles_zero_rates() {
        let m = ErrorModel::symmetric(0.1).unwrap();
        let c = BitCounts { true_yes: 3, true_no: 1, false_yes: 0, false_no: 2 };
        let want = 5.0 * 0.9f64.ln() + 0.1f64.ln();
        assert!((m.log_likelihood(&c) - want).abs() < 1e-12);
        let exact = ErrorModel::symmetric(0.0).unwrap();
        assert_eq!(exact.log_likelihood(&BitCounts { true_yes: 2, ..Default::default() }), 0.0);
        assert_eq!(exact.log_likelihood(&c), f64::NEG_INFINITY);
        assert!(ErrorModel::symmetric(0.5).is_err());
        assert!(ErrorModel::new(0.1, -0.1).is_err());
    }

    #[test]
    fn binary_entropy_values() {
        assert!((binary_entropy_bits(0.5) - 1.0).abs() < 1e-12);
        assert_eq!(binary_entropy_bits(0.0), 0.0);
        assert!((binary_entropy_bits(0.1) - 0.468_995_593_6).abs() < 1e-9);
    }
}
