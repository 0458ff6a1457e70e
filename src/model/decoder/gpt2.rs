//! One GPT-2 block as Hugging Face `GPT2Block` computes it in eval mode (pre-LayerNorm):
//!
//! h = x + c_proj(attention(split(c_attn(LN₁(x))))); y = h + mlp.c_proj(GELU-tanh(c_fc(LN₂(h)))).
//!
//! `c_attn` is one fused `[H → 3H]` projection split into q, k, v; scores are q·kᵀ/√d_head (when
//! `scale_attn_weights`, further divided by l + 1 under `scale_attn_by_inverse_layer_idx`) plus
//! the causal + padding mask. Every linear layer is a `Conv1D`: weights stored `[in, out]`, with
//! biases.

use burn::module::Module;
use burn::tensor::activation::{gelu, gelu_approximate, softmax};
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::decoder::batch::{DecoderBatch, LayerKv};
use crate::model::decoder::config::{DecoderActivation, DecoderConfig};
use crate::model::decoder::linear::{Linear, WeightLayout};
use crate::model::dense::{Norm, ParamSource};
use crate::model::probe::Tap;
use crate::model::weights::WeightMap;

/// Causal self-attention (`<block>.attn`).
#[derive(Module, Debug)]
pub struct Gpt2Attention {
    /// `c_attn`, `[H → 3H]` (q, k, v side by side).
    pub c_attn: Linear,
    /// `c_proj`, `[H → H]`.
    pub c_proj: Linear,
    /// Number of heads.
    pub heads: usize,
    /// The factor the scores are multiplied by.
    pub scale: f64,
}

impl Gpt2Attention {
    /// `[N, T, H]` → `[N, T, H]`, attending to `past` (a shared prefix's keys and values) before
    /// the rows' own positions; also returns this call's keys and values (`[N, heads, T, d]`).
    pub fn forward(
        &self,
        input: Tensor<3>,
        batch: &DecoderBatch,
        past: Option<&LayerKv>,
        tap: &mut Tap<'_>,
    ) -> (Tensor<3>, LayerKv) {
        let [n, t, h] = input.dims();
        let d = h / self.heads;
        let fused = self.c_attn.forward(input, tap);
        let part = |i: usize| {
            fused.clone().slice([0..n, 0..t, i * h..(i + 1) * h]).reshape([n, t, self.heads, d]).swap_dims(1, 2)
        };
        let q = part(0);
        let own = LayerKv { k: part(1), v: part(2) };
        let all = own.after(past);
        let scores = q.matmul(all.k.swap_dims(2, 3)).mul_scalar(self.scale) + batch.mask_bias.clone();
        let context = softmax(scores, 3).matmul(all.v).swap_dims(1, 2).reshape([n, t, h]);
        (self.c_proj.forward(context, tap), own)
    }
}

/// The feed-forward block (`<block>.mlp`).
#[derive(Module, Debug)]
pub struct Gpt2Mlp {
    /// `c_fc`, `[H → I]`.
    pub c_fc: Linear,
    /// `c_proj`, `[I → H]`.
    pub c_proj: Linear,
    /// True for the tanh-approximate GELU (`gelu_new`), false for the exact one.
    pub gelu_tanh: bool,
}

/// One GPT-2 block (`transformer.h.<i>`).
#[derive(Module, Debug)]
pub struct Gpt2Block {
    /// `ln_1`.
    pub ln_1: Norm,
    /// `attn`.
    pub attention: Gpt2Attention,
    /// `ln_2`.
    pub ln_2: Norm,
    /// `mlp`.
    pub mlp: Gpt2Mlp,
}

impl Gpt2Block {
    /// Take block `index`'s tensors (`<prefix>.h.<index>.…`).
    pub fn take(weights: &mut WeightMap, prefix: &str, index: usize, c: &DecoderConfig, device: &Device) -> Self {
        let name = format!("{prefix}.h.{index}");
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let mut conv1d = |part: &str, dims| {
            Linear::take(weights, &format!("{name}.{part}"), dims, true, WeightLayout::InOut, device)
        };
        let (c_attn, attn_proj, c_fc, mlp_proj) = (
            conv1d("attn.c_attn", (h, 3 * h)),
            conv1d("attn.c_proj", (h, h)),
            conv1d("mlp.c_fc", (h, i)),
            conv1d("mlp.c_proj", (i, h)),
        );
        let mut scale = if c.scale_attn_weights { (c.head_dim as f64).powf(-0.5) } else { 1.0 };
        if c.scale_attn_by_inverse_layer_idx {
            scale /= (index + 1) as f64;
        }
        Self {
            ln_1: Norm::take(weights, &format!("{name}.ln_1"), h, c.norm_eps, device),
            attention: Gpt2Attention { c_attn, c_proj: attn_proj, heads: c.num_attention_heads, scale },
            ln_2: Norm::take(weights, &format!("{name}.ln_2"), h, c.norm_eps, device),
            mlp: Gpt2Mlp { c_fc, c_proj: mlp_proj, gelu_tanh: c.hidden_act == DecoderActivation::GeluTanh },
        }
    }

    /// Put the block's tensors back (Conv1D layout).
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        self.ln_1.export(out, source)?;
        self.attention.c_attn.export(out, source)?;
        self.attention.c_proj.export(out, source)?;
        self.ln_2.export(out, source)?;
        self.mlp.c_fc.export(out, source)?;
        self.mlp.c_proj.export(out, source)
    }

    /// `[N, T, H]` → `[N, T, H]` and the attention's keys and values (see
    /// [`Gpt2Attention::forward`]).
    pub fn forward(
        &self,
        input: Tensor<3>,
        batch: &DecoderBatch,
        past: Option<&LayerKv>,
        tap: &mut Tap<'_>,
    ) -> (Tensor<3>, LayerKv) {
        let (attended, kv) = self.attention.forward(self.ln_1.forward(input.clone(), tap), batch, past, tap);
        let hidden = input + attended;
        let inner = self.mlp.c_fc.forward(self.ln_2.forward(hidden.clone(), tap), tap);
        let activated = if self.mlp.gelu_tanh { gelu_approximate(inner) } else { gelu(inner) };
        (hidden + self.mlp.c_proj.forward(activated, tap), kv)
    }
}
