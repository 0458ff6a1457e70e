//! Empirical NTK Gram matrices K(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ of a [`Classifier`]
//! (DESIGN.md "The fast eNTK"; Roy & Parbhoo, arXiv 2605.27567, §3: φ(x) = ∇θ f(x)).
//!
//! * [`gram`] — K(X₁, X₁) or the rectangular K(X₁, X₂), by [`NtkMethod::PerLayer`] (one batched
//!   backward per block, exact per-layer contractions) or the [`NtkMethod::Naive`] reference
//!   twin (one backward per example, flattened gradients).
//! * [`GramOptions`] — method, [`OutputMode`] (the margin), [`ParamSubset`], block size
//!   (tiling never changes the result), and an optional per-parameter breakdown.
//! * [`Gram`] — the f64 matrix plus its per-parameter contributions; [`Gram::check_finite`]
//!   names the rows holding NaN/±∞.
//!
//! Known gaps (later slices of the eNTK issue): CPU (flex) only — no GPU kernels; no sharding
//! or streaming of the signals (host memory O(N·T·Σ(d_in + d_out)) f64 for `PerLayer`, N·P
//! f32 for `Naive`); only the margin output mode.

pub mod contract;
pub mod kernels;
pub mod linalg;
pub mod naive;
pub mod options;
pub mod per_layer;
pub mod signals;

use std::collections::BTreeMap;

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::Classifier;
use crate::tokenize::Encoding;

pub use options::{GramOptions, LinearForm, NtkMethod, OutputMode, ParamSubset};

/// Per-parameter `[rows, cols]` Gram contributions (row-major), keyed by Hugging Face name.
#[derive(Debug, Clone, PartialEq)]
pub struct GramBlocks {
    /// n₁.
    pub rows: usize,
    /// n₂.
    pub cols: usize,
    /// Contribution of each parameter tensor in the subset.
    pub groups: BTreeMap<String, Vec<f64>>,
}

/// An eNTK Gram matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    /// n₁ (examples of X₁).
    pub rows: usize,
    /// n₂ (examples of X₂, or n₁).
    pub cols: usize,
    /// K, row-major `[rows, cols]`.
    pub values: Vec<f64>,
    /// Per-parameter contributions summing to `values` (empty unless asked for).
    pub groups: BTreeMap<String, Vec<f64>>,
}

impl Gram {
    /// K(xᵢ, xⱼ).
    ///
    /// # Panics
    /// When `i >= rows` or `j >= cols`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.cols + j]
    }

    /// Indices of the rows holding a NaN or ±∞.
    pub fn non_finite_rows(&self) -> Vec<usize> {
        (0..self.rows).filter(|&i| self.values[i * self.cols..(i + 1) * self.cols].iter().any(|v| !v.is_finite())).collect()
    }

    /// Refuse non-finite values, naming the offending rows by `row_ids` (one id per row).
    ///
    /// # Errors
    /// [`Error::Numerical`] listing the ids of every row holding a NaN or ±∞.
    pub fn check_finite(&self, row_ids: &[String]) -> Result<()> {
        let bad = self.non_finite_rows();
        if bad.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = bad.iter().map(|&i| row_ids.get(i).cloned().unwrap_or_else(|| format!("row {i}"))).collect();
        Err(Error::Numerical { context: "Gram matrix".into(), reason: format!("non-finite values in rows {}", ids.join(", ")) })
    }
}

/// K(X₁, X₂) of `model` (loaded on an autodiff `device`) on encoded inputs; X₂ = X₁ (square,
/// exactly symmetric) when `x2` is `None`. Inputs are padded with `pad_id` per block.
/// `progress` is called with the number of examples just back-propagated.
///
/// # Errors
/// [`Error::InvalidArgument`] for bad options, an empty input, or an encoding that does not fit
/// the model; [`Error::Numerical`] when the device is not an autodiff device or a tensor cannot
/// be read back.
pub fn gram(
    model: &Classifier,
    x1: &[Encoding],
    x2: Option<&[Encoding]>,
    pad_id: u32,
    options: &GramOptions,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<Gram> {
    options.validate()?;
    if x1.is_empty() || x2.is_some_and(<[Encoding]>::is_empty) {
        return Err(Error::invalid("input", "no examples"));
    }
    let OutputMode::Margin = options.output;
    let blocks = match options.method {
        NtkMethod::Naive => naive::naive_blocks(model, x1, x2, pad_id, options.subset, device, progress)?,
        NtkMethod::PerLayer => per_layer::per_layer_blocks(model, x1, x2, pad_id, options, device, progress)?,
    };
    let mut values = vec![0.0; blocks.rows * blocks.cols];
    for k in blocks.groups.values() {
        for (v, c) in values.iter_mut().zip(k) {
            *v += c;
        }
    }
    let groups = if options.breakdown { blocks.groups } else { BTreeMap::new() };
    Ok(Gram { rows: blocks.rows, cols: blocks.cols, values, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_rows_are_named_by_id() {
        let k = Gram { rows: 3, cols: 2, values: vec![1.0, 0.5, f64::NAN, 2.0, 0.1, f64::INFINITY], groups: BTreeMap::new() };
        assert_eq!(k.non_finite_rows(), vec![1, 2]);
        let ids: Vec<String> = ["r0", "r1", "r2"].iter().map(|s| s.to_string()).collect();
        let e = k.check_finite(&ids).unwrap_err().to_string();
        assert!(e.contains("rows r1, r2") && !e.contains("r0"), "{e}");
        assert!(e.contains("Gram matrix"), "{e}");
        let fine = Gram { values: vec![1.0; 6], ..k };
        assert!(fine.check_finite(&ids).is_ok());
    }
}
