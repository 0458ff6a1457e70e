//! Batched decoder inference: encodings → readout logits (host f32), in input order, no
//! autodiff. Examples are batched by length and padded on the right; the result does not
//! depend on the batching (the mask and the position ids hide the padding).
//!
//! When every prompt starts with the same tokens (the K demonstrations of in-context learning,
//! a fixed instruction), that prefix runs once ([`DecoderLm::prefix_cache`]) and each batch
//! runs only the rest of its prompts against the cached keys and values: the same logits to f32
//! rounding, and a K-shot evaluation costs about what the queries alone cost.

use burn::tensor::{Device, Tensor};
use ndarray::{Array1, Array2};

use crate::error::{Error, Result};
use crate::model::decoder::batch::{DecoderBatch, PrefixCache};
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
    batched(model, encodings, pad_id, (batch_size, device), &PrefixMemo::default(), |b| model.logits(b, None), progress)
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
    margins_with(model, encodings, pad_id, (batch_size, device), &PrefixMemo::default())
}

/// A prefix cache kept across calls (a loop asking the model one small batch at a time behind
/// the same demonstrations): [`margins_with`] reuses it while every prompt still starts with its
/// tokens, and otherwise narrows it to the tokens the old and new prompts share (rebuilt once),
/// so it settles on the part that never changes.
#[derive(Default)]
pub struct PrefixMemo(std::sync::Mutex<Option<PrefixCache>>);

impl PrefixMemo {
    /// The number of tokens currently cached (0: none).
    pub fn len(&self) -> usize {
        self.0.lock().map(|m| m.as_ref().map_or(0, |c| c.ids.len())).unwrap_or(0)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache for `encodings`: the memo if they all start with it, else a new one over their
    /// shared prefix (narrowed to what they share with the memo when that is long enough).
    fn for_batch(&self, model: &DecoderLm, encodings: &[Encoding], device: &Device) -> Result<Option<PrefixCache>> {
        if encodings.is_empty() {
            return Ok(None);
        }
        let shared = shared_prefix(encodings);
        let mut memo = self.0.lock().map_err(|_| Error::internal("prefix cache", "lock poisoned"))?;
        let wanted = match memo.as_ref() {
            Some(m) => {
                let common = m.ids.iter().zip(&encodings[0].ids[..shared]).take_while(|(a, b)| a == b).count();
                if common == m.ids.len() {
                    return Ok(Some(m.clone()));
                }
                if common >= MIN_SHARED_PREFIX {
                    common
                } else {
                    shared
                }
            }
            None => shared,
        };
        if wanted < MIN_SHARED_PREFIX || (encodings.len() < 2 && memo.is_none()) {
            return Ok(None);
        }
        let cache = model.prefix_cache(&encodings[0].ids[..wanted], device)?;
        *memo = Some(cache.clone());
        Ok(Some(cache))
    }
}

/// [`margins`], reusing and updating `memo` (see [`PrefixMemo`]).
///
/// # Errors
/// As [`logits`].
pub fn margins_with(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    (batch_size, device): (usize, &Device),
    memo: &PrefixMemo,
) -> Result<Array1<f32>> {
    let column = |b: &DecoderBatch| {
        let m = model.score(b, None);
        let n = m.dims()[0];
        m.reshape([n, 1])
    };
    let table = batched(model, encodings, pad_id, (batch_size, device), memo, column, |_| {})?;
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
    batched(model, encodings, pad_id, (batch_size, device), &PrefixMemo::default(), |b| model.features(b, None), |_| {})
}

/// Forward `encodings` in length-sorted batches, after the shared prefix `memo` provides (see
/// [`PrefixMemo`]; a fresh memo caches the prompts' common prefix for this call only).
fn batched(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    (batch_size, device): (usize, &Device),
    memo: &PrefixMemo,
    forward: impl Fn(&DecoderBatch) -> Tensor<2>,
    mut progress: impl FnMut(usize),
) -> Result<Array2<f32>> {
    if batch_size == 0 {
        return Err(Error::setting("batch", "must be at least 1"));
    }
    let prefix = memo.for_batch(model, encodings, device)?;
    let prefix = prefix.as_ref();
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut out: Option<Array2<f32>> = None;
    let mut done = 0;
    for chunk in order.chunks(batch_size) {
        let batch = match prefix {
            Some(prefix) => {
                let rest: Vec<Encoding> = chunk.iter().map(|&i| after(&encodings[i], prefix)).collect();
                DecoderBatch::after_prefix(&pad_batch(&rest, pad_id)?, prefix, &model.config, device)?
            }
            None => {
                let members: Vec<Encoding> = chunk.iter().map(|&i| encodings[i].clone()).collect();
                DecoderBatch::new(&pad_batch(&members, pad_id)?, &model.config, device)?
            }
        };
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

/// Prompts sharing fewer leading tokens than this run whole (the cache would save little).
pub const MIN_SHARED_PREFIX: usize = 16;

/// The number of leading tokens every encoding shares (all real), leaving each at least one
/// token of its own (the readout position must be computed per row).
pub fn shared_prefix(encodings: &[Encoding]) -> usize {
    let Some(first) = encodings.first() else { return 0 };
    let real = |e: &Encoding| e.attention_mask.iter().take_while(|&&m| m != 0).count();
    let mut len = real(first);
    for e in &encodings[1..] {
        let same = first.ids.iter().zip(&e.ids).take(len.min(real(e))).take_while(|(a, b)| a == b).count();
        len = len.min(same);
    }
    let shortest = encodings.iter().map(Encoding::len).min().unwrap_or(0);
    len.min(shortest.saturating_sub(1))
}

fn after(e: &Encoding, prefix: &PrefixCache) -> Encoding {
    let p = prefix.ids.len();
    Encoding {
        ids: e.ids[p..].to_vec(),
        token_type_ids: e.token_type_ids[p..].to_vec(),
        attention_mask: e.attention_mask[p..].to_vec(),
        truncated: e.truncated,
    }
}
