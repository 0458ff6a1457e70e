//! The classification heads on the first token's hidden state.
//!
//! * BERT (`BertForSequenceClassification`): pooler `bert.pooler.dense` + tanh, then the linear
//!   `classifier`.
//! * RoBERTa (`RobertaForSequenceClassification`): `classifier.dense` + tanh, then
//!   `classifier.out_proj` (no pooler).
//!
//! Both are "dense → tanh → linear" on `[N, 1, H]`; only the tensor names differ, so one struct
//! serves both. Eval mode: no dropout.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::config::{Architecture, ModelConfig};
use crate::model::dense::Dense;
use crate::model::dense::ParamSource;
use crate::model::probe::Tap;
use crate::model::weights::WeightMap;

/// Names of the head's two linear layers for an architecture: (dense, output).
pub fn head_names(arch: Architecture) -> (&'static str, &'static str) {
    match arch {
        Architecture::Bert => ("bert.pooler.dense", "classifier"),
        Architecture::Roberta => ("classifier.dense", "classifier.out_proj"),
    }
}

/// The output layer's name: the tensors a checkpoint without a classification head lacks.
pub fn classifier_name(arch: Architecture) -> &'static str {
    head_names(arch).1
}

/// `dense → tanh → linear` on the first token.
#[derive(Module, Debug)]
pub struct ClassificationHead {
    /// BERT pooler / RoBERTa `classifier.dense`, `[H → H]`.
    pub dense: Dense,
    /// BERT `classifier` / RoBERTa `classifier.out_proj`, `[H → num_labels]`.
    pub output: Dense,
}

impl ClassificationHead {
    /// Take the head's tensors.
    pub fn take(weights: &mut WeightMap, arch: Architecture, config: &ModelConfig, device: &Device) -> Self {
        let (dense, output) = head_names(arch);
        let h = config.hidden_size;
        Self {
            dense: Dense::take(weights, dense, h, h, device),
            output: Dense::take(weights, output, h, config.num_labels(), device),
        }
    }

    /// Put the head's tensors back.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        self.dense.export(out, source)?;
        self.output.export(out, source)
    }

    /// Hidden states `[N, T, H]` → logits `[N, num_labels]` from position 0.
    pub fn forward(&self, hidden: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<2> {
        let n = hidden.dims()[0];
        let logits = self.output.forward(self.pooled(hidden, tap), tap);
        let labels = logits.dims()[2];
        logits.reshape([n, labels])
    }

    /// Hidden states `[N, T, H]` → the pooled vector `tanh(dense(h₀))` `[N, 1, H]` that the
    /// output layer reads (φ of the last-layer kernel).
    pub fn pooled(&self, hidden: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<3> {
        let [n, _, h] = hidden.dims();
        let first = hidden.slice([0..n, 0..1, 0..h]);
        self.dense.forward(first, tap).tanh()
    }
}
