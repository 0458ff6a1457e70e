//! The primitives the Llama family adds to [`crate::ntk::fastfb::ops`]: RMSNorm, the SiLU gate
//! and the rotary embedding, forward and backward, as element-wise loops over row chunks with
//! rayon (never split over a reduction: results do not depend on the thread count).
//!
//! * RMSNorm (Hugging Face `LlamaRMSNorm`): r = 1/√(mean(x²) + ε), x̂ = x·r, y = γ ⊙ x̂;
//!   backward dx = r·(d − x̂·mean(d ⊙ x̂)) with d = dy ⊙ γ.
//! * SiLU gate: m = silu(a) ⊙ b with a = gate_proj(n), b = up_proj(n), silu(a) = a·σ(a);
//!   backward da = dm ⊙ b ⊙ σ(a)(1 + a(1 − σ(a))), db = dm ⊙ silu(a).
//! * RoPE (the `rotate_half` convention of [`crate::model::decoder::rope`]): per head, with the
//!   halves x₁, x₂ and the angle's cos c and sin s, y₁ = x₁c − x₂s, y₂ = x₂c + x₁s; the backward
//!   is the rotation by the opposite angle (sin negated), the transpose of an orthogonal map.

use rayon::prelude::*;

use crate::ntk::fastfb::ops::{dispatch, exp, norm_rows, norm_rows_backward, zeros, NormCache, ROWS_PER_TASK};

/// RMSNorm forward of `x` `[rows, d]`: returns y = γ ⊙ x̂ and the cache (x̂, r).
pub fn rms_forward(x: &[f32], gamma: &[f32], epsilon: f32) -> (Vec<f32>, NormCache) {
    let d = gamma.len();
    norm_rows(x, d, |xr, xh, yr| {
        let mean_square = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let r = 1.0 / (mean_square + epsilon).sqrt();
        for (((o, h), v), g) in yr.iter_mut().zip(xh.iter_mut()).zip(xr).zip(gamma) {
            *h = v * r;
            *o = *h * g;
        }
        r
    })
}

/// RMSNorm backward: `dx += r·(d − x̂·mean(d ⊙ x̂))`, d = dy ⊙ γ, for `dy` `[rows, d]`.
pub fn rms_backward_into(dx: &mut [f32], dy: &[f32], gamma: &[f32], cache: &NormCache) {
    let d = gamma.len();
    norm_rows_backward(dx, dy, d, cache, |dxr, dyr, xr, r| {
        let dot: f32 = dyr.iter().zip(xr).zip(gamma).map(|((g, x), o)| g * o * x).sum();
        let mean_dot = dot / d as f32;
        for (((out, g), x), o) in dxr.iter_mut().zip(dyr).zip(xr).zip(gamma) {
            *out += r * (g * o - x * mean_dot);
        }
    });
}

/// σ(x) = 1/(1 + e^{−x}).
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

dispatch! {
    /// One row of m = silu(a) ⊙ b.
    fn silu_gate_row / silu_gate_row_portable(m: &mut [f32], a: &[f32], b: &[f32]) {
        for ((m, &a), &b) in m.iter_mut().zip(a).zip(b) {
            *m = a * sigmoid(a) * b;
        }
    }
}

dispatch! {
    /// One row of the gradients da, db of m = silu(a) ⊙ b from dm = `g`.
    fn silu_gate_back_row / silu_gate_back_row_portable(
        da: &mut [f32],
        db: &mut [f32],
        a: &[f32],
        b: &[f32],
        g: &[f32],
    ) {
        for ((((da, db), &a), &b), &g) in da.iter_mut().zip(db.iter_mut()).zip(a).zip(b).zip(g) {
            let s = sigmoid(a);
            *da = g * b * (s * (1.0 + a * (1.0 - s)));
            *db = g * (a * s);
        }
    }
}

/// The gated activation m = silu(a) ⊙ b `[rows, I]` of the fused pre-activations
/// `gate_up` `[rows, 2I]` (a: columns 0..I, b: I..2I).
pub fn silu_gate_forward(gate_up: &[f32], inner: usize) -> Vec<f32> {
    let mut m = zeros(gate_up.len() / 2);
    m.par_chunks_mut(ROWS_PER_TASK * inner).zip(gate_up.par_chunks(ROWS_PER_TASK * 2 * inner)).for_each(|(mc, gc)| {
        for (mr, gr) in mc.chunks_mut(inner).zip(gc.chunks(2 * inner)) {
            let (a, b) = gr.split_at(inner);
            silu_gate_row(mr, a, b);
        }
    });
    m
}

/// The gradient `[rows, 2I]` of the fused pre-activations from dm `[rows, I]` (see the module
/// docs).
pub fn silu_gate_backward(dm: &[f32], gate_up: &[f32], inner: usize) -> Vec<f32> {
    let mut out = zeros(gate_up.len());
    let chunk = ROWS_PER_TASK * 2 * inner;
    out.par_chunks_mut(chunk).zip(gate_up.par_chunks(chunk)).zip(dm.par_chunks(ROWS_PER_TASK * inner)).for_each(
        |((oc, gc), dc)| {
            for ((or, gr), dr) in oc.chunks_mut(2 * inner).zip(gc.chunks(2 * inner)).zip(dc.chunks(inner)) {
                let (a, b) = gr.split_at(inner);
                let (da, db) = or.split_at_mut(inner);
                silu_gate_back_row(da, db, a, b, dr);
            }
        },
    );
    out
}

/// cos/sin rows of the rotary embedding, one `[d]` row per packed row.
#[derive(Debug, Clone)]
pub struct Rope {
    /// cos, `[R, d]`.
    pub cos: Vec<f32>,
    /// sin, `[R, d]`.
    pub sin: Vec<f32>,
    /// Head size d.
    pub head_dim: usize,
}

impl Rope {
    /// Rotate, in place, the first `heads` head vectors (`[d]` each, contiguous) of every row
    /// of `x` `[R, width]`; `inverse`: by the opposite angle (the backward).
    pub fn rotate(&self, x: &mut [f32], width: usize, heads: usize, inverse: bool) {
        let d = self.head_dim;
        let half = d / 2;
        let sign = if inverse { -1.0f32 } else { 1.0 };
        x.par_chunks_mut(ROWS_PER_TASK * width)
            .zip(self.cos.par_chunks(ROWS_PER_TASK * d))
            .zip(self.sin.par_chunks(ROWS_PER_TASK * d))
            .for_each(|((xc, cc), sc)| {
                for ((row, c), s) in xc.chunks_mut(width).zip(cc.chunks(d)).zip(sc.chunks(d)) {
                    for head in row[..heads * d].chunks_mut(d) {
                        let (x1, x2) = head.split_at_mut(half);
                        for i in 0..half {
                            let (a, b) = (x1[i], x2[i]);
                            let (s1, s2) = (sign * s[i], sign * s[half + i]);
                            x1[i] = a * c[i] - b * s1;
                            x2[i] = b * c[half + i] + a * s2;
                        }
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 37 + salt) % 101) as f32 / 40.0 - 1.2).collect()
    }

    /// Σ y ⊙ w in f64.
    fn dot(y: &[f32], w: &[f32]) -> f64 {
        y.iter().zip(w).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum()
    }

    /// Check `grad` (the backward of f(x) = Σ forward(x) ⊙ w) against central differences.
    fn check(what: &str, x: &[f32], w: &[f32], forward: &dyn Fn(&[f32]) -> Vec<f32>, grad: &[f32]) {
        for i in 0..x.len() {
            let f = |delta: f32| {
                let mut xp = x.to_vec();
                xp[i] += delta;
                dot(&forward(&xp), w)
            };
            let numeric = (f(1e-2) - f(-1e-2)) / 2e-2;
            assert!((numeric - f64::from(grad[i])).abs() < 3e-3, "{what} dx[{i}]: {numeric} vs {}", grad[i]);
        }
    }

    #[test]
    fn rms_norm_backward_matches_central_differences() {
        let (x, gamma, dy) = (values(12, 1), values(4, 2), values(12, 3));
        let (_, cache) = rms_forward(&x, &gamma, 1e-5);
        let mut dx = vec![0.5f32; 12];
        rms_backward_into(&mut dx, &dy, &gamma, &cache);
        let dx: Vec<f32> = dx.iter().map(|v| v - 0.5).collect();
        check("rms", &x, &dy, &|x| rms_forward(x, &gamma, 1e-5).0, &dx);
    }

    #[test]
    fn silu_gate_backward_matches_central_differences() {
        let (gu, dm) = (values(2 * 2 * 5, 4), values(2 * 5, 5));
        let m = silu_gate_forward(&gu, 5);
        let want: f32 = gu[0] / (1.0 + (-gu[0]).exp()) * gu[5];
        assert!((m[0] - want).abs() < 1e-6, "{} vs {want}", m[0]);
        check("silu gate", &gu, &dm, &|x| silu_gate_forward(x, 5), &silu_gate_backward(&dm, &gu, 5));
    }

    #[test]
    fn rope_inverse_is_the_transpose_and_keeps_norms() {
        let (d, width, rows) = (4, 12, 3);
        let (cos, sin) = crate::model::decoder::rope::rope_rows(&[0, 3, 7], d, 10_000.0);
        let rope = Rope { cos, sin, head_dim: d };
        let (x, dy) = (values(rows * width, 6), values(rows * width, 7));
        let forward = |x: &[f32]| {
            let mut y = x.to_vec();
            rope.rotate(&mut y, width, 2, false);
            y
        };
        let y = forward(&x);
        assert_eq!(&y[..d], &x[..d], "position 0 is the identity");
        assert_eq!(&y[2 * d..width], &x[2 * d..width], "columns after the rotated heads stay");
        let mut dx = dy.clone();
        rope.rotate(&mut dx, width, 2, true);
        // ⟨R x, dy⟩ = ⟨x, Rᵀ dy⟩.
        assert!((dot(&y, &dy) - dot(&x, &dx)).abs() < 1e-4);
        let mut back = y.clone();
        rope.rotate(&mut back, width, 2, true);
        assert!(back.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-5));
    }
    #[test]
    fn dispatched_silu_rows_equal_the_portable_build_bit_for_bit() {
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for len in [1, 9, 64, 1536] {
            let (a, b, g) = (values(len, 1), values(len, 2), values(len, 3));
            let a: Vec<f32> = a.iter().map(|v| v * 12.0).collect();
            let (mut m1, mut m2) = (vec![0.0; len], vec![0.0; len]);
            silu_gate_row(&mut m1, &a, &b);
            silu_gate_row_portable(&mut m2, &a, &b);
            assert_eq!(bits(&m1), bits(&m2), "forward, len {len}");
            let (mut da1, mut db1, mut da2, mut db2) = (vec![0.0; len], vec![0.0; len], vec![0.0; len], vec![0.0; len]);
            silu_gate_back_row(&mut da1, &mut db1, &a, &b, &g);
            silu_gate_back_row_portable(&mut da2, &mut db2, &a, &b, &g);
            assert_eq!((bits(&da1), bits(&db1)), (bits(&da2), bits(&db2)), "backward, len {len}");
        }
    }
}
