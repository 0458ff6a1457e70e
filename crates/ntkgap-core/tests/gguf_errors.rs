//! Corrupt GGUF files are refused in one line naming the file and the problem — never a panic,
//! never a huge allocation. The files are built here byte by byte ([`GgufBuilder`]) or cut from
//! the committed fixtures.

use std::path::{Path, PathBuf};

use ntkgap_core::gguf::{GgmlType, GgufFile};

use crate::prereq::root;

/// A minimal GGUF writer for tests: key/values as raw typed bytes, tensors with `ne` innermost
/// first; offsets are laid out with padding unless overridden.
pub struct GgufBuilder {
    version: u32,
    kvs: Vec<(Vec<u8>, u32, Vec<u8>)>,
    tensors: Vec<RawTensor>,
    alignment: u64,
    tensor_count: Option<u64>,
}

/// A tensor as written: name, sizes innermost first, ggml type id, data, relative offset override.
struct RawTensor(String, Vec<u64>, u32, Vec<u8>, Option<u64>);

fn gguf_string(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

impl GgufBuilder {
    pub fn new() -> Self {
        Self { version: 3, kvs: Vec::new(), tensors: Vec::new(), alignment: 32, tensor_count: None }
    }

    pub fn version(mut self, v: u32) -> Self {
        self.version = v;
        self
    }

    pub fn kv_raw(mut self, key: &[u8], ty: u32, value: Vec<u8>) -> Self {
        self.kvs.push((key.to_vec(), ty, value));
        self
    }

    pub fn kv_u32(self, key: &str, v: u32) -> Self {
        self.kv_raw(key.as_bytes(), 4, v.to_le_bytes().to_vec())
    }

    pub fn kv_f32(self, key: &str, v: f32) -> Self {
        self.kv_raw(key.as_bytes(), 6, v.to_le_bytes().to_vec())
    }

    pub fn kv_bool(self, key: &str, v: bool) -> Self {
        self.kv_raw(key.as_bytes(), 7, vec![u8::from(v)])
    }

    pub fn kv_str(self, key: &str, v: &str) -> Self {
        self.kv_raw(key.as_bytes(), 8, gguf_string(v.as_bytes()))
    }

    pub fn kv_strs(self, key: &str, v: &[&str]) -> Self {
        let mut value = 8u32.to_le_bytes().to_vec();
        value.extend((v.len() as u64).to_le_bytes());
        v.iter().for_each(|s| value.extend(gguf_string(s.as_bytes())));
        self.kv_raw(key.as_bytes(), 9, value)
    }

    pub fn kv_i32s(self, key: &str, v: &[i32]) -> Self {
        let mut value = 5u32.to_le_bytes().to_vec();
        value.extend((v.len() as u64).to_le_bytes());
        v.iter().for_each(|x| value.extend(x.to_le_bytes()));
        self.kv_raw(key.as_bytes(), 9, value)
    }

    pub fn tensor(mut self, name: &str, ne: &[u64], ty: u32, data: Vec<u8>) -> Self {
        self.tensors.push(RawTensor(name.into(), ne.to_vec(), ty, data, None));
        self
    }

    /// A tensor whose relative offset is `offset` (its data is still appended in order).
    pub fn tensor_at(mut self, name: &str, ne: &[u64], ty: u32, data: Vec<u8>, offset: u64) -> Self {
        self.tensors.push(RawTensor(name.into(), ne.to_vec(), ty, data, Some(offset)));
        self
    }

    pub fn tensor_count(mut self, n: u64) -> Self {
        self.tensor_count = Some(n);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        out.extend(self.tensor_count.unwrap_or(self.tensors.len() as u64).to_le_bytes());
        out.extend((self.kvs.len() as u64).to_le_bytes());
        for (key, ty, value) in &self.kvs {
            out.extend(gguf_string(key));
            out.extend(ty.to_le_bytes());
            out.extend(value);
        }
        let pad = |n: u64| n.div_ceil(self.alignment) * self.alignment;
        let mut next = 0u64;
        let mut data = Vec::new();
        for RawTensor(name, ne, ty, bytes, offset) in &self.tensors {
            out.extend(gguf_string(name.as_bytes()));
            out.extend((ne.len() as u32).to_le_bytes());
            ne.iter().for_each(|d| out.extend(d.to_le_bytes()));
            out.extend(ty.to_le_bytes());
            out.extend(offset.unwrap_or(next).to_le_bytes());
            data.resize(next as usize, 0);
            data.extend(bytes);
            next = pad(data.len() as u64);
        }
        out.resize(pad(out.len() as u64) as usize, 0);
        out.extend(data);
        out
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.bytes()).unwrap();
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Write `bytes` to a temporary file, open it, and return the one-line error (`path: reason`).
fn open_err(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    std::fs::write(&path, bytes).unwrap();
    let err = GgufFile::open(&path).expect_err("a corrupt file opened").to_string();
    assert!(!err.contains('\n'), "not one line: {err}");
    let prefix = format!("{}: ", path.display());
    err.strip_prefix(&prefix).unwrap_or_else(|| panic!("does not name the file: {err}")).to_string()
}

fn good() -> GgufBuilder {
    GgufBuilder::new().kv_str("general.architecture", "llama").tensor("w", &[4, 2], 0, f32_bytes(&[1.0; 8]))
}

#[test]
fn the_builder_writes_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.gguf");
    good().write(&path);
    let file = GgufFile::open(&path).unwrap();
    assert_eq!(file.read_f32("w").unwrap(), (vec![2, 4], vec![1.0; 8]));
}

#[test]
fn every_truncation_of_a_fixture_is_an_error() {
    let fixture: PathBuf = root().join("tests/data/gguf/metadata.gguf");
    let bytes = std::fs::read(&fixture).unwrap();
    // The file ends with padding after the last tensor's data; every cut before that end fails.
    let end = GgufFile::open(&fixture).unwrap().tensors().iter().map(|t| t.offset() + t.n_bytes()).max().unwrap();
    for len in 0..end as usize {
        let err = open_err(&bytes[..len]);
        assert!(err.contains("truncated") || err.contains("runs past the end"), "cut at {len}: {err}");
    }
    let short = GgufBuilder::new().kv_u32("general.a_long_key_name", 1).bytes();
    assert_eq!(
        open_err(&short[..40]),
        "truncated file: a metadata key at offset 24 needs 23 bytes, but the file ends at byte 40"
    );
}

#[test]
fn header_errors() {
    let mut bytes = good().bytes();
    bytes[0] = b'X';
    assert_eq!(open_err(&bytes), "not a GGUF file (magic bytes \"XGUF\", expected \"GGUF\")");
    assert_eq!(open_err(&good().version(99).bytes()), "unsupported GGUF version 99 (ntkgap reads versions 2 and 3)");
    assert_eq!(open_err(&good().version(1).bytes()), "unsupported GGUF version 1 (ntkgap reads versions 2 and 3)");
    assert_eq!(open_err(&good().version(3 << 24).bytes()), "big-endian GGUF files are not supported");
    assert_eq!(
        open_err(&good().tensor_count(u64::MAX).bytes()),
        format!(
            "the header claims {} tensors, whose infos cannot fit in the 91 bytes left (truncated or corrupt file)",
            u64::MAX
        )
    );
    let mut bytes = good().bytes();
    bytes[16..24].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(open_err(&bytes).starts_with("the header claims 1152921504606846976 metadata entries, which cannot fit"));
}

#[test]
fn metadata_errors() {
    let b = || GgufBuilder::new();
    let err = open_err(&b().kv_raw(b"bad\xffkey", 4, vec![0; 4]).bytes());
    assert_eq!(err, "a metadata key at offset 24 is not valid UTF-8");
    assert_eq!(open_err(&b().kv_raw(b"k", 13, vec![]).bytes()), "metadata key k has unknown value type 13");
    // Keys are text from the file: control characters are escaped, the message stays one line
    // (found by the `gguf` fuzz target).
    let err = open_err(&b().kv_raw(b"t6\n.\x1b", 13, vec![]).bytes());
    assert_eq!(err, "metadata key t6\\n.\\u{1b} has unknown value type 13");
    assert_eq!(open_err(&b().kv_raw(b"k", 7, vec![2]).bytes()), "metadata key k: bool byte 2 is neither 0 nor 1");
    assert_eq!(open_err(&b().kv_u32("k", 1).kv_u32("k", 2).bytes()), "metadata key k appears twice");
    let err = open_err(&b().kv_raw(b"k", 8, gguf_string(b"\xc3\x28")).bytes());
    assert_eq!(err, "the value of metadata key k at offset 37 is not valid UTF-8");
    // A string length far beyond the file: refused before anything is allocated.
    let err = open_err(&b().kv_raw(b"k", 8, u64::MAX.to_le_bytes().to_vec()).bytes());
    assert!(err.starts_with("truncated file: the value of metadata key k at offset 37 needs 18446744073709551615"));
    // An array count far beyond the file.
    let mut huge = 4u32.to_le_bytes().to_vec();
    huge.extend((1u64 << 62).to_le_bytes());
    let err = open_err(&b().kv_raw(b"k", 9, huge).bytes());
    assert_eq!(err, "metadata key k: an array of 4611686018427387904 elements cannot fit in the 15 bytes left (truncated or corrupt file)");
    let mut bad = 77u32.to_le_bytes().to_vec();
    bad.extend(0u64.to_le_bytes());
    assert_eq!(open_err(&b().kv_raw(b"k", 9, bad).bytes()), "metadata key k: array of unknown value type 77");
    // Arrays of arrays nested 9 deep.
    let mut nested = Vec::new();
    for _ in 0..9 {
        nested.extend(9u32.to_le_bytes());
        nested.extend(1u64.to_le_bytes());
    }
    nested.extend(4u32.to_le_bytes());
    nested.extend(0u64.to_le_bytes());
    assert_eq!(open_err(&b().kv_raw(b"k", 9, nested).bytes()), "metadata key k: arrays nested deeper than 8");
    assert_eq!(open_err(&good().kv_u32("general.alignment", 24).bytes()), "general.alignment 24 is not a power of two");
    assert_eq!(
        open_err(&good().kv_str("general.alignment", "32").bytes()),
        "general.alignment is a string, expected u32"
    );
}

#[test]
fn tensor_info_errors() {
    let b = || GgufBuilder::new();
    assert_eq!(open_err(&b().tensor("w", &[32], 99, vec![0; 64]).bytes()), "tensor w has unknown ggml type id 99");
    assert_eq!(
        open_err(&b().tensor("w", &[1, 1, 1, 1, 1], 0, vec![0; 4]).bytes()),
        "tensor w has 5 dimensions (at most 4)"
    );
    let q4 = GgmlType::Q4_0.id();
    assert_eq!(
        open_err(&b().tensor("w", &[33, 2], q4, vec![0; 36]).bytes()),
        "tensor w (Q4_0) has rows of 33 values, not a multiple of the block size 32"
    );
    let err = open_err(&b().tensor("w", &[1 << 32, 1 << 32, 1 << 32], 0, vec![]).bytes());
    assert_eq!(err, "tensor w has an absurd shape [4294967296, 4294967296, 4294967296] (element count overflows)");
    let err = open_err(&b().tensor("w", &[1 << 40], 0, vec![0; 16]).bytes());
    assert!(
        err.starts_with(
            "tensor w data (offset 0 + 4398046511104 bytes after the data section at 64) runs past the end"
        ),
        "{err}"
    );
    let err = open_err(&b().tensor_at("w", &[4], 0, vec![0; 16], 1 << 20).bytes());
    assert!(err.starts_with("tensor w data (offset 1048576 + 16 bytes"), "{err}");
    let err = open_err(&b().tensor_at("w", &[4], 0, vec![0; 16], u64::MAX - 31).bytes());
    assert!(err.contains("runs past the end of the file"), "{err}");
    assert_eq!(
        open_err(&b().tensor_at("w", &[4], 0, vec![0; 16], 8).bytes()),
        "tensor w has offset 8, not a multiple of the alignment 32"
    );
    let two = b().tensor("a", &[16], 0, vec![0; 64]).tensor_at("b", &[4], 0, vec![0; 16], 32);
    assert_eq!(open_err(&two.bytes()), "tensors a and b overlap in the data section");
    let dup = b().tensor("a", &[4], 0, vec![0; 16]).tensor("a", &[4], 0, vec![0; 16]);
    assert_eq!(open_err(&dup.bytes()), "tensor a appears twice");
    let mut bytes = b().tensor("ab", &[4], 0, vec![0; 16]).bytes();
    let at = bytes.windows(2).position(|w| w == b"ab").unwrap();
    bytes[at] = 0xff;
    assert_eq!(open_err(&bytes), "a tensor name at offset 24 is not valid UTF-8");
}

#[test]
fn a_file_changed_after_opening_fails_the_read_not_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinks.gguf");
    good().write(&path);
    let file = GgufFile::open(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
    let err = file.read_f32("w").unwrap_err().to_string();
    assert!(err.contains("tensor w: could not read its 32 bytes"), "{err}");
    assert!(!err.contains('\n'));
}
