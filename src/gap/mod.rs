//! The model-driven Theorem 1 check: from a model and near-miss pairs to per-pair rows
//! (`ntkgap bound --model`) and a sweep over graph sizes (`ntkgap sweep`).
//!
//! This is the burn side of [`crate::bound`]: it computes the eNTK Gram matrices (only through
//! [`crate::ntk::gram`]), the model's margins and, for the `network` predictor, the gradients at
//! θ₀; all arithmetic on the resulting numbers (kernel fits, bounds, diagnostics, tables, charts)
//! is in the burn-free [`crate::bound`].
//!
//! * [`model`] — what the check needs of a model ([`GapModel`]): encoder classifiers and
//!   decoders (f = z_yes − z_no of the label words) alike.
//! * [`inputs`] — distinct inputs of a pair list, encoded with the model's tokenizer (a
//!   decoder's prompt tokenizer).
//! * [`analysis`] — one analysis: K (eNTK or last-layer kernel), the predictor's scores and B,
//!   the rows and the summary.
//! * [`network`] — θ₀ versus θ_T: architecture check, ‖θ_T − θ₀‖, ⟨∇f₀(x), θ_T − θ₀⟩.
//! * [`readout`] — the frozen model's own readout: K = φφᵀ, s = ⟨w, φ⟩ + c, B = ‖w‖.
//! * [`train_set`] — the labelled training inputs of a kernel predictor.
//! * [`sweep`] — generate data per graph size, mine pairs, analyse each size.
//!
//! Known gaps: CPU (flex) only, as the eNTK; the kernel predictors are dense O(n³) in the
//! number of training inputs.

pub mod analysis;
pub mod inputs;
pub mod model;
pub mod network;
pub mod readout;
pub mod sweep;
pub mod train_set;

pub use analysis::{analyse, Analysis, AnalysisConfig, AnalysisSummary, GapKernel, PredictorModel, TrainSet};
pub use inputs::PairInputs;
pub use model::GapModel;

/// Progress of a long analysis, one stage at a time (the CLI draws bars).
pub trait Progress {
    /// A stage with `total` units of work starts.
    fn start(&mut self, stage: &str, total: usize);
    /// `done` more units are finished.
    fn advance(&mut self, done: usize);
    /// The current stage is finished.
    fn finish(&mut self);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _stage: &str, _total: usize) {}
    fn advance(&mut self, _done: usize) {}
    fn finish(&mut self) {}
}

/// A [`Progress`] drawing one progress bar per stage, each made by `make(total, stage)` (the
/// CLI's stderr bars, the demo's reporter).
pub struct Bars<F: FnMut(usize, &str) -> indicatif::ProgressBar> {
    make: F,
    bar: Option<indicatif::ProgressBar>,
}

impl<F: FnMut(usize, &str) -> indicatif::ProgressBar> Bars<F> {
    /// Bars made by `make`.
    pub fn new(make: F) -> Self {
        Self { make, bar: None }
    }
}

impl<F: FnMut(usize, &str) -> indicatif::ProgressBar> Progress for Bars<F> {
    fn start(&mut self, stage: &str, total: usize) {
        self.finish();
        self.bar = Some((self.make)(total, stage));
    }
    fn advance(&mut self, done: usize) {
        if let Some(b) = &self.bar {
            b.inc(done as u64);
        }
    }
    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
