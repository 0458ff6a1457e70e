//! The two parameterised primitives of the encoder: a linear layer ([`Dense`]) and a LayerNorm
//! ([`Norm`]), each with its Hugging Face name, its probe hook and its weight I/O.
//!
//! Written here rather than taken from `burn::nn` so that (1) the probe can see LayerNorm's
//! normalised input x̂, (2) weights are built from host data deterministically (no backend RNG),
//! and (3) names and layouts for loading and saving live next to the forward that uses them.

use burn::module::{Module, Param};
use burn::tensor::{Device, Gradients, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::probe::{tap_activation, LayerKind, Tap};
use crate::model::weights::{HostTensor, WeightMap};

/// Build a float tensor from host data.
pub(crate) fn tensor_from_host<const D: usize>(host: HostTensor, device: &Device) -> Tensor<D> {
    let shape: [usize; D] = std::array::from_fn(|i| host.shape.get(i).copied().unwrap_or(1));
    Tensor::from_data(TensorData::new(host.data, shape), device)
}

/// A parameter from host data.
pub(crate) fn param_from_host<const D: usize>(host: HostTensor, device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(tensor_from_host(host, device))
}

/// Copy a tensor to host memory as f32.
///
/// # Errors
/// [`Error::Numerical`] when the backend cannot read the tensor back.
pub fn tensor_to_host<const D: usize>(tensor: Tensor<D>) -> Result<HostTensor> {
    let shape = tensor.dims().to_vec();
    let data = tensor
        .into_data_as::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::device("reading a tensor back", format!("{e:?}")))?;
    HostTensor::new(shape, data)
}

/// What [`Dense::export`] and friends read from each parameter.
#[derive(Clone, Copy)]
pub enum ParamSource<'a> {
    /// The parameter values.
    Values,
    /// The parameters' gradients from a backward pass (zeros for a parameter without one).
    Gradients(&'a Gradients),
}

impl ParamSource<'_> {
    /// Read a parameter (or its gradient) to host memory.
    ///
    /// # Errors
    /// As [`tensor_to_host`].
    pub fn read<const D: usize>(&self, param: &Param<Tensor<D>>) -> Result<HostTensor> {
        let value = param.val();
        match self {
            ParamSource::Values => tensor_to_host(value),
            ParamSource::Gradients(grads) => match value.grad(grads) {
                Some(g) => tensor_to_host(g),
                None => tensor_to_host(value.zeros_like()),
            },
        }
    }
}

/// A linear layer `y = a·W + b` with `W` stored `[d_in, d_out]` (PyTorch stores `[d_out, d_in]`).
#[derive(Module, Debug)]
pub struct Dense {
    /// Weight `[d_in, d_out]`.
    pub weight: Param<Tensor<2>>,
    /// Bias `[d_out]`.
    pub bias: Param<Tensor<1>>,
    /// Hugging Face name prefix (`<name>.weight`, `<name>.bias`).
    pub name: String,
}

impl Dense {
    /// Take `<name>.weight` (`[d_out, d_in]`) and `<name>.bias` out of `weights`.
    pub fn take(weights: &mut WeightMap, name: &str, d_in: usize, d_out: usize, device: &Device) -> Self {
        let weight = weights.take(&format!("{name}.weight"), &[d_out, d_in]).transposed();
        let bias = weights.take(&format!("{name}.bias"), &[d_out]);
        Self { weight: param_from_host(weight, device), bias: param_from_host(bias, device), name: name.to_string() }
    }

    /// Put the weights back in PyTorch layout.
    ///
    /// # Errors
    /// As [`tensor_to_host`].
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        out.insert(format!("{}.weight", self.name), source.read(&self.weight)?.transposed());
        out.insert(format!("{}.bias", self.name), source.read(&self.bias)?);
        Ok(())
    }

    /// `[N, T, d_in] → [N, T, d_out]`, probed when `tap` holds a set.
    pub fn forward(&self, input: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<3> {
        let output = burn::tensor::module::linear(input.clone(), self.weight.val(), Some(self.bias.val()));
        tap_activation(tap, &self.name, LayerKind::Linear, &input, output)
    }
}

/// LayerNorm over the last dimension: `y = γ ⊙ (x − mean)/√(var + ε) + β` (biased variance).
#[derive(Module, Debug)]
pub struct Norm {
    /// γ, `[d]` (`<name>.weight`).
    pub gamma: Param<Tensor<1>>,
    /// β, `[d]` (`<name>.bias`).
    pub beta: Param<Tensor<1>>,
    /// ε.
    pub epsilon: f64,
    /// Hugging Face name prefix, e.g. `bert.embeddings.LayerNorm`.
    pub name: String,
}

impl Norm {
    /// Take `<name>.weight` and `<name>.bias` (both `[d]`) out of `weights`.
    pub fn take(weights: &mut WeightMap, name: &str, d: usize, epsilon: f64, device: &Device) -> Self {
        let gamma = weights.take(&format!("{name}.weight"), &[d]);
        let beta = weights.take(&format!("{name}.bias"), &[d]);
        Self { gamma: param_from_host(gamma, device), beta: param_from_host(beta, device), epsilon, name: name.into() }
    }

    /// Put γ and β back under their Hugging Face names.
    ///
    /// # Errors
    /// As [`tensor_to_host`].
    pub fn export(&self, out: &mut WeightMap, source: &ParamSource<'_>) -> Result<()> {
        out.insert(format!("{}.weight", self.name), source.read(&self.gamma)?);
        out.insert(format!("{}.bias", self.name), source.read(&self.beta)?);
        Ok(())
    }

    /// `[N, T, d] → [N, T, d]`, probed (with x̂ as the recorded input) when `tap` holds a set.
    pub fn forward(&self, input: Tensor<3>, tap: &mut Tap<'_>) -> Tensor<3> {
        let mean = input.clone().mean_dim(2);
        let centered = input - mean;
        let variance = centered.clone().square().mean_dim(2);
        let normalized = centered / (variance + self.epsilon).sqrt();
        let gamma = self.gamma.val().unsqueeze::<3>();
        let beta = self.beta.val().unsqueeze::<3>();
        let output = normalized.clone() * gamma + beta;
        tap_activation(tap, &self.name, LayerKind::LayerNorm, &normalized, output)
    }
}
