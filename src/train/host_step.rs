//! The hand-written training step: on the CPU, an encoder classifier's loss gradient through the
//! eNTK's hand-written forward + activation backward ([`crate::ntk::fastfb`]) instead of burn's
//! autodiff graph; burn's AdamW then applies it, so the optimiser, its state and the checkpoints
//! are the same whichever path computed the gradient.
//!
//! The backward is seeded at the logits with cᵢ·∂mᵢ/∂logits, where cᵢ = ∂L/∂mᵢ comes from the
//! loss on the forward's margins ([`crate::train::objective::margin_loss_host`]). Each probed
//! layer's output gradient g (already scaled by its example's cᵢ) and recorded input a then give
//! the parameter gradients, summed over the batch's real tokens: a Linear's ∂L/∂W = aᵀ·g (burn's
//! `[d_in, d_out]` layout) and ∂L/∂b = Σ g; a LayerNorm's ∂L/∂γ = Σ g ⊙ x̂ and ∂L/∂β = Σ g; an
//! embedding table's rows Σ g over the tokens that read them (zero elsewhere). Padding takes no
//! part: burn's padded positions are masked out of every real token's attention, so their
//! gradients are exactly zero there too.
//!
//! Where it runs: the CPU (flex) with f32 weights, batches whose encodings start with a real
//! token ([`crate::ntk::fastfb::fits`]), unless `NTKGAP_FORWARD=burn` is set — the same rule as
//! inference ([`crate::model::infer`]). Elsewhere (the GPU, decoders, f64 models) burn's autodiff
//! step runs. Both give the same gradients to f32 rounding (tested parameter by parameter).

use std::collections::HashMap;

use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::dense::{Dense, Norm};
use crate::model::infer::hand_written_on;
use crate::model::{Classifier, LayerKind, MarginModel};
use crate::ntk::fastfb::backward::backward;
use crate::ntk::fastfb::forward::{forward, Packed};
use crate::ntk::fastfb::ops::{gemm, threads, view, view_mut};
use crate::ntk::fastfb::{assemble, fits, FastModel};
use crate::ntk::signals::{segment_hadamard_sums, segment_sums, LayerSignals, SignalInput};
use crate::ntk::NtkModel;
use crate::tokenize::Encoding;

/// A batch's loss on its margins: `loss(margins)` = (L, ∂L/∂mᵢ per example).
pub type MarginLossFn<'a> = &'a dyn Fn(&[f32]) -> (f64, Vec<f32>);

/// The loss and every parameter's gradient by a hand-written step, or `None` where none runs.
pub type HostGradients = Result<Option<(f64, GradientsParams)>>;

/// The parameters a probed layer's signals update, by the layer's Hugging Face name.
enum Target {
    /// A Linear layer: weight `[d_in, d_out]` and bias `[d_out]`.
    Linear { weight: ParamId, bias: ParamId },
    /// A LayerNorm: γ and β.
    Norm { gamma: ParamId, beta: ParamId },
    /// An embedding table of `rows` rows.
    Table { weight: ParamId, rows: usize },
}

/// The loss of `encodings` under `model` and its gradient for every parameter, through the
/// hand-written path — or `None` where that path does not run (see the module docs), and the
/// caller takes burn's autodiff step. `model` is the step's (autodiff) model, read through
/// `valid()` only once the path is known to run; `device` the training device; the gradients are
/// made on its inner (non-autodiff) device, as burn's are.
///
/// # Errors
/// [`Error::InvalidSetting`] for a model without two labels ([`MarginModel::check_binary`]);
/// [`Error::InvalidArgument`] for encodings that do not fit the model; [`Error::Numerical`] when
/// weights cannot be read back from the device.
pub fn classifier_gradients(
    model: &Classifier,
    encodings: &[Encoding],
    pad_id: u32,
    device: &Device,
    loss: MarginLossFn<'_>,
) -> HostGradients {
    if encodings.is_empty() || !hand_written_on(device) || !fits(encodings) {
        return Ok(None);
    }
    model.check_binary()?;
    // The weights as the step reads them; the autodiff model keeps the same parameter ids.
    let model = model.valid();
    let Some(FastModel::Encoder(host)) = model.fast_model()? else { return Ok(None) };
    let packed = Packed::new(encodings, pad_id, &host)?;
    let cache = forward(&host, &packed)?;
    // The margin of two labels is logit₁ − logit₀, so ∂mᵢ/∂logits = (−1, 1).
    let margins: Vec<f32> = cache.logits.chunks(2).map(|z| z[1] - z[0]).collect();
    let (value, per_example) = loss(&margins);
    let seeds: Vec<f32> = per_example.iter().flat_map(|&c| [-c, c]).collect();
    let grads = backward(&host, &packed, &cache, seeds);
    let signals = assemble(&host, &packed, cache, vec![grads]);
    let targets: HashMap<String, Target> = targets(&model).into_iter().collect();
    let inner = device.clone().inner();
    let mut out = GradientsParams::new();
    for layer in &signals.layers {
        let target = targets.get(layer.name.as_str()).ok_or_else(|| Error::Numerical {
            context: "hand-written training step".into(),
            reason: format!("no parameters for the probed layer `{}`", layer.name),
        })?;
        register(&mut out, target, layer, &inner);
    }
    Ok(Some((value, out)))
}

/// Every probed layer's parameters, by the layer's name, in the model's order.
fn targets(model: &Classifier) -> Vec<(String, Target)> {
    let linear = |d: &Dense| (d.name.clone(), Target::Linear { weight: d.weight.id, bias: d.bias.id });
    let norm = |n: &Norm| (n.name.clone(), Target::Norm { gamma: n.gamma.id, beta: n.beta.id });
    let e = &model.encoder.embeddings;
    let mut all: Vec<(String, Target)> = [&e.word, &e.position, &e.token_type]
        .into_iter()
        .map(|t| (t.name.clone(), Target::Table { weight: t.weight.id, rows: t.weight.val().dims()[0] }))
        .collect();
    all.push(norm(&e.norm));
    for l in &model.encoder.layers {
        let a = &l.attention;
        all.extend([&a.query, &a.key, &a.value, &a.output].map(linear));
        all.push(norm(&a.norm));
        all.extend([&l.intermediate, &l.output].map(linear));
        all.push(norm(&l.norm));
    }
    all.extend([&model.head.dense, &model.head.output].map(linear));
    all
}

/// Register the gradients of `layer`'s parameters.
fn register(out: &mut GradientsParams, target: &Target, layer: &LayerSignals, device: &Device) {
    let (g, d_out) = (&layer.grad, layer.d_out);
    let rows = g.len() / d_out.max(1);
    let vector = |data: Vec<f32>| Tensor::<1>::from_data(TensorData::new(data, [d_out]), device);
    match (target, &layer.input) {
        (Target::Linear { weight, bias }, SignalInput::Activation(a)) => {
            let d_in = layer.d_in;
            let mut w = vec![0.0f32; d_in * d_out];
            gemm(
                view_mut(&mut w, d_in, d_out, d_out),
                view(a, rows, d_in, d_in).transpose(),
                view(g, rows, d_out, d_out),
                false,
                threads(),
            );
            out.register(*weight, Tensor::<2>::from_data(TensorData::new(w, [d_in, d_out]), device));
            if layer.kind == LayerKind::Linear {
                out.register(*bias, vector(segment_sums(g, &[rows], d_out)));
            }
        }
        (Target::Norm { gamma, beta }, SignalInput::Activation(xhat)) => {
            out.register(*gamma, vector(segment_hadamard_sums(g, xhat, &[rows], d_out)));
            out.register(*beta, vector(segment_sums(g, &[rows], d_out)));
        }
        (Target::Table { weight, rows: table_rows }, SignalInput::Ids(ids)) => {
            let mut w = vec![0.0f64; table_rows * d_out];
            for (&id, row) in ids.iter().zip(g.chunks(d_out)) {
                let at = id as usize * d_out;
                w[at..at + d_out].iter_mut().zip(row).for_each(|(s, &v)| *s += f64::from(v));
            }
            let w: Vec<f32> = w.into_iter().map(|v| v as f32).collect();
            out.register(*weight, Tensor::<2>::from_data(TensorData::new(w, [*table_rows, d_out]), device));
        }
        _ => unreachable!("`{}`: the probed layer's kind and input do not match its parameters", layer.name),
    }
}

/// The checkpoint name, id and rank of every parameter of `model`, in the model's order (for
/// tests: the hand-written step must give each a gradient).
pub fn parameter_ids(model: &Classifier) -> Vec<(String, ParamId, usize)> {
    targets(model)
        .into_iter()
        .flat_map(|(name, target)| match target {
            Target::Linear { weight, bias } => {
                vec![(format!("{name}.weight"), weight, 2), (format!("{name}.bias"), bias, 1)]
            }
            Target::Norm { gamma, beta } => {
                vec![(format!("{name}.weight"), gamma, 1), (format!("{name}.bias"), beta, 1)]
            }
            Target::Table { weight, .. } => vec![(format!("{name}.weight"), weight, 2)],
        })
        .collect()
}
