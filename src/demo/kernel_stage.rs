//! Stage 4 (`kernel/`): Theorem 1 on the near-miss pairs, published versus corrected bound
//! (DESIGN.md "Theorem 1"; Roy & Parbhoo, arXiv 2605.27567), through the model-driven check of
//! [`crate::gap`] (the library behind `ntkgap bound --model`), for two predictors:
//!
//! * **the fine-tuned network** (every objective; [`PredictorModel::Network`]): the gap of
//!   f_T − f₀ on K₀ (the eNTK at θ₀ = `train/<objective>/theta0`), B = ‖θ_T − θ₀‖, and next to
//!   it the linearized gap ⟨∇f₀(x₊) − ∇f₀(x₋), θ_T − θ₀⟩ (for which the corrected bound is exact),
//!   the kernel drift ‖K_T − K₀‖_F/‖K₀‖_F and the linearization error. A corrected-bound
//!   violation of the *actual* gap means the network left the lazy regime for that pair.
//! * **kernel ridge on the fine-tuned SFT model's eNTK** ([`PredictorModel::Kernel`]): α fitted
//!   on a seeded sample of `ridge_train_records` Corr2Cause training records (±1 labels, λ the
//!   default relative ridge of `ntkgap bound`), s(x) = Σ αᵢ K_T(xᵢ, x), B = √(αᵀKα). This is the
//!   kernel predictor of the theorem exactly (a fixed feature map, a weight vector of norm B),
//!   so Cauchy–Schwarz makes a corrected-bound violation impossible; the published bound can
//!   still fail when a ≠ b.
//!
//! Every Gram uses `KernelChoice::CpuF64` (f64 products: near-miss δ sits below f32 rounding).
//! Files: `pairs.csv` (one row per run × pair), per run `<run>/pairs.csv` and
//! `<run>/summary.json` (`ntkgap bound --model`'s files), `K_theta0.npy` (K₀ of the SFT network
//! run) and `K_sft.npy` (the fine-tuned SFT eNTK over the pair inputs), `inputs.txt` (the id of
//! each row of K; the CSVs' `i`, `j` index it), `summary.json`.
//!
//! Known gaps: the lazy-regime diagnostics are computed on the pair inputs (test records the
//! model never trained on); the kernel predictors' training sample is small (dense O(m³)).

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bound::kernel::KernelFitConfig;
use crate::bound::table::{csv, GroupSummary};
use crate::demo::config::{Backend, KernelConfig, TrainPlan};
use crate::demo::train_stage::TrainStageSummary;
use crate::demo::Reporter;
use crate::error::{Error, Result};
use crate::gap::{analyse, Analysis, AnalysisConfig, PairInputs, PredictorModel, Progress, TrainSet};
use crate::model::{load, LoadOptions, LoadedModel, ModelSpec};
use crate::ntk::{GramOptions, KernelChoice};
use crate::report::{npy, write_atomic, write_json_atomic};
use crate::tokenize::summary::read_pairs;

/// A value that may be NaN (written as `null`).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The kernel-ridge fit of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeFit {
    /// The absolute λ.
    pub lambda: f64,
    /// r in λ = r · mean(diag K_train).
    pub relative_ridge: f64,
    /// Training inputs.
    pub train_inputs: usize,
    /// Of those, labelled entailment.
    pub train_positives: usize,
    /// Training accuracy of sign s(x).
    pub train_accuracy: f64,
}

/// The lazy-regime diagnostics of a network run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LazyRow {
    /// ‖K_T − K₀‖_F / ‖K₀‖_F over the pair inputs.
    pub kernel_drift: f64,
    /// ‖θ_T − θ₀‖.
    pub parameter_change: f64,
    /// ‖θ_T − θ₀‖ / ‖θ₀‖.
    pub relative_parameter_change: f64,
    /// ‖Δf − Δf_lin‖ / ‖Δf‖ over the pair inputs.
    pub linearization_relative_error: Option<f64>,
    /// Pearson correlation of Δf and Δf_lin.
    pub linearization_correlation: Option<f64>,
    /// Share of inputs where Δf and Δf_lin have the same sign.
    pub sign_agreement: f64,
}

/// Aggregates of one run over a group of pairs (`n_vars` = `None`: all pairs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeRow {
    /// Number of variables.
    pub n_vars: Option<usize>,
    /// Pairs.
    pub pairs: usize,
    /// Mean shared-token fraction.
    pub mean_shared_fraction: f64,
    /// Mean δ = 1 − ρ.
    pub mean_delta: f64,
    /// Median δ.
    pub median_delta: f64,
    /// Mean |a − b| / max(a, b).
    pub mean_norm_asymmetry: f64,
    /// Mean |gap| of the predictor.
    pub mean_abs_gap: f64,
    /// Mean |f_T(x₊) − f_T(x₋)| of the model itself.
    pub mean_abs_model_gap: f64,
    /// Mean published bound.
    pub mean_published_bound: f64,
    /// Mean corrected bound.
    pub mean_corrected_bound: f64,
    /// Pairs whose gap violates the published bound.
    pub published_violations: usize,
    /// Pairs whose gap violates the corrected bound.
    pub corrected_violations: usize,
    /// Network runs: pairs whose linearized gap violates the published bound.
    pub linearized_published_violations: Option<usize>,
    /// Network runs: pairs whose linearized gap violates the corrected bound (must be 0).
    pub linearized_corrected_violations: Option<usize>,
}

/// One analysis: a predictor of one objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `sft-network`, `sft-kernel-ridge`, `dpo-network` (also the folder name).
    pub name: String,
    /// `sft` or `dpo`.
    pub objective: String,
    /// `network` or `kernel-ridge`.
    pub predictor: String,
    /// B of the predictor.
    pub weight_norm_bound: f64,
    /// κ = max √K(x, x) over the pair inputs.
    pub kappa: f64,
    /// Smallest and largest eigenvalue of the Gram matrix the predictor uses.
    pub gram_eigenvalue_range: (f64, f64),
    /// Kernel ridge only.
    pub ridge: Option<RidgeFit>,
    /// Network only.
    pub lazy: Option<LazyRow>,
    /// All pairs first, then one row per n.
    pub by_size: Vec<SizeRow>,
}

/// One pair under one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    /// The run's name.
    pub run: String,
    /// Pair index in `data/pairs.jsonl`.
    pub pair: usize,
    /// Rows of x₊ (entailed) and x₋ in K (`inputs.txt`).
    pub i: usize,
    /// Row of x₋.
    pub j: usize,
    /// Number of variables.
    pub n_vars: usize,
    /// Shared-token fraction of the two encodings.
    pub shared_fraction: f64,
    /// Tokens without a partner in the other encoding.
    pub differing_tokens: usize,
    /// Kernel similarity ρ.
    pub rho: f64,
    /// δ = 1 − ρ.
    pub delta: f64,
    /// a = √K₊₊.
    pub a: f64,
    /// b = √K₋₋.
    pub b: f64,
    /// The predictor's gap s(x₊) − s(x₋).
    pub gap: f64,
    /// The model's own margin gap f_T(x₊) − f_T(x₋).
    pub model_gap: f64,
    /// Bκ√(2δ).
    pub published_bound: f64,
    /// B√((a − b)² + 2δab).
    pub corrected_bound: f64,
    /// |gap| > published bound.
    pub published_violated: bool,
    /// |gap| > corrected bound.
    pub corrected_violated: bool,
    /// Network runs: the linearized gap.
    pub linearized_gap: Option<f64>,
    /// Network runs: |linearized gap| > corrected bound.
    pub linearized_corrected_violated: Option<bool>,
}

/// `kernel/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelStageSummary {
    /// Distinct pair inputs (rows of K).
    pub inputs: usize,
    /// Pair inputs whose premise was truncated.
    pub truncated_inputs: usize,
    /// Analysed pairs.
    pub pairs: usize,
    /// Every run: the SFT network, SFT kernel ridge, then the other objectives' networks.
    pub runs: Vec<RunSummary>,
    /// Every pair under every run.
    pub rows: Vec<PairRow>,
}

impl KernelStageSummary {
    /// The run called `name`.
    pub fn run(&self, name: &str) -> Option<&RunSummary> {
        self.runs.iter().find(|r| r.name == name)
    }

    /// The rows of the run called `name`.
    pub fn rows_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PairRow> + 'a {
        self.rows.iter().filter(move |r| r.run == name)
    }
}

fn size_row(g: &GroupSummary, rows: &[crate::bound::table::PairRow]) -> SizeRow {
    let linear = rows.iter().any(|r| r.linearized.is_some());
    let members = rows.iter().filter(|r| g.n_vars.is_none() || r.info.n_vars == g.n_vars);
    SizeRow {
        n_vars: g.n_vars,
        pairs: g.pairs,
        mean_shared_fraction: g.mean_shared_fraction,
        mean_delta: g.mean_delta,
        median_delta: g.median_delta,
        mean_norm_asymmetry: g.mean_norm_asymmetry,
        mean_abs_gap: g.mean_abs_gap,
        mean_abs_model_gap: g.mean_abs_model_gap,
        mean_published_bound: g.mean_published_bound,
        mean_corrected_bound: g.mean_corrected_bound,
        published_violations: g.published_violations,
        corrected_violations: g.corrected_violations,
        linearized_published_violations: linear.then(|| members.filter(|r| r.linearized.is_some_and(|l| l.published_violated)).count()),
        linearized_corrected_violations: g.linearized_corrected_violations,
    }
}

/// The stage's view of one [`Analysis`].
fn run_summary(name: &str, objective: &str, a: &Analysis) -> RunSummary {
    let s = &a.summary;
    let by_size = std::iter::once(&s.overall).chain(&s.by_n_vars).map(|g| size_row(g, &a.rows)).collect();
    RunSummary {
        name: name.into(),
        objective: objective.into(),
        predictor: s.predictor.as_str().into(),
        weight_norm_bound: s.weight_norm_bound,
        kappa: s.kappa,
        gram_eigenvalue_range: s.gram_eigenvalue_range,
        ridge: s.kernel.as_ref().map(|k| RidgeFit {
            lambda: k.fit.lambda,
            relative_ridge: k.relative_ridge,
            train_inputs: k.train_inputs,
            train_positives: k.train_positives,
            train_accuracy: k.fit.train_accuracy,
        }),
        lazy: s.network.as_ref().map(|n| LazyRow {
            kernel_drift: n.diagnostics.kernel_drift,
            parameter_change: n.diagnostics.parameter_change,
            relative_parameter_change: n.diagnostics.relative_parameter_change,
            linearization_relative_error: finite(n.diagnostics.linearization.relative_error),
            linearization_correlation: finite(n.diagnostics.linearization.correlation),
            sign_agreement: n.diagnostics.linearization.sign_agreement,
        }),
        by_size,
    }
}

fn pair_rows(name: &str, a: &Analysis) -> Vec<PairRow> {
    a.rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let (p, o) = (&r.report, &r.info.overlap);
            PairRow {
                run: name.into(),
                pair: k,
                i: p.i,
                j: p.j,
                n_vars: r.info.n_vars.unwrap_or(0),
                shared_fraction: o.shared_fraction,
                differing_tokens: o.differing_tokens,
                rho: p.rho,
                delta: p.delta,
                a: p.a,
                b: p.b,
                gap: p.gap,
                model_gap: r.model_gap,
                published_bound: p.published_bound,
                corrected_bound: p.corrected_bound,
                published_violated: p.published_violated,
                corrected_violated: p.corrected_violated,
                linearized_gap: r.linearized.map(|l| l.gap),
                linearized_corrected_violated: r.linearized.map(|l| l.corrected_violated),
            }
        })
        .collect()
}

fn pairs_csv(rows: &[PairRow]) -> String {
    let mut s = String::from(
        "run,pair,i,j,n_vars,shared_fraction,differing_tokens,rho,delta,a,b,gap,model_gap,published_bound,corrected_bound,\
published_violated,corrected_violated,linearized_gap,linearized_corrected_violated\n",
    );
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.run, r.pair, r.i, r.j, r.n_vars, r.shared_fraction, r.differing_tokens, r.rho, r.delta, r.a, r.b, r.gap, r.model_gap,
            r.published_bound, r.corrected_bound, r.published_violated, r.corrected_violated,
            opt(r.linearized_gap.map(|g| g.to_string())), opt(r.linearized_corrected_violated.map(|v| v.to_string()))
        );
    }
    s
}

/// Inputs of stage 4: where the data and the trained models are, and the shared settings.
pub struct KernelInputs<'a> {
    /// Stage 1 directory.
    pub data: &'a Path,
    /// Stage 2 directory.
    pub trained: &'a Path,
    /// Stage 2 summary (the objectives).
    pub train: &'a TrainStageSummary,
    /// The training plan (seed).
    pub plan: &'a TrainPlan,
    /// Maximum encoded length.
    pub max_length: usize,
    /// Compute backend.
    pub backend: Backend,
}

/// [`Progress`] drawn through the demo's [`Reporter`].
struct Bars<'a> {
    reporter: &'a dyn Reporter,
    prefix: String,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress for Bars<'_> {
    fn start(&mut self, stage: &str, total: usize) {
        self.finish();
        self.bar = Some(self.reporter.bar(total as u64, &format!("{}: {stage}", self.prefix)));
    }
    fn advance(&mut self, done: usize) {
        if let Some(b) = &self.bar {
            b.inc(done as u64);
        }
    }
    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn load_dir(inp: &KernelInputs<'_>, dir: &Path, device: &burn::tensor::Device) -> Result<LoadedModel> {
    let mut loaded = load(&ModelSpec::Dir(dir.to_path_buf()), &LoadOptions { seed: inp.plan.seed, head_file: None }, device)?;
    loaded.tokenizer.set_max_length(inp.max_length)?;
    Ok(loaded)
}

/// Write one run's `ntkgap bound --model` files into `dir/<name>/` and its Gram when asked.
fn write_run(dir: &Path, name: &str, a: &Analysis, gram_file: Option<&str>) -> Result<()> {
    let out = dir.join(name);
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    write_atomic(out.join("pairs.csv"), csv(&a.rows).as_bytes())?;
    write_json_atomic(out.join("summary.json"), &a.summary)?;
    if let Some(file) = gram_file {
        let n = a.summary.inputs;
        npy::write_f64(&dir.join(file), &[n, n], &a.gram)?;
    }
    Ok(())
}

/// Run stage 4 into `dir`.
///
/// # Errors
/// Reading the pairs or the training records, model loading, a non-finite Gram entry (ids
/// named), a failed kernel fit, or write failures.
pub fn run(inp: &KernelInputs<'_>, cfg: &KernelConfig, dir: &Path, reporter: &dyn Reporter) -> Result<KernelStageSummary> {
    let pairs_path = inp.data.join("pairs.jsonl");
    let pairs = read_pairs(&pairs_path)?;
    let device = inp.backend.autodiff_device()?;
    let config = AnalysisConfig { gram: GramOptions { block: cfg.block, kernels: KernelChoice::CpuF64, ..GramOptions::default() } };
    let (mut runs, mut rows, mut shape) = (Vec::new(), Vec::new(), None);
    for objective in inp.train.runs.iter().map(|r| r.objective.as_str()) {
        let trained = inp.trained.join(objective);
        let (model, init) = (load_dir(inp, &trained.join("best"), &device)?, load_dir(inp, &trained.join("theta0"), &device)?);
        let tokenizer = model.tokenizer.as_ref();
        let inputs = PairInputs::from_pairs(&pairs, &pairs_path, tokenizer)?;
        let pad = tokenizer.pad_id()?;
        let name = format!("{objective}-network");
        let source = format!("train/{objective}/theta0");
        let mut bars = Bars { reporter, prefix: name.clone(), bar: None };
        let net = analyse(&model.classifier, &inputs, PredictorModel::Network { init: &init.classifier, source: &source }, pad, &config, &device, &mut bars)?;
        write_run(dir, &name, &net, (objective == "sft").then_some("K_theta0.npy"))?;
        let mut analyses = vec![(name, net)];
        if objective == "sft" {
            let (train, _) = TrainSet::sample_file(&inp.data.join("train.jsonl"), tokenizer, cfg.ridge_train_records, inp.plan.seed)?;
            let name = super::summary::RIDGE_RUN.to_string();
            let mut bars = Bars { reporter, prefix: name.clone(), bar: None };
            let ridge = analyse(&model.classifier, &inputs, PredictorModel::Kernel { train: &train, config: KernelFitConfig::default() }, pad, &config, &device, &mut bars)?;
            write_run(dir, &name, &ridge, Some("K_sft.npy"))?;
            analyses.push((name, ridge));
            let ids: String = inputs.ids.iter().map(|id| format!("{id}\n")).collect();
            write_atomic(dir.join("inputs.txt"), ids.as_bytes())?;
        }
        shape.get_or_insert((inputs.encodings.len(), inputs.truncated));
        for (name, a) in &analyses {
            runs.push(run_summary(name, objective, a));
            rows.extend(pair_rows(name, a));
        }
    }
    let (inputs, truncated_inputs) = shape.ok_or_else(|| Error::invalid("demo", "no trained objective to analyse (expected sft)"))?;
    write_atomic(dir.join("pairs.csv"), pairs_csv(&rows).as_bytes())?;
    let summary = KernelStageSummary { inputs, truncated_inputs, pairs: pairs.len(), runs, rows };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}
