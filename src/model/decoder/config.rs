//! The decoder configuration, read from a Hugging Face `config.json` of the Llama family
//! (`llama`, `mistral`, `qwen2`) or GPT-2 (`gpt2`), and validated before anything is allocated.
//!
//! Field names are the Hugging Face ones, GPT-2's own spellings included (`n_embd`, `n_layer`,
//! `n_head`, `n_positions`, `n_inner`, `layer_norm_epsilon`, `activation_function`). The RoPE
//! base is read from the transformers 5 `rope_parameters.rope_theta` or the older top-level
//! `rope_theta`; any RoPE scaling other than `default` is refused (one line naming its type),
//! since ntkgap implements only the unscaled rotary embedding.
//!
//! Known gaps: no RoPE scaling (linear, dynamic, YaRN, Llama 3), no partial rotary factor, no
//! sliding-window attention (inputs longer than the window are refused instead), no
//! cross-attention.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::config::{
    MAX_HEADS, MAX_HIDDEN, MAX_INTERMEDIATE, MAX_LABELS, MAX_LAYERS, MAX_PARAMETERS, MAX_VOCAB,
};
use crate::model::decoder::hf_fields;

/// Longest decoder input accepted, in tokens (the attention mask is T × T per example).
pub const MAX_INPUT_LENGTH: usize = 8192;
/// Largest learned position table accepted (GPT-2 `n_positions`).
pub const MAX_LEARNED_POSITIONS: usize = 65_536;
/// Largest head size accepted.
pub const MAX_HEAD_DIM: usize = 1024;

/// The `model_type` values read as decoders.
pub const DECODER_TYPES: [&str; 4] = ["llama", "mistral", "qwen2", "gpt2"];

/// True when `model_type` names a decoder family ntkgap loads (see [`DECODER_TYPES`]).
pub fn is_decoder_type(model_type: &str) -> bool {
    DECODER_TYPES.contains(&model_type)
}

/// The decoder family: decides tensor names, positions, norms and the feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoderFamily {
    /// Llama: RMSNorm, RoPE, grouped-query attention, SiLU-gated MLP (`model.layers.*`).
    Llama,
    /// Mistral: the Llama layout (its sliding window only limits the input length here).
    Mistral,
    /// Qwen2: the Llama layout with q/k/v biases.
    Qwen2,
    /// GPT-2: learned positions, pre-LayerNorm, fused `c_attn`, GELU-tanh MLP, Conv1D weights
    /// stored `[in, out]` (`transformer.h.*`).
    Gpt2,
}

impl DecoderFamily {
    fn parse(model_type: &str) -> Result<Self> {
        match model_type {
            "llama" => Ok(DecoderFamily::Llama),
            "mistral" => Ok(DecoderFamily::Mistral),
            "qwen2" => Ok(DecoderFamily::Qwen2),
            "gpt2" => Ok(DecoderFamily::Gpt2),
            other => Err(Error::invalid(
                "model_type",
                format!("unsupported architecture `{other}` (supported: bert, roberta, llama, mistral, qwen2, gpt2)"),
            )),
        }
    }

    /// True for the RoPE families (everything but GPT-2).
    pub fn uses_rope(self) -> bool {
        self != DecoderFamily::Gpt2
    }

    /// The tensor-name prefix of the transformer body (`model` / `transformer`).
    pub fn prefix(self) -> &'static str {
        match self {
            DecoderFamily::Gpt2 => "transformer",
            _ => "model",
        }
    }
}

/// What the checkpoint's output head is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderTask {
    /// `…ForCausalLM` / `GPT2LMHeadModel` (or a bare model): next-token logits through the
    /// unembedding (`lm_head`, or the tied token embedding).
    CausalLm,
    /// `…ForSequenceClassification`: `score.weight` `[num_labels, H]` (no bias) read at the last
    /// real token.
    SequenceClassification {
        /// Number of classes.
        num_labels: usize,
    },
}

/// The feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderActivation {
    /// `silu` / `swish`: x·σ(x), inside the gated MLP of the Llama family.
    Silu,
    /// `gelu`: exact GELU.
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh` / `gelu_fast`: the tanh approximation (GPT-2).
    GeluTanh,
}

impl DecoderActivation {
    pub(crate) fn parse(family: DecoderFamily, name: &str) -> Result<Self> {
        let parsed = match (family, name) {
            (DecoderFamily::Gpt2, "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast") => Some(DecoderActivation::GeluTanh),
            (DecoderFamily::Gpt2, "gelu") => Some(DecoderActivation::Gelu),
            (DecoderFamily::Gpt2, _) => None,
            (_, "silu" | "swish") => Some(DecoderActivation::Silu),
            _ => None,
        };
        let supported = if family == DecoderFamily::Gpt2 { "gelu_new, gelu_pytorch_tanh, gelu" } else { "silu" };
        parsed
            .ok_or_else(|| Error::invalid("hidden_act", format!("`{name}` is not supported (supported: {supported})")))
    }
}

/// A validated decoder configuration (the Hugging Face fields, resolved and defaulted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecoderConfig {
    /// `model_type` as written.
    pub model_type: String,
    /// The family it names.
    pub family: DecoderFamily,
    /// The output head (from `architectures`).
    pub task: DecoderTask,
    /// Vocabulary size V.
    pub vocab_size: usize,
    /// Hidden size H (`hidden_size` / `n_embd`).
    pub hidden_size: usize,
    /// Number of blocks (`num_hidden_layers` / `n_layer`).
    pub num_hidden_layers: usize,
    /// Query heads (`num_attention_heads` / `n_head`).
    pub num_attention_heads: usize,
    /// Key/value heads (`num_key_value_heads`; default: as many as query heads).
    pub num_key_value_heads: usize,
    /// Head size (`head_dim`; default `hidden_size / num_attention_heads`).
    pub head_dim: usize,
    /// Feed-forward inner size (`intermediate_size` / `n_inner`; GPT-2 default 4H).
    pub intermediate_size: usize,
    /// `max_position_embeddings` / `n_positions`.
    pub max_position_embeddings: usize,
    /// RMSNorm / LayerNorm ε (`rms_norm_eps` / `layer_norm_epsilon`).
    pub norm_eps: f64,
    /// RoPE base θ (None for GPT-2's learned positions).
    pub rope_theta: Option<f64>,
    /// The feed-forward activation.
    pub hidden_act: DecoderActivation,
    /// The unembedding is the token embedding (`tie_word_embeddings`; default true for GPT-2,
    /// false for the Llama family).
    pub tie_word_embeddings: bool,
    /// q/k/v projections carry biases (Qwen2 always; Llama `attention_bias`; GPT-2 always).
    pub qkv_bias: bool,
    /// The attention output projection carries a bias (Llama `attention_bias`; GPT-2).
    pub output_bias: bool,
    /// MLP projections carry biases (Llama `mlp_bias`; GPT-2).
    pub mlp_bias: bool,
    /// Attention window, when the checkpoint uses one: longer inputs are refused.
    pub sliding_window: Option<usize>,
    /// GPT-2 `scale_attn_weights` (scores divided by √d_head; default true).
    pub scale_attn_weights: bool,
    /// GPT-2 `scale_attn_by_inverse_layer_idx` (scores of block l also divided by l + 1).
    pub scale_attn_by_inverse_layer_idx: bool,
    /// `bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `eos_token_id` (the first one when a list).
    pub eos_token_id: Option<u32>,
    /// `pad_token_id`.
    pub pad_token_id: Option<u32>,
    /// Class names of a sequence-classification head, by index (empty for a language model).
    pub id2label: BTreeMap<String, String>,
    /// σ of fresh weights (`initializer_range`, default 0.02).
    pub initializer_range: f64,
}

impl DecoderConfig {
    /// Read and validate a `config.json`.
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, [`Error::BadInput`] naming the file and the first bad field.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| Error::bad_input(path, format!("not a model config: {e}")))?;
        Self::from_json(&value).map_err(|e| Error::bad_input(path, e.to_string()))
    }

    /// Resolve and validate a parsed `config.json`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad field.
    pub fn from_json(value: &Value) -> Result<Self> {
        let map = value.as_object().ok_or_else(|| Error::invalid("config", "not a JSON object"))?;
        let model_type = match map.get("model_type") {
            Some(Value::String(t)) => t.as_str(),
            Some(other) => return Err(Error::invalid("model_type", format!("{other} is not a string"))),
            None => return Err(Error::invalid("model_type", "missing")),
        };
        let config = hf_fields::parse(map, DecoderFamily::parse(model_type)?)?;
        config.validate()?;
        Ok(config)
    }

    /// Number of output classes of a sequence-classification head (None for a language model).
    pub fn num_labels(&self) -> Option<usize> {
        match self.task {
            DecoderTask::SequenceClassification { num_labels } => Some(num_labels),
            DecoderTask::CausalLm => None,
        }
    }

    /// Longest input in tokens: `max_position_embeddings`, the sliding window and
    /// [`MAX_INPUT_LENGTH`], whichever is smallest.
    pub fn max_input_length(&self) -> usize {
        let window = self.sliding_window.unwrap_or(usize::MAX);
        self.max_position_embeddings.min(window).min(MAX_INPUT_LENGTH)
    }

    /// Query width (heads × head size).
    pub fn query_width(&self) -> usize {
        self.num_attention_heads * self.head_dim
    }

    /// Key/value width (key-value heads × head size).
    pub fn kv_width(&self) -> usize {
        self.num_key_value_heads * self.head_dim
    }

    /// Total number of parameters, computed without allocating (the tied unembedding counted once).
    pub fn parameter_count(&self) -> usize {
        let (h, ffn, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let (q, kv) = (self.query_width(), self.kv_width());
        let attention = h * (q + 2 * kv) + q * h;
        let mlp = if self.family == DecoderFamily::Gpt2 { 2 * h * ffn } else { 3 * h * ffn };
        let norms = if self.family == DecoderFamily::Gpt2 { 4 * h } else { 2 * h };
        let biases = if self.family == DecoderFamily::Gpt2 { q + 2 * kv + h + ffn + h } else { 0 };
        let positions = if self.family == DecoderFamily::Gpt2 { self.max_position_embeddings * h } else { 0 };
        let head = match self.task {
            DecoderTask::SequenceClassification { num_labels } => num_labels * h,
            DecoderTask::CausalLm if self.tie_word_embeddings => 0,
            DecoderTask::CausalLm => v * h,
        };
        v * h + positions + self.num_hidden_layers * (attention + mlp + norms + biases) + 2 * h + head
    }

    fn validate(&self) -> Result<()> {
        check_range("vocab_size", self.vocab_size, 1, MAX_VOCAB)?;
        check_range("hidden_size", self.hidden_size, 1, MAX_HIDDEN)?;
        check_range("num_hidden_layers", self.num_hidden_layers, 1, MAX_LAYERS)?;
        check_range("num_attention_heads", self.num_attention_heads, 1, MAX_HEADS)?;
        check_range("num_key_value_heads", self.num_key_value_heads, 1, MAX_HEADS)?;
        check_range("head_dim", self.head_dim, 1, MAX_HEAD_DIM)?;
        check_range("intermediate_size", self.intermediate_size, 1, MAX_INTERMEDIATE)?;
        let positions = if self.family == DecoderFamily::Gpt2 { MAX_LEARNED_POSITIONS } else { usize::MAX };
        check_range("max_position_embeddings", self.max_position_embeddings, 1, positions)?;
        if !self.num_attention_heads.is_multiple_of(self.num_key_value_heads) {
            return Err(Error::invalid(
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.num_key_value_heads, self.num_attention_heads
                ),
            ));
        }
        if self.rope_theta.is_some() && !self.head_dim.is_multiple_of(2) {
            return Err(Error::invalid(
                "head_dim",
                format!("{} is odd; rotary embeddings need it even", self.head_dim),
            ));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0 && self.norm_eps < 1.0) {
            return Err(Error::invalid("rms_norm_eps", format!("{} is not in (0, 1)", self.norm_eps)));
        }
        if let Some(theta) = self.rope_theta.filter(|t| !(t.is_finite() && *t > 1.0)) {
            return Err(Error::invalid("rope_theta", format!("{theta} is not a finite base above 1")));
        }
        if !(self.initializer_range.is_finite() && self.initializer_range > 0.0 && self.initializer_range <= 1.0) {
            return Err(Error::invalid("initializer_range", format!("{} is not in (0, 1]", self.initializer_range)));
        }
        if let Some(pad) = self.pad_token_id.filter(|&p| p as usize >= self.vocab_size) {
            return Err(Error::invalid(
                "pad_token_id",
                format!("{pad} is outside the vocabulary of {}", self.vocab_size),
            ));
        }
        if let Some(n) = self.num_labels() {
            check_range("num_labels", n, 1, MAX_LABELS)?;
        }
        let params = self.parameter_count();
        if params > MAX_PARAMETERS {
            return Err(Error::TooLarge {
                what: "the model".into(),
                estimate: format!("{params} parameters"),
                limit: format!("{MAX_PARAMETERS}"),
                hint: "use a smaller checkpoint".into(),
            });
        }
        Ok(())
    }
}

fn check_range(name: &str, value: usize, min: usize, max: usize) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid(name, format!("{value} is outside {min}..={max}")));
    }
    Ok(())
}

/// Typed access to the fields of a `config.json` object; null counts as absent.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn llama_json() -> Value {
        json!({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 100, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64,
            "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}})
    }

    fn error(value: Value) -> String {
        DecoderConfig::from_json(&value).unwrap_err().to_string()
    }

    #[test]
    fn llama_defaults_and_nested_theta() {
        let c = DecoderConfig::from_json(&llama_json()).unwrap();
        assert_eq!((c.head_dim, c.num_key_value_heads, c.max_position_embeddings), (8, 2, 2048));
        assert_eq!(c.rope_theta, Some(500000.0));
        assert!(!c.tie_word_embeddings && !c.qkv_bias);
        assert_eq!(c.task, DecoderTask::CausalLm);
    }

    #[test]
    fn old_style_theta_and_qwen_biases() {
        let mut v = llama_json();
        v["rope_parameters"] = Value::Null;
        v["rope_theta"] = json!(1e6);
        v["rope_scaling"] = Value::Null;
        v["model_type"] = json!("qwen2");
        let c = DecoderConfig::from_json(&v).unwrap();
        assert_eq!(c.rope_theta, Some(1e6));
        assert!(c.qkv_bias && !c.output_bias);
    }

    #[test]
    fn gpt2_names_and_defaults() {
        let v = json!({"model_type": "gpt2", "vocab_size": 50, "n_embd": 32, "n_layer": 2, "n_head": 4,
            "n_inner": null, "architectures": ["GPT2ForSequenceClassification"], "num_labels": 3});
        let c = DecoderConfig::from_json(&v).unwrap();
        assert_eq!((c.intermediate_size, c.max_position_embeddings, c.head_dim), (128, 1024, 8));
        assert!(c.tie_word_embeddings && c.rope_theta.is_none());
        assert_eq!(c.num_labels(), Some(3));
        assert_eq!(c.id2label.len(), 3);
    }

    #[test]
    fn bad_configs_are_refused_in_one_line() {
        let mut v = llama_json();
        v["model_type"] = json!("falcon");
        let e = error(v);
        assert!(e.contains("`falcon`") && e.contains("llama"), "{e}");
        let mut v = llama_json();
        v["rope_parameters"] = json!({"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0});
        assert!(error(v).contains("RoPE type `yarn`"));
        let mut v = llama_json();
        v["rope_scaling"] = json!({"type": "linear", "factor": 2.0});
        assert!(error(v).contains("`linear`"));
        let mut v = llama_json();
        v["num_attention_heads"] = json!(5);
        let e = error(v);
        assert!(e.contains("5 does not divide hidden_size 32"), "{e}");
        let mut v = llama_json();
        v["num_key_value_heads"] = json!(3);
        assert!(error(v).contains("3 does not divide num_attention_heads 4"));
        let mut v = llama_json();
        v["hidden_act"] = json!("relu");
        assert!(error(v).contains("`relu`"));
        let mut v = llama_json();
        v["hidden_size"] = json!(1_000_000_000);
        assert!(error(v).contains("hidden_size"));
        for e in [error(json!({"model_type": "llama"})), error(json!([1]))] {
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
