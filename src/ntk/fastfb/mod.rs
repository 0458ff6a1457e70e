//! A hand-written f32 CPU forward + activation-only backward for [`crate::ntk::SignalPath::Fast`]:
//! the same [`BlockSignals`] as the probed burn pass of [`crate::ntk::signals::block_signals`]
//! (same layers, order, names, kinds, rows and widths; the recorded input a / x̂ / ids and the
//! output gradient g = ∂(Σ_rows f_row)/∂y on real tokens), several times faster on the CPU.
//!
//! * [`HostModel`] — the weights, copied once per Gram computation ([`weights`]).
//! * [`forward`] — embeddings, L post-LayerNorm encoder layers (exact or tanh GELU), the
//!   `dense → tanh → linear` head on the first token (BERT pooler or RoBERTa classification head;
//!   RoBERTa's position-id offset comes from [`crate::model::batch`]); eval mode.
//! * [`backward`] — from the mode's seed at the logits ([`backward::seeds`]) to the embeddings.
//! * [`ops`], [`attention`] — faer f32 GEMMs (multi-threaded; attention per example in parallel,
//!   heads in sequence), element-wise loops with rayon, vectorisable `exp`/`erf`.
//!
//! Why it is faster than burn's flex autodiff pass: the block is packed without padding (each
//! example attends over its own real tokens), the forward runs once per example even when a mode
//! has V virtual outputs (V backwards share it), Q/K/V are one fused GEMM, gelu′ is saved in the
//! forward, and there is no autodiff graph, probe tensor or device read-back.
//!
//! Determinism: work is split over rows, examples or GEMM output blocks, never over a reduction,
//! so the signals are bit-identical for any thread count (tested).
//!
//! Known gaps: CPU only (on wgpu the burn path runs); an encoding whose first position is padding
//! (no tokenizer produces one) makes the block fall back to burn ([`forward::fits`]); the
//! element-wise `exp`/`erf`/`tanh` differ from libm by ≈ 1e-7, so signals agree with burn's to
//! f32 rounding (≤ 1e-5 relative, tested), not bit for bit.

pub mod attention;
pub mod backward;
pub mod forward;
pub mod ops;
pub mod weights;

pub use forward::fits;
pub use weights::HostModel;

use crate::error::Result;
use crate::model::LayerKind;
use crate::ntk::outputs::OutputMode;
use crate::ntk::signals::{BlockSignals, LayerSignals, SignalInput};
use crate::tokenize::Encoding;

use backward::{backward, seeds, Grads};
use forward::{forward, ForwardCache, Packed};

/// The signals of `encodings` (each repeated V times, example-major, as
/// [`crate::ntk::signals::block_signals`] does) through the host copy `model`.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] for encodings that do not fit the model (as
/// [`crate::model::Batch::new`]), or whose first position is padding (check [`fits`] first);
/// an output mode the model's labels do not allow; [`crate::Error::Numerical`] when embedding
/// rows cannot be read back from the model's device.
pub fn block_signals(model: &HostModel, encodings: &[Encoding], pad_id: u32, mode: OutputMode) -> Result<BlockSignals> {
    let labels = model.labels();
    mode.validate(labels)?;
    let virtuals = mode.virtual_outputs(labels);
    let packed = Packed::new(encodings, pad_id, model)?;
    let cache = forward(model, &packed)?;
    let grads: Vec<Grads> =
        (0..virtuals).map(|v| backward(model, &packed, &cache, seeds(mode, v, &cache.logits, labels))).collect();
    Ok(assemble(model, &packed, cache, grads))
}

/// Row offsets of the head layers (one row per example).
fn head_offsets(n: usize) -> Vec<usize> {
    (0..=n).collect()
}

/// Rows of `x` `[R, d]` (grouped by `offsets`) repeated `v` times per example.
fn repeated<T: Copy>(x: Vec<T>, offsets: &[usize], d: usize, v: usize) -> Vec<T> {
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
fn interleaved(mut parts: Vec<Vec<f32>>, offsets: &[usize], d: usize) -> Vec<f32> {
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

/// Columns `start..start + width` of `x` `[R, stride]`.
fn columns(x: &[f32], stride: usize, start: usize, width: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / stride * width);
    for row in x.chunks(stride) {
        out.extend_from_slice(&row[start..start + width]);
    }
    out
}

/// Builds one [`LayerSignals`] after another, repeating inputs and interleaving gradients.
struct Assembler<'a> {
    offsets: &'a [usize],
    heads: Vec<usize>,
    virtuals: usize,
    seq_len: usize,
    layers: Vec<LayerSignals>,
}

impl Assembler<'_> {
    fn push(&mut self, name: &str, kind: LayerKind, head: bool, input: SignalInput, grads: Vec<Vec<f32>>) {
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
}

/// Collect every `pick`ed gradient of the V backwards.
fn each<F: FnMut(&mut Grads) -> Vec<f32>>(grads: &mut [Grads], pick: F) -> Vec<Vec<f32>> {
    grads.iter_mut().map(pick).collect()
}

fn assemble(model: &HostModel, packed: &Packed, cache: ForwardCache, mut grads: Vec<Grads>) -> BlockSignals {
    let (h, n, virtuals) = (model.hidden(), packed.examples(), grads.len());
    let mut asm = Assembler {
        offsets: &packed.offsets,
        heads: head_offsets(n),
        virtuals,
        seq_len: packed.seq_len,
        layers: Vec::new(),
    };
    let embeddings = each(&mut grads, |g| std::mem::take(&mut g.embeddings));
    for (table, ids) in model.tables.iter().zip(packed.ids.clone()) {
        asm.push(&table.name, LayerKind::Embedding, false, SignalInput::Ids(ids), embeddings.clone());
    }
    let norm = each(&mut grads, |g| std::mem::take(&mut g.embedding_norm));
    asm.push(
        &model.embedding_norm.name,
        LayerKind::LayerNorm,
        false,
        SignalInput::Activation(cache.embedding_norm.xhat),
        norm,
    );
    let mut layer_grads: Vec<std::vec::IntoIter<_>> =
        grads.iter_mut().map(|g| std::mem::take(&mut g.layers).into_iter()).collect();
    for (l, c) in model.layers.iter().zip(cache.layers) {
        let mut g: Vec<_> = layer_grads.iter_mut().filter_map(Iterator::next).collect();
        for (part, name) in l.qkv_names.iter().enumerate() {
            let grad = g.iter().map(|x| columns(&x.qkv, 3 * h, part * h, h)).collect();
            asm.push(name, LayerKind::Linear, false, SignalInput::Activation(c.input.clone()), grad);
        }
        let mut take = |f: fn(&mut backward::LayerGrads) -> &mut Vec<f32>| {
            g.iter_mut().map(|x| std::mem::take(f(x))).collect::<Vec<_>>()
        };
        let (ao, an, inter, out, on) = (
            take(|x| &mut x.attention_output),
            take(|x| &mut x.attention_norm),
            take(|x| &mut x.intermediate),
            take(|x| &mut x.output),
            take(|x| &mut x.output_norm),
        );
        asm.push(&l.attention_output.name, LayerKind::Linear, false, SignalInput::Activation(c.context), ao);
        asm.push(
            &l.attention_norm.name,
            LayerKind::LayerNorm,
            false,
            SignalInput::Activation(c.attention_norm.xhat),
            an,
        );
        asm.push(&l.intermediate.name, LayerKind::Linear, false, SignalInput::Activation(c.attended), inter);
        asm.push(&l.output.name, LayerKind::Linear, false, SignalInput::Activation(c.activated), out);
        asm.push(&l.output_norm.name, LayerKind::LayerNorm, false, SignalInput::Activation(c.output_norm.xhat), on);
    }
    let dense = each(&mut grads, |g| std::mem::take(&mut g.head_dense));
    asm.push(&model.head_dense.name, LayerKind::Linear, true, SignalInput::Activation(cache.first), dense);
    let output = each(&mut grads, |g| std::mem::take(&mut g.head_output));
    asm.push(&model.head_output.name, LayerKind::Linear, true, SignalInput::Activation(cache.pooled), output);
    BlockSignals { layers: asm.layers, seq_len: packed.seq_len, batch_rows: n * virtuals }
}
