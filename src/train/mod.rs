//! Fine-tuning and evaluation of either model family through [`crate::model::MarginModel`]: the
//! encoder classifier and the decoder (label-word or 2-label sequence-classification margin).
//!
//! * [`objective`] — SFT (cross-entropy) and DPO, both written on the margin of
//!   [`crate::model::Classifier::score`] / [`crate::model::DecoderLm::score`], the one scalar
//!   path.
//! * [`schedule`] — linear warmup then linear decay of the learning rate.
//! * [`data`] — labelled, encoded examples and seeded shuffling into batches.
//! * [`trainer`] — the AdamW loop with per-epoch dev evaluation, early stopping, checkpoints and
//!   the initial parameters θ₀ (for ‖θ_T − θ₀‖ and kernel drift later).
//! * [`host_step`] — the training step's gradient on the CPU by the eNTK's hand-written
//!   forward + backward (encoder classifiers; burn's autodiff elsewhere), applied by burn's AdamW.
//! * [`eval`] — accuracy, F1, confidence of wrong answers, by number of variables and relation.
//!
//! Known gaps: no dropout during training (the forward is the eval-mode forward, which keeps
//! training, inference and the eNTK on one path); binary (2-label) training only.

pub mod data;
pub mod eval;
pub mod host_step;
pub mod objective;
pub mod schedule;
pub mod trainer;

pub use objective::{ClassWeight, Objective};
pub use trainer::{train, TrainConfig, TrainData, TrainSummary};
