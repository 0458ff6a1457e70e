//! The A-CBO evaluation runner: one loop per (record, trial), judged against both the record's
//! label and the truth in the drawn system.
//!
//! Per record: the premise text is parsed and its CPDAG recovered ([`Premise::parse`] →
//! [`Premise::cpdag`]); the hypothesis (relation, X, Y) comes from the record's `relation` and
//! `pair` fields (names → indices through the premise's variable list), or, when absent, from
//! parsing the hypothesis text. Per trial: candidates are gathered ([`Candidates`]), a *true*
//! DAG is drawn uniformly (seeded) from the class — from the enumerated members when exhaustive,
//! else by an independent `sample_mec` draw, so it may be missing from the sampled candidates —
//! the oracle is built on that DAG, and the loop runs.
//!
//! Two references: (a) the benchmark label (entailment iff the relation holds in every member of
//! the class) and (b) whether the relation holds in the drawn true DAG. Interventions reveal the
//! true DAG, so A-CBO answers (b); for *neutral* items (the relation holds in some members) (a)
//! and (b) disagree whenever the relation happens to hold in the drawn DAG.
//!
//! Seeds: every random choice of a (record, trial) derives from `(seed, record line, trial)`, so
//! results do not depend on thread scheduling or on which other records are present.

use std::collections::BTreeMap;
use std::path::Path;

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::acbo::candidates::Candidates;
use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::oracle::build::build_oracle;
use crate::acbo::oracle::OracleFactory;
use crate::acbo::run::{run_loop, LoopConfig, Outcome, StopReason};
pub use crate::acbo::settings::EvalSettings;
use crate::corpus::names::{names_of_set, variable_index, variable_name};
use crate::corpus::{parse_hypothesis, Label, Premise, Record};
use crate::error::{Error, Result};
use crate::graph::{sample_mec, Dag, Pdag, Relation};

/// A validated benchmark record.
#[derive(Debug, Clone)]
pub struct EvalItem {
    /// 1-based line in the input file.
    pub line: usize,
    /// The record's id.
    pub id: Option<String>,
    /// Number of variables.
    pub n: usize,
    /// The hypothesis' relation.
    pub relation: Relation,
    /// X (index).
    pub x: usize,
    /// Y (index).
    pub y: usize,
    /// The record's label, if any.
    pub label: Option<Label>,
    /// The class recovered from the premise.
    pub cpdag: Pdag,
}

/// Validate records into items (premise parsed, class recovered, hypothesis resolved).
///
/// # Errors
/// [`Error::Jsonl`] naming `path` and the line of the first unusable record.
pub fn prepare_items(path: &Path, records: &[(usize, Record)]) -> Result<Vec<EvalItem>> {
    records
        .par_iter()
        .map(|(line, record)| {
            prepare_item(*line, record).map_err(|e| Error::Jsonl {
                path: path.to_path_buf(),
                line: *line,
                reason: e.to_string(),
            })
        })
        .collect()
}

fn prepare_item(line: usize, record: &Record) -> Result<EvalItem> {
    let text = record.premise.as_deref().ok_or_else(|| Error::invalid("record", "has no \"premise\""))?;
    let premise = Premise::parse(text)?;
    let n = premise.n;
    let (relation, x, y) = match (record.relation, &record.pair) {
        (Some(relation), Some([a, b])) => {
            let idx = |s: &str| {
                variable_index(s, n)
                    .ok_or_else(|| Error::invalid("pair", format!("{s:?} is not one of the premise's {n} variables")))
            };
            (relation, idx(a)?, idx(b)?)
        }
        _ => {
            let h = record.hypothesis.as_deref().ok_or_else(|| Error::invalid("record", "has no \"hypothesis\""))?;
            parse_hypothesis(h, n)?
        }
    };
    if x == y {
        return Err(Error::invalid("pair", "names the same variable twice"));
    }
    if let Some(declared) = record.n_vars.filter(|&d| d != n) {
        return Err(Error::invalid("n_vars", format!("{declared} disagrees with the premise's {n} variables")));
    }
    Ok(EvalItem { line, id: record.id.clone(), n, relation, x, y, label: record.label, cpdag: premise.cpdag()? })
}

/// Keep at most `max` items per number of variables (seeded choice, input order kept).
pub fn limit_per_size(items: Vec<EvalItem>, max: usize, seed: u64) -> Vec<EvalItem> {
    let mut by_size: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        by_size.entry(item.n).or_default().push(i);
    }
    let mut keep = vec![false; items.len()];
    for (n, idx) in by_size {
        if idx.len() <= max {
            idx.iter().for_each(|&i| keep[i] = true);
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(seed, &[n as u64, 0x11]));
            sample(&mut rng, idx.len(), max).into_iter().for_each(|k| keep[idx[k]] = true);
        }
    }
    items.into_iter().zip(keep).filter(|(_, k)| *k).map(|(i, _)| i).collect()
}

/// One traced round with variable names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceRow {
    /// Round number (0 = prior).
    pub round: usize,
    /// The intervened variable.
    #[serde(rename = "do")]
    pub intervene: Option<String>,
    /// The asked-about variables.
    pub targets: Option<Vec<String>>,
    /// The variables the oracle reported as changed.
    pub changed: Option<Vec<String>>,
    /// Audit query.
    pub audit: bool,
    /// EIG of the query when chosen (bits).
    pub eig_bits: Option<f64>,
    /// Posterior entropy (bits).
    pub posterior_entropy_bits: f64,
    /// P(h).
    pub hypothesis_probability: f64,
    /// Probability of the MAP candidate.
    pub map_probability: f64,
    /// Truth-missing test p-value.
    pub alarm_p_value: f64,
}

/// The result of one (record, trial).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemResult {
    /// Record id.
    pub id: Option<String>,
    /// Input line.
    pub line: usize,
    /// Number of variables.
    pub n_vars: usize,
    /// Trial index.
    pub trial: usize,
    /// Hypothesis relation.
    pub relation: Relation,
    /// X.
    pub x: String,
    /// Y.
    pub y: String,
    /// Benchmark label.
    pub label: Option<Label>,
    /// Whether the relation holds in the drawn true DAG.
    pub truth_holds: bool,
    /// A-CBO's answer: P(h) ≥ threshold.
    pub predicted_holds: bool,
    /// Final P(h).
    pub hypothesis_probability: f64,
    /// P(h) under the prior (before any query).
    pub prior_hypothesis_probability: f64,
    /// predicted == truth in the drawn DAG.
    pub correct_vs_truth: bool,
    /// predicted == (label is entailment), when labelled.
    pub correct_vs_label: Option<bool>,
    /// Non-audit queries.
    pub queries: usize,
    /// Audit queries.
    pub audit_queries: usize,
    /// Why the loop stopped.
    pub stop_reason: StopReason,
    /// First round with a truth-missing alarm.
    pub alarm_round: Option<usize>,
    /// Distinct candidates.
    pub candidates: usize,
    /// Candidates are the whole class.
    pub exhaustive: bool,
    /// Class size when known.
    pub class_size: Option<u64>,
    /// ⌈log₂ |candidates|⌉.
    pub ceil_log2_candidates: u32,
    /// The drawn true DAG's edges, `"Z->Y"`.
    pub true_dag: Vec<String>,
    /// Whether the true DAG is among the candidates.
    pub true_dag_in_candidates: bool,
    /// Whether the final MAP candidate is the true DAG.
    pub dag_identified: bool,
    /// Whether the prior left the hypothesis undecided (ε < P(h) < 1 − ε before any query).
    pub prior_undecided: bool,
    /// The oracle's measured errors on this item (per answered variable).
    pub oracle_errors: Option<BitCounts>,
    /// The error model the likelihood used.
    pub likelihood_model: ErrorModel,
    /// Every round.
    pub trace: Vec<TraceRow>,
    /// The same model's answer to the global question (premise + hypothesis) — "entailment"
    /// — set by the caller for the model oracle only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_predicted_entailment: Option<bool>,
}

/// Run one trial of one item with the given likelihood model; `factory` builds the oracle of
/// [`OracleSpec::Model`].
///
/// # Errors
/// Candidate or oracle failures; [`Error::InvalidArgument`] for a model oracle without factory.
pub(crate) fn run_item(
    item: &EvalItem,
    trial: usize,
    settings: &EvalSettings,
    model: ErrorModel,
    factory: Option<&dyn OracleFactory>,
) -> Result<ItemResult> {
    let base = crate::seed::derive(settings.seed, &[item.line as u64, trial as u64]);
    let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(base, &[1]));
    let cands = Candidates::from_cpdag(&item.cpdag, settings.candidates, &mut rng)?;
    let mut truth_rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(base, &[2]));
    let truth = draw_truth(&cands, &item.cpdag, &mut truth_rng)?;
    let mut oracle =
        build_oracle(&settings.oracle, truth.parent_sets(), model, crate::seed::derive(base, &[3]), factory)?;
    let hypothesis = cands.hypothesis(item.relation, item.x, item.y);
    let config = LoopConfig { seed: crate::seed::derive(base, &[4]), ..settings.loop_config };
    let outcome = run_loop(cands.table(), &hypothesis, oracle.as_mut(), &config)?;
    Ok(item_result(item, trial, &cands, &truth, oracle.measured_errors(), model, outcome, config.epsilon))
}

fn draw_truth(cands: &Candidates, cpdag: &Pdag, rng: &mut impl Rng) -> Result<Dag> {
    if cands.exhaustive() {
        return Ok(cands.dags()[rng.random_range(0..cands.len())].clone());
    }
    sample_mec(cpdag, 1, rng).pop().ok_or_else(|| Error::invalid("premise", "its class has no member DAG"))
}

#[allow(clippy::too_many_arguments)]
fn item_result(
    item: &EvalItem,
    trial: usize,
    cands: &Candidates,
    truth: &Dag,
    oracle_errors: Option<BitCounts>,
    model: ErrorModel,
    outcome: Outcome,
    settings_epsilon: f64,
) -> ItemResult {
    let n = item.n;
    let prior = outcome.trace[0].hypothesis_probability;
    let epsilon = settings_epsilon;
    let truth_holds = item.relation.holds(truth, item.x, item.y);
    let label_holds = item.label.map(|l| l == Label::Entailment);
    let true_dag =
        truth.edges().iter().map(|&(a, b)| format!("{}->{}", variable_name(a, n), variable_name(b, n))).collect();
    ItemResult {
        id: item.id.clone(),
        line: item.line,
        n_vars: n,
        trial,
        relation: item.relation,
        x: variable_name(item.x, n),
        y: variable_name(item.y, n),
        label: item.label,
        truth_holds,
        predicted_holds: outcome.holds,
        hypothesis_probability: outcome.hypothesis_probability,
        prior_hypothesis_probability: prior,
        correct_vs_truth: outcome.holds == truth_holds,
        correct_vs_label: label_holds.map(|l| l == outcome.holds),
        queries: outcome.queries,
        audit_queries: outcome.audit_queries,
        stop_reason: outcome.stop_reason,
        alarm_round: outcome.alarm_round,
        candidates: cands.len(),
        exhaustive: cands.exhaustive(),
        class_size: cands.class_size(),
        ceil_log2_candidates: cands.ceil_log2(),
        true_dag,
        true_dag_in_candidates: cands.dags().contains(truth),
        dag_identified: cands.dags()[outcome.map_candidate] == *truth,
        prior_undecided: prior > epsilon && prior < 1.0 - epsilon,
        oracle_errors,
        likelihood_model: model,
        trace: outcome.trace.iter().map(|r| trace_row(r, n)).collect(),
        direct_predicted_entailment: None,
    }
}

fn trace_row(r: &crate::acbo::run::Round, n: usize) -> TraceRow {
    TraceRow {
        round: r.round,
        intervene: r.query.map(|q| variable_name(q.intervene, n)),
        targets: r.query.map(|q| names_of_set(q.targets, n)),
        changed: r.answer.map(|a| names_of_set(a.changed, n)),
        audit: r.audit,
        eig_bits: r.eig_bits,
        posterior_entropy_bits: r.posterior_entropy_bits,
        hypothesis_probability: r.hypothesis_probability,
        map_probability: r.map_probability,
        alarm_p_value: r.alarm_p_value,
    }
}

/// Run every (item, trial), in parallel, results in input order; `tick` is called after each;
/// `factory` builds the oracle of [`OracleSpec::Model`].
///
/// # Errors
/// The first failing item, naming its line.
pub fn run_evaluation(
    items: &[EvalItem],
    settings: &EvalSettings,
    models: &BTreeMap<usize, (ErrorModel, Option<BitCounts>)>,
    factory: Option<&dyn OracleFactory>,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<ItemResult>> {
    let jobs: Vec<(usize, usize)> = (0..items.len()).flat_map(|i| (0..settings.trials).map(move |t| (i, t))).collect();
    jobs.par_iter()
        .map(|&(i, t)| {
            let item = &items[i];
            let model = models
                .get(&item.n)
                .map(|m| m.0)
                .ok_or_else(|| Error::invalid("likelihood", "no model for this size"))?;
            let out = run_item(item, t, settings, model, factory)
                .map_err(|e| Error::invalid(format!("line {}", item.line), e.to_string()));
            tick();
            out
        })
        .collect()
}
