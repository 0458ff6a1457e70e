//! `ntkgap gram`: the eNTK Gram matrix K(X₁, X₁) or K(X₁, X₂) (or a row slab of it) of a
//! model's output on JSONL inputs, as an f64 `.npy`, with `<stem>.meta.json` beside it
//! (settings, input hashes, shape; no timings, so same inputs give identical bytes). Timings,
//! FLOP rates and the peak RSS go to stderr.
//!
//! Encoder classifiers and decoders alike (`--model` a BERT/RoBERTa or Llama/Mistral/Qwen2/GPT-2
//! directory, `builtin:tiny|small|tiny-decoder`): a decoder differentiates z_yes − z_no of its
//! label words (`--label-words`, default " No" " Yes") at the last token of each record, the
//! records verbatim (`{"text"}`) or through the default prompt template (premise/hypothesis),
//! as `ntkgap forward` reads them. `--kernel last-layer` writes K = φφᵀ instead, φ the input of
//! the final linear readout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};

use crate::cli::decoder_args::DecoderArgs;
use crate::cli::model_args::DeviceArg;
use crate::cli::model_args::{bar, ModelArgs};
use crate::files::memory::{format_bytes, parse_bytes, peak_rss_bytes};
use crate::files::{npy, write_json_atomic, Meta, OutputDir};
use crate::gpu::ComputeDevice;
use crate::model::{AnyModel, ModelSpec};
use crate::ntk::fastfb::tally;
use crate::ntk::shard::{first_difference, slab_meta};
use crate::ntk::{
    gram, gram_with_kernels, last_layer_gram, Gram, GramOptions, KernelChoice, NtkMethod, NtkModel, OutputMode,
    ParamSubset, SignalPath,
};
use crate::tokenize::stream::{encode_all, EncodeSummary, EncodedRecord};
use crate::tokenize::Tokenizer;

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// One backward per block, exact per-layer contractions (default).
    PerLayer,
    /// Reference twin: one backward per example, flattened gradients.
    Naive,
}

/// `--products`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProductsArg {
    /// f32 GEMMs, each added into the f64 Gram (fastest; entries exact to ≈ 1e-7 relative).
    F32,
    /// f64 products on the CPU: K is PSD up to f64 rounding — use it when K₊₊ + K₋₋ − 2K₊₋ of
    /// near-identical inputs matters (δ below ≈ 1e-6, e.g. before `ntkgap bound --gram`).
    F64,
}

/// `--signals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignalsArg {
    /// The hand-written f32 CPU forward + activation backward on the CPU; burn on wgpu (default).
    Fast,
    /// burn's probed forward + autodiff backward (the reference twin of `fast`).
    Burn,
}

/// `--exclude`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExcludeArg {
    /// Word, position and token-type tables (decoders: the token table, both uses when tied,
    /// and GPT-2's positions).
    Embeddings,
    /// The head (encoder: pooler/classifier; decoder: the unembedding rows — `lm_head`, or the
    /// output use of a tied token table — or the sequence-classification `score`).
    Head,
}

/// `--kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KernelArg {
    /// The empirical NTK ⟨∇θ f(x), ∇θ f(x')⟩ (default).
    Entk,
    /// The last-layer kernel ⟨φ(x), φ(x')⟩, φ the input of the final linear readout (decoder:
    /// the final-normed hidden state at the last token; encoder: the pooled vector).
    LastLayer,
}

impl KernelArg {
    /// The `--kernel` value naming this choice.
    pub fn flag(self) -> &'static str {
        match self {
            KernelArg::Entk => "entk",
            KernelArg::LastLayer => "last-layer",
        }
    }
}

/// `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnlyArg {
    /// Bias vectors (Linear biases, LayerNorm β).
    Biases,
}

fn parse_output(s: &str) -> Result<OutputMode, String> {
    s.parse().map_err(|e: crate::Error| e.to_string())
}

/// Parse `i..j` (end exclusive).
fn parse_rows(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{s}` is not a row range like 0..128");
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    Ok((a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?))
}

/// Compute an eNTK Gram matrix.
#[derive(Debug, Args)]
#[command(after_help = "Output modes (--output):\n  \
    margin    f = logit₁ − logit₀ (2 labels; log-odds of label 1 otherwise) — default\n  \
    logit:K   f = logit_K\n  \
    trace     Σ_o K_o over logits — a SUM (neural-tangents' trace_axes divides by the number of logits)\n  \
    full      every logit pair: shape (N₁, N₂, O, O)\n  \
    pntk      the kernel of Σ_o logit_o (pseudo-NTK) — an approximation of trace\n\n\
Decoders: f = z_yes − z_no of the label words (--label-words, default \" No\" \" Yes\") at the last\n  \
    token; logit:0 is the no-word, logit:1 the yes-word (or the classes of a sequence classifier).\n  \
    --kernel last-layer writes K = φφᵀ, φ the input of the final linear readout.\n\n\
Sharding: --rows i..j computes rows i..j of K (against all columns); merge the slabs with\n  \
    ntkgap gram-merge --out K.npy K_0.npy K_1.npy …\n\
--resume skips a run whose --out and meta.json already hold its result (same inputs, model,\n  \
    settings and rows), e.g. the finished tasks of a re-submitted array job.\n\n\
Examples:\n  \
    ntkgap gram --model builtin:tiny --input pairs.jsonl --out K.npy\n  \
    ntkgap gram --model builtin:tiny-decoder --input pairs.jsonl --output full --out K_dec.npy\n  \
    ntkgap gram --model .cache/models/all-MiniLM-L6-v2 --input a.jsonl --input2 b.jsonl --max-len 128 \\\n      \
    --exclude embeddings --block 4 --out K_ab.npy\n  \
    ntkgap gram --model DIR --input x.jsonl --max-len 128 --rows 0..256 --out K_0.npy --resume")]
pub struct GramArgs {
    /// `builtin:tiny`, `builtin:small`, `builtin:tiny-decoder`, or a Hugging Face model directory
    /// (BERT/RoBERTa classifier, or a Llama/Mistral/Qwen2/GPT-2 decoder).
    #[arg(long)]
    pub model: String,
    /// Decoder prompting: --label-words, --prompt, --chat.
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// The kernel: `entk` (default) or `last-layer` (φφᵀ, φ the input of the final linear readout).
    #[arg(long, value_enum, default_value_t = KernelArg::Entk)]
    pub kernel: KernelArg,
    /// Safetensors file of classification-head tensors replacing (or supplying) the model's.
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
    /// Input JSONL (X₁): `{"premise", "hypothesis"}` or `{"text"}` records.
    #[arg(long)]
    pub input: PathBuf,
    /// Second input JSONL (X₂) for the rectangular K(X₁, X₂).
    #[arg(long)]
    pub input2: Option<PathBuf>,
    /// Output `.npy` (float64, shape (N₁, N₂), or (N₁, N₂, O, O) for full); `<stem>.meta.json` beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Method.
    #[arg(long, value_enum, default_value_t = MethodArg::PerLayer)]
    pub method: MethodArg,
    /// The differentiated output: margin, logit:K, trace, full or pntk (see below).
    #[arg(long, default_value = "margin", value_parser = parse_output)]
    pub output: OutputMode,
    /// Leave a parameter group out.
    #[arg(long, value_enum, conflicts_with = "only")]
    pub exclude: Option<ExcludeArg>,
    /// Keep only a parameter group.
    #[arg(long, value_enum)]
    pub only: Option<OnlyArg>,
    /// Per-layer signals: `fast` (hand-written CPU forward + backward; burn on wgpu) or `burn`
    /// (burn's probed autodiff pass, the reference twin). Changes K only by f32 rounding.
    #[arg(long, value_enum, default_value_t = SignalsArg::Fast)]
    pub signals: SignalsArg,
    /// Examples per forward/backward block (never changes the result).
    #[arg(long, default_value_t = 8)]
    pub block: usize,
    /// Compute only rows i..j of K (end exclusive), against all columns (sharding).
    #[arg(long, value_name = "I..J", value_parser = parse_rows)]
    pub rows: Option<(usize, usize)>,
    /// Host memory for signals and feature chunks (e.g. 512M, 3G); signals spill to $TMPDIR above half of it.
    #[arg(long, value_name = "SIZE", default_value = "3G", value_parser = parse_bytes)]
    pub memory_budget: usize,
    /// Passes over the data, each storing the signals of a run of layers (default: 1, or as
    /// few as let spilled signals fit $TMPDIR's free space). Never changes K; each pass
    /// recomputes the forward + backward.
    #[arg(long, value_name = "P")]
    pub signal_passes: Option<usize>,
    /// Also write each parameter tensor's contribution as DIR/<name>.npy (they sum to K).
    #[arg(long, value_name = "DIR")]
    pub breakdown: Option<PathBuf>,
    /// Maximum encoded length in tokens (default: the tokenizer's, capped by the model).
    #[arg(long, value_name = "L", alias = "max-length")]
    pub max_len: Option<usize>,
    /// Seed of freshly initialised weights (built-in models, missing heads).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the model's forward/backward and the Gram assembly run: `auto` (a hardware GPU if
    /// wgpu finds one, else the CPU), `cpu` or `wgpu` (the best wgpu adapter, software adapters
    /// included; the WGSL kernels of `kernels/` assemble K).
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto, alias = "backend")]
    pub device: DeviceArg,
    /// Element type of the Gram-assembly products (`f64` always assembles on the CPU).
    #[arg(long, value_enum, default_value_t = ProductsArg::F32)]
    pub products: ProductsArg,
    /// Skip the computation when `--out` and its meta.json already hold this run's result: same
    /// input and model hashes, seed, version, settings and rows (a missing, unreadable or
    /// different output is recomputed). For re-running slabs of an array job.
    #[arg(long, conflicts_with = "breakdown")]
    pub resume: bool,
    /// Write the run's timings, FLOP counts and peak RSS as JSON (used by `ntkgap bench gram`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub stats_json: Option<PathBuf>,
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
        let (block, rows, memory_budget, breakdown) =
            (self.block, self.rows, self.memory_budget, self.breakdown.is_some());
        let signals = match self.signals {
            SignalsArg::Fast => SignalPath::Fast,
            SignalsArg::Burn => SignalPath::Burn,
        };
        let options = GramOptions {
            method,
            output: self.output,
            subset,
            block,
            rows,
            memory_budget,
            breakdown,
            signals,
            signal_passes: self.signal_passes,
            ..Default::default()
        };
        options.validate()?;
        if self.kernel == KernelArg::LastLayer {
            let conflict = [
                (self.method != MethodArg::PerLayer, "--method"),
                (self.output != OutputMode::Margin, "--output"),
                (self.exclude.is_some() || self.only.is_some(), "--exclude/--only"),
                (self.breakdown.is_some(), "--breakdown"),
            ];
            if let Some((_, flag)) = conflict.iter().find(|(bad, _)| *bad) {
                return Err(crate::Error::invalid(
                    *flag,
                    "does not apply to --kernel last-layer (K = φφᵀ has no output mode, subset or method)",
                ));
            }
        }
        if self.out.extension().is_none_or(|e| e != "npy") {
            return Err(crate::Error::invalid("--out", format!("{} must end in .npy", self.out.display())));
        }
        Ok(options)
    }
}

fn row_ids(records: &[EncodedRecord]) -> Vec<String> {
    records.iter().map(|r| r.record.id.clone().unwrap_or_else(|| format!("line {}", r.line))).collect()
}

/// `values` (`[rows, cols, O, O]`) in the shape written to `.npy` (`[rows, cols]` when O = 1).
fn npy_view<'a>(values: &'a ndarray::Array4<f64>, shape: &[usize]) -> ndarray::ArrayViewD<'a, f64> {
    values.view().into_dyn().into_shape_with_order(shape).expect("the same number of values")
}

fn write_breakdown(dir: &Path, k: &Gram, meta: &Meta) -> crate::Result<()> {
    let out = OutputDir::create(dir)?;
    for (name, values) in &k.groups {
        npy::write(&out.path().join(format!("{name}.npy")), &npy_view(values, &k.shape()))?;
    }
    let mut meta = meta.clone();
    meta.set("groups", k.groups.keys().collect::<Vec<_>>());
    meta.write(out.path().join("meta.json"))?;
    out.keep();
    Ok(())
}

/// What `meta.json` records about the model besides its flags.
struct ModelMeta {
    /// The resolved config.
    config: serde_json::Value,
    /// The readout of a decoder (label words and ids, or classes).
    readout: Option<serde_json::Value>,
    /// How a decoder is prompted (template, chat, label words).
    template: Option<serde_json::Value>,
    /// The tokenizer's maximum length.
    max_length: usize,
}

/// The checkpoint files whose hashes identify a model directory.
fn checkpoint_files(dir: &Path) -> Vec<PathBuf> {
    let single = dir.join("model.safetensors");
    let weights = if single.is_file() { single } else { dir.join("model.safetensors.index.json") };
    vec![weights, dir.join("config.json")]
}

/// The `meta.json` of a Gram output (no timings), as far as it is known before the computation:
/// everything but the signal path that ran and the shape (set by [`finish_meta`]). `rows` is the
/// requested range (all of X₁ unsharded).
fn gram_meta(
    args: &GramArgs,
    (options, kernels): (&GramOptions, &str),
    (rows, total_rows): ((usize, usize), usize),
    (model, compute): (&ModelMeta, &ComputeDevice),
    summary: impl serde::Serialize,
) -> crate::Result<Meta> {
    let mut meta = Meta::new(Some(args.seed));
    meta.add_input(&args.input)?;
    if let Some(p) = &args.input2 {
        meta.add_input(p)?;
    }
    if let ModelSpec::Dir(dir) = ModelSpec::parse(&args.model)? {
        for file in checkpoint_files(&dir) {
            meta.add_input(file)?;
        }
    }
    if let Some(head) = &args.head {
        meta.add_input(head)?;
    }
    meta.set("model", &args.model).set("head", args.head.as_ref().map(|p| p.display().to_string()));
    meta.set("kernel", args.kernel.flag()).set("readout", &model.readout).set("prompting", &model.template);
    let method = (args.kernel == KernelArg::Entk).then_some(options.method);
    meta.set("method", method).set("output", options.output).set("subset", options.subset).set("block", options.block);
    meta.set("linear_form", options.linear_form)
        .set("signals_requested", options.signals)
        .set("kernels", kernels)
        .set("memory_budget", options.memory_budget)
        .set("tile", options.tile);
    meta.set("max_length", model.max_length).set("encoding", summary);
    meta.set("rows", [rows.0, rows.1]).set("total_rows", total_rows);
    meta.set("model_config", &model.config).set("device", compute.describe());
    Ok(meta)
}

/// The meta fields known once K is computed: the signal path that ran, the rows, the shape.
fn finish_meta(meta: &mut Meta, k: &Gram) {
    meta.set("signals", k.stats.signal_blocks.describe());
    meta.set("rows", [k.row_start, k.row_start + k.rows()]).set("shape", k.shape());
}

/// `--resume`: `Ok(())` when `out` and its meta.json hold the result of the run whose meta (as
/// far as known before computing) is `wanted` — same fingerprint ([`slab_meta`], the one
/// gram-merge compares) and rows, and an `.npy` of the shape the meta records; otherwise why not.
fn already_done(out: &Path, wanted: &Meta) -> Result<(), String> {
    let meta_path = super::meta_path(out);
    if !meta_path.is_file() {
        return Err(format!("{} does not exist", meta_path.display()));
    }
    let text = std::fs::read_to_string(&meta_path).map_err(|e| format!("{}: {e}", meta_path.display()))?;
    let found: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", meta_path.display()))?;
    let have = slab_meta(&found).map_err(|what| format!("{} has no {what}", meta_path.display()))?;
    let want = slab_meta(&serde_json::to_value(wanted).expect("a Meta is JSON")).expect("gram_meta sets rows");
    if (have.rows, have.total_rows) != (want.rows, want.total_rows) {
        let ((a, b), n, (c, d), m) = (have.rows, have.total_rows, want.rows, want.total_rows);
        return Err(format!("it holds rows {a}..{b} of {n}, not {c}..{d} of {m}"));
    }
    if let Some(key) = first_difference(&have.fingerprint, &want.fingerprint) {
        return Err(format!("its meta.json differs in {key}"));
    }
    let shape = found["extra"].get("shape").cloned().unwrap_or_default();
    let array = npy::read(out).map_err(|e| e.to_string())?;
    if serde_json::to_value(array.shape()).ok() != Some(shape.clone()) {
        return Err(format!("its shape {:?} is not the {shape} its meta.json records", array.shape()));
    }
    Ok(())
}

/// The timing line: where the time went, the FLOP rates, the memory.
fn report(k: &Gram, (options, kernels): (&GramOptions, &str), what: &str, seconds: f64) -> serde_json::Value {
    let s = &k.stats;
    let rate = |flops: f64, secs: f64| if secs > 0.0 { flops / secs / 1e9 } else { 0.0 };
    let peak = peak_rss_bytes();
    eprintln!(
        "gram: {} x {} in {seconds:.2} s ({what}, block {}, output {}, signals {}, kernels {kernels})",
        k.rows(),
        k.cols(),
        options.block,
        options.output,
        s.signal_blocks.describe(),
    );
    eprintln!(
        "gram: forward+backward {:.2} s ({:.1} GFLOP, {:.1} GFLOP/s); contraction {:.2} s ({:.1} GFLOP, {:.1} GFLOP/s)",
        s.forward_backward_seconds,
        s.forward_backward_flops / 1e9,
        rate(s.forward_backward_flops, s.forward_backward_seconds),
        s.contraction_seconds,
        s.contraction_flops / 1e9,
        rate(s.contraction_flops, s.contraction_seconds),
    );
    let mut store = (if s.spilled { "spilled to $TMPDIR" } else { "in RAM" }).to_string();
    if s.signal_passes > 1 {
        store += &format!(" (the largest of {} passes over the data)", s.signal_passes);
    }
    let peak_text = peak.map_or_else(|| "unknown".to_string(), format_bytes);
    eprintln!("gram: signals {} {store}; peak RSS {peak_text}", format_bytes(s.signal_bytes as u64));
    serde_json::json!({ "seconds": seconds, "stats": s, "peak_rss_bytes": peak, "rows": k.rows(), "cols": k.cols() })
}

/// Encode every record of `path`, refusing an empty file (N = 0).
fn read_input(path: &Path, tokenizer: &dyn Tokenizer) -> crate::Result<(Vec<EncodedRecord>, EncodeSummary)> {
    let (records, summary) = encode_all(path, tokenizer)?;
    if records.is_empty() {
        return Err(crate::Error::bad_input(path, "holds no records (N = 0); a Gram matrix needs at least one"));
    }
    Ok((records, summary))
}

/// Run `ntkgap gram`.
///
/// # Errors
/// A library error (exit 2) for a bad model, input or flag, or a non-finite Gram value (the
/// offending row ids named); nothing is written then.
pub fn run(args: GramArgs) -> anyhow::Result<()> {
    let mut options = args.options()?;
    let model_args = ModelArgs {
        model: args.model.clone(),
        head: args.head.clone(),
        max_len: args.max_len,
        batch: args.block,
        device: args.device,
    };
    let (loaded, compute) = args.decoder.load(&model_args, args.seed, true)?;
    let (model, tokenizer, model_meta): (&dyn NtkModel, &dyn Tokenizer, ModelMeta) = match &loaded {
        AnyModel::Encoder(m) => {
            let meta = ModelMeta {
                config: serde_json::to_value(&m.classifier.config).unwrap_or_default(),
                readout: None,
                template: None,
                max_length: m.tokenizer.max_length(),
            };
            (&m.classifier, m.tokenizer.as_ref(), meta)
        }
        AnyModel::Decoder(m) => {
            let meta = ModelMeta {
                config: serde_json::to_value(&m.model.config).unwrap_or_default(),
                readout: Some(serde_json::to_value(&m.model.readout).unwrap_or_default()),
                template: Some(serde_json::to_value(&m.prompting).unwrap_or_default()),
                max_length: m.tokenizer.max_length(),
            };
            (&m.model, m.tokenizer.as_ref(), meta)
        }
    };
    // f32 products run on the device's own kernels (the WGSL ones on wgpu); f64 products always
    // on the CPU. `kernels` is what meta.json and the timing line record.
    let gpu_kernels = match args.products {
        ProductsArg::F32 => compute.gram_kernels()?,
        ProductsArg::F64 => None,
    };
    options.kernels = if args.products == ProductsArg::F64 { KernelChoice::CpuF64 } else { KernelChoice::Cpu };
    let kernels = if gpu_kernels.is_some() { "Wgpu".to_string() } else { format!("{:?}", options.kernels) };
    let (first, summary) = read_input(&args.input, tokenizer)?;
    let second = args.input2.as_ref().map(|p| read_input(p, tokenizer)).transpose()?;
    let x1: Vec<_> = first.iter().map(|r| r.encoding.clone()).collect();
    let x2: Option<Vec<_>> = second.as_ref().map(|(records, _)| records.iter().map(|r| r.encoding.clone()).collect());
    let kernels = if args.kernel == KernelArg::LastLayer { "CpuF64 (features)".to_string() } else { kernels };
    let rows = options.rows.unwrap_or((0, x1.len()));
    let mut meta = gram_meta(&args, (&options, &kernels), (rows, x1.len()), (&model_meta, &compute), summary)?;
    if args.resume {
        match already_done(&args.out, &meta) {
            Ok(()) => {
                let ((a, b), n) = (rows, x1.len());
                println!(
                    "{} already holds rows {a}..{b} of {n} from the same inputs, model and settings: skipped (--resume)",
                    args.out.display()
                );
                return Ok(());
            }
            Err(why) => eprintln!("gram: --resume: computing {}: {why}", args.out.display()),
        }
    }
    let device = compute.device(true);
    crate::cli::model_args::announce(&compute);
    let progress = bar(x1.len() + x2.as_ref().map_or(0, Vec::len), "gram");
    let mut done = 0;
    let started = Instant::now();
    let mut on_progress = |n| {
        done += n;
        progress.set_position(done as u64);
    };
    let pad = tokenizer.pad_id()?;
    if args.stats_json.is_some() {
        tally::start();
    }
    let k = match (&gpu_kernels, args.kernel) {
        (_, KernelArg::LastLayer) => {
            last_layer_gram(model, &x1, x2.as_deref(), pad, &options, &device, &mut on_progress)?
        }
        (Some(wgpu), KernelArg::Entk) => {
            gram_with_kernels(model, &x1, x2.as_deref(), pad, &options, wgpu, &device, &mut on_progress)?
        }
        (None, KernelArg::Entk) => gram(model, &x1, x2.as_deref(), pad, &options, &device, &mut on_progress)?,
    };
    progress.finish_and_clear();
    k.check_finite(&row_ids(&first))?;
    finish_meta(&mut meta, &k);
    npy::write(&args.out, &npy_view(&k.values, &k.shape()))?;
    if let Some(dir) = &args.breakdown {
        write_breakdown(dir, &k, &meta)?;
    }
    meta.write(super::meta_path(&args.out))?;
    if let Some(line) = summary.truncation_line() {
        eprintln!("{line}");
    }
    let what = match args.kernel {
        KernelArg::Entk => format!("{:?}", options.method),
        KernelArg::LastLayer => "last-layer kernel".to_string(),
    };
    let mut stats = report(&k, (&options, &kernels), &what, started.elapsed().as_secs_f64());
    if let Some(path) = &args.stats_json {
        // The GEMMs the hand-written forward + backward issued, by shape (`bench gram`'s ceiling).
        stats["products"] = serde_json::to_value(tally::finish()).unwrap_or_default();
        write_json_atomic(path, &stats)?;
    }
    println!("{} x {} Gram -> {}", k.rows(), k.cols(), args.out.display());
    Ok(())
}
