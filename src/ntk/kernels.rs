//! The Gram-assembly primitives of the per-layer eNTK (docs/science.md "The fast eNTK"), behind one
//! trait so that the contraction code runs unchanged on the CPU and on the GPU (the `gpu` module
//! implements it with the WGSL kernels of `kernels/`; `ntk` does not name it).
//!
//! * [`GramKernels::gemm_nt`] — C += X Yᵀ (the SYRK when X = Y): materialized per-example
//!   weight gradients J₁ J₂ᵀ.
//! * [`GramKernels::structured`] — the block-summed Hadamard product of two token Grams,
//!   Σₜₛ (a₁,ₜ·a₂,ₛ)(g₁,ₜ·g₂,ₛ): a Linear weight's term without forming its gradient.
//! * [`GramKernels::token_match`] — Σₜₛ [id₁,ₜ = id₂,ₛ] (g₁,ₜ·g₂,ₛ): an embedding table's term.
//! * [`GramKernels::outer_sums`] — per-example Σₜ gₜ aₜᵀ: materialized weight gradients.
//!
//! Conventions: inputs are f32 row-major host slices (signals are recorded in f32); Gram outputs
//! are f64 `[n₁, n₂]` row-major and *accumulated* (`+=`), so a caller can sum parameter groups and
//! tiles into one buffer. Examples are segments of rows: example i owns `rows[i]` consecutive
//! rows of a [`Segmented`] matrix.
//!
//! [`ReferenceKernels`] is the reference twin of every implementation: plain loops, f64
//! arithmetic throughout, obviously right and slow. Every faster implementation (CPU or GPU) is
//! tested against it.

use std::ops::Range;

use crate::error::{Error, Result};

/// A row-major f32 matrix `[Σ rows, width]` whose rows are grouped into examples.
#[derive(Debug, Clone, Copy)]
pub struct Segmented<'a> {
    /// Row-major values, `rows.iter().sum() * width` of them.
    pub values: &'a [f32],
    /// Columns per row.
    pub width: usize,
    /// Rows per example.
    pub rows: &'a [usize],
}

impl<'a> Segmented<'a> {
    /// View `values` as `[Σ rows, width]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the length is not `Σ rows · width`.
    pub fn new(values: &'a [f32], width: usize, rows: &'a [usize]) -> Result<Self> {
        let total: usize = rows.iter().sum();
        if values.len() != total * width {
            return Err(Error::invalid(
                "segmented matrix",
                format!("{} values for {total} rows of width {width}", values.len()),
            ));
        }
        Ok(Self { values, width, rows })
    }

    /// Number of examples.
    pub fn examples(&self) -> usize {
        self.rows.len()
    }

    /// Total number of rows.
    pub fn total_rows(&self) -> usize {
        self.rows.iter().sum()
    }

    /// Row `r` (global index).
    pub fn row(&self, r: usize) -> &'a [f32] {
        &self.values[r * self.width..(r + 1) * self.width]
    }

    /// The global row range of example `i`.
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start: usize = self.rows[..i].iter().sum();
        start..start + self.rows[i]
    }
}

/// The Gram-assembly primitives. Implementations must agree with [`ReferenceKernels`] to f32
/// rounding (relative 1e-5 of the output's mean magnitude).
pub trait GramKernels: Send + Sync {
    /// A short description for logs and `meta.json` (e.g. `cpu-reference`, `wgpu: <adapter>`).
    fn name(&self) -> String;

    /// `out[i·n₂ + j] += Σₖ x[i, k]·y[j, k]` for `x` `[n₁, k]`, `y` `[n₂, k]`.
    ///
    /// # Errors
    /// Shape mismatches ([`Error::InvalidArgument`]); device failures ([`Error::Numerical`]).
    fn gemm_nt(&self, x: &[f32], y: &[f32], k: usize, out: &mut [f64]) -> Result<()>;

    /// `out[i·n₂ + j] += Σ_{t ∈ i} Σ_{s ∈ j} (a₁,ₜ·a₂,ₛ)(g₁,ₜ·g₂,ₛ)` — equal to
    /// ⟨Σₜ g₁,ₜ a₁,ₜᵀ, Σₛ g₂,ₛ a₂,ₛᵀ⟩_F, a Linear weight's Gram term. `a1`/`g1` (and `a2`/`g2`)
    /// must share their segments.
    ///
    /// # Errors
    /// As [`GramKernels::gemm_nt`].
    fn structured(&self, a1: Segmented, g1: Segmented, a2: Segmented, g2: Segmented, out: &mut [f64]) -> Result<()>;

    /// `out[i·n₂ + j] += Σ_{t ∈ i} Σ_{s ∈ j} [ids1[t] = ids2[s]] (g₁,ₜ·g₂,ₛ)` — an embedding
    /// table's Gram term (one id per row of `g1`/`g2`).
    ///
    /// # Errors
    /// As [`GramKernels::gemm_nt`].
    fn token_match(&self, ids1: &[u32], g1: Segmented, ids2: &[u32], g2: Segmented, out: &mut [f64]) -> Result<()>;

    /// Per-example Σₜ gₜ aₜᵀ, row-major `[n, d_out·d_in]` (element `(o, c)` of example i at
    /// `i·d_out·d_in + o·d_in + c`), for `a` `[R, d_in]` and `g` `[R, d_out]` with shared segments.
    ///
    /// # Errors
    /// As [`GramKernels::gemm_nt`].
    fn outer_sums(&self, a: Segmented, g: Segmented) -> Result<Vec<f32>>;

    /// Features per example in one chunk of materialized weight gradients, when the memory
    /// budget allows ([`crate::ntk::contract`]): cache-sized for the CPU, as large as the budget
    /// allows (`usize::MAX`, the default) where each call costs a launch and a transfer.
    fn chunk_features(&self) -> usize {
        usize::MAX
    }

    /// The output channels `channels` of [`GramKernels::outer_sums`], written (overwritten) into
    /// `out` `[n, |channels|·d_in]` (element `(o, c)` of example i at `i·|channels|·d_in +
    /// (o − channels.start)·d_in + c`): one chunk of every example's gradient without copying
    /// the gradients' columns or allocating the result. The default gathers the columns and
    /// calls [`GramKernels::outer_sums`].
    ///
    /// # Errors
    /// As [`GramKernels::gemm_nt`]; `channels` outside `0..g.width` or a wrong `out` length.
    fn outer_sums_into(&self, a: Segmented, g: Segmented, channels: Range<usize>, out: &mut [f32]) -> Result<()> {
        check_channels(&a, &g, &channels, out.len())?;
        let columns: Vec<f32> =
            g.values.chunks(g.width.max(1)).flat_map(|row| row[channels.clone()].to_vec()).collect();
        let values = self.outer_sums(a, Segmented::new(&columns, channels.len(), g.rows)?)?;
        out.copy_from_slice(&values);
        Ok(())
    }
}

/// Check the channel range and output length of [`GramKernels::outer_sums_into`].
///
/// # Errors
/// [`Error::InvalidArgument`] when `channels` is not inside `0..g.width` or `out_len` is not
/// `n·|channels|·d_in`; as [`check_same_segments`].
pub fn check_channels(a: &Segmented, g: &Segmented, channels: &Range<usize>, out_len: usize) -> Result<()> {
    check_same_segments(a, g)?;
    if channels.start > channels.end || channels.end > g.width {
        return Err(Error::invalid("outer_sums", format!("channels {channels:?} outside 0..{}", g.width)));
    }
    let want = a.examples() * channels.len() * a.width;
    if out_len != want {
        return Err(Error::invalid("outer_sums", format!("{out_len} output values, {want} expected")));
    }
    Ok(())
}

/// Check that `out` holds `n1 · n2` values.
///
/// # Errors
/// [`Error::InvalidArgument`] otherwise.
pub fn check_out(out: &[f64], n1: usize, n2: usize) -> Result<()> {
    if out.len() != n1 * n2 {
        return Err(Error::invalid("Gram tile", format!("{} values for a [{n1}, {n2}] tile", out.len())));
    }
    Ok(())
}

/// Check that two segmented matrices describe the same examples.
///
/// # Errors
/// [`Error::InvalidArgument`] otherwise.
pub fn check_same_segments(a: &Segmented, g: &Segmented) -> Result<()> {
    if a.rows != g.rows {
        return Err(Error::internal("segmented matrices", "activation and gradient rows differ".to_string()));
    }
    Ok(())
}

fn dot64(x: &[f32], y: &[f32]) -> f64 {
    x.iter().zip(y).map(|(&p, &q)| f64::from(p) * f64::from(q)).sum()
}

/// The reference twin: plain loops, f64 arithmetic, no parallelism.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceKernels;

impl GramKernels for ReferenceKernels {
    fn name(&self) -> String {
        "cpu-reference".into()
    }

    fn gemm_nt(&self, x: &[f32], y: &[f32], k: usize, out: &mut [f64]) -> Result<()> {
        if k == 0 || !x.len().is_multiple_of(k) || !y.len().is_multiple_of(k) {
            return Err(Error::invalid(
                "gemm_nt",
                format!("inner size {k} does not divide {} and {}", x.len(), y.len()),
            ));
        }
        let (n1, n2) = (x.len() / k, y.len() / k);
        check_out(out, n1, n2)?;
        for i in 0..n1 {
            for j in 0..n2 {
                out[i * n2 + j] += dot64(&x[i * k..(i + 1) * k], &y[j * k..(j + 1) * k]);
            }
        }
        Ok(())
    }

    fn structured(&self, a1: Segmented, g1: Segmented, a2: Segmented, g2: Segmented, out: &mut [f64]) -> Result<()> {
        check_same_segments(&a1, &g1)?;
        check_same_segments(&a2, &g2)?;
        let (n1, n2) = (a1.examples(), a2.examples());
        check_out(out, n1, n2)?;
        for i in 0..n1 {
            for j in 0..n2 {
                let mut s = 0.0;
                for t in a1.range(i) {
                    for u in a2.range(j) {
                        s += dot64(a1.row(t), a2.row(u)) * dot64(g1.row(t), g2.row(u));
                    }
                }
                out[i * n2 + j] += s;
            }
        }
        Ok(())
    }

    fn token_match(&self, ids1: &[u32], g1: Segmented, ids2: &[u32], g2: Segmented, out: &mut [f64]) -> Result<()> {
        if ids1.len() != g1.total_rows() || ids2.len() != g2.total_rows() {
            return Err(Error::internal("token_match", "one id per gradient row expected".to_string()));
        }
        let (n1, n2) = (g1.examples(), g2.examples());
        check_out(out, n1, n2)?;
        for i in 0..n1 {
            for j in 0..n2 {
                let mut s = 0.0;
                for t in g1.range(i) {
                    for u in g2.range(j) {
                        if ids1[t] == ids2[u] {
                            s += dot64(g1.row(t), g2.row(u));
                        }
                    }
                }
                out[i * n2 + j] += s;
            }
        }
        Ok(())
    }

    fn outer_sums(&self, a: Segmented, g: Segmented) -> Result<Vec<f32>> {
        check_same_segments(&a, &g)?;
        let (d_in, d_out) = (a.width, g.width);
        let mut out = vec![0.0f32; a.examples() * d_in * d_out];
        for i in 0..a.examples() {
            let j = &mut out[i * d_in * d_out..(i + 1) * d_in * d_out];
            for o in 0..d_out {
                for c in 0..d_in {
                    let s: f64 = a.range(i).map(|t| f64::from(g.row(t)[o]) * f64::from(a.row(t)[c])).sum();
                    j[o * d_in + c] = s as f32;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_kernels_match_hand_computation() {
        let k = ReferenceKernels;
        // X = [[1,2],[3,4]], Y = [[5,6]] → X Yᵀ = [17, 39], accumulated onto [1, 1].
        let mut out = vec![1.0, 1.0];
        k.gemm_nt(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0], 2, &mut out).unwrap();
        assert_eq!(out, vec![18.0, 40.0]);
        // One example, rows a = [1,2], g = [3] and a = [0,1], g = [1] → J = [[3, 7]].
        let rows = [2usize];
        let a = Segmented::new(&[1.0, 2.0, 0.0, 1.0], 2, &rows).unwrap();
        let g = Segmented::new(&[3.0, 1.0], 1, &rows).unwrap();
        assert_eq!(k.outer_sums(a, g).unwrap(), vec![3.0, 7.0]);
        // structured(J, J) = ‖J‖² = 9 + 49.
        let mut s = vec![0.0];
        k.structured(a, g, a, g, &mut s).unwrap();
        assert!((s[0] - 58.0).abs() < 1e-12, "{s:?}");
        // ids [4, 4]: every pair of rows matches → (g₁ + g₂)² = 16; ids [4, 5]: 9 + 1.
        let mut m = vec![0.0];
        k.token_match(&[4, 4], g, &[4, 4], g, &mut m).unwrap();
        assert_eq!(m, vec![16.0]);
        let mut m = vec![0.0];
        k.token_match(&[4, 5], g, &[4, 5], g, &mut m).unwrap();
        assert_eq!(m, vec![10.0]);
    }

    #[test]
    fn shapes_are_checked() {
        let k = ReferenceKernels;
        assert!(k.gemm_nt(&[1.0, 2.0, 3.0], &[1.0, 2.0], 2, &mut [0.0]).is_err());
        assert!(k.gemm_nt(&[1.0, 2.0], &[1.0, 2.0], 2, &mut [0.0, 0.0]).is_err());
        assert!(Segmented::new(&[1.0, 2.0, 3.0], 2, &[1]).is_err());
    }
}
