//! `ntkgap demo`: the whole argument of Roy & Parbhoo (arXiv 2605.27567) end to end on the
//! embedded default (`builtin:tiny`, built-in tokenizer; nothing is downloaded), in six cached
//! stages, ending in a self-contained HTML report.
//!
//! | stage | directory | what | module |
//! |---|---|---|---|
//! | 1 | `data/` | Corr2Cause corpora (small graphs for training, larger for the hard test), near-miss pairs, the chain-versus-fork lesson | [`data`], [`teach`] |
//! | 2 | `train/` | SFT (and DPO in the full demo) on Corr2Cause plus local query texts from one θ₀, checkpoints θ₀ / best | [`train_stage`] |
//! | 3 | `eval/` | the models asked directly, by graph size: accuracy, F1, wrong-answer confidence | [`eval_stage`] |
//! | 4 | `kernel/` | eNTK on the pairs; overlap vs δ vs gap; published vs corrected bound for the fine-tuned network and a kernel-ridge predictor | [`entk_stage`], [`entk_rows`] |
//! | 5 | `acbo/` | A-CBO with the noisy, experiment and frozen-model oracles versus the same model asked directly | [`acbo_stage`] |
//! | 6 | `img/`, `index.html`, `summary.json` | charts, the report, every number in one JSON | [`page`], [`charts`], [`summary`] |
//!
//! Every stage is cached in the output folder ([`cache`]): it reruns only when its settings or an
//! upstream stage changed, or with `--fresh`; a failed stage leaves no half-written directory.
//! Every stage directory holds a `meta.json` (version, command line, seed, input hashes) and no
//! timings, so the same seed gives byte-identical outputs on CPU; timings go to stderr only.
//!
//! `ntkgap demo --model PATH` runs the same story on a user's frozen checkpoint, with no training
//! stage: [`frozen`].
//!
//! Known gaps: `--quick` keeps every sample small (20 pairs, a 40-record kernel-ridge fit, 60
//! A-CBO items per size) so that it finishes in minutes on 2 CPU cores; the numbers are a
//! demonstration, not a benchmark (docs/demo.md).

pub mod acbo_stage;
pub mod cache;
pub mod charts;
pub mod config;
pub mod data;
pub mod entk_rows;
pub mod entk_stage;
pub mod eval_stage;
pub mod frozen;
pub mod page;
pub mod summary;
pub mod teach;
pub mod train_stage;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::files::memory::{format_bytes, peak_rss_bytes, reset_peak_rss};
use crate::files::{Meta, OutputDir};

pub use cache::{StageCache, StageKey, StageStatus};
pub use config::{DemoConfig, DemoMode};
pub use summary::DemoSummary;

/// Where progress goes: lines and bars (the CLI draws them on stderr; tests stay quiet).
pub trait Reporter {
    /// One line of progress text.
    fn line(&self, text: &str);
    /// A progress bar over `len` units labelled `what`.
    fn bar(&self, len: u64, what: &str) -> indicatif::ProgressBar;
}

/// No output at all.
pub struct Quiet;

impl Reporter for Quiet {
    fn line(&self, _: &str) {}
    fn bar(&self, len: u64, _: &str) -> indicatif::ProgressBar {
        let bar = indicatif::ProgressBar::hidden();
        bar.set_length(len);
        bar
    }
}

/// The stage names, in order.
pub const STAGES: [&str; 6] = ["data", "train", "eval", "kernel", "acbo", "img"];

/// What one run did: each stage's status and the summary behind the report.
#[derive(Debug, Clone)]
pub struct DemoRun {
    /// (stage, ran or cached).
    pub stages: Vec<(String, StageStatus)>,
    /// Peak resident set size of each stage that ran (bytes; `None` where the system cannot
    /// measure a stage's own peak), in stage order.
    pub peaks: Vec<(String, Option<u64>)>,
    /// Every number of the report.
    pub summary: DemoSummary,
    /// The output folder.
    pub out: PathBuf,
}

/// The keys of all six stages.
fn keys(config: &DemoConfig) -> Result<[StageKey; 6]> {
    let data = StageKey::of("data", &config.data, &[])?;
    let model_settings = (&config.train, &config.device, config.data.max_length);
    let train = StageKey::of("train", &model_settings, &[&data])?;
    let eval = StageKey::of("eval", &model_settings, &[&data, &train])?;
    let kernel = StageKey::of("kernel", &(&config.kernel, &config.device), &[&data, &train])?;
    let acbo = StageKey::of("acbo", &(&config.acbo, &config.device), &[&data, &train, &eval])?;
    let img = StageKey::of("img", &config.mode, &[&data, &train, &eval, &kernel, &acbo])?;
    Ok([data, train, eval, kernel, acbo, img])
}

fn stage_meta(dir: &Path, config: &DemoConfig, stage: &str, inputs: &[PathBuf]) -> Result<()> {
    let mut meta = Meta::new(Some(config.data.seed));
    for p in inputs {
        meta.add_input(p)?;
    }
    meta.set("stage", stage).set("mode", config.mode).set("config", config);
    meta.write(dir.join("meta.json"))
}

/// The body of stage `k` (0..=4), writing into `dir`.
fn stage_body(k: usize, cfg: &DemoConfig, cache: &StageCache, reporter: &dyn Reporter, dir: &Path) -> Result<()> {
    let (data_dir, train_dir) = (cache.dir("data"), cache.dir("train"));
    let max_length = cfg.data.max_length;
    match k {
        0 => {
            data::run(&cfg.data, dir)?;
            stage_meta(dir, cfg, "data", &[])
        }
        1 => {
            train_stage::run(&cfg.train, &cfg.device, max_length, &data_dir, dir, reporter)?;
            stage_meta(dir, cfg, "train", &[data_dir.join("train_mixed.jsonl"), data_dir.join("dev_mixed.jsonl")])
        }
        2 => {
            let largest = *cfg.data.train_nodes.end();
            eval_stage::run(&cfg.train, &cfg.device, max_length, largest, (&data_dir, &train_dir), dir)?;
            stage_meta(dir, cfg, "eval", &[data_dir.join("test.jsonl"), train_dir.join("sft/best/model.safetensors")])
        }
        3 => {
            let train: train_stage::TrainStageSummary = summary::read_json(&train_dir.join("summary.json"))?;
            let inputs = entk_stage::KernelInputs {
                data: &data_dir,
                trained: &train_dir,
                train: &train,
                plan: &cfg.train,
                max_length,
                device: cfg.device.clone(),
            };
            entk_stage::run(&inputs, &cfg.kernel, dir, reporter)?;
            let sft = train_dir.join("sft");
            stage_meta(
                dir,
                cfg,
                "kernel",
                &[
                    data_dir.join("pairs.jsonl"),
                    data_dir.join("train.jsonl"),
                    sft.join("theta0/model.safetensors"),
                    sft.join("best/model.safetensors"),
                ],
            )
        }
        4 => {
            let model = train_dir.join("sft").join("best");
            let inputs = acbo_stage::AcboInputs {
                data: &data_dir,
                model: &model,
                seed: cfg.train.seed,
                max_length,
                local_samples: cfg.data.local_samples,
                device: cfg.device.clone(),
            };
            acbo_stage::run(&cfg.acbo, &inputs, dir, reporter)?;
            stage_meta(dir, cfg, "acbo", &[data_dir.join("test.jsonl"), model.join("model.safetensors")])
        }
        _ => Err(Error::invalid("demo stage", format!("{k} is not one of 0..=4"))),
    }
}

/// Run stage `k` through the cache, printing its status and time.
fn run_one(
    k: usize,
    cache: &StageCache,
    key: &StageKey,
    reporter: &dyn Reporter,
    body: impl FnOnce(&Path) -> Result<()>,
) -> Result<(String, StageStatus, Option<u64>)> {
    let name = STAGES[k];
    let started = Instant::now();
    let cached = cache.is_current(name, key);
    reporter.line(&format!("[{}/6] {name}{}", k + 1, if cached { ": cached" } else { "" }));
    let measurable = reset_peak_rss();
    let status = cache.run(name, key, body)?;
    let peak = if measurable { peak_rss_bytes() } else { None };
    if status == StageStatus::Ran {
        let peak_text = peak.map_or_else(String::new, |p| format!(", peak RSS {}", format_bytes(p)));
        reporter.line(&format!("      {name} done in {:.0} s{peak_text}", started.elapsed().as_secs_f64()));
    }
    Ok((name.to_string(), status, peak))
}

/// Run (or reuse) every stage into `out` and render the report.
///
/// # Errors
/// [`Error::BadInput`] when `out` exists and is not a directory; any stage's error (that stage's
/// directory is left untouched or absent; completed stages stay cached).
pub fn run(config: &DemoConfig, out: &Path, fresh: bool, reporter: &dyn Reporter) -> Result<DemoRun> {
    config.validate()?;
    let out_dir = OutputDir::create(out)?;
    let cache = StageCache::new(out, fresh);
    let keys = keys(config)?;
    let mut ran = Vec::new();
    for (k, key) in keys.iter().enumerate().take(5) {
        ran.push(run_one(k, &cache, key, reporter, |dir| stage_body(k, config, &cache, reporter, dir))?);
    }
    let summary = DemoSummary::read(out, config)?;
    let charts = |dir: &Path| {
        charts::write_all(&summary, dir)?;
        stage_meta(dir, config, "img", &[])
    };
    ran.push(run_one(5, &cache, &keys[5], reporter, charts)?);
    page::write(out, &summary)?;
    out_dir.keep();
    let stages = ran.iter().map(|(name, status, _)| (name.clone(), *status)).collect();
    let peaks = ran
        .into_iter()
        .filter(|(_, status, _)| *status == StageStatus::Ran)
        .map(|(name, _, peak)| (name, peak))
        .collect();
    Ok(DemoRun { stages, peaks, summary, out: out.to_path_buf() })
}

/// Refuse an `--out` that cannot be the demo's folder before any work.
///
/// # Errors
/// [`Error::BadInput`] when `out` exists as a file.
pub fn check_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::bad_input(out, "is a file; the demo writes a directory (created if missing)"));
    }
    Ok(())
}
