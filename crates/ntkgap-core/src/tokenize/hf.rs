//! Hugging Face `tokenizer.json` files through the `tokenizers` crate (pure-Rust `fancy-regex`
//! backend; no network, no C libraries).
//!
//! The file's normalizer, pre-tokenizer, model and post-processor are used as they are, so a pair
//! is laid out by the file's own template: BERT `[CLS] p [SEP] h [SEP]` with type ids 0…0 1…1,
//! RoBERTa `<s> p </s></s> h </s>` with type ids all 0. Two settings are overridden on load:
//! padding is switched off (batches are padded by [`crate::tokenize::pad_batch`]) and truncation
//! is set to `only_first` at [`Tokenizer::max_length`] — the premise-only rule. This is exactly
//! what Python `tokenizers` does with `enable_truncation(max_length, strategy="only_first")`
//! and `no_padding()` (checked token for token by `tests/tokenizer_parity.rs`).
//!
//! Default maximum length: the file's own truncation length, else `model_max_length` from a
//! `tokenizer_config.json` beside it (when below 100,000), else 512.

use std::path::{Path, PathBuf};

use tokenizers::utils::truncation::{TruncationDirection, TruncationError, TruncationParams, TruncationStrategy};
use tokenizers::PostProcessor;

use crate::error::{Error, Result};
use crate::tokenize::{Encoding, SpecialTokenIds, Tokenizer};

/// Maximum length used when neither the file nor its config names one.
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// A `tokenizer.json` tokenizer with the premise-only truncation rule.
#[derive(Clone)]
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    source: String,
    max_length: usize,
    special: SpecialTokenIds,
}

impl std::fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("source", &self.source)
            .field("max_length", &self.max_length)
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

impl HfTokenizer {
    /// Load `path`: a `tokenizer.json` file or a directory holding one.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the path when it is missing, unreadable or not a valid
    /// tokenizer file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let file = resolve_file(path)?;
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        // Check the JSON syntax first: `tokenizers` 0.22 panics (`expect("Helper")` in its
        // decoder deserializer) instead of failing when the "decoder" object is malformed JSON.
        // Found by the `tokenizer_json` fuzz target.
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
            Error::bad_input(&file, format!("not a valid tokenizer.json: {}", one_line(&e.to_string())))
        })?;
        let inner = text.parse::<tokenizers::Tokenizer>().map_err(|e| {
            Error::bad_input(&file, format!("not a valid tokenizer.json: {}", one_line(&e.to_string())))
        })?;
        let max_length = inner
            .get_truncation()
            .map(|t| t.max_length)
            .or_else(|| config_max_length(&file))
            .unwrap_or(DEFAULT_MAX_LENGTH);
        Self::from_tokenizer(inner, file.display().to_string(), max_length)
            .map_err(|e| Error::bad_input(&file, e.to_string()))
    }

    /// Wrap an in-memory tokenizer; `source` names it in messages.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `max_length` is too small for the pair template, or when
    /// the post-processor's template is inconsistent (see [`check_post_processor`]).
    pub fn from_tokenizer(mut inner: tokenizers::Tokenizer, source: String, max_length: usize) -> Result<Self> {
        if let Some(processor) = inner.get_post_processor() {
            check_post_processor(processor).map_err(|reason| Error::invalid("post_processor", reason))?;
        }
        let pad_from_file = inner.get_padding().map(|p| p.pad_id);
        inner.with_padding(None);
        let lookup = |names: &[&str]| names.iter().find_map(|n| inner.token_to_id(n));
        let special = SpecialTokenIds {
            pad: pad_from_file.or_else(|| lookup(&["[PAD]", "<pad>"])),
            unk: lookup(&["[UNK]", "<unk>"]),
            cls: lookup(&["[CLS]", "<s>"]),
            sep: lookup(&["[SEP]", "</s>"]),
            mask: lookup(&["[MASK]", "<mask>"]),
        };
        let mut tokenizer = Self { inner, source, max_length, special };
        tokenizer.set_max_length(max_length)?;
        Ok(tokenizer)
    }

    /// Replace the special-token ids found by name (a GGUF states its ids in its metadata).
    pub fn with_special_ids(mut self, special: SpecialTokenIds) -> Self {
        self.special = special;
        self
    }

    /// The wrapped `tokenizers` tokenizer (truncation `only_first`, no padding).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Encode `text` without the post-processor's special tokens (no BOS/CLS/SEP added; special
    /// tokens written in the text still map to their ids), cut at its end to the maximum length —
    /// what transformers does with `add_special_tokens=False`, as `apply_chat_template` encodes a
    /// rendered chat.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the tokenizer fails on the text.
    pub fn encode_without_special(&self, text: &str) -> Result<Encoding> {
        let e = self.inner.encode(text, false).map_err(|e| Error::invalid("text", format!("tokenizer failed: {e}")))?;
        Ok(Self::convert(&e))
    }

    /// The tokenizer as `tokenizer.json` text, without the truncation and padding settings this
    /// wrapper imposes (what a model directory saves; a GGUF's tokenizer is saved this way).
    ///
    /// # Errors
    /// [`Error::Internal`] when `tokenizers` cannot serialize it.
    pub fn to_json(&self) -> Result<String> {
        let mut plain = self.inner.clone();
        plain.with_truncation(None).map_err(|e| Error::internal("tokenizer.json", e.to_string()))?;
        plain.to_string(false).map_err(|e| Error::internal("tokenizer.json", e.to_string()))
    }

    /// Number of special tokens the post-processor adds to a single text (`is_pair = false`)
    /// or a pair.
    pub fn added_tokens(&self, is_pair: bool) -> usize {
        self.inner.get_post_processor().map_or(0, |p| p.added_tokens(is_pair))
    }

    fn convert(encoding: &tokenizers::Encoding) -> Encoding {
        Encoding {
            ids: encoding.get_ids().to_vec(),
            token_type_ids: encoding.get_type_ids().to_vec(),
            attention_mask: encoding.get_attention_mask().to_vec(),
            truncated: !encoding.get_overflowing().is_empty(),
        }
    }

    fn no_room_error(&self, hypothesis: &str) -> Error {
        let mut untruncated = self.inner.clone();
        let hypothesis_tokens = match untruncated.with_truncation(None) {
            Ok(t) => t.encode(hypothesis, false).map(|e| e.len()).unwrap_or(0),
            Err(_) => 0,
        };
        Error::invalid(
            "max length",
            format!(
                "the hypothesis needs {hypothesis_tokens} tokens plus {} special tokens; max length {} \
                 leaves no room for the premise (only the premise is ever truncated)",
                self.added_tokens(true),
                self.max_length
            ),
        )
    }
}

impl Tokenizer for HfTokenizer {
    fn source(&self) -> String {
        self.source.clone()
    }

    fn encode(&self, text: &str) -> Result<Encoding> {
        let e = self.inner.encode(text, true).map_err(|e| Error::invalid("text", format!("tokenizer failed: {e}")))?;
        Ok(Self::convert(&e))
    }

    fn encode_pair(&self, premise: &str, hypothesis: &str) -> Result<Encoding> {
        match self.inner.encode((premise, hypothesis), true) {
            Ok(e) => Ok(Self::convert(&e)),
            Err(e) if matches!(e.downcast_ref::<TruncationError>(), Some(TruncationError::SequenceTooShort)) => {
                Err(self.no_room_error(hypothesis))
            }
            Err(e) => Err(Error::invalid("text", format!("tokenizer failed: {e}"))),
        }
    }

    fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        let size = self.vocab_size();
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= size) {
            return Err(Error::invalid("token id", format!("{bad} is outside the vocabulary of size {size}")));
        }
        self.inner.decode(ids, skip_special).map_err(|e| Error::invalid("token ids", format!("decoding failed: {e}")))
    }

    fn tokens(&self, ids: &[u32]) -> Vec<String> {
        ids.iter().map(|&id| self.inner.id_to_token(id).unwrap_or_else(|| format!("<id {id}?>"))).collect()
    }

    fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    fn special_ids(&self) -> SpecialTokenIds {
        self.special
    }

    fn max_length(&self) -> usize {
        self.max_length
    }

    fn set_max_length(&mut self, max_length: usize) -> Result<()> {
        let needed = self.added_tokens(true) + 2;
        if max_length < needed {
            return Err(Error::setting(
                "max_length",
                format!("{max_length} is too small: the pair template needs at least {needed} positions"),
            ));
        }
        let params = TruncationParams {
            direction: TruncationDirection::Right,
            max_length,
            strategy: TruncationStrategy::OnlyFirst,
            stride: 0,
        };
        self.inner.with_truncation(Some(params)).map_err(|e| Error::setting("max_length", e.to_string()))?;
        self.max_length = max_length;
        Ok(())
    }
}

/// Refuse a `TemplateProcessing` post-processor (also inside a `Sequence`) whose template names
/// a special token its `special_tokens` do not define, or whose special token has unequal `ids`
/// and `tokens` lists. `tokenizers` 0.22 deserializes such a file without complaint and then
/// panics on the first encoding (`processors/template.rs:563`, found by the `tokenizer_json`
/// fuzz target). The check reads the processor's own serialization, i.e. what was loaded.
fn check_post_processor(processor: &tokenizers::PostProcessorWrapper) -> std::result::Result<(), String> {
    let value = serde_json::to_value(processor).map_err(|e| format!("cannot be inspected: {e}"))?;
    check_processor_value(&value)
}

fn check_processor_value(value: &serde_json::Value) -> std::result::Result<(), String> {
    match value.get("type").and_then(|t| t.as_str()) {
        Some("Sequence") => {
            let list = value.get("processors").and_then(|p| p.as_array()).map_or(&[][..], Vec::as_slice);
            list.iter().try_for_each(check_processor_value)
        }
        Some("TemplateProcessing") => {
            let special = value.get("special_tokens").and_then(|s| s.as_object());
            for (key, token) in special.into_iter().flatten() {
                let len = |field: &str| token.get(field).and_then(|v| v.as_array()).map(Vec::len);
                if len("ids") != len("tokens") {
                    return Err(format!("special token {key:?} has different numbers of ids and tokens"));
                }
            }
            let pieces = ["single", "pair"].into_iter().filter_map(|t| value.get(t).and_then(|v| v.as_array()));
            for piece in pieces.flatten() {
                if let Some(id) = piece.get("SpecialToken").and_then(|p| p.get("id")).and_then(|i| i.as_str()) {
                    if !special.is_some_and(|s| s.contains_key(id)) {
                        return Err(format!("the template uses special token {id:?}, undefined in special_tokens"));
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `path` itself when it is a file, `path/tokenizer.json` when it is a directory.
fn resolve_file(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        let file = path.join("tokenizer.json");
        if !file.is_file() {
            return Err(Error::bad_input(path, "directory holds no tokenizer.json"));
        }
        return Ok(file);
    }
    if !path.exists() {
        return Err(Error::bad_input(
            path,
            "no such file or directory (expected `builtin`, a tokenizer.json or a directory holding one)",
        ));
    }
    Ok(path.to_path_buf())
}

/// `model_max_length` from a `tokenizer_config.json` beside `file`, when present and sane.
fn config_max_length(file: &Path) -> Option<usize> {
    let config = file.parent()?.join("tokenizer_config.json");
    let text = std::fs::read_to_string(config).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let n = value.get("model_max_length")?.as_u64()?;
    (n > 0 && n < 100_000).then_some(n as usize)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
