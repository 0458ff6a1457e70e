//! Saving a model in the Hugging Face layout (`config.json`, `model.safetensors`,
//! `tokenizer.json`), so `transformers`' `AutoModelForSequenceClassification.from_pretrained`
//! reads it. Each file is written to a temporary name and renamed into place.

use std::path::Path;

use crate::error::{Error, Result};
use crate::files::{write_atomic, write_json_atomic};
use crate::model::classifier::Classifier;

/// Write `classifier` (weights and config) and `tokenizer_json` into `dir` (created if needed).
///
/// # Errors
/// [`Error::Write`] naming the file that could not be written.
pub fn save(classifier: &Classifier, tokenizer_json: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let weights = classifier.to_weights()?;
    weights.write_safetensors(&dir.join("model.safetensors"))?;
    write_json_atomic(dir.join("config.json"), &classifier.config.to_hf_json()?)?;
    write_atomic(dir.join("tokenizer.json"), tokenizer_json.as_bytes())
}
