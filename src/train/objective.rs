//! Training objectives on the margin m = logit₁ − logit₀ (two labels; label 1 = entailment).
//!
//! With s = +1 for a positive example and −1 otherwise, and log π(y|x) the log-softmax of the
//! two logits:
//!
//! * **SFT**: cross-entropy −log π(y|x) = softplus(−s·m), exactly.
//! * **DPO** (Rafailov et al. 2023), mapped to classification: the *chosen* response y_w is the
//!   correct label, the *rejected* y_l the other one, and the reference model is the initial
//!   model (its margins m_ref are computed once, before training). Because
//!   log π(y_w|x) − log π(y_l|x) = s·m for two labels, the DPO loss
//!   −log σ(β[(log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x) − log π_ref(y_l|x))])
//!   equals softplus(−β·s·(m − m_ref)).

use burn::tensor::activation::softplus;
use burn::tensor::Tensor;

/// Which loss drives fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Supervised fine-tuning: binary cross-entropy on the label (the default).
    #[default]
    Sft,
    /// Direct preference optimisation: correct label preferred over the other, reference = θ₀.
    Dpo,
}

/// How the examples of a batch weigh in the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeight {
    /// Every example weighs 1: the plain mean (the default).
    #[default]
    None,
    /// Each class weighs as much as the other *within each kind of record* (Corr2Cause records
    /// with a premise and hypothesis; free-text records such as local query texts): an example
    /// of class c in group g weighs N_g / (2 N_{g,c}), so the rarer class is not drowned by the
    /// majority (Corr2Cause is ≈ 85 % "not entailed"). The batch loss is the weighted mean
    /// Σ wᵢ ℓᵢ / Σ wᵢ (PyTorch's `CrossEntropyLoss(weight=…)` convention).
    Balanced,
}

/// Per-example weights of `labels` (binary) in `groups` (any group key per example) under
/// `scheme`: all 1 for [`ClassWeight::None`]; N_g / (2 N_{g,c}) for [`ClassWeight::Balanced`]
/// (a group holding one class only keeps weight 1).
pub fn class_weights(labels: &[u8], groups: &[usize], scheme: ClassWeight) -> Vec<f32> {
    match scheme {
        ClassWeight::None => vec![1.0; labels.len()],
        ClassWeight::Balanced => {
            let mut counts: std::collections::BTreeMap<usize, [usize; 2]> = std::collections::BTreeMap::new();
            for (&l, &g) in labels.iter().zip(groups) {
                counts.entry(g).or_default()[usize::from(l == 1)] += 1;
            }
            labels
                .iter()
                .zip(groups)
                .map(|(&l, g)| {
                    let c = counts[g];
                    if c[0] == 0 || c[1] == 0 {
                        1.0
                    } else {
                        ((c[0] + c[1]) as f64 / (2.0 * c[usize::from(l == 1)] as f64)) as f32
                    }
                })
                .collect()
        }
    }
}

/// Weighted mean Σ wᵢ xᵢ / Σ wᵢ of per-example losses (the plain mean without weights).
fn weighted_mean(losses: Tensor<1>, weight: Option<Tensor<1>>) -> Tensor<1> {
    match weight {
        None => losses.mean(),
        Some(w) => (losses * w.clone()).sum() / w.sum(),
    }
}

/// Mean SFT loss of margins `[N]` with signs `[N]` (±1).
pub fn sft_loss(margin: Tensor<1>, sign: Tensor<1>) -> Tensor<1> {
    sft_loss_weighted(margin, sign, None)
}

/// SFT loss of margins `[N]` with signs `[N]` (±1), weighted by `weight` `[N]` when given
/// (Σ wᵢ ℓᵢ / Σ wᵢ).
pub fn sft_loss_weighted(margin: Tensor<1>, sign: Tensor<1>, weight: Option<Tensor<1>>) -> Tensor<1> {
    weighted_mean(softplus(-(margin * sign), 1.0), weight)
}

/// Mean DPO loss of margins `[N]`, reference margins `[N]` and signs `[N]`, temperature β.
pub fn dpo_loss(margin: Tensor<1>, reference_margin: Tensor<1>, sign: Tensor<1>, beta: f64) -> Tensor<1> {
    dpo_loss_weighted(margin, reference_margin, sign, beta, None)
}

/// DPO loss as [`dpo_loss`], weighted by `weight` `[N]` when given (Σ wᵢ ℓᵢ / Σ wᵢ).
pub fn dpo_loss_weighted(
    margin: Tensor<1>,
    reference_margin: Tensor<1>,
    sign: Tensor<1>,
    beta: f64,
    weight: Option<Tensor<1>>,
) -> Tensor<1> {
    weighted_mean(softplus(-((margin - reference_margin) * sign).mul_scalar(beta), 1.0), weight)
}

/// What a batch's loss needs besides the margins, for [`margin_loss_host`].
#[derive(Debug, Clone, Copy)]
pub struct MarginLoss<'a> {
    /// sᵢ: +1 for a positive example, −1 otherwise.
    pub signs: &'a [f32],
    /// The reference margins m_ref of DPO (`None` for SFT).
    pub reference: Option<&'a [f32]>,
    /// DPO's β (ignored for SFT, whose β is 1).
    pub beta: f64,
    /// Example weights wᵢ (`None`: all 1).
    pub weights: Option<&'a [f32]>,
}

/// The batch loss and its gradient ∂L/∂mᵢ on the host, in f64: the twin of
/// [`sft_loss_weighted`] (`reference` `None`) and [`dpo_loss_weighted`] for the hand-written
/// training step. L = Σᵢ wᵢ softplus(zᵢ) / Σᵢ wᵢ with zᵢ = −β sᵢ (mᵢ − m_refᵢ), so
/// ∂L/∂mᵢ = −β sᵢ wᵢ σ(zᵢ) / Σ w.
pub fn margin_loss_host(margins: &[f32], loss: &MarginLoss<'_>) -> (f64, Vec<f32>) {
    let beta = if loss.reference.is_some() { loss.beta } else { 1.0 };
    let weight = |i: usize| loss.weights.map_or(1.0, |w| f64::from(w[i]));
    let total: f64 = (0..margins.len()).map(weight).sum::<f64>().max(f64::MIN_POSITIVE);
    let mut value = 0.0;
    let grad = margins
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            let reference = loss.reference.map_or(0.0, |r| f64::from(r[i]));
            let s = f64::from(loss.signs[i]);
            let z = -beta * s * (f64::from(m) - reference);
            // softplus(z) = max(z, 0) + ln(1 + e^{−|z|}); σ(z) = 1 / (1 + e^{−z}).
            value += weight(i) * (z.max(0.0) + (-z.abs()).exp().ln_1p());
            (-beta * s * weight(i) / (1.0 + (-z).exp()) / total) as f32
        })
        .collect();
    (value / total, grad)
}

/// Host-side SFT loss of one margin (for evaluation reports).
pub fn sft_loss_host(margin: f64, label: u8) -> f64 {
    let z = if label == 1 { -margin } else { margin };
    // softplus(z) = max(z, 0) + ln(1 + e^{−|z|}), stable for large |z|.
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(v: Vec<f32>) -> Tensor<1> {
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), &Device::flex())
    }

    fn scalar(x: Tensor<1>) -> f64 {
        f64::from(x.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()[0])
    }

    #[test]
    fn sft_equals_two_class_cross_entropy() {
        // logits (a, b): CE for label 1 = −log softmax_1 = ln(1 + e^{a−b}), margin m = b − a.
        let (a, b) = (0.3f64, -1.2f64);
        let ce1 = (1.0 + (a - b).exp()).ln();
        let ce0 = (1.0 + (b - a).exp()).ln();
        let m = (b - a) as f32;
        let got1 = scalar(sft_loss(t(vec![m]), t(vec![1.0])));
        let got0 = scalar(sft_loss(t(vec![m]), t(vec![-1.0])));
        assert!((got1 - ce1).abs() < 1e-5 && (got0 - ce0).abs() < 1e-5, "{got1} {ce1} {got0} {ce0}");
        assert!((sft_loss_host(f64::from(m), 1) - ce1).abs() < 1e-6);
    }

    #[test]
    fn balanced_weights_equalise_the_classes_within_each_group_and_change_the_loss() {
        // Group 0: three negatives, one positive; group 1: one of each; group 2: positives only.
        let labels = [0u8, 0, 0, 1, 0, 1, 1];
        let groups = [0usize, 0, 0, 0, 1, 1, 2];
        let w = class_weights(&labels, &groups, ClassWeight::Balanced);
        let expected = [4.0 / 6.0, 4.0 / 6.0, 4.0 / 6.0, 2.0, 1.0, 1.0, 1.0];
        for (got, want) in w.iter().zip(expected) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "{w:?}");
        }
        // Within group 0 both classes now carry the same total weight.
        assert!((w[..3].iter().sum::<f32>() - w[3]).abs() < 1e-6);
        assert_eq!(class_weights(&labels, &groups, ClassWeight::None), vec![1.0; 7]);
        // The weighted loss by hand on a tiny batch: margins all 0.5, so ℓ = softplus(∓0.5).
        let margins = [0.5f64; 4];
        let signs = [-1.0f64, -1.0, -1.0, 1.0];
        let loss = |m: f64, s: f64| (1.0 + (-s * m).exp()).ln();
        let (num, den) = (0..4)
            .fold((0.0, 0.0), |(n, d), i| (n + f64::from(w[i]) * loss(margins[i], signs[i]), d + f64::from(w[i])));
        let by_hand = num / den;
        let plain = (0..4).map(|i| loss(margins[i], signs[i])).sum::<f64>() / 4.0;
        let m = t(margins.iter().map(|&x| x as f32).collect());
        let s = t(signs.iter().map(|&x| x as f32).collect());
        let weighted = scalar(sft_loss_weighted(m.clone(), s.clone(), Some(t(w[..4].to_vec()))));
        let unweighted = scalar(sft_loss(m.clone(), s.clone()));
        assert!((weighted - by_hand).abs() < 1e-5, "{weighted} vs {by_hand}");
        assert!((unweighted - plain).abs() < 1e-5);
        assert!((weighted - unweighted).abs() > 0.05, "weighting must change this batch's loss");
        // DPO with weights: the same weighted mean of softplus(−β s (m − m_ref)).
        let r = t(vec![0.1f32; 4]);
        let beta = 0.5;
        let (num, den) = (0..4).fold((0.0, 0.0), |(n, d), i| {
            let z = beta * signs[i] * (margins[i] - f64::from(0.1f32));
            (n + f64::from(w[i]) * (1.0 + (-z).exp()).ln(), d + f64::from(w[i]))
        });
        let got = scalar(dpo_loss_weighted(m, r, s, beta, Some(t(w[..4].to_vec()))));
        assert!((got - num / den).abs() < 1e-5, "{got} vs {}", num / den);
    }

    #[test]
    fn dpo_matches_the_log_probability_form() {
        let logits = [(0.2f64, 0.9f64), (1.0, -0.5)];
        let reference = [(0.0f64, 0.1f64), (0.4, 0.4)];
        let signs = [1.0f64, -1.0];
        let beta = 0.5;
        let log_pi = |(a, b): (f64, f64), y: usize| {
            let lse = (a.exp() + b.exp()).ln();
            if y == 1 {
                b - lse
            } else {
                a - lse
            }
        };
        let mut expected = 0.0;
        for i in 0..2 {
            let (w, l) = if signs[i] > 0.0 { (1, 0) } else { (0, 1) };
            let z = beta
                * ((log_pi(logits[i], w) - log_pi(reference[i], w)) - (log_pi(logits[i], l) - log_pi(reference[i], l)));
            expected += -(1.0 / (1.0 + (-z).exp())).ln() / 2.0;
        }
        let m: Vec<f32> = logits.iter().map(|(a, b)| (b - a) as f32).collect();
        let r: Vec<f32> = reference.iter().map(|(a, b)| (b - a) as f32).collect();
        let got = scalar(dpo_loss(t(m), t(r), t(signs.iter().map(|&s| s as f32).collect()), beta));
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }

    #[test]
    fn the_host_loss_and_its_gradient_are_burns() {
        let device = Device::flex().autodiff();
        let margins = vec![0.7f32, -1.3, 2.5, 0.0, -0.2];
        let signs = vec![1.0f32, -1.0, -1.0, 1.0, 1.0];
        let reference = vec![0.1f32, -0.4, 1.0, 0.3, -2.0];
        let weights = vec![0.5f32, 2.0, 1.0, 0.75, 1.5];
        let on = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
        for dpo in [false, true] {
            for weighted in [false, true] {
                let m = on(&margins).require_grad();
                let w = weighted.then(|| on(&weights));
                let burn = if dpo {
                    dpo_loss_weighted(m.clone(), on(&reference), on(&signs), 0.5, w)
                } else {
                    sft_loss_weighted(m.clone(), on(&signs), w)
                };
                let grads = burn.clone().backward();
                let want: Vec<f32> =
                    m.grad(&grads).unwrap().into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
                let loss = MarginLoss {
                    signs: &signs,
                    reference: dpo.then_some(&reference[..]),
                    beta: 0.5,
                    weights: weighted.then_some(&weights[..]),
                };
                let (value, grad) = margin_loss_host(&margins, &loss);
                assert!((value - scalar(burn)).abs() < 1e-6, "dpo {dpo} weighted {weighted}: {value}");
                for (g, w) in grad.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-7, "dpo {dpo} weighted {weighted}: {grad:?} vs {want:?}");
                }
            }
        }
    }
}
