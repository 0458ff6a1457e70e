//! The encoder classifier and its one scalar path, [`Classifier::score`].
//!
//! `score(batch)` is the margin every consumer uses — inference, SFT/DPO training and the eNTK:
//!
//! * 2 labels: logit₁ − logit₀ (label 1 = entailment), the log-odds of the positive label.
//! * K > 2 labels: logit₁ − log Σ_{k≠1} exp(logit_k), the same log-odds, which reduces to the
//!   2-label margin when K = 2.
//! * 1 label (regression head): the single output.
//!
//! Cross-entropy and DPO losses on two labels are functions of this margin alone (see
//! `train::loss`), so training differentiates exactly what the eNTK measures.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Gradients, Tensor};

use crate::error::Result;
use crate::model::batch::Batch;
use crate::model::config::ModelConfig;
use crate::model::dense::ParamSource;
use crate::model::encoder::Encoder;
use crate::model::head::ClassificationHead;
use crate::model::probe::Tap;
use crate::model::weights::WeightMap;

/// Index of the positive (entailment) label in the margin.
pub const POSITIVE_LABEL: usize = 1;

/// A BERT/RoBERTa encoder with its classification head.
#[derive(Module, Debug)]
pub struct Classifier {
    /// Embeddings and encoder layers.
    pub encoder: Encoder,
    /// Pooler/dense + tanh + output layer.
    pub head: ClassificationHead,
    /// The configuration the weights were built for.
    #[module(skip)]
    pub config: ModelConfig,
}

impl Classifier {
    /// Build the model from Hugging Face-named weights, checking every tensor; `source` names
    /// the file in errors. Tensors the model does not use stay in `weights`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for an invalid config; [`crate::Error::BadInput`]
    /// naming `source` and every missing, misshapen or non-finite tensor.
    pub fn from_weights(config: &ModelConfig, weights: &mut WeightMap, source: &Path, device: &Device) -> Result<Self> {
        config.validate()?;
        let arch = config.architecture()?;
        let encoder = Encoder::take(weights, arch.prefix(), config, device)?;
        let head = ClassificationHead::take(weights, arch, config, device);
        weights.finish(source)?;
        Ok(Self { encoder, head, config: config.clone() })
    }

    /// All weights under their Hugging Face names, PyTorch layout.
    ///
    /// # Errors
    /// When a tensor cannot be read back from the device.
    pub fn to_weights(&self) -> Result<WeightMap> {
        self.export(&ParamSource::Values)
    }

    /// The gradient of every parameter from `grads` (a backward pass through this model), under
    /// the Hugging Face names and in PyTorch layout, like [`Classifier::to_weights`].
    ///
    /// # Errors
    /// When a tensor cannot be read back from the device.
    pub fn gradients(&self, grads: &Gradients) -> Result<WeightMap> {
        self.export(&ParamSource::Gradients(grads))
    }

    fn export(&self, source: &ParamSource<'_>) -> Result<WeightMap> {
        let mut out = WeightMap::new();
        self.encoder.export(&mut out, source)?;
        self.head.export(&mut out, source)?;
        Ok(out)
    }

    /// Logits `[N, num_labels]`; probed when `tap` holds a [`crate::model::ProbeSet`].
    pub fn logits(&self, batch: &Batch, mut tap: Tap<'_>) -> Tensor<2> {
        let hidden = self.encoder.forward(batch, &mut tap);
        self.head.forward(hidden, &mut tap)
    }

    /// φ(x) `[N, H]`: the pooled vector `tanh(dense(h₀))` that the output layer reads, so that
    /// logits = W φ + b (the last-layer kernel K = φφᵀ; docs/science.md "Decoders and the
    /// frozen-LLM side").
    pub fn features(&self, batch: &Batch, mut tap: Tap<'_>) -> Tensor<2> {
        let hidden = self.encoder.forward(batch, &mut tap);
        let pooled = self.head.pooled(hidden, &mut tap);
        let [n, _, h] = pooled.dims();
        pooled.reshape([n, h])
    }

    /// The margin `[N]` (see the module docs); the one scalar path of the crate.
    pub fn score(&self, batch: &Batch, tap: Tap<'_>) -> Tensor<1> {
        margin(self.logits(batch, tap))
    }
}

/// The margin of logits `[N, K]` → `[N]` (see the module docs).
pub fn margin(logits: Tensor<2>) -> Tensor<1> {
    let [n, k] = logits.dims();
    match k {
        1 => logits.reshape([n]),
        2 => {
            let diff = logits.clone().slice([0..n, 1..2]) - logits.slice([0..n, 0..1]);
            diff.reshape([n])
        }
        _ => {
            let positive = logits.clone().slice([0..n, POSITIVE_LABEL..POSITIVE_LABEL + 1]);
            let others = Tensor::cat(vec![logits.clone().slice([0..n, 0..1]), logits.slice([0..n, 2..k])], 1);
            let max = others.clone().max_dim(1).detach();
            let lse = (others - max.clone()).exp().sum_dim(1).log() + max;
            (positive - lse).reshape([n])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dense::tensor_to_host;
    use crate::model::infer::margin_of;
    use burn::tensor::TensorData;

    fn margins(rows: &[&[f32]]) -> Vec<f32> {
        let k = rows[0].len();
        let flat: Vec<f32> = rows.concat();
        let logits = Tensor::<2>::from_data(TensorData::new(flat, [rows.len(), k]), &Device::flex());
        tensor_to_host(margin(logits)).unwrap().data
    }

    #[test]
    fn margin_is_the_log_odds_of_the_positive_label() {
        assert_eq!(margins(&[&[0.5, 2.0], &[1.0, -1.0]]), vec![1.5, -2.0]);
        assert_eq!(margins(&[&[0.7]]), vec![0.7]);
        let three: &[f32] = &[0.2, 1.0, -0.3];
        let expected = 1.0 - (0.2f32.exp() + (-0.3f32).exp()).ln();
        let got = margins(&[three])[0];
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        assert!((margin_of(three) - expected).abs() < 1e-6);
        assert_eq!(margin_of(&[0.5, 2.0]), 1.5);
    }
}
