//! [`EvalSettings`]: what an A-CBO evaluation run ([`crate::acbo::evaluate`]) and the oracles it
//! builds ([`crate::acbo::oracle::build`]) are configured with.

use serde::Serialize;

use crate::acbo::candidates::CandidateSettings;
use crate::acbo::oracle::OracleSpec;
use crate::acbo::run::LoopConfig;

/// Settings of an evaluation run ([`crate::acbo::evaluate::run_evaluation`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalSettings {
    /// Which oracle answers.
    #[serde(serialize_with = "serialize_spec")]
    pub oracle: OracleSpec,
    /// Loop settings (its seed is replaced per item).
    pub loop_config: LoopConfig,
    /// Candidate gathering.
    pub candidates: CandidateSettings,
    /// Independent runs per record (fresh true DAG, oracle noise, SCM). Default 1.
    pub trials: usize,
    /// Master seed.
    pub seed: u64,
    /// Random systems per size for the experiment oracle's calibration. Default 50.
    pub calibration_systems: usize,
}

fn serialize_spec<S: serde::Serializer>(spec: &OracleSpec, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&spec.describe())
}
