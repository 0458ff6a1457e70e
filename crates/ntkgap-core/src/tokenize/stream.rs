//! Streaming, parallel tokenization of a JSONL corpus.
//!
//! Records are read in chunks (so a corpus never has to fit in memory), each chunk is encoded on
//! the rayon pool, and the chunk is handed to a sink in input order. The first failing record (in
//! input order, so the message is deterministic) stops the run with an error naming the file,
//! the line and the record id. Truncated records are counted, never hidden:
//! [`EncodeSummary::truncation_line`] is the one summary line callers print.
//!
//! A tokenizer that never truncates (a decoder's prompt tokenizer: its question sits at the end
//! of the prompt) returns encodings longer than its maximum length as they are; a file holding
//! any is refused once every record is read, in one line that counts them and names the longest.

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
/// records or (after every record was read) records longer than the tokenizer's maximum length
/// (see the module docs), [`Error::InvalidArgument`] when `chunk` is 0, or whatever `sink`
/// returns.
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
    let mut too_long = TooLong::default();
    loop {
        let batch: Vec<(usize, Record)> = reader.by_ref().take(chunk).collect::<Result<_>>()?;
        if batch.is_empty() {
            break;
        }
        let encoded = encode_chunk(path, tokenizer, batch)?;
        summary.records += encoded.len();
        summary.truncated += encoded.iter().filter(|r| r.encoding.truncated).count();
        too_long.count(&encoded, summary.max_length);
        sink(encoded)?;
    }
    if summary.records == 0 {
        return Err(Error::bad_input(path, "contains no records"));
    }
    too_long.check(path, &summary)?;
    Ok(summary)
}

/// Records longer than the maximum length (only a tokenizer that never truncates makes them).
#[derive(Default)]
struct TooLong {
    records: usize,
    /// (tokens, line) of the longest.
    longest: (usize, usize),
}

impl TooLong {
    fn count(&mut self, chunk: &[EncodedRecord], max_length: usize) {
        for r in chunk.iter().filter(|r| r.encoding.len() > max_length) {
            self.records += 1;
            if r.encoding.len() > self.longest.0 {
                self.longest = (r.encoding.len(), r.line);
            }
        }
    }

    fn check(&self, path: &Path, summary: &EncodeSummary) -> Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        Err(Error::bad_input(
            path,
            format!(
                "{} of {} prompts are longer than the maximum input length of {} tokens (the longest, line {}, \
                 has {}); decoder prompts are never truncated (the question sits at the end): use a model with a \
                 longer context or shorter records",
                self.records, summary.records, summary.max_length, self.longest.1, self.longest.0
            ),
        ))
    }
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
