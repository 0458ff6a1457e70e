//! The fine-tuned network as a predictor (docs/science.md "Theorem 1"): in the lazy regime
//! f_T(x) − f₀(x) ≈ ⟨∇f₀(x), θ_T − θ₀⟩, a kernel predictor with features φ = ∇f₀ (the eNTK at
//! θ₀) and weight norm B = ‖θ_T − θ₀‖.
//!
//! * [`check_same_architecture`] — θ₀ and θ_T must be the same network (the config fields that
//!   shape the parameters, [`GapModel::architecture`]; every parameter name and shape). Encoder
//!   classifiers and decoders alike.
//! * [`linearized_changes`] — Δf_lin(x) = ⟨∇f₀(x), θ_T − θ₀⟩ per input: one backward pass per
//!   input at θ₀ (batch of one, [`crate::ntk::NtkModel::gradients`]), the dot product with θ_T − θ₀ in
//!   f64. Because K₀ = ⟨∇f₀, ∇f₀⟩ is the Gram matrix of the same features, the corrected
//!   bound holds *exactly* for Δf_lin (up to the f32 rounding of the gradients).
//! * [`parameter_norms`] — ‖θ_T − θ₀‖ and ‖θ₀‖.
//!
//! Cost: one forward + backward per input at θ₀ and O(P) host work per input (P parameters).
//! Known gaps: burn 0.22 has no forward-mode (jvp), hence the per-input backward.

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::gap::model::{architecture_difference, GapModel};
use crate::model::WeightMap;
use crate::tokenize::{pad_batch, Encoding};

/// Refuse an initial model θ₀ (`init`, read from `init_source`) that is not the same network as
/// the fine-tuned `model`.
///
/// # Errors
/// [`Error::InvalidSetting`] (`init`) naming the first differing config field, or the
/// parameter tensors present in only one of the two or with different shapes.
pub fn check_same_architecture(
    (model, theta_t): (&dyn GapModel, &WeightMap),
    (init, theta_0): (&dyn GapModel, &WeightMap),
    init_source: &str,
) -> Result<()> {
    if let Some(diff) = architecture_difference(model, init) {
        return Err(Error::setting(
            "init",
            format!("{init_source} does not have the architecture of `model` ({diff})"),
        ));
    }
    let (_, unmatched) = crate::model::weights::distance(theta_t, theta_0);
    if let Some(first) = unmatched.first() {
        return Err(Error::setting(
            "init",
            format!(
                "{init_source} does not have the parameters of `model` ({} tensors differ, e.g. {first})",
                unmatched.len()
            ),
        ));
    }
    Ok(())
}

/// (‖θ_T − θ₀‖, ‖θ₀‖) over every parameter tensor, in f64.
pub fn parameter_norms(theta_t: &WeightMap, theta_0: &WeightMap) -> (f64, f64) {
    let (change, _) = crate::model::weights::distance(theta_t, theta_0);
    let norm0 = theta_0
        .names()
        .iter()
        .filter_map(|n| theta_0.get(n))
        .map(|t| t.data.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    (change, norm0)
}

/// ⟨g, θ_T − θ₀⟩ in f64 over every tensor of the gradient map `g`.
fn dot_with_change(g: &WeightMap, theta_t: &WeightMap, theta_0: &WeightMap) -> Result<f64> {
    let mut sum = 0.0;
    for name in g.names() {
        let (Some(gt), Some(t), Some(t0)) = (g.get(&name), theta_t.get(&name), theta_0.get(&name)) else {
            return Err(Error::setting("init", format!("parameter {name} is missing from θ₀ or θ_T")));
        };
        sum += gt
            .data
            .iter()
            .zip(&t.data)
            .zip(&t0.data)
            .map(|((gv, a), b)| f64::from(*gv) * (f64::from(*a) - f64::from(*b)))
            .sum::<f64>();
    }
    Ok(sum)
}

/// Δf_lin(x) = ⟨∇f₀(x), θ_T − θ₀⟩ for every encoding, `init` (θ₀) loaded on the autodiff
/// `device`; `theta_t` / `theta_0` the host weights. `progress` gets 1 per input.
///
/// # Errors
/// [`Error::InvalidArgument`] for an encoding that does not fit the model or a parameter
/// missing from one of the maps; [`Error::Numerical`] for a non-finite result (the input named
/// by its index).
pub fn linearized_changes(
    init: &dyn GapModel,
    theta_t: &WeightMap,
    theta_0: &WeightMap,
    encodings: &[Encoding],
    pad_id: u32,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f64>> {
    encodings
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let padded = pad_batch(std::slice::from_ref(e), pad_id)?;
            let grads = init.ntk().margin(&padded, device, None)?.sum().backward();
            let value = dot_with_change(&init.ntk().gradients(&grads)?, theta_t, theta_0)?;
            progress(1);
            if !value.is_finite() {
                return Err(Error::Numerical {
                    context: "linearized change ⟨∇f₀(x), θ_T − θ₀⟩".into(),
                    reason: format!("non-finite at input {k}"),
                });
            }
            Ok(value)
        })
        .collect()
}
