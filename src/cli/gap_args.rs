//! Options shared by `ntkgap bound --model` and `ntkgap sweep`: the predictor (`--predictor`,
//! `--init`, `--ridge`), the eNTK options, model loading on the autodiff device, and the
//! progress bars of [`crate::gap::Progress`].

use clap::{Args, ValueEnum};

use crate::bound::kernel_regression::{KernelFitConfig, KernelPredictor, RelativeRidge};
use crate::bound::Predictor;
use crate::cli::model_args::DeviceArg;
use crate::cli::model_args::{bar, ModelArgs};
use crate::error::{Error, Result};
use crate::files::Meta;
use crate::gap::AnalysisConfig;
use crate::gpu::ComputeDevice;
use crate::model::{LoadedModel, ModelSpec};
use crate::ntk::{GramOptions, KernelChoice};

/// `--predictor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictorArg {
    /// Kernel ridge regression on ±1 labels with the model's eNTK (needs training records).
    KernelRidge,
    /// Kernel logistic regression with the model's eNTK (needs training records).
    KernelLogistic,
    /// The fine-tuned network: gap of f_T − f₀, B = ‖θ_T − θ₀‖ (needs --init).
    Network,
}

/// The predictor and eNTK options.
#[derive(Debug, Clone, Args)]
pub struct PredictorArgs {
    /// Whose gap is checked against the bounds.
    #[arg(long, value_enum, default_value_t = PredictorArg::KernelRidge)]
    pub predictor: PredictorArg,
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
    /// [`Error::InvalidArgument`] for `--predictor network` without `--init`, `--init` with a
    /// kernel predictor, a bad `--ridge` or `--block`.
    pub fn resolve(&self) -> Result<Resolved> {
        let predictor = match self.predictor {
            PredictorArg::KernelRidge => Predictor::KernelRidge,
            PredictorArg::KernelLogistic => Predictor::KernelLogistic,
            PredictorArg::Network => Predictor::Network,
        };
        match (predictor, &self.init) {
            (Predictor::Network, None) => {
                return Err(Error::invalid(
                    "--init",
                    "--predictor network needs --init DIR, the model's initial parameters θ₀ (e.g. runs/tiny/theta0)",
                ))
            }
            (Predictor::KernelRidge | Predictor::KernelLogistic, Some(_)) => {
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
        Ok(Resolved { predictor, kernel, analysis: AnalysisConfig { gram } })
    }

    /// Load `model` (and `--init`, when given) on the autodiff device of `--device`, `--max-len`
    /// applied. (The Gram assembly stays on the CPU with f64 products whatever the device: see
    /// [`PredictorArgs::resolve`].)
    ///
    /// # Errors
    /// A library error naming the model directory or flag; `--init` with a different tokenizer;
    /// `--device wgpu` without an adapter.
    pub fn load(&self, model: &str, seed: u64) -> Result<(LoadedModel, Option<LoadedModel>, ComputeDevice)> {
        let args = |m: &str| ModelArgs {
            model: m.to_string(),
            head: None,
            max_len: self.max_len,
            batch: self.block.max(1),
            device: self.device,
        };
        let (loaded, compute) = args(model).load(seed, true)?;
        let init = match &self.init {
            Some(dir) => {
                let (init, _) = args(dir).load(seed, true)?;
                if init.tokenizer_json != loaded.tokenizer_json {
                    return Err(Error::invalid(
                        "--init",
                        format!("{dir} has a different tokenizer.json than --model {model}"),
                    ));
                }
                // Refused here, before any device notice, so a bad --init is one stderr line.
                let (t, z) = (loaded.classifier.to_weights()?, init.classifier.to_weights()?);
                crate::gap::network::check_same_architecture(
                    &t,
                    &loaded.classifier.config,
                    &z,
                    &init.classifier.config,
                    dir,
                )?;
                Some(init)
            }
            None => None,
        };
        Ok((loaded, init, compute))
    }

    /// Record the model files (and θ₀'s) as inputs of `meta`.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read.
    pub fn add_inputs(&self, meta: &mut Meta, model: &str) -> Result<()> {
        for spec in std::iter::once(model).chain(self.init.as_deref()) {
            if let ModelSpec::Dir(dir) = ModelSpec::parse(spec)? {
                meta.add_input(dir.join("model.safetensors"))?.add_input(dir.join("config.json"))?;
            }
        }
        Ok(())
    }
}

/// Progress bars on stderr, one per stage.
pub fn bars() -> crate::gap::Bars<impl FnMut(usize, &str) -> indicatif::ProgressBar> {
    crate::gap::Bars::new(bar)
}
