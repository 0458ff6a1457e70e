//! `model:PATH` — a frozen classifier or pretrained decoder as the A-CBO oracle, and the same weights asked the global
//! question directly (the paper's "same frozen weights" ablation, Roy & Parbhoo, arXiv
//! 2605.27567).
//!
//! This is the one place where the A-CBO loop meets burn ([`crate::acbo`] must not import it):
//! [`ModelOracleFactory`] implements [`OracleFactory`], and each oracle it builds owns an
//! [`Experimenter`] on the true system. A query do(X) runs one simulated experiment, phrases one
//! local question per target ([`crate::acbo::local_query`]), and answers all of them in one
//! batched forward: "changes" iff the margin logit₁ − logit₀ > 0 ([`Classifier::score`]). The
//! oracle tallies its answers against the true ancestor relation, which is how the benchmark
//! calibrates α̂, β̂ and reports `oracle_error_measured`.
//!
//! [`ModelOracleFactory::direct_answers`] asks the global question — `[CLS] premise [SEP]
//! hypothesis [SEP]`, premise truncated first — with the same weights: "entailment" iff the
//! margin > 0.
//!
//! A pretrained decoder (GGUF or Hugging Face directory, [`ModelOracleFactory::decoder`]) is
//! used with no training: its local prompt and the threshold on its label-word margin are
//! [`crate::model::oracle_prompt`]'s, the threshold fitted per size on the calibration systems.
//!
//! Known gaps: answers are hard decisions (the margin's confidence is not fed into the
//! likelihood; one (α̂, β̂) per size is); the model is assumed to have been trained on local
//! query texts made with the same experiment settings (S, c) — nothing checks that.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use burn::tensor::Device;
use serde::Serialize;

use crate::acbo::evaluate::{EvalItem, ItemResult};

use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::local_query::local_questions;
use crate::acbo::oracle::threshold::{fit_threshold, ThresholdFit};
use crate::acbo::oracle::{Calibration, ExperimentSettings, Experimenter, Oracle, OracleFactory};
use crate::acbo::query::{all_queries, Answer, Query, QueryKind};
use crate::corpus::{Record, RecordText};
use crate::error::{Error, Result};
use crate::model::classifier::Classifier;
use crate::model::decoder::infer::{margins_with, PrefixMemo};
use crate::model::infer::margins;
use crate::model::load::LoadedModel;
use crate::model::oracle_prompt::LocalPrompt;
use crate::model::{DecoderLm, LoadedDecoder};
use crate::tokenize::{Encoding, Tokenizer};

/// The frozen weights behind the oracle.
enum Reader<'m> {
    Encoder(&'m Classifier),
    Decoder(&'m DecoderLm),
}

/// How one size's local questions are read (decoder oracles; fitted on calibration systems).
#[derive(Debug, Clone, Serialize)]
pub struct SizeReading {
    /// The demonstrations in front of every question of this size (empty: zero-shot).
    #[serde(skip)]
    pub prefix: String,
    /// The threshold τ, the AUC and the calibration tallies at τ and at 0.
    #[serde(flatten)]
    pub fit: ThresholdFit,
    /// Tokens of the longest calibration prompt.
    pub longest_prompt_tokens: usize,
}

/// A frozen model with its tokenizer, answering local queries and global questions.
pub struct ModelOracleFactory<'m> {
    reader: Reader<'m>,
    tokenizer: &'m dyn Tokenizer,
    pad_id: u32,
    device: Device,
    batch_size: usize,
    experiment: ExperimentSettings,
    name: String,
    local: Option<LocalPrompt>,
    readings: Mutex<BTreeMap<usize, SizeReading>>,
    /// The decoder's cached demonstrations (see [`PrefixMemo`]).
    memo: PrefixMemo,
}

impl<'m> ModelOracleFactory<'m> {
    /// Wrap a loaded classifier (inference device `device`); `experiment` says how the oracles'
    /// experiments run (S, c — the values the model's local training texts were made with);
    /// `name` is how the oracle describes itself. Its answer is "changes" iff the margin > 0.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the model has no two-label head, was partly initialised
    /// from a seed (no trained head), the tokenizer has no pad token, or `batch_size` is 0.
    pub fn new(
        loaded: &'m LoadedModel,
        device: Device,
        batch_size: usize,
        experiment: ExperimentSettings,
        name: String,
    ) -> Result<Self> {
        if !loaded.initialised.is_empty() {
            return Err(Error::setting(
                "oracle",
                format!(
                    "{name} has no trained classification head ({} would be random)",
                    loaded.initialised.join(", ")
                ),
            ));
        }
        if loaded.classifier.config.num_labels() != 2 {
            return Err(Error::setting(
                "oracle",
                format!("{name} has {} labels; a yes/no oracle needs 2", loaded.classifier.config.num_labels()),
            ));
        }
        Self::assemble(
            Reader::Encoder(&loaded.classifier),
            loaded.tokenizer.as_ref(),
            device,
            batch_size,
            experiment,
            name,
            None,
        )
    }

    /// Wrap a frozen pretrained decoder (no training): every local question is rendered
    /// through `prompt` (after its demonstrations) and answered "changes" iff the label-word
    /// margin exceeds the size's threshold, fitted on the calibration systems
    /// ([`OracleFactory::calibrate`] must run first for every size asked).
    ///
    /// # Errors
    /// As [`ModelOracleFactory::new`]: partly initialised weights, no pad token, batch 0.
    pub fn decoder(
        loaded: &'m LoadedDecoder,
        device: Device,
        batch_size: usize,
        experiment: ExperimentSettings,
        name: String,
        prompt: LocalPrompt,
    ) -> Result<Self> {
        if !loaded.initialised.is_empty() {
            return Err(Error::setting(
                "oracle",
                format!("{name} has untrained weights ({})", loaded.initialised.join(", ")),
            ));
        }
        let reader = Reader::Decoder(&loaded.model);
        Self::assemble(reader, loaded.tokenizer.as_ref(), device, batch_size, experiment, name, Some(prompt))
    }

    fn assemble(
        reader: Reader<'m>,
        tokenizer: &'m dyn Tokenizer,
        device: Device,
        batch_size: usize,
        experiment: ExperimentSettings,
        name: String,
        local: Option<LocalPrompt>,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::setting("batch", "must be at least 1"));
        }
        let pad_id = tokenizer.pad_id()?;
        let readings = Mutex::new(BTreeMap::new());
        let memo = PrefixMemo::default();
        Ok(Self { reader, tokenizer, pad_id, device, batch_size, experiment, name, local, readings, memo })
    }

    /// The per-size readings fitted so far (decoder oracles; empty for a classifier).
    pub fn readings(&self) -> BTreeMap<usize, SizeReading> {
        self.readings.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The local-query prompt of a decoder oracle.
    pub fn local_prompt(&self) -> Option<&LocalPrompt> {
        self.local.as_ref()
    }

    fn margins(&self, encodings: &[Encoding]) -> Result<Vec<f64>> {
        if encodings.is_empty() {
            return Ok(Vec::new());
        }
        let (pad, batch, device) = (self.pad_id, self.batch_size, &self.device);
        let m = match self.reader {
            Reader::Encoder(c) => margins(c, encodings, pad, batch, device)?,
            Reader::Decoder(d) => margins_with(d, encodings, pad, (batch, device), &self.memo)?,
        };
        if let Some(bad) = m.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid("model output", format!("non-finite margin for input {bad}")));
        }
        Ok(m.into_iter().map(f64::from).collect())
    }

    fn encode_all(&self, texts: &[String]) -> Result<Vec<Encoding>> {
        texts.iter().map(|t| self.tokenizer.encode(t)).collect()
    }

    /// Yes/no answers to single texts (e.g. local query texts) as they are: yes iff the
    /// margin > 0.
    ///
    /// # Errors
    /// Tokenization or inference failures (an input longer than the model allows).
    pub fn answers(&self, texts: &[String]) -> Result<Vec<bool>> {
        Ok(self.margins(&self.encode_all(texts)?)?.into_iter().map(|v| v > 0.0).collect())
    }

    /// The prompts of local questions of an `n`-variable system (a decoder's demonstrations and
    /// template; a classifier reads the texts as they are).
    fn prompts(&self, n: usize, questions: &[String]) -> Result<Vec<String>> {
        let Some(local) = &self.local else { return Ok(questions.to_vec()) };
        let prefix = self.reading(n)?.prefix;
        Ok(questions.iter().map(|q| format!("{prefix}{}", local.render(q))).collect())
    }

    fn reading(&self, n: usize) -> Result<SizeReading> {
        let readings = self.readings.lock().map_err(|_| Error::internal("oracle", "poisoned readings"))?;
        readings.get(&n).cloned().ok_or_else(|| {
            Error::internal("oracle", format!("{}: n = {n} was not calibrated before it was asked", self.name))
        })
    }

    /// Answers to the local questions of an `n`-variable system: margin > the size's threshold
    /// (0 for a classifier).
    fn answers_at(&self, n: usize, questions: &[String]) -> Result<Vec<bool>> {
        let threshold = if self.local.is_some() { self.reading(n)?.fit.threshold } else { 0.0 };
        let margins = self.margins(&self.encode_all(&self.prompts(n, questions)?)?)?;
        Ok(margins.into_iter().map(|v| v > threshold).collect())
    }

    /// The global question asked directly: "entailment" iff the margin > 0, per input, with the
    /// number of inputs whose premise was truncated.
    ///
    /// # Errors
    /// Tokenization or inference failures.
    pub fn direct_answers(&self, inputs: &[RecordText<'_>]) -> Result<(Vec<bool>, usize)> {
        let encodings = inputs.iter().map(|i| self.tokenizer.encode_input(*i)).collect::<Result<Vec<_>>>()?;
        let truncated = encodings.iter().filter(|e| e.truncated).count();
        Ok((self.margins(&encodings)?.into_iter().map(|v| v > 0.0).collect(), truncated))
    }

    /// Ask every item's global question (its record in `records`, read from `path`) directly
    /// and set `direct_predicted_entailment` on each of the item's runs in `results`; returns
    /// how many direct inputs had their premise truncated.
    ///
    /// # Errors
    /// [`Error::Jsonl`] naming a record without a model input; tokenization or inference
    /// failures.
    pub fn attach_direct_answers(
        &self,
        path: &Path,
        items: &[EvalItem],
        records: &[(usize, Record)],
        results: &mut [ItemResult],
    ) -> Result<usize> {
        let by_line: BTreeMap<usize, &Record> = records.iter().map(|(l, r)| (*l, r)).collect();
        let inputs = items
            .iter()
            .map(|i| {
                let r = by_line.get(&i.line).ok_or_else(|| Error::internal("items", "lost a record"))?;
                r.input().map_err(|e| Error::Jsonl { path: path.to_path_buf(), line: i.line, reason: e })
            })
            .collect::<Result<Vec<_>>>()?;
        let (direct, truncated) = self.direct_answers(&inputs)?;
        let answer: BTreeMap<usize, bool> = items.iter().zip(direct).map(|(i, d)| (i.line, d)).collect();
        results.iter_mut().for_each(|r| r.direct_predicted_entailment = answer.get(&r.line).copied());
        Ok(truncated)
    }
}

impl OracleFactory for ModelOracleFactory<'_> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn build<'a>(&'a self, parents: &[u64], model: ErrorModel, seed: u64) -> Result<Box<dyn Oracle + 'a>> {
        let lab = Experimenter::new(parents, self.experiment, seed)?;
        Ok(Box::new(ModelOracle { reader: self, lab, model, measured: BitCounts::default() }))
    }

    /// The batched twin of [`crate::acbo::oracle::calibrate()`]: the same experiments in the same
    /// order (system i seeded `seed + i`, every set query once), but all questions answered in
    /// length-sorted batches of `batch_size` instead of one forward per query — for a
    /// classifier the tallies are equal (tested). A decoder first draws its demonstrations
    /// from `seed`'s own stream, then fits its threshold on these margins
    /// ([`crate::acbo::oracle::threshold::fit_threshold`]) and tallies α̂, β̂ at it.
    fn calibrate(&self, systems: &[Vec<u64>], seed: u64) -> Result<Calibration> {
        let Some(first) = systems.first() else {
            return Err(Error::invalid("calibration", "needs at least one system"));
        };
        let n = first.len();
        let (mut texts, mut truths) = (Vec::new(), Vec::new());
        for (i, parents) in systems.iter().enumerate() {
            let mut lab = Experimenter::new(parents, self.experiment, crate::seed::nth(seed, i as u64))?;
            for query in all_queries(parents.len(), QueryKind::Set) {
                let truth = lab.descendants()[query.intervene];
                for q in local_questions(&mut lab, &query) {
                    truths.push(truth >> q.target & 1 == 1);
                    texts.push(q.text);
                }
            }
        }
        let mut measured = BitCounts::default();
        let Some(local) = &self.local else {
            for (truth, yes) in truths.into_iter().zip(self.answers(&texts)?) {
                measured.add(u64::from(truth), u64::from(yes), 1);
            }
            return Calibration::from_counts(measured);
        };
        let prefix = local.demonstrations(n, self.experiment, seed)?;
        let prompts: Vec<String> = texts.iter().map(|q| format!("{prefix}{}", local.render(q))).collect();
        let encodings = self.encode_all(&prompts)?;
        let longest_prompt_tokens = encodings.iter().map(|e| e.ids.len()).max().unwrap_or(0);
        let fit = fit_threshold(&self.margins(&encodings)?, &truths);
        let reading = SizeReading { prefix, fit, longest_prompt_tokens };
        self.readings.lock().map_err(|_| Error::internal("oracle", "poisoned readings"))?.insert(n, reading);
        Calibration::from_counts(fit.at_threshold)
    }
}

/// One item's model oracle: a laboratory on the true system plus the shared frozen model.
struct ModelOracle<'a> {
    reader: &'a ModelOracleFactory<'a>,
    lab: Experimenter,
    model: ErrorModel,
    measured: BitCounts,
}

impl Oracle for ModelOracle<'_> {
    fn name(&self) -> String {
        self.reader.name.clone()
    }

    fn error_model(&self) -> ErrorModel {
        self.model
    }

    fn answer(&mut self, query: &Query) -> Result<Answer> {
        let questions = local_questions(&mut self.lab, query);
        let texts: Vec<String> = questions.iter().map(|q| q.text.clone()).collect();
        let yes = self.reader.answers_at(self.lab.descendants().len(), &texts)?;
        let changed = questions.iter().zip(yes).filter(|(_, y)| *y).fold(0u64, |acc, (q, _)| acc | 1u64 << q.target);
        self.measured.add(query.truth(self.lab.descendants()), changed, query.targets);
        Ok(Answer { changed })
    }

    fn measured_errors(&self) -> Option<BitCounts> {
        Some(self.measured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acbo::oracle::{calibrate, CALIBRATED_RATE_MAX, CALIBRATED_RATE_MIN};
    use crate::model::{load, BuiltinSize, LoadOptions, ModelSpec};

    /// A random RoBERTa with a complete head (`tests/data/roberta_tiny`, initializer range 0.3,
    /// so its answers vary with the text) standing in for a trained model.
    fn untrained() -> LoadedModel {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/roberta_tiny");
        let options = LoadOptions { seed: 3, head_file: None };
        load(&ModelSpec::Dir(dir), &options, &Device::flex()).unwrap()
    }

    fn factory(loaded: &LoadedModel) -> ModelOracleFactory<'_> {
        let settings = ExperimentSettings::new(50).unwrap();
        ModelOracleFactory::new(loaded, Device::flex(), 4, settings, "model:test".into()).unwrap()
    }

    #[test]
    fn answers_are_the_models_answers_to_the_local_texts_and_are_seeded() {
        let loaded = untrained();
        let f = factory(&loaded);
        let parents = vec![0, 0b1, 0b10, 0]; // Z → Y → X, W isolated
        let query = Query { intervene: 0, targets: 0b1110 };
        let model = ErrorModel::symmetric(0.1).unwrap();
        let mut oracle = f.build(&parents, model, 9).unwrap();
        let answer = oracle.answer(&query).unwrap();
        let mut lab = Experimenter::new(&parents, ExperimentSettings::new(50).unwrap(), 9).unwrap();
        let questions = local_questions(&mut lab, &query);
        let texts: Vec<String> = questions.iter().map(|q| q.text.clone()).collect();
        let yes = f.answers(&texts).unwrap();
        let want = questions.iter().zip(&yes).filter(|(_, y)| **y).fold(0u64, |a, (q, _)| a | 1 << q.target);
        assert_eq!(answer.changed, want);
        let mut tally = BitCounts::default();
        tally.add(0b0110, want, query.targets);
        assert_eq!(oracle.measured_errors(), Some(tally));
        assert_eq!(oracle.error_model(), model);
        let mut again = f.build(&parents, model, 9).unwrap();
        assert_eq!(again.answer(&query).unwrap(), answer);
        // One text at a time gives the same answers as the batch (padding is invisible).
        let single: Vec<bool> = texts.iter().flat_map(|t| f.answers(std::slice::from_ref(t)).unwrap()).collect();
        assert_eq!(single, yes);
    }

    #[test]
    fn calibration_tallies_every_answer_and_clamps_the_rates() {
        let loaded = untrained();
        let f = factory(&loaded);
        let systems = vec![vec![0, 0b1, 0b11], vec![0b100, 0b100, 0], vec![0, 0, 0], vec![0, 0b1, 0b10, 0b101]];
        let placeholder = ErrorModel::symmetric(0.0).unwrap();
        let cal = calibrate(&systems, 5, &|p, s| f.build(p, placeholder, s)).unwrap();
        assert_eq!(cal.measured.positives() + cal.measured.negatives(), 3 * 3 * 2 + 4 * 3);
        for r in [cal.model.false_positive_rate, cal.model.false_negative_rate] {
            assert!((CALIBRATED_RATE_MIN..=CALIBRATED_RATE_MAX).contains(&r), "{cal:?}");
        }
        let m = cal.measured;
        assert!(
            m.true_yes + m.false_yes > 0 && m.true_no + m.false_no > 0,
            "answers must vary for the twin check: {m:?}"
        );
        // The batched calibration is the reference's twin: the same tallies.
        assert_eq!(OracleFactory::calibrate(&f, &systems, 5).unwrap(), cal);
        assert_eq!(cal, calibrate(&systems, 5, &|p, s| f.build(p, placeholder, s)).unwrap());
    }

    #[test]
    fn direct_answers_cover_every_input_and_untrained_heads_are_refused() {
        let loaded = untrained();
        let f = factory(&loaded);
        let inputs = [
            RecordText::Pair {
                premise: "Suppose there is a closed system of 3 variables, Z, Y and X.",
                hypothesis: "Z directly causes Y.",
            },
            RecordText::Single("When we intervene on Z, the effect on Y is 12. Does Y change?"),
        ];
        let (answers, truncated) = f.direct_answers(&inputs).unwrap();
        assert_eq!((answers.len(), truncated), (2, 0));
        let options = LoadOptions { seed: 3, head_file: None };
        let fresh = load(&ModelSpec::Builtin(BuiltinSize::Tiny), &options, &Device::flex()).unwrap();
        let e =
            ModelOracleFactory::new(&fresh, Device::flex(), 4, ExperimentSettings::new(50).unwrap(), "model:x".into());
        assert!(e.err().unwrap().to_string().contains("no trained classification head"));
    }
}
