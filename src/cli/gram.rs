//! `ntkgap gram`: the eNTK Gram matrix K(X₁, X₁) or K(X₁, X₂) of a model's margin on JSONL
//! inputs, as an f64 `.npy`, with `<stem>.meta.json` beside it (settings, input hashes; no
//! timings, so same inputs give identical bytes). Timings go to stderr.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};

use crate::cli::model_args::{bar, ModelArgs};
use crate::model::{DeviceChoice, ModelSpec};
use crate::ntk::{gram, GramOptions, NtkMethod, ParamSubset};
use crate::report::{npy, Meta};
use crate::tokenize::stream::{encode_all, EncodedRecord};

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// One backward per block, exact per-layer contractions (default).
    PerLayer,
    /// Reference twin: one backward per example, flattened gradients.
    Naive,
}

/// `--exclude`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExcludeArg {
    /// Word, position and token-type tables.
    Embeddings,
    /// The classification head.
    Head,
}

/// `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnlyArg {
    /// Bias vectors (Linear biases, LayerNorm β).
    Biases,
}

/// Compute an eNTK Gram matrix.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap gram --model builtin:tiny --input pairs.jsonl --out K.npy\n  \
    ntkgap gram --model .cache/models/all-MiniLM-L6-v2 --input a.jsonl --input2 b.jsonl --max-len 128 \\\n      \
    --exclude embeddings --block 4 --out K_ab.npy")]
pub struct GramArgs {
    /// `builtin:tiny`, `builtin:small`, or a Hugging Face model directory.
    #[arg(long)]
    pub model: String,
    /// Safetensors file of classification-head tensors replacing (or supplying) the model's.
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
    /// Input JSONL (X₁): `{"premise", "hypothesis"}` or `{"text"}` records.
    #[arg(long)]
    pub input: PathBuf,
    /// Second input JSONL (X₂) for the rectangular K(X₁, X₂).
    #[arg(long)]
    pub input2: Option<PathBuf>,
    /// Output `.npy` (float64, shape (N₁, N₂)); `<stem>.meta.json` beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Method.
    #[arg(long, value_enum, default_value_t = MethodArg::PerLayer)]
    pub method: MethodArg,
    /// Leave a parameter group out.
    #[arg(long, value_enum, conflicts_with = "only")]
    pub exclude: Option<ExcludeArg>,
    /// Keep only a parameter group.
    #[arg(long, value_enum)]
    pub only: Option<OnlyArg>,
    /// Examples per forward/backward block (never changes the result).
    #[arg(long, default_value_t = 8)]
    pub block: usize,
    /// Maximum encoded length in tokens (default: the tokenizer's, capped by the model).
    #[arg(long, value_name = "L", alias = "max-length")]
    pub max_len: Option<usize>,
    /// Seed of freshly initialised weights (built-in models, missing heads).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the model's forward/backward runs: `auto` (a hardware GPU if wgpu finds one, else
    /// the CPU), `cpu` or `wgpu` (the best wgpu adapter, software adapters included).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, alias = "backend")]
    pub device: DeviceChoice,
}

impl GramArgs {
    fn options(&self) -> crate::Result<GramOptions> {
        let subset = match (self.exclude, self.only) {
            (Some(ExcludeArg::Embeddings), _) => ParamSubset::ExcludeEmbeddings,
            (Some(ExcludeArg::Head), _) => ParamSubset::ExcludeHead,
            (None, Some(OnlyArg::Biases)) => ParamSubset::OnlyBiases,
            (None, None) => ParamSubset::All,
        };
        let method = match self.method {
            MethodArg::PerLayer => NtkMethod::PerLayer,
            MethodArg::Naive => NtkMethod::Naive,
        };
        let options = GramOptions { method, subset, block: self.block, ..Default::default() };
        options.validate().map_err(|_| crate::Error::invalid("--block", format!("{} is outside 1..={}", self.block, crate::ntk::options::MAX_BLOCK)))?;
        if self.out.extension().is_none_or(|e| e != "npy") {
            return Err(crate::Error::invalid("--out", format!("{} must end in .npy", self.out.display())));
        }
        Ok(options)
    }
}

fn row_ids(records: &[EncodedRecord]) -> Vec<String> {
    records.iter().map(|r| r.record.id.clone().unwrap_or_else(|| format!("line {}", r.line))).collect()
}

/// Run `ntkgap gram`.
///
/// # Errors
/// A library error (exit 2) for a bad model, input or flag, or a non-finite Gram value (the
/// offending row ids named); nothing is written then.
pub fn run(args: GramArgs) -> anyhow::Result<()> {
    let options = args.options()?;
    let model_args = ModelArgs { model: args.model.clone(), head: args.head.clone(), max_len: args.max_len, batch: args.block, device: args.device };
    let (loaded, compute) = model_args.load(args.seed, true)?;
    let tokenizer = loaded.tokenizer.as_ref();
    let (first, summary) = encode_all(&args.input, tokenizer)?;
    let second = args.input2.as_ref().map(|p| encode_all(p, tokenizer)).transpose()?;
    let x1: Vec<_> = first.iter().map(|r| r.encoding.clone()).collect();
    let x2: Option<Vec<_>> = second.as_ref().map(|(records, _)| records.iter().map(|r| r.encoding.clone()).collect());
    let device = compute.device(true);
    compute.announce();
    let progress = bar(x1.len() + x2.as_ref().map_or(0, Vec::len), "gram");
    let mut done = 0;
    let started = Instant::now();
    let k = gram(&loaded.classifier, &x1, x2.as_deref(), tokenizer.pad_id()?, &options, &device, &mut |n| {
        done += n;
        progress.set_position(done as u64);
    })?;
    progress.finish_and_clear();
    k.check_finite(&row_ids(&first))?;
    npy::write_f64(&args.out, &[k.rows, k.cols], &k.values)?;
    let mut meta = Meta::new(Some(args.seed));
    meta.add_input(&args.input)?;
    if let Some(p) = &args.input2 {
        meta.add_input(p)?;
    }
    if let ModelSpec::Dir(dir) = ModelSpec::parse(&args.model)? {
        meta.add_input(dir.join("model.safetensors"))?.add_input(dir.join("config.json"))?;
    }
    meta.set("model", &args.model).set("head", args.head.as_ref().map(|p| p.display().to_string()));
    meta.set("method", options.method).set("output", options.output).set("subset", options.subset).set("block", options.block);
    meta.set("linear_form", options.linear_form).set("max_length", tokenizer.max_length()).set("encoding", summary);
    meta.set("shape", [k.rows, k.cols]).set("model_config", &loaded.classifier.config).set("device", compute.describe());
    meta.write(super::meta_path(&args.out))?;
    if let Some(line) = summary.truncation_line() {
        eprintln!("{line}");
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("gram: {} x {} in {secs:.2} s ({:?}, block {}, {})", k.rows, k.cols, options.method, options.block, compute.describe());
    println!("{} x {} Gram -> {}", k.rows, k.cols, args.out.display());
    Ok(())
}
