//! The hand-written f32 CPU forward + activation-only backward of the Llama-family decoders
//! (Llama, Mistral, Qwen2; [`crate::model::decoder::llama`]) for
//! [`crate::ntk::SignalPath::Fast`]: the decoder twin of the encoder's path in
//! [`crate::ntk::fastfb`], producing exactly the [`BlockSignals`] of burn's probed pass
//! ([`crate::ntk::signals::block_signals`]) before [`crate::ntk::NtkModel::finish_signals`] —
//! same layers, order, names, kinds, rows, widths, ids and `per_token` flags, example-major
//! with V virtual outputs — so the rest of the engine (the unembedding's readout columns, the
//! tied-embedding token-match term, the contraction) is untouched.
//!
//! * [`HostLlama`] — the weights, copied once per Gram computation ([`weights`]).
//! * [`mod@forward`] — token embedding, L blocks (RMSNorm, q/k/v with optional biases, RoPE with the
//!   config's base, causal grouped-query attention, SiLU-gated MLP), the final RMSNorm and the
//!   readout at each example's last real token (the label words' unembedding rows, tied or
//!   untied, or the `score` head).
//! * [`mod@backward`] — from the mode's seed at the readout (the encoder's [`seeds`], same margin)
//!   to the token embedding.
//! * [`infer`] — the forward alone for inference (no caches; a shared prompt prefix's keys and
//!   values computed once), behind [`crate::model::decoder::infer`] on the CPU.
//! * [`ops`] — RMSNorm, the SiLU gate and RoPE; the GEMMs, the attention and the assembly of
//!   the signals are the encoder path's.
//!
//! The unembedding's signal is burn's: its output gradient is a `[V]` row per virtual example
//! (V = the vocabulary), zero outside the two readout columns (49,152 floats per row on SmolLM2:
//! 0.2 MB, negligible next to a block's per-token signals); `finish_signals` then keeps those two
//! columns (checking the rest are zero) and merges a tied table's output rows as it does for
//! burn's signals.
//!
//! Packing: each example's real tokens only, whichever side its encoding is padded on (positions
//! count real tokens, as [`crate::model::decoder::DecoderBatch`] does), so every mask pattern
//! packs exactly and no block falls back to burn. The model-level fallbacks (burn's path runs):
//! GPT-2, weights that are not f32, any device but the CPU, `--signals burn`.
//!
//! Determinism: as the encoder path's, work is split over rows, examples or GEMM output blocks,
//! never over a reduction: the signals are bit-identical for any thread count (tested).

pub mod backward;
pub mod forward;
pub mod infer;
pub mod ops;
pub mod weights;

pub use weights::HostLlama;

use crate::error::Result;
use crate::model::LayerKind;
use crate::ntk::fastfb::assemble::{columns, each, shared_input, Assembler};
use crate::ntk::fastfb::backward::seeds;
use crate::ntk::fastfb::forward::Packed;
use crate::ntk::outputs::OutputMode;
use crate::ntk::signals::{BlockSignals, SignalInput};
use crate::tokenize::Encoding;

use backward::{backward, Grads};
use forward::{forward, pack, ForwardCache};
use weights::{kind, HostHead};

/// The signals of `encodings` (each repeated V times, example-major, as
/// [`crate::ntk::signals::block_signals`] does) through the host copy `model`.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] for encodings that do not fit the model (as
/// [`crate::model::decoder::DecoderBatch::new`]); an output mode the readout does not allow;
/// [`crate::Error::Numerical`] when the token rows cannot be read back from the model's device.
pub fn block_signals(model: &HostLlama, encodings: &[Encoding], pad_id: u32, mode: OutputMode) -> Result<BlockSignals> {
    let labels = model.labels();
    mode.validate(labels)?;
    let virtuals = mode.virtual_outputs(labels);
    let packed = pack(encodings, pad_id, model, 0)?;
    let cache = forward(model, &packed)?;
    let grads: Vec<Grads> =
        (0..virtuals).map(|v| backward(model, &packed, &cache, seeds(mode, v, &cache.logits, labels))).collect();
    Ok(assemble(model, &packed, cache, grads))
}

/// The head's output gradient: the seeds, or for an unembedding the seeds placed at the label
/// columns of a `[n, V]` zero matrix.
fn head_grad(head: &HostHead, seed: Vec<f32>) -> Vec<f32> {
    let HostHead::Unembedding { vocab, ids, .. } = head else { return seed };
    let mut out = vec![0.0f32; seed.len() / ids.len() * vocab];
    for (row, c) in out.chunks_mut(*vocab).zip(seed.chunks(ids.len())) {
        for (&id, &v) in ids.iter().zip(c) {
            row[id as usize] = v;
        }
    }
    out
}

fn assemble(model: &HostLlama, packed: &Packed, cache: ForwardCache, mut grads: Vec<Grads>) -> BlockSignals {
    let (n, virtuals) = (packed.examples(), grads.len());
    let g = model.attention;
    let (q, kv) = (g.query_width(), g.kv_heads * g.head_dim);
    let mut asm = Assembler::new(&packed.offsets, n, virtuals, packed.seq_len);
    let embed = each(&mut grads, |x| std::mem::take(&mut x.embed));
    asm.push(&model.embed.name, LayerKind::Embedding, false, SignalInput::Ids(packed.ids[0].clone()), embed);
    let mut layer_grads: Vec<std::vec::IntoIter<_>> =
        grads.iter_mut().map(|x| std::mem::take(&mut x.layers).into_iter()).collect();
    for (l, mut c) in model.layers.iter().zip(cache.layers) {
        let mut lg: Vec<_> = layer_grads.iter_mut().filter_map(Iterator::next).collect();
        let input_norm = each(&mut lg, |x| std::mem::take(&mut x.input_norm));
        asm.push(&l.input_norm.name, LayerKind::RmsNorm, false, SignalInput::Activation(c.input_norm.xhat), input_norm);
        let width = l.qkv.d_out;
        for (part, (name, (start, w))) in l.qkv_names.iter().zip([(0, q), (q, kv), (q + kv, kv)]).enumerate() {
            let grad = lg.iter().map(|x| columns(&x.qkv, width, start, w)).collect();
            let input = shared_input(&mut c.normed, part + 1 == l.qkv_names.len());
            asm.push(name, kind(&l.qkv), false, SignalInput::Activation(input), grad);
        }
        let o_proj = each(&mut lg, |x| std::mem::take(&mut x.o_proj));
        asm.push(&l.o_proj.name, kind(&l.o_proj), false, SignalInput::Activation(c.context), o_proj);
        let post_norm = each(&mut lg, |x| std::mem::take(&mut x.post_norm));
        asm.push(&l.post_norm.name, LayerKind::RmsNorm, false, SignalInput::Activation(c.post_norm.xhat), post_norm);
        let inner = l.down.d_in;
        for (part, name) in l.gate_up_names.iter().enumerate() {
            let grad = lg.iter().map(|x| columns(&x.gate_up, 2 * inner, part * inner, inner)).collect();
            let input = shared_input(&mut c.post_normed, part + 1 == l.gate_up_names.len());
            asm.push(name, kind(&l.gate_up), false, SignalInput::Activation(input), grad);
        }
        let down = each(&mut lg, |x| std::mem::take(&mut x.down));
        asm.push(&l.down.name, kind(&l.down), false, SignalInput::Activation(c.gated), down);
    }
    let final_norm = each(&mut grads, |x| std::mem::take(&mut x.final_norm));
    let xhat = SignalInput::Activation(cache.final_norm.xhat);
    asm.push(&model.final_norm.name, LayerKind::RmsNorm, true, xhat, final_norm);
    let head = each(&mut grads, |x| head_grad(&model.head, std::mem::take(&mut x.readout)));
    let name = match &model.head {
        HostHead::Unembedding { name, .. } | HostHead::Score { name } => name,
    };
    asm.push(name, LayerKind::LinearNoBias, true, SignalInput::Activation(cache.phi), head);
    asm.finish()
}
