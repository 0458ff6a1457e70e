//! `ntkgap eval`: accuracy, F1 (positive = entailment), the share of "yes" labels, mean
//! confidence of wrong answers and loss of a model on a labelled JSONL file, overall, by
//! `n_vars` and by relation; printed as a table, written as JSON with `--out`.
//!
//! Encoders and decoders share the code: the margin is logit₁ − logit₀ for a classifier and
//! z_yes − z_no of the label words for a decoder language model ([`crate::model::MarginModel`]),
//! predicted "yes" iff it is positive.

use std::path::PathBuf;

use clap::Args;

use crate::cli::decoder_args::DecoderArgs;
use crate::cli::model_args::ModelArgs;
use crate::files::{write_json_atomic, Meta};
use crate::model::AnyModel;
use crate::train::data::Examples;
use crate::train::eval::{evaluate, render_table};
use crate::train::trainer::predictions;

/// Evaluate a model on labelled data.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap eval --model runs/tiny/best --data data/c2c/test.jsonl --out runs/tiny/test.json\n  \
    ntkgap eval --model SmolLM2-135M-Instruct.Q4_1.gguf --chat --data data/c2c/test.jsonl")]
pub struct EvalArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Decoder prompting.
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// Labelled JSONL (records need `label`; `n_vars` and `relation` give the breakdowns).
    #[arg(long)]
    pub data: PathBuf,
    /// Write the report as JSON here (`<stem>.meta.json` beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of a freshly initialised head (models without one).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Run `ntkgap eval`.
///
/// # Errors
/// A library error (exit 2) for a bad model, unlabelled or malformed data, or a bad flag.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        if out.extension().is_none_or(|e| e != "json") {
            return Err(crate::Error::invalid("--out", format!("{} must end in .json", out.display())).into());
        }
    }
    let (loaded, compute) = args.decoder.load(&args.model, args.seed, false)?;
    let spinner = super::progress::spinner("evaluating");
    let tokenizer = loaded.tokenizer();
    let examples = Examples::load(&args.data, tokenizer, true)?;
    spinner.suspend(|| crate::cli::model_args::announce(&compute));
    let (pad, batch) = (tokenizer.pad_id()?, args.model.batch);
    let (preds, prompting) = match &loaded {
        AnyModel::Encoder(m) => (predictions(&m.classifier, &examples, pad, batch)?, None),
        AnyModel::Decoder(m) => (predictions(&m.model, &examples, pad, batch)?, Some(&m.prompting)),
    };
    spinner.finish_and_clear();
    let report = evaluate(&preds);
    print!("{}", render_table(&report));
    if let Some(out) = &args.out {
        write_json_atomic(out, &report)?;
        let mut meta = Meta::new(Some(args.seed));
        meta.add_input(&args.data)?;
        if let Some(pool) = &args.decoder.shots_from {
            meta.add_input(pool)?;
        }
        meta.set("model", &args.model.model).set("encoding", examples.summary).set("device", compute.describe());
        if let Some(prompting) = prompting {
            meta.set("prompting", prompting);
        }
        meta.write(super::meta_path(out))?;
    }
    if let Some(line) = examples.summary.truncation_line() {
        eprintln!("{line}");
    }
    Ok(())
}
