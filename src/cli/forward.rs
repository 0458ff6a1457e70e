//! `ntkgap forward`: logits of a model on a JSONL file, as an `(N, num_labels)` float32 `.npy`
//! (pair-encoded `[CLS] premise [SEP] hypothesis [SEP]`, premise-only truncation).
//!
//! A decoder (a directory, a GGUF file or `builtin:tiny-decoder`) writes its readout at each
//! record's last token: the `(N, 2)` logits `[z_no, z_yes]` of the label words (`--label-words`,
//! default " No, Yes", "No,Yes" with `--chat`) of a language model, or the class logits of a
//! sequence classifier; `{"text"}` records go in verbatim, premise/hypothesis records through
//! the prompt template (`--prompt`) and optionally the chat template (`--chat`), never
//! truncated (a file with prompts longer than the context is refused, counting them).
//!
//! When the model has no classification head, the head initialised from `--seed` is written
//! beside the output as `<stem>.head.safetensors` (reusable with `--head`).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::decoder_args::DecoderArgs;
use crate::cli::model_args::{bar, ModelArgs};
use crate::files::{npy, Meta};
use crate::gpu::ComputeDevice;
use crate::model::decoder::{self, LoadedDecoder};
use crate::model::infer::logits;
use crate::model::{AnyModel, LoadedModel, WeightMap};
use crate::tokenize::stream::encode_all;

/// Write a model's logits on a JSONL file.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap forward --model runs/tiny/best --input test.jsonl --out logits.npy\n  \
    ntkgap forward --model .cache/models/all-MiniLM-L6-v2 --head tests/data/minilm_head_seed0.safetensors \\\n      \
    --input tests/data/model_parity_pairs.jsonl --max-len 128 --out logits.npy\n  \
    ntkgap forward --model SmolLM2-135M-Instruct.Q4_1.gguf --chat --input test.jsonl --out yes_no.npy")]
pub struct ForwardArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input JSONL: `{"premise", "hypothesis"}` or `{"text"}` records.
    #[arg(long)]
    pub input: PathBuf,
    /// Output `.npy` (float32, shape (N, num_labels)); `<stem>.meta.json` beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of a freshly initialised head (models without one).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Decoder prompting.
    #[command(flatten)]
    pub decoder: DecoderArgs,
}

/// Write the freshly initialised head tensors to `<stem>.head.safetensors` beside `out`.
fn save_initialised_head(loaded: &LoadedModel, out: &Path) -> crate::Result<()> {
    let all = loaded.classifier.to_weights()?;
    let mut head = WeightMap::new();
    for name in &loaded.initialised {
        if let Some(t) = all.get(name) {
            head.insert(name.clone(), t.clone());
        }
    }
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let head_path = out.with_file_name(format!("{stem}.head.safetensors"));
    head.write_safetensors(&head_path)?;
    eprintln!("note: wrote the initialised head to {}", head_path.display());
    Ok(())
}

/// Run `ntkgap forward`.
///
/// # Errors
/// A library error (exit 2) for a bad model, input or flag.
pub fn run(args: ForwardArgs) -> anyhow::Result<()> {
    if args.out.extension().is_none_or(|e| e != "npy") {
        return Err(crate::Error::invalid("--out", format!("{} must end in .npy", args.out.display())).into());
    }
    let (loaded, compute) = match args.decoder.load(&args.model, args.seed, false)? {
        (AnyModel::Encoder(loaded), compute) => (*loaded, compute),
        (AnyModel::Decoder(loaded), compute) => return run_decoder(&args, &loaded, &compute),
    };
    let (records, summary) = encode_all(&args.input, loaded.tokenizer.as_ref())?;
    let encodings: Vec<_> = records.iter().map(|r| r.encoding.clone()).collect();
    let pad_id = loaded.tokenizer.pad_id()?;
    let device = compute.device(false);
    crate::cli::model_args::announce(&compute);
    let progress = bar(encodings.len(), "forward");
    let rows = logits(&loaded.classifier, &encodings, pad_id, args.model.batch, &device, |done| {
        progress.set_position(done as u64)
    })?;
    progress.finish_and_clear();
    npy::write(&args.out, &rows)?;
    if !loaded.initialised.is_empty() {
        save_initialised_head(&loaded, &args.out)?;
    }
    let mut meta = Meta::new(Some(args.seed));
    meta.add_input(&args.input)?;
    meta.set("model", &args.model.model).set("head", args.model.head.as_ref().map(|p| p.display().to_string()));
    meta.set("max_length", loaded.tokenizer.max_length()).set("encoding", summary).set("shape", rows.shape());
    meta.set("model_config", &loaded.classifier.config).set("device", compute.describe());
    meta.write(super::meta_path(&args.out))?;
    if let Some(line) = summary.truncation_line() {
        eprintln!("{line}");
    }
    println!("{} x {} logits -> {}", rows.nrows(), rows.ncols(), args.out.display());
    Ok(())
}

/// `ntkgap forward` on a decoder: the readout logits (label words or classes) at each record's
/// last token.
fn run_decoder(args: &ForwardArgs, loaded: &LoadedDecoder, compute: &ComputeDevice) -> anyhow::Result<()> {
    let (records, summary) = encode_all(&args.input, loaded.tokenizer.as_ref())?;
    let encodings: Vec<_> = records.iter().map(|r| r.encoding.clone()).collect();
    let pad_id = loaded.tokenizer.pad_id()?;
    let device = compute.device(false);
    crate::cli::model_args::announce(compute);
    let progress = bar(encodings.len(), "forward");
    let rows = decoder::infer::logits(&loaded.model, &encodings, pad_id, args.model.batch, &device, |done| {
        progress.set_position(done as u64)
    })?;
    progress.finish_and_clear();
    npy::write(&args.out, &rows)?;
    let mut meta = Meta::new(Some(args.seed));
    meta.add_input(&args.input)?;
    meta.set("model", &args.model.model).set("readout", &loaded.model.readout);
    meta.set("template", &loaded.prompting.template).set("prompting", &loaded.prompting);
    meta.set("encoding", summary).set("shape", rows.shape());
    meta.set("model_config", &loaded.model.config).set("device", compute.describe());
    meta.write(super::meta_path(&args.out))?;
    println!("{} x {} logits -> {}", rows.nrows(), rows.ncols(), args.out.display());
    Ok(())
}
