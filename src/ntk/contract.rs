//! Exact per-parameter Gram contributions ⟨∇θ f(xᵢ), ∇θ f(xⱼ)⟩ between two blocks of examples
//! from their per-layer signals (DESIGN.md "The fast eNTK"):
//!
//! * Linear weight: materialized ⟨Σₜ gᵢ,ₜ aᵢ,ₜᵀ, Σₛ gⱼ,ₛ aⱼ,ₛᵀ⟩ or structured
//!   Σₜₛ (aᵢ,ₜ·aⱼ,ₛ)(gᵢ,ₜ·gⱼ,ₛ), whichever [`LinearForm`] says (by cost by default).
//! * Linear bias, LayerNorm β: ⟨Σₜ gᵢ,ₜ, Σₛ gⱼ,ₛ⟩; LayerNorm γ: ⟨Σₜ gᵢ,ₜ ⊙ x̂ᵢ,ₜ, Σₛ gⱼ,ₛ ⊙ x̂ⱼ,ₛ⟩.
//! * Embedding table: Σₜₛ [idᵢ,ₜ = idⱼ,ₛ] (gᵢ,ₜ·gⱼ,ₛ), the token-match term, without a dense
//!   table gradient.

use crate::model::{Architecture, LayerKind};
use crate::ntk::linalg::{a_bt, outer_sums, segment_block_sums, segment_rows};
use crate::ntk::options::{LinearForm, ParamSubset};
use crate::ntk::signals::{LayerSignals, SignalInput};

/// One parameter tensor's `[n₁, n₂]` contribution.
pub struct Contribution {
    /// The parameter's Hugging Face name.
    pub param: String,
    /// Row-major `[n₁, n₂]`.
    pub values: Vec<f64>,
}

/// What the contraction of one layer may use.
#[derive(Clone, Copy)]
pub struct ContractSettings {
    /// Parameters summed over.
    pub subset: ParamSubset,
    /// The model family (head names).
    pub arch: Architecture,
    /// Linear-weight form.
    pub linear_form: LinearForm,
    /// True when both sides are the same block (a diagonal block of a square K): per-example
    /// weight gradients are then formed once.
    pub same_block: bool,
}

/// The contributions of layer `p` (block 1) against the same layer `q` (block 2).
pub fn contract_layer(p: &LayerSignals, q: &LayerSignals, settings: ContractSettings) -> Vec<Contribution> {
    let weight = format!("{}.weight", p.name);
    let bias = format!("{}.bias", p.name);
    let wanted = |name: &str| settings.subset.includes(name, settings.arch);
    let mut out = Vec::new();
    let grad_sums = || pair_of_sums(&p.grad, &p.rows, &q.grad, &q.rows, p.d_out);
    match (p.kind, &p.input, &q.input) {
        (LayerKind::Linear, SignalInput::Activation(a1), SignalInput::Activation(a2)) => {
            if wanted(&weight) {
                out.push(Contribution { param: weight, values: linear_weight(p, q, a1, a2, settings) });
            }
            if wanted(&bias) {
                out.push(Contribution { param: bias, values: grad_sums() });
            }
        }
        (LayerKind::LayerNorm, SignalInput::Activation(x1), SignalInput::Activation(x2)) => {
            if wanted(&weight) {
                let (h1, h2) = (hadamard(&p.grad, x1), hadamard(&q.grad, x2));
                out.push(Contribution { param: weight, values: pair_of_sums(&h1, &p.rows, &h2, &q.rows, p.d_out) });
            }
            if wanted(&bias) {
                out.push(Contribution { param: bias, values: grad_sums() });
            }
        }
        (LayerKind::Embedding, SignalInput::Ids(i1), SignalInput::Ids(i2)) if wanted(&weight) => {
            let mut gg = a_bt(&p.grad, &q.grad, p.d_out);
            let width = i2.len();
            for (r, id) in i1.iter().enumerate() {
                for (s, other) in i2.iter().enumerate() {
                    if id != other {
                        gg[r * width + s] = 0.0;
                    }
                }
            }
            out.push(Contribution { param: weight, values: segment_block_sums(&gg, &p.rows, &q.rows) });
        }
        _ => {}
    }
    out
}

/// ⟨Σₜ v₁,ₜ, Σₛ v₂,ₛ⟩ per example pair.
fn pair_of_sums(v1: &[f64], rows1: &[usize], v2: &[f64], rows2: &[usize], d: usize) -> Vec<f64> {
    a_bt(&segment_rows(v1, rows1, d), &segment_rows(v2, rows2, d), d)
}

fn hadamard(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x * y).collect()
}

fn linear_weight(p: &LayerSignals, q: &LayerSignals, a1: &[f64], a2: &[f64], settings: ContractSettings) -> Vec<f64> {
    let (d_in, d_out) = (p.d_in, p.d_out);
    let materialize = match settings.linear_form {
        LinearForm::Materialize => true,
        LinearForm::Structured => false,
        LinearForm::ByCost => {
            let (r1, r2) = (p.grad.len() / d_out, q.grad.len() / d_out);
            let (n1, n2) = (p.rows.len(), q.rows.len());
            let formed = if settings.same_block { r1 } else { r1 + r2 };
            let materialized = (formed * d_in * d_out + n1 * n2 * d_in * d_out) as f64;
            let structured = (r1 * r2 * (d_in + d_out + 1)) as f64;
            materialized <= structured
        }
    };
    if materialize {
        let j1 = outer_sums(a1, &p.grad, &p.rows, d_in, d_out);
        if settings.same_block {
            return a_bt(&j1, &j1, d_in * d_out);
        }
        let j2 = outer_sums(a2, &q.grad, &q.rows, d_in, d_out);
        a_bt(&j1, &j2, d_in * d_out)
    } else {
        let aa = a_bt(a1, a2, d_in);
        let gg = a_bt(&p.grad, &q.grad, d_out);
        let product: Vec<f64> = aa.iter().zip(&gg).map(|(x, y)| x * y).collect();
        segment_block_sums(&product, &p.rows, &q.rows)
    }
}
