//! The forward pass of the Llama-family hand-written path on one block's packed real tokens,
//! keeping what the backward and the signals need (eval mode; the maps of
//! [`crate::model::decoder::llama`]):
//!
//! x₀ = E\[id\]; per block: n₁ = RMSNorm₁(x); \[q|k|v\] = n₁·W_qkv (+ b); q, k rotated (RoPE at
//! each token's position); c = causal grouped-query attention(q, k, v); h = x + c·W_o (+ b);
//! n₂ = RMSNorm₂(h); \[a|b\] = n₂·W_gu (+ b); m = silu(a) ⊙ b; x′ = h + m·W_d (+ b).
//! At each example's last real token: φ = RMSNorm_f(x_L), logits = φ·W_readoutᵀ.

use faer::Par;

use crate::error::Result;
use crate::model::decoder::batch::{check, position_ids};
use crate::model::decoder::rope::rope_rows;
use crate::ntk::fastfb::attention;
use crate::ntk::fastfb::forward::Packed;
use crate::ntk::fastfb::llama::ops::{rms_forward, silu_gate_forward, Rope};
use crate::ntk::fastfb::llama::weights::{HostLlama, HostLlamaLayer};
use crate::ntk::fastfb::ops::{gemm, view, view_mut, NormCache};
use crate::tokenize::{pad_batch, Encoding};

/// Validate `encodings` as [`crate::model::decoder::DecoderBatch::new`] does (same errors) and
/// pack their real tokens with the decoder's positions (past..past+len−1 over each encoding's
/// real tokens, whichever side it is padded on; `past`: the length of a cached prefix they
/// follow, 0 without one, as `DecoderBatch::after_prefix` counts).
///
/// # Errors
/// [`crate::Error::InvalidArgument`] as `DecoderBatch::new`.
pub fn pack(encodings: &[Encoding], pad_id: u32, model: &HostLlama, past: usize) -> Result<Packed> {
    let padded = pad_batch(encodings, pad_id)?;
    check(&padded, past, &model.config)?;
    let offset = u32::try_from(past).map_err(|_| crate::Error::invalid("input", "prefix too long"))?;
    let positions: Vec<u32> = position_ids(&padded).into_iter().map(|p| p + offset).collect();
    Ok(Packed::from_padded(&padded, &positions))
}

/// Each example's last real row in `packed`.
pub fn last_rows(packed: &Packed) -> Vec<usize> {
    packed.offsets[1..].iter().map(|&end| end - 1).collect()
}

/// What one block's forward keeps.
#[derive(Debug, Clone)]
pub struct LayerCache {
    /// `input_layernorm`'s cache (x̂₁, r₁).
    pub input_norm: NormCache,
    /// n₁ `[R, H]` (the input of q/k/v).
    pub normed: Vec<f32>,
    /// The fused projection after RoPE `[R, q + 2kv]`.
    pub qkv: Vec<f32>,
    /// Attention probabilities per example, `[heads, len, len]`.
    pub probs: Vec<Vec<f32>>,
    /// The attention context `[R, q]` (input of `o_proj`).
    pub context: Vec<f32>,
    /// `post_attention_layernorm`'s cache.
    pub post_norm: NormCache,
    /// n₂ `[R, H]` (the input of gate/up).
    pub post_normed: Vec<f32>,
    /// The fused pre-activations [a|b] `[R, 2I]`.
    pub gate_up: Vec<f32>,
    /// m = silu(a) ⊙ b `[R, I]` (input of `down_proj`).
    pub gated: Vec<f32>,
}

/// What the whole forward keeps.
#[derive(Debug, Clone)]
pub struct ForwardCache {
    /// Every block's cache, in order.
    pub layers: Vec<LayerCache>,
    /// The final norm's cache at the last real tokens (`[n, H]`).
    pub final_norm: NormCache,
    /// φ `[n, H]`: the final-normed hidden state at each last real token.
    pub phi: Vec<f32>,
    /// The readout logits `[n, O]`.
    pub logits: Vec<f32>,
    /// The RoPE tables of the packed rows (None without a RoPE base).
    pub rope: Option<Rope>,
}

/// One block's forward on `x` `[R, H]`: its cache and its output. `attend` maps the rotated
/// fused projection to (the probabilities per example, the context): [`attention::forward`] for
/// the eNTK's backward, or [`attention::causal_context`] with no probabilities for inference.
pub(crate) fn layer_forward(
    model: &HostLlama,
    l: &HostLlamaLayer,
    x: &[f32],
    rope: Option<&Rope>,
    attend: impl FnOnce(&[f32]) -> (Vec<Vec<f32>>, Vec<f32>),
) -> (LayerCache, Vec<f32>) {
    let rows = x.len() / model.hidden();
    let geometry = model.attention;
    let (normed, input_norm) = rms_forward(x, &l.input_norm.gamma, l.input_norm.epsilon);
    let mut qkv = l.qkv.forward(&normed, rows);
    if let Some(rope) = rope {
        rope.rotate(&mut qkv, geometry.fused_width(), geometry.heads + geometry.kv_heads, false);
    }
    let (probs, context) = attend(&qkv);
    let attended = l.o_proj.forward_residual(&context, x, rows);
    let (post_normed, post_norm) = rms_forward(&attended, &l.post_norm.gamma, l.post_norm.epsilon);
    let gate_up = l.gate_up.forward(&post_normed, rows);
    let gated = silu_gate_forward(&gate_up, l.down.d_in);
    let next = l.down.forward_residual(&gated, &attended, rows);
    let cache = LayerCache { input_norm, normed, qkv, probs, context, post_norm, post_normed, gate_up, gated };
    (cache, next)
}

/// `a [n, H] · rowsᵀ` for `rows` `[O, H]`: `[n, O]`.
pub fn readout_logits(a: &[f32], rows: &[f32], h: usize) -> Vec<f32> {
    let (n, o) = (a.len() / h, rows.len() / h);
    let mut out = vec![0.0f32; n * o];
    gemm(view_mut(&mut out, n, o, o), view(a, n, h, h), view(rows, o, h, h).transpose(), false, Par::Seq);
    out
}

/// The RoPE tables of `packed`'s rows (None without a RoPE base).
pub(crate) fn rope_of(model: &HostLlama, packed: &Packed) -> Option<Rope> {
    model.config.rope_theta.map(|theta| {
        let (cos, sin) = rope_rows(&packed.ids[1], model.config.head_dim, theta);
        Rope { cos, sin, head_dim: model.config.head_dim }
    })
}

/// At each example's last real row of the last block's output `hidden` `[R, H]`: the final
/// norm's cache, φ and the readout logits.
pub(crate) fn readout(model: &HostLlama, packed: &Packed, hidden: &[f32]) -> (NormCache, Vec<f32>, Vec<f32>) {
    let h = model.hidden();
    let last: Vec<f32> = last_rows(packed).iter().flat_map(|&r| hidden[r * h..(r + 1) * h].iter().copied()).collect();
    let (phi, final_norm) = rms_forward(&last, &model.final_norm.gamma, model.final_norm.epsilon);
    let logits = readout_logits(&phi, &model.readout, h);
    (final_norm, phi, logits)
}

/// Run the forward on `packed`, keeping every cache.
///
/// # Errors
/// [`crate::Error::Numerical`] when the token rows cannot be read back from the device.
pub fn forward(model: &HostLlama, packed: &Packed) -> Result<ForwardCache> {
    let rope = rope_of(model, packed);
    let mut hidden = model.embed.rows(&packed.ids[0])?;
    let mut layers = Vec::with_capacity(model.layers.len());
    for l in &model.layers {
        let attend = |qkv: &[f32]| attention::forward(qkv, &packed.offsets, model.attention);
        let (cache, next) = layer_forward(model, l, &hidden, rope.as_ref(), attend);
        layers.push(cache);
        hidden = next;
    }
    let (final_norm, phi, logits) = readout(model, packed, &hidden);
    Ok(ForwardCache { layers, final_norm, phi, logits, rope })
}
