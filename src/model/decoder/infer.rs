//! Batched decoder inference: encodings → readout logits (host f32), in input order, no
//! autodiff. Examples are batched by length and padded on the right; the result does not
//! depend on the batching (the mask and the position ids hide the padding).

use burn::tensor::{Device, Tensor};
use ndarray::{Array1, Array2};

use crate::error::{Error, Result};
use crate::model::decoder::batch::DecoderBatch;
use crate::model::decoder::lm::DecoderLm;
use crate::model::dense::tensor_to_host;
use crate::tokenize::{pad_batch, Encoding};

/// The readout logits ([`DecoderLm::logits`]) of `encodings`, `batch_size` at a time;
/// `progress` is called with the number of examples done after each batch.
///
/// # Errors
/// [`Error::InvalidArgument`] when an encoding does not fit the model (too long, id outside the
/// vocabulary); [`Error::InvalidSetting`] (`batch`) when `batch_size` is 0.
pub fn logits(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    batch_size: usize,
    device: &Device,
    progress: impl FnMut(usize),
) -> Result<Array2<f32>> {
    batched(model, encodings, pad_id, (batch_size, device), |b| model.logits(b, None), progress)
}

/// The margins ([`DecoderLm::score`]: z_yes − z_no for label words) of `encodings`, `[N]`.
///
/// # Errors
/// As [`logits`].
pub fn margins(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    batch_size: usize,
    device: &Device,
) -> Result<Array1<f32>> {
    let column = |b: &DecoderBatch| {
        let m = model.score(b, None);
        let n = m.dims()[0];
        m.reshape([n, 1])
    };
    let table = batched(model, encodings, pad_id, (batch_size, device), column, |_| {})?;
    Ok(if table.ncols() == 0 { Array1::zeros(encodings.len()) } else { table.column(0).to_owned() })
}

/// φ(x) ([`DecoderLm::features`]) of `encodings`, `[N, H]`.
///
/// # Errors
/// As [`logits`].
pub fn features(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    batch_size: usize,
    device: &Device,
) -> Result<Array2<f32>> {
    batched(model, encodings, pad_id, (batch_size, device), |b| model.features(b, None), |_| {})
}

fn batched(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    (batch_size, device): (usize, &Device),
    forward: impl Fn(&DecoderBatch) -> Tensor<2>,
    mut progress: impl FnMut(usize),
) -> Result<Array2<f32>> {
    if batch_size == 0 {
        return Err(Error::setting("batch", "must be at least 1"));
    }
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut out: Option<Array2<f32>> = None;
    let mut done = 0;
    for chunk in order.chunks(batch_size) {
        let members: Vec<Encoding> = chunk.iter().map(|&i| encodings[i].clone()).collect();
        let batch = DecoderBatch::new(&pad_batch(&members, pad_id)?, &model.config, device)?;
        let host = tensor_to_host(forward(&batch))?;
        let width = host.shape[1];
        let table = out.get_or_insert_with(|| Array2::zeros((encodings.len(), width)));
        for (&i, row) in chunk.iter().zip(host.data.chunks(width)) {
            table.row_mut(i).assign(&ndarray::ArrayView1::from(row));
        }
        done += chunk.len();
        progress(done);
    }
    Ok(out.unwrap_or_else(|| Array2::zeros((0, 0))))
}
