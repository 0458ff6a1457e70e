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
    /// [`Error::BadInput`] when `path` is a directory or exists as something other than a
    /// regular file (a device such as `/dev/full`, a FIFO, a socket), or when its directory does
    /// not exist or is not writable. Later failures ([`AtomicFile::commit`], writes) are
    /// [`Error::Write`].
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if path.is_dir() {
            return Err(Error::bad_input(&path, "is a directory, expected a file path"));
        }
        // The final rename would replace a device, FIFO or socket node (e.g. `/dev/full`) with a
        // regular file instead of writing to it; refuse before touching its directory.
        if path.exists() && !path.is_file() {
            let reason = "is not a regular file (a device, FIFO or socket); expected a file path";
            return Err(Error::bad_input(&path, reason));
        }
        if !dir.is_dir() {
            let reason = format!("its directory {} does not exist (or is not a directory)", dir.display());
            return Err(Error::bad_input(&path, reason));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        // Not being able to create a file there at all is the path's fault (bad input); failing
        // later, while writing, is a runtime failure (`Error::Write`).
        let file = File::create(&tmp).map_err(|e| Error::bad_input(&path, format!("cannot be written: {e}")))?;
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
        let file = writer.into_inner().map_err(|e| Error::write(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::write(&self.path, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(|e| Error::write(&self.path, e))
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
    f.write_all(bytes).map_err(|e| Error::write(path.as_ref(), e))?;
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

/// An output directory created on demand (with any missing ancestors, like `mkdir -p`) and removed
/// again — every level this run created, if still empty — unless [`OutputDir::keep`] is called.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    /// Directories this run created, deepest first.
    created: Vec<PathBuf>,
}

impl OutputDir {
    /// Create `path` and its missing ancestors.
    ///
    /// # Errors
    /// [`Error::BadInput`] when `path` or an existing ancestor is not a directory, or a level
    /// cannot be created (e.g. permission denied).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if path.exists() && !path.is_dir() {
            return Err(Error::bad_input(&path, "is a file; expected a directory"));
        }
        let mut missing = Vec::new();
        let mut cur = Some(path.as_path());
        while let Some(p) = cur.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            missing.push(p.to_path_buf());
            cur = p.parent();
        }
        if let Some(blocker) = cur.filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
            return Err(Error::bad_input(&path, format!("{} is not a directory", blocker.display())));
        }
        let mut dir = Self { path: path.clone(), created: Vec::new() };
        for level in missing.iter().rev() {
            fs::create_dir(level).map_err(|e| Error::bad_input(&path, format!("cannot be created: {e}")))?;
            dir.created.insert(0, level.clone());
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep the directory (the run succeeded).
    pub fn keep(mut self) -> PathBuf {
        self.created.clear();
        std::mem::take(&mut self.path)
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        for level in &self.created {
            let _ = fs::remove_dir(level);
        }
    }
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
    #[cfg(unix)]
    fn device_paths_are_refused_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let err = AtomicFile::create("/dev/full").err().expect("/dev/full must be refused");
        assert!(matches!(err, Error::BadInput { .. }), "{err}");
        assert!(err.to_string().starts_with("/dev/full: is not a regular file"), "{err}");
        assert!(fs::metadata("/dev/full").unwrap().file_type().is_char_device());
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
    fn output_dir_creates_levels_and_removes_them_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        {
            let out = OutputDir::create(&deep).unwrap();
            assert!(out.path().is_dir());
        }
        assert!(!dir.path().join("a").exists(), "unkept levels must be removed");
        let kept = OutputDir::create(&deep).unwrap().keep();
        assert!(kept.is_dir());
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        assert!(OutputDir::create(blocker.join("sub")).is_err());
        assert!(OutputDir::create(&blocker).unwrap_err().to_string().contains("is a file"));
    }

    #[test]
    fn missing_directory_names_the_path() {
        let err = AtomicFile::create("/nonexistent-dir-ntkgap/x.json").err().unwrap();
        assert!(err.to_string().contains("/nonexistent-dir-ntkgap/x.json"), "{err}");
    }
}
