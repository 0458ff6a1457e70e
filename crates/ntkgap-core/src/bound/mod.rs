//! The kernel-obstruction check of Theorem 1 (Roy & Parbhoo, arXiv 2605.27567) — pure f64
//! arithmetic, no model, no burn — and the predictors whose B it is applied to.
//!
//! For a kernel predictor s(x) = ⟨w, φ(x)⟩ with ‖w‖ ≤ B and K(x, y) = ⟨φ(x), φ(y)⟩, for each
//! analysed pair (i, j):
//!
//! - gap = s_i − s_j; a = √K_ii, b = √K_jj; ρ = K_ij / (a·b); δ = 1 − ρ;
//! - kernel distance d = √max(0, K_ii + K_jj − 2K_ij) = ‖φ_i − φ_j‖;
//! - **published bound** B·κ·√(2δ) (Theorem 1 as published), with δ clamped at ≥ 0 inside the
//!   square root (rounding can make ρ exceed 1 by a few ulps);
//! - **corrected bound** B·√((a − b)² + 2δab) (the radicand, which equals d², is clamped at ≥ 0);
//! - **Cauchy–Schwarz quantity** B·d: |gap| = |⟨w, φ_i − φ_j⟩| ≤ B·d, and B·d equals the
//!   corrected bound (same radicand, written two ways).
//!
//! κ is not given by the user: it is the largest feature norm **over the analysed inputs**,
//! κ = max √K_xx over every index that appears in some pair — the smallest κ for which
//! ‖φ(x)‖ ≤ κ holds on the inputs the bound is applied to. Indices of K that appear in no pair do
//! not influence κ.
//!
//! A bound is *violated* when |gap| > bound·(1 + 1e-12) + 1e-12 ([`pair::VIOLATION_RTOL`],
//! [`pair::VIOLATION_ATOL`]). The published bound is false without equal feature norms (the
//! 1-D counterexample φ = (1, ½), w = 1 has δ = 0 but gap ½); the corrected one holds for every
//! kernel predictor.
//!
//! Submodules: [`pair`] (one pair), [`kernel_regression`] (kernel ridge / logistic predictors fitted with
//! faer, B = √(αᵀKα)), [`lazy`] (lazy-regime diagnostics of a fine-tuned network), [`table`]
//! (per-pair rows, CSV, summaries by `n_vars`); the plots of `bound` and `sweep` live with the
//! other charts in the `ntkgap` crate.
//! The model-driven side (computing K, margins and gradients with burn) is `ntkgap::gap`.
//!
//! Known gaps: K is not checked for symmetry or positive semi-definiteness here — K_ij is read
//! as given (row i, column j); [`kernel_regression::eigenvalue_range`] reports how far from PSD it is.

pub mod kernel_regression;
pub mod lazy;
pub mod pair;
pub mod table;

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::Serialize;

pub use pair::{pair_report, PairEntries, PairReport};

use crate::error::{Error, Result};

/// Which predictor's gap the bound is checked against (`ntkgap bound --predictor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Predictor {
    /// Kernel ridge regression on ±1 labels of a training set with the model's eNTK
    /// ([`kernel_regression::KernelPredictor::Ridge`]); B = √(αᵀKα). The corrected bound must hold
    /// exactly. Default.
    #[default]
    KernelRidge,
    /// Kernel logistic regression with the model's eNTK ([`kernel_regression::KernelPredictor::Logistic`]);
    /// B = √(αᵀKα). The corrected bound must hold exactly.
    KernelLogistic,
    /// The fine-tuned network itself: gap of f_T − f₀, B = ‖θ_T − θ₀‖, K the eNTK at θ₀; exact
    /// only for the linearization ⟨∇f₀, θ_T − θ₀⟩, reported next to it with the lazy-regime
    /// diagnostics ([`lazy`]).
    Network,
    /// The frozen model's own linear readout on its last-layer features: s(x) = ⟨w, φ(x)⟩ + c,
    /// w the difference of the two readout rows (a decoder's label-word rows of the
    /// unembedding), B = ‖w‖, K = φφᵀ (the last-layer kernel). The corrected bound must hold
    /// exactly (up to the f32 rounding of φ), with no lazy-regime assumption.
    Readout,
}

impl Predictor {
    /// The `--predictor` spelling (`kernel-ridge`, `kernel-logistic`, `network`, `readout`).
    pub fn as_str(self) -> &'static str {
        match self {
            Predictor::KernelRidge => "kernel-ridge",
            Predictor::KernelLogistic => "kernel-logistic",
            Predictor::Network => "network",
            Predictor::Readout => "readout",
        }
    }
}

/// Violation counts of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of analysed pairs.
    pub pairs: usize,
    /// Pairs whose |gap| exceeds the published bound.
    pub published_violations: usize,
    /// Pairs whose |gap| exceeds the corrected bound.
    pub corrected_violations: usize,
    /// κ = max √K_xx over the analysed inputs.
    pub kappa: f64,
}

/// A square Gram matrix viewed row-major (the internal form of the `ArrayView2` the public
/// functions take).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GramView<'a> {
    /// Rows.
    pub rows: usize,
    /// Columns (must equal `rows`).
    pub cols: usize,
    /// Values, row-major, `rows·cols` of them.
    pub values: &'a [f64],
}

impl<'a> GramView<'a> {
    /// The view of a standard-layout (row-major) matrix.
    pub(crate) fn of(k: &'a Array2<f64>) -> Self {
        let (rows, cols) = k.dim();
        Self { rows, cols, values: k.as_slice().expect("as_standard_layout gives a row-major matrix") }
    }

    pub(crate) fn at(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.cols + j]
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.rows != self.cols {
            return Err(Error::invalid("Gram matrix", format!("must be square, got {} x {}", self.rows, self.cols)));
        }
        if self.rows.checked_mul(self.cols) != Some(self.values.len()) {
            return Err(Error::invalid(
                "Gram matrix",
                format!("{} values do not fill {} x {}", self.values.len(), self.rows, self.cols),
            ));
        }
        if let Some(k) = self.values.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "Gram matrix",
                format!("non-finite value at ({}, {})", k / self.cols, k % self.cols),
            ));
        }
        Ok(())
    }
}

fn validate_inputs(
    gram: &GramView<'_>,
    scores: &[f64],
    pairs: &[(usize, usize)],
    weight_norm_bound: f64,
) -> Result<()> {
    gram.validate()?;
    let n = gram.rows;
    if scores.len() != n {
        return Err(Error::invalid("scores", format!("{} scores for a {n} x {n} Gram matrix", scores.len())));
    }
    if let Some(k) = scores.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid("scores", format!("non-finite value at index {k}")));
    }
    if !weight_norm_bound.is_finite() || weight_norm_bound < 0.0 {
        return Err(Error::invalid("weight norm bound B", format!("{weight_norm_bound} must be finite and >= 0")));
    }
    if pairs.is_empty() {
        return Err(Error::invalid("pairs", "no pair given"));
    }
    for &(i, j) in pairs {
        let name = format!("pair ({i}, {j})");
        if i >= n || j >= n {
            return Err(Error::invalid(name, format!("index out of range 0..{n}")));
        }
        if i == j {
            return Err(Error::invalid(name, "the two indices must differ"));
        }
        for x in [i, j] {
            if gram.at(x, x) <= 0.0 {
                return Err(Error::invalid(
                    name,
                    format!("K[{x},{x}] = {} is not > 0, so rho is undefined", gram.at(x, x)),
                ));
            }
        }
    }
    Ok(())
}

/// κ = max √K_xx over every index appearing in `pairs` (0 for no pairs).
///
/// # Panics
/// When an index of `pairs` is outside `gram`.
pub fn kappa(gram: ArrayView2<'_, f64>, pairs: &[(usize, usize)]) -> f64 {
    pairs.iter().flat_map(|&(i, j)| [i, j]).map(|x| gram[[x, x]].sqrt()).fold(0.0, f64::max)
}

/// Analyse every pair of `pairs` against K = `gram`, scores `scores` and B = `weight_norm_bound`.
///
/// # Errors
/// [`Error::InvalidArgument`] when K is not square or has non-finite values, the number of scores
/// is not n, a score is non-finite, B is negative or non-finite, there is no pair, or a pair has
/// an index out of range, two equal indices or a diagonal entry K_xx ≤ 0 (the pair is named).
pub fn analyse(
    gram: ArrayView2<'_, f64>,
    scores: ArrayView1<'_, f64>,
    pairs: &[(usize, usize)],
    weight_norm_bound: f64,
) -> Result<(Vec<PairReport>, Summary)> {
    let (owned, scores) = (gram.as_standard_layout().into_owned(), scores.to_vec());
    let gram = &GramView::of(&owned);
    validate_inputs(gram, &scores, pairs, weight_norm_bound)?;
    let kappa = pairs.iter().flat_map(|&(i, j)| [i, j]).map(|x| gram.at(x, x).sqrt()).fold(0.0, f64::max);
    let reports: Vec<PairReport> = pairs
        .iter()
        .map(|&(i, j)| {
            let entries = PairEntries { k_ii: gram.at(i, i), k_jj: gram.at(j, j), k_ij: gram.at(i, j) };
            pair_report(i, j, entries, (scores[i], scores[j]), kappa, weight_norm_bound)
        })
        .collect();
    let summary = Summary {
        pairs: reports.len(),
        published_violations: reports.iter().filter(|r| r.published_violated).count(),
        corrected_violations: reports.iter().filter(|r| r.corrected_violated).count(),
        kappa,
    };
    Ok((reports, summary))
}

/// Parse `"i,j;k,l"` into index pairs (whitespace around numbers allowed, a trailing `;` too).
///
/// # Errors
/// [`Error::InvalidArgument`] naming `--pairs` and the offending item.
pub fn parse_pairs(text: &str) -> Result<Vec<(usize, usize)>> {
    let items: Vec<&str> = text.split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
    if items.is_empty() {
        return Err(Error::setting("pairs", "no pair given; expected \"i,j;k,l\""));
    }
    items
        .iter()
        .map(|item| {
            let bad = || Error::setting("pairs", format!("\"{item}\" is not \"i,j\" with two non-negative integers"));
            let (i, j) = item.split_once(',').ok_or_else(bad)?;
            Ok((i.trim().parse().map_err(|_| bad())?, j.trim().parse().map_err(|_| bad())?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pairs_accepts_and_refuses() {
        assert_eq!(parse_pairs("0,1; 2 , 3;").unwrap(), vec![(0, 1), (2, 3)]);
        for bad in ["", "0", "0,1,2", "a,b", "0;1", "-1,2"] {
            assert!(parse_pairs(bad).unwrap_err().to_string().contains("`pairs`"), "{bad}");
        }
    }

    #[test]
    fn kappa_ignores_unanalysed_inputs() {
        let values = [1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 100.0];
        let g = ArrayView2::from_shape((3, 3), &values[..]).unwrap();
        assert_eq!(kappa(g, &[(0, 1)]), 2.0);
    }

    #[test]
    fn validation_names_the_problem() {
        let values = [1.0, 0.5, 0.5, 0.0];
        let g = ArrayView2::from_shape((2, 2), &values[..]).unwrap();
        let err = analyse(g, ArrayView1::from(&[1.0, 0.5][..]), &[(0, 1)], 1.0).unwrap_err().to_string();
        assert!(err.contains("pair (0, 1)") && err.contains("K[1,1]"), "{err}");
        assert!(analyse(g, ArrayView1::from(&[1.0][..]), &[(0, 0)], 1.0).unwrap_err().to_string().contains("scores"));
        let ok = [1.0, 0.5, 0.5, 1.0];
        let g = ArrayView2::from_shape((2, 2), &ok[..]).unwrap();
        assert!(analyse(g, ArrayView1::from(&[1.0, 0.5][..]), &[(0, 0)], 1.0)
            .unwrap_err()
            .to_string()
            .contains("must differ"));
        assert!(analyse(g, ArrayView1::from(&[1.0, 0.5][..]), &[(0, 2)], 1.0)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(analyse(g, ArrayView1::from(&[1.0, 0.5][..]), &[(0, 1)], -1.0)
            .unwrap_err()
            .to_string()
            .contains(">= 0"));
        assert!(analyse(g, ArrayView1::from(&[1.0, 0.5][..]), &[(0, 1)], f64::NAN).is_err());
        let rect = ArrayView2::from_shape((1, 2), &ok[..2]).unwrap();
        assert!(analyse(rect, ArrayView1::from(&[1.0][..]), &[(0, 1)], 1.0)
            .unwrap_err()
            .to_string()
            .contains("square"));
    }
}
