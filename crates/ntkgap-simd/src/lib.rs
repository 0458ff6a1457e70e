//! Two f32 products the contraction issues by the thousand, written for AVX-512 because faer's
//! general GEMM runs them at 35–78 GFLOP/s per thread where its large products reach ≈ 105
//! (docs/ntk.md "Parts of a block and the hand-written contraction kernels"):
//!
//! * [`tn`] — one example's chunk of a per-example weight gradient, `out = xᵀ y` over the
//!   example's T tokens (T ≈ 128–400). Alone and hot, faer and this kernel run these shapes
//!   alike (104–116 GFLOP/s); in place, faer's packed copies of both operands compete for the
//!   cache with the chunk being formed. Register tile: 8 rows of `out` × 48 columns
//!   (24 accumulators), each step one row of `y` (three vectors) and 8 broadcasts of `x`; no
//!   packing — the 48-column panel of `y` stays in L1 while the row tiles pass over it.
//! * [`nt`] — a Gram tile of few examples against a long inner chunk, `out = x yᵀ` (32 × 32
//!   against 8,192 features at N = 32). Register tile: 4 × 4 dot products, 16 accumulators of
//!   16 lanes each, reduced once at the end; with `lower` only the tiles on or below the
//!   diagonal are computed (a SYRK).
//!
//! Each returns `false` (and leaves `out` untouched) on a CPU without AVX-512F, where the caller
//! uses faer; the choice is made at run time, so the build never needs a newer CPU. Rounding:
//! f32 multiply-adds in a fixed order that depends on the shapes only (never on the thread
//! count), like faer's; the callers add the f32 results into f64 as before.
//!
//! A crate of its own so that it is compiled at opt-level 3 without debug assertions in every
//! profile (the workspace's `[profile.dev.package.ntkgap-simd]`): with overflow and alignment
//! checks the register tiles are not unrolled and spill to the stack.

#![warn(missing_docs)]

/// Columns of `out` per register tile of [`tn`] (three 16-lane vectors).
const TN_COLS: usize = 48;
/// Rows of `out` per register tile of [`tn`].
const TN_ROWS: usize = 8;
/// Rows (and columns) of `out` per register tile of [`nt`].
const NT_TILE: usize = 4;

/// Whether the kernels run: the CPU has AVX-512F (detected at run time) and the environment
/// does not set `NTKGAP_SIMD=off` (which keeps faer everywhere, for comparisons). Decided once
/// per process.
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let off = std::env::var("NTKGAP_SIMD").is_ok_and(|v| v == "off");
        !off && cpu_has_avx512f()
    })
}

fn cpu_has_avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn check_len(what: &str, len: usize, rows: usize, ld: usize, cols: usize) {
    let need = if rows == 0 || cols == 0 { 0 } else { (rows - 1) * ld + cols };
    assert!(len >= need, "small_gemm: {what} holds {len} values, {need} needed");
}

/// `out[i·n + j] = Σₜ x[t·ldx + i] · y[t·ldy + j]` for i < m, j < n, t < k (overwritten): `xᵀ y`
/// for row-major `x` `[k, ≥m]` and `y` `[k, ≥n]`. False (nothing written) without AVX-512F.
///
/// # Panics
/// When a slice is shorter than its shape and leading dimension need.
pub fn tn(x: &[f32], ldx: usize, y: &[f32], ldy: usize, (m, n, k): (usize, usize, usize), out: &mut [f32]) -> bool {
    check_len("x", x.len(), k, ldx, m);
    check_len("y", y.len(), k, ldy, n);
    check_len("out", out.len(), m, n, n);
    if !available() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (checked above) and every slice holds the elements its shape
    // and leading dimension address (checked above); the kernels read and write only those.
    unsafe {
        avx512::tn((x.as_ptr(), ldx), (y.as_ptr(), ldy), (m, n, k), out.as_mut_ptr());
    }
    true
}

/// `out[i·ldo + j] = Σₜ x[i·ldx + t] · y[j·ldy + t]` for i < m, j < n, t < k (overwritten): `x yᵀ`
/// for row-major `x` `[m, ≥k]`, `y` `[n, ≥k]`. With `lower` (`x = y`, `m = n`) only the 4 × 4
/// tiles on or below the diagonal are written (the diagonal tiles whole). False (nothing
/// written) without AVX-512F.
///
/// # Panics
/// When a slice is shorter than its shape and leading dimension need, or `ldo < n`.
#[allow(clippy::too_many_arguments)]
pub fn nt(
    x: &[f32],
    ldx: usize,
    y: &[f32],
    ldy: usize,
    (m, n, k): (usize, usize, usize),
    out: &mut [f32],
    ldo: usize,
    lower: bool,
) -> bool {
    check_len("x", x.len(), m, ldx, k);
    check_len("y", y.len(), n, ldy, k);
    assert!(ldo >= n, "small_gemm: output leading dimension {ldo} < {n} columns");
    check_len("out", out.len(), m, ldo, n);
    if !available() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `tn`.
    unsafe {
        avx512::nt(x.as_ptr(), ldx, y.as_ptr(), ldy, (m, n, k), (out.as_mut_ptr(), ldo), lower);
    }
    true
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, __mmask16, _mm512_fmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_reduce_add_ps,
        _mm512_set1_ps, _mm512_setzero_ps,
    };

    use super::{NT_TILE, TN_COLS, TN_ROWS};

    /// The lanes below `count − offset` (clamped to 0..16) set.
    fn mask(count: usize, offset: usize) -> __mmask16 {
        let lanes = count.saturating_sub(offset).min(16);
        ((1u32 << lanes) - 1) as __mmask16
    }

    /// `tn` on raw pointers. Safety: AVX-512F present; `x` addresses `(k − 1)·ldx + m`
    /// elements, `y` `(k − 1)·ldy + n`, `out` `m·n`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tn(
        (x, ldx): (*const f32, usize),
        (y, ldy): (*const f32, usize),
        (m, n, k): (usize, usize, usize),
        out: *mut f32,
    ) {
        let mut j = 0;
        while j < n {
            let w = (n - j).min(TN_COLS);
            let masks = [mask(w, 0), mask(w, 16), mask(w, 32)];
            let (yj, oj) = (y.wrapping_add(j), out.wrapping_add(j));
            let mut i = 0;
            while i < m {
                let h = (m - i).min(TN_ROWS);
                let args = ((x.wrapping_add(i), ldx), (yj, ldy), k, masks, (oj.wrapping_add(i * n), n));
                // SAFETY (every arm): rows i..i + h of `out`, columns j..j + w, inside the shape.
                unsafe {
                    match h {
                        8 => tn_tile::<8>(args),
                        7 => tn_tile::<7>(args),
                        6 => tn_tile::<6>(args),
                        5 => tn_tile::<5>(args),
                        4 => tn_tile::<4>(args),
                        3 => tn_tile::<3>(args),
                        2 => tn_tile::<2>(args),
                        _ => tn_tile::<1>(args),
                    }
                }
                i += h;
            }
            j += TN_COLS;
        }
    }

    type TileArgs = ((*const f32, usize), (*const f32, usize), usize, [__mmask16; 3], (*mut f32, usize));

    /// One `R × 48` tile of `tn` (columns outside the masks neither read nor written).
    #[target_feature(enable = "avx512f")]
    unsafe fn tn_tile<const R: usize>(((x, ldx), (y, ldy), k, masks, (out, ldo)): TileArgs) {
        let mut acc = [[_mm512_setzero_ps(); 3]; R];
        let (mut xt, mut yt) = (x, y);
        for _ in 0..k {
            // SAFETY: the masked lanes of row t of `y` and elements 0..R of row t of `x`.
            unsafe {
                let b = [
                    _mm512_maskz_loadu_ps(masks[0], yt),
                    _mm512_maskz_loadu_ps(masks[1], yt.wrapping_add(16)),
                    _mm512_maskz_loadu_ps(masks[2], yt.wrapping_add(32)),
                ];
                for (r, row) in acc.iter_mut().enumerate() {
                    let a = _mm512_set1_ps(xt.wrapping_add(r).read_unaligned());
                    for (v, bc) in row.iter_mut().zip(&b) {
                        *v = _mm512_fmadd_ps(a, *bc, *v);
                    }
                }
            }
            xt = xt.wrapping_add(ldx);
            yt = yt.wrapping_add(ldy);
        }
        for (r, row) in acc.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                // SAFETY: row r of the tile, the masked lanes only.
                unsafe { _mm512_mask_storeu_ps(out.wrapping_add(r * ldo + 16 * c), masks[c], *v) };
            }
        }
    }

    /// `nt` on raw pointers. Safety: AVX-512F present; `x` addresses `(m − 1)·ldx + k`
    /// elements, `y` `(n − 1)·ldy + k`, `out` `(m − 1)·ldo + n`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn nt(
        x: *const f32,
        ldx: usize,
        y: *const f32,
        ldy: usize,
        (m, n, k): (usize, usize, usize),
        (out, ldo): (*mut f32, usize),
        lower: bool,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        for i0 in (0..m).step_by(NT_TILE) {
            for j0 in (0..n).step_by(NT_TILE) {
                if lower && j0 > i0 {
                    break;
                }
                // Rows past the edge repeat the last row (computed, not stored).
                let rows: [usize; NT_TILE] = std::array::from_fn(|a| (i0 + a).min(m - 1));
                let cols: [usize; NT_TILE] = std::array::from_fn(|b| (j0 + b).min(n - 1));
                // SAFETY: the rows and columns named are inside the shapes.
                let sums = unsafe { nt_tile(x, ldx, y, ldy, k, rows, cols) };
                for (a, row) in sums.iter().enumerate() {
                    for (b, &v) in row.iter().enumerate() {
                        if i0 + a < m && j0 + b < n {
                            // SAFETY: (i0 + a, j0 + b) is inside the output's shape.
                            unsafe { *out.add((i0 + a) * ldo + j0 + b) = v };
                        }
                    }
                }
            }
        }
    }

    /// The 4 × 4 dot products of rows `rows` of `x` with rows `cols` of `y` over k.
    #[target_feature(enable = "avx512f")]
    unsafe fn nt_tile(
        x: *const f32,
        ldx: usize,
        y: *const f32,
        ldy: usize,
        k: usize,
        rows: [usize; NT_TILE],
        cols: [usize; NT_TILE],
    ) -> [[f32; NT_TILE]; NT_TILE] {
        let xs: [*const f32; NT_TILE] = std::array::from_fn(|a| x.wrapping_add(rows[a] * ldx));
        let ys: [*const f32; NT_TILE] = std::array::from_fn(|b| y.wrapping_add(cols[b] * ldy));
        let mut acc: [[__m512; NT_TILE]; NT_TILE] = [[_mm512_setzero_ps(); NT_TILE]; NT_TILE];
        let mut t = 0;
        while t < k {
            let lanes = mask(k - t, 0);
            // SAFETY: elements t..t + 16 (the masked lanes) of rows inside the shapes.
            unsafe {
                let xv: [__m512; NT_TILE] =
                    std::array::from_fn(|a| _mm512_maskz_loadu_ps(lanes, xs[a].wrapping_add(t)));
                let yv: [__m512; NT_TILE] =
                    std::array::from_fn(|b| _mm512_maskz_loadu_ps(lanes, ys[b].wrapping_add(t)));
                for (a, row) in acc.iter_mut().enumerate() {
                    for (b, v) in row.iter_mut().enumerate() {
                        *v = _mm512_fmadd_ps(xv[a], yv[b], *v);
                    }
                }
            }
            t += 16;
        }
        acc.map(|row| row.map(|v| _mm512_reduce_add_ps(v)))
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// Whether the kernels run on this machine. Where the CPU lacks AVX-512F (a property of
    /// the machine, which no install step can provide) they must refuse — return false and
    /// write nothing, so the callers use faer — and that contract is what the tests check there,
    /// printing why the kernels themselves were not run. `NTKGAP_SIMD=off` on a CPU that has
    /// AVX-512F is a failure under `CI`: it would leave runnable kernels untested.
    fn runs_here() -> bool {
        if available() {
            return true;
        }
        if cpu_has_avx512f() {
            assert!(std::env::var_os("CI").is_none(), "CI: NTKGAP_SIMD=off leaves the AVX-512 kernels untested");
            eprintln!("SKIPPED: NTKGAP_SIMD=off; checking only that the kernels refuse");
        } else {
            eprintln!("SKIPPED: this CPU has no AVX-512F; checking only that the kernels refuse");
        }
        false
    }

    /// Where the kernels do not run: both return false and leave `out` untouched.
    fn refuse_and_write_nothing() {
        let (x, y) = (vec![1.0f32; 64], vec![2.0f32; 64]);
        let mut out = vec![f32::NAN; 16];
        assert!(!tn(&x, 4, &y, 4, (4, 4, 16), &mut out), "tn ran without AVX-512F");
        assert!(!nt(&x, 16, &y, 16, (4, 4, 16), &mut out, 4, false), "nt ran without AVX-512F");
        assert!(out.iter().all(|v| v.is_nan()), "a refusing kernel wrote to out");
    }

    fn close(got: f32, want: f64, scale: f64, what: &str) {
        assert!(((got as f64) - want).abs() <= 1e-5 * scale.max(1.0), "{what}: {got} vs {want}");
    }

    #[test]
    fn tn_matches_f64_reference_on_ragged_shapes_and_strides() {
        if !runs_here() {
            return refuse_and_write_nothing();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let shapes = [(1, 1, 1), (8, 48, 16), (9, 49, 3), (17, 100, 33), (154, 384, 128), (5, 7, 0), (3, 130, 1)];
        let more = [(13, 32, 20), (25, 64, 7), (128, 128, 32)];
        for &(m, n, k) in shapes.iter().chain(&more) {
            let (ldx, ldy) = (m + 5, n + 3);
            let x = random(&mut rng, k * ldx);
            let y = random(&mut rng, k * ldy);
            let mut out = vec![f32::NAN; m * n];
            assert!(tn(&x, ldx, &y, ldy, (m, n, k), &mut out));
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k).map(|t| x[t * ldx + i] as f64 * y[t * ldy + j] as f64).sum();
                    close(out[i * n + j], want, k as f64, &format!("tn {m}x{n}x{k} ({i},{j})"));
                }
            }
        }
    }

    #[test]
    fn nt_matches_f64_reference_full_and_lower() {
        if !runs_here() {
            return refuse_and_write_nothing();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for &(m, n, k) in &[(1, 1, 1), (4, 4, 16), (5, 3, 17), (32, 32, 8192), (7, 9, 100), (6, 6, 0)] {
            let (ldx, ldy, ldo) = (k + 3, k + 1, n + 2);
            let x = random(&mut rng, m * ldx);
            let y = random(&mut rng, n * ldy);
            let mut out = vec![f32::NAN; m * ldo];
            assert!(nt(&x, ldx, &y, ldy, (m, n, k), &mut out, ldo, false));
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k).map(|t| x[i * ldx + t] as f64 * y[j * ldy + t] as f64).sum();
                    close(out[i * ldo + j], want, k as f64, &format!("nt {m}x{n}x{k} ({i},{j})"));
                }
                assert!(out[i * ldo + n..(i + 1) * ldo].iter().all(|v| v.is_nan()), "wrote past column {n}");
            }
        }
        // lower: x = y; every entry on or below the diagonal written and right, the tiles wholly
        // above it untouched.
        for &(n, k) in &[(1, 5), (6, 40), (32, 1000)] {
            let x = random(&mut rng, n * k);
            let mut out = vec![f32::NAN; n * n];
            assert!(nt(&x, k, &x, k, (n, n, k), &mut out, n, true));
            for i in 0..n {
                for j in 0..n {
                    let want: f64 = (0..k).map(|t| x[i * k + t] as f64 * x[j * k + t] as f64).sum();
                    if j <= i || j / NT_TILE == i / NT_TILE {
                        close(out[i * n + j], want, k as f64, &format!("lower {n}x{k} ({i},{j})"));
                    } else {
                        assert!(out[i * n + j].is_nan(), "lower {n}x{k}: ({i},{j}) above the diagonal tiles written");
                    }
                }
            }
        }
    }
}
