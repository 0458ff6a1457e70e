//! [`DecoderLm`]: a decoder-only transformer with its output head, and its outputs at each row's
//! last real token.
//!
//! * [`DecoderLm::features`] — φ(x), the final-normed hidden state at the last real token (the
//!   input of the unembedding; docs/science.md "Decoders and the frozen-LLM side").
//! * [`DecoderLm::vocab_logits`] — the next-token logits there, `[N, V]` (language models).
//! * [`DecoderLm::logits`] — the readout: the two label words' logits `[z_no, z_yes]` of a
//!   language model, or the sequence-classification head's logits.
//! * [`DecoderLm::score`] — the margin of the readout (z_yes − z_no for label words), the scalar
//!   f the eNTK differentiates.
//!
//! The final norm and the heads run on the last real token only (the norm is per token, so
//! this equals normalising every position); their probes therefore record T = 1, like the
//! encoder's head. A tied unembedding is probed as [`LayerKind::LinearNoBias`] under the token
//! embedding's name, whose `.weight` is the embedding table.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::classifier::margin;
use crate::model::decoder::batch::{DecoderBatch, LayerKv, PrefixCache};
use crate::model::decoder::config::{DecoderConfig, DecoderFamily, DecoderTask};
use crate::model::decoder::gpt2::Gpt2Block;
use crate::model::decoder::linear::{Linear, RmsNorm, WeightLayout};
use crate::model::decoder::llama::LlamaBlock;
use crate::model::dense::{Norm, ParamSource};
use crate::model::embeddings::Table;
use crate::model::probe::{tap_activation, LayerKind, Tap};
use crate::model::weights::WeightMap;

/// What [`DecoderLm::logits`] reads out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// The logits of two one-token label words at the last real token, `[z_no, z_yes]`.
    LabelWords {
        /// The words, e.g. `[" No", " Yes"]`.
        words: [String; 2],
        /// Their token ids.
        ids: [u32; 2],
    },
    /// The sequence-classification head's logits.
    Classes,
}

/// One transformer block of either family.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // a few dozen blocks of tensor handles; burn modules are not boxed
pub enum DecoderBlock {
    /// Llama, Mistral, Qwen2.
    Llama(LlamaBlock),
    /// GPT-2.
    Gpt2(Gpt2Block),
}

/// The norm after the last block (`model.norm` / `transformer.ln_f`).
#[derive(Module, Debug)]
pub enum FinalNorm {
    /// RMSNorm (Llama family).
    Rms(RmsNorm),
    /// LayerNorm (GPT-2).
    Layer(Norm),
}

/// A decoder-only language model or sequence classifier (eval mode: no dropout).
#[derive(Module, Debug)]
pub struct DecoderLm {
    /// Token embedding `[V, H]` (`model.embed_tokens` / `transformer.wte`).
    pub embed: Table,
    /// Learned positions `[P, H]` (`transformer.wpe`, GPT-2 only).
    pub positions: Option<Table>,
    /// The blocks, in order.
    pub blocks: Vec<DecoderBlock>,
    /// The final norm.
    pub final_norm: FinalNorm,
    /// Untied unembedding `lm_head` (None: tied to `embed`, or no language-model head).
    pub lm_head: Option<Linear>,
    /// Sequence-classification head `score` `[H → num_labels]`, no bias.
    pub score_head: Option<Linear>,
    /// The configuration the weights were built for.
    #[module(skip)]
    pub config: DecoderConfig,
    /// What [`DecoderLm::logits`] returns.
    #[module(skip)]
    pub readout: Readout,
}

impl DecoderLm {
    /// Build the model from Hugging Face-named weights, checking every tensor; `source` names the
    /// file in errors. Tensors the model does not use stay in `weights`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `readout` does not fit the head (label words for a
    /// sequence classifier, an id outside the vocabulary); [`Error::BadInput`] naming `source`
    /// and every missing, misshapen or non-finite tensor.
    pub fn from_weights(
        config: &DecoderConfig,
        readout: Readout,
        weights: &mut WeightMap,
        source: &Path,
        device: &Device,
    ) -> Result<Self> {
        check_readout(config, &readout)?;
        let (h, prefix) = (config.hidden_size, config.family.prefix());
        let gpt2 = config.family == DecoderFamily::Gpt2;
        let embed_name = if gpt2 { format!("{prefix}.wte") } else { format!("{prefix}.embed_tokens") };
        let embed = Table::take(weights, embed_name, config.vocab_size, h, device);
        let positions =
            gpt2.then(|| Table::take(weights, format!("{prefix}.wpe"), config.max_position_embeddings, h, device));
        let blocks = (0..config.num_hidden_layers)
            .map(|i| match config.family {
                DecoderFamily::Gpt2 => DecoderBlock::Gpt2(Gpt2Block::take(weights, prefix, i, config, device)),
                _ => DecoderBlock::Llama(LlamaBlock::take(weights, prefix, i, config, device)),
            })
            .collect();
        let final_norm = if gpt2 {
            FinalNorm::Layer(Norm::take(weights, &format!("{prefix}.ln_f"), h, config.norm_eps, device))
        } else {
            FinalNorm::Rms(RmsNorm::take(weights, &format!("{prefix}.norm"), h, config.norm_eps, device))
        };
        let (lm_head, score_head) = match config.task {
            DecoderTask::CausalLm if !config.tie_word_embeddings => {
                let dims = (h, config.vocab_size);
                (Some(Linear::take(weights, "lm_head", dims, false, WeightLayout::OutIn, device)), None)
            }
            DecoderTask::CausalLm => (None, None),
            DecoderTask::SequenceClassification { num_labels } => {
                (None, Some(Linear::take(weights, "score", (h, num_labels), false, WeightLayout::OutIn, device)))
            }
        };
        weights.finish(source)?;
        Ok(Self { embed, positions, blocks, final_norm, lm_head, score_head, config: config.clone(), readout })
    }

    /// All weights under their Hugging Face names, in the checkpoint's layout.
    ///
    /// # Errors
    /// When a tensor cannot be read back from the device.
    pub fn to_weights(&self) -> Result<WeightMap> {
        self.export(&ParamSource::Values)
    }

    /// The gradient of every parameter from `grads`, named and laid out as [`Self::to_weights`]
    /// (a tied embedding's gradient sums its input and output uses).
    ///
    /// # Errors
    /// When a tensor cannot be read back from the device.
    pub fn gradients(&self, grads: &Gradients) -> Result<WeightMap> {
        self.export(&ParamSource::Gradients(grads))
    }

    fn export(&self, source: &ParamSource<'_>) -> Result<WeightMap> {
        let mut out = WeightMap::new();
        self.embed.export(&mut out, source)?;
        if let Some(p) = &self.positions {
            p.export(&mut out, source)?;
        }
        for block in &self.blocks {
            match block {
                DecoderBlock::Llama(b) => b.export(&mut out, source)?,
                DecoderBlock::Gpt2(b) => b.export(&mut out, source)?,
            }
        }
        match &self.final_norm {
            FinalNorm::Rms(n) => n.export(&mut out, source)?,
            FinalNorm::Layer(n) => n.export(&mut out, source)?,
        }
        for head in self.lm_head.iter().chain(&self.score_head) {
            head.export(&mut out, source)?;
        }
        Ok(out)
    }

    /// Hidden states after the last block, before the final norm, `[N, T, H]` (the rows'
    /// positions only when the batch continues a shared prefix).
    pub fn hidden_states(&self, batch: &DecoderBatch, tap: &mut Tap<'_>) -> Tensor<3> {
        self.run_blocks(batch, tap).0
    }

    fn run_blocks(&self, batch: &DecoderBatch, tap: &mut Tap<'_>) -> (Tensor<3>, Vec<LayerKv>) {
        let mut hidden = self.embed.forward(&batch.input_ids, tap);
        if let Some(positions) = &self.positions {
            hidden = hidden + positions.forward(&batch.position_ids, tap);
        }
        let mut kvs = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            let past = batch.prefix.as_ref().map(|p| &p.layers[i]);
            let (next, kv) = match block {
                DecoderBlock::Llama(b) => b.forward(hidden, batch, past, tap),
                DecoderBlock::Gpt2(b) => b.forward(hidden, batch, past, tap),
            };
            hidden = next;
            kvs.push(kv);
        }
        (hidden, kvs)
    }

    /// The keys and values of every block for the prompt prefix `ids` (positions 0..P), computed
    /// once so that rows continuing it ([`DecoderBatch::after_prefix`]) need only their own
    /// tokens: the logits equal those of the whole prompts (to f32 rounding). No autodiff: for
    /// inference.
    ///
    /// # Errors
    /// As [`DecoderBatch::new`] for the prefix as one row.
    pub fn prefix_cache(&self, ids: &[u32], device: &Device) -> Result<PrefixCache> {
        let one = crate::tokenize::Encoding {
            ids: ids.to_vec(),
            token_type_ids: vec![0; ids.len()],
            attention_mask: vec![1; ids.len()],
            truncated: false,
        };
        let batch = DecoderBatch::new(&crate::tokenize::pad_batch(&[one], 0)?, &self.config, device)?;
        let (_, layers) = self.run_blocks(&batch, &mut None);
        Ok(PrefixCache { ids: ids.to_vec(), layers })
    }

    /// φ at each row's last real token, `[N, 1, H]`.
    fn last_features(&self, batch: &DecoderBatch, tap: &mut Tap<'_>) -> Tensor<3> {
        let hidden = self.hidden_states(batch, tap);
        let last = batch.last_selector.clone().matmul(hidden);
        match &self.final_norm {
            FinalNorm::Rms(n) => n.forward(last, tap),
            FinalNorm::Layer(n) => n.forward(last, tap),
        }
    }

    /// φ(x): the final-normed hidden state at each row's last real token, `[N, H]`.
    pub fn features(&self, batch: &DecoderBatch, mut tap: Tap<'_>) -> Tensor<2> {
        let phi = self.last_features(batch, &mut tap);
        let [n, _, h] = phi.dims();
        phi.reshape([n, h])
    }

    /// Next-token logits at each row's last real token, `[N, V]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a sequence classifier (it has no language-model head).
    pub fn vocab_logits(&self, batch: &DecoderBatch, mut tap: Tap<'_>) -> Result<Tensor<2>> {
        self.check_lm_head()?;
        let phi = self.last_features(batch, &mut tap);
        Ok(self.unembed(phi, &mut tap))
    }

    /// Next-token logits `[N, V]` of final-normed hidden states φ given as host rows `[N, H]`
    /// (as [`crate::model::decoder::infer::features`] returns them), on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a sequence classifier (no language-model head) or rows
    /// that are not of the hidden size.
    pub fn vocab_logits_of(&self, phi: &[f32], device: &Device) -> Result<Tensor<2>> {
        self.check_lm_head()?;
        let h = self.config.hidden_size;
        if h == 0 || !phi.len().is_multiple_of(h) {
            return Err(Error::invalid(
                "features",
                format!("{} values are not rows of the hidden size {h}", phi.len()),
            ));
        }
        let n = phi.len() / h;
        let rows = Tensor::<3>::from_data(TensorData::new(phi.to_vec(), [n, 1, h]), device);
        Ok(self.unembed(rows, &mut None))
    }

    /// An error for a sequence classifier, which has no language-model head.
    fn check_lm_head(&self) -> Result<()> {
        match self.score_head {
            Some(_) => Err(Error::invalid(
                "model",
                "a sequence-classification checkpoint has no language-model head (next-token logits)",
            )),
            None => Ok(()),
        }
    }

    /// `[N, 1, H]` → `[N, V]` through `lm_head` or the tied embedding.
    fn unembed(&self, phi: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<2> {
        let n = phi.dims()[0];
        let logits = match &self.lm_head {
            Some(head) => head.forward(phi, tap),
            None => {
                let output = burn::tensor::module::linear(phi.clone(), self.embed.weight.val().transpose(), None);
                tap_activation(tap, &self.embed.name, LayerKind::LinearNoBias, &phi, output)
            }
        };
        logits.reshape([n, self.config.vocab_size])
    }

    /// The readout logits (see [`Readout`]): `[N, 2]` label-word logits `[z_no, z_yes]`, or
    /// `[N, num_labels]` class logits; probed when `tap` holds a set.
    pub fn logits(&self, batch: &DecoderBatch, mut tap: Tap<'_>) -> Tensor<2> {
        let phi = self.last_features(batch, &mut tap);
        match (&self.readout, &self.score_head) {
            (_, Some(head)) => {
                let n = phi.dims()[0];
                let logits = head.forward(phi, &mut tap);
                let k = logits.dims()[2];
                logits.reshape([n, k])
            }
            (Readout::LabelWords { ids, .. }, None) => {
                let columns: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
                let device = phi.device();
                let index = Tensor::<1, Int>::from_data(TensorData::new(columns, [2]), &device);
                self.unembed(phi, &mut tap).select(1, index)
            }
            (Readout::Classes, None) => unreachable!("checked by from_weights"),
        }
    }

    /// The margin of [`Self::logits`] `[N]` (z_yes − z_no for label words; the classifier's
    /// margin for a sequence-classification head).
    pub fn score(&self, batch: &DecoderBatch, tap: Tap<'_>) -> Tensor<1> {
        margin(self.logits(batch, tap))
    }
}

fn check_readout(config: &DecoderConfig, readout: &Readout) -> Result<()> {
    match (readout, config.task) {
        (Readout::Classes, DecoderTask::SequenceClassification { .. }) => Ok(()),
        (Readout::LabelWords { words, ids }, DecoderTask::CausalLm) => {
            for (word, &id) in words.iter().zip(ids) {
                if id as usize >= config.vocab_size {
                    return Err(Error::invalid(
                        "label words",
                        format!("{word:?} is token {id}, outside the model vocabulary of {}", config.vocab_size),
                    ));
                }
            }
            Ok(())
        }
        (Readout::Classes, DecoderTask::CausalLm) => {
            Err(Error::invalid("readout", "a language model needs two label words to read out"))
        }
        (Readout::LabelWords { .. }, DecoderTask::SequenceClassification { .. }) => Err(Error::invalid(
            "label words",
            "the checkpoint has a sequence-classification head; label words apply to language models only",
        )),
    }
}
