//! The fine-tuning loop: AdamW, warmup + linear decay, per-epoch dev evaluation, early stopping
//! on dev loss (ties: higher dev accuracy; loss rather than accuracy because Corr2Cause labels are
//! imbalanced and the majority class already scores high), checkpoints, and θ₀.
//!
//! Output directory layout (each model directory is a Hugging Face directory):
//! `theta0/` the initial parameters θ₀, `last/` the model after the latest epoch, `best/` the
//! model of the best dev epoch (= `last/` without dev data), `history.json` per-epoch records.
//!
//! The loop is written once against [`MarginModel`]: the encoder classifier and the decoder
//! (label-word margin z_yes − z_no, or a 2-label sequence-classification head) train the same
//! way.

use std::path::Path;
use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array1;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::write_json_atomic;
use crate::model::dense::tensor_to_host;
use crate::model::weights::{distance, WeightMap};
use crate::model::MarginModel;
use crate::tokenize::{pad_batch, Encoding};
use crate::train::data::{shuffled_batches, Examples};
use crate::train::eval::{evaluate, Metrics, Prediction};
use crate::train::objective::{
    class_weights, dpo_loss_weighted, margin_loss_host, sft_loss_host, sft_loss_weighted, ClassWeight, MarginLoss,
    Objective,
};
use crate::train::schedule::WarmupLinear;

/// Fine-tuning settings (validated by [`TrainConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainConfig {
    /// Loss. Default SFT.
    pub objective: Objective,
    /// Maximum number of epochs (1..=1000). Default 3.
    pub epochs: usize,
    /// Peak learning rate (0, 1]. Default 1e-3 for built-in models, 2e-5 for checkpoints.
    pub learning_rate: f64,
    /// Examples per step (1..=4096). Default 16.
    pub batch_size: usize,
    /// Seed of shuffling (and of fresh weights, at load time). Default 0.
    pub seed: u64,
    /// Fraction of all steps spent warming up, [0, 1). Default 0.1.
    pub warmup_fraction: f64,
    /// AdamW decoupled weight decay, [0, 1). Default 0.01.
    pub weight_decay: f64,
    /// DPO temperature β > 0. Default 0.1.
    pub dpo_beta: f64,
    /// Epochs without dev-loss improvement before stopping (≥ 1). Default 2.
    pub patience: usize,
    /// Example weights in the loss (default none). With [`ClassWeight::Balanced`] the dev loss
    /// that picks `best/` and drives early stopping is weighted the same way (balanced on the
    /// dev set's own class counts), so that model selection judges the objective trained.
    pub class_weight: ClassWeight,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            objective: Objective::Sft,
            epochs: 3,
            learning_rate: 1e-3,
            batch_size: 16,
            seed: 0,
            warmup_fraction: 0.1,
            weight_decay: 0.01,
            dpo_beta: 0.1,
            patience: 2,
            class_weight: ClassWeight::None,
        }
    }
}

impl TrainConfig {
    /// Check every field.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, reason: String| Err(Error::setting(name, reason));
        if !(1..=1000).contains(&self.epochs) {
            return bad("epochs", format!("{} is outside 1..=1000", self.epochs));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad("learning_rate", format!("{} is outside (0, 1]", self.learning_rate));
        }
        if !(1..=4096).contains(&self.batch_size) {
            return bad("batch_size", format!("{} is outside 1..=4096", self.batch_size));
        }
        if !(0.0..1.0).contains(&self.warmup_fraction) {
            return bad("warmup_fraction", format!("{} is outside [0, 1)", self.warmup_fraction));
        }
        if !(0.0..1.0).contains(&self.weight_decay) {
            return bad("weight_decay", format!("{} is outside [0, 1)", self.weight_decay));
        }
        if !(self.dpo_beta.is_finite() && self.dpo_beta > 0.0) {
            return bad("dpo_beta", format!("{} must be a positive number", self.dpo_beta));
        }
        if self.patience == 0 {
            return bad("patience", "must be at least 1".into());
        }
        Ok(())
    }
}

/// One epoch's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Dev metrics after the epoch (when dev data was given).
    pub dev: Option<Metrics>,
    /// The class-weighted dev loss (only with [`ClassWeight::Balanced`]): what selects `best/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_weighted_loss: Option<f64>,
    /// Learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Wall-clock seconds of the epoch (training and dev evaluation).
    pub seconds: f64,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    /// Per-epoch records.
    pub history: Vec<EpochRecord>,
    /// Epoch of the `best/` model.
    pub best_epoch: usize,
    /// True when early stopping ended the run before `epochs`.
    pub stopped_early: bool,
    /// Optimisation steps taken.
    pub steps: usize,
    /// ‖θ_best − θ₀‖ (Euclidean norm over all parameters).
    pub distance_from_initial: f64,
}

/// Callbacks for progress reporting (the CLI draws bars; tests pass no-ops).
pub trait TrainProgress {
    /// After every optimisation step: global step, total steps, the step's loss.
    fn step(&mut self, step: usize, total: usize, loss: f64);
    /// After every epoch.
    fn epoch(&mut self, record: &EpochRecord);
}

/// No progress output.
pub struct Silent;

impl TrainProgress for Silent {
    fn step(&mut self, _: usize, _: usize, _: f64) {}
    fn epoch(&mut self, _: &EpochRecord) {}
}

/// What a training run reads besides the model; `F` is what a checkpoint saves besides the
/// weights ([`MarginModel::Files`]: the `tokenizer.json` text of an encoder, the
/// [`crate::model::decoder::DecoderFiles`] of a decoder).
pub struct TrainData<'a, F: ?Sized> {
    /// Labelled training examples.
    pub train: &'a Examples,
    /// Labelled dev examples (per-epoch evaluation, early stopping, `best/`).
    pub dev: Option<&'a Examples>,
    /// The tokenizer's pad id.
    pub pad_id: u32,
    /// The files saved with every checkpoint.
    pub files: &'a F,
}

impl<F: ?Sized> Clone for TrainData<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: ?Sized> Copy for TrainData<'_, F> {}

/// The best dev result so far: (epoch, accuracy, loss).
type Best = Option<(usize, f64, f64)>;

struct Run<'a, F: ?Sized> {
    data: TrainData<'a, F>,
    config: &'a TrainConfig,
    out: &'a Path,
    device: &'a Device,
    schedule: WarmupLinear,
    lengths: Vec<usize>,
    reference: Option<Vec<f32>>,
    weights: Option<Vec<f32>>,
}

/// Fine-tune `model` (on the autodiff `device`) on `data.train`, evaluating on `data.dev`
/// after each epoch, writing θ₀ and checkpoints into `out` (see the module docs).
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad config, a model without a binary margin or an empty
/// training set; [`Error::Numerical`] when the loss becomes non-finite; [`Error::Write`] for
/// unwritable outputs.
pub fn train<M: MarginModel>(
    mut model: M,
    data: TrainData<'_, M::Files>,
    config: &TrainConfig,
    out: &Path,
    device: &Device,
    progress: &mut dyn TrainProgress,
) -> Result<TrainSummary> {
    config.validate()?;
    model.check_binary()?;
    if data.train.is_empty() {
        return Err(Error::setting("data", "no training examples"));
    }
    model.valid().save(data.files, &out.join("theta0"))?;
    let theta0 = model.weights()?;
    let run = Run::new(&model, data, config, out, device)?;
    let mut optimizer = AdamWConfig::new().with_weight_decay(config.weight_decay as f32).with_epsilon(1e-8).init();
    let (mut history, mut step, mut best, mut since_best, mut stopped_early) = (Vec::new(), 0, None, 0, false);
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        let (next, train_loss) = run.epoch(model, &mut optimizer, epoch, &mut step, progress)?;
        model = next;
        let (dev, dev_weighted_loss, improved) = run.checkpoint(&model, epoch, &mut best)?;
        since_best = if improved { 0 } else { since_best + 1 };
        let learning_rate = run.schedule.rate(step.saturating_sub(1));
        let seconds = started.elapsed().as_secs_f64();
        let record = EpochRecord { epoch, train_loss, dev, dev_weighted_loss, learning_rate, seconds };
        progress.epoch(&record);
        history.push(record);
        write_json_atomic(out.join("history.json"), &history)?;
        if data.dev.is_some() && since_best >= config.patience && epoch < config.epochs {
            stopped_early = true;
            break;
        }
    }
    let best_weights = WeightMap::read_safetensors(&out.join("best").join("model.safetensors"))?;
    let (distance_from_initial, _) = distance(&best_weights, &theta0);
    Ok(TrainSummary { history, best_epoch: best.map_or(0, |b| b.0), stopped_early, steps: step, distance_from_initial })
}

impl<'a, F: ?Sized> Run<'a, F> {
    fn new<M: MarginModel<Files = F>>(
        model: &M,
        data: TrainData<'a, F>,
        config: &'a TrainConfig,
        out: &'a Path,
        device: &'a Device,
    ) -> Result<Self> {
        let reference = match config.objective {
            Objective::Dpo => Some(margins(&model.valid(), data.train, data.pad_id, config.batch_size)?.to_vec()),
            Objective::Sft => None,
        };
        let total = data.train.len().div_ceil(config.batch_size) * config.epochs;
        let schedule = WarmupLinear {
            peak: config.learning_rate,
            warmup_steps: (config.warmup_fraction * total as f64).round() as usize,
            total_steps: total,
        };
        let lengths = data.train.records.iter().map(|r| r.encoding.len()).collect();
        let weights =
            (config.class_weight != ClassWeight::None).then(|| example_weights(data.train, config.class_weight));
        Ok(Self { data, config, out, device, schedule, lengths, reference, weights })
    }

    /// One pass over the training set; returns the model and the mean step loss.
    fn epoch<M: MarginModel<Files = F>>(
        &self,
        mut model: M,
        optimizer: &mut ModuleOptimizer,
        epoch: usize,
        step: &mut usize,
        progress: &mut dyn TrainProgress,
    ) -> Result<(M, f64)> {
        let batches = shuffled_batches(&self.lengths, self.config.batch_size, self.config.seed, epoch);
        let mut loss_sum = 0.0;
        for indices in &batches {
            let (next, loss) = self.step(model, optimizer, indices, self.schedule.rate(*step))?;
            model = next;
            loss_sum += loss;
            *step += 1;
            progress.step(*step, self.schedule.total_steps, loss);
        }
        Ok((model, loss_sum / batches.len() as f64))
    }

    /// Evaluate on dev, save `last/` and (when dev improved) `best/`.
    fn checkpoint<M: MarginModel<Files = F>>(
        &self,
        model: &M,
        epoch: usize,
        best: &mut Best,
    ) -> Result<(Option<Metrics>, Option<f64>, bool)> {
        let valid = model.valid();
        let scored = self
            .data
            .dev
            .map(|d| dev_metrics(&valid, d, self.data.pad_id, self.config.batch_size, self.config.class_weight))
            .transpose()?;
        let (dev, weighted) = scored.map_or((None, None), |(m, w)| (Some(m), w));
        valid.save(self.data.files, &self.out.join("last"))?;
        let (acc, loss) = dev.as_ref().map_or((0.0, 0.0), |m| (m.accuracy, weighted.unwrap_or(m.loss)));
        let improved = best.is_none_or(|(_, a, l)| loss < l || (loss == l && acc > a));
        if improved {
            *best = Some((epoch, acc, loss));
            valid.save(self.data.files, &self.out.join("best"))?;
        }
        Ok((dev, weighted, improved))
    }

    fn step<M: MarginModel<Files = F>>(
        &self,
        model: M,
        optimizer: &mut ModuleOptimizer,
        indices: &[usize],
        rate: f64,
    ) -> Result<(M, f64)> {
        let (train, device) = (self.data.train, self.device);
        let encodings: Vec<_> = indices.iter().map(|&i| train.records[i].encoding.clone()).collect();
        let signs: Vec<f32> = indices.iter().map(|&i| if train.labels[i] == 1 { 1.0 } else { -1.0 }).collect();
        let weights: Option<Vec<f32>> = self.weights.as_ref().map(|w| indices.iter().map(|&i| w[i]).collect());
        let reference: Option<Vec<f32>> = self.reference.as_ref().map(|r| indices.iter().map(|&i| r[i]).collect());
        let loss = MarginLoss {
            signs: &signs,
            reference: reference.as_deref(),
            beta: self.config.dpo_beta,
            weights: weights.as_deref(),
        };
        let host = model.host_gradients((&encodings, self.data.pad_id), device, &|m| margin_loss_host(m, &loss))?;
        let (value, grads) = match host {
            Some(step) => step,
            None => self.autodiff_step(&model, &encodings, &loss)?,
        };
        if !value.is_finite() {
            return Err(Error::Numerical {
                context: "training loss".into(),
                reason: format!("loss became {value}; lower `learning_rate`"),
            });
        }
        Ok((optimizer.step(rate, model, grads), value))
    }

    /// The step's loss and gradients by burn's autodiff (where [`MarginModel::host_gradients`]
    /// has no hand-written path).
    fn autodiff_step<M: MarginModel<Files = F>>(
        &self,
        model: &M,
        encodings: &[Encoding],
        loss: &MarginLoss<'_>,
    ) -> Result<(f64, GradientsParams)> {
        let device = self.device;
        let batch = model.batch(&pad_batch(encodings, self.data.pad_id)?, device)?;
        let n = encodings.len();
        let vector = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [n]), device);
        let margin = model.margin(&batch);
        let weight = loss.weights.map(vector);
        let sign = vector(loss.signs);
        let value = match loss.reference {
            Some(reference) => dpo_loss_weighted(margin, vector(reference), sign, self.config.dpo_beta, weight),
            None => sft_loss_weighted(margin, sign, weight),
        };
        let host = f64::from(tensor_to_host(value.clone())?.data[0]);
        Ok((host, GradientsParams::from_grads(value.backward(), model)))
    }
}

/// Margins of every example of `set` under `model` (inference device).
///
/// # Errors
/// When an example does not fit the model.
pub fn margins<M: MarginModel>(model: &M, set: &Examples, pad_id: u32, batch_size: usize) -> Result<Array1<f32>> {
    let device = model.devices().first().cloned().unwrap_or_else(Device::flex);
    model.margins(&set.encodings(), pad_id, batch_size, &device)
}

/// Predictions of `model` on `set` (margins with labels, n_vars and relations).
///
/// # Errors
/// As [`margins`].
pub fn predictions<M: MarginModel>(
    model: &M,
    set: &Examples,
    pad_id: u32,
    batch_size: usize,
) -> Result<Vec<Prediction>> {
    let m = margins(model, set, pad_id, batch_size)?;
    Ok(set
        .records
        .iter()
        .zip(&set.labels)
        .zip(m)
        .map(|((r, &label), margin)| Prediction {
            margin: f64::from(margin),
            label,
            n_vars: r.record.n_vars,
            relation: r.record.relation.map(|x| x.as_str().to_string()),
        })
        .collect())
}

/// The weight of every example of `set` under `scheme`, balanced within each kind of record
/// (Corr2Cause records with a premise; free-text records such as local query texts).
pub fn example_weights(set: &Examples, scheme: ClassWeight) -> Vec<f32> {
    let groups: Vec<usize> = set.records.iter().map(|r| usize::from(r.record.text.is_some())).collect();
    class_weights(&set.labels, &groups, scheme)
}

/// Dev metrics and, with class weighting, the weighted dev loss Σ wᵢ ℓᵢ / Σ wᵢ.
fn dev_metrics<M: MarginModel>(
    model: &M,
    dev: &Examples,
    pad_id: u32,
    batch_size: usize,
    scheme: ClassWeight,
) -> Result<(Metrics, Option<f64>)> {
    let predictions = predictions(model, dev, pad_id, batch_size)?;
    let weighted = (scheme != ClassWeight::None).then(|| {
        let w = example_weights(dev, scheme);
        let (num, den) = predictions.iter().zip(&w).fold((0.0, 0.0), |(n, d), (p, &w)| {
            (n + f64::from(w) * sft_loss_host(p.margin, p.label), d + f64::from(w))
        });
        num / den.max(f64::MIN_POSITIVE)
    });
    Ok((evaluate(&predictions).overall, weighted))
}
