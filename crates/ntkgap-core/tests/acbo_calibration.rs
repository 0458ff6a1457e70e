//! The oracle is calibrated on calibration systems only: every (system, seed) a factory is asked
//! to calibrate on is disjoint from every (system, seed) the evaluation builds an oracle on —
//! an oracle's SCM (weights, noise) is a function of both, so no evaluation system is ever seen
//! by calibration (its threshold, its α̂/β̂ or a decoder's demonstrations).

use std::collections::BTreeSet;
use std::sync::Mutex;

use ntkgap_core::acbo::evaluate::{prepare_items, run_evaluation, EvalSettings};
use ntkgap_core::acbo::oracle::build::{calibration_systems, likelihood_models};
use ntkgap_core::acbo::oracle::{calibrate, Calibration, NoisyOracle, Oracle, OracleFactory, OracleSpec};
use ntkgap_core::acbo::query::descendant_sets;
use ntkgap_core::acbo::{CandidateSettings, ErrorModel, Goal, LoopConfig, QueryKind, Selection};
use ntkgap_core::corpus::{ci_policy_for, premise_from_dag, Record};
use ntkgap_core::error::Result;
use ntkgap_core::graph::{default_edge_probability, random_dag};
use rand::SeedableRng;

/// A noisy oracle that records every system it is built on, split by calibration/evaluation.
#[derive(Default)]
struct Recording {
    calibration: Mutex<Vec<(Vec<u64>, u64)>>,
    evaluation: Mutex<Vec<(Vec<u64>, u64)>>,
}

fn noisy<'a>(parents: &[u64], seed: u64) -> Result<Box<dyn Oracle + 'a>> {
    Ok(Box::new(NoisyOracle::new(descendant_sets(parents)?, 0.1, seed)?))
}

impl OracleFactory for Recording {
    fn name(&self) -> String {
        "recording".into()
    }

    fn build<'a>(&'a self, parents: &[u64], _model: ErrorModel, seed: u64) -> Result<Box<dyn Oracle + 'a>> {
        self.evaluation.lock().unwrap().push((parents.to_vec(), seed));
        noisy(parents, seed)
    }

    fn calibrate(&self, systems: &[Vec<u64>], seed: u64) -> Result<Calibration> {
        let mut seen = self.calibration.lock().unwrap();
        for (i, s) in systems.iter().enumerate() {
            seen.push((s.clone(), ntkgap_core::seed::nth(seed, i as u64)));
            seen.push((s.clone(), seed)); // a decoder's demonstrations derive from `seed` too
        }
        drop(seen);
        calibrate(systems, seed, &|p, s| noisy(p, s))
    }
}

fn records() -> Vec<(usize, Record)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut out = Vec::new();
    for n in [3, 4] {
        for _ in 0..6 {
            let dag = random_dag(n, default_edge_probability(n), &mut rng).unwrap();
            let premise = premise_from_dag(&dag, ci_policy_for(n)).text();
            let json = serde_json::json!({"premise": premise, "hypothesis": "Z directly causes Y.", "n_vars": n});
            out.push((out.len() + 1, serde_json::from_value(json).unwrap()));
        }
    }
    out
}

#[test]
fn evaluation_systems_are_never_seen_by_calibration() {
    let loop_config = LoopConfig {
        selection: Selection::Eig,
        query_kind: QueryKind::Set,
        goal: Goal::Hypothesis,
        budget: 10,
        epsilon: 0.01,
        decision_threshold: 0.5,
        alarm_level: 1e-3,
        audit_queries: 0,
        seed: 0,
    };
    let settings = EvalSettings {
        oracle: OracleSpec::Model { dir: "recording".into() },
        loop_config,
        candidates: CandidateSettings { cap: 20_000, samples: 100 },
        trials: 3,
        seed: 9,
        calibration_systems: 40,
    };
    let items = prepare_items(std::path::Path::new("mem.jsonl"), &records()).unwrap();
    let factory = Recording::default();
    let models = likelihood_models(&settings, &[3, 4], Some(&factory)).unwrap();
    assert_eq!(models.len(), 2);
    let results = run_evaluation(&items, &settings, &models, Some(&factory), &|| {}).unwrap();
    assert_eq!(results.len(), items.len() * 3);
    let calibration: BTreeSet<_> = factory.calibration.lock().unwrap().iter().cloned().collect();
    let evaluation: BTreeSet<_> = factory.evaluation.lock().unwrap().iter().cloned().collect();
    assert_eq!(evaluation.len(), items.len() * 3, "one oracle per item and trial");
    assert!(calibration.len() >= 2 * 40, "{}", calibration.len());
    let shared: Vec<_> = calibration.intersection(&evaluation).collect();
    assert!(shared.is_empty(), "evaluation systems seen by calibration: {shared:?}");
    // No evaluation oracle seed is a calibration seed, whatever the DAG.
    let cal_seeds: BTreeSet<u64> = calibration.iter().map(|c| c.1).collect();
    assert!(evaluation.iter().all(|e| !cal_seeds.contains(&e.1)));
    // The calibration systems are the library's own draw, the same for a rerun.
    assert_eq!(calibration_systems(&settings, 3).unwrap(), calibration_systems(&settings, 3).unwrap());
}
