//! `ntkgap train`: fine-tune a model (SFT or DPO) on a labelled JSONL file, with per-epoch dev
//! evaluation, early stopping and checkpoints. See [`crate::train`] for the objectives and the
//! output layout (`theta0/`, `last/`, `best/`, `history.json`, `meta.json`).
//!
//! Encoders train their margin logit₁ − logit₀; decoders (directories, GGUF files,
//! `builtin:tiny-decoder`) the label-word margin z_yes − z_no under the prompting flags, and
//! save Hugging Face directories (a GGUF-loaded model: f32 safetensors, the GGUF's tokenizer as
//! `tokenizer.json`, its chat template in `tokenizer_config.json`).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::cli::decoder_args::DecoderArgs;
use crate::cli::model_args::{bar, ModelArgs};
use crate::files::{write_json_atomic, Meta};
use crate::model::AnyModel;
use crate::train::data::Examples;
use crate::train::trainer::{EpochRecord, TrainData, TrainProgress};
use crate::train::{train, ClassWeight, Objective, TrainConfig};

/// Fine-tune a classifier.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap generate --kind corr2cause --nodes 3..5 --out data/c2c\n  \
    ntkgap train --data data/c2c/train.jsonl --model builtin:tiny --out runs/tiny --epochs 5\n  \
    ntkgap train --data data/c2c/train.jsonl --model runs/tiny/best --objective dpo --lr 1e-4 --out runs/dpo\n  \
    ntkgap train --data data/c2c/train.jsonl --model SmolLM2-135M-Instruct.Q4_1.gguf --chat --out runs/smol")]
pub struct TrainArgs {
    /// The model to start from.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Decoder prompting.
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// Labelled training JSONL.
    #[arg(long)]
    pub data: PathBuf,
    /// Labelled dev JSONL for per-epoch evaluation and early stopping (default: dev.jsonl
    /// beside --data, when it exists).
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Output directory (theta0/, last/, best/, history.json, meta.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Training objective.
    #[arg(long, value_enum, default_value_t = Objective::Sft)]
    pub objective: Objective,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Peak learning rate (default: 1e-3 for built-in models, 2e-5 for checkpoints).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of shuffling and of freshly initialised weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of steps spent on linear warmup.
    #[arg(long, default_value_t = 0.1)]
    pub warmup: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// DPO temperature β.
    #[arg(long, default_value_t = 0.1)]
    pub beta: f64,
    /// Epochs without dev-loss improvement before stopping.
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Example weights in the loss: `none`, or `balanced` (each class weighs as much as the other
    /// within Corr2Cause records and within free-text records; the dev loss that picks `best/`
    /// is weighted the same way).
    #[arg(long, value_enum, default_value_t = ClassWeight::None)]
    pub class_weight: ClassWeight,
}

impl TrainArgs {
    fn config(&self) -> crate::Result<TrainConfig> {
        let default_lr = if self.model.model.starts_with("builtin:") { 1e-3 } else { 2e-5 };
        let config = TrainConfig {
            objective: self.objective,
            epochs: self.epochs,
            learning_rate: self.lr.unwrap_or(default_lr),
            batch_size: self.model.batch,
            seed: self.seed,
            warmup_fraction: self.warmup,
            weight_decay: self.weight_decay,
            dpo_beta: self.beta,
            patience: self.patience,
            class_weight: self.class_weight,
        };
        config.validate()?;
        Ok(config)
    }
}

struct Bars {
    bar: Option<indicatif::ProgressBar>,
}

impl TrainProgress for Bars {
    fn step(&mut self, step: usize, total: usize, loss: f64) {
        let bar = self.bar.get_or_insert_with(|| bar(total, "train"));
        bar.set_position(step as u64);
        bar.set_message(format!("train loss {loss:.4}"));
    }

    fn epoch(&mut self, r: &EpochRecord) {
        let dev = r
            .dev
            .as_ref()
            .map_or(String::new(), |d| format!(", dev accuracy {:.3}, dev loss {:.4}", d.accuracy, d.loss));
        let line = format!("epoch {}: train loss {:.4}{dev} ({:.0} s)", r.epoch, r.train_loss, r.seconds);
        match &self.bar {
            // A bar drawing in place on a terminal prints the line above itself; in a log the
            // bar only writes throttled lines (cli::progress), so the line goes out directly.
            Some(bar) if !bar.is_hidden() && std::io::stderr().is_terminal() => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }
}

/// Run `ntkgap train`.
///
/// # Errors
/// A library error (exit 2) for bad flags, a bad model or unlabelled data.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let dev_path = args.dev.clone().or_else(|| {
        let sibling = args.data.with_file_name("dev.jsonl");
        (sibling.is_file() && sibling != args.data).then_some(sibling)
    });
    let (loaded, compute) = args.decoder.load(&args.model, args.seed, true)?;
    let tokenizer = loaded.tokenizer();
    let train_set = Examples::load(&args.data, tokenizer, true)?;
    let dev_set = dev_path.as_ref().map(|p| Examples::load(p, tokenizer, true)).transpose()?;
    if let Some(line) = train_set.summary.truncation_line() {
        eprintln!("{line}");
    }
    let (pad_id, max_length) = (tokenizer.pad_id()?, tokenizer.max_length());
    let device = compute.device(true);
    crate::cli::model_args::announce(&compute);
    let mut progress = Bars { bar: None };
    let (train_set, dev_set) = (&train_set, dev_set.as_ref());
    let (summary, initialised, prompting) = match loaded {
        AnyModel::Encoder(m) => {
            let m = *m;
            let data = TrainData { train: train_set, dev: dev_set, pad_id, files: m.tokenizer_json.as_str() };
            (train(m.classifier, data, &config, &args.out, &device, &mut progress)?, m.initialised.len(), None)
        }
        AnyModel::Decoder(m) => {
            let m = *m;
            let data = TrainData { train: train_set, dev: dev_set, pad_id, files: &m.files };
            (train(m.model, data, &config, &args.out, &device, &mut progress)?, m.initialised.len(), Some(m.prompting))
        }
    };
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let mut meta = Meta::new(Some(config.seed));
    meta.add_input(&args.data)?;
    if let Some(p) = &dev_path {
        meta.add_input(p)?;
    }
    meta.set("model", &args.model.model).set("config", &config).set("summary", &summary);
    meta.set("initialised_tensors", initialised).set("max_length", max_length);
    meta.set("device", compute.describe());
    if let Some(prompting) = &prompting {
        meta.set("prompting", prompting);
    }
    meta.write(args.out.join("meta.json"))?;
    write_json_atomic(args.out.join("summary.json"), &summary)?;
    println!(
        "trained {} steps; best epoch {} -> {} (‖θ − θ₀‖ = {:.4})",
        summary.steps,
        summary.best_epoch,
        args.out.join("best").display(),
        summary.distance_from_initial
    );
    Ok(())
}
