//! Stage 5 (`acbo/`): the direct-versus-A-CBO table by graph size.
//!
//! The items are a seeded sample of at most `items_per_size` test records per n
//! ([`limit_per_size`]). *Direct*: the fine-tuned SFT model's own answer to the global question
//! on exactly those records (margin > 0, read from `eval/sft_margins.npy`). *A-CBO*: the loop of
//! [`crate::acbo`] with the `noisy:η` oracle (error rate assumed and measured) and the
//! `experiment:S` oracle (error rates calibrated on random systems and measured per item — not
//! assumed). A-CBO is judged against the label and against the relation in the drawn true DAG
//! (see docs/acbo.md "Which truth?"); the direct answer too.
//!
//! Files per oracle (`noisy-<η>/`, `experiment-<S>/`): `items.jsonl` (one line per item with the
//! full trace, as `ntkgap acbo` writes), `summary.json` ([`crate::acbo::summary::Summary`]),
//! `trace.csv` (one row per item × round, for notebook 3); and `direct_vs_acbo.csv`,
//! `summary.json` for the stage.
//!
//! SWITCH(acbo-model helper): once the `model:DIR` oracle lands, add it to [`oracles`] with
//! `train/sft/best` (the same frozen weights that are asked directly here) and take the direct
//! column from its summary's `direct_accuracy`; the rows below already have a slot per oracle.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::acbo::bench::{limit_per_size, prepare_items, run_bench, BenchSettings, ItemResult};
use crate::acbo::oracle::build::likelihood_models;
use crate::acbo::summary::{summarize, GroupSummary};
use crate::acbo::{CandidateSettings, LoopConfig, OracleSpec};
use crate::corpus::{JsonlReader, JsonlWriter, Label};
use crate::demo::config::AcboConfig;
use crate::demo::Reporter;
use crate::error::{Error, Result};
use crate::report::{npy, write_atomic, write_json_atomic};

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
    /// Overall first, then by n.
    pub rows: Vec<AcboSizeRow>,
}

/// The oracles of the stage, in table order.
pub fn oracles(cfg: &AcboConfig) -> Vec<OracleSpec> {
    vec![OracleSpec::Noisy { error_rate: cfg.noisy_error_rate }, OracleSpec::Experiment { samples: cfg.experiment_samples }]
}

/// The directory name of an oracle (`noisy-0.1`, `experiment-50`).
pub fn oracle_dir(spec: &OracleSpec) -> String {
    spec.describe().replace(':', "-")
}

fn settings(cfg: &AcboConfig, oracle: OracleSpec) -> BenchSettings {
    BenchSettings {
        oracle,
        loop_config: LoopConfig { seed: cfg.seed, ..LoopConfig::default() },
        candidates: CandidateSettings::default(),
        trials: 1,
        seed: cfg.seed,
        calibration_systems: cfg.calibration_systems,
    }
}

fn join(names: &Option<Vec<String>>) -> String {
    names.as_ref().map_or(String::new(), |v| v.join(" "))
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

/// One CSV row per item × round.
fn trace_csv(results: &[ItemResult]) -> String {
    let mut s = String::from("line,id,n_vars,relation,x,y,truth_holds,round,do,targets,changed,eig_bits,posterior_entropy_bits,hypothesis_probability,map_probability,alarm_p_value\n");
    for r in results {
        for t in &r.trace {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.line, r.id.as_deref().unwrap_or(""), r.n_vars, r.relation.as_str(), r.x, r.y, r.truth_holds, t.round,
                t.intervene.as_deref().unwrap_or(""), join(&t.targets), join(&t.changed), opt(t.eig_bits),
                t.posterior_entropy_bits, t.hypothesis_probability, t.map_probability, t.alarm_p_value
            );
        }
    }
    s
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

/// Direct answers on a group of items: (accuracy vs label, accuracy vs truth, positive rate).
fn direct(results: &[&ItemResult], margins: &[f64]) -> (f64, f64, f64) {
    let k = results.len().max(1) as f64;
    let said = |r: &ItemResult| margins.get(r.line - 1).is_some_and(|&m| m > 0.0);
    let holds_label = |r: &ItemResult| r.label == Some(Label::Entailment);
    let vs_label = results.iter().filter(|r| said(r) == holds_label(r)).count() as f64 / k;
    let vs_truth = results.iter().filter(|r| said(r) == r.truth_holds).count() as f64 / k;
    (vs_label, vs_truth, results.iter().filter(|r| holds_label(r)).count() as f64 / k)
}

fn size_rows(runs: &[(OracleSpec, Vec<ItemResult>)], margins: &[f64]) -> Vec<AcboSizeRow> {
    let first = &runs[0].1;
    let sizes: Vec<Option<usize>> = std::iter::once(None).chain(first.iter().map(|r| Some(r.n_vars)).collect::<std::collections::BTreeSet<_>>()).collect();
    sizes
        .into_iter()
        .map(|n| {
            let pick = |rs: &[ItemResult]| -> Vec<ItemResult> { rs.iter().filter(|r| n.is_none_or(|n| r.n_vars == n)).cloned().collect() };
            let items = pick(first);
            let refs: Vec<&ItemResult> = items.iter().collect();
            let (dl, dt, pos) = direct(&refs, margins);
            let oracles = runs.iter().map(|(spec, rs)| {
                let group = pick(rs);
                oracle_row(spec, &crate::acbo::summary::summarize_group(&group.iter().collect::<Vec<_>>(), None))
            });
            AcboSizeRow { n_vars: n, items: items.len(), positive_rate: pos, direct_accuracy_vs_label: dl, direct_accuracy_vs_truth: dt, oracles: oracles.collect() }
        })
        .collect()
}

fn table_csv(rows: &[AcboSizeRow]) -> String {
    let mut s = String::from("n_vars,items,positive_rate,direct_accuracy_vs_label,direct_accuracy_vs_truth,oracle,acbo_accuracy_vs_label,acbo_accuracy_vs_truth,mean_queries,mean_log2_candidates,oracle_error_measured\n");
    for r in rows {
        for o in &r.oracles {
            let n = r.n_vars.map_or("all".to_string(), |n| n.to_string());
            let _ = writeln!(
                s,
                "{n},{},{},{},{},{},{},{},{},{},{}",
                r.items, r.positive_rate, r.direct_accuracy_vs_label, r.direct_accuracy_vs_truth, o.oracle, o.accuracy_vs_label,
                o.accuracy_vs_truth, o.mean_queries, o.mean_log2_candidates, opt(o.oracle_error_measured)
            );
        }
    }
    s
}

fn run_oracle(cfg: &AcboConfig, spec: &OracleSpec, items: &[crate::acbo::bench::BenchItem], dir: &Path, reporter: &dyn Reporter) -> Result<Vec<ItemResult>> {
    let settings = settings(cfg, spec.clone());
    let mut sizes: Vec<usize> = items.iter().map(|i| i.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let models = likelihood_models(&settings, &sizes, None)?;
    let bar = reporter.bar(items.len() as u64, &format!("A-CBO {}", spec.describe()));
    let results = run_bench(items, &settings, &models, None, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let out = dir.join(oracle_dir(spec));
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let mut w = JsonlWriter::create(out.join("items.jsonl"))?;
    results.iter().try_for_each(|r| w.write(r))?;
    w.finish()?;
    let plain: BTreeMap<usize, _> = models.iter().map(|(&n, m)| (n, m.0)).collect();
    write_json_atomic(out.join("summary.json"), &summarize(&results, &plain))?;
    write_atomic(out.join("trace.csv"), trace_csv(&results).as_bytes())?;
    Ok(results)
}

/// Run stage 5 into `dir`, reading `data/test.jsonl` and `eval/sft_margins.npy`.
///
/// # Errors
/// Unusable records (line named), a margins file that does not match the test file, or write
/// failures.
pub fn run(cfg: &AcboConfig, data: &Path, eval: &Path, dir: &Path, reporter: &dyn Reporter) -> Result<AcboStageSummary> {
    let test = data.join("test.jsonl");
    let records = JsonlReader::open(&test)?.collect::<Result<Vec<_>>>()?;
    let margins = npy::read(&eval.join("sft_margins.npy"))?.data;
    if margins.len() != records.len() {
        return Err(Error::bad_input(eval.join("sft_margins.npy"), format!("{} margins for {} test records", margins.len(), records.len())));
    }
    let items = limit_per_size(prepare_items(&test, &records)?, cfg.items_per_size, cfg.seed);
    let mut runs = Vec::new();
    for spec in oracles(cfg) {
        let results = run_oracle(cfg, &spec, &items, dir, reporter)?;
        runs.push((spec, results));
    }
    let rows = size_rows(&runs, &margins);
    write_atomic(dir.join("direct_vs_acbo.csv"), table_csv(&rows).as_bytes())?;
    let summary = AcboStageSummary { noisy_error_rate: cfg.noisy_error_rate, experiment_samples: cfg.experiment_samples, rows };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}
