//! Options shared by `ntkgap bound --model` and `ntkgap sweep`: the predictor (`--predictor`,
//! `--init`, `--ridge`), the kernel (`--kernel entk|last-layer`), the eNTK options, the decoder
//! prompting flags ([`DecoderArgs`]), model loading on the autodiff device (encoder classifiers
//! and decoders alike), and the progress bars of [`crate::gap::Progress`].

use clap::{Args, ValueEnum};

use crate::bound::kernel_regression::{KernelFitConfig, KernelPredictor, RelativeRidge};
use crate::bound::Predictor;
use crate::cli::decoder_args::DecoderArgs;
use crate::cli::gram::KernelArg;
use crate::cli::model_args::DeviceArg;
use crate::cli::model_args::{bar, ModelArgs};
use crate::error::{Error, Result};
use crate::files::Meta;
use crate::gap::{AnalysisConfig, GapKernel, GapModel};
use crate::gpu::ComputeDevice;
use crate::model::{AnyModel, ModelSpec};
use crate::ntk::{GramOptions, KernelChoice};

/// `--predictor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictorArg {
    /// Kernel ridge regression on ±1 labels with the model's eNTK (needs training records).
    KernelRidge,
    /// Kernel logistic regression with the model's eNTK (needs training records).
    KernelLogistic,
    /// The fine-tuned network: gap of f_T − f₀, B = ‖θ_T − θ₀‖ (needs --init; eNTK only).
    Network,
    /// The frozen model's own readout: s = ⟨w, φ⟩ + c, B = ‖w‖ (w = yes row − no row; needs
    /// --kernel last-layer, of which it is the default).
    Readout,
}

/// The predictor, kernel and eNTK options.
#[derive(Debug, Clone, Args)]
pub struct PredictorArgs {
    /// Whose gap is checked against the bounds (default: kernel-ridge; readout under
    /// --kernel last-layer).
    #[arg(long, value_enum)]
    pub predictor: Option<PredictorArg>,
    /// The kernel: `entk` (default) or `last-layer` (K = φφᵀ, φ the input of the final linear
    /// readout: a decoder's final-normed hidden state at the last token).
    #[arg(long, value_enum, default_value_t = KernelArg::Entk)]
    pub kernel: KernelArg,
    /// Decoder prompting: --label-words, --prompt, --chat.
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// The initial model θ₀ of a fine-tuned --model (e.g. `runs/tiny/theta0`); --predictor network only.
    #[arg(long, value_name = "DIR")]
    pub init: Option<String>,
    /// Kernel predictors: r in λ = r · mean(diag K_train).
    #[arg(long, value_name = "R", default_value_t = RelativeRidge::DEFAULT)]
    pub ridge: f64,
    /// Examples per eNTK forward/backward block (never changes the result).
    #[arg(long, default_value_t = 8)]
    pub block: usize,
    /// Maximum encoded length in tokens (default: the tokenizer's, capped by the model).
    #[arg(long, value_name = "L", alias = "max-length")]
    pub max_len: Option<usize>,
    /// Where the models and the eNTK run: `auto` (a hardware GPU if wgpu finds one, else the
    /// CPU), `cpu` or `wgpu`.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
}

/// The loaded models: the analysed one (θ_T for the network), θ₀ (`--init`), the device.
pub struct GapLoaded {
    /// The analysed model.
    pub model: AnyModel,
    /// θ₀ of the network predictor.
    pub init: Option<AnyModel>,
    /// The device both run on.
    pub compute: ComputeDevice,
}

impl GapLoaded {
    /// The analysed model as the check sees it.
    pub fn gap_model(&self) -> &dyn GapModel {
        crate::gap::model::of(&self.model)
    }

    /// θ₀ as the check sees it.
    pub fn gap_init(&self) -> Option<&dyn GapModel> {
        self.init.as_ref().map(crate::gap::model::of)
    }

    /// The decoder's readout and prompting (label words, template), for `meta.json`.
    pub fn prompting(&self) -> Option<serde_json::Value> {
        match &self.model {
            AnyModel::Decoder(m) => Some(serde_json::json!({ "readout": &m.model.readout, "prompting": &m.prompting })),
            AnyModel::Encoder(_) => None,
        }
    }
}

/// The `tokenizer.json` text of a loaded model.
fn tokenizer_json(model: &AnyModel) -> &str {
    match model {
        AnyModel::Encoder(m) => &m.tokenizer_json,
        AnyModel::Decoder(m) => &m.tokenizer_json,
    }
}

/// Validated predictor settings.
pub struct Resolved {
    /// Which predictor.
    pub predictor: Predictor,
    /// Kernel fit settings (kernel predictors).
    pub kernel: KernelFitConfig,
    /// eNTK settings.
    pub analysis: AnalysisConfig,
}

impl PredictorArgs {
    /// Check the flags together (one-line errors, before any work).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `--predictor network` without `--init` or with
    /// `--kernel last-layer`, `--predictor readout` without `--kernel last-layer`, `--init` with
    /// another predictor, a bad `--ridge` or `--block`.
    pub fn resolve(&self) -> Result<Resolved> {
        let last_layer = self.kernel == KernelArg::LastLayer;
        let default = if last_layer { PredictorArg::Readout } else { PredictorArg::KernelRidge };
        let predictor = match self.predictor.unwrap_or(default) {
            PredictorArg::KernelRidge => Predictor::KernelRidge,
            PredictorArg::KernelLogistic => Predictor::KernelLogistic,
            PredictorArg::Network => Predictor::Network,
            PredictorArg::Readout => Predictor::Readout,
        };
        match (predictor, last_layer) {
            (Predictor::Network, true) => {
                return Err(Error::invalid(
                    "--kernel",
                    "last-layer does not apply to --predictor network (checked with the eNTK at θ₀)",
                ))
            }
            (Predictor::Readout, false) => {
                return Err(Error::invalid(
                    "--predictor",
                    "readout needs --kernel last-layer (the margin is linear in the last-layer features φ, not in ∇θf)",
                ))
            }
            _ => {}
        }
        match (predictor, &self.init) {
            (Predictor::Network, None) => {
                return Err(Error::invalid(
                    "--init",
                    "--predictor network needs --init DIR, the model's initial parameters θ₀ (e.g. runs/tiny/theta0)",
                ))
            }
            (Predictor::KernelRidge | Predictor::KernelLogistic | Predictor::Readout, Some(_)) => {
                return Err(Error::invalid("--init", "is only used by --predictor network"))
            }
            _ => {}
        }
        let kernel_predictor =
            if predictor == Predictor::KernelLogistic { KernelPredictor::Logistic } else { KernelPredictor::Ridge };
        let kernel = KernelFitConfig {
            predictor: kernel_predictor,
            ridge: RelativeRidge::new(self.ridge)?,
            ..Default::default()
        };
        // f64 products: near-miss pairs have δ ≈ 1e-8, below the f32 rounding of K's entries, and the
        // corrected bound of a kernel predictor holds only for a PSD K (docs/bound.md).
        let gram = GramOptions { block: self.block, kernels: KernelChoice::CpuF64, ..Default::default() };
        gram.validate().map_err(|_| {
            Error::invalid("--block", format!("{} is outside 1..={}", self.block, crate::ntk::options::MAX_BLOCK))
        })?;
        let kernel_choice = if last_layer { GapKernel::LastLayer } else { GapKernel::Entk };
        Ok(Resolved { predictor, kernel, analysis: AnalysisConfig { gram, kernel: kernel_choice } })
    }

    /// Load `model` (and `--init`, when given; encoder classifiers or decoders, the decoder
    /// flags applied to both) on the autodiff device of `--device`, `--max-len` applied. (The
    /// Gram assembly stays on the CPU with f64 products whatever the device: see
    /// [`PredictorArgs::resolve`].)
    ///
    /// # Errors
    /// A library error naming the model directory or flag; decoder flags for an encoder; `--init`
    /// with a different tokenizer or architecture; `--device wgpu` without an adapter.
    pub fn load(&self, model: &str, seed: u64) -> Result<GapLoaded> {
        let args = |m: &str| ModelArgs {
            model: m.to_string(),
            head: None,
            max_len: self.max_len,
            batch: self.block.max(1),
            device: self.device,
        };
        let (loaded, compute) = self.decoder.load(&args(model), seed, true)?;
        let init = match &self.init {
            Some(dir) => {
                let (init, _) = self.decoder.load(&args(dir), seed, true)?;
                if tokenizer_json(&init) != tokenizer_json(&loaded) {
                    return Err(Error::invalid(
                        "--init",
                        format!("{dir} has a different tokenizer.json than --model {model}"),
                    ));
                }
                // Refused here, before any device notice, so a bad --init is one stderr line.
                let (t, z) = (crate::gap::model::of(&loaded), crate::gap::model::of(&init));
                crate::gap::network::check_same_architecture((t, &t.weights()?), (z, &z.weights()?), dir)?;
                Some(init)
            }
            None => None,
        };
        Ok(GapLoaded { model: loaded, init, compute })
    }

    /// Record the model files (and θ₀'s) as inputs of `meta`: the weights and config of a
    /// directory, a GGUF file.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read.
    pub fn add_inputs(&self, meta: &mut Meta, model: &str) -> Result<()> {
        for spec in std::iter::once(model).chain(self.init.as_deref()) {
            match ModelSpec::parse(spec)? {
                ModelSpec::Dir(dir) => {
                    let single = dir.join("model.safetensors");
                    let weights = if single.is_file() { single } else { dir.join("model.safetensors.index.json") };
                    meta.add_input(weights)?.add_input(dir.join("config.json"))?;
                }
                ModelSpec::Gguf(path) => {
                    meta.add_input(path)?;
                }
                ModelSpec::Builtin(_) | ModelSpec::BuiltinDecoder => {}
            }
        }
        Ok(())
    }
}

/// Progress bars on stderr, one per stage.
pub fn bars() -> crate::gap::Bars<impl FnMut(usize, &str) -> indicatif::ProgressBar> {
    crate::gap::Bars::new(bar)
}
