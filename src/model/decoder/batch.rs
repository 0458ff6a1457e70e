//! A decoder batch: token ids, position ids, the causal + padding attention mask, the RoPE
//! tables and a selector of each row's last real token — built from a [`PaddedBatch`] padded on
//! either side, after host-side validation (burn panics on bad indices).
//!
//! Position ids are `cumsum(mask) − 1` on real tokens (0 on padding), what transformers'
//! `generate()` passes: a row's real tokens get 0..len−1 whichever side it is padded on, so a
//! left-padded row gives the logits it gives alone, for learned positions (GPT-2) too. Right
//! padding gives the default `arange(T)` on real tokens.
//!
//! A batch may continue a shared prompt prefix whose keys and values were computed once
//! ([`PrefixCache`], [`DecoderBatch::after_prefix`]): its positions then start at the prefix
//! length P, every query sees all P prefix keys, and the mask is `[N, 1, T, P + T]`.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::batch::MASKED_SCORE;
use crate::model::decoder::config::DecoderConfig;
use crate::model::decoder::rope::RopeTables;
use crate::tokenize::{Encoding, PaddedBatch};

/// Model inputs for N examples of T positions.
#[derive(Debug, Clone)]
pub struct DecoderBatch {
    /// Token ids `[N, T]`.
    pub input_ids: Tensor<2, Int>,
    /// Position ids `[N, T]` (see the module docs).
    pub position_ids: Tensor<2, Int>,
    /// Additive attention mask `[N, 1, T, T]`: 0 where query t may see key s (s ≤ t and s
    /// real), [`MASKED_SCORE`] elsewhere.
    pub mask_bias: Tensor<4>,
    /// cos/sin tables of the RoPE families (None for GPT-2).
    pub rope: Option<RopeTables>,
    /// One-hot rows `[N, 1, T]` selecting each row's last real token.
    pub last_selector: Tensor<3>,
    /// Index of each row's last real token.
    pub last_index: Vec<usize>,
    /// Number of examples N.
    pub batch_size: usize,
    /// Number of positions T (after the prefix, when there is one).
    pub seq_len: usize,
    /// The shared prefix these rows continue (None: the rows start at position 0).
    pub prefix: Option<PrefixCache>,
}

/// Per block, the keys and values of a prompt prefix, `[1, kv_heads, P, d]` each (keys after
/// RoPE, before grouped-query repetition): computed once by
/// [`crate::model::decoder::DecoderLm::prefix_cache`] and attended to by every row of a batch built with
/// [`DecoderBatch::after_prefix`].
#[derive(Debug, Clone)]
pub struct PrefixCache {
    /// The prefix's token ids.
    pub ids: Vec<u32>,
    /// Keys and values per block, in block order.
    pub layers: Vec<LayerKv>,
}

/// One attention layer's keys and values `[N, kv_heads, T, d]`.
#[derive(Debug, Clone)]
pub struct LayerKv {
    /// Keys (rotated, for the RoPE families).
    pub k: Tensor<4>,
    /// Values.
    pub v: Tensor<4>,
}

impl LayerKv {
    /// `[past ‖ self]` along positions, the past's one row repeated for each of this batch's rows
    /// (`self` itself without a past).
    pub fn after(&self, past: Option<&LayerKv>) -> LayerKv {
        let Some(past) = past else { return self.clone() };
        let n = self.k.dims()[0];
        let widen = |p: &Tensor<4>| if n == 1 { p.clone() } else { p.clone().repeat_dim(0, n) };
        LayerKv {
            k: Tensor::cat(vec![widen(&past.k), self.k.clone()], 2),
            v: Tensor::cat(vec![widen(&past.v), self.v.clone()], 2),
        }
    }
}

impl DecoderBatch {
    /// Validate `padded` against `config` and move it to `device`. Padding may sit on either
    /// side of a row (the attention mask says which positions are real).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `input`) when the batch is empty, longer than the
    /// model's maximum input length, holds a row without a real token or an id outside the
    /// vocabulary.
    pub fn new(padded: &PaddedBatch, config: &DecoderConfig, device: &Device) -> Result<Self> {
        Self::build(padded, None, config, device)
    }

    /// Rows that continue `prefix`: position ids start at its length P, and each query sees
    /// the P prefix positions and its own row's earlier real tokens. `padded` must be padded on
    /// the right (a left pad would sit between the prefix and the row).
    ///
    /// # Errors
    /// As [`Self::new`], the length counted as P + T; [`Error::InvalidArgument`] for a row
    /// padded on the left.
    pub fn after_prefix(
        padded: &PaddedBatch,
        prefix: &PrefixCache,
        config: &DecoderConfig,
        device: &Device,
    ) -> Result<Self> {
        if (0..padded.batch_size).any(|i| padded.mask_row(i).first() == Some(&0)) {
            return Err(Error::invalid("input", "rows after a shared prefix must be padded on the right"));
        }
        Self::build(padded, Some(prefix), config, device)
    }

    fn build(
        padded: &PaddedBatch,
        prefix: Option<&PrefixCache>,
        config: &DecoderConfig,
        device: &Device,
    ) -> Result<Self> {
        let (n, t) = (padded.batch_size, padded.seq_len);
        let past = prefix.map_or(0, |p| p.ids.len());
        check(padded, past, config)?;
        let offset = u32::try_from(past).map_err(|_| Error::invalid("input", "prefix too long"))?;
        let positions: Vec<u32> = position_ids(padded).into_iter().map(|p| p + offset).collect();
        let last_index: Vec<usize> =
            (0..n).map(|i| padded.mask_row(i).iter().rposition(|&m| m != 0).unwrap_or_default()).collect();
        let int = |v: &[u32]| -> Tensor<2, Int> {
            let data: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
            Tensor::from_data(TensorData::new(data, [n, t]), device)
        };
        let mut selector = vec![0.0f32; n * t];
        for (i, &last) in last_index.iter().enumerate() {
            selector[i * t + last] = 1.0;
        }
        let rope = match (config.rope_theta, config.family.uses_rope()) {
            (Some(theta), true) => Some(RopeTables::new(&positions, (n, t), config.head_dim, theta, device)),
            _ => None,
        };
        Ok(Self {
            input_ids: int(&padded.ids),
            position_ids: int(&positions),
            mask_bias: Tensor::from_data(TensorData::new(mask_bias(padded, past), [n, 1, t, past + t]), device),
            rope,
            last_selector: Tensor::from_data(TensorData::new(selector, [n, 1, t]), device),
            last_index,
            batch_size: n,
            seq_len: t,
            prefix: prefix.cloned(),
        })
    }
}

/// Pad `encodings` on the left to the longest one with `pad_id` (mask 0), the layout of
/// batched generation; [`crate::tokenize::pad_batch`] pads on the right. Both give the same
/// logits (see the module docs).
///
/// # Errors
/// As [`crate::tokenize::pad_batch`].
pub fn pad_batch_left(encodings: &[Encoding], pad_id: u32) -> Result<PaddedBatch> {
    let mut batch = crate::tokenize::pad_batch(encodings, pad_id)?;
    let t = batch.seq_len;
    for (i, e) in encodings.iter().enumerate() {
        let shift = t - e.len();
        let row = i * t..(i + 1) * t;
        batch.ids[row.clone()].rotate_right(shift);
        batch.token_type_ids[row.clone()].rotate_right(shift);
        batch.attention_mask[row].rotate_right(shift);
    }
    Ok(batch)
}

/// Validate a batch of `padded` rows after `past` prefix positions (see [`DecoderBatch::new`]).
///
/// # Errors
/// As [`DecoderBatch::new`].
pub(crate) fn check(padded: &PaddedBatch, past: usize, config: &DecoderConfig) -> Result<()> {
    let (n, t) = (padded.batch_size, padded.seq_len);
    if n == 0 || t == 0 {
        return Err(Error::invalid("input", "empty batch"));
    }
    if padded.ids.len() != n * t || padded.attention_mask.len() != n * t {
        return Err(Error::invalid("input", format!("a batch of {n} × {t} needs {} ids and mask values", n * t)));
    }
    if past + t > config.max_input_length() {
        return Err(Error::invalid(
            "input",
            format!("{} tokens exceed the model's maximum input length {}", past + t, config.max_input_length()),
        ));
    }
    if let Some(&id) = padded.ids.iter().find(|&&id| id as usize >= config.vocab_size) {
        return Err(Error::invalid(
            "input",
            format!(
                "token id {id} is outside the model vocabulary of {} (tokenizer/model mismatch?)",
                config.vocab_size
            ),
        ));
    }
    if let Some(i) = (0..n).find(|&i| padded.mask_row(i).iter().all(|&m| m == 0)) {
        return Err(Error::invalid("input", format!("row {i} of the batch has no real token")));
    }
    Ok(())
}

/// `cumsum(mask) − 1` on real tokens, 0 on padding (row-major `[N·T]`).
pub(crate) fn position_ids(padded: &PaddedBatch) -> Vec<u32> {
    let mut out = Vec::with_capacity(padded.attention_mask.len());
    for row in padded.attention_mask.chunks(padded.seq_len) {
        let mut count = 0u32;
        for &m in row {
            if m != 0 {
                out.push(count);
                count += 1;
            } else {
                out.push(0);
            }
        }
    }
    out
}

/// The causal + key-padding mask `[N·T·(P + T)]` after a prefix of `past` positions, which
/// every query sees.
fn mask_bias(padded: &PaddedBatch, past: usize) -> Vec<f32> {
    let t = padded.seq_len;
    let mut out = Vec::with_capacity(padded.batch_size * t * (past + t));
    for row in padded.attention_mask.chunks(t) {
        for query in 0..t {
            out.extend(std::iter::repeat_n(0.0, past));
            out.extend(row.iter().enumerate().map(|(key, &m)| if key <= query && m != 0 { 0.0 } else { MASKED_SCORE }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(ids: &[u32]) -> Encoding {
        Encoding {
            ids: ids.to_vec(),
            token_type_ids: vec![0; ids.len()],
            attention_mask: vec![1; ids.len()],
            truncated: false,
        }
    }

    #[test]
    fn left_padding_positions_and_mask() {
        let b = pad_batch_left(&[enc(&[5, 6, 7]), enc(&[8])], 0).unwrap();
        assert_eq!(b.ids, vec![5, 6, 7, 0, 0, 8]);
        assert_eq!(b.attention_mask, vec![1, 1, 1, 0, 0, 1]);
        assert_eq!(position_ids(&b), vec![0, 1, 2, 0, 0, 0]);
        let mask = mask_bias(&b, 0);
        // Row 1, query 2 sees only key 2.
        assert_eq!(&mask[9 + 6..9 + 9], &[MASKED_SCORE, MASKED_SCORE, 0.0]);
        // Row 0, query 1 sees keys 0 and 1.
        assert_eq!(&mask[3..6], &[0.0, 0.0, MASKED_SCORE]);
    }

    #[test]
    fn right_padding_counts_from_zero() {
        let b = crate::tokenize::pad_batch(&[enc(&[5, 6, 7]), enc(&[8])], 0).unwrap();
        assert_eq!(position_ids(&b), vec![0, 1, 2, 0, 0, 0]);
    }
}
