//! Batched inference: encodings → logits (host f32), in input order, no autodiff. Examples
//! are batched by length (padding is invisible to the model, so only speed changes).

use burn::tensor::Device;
use ndarray::{Array1, Array2};

use crate::error::Result;
use crate::model::batch::Batch;
use crate::model::classifier::Classifier;
use crate::model::dense::tensor_to_host;
use crate::model::weights::HostTensor;
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
    let rows = batched(
        model,
        encodings,
        pad_id,
        batch_size,
        device,
        width,
        |b| tensor_to_host(model.logits(b, None)),
        progress,
    )?;
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
    let rows =
        batched(model, encodings, pad_id, batch_size, device, 1, |b| tensor_to_host(model.score(b, None)), |_| {})?;
    Ok(rows.into_iter().map(|r| r[0]).collect())
}

/// Run `forward` on length-sorted batches; rows of `width` values come back in input order.
#[allow(clippy::too_many_arguments)]
fn batched(
    model: &Classifier,
    encodings: &[Encoding],
    pad_id: u32,
    batch_size: usize,
    device: &Device,
    width: usize,
    forward: impl Fn(&Batch) -> Result<HostTensor>,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Vec<f32>>> {
    if batch_size == 0 {
        return Err(crate::Error::setting("batch", "must be at least 1"));
    }
    // Batch examples of similar length together (less padding); results go back in input order.
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut out = vec![Vec::new(); encodings.len()];
    let mut done = 0;
    for chunk in order.chunks(batch_size) {
        let members: Vec<Encoding> = chunk.iter().map(|&i| encodings[i].clone()).collect();
        let batch = Batch::new(&pad_batch(&members, pad_id)?, &model.config, device)?;
        let host = forward(&batch)?;
        for (&i, row) in chunk.iter().zip(host.data.chunks(width)) {
            out[i] = row.to_vec();
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
