//! The `config.json` equivalent of a GGUF's metadata, and the refusals of what the view cannot
//! represent (rope scaling, partial rotary, inconsistent sizes). Key names: llama.cpp
//! `gguf-py/gguf/constants.py` (`{arch}.embedding_length`, …); the mapping repeats transformers'
//! `integrations/ggml.py` (`GGUF_CONFIG_MAPPING`).

use serde_json::{json, Value};

use super::HfArchitecture;
use crate::error::Result;
use crate::gguf::GgufFile;

pub(super) fn refuse_rope_scaling(file: &GgufFile, arch: HfArchitecture) -> Result<()> {
    let prefix = arch.gguf_name();
    if let Some(kind) = file.get_str(&format!("{prefix}.rope.scaling.type"))? {
        if kind != "none" {
            return Err(file.error(format!(
                "{prefix}.rope.scaling.type is {kind:?}: scaled rope is not supported (only unscaled rope)"
            )));
        }
    }
    if let Some(factor) = file.get_f64(&format!("{prefix}.rope.scaling.factor"))? {
        if factor != 1.0 && factor != 0.0 {
            return Err(file.error(format!(
                "{prefix}.rope.scaling.factor is {factor}: scaled rope is not supported (only unscaled rope)"
            )));
        }
    }
    if file.tensor("rope_freqs.weight").is_some() {
        return Err(file.error(
            "tensor rope_freqs.weight holds rope frequency factors (Llama 3.1-style rope scaling), which ntkgap \
             does not support",
        ));
    }
    Ok(())
}

fn special_ids(file: &GgufFile) -> Result<[Value; 3]> {
    let id = |k: &str| file.get_u32(&format!("tokenizer.ggml.{k}")).map(|v| v.map_or(Value::Null, |v| json!(v)));
    Ok([id("bos_token_id")?, id("eos_token_id")?, id("padding_token_id")?])
}

/// `{arch}.vocab_size`, else the length of `tokenizer.ggml.tokens`, else the embedding's rows.
fn vocab_size(file: &GgufFile, arch: HfArchitecture) -> Result<u64> {
    if let Some(v) = file.get_u64(&format!("{}.vocab_size", arch.gguf_name()))? {
        return Ok(v);
    }
    if let Some(tokens) = file.get_array("tokenizer.ggml.tokens")? {
        return Ok(tokens.len() as u64);
    }
    let rows = file.tensor("token_embd.weight").and_then(|t| t.shape().first().copied());
    rows.map(|r| r as u64).ok_or_else(|| file.error("no vocabulary size: no llama.vocab_size, tokens or token_embd"))
}

pub(super) fn check_vocab(file: &GgufFile, arch: HfArchitecture, config: &Value) -> Result<()> {
    let vocab = config["vocab_size"].as_u64().unwrap_or(0);
    let rows = file.tensor("token_embd.weight").and_then(|t| t.shape().first().copied());
    match rows {
        Some(r) if r as u64 != vocab => Err(file.error(format!(
            "vocabulary size {vocab} ({}.vocab_size or the token list) differs from token_embd.weight's {r} rows",
            arch.gguf_name()
        ))),
        _ => Ok(()),
    }
}

pub(super) fn llama_config(file: &GgufFile, arch: HfArchitecture) -> Result<Value> {
    let p = arch.gguf_name();
    let key = |k: &str| format!("{p}.{k}");
    let hidden = file.require_u64(&key("embedding_length"))?;
    let heads = file.require_u64(&key("attention.head_count"))?;
    let kv_heads = file.get_u64(&key("attention.head_count_kv"))?.unwrap_or(heads);
    if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
        return Err(file.error(format!("{heads} attention heads cannot be shared by {kv_heads} key-value heads")));
    }
    let head_dim = match file.get_u64(&key("attention.key_length"))? {
        Some(d) => d,
        None if hidden % heads == 0 => hidden / heads,
        None => return Err(file.error(format!("hidden size {hidden} is not a multiple of {heads} heads"))),
    };
    if let Some(rot) = file.get_u64(&key("rope.dimension_count"))? {
        if rot != head_dim {
            return Err(file.error(format!(
                "{p}.rope.dimension_count is {rot} but the head dimension is {head_dim}: partial rotary is not \
                 supported"
            )));
        }
    }
    let theta = file.get_f64(&key("rope.freq_base"))?.unwrap_or(10000.0);
    let [bos, eos, pad] = special_ids(file)?;
    let (model_type, class) = match arch {
        HfArchitecture::Qwen2 => ("qwen2", "Qwen2ForCausalLM"),
        _ => ("llama", "LlamaForCausalLM"),
    };
    let mut config = json!({
        "model_type": model_type,
        "architectures": [class],
        "hidden_size": hidden,
        "intermediate_size": file.require_u64(&key("feed_forward_length"))?,
        "num_hidden_layers": file.require_u64(&key("block_count"))?,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": file.require_f64(&key("attention.layer_norm_rms_epsilon"))?,
        "rope_theta": theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": theta},
        "max_position_embeddings": file.require_u64(&key("context_length"))?,
        "vocab_size": vocab_size(file, arch)?,
        "tie_word_embeddings": file.tensor("output.weight").is_none(),
        "attention_bias": file.tensor("blk.0.attn_q.bias").is_some(),
        "mlp_bias": false,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
    });
    if arch == HfArchitecture::Qwen2 {
        config["use_sliding_window"] = json!(false);
    }
    Ok(config)
}

pub(super) fn gpt2_config(file: &GgufFile) -> Result<Value> {
    let [bos, eos, pad] = special_ids(file)?;
    let hidden = file.require_u64("gpt2.embedding_length")?;
    let heads = file.require_u64("gpt2.attention.head_count")?;
    if heads == 0 || hidden % heads != 0 {
        return Err(file.error(format!("hidden size {hidden} is not a multiple of {heads} heads")));
    }
    let context = file.require_u64("gpt2.context_length")?;
    Ok(json!({
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "n_embd": hidden,
        "n_layer": file.require_u64("gpt2.block_count")?,
        "n_head": heads,
        "n_inner": file.require_u64("gpt2.feed_forward_length")?,
        "n_positions": context,
        "n_ctx": context,
        "layer_norm_epsilon": file.require_f64("gpt2.attention.layer_norm_epsilon")?,
        "activation_function": "gelu_new",
        "vocab_size": vocab_size(file, HfArchitecture::Gpt2)?,
        "tie_word_embeddings": file.tensor("output.weight").is_none(),
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
    }))
}
