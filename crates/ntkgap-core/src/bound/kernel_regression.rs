//! Kernel predictors fitted on a training Gram matrix, and their RKHS norm B = ‖f‖_H.
//!
//! A kernel predictor f(x) = Σᵢ αᵢ K(xᵢ, x) is the linear predictor ⟨w, φ(x)⟩ with
//! w = Σᵢ αᵢ φ(xᵢ), so ‖w‖² = αᵀ K α and the corrected Theorem 1 bound
//! |f(x₊) − f(x₋)| ≤ B·√((a − b)² + 2δab) holds **exactly** with B = √(αᵀ K α) (Cauchy–Schwarz;
//! Roy & Parbhoo, arXiv 2605.27567, Theorem 1 and its correction in docs/science.md). A violation for
//! these predictors is a bug, not a finding.
//!
//! * [`KernelPredictor::Ridge`] — α = (K + λI)⁻¹ y, one Cholesky factorization (faer).
//! * [`KernelPredictor::Logistic`] — RKHS-regularised logistic regression,
//!   min_α Σᵢ log(1 + exp(−yᵢ (Kα)ᵢ)) + (λ/2) αᵀ K α, by Newton's method (IRLS) with a
//!   backtracking line search; each step solves (WK + λI) Δ = r through the symmetric positive
//!   definite λI + W^½ K W^½ (Cholesky, faer) and the Woodbury identity, which stays stable
//!   when some weights wᵢ = pᵢ(1 − pᵢ) underflow.
//!
//! Targets y are **±1 labels** (entailment +1, anything else −1): the theorem is about a
//! predictor trained to *separate* the two hypotheses of a pair, and with ±1 targets the gap a
//! perfect separator needs is 2, directly comparable to the bounds. (Fitting the network's own
//! margins would make the kernel predictor a copy of the network; the `network` predictor of
//! `ntkgap bound` covers that case with B = ‖θ_T − θ₀‖.)
//!
//! λ is given **relative to the kernel's scale**: λ = r · mean(diag K_train) with r =
//! [`RelativeRidge`] (default 10⁻³). Scaling K by c scales λ by c too, so α scales by 1/c and
//! the fitted function f does not change — the same r means the same amount of smoothing for
//! any model. Known gaps: dense O(n³) solves (n up to a few thousand training inputs).

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use serde::Serialize;

use ndarray::{Array1, ArrayView1, ArrayView2};

use crate::bound::GramView;
use crate::error::{Error, Result};

/// Which kernel predictor to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelPredictor {
    /// Kernel ridge regression on ±1 targets (the default): one Cholesky of K + λI, O(n³)
    /// time, O(n²) memory; always succeeds for λ > 0 on a positive semi-definite K.
    #[default]
    Ridge,
    /// Kernel logistic regression (RKHS-regularised): Newton/IRLS, one O(n³) Cholesky per
    /// iteration (typically 5–25 iterations, at most [`KernelFitConfig::max_iterations`]).
    Logistic,
}

/// The ridge strength relative to the kernel's scale: λ = r · mean(diag K_train).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RelativeRidge(f64);

impl RelativeRidge {
    /// The default r = 10⁻³.
    pub const DEFAULT: f64 = 1e-3;

    /// A validated relative ridge strength.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`ridge`) unless 0 < r ≤ 10⁶ and finite.
    pub fn new(r: f64) -> Result<Self> {
        if !(r.is_finite() && r > 0.0 && r <= 1e6) {
            return Err(Error::setting("ridge", format!("{r} must be a finite number in (0, 1e6]")));
        }
        Ok(Self(r))
    }

    /// r.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for RelativeRidge {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// Settings of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KernelFitConfig {
    /// Ridge or logistic (default ridge).
    pub predictor: KernelPredictor,
    /// r in λ = r · mean(diag K) (default 10⁻³).
    pub ridge: RelativeRidge,
    /// Newton iterations of the logistic fit (default 100).
    pub max_iterations: usize,
}

impl Default for KernelFitConfig {
    fn default() -> Self {
        Self { predictor: KernelPredictor::Ridge, ridge: RelativeRidge::default(), max_iterations: 100 }
    }
}

/// A fitted kernel predictor f(x) = Σᵢ αᵢ K(xᵢ, x).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelFit {
    /// Which predictor.
    pub predictor: KernelPredictor,
    /// Dual coefficients α, one per training input.
    #[serde(skip)]
    pub alpha: Vec<f64>,
    /// The absolute λ used.
    pub lambda: f64,
    /// B = ‖f‖_H = √(αᵀ K α).
    pub weight_norm_bound: f64,
    /// Newton iterations (1 for ridge).
    pub iterations: usize,
    /// Whether the logistic Newton iteration met its tolerance (always true for ridge).
    pub converged: bool,
    /// Fraction of training inputs with sign f(xᵢ) = yᵢ.
    pub train_accuracy: f64,
}

impl KernelFit {
    /// Scores f(x) of evaluation inputs from `cross` = K(X_eval, X_train), `[n_eval, n_train]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `cross` does not have one column per training input.
    pub fn scores(&self, cross: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let n = self.alpha.len();
        if n == 0 || cross.ncols() != n {
            return Err(Error::invalid(
                "K(X_eval, X_train)",
                format!("{} columns for {n} training inputs", cross.ncols()),
            ));
        }
        // Row by row in index order (not a BLAS-style dot, whose summation order varies):
        // scores are byte-reproducible.
        Ok(cross.rows().into_iter().map(|row| row.iter().zip(&self.alpha).map(|(k, a)| k * a).sum()).collect())
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn matvec(k: &GramView<'_>, v: &[f64]) -> Vec<f64> {
    k.values.chunks(k.cols).map(|row| dot(row, v)).collect()
}

/// Solve (K + shift·I) x = rhs by Cholesky.
fn cholesky_solve(k: &GramView<'_>, shift: f64, rhs: &[f64], what: &str) -> Result<Vec<f64>> {
    let n = k.rows;
    let a = Mat::from_fn(n, n, |i, j| k.values[i * n + j] + if i == j { shift } else { 0.0 });
    let llt = a.llt(Side::Lower).map_err(|e| Error::Numerical {
        context: what.into(),
        reason: format!("Cholesky failed ({e}): the matrix is not positive definite; increase `ridge`"),
    })?;
    let b = Mat::from_fn(n, 1, |i, _| rhs[i]);
    let x = llt.solve(&b);
    Ok((0..n).map(|i| x[(i, 0)]).collect())
}

fn validate(k: &GramView<'_>, y: &[f64]) -> Result<f64> {
    k.validate()?;
    if k.rows == 0 {
        return Err(Error::invalid("training set", "no training inputs"));
    }
    if y.len() != k.rows {
        return Err(Error::invalid("targets", format!("{} targets for {} training inputs", y.len(), k.rows)));
    }
    if let Some(i) = y.iter().position(|v| *v != 1.0 && *v != -1.0) {
        return Err(Error::invalid("targets", format!("target {i} is {}, expected +1 or -1", y[i])));
    }
    let mean_diag = (0..k.rows).map(|i| k.at(i, i)).sum::<f64>() / k.rows as f64;
    if mean_diag <= 0.0 {
        return Err(Error::invalid("training Gram matrix", format!("mean diagonal {mean_diag} is not > 0")));
    }
    Ok(mean_diag)
}

/// Fit the predictor of `config` on the training Gram matrix `k` (n × n) and ±1 targets `y`.
///
/// # Errors
/// [`Error::InvalidArgument`] for a non-square or non-finite K, a target count other than n, a
/// target other than ±1, or a non-positive mean diagonal; [`Error::Numerical`] when a Cholesky
/// factorization fails or αᵀKα is clearly negative (K not positive semi-definite).
pub fn fit(k: ArrayView2<'_, f64>, y: ArrayView1<'_, f64>, config: &KernelFitConfig) -> Result<KernelFit> {
    let (owned, y) = (k.as_standard_layout().into_owned(), y.to_vec());
    let (k, y) = (&GramView::of(&owned), y.as_slice());
    let mean_diag = validate(k, y)?;
    let lambda = config.ridge.get() * mean_diag;
    let (alpha, iterations, converged) = match config.predictor {
        KernelPredictor::Ridge => (cholesky_solve(k, lambda, y, "kernel ridge (K + λI)")?, 1, true),
        KernelPredictor::Logistic => logistic(k, y, lambda, config.max_iterations)?,
    };
    let f = matvec(k, &alpha);
    let norm_sq = dot(&alpha, &f);
    let scale = alpha.iter().map(|a| a.abs()).sum::<f64>().powi(2) * mean_diag;
    if norm_sq < -1e-9 * scale.max(f64::MIN_POSITIVE) {
        return Err(Error::Numerical {
            context: "kernel predictor".into(),
            reason: format!("αᵀKα = {norm_sq} < 0: K is not positive semi-definite"),
        });
    }
    let correct = f.iter().zip(y).filter(|(fi, yi)| fi.signum() == **yi && **fi != 0.0).count();
    Ok(KernelFit {
        predictor: config.predictor,
        alpha,
        lambda,
        weight_norm_bound: norm_sq.max(0.0).sqrt(),
        iterations,
        converged,
        train_accuracy: correct as f64 / y.len() as f64,
    })
}

/// (smallest, largest) eigenvalue of the symmetric matrix `k` (its lower triangle is read), a
/// check that an eNTK Gram matrix is positive semi-definite up to rounding.
///
/// # Errors
/// [`Error::InvalidArgument`] for a non-square or non-finite matrix; [`Error::Numerical`] when
/// the eigenvalue iteration does not converge.
pub fn eigenvalue_range(k: ArrayView2<'_, f64>) -> Result<(f64, f64)> {
    let owned = k.as_standard_layout().into_owned();
    let k = &GramView::of(&owned);
    k.validate()?;
    let n = k.rows;
    if n == 0 {
        return Err(Error::invalid("Gram matrix", "is empty"));
    }
    let a = Mat::from_fn(n, n, |i, j| k.values[i * n + j]);
    let eig = a
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::Numerical { context: "Gram matrix eigenvalues".into(), reason: format!("{e:?}") })?;
    let lo = eig.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = eig.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok((lo, hi))
}

/// log(1 + e^{−z}), stable for any z.
fn softplus_neg(z: f64) -> f64 {
    if z > 0.0 {
        (-z).exp().ln_1p()
    } else {
        -z + z.exp().ln_1p()
    }
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// J(α) = Σ log(1 + exp(−yᵢ fᵢ)) + (λ/2) αᵀ f with f = Kα.
fn objective(y: &[f64], f: &[f64], alpha: &[f64], lambda: f64) -> f64 {
    y.iter().zip(f).map(|(yi, fi)| softplus_neg(yi * fi)).sum::<f64>() + 0.5 * lambda * dot(alpha, f)
}

/// The Newton direction Δ solving (WK + λI) Δ = r, via
/// (λI + WK)⁻¹ = (1/λ)[I − S (λI + SKS)⁻¹ S K], S = W^½.
fn newton_direction(k: &GramView<'_>, w: &[f64], r: &[f64], lambda: f64) -> Result<Vec<f64>> {
    let n = k.rows;
    let s: Vec<f64> = w.iter().map(|v| v.sqrt()).collect();
    let sks: Vec<f64> = (0..n * n).map(|idx| s[idx / n] * k.values[idx] * s[idx % n]).collect();
    let kr = matvec(k, r);
    let rhs: Vec<f64> = kr.iter().zip(&s).map(|(v, si)| v * si).collect();
    let m = GramView { rows: n, cols: n, values: &sks };
    let u = cholesky_solve(&m, lambda, &rhs, "kernel logistic Newton step (λI + W^½KW^½)")?;
    Ok((0..n).map(|i| (r[i] - s[i] * u[i]) / lambda).collect())
}

fn logistic(k: &GramView<'_>, y: &[f64], lambda: f64, max_iterations: usize) -> Result<(Vec<f64>, usize, bool)> {
    let n = k.rows;
    let mut alpha = vec![0.0; n];
    let mut f = vec![0.0; n];
    let mut j = objective(y, &f, &alpha, lambda);
    for iteration in 1..=max_iterations {
        // ℓ'ᵢ = −yᵢ σ(−yᵢ fᵢ); W = σ(f)(1 − σ(f)); r = −(ℓ' + λα); ∇J = K(ℓ' + λα) = −K r.
        let r: Vec<f64> = (0..n).map(|i| y[i] * sigmoid(-y[i] * f[i]) - lambda * alpha[i]).collect();
        let w: Vec<f64> = f.iter().map(|fi| sigmoid(*fi) * (1.0 - sigmoid(*fi))).collect();
        let step = newton_direction(k, &w, &r, lambda)?;
        let k_step = matvec(k, &step);
        let decrement = dot(&r, &k_step); // −∇Jᵀ Δ ≥ 0
        if decrement <= 1e-12 * j.abs().max(1.0) {
            return Ok((alpha, iteration, true));
        }
        let mut t = 1.0;
        loop {
            let trial: Vec<f64> = alpha.iter().zip(&step).map(|(a, d)| a + t * d).collect();
            let f_trial: Vec<f64> = f.iter().zip(&k_step).map(|(fi, d)| fi + t * d).collect();
            let j_trial = objective(y, &f_trial, &trial, lambda);
            if j_trial <= j - 1e-4 * t * decrement || t < 1e-10 {
                (alpha, f, j) = (trial, f_trial, j_trial);
                break;
            }
            t *= 0.5;
        }
    }
    Ok((alpha, max_iterations, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: usize, values: &[f64]) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((n, n), values).unwrap()
    }

    fn targets(y: &[f64]) -> ArrayView1<'_, f64> {
        ArrayView1::from(y)
    }

    fn features_gram(phi: &[Vec<f64>]) -> Vec<f64> {
        phi.iter().flat_map(|a| phi.iter().map(move |b| dot(a, b))).collect()
    }

    #[test]
    fn ridge_solves_the_normal_equations() {
        let values = [2.0, 0.5, 0.0, 0.5, 1.0, 0.25, 0.0, 0.25, 3.0];
        let k = GramView { rows: 3, cols: 3, values: &values };
        let y = [1.0, -1.0, 1.0];
        let config = KernelFitConfig { ridge: RelativeRidge::new(0.3).unwrap(), ..Default::default() };
        let fit = fit(view(3, &values), targets(&y), &config).unwrap();
        assert!((fit.lambda - 0.3 * 2.0).abs() < 1e-12);
        let f = matvec(&k, &fit.alpha);
        for i in 0..3 {
            assert!((f[i] + fit.lambda * fit.alpha[i] - y[i]).abs() < 1e-12, "row {i}");
        }
        assert!((fit.weight_norm_bound - dot(&fit.alpha, &f).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn ridge_is_invariant_to_the_kernel_scale() {
        let phi = vec![vec![1.0, 0.2], vec![0.3, 1.0], vec![-0.5, 0.4]];
        let k1 = features_gram(&phi);
        let k2: Vec<f64> = k1.iter().map(|v| v * 1e6).collect();
        let y = [1.0, -1.0, -1.0];
        for predictor in [KernelPredictor::Ridge, KernelPredictor::Logistic] {
            let config = KernelFitConfig { predictor, ..Default::default() };
            let a = fit(view(3, &k1), targets(&y), &config).unwrap();
            let b = fit(view(3, &k2), targets(&y), &config).unwrap();
            let (fa, fb) = (a.scores(view(3, &k1)).unwrap(), b.scores(view(3, &k2)).unwrap());
            for (x, z) in fa.iter().zip(&fb) {
                assert!((x - z).abs() < 1e-6 * x.abs().max(1.0), "{predictor:?}: {x} vs {z}");
            }
        }
    }

    #[test]
    fn logistic_reaches_a_stationary_point() {
        let phi: Vec<Vec<f64>> = (0..12).map(|i| vec![(i as f64 * 0.7).sin(), (i as f64 * 1.3).cos(), 0.5]).collect();
        let values = features_gram(&phi);
        let k = GramView { rows: 12, cols: 12, values: &values };
        let y: Vec<f64> = (0..12).map(|i| if (i * 7) % 3 == 0 { 1.0 } else { -1.0 }).collect();
        let config = KernelFitConfig {
            predictor: KernelPredictor::Logistic,
            ridge: RelativeRidge::new(0.05).unwrap(),
            ..Default::default()
        };
        let fit = fit(view(12, &values), targets(&y), &config).unwrap();
        assert!(fit.converged && fit.iterations < 50, "{fit:?}");
        // Stationarity in f-space: ℓ'(f) + λα lies in the null space of K, so K(ℓ' + λα) = 0.
        let f = matvec(&k, &fit.alpha);
        let g: Vec<f64> = (0..12).map(|i| -y[i] * sigmoid(-y[i] * f[i]) + fit.lambda * fit.alpha[i]).collect();
        let grad = matvec(&k, &g);
        assert!(grad.iter().all(|v| v.abs() < 1e-8), "{grad:?}");
    }

    #[test]
    fn eigenvalues_of_a_known_matrix() {
        let values = [2.0, 1.0, 1.0, 2.0];
        let (lo, hi) = eigenvalue_range(view(2, &values)).unwrap();
        assert!((lo - 1.0).abs() < 1e-12 && (hi - 3.0).abs() < 1e-12, "{lo} {hi}");
    }

    #[test]
    fn bad_inputs_are_named() {
        let values = [1.0, 0.0, 0.0, 1.0];
        let c = KernelFitConfig::default();
        assert!(fit(view(2, &values), targets(&[1.0]), &c).unwrap_err().to_string().contains("targets"));
        let e = fit(view(2, &values), targets(&[1.0, 0.0]), &c).unwrap_err().to_string();
        assert!(e.contains("expected +1 or -1"), "{e}");
        let zero = [0.0; 4];
        let e = fit(view(2, &zero), targets(&[1.0, -1.0]), &c).unwrap_err().to_string();
        assert!(e.contains("mean diagonal"), "{e}");
        assert!(RelativeRidge::new(0.0).is_err() && RelativeRidge::new(f64::NAN).is_err());
        let indefinite = [1.0, 0.0, 0.0, -0.5];
        let config = KernelFitConfig { ridge: RelativeRidge::new(1e-3).unwrap(), ..c };
        let e = fit(view(2, &indefinite), targets(&[1.0, -1.0]), &config);
        assert!(e.unwrap_err().to_string().contains("Cholesky"));
    }
}
