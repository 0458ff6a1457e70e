//! Inference through the hand-written Llama-family forward: the readout logits and φ of a
//! batch, without autodiff or the caches the eNTK's backward needs — each block's buffers are
//! dropped as soon as the next block has its input — and with the keys and values of a shared
//! prompt prefix computed once ([`HostPrefix`]) and attended to from every example.
//!
//! The maps are [`super::forward`]'s (the same RMSNorm, fused projections, RoPE and SiLU gate);
//! the attention is [`attention::causal_context`], which keeps no probabilities. On the CPU
//! this replaces burn's forward for [`crate::model::decoder::infer`] (the same logits to f32
//! rounding, tested against it): the GEMMs run through faer on packed real tokens, with no
//! padding and no `[N, heads, T, T]` mask.

use crate::error::{Error, Result};
use crate::model::decoder::batch::{check, position_ids};
use crate::model::decoder::rope::rope_rows;
use crate::ntk::fastfb::attention;
use crate::ntk::fastfb::forward::Packed;
use crate::ntk::fastfb::llama::forward::{last_rows, readout_logits};
use crate::ntk::fastfb::llama::ops::{rms_forward, silu_gate_forward, Rope};
use crate::ntk::fastfb::llama::weights::HostLlama;
use crate::tokenize::{pad_batch, Encoding};

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
    let h = model.hidden();
    let last: Vec<f32> = last_rows(&packed).iter().flat_map(|&r| hidden[r * h..(r + 1) * h].iter().copied()).collect();
    let (phi, _) = rms_forward(&last, &model.final_norm.gamma, model.final_norm.epsilon);
    let logits = readout_logits(&phi, &model.readout, h);
    Ok(Outputs { phi, logits })
}

/// Validate and pack `encodings` as [`super::forward::pack`] does, their positions starting
/// at `past` (the prefix's length).
fn pack(encodings: &[Encoding], pad_id: u32, model: &HostLlama, past: usize) -> Result<Packed> {
    let padded = pad_batch(encodings, pad_id)?;
    check(&padded, past, &model.config)?;
    let offset = u32::try_from(past).map_err(|_| Error::invalid("input", "prefix too long"))?;
    let positions: Vec<u32> = position_ids(&padded).into_iter().map(|p| p + offset).collect();
    Ok(Packed::from_padded(&padded, &positions))
}

/// The last block's output `[R, H]` for `packed`, every block's keys and values pushed onto
/// `keep` when given (the prefix's).
fn blocks(
    model: &HostLlama,
    packed: &Packed,
    past: Option<&HostPrefix>,
    mut keep: Option<&mut Vec<Vec<f32>>>,
) -> Result<Vec<f32>> {
    let geometry = model.attention;
    let (width, q) = (geometry.fused_width(), geometry.query_width());
    let rope = model.config.rope_theta.map(|theta| {
        let (cos, sin) = rope_rows(&packed.ids[1], model.config.head_dim, theta);
        Rope { cos, sin, head_dim: model.config.head_dim }
    });
    let rows = packed.rows();
    let mut hidden = model.embed.rows(&packed.ids[0])?;
    for (index, l) in model.layers.iter().enumerate() {
        let (normed, _) = rms_forward(&hidden, &l.input_norm.gamma, l.input_norm.epsilon);
        let mut qkv = l.qkv.forward(&normed, rows);
        drop(normed);
        if let Some(rope) = &rope {
            rope.rotate(&mut qkv, width, geometry.heads + geometry.kv_heads, false);
        }
        let past_kv = past.map(|p| p.layers[index].as_slice());
        let context = attention::causal_context(&qkv, &packed.offsets, geometry, past_kv);
        if let Some(keep) = keep.as_deref_mut() {
            keep.push(qkv.chunks(width).flat_map(|row| row[q..].iter().copied()).collect());
        }
        drop(qkv);
        let attended = l.o_proj.forward_residual(&context, &hidden, rows);
        drop(context);
        let (post_normed, _) = rms_forward(&attended, &l.post_norm.gamma, l.post_norm.epsilon);
        let gate_up = l.gate_up.forward(&post_normed, rows);
        drop(post_normed);
        let gated = silu_gate_forward(&gate_up, l.down.d_in);
        drop(gate_up);
        hidden = l.down.forward_residual(&gated, &attended, rows);
    }
    Ok(hidden)
}
