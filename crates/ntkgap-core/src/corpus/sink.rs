//! Where a generated corpus is written: one JSONL file, or `train.jsonl`/`dev.jsonl`/
//! `test.jsonl` in a directory. Every file is atomic ([`JsonlWriter`]): nothing appears at the
//! destination unless generation finishes, and a directory this writer created is removed again
//! (when still empty) if it does not.

use std::path::{Path, PathBuf};

use super::generate::RecordSink;
use super::jsonl::JsonlWriter;
use super::record::Record;
use super::split::Split;
use crate::error::{Error, Result};
use crate::files::OutputDir;

/// Streams records to their split files (directory output) or to one file.
pub struct CorpusWriter {
    /// `None` only after `finish` (or during drop).
    target: Option<Target>,
    meta_path: PathBuf,
    /// Declared after `target`: fields drop in order, so on failure the writers' temporary files
    /// go first, then the directory levels this run created.
    out_dir: Option<OutputDir>,
}

enum Target {
    /// `[train, dev, test]` writers.
    Splits(PathBuf, [JsonlWriter; 3]),
    Single(PathBuf, JsonlWriter),
}

impl CorpusWriter {
    /// A path ending in `.jsonl` is one output file (its directory must exist); anything else is a
    /// directory (created with any missing ancestors) receiving one file per split.
    ///
    /// # Errors
    /// [`Error::Write`] naming the path when it cannot be created or written;
    /// [`Error::BadInput`] when a `.jsonl` path is a directory or a directory path is a file.
    pub fn create(out: &Path) -> Result<Self> {
        if out.extension().is_some_and(|e| e == "jsonl") {
            let writer = JsonlWriter::create(out)?;
            let target = Some(Target::Single(out.to_path_buf(), writer));
            return Ok(Self { target, meta_path: out.with_extension("meta.json"), out_dir: None });
        }
        if out.exists() && !out.is_dir() {
            return Err(Error::bad_input(out, "is a file; give a directory or a path ending in .jsonl"));
        }
        let out_dir = Some(OutputDir::create(out)?);
        let mut writer = Self { target: None, meta_path: out.join("meta.json"), out_dir };
        let open = |split: Split| JsonlWriter::create(out.join(format!("{}.jsonl", split.as_str())));
        // On error `writer` drops here and removes the directory it created.
        let writers = [open(Split::Train)?, open(Split::Dev)?, open(Split::Test)?];
        writer.target = Some(Target::Splits(out.to_path_buf(), writers));
        Ok(writer)
    }

    /// Where `meta.json` goes: `DIR/meta.json`, or `FILE.meta.json` beside `FILE.jsonl`.
    pub fn meta_path(&self) -> &Path {
        &self.meta_path
    }

    /// Commit every file; returns `(path, lines)` per file.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file that could not be committed.
    pub fn finish(mut self) -> Result<Vec<(PathBuf, usize)>> {
        let written = match self.target.take() {
            None => Vec::new(),
            Some(Target::Single(path, w)) => vec![(path, w.finish()?)],
            Some(Target::Splits(dir, writers)) => {
                let mut out = Vec::new();
                for (split, w) in Split::ALL.into_iter().zip(writers) {
                    out.push((dir.join(format!("{}.jsonl", split.as_str())), w.finish()?));
                }
                out
            }
        };
        if let Some(dir) = self.out_dir.take() {
            dir.keep();
        }
        Ok(written)
    }
}

impl RecordSink for CorpusWriter {
    fn accept(&mut self, split: Split, record: &Record) -> Result<()> {
        match &mut self.target {
            None => Ok(()),
            Some(Target::Single(_, w)) => w.write(record),
            Some(Target::Splits(_, writers)) => {
                let k = Split::ALL.iter().position(|&s| s == split).unwrap_or(0);
                writers[k].write(record)
            }
        }
    }
}
