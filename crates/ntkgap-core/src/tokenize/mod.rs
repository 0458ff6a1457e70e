//! Tokenizers, token-overlap metrics and near-miss pair mining.
//!
//! * [`Tokenizer`] — the one interface the rest of ntkgap encodes text through (single texts and
//!   premise/hypothesis pairs, decoding, vocabulary size, special-token ids, maximum length).
//! * [`HfTokenizer`] — any Hugging Face `tokenizer.json` (crate `tokenizers`, pure-Rust regex
//!   backend). Pair encoding follows the file's own post-processor template (BERT
//!   `[CLS] p [SEP] h [SEP]` with type ids 0/1, RoBERTa `<s> p </s></s> h </s>`).
//! * [`mod@gguf`] — the tokenizer a GGUF model file describes in its metadata (byte-level BPE),
//!   built as transformers builds it, as an [`HfTokenizer`].
//! * [`chat`] — chat templates (Jinja, from a GGUF or a `tokenizer_config.json`) rendered as
//!   transformers' `apply_chat_template` renders them.
//! * [`builtin`] — a word-level vocabulary covering every word the Corr2Cause templates produce,
//!   stored as a standard `tokenizer.json` (it *is* an [`HfTokenizer`]).
//! * [`mod@overlap`] — shared-token fraction, Jaccard, Levenshtein on token ids, differing tokens.
//! * [`pairs`] — the near-miss pair miner (same premise / same hypothesis).
//! * [`stream`] — parallel (rayon), chunked tokenization of a JSONL corpus.
//! * [`summary`] — overlap of mined pairs by number of variables (table, CSV).
//!
//! **Truncation rule** (docs/science.md "Conventions"): only the premise is ever cut (Hugging Face's
//! `only_first` strategy), so the hypothesis always survives; an input whose hypothesis plus
//! special tokens leaves no room for at least one premise token is an error, never silently cut.
//! A single text is cut at its end. Truncated encodings carry `truncated = true` and corpus
//! tokenization counts them.
//!
//! ```
//! use ntkgap_core::tokenize::{load, overlap_encodings};
//!
//! let tok = load("builtin")?;
//! let premise = "Suppose there is a closed system of 3 variables, Z, Y and X. All the statistical \
//!                relations among these 3 variables are as follows: Z correlates with Y. \
//!                Y correlates with X. However, Z is independent of X.";
//! let plus = tok.encode_pair(premise, "Z directly causes Y.")?;
//! let minus = tok.encode_pair(premise, "Z causes something else which causes Y.")?;
//! assert_eq!(tok.tokens(&plus.ids[..2]), ["[CLS]", "Suppose"]);
//! let o = overlap_encodings(&plus, &minus);
//! assert!(o.shared_fraction > 0.85 && o.differing_tokens == 5);
//! # Ok::<(), ntkgap_core::Error>(())
//! ```

pub mod builtin;
pub mod chat;
pub mod encoding;
pub mod gguf;
pub mod hf;
pub mod overlap;
pub mod pairs;
pub mod stream;
pub mod summary;

use std::path::Path;

pub use encoding::{pad_batch, Encoding, PaddedBatch};
pub use hf::HfTokenizer;
pub use overlap::{overlap, overlap_encodings, Overlap};

use crate::corpus::RecordText;
use crate::error::{Error, Result};

/// Ids of the special tokens a tokenizer defines (`None` when it has no such token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct SpecialTokenIds {
    /// Padding (`[PAD]`, `<pad>`).
    pub pad: Option<u32>,
    /// Unknown word (`[UNK]`, `<unk>`).
    pub unk: Option<u32>,
    /// Sequence start / classification token (`[CLS]`, `<s>`).
    pub cls: Option<u32>,
    /// Separator / sequence end (`[SEP]`, `</s>`).
    pub sep: Option<u32>,
    /// Mask (`[MASK]`, `<mask>`).
    pub mask: Option<u32>,
}

/// A text tokenizer producing model-ready [`Encoding`]s.
///
/// Implementations are immutable after construction except for [`Tokenizer::set_max_length`],
/// and `Send + Sync` so a corpus can be encoded in parallel.
pub trait Tokenizer: Send + Sync {
    /// Where the tokenizer came from: `builtin` or the `tokenizer.json` path.
    fn source(&self) -> String;

    /// Encode one text with special tokens (`[CLS] text [SEP]`), cut at its end to
    /// [`Tokenizer::max_length`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the tokenizer fails on the text.
    fn encode(&self, text: &str) -> Result<Encoding>;

    /// Encode a premise/hypothesis pair with the tokenizer's pair template, truncating the
    /// premise only.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `max length`) when the hypothesis with the special
    /// tokens leaves no room for the premise.
    fn encode_pair(&self, premise: &str, hypothesis: &str) -> Result<Encoding>;

    /// The text for `ids` (special tokens skipped when `skip_special` is true).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when an id is outside the vocabulary or decoding fails.
    fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String>;

    /// The surface token of each id (`[UNK]`-style placeholders for unknown ids).
    fn tokens(&self, ids: &[u32]) -> Vec<String>;

    /// Vocabulary size, added tokens included.
    fn vocab_size(&self) -> usize;

    /// Ids of the special tokens.
    fn special_ids(&self) -> SpecialTokenIds;

    /// Maximum encoded length, special tokens included.
    fn max_length(&self) -> usize;

    /// Change the maximum encoded length.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`max_length`) when `max_length` cannot hold the pair
    /// template's special tokens plus one token of each segment.
    fn set_max_length(&mut self, max_length: usize) -> Result<()>;

    /// Encode a record's model input (pair or single text).
    ///
    /// # Errors
    /// As [`Tokenizer::encode`] / [`Tokenizer::encode_pair`].
    fn encode_input(&self, input: RecordText<'_>) -> Result<Encoding> {
        match input {
            RecordText::Pair { premise, hypothesis } => self.encode_pair(premise, hypothesis),
            RecordText::Single(text) => self.encode(text),
        }
    }

    /// The pad id, required for batching.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `tokenizer`) when the tokenizer defines no pad token.
    fn pad_id(&self) -> Result<u32> {
        self.special_ids()
            .pad
            .ok_or_else(|| Error::invalid("tokenizer", format!("{} defines no padding token", self.source())))
    }
}

/// Load a tokenizer from a spec: `builtin` (the embedded word-level vocabulary), a
/// `tokenizer.json` file, a directory holding one (e.g. a Hugging Face checkpoint), or a GGUF
/// model file (`*.gguf`, its metadata's tokenizer, see [`mod@gguf`]).
///
/// # Errors
/// [`Error::BadInput`] naming the path when it does not exist, holds no `tokenizer.json`, or
/// the file is not a valid tokenizer.
pub fn load(spec: &str) -> Result<Box<dyn Tokenizer>> {
    if spec == "builtin" {
        return Ok(Box::new(builtin::tokenizer()?));
    }
    let path = Path::new(spec);
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) && path.is_file() {
        return Ok(Box::new(gguf::tokenizer(&crate::gguf::GgufFile::open(path)?)?));
    }
    Ok(Box::new(HfTokenizer::from_path(Path::new(spec))?))
}

/// [`load`], then [`Tokenizer::set_max_length`] when `max_length` is given.
///
/// # Errors
/// As [`load`] and [`Tokenizer::set_max_length`].
pub fn load_with_max_length(spec: &str, max_length: Option<usize>) -> Result<Box<dyn Tokenizer>> {
    let mut tokenizer = load(spec)?;
    if let Some(m) = max_length {
        tokenizer.set_max_length(m)?;
    }
    Ok(tokenizer)
}
