//! The last-layer kernel K(x, x') = ⟨φ(x), φ(x')⟩ (docs/science.md "Decoders and the frozen-LLM
//! side"): φ is the input of the model's final linear readout ([`NtkModel::features`]: a
//! decoder's final-normed hidden state at the last real token, an encoder's pooled vector), so
//! the margin is exactly f(x) = ⟨w, φ(x)⟩ + c with w the difference of the two readout rows
//! ([`crate::ntk::family::ReadoutLayer::margin_direction`]) and Theorem 1 applies to the frozen
//! model with B = ‖w‖, no lazy-regime assumption. It is also the eNTK of the readout weights
//! alone (the readout rows' gradient of z_o is φ).
//!
//! Cost: one forward pass per block (no backward), then N₁·N₂·H f64 products of the f32
//! features. Written like any [`Gram`] (`[rows, cols, 1, 1]`, row slabs supported).

use std::time::Instant;

use burn::tensor::Device;
use ndarray::Array4;

use crate::error::{Error, Result};
use crate::model::dense::tensor_to_host;
use crate::ntk::family::NtkModel;
use crate::ntk::options::GramOptions;
use crate::ntk::{Gram, GramStats};
use crate::tokenize::{pad_batch, Encoding};

/// φ of every encoding, `[N, H]` row-major f32, `block` at a time.
///
/// # Errors
/// As [`NtkModel::features`].
pub fn features(
    model: &dyn NtkModel,
    encodings: &[Encoding],
    pad_id: u32,
    block: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<(Vec<f32>, usize)> {
    let mut out = Vec::new();
    let mut width = 0;
    for chunk in encodings.chunks(block.max(1)) {
        let host = tensor_to_host(model.features(&pad_batch(chunk, pad_id)?, device)?)?;
        width = host.shape[1];
        out.extend(host.data);
        progress(chunk.len());
    }
    Ok((out, width))
}

/// Φ₁ Φ₂ᵀ in f64, row-major `[rows, cols]`, of row-major f32 features `[rows, h]` and `[cols, h]`.
pub fn products(left: &[f32], right: &[f32], h: usize) -> Vec<f64> {
    let (rows, cols) = (left.len() / h.max(1), right.len() / h.max(1));
    (0..rows * cols)
        .map(|k| {
            let (a, b) = (&left[k / cols * h..(k / cols + 1) * h], &right[k % cols * h..(k % cols + 1) * h]);
            a.iter().zip(b).map(|(&p, &q)| f64::from(p) * f64::from(q)).sum()
        })
        .collect()
}

/// The last-layer kernel K(X₁, X₂) = Φ₁ Φ₂ᵀ (X₂ = X₁ when `None`), or its row slab
/// `options.rows`; `options.block` examples per forward. The output mode, subset, method and
/// signal path do not apply (K is the feature kernel). Products in f64, so a square K is
/// symmetric and PSD to f64 rounding.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty input or a slab outside X₁; as
/// [`NtkModel::features`].
pub fn last_layer_gram(
    model: &dyn NtkModel,
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
    let slab = options.row_range(x1.len())?;
    let frozen = model.frozen();
    let started = Instant::now();
    let (left, h) = features(frozen.as_ref(), &x1[slab.clone()], pad_id, options.block, device, progress)?;
    let right = match x2 {
        Some(x2) => features(frozen.as_ref(), x2, pad_id, options.block, device, progress)?.0,
        None if slab == (0..x1.len()) => left.clone(),
        None => features(frozen.as_ref(), x1, pad_id, options.block, device, progress)?.0,
    };
    let forward_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (rows, cols) = (left.len() / h.max(1), right.len() / h.max(1));
    let values = products(&left, &right, h);
    let stats = GramStats {
        forward_backward_seconds: forward_seconds,
        contraction_seconds: started.elapsed().as_secs_f64(),
        forward_backward_flops: x1.iter().chain(x2.unwrap_or_default()).map(|e| frozen.forward_flops(1, e.len())).sum(),
        contraction_flops: 2.0 * (rows * cols * h) as f64,
        signal_bytes: 4 * (left.len() + right.len()),
        ..GramStats::default()
    };
    let values = Array4::from_shape_vec((rows, cols, 1, 1), values).expect("rows × cols values");
    Ok(Gram { row_start: slab.start, values, groups: Default::default(), stats })
}
