//! Labelled, encoded examples and their seeded batching.

use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::tokenize::stream::{encode_all, EncodeSummary, EncodedRecord};
use crate::tokenize::Tokenizer;

/// Encoded records with their binary labels (1 = entailment).
#[derive(Debug, Clone)]
pub struct Examples {
    /// The records and their encodings, in file order.
    pub records: Vec<EncodedRecord>,
    /// Binary label of each record.
    pub labels: Vec<u8>,
    /// Tokenization counts (truncation).
    pub summary: EncodeSummary,
}

impl Examples {
    /// Read and encode `path`; when `need_labels`, every record must carry a label.
    ///
    /// # Errors
    /// As [`encode_all`]; [`Error::Jsonl`] naming the first record without a label.
    pub fn load(path: &Path, tokenizer: &dyn Tokenizer, need_labels: bool) -> Result<Self> {
        let (records, summary) = encode_all(path, tokenizer)?;
        let mut labels = Vec::with_capacity(records.len());
        for r in &records {
            match r.record.binary_label() {
                Some(l) => labels.push(l),
                None if need_labels => {
                    return Err(Error::Jsonl { path: path.into(), line: r.line, reason: "record has no label".into() })
                }
                None => labels.push(0),
            }
        }
        Ok(Self { records, labels, summary })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there is no example.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The encodings, in order.
    pub fn encodings(&self) -> Vec<crate::tokenize::Encoding> {
        self.records.iter().map(|r| r.encoding.clone()).collect()
    }
}

/// Examples per length bucket, in batches: batches are cut from runs of this many batches'
/// worth of shuffled examples sorted by length, so padding stays small.
pub const BUCKET_BATCHES: usize = 50;

/// Batches of indices into `lengths` for one epoch, seeded by (seed, epoch): shuffle all
/// indices, sort each run of `batch_size · BUCKET_BATCHES` by length (less padding), cut into
/// batches of `batch_size` (the last of a run may be shorter), and shuffle the batches. Every
/// index appears exactly once; same seed and epoch → same batches.
pub fn shuffled_batches(lengths: &[usize], batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(seed, &[epoch as u64]));
    order.shuffle(&mut rng);
    let mut batches = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for run in order.chunks_mut(batch_size * BUCKET_BATCHES) {
        run.sort_by_key(|&i| lengths[i]);
        batches.extend(run.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_everything_once_and_are_seeded() {
        let lengths: Vec<usize> = (0..400).map(|i| (i * 37) % 101).collect();
        let b = shuffled_batches(&lengths, 3, 1, 0);
        assert_eq!(b.len(), 134);
        let mut all: Vec<usize> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..400).collect::<Vec<_>>());
        assert_eq!(b, shuffled_batches(&lengths, 3, 1, 0));
        assert_ne!(b, shuffled_batches(&lengths, 3, 1, 1));
        // Bucketing: batches span a small length range.
        let spread: usize = b
            .iter()
            .map(|x| x.iter().map(|&i| lengths[i]).max().unwrap() - x.iter().map(|&i| lengths[i]).min().unwrap())
            .sum();
        assert!(spread < 134 * 10, "mean spread {}", spread / 134);
    }
}
