//! Kernel ridge and kernel logistic predictors on seeded random positive semi-definite kernels
//! K = ΦΦᵀ: the corrected Theorem 1 bound holds for every pair (B = √(αᵀKα)), even in the case
//! where Cauchy–Schwarz is tight, while the published bound fails when feature norms differ.

use ndarray::{ArrayView1, ArrayView2};
use ntkgap_core::bound::analyse;
use ntkgap_core::bound::kernel_regression::{fit, KernelFitConfig, KernelPredictor, RelativeRidge};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Features of `n` inputs in `dim` dimensions with norms spread over [0.3, 3].
fn features(n: usize, dim: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            let target = rng.random_range(0.3..3.0);
            v.iter().map(|x| x / norm * target).collect()
        })
        .collect()
}

fn gram(phi: &[Vec<f64>]) -> Vec<f64> {
    phi.iter().flat_map(|a| phi.iter().map(move |b| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>())).collect()
}

/// Train on the first `m` inputs, evaluate every pair among the rest; returns (pairs, published
/// violations) and asserts that the corrected bound never fails.
fn check(phi: &[Vec<f64>], m: usize, predictor: KernelPredictor, ridge: f64, rng: &mut ChaCha8Rng) -> (usize, usize) {
    let n = phi.len();
    let k = gram(phi);
    let k_train: Vec<f64> = (0..m).flat_map(|i| k[i * n..i * n + m].to_vec()).collect();
    let y: Vec<f64> = (0..m).map(|_| if rng.random_bool(0.4) { 1.0 } else { -1.0 }).collect();
    let config = KernelFitConfig { predictor, ridge: RelativeRidge::new(ridge).unwrap(), ..Default::default() };
    let f = fit(ArrayView2::from_shape((m, m), &k_train[..]).unwrap(), ArrayView1::from(&y[..]), &config).unwrap();
    assert!(f.converged, "{predictor:?} did not converge");
    let cross: Vec<f64> = (m..n).flat_map(|i| k[i * n..i * n + m].to_vec()).collect();
    let scores = f.scores(ArrayView2::from_shape((n - m, m), &cross[..]).unwrap()).unwrap();
    let p = n - m;
    let k_eval: Vec<f64> = (m..n).flat_map(|i| k[i * n + m..(i + 1) * n].to_vec()).collect();
    let pairs: Vec<(usize, usize)> = (0..p).flat_map(|i| (i + 1..p).map(move |j| (i, j))).collect();
    let (reports, summary) =
        analyse(ArrayView2::from_shape((p, p), &k_eval[..]).unwrap(), scores.view(), &pairs, f.weight_norm_bound)
            .unwrap();
    for r in &reports {
        assert!(
            !r.corrected_violated,
            "{predictor:?}: pair ({}, {}) |gap| {} > corrected {}",
            r.i,
            r.j,
            r.gap.abs(),
            r.corrected_bound
        );
        assert!(r.gap.abs() <= r.cauchy_schwarz * (1.0 + 1e-12) + 1e-12);
    }
    (summary.pairs, summary.published_violations)
}

#[test]
fn ridge_and_logistic_never_violate_the_corrected_bound_on_random_kernels() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut published = 0;
    for trial in 0..40 {
        let dim = [2, 5, 40][trial % 3];
        let phi = features(30, dim, &mut rng);
        for (predictor, ridge) in
            [(KernelPredictor::Ridge, 1e-3), (KernelPredictor::Ridge, 1.0), (KernelPredictor::Logistic, 1e-2)]
        {
            published += check(&phi, 20, predictor, ridge, &mut rng).1;
        }
    }
    // Unequal feature norms make the published form fail somewhere; the corrected form never did.
    assert!(published > 0, "expected some published-bound violations with unequal norms");
}

#[test]
fn tight_cauchy_schwarz_case_stays_within_tolerance() {
    // Train on x₊, x₋ themselves with y = (+1, −1) and equal norms: w ∝ φ₊ − φ₋, so
    // |gap| = B·d exactly in real arithmetic — the hardest case for the tolerance.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..50 {
        let mut phi = features(2, 6, &mut rng);
        let norm = |v: &Vec<f64>| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let scale = norm(&phi[0]) / norm(&phi[1]);
        phi[1].iter_mut().for_each(|x| *x *= scale);
        let k = gram(&phi);
        let g = ArrayView2::from_shape((2, 2), &k[..]).unwrap();
        for predictor in [KernelPredictor::Ridge, KernelPredictor::Logistic] {
            let config = KernelFitConfig { predictor, ..Default::default() };
            let f = fit(g, ArrayView1::from(&[1.0, -1.0][..]), &config).unwrap();
            let scores = f.scores(g).unwrap();
            let (reports, _) = analyse(g, scores.view(), &[(0, 1)], f.weight_norm_bound).unwrap();
            let r = &reports[0];
            assert!(!r.corrected_violated, "{predictor:?}: {} > {}", r.gap.abs(), r.corrected_bound);
            assert!(
                (r.gap.abs() / r.corrected_bound - 1.0).abs() < 1e-6,
                "not tight: {} vs {}",
                r.gap,
                r.corrected_bound
            );
        }
    }
}
