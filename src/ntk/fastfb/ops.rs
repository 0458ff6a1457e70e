//! The primitives of the hand-written forward + backward: f32 GEMMs through faer, LayerNorm and
//! GELU forward/backward, row softmax, and branch-free `exp`/`erf` that the compiler vectorises.
//!
//! * LayerNorm (biased variance, as burn and PyTorch): x̂ = (x − μ)·r, r = 1/√(σ² + ε),
//!   y = γ ⊙ x̂ + β; backward dx = r·(d − mean(d) − x̂·mean(d ⊙ x̂)) with d = dy ⊙ γ.
//! * GELU exact: x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); derivative Φ(x) + x·φ(x),
//!   φ(x) = e^{−x²/2}/√(2π). Tanh form: ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³); derivative
//!   ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²).
//! * `exp`: Cody–Waite reduction by ln 2 and the Cephes `expf` polynomial (≈ 1 ulp on the range
//!   used; inputs clamped to [−87, 88], so e^{−∞} gives ≈ 1.6e-38, not 0). `erf`: the rational
//!   minimax approximation of Eigen's `generic_fast_erf_float` on [−4, 4] (clamped outside), max
//!   abs error ≈ 1e-7 against libm (tested).
//!
//! Determinism: every routine splits work over rows or output blocks only, never over a
//! reduction, so results do not depend on the thread count.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::ntk::fastfb::tally;

/// Compile an element-wise routine twice — for the baseline target and with AVX2 + FMA enabled —
/// and pick at run time (`is_x86_feature_detected!`, cached by std), so the build never needs a
/// newer CPU than the baseline. `fn name / portable(args) body` defines `name` (dispatching) and
/// `portable` (the baseline, for tests). The two give bit-identical results: Rust never fuses a
/// multiply and an add into an FMA on its own, so enabling the feature only widens the vectors.
macro_rules! dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident / $portable:ident ($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide($($arg: $ty),*) {
                    $portable($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { wide($($arg),*) };
                }
            }
            $portable($($arg),*)
        }

        #[inline(always)]
        $vis fn $portable($($arg: $ty),*) $body
    };
}
pub(crate) use dispatch;

/// Rows per rayon task of the element-wise loops.
pub(crate) const ROWS_PER_TASK: usize = 16;

/// Elements per rayon task of the fresh-buffer helpers ([`zeros`], [`copied`], [`fresh`]): 256 KiB.
pub(crate) const FRESH_CHUNK: usize = 1 << 16;

/// `len` zeros, written by the thread pool. `vec![0.0; len]` clears a buffer that the heap hands
/// back on the calling thread alone (glibc's `calloc` memsets a reused chunk), and a profile of
/// the forward + backward found that thread clearing, copying and faulting in pages for ≈ 0.2 s of
/// the MiniLM N = 32 phase while the other core waited.
pub fn zeros(len: usize) -> Vec<f32> {
    fresh(len, FRESH_CHUNK, |_, out| {
        for o in out {
            o.write(0.0);
        }
    })
}

/// A copy of `x`, written by the thread pool (see [`zeros`]).
pub fn copied(x: &[f32]) -> Vec<f32> {
    fresh(x.len(), FRESH_CHUNK, |start, out| {
        let source = &x[start..start + out.len()];
        for (o, &v) in out.iter_mut().zip(source) {
            o.write(v);
        }
    })
}

/// A fresh `[len]` buffer, its chunks of `chunk` elements written in parallel by `fill(start,
/// chunk)` (`start`: the chunk's first index). `fill` must write every element of its chunk (the
/// callers: [`zeros`], [`copied`], [`crate::ntk::fastfb::assemble::columns`]).
pub(crate) fn fresh<F>(len: usize, chunk: usize, fill: F) -> Vec<f32>
where
    F: Fn(usize, &mut [std::mem::MaybeUninit<f32>]) + Sync,
{
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let chunk = chunk.max(1);
    out.spare_capacity_mut()[..len].par_chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    // SAFETY: the first `len` elements were initialised above: the chunks cover them, and each
    // `fill` writes its whole chunk — `zeros` every element, `copied` from its source sliced to the
    // chunk's length (a short source panics), `columns` one full row of `width` per output row, its
    // rows counted from the source's length (a row narrower than `start + width` panics). A panic
    // leaves `out` empty, never partly uninitialised.
    unsafe { out.set_len(len) };
    out
}

/// A row-major `[rows, cols]` view of `data` with row stride `stride`.
pub fn view(data: &[f32], rows: usize, cols: usize, stride: usize) -> MatRef<'_, f32> {
    let end = if rows == 0 { 0 } else { (rows - 1) * stride + cols };
    MatRef::from_row_major_slice_with_stride(&data[..end], rows, cols, stride)
}

/// A mutable row-major `[rows, cols]` view of `data` with row stride `stride`.
///
/// Built as the transpose of a column-major view: faer 0.23.2's
/// `MatMut::from_row_major_slice_with_stride_mut` builds a *column-major* view (row stride 1)
/// and checks the wrong bounds, so GEMMs through it write outside the slice.
pub fn view_mut(data: &mut [f32], rows: usize, cols: usize, stride: usize) -> MatMut<'_, f32> {
    let end = if rows == 0 { 0 } else { (rows - 1) * stride + cols };
    MatMut::from_column_major_slice_with_stride_mut(&mut data[..end], cols, rows, stride).transpose_mut()
}

/// `out = a · b` (or `out += a · b` when `accumulate`) with parallelism `par`.
pub fn gemm(out: MatMut<'_, f32>, a: MatRef<'_, f32>, b: MatRef<'_, f32>, accumulate: bool, par: Par) {
    gemm_scaled(out, a, b, 1.0, accumulate, par);
}

/// `out = alpha·a·b` (or `out += alpha·a·b` when `accumulate`) with parallelism `par`; every
/// product of the hand-written path goes through here, and is counted by [`tally`] when on.
pub fn gemm_scaled(
    out: MatMut<'_, f32>,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    alpha: f32,
    accumulate: bool,
    par: Par,
) {
    if out.nrows() == 0 || out.ncols() == 0 {
        return;
    }
    tally::record(tally::Product {
        m: out.nrows(),
        k: a.ncols(),
        n: out.ncols(),
        a_row_major: a.col_stride() == 1,
        b_row_major: b.col_stride() == 1,
        parallel: !matches!(par, Par::Seq),
    });
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    matmul(out, accum, a, b, alpha, par);
}

/// The global thread pool's parallelism for faer.
pub fn threads() -> Par {
    Par::rayon(0)
}

/// `a [rows, d_in] · W [d_in, d_out]` into a fresh buffer (zeroed, and so first touched, by the thread pool: [`zeros`]).
pub fn matmul_fresh(a: &[f32], weight: &[f32], rows: usize, (d_in, d_out): (usize, usize)) -> Vec<f32> {
    let mut y = zeros(rows * d_out);
    gemm(
        view_mut(&mut y, rows, d_out, d_out),
        view(a, rows, d_in, d_in),
        view(weight, d_in, d_out, d_out),
        false,
        threads(),
    );
    y
}

/// `y [rows, d] += b` per row, plus `residual [rows, d]` when given; one parallel pass.
pub fn add_rows(y: &mut [f32], bias: &[f32], residual: Option<&[f32]>) {
    let d = bias.len();
    let chunk = ROWS_PER_TASK * d;
    match residual {
        Some(r) => y.par_chunks_mut(chunk).zip(r.par_chunks(chunk)).for_each(|(yc, rc)| {
            for (yr, rr) in yc.chunks_mut(d).zip(rc.chunks(d)) {
                yr.iter_mut().zip(rr).zip(bias).for_each(|((y, r), b)| *y += r + b);
            }
        }),
        None => y.par_chunks_mut(chunk).for_each(|yc| {
            for yr in yc.chunks_mut(d) {
                yr.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
            }
        }),
    }
}

/// `da [rows, d_in] (+)= dy [rows, d_out] · Wᵀ` (W `[d_in, d_out]`).
pub fn linear_backward_into(
    da: &mut [f32],
    dy: &[f32],
    weight: &[f32],
    rows: usize,
    (d_in, d_out): (usize, usize),
    accumulate: bool,
) {
    let w = view(weight, d_in, d_out, d_out).transpose();
    gemm(view_mut(da, rows, d_in, d_in), view(dy, rows, d_out, d_out), w, accumulate, threads());
}

/// The saved state of a LayerNorm forward: x̂ `[rows, d]` and r = 1/√(σ² + ε) `[rows]`.
#[derive(Debug, Clone, Default)]
pub struct NormCache {
    /// Normalised input x̂.
    pub xhat: Vec<f32>,
    /// Reciprocal standard deviation per row.
    pub rstd: Vec<f32>,
}

fn norm_row(x: &[f32], xhat: &mut [f32], epsilon: f32) -> f32 {
    let d = x.len() as f32;
    let mean = x.iter().sum::<f32>() / d;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
    let rstd = 1.0 / (var + epsilon).sqrt();
    for (h, v) in xhat.iter_mut().zip(x) {
        *h = (v - mean) * rstd;
    }
    rstd
}

/// A row-wise normalisation of `x` `[rows, d]` in parallel over blocks of rows: `row(x, x̂, y)`
/// fills one row's x̂ and y and returns its 1/σ (LayerNorm and RMSNorm share this).
pub fn norm_rows<F>(x: &[f32], d: usize, row: F) -> (Vec<f32>, NormCache)
where
    F: Fn(&[f32], &mut [f32], &mut [f32]) -> f32 + Sync,
{
    let rows = x.len() / d;
    let (mut y, mut xhat, mut rstd) = (zeros(x.len()), zeros(x.len()), vec![0.0f32; rows]);
    let chunk = ROWS_PER_TASK * d;
    xhat.par_chunks_mut(chunk)
        .zip(y.par_chunks_mut(chunk))
        .zip(rstd.par_chunks_mut(ROWS_PER_TASK))
        .zip(x.par_chunks(chunk))
        .for_each(|(((xh, yc), rc), xc)| {
            for (((xh, yr), r), xr) in xh.chunks_mut(d).zip(yc.chunks_mut(d)).zip(rc.iter_mut()).zip(xc.chunks(d)) {
                *r = row(xr, xh, yr);
            }
        });
    (y, NormCache { xhat, rstd })
}

/// LayerNorm forward of `x` `[rows, d]`: returns y and the cache.
pub fn norm_forward(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f32) -> (Vec<f32>, NormCache) {
    norm_rows(x, gamma.len(), |xr, xh, yr| {
        let r = norm_row(xr, xh, epsilon);
        for (((o, h), g), b) in yr.iter_mut().zip(xh.iter()).zip(gamma).zip(beta) {
            *o = h * g + b;
        }
        r
    })
}

/// The backward of a row-wise normalisation in parallel over blocks of rows: `row(dx, dy, x̂, r)`
/// fills (or adds into) one row of `dx` (LayerNorm and RMSNorm share this).
pub fn norm_rows_backward<F>(dx: &mut [f32], dy: &[f32], d: usize, cache: &NormCache, row: F)
where
    F: Fn(&mut [f32], &[f32], &[f32], f32) + Sync,
{
    let chunk = ROWS_PER_TASK * d;
    dx.par_chunks_mut(chunk)
        .zip(dy.par_chunks(chunk))
        .zip(cache.xhat.par_chunks(chunk))
        .zip(cache.rstd.par_chunks(ROWS_PER_TASK))
        .for_each(|(((dxc, dyc), xc), rc)| {
            for (((dxr, dyr), xr), &r) in dxc.chunks_mut(d).zip(dyc.chunks(d)).zip(xc.chunks(d)).zip(rc) {
                row(dxr, dyr, xr, r);
            }
        });
}

/// LayerNorm backward: dx `[rows, d]` from dy and the forward's cache.
pub fn norm_backward(dy: &[f32], gamma: &[f32], cache: &NormCache) -> Vec<f32> {
    let d = gamma.len();
    let mut dx = zeros(dy.len());
    norm_rows_backward(&mut dx, dy, d, cache, |dxr, dyr, xr, r| {
        let (mut sum, mut dot) = (0.0f32, 0.0f32);
        for ((g, x), o) in dyr.iter().zip(xr).zip(gamma) {
            let v = g * o;
            sum += v;
            dot += v * x;
        }
        let (mean, mean_dot) = (sum / d as f32, dot / d as f32);
        for (((out, g), x), o) in dxr.iter_mut().zip(dyr).zip(xr).zip(gamma) {
            *out = r * (g * o - mean - x * mean_dot);
        }
    });
    dx
}

/// e^x for f32, branch-free (see the module docs).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer, kept in the low bits
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (x - k * 0.693_359_4) - k * -2.121_944_4e-4;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 5e-1)
        * (r * r)
        + r
        + 1.0;
    // k as an integer from the bits of `shifted` (no float-to-int conversion), then 2^k.
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    p * f32::from_bits(k_int.wrapping_add(127) << 23)
}

/// erf(x) for f32, branch-free (see the module docs).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10f32;
    for c in [2.770_681_4e-8, -2.101_024e-6, -5.692_506_4e-5, -7.349_906_3e-4, -2.954_600_1e-3, -1.609_603_3e-2] {
        p = p * x2 + c;
    }
    let mut q = -1.456_607_2e-5f32;
    for c in [-2.133_740_6e-4, -1.682_827e-3, -7.373_329_2e-3, -1.426_473_9e-2] {
        q = q * x2 + c;
    }
    x * p / q
}

/// tanh(x) for f32 through [`exp`] (absolute error ≈ 1e-7).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let e = exp(2.0 * x);
    1.0 - 2.0 / (e + 1.0)
}

/// GELU in place on `x + b` (`x` `[rows, width]`, `b` `[width]` added per row first): x becomes
/// gelu(x + b); returns gelu′(x + b).
pub fn gelu_forward(x: &mut [f32], bias: &[f32], tanh_form: bool) -> Vec<f32> {
    let width = bias.len();
    let mut grad = zeros(x.len());
    let chunk = ROWS_PER_TASK * width;
    x.par_chunks_mut(chunk).zip(grad.par_chunks_mut(chunk)).for_each(|(xc, gc)| {
        for (xr, gr) in xc.chunks_mut(width).zip(gc.chunks_mut(width)) {
            xr.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            if tanh_form {
                gelu_tanh_slice(xr, gr);
            } else {
                gelu_erf_slice(xr, gr);
            }
        }
    });
    grad
}

dispatch! {
    /// Exact GELU over a slice (separate loops, so each vectorises).
    fn gelu_erf_slice / gelu_erf_slice_portable(x: &mut [f32], g: &mut [f32]) {
        const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
        const INV_SQRT_2PI: f32 = 0.398_942_3;
        for (g, &v) in g.iter_mut().zip(x.iter()) {
            *g = exp(-0.5 * v * v) * INV_SQRT_2PI * v;
        }
        for (v, g) in x.iter_mut().zip(g.iter_mut()) {
            let cdf = 0.5 + 0.5 * erf(*v * INV_SQRT_2);
            *g += cdf;
            *v *= cdf;
        }
    }
}

dispatch! {
    /// Tanh-form GELU over a slice.
    fn gelu_tanh_slice / gelu_tanh_slice_portable(x: &mut [f32], g: &mut [f32]) {
        const C: f32 = 0.797_884_6; // √(2/π)
        const A: f32 = 0.044_715;
        for (v, g) in x.iter_mut().zip(g.iter_mut()) {
            let u = *v;
            let t = tanh(C * (u + A * u * u * u));
            *g = 0.5 * (1.0 + t) + 0.5 * u * (1.0 - t * t) * C * (1.0 + 3.0 * A * u * u);
            *v = 0.5 * u * (1.0 + t);
        }
    }
}

/// `a ⊙= b`, element-wise, multi-threaded.
pub fn multiply_in_place(a: &mut [f32], b: &[f32]) {
    a.par_chunks_mut(1 << 14)
        .zip(b.par_chunks(1 << 14))
        .for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(x, y)| *x *= y));
}

/// `a += b`, element-wise, multi-threaded.
pub fn add_in_place(a: &mut [f32], b: &[f32]) {
    a.par_chunks_mut(1 << 14)
        .zip(b.par_chunks(1 << 14))
        .for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(x, y)| *x += y));
}

/// Lanes of the vectorisable reductions (fixed, so results do not depend on the CPU).
const LANES: usize = 8;

/// Max of a slice through [`LANES`] running maxima (vectorises; no NaN expected).
fn max_of(x: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &v) in m.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    chunks.remainder().iter().chain(m.iter()).fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a })
}

/// Sum of a slice through [`LANES`] running sums, combined in a fixed order.
pub fn sum_of(x: &[f32]) -> f32 {
    let mut s = [0.0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &v) in s.iter_mut().zip(c) {
            *s += v;
        }
    }
    s.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

dispatch! {
    /// Softmax of one row, in place.
    fn softmax_row / softmax_row_portable(row: &mut [f32]) {
        let max = max_of(row);
        row.iter_mut().for_each(|v| *v = exp(*v - max));
        let inv = 1.0 / sum_of(row);
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

/// Softmax over each row of `s` `[rows, cols]`, in place.
pub fn softmax_rows(s: &mut [f32], cols: usize) {
    s.chunks_mut(cols).for_each(softmax_row);
}

/// Causal softmax over each row t of `s` `[rows, cols]`, in place: over columns 0..=t, the
/// columns after t set to exactly 0 (a causal mask, without relying on e^{−∞}: [`exp`] clamps).
pub fn softmax_rows_causal(s: &mut [f32], cols: usize) {
    softmax_rows_causal_from(s, cols, 0);
}

/// [`softmax_rows_causal`] on rows `first..` of a larger matrix: row i of `s` is row
/// `first + i`, over its columns 0..=first + i.
pub fn softmax_rows_causal_from(s: &mut [f32], cols: usize, first: usize) {
    for (i, row) in s.chunks_mut(cols).enumerate() {
        let t = first + i;
        let (seen, masked) = row.split_at_mut((t + 1).min(cols));
        softmax_row(seen);
        masked.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_erf_tanh_match_libm() {
        let mut worst = [0.0f64; 3];
        for i in -60_000..=60_000 {
            let x = i as f32 * 1e-4;
            let e = (f64::from(exp(x)) - f64::from(x).exp()).abs() / f64::from(x).exp();
            worst[0] = worst[0].max(e);
            worst[1] = worst[1].max((f64::from(erf(x)) - libm::erf(f64::from(x))).abs());
            worst[2] = worst[2].max((f64::from(tanh(x)) - f64::from(x).tanh()).abs());
        }
        assert!(worst[0] < 3e-7, "exp relative error {:e}", worst[0]);
        assert!(worst[1] < 5e-7, "erf absolute error {:e}", worst[1]);
        assert!(worst[2] < 3e-7, "tanh absolute error {:e}", worst[2]);
        assert!(exp(-1e30) < 1e-37 && exp(-1e30) >= 0.0);
        assert!((exp(-20.0) / (-20.0f32).exp() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn gelu_derivatives_match_central_differences() {
        for tanh_form in [false, true] {
            for i in -80..=80 {
                let x = i as f32 * 0.1;
                let mut v = [x - 1e-3 - 0.5, x + 1e-3 - 0.5, x - 0.5];
                let g = gelu_forward(&mut v, &[0.5; 3], tanh_form);
                let numeric = (v[1] - v[0]) / 2e-3;
                assert!((numeric - g[2]).abs() < 2e-3, "{tanh_form} x = {x}: {numeric} vs {}", g[2]);
                let reference = if tanh_form {
                    0.5 * f64::from(x)
                        * (1.0 + (0.797_884_560_8 * (f64::from(x) + 0.044_715 * f64::from(x).powi(3))).tanh())
                } else {
                    0.5 * f64::from(x) * (1.0 + libm::erf(f64::from(x) / 2f64.sqrt()))
                };
                assert!(
                    (f64::from(v[2]) - reference).abs() < 1e-6 * (1.0 + f64::from(x.abs())),
                    "{tanh_form} gelu({x}) = {} vs {reference}",
                    v[2]
                );
            }
        }
    }

    #[test]
    fn layer_norm_backward_matches_central_differences() {
        let x: Vec<f32> = (0..6).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.7).collect();
        let (gamma, beta) = (vec![0.5, 1.5, -1.0], vec![0.1, 0.0, 0.2]);
        let dy = vec![0.3, -0.2, 0.9, 1.0, 0.5, -0.4];
        let (_, cache) = norm_forward(&x, &gamma, &beta, 1e-5);
        let dx = norm_backward(&dy, &gamma, &cache);
        for i in 0..x.len() {
            let f = |delta: f32| {
                let mut xp = x.clone();
                xp[i] += delta;
                let (y, _) = norm_forward(&xp, &gamma, &beta, 1e-5);
                y.iter().zip(&dy).map(|(a, b)| f64::from(a * b)).sum::<f64>()
            };
            let numeric = (f(1e-2) - f(-1e-2)) / 2e-2;
            assert!((numeric - f64::from(dx[i])).abs() < 2e-3, "dx[{i}]: {numeric} vs {}", dx[i]);
        }
    }
    /// Inputs over the ranges the routines see (and beyond the clamps), lengths that leave
    /// remainders for every vector width.
    fn spread(len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 % 1009) as f32 / 504.5 - 1.0) * scale).collect()
    }

    #[test]
    fn dispatched_element_wise_routines_equal_the_portable_build_bit_for_bit() {
        for len in [1, 7, 8, 31, 128, 1000] {
            for scale in [0.5, 6.0, 120.0] {
                let (mut x1, mut g1) = (spread(len, scale), vec![0.0; len]);
                let (mut x2, mut g2) = (x1.clone(), g1.clone());
                gelu_erf_slice(&mut x1, &mut g1);
                gelu_erf_slice_portable(&mut x2, &mut g2);
                assert_eq!((bits(&x1), bits(&g1)), (bits(&x2), bits(&g2)), "gelu erf, len {len}");
                let (mut x1, mut g1) = (spread(len, scale), vec![0.0; len]);
                let (mut x2, mut g2) = (x1.clone(), g1.clone());
                gelu_tanh_slice(&mut x1, &mut g1);
                gelu_tanh_slice_portable(&mut x2, &mut g2);
                assert_eq!((bits(&x1), bits(&g1)), (bits(&x2), bits(&g2)), "gelu tanh, len {len}");
                let (mut r1, mut r2) = (spread(len, scale), spread(len, scale));
                softmax_row(&mut r1);
                softmax_row_portable(&mut r2);
                assert_eq!(bits(&r1), bits(&r2), "softmax, len {len}");
            }
        }
    }

    pub(crate) fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }
}

#[cfg(test)]
mod gemm_tests {
    use super::*;
    use crate::ntk::fastfb::weights::HostLinear;

    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 37 + salt) % 101) as f32 / 50.0 - 1.0).collect()
    }

    #[test]
    fn linear_forward_and_backward_match_loops() {
        for &(rows, d_in, d_out) in &[(101usize, 64usize, 192usize), (7, 5, 3), (1, 64, 2), (33, 8, 128)] {
            let (a, w, b) = (values(rows * d_in, 1), values(d_in * d_out, 2), values(d_out, 3));
            let layer = HostLinear { name: String::new(), weight: w.clone(), bias: b.clone(), d_in, d_out };
            let y = layer.forward(&a, rows);
            let mut da = vec![0.5f32; rows * d_in];
            linear_backward_into(&mut da, &y, &w, rows, (d_in, d_out), true);
            for r in 0..rows {
                for o in 0..d_out {
                    let want: f32 = b[o] + (0..d_in).map(|k| a[r * d_in + k] * w[k * d_out + o]).sum::<f32>();
                    assert!((y[r * d_out + o] - want).abs() < 1e-4, "{rows}x{d_in}x{d_out} y at {r},{o}");
                }
                for k in 0..d_in {
                    let want: f32 = 0.5 + (0..d_out).map(|o| y[r * d_out + o] * w[k * d_out + o]).sum::<f32>();
                    assert!(
                        (da[r * d_in + k] - want).abs() < 1e-3 * want.abs().max(1.0),
                        "{rows}x{d_in}x{d_out} da at {r},{k}"
                    );
                }
            }
        }
    }

    #[test]
    fn strided_views_write_only_their_own_elements() {
        // A [rows, cols] window of a [rows, stride] buffer, plus a guard after it.
        let (rows, cols, stride, k) = (9, 5, 8, 4);
        let mut buf = vec![7.0f32; rows * stride + 64];
        let (a, w) = (values(rows * k, 4), values(k * cols, 5));
        gemm(
            view_mut(&mut buf[1..], rows, cols, stride),
            view(&a, rows, k, k),
            view(&w, k, cols, cols),
            false,
            Par::Seq,
        );
        for (i, &v) in buf.iter().enumerate() {
            let (r, c) =
                ((i as isize - 1).div_euclid(stride as isize), (i as isize - 1).rem_euclid(stride as isize) as usize);
            if i >= 1 && (r as usize) < rows && c < cols {
                let want: f32 = (0..k).map(|j| a[r as usize * k + j] * w[j * cols + c]).sum();
                assert!((v - want).abs() < 1e-5, "({r}, {c}): {v} vs {want}");
            } else {
                assert_eq!(v, 7.0, "element {i} outside the view was written");
            }
        }
    }

    #[test]
    fn fresh_buffers_are_zeros_copies_and_columns_whatever_their_chunking() {
        use super::tests::bits;
        for len in [0, 1, 5, FRESH_CHUNK - 1, FRESH_CHUNK, 2 * FRESH_CHUNK + 3] {
            let z = zeros(len);
            assert_eq!(z.len(), len);
            assert!(z.iter().all(|&v| v.to_bits() == 0), "zeros({len})");
            let x = values(len, 3);
            assert_eq!(bits(&copied(&x)), bits(&x), "copied, {len} elements");
        }
        // Rows spanning several chunks, a chunk boundary inside no row, the first and the last
        // columns, and no rows at all.
        for (rows, stride, start, width) in [(50_000, 7, 2, 3), (3, 7, 0, 7), (40_000, 5, 4, 1), (0, 4, 1, 2)] {
            let x = values(rows * stride, 5);
            let want: Vec<f32> = x.chunks(stride).flat_map(|r| r[start..start + width].iter().copied()).collect();
            let got = crate::ntk::fastfb::assemble::columns(&x, stride, start, width);
            assert_eq!(bits(&got), bits(&want), "columns {start}..{} of {rows} x {stride}", start + width);
        }
    }
}
