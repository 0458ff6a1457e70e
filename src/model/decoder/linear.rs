//! The two parameterised primitives the decoders add to the encoder's ([`crate::model::dense`]):
//! a linear layer whose bias is optional and whose checkpoint layout is either PyTorch's
//! `nn.Linear` (`[out, in]`) or GPT-2's `Conv1D` (`[in, out]`), and RMSNorm (weight only).
//!
//! Both are probed like the encoder's layers (docs/science.md "The fast eNTK"): a linear layer
//! records its input a (kind [`LayerKind::Linear`] with a bias, [`LayerKind::LinearNoBias`]
//! without), RMSNorm its normalised input x̂ = x/√(mean x² + ε) ([`LayerKind::RmsNorm`]), so
//! ∇γ f = Σₜ gₜ ⊙ x̂ₜ.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::model::dense::{param_from_host, ParamSource};
use crate::model::probe::{tap_activation, LayerKind, Tap};
use crate::model::weights::WeightMap;

/// How a linear weight is stored in the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    /// `nn.Linear`: `[out, in]` (transposed to burn's `[in, out]` on the way in).
    OutIn,
    /// GPT-2 `Conv1D`: `[in, out]`, burn's layout already.
    InOut,
}

/// A linear layer `y = a·W (+ b)` with `W` stored `[d_in, d_out]`.
#[derive(Module, Debug)]
pub struct Linear {
    /// Weight `[d_in, d_out]`.
    pub weight: Param<Tensor<2>>,
    /// Bias `[d_out]`, when the layer has one.
    pub bias: Option<Param<Tensor<1>>>,
    /// Hugging Face name prefix (`<name>.weight`, `<name>.bias`).
    pub name: String,
    /// True when the checkpoint stores the weight `[in, out]` (GPT-2 `Conv1D`).
    pub in_out: bool,
}

impl Linear {
    /// Take `<name>.weight` (and `<name>.bias` when `bias`) out of `weights`.
    pub fn take(
        weights: &mut WeightMap,
        name: &str,
        (d_in, d_out): (usize, usize),
        bias: bool,
        layout: WeightLayout,
        device: &Device,
    ) -> Self {
        let key = format!("{name}.weight");
        let weight = match layout {
            WeightLayout::OutIn => weights.take(&key, &[d_out, d_in]).transposed(),
            WeightLayout::InOut => weights.take(&key, &[d_in, d_out]),
        };
        let bias = bias.then(|| param_from_host(weights.take(&format!("{name}.bias"), &[d_out]), device));
        Self { weight: param_from_host(weight, device), bias, name: name.into(), in_out: layout == WeightLayout::InOut }
    }

    /// Put the weights back in the checkpoint's layout.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        let weight = source.read(&self.weight)?;
        out.insert(format!("{}.weight", self.name), if self.in_out { weight } else { weight.transposed() });
        if let Some(bias) = &self.bias {
            out.insert(format!("{}.bias", self.name), source.read(bias)?);
        }
        Ok(())
    }

    /// The probe kind of this layer.
    pub fn kind(&self) -> LayerKind {
        if self.bias.is_some() {
            LayerKind::Linear
        } else {
            LayerKind::LinearNoBias
        }
    }

    /// `[N, T, d_in] → [N, T, d_out]`, probed when `tap` holds a set.
    pub fn forward(&self, input: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<3> {
        let bias = self.bias.as_ref().map(Param::val);
        let output = burn::tensor::module::linear(input.clone(), self.weight.val(), bias);
        tap_activation(tap, &self.name, self.kind(), &input, output)
    }
}

/// RMSNorm over the last dimension: `y = γ ⊙ x/√(mean(x²) + ε)` (Hugging Face `LlamaRMSNorm`).
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// γ, `[d]` (`<name>.weight`).
    pub gamma: Param<Tensor<1>>,
    /// ε.
    pub epsilon: f64,
    /// Hugging Face name prefix, e.g. `model.layers.0.input_layernorm`.
    pub name: String,
}

impl RmsNorm {
    /// Take `<name>.weight` (`[d]`) out of `weights`.
    pub fn take(weights: &mut WeightMap, name: &str, d: usize, epsilon: f64, device: &Device) -> Self {
        let gamma = weights.take(&format!("{name}.weight"), &[d]);
        Self { gamma: param_from_host(gamma, device), epsilon, name: name.into() }
    }

    /// Put γ back.
    ///
    /// # Errors
    /// When a tensor cannot be read back.
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        out.insert(format!("{}.weight", self.name), source.read(&self.gamma)?);
        Ok(())
    }

    /// `[N, T, d] → [N, T, d]`, probed (with x̂ as the recorded input) when `tap` holds a set.
    pub fn forward(&self, input: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<3> {
        let mean_square = input.clone().square().mean_dim(2);
        let normalized = input / (mean_square + self.epsilon).sqrt();
        let output = normalized.clone() * self.gamma.val().unsqueeze::<3>();
        tap_activation(tap, &self.name, LayerKind::RmsNorm, &normalized, output)
    }
}
