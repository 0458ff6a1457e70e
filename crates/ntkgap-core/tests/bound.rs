//! The Theorem 1 check (`ntkgap_core::bound`) on exact kernel predictors: the audit counterexample,
//! the corrected bound and Cauchy–Schwarz on random feature maps, equal norms.

use ndarray::{ArrayView1, ArrayView2};
use ntkgap_core::bound::analyse;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// K = ΦΦᵀ (n × n, row-major) and s = Φw for features `phi` (n rows of length p).
fn kernel_predictor(phi: &[Vec<f64>], w: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let k = phi.iter().flat_map(|x| phi.iter().map(move |y| dot(x, y))).collect();
    let s = phi.iter().map(|x| dot(x, w)).collect();
    (k, s)
}

fn random_vec(rng: &mut ChaCha8Rng, p: usize) -> Vec<f64> {
    (0..p).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn all_pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).collect()
}

#[test]
fn audit_counterexample_violates_published_not_corrected() {
    let k = [1.0, 0.5, 0.5, 0.25];
    let (reports, summary) =
        analyse(ArrayView2::from_shape((2, 2), &k[..]).unwrap(), ArrayView1::from(&[1.0, 0.5][..]), &[(0, 1)], 1.0)
            .unwrap();
    let r = &reports[0];
    assert_eq!((r.gap, r.delta, r.a, r.b), (0.5, 0.0, 1.0, 0.5));
    assert_eq!(r.published_bound, 0.0);
    assert!(r.published_violated);
    assert!((r.corrected_bound - 0.5).abs() < 1e-12, "{}", r.corrected_bound);
    assert!(!r.corrected_violated);
    assert!((r.cauchy_schwarz - 0.5).abs() < 1e-12 && (r.rho - 1.0).abs() < 1e-15);
    assert_eq!(
        (summary.pairs, summary.published_violations, summary.corrected_violations, summary.kappa),
        (1, 1, 0, 1.0)
    );
}

#[test]
fn corrected_bound_and_cauchy_schwarz_hold_for_random_kernel_predictors() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut published_violations = 0;
    for trial in 0..200 {
        let (n, p) = (2 + trial % 5, 1 + trial % 4);
        let phi: Vec<Vec<f64>> = (0..n).map(|_| random_vec(&mut rng, p)).collect();
        let b_bound = rng.random_range(0.1..3.0);
        let w_dir = random_vec(&mut rng, p);
        let scale = b_bound * rng.random_range(0.0..=1.0) / norm(&w_dir);
        let w: Vec<f64> = w_dir.iter().map(|v| v * scale).collect();
        assert!(norm(&w) <= b_bound * (1.0 + 1e-12));
        let (k, s) = kernel_predictor(&phi, &w);
        let (reports, summary) =
            analyse(ArrayView2::from_shape((n, n), &k[..]).unwrap(), ArrayView1::from(&s[..]), &all_pairs(n), b_bound)
                .unwrap();
        assert_eq!(summary.corrected_violations, 0, "trial {trial}");
        for r in &reports {
            assert!(
                r.cauchy_schwarz >= r.gap.abs() - 1e-12,
                "trial {trial}: B·d {} < |gap| {}",
                r.cauchy_schwarz,
                r.gap.abs()
            );
            assert!((r.cauchy_schwarz - r.corrected_bound).abs() <= 1e-9 * (1.0 + r.corrected_bound), "trial {trial}");
            let true_distance = phi[r.i].iter().zip(&phi[r.j]).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
            assert!((r.distance - true_distance).abs() < 1e-7, "trial {trial}");
        }
        published_violations += summary.published_violations;
    }
    // Unequal random norms must break the published statement somewhere (the point of the check).
    assert!(published_violations > 0);
}

#[test]
fn equal_norm_features_make_published_equal_corrected() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for trial in 0..50 {
        let (n, p, radius) = (3 + trial % 4, 2 + trial % 3, rng.random_range(0.5..2.0));
        let phi: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let x = random_vec(&mut rng, p);
                let r = norm(&x);
                x.iter().map(|v| v * radius / r).collect()
            })
            .collect();
        let w = random_vec(&mut rng, p);
        let (k, s) = kernel_predictor(&phi, &w);
        let (reports, summary) =
            analyse(ArrayView2::from_shape((n, n), &k[..]).unwrap(), ArrayView1::from(&s[..]), &all_pairs(n), norm(&w))
                .unwrap();
        assert!((summary.kappa - radius).abs() < 1e-12);
        for r in &reports {
            assert!(
                (r.published_bound - r.corrected_bound).abs() < 1e-7 * (1.0 + r.corrected_bound),
                "trial {trial}: {r:?}"
            );
        }
        assert_eq!(summary.corrected_violations, 0);
    }
}

#[test]
fn b_min_is_one_over_the_kernel_distance_on_the_counterexample() {
    // φ₊ = 1, φ₋ = ½: d = ½, so no linear predictor with ‖w‖ < 2 separates the pair by a margin of 1.
    let k = [1.0, 0.5, 0.5, 0.25];
    let view = ArrayView2::from_shape((2, 2), &k[..]).unwrap();
    let (reports, _) = analyse(view, ArrayView1::from(&[1.0, 0.5][..]), &[(0, 1)], 1.0).unwrap();
    assert!((reports[0].b_min - 2.0).abs() < 1e-12, "{}", reports[0].b_min);
    // Identical inputs: no norm separates them.
    let same = [1.0, 1.0, 1.0, 1.0];
    let view = ArrayView2::from_shape((2, 2), &same[..]).unwrap();
    let (reports, _) = analyse(view, ArrayView1::from(&[0.3, 0.3][..]), &[(0, 1)], 1.0).unwrap();
    assert_eq!(reports[0].b_min, f64::INFINITY);
}

#[test]
fn no_predictor_below_b_min_separates_a_pair_by_one_on_random_kernels() {
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    for trial in 0..200 {
        let (n, p) = (2 + trial % 4, 1 + trial % 5);
        let phi: Vec<Vec<f64>> = (0..n).map(|_| random_vec(&mut rng, p)).collect();
        let w = random_vec(&mut rng, p);
        let (k, s) = kernel_predictor(&phi, &w);
        let view = ArrayView2::from_shape((n, n), &k[..]).unwrap();
        let (reports, _) = analyse(view, ArrayView1::from(&s[..]), &all_pairs(n), norm(&w)).unwrap();
        for r in &reports {
            assert!((r.b_min * r.distance - 1.0).abs() < 1e-9, "trial {trial}: b_min = 1/d");
            // |gap| ≤ ‖w‖·d, so a gap of at least 1 needs ‖w‖ ≥ 1/d = b_min.
            if r.gap.abs() >= 1.0 {
                assert!(norm(&w) >= r.b_min * (1.0 - 1e-12), "trial {trial}: ‖w‖ {} < b_min {}", norm(&w), r.b_min);
            }
        }
    }
}
