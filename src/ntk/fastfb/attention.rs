//! Multi-head self-attention of one block, example by example (rayon across examples, the
//! heads of one example in sequence, small single-threaded faer GEMMs), for the encoder
//! (bidirectional, as many key/value heads as query heads) and the Llama-family decoders
//! (causal, grouped-query: query head a reads key/value head ⌊a / (heads/kv_heads)⌋).
//!
//! Each example attends over its own real tokens only: the packed rows hold no padding, so no
//! additive mask is needed (burn's mask of −1e9 makes e^{score} exactly 0 in f32, so the
//! padded keys contribute nothing there either); a causal row t sees keys 0..=t, the later
//! probabilities being exactly 0 ([`softmax_rows_causal_from`]). Causal products run by tiles
//! of [`CAUSAL_TILE`] query rows (and, for dV and dK, key columns) that skip the blocks above
//! the diagonal, about half the work at long lengths.
//!
//! Forward, per query head a with key/value head g (d the head size, s = 1/√d):
//! S = s·Q_a K_gᵀ, P = softmax_rows(S), C_a = P V_g. Backward from dC: dP = dC_a V_gᵀ,
//! dV_g += Pᵀ dC_a, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ_a = s·dS K_g, dK_g += s·dSᵀ Q_a (the
//! heads of a group accumulate into their key/value head in head order).
//! Q, K, V live in the fused `[R, (heads + 2·kv_heads)·d]` projection (queries, then keys,
//! then values).

use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::ntk::fastfb::ops::{gemm_scaled, softmax_rows, softmax_rows_causal_from, view, view_mut, zeros};

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
    gemm_scaled(out, a, b, alpha, accumulate, Par::Seq);
}

/// Query rows per tile of causal attention: the rows r0..r1 of a tile see keys 0..r1 only, so
/// the products skip the blocks above the diagonal — about half the work at long lengths
/// (Σ over tiles of r1 ≈ len²/2 + len·64/2 keys instead of len²).
pub const CAUSAL_TILE: usize = 64;

/// The query-row tiles (r0, r1) of one example of `len` tokens: one tile for bidirectional
/// attention, [`CAUSAL_TILE`] rows each for causal. A tile's rows read keys 0..r1 either way
/// (for the one bidirectional tile, r1 = len).
fn row_tiles(len: usize, causal: bool) -> impl Iterator<Item = (usize, usize)> {
    let step = if causal { CAUSAL_TILE } else { len.max(1) };
    (0..len).step_by(step).map(move |r0| (r0, (r0 + step).min(len)))
}

/// Keys the products read for `len` tokens, summed over the query rows: len² for
/// bidirectional attention, Σ over tiles of (r1 − r0)·r1 for causal (FLOPs of QKᵀ or PV are
/// 2·d times this, per head).
pub fn attended_pairs(len: usize, causal: bool) -> usize {
    row_tiles(len, causal).map(|(r0, r1)| (r1 - r0) * r1).sum()
}

/// Forward: from the fused projection `qkv` `[R, (heads + 2·kv_heads)·d]` (rows packed by
/// `offsets`), the attention probabilities per example (`[heads, len, len]`; causal ones exactly
/// 0 above the diagonal) and the context `[R, heads·d]`.
pub fn forward(qkv: &[f32], offsets: &[usize], geometry: Heads) -> (Vec<Vec<f32>>, Vec<f32>) {
    let (width, cw, d) = (geometry.fused_width(), geometry.query_width(), geometry.head_dim);
    let rows = *offsets.last().unwrap_or(&0);
    let mut context = zeros(rows * cw);
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
                for (r0, r1) in row_tiles(len, geometry.causal) {
                    let (m, keys) = (r1 - r0, r1);
                    let q = view(&x[qc + r0 * width..], m, d, width);
                    let k = view(&x[kc..], keys, d, width);
                    let v = view(&x[vc..], keys, d, width);
                    let tile = &mut s[r0 * len..r1 * len];
                    product(view_mut(tile, m, keys, len), q, k.transpose(), geometry.scale(), false);
                    if geometry.causal {
                        softmax_rows_causal_from(tile, len, r0);
                    } else {
                        softmax_rows(tile, len.max(1));
                    }
                    let out = view_mut(&mut ctx[r0 * cw + a * d..], m, d, cw);
                    product(out, view(tile, m, keys, len), v, 1.0, false);
                }
            }
            p
        })
        .collect();
    (probs, context)
}

/// The context alone `[R, heads·d]` of causal grouped-query attention (inference: no
/// probabilities are kept, one scratch tile per example), each example's rows also attending to
/// `past`: the keys and values of P earlier positions every example shares (a cached prompt
/// prefix), `[P, 2·kv_heads·d]` rows of keys then values. Row t of an example sees all P past
/// positions and its own rows 0..=t; without `past` this is [`forward`]'s context for
/// `geometry.causal`.
pub fn causal_context(qkv: &[f32], offsets: &[usize], geometry: Heads, past: Option<&[f32]>) -> Vec<f32> {
    let (width, cw, d) = (geometry.fused_width(), geometry.query_width(), geometry.head_dim);
    let kvw = 2 * geometry.kv_heads * d;
    let past = past.unwrap_or(&[]);
    let p = past.len() / kvw;
    let rows = *offsets.last().unwrap_or(&0);
    let mut context = zeros(rows * cw);
    let chunks = split_rows_mut(&mut context, offsets, cw);
    chunks.into_par_iter().zip(offsets.par_windows(2)).for_each(|(ctx, w)| {
        let len = w[1] - w[0];
        let x = &qkv[w[0] * width..w[1] * width];
        let mut s = vec![0.0f32; CAUSAL_TILE.min(len) * (p + len)];
        for a in 0..geometry.heads {
            let (qc, kc, vc) = geometry.columns(a);
            let g = a / (geometry.heads / geometry.kv_heads);
            let past_kv = (p > 0)
                .then(|| (view(&past[g * d..], p, d, kvw), view(&past[(geometry.kv_heads + g) * d..], p, d, kvw)));
            for (r0, r1) in row_tiles(len, true) {
                let (m, cols) = (r1 - r0, p + r1);
                let q = view(&x[qc + r0 * width..], m, d, width);
                let tile = &mut s[..m * cols];
                if let Some((past_k, _)) = past_kv {
                    product(view_mut(tile, m, p, cols), q, past_k.transpose(), geometry.scale(), false);
                }
                let k = view(&x[kc..], r1, d, width);
                product(view_mut(&mut tile[p..], m, r1, cols), q, k.transpose(), geometry.scale(), false);
                softmax_rows_causal_from(tile, cols, p + r0);
                let out = &mut ctx[r0 * cw + a * d..];
                if let Some((_, past_v)) = past_kv {
                    product(view_mut(out, m, d, cw), view(tile, m, p, cols), past_v, 1.0, false);
                }
                let v = view(&x[vc..], r1, d, width);
                product(view_mut(out, m, d, cw), view(&tile[p..], m, r1, cols), v, 1.0, p > 0);
            }
        }
    });
    context
}

/// Backward: the gradient of the fused projection `[R, (heads + 2·kv_heads)·d]` from the
/// context gradient `dcontext` `[R, heads·d]`, the forward's `qkv` and probabilities.
pub fn backward(dcontext: &[f32], qkv: &[f32], probs: &[Vec<f32>], offsets: &[usize], geometry: Heads) -> Vec<f32> {
    let (width, cw) = (geometry.fused_width(), geometry.query_width());
    let rows = *offsets.last().unwrap_or(&0);
    let mut dqkv = zeros(rows * width);
    let chunks = split_rows_mut(&mut dqkv, offsets, width);
    chunks.into_par_iter().zip(offsets.par_windows(2)).zip(probs.par_iter()).for_each(|((dx, w), p)| {
        let len = w[1] - w[0];
        let x = &qkv[w[0] * width..w[1] * width];
        let dc = &dcontext[w[0] * cw..w[1] * cw];
        let mut dp = vec![0.0f32; len * len];
        for a in 0..geometry.heads {
            let pa = &p[a * len * len..(a + 1) * len * len];
            let example = Example { x, dc, pa, len, geometry };
            if geometry.causal {
                example.causal_head_backward(a, dx, &mut dp);
            } else {
                example.head_backward(a, dx, &mut dp);
            }
        }
    });
    dqkv
}

/// One example's operands of the backward, for one head.
struct Example<'a> {
    /// Its rows of the fused projection.
    x: &'a [f32],
    /// Its rows of the context gradient.
    dc: &'a [f32],
    /// The head's probabilities `[len, len]`.
    pa: &'a [f32],
    len: usize,
    geometry: Heads,
}

impl Example<'_> {
    /// Query head `a`'s backward over all len × len pairs, into the example's rows `dx` of the
    /// fused gradient (its key/value head's accumulated after the group's first head).
    fn head_backward(&self, a: usize, dx: &mut [f32], dp: &mut [f32]) {
        let (g, len) = (self.geometry, self.len);
        let (width, cw, d) = (g.fused_width(), g.query_width(), g.head_dim);
        let (qc, kc, vc) = g.columns(a);
        let accumulate = !g.first_of_group(a);
        let dca = view(&self.dc[a * d..], len, d, cw);
        let (q, k, v) = (
            view(&self.x[qc..], len, d, width),
            view(&self.x[kc..], len, d, width),
            view(&self.x[vc..], len, d, width),
        );
        let pa = view(self.pa, len, len, len);
        product(view_mut(&mut dx[vc..], len, d, width), pa.transpose(), dca, 1.0, accumulate);
        product(view_mut(dp, len, len, len), dca, v.transpose(), 1.0, false);
        softmax_backward(dp, self.pa, (len, len, len));
        product(view_mut(&mut dx[qc..], len, d, width), view(dp, len, len, len), k, g.scale(), false);
        product(view_mut(&mut dx[kc..], len, d, width), view(dp, len, len, len).transpose(), q, g.scale(), accumulate);
    }

    /// [`Self::head_backward`] for causal attention, skipping the blocks above the diagonal
    /// (where P and dS are exactly 0): dP, dS and dQ by query-row tile (rows r0..r1 against
    /// keys 0..r1), dV and dK by key tile (keys c0..c1 from query rows c0..len). The two tile
    /// grids are the same, so every entry of dS a key tile reads was formed by its row tile.
    fn causal_head_backward(&self, a: usize, dx: &mut [f32], dp: &mut [f32]) {
        let (g, len) = (self.geometry, self.len);
        let (width, cw, d) = (g.fused_width(), g.query_width(), g.head_dim);
        let (qc, kc, vc) = g.columns(a);
        let accumulate = !g.first_of_group(a);
        for (r0, r1) in row_tiles(len, true) {
            let m = r1 - r0;
            let dca = view(&self.dc[r0 * cw + a * d..], m, d, cw);
            let v = view(&self.x[vc..], r1, d, width);
            let tile = &mut dp[r0 * len..r1 * len];
            product(view_mut(tile, m, r1, len), dca, v.transpose(), 1.0, false);
            softmax_backward(tile, &self.pa[r0 * len..r1 * len], (m, r1, len));
            let k = view(&self.x[kc..], r1, d, width);
            let dq = view_mut(&mut dx[r0 * width + qc..], m, d, width);
            product(dq, view(tile, m, r1, len), k, g.scale(), false);
        }
        // Columns c0..c1 of rows c0..len of a [len, len] matrix, transposed.
        fn below(m: &[f32], (c0, c1): (usize, usize), len: usize) -> MatRef<'_, f32> {
            view(&m[c0 * len + c0..], len - c0, c1 - c0, len).transpose()
        }
        for (c0, c1) in row_tiles(len, true) {
            let (rows, keys) = (len - c0, c1 - c0);
            let dca = view(&self.dc[c0 * cw + a * d..], rows, d, cw);
            let q = view(&self.x[c0 * width + qc..], rows, d, width);
            let dv = view_mut(&mut dx[c0 * width + vc..], keys, d, width);
            product(dv, below(self.pa, (c0, c1), len), dca, 1.0, accumulate);
            let dk = view_mut(&mut dx[c0 * width + kc..], keys, d, width);
            product(dk, below(dp, (c0, c1), len), q, g.scale(), accumulate);
        }
    }
}

/// dS = P ⊙ (dP − rowsum(dP ⊙ P)), in place on `dp`, over `rows` rows of `cols` columns with
/// row stride `stride` (`p` laid out alike; the columns past `cols` are not read: P is 0 there).
fn softmax_backward(dp: &mut [f32], p: &[f32], (rows, cols, stride): (usize, usize, usize)) {
    if cols == 0 {
        return;
    }
    for (dr, pr) in dp.chunks_mut(stride).zip(p.chunks(stride)).take(rows) {
        let (dr, pr) = (&mut dr[..cols], &pr[..cols]);
        let dot: f32 = dr.iter().zip(pr).map(|(a, b)| a * b).sum();
        dr.iter_mut().zip(pr).for_each(|(g, p)| *g = p * (*g - dot));
    }
}
