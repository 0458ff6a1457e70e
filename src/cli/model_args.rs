//! Command-line options shared by the model subcommands (`train`, `eval`, `forward`, `gram`,
//! `bound --model`, `sweep`) and the loading step they share (the decoder prompting flags are in [`crate::cli::decoder_args`]).

use std::path::PathBuf;

use clap::Args;

use crate::gpu::{AutoReason, ComputeDevice};
use crate::model::{load_any, AnyModel, DecoderOptions, LoadOptions, ModelSpec};
use crate::tokenize::Tokenizer;

/// `--device`: where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceArg {
    /// A hardware GPU adapter if wgpu finds one, else the CPU (default). Prints one line saying
    /// which; a software adapter (lavapipe) is skipped in favour of the faster CPU backend.
    #[default]
    Auto,
    /// burn's pure-Rust CPU backend (`flex`): always available (`flex` is accepted as an alias).
    #[value(alias = "flex")]
    Cpu,
    /// burn's wgpu backend on the best adapter (Vulkan, Metal or DX12), software adapters
    /// included; an error naming the fix when there is none.
    Wgpu,
}

impl DeviceArg {
    /// The `--device` value naming this choice.
    pub fn flag(self) -> &'static str {
        match self {
            DeviceArg::Auto => "auto",
            DeviceArg::Cpu => "cpu",
            DeviceArg::Wgpu => "wgpu",
        }
    }

    /// The device this choice names (adapters are enumerated and the GPU device created only
    /// when needed).
    ///
    /// # Errors
    /// `wgpu` only: no adapter, or its device cannot be created (the error names the fix).
    pub fn resolve(self) -> crate::Result<ComputeDevice> {
        match self {
            DeviceArg::Auto => Ok(ComputeDevice::auto()),
            DeviceArg::Cpu => Ok(ComputeDevice::cpu()),
            DeviceArg::Wgpu => ComputeDevice::wgpu(),
        }
    }
}

/// The line `--device auto` prints about its choice (`None` for an explicit `--device`).
pub fn auto_line(compute: &ComputeDevice) -> Option<String> {
    let line = match compute.auto_reason()? {
        AutoReason::Hardware => format!("device: {}", compute.describe()),
        AutoReason::NoAdapter => "note: --device auto: no wgpu adapter found; running on the CPU (flex)".into(),
        AutoReason::SoftwareOnly(adapter) => format!(
            "note: --device auto: only a software adapter, {}, found; running on the CPU (flex), which is faster on this machine (--device wgpu forces the adapter)",
            adapter.describe()
        ),
        AutoReason::Failed(error) => {
            format!("note: --device auto: {}; running on the CPU (flex)", crate::cli::flags::flagify(error))
        }
    };
    Some(line)
}

/// Print [`auto_line`] on stderr, if any.
pub fn announce(compute: &ComputeDevice) {
    if let Some(line) = auto_line(compute) {
        eprintln!("{line}");
    }
}

/// Which model to load, and how.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// `builtin:tiny`, `builtin:small`, `builtin:tiny-decoder`, a Hugging Face model directory
    /// (config.json, model.safetensors, tokenizer.json; BERT, RoBERTa, or a Llama, Mistral,
    /// Qwen2, GPT-2 decoder) or a GGUF file (`*.gguf`: llama, qwen2, gpt2; F32/F16/BF16/Q4–Q8/
    /// K-quants).
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
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto, alias = "backend")]
    pub device: DeviceArg,
}

impl ModelArgs {
    /// Resolve `--device`, load the model (an encoder classifier or a decoder; `decoder` applies
    /// to decoders only) on its inference (`autodiff = false`) or training device and apply
    /// `--max-len`. The caller prints the device line of `--device auto` ([`announce`]) once its
    /// inputs are read, so that a bad input still gives exactly one line on stderr.
    ///
    /// # Errors
    /// A library error naming the bad flag or file (`--device wgpu` without an adapter included).
    pub fn load_any(
        &self,
        seed: u64,
        autodiff: bool,
        decoder: &DecoderOptions,
    ) -> crate::Result<(AnyModel, ComputeDevice)> {
        self.check_batch()?;
        let spec = ModelSpec::parse(&self.model)?;
        let compute = self.device.resolve()?;
        let device = compute.device(autodiff);
        let options = LoadOptions { seed, head_file: self.head.clone() };
        let mut loaded = load_any(&spec, &options, decoder, &device)?;
        let (tokenizer, limit, notes) = match &mut loaded {
            AnyModel::Encoder(m) => (m.tokenizer.as_mut(), m.classifier.config.max_input_length(), &m.notes),
            AnyModel::Decoder(m) => (m.tokenizer.as_mut(), m.model.config.max_input_length(), &m.notes),
        };
        self.apply_max_len(tokenizer, limit)?;
        for note in notes {
            eprintln!("{note}");
        }
        Ok((loaded, compute))
    }

    fn check_batch(&self) -> crate::Result<()> {
        if self.batch == 0 || self.batch > 4096 {
            return Err(crate::Error::invalid("--batch", format!("{} is outside 1..=4096", self.batch)));
        }
        Ok(())
    }

    fn apply_max_len(&self, tokenizer: &mut dyn Tokenizer, limit: usize) -> crate::Result<()> {
        let Some(max_len) = self.max_len else { return Ok(()) };
        if max_len > limit {
            return Err(crate::Error::invalid(
                "--max-len",
                format!("{max_len} exceeds the model's maximum input length {limit}"),
            ));
        }
        tokenizer.set_max_length(max_len).map_err(|e| crate::Error::invalid("--max-len", e.to_string()))
    }
}

/// A progress bar over `len` items on stderr (hidden when stderr is not a terminal).
pub fn bar(len: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(len as u64), super::progress::draw_target());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}
