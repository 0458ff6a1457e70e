//! `ntkgap bound`: the Theorem 1 check (published vs corrected bound), in two modes.
//!
//! * `--gram K.npy --scores s.npy --pairs "i,j;…" --weight-norm B`: on a user-given Gram
//!   matrix and scores (pure arithmetic, [`crate::bound`]).
//! * `--model DIR --pairs pairs.jsonl [--train train.jsonl] [--predictor …] [--init DIR]
//!   [--kernel entk|last-layer]`: K is the model's eNTK or its last-layer kernel φφᵀ, the
//!   predictor a kernel ridge/logistic fit, the fine-tuned network or the frozen model's own
//!   readout ⟨w, φ⟩ + c with B = ‖w‖ ([`crate::gap`]). Encoder classifiers and decoders
//!   (Hugging Face directories, GGUF files, `builtin:tiny-decoder`; f = z_yes − z_no of the
//!   label words, prompted by `--label-words`, `--prompt`, `--chat`).
//!
//! Both write `pairs.csv` (the first ten columns
//! `i,j,gap,delta,a,b,published_bound,corrected_bound,published_violated,corrected_violated`
//! in both modes), `summary.json` and `meta.json` into `--out`; the model mode adds the plots.
//! Nothing is left behind on bad input.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::bound::table::{csv, gram_csv, render_table};
use crate::bound::{analyse, parse_pairs, Predictor};
use crate::cli::gap_args::{bars, PredictorArgs};
use crate::error::{Error, Result};
use crate::files::{npy, write_atomic, write_json_atomic, Meta, OutputDir};
use crate::gap::{self, Analysis, PairInputs, PredictorModel, TrainSet};
use crate::report::bound_charts as charts;
use crate::tokenize::summary::read_pairs;
use ndarray::{Array1, Array2};

/// Check the published and the corrected kernel bound per pair.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap bound --gram K.npy --scores s.npy --pairs \"0,1\" --weight-norm 1 --out bound_out\n  \
    ntkgap bound --model runs/tiny/best --pairs pairs.jsonl --train data/c2c35/train.jsonl --out b_ridge\n  \
    ntkgap bound --model runs/tiny/best --pairs pairs.jsonl --predictor network --init runs/tiny/theta0 --out b_net\n  \
    ntkgap bound --model .cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf --pairs pairs.jsonl \\\n      \
    --kernel last-layer --out b_readout\n\
    With K = [[1, 0.5], [0.5, 0.25]] and s = [1, 0.5] (the 1-D counterexample φ = (1, ½), w = 1):\n\
    δ = 0, the published bound is 0 and is violated by the gap 0.5; the corrected bound is 0.5.")]
pub struct BoundArgs {
    /// Gram mode: Gram matrix K, an (n, n) float32/float64 `.npy`.
    #[arg(long, value_name = "K.npy")]
    pub gram: Option<PathBuf>,
    /// Gram mode: scores s, a float32/float64 `.npy` of shape (n,) or (n, 1).
    #[arg(long, value_name = "s.npy")]
    pub scores: Option<PathBuf>,
    /// Gram mode: index pairs "i,j;k,l". Model mode: a pairs JSONL from `ntkgap pairs`.
    #[arg(long, value_name = "PAIRS")]
    pub pairs: String,
    /// Gram mode: B, the bound on the weight norm ‖w‖ (finite, ≥ 0).
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    pub weight_norm: Option<f64>,
    /// Model mode: `builtin:tiny|small|tiny-decoder`, a Hugging Face model directory (BERT,
    /// RoBERTa, Llama, Mistral, Qwen2, GPT-2) or a GGUF file (θ_T for the network).
    #[arg(long)]
    pub model: Option<String>,
    /// Model mode, kernel predictors: labelled training JSONL.
    #[arg(long, value_name = "FILE")]
    pub train: Option<PathBuf>,
    /// Kernel predictors: use at most N training records (a seeded sample).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_train: usize,
    /// Predictor, eNTK and length options (model mode).
    #[command(flatten)]
    pub predictor: PredictorArgs,
    /// Seed of the training-record sample (and of fresh built-in weights).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

fn read_gram(path: &Path) -> Result<Array2<f64>> {
    let array = npy::read(path)?;
    match *array.shape() {
        [rows, cols] if rows == cols => Ok(array.values.into_dimensionality().expect("two axes")),
        _ => Err(Error::bad_input(path, format!("Gram matrix must be square (n, n), got shape {:?}", array.shape()))),
    }
}

fn read_scores(path: &Path) -> Result<Array1<f64>> {
    let array = npy::read(path)?;
    match *array.shape() {
        [n] | [n, 1] => Ok(array.values.into_shape_with_order(n).expect("n values")),
        _ => Err(Error::bad_input(path, format!("scores must have shape (n,) or (n, 1), got {:?}", array.shape()))),
    }
}

fn run_gram(args: &BoundArgs, gram_path: &Path) -> anyhow::Result<()> {
    if args.model.is_some() || args.train.is_some() {
        return Err(Error::invalid(
            "--gram",
            "takes --scores, --pairs \"i,j;…\" and --weight-norm, not --model or --train",
        )
        .into());
    }
    let scores_path = args.scores.as_ref().ok_or_else(|| Error::invalid("--scores", "--gram needs --scores s.npy"))?;
    let weight_norm =
        args.weight_norm.ok_or_else(|| Error::invalid("--weight-norm", "--gram needs --weight-norm B"))?;
    let pairs = parse_pairs(&args.pairs)?;
    let gram = read_gram(gram_path)?;
    let n = gram.nrows();
    let scores = read_scores(scores_path)?;
    let (reports, summary) = analyse(gram.view(), scores.view(), &pairs, weight_norm)?;
    let mut meta = Meta::new(None);
    meta.add_input(gram_path)?.add_input(scores_path)?;
    meta.set("pairs", &pairs).set("weight_norm_bound", weight_norm).set("n", n).set("summary", &summary);
    let dir = OutputDir::create(&args.out)?;
    write_atomic(dir.path().join("pairs.csv"), gram_csv(&reports).as_bytes())?;
    write_json_atomic(dir.path().join("summary.json"), &summary)?;
    meta.write(dir.path().join("meta.json"))?;
    let out = dir.keep();
    for r in reports.iter().take(20) {
        println!(
            "pair ({}, {}): gap {:.6}  delta {:.6}  published {:.6}{}  corrected {:.6}{}  b_min {:.6}",
            r.i,
            r.j,
            r.gap,
            r.delta,
            r.published_bound,
            if r.published_violated { " VIOLATED" } else { "" },
            r.corrected_bound,
            if r.corrected_violated { " VIOLATED" } else { "" },
            r.b_min
        );
    }
    println!(
        "{} pairs, kappa {:.6}: published bound violated by {}, corrected bound by {} -> {}",
        summary.pairs,
        summary.kappa,
        summary.published_violations,
        summary.corrected_violations,
        out.display()
    );
    Ok(())
}

/// A seeded sample of at most `max` labelled training records from `path` ([`TrainSet::sample_file`]).
fn training_set(
    path: &Path,
    tokenizer: &dyn crate::tokenize::Tokenizer,
    max: usize,
    seed: u64,
) -> Result<(TrainSet, usize)> {
    if max == 0 {
        return Err(Error::invalid("--max-train", "must be at least 1"));
    }
    TrainSet::sample_file(path, tokenizer, max, seed)
}

fn write_model_outputs(args: &BoundArgs, analysis: &Analysis, meta: &Meta) -> Result<PathBuf> {
    let dir = OutputDir::create(&args.out)?;
    let name = predictor_name(analysis.summary.predictor);
    write_atomic(dir.path().join("pairs.csv"), csv(&analysis.rows).as_bytes())?;
    write_json_atomic(dir.path().join("summary.json"), &analysis.summary)?;
    charts::gap_vs_overlap(&analysis.rows, name).save(dir.path().join("gap_vs_overlap"))?;
    if let Some((actual, linear)) = &analysis.changes {
        charts::linearization(actual, linear).save(dir.path().join("linearization"))?;
    }
    meta.write(dir.path().join("meta.json"))?;
    Ok(dir.keep())
}

/// The `--predictor` spelling.
pub fn predictor_name(p: Predictor) -> &'static str {
    p.as_str()
}

fn run_model(args: &BoundArgs, model: &str) -> anyhow::Result<()> {
    if args.scores.is_some() || args.weight_norm.is_some() {
        return Err(Error::invalid(
            "--model",
            "takes --pairs pairs.jsonl; --scores and --weight-norm belong to --gram",
        )
        .into());
    }
    let resolved = args.predictor.resolve()?;
    let kernel = matches!(resolved.predictor, Predictor::KernelRidge | Predictor::KernelLogistic);
    match (&args.train, kernel) {
        (None, true) => {
            return Err(Error::invalid(
                "--train",
                format!("--predictor {} needs --train FILE (labelled records)", predictor_name(resolved.predictor)),
            )
            .into())
        }
        (Some(_), false) => return Err(Error::invalid("--train", "is only used by the kernel predictors").into()),
        _ => {}
    }
    let pairs_path = PathBuf::from(&args.pairs);
    let pairs = read_pairs(&pairs_path)?;
    let loaded = args.predictor.load(model, args.seed)?;
    let tokenizer = loaded.model.tokenizer();
    let inputs = PairInputs::from_pairs(&pairs, &pairs_path, tokenizer)?;
    let train = args.train.as_ref().map(|p| training_set(p, tokenizer, args.max_train, args.seed)).transpose()?;
    let chosen = match (&train, loaded.gap_init()) {
        (Some((set, _)), _) => PredictorModel::Kernel { train: set, config: resolved.kernel },
        (None, Some(init)) => {
            PredictorModel::Network { init, source: args.predictor.init.as_deref().unwrap_or_default() }
        }
        (None, None) => PredictorModel::Readout,
    };
    let device = loaded.compute.device(true);
    crate::cli::model_args::announce(&loaded.compute);
    let mut bars = bars();
    let pad = tokenizer.pad_id()?;
    let analysis = gap::analyse(loaded.gap_model(), &inputs, chosen, pad, &resolved.analysis, &device, &mut bars)?;
    let mut meta = Meta::new(Some(args.seed));
    meta.add_input(&pairs_path)?;
    if let Some(p) = &args.train {
        meta.add_input(p)?;
    }
    args.predictor.add_inputs(&mut meta, model)?;
    meta.set("model", model)
        .set("init", &args.predictor.init)
        .set("predictor", resolved.predictor)
        .set("kernel", resolved.analysis.kernel)
        .set("gram", resolved.analysis.gram)
        .set("decoder", loaded.prompting());
    meta.set("max_length", tokenizer.max_length())
        .set("truncated_inputs", inputs.truncated)
        .set("summary", &analysis.summary);
    meta.set("train_records", train.as_ref().map(|(set, total)| (set.targets.len(), *total)));
    let out = write_model_outputs(args, &analysis, &meta)?;
    print_model_summary(&analysis, inputs.truncated, &out);
    Ok(())
}

fn print_model_summary(analysis: &Analysis, truncated: usize, out: &Path) {
    let s = &analysis.summary;
    if truncated > 0 {
        eprintln!("note: {truncated} of {} analysed inputs were truncated (premise only)", s.inputs);
    }
    print!("{}", render_table(&s.by_n_vars));
    if let Some(k) = &s.kernel {
        println!(
            "{}: lambda {:.4e} (r = {}), {} training inputs ({} entailed), train accuracy {:.3}, {} iteration(s){}",
            predictor_name(s.predictor),
            k.fit.lambda,
            k.relative_ridge,
            k.train_inputs,
            k.train_positives,
            k.fit.train_accuracy,
            k.fit.iterations,
            if k.fit.converged { "" } else { " (NOT converged)" }
        );
    }
    if let Some(r) = &s.readout {
        println!(
            "readout: B = |w| = {:.6e} (w = yes row - no row, H = {}), c = {:.3e}; max |f - (<w, phi> + c)| = {:.3e} (max |f| {:.3e})",
            r.weight_norm, r.feature_width, r.bias_difference, r.max_identity_error, r.max_abs_margin
        );
    }
    if let Some(n) = &s.network {
        let d = &n.diagnostics;
        println!(
            "network: kernel drift {:.4}, |theta_T - theta_0| / |theta_0| = {:.4}, linearization relative error {:.4} (correlation {:.4}); linearized gap violates the corrected bound on {} pairs",
            d.kernel_drift, d.relative_parameter_change, d.linearization.relative_error, d.linearization.correlation, n.linearized_corrected_violations
        );
    }
    println!(
        "{} pairs, {} inputs, B {:.6e}, kappa {:.6e} (max over the analysed inputs): published bound violated by {} ({:.1} %), corrected bound by {} -> {}",
        s.pairs, s.inputs, s.weight_norm_bound, s.kappa, s.overall.published_violations, 100.0 * s.overall.published_violation_rate, s.overall.corrected_violations, out.display()
    );
}

/// Run `ntkgap bound`.
///
/// # Errors
/// A library error (exit 2) for an unreadable or malformed input, inconsistent flags (e.g.
/// `--predictor network` without `--init`), an invalid pair or B; nothing is written then.
pub fn run(args: BoundArgs) -> anyhow::Result<()> {
    match (&args.gram, &args.model) {
        (Some(gram), None) => run_gram(&args, gram),
        (None, Some(model)) => run_model(&args, model),
        (Some(_), Some(_)) => {
            Err(Error::invalid("--gram", "cannot be combined with --model (two different modes)").into())
        }
        (None, None) => Err(Error::invalid(
            "--model",
            "one of --gram K.npy (with --scores, --weight-norm) or --model DIR is required",
        )
        .into()),
    }
}
