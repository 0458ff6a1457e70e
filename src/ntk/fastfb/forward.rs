//! The forward pass of the hand-written path on one block's packed real tokens, keeping what the
//! backward and the signals need (eval mode, no dropout; the same maps as `crate::model`):
//!
//! e = E_word[id] + E_pos[pos] + E_type[type]; h₀ = LN(e);
//! per layer: [q|k|v] = h·W_qkv + b; c = attention(q, k, v); u = LN₁(c·W_o + b_o + h);
//! m = gelu(u·W_i + b_i); h′ = LN₂(m·W_o2 + b_o2 + u);
//! head on each example's first token: p = tanh(h_L,0·W_d + b_d); logits = p·W_c + b_c.
//!
//! The head reads only the first token of the last layer's output, so that layer runs its maps
//! above the attention (o, LN₁, the feed-forward, LN₂) on each example's first token alone: its
//! cache holds those rows only (the last layer's `context`, norms, `attended`, `gelu_grad`,
//! `activated`: `[n, ·]`).

use crate::error::{Error, Result};
use crate::model::batch::{check_padded, position_ids};
use crate::ntk::fastfb::attention::{self, Heads};
use crate::ntk::fastfb::ops::{gelu_forward, matmul_fresh, norm_forward, NormCache};
use crate::ntk::fastfb::weights::HostModel;
use crate::ntk::signals::gather_rows;
use crate::tokenize::{pad_batch, Encoding, PaddedBatch};

/// A block's real tokens, packed example after example (no padding anywhere).
#[derive(Debug, Clone)]
pub struct Packed {
    /// Row offsets: example i holds rows `offsets[i]..offsets[i + 1]`.
    pub offsets: Vec<usize>,
    /// Word (token), position and token-type ids of every row `[R]`.
    pub ids: [Vec<u32>; 3],
    /// The block's padded length T (the longest encoding).
    pub seq_len: usize,
}

impl Packed {
    /// Validate `encodings` as [`crate::model::Batch::new`] does and pack their real tokens
    /// (attention mask 1), with the model's position ids (RoBERTa's offset included).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] as `Batch::new`; also when an encoding's first position is
    /// padding (the head reads position 0; callers check [`fits`] first).
    pub fn new(encodings: &[Encoding], pad_id: u32, model: &HostModel) -> Result<Self> {
        if !fits(encodings) {
            return Err(Error::invalid(
                "input",
                "an encoding starts with padding (its first position has attention mask 0)",
            ));
        }
        let padded = pad_batch(encodings, pad_id)?;
        check_padded(&padded, &model.config)?;
        let positions = position_ids(&padded, &model.config)?;
        Ok(Self::from_padded(&padded, &positions))
    }

    /// Pack the real tokens (attention mask 1) of `padded`, in order, with their `positions`
    /// (`[N·T]`, row-major); token types ride along (the decoders ignore them).
    pub fn from_padded(padded: &PaddedBatch, positions: &[u32]) -> Self {
        let mut offsets = vec![0];
        let mut ids: [Vec<u32>; 3] = Default::default();
        for (p, &position) in positions.iter().enumerate().take(padded.batch_size * padded.seq_len) {
            if padded.attention_mask[p] != 0 {
                ids[0].push(padded.ids[p]);
                ids[1].push(position);
                ids[2].push(padded.token_type_ids[p]);
            }
            if (p + 1) % padded.seq_len == 0 {
                offsets.push(ids[0].len());
            }
        }
        Self { offsets, ids, seq_len: padded.seq_len }
    }

    /// Real tokens R.
    pub fn rows(&self) -> usize {
        self.ids[0].len()
    }

    /// Examples n.
    pub fn examples(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// True when every encoding's first position is a real token (the packed path's precondition).
pub fn fits(encodings: &[Encoding]) -> bool {
    encodings.iter().all(|e| e.attention_mask.first().is_some_and(|&m| m != 0))
}

/// What one encoder layer's forward keeps.
#[derive(Debug, Clone)]
pub struct LayerCache {
    /// The layer input h `[R, H]`.
    pub input: Vec<f32>,
    /// The fused projection [q|k|v] `[R, 3H]`.
    pub qkv: Vec<f32>,
    /// Attention probabilities per example, `[heads, len, len]`.
    pub probs: Vec<Vec<f32>>,
    /// The attention context `[R, H]` (input of `attention.output.dense`); in the last layer the
    /// first token's rows only, `[n, H]`, as every cache below.
    pub context: Vec<f32>,
    /// `attention.output.LayerNorm`'s cache.
    pub attention_norm: NormCache,
    /// u = LN₁(…) `[R, H]` (input of `intermediate.dense`).
    pub attended: Vec<f32>,
    /// gelu′ at the intermediate pre-activation `[R, I]`.
    pub gelu_grad: Vec<f32>,
    /// m = gelu(…) `[R, I]` (input of `output.dense`).
    pub activated: Vec<f32>,
    /// `output.LayerNorm`'s cache.
    pub output_norm: NormCache,
}

/// What the whole forward keeps.
#[derive(Debug, Clone)]
pub struct ForwardCache {
    /// The embedding LayerNorm's cache.
    pub embedding_norm: NormCache,
    /// Every layer's cache, in order (the last one's maps above the attention on the first
    /// tokens only).
    pub layers: Vec<LayerCache>,
    /// The first token's final hidden state per example `[n, H]` (input of the head's dense).
    pub first: Vec<f32>,
    /// tanh(dense(first)) `[n, H]` (input of the output layer).
    pub pooled: Vec<f32>,
    /// Logits `[n, O]`.
    pub logits: Vec<f32>,
}

fn embed(model: &HostModel, packed: &Packed) -> Result<Vec<f32>> {
    let mut e = model.tables[0].rows(&packed.ids[0])?;
    for (table, ids) in model.tables.iter().zip(&packed.ids).skip(1) {
        e.iter_mut().zip(table.rows(ids)?).for_each(|(e, v)| *e += v);
    }
    Ok(e)
}

/// One layer on `input` `[R, H]`; with `pooled` (the last layer: each example's first row) the
/// maps above the attention run on those rows only and the output is `[pooled.len(), H]`.
fn layer_forward(
    model: &HostModel,
    index: usize,
    input: Vec<f32>,
    offsets: &[usize],
    pooled: Option<&[usize]>,
) -> (LayerCache, Vec<f32>) {
    let l = &model.layers[index];
    let (h, all) = (model.hidden(), input.len() / model.hidden());
    let qkv = l.qkv.forward(&input, all);
    let (probs, context) = attention::forward(&qkv, offsets, Heads::encoder(h, l.heads));
    let (context, projected, rows) = match pooled {
        Some(p) => {
            let context = gather_rows(&context, p, h);
            let projected = l.attention_output.forward_residual(&context, &gather_rows(&input, p, h), p.len());
            (context, projected, p.len())
        }
        None => {
            let projected = l.attention_output.forward_residual(&context, &input, all);
            (context, projected, all)
        }
    };
    let (attended, attention_norm) =
        norm_forward(&projected, &l.attention_norm.gamma, &l.attention_norm.beta, l.attention_norm.epsilon);
    let mut activated = matmul_fresh(&attended, &l.intermediate.weight, rows, (h, l.intermediate.d_out));
    let gelu_grad = gelu_forward(&mut activated, &l.intermediate.bias, l.gelu_tanh);
    let out = l.output.forward_residual(&activated, &attended, rows);
    let (next, output_norm) = norm_forward(&out, &l.output_norm.gamma, &l.output_norm.beta, l.output_norm.epsilon);
    let cache = LayerCache { input, qkv, probs, context, attention_norm, attended, gelu_grad, activated, output_norm };
    (cache, next)
}

/// Run the forward on `packed`, keeping every cache.
///
/// # Errors
/// [`Error::Numerical`] when the embedding rows cannot be read back from the device.
pub fn forward(model: &HostModel, packed: &Packed) -> Result<ForwardCache> {
    let n = &model.embedding_norm;
    let (mut hidden, embedding_norm) = norm_forward(&embed(model, packed)?, &n.gamma, &n.beta, n.epsilon);
    let mut layers = Vec::with_capacity(model.layers.len());
    for index in 0..model.layers.len() {
        let (cache, next) = layer_forward(model, index, hidden, &packed.offsets, pooled_at(model, packed, index));
        layers.push(cache);
        hidden = next;
    }
    let first = first_rows(model, packed, hidden);
    let (pooled, logits) = head(model, &first);
    Ok(ForwardCache { embedding_norm, layers, first, pooled, logits })
}

/// The rows the layer `index` runs its maps above the attention on, when not all: each
/// example's first row in the last layer.
fn pooled_at<'p>(model: &HostModel, packed: &'p Packed, index: usize) -> Option<&'p [usize]> {
    (index + 1 == model.layers.len()).then(|| &packed.offsets[..packed.examples()])
}

/// Each example's first token's row of the last hidden states: all of them when the last layer
/// ran on those rows only (`[n, H]` already), else gathered from `[R, H]` (no layers).
fn first_rows(model: &HostModel, packed: &Packed, hidden: Vec<f32>) -> Vec<f32> {
    if model.layers.is_empty() {
        gather_rows(&hidden, &packed.offsets[..packed.examples()], model.hidden())
    } else {
        hidden
    }
}

/// The head on each example's first token's final hidden state `first` `[n, H]`:
/// tanh(dense(·)) and the logits.
fn head(model: &HostModel, first: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = first.len() / model.hidden();
    let (dense, output) = (&model.head_dense, &model.head_output);
    let mut pooled = dense.forward(first, n);
    pooled.iter_mut().for_each(|v| *v = v.tanh());
    let logits = output.forward(&pooled, n);
    (pooled, logits)
}

/// The logits `[n, O]` of `packed` alone, for inference ([`crate::model::infer`] on the CPU):
/// [`forward`]'s maps, each layer's buffers dropped once the next layer has its input.
///
/// # Errors
/// As [`forward`].
pub fn logits(model: &HostModel, packed: &Packed) -> Result<Vec<f32>> {
    let n = &model.embedding_norm;
    let (mut hidden, _) = norm_forward(&embed(model, packed)?, &n.gamma, &n.beta, n.epsilon);
    for index in 0..model.layers.len() {
        hidden = layer_forward(model, index, hidden, &packed.offsets, pooled_at(model, packed, index)).1;
    }
    Ok(head(model, &first_rows(model, packed, hidden)).1)
}
