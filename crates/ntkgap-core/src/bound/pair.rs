//! One analysed pair: the published Theorem 1 bound, the corrected bound and the Cauchy–Schwarz
//! quantity, from the Gram entries of the pair alone (plus κ, B). Formulas: see [`crate::bound`].

use serde::{Deserialize, Serialize};

/// Relative and absolute slack of the violation test: a pair violates a bound when
/// `|gap| > bound·(1 + VIOLATION_RTOL) + VIOLATION_ATOL`, so that rounding in K (e.g. a Gram
/// matrix that is ΦΦᵀ up to the last bits) never flags a pair that meets the bound exactly.
pub const VIOLATION_RTOL: f64 = 1e-12;
/// Absolute slack of the violation test; see [`VIOLATION_RTOL`].
pub const VIOLATION_ATOL: f64 = 1e-12;

/// Everything ntkgap reports for one pair (i, j).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairReport {
    /// Index of the first input (x₊).
    pub i: usize,
    /// Index of the second input (x₋).
    pub j: usize,
    /// Score gap s_i − s_j.
    pub gap: f64,
    /// Dissimilarity δ = 1 − ρ (may be slightly negative from rounding; clamped only inside √).
    pub delta: f64,
    /// Feature norm a = √K_ii.
    pub a: f64,
    /// Feature norm b = √K_jj.
    pub b: f64,
    /// Published bound B·κ·√(2·max(δ, 0)).
    pub published_bound: f64,
    /// Corrected bound B·√max((a − b)² + 2δab, 0).
    pub corrected_bound: f64,
    /// |gap| exceeds the published bound (with the tolerance of [`VIOLATION_RTOL`]).
    pub published_violated: bool,
    /// |gap| exceeds the corrected bound (same tolerance).
    pub corrected_violated: bool,
    /// Kernel cosine similarity ρ = K_ij / (a·b).
    pub rho: f64,
    /// Kernel distance d = √max(0, K_ii + K_jj − 2K_ij) = ‖φ_i − φ_j‖.
    pub distance: f64,
    /// Cauchy–Schwarz quantity B·d, an upper bound on |gap| whenever s = ⟨w, φ⟩ with ‖w‖ ≤ B.
    pub cauchy_schwarz: f64,
    /// κ used for the published bound (max √K_xx over the analysed inputs).
    pub kappa: f64,
    /// B, the weight-norm bound.
    pub weight_norm_bound: f64,
    /// B_min = γ / d with margin γ = 1: by the corrected bound, the smallest ‖w‖ with which *any*
    /// linear predictor on these features separates the pair by a margin of 1 (docs/science.md
    /// "The norm needed to separate"); +∞ when d = 0 (written as `inf` in CSV, `null` in JSON).
    #[serde(with = "infinite_as_null")]
    pub b_min: f64,
}

/// The margin γ that [`PairReport::b_min`] is computed for.
pub const SEPARATION_MARGIN: f64 = 1.0;

/// B_min = γ / d for a kernel distance `distance` (+∞ when d = 0).
pub fn separating_norm(distance: f64) -> f64 {
    if distance > 0.0 {
        SEPARATION_MARGIN / distance
    } else {
        f64::INFINITY
    }
}

/// Serde for a float that may be +∞: JSON has no infinity, so it travels as `null`.
pub(crate) mod infinite_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            s.serialize_f64(*value)
        } else {
            s.serialize_none()
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// True when `gap_abs` exceeds `bound` beyond the documented tolerance.
pub fn violates(gap_abs: f64, bound: f64) -> bool {
    gap_abs > bound * (1.0 + VIOLATION_RTOL) + VIOLATION_ATOL
}

/// The Gram entries of one pair: K_ii, K_jj, K_ij (already validated: K_ii, K_jj > 0, finite).
#[derive(Debug, Clone, Copy)]
pub struct PairEntries {
    /// K_ii.
    pub k_ii: f64,
    /// K_jj.
    pub k_jj: f64,
    /// K_ij.
    pub k_ij: f64,
}

/// Compute the report of pair (i, j) from its Gram entries, its scores, κ and B.
pub fn pair_report(
    i: usize,
    j: usize,
    entries: PairEntries,
    scores: (f64, f64),
    kappa: f64,
    weight_norm_bound: f64,
) -> PairReport {
    let PairEntries { k_ii, k_jj, k_ij } = entries;
    let gap = scores.0 - scores.1;
    let a = k_ii.sqrt();
    let b = k_jj.sqrt();
    let rho = k_ij / (a * b);
    let delta = 1.0 - rho;
    let distance = (k_ii + k_jj - 2.0 * k_ij).max(0.0).sqrt();
    let published_bound = weight_norm_bound * kappa * (2.0 * delta.max(0.0)).sqrt();
    let corrected_bound = weight_norm_bound * ((a - b).powi(2) + 2.0 * delta * a * b).max(0.0).sqrt();
    PairReport {
        i,
        j,
        gap,
        delta,
        a,
        b,
        published_bound,
        corrected_bound,
        published_violated: violates(gap.abs(), published_bound),
        corrected_violated: violates(gap.abs(), corrected_bound),
        rho,
        distance,
        cauchy_schwarz: weight_norm_bound * distance,
        kappa,
        weight_norm_bound,
        b_min: separating_norm(distance),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counterexample_entries() {
        let r = pair_report(0, 1, PairEntries { k_ii: 1.0, k_jj: 0.25, k_ij: 0.5 }, (1.0, 0.5), 1.0, 1.0);
        assert!((r.delta).abs() < 1e-15 && r.published_bound.abs() < 1e-7);
        assert!(r.published_violated && !r.corrected_violated);
        assert!((r.corrected_bound - 0.5).abs() < 1e-12 && (r.distance - 0.5).abs() < 1e-12);
    }

    #[test]
    fn tolerance_is_relative_and_absolute() {
        assert!(!violates(1.0 + 5e-13, 1.0));
        assert!(violates(1.0 + 1e-9, 1.0));
        assert!(!violates(5e-13, 0.0));
        assert!(violates(1e-9, 0.0));
    }
}
