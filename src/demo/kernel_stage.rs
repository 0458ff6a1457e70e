//! Stage 4 (`kernel/`): the eNTK on the near-miss pairs and Theorem 1 per pair, published versus
//! corrected (DESIGN.md "Theorem 1"; Roy & Parbhoo, arXiv 2605.27567).
//!
//! What is computed, and the stated proxy it rests on:
//!
//! * inputs — both records of every pair of `data/pairs.jsonl` (a = entailed, b = not), in
//!   `inputs.jsonl`; K = the eNTK Gram matrix of the margin at **θ₀** (`train/sft/theta0`) over
//!   all parameters, [`crate::ntk::gram`] with `PerLayer`, in `K_theta0.npy`;
//! * the kernel predictor — in the lazy regime f_T(x) − f_0(x) ≈ ⟨∇f_0(x), θ_T − θ₀⟩, a kernel
//!   predictor with features φ = ∇f_0 (kernel K) and weights w = θ_T − θ₀, so the scores are the
//!   margin changes s = f_T − f_0 and **B = ‖θ_T − θ₀‖** (from `train/<objective>/summary.json`);
//! * per pair, through [`crate::bound::analyse`] (the `--gram` mode's library function): gap,
//!   δ = 1 − ρ, a, b, κ, the published bound Bκ√(2δ) and the corrected bound
//!   B√((a − b)² + 2δab) with their violations; the model's own final-margin gap
//!   f_T(a) − f_T(b) is reported beside it.
//!
//! A corrected-bound violation here means the linearization is off (the network left the lazy
//! regime for this pair), not that Cauchy–Schwarz failed.
//!
//! SWITCH(bound helper): once the model-driven bound lands in `bound` (kernel-ridge and network
//! predictors, B = ‖θ_T − θ₀‖, kernel drift ‖K_T − K₀‖_F/‖K₀‖_F, linearization error), replace
//! [`bound_rows`] (and the θ₀-only Gram of [`run`]) with its functions; the rows and the report
//! stay as they are, gaining the diagnostics columns.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bound::{analyse, GramView, PairReport};
use crate::corpus::JsonlWriter;
use crate::demo::config::{KernelConfig, TrainPlan};
use crate::demo::train_stage::{objective_name, TrainStageSummary};
use crate::demo::Reporter;
use crate::error::{Error, Result};
use crate::demo::config::Backend;
use crate::model::{infer, load, LoadOptions, ModelSpec};
use crate::ntk::{gram, GramOptions, KernelChoice};
use crate::report::{npy, write_atomic, write_json_atomic};
use crate::tokenize::pairs::NearMissPair;
use crate::tokenize::stream::{encode_all, EncodedRecord};
use crate::tokenize::summary::read_pairs;

/// One pair under one objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    /// `sft` or `dpo`.
    pub objective: String,
    /// Pair index (rows 2k, 2k+1 of K).
    pub pair: usize,
    /// Number of variables.
    pub n_vars: usize,
    /// Relation of the entailed record a.
    pub relation_a: String,
    /// Relation of the other record b.
    pub relation_b: String,
    /// Shared-token fraction of the two encodings.
    pub shared_fraction: f64,
    /// Tokens without a partner in the other encoding.
    pub differing_tokens: usize,
    /// Margins at θ₀ (a, b).
    pub margin_theta0: (f64, f64),
    /// Margins of the fine-tuned model (a, b).
    pub margin_final: (f64, f64),
    /// f_T(a) − f_T(b): the model's own output gap.
    pub final_gap: f64,
    /// Theorem 1 quantities on the lazy-regime predictor s = f_T − f_0.
    pub bound: PairReport,
}

/// Aggregates of one size under one objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeRow {
    /// `sft` or `dpo`.
    pub objective: String,
    /// Number of variables.
    pub n_vars: usize,
    /// Pairs.
    pub pairs: usize,
    /// Mean shared-token fraction.
    pub mean_shared_fraction: f64,
    /// Mean δ.
    pub mean_delta: f64,
    /// Smallest kernel similarity ρ.
    pub min_rho: f64,
    /// Mean |s(a) − s(b)| of the lazy-regime predictor.
    pub mean_abs_gap: f64,
    /// Mean |f_T(a) − f_T(b)|.
    pub mean_abs_final_gap: f64,
    /// Mean published bound.
    pub mean_published_bound: f64,
    /// Mean corrected bound.
    pub mean_corrected_bound: f64,
    /// Pairs violating the published bound.
    pub published_violations: usize,
    /// Pairs violating the corrected bound.
    pub corrected_violations: usize,
}

/// `kernel/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelStageSummary {
    /// Inputs (2 × pairs).
    pub inputs: usize,
    /// κ = max √K_xx over the inputs.
    pub kappa: f64,
    /// B per objective.
    pub weight_norm_bounds: BTreeMap<String, f64>,
    /// Per objective and size.
    pub by_size: Vec<SizeRow>,
    /// Every pair under every objective.
    pub pairs: Vec<PairRow>,
}

fn write_inputs(pairs: &[NearMissPair], path: &Path) -> Result<()> {
    let mut w = JsonlWriter::create(path)?;
    for p in pairs {
        w.write(&p.a)?;
        w.write(&p.b)?;
    }
    w.finish().map(|_| ())
}

fn margins_of(dir: &Path, seed: u64, max_length: usize, backend: Backend, records: &[EncodedRecord]) -> Result<Vec<f64>> {
    let device = backend.device()?;
    let mut loaded = load(&ModelSpec::Dir(dir.to_path_buf()), &LoadOptions { seed, head_file: None }, &device)?;
    loaded.tokenizer.set_max_length(max_length)?;
    let encodings: Vec<_> = records.iter().map(|r| r.encoding.clone()).collect();
    let m = infer::margins(&loaded.classifier, &encodings, loaded.tokenizer.pad_id()?, 16, &device)?;
    Ok(m.into_iter().map(f64::from).collect())
}

/// The Theorem 1 rows of one objective: scores s = f_T − f_0 on K₀ with B = ‖θ_T − θ₀‖.
///
/// # Errors
/// As [`analyse`] (a pair with K_xx ≤ 0 is named).
pub fn bound_rows(objective: &str, k: &GramView<'_>, pairs: &[NearMissPair], m0: &[f64], mt: &[f64], b: f64) -> Result<Vec<PairRow>> {
    let scores: Vec<f64> = mt.iter().zip(m0).map(|(t, z)| t - z).collect();
    let index: Vec<(usize, usize)> = (0..pairs.len()).map(|p| (2 * p, 2 * p + 1)).collect();
    let (reports, _) = analyse(k, &scores, &index, b)?;
    let rel = |r: &crate::corpus::Record| r.relation.map_or(String::new(), |x| x.as_str().to_string());
    Ok(pairs
        .iter()
        .zip(reports)
        .enumerate()
        .map(|(p, (pair, bound))| PairRow {
            objective: objective.to_string(),
            pair: p,
            n_vars: pair.n_vars.unwrap_or(0),
            relation_a: rel(&pair.a),
            relation_b: rel(&pair.b),
            shared_fraction: pair.overlap.shared_fraction,
            differing_tokens: pair.overlap.differing_tokens,
            margin_theta0: (m0[2 * p], m0[2 * p + 1]),
            margin_final: (mt[2 * p], mt[2 * p + 1]),
            final_gap: mt[2 * p] - mt[2 * p + 1],
            bound,
        })
        .collect())
}

/// Per (objective, n) aggregates of `rows`.
pub fn size_rows(rows: &[PairRow]) -> Vec<SizeRow> {
    let mut groups: BTreeMap<(String, usize), Vec<&PairRow>> = BTreeMap::new();
    for r in rows {
        groups.entry((r.objective.clone(), r.n_vars)).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((objective, n_vars), g)| {
            let mean = |f: &dyn Fn(&PairRow) -> f64| g.iter().map(|r| f(r)).sum::<f64>() / g.len() as f64;
            SizeRow {
                objective,
                n_vars,
                pairs: g.len(),
                mean_shared_fraction: mean(&|r| r.shared_fraction),
                mean_delta: mean(&|r| r.bound.delta),
                min_rho: g.iter().map(|r| r.bound.rho).fold(f64::INFINITY, f64::min),
                mean_abs_gap: mean(&|r| r.bound.gap.abs()),
                mean_abs_final_gap: mean(&|r| r.final_gap.abs()),
                mean_published_bound: mean(&|r| r.bound.published_bound),
                mean_corrected_bound: mean(&|r| r.bound.corrected_bound),
                published_violations: g.iter().filter(|r| r.bound.published_violated).count(),
                corrected_violations: g.iter().filter(|r| r.bound.corrected_violated).count(),
            }
        })
        .collect()
}

fn pairs_csv(rows: &[PairRow]) -> String {
    let mut s = String::from(
        "objective,pair,n_vars,relation_a,relation_b,shared_fraction,differing_tokens,margin0_a,margin0_b,margin_a,margin_b,final_gap,\
gap,rho,delta,a,b,distance,kappa,weight_norm_bound,published_bound,corrected_bound,published_violated,corrected_violated\n",
    );
    for r in rows {
        let b = &r.bound;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.objective, r.pair, r.n_vars, r.relation_a, r.relation_b, r.shared_fraction, r.differing_tokens, r.margin_theta0.0,
            r.margin_theta0.1, r.margin_final.0, r.margin_final.1, r.final_gap, b.gap, b.rho, b.delta, b.a, b.b, b.distance, b.kappa,
            b.weight_norm_bound, b.published_bound, b.corrected_bound, b.published_violated, b.corrected_violated
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
    /// Stage 2 summary (B per objective).
    pub train: &'a TrainStageSummary,
    /// The training plan (objectives, seed).
    pub plan: &'a TrainPlan,
    /// Maximum encoded length.
    pub max_length: usize,
    /// Compute backend.
    pub backend: Backend,
}

/// K₀ over the inputs, written as `K_theta0.npy`; returns (K, records).
fn theta0_gram(inp: &KernelInputs<'_>, cfg: &KernelConfig, dir: &Path, reporter: &dyn Reporter) -> Result<(Vec<f64>, Vec<EncodedRecord>)> {
    let device = inp.backend.autodiff_device()?;
    let theta0 = ModelSpec::Dir(inp.trained.join("sft").join("theta0"));
    let mut loaded = load(&theta0, &LoadOptions { seed: inp.plan.seed, head_file: None }, &device)?;
    loaded.tokenizer.set_max_length(inp.max_length)?;
    let (records, _) = encode_all(&dir.join("inputs.jsonl"), loaded.tokenizer.as_ref())?;
    let x: Vec<_> = records.iter().map(|r| r.encoding.clone()).collect();
    let bar = reporter.bar(x.len() as u64, "eNTK gram");
    let options = GramOptions { block: cfg.block, kernels: KernelChoice::CpuF64, ..GramOptions::default() };
    let k = gram(&loaded.classifier, &x, None, loaded.tokenizer.pad_id()?, &options, &device, &mut |n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    let ids: Vec<String> = records.iter().map(|r| r.record.id.clone().unwrap_or_else(|| format!("line {}", r.line))).collect();
    k.check_finite(&ids)?;
    npy::write_f64(&dir.join("K_theta0.npy"), &[k.rows, k.cols], &k.values)?;
    Ok((k.values, records))
}

/// Run stage 4 into `dir`.
///
/// # Errors
/// Reading the pairs, model loading, a non-finite Gram entry (ids named) or write failures.
pub fn run(inp: &KernelInputs<'_>, cfg: &KernelConfig, dir: &Path, reporter: &dyn Reporter) -> Result<KernelStageSummary> {
    let pairs = read_pairs(&inp.data.join("pairs.jsonl"))?;
    write_inputs(&pairs, &dir.join("inputs.jsonl"))?;
    let (k, records) = theta0_gram(inp, cfg, dir, reporter)?;
    let n = records.len();
    let view = GramView { rows: n, cols: n, values: &k };
    let m0 = margins_of(&inp.trained.join("sft").join("theta0"), inp.plan.seed, inp.max_length, inp.backend, &records)?;
    npy::write_f64(&dir.join("margins_theta0.npy"), &[n], &m0)?;
    let (mut rows, mut norms) = (Vec::new(), BTreeMap::new());
    for run in &inp.train.runs {
        let mt = margins_of(&inp.trained.join(&run.objective).join("best"), inp.plan.seed, inp.max_length, inp.backend, &records)?;
        npy::write_f64(&dir.join(format!("margins_{}.npy", run.objective)), &[n], &mt)?;
        rows.extend(bound_rows(&run.objective, &view, &pairs, &m0, &mt, run.weight_distance)?);
        norms.insert(run.objective.clone(), run.weight_distance);
    }
    if rows.is_empty() {
        return Err(Error::invalid("demo", format!("no trained objective to analyse (expected {})", objective_name(crate::train::Objective::Sft))));
    }
    write_atomic(dir.join("pairs.csv"), pairs_csv(&rows).as_bytes())?;
    let kappa = rows[0].bound.kappa;
    let summary = KernelStageSummary { inputs: n, kappa, weight_norm_bounds: norms, by_size: size_rows(&rows), pairs: rows };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}
