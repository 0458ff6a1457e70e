//! `ntkgap sweep`: the Theorem 1 check across graph sizes n (docs/science.md "Near misses": the
//! shared-token fraction of a near-miss pair grows with n, so δ shrinks).
//!
//! Per n: generate a corpus in memory (Corr2Cause for n ≤ 6, `max_mecs` sampled MECs;
//! Extended Corr2Cause above, `per_size` random DAGs), encode it with the model's tokenizer,
//! mine every same-premise pair with opposite labels (optionally at most `max_per_premise` per
//! premise, best overlap first), keep a uniform seeded sample of `pairs_per_size` of them, and
//! analyse them
//! ([`crate::gap::analyse`]). A kernel predictor is fitted per n on `train_per_size` labelled
//! records of that n that are not pair members, records of other premises first (seeded
//! order), so the predictor is never evaluated on its own training inputs.
//!
//! Every random choice derives from `seed`; same seed → same rows. Known gaps: sizes where no
//! pair with opposite labels exists are skipped (reported in [`SizeResult::skipped`]).

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::path::Path;

use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::bound::kernel_regression::KernelFitConfig;
use crate::corpus::config::MAX_CORR2CAUSE_NODES;
use crate::corpus::{generate, CorpusKind, GenerateConfig, Record, Split};
use crate::error::{Error, Result};
use crate::gap::analysis::{analyse, Analysis, AnalysisConfig, PredictorModel, TrainSet};
use crate::gap::inputs::PairInputs;
use crate::gap::model::GapModel;
use crate::gap::Progress;
use crate::tokenize::pairs::{mine, MinerConfig, NearMissPair, PairKind};
use crate::tokenize::stream::EncodedRecord;
use crate::tokenize::Tokenizer;

/// Settings of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepConfig {
    /// Graph sizes n, inclusive (default 3..=12).
    pub nodes: RangeInclusive<usize>,
    /// Seed of every random choice (default 0).
    pub seed: u64,
    /// Corr2Cause (n ≤ 6): MECs sampled per n (default 8).
    pub max_mecs: usize,
    /// Extended (n ≥ 7): random DAGs (distinct MECs) per n (default 2).
    pub per_size: usize,
    /// Pairs analysed per n (default 8).
    pub pairs_per_size: usize,
    /// Pairs mined per premise at most (default `None`: every candidate pair, so the seeded
    /// sample is uniform over all same-premise pairs with opposite labels rather than biased
    /// towards the highest overlap).
    pub max_per_premise: Option<usize>,
    /// Kernel predictors: training records per n (default 24).
    pub train_per_size: usize,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            nodes: 3..=12,
            seed: 0,
            max_mecs: 8,
            per_size: 2,
            pairs_per_size: 8,
            max_per_premise: None,
            train_per_size: 24,
        }
    }
}

impl SweepConfig {
    /// Check every field.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the field: `nodes` outside 2..=64 or empty, a count of 0.
    pub fn validate(&self) -> Result<()> {
        if self.nodes.is_empty() || *self.nodes.start() < 2 || *self.nodes.end() > 64 {
            return Err(Error::setting(
                "nodes",
                format!("{}..{} must be a non-empty range inside 2..64", self.nodes.start(), self.nodes.end()),
            ));
        }
        for (name, v) in [
            ("max_mecs", self.max_mecs),
            ("per_size", self.per_size),
            ("pairs_per_size", self.pairs_per_size),
            ("max_per_premise", self.max_per_premise.unwrap_or(1)),
            ("train_per_size", self.train_per_size),
        ] {
            if v == 0 || v > 100_000 {
                return Err(Error::setting(name, format!("{v} is outside 1..=100000")));
            }
        }
        Ok(())
    }
}

/// Which predictor a sweep checks.
pub enum SweepPredictor<'a> {
    /// A kernel predictor fitted per n.
    Kernel(KernelFitConfig),
    /// The fine-tuned network against θ₀.
    Network {
        /// θ₀.
        init: &'a dyn GapModel,
        /// How θ₀ was given.
        source: &'a str,
    },
    /// The frozen model's own readout on its last-layer features (no training records).
    Readout,
}

/// The outcome at one n.
#[derive(Debug, Clone)]
pub struct SizeResult {
    /// n.
    pub n_vars: usize,
    /// `corr2cause` or `extended`.
    pub corpus: &'static str,
    /// Generated records.
    pub records: usize,
    /// Pairs the miner found (before sampling).
    pub pairs_mined: usize,
    /// Analysed inputs whose premise was truncated to the model's length.
    pub truncated_inputs: usize,
    /// The analysis (`None` when skipped).
    pub analysis: Option<Analysis>,
    /// Why the size was skipped.
    pub skipped: Option<String>,
}

fn corpus_for(n: usize, config: &SweepConfig) -> Result<(Vec<(Split, Record)>, &'static str)> {
    let c2c = n <= MAX_CORR2CAUSE_NODES;
    let generate_config = GenerateConfig {
        kind: if c2c { CorpusKind::Corr2cause } else { CorpusKind::Extended },
        nodes: n..=n,
        max_mecs: Some(config.max_mecs),
        per_size: config.per_size,
        seed: config.seed,
        ..Default::default()
    };
    generate_config.validate()?;
    let mut records: Vec<(Split, Record)> = Vec::new();
    generate(&generate_config, &mut records)?;
    Ok((records, if c2c { "corr2cause" } else { "extended" }))
}

fn encode(records: Vec<(Split, Record)>, tokenizer: &dyn Tokenizer, n: usize) -> Result<Vec<EncodedRecord>> {
    records
        .into_par_iter()
        .enumerate()
        .map(|(k, (_, record))| {
            let input = record.input().map_err(|r| Error::invalid(format!("generated record n={n}"), r))?;
            let encoding = tokenizer.encode_input(input)?;
            Ok(EncodedRecord { line: k + 1, record, encoding })
        })
        .collect()
}

fn sample_pairs(mut pairs: Vec<NearMissPair>, k: usize, rng: &mut ChaCha8Rng) -> Vec<NearMissPair> {
    if pairs.len() <= k {
        return pairs;
    }
    let mut keep: Vec<usize> = rand::seq::index::sample(rng, pairs.len(), k).into_vec();
    keep.sort_unstable();
    let keep: HashSet<usize> = keep.into_iter().collect();
    let mut index = 0;
    pairs.retain(|_| {
        index += 1;
        keep.contains(&(index - 1))
    });
    pairs
}

/// Training records: labelled, not a pair member; other premises first, each group shuffled.
fn train_records(
    records: &[EncodedRecord],
    pairs: &[NearMissPair],
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<EncodedRecord> {
    let members: HashSet<&str> = pairs.iter().flat_map(|p| [p.a.id.as_deref(), p.b.id.as_deref()]).flatten().collect();
    let premises: HashSet<&str> = pairs.iter().filter_map(|p| p.a.premise.as_deref()).collect();
    let usable = |r: &&EncodedRecord| {
        r.record.binary_label().is_some() && !r.record.id.as_deref().is_some_and(|id| members.contains(id))
    };
    let (mut other, mut same): (Vec<&EncodedRecord>, Vec<&EncodedRecord>) =
        records.iter().filter(usable).partition(|r| !r.record.premise.as_deref().is_some_and(|p| premises.contains(p)));
    other.shuffle(rng);
    same.shuffle(rng);
    other.into_iter().chain(same).take(k).cloned().collect()
}

struct Prefixed<'a> {
    prefix: String,
    inner: &'a mut dyn Progress,
}

impl Progress for Prefixed<'_> {
    fn start(&mut self, stage: &str, total: usize) {
        self.inner.start(&format!("{} {stage}", self.prefix), total);
    }
    fn advance(&mut self, done: usize) {
        self.inner.advance(done);
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
}

/// Run the sweep for `model` (an encoder classifier or a decoder, loaded on the autodiff
/// `device`; `tokenizer` its tokenizer, a decoder's prompt tokenizer).
///
/// # Errors
/// Invalid settings; any error of corpus generation, encoding, pair mining or the analysis.
pub fn sweep(
    model: &dyn GapModel,
    tokenizer: &dyn Tokenizer,
    predictor: &SweepPredictor<'_>,
    config: &SweepConfig,
    analysis: &AnalysisConfig,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<Vec<SizeResult>> {
    config.validate()?;
    let pad_id = tokenizer.pad_id()?;
    let miner = MinerConfig {
        kind: PairKind::SamePremise,
        min_overlap: 0.0,
        opposite_labels: true,
        max_per_premise: config.max_per_premise,
        max_group: 200,
        seed: config.seed,
    };
    let mut results = Vec::new();
    for n in config.nodes.clone() {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(config.seed, &[n as u64]));
        let mut stage = Prefixed { prefix: format!("n={n}:"), inner: &mut *progress };
        stage.start("generating and mining", 1);
        let (generated, corpus) = corpus_for(n, config)?;
        let records = encode(generated, tokenizer, n)?;
        let (mined, _) = mine(&records, tokenizer, &miner)?;
        stage.finish();
        let mut result = SizeResult {
            n_vars: n,
            corpus,
            records: records.len(),
            pairs_mined: mined.len(),
            truncated_inputs: 0,
            analysis: None,
            skipped: None,
        };
        if mined.is_empty() {
            result.skipped = Some(format!("no same-premise pair with opposite labels among {} records", records.len()));
            results.push(result);
            continue;
        }
        let pairs = sample_pairs(mined, config.pairs_per_size, &mut rng);
        let inputs = PairInputs::from_pairs(&pairs, Path::new(&format!("sweep n={n}")), tokenizer)?;
        result.truncated_inputs = inputs.truncated;
        let train = match predictor {
            SweepPredictor::Kernel(_) => Some(TrainSet::from_records(
                &train_records(&records, &pairs, config.train_per_size, &mut rng),
                Path::new(&format!("sweep n={n} training records")),
            )?),
            SweepPredictor::Network { .. } | SweepPredictor::Readout => None,
        };
        let chosen = match (predictor, &train) {
            (SweepPredictor::Kernel(fit), Some(train)) => PredictorModel::Kernel { train, config: *fit },
            (SweepPredictor::Network { init, source }, _) => PredictorModel::Network { init: *init, source },
            (SweepPredictor::Readout, _) => PredictorModel::Readout,
            (SweepPredictor::Kernel(_), None) => unreachable!("kernel predictors always get a training set"),
        };
        result.analysis = Some(analyse(model, &inputs, chosen, pad_id, analysis, device, &mut stage)?);
        results.push(result);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated() {
        assert!(SweepConfig::default().validate().is_ok());
        assert!(SweepConfig { nodes: 1..=3, ..Default::default() }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`nodes`"));
        assert!(SweepConfig { pairs_per_size: 0, ..Default::default() }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`pairs_per_size`"));
    }

    #[test]
    fn pair_sampling_keeps_order_and_is_seeded() {
        let tok = crate::tokenize::load("builtin").unwrap();
        let (records, _) = corpus_for(4, &SweepConfig::default()).unwrap();
        let records = encode(records, tok.as_ref(), 4).unwrap();
        let miner = MinerConfig { min_overlap: 0.0, ..Default::default() };
        let (mined, _) = mine(&records, tok.as_ref(), &miner).unwrap();
        assert!(mined.len() > 3, "{}", mined.len());
        let pick = |seed| sample_pairs(mined.clone(), 3, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(pick(1), pick(1));
        let positions: Vec<usize> = pick(1).iter().map(|p| mined.iter().position(|m| m == p).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        let train = train_records(&records, &pick(1), 10, &mut ChaCha8Rng::seed_from_u64(0));
        let members: HashSet<String> =
            pick(1).iter().flat_map(|p| [p.a.id.clone().unwrap(), p.b.id.clone().unwrap()]).collect();
        assert_eq!(train.len(), 10);
        assert!(train.iter().all(|r| !members.contains(r.record.id.as_ref().unwrap())));
    }
}
