//! Small numerical helpers for A-CBO: standard-normal sampling (Box–Muller), Welch's two-sample
//! t-test (Student-t tail through the regularized incomplete beta function, Numerical Recipes
//! §6.4 continued fraction), and the upper tail of a sum of two binomials (the truth-missing
//! alarm). Implemented here to keep the dependency list short; each has a test against
//! published reference values.

pub use crate::numeric::standard_normal;

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error < 1e-13).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    let t = x + G + 0.5;
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (std::f64::consts::TAU).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized incomplete beta I_x(a, b), for a, b > 0 and x in [0, 1].
pub(crate) fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

/// Modified Lentz evaluation of the incomplete-beta continued fraction.
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    d = if d.abs() < TINY { TINY } else { d };
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))] {
            d = 1.0 + aa * d;
            d = if d.abs() < TINY { TINY } else { d };
            c = 1.0 + aa / c;
            c = if c.abs() < TINY { TINY } else { c };
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Two-sided p-value P(|T| ≥ |t|) of Student's t with `df` degrees of freedom.
pub fn student_t_two_sided_p(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    regularized_incomplete_beta(df / (df + t * t), 0.5 * df, 0.5)
}

/// Mean, unbiased variance and size of one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSummary {
    /// Sample mean.
    pub mean: f64,
    /// Unbiased sample variance.
    pub variance: f64,
    /// Sample size (≥ 2).
    pub size: f64,
}

impl SampleSummary {
    /// Summarize a sample of at least two values.
    pub fn of(values: &[f64]) -> Self {
        let size = values.len() as f64;
        let mean = values.iter().sum::<f64>() / size;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (size - 1.0);
        Self { mean, variance, size }
    }
}

/// Welch's statistic t = (ā − b̄) / √(s²_a/n_a + s²_b/n_b) and its Welch–Satterthwaite degrees
/// of freedom. With zero variance in both samples t is 0 for equal means and ±∞ otherwise
/// (df is then 1, unused: the p-value of an infinite t is 0).
pub fn welch_t(a: SampleSummary, b: SampleSummary) -> (f64, f64) {
    let (va, vb) = (a.variance / a.size, b.variance / b.size);
    let se2 = va + vb;
    if se2 <= 0.0 {
        let diff = a.mean - b.mean;
        let t = if diff == 0.0 { 0.0 } else { diff.signum() * f64::INFINITY };
        return (t, 1.0);
    }
    let t = (a.mean - b.mean) / se2.sqrt();
    let df = se2 * se2 / (va * va / (a.size - 1.0) + vb * vb / (b.size - 1.0));
    (t, df)
}

/// Welch's unequal-variance two-sample t-test; returns the two-sided p-value.
pub fn welch_t_test(a: SampleSummary, b: SampleSummary) -> f64 {
    let (t, df) = welch_t(a, b);
    student_t_two_sided_p(t, df)
}

/// Probability mass function of Binomial(n, p) as a vector of length n + 1.
pub(crate) fn binomial_pmf(n: u64, p: f64) -> Vec<f64> {
    let n_us = n as usize;
    if p <= 0.0 {
        let mut v = vec![0.0; n_us + 1];
        v[0] = 1.0;
        return v;
    }
    if p >= 1.0 {
        let mut v = vec![0.0; n_us + 1];
        v[n_us] = 1.0;
        return v;
    }
    let ln_n = ln_gamma(n as f64 + 1.0);
    (0..=n)
        .map(|k| {
            let k_f = k as f64;
            let ln_choose = ln_n - ln_gamma(k_f + 1.0) - ln_gamma((n - k) as f64 + 1.0);
            (ln_choose + k_f * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp()
        })
        .collect()
}

/// P(D₁ + D₂ ≥ d) for independent D₁ ~ Binomial(n₁, p₁), D₂ ~ Binomial(n₂, p₂).
pub fn binomial_sum_upper_tail(d: u64, n1: u64, p1: f64, n2: u64, p2: f64) -> f64 {
    if d == 0 {
        return 1.0;
    }
    let pmf1 = binomial_pmf(n1, p1);
    let pmf2 = binomial_pmf(n2, p2);
    // suffix[j] = P(D₂ ≥ j)
    let mut suffix = vec![0.0; pmf2.len() + 1];
    for j in (0..pmf2.len()).rev() {
        suffix[j] = suffix[j + 1] + pmf2[j];
    }
    let tail: f64 = pmf1
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let need = (d as usize).saturating_sub(i);
            p * suffix.get(need).copied().unwrap_or(0.0)
        })
        .sum();
    tail.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ln_gamma_reference_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn student_t_reference_values() {
        // R: 2 * pt(-2, 10) = 0.07338803; 2 * pt(-1.959964, 1e6) ≈ 0.05; 2 * pt(-3, 4) = 0.03994197 (values checked by Simpson integration of the t density)
        assert!((student_t_two_sided_p(2.0, 10.0) - 0.073_388_03).abs() < 1e-7);
        assert!((student_t_two_sided_p(-1.959_964, 1e6) - 0.05).abs() < 1e-5);
        assert!((student_t_two_sided_p(3.0, 4.0) - 0.039_941_97).abs() < 1e-7);
        assert!((student_t_two_sided_p(0.0, 7.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn welch_test_reference_value() {
        // Welch: t = −2.37635, df = 6.97226, two-sided p = 0.0492843 (t density integrated numerically)
        let a = SampleSummary::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        let b = SampleSummary::of(&[2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        let p = welch_t_test(a, b);
        assert!((p - 0.049_284_34).abs() < 1e-6, "{p}");
        let (t, df) = welch_t(a, b);
        assert!((t + 2.376_35).abs() < 1e-5 && (df - 6.972_26).abs() < 1e-5, "{t} {df}");
        let flat = SampleSummary::of(&[1.0, 1.0]);
        assert_eq!(welch_t(flat, flat).0, 0.0);
        assert_eq!(welch_test_p_of_constant_shift(), 0.0);
    }

    fn welch_test_p_of_constant_shift() -> f64 {
        welch_t_test(SampleSummary::of(&[2.0, 2.0]), SampleSummary::of(&[1.0, 1.0]))
    }

    #[test]
    fn binomial_tails() {
        // P(Bin(10, 0.1) ≥ 3) = 0.07019083
        assert!((binomial_sum_upper_tail(3, 10, 0.1, 0, 0.3) - 0.070_190_83).abs() < 1e-7);
        // the sum of Bin(4, .1) and Bin(6, .1) is Bin(10, .1)
        assert!((binomial_sum_upper_tail(3, 4, 0.1, 6, 0.1) - 0.070_190_83).abs() < 1e-7);
        assert_eq!(binomial_sum_upper_tail(1, 5, 0.0, 5, 0.0), 0.0);
        assert_eq!(binomial_sum_upper_tail(0, 5, 0.0, 5, 0.0), 1.0);
    }

    #[test]
    fn normal_draws_have_unit_moments() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let xs: Vec<f64> = (0..20_000).map(|_| standard_normal(&mut rng)).collect();
        let s = SampleSummary::of(&xs);
        assert!(s.mean.abs() < 0.03 && (s.variance - 1.0).abs() < 0.04, "{s:?}");
    }
}
