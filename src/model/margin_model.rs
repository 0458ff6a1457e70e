//! [`MarginModel`]: what evaluation and training need from a model family — its one scalar
//! margin (differentiable, on a batch), margins on the host, its weights and its checkpoints.
//! The encoder classifier ([`Classifier`]: logit₁ − logit₀) and the decoder ([`DecoderLm`]:
//! z_yes − z_no of the label words, or a sequence-classification head's margin) implement it, so
//! `train` and `eval` hold one copy of their code for both families.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use ndarray::Array1;

use crate::error::{Error, Result};
use crate::model::batch::Batch;
use crate::model::classifier::Classifier;
use crate::model::decoder::{self, DecoderBatch, DecoderFiles, DecoderLm, Readout};
use crate::model::weights::WeightMap;
use crate::tokenize::{Encoding, PaddedBatch};
use crate::train::host_step::{self, HostGradients, MarginLossFn};

/// A model with one scalar margin path (see the module docs).
pub trait MarginModel: Module + Sized {
    /// A validated, device-resident batch.
    type Batch;
    /// The files a checkpoint saves besides the weights.
    type Files: ?Sized;

    /// Check that the margin is a binary log-odds a yes/no label can train.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`model`) naming what the model has instead.
    fn check_binary(&self) -> Result<()>;

    /// Validate `padded` against the model and move it to `device`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a batch that does not fit the model.
    fn batch(&self, padded: &PaddedBatch, device: &Device) -> Result<Self::Batch>;

    /// The margin of every example of `batch`, `[N]` (on the autodiff graph when the model is).
    fn margin(&self, batch: &Self::Batch) -> Tensor<1>;

    /// The margins of `encodings` on the host, `batch_size` at a time (no autodiff).
    ///
    /// # Errors
    /// As [`MarginModel::batch`]; `batch_size` 0.
    fn margins(&self, encodings: &[Encoding], pad_id: u32, batch_size: usize, device: &Device) -> Result<Array1<f32>>;

    /// Every parameter under its checkpoint name.
    ///
    /// # Errors
    /// When a tensor cannot be read back from the device.
    fn weights(&self) -> Result<WeightMap>;

    /// Save a checkpoint (Hugging Face layout) into `dir`.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file that could not be written.
    fn save(&self, files: &Self::Files, dir: &Path) -> Result<()>;

    /// The loss of a batch (its encodings and pad id) and its gradient for every parameter by a
    /// hand-written CPU forward + backward ([`crate::train::host_step`]), or `None` where none
    /// runs — the default — and the trainer takes burn's autodiff step. Called on the step's
    /// (autodiff) model; `device` is the training device.
    ///
    /// # Errors
    /// As [`MarginModel::batch`]; when weights cannot be read back from the device.
    fn host_gradients(&self, batch: (&[Encoding], u32), device: &Device, loss: MarginLossFn<'_>) -> HostGradients {
        let _ = (batch, device, loss);
        Ok(None)
    }
}

impl MarginModel for Classifier {
    type Batch = Batch;
    /// The `tokenizer.json` text.
    type Files = str;

    fn check_binary(&self) -> Result<()> {
        match self.config.num_labels() {
            2 => Ok(()),
            n => Err(Error::setting("model", format!("training needs a 2-label model, this one has {n}"))),
        }
    }

    fn batch(&self, padded: &PaddedBatch, device: &Device) -> Result<Batch> {
        Batch::new(padded, &self.config, device)
    }

    fn margin(&self, batch: &Batch) -> Tensor<1> {
        self.score(batch, None)
    }

    fn margins(&self, encodings: &[Encoding], pad_id: u32, batch_size: usize, device: &Device) -> Result<Array1<f32>> {
        crate::model::infer::margins(self, encodings, pad_id, batch_size, device)
    }

    fn weights(&self) -> Result<WeightMap> {
        self.to_weights()
    }

    fn save(&self, tokenizer_json: &str, dir: &Path) -> Result<()> {
        crate::model::save(self, tokenizer_json, dir)
    }

    fn host_gradients(&self, batch: (&[Encoding], u32), device: &Device, loss: MarginLossFn<'_>) -> HostGradients {
        host_step::classifier_gradients(self, batch.0, batch.1, device, loss)
    }
}

impl MarginModel for DecoderLm {
    type Batch = DecoderBatch;
    type Files = DecoderFiles;

    fn check_binary(&self) -> Result<()> {
        match (&self.readout, self.config.num_labels()) {
            (Readout::LabelWords { .. }, _) | (Readout::Classes, Some(2)) => Ok(()),
            (Readout::Classes, n) => Err(Error::setting(
                "model",
                format!("training needs a 2-label model, this sequence classifier has {}", n.unwrap_or(0)),
            )),
        }
    }

    fn batch(&self, padded: &PaddedBatch, device: &Device) -> Result<DecoderBatch> {
        DecoderBatch::new(padded, &self.config, device)
    }

    fn margin(&self, batch: &DecoderBatch) -> Tensor<1> {
        self.score(batch, None)
    }

    fn margins(&self, encodings: &[Encoding], pad_id: u32, batch_size: usize, device: &Device) -> Result<Array1<f32>> {
        decoder::infer::margins(self, encodings, pad_id, batch_size, device)
    }

    fn weights(&self) -> Result<WeightMap> {
        self.to_weights()
    }

    fn save(&self, files: &DecoderFiles, dir: &Path) -> Result<()> {
        decoder::save::save(self, files, dir)
    }
}
