//! Command-line options shared by the model subcommands (`train`, `eval`, `forward`) and the
//! loading step they share.

use std::path::PathBuf;

use clap::Args;

use crate::model::{load, ComputeDevice, DeviceChoice, LoadOptions, LoadedModel, ModelSpec};

/// Which model to load, and how.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// `builtin:tiny`, `builtin:small`, or a Hugging Face model directory (config.json,
    /// model.safetensors, tokenizer.json; BERT or RoBERTa).
    #[arg(long)]
    pub model: String,
    /// Safetensors file of classification-head tensors replacing (or supplying) the model's.
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
    /// Maximum encoded length in tokens (default: the tokenizer's, capped by the model).
    #[arg(long, value_name = "L", alias = "max-length")]
    pub max_len: Option<usize>,
    /// Examples per forward batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Where the model runs: `auto` (a hardware GPU if wgpu finds one, else the CPU; says which
    /// on stderr), `cpu` (burn's flex backend) or `wgpu` (the best wgpu adapter, software
    /// adapters such as lavapipe included).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, alias = "backend")]
    pub device: DeviceChoice,
}

impl ModelArgs {
    /// Resolve `--device`, load the model on its inference (`autodiff = false`) or training
    /// device and apply `--max-len`. The caller prints the device line of `--device auto`
    /// ([`ComputeDevice::announce`]) once its inputs are read, so that a bad input still gives
    /// exactly one line on stderr.
    ///
    /// # Errors
    /// A library error naming the bad flag or file (`--device wgpu` without an adapter included).
    pub fn load(&self, seed: u64, autodiff: bool) -> crate::Result<(LoadedModel, ComputeDevice)> {
        if self.batch == 0 || self.batch > 4096 {
            return Err(crate::Error::invalid("--batch", format!("{} is outside 1..=4096", self.batch)));
        }
        let spec = ModelSpec::parse(&self.model)?;
        let compute = self.device.resolve()?;
        let device = compute.device(autodiff);
        let options = LoadOptions { seed, head_file: self.head.clone() };
        let mut loaded = load(&spec, &options, &device)?;
        if let Some(max_len) = self.max_len {
            let limit = loaded.classifier.config.max_input_length();
            if max_len > limit {
                return Err(crate::Error::invalid(
                    "--max-len",
                    format!("{max_len} exceeds the model's maximum input length {limit}"),
                ));
            }
            loaded.tokenizer.set_max_length(max_len).map_err(|e| crate::Error::invalid("--max-len", e.to_string()))?;
        }
        for note in &loaded.notes {
            eprintln!("{note}");
        }
        Ok((loaded, compute))
    }
}

/// A progress bar over `len` items on stderr (hidden when stderr is not a terminal).
pub fn bar(len: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}
