//! Loading a decoder: a Hugging Face directory (`config.json`, `model.safetensors` or a sharded
//! `model.safetensors.index.json`, `tokenizer.json`), a GGUF file ([`super::gguf`]) or
//! `builtin:tiny-decoder`. Every source ends in one construction ([`assemble`]): the validated
//! config, the Hugging Face-named f32 weights checked tensor by tensor, the tokenizer wrapped in
//! a [`PromptTokenizer`] and the readout resolved through it.
//!
//! * Bare base models (`LlamaModel` saves `embed_tokens.…`, `GPT2Model` saves `wte.…`) are
//!   recognised and prefixed (`model.` / `transformer.`).
//! * Tensors the model does not use (an `lm_head.weight` beside tied embeddings, GPT-2's
//!   attention-mask buffers) are ignored and counted in the notes; missing, misshapen and
//!   non-finite tensors are one error listing every offending name.
//! * The label words of a language model are resolved through the prompt tokenizer (each must
//!   be one token); their default follows [`DecoderOptions::chat`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::Serialize;
use serde_json::Value;

use crate::corpus::{ShotSet, ShotSummary};
use crate::error::{Error, Result};
use crate::model::decoder::config::{DecoderConfig, DecoderTask, MAX_INPUT_LENGTH};
use crate::model::decoder::lm::{DecoderLm, Readout};
use crate::model::decoder::prompt::{default_label_words, PromptTemplate, PromptTokenizer};
use crate::model::decoder::save::DecoderFiles;
use crate::model::weights::{FreshInit, WeightMap};
use crate::tokenize::chat::ChatTemplate;
use crate::tokenize::{self, HfTokenizer, Tokenizer};

/// Decoder-specific options of loading (the `--label-words`, `--prompt`, `--chat` flags).
#[derive(Debug, Clone, Default)]
pub struct DecoderOptions {
    /// The label words `[no, yes]` of a language model (default
    /// [`crate::model::decoder::DEFAULT_LABEL_WORDS`], or
    /// [`crate::model::decoder::CHAT_LABEL_WORDS`] with `chat`); each must be one token.
    /// Refused for a sequence classifier.
    pub label_words: Option<[String; 2]>,
    /// The prompt template of premise/hypothesis records (default
    /// [`crate::model::decoder::prompt::DEFAULT_TEMPLATE`]).
    pub template: Option<PromptTemplate>,
    /// Render each premise/hypothesis prompt as the user message of the model's chat template,
    /// with the generation prompt (a checkpoint without a chat template is refused).
    pub chat: bool,
    /// In-context demonstrations in front of every premise/hypothesis prompt (`--shots K`;
    /// empty: zero-shot). Refused for a sequence classifier (they need label words).
    pub shots: ShotSet,
}

/// How a loaded decoder turns records into prompts and reads its answer (recorded in
/// `meta.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prompting {
    /// The template of premise/hypothesis records.
    pub template: String,
    /// Whether premise/hypothesis prompts go through the chat template.
    pub chat: bool,
    /// The chat template's source, when `chat`.
    pub chat_template: Option<String>,
    /// The label words `[no, yes]` (None for a sequence classifier).
    pub label_words: Option<[String; 2]>,
    /// Their token ids.
    pub label_ids: Option<[u32; 2]>,
    /// What happens to `{"text"}` records.
    pub text_records: &'static str,
    /// What happens to prompts longer than the model's context.
    pub long_prompts: &'static str,
    /// The in-context demonstrations every premise/hypothesis prompt starts with (`null`:
    /// zero-shot).
    pub shots: Option<ShotSummary>,
    /// Tokens of the demonstrations' prefix alone (0 zero-shot).
    pub shots_tokens: usize,
}

/// A loaded decoder with its prompt tokenizer.
pub struct LoadedDecoder {
    /// The model (eval mode).
    pub model: DecoderLm,
    /// The prompt tokenizer (verbatim texts, templated pairs, no truncation).
    pub tokenizer: Box<dyn Tokenizer>,
    /// The `tokenizer.json` text (for a GGUF, its tokenizer serialized).
    pub tokenizer_json: String,
    /// Everything a checkpoint of this model saves besides the weights.
    pub files: DecoderFiles,
    /// The prompting in force.
    pub prompting: Prompting,
    /// Names of tensors initialised from the seed (built-in models).
    pub initialised: Vec<String>,
    /// Human-readable notes (ignored tensors, dequantized GGUF tensors), one line each.
    pub notes: Vec<String>,
}

/// What a checkpoint source provides before the shared construction.
pub(crate) struct Source {
    /// The validated config.
    pub config: DecoderConfig,
    /// The weights under Hugging Face names (fresh initialisation set for built-in models).
    pub weights: WeightMap,
    /// The file weight errors name.
    pub weights_path: PathBuf,
    /// The tokenizer (its own truncation is replaced).
    pub tokenizer: HfTokenizer,
    /// The file tokenizer errors name.
    pub tokenizer_path: PathBuf,
    /// The chat template, loaded only when asked for.
    pub chat: Option<ChatTemplate>,
    /// The files a checkpoint saves.
    pub files: DecoderFiles,
    /// Notes of the source (dequantized tensors).
    pub notes: Vec<String>,
}

/// Build the model from `source`: check the tokenizer against the vocabulary, wrap it, resolve
/// the readout, construct and check every tensor.
pub(crate) fn assemble(source: Source, options: &DecoderOptions, device: &Device) -> Result<LoadedDecoder> {
    let Source { config, mut weights, weights_path, tokenizer, tokenizer_path, chat, files, mut notes } = source;
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(Error::bad_input(
            &tokenizer_path,
            format!(
                "tokenizer has {} tokens but the model's vocabulary holds {}",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        ));
    }
    let mut tokenizer = prompt_tokenizer(tokenizer, &config, options, chat)?;
    let readout = readout(&config, &tokenizer, options)?;
    match &readout {
        Readout::LabelWords { words, .. } => tokenizer.set_shots(&options.shots, words),
        Readout::Classes if !options.shots.is_empty() => {
            return Err(Error::setting(
                "shots",
                "the checkpoint has a sequence-classification head; demonstrations need label words",
            ))
        }
        Readout::Classes => {}
    }
    let model = DecoderLm::from_weights(&config, readout, &mut weights, &weights_path, device)?;
    notes.extend(ignored_note(&weights));
    let mut prompting = prompting(&tokenizer, &model.readout);
    if !options.shots.is_empty() {
        prompting.shots = Some(options.shots.summary());
        prompting.shots_tokens = tokenizer.prefix_tokens()?;
    }
    Ok(LoadedDecoder {
        model,
        tokenizer: Box::new(tokenizer),
        tokenizer_json: files.tokenizer_json.clone(),
        files,
        prompting,
        initialised: weights.initialised().to_vec(),
        notes,
    })
}

/// The chat template `found` in `source`, or the refusal of `chat` without one.
pub(crate) fn require_chat(found: Option<ChatTemplate>, source: &Path) -> Result<ChatTemplate> {
    found.ok_or_else(|| {
        Error::setting(
            "chat",
            format!(
                "{} has no chat template (a GGUF's tokenizer.chat_template, or chat_template.jinja / the \
                 chat_template of tokenizer_config.json in a model directory)",
                source.display()
            ),
        )
    })
}

/// Load the decoder in `dir` on `device`.
///
/// # Errors
/// [`Error::BadInput`] naming the file for a missing file, an invalid config, bad weights
/// (every offending tensor named) or a tokenizer that does not fit; [`Error::InvalidSetting`]
/// (`label_words`, `chat`) for a label word that is not one token or a missing chat template.
pub fn load_dir(dir: &Path, options: &DecoderOptions, device: &Device) -> Result<LoadedDecoder> {
    let config_path = dir.join("config.json");
    let config = DecoderConfig::from_file(&config_path)?;
    let config_json = read_json(&config_path)?;
    let (mut weights, weights_path) = read_checkpoint(dir)?;
    add_missing_prefix(&mut weights, &config);
    let tokenizer_path = dir.join("tokenizer.json");
    if !tokenizer_path.is_file() {
        return Err(Error::bad_input(dir, "no tokenizer.json in the model directory"));
    }
    let tokenizer_json = std::fs::read_to_string(&tokenizer_path).map_err(|e| Error::io(&tokenizer_path, e))?;
    let tokenizer = HfTokenizer::from_path(&tokenizer_path)?;
    let chat = if options.chat { Some(require_chat(ChatTemplate::from_hf_dir(dir)?, dir)?) } else { None };
    let files = DecoderFiles { config_json, tokenizer_json, extra: companion_files(dir)? };
    let source = Source { config, weights, weights_path, tokenizer, tokenizer_path, chat, files, notes: Vec::new() };
    assemble(source, options, device)
}

/// `builtin:tiny-decoder`: a Llama-family decoder (H = 64, 2 blocks, 4 query / 2 key-value
/// heads, SiLU MLP 128, RoPE θ = 10⁴, tied embeddings) over the built-in word tokenizer with a
/// BOS-style post-processor (`[CLS] text`), initialised from `seed` (σ = 0.02, norms 1). It has
/// no chat template.
///
/// # Errors
/// As [`load_dir`] (a label word that is not one built-in token; `chat`).
pub fn load_builtin(seed: u64, options: &DecoderOptions, device: &Device) -> Result<LoadedDecoder> {
    let name = Path::new("builtin:tiny-decoder");
    if options.chat {
        require_chat(None, name)?;
    }
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
    let hf = HfTokenizer::from_tokenizer(inner, name.display().to_string(), tokenize::hf::DEFAULT_MAX_LENGTH)?;
    let config_json = serde_json::json!({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": hf.vocab_size(),
        "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 128, "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "tie_word_embeddings": true, "initializer_range": 0.02, "hidden_act": "silu",
        "bos_token_id": cls, "pad_token_id": builtin.pad_id()?,
    });
    let config = DecoderConfig::from_json(&config_json)?;
    let mut weights = WeightMap::new();
    weights.set_fresh_init(Some(FreshInit { seed, std: config.initializer_range, only_prefixes: None }));
    let files = DecoderFiles { config_json, tokenizer_json, extra: Vec::new() };
    let source = Source {
        config,
        weights,
        weights_path: name.to_path_buf(),
        tokenizer: hf,
        tokenizer_path: name.to_path_buf(),
        chat: None,
        files,
        notes: Vec::new(),
    };
    assemble(source, options, device)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::bad_input(path, format!("not valid JSON: {e}")))
}

/// Tokenizer and generation files of a model directory that a checkpoint copies verbatim.
const COMPANION_FILES: [&str; 4] =
    ["tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json", "generation_config.json"];

fn companion_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for name in COMPANION_FILES {
        let path = dir.join(name);
        if path.is_file() {
            out.push((name.to_string(), std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?));
        }
    }
    Ok(out)
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
    let value: Value =
        serde_json::from_str(&text).map_err(|e| Error::bad_input(&index, format!("not a safetensors index: {e}")))?;
    let map = value
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_input(&index, "no `weight_map` object"))?;
    let shards: BTreeSet<&str> = map.values().filter_map(Value::as_str).collect();
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

fn prompt_tokenizer(
    mut hf: HfTokenizer,
    config: &DecoderConfig,
    options: &DecoderOptions,
    chat: Option<ChatTemplate>,
) -> Result<PromptTokenizer> {
    // Never truncate inside `tokenizers`: long prompts are counted and refused instead.
    hf.set_max_length(4 * MAX_INPUT_LENGTH)?;
    let pad = hf.special_ids().pad.or(config.pad_token_id).or(config.eos_token_id).unwrap_or(0);
    let template = options.template.clone().unwrap_or_default();
    Ok(PromptTokenizer::new(hf, template, chat, config.max_input_length(), pad))
}

fn readout(config: &DecoderConfig, tokenizer: &PromptTokenizer, options: &DecoderOptions) -> Result<Readout> {
    match (config.task, &options.label_words) {
        (DecoderTask::SequenceClassification { .. }, None) => Ok(Readout::Classes),
        (DecoderTask::SequenceClassification { .. }, Some(_)) => Err(Error::setting(
            "label_words",
            "the checkpoint has a sequence-classification head; label words apply to language models only",
        )),
        (DecoderTask::CausalLm, words) => {
            let words = words.clone().unwrap_or_else(|| default_label_words(tokenizer.chat().is_some()));
            let ids = [tokenizer.single_token(&words[0])?, tokenizer.single_token(&words[1])?];
            if ids[0] == ids[1] {
                return Err(Error::setting("label_words", format!("{words:?} are the same token {}", ids[0])));
            }
            Ok(Readout::LabelWords { words, ids })
        }
    }
}

fn prompting(tokenizer: &PromptTokenizer, readout: &Readout) -> Prompting {
    let (label_words, label_ids) = match readout {
        Readout::LabelWords { words, ids } => (Some(words.clone()), Some(*ids)),
        Readout::Classes => (None, None),
    };
    Prompting {
        template: tokenizer.template().as_str().to_string(),
        chat: tokenizer.chat().is_some(),
        chat_template: tokenizer.chat().map(|c| c.source().to_string()),
        label_words,
        label_ids,
        text_records: "verbatim (the tokenizer's own special tokens, no template, no chat)",
        long_prompts: "refused, counted (never truncated)",
        shots: None,
        shots_tokens: 0,
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
