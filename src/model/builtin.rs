//! Built-in model configurations (`builtin:tiny`, `builtin:small`) for the embedded default:
//! BERT-style encoders over the built-in word-level tokenizer, freshly initialised from a seed.
//!
//! Sized for a laptop CPU: an epoch over a few thousand Corr2Cause records takes a minute or
//! two (timings in docs/model.md).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::config::{label_map, ModelConfig};
use crate::tokenize::builtin;
use crate::tokenize::Tokenizer;

/// A built-in model size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltinSize {
    /// H = 64, 2 layers, 4 heads, feed-forward 256 (about 0.1 M encoder parameters).
    Tiny,
    /// H = 128, 4 layers, 4 heads, feed-forward 512 (about 0.8 M encoder parameters).
    Small,
}

impl BuiltinSize {
    /// Parse `tiny` / `small`.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`model`) for any other name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "tiny" => Ok(BuiltinSize::Tiny),
            "small" => Ok(BuiltinSize::Small),
            other => Err(Error::setting(
                "model",
                format!("unknown built-in model `builtin:{other}` (use builtin:tiny, builtin:small or builtin:tiny-decoder)"),
            )),
        }
    }

    /// (hidden size, layers, heads, feed-forward size).
    fn sizes(self) -> (usize, usize, usize, usize) {
        match self {
            BuiltinSize::Tiny => (64, 2, 4, 256),
            BuiltinSize::Small => (128, 4, 4, 512),
        }
    }

    /// The configuration: BERT, vocabulary of the built-in tokenizer, 512 positions, 2 token
    /// types, ε = 1e-12, σ = 0.02, two labels (`not_entailment`, `entailment`).
    ///
    /// # Errors
    /// Only if the embedded tokenizer fails to load (a bug).
    pub fn config(self) -> Result<ModelConfig> {
        let tokenizer = builtin::tokenizer()?;
        let (hidden, layers, heads, ffn) = self.sizes();
        let mut id2label: BTreeMap<String, String> = label_map(2);
        id2label.insert("0".into(), "not_entailment".into());
        id2label.insert("1".into(), "entailment".into());
        let config: ModelConfig = serde_json::from_value(serde_json::json!({
            "model_type": "bert",
            "vocab_size": tokenizer.vocab_size(),
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "intermediate_size": ffn,
            "max_position_embeddings": tokenizer.max_length().max(512),
            "type_vocab_size": 2,
            "pad_token_id": tokenizer.pad_id()?,
            "id2label": id2label,
        }))
        .map_err(|e| Error::internal("builtin config", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_configs_are_valid_and_small() {
        for size in [BuiltinSize::Tiny, BuiltinSize::Small] {
            let c = size.config().unwrap();
            assert_eq!(c.num_labels(), 2);
            assert!(c.parameter_count() < 2_000_000, "{size:?}: {}", c.parameter_count());
        }
        assert!(BuiltinSize::parse("huge").unwrap_err().to_string().contains("builtin:tiny"));
    }
}
