//! Lazy-regime diagnostics of a fine-tuned network (docs/science.md "Theorem 1"; Roy & Parbhoo,
//! arXiv 2605.27567, §3 — SFT modelled as a kernel predictor in the NTK lazy regime).
//!
//! In the lazy regime f_T(x) − f₀(x) ≈ ⟨∇f₀(x), θ_T − θ₀⟩, a kernel predictor with features
//! φ = ∇f₀ and weight norm B = ‖θ_T − θ₀‖. How good that approximation is, measured:
//!
//! * **kernel drift** ‖K_T − K₀‖_F / ‖K₀‖_F (eNTK at the end versus the start, same inputs);
//! * **relative parameter change** ‖θ_T − θ₀‖ / ‖θ₀‖;
//! * **linearization agreement** between the actual change Δf = f_T − f₀ and the linearized
//!   change Δf_lin = ⟨∇f₀, θ_T − θ₀⟩ on the same inputs: relative error
//!   ‖Δf − Δf_lin‖ / ‖Δf‖, largest absolute error, Pearson correlation and sign agreement.
//!
//! Pure f64 arithmetic on numbers the caller computed (burn stays outside `bound`). Known gaps:
//! the diagnostics are only as held-out as the inputs they are given.

use ndarray::ArrayView2;
use serde::Serialize;

use crate::error::{Error, Result};

/// Agreement between Δf and its linearization Δf_lin over a set of inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Agreement {
    /// Number of inputs.
    pub inputs: usize,
    /// ‖Δf − Δf_lin‖ / ‖Δf‖ (∞ when Δf = 0 but Δf_lin ≠ 0; 0 when both vanish).
    pub relative_error: f64,
    /// max |Δf − Δf_lin|.
    pub max_abs_error: f64,
    /// Pearson correlation of Δf and Δf_lin (NaN when either is constant; written as null).
    pub correlation: f64,
    /// Fraction of inputs where Δf and Δf_lin have the same sign.
    pub sign_agreement: f64,
    /// ‖Δf‖ / √n, the root-mean-square change of the output.
    pub rms_change: f64,
}

/// All lazy-regime diagnostics of one fine-tuned run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LazyDiagnostics {
    /// ‖K_T − K₀‖_F / ‖K₀‖_F.
    pub kernel_drift: f64,
    /// ‖θ_T − θ₀‖ (= B of the network predictor).
    pub parameter_change: f64,
    /// ‖θ₀‖.
    pub initial_parameter_norm: f64,
    /// ‖θ_T − θ₀‖ / ‖θ₀‖.
    pub relative_parameter_change: f64,
    /// Δf versus Δf_lin on the analysed inputs.
    pub linearization: Agreement,
}

fn check_finite(what: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::Numerical { context: what.into(), reason: format!("non-finite value at index {i}") }),
        None => Ok(()),
    }
}

/// ‖K_T − K₀‖_F / ‖K₀‖_F of two Gram matrices over the same inputs.
///
/// # Errors
/// [`Error::InvalidArgument`] when the shapes differ or K₀ is zero; [`Error::Numerical`] for
/// a non-finite entry.
pub fn kernel_drift(k0: ArrayView2<'_, f64>, kt: ArrayView2<'_, f64>) -> Result<f64> {
    if k0.dim() != kt.dim() {
        return Err(Error::invalid("kernel drift", format!("K₀ is {:?}, K_T {:?}", k0.dim(), kt.dim())));
    }
    check_finite("K₀", &k0.iter().copied().collect::<Vec<_>>())?;
    check_finite("K_T", &kt.iter().copied().collect::<Vec<_>>())?;
    let norm0 = k0.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm0 == 0.0 {
        return Err(Error::invalid("kernel drift", "K₀ is zero"));
    }
    let diff = k0.iter().zip(kt.iter()).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    Ok(diff / norm0)
}

/// [`Agreement`] of the actual changes `actual` = Δf and the linearized ones `linear` = Δf_lin.
///
/// # Errors
/// [`Error::InvalidArgument`] for different lengths or no input; [`Error::Numerical`] for a
/// non-finite value.
pub fn agreement(actual: &[f64], linear: &[f64]) -> Result<Agreement> {
    let n = actual.len();
    if n == 0 || linear.len() != n {
        return Err(Error::invalid(
            "linearization agreement",
            format!("{n} actual and {} linearized changes", linear.len()),
        ));
    }
    check_finite("f_T − f₀", actual)?;
    check_finite("linearized f_T − f₀", linear)?;
    let norm = actual.iter().map(|v| v * v).sum::<f64>().sqrt();
    let err: Vec<f64> = actual.iter().zip(linear).map(|(a, l)| a - l).collect();
    let err_norm = err.iter().map(|v| v * v).sum::<f64>().sqrt();
    let relative_error = match (norm > 0.0, err_norm > 0.0) {
        (true, _) => err_norm / norm,
        (false, true) => f64::INFINITY,
        (false, false) => 0.0,
    };
    let same_sign = actual.iter().zip(linear).filter(|(a, l)| a.signum() == l.signum()).count();
    Ok(Agreement {
        inputs: n,
        relative_error,
        max_abs_error: err.iter().fold(0.0, |m, v| m.max(v.abs())),
        correlation: pearson(actual, linear),
        sign_agreement: same_sign as f64 / n as f64,
        rms_change: norm / (n as f64).sqrt(),
    })
}

/// Pearson correlation; NaN when either sequence is constant.
pub(crate) fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_relative_frobenius() {
        let k0 = ndarray::arr2(&[[3.0, 0.0], [0.0, 4.0]]);
        let kt = ndarray::arr2(&[[3.0, 0.0], [0.0, 4.5]]);
        assert!((kernel_drift(k0.view(), kt.view()).unwrap() - 0.1).abs() < 1e-12);
        assert!(kernel_drift(k0.view(), k0.slice(ndarray::s![..1, ..])).is_err());
        assert!(kernel_drift(ndarray::Array2::zeros((2, 2)).view(), kt.view()).is_err());
        assert!(kernel_drift(k0.view(), ndarray::arr2(&[[f64::NAN, 0.0], [0.0, 1.0]]).view()).is_err());
    }

    #[test]
    fn agreement_of_exact_and_perturbed_changes() {
        let a = agreement(&[1.0, -2.0, 2.0], &[1.0, -2.0, 2.0]).unwrap();
        assert_eq!((a.relative_error, a.max_abs_error, a.sign_agreement), (0.0, 0.0, 1.0));
        assert!((a.correlation - 1.0).abs() < 1e-12 && (a.rms_change - 3.0 / 3f64.sqrt()).abs() < 1e-12);
        let b = agreement(&[1.0, -2.0, 2.0], &[1.0, -2.0, -1.0]).unwrap();
        assert!((b.relative_error - 1.0).abs() < 1e-12 && (b.max_abs_error - 3.0).abs() < 1e-12);
        assert!((b.sign_agreement - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(agreement(&[0.0], &[0.0]).unwrap().relative_error, 0.0);
        assert!(agreement(&[0.0], &[1.0]).unwrap().relative_error.is_infinite());
        assert!(agreement(&[], &[]).is_err() && agreement(&[1.0], &[f64::NAN]).is_err());
        assert!(pearson(&[1.0, 1.0], &[0.0, 2.0]).is_nan());
    }
}
