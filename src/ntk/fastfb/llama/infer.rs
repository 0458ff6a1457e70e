//! Inference through the hand-written Llama-family forward: the readout logits and φ of a
//! batch, without autodiff or the caches the eNTK's backward needs — each block's buffers are
//! dropped as soon as the next block has its input — and with the keys and values of a shared
//! prompt prefix computed once ([`HostPrefix`]) and attended to from every example.
//!
//! The maps are [`super::forward`]'s (its `layer_forward` and readout); the attention is
//! [`attention::causal_context`], which keeps no probabilities. On the CPU
//! this replaces burn's forward for [`crate::model::decoder::infer`] (the same logits to f32
//! rounding, tested against it): the GEMMs run through faer on packed real tokens, with no
//! padding and no `[N, heads, T, T]` mask.

use crate::error::{Error, Result};
use crate::ntk::fastfb::attention;
use crate::ntk::fastfb::forward::Packed;
use crate::ntk::fastfb::llama::forward::{layer_forward, pack, readout, rope_of};
use crate::ntk::fastfb::llama::weights::HostLlama;
use crate::tokenize::Encoding;

/// The keys and values of a prompt prefix every example of a batch starts with, per block
/// (`[P, 2·kv_heads·d]`: the rotated keys, then the values), so that a batch runs only the
/// tokens after it.
#[derive(Debug, Clone)]
pub struct HostPrefix {
    /// The prefix's token ids.
    pub ids: Vec<u32>,
    /// Per block, the prefix's keys and values.
    layers: Vec<Vec<f32>>,
}

impl HostPrefix {
    /// Run the prefix `ids` (positions 0..P) through every block, keeping its keys and values.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the ids do not fit the model (as
    /// [`crate::model::decoder::DecoderBatch::new`]); [`Error::Numerical`] when the token rows
    /// cannot be read back from the model's device.
    pub fn new(model: &HostLlama, ids: &[u32]) -> Result<Self> {
        let n = ids.len();
        let encoding =
            Encoding { ids: ids.to_vec(), token_type_ids: vec![0; n], attention_mask: vec![1; n], truncated: false };
        let packed = pack(std::slice::from_ref(&encoding), 0, model, 0)?;
        let mut layers = Vec::with_capacity(model.layers.len());
        blocks(model, &packed, None, Some(&mut layers))?;
        Ok(Self { ids: ids.to_vec(), layers })
    }

    /// Tokens P.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True for an empty prefix.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// What inference reads out at each example's last real token.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// φ `[n, H]`: the final-normed hidden state.
    pub phi: Vec<f32>,
    /// The readout logits `[n, O]` (the label words' or the `score` head's).
    pub logits: Vec<f32>,
}

/// φ and the readout logits of `encodings` (right- or left-padded with `pad_id`), after `past`
/// when given: every encoding then holds only the tokens after the prefix, at positions P…
///
/// # Errors
/// [`Error::InvalidArgument`] when an encoding does not fit the model (too long with the prefix,
/// an id outside the vocabulary, no real token); [`Error::Numerical`] when the token rows cannot
/// be read back from the model's device.
pub fn outputs(model: &HostLlama, encodings: &[Encoding], pad_id: u32, past: Option<&HostPrefix>) -> Result<Outputs> {
    let packed = pack(encodings, pad_id, model, past.map_or(0, HostPrefix::len))?;
    if packed.offsets.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::invalid("input", "an encoding has no real token (its attention mask is all 0)"));
    }
    let hidden = blocks(model, &packed, past, None)?;
    let (_, phi, logits) = readout(model, &packed, &hidden);
    Ok(Outputs { phi, logits })
}

/// The last block's output `[R, H]` for `packed`, every block's keys and values pushed onto
/// `keep` when given (the prefix's). Each block's cache is dropped once the next block has its
/// input.
fn blocks(
    model: &HostLlama,
    packed: &Packed,
    past: Option<&HostPrefix>,
    mut keep: Option<&mut Vec<Vec<f32>>>,
) -> Result<Vec<f32>> {
    let geometry = model.attention;
    let (width, q) = (geometry.fused_width(), geometry.query_width());
    let rope = rope_of(model, packed);
    let mut hidden = model.embed.rows(&packed.ids[0])?;
    for (index, l) in model.layers.iter().enumerate() {
        let past_kv = past.map(|p| p.layers[index].as_slice());
        let attend = |qkv: &[f32]| (Vec::new(), attention::causal_context(qkv, &packed.offsets, geometry, past_kv));
        let (cache, next) = layer_forward(model, l, &hidden, rope.as_ref(), attend);
        if let Some(keep) = keep.as_deref_mut() {
            keep.push(cache.qkv.chunks(width).flat_map(|row| row[q..].iter().copied()).collect());
        }
        hidden = next;
    }
    Ok(hidden)
}
