//! Multi-head self-attention of one block, example by example (rayon across examples, the
//! heads of one example in sequence, small single-threaded faer GEMMs), for the encoder
//! (bidirectional, as many key/value heads as query heads) and the Llama-family decoders
//! (causal, grouped-query: query head a reads key/value head ⌊a / (heads/kv_heads)⌋).
//!
//! Each example attends over its own real tokens only: the packed rows hold no padding, so no
//! additive mask is needed (burn's mask of −1e9 makes e^{score} exactly 0 in f32, so the
//! padded keys contribute nothing there either); a causal row t sees keys 0..=t, the later
//! probabilities being exactly 0 ([`softmax_rows_causal`]).
//!
//! Forward, per query head a with key/value head g (d the head size, s = 1/√d):
//! S = s·Q_a K_gᵀ, P = softmax_rows(S), C_a = P V_g. Backward from dC: dP = dC_a V_gᵀ,
//! dV_g += Pᵀ dC_a, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ_a = s·dS K_g, dK_g += s·dSᵀ Q_a (the
//! heads of a group accumulate into their key/value head in head order).
//! Q, K, V live in the fused `[R, (heads + 2·kv_heads)·d]` projection (queries, then keys,
//! then values).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::ntk::fastfb::ops::{softmax_rows, softmax_rows_causal, view, view_mut};

/// Geometry of one block's attention.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (divides `heads`; equal to it without grouping).
    pub kv_heads: usize,
    /// Head size d.
    pub head_dim: usize,
    /// True for causal attention (decoders).
    pub causal: bool,
}

impl Heads {
    /// Bidirectional attention with `heads` heads over a hidden size `hidden` (the encoder).
    pub fn encoder(hidden: usize, heads: usize) -> Self {
        Self { heads, kv_heads: heads, head_dim: hidden / heads, causal: false }
    }

    fn scale(self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }

    /// Width of the context, heads·d.
    pub fn query_width(self) -> usize {
        self.heads * self.head_dim
    }

    /// Width of the fused projection, (heads + 2·kv_heads)·d.
    pub fn fused_width(self) -> usize {
        (self.heads + 2 * self.kv_heads) * self.head_dim
    }

    /// Column offsets of query head `a`'s query, key and value in the fused projection.
    fn columns(self, a: usize) -> (usize, usize, usize) {
        let (d, g) = (self.head_dim, a / (self.heads / self.kv_heads));
        let q = self.query_width();
        (a * d, q + g * d, q + self.kv_heads * d + g * d)
    }

    /// True when query head `a` is the first of its key/value group.
    fn first_of_group(self, a: usize) -> bool {
        a.is_multiple_of(self.heads / self.kv_heads)
    }
}

/// Split `buf` (rows of `width`) into the row ranges of `offsets` (`offsets[i]..offsets[i + 1]`).
pub fn split_rows_mut<'a>(mut buf: &'a mut [f32], offsets: &[usize], width: usize) -> Vec<&'a mut [f32]> {
    let mut out = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let (head, tail) = std::mem::take(&mut buf).split_at_mut((w[1] - w[0]) * width);
        out.push(head);
        buf = tail;
    }
    out
}

fn product(out: MatMut<'_, f32>, a: MatRef<'_, f32>, b: MatRef<'_, f32>, alpha: f32, accumulate: bool) {
    if out.nrows() == 0 || out.ncols() == 0 {
        return;
    }
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    matmul(out, accum, a, b, alpha, Par::Seq);
}

/// Forward: from the fused projection `qkv` `[R, (heads + 2·kv_heads)·d]` (rows packed by
/// `offsets`), the attention probabilities per example (`[heads, len, len]`) and the context
/// `[R, heads·d]`.
pub fn forward(qkv: &[f32], offsets: &[usize], geometry: Heads) -> (Vec<Vec<f32>>, Vec<f32>) {
    let (width, cw, d) = (geometry.fused_width(), geometry.query_width(), geometry.head_dim);
    let rows = *offsets.last().unwrap_or(&0);
    let mut context = vec![0.0f32; rows * cw];
    let chunks = split_rows_mut(&mut context, offsets, cw);
    let probs = chunks
        .into_par_iter()
        .zip(offsets.par_windows(2))
        .map(|(ctx, w)| {
            let len = w[1] - w[0];
            let x = &qkv[w[0] * width..w[1] * width];
            let mut p = vec![0.0f32; geometry.heads * len * len];
            for (a, s) in p.chunks_mut(len * len.max(1)).enumerate().take(geometry.heads) {
                let (qc, kc, vc) = geometry.columns(a);
                let q = view(&x[qc..], len, d, width);
                let k = view(&x[kc..], len, d, width);
                let v = view(&x[vc..], len, d, width);
                product(view_mut(s, len, len, len), q, k.transpose(), geometry.scale(), false);
                if geometry.causal {
                    softmax_rows_causal(s, len.max(1));
                } else {
                    softmax_rows(s, len.max(1));
                }
                product(view_mut(&mut ctx[a * d..], len, d, cw), view(s, len, len, len), v, 1.0, false);
            }
            p
        })
        .collect();
    (probs, context)
}

/// Backward: the gradient of the fused projection `[R, (heads + 2·kv_heads)·d]` from the
/// context gradient `dcontext` `[R, heads·d]`, the forward's `qkv` and probabilities.
pub fn backward(dcontext: &[f32], qkv: &[f32], probs: &[Vec<f32>], offsets: &[usize], geometry: Heads) -> Vec<f32> {
    let (width, cw, d) = (geometry.fused_width(), geometry.query_width(), geometry.head_dim);
    let rows = *offsets.last().unwrap_or(&0);
    let mut dqkv = vec![0.0f32; rows * width];
    let chunks = split_rows_mut(&mut dqkv, offsets, width);
    chunks.into_par_iter().zip(offsets.par_windows(2)).zip(probs.par_iter()).for_each(|((dx, w), p)| {
        let len = w[1] - w[0];
        let x = &qkv[w[0] * width..w[1] * width];
        let dc = &dcontext[w[0] * cw..w[1] * cw];
        let mut dp = vec![0.0f32; len * len];
        for a in 0..geometry.heads {
            let (qc, kc, vc) = geometry.columns(a);
            let accumulate = !geometry.first_of_group(a);
            let pa = &p[a * len * len..(a + 1) * len * len];
            let dca = view(&dc[a * d..], len, d, cw);
            let k = view(&x[kc..], len, d, width);
            let q = view(&x[qc..], len, d, width);
            let v = view(&x[vc..], len, d, width);
            product(view_mut(&mut dx[vc..], len, d, width), view(pa, len, len, len).transpose(), dca, 1.0, accumulate);
            product(view_mut(&mut dp, len, len, len), dca, v.transpose(), 1.0, false);
            softmax_backward(&mut dp, pa, len);
            product(view_mut(&mut dx[qc..], len, d, width), view(&dp, len, len, len), k, geometry.scale(), false);
            product(
                view_mut(&mut dx[kc..], len, d, width),
                view(&dp, len, len, len).transpose(),
                q,
                geometry.scale(),
                accumulate,
            );
        }
    });
    dqkv
}

/// dS = P ⊙ (dP − rowsum(dP ⊙ P)), in place on `dp` `[len, len]`.
fn softmax_backward(dp: &mut [f32], p: &[f32], len: usize) {
    for (dr, pr) in dp.chunks_mut(len.max(1)).zip(p.chunks(len.max(1))) {
        let dot: f32 = dr.iter().zip(pr).map(|(a, b)| a * b).sum();
        dr.iter_mut().zip(pr).for_each(|(g, p)| *g = p * (*g - dot));
    }
}
