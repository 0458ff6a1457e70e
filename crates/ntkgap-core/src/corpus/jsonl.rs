//! Streaming JSONL reading and atomic JSONL writing for [`Record`]s.
//!
//! Reading is line by line with a byte limit per line, so a corpus never has to fit in memory
//! and a runaway line cannot exhaust it. Every error names the file and the 1-based line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::corpus::record::Record;
use crate::error::{Error, Result};
use crate::files::AtomicFile;

/// Default maximum length of one JSONL line in bytes (1 MiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// An iterator over the records of a JSONL file, yielding `(line_number, record)`.
pub struct JsonlReader {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    line: usize,
    max_line_bytes: usize,
    buf: Vec<u8>,
    validate_input: bool,
}

impl JsonlReader {
    /// Open `path` for streaming. Records must carry a model input (`premise`+`hypothesis` or
    /// `text`); use [`JsonlReader::any_fields`] to lift that requirement.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when it cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if path.is_dir() {
            return Err(Error::bad_input(&path, "is a directory, expected a JSONL file"));
        }
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self::from_reader(path, BufReader::new(file)))
    }

    /// Stream records from any reader; `name` is used in error messages.
    pub fn from_reader(name: impl Into<PathBuf>, reader: impl BufRead + Send + 'static) -> Self {
        Self {
            path: name.into(),
            reader: Box::new(reader),
            line: 0,
            max_line_bytes: MAX_LINE_BYTES,
            buf: Vec::new(),
            validate_input: true,
        }
    }

    /// Change the per-line byte limit.
    pub fn max_line_bytes(mut self, limit: usize) -> Self {
        self.max_line_bytes = limit;
        self
    }

    /// Accept records without a model input (e.g. metadata-only files).
    pub fn any_fields(mut self) -> Self {
        self.validate_input = false;
        self
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Jsonl { path: self.path.clone(), line: self.line, reason: reason.into() }
    }

    fn next_line(&mut self) -> Option<Result<()>> {
        self.buf.clear();
        self.line += 1;
        let limit = self.max_line_bytes as u64 + 1;
        let mut take = (&mut self.reader).take(limit);
        match take.read_until(b'\n', &mut self.buf) {
            Ok(0) => None,
            Ok(_) => {
                if self.buf.last() == Some(&b'\n') {
                    self.buf.pop();
                    if self.buf.last() == Some(&b'\r') {
                        self.buf.pop();
                    }
                } else if self.buf.len() as u64 >= limit {
                    let max = self.max_line_bytes;
                    return Some(Err(self.err(format!("line longer than the limit of {max} bytes"))));
                }
                Some(Ok(()))
            }
            Err(e) => Some(Err(Error::io(&self.path, e))),
        }
    }
}

impl Iterator for JsonlReader {
    type Item = Result<(usize, Record)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.next_line()? {
            return Some(Err(e));
        }
        let text = match std::str::from_utf8(&self.buf) {
            Ok(t) => t,
            Err(_) => return Some(Err(self.err("not valid UTF-8"))),
        };
        if text.trim().is_empty() {
            return Some(Err(self.err("empty line (expected one JSON object per line)")));
        }
        let record: Record = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => return Some(Err(self.err(format!("not a valid record: {e}")))),
        };
        if self.validate_input {
            if let Err(reason) = record.input() {
                return Some(Err(self.err(reason)));
            }
        }
        Some(Ok((self.line, record)))
    }
}

/// Read every record of a JSONL file into memory.
///
/// # Errors
/// The first malformed line (path and line number), or [`Error::BadInput`] if the file holds
/// no records at all.
pub fn read_records(path: impl AsRef<Path>) -> Result<Vec<Record>> {
    let path = path.as_ref();
    let records = JsonlReader::open(path)?.map(|r| r.map(|(_, rec)| rec)).collect::<Result<Vec<_>>>()?;
    if records.is_empty() {
        return Err(Error::bad_input(path, "contains no records"));
    }
    Ok(records)
}

/// Writes records one per line to a temporary file, renamed into place on [`finish`].
///
/// [`finish`]: JsonlWriter::finish
pub struct JsonlWriter {
    file: AtomicFile,
    count: usize,
}

impl JsonlWriter {
    /// Start writing `path`.
    ///
    /// # Errors
    /// [`Error::BadInput`] or [`Error::Write`] naming `path` (see [`AtomicFile::create`]).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self { file: AtomicFile::create(path)?, count: 0 })
    }

    /// Append one serializable value as a line.
    ///
    /// # Errors
    /// [`Error::Write`] naming the destination (a failed write, e.g. a full disk);
    /// [`Error::Serialize`] if `value` cannot be serialized.
    pub fn write<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        let path = self.file.path().to_path_buf();
        serde_json::to_writer(&mut self.file, value).map_err(|source| {
            // A failed write (e.g. a full disk) is an I/O error on the destination, not a
            // serialization bug.
            if source.is_io() {
                Error::write(&path, source.into())
            } else {
                Error::Serialize { what: path.display().to_string(), source }
            }
        })?;
        self.file.write_all(b"\n").map_err(|e| Error::write(&path, e))?;
        self.count += 1;
        Ok(())
    }

    /// Number of lines written so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Commit the file; returns the number of lines written.
    ///
    /// # Errors
    /// [`Error::Write`] naming the destination.
    pub fn finish(self) -> Result<usize> {
        let n = self.count;
        self.file.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::record::Label;

    fn read_str(s: &'static str) -> Vec<Result<(usize, Record)>> {
        JsonlReader::from_reader("mem.jsonl", std::io::Cursor::new(s.as_bytes())).collect()
    }

    #[test]
    fn reads_pairs_texts_and_binary_labels() {
        let rows = read_str(
            "{\"premise\":\"p\",\"hypothesis\":\"h\",\"label\":\"entailment\"}\n{\"text\":\"t\",\"label\":0}\n",
        );
        let recs: Vec<_> = rows.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].1.binary_label(), Some(1));
        assert_eq!(recs[1].1.label, Some(Label::NotEntailment));
        assert_eq!(recs[1].0, 2);
    }

    #[test]
    fn errors_name_the_line() {
        let rows = read_str("{\"text\":\"ok\"}\nnot json\n");
        let err = rows[1].as_ref().unwrap_err().to_string();
        assert!(err.starts_with("mem.jsonl:2:"), "{err}");
        let rows = read_str("{\"premise\":\"p\"}\n");
        let err = rows[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("no \"hypothesis\""), "{err}");
        let rows = read_str("{\"text\":\"a\"}\n\n");
        assert!(rows[1].as_ref().unwrap_err().to_string().contains("empty line"));
        let rows = read_str("{\"text\":5}\n");
        assert!(rows[0].as_ref().unwrap_err().to_string().contains("invalid type"));
    }

    #[test]
    fn overlong_lines_are_refused() {
        let reader = JsonlReader::from_reader(
            "mem.jsonl",
            std::io::Cursor::new(format!("{{\"text\":\"{}\"}}\n", "a".repeat(100)).into_bytes()),
        )
        .max_line_bytes(50);
        let rows: Vec<_> = reader.collect();
        assert!(rows[0].as_ref().unwrap_err().to_string().contains("longer than the limit"));
    }
}
