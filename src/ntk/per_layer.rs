//! [`crate::ntk::NtkMethod::PerLayer`] in two phases.
//!
//! 1. **Signals**: one forward + activation-only backward per block of examples (× V virtual
//!    outputs) — for an encoder or a Llama-family decoder on the CPU the hand-written pass of
//!    [`crate::ntk::fastfb`] (weights copied to the host once), elsewhere (GPT-2, wgpu, or
//!    [`SignalPath::Burn`])
//!    burn's probed pass on a copy of the model whose parameters do not require gradients; then
//!    the model's last pass over them ([`NtkModel::finish_signals`]: a decoder keeps its
//!    unembedding's readout rows and merges a tied unembedding into the token table's rows);
//!    the per-token signals of Linear weights and embedding tables go to a [`SignalStore`] (RAM,
//!    or a temporary directory when they would take more than half the memory budget), the
//!    biases' and norms' (LayerNorm γ/β, RMSNorm γ) per-example sums are formed at once (they
//!    are tiny). Which parameters count follows [`NtkModel::layer_role`] and
//!    [`crate::model::LayerKind::has_bias`].
//! 2. **Contraction**: parameter group by parameter group, in forward order, through
//!    [`Contraction`] on the canonical tile grid; each group's contribution is summed into K in
//!    that fixed order (and kept when a breakdown is asked for).
//!
//! A row slab (`rows`) of a square K runs phase 1 on every example (its columns need them) and
//! phase 2 only on the tiles touching its rows; a slab of a rectangular K(X₁, X₂) runs phase 1
//! on the X₁ tiles touching its rows. Peak memory: the model, one block's autodiff graph, the
//! store (≤ budget/2 in RAM), one Linear layer's signals loaded for its chunks (≤ budget/4),
//! one chunk of features (≤ budget/4), the K buffers.

use std::ops::Range;
use std::time::Instant;

use burn::tensor::Device;
use rayon::prelude::*;

use crate::error::Result;
use crate::model::LayerKind;
use crate::ntk::contract::{Contraction, GroupSource, GroupSpec, Scratch, Side};
use crate::ntk::family::NtkModel;
use crate::ntk::fastfb::FastModel;
use crate::ntk::kernels::GramKernels;
use crate::ntk::options::{GramOptions, ParamSubset, SignalPath};
use crate::ntk::outputs::{Layout, OutputMode};
use crate::ntk::signals::{
    block_signals, keep_pooled_rows, segment_hadamard_sums, segment_sums, BlockSignals, LayerSignals, SignalInput,
};
use crate::ntk::store::SignalStore;
use crate::ntk::tiles::{tile_size, Grid};
use crate::ntk::{GramParts, GramStats, SignalBlocks};
use crate::tokenize::Encoding;

/// Which parameters of a layer count.
struct Wanted {
    weight: bool,
    bias: bool,
}

fn wanted(l: &LayerSignals, subset: ParamSubset, model: &dyn NtkModel) -> Wanted {
    let weight = format!("{}.weight", l.name);
    let bias = format!("{}.bias", l.name);
    Wanted {
        weight: subset.keeps(&weight, model.layer_role(&l.name, l.kind)),
        bias: l.kind.has_bias() && subset.keeps(&bias, model.param_role(&bias)),
    }
}

/// True for the normalisations, whose weight γ is a per-example sum Σₜ gₜ ⊙ x̂ₜ.
fn is_norm(kind: LayerKind) -> bool {
    matches!(kind, LayerKind::LayerNorm | LayerKind::RmsNorm)
}

/// Whether a layer's per-token signals must be stored (Linear weights, embedding tables).
fn stored(l: &LayerSignals, subset: ParamSubset, model: &dyn NtkModel) -> bool {
    !is_norm(l.kind) && wanted(l, subset, model).weight
}

/// The parameter groups of the kernel, in forward order, from one block's layers.
fn group_specs(layers: &[LayerSignals], subset: ParamSubset, model: &dyn NtkModel) -> Vec<GroupSpec> {
    let (mut small, mut store) = (0, 0);
    let mut out = Vec::new();
    for l in layers {
        let w = wanted(l, subset, model);
        let mut push_small = |param: String, out: &mut Vec<GroupSpec>| {
            out.push(GroupSpec { param, source: GroupSource::Small { index: small, d: l.d_out } });
            small += 1;
        };
        if stored(l, subset, model) {
            let source =
                if l.kind == LayerKind::Embedding { GroupSource::Embedding(store) } else { GroupSource::Linear(store) };
            out.push(GroupSpec { param: format!("{}.weight", l.name), source });
            store += 1;
        } else if is_norm(l.kind) && w.weight {
            push_small(format!("{}.weight", l.name), &mut out);
        }
        if w.bias {
            push_small(format!("{}.bias", l.name), &mut out);
        }
    }
    out
}

/// The per-example sums of the small groups of one block, in [`group_specs`] order (each sum on
/// one thread, the sums in parallel: same bits as one after the other).
fn small_sums(layers: &[LayerSignals], subset: ParamSubset, model: &dyn NtkModel) -> Vec<Vec<f32>> {
    let mut sums: Vec<(&LayerSignals, Option<&[f32]>)> = Vec::new();
    for l in layers {
        let w = wanted(l, subset, model);
        if let (true, true, SignalInput::Activation(x)) = (is_norm(l.kind), w.weight, &l.input) {
            sums.push((l, Some(x)));
        }
        if w.bias {
            sums.push((l, None));
        }
    }
    sums.into_par_iter()
        .map(|(l, x)| match x {
            Some(x) => segment_hadamard_sums(&l.grad, x, &l.rows, l.d_out),
            None => segment_sums(&l.grad, &l.rows, l.d_out),
        })
        .collect()
}

/// Where one block's signals come from: the hand-written CPU pass (a host copy of the weights,
/// made once; encoders and Llama-family decoders) or burn's probed pass on the frozen model.
struct SignalSource<'m> {
    frozen: &'m dyn NtkModel,
    host: Option<FastModel>,
    pad_id: u32,
    subset: ParamSubset,
    device: &'m Device,
}

impl<'m> SignalSource<'m> {
    /// `options.signals` resolved for `device` and the model: [`SignalPath::Fast`] only on the
    /// CPU (flex), for a model with a fast path ([`NtkModel::fast_model`]: the encoder or a
    /// Llama-family decoder, with f32 weights — an f64 model, as in the finite-difference
    /// checks, keeps burn's f64 pass).
    fn new(frozen: &'m dyn NtkModel, pad_id: u32, options: &GramOptions, device: &'m Device) -> Result<Self> {
        let on_cpu = device.clone().inner() == Device::flex();
        let host = if options.signals == SignalPath::Fast && on_cpu { frozen.fast_model()? } else { None };
        Ok(Self { frozen, host, pad_id, subset: options.subset, device })
    }

    /// `chunk` (one block) in the parts that one forward + backward takes at once. On the
    /// hand-written path: runs of consecutive examples of at most `max_rows` token rows
    /// ([`GramOptions::fast_part_rows`]; `virtuals` per token; at least one example each). That
    /// path packs real tokens only, so the split changes K by f32 rounding at most (SmolLM2, 32
    /// prompts of ≈ 250 tokens: bit for bit the same in blocks of 2, 4 and 8), while each part's
    /// buffers stay cache-sized and a spilled part's memory is written out and reused sooner
    /// (blocks of 8 such prompts: 39.4 s forward + backward, 2.5 million page faults, 7.70 GB
    /// peak; parts of 4: 30.9 s, 1.1 million, 4.50 GB). Burn's path keeps the block whole (its
    /// padding rounds per block).
    fn parts<'e>(&self, chunk: &'e [Encoding], virtuals: usize, max_rows: usize) -> Vec<&'e [Encoding]> {
        if !self.host.as_ref().is_some_and(|h| h.fits(chunk)) {
            return vec![chunk];
        }
        let mut parts = Vec::new();
        let (mut start, mut rows) = (0, 0);
        for (i, e) in chunk.iter().enumerate() {
            let r = e.real_tokens() * virtuals;
            if i > start && rows + r > max_rows {
                parts.push(&chunk[start..i]);
                (start, rows) = (i, 0);
            }
            rows += r;
        }
        parts.push(&chunk[start..]);
        parts
    }

    /// One block's signals (after the model's last pass over them) and the path that
    /// produced them.
    fn block(&self, chunk: &[Encoding], mode: OutputMode) -> Result<(BlockSignals, SignalPath)> {
        let (mut block, path) = match &self.host {
            Some(host) if host.fits(chunk) => (host.block_signals(chunk, self.pad_id, mode)?, SignalPath::Fast),
            _ => (block_signals(self.frozen, chunk, self.pad_id, mode, self.device)?, SignalPath::Burn),
        };
        if let Some(pooled) = self.frozen.pooled_layers() {
            keep_pooled_rows(&mut block.layers, &pooled)?;
        }
        block.layers = self.frozen.finish_signals(block.layers, self.subset)?;
        Ok((block, path))
    }
}

/// Phase 1 for one side: every example of `x` through forward + backward, block by block.
struct Collected {
    store: SignalStore,
    small: Vec<Vec<f32>>,
    flops: f64,
    blocks: SignalBlocks,
}

/// The stored layers split into passes over the data, decided from the first block of X₁.
///
/// The signals of every stored layer for every example may need more room than the spill
/// directory has (SmolLM2-135M keeps ≈ 1.5 MB per token). Then each pass recomputes the forward
/// and backward of every example but stores only its own contiguous run of layers, whose groups
/// are contracted before the next pass starts: the disk holds one pass's signals, and the
/// forward and backward run once per pass. Each group's contribution does not depend on the
/// pass it ran in, so K is the same bit for bit for any number of passes.
struct Plan {
    /// Every parameter group, in forward order ([`group_specs`]).
    specs: Vec<GroupSpec>,
    /// Names of the stored layers, in forward order.
    stored: Vec<String>,
    /// Stored-layer index ranges, one per pass, covering `0..stored.len()` in order.
    passes: Vec<Range<usize>>,
    /// Estimated bytes of every stored layer's signals over both sides, in order.
    bytes: Vec<f64>,
}

impl Plan {
    fn new(
        block: &BlockSignals,
        chunk: &[Encoding],
        tokens: usize,
        options: &GramOptions,
        model: &dyn NtkModel,
    ) -> Result<Self> {
        let subset = options.subset;
        let kept: Vec<&LayerSignals> = block.layers.iter().filter(|l| stored(l, subset, model)).collect();
        let block_tokens: usize = chunk.iter().map(Encoding::real_tokens).sum();
        let scale = tokens as f64 / block_tokens.max(1) as f64;
        let bytes: Vec<f64> = kept
            .iter()
            .map(|l| 4.0 * (l.grad.len() + l.rows.iter().sum::<usize>() * l.d_in.max(1)) as f64 * scale)
            .collect();
        let total: f64 = bytes.iter().sum();
        let passes = match options.signal_passes {
            Some(p) => balanced_passes(&bytes, p),
            // In RAM: one pass. Spilled: as many as the spill directory's free space needs.
            None if total <= (options.memory_budget / 2) as f64 => balanced_passes(&bytes, 1),
            None => {
                let dir = std::env::temp_dir();
                let free = crate::ntk::spill::free_bytes(&dir)?;
                // Leave a tenth of the free space (and 1 GiB) to everything else.
                let room = (free as f64 * 0.9 - f64::from(1u32 << 30)).max(0.0);
                packed_passes(&bytes, room).ok_or_else(|| {
                    let largest = bytes.iter().copied().fold(0.0, f64::max);
                    let reason = format!(
                        "one layer's eNTK signals need {:.1} GB on disk and only {:.1} GB are free; point TMPDIR \
                         at a larger file system",
                        largest / 1e9,
                        free as f64 / 1e9
                    );
                    crate::Error::write(&dir, std::io::Error::new(std::io::ErrorKind::StorageFull, reason))
                })?
            }
        };
        let stored = kept.iter().map(|l| l.name.clone()).collect();
        Ok(Self { specs: group_specs(&block.layers, subset, model), stored, passes, bytes })
    }

    /// The specs of pass `p`, their stored-layer indices made relative to the pass's store.
    /// A small group goes with the pass of the stored group before it (the first pass if none).
    fn specs(&self, p: usize) -> Vec<GroupSpec> {
        let range = &self.passes[p];
        let mut pass = 0;
        let mut out = Vec::new();
        for spec in &self.specs {
            let stored = match spec.source {
                GroupSource::Linear(i) | GroupSource::Embedding(i) => Some(i),
                GroupSource::Small { .. } => None,
            };
            if let Some(i) = stored {
                pass = self.passes.iter().position(|r| r.contains(&i)).unwrap_or(pass);
            }
            if pass != p {
                continue;
            }
            let source = match spec.source {
                GroupSource::Linear(i) => GroupSource::Linear(i - range.start),
                GroupSource::Embedding(i) => GroupSource::Embedding(i - range.start),
                small @ GroupSource::Small { .. } => small,
            };
            out.push(GroupSpec { param: spec.param.clone(), source });
        }
        out
    }

    /// Whether pass `p` stores the layer named `name` (one of [`Plan::stored`]).
    fn keeps(&self, p: usize, name: &str) -> bool {
        self.stored[self.passes[p].clone()].iter().any(|s| s == name)
    }

    /// Estimated bytes of pass `p` over both sides.
    fn pass_bytes(&self, p: usize) -> f64 {
        self.bytes[self.passes[p].clone()].iter().sum()
    }
}

/// `p` contiguous runs of the layers with about equal bytes each (fewer when there are fewer
/// layers; one empty run when there are none).
fn balanced_passes(bytes: &[f64], p: usize) -> Vec<Range<usize>> {
    let p = p.clamp(1, bytes.len().max(1));
    let total: f64 = bytes.iter().sum();
    let mut out = Vec::with_capacity(p);
    let (mut start, mut sum) = (0, 0.0);
    for (i, b) in bytes.iter().enumerate() {
        sum += b;
        let left_after = bytes.len() - i - 1;
        let runs_left = p - out.len() - 1;
        // Cut when this run reached its share, or when every later layer must start a run.
        if runs_left > 0 && (sum >= total * (out.len() + 1) as f64 / p as f64 || left_after == runs_left) {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    out.push(start..bytes.len());
    out
}

/// The fewest contiguous runs of the layers whose bytes each fit `room`, or `None` when one
/// layer alone does not.
fn packed_passes(bytes: &[f64], room: f64) -> Option<Vec<Range<usize>>> {
    if bytes.iter().any(|&b| b > room) {
        return None;
    }
    // Greedy packing gives the fewest runs.
    let mut greedy: Vec<Range<usize>> = Vec::new();
    let mut sum = 0.0;
    for (i, &b) in bytes.iter().enumerate() {
        match greedy.last_mut() {
            Some(last) if sum + b <= room => {
                last.end = i + 1;
                sum += b;
            }
            _ => {
                greedy.push(i..i + 1);
                sum = b;
            }
        }
    }
    // As many runs balanced by bytes where each fits; greedy's own runs otherwise.
    let balanced = balanced_passes(bytes, greedy.len().max(1));
    if balanced.iter().all(|r| bytes[r.clone()].iter().sum::<f64>() <= room) {
        return Some(balanced);
    }
    Some(greedy)
}

/// Pass `p` of phase 1 for one side. The first pass over X₁ (`plan` empty) decides the plan from
/// its first block; `tokens` are the real tokens of both sides (for that estimate).
#[allow(clippy::too_many_arguments)]
fn collect(
    source: &SignalSource<'_>,
    x: &[Encoding],
    options: &GramOptions,
    plan: &mut Option<Plan>,
    p: usize,
    tokens: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Collected> {
    let model = source.frozen;
    let subset = options.subset;
    let side_tokens: usize = x.iter().map(Encoding::real_tokens).sum();
    let mut collected: Option<Collected> = None;
    let virtuals = options.output.virtual_outputs(model.num_outputs());
    let parts = x.chunks(options.block).flat_map(|chunk| source.parts(chunk, virtuals, options.fast_part_rows));
    for chunk in parts {
        let (block, path) = source.block(chunk, options.output)?;
        let flops = block.forward_backward_flops(
            |rows, t| (model.forward_flops(rows, t), model.attention_flops(rows, t)),
            |t| (model.packed_forward_flops(t), model.packed_attention_flops(t)),
        );
        if plan.is_none() {
            *plan = Some(Plan::new(&block, chunk, tokens, options, model)?);
        }
        let plan = plan.as_ref().expect("decided above");
        let c = match collected.as_mut() {
            Some(c) => c,
            None => {
                // Spill when this side's signals of this pass exceed half the budget.
                let side_share = side_tokens as f64 / tokens.max(1) as f64;
                let store = SignalStore::new(plan.pass_bytes(p) * side_share > (options.memory_budget / 2) as f64)?;
                collected.insert(Collected { store, small: Vec::new(), flops: 0.0, blocks: SignalBlocks::default() })
            }
        };
        let sums = small_sums(&block.layers, subset, model);
        c.store.append(block.layers, &|l| stored(l, subset, model) && plan.keeps(p, &l.name))?;
        if c.small.is_empty() {
            c.small = vec![Vec::new(); sums.len()];
        }
        for (all, s) in c.small.iter_mut().zip(sums) {
            all.extend(s);
        }
        c.flops += flops;
        c.blocks.add(path);
        progress(chunk.len(), plan.passes.len());
    }
    collected.ok_or_else(|| crate::Error::invalid("input", "no examples"))
}

/// The examples of X₁ whose signals a slab needs: the tiles touching its rows.
fn stored_range(slab: &Range<usize>, n: usize, tile: usize) -> Range<usize> {
    (slab.start / tile * tile)..(slab.end.div_ceil(tile) * tile).min(n)
}

/// The contraction view of one side's collected signals.
fn side<'c>(c: &'c Collected, x: &[Encoding], range: Range<usize>, tile: usize) -> Side<'c> {
    let total_tokens = x.iter().map(Encoding::real_tokens).sum();
    Side {
        store: &c.store,
        small: &c.small,
        grid: Grid { tile, start: range.start, end: range.end },
        total_examples: x.len(),
        total_tokens,
    }
}

/// Every group's contribution, in order, and the FLOPs spent.
fn contract_all(contraction: &Contraction, specs: &[GroupSpec]) -> Result<(Vec<(String, Vec<f64>)>, f64)> {
    let mut groups = Vec::with_capacity(specs.len());
    let mut flops = 0.0;
    for spec in specs {
        let (values, f) = contraction.group(spec)?;
        flops += f;
        groups.push((spec.param.clone(), values));
    }
    Ok((groups, flops))
}

/// K(X₁, X₂) (or its row slab) per parameter group, in forward order, plus statistics.
///
/// # Errors
/// As [`block_signals`]; a kernel or spill-file failure.
#[allow(clippy::too_many_arguments)]
pub fn per_layer_parts(
    model: &dyn NtkModel,
    x1: &[Encoding],
    x2: Option<&[Encoding]>,
    pad_id: u32,
    options: &GramOptions,
    kernels: &dyn GramKernels,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<GramParts> {
    let (n1, n2) = (x1.len(), x2.map_or(x1.len(), <[Encoding]>::len));
    let slab = options.row_range(n1)?;
    let tile = tile_size(options.block, options.tile);
    let layout = Layout::new(options.output, model.num_outputs(), n2);
    // Parameters need no gradient here (the per-example ones are formed from the signals), so
    // the backward computes only activation gradients: one third less work than a training step.
    let frozen = model.frozen();
    let left_range = if x2.is_some() { stored_range(&slab, n1, tile) } else { 0..n1 };
    let source = SignalSource::new(frozen.as_ref(), pad_id, options, device)?;
    let x1_stored = &x1[left_range.clone()];
    let tokens: usize = x1_stored.iter().chain(x2.unwrap_or(&[])).map(Encoding::real_tokens).sum();
    // Progress in examples of one pass: each pass's examples count 1/passes.
    let per_pass = x1_stored.len() + x2.map_or(0, <[Encoding]>::len);
    let (mut done, mut reported) = (0usize, 0usize);
    let mut step = |examples: usize, passes: usize| {
        done += examples;
        let now = (done / passes.max(1)).min(per_pass);
        progress(now - reported);
        reported = now;
    };
    let mut plan = None;
    let mut stats = GramStats::default();
    let mut groups = Vec::new();
    let mut p = 0;
    loop {
        let started = Instant::now();
        let left = collect(&source, x1_stored, options, &mut plan, p, tokens, &mut step)?;
        let right = x2.map(|x| collect(&source, x, options, &mut plan, p, tokens, &mut step)).transpose()?;
        stats.forward_backward_seconds += started.elapsed().as_secs_f64();
        let plan = plan.as_ref().expect("the first block decided it");
        let contraction = Contraction {
            kernels,
            layout,
            slab: slab.clone(),
            left: side(&left, x1, left_range.clone(), tile),
            right: right.as_ref().zip(x2).map(|(c, x)| side(c, x, 0..x.len(), tile)),
            linear_form: options.linear_form,
            memory_budget: options.memory_budget,
            chunk_features: kernels.chunk_features(),
            scratch: Scratch::default(),
        };
        let started = Instant::now();
        let (pass_groups, contraction_flops) = contract_all(&contraction, &plan.specs(p))?;
        groups.extend(pass_groups);
        stats.contraction_seconds += started.elapsed().as_secs_f64();
        stats.contraction_flops += contraction_flops;
        stats.forward_backward_flops += left.flops + right.as_ref().map_or(0.0, |r| r.flops);
        stats.signal_bytes = stats.signal_bytes.max(left.store.bytes() + right.as_ref().map_or(0, |r| r.store.bytes()));
        stats.spilled |= left.store.spilled() || right.as_ref().is_some_and(|r| r.store.spilled());
        let blocks = right.as_ref().map_or(left.blocks, |r| left.blocks.plus(r.blocks));
        stats.signal_blocks = stats.signal_blocks.plus(blocks);
        stats.signal_passes = plan.passes.len();
        p += 1;
        if p == plan.passes.len() {
            break;
        }
    }
    Ok(GramParts { slab, cols: n2, layout, groups, stats })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn passes_split_layers_into_contiguous_runs() {
        let bytes = [4.0, 1.0, 1.0, 1.0, 1.0, 4.0];
        assert_eq!(balanced_passes(&bytes, 1), vec![0..6]);
        assert_eq!(balanced_passes(&bytes, 2), vec![0..3, 3..6]);
        assert_eq!(balanced_passes(&bytes, 3), vec![0..1, 1..5, 5..6]);
        assert_eq!(balanced_passes(&bytes, 6), (0..6).map(|i| i..i + 1).collect::<Vec<_>>());
        assert_eq!(balanced_passes(&bytes, 99).len(), 6);
        assert_eq!(balanced_passes(&[], 3), vec![0..0]);
        assert_eq!(packed_passes(&bytes, 12.0), Some(vec![0..6]));
        assert_eq!(packed_passes(&bytes, 6.0), Some(vec![0..3, 3..6]));
        assert_eq!(packed_passes(&bytes, 5.0), Some(vec![0..1, 1..5, 5..6]));
        assert_eq!(packed_passes(&bytes, 3.9), None);
        for room in [4.0, 4.5, 5.0, 6.0, 7.0, 11.0] {
            let runs = packed_passes(&bytes, room).unwrap();
            assert_eq!(runs.first().unwrap().start, 0);
            assert_eq!(runs.last().unwrap().end, 6);
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start), "{runs:?}");
            assert!(runs.iter().all(|r| bytes[r.clone()].iter().sum::<f64>() <= room), "{room}: {runs:?}");
        }
    }

    #[test]
    fn slabs_store_whole_tiles() {
        assert_eq!(stored_range(&(130..140), 300, 128), 128..256);
        assert_eq!(stored_range(&(0..300), 300, 128), 0..300);
        assert_eq!(stored_range(&(250..260), 260, 128), 128..260);
    }
}
