//! One model-driven analysis: K over the analysed inputs, the predictor's scores and B, the
//! per-pair Theorem 1 rows and their summary.
//!
//! * Kernel predictors ([`PredictorModel::Kernel`]): one eNTK Gram matrix over the training
//!   inputs *and* the pair inputs together (so K_train, K(pairs, train) and K(pairs, pairs) are
//!   blocks of one symmetric matrix, the Gram matrix of one set of features); α fitted on
//!   K_train ([`crate::bound::kernel`]); scores s(x) = Σ αᵢ K(xᵢ, x); B = √(αᵀ K_train α).
//! * The network ([`PredictorModel::Network`]): K₀ (eNTK at θ₀) and K_T over the pair inputs,
//!   margins at θ_T and θ₀, Δf = f_T − f₀, Δf_lin = ⟨∇f₀, θ_T − θ₀⟩, B = ‖θ_T − θ₀‖, and the
//!   lazy-regime diagnostics ([`crate::bound::lazy`]) on the analysed inputs.
//! * The frozen model's readout ([`PredictorModel::Readout`], [`crate::gap::readout`]): K = φφᵀ,
//!   s(x) = ⟨w, φ(x)⟩ + c, B = ‖w‖.
//!
//! The kernel is the eNTK or the last-layer kernel φφᵀ ([`GapKernel`]; the network predictor
//! needs the eNTK, the readout the last-layer kernel). Encoder classifiers and decoders alike
//! ([`GapModel`]).
//!
//! κ = max √K(x, x) over the analysed (pair) inputs, in every mode. The model's own margin gap
//! s(x₊) − s(x₋) is reported beside the predictor's gap in every mode. Known gaps: the
//! lazy-regime diagnostics are computed on the pair inputs, which are held out only when the
//! pairs were mined from data the model was not trained on.

use burn::tensor::Device;
use serde::Serialize;

use crate::bound::kernel_regression::{eigenvalue_range, fit, KernelFit, KernelFitConfig};
use crate::bound::lazy::{agreement, kernel_drift, LazyDiagnostics};
use crate::bound::table::{by_n_vars, summarize, GroupSummary, LinearizedCheck, PairRow};
use crate::bound::{analyse as check_pairs, PairReport, Predictor};
use crate::error::{Error, Result};
use crate::gap::inputs::PairInputs;
use crate::gap::model::GapModel;
use crate::gap::network::{check_same_architecture, linearized_changes, parameter_norms};
use crate::gap::readout::{readout_check, ReadoutSummary};
pub use crate::gap::train_set::TrainSet;
use crate::gap::Progress;
use crate::model::dense::tensor_to_host;
use crate::ntk::{gram, last_layer_gram, GramOptions};
use crate::tokenize::{pad_batch, Encoding};
use ndarray::{s, Array2, ArrayView1};

/// The predictor whose gap is checked, with what it needs.
pub enum PredictorModel<'a> {
    /// Kernel ridge or logistic regression on `train`, with the analysed model's kernel.
    Kernel {
        /// Training inputs and targets.
        train: &'a TrainSet,
        /// Which kernel predictor and λ.
        config: KernelFitConfig,
    },
    /// The fine-tuned network (the analysed model, θ_T) against its initialisation θ₀.
    Network {
        /// θ₀, loaded on the same device.
        init: &'a dyn GapModel,
        /// How θ₀ was given (for error messages), e.g. the `--init` directory.
        source: &'a str,
    },
    /// The analysed model's own linear readout on its last-layer features (needs
    /// [`GapKernel::LastLayer`]).
    Readout,
}

/// The kernel the bounds are checked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapKernel {
    /// The empirical NTK ⟨∇θ f(x), ∇θ f(x')⟩ ([`crate::ntk::gram`]). Default.
    #[default]
    Entk,
    /// The last-layer kernel ⟨φ(x), φ(x')⟩, φ the input of the final linear readout
    /// ([`crate::ntk::last_layer_gram`]): one forward pass per block, no backward.
    LastLayer,
}

/// Settings shared by every predictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AnalysisConfig {
    /// eNTK options (method, subset, block; the block also for the last-layer kernel).
    pub gram: GramOptions,
    /// The kernel.
    pub kernel: GapKernel,
}

/// The kernel predictor's fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelSummary {
    /// α's summary: λ, B, iterations, training accuracy.
    pub fit: KernelFit,
    /// r in λ = r · mean(diag K_train).
    pub relative_ridge: f64,
    /// Training inputs.
    pub train_inputs: usize,
    /// Training inputs labelled entailment (+1).
    pub train_positives: usize,
}

/// The network predictor's extras.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkSummary {
    /// Kernel drift, parameter change, linearization agreement.
    pub diagnostics: LazyDiagnostics,
    /// Pairs whose linearized gap exceeds the corrected bound (must be 0).
    pub linearized_corrected_violations: usize,
    /// Pairs whose linearized gap exceeds the published bound.
    pub linearized_published_violations: usize,
}

/// Everything `summary.json` says about one analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisSummary {
    /// The predictor.
    pub predictor: Predictor,
    /// Analysed pairs.
    pub pairs: usize,
    /// Distinct analysed inputs (rows of K over the pairs).
    pub inputs: usize,
    /// B of the predictor.
    pub weight_norm_bound: f64,
    /// κ = max √K(x, x) over the analysed inputs.
    pub kappa: f64,
    /// What κ is taken over, in words.
    pub kappa_over: String,
    /// Smallest and largest eigenvalue of the Gram matrix the predictor uses (PSD check).
    pub gram_eigenvalue_range: (f64, f64),
    /// All pairs together.
    pub overall: GroupSummary,
    /// One group per number of variables.
    pub by_n_vars: Vec<GroupSummary>,
    /// Kernel predictors only.
    pub kernel: Option<KernelSummary>,
    /// The network predictor only.
    pub network: Option<NetworkSummary>,
    /// The readout predictor only.
    pub readout: Option<ReadoutSummary>,
    /// The kernel K.
    pub gram_kernel: GapKernel,
}

/// Rows, summary and (network only) the per-input changes (Δf, Δf_lin).
#[derive(Debug, Clone)]
pub struct Analysis {
    /// One row per pair.
    pub rows: Vec<PairRow>,
    /// The summary.
    pub summary: AnalysisSummary,
    /// (f_T − f₀, ⟨∇f₀, θ_T − θ₀⟩) per analysed input (network only).
    pub changes: Option<(Vec<f64>, Vec<f64>)>,
    /// The Gram matrix the bounds were checked on, `[inputs, inputs]` over the analysed inputs
    /// (the indices `i`, `j` of the rows): K₀ for the network, the pair block of the joint K for
    /// kernel predictors.
    pub gram: Array2<f64>,
}

pub(crate) struct Ctx<'a> {
    pub(crate) pad_id: u32,
    pub(crate) config: &'a AnalysisConfig,
    pub(crate) device: &'a Device,
}

fn gram_of(
    model: &dyn GapModel,
    x: &[Encoding],
    ids: &[String],
    stage: &str,
    ctx: &Ctx<'_>,
    progress: &mut dyn Progress,
) -> Result<Array2<f64>> {
    progress.start(stage, x.len());
    let (model, options) = (model.ntk(), &ctx.config.gram);
    let mut advance = |n| progress.advance(n);
    let k = match ctx.config.kernel {
        GapKernel::Entk => gram(model, x, None, ctx.pad_id, options, ctx.device, &mut advance)?,
        GapKernel::LastLayer => last_layer_gram(model, x, None, ctx.pad_id, options, ctx.device, &mut advance)?,
    };
    progress.finish();
    k.check_finite(ids)?;
    Ok(k.matrix().to_owned())
}

/// The model's margins f(x) (z_yes − z_no for a decoder), `block` inputs per forward, through a
/// copy whose parameters require no gradient: a forward pass on the autodiff device with tracked
/// parameters records a graph that, without a backward pass, is never freed (it held 3.5 GB in
/// the quick demo's kernel stage and most of the 17 GB the full demo once peaked at).
pub(crate) fn margins_f64(model: &dyn GapModel, x: &[Encoding], ctx: &Ctx<'_>) -> Result<Vec<f64>> {
    let untracked = model.untracked();
    let mut out = Vec::with_capacity(x.len());
    for chunk in x.chunks(ctx.config.gram.block.max(1)) {
        let margin = untracked.ntk().margin(&pad_batch(chunk, ctx.pad_id)?, ctx.device, None)?;
        out.extend(tensor_to_host(margin)?.data.into_iter().map(f64::from));
    }
    Ok(out)
}

#[derive(Default)]
pub(crate) struct Checked {
    pub(crate) reports: Vec<PairReport>,
    pub(crate) gram: Array2<f64>,
    pub(crate) weight_norm_bound: f64,
    pub(crate) eigen: (f64, f64),
    pub(crate) kernel: Option<KernelSummary>,
    pub(crate) network: Option<(LazyDiagnostics, Vec<f64>, Vec<f64>)>,
    pub(crate) readout: Option<ReadoutSummary>,
    /// The model's margins over the analysed inputs, when the check computed them.
    pub(crate) model_scores: Option<Vec<f64>>,
}

fn kernel_check(
    model: &dyn GapModel,
    inputs: &PairInputs,
    train: &TrainSet,
    config: KernelFitConfig,
    ctx: &Ctx<'_>,
    progress: &mut dyn Progress,
) -> Result<Checked> {
    let m = train.encodings.len();
    let joint: Vec<Encoding> = train.encodings.iter().chain(&inputs.encodings).cloned().collect();
    let ids: Vec<String> = (0..m).map(|i| format!("train input {i}")).chain(inputs.ids.iter().cloned()).collect();
    let k = gram_of(model, &joint, &ids, "eNTK (train + pair inputs)", ctx, progress)?;
    let fitted = fit(k.slice(s![..m, ..m]), ArrayView1::from(&train.targets[..]), &config)?;
    let scores = fitted.scores(k.slice(s![m.., ..m]))?;
    let k_pairs = k.slice(s![m.., m..]).to_owned();
    let (reports, _) = check_pairs(k_pairs.view(), scores.view(), &inputs.pairs, fitted.weight_norm_bound)?;
    let summary = KernelSummary {
        relative_ridge: config.ridge.get(),
        train_inputs: m,
        train_positives: train.targets.iter().filter(|t| **t > 0.0).count(),
        fit: fitted.clone(),
    };
    Ok(Checked {
        reports,
        gram: k_pairs,
        weight_norm_bound: fitted.weight_norm_bound,
        eigen: eigenvalue_range(k.view())?,
        kernel: Some(summary),
        ..Checked::default()
    })
}

fn network_check(
    model: &dyn GapModel,
    inputs: &PairInputs,
    (init, source): (&dyn GapModel, &str),
    ctx: &Ctx<'_>,
    progress: &mut dyn Progress,
) -> Result<Checked> {
    if ctx.config.kernel != GapKernel::Entk {
        return Err(Error::setting("kernel", "the network predictor is checked with the eNTK at θ₀ (`kernel` entk)"));
    }
    let (theta_t, theta_0) = (model.weights()?, init.weights()?);
    check_same_architecture((model, &theta_t), (init, &theta_0), source)?;
    let (change, norm0) = parameter_norms(&theta_t, &theta_0);
    let x = &inputs.encodings;
    let k0 = gram_of(init, x, &inputs.ids, "eNTK at theta_0", ctx, progress)?;
    let kt = gram_of(model, x, &inputs.ids, "eNTK at theta_T", ctx, progress)?;
    let f0 = margins_f64(init, x, ctx)?;
    let delta_f: Vec<f64> = margins_f64(model, x, ctx)?.iter().zip(&f0).map(|(t, z)| t - z).collect();
    progress.start("gradients at theta_0", x.len());
    let lin = linearized_changes(init, &theta_t, &theta_0, x, ctx.pad_id, ctx.device, &mut |n| progress.advance(n))?;
    progress.finish();
    let (reports, _) = check_pairs(k0.view(), ArrayView1::from(&delta_f[..]), &inputs.pairs, change)?;
    let diagnostics = LazyDiagnostics {
        kernel_drift: kernel_drift(k0.view(), kt.view())?,
        parameter_change: change,
        initial_parameter_norm: norm0,
        relative_parameter_change: if norm0 > 0.0 { change / norm0 } else { f64::NAN },
        linearization: agreement(&delta_f, &lin)?,
    };
    let eigen = eigenvalue_range(k0.view())?;
    Ok(Checked {
        reports,
        gram: k0,
        weight_norm_bound: change,
        eigen,
        network: Some((diagnostics, delta_f, lin)),
        ..Checked::default()
    })
}

fn pair_rows(reports: Vec<PairReport>, inputs: &PairInputs, model_scores: &[f64], lin: Option<&[f64]>) -> Vec<PairRow> {
    reports
        .into_iter()
        .zip(&inputs.info)
        .map(|(report, info)| {
            let (i, j) = (report.i, report.j);
            let linearized = lin.map(|l| LinearizedCheck::new(&report, l[i] - l[j]));
            PairRow { model_gap: model_scores[i] - model_scores[j], report, info: info.clone(), linearized }
        })
        .collect()
}

/// Analyse every pair of `inputs` for `model` and the chosen predictor; `model` (and θ₀) must
/// be loaded on the autodiff `device`, `pad_id` is the tokenizer's.
///
/// # Errors
/// Any error of the eNTK ([`crate::ntk::gram`]), of the kernel fit, of the architecture check
/// (`--init`), a non-finite Gram entry (offending input ids named), or a pair whose input has
/// K(x, x) ≤ 0.
pub fn analyse(
    model: &dyn GapModel,
    inputs: &PairInputs,
    predictor: PredictorModel<'_>,
    pad_id: u32,
    config: &AnalysisConfig,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<Analysis> {
    let ctx = Ctx { pad_id, config, device };
    let (kind, mut checked) = match predictor {
        PredictorModel::Kernel { train, config: fit_config } => {
            let kind = match fit_config.predictor {
                crate::bound::kernel_regression::KernelPredictor::Ridge => Predictor::KernelRidge,
                crate::bound::kernel_regression::KernelPredictor::Logistic => Predictor::KernelLogistic,
            };
            (kind, kernel_check(model, inputs, train, fit_config, &ctx, progress)?)
        }
        PredictorModel::Network { init, source } => {
            (Predictor::Network, network_check(model, inputs, (init, source), &ctx, progress)?)
        }
        PredictorModel::Readout => (Predictor::Readout, readout_check(model, inputs, &ctx, progress)?),
    };
    let model_scores = match checked.model_scores.take() {
        Some(scores) => scores,
        None => margins_f64(model, &inputs.encodings, &ctx)?,
    };
    let lin = checked.network.as_ref().map(|(_, _, lin)| lin.as_slice());
    let rows = pair_rows(checked.reports, inputs, &model_scores, lin);
    let all: Vec<&PairRow> = rows.iter().collect();
    let network = checked.network.as_ref().map(|(d, _, _)| NetworkSummary {
        diagnostics: *d,
        linearized_corrected_violations: rows
            .iter()
            .filter(|r| r.linearized.is_some_and(|l| l.corrected_violated))
            .count(),
        linearized_published_violations: rows
            .iter()
            .filter(|r| r.linearized.is_some_and(|l| l.published_violated))
            .count(),
    });
    let summary = AnalysisSummary {
        predictor: kind,
        pairs: rows.len(),
        inputs: inputs.encodings.len(),
        weight_norm_bound: checked.weight_norm_bound,
        kappa: rows.first().map_or(0.0, |r| r.report.kappa),
        kappa_over: format!("max sqrt(K(x,x)) over the {} analysed pair inputs", inputs.encodings.len()),
        gram_eigenvalue_range: checked.eigen,
        overall: summarize(None, &all),
        by_n_vars: by_n_vars(&rows),
        kernel: checked.kernel,
        network,
        readout: checked.readout,
        gram_kernel: config.kernel,
    };
    Ok(Analysis { rows, summary, changes: checked.network.map(|(_, d, l)| (d, l)), gram: checked.gram })
}
