//! Two f32 products the contraction issues by the thousand, written by hand because faer's
//! general GEMM runs them at 35–78 GFLOP/s per thread where its large products reach ≈ 105
//! (docs/ntk.md "Parts of a block and the hand-written contraction kernels"):
//!
//! * [`tn`] — one example's chunk of a per-example weight gradient, `out = xᵀ y` over the
//!   example's T tokens (T ≈ 128–400). Alone and hot, faer and this kernel run these shapes
//!   alike (104–116 GFLOP/s with AVX-512); in place, faer's packed copies of both operands
//!   compete for the cache with the chunk being formed.
//! * [`nt`] — a Gram tile of few examples against a long inner chunk, `out = x yᵀ` (32 × 32
//!   against 8,192 features at N = 32); with `lower` only the tiles on or below the diagonal
//!   are computed (a SYRK).
//!
//! Two instruction-set levels, the CPU's best chosen at run time (so the build never needs a
//! newer CPU):
//!
//! * AVX-512F (16-lane `zmm`). `tn`: register tile 8 rows of `out` × 48 columns
//!   (24 accumulators), each step one row of `y` (three vectors) and 8 broadcasts of `x`; no
//!   packing — the 48-column panel of `y` stays in L1 while the row tiles pass over it. `nt`:
//!   4 × 4 dot products, 16 accumulators of 16 lanes each, reduced once at the end.
//! * AVX2 + FMA (8-lane `ymm`, 16 registers), where the CPU lacks AVX-512F. `tn`: register
//!   tile 6 rows × 16 columns (12 accumulators, 2 loads of `y` and 6 broadcasts of `x` a
//!   step) over packed copies — `y` in 16-column panels, `x` in 6-row panels of a block of
//!   rows — because row strides of a few KiB (a multiple of 512 bytes) map the unpacked panel
//!   onto a few cache sets. `nt`: 4 × 3 dot products (12 accumulators of 8 lanes; 3 × 3 with
//!   `lower`, so that only the diagonal tiles reach above it), the inner dimension in blocks
//!   of 1,024 (the tile's rows of `x` stay in L1 while the rows of `y` pass), the partial sums
//!   kept per tile between blocks. The packed copies and partial sums are in per-thread
//!   scratch reused across calls. On an AMD EPYC (Zen 3, one thread, faer's 1,024³ product
//!   ≈ 91 GFLOP/s): `tn` 86–91 GFLOP/s against faer's 70–79 on T = 128–250; `nt` 64–68
//!   against faer's 40–59 at 16 and 32 examples (`lower` included), 68 against 72 at 64.
//!
//! Each returns `false` (and leaves `out` untouched) on a CPU with neither AVX-512F nor
//! AVX2 + FMA, where the caller uses faer. Rounding: f32 multiply-adds in a fixed order that
//! depends on the shapes (and the level) only, never on the thread count, like faer's; the
//! callers add the f32 results into f64 as before.
//!
//! A crate of its own so that it is compiled at opt-level 3 without debug assertions in every
//! profile (the workspace's `[profile.dev.package.ntkgap-simd]`): with overflow and alignment
//! checks the register tiles are not unrolled and spill to the stack.

#![warn(missing_docs)]

/// Columns of `out` per register tile of [`tn`] with AVX-512 (three 16-lane vectors).
const TN_COLS: usize = 48;
/// Rows of `out` per register tile of [`tn`] with AVX-512.
const TN_ROWS: usize = 8;
/// Rows (and columns) of `out` per register tile of [`nt`] with AVX-512.
const NT_TILE: usize = 4;
/// Columns of `out` per register tile of [`tn`] with AVX2 (two 8-lane vectors).
const TN2_COLS: usize = 16;
/// Rows of `out` per register tile of [`tn`] with AVX2.
const TN2_ROWS: usize = 6;
/// Rows of `x` packed at a time by [`tn`] with AVX2 (a multiple of [`TN2_ROWS`]): the block
/// stays in L2 while every column panel of `y` passes over it.
const TN2_BLOCK: usize = 96;
/// Rows of `out` per register tile of [`nt`] with AVX2 (12 accumulators, 3 vectors of `y`
/// and one of `x`: the 16 `ymm` registers).
const NT2_ROWS: usize = 4;
/// Columns of `out` per register tile of [`nt`] with AVX2.
const NT2_COLS: usize = 3;
/// Rows (and columns) of `out` per register tile of [`nt`] with AVX2 and `lower` (square, so
/// that the tiles on the diagonal are the only ones computed beyond it).
const NT2_TILE: usize = 3;
/// Inner elements per block of [`nt`] with AVX2 (a multiple of 8): the 4 rows of `x` of a
/// tile (16 KiB) stay in L1 while the rows of `y` pass, 64 rows of `y` (256 KiB) in L2.
const NT2_BLOCK: usize = 1024;

/// An instruction-set level the kernels are written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// AVX-512F.
    Avx512,
    /// AVX2 and FMA.
    Avx2,
}

impl Level {
    /// Whether this CPU runs the level's kernels (detected at run time).
    fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Level::Avx512 => std::is_x86_feature_detected!("avx512f"),
                Level::Avx2 => std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// How the level is written in reports.
    fn name(self) -> &'static str {
        match self {
            Level::Avx512 => "AVX-512F",
            Level::Avx2 => "AVX2 + FMA",
        }
    }

    /// The best level this CPU runs, if any.
    fn best() -> Option<Level> {
        [Level::Avx512, Level::Avx2].into_iter().find(|l| l.supported())
    }

    /// Rows (and columns) of the square tiles [`nt`] computes at this level with `lower`: the
    /// tiles on or below the diagonal are written, the diagonal tiles whole.
    #[cfg_attr(not(test), allow(dead_code))]
    fn nt_tile(self) -> usize {
        match self {
            Level::Avx512 => NT_TILE,
            Level::Avx2 => NT2_TILE,
        }
    }
}

/// The level the kernels run at: the best the CPU has (AVX-512F, else AVX2 + FMA), unless the
/// environment sets `NTKGAP_SIMD=off` (which keeps faer everywhere, for comparisons). Decided
/// once per process.
fn level() -> Option<Level> {
    static LEVEL: std::sync::OnceLock<Option<Level>> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let off = std::env::var("NTKGAP_SIMD").is_ok_and(|v| v == "off");
        if off {
            None
        } else {
            Level::best()
        }
    })
}

/// Whether the kernels run: the CPU has AVX-512F or AVX2 + FMA (detected at run time) and the
/// environment does not set `NTKGAP_SIMD=off` (which keeps faer everywhere, for comparisons).
/// Decided once per process.
pub fn available() -> bool {
    level().is_some()
}

/// The instruction-set level the kernels run at in this process — `"AVX-512F"` or
/// `"AVX2 + FMA"` — or `None` where they do not run ([`available`] false), for the lines that
/// say which code produced a timing.
pub fn level_name() -> Option<&'static str> {
    level().map(Level::name)
}

fn check_len(what: &str, len: usize, rows: usize, ld: usize, cols: usize) {
    let need = if rows == 0 || cols == 0 { 0 } else { (rows - 1) * ld + cols };
    assert!(len >= need, "small_gemm: {what} holds {len} values, {need} needed");
}

/// `out[i·n + j] = Σₜ x[t·ldx + i] · y[t·ldy + j]` for i < m, j < n, t < k (overwritten): `xᵀ y`
/// for row-major `x` `[k, ≥m]` and `y` `[k, ≥n]`. False (nothing written) on a CPU with
/// neither AVX-512F nor AVX2 + FMA.
///
/// # Panics
/// When a slice is shorter than its shape and leading dimension need.
pub fn tn(x: &[f32], ldx: usize, y: &[f32], ldy: usize, shape: (usize, usize, usize), out: &mut [f32]) -> bool {
    tn_at(level(), x, ldx, y, ldy, shape, out)
}

/// [`tn`] at a given level (`None`: refuse).
///
/// # Panics
/// As [`tn`], and when the CPU lacks the level.
fn tn_at(
    level: Option<Level>,
    x: &[f32],
    ldx: usize,
    y: &[f32],
    ldy: usize,
    (m, n, k): (usize, usize, usize),
    out: &mut [f32],
) -> bool {
    check_len("x", x.len(), k, ldx, m);
    check_len("y", y.len(), k, ldy, n);
    check_len("out", out.len(), m, n, n);
    let Some(level) = level else {
        return false;
    };
    assert!(level.supported(), "small_gemm: this CPU lacks {level:?}");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the level's instructions are present (checked above) and every slice holds the
    // elements its shape and leading dimension address (checked above); the kernels read and
    // write only those.
    unsafe {
        match level {
            Level::Avx512 => avx512::tn((x.as_ptr(), ldx), (y.as_ptr(), ldy), (m, n, k), out.as_mut_ptr()),
            Level::Avx2 => avx2::tn((x.as_ptr(), ldx), (y.as_ptr(), ldy), (m, n, k), out.as_mut_ptr()),
        }
    }
    true
}

/// `out[i·ldo + j] = Σₜ x[i·ldx + t] · y[j·ldy + t]` for i < m, j < n, t < k (overwritten): `x yᵀ`
/// for row-major `x` `[m, ≥k]`, `y` `[n, ≥k]`. With `lower` (`x = y`, `m = n`) only the square
/// tiles on or below the diagonal are written (the diagonal tiles whole; 4 × 4 with AVX-512,
/// 3 × 3 with AVX2), every entry on or below the diagonal among them. False (nothing written)
/// on a CPU with neither AVX-512F nor AVX2 + FMA.
///
/// # Panics
/// When a slice is shorter than its shape and leading dimension need, or `ldo < n`.
#[allow(clippy::too_many_arguments)]
pub fn nt(
    x: &[f32],
    ldx: usize,
    y: &[f32],
    ldy: usize,
    shape: (usize, usize, usize),
    out: &mut [f32],
    ldo: usize,
    lower: bool,
) -> bool {
    nt_at(level(), x, ldx, y, ldy, shape, out, ldo, lower)
}

/// [`nt`] at a given level (`None`: refuse).
///
/// # Panics
/// As [`nt`], and when the CPU lacks the level.
#[allow(clippy::too_many_arguments)]
fn nt_at(
    level: Option<Level>,
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
    let Some(level) = level else {
        return false;
    };
    assert!(level.supported(), "small_gemm: this CPU lacks {level:?}");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `tn_at`.
    unsafe {
        let (x, y, out) = (x.as_ptr(), y.as_ptr(), (out.as_mut_ptr(), ldo));
        match level {
            Level::Avx512 => avx512::nt(x, ldx, y, ldy, (m, n, k), out, lower),
            Level::Avx2 => avx2::nt(x, ldx, y, ldy, (m, n, k), out, lower),
        }
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

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        _mm256_broadcast_ss, _mm256_cmpgt_epi32, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_maskload_ps,
        _mm256_set1_epi32, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    use std::cell::RefCell;

    use super::{NT2_BLOCK, NT2_COLS, NT2_ROWS, NT2_TILE, TN2_BLOCK, TN2_COLS, TN2_ROWS};

    /// Lanes of a `ymm` register.
    const LANES: usize = 8;

    /// Runs `f` on `len` values of this thread's scratch (kept between calls so that the
    /// packed copies neither allocate nor fault pages in the hot loop), starting at a 64-byte
    /// boundary. Contents on entry are arbitrary.
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
        thread_local! {
            static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        }
        // Up to 15 values skipped to reach the boundary (the buffer's start is 4-byte aligned).
        let run = |buf: &mut Vec<f32>| {
            if buf.len() < len + 15 {
                buf.resize(len + 15, 0.0);
            }
            let skip = (buf.as_ptr() as usize).wrapping_neg() % 64 / 4;
            f(&mut buf[skip..skip + len])
        };
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => run(&mut buf),
            Err(_) => run(&mut Vec::new()),
        })
    }

    /// `tn` on raw pointers. Safety: AVX2 and FMA present; `x` addresses `(k − 1)·ldx + m`
    /// elements, `y` `(k − 1)·ldy + n`, `out` `m·n`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tn(
        (x, ldx): (*const f32, usize),
        (y, ldy): (*const f32, usize),
        (m, n, k): (usize, usize, usize),
        out: *mut f32,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        let panels = n.div_ceil(TN2_COLS);
        let ylen = panels * k * TN2_COLS;
        let xlen = m.min(TN2_BLOCK).div_ceil(TN2_ROWS) * TN2_ROWS * k;
        with_scratch(ylen + xlen, |buf| {
            let (yp, xp) = buf.split_at_mut(ylen);
            // SAFETY: as for this function; `yp` and `xp` hold the packed panels.
            unsafe { tn_packed((x, ldx), (y, ldy), (m, n, k), out, (yp, xp)) }
        });
    }

    /// `tn` through the packed copies: `y` as `[panels][k][16]` (columns past n zero), `x` a
    /// block of [`TN2_BLOCK`] rows at a time as `[tiles][k][6]` (rows past the block zero).
    /// Safety: as `tn`; `yp` holds `⌈n/16⌉·k·16` values, `xp` `⌈min(m, block)/6⌉·6·k`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tn_packed(
        (x, ldx): (*const f32, usize),
        (y, ldy): (*const f32, usize),
        (m, n, k): (usize, usize, usize),
        out: *mut f32,
        (yp, xp): (&mut [f32], &mut [f32]),
    ) {
        let panels = n.div_ceil(TN2_COLS);
        // SAFETY: rows 0..k of `y`, columns 0..n.
        unsafe { pack_panels::<TN2_COLS>((y, ldy), (n, k), yp) };
        for i0 in (0..m).step_by(TN2_BLOCK) {
            let rows = (m - i0).min(TN2_BLOCK);
            let tiles = rows.div_ceil(TN2_ROWS);
            // SAFETY: rows 0..k of `x`, elements i0..i0 + rows.
            unsafe { pack_panels::<TN2_ROWS>((x.wrapping_add(i0), ldx), (rows, k), xp) };
            for p in 0..panels {
                let j0 = p * TN2_COLS;
                let w = (n - j0).min(TN2_COLS);
                let yt = yp[p * k * TN2_COLS..].as_ptr();
                for tile in 0..tiles {
                    let r0 = tile * TN2_ROWS;
                    let h = (rows - r0).min(TN2_ROWS);
                    let xt = xp[tile * k * TN2_ROWS..].as_ptr();
                    // SAFETY: the packed panels hold k steps each; rows i0 + r0..i0 + r0 + h
                    // and columns j0..j0 + w of `out` are inside its shape.
                    unsafe { tn_tile(xt, yt, k, (out.add((i0 + r0) * n + j0), n), (h, w)) };
                }
            }
        }
    }

    /// Columns 0..cols of rows 0..k of the row-major `src` (leading dimension `ld`) packed as
    /// `[⌈cols/W⌉][k][W]` into `dst`, the columns past `cols` zero: each W-wide panel's k steps
    /// contiguous, as [`tn_tile`] reads them. Safety: `src` addresses `(k − 1)·ld + cols`
    /// elements; `dst` holds `⌈cols/W⌉·k·W`.
    unsafe fn pack_panels<const W: usize>((src, ld): (*const f32, usize), (cols, k): (usize, usize), dst: &mut [f32]) {
        for t in 0..k {
            // SAFETY: row t of `src`, columns 0..cols (the caller's contract).
            let row = unsafe { std::slice::from_raw_parts(src.add(t * ld), cols) };
            let (whole, rest) = row.as_chunks::<W>();
            for (p, chunk) in whole.iter().enumerate() {
                dst[(p * k + t) * W..].first_chunk_mut::<W>().unwrap().copy_from_slice(chunk);
            }
            if !rest.is_empty() {
                let tail = &mut dst[(whole.len() * k + t) * W..][..W];
                tail[..rest.len()].copy_from_slice(rest);
                tail[rest.len()..].fill(0.0);
            }
        }
    }

    /// One 6 × 16 tile of `tn` from packed panels (`xp` `[k][6]`, `yp` `[k][16]`), of which
    /// the leading `h` × `w` are stored at `out` (leading dimension `ldo`).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tn_tile(xp: *const f32, yp: *const f32, k: usize, (out, ldo): (*mut f32, usize), (h, w): (usize, usize)) {
        let mut acc = [[_mm256_setzero_ps(); 2]; TN2_ROWS];
        for t in 0..k {
            // SAFETY: step t of both panels.
            unsafe {
                let yt = yp.add(t * TN2_COLS);
                let b = [_mm256_loadu_ps(yt), _mm256_loadu_ps(yt.add(LANES))];
                let xt = xp.add(t * TN2_ROWS);
                for (r, row) in acc.iter_mut().enumerate() {
                    let a = _mm256_broadcast_ss(&*xt.add(r));
                    row[0] = _mm256_fmadd_ps(a, b[0], row[0]);
                    row[1] = _mm256_fmadd_ps(a, b[1], row[1]);
                }
            }
        }
        if h == TN2_ROWS && w == TN2_COLS {
            for (r, row) in acc.iter().enumerate() {
                // SAFETY: row r of the tile, all 16 columns inside the shape.
                unsafe {
                    _mm256_storeu_ps(out.add(r * ldo), row[0]);
                    _mm256_storeu_ps(out.add(r * ldo + LANES), row[1]);
                }
            }
        } else {
            let mut tile = [0.0f32; TN2_ROWS * TN2_COLS];
            for (r, row) in acc.iter().enumerate() {
                // SAFETY: row r of the local tile.
                unsafe {
                    _mm256_storeu_ps(tile.as_mut_ptr().add(r * TN2_COLS), row[0]);
                    _mm256_storeu_ps(tile.as_mut_ptr().add(r * TN2_COLS + LANES), row[1]);
                }
            }
            for r in 0..h {
                // SAFETY: row r of the tile, columns 0..w, inside the shape.
                unsafe { std::ptr::copy_nonoverlapping(tile.as_ptr().add(r * TN2_COLS), out.add(r * ldo), w) };
            }
        }
    }

    /// `nt` on raw pointers. Safety: AVX2 and FMA present; `x` addresses `(m − 1)·ldx + k`
    /// elements, `y` `(n − 1)·ldy + k`, `out` `(m − 1)·ldo + n`.
    #[target_feature(enable = "avx2,fma")]
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
        let args = ((x, ldx), (y, ldy), (m, n, k), (out, ldo));
        // SAFETY (both arms): as for this function.
        unsafe {
            if lower {
                nt_tiles::<NT2_TILE, NT2_TILE>(args, true);
            } else {
                nt_tiles::<NT2_ROWS, NT2_COLS>(args, false);
            }
        }
    }

    type NtArgs = ((*const f32, usize), (*const f32, usize), (usize, usize, usize), (*mut f32, usize));

    /// `nt` in `R × C` tiles (with `lower`, those holding an entry on or below the diagonal),
    /// over inner blocks of [`NT2_BLOCK`]: the 8-lane partial sums of tile (i, j) are kept in
    /// this thread's scratch between blocks (so each lane adds its elements in order, whatever
    /// the block size) and reduced once at the end. Safety: as `nt`, with `m, n > 0`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn nt_tiles<const R: usize, const C: usize>(
        ((x, ldx), (y, ldy), (m, n, k), (out, ldo)): NtArgs,
        lower: bool,
    ) {
        let (tiles_m, tiles_n) = (m.div_ceil(R), n.div_ceil(C));
        let per_tile = R * C * LANES;
        // Tile (i, j) holds an entry on or below the diagonal.
        let wanted = |i: usize, j: usize| !lower || j * C < (i + 1) * R;
        with_scratch(tiles_m * tiles_n * per_tile, |sums| {
            sums.fill(0.0);
            for t0 in (0..k).step_by(NT2_BLOCK) {
                let kc = (k - t0).min(NT2_BLOCK);
                for i in 0..tiles_m {
                    // Rows past the edge repeat the last row (computed, not stored).
                    let xs: [*const f32; R] =
                        std::array::from_fn(|a| x.wrapping_add((i * R + a).min(m - 1) * ldx + t0));
                    for j in (0..tiles_n).take_while(|&j| wanted(i, j)) {
                        let ys: [*const f32; C] =
                            std::array::from_fn(|b| y.wrapping_add((j * C + b).min(n - 1) * ldy + t0));
                        let tile = &mut sums[(i * tiles_n + j) * per_tile..][..per_tile];
                        // SAFETY: elements t0..t0 + kc of rows inside the shapes.
                        unsafe { nt_tile::<R, C>(xs, ys, kc, tile) };
                    }
                }
            }
            for i in 0..tiles_m {
                for j in (0..tiles_n).take_while(|&j| wanted(i, j)) {
                    let tile = &sums[(i * tiles_n + j) * per_tile..][..per_tile];
                    for (ab, lanes) in tile.chunks_exact(LANES).enumerate() {
                        let (r, c) = (i * R + ab / C, j * C + ab % C);
                        if r < m && c < n {
                            let v = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
                                + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
                            // SAFETY: (r, c) is inside the output's shape.
                            unsafe { *out.add(r * ldo + c) = v };
                        }
                    }
                }
            }
        });
    }

    /// Adds the `R × C` dot products of rows `xs` with rows `ys` over `kc` elements into the
    /// 8-lane partial sums `sums` (`[R][C][8]`), lane l taking the elements l, l + 8, ….
    #[target_feature(enable = "avx2,fma")]
    unsafe fn nt_tile<const R: usize, const C: usize>(
        xs: [*const f32; R],
        ys: [*const f32; C],
        kc: usize,
        sums: &mut [f32],
    ) {
        let s = sums.as_mut_ptr();
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        for (a, row) in acc.iter_mut().enumerate() {
            for (b, v) in row.iter_mut().enumerate() {
                // SAFETY: vector (a, b) of the tile's sums.
                *v = unsafe { _mm256_loadu_ps(s.add((a * C + b) * LANES)) };
            }
        }
        let full = kc / LANES * LANES;
        let mut t = 0;
        while t < full {
            // SAFETY: elements t..t + 8 of the rows, inside the block.
            unsafe {
                let mut yv = [_mm256_setzero_ps(); C];
                for (v, &yb) in yv.iter_mut().zip(&ys) {
                    *v = _mm256_loadu_ps(yb.add(t));
                }
                for (row, &xa) in acc.iter_mut().zip(&xs) {
                    let xv = _mm256_loadu_ps(xa.add(t));
                    for (v, yb) in row.iter_mut().zip(&yv) {
                        *v = _mm256_fmadd_ps(xv, *yb, *v);
                    }
                }
            }
            t += LANES;
        }
        if t < kc {
            let mask =
                _mm256_cmpgt_epi32(_mm256_set1_epi32((kc - t) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            // SAFETY: the masked lanes, elements t..kc of the rows (the others not read).
            unsafe {
                let mut yv = [_mm256_setzero_ps(); C];
                for (v, &yb) in yv.iter_mut().zip(&ys) {
                    *v = _mm256_maskload_ps(yb.add(t), mask);
                }
                for (row, &xa) in acc.iter_mut().zip(&xs) {
                    let xv = _mm256_maskload_ps(xa.add(t), mask);
                    for (v, yb) in row.iter_mut().zip(&yv) {
                        *v = _mm256_fmadd_ps(xv, *yb, *v);
                    }
                }
            }
        }
        for (a, row) in acc.iter().enumerate() {
            for (b, v) in row.iter().enumerate() {
                // SAFETY: vector (a, b) of the tile's sums.
                unsafe { _mm256_storeu_ps(s.add((a * C + b) * LANES), *v) };
            }
        }
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

    /// (AVX-512F, AVX2 + FMA) on this CPU, asked of the CPU directly rather than through
    /// [`Level::supported`].
    fn cpu_features() -> (bool, bool) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            (has!("avx512f"), has!("avx2") && has!("fma"))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            (false, false)
        }
    }

    /// The levels whose kernels run on this machine: each is checked against the f64 reference
    /// (called at that level directly, whatever `NTKGAP_SIMD` says). A level the CPU lacks (a
    /// property of the machine, which no install step can provide) cannot be run and is
    /// reported: on an AVX2-only CPU the AVX-512 kernels go untested, and on a CPU with
    /// neither only the refusal is checked. Under `CI`, a CPU with AVX-512F or AVX2 + FMA whose
    /// kernels would not be tested is a failure, not a skip.
    fn levels_here() -> Vec<Level> {
        let levels: Vec<Level> = [Level::Avx512, Level::Avx2].into_iter().filter(|l| l.supported()).collect();
        let (avx512, avx2) = cpu_features();
        if std::env::var_os("CI").is_some() {
            assert!(
                !avx512 || levels.contains(&Level::Avx512),
                "CI: this CPU has AVX-512F but its kernels go untested"
            );
            assert!(!avx2 || levels.contains(&Level::Avx2), "CI: this CPU has AVX2 + FMA but its kernels go untested");
        }
        if levels.is_empty() {
            eprintln!("SKIPPED: this CPU has neither AVX-512F nor AVX2 + FMA; checking only that the kernels refuse");
        } else if !levels.contains(&Level::Avx512) {
            eprintln!("SKIPPED (AVX-512 kernels only): this CPU has no AVX-512F; the AVX2 kernels are tested");
        }
        levels
    }

    /// Refusing (no level, as on a CPU with neither or under `NTKGAP_SIMD=off`): both return
    /// false and leave `out` untouched.
    fn refuse_and_write_nothing(level: Option<Level>) {
        let (x, y) = (vec![1.0f32; 64], vec![2.0f32; 64]);
        let mut out = vec![f32::NAN; 16];
        assert!(!tn_at(level, &x, 4, &y, 4, (4, 4, 16), &mut out), "tn ran without a level");
        assert!(!nt_at(level, &x, 16, &y, 16, (4, 4, 16), &mut out, 4, false), "nt ran without a level");
        assert!(out.iter().all(|v| v.is_nan()), "a refusing kernel wrote to out");
    }

    fn close(got: f32, want: f64, scale: f64, what: &str) {
        assert!(((got as f64) - want).abs() <= 1e-5 * scale.max(1.0), "{what}: {got} vs {want}");
    }

    #[test]
    fn kernels_refuse_without_a_level_and_write_nothing() {
        refuse_and_write_nothing(None);
    }

    /// The public entry points run at the CPU's best level unless `NTKGAP_SIMD=off` — with
    /// the same bits as that level called directly — and refuse (writing nothing) otherwise.
    #[test]
    fn public_entry_points_run_the_best_level_or_refuse() {
        let off = std::env::var("NTKGAP_SIMD").is_ok_and(|v| v == "off");
        let want = if off { None } else { levels_here().first().copied() };
        assert_eq!(level(), want);
        assert_eq!(available(), want.is_some());
        assert_eq!(level_name(), want.map(Level::name));
        let Some(best) = want else {
            let (x, y) = (vec![1.0f32; 64], vec![2.0f32; 64]);
            let mut out = vec![f32::NAN; 16];
            assert!(!tn(&x, 4, &y, 4, (4, 4, 16), &mut out), "tn ran without a level");
            assert!(!nt(&x, 16, &y, 16, (4, 4, 16), &mut out, 4, false), "nt ran without a level");
            assert!(out.iter().all(|v| v.is_nan()), "a refusing kernel wrote to out");
            return;
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (m, n, k) = (23, 37, 1500);
        let (x, y) = (random(&mut rng, m * k), random(&mut rng, n * k));
        let (mut got, mut want) = (vec![0.0f32; m * n], vec![f32::NAN; m * n]);
        assert!(tn(&x, m, &y, n, (m, n, k), &mut got));
        assert!(tn_at(Some(best), &x, m, &y, n, (m, n, k), &mut want));
        assert_eq!(got, want, "tn");
        assert!(nt(&x, k, &y, k, (m, n, k), &mut got[..m * n], n, false));
        assert!(nt_at(Some(best), &x, k, &y, k, (m, n, k), &mut want[..m * n], n, false));
        assert_eq!(got, want, "nt");
    }

    #[test]
    fn tn_matches_f64_reference_on_ragged_shapes_and_strides() {
        let levels = levels_here();
        if levels.is_empty() {
            return refuse_and_write_nothing(None);
        }
        for level in levels {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let shapes = [(1, 1, 1), (8, 48, 16), (9, 49, 3), (17, 100, 33), (154, 384, 128), (5, 7, 0), (3, 130, 1)];
            let more = [(13, 32, 20), (25, 64, 7), (128, 128, 32), (200, 17, 9), (6, 16, 5)];
            for &(m, n, k) in shapes.iter().chain(&more) {
                let (ldx, ldy) = (m + 5, n + 3);
                let x = random(&mut rng, k * ldx);
                let y = random(&mut rng, k * ldy);
                let mut out = vec![f32::NAN; m * n];
                assert!(tn_at(Some(level), &x, ldx, &y, ldy, (m, n, k), &mut out));
                for i in 0..m {
                    for j in 0..n {
                        let want: f64 = (0..k).map(|t| x[t * ldx + i] as f64 * y[t * ldy + j] as f64).sum();
                        close(out[i * n + j], want, k as f64, &format!("{level:?} tn {m}x{n}x{k} ({i},{j})"));
                    }
                }
            }
        }
    }

    #[test]
    fn nt_matches_f64_reference_full_and_lower() {
        let levels = levels_here();
        if levels.is_empty() {
            return refuse_and_write_nothing(None);
        }
        for level in levels {
            let mut rng = ChaCha8Rng::seed_from_u64(8);
            let shapes = [(1, 1, 1), (4, 4, 16), (5, 3, 17), (32, 32, 8192), (7, 9, 100), (6, 6, 0), (13, 11, 2500)];
            for &(m, n, k) in &shapes {
                let (ldx, ldy, ldo) = (k + 3, k + 1, n + 2);
                let x = random(&mut rng, m * ldx);
                let y = random(&mut rng, n * ldy);
                let mut out = vec![f32::NAN; m * ldo];
                assert!(nt_at(Some(level), &x, ldx, &y, ldy, (m, n, k), &mut out, ldo, false));
                for i in 0..m {
                    for j in 0..n {
                        let want: f64 = (0..k).map(|t| x[i * ldx + t] as f64 * y[j * ldy + t] as f64).sum();
                        close(out[i * ldo + j], want, k as f64, &format!("{level:?} nt {m}x{n}x{k} ({i},{j})"));
                    }
                    assert!(out[i * ldo + n..(i + 1) * ldo].iter().all(|v| v.is_nan()), "wrote past column {n}");
                }
            }
            // lower: x = y; every entry on or below the diagonal written and right, the square
            // tiles (of this level's size) wholly above it untouched.
            let tile = level.nt_tile();
            for &(n, k) in &[(1, 5), (6, 40), (32, 1000), (13, 3001), (64, 24)] {
                let x = random(&mut rng, n * k);
                let mut out = vec![f32::NAN; n * n];
                assert!(nt_at(Some(level), &x, k, &x, k, (n, n, k), &mut out, n, true));
                for i in 0..n {
                    for j in 0..n {
                        let want: f64 = (0..k).map(|t| x[i * k + t] as f64 * x[j * k + t] as f64).sum();
                        if j <= i || j / tile == i / tile {
                            close(out[i * n + j], want, k as f64, &format!("{level:?} lower {n}x{k} ({i},{j})"));
                        } else {
                            assert!(
                                out[i * n + j].is_nan(),
                                "{level:?} lower {n}x{k}: ({i},{j}) above the diagonal tiles written"
                            );
                        }
                    }
                }
            }
        }
    }
}
