//! Batched decoder inference: encodings → readout logits (host f32), in input order, no
//! autodiff. Examples are batched by length and padded on the right; the result does not
//! depend on the batching (the mask and the position ids hide the padding).
//!
//! When every prompt starts with the same tokens (the K demonstrations of in-context learning,
//! a fixed instruction), that prefix runs once and each batch runs only the rest of its prompts
//! against the cached keys and values: the same logits to f32 rounding, and a K-shot evaluation
//! costs about what the queries alone cost.
//!
//! Two forwards, one result (to f32 rounding, tested): on the CPU a Llama-family model with f32
//! weights runs the hand-written forward ([`crate::ntk::fastfb::llama::infer`]: faer's GEMMs on
//! packed real tokens, its weights copied to the host once per call or once per
//! [`PrefixMemo`]); GPT-2, other dtypes and the GPU run burn's ([`DecoderLm::logits`],
//! [`DecoderLm::prefix_cache`]). [`PrefixMemo::burn`], or `NTKGAP_FORWARD=burn` in the
//! environment (for comparisons), pins burn's forward.

use std::sync::{Arc, Mutex, MutexGuard};

use burn::tensor::Device;
use ndarray::{Array1, Array2};

use crate::error::{Error, Result};
use crate::model::decoder::batch::{DecoderBatch, PrefixCache};
use crate::model::decoder::lm::DecoderLm;
use crate::model::dense::tensor_to_host;
use crate::model::infer::{hand_written_on, margin_of};
use crate::ntk::fastfb::llama::infer::{outputs, HostPrefix};
use crate::ntk::fastfb::llama::HostLlama;
use crate::ntk::fastfb::FastModel;
use crate::ntk::NtkModel;
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
    logits_with(model, encodings, pad_id, (batch_size, device), &PrefixMemo::default(), progress)
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

/// What a loop asking the same model one small batch at a time keeps across calls: the host
/// copy of its weights (the hand-written CPU forward's, built on first use) and a prefix cache.
/// [`margins_with`] reuses the cache while every prompt still starts with its tokens, and
/// otherwise narrows it to the tokens the old and new prompts share (rebuilt once), so it
/// settles on the part that never changes. A memo belongs to one model, which must not change
/// while the memo is in use (the oracle's frozen model).
#[derive(Default)]
pub struct PrefixMemo(Mutex<Memo>);

#[derive(Default)]
struct Memo {
    /// Run burn's forward even where the hand-written one applies.
    burn: bool,
    /// The host copy of the weights (None until the hand-written forward first runs).
    host: Option<Arc<HostLlama>>,
    /// The cached prefix.
    prefix: Option<Prefix>,
}

/// A cached prefix, in the form its forward reads.
#[derive(Clone)]
enum Prefix {
    Burn(PrefixCache),
    Host(Arc<HostPrefix>),
}

impl Prefix {
    fn ids(&self) -> &[u32] {
        match self {
            Prefix::Burn(c) => &c.ids,
            Prefix::Host(c) => &c.ids,
        }
    }
}

impl PrefixMemo {
    /// A memo that runs burn's forward on every device (the reference the hand-written CPU
    /// forward is tested against).
    pub fn burn() -> Self {
        Self(Mutex::new(Memo { burn: true, ..Memo::default() }))
    }

    /// The number of tokens currently cached (0: none).
    pub fn len(&self) -> usize {
        self.0.lock().map(|m| m.prefix.as_ref().map_or(0, |c| c.ids().len())).unwrap_or(0)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<MutexGuard<'_, Memo>> {
        self.0.lock().map_err(|_| Error::internal("prefix cache", "lock poisoned"))
    }
}

impl Memo {
    /// The host weights when the hand-written forward runs `model` on `device` (copied on first
    /// use), None for burn's.
    fn host(&mut self, model: &DecoderLm, device: &Device) -> Result<Option<Arc<HostLlama>>> {
        if self.burn || !hand_written_on(device) {
            return Ok(None);
        }
        if self.host.is_none() {
            self.host = match model.fast_model()? {
                Some(FastModel::Llama(host)) => Some(Arc::from(host)),
                _ => return Ok(None),
            };
        }
        Ok(self.host.clone())
    }

    /// The cache for `encodings`: the memo's if they all start with it, else a new one over
    /// their shared prefix (narrowed to what they share with the memo when that is long enough).
    fn prefix(
        &mut self,
        model: &DecoderLm,
        host: Option<&HostLlama>,
        encodings: &[Encoding],
        device: &Device,
    ) -> Result<Option<Prefix>> {
        if encodings.is_empty() {
            return Ok(None);
        }
        if matches!((&self.prefix, host), (Some(Prefix::Burn(_)), Some(_)) | (Some(Prefix::Host(_)), None)) {
            // Cached for the other forward (another device): start over.
            self.prefix = None;
        }
        let shared = shared_prefix(encodings);
        let wanted = match self.prefix.as_ref() {
            Some(m) => {
                let ids = m.ids();
                let common = ids.iter().zip(&encodings[0].ids[..shared]).take_while(|(a, b)| a == b).count();
                if common == ids.len() {
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
        if wanted < MIN_SHARED_PREFIX || (encodings.len() < 2 && self.prefix.is_none()) {
            return Ok(None);
        }
        let ids = &encodings[0].ids[..wanted];
        let cache = match host {
            Some(host) => Prefix::Host(Arc::new(HostPrefix::new(host, ids)?)),
            None => Prefix::Burn(model.prefix_cache(ids, device)?),
        };
        self.prefix = Some(cache.clone());
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
    let table = batched(model, encodings, pad_id, (batch_size, device), memo, Want::Margins, |_| {})?;
    Ok(if table.ncols() == 0 { Array1::zeros(encodings.len()) } else { table.column(0).to_owned() })
}

/// [`logits`], through `memo` (see [`PrefixMemo`]; [`PrefixMemo::burn`] for burn's forward).
///
/// # Errors
/// As [`logits`].
pub fn logits_with(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    (batch_size, device): (usize, &Device),
    memo: &PrefixMemo,
    progress: impl FnMut(usize),
) -> Result<Array2<f32>> {
    batched(model, encodings, pad_id, (batch_size, device), memo, Want::Logits, progress)
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
    batched(model, encodings, pad_id, (batch_size, device), &PrefixMemo::default(), Want::Features, |_| {})
}

/// What a row of [`batched`]'s table holds.
#[derive(Clone, Copy)]
enum Want {
    /// The readout logits.
    Logits,
    /// The margin (one column).
    Margins,
    /// φ.
    Features,
}

/// Forward `encodings` in length-sorted batches, after the shared prefix `memo` provides (see
/// [`PrefixMemo`]; a fresh memo caches the prompts' common prefix for this call only).
fn batched(
    model: &DecoderLm,
    encodings: &[Encoding],
    pad_id: u32,
    (batch_size, device): (usize, &Device),
    memo: &PrefixMemo,
    want: Want,
    mut progress: impl FnMut(usize),
) -> Result<Array2<f32>> {
    if batch_size == 0 {
        return Err(Error::setting("batch", "must be at least 1"));
    }
    let (host, prefix) = {
        let mut memo = memo.lock()?;
        let host = memo.host(model, device)?;
        let prefix = memo.prefix(model, host.as_deref(), encodings, device)?;
        (host, prefix)
    };
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    let mut out: Option<Array2<f32>> = None;
    let mut done = 0;
    for chunk in order.chunks(batch_size) {
        let members: Vec<Encoding> = match &prefix {
            Some(prefix) => chunk.iter().map(|&i| after(&encodings[i], prefix.ids().len())).collect(),
            None => chunk.iter().map(|&i| encodings[i].clone()).collect(),
        };
        let (rows, width) = match &host {
            Some(host) => {
                let past = match &prefix {
                    Some(Prefix::Host(p)) => Some(p.as_ref()),
                    _ => None,
                };
                host_rows(host, &members, pad_id, past, want)?
            }
            None => {
                let padded = pad_batch(&members, pad_id)?;
                let batch = match &prefix {
                    Some(Prefix::Burn(p)) => DecoderBatch::after_prefix(&padded, p, &model.config, device)?,
                    _ => DecoderBatch::new(&padded, &model.config, device)?,
                };
                let table = match want {
                    Want::Logits => model.logits(&batch, None),
                    Want::Margins => {
                        let m = model.score(&batch, None);
                        let n = m.dims()[0];
                        m.reshape([n, 1])
                    }
                    Want::Features => model.features(&batch, None),
                };
                let host = tensor_to_host(table)?;
                let width = host.shape[1];
                (host.data, width)
            }
        };
        let table = out.get_or_insert_with(|| Array2::zeros((encodings.len(), width)));
        for (&i, row) in chunk.iter().zip(rows.chunks(width.max(1))) {
            table.row_mut(i).assign(&ndarray::ArrayView1::from(row));
        }
        done += chunk.len();
        progress(done);
    }
    Ok(out.unwrap_or_else(|| Array2::zeros((0, 0))))
}

/// One batch through the hand-written forward: its rows of `want`, and their width.
fn host_rows(
    host: &HostLlama,
    members: &[Encoding],
    pad_id: u32,
    past: Option<&HostPrefix>,
    want: Want,
) -> Result<(Vec<f32>, usize)> {
    let o = outputs(host, members, pad_id, past)?;
    Ok(match want {
        Want::Logits => (o.logits, host.labels()),
        Want::Margins => (o.logits.chunks(host.labels()).map(margin_of).collect(), 1),
        Want::Features => (o.phi, host.hidden()),
    })
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

/// `e` without its first `p` tokens.
fn after(e: &Encoding, p: usize) -> Encoding {
    Encoding {
        ids: e.ids[p..].to_vec(),
        token_type_ids: e.token_type_ids[p..].to_vec(),
        attention_mask: e.attention_mask[p..].to_vec(),
        truncated: e.truncated,
    }
}
