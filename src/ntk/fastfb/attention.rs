//! Multi-head self-attention of one block, example by example (rayon across examples, the
//! heads of one example in sequence, small single-threaded faer GEMMs).
//!
//! Each example attends over its own real tokens only: the packed rows hold no padding, so no
//! additive mask is needed (burn's mask of −1e9 makes e^{score} exactly 0 in f32, so the
//! padded keys contribute nothing there either).
//!
//! Forward, per head a (d = H / heads, s = 1/√d): S = s·Q_a K_aᵀ, P = softmax_rows(S),
//! C_a = P V_a. Backward from dC: dP = dC_a V_aᵀ, dV_a = Pᵀ dC_a,
//! dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ_a = s·dS K_a, dK_a = s·dSᵀ Q_a.
//! Q, K, V live in the fused `[R, 3H]` projection (columns 0..H, H..2H, 2H..3H).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::ntk::fastfb::ops::{softmax_rows, view, view_mut};

/// Geometry of one block's attention.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Hidden size H.
    pub hidden: usize,
    /// Number of heads.
    pub heads: usize,
}

impl Heads {
    fn size(self) -> usize {
        self.hidden / self.heads
    }

    fn scale(self) -> f32 {
        1.0 / (self.size() as f32).sqrt()
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

/// Forward: from the fused projection `qkv` `[R, 3H]` (rows packed by `offsets`), the attention
/// probabilities per example (`[heads, len, len]`) and the context `[R, H]`.
pub fn forward(qkv: &[f32], offsets: &[usize], geometry: Heads) -> (Vec<Vec<f32>>, Vec<f32>) {
    let (h, d) = (geometry.hidden, geometry.size());
    let rows = *offsets.last().unwrap_or(&0);
    let mut context = vec![0.0f32; rows * h];
    let chunks = split_rows_mut(&mut context, offsets, h);
    let probs = chunks
        .into_par_iter()
        .zip(offsets.par_windows(2))
        .map(|(ctx, w)| {
            let len = w[1] - w[0];
            let x = &qkv[w[0] * 3 * h..w[1] * 3 * h];
            let mut p = vec![0.0f32; geometry.heads * len * len];
            for (a, s) in p.chunks_mut(len * len.max(1)).enumerate().take(geometry.heads) {
                let q = view(&x[a * d..], len, d, 3 * h);
                let k = view(&x[h + a * d..], len, d, 3 * h);
                let v = view(&x[2 * h + a * d..], len, d, 3 * h);
                product(view_mut(s, len, len, len), q, k.transpose(), geometry.scale(), false);
                softmax_rows(s, len.max(1));
                product(view_mut(&mut ctx[a * d..], len, d, h), view(s, len, len, len), v, 1.0, false);
            }
            p
        })
        .collect();
    (probs, context)
}

/// Backward: the gradient of the fused projection `[R, 3H]` from the context gradient
/// `dcontext` `[R, H]`, the forward's `qkv` and probabilities.
pub fn backward(dcontext: &[f32], qkv: &[f32], probs: &[Vec<f32>], offsets: &[usize], geometry: Heads) -> Vec<f32> {
    let (h, d) = (geometry.hidden, geometry.size());
    let rows = *offsets.last().unwrap_or(&0);
    let mut dqkv = vec![0.0f32; rows * 3 * h];
    let chunks = split_rows_mut(&mut dqkv, offsets, 3 * h);
    chunks.into_par_iter().zip(offsets.par_windows(2)).zip(probs.par_iter()).for_each(|((dx, w), p)| {
        let len = w[1] - w[0];
        let x = &qkv[w[0] * 3 * h..w[1] * 3 * h];
        let dc = &dcontext[w[0] * h..w[1] * h];
        let mut dp = vec![0.0f32; len * len];
        for a in 0..geometry.heads {
            let pa = &p[a * len * len..(a + 1) * len * len];
            let dca = view(&dc[a * d..], len, d, h);
            let k = view(&x[h + a * d..], len, d, 3 * h);
            let q = view(&x[a * d..], len, d, 3 * h);
            let v = view(&x[2 * h + a * d..], len, d, 3 * h);
            product(
                view_mut(&mut dx[2 * h + a * d..], len, d, 3 * h),
                view(pa, len, len, len).transpose(),
                dca,
                1.0,
                false,
            );
            product(view_mut(&mut dp, len, len, len), dca, v.transpose(), 1.0, false);
            softmax_backward(&mut dp, pa, len);
            product(view_mut(&mut dx[a * d..], len, d, 3 * h), view(&dp, len, len, len), k, geometry.scale(), false);
            product(
                view_mut(&mut dx[h + a * d..], len, d, 3 * h),
                view(&dp, len, len, len).transpose(),
                q,
                geometry.scale(),
                false,
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
