//! Stage 4 (`kernel/`): Theorem 1 on the near-miss pairs, published versus corrected bound
//! (docs/science.md "Theorem 1"; Roy & Parbhoo, arXiv 2605.27567), through the model-driven check of
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

use std::path::Path;

use crate::bound::kernel_regression::KernelFitConfig;
use crate::bound::table::csv;
use crate::demo::config::{EntkConfig, TrainPlan};
use crate::demo::train_stage::TrainStageSummary;
use crate::demo::Reporter;
use crate::error::{Error, Result};
use crate::files::{npy, write_atomic, write_json_atomic};
use crate::gap::{analyse, Analysis, AnalysisConfig, Bars, PairInputs, PredictorModel, TrainSet};
use crate::gpu::ComputeDevice;
use crate::model::{load, LoadOptions, LoadedModel, ModelSpec};
use crate::ntk::{GramOptions, KernelChoice};
use crate::tokenize::pairs::NearMissPair;
use crate::tokenize::summary::read_pairs;

use crate::demo::entk_rows::{pair_rows, pairs_csv, run_summary};
pub use crate::demo::entk_rows::{EntkStageSummary, LazyRow, PairRow, RidgeFit, RunSummary, SizeRow};

/// The kernel-ridge run of stage 4 (the fine-tuned SFT eNTK).
pub const RIDGE_RUN: &str = "sft-kernel-ridge";

/// The SFT network run of stage 4 (K₀, the gap of f_T − f₀).
pub const NETWORK_RUN: &str = "sft-network";

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
    /// Where the model runs.
    pub device: ComputeDevice,
}

fn load_dir(inp: &KernelInputs<'_>, dir: &Path, device: &burn::tensor::Device) -> Result<LoadedModel> {
    let mut loaded =
        load(&ModelSpec::Dir(dir.to_path_buf()), &LoadOptions { seed: inp.plan.seed, head_file: None }, device)?;
    loaded.tokenizer.set_max_length(inp.max_length)?;
    Ok(loaded)
}

/// Write one run's `ntkgap bound --model` files into `dir/<name>/` and its Gram when asked.
fn write_run(dir: &Path, name: &str, a: &Analysis, gram_file: Option<&str>) -> Result<()> {
    let out = dir.join(name);
    std::fs::create_dir_all(&out).map_err(|e| Error::write(&out, e))?;
    write_atomic(out.join("pairs.csv"), csv(&a.rows).as_bytes())?;
    write_json_atomic(out.join("summary.json"), &a.summary)?;
    if let Some(file) = gram_file {
        npy::write(&dir.join(file), &a.gram)?;
    }
    Ok(())
}

/// What every objective's analyses share.
struct Ctx<'a> {
    inp: &'a KernelInputs<'a>,
    cfg: &'a EntkConfig,
    pairs: &'a [NearMissPair],
    pairs_path: &'a Path,
    config: AnalysisConfig,
    device: burn::tensor::Device,
    reporter: &'a dyn Reporter,
    dir: &'a Path,
}

/// The analyses of one objective — its network run and, for SFT, the kernel-ridge run — with
/// (distinct inputs, truncated inputs); each run's files are written into `ctx.dir`.
fn analyse_objective(ctx: &Ctx<'_>, objective: &str) -> Result<(Vec<(String, Analysis)>, (usize, usize))> {
    let trained = ctx.inp.trained.join(objective);
    let (model, init) = (
        load_dir(ctx.inp, &trained.join("best"), &ctx.device)?,
        load_dir(ctx.inp, &trained.join("theta0"), &ctx.device)?,
    );
    let tokenizer = model.tokenizer.as_ref();
    let inputs = PairInputs::from_pairs(ctx.pairs, ctx.pairs_path, tokenizer)?;
    let pad = tokenizer.pad_id()?;
    let run = |name: &str, predictor: PredictorModel<'_>| {
        let mut bars = Bars::new(|n, stage: &str| ctx.reporter.bar(n as u64, &format!("{name}: {stage}")));
        analyse(&model.classifier, &inputs, predictor, pad, &ctx.config, &ctx.device, &mut bars)
    };
    let (name, source) = (format!("{objective}-network"), format!("train/{objective}/theta0"));
    let net = run(&name, PredictorModel::Network { init: &init.classifier, source: &source })?;
    write_run(ctx.dir, &name, &net, (objective == "sft").then_some("K_theta0.npy"))?;
    let mut analyses = vec![(name, net)];
    if objective == "sft" {
        let (train, _) = TrainSet::sample_file(
            &ctx.inp.data.join("train.jsonl"),
            tokenizer,
            ctx.cfg.ridge_train_records,
            ctx.inp.plan.seed,
        )?;
        let ridge = run(RIDGE_RUN, PredictorModel::Kernel { train: &train, config: KernelFitConfig::default() })?;
        write_run(ctx.dir, RIDGE_RUN, &ridge, Some("K_sft.npy"))?;
        analyses.push((RIDGE_RUN.to_string(), ridge));
        let ids: String = inputs.ids.iter().map(|id| format!("{id}\n")).collect();
        write_atomic(ctx.dir.join("inputs.txt"), ids.as_bytes())?;
    }
    Ok((analyses, (inputs.encodings.len(), inputs.truncated)))
}

/// Run stage 4 into `dir`.
///
/// # Errors
/// Reading the pairs or the training records, model loading, a non-finite Gram entry (ids
/// named), a failed kernel fit, or write failures.
pub fn run(inp: &KernelInputs<'_>, cfg: &EntkConfig, dir: &Path, reporter: &dyn Reporter) -> Result<EntkStageSummary> {
    let pairs_path = inp.data.join("pairs.jsonl");
    let pairs = read_pairs(&pairs_path)?;
    let config = AnalysisConfig {
        gram: GramOptions {
            block: cfg.block,
            kernels: KernelChoice::CpuF64,
            memory_budget: cfg.memory_budget,
            ..GramOptions::default()
        },
        ..AnalysisConfig::default()
    };
    let ctx = Ctx {
        inp,
        cfg,
        pairs: &pairs,
        pairs_path: &pairs_path,
        config,
        device: inp.device.device(true),
        reporter,
        dir,
    };
    let (mut runs, mut rows, mut shape) = (Vec::new(), Vec::new(), None);
    for objective in inp.train.runs.iter().map(|r| r.objective.as_str()) {
        let (analyses, counts) = analyse_objective(&ctx, objective)?;
        shape.get_or_insert(counts);
        for (name, a) in &analyses {
            runs.push(run_summary(name, objective, a));
            rows.extend(pair_rows(name, a));
        }
    }
    let (inputs, truncated_inputs) =
        shape.ok_or_else(|| Error::invalid("demo", "no trained objective to analyse (expected sft)"))?;
    write_atomic(dir.join("pairs.csv"), pairs_csv(&rows).as_bytes())?;
    let summary = EntkStageSummary { inputs, truncated_inputs, pairs: pairs.len(), runs, rows };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}
