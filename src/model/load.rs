//! Loading a model: `builtin:tiny|small` or a Hugging Face directory (`config.json`,
//! `model.safetensors`, `tokenizer.json`), BERT or RoBERTa, with or without a classification
//! head; [`load_any`] also loads decoders (directories, GGUF files, `builtin:tiny-decoder`).
//!
//! * Bare encoders (`BertModel` saves `embeddings.…` without the `bert.` prefix) are recognised
//!   and prefixed.
//! * Without a classification head, a fresh head is initialised from `head_seed` (Hugging Face's
//!   initialisation: N(0, initializer_range²) weights, zero biases) and reported in
//!   [`LoadedModel::notes`]; the caller saves it alongside its outputs.
//! * `head_file` replaces head tensors from a separate safetensors file (how the MiniLM parity
//!   test combines the pretrained base with a head saved by `transformers`).
//! * Unused tensors (MLM heads, `position_ids` buffers, RoBERTa's unused pooler) are ignored
//!   and counted in the notes; missing, misshapen and non-finite tensors are one error listing
//!   every offending name.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::builtin::BuiltinSize;
use crate::model::classifier::Classifier;
use crate::model::config::{Architecture, ModelConfig};
use crate::model::decoder::{self, DecoderOptions, LoadedDecoder};
use crate::model::head::head_names;
use crate::model::weights::{FreshInit, WeightMap};
use crate::tokenize::{self, HfTokenizer, Tokenizer};

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// `builtin:tiny` / `builtin:small`, initialised from a seed.
    Builtin(BuiltinSize),
    /// `builtin:tiny-decoder`: a Llama-family decoder initialised from a seed (see
    /// [`crate::model::decoder::load::load_builtin`]).
    BuiltinDecoder,
    /// A Hugging Face model directory.
    Dir(PathBuf),
    /// A GGUF file (`*.gguf`): a decoder (see [`crate::model::decoder::gguf`]).
    Gguf(PathBuf),
}

impl ModelSpec {
    /// Parse `builtin:NAME`, a GGUF file path (extension `.gguf`) or a directory path.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown built-in name.
    pub fn parse(spec: &str) -> Result<Self> {
        match spec.strip_prefix("builtin:") {
            Some("tiny-decoder") => Ok(ModelSpec::BuiltinDecoder),
            Some(name) => Ok(ModelSpec::Builtin(BuiltinSize::parse(name)?)),
            None if decoder::gguf::is_gguf_path(Path::new(spec)) => Ok(ModelSpec::Gguf(PathBuf::from(spec))),
            None => Ok(ModelSpec::Dir(PathBuf::from(spec))),
        }
    }
}

impl ModelSpec {
    /// True when [`load_any`] loads this spec as a decoder: `builtin:tiny-decoder`, a GGUF file,
    /// or a directory whose `config.json` names a decoder `model_type` (decided without loading).
    pub fn is_decoder(&self) -> bool {
        match self {
            ModelSpec::BuiltinDecoder | ModelSpec::Gguf(_) => true,
            ModelSpec::Dir(dir) => decoder_type(dir).is_some(),
            ModelSpec::Builtin(_) => false,
        }
    }
}

/// An encoder classifier or a decoder, as [`load_any`] found it.
pub enum AnyModel {
    /// A BERT/RoBERTa classifier.
    Encoder(Box<LoadedModel>),
    /// A decoder-only language model or sequence classifier.
    Decoder(Box<LoadedDecoder>),
}

/// Load `spec` on `device`, encoder or decoder (decided by `model_type` in `config.json`; a
/// GGUF file is always a decoder); `decoder` applies to decoders only.
///
/// # Errors
/// As [`load`] for encoders, [`crate::model::decoder::load::load_dir`] and
/// [`crate::model::decoder::gguf::load_gguf`] for decoders.
pub fn load_any(
    spec: &ModelSpec,
    options: &LoadOptions,
    decoder: &DecoderOptions,
    device: &Device,
) -> Result<AnyModel> {
    if !spec.is_decoder() {
        return Ok(AnyModel::Encoder(Box::new(load(spec, options, device)?)));
    }
    if let Some(head) = &options.head_file {
        return Err(Error::bad_input(head, "a head file applies to encoder classifiers only"));
    }
    let loaded = match spec {
        ModelSpec::Gguf(path) => decoder::gguf::load_gguf(path, decoder, device)?,
        ModelSpec::Dir(dir) => decoder::load::load_dir(dir, decoder, device)?,
        _ => decoder::load::load_builtin(options.seed, decoder, device)?,
    };
    Ok(AnyModel::Decoder(Box::new(loaded)))
}

impl AnyModel {
    /// The model's tokenizer (a decoder's prompt tokenizer).
    pub fn tokenizer(&self) -> &dyn Tokenizer {
        match self {
            AnyModel::Encoder(m) => m.tokenizer.as_ref(),
            AnyModel::Decoder(m) => m.tokenizer.as_ref(),
        }
    }
}

/// The `model_type` of `dir/config.json` (None when the file is missing, unreadable or names
/// none: the encoder loader reports those).
fn model_type(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let value = serde_json::from_str::<serde_json::Value>(&text).ok()?;
    value.get("model_type").and_then(serde_json::Value::as_str).map(str::to_string)
}

/// The decoder `model_type` of `dir/config.json`, if it names one.
fn decoder_type(dir: &Path) -> Option<String> {
    model_type(dir).filter(|t| decoder::is_decoder_type(t))
}

/// Options of [`load`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Seed of freshly initialised weights (built-in models, missing heads).
    pub seed: u64,
    /// A safetensors file whose tensors replace (or supply) head tensors.
    pub head_file: Option<PathBuf>,
}

/// A loaded model with its tokenizer.
pub struct LoadedModel {
    /// The classifier (eval mode: no dropout anywhere).
    pub classifier: Classifier,
    /// The tokenizer, its maximum length capped at the model's maximum input length.
    pub tokenizer: Box<dyn Tokenizer>,
    /// The `tokenizer.json` text, saved unchanged with the model.
    pub tokenizer_json: String,
    /// Names of tensors initialised from the seed (empty for a complete checkpoint).
    pub initialised: Vec<String>,
    /// Human-readable notes (fresh head, ignored tensors), one line each.
    pub notes: Vec<String>,
}

/// Load the encoder classifier `spec` on `device` ([`load_any`] also loads decoders).
///
/// # Errors
/// [`Error::BadInput`] naming the file for a missing file, an unsupported architecture, a
/// decoder, bad weights (every offending tensor named) or a tokenizer that does not fit the
/// model.
pub fn load(spec: &ModelSpec, options: &LoadOptions, device: &Device) -> Result<LoadedModel> {
    match spec {
        ModelSpec::Builtin(size) => load_builtin(*size, options, device),
        ModelSpec::BuiltinDecoder => Err(decoder_refusal(Path::new("builtin:tiny-decoder"), "llama")),
        ModelSpec::Gguf(path) => Err(decoder_refusal(path, "gguf")),
        ModelSpec::Dir(dir) => match model_type(dir) {
            Some(t) if decoder::is_decoder_type(&t) => Err(decoder_refusal(dir, &t)),
            // Named before the encoder config is parsed: its other fields may not fit.
            Some(t) if t != "bert" && t != "roberta" => Err(Error::bad_input(
                dir.join("config.json"),
                format!(
                    "unsupported architecture `{t}` (supported: bert, roberta; decoders: llama, mistral, qwen2, gpt2)"
                ),
            )),
            _ => load_dir(dir, options, device),
        },
    }
}

/// The one-line refusal of a decoder by the encoder-classifier loader [`load`] (every subcommand
/// loads through [`load_any`]).
fn decoder_refusal(source: &Path, model_type: &str) -> Error {
    Error::bad_input(
        source,
        format!(
            "a decoder-only model (`{model_type}`); `model::load` reads encoder classifiers (BERT, RoBERTa): load decoders with `model::load_any`"
        ),
    )
}

fn load_builtin(size: BuiltinSize, options: &LoadOptions, device: &Device) -> Result<LoadedModel> {
    let config = size.config()?;
    let mut weights = WeightMap::new();
    weights.set_fresh_init(Some(FreshInit { seed: options.seed, std: config.initializer_range, only_prefixes: None }));
    if let Some(head) = &options.head_file {
        merge_head(&mut weights, head, config.architecture()?)?;
    }
    let source = PathBuf::from(format!("builtin:{}", serde_json::to_value(size).map_err(ser)?.as_str().unwrap_or("")));
    let classifier = Classifier::from_weights(&config, &mut weights, &source, device)?;
    let tokenizer_json = tokenize::builtin::tokenizer_file_text()?;
    let tokenizer: Box<dyn Tokenizer> = Box::new(tokenize::builtin::tokenizer()?);
    Ok(LoadedModel {
        classifier,
        tokenizer,
        tokenizer_json,
        initialised: weights.initialised().to_vec(),
        notes: Vec::new(),
    })
}

fn ser(e: serde_json::Error) -> Error {
    Error::Serialize { what: "model size".into(), source: e }
}

fn load_dir(dir: &Path, options: &LoadOptions, device: &Device) -> Result<LoadedModel> {
    if !dir.is_dir() {
        return Err(Error::bad_input(
            dir,
            "model directory not found (expected config.json, model.safetensors, tokenizer.json)",
        ));
    }
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        if !dir.join(file).is_file() {
            return Err(Error::bad_input(dir, format!("no {file} in the model directory")));
        }
    }
    let config = ModelConfig::from_file(&dir.join("config.json"))?;
    let arch = config.architecture()?;
    let weights_path = dir.join("model.safetensors");
    let mut weights = WeightMap::read_safetensors(&weights_path)?;
    add_missing_prefix(&mut weights, arch);
    if let Some(head) = &options.head_file {
        merge_head(&mut weights, head, arch)?;
    }
    let (dense, output) = head_names(arch);
    if !weights.contains(&format!("{output}.weight")) {
        let prefixes = vec![dense.to_string(), output.to_string()];
        weights.set_fresh_init(Some(FreshInit {
            seed: options.seed,
            std: config.initializer_range,
            only_prefixes: Some(prefixes),
        }));
    }
    let classifier = Classifier::from_weights(&config, &mut weights, &weights_path, device)?;
    let notes = load_notes(dir, &weights, options.seed);
    let (tokenizer, tokenizer_json) = load_tokenizer(dir, &config)?;
    Ok(LoadedModel { classifier, tokenizer, tokenizer_json, initialised: weights.initialised().to_vec(), notes })
}

/// One line about a freshly initialised head, one about ignored tensors (each when relevant).
fn load_notes(dir: &Path, weights: &WeightMap, seed: u64) -> Vec<String> {
    let mut notes = Vec::new();
    if !weights.initialised().is_empty() {
        notes.push(format!(
            "note: {} has no classification head; initialised {} from seed {seed}",
            dir.display(),
            weights.initialised().join(", ")
        ));
    }
    let ignored = weights.names();
    if !ignored.is_empty() {
        let shown: Vec<&str> = ignored.iter().take(4).map(String::as_str).collect();
        let more = if ignored.len() > 4 { format!(" and {} more", ignored.len() - 4) } else { String::new() };
        notes.push(format!("note: ignored {} unused tensors ({}{more})", ignored.len(), shown.join(", ")));
    }
    notes
}

/// `BertModel.save_pretrained` writes `embeddings.…`, `encoder.…`, `pooler.…` without the
/// `bert.` prefix the classifier uses.
fn add_missing_prefix(weights: &mut WeightMap, arch: Architecture) {
    let prefix = arch.prefix();
    if weights.contains(&format!("{prefix}.embeddings.word_embeddings.weight")) {
        return;
    }
    let mut renamed = WeightMap::new();
    for name in weights.names() {
        if let Some(t) = weights.get(&name) {
            let bare = ["embeddings.", "encoder.", "pooler."].iter().any(|p| name.starts_with(p));
            let new_name = if bare { format!("{prefix}.{name}") } else { name.clone() };
            renamed.insert(new_name, t.clone());
        }
    }
    *weights = renamed;
}

fn merge_head(weights: &mut WeightMap, head: &Path, arch: Architecture) -> Result<()> {
    let head_weights = WeightMap::read_safetensors(head)?;
    let (dense, output) = head_names(arch);
    let foreign: Vec<String> =
        head_weights.names().into_iter().filter(|n| !n.starts_with(dense) && !n.starts_with(output)).collect();
    if !foreign.is_empty() {
        return Err(Error::bad_input(
            head,
            format!("not a {} head: unexpected tensors {}", arch.classifier_class(), foreign.join(", ")),
        ));
    }
    for name in head_weights.names() {
        if let Some(t) = head_weights.get(&name) {
            weights.insert(name, t.clone());
        }
    }
    Ok(())
}

fn load_tokenizer(dir: &Path, config: &ModelConfig) -> Result<(Box<dyn Tokenizer>, String)> {
    let file = dir.join("tokenizer.json");
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    let mut tokenizer = HfTokenizer::from_path(&file)?;
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(Error::bad_input(
            &file,
            format!(
                "tokenizer has {} tokens but the model's vocabulary holds {}",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        ));
    }
    if config.architecture()? == Architecture::Roberta && tokenizer.pad_id()? as usize != config.pad_token_id {
        return Err(Error::bad_input(
            &file,
            format!("pad id {} differs from the config's pad_token_id {}", tokenizer.pad_id()?, config.pad_token_id),
        ));
    }
    if tokenizer.max_length() > config.max_input_length() {
        tokenizer.set_max_length(config.max_input_length())?;
    }
    Ok((Box::new(tokenizer), text))
}
