//! Per-example backprop signals of one block of examples (DESIGN.md "The fast eNTK").
//!
//! One forward with a [`ProbeSet`] and one backward of L = Σᵢ f(xᵢ) give, for every probed
//! layer, the recorded input (activation a or normalised x̂, or ids) and the output gradient
//! gᵢ,ₜ = ∂f(xᵢ)/∂yᵢ,ₜ. Only real (unpadded) tokens are kept, as f64 rows grouped by example,
//! so padding contributes nothing by construction.

use burn::tensor::{Device, Int, Tensor};

use crate::error::{Error, Result};
use crate::model::dense::tensor_to_host;
use crate::model::{Batch, Classifier, LayerKind, ProbeInput, ProbeSet};
use crate::tokenize::{pad_batch, Encoding};

/// What a layer received, real tokens only.
#[derive(Debug, Clone)]
pub enum SignalInput {
    /// Activation rows `[R, d_in]`.
    Activation(Vec<f64>),
    /// Row ids `[R]` (token, position or token-type ids).
    Ids(Vec<i64>),
}

/// The signals of one probed layer for a block of n examples.
#[derive(Debug, Clone)]
pub struct LayerSignals {
    /// The layer's Hugging Face name prefix.
    pub name: String,
    /// Linear, LayerNorm or Embedding.
    pub kind: LayerKind,
    /// Rows (kept tokens) per example.
    pub rows: Vec<usize>,
    /// Input width (0 for embeddings).
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// The recorded input.
    pub input: SignalInput,
    /// Output gradients `[R, d_out]`.
    pub grad: Vec<f64>,
}

/// Run `encodings` through `model` (on an autodiff `device`) as one padded block and collect
/// every layer's signals, in forward order.
///
/// # Errors
/// [`Error::InvalidArgument`] for encodings that do not fit the model; [`Error::Numerical`]
/// when a tensor cannot be read back or a probe received no gradient (not an autodiff device).
pub fn block_signals(model: &Classifier, encodings: &[Encoding], pad_id: u32, device: &Device) -> Result<Vec<LayerSignals>> {
    let padded = pad_batch(encodings, pad_id)?;
    let batch = Batch::new(&padded, &model.config, device)?;
    let mut probes = ProbeSet::new();
    let grads = model.score(&batch, Some(&mut probes)).sum().backward();
    let mask = &padded.attention_mask;
    probes
        .probes()
        .iter()
        .map(|probe| {
            let g = probe.output_probe.grad(&grads).ok_or_else(|| Error::Numerical {
                context: "eNTK probes".into(),
                reason: format!("{} received no gradient (the model must be on an autodiff device)", probe.name),
            })?;
            let g = tensor_to_host(g)?;
            let (t, d_out) = (g.shape[1], g.shape[2]);
            let keep = kept_positions(mask, padded.batch_size, padded.seq_len, t);
            let rows: Vec<usize> = keep.iter().map(Vec::len).collect();
            let grad = gather(&g.data, &keep, t, d_out);
            let (input, d_in) = match &probe.input {
                ProbeInput::Activation(a) => {
                    let a = tensor_to_host(a.clone())?;
                    let d_in = a.shape[2];
                    (SignalInput::Activation(gather(&a.data, &keep, t, d_in)), d_in)
                }
                ProbeInput::TokenIds(ids) => (SignalInput::Ids(gather_ids(ids.clone(), &keep, t)?), 0),
            };
            Ok(LayerSignals { name: probe.name.clone(), kind: probe.kind, rows, d_in, d_out, input, grad })
        })
        .collect()
}

/// Per example, the positions (< `t`) whose attention mask is 1; a layer applied to the first
/// token only (`t = 1`) keeps position 0.
fn kept_positions(mask: &[u32], n: usize, seq_len: usize, t: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| (0..t).filter(|&p| t < seq_len || mask[i * seq_len + p] != 0).collect())
        .collect()
}

fn gather(values: &[f32], keep: &[Vec<usize>], t: usize, d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(keep.iter().map(Vec::len).sum::<usize>() * d);
    for (i, positions) in keep.iter().enumerate() {
        for &p in positions {
            let at = (i * t + p) * d;
            out.extend(values[at..at + d].iter().map(|&v| f64::from(v)));
        }
    }
    out
}

fn gather_ids(ids: Tensor<2, Int>, keep: &[Vec<usize>], t: usize) -> Result<Vec<i64>> {
    let ids: Vec<i64> = ids
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| Error::Numerical { context: "reading ids back".into(), reason: format!("{e:?}") })?;
    Ok(keep.iter().enumerate().flat_map(|(i, ps)| ps.iter().map(move |&p| (i, p))).map(|(i, p)| ids[i * t + p]).collect())
}
