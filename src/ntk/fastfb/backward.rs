//! The activation-only backward of the hand-written path: from a per-example seed c at the logits
//! (the coefficients of f = Σ_o c_o logit_o, linearised at the forward for the margin with more
//! than two labels) back to the embeddings, keeping the output gradient g = ∂f/∂y of every probed
//! layer. No parameter gradient is formed (the contraction forms them from the signals).
//!
//! Per layer (the forward of [`crate::ntk::fastfb::forward`] read backwards): g_LN₂ = dh′;
//! g_o2 = LN₂ᵀ(g_LN₂); g_i = (g_o2·W_o2ᵀ) ⊙ gelu′; g_LN₁ = g_o2 + g_i·W_iᵀ; g_o = LN₁ᵀ(g_LN₁);
//! [g_q|g_k|g_v] = attentionᵀ(g_o·W_oᵀ); dh = g_o + [g_q|g_k|g_v]·W_qkvᵀ. Head: g_c = c,
//! g_d = (c·W_cᵀ) ⊙ (1 − p²), dh_L = g_d·W_dᵀ at each example's first token, 0 elsewhere — so
//! in the last layer, whose forward ran its maps above the attention on the first tokens only
//! ([`crate::ntk::fastfb::forward`]), the backward of those maps runs on them too, and their
//! gradients are `[n, ·]`; g_o·W_oᵀ is placed at the first tokens' rows (the other rows exactly
//! zero, as in the dense computation) for the attention's backward.

use crate::model::POSITIVE_LABEL;
use crate::ntk::fastfb::attention::{self, Heads};
use crate::ntk::fastfb::forward::{ForwardCache, Packed};
use crate::ntk::fastfb::ops::{copied, multiply_in_place, norm_backward, zeros, NormCache};
use crate::ntk::fastfb::weights::{HostLayer, HostModel};
use crate::ntk::outputs::OutputMode;

/// The output gradients of one encoder layer's probed maps, each `[R, d_out]` (in the last
/// layer those above the attention `[n, d_out]`, the first tokens' rows).
#[derive(Debug, Clone)]
pub struct LayerGrads {
    /// [g_q | g_k | g_v] `[R, 3H]`.
    pub qkv: Vec<f32>,
    /// `attention.output.dense`.
    pub attention_output: Vec<f32>,
    /// `attention.output.LayerNorm`.
    pub attention_norm: Vec<f32>,
    /// `intermediate.dense` `[R, I]`.
    pub intermediate: Vec<f32>,
    /// `output.dense`.
    pub output: Vec<f32>,
    /// `output.LayerNorm`.
    pub output_norm: Vec<f32>,
}

/// Every output gradient of one backward.
#[derive(Debug, Clone)]
pub struct Grads {
    /// The gradient at the summed embeddings (the three tables') `[R, H]`.
    pub embeddings: Vec<f32>,
    /// The embedding LayerNorm's output gradient `[R, H]`.
    pub embedding_norm: Vec<f32>,
    /// Every layer's gradients, in layer order.
    pub layers: Vec<LayerGrads>,
    /// The head's dense layer (pre-tanh) `[n, H]`.
    pub head_dense: Vec<f32>,
    /// The output layer (the seeds) `[n, O]`.
    pub head_output: Vec<f32>,
}

/// The seeds `[n, O]` of virtual output `v`: ∂f_v/∂logits per example (see
/// [`crate::ntk::outputs`]; the margin's is 1 at the positive label and minus the softmax of the
/// other logits elsewhere, which is (−1, 1) for two labels).
pub fn seeds(mode: OutputMode, v: usize, logits: &[f32], labels: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; logits.len()];
    for (c, z) in out.chunks_mut(labels).zip(logits.chunks(labels)) {
        match mode {
            OutputMode::Margin => margin_seed(c, z),
            OutputMode::Logit(k) => c[k] = 1.0,
            OutputMode::Pntk => c.fill(1.0),
            OutputMode::Trace | OutputMode::Full => c[v] = 1.0,
        }
    }
    out
}

fn margin_seed(c: &mut [f32], logits: &[f32]) {
    match c.len() {
        1 => c[0] = 1.0,
        2 => c.copy_from_slice(&[-1.0, 1.0]),
        k => {
            let others = (0..k).filter(|&o| o != POSITIVE_LABEL);
            let max = others.clone().map(|o| logits[o]).fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = others.clone().map(|o| (logits[o] - max).exp()).sum();
            for o in others {
                c[o] = -(logits[o] - max).exp() / sum;
            }
            c[POSITIVE_LABEL] = 1.0;
        }
    }
}

/// The head's backward: the gradient at each example's first token's final hidden state
/// `[n, H]` (the last layer's output rows), the dense layer's and the output layer's.
fn head_backward(model: &HostModel, packed: &Packed, cache: &ForwardCache, seed: Vec<f32>) -> [Vec<f32>; 3] {
    let n = packed.examples();
    let mut dense = model.head_output.input_grad(&seed, n, None);
    dense.iter_mut().zip(&cache.pooled).for_each(|(g, p)| *g *= 1.0 - p * p);
    let first = model.head_dense.input_grad(&dense, n, None);
    [first, dense, seed]
}

/// The per-token part of a layer's backward (LN₂, feed-forward, LN₁), on `rows` rows.
struct Upper {
    output: Vec<f32>,
    intermediate: Vec<f32>,
    attention_norm: Vec<f32>,
    attention_output: Vec<f32>,
}

/// The caches [`upper_backward`] reads: LN₂, gelu′, LN₁.
struct UpperCache<'c> {
    output_norm: &'c NormCache,
    gelu_grad: &'c [f32],
    attention_norm: &'c NormCache,
}

fn upper_backward(l: &HostLayer, c: &UpperCache<'_>, dh: &[f32], rows: usize) -> Upper {
    let output = norm_backward(dh, &l.output_norm.gamma, c.output_norm);
    let mut intermediate = l.output.input_grad(&output, rows, None);
    multiply_in_place(&mut intermediate, c.gelu_grad);
    let attention_norm = l.intermediate.input_grad(&intermediate, rows, Some(copied(&output)));
    let attention_output = norm_backward(&attention_norm, &l.attention_norm.gamma, c.attention_norm);
    Upper { output, intermediate, attention_norm, attention_output }
}

/// `[total, d]` zeros with `x`'s rows placed at `rows`.
fn scatter_rows(x: &[f32], rows: &[usize], d: usize, total: usize) -> Vec<f32> {
    let mut out = zeros(total * d);
    for (i, &r) in rows.iter().enumerate() {
        out[r * d..(r + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
    }
    out
}

/// One layer's backward from `dh`, the gradient at its output: `[R, H]`, or with `pooled` (the
/// last layer, whose forward ran its maps above the attention on those rows) `[pooled.len(), H]`
/// at those rows, every other row's being zero.
fn layer_backward(
    model: &HostModel,
    index: usize,
    cache: &ForwardCache,
    dh: Vec<f32>,
    (offsets, pooled): (&[usize], Option<&[usize]>),
) -> (LayerGrads, Vec<f32>) {
    let (l, c) = (&model.layers[index], &cache.layers[index]);
    let (h, upper_rows) = (model.hidden(), dh.len() / model.hidden());
    let rows = c.input.len() / h;
    let upper = UpperCache { output_norm: &c.output_norm, gelu_grad: &c.gelu_grad, attention_norm: &c.attention_norm };
    let u = upper_backward(l, &upper, &dh, upper_rows);
    let dcontext = l.attention_output.input_grad(&u.attention_output, upper_rows, None);
    // The attention and the residual into the layer's input see every row: the pooled rows'
    // gradients placed among zeros.
    let (dcontext, residual) = match pooled {
        Some(p) => (scatter_rows(&dcontext, p, h, rows), scatter_rows(&u.attention_output, p, h, rows)),
        None => (dcontext, copied(&u.attention_output)),
    };
    let qkv = attention::backward(&dcontext, &c.qkv, &c.probs, offsets, Heads::encoder(h, l.heads));
    let previous = l.qkv.input_grad(&qkv, rows, Some(residual));
    let grads = LayerGrads {
        qkv,
        attention_output: u.attention_output,
        attention_norm: u.attention_norm,
        intermediate: u.intermediate,
        output: u.output,
        output_norm: dh,
    };
    (grads, previous)
}

/// The backward of f = Σ_examples Σ_o seed_o logit_o from `seed` `[n, O]`.
pub fn backward(model: &HostModel, packed: &Packed, cache: &ForwardCache, seed: Vec<f32>) -> Grads {
    let [first, head_dense, head_output] = head_backward(model, packed, cache, seed);
    let first_rows = &packed.offsets[..packed.examples()];
    // The last layer's output is its first tokens' rows (the forward's); with no layers, the
    // embedding LayerNorm's every row.
    let mut dh =
        if model.layers.is_empty() { scatter_rows(&first, first_rows, model.hidden(), packed.rows()) } else { first };
    let mut layers = Vec::with_capacity(model.layers.len());
    for index in (0..model.layers.len()).rev() {
        let pooled = (index + 1 == model.layers.len()).then_some(first_rows);
        let (grads, previous) = layer_backward(model, index, cache, dh, (&packed.offsets, pooled));
        layers.push(grads);
        dh = previous;
    }
    layers.reverse();
    let embeddings = norm_backward(&dh, &model.embedding_norm.gamma, &cache.embedding_norm);
    Grads { embeddings, embedding_norm: dh, layers, head_dense, head_output }
}
