//! [`CpuKernels`]: the fast CPU implementation of [`GramKernels`] — f32 GEMMs from faer's
//! `matmul` (runtime-dispatched microkernels, AVX-512 where the CPU has it), rayon across
//! examples, example pairs and inner chunks, every Gram value accumulated in f64. Two shapes
//! go to the hand-written kernels of [`ntkgap_simd`] where the CPU has AVX-512F or AVX2 + FMA
//! (faer elsewhere, or with `NTKGAP_SIMD=off`): the per-example gradient chunks of
//! [`GramKernels::outer_sums_into`] and the Gram tiles of at most [`SMALL_TILE`] examples.
//!
//! Accuracy ([`Products`]): by default each GEMM runs over at most [`F32_CHUNK`] inner elements
//! in f32 and its result is added into the f64 output, so the f32 error does not grow with the
//! parameter count (relative error ≈ 1e-7 per entry). That is far below anything a Gram *value*
//! is used for, but not below the cancellation in K₊₊ + K₋₋ − 2K₊₋ for near-identical inputs
//! (δ = 1 − ρ ≈ 1e-8 on Corr2Cause near misses): such a K can miss positive semi-definiteness by
//! more than δ. [`Products::F64`] converts the f32 signals to f64 before every product, so K is
//! the Gram of the f32 per-example gradients up to f64 rounding — exactly PSD for any use here —
//! at about half the speed. The Theorem 1 checks use it.
//!
//! Determinism: for the same shapes, each call gives the same bits whatever the thread count
//! (tested below): a product is split over its [`F32_CHUNK`] inner chunks — each chunk one
//! single-threaded GEMM into its own buffer, the buffers added into the f64 output in chunk
//! order — or, when it has one chunk, over output tiles; each per-example outer sum is one
//! single-threaded GEMM; each pair is reduced in a fixed order. Different *shapes* may round
//! differently (the GEMM picks kernels and blockings by size), which is why
//! [`crate::ntk::tiles`] calls kernels on a canonical tile grid.
//!
//! faer's matmul was chosen over the `gemm` crate (burn's flex backend's) by a measurement on the
//! shapes the engine issues (docs/ntk.md "The signal path").

use std::ops::Range;

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ntk::kernels::{check_channels, check_out, check_same_segments, GramKernels, Segmented};

/// Inner length of one f32 GEMM before its result is added into the f64 output.
pub const F32_CHUNK: usize = 8192;

/// Features per example in one chunk of materialized weight gradients
/// ([`GramKernels::chunk_features`]): 64 Ki values, 256 KB, are formed in the L2 cache, and at
/// N = 32 the chunk of all examples (8 MB) is still in the L3 cache when its Gram tiles are taken.
pub const CHUNK_FEATURES: usize = 1 << 16;

/// Inner chunks of one product computed at once before they are added into the output.
const WAVE: usize = 16;

/// Rows per sub-block of the symmetric (X = Y) product: only sub-blocks on or above the
/// diagonal are computed, the others mirrored.
const SYRK_BLOCK: usize = 128;

/// Largest Gram tile (rows and columns) given to [`ntkgap_simd::nt`] rather than faer: few
/// examples against a long inner chunk, where faer's packing and its triangle cost as much as
/// the multiply-adds (docs/ntk.md "Parts of a block and the hand-written contraction kernels").
const SMALL_TILE: usize = 64;

/// Id-space chunk of the dense token-match path, in bytes of dense operand.
const DENSE_TOKEN_BYTES: usize = 32 << 20;

/// Element type of the products of [`CpuKernels`] (the output is f64 either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum Products {
    /// f32 GEMMs over inner chunks of [`F32_CHUNK`], each added into f64 (default; fastest).
    #[default]
    F32,
    /// f64 GEMMs on the f32 signals converted to f64: K exactly PSD up to f64 rounding; ≈ 2×
    /// slower and twice the scratch memory.
    F64,
}

/// The fast CPU kernels (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuKernels {
    /// The element type of the products.
    pub products: Products,
}

impl CpuKernels {
    /// f32 products, f64 accumulation (the default).
    pub const F32: Self = Self { products: Products::F32 };
    /// f64 products.
    pub const F64: Self = Self { products: Products::F64 };
}

/// `out[m, n] = x[m, k] · y[n, k]ᵀ` (overwritten); `x`, `y` row-major with leading
/// dimensions `ldx`, `ldy`.
fn gemm_nt_into<T: faer::traits::ComplexField>(
    x: &[T],
    ldx: usize,
    y: &[T],
    ldy: usize,
    (m, n, k): (usize, usize, usize),
    out: &mut [T],
    par: Par,
) {
    if m == 0 || n == 0 {
        return;
    }
    let xm = MatRef::from_row_major_slice_with_stride(&x[..(m - 1) * ldx + k], m, k, ldx);
    let ym = MatRef::from_row_major_slice_with_stride(&y[..(n - 1) * ldy + k], n, k, ldy);
    let dst = MatMut::from_row_major_slice_mut(&mut out[..m * n], m, n);
    matmul(dst, Accum::Replace, xm, ym.transpose(), T::one_impl(), par);
}

/// `out[n, n] = x[n, k] · x[n, k]ᵀ` on and below the diagonal only (overwritten there; the
/// entries above it are left as they are): about half the multiply-adds of the full product.
fn syrk_lower_into<T: faer::traits::ComplexField>(
    x: &[T],
    ldx: usize,
    (n, k): (usize, usize),
    out: &mut [T],
    par: Par,
) {
    if n == 0 {
        return;
    }
    let xm = MatRef::from_row_major_slice_with_stride(&x[..(n - 1) * ldx + k], n, k, ldx);
    let dst = MatMut::from_row_major_slice_mut(&mut out[..n * n], n, n);
    let full = BlockStructure::Rectangular;
    triangular::matmul(
        dst,
        BlockStructure::TriangularLower,
        Accum::Replace,
        xm,
        full,
        xm.transpose(),
        full,
        T::one_impl(),
        par,
    );
}

/// `out[m, n] = x[m, k] · y[n, k]ᵀ` in f32 (overwritten).
fn sgemm_nt(x: &[f32], ldx: usize, y: &[f32], ldy: usize, dims: (usize, usize, usize), out: &mut [f32], par: Par) {
    gemm_nt_into(x, ldx, y, ldy, dims, out, par);
}

/// Rows `[.., start..start + kc]` of a row-major f32 matrix with leading dimension `ld`, as a
/// contiguous f64 `[m, kc]`.
fn widen(x: &[f32], ld: usize, m: usize, (start, kc): (usize, usize)) -> Vec<f64> {
    (0..m).flat_map(|r| x[r * ld + start..r * ld + start + kc].iter().map(|&v| f64::from(v))).collect()
}

/// Add a row-major `[m, n]` buffer into `out` (leading dimension `ldo`).
fn add_into<T: Copy + Into<f64>>(buf: &[T], n: usize, out: &mut [f64], ldo: usize) {
    for (row, chunk) in buf.chunks(n).enumerate() {
        for (o, &v) in out[row * ldo..row * ldo + n].iter_mut().zip(chunk) {
            *o += v.into();
        }
    }
}

/// `out[m, n] += x yᵀ`, by [`Products`]: f32 chunks of [`F32_CHUNK`] added into f64, or f64
/// products of the widened chunks. `lower` (for `x = y`, `m = n`): only the entries on and
/// below the diagonal are computed and added (a diagonal SYRK block).
///
/// Parallel over the inner chunks (each a single-threaded product into its own buffer, the
/// buffers added into `out` in chunk order, [`WAVE`] at a time), or inside the product when
/// there is one chunk: either way the bits depend on the shapes only, never on the thread
/// count. (Split over the inner chunks, a Gram tile with few rows — N = 32 examples against
/// k = 10⁵ features — keeps both cores busy without a barrier per chunk.)
fn gemm_nt_f64(
    products: Products,
    (x, ldx): (&[f32], usize),
    (y, ldy): (&[f32], usize),
    (m, n, k): (usize, usize, usize),
    (out, ldo): (&mut [f64], usize),
    lower: bool,
) {
    let starts: Vec<usize> = (0..k).step_by(F32_CHUNK).collect();
    let inner = if starts.len() == 1 { Par::rayon(0) } else { Par::Seq };
    for wave in starts.chunks(WAVE) {
        match products {
            Products::F32 => {
                let parts: Vec<Vec<f32>> = wave
                    .par_iter()
                    .map(|&start| {
                        let mut buf = vec![0.0f32; m * n];
                        let kc = F32_CHUNK.min(k - start);
                        // Few examples: the hand-written kernel where the CPU runs it (with
                        // `lower`, the tiles above the diagonal stay zero as faer leaves them).
                        let few = m <= SMALL_TILE && n <= SMALL_TILE;
                        let done =
                            few && ntkgap_simd::nt(&x[start..], ldx, &y[start..], ldy, (m, n, kc), &mut buf, n, lower);
                        if !done {
                            if lower {
                                syrk_lower_into(&x[start..], ldx, (m, kc), &mut buf, inner);
                            } else {
                                sgemm_nt(&x[start..], ldx, &y[start..], ldy, (m, n, kc), &mut buf, inner);
                            }
                        }
                        buf
                    })
                    .collect();
                parts.iter().for_each(|p| add_into(p, n, out, ldo));
            }
            Products::F64 => {
                let parts: Vec<Vec<f64>> = wave
                    .par_iter()
                    .map(|&start| {
                        let mut buf = vec![0.0f64; m * n];
                        let kc = F32_CHUNK.min(k - start);
                        let xw = widen(x, ldx, m, (start, kc));
                        if lower {
                            syrk_lower_into(&xw, kc, (m, kc), &mut buf, inner);
                        } else {
                            let yw = widen(y, ldy, n, (start, kc));
                            gemm_nt_into(&xw, kc, &yw, kc, (m, n, kc), &mut buf, inner);
                        }
                        buf
                    })
                    .collect();
                parts.iter().for_each(|p| add_into(p, n, out, ldo));
            }
        }
    }
}

/// `out[n, n] += x xᵀ`: sub-blocks on or above the diagonal (of the diagonal sub-blocks only the
/// lower triangle), mirrored (exactly symmetric).
fn syrk_f64(products: Products, x: &[f32], k: usize, n: usize, out: &mut [f64]) {
    let starts: Vec<usize> = (0..n).step_by(SYRK_BLOCK).collect();
    for (bi, &i0) in starts.iter().enumerate() {
        for &j0 in &starts[bi..] {
            let (mi, mj) = (SYRK_BLOCK.min(n - i0), SYRK_BLOCK.min(n - j0));
            let mut tile = vec![0.0f64; mi * mj];
            let diagonal = i0 == j0;
            gemm_nt_f64(products, (&x[i0 * k..], k), (&x[j0 * k..], k), (mi, mj, k), (&mut tile, mj), diagonal);
            for a in 0..mi {
                for b in 0..mj {
                    let (r, c) = (i0 + a, j0 + b);
                    if diagonal && c > r {
                        continue;
                    }
                    out[r * n + c] += tile[a * mj + b];
                    if r != c {
                        out[c * n + r] += tile[a * mj + b];
                    }
                }
            }
        }
    }
}

fn same_slice<T>(a: &[T], b: &[T]) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// Σ over the products of two f32 matrices' entries, in f64.
fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&p, &q)| f64::from(p) * f64::from(q)).sum()
}

/// Example pairs (i, j) to compute: all, or i ≤ j when both sides are the same.
fn pairs(n1: usize, n2: usize, symmetric: bool) -> Vec<(usize, usize)> {
    (0..n1).flat_map(|i| (if symmetric { i } else { 0 }..n2).map(move |j| (i, j))).collect()
}

/// Write pair values into `out` (`+=`), mirrored when symmetric.
fn add_pairs(values: &[((usize, usize), f64)], n2: usize, symmetric: bool, out: &mut [f64]) {
    for &((i, j), v) in values {
        out[i * n2 + j] += v;
        if symmetric && i != j {
            out[j * n2 + i] += v;
        }
    }
}

/// One example's rows grouped by id: sorted distinct ids and the summed rows `[u, d]`.
struct IdRows {
    ids: Vec<u32>,
    rows: Vec<f32>,
}

fn group_by_id(ids: &[u32], g: &Segmented, i: usize) -> IdRows {
    let range = g.range(i);
    let mut order: Vec<usize> = range.clone().collect();
    order.sort_by_key(|&t| (ids[t], t));
    let (mut out_ids, mut sums): (Vec<u32>, Vec<f64>) = (Vec::new(), Vec::new());
    for t in order {
        if out_ids.last() != Some(&ids[t]) {
            out_ids.push(ids[t]);
            sums.extend(std::iter::repeat_n(0.0, g.width));
        }
        let at = sums.len() - g.width;
        for (s, &v) in sums[at..].iter_mut().zip(g.row(t)) {
            *s += f64::from(v);
        }
    }
    IdRows { ids: out_ids, rows: sums.iter().map(|&v| v as f32).collect() }
}

/// Σ over shared ids of the rows' dot products (sorted merge).
fn sparse_match(a: &IdRows, b: &IdRows, d: usize) -> f64 {
    let (mut p, mut q, mut s) = (0, 0, 0.0);
    while p < a.ids.len() && q < b.ids.len() {
        match a.ids[p].cmp(&b.ids[q]) {
            std::cmp::Ordering::Less => p += 1,
            std::cmp::Ordering::Greater => q += 1,
            std::cmp::Ordering::Equal => {
                s += dot_f64(&a.rows[p * d..(p + 1) * d], &b.rows[q * d..(q + 1) * d]);
                p += 1;
                q += 1;
            }
        }
    }
    s
}

/// Scatter examples' grouped rows for the ids `chunk` (sorted) into a dense `[n, |chunk|·d]`.
fn densify(groups: &[IdRows], chunk: &[u32], d: usize) -> Vec<f32> {
    let width = chunk.len() * d;
    let mut out = vec![0.0f32; groups.len() * width];
    for (row, g) in out.chunks_mut(width.max(1)).zip(groups) {
        for (p, id) in g.ids.iter().enumerate() {
            if let Ok(slot) = chunk.binary_search(id) {
                row[slot * d..(slot + 1) * d].copy_from_slice(&g.rows[p * d..(p + 1) * d]);
            }
        }
    }
    out
}

/// Token match by dense GEMMs over chunks of the id space (ids present on both sides only).
fn dense_match(products: Products, a: &[IdRows], b: &[IdRows], d: usize, symmetric: bool, out: &mut [f64]) {
    let left: std::collections::BTreeSet<u32> = a.iter().flat_map(|g| g.ids.iter().copied()).collect();
    let shared: Vec<u32> = b
        .iter()
        .flat_map(|g| g.ids.iter().copied())
        .filter(|id| left.contains(id))
        .collect::<std::collections::BTreeSet<u32>>()
        .into_iter()
        .collect();
    let per_id = (a.len() + b.len()) * d * 4;
    let chunk_ids = (DENSE_TOKEN_BYTES / per_id.max(1)).max(1);
    for chunk in shared.chunks(chunk_ids) {
        let x = densify(a, chunk, d);
        let k = chunk.len() * d;
        if symmetric {
            syrk_f64(products, &x, k, a.len(), out);
        } else {
            let y = densify(b, chunk, d);
            gemm_nt_f64(products, (&x, k), (&y, k), (a.len(), b.len(), k), (out, b.len()), false);
        }
    }
}

impl GramKernels for CpuKernels {
    fn name(&self) -> String {
        let products = match self.products {
            Products::F32 => "f32 products / f64 accumulation",
            Products::F64 => "f64 products",
        };
        format!("cpu ({} threads, {products})", rayon::current_num_threads())
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
        if same_slice(x, y) {
            syrk_f64(self.products, x, k, n1, out);
        } else {
            gemm_nt_f64(self.products, (x, k), (y, k), (n1, n2, k), (out, n2), false);
        }
        Ok(())
    }

    fn structured(&self, a1: Segmented, g1: Segmented, a2: Segmented, g2: Segmented, out: &mut [f64]) -> Result<()> {
        check_same_segments(&a1, &g1)?;
        check_same_segments(&a2, &g2)?;
        if a1.width != a2.width || g1.width != g2.width {
            return Err(Error::internal("structured", "the two sides' widths differ".to_string()));
        }
        let (n1, n2) = (a1.examples(), a2.examples());
        check_out(out, n1, n2)?;
        let symmetric = same_slice(a1.values, a2.values) && same_slice(g1.values, g2.values) && a1.rows == a2.rows;
        let (off1, off2) = (offsets(a1.rows), offsets(a2.rows));
        let values: Vec<((usize, usize), f64)> = pairs(n1, n2, symmetric)
            .into_par_iter()
            .map(|(i, j)| {
                let (r1, r2) = (a1.rows[i], a2.rows[j]);
                let (da, dg) = (a1.width, g1.width);
                let (s1, s2) = (off1[i], off2[j]);
                let (x1, x2) = (&a1.values[s1 * da..(s1 + r1) * da], &a2.values[s2 * da..(s2 + r2) * da]);
                let (h1, h2) = (&g1.values[s1 * dg..(s1 + r1) * dg], &g2.values[s2 * dg..(s2 + r2) * dg]);
                ((i, j), structured_pair(self.products, (x1, x2, da), (h1, h2, dg), (r1, r2)))
            })
            .collect();
        add_pairs(&values, n2, symmetric, out);
        Ok(())
    }

    fn token_match(&self, ids1: &[u32], g1: Segmented, ids2: &[u32], g2: Segmented, out: &mut [f64]) -> Result<()> {
        if ids1.len() != g1.total_rows() || ids2.len() != g2.total_rows() || g1.width != g2.width {
            return Err(Error::internal(
                "token_match",
                "one id per gradient row and equal widths expected".to_string(),
            ));
        }
        let (n1, n2, d) = (g1.examples(), g2.examples(), g1.width);
        check_out(out, n1, n2)?;
        let symmetric = same_slice(ids1, ids2) && same_slice(g1.values, g2.values) && g1.rows == g2.rows;
        let a: Vec<IdRows> = (0..n1).into_par_iter().map(|i| group_by_id(ids1, &g1, i)).collect();
        let b: Vec<IdRows> =
            if symmetric { Vec::new() } else { (0..n2).into_par_iter().map(|j| group_by_id(ids2, &g2, j)).collect() };
        let b_ref = if symmetric { &a } else { &b };
        // Dense GEMMs when the examples use a good share of the shared id space, else sorted merges.
        let distinct: std::collections::BTreeSet<u32> =
            a.iter().chain(b_ref.iter()).flat_map(|g| g.ids.iter().copied()).collect();
        let used: usize = a.iter().chain(b_ref.iter()).map(|g| g.ids.len()).sum();
        if used * 8 >= (n1 + n2) * distinct.len() {
            dense_match(self.products, &a, b_ref, d, symmetric, out);
        } else {
            let values: Vec<((usize, usize), f64)> = pairs(n1, n2, symmetric)
                .into_par_iter()
                .map(|(i, j)| ((i, j), sparse_match(&a[i], &b_ref[j], d)))
                .collect();
            add_pairs(&values, n2, symmetric, out);
        }
        Ok(())
    }

    fn chunk_features(&self) -> usize {
        CHUNK_FEATURES
    }

    fn outer_sums(&self, a: Segmented, g: Segmented) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; a.examples() * a.width * g.width];
        self.outer_sums_into(a, g, 0..g.width, &mut out)?;
        Ok(out)
    }

    fn outer_sums_into(&self, a: Segmented, g: Segmented, channels: Range<usize>, out: &mut [f32]) -> Result<()> {
        check_channels(&a, &g, &channels, out.len())?;
        let (d_in, d_out, oc) = (a.width, g.width, channels.len());
        let size = d_in * oc;
        if size == 0 {
            return Ok(());
        }
        let off = offsets(a.rows);
        out.par_chunks_mut(size).enumerate().for_each(|(i, j)| {
            let (start, r) = (off[i], a.rows[i]);
            if r == 0 {
                j.fill(0.0);
                return;
            }
            // J[channels] = G[:, channels]ᵀ A: [oc, r] · [r, d_in], G's columns read in place.
            let gs = &g.values[start * d_out..(start + r) * d_out];
            let as_ = &a.values[start * d_in..(start + r) * d_in];
            if ntkgap_simd::tn(&gs[channels.start..], d_out, as_, d_in, (oc, d_in, r), j) {
                return;
            }
            let gs = MatRef::from_row_major_slice(gs, r, d_out);
            let as_ = MatRef::from_row_major_slice(as_, r, d_in);
            matmul(
                MatMut::from_row_major_slice_mut(j, oc, d_in),
                Accum::Replace,
                gs.subcols(channels.start, oc).transpose(),
                as_,
                1.0f32,
                Par::Seq,
            );
        });
        Ok(())
    }
}

/// Σₜₛ (a₁,ₜ·a₂,ₛ)(g₁,ₜ·g₂,ₛ) for one example pair with `r1`, `r2` rows.
fn structured_pair(
    products: Products,
    (x1, x2, da): (&[f32], &[f32], usize),
    (h1, h2, dg): (&[f32], &[f32], usize),
    (r1, r2): (usize, usize),
) -> f64 {
    match products {
        Products::F32 => {
            let (mut aa, mut gg) = (vec![0.0f32; r1 * r2], vec![0.0f32; r1 * r2]);
            sgemm_nt(x1, da, x2, da, (r1, r2, da), &mut aa, Par::Seq);
            sgemm_nt(h1, dg, h2, dg, (r1, r2, dg), &mut gg, Par::Seq);
            dot_f64(&aa, &gg)
        }
        Products::F64 => {
            let (mut aa, mut gg) = (vec![0.0f64; r1 * r2], vec![0.0f64; r1 * r2]);
            let (w1, w2) = (widen(x1, da, r1, (0, da)), widen(x2, da, r2, (0, da)));
            gemm_nt_into(&w1, da, &w2, da, (r1, r2, da), &mut aa, Par::Seq);
            let (w1, w2) = (widen(h1, dg, r1, (0, dg)), widen(h2, dg, r2, (0, dg)));
            gemm_nt_into(&w1, dg, &w2, dg, (r1, r2, dg), &mut gg, Par::Seq);
            aa.iter().zip(&gg).map(|(p, q)| p * q).sum()
        }
    }
}

/// Row offsets `[0, r₀, r₀+r₁, …]`.
fn offsets(rows: &[usize]) -> Vec<usize> {
    std::iter::once(0)
        .chain(rows.iter().scan(0, |acc, &r| {
            *acc += r;
            Some(*acc)
        }))
        .collect()
}

/// The machine's f32 GEMM rate in GFLOP/s with the GEMM these kernels use (all threads): the
/// best of the products `[m, k] · [k, n]` of fixed pseudo-random data timed after one untimed
/// warm-up (which starts the thread pool), repeated at least `reps` times and for at least
/// `min_seconds` in all. One 1024³ product takes ≈ 10 ms on two cores, so a best of three could
/// all fall in a moment when a core was busy elsewhere (a run measured half the rate that way);
/// timing over a quarter second makes that unlikely.
pub fn gemm_rate(m: usize, n: usize, k: usize, reps: usize, min_seconds: f64) -> f64 {
    let fill = |len: usize, seed: u32| -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    };
    let (x, y) = (fill(m * k, 1), fill(n * k, 2));
    let mut out = vec![0.0f32; m * n];
    sgemm_nt(&x, k, &y, k, (m, n, k), &mut out, Par::rayon(0));
    let mut best = f64::INFINITY;
    let (started_all, mut done) = (std::time::Instant::now(), 0);
    while done < reps.max(1) || started_all.elapsed().as_secs_f64() < min_seconds {
        let started = std::time::Instant::now();
        sgemm_nt(&x, k, &y, k, (m, n, k), &mut out, Par::rayon(0));
        best = best.min(started.elapsed().as_secs_f64());
        done += 1;
    }
    std::hint::black_box(&out);
    2.0 * (m * n * k) as f64 / best / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntk::kernels::ReferenceKernels;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// max |Δ| / mean |reference|, the failure naming both implementations.
    fn assert_close(fast: &[f64], reference: &[f64], what: &str) {
        assert_eq!(fast.len(), reference.len(), "{what}");
        let scale = reference.iter().map(|v| v.abs()).sum::<f64>() / reference.len().max(1) as f64;
        let worst = fast.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(
            worst <= 1e-5 * scale.max(1e-30),
            "{what}: CpuKernels vs ReferenceKernels max |Δ| {worst:e}, mean |K| {scale:e}"
        );
    }

    #[test]
    fn gemm_nt_matches_reference_including_long_and_symmetric_products() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for kernels in [CpuKernels::F32, CpuKernels::F64] {
            for (n1, n2, k) in [(1, 1, 1), (3, 5, 7), (70, 9, 3 * F32_CHUNK + 5), (2, 130, 33)] {
                let (x, y) = (random(&mut rng, n1 * k), random(&mut rng, n2 * k));
                let (mut fast, mut slow) = (vec![0.5; n1 * n2], vec![0.5; n1 * n2]);
                kernels.gemm_nt(&x, &y, k, &mut fast).unwrap();
                ReferenceKernels.gemm_nt(&x, &y, k, &mut slow).unwrap();
                assert_close(&fast, &slow, &format!("gemm_nt {n1}x{n2}x{k}"));
            }
            // X = Y: the symmetric path (several sub-blocks) is exactly symmetric.
            let (n, k) = (SYRK_BLOCK * 2 + 3, 50);
            let x = random(&mut rng, n * k);
            let (mut fast, mut slow) = (vec![0.0; n * n], vec![0.0; n * n]);
            kernels.gemm_nt(&x, &x, k, &mut fast).unwrap();
            ReferenceKernels.gemm_nt(&x, &x, k, &mut slow).unwrap();
            assert_close(&fast, &slow, "gemm_nt X = X");
            assert!((0..n).all(|i| (0..n).all(|j| fast[i * n + j] == fast[j * n + i])), "not exactly symmetric");
        }
    }

    /// A ragged segmented matrix: `rows` per example (zeros allowed), `width` columns.
    fn ragged(rng: &mut ChaCha8Rng, rows: &[usize], width: usize) -> Vec<f32> {
        random(rng, rows.iter().sum::<usize>() * width)
    }

    #[test]
    fn structured_and_outer_sums_match_reference_on_ragged_segments() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for kernels in [CpuKernels::F32, CpuKernels::F64] {
            for (d_in, d_out) in [(5, 3), (1, 4), (6, 1), (1, 1)] {
                let (rows1, rows2): (&[usize], &[usize]) = (&[3, 1, 0, 7], &[2, 5, 1]);
                let (a1, g1) = (ragged(&mut rng, rows1, d_in), ragged(&mut rng, rows1, d_out));
                let (a2, g2) = (ragged(&mut rng, rows2, d_in), ragged(&mut rng, rows2, d_out));
                let (a1, g1) = (Segmented::new(&a1, d_in, rows1).unwrap(), Segmented::new(&g1, d_out, rows1).unwrap());
                let (a2, g2) = (Segmented::new(&a2, d_in, rows2).unwrap(), Segmented::new(&g2, d_out, rows2).unwrap());
                let (mut fast, mut slow) = (vec![0.0; 12], vec![0.0; 12]);
                kernels.structured(a1, g1, a2, g2, &mut fast).unwrap();
                ReferenceKernels.structured(a1, g1, a2, g2, &mut slow).unwrap();
                assert_close(&fast, &slow, &format!("structured d_in {d_in} d_out {d_out}"));
                let (mut fast, mut slow) = (vec![0.0; 16], vec![0.0; 16]);
                kernels.structured(a1, g1, a1, g1, &mut fast).unwrap();
                ReferenceKernels.structured(a1, g1, a1, g1, &mut slow).unwrap();
                assert_close(&fast, &slow, &format!("structured symmetric d_in {d_in} d_out {d_out}"));
                let fast: Vec<f64> = kernels.outer_sums(a1, g1).unwrap().iter().map(|&v| f64::from(v)).collect();
                let slow: Vec<f64> =
                    ReferenceKernels.outer_sums(a1, g1).unwrap().iter().map(|&v| f64::from(v)).collect();
                assert_close(&fast, &slow, &format!("outer_sums d_in {d_in} d_out {d_out}"));
                // Every channel range, into a buffer holding stale values (it is overwritten):
                // the fast override against the reference's default (gather + outer_sums).
                for channels in [0..d_out, 0..1, d_out / 2..d_out, 1.min(d_out)..d_out] {
                    let len = rows1.len() * channels.len() * d_in;
                    let (mut fast, mut slow) = (vec![7.0f32; len], vec![-3.0f32; len]);
                    kernels.outer_sums_into(a1, g1, channels.clone(), &mut fast).unwrap();
                    ReferenceKernels.outer_sums_into(a1, g1, channels.clone(), &mut slow).unwrap();
                    let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
                    assert_close(&widen(&fast), &widen(&slow), &format!("outer_sums_into {channels:?} of {d_out}"));
                }
                assert!(kernels.outer_sums_into(a1, g1, 0..d_out + 1, &mut vec![0.0; 4 * (d_out + 1) * d_in]).is_err());
                assert!(kernels.outer_sums_into(a1, g1, 0..d_out, &mut [0.0; 1]).is_err());
            }
        }
    }

    #[test]
    fn token_match_matches_reference_on_dense_and_sparse_id_sets() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for kernels in [CpuKernels::F32, CpuKernels::F64] {
            // Few distinct ids (dense GEMM path) and many (sorted-merge path), with repeats.
            for vocab in [4u32, 5000] {
                for d in [1, 6] {
                    let (rows1, rows2): (&[usize], &[usize]) = (&[4, 0, 9, 2], &[6, 3]);
                    let ids = |rng: &mut ChaCha8Rng, r: &[usize]| -> Vec<u32> {
                        (0..r.iter().sum::<usize>()).map(|_| rng.random_range(0..vocab)).collect()
                    };
                    let (ids1, ids2) = (ids(&mut rng, rows1), ids(&mut rng, rows2));
                    let (g1, g2) = (ragged(&mut rng, rows1, d), ragged(&mut rng, rows2, d));
                    let (s1, s2) = (Segmented::new(&g1, d, rows1).unwrap(), Segmented::new(&g2, d, rows2).unwrap());
                    let (mut fast, mut slow) = (vec![0.0; 8], vec![0.0; 8]);
                    kernels.token_match(&ids1, s1, &ids2, s2, &mut fast).unwrap();
                    ReferenceKernels.token_match(&ids1, s1, &ids2, s2, &mut slow).unwrap();
                    assert_close(&fast, &slow, &format!("token_match vocab {vocab} d {d}"));
                    let (mut fast, mut slow) = (vec![0.0; 16], vec![0.0; 16]);
                    kernels.token_match(&ids1, s1, &ids1, s1, &mut fast).unwrap();
                    ReferenceKernels.token_match(&ids1, s1, &ids1, s1, &mut slow).unwrap();
                    assert_close(&fast, &slow, &format!("token_match symmetric vocab {vocab} d {d}"));
                }
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for kernels in [CpuKernels::F32, CpuKernels::F64] {
            for (n1, n2, k) in
                [(40, 7, 3000), (128, 128, 2 * F32_CHUNK), (32, 32, 5000), (9, 5, (WAVE + 1) * F32_CHUNK + 3)]
            {
                let (x, y) = (random(&mut rng, n1 * k), random(&mut rng, n2 * k));
                let run = |threads: usize, symmetric: bool| {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    pool.install(|| {
                        let (right, n) = if symmetric { (&x, n1) } else { (&y, n2) };
                        let mut out = vec![0.0; n1 * n];
                        kernels.gemm_nt(&x, right, k, &mut out).unwrap();
                        out
                    })
                };
                for symmetric in [false, true] {
                    assert_eq!(
                        run(1, symmetric),
                        run(3, symmetric),
                        "gemm_nt {n1}x{n2}x{k} (X = Y: {symmetric}): bits differ between 1 and 3 threads"
                    );
                }
            }
            assert!(gemm_rate(64, 64, 64, 1, 0.0) > 0.0);
        }
    }

    #[test]
    fn f64_products_keep_near_identical_rows_cauchy_schwarz_consistent() {
        // Two rows differing by 1e-5 relative: δ = 1 − K₀₁/√(K₀₀K₁₁) ≈ 1e-10, far below f32 rounding.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let k = 20_000;
        let x = random(&mut rng, k);
        let noise = random(&mut rng, k);
        let mut xy = x.clone();
        xy.extend(x.iter().zip(&noise).map(|(a, e)| a + 1e-5 * e));
        let mut out = vec![0.0; 4];
        CpuKernels::F64.gemm_nt(&xy, &xy, k, &mut out).unwrap();
        let (a, b, c) = (out[0], out[3], out[1]);
        let exact: f64 = xy[..k].iter().zip(&xy[k..]).map(|(&p, &q)| f64::from(p) * f64::from(q)).sum();
        assert!((c - exact).abs() <= 1e-12 * exact.abs(), "K01 {c} vs {exact}");
        assert!(c * c <= a * b * (1.0 + 1e-13), "Cauchy–Schwarz broken: K01² {} > K00·K11 {}", c * c, a * b);
        assert!(a + b - 2.0 * c > 0.0, "kernel distance² {} not positive", a + b - 2.0 * c);
    }
}
