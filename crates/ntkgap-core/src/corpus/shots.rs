//! In-context demonstrations for prompting a frozen model (docs/science.md "ICL protocol").
//!
//! A [`ShotSet`] is K labelled premise/hypothesis records drawn seeded from a training file,
//! balanced by binary label (⌊K/2⌋ of each, the odd one out drawn too), in a seeded order. Its
//! [`ShotSet::prefix`] — each demonstration rendered through the run's prompt template and
//! followed by its answer word, demonstrations separated by a blank line — goes in front of every
//! query of a run, so both members of a near-miss pair (and every record) see the same
//! demonstrations and still differ only in the query's hypothesis.
//!
//! Known gaps: demonstrations are drawn without regard to graph size; a training file that
//! shares premises with the evaluated records is the caller's choice (ntkgap's splits keep
//! premises apart).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::corpus::{Record, RecordText};
use crate::error::{Error, Result};

/// Most demonstrations a prompt may carry.
pub const MAX_SHOTS: usize = 64;

/// One demonstration: a premise, a hypothesis and whether the hypothesis is entailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demonstration {
    /// The premise.
    pub premise: String,
    /// The hypothesis.
    pub hypothesis: String,
    /// True for entailment (binary label 1).
    pub entailed: bool,
    /// The record's `id`, when it has one.
    pub id: Option<String>,
}

/// The K demonstrations of a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShotSet {
    demonstrations: Vec<Demonstration>,
    seed: u64,
}

/// What a run records about its demonstrations (`meta.json`, under `prompting.shots`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShotSummary {
    /// K, the number of demonstrations.
    pub k: usize,
    /// How many of them are entailed.
    pub entailed: usize,
    /// The seed they were drawn with.
    pub seed: u64,
    /// SHA-256 of the demonstrations (premise, hypothesis, label, in prompt order).
    pub sha256: String,
    /// Their record ids in prompt order (`null` for a record without one).
    pub ids: Vec<Option<String>>,
}

impl ShotSet {
    /// No demonstrations (zero-shot): an empty prefix.
    pub fn none() -> Self {
        Self::default()
    }

    /// Draw `k` demonstrations from the labelled premise/hypothesis records of `pool` (records
    /// without a label or in the `{"text"}` form are passed over): ⌊k/2⌋ entailed and ⌊k/2⌋ not,
    /// plus one more of a seeded class when `k` is odd, each class sampled without replacement,
    /// then shuffled. The same `seed` and pool give the same set.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`shots`) above [`MAX_SHOTS`], or when the pool has too few
    /// records of a class (both counts named).
    pub fn draw(pool: &[Record], k: usize, seed: u64) -> Result<Self> {
        if k > MAX_SHOTS {
            return Err(Error::setting("shots", format!("{k} is above the maximum of {MAX_SHOTS}")));
        }
        if k == 0 {
            return Ok(Self::none());
        }
        let mut by_class: [Vec<Demonstration>; 2] = Default::default();
        for record in pool {
            let (Ok(RecordText::Pair { premise, hypothesis }), Some(label)) = (record.input(), record.binary_label())
            else {
                continue;
            };
            let entailed = label == 1;
            let demo = Demonstration {
                premise: premise.to_string(),
                hypothesis: hypothesis.to_string(),
                entailed,
                id: record.id.clone(),
            };
            by_class[usize::from(entailed)].push(demo);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(seed, &[0x5407]));
        let mut counts = [k / 2, k / 2];
        if k % 2 == 1 {
            counts[usize::from(rand::Rng::random_bool(&mut rng, 0.5))] += 1;
        }
        if let Some(want) = counts.iter().zip(&by_class).find(|(want, have)| have.len() < **want).map(|(w, _)| *w) {
            let (pos, neg) = (by_class[1].len(), by_class[0].len());
            return Err(Error::setting(
                "shots",
                format!("{k} balanced demonstrations need {want} of a class; the pool has {pos} entailed and {neg} other labelled pairs"),
            ));
        }
        let mut demonstrations = Vec::with_capacity(k);
        for (class, want) in counts.into_iter().enumerate() {
            let members = &mut by_class[class];
            members.shuffle(&mut rng);
            demonstrations.extend(members.drain(..want));
        }
        demonstrations.shuffle(&mut rng);
        Ok(Self { demonstrations, seed })
    }

    /// What identifies this set in a run's metadata: K, the entailed count, the seed, a hash
    /// of the demonstrations and their ids.
    pub fn summary(&self) -> ShotSummary {
        let mut hasher = Sha256::new();
        for d in &self.demonstrations {
            for part in [d.premise.as_bytes(), d.hypothesis.as_bytes(), &[u8::from(d.entailed)]] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
        }
        let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        ShotSummary {
            k: self.len(),
            entailed: self.demonstrations.iter().filter(|d| d.entailed).count(),
            seed: self.seed,
            sha256,
            ids: self.demonstrations.iter().map(|d| d.id.clone()).collect(),
        }
    }

    /// The demonstrations, in prompt order.
    pub fn demonstrations(&self) -> &[Demonstration] {
        &self.demonstrations
    }

    /// Number of demonstrations (K).
    pub fn len(&self) -> usize {
        self.demonstrations.len()
    }

    /// True for zero-shot.
    pub fn is_empty(&self) -> bool {
        self.demonstrations.is_empty()
    }

    /// The text that precedes every query: each demonstration as `render(premise, hypothesis)`
    /// followed by its answer word (`answer_words` = [no-word, yes-word], e.g. `[" No", " Yes"]`)
    /// and a blank line; empty for zero-shot.
    pub fn prefix(&self, render: impl Fn(&str, &str) -> String, answer_words: [&str; 2]) -> String {
        let mut out = String::new();
        for d in &self.demonstrations {
            out.push_str(&render(&d.premise, &d.hypothesis));
            out.push_str(answer_words[usize::from(d.entailed)]);
            out.push_str("\n\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Label;

    fn pool() -> Vec<Record> {
        (0..40)
            .map(|i| {
                let json = format!(
                    r#"{{"premise": "P{i}.", "hypothesis": "H{i}.", "label": "{}"}}"#,
                    if i % 4 == 0 { "entailment" } else { "contradiction" }
                );
                serde_json::from_str(&json).unwrap()
            })
            .collect()
    }

    #[test]
    fn balanced_seeded_and_stable() {
        let pool = pool();
        for k in [1, 4, 7, 8] {
            let a = ShotSet::draw(&pool, k, 3).unwrap();
            assert_eq!(a.len(), k);
            let pos = a.demonstrations().iter().filter(|d| d.entailed).count();
            assert!(pos == k / 2 || pos == k.div_ceil(2), "k = {k}: {pos} entailed");
            assert_eq!(a, ShotSet::draw(&pool, k, 3).unwrap(), "same seed, same set");
        }
        assert_ne!(ShotSet::draw(&pool, 8, 3).unwrap(), ShotSet::draw(&pool, 8, 4).unwrap());
        let summary = ShotSet::draw(&pool, 8, 3).unwrap().summary();
        assert_eq!((summary.k, summary.entailed, summary.seed, summary.sha256.len()), (8, 4, 3, 64));
        assert_eq!(summary, ShotSet::draw(&pool, 8, 3).unwrap().summary());
        assert_ne!(summary.sha256, ShotSet::draw(&pool, 8, 4).unwrap().summary().sha256);
        let labels = pool.iter().filter(|r| r.label == Some(Label::Entailment)).count();
        assert_eq!(labels, 10);
    }

    #[test]
    fn the_prefix_renders_each_demonstration_with_its_answer() {
        let set = ShotSet::draw(&pool(), 2, 0).unwrap();
        let prefix = set.prefix(|p, h| format!("Premise: {p}\nHypothesis: {h}\nAnswer:"), [" No", " Yes"]);
        assert_eq!(prefix.matches("Answer: Yes\n\n").count(), 1, "{prefix}");
        assert_eq!(prefix.matches("Answer: No\n\n").count(), 1, "{prefix}");
        assert_eq!(ShotSet::none().prefix(|p, _| p.to_string(), ["n", "y"]), "");
    }

    #[test]
    fn too_few_of_a_class_or_too_many_shots_are_refused() {
        let pool = pool();
        let e = ShotSet::draw(&pool[..4], 4, 0).unwrap_err().to_string();
        assert!(e.contains("`shots`") && e.contains("1 entailed and 3 other"), "{e}");
        assert!(ShotSet::draw(&pool, MAX_SHOTS + 1, 0).is_err());
        assert!(ShotSet::draw(&pool, 0, 0).unwrap().is_empty());
    }
}
