//! The local query of the `model:DIR` oracle: one interventional question about the *true*
//! system, carrying the outcome of one simulated experiment, in a short text.
//!
//! The paper's query wording is not public (Roy & Parbhoo, arXiv 2605.27567, "A-CBO"); this is a
//! stated reconstruction. A frozen text classifier cannot know the true DAG from the premise (the
//! premise fixes only the Markov equivalence class), so the text must carry local evidence about
//! the true system. The agent runs the experiment do(X = ±c) on the true system (the
//! linear-Gaussian SCM of `experiment:S`, [`Experimenter`]) and asks, per target Y:
//!
//! ```text
//! When we intervene on Z, the effect on Y is 12. Does Y change?
//! ```
//!
//! where the effect is Welch's t statistic of Y between the arms do(X = +c) and do(X = −c) (the
//! standardized shift of Y's mean), rounded to an integer and clamped to ±[`EFFECT_LIMIT`] (the
//! built-in vocabulary holds the integers 0..=64, one token each; a decimal digit would let two
//! texts such as `2.3` and `3.2` hold the same multiset of tokens). The answer is
//! yes (label `entailment`, 1) iff Y is a descendant of X in the true DAG — the truth, not the
//! experiment's own test decision, so a model can learn to read the evidence better than a fixed
//! threshold. Every word is in the built-in tokenizer's vocabulary (`tokenize::builtin`,
//! `QUERY_WORDS` and `TEMPLATE_WORDS`), so no token maps to `[UNK]`.
//!
//! Locality: a text is 19–20 tokens; two queries of one intervention differ in the target's name
//! (twice) and the number, the same question of two systems in the number, so near-miss local
//! queries share at most 19 of 20 tokens — not the ≥ 97 % of a premise + hypothesis pair
//! (measured by `ntkgap local-queries`, [`NearMissOverlap`]). Rejected alternatives: `docs/acbo.md`.
//!
//! [`generate_local_corpus`] writes training records (train/dev/test by system) for mixing with
//! the global Corr2Cause task, so that one set of weights is asked both ways.

use std::ops::RangeInclusive;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::acbo::oracle::{ExperimentSettings, Experimenter};
use crate::acbo::query::{Query, QueryKind};
use crate::corpus::generate::RecordSink;
use crate::corpus::names::variable_name;
use crate::corpus::split::Split;
use crate::corpus::{Label, Record};
use crate::error::{Error, Result};
use crate::graph::{default_edge_probability, random_dag, MAX_NODES};
use crate::seed;
use crate::tokenize::{overlap, Tokenizer};

/// Reported effects are clamped to ±this (the built-in vocabulary's largest number).
pub const EFFECT_LIMIT: f64 = 64.0;

/// Most records one [`generate_local_corpus`] call writes.
pub const MAX_LOCAL_RECORDS: u64 = 5_000_000;

/// The effect as written: rounded to an integer, clamped to ±[`EFFECT_LIMIT`], never `-0`; an
/// infinite statistic (zero variance in both arms) is written as the limit, NaN as `0`.
pub fn effect_text(t: f64) -> String {
    let clamped = if t.is_nan() { 0.0 } else { t.clamp(-EFFECT_LIMIT, EFFECT_LIMIT) };
    format!("{}", clamped.round() as i64)
}

/// The local query text about do(`x`) and target `y` of an `n`-variable system with effect `t`.
pub fn local_query_text(n: usize, x: usize, y: usize, t: f64) -> String {
    let (xn, yn) = (variable_name(x, n), variable_name(y, n));
    format!("When we intervene on {xn}, the effect on {yn} is {}. Does {yn} change?", effect_text(t))
}

/// One per-target question of a query, with the experiment behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalQuestion {
    /// The target Y.
    pub target: usize,
    /// Welch's t of Y between the arms.
    pub effect: f64,
    /// The text asked.
    pub text: String,
}

/// Run the experiment of `query` in `lab` and phrase one question per target (increasing Y).
pub fn local_questions(lab: &mut Experimenter, query: &Query) -> Vec<LocalQuestion> {
    let n = lab.descendants().len();
    lab.run(query)
        .into_iter()
        .map(|e| LocalQuestion {
            target: e.target,
            effect: e.t,
            text: local_query_text(n, query.intervene, e.target, e.t),
        })
        .collect()
}

/// Settings of [`generate_local_corpus`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalCorpusConfig {
    /// Numbers of variables, inclusive (2..=64).
    pub nodes: RangeInclusive<usize>,
    /// Random systems per size (≥ 1); each gives n(n−1) records.
    pub systems: usize,
    /// How experiments run (S samples per arm, c).
    pub experiment: ExperimentSettings,
    /// Seed of DAGs, SCM weights and noise.
    pub seed: u64,
}

impl LocalCorpusConfig {
    /// Records the config will write.
    pub fn total_records(&self) -> u64 {
        self.nodes.clone().map(|n| (self.systems * n * (n - 1)) as u64).sum()
    }

    /// Check every field.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `--nodes`, `--systems` or `--samples`.
    pub fn validate(&self) -> Result<()> {
        let (lo, hi) = (*self.nodes.start(), *self.nodes.end());
        if lo > hi || lo < 2 || hi > MAX_NODES {
            return Err(Error::setting("nodes", format!("{lo}..{hi} is not a non-empty range inside 2..{MAX_NODES}")));
        }
        if self.systems == 0 {
            return Err(Error::setting("systems", "must be at least 1"));
        }
        if self.experiment.samples < 2 {
            return Err(Error::setting("samples", format!("{} < 2", self.experiment.samples)));
        }
        let total = self.total_records();
        if total > MAX_LOCAL_RECORDS {
            return Err(Error::setting("systems", format!("{total} records exceed the limit of {MAX_LOCAL_RECORDS}")));
        }
        Ok(())
    }
}

/// Systems per size whose questions enter the cross-system (same question) overlap.
pub const OVERLAP_SYSTEMS: usize = 20;

/// Token overlap (`shared_fraction`, [`crate::tokenize::overlap`]) of a size's near-miss local
/// queries: pairs of texts with opposite answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NearMissOverlap {
    /// Pairs from one experiment: same do(X), two targets, one changes and one does not.
    pub same_intervention_pairs: u64,
    /// Their mean shared-token fraction.
    pub same_intervention_mean_shared: Option<f64>,
    /// Pairs asking the same question (same X and Y) of two systems (among the first
    /// [`OVERLAP_SYSTEMS`]) with opposite answers: they differ only in the reported effect.
    pub same_question_pairs: u64,
    /// Their mean shared-token fraction.
    pub same_question_mean_shared: Option<f64>,
    /// Largest shared fraction over the pairs of either kind whose texts differ.
    pub max_shared: Option<f64>,
    /// Pairs of either kind whose texts differ but share at least 97 % of their tokens.
    pub pairs_at_least_97: u64,
    /// Same-question pairs whose texts are identical (the same rounded effect) yet whose answers
    /// differ: not a near miss but the experiment's own noise, which no reader can undo.
    pub identical_texts: u64,
}

/// One size's questions for the overlap: (system, X, Y, answer, token ids).
type Question = (usize, String, String, bool, Vec<u32>);

fn near_miss_overlap(questions: &[Question]) -> NearMissOverlap {
    let mut out = NearMissOverlap::default();
    let (mut sum_do, mut sum_q, mut max) = (0.0, 0.0, f64::NEG_INFINITY);
    for (i, a) in questions.iter().enumerate() {
        for b in &questions[i + 1..] {
            let same_do = a.0 == b.0 && a.1 == b.1;
            let same_q = a.0 != b.0 && a.1 == b.1 && a.2 == b.2 && a.0 < OVERLAP_SYSTEMS && b.0 < OVERLAP_SYSTEMS;
            if a.3 == b.3 || !(same_do || same_q) {
                continue;
            }
            let shared = overlap(&a.4, &b.4).shared_fraction;
            if a.4 == b.4 {
                out.identical_texts += 1;
            } else {
                max = max.max(shared);
                out.pairs_at_least_97 += u64::from(shared >= 0.97);
            }
            if same_do {
                out.same_intervention_pairs += 1;
                sum_do += shared;
            } else {
                out.same_question_pairs += 1;
                sum_q += shared;
            }
        }
    }
    let mean = |sum: f64, k: u64| (k > 0).then(|| sum / k as f64);
    out.same_intervention_mean_shared = mean(sum_do, out.same_intervention_pairs);
    out.same_question_mean_shared = mean(sum_q, out.same_question_pairs);
    out.max_shared = max.is_finite().then_some(max);
    out
}

/// Counts for one size.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LocalSizeSummary {
    /// Number of variables.
    pub n: usize,
    /// Records written.
    pub records: u64,
    /// Records whose answer is yes (Y is a descendant of X).
    pub changes: u64,
    /// Records per split (train, dev, test).
    pub train: u64,
    /// Dev records.
    pub dev: u64,
    /// Test records.
    pub test: u64,
    /// Token overlap of near-miss questions (through the tokenizer given to the generator).
    pub near_misses: NearMissOverlap,
}

/// The split of system `index`: every tenth system (0, 10, …) to test, the next one to dev, the
/// rest to train — so no system's questions straddle two splits.
pub fn split_of_system(index: usize) -> Split {
    match index % 10 {
        0 => Split::Test,
        1 => Split::Dev,
        _ => Split::Train,
    }
}

/// Write `systems` random systems per size as local query records: for system i of size n a
/// DAG `random_dag(n, min(0.5, 6/(n−1)))`, an SCM, and for every X one set-valued experiment
/// do(X = ±c) whose n−1 targets give one record each (`text`, `label`, `n_vars`, `pair`, `id`
/// `lq{n}-{i}-{X}-{Y}`). The summary measures the near misses' token overlap through
/// `tokenizer`. `progress` receives the records written so far.
///
/// # Errors
/// [`LocalCorpusConfig::validate`]; tokenizer failures; whatever the sink fails with.
pub fn generate_local_corpus(
    config: &LocalCorpusConfig,
    tokenizer: &dyn Tokenizer,
    sink: &mut dyn RecordSink,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<LocalSizeSummary>> {
    config.validate()?;
    let mut done = 0u64;
    let mut sizes = Vec::new();
    for n in config.nodes.clone() {
        let mut summary = LocalSizeSummary { n, ..LocalSizeSummary::default() };
        let mut questions: Vec<Question> = Vec::new();
        for i in 0..config.systems {
            let split = split_of_system(i);
            for record in system_records(config, n, i)? {
                let [x, y] = record.pair.clone().unwrap_or_default();
                let ids = tokenizer.encode(record.text.as_deref().unwrap_or_default())?.ids;
                questions.push((i, x, y, record.label == Some(Label::Entailment), ids));
                sink.accept(split, &record)?;
                summary.records += 1;
                summary.changes += u64::from(record.label == Some(Label::Entailment));
                *match split {
                    Split::Train => &mut summary.train,
                    Split::Dev => &mut summary.dev,
                    Split::Test => &mut summary.test,
                } += 1;
            }
            done += (n * (n - 1)) as u64;
            progress(done);
        }
        summary.near_misses = near_miss_overlap(&questions);
        sizes.push(summary);
    }
    Ok(sizes)
}

fn system_records(config: &LocalCorpusConfig, n: usize, index: usize) -> Result<Vec<Record>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed::derive(config.seed, &[n as u64, 0x10C, index as u64]));
    let dag = random_dag(n, default_edge_probability(n), &mut rng)?;
    let lab_seed = seed::derive(config.seed, &[n as u64, 0x10D, index as u64]);
    let mut lab = Experimenter::new(dag.parent_sets(), config.experiment, lab_seed)?;
    let mut records = Vec::with_capacity(n * (n - 1));
    for query in crate::acbo::query::all_queries(n, QueryKind::Set) {
        let x = query.intervene;
        let truth = lab.descendants()[x];
        for q in local_questions(&mut lab, &query) {
            let (xn, yn) = (variable_name(x, n), variable_name(q.target, n));
            let label = if truth >> q.target & 1 == 1 { Label::Entailment } else { Label::Contradiction };
            records.push(Record {
                text: Some(q.text),
                label: Some(label),
                n_vars: Some(n),
                id: Some(format!("lq{n}-{index}-{xn}-{yn}")),
                pair: Some([xn, yn]),
                ..Record::default()
            });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_are_rounded_clamped_and_never_negative_zero() {
        assert_eq!(effect_text(12.34), "12");
        assert_eq!(effect_text(-0.4), "0");
        assert_eq!(effect_text(-2.66), "-3");
        assert_eq!(effect_text(2.5), "3");
        assert_eq!(effect_text(1e9), "64");
        assert_eq!(effect_text(f64::NEG_INFINITY), "-64");
        assert_eq!(effect_text(f64::NAN), "0");
    }

    #[test]
    fn template_words_are_all_in_the_builtin_vocabulary() {
        let tok = crate::tokenize::builtin::tokenizer().unwrap();
        let unk = tok.special_ids().unk.unwrap();
        for (n, t) in [(3, 0.0), (12, -63.96), (30, 2.55), (64, 1e6)] {
            let text = local_query_text(n, 0, n - 1, t);
            let enc = tok.encode(&text).unwrap();
            assert!(!enc.ids.contains(&unk), "{text}: {:?}", tok.tokens(&enc.ids));
            assert!(enc.len() <= 24, "{text}: {} tokens", enc.len());
        }
        assert_eq!(local_query_text(3, 0, 2, 3.25), "When we intervene on Z, the effect on X is 3. Does X change?");
    }

    #[test]
    fn corpus_is_seeded_split_by_system_and_labelled_by_the_truth() {
        let config =
            LocalCorpusConfig { nodes: 3..=4, systems: 12, experiment: ExperimentSettings::new(200).unwrap(), seed: 7 };
        let tok = crate::tokenize::builtin::tokenizer().unwrap();
        let mut a: Vec<(Split, Record)> = Vec::new();
        let sizes = generate_local_corpus(&config, &tok, &mut a, &mut |_| {}).unwrap();
        assert_eq!(a.len() as u64, config.total_records());
        assert_eq!(sizes[0].records, 12 * 6);
        assert_eq!((sizes[1].test, sizes[1].dev, sizes[1].train), (24, 24, 96)); // systems 0, 10 | 1, 11 | the rest
        let mut b: Vec<(Split, Record)> = Vec::new();
        generate_local_corpus(&config, &tok, &mut b, &mut |_| {}).unwrap();
        // Near misses: one experiment's opposite answers differ in the target (twice) and the
        // number; the same question of two systems in the number only.
        let m = &sizes[1].near_misses;
        assert!(m.same_intervention_pairs > 0 && m.same_question_pairs > 0, "{m:?}");
        assert!(m.same_intervention_mean_shared.unwrap() < 0.9, "{m:?}");
        assert!(m.same_question_mean_shared.unwrap() < 0.97, "{m:?}");
        assert!(m.max_shared.unwrap() < 0.97 && m.pairs_at_least_97 == 0, "{m:?}");
        assert_eq!(a, b);
        // With S = 200 the large effects are the changes: |t| ≥ 3 agrees with the label on most.
        let agree = a
            .iter()
            .filter(|(_, r)| {
                let text = r.text.as_deref().unwrap();
                let t: f64 = text.split("is ").nth(1).unwrap().split(". Does").next().unwrap().parse().unwrap();
                (t.abs() >= 3.0) == (r.label == Some(Label::Entailment))
            })
            .count();
        assert!(agree as f64 > 0.9 * a.len() as f64, "{agree} of {}", a.len());
        assert!(LocalCorpusConfig { systems: 0, ..config.clone() }.validate().is_err());
        assert!(LocalCorpusConfig { nodes: 1..=3, ..config }.validate().is_err());
    }
}
