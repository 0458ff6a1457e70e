//! The frozen model's own readout as the predictor (docs/science.md "Decoders and the frozen-LLM
//! side"): the margin is exactly f(x) = ⟨w, φ(x)⟩ + c, φ the input of the final linear readout
//! (a decoder's final-normed hidden state at the last real token, an encoder's pooled vector),
//! w the difference of the two readout rows (a decoder's label-word rows of the unembedding,
//! W_U[yes] − W_U[no]) and c the difference of their biases (0 for a decoder). So Theorem 1
//! applies to the frozen model with K = φφᵀ (the last-layer kernel) and B = ‖w‖, no lazy-regime
//! assumption: the corrected bound must hold on every pair (up to the f32 rounding of φ).
//!
//! The scores the bound is checked on are ⟨w, φ(x)⟩ + c computed in f64 from the f32 features;
//! the forward pass's margins are reported beside them (the `model_gap` column), and the largest
//! difference between the two, relative to the largest |f|, is in [`ReadoutSummary`] — a check
//! of the identity, not an assumption.
//!
//! Cost: one forward pass per block for φ, one for the margins, N²·H f64 products.

use ndarray::{Array1, Array2, Array4, ArrayView1};
use serde::Serialize;

use crate::bound::analyse as check_pairs;
use crate::bound::kernel_regression::eigenvalue_range;
use crate::error::{Error, Result};
use crate::gap::analysis::{margins_f64, Checked, Ctx, GapKernel};
use crate::gap::inputs::PairInputs;
use crate::gap::model::GapModel;
use crate::gap::Progress;
use crate::ntk::last_layer::{features, products};
use crate::ntk::Gram;

/// What `summary.json` says about the readout predictor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadoutSummary {
    /// ‖w‖ = B, w = W[1] − W[0] (the yes row minus the no row).
    pub weight_norm: f64,
    /// c = b[1] − b[0] (0 without a readout bias).
    pub bias_difference: f64,
    /// H, the width of φ.
    pub feature_width: usize,
    /// max |f(x) − (⟨w, φ(x)⟩ + c)| over the analysed inputs (the forward's margin against the
    /// identity; f32 rounding).
    pub max_identity_error: f64,
    /// max |f(x)| over the analysed inputs (the scale of the error above).
    pub max_abs_margin: f64,
}

/// K = φφᵀ over the pair inputs, s = ⟨w, φ⟩ + c, B = ‖w‖, and the pair reports.
///
/// # Errors
/// [`Error::InvalidSetting`] (`kernel`) unless the kernel is the last-layer one; (`predictor`)
/// for a readout with other than two outputs; a non-finite φ (input ids named); as
/// [`crate::ntk::NtkModel::features`].
pub(crate) fn readout_check(
    model: &dyn GapModel,
    inputs: &PairInputs,
    ctx: &Ctx<'_>,
    progress: &mut dyn Progress,
) -> Result<Checked> {
    if ctx.config.kernel != GapKernel::LastLayer {
        return Err(Error::setting(
            "kernel",
            "the readout predictor is linear in the last-layer features φ, not in ∇θf: it needs `kernel` last-layer",
        ));
    }
    let layer = model.ntk().readout_layer()?;
    let outputs = layer.weight.nrows();
    let (w, c) = layer.margin_direction().ok_or_else(|| {
        Error::setting(
            "predictor",
            format!("readout needs a readout of two outputs (no, yes); this model has {outputs}"),
        )
    })?;
    let x = &inputs.encodings;
    progress.start("last-layer features", x.len());
    let frozen = model.ntk().frozen();
    let block = ctx.config.gram.block;
    let (phi, h) = features(frozen.as_ref(), x, ctx.pad_id, block, ctx.device, &mut |n| progress.advance(n))?;
    progress.finish();
    let n = x.len();
    let values = Array4::from_shape_vec((n, n, 1, 1), products(&phi, &phi, h)).expect("n × n products");
    let gram = Gram { row_start: 0, values, groups: Default::default(), stats: Default::default() };
    gram.check_finite(&inputs.ids)?;
    let k: Array2<f64> = gram.matrix().to_owned();
    let w64: Array1<f64> = w.mapv(f64::from);
    let scores: Vec<f64> = phi
        .chunks(h.max(1))
        .map(|row| row.iter().zip(&w64).map(|(&p, &q)| f64::from(p) * q).sum::<f64>() + f64::from(c))
        .collect();
    let weight_norm = w64.dot(&w64).sqrt();
    let margins = margins_f64(model, x, ctx)?;
    let max_identity_error = margins.iter().zip(&scores).map(|(m, s)| (m - s).abs()).fold(0.0, f64::max);
    let max_abs_margin = margins.iter().map(|m| m.abs()).fold(0.0, f64::max);
    let (reports, _) = check_pairs(k.view(), ArrayView1::from(&scores[..]), &inputs.pairs, weight_norm)?;
    let summary = ReadoutSummary {
        weight_norm,
        bias_difference: f64::from(c),
        feature_width: h,
        max_identity_error,
        max_abs_margin,
    };
    Ok(Checked {
        reports,
        eigen: eigenvalue_range(k.view())?,
        gram: k,
        weight_norm_bound: weight_norm,
        readout: Some(summary),
        model_scores: Some(margins),
        ..Checked::default()
    })
}
