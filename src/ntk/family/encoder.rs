//! [`NtkModel`] for the BERT/RoBERTa [`Classifier`]: batches through [`Batch`], the readout is
//! the classification head's output layer, the hand-written CPU signal path applies
//! ([`crate::ntk::fastfb`]), and the subsets name the three lookup tables and the head
//! (BERT pooler + classifier, RoBERTa `classifier.dense` + `out_proj`).

use burn::module::Module;
use burn::tensor::{DType, Device, Gradients, Tensor};
use ndarray::{Array1, Array2};

use crate::error::Result;
use crate::model::dense::tensor_to_host;
use crate::model::head::head_names;
use crate::model::probe::Tap;
use crate::model::{Architecture, Batch, Classifier, WeightMap};
use crate::ntk::cost::{attention_flops, encoder_packed_forward_flops, forward_flops};
use crate::ntk::family::{NtkModel, ParamRole, ReadoutLayer};
use crate::ntk::fastfb::{FastModel, HostModel};
use crate::ntk::options::is_embedding_table;
use crate::ntk::signals::{Pooled, PooledLayers};
use crate::tokenize::PaddedBatch;

/// The role of an encoder parameter of architecture `arch` (None when the config names no
/// known architecture: nothing is head then).
pub fn encoder_role(param: &str, arch: Option<Architecture>) -> ParamRole {
    let head = arch.is_some_and(|arch| {
        let (dense, output) = head_names(arch);
        [dense, output].iter().any(|p| param.strip_prefix(p).is_some_and(|rest| rest.starts_with('.')))
    });
    ParamRole { embedding: is_embedding_table(param), head }
}

impl NtkModel for Classifier {
    fn family(&self) -> &'static str {
        "encoder classifier"
    }

    fn num_outputs(&self) -> usize {
        self.config.num_labels()
    }

    fn readout(&self, padded: &PaddedBatch, device: &Device, tap: Tap<'_>) -> Result<Tensor<2>> {
        Ok(self.logits(&Batch::new(padded, &self.config, device)?, tap))
    }

    fn margin(&self, padded: &PaddedBatch, device: &Device, tap: Tap<'_>) -> Result<Tensor<1>> {
        Ok(self.score(&Batch::new(padded, &self.config, device)?, tap))
    }

    fn features(&self, padded: &PaddedBatch, device: &Device) -> Result<Tensor<2>> {
        Ok(Classifier::features(self, &Batch::new(padded, &self.config, device)?, None))
    }

    fn pooled_layers(&self) -> Option<PooledLayers> {
        // The head reads the first token: above the last layer's attention, only that row's
        // output matters, and inside it only that row's query (the keys and values of every
        // row feed it).
        let l = self.encoder.layers.last()?;
        let a = &l.attention;
        let names = [&a.query.name, &a.output.name, &a.norm.name, &l.intermediate.name, &l.output.name, &l.norm.name];
        Some(PooledLayers { at: Pooled::First, names: names.into_iter().cloned().collect() })
    }

    fn readout_layer(&self) -> Result<ReadoutLayer> {
        // Dense stores W as [H, O]; the readout rows are its columns.
        let w = tensor_to_host(self.head.output.weight.val())?;
        let (h, o) = (w.shape[0], w.shape[1]);
        let weight = Array2::from_shape_vec((h, o), w.data).expect("a [H, O] weight").reversed_axes();
        let bias = tensor_to_host(self.head.output.bias.val())?;
        Ok(ReadoutLayer { weight: weight.as_standard_layout().to_owned(), bias: Some(Array1::from(bias.data)) })
    }

    fn gradients(&self, grads: &Gradients) -> Result<WeightMap> {
        Classifier::gradients(self, grads)
    }

    fn param_role(&self, param: &str) -> ParamRole {
        encoder_role(param, self.config.architecture().ok())
    }

    fn frozen(&self) -> Box<dyn NtkModel> {
        Box::new(self.clone().no_grad())
    }

    fn fast_model(&self) -> Result<Option<FastModel>> {
        // An f64 model (the finite-difference checks) keeps burn's f64 pass.
        if self.head.output.weight.val().dtype() != DType::F32 {
            return Ok(None);
        }
        HostModel::from_classifier(self).map(|m| Some(FastModel::Encoder(Box::new(m))))
    }

    fn forward_flops(&self, rows: usize, seq_len: usize) -> f64 {
        forward_flops(&self.config, rows, seq_len)
    }

    fn attention_flops(&self, rows: usize, seq_len: usize) -> f64 {
        attention_flops(&self.config, rows, seq_len)
    }

    fn packed_forward_flops(&self, len: usize) -> f64 {
        encoder_packed_forward_flops(&self.config, len)
    }
}
