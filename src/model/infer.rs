//! Batched inference: encodings → logits (host f32), in input order, no autodiff. Examples
//! are batched by length (padding is invisible to the model, so only speed changes).

use burn::tensor::Device;

use crate::error::Result;
use crate::model::batch::Batch;
use crate::model::classifier::Classifier;
use crate::model::dense::tensor_to_host;
use crate::tokenize::{pad_batch, Encoding};

/// Logits `[N][num_labels]` of `encodings`, `batch_size` at a time, padded with `pad_id`;
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
    mut progress: impl FnMut(usize),
) -> Result<Vec<Vec<f32>>> {
    if batch_size == 0 {
        return Err(crate::Error::invalid("--batch", "must be at least 1"));
    }
    let labels = model.config.num_labels();
    // Batch examples of similar length together (less padding); results go back in input order.
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut out = vec![Vec::new(); encodings.len()];
    let mut done = 0;
    for chunk in order.chunks(batch_size) {
        let members: Vec<Encoding> = chunk.iter().map(|&i| encodings[i].clone()).collect();
        let padded = pad_batch(&members, pad_id)?;
        let batch = Batch::new(&padded, &model.config, device)?;
        let host = tensor_to_host(model.logits(&batch, None))?;
        for (&i, row) in chunk.iter().zip(host.data.chunks(labels)) {
            out[i] = row.to_vec();
        }
        done += chunk.len();
        progress(done);
    }
    Ok(out)
}

/// The margin of one row of logits, computed on the host exactly as
/// [`crate::model::margin`] does on tensors (logit₁ − logit₀ for two labels).
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
