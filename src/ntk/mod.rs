//! Empirical NTK Gram matrices K(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ of an encoder classifier
//! ([`crate::model::Classifier`]) or a decoder ([`crate::model::DecoderLm`]), both through the
//! [`NtkModel`] trait of [`family`] (docs/science.md "The fast eNTK"; Roy & Parbhoo, arXiv
//! 2605.27567, §3: φ(x) = ∇θ f(x)); and the last-layer kernel ⟨φ(x), φ(x')⟩ of the readout's
//! input ([`last_layer_gram`]).
//!
//! * [`gram`] / [`gram_with_kernels`] — K(X₁, X₁) or the rectangular K(X₁, X₂), or a row slab of
//!   either, by [`NtkMethod::PerLayer`] (one batched backward per block, exact per-layer
//!   contractions through [`kernels::GramKernels`]) or the [`NtkMethod::Naive`] reference twin
//!   (one backward per example, flattened gradients).
//! * [`GramOptions`] — method, signal path, [`OutputMode`] (margin, logit:k, trace, full, pntk),
//!   [`ParamSubset`], block size and Linear form (neither changes the result), row slab, memory
//!   budget, kernels, per-parameter breakdown.
//! * [`Gram`] — the f64 values (`[rows, cols]`, or `[rows, cols, O, O]` for `full`), the
//!   per-parameter contributions, timings and FLOP counts; [`Gram::check_finite`] names the rows
//!   holding NaN/±∞. [`shard`] merges row slabs.
//!
//! Module map: [`family`] (what the engine needs of a model; encoder and decoder impls, the
//! decoder's tied-embedding term) → [`fastfb`] (the hand-written CPU forward + backward per
//! block, default for encoders and the Llama-family decoders) or
//! [`signals`] (burn's probed pass, its reference twin and the GPU path) → [`store`] (RAM or spill) →
//! [`contract`] (per group, on the [`tiles`] grid) → [`kernels`] ([`cpu_kernels::CpuKernels`],
//! the reference twin, or any implementation the caller passes, such as the GPU kernels);
//! [`naive`]; [`outputs`]; [`cost`]; [`last_layer`].
//!
//! The forward + backward runs on the host in f32 when the model is on the CPU (flex), else on
//! the model's device through burn (wgpu; [`SignalPath`]); the contraction on [`KernelChoice`]'s
//! kernels (CPU, reference, or WGSL on wgpu).
//!
//! Known gaps: the signals of every example are read back to the host and kept (RAM or disk)
//! until the contraction, so disk use grows as N·T·Σd, and the GPU kernels re-upload them;
//! GPT-2 has no hand-written fast signal path (burn's probed pass runs, and
//! [`GramStats::signal_blocks`] says so).

pub mod contract;
pub mod cost;
pub mod cpu_kernels;
pub mod family;
pub mod fastfb;
pub mod kernels;
pub mod last_layer;
pub mod naive;
pub mod options;
pub mod outputs;
pub mod per_layer;
pub mod shard;
pub mod signals;
pub mod spill;
pub mod store;
pub mod tiles;

use std::collections::BTreeMap;
use std::ops::Range;

use burn::tensor::Device;
use ndarray::{s, Array4, ArrayView2};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::tokenize::Encoding;

pub use family::{NtkModel, ParamRole, ReadoutLayer};
pub use last_layer::last_layer_gram;
pub use options::{GramOptions, KernelChoice, LinearForm, NtkMethod, OutputMode, ParamSubset, SignalPath};

use crate::ntk::kernels::{GramKernels, ReferenceKernels};
use crate::ntk::outputs::Layout;

/// Where the time and the work of a Gram computation went.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct GramStats {
    /// Seconds in the forward + backward passes (and, for `PerLayer`, storing the signals).
    pub forward_backward_seconds: f64,
    /// Seconds in the contraction (forming per-example gradients and the Gram products).
    pub contraction_seconds: f64,
    /// FLOPs of the forward + backward passes ([`cost::forward_backward_flops`]).
    pub forward_backward_flops: f64,
    /// FLOPs of the contraction (see [`cost`]).
    pub contraction_flops: f64,
    /// Bytes of per-example signals (`PerLayer`: the largest pass's) or flattened gradients
    /// (`Naive`) held.
    pub signal_bytes: usize,
    /// True when the signals were spilled to a temporary directory.
    pub spilled: bool,
    /// Which path produced the per-layer signals, counted in blocks of examples (every pass's).
    pub signal_blocks: SignalBlocks,
    /// Passes over the data of `PerLayer` ([`GramOptions::signal_passes`]; 0 for the others).
    pub signal_passes: usize,
}

/// Blocks of examples whose [`NtkMethod::PerLayer`] signals each [`SignalPath`] produced: the
/// path that actually ran, after [`GramOptions::signals`] was resolved for the device, the
/// weights' dtype and each block's padding (both 0 for [`NtkMethod::Naive`], which forms whole
/// per-example gradients instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SignalBlocks {
    /// Blocks through the hand-written CPU pass ([`SignalPath::Fast`]).
    pub fast: usize,
    /// Blocks through burn's probed pass ([`SignalPath::Burn`]).
    pub burn: usize,
}

impl SignalBlocks {
    /// Count one block produced by `path`.
    pub fn add(&mut self, path: SignalPath) {
        match path {
            SignalPath::Fast => self.fast += 1,
            SignalPath::Burn => self.burn += 1,
        }
    }

    /// The two counts added.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self { fast: self.fast + other.fast, burn: self.burn + other.burn }
    }

    /// `"Fast"` or `"Burn"` when one path produced every block, `"Fast+Burn"` when both ran,
    /// `"none"` when no per-layer signals were formed (`Naive`).
    pub fn describe(&self) -> &'static str {
        match (self.fast > 0, self.burn > 0) {
            (true, false) => "Fast",
            (false, true) => "Burn",
            (true, true) => "Fast+Burn",
            (false, false) => "none",
        }
    }
}

/// What a method computes before assembly: one contribution per parameter tensor.
pub struct GramParts {
    /// Rows of K produced.
    pub slab: Range<usize>,
    /// Columns of K.
    pub cols: usize,
    /// Output layout.
    pub layout: Layout,
    /// (parameter name, `[slab rows, cols, entry]` contribution), in summation order.
    pub groups: Vec<(String, Vec<f64>)>,
    /// Timings and FLOPs.
    pub stats: GramStats,
}

/// An eNTK Gram matrix (or a row slab of one).
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    /// Index in X₁ of the first row (0 unless a slab).
    pub row_start: usize,
    /// K as `[rows, cols, O, O]`: rows = n₁ (or the slab's length), cols = n₂ (or n₁), and
    /// O × O blocks for [`OutputMode::Full`] (O = 1 for every scalar output mode). Standard
    /// (row-major) layout. [`Gram::matrix`] is the `[rows, cols]` view.
    pub values: Array4<f64>,
    /// Per-parameter contributions (Hugging Face parameter name → the same shape as `values`),
    /// summing to `values`; empty unless asked for.
    pub groups: BTreeMap<String, Array4<f64>>,
    /// Timings and FLOP counts.
    pub stats: GramStats,
}

impl Gram {
    /// Rows of this matrix (n₁, or the slab's length).
    pub fn rows(&self) -> usize {
        self.values.dim().0
    }

    /// Columns (n₂, or n₁).
    pub fn cols(&self) -> usize {
        self.values.dim().1
    }

    /// O for [`OutputMode::Full`], 1 otherwise.
    pub fn outputs(&self) -> usize {
        self.values.dim().2
    }

    /// K(x_{row_start + i}, xⱼ) as an `[rows, cols]` view (for `Full`, the (0, 0) logit pair).
    pub fn matrix(&self) -> ArrayView2<'_, f64> {
        self.values.slice(s![.., .., 0, 0])
    }

    /// The values, row-major, in the order of [`Gram::shape`].
    pub fn as_slice(&self) -> &[f64] {
        self.values.as_slice().expect("Gram values are in standard layout")
    }

    /// The shape written to `.npy`: `[rows, cols]`, or `[rows, cols, O, O]` for `Full`.
    pub fn shape(&self) -> Vec<usize> {
        let (rows, cols, o, _) = self.values.dim();
        if o == 1 {
            vec![rows, cols]
        } else {
            vec![rows, cols, o, o]
        }
    }

    /// Indices (within this matrix) of the rows holding a NaN or ±∞.
    pub fn non_finite_rows(&self) -> Vec<usize> {
        self.values
            .outer_iter()
            .enumerate()
            .filter(|(_, row)| row.iter().any(|v| !v.is_finite()))
            .map(|(i, _)| i)
            .collect()
    }

    /// Refuse non-finite values, naming the offending rows by `row_ids` (one id per example of
    /// X₁; a slab's row i is example `row_start + i`).
    ///
    /// # Errors
    /// [`Error::Numerical`] listing the ids of every row holding a NaN or ±∞.
    pub fn check_finite(&self, row_ids: &[String]) -> Result<()> {
        let bad = self.non_finite_rows();
        if bad.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = bad
            .iter()
            .map(|&i| i + self.row_start)
            .map(|i| row_ids.get(i).cloned().unwrap_or_else(|| format!("row {i}")))
            .collect();
        Err(Error::Numerical {
            context: "Gram matrix".into(),
            reason: format!("non-finite values in rows {}", ids.join(", ")),
        })
    }
}

/// K(X₁, X₂) of `model` (an encoder classifier or a decoder, loaded on an autodiff `device`) on
/// encoded inputs; X₂ = X₁ (square, exactly symmetric) when `x2` is `None`. Inputs are padded with `pad_id` per block. The
/// kernels are the ones `options.kernels` names. `progress` is called with the number of
/// examples just back-propagated.
///
/// # Errors
/// [`Error::InvalidArgument`] for bad options, an empty input, a row slab outside X₁, an output
/// mode the model's labels do not allow, or an encoding that does not fit the model;
/// [`Error::Numerical`] when the device is not an autodiff device or a tensor cannot be read
/// back; [`Error::Write`] when spilled signals cannot be written or read.
pub fn gram(
    model: &dyn NtkModel,
    x1: &[Encoding],
    x2: Option<&[Encoding]>,
    pad_id: u32,
    options: &GramOptions,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<Gram> {
    let kernels: &dyn GramKernels = match options.kernels {
        KernelChoice::Cpu => &cpu_kernels::CpuKernels::F32,
        KernelChoice::CpuF64 => &cpu_kernels::CpuKernels::F64,
        KernelChoice::Reference => &ReferenceKernels,
    };
    gram_with_kernels(model, x1, x2, pad_id, options, kernels, device, progress)
}

/// [`gram`] with an explicit [`GramKernels`] implementation (e.g. the GPU kernels the caller
/// made for its device, `ntkgap::gpu::WgpuKernels`), ignoring
/// `options.kernels`.
///
/// # Errors
/// As [`gram`].
#[allow(clippy::too_many_arguments)]
pub fn gram_with_kernels(
    model: &dyn NtkModel,
    x1: &[Encoding],
    x2: Option<&[Encoding]>,
    pad_id: u32,
    options: &GramOptions,
    kernels: &dyn GramKernels,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<Gram> {
    options.validate()?;
    if x1.is_empty() || x2.is_some_and(<[Encoding]>::is_empty) {
        return Err(Error::invalid("input", "no examples"));
    }
    options.output.validate(model.num_outputs())?;
    options.row_range(x1.len())?;
    let parts = match options.method {
        NtkMethod::Naive => naive::naive_parts(model, x1, x2, pad_id, options, device, progress)?,
        NtkMethod::PerLayer => per_layer::per_layer_parts(model, x1, x2, pad_id, options, kernels, device, progress)?,
    };
    Ok(assemble(parts, options.breakdown))
}

/// Sum the parts in their order into K.
fn assemble(parts: GramParts, breakdown: bool) -> Gram {
    let len = parts.slab.len() * parts.cols * parts.layout.entry();
    let mut values = vec![0.0; len];
    for (_, k) in &parts.groups {
        for (v, c) in values.iter_mut().zip(k) {
            *v += c;
        }
    }
    let outputs = if parts.layout.entry() > 1 { parts.layout.virtuals } else { 1 };
    let shape = (parts.slab.len(), parts.cols, outputs, outputs);
    let array = |v: Vec<f64>| Array4::from_shape_vec(shape, v).expect("the parts fill [rows, cols, O, O]");
    let groups =
        if breakdown { parts.groups.into_iter().map(|(name, k)| (name, array(k))).collect() } else { BTreeMap::new() };
    Gram { row_start: parts.slab.start, values: array(values), groups, stats: parts.stats }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_rows_are_named_by_id() {
        let values = vec![1.0, 0.5, f64::NAN, 2.0, 0.1, f64::INFINITY];
        let values = Array4::from_shape_vec((3, 2, 1, 1), values).unwrap();
        let k = Gram { row_start: 0, values, groups: BTreeMap::new(), stats: GramStats::default() };
        assert_eq!(k.non_finite_rows(), vec![1, 2]);
        let ids: Vec<String> = ["r0", "r1", "r2"].iter().map(|s| s.to_string()).collect();
        let e = k.check_finite(&ids).unwrap_err().to_string();
        assert!(e.contains("rows r1, r2") && !e.contains("r0"), "{e}");
        assert!(e.contains("Gram matrix"), "{e}");
        let fine = Gram { values: Array4::ones((3, 2, 1, 1)), ..k.clone() };
        assert!(fine.check_finite(&ids).is_ok());
        // A slab starting at row 1 names the ids of X₁'s rows 2 and 3.
        let values = Array4::from_shape_vec((2, 2, 1, 1), vec![1.0, 1.0, 1.0, f64::NAN]).unwrap();
        let slab = Gram { row_start: 1, values, ..k };
        let e = slab.check_finite(&ids).unwrap_err().to_string();
        assert!(e.contains("rows r2") && !e.contains("r1"), "{e}");
    }
}
