//! Small numerical helpers shared by pure and model code: seeded standard-normal draws and the
//! binary F1 score. Burn-free.

use rand::Rng;

/// One standard-normal draw (Box–Muller, cosine branch; two uniforms per draw).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Binary F1 = 2·TP / (2·TP + FP + FN), from the true positives and the number of wrong answers
/// (FP + FN); `None` when there are neither true nor predicted positives.
pub fn binary_f1(true_positives: usize, wrong: usize) -> Option<f64> {
    let denom = 2 * true_positives + wrong;
    (denom > 0).then(|| 2.0 * true_positives as f64 / denom as f64)
}
