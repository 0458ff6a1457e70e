//! The weights of a [`Classifier`] copied once into host f32 buffers for the hand-written
//! forward + backward of [`crate::ntk::fastfb`] (one copy per `gram` call, not per block).
//!
//! Layouts: every Linear weight is `[d_in, d_out]` row-major (burn's layout, y = a·W + b); the
//! query, key and value maps of a layer are fused column-wise into one `[H, 3H]` weight so the
//! forward issues one GEMM for the three (and the backward one for their input gradient).
//! Embedding tables stay where they are (the word table is 47 MB on MiniLM, and a block reads
//! a few hundred of its rows): [`HostTable::rows`] fetches the rows a block needs.

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::Result;
use crate::model::dense::{tensor_to_host, Dense, Norm};
use crate::model::layer::EncoderLayer;
use crate::model::{Classifier, ModelConfig};
use crate::ntk::fastfb::ops::{add_in_place, add_rows, linear_backward_into, matmul_fresh, zeros};

/// A Linear layer `y = a·W + b` on the host.
#[derive(Debug, Clone)]
pub struct HostLinear {
    /// Hugging Face name prefix.
    pub name: String,
    /// `[d_in, d_out]`, row-major.
    pub weight: Vec<f32>,
    /// `[d_out]`; empty for a layer without a bias (the decoders' `LinearNoBias`).
    pub bias: Vec<f32>,
    /// Input width.
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
}

/// A LayerNorm `y = γ ⊙ x̂ + β` on the host.
#[derive(Debug, Clone)]
pub struct HostNorm {
    /// Hugging Face name prefix.
    pub name: String,
    /// γ `[d]`.
    pub gamma: Vec<f32>,
    /// β `[d]`.
    pub beta: Vec<f32>,
    /// ε.
    pub epsilon: f32,
}

/// One encoder layer on the host.
#[derive(Debug, Clone)]
pub struct HostLayer {
    /// The names of the query, key and value maps (in that order).
    pub qkv_names: [String; 3],
    /// Query | key | value fused: weight `[H, 3H]`, bias `[3H]`.
    pub qkv: HostLinear,
    /// `attention.output.dense`.
    pub attention_output: HostLinear,
    /// `attention.output.LayerNorm`.
    pub attention_norm: HostNorm,
    /// `intermediate.dense`.
    pub intermediate: HostLinear,
    /// `output.dense`.
    pub output: HostLinear,
    /// `output.LayerNorm`.
    pub output_norm: HostNorm,
    /// Attention heads.
    pub heads: usize,
    /// True for the tanh-approximate GELU.
    pub gelu_tanh: bool,
}

/// An embedding table, read row by row.
#[derive(Debug, Clone)]
pub struct HostTable {
    /// Hugging Face name prefix.
    pub name: String,
    /// The table `[rows, H]` on the model's device.
    weight: Tensor<2>,
}

impl HostTable {
    /// The table `weight` `[rows, H]` (left on its device) under the name `name`.
    pub fn new(name: String, weight: Tensor<2>) -> Self {
        Self { name, weight }
    }

    /// Rows `ids` of the table, `[ids.len(), H]` row-major (ids already checked against the
    /// table size).
    ///
    /// # Errors
    /// [`crate::Error::Numerical`] when the rows cannot be read back from the device.
    pub fn rows(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let device = self.weight.device();
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let len = ids.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(ids, [len]), &device);
        host(self.weight.clone().select(0, index))
    }
}

/// The whole classifier on the host.
#[derive(Debug, Clone)]
pub struct HostModel {
    /// Word, position and token-type tables (left on the device).
    pub tables: [HostTable; 3],
    /// The embedding LayerNorm.
    pub embedding_norm: HostNorm,
    /// The encoder layers.
    pub layers: Vec<HostLayer>,
    /// BERT pooler / RoBERTa `classifier.dense` (`[H, H]`, then tanh).
    pub head_dense: HostLinear,
    /// The output layer (`[H, O]`).
    pub head_output: HostLinear,
    /// The model's configuration (architecture, sizes, pad id).
    pub config: ModelConfig,
}

impl HostLinear {
    /// `y [rows, d_out] = a [rows, d_in]·W (+ b)`.
    pub fn forward(&self, a: &[f32], rows: usize) -> Vec<f32> {
        let mut y = matmul_fresh(a, &self.weight, rows, (self.d_in, self.d_out));
        if !self.bias.is_empty() {
            add_rows(&mut y, &self.bias, None);
        }
        y
    }

    /// `residual + a·W (+ b)`, into a fresh buffer.
    pub fn forward_residual(&self, a: &[f32], residual: &[f32], rows: usize) -> Vec<f32> {
        let mut y = matmul_fresh(a, &self.weight, rows, (self.d_in, self.d_out));
        if self.bias.is_empty() {
            add_in_place(&mut y, residual);
        } else {
            add_rows(&mut y, &self.bias, Some(residual));
        }
        y
    }

    /// `da [rows, d_in] = dy [rows, d_out]·Wᵀ` into a fresh buffer, or added to `da` when given.
    pub fn input_grad(&self, dy: &[f32], rows: usize, da: Option<Vec<f32>>) -> Vec<f32> {
        let accumulate = da.is_some();
        let mut da = da.unwrap_or_else(|| zeros(rows * self.d_in));
        linear_backward_into(&mut da, dy, &self.weight, rows, (self.d_in, self.d_out), accumulate);
        da
    }
}

pub(crate) fn host<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    Ok(tensor_to_host(tensor)?.data)
}

fn linear(dense: &Dense) -> Result<HostLinear> {
    let [d_in, d_out] = dense.weight.val().dims();
    Ok(HostLinear {
        name: dense.name.clone(),
        weight: host(dense.weight.val())?,
        bias: host(dense.bias.val())?,
        d_in,
        d_out,
    })
}

fn norm(n: &Norm) -> Result<HostNorm> {
    Ok(HostNorm {
        name: n.name.clone(),
        gamma: host(n.gamma.val())?,
        beta: host(n.beta.val())?,
        epsilon: n.epsilon as f32,
    })
}

/// Concatenate Linear layers of the same input width column-wise (a missing bias counts as
/// zeros; the fused layer has none when no part has one).
pub fn fuse(parts: &[HostLinear]) -> HostLinear {
    let d_in = parts[0].d_in;
    let d_out: usize = parts.iter().map(|p| p.d_out).sum();
    let mut weight = Vec::with_capacity(d_in * d_out);
    for row in 0..d_in {
        for p in parts {
            weight.extend_from_slice(&p.weight[row * p.d_out..(row + 1) * p.d_out]);
        }
    }
    let bias = if parts.iter().all(|p| p.bias.is_empty()) {
        Vec::new()
    } else {
        parts.iter().flat_map(|p| if p.bias.is_empty() { vec![0.0; p.d_out] } else { p.bias.clone() }).collect()
    };
    HostLinear { name: String::new(), weight, bias, d_in, d_out }
}

fn layer(l: &EncoderLayer) -> Result<HostLayer> {
    let a = &l.attention;
    let (q, k, v) = (linear(&a.query)?, linear(&a.key)?, linear(&a.value)?);
    let qkv_names = [q.name.clone(), k.name.clone(), v.name.clone()];
    Ok(HostLayer {
        qkv_names,
        qkv: fuse(&[q, k, v]),
        attention_output: linear(&a.output)?,
        attention_norm: norm(&a.norm)?,
        intermediate: linear(&l.intermediate)?,
        output: linear(&l.output)?,
        output_norm: norm(&l.norm)?,
        heads: a.heads,
        gelu_tanh: l.gelu_tanh,
    })
}

impl HostModel {
    /// Copy every weight of `model` to the host (f32).
    ///
    /// # Errors
    /// [`crate::Error::Numerical`] when a tensor cannot be read back from its device.
    pub fn from_classifier(model: &Classifier) -> Result<Self> {
        let e = &model.encoder.embeddings;
        let table = |t: &crate::model::embeddings::Table| -> Result<HostTable> {
            Ok(HostTable { name: t.name.clone(), weight: t.weight.val() })
        };
        Ok(Self {
            tables: [table(&e.word)?, table(&e.position)?, table(&e.token_type)?],
            embedding_norm: norm(&e.norm)?,
            layers: model.encoder.layers.iter().map(layer).collect::<Result<Vec<_>>>()?,
            head_dense: linear(&model.head.dense)?,
            head_output: linear(&model.head.output)?,
            config: model.config.clone(),
        })
    }

    /// Hidden size H.
    pub fn hidden(&self) -> usize {
        self.embedding_norm.gamma.len()
    }

    /// Number of logits O.
    pub fn labels(&self) -> usize {
        self.head_output.d_out
    }
}
