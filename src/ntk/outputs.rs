//! Output modes of the eNTK: which scalar(s) f the kernel differentiates and how per-output
//! kernels combine (the conventions of neural-tangents `empirical.py`, with one difference in
//! `trace`, stated below).
//!
//! Every mode is computed through *virtual examples*: example i with virtual output v is an
//! example of its own whose scalar is f_v(xᵢ) = Σ_o c_{v,o} logit_o(xᵢ). A block of b examples
//! is run as a batch of b·V rows (example-major, row r has virtual output r mod V), so one
//! forward + backward yields every virtual example's signals and the whole engine (signals,
//! features, tiles, kernels) is reused unchanged.
//!
//! | mode | V | f_v | K entry |
//! |---|---|---|---|
//! | `margin` | 1 | [`NtkModel::margin`] (logit₁ − logit₀ for two outputs; decoders z_yes − z_no) | ⟨∇f(xᵢ), ∇f(xⱼ)⟩ |
//! | `logit:k` | 1 | logit_k | ⟨∇logit_k(xᵢ), ∇logit_k(xⱼ)⟩ |
//! | `trace` | O | logit_v | Σ_v ⟨∇logit_v(xᵢ), ∇logit_v(xⱼ)⟩ — a **sum** (neural-tangents' `trace_axes=(-1,)` divides by O) |
//! | `full` | O | logit_v | the O×O block ⟨∇logit_v(xᵢ), ∇logit_w(xⱼ)⟩, K shaped `[N₁, N₂, O, O]` |
//! | `pntk` | 1 | Σ_o logit_o | the pseudo-NTK ⟨∇Σ_o logit_o(xᵢ), ∇Σ_o logit_o(xⱼ)⟩ — an approximation of `trace` (it adds the cross terms v ≠ w; Mohamadi et al. 2023 scale it by 1/O) |
//!
//! Known gaps: no log-probability or softmax outputs.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::probe::Tap;
use crate::ntk::family::NtkModel;
use crate::tokenize::PaddedBatch;

/// Which scalar output(s) the kernel differentiates (see the module docs for the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum OutputMode {
    /// The margin of [`NtkModel::margin`] (logit₁ − logit₀ for two outputs — z_yes − z_no for a
    /// decoder's label words; the log-odds of output 1 otherwise). One backward per block
    /// (default).
    #[default]
    Margin,
    /// One logit, `logit_k`. One backward per block.
    Logit(usize),
    /// Σ over logits of the per-logit kernels (a sum, not neural-tangents' mean). O virtual
    /// outputs: O× the forward/backward work and signal memory; contraction O× margin's.
    Trace,
    /// Every per-logit pair: K is `[N₁, N₂, O, O]`. O× the forward/backward work; contraction
    /// O²× margin's.
    Full,
    /// The pseudo-NTK, the kernel of Σ_o logit_o: an approximation of `Trace` that adds the
    /// cross-logit terms (cost of margin).
    Pntk,
}

impl OutputMode {
    /// Virtual outputs per example: O for `Trace`/`Full`, 1 otherwise.
    pub fn virtual_outputs(self, num_labels: usize) -> usize {
        match self {
            OutputMode::Trace | OutputMode::Full => num_labels,
            _ => 1,
        }
    }

    /// Check the mode against the model's number of labels.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`output`) for `logit:k` with k ≥ O.
    pub fn validate(self, num_labels: usize) -> Result<()> {
        match self {
            OutputMode::Logit(k) if k >= num_labels => Err(Error::setting(
                "output",
                format!("logit:{k} but the model has {num_labels} labels (0..{num_labels})"),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for OutputMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputMode::Margin => write!(f, "margin"),
            OutputMode::Logit(k) => write!(f, "logit:{k}"),
            OutputMode::Trace => write!(f, "trace"),
            OutputMode::Full => write!(f, "full"),
            OutputMode::Pntk => write!(f, "pntk"),
        }
    }
}

impl FromStr for OutputMode {
    type Err = Error;

    /// `margin`, `logit:K`, `trace`, `full` or `pntk`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::setting("output", format!("`{s}` is not one of margin, logit:K, trace, full, pntk"));
        match s {
            "margin" => Ok(OutputMode::Margin),
            "trace" => Ok(OutputMode::Trace),
            "full" => Ok(OutputMode::Full),
            "pntk" => Ok(OutputMode::Pntk),
            _ => s.strip_prefix("logit:").and_then(|k| k.parse().ok()).map(OutputMode::Logit).ok_or_else(bad),
        }
    }
}

/// Where the contraction of virtual outputs (v, w) of examples (i, j) lands in a row-major
/// `[rows, cols, entry]` buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The mode.
    pub mode: OutputMode,
    /// Virtual outputs per example (V).
    pub virtuals: usize,
    /// Columns of K (n₂).
    pub cols: usize,
}

impl Layout {
    /// The layout of `mode` for a model with `num_labels` logits and `cols` columns.
    pub fn new(mode: OutputMode, num_labels: usize, cols: usize) -> Self {
        Self { mode, virtuals: mode.virtual_outputs(num_labels), cols }
    }

    /// Values per (i, j) entry: V² for `Full`, 1 otherwise.
    pub fn entry(&self) -> usize {
        if self.mode == OutputMode::Full {
            self.virtuals * self.virtuals
        } else {
            1
        }
    }

    /// Whether the pair of virtual outputs (v, w) is contracted at all (`Trace`: only v = w).
    pub fn needs(&self, v: usize, w: usize) -> bool {
        self.mode == OutputMode::Full || v == w
    }

    /// Flat index of (row i, column j, v, w).
    pub fn index(&self, i: usize, j: usize, v: usize, w: usize) -> usize {
        let entry = self.entry();
        let within = if entry == 1 { 0 } else { v * self.virtuals + w };
        (i * self.cols + j) * entry + within
    }
}

/// The scalar f of every row of `padded` (built on `device`), `[B]`, whose rows are (example,
/// virtual output) pairs, example-major: row r differentiates virtual output (r + `first`) mod
/// V of `mode`, over the readout of any [`NtkModel`].
///
/// # Errors
/// [`Error::InvalidArgument`] when the mode does not fit the model or the batch does not.
pub fn objective(
    model: &dyn NtkModel,
    padded: &PaddedBatch,
    mode: OutputMode,
    first: usize,
    tap: Tap<'_>,
    device: &Device,
) -> Result<Tensor<1>> {
    let labels = model.num_outputs();
    mode.validate(labels)?;
    if mode == OutputMode::Margin {
        return model.margin(padded, device, tap);
    }
    let virtuals = mode.virtual_outputs(labels);
    let rows = padded.batch_size;
    let weights: Vec<f32> = (0..rows)
        .flat_map(|r| (0..labels).map(move |o| (r, o)))
        .map(|(r, o)| match mode {
            OutputMode::Logit(k) => f32::from(u8::from(o == k)),
            OutputMode::Pntk => 1.0,
            _ => f32::from(u8::from(o == (r + first) % virtuals)),
        })
        .collect();
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [rows, labels]), device);
    Ok((model.readout(padded, device, tap)? * weights).sum_dim(1).reshape([rows]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        for text in ["margin", "logit:0", "logit:3", "trace", "full", "pntk"] {
            assert_eq!(text.parse::<OutputMode>().unwrap().to_string(), text);
        }
        for bad in ["logit", "logit:-1", "logit:x", "Margin", ""] {
            assert!(bad.parse::<OutputMode>().unwrap_err().to_string().contains("`output`"), "{bad}");
        }
        assert!(OutputMode::Logit(2).validate(2).is_err());
        assert!(OutputMode::Logit(1).validate(2).is_ok());
    }

    #[test]
    fn layout_places_full_blocks_and_traces() {
        let full = Layout::new(OutputMode::Full, 3, 4);
        assert_eq!((full.virtuals, full.entry()), (3, 9));
        assert_eq!(full.index(1, 2, 2, 0), (4 + 2) * 9 + 6);
        assert!(full.needs(0, 2));
        let trace = Layout::new(OutputMode::Trace, 3, 4);
        assert_eq!((trace.virtuals, trace.entry()), (3, 1));
        assert!(!trace.needs(0, 2) && trace.needs(1, 1));
        assert_eq!(trace.index(1, 2, 1, 1), 6);
        assert_eq!(Layout::new(OutputMode::Pntk, 3, 4).virtuals, 1);
    }
}
