//! The fine-tuned network as a predictor (docs/science.md "Theorem 1"): in the lazy regime
//! f_T(x) − f₀(x) ≈ ⟨∇f₀(x), θ_T − θ₀⟩, a kernel predictor with features φ = ∇f₀ (the eNTK at
//! θ₀) and weight norm B = ‖θ_T − θ₀‖.
//!
//! * [`check_same_architecture`] — θ₀ and θ_T must be the same network (config fields that
//!   shape the parameters, every parameter name and shape).
//! * [`linearized_changes`] — Δf_lin(x) = ⟨∇f₀(x), θ_T − θ₀⟩ per input: one backward pass per
//!   input at θ₀ (batch of one, [`Classifier::gradients`]), the dot product with θ_T − θ₀ in
//!   f64. Because K₀ = ⟨∇f₀, ∇f₀⟩ is the Gram matrix of the same features, the corrected
//!   bound holds *exactly* for Δf_lin (up to the f32 rounding of the gradients).
//! * [`parameter_norms`] — ‖θ_T − θ₀‖ and ‖θ₀‖.
//!
//! Cost: one forward + backward per input at θ₀ and O(P) host work per input (P parameters).
//! Known gaps: burn 0.22 has no forward-mode (jvp), hence the per-input backward.

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::{Batch, Classifier, ModelConfig, WeightMap};
use crate::tokenize::{pad_batch, Encoding};

/// The first config field (among those that shape the parameters or the function) on which
/// `a` and `b` differ, with both values.
fn config_difference(a: &ModelConfig, b: &ModelConfig) -> Option<String> {
    let fields: [(&str, String, String); 11] = [
        ("model_type", a.model_type.clone(), b.model_type.clone()),
        ("vocab_size", a.vocab_size.to_string(), b.vocab_size.to_string()),
        ("hidden_size", a.hidden_size.to_string(), b.hidden_size.to_string()),
        ("num_hidden_layers", a.num_hidden_layers.to_string(), b.num_hidden_layers.to_string()),
        ("num_attention_heads", a.num_attention_heads.to_string(), b.num_attention_heads.to_string()),
        ("intermediate_size", a.intermediate_size.to_string(), b.intermediate_size.to_string()),
        ("hidden_act", a.hidden_act.clone(), b.hidden_act.clone()),
        ("max_position_embeddings", a.max_position_embeddings.to_string(), b.max_position_embeddings.to_string()),
        ("type_vocab_size", a.type_vocab_size.to_string(), b.type_vocab_size.to_string()),
        ("layer_norm_eps", a.layer_norm_eps.to_string(), b.layer_norm_eps.to_string()),
        ("num_labels", a.id2label.len().to_string(), b.id2label.len().to_string()),
    ];
    fields.into_iter().find(|(_, x, y)| x != y).map(|(name, x, y)| format!("{name} {y} vs {x}"))
}

/// Refuse an initial model θ₀ (`init`, read from `init_source`) that is not the same network as
/// the fine-tuned `model`.
///
/// # Errors
/// [`Error::InvalidSetting`] (`init`) naming the first differing config field, or the
/// parameter tensors present in only one of the two or with different shapes.
pub fn check_same_architecture(
    model: &WeightMap,
    model_config: &ModelConfig,
    init: &WeightMap,
    init_config: &ModelConfig,
    init_source: &str,
) -> Result<()> {
    if let Some(diff) = config_difference(model_config, init_config) {
        return Err(Error::setting(
            "init",
            format!("{init_source} does not have the architecture of `model` ({diff})"),
        ));
    }
    let (_, unmatched) = crate::model::weights::distance(model, init);
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
    init: &Classifier,
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
            let batch = Batch::new(&pad_batch(std::slice::from_ref(e), pad_id)?, &init.config, device)?;
            let grads = init.score(&batch, None).sum().backward();
            let value = dot_with_change(&init.gradients(&grads)?, theta_t, theta_0)?;
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
