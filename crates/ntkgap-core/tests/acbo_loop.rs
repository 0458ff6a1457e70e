//! A-CBO loop properties on exhaustively enumerated small DAGs: concentration on the truth,
//! EIG never asks a settled question, the truth-missing alarm, seeded reproducibility.

use ntkgap_core::acbo::oracle::{ExperimentOracle, ExperimentSettings};
use ntkgap_core::acbo::{
    run_loop, CandidateSettings, Candidates, ErrorModel, LoopConfig, NoisyOracle, Posterior, QueryKind, Selection,
    StopReason,
};
use ntkgap_core::graph::{cpdag, for_each_dag, Dag, Relation};
use rand::SeedableRng;

fn all_dags(n: usize) -> Vec<Dag> {
    let mut out = Vec::new();
    for_each_dag(n, |d| out.push(d.clone())).unwrap();
    out
}

fn candidates_of(dag: &Dag) -> Candidates {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    Candidates::from_cpdag(&cpdag(dag), CandidateSettings::default(), &mut rng).unwrap()
}

fn descendants(dag: &Dag) -> Vec<u64> {
    (0..dag.n()).map(|v| dag.descendants(v)).collect()
}

#[test]
fn posterior_concentrates_on_the_true_dag_for_every_three_node_dag() {
    for kind in [QueryKind::Set, QueryKind::Binary] {
        for dag in all_dags(3) {
            let cands = candidates_of(&dag);
            let truth = cands.dags().iter().position(|d| *d == dag).expect("truth is a member of its class");
            // hypothesis "the system is exactly this DAG": deciding it means identifying the DAG
            let is_truth: Vec<bool> = (0..cands.len()).map(|c| c == truth).collect();
            let mut oracle = NoisyOracle::new(descendants(&dag), 0.0, 1).unwrap();
            let config = LoopConfig { query_kind: kind, epsilon: 1e-6, ..LoopConfig::default() };
            let out = run_loop(cands.table(), &is_truth, &mut oracle, &config).unwrap();
            assert_eq!(out.stop_reason, StopReason::Decided, "{dag:?} {kind:?}");
            assert!(out.holds);
            assert_eq!(out.map_candidate, truth, "{dag:?} {kind:?}");
            assert!((out.map_probability - 1.0).abs() < 1e-12, "{dag:?}: {}", out.map_probability);
            assert!(out.queries as u32 <= cands.ceil_log2().max(1) * 2, "{dag:?} needed {} queries", out.queries);
        }
    }
}

#[test]
fn eig_never_picks_a_query_whose_answer_is_already_certain() {
    let mut checked = 0;
    for n in [3, 4] {
        for (i, dag) in all_dags(n).into_iter().enumerate().filter(|(i, _)| i % 7 == 0) {
            let cands = candidates_of(&dag);
            for (kind, selection) in [
                (QueryKind::Set, Selection::Eig),
                (QueryKind::Binary, Selection::Eig),
                (QueryKind::Set, Selection::EigHypothesis),
                (QueryKind::Binary, Selection::EigHypothesis),
            ] {
                let relation = Relation::ALL[i % 6];
                let hyp = cands.hypothesis(relation, 0, n - 1);
                let mut oracle = NoisyOracle::new(descendants(&dag), 0.0, i as u64).unwrap();
                let config = LoopConfig { query_kind: kind, selection, ..LoopConfig::default() };
                let out = run_loop(cands.table(), &hyp, &mut oracle, &config).unwrap();
                assert_eq!(out.holds, relation.holds(&dag, 0, n - 1), "{dag:?} {selection:?}: wrong answer");
                // replay the posterior and check every asked query splits the live candidates
                let mut post = Posterior::new(cands.table(), ErrorModel::symmetric(0.0).unwrap());
                for round in out.trace.iter().skip(1) {
                    let q = round.query.unwrap();
                    let probs = post.probabilities();
                    let live: Vec<u64> = (0..cands.len())
                        .filter(|&c| probs[c] > 0.0)
                        .map(|c| q.truth(cands.table().descendants(c)))
                        .collect();
                    assert!(live.iter().any(|t| *t != live[0]), "{dag:?}: asked a settled query {q:?}");
                    assert!(round.eig_bits.unwrap() > 0.0);
                    post.update(cands.table(), &q, &round.answer.unwrap());
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 20, "too few rounds checked: {checked}");
}

#[test]
fn truth_missing_alarm_fires_when_the_true_dag_is_removed() {
    let mut cases = 0;
    for dag in all_dags(3) {
        let cands = candidates_of(&dag);
        if cands.len() < 2 {
            continue;
        }
        let truth = cands.dags().iter().position(|d| *d == dag).unwrap();
        let reduced = cands.table().without(truth).unwrap();
        let hyp = vec![false; reduced.len()];
        let config = LoopConfig { audit_queries: 3, ..LoopConfig::default() };
        // noiseless: full audit of every do(X) contradicts every other member of the class
        let mut oracle = NoisyOracle::new(descendants(&dag), 0.0, 3).unwrap();
        let out = run_loop(&reduced, &hyp, &mut oracle, &config).unwrap();
        assert!(out.alarm_round.is_some(), "no alarm for {dag:?}");
        // with the truth present the same audit raises no alarm
        let full_hyp = vec![false; cands.len()];
        let mut oracle = NoisyOracle::new(descendants(&dag), 0.0, 3).unwrap();
        let out = run_loop(cands.table(), &full_hyp, &mut oracle, &config).unwrap();
        assert_eq!(out.alarm_round, None, "false alarm for {dag:?}");
        cases += 1;
    }
    assert!(cases >= 6);
}

#[test]
fn truth_missing_alarm_fires_with_a_noisy_oracle() {
    // complete DAG on 4 nodes: its class is all 24 orders; remove the truth, η = 0.1
    let dag = Dag::from_edges(4, &[(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]).unwrap();
    let cands = candidates_of(&dag);
    let truth = cands.dags().iter().position(|d| *d == dag).unwrap();
    let reduced = cands.table().without(truth).unwrap();
    let hyp = vec![false; reduced.len()];
    let config = LoopConfig { audit_queries: 60, ..LoopConfig::default() };
    for seed in 0..5 {
        let mut oracle = NoisyOracle::new(descendants(&dag), 0.1, seed).unwrap();
        let out = run_loop(&reduced, &hyp, &mut oracle, &config).unwrap();
        assert!(out.alarm_round.is_some(), "seed {seed}: no alarm");
        let mut oracle = NoisyOracle::new(descendants(&dag), 0.1, seed).unwrap();
        let out = run_loop(cands.table(), &vec![false; cands.len()], &mut oracle, &config).unwrap();
        assert_eq!(out.alarm_round, None, "seed {seed}: false alarm");
    }
}

#[test]
fn seeded_runs_are_reproducible() {
    let dag = Dag::from_edges(5, &[(0, 1), (1, 2), (1, 3), (3, 4), (0, 4)]).unwrap();
    let cands = candidates_of(&dag);
    let hyp = cands.hypothesis(Relation::NonParentAncestor, 0, 2);
    for selection in [Selection::Eig, Selection::Random, Selection::RoundRobin] {
        let config = LoopConfig { selection, seed: 9, ..LoopConfig::default() };
        let run = |seed: u64| {
            let model = ErrorModel::new(0.01, 0.05).unwrap();
            let settings = ExperimentSettings::new(50).unwrap();
            let mut exp = ExperimentOracle::new(dag.parent_sets(), settings, model, seed).unwrap();
            let a = run_loop(cands.table(), &hyp, &mut exp, &config).unwrap();
            let mut noisy = NoisyOracle::new(descendants(&dag), 0.2, seed).unwrap();
            let b = run_loop(cands.table(), &hyp, &mut noisy, &config).unwrap();
            (a, b)
        };
        assert_eq!(run(4), run(4), "{selection:?}");
    }
}
