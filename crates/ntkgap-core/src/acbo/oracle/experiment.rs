//! `experiment:S` — answers by simulated experiment on a linear-Gaussian SCM over the true DAG.
//!
//! Per query do(X): S samples under do(X = +c) and S under do(X = −c) (c =
//! [`ExperimentSettings::intervention_value`], default 2), then for every target Y a Welch
//! two-sample t-test on Y between the arms at level α (default 0.01); "changes" iff p < α.
//! A set-valued query reuses the same 2S samples for all targets. The SCM's weights are drawn
//! once per oracle (seeded), so repeated queries see the same system with fresh noise.
//!
//! Error rates are not assumed: each oracle tallies its answers against the true ancestor
//! relation, and [`calibrate_experiment`] measures the false-positive rate α̂ and the
//! false-negative rate β̂ on seeded random systems of the same size before a benchmark; the
//! likelihood then uses (α̂, β̂), each clamped to [0.001, 0.49] (see `oracle::calibrate`).
//! [`Experimenter`] (the SCM and its noise) is shared with the model oracle, which writes the
//! experiment's t statistic into a local query text instead of deciding by p.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::oracle::calibrate::{calibrate, Calibration};
use crate::acbo::oracle::Oracle;
use crate::acbo::query::{descendant_sets, Answer, Query};
use crate::acbo::scm::LinearGaussianScm;
use crate::acbo::stats::{student_t_two_sided_p, welch_t, SampleSummary};
use crate::error::{Error, Result};

/// How experiments are run and decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExperimentSettings {
    /// S, samples per intervention arm (≥ 2).
    pub samples: usize,
    /// c: the arms are do(X = +c) and do(X = −c). Default 2.
    pub intervention_value: f64,
    /// α of the Welch test. Default 0.01.
    pub significance: f64,
}

impl ExperimentSettings {
    /// Defaults (c = 2, α = 0.01) with S samples per arm.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if S < 2.
    pub fn new(samples: usize) -> Result<Self> {
        if samples < 2 {
            return Err(Error::invalid("experiment samples", format!("{samples} < 2")));
        }
        Ok(Self { samples, intervention_value: 2.0, significance: 0.01 })
    }
}

/// One target's outcome of a simulated experiment do(X = ±c).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectStatistic {
    /// The target variable Y (0-based index).
    pub target: usize,
    /// Welch's t of Y between the arms do(X = +c) and do(X = −c) (the standardized shift).
    pub t: f64,
    /// Its two-sided p-value.
    pub p: f64,
}

/// A simulated laboratory on one true system: a linear-Gaussian SCM (seeded weights) that runs
/// interventional experiments with fresh noise. Shared by the `experiment:S` oracle (which
/// decides by p < α) and the model oracle (which writes t into its local query text).
#[derive(Debug, Clone)]
pub struct Experimenter {
    scm: LinearGaussianScm,
    descendants: Vec<u64>,
    settings: ExperimentSettings,
    rng: ChaCha8Rng,
}

impl Experimenter {
    /// A laboratory on the DAG with parent bitsets `parents`; `seed` fixes weights and noise.
    ///
    /// # Errors
    /// [`Error::Graph`] on cyclic or out-of-range parent sets.
    pub fn new(parents: &[u64], settings: ExperimentSettings, seed: u64) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let scm = LinearGaussianScm::random(parents, &mut rng)?;
        let descendants = descendant_sets(parents)?;
        Ok(Self { scm, descendants, settings, rng })
    }

    /// The true system's strict descendant sets (`descendants[v]` = bitset).
    pub fn descendants(&self) -> &[u64] {
        &self.descendants
    }

    /// The settings experiments run with.
    pub fn settings(&self) -> ExperimentSettings {
        self.settings
    }

    /// Run do(X = +c) and do(X = −c), S samples each, and test every target of `query`;
    /// one statistic per target, in increasing target order.
    pub fn run(&mut self, query: &Query) -> Vec<EffectStatistic> {
        let (s, c) = (self.settings.samples, self.settings.intervention_value);
        let plus = self.scm.sample_do(query.intervene, c, s, &mut self.rng);
        let minus = self.scm.sample_do(query.intervene, -c, s, &mut self.rng);
        (0..self.scm.n())
            .filter(|&y| query.targets >> y & 1 == 1)
            .map(|y| {
                let (a, b) = (SampleSummary::of(&plus[y]), SampleSummary::of(&minus[y]));
                let (t, df) = welch_t(a, b);
                EffectStatistic { target: y, t, p: student_t_two_sided_p(t, df) }
            })
            .collect()
    }
}

/// An oracle that runs simulated interventional experiments on the true system.
#[derive(Debug, Clone)]
pub struct ExperimentOracle {
    lab: Experimenter,
    model: ErrorModel,
    measured: BitCounts,
}

impl ExperimentOracle {
    /// An oracle for the DAG with parent bitsets `parents`; `model` is the error model the
    /// likelihood should use (from [`calibrate_experiment`]); `seed` fixes weights and noise.
    ///
    /// # Errors
    /// [`Error::Graph`] on cyclic or out-of-range parent sets.
    pub fn new(parents: &[u64], settings: ExperimentSettings, model: ErrorModel, seed: u64) -> Result<Self> {
        Ok(Self { lab: Experimenter::new(parents, settings, seed)?, model, measured: BitCounts::default() })
    }

    fn run_experiment(&mut self, query: &Query) -> u64 {
        let alpha = self.lab.settings.significance;
        self.lab.run(query).iter().filter(|e| e.p < alpha).fold(0u64, |acc, e| acc | 1u64 << e.target)
    }
}

impl Oracle for ExperimentOracle {
    fn name(&self) -> String {
        format!("experiment:{}", self.lab.settings.samples)
    }

    fn error_model(&self) -> ErrorModel {
        self.model
    }

    fn answer(&mut self, query: &Query) -> Result<Answer> {
        let changed = self.run_experiment(query);
        self.measured.add(query.truth(&self.lab.descendants), changed, query.targets);
        Ok(Answer { changed })
    }

    fn measured_errors(&self) -> Option<BitCounts> {
        Some(self.measured)
    }
}

/// Measure the experiment oracle's error rates by asking every set-valued query once on each
/// of the given systems (parent bitsets; callers draw seeded random DAGs of the benchmark's
/// size). Oracle seeds are `seed + index`. See [`calibrate`].
///
/// # Errors
/// [`Error::InvalidArgument`] if `systems` is empty; [`Error::Graph`] on an invalid system.
pub fn calibrate_experiment(systems: &[Vec<u64>], settings: ExperimentSettings, seed: u64) -> Result<Calibration> {
    let placeholder = ErrorModel::symmetric(0.0)?;
    calibrate(systems, seed, &|parents, s| Ok(Box::new(ExperimentOracle::new(parents, settings, placeholder, s)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acbo::oracle::calibrate::{CALIBRATED_RATE_MAX, CALIBRATED_RATE_MIN};

    #[test]
    fn large_samples_recover_the_ancestor_relation() {
        // 0 → 1 → 2, 3 isolated
        let parents = vec![0, 0b1, 0b10, 0];
        let settings = ExperimentSettings::new(500).unwrap();
        let mut oracle = ExperimentOracle::new(&parents, settings, ErrorModel::symmetric(0.01).unwrap(), 5).unwrap();
        let a = oracle.answer(&Query { intervene: 0, targets: 0b1110 }).unwrap();
        assert_eq!(a.changed, 0b0110);
        let a = oracle.answer(&Query { intervene: 2, targets: 0b1011 }).unwrap();
        assert_eq!(a.changed, 0);
    }

    #[test]
    fn calibration_rates_shrink_with_sample_size() {
        let systems: Vec<Vec<u64>> =
            vec![vec![0, 0b1, 0b11, 0b100], vec![0, 0b1, 0b10, 0b1000 >> 1], vec![0b10, 0, 0b11, 0]];
        let small = calibrate_experiment(&systems, ExperimentSettings::new(4).unwrap(), 1).unwrap();
        let large = calibrate_experiment(&systems, ExperimentSettings::new(400).unwrap(), 1).unwrap();
        assert!(large.model.false_negative_rate <= small.model.false_negative_rate);
        assert!(large.model.false_negative_rate < 0.05, "{large:?}");
        assert!((CALIBRATED_RATE_MIN..=CALIBRATED_RATE_MAX).contains(&large.model.false_positive_rate));
        let again = calibrate_experiment(&systems, ExperimentSettings::new(400).unwrap(), 1).unwrap();
        assert_eq!(large, again);
    }
}
