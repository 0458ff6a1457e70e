//! The labelled training inputs of a kernel predictor ([`TrainSet`]): targets ±1 (entailment
//! +1), read from a JSONL file as a seeded sample or built from records in memory (the sweep).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::tokenize::stream::{encode_all, EncodedRecord};
use crate::tokenize::Encoding;

/// Labelled training inputs of a kernel predictor, targets ±1 (entailment +1).
#[derive(Debug, Clone, Default)]
pub struct TrainSet {
    /// Encoded inputs.
    pub encodings: Vec<Encoding>,
    /// ±1 targets.
    pub targets: Vec<f64>,
}

impl TrainSet {
    /// The training set of labelled `records` read from `source`.
    ///
    /// # Errors
    /// [`Error::Jsonl`] naming the first unlabelled record; [`Error::BadInput`] for no record.
    pub fn from_records(records: &[EncodedRecord], source: &std::path::Path) -> Result<Self> {
        if records.is_empty() {
            return Err(Error::bad_input(source, "contains no records"));
        }
        let mut set = TrainSet::default();
        for r in records {
            let label = r.record.binary_label().ok_or_else(|| Error::Jsonl {
                path: source.into(),
                line: r.line,
                reason: "training record has no label (kernel predictors are fitted to labels)".into(),
            })?;
            set.encodings.push(r.encoding.clone());
            set.targets.push(if label == 1 { 1.0 } else { -1.0 });
        }
        Ok(set)
    }

    /// A seeded sample of at most `max` labelled records of the JSONL file `path` (file order
    /// kept), encoded with `tokenizer`; returns the set and the number of records in the file.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `max` = 0; as [`encode_all`] and [`TrainSet::from_records`].
    pub fn sample_file(
        path: &std::path::Path,
        tokenizer: &dyn crate::tokenize::Tokenizer,
        max: usize,
        seed: u64,
    ) -> Result<(Self, usize)> {
        if max == 0 {
            return Err(Error::invalid("training sample size", "must be at least 1"));
        }
        let (mut records, _) = encode_all(path, tokenizer)?;
        let total = records.len();
        if total > max {
            let mut keep = rand::seq::index::sample(&mut ChaCha8Rng::seed_from_u64(seed), total, max).into_vec();
            keep.sort_unstable();
            records = keep.into_iter().map(|i| records[i].clone()).collect();
        }
        Ok((Self::from_records(&records, path)?, total))
    }
}
