//! The demo's settings: one [`DemoConfig`] per [`DemoMode`] (`--quick` or the full run), each
//! stage's sizes in its own struct so that a stage's cache key depends on its own settings only,
//! and the duration estimate printed before any work.

use std::ops::RangeInclusive;

use serde::Serialize;

use crate::acbo::local_query::split_of_system;
use crate::corpus::{records_per_mec, Split, SplitSizes};
use crate::error::{Error, Result};

use crate::gpu::ComputeDevice;
use crate::train::{ClassWeight, Objective};

/// Seconds per Corr2Cause training record and epoch (the hand-written CPU training step). This
/// and the costs below were calibrated on quick runs on 2 CPU cores and rounded up for
/// contention (the runs: docs/demo.md).
const SECONDS_PER_TRAIN_RECORD_EPOCH: f64 = 0.007;
/// Seconds per local query record and epoch (19–20 tokens each, bucketed by length: a small
/// fraction of a Corr2Cause record's cost).
const SECONDS_PER_LOCAL_RECORD_EPOCH: f64 = 0.001;
/// Seconds per test record and model (the hand-written CPU forward).
const SECONDS_PER_TEST_RECORD: f64 = 0.008;
/// Seconds per planned eNTK Gram entry, margins and gradients included (pairs share inputs, so
/// fewer entries are computed than planned).
const SECONDS_PER_GRAM_ENTRY: f64 = 0.001;
/// SFT epochs of the full demo (early stopping on the class-weighted dev loss, patience 2).
/// The budget on a shared 2-core machine: a run on the whole n = 5 corpus (142 MECs) took
/// 504 s for its first epoch alone (docs/demo.md).
const SFT_EPOCHS: usize = 3;
/// SFT peak learning rate (AdamW, warmup + linear decay).
const SFT_LEARNING_RATE: f64 = 1e-3;
/// DPO epochs of the full demo (from the SFT model).
const DPO_EPOCHS: usize = 1;
/// DPO peak learning rate: a tenth of SFT's.
const DPO_LEARNING_RATE: f64 = 1e-4;
/// DPO β.
const DPO_BETA: f64 = 0.1;
/// Corr2Cause MECs up to relabelling for n = 2..5 (`ntkgap generate` prints them).
const RELABELLING_CLASSES: [(usize, usize); 4] = [(2, 2), (3, 5), (4, 20), (5, 142)];

/// How much of the story to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoMode {
    /// `--quick`: SFT only, small corpora, few pairs; under 10 minutes on 2 CPU cores.
    Quick,
    /// The default: SFT and DPO, larger corpora, more pairs and A-CBO items.
    Full,
}

/// Stage 1: corpora and near-miss pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataConfig {
    /// Corr2Cause sizes of the training corpus (split by the original rule: sizes with fewer
    /// than 1000 items go to dev and test only).
    pub train_nodes: RangeInclusive<usize>,
    /// At most this many MECs per size of the training corpus (seeded sample).
    pub train_max_mecs: usize,
    /// MECs of the n = 6 Corr2Cause hard split.
    pub hard_n6_mecs: usize,
    /// Extended Corr2Cause sizes of the hard split.
    pub hard_extended_nodes: RangeInclusive<usize>,
    /// Distinct MECs per extended size.
    pub hard_extended_per_size: usize,
    /// Near-miss pairs kept per number of variables (same premise, opposite labels).
    pub pairs_per_size: usize,
    /// Samples per arm in the chain-versus-fork simulation (notebook 1).
    pub chain_fork_samples: usize,
    /// Random systems per size of the local-query corpus (`ntkgap local-queries`, sizes
    /// `train_nodes.start()..=hard_extended_nodes.end()`): one simulated experiment per
    /// (system, intervention), one text per target; mixed into the training data so that the
    /// same weights answer the global question and the `model:DIR` oracle's local queries.
    pub local_systems: usize,
    /// S of the local queries' experiments (samples per arm); the model oracle runs its
    /// experiments with the same S.
    pub local_samples: usize,
    /// Maximum encoded length (the built-in model's 512 positions).
    pub max_length: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

impl DataConfig {
    /// The sizes of the local-query corpus: every size of the test file.
    pub fn local_nodes(&self) -> RangeInclusive<usize> {
        *self.train_nodes.start()..=*self.hard_extended_nodes.end()
    }
}

/// Stage 2: fine-tuning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainPlan {
    /// `builtin:tiny` (the embedded default; nothing is downloaded).
    pub model: String,
    /// The objectives: SFT from θ₀ (fresh weights from the seed), then DPO from the SFT model.
    pub objectives: Vec<Objective>,
    /// Epochs per objective (early stopping on dev loss may end sooner).
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Example weights of the loss: balanced classes within Corr2Cause records and within local
    /// query texts, so that the rare "entailment" class is not drowned by the majority.
    pub class_weight: ClassWeight,
    /// Seed of the initial weights and of shuffling.
    pub seed: u64,
    /// DPO's settings (used when `objectives` holds DPO).
    pub dpo: DpoPlan,
}

/// DPO as practitioners run it: it starts from the SFT model (`train/sft/best`), which is also
/// its frozen reference π_ref, with a small learning rate and few epochs, because the DPO loss
/// softplus(−β·s·(m − m_ref)) keeps rewarding a larger margin gap long after the answer is right
/// and over-optimises (collapses) when trained as long and as fast as SFT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DpoPlan {
    /// Epochs (early stopping on the dev loss may end sooner).
    pub epochs: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// β, the temperature of the DPO loss (strength of the tie to the reference).
    pub beta: f64,
}

/// Stage 4: the eNTK and the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EntkConfig {
    /// Examples per forward/backward block of the Gram computation (never changes K).
    pub block: usize,
    /// Corr2Cause training records (a seeded sample of `data/train.jsonl`) the kernel-ridge
    /// predictor is fitted on; λ is the default `RelativeRidge` of `ntkgap bound`.
    pub ridge_train_records: usize,
    /// Host memory for the eNTK's per-example signals and feature chunks
    /// ([`crate::ntk::GramOptions::memory_budget`]): signals above half of it spill to a
    /// temporary file. Never changes K beyond f32 rounding.
    pub memory_budget: usize,
}

/// Stage 5: A-CBO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcboConfig {
    /// At most this many test records per number of variables (seeded choice).
    pub items_per_size: usize,
    /// η of the `noisy:η` oracle.
    pub noisy_error_rate: f64,
    /// S of the `experiment:S` oracle (samples per intervention arm).
    pub experiment_samples: usize,
    /// Random systems per size for calibrating the experiment oracle.
    pub calibration_systems: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

/// Everything `ntkgap demo` does, resolved from the command line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoConfig {
    /// Quick or full.
    pub mode: DemoMode,
    /// Where the model stages run. Part of the stage keys (as `"cpu"`/`"wgpu"`), so a GPU run
    /// never reuses a CPU stage or the reverse.
    pub device: ComputeDevice,
    /// Stage 1.
    pub data: DataConfig,
    /// Stage 2.
    pub train: TrainPlan,
    /// Stage 4.
    pub kernel: EntkConfig,
    /// Stage 5.
    pub acbo: AcboConfig,
}

impl DemoConfig {
    /// The settings of `mode` with `seed` on `device`.
    pub fn new(mode: DemoMode, seed: u64, device: ComputeDevice) -> Self {
        let quick = mode == DemoMode::Quick;
        let data = DataConfig {
            train_nodes: 3..=5,
            train_max_mecs: if quick { 25 } else { 80 },
            hard_n6_mecs: if quick { 6 } else { 20 },
            hard_extended_nodes: if quick { 7..=8 } else { 7..=9 },
            hard_extended_per_size: if quick { 2 } else { 4 },
            pairs_per_size: if quick { 8 } else { 16 },
            chain_fork_samples: 400,
            local_systems: if quick { 10 } else { 20 },
            local_samples: 50,
            max_length: 512,
            seed,
        };
        let objectives = if quick { vec![Objective::Sft] } else { vec![Objective::Sft, Objective::Dpo] };
        let train = TrainPlan {
            model: "builtin:tiny".into(),
            objectives,
            epochs: if quick { 2 } else { SFT_EPOCHS },
            batch_size: 16,
            learning_rate: SFT_LEARNING_RATE,
            class_weight: ClassWeight::Balanced,
            seed,
            dpo: DpoPlan { epochs: DPO_EPOCHS, learning_rate: DPO_LEARNING_RATE, beta: DPO_BETA },
        };
        let acbo = AcboConfig {
            items_per_size: if quick { 60 } else { 200 },
            noisy_error_rate: 0.1,
            experiment_samples: 50,
            calibration_systems: if quick { 30 } else { 50 },
            seed,
        };
        let kernel = EntkConfig { block: 8, ridge_train_records: if quick { 64 } else { 128 }, memory_budget: 2 << 30 };
        Self { mode, device, data, train, kernel, acbo }
    }

    /// Check the sizes (they are fixed per mode; this guards edits to [`DemoConfig::new`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("train_max_mecs", self.data.train_max_mecs),
            ("pairs_per_size", self.data.pairs_per_size),
            ("chain_fork_samples", self.data.chain_fork_samples),
            ("epochs", self.train.epochs),
            ("items_per_size", self.acbo.items_per_size),
            ("block", self.kernel.block),
            ("ridge_train_records", self.kernel.ridge_train_records),
            ("local_systems", self.data.local_systems),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(Error::invalid(format!("demo setting {name}"), "must be at least 1"));
        }
        if self.train.objectives.is_empty() || self.train.objectives[0] != Objective::Sft {
            return Err(Error::invalid(
                "demo setting objectives",
                "must start with SFT (the bound and A-CBO stages read it)",
            ));
        }
        Ok(())
    }

    /// A rough wall-clock estimate in seconds on 2 CPU cores when every stage runs: per-record
    /// and per-Gram-entry costs measured on the quick run (docs/demo.md), scaled by this
    /// configuration's record counts. Contention from other jobs makes it longer.
    pub fn expected_seconds(&self) -> f64 {
        let (train, test) = self.record_counts();
        let objectives = self.train.objectives.len() as f64;
        let inputs = 2.0 * (self.data.pairs_per_size * self.size_count()) as f64;
        let per_epoch = SECONDS_PER_TRAIN_RECORD_EPOCH * train as f64
            + SECONDS_PER_LOCAL_RECORD_EPOCH * self.local_train_records() as f64;
        let dpo_epochs = if self.train.objectives.contains(&Objective::Dpo) { self.train.dpo.epochs } else { 0 };
        let training = per_epoch * (self.train.epochs + dpo_epochs) as f64;
        let evaluation = SECONDS_PER_TEST_RECORD * test as f64 * objectives;
        // Per objective the network's K₀ and K_T; for SFT also the kernel-ridge Gram.
        let ridge = inputs + self.kernel.ridge_train_records as f64;
        let gram = SECONDS_PER_GRAM_ENTRY * (2.0 * objectives * inputs * inputs + ridge * ridge);
        20.0 + training + evaluation + gram + 10.0
    }

    /// Local query records in the training mix: n(n − 1) per training system and size.
    fn local_train_records(&self) -> usize {
        let train_systems = (0..self.data.local_systems).filter(|&i| split_of_system(i) == Split::Train).count();
        self.data.local_nodes().map(|n| n * (n - 1) * train_systems).sum()
    }

    /// Estimated (training, test) record counts from the split rule and the corpus sizes.
    fn record_counts(&self) -> (usize, usize) {
        let (mut train, mut test) = (0, 0);
        for n in self.data.train_nodes.clone() {
            let mecs = RELABELLING_CLASSES
                .iter()
                .find(|(m, _)| *m == n)
                .map_or(self.data.train_max_mecs, |(_, c)| (*c).min(self.data.train_max_mecs));
            let total = mecs * records_per_mec(n) as usize;
            let split = SplitSizes::for_total(total as u64);
            train += split.train as usize;
            test += split.test as usize;
        }
        test += self.data.hard_n6_mecs * records_per_mec(6) as usize;
        test += self
            .data
            .hard_extended_nodes
            .clone()
            .map(|n| self.data.hard_extended_per_size * records_per_mec(n) as usize)
            .sum::<usize>();
        (train, test)
    }

    /// Number of distinct graph sizes in the test file.
    pub fn size_count(&self) -> usize {
        let train = self.data.train_nodes.clone().count();
        train + 1 + self.data.hard_extended_nodes.clone().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_validate_and_quick_is_smaller() {
        let quick = DemoConfig::new(DemoMode::Quick, 0, ComputeDevice::cpu());
        let full = DemoConfig::new(DemoMode::Full, 0, ComputeDevice::cpu());
        quick.validate().unwrap();
        full.validate().unwrap();
        assert!(quick.expected_seconds() < full.expected_seconds());
        assert!(quick.expected_seconds() < 600.0, "quick must be planned under 10 minutes");
        assert_eq!(quick.record_counts(), (1200, 555 + 540 + 252 + 336), "the counts of the measured quick run");
        assert_eq!(quick.local_train_records(), 1328, "the local queries of the measured quick run");
        assert_eq!(quick.train.objectives, vec![Objective::Sft]);
        assert_eq!(full.train.objectives, vec![Objective::Sft, Objective::Dpo]);
        let mut bad = quick.clone();
        bad.data.pairs_per_size = 0;
        assert!(bad.validate().unwrap_err().to_string().contains("pairs_per_size"));
    }
}
