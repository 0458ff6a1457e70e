//! Turning one block's forward caches and V backwards into [`crate::ntk::signals::BlockSignals`] layers in burn's
//! layout: every input repeated V times per example and the V gradients interleaved
//! (example-major, virtual output minor), per-token layers over each example's real rows, head
//! layers over one row per example (shared by both families' hand-written paths).

use crate::model::LayerKind;
use crate::ntk::fastfb::ops::{copied, fresh, FRESH_CHUNK};
use crate::ntk::signals::{BlockSignals, BlockWork, LayerSignals, SignalInput};

/// Row offsets of the head layers (one row per example).
pub(crate) fn head_offsets(n: usize) -> Vec<usize> {
    (0..=n).collect()
}

/// Rows of `x` `[R, d]` (grouped by `offsets`) repeated `v` times per example.
pub(crate) fn repeated<T: Copy>(x: Vec<T>, offsets: &[usize], d: usize, v: usize) -> Vec<T> {
    if v == 1 {
        return x;
    }
    let mut out = Vec::with_capacity(x.len() * v);
    for w in offsets.windows(2) {
        for _ in 0..v {
            out.extend_from_slice(&x[w[0] * d..w[1] * d]);
        }
    }
    out
}

/// Per example, the rows of each virtual output's gradient in turn.
pub(crate) fn interleaved(mut parts: Vec<Vec<f32>>, offsets: &[usize], d: usize) -> Vec<f32> {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for w in offsets.windows(2) {
        for p in &parts {
            out.extend_from_slice(&p[w[0] * d..w[1] * d]);
        }
    }
    out
}

/// Columns `start..start + width` of `x` `[R, stride]`, copied by the thread pool.
pub(crate) fn columns(x: &[f32], stride: usize, start: usize, width: usize) -> Vec<f32> {
    let rows = x.len().checked_div(stride).unwrap_or(0);
    let chunk = (FRESH_CHUNK / width.max(1)).max(1) * width;
    fresh(rows * width, chunk, |at, out| {
        let first = at / width;
        for (o, row) in out.chunks_mut(width).zip(x[first * stride..].chunks(stride)) {
            for (o, &v) in o.iter_mut().zip(&row[start..start + width]) {
                o.write(v);
            }
        }
    })
}

/// A buffer several layers share (the q/k/v or gate/up input, the embedding tables' gradient):
/// a copy by the thread pool for all but the `last`, which takes it.
pub(crate) fn shared_input(x: &mut Vec<f32>, last: bool) -> Vec<f32> {
    if last {
        std::mem::take(x)
    } else {
        copied(x)
    }
}

/// Builds one [`LayerSignals`] after another, repeating inputs and interleaving gradients.
pub(crate) struct Assembler<'a> {
    /// Row offsets of the per-token layers (example i: rows `offsets[i]..offsets[i + 1]`).
    pub offsets: &'a [usize],
    /// Row offsets of the head layers ([`head_offsets`]).
    pub heads: Vec<usize>,
    /// Virtual outputs V.
    pub virtuals: usize,
    /// The block's padded length T.
    pub seq_len: usize,
    /// The layers so far, in forward order.
    pub layers: Vec<LayerSignals>,
}

impl<'a> Assembler<'a> {
    /// An empty assembler for `examples` examples packed by `offsets`.
    pub fn new(offsets: &'a [usize], examples: usize, virtuals: usize, seq_len: usize) -> Self {
        Self { offsets, heads: head_offsets(examples), virtuals, seq_len, layers: Vec::new() }
    }

    /// Append a layer: `input` over the real rows (`head`: one per example, for the head and the
    /// encoder's pooled layers), `grads` one per virtual output.
    pub fn push(&mut self, name: &str, kind: LayerKind, head: bool, input: SignalInput, grads: Vec<Vec<f32>>) {
        let offsets = if head { &self.heads } else { self.offsets };
        let d_out = grads[0].len() / offsets.last().copied().unwrap_or(1).max(1);
        let (input, d_in) = match input {
            SignalInput::Activation(a) => {
                let d_in = a.len() / offsets.last().copied().unwrap_or(1).max(1);
                (SignalInput::Activation(repeated(a, offsets, d_in, self.virtuals)), d_in)
            }
            SignalInput::Ids(ids) => (SignalInput::Ids(repeated(ids, offsets, 1, self.virtuals)), 0),
        };
        let rows = offsets.windows(2).flat_map(|w| std::iter::repeat_n(w[1] - w[0], self.virtuals)).collect();
        let grad = interleaved(grads, offsets, d_out);
        let per_token = !head || self.seq_len == 1;
        self.layers.push(LayerSignals { name: name.to_string(), kind, per_token, rows, d_in, d_out, input, grad });
    }

    /// The block's signals: the layers pushed, and the work done (one forward over the examples'
    /// real tokens, V backwards).
    pub fn finish(self) -> BlockSignals {
        let lengths: Vec<usize> = self.offsets.windows(2).map(|w| w[1] - w[0]).collect();
        let batch_rows = lengths.len() * self.virtuals;
        let work = BlockWork::Packed { lengths, virtuals: self.virtuals };
        BlockSignals { layers: self.layers, seq_len: self.seq_len, batch_rows, work }
    }
}

/// Collect every `pick`ed gradient of the V backwards.
pub(crate) fn each<G, F: FnMut(&mut G) -> Vec<f32>>(grads: &mut [G], pick: F) -> Vec<Vec<f32>> {
    grads.iter_mut().map(pick).collect()
}
