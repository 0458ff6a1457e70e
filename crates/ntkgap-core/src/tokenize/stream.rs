//! Streaming, parallel tokenization of a JSONL corpus.
//!
//! Records are read in chunks (so a corpus never has to fit in memory), each chunk is encoded on
//! the rayon pool, and the chunk is handed to a sink in input order. The first failing record (in
//! input order, so the message is deterministic) stops the run with an error naming the file,
//! the line and the record id. Truncated records are counted, never hidden:
//! [`EncodeSummary::truncation_line`] is the one summary line callers print.

use std::path::Path;

use rayon::prelude::*;

use crate::corpus::{JsonlReader, Record};
use crate::error::{Error, Result};
use crate::tokenize::{Encoding, Tokenizer};

/// Records encoded per parallel chunk by default.
pub const DEFAULT_CHUNK: usize = 2048;

/// One input record with its encoding.
#[derive(Debug, Clone)]
pub struct EncodedRecord {
    /// 1-based line of the record in its JSONL file.
    pub line: usize,
    /// The record as read.
    pub record: Record,
    /// Its model input, encoded.
    pub encoding: Encoding,
}

/// Counts from one tokenization run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct EncodeSummary {
    /// Records encoded.
    pub records: usize,
    /// Records whose premise (or single text) was truncated.
    pub truncated: usize,
    /// The maximum length in force.
    pub max_length: usize,
}

impl EncodeSummary {
    /// The summary line about truncation, or `None` when nothing was truncated.
    pub fn truncation_line(&self) -> Option<String> {
        (self.truncated > 0).then(|| {
            format!(
                "note: {} of {} records were truncated to {} tokens (premise only; hypotheses kept whole)",
                self.truncated, self.records, self.max_length
            )
        })
    }
}

/// Encode every record of the JSONL file `path` in chunks of `chunk` records, calling `sink` with
/// each encoded chunk in input order.
///
/// # Errors
/// [`Error::Jsonl`] naming the line of the first malformed or unencodable record (e.g. a
/// hypothesis that leaves no room for the premise), [`Error::BadInput`] when the file holds no
/// records, [`Error::InvalidArgument`] when `chunk` is 0, or whatever `sink` returns.
pub fn encode_file(
    path: &Path,
    tokenizer: &dyn Tokenizer,
    chunk: usize,
    mut sink: impl FnMut(Vec<EncodedRecord>) -> Result<()>,
) -> Result<EncodeSummary> {
    if chunk == 0 {
        return Err(Error::invalid("chunk size", "must be at least 1"));
    }
    let mut reader = JsonlReader::open(path)?;
    let mut summary = EncodeSummary { max_length: tokenizer.max_length(), ..Default::default() };
    loop {
        let batch: Vec<(usize, Record)> = reader.by_ref().take(chunk).collect::<Result<_>>()?;
        if batch.is_empty() {
            break;
        }
        let encoded = encode_chunk(path, tokenizer, batch)?;
        summary.records += encoded.len();
        summary.truncated += encoded.iter().filter(|r| r.encoding.truncated).count();
        sink(encoded)?;
    }
    if summary.records == 0 {
        return Err(Error::bad_input(path, "contains no records"));
    }
    Ok(summary)
}

/// Encode every record of `path` into memory (see [`encode_file`]).
///
/// # Errors
/// As [`encode_file`].
pub fn encode_all(path: &Path, tokenizer: &dyn Tokenizer) -> Result<(Vec<EncodedRecord>, EncodeSummary)> {
    let mut all = Vec::new();
    let summary = encode_file(path, tokenizer, DEFAULT_CHUNK, |chunk| {
        all.extend(chunk);
        Ok(())
    })?;
    Ok((all, summary))
}

fn encode_chunk(path: &Path, tokenizer: &dyn Tokenizer, batch: Vec<(usize, Record)>) -> Result<Vec<EncodedRecord>> {
    let results: Vec<Result<EncodedRecord>> = batch
        .into_par_iter()
        .map(|(line, record)| {
            let input = record.input().map_err(|reason| Error::Jsonl { path: path.into(), line, reason })?;
            let encoding = tokenizer.encode_input(input).map_err(|e| Error::Jsonl {
                path: path.into(),
                line,
                reason: match &record.id {
                    Some(id) => format!("record {id}: {e}"),
                    None => e.to_string(),
                },
            })?;
            Ok(EncodedRecord { line, record, encoding })
        })
        .collect();
    results.into_iter().collect()
}
