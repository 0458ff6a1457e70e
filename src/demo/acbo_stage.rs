//! Stage 5 (`acbo/`): the direct-versus-A-CBO table by graph size.
//!
//! The items are a seeded sample of at most `items_per_size` test records per n
//! ([`limit_per_size`]). *A-CBO*: the loop of [`crate::acbo`] with three oracles — `noisy:η`
//! (error rate assumed, and measured), `experiment:S` (error rates calibrated on random systems
//! and measured per item, not assumed) and `model:sft`, the fine-tuned SFT model
//! (`train/sft/best`, trained on Corr2Cause plus local query texts) answering one local query text
//! per target of each experiment ([`ModelOracleFactory`], experiments with the data stage's
//! `local_samples`), its (α̂, β̂) calibrated per size and its error measured per item. *Direct*:
//! the same frozen weights asked each item's global question (premise + hypothesis, entailment iff
//! margin > 0, [`ModelOracleFactory::attach_direct_answers`]). A-CBO is judged against the label
//! and against the relation in the drawn true DAG (see docs/acbo.md "Which truth?"); the direct
//! answer too.
//!
//! Files per oracle (`noisy-<η>/`, `experiment-<S>/`, `model-sft/`): `items.jsonl` (one line per
//! item with the full trace, as `ntkgap acbo` writes), `summary.json`
//! ([`crate::acbo::summary::Summary`]; the model oracle's carries `direct_accuracy`), `trace.csv`
//! (one row per item × round, for notebook 3); and `direct_vs_acbo.csv`, `summary.json` for the
//! stage.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::acbo::evaluate::{limit_per_size, prepare_items, run_evaluation, EvalItem, EvalSettings, ItemResult};
use crate::acbo::oracle::build::likelihood_models;
use crate::acbo::oracle::{ExperimentSettings, OracleFactory};
use crate::acbo::summary::{summarize, GroupSummary};
use crate::acbo::{CandidateSettings, LoopConfig, OracleSpec};
use crate::corpus::{JsonlReader, JsonlWriter, Label, Record};
use crate::demo::config::AcboConfig;
use crate::demo::Reporter;
use crate::error::{Error, Result};
use crate::files::csv::{optional, CsvTable};
use crate::files::{write_atomic, write_json_atomic};
use crate::gpu::ComputeDevice;
use crate::model::oracle::ModelOracleFactory;
use crate::model::{load, LoadOptions, ModelSpec};

/// One oracle on one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OracleRow {
    /// `noisy:0.1`, `experiment:50`.
    pub oracle: String,
    /// Accuracy against the label (entailment vs not).
    pub accuracy_vs_label: f64,
    /// Accuracy against the relation in the drawn true DAG.
    pub accuracy_vs_truth: f64,
    /// Mean queries asked.
    pub mean_queries: f64,
    /// Mean ⌈log₂ |candidates|⌉.
    pub mean_log2_candidates: f64,
    /// Measured oracle error rate per answered variable.
    pub oracle_error_measured: Option<f64>,
    /// Truth-missing alarms.
    pub alarms: usize,
}

/// One size: the direct answer and every oracle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcboSizeRow {
    /// Number of variables (`None`: all items).
    pub n_vars: Option<usize>,
    /// Items.
    pub items: usize,
    /// Share of items labelled entailment.
    pub positive_rate: f64,
    /// The SFT model asked directly: accuracy against the label.
    pub direct_accuracy_vs_label: f64,
    /// The SFT model asked directly: accuracy against the relation in the drawn DAG.
    pub direct_accuracy_vs_truth: f64,
    /// One entry per oracle, in [`oracles`] order.
    pub oracles: Vec<OracleRow>,
}

/// `acbo/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcboStageSummary {
    /// η of the noisy oracle.
    pub noisy_error_rate: f64,
    /// S of the experiment oracle.
    pub experiment_samples: usize,
    /// S of the model oracle's experiments (the local query texts').
    pub local_samples: usize,
    /// Direct inputs whose premise was truncated.
    pub direct_truncated: usize,
    /// Overall first, then by n.
    pub rows: Vec<AcboSizeRow>,
}

/// The name of the model oracle (`model:sft`: the SFT model of stage 2).
pub const MODEL_ORACLE: &str = "sft";

/// The oracles of the stage, in table order: noisy, experiment, the SFT model.
pub fn oracles(cfg: &AcboConfig) -> Vec<OracleSpec> {
    oracles_named(cfg, MODEL_ORACLE)
}

/// The oracles in table order with the model oracle called `model:<model>`.
pub fn oracles_named(cfg: &AcboConfig, model: &str) -> Vec<OracleSpec> {
    vec![
        OracleSpec::Noisy { error_rate: cfg.noisy_error_rate },
        OracleSpec::Experiment { samples: cfg.experiment_samples },
        OracleSpec::Model { dir: model.into() },
    ]
}

/// The directory name of an oracle (`noisy-0.1`, `experiment-50`, `model-sft`).
pub fn oracle_dir(spec: &OracleSpec) -> String {
    spec.describe().replace(':', "-")
}

fn settings(cfg: &AcboConfig, oracle: OracleSpec, budget: Option<usize>) -> EvalSettings {
    let defaults = LoopConfig::default();
    EvalSettings {
        oracle,
        loop_config: LoopConfig { seed: cfg.seed, budget: budget.unwrap_or(defaults.budget), ..defaults },
        candidates: CandidateSettings::default(),
        trials: 1,
        seed: cfg.seed,
        calibration_systems: cfg.calibration_systems,
    }
}

fn join(names: &Option<Vec<String>>) -> String {
    names.as_ref().map_or(String::new(), |v| v.join(" "))
}

/// One CSV row per item × round.
fn trace_csv(results: &[ItemResult]) -> String {
    let mut table = CsvTable::new(&[
        "line",
        "id",
        "n_vars",
        "relation",
        "x",
        "y",
        "truth_holds",
        "round",
        "do",
        "targets",
        "changed",
        "eig_bits",
        "posterior_entropy_bits",
        "hypothesis_probability",
        "map_probability",
        "alarm_p_value",
    ]);
    for r in results {
        for t in &r.trace {
            let mut fields = vec![r.line.to_string(), r.id.clone().unwrap_or_default(), r.n_vars.to_string()];
            fields.extend([r.relation.as_str().to_string(), r.x.to_string(), r.y.to_string()]);
            fields.extend([r.truth_holds.to_string(), t.round.to_string(), t.intervene.clone().unwrap_or_default()]);
            fields.extend([join(&t.targets), join(&t.changed), optional(t.eig_bits)]);
            let probabilities = [t.posterior_entropy_bits, t.hypothesis_probability, t.map_probability];
            fields.extend(probabilities.iter().map(f64::to_string));
            fields.push(t.alarm_p_value.to_string());
            table.row(&fields);
        }
    }
    table.into_string()
}

fn oracle_row(oracle: &OracleSpec, g: &GroupSummary) -> OracleRow {
    OracleRow {
        oracle: oracle.describe(),
        accuracy_vs_label: g.accuracy_vs_label.unwrap_or(0.0),
        accuracy_vs_truth: g.accuracy,
        mean_queries: g.mean_queries,
        mean_log2_candidates: g.mean_log2_candidates,
        oracle_error_measured: g.oracle_error_measured,
        alarms: g.alarms,
    }
}

/// Direct answers (entailment or not, by line) on a group of items: (accuracy vs label,
/// accuracy vs truth, positive rate).
fn direct(results: &[&ItemResult], answers: &BTreeMap<usize, bool>) -> (f64, f64, f64) {
    let k = results.len().max(1) as f64;
    let said = |r: &ItemResult| answers.get(&r.line).copied().unwrap_or(false);
    let holds_label = |r: &ItemResult| r.label == Some(Label::Entailment);
    let vs_label = results.iter().filter(|r| said(r) == holds_label(r)).count() as f64 / k;
    let vs_truth = results.iter().filter(|r| said(r) == r.truth_holds).count() as f64 / k;
    (vs_label, vs_truth, results.iter().filter(|r| holds_label(r)).count() as f64 / k)
}

fn size_rows(runs: &[(OracleSpec, Vec<ItemResult>)], answers: &BTreeMap<usize, bool>) -> Vec<AcboSizeRow> {
    let first = &runs[0].1;
    let sizes: Vec<Option<usize>> = std::iter::once(None)
        .chain(first.iter().map(|r| Some(r.n_vars)).collect::<std::collections::BTreeSet<_>>())
        .collect();
    sizes
        .into_iter()
        .map(|n| {
            let pick = |rs: &[ItemResult]| -> Vec<ItemResult> {
                rs.iter().filter(|r| n.is_none_or(|n| r.n_vars == n)).cloned().collect()
            };
            let items = pick(first);
            let refs: Vec<&ItemResult> = items.iter().collect();
            let (dl, dt, pos) = direct(&refs, answers);
            let oracles = runs.iter().map(|(spec, rs)| {
                let group = pick(rs);
                oracle_row(spec, &crate::acbo::summary::summarize_group(&group.iter().collect::<Vec<_>>(), None))
            });
            AcboSizeRow {
                n_vars: n,
                items: items.len(),
                positive_rate: pos,
                direct_accuracy_vs_label: dl,
                direct_accuracy_vs_truth: dt,
                oracles: oracles.collect(),
            }
        })
        .collect()
}

fn table_csv(rows: &[AcboSizeRow]) -> String {
    let mut table = CsvTable::new(&[
        "n_vars",
        "items",
        "positive_rate",
        "direct_accuracy_vs_label",
        "direct_accuracy_vs_truth",
        "oracle",
        "acbo_accuracy_vs_label",
        "acbo_accuracy_vs_truth",
        "mean_queries",
        "mean_log2_candidates",
        "oracle_error_measured",
    ]);
    for r in rows {
        for o in &r.oracles {
            let n = r.n_vars.map_or("all".to_string(), |n| n.to_string());
            let mut fields = vec![n, r.items.to_string(), r.positive_rate.to_string()];
            fields.extend([r.direct_accuracy_vs_label.to_string(), r.direct_accuracy_vs_truth.to_string()]);
            fields.extend([o.oracle.to_string(), o.accuracy_vs_label.to_string(), o.accuracy_vs_truth.to_string()]);
            fields.extend([o.mean_queries.to_string(), o.mean_log2_candidates.to_string()]);
            fields.push(optional(o.oracle_error_measured));
            table.row(&fields);
        }
    }
    table.into_string()
}

/// One oracle's benchmark into `dir/<oracle>/`; returns the results and, for the model oracle,
/// how many direct inputs were truncated.
fn run_oracle(
    cfg: &AcboConfig,
    spec: &OracleSpec,
    bench: &Bench<'_>,
    dir: &Path,
    reporter: &dyn Reporter,
) -> Result<(Vec<ItemResult>, usize)> {
    let settings = settings(cfg, spec.clone(), bench.budget);
    let items = bench.items;
    let mut sizes: Vec<usize> = items.iter().map(|i| i.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let factory = matches!(spec, OracleSpec::Model { .. }).then_some(bench.factory as &dyn OracleFactory);
    let models = likelihood_models(&settings, &sizes, factory)?;
    let bar = reporter.bar(items.len() as u64, &format!("A-CBO {}", spec.describe()));
    let mut results = run_evaluation(items, &settings, &models, factory, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let truncated = match factory {
        Some(_) => bench.factory.attach_direct_answers(bench.test, items, bench.records, &mut results)?,
        None => 0,
    };
    let out = dir.join(oracle_dir(spec));
    std::fs::create_dir_all(&out).map_err(|e| Error::write(&out, e))?;
    let mut w = JsonlWriter::create(out.join("items.jsonl"))?;
    results.iter().try_for_each(|r| w.write(r))?;
    w.finish()?;
    let plain: BTreeMap<usize, _> = models.iter().map(|(&n, m)| (n, m.0)).collect();
    write_json_atomic(out.join("summary.json"), &summarize(&results, &plain))?;
    write_atomic(out.join("trace.csv"), trace_csv(&results).as_bytes())?;
    Ok((results, truncated))
}

/// What every oracle's benchmark shares: the items, their records and the frozen model.
struct Bench<'a> {
    items: &'a [EvalItem],
    test: &'a Path,
    records: &'a [(usize, Record)],
    factory: &'a ModelOracleFactory<'a>,
    budget: Option<usize>,
}

/// Where stage 5 reads from and how the model oracle runs.
pub struct AcboInputs<'a> {
    /// Stage 1 directory (`test.jsonl`).
    pub data: &'a Path,
    /// The SFT model asked directly and as the oracle (`train/sft/best`).
    pub model: &'a Path,
    /// Seed of the model load (unused for a complete checkpoint).
    pub seed: u64,
    /// Maximum encoded length (as in stages 2 and 3).
    pub max_length: usize,
    /// S of the model oracle's experiments (the local query texts were made with it).
    pub local_samples: usize,
    /// Where the model runs.
    pub device: ComputeDevice,
}

/// Examples per forward of the model oracle.
const ORACLE_BATCH: usize = 32;

/// Run stage 5 into `dir`.
///
/// # Errors
/// Unusable records (line named), model loading or inference failures, or write failures.
pub fn run(cfg: &AcboConfig, inp: &AcboInputs<'_>, dir: &Path, reporter: &dyn Reporter) -> Result<AcboStageSummary> {
    let device = inp.device.device(false);
    let mut loaded =
        load(&ModelSpec::Dir(inp.model.to_path_buf()), &LoadOptions { seed: inp.seed, head_file: None }, &device)?;
    loaded.tokenizer.set_max_length(inp.max_length)?;
    let name = OracleSpec::Model { dir: MODEL_ORACLE.into() }.describe();
    let factory =
        ModelOracleFactory::new(&loaded, device, ORACLE_BATCH, ExperimentSettings::new(inp.local_samples)?, name)?;
    let bench =
        FactoryBench { test: &inp.data.join("test.jsonl"), factory: &factory, name: MODEL_ORACLE, budget: None };
    run_with(cfg, &bench, inp.local_samples, dir, reporter)
}

/// A frozen model oracle already built, and where its items come from.
pub struct FactoryBench<'a> {
    /// The test records (`test.jsonl`); at most `items_per_size` per n are the items.
    pub test: &'a Path,
    /// The model asked directly and as the oracle.
    pub factory: &'a ModelOracleFactory<'a>,
    /// The model oracle's name in `model:<name>`.
    pub name: &'a str,
    /// Query budget per item (`None`: the loop's default).
    pub budget: Option<usize>,
}

/// Run the stage with an oracle factory built by the caller (the frozen-model demo's).
///
/// # Errors
/// As [`run`].
pub fn run_with(
    cfg: &AcboConfig,
    fb: &FactoryBench<'_>,
    local_samples: usize,
    dir: &Path,
    reporter: &dyn Reporter,
) -> Result<AcboStageSummary> {
    let test = fb.test.to_path_buf();
    let records = JsonlReader::open(&test)?.collect::<Result<Vec<_>>>()?;
    let items = limit_per_size(prepare_items(&test, &records)?, cfg.items_per_size, cfg.seed);
    let bench = Bench { items: &items, test: &test, records: &records, factory: fb.factory, budget: fb.budget };
    let (mut runs, mut direct_truncated) = (Vec::new(), 0);
    for spec in oracles_named(cfg, fb.name) {
        let (results, truncated) = run_oracle(cfg, &spec, &bench, dir, reporter)?;
        direct_truncated += truncated;
        runs.push((spec, results));
    }
    // The model oracle's runs carry the direct answers of the same weights.
    let answers: BTreeMap<usize, bool> =
        runs.iter().flat_map(|(_, rs)| rs).filter_map(|r| Some((r.line, r.direct_predicted_entailment?))).collect();
    let rows = size_rows(&runs, &answers);
    write_atomic(dir.join("direct_vs_acbo.csv"), table_csv(&rows).as_bytes())?;
    let summary = AcboStageSummary {
        noisy_error_rate: cfg.noisy_error_rate,
        experiment_samples: cfg.experiment_samples,
        local_samples,
        direct_truncated,
        rows,
    };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}
