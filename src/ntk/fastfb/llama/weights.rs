//! The weights of a Llama-family [`DecoderLm`] (Llama, Mistral, Qwen2) copied once into host
//! f32 buffers for [`crate::ntk::fastfb::llama`] (one copy per `gram` call, not per block).
//!
//! Layouts as the encoder's ([`crate::ntk::fastfb::weights`]): every Linear weight `[d_in, d_out]`
//! row-major; `q_proj | k_proj | v_proj` fused column-wise into one `[H, q + 2kv]` weight and
//! `gate_proj | up_proj` into one `[H, 2I]`, so each is one GEMM forward and one backward. The
//! token table stays on its device ([`HostTable::rows`] fetches a block's rows); of the
//! unembedding only the readout rows are copied (`[O, H]`: the two label words' rows of
//! `lm_head` or of the tied table, or the `score` head) — f reads the logits there only.

use burn::tensor::DType;

use crate::error::{Error, Result};
use crate::model::decoder::linear::{Linear, RmsNorm};
use crate::model::decoder::lm::{DecoderBlock, FinalNorm};
use crate::model::decoder::{DecoderConfig, DecoderLm, Readout};
use crate::model::LayerKind;
use crate::ntk::family::NtkModel;
use crate::ntk::fastfb::attention::Heads;
use crate::ntk::fastfb::weights::{fuse, host, HostLinear, HostTable};

/// An RMSNorm `y = γ ⊙ x̂` on the host.
#[derive(Debug, Clone)]
pub struct HostRmsNorm {
    /// Hugging Face name prefix.
    pub name: String,
    /// γ `[d]`.
    pub gamma: Vec<f32>,
    /// ε.
    pub epsilon: f32,
}

/// One Llama-family block on the host.
#[derive(Debug, Clone)]
pub struct HostLlamaLayer {
    /// `input_layernorm`.
    pub input_norm: HostRmsNorm,
    /// The names of `q_proj`, `k_proj`, `v_proj` (in that order).
    pub qkv_names: [String; 3],
    /// Query | key | value fused: weight `[H, q + 2kv]` (bias when the checkpoint has q/k/v
    /// biases, Qwen2).
    pub qkv: HostLinear,
    /// `o_proj` `[q, H]`.
    pub o_proj: HostLinear,
    /// `post_attention_layernorm`.
    pub post_norm: HostRmsNorm,
    /// The names of `gate_proj` and `up_proj`.
    pub gate_up_names: [String; 2],
    /// Gate | up fused: `[H, 2I]`.
    pub gate_up: HostLinear,
    /// `down_proj` `[I, H]`.
    pub down: HostLinear,
}

/// What the readout rows are, for the signals of the head layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostHead {
    /// Label words read from the unembedding (`lm_head`, or the tied table under its own name):
    /// the probe's output is the whole vocabulary, non-zero at the label rows `ids` only.
    Unembedding {
        /// Probe name (`lm_head` or the token table's).
        name: String,
        /// Vocabulary size V.
        vocab: usize,
        /// The label words' ids `[no, yes]`.
        ids: [u32; 2],
    },
    /// A sequence-classification head `score` (`[H → O]`, no bias).
    Score {
        /// Probe name.
        name: String,
    },
}

/// The whole Llama-family decoder on the host.
#[derive(Debug, Clone)]
pub struct HostLlama {
    /// The token table (left on its device).
    pub embed: HostTable,
    /// The blocks, in order.
    pub layers: Vec<HostLlamaLayer>,
    /// `model.norm`.
    pub final_norm: HostRmsNorm,
    /// The readout rows `[O, H]` (logits = φ·rowsᵀ).
    pub readout: Vec<f32>,
    /// What the readout rows are.
    pub head: HostHead,
    /// Attention geometry (causal, grouped-query).
    pub attention: Heads,
    /// The model's configuration (sizes, RoPE base, input checks).
    pub config: DecoderConfig,
}

fn linear(l: &Linear) -> Result<HostLinear> {
    let [d_in, d_out] = l.weight.val().dims();
    let bias = l.bias.as_ref().map(|b| host(b.val())).transpose()?.unwrap_or_default();
    Ok(HostLinear { name: l.name.clone(), weight: host(l.weight.val())?, bias, d_in, d_out })
}

fn rms(n: &RmsNorm) -> Result<HostRmsNorm> {
    Ok(HostRmsNorm { name: n.name.clone(), gamma: host(n.gamma.val())?, epsilon: n.epsilon as f32 })
}

fn layer(block: &DecoderBlock) -> Result<HostLlamaLayer> {
    let DecoderBlock::Llama(b) = block else {
        return Err(Error::invalid("model", "the hand-written decoder signal path covers the Llama family only"));
    };
    let (a, m) = (&b.attention, &b.mlp);
    let (q, k, v) = (linear(&a.q_proj)?, linear(&a.k_proj)?, linear(&a.v_proj)?);
    let (gate, up) = (linear(&m.gate_proj)?, linear(&m.up_proj)?);
    Ok(HostLlamaLayer {
        input_norm: rms(&b.input_norm)?,
        qkv_names: [q.name.clone(), k.name.clone(), v.name.clone()],
        qkv: fuse(&[q, k, v]),
        o_proj: linear(&a.o_proj)?,
        post_norm: rms(&b.post_norm)?,
        gate_up_names: [gate.name.clone(), up.name.clone()],
        gate_up: fuse(&[gate, up]),
        down: linear(&m.down_proj)?,
    })
}

fn head(model: &DecoderLm) -> Result<HostHead> {
    match (&model.score_head, &model.lm_head, &model.readout) {
        (Some(score), _, _) => Ok(HostHead::Score { name: score.name.clone() }),
        (None, head, Readout::LabelWords { ids, .. }) => Ok(HostHead::Unembedding {
            name: head.as_ref().map_or_else(|| model.embed.name.clone(), |h| h.name.clone()),
            vocab: model.config.vocab_size,
            ids: *ids,
        }),
        (None, _, Readout::Classes) => Err(Error::invalid("readout", "a language model needs label words")),
    }
}

impl HostLlama {
    /// True when `model` has this path: a Llama-family decoder (not GPT-2) with f32 weights.
    pub fn supports(model: &DecoderLm) -> bool {
        model.config.family.uses_rope() && model.embed.weight.val().dtype() == DType::F32
    }

    /// Copy every weight of `model` the signals need to the host (f32).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a model outside the Llama family; [`Error::Numerical`]
    /// when a tensor cannot be read back from its device.
    pub fn from_decoder(model: &DecoderLm) -> Result<Self> {
        let FinalNorm::Rms(final_norm) = &model.final_norm else {
            return Err(Error::invalid("model", "the hand-written decoder signal path covers the Llama family only"));
        };
        let c = &model.config;
        let readout = model.readout_layer()?.weight;
        Ok(Self {
            embed: HostTable::new(model.embed.name.clone(), model.embed.weight.val()),
            layers: model.blocks.iter().map(layer).collect::<Result<Vec<_>>>()?,
            final_norm: rms(final_norm)?,
            readout: readout.iter().copied().collect(),
            head: head(model)?,
            attention: Heads {
                heads: c.num_attention_heads,
                kv_heads: c.num_key_value_heads,
                head_dim: c.head_dim,
                causal: true,
            },
            config: c.clone(),
        })
    }

    /// Hidden size H.
    pub fn hidden(&self) -> usize {
        self.config.hidden_size
    }

    /// Readout outputs O.
    pub fn labels(&self) -> usize {
        self.readout.len() / self.hidden()
    }
}

/// The probe kind of a (fused) Linear layer: with or without a bias.
pub fn kind(layer: &HostLinear) -> LayerKind {
    if layer.bias.is_empty() {
        LayerKind::LinearNoBias
    } else {
        LayerKind::Linear
    }
}
