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

/// Mean SFT loss of margins `[N]` with signs `[N]` (±1).
pub fn sft_loss(margin: Tensor<1>, sign: Tensor<1>) -> Tensor<1> {
    softplus(-(margin * sign), 1.0).mean()
}

/// Mean DPO loss of margins `[N]`, reference margins `[N]` and signs `[N]`, temperature β.
pub fn dpo_loss(margin: Tensor<1>, reference_margin: Tensor<1>, sign: Tensor<1>, beta: f64) -> Tensor<1> {
    softplus(-((margin - reference_margin) * sign).mul_scalar(beta), 1.0).mean()
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
}
