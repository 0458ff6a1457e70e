//! A hand-written f32 CPU forward + activation-only backward for [`crate::ntk::SignalPath::Fast`]:
//! the same [`BlockSignals`] as the probed burn pass of [`crate::ntk::signals::block_signals`]
//! (same layers, order, names, kinds, rows and widths; the recorded input a / x̂ / ids and the
//! output gradient g = ∂(Σ_rows f_row)/∂y on real tokens — except that the encoder's last layer
//! runs its maps above the attention on each example's first token only, so those layers come
//! with that row alone, as [`crate::ntk::signals::keep_pooled_rows`] leaves burn's), several
//! times faster on the CPU —
//! for the BERT/RoBERTa encoder (this module) and the Llama-family decoders ([`llama`]);
//! [`FastModel`] is either host copy.
//!
//! * [`HostModel`] — the encoder's weights, copied once per Gram computation ([`weights`]).
//! * [`mod@forward`] — embeddings, L post-LayerNorm encoder layers (exact or tanh GELU), the
//!   `dense → tanh → linear` head on the first token (BERT pooler or RoBERTa classification head;
//!   RoBERTa's position-id offset comes from [`crate::model::batch`]); eval mode.
//! * [`mod@backward`] — from the mode's seed at the logits ([`backward::seeds`]) to the embeddings.
//! * [`ops`], [`attention`] — faer f32 GEMMs (multi-threaded; attention per example in parallel,
//!   heads in sequence; bidirectional or causal, grouped-query or not), element-wise loops with
//!   rayon, vectorisable `exp`/`erf`; [`assemble`] lays the caches and gradients out as burn's
//!   signals. Both families share these.
//!
//! Why it is faster than burn's flex autodiff pass: the block is packed without padding (each
//! example attends over its own real tokens), the forward runs once per example even when a mode
//! has V virtual outputs (V backwards share it), Q/K/V are one fused GEMM, gelu′ is saved in the
//! forward, and there is no autodiff graph, probe tensor or device read-back.
//!
//! Determinism: work is split over rows, examples or GEMM output blocks, never over a reduction,
//! so the signals are bit-identical for any thread count (tested).
//!
//! Known gaps: CPU only (on wgpu the burn path runs); an encoder encoding whose first position
//! is padding (no tokenizer produces one) makes the block fall back to burn ([`forward::fits`]);
//! GPT-2 has no hand-written path; the element-wise `exp`/`erf`/`tanh` differ from libm by
//! ≈ 1e-7, so signals agree with burn's to f32 rounding (≤ 1e-5 relative, tested), not bit for
//! bit.

pub mod assemble;
pub mod attention;
pub mod backward;
pub mod forward;
pub mod llama;
pub mod ops;
pub mod tally;
pub mod weights;

pub use forward::fits;
pub use weights::HostModel;

use crate::error::Result;
use crate::model::LayerKind;
use crate::ntk::outputs::OutputMode;
use crate::ntk::signals::{BlockSignals, SignalInput};
use crate::tokenize::Encoding;

use assemble::{columns, each, shared_input, Assembler};
use backward::{backward, seeds, Grads};
use forward::{forward, ForwardCache, Packed};
use llama::HostLlama;

/// A model's host copy for the hand-written path ([`crate::ntk::NtkModel::fast_model`]).
#[derive(Debug, Clone)]
pub enum FastModel {
    /// A BERT/RoBERTa classifier.
    Encoder(Box<HostModel>),
    /// A Llama-family decoder.
    Llama(Box<HostLlama>),
}

impl FastModel {
    /// True when the hand-written path takes the block `encodings` (else burn's runs): always
    /// for a decoder, for an encoder when no encoding starts with padding ([`fits`]).
    pub fn fits(&self, encodings: &[Encoding]) -> bool {
        match self {
            FastModel::Encoder(_) => fits(encodings),
            FastModel::Llama(_) => true,
        }
    }

    /// The block's signals ([`block_signals`], [`llama::block_signals`]).
    ///
    /// # Errors
    /// As those.
    pub fn block_signals(&self, encodings: &[Encoding], pad_id: u32, mode: OutputMode) -> Result<BlockSignals> {
        match self {
            FastModel::Encoder(m) => block_signals(m, encodings, pad_id, mode),
            FastModel::Llama(m) => llama::block_signals(m, encodings, pad_id, mode),
        }
    }
}

/// The signals of `encodings` (each repeated V times, example-major, as
/// [`crate::ntk::signals::block_signals`] does) through the encoder's host copy `model`.
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

/// Lay out one forward's caches and its V backwards' gradients as burn's signals (the
/// training step's too: [`crate::train::host_step`]).
pub(crate) fn assemble(model: &HostModel, packed: &Packed, cache: ForwardCache, mut grads: Vec<Grads>) -> BlockSignals {
    let (h, n, virtuals) = (model.hidden(), packed.examples(), grads.len());
    let mut asm = Assembler::new(&packed.offsets, n, virtuals, packed.seq_len);
    let mut embeddings = each(&mut grads, |g| std::mem::take(&mut g.embeddings));
    for (index, (table, ids)) in model.tables.iter().zip(packed.ids.clone()).enumerate() {
        let last = index + 1 == model.tables.len();
        let grads = embeddings.iter_mut().map(|e| shared_input(e, last)).collect();
        asm.push(&table.name, LayerKind::Embedding, false, SignalInput::Ids(ids), grads);
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
    let last = model.layers.len().saturating_sub(1);
    for (index, (l, mut c)) in model.layers.iter().zip(cache.layers).enumerate() {
        // The last layer's maps above the attention ran on the first tokens: one row per example,
        // as `signals::keep_pooled_rows` leaves burn's.
        let pooled = index == last;
        let mut g: Vec<_> = layer_grads.iter_mut().filter_map(Iterator::next).collect();
        for (part, name) in l.qkv_names.iter().enumerate() {
            let grad = g.iter().map(|x| columns(&x.qkv, 3 * h, part * h, h)).collect();
            let input = shared_input(&mut c.input, part + 1 == l.qkv_names.len());
            asm.push(name, LayerKind::Linear, false, SignalInput::Activation(input), grad);
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
        asm.push(&l.attention_output.name, LayerKind::Linear, pooled, SignalInput::Activation(c.context), ao);
        asm.push(
            &l.attention_norm.name,
            LayerKind::LayerNorm,
            pooled,
            SignalInput::Activation(c.attention_norm.xhat),
            an,
        );
        asm.push(&l.intermediate.name, LayerKind::Linear, pooled, SignalInput::Activation(c.attended), inter);
        asm.push(&l.output.name, LayerKind::Linear, pooled, SignalInput::Activation(c.activated), out);
        asm.push(&l.output_norm.name, LayerKind::LayerNorm, pooled, SignalInput::Activation(c.output_norm.xhat), on);
    }
    let dense = each(&mut grads, |g| std::mem::take(&mut g.head_dense));
    asm.push(&model.head_dense.name, LayerKind::Linear, true, SignalInput::Activation(cache.first), dense);
    let output = each(&mut grads, |g| std::mem::take(&mut g.head_output));
    asm.push(&model.head_output.name, LayerKind::Linear, true, SignalInput::Activation(cache.pooled), output);
    asm.finish()
}
