//! One encoded model input ([`Encoding`]) and a padded batch of them ([`PaddedBatch`]).
//!
//! An encoding is what a BERT/RoBERTa encoder consumes: token ids, token-type (segment) ids and
//! an attention mask, all of the same length. Batches are padded on the right to the longest
//! member with the tokenizer's pad id; padded positions get token-type id 0 and attention mask 0,
//! so a model that honours the mask gives every example the same output it would get alone
//! (the padding invariance the eNTK tests rely on). Arrays are flat and row-major, ready for
//! `TensorData::new(ids, [batch_size, seq_len])`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One encoded input: `[CLS] premise [SEP] hypothesis [SEP]` (or the tokenizer's own template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Encoding {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Segment ids (0 for the premise part, 1 for the hypothesis part in BERT; all 0 in RoBERTa).
    pub token_type_ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding (all 1 for an unpadded encoding).
    pub attention_mask: Vec<u32>,
    /// True when the premise (or single text) was cut to respect the maximum length.
    pub truncated: bool,
}

impl Encoding {
    /// Number of positions (special tokens included).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the encoding holds no token at all.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of positions whose attention mask is 1.
    pub fn real_tokens(&self) -> usize {
        self.attention_mask.iter().filter(|&&m| m != 0).count()
    }
}

/// A right-padded batch, flat and row-major: entry `(i, t)` lives at `i * seq_len + t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddedBatch {
    /// Number of examples (rows).
    pub batch_size: usize,
    /// Length of every row: the longest member's length.
    pub seq_len: usize,
    /// Token ids, `batch_size × seq_len`, pad id on padded positions.
    pub ids: Vec<u32>,
    /// Token-type ids, `batch_size × seq_len`, 0 on padded positions.
    pub token_type_ids: Vec<u32>,
    /// Attention mask, `batch_size × seq_len`, 0 on padded positions.
    pub attention_mask: Vec<u32>,
    /// Unpadded length of each example.
    pub lengths: Vec<usize>,
}

impl PaddedBatch {
    /// The ids of row `i` (padding included).
    ///
    /// # Panics
    /// When `i >= batch_size`.
    pub fn ids_row(&self, i: usize) -> &[u32] {
        &self.ids[i * self.seq_len..(i + 1) * self.seq_len]
    }

    /// The attention mask of row `i`.
    ///
    /// # Panics
    /// When `i >= batch_size`.
    pub fn mask_row(&self, i: usize) -> &[u32] {
        &self.attention_mask[i * self.seq_len..(i + 1) * self.seq_len]
    }
}

/// Pad `encodings` on the right to the longest one with `pad_id` (token-type 0, mask 0).
///
/// # Errors
/// [`Error::InvalidArgument`] (name `batch`) when `encodings` is empty or an encoding's three
/// arrays differ in length.
pub fn pad_batch(encodings: &[Encoding], pad_id: u32) -> Result<PaddedBatch> {
    if encodings.is_empty() {
        return Err(Error::invalid("batch", "cannot pad an empty batch"));
    }
    if let Some(i) =
        encodings.iter().position(|e| e.token_type_ids.len() != e.ids.len() || e.attention_mask.len() != e.ids.len())
    {
        return Err(Error::invalid("batch", format!("encoding {i} has arrays of different lengths")));
    }
    let seq_len = encodings.iter().map(Encoding::len).max().unwrap_or(0);
    let total = encodings.len() * seq_len;
    let mut batch = PaddedBatch {
        batch_size: encodings.len(),
        seq_len,
        ids: Vec::with_capacity(total),
        token_type_ids: Vec::with_capacity(total),
        attention_mask: Vec::with_capacity(total),
        lengths: Vec::with_capacity(encodings.len()),
    };
    for e in encodings {
        let pad = seq_len - e.len();
        batch.ids.extend(e.ids.iter().copied().chain(std::iter::repeat_n(pad_id, pad)));
        batch.token_type_ids.extend(e.token_type_ids.iter().copied().chain(std::iter::repeat_n(0, pad)));
        batch.attention_mask.extend(e.attention_mask.iter().copied().chain(std::iter::repeat_n(0, pad)));
        batch.lengths.push(e.len());
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(ids: &[u32], types: &[u32]) -> Encoding {
        Encoding {
            ids: ids.to_vec(),
            token_type_ids: types.to_vec(),
            attention_mask: vec![1; ids.len()],
            truncated: false,
        }
    }

    #[test]
    fn pads_to_the_longest_with_zero_mask() {
        let a = enc(&[2, 7, 3, 8, 3], &[0, 0, 0, 1, 1]);
        let b = enc(&[2, 9, 3], &[0, 0, 0]);
        let batch = pad_batch(&[a, b], 0).unwrap();
        assert_eq!((batch.batch_size, batch.seq_len), (2, 5));
        assert_eq!(batch.ids_row(1), &[2, 9, 3, 0, 0]);
        assert_eq!(batch.mask_row(1), &[1, 1, 1, 0, 0]);
        assert_eq!(batch.mask_row(0), &[1, 1, 1, 1, 1]);
        assert_eq!(&batch.token_type_ids[..5], &[0, 0, 0, 1, 1]);
        assert_eq!(&batch.token_type_ids[5..], &[0, 0, 0, 0, 0]);
        assert_eq!(batch.lengths, vec![5, 3]);
    }

    #[test]
    fn pad_id_is_honoured_and_empty_batch_refused() {
        let batch = pad_batch(&[enc(&[0, 5], &[0, 0]), enc(&[0], &[0])], 1).unwrap();
        assert_eq!(batch.ids_row(1), &[0, 1]);
        assert!(pad_batch(&[], 0).unwrap_err().to_string().contains("empty batch"));
        let mut bad = enc(&[1, 2], &[0, 0]);
        bad.attention_mask.pop();
        assert!(pad_batch(&[bad], 0).is_err());
    }
}
