//! `ntkgap acbo`: run the A-CBO loop on every record of a JSONL corpus and report accuracy,
//! queries and ⌈log₂ |candidates|⌉ by number of variables.
//!
//! Writes `OUT/items.jsonl` (one line per record × trial, with the full trace),
//! `OUT/summary.json` and `OUT/meta.json`, and prints the table. With `--oracle model:DIR` the
//! model is loaded (and refused) before any output exists, answers local queries inside the loop
//! and is also asked every item's global question directly (the `direct` columns). See
//! `docs/acbo.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::acbo::evaluate::{limit_per_size, prepare_items, run_evaluation, EvalItem, EvalSettings, ItemResult};
use crate::acbo::oracle::build::likelihood_models;
use crate::acbo::oracle::ExperimentSettings;
use crate::acbo::summary::{format_table, summarize, Summary};
use crate::acbo::{
    BitCounts, CandidateSettings, ErrorModel, Goal, LoopConfig, OracleFactory, OracleSpec, QueryKind, Selection,
};
use crate::cli::model_args::DeviceArg;
use crate::corpus::{JsonlReader, JsonlWriter, Record};
use crate::error::{Error, Result};
use crate::files::{write_json_atomic, Meta};
use crate::gpu::ComputeDevice;
use crate::model::oracle::{ModelOracleFactory, SizeReading};
use crate::model::oracle_prompt::{LocalPrompt, PLAIN_LOCAL_TEMPLATE};
use crate::model::{load, load_any, AnyModel, DecoderOptions, LoadOptions, LoadedDecoder, LoadedModel, ModelSpec};

/// Arguments of `ntkgap acbo`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap generate --kind extended --nodes 3..8 --per-size 5 --seed 1 --out data/ext\n  \
    ntkgap acbo --data data/ext/test.jsonl --oracle noisy:0.1 --max-items-per-size 100 --out runs/acbo-noisy\n  \
    ntkgap acbo --data data/ext/test.jsonl --oracle experiment:200 --select random --out runs/acbo-exp\n  \
    ntkgap acbo --data data/ext/test.jsonl --oracle model:runs/mixed/best --out runs/acbo-model")]
pub struct AcboArgs {
    /// JSONL records with a Corr2Cause premise and a hypothesis (relation + pair, or text).
    #[arg(long)]
    pub data: PathBuf,
    /// The oracle: noisy:ETA (truth flipped with probability ETA), experiment:S (S samples
    /// per intervention arm on a simulated linear-Gaussian SCM) or model:DIR (a trained
    /// classifier reading local query texts; see `ntkgap local-queries`) or model:PATH (a frozen
    /// pretrained decoder, GGUF or directory, asked local questions through --oracle-prompt,
    /// its threshold fitted on the calibration systems).
    #[arg(long)]
    pub oracle: String,
    /// Query selection: eig (information about the DAG), eig-hypothesis (about the hypothesis),
    /// random or round-robin.
    #[arg(long, default_value = "eig")]
    pub select: String,
    /// Query family: set ("which variables change under do(X)?") or binary ("does Y change?").
    #[arg(long, default_value = "set")]
    pub query: String,
    /// Stop rule: hypothesis (P(h) decisive) or dag (one candidate DAG reaches 1 − ε).
    #[arg(long, default_value = "hypothesis")]
    pub goal: String,
    /// Maximum queries per item.
    #[arg(long, default_value_t = 40)]
    pub budget: usize,
    /// Stop once P(h) ≥ 1 − ε or ≤ ε.
    #[arg(long, default_value_t = 0.01)]
    pub epsilon: f64,
    /// Answer "the relation holds" iff P(h) ≥ this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Truth-missing alarm level (binomial tail).
    #[arg(long, default_value_t = 1e-3)]
    pub alarm_level: f64,
    /// Extra audit queries after stopping (test the posterior against the oracle).
    #[arg(long, default_value_t = 0)]
    pub audit: usize,
    /// Independent trials per record (fresh true DAG, oracle noise, SCM).
    #[arg(long, default_value_t = 1)]
    pub trials: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Enumerate a class when it has at most this many members, else sample.
    #[arg(long, default_value_t = 20_000)]
    pub candidate_cap: usize,
    /// Members drawn when a class is above --candidate-cap.
    #[arg(long, default_value_t = 2_000)]
    pub candidate_samples: usize,
    /// Keep a seeded subset of at most N records per number of variables.
    #[arg(long, value_name = "N")]
    pub max_items_per_size: Option<usize>,
    /// Random systems per size for calibrating the experiment or model oracle's error rates.
    #[arg(long, default_value_t = 50)]
    pub calibration_systems: usize,
    /// model oracle: samples per intervention arm of the experiment behind each local query
    /// (use the value the model's local training texts were made with).
    #[arg(long, default_value_t = 200)]
    pub local_samples: usize,
    /// model oracle: where the frozen model runs (`auto`: a hardware GPU if wgpu finds one, else
    /// the CPU; `cpu`; `wgpu`).
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// model oracle: texts per forward batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Decoder model oracle: the local-query prompt template, a file with one `{question}`
    /// placeholder (one trailing newline dropped). Default: "{question}\nAnswer:".
    #[arg(long, value_name = "FILE")]
    pub oracle_prompt: Option<PathBuf>,
    /// Decoder model oracle: K demonstrations (local questions of calibration-side systems
    /// with their true answers, balanced) in front of every local question.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub oracle_shots: usize,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

impl AcboArgs {
    /// The validated settings.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad flag.
    pub fn settings(&self) -> Result<EvalSettings> {
        let loop_config = LoopConfig {
            selection: Selection::parse(&self.select)?,
            query_kind: QueryKind::parse(&self.query)?,
            goal: Goal::parse(&self.goal)?,
            budget: self.budget,
            epsilon: self.epsilon,
            decision_threshold: self.threshold,
            alarm_level: self.alarm_level,
            audit_queries: self.audit,
            seed: self.seed,
        };
        loop_config.validate()?;
        if self.budget == 0 {
            return Err(Error::invalid("--budget", "must be at least 1"));
        }
        for (name, v) in [
            ("--trials", self.trials),
            ("--candidate-cap", self.candidate_cap),
            ("--candidate-samples", self.candidate_samples),
            ("--calibration-systems", self.calibration_systems),
            ("--batch", self.batch),
        ] {
            if v == 0 {
                return Err(Error::invalid(name, "must be at least 1"));
            }
        }
        if self.max_items_per_size == Some(0) {
            return Err(Error::invalid("--max-items-per-size", "must be at least 1"));
        }
        if self.calibration_systems > crate::acbo::oracle::build::MAX_CALIBRATION_SYSTEMS {
            return Err(Error::invalid(
                "--calibration-systems",
                format!("{} exceeds {}", self.calibration_systems, crate::acbo::oracle::build::MAX_CALIBRATION_SYSTEMS),
            ));
        }
        if self.local_samples < 2 {
            return Err(Error::invalid("--local-samples", format!("{} < 2", self.local_samples)));
        }
        Ok(EvalSettings {
            oracle: OracleSpec::parse(&self.oracle)?,
            loop_config,
            candidates: CandidateSettings { cap: self.candidate_cap, samples: self.candidate_samples },
            trials: self.trials,
            seed: self.seed,
            calibration_systems: self.calibration_systems,
        })
    }
}

/// The frozen model of `model:PATH`: a trained classifier or a pretrained decoder.
enum OracleWeights {
    Encoder(Box<LoadedModel>),
    Decoder(Box<LoadedDecoder>),
}

/// Load the model of `model:PATH` (before any output exists, so a bad model leaves nothing).
fn load_model(args: &AcboArgs, settings: &EvalSettings) -> Result<Option<(OracleWeights, ComputeDevice)>> {
    let OracleSpec::Model { dir } = &settings.oracle else {
        if args.oracle_prompt.is_some() || args.oracle_shots > 0 {
            let flag = if args.oracle_prompt.is_some() { "--oracle-prompt" } else { "--oracle-shots" };
            return Err(Error::invalid(flag, "applies to a decoder model oracle (--oracle model:PATH) only"));
        }
        return Ok(None);
    };
    let spec = ModelSpec::parse(&dir.to_string_lossy())?;
    let options = LoadOptions { seed: settings.seed, head_file: None };
    if !spec.is_decoder() {
        if let Some(flag) =
            [("--oracle-prompt", args.oracle_prompt.is_some()), ("--oracle-shots", args.oracle_shots > 0)]
                .iter()
                .find_map(|(f, on)| on.then_some(*f))
        {
            return Err(Error::invalid(flag, "applies to decoder language models only"));
        }
        let compute = args.device.resolve()?;
        return Ok(Some((OracleWeights::Encoder(Box::new(load(&spec, &options, &compute.device(false))?)), compute)));
    }
    local_template(args)?;
    let compute = args.device.resolve()?;
    match load_any(&spec, &options, &DecoderOptions::default(), &compute.device(false))? {
        AnyModel::Decoder(d) => Ok(Some((OracleWeights::Decoder(d), compute))),
        AnyModel::Encoder(_) => Err(Error::internal("oracle", "a decoder spec loaded as an encoder")),
    }
}

/// The local-query template of `--oracle-prompt` (default [`PLAIN_LOCAL_TEMPLATE`]).
fn local_template(args: &AcboArgs) -> Result<String> {
    let Some(path) = &args.oracle_prompt else { return Ok(PLAIN_LOCAL_TEMPLATE.to_string()) };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
    if !text.contains("{question}") {
        return Err(Error::bad_input(path, "the local-query template has no {question} placeholder"));
    }
    Ok(text)
}

/// The oracle factory of a loaded `model:PATH` model.
fn model_factory<'m>(
    args: &AcboArgs,
    settings: &EvalSettings,
    loaded: Option<&'m (OracleWeights, ComputeDevice)>,
) -> Result<Option<ModelOracleFactory<'m>>> {
    let Some((model, compute)) = loaded else { return Ok(None) };
    let experiment = ExperimentSettings::new(args.local_samples)?;
    let (device, name) = (compute.device(false), settings.oracle.describe());
    Ok(Some(match model {
        OracleWeights::Encoder(m) => ModelOracleFactory::new(m, device, args.batch, experiment, name)?,
        OracleWeights::Decoder(d) => {
            let words = d.prompting.label_words.clone().unwrap_or_else(|| [" No".into(), " Yes".into()]);
            let prompt = LocalPrompt::new(&local_template(args)?, args.oracle_shots, words)?;
            ModelOracleFactory::decoder(d, device, args.batch, experiment, name, prompt)?
        }
    }))
}

/// The records of `--data` and the validated (and per-size limited) items.
fn read_items(args: &AcboArgs, settings: &EvalSettings) -> Result<(Vec<(usize, Record)>, Vec<EvalItem>)> {
    let records = JsonlReader::open(&args.data)?.collect::<Result<Vec<_>>>()?;
    if records.is_empty() {
        return Err(Error::bad_input(&args.data, "contains no records"));
    }
    let mut items = prepare_items(&args.data, &records)?;
    if let Some(max) = args.max_items_per_size {
        items = limit_per_size(items, max, settings.seed);
    }
    Ok((records, items))
}

/// Run `ntkgap acbo`.
///
/// # Errors
/// Bad flags, records or models (exit code 2), unwritable outputs.
pub fn run(args: AcboArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let start = Instant::now();
    let loaded = load_model(&args, &settings)?;
    let factory = model_factory(&args, &settings, loaded.as_ref())?;
    let (records, items) = read_items(&args, &settings)?;
    let out_dir = crate::files::OutputDir::create(&args.out)?;
    if let Some((_, compute)) = &loaded {
        crate::cli::model_args::announce(compute);
    }
    let mut sizes: Vec<usize> = items.iter().map(|i| i.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let dyn_factory = factory.as_ref().map(|f| f as &dyn OracleFactory);
    let spinner = super::progress::spinner("calibrating the oracle");
    let models = likelihood_models(&settings, &sizes, dyn_factory)?;
    spinner.finish_and_clear();
    let readings = factory.as_ref().map(ModelOracleFactory::readings).unwrap_or_default();
    print_readings(&readings, &models);
    let bar = super::progress::bar((items.len() * settings.trials) as u64, "items");
    let mut results = run_evaluation(&items, &settings, &models, dyn_factory, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let truncated = match &factory {
        Some(f) => {
            let spinner = super::progress::spinner("asking the model the global question directly");
            let truncated = f.attach_direct_answers(&args.data, &items, &records, &mut results)?;
            spinner.finish_and_clear();
            Some(truncated)
        }
        None => None,
    };
    let plain: BTreeMap<usize, _> = models.iter().map(|(&n, m)| (n, m.0)).collect();
    let summary = summarize(&results, &plain);
    let oracle =
        OracleReport { prompt: factory.as_ref().and_then(|f| f.local_prompt().cloned()), readings, models: &models };
    write_outputs(&args, &settings, &results, &summary, &oracle, items.len(), truncated)?;
    out_dir.keep();
    println!(
        "A-CBO, oracle {}, select {}, query {}, goal {}, {} records x {} trials",
        settings.oracle.describe(),
        args.select,
        args.query,
        args.goal,
        items.len(),
        settings.trials
    );
    print!("{}", format_table(&summary));
    if let Some(cut) = truncated.filter(|&c| c > 0) {
        eprintln!("note: {cut} of {} direct inputs were truncated (premise only; hypotheses kept whole)", items.len());
    }
    eprintln!("{} runs in {:.1} s; wrote {}", results.len(), start.elapsed().as_secs_f64(), args.out.display());
    Ok(())
}

/// What summary.json records about the oracle's calibration: per size the likelihood's
/// (α̂, β̂) with their tallies and, for a decoder, the fitted threshold τ and AUC.
#[derive(serde::Serialize)]
struct OracleReport<'a> {
    prompt: Option<LocalPrompt>,
    readings: BTreeMap<usize, SizeReading>,
    models: &'a BTreeMap<usize, (ErrorModel, Option<BitCounts>)>,
}

/// One line per calibrated size: α̂, β̂ (and a decoder's τ and AUC, and its rates at 0).
fn print_readings(readings: &BTreeMap<usize, SizeReading>, models: &BTreeMap<usize, (ErrorModel, Option<BitCounts>)>) {
    let rates = |c: &BitCounts| {
        let r = |e: u64, t: u64| if t == 0 { 0.0 } else { e as f64 / t as f64 };
        (r(c.false_yes, c.negatives()), r(c.true_no, c.positives()))
    };
    for (n, (model, counts)) in models {
        let Some(counts) = counts else { continue };
        let mut line = format!(
            "oracle n={n}: alpha^ = {:.3}, beta^ = {:.3} on {} calibration answers",
            model.false_positive_rate,
            model.false_negative_rate,
            counts.positives() + counts.negatives()
        );
        if let Some(r) = readings.get(n) {
            let (a0, b0) = rates(&r.fit.at_zero);
            line.push_str(&format!(
                "; threshold {:.3} on the margin (AUC {:.3}; at 0: alpha {a0:.3}, beta {b0:.3}); longest prompt {} tokens",
                r.fit.threshold, r.fit.auc, r.longest_prompt_tokens
            ));
        }
        eprintln!("{line}");
    }
}

fn write_outputs(
    args: &AcboArgs,
    settings: &EvalSettings,
    results: &[ItemResult],
    summary: &Summary,
    oracle: &OracleReport<'_>,
    records: usize,
    direct_truncated: Option<usize>,
) -> Result<()> {
    let mut writer = JsonlWriter::create(args.out.join("items.jsonl"))?;
    for r in results {
        writer.write(r)?;
    }
    writer.finish()?;
    let mut json = serde_json::to_value(summary).map_err(|e| Error::internal("summary", e.to_string()))?;
    if let Some(map) = json.as_object_mut() {
        let value = serde_json::to_value(oracle).map_err(|e| Error::internal("summary", e.to_string()))?;
        map.insert("oracle_calibration".into(), value);
    }
    write_json_atomic(args.out.join("summary.json"), &json)?;
    let models = oracle.models;
    let mut meta = Meta::new(Some(settings.seed));
    meta.add_input(&args.data)?;
    let calibration: BTreeMap<usize, _> = models.iter().filter_map(|(&n, m)| m.1.map(|c| (n, c))).collect();
    meta.set("settings", settings).set("calibration", calibration).set("records", records);
    if let OracleSpec::Model { dir } = &settings.oracle {
        if dir.is_file() {
            meta.add_input(dir)?;
        }
        for file in ["config.json", "model.safetensors", "tokenizer.json"].map(|f| dir.join(f)) {
            if file.is_file() {
                meta.add_input(file)?;
            }
        }
        meta.set("local_samples", args.local_samples).set("direct_inputs_truncated", direct_truncated);
    }
    meta.write(args.out.join("meta.json"))
}
