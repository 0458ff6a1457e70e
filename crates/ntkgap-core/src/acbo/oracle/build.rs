//! From an [`OracleSpec`] to oracles and their likelihood models, for the benchmark runner.
//!
//! `noisy:η` and `experiment:S` are built here; `model:DIR` is built by the caller's
//! [`OracleFactory`] (it needs burn, which `acbo` must not import). The likelihood's error model
//! per size is η for `noisy:η` and a calibration (`oracle::calibrate`) on seeded random systems of
//! that size for the other two; the calibration systems are drawn from streams no benchmark item
//! uses (`seed::derive(seed, [n, 0xCA1])` for the DAGs, `[n, 0xCA2]` for the oracles).

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::oracle::{
    calibrate_experiment, ExperimentOracle, ExperimentSettings, NoisyOracle, Oracle, OracleFactory, OracleSpec,
};
use crate::acbo::query::descendant_sets;
use crate::acbo::settings::EvalSettings;
use crate::error::{Error, Result};
use crate::graph::{default_edge_probability, random_dag};
use crate::seed;

/// Most calibration systems per size (`--calibration-systems`).
pub const MAX_CALIBRATION_SYSTEMS: usize = 100_000;

fn missing_factory(spec: &OracleSpec) -> Error {
    Error::setting("oracle", format!("{} needs a loaded model (no oracle factory was given)", spec.describe()))
}

/// The oracle of `spec` on the true DAG with parent bitsets `parents`.
///
/// # Errors
/// [`Error::Graph`] on invalid parent sets; [`Error::InvalidArgument`] for `model:` without a
/// factory; whatever the factory fails with.
pub(crate) fn build_oracle<'a>(
    spec: &OracleSpec,
    parents: &[u64],
    model: ErrorModel,
    seed: u64,
    factory: Option<&'a dyn OracleFactory>,
) -> Result<Box<dyn Oracle + 'a>> {
    Ok(match spec {
        OracleSpec::Noisy { error_rate } => Box::new(NoisyOracle::new(descendant_sets(parents)?, *error_rate, seed)?),
        OracleSpec::Experiment { samples } => {
            Box::new(ExperimentOracle::new(parents, ExperimentSettings::new(*samples)?, model, seed)?)
        }
        OracleSpec::Model { .. } => factory.ok_or_else(|| missing_factory(spec))?.build(parents, model, seed)?,
    })
}

/// The seeded random systems (parent bitsets) a size is calibrated on.
///
/// # Errors
/// [`Error::InvalidArgument`] for zero or too many systems.
pub fn calibration_systems(settings: &EvalSettings, n: usize) -> Result<Vec<Vec<u64>>> {
    let count = settings.calibration_systems;
    if count == 0 || count > MAX_CALIBRATION_SYSTEMS {
        return Err(Error::setting("calibration_systems", format!("{count} is outside 1..={MAX_CALIBRATION_SYSTEMS}")));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed::derive(settings.seed, &[n as u64, 0xCA1]));
    (0..count).map(|_| random_dag(n, default_edge_probability(n), &mut rng).map(|d| d.parent_sets().to_vec())).collect()
}

/// The likelihood's error model per number of variables: η for `noisy:η`; for `experiment:S`
/// and `model:DIR` the calibrated (α̂, β̂) with the raw calibration tallies.
///
/// # Errors
/// Calibration failures (invalid settings, a model oracle without factory, inference errors).
pub fn likelihood_models(
    settings: &EvalSettings,
    sizes: &[usize],
    factory: Option<&dyn OracleFactory>,
) -> Result<BTreeMap<usize, (ErrorModel, Option<BitCounts>)>> {
    sizes
        .par_iter()
        .map(|&n| {
            let seed = seed::derive(settings.seed, &[n as u64, 0xCA2]);
            let cal = match &settings.oracle {
                OracleSpec::Noisy { error_rate } => return Ok((n, (ErrorModel::symmetric(*error_rate)?, None))),
                OracleSpec::Experiment { samples } => {
                    calibrate_experiment(&calibration_systems(settings, n)?, ExperimentSettings::new(*samples)?, seed)?
                }
                spec @ OracleSpec::Model { .. } => {
                    factory.ok_or_else(|| missing_factory(spec))?.calibrate(&calibration_systems(settings, n)?, seed)?
                }
            };
            Ok((n, (cal.model, Some(cal.measured))))
        })
        .collect()
}
