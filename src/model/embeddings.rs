//! The embedding block: word + position + token-type lookups, summed, then LayerNorm
//! (Hugging Face `BertEmbeddings` / `RobertaEmbeddings`, eval mode: no dropout).
//!
//! Position ids come from the [`Batch`] (0..T for BERT, offset by the padding index for
//! RoBERTa), so this block is the same for both families.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::batch::Batch;
use crate::model::config::ModelConfig;
use crate::model::dense::ParamSource;
use crate::model::dense::{param_from_host, Norm};
use crate::model::probe::{tap_ids, Tap};
use crate::model::weights::WeightMap;

/// One lookup table `[rows, H]` with its Hugging Face name.
#[derive(Module, Debug)]
pub struct Table {
    /// The table, `[rows, H]` (same layout as PyTorch).
    pub weight: Param<Tensor<2>>,
    /// Hugging Face name prefix (`<name>.weight`).
    pub name: String,
}

impl Table {
    /// Take `<name>.weight` (`[rows, hidden]`) out of `weights`.
    pub fn take(weights: &mut WeightMap, name: String, rows: usize, hidden: usize, device: &Device) -> Self {
        let weight = weights.take(&format!("{name}.weight"), &[rows, hidden]);
        Self { weight: param_from_host(weight, device), name }
    }

    /// Put the table back under `<name>.weight`.
    ///
    /// # Errors
    /// When the tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        out.insert(format!("{}.weight", self.name), source.read(&self.weight)?);
        Ok(())
    }

    /// `[N, T]` ids → `[N, T, H]` rows, probed (ids recorded) when `tap` holds a set.
    pub fn forward(&self, ids: &burn::tensor::Tensor<2, burn::tensor::Int>, tap: &mut Tap<'_>) -> Tensor<3> {
        let output = burn::tensor::module::embedding(self.weight.val(), ids.clone());
        tap_ids(tap, &self.name, ids, output)
    }
}

/// Word, position and token-type embeddings followed by LayerNorm.
#[derive(Module, Debug)]
pub struct Embeddings {
    /// `<prefix>.embeddings.word_embeddings`, `[vocab_size, H]`.
    pub word: Table,
    /// `<prefix>.embeddings.position_embeddings`, `[max_position_embeddings, H]`.
    pub position: Table,
    /// `<prefix>.embeddings.token_type_embeddings`, `[type_vocab_size, H]`.
    pub token_type: Table,
    /// `<prefix>.embeddings.LayerNorm`.
    pub norm: Norm,
}

impl Embeddings {
    /// Take the block's tensors out of `weights` (`prefix` is `bert` or `roberta`).
    pub fn take(weights: &mut WeightMap, prefix: &str, config: &ModelConfig, device: &Device) -> Self {
        let h = config.hidden_size;
        let base = format!("{prefix}.embeddings");
        Self {
            word: Table::take(weights, format!("{base}.word_embeddings"), config.vocab_size, h, device),
            position: Table::take(
                weights,
                format!("{base}.position_embeddings"),
                config.max_position_embeddings,
                h,
                device,
            ),
            token_type: Table::take(
                weights,
                format!("{base}.token_type_embeddings"),
                config.type_vocab_size,
                h,
                device,
            ),
            norm: Norm::take(weights, &format!("{base}.LayerNorm"), h, config.layer_norm_eps, device),
        }
    }

    /// Put the block's tensors back under their Hugging Face names.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        self.word.export(out, source)?;
        self.position.export(out, source)?;
        self.token_type.export(out, source)?;
        self.norm.export(out, source)
    }

    /// `[N, T]` ids → `[N, T, H]` hidden states.
    pub fn forward(&self, batch: &Batch, tap: &mut Tap<'_>) -> Tensor<3> {
        let words = self.word.forward(&batch.input_ids, tap);
        let positions = self.position.forward(&batch.position_ids, tap);
        let types = self.token_type.forward(&batch.token_type_ids, tap);
        self.norm.forward(words + positions + types, tap)
    }
}
