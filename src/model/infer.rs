//! Batched inference: encodings → logits (host f32), in input order, no autodiff. Examples
//! are batched by length (padding is invisible to the model, so only speed changes).
//!
//! On the CPU a classifier with f32 weights runs the hand-written forward
//! ([`crate::ntk::fastfb::forward::logits`]: faer's GEMMs on packed real tokens, the weights
//! copied to the host once per call); other dtypes, the GPU, a batch whose encodings start with
//! padding, and `NTKGAP_FORWARD=burn` in the environment run burn's ([`Classifier::logits`]).
//! Both give the same logits to f32 rounding (tested).

use burn::tensor::Device;
use ndarray::{Array1, Array2};

use crate::error::Result;
use crate::model::batch::Batch;
use crate::model::classifier::Classifier;
use crate::model::dense::tensor_to_host;
use crate::ntk::fastfb::forward::{self as fast, fits, Packed};
use crate::ntk::fastfb::weights::HostModel;
use crate::ntk::fastfb::FastModel;
use crate::ntk::NtkModel;
use crate::tokenize::{pad_batch, Encoding};

/// Logits `[N, num_labels]` of `encodings`, `batch_size` at a time, padded with `pad_id`;
/// `progress` is called with the number of examples done after each batch.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] when an encoding does not fit the model (too long, id
/// outside the vocabulary) or `batch_size` is 0.
pub fn logits(
    model: &Classifier,
    encodings: &[Encoding],
    pad_id: u32,
    batch_size: usize,
    device: &Device,
    progress: impl FnMut(usize),
) -> Result<Array2<f32>> {
    let width = model.config.num_labels();
    let rows = batched(model, encodings, pad_id, (batch_size, device), false, progress)?;
    let n = rows.len();
    Ok(Array2::from_shape_vec((n, width), rows.concat()).expect("every row has num_labels values"))
}

/// Margins `[N]` of `encodings` through [`Classifier::score`] (the one scalar path).
///
/// # Errors
/// As [`logits`].
pub fn margins(
    model: &Classifier,
    encodings: &[Encoding],
    pad_id: u32,
    batch_size: usize,
    device: &Device,
) -> Result<Array1<f32>> {
    let rows = batched(model, encodings, pad_id, (batch_size, device), true, |_| {})?;
    Ok(rows.into_iter().map(|r| r[0]).collect())
}

/// True when inference on `device` may run a hand-written forward: the CPU (flex), unless the
/// environment sets `NTKGAP_FORWARD=burn`. Which models have one is [`NtkModel::fast_model`]'s
/// answer, as for the eNTK's signals.
pub(crate) fn hand_written_on(device: &Device) -> bool {
    device.clone().inner() == Device::flex() && !std::env::var("NTKGAP_FORWARD").is_ok_and(|v| v == "burn")
}

/// The host copy of `model` when the hand-written forward runs it on `device`.
fn host_model(model: &Classifier, device: &Device) -> Result<Option<HostModel>> {
    if !hand_written_on(device) {
        return Ok(None);
    }
    Ok(match model.fast_model()? {
        Some(FastModel::Encoder(host)) => Some(*host),
        _ => None,
    })
}

/// Run length-sorted batches; rows (the logits, or the margin when `margin`) come back in
/// input order.
fn batched(
    model: &Classifier,
    encodings: &[Encoding],
    pad_id: u32,
    (batch_size, device): (usize, &Device),
    margin: bool,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Vec<f32>>> {
    if batch_size == 0 {
        return Err(crate::Error::setting("batch", "must be at least 1"));
    }
    let host = if encodings.is_empty() { None } else { host_model(model, device)? };
    let width = model.config.num_labels();
    // Batch examples of similar length together (less padding); results go back in input order.
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut out = vec![Vec::new(); encodings.len()];
    let mut done = 0;
    for chunk in order.chunks(batch_size) {
        let members: Vec<Encoding> = chunk.iter().map(|&i| encodings[i].clone()).collect();
        let logits = match &host {
            Some(host) if fits(&members) => fast::logits(host, &Packed::new(&members, pad_id, host)?)?,
            _ => {
                let batch = Batch::new(&pad_batch(&members, pad_id)?, &model.config, device)?;
                tensor_to_host(model.logits(&batch, None))?.data
            }
        };
        for (&i, row) in chunk.iter().zip(logits.chunks(width)) {
            out[i] = if margin { vec![margin_of(row)] } else { row.to_vec() };
        }
        done += chunk.len();
        progress(done);
    }
    Ok(out)
}

/// The margin of one row of logits, computed on the host as [`crate::model::margin`] does on
/// tensors (logit₁ − logit₀ for two labels); a reference twin for tests and reports.
pub fn margin_of(logits: &[f32]) -> f32 {
    match logits.len() {
        0 => 0.0,
        1 => logits[0],
        2 => logits[1] - logits[0],
        _ => {
            let others: Vec<f32> = logits.iter().enumerate().filter(|(k, _)| *k != 1).map(|(_, v)| *v).collect();
            let max = others.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            logits[1] - (max + others.iter().map(|v| (v - max).exp()).sum::<f32>().ln())
        }
    }
}
