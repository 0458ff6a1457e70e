//! `meta.json` provenance records written beside every output.
//!
//! Each record holds the crate version, the full command line, the seed (if any), the SHA-256 of
//! every input file and free-form extra fields (timings, model hash, method, …). Nothing in it
//! depends on wall-clock time unless a caller adds it as an extra field, so same inputs and seed
//! give byte-identical meta files.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::files::atomic::write_json_atomic;

/// Provenance of one output artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// `ntkgap` crate version.
    pub version: String,
    /// The command line, argument by argument.
    pub command_line: Vec<String>,
    /// The seed of every random choice, when the command takes one.
    pub seed: Option<u64>,
    /// SHA-256 (hex) of each input file, keyed by the path as given.
    pub inputs: BTreeMap<String, String>,
    /// Anything else worth recording (resolved settings, counts, timings).
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Meta {
    /// A record for the current process's command line.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            command_line: std::env::args().collect(),
            seed,
            inputs: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Hash an input file and record it.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when it cannot be read.
    pub fn add_input(&mut self, path: impl AsRef<Path>) -> Result<&mut Self> {
        let path = path.as_ref();
        let digest = sha256_file(path)?;
        self.inputs.insert(path.display().to_string(), digest);
        Ok(self)
    }

    /// Record an extra field.
    pub fn set(&mut self, key: impl Into<String>, value: impl Serialize) -> &mut Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.extra.insert(key.into(), value);
        self
    }

    /// Write the record atomically to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        write_json_atomic(path, self)
    }
}

/// SHA-256 of a file's bytes, as lowercase hex.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 of bytes in memory, as lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
