//! The GGUF header parser: magic, version, counts, metadata key/values and tensor infos.
//!
//! Layout (llama.cpp `docs/gguf.md`, `ggml/src/gguf.cpp`; all little-endian): `"GGUF"`, u32
//! version, u64 tensor count, u64 key/value count, the key/values (u64-length UTF-8 key, u32 value
//! type, value), the tensor infos (name, u32 n_dims, u64 × n_dims sizes innermost first, u32 ggml
//! type, u64 offset relative to the data section), padding to `general.alignment` (u32, a power of
//! two, default 32), then the data section.
//!
//! Every read is checked against the bytes left in the file *before* anything is allocated, so a
//! corrupt count can never trigger a huge allocation: an array of n elements needs at least n
//! times its element's smallest encoding, a tensor info at least 24 bytes. Arrays nest at most
//! [`MAX_ARRAY_DEPTH`] deep (bounded recursion). Version 1 (u32 counts) and big-endian files are
//! refused.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::value::{type_id, MetadataArray, MetadataValue};
use super::{GgmlType, TensorInfo};
use crate::error::{Error, Result};

/// The alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Deepest accepted nesting of arrays of arrays.
pub(crate) const MAX_ARRAY_DEPTH: usize = 8;
/// Most dimensions a tensor may have (`GGML_MAX_DIMS`).
pub(crate) const MAX_DIMS: u32 = 4;

/// Everything before the data section.
pub(crate) struct Header {
    pub version: u32,
    pub metadata: Vec<(String, MetadataValue)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    pub data_offset: u64,
}

/// A byte source that knows how many bytes remain and refuses to read past them.
struct Source<R> {
    inner: R,
    pos: u64,
    len: u64,
    path: PathBuf,
}

impl<R: Read> Source<R> {
    fn err(&self, reason: impl Into<String>) -> Error {
        Error::bad_input(&self.path, super::escape_controls(&reason.into()))
    }

    fn remaining(&self) -> u64 {
        self.len - self.pos
    }

    /// Fail unless `n` more bytes exist.
    fn need(&self, n: u64, what: &str) -> Result<()> {
        self.need_for(self.pos, n, what)
    }

    /// Fail unless `n` more bytes exist for `what`, which starts at offset `start`.
    fn need_for(&self, start: u64, n: u64, what: &str) -> Result<()> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "truncated file: {what} at offset {start} needs {n} bytes, but the file ends at byte {}",
                self.len
            )));
        }
        Ok(())
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>> {
        self.need(n, what)?;
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).map_err(|e| self.err(format!("could not read {what}: {e}")))?;
        self.pos += n;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        self.need(N as u64, what)?;
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|e| self.err(format!("could not read {what}: {e}")))?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array::<4>(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array::<8>(what).map(u64::from_le_bytes)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let start = self.pos;
        let len = self.u64(what)?;
        self.need_for(start, len, what)?;
        let bytes = self.bytes(len, what)?;
        String::from_utf8(bytes).map_err(|_| self.err(format!("{what} at offset {start} is not valid UTF-8")))
    }
}

/// Smallest encoding of one element of value type `ty` (`None`: unknown type).
fn min_size(ty: u32) -> Option<u64> {
    Some(match ty {
        type_id::U8 | type_id::I8 | type_id::BOOL => 1,
        type_id::U16 | type_id::I16 => 2,
        type_id::U32 | type_id::I32 | type_id::F32 => 4,
        type_id::U64 | type_id::I64 | type_id::F64 | type_id::STRING => 8,
        type_id::ARRAY => 12,
        _ => return None,
    })
}

fn chunks<const N: usize, T>(raw: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    raw.chunks_exact(N).map(|c| f(c.try_into().unwrap_or([0; N]))).collect()
}

impl<R: Read> Source<R> {
    fn bool(&mut self, key: &str) -> Result<bool> {
        match self.array::<1>(key)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.err(format!("metadata key {key}: bool byte {b} is neither 0 nor 1"))),
        }
    }

    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<MetadataValue> {
        Ok(match ty {
            type_id::U8 => MetadataValue::U8(self.array::<1>(key)?[0]),
            type_id::I8 => MetadataValue::I8(self.array::<1>(key)?[0] as i8),
            type_id::U16 => MetadataValue::U16(u16::from_le_bytes(self.array(key)?)),
            type_id::I16 => MetadataValue::I16(i16::from_le_bytes(self.array(key)?)),
            type_id::U32 => MetadataValue::U32(u32::from_le_bytes(self.array(key)?)),
            type_id::I32 => MetadataValue::I32(i32::from_le_bytes(self.array(key)?)),
            type_id::F32 => MetadataValue::F32(f32::from_le_bytes(self.array(key)?)),
            type_id::BOOL => MetadataValue::Bool(self.bool(key)?),
            type_id::STRING => MetadataValue::Str(self.string(&format!("the value of metadata key {key}"))?),
            type_id::ARRAY => MetadataValue::Array(self.array_value(key, depth + 1)?),
            type_id::U64 => MetadataValue::U64(u64::from_le_bytes(self.array(key)?)),
            type_id::I64 => MetadataValue::I64(i64::from_le_bytes(self.array(key)?)),
            type_id::F64 => MetadataValue::F64(f64::from_le_bytes(self.array(key)?)),
            _ => return Err(self.err(format!("metadata key {key} has unknown value type {ty}"))),
        })
    }

    fn array_value(&mut self, key: &str, depth: usize) -> Result<MetadataArray> {
        if depth > MAX_ARRAY_DEPTH {
            return Err(self.err(format!("metadata key {key}: arrays nested deeper than {MAX_ARRAY_DEPTH}")));
        }
        let ty = self.u32(key)?;
        let count = self.u64(key)?;
        let Some(min) = min_size(ty) else {
            return Err(self.err(format!("metadata key {key}: array of unknown value type {ty}")));
        };
        if count.checked_mul(min).is_none_or(|n| n > self.remaining()) {
            return Err(self.err(format!(
                "metadata key {key}: an array of {count} elements cannot fit in the {} bytes left (truncated or \
                 corrupt file)",
                self.remaining()
            )));
        }
        let n = count as usize;
        let raw = |s: &mut Self| s.bytes(count * min, key);
        Ok(match ty {
            type_id::U8 => MetadataArray::U8(raw(self)?),
            type_id::I8 => MetadataArray::I8(raw(self)?.into_iter().map(|b| b as i8).collect()),
            type_id::U16 => MetadataArray::U16(chunks(&raw(self)?, u16::from_le_bytes)),
            type_id::I16 => MetadataArray::I16(chunks(&raw(self)?, i16::from_le_bytes)),
            type_id::U32 => MetadataArray::U32(chunks(&raw(self)?, u32::from_le_bytes)),
            type_id::I32 => MetadataArray::I32(chunks(&raw(self)?, i32::from_le_bytes)),
            type_id::F32 => MetadataArray::F32(chunks(&raw(self)?, f32::from_le_bytes)),
            type_id::U64 => MetadataArray::U64(chunks(&raw(self)?, u64::from_le_bytes)),
            type_id::I64 => MetadataArray::I64(chunks(&raw(self)?, i64::from_le_bytes)),
            type_id::F64 => MetadataArray::F64(chunks(&raw(self)?, f64::from_le_bytes)),
            type_id::BOOL => MetadataArray::Bool((0..n).map(|_| self.bool(key)).collect::<Result<_>>()?),
            type_id::STRING => {
                let what = format!("an element of metadata key {key}");
                MetadataArray::Str((0..n).map(|_| self.string(&what)).collect::<Result<_>>()?)
            }
            _ => MetadataArray::Array((0..n).map(|_| self.array_value(key, depth + 1)).collect::<Result<_>>()?),
        })
    }
}

/// Parse everything before the data section of `path` (`len` bytes) from `inner`.
pub(crate) fn header<R: Read>(inner: R, len: u64, path: &Path) -> Result<Header> {
    let mut s = Source { inner, pos: 0, len, path: path.to_path_buf() };
    let magic = s.array::<4>("the magic bytes")?;
    if &magic != b"GGUF" {
        return Err(
            s.err(format!("not a GGUF file (magic bytes {:?}, expected \"GGUF\")", String::from_utf8_lossy(&magic)))
        );
    }
    let version = s.u32("the version")?;
    if version & 0xffff == 0 && version != 0 {
        return Err(s.err("big-endian GGUF files are not supported"));
    }
    if !(2..=3).contains(&version) {
        return Err(s.err(format!("unsupported GGUF version {version} (ntkgap reads versions 2 and 3)")));
    }
    let tensor_count = s.u64("the tensor count")?;
    let kv_count = s.u64("the metadata count")?;
    if kv_count.checked_mul(13).is_none_or(|n| n > s.remaining()) {
        return Err(s.err(format!(
            "the header claims {kv_count} metadata entries, which cannot fit in the {} bytes left (truncated or \
             corrupt file)",
            s.remaining()
        )));
    }
    let mut metadata = Vec::with_capacity(kv_count as usize);
    let mut keys = HashSet::new();
    for _ in 0..kv_count {
        let key = s.string("a metadata key")?;
        let ty = s.u32(&key)?;
        let value = s.value(ty, &key, 0)?;
        if !keys.insert(key.clone()) {
            return Err(s.err(format!("metadata key {key} appears twice")));
        }
        metadata.push((key, value));
    }
    let alignment = alignment(&metadata).map_err(|r| s.err(r))?;
    if tensor_count.checked_mul(24).is_none_or(|n| n > s.remaining()) {
        return Err(s.err(format!(
            "the header claims {tensor_count} tensors, whose infos cannot fit in the {} bytes left (truncated or \
             corrupt file)",
            s.remaining()
        )));
    }
    let mut raw = Vec::with_capacity(tensor_count as usize);
    for _ in 0..tensor_count {
        raw.push(tensor_info(&mut s, alignment)?);
    }
    let data_offset = s.pos.div_ceil(alignment) * alignment;
    let tensors = place(raw, data_offset, len).map_err(|r| s.err(r))?;
    Ok(Header { version, metadata, tensors, alignment, data_offset })
}

/// `general.alignment`: a u32 power of two, default 32.
fn alignment(metadata: &[(String, MetadataValue)]) -> std::result::Result<u64, String> {
    match metadata.iter().find(|(k, _)| k == "general.alignment").map(|(_, v)| v) {
        None => Ok(DEFAULT_ALIGNMENT),
        Some(MetadataValue::U32(a)) if a.is_power_of_two() => Ok(u64::from(*a)),
        Some(MetadataValue::U32(a)) => Err(format!("general.alignment {a} is not a power of two")),
        Some(v) => Err(format!("general.alignment is a {}, expected u32", v.type_name())),
    }
}

/// A tensor info as stored: the offset is still relative to the data section.
fn tensor_info<R: Read>(s: &mut Source<R>, alignment: u64) -> Result<TensorInfo> {
    let name = s.string("a tensor name")?;
    let n_dims = s.u32(&name)?;
    if n_dims > MAX_DIMS {
        return Err(s.err(format!("tensor {name} has {n_dims} dimensions (at most {MAX_DIMS})")));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(s.u64(&name)?);
    }
    let type_id = s.u32(&name)?;
    let offset = s.u64(&name)?;
    let Some(ggml_type) = GgmlType::from_id(type_id) else {
        return Err(s.err(format!("tensor {name} has unknown ggml type id {type_id}")));
    };
    let n_elements = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).filter(|&n| n <= i64::MAX as u64);
    let Some(n_elements) = n_elements else {
        return Err(s.err(format!("tensor {name} has an absurd shape {dims:?} (element count overflows)")));
    };
    let (block, size) = (ggml_type.block_size() as u64, ggml_type.type_size() as u64);
    let row = dims.first().copied().unwrap_or(1);
    if row % block != 0 {
        return Err(s.err(format!(
            "tensor {name} ({ggml_type}) has rows of {row} values, not a multiple of the block size {block}"
        )));
    }
    if offset % alignment != 0 {
        return Err(s.err(format!("tensor {name} has offset {offset}, not a multiple of the alignment {alignment}")));
    }
    let n_bytes =
        (n_elements / block).checked_mul(size).ok_or_else(|| s.err(format!("tensor {name} is absurdly large")))?;
    let shape = dims.iter().rev().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
    Ok(TensorInfo { name, shape, ggml_type, n_elements, n_bytes, offset })
}

/// Make offsets absolute, and check names are unique, data lies in the file and nothing overlaps.
fn place(mut tensors: Vec<TensorInfo>, data_offset: u64, len: u64) -> std::result::Result<Vec<TensorInfo>, String> {
    let mut names = HashSet::new();
    for t in &mut tensors {
        if !names.insert(t.name.clone()) {
            return Err(format!("tensor {} appears twice", t.name));
        }
        let end = data_offset.checked_add(t.offset).and_then(|start| start.checked_add(t.n_bytes));
        if end.is_none_or(|end| end > len) {
            return Err(format!(
                "tensor {} data (offset {} + {} bytes after the data section at {data_offset}) runs past the end \
                 of the file ({len} bytes)",
                t.name, t.offset, t.n_bytes
            ));
        }
        t.offset += data_offset;
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().filter(|t| t.n_bytes > 0).collect();
    order.sort_by_key(|t| t.offset);
    for pair in order.windows(2) {
        if pair[1].offset < pair[0].offset + pair[0].n_bytes {
            return Err(format!("tensors {} and {} overlap in the data section", pair[0].name, pair[1].name));
        }
    }
    Ok(tensors)
}
