//! The tokenizer a GGUF file describes in its metadata, built as transformers builds it
//! (`integrations/gguf/gguf_tokenizer_mapping.py`, transformers 5.25) and wrapped as an
//! [`HfTokenizer`], so pair encoding, premise-only truncation and padding work as for any
//! `tokenizer.json`.
//!
//! Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE), which GPT-2, SmolLM, Llama 3,
//! Qwen2 and most BPE models use. Built from the metadata:
//!
//! * **model**: BPE over `tokenizer.ggml.tokens` (id = position; a token spelled outside the
//!   byte-level alphabet is respelled byte by byte, as transformers does) and
//!   `tokenizer.ggml.merges` (`"a b"` pairs), no unknown token, no dropout;
//! * **pre-tokenizer**: `ByteLevel` with the GPT-2 regex, or — when `tokenizer.ggml.pre` names a
//!   family transformers knows (llama3/llama-bpe/…, qwen2/…, gpt-4o/…, tekken) — that family's split
//!   regex followed by `ByteLevel` without regex. Note that transformers ignores llama.cpp-only
//!   pre-tokenizers such as `smollm` (digits split off first); so does ntkgap, to match it;
//! * **added tokens**: every CONTROL token (`token_type` 3) spelled in the byte-level alphabet
//!   becomes a special added token (its text in the input maps to its one id), every USER_DEFINED
//!   token (4) a plain added token;
//! * **post-processor**: `BOS $A EOS` / `BOS $A BOS $B EOS` per `tokenizer.ggml.add_bos_token` /
//!   `add_eos_token` (absent = false; a flag whose token id is absent is dropped), type ids 0/1;
//! * **decoder**: `ByteLevel`;
//! * **special ids**: pad = `padding_token_id`, unk = `unknown_token_id`, cls = `bos_token_id`,
//!   sep = `eos_token_id`; maximum length `{arch}.context_length` (else 512).
//!
//! Refused in one line: other tokenizer models (`llama` SentencePiece, `t5`, …), a missing vocabulary
//! or merge list, token types of the wrong length, merges naming tokens outside the vocabulary,
//! special ids outside the vocabulary.

use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::gguf::GgufFile;
use crate::tokenize::hf::DEFAULT_MAX_LENGTH;
use crate::tokenize::{HfTokenizer, SpecialTokenIds};

/// `tokenizer.ggml.token_type` values.
const CONTROL: i128 = 3;
const USER_DEFINED: i128 = 4;

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const GPT4O_SPLIT: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);
const TEKKEN_SPLIT: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*",
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);

/// transformers' `GGUF_PRE_TOKENIZER_SPLITS`: the split regex of a `tokenizer.ggml.pre` family.
fn split_regex(pre: &str) -> Option<&'static str> {
    Some(match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0" | "lfm2"
        | "jina-v5-nano" | "dbrx" | "smaug-bpe" => LLAMA3_SPLIT,
        "tekken" => TEKKEN_SPLIT,
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" => QWEN2_SPLIT,
        "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => GPT4O_SPLIT,
        _ => return None,
    })
}

/// GPT-2's byte → printable character table (`bytes_to_unicode`).
fn byte_alphabet() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[b as usize] = if printable {
            char::from(b)
        } else {
            next += 1;
            char::from_u32(next - 1).unwrap_or('\u{FFFD}')
        };
    }
    table
}

/// The byte-level spelling of `token`: itself when every character is in the alphabet, else its
/// UTF-8 bytes mapped through the alphabet.
fn byte_level_spelling(token: &str, table: &[char; 256], in_alphabet: &dyn Fn(char) -> bool) -> String {
    if token.chars().all(in_alphabet) {
        token.to_string()
    } else {
        token.bytes().map(|b| table[b as usize]).collect()
    }
}

/// Build the tokenizer `file` describes.
///
/// # Errors
/// [`crate::Error::BadInput`] naming the file, in one line, when the tokenizer model is not
/// `gpt2`, a needed key is missing or mistyped, or the vocabulary, merges, token types or
/// special ids are inconsistent.
pub fn tokenizer(file: &GgufFile) -> Result<HfTokenizer> {
    let model = file.require_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        let what = if model == "llama" { " (SentencePiece)" } else { "" };
        return Err(file.error(format!(
            "tokenizer.ggml.model is {model:?}{what}, which ntkgap cannot build (supported: gpt2, byte-level BPE)"
        )));
    }
    let tokens = strings(file, "tokenizer.ggml.tokens")?;
    let merges = strings(file, "tokenizer.ggml.merges")?;
    let types = match file.get_array("tokenizer.ggml.token_type")? {
        None => vec![1; tokens.len()],
        Some(a) => a.to_ints().filter(|t| t.len() == tokens.len()).ok_or_else(|| {
            file.error(format!(
                "tokenizer.ggml.token_type has {} {} values for {} tokens (expected one integer per token)",
                a.len(),
                a.element_type_name(),
                tokens.len()
            ))
        })?,
    };
    let table = byte_alphabet();
    let alphabet: std::collections::HashSet<char> = table.iter().copied().collect();
    let in_alphabet = |c: char| alphabet.contains(&c);
    let mut vocab = Map::new();
    for (id, token) in tokens.iter().enumerate() {
        vocab.insert(byte_level_spelling(token, &table, &in_alphabet), json!(id));
    }
    let merges: Vec<Value> = merges
        .iter()
        .map(|m| match m.split(' ').collect::<Vec<_>>()[..] {
            [a, b] => Ok(json!([a, b])),
            _ => Err(file.error(format!("tokenizer.ggml.merges entry {m:?} is not two tokens separated by a space"))),
        })
        .collect::<Result<_>>()?;
    let mut added = Vec::new();
    for (id, (token, &ty)) in tokens.iter().zip(&types).enumerate() {
        let special = ty == CONTROL && token.chars().all(in_alphabet);
        if special || (ty == USER_DEFINED && vocab.contains_key(token.as_str())) {
            added.push(json!({"id": id, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                              "normalized": false, "special": special}));
        }
    }
    let special = special_ids(file, tokens.len())?;
    let flag = |key: &str, id: Option<u32>| -> Result<Option<(String, u32)>> {
        let on = file.get_bool(&format!("tokenizer.ggml.{key}"))?.unwrap_or(false);
        Ok(id.filter(|_| on).map(|id| (tokens[id as usize].clone(), id)))
    };
    let bos = flag("add_bos_token", special.cls)?;
    let eos = flag("add_eos_token", special.sep)?;
    let document = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added, "normalizer": null,
        "pre_tokenizer": pre_tokenizer(file.get_str("tokenizer.ggml.pre")?),
        "post_processor": post_processor(bos.as_ref(), eos.as_ref()),
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    });
    let inner: tokenizers::Tokenizer = serde_json::from_value(document).map_err(|e| {
        file.error(format!("the tokenizer in the metadata is inconsistent: {}", one_line(&e.to_string())))
    })?;
    let max_length = match file.get_str("general.architecture")? {
        Some(arch) => file.get_u64(&format!("{arch}.context_length"))?,
        None => None,
    };
    let max_length = max_length.map_or(DEFAULT_MAX_LENGTH, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let source = format!("{} (GGUF tokenizer)", file.path().display());
    let tokenizer = HfTokenizer::from_tokenizer(inner, source, max_length).map_err(|e| file.error(e.to_string()))?;
    Ok(tokenizer.with_special_ids(special))
}

fn strings<'a>(file: &'a GgufFile, key: &str) -> Result<&'a [String]> {
    let array = file.require_array(key)?;
    let list = array.as_strs().ok_or_else(|| {
        file.error(format!("metadata key {key} is an array of {}, expected strings", array.element_type_name()))
    })?;
    if list.is_empty() {
        return Err(file.error(format!("metadata key {key} is empty")));
    }
    Ok(list)
}

fn special_ids(file: &GgufFile, vocab: usize) -> Result<SpecialTokenIds> {
    let id = |name: &str| -> Result<Option<u32>> {
        let key = format!("tokenizer.ggml.{name}");
        match file.get_u32(&key)? {
            Some(id) if id as usize >= vocab => {
                Err(file.error(format!("{key} is {id}, outside the vocabulary of {vocab} tokens")))
            }
            other => Ok(other),
        }
    };
    Ok(SpecialTokenIds {
        pad: id("padding_token_id")?,
        unk: id("unknown_token_id")?,
        cls: id("bos_token_id")?,
        sep: id("eos_token_id")?,
        mask: None,
    })
}

fn pre_tokenizer(pre: Option<&str>) -> Value {
    match pre.and_then(split_regex) {
        None => json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}),
        Some(regex) => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
        ]}),
    }
}

/// transformers' `update_post_processor`: `BOS:0 $A:0 EOS:0` and `… BOS:1 $B:1 EOS:1`.
fn post_processor(bos: Option<&(String, u32)>, eos: Option<&(String, u32)>) -> Value {
    let special = |t: &(String, u32), type_id: u32| json!({"SpecialToken": {"id": t.0, "type_id": type_id}});
    let sequence = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
    let half = |id: &str, type_id: u32| -> Vec<Value> {
        bos.map(|t| special(t, type_id))
            .into_iter()
            .chain([sequence(id, type_id)])
            .chain(eos.map(|t| special(t, type_id)))
            .collect()
    };
    let single = half("A", 0);
    let pair: Vec<Value> = single.iter().cloned().chain(half("B", 1)).collect();
    let mut tokens = Map::new();
    for (token, id) in bos.into_iter().chain(eos) {
        tokens.insert(token.clone(), json!({"id": token, "ids": [id], "tokens": [token]}));
    }
    json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": tokens})
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_is_gpt2s() {
        let t = byte_alphabet();
        assert_eq!((t[b' ' as usize], t[b'\n' as usize], t[b'a' as usize]), ('Ġ', 'Ċ', 'a'));
        assert_eq!((t[0], t[0xAD], t[0x7F]), ('Ā', 'Ń', 'ġ'));
        let unique: std::collections::HashSet<char> = t.iter().copied().collect();
        assert_eq!(unique.len(), 256);
        let inside = |c: char| unique.contains(&c);
        assert_eq!(byte_level_spelling("Ġworld", &t, &inside), "Ġworld");
        assert_eq!(byte_level_spelling("a b", &t, &inside), "aĠb");
        assert_eq!(byte_level_spelling("é", &t, &inside), "é");
        assert_eq!(byte_level_spelling("▁a", &t, &inside), "âĸģa");
    }

    #[test]
    fn post_processor_templates_follow_transformers() {
        let bos = ("<s>".to_string(), 1);
        let v = post_processor(Some(&bos), None);
        assert_eq!(v["single"].as_array().unwrap().len(), 2);
        assert_eq!(v["pair"][2], json!({"SpecialToken": {"id": "<s>", "type_id": 1}}));
        assert_eq!(v["special_tokens"]["<s>"]["ids"], json!([1]));
        assert_eq!(post_processor(None, None)["single"], json!([{"Sequence": {"id": "A", "type_id": 0}}]));
    }
}
