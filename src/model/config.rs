//! The encoder-classifier configuration, read from and written as a Hugging Face `config.json`.
//!
//! One struct covers BERT and RoBERTa ([`Architecture`]); its serde names are the Hugging Face
//! field names, so `transformers` reads what ntkgap writes and vice versa. Every size is checked
//! by [`ModelConfig::validate`] before a single tensor is allocated (a hidden size of 10⁹ is an
//! error, never an allocation attempt).
//!
//! Known gaps: only absolute position embeddings and the GELU activations are supported; other
//! `position_embedding_type` / `hidden_act` values are refused with a clear error.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest vocabulary accepted (tokens).
pub const MAX_VOCAB: usize = 1_000_000;
/// Largest hidden size accepted.
pub const MAX_HIDDEN: usize = 8192;
/// Largest number of encoder layers accepted.
pub const MAX_LAYERS: usize = 96;
/// Largest number of attention heads accepted.
pub const MAX_HEADS: usize = 128;
/// Largest feed-forward size accepted.
pub const MAX_INTERMEDIATE: usize = 65_536;
/// Largest number of position embeddings accepted.
pub const MAX_POSITIONS: usize = 8192;
/// Largest number of labels accepted.
pub const MAX_LABELS: usize = 1024;
/// Largest total parameter count accepted (about 8 GB of f32).
pub const MAX_PARAMETERS: usize = 2_000_000_000;

/// The encoder family: decides tensor names, position ids and the classification head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// BERT: positions 0..T, pooler (dense + tanh on the first token), linear classifier.
    Bert,
    /// RoBERTa: positions offset by `pad_token_id + 1` (pads keep `pad_token_id`), head
    /// `dense → tanh → out_proj` on the first token, no pooler.
    Roberta,
}

impl Architecture {
    /// The tensor-name prefix of the encoder (`bert` / `roberta`).
    pub fn prefix(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::Roberta => "roberta",
        }
    }

    /// The `transformers` class name of the classifier.
    pub fn classifier_class(self) -> &'static str {
        match self {
            Architecture::Bert => "BertForSequenceClassification",
            Architecture::Roberta => "RobertaForSequenceClassification",
        }
    }
}

/// The feed-forward activation (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: exact GELU, x·Φ(x) with the error function (BERT and RoBERTa default).
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
}

impl Activation {
    fn parse(name: &str) -> Result<Self> {
        match name {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            other => Err(Error::invalid(
                "hidden_act",
                format!("`{other}` is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh)"),
            )),
        }
    }
}

/// An encoder classifier's configuration (Hugging Face `config.json` fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// `model_type`: `bert` or `roberta` (no default; other values are refused).
    pub model_type: String,
    /// Vocabulary size (word embeddings rows). Required.
    pub vocab_size: usize,
    /// Hidden size H. Required.
    pub hidden_size: usize,
    /// Number of encoder layers L. Required.
    pub num_hidden_layers: usize,
    /// Number of attention heads (must divide `hidden_size`). Required.
    pub num_attention_heads: usize,
    /// Feed-forward inner size. Required.
    pub intermediate_size: usize,
    /// Feed-forward activation name. Default `gelu` (exact).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Rows of the position embedding table. Default 512.
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type embedding table. Default 2 (RoBERTa checkpoints use 1).
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// LayerNorm ε. Default 1e-12 (BERT; RoBERTa checkpoints use 1e-5).
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id. Default 0 (BERT; RoBERTa uses 1).
    #[serde(default)]
    pub pad_token_id: usize,
    /// Standard deviation of the normal initialisation of fresh weights. Default 0.02.
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
    /// Dropout on hidden states (stored for `transformers`; ntkgap never applies dropout). 0.1.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention weights (stored only, as above). Default 0.1.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Position embedding type; only `absolute` (the default) is supported.
    #[serde(default = "default_pos_type")]
    pub position_embedding_type: String,
    /// Label names by index. Default `{0: LABEL_0, 1: LABEL_1}` (two labels).
    #[serde(default = "default_id2label", skip_serializing_if = "BTreeMap::is_empty")]
    pub id2label: BTreeMap<String, String>,
    /// Everything else in the file (`architectures`, `transformers_version`, …), kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_positions() -> usize {
    512
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_init_range() -> f64 {
    0.02
}
fn default_dropout() -> f64 {
    0.1
}
fn default_pos_type() -> String {
    "absolute".into()
}
fn default_id2label() -> BTreeMap<String, String> {
    label_map(2)
}

/// `{0: LABEL_0, …}` for `n` labels.
pub fn label_map(n: usize) -> BTreeMap<String, String> {
    (0..n).map(|i| (i.to_string(), format!("LABEL_{i}"))).collect()
}

impl ModelConfig {
    /// Read and validate a `config.json`.
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, [`Error::BadInput`] naming the file when it is not a valid
    /// configuration (unsupported `model_type`, bad sizes, …).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: ModelConfig =
            serde_json::from_str(&text).map_err(|e| Error::bad_input(path, format!("not a model config: {e}")))?;
        config.validate().map_err(|e| Error::bad_input(path, e.to_string()))?;
        Ok(config)
    }

    /// The architecture named by `model_type`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `model_type`) for anything but `bert` / `roberta`.
    pub fn architecture(&self) -> Result<Architecture> {
        match self.model_type.as_str() {
            "bert" => Ok(Architecture::Bert),
            "roberta" => Ok(Architecture::Roberta),
            other => Err(Error::invalid(
                "model_type",
                format!("unsupported architecture `{other}` (supported: bert, roberta; decoders: llama, mistral, qwen2, gpt2)"),
            )),
        }
    }

    /// The feed-forward activation.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `hidden_act`) for unsupported activations.
    pub fn activation(&self) -> Result<Activation> {
        Activation::parse(&self.hidden_act)
    }

    /// Number of output labels (size of `id2label`).
    pub fn num_labels(&self) -> usize {
        self.id2label.len()
    }

    /// Size of one attention head (`hidden_size / num_attention_heads`).
    pub fn head_size(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }

    /// Longest input (in tokens) the position table allows: `max_position_embeddings`, less
    /// `pad_token_id + 1` for RoBERTa.
    pub fn max_input_length(&self) -> usize {
        match self.architecture() {
            Ok(Architecture::Roberta) => self.max_position_embeddings.saturating_sub(self.pad_token_id + 1),
            _ => self.max_position_embeddings,
        }
    }

    /// Total number of parameters (encoder, pooler/head, classifier), computed without allocating.
    pub fn parameter_count(&self) -> usize {
        let h = self.hidden_size;
        let ffn = self.intermediate_size;
        let embeddings = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size) * h + 2 * h;
        let layer = 4 * (h * h + h) + 2 * h + (h * ffn + ffn) + (ffn * h + h) + 2 * h;
        let head = (h * h + h) + (h * self.num_labels() + self.num_labels());
        embeddings + self.num_hidden_layers * layer + head
    }

    /// Check every field against its limits (see the `MAX_*` constants) before allocation.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        let arch = self.architecture()?;
        self.activation()?;
        if self.position_embedding_type != "absolute" {
            return Err(Error::invalid(
                "position_embedding_type",
                format!("`{}` is not supported (only absolute)", self.position_embedding_type),
            ));
        }
        self.validate_sizes()?;
        self.validate_values(arch)
    }

    fn validate_sizes(&self) -> Result<()> {
        check_range("vocab_size", self.vocab_size, 1, MAX_VOCAB)?;
        check_range("hidden_size", self.hidden_size, 1, MAX_HIDDEN)?;
        check_range("num_hidden_layers", self.num_hidden_layers, 1, MAX_LAYERS)?;
        check_range("num_attention_heads", self.num_attention_heads, 1, MAX_HEADS)?;
        check_range("intermediate_size", self.intermediate_size, 1, MAX_INTERMEDIATE)?;
        check_range("max_position_embeddings", self.max_position_embeddings, 1, MAX_POSITIONS)?;
        check_range("type_vocab_size", self.type_vocab_size, 1, 16)?;
        check_range("number of labels (id2label)", self.num_labels(), 1, MAX_LABELS)?;
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::invalid(
                "num_attention_heads",
                format!("{} does not divide hidden_size {}", self.num_attention_heads, self.hidden_size),
            ));
        }
        let params = self.parameter_count();
        if params > MAX_PARAMETERS {
            return Err(Error::TooLarge {
                what: "the model".into(),
                estimate: format!("{params} parameters"),
                limit: format!("{MAX_PARAMETERS}"),
                hint: "use a smaller configuration".into(),
            });
        }
        Ok(())
    }

    fn validate_values(&self, arch: Architecture) -> Result<()> {
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0 && self.layer_norm_eps < 1.0) {
            return Err(Error::invalid("layer_norm_eps", format!("{} is not in (0, 1)", self.layer_norm_eps)));
        }
        if !(self.initializer_range.is_finite() && self.initializer_range > 0.0 && self.initializer_range <= 1.0) {
            return Err(Error::invalid("initializer_range", format!("{} is not in (0, 1]", self.initializer_range)));
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(Error::invalid(
                "pad_token_id",
                format!("{} is outside the vocabulary of {}", self.pad_token_id, self.vocab_size),
            ));
        }
        if arch == Architecture::Roberta && self.max_input_length() < 2 {
            return Err(Error::invalid(
                "max_position_embeddings",
                format!("{} leaves no positions after the RoBERTa offset", self.max_position_embeddings),
            ));
        }
        for i in 0..self.num_labels() {
            if !self.id2label.contains_key(&i.to_string()) {
                return Err(Error::invalid("id2label", format!("label ids must be 0..{}", self.num_labels())));
            }
        }
        Ok(())
    }

    /// The JSON text of `config.json` as ntkgap writes it: the Hugging Face fields plus
    /// `architectures = [<classifier class>]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unsupported `model_type`.
    pub fn to_hf_json(&self) -> Result<serde_json::Value> {
        let arch = self.architecture()?;
        let mut config = self.clone();
        config.extra.insert("architectures".into(), serde_json::json!([arch.classifier_class()]));
        let label2id: BTreeMap<String, usize> =
            config.id2label.iter().filter_map(|(k, v)| k.parse().ok().map(|i| (v.clone(), i))).collect();
        config.extra.insert("label2id".into(), serde_json::json!(label2id));
        serde_json::to_value(&config).map_err(|e| Error::Serialize { what: "config.json".into(), source: e })
    }
}

fn check_range(name: &str, value: usize, min: usize, max: usize) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid(name, format!("{value} is outside {min}..={max}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bert() -> ModelConfig {
        serde_json::from_str(
            r#"{"model_type": "bert", "hidden_size": 32, "num_attention_heads": 4,
            "num_hidden_layers": 2, "intermediate_size": 64, "vocab_size": 100}"#,
        )
        .unwrap()
    }

    #[test]
    fn defaults_are_bert_base_with_two_labels() {
        let c = bert();
        assert_eq!(c.num_labels(), 2);
        assert_eq!(c.max_position_embeddings, 512);
        assert!((c.layer_norm_eps - 1e-12).abs() < 1e-20);
        c.validate().unwrap();
    }

    #[test]
    fn huge_hidden_size_is_refused_before_allocation() {
        let mut c = bert();
        c.hidden_size = 1_000_000_000;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("hidden_size"), "{e}");
    }

    #[test]
    fn heads_must_divide_hidden() {
        let mut c = bert();
        c.num_attention_heads = 5;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("does not divide"), "{e}");
    }

    #[test]
    fn unsupported_architecture_named() {
        let mut c = bert();
        c.model_type = "gpt2".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("gpt2") && e.contains("bert, roberta"), "{e}");
    }

    #[test]
    fn roberta_max_input_subtracts_offset() {
        let mut c = bert();
        c.model_type = "roberta".into();
        c.pad_token_id = 1;
        c.max_position_embeddings = 130;
        assert_eq!(c.max_input_length(), 128);
    }

    #[test]
    fn hf_json_round_trips() {
        let c = bert();
        let v = c.to_hf_json().unwrap();
        assert_eq!(v["architectures"][0], "BertForSequenceClassification");
        let back: ModelConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back.hidden_size, 32);
        assert_eq!(back.num_labels(), 2);
    }
}
