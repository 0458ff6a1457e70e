//! Reading a frozen model's margin as a yes/no answer: the decision threshold and the ranking
//! quality (AUC) of margins, fitted on calibration answers only.
//!
//! A pretrained decoder asked "does Y change?" has an arbitrary bias: SmolLM2-135M-Instruct
//! answers "No" to nearly everything at the natural threshold 0. What A-CBO needs is an answer
//! whose error rates are known, not one that is right at 0, so the threshold τ ("changes" iff
//! margin > τ) is chosen on the calibration systems to maximise balanced accuracy
//! 1 − (α + β)/2 — never plain accuracy, which "always no" wins when most targets do not
//! change — and α̂, β̂ are then tallied at τ. The AUC (the probability that a random changing
//! target gets a larger margin than a random unchanged one, ties counted half) says whether any
//! threshold can help: at 0.5 the margin carries no information, below 0.5 it is inverted.

use serde::Serialize;

use crate::acbo::error_model::BitCounts;

/// A fitted threshold and what it achieves on the calibration answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdFit {
    /// τ: "changes" iff margin > τ.
    pub threshold: f64,
    /// AUC of the margins against the truth (0.5 = no information).
    pub auc: f64,
    /// Tallies at τ (true/false yes/no per answered target).
    pub at_threshold: BitCounts,
    /// Tallies at the natural threshold 0.
    pub at_zero: BitCounts,
}

/// The AUC of `margins` against `truths` (Mann–Whitney, ties counted half); `None` when one
/// class is absent.
pub fn auc(margins: &[f64], truths: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..margins.len()).collect();
    order.sort_by(|&a, &b| margins[a].total_cmp(&margins[b]));
    let positives = truths.iter().filter(|t| **t).count();
    let negatives = truths.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of the positives' mid-ranks.
    let (mut rank_sum, mut i) = (0.0f64, 0usize);
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && margins[order[j + 1]] == margins[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * order[i..=j].iter().filter(|&&k| truths[k]).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Tallies of answering "changes" iff margin > `threshold`.
pub fn tally(margins: &[f64], truths: &[bool], threshold: f64) -> BitCounts {
    let mut counts = BitCounts::default();
    for (&m, &t) in margins.iter().zip(truths) {
        counts.add(u64::from(t), u64::from(m > threshold), 1);
    }
    counts
}

fn balanced_accuracy(c: &BitCounts) -> f64 {
    let rate = |good: u64, total: u64| if total == 0 { 1.0 } else { good as f64 / total as f64 };
    (rate(c.true_yes, c.positives()) + rate(c.false_no, c.negatives())) / 2.0
}

/// Fit τ on calibration margins and truths: among the midpoints between consecutive distinct
/// margins (and below/above all of them), the one with the highest balanced accuracy (the
/// smallest |τ| among ties, so an uninformative margin keeps τ near 0).
pub fn fit_threshold(margins: &[f64], truths: &[bool]) -> ThresholdFit {
    let mut sorted: Vec<f64> = margins.iter().copied().filter(|m| m.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let mut candidates = vec![0.0];
    if let (Some(lo), Some(hi)) = (sorted.first(), sorted.last()) {
        candidates.extend([lo - 1.0, hi + 1.0]);
        candidates.extend(sorted.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    }
    let score = |t: f64| balanced_accuracy(&tally(margins, truths, t));
    let threshold = candidates
        .into_iter()
        .map(|t| (score(t), t))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.abs().total_cmp(&a.1.abs())))
        .map_or(0.0, |(_, t)| t);
    ThresholdFit {
        threshold,
        auc: auc(margins, truths).unwrap_or(0.5),
        at_threshold: tally(margins, truths, threshold),
        at_zero: tally(margins, truths, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand_with_ties() {
        let truths = [false, false, true, true];
        assert_eq!(auc(&[0.0, 1.0, 2.0, 3.0], &truths), Some(1.0));
        assert_eq!(auc(&[3.0, 2.0, 1.0, 0.0], &truths), Some(0.0));
        assert_eq!(auc(&[1.0, 1.0, 1.0, 1.0], &truths), Some(0.5));
        // positives 2 and 1 (tied with one negative at 1): pairs (2>0,2>1,1>0,1=1) = 3.5/4.
        assert_eq!(auc(&[0.0, 1.0, 2.0, 1.0], &truths), Some(0.875));
        assert_eq!(auc(&[1.0], &[true]), None);
    }

    #[test]
    fn an_all_no_bias_is_undone_by_the_threshold() {
        // Every margin negative ("No" at 0), but ranked perfectly.
        let margins = [-5.0, -4.5, -4.0, -2.0, -1.5];
        let truths = [false, false, false, true, true];
        let fit = fit_threshold(&margins, &truths);
        assert_eq!(fit.at_zero.true_yes + fit.at_zero.false_yes, 0, "all no at 0");
        assert!((-4.0..-2.0).contains(&fit.threshold), "{fit:?}");
        assert_eq!(fit.at_threshold.disagreements(), 0);
        assert_eq!(fit.auc, 1.0);
        // An uninformative margin keeps τ near 0.
        let flat = fit_threshold(&[1.0, 1.0, 1.0, 1.0], &[false, true, false, true]);
        assert!(flat.threshold.abs() <= 1.0 && (flat.auc - 0.5).abs() < 1e-12, "{flat:?}");
    }
}
