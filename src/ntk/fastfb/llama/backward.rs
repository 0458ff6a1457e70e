//! The activation-only backward of the Llama-family hand-written path: from a per-example seed
//! c = ∂f/∂logits at the readout back to the token embeddings, keeping the output gradient of
//! every probed layer (no parameter gradient is formed).
//!
//! Head: dφ = c·W_readout; d(x_L at the last real token) = RMSNorm_fᵀ(dφ), 0 at every other
//! token. Per block (the forward of [`mod@crate::ntk::fastfb::llama::forward`] read backwards), from
//! dx′: g_down = dx′; [g_a|g_b] = gateᵀ(dx′·W_dᵀ); g_post = [g_a|g_b]·W_guᵀ;
//! dh = dx′ + RMSNorm₂ᵀ(g_post) = g_o; [g_q|g_k|g_v] = RoPEᵀ(attentionᵀ(g_o·W_oᵀ)) (the q/k
//! signals are the gradients *before* the rotation, where the probes sit);
//! g_input = [g_q|g_k|g_v]·W_qkvᵀ; dx = dh + RMSNorm₁ᵀ(g_input). The token table's signal is
//! dx after the first block.

use crate::ntk::fastfb::attention;
use crate::ntk::fastfb::forward::Packed;
use crate::ntk::fastfb::llama::forward::{last_rows, ForwardCache, LayerCache};
use crate::ntk::fastfb::llama::ops::{rms_backward_into, silu_gate_backward};
use crate::ntk::fastfb::llama::weights::{HostLlama, HostLlamaLayer};
use crate::ntk::fastfb::ops::{copied, gemm, view, view_mut, zeros};

/// The output gradients of one block's probed maps, each `[R, d_out]`.
#[derive(Debug, Clone)]
pub struct LayerGrads {
    /// `input_layernorm` `[R, H]`.
    pub input_norm: Vec<f32>,
    /// [g_q | g_k | g_v] `[R, q + 2kv]` (before RoPE).
    pub qkv: Vec<f32>,
    /// `o_proj` `[R, H]`.
    pub o_proj: Vec<f32>,
    /// `post_attention_layernorm` `[R, H]`.
    pub post_norm: Vec<f32>,
    /// [g_gate | g_up] `[R, 2I]`.
    pub gate_up: Vec<f32>,
    /// `down_proj` `[R, H]`.
    pub down: Vec<f32>,
}

/// Every output gradient of one backward.
#[derive(Debug, Clone)]
pub struct Grads {
    /// The token table's `[R, H]`.
    pub embed: Vec<f32>,
    /// Every block's, in block order.
    pub layers: Vec<LayerGrads>,
    /// The final norm's at the last real tokens `[n, H]`.
    pub final_norm: Vec<f32>,
    /// The readout's: the seeds `[n, O]`.
    pub readout: Vec<f32>,
}

fn layer_backward(
    model: &HostLlama,
    l: &HostLlamaLayer,
    c: &LayerCache,
    dx: Vec<f32>,
    (offsets, cache): (&[usize], &ForwardCache),
) -> (LayerGrads, Vec<f32>) {
    let (rows, geometry) = (dx.len() / model.hidden(), model.attention);
    let gated = l.down.input_grad(&dx, rows, None);
    let gate_up = silu_gate_backward(&gated, &c.gate_up, l.down.d_in);
    let post_norm = l.gate_up.input_grad(&gate_up, rows, None);
    let mut dh = copied(&dx);
    rms_backward_into(&mut dh, &post_norm, &l.post_norm.gamma, &c.post_norm);
    let context = l.o_proj.input_grad(&dh, rows, None);
    let mut qkv = attention::backward(&context, &c.qkv, &c.probs, offsets, geometry);
    if let Some(rope) = &cache.rope {
        rope.rotate(&mut qkv, geometry.fused_width(), geometry.heads + geometry.kv_heads, true);
    }
    let input_norm = l.qkv.input_grad(&qkv, rows, None);
    let mut previous = copied(&dh);
    rms_backward_into(&mut previous, &input_norm, &l.input_norm.gamma, &c.input_norm);
    let grads = LayerGrads { input_norm, qkv, o_proj: dh, post_norm, gate_up, down: dx };
    (grads, previous)
}

/// The backward of f = Σ_examples Σ_o seed_o logit_o from `seed` `[n, O]`.
pub fn backward(model: &HostLlama, packed: &Packed, cache: &ForwardCache, seed: Vec<f32>) -> Grads {
    let (h, n, o) = (model.hidden(), packed.examples(), model.labels());
    let mut final_norm = vec![0.0f32; n * h];
    let rows = model.readout.as_slice();
    gemm(view_mut(&mut final_norm, n, h, h), view(&seed, n, o, o), view(rows, o, h, h), false, faer::Par::Seq);
    let mut last = vec![0.0f32; n * h];
    rms_backward_into(&mut last, &final_norm, &model.final_norm.gamma, &cache.final_norm);
    let mut dx = zeros(packed.rows() * h);
    for (i, r) in last_rows(packed).into_iter().enumerate() {
        dx[r * h..(r + 1) * h].copy_from_slice(&last[i * h..(i + 1) * h]);
    }
    let mut layers = Vec::with_capacity(model.layers.len());
    for (l, c) in model.layers.iter().zip(&cache.layers).rev() {
        let (grads, previous) = layer_backward(model, l, c, dx, (&packed.offsets, cache));
        layers.push(grads);
        dx = previous;
    }
    layers.reverse();
    Grads { embed: dx, layers, final_norm, readout: seed }
}
