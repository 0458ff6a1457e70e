//! What the model-driven check needs of a model, as one object-safe trait ([`GapModel`]) that
//! both families implement: the encoder classifier ([`Classifier`]) and the decoder
//! ([`DecoderLm`]: f = z_yes − z_no of its label words, or a sequence classifier's margin).
//!
//! * the eNTK engine's view ([`GapModel::ntk`]): margins, Gram matrices (eNTK or last-layer),
//!   φ and the readout rows, parameter gradients;
//! * every parameter under its checkpoint name ([`GapModel::weights`]: θ_T − θ₀ of the network
//!   predictor);
//! * the configuration fields that shape the parameters or the function
//!   ([`GapModel::architecture`]), so that θ₀ and θ_T can be checked to be the same network.

use burn::module::Module;

use crate::error::Result;
use crate::model::{Classifier, DecoderLm, WeightMap};
use crate::ntk::NtkModel;

/// A model `ntkgap bound --model` and `ntkgap sweep` analyse (see the module docs).
pub trait GapModel {
    /// The eNTK engine's view of the model.
    fn ntk(&self) -> &dyn NtkModel;

    /// Every parameter under its checkpoint name (a tied embedding once).
    ///
    /// # Errors
    /// When a tensor cannot be read back from the device.
    fn weights(&self) -> Result<WeightMap>;

    /// (field, value) of every configuration field that shapes the parameters or the function,
    /// the family first.
    fn architecture(&self) -> Vec<(&'static str, String)>;

    /// A copy whose parameters require no gradient: its forward passes on the autodiff device
    /// record no graph (one that never sees a backward pass is never freed).
    fn untracked(&self) -> Box<dyn GapModel>;
}

impl GapModel for Classifier {
    fn ntk(&self) -> &dyn NtkModel {
        self
    }

    fn untracked(&self) -> Box<dyn GapModel> {
        Box::new(self.clone().no_grad())
    }

    fn weights(&self) -> Result<WeightMap> {
        self.to_weights()
    }

    fn architecture(&self) -> Vec<(&'static str, String)> {
        let c = &self.config;
        vec![
            ("family", "encoder classifier".into()),
            ("model_type", c.model_type.clone()),
            ("vocab_size", c.vocab_size.to_string()),
            ("hidden_size", c.hidden_size.to_string()),
            ("num_hidden_layers", c.num_hidden_layers.to_string()),
            ("num_attention_heads", c.num_attention_heads.to_string()),
            ("intermediate_size", c.intermediate_size.to_string()),
            ("hidden_act", c.hidden_act.clone()),
            ("max_position_embeddings", c.max_position_embeddings.to_string()),
            ("type_vocab_size", c.type_vocab_size.to_string()),
            ("layer_norm_eps", c.layer_norm_eps.to_string()),
            ("num_labels", c.id2label.len().to_string()),
        ]
    }
}

impl GapModel for DecoderLm {
    fn ntk(&self) -> &dyn NtkModel {
        self
    }

    fn untracked(&self) -> Box<dyn GapModel> {
        Box::new(self.clone().no_grad())
    }

    fn weights(&self) -> Result<WeightMap> {
        self.to_weights()
    }

    fn architecture(&self) -> Vec<(&'static str, String)> {
        let c = &self.config;
        vec![
            ("family", "decoder".into()),
            ("model_type", c.model_type.clone()),
            ("task", json(&c.task)),
            ("vocab_size", c.vocab_size.to_string()),
            ("hidden_size", c.hidden_size.to_string()),
            ("num_hidden_layers", c.num_hidden_layers.to_string()),
            ("num_attention_heads", c.num_attention_heads.to_string()),
            ("num_key_value_heads", c.num_key_value_heads.to_string()),
            ("head_dim", c.head_dim.to_string()),
            ("intermediate_size", c.intermediate_size.to_string()),
            ("max_position_embeddings", c.max_position_embeddings.to_string()),
            ("norm_eps", c.norm_eps.to_string()),
            ("rope_theta", json(&c.rope_theta)),
            ("hidden_act", json(&c.hidden_act)),
            ("tie_word_embeddings", c.tie_word_embeddings.to_string()),
            ("qkv_bias", c.qkv_bias.to_string()),
            ("output_bias", c.output_bias.to_string()),
            ("mlp_bias", c.mlp_bias.to_string()),
            ("readout", json(&self.readout)),
        ]
    }
}

/// A field as compact JSON text, for [`GapModel::architecture`].
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The first architecture field on which `model` and `init` differ, as `name init vs model`.
pub fn architecture_difference(model: &dyn GapModel, init: &dyn GapModel) -> Option<String> {
    let (a, b) = (model.architecture(), init.architecture());
    if a.len() != b.len() || a.first() != b.first() {
        let family = |v: &[(&str, String)]| v.first().map(|(_, f)| f.clone()).unwrap_or_default();
        return Some(format!("a {} vs a {}", family(&b), family(&a)));
    }
    a.into_iter().zip(b).find(|(x, y)| x.1 != y.1).map(|((name, x), (_, y))| format!("{name} {y} vs {x}"))
}

/// The [`GapModel`] of a loaded model of either family.
pub fn of(model: &crate::model::AnyModel) -> &dyn GapModel {
    match model {
        crate::model::AnyModel::Encoder(m) => &m.classifier,
        crate::model::AnyModel::Decoder(m) => &m.model,
    }
}
