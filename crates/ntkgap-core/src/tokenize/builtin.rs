//! The built-in word-level tokenizer for ntkgap's embedded default model.
//!
//! Its vocabulary covers every word the Corr2Cause templates produce (Jin et al., arXiv
//! 2306.05836; wording as in `corpus::premise`), built deterministically in this id order:
//!
//! 1. special tokens `[PAD] [UNK] [CLS] [SEP] [MASK]` (ids 0–4);
//! 2. punctuation [`PUNCTUATION`] (the pre-tokenizer splits every punctuation character off);
//! 3. numbers `0`…`64` (the variable count n; n ≤ 64 = `graph::MAX_NODES`);
//! 4. variable names `A`…`Z`, then `X1`…`X64`;
//! 5. the template words [`TEMPLATE_WORDS`] and the extra query words [`QUERY_WORDS`] (kept for
//!    the A-CBO local query texts), each in its written, lower-case and capitalised forms, sorted
//!    and de-duplicated against everything above.
//!
//! **Case-sensitive.** No normalizer runs: lower-casing would merge the variable `A` with the
//! article `a`. Any other word maps to `[UNK]`. Pre-tokenizer: BERT's (split on whitespace and
//! punctuation). Post-processor: BERT's template (`[CLS] p [SEP] h [SEP]`, type ids 0/1).
//! Decoder: WordPiece's (tokens joined with spaces, space before punctuation removed) — decoding
//! is lossy around brackets (`( i. e., common effect )`).
//!
//! The tokenizer is a standard `tokenizer.json` (WordLevel model): [`save`] writes it and Python's
//! `tokenizers.Tokenizer.from_file` loads it (checked by `scripts/make_tokenizer_fixture.py`).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::tokenize::hf::{HfTokenizer, DEFAULT_MAX_LENGTH};

/// Special tokens, in id order (ids 0–4).
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// Punctuation tokens (ids follow the special tokens).
pub const PUNCTUATION: [&str; 11] = [".", ",", "(", ")", ":", ";", "?", "!", "'", "-", "="];

/// Largest number in the vocabulary (numbers `0..=MAX_NUMBER`).
pub const MAX_NUMBER: usize = 64;

/// Every word of the Corr2Cause premise and hypothesis templates.
pub const TEMPLATE_WORDS: &[&str] = &[
    // Premise: "Suppose there is a closed system of {n} variables, {list}. All the statistical
    // relations among these {n} variables are as follows: {A} correlates with {B}. However, {A}
    // is independent of {B}. {A} and {B} are independent given {C} and {D}."
    "Suppose",
    "there",
    "is",
    "a",
    "closed",
    "system",
    "of",
    "variables",
    "All",
    "the",
    "statistical",
    "relations",
    "among",
    "these",
    "are",
    "as",
    "follows",
    "correlates",
    "with",
    "However",
    "independent",
    "and",
    "given",
    // Hypotheses: "{i} directly causes {j}.", "{i} causes something else which causes {j}.",
    // "{j} is a cause for {i}, but not a direct one.", "There exists at least one collider
    // (i.e., common effect) of {i} and {j}.", "... confounder (i.e., common cause) of ..."
    "directly",
    "causes",
    "something",
    "else",
    "which",
    "cause",
    "for",
    "but",
    "not",
    "direct",
    "one",
    "There",
    "exists",
    "at",
    "least",
    "collider",
    "i",
    "e",
    "common",
    "effect",
    "confounder",
    // Variants that the label / relation wording of other benchmarks uses.
    "variable",
    "correlated",
];

/// Extra words for the A-CBO local query texts ("Under an intervention on X, does Y change?",
/// "If we intervene on X, what happens to Y?", answers "Yes"/"No").
pub const QUERY_WORDS: &[&str] = &[
    "under",
    "do",
    "intervention",
    "on",
    "does",
    "change",
    "changes",
    "if",
    "we",
    "intervene",
    "intervening",
    "Yes",
    "No",
    "what",
    "happens",
    "to",
    "when",
    "an",
    "in",
    "will",
    "affect",
    "set",
    "value",
    "true",
    "false",
    "answer",
    "question",
];

/// The vocabulary in id order (token `i` has id `i`).
pub fn vocabulary() -> Vec<String> {
    let mut vocab: Vec<String> = SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect();
    vocab.extend(PUNCTUATION.iter().map(|s| s.to_string()));
    vocab.extend((0..=MAX_NUMBER).map(|n| n.to_string()));
    vocab.extend((b'A'..=b'Z').map(|c| char::from(c).to_string()));
    vocab.extend((1..=MAX_NUMBER).map(|i| format!("X{i}")));
    let taken: BTreeSet<String> = vocab.iter().cloned().collect();
    let words: BTreeSet<String> = TEMPLATE_WORDS
        .iter()
        .chain(QUERY_WORDS.iter())
        .flat_map(|w| [w.to_string(), w.to_lowercase(), capitalise(w)])
        .filter(|w| !taken.contains(w))
        .collect();
    vocab.extend(words);
    vocab
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The built-in tokenizer as `tokenizer.json` content.
pub fn tokenizer_json() -> Value {
    let vocab = vocabulary();
    let model_vocab: serde_json::Map<String, Value> =
        vocab.iter().enumerate().map(|(i, w)| (w.clone(), json!(i))).collect();
    let added: Vec<Value> = SPECIAL_TOKENS
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    let special = |t: &str, type_id: u32| json!({"SpecialToken": {"id": t, "type_id": type_id}});
    let sequence = |s: &str, type_id: u32| json!({"Sequence": {"id": s, "type_id": type_id}});
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0), sequence("B", 1), special("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordLevel", "vocab": model_vocab, "unk_token": "[UNK]"}
    })
}

/// The built-in tokenizer (maximum length [`DEFAULT_MAX_LENGTH`]).
///
/// # Errors
/// [`Error::InvalidArgument`] only if the embedded definition fails to load (a bug).
pub fn tokenizer() -> Result<HfTokenizer> {
    let inner = tokenizers::Tokenizer::from_str_checked(&tokenizer_json().to_string())?;
    HfTokenizer::from_tokenizer(inner, "builtin".into(), DEFAULT_MAX_LENGTH)
}

/// The built-in tokenizer serialized by the `tokenizers` crate (pretty JSON), as [`save`]
/// writes it.
///
/// # Errors
/// As [`tokenizer`].
pub fn tokenizer_file_text() -> Result<String> {
    let inner = tokenizers::Tokenizer::from_str_checked(&tokenizer_json().to_string())?;
    inner.to_string(true).map_err(|e| Error::invalid("builtin tokenizer", e.to_string()))
}

/// Write the built-in tokenizer to `path` (a `.json` file, or a directory that receives
/// `tokenizer.json`), atomically.
///
/// # Errors
/// [`Error::Io`] naming the destination.
pub fn save(path: &Path) -> Result<()> {
    let file = if path.is_dir() { path.join("tokenizer.json") } else { path.to_path_buf() };
    let mut text = tokenizer_file_text()?;
    text.push('\n');
    write_atomic(file, text.as_bytes())
}

/// Parse tokenizer JSON, mapping failure to an ntkgap error.
trait FromStrChecked: Sized {
    fn from_str_checked(text: &str) -> Result<Self>;
}

impl FromStrChecked for tokenizers::Tokenizer {
    fn from_str_checked(text: &str) -> Result<Self> {
        text.parse().map_err(|e: tokenizers::Error| Error::invalid("builtin tokenizer", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::Tokenizer;

    #[test]
    fn vocabulary_is_unique_and_starts_with_specials() {
        let vocab = vocabulary();
        let set: BTreeSet<_> = vocab.iter().collect();
        assert_eq!(set.len(), vocab.len(), "duplicate tokens");
        assert_eq!(&vocab[..5], &SPECIAL_TOKENS.map(String::from));
        for w in ["Z", "X64", "64", "Suppose", "suppose", "confounder", "Yes", "no", "do", "("] {
            assert!(set.contains(&w.to_string()), "{w} missing");
        }
    }

    #[test]
    fn template_texts_have_no_unknown_words() {
        let tok = tokenizer().unwrap();
        let unk = tok.special_ids().unk.unwrap();
        let premise = "Suppose there is a closed system of 4 variables, Z, Y, X and W. All the statistical \
                       relations among these 4 variables are as follows: Z correlates with Y. However, Z is \
                       independent of X. Z and W are independent given Y and X.";
        let hyps = [
            "Z directly causes Y.",
            "Z causes something else which causes Y.",
            "Y is a cause for Z, but not a direct one.",
            "There exists at least one collider (i.e., common effect) of X1 and X64.",
            "There exists at least one confounder (i.e., common cause) of Z and Y.",
            "Under an intervention on Z, does Y change? Yes",
            "If we intervene on Z, what happens to Y when do(Z)? No",
        ];
        for h in hyps {
            let e = tok.encode_pair(premise, h).unwrap();
            assert!(!e.ids.contains(&unk), "unknown word in {h:?}: {:?}", tok.tokens(&e.ids));
        }
        assert!(tok.encode("zebra").unwrap().ids.contains(&unk));
    }

    #[test]
    fn case_is_kept_so_variable_a_is_not_the_article() {
        let tok = tokenizer().unwrap();
        let ids = tok.encode("A is a cause").unwrap().ids;
        assert_ne!(ids[1], ids[3]);
    }

    #[test]
    fn saved_file_is_deterministic_and_round_trips() {
        let a = tokenizer_file_text().unwrap();
        assert_eq!(a, tokenizer_file_text().unwrap());
        let dir = tempfile::tempdir().unwrap();
        save(dir.path()).unwrap();
        let loaded = HfTokenizer::from_path(dir.path()).unwrap();
        let built = tokenizer().unwrap();
        let text = "Z correlates with Y. However, Z is independent of X.";
        assert_eq!(
            loaded.encode_pair(text, "Z directly causes Y.").unwrap(),
            built.encode_pair(text, "Z directly causes Y.").unwrap()
        );
        assert_eq!(loaded.vocab_size(), vocabulary().len());
    }
}
