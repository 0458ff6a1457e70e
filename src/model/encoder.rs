//! The encoder stack: embeddings followed by L [`EncoderLayer`]s.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::batch::Batch;
use crate::model::config::ModelConfig;
use crate::model::dense::ParamSource;
use crate::model::embeddings::Embeddings;
use crate::model::layer::EncoderLayer;
use crate::model::probe::Tap;
use crate::model::weights::WeightMap;

/// Embeddings + L encoder layers (Hugging Face `BertModel` / `RobertaModel` without pooler).
#[derive(Module, Debug)]
pub struct Encoder {
    /// The embedding block.
    pub embeddings: Embeddings,
    /// The layers, in order.
    pub layers: Vec<EncoderLayer>,
}

impl Encoder {
    /// Take the encoder's tensors under `prefix` (`bert` / `roberta`).
    ///
    /// # Errors
    /// When the configured activation is unsupported.
    pub fn take(weights: &mut WeightMap, prefix: &str, config: &ModelConfig, device: &Device) -> Result<Self> {
        let embeddings = Embeddings::take(weights, prefix, config, device);
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderLayer::take(weights, prefix, i, config, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { embeddings, layers })
    }

    /// Put the encoder's tensors back.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        self.embeddings.export(out, source)?;
        self.layers.iter().try_for_each(|layer| layer.export(out, source))
    }

    /// Batch → final hidden states `[N, T, H]`.
    pub fn forward(&self, batch: &Batch, tap: &mut Tap<'_>) -> Tensor<3> {
        let mut hidden = self.embeddings.forward(batch, tap);
        for layer in &self.layers {
            hidden = layer.forward(hidden, &batch.mask_bias, tap);
        }
        hidden
    }
}
