//! Oracles answer interventional queries about the true system.
//!
//! [`Oracle`] is the one interface the loop talks to: an answer per query plus the error model
//! the likelihood should assume. Two oracles exist today:
//!
//! - `noisy:η` ([`NoisyOracle`]) knows the true DAG and flips every answered variable
//!   independently with probability η (seeded) — the paper's convergence setting;
//! - `experiment:S` ([`ExperimentOracle`]) simulates a linear-Gaussian SCM on the true DAG and
//!   decides each target with a Welch t-test on S interventional samples per arm; its error
//!   rates are a consequence of S and are measured, not assumed (see [`calibrate_experiment`]).
//!
//! Known gap: the `model:DIR` oracle (a frozen classifier answering a short local query text,
//! its reliability estimated on a calibration split) belongs to a later issue. It will implement
//! [`Oracle`] inside the `model` module (the only place burn may be imported) and add one
//! [`OracleSpec`] variant; the loop, the posterior and the benchmark need no change. Until then
//! [`OracleSpec::parse`] rejects `model:` and lists the accepted forms.

pub mod experiment;
pub mod noisy;

pub use experiment::{calibrate_experiment, ExperimentCalibration, ExperimentOracle, ExperimentSettings};
pub use noisy::NoisyOracle;

use crate::acbo::error_model::BitCounts;
use crate::acbo::error_model::ErrorModel;
use crate::acbo::query::{Answer, Query};
use crate::error::{Error, Result};

/// Something that answers "which of these variables change under do(X)?".
pub trait Oracle {
    /// A short description, e.g. `noisy:0.1`.
    fn name(&self) -> String;

    /// The error rates the likelihood assumes for this oracle's answers.
    fn error_model(&self) -> ErrorModel;

    /// Answer one query.
    ///
    /// # Errors
    /// Oracle-specific failures (a simulated oracle never fails on a valid query; a model
    /// oracle may fail on inference).
    fn answer(&mut self, query: &Query) -> Result<Answer>;

    /// Measured errors so far against the true DAG, per answered variable (`true_no` = misses,
    /// `false_yes` = false alarms), when the oracle knows the truth.
    fn measured_errors(&self) -> Option<BitCounts>;
}

/// A parsed `--oracle` value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OracleSpec {
    /// `noisy:η`, 0 ≤ η < ½.
    Noisy {
        /// η, the probability of flipping each answered variable.
        error_rate: f64,
    },
    /// `experiment:S`, S ≥ 2 samples per intervention arm.
    Experiment {
        /// S, interventional samples per arm.
        samples: usize,
    },
}

/// The accepted `--oracle` forms, for error messages.
pub const ACCEPTED_ORACLES: &str = "noisy:ETA (0 <= ETA < 0.5) or experiment:S (S >= 2 samples)";

impl OracleSpec {
    /// Parse `noisy:0.1` or `experiment:200`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `--oracle`, listing the accepted forms.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("--oracle", format!("{text:?} {why}; accepted: {ACCEPTED_ORACLES}"));
        let (kind, value) = text.split_once(':').ok_or_else(|| bad("has no KIND:VALUE form"))?;
        match kind {
            "noisy" => {
                let eta: f64 = value.parse().map_err(|_| bad("has a non-numeric error rate"))?;
                if !(0.0..0.5).contains(&eta) {
                    return Err(bad("has an error rate outside [0, 0.5)"));
                }
                Ok(OracleSpec::Noisy { error_rate: eta })
            }
            "experiment" => {
                let samples: usize = value.parse().map_err(|_| bad("has a non-integer sample size"))?;
                if samples < 2 {
                    return Err(bad("needs at least 2 samples per arm"));
                }
                Ok(OracleSpec::Experiment { samples })
            }
            _ => Err(bad("is not a known oracle")),
        }
    }

    /// The canonical spelling.
    pub fn describe(&self) -> String {
        match self {
            OracleSpec::Noisy { error_rate } => format!("noisy:{error_rate}"),
            OracleSpec::Experiment { samples } => format!("experiment:{samples}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms_and_lists_them_otherwise() {
        assert_eq!(
            OracleSpec::parse("noisy:0.1").unwrap(),
            OracleSpec::Noisy { error_rate: 0.1 }
        );
        assert_eq!(
            OracleSpec::parse("experiment:200").unwrap(),
            OracleSpec::Experiment { samples: 200 }
        );
        for bad in ["model:runs/m", "noisy:0.5", "noisy:x", "experiment:1", "noisy"] {
            let e = OracleSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--oracle") && e.contains("experiment:S"), "{bad}: {e}");
        }
    }
}
