//! The settings of `ntkgap demo --model PATH`: the model's identity (part of every stage key),
//! its prompting, and each stage's sizes per [`DemoMode`], plus the duration estimate printed
//! before any work.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use crate::demo::config::AcboConfig;
use crate::demo::DemoMode;
use crate::error::{Error, Result};
use crate::gpu::ComputeDevice;
use crate::model::ModelSpec;

/// Seconds per (parameter × token) of a forward pass on 2 CPU cores (measured on
/// SmolLM2-135M-Instruct's GGUF on this shared machine, rounded up; docs/demo.md).
const SECONDS_PER_PARAM_TOKEN_FORWARD: f64 = 1.0e-10;
/// Seconds per (parameter × token) of the eNTK's probed forward + backward and contraction.
const SECONDS_PER_PARAM_TOKEN_ENTK: f64 = 2.5e-10;
/// Mean prompt tokens of a Corr2Cause record at n = 3..5 with the default template (SmolLM2's
/// tokenizer: 93–190 tokens at n = 4, docs/ntk.md), used before the tokenizer is loaded.
const TOKENS_PER_RECORD: f64 = 150.0;
/// Effective tokens of one local question (its prompt is about 25 tokens, but these short
/// prompts batch well: measured).
const TOKENS_PER_LOCAL_QUESTION: f64 = 9.0;
/// What one demonstration adds to a prompt's cost, relative to the prompt itself: the shared
/// demonstrations run once per batch (the decoder's prefix cache), so far less than their tokens.
const SHOT_COST: f64 = 0.15;

/// Which file a model was read from and when it changed: the cache key of every stage, so a
/// changed or replaced checkpoint never reuses a cached stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelIdentity {
    /// The path as given (`--model`).
    pub path: PathBuf,
    /// Bytes of the file, or of the directory's files (not recursive).
    pub bytes: u64,
    /// Latest modification time of those files (seconds since the epoch).
    pub modified: u64,
    /// True for a decoder (GGUF file or a directory whose config names a decoder type).
    pub decoder: bool,
}

fn file_stamp(path: &Path) -> Result<(u64, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    Ok((meta.len(), modified))
}

impl ModelIdentity {
    /// Identify the checkpoint at `path`: a GGUF file or a Hugging Face directory with a
    /// `config.json`.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming `path` when it is missing, a file that is not `.gguf`, or a
    /// directory without `config.json` (one line; nothing is written).
    pub fn of(path: &Path) -> Result<Self> {
        let text = path.to_string_lossy();
        if text.starts_with("builtin:") {
            return Err(Error::bad_input(
                path,
                "is a built-in model; run `ntkgap demo` without --model for the built-in story",
            ));
        }
        if !path.exists() {
            return Err(Error::bad_input(
                path,
                "does not exist (expected a GGUF file or a Hugging Face model directory)",
            ));
        }
        let spec = ModelSpec::parse(&text)?;
        if path.is_file() {
            if !matches!(spec, ModelSpec::Gguf(_)) {
                return Err(Error::bad_input(
                    path,
                    "is not a supported model file (expected a .gguf file or a Hugging Face model directory)",
                ));
            }
            let (bytes, modified) = file_stamp(path)?;
            return Ok(Self { path: path.to_path_buf(), bytes, modified, decoder: true });
        }
        if !path.join("config.json").is_file() {
            return Err(Error::bad_input(path, "has no config.json (expected a Hugging Face model directory)"));
        }
        let (mut bytes, mut modified) = (0, 0);
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(path, e))?;
            if entry.path().is_file() {
                let (b, m) = file_stamp(&entry.path())?;
                bytes += b;
                modified = modified.max(m);
            }
        }
        Ok(Self { path: path.to_path_buf(), bytes, modified, decoder: spec.is_decoder() })
    }

    /// The `--model` string.
    pub fn spec(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// The file or directory name.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(|| self.spec(), |n| n.to_string_lossy().into_owned())
    }
}

/// How a decoder is prompted (the `ntkgap eval` flags): part of the stage keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Prompting {
    /// `--label-words` `[no, yes]`.
    pub label_words: Option<[String; 2]>,
    /// The text of `--prompt FILE` (its path is not part of the key; its text is).
    pub template: Option<String>,
    /// `--chat`.
    pub chat: bool,
}

/// Stage 1: the Corr2Cause records asked and the pairs analysed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrozenData {
    /// Graph sizes.
    pub nodes: RangeInclusive<usize>,
    /// MECs per size generated (seeded sample).
    pub max_mecs: usize,
    /// Test records asked per size: half entailment where the size has enough, seeded.
    pub records_per_size: usize,
    /// Near-miss pairs per size for the last-layer kernel.
    pub pairs_per_size: usize,
    /// Of those, pairs per size for the eNTK (the expensive kernel).
    pub entk_pairs_per_size: usize,
    /// Labelled dev records the eNTK kernel-ridge predictor is fitted on.
    pub ridge_records: usize,
    /// Demonstrations are drawn from dev records with at most this many variables (short
    /// premises), never from the test records.
    pub shots_max_nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

/// Stage 2 of this demo: direct and in-context evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrozenEval {
    /// K of each run (0: zero-shot); decoders only beyond 0.
    pub shots: Vec<usize>,
    /// Seed of the demonstrations' draw.
    pub shots_seed: u64,
    /// Prompts per forward batch.
    pub batch: usize,
}

/// Stage 4 of this demo: A-CBO with the frozen model as oracle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrozenAcbo {
    /// The shared A-CBO settings (items, noisy η, experiment S, calibration systems, seed).
    pub common: AcboConfig,
    /// Query budget per item.
    pub budget: usize,
    /// S of the experiment behind each local question.
    pub local_samples: usize,
    /// Decoders: calibration-side demonstrations in front of every local question.
    pub oracle_shots: usize,
}

/// Everything `ntkgap demo --model PATH` does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrozenConfig {
    /// Quick or full.
    pub mode: DemoMode,
    /// The model.
    pub model: ModelIdentity,
    /// Decoder prompting.
    pub prompting: Prompting,
    /// Where the model runs.
    pub device: ComputeDevice,
    /// Stage 1.
    pub data: FrozenData,
    /// Stage 2.
    pub eval: FrozenEval,
    /// eNTK block size (examples per forward/backward; never changes K).
    pub block: usize,
    /// Stage 4.
    pub acbo: FrozenAcbo,
}

impl FrozenConfig {
    /// The settings of `mode` for `model`. `shots`: the user's `--shots K` (0: the mode's
    /// default list); encoders are asked zero-shot only.
    pub fn new(
        mode: DemoMode,
        model: ModelIdentity,
        prompting: Prompting,
        device: ComputeDevice,
        seeds: (u64, u64),
        shots: usize,
    ) -> Self {
        let quick = mode == DemoMode::Quick;
        let (seed, shots_seed) = seeds;
        let data = FrozenData {
            nodes: if quick { 3..=5 } else { 3..=6 },
            max_mecs: if quick { 10 } else { 30 },
            records_per_size: if quick { 4 } else { 10 },
            pairs_per_size: if quick { 2 } else { 4 },
            entk_pairs_per_size: if quick { 1 } else { 2 },
            ridge_records: if quick { 3 } else { 8 },
            shots_max_nodes: 4,
            seed,
        };
        let shots = match (model.decoder, shots, quick) {
            (false, _, _) => vec![0],
            (true, 0, true) => vec![0, 2],
            (true, 0, false) => vec![0, 4, 8],
            (true, k, _) => vec![0, k],
        };
        let eval = FrozenEval { shots, shots_seed, batch: 4 };
        let acbo = FrozenAcbo {
            common: AcboConfig {
                items_per_size: if quick { 4 } else { 10 },
                noisy_error_rate: 0.1,
                experiment_samples: 50,
                calibration_systems: if quick { 2 } else { 10 },
                seed,
            },
            budget: if quick { 6 } else { 12 },
            local_samples: 200,
            oracle_shots: if !model.decoder {
                0
            } else if quick {
                2
            } else {
                4
            },
        };
        Self { mode, model, prompting, device, data, eval, block: 4, acbo }
    }

    /// Sizes asked.
    pub fn sizes(&self) -> usize {
        self.data.nodes.clone().count()
    }

    /// A rough wall-clock estimate in seconds on 2 CPU cores for a model of `parameters`
    /// parameters when every stage runs: forwards and eNTK passes priced per parameter × token
    /// (constants measured on SmolLM2-135M-Instruct, docs/demo.md). Contention makes it longer.
    pub fn expected_seconds(&self, parameters: usize) -> f64 {
        let p = parameters as f64;
        let sizes = self.sizes() as f64;
        let records = self.data.records_per_size as f64 * sizes;
        let eval_tokens: f64 =
            self.eval.shots.iter().map(|&k| records * TOKENS_PER_RECORD * (1.0 + k as f64 * SHOT_COST)).sum();
        let entk_inputs = 2.0 * self.data.entk_pairs_per_size as f64 * sizes + self.data.ridge_records as f64;
        let last_inputs = 2.0 * self.data.pairs_per_size as f64 * sizes;
        let questions: f64 = self.data.nodes.clone().map(|n| (n * (n - 1)) as f64).sum::<f64>()
            * (self.acbo.common.calibration_systems as f64 + self.acbo.common.items_per_size as f64);
        let local_tokens = questions * TOKENS_PER_LOCAL_QUESTION * (1.0 + self.acbo.oracle_shots as f64 * SHOT_COST);
        let direct_tokens = self.acbo.common.items_per_size as f64 * sizes * TOKENS_PER_RECORD;
        let forward_tokens = eval_tokens + last_inputs * TOKENS_PER_RECORD + local_tokens + direct_tokens;
        let seconds = SECONDS_PER_PARAM_TOKEN_FORWARD * p * forward_tokens
            + SECONDS_PER_PARAM_TOKEN_ENTK * p * entk_inputs * TOKENS_PER_RECORD;
        // Loading the model once per stage and run, the data stage and the charts.
        10.0 + seconds + 2.0 * (self.eval.shots.len() + 3) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_refuses_missing_paths_and_unsupported_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = ModelIdentity::of(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        let txt = dir.path().join("model.txt");
        std::fs::write(&txt, b"x").unwrap();
        assert!(ModelIdentity::of(&txt).unwrap_err().to_string().contains("not a supported model file"));
        assert!(ModelIdentity::of(dir.path()).unwrap_err().to_string().contains("config.json"));
        let gguf = dir.path().join("m.gguf");
        std::fs::write(&gguf, b"GGUF").unwrap();
        let id = ModelIdentity::of(&gguf).unwrap();
        assert_eq!((id.bytes, id.decoder), (4, true));
        std::fs::write(&gguf, b"GGUF2").unwrap();
        assert_ne!(ModelIdentity::of(&gguf).unwrap(), id, "a changed file must change the identity");
    }

    #[test]
    fn quick_is_smaller_and_encoders_are_zero_shot() {
        let id = |decoder| ModelIdentity { path: "m".into(), bytes: 1, modified: 0, decoder };
        let cfg =
            |mode, decoder| FrozenConfig::new(mode, id(decoder), Prompting::default(), ComputeDevice::cpu(), (0, 0), 0);
        let (quick, full) = (cfg(DemoMode::Quick, true), cfg(DemoMode::Full, true));
        assert_eq!(quick.eval.shots, vec![0, 2]);
        assert_eq!(full.eval.shots, vec![0, 4, 8]);
        assert_eq!(cfg(DemoMode::Quick, false).eval.shots, vec![0]);
        assert!(quick.expected_seconds(135_000_000) < full.expected_seconds(135_000_000));
    }
}
