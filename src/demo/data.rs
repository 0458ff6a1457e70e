//! Stage 1 (`data/`): the corpora and the near-miss pairs.
//!
//! * `train.jsonl`, `dev.jsonl` — Corr2Cause on small graphs (`train_nodes`, default n = 3..5),
//!   a seeded sample of MECs per size, split by the original rule (a size with fewer than 1000
//!   items goes to dev and test only, so the training items are the n = 5 ones).
//! * `test.jsonl` — the in-distribution test split followed by the **hard** split: Corr2Cause
//!   n = 6 and Extended Corr2Cause on larger graphs (n = 7..8 quick, 7..9 full).
//! * `pairs_all.csv` — every same-premise, opposite-label near-miss pair of the test records
//!   (line numbers into `test.jsonl`, relations, every overlap metric); `overlap.csv`
//!   summarises them by n (mean, min, max).
//! * `pairs.jsonl` — a seeded sample of `pairs_per_size` of those per n: the eNTK inputs.
//! * `local_test.jsonl`, `train_mixed.jsonl`, `dev_mixed.jsonl` — local query texts for the
//!   `model:DIR` oracle ([`crate::acbo::local_query`]: one simulated experiment with
//!   `local_samples` samples per arm behind each text, labelled with the truth), split by
//!   system; their train and dev parts are appended to the Corr2Cause train and dev records in
//!   the `_mixed` files, which stage 2 trains on — so the same weights answer both kinds of text.
//! * `chain_vs_fork.json` and `samples/*.npy` — see [`super::teach`].
//!
//! Encodings use the built-in tokenizer at 512 tokens (the built-in model's); truncation is
//! counted in `summary.json`, never hidden.

use std::collections::BTreeMap;
use std::path::Path;

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::acbo::local_query::{generate_local_corpus, LocalCorpusConfig};
use crate::acbo::oracle::ExperimentSettings;
use crate::corpus::{generate, CorpusKind, GenerateConfig, JsonlWriter, Record, Split};
use crate::demo::config::DataConfig;
use crate::error::Result;
use crate::files::csv::CsvTable;
use crate::files::{write_atomic, write_json_atomic};
use crate::tokenize::pairs::{mine, MinerConfig, NearMissPair, PairKind};
use crate::tokenize::stream::encode_all;
use crate::tokenize::summary::{summarize, to_csv};
use crate::tokenize::{load_with_max_length, Tokenizer};

/// Counts of one graph size in the demo corpora.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeCounts {
    /// Number of variables.
    pub n_vars: usize,
    /// Training records.
    pub train: usize,
    /// Dev records.
    pub dev: usize,
    /// Test records.
    pub test: usize,
    /// Test records labelled entailment.
    pub test_entailment: usize,
    /// True for the hard split (sizes above the training sizes).
    pub hard: bool,
    /// Mined same-premise, opposite-label near-miss pairs.
    pub pairs_mined: usize,
    /// Pairs kept for the eNTK.
    pub pairs_kept: usize,
    /// Mean shared-token fraction of the mined pairs.
    pub mean_shared_fraction: f64,
}

/// Counts of the local-query corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalCounts {
    /// Smallest and largest number of variables.
    pub nodes: (usize, usize),
    /// Random systems per size.
    pub systems: usize,
    /// S, samples per intervention arm of each experiment.
    pub samples: usize,
    /// Records in the training mix.
    pub train: usize,
    /// Records in the dev mix.
    pub dev: usize,
    /// Held-out records (`local_test.jsonl`).
    pub test: usize,
    /// Share of records whose answer is "changes" (label entailment).
    pub positive_share: f64,
}

/// `data/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Per size, in increasing order.
    pub sizes: Vec<SizeCounts>,
    /// The local-query corpus mixed into training.
    pub local: LocalCounts,
    /// Test records whose premise was truncated to the maximum length.
    pub test_truncated: usize,
    /// The maximum encoded length.
    pub max_length: usize,
}

/// The corpora in memory: (split, record).
pub(crate) type Corpus = Vec<(Split, Record)>;

/// Generate one corpus in memory (`per_size` only matters for the extended kind).
pub(crate) fn corpus(
    kind: CorpusKind,
    nodes: std::ops::RangeInclusive<usize>,
    max_mecs: Option<usize>,
    per_size: Option<usize>,
    seed: u64,
) -> Result<Corpus> {
    let defaults = GenerateConfig::default();
    let config =
        GenerateConfig { kind, nodes, max_mecs, per_size: per_size.unwrap_or(defaults.per_size), seed, ..defaults };
    config.validate()?;
    let mut sink = Vec::new();
    generate(&config, &mut sink)?;
    Ok(sink)
}

pub(crate) fn write_records<'a>(path: &Path, records: impl Iterator<Item = &'a Record>) -> Result<()> {
    let mut w = JsonlWriter::create(path)?;
    for r in records {
        w.write(r)?;
    }
    w.finish().map(|_| ())
}

/// The records of `corpus` in `split`, in order.
fn of(corpus: &Corpus, split: Split) -> Vec<&Record> {
    corpus.iter().filter(|(x, _)| *x == split).map(|(_, r)| r).collect()
}

/// Generate the local-query corpus and write `local_test.jsonl`, `train_mixed.jsonl` and
/// `dev_mixed.jsonl` (Corr2Cause records first, then the local ones).
fn write_local(cfg: &DataConfig, small: &Corpus, tokenizer: &dyn Tokenizer, dir: &Path) -> Result<LocalCounts> {
    let config = LocalCorpusConfig {
        nodes: cfg.local_nodes(),
        systems: cfg.local_systems,
        experiment: ExperimentSettings::new(cfg.local_samples)?,
        seed: cfg.seed,
    };
    let mut local: Corpus = Vec::new();
    generate_local_corpus(&config, tokenizer, &mut local, &mut |_| {})?;
    write_records(&dir.join("local_test.jsonl"), of(&local, Split::Test).into_iter())?;
    write_records(&dir.join("train_mixed.jsonl"), of(small, Split::Train).into_iter().chain(of(&local, Split::Train)))?;
    write_records(&dir.join("dev_mixed.jsonl"), of(small, Split::Dev).into_iter().chain(of(&local, Split::Dev)))?;
    let positives = local.iter().filter(|(_, r)| r.binary_label() == Some(1)).count();
    Ok(LocalCounts {
        nodes: (*config.nodes.start(), *config.nodes.end()),
        systems: cfg.local_systems,
        samples: cfg.local_samples,
        train: of(&local, Split::Train).len(),
        dev: of(&local, Split::Dev).len(),
        test: of(&local, Split::Test).len(),
        positive_share: positives as f64 / local.len().max(1) as f64,
    })
}

/// Generate and write `train.jsonl`, `dev.jsonl`, `test.jsonl`; returns (corpus, hard corpus).
fn write_corpora(cfg: &DataConfig, dir: &Path) -> Result<(Corpus, Vec<Record>)> {
    let small = corpus(CorpusKind::Corr2cause, cfg.train_nodes.clone(), Some(cfg.train_max_mecs), None, cfg.seed)?;
    let n6 = corpus(CorpusKind::Corr2cause, 6..=6, Some(cfg.hard_n6_mecs), None, cfg.seed)?;
    let ext = corpus(
        CorpusKind::Extended,
        cfg.hard_extended_nodes.clone(),
        None,
        Some(cfg.hard_extended_per_size),
        cfg.seed,
    )?;
    let hard: Vec<Record> = n6.into_iter().chain(ext).map(|(_, r)| r).collect();
    let of = |s: Split| small.iter().filter(move |(x, _)| *x == s).map(|(_, r)| r);
    write_records(&dir.join("train.jsonl"), of(Split::Train))?;
    write_records(&dir.join("dev.jsonl"), of(Split::Dev))?;
    write_records(&dir.join("test.jsonl"), of(Split::Test).chain(hard.iter()))?;
    Ok((small, hard))
}

/// Every same-premise, opposite-label pair of the test records (no overlap threshold, no cap per
/// premise: the overlap statistics describe all near misses, not the closest ones).
fn mine_test_pairs(dir: &Path, tokenizer: &dyn Tokenizer, seed: u64) -> Result<(Vec<NearMissPair>, usize)> {
    let (records, summary) = encode_all(&dir.join("test.jsonl"), tokenizer)?;
    let config = MinerConfig {
        kind: PairKind::SamePremise,
        min_overlap: 0.0,
        max_per_premise: None,
        seed,
        ..MinerConfig::default()
    };
    let (pairs, _) = mine(&records, tokenizer, &config)?;
    Ok((pairs, summary.truncated))
}

/// One compact CSV row per mined pair (the records themselves are in `test.jsonl`).
pub(crate) fn pairs_csv(pairs: &[NearMissPair]) -> String {
    let mut table = CsvTable::new(&[
        "n_vars",
        "line_a",
        "line_b",
        "relation_a",
        "relation_b",
        "shared_fraction",
        "jaccard",
        "normalized_levenshtein",
        "differing_tokens",
        "tokens_a",
        "tokens_b",
    ]);
    let rel = |r: &Record| r.relation.map_or("", |x| x.as_str()).to_string();
    for p in pairs {
        let o = &p.overlap;
        let mut fields = vec![p.n_vars.unwrap_or(0).to_string(), p.line_a.to_string(), p.line_b.to_string()];
        fields.extend([rel(&p.a), rel(&p.b), o.shared_fraction.to_string(), o.jaccard.to_string()]);
        fields.extend([o.normalized_levenshtein.to_string(), o.differing_tokens.to_string()]);
        fields.extend([o.len_a.to_string(), o.len_b.to_string()]);
        table.row(&fields);
    }
    table.into_string()
}

/// A seeded sample of at most `k` pairs per n (input order kept).
pub(crate) fn sample_per_size(pairs: &[NearMissPair], k: usize, seed: u64) -> Vec<NearMissPair> {
    let mut by_n: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in pairs.iter().enumerate() {
        by_n.entry(p.n_vars.unwrap_or(0)).or_default().push(i);
    }
    let mut keep: Vec<usize> = Vec::new();
    for (n, idx) in by_n {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(seed, &[n as u64]));
        let chosen = sample(&mut rng, idx.len(), k.min(idx.len()));
        keep.extend(chosen.into_iter().map(|c| idx[c]));
    }
    keep.sort_unstable();
    keep.into_iter().map(|i| pairs[i].clone()).collect()
}

fn counts_of(sizes: &mut BTreeMap<usize, SizeCounts>, n: usize, largest_train: usize) -> &mut SizeCounts {
    sizes.entry(n).or_insert_with(|| SizeCounts {
        n_vars: n,
        train: 0,
        dev: 0,
        test: 0,
        test_entailment: 0,
        hard: n > largest_train,
        pairs_mined: 0,
        pairs_kept: 0,
        mean_shared_fraction: 0.0,
    })
}

fn size_counts(
    cfg: &DataConfig,
    small: &Corpus,
    hard: &[Record],
    mined: &[NearMissPair],
    kept: &[NearMissPair],
) -> Vec<SizeCounts> {
    let mut sizes: BTreeMap<usize, SizeCounts> = BTreeMap::new();
    let largest = *cfg.train_nodes.end();
    let tests = small.iter().filter(|(s, _)| *s == Split::Test).map(|(_, r)| r).chain(hard);
    for r in tests {
        let c = counts_of(&mut sizes, r.n_vars.unwrap_or(0), largest);
        c.test += 1;
        c.test_entailment += usize::from(r.binary_label() == Some(1));
    }
    for (split, r) in small.iter().filter(|(s, _)| *s != Split::Test) {
        let c = counts_of(&mut sizes, r.n_vars.unwrap_or(0), largest);
        if *split == Split::Train {
            c.train += 1;
        } else {
            c.dev += 1;
        }
    }
    for p in mined {
        let c = counts_of(&mut sizes, p.n_vars.unwrap_or(0), largest);
        c.mean_shared_fraction += p.overlap.shared_fraction;
        c.pairs_mined += 1;
    }
    for p in kept {
        counts_of(&mut sizes, p.n_vars.unwrap_or(0), largest).pairs_kept += 1;
    }
    let mut out: Vec<SizeCounts> = sizes.into_values().collect();
    for c in &mut out {
        c.mean_shared_fraction /= c.pairs_mined.max(1) as f64;
    }
    out
}

/// Run stage 1 into `dir`.
///
/// # Errors
/// Generation, tokenization or write failures (the path named).
pub fn run(cfg: &DataConfig, dir: &Path) -> Result<DataSummary> {
    let (small, hard) = write_corpora(cfg, dir)?;
    let tokenizer = load_with_max_length("builtin", Some(cfg.max_length))?;
    let local = write_local(cfg, &small, tokenizer.as_ref(), dir)?;
    let (mined, truncated) = mine_test_pairs(dir, tokenizer.as_ref(), cfg.seed)?;
    let kept = sample_per_size(&mined, cfg.pairs_per_size, cfg.seed);
    write_atomic(dir.join("pairs_all.csv"), pairs_csv(&mined).as_bytes())?;
    let mut w = JsonlWriter::create(dir.join("pairs.jsonl"))?;
    kept.iter().try_for_each(|p| w.write(p))?;
    w.finish()?;
    write_atomic(dir.join("overlap.csv"), to_csv(&summarize(&mined)).as_bytes())?;
    super::teach::write(dir, cfg.chain_fork_samples, cfg.seed)?;
    let summary = DataSummary {
        sizes: size_counts(cfg, &small, &hard, &mined, &kept),
        local,
        test_truncated: truncated,
        max_length: cfg.max_length,
    };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::overlap::overlap;

    fn pair(n: usize, k: usize) -> NearMissPair {
        let r = Record { id: Some(format!("{n}-{k}")), n_vars: Some(n), ..Record::default() };
        NearMissPair {
            kind: PairKind::SamePremise,
            n_vars: Some(n),
            a: r.clone(),
            b: r,
            line_a: k,
            line_b: k + 1,
            truncated_a: false,
            truncated_b: false,
            overlap: overlap(&[1, 2], &[1, 3]),
            premise_overlap: None,
        }
    }

    #[test]
    fn sampling_keeps_at_most_k_per_size_seeded_and_in_order() {
        let pairs: Vec<NearMissPair> = (0..10).map(|k| pair(3 + k % 2, k)).collect();
        let a = sample_per_size(&pairs, 2, 7);
        assert_eq!(a.len(), 4);
        assert_eq!(a, sample_per_size(&pairs, 2, 7));
        assert!(a.windows(2).all(|w| w[0].line_a < w[1].line_a));
        assert_eq!(sample_per_size(&pairs, 100, 7).len(), 10);
    }
}
