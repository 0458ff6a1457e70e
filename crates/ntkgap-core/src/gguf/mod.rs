//! GGUF model files (llama.cpp's format): header, metadata, tensor infos, lazy tensor reads and
//! dequantization to f32; a Hugging Face view of Llama/Qwen2/GPT-2 files in [`hf`].
//!
//! * [`GgufFile::open`] parses everything before the data section (versions 2 and 3,
//!   little-endian; the checks are listed in `parse.rs`) and keeps the file path only: tensor data
//!   is read on demand with a seek and one read of exactly the tensor's bytes, so a multi-gigabyte
//!   model costs nothing to open.
//! * Shapes are given in Hugging Face / NumPy order, outermost first: a GGUF tensor with sizes
//!   `ne = [576, 49152]` (innermost first, as the file lists them) has shape `[49152, 576]`.
//! * [`GgufFile::read_f32`] dequantizes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
//!   Q3_K, Q4_K, Q5_K and Q6_K bit-exactly as gguf-py's `gguf.quants.dequantize` does (see
//!   `dequant.rs`); any other type (the i-quants, ternary, FP4, integer, F64 tensors) is
//!   refused in one line naming the tensor and its type.
//! * The tokenizer a GGUF describes is built by [`crate::tokenize::gguf`]; its chat template is
//!   rendered by [`crate::tokenize::chat`].
//!
//! Spec: llama.cpp `docs/gguf.md` and `ggml/src/gguf.cpp`; block layouts `ggml/src/ggml-common.h`;
//! reference dequantization gguf-py `gguf/quants.py` (0.19). Known gaps: big-endian files and
//! GGUF version 1 are refused; tensors split over several files (`split.count`) are not joined.
//!
//! ```no_run
//! use ntkgap_core::gguf::GgufFile;
//!
//! let file = GgufFile::open("model.gguf")?;
//! let layers = file.require_u64("llama.block_count")?;
//! let (shape, values) = file.read_f32("token_embd.weight")?;
//! assert_eq!(shape.iter().product::<usize>(), values.len());
//! # let _ = layers;
//! # Ok::<(), ntkgap_core::Error>(())
//! ```

mod dequant;
mod ggml_type;
pub mod hf;
mod parse;
mod value;

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use ggml_type::GgmlType;
pub use parse::DEFAULT_ALIGNMENT;
pub use value::{MetadataArray, MetadataValue};

use crate::error::{Error, Result};

/// One tensor's description (no data).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    name: String,
    shape: Vec<usize>,
    ggml_type: GgmlType,
    n_elements: u64,
    n_bytes: u64,
    offset: u64,
}

impl TensorInfo {
    /// The GGUF tensor name (`blk.0.attn_q.weight`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Shape, outermost first (the reverse of the file's `ne` list).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Storage type.
    pub fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// Number of values.
    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    /// Bytes of data in the file.
    pub fn n_bytes(&self) -> u64 {
        self.n_bytes
    }

    /// Absolute byte offset of the data in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// An opened GGUF file: its parsed header; tensor data stays on disk until read.
#[derive(Clone)]
pub struct GgufFile {
    path: PathBuf,
    version: u32,
    len: u64,
    alignment: u64,
    data_offset: u64,
    metadata: Vec<(String, MetadataValue)>,
    keys: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    names: HashMap<String, usize>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

impl GgufFile {
    /// Open and parse `path`'s header, metadata and tensor infos.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be opened; [`Error::BadInput`] naming the file, in one
    /// line, for a truncated file, bad magic, an unsupported version, an unknown value or tensor
    /// type, bad UTF-8, a count too large for the file, tensor data past the end of the file,
    /// overlapping or misaligned tensor data, or a row length not a multiple of its type's block.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let header = parse::header(BufReader::new(file), len, path)?;
        let keys = header.metadata.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
        let names = header.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        Ok(Self {
            path: path.to_path_buf(),
            version: header.version,
            len,
            alignment: header.alignment,
            data_offset: header.data_offset,
            metadata: header.metadata,
            keys,
            tensors: header.tensors,
            names,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The data section's alignment in bytes.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute offset of the data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// File size in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Every metadata key/value, in file order.
    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }

    /// Every tensor info, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The info of tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.names.get(name).map(|&i| &self.tensors[i])
    }

    /// An error about this file (control characters of names and keys taken from the file escaped,
    /// so the message stays one line).
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::bad_input(&self.path, escape_controls(&reason.into()))
    }

    /// The value of metadata key `key`.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.keys.get(key).map(|&i| &self.metadata[i].1)
    }

    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        convert: impl Fn(&'a MetadataValue) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => convert(v).map(Some).ok_or_else(|| {
                self.error(format!("metadata key {key} is a {} ({}), expected {expected}", v.type_name(), short(v)))
            }),
        }
    }

    fn required<T>(&self, key: &str, value: Result<Option<T>>) -> Result<T> {
        value?.ok_or_else(|| self.error(format!("metadata key {key} is missing")))
    }

    /// A string value; `None` when absent.
    ///
    /// # Errors
    /// [`Error::BadInput`] when the key holds another type.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>> {
        self.typed(key, "a string", |v| match v {
            MetadataValue::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// A non-negative integer of any integer type; `None` when absent.
    ///
    /// # Errors
    /// [`Error::BadInput`] when the key holds a non-integer or a negative value.
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        self.typed(key, "a non-negative integer", |v| v.as_i128().and_then(|i| u64::try_from(i).ok()))
    }

    /// An integer of any integer type that fits u32; `None` when absent.
    ///
    /// # Errors
    /// [`Error::BadInput`] when the key holds a non-integer or a value outside u32.
    pub fn get_u32(&self, key: &str) -> Result<Option<u32>> {
        self.typed(key, "an integer in u32", |v| v.as_i128().and_then(|i| u32::try_from(i).ok()))
    }

    /// An `f32` or `f64` value, as f64 (an f32 widens exactly); `None` when absent.
    ///
    /// # Errors
    /// [`Error::BadInput`] when the key holds another type.
    pub fn get_f64(&self, key: &str) -> Result<Option<f64>> {
        self.typed(key, "a float", MetadataValue::as_f64)
    }

    /// An `f32` value (an `f64` is rounded to f32); `None` when absent.
    ///
    /// # Errors
    /// [`Error::BadInput`] when the key holds another type.
    pub fn get_f32(&self, key: &str) -> Result<Option<f32>> {
        self.typed(key, "a float", |v| v.as_f64().map(|f| f as f32))
    }

    /// A bool value; `None` when absent.
    ///
    /// # Errors
    /// [`Error::BadInput`] when the key holds another type.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "a bool", |v| match v {
            MetadataValue::Bool(b) => Some(*b),
            _ => None,
        })
    }

    /// An array value; `None` when absent.
    ///
    /// # Errors
    /// [`Error::BadInput`] when the key holds a scalar.
    pub fn get_array(&self, key: &str) -> Result<Option<&MetadataArray>> {
        self.typed(key, "an array", |v| match v {
            MetadataValue::Array(a) => Some(a),
            _ => None,
        })
    }

    /// [`GgufFile::get_str`], required.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the key when it is missing or of another type.
    pub fn require_str(&self, key: &str) -> Result<&str> {
        self.required(key, self.get_str(key))
    }

    /// [`GgufFile::get_u64`], required.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the key when it is missing or not a non-negative integer.
    pub fn require_u64(&self, key: &str) -> Result<u64> {
        self.required(key, self.get_u64(key))
    }

    /// [`GgufFile::get_u32`], required.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the key when it is missing or not an integer in u32.
    pub fn require_u32(&self, key: &str) -> Result<u32> {
        self.required(key, self.get_u32(key))
    }

    /// [`GgufFile::get_f64`], required.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the key when it is missing or not a float.
    pub fn require_f64(&self, key: &str) -> Result<f64> {
        self.required(key, self.get_f64(key))
    }

    /// [`GgufFile::get_f32`], required.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the key when it is missing or not a float.
    pub fn require_f32(&self, key: &str) -> Result<f32> {
        self.required(key, self.get_f32(key))
    }

    /// [`GgufFile::get_bool`], required.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the key when it is missing or not a bool.
    pub fn require_bool(&self, key: &str) -> Result<bool> {
        self.required(key, self.get_bool(key))
    }

    /// [`GgufFile::get_array`], required.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the key when it is missing or not an array.
    pub fn require_array(&self, key: &str) -> Result<&MetadataArray> {
        self.required(key, self.get_array(key))
    }

    fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.tensor(name).ok_or_else(|| self.error(format!("no tensor named {name}")))
    }

    /// The raw bytes of tensor `name` (one seek and one read of exactly its bytes).
    ///
    /// # Errors
    /// [`Error::BadInput`] when there is no such tensor or the file changed since it was opened;
    /// [`Error::Io`] when it cannot be reopened.
    pub fn read_raw(&self, name: &str) -> Result<Vec<u8>> {
        let info = self.info(name)?;
        let mut file = std::fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut buf = vec![0u8; info.n_bytes as usize];
        file.seek(SeekFrom::Start(info.offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| self.error(format!("tensor {name}: could not read its {} bytes: {e}", info.n_bytes)))?;
        Ok(buf)
    }

    /// Tensor `name` dequantized to f32: `(shape outermost first, values row-major)`.
    ///
    /// # Errors
    /// [`Error::BadInput`] when there is no such tensor, its type is not in
    /// [`GgmlType::SUPPORTED`] (one line naming tensor and type), or reading fails.
    pub fn read_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let info = self.info(name)?;
        let ty = info.ggml_type;
        if !ty.is_supported() {
            return Err(self.error(format!(
                "tensor {name} has type {ty}, which ntkgap cannot read (supported: {})",
                GgmlType::supported_names()
            )));
        }
        let raw = self.read_raw(name)?;
        let mut out = vec![0f32; info.n_elements as usize];
        dequant::dequantize_into(ty, &raw, &mut out);
        Ok((info.shape.clone(), out))
    }
}

/// `s` with every control character (newline, escape, …) written as an escape (`\n`, `\u{1b}`):
/// keys, tensor names and strings come from the file and must not break a one-line message.
pub(crate) fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// A value for an error message: scalars in full, strings and arrays abbreviated.
fn short(v: &MetadataValue) -> String {
    match v {
        MetadataValue::Str(s) if s.chars().count() > 40 => format!("{:?}…", s.chars().take(40).collect::<String>()),
        MetadataValue::Str(s) => format!("{s:?}"),
        MetadataValue::Array(a) => format!("{} elements", a.len()),
        v => v.to_json().to_string(),
    }
}
