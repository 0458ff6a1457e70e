//! Loading a decoder: a Hugging Face directory (`config.json`, `model.safetensors` or a sharded
//! `model.safetensors.index.json`, `tokenizer.json`) or `builtin:tiny-decoder`.
//!
//! * Bare base models (`LlamaModel` saves `embed_tokens.…`, `GPT2Model` saves `wte.…`) are
//!   recognised and prefixed (`model.` / `transformer.`).
//! * Tensors the model does not use (an `lm_head.weight` beside tied embeddings, GPT-2's
//!   attention-mask buffers) are ignored and counted in the notes; missing, misshapen and
//!   non-finite tensors are one error listing every offending name.
//! * The tokenizer is the directory's `tokenizer.json`, wrapped in a [`PromptTokenizer`]; the
//!   label words of a language model are resolved through it (each must be one token).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::decoder::config::{DecoderConfig, DecoderTask, MAX_INPUT_LENGTH};
use crate::model::decoder::lm::{DecoderLm, Readout};
use crate::model::decoder::prompt::{PromptTemplate, PromptTokenizer, DEFAULT_LABEL_WORDS};
use crate::model::weights::{FreshInit, WeightMap};
use crate::tokenize::{self, HfTokenizer, Tokenizer};

/// Decoder-specific options of loading.
#[derive(Debug, Clone, Default)]
pub struct DecoderOptions {
    /// The label words `[no, yes]` of a language model (default `[" No", " Yes"]`); each must
    /// be one token. Refused for a sequence classifier.
    pub label_words: Option<[String; 2]>,
    /// The prompt template of premise/hypothesis records (default
    /// [`crate::model::decoder::prompt::DEFAULT_TEMPLATE`]).
    pub template: Option<PromptTemplate>,
}

/// A loaded decoder with its prompt tokenizer.
pub struct LoadedDecoder {
    /// The model (eval mode).
    pub model: DecoderLm,
    /// The prompt tokenizer (verbatim texts, templated pairs, no truncation).
    pub tokenizer: Box<dyn Tokenizer>,
    /// The `tokenizer.json` text.
    pub tokenizer_json: String,
    /// Names of tensors initialised from the seed (built-in models).
    pub initialised: Vec<String>,
    /// Human-readable notes (ignored tensors), one line each.
    pub notes: Vec<String>,
}

/// Load the decoder in `dir` on `device`.
///
/// # Errors
/// [`Error::BadInput`] naming the file for a missing file, an invalid config, bad weights
/// (every offending tensor named) or a tokenizer that does not fit; [`Error::InvalidSetting`]
/// (`label_words`) for a label word that is not one token.
pub fn load_dir(dir: &Path, options: &DecoderOptions, device: &Device) -> Result<LoadedDecoder> {
    let config = DecoderConfig::from_file(&dir.join("config.json"))?;
    let (mut weights, source) = read_checkpoint(dir)?;
    add_missing_prefix(&mut weights, &config);
    let file = dir.join("tokenizer.json");
    if !file.is_file() {
        return Err(Error::bad_input(dir, "no tokenizer.json in the model directory"));
    }
    let tokenizer_json = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    let hf = HfTokenizer::from_path(&file)?;
    if hf.vocab_size() > config.vocab_size {
        return Err(Error::bad_input(
            &file,
            format!("tokenizer has {} tokens but the model's vocabulary holds {}", hf.vocab_size(), config.vocab_size),
        ));
    }
    let tokenizer = prompt_tokenizer(hf, &config, options)?;
    let readout = readout(&config, &tokenizer, options)?;
    let model = DecoderLm::from_weights(&config, readout, &mut weights, &source, device)?;
    let notes = ignored_note(&weights).into_iter().collect();
    Ok(LoadedDecoder { model, tokenizer: Box::new(tokenizer), tokenizer_json, initialised: Vec::new(), notes })
}

/// `builtin:tiny-decoder`: a Llama-family decoder (H = 64, 2 blocks, 4 query / 2 key-value
/// heads, SiLU MLP 128, RoPE θ = 10⁴, tied embeddings) over the built-in word tokenizer with a
/// BOS-style post-processor (`[CLS] text`), initialised from `seed` (σ = 0.02, norms 1).
///
/// # Errors
/// As [`load_dir`] (a label word that is not one built-in token).
pub fn load_builtin(seed: u64, options: &DecoderOptions, device: &Device) -> Result<LoadedDecoder> {
    let builtin = tokenize::builtin::tokenizer()?;
    let cls = builtin.special_ids().cls.unwrap_or(0);
    let mut inner = builtin.inner().clone();
    let template = tokenizers::processors::template::TemplateProcessing::builder()
        .try_single("[CLS] $A")
        .and_then(|b| b.try_pair("[CLS] $A $B:1"))
        .map_err(|e| Error::internal("builtin decoder tokenizer", e.to_string()))?
        .special_tokens(vec![("[CLS]", cls)])
        .build()
        .map_err(|e| Error::internal("builtin decoder tokenizer", e.to_string()))?;
    inner.with_post_processor(Some(template));
    let tokenizer_json =
        inner.to_string(true).map_err(|e| Error::internal("builtin decoder tokenizer", e.to_string()))?;
    let hf = HfTokenizer::from_tokenizer(inner, "builtin:tiny-decoder".into(), tokenize::hf::DEFAULT_MAX_LENGTH)?;
    let config = DecoderConfig::from_json(&serde_json::json!({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": hf.vocab_size(),
        "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 128, "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "tie_word_embeddings": true, "initializer_range": 0.02, "hidden_act": "silu",
        "bos_token_id": cls, "pad_token_id": builtin.pad_id()?,
    }))?;
    let tokenizer = prompt_tokenizer(hf, &config, options)?;
    let readout = readout(&config, &tokenizer, options)?;
    let mut weights = WeightMap::new();
    weights.set_fresh_init(Some(FreshInit { seed, std: config.initializer_range, only_prefixes: None }));
    let model = DecoderLm::from_weights(&config, readout, &mut weights, Path::new("builtin:tiny-decoder"), device)?;
    let initialised = weights.initialised().to_vec();
    Ok(LoadedDecoder { model, tokenizer: Box::new(tokenizer), tokenizer_json, initialised, notes: Vec::new() })
}

/// The weights of `dir`: `model.safetensors`, else the shards a `model.safetensors.index.json`
/// lists; with the path errors should name.
///
/// # Errors
/// [`Error::BadInput`] naming the directory or index when neither exists, a shard is missing or
/// outside the directory, or a file is not valid safetensors.
pub fn read_checkpoint(dir: &Path) -> Result<(WeightMap, PathBuf)> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok((WeightMap::read_safetensors(&single)?, single));
    }
    let index = dir.join("model.safetensors.index.json");
    if !index.is_file() {
        return Err(Error::bad_input(
            dir,
            "no model.safetensors or model.safetensors.index.json in the model directory",
        ));
    }
    let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::bad_input(&index, format!("not a safetensors index: {e}")))?;
    let map = value
        .get("weight_map")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| Error::bad_input(&index, "no `weight_map` object"))?;
    let shards: BTreeSet<&str> = map.values().filter_map(serde_json::Value::as_str).collect();
    if shards.is_empty() {
        return Err(Error::bad_input(&index, "the weight map lists no shard"));
    }
    let mut weights = WeightMap::new();
    for shard in shards {
        if shard.contains('/') || shard.contains('\\') || shard.starts_with('.') {
            return Err(Error::bad_input(&index, format!("shard {shard:?} is not a file name in the directory")));
        }
        let path = dir.join(shard);
        if !path.is_file() {
            return Err(Error::bad_input(&index, format!("shard {shard} is missing")));
        }
        weights.extend(WeightMap::read_safetensors(&path)?);
    }
    Ok((weights, index))
}

/// Prefix the tensors of a bare base model (`LlamaModel`, `GPT2Model`) with `model.` /
/// `transformer.`.
fn add_missing_prefix(weights: &mut WeightMap, config: &DecoderConfig) {
    let prefix = config.family.prefix();
    let table = if config.family.uses_rope() { "embed_tokens.weight" } else { "wte.weight" };
    if weights.contains(&format!("{prefix}.{table}")) || !weights.contains(table) {
        return;
    }
    weights.rename_all(|name| {
        if name.starts_with("lm_head.") || name.starts_with("score.") {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    });
}

fn prompt_tokenizer(mut hf: HfTokenizer, config: &DecoderConfig, options: &DecoderOptions) -> Result<PromptTokenizer> {
    // Never truncate inside `tokenizers`: the prompt tokenizer refuses over-long prompts.
    hf.set_max_length(4 * MAX_INPUT_LENGTH)?;
    let pad = hf.special_ids().pad.or(config.pad_token_id).or(config.eos_token_id).unwrap_or(0);
    let template = options.template.clone().unwrap_or_default();
    Ok(PromptTokenizer::new(Box::new(hf), template, config.max_input_length(), pad))
}

fn readout(config: &DecoderConfig, tokenizer: &PromptTokenizer, options: &DecoderOptions) -> Result<Readout> {
    match (config.task, &options.label_words) {
        (DecoderTask::SequenceClassification { .. }, None) => Ok(Readout::Classes),
        (DecoderTask::SequenceClassification { .. }, Some(_)) => Err(Error::setting(
            "label_words",
            "the checkpoint has a sequence-classification head; label words apply to language models only",
        )),
        (DecoderTask::CausalLm, words) => {
            let words = words.clone().unwrap_or(DEFAULT_LABEL_WORDS.map(String::from));
            let ids = [tokenizer.single_token(&words[0])?, tokenizer.single_token(&words[1])?];
            if ids[0] == ids[1] {
                return Err(Error::setting("label_words", format!("{words:?} are the same token {}", ids[0])));
            }
            Ok(Readout::LabelWords { words, ids })
        }
    }
}

fn ignored_note(weights: &WeightMap) -> Option<String> {
    let ignored = weights.names();
    if ignored.is_empty() {
        return None;
    }
    let shown: Vec<&str> = ignored.iter().take(4).map(String::as_str).collect();
    let more = if ignored.len() > 4 { format!(" and {} more", ignored.len() - 4) } else { String::new() };
    Some(format!("note: ignored {} unused tensors ({}{more})", ignored.len(), shown.join(", ")))
}
