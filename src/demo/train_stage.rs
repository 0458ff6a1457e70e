//! Stage 2 (`train/`): fine-tune the built-in model on `data/train_mixed.jsonl` (dev:
//! `data/dev_mixed.jsonl`) — the Corr2Cause training records plus local query texts, so that the
//! same weights can be asked the global question (stage 3) and serve as the `model:DIR` oracle
//! (stage 5) — with each objective of the plan: SFT from θ₀ (fresh weights from the seed), with
//! class-balanced weights, and in the full demo DPO from the SFT model, which is also its frozen
//! reference. Each objective's directory is `ntkgap train`'s layout: `theta0/`, `last/`,
//! `best/` (Hugging Face directories), `history.json`, plus `summary.json` here.

use std::io::IsTerminal;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::demo::config::TrainPlan;
use crate::demo::Reporter;
use crate::error::Result;
use crate::files::write_json_atomic;
use crate::gpu::ComputeDevice;
use crate::model::{load, LoadOptions, LoadedModel, ModelSpec};
use crate::train::data::Examples;
use crate::train::trainer::{EpochRecord, TrainProgress};
use crate::train::{train, Objective, TrainConfig, TrainData};

/// One epoch of one objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Dev accuracy after the epoch.
    pub dev_accuracy: Option<f64>,
    /// Dev loss after the epoch.
    pub dev_loss: Option<f64>,
}

/// What one objective's run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRun {
    /// `sft` or `dpo`.
    pub objective: String,
    /// Optimisation steps.
    pub steps: usize,
    /// Epoch of `best/` (lowest dev loss).
    pub best_epoch: usize,
    /// Early stopping ended the run.
    pub stopped_early: bool,
    /// B = ‖θ_best − θ₀‖ over all parameters.
    pub weight_distance: f64,
    /// Per-epoch records.
    pub epochs: Vec<EpochRow>,
}

/// `train/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainStageSummary {
    /// The model fine-tuned.
    pub model: String,
    /// Encoder parameters of the model.
    pub parameters: usize,
    /// Training records (Corr2Cause and local queries).
    pub train_records: usize,
    /// Of those, local query texts.
    pub local_train_records: usize,
    /// Dev records.
    pub dev_records: usize,
    /// Training records whose premise was truncated.
    pub train_truncated: usize,
    /// One entry per objective, SFT first.
    pub runs: Vec<ObjectiveRun>,
}

/// The directory name of an objective (`sft`, `dpo`).
pub fn objective_name(objective: Objective) -> &'static str {
    match objective {
        Objective::Sft => "sft",
        Objective::Dpo => "dpo",
    }
}

/// Load the plan's model (fresh from its seed) on `device`, its tokenizer capped at `max_length`.
///
/// # Errors
/// As [`load`]; [`crate::Error::InvalidArgument`] for a bad maximum length.
pub fn load_initial(plan: &TrainPlan, max_length: usize, device: &burn::tensor::Device) -> Result<LoadedModel> {
    let mut loaded = load(&ModelSpec::parse(&plan.model)?, &LoadOptions { seed: plan.seed, head_file: None }, device)?;
    loaded.tokenizer.set_max_length(max_length)?;
    Ok(loaded)
}

struct Bar<'a> {
    reporter: &'a dyn Reporter,
    what: String,
    bar: Option<indicatif::ProgressBar>,
}

impl TrainProgress for Bar<'_> {
    fn step(&mut self, step: usize, total: usize, loss: f64) {
        let bar = self.bar.get_or_insert_with(|| self.reporter.bar(total as u64, &self.what));
        bar.set_position(step as u64);
        bar.set_message(format!("{} loss {loss:.4}", self.what));
    }

    fn epoch(&mut self, r: &EpochRecord) {
        let dev = r
            .dev
            .as_ref()
            .map_or(String::new(), |d| format!(", dev accuracy {:.3}, dev loss {:.4}", d.accuracy, d.loss));
        let line =
            format!("  {} epoch {}: train loss {:.4}{dev} ({:.0} s)", self.what, r.epoch, r.train_loss, r.seconds);
        match &self.bar {
            // A bar drawing in place on a terminal prints the line above itself; in a log the
            // bar only writes throttled lines (cli::progress), so the line goes out directly.
            Some(bar) if !bar.is_hidden() && std::io::stderr().is_terminal() => bar.println(line),
            _ => self.reporter.line(&line),
        }
    }
}

fn config(plan: &TrainPlan, objective: Objective) -> TrainConfig {
    let base = TrainConfig {
        objective,
        epochs: plan.epochs,
        learning_rate: plan.learning_rate,
        batch_size: plan.batch_size,
        seed: plan.seed,
        class_weight: plan.class_weight,
        ..TrainConfig::default()
    };
    match objective {
        Objective::Sft => base,
        Objective::Dpo => TrainConfig {
            epochs: plan.dpo.epochs,
            learning_rate: plan.dpo.learning_rate,
            dpo_beta: plan.dpo.beta,
            ..base
        },
    }
}

/// The starting model of `objective`: θ₀ (fresh from the seed) for SFT; for DPO the SFT
/// model `dir/sft/best`, which is also DPO's frozen reference (its margins are computed once
/// before training).
fn start(
    plan: &TrainPlan,
    objective: Objective,
    max_length: usize,
    dir: &Path,
    device: &burn::tensor::Device,
) -> Result<LoadedModel> {
    match objective {
        Objective::Sft => load_initial(plan, max_length, device),
        Objective::Dpo => {
            let spec = ModelSpec::Dir(dir.join(objective_name(Objective::Sft)).join("best"));
            let mut loaded = load(&spec, &LoadOptions { seed: plan.seed, head_file: None }, device)?;
            loaded.tokenizer.set_max_length(max_length)?;
            Ok(loaded)
        }
    }
}

/// Run stage 2 into `dir` (one subdirectory per objective).
///
/// # Errors
/// Model loading, data encoding, a non-finite loss or write failures.
pub fn run(
    plan: &TrainPlan,
    device: &ComputeDevice,
    max_length: usize,
    data: &Path,
    dir: &Path,
    reporter: &dyn Reporter,
) -> Result<TrainStageSummary> {
    let device = device.device(true);
    let probe = load_initial(plan, max_length, &device)?;
    let tokenizer = probe.tokenizer.as_ref();
    let train_set = Examples::load(&data.join("train_mixed.jsonl"), tokenizer, true)?;
    let dev_set = Examples::load(&data.join("dev_mixed.jsonl"), tokenizer, true)?;
    let local_train_records = train_set.records.iter().filter(|r| r.record.text.is_some()).count();
    let parameters = probe.classifier.config.parameter_count();
    let mut runs = Vec::new();
    for &objective in &plan.objectives {
        let loaded = start(plan, objective, max_length, dir, &device)?;
        let pad_id = loaded.tokenizer.pad_id()?;
        let inputs =
            TrainData { train: &train_set, dev: Some(&dev_set), pad_id, files: loaded.tokenizer_json.as_str() };
        let mut bar = Bar { reporter, what: objective_name(objective).to_uppercase(), bar: None };
        let out = dir.join(objective_name(objective));
        let s = train(loaded.classifier, inputs, &config(plan, objective), &out, &device, &mut bar)?;
        if let Some(b) = bar.bar {
            b.finish_and_clear();
        }
        let epochs = s
            .history
            .iter()
            .map(|r| EpochRow {
                epoch: r.epoch,
                train_loss: r.train_loss,
                dev_accuracy: r.dev.as_ref().map(|d| d.accuracy),
                dev_loss: r.dev.as_ref().map(|d| d.loss),
            })
            .collect();
        let run = ObjectiveRun {
            objective: objective_name(objective).into(),
            steps: s.steps,
            best_epoch: s.best_epoch,
            stopped_early: s.stopped_early,
            weight_distance: s.distance_from_initial,
            epochs,
        };
        write_json_atomic(out.join("summary.json"), &run)?;
        // `ntkgap train`'s history.json records each epoch's wall-clock seconds; the demo keeps
        // the same epochs without timings in summary.json so that reruns are byte-identical.
        let history = out.join("history.json");
        std::fs::remove_file(&history).map_err(|e| crate::Error::write(&history, e))?;
        runs.push(run);
    }
    let summary = TrainStageSummary {
        model: plan.model.clone(),
        parameters,
        train_records: train_set.len(),
        local_train_records,
        dev_records: dev_set.len(),
        train_truncated: train_set.summary.truncated,
        runs,
    };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}
