//! Host-side weights keyed by their Hugging Face tensor names, and their safetensors I/O.
//!
//! A [`WeightMap`] is the one exchange format between files and the burn model: loading reads a
//! `model.safetensors` into a map (converting F16/BF16/F64 to f32), the model takes its
//! tensors out by name ([`WeightMap::take`]) with shape checks, and saving writes the map back
//! as f32 safetensors. Problems are collected, not stopped at: a checkpoint with three missing
//! tensors yields one error listing all three ([`WeightProblems`]).
//!
//! Names and layouts are PyTorch's: a linear layer's `weight` is `[out, in]` (the model
//! transposes it to burn's `[in, out]` on the way in and back on the way out).

use std::collections::BTreeMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::files::write_atomic;

/// One f32 tensor in host memory, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor from its shape and values.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `data.len()` differs from the product of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::internal("tensor", format!("shape {shape:?} needs {n} values, got {}", data.len())));
        }
        Ok(Self { shape, data })
    }

    /// The transpose of a 2-D tensor (PyTorch `[out, in]` ↔ burn `[in, out]`).
    ///
    /// # Panics
    /// When the tensor is not 2-D (callers check shapes first).
    pub fn transposed(&self) -> HostTensor {
        assert_eq!(self.shape.len(), 2, "transposed() needs a 2-D tensor");
        let (rows, cols) = (self.shape[0], self.shape[1]);
        let mut data = vec![0.0f32; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                data[c * rows + r] = self.data[r * cols + c];
            }
        }
        HostTensor { shape: vec![cols, rows], data }
    }
}

/// Everything wrong with a set of weights, by tensor name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightProblems {
    /// Tensors the model needs but the file lacks.
    pub missing: Vec<String>,
    /// Tensors whose shape differs: (name, expected, found).
    pub wrong_shape: Vec<(String, Vec<usize>, Vec<usize>)>,
    /// Tensors holding NaN or ±∞.
    pub non_finite: Vec<String>,
    /// Parameters stored with an integer or boolean dtype: (name, dtype).
    pub wrong_dtype: Vec<(String, String)>,
}

impl WeightProblems {
    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
            && self.wrong_shape.is_empty()
            && self.non_finite.is_empty()
            && self.wrong_dtype.is_empty()
    }

    /// One line naming every offending tensor.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing tensors: {}", list(&self.missing)));
        }
        if !self.wrong_shape.is_empty() {
            let shapes: Vec<String> =
                self.wrong_shape.iter().map(|(n, e, f)| format!("{n} (expected {e:?}, found {f:?})")).collect();
            parts.push(format!("wrong shapes: {}", list(&shapes)));
        }
        if !self.non_finite.is_empty() {
            parts.push(format!("non-finite values in: {}", list(&self.non_finite)));
        }
        if !self.wrong_dtype.is_empty() {
            let dtypes: Vec<String> = self.wrong_dtype.iter().map(|(n, d)| format!("{n} ({d})")).collect();
            parts
                .push(format!("parameters with a non-float dtype (expected F32, F16, BF16 or F64): {}", list(&dtypes)));
        }
        parts.join("; ")
    }
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// How to create tensors a [`WeightMap`] lacks (instead of reporting them missing), the way
/// Hugging Face initialises BERT: linear and embedding weights ~ N(0, σ²), biases 0, LayerNorm
/// γ = 1 and β = 0 (also RMSNorm γ: names containing `layernorm` or ending in `norm.weight`).
#[derive(Debug, Clone, PartialEq)]
pub struct FreshInit {
    /// Seed; each tensor draws from its own stream seeded by (seed, name), so the values do not
    /// depend on the order tensors are created in.
    pub seed: u64,
    /// σ, the `initializer_range` of the config.
    pub std: f64,
    /// Only names starting with one of these prefixes are created (`None`: every name).
    pub only_prefixes: Option<Vec<String>>,
}

impl FreshInit {
    fn applies_to(&self, name: &str) -> bool {
        self.only_prefixes.as_ref().is_none_or(|p| p.iter().any(|prefix| name.starts_with(prefix.as_str())))
    }

    /// The fresh value of tensor `name` with `shape`.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> HostTensor {
        let n: usize = shape.iter().product();
        let data = if name.ends_with(".bias") {
            vec![0.0; n]
        } else if name.contains("LayerNorm") || name.contains("layernorm") || name.ends_with("norm.weight") {
            vec![1.0; n]
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive_named(self.seed, name));
            (0..n).map(|_| (crate::numeric::standard_normal(&mut rng) * self.std) as f32).collect()
        };
        HostTensor { shape: shape.to_vec(), data }
    }
}

/// Tensors by Hugging Face name, with a record of problems met while taking them out.
#[derive(Debug, Clone, Default)]
pub struct WeightMap {
    tensors: BTreeMap<String, HostTensor>,
    problems: WeightProblems,
    fresh: Option<FreshInit>,
    initialised: Vec<String>,
    /// Integer/boolean tensors skipped on reading (buffers), by name → dtype; reported as a
    /// dtype problem if the model asks for one of them as a parameter.
    non_float: BTreeMap<String, String>,
}

impl WeightMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Create missing tensors with `init` from now on instead of reporting them.
    pub fn set_fresh_init(&mut self, init: Option<FreshInit>) {
        self.fresh = init;
    }

    /// Names of the tensors created by the fresh initialiser, in creation order.
    pub fn initialised(&self) -> &[String] {
        &self.initialised
    }

    /// Insert (or replace) a tensor.
    pub fn insert(&mut self, name: impl Into<String>, tensor: HostTensor) {
        self.tensors.insert(name.into(), tensor);
    }

    /// True when a tensor of that name is present.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Names still in the map, sorted.
    pub fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }

    /// Number of tensors in the map.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when the map holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Borrow a tensor.
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }

    /// Move every tensor of `other` into this map (a shard of a sharded checkpoint); a name
    /// present in both keeps `other`'s tensor.
    pub fn extend(&mut self, other: WeightMap) {
        self.tensors.extend(other.tensors);
        self.non_float.extend(other.non_float);
    }

    /// Rename every tensor (and skipped buffer) through `rename`, without copying data.
    pub fn rename_all(&mut self, rename: impl Fn(&str) -> String) {
        self.tensors = std::mem::take(&mut self.tensors).into_iter().map(|(k, v)| (rename(&k), v)).collect();
        self.non_float = std::mem::take(&mut self.non_float).into_iter().map(|(k, v)| (rename(&k), v)).collect();
    }

    /// Remove and return `name`, checking its shape and values. On a problem the problem is
    /// recorded and a zero tensor of the expected shape is returned, so that a whole model can
    /// be checked in one pass; call [`WeightMap::finish`] afterwards.
    pub fn take(&mut self, name: &str, expected: &[usize]) -> HostTensor {
        let zeros = || HostTensor { shape: expected.to_vec(), data: vec![0.0; expected.iter().product()] };
        let Some(tensor) = self.tensors.remove(name) else {
            if let Some(dtype) = self.non_float.get(name) {
                self.problems.wrong_dtype.push((name.to_string(), dtype.clone()));
                return zeros();
            }
            if let Some(init) = self.fresh.as_ref().filter(|i| i.applies_to(name)) {
                self.initialised.push(name.to_string());
                return init.tensor(name, expected);
            }
            self.problems.missing.push(name.to_string());
            return zeros();
        };
        if tensor.shape != expected {
            self.problems.wrong_shape.push((name.to_string(), expected.to_vec(), tensor.shape));
            return zeros();
        }
        if tensor.data.iter().any(|v| !v.is_finite()) {
            self.problems.non_finite.push(name.to_string());
        }
        tensor
    }

    /// The problems recorded by [`WeightMap::take`] so far.
    pub fn problems(&self) -> &WeightProblems {
        &self.problems
    }

    /// Fail with every recorded problem, naming `source`.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming `source` and every offending tensor.
    pub fn finish(&self, source: &Path) -> Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        Err(Error::bad_input(source, self.problems.describe()))
    }

    /// Read a safetensors file (F32, F16, BF16 and F64 tensors, converted to f32; integer and
    /// boolean tensors are buffers, not parameters, and are skipped).
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, [`Error::BadInput`] naming the file when it is not valid
    /// safetensors or holds a tensor of another dtype (named).
    pub fn read_safetensors(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::bad_input(path, format!("not a valid safetensors file: {e}")))?;
        let mut map = WeightMap::new();
        let mut unsupported = Vec::new();
        for (name, view) in file.iter() {
            if is_integer(view.dtype()) {
                // Buffers such as `embeddings.position_ids`, never parameters.
                map.non_float.insert(name.to_string(), format!("{:?}", view.dtype()));
                continue;
            }
            match to_f32(view.dtype(), view.data()) {
                Some(data) => map.insert(name, HostTensor { shape: view.shape().to_vec(), data }),
                None => unsupported.push(format!("{name} ({:?})", view.dtype())),
            }
        }
        if !unsupported.is_empty() {
            unsupported.sort();
            return Err(Error::bad_input(path, format!("unsupported tensor dtypes: {}", list(&unsupported))));
        }
        Ok(map)
    }

    /// The safetensors bytes of every tensor, as f32 (deterministic: sorted by name).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when serialization fails (inconsistent shapes).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        let byte_data: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, t)| (name.clone(), t.shape.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let views = byte_data
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| Error::invalid(format!("tensor {name}"), e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize(views, Some(metadata)).map_err(|e| Error::internal("safetensors", e.to_string()))
    }

    /// Write every tensor as f32 safetensors, atomically.
    ///
    /// # Errors
    /// As [`WeightMap::to_safetensors_bytes`], and [`Error::Write`] naming `path`.
    pub fn write_safetensors(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_safetensors_bytes()?)
    }
}

/// Euclidean distance ‖a − b‖ over the tensors both maps hold with equal shapes, and the
/// names present in only one of them (or with different shapes).
pub fn distance(a: &WeightMap, b: &WeightMap) -> (f64, Vec<String>) {
    let mut sum = 0.0f64;
    let mut unmatched = Vec::new();
    for (name, ta) in &a.tensors {
        match b.tensors.get(name) {
            Some(tb) if tb.shape == ta.shape => {
                sum += ta.data.iter().zip(&tb.data).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>();
            }
            _ => unmatched.push(name.clone()),
        }
    }
    unmatched.extend(b.tensors.keys().filter(|n| !a.tensors.contains_key(*n)).cloned());
    (sum.sqrt(), unmatched)
}

fn is_integer(dtype: Dtype) -> bool {
    matches!(
        dtype,
        Dtype::BOOL
            | Dtype::U8
            | Dtype::I8
            | Dtype::I16
            | Dtype::U16
            | Dtype::I32
            | Dtype::U32
            | Dtype::I64
            | Dtype::U64
    )
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let data = match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        _ => return None,
    };
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_round_trips() {
        let t = HostTensor::new(vec![2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let tt = t.transposed();
        assert_eq!(tt.shape, vec![3, 2]);
        assert_eq!(tt.data, vec![1., 4., 2., 5., 3., 6.]);
        assert_eq!(tt.transposed(), t);
    }

    #[test]
    fn take_collects_every_problem() {
        let mut m = WeightMap::new();
        m.insert("a", HostTensor::new(vec![2], vec![1.0, 2.0]).unwrap());
        m.insert("b", HostTensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap());
        m.insert("c", HostTensor::new(vec![1], vec![f32::NAN]).unwrap());
        m.take("a", &[2]);
        m.take("b", &[2]);
        m.take("c", &[1]);
        m.take("d", &[4]);
        let msg = m.problems().describe();
        assert!(msg.contains("missing tensors: d"), "{msg}");
        assert!(msg.contains("b (expected [2], found [3])"), "{msg}");
        assert!(msg.contains("non-finite values in: c"), "{msg}");
    }

    #[test]
    fn fresh_init_is_seeded_and_order_free() {
        let init = FreshInit { seed: 7, std: 0.02, only_prefixes: Some(vec!["classifier".into()]) };
        let mut a = WeightMap::new();
        a.set_fresh_init(Some(init.clone()));
        let w1 = a.take("classifier.weight", &[2, 3]);
        let b1 = a.take("classifier.bias", &[2]);
        a.take("encoder.weight", &[1]);
        assert_eq!(a.initialised(), ["classifier.weight", "classifier.bias"]);
        assert_eq!(a.problems().missing, vec!["encoder.weight".to_string()]);
        assert_eq!(b1.data, vec![0.0, 0.0]);
        assert_eq!(init.tensor("classifier.weight", &[2, 3]), w1);
        let other = FreshInit { seed: 8, ..init };
        assert_ne!(other.tensor("classifier.weight", &[2, 3]), w1);
        let std = (w1.data.iter().map(|v| v * v).sum::<f32>() / 6.0).sqrt();
        assert!(std < 0.1 && std > 0.0, "{std}");
    }

    #[test]
    fn safetensors_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let mut m = WeightMap::new();
        m.insert("x.weight", HostTensor::new(vec![2, 2], vec![1.0, -2.0, 3.5, 0.25]).unwrap());
        m.write_safetensors(&path).unwrap();
        let back = WeightMap::read_safetensors(&path).unwrap();
        assert_eq!(back.get("x.weight"), m.get("x.weight"));
    }

    #[test]
    fn garbage_file_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        std::fs::write(&path, b"not safetensors").unwrap();
        let e = WeightMap::read_safetensors(&path).unwrap_err().to_string();
        assert!(e.contains("not a valid safetensors"), "{e}");
    }
}
