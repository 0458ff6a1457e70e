//! One block of the Llama family (Llama, Mistral, Qwen2) as Hugging Face `LlamaDecoderLayer`
//! computes it in eval mode:
//!
//! h = x + o_proj(attention(RoPE(q_proj(n₁)), RoPE(k_proj(n₁)), v_proj(n₁))), n₁ = RMSNorm₁(x);
//! y = h + down_proj(SiLU(gate_proj(n₂)) ⊙ up_proj(n₂)), n₂ = RMSNorm₂(h).
//!
//! Attention is grouped-query: query head j reads key/value head ⌊j / (heads/kv_heads)⌋ (HF
//! `repeat_kv`); scores q·kᵀ·d_head^(−1/2) plus the causal + padding mask, softmax over keys.
//! Biases: q/k/v for Qwen2 (and Llama's `attention_bias`, which also covers o_proj), MLP biases
//! for Llama's `mlp_bias`.

use burn::module::Module;
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::decoder::batch::{DecoderBatch, LayerKv};
use crate::model::decoder::config::DecoderConfig;
use crate::model::decoder::linear::{Linear, RmsNorm, WeightLayout};
use crate::model::dense::ParamSource;
use crate::model::probe::Tap;
use crate::model::weights::WeightMap;

/// Grouped-query self-attention with rotary positions (`<layer>.self_attn`).
#[derive(Module, Debug)]
pub struct LlamaAttention {
    /// `q_proj`, `[H → heads·d]`.
    pub q_proj: Linear,
    /// `k_proj`, `[H → kv_heads·d]`.
    pub k_proj: Linear,
    /// `v_proj`, `[H → kv_heads·d]`.
    pub v_proj: Linear,
    /// `o_proj`, `[heads·d → H]`.
    pub o_proj: Linear,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Head size d.
    pub head_dim: usize,
}

impl LlamaAttention {
    fn take(weights: &mut WeightMap, name: &str, c: &DecoderConfig, device: &Device) -> Self {
        let (h, q, kv) = (c.hidden_size, c.query_width(), c.kv_width());
        let mut linear = |part: &str, dims, bias| {
            Linear::take(weights, &format!("{name}.{part}"), dims, bias, WeightLayout::OutIn, device)
        };
        Self {
            q_proj: linear("q_proj", (h, q), c.qkv_bias),
            k_proj: linear("k_proj", (h, kv), c.qkv_bias),
            v_proj: linear("v_proj", (h, kv), c.qkv_bias),
            o_proj: linear("o_proj", (q, h), c.output_bias),
            heads: c.num_attention_heads,
            kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim,
        }
    }

    fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        [&self.q_proj, &self.k_proj, &self.v_proj, &self.o_proj].iter().try_for_each(|l| l.export(out, source))
    }

    /// `[N, T, H]` → `[N, T, H]`, attending to `past` (a shared prefix's keys and values) before
    /// the rows' own positions; also returns this call's keys and values (`[N, kv_heads, T, d]`).
    pub fn forward(
        &self,
        input: Tensor<3>,
        batch: &DecoderBatch,
        past: Option<&LayerKv>,
        tap: &mut Tap<'_>,
    ) -> (Tensor<3>, LayerKv) {
        let [n, t, _] = input.dims();
        let d = self.head_dim;
        let split = |x: Tensor<3>, heads: usize| x.reshape([n, t, heads, d]).swap_dims(1, 2);
        let mut q = split(self.q_proj.forward(input.clone(), tap), self.heads);
        let mut k = split(self.k_proj.forward(input.clone(), tap), self.kv_heads);
        let v = split(self.v_proj.forward(input, tap), self.kv_heads);
        if let Some(rope) = &batch.rope {
            q = rope.apply(q);
            k = rope.apply(k);
        }
        let own = LayerKv { k, v };
        let all = own.after(past);
        let (k, v) = (self.repeat_kv(all.k), self.repeat_kv(all.v));
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar((d as f64).powf(-0.5)) + batch.mask_bias.clone();
        let context = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([n, t, self.heads * d]);
        (self.o_proj.forward(context, tap), own)
    }

    /// `[N, kv_heads, T, d]` → `[N, heads, T, d]`, each key/value head repeated for its group.
    fn repeat_kv(&self, x: Tensor<4>) -> Tensor<4> {
        let groups = self.heads / self.kv_heads;
        if groups == 1 {
            return x;
        }
        let [n, kv, t, d] = x.dims();
        x.unsqueeze_dim::<5>(2).repeat_dim(2, groups).reshape([n, kv * groups, t, d])
    }
}

/// The SiLU-gated feed-forward block (`<layer>.mlp`).
#[derive(Module, Debug)]
pub struct GatedMlp {
    /// `gate_proj`, `[H → I]`.
    pub gate_proj: Linear,
    /// `up_proj`, `[H → I]`.
    pub up_proj: Linear,
    /// `down_proj`, `[I → H]`.
    pub down_proj: Linear,
}

impl GatedMlp {
    fn take(weights: &mut WeightMap, name: &str, c: &DecoderConfig, device: &Device) -> Self {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let mut linear = |part: &str, dims| {
            Linear::take(weights, &format!("{name}.{part}"), dims, c.mlp_bias, WeightLayout::OutIn, device)
        };
        Self {
            gate_proj: linear("gate_proj", (h, i)),
            up_proj: linear("up_proj", (h, i)),
            down_proj: linear("down_proj", (i, h)),
        }
    }

    fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        [&self.gate_proj, &self.up_proj, &self.down_proj].iter().try_for_each(|l| l.export(out, source))
    }

    /// `[N, T, H]` → `[N, T, H]`.
    pub fn forward(&self, input: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<3> {
        let gate = silu(self.gate_proj.forward(input.clone(), tap));
        let up = self.up_proj.forward(input, tap);
        self.down_proj.forward(gate * up, tap)
    }
}

/// One Llama-family block (`model.layers.<i>`).
#[derive(Module, Debug)]
pub struct LlamaBlock {
    /// `input_layernorm`.
    pub input_norm: RmsNorm,
    /// `self_attn`.
    pub attention: LlamaAttention,
    /// `post_attention_layernorm`.
    pub post_norm: RmsNorm,
    /// `mlp`.
    pub mlp: GatedMlp,
}

impl LlamaBlock {
    /// Take block `index`'s tensors (`<prefix>.layers.<index>.…`).
    pub fn take(weights: &mut WeightMap, prefix: &str, index: usize, c: &DecoderConfig, device: &Device) -> Self {
        let name = format!("{prefix}.layers.{index}");
        let norm = |weights: &mut WeightMap, part: &str| {
            RmsNorm::take(weights, &format!("{name}.{part}"), c.hidden_size, c.norm_eps, device)
        };
        Self {
            input_norm: norm(weights, "input_layernorm"),
            attention: LlamaAttention::take(weights, &format!("{name}.self_attn"), c, device),
            post_norm: norm(weights, "post_attention_layernorm"),
            mlp: GatedMlp::take(weights, &format!("{name}.mlp"), c, device),
        }
    }

    /// Put the block's tensors back.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        self.input_norm.export(out, source)?;
        self.attention.export(out, source)?;
        self.post_norm.export(out, source)?;
        self.mlp.export(out, source)
    }

    /// `[N, T, H]` → `[N, T, H]` and the attention's keys and values (see
    /// [`LlamaAttention::forward`]).
    pub fn forward(
        &self,
        input: Tensor<3>,
        batch: &DecoderBatch,
        past: Option<&LayerKv>,
        tap: &mut Tap<'_>,
    ) -> (Tensor<3>, LayerKv) {
        let (attended, kv) = self.attention.forward(self.input_norm.forward(input.clone(), tap), batch, past, tap);
        let hidden = input + attended;
        (hidden.clone() + self.mlp.forward(self.post_norm.forward(hidden, tap), tap), kv)
    }
}
