//! The four computing stages of `ntkgap demo --model PATH` (the report is [`super::page`]):
//!
//! * `data/` — Corr2Cause for n = 3..5 (a seeded sample of MECs per size): `test.jsonl` (at
//!   most `records_per_size` test records per size, half of them entailment where the size has
//!   enough), `pairs.jsonl` (near-miss pairs of the test split: same premise, opposite labels;
//!   `pairs_entk.jsonl` is its first `entk_pairs_per_size` per size), `train.jsonl` (labelled
//!   dev records for the eNTK kernel-ridge fit) and `shots_pool.jsonl` (dev records with
//!   n ≤ `shots_max_nodes`, where demonstrations are drawn from; dev and test premises are
//!   disjoint).
//! * `eval/` — the frozen model asked directly, for each K of `--shots` (decoders; an encoder
//!   is asked zero-shot only): `K<k>.json` ([`crate::train::eval::EvalReport`]),
//!   `predictions.csv`, `summary.json`.
//! * `kernel/` — Theorem 1 and B_min = 1/d_K on two kernels of the frozen weights: the eNTK with
//!   a kernel-ridge predictor fitted on `train.jsonl`, and the last-layer kernel φφᵀ with the
//!   model's own readout s = ⟨w, φ⟩ + c, B = ‖w‖ (exact, no lazy-regime step).
//! * `acbo/` — A-CBO with noisy, experiment and the frozen model as oracles versus the model
//!   asked directly, through [`crate::demo::acbo_stage::run_with`].

use std::collections::BTreeMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::acbo::oracle::ExperimentSettings;
use crate::bound::kernel_regression::KernelFitConfig;
use crate::corpus::{CorpusKind, JsonlReader, JsonlWriter, Label, Record, ShotSet, Split};
use crate::demo::acbo_stage::{run_with, AcboStageSummary, FactoryBench};
use crate::demo::data::{corpus, pairs_csv, sample_per_size, write_records};
use crate::demo::entk_rows::{pair_rows, pairs_csv as kernel_pairs_csv, run_summary, EntkStageSummary};
use crate::demo::eval_stage::{predictions_csv, rows_of, EvalRow};
use crate::demo::frozen::config::FrozenConfig;
use crate::demo::Reporter;
use crate::error::{Error, Result};
use crate::files::csv::CsvTable;
use crate::files::{npy, write_atomic, write_json_atomic};
use crate::gap::{analyse, Analysis, AnalysisConfig, Bars, GapKernel, PairInputs, PredictorModel, TrainSet};
use crate::model::decoder::PromptTemplate;
use crate::model::oracle::ModelOracleFactory;
use crate::model::oracle_prompt::{LocalPrompt, PLAIN_LOCAL_TEMPLATE};
use crate::model::{load_any, AnyModel, DecoderOptions, LoadOptions, ModelSpec};
use crate::ntk::{GramOptions, KernelChoice};
use crate::tokenize::pairs::{mine, MinerConfig, PairKind};
use crate::tokenize::stream::encode_all;
use crate::tokenize::summary::read_pairs;

/// The eNTK run of the kernel stage.
pub const ENTK_RUN: &str = "entk-kernel-ridge";
/// Host memory for the eNTK's per-example signals (half of it in RAM, the rest spilled to a
/// temporary file; never changes K beyond f32 rounding): keeps a 135 M-parameter model's
/// kernel stage within a laptop's memory.
const ENTK_MEMORY_BUDGET: usize = 1 << 30;

/// The last-layer run of the kernel stage.
pub const LAST_LAYER_RUN: &str = "last-layer-readout";

/// Load the model with `shots` demonstrations (decoders) on the inference or autodiff device.
///
/// # Errors
/// Loading failures; demonstrations for a decoder without label words.
pub fn load_model(cfg: &FrozenConfig, shots: ShotSet, autodiff: bool) -> Result<AnyModel> {
    let spec = ModelSpec::parse(&cfg.model.spec())?;
    let template = cfg.prompting.template.as_deref().map(PromptTemplate::new).transpose()?;
    let options = DecoderOptions {
        label_words: cfg.prompting.label_words.clone(),
        template,
        chat: cfg.prompting.chat,
        shots: if cfg.model.decoder { shots } else { ShotSet::none() },
    };
    load_any(&spec, &LoadOptions { seed: cfg.data.seed, head_file: None }, &options, &cfg.device.device(autodiff))
}

/// Per size: the records asked, the pairs mined and kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenSize {
    /// Number of variables.
    pub n_vars: usize,
    /// Test records of the generated split that fit the model's context.
    pub test_available: usize,
    /// Test records left out because their prompt exceeds the model's context.
    pub too_long: usize,
    /// Test records asked.
    pub asked: usize,
    /// Of those, entailment.
    pub asked_entailment: usize,
    /// Near-miss pairs among the test split.
    pub pairs_mined: usize,
    /// Pairs for the last-layer kernel.
    pub pairs_kept: usize,
    /// Pairs for the eNTK.
    pub entk_pairs: usize,
    /// Mean shared-token fraction of the mined pairs (built-in tokenizer).
    pub mean_shared_fraction: f64,
}

/// `data/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenDataSummary {
    /// By size.
    pub sizes: Vec<FrozenSize>,
    /// Dev records the demonstrations are drawn from.
    pub shots_pool: usize,
    /// Dev records for the kernel-ridge fit.
    pub ridge_records: usize,
}

/// At most `k` records per size, seeded: half entailment, and of the rest half neutral (the
/// records A-CBO has to query for) and half contradiction, where the size has enough; a class
/// that runs short is filled from the others.
fn balanced_sample(records: &[&Record], k: usize, seed: u64) -> Vec<Record> {
    let mut by_n: BTreeMap<usize, [Vec<&Record>; 3]> = BTreeMap::new();
    for r in records {
        let class = match r.label {
            Some(Label::Entailment) => 0,
            Some(Label::Neutral) => 1,
            _ => 2,
        };
        by_n.entry(r.n_vars.unwrap_or(0)).or_default()[class].push(r);
    }
    let mut out = Vec::new();
    for (n, mut classes) in by_n {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(seed, &[n as u64, 17]));
        classes.iter_mut().for_each(|c| c.shuffle(&mut rng));
        let yes = k / 2;
        let neutral = (k - yes).div_ceil(2);
        let wanted = [yes, neutral, k - yes - neutral];
        let mut taken = [0usize; 3];
        for c in 0..3 {
            taken[c] = wanted[c].min(classes[c].len());
        }
        // Fill a short class from the others, in class order.
        for c in 0..3 {
            let short = k.saturating_sub(taken.iter().sum());
            taken[c] += short.min(classes[c].len() - taken[c]);
        }
        let mut chosen: Vec<Record> =
            (0..3).flat_map(|c| classes[c][..taken[c]].iter().map(|r| (*r).clone()).collect::<Vec<_>>()).collect();
        chosen.shuffle(&mut rng);
        out.extend(chosen);
    }
    out
}

/// Stage 1 into `dir`.
///
/// # Errors
/// Generation, mining or write failures.
pub fn data(cfg: &FrozenConfig, dir: &Path) -> Result<FrozenDataSummary> {
    let d = &cfg.data;
    let all = corpus(CorpusKind::Corr2cause, d.nodes.clone(), Some(d.max_mecs), None, d.seed)?;
    // A decoder's prompts are never cut: records whose zero-shot prompt exceeds the model's
    // context are left out (counted per size).
    let loaded = load_model(cfg, ShotSet::none(), false)?;
    let model_tokenizer = loaded.tokenizer();
    let fits = |r: &Record| -> bool {
        let limit = model_tokenizer.max_length();
        r.input().ok().and_then(|i| model_tokenizer.encode_input(i).ok()).is_some_and(|e| e.len() <= limit)
    };
    let of = |s: Split| all.iter().filter(move |(x, _)| *x == s).map(|(_, r)| r);
    let too_long: Vec<&Record> = of(Split::Test).filter(|r| !fits(r)).collect();
    write_records(&dir.join("test_all.jsonl"), of(Split::Test).filter(|r| fits(r)))?;
    let test: Vec<&Record> = of(Split::Test).filter(|r| fits(r)).collect();
    let asked = balanced_sample(&test, d.records_per_size, d.seed);
    write_records(&dir.join("test.jsonl"), asked.iter())?;
    let dev: Vec<&Record> = of(Split::Dev).chain(of(Split::Train)).filter(|r| fits(r)).collect();
    let pool: Vec<&Record> = dev.iter().copied().filter(|r| r.n_vars.is_some_and(|n| n <= d.shots_max_nodes)).collect();
    write_records(&dir.join("shots_pool.jsonl"), pool.iter().copied())?;
    let ridge = balanced_sample(&dev, d.ridge_records.div_ceil(cfg.sizes()), d.seed ^ 1);
    write_records(&dir.join("train.jsonl"), ridge.iter())?;
    let tokenizer = crate::tokenize::load_with_max_length("builtin", Some(512))?;
    let (encoded, _) = encode_all(&dir.join("test_all.jsonl"), tokenizer.as_ref())?;
    let miner = MinerConfig {
        kind: PairKind::SamePremise,
        min_overlap: 0.0,
        max_per_premise: None,
        seed: d.seed,
        ..MinerConfig::default()
    };
    let (mined, _) = mine(&encoded, tokenizer.as_ref(), &miner)?;
    write_atomic(dir.join("pairs_all.csv"), pairs_csv(&mined).as_bytes())?;
    let kept = sample_per_size(&mined, d.pairs_per_size, d.seed);
    let entk = sample_per_size(&kept, d.entk_pairs_per_size, d.seed);
    for (file, pairs) in [("pairs.jsonl", &kept), ("pairs_entk.jsonl", &entk)] {
        let mut w = JsonlWriter::create(dir.join(file))?;
        pairs.iter().try_for_each(|p| w.write(p))?;
        w.finish()?;
    }
    let sizes = d
        .nodes
        .clone()
        .map(|n| {
            let mined_n: Vec<_> = mined.iter().filter(|p| p.n_vars == Some(n)).collect();
            FrozenSize {
                n_vars: n,
                test_available: test.iter().filter(|r| r.n_vars == Some(n)).count(),
                too_long: too_long.iter().filter(|r| r.n_vars == Some(n)).count(),
                asked: asked.iter().filter(|r| r.n_vars == Some(n)).count(),
                asked_entailment: asked.iter().filter(|r| r.n_vars == Some(n) && r.binary_label() == Some(1)).count(),
                pairs_mined: mined_n.len(),
                pairs_kept: kept.iter().filter(|p| p.n_vars == Some(n)).count(),
                entk_pairs: entk.iter().filter(|p| p.n_vars == Some(n)).count(),
                mean_shared_fraction: if mined_n.is_empty() {
                    0.0
                } else {
                    mined_n.iter().map(|p| p.overlap.shared_fraction).sum::<f64>() / mined_n.len() as f64
                },
            }
        })
        .collect();
    let summary = FrozenDataSummary { sizes, shots_pool: pool.len(), ridge_records: ridge.len() };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}

/// One K of the evaluation stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShotRun {
    /// K.
    pub shots: usize,
    /// Tokens of the demonstrations in front of every prompt.
    pub prefix_tokens: usize,
    /// Ids of the demonstrations.
    pub shot_ids: Vec<String>,
    /// Records whose premise was truncated.
    pub truncated: usize,
    /// Why this K was not evaluated (demonstrations too long for the context, a pool too
    /// small), if so.
    pub refused: Option<String>,
}

/// `eval/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenEvalSummary {
    /// Records asked.
    pub records: usize,
    /// One per K.
    pub runs: Vec<ShotRun>,
    /// Rows per K (`objective` = `K=<k>`): overall first, then by n.
    pub rows: Vec<EvalRow>,
}

/// The name of K's rows.
pub fn shot_name(k: usize) -> String {
    format!("K={k}")
}

fn draw_shots(cfg: &FrozenConfig, pool: &Path, k: usize) -> Result<ShotSet> {
    if k == 0 {
        return Ok(ShotSet::none());
    }
    let records = JsonlReader::open(pool)?.map(|r| r.map(|(_, rec)| rec)).collect::<Result<Vec<_>>>()?;
    ShotSet::draw(&records, k, cfg.eval.shots_seed)
}

/// Stage 2 into `dir`.
///
/// # Errors
/// Loading or inference failures at K = 0 (a K > 0 that cannot run is recorded, not fatal).
pub fn eval(cfg: &FrozenConfig, data: &Path, dir: &Path, reporter: &dyn Reporter) -> Result<FrozenEvalSummary> {
    let header =
        ["objective", "line", "id", "n_vars", "relation", "label", "margin", "predicted", "correct", "confidence"];
    let mut csv = CsvTable::new(&header);
    let (mut runs, mut rows, mut records) = (Vec::new(), Vec::new(), 0);
    let largest = *cfg.data.nodes.end();
    for &k in &cfg.eval.shots {
        reporter.line(&format!("      asking the model directly with K = {k} demonstrations"));
        let attempt = (|| -> Result<_> {
            let shots = draw_shots(cfg, &data.join("shots_pool.jsonl"), k)?;
            let ids: Vec<String> = shots.summary().ids.iter().map(|i| i.clone().unwrap_or_default()).collect();
            let loaded = load_model(cfg, shots, false)?;
            let tokenizer = loaded.tokenizer();
            let examples = crate::train::data::Examples::load(&data.join("test.jsonl"), tokenizer, true)?;
            let pad = tokenizer.pad_id()?;
            let (preds, prefix) = match &loaded {
                AnyModel::Encoder(m) => {
                    (crate::train::trainer::predictions(&m.classifier, &examples, pad, cfg.eval.batch)?, 0)
                }
                AnyModel::Decoder(m) => (
                    crate::train::trainer::predictions(&m.model, &examples, pad, cfg.eval.batch)?,
                    m.prompting.shots_tokens,
                ),
            };
            Ok((examples, preds, prefix, ids))
        })();
        let (examples, preds, prefix, ids) = match attempt {
            Ok(v) => v,
            Err(e) if k > 0 => {
                let run = ShotRun {
                    shots: k,
                    prefix_tokens: 0,
                    shot_ids: vec![],
                    truncated: 0,
                    refused: Some(e.to_string()),
                };
                runs.push(run);
                continue;
            }
            Err(e) => return Err(e),
        };
        let name = shot_name(k);
        let report = crate::train::eval::evaluate(&preds);
        write_json_atomic(dir.join(format!("K{k}.json")), &report)?;
        predictions_csv(&name, &examples, &preds, &mut csv);
        rows.extend(rows_of(&name, &report, &preds, largest));
        records = examples.len();
        runs.push(ShotRun {
            shots: k,
            prefix_tokens: prefix,
            shot_ids: ids,
            truncated: examples.summary.truncated,
            refused: None,
        });
    }
    write_atomic(dir.join("predictions.csv"), csv.into_string().as_bytes())?;
    let summary = FrozenEvalSummary { records, runs, rows };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}

fn write_run(dir: &Path, name: &str, a: &Analysis) -> Result<()> {
    let out = dir.join(name);
    std::fs::create_dir_all(&out).map_err(|e| Error::write(&out, e))?;
    write_atomic(out.join("pairs.csv"), crate::bound::table::csv(&a.rows).as_bytes())?;
    write_json_atomic(out.join("summary.json"), &a.summary)?;
    npy::write(&out.join("K.npy"), &a.gram)
}

/// Stage 3 into `dir`: the eNTK (kernel ridge) and the last-layer kernel (the model's readout).
///
/// # Errors
/// Loading, Gram or fit failures; write failures.
pub fn kernel(cfg: &FrozenConfig, data: &Path, dir: &Path, reporter: &dyn Reporter) -> Result<EntkStageSummary> {
    let loaded = load_model(cfg, ShotSet::none(), true)?;
    let model = crate::gap::model::of(&loaded);
    let tokenizer = loaded.tokenizer();
    let pad = tokenizer.pad_id()?;
    let device = cfg.device.device(true);
    let gram = GramOptions {
        block: cfg.block,
        kernels: KernelChoice::CpuF64,
        memory_budget: ENTK_MEMORY_BUDGET,
        ..GramOptions::default()
    };
    let (mut runs, mut rows, mut inputs_total, mut truncated) = (Vec::new(), Vec::new(), 0, 0);
    let entk_path = data.join("pairs_entk.jsonl");
    let last_path = data.join("pairs.jsonl");
    let (train, _) =
        TrainSet::sample_file(&data.join("train.jsonl"), tokenizer, cfg.data.ridge_records, cfg.data.seed)?;
    let plans: [(&str, &Path, GapKernel); 2] =
        [(ENTK_RUN, &entk_path, GapKernel::Entk), (LAST_LAYER_RUN, &last_path, GapKernel::LastLayer)];
    let mut pair_count = 0;
    for (name, path, kernel) in plans {
        let pairs = read_pairs(path)?;
        let inputs = PairInputs::from_pairs(&pairs, path, tokenizer)?;
        let predictor = match kernel {
            GapKernel::Entk => PredictorModel::Kernel { train: &train, config: KernelFitConfig::default() },
            GapKernel::LastLayer => PredictorModel::Readout,
        };
        let config = AnalysisConfig { gram, kernel };
        let mut bars = Bars::new(|n, stage: &str| reporter.bar(n as u64, &format!("{name}: {stage}")));
        let a = analyse(model, &inputs, predictor, pad, &config, &device, &mut bars)?;
        write_run(dir, name, &a)?;
        runs.push(run_summary(name, "frozen", &a));
        rows.extend(pair_rows(name, &a));
        inputs_total += inputs.encodings.len();
        truncated += inputs.truncated;
        pair_count = pair_count.max(pairs.len());
    }
    write_atomic(dir.join("pairs.csv"), kernel_pairs_csv(&rows).as_bytes())?;
    let summary = EntkStageSummary { inputs: inputs_total, truncated_inputs: truncated, pairs: pair_count, runs, rows };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}

/// How the model oracle read one size's local questions (decoders: fitted on calibration
/// systems only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OracleReading {
    /// Number of variables.
    pub n_vars: usize,
    /// τ on the margin.
    pub threshold: f64,
    /// AUC of the margin on the calibration answers.
    pub auc: f64,
    /// α̂ at τ (false "changes").
    pub alpha: f64,
    /// β̂ at τ (missed "changes").
    pub beta: f64,
    /// Calibration answers.
    pub answers: u64,
    /// Tokens of the longest calibration prompt.
    pub longest_prompt_tokens: usize,
}

/// `acbo/summary.json` of this demo: the shared table plus the oracle's readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenAcboSummary {
    /// The direct-versus-A-CBO table.
    pub table: AcboStageSummary,
    /// Decoder oracle: per size τ, AUC, α̂, β̂ (empty for an encoder, read at margin 0).
    pub readings: Vec<OracleReading>,
    /// The local-query template (decoders).
    pub template: Option<String>,
    /// Items the premise alone did not decide (the model oracle was asked), of all items.
    pub undecided_items: usize,
    /// A-CBO's accuracy against the drawn system on those items.
    pub accuracy_undecided: Option<f64>,
}

/// The model oracle's name (`model:frozen`).
pub const FROZEN_ORACLE: &str = "frozen";

/// Stage 4 into `dir`.
///
/// # Errors
/// Loading, calibration or inference failures; write failures.
pub fn acbo(cfg: &FrozenConfig, data: &Path, dir: &Path, reporter: &dyn Reporter) -> Result<FrozenAcboSummary> {
    let loaded = load_model(cfg, ShotSet::none(), false)?;
    let device = cfg.device.device(false);
    let experiment = ExperimentSettings::new(cfg.acbo.local_samples)?;
    let name = format!("model:{FROZEN_ORACLE}");
    let factory = match &loaded {
        AnyModel::Encoder(m) => ModelOracleFactory::new(m, device, cfg.eval.batch, experiment, name)?,
        AnyModel::Decoder(d) => {
            let words = d.prompting.label_words.clone().unwrap_or_else(|| [" No".into(), " Yes".into()]);
            let prompt = LocalPrompt::new(PLAIN_LOCAL_TEMPLATE, cfg.acbo.oracle_shots, words)?;
            ModelOracleFactory::decoder(d, device, cfg.eval.batch, experiment, name, prompt)?
        }
    };
    let test = data.join("test.jsonl");
    let bench = FactoryBench { test: &test, factory: &factory, name: FROZEN_ORACLE, budget: Some(cfg.acbo.budget) };
    let table = run_with(&cfg.acbo.common, &bench, cfg.acbo.local_samples, dir, reporter)?;
    let rate = |e: u64, t: u64| if t == 0 { 0.0 } else { e as f64 / t as f64 };
    let readings = factory
        .readings()
        .into_iter()
        .map(|(n, r)| {
            let c = r.fit.at_threshold;
            OracleReading {
                n_vars: n,
                threshold: r.fit.threshold,
                auc: r.fit.auc,
                alpha: rate(c.false_yes, c.false_yes + c.false_no),
                beta: rate(c.true_no, c.true_yes + c.true_no),
                answers: c.true_yes + c.true_no + c.false_yes + c.false_no,
                longest_prompt_tokens: r.longest_prompt_tokens,
            }
        })
        .collect();
    let template = factory.local_prompt().map(|p| p.template.clone());
    let model_run: serde_json::Value = crate::demo::summary::read_json(&dir.join("model-frozen/summary.json"))?;
    let overall = &model_run["overall"];
    let undecided_items = overall["undecided_items"].as_u64().unwrap_or(0) as usize;
    let accuracy_undecided = overall["accuracy_undecided"].as_f64();
    let summary = FrozenAcboSummary { table, readings, template, undecided_items, accuracy_undecided };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}
