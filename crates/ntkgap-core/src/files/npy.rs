//! `.npy` (NumPy format 1.0, little-endian, C order) writer and validating reader for f32 and
//! f64 arrays of any rank (logits, scores, Gram matrices), as `ndarray` arrays.
//!
//! Writes are atomic ([`crate::files::write_atomic`]). The reader checks the magic, the
//! header, the dtype, the shape against the payload size, and refuses NaN/±∞, naming the file.
//!
//! Why not the `ndarray-npy` crate: its writer spells the header `'shape': (6, 6)}` where NumPy
//! (and this module, since ntkgap's first release) writes `'shape': (6, 6), }`, so switching would
//! change the bytes of every `.npy` ntkgap writes (outputs are byte-reproducible across versions;
//! `tests/reproducible.rs`); and the reader here names the problem of a bad file in one line (bad
//! magic, dtype, shape, the first non-finite index) as the bad-input table and the `npy_read` fuzz
//! target require. Both sides speak `ndarray` at the API.

use std::path::Path;

use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};

use crate::error::{Error, Result};
use crate::files::write_atomic;

/// Element type of an `.npy` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// `<f4`.
    F32,
    /// `<f8`.
    F64,
}

impl NpyDtype {
    fn descr(self) -> &'static str {
        match self {
            NpyDtype::F32 => "<f4",
            NpyDtype::F64 => "<f8",
        }
    }

    fn size(self) -> usize {
        match self {
            NpyDtype::F32 => 4,
            NpyDtype::F64 => 8,
        }
    }
}

/// An array read from `.npy`, values widened to f64.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The stored element type.
    pub dtype: NpyDtype,
    /// The values, in the file's shape (standard layout).
    pub values: ArrayD<f64>,
}

impl NpyArray {
    /// The file's shape.
    pub fn shape(&self) -> &[usize] {
        self.values.shape()
    }

    /// The values, row-major.
    pub fn as_slice(&self) -> &[f64] {
        self.values.as_slice().expect("read arrays are in standard layout")
    }
}

/// An element type `.npy` files here hold: `f32` (`<f4`) or `f64` (`<f8`).
pub trait NpyElement: Copy {
    /// Its dtype.
    const DTYPE: NpyDtype;
    /// Little-endian bytes of one value, appended to `out`.
    fn extend_le(self, out: &mut Vec<u8>);
}

impl NpyElement for f32 {
    const DTYPE: NpyDtype = NpyDtype::F32;
    fn extend_le(self, out: &mut Vec<u8>) {
        out.extend(self.to_le_bytes());
    }
}

impl NpyElement for f64 {
    const DTYPE: NpyDtype = NpyDtype::F64;
    fn extend_le(self, out: &mut Vec<u8>) {
        out.extend(self.to_le_bytes());
    }
}

/// Write `array` (any rank, any memory layout: values go out in logical row-major order) as
/// `<f4` or `<f8`, atomically.
///
/// # Errors
/// As [`crate::files::write_atomic`].
pub fn write<A: NpyElement, S: Data<Elem = A>, D: Dimension>(path: &Path, array: &ArrayBase<S, D>) -> Result<()> {
    let mut bytes = header(A::DTYPE, array.shape());
    bytes.reserve(array.len() * A::DTYPE.size());
    for &v in array.iter() {
        v.extend_le(&mut bytes);
    }
    write_atomic(path, &bytes)
}

fn header(dtype: NpyDtype, shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        dims => format!("({})", dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}", dtype.descr());
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out
}

/// Read and validate an `.npy` file of `<f4` or `<f8` values.
///
/// # Errors
/// [`Error::BadInput`] naming `path` for a bad magic or header, another dtype, Fortran order, a
/// payload that does not match the shape, or non-finite values (first index named).
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: &str| Error::bad_input(path, reason.to_string());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy file (bad magic)"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        _ => return Err(bad("unsupported .npy version")),
    };
    let text = bytes.get(start..start + header_len).ok_or_else(|| bad("truncated .npy header"))?;
    let text = std::str::from_utf8(text).map_err(|_| bad("non-UTF-8 .npy header"))?;
    let dtype = if text.contains("'<f4'") {
        NpyDtype::F32
    } else if text.contains("'<f8'") {
        NpyDtype::F64
    } else {
        return Err(bad("unsupported dtype (expected little-endian float32 <f4 or float64 <f8)"));
    };
    if text.contains("'fortran_order': True") {
        return Err(bad("Fortran-ordered arrays are not supported"));
    }
    let shape = parse_shape(text).ok_or_else(|| bad("unreadable shape in the .npy header"))?;
    let payload = &bytes[start + header_len..];
    let bytes_needed = shape.iter().try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
    if bytes_needed != Some(payload.len()) {
        return Err(bad(&format!("payload of {} bytes does not match shape {shape:?}", payload.len())));
    }
    let data: Vec<f64> = match dtype {
        NpyDtype::F32 => {
            payload.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect()
        }
        NpyDtype::F64 => payload
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(&format!("non-finite value at flat index {i}")));
    }
    let values = ArrayD::from_shape_vec(IxDyn(&shape), data).expect("the payload matches the shape (checked)");
    Ok(NpyArray { dtype, values })
}

fn parse_shape(header: &str) -> Option<Vec<usize>> {
    let start = header.find("'shape':")? + "'shape':".len();
    // The value must be a parenthesised tuple right after the key: `'shape': (3, 4)`.
    let inner = header[start..].trim_start().strip_prefix('(')?;
    let close = inner.find(')')?;
    inner[..close].split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_f32_and_f64() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write(&p, &ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, -6.5]])).unwrap();
        let a = read(&p).unwrap();
        assert_eq!(a.shape(), [2, 3]);
        assert_eq!(a.dtype, NpyDtype::F32);
        assert_eq!(a.values[[1, 2]], -6.5);
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!((bytes.len() - 24) % 64, 0, "header padded to 64 bytes");
        write(&p, &ndarray::arr1(&[0.5, 1.5, 2.5])).unwrap();
        let b = read(&p).unwrap();
        assert_eq!((b.shape(), b.dtype), (&[3][..], NpyDtype::F64));
        assert_eq!(b.values.as_slice().unwrap(), [0.5, 1.5, 2.5]);
        // A transposed view goes out in its logical order.
        let t = ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]);
        write(&p, &t.t()).unwrap();
        assert_eq!(read(&p).unwrap().values.as_slice().unwrap(), [1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn reader_refuses_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write(&p, &ndarray::arr1(&[1.0, f64::NAN])).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("non-finite value at flat index 1"));
        std::fs::write(&p, b"hello world").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("bad magic"));
        let mut bytes = header(NpyDtype::F64, &[4]);
        bytes.extend([0u8; 8]);
        std::fs::write(&p, bytes).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("does not match shape"));
        // A shape whose element count overflows usize is a mismatch, not a panic.
        let mut bytes = header(NpyDtype::F64, &[1 << 40, 1 << 40]);
        bytes.extend([0u8; 8]);
        std::fs::write(&p, bytes).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("does not match shape"));
        // Found by the npy_read fuzz target: a ')' before the first '(' once sliced the header
        // backwards (a panic); the shape must be a tuple right after its key.
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let text = "{'descr': '<f4', 'fortran_order': False, 'shape': h3,), } (8";
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        std::fs::write(&p, bytes).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("unreadable shape"));
    }
}
