//! What the eNTK engine needs of a model, as one trait ([`NtkModel`]) that both model families
//! implement: the BERT/RoBERTa [`crate::model::Classifier`] ([`encoder`]) and the decoder
//! [`crate::model::DecoderLm`] ([`decoder`]). [`crate::ntk::gram`], [`crate::ntk::naive`],
//! [`crate::ntk::signals`] and [`crate::ntk::per_layer`] take `&dyn NtkModel`, so one engine serves
//! both (docs/ntk.md "Decoders").
//!
//! The engine needs, per model:
//!
//! * the readout logits `[N, O]` and the margin `[N]` of a padded batch, probed on request
//!   ([`NtkModel::readout`], [`NtkModel::margin`]) — every output mode is built from these;
//! * φ(x), the input of the final linear readout, and that readout's rows
//!   ([`NtkModel::features`], [`NtkModel::readout_layer`]) — the last-layer kernel;
//! * the parameter gradients under the Hugging Face names ([`NtkModel::gradients`], `Naive`);
//! * which parameter tensor (or, for a tied embedding, which *use* of it) is an embedding table
//!   or part of the head ([`NtkModel::param_role`], [`NtkModel::layer_role`]) — the subsets;
//! * a frozen copy, the hand-written CPU signal path when the model has one
//!   ([`NtkModel::fast_model`]), and a last pass over a block's probed signals
//!   ([`NtkModel::finish_signals`]: a decoder trims its unembedding to the readout rows and
//!   merges a tied unembedding into the embedding table's token-match rows).
//!
//! Known gaps: the fast signal path covers the encoder and the Llama-family decoders (not GPT-2).

pub mod decoder;
pub mod encoder;

use burn::tensor::{Device, Gradients, Tensor};
use ndarray::{Array1, Array2};

use crate::error::Result;
use crate::model::classifier::margin;
use crate::model::probe::Tap;
use crate::model::{LayerKind, WeightMap};
use crate::ntk::fastfb::FastModel;
use crate::ntk::options::ParamSubset;
use crate::ntk::signals::{LayerSignals, PooledLayers};
use crate::tokenize::PaddedBatch;

/// What a parameter tensor (or one use of it) is, for [`ParamSubset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamRole {
    /// A lookup table (word/token, position, token-type embeddings); a tied unembedding is
    /// the token table too.
    pub embedding: bool,
    /// Part of the output head (encoder pooler/classifier; decoder unembedding rows or
    /// sequence-classification `score`).
    pub head: bool,
}

/// The final linear readout of a model, `logits = W φ + b`: rows `[O, H]` and the bias (None
/// for decoders, whose readout has none).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadoutLayer {
    /// W, one row per readout output (`[z_no, z_yes]` for label words), `[O, H]`.
    pub weight: Array2<f32>,
    /// b, `[O]`.
    pub bias: Option<Array1<f32>>,
}

impl ReadoutLayer {
    /// (w, c) of the two-output margin f = ⟨w, φ⟩ + c: w = W₁ − W₀, c = b₁ − b₀ (0 without a
    /// bias); None unless O = 2.
    pub fn margin_direction(&self) -> Option<(Array1<f32>, f32)> {
        if self.weight.nrows() != 2 {
            return None;
        }
        let w = &self.weight.row(1) - &self.weight.row(0);
        let c = self.bias.as_ref().map_or(0.0, |b| b[1] - b[0]);
        Some((w, c))
    }
}

/// A model whose eNTK the engine computes (see the module docs). Object safe: the engine
/// takes `&dyn NtkModel`.
pub trait NtkModel {
    /// `"encoder classifier"` or `"decoder"`, for messages.
    fn family(&self) -> &'static str;

    /// O: the readout outputs the output modes index (`logit:K`, `trace`, `full`).
    fn num_outputs(&self) -> usize;

    /// The readout logits `[N, O]` of a padded batch on `device`, probed when `tap` holds a set.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for a batch that does not fit the model.
    fn readout(&self, padded: &PaddedBatch, device: &Device, tap: Tap<'_>) -> Result<Tensor<2>>;

    /// The margin `[N]` of the readout ([`crate::model::margin`]: logit₁ − logit₀ for two
    /// outputs, the log-odds of output 1 otherwise).
    ///
    /// # Errors
    /// As [`NtkModel::readout`].
    fn margin(&self, padded: &PaddedBatch, device: &Device, tap: Tap<'_>) -> Result<Tensor<1>> {
        Ok(margin(self.readout(padded, device, tap)?))
    }

    /// φ(x) `[N, H]`: the input of the final linear readout (decoder: the final-normed hidden
    /// state at the last real token; encoder: the pooled vector `tanh(dense(h_first))`).
    ///
    /// # Errors
    /// As [`NtkModel::readout`].
    fn features(&self, padded: &PaddedBatch, device: &Device) -> Result<Tensor<2>>;

    /// The final linear readout on φ (see [`ReadoutLayer`]).
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    fn readout_layer(&self) -> Result<ReadoutLayer>;

    /// Every parameter's gradient from `grads`, under its Hugging Face name (a tied embedding
    /// once: the sum of its uses).
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    fn gradients(&self, grads: &Gradients) -> Result<WeightMap>;

    /// The role of the parameter tensor `param` (a Hugging Face name).
    fn param_role(&self, param: &str) -> ParamRole;

    /// The role of the weight use of the probed layer `layer` of kind `kind` (differs from
    /// [`NtkModel::param_role`] only for a tied unembedding, which is an embedding *and* head use).
    fn layer_role(&self, layer: &str, kind: LayerKind) -> ParamRole {
        let _ = kind;
        self.param_role(&format!("{layer}.weight"))
    }

    /// A copy whose parameters do not require gradients (the backward then computes activation
    /// gradients only).
    fn frozen(&self) -> Box<dyn NtkModel>;

    /// The host copy of the weights for [`crate::ntk::SignalPath::Fast`], when this model has
    /// the hand-written CPU path (the encoder, a Llama-family decoder) and f32 weights; None:
    /// burn's path runs.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    fn fast_model(&self) -> Result<Option<FastModel>> {
        Ok(None)
    }

    /// The probed layers whose output gradient is zero at every token but the one the output is
    /// read at (the last block's maps above its attention, and its query projection where it is
    /// a layer of its own): the engine keeps that row only
    /// ([`crate::ntk::signals::keep_pooled_rows`]). None: every layer keeps its rows.
    fn pooled_layers(&self) -> Option<PooledLayers> {
        None
    }

    /// A last pass over one block's probed layers before they are stored (default: unchanged).
    ///
    /// # Errors
    /// [`crate::Error::Numerical`] when the layers are not what the model probes.
    fn finish_signals(&self, layers: Vec<LayerSignals>, subset: ParamSubset) -> Result<Vec<LayerSignals>> {
        let _ = subset;
        Ok(layers)
    }

    /// The model `Naive` differentiates for `subset`, when it is not this one (a tied decoder
    /// under [`ParamSubset::ExcludeHead`]: a copy whose unembedding is a separate parameter, so
    /// that the input use's gradient can be read alone).
    fn naive_model(&self, subset: ParamSubset) -> Option<Box<dyn NtkModel>> {
        let _ = subset;
        None
    }

    /// FLOPs of one forward pass over `rows` rows of `seq_len` positions
    /// ([`crate::ntk::cost`]).
    fn forward_flops(&self, rows: usize, seq_len: usize) -> f64;

    /// FLOPs of the hand-written path's forward over one example of `len` real tokens
    /// ([`crate::ntk::SignalPath::Fast`]): [`Self::forward_flops`]`(1, len)` unless its
    /// attention skips work (the decoders' causal tiles).
    fn packed_forward_flops(&self, len: usize) -> f64 {
        self.forward_flops(1, len)
    }

    /// The part of [`Self::forward_flops`] in the attention products (QKᵀ and PV), whose
    /// activation backward costs twice their forward (dV, dP, dQ, dK).
    fn attention_flops(&self, rows: usize, seq_len: usize) -> f64;

    /// The part of [`Self::packed_forward_flops`] in the attention products.
    fn packed_attention_flops(&self, len: usize) -> f64 {
        self.attention_flops(1, len)
    }
}
