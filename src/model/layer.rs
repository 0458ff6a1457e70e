//! One encoder layer: self-attention, then the GELU feed-forward with post-LayerNorm
//! (Hugging Face `BertLayer`: `intermediate.dense` → GELU → `output.dense` → LayerNorm(+ input)).

use burn::module::Module;
use burn::tensor::activation::{gelu, gelu_approximate};
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::attention::Attention;
use crate::model::config::{Activation, ModelConfig};
use crate::model::dense::ParamSource;
use crate::model::dense::{Dense, Norm};
use crate::model::probe::Tap;
use crate::model::weights::WeightMap;

/// One transformer encoder layer.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Self-attention block.
    pub attention: Attention,
    /// `<layer>.intermediate.dense`, `[H → intermediate_size]`.
    pub intermediate: Dense,
    /// `<layer>.output.dense`, `[intermediate_size → H]`.
    pub output: Dense,
    /// `<layer>.output.LayerNorm`.
    pub norm: Norm,
    /// True for the tanh-approximate GELU, false for the exact one.
    pub gelu_tanh: bool,
}

impl EncoderLayer {
    /// Take the tensors of layer `index` under `prefix` (`bert` / `roberta`).
    ///
    /// # Errors
    /// When the configured activation is unsupported.
    pub fn take(
        weights: &mut WeightMap,
        prefix: &str,
        index: usize,
        config: &ModelConfig,
        device: &Device,
    ) -> Result<Self> {
        let name = format!("{prefix}.encoder.layer.{index}");
        let (h, ffn) = (config.hidden_size, config.intermediate_size);
        Ok(Self {
            attention: Attention::take(weights, &name, config, device),
            intermediate: Dense::take(weights, &format!("{name}.intermediate.dense"), h, ffn, device),
            output: Dense::take(weights, &format!("{name}.output.dense"), ffn, h, device),
            norm: Norm::take(weights, &format!("{name}.output.LayerNorm"), h, config.layer_norm_eps, device),
            gelu_tanh: config.activation()? == Activation::GeluTanh,
        })
    }

    /// Put the layer's tensors back.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        self.attention.export(out, source)?;
        self.intermediate.export(out, source)?;
        self.output.export(out, source)?;
        self.norm.export(out, source)
    }

    /// `[N, T, H]` → `[N, T, H]`.
    pub fn forward(&self, input: Tensor<3>, mask_bias: &Tensor<4>, tap: &mut Tap<'_>) -> Tensor<3> {
        let attended = self.attention.forward(input, mask_bias, tap);
        let inner = self.intermediate.forward(attended.clone(), tap);
        let activated = if self.gelu_tanh { gelu_approximate(inner) } else { gelu(inner) };
        let projected = self.output.forward(activated, tap);
        self.norm.forward(projected + attended, tap)
    }
}
