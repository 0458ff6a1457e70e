//! Measuring an oracle's error rates before a benchmark (the calibration split).
//!
//! The likelihood needs the oracle's false-positive rate α and false-negative rate β
//! ([`ErrorModel`]). For oracles whose reliability is a consequence rather than a setting —
//! `experiment:S` (sample size, faithfulness) and `model:DIR` (a frozen classifier) — they are
//! measured: the oracle is built on each of a set of seeded random systems of the benchmark's
//! size that no benchmark item uses, asked every set-valued query once, and its answers are
//! tallied against the true ancestor relation. α̂ and β̂ are clamped to
//! [[`CALIBRATED_RATE_MIN`], [`CALIBRATED_RATE_MAX`]] so that one lucky calibration never makes
//! the likelihood treat an answer as infallible.

use serde::Serialize;

use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::oracle::Oracle;
use crate::acbo::query::{all_queries, QueryKind};
use crate::error::{Error, Result};

/// Lower clamp of calibrated error rates.
pub const CALIBRATED_RATE_MIN: f64 = 0.001;
/// Upper clamp of calibrated error rates.
pub const CALIBRATED_RATE_MAX: f64 = 0.49;

/// Result of a calibration run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    /// Raw tallies over all calibration answers (against the true ancestor relation).
    pub measured: BitCounts,
    /// (α̂, β̂) clamped to [[`CALIBRATED_RATE_MIN`], [`CALIBRATED_RATE_MAX`]].
    pub model: ErrorModel,
}

impl Calibration {
    /// The clamped error model of raw tallies.
    ///
    /// # Errors
    /// None in practice (the clamped rates are always valid); kept for the checked constructor.
    pub fn from_counts(measured: BitCounts) -> Result<Self> {
        let rate = |err: u64, total: u64| {
            let r = if total == 0 { 0.0 } else { err as f64 / total as f64 };
            r.clamp(CALIBRATED_RATE_MIN, CALIBRATED_RATE_MAX)
        };
        let model = ErrorModel::new(
            rate(measured.false_yes, measured.negatives()),
            rate(measured.true_no, measured.positives()),
        )?;
        Ok(Self { measured, model })
    }
}

/// Builds the oracle of one calibration system from its parent bitsets and a seed.
pub type BuildOracle<'a, 'b> = &'b dyn Fn(&[u64], u64) -> Result<Box<dyn Oracle + 'a>>;

/// Measure an oracle's error rates: for each system (parent bitsets) `build(parents, seed +
/// index)` makes an oracle on it, every set-valued query is asked once, and the oracle's own
/// tallies ([`Oracle::measured_errors`]) are summed.
///
/// # Errors
/// [`Error::InvalidArgument`] if `systems` is empty or an oracle does not know its truth;
/// whatever `build` or an answer fails with.
pub fn calibrate<'a>(systems: &[Vec<u64>], seed: u64, build: BuildOracle<'a, '_>) -> Result<Calibration> {
    if systems.is_empty() {
        return Err(Error::invalid("calibration", "needs at least one system"));
    }
    let mut measured = BitCounts::default();
    for (i, parents) in systems.iter().enumerate() {
        let mut oracle = build(parents, crate::seed::nth(seed, i as u64))?;
        for q in all_queries(parents.len(), QueryKind::Set) {
            oracle.answer(&q)?;
        }
        let m = oracle.measured_errors().ok_or_else(|| {
            Error::invalid("calibration", format!("oracle {} does not tally its errors", oracle.name()))
        })?;
        measured.merge(&m);
    }
    Calibration::from_counts(measured)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acbo::oracle::NoisyOracle;
    use crate::acbo::query::descendant_sets;

    #[test]
    fn noisy_oracle_calibrates_to_its_flip_rate_and_clamps() {
        let systems: Vec<Vec<u64>> =
            (0..40).map(|k| if k % 2 == 0 { vec![0, 0b1, 0b10, 0] } else { vec![0b10, 0, 0b11, 0b100] }).collect();
        let build = |eta: f64| {
            move |p: &[u64], seed: u64| -> Result<Box<dyn Oracle>> {
                Ok(Box::new(NoisyOracle::new(descendant_sets(p)?, eta, seed)?))
            }
        };
        let cal = calibrate(&systems, 3, &build(0.2)).unwrap();
        let total = cal.measured.positives() + cal.measured.negatives();
        assert_eq!(total, 40 * 4 * 3);
        assert!((cal.model.false_positive_rate - 0.2).abs() < 0.06, "{cal:?}");
        assert!((cal.model.false_negative_rate - 0.2).abs() < 0.08, "{cal:?}");
        let exact = calibrate(&systems, 3, &build(0.0)).unwrap();
        assert_eq!(exact.model.false_positive_rate, CALIBRATED_RATE_MIN);
        assert_eq!(exact.model.false_negative_rate, CALIBRATED_RATE_MIN);
        assert!(calibrate(&[], 3, &build(0.1)).is_err());
    }
}
