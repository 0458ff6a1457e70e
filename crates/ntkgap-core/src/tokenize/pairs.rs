//! Near-miss pair mining: pairs of records whose encoded inputs share almost every token.
//!
//! Two kinds, after Roy & Parbhoo (arXiv 2605.27567, "near misses"):
//!
//! * [`PairKind::SamePremise`] — two hypotheses under one premise (records grouped by premise
//!   text). Their inputs differ only in the short hypothesis, so the shared-token fraction is
//!   ≥ 97 % and grows with n.
//! * [`PairKind::SameHypothesis`] — the paper's motivating case: one hypothesis under two
//!   premises whose graphs differ minimally (chain versus collider on three nodes, one edge
//!   reversed in larger graphs). Records are grouped by (hypothesis text, `n_vars`); partners must
//!   have a different premise text; candidates are ranked by **premise** shared-token fraction, a
//!   proxy for "minimally different graphs" (a reversed edge changes only the few statements
//!   that mention its endpoints).
//!
//! Filters: both records labelled with opposite binary labels (default), and the shared-token
//! fraction of the two full encodings ≥ `min_overlap`. Per group (same premise) or per anchor
//! record (same hypothesis) at most `max_per_premise` pairs are kept, best overlap first; ties are
//! broken by a seeded random key, and groups larger than `max_group` records are subsampled with
//! the same seed (counted in [`MineStats::subsampled_groups`]). Same seed → same pairs, same order.
//! Pairs are oriented so that `a` is the entailed (label 1) record when the labels differ.
//!
//! Cost: O(Σ g²·L) for groups of size g and encodings of length L (a sorted-merge per candidate),
//! plus one Levenshtein O(L²) per kept pair.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::Record;
use crate::error::{Error, Result};
use crate::tokenize::overlap::{overlap, shared_fraction_sorted, Overlap};
use crate::tokenize::stream::EncodedRecord;
use crate::tokenize::Tokenizer;

/// Which near-miss pairs to mine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairKind {
    /// Two hypotheses under the same premise.
    SamePremise,
    /// The same hypothesis under two minimally different premises.
    SameHypothesis,
    /// Both of the above (same-premise pairs first).
    Both,
}

impl PairKind {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PairKind::SamePremise => "same_premise",
            PairKind::SameHypothesis => "same_hypothesis",
            PairKind::Both => "both",
        }
    }
}

/// Validated miner settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinerConfig {
    /// Which pairs to mine.
    pub kind: PairKind,
    /// Minimum shared-token fraction of the two full encodings, in [0, 1] (default 0.9).
    pub min_overlap: f64,
    /// Require both records labelled, with opposite binary labels (default true).
    pub opposite_labels: bool,
    /// At most this many pairs per premise group / per anchor record (`None`: no limit; default 10).
    pub max_per_premise: Option<usize>,
    /// Groups larger than this are subsampled (seeded) before pairing (default 200, at least 2).
    pub max_group: usize,
    /// Seed of the tie-breaking and subsampling choices.
    pub seed: u64,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            kind: PairKind::SamePremise,
            min_overlap: 0.9,
            opposite_labels: true,
            max_per_premise: Some(10),
            max_group: 200,
            seed: 0,
        }
    }
}

impl MinerConfig {
    /// Check every field.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the flag that is out of range.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_overlap) {
            return Err(Error::setting("min_overlap", format!("{} is not in [0, 1]", self.min_overlap)));
        }
        if self.max_group < 2 {
            return Err(Error::setting("max_group", "must be at least 2"));
        }
        Ok(())
    }
}

/// One mined pair: both records, their metrics and where they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearMissPair {
    /// `same_premise` or `same_hypothesis`.
    pub kind: PairKind,
    /// Number of variables (of `a`; both records share it for both kinds when present).
    pub n_vars: Option<usize>,
    /// First record (the entailed one when the labels differ).
    pub a: Record,
    /// Second record.
    pub b: Record,
    /// Input line of `a`.
    pub line_a: usize,
    /// Input line of `b`.
    pub line_b: usize,
    /// Whether `a`'s premise was truncated.
    pub truncated_a: bool,
    /// Whether `b`'s premise was truncated.
    pub truncated_b: bool,
    /// Every overlap metric of the two full encodings.
    pub overlap: Overlap,
    /// Overlap of the two premises alone (same-hypothesis pairs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premise_overlap: Option<Overlap>,
}

/// Counts from one mining run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MineStats {
    /// Input records.
    pub records: usize,
    /// Records without a label (never paired when opposite labels are required).
    pub unlabelled: usize,
    /// Groups (premises or hypothesis/n_vars) with at least two records.
    pub groups: usize,
    /// Groups subsampled to `max_group` records.
    pub subsampled_groups: usize,
    /// Candidate pairs passing the label and overlap filters.
    pub candidates: usize,
    /// Pairs kept.
    pub pairs: usize,
}

/// A kept candidate: record indices and the ranking score.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    i: usize,
    j: usize,
    score: f64,
    tiebreak: u64,
}

/// Mine near-miss pairs among encoded records.
///
/// # Errors
/// [`Error::InvalidArgument`] for an invalid `config`, or naming the line of a record that is not
/// a premise/hypothesis pair.
pub fn mine(
    records: &[EncodedRecord],
    tokenizer: &dyn Tokenizer,
    config: &MinerConfig,
) -> Result<(Vec<NearMissPair>, MineStats)> {
    config.validate()?;
    if let Some(r) = records.iter().find(|r| r.record.premise.is_none() || r.record.hypothesis.is_none()) {
        return Err(Error::invalid(
            "input",
            format!("line {}: pair mining needs \"premise\" and \"hypothesis\" records", r.line),
        ));
    }
    let sorted: Vec<Vec<u32>> = records.par_iter().map(|r| sorted_ids(&r.encoding.ids)).collect();
    let mut stats = MineStats {
        records: records.len(),
        unlabelled: records.iter().filter(|r| r.record.label.is_none()).count(),
        ..Default::default()
    };
    let mut pairs = Vec::new();
    if config.kind != PairKind::SameHypothesis {
        let selected = same_premise(records, &sorted, config, &mut stats);
        pairs.extend(build_pairs(records, &selected, PairKind::SamePremise, None));
    }
    if config.kind != PairKind::SamePremise {
        let premises = premise_ids(records, tokenizer)?;
        let selected = same_hypothesis(records, &sorted, &premises, config, &mut stats);
        pairs.extend(build_pairs(records, &selected, PairKind::SameHypothesis, Some(&premises)));
    }
    stats.pairs = pairs.len();
    Ok((pairs, stats))
}

fn sorted_ids(ids: &[u32]) -> Vec<u32> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v
}

fn premise_of(r: &EncodedRecord) -> &str {
    r.record.premise.as_deref().unwrap_or_default()
}

fn labels_ok(a: &Record, b: &Record, config: &MinerConfig) -> bool {
    if !config.opposite_labels {
        return true;
    }
    matches!((a.binary_label(), b.binary_label()), (Some(x), Some(y)) if x != y)
}

/// Indices grouped by key, groups in order of first occurrence, singletons dropped.
fn group_by<K: Hash + Eq>(n: usize, key: impl Fn(usize) -> K) -> Vec<Vec<usize>> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let g = *index.entry(key(i)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups.retain(|g| g.len() >= 2);
    groups
}

/// A generator private to (kind, group), so parallel order never changes the draws.
fn group_rng(seed: u64, kind: u64, group: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(kind.wrapping_mul(1 << 40).wrapping_add(group as u64));
    rng
}

/// Keep at most `max` members (seeded, order preserved); the flag says whether it cut.
fn subsample(members: &[usize], max: usize, rng: &mut ChaCha8Rng) -> (Vec<usize>, bool) {
    if members.len() <= max {
        return (members.to_vec(), false);
    }
    let mut picked: Vec<usize> = sample(rng, members.len(), max).into_iter().map(|k| members[k]).collect();
    picked.sort_unstable();
    (picked, true)
}

/// Best score first, seeded tie-break, then at most `k`.
fn top_k(mut cands: Vec<Candidate>, k: Option<usize>) -> Vec<Candidate> {
    cands.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.tiebreak.cmp(&y.tiebreak)));
    if let Some(k) = k {
        cands.truncate(k);
    }
    cands
}

fn same_premise(
    records: &[EncodedRecord],
    sorted: &[Vec<u32>],
    config: &MinerConfig,
    stats: &mut MineStats,
) -> Vec<Candidate> {
    let groups = group_by(records.len(), |i| premise_of(&records[i]));
    let per_group: Vec<(Vec<Candidate>, usize, bool)> = groups
        .par_iter()
        .enumerate()
        .map(|(g, members)| {
            let mut rng = group_rng(config.seed, 1, g);
            let (members, cut) = subsample(members, config.max_group, &mut rng);
            let mut cands = Vec::new();
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    let tiebreak = rng.random::<u64>();
                    if !labels_ok(&records[i].record, &records[j].record, config) {
                        continue;
                    }
                    let score = shared_fraction_sorted(&sorted[i], &sorted[j]);
                    if score >= config.min_overlap {
                        cands.push(Candidate { i, j, score, tiebreak });
                    }
                }
            }
            let n = cands.len();
            (top_k(cands, config.max_per_premise), n, cut)
        })
        .collect();
    collect_groups(per_group, groups.len(), stats)
}

fn collect_groups(
    per_group: Vec<(Vec<Candidate>, usize, bool)>,
    groups: usize,
    stats: &mut MineStats,
) -> Vec<Candidate> {
    stats.groups += groups;
    let mut out = Vec::new();
    for (kept, n, cut) in per_group {
        stats.candidates += n;
        stats.subsampled_groups += usize::from(cut);
        out.extend(kept);
    }
    out
}

/// Sorted ids of each distinct premise encoded alone, keyed by premise text.
fn premise_ids(records: &[EncodedRecord], tokenizer: &dyn Tokenizer) -> Result<HashMap<String, Vec<u32>>> {
    let distinct: BTreeSet<&str> = records.iter().map(premise_of).collect();
    let encoded: Vec<Result<(String, Vec<u32>)>> =
        distinct.into_par_iter().map(|p| Ok((p.to_string(), tokenizer.encode(p)?.ids))).collect();
    encoded.into_iter().collect()
}

fn same_hypothesis(
    records: &[EncodedRecord],
    sorted: &[Vec<u32>],
    premises: &HashMap<String, Vec<u32>>,
    config: &MinerConfig,
    stats: &mut MineStats,
) -> Vec<Candidate> {
    let premise_sorted: HashMap<&str, Vec<u32>> =
        premises.iter().map(|(p, ids)| (p.as_str(), sorted_ids(ids))).collect();
    let groups = group_by(records.len(), |i| (records[i].record.hypothesis.as_deref(), records[i].record.n_vars));
    let per_group: Vec<(Vec<Candidate>, usize, bool)> = groups
        .par_iter()
        .enumerate()
        .map(|(g, members)| {
            let mut rng = group_rng(config.seed, 2, g);
            let (members, cut) = subsample(members, config.max_group, &mut rng);
            let (kept, n) = same_hypothesis_group(records, sorted, &premise_sorted, &members, config, &mut rng);
            (kept, n, cut)
        })
        .collect();
    collect_groups(per_group, groups.len(), stats)
}

/// Each member (as anchor) keeps its best `max_per_premise` partners; pairs deduplicated.
fn same_hypothesis_group(
    records: &[EncodedRecord],
    sorted: &[Vec<u32>],
    premise_sorted: &HashMap<&str, Vec<u32>>,
    members: &[usize],
    config: &MinerConfig,
    rng: &mut ChaCha8Rng,
) -> (Vec<Candidate>, usize) {
    let mut scored: HashMap<(usize, usize), Candidate> = HashMap::new();
    for (x, &i) in members.iter().enumerate() {
        for &j in &members[x + 1..] {
            let tiebreak = rng.random::<u64>();
            let (ri, rj) = (&records[i].record, &records[j].record);
            if ri.premise == rj.premise || !labels_ok(ri, rj, config) {
                continue;
            }
            if shared_fraction_sorted(&sorted[i], &sorted[j]) < config.min_overlap {
                continue;
            }
            let score = shared_fraction_sorted(
                &premise_sorted[premise_of(&records[i])],
                &premise_sorted[premise_of(&records[j])],
            );
            scored.insert((i, j), Candidate { i, j, score, tiebreak });
        }
    }
    let n = scored.len();
    let mut keep: BTreeSet<(usize, usize)> = BTreeSet::new();
    for &anchor in members {
        let mine: Vec<Candidate> = scored.values().filter(|c| c.i == anchor || c.j == anchor).copied().collect();
        keep.extend(top_k(mine, config.max_per_premise).iter().map(|c| (c.i, c.j)));
    }
    let kept: Vec<Candidate> = keep.iter().map(|key| scored[key]).collect();
    (top_k(kept, None), n)
}

fn build_pairs(
    records: &[EncodedRecord],
    selected: &[Candidate],
    kind: PairKind,
    premises: Option<&HashMap<String, Vec<u32>>>,
) -> Vec<NearMissPair> {
    selected
        .par_iter()
        .map(|c| {
            let (mut a, mut b) = (&records[c.i], &records[c.j]);
            if a.record.binary_label() == Some(0) && b.record.binary_label() == Some(1) {
                std::mem::swap(&mut a, &mut b);
            }
            let premise_overlap = premises.map(|p| overlap(&p[premise_of(a)], &p[premise_of(b)]));
            NearMissPair {
                kind,
                n_vars: a.record.n_vars.or(b.record.n_vars),
                a: a.record.clone(),
                b: b.record.clone(),
                line_a: a.line,
                line_b: b.line,
                truncated_a: a.encoding.truncated,
                truncated_b: b.encoding.truncated,
                overlap: overlap(&a.encoding.ids, &b.encoding.ids),
                premise_overlap,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Label;
    use crate::tokenize::builtin;

    const HEAD: &str = "Suppose there is a closed system of 3 variables, Z, Y and X. All the statistical relations \
                        among these 3 variables are as follows: ";

    fn rec(tok: &dyn Tokenizer, line: usize, premise: &str, hypothesis: &str, label: Label) -> EncodedRecord {
        let record = Record {
            premise: Some(format!("{HEAD}{premise}")),
            hypothesis: Some(hypothesis.into()),
            label: Some(label),
            n_vars: Some(3),
            id: Some(format!("r{line}")),
            ..Default::default()
        };
        let encoding = tok.encode_pair(record.premise.as_deref().unwrap(), hypothesis).unwrap();
        EncodedRecord { line, record, encoding }
    }

    fn corpus(tok: &dyn Tokenizer) -> Vec<EncodedRecord> {
        let collider = "Z correlates with Y. Y correlates with X. However, Z is independent of X.";
        let chain =
            "Z correlates with Y. Z correlates with X. Y correlates with X. However, Z and X are independent given Y.";
        let far = "Z and Y are independent given X. Z and X are independent given Y. Y and X are independent given Z.";
        vec![
            rec(tok, 1, collider, "Z directly causes Y.", Label::Entailment),
            rec(tok, 2, chain, "Z directly causes Y.", Label::Neutral),
            rec(tok, 3, far, "Z directly causes Y.", Label::Contradiction),
            rec(tok, 4, collider, "Y directly causes Z.", Label::Contradiction),
        ]
    }

    #[test]
    fn same_hypothesis_prefers_the_minimally_different_premise() {
        let tok = builtin::tokenizer().unwrap();
        let records = corpus(&tok);
        let config = MinerConfig { kind: PairKind::SameHypothesis, min_overlap: 0.0, ..Default::default() };
        let (pairs, stats) = mine(&records, &tok, &config).unwrap();
        assert_eq!(stats.groups, 1, "one (hypothesis, n_vars) group with three records");
        assert_eq!(pairs.len(), 2);
        assert_eq!((pairs[0].line_a, pairs[0].line_b), (1, 2), "chain vs collider ranks first");
        assert_eq!((pairs[1].line_a, pairs[1].line_b), (1, 3));
        let first = pairs[0].premise_overlap.unwrap().shared_fraction;
        assert!(first > pairs[1].premise_overlap.unwrap().shared_fraction);
        let limited = MinerConfig { max_per_premise: Some(1), ..config.clone() };
        let (pairs, _) = mine(&records[..3], &tok, &limited).unwrap();
        assert_eq!(pairs.len(), 2, "each anchor keeps its best partner; the union has both pairs");
    }

    #[test]
    fn same_premise_orients_entailed_first_and_is_deterministic() {
        let tok = builtin::tokenizer().unwrap();
        let records = corpus(&tok);
        let config = MinerConfig { kind: PairKind::Both, min_overlap: 0.0, ..Default::default() };
        let (pairs, stats) = mine(&records, &tok, &config).unwrap();
        let same_premise: Vec<_> = pairs.iter().filter(|p| p.kind == PairKind::SamePremise).collect();
        assert_eq!(same_premise.len(), 1);
        assert_eq!((same_premise[0].line_a, same_premise[0].line_b), (1, 4));
        assert_eq!(same_premise[0].overlap.shared_fraction, 1.0, "same tokens, different order");
        assert_eq!(same_premise[0].overlap.levenshtein, 2);
        assert_eq!(stats.pairs, pairs.len());
        assert_eq!(mine(&records, &tok, &config).unwrap().0, pairs);
    }

    #[test]
    fn rejects_bad_settings_and_text_records() {
        let tok = builtin::tokenizer().unwrap();
        let mut records = corpus(&tok);
        let bad = MinerConfig { min_overlap: -0.1, ..Default::default() };
        assert!(mine(&records, &tok, &bad).unwrap_err().to_string().contains("`min_overlap`"));
        records[2].record.premise = None;
        records[2].record.text = Some("just text".into());
        let err = mine(&records, &tok, &MinerConfig::default()).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
