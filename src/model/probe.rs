//! The probe hook of the forward pass (docs/science.md "The fast eNTK").
//!
//! When a [`ProbeSet`] is passed to the forward, every Linear, LayerNorm and Embedding layer
//! records its input and adds a zero tensor that requires grad (the *probe*) to its output.
//! After `score(batch).sum().backward()`, each probe's gradient is the per-example, per-token
//! output gradient gᵢ,ₜ = ∂f(xᵢ)/∂yᵢ,ₜ, and the parameter gradients of example i follow:
//!
//! * Linear `y = W a + b`: ∇W f(xᵢ) = Σₜ gᵢ,ₜ aᵢ,ₜᵀ, ∇b f(xᵢ) = Σₜ gᵢ,ₜ.
//! * LayerNorm `y = γ ⊙ x̂ + β`: the recorded input is the *normalised* x̂, so
//!   ∇γ f(xᵢ) = Σₜ gᵢ,ₜ ⊙ x̂ᵢ,ₜ and ∇β f(xᵢ) = Σₜ gᵢ,ₜ.
//! * Embedding `y = E[id]`: the recorded input is the id tensor, ∇E f(xᵢ) = Σₜ gᵢ,ₜ e_{idᵢ,ₜ}ᵀ.
//! * Decoders add [`LayerKind::LinearNoBias`] (∇W only) and [`LayerKind::RmsNorm`]
//!   (∇γ f(xᵢ) = Σₜ gᵢ,ₜ ⊙ x̂ᵢ,ₜ, no β); see [`crate::model::decoder`].
//!
//! Without a probe set the forward is the plain forward: no extra tensor is created.
//! Shapes are `[N, T, d]` throughout; layers applied to the first token only (pooler, head)
//! record `T = 1`. Recorded inputs are detached (values only).

use burn::tensor::{Device, Int, Tensor};

/// Which kind of layer a probe sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LayerKind {
    /// `y = W a + b` (weight `[d_in, d_out]` in burn layout, bias `[d_out]`).
    Linear,
    /// `y = γ ⊙ x̂ + β`, x̂ the normalised input.
    LayerNorm,
    /// `y = E[id]` (word, position or token-type table).
    Embedding,
    /// `y = W a` without a bias (decoder projections, LM and score heads). A tied unembedding
    /// is probed under the token embedding's name: its weight is that table, `[vocab, H]` in
    /// PyTorch layout, and the table's gradient is the sum of both uses.
    LinearNoBias,
    /// `y = γ ⊙ x̂` (RMSNorm, no β), x̂ = x/√(mean x² + ε) the normalised input.
    RmsNorm,
}

impl LayerKind {
    /// True when the layer has a `<name>.bias` parameter (Linear, LayerNorm).
    pub fn has_bias(self) -> bool {
        matches!(self, LayerKind::Linear | LayerKind::LayerNorm)
    }

    /// True for a weight matrix applied to an activation, with or without a bias (`Linear`,
    /// `LinearNoBias`): the layers whose per-example weight gradient is Σₜ gₜ aₜᵀ.
    pub fn is_linear(self) -> bool {
        matches!(self, LayerKind::Linear | LayerKind::LinearNoBias)
    }
}

/// What a layer received.
#[derive(Debug, Clone)]
pub enum ProbeInput {
    /// Activations `[N, T, d_in]` (Linear input a, or LayerNorm's normalised x̂).
    Activation(Tensor<3>),
    /// Row indices `[N, T]` into an embedding table.
    TokenIds(Tensor<2, Int>),
}

/// One probed layer.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The layer's Hugging Face name prefix, e.g. `bert.encoder.layer.0.attention.self.query`
    /// (its parameters are `<name>.weight` and `<name>.bias`).
    pub name: String,
    /// The kind of layer.
    pub kind: LayerKind,
    /// The layer's input (detached).
    pub input: ProbeInput,
    /// The zero tensor `[N, T, d_out]` added to the output; its gradient is gᵢ,ₜ.
    pub output_probe: Tensor<3>,
}

/// The probes of one forward pass, in forward order.
#[derive(Debug, Clone)]
pub struct ProbeSet {
    probes: Vec<Probe>,
}

impl Default for ProbeSet {
    fn default() -> Self {
        Self::new()
    }
}

impl ProbeSet {
    /// An empty set; pass it to the forward on an autodiff device.
    pub fn new() -> Self {
        Self { probes: Vec::new() }
    }

    /// The probes recorded so far.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }

    /// The probe of the layer called `name`, if recorded.
    pub fn get(&self, name: &str) -> Option<&Probe> {
        self.probes.iter().find(|p| p.name == name)
    }

    fn add(&mut self, name: &str, kind: LayerKind, input: ProbeInput, output: Tensor<3>) -> Tensor<3> {
        let device: Device = output.device();
        let output_probe = Tensor::<3>::zeros(output.dims(), &device).require_grad();
        self.probes.push(Probe { name: name.to_string(), kind, input, output_probe: output_probe.clone() });
        output + output_probe
    }
}

/// The optional probe set threaded through the forward.
pub type Tap<'a> = Option<&'a mut ProbeSet>;

/// Record an activation input and probe `output` when `tap` holds a set; otherwise return
/// `output` untouched.
pub(crate) fn tap_activation(
    tap: &mut Tap<'_>,
    name: &str,
    kind: LayerKind,
    input: &Tensor<3>,
    output: Tensor<3>,
) -> Tensor<3> {
    match tap {
        Some(set) => set.add(name, kind, ProbeInput::Activation(input.clone().detach()), output),
        None => output,
    }
}

/// Record embedding ids and probe `output` when `tap` holds a set.
pub(crate) fn tap_ids(tap: &mut Tap<'_>, name: &str, ids: &Tensor<2, Int>, output: Tensor<3>) -> Tensor<3> {
    match tap {
        Some(set) => set.add(name, LayerKind::Embedding, ProbeInput::TokenIds(ids.clone()), output),
        None => output,
    }
}
