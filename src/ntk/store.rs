//! Where the per-layer signals of every example wait between the forward/backward phase and the
//! contraction phase of [`crate::ntk::NtkMethod::PerLayer`]: in RAM, or spilled to a temporary
//! directory when they would not fit the memory budget.
//!
//! Layout: one [`StoredLayer`] per probed layer whose parameters need the per-token signals
//! (Linear weights and embedding tables); the activations a `[R, d_in]` and the output gradients
//! g `[R, d_out]` of all virtual examples are appended in example order, so any range of
//! consecutive examples is one contiguous read. Embedding ids stay in RAM (4 bytes per token).
//!
//! Cost of spilling: each byte is written once, by a background thread while the next block is
//! computed, and read once (or, when a layer's signals exceed the preload share of the budget,
//! once per output-channel chunk of its layer), through direct I/O where the file system allows
//! it ([`crate::ntk::spill`]). The directory (`$TMPDIR/ntkgap-spill-<pid>-<k>`) is removed when
//! the store is dropped, also on errors; its files are unlinked as soon as they are open (Unix),
//! so a killed run leaves no data behind.

use std::fs;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::model::LayerKind;
use crate::ntk::signals::{LayerSignals, SignalInput};
use crate::ntk::spill::{lock, Prefetch, SpillFile, Staging, Writer};

/// One stored part (activations or gradients) of a layer.
enum Part {
    /// The appended buffers, kept as they came (no copy), with the running end of each.
    Memory {
        chunks: Vec<Vec<f32>>,
        ends: Vec<usize>,
    },
    Disk(Arc<SpillFile>),
}

impl Part {
    /// Append `values`: kept in RAM, or queued in `to_disk` for the writer.
    fn append(&mut self, values: Vec<f32>, to_disk: &mut Vec<(Arc<SpillFile>, Vec<f32>)>) {
        match self {
            Part::Memory { chunks, ends } => {
                if !values.is_empty() {
                    ends.push(ends.last().copied().unwrap_or(0) + values.len());
                    chunks.push(values);
                }
            }
            Part::Disk(file) => {
                if !values.is_empty() {
                    to_disk.push((Arc::clone(file), values));
                }
            }
        }
    }

    /// Values `range` of the in-memory chunks, gathered across chunk boundaries.
    fn gather(chunks: &[Vec<f32>], ends: &[usize], range: Range<usize>, out: &mut Vec<f32>) {
        let mut k = ends.partition_point(|&end| end <= range.start);
        while out.len() < range.len() {
            let start = ends[k] - chunks[k].len();
            let from = range.start + out.len() - start;
            let to = (range.end - start).min(chunks[k].len());
            out.extend_from_slice(&chunks[k][from..to]);
            k += 1;
        }
    }

    /// Values `range` into `out` (cleared first; its allocation is reused), a spilled part
    /// through the read buffer `stage`.
    fn read_into(&self, range: Range<usize>, out: &mut Vec<f32>, stage: &Mutex<Staging>) -> Result<()> {
        out.clear();
        match self {
            Part::Memory { chunks, ends } => Self::gather(chunks, ends, range, out),
            Part::Disk(file) => {
                out.resize(range.len(), 0.0);
                let mut stage = lock(stage)?;
                file.read(4 * range.start..4 * range.end, bytemuck::cast_slice_mut(out), &mut stage)?;
            }
        }
        Ok(())
    }
}

/// The stored signals of one layer.
pub struct StoredLayer {
    /// Hugging Face name prefix.
    pub name: String,
    /// Linear or Embedding.
    pub kind: LayerKind,
    /// False for layers on the first token only.
    pub per_token: bool,
    /// Input width (0 for embeddings).
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// Row offsets per virtual example, `[0, r₀, r₀ + r₁, …]`.
    pub offsets: Vec<usize>,
    ids: Vec<u32>,
    a: Part,
    g: Part,
    /// Spilled: the writer's appends that must be done before this layer's files are complete.
    written_by: usize,
}

/// Signals of a range of consecutive virtual examples of one layer.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Rows per virtual example.
    pub rows: Vec<usize>,
    /// Activations `[R, d_in]` (empty for embeddings).
    pub a: Vec<f32>,
    /// Gradients `[R, d_out]`.
    pub g: Vec<f32>,
    /// Ids `[R]` (embeddings only).
    pub ids: Vec<u32>,
}

/// The signals of consecutive virtual examples of one Linear layer as they were appended to an
/// in-memory store (one forward/backward block), borrowed.
#[derive(Debug, Clone)]
pub struct BlockRef<'a> {
    /// The virtual examples.
    pub examples: Range<usize>,
    /// Rows per virtual example.
    pub rows: Vec<usize>,
    /// Activations `[R, d_in]`.
    pub a: &'a [f32],
    /// Gradients `[R, d_out]`.
    pub g: &'a [f32],
}

/// The temporary spill directory, removed on drop.
struct SpillDir(PathBuf);

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

static SPILL_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The signal store of one side (X₁ or X₂) of a Gram computation.
pub struct SignalStore {
    // Declared first: the writer finishes before the files and the directory go.
    writer: Mutex<Option<Writer>>,
    layers: Vec<StoredLayer>,
    // Declared after `layers` so the files are closed before the directory is removed.
    spill: Option<SpillDir>,
    bytes: usize,
    /// The read buffer of spilled parts.
    stage: Mutex<Staging>,
    /// A layer being read in the background ([`SignalStore::prefetch`]), and the buffers the
    /// next one will be read into.
    prefetch: Mutex<(Option<Prefetch>, Vec<Vec<f32>>, Staging)>,
}

impl SignalStore {
    /// An empty store, in RAM or (when `spill`) in a fresh temporary directory.
    ///
    /// # Errors
    /// [`Error::Write`] when the temporary directory cannot be created.
    pub fn new(spill: bool) -> Result<Self> {
        let spill = if spill {
            let k = SPILL_COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("ntkgap-spill-{}-{k}", std::process::id()));
            fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
            Some(SpillDir(dir))
        } else {
            None
        };
        let writer = Mutex::new(spill.as_ref().map(|_| Writer::start()));
        let (stage, prefetch) = (Mutex::default(), Mutex::default());
        Ok(Self { writer, layers: Vec::new(), spill, bytes: 0, stage, prefetch })
    }

    /// True when the signals live on disk.
    pub fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// Bytes of signals stored so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The stored layers, in forward order.
    pub fn layers(&self) -> &[StoredLayer] {
        &self.layers
    }

    fn part(&self, name: String) -> Result<Part> {
        match &self.spill {
            None => Ok(Part::Memory { chunks: Vec::new(), ends: Vec::new() }),
            Some(SpillDir(dir)) => Ok(Part::Disk(Arc::new(SpillFile::create(dir.join(name))?))),
        }
    }

    /// Wait until the writer has put every block's signals of `layer` into its files (the
    /// writer goes on with later layers meanwhile).
    fn settle(&self, layer: usize) -> Result<()> {
        let written_by = self.layers[layer].written_by;
        match lock(&self.writer)?.as_mut() {
            Some(w) => w.wait_for(written_by),
            None => Ok(()),
        }
    }

    /// Append one block's signals of the layers `keep` selects (same selection every block),
    /// taking the buffers over (in RAM they are kept as they are, not copied; spilled ones are
    /// handed to the writer thread).
    ///
    /// # Errors
    /// [`Error::Write`] when a spill file cannot be created or an earlier block's could not be
    /// written; [`Error::Numerical`] when a block's layers differ from the first block's.
    pub fn append(&mut self, layers: Vec<LayerSignals>, keep: &dyn Fn(&LayerSignals) -> bool) -> Result<()> {
        let kept: Vec<LayerSignals> = layers.into_iter().filter(|l| keep(l)).collect();
        if self.layers.is_empty() {
            for (k, l) in kept.iter().enumerate() {
                let (a, g) = (self.part(format!("{k}.a"))?, self.part(format!("{k}.g"))?);
                let (name, kind, per_token, d_in, d_out) = (l.name.clone(), l.kind, l.per_token, l.d_in, l.d_out);
                self.layers.push(StoredLayer {
                    name,
                    kind,
                    per_token,
                    d_in,
                    d_out,
                    offsets: vec![0],
                    ids: Vec::new(),
                    a,
                    g,
                    written_by: 0,
                });
            }
        }
        if kept.len() != self.layers.len() || kept.iter().zip(&self.layers).any(|(l, s)| l.name != s.name) {
            return Err(Error::Numerical {
                context: "eNTK signal store".into(),
                reason: "blocks probed different layers".into(),
            });
        }
        let mut to_disk = Vec::new();
        let queued = lock(&self.writer)?.as_ref().map_or(0, Writer::sent);
        for (l, s) in kept.into_iter().zip(self.layers.iter_mut()) {
            for &r in &l.rows {
                let last = *s.offsets.last().unwrap_or(&0);
                s.offsets.push(last + r);
            }
            let input_bytes = 4 * match &l.input {
                SignalInput::Activation(a) => a.len(),
                SignalInput::Ids(_) => l.rows.iter().sum(),
            };
            self.bytes += input_bytes + 4 * l.grad.len();
            match l.input {
                SignalInput::Activation(a) => s.a.append(a, &mut to_disk),
                SignalInput::Ids(ids) => s.ids.extend_from_slice(&ids),
            }
            s.g.append(l.grad, &mut to_disk);
            s.written_by = queued + to_disk.len();
        }
        if !to_disk.is_empty() {
            let mut writer = lock(&self.writer)?;
            match writer.as_mut() {
                Some(w) => w.send(to_disk)?,
                None => return Err(Error::internal("signal spill", "append to a store without a writer")),
            }
        }
        Ok(())
    }

    /// Every virtual example's signals of Linear layer `layer`, block by block as appended,
    /// without copying them (the blocks' examples cover `0..examples` in order); `None` when the
    /// signals are on disk or the layer is an embedding table.
    pub fn blocks(&self, layer: usize) -> Option<Vec<BlockRef<'_>>> {
        let s = &self.layers[layer];
        let (Part::Memory { chunks: a, .. }, Part::Memory { chunks: g, ends }) = (&s.a, &s.g) else {
            return None;
        };
        if s.kind == LayerKind::Embedding || a.len() != g.len() {
            return None;
        }
        let examples = s.offsets.len() - 1;
        let mut first = 0;
        let mut out = Vec::with_capacity(g.len());
        for (k, (a, g)) in a.iter().zip(g).enumerate() {
            // Examples whose rows start before this block's end; examples without rows go with
            // the block after them, trailing ones with the last block.
            let end_row = ends[k] / s.d_out.max(1);
            let last = if k + 1 == ends.len() { examples } else { s.offsets.partition_point(|&o| o < end_row) };
            let rows = s.offsets[first..=last].windows(2).map(|w| w[1] - w[0]).collect();
            out.push(BlockRef { examples: first..last, rows, a, g });
            first = last;
        }
        Some(out)
    }

    /// The signals of layer `layer` for the virtual examples `examples`.
    ///
    /// # Errors
    /// [`Error::Write`] when a spill file cannot be read.
    pub fn load(&self, layer: usize, examples: Range<usize>) -> Result<Loaded> {
        let mut out = Loaded::default();
        self.load_into(layer, examples, &mut out)?;
        Ok(out)
    }

    /// Start reading every example's signals of spilled Linear layer `layer` (with or without a
    /// bias) in the background; the next [`SignalStore::load_into`] of all its examples takes them
    /// (a prefetch of another layer pending is waited for and dropped). True when a read started;
    /// nothing happens (false) for an in-memory store or another kind of layer.
    ///
    /// # Errors
    /// A read error of the prefetch dropped.
    pub fn prefetch(&self, layer: usize) -> Result<bool> {
        let Some(s) = self.layers.get(layer) else { return Ok(false) };
        let (Part::Disk(a), Part::Disk(g), true) = (&s.a, &s.g, s.kind.is_linear()) else { return Ok(false) };
        // The read waits on its own thread for the writer to finish the layer's files.
        let ready = lock(&self.writer)?.as_ref().map(|w| w.ready(s.written_by));
        let mut pending = lock(&self.prefetch)?;
        if let Some(old) = pending.0.take() {
            (pending.1, pending.2) = old.join()?;
        }
        let rows = s.offsets[s.offsets.len() - 1];
        let reads = vec![(Arc::clone(a), 0..4 * rows * s.d_in), (Arc::clone(g), 0..4 * rows * s.d_out)];
        let (buffers, stage) = (std::mem::take(&mut pending.1), std::mem::take(&mut pending.2));
        pending.0 = Some(Prefetch::start(layer, reads, ready, buffers, stage));
        Ok(true)
    }

    /// As [`SignalStore::load`], into `out`, reusing its buffers (a reused buffer of a large
    /// load is not faulted in and zeroed again by the kernel).
    ///
    /// # Errors
    /// [`Error::Write`] when a spill file cannot be read.
    pub fn load_into(&self, layer: usize, examples: Range<usize>, out: &mut Loaded) -> Result<()> {
        self.settle(layer)?;
        let s = &self.layers[layer];
        let (r0, r1) = (s.offsets[examples.start], s.offsets[examples.end]);
        out.rows.clear();
        out.rows.extend(s.offsets[examples.start..=examples.end].windows(2).map(|w| w[1] - w[0]));
        let mut pending = lock(&self.prefetch)?;
        if examples.len() == s.offsets.len() - 1 && pending.0.as_ref().is_some_and(|p| p.key() == layer) {
            let (mut buffers, stage) = pending.0.take().map(Prefetch::join).transpose()?.unwrap_or_default();
            if let [a, g] = &mut buffers[..] {
                std::mem::swap(&mut out.a, a);
                std::mem::swap(&mut out.g, g);
            }
            // The buffers `out` had are the next prefetch's.
            (pending.1, pending.2) = (buffers, stage);
            out.ids.clear();
            return Ok(());
        }
        drop(pending);
        if s.kind == LayerKind::Embedding {
            out.a.clear();
        } else {
            s.a.read_into(r0 * s.d_in..r1 * s.d_in, &mut out.a, &self.stage)?;
        }
        s.g.read_into(r0 * s.d_out..r1 * s.d_out, &mut out.g, &self.stage)?;
        out.ids.clear();
        if s.kind == LayerKind::Embedding {
            out.ids.extend_from_slice(&s.ids[r0..r1]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str, rows: Vec<usize>, base: f32) -> LayerSignals {
        layer_of(LayerKind::Linear, name, rows, base)
    }

    fn layer_of(kind: LayerKind, name: &str, rows: Vec<usize>, base: f32) -> LayerSignals {
        let r: usize = rows.iter().sum();
        LayerSignals {
            name: name.into(),
            kind,
            per_token: true,
            rows,
            d_in: 2,
            d_out: 1,
            input: SignalInput::Activation((0..2 * r).map(|v| base + v as f32).collect()),
            grad: (0..r).map(|v| -(base + v as f32)).collect(),
        }
    }

    fn got_a_of_last(store: &SignalStore) -> Vec<f32> {
        store.load(0, 2..3).unwrap().a
    }

    #[test]
    fn memory_and_disk_stores_return_the_same_ranges() {
        for spill in [false, true] {
            let mut store = SignalStore::new(spill).unwrap();
            let keep = |l: &LayerSignals| l.name != "skip";
            store.append(vec![layer("a", vec![1, 2], 0.0), layer("skip", vec![1, 2], 0.0)], &keep).unwrap();
            store.append(vec![layer("a", vec![3], 100.0), layer("skip", vec![3], 0.0)], &keep).unwrap();
            assert_eq!(store.layers().len(), 1);
            assert_eq!(store.spilled(), spill);
            let got = store.load(0, 1..3).unwrap();
            assert_eq!(got.rows, vec![2, 3]);
            assert_eq!(got.a, vec![2.0, 3.0, 4.0, 5.0, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0]);
            assert_eq!(got.g, vec![-1.0, -2.0, -100.0, -101.0, -102.0]);
            let got = store.load(0, 0..3).unwrap();
            assert_eq!(got.g, vec![-0.0, -1.0, -2.0, -100.0, -101.0, -102.0]);
            assert_eq!(store.load(0, 2..3).unwrap().a, vec![100.0, 101.0, 102.0, 103.0, 104.0, 105.0]);
            // Borrowed blocks (RAM only): the appended blocks, covering every example in order.
            match store.blocks(0) {
                Some(blocks) => {
                    assert!(!spill);
                    let got: Vec<_> =
                        blocks.iter().map(|b| (b.examples.clone(), b.rows.clone(), b.g.to_vec())).collect();
                    assert_eq!(
                        got,
                        vec![(0..2, vec![1, 2], vec![-0.0, -1.0, -2.0]), (2..3, vec![3], vec![-100.0, -101.0, -102.0])]
                    );
                    assert_eq!(blocks[1].a, &got_a_of_last(&store)[..]);
                }
                None => assert!(spill),
            }
            assert!(store.append(vec![layer("b", vec![1], 0.0)], &keep).is_err());
        }
    }

    #[test]
    fn prefetched_layers_load_as_read_ones() {
        // Linear layers with a bias (encoders) and without one (decoder projections) alike.
        for kind in [LayerKind::Linear, LayerKind::LinearNoBias] {
            let (mut disk, mut ram) = (SignalStore::new(true).unwrap(), SignalStore::new(false).unwrap());
            for store in [&mut disk, &mut ram] {
                let block = |a: f32, b: f32, rows: Vec<usize>| {
                    vec![layer_of(kind, "a", rows.clone(), a), layer_of(kind, "b", rows, b)]
                };
                store.append(block(0.0, 50.0, vec![1, 2]), &|_| true).unwrap();
                store.append(block(100.0, 150.0, vec![3]), &|_| true).unwrap();
            }
            let mut out = Loaded::default();
            // Prefetch 1, read 0 meanwhile, then 1 (taken from the prefetch), then 0 with a
            // prefetch of 0 dropped by one of 1.
            assert!(disk.prefetch(1).unwrap(), "{kind:?}: no background read started");
            for (layer, prefetch) in [(0, None), (1, None), (1, Some(0)), (0, Some(1)), (0, None)] {
                if let Some(p) = prefetch {
                    assert!(disk.prefetch(p).unwrap());
                }
                disk.load_into(layer, 0..3, &mut out).unwrap();
                let want = ram.load(layer, 0..3).unwrap();
                assert_eq!((&out.rows, &out.a, &out.g), (&want.rows, &want.a, &want.g), "{kind:?} layer {layer}");
            }
            assert!(!ram.prefetch(0).unwrap() && !disk.prefetch(2).unwrap());
        }
        // Embedding tables are read per tile, never prefetched whole.
        let mut disk = SignalStore::new(true).unwrap();
        disk.append(vec![layer_of(LayerKind::Embedding, "e", vec![2], 0.0)], &|_| true).unwrap();
        assert!(!disk.prefetch(0).unwrap());
    }

    #[test]
    fn spill_directory_is_removed_on_drop() {
        let store = SignalStore::new(true).unwrap();
        let dir = store.spill.as_ref().unwrap().0.clone();
        assert!(dir.is_dir());
        drop(store);
        assert!(!dir.exists());
    }
}
