//! Small dense f64 kernels on row-major host arrays, the building blocks of the per-layer
//! contractions: A Bᵀ, per-example segment sums, and per-example outer-product sums.
//!
//! Every output element is computed independently in a fixed order, so results do not depend on
//! the rayon thread count (same inputs → identical bits).

use rayon::prelude::*;

/// `A Bᵀ` for `A` `[ra, d]`, `B` `[rb, d]` → `[ra, rb]`.
pub fn a_bt(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let (ra, rb) = (a.len() / d.max(1), b.len() / d.max(1));
    let mut out = vec![0.0; ra * rb];
    if d == 0 {
        return out;
    }
    out.par_chunks_mut(rb.max(1)).zip(a.par_chunks(d)).for_each(|(row, x)| {
        for (o, y) in row.iter_mut().zip(b.chunks(d)) {
            *o = dot(x, y);
        }
    });
    out
}

/// ⟨x, y⟩ with four independent accumulators (vectorizes; fixed order).
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (p, q) in xc.zip(yc) {
        for k in 0..4 {
            acc[k] += p[k] * q[k];
        }
    }
    let tail: f64 = xr.iter().zip(yr).map(|(p, q)| p * q).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Row offsets of examples with `rows[i]` rows each: `[0, r₀, r₀+r₁, …]`.
pub fn offsets(rows: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(rows.len() + 1);
    let mut at = 0;
    out.push(0);
    for &r in rows {
        at += r;
        out.push(at);
    }
    out
}

/// Per-example sums of `[R, d]` rows grouped by `rows` → `[n, d]`.
pub fn segment_rows(values: &[f64], rows: &[usize], d: usize) -> Vec<f64> {
    let off = offsets(rows);
    let mut out = vec![0.0; rows.len() * d];
    for (i, w) in off.windows(2).enumerate() {
        let sum = &mut out[i * d..(i + 1) * d];
        for r in w[0]..w[1] {
            for (s, v) in sum.iter_mut().zip(&values[r * d..(r + 1) * d]) {
                *s += v;
            }
        }
    }
    out
}

/// Block sums of an `[R₁, R₂]` matrix over the example segments `rows1` × `rows2` → `[n₁, n₂]`.
pub fn segment_block_sums(matrix: &[f64], rows1: &[usize], rows2: &[usize]) -> Vec<f64> {
    let (off1, off2) = (offsets(rows1), offsets(rows2));
    let width = *off2.last().unwrap_or(&0);
    let mut out = vec![0.0; rows1.len() * rows2.len()];
    for (i, w1) in off1.windows(2).enumerate() {
        for (j, w2) in off2.windows(2).enumerate() {
            let mut s = 0.0;
            for r in w1[0]..w1[1] {
                s += matrix[r * width + w2[0]..r * width + w2[1]].iter().sum::<f64>();
            }
            out[i * rows2.len() + j] = s;
        }
    }
    out
}

/// Per-example Σₜ gₜ aₜᵀ, flattened `[n, d_out·d_in]`, from `a` `[R, d_in]` and `g` `[R, d_out]`.
pub fn outer_sums(a: &[f64], g: &[f64], rows: &[usize], d_in: usize, d_out: usize) -> Vec<f64> {
    let off = offsets(rows);
    let size = d_in * d_out;
    let mut out = vec![0.0; rows.len() * size];
    out.par_chunks_mut(size.max(1)).enumerate().for_each(|(i, j)| {
        // Output row by output row, so the row being accumulated stays in L1.
        for (o, row) in j.chunks_mut(d_in.max(1)).enumerate() {
            for r in off[i]..off[i + 1] {
                let go = g[r * d_out + o];
                for (w, &xv) in row.iter_mut().zip(&a[r * d_in..(r + 1) * d_in]) {
                    *w += go * xv;
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_hand_computation() {
        // A = [[1,2],[3,4]], B = [[5,6]] → A Bᵀ = [17, 39].
        assert_eq!(a_bt(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0], 2), vec![17.0, 39.0]);
        assert_eq!(segment_rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 1], 2), vec![4.0, 6.0, 5.0, 6.0]);
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [3, 2]
        assert_eq!(segment_block_sums(&m, &[1, 2], &[1, 1]), vec![1.0, 2.0, 8.0, 10.0]);
        // one example, rows a=[1,2], g=[3] and a=[0,1], g=[1] → [[3, 7]].
        assert_eq!(outer_sums(&[1.0, 2.0, 0.0, 1.0], &[3.0, 1.0], &[2], 2, 1), vec![3.0, 7.0]);
        let x: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(dot(&x, &x), (0..11).map(|v| f64::from(v * v)).sum::<f64>());
    }
}
