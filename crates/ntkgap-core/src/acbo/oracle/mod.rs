//! Oracles answer interventional queries about the true system.
//!
//! [`Oracle`] is the one interface the loop talks to: an answer per query plus the error model
//! the likelihood should assume. Three oracles exist:
//!
//! - `noisy:η` ([`NoisyOracle`]) knows the true DAG and flips every answered variable
//!   independently with probability η (seeded) — the paper's convergence setting;
//! - `experiment:S` ([`ExperimentOracle`]) simulates a linear-Gaussian SCM on the true DAG and
//!   decides each target with a Welch t-test on S interventional samples per arm; its error
//!   rates are a consequence of S and are measured, not assumed (see [`calibrate()`]);
//! - `model:DIR` — a frozen text classifier reading a short local query text (the experiment's
//!   outcome for one target, [`crate::acbo::local_query`]). It needs burn, so it lives in
//!   `crate::model::oracle` and reaches the benchmark through [`OracleFactory`]; its error rates
//!   are calibrated the same way.
pub mod build;
pub mod calibrate;
pub mod experiment;
pub mod noisy;
pub mod threshold;

pub use calibrate::{calibrate, Calibration, CALIBRATED_RATE_MAX, CALIBRATED_RATE_MIN};
pub use experiment::{calibrate_experiment, EffectStatistic, ExperimentOracle, ExperimentSettings, Experimenter};
pub use noisy::NoisyOracle;

use std::path::PathBuf;

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

/// Builds oracles that live outside `acbo` — the model oracle, which needs burn — for the
/// benchmark runner (which must not import burn). Shared across the runner's threads.
pub trait OracleFactory: Sync {
    /// A short description, e.g. `model:runs/m/best`.
    fn name(&self) -> String;

    /// An oracle on the true DAG with parent bitsets `parents`; `model` is the error model its
    /// answers are scored with, `seed` fixes its experiments.
    ///
    /// # Errors
    /// [`Error::Graph`] on invalid parent sets; oracle-specific failures.
    fn build<'a>(&'a self, parents: &[u64], model: ErrorModel, seed: u64) -> Result<Box<dyn Oracle + 'a>>;

    /// Measure the built oracles' error rates on `systems` (see [`calibrate()`], whose result
    /// this must equal; a factory may override it with a faster, batched twin).
    ///
    /// # Errors
    /// As [`calibrate()`].
    fn calibrate(&self, systems: &[Vec<u64>], seed: u64) -> Result<Calibration> {
        let placeholder = ErrorModel::symmetric(0.0)?;
        calibrate(systems, seed, &|parents, s| self.build(parents, placeholder, s))
    }
}

/// A parsed `--oracle` value.
#[derive(Debug, Clone, PartialEq)]
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
    /// `model:DIR`, a trained ntkgap/Hugging Face classifier directory answering local query
    /// texts (built by the caller through an [`OracleFactory`]).
    Model {
        /// The model directory.
        dir: PathBuf,
    },
}

/// The accepted `--oracle` forms, for error messages.
pub const ACCEPTED_ORACLES: &str =
    "noisy:ETA (0 <= ETA < 0.5), experiment:S (S >= 2 samples) or model:PATH (a trained classifier directory, or a pretrained decoder: GGUF file or directory)";

impl OracleSpec {
    /// Parse `noisy:0.1`, `experiment:200` or `model:runs/m/best`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `--oracle`, listing the accepted forms.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::setting("oracle", format!("{text:?} {why}; accepted: {ACCEPTED_ORACLES}"));
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
            "model" if value.is_empty() => Err(bad("names no model directory")),
            "model" if value.starts_with("builtin:") => {
                Err(bad("needs a trained model directory, not an untrained built-in model"))
            }
            "model" => Ok(OracleSpec::Model { dir: PathBuf::from(value) }),
            _ => Err(bad("is not a known oracle")),
        }
    }

    /// The canonical spelling.
    pub fn describe(&self) -> String {
        match self {
            OracleSpec::Noisy { error_rate } => format!("noisy:{error_rate}"),
            OracleSpec::Experiment { samples } => format!("experiment:{samples}"),
            OracleSpec::Model { dir } => format!("model:{}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms_and_lists_them_otherwise() {
        assert_eq!(OracleSpec::parse("noisy:0.1").unwrap(), OracleSpec::Noisy { error_rate: 0.1 });
        assert_eq!(OracleSpec::parse("experiment:200").unwrap(), OracleSpec::Experiment { samples: 200 });
        let m = OracleSpec::parse("model:runs/m").unwrap();
        assert_eq!(m, OracleSpec::Model { dir: PathBuf::from("runs/m") });
        assert_eq!(m.describe(), "model:runs/m");
        for bad in ["model:", "model:builtin:tiny", "noisy:0.5", "noisy:x", "experiment:1", "noisy", "oracle:1"] {
            let e = OracleSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("`oracle`") && e.contains("experiment:S") && e.contains("model:PATH"), "{bad}: {e}");
        }
    }
}
