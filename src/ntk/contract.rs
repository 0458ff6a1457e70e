//! Exact per-parameter Gram contributions ⟨∇θ f(xᵢ), ∇θ f(xⱼ)⟩ from the stored signals, every
//! product routed through a [`GramKernels`] implementation (docs/science.md "The fast eNTK"):
//!
//! * Linear weight, materialized: each virtual example's gradient Σₜ gₜ aₜᵀ is formed once
//!   ([`GramKernels::outer_sums_into`]), a chunk of output channels at a time into one reused
//!   buffer, then contracted by large-tile GEMMs ([`GramKernels::gemm_nt`]; the square K only
//!   on/above the diagonal). The feature matrix of *all* examples of a chunk fits a quarter of
//!   the memory budget; when the layer's signals fit a quarter they are loaded once and the
//!   chunks are as large as [`GramKernels::chunk_features`] asks (cache-sized on the CPU:
//!   [`crate::ntk::cpu_kernels::CHUNK_FEATURES`] per example), so the gradients are formed and
//!   contracted in cache instead of being written to memory and read back.
//! * Linear weight, structured: Σₜₛ (aᵢ,ₜ·aⱼ,ₛ)(gᵢ,ₜ·gⱼ,ₛ) per example pair
//!   ([`GramKernels::structured`]); chosen by cost for very few examples or short inputs.
//! * Biases, LayerNorm γ/β ("small" groups): per-example sums formed during the backward phase,
//!   contracted like materialized weights.
//! * Embedding tables: the token-match term Σₜₛ [idᵢ,ₜ = idⱼ,ₛ] (gᵢ,ₜ·gⱼ,ₛ)
//!   ([`GramKernels::token_match`]), never a dense table gradient.
//!
//! Every kernel call happens on the canonical tile grid of [`crate::ntk::tiles`], so a row slab
//! reproduces the unsharded values bit for bit.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::model::LayerKind;
use crate::ntk::kernels::{GramKernels, Segmented};
use crate::ntk::options::LinearForm;
use crate::ntk::outputs::Layout;
use crate::ntk::store::{BlockRef, Loaded, SignalStore, StoredLayer};
use crate::ntk::tiles::{place, tasks, Grid, TileTask};

/// A side's signals of one Linear layer, loaded once for all its channel chunks.
enum Preloaded<'s> {
    /// The in-memory store's blocks, borrowed.
    Blocks(Vec<BlockRef<'s>>),
    /// Every example, read from the spill files.
    Loaded(&'s Loaded),
}

/// Buffers that every materialized Linear weight of a contraction reuses (a large buffer
/// allocated afresh is faulted in and zeroed by the kernel page by page: at N = 128 that was a
/// tenth of the contraction's time).
#[derive(Default)]
pub struct Scratch(Mutex<Buffers>);

#[derive(Default)]
struct Buffers {
    /// The features of a chunk, per side.
    features: [Vec<f32>; 2],
    /// Preloaded signals per side, and a group of examples' signals.
    loaded: [Loaded; 3],
}

/// Where a parameter group's per-example information lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSource {
    /// Per-virtual-example sums of width `d` (biases, LayerNorm γ/β), index into the sides' small features.
    Small {
        /// Index into [`Side::small`].
        index: usize,
        /// Width.
        d: usize,
    },
    /// A Linear weight, index into the stores' layers.
    Linear(usize),
    /// An embedding table, index into the stores' layers.
    Embedding(usize),
}

/// How a materialized Linear weight is chunked ([`Contraction::chunking`]).
struct Chunking {
    /// Chunks of input columns (Aᵀ G) instead of output channels (Gᵀ A).
    by_input: bool,
    /// Channels to chunk: `d_in` or `d_out`.
    count: usize,
    /// Features per channel: the other dimension.
    width: usize,
}

/// One parameter tensor of the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Hugging Face name, e.g. `bert.encoder.layer.0.attention.self.query.weight`.
    pub param: String,
    /// Where its signals are.
    pub source: GroupSource,
}

/// One side (X₁ or X₂) of the computation.
pub struct Side<'a> {
    /// Per-token signals of Linear weights and embedding tables.
    pub store: &'a SignalStore,
    /// Per-virtual-example sums of the small groups, each `[examples·V, d]` example-major.
    pub small: &'a [Vec<f32>],
    /// Tiles over the stored examples.
    pub grid: Grid,
    /// Examples of the whole side (not just the stored slab): cost and chunk decisions use it.
    pub total_examples: usize,
    /// Real tokens of the whole side.
    pub total_tokens: usize,
}

/// A contraction of every group over the tiles of one K (or slab).
pub struct Contraction<'a> {
    /// The kernels.
    pub kernels: &'a dyn GramKernels,
    /// Output layout.
    pub layout: Layout,
    /// Rows of K produced (global indices into X₁).
    pub slab: Range<usize>,
    /// X₁.
    pub left: Side<'a>,
    /// X₂ (`None`: the square K(X₁, X₁)).
    pub right: Option<Side<'a>>,
    /// Linear-weight form.
    pub linear_form: LinearForm,
    /// Host memory budget (bytes).
    pub memory_budget: usize,
    /// Features per example in one chunk of a materialized Linear weight whose signals are
    /// preloaded: [`GramKernels::chunk_features`] (a test may ask for smaller chunks).
    pub chunk_features: usize,
    /// Buffers reused across groups (`Scratch::default()`).
    pub scratch: Scratch,
}

/// Rows `(i, v)` for the local examples `examples` of an example-major `[n·V, k]` matrix.
fn tile_rows<'x>(features: &'x [f32], k: usize, virtuals: usize, examples: Range<usize>, v: usize) -> Cow<'x, [f32]> {
    if virtuals == 1 {
        return Cow::Borrowed(&features[examples.start * k..examples.end * k]);
    }
    Cow::Owned(
        examples.flat_map(|i| features[(i * virtuals + v) * k..(i * virtuals + v + 1) * k].iter().copied()).collect(),
    )
}

/// The rows of virtual output `v` of a loaded example-major range.
fn virtual_part(l: &Loaded, virtuals: usize, v: usize, d_in: usize, d_out: usize) -> Loaded {
    if virtuals == 1 {
        return l.clone();
    }
    let mut out = Loaded { rows: Vec::new(), a: Vec::new(), g: Vec::new(), ids: Vec::new() };
    let mut start = 0;
    for (e, &r) in l.rows.iter().enumerate() {
        if e % virtuals == v {
            out.rows.push(r);
            out.g.extend_from_slice(&l.g[start * d_out..(start + r) * d_out]);
            if !l.a.is_empty() {
                out.a.extend_from_slice(&l.a[start * d_in..(start + r) * d_in]);
            }
            if !l.ids.is_empty() {
                out.ids.extend_from_slice(&l.ids[start..start + r]);
            }
        }
        start += r;
    }
    out
}

impl Contraction<'_> {
    fn right(&self) -> &Side<'_> {
        self.right.as_ref().unwrap_or(&self.left)
    }

    fn tasks(&self) -> Vec<TileTask> {
        tasks(&self.left.grid, &self.right().grid, &self.layout, self.right.is_none(), &self.slab)
    }

    fn out_len(&self) -> usize {
        self.slab.len() * self.layout.cols * self.layout.entry()
    }

    /// The group's `[slab rows, cols, entry]` contribution and the FLOPs spent on it.
    ///
    /// # Errors
    /// A kernel or spill-file failure.
    pub fn group(&self, spec: &GroupSpec) -> Result<(Vec<f64>, f64)> {
        let mut out = vec![0.0; self.out_len()];
        let flops = match spec.source {
            GroupSource::Small { index, d } => {
                let right = self.right.as_ref().map(|r| r.small[index].as_slice());
                self.feature_tasks(&self.left.small[index], right, d, &mut out)?
            }
            GroupSource::Linear(layer) if self.materialize(&self.left.store.layers()[layer]) => {
                self.materialized(layer, &mut out)?
            }
            GroupSource::Linear(layer) | GroupSource::Embedding(layer) => self.pairwise(layer, &mut out)?,
        };
        Ok((out, flops))
    }

    /// Contract example-major features `[n·V, k]` of both sides over every task.
    fn feature_tasks(&self, left: &[f32], right: Option<&[f32]>, k: usize, out: &mut [f64]) -> Result<f64> {
        let (lg, rg) = (&self.left.grid, &self.right().grid);
        let right = right.unwrap_or(left);
        let vs = self.layout.virtuals;
        let mut flops = 0.0;
        for task in self.tasks() {
            let (ri, cj) = (lg.local(task.row_tile), rg.local(task.col_tile));
            let x = tile_rows(left, k, vs, ri.clone(), task.v);
            let mut tile = vec![0.0; ri.len() * cj.len()];
            if task.diagonal {
                self.kernels.gemm_nt(&x, &x, k, &mut tile)?;
                flops += (ri.len() * (ri.len() + 1) * k) as f64;
            } else {
                let y = tile_rows(right, k, vs, cj.clone(), task.w);
                self.kernels.gemm_nt(&x, &y, k, &mut tile)?;
                flops += (2 * ri.len() * cj.len() * k) as f64;
            }
            place(&task, &tile, lg, rg, &self.layout, &self.slab, out);
        }
        Ok(flops)
    }

    /// Pairs of virtual examples contracted for the whole (unsharded) problem.
    fn total_pairs(&self) -> f64 {
        let vs = self.layout.virtuals as f64;
        let per_pair = if self.layout.entry() > 1 { vs * vs } else { vs };
        let (n1, n2) = (self.left.total_examples as f64, self.right().total_examples as f64);
        if self.right.is_none() {
            n1 * (n1 + 1.0) / 2.0 * per_pair
        } else {
            n1 * n2 * per_pair
        }
    }

    /// Materialize a Linear weight's per-example gradients (vs the structured form)?
    fn materialize(&self, layer: &StoredLayer) -> bool {
        match self.linear_form {
            LinearForm::Materialize => true,
            LinearForm::Structured => false,
            LinearForm::ByCost => {
                let vs = self.layout.virtuals as f64;
                let rows =
                    |s: &Side| vs * if layer.per_token { s.total_tokens as f64 } else { s.total_examples as f64 };
                let (r1, r2) = (rows(&self.left), rows(self.right()));
                let formed = if self.right.is_none() { r1 } else { r1 + r2 };
                let (d_in, d_out) = (layer.d_in as f64, layer.d_out as f64);
                let mean = |s: &Side, r: f64| r / (vs * s.total_examples.max(1) as f64);
                let pairs = self.total_pairs();
                let materialized = formed * d_in * d_out + pairs * d_in * d_out;
                let structured = pairs * mean(&self.left, r1) * mean(self.right(), r2) * (d_in + d_out + 1.0);
                materialized <= structured
            }
        }
    }

    /// Load a Linear weight's signals once for all its channel chunks (vs once per chunk)? When
    /// both sides' signals of the layer take at most a quarter of the budget (decided from
    /// whole-problem sizes, so slabs decide alike). An in-memory store's signals are borrowed,
    /// not copied; a spilled store holds next to nothing in RAM, so the loaded layer takes the
    /// room its half of the budget would have had.
    fn preload(&self, layer: &StoredLayer) -> bool {
        let rows = |s: &Side| if layer.per_token { s.total_tokens } else { s.total_examples };
        let rows = self.layout.virtuals * (rows(&self.left) + self.right.as_ref().map_or(0, rows));
        rows * (layer.d_in + layer.d_out) * 4 <= self.memory_budget / 4
    }

    /// How a materialized Linear weight's per-example gradient Gᵀ A (`d_out × d_in`) is cut into
    /// chunks: by output channels (rows of Gᵀ A, re-reading A for every chunk), or, when the
    /// input is wider than the output, by input columns (rows of its transpose Aᵀ G, re-reading
    /// the narrower G instead: the down projection of an MLP reads a quarter as much per chunk).
    /// The Gram is the same sum of products either way; the order depends on the shapes only.
    fn chunking(layer: &StoredLayer) -> Chunking {
        if layer.d_in > layer.d_out {
            Chunking { by_input: true, count: layer.d_in, width: layer.d_out }
        } else {
            Chunking { by_input: false, count: layer.d_out, width: layer.d_in }
        }
    }

    /// Channels (output channels, or input columns: [`Self::chunking`]) per feature chunk (equal
    /// chunks, decided from whole-problem sizes, so slabs chunk identically): all examples'
    /// features of one chunk take at most a quarter of the budget, and, when the signals are
    /// preloaded, about `chunk_features` per example, so that each example's chunk is formed in
    /// cache and the chunk of all examples is still in cache when its Gram tiles are taken.
    fn channels_per_chunk(&self, layer: &StoredLayer, preloaded: bool) -> usize {
        let rows =
            self.layout.virtuals * (self.left.total_examples + self.right.as_ref().map_or(0, |r| r.total_examples));
        let Chunking { count, width, .. } = Self::chunking(layer);
        let (count, width) = (count.max(1), width.max(1));
        let mut most = self.memory_budget / 4 / (rows * width * 4).max(1);
        if preloaded {
            most = most.min(self.chunk_features / width);
        }
        count.div_ceil(count.div_ceil(most.clamp(1, count)))
    }

    /// A side's signals of a Linear layer for all its chunks: the in-memory store's blocks
    /// (borrowed) or one load of every example into `buf`.
    fn preloaded<'s>(&self, store: &'s SignalStore, layer: usize, buf: &'s mut Loaded) -> Result<Preloaded<'s>> {
        let examples = store.layers()[layer].offsets.len() - 1;
        match store.blocks(layer) {
            Some(blocks) if blocks.last().map_or(examples, |b| b.examples.end) == examples && examples > 0 => {
                Ok(Preloaded::Blocks(blocks))
            }
            _ => {
                store.load_into(layer, 0..examples, buf)?;
                Ok(Preloaded::Loaded(buf))
            }
        }
    }

    /// Start reading the next stored layer of spilled stores in the background when it is a
    /// Linear weight (with or without a bias) that will be preloaded next.
    fn prefetch_after(&self, layer: usize) -> Result<()> {
        let Some(next) = self.left.store.layers().get(layer + 1) else { return Ok(()) };
        if next.kind.is_linear() && self.materialize(next) && self.preload(next) {
            self.left.store.prefetch(layer + 1)?;
            if let Some(r) = &self.right {
                r.store.prefetch(layer + 1)?;
            }
        }
        Ok(())
    }

    fn materialized(&self, layer: usize, out: &mut [f64]) -> Result<f64> {
        let stored = &self.left.store.layers()[layer];
        let Chunking { count, width, .. } = Self::chunking(stored);
        let preload = self.preload(stored);
        let step = self.channels_per_chunk(stored, preload);
        let mut buffers = self.scratch.0.lock().map_err(|_| Error::internal("contraction", "scratch lock poisoned"))?;
        let Buffers { features: [left, right], loaded: [left_loaded, right_loaded, scratch] } = &mut *buffers;
        let left_signals = if preload { Some(self.preloaded(self.left.store, layer, left_loaded)?) } else { None };
        let right_signals = match &self.right {
            Some(r) if preload => Some(self.preloaded(r.store, layer, right_loaded)?),
            _ => None,
        };
        self.prefetch_after(layer)?;
        let mut flops = 0.0;
        for c0 in (0..count).step_by(step) {
            let channels = c0..(c0 + step).min(count);
            let left_side = (self.left.store, left_signals.as_ref());
            flops += self.features(left_side, layer, &channels, scratch, left)?;
            if let Some(r) = &self.right {
                flops += self.features((r.store, right_signals.as_ref()), layer, &channels, scratch, right)?;
            }
            let right = self.right.as_ref().map(|_| right.as_slice());
            flops += self.feature_tasks(left, right, channels.len() * width, out)?;
        }
        Ok(flops)
    }

    /// Every stored virtual example's gradient for the channels `channels` ([`Self::chunking`])
    /// into `buf`, `[examples·V, |channels|·width]` example-major, from the preloaded signals or
    /// loaded from the store in groups (into `scratch`); the FLOPs of forming it.
    fn features(
        &self,
        (store, preloaded): (&SignalStore, Option<&Preloaded>),
        layer: usize,
        channels: &Range<usize>,
        scratch: &mut Loaded,
        buf: &mut Vec<f32>,
    ) -> Result<f64> {
        let stored = &store.layers()[layer];
        let (d_in, d_out) = (stored.d_in, stored.d_out);
        let chunking = Self::chunking(stored);
        let (by_input, width) = (chunking.by_input, channels.len() * chunking.width);
        let examples = stored.offsets.len() - 1;
        buf.resize(examples * width, 0.0);
        let form = |rows: &[usize], a: &[f32], g: &[f32], out: &mut [f32]| -> Result<f64> {
            let (a, g) = (Segmented::new(a, d_in, rows)?, Segmented::new(g, d_out, rows)?);
            // Gᵀ A by output channels, or (Aᵀ G) by input columns: the kernel's "activation" is
            // then G and its "gradient" A.
            let (a, g) = if by_input { (g, a) } else { (a, g) };
            self.kernels.outer_sums_into(a, g, channels.clone(), out)?;
            Ok(2.0 * (rows.iter().sum::<usize>() * width) as f64)
        };
        let mut flops = 0.0;
        match preloaded {
            Some(Preloaded::Loaded(l)) => flops += form(&l.rows, &l.a, &l.g, buf)?,
            Some(Preloaded::Blocks(blocks)) => {
                for b in blocks {
                    let part = &mut buf[b.examples.start * width..b.examples.end * width];
                    flops += form(&b.rows, b.a, b.g, part)?;
                }
            }
            None => {
                let per_example = stored.offsets[examples] / examples.max(1) * (d_in + d_out) * 4;
                let group = (self.memory_budget / 16 / per_example.max(1)).clamp(1, 256);
                for e0 in (0..examples).step_by(group) {
                    let e1 = (e0 + group).min(examples);
                    store.load_into(layer, e0..e1, scratch)?;
                    flops += form(&scratch.rows, &scratch.a, &scratch.g, &mut buf[e0 * width..e1 * width])?;
                }
            }
        }
        Ok(flops)
    }

    /// Structured Linear weights and embedding tables: one kernel call per task on the tiles'
    /// per-token signals.
    fn pairwise(&self, layer: usize, out: &mut [f64]) -> Result<f64> {
        let (lg, rg) = (&self.left.grid, &self.right().grid);
        let stored = &self.left.store.layers()[layer];
        let (d_in, d_out, vs) = (stored.d_in, stored.d_out, self.layout.virtuals);
        let load = |side: &Side, tile: Range<usize>| side.store.load(layer, tile.start * vs..tile.end * vs);
        let mut row_cache: Option<(usize, Loaded)> = None;
        let mut flops = 0.0;
        for task in self.tasks() {
            if row_cache.as_ref().is_none_or(|(t, _)| *t != task.row_tile) {
                row_cache = Some((task.row_tile, load(&self.left, lg.local(task.row_tile))?));
            }
            let x = virtual_part(row_cache.as_ref().map(|c| &c.1).expect("row tile loaded"), vs, task.v, d_in, d_out);
            let y = if task.diagonal {
                None
            } else {
                Some(virtual_part(&load(self.right(), rg.local(task.col_tile))?, vs, task.w, d_in, d_out))
            };
            let yr = y.as_ref().unwrap_or(&x);
            let mut tile = vec![0.0; x.rows.len() * yr.rows.len()];
            let (g1, g2) = (Segmented::new(&x.g, d_out, &x.rows)?, Segmented::new(&yr.g, d_out, &yr.rows)?);
            if stored.kind == LayerKind::Embedding {
                self.kernels.token_match(&x.ids, g1, &yr.ids, g2, &mut tile)?;
            } else {
                let (a1, a2) = (Segmented::new(&x.a, d_in, &x.rows)?, Segmented::new(&yr.a, d_in, &yr.rows)?);
                self.kernels.structured(a1, g1, a2, g2, &mut tile)?;
                let (s1, s2) = (x.rows.iter().sum::<usize>() as f64, yr.rows.iter().sum::<usize>() as f64);
                flops += 2.0 * s1 * s2 * (d_in + d_out) as f64 * if task.diagonal { 0.5 } else { 1.0 };
            }
            place(&task, &tile, lg, rg, &self.layout, &self.slab, out);
        }
        Ok(flops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntk::cpu_kernels::{CpuKernels, CHUNK_FEATURES};
    use crate::ntk::kernels::ReferenceKernels;
    use crate::ntk::outputs::OutputMode;
    use crate::ntk::signals::{LayerSignals, SignalInput};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// One Linear layer's signals for examples with `rows` tokens, appended in blocks of 2.
    fn store(rows: &[usize], seed: u64, spill: bool, (d_in, d_out): (usize, usize)) -> SignalStore {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut store = SignalStore::new(spill).unwrap();
        for block in rows.chunks(2) {
            let r: usize = block.iter().sum();
            let mut random = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
            let input = SignalInput::Activation(random(r * d_in));
            let layer = LayerSignals {
                name: "dense".into(),
                kind: LayerKind::Linear,
                per_token: true,
                rows: block.to_vec(),
                d_in,
                d_out,
                input,
                grad: random(r * d_out),
            };
            store.append(vec![layer], &|_| true).unwrap();
        }
        store
    }

    fn side<'a>(store: &'a SignalStore, rows: &[usize]) -> Side<'a> {
        let grid = Grid { tile: 3, start: 0, end: rows.len() };
        Side { store, small: &[], grid, total_examples: rows.len(), total_tokens: rows.iter().sum() }
    }

    #[test]
    fn materialized_chunks_and_loads_match_the_structured_form() {
        // Examples without rows inside, at the end of a block and at the end of the store.
        let (rows1, rows2) = ([3usize, 1, 0, 7, 2, 0, 4, 0], [2usize, 5, 1]);
        let kernels: [&dyn GramKernels; 2] = [&ReferenceKernels, &CpuKernels::F32];
        // In RAM (preloaded signals borrowed block by block) and spilled (read once); chunked by
        // output channels (d_in < d_out) and by input columns (d_in > d_out).
        let cases = kernels.into_iter().flat_map(|k| [(k, false), (k, true)]);
        for ((kernels, spill), dims) in cases.flat_map(|c| [(c, (6, 10)), (c, (10, 6))]) {
            let (s1, s2) = (store(&rows1, 1, spill, dims), store(&rows2, 2, spill, dims));
            assert_eq!(s1.blocks(0).is_some(), !spill);
            for square in [true, false] {
                let cols = if square { rows1.len() } else { rows2.len() };
                let contraction = |linear_form, memory_budget, chunk_features| Contraction {
                    kernels,
                    layout: Layout::new(OutputMode::Margin, 2, cols),
                    slab: 0..rows1.len(),
                    left: side(&s1, &rows1),
                    right: (!square).then(|| side(&s2, &rows2)),
                    linear_form,
                    memory_budget,
                    chunk_features,
                    scratch: Scratch::default(),
                };
                let spec = GroupSpec { param: "dense.weight".into(), source: GroupSource::Linear(0) };
                let (reference, _) = contraction(LinearForm::Structured, 1 << 30, CHUNK_FEATURES).group(&spec).unwrap();
                // One chunk, preloaded; 2-channel chunks, preloaded; budget-sized chunks loaded
                // from the store one example at a time.
                let Chunking { by_input, count, width } = Contraction::chunking(&s1.layers()[0]);
                assert_eq!(by_input, dims.0 > dims.1);
                for (budget, chunk_features) in [(1 << 30, CHUNK_FEATURES), (1 << 30, 2 * width), (700, CHUNK_FEATURES)]
                {
                    let c = contraction(LinearForm::Materialize, budget, chunk_features);
                    let stored = &s1.layers()[0];
                    let preload = c.preload(stored);
                    let step = c.channels_per_chunk(stored, preload);
                    assert_eq!(preload, budget > 700, "budget {budget}");
                    assert!(step < count || chunk_features == CHUNK_FEATURES && preload, "{step} channels");
                    let (got, flops) = c.group(&spec).unwrap();
                    assert!(flops > 0.0);
                    let scale = reference.iter().map(|v| v.abs()).sum::<f64>() / reference.len() as f64;
                    let worst = got.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                    assert!(
                        worst <= 1e-5 * scale,
                        "{} {dims:?} square {square} spilled {spill} budget {budget} chunk {chunk_features} \
                         ({step} channels): materialized vs structured max |Δ| {worst:e}, mean |K| {scale:e}",
                        kernels.name()
                    );
                }
            }
        }
    }
}
