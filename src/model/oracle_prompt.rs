//! How a frozen decoder language model is asked a local interventional question
//! ([`crate::acbo::local_query`]) when it is A-CBO's oracle with no training: the question
//! text goes into a [`LocalPrompt`] template (`{question}`), optionally after K demonstrations
//! — local questions of *calibration-side* systems with their true answers — and the margin
//! z_yes − z_no of the label words is compared with a threshold fitted on the calibration
//! systems ([`crate::acbo::oracle::threshold`]).
//!
//! Demonstrations are drawn, per size, from seeded random systems of the calibration seed's own
//! stream (`seed::derive(calibration seed, [0xDE40])`); the evaluation systems are never used
//! (`acbo::oracle::build` draws calibration seeds from streams no benchmark item uses; tested
//! in `crates/ntkgap-core/tests/acbo_calibration.rs`).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::acbo::local_query::local_questions;
use crate::acbo::oracle::{ExperimentSettings, Experimenter};
use crate::acbo::query::{all_queries, QueryKind};
use crate::error::{Error, Result};
use crate::graph::{default_edge_probability, random_dag};

/// The default local-query prompt of a decoder oracle: the question as it is, then `Answer:`.
pub const PLAIN_LOCAL_TEMPLATE: &str = "{question}\nAnswer:";

/// Most demonstrations of a local-query prompt.
pub const MAX_LOCAL_SHOTS: usize = 32;

/// Systems a demonstration pool is drawn from (per size).
const DEMO_SYSTEMS: usize = 4;

/// The prompt of a decoder oracle's local questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalPrompt {
    /// The template, with one `{question}` placeholder.
    pub template: String,
    /// K, demonstrations in front of every question (balanced: ⌈K/2⌉ "Yes", ⌊K/2⌋ "No").
    pub shots: usize,
    /// The answer words `[no, yes]` the demonstrations are answered with (the label words).
    pub answer_words: [String; 2],
}

impl LocalPrompt {
    /// A prompt; the template must hold `{question}` and K ≤ [`MAX_LOCAL_SHOTS`].
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`oracle_prompt`, `oracle_shots`).
    pub fn new(template: &str, shots: usize, answer_words: [String; 2]) -> Result<Self> {
        if !template.contains("{question}") {
            return Err(Error::setting("oracle_prompt", "the local-query template has no {question} placeholder"));
        }
        if shots > MAX_LOCAL_SHOTS {
            return Err(Error::setting("oracle_shots", format!("{shots} is above the maximum of {MAX_LOCAL_SHOTS}")));
        }
        Ok(Self { template: template.to_string(), shots, answer_words })
    }

    /// One question rendered (without demonstrations).
    pub fn render(&self, question: &str) -> String {
        self.template.replace("{question}", question)
    }

    /// The demonstrations' prefix for `n`-variable systems: K local questions of seeded random
    /// systems drawn from `seed` (a calibration seed), balanced by answer, each rendered and
    /// answered with its truth, separated by blank lines; empty for K = 0.
    ///
    /// # Errors
    /// Graph or experiment failures; a size whose demonstration systems hold too few changing
    /// or unchanged targets.
    pub fn demonstrations(&self, n: usize, experiment: ExperimentSettings, seed: u64) -> Result<String> {
        if self.shots == 0 {
            return Ok(String::new());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(seed, &[0xDE40]));
        let mut pool: [Vec<String>; 2] = Default::default();
        for i in 0..DEMO_SYSTEMS {
            let dag = random_dag(n, default_edge_probability(n), &mut rng)?;
            let mut lab =
                Experimenter::new(dag.parent_sets(), experiment, crate::seed::derive(seed, &[0xDE41, i as u64]))?;
            for query in all_queries(n, QueryKind::Set) {
                let truth = lab.descendants()[query.intervene];
                for q in local_questions(&mut lab, &query) {
                    pool[usize::from(truth >> q.target & 1 == 1)].push(q.text);
                }
            }
        }
        let want = [self.shots / 2, self.shots.div_ceil(2)];
        let mut chosen = Vec::with_capacity(self.shots);
        for (answer, members) in pool.iter_mut().enumerate() {
            if members.len() < want[answer] {
                return Err(Error::setting(
                    "oracle_shots",
                    format!(
                        "n = {n}: the demonstration systems hold {} questions answered {:?}",
                        members.len(),
                        self.answer_words[answer]
                    ),
                ));
            }
            members.shuffle(&mut rng);
            chosen.extend(members.drain(..want[answer]).map(|text| (text, answer)));
        }
        chosen.shuffle(&mut rng);
        let mut out = String::new();
        for (text, answer) in chosen {
            out.push_str(&self.render(&text));
            out.push(' ');
            out.push_str(self.answer_words[answer].trim());
            out.push_str("\n\n");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(shots: usize) -> LocalPrompt {
        LocalPrompt::new(PLAIN_LOCAL_TEMPLATE, shots, [" No".into(), " Yes".into()]).unwrap()
    }

    #[test]
    fn demonstrations_are_balanced_seeded_and_answered() {
        let settings = ExperimentSettings::new(50).unwrap();
        let text = prompt(4).demonstrations(4, settings, 11).unwrap();
        assert_eq!(text.matches("Answer: Yes\n\n").count(), 2, "{text}");
        assert_eq!(text.matches("Answer: No\n\n").count(), 2, "{text}");
        assert_eq!(text, prompt(4).demonstrations(4, settings, 11).unwrap());
        assert_ne!(text, prompt(4).demonstrations(4, settings, 12).unwrap());
        assert_eq!(prompt(0).demonstrations(4, settings, 11).unwrap(), "");
        assert!(LocalPrompt::new("no placeholder", 0, [" No".into(), " Yes".into()]).is_err());
        assert!(LocalPrompt::new(PLAIN_LOCAL_TEMPLATE, MAX_LOCAL_SHOTS + 1, [" No".into(), " Yes".into()]).is_err());
    }
}
