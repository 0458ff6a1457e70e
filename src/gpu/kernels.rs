//! [`WgpuKernels`]: the [`GramKernels`] of the per-layer eNTK on a wgpu device, through the WGSL
//! kernels of `kernels/` ([`crate::gpu::registry`]).
//!
//! Precision: f32 on the device with blocked (multi-level) f32 sums inside each launch; every
//! `gemm_nt` workgroup sums at most 4096 values of the inner dimension (split-k slices of a
//! launch of at most 32768), every `gemm_nt_small` thread at most 64 (slices of at most 16384,
//! its 256 threads' sums added by a tree; chosen for small outputs, [`small_gemm`]), every
//! `structured`/`token_match` workgroup one 64 × 64 tile
//! pair per example-piece pair, and the slices', launches' and pieces' partial results are
//! added in f64 on the host. `outer_sums` returns f32 (as the trait does),
//! summed over one example's tokens. Measured errors against
//! [`crate::ntk::kernels::ReferenceKernels`] are in `docs/gpu.md`.
//!
//! Work is split on the host so that no binding exceeds the device's limits and no shader loop
//! runs long (lavapipe's loop limit, see `GEMM_K`): rows of X/Y and the inner dimension for `gemm_nt`; for the
//! segmented kernels every example is cut into pieces of at most 64 rows (one tile pair per
//! workgroup; the terms are sums over token pairs, so pieces add up exactly) and pieces are
//! grouped into launches. When both sides are the same slices (a diagonal block of a square K)
//! only the upper triangle is computed and then mirrored, so the result is exactly symmetric.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::gpu::context::{context, GpuContext};
use crate::gpu::launch::{max_binding_bytes, run};
use crate::gpu::registry::Kernel;
use crate::ntk::kernels::{check_out, check_same_segments, GramKernels, Segmented};

/// Row piece of the segmented kernels (`TILE` in `structured.wgsl` and `token_match.wgsl`).
const TILE: usize = 64;
/// Output tile edge of `gemm_nt` and `outer_sums` (`TILE` in `kernels/gemm_nt.wgsl` and
/// `kernels/outer_sums.wgsl`: 128 × 128 per workgroup, 8 × 8 per thread).
const GEMM_TILE: usize = 128;
/// Rows of X (and of Y) per `gemm_nt` launch: the output stays at 16 MiB.
const GEMM_ROWS: usize = 2048;
/// Inner size per `gemm_nt` launch (split into slices of [`GEMM_SLICE`], at most 256 k-tiles of
/// 16 per workgroup), and rows per piece of an example in the segmented kernels (one 64 × 64
/// tile pair per workgroup). Both keep every shader loop far below 65535 iterations per
/// invocation: Mesa's llvmpipe (lavapipe) silently stops a loop after 65535 iterations in
/// total (`LP_MAX_TGSI_LOOP_ITERATIONS`; docs/gpu.md shows what that did to a first
/// `gemm_nt`). Splitting changes nothing on other devices except
/// the order of the f64 host sums.
pub(crate) const GEMM_K: usize = 32768;
/// Values of k per split-k slice of `gemm_nt`: one workgroup sums at most this many in f32 (a
/// partial per 64 values, at most 64 partials), and the slices' results are added in f64 on the
/// host. It bounds the f32 rounding (measured in docs/gpu.md); [`TILED_GEMM`] may cut finer
/// for occupancy.
const GEMM_SLICE: usize = 4096;
const SEGMENT_ROWS: usize = TILE;

/// Which WGSL kernel [`GramKernels::gemm_nt`] launches on a `[m1, k] · [m2, k]ᵀ` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GemmChoice {
    /// By output size ([`small_gemm`]): `gemm_nt_small.wgsl` when the 128 × 128 tiles would be
    /// at most 1/4 useful, `gemm_nt.wgsl` otherwise (the default).
    #[default]
    Auto,
    /// Always `gemm_nt.wgsl` (128 × 128 register-blocked tiles).
    Tiled,
    /// Always `gemm_nt_small.wgsl` (8 × 8 blocks, k split over a workgroup's 256 threads).
    Small,
}

/// The Gram kernels on the process's wgpu device.
#[derive(Debug, Clone, Copy)]
pub struct WgpuKernels {
    ctx: &'static GpuContext,
    gemm: GemmChoice,
}

impl WgpuKernels {
    /// The kernels on [`context`]'s device.
    ///
    /// # Errors
    /// As [`context`] (no adapter, or the device cannot be created).
    pub fn new() -> Result<Self> {
        Ok(Self::on(context()?))
    }

    /// The kernels on a given context.
    pub fn on(ctx: &'static GpuContext) -> Self {
        Self { ctx, gemm: GemmChoice::Auto }
    }

    /// The same kernels with `gemm_nt` forced to one WGSL kernel (tests and benchmarks compare
    /// the two; the result differs only by f32 rounding).
    pub fn with_gemm(self, gemm: GemmChoice) -> Self {
        Self { gemm, ..self }
    }

    /// The context they run on.
    pub fn context(&self) -> &'static GpuContext {
        self.ctx
    }
}

/// Workgroups along one dimension of `n` for a kernel with output tile edge `tile`.
fn groups_of(n: usize, tile: usize) -> u32 {
    n.div_ceil(tile) as u32
}

/// Workgroups a `gemm_nt` launch aims for: when the output has few 128 × 128 tiles (n ≤ 2048
/// at k ≤ 4096, say), split-k adds slices, down to [`GEMM_MIN_SLICE`] values of k each, until
/// the launch has at least this many. The reasoning (not measured on a GPU: none was lent,
/// issue 6): one 256-thread workgroup holding 128 accumulators per thread fills most of an SM's
/// registers, and an H200 has 132 SMs, so 264 workgroups are about two full waves; a 64-tile
/// launch would leave half of the SMs idle. The price is a larger output (s partial C's) read
/// back and added on the host in f64 (its cost on lavapipe: docs/gpu.md).
const GEMM_WORKGROUPS: usize = 264;
/// Fewest values of k per split-k slice added for occupancy ([`GEMM_WORKGROUPS`]): each extra
/// slice's read-back (one f32 per output) stays below 1/2048 of its multiply-adds.
const GEMM_MIN_SLICE: usize = 1024;

/// One of the two WGSL kernels behind [`GramKernels::gemm_nt`] and how the host splits k for it:
/// at least ⌈len / `slice`⌉ slices (the precision bound), more while the launch has fewer than
/// [`GEMM_WORKGROUPS`] workgroups and each slice keeps ≥ `min_slice` values of k, never more than
/// the output binding allows unless precision needs them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GemmKernel {
    kernel: Kernel,
    /// Output block edge per workgroup.
    block: usize,
    /// Most values of k per slice (precision).
    slice: usize,
    /// Fewest values of k per slice added for occupancy.
    min_slice: usize,
    /// Most values of k per launch (the shader's loop lengths), `usize::MAX` for no bound.
    launch_k: usize,
}

/// `gemm_nt.wgsl`: 128 × 128 tiles; slices of ≤ [`GEMM_SLICE`], ≥ [`GEMM_MIN_SLICE`] added for
/// occupancy; launches of ≤ [`GEMM_K`].
pub(crate) const TILED_GEMM: GemmKernel = GemmKernel {
    kernel: Kernel::GemmNt,
    block: GEMM_TILE,
    slice: GEMM_SLICE,
    min_slice: GEMM_MIN_SLICE,
    launch_k: GEMM_K,
};

/// `gemm_nt_small.wgsl`: 8 × 8 blocks (`R` in its WGSL); each of the 256 threads sums at most 64
/// values of k of a slice of ≤ 16384 in f32 (the bound of `gemm_nt`'s first level); slices of
/// ≥ 4096 (16 per thread, so that the reduction tree stays a small part of the work) added for
/// occupancy; its per-thread loops stay short for any k, so only the bindings bound a launch.
pub(crate) const SMALL_GEMM: GemmKernel =
    GemmKernel { kernel: Kernel::GemmNtSmall, block: 8, slice: 16384, min_slice: 4096, launch_k: usize::MAX };

impl GemmKernel {
    /// How many split-k slices this kernel uses on `[m1, len] · [m2, len]ᵀ`, `most` being the
    /// output binding's limit.
    pub(crate) fn slices(&self, m1: usize, m2: usize, len: usize, most: usize) -> usize {
        let needed = len.div_ceil(self.slice).max(1);
        let blocks = (groups_of(m1, self.block) as usize * groups_of(m2, self.block) as usize).max(1);
        let wanted = GEMM_WORKGROUPS.div_ceil(blocks).min(len.div_ceil(self.min_slice));
        needed.max(wanted.min(most))
    }

    /// The launch on `[m1, len] · [m2, len]ᵀ` in `slices` slices: the dispatch
    /// (⌈m2 / block⌉, ⌈m1 / block⌉, s) and the output length s · m1 · m2 (slice z at offset
    /// z · m1 · m2).
    pub(crate) fn launch(&self, m1: usize, m2: usize, slices: usize) -> ([u32; 3], usize) {
        let slices = slices.max(1);
        ([groups_of(m2, self.block), groups_of(m1, self.block), slices as u32], slices * m1 * m2)
    }
}

/// Does `gemm_nt` on a `[m1, k] · [m2, k]ᵀ` block take `gemm_nt_small` under
/// [`GemmChoice::Auto`]? When the block fills at most a quarter of its 128 × 128 tiles (one
/// tile of 64 × 64 or less, 8 × 512, …): there the tiled kernel computes ≥ 4× the useful
/// multiply-adds. On lavapipe the small kernel wins up to 64 × 64 and loses at 128 × 128 (the
/// sweep is in docs/gpu.md). On a GPU the
/// small kernel reads X and Y once per 8-wide block (from cache, mostly) where the tiled one
/// reads them once per tile; the crossover there is unmeasured (no GPU was lent, issue 6).
pub fn small_gemm(m1: usize, m2: usize) -> bool {
    let tiles = groups_of(m1, GEMM_TILE) as usize * groups_of(m2, GEMM_TILE) as usize;
    4 * m1 * m2 <= tiles * GEMM_TILE * GEMM_TILE
}

fn same_slice<T>(a: &[T], b: &[T]) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// c[i, j] = c[j, i] for i > j.
fn mirror_lower(c: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..i {
            c[i * n + j] = c[j * n + i];
        }
    }
}

/// Add a launch output `[r, w]` into `c` (f64) at rows `i0..`, columns `j0..` of width `n2`.
fn add_block(c: &mut [f64], n2: usize, (i0, j0): (usize, usize), (r, w): (usize, usize), block: &[f32]) {
    for i in 0..r {
        for j in 0..w {
            c[(i0 + i) * n2 + j0 + j] += f64::from(block[i * w + j]);
        }
    }
}

/// Columns `k0..k0 + kc` of rows `rows` of a row-major `[_, k]` matrix (borrowed when whole).
fn sub_block(m: &[f32], k: usize, rows: std::ops::Range<usize>, k0: usize, kc: usize) -> Cow<'_, [f32]> {
    if k0 == 0 && kc == k {
        return Cow::Borrowed(&m[rows.start * k..rows.end * k]);
    }
    Cow::Owned(rows.flat_map(|r| m[r * k + k0..r * k + k0 + kc].iter().copied()).collect())
}

impl WgpuKernels {
    fn gemm_block(
        &self,
        x: &[f32],
        y: &[f32],
        k: usize,
        (r1, r2): (std::ops::Range<usize>, std::ops::Range<usize>),
        sym: bool,
        c: &mut [f64],
        n2: usize,
    ) -> Result<()> {
        let (m1, m2) = (r1.len(), r2.len());
        let gemm = match self.gemm {
            GemmChoice::Auto if small_gemm(m1, m2) => SMALL_GEMM,
            GemmChoice::Auto | GemmChoice::Tiled => TILED_GEMM,
            GemmChoice::Small => SMALL_GEMM,
        };
        let limit = max_binding_bytes(self.ctx);
        let (per_col, outputs) = (4 * m1.max(m2) as u64, (limit / (4 * (m1 * m2) as u64)).max(1) as usize);
        let kc = ((limit / per_col) as usize).clamp(1, k.min(gemm.launch_k).min(outputs * gemm.slice));
        let kc = if kc >= 16 && kc < k { kc / 16 * 16 } else { kc };
        let mut k0 = 0;
        while k0 < k {
            let len = kc.min(k - k0);
            let xs = sub_block(x, k, r1.clone(), k0, len);
            // A diagonal block binds one upload twice (Prepared::new shares equal inputs).
            let ys = if sym { Cow::Borrowed(&xs[..]) } else { sub_block(y, k, r2.clone(), k0, len) };
            let info = [m1 as u32, m2 as u32, len as u32, u32::from(sym)];
            let inputs: [&[u8]; 2] = [bytemuck::cast_slice(&xs), bytemuck::cast_slice(&ys)];
            let (groups, out_len) = gemm.launch(m1, m2, gemm.slices(m1, m2, len, outputs));
            let slices = run(self.ctx, gemm.kernel, &inputs, &info, out_len, groups)?;
            for block in slices.chunks_exact(m1 * m2) {
                add_block(c, n2, (r1.start, r2.start), (m1, m2), block);
            }
            k0 += len;
        }
        Ok(())
    }
}

/// Consecutive example groups `[start, end)` whose rows fit `limit` bytes at `width` f32 per
/// row and that hold at most `most` examples each.
fn example_groups(rows: &[usize], width: usize, limit: u64, most: usize, what: &str) -> Result<Vec<(usize, usize)>> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, &r) in rows.iter().enumerate() {
        let b = (r * width.max(1) * 4) as u64;
        if b > limit {
            return Err(Error::invalid(
                what,
                format!("example {i} needs {b} bytes, above the device's binding limit of {limit}"),
            ));
        }
        if i > start && (bytes + b > limit || i - start == most) {
            groups.push((start, i));
            (start, bytes) = (i, 0);
        }
        bytes += b;
    }
    if start < rows.len() {
        groups.push((start, rows.len()));
    }
    Ok(groups)
}

/// Local row offsets of examples `g.0..g.1`, and their global row range.
fn local_offsets(rows: &[usize], g: (usize, usize)) -> (Vec<u32>, std::ops::Range<usize>) {
    let start: usize = rows[..g.0].iter().sum();
    let mut off = vec![0u32];
    let mut at = 0;
    for &r in &rows[g.0..g.1] {
        at += r;
        off.push(at as u32);
    }
    (off, start..start + at)
}

/// One side of a pair kernel: the rows of a group of example pieces.
struct Side<'a> {
    group: (usize, usize),
    off: Vec<u32>,
    first: &'a [u8],
    second: &'a [u8],
}

impl WgpuKernels {
    /// Run a pair kernel (`Structured` or `TokenMatch`) over every pair of example groups and
    /// return the `[V₁, V₂]` result (the lower triangle mirrored when `sym`). `side(which,
    /// group)` gives that group's two input buffers; `head` the info fields before the
    /// symmetric flag.
    fn pair_kernel<'a>(
        &self,
        kernel: Kernel,
        (groups1, groups2): (&[(usize, usize)], &[(usize, usize)]),
        sym: bool,
        side: &dyn Fn(usize, (usize, usize)) -> Side<'a>,
        head: &[u32],
        (n1, n2): (usize, usize),
    ) -> Result<Vec<f64>> {
        let mut c = vec![0.0; n1 * n2];
        for (gi, &g1) in groups1.iter().enumerate() {
            for (gj, &g2) in groups2.iter().enumerate() {
                if sym && gj < gi {
                    continue;
                }
                let (p, q) = (side(1, g1), side(2, g2));
                let (m1, m2) = (p.group.1 - p.group.0, q.group.1 - q.group.0);
                let mut info: Vec<u32> = vec![m1 as u32, m2 as u32];
                info.extend_from_slice(head);
                info.push(u32::from(sym && gi == gj));
                info.extend(&p.off);
                info.extend(&q.off);
                let inputs = [p.first, p.second, q.first, q.second];
                let block = run(self.ctx, kernel, &inputs, &info, m1 * m2, [m2 as u32, m1 as u32, 1])?;
                add_block(&mut c, n2, (g1.0, g2.0), (m1, m2), &block);
            }
        }
        if sym {
            mirror_lower(&mut c, n1);
        }
        Ok(c)
    }
}

/// Split every example's rows into pieces of at most [`SEGMENT_ROWS`]: the pieces' row counts
/// and the example each belongs to (an example without rows has no piece).
fn split_segments(rows: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let (mut pieces, mut owner) = (Vec::new(), Vec::new());
    for (i, &r) in rows.iter().enumerate() {
        for start in (0..r).step_by(SEGMENT_ROWS) {
            pieces.push((r - start).min(SEGMENT_ROWS));
            owner.push(i);
        }
    }
    (pieces, owner)
}

/// Add the piece-pair results `[V₁, V₂]` into `out` `[n₁, n₂]` by owner; exact symmetry when
/// `sym` (the upper triangle is mirrored).
fn fold_pieces(
    c: &[f64],
    (owner1, owner2): (&[usize], &[usize]),
    (n1, n2): (usize, usize),
    sym: bool,
    out: &mut [f64],
) {
    let mut k = vec![0.0; n1 * n2];
    for (vi, &i) in owner1.iter().enumerate() {
        for (vj, &j) in owner2.iter().enumerate() {
            k[i * n2 + j] += c[vi * owner2.len() + vj];
        }
    }
    if sym {
        mirror_lower(&mut k, n1);
    }
    out.iter_mut().zip(&k).for_each(|(o, v)| *o += v);
}

fn rows_bytes<'a>(values: &'a [f32], rows: &std::ops::Range<usize>, width: usize) -> &'a [u8] {
    bytemuck::cast_slice(&values[rows.start * width..rows.end * width])
}

impl GramKernels for WgpuKernels {
    fn name(&self) -> String {
        format!("wgpu: {}", self.ctx.adapter.describe())
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
        let sym = same_slice(x, y);
        let mut c = vec![0.0; n1 * n2];
        for b1 in (0..n1).step_by(GEMM_ROWS) {
            for b2 in (0..n2).step_by(GEMM_ROWS) {
                if sym && b2 < b1 {
                    continue;
                }
                let ranges = (b1..(b1 + GEMM_ROWS).min(n1), b2..(b2 + GEMM_ROWS).min(n2));
                self.gemm_block(x, y, k, ranges, sym && b1 == b2, &mut c, n2)?;
            }
        }
        if sym {
            mirror_lower(&mut c, n1);
        }
        out.iter_mut().zip(&c).for_each(|(o, v)| *o += v);
        Ok(())
    }

    fn structured(&self, a1: Segmented, g1: Segmented, a2: Segmented, g2: Segmented, out: &mut [f64]) -> Result<()> {
        check_same_segments(&a1, &g1)?;
        check_same_segments(&a2, &g2)?;
        if a1.width != a2.width || g1.width != g2.width {
            return Err(Error::invalid(
                "structured",
                format!("widths differ: a {} vs {}, g {} vs {}", a1.width, a2.width, g1.width, g2.width),
            ));
        }
        let (n1, n2) = (a1.examples(), a2.examples());
        check_out(out, n1, n2)?;
        let sym = same_slice(a1.values, a2.values) && same_slice(g1.values, g2.values) && a1.rows == a2.rows;
        let ((p1, o1), (p2, o2)) = (split_segments(a1.rows), split_segments(a2.rows));
        let (limit, most) =
            (max_binding_bytes(self.ctx), self.ctx.limits.max_compute_workgroups_per_dimension as usize);
        let width = a1.width.max(g1.width);
        let groups1 = example_groups(&p1, width, limit, most, "structured")?;
        let groups2 = example_groups(&p2, width, limit, most, "structured")?;
        let side = |which: usize, group: (usize, usize)| {
            let (a, g, pieces) = if which == 1 { (a1, g1, &p1) } else { (a2, g2, &p2) };
            let (off, rows) = local_offsets(pieces, group);
            Side {
                group,
                first: rows_bytes(a.values, &rows, a.width),
                second: rows_bytes(g.values, &rows, g.width),
                off,
            }
        };
        let head = [a1.width as u32, g1.width as u32];
        let c = self.pair_kernel(Kernel::Structured, (&groups1, &groups2), sym, &side, &head, (p1.len(), p2.len()))?;
        fold_pieces(&c, (&o1, &o2), (n1, n2), sym, out);
        Ok(())
    }

    fn token_match(&self, ids1: &[u32], g1: Segmented, ids2: &[u32], g2: Segmented, out: &mut [f64]) -> Result<()> {
        if ids1.len() != g1.total_rows() || ids2.len() != g2.total_rows() {
            return Err(Error::internal("token_match", "one id per gradient row expected".to_string()));
        }
        if g1.width != g2.width {
            return Err(Error::internal(
                "token_match",
                format!("gradient widths differ: {} vs {}", g1.width, g2.width),
            ));
        }
        let (n1, n2) = (g1.examples(), g2.examples());
        check_out(out, n1, n2)?;
        let sym = same_slice(ids1, ids2) && same_slice(g1.values, g2.values) && g1.rows == g2.rows;
        let ((p1, o1), (p2, o2)) = (split_segments(g1.rows), split_segments(g2.rows));
        let (limit, most) =
            (max_binding_bytes(self.ctx), self.ctx.limits.max_compute_workgroups_per_dimension as usize);
        let groups1 = example_groups(&p1, g1.width, limit, most, "token_match")?;
        let groups2 = example_groups(&p2, g2.width, limit, most, "token_match")?;
        let side = |which: usize, group: (usize, usize)| {
            let (ids, g, pieces) = if which == 1 { (ids1, g1, &p1) } else { (ids2, g2, &p2) };
            let (off, rows) = local_offsets(pieces, group);
            Side {
                group,
                first: bytemuck::cast_slice(&ids[rows.clone()]),
                second: rows_bytes(g.values, &rows, g.width),
                off,
            }
        };
        let c = self.pair_kernel(
            Kernel::TokenMatch,
            (&groups1, &groups2),
            sym,
            &side,
            &[g1.width as u32],
            (p1.len(), p2.len()),
        )?;
        fold_pieces(&c, (&o1, &o2), (n1, n2), sym, out);
        Ok(())
    }

    fn outer_sums(&self, a: Segmented, g: Segmented) -> Result<Vec<f32>> {
        check_same_segments(&a, &g)?;
        let (d_in, d_out) = (a.width, g.width);
        let size = d_in * d_out;
        let mut out = vec![0.0f32; a.examples() * size];
        if size == 0 || a.examples() == 0 {
            return Ok(out);
        }
        if let Some(i) = a.rows.iter().position(|&r| r > GEMM_K) {
            return Err(Error::invalid(
                "outer_sums",
                format!("example {i} has {} rows, above {GEMM_K} per launch", a.rows[i]),
            ));
        }
        let limit = max_binding_bytes(self.ctx);
        let most =
            (limit / (4 * size as u64)).min(u64::from(self.ctx.limits.max_compute_workgroups_per_dimension)) as usize;
        if most == 0 {
            return Err(Error::invalid(
                "outer_sums",
                format!("one [{d_out}, {d_in}] gradient exceeds the device's binding limit of {limit} bytes"),
            ));
        }
        for group in example_groups(a.rows, d_in.max(d_out), limit, most, "outer_sums")? {
            let (off, rows) = local_offsets(a.rows, group);
            let m = group.1 - group.0;
            let mut info = vec![m as u32, d_in as u32, d_out as u32];
            info.extend(&off);
            let inputs = [rows_bytes(a.values, &rows, d_in), rows_bytes(g.values, &rows, d_out)];
            let values = run(
                self.ctx,
                Kernel::OuterSums,
                &inputs,
                &info,
                m * size,
                [groups_of(d_in, GEMM_TILE), groups_of(d_out, GEMM_TILE), m as u32],
            )?;
            out[group.0 * size..group.1 * size].copy_from_slice(&values);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_k_fills_small_launches_within_the_precision_and_binding_bounds() {
        // 64 tiles: 5 slices would reach 264 workgroups; 4 keep 1024 values of k each.
        assert_eq!(TILED_GEMM.slices(1024, 1024, 4096, usize::MAX), 4);
        assert_eq!(TILED_GEMM.slices(1024, 1024, 1024, usize::MAX), 1);
        assert_eq!(TILED_GEMM.slices(1024, 1024, 32768, usize::MAX), 8);
        // 1024 tiles need no split beyond the precision bound (8 × 4096 = 32768).
        assert_eq!(TILED_GEMM.slices(4096, 4096, 32768, usize::MAX), 8);
        // One tile: as many slices as keep 1024 values of k each.
        assert_eq!(TILED_GEMM.slices(8, 8, 32768, usize::MAX), 32);
        assert_eq!(TILED_GEMM.slices(8, 8, 100, usize::MAX), 1);
        // The binding limit caps the extra slices, never the ones precision needs.
        assert_eq!(TILED_GEMM.slices(1024, 1024, 4096, 2), 2);
        assert_eq!(TILED_GEMM.slices(8, 8, 32768, 4), 8);
        assert_eq!(TILED_GEMM.launch(300, 200, 3), ([2, 3, 3], 3 * 300 * 200));
    }

    #[test]
    fn the_small_kernel_splits_long_k_for_precision_then_occupancy() {
        // 8 × 8 (one block), k = 589824 (a 384 × 1536 MiniLM weight): 144 slices of 4096.
        assert_eq!(SMALL_GEMM.slices(8, 8, 589_824, usize::MAX), 144);
        // 264 blocks need no occupancy split; precision still cuts 2^18 into 16 slices.
        assert_eq!(SMALL_GEMM.slices(8, 2112, 1 << 18, usize::MAX), 16);
        assert_eq!(SMALL_GEMM.slices(8, 8, 100, usize::MAX), 1);
        // The binding limit caps the occupancy slices only.
        assert_eq!(SMALL_GEMM.slices(8, 8, 589_824, 10), 36);
        assert_eq!(SMALL_GEMM.launch(13, 8, 5), ([1, 2, 5], 5 * 13 * 8));
    }
}
