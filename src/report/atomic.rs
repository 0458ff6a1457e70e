//! Atomic output files: write to a temporary file in the destination's directory, then rename.
//!
//! A run that fails (or panics) part-way leaves no half-written output behind: the temporary
//! file is removed when an [`AtomicFile`] is dropped without [`AtomicFile::commit`].

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A buffered writer whose contents appear at `path` only on [`commit`](AtomicFile::commit).
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Open a temporary file beside `path` (same directory, so the final rename is atomic).
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when its directory does not exist or is not writable.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if path.is_dir() {
            return Err(Error::bad_input(&path, "is a directory, expected a file path"));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io(&path, e))?;
        Ok(Self { path, tmp, writer: Some(BufWriter::new(file)) })
    }

    /// The final destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush, sync and rename into place.
    ///
    /// # Errors
    /// [`Error::Io`] naming the destination (e.g. a full disk surfaces here at the latest).
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("AtomicFile writer present until commit");
        let file = writer.into_inner().map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("AtomicFile writer present until commit").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("AtomicFile writer present until commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` to `path` atomically.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path.as_ref())?;
    f.write_all(bytes).map_err(|e| Error::io(path.as_ref(), e))?;
    f.commit()
}

/// Serialize `value` as pretty JSON (with a trailing newline) and write it atomically.
///
/// # Errors
/// [`Error::Io`] naming `path`; [`Error::Serialize`] if `value` cannot be serialized.
pub fn write_json_atomic<T: serde::Serialize>(path: impl AsRef<Path>, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|source| Error::Serialize { what: path.as_ref().display().to_string(), source })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!p.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "temporary file left behind");
    }

    #[test]
    fn committed_file_appears() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomic(&p, b"whole").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"whole");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_names_the_path() {
        let err = AtomicFile::create("/nonexistent-dir-ntkgap/x.json").err().unwrap();
        assert!(err.to_string().contains("/nonexistent-dir-ntkgap/x.json"), "{err}");
    }
}
