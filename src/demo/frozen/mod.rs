//! `ntkgap demo --model PATH`: the demo's story on a user's **frozen** model (a Hugging Face
//! checkpoint directory or a GGUF file; encoder classifier or decoder language model) — nothing
//! is trained. Five cached stages, the same report layout as the built-in demo:
//!
//! | stage | directory | what | module |
//! |---|---|---|---|
//! | 1 | `data/` | Corr2Cause n = 3..5: the records asked, near-miss pairs, demonstrations' pool | [`stages::data`] |
//! | 2 | `eval/` | the model asked directly, zero-shot and with K demonstrations (decoders) | [`stages::eval`] |
//! | 3 | `kernel/` | eNTK at the frozen weights (kernel ridge) and the last-layer kernel (the model's readout): Theorem 1 and B_min = 1/d_K | [`stages::kernel`] |
//! | 4 | `acbo/` | A-CBO with noisy, experiment and the frozen model as oracles versus the model asked directly | [`stages::acbo`] |
//! | 5 | `img/`, `index.html`, `summary.json` | charts and the report | [`page`] |
//!
//! Every stage key holds the model's identity (path, bytes, modification time), its prompting
//! and the stage's settings, so a changed checkpoint or flag reruns what depends on it.
//!
//! Known gaps: `--quick` asks 4 records per size and analyses 1–2 pairs per size so that a
//! 135 M-parameter model finishes in minutes on 2 CPU cores; the numbers are a demonstration,
//! not a benchmark (docs/demo.md).

pub mod config;
pub mod page;
pub mod stages;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::demo::cache::{StageCache, StageKey, StageStatus};
use crate::demo::entk_rows::EntkStageSummary;
use crate::demo::summary::read_json;
use crate::demo::Reporter;
use crate::error::Result;
use crate::files::memory::{format_bytes, peak_rss_bytes, reset_peak_rss};
use crate::files::{Meta, OutputDir};

pub use config::{FrozenConfig, ModelIdentity, Prompting};
use stages::{FrozenAcboSummary, FrozenDataSummary, FrozenEvalSummary};

/// The stage names, in order.
pub const FROZEN_STAGES: [&str; 5] = ["data", "eval", "kernel", "acbo", "img"];

/// What the report says about the model.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// `decoder` or `encoder`.
    pub family: String,
    /// Parameters.
    pub parameters: usize,
    /// The label words (decoders) `[no, yes]`.
    pub label_words: Option<[String; 2]>,
    /// Loader notes (dequantized tensors, fresh heads), one line each.
    pub notes: Vec<String>,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrozenSummary {
    /// The settings.
    pub config: FrozenConfig,
    /// The model.
    pub model: ModelInfo,
    /// Stage 1.
    pub data: FrozenDataSummary,
    /// Stage 2.
    pub eval: FrozenEvalSummary,
    /// Stage 3.
    pub kernel: EntkStageSummary,
    /// Stage 4.
    pub acbo: FrozenAcboSummary,
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct FrozenRun {
    /// (stage, ran or cached).
    pub stages: Vec<(String, StageStatus)>,
    /// Peak RSS of each stage that ran.
    pub peaks: Vec<(String, Option<u64>)>,
    /// The numbers of the report.
    pub summary: FrozenSummary,
}

/// Load the model once to describe it (family, parameters, label words, notes).
///
/// # Errors
/// Loading failures (a bad checkpoint: exit 2 before anything is written).
pub fn describe(cfg: &FrozenConfig) -> Result<ModelInfo> {
    use burn::module::Module;
    let loaded = stages::load_model(cfg, crate::corpus::ShotSet::none(), false)?;
    Ok(match &loaded {
        crate::model::AnyModel::Encoder(m) => ModelInfo {
            family: "encoder".into(),
            parameters: m.classifier.num_params(),
            label_words: None,
            notes: m
                .initialised
                .iter()
                .map(|n| format!("{n} initialised from the seed (not in the checkpoint)"))
                .collect(),
        },
        crate::model::AnyModel::Decoder(d) => ModelInfo {
            family: "decoder".into(),
            parameters: d.model.num_params(),
            label_words: d.prompting.label_words.clone(),
            notes: d.notes.clone(),
        },
    })
}

fn keys(cfg: &FrozenConfig) -> Result<[StageKey; 5]> {
    let model = (&cfg.model, &cfg.prompting, &cfg.device);
    let data = StageKey::of("data", &(&cfg.data, &cfg.model, &cfg.prompting), &[])?;
    let eval = StageKey::of("eval", &(model, &cfg.eval), &[&data])?;
    let kernel = StageKey::of("kernel", &(model, cfg.block, cfg.data.ridge_records), &[&data])?;
    let acbo = StageKey::of("acbo", &(model, &cfg.acbo, cfg.eval.batch), &[&data])?;
    let img = StageKey::of("img", &(cfg.mode, &cfg.model), &[&data, &eval, &kernel, &acbo])?;
    Ok([data, eval, kernel, acbo, img])
}

fn stage_meta(dir: &Path, cfg: &FrozenConfig, stage: &str) -> Result<()> {
    let mut meta = Meta::new(Some(cfg.data.seed));
    if cfg.model.path.is_file() {
        meta.add_input(&cfg.model.path)?;
    }
    meta.set("stage", stage).set("mode", cfg.mode).set("config", cfg);
    meta.write(dir.join("meta.json"))
}

fn body(k: usize, cfg: &FrozenConfig, cache: &StageCache, reporter: &dyn Reporter, dir: &Path) -> Result<()> {
    let data = cache.dir("data");
    match k {
        0 => stages::data(cfg, dir).map(|_| ()),
        1 => stages::eval(cfg, &data, dir, reporter).map(|_| ()),
        2 => stages::kernel(cfg, &data, dir, reporter).map(|_| ()),
        _ => stages::acbo(cfg, &data, dir, reporter).map(|_| ()),
    }?;
    stage_meta(dir, cfg, FROZEN_STAGES[k])
}

fn run_one(
    k: usize,
    cache: &StageCache,
    key: &StageKey,
    reporter: &dyn Reporter,
    work: impl FnOnce(&Path) -> Result<()>,
) -> Result<(String, StageStatus, Option<u64>)> {
    let name = FROZEN_STAGES[k];
    let started = Instant::now();
    let cached = cache.is_current(name, key);
    reporter.line(&format!("[{}/{}] {name}{}", k + 1, FROZEN_STAGES.len(), if cached { ": cached" } else { "" }));
    let measurable = reset_peak_rss();
    let status = cache.run(name, key, work)?;
    let peak = if measurable { peak_rss_bytes() } else { None };
    if status == StageStatus::Ran {
        let peak_text = peak.map_or_else(String::new, |p| format!(", peak RSS {}", format_bytes(p)));
        reporter.line(&format!("      {name} done in {:.0} s{peak_text}", started.elapsed().as_secs_f64()));
    }
    Ok((name.to_string(), status, peak))
}

/// Run (or reuse) every stage into `out` and write the report.
///
/// # Errors
/// Any stage's error (completed stages stay cached); unwritable files.
pub fn run(
    cfg: &FrozenConfig,
    model: &ModelInfo,
    out: &Path,
    fresh: bool,
    reporter: &dyn Reporter,
) -> Result<FrozenRun> {
    let out_dir = OutputDir::create(out)?;
    let cache = StageCache::new(out, fresh);
    let keys = keys(cfg)?;
    let mut ran = Vec::new();
    for (k, key) in keys.iter().enumerate().take(4) {
        ran.push(run_one(k, &cache, key, reporter, |dir| body(k, cfg, &cache, reporter, dir))?);
    }
    let summary = FrozenSummary {
        config: cfg.clone(),
        model: model.clone(),
        data: read_json(&out.join("data/summary.json"))?,
        eval: read_json(&out.join("eval/summary.json"))?,
        kernel: read_json(&out.join("kernel/summary.json"))?,
        acbo: read_json(&out.join("acbo/summary.json"))?,
    };
    let charts = |dir: &Path| {
        page::write_charts(&summary, dir)?;
        stage_meta(dir, cfg, "img")
    };
    ran.push(run_one(4, &cache, &keys[4], reporter, charts)?);
    page::write(out, &summary)?;
    out_dir.keep();
    let stages = ran.iter().map(|(name, status, _)| (name.clone(), *status)).collect();
    let peaks = ran.into_iter().filter(|(_, s, _)| *s == StageStatus::Ran).map(|(n, _, p)| (n, p)).collect();
    Ok(FrozenRun { stages, peaks, summary })
}

/// The report's path under `out`.
pub fn index(out: &Path) -> PathBuf {
    out.join("index.html")
}
