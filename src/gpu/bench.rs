//! Throughput of the Gram-assembly kernels (issue "GPU path", benchmark): achieved GFLOP/s of
//! every [`GramKernels`] method on seeded random inputs, against the device's own matmul rate
//! (burn's `matmul` on the same device, data resident) and the GEMM kernel alone with its data
//! resident on the device.
//!
//! FLOP counts are dense-equivalent and fixed per problem (the same for every implementation):
//! `gemm_nt` 2·n₁·n₂·k; `structured` R₁·R₂·(2·d_in + 2·d_out + 2); `token_match` 2·R₁·R₂·d (the
//! kernel skips tiles without a matching id, so its rate can exceed the device's); `outer_sums`
//! 2·R·d_in·d_out. Trait-level rows include the host→device upload and the read-back; the
//! `resident` rows do not. Every row also reports the error against
//! [`ReferenceKernels`]: max |Δ| / mean |reference|.

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{GEMM_K, TILED_GEMM};
use crate::gpu::launch::Prepared;
use crate::gpu::registry::Kernel;
use crate::ntk::kernels::{GramKernels, ReferenceKernels, Segmented};

/// Problem sizes of [`entk_rows`], [`matmul_rate`] and [`resident_gemm`].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct BenchSizes {
    /// Examples per side of the segmented kernels (default 8).
    pub examples: usize,
    /// Tokens per example (default 64; the segments are ragged: 3/4 of it up to all of it).
    pub tokens: usize,
    /// Activation width d_in (default 128).
    pub d_in: usize,
    /// Gradient width d_out (default 256).
    pub d_out: usize,
    /// Rows n of the square GEMM X Xᵀ-shaped problem (default 256).
    pub gemm_n: usize,
    /// Inner size k of the GEMM (default 4096).
    pub gemm_k: usize,
    /// Rows n of the small-output GEMM X Xᵀ (default 8: the per-layer eNTK of a few records).
    pub small_n: usize,
    /// Inner size k of the small-output GEMM (default 589824 = 384 · 1536, one MiniLM MLP weight).
    pub small_k: usize,
    /// Edge of burn's square matmul, the device's reference rate (default 1024).
    pub matmul_n: usize,
    /// Timed repetitions per row after one warm-up (default 3).
    pub repeats: usize,
    /// Seed of the random inputs (default 0).
    pub seed: u64,
    /// Compare every trait-level row with [`ReferenceKernels`] (default true; the plain-loop
    /// reference is single-threaded, so large problems on a GPU are timed without it).
    pub check: bool,
}

impl Default for BenchSizes {
    fn default() -> Self {
        Self {
            examples: 8,
            tokens: 64,
            d_in: 128,
            d_out: 256,
            gemm_n: 256,
            gemm_k: 4096,
            small_n: 8,
            small_k: 589_824,
            matmul_n: 1024,
            repeats: 3,
            seed: 0,
            check: true,
        }
    }
}

impl BenchSizes {
    /// Check every size is positive and the repetitions are ≥ 1.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first zero field.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("examples", self.examples),
            ("tokens", self.tokens),
            ("d_in", self.d_in),
            ("d_out", self.d_out),
            ("gemm_n", self.gemm_n),
            ("gemm_k", self.gemm_k),
            ("small_n", self.small_n),
            ("small_k", self.small_k),
            ("matmul_n", self.matmul_n),
            ("repeats", self.repeats),
        ];
        match fields.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(Error::setting(*name, "must be at least 1")),
            None => Ok(()),
        }
    }
}

/// One measured row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchRow {
    /// What ran, e.g. `gemm_nt` or `matmul (burn)`.
    pub kernel: String,
    /// The problem, e.g. `256x4096 · 256x4096ᵀ`.
    pub shape: String,
    /// Dense-equivalent floating-point operations of one run.
    pub flops: f64,
    /// Median seconds of one run.
    pub seconds: f64,
    /// flops / seconds / 10⁹.
    pub gflops: f64,
    /// max |Δ| / mean |reference| against [`ReferenceKernels`] (None where not compared).
    pub rel_error: Option<f64>,
}

fn row(kernel: &str, shape: String, flops: f64, seconds: f64, rel_error: Option<f64>) -> BenchRow {
    BenchRow { kernel: kernel.into(), shape, flops, seconds, gflops: flops / seconds.max(1e-12) / 1e9, rel_error }
}

/// Median wall time of `repeats` runs of `f` after one warm-up run.
fn time<T>(repeats: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut last = f()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        last = f()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], last))
}

/// max |a − b| / mean |b|.
pub fn relative_error(a: &[f64], reference: &[f64]) -> f64 {
    let scale = reference.iter().map(|v| v.abs()).sum::<f64>() / reference.len().max(1) as f64;
    let worst = a.iter().zip(reference).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    worst / scale.max(f64::MIN_POSITIVE)
}

/// `n` uniform values in [-1, 1).
pub fn random_values(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Ragged segment lengths: each between ⌈3·tokens/4⌉ and tokens.
pub fn ragged_rows(rng: &mut impl Rng, examples: usize, tokens: usize) -> Vec<usize> {
    let low = (3 * tokens).div_ceil(4).max(1);
    (0..examples).map(|_| rng.random_range(low..=tokens.max(low))).collect()
}

/// The name of [`matmul_rate`]'s row.
pub const MATMUL: &str = "matmul (burn)";

/// burn's square matmul on `device` (data resident): the device's own reference rate.
///
/// # Errors
/// [`Error::Numerical`] when the device fails to synchronize.
pub fn matmul_rate(device: &Device, n: usize, repeats: usize) -> Result<BenchRow> {
    let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let sync =
        || device.sync().map_err(|e| Error::Numerical { context: "burn matmul".into(), reason: format!("{e:?}") });
    let (seconds, _) = time(repeats, || {
        let c = a.clone().matmul(b.clone());
        sync()?;
        Ok(c)
    })?;
    Ok(row(MATMUL, format!("{n}x{n} · {n}x{n}"), 2.0 * (n * n * n) as f64, seconds, None))
}

/// The GEMM kernel alone with its inputs resident on the device (no upload, no read-back),
/// one launch of inner size min(k, 32768) (the most `gemm_nt` launches at once), split into
/// `slices` split-k slices, or (`None`) as many as `gemm_nt` chooses (`TILED_GEMM.slices`); the
/// host's f64 sum of the slices is not timed. One row per entry of `slices`, all on one upload.
///
/// # Errors
/// As [`Prepared::new`], [`Prepared::set_groups`] and [`Prepared::dispatch`].
pub fn resident_gemm(
    ctx: &GpuContext,
    n: usize,
    k: usize,
    slices: &[Option<usize>],
    repeats: usize,
    seed: u64,
) -> Result<Vec<BenchRow>> {
    let k = k.min(GEMM_K);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (x, y) = (random_values(&mut rng, n * k), random_values(&mut rng, n * k));
    let info = [n as u32, n as u32, k as u32, 0];
    let counts: Vec<usize> =
        slices.iter().map(|choice| choice.unwrap_or_else(|| TILED_GEMM.slices(n, n, k, usize::MAX)).max(1)).collect();
    // One upload for every slice count: the output holds the largest count's partial C's.
    let (_, out_len) = TILED_GEMM.launch(n, n, counts.iter().copied().max().unwrap_or(1));
    let inputs = [bytemuck::cast_slice(&x), bytemuck::cast_slice(&y)];
    let mut prepared = Prepared::new(ctx, Kernel::GemmNt, &inputs, &info, out_len, TILED_GEMM.launch(n, n, 1).0)?;
    let mut rows = Vec::with_capacity(slices.len());
    for (choice, &s) in slices.iter().zip(&counts) {
        prepared.set_groups(ctx, TILED_GEMM.launch(n, n, s).0)?;
        let (seconds, _) = time(repeats, || prepared.dispatch(ctx, 1))?;
        let how = if choice.is_some() { "set" } else { "auto" };
        rows.push(row(
            "gemm_nt (resident)",
            format!("{n}x{k} · {n}x{k}ᵀ, {s} slices ({how})"),
            2.0 * (n * n * k) as f64,
            seconds,
            None,
        ));
    }
    Ok(rows)
}

/// Trait-level rows for `kernels` (upload and read-back included), each checked against
/// [`ReferenceKernels`] on the same inputs.
///
/// # Errors
/// Whatever the kernels return.
pub fn entk_rows(kernels: &dyn GramKernels, sizes: &BenchSizes) -> Result<Vec<BenchRow>> {
    let mut rng = ChaCha8Rng::seed_from_u64(sizes.seed);
    let (n, k) = (sizes.gemm_n, sizes.gemm_k);
    let (x, y) = (random_values(&mut rng, n * k), random_values(&mut rng, n * k));
    let gemm = |kern: &dyn GramKernels| {
        let mut out = vec![0.0; n * n];
        kern.gemm_nt(&x, &y, k, &mut out).map(|_| out)
    };
    let mut rows =
        vec![checked("gemm_nt", format!("{n}x{k} · {n}x{k}ᵀ"), 2.0 * (n * n * k) as f64, sizes, kernels, &gemm)?];
    rows.push(small_gemm_row("gemm_nt (small C)", kernels, sizes)?);
    rows.extend(segmented_rows(kernels, sizes, &mut rng)?);
    Ok(rows)
}

/// The small-output GEMM X Xᵀ, `[small_n, small_k]` (the shape of a materialized Linear
/// weight's Gram for a few records; on wgpu `gemm_nt_small.wgsl` under the automatic choice),
/// through `kernels` with upload and read-back, checked like [`entk_rows`]. Dense-equivalent
/// FLOPs 2·n²·k although the kernels compute one triangle.
///
/// # Errors
/// Whatever the kernels return.
pub fn small_gemm_row(label: &str, kernels: &dyn GramKernels, sizes: &BenchSizes) -> Result<BenchRow> {
    let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(sizes.seed, &[1]));
    let (n, k) = (sizes.small_n, sizes.small_k);
    let x = random_values(&mut rng, n * k);
    let syrk = |kern: &dyn GramKernels| {
        let mut out = vec![0.0; n * n];
        kern.gemm_nt(&x, &x, k, &mut out).map(|_| out)
    };
    checked(label, format!("{n}x{k} · {n}x{k}ᵀ"), 2.0 * (n * n * k) as f64, sizes, kernels, &syrk)
}

/// The rows of the segmented kernels (`structured`, `token_match`, `outer_sums`).
fn segmented_rows(kernels: &dyn GramKernels, sizes: &BenchSizes, rng: &mut ChaCha8Rng) -> Result<Vec<BenchRow>> {
    let (di, dout, ne) = (sizes.d_in, sizes.d_out, sizes.examples);
    let (r1, r2) = (ragged_rows(rng, ne, sizes.tokens), ragged_rows(rng, ne, sizes.tokens));
    let (t1, t2): (usize, usize) = (r1.iter().sum(), r2.iter().sum());
    let (a1v, g1v) = (random_values(rng, t1 * di), random_values(rng, t1 * dout));
    let (a2v, g2v) = (random_values(rng, t2 * di), random_values(rng, t2 * dout));
    let (a1, g1) = (Segmented::new(&a1v, di, &r1)?, Segmented::new(&g1v, dout, &r1)?);
    let (a2, g2) = (Segmented::new(&a2v, di, &r2)?, Segmented::new(&g2v, dout, &r2)?);
    // Ids drawn from a vocabulary of `tokens` ids so that many token pairs match.
    let vocab = (sizes.tokens as u32).max(2);
    let ids1: Vec<u32> = (0..t1).map(|_| rng.random_range(0..vocab)).collect();
    let ids2: Vec<u32> = (0..t2).map(|_| rng.random_range(0..vocab)).collect();
    let square = |kern: &dyn GramKernels, f: &dyn Fn(&dyn GramKernels, &mut [f64]) -> Result<()>| {
        let mut out = vec![0.0; ne * ne];
        f(kern, &mut out).map(|_| out)
    };
    let structured = |kern: &dyn GramKernels| square(kern, &|k, out| k.structured(a1, g1, a2, g2, out));
    let matched = |kern: &dyn GramKernels| square(kern, &|k, out| k.token_match(&ids1, g1, &ids2, g2, out));
    let outer =
        |kern: &dyn GramKernels| kern.outer_sums(a1, g1).map(|v| v.into_iter().map(f64::from).collect::<Vec<_>>());
    let rows = (t1 * t2) as f64;
    Ok(vec![
        checked(
            "structured",
            format!("{ne}+{ne} examples, {t1}+{t2} rows, d_in {di}, d_out {dout}"),
            rows * (2 * di + 2 * dout + 2) as f64,
            sizes,
            kernels,
            &structured,
        )?,
        checked(
            "token_match",
            format!("{ne}+{ne} examples, {t1}+{t2} rows, d {dout}, vocab {vocab}"),
            2.0 * rows * dout as f64,
            sizes,
            kernels,
            &matched,
        )?,
        checked(
            "outer_sums",
            format!("{ne} examples, {t1} rows, {dout}x{di}"),
            2.0 * (t1 * di * dout) as f64,
            sizes,
            kernels,
            &outer,
        )?,
    ])
}

type Job<'a> = dyn Fn(&dyn GramKernels) -> Result<Vec<f64>> + 'a;

fn checked(
    kernel: &str,
    shape: String,
    flops: f64,
    sizes: &BenchSizes,
    kernels: &dyn GramKernels,
    job: &Job,
) -> Result<BenchRow> {
    let (seconds, out) = time(sizes.repeats, || job(kernels))?;
    let error = if sizes.check { Some(relative_error(&out, &job(&ReferenceKernels)?)) } else { None };
    Ok(row(kernel, shape, flops, seconds, error))
}

/// Render rows as the aligned table `ntkgap bench kernels` prints; the last column is each row's
/// rate as a share of the `matmul (burn)` row (the device's own matmul rate; issue 6's target is
/// ≥ 50 % for the Gram assembly at N ≥ 1024), `-` when no matmul row was measured.
pub fn render(rows: &[BenchRow]) -> String {
    let matmul = rows.iter().find(|r| r.kernel == MATMUL).map(|r| r.gflops);
    let mut s = format!(
        "{:<20} {:<52} {:>10} {:>10} {:>10} {:>10}\n",
        "kernel", "shape", "seconds", "GFLOP/s", "vs matmul", "rel.err"
    );
    for r in rows {
        let err = r.rel_error.map_or("-".to_string(), |e| format!("{e:.1e}"));
        let share = matmul.filter(|m| *m > 0.0).map_or("-".to_string(), |m| format!("{:.0} %", 100.0 * r.gflops / m));
        s.push_str(&format!(
            "{:<20} {:<52} {:>10.4} {:>10.3} {:>10} {:>10}\n",
            r.kernel, r.shape, r.seconds, r.gflops, share, err
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_states_each_rate_against_the_matmul_row() {
        let rows = [
            row("gemm_nt", "n".into(), 5e9, 1.0, Some(1e-7)),
            row(MATMUL, "m".into(), 1e10, 1.0, None),
            row("structured", "s".into(), 2.5e9, 1.0, None),
        ];
        let table = render(&rows);
        let share = |kernel: &str| {
            table.lines().find(|l| l.starts_with(kernel)).unwrap().split_whitespace().rev().nth(2).unwrap().to_string()
        };
        assert_eq!(share("gemm_nt"), "50");
        assert_eq!(share("matmul"), "100");
        assert_eq!(share("structured"), "25");
        assert!(render(&rows[..1]).lines().nth(1).unwrap().contains(" - "), "no matmul row: no share");
    }
}
