//! Reading a Hugging Face `config.json` into a [`DecoderConfig`]: the field names and defaults
//! of each family (GPT-2's own spellings included), the RoPE base in either config style, the
//! refusal of RoPE scaling, and the head named by `architectures`. Validation of the values is
//! [`DecoderConfig`]'s (`config.rs`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::decoder::config::{DecoderActivation, DecoderConfig, DecoderFamily, DecoderTask};

/// Resolve the fields of a `config.json` object for `family` (not yet validated).
///
/// # Errors
/// [`Error::InvalidArgument`] naming the first missing or mistyped field, or refused RoPE scaling.
pub(crate) fn parse(map: &Map<String, Value>, family: DecoderFamily) -> Result<DecoderConfig> {
    let f = Fields(map);
    check_rope(&f)?;
    if family == DecoderFamily::Gpt2 {
        gpt2(&f)
    } else {
        llama(&f, family)
    }
}

/// Llama, Mistral and Qwen2.
fn llama(f: &Fields<'_>, family: DecoderFamily) -> Result<DecoderConfig> {
    let hidden = f.required("hidden_size")?;
    let heads = f.required("num_attention_heads")?;
    let head_dim = match f.usize("head_dim")? {
        Some(d) => d,
        None => divide(hidden, heads)?,
    };
    let attention_bias = f.bool("attention_bias")?.unwrap_or(false) && family == DecoderFamily::Llama;
    let window = match family {
        DecoderFamily::Mistral => f.usize("sliding_window")?,
        DecoderFamily::Qwen2 if f.bool("use_sliding_window")?.unwrap_or(false) => f.usize("sliding_window")?,
        _ => None,
    };
    Ok(DecoderConfig {
        model_type: f.str("model_type")?.unwrap_or_default().to_string(),
        family,
        task: task(f)?,
        vocab_size: f.required("vocab_size")?,
        hidden_size: hidden,
        num_hidden_layers: f.required("num_hidden_layers")?,
        num_attention_heads: heads,
        num_key_value_heads: f.usize("num_key_value_heads")?.unwrap_or(heads),
        head_dim,
        intermediate_size: f.required("intermediate_size")?,
        max_position_embeddings: f.usize("max_position_embeddings")?.unwrap_or(2048),
        norm_eps: f.f64("rms_norm_eps")?.unwrap_or(1e-6),
        rope_theta: Some(rope_theta(f)?),
        hidden_act: DecoderActivation::parse(family, f.str("hidden_act")?.unwrap_or("silu"))?,
        tie_word_embeddings: f.bool("tie_word_embeddings")?.unwrap_or(false),
        qkv_bias: attention_bias || family == DecoderFamily::Qwen2,
        output_bias: attention_bias,
        mlp_bias: f.bool("mlp_bias")?.unwrap_or(false) && family == DecoderFamily::Llama,
        sliding_window: window,
        scale_attn_weights: true,
        scale_attn_by_inverse_layer_idx: false,
        bos_token_id: f.id("bos_token_id")?,
        eos_token_id: f.id("eos_token_id")?,
        pad_token_id: f.id("pad_token_id")?,
        id2label: labels(f)?,
        initializer_range: f.f64("initializer_range")?.unwrap_or(0.02),
    })
}

fn gpt2(f: &Fields<'_>) -> Result<DecoderConfig> {
    let hidden = f.required("n_embd")?;
    let heads = f.required("n_head")?;
    if f.bool("add_cross_attention")?.unwrap_or(false) {
        return Err(Error::invalid("add_cross_attention", "cross-attention is not supported (decoder-only models)"));
    }
    let head_dim = divide(hidden, heads)?;
    Ok(DecoderConfig {
        model_type: "gpt2".into(),
        family: DecoderFamily::Gpt2,
        task: task(f)?,
        vocab_size: f.required("vocab_size")?,
        hidden_size: hidden,
        num_hidden_layers: f.required("n_layer")?,
        num_attention_heads: heads,
        num_key_value_heads: heads,
        head_dim,
        intermediate_size: f.usize("n_inner")?.unwrap_or(4 * hidden),
        max_position_embeddings: f.usize("n_positions")?.unwrap_or(1024),
        norm_eps: f.f64("layer_norm_epsilon")?.unwrap_or(1e-5),
        rope_theta: None,
        hidden_act: DecoderActivation::parse(DecoderFamily::Gpt2, f.str("activation_function")?.unwrap_or("gelu_new"))?,
        tie_word_embeddings: f.bool("tie_word_embeddings")?.unwrap_or(true),
        qkv_bias: true,
        output_bias: true,
        mlp_bias: true,
        sliding_window: None,
        scale_attn_weights: f.bool("scale_attn_weights")?.unwrap_or(true),
        scale_attn_by_inverse_layer_idx: f.bool("scale_attn_by_inverse_layer_idx")?.unwrap_or(false),
        bos_token_id: f.id("bos_token_id")?,
        eos_token_id: f.id("eos_token_id")?,
        pad_token_id: f.id("pad_token_id")?,
        id2label: labels(f)?,
        initializer_range: f.f64("initializer_range")?.unwrap_or(0.02),
    })
}

/// `hidden / heads`, refusing heads that do not divide the hidden size.
fn divide(hidden: usize, heads: usize) -> Result<usize> {
    if heads == 0 || !hidden.is_multiple_of(heads) {
        return Err(Error::invalid(
            "num_attention_heads",
            format!("{heads} does not divide hidden_size {hidden} (and no head_dim is given)"),
        ));
    }
    Ok(hidden / heads)
}

/// The head from `architectures`: `…ForSequenceClassification` or a language model.
fn task(f: &Fields<'_>) -> Result<DecoderTask> {
    let classes: Vec<&str> = match f.0.get("architectures") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if classes.iter().any(|c| c.ends_with("ForSequenceClassification")) {
        let from_map = f.0.get("id2label").and_then(Value::as_object).map(Map::len);
        let num_labels = f.usize("num_labels")?.or(from_map).unwrap_or(2);
        return Ok(DecoderTask::SequenceClassification { num_labels });
    }
    let lm = |c: &&str| c.ends_with("ForCausalLM") || c.ends_with("LMHeadModel") || c.ends_with("Model");
    if let Some(other) = classes.iter().find(|c| !lm(c)) {
        return Err(Error::invalid(
            "architectures",
            format!("`{other}` is not supported (causal language models and …ForSequenceClassification only)"),
        ));
    }
    Ok(DecoderTask::CausalLm)
}

fn labels(f: &Fields<'_>) -> Result<BTreeMap<String, String>> {
    let Some(n) = task(f)?.num_labels() else { return Ok(BTreeMap::new()) };
    let given: BTreeMap<String, String> =
        f.0.get("id2label")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
    Ok((0..n).map(|i| (i.to_string(), given.get(&i.to_string()).cloned().unwrap_or(format!("LABEL_{i}")))).collect())
}

impl DecoderTask {
    fn num_labels(self) -> Option<usize> {
        match self {
            DecoderTask::SequenceClassification { num_labels } => Some(num_labels),
            DecoderTask::CausalLm => None,
        }
    }
}

/// Refuse RoPE scaling and partial rotary factors (`rope_scaling`, `rope_parameters`).
fn check_rope(f: &Fields<'_>) -> Result<()> {
    for key in ["rope_scaling", "rope_parameters"] {
        let Some(params) = f.0.get(key).filter(|v| !v.is_null()) else { continue };
        let obj = params.as_object().ok_or_else(|| Error::invalid(key, "not a JSON object"))?;
        let kind = obj.get("rope_type").or_else(|| obj.get("type")).and_then(Value::as_str).unwrap_or("default");
        if kind != "default" {
            return Err(Error::invalid(
                key,
                format!("RoPE type `{kind}` is not supported (only the unscaled `default` rotary embedding)"),
            ));
        }
        if let Some(p) = obj.get("partial_rotary_factor").and_then(Value::as_f64).filter(|p| *p != 1.0) {
            return Err(Error::invalid(key, format!("partial_rotary_factor {p} is not supported (only 1)")));
        }
    }
    Ok(())
}

/// θ from `rope_parameters.rope_theta`, else the top-level `rope_theta`, else 10000.
fn rope_theta(f: &Fields<'_>) -> Result<f64> {
    let nested = f.0.get("rope_parameters").and_then(Value::as_object).and_then(|p| p.get("rope_theta"));
    match nested {
        Some(v) => {
            v.as_f64().ok_or_else(|| Error::invalid("rope_parameters.rope_theta", format!("{v} is not a number")))
        }
        None => Ok(f.f64("rope_theta")?.unwrap_or(10_000.0)),
    }
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn usize(&self, name: &str) -> Result<Option<usize>> {
        self.get(name)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| Error::invalid(name, format!("{v} is not a non-negative integer")))
            })
            .transpose()
    }

    fn required(&self, name: &str) -> Result<usize> {
        self.usize(name)?.ok_or_else(|| Error::invalid(name, "missing"))
    }

    fn f64(&self, name: &str) -> Result<Option<f64>> {
        self.get(name)
            .map(|v| v.as_f64().ok_or_else(|| Error::invalid(name, format!("{v} is not a number"))))
            .transpose()
    }

    fn bool(&self, name: &str) -> Result<Option<bool>> {
        self.get(name)
            .map(|v| v.as_bool().ok_or_else(|| Error::invalid(name, format!("{v} is not true/false"))))
            .transpose()
    }

    fn str(&self, name: &str) -> Result<Option<&str>> {
        self.get(name)
            .map(|v| v.as_str().ok_or_else(|| Error::invalid(name, format!("{v} is not a string"))))
            .transpose()
    }

    /// A token id: an integer, or the first of a list (`eos_token_id: [1, 2]`).
    fn id(&self, name: &str) -> Result<Option<u32>> {
        let value = match self.get(name) {
            Some(Value::Array(list)) => list.first(),
            other => other,
        };
        value
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| Error::invalid(name, format!("{v} is not a token id")))
            })
            .transpose()
    }
}
