//! Saving a decoder in the Hugging Face layout: `config.json`, `model.safetensors` (f32, the
//! checkpoint's tensor names and layouts, a tied unembedding stored once as the embedding),
//! `tokenizer.json`, and the tokenizer/chat files the source had (`tokenizer_config.json`,
//! `chat_template.jinja`, …), each written atomically. What [`super::load::load_dir`] reads back
//! to the same logits, and what transformers' `AutoModelForCausalLM.from_pretrained` reads.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::files::{write_atomic, write_json_atomic};
use crate::model::decoder::lm::DecoderLm;

/// The files of a decoder checkpoint besides its weights.
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderFiles {
    /// `config.json` as read (a directory), built (`builtin:tiny-decoder`) or derived from the
    /// metadata (a GGUF).
    pub config_json: Value,
    /// `tokenizer.json`.
    pub tokenizer_json: String,
    /// Other files, `(name, text)`, written verbatim.
    pub extra: Vec<(String, String)>,
}

/// Write `model` and `files` into `dir` (created if needed).
///
/// # Errors
/// [`Error::Write`] naming the file that could not be written.
pub fn save(model: &DecoderLm, files: &DecoderFiles, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    model.to_weights()?.write_safetensors(&dir.join("model.safetensors"))?;
    write_json_atomic(dir.join("config.json"), &files.config_json)?;
    write_atomic(dir.join("tokenizer.json"), files.tokenizer_json.as_bytes())?;
    for (name, text) in &files.extra {
        write_atomic(dir.join(name), text.as_bytes())?;
    }
    Ok(())
}
