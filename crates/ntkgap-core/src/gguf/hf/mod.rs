//! A Hugging Face view of a Llama, Qwen2 or GPT-2 GGUF: a `config.json`-shaped config, HF tensor
//! names, and f32 tensors in HF layout.
//!
//! What transformers does when it loads such a file (`modeling_gguf_pytorch_utils.py`,
//! `integrations/ggml.py`), repeated here:
//!
//! * **Config**: `{arch}.embedding_length` → `hidden_size`, `block_count` → `num_hidden_layers`,
//!   `attention.head_count(_kv)` → `num_(key_value_)heads`, `feed_forward_length` →
//!   `intermediate_size`, `attention.layer_norm_rms_epsilon` → `rms_norm_eps`, `rope.freq_base` →
//!   `rope_theta` (given both old style, top-level, and new style, `rope_parameters`),
//!   `context_length` → `max_position_embeddings`, the tokenizer's bos/eos/pad ids; embeddings are
//!   tied exactly when the file has no `output.weight`. GPT-2 gets its own key names (`n_embd`, …).
//! * **Names**: `token_embd` → `model.embed_tokens`, `blk.N.attn_q` → `model.layers.N.self_attn.q_proj`,
//!   …; see [`hf_tensor_name`].
//! * **Layout**: GGUF stores `[out, in]` matrices (shape outermost first) as HF does, except
//!   (1) llama.cpp permutes the rows of Llama's `attn_q`/`attn_k` (weights and biases) for its
//!   interleaved rope: HF row `h·d + j·d/2 + i` = GGUF row `h·d + 2i + j` (d the head dimension,
//!   i < d/2, j ∈ {0, 1}; heads = `head_count` for Q, `head_count_kv` for K), undone here; Qwen2
//!   uses the NeoX rope and is stored unpermuted; (2) GPT-2's Conv1D weights (`attn_qkv`,
//!   `attn_output`, `ffn_up`, `ffn_down`) are stored transposed, so they are transposed back to
//!   `[in, out]`.
//!
//! Refused, one line each: other architectures, rope scaling (`{arch}.rope.scaling.type` other than
//! `none`, a scaling factor ≠ 1, or a `rope_freqs.weight` tensor as Llama 3.1 files carry), partial
//! rotary (`rope.dimension_count` ≠ head dim), tensors the view cannot name.

mod config;

use serde_json::Value;

use super::GgufFile;
use crate::error::Result;
use config::{check_vocab, gpt2_config, llama_config, refuse_rope_scaling};

/// The model families the view understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HfArchitecture {
    /// `general.architecture = llama` (Llama, Mistral, SmolLM, TinyLlama, …): q/k rows permuted.
    Llama,
    /// `qwen2`: like Llama plus q/k/v biases, no permutation.
    Qwen2,
    /// `gpt2`: fused qkv, LayerNorm with biases, learned positions, Conv1D layout.
    Gpt2,
}

impl HfArchitecture {
    /// From `general.architecture`.
    pub fn from_gguf(name: &str) -> Option<Self> {
        match name {
            "llama" => Some(Self::Llama),
            "qwen2" => Some(Self::Qwen2),
            "gpt2" => Some(Self::Gpt2),
            _ => None,
        }
    }

    /// The metadata key prefix (`llama`, `qwen2`, `gpt2`).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Gpt2 => "gpt2",
        }
    }
}

/// The HF name of GGUF tensor `gguf_name` in architecture `arch` (`None`: not a tensor the view
/// knows).
pub fn hf_tensor_name(arch: HfArchitecture, gguf_name: &str) -> Option<String> {
    let gpt2 = arch == HfArchitecture::Gpt2;
    let global = match (gguf_name, gpt2) {
        ("token_embd.weight", false) => Some("model.embed_tokens.weight"),
        ("output_norm.weight", false) => Some("model.norm.weight"),
        ("token_embd.weight", true) => Some("transformer.wte.weight"),
        ("position_embd.weight", true) => Some("transformer.wpe.weight"),
        ("output_norm.weight", true) => Some("transformer.ln_f.weight"),
        ("output_norm.bias", true) => Some("transformer.ln_f.bias"),
        ("output.weight", _) => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(name) = global {
        return Some(name.to_string());
    }
    let rest = gguf_name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok().filter(|_| !layer.starts_with('+'))?;
    let (module, param) = rest.rsplit_once('.')?;
    if param != "weight" && param != "bias" {
        return None;
    }
    let hf = match (module, gpt2) {
        ("attn_norm", false) => "input_layernorm",
        ("attn_q", false) => "self_attn.q_proj",
        ("attn_k", false) => "self_attn.k_proj",
        ("attn_v", false) => "self_attn.v_proj",
        ("attn_output", false) => "self_attn.o_proj",
        ("ffn_norm", false) => "post_attention_layernorm",
        ("ffn_gate", false) => "mlp.gate_proj",
        ("ffn_up", false) => "mlp.up_proj",
        ("ffn_down", false) => "mlp.down_proj",
        ("attn_norm", true) => "ln_1",
        ("attn_qkv", true) => "attn.c_attn",
        ("attn_output", true) => "attn.c_proj",
        ("ffn_norm", true) => "ln_2",
        ("ffn_up", true) => "mlp.c_fc",
        ("ffn_down", true) => "mlp.c_proj",
        _ => return None,
    };
    let root = if gpt2 { "transformer.h" } else { "model.layers" };
    Some(format!("{root}.{layer}.{hf}.{param}"))
}

/// How a tensor's values are rearranged on the way to HF layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    AsStored,
    /// Undo llama.cpp's rope row permutation with this many heads.
    Unpermute(usize),
    /// Transpose a 2-D Conv1D weight.
    Transpose,
}

/// One tensor of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfTensor {
    /// The HF parameter name.
    pub hf_name: String,
    /// The GGUF tensor name.
    pub gguf_name: String,
    /// The HF shape (outermost first).
    pub shape: Vec<usize>,
    layout: Layout,
}

/// A GGUF file seen as an HF checkpoint (config + named f32 tensors).
#[derive(Debug, Clone)]
pub struct HfView<'a> {
    file: &'a GgufFile,
    architecture: HfArchitecture,
    config: Value,
    tensors: Vec<HfTensor>,
}

impl<'a> HfView<'a> {
    /// Build the view: the config from the metadata, and every tensor's HF name and layout.
    ///
    /// # Errors
    /// [`crate::Error::BadInput`] naming the file, in one line: an architecture other than llama,
    /// qwen2 or gpt2; a missing or mistyped metadata key; rope scaling; partial rotary; a tensor
    /// the view cannot name; Q/K row counts not divisible into heads; a vocabulary size that
    /// disagrees with the embedding.
    pub fn new(file: &'a GgufFile) -> Result<Self> {
        let arch_name = file.require_str("general.architecture")?;
        let architecture = HfArchitecture::from_gguf(arch_name).ok_or_else(|| {
            file.error(format!("architecture {arch_name} is not supported (supported: llama, qwen2, gpt2)"))
        })?;
        refuse_rope_scaling(file, architecture)?;
        let config = match architecture {
            HfArchitecture::Gpt2 => gpt2_config(file)?,
            _ => llama_config(file, architecture)?,
        };
        let heads = config["num_attention_heads"].as_u64().or(config["n_head"].as_u64()).unwrap_or(1) as usize;
        let kv_heads = config["num_key_value_heads"].as_u64().map_or(heads, |k| k as usize);
        let mut tensors = Vec::with_capacity(file.tensors().len());
        for info in file.tensors() {
            let name = info.name();
            let hf_name = hf_tensor_name(architecture, name)
                .ok_or_else(|| file.error(format!("tensor {name} has no Hugging Face name in a {arch_name} model")))?;
            let mut shape = info.shape().to_vec();
            let layout = match architecture {
                HfArchitecture::Llama if name.contains(".attn_q.") => Layout::Unpermute(heads),
                HfArchitecture::Llama if name.contains(".attn_k.") => Layout::Unpermute(kv_heads),
                HfArchitecture::Gpt2 if shape.len() == 2 && is_conv1d(name) => Layout::Transpose,
                _ => Layout::AsStored,
            };
            match layout {
                Layout::Unpermute(n) if shape.first().is_none_or(|rows| n == 0 || rows % (2 * n) != 0) => {
                    return Err(file.error(format!(
                        "tensor {name} has shape {shape:?}: its rows cannot be split into {n} heads of even size"
                    )));
                }
                Layout::Transpose => shape.reverse(),
                _ => {}
            }
            tensors.push(HfTensor { hf_name, gguf_name: name.to_string(), shape, layout });
        }
        check_vocab(file, architecture, &config)?;
        Ok(Self { file, architecture, config, tensors })
    }

    /// The model family.
    pub fn architecture(&self) -> HfArchitecture {
        self.architecture
    }

    /// The HF `config.json` equivalent.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Every tensor, in file order.
    pub fn tensors(&self) -> &[HfTensor] {
        &self.tensors
    }

    /// The tensor with HF name `hf_name`.
    pub fn tensor(&self, hf_name: &str) -> Option<&HfTensor> {
        self.tensors.iter().find(|t| t.hf_name == hf_name)
    }

    /// Tensor `hf_name` as f32 in HF layout: `(shape, values row-major)`.
    ///
    /// # Errors
    /// [`crate::Error::BadInput`] when there is no such tensor, or as [`GgufFile::read_f32`].
    pub fn read(&self, hf_name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let t = self.tensor(hf_name).ok_or_else(|| self.file.error(format!("no tensor maps to {hf_name}")))?;
        let (shape, values) = self.file.read_f32(&t.gguf_name)?;
        let values = match t.layout {
            Layout::AsStored => values,
            Layout::Unpermute(heads) => unpermute_rows(&values, shape[0], heads),
            Layout::Transpose => transpose(&values, shape[0], shape[1]),
        };
        Ok((t.shape.clone(), values))
    }
}

fn is_conv1d(name: &str) -> bool {
    [".attn_qkv.weight", ".attn_output.weight", ".ffn_up.weight", ".ffn_down.weight"].iter().any(|s| name.ends_with(s))
}

/// Undo llama.cpp's rope permutation of the `rows` rows of `values`: HF row `h·d + j·d/2 + i` is
/// GGUF row `h·d + 2i + j` (`d = rows / heads`; the caller checked `rows % (2·heads) == 0`).
pub(crate) fn unpermute_rows(values: &[f32], rows: usize, heads: usize) -> Vec<f32> {
    let cols = values.len() / rows.max(1);
    let d = rows / heads;
    let mut out = vec![0f32; values.len()];
    for h in 0..heads {
        for i in 0..d / 2 {
            for j in 0..2 {
                let (to, from) = (h * d + j * d / 2 + i, h * d + 2 * i + j);
                out[to * cols..(to + 1) * cols].copy_from_slice(&values[from * cols..(from + 1) * cols]);
            }
        }
    }
    out
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways_of_writing_layers() {
        let llama = HfArchitecture::Llama;
        assert_eq!(
            hf_tensor_name(llama, "blk.12.attn_output.weight").unwrap(),
            "model.layers.12.self_attn.o_proj.weight"
        );
        assert_eq!(
            hf_tensor_name(llama, "blk.0.ffn_norm.weight").unwrap(),
            "model.layers.0.post_attention_layernorm.weight"
        );
        assert_eq!(
            hf_tensor_name(HfArchitecture::Qwen2, "blk.1.attn_k.bias").unwrap(),
            "model.layers.1.self_attn.k_proj.bias"
        );
        assert_eq!(
            hf_tensor_name(HfArchitecture::Gpt2, "blk.3.attn_qkv.weight").unwrap(),
            "transformer.h.3.attn.c_attn.weight"
        );
        assert_eq!(hf_tensor_name(llama, "output.weight").unwrap(), "lm_head.weight");
        for bad in [
            "blk.x.attn_q.weight",
            "blk.+1.attn_q.weight",
            "blk.0.attn_q.scale",
            "blk.0.attn_qkv.weight",
            "rope_freqs.weight",
        ] {
            assert_eq!(hf_tensor_name(llama, bad), None, "{bad}");
        }
    }

    #[test]
    fn unpermute_inverts_the_llama_cpp_permutation() {
        // llama.cpp: w.reshape(heads, 2, d/2, cols).swapaxes(1, 2): GGUF row h·d + 2i + j = HF row h·d + j·d/2 + i.
        let (heads, d, cols) = (3, 8, 2);
        let hf: Vec<f32> = (0..heads * d * cols).map(|x| x as f32).collect();
        let mut gguf = vec![0f32; hf.len()];
        for h in 0..heads {
            for i in 0..d / 2 {
                for j in 0..2 {
                    let (g, r) = (h * d + 2 * i + j, h * d + j * d / 2 + i);
                    gguf[g * cols..(g + 1) * cols].copy_from_slice(&hf[r * cols..(r + 1) * cols]);
                }
            }
        }
        assert_eq!(unpermute_rows(&gguf, heads * d, heads), hf);
        assert_eq!(transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
