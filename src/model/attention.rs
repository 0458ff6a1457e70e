//! Multi-head self-attention with its output projection and post-LayerNorm
//! (Hugging Face `BertAttention`: `self.{query,key,value}` + `output.{dense,LayerNorm}`).
//!
//! scores = Q Kᵀ / √d_head + mask, softmax over keys, context = softmax · V, then
//! LayerNorm(dense(context) + input). Eval mode: no dropout.

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::config::ModelConfig;
use crate::model::dense::ParamSource;
use crate::model::dense::{Dense, Norm};
use crate::model::probe::Tap;
use crate::model::weights::WeightMap;

/// Self-attention block of one encoder layer.
#[derive(Module, Debug)]
pub struct Attention {
    /// `<layer>.attention.self.query`.
    pub query: Dense,
    /// `<layer>.attention.self.key`.
    pub key: Dense,
    /// `<layer>.attention.self.value`.
    pub value: Dense,
    /// `<layer>.attention.output.dense`.
    pub output: Dense,
    /// `<layer>.attention.output.LayerNorm`.
    pub norm: Norm,
    /// Number of heads.
    pub heads: usize,
}

impl Attention {
    /// Take the block's tensors for the layer named `layer` (e.g. `bert.encoder.layer.0`).
    pub fn take(weights: &mut WeightMap, layer: &str, config: &ModelConfig, device: &Device) -> Self {
        let h = config.hidden_size;
        Self {
            query: Dense::take(weights, &format!("{layer}.attention.self.query"), h, h, device),
            key: Dense::take(weights, &format!("{layer}.attention.self.key"), h, h, device),
            value: Dense::take(weights, &format!("{layer}.attention.self.value"), h, h, device),
            output: Dense::take(weights, &format!("{layer}.attention.output.dense"), h, h, device),
            norm: Norm::take(weights, &format!("{layer}.attention.output.LayerNorm"), h, config.layer_norm_eps, device),
            heads: config.num_attention_heads,
        }
    }

    /// Put the block's tensors back.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        for dense in [&self.query, &self.key, &self.value, &self.output] {
            dense.export(out, source)?;
        }
        self.norm.export(out, source)
    }

    /// `[N, T, H]` → `[N, T, H]`; `mask_bias` is `[N, 1, 1, T]`.
    pub fn forward(&self, input: Tensor<3>, mask_bias: &Tensor<4>, tap: &mut Tap<'_>) -> Tensor<3> {
        let [n, t, h] = input.dims();
        let head_size = h / self.heads;
        let split = |x: Tensor<3>| x.reshape([n, t, self.heads, head_size]).swap_dims(1, 2);
        let q = split(self.query.forward(input.clone(), tap));
        let k = split(self.key.forward(input.clone(), tap));
        let v = split(self.value.forward(input.clone(), tap));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((head_size as f64).sqrt()) + mask_bias.clone();
        let probs = softmax(scores, 3);
        let context = probs.matmul(v).swap_dims(1, 2).reshape([n, t, h]);
        let projected = self.output.forward(context, tap);
        self.norm.forward(projected + input, tap)
    }
}
