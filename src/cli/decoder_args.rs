//! The prompting flags of decoder models, one group shared by the model subcommands
//! (`forward`, `eval`, `train`, `gram`, `bound --model`, `sweep`; flattened beside
//! [`ModelArgs`]): `--label-words`, `--prompt`, `--chat`, and the in-context demonstrations
//! `--shots K --shots-from FILE [--shots-seed S]` (docs/science.md "ICL protocol"). They are
//! resolved into [`DecoderOptions`] before any work; an encoder refuses
//! them in one line before it is loaded.

use std::path::PathBuf;

use clap::Args;

use crate::cli::model_args::ModelArgs;
use crate::corpus::{JsonlReader, ShotSet};
use crate::gpu::ComputeDevice;
use crate::model::decoder::PromptTemplate;
use crate::model::{AnyModel, DecoderOptions, ModelSpec};
use crate::Error;

/// How a decoder is prompted and read out.
#[derive(Debug, Clone, Default, Args)]
pub struct DecoderArgs {
    /// Decoder language models: the two label words whose logits give the margin z_yes − z_no,
    /// as `NO,YES` (split at the comma, spaces kept: `" No, Yes"` is the default, `"No,Yes"`
    /// with --chat); each must be one token. Two values `NO YES` are accepted too.
    #[arg(long, value_name = "NO,YES", num_args = 1..=2, allow_hyphen_values = true)]
    pub label_words: Option<Vec<String>>,
    /// Decoder models: a prompt template file for premise/hypothesis records, with
    /// `{hypothesis}` and usually `{premise}` (without it: a hypothesis-only baseline); one
    /// trailing newline is dropped. Default: "Premise: {premise}\nHypothesis:
    /// {hypothesis}\nIs the hypothesis true? Answer:". `{"text"}` records are always verbatim.
    #[arg(long, value_name = "FILE")]
    pub prompt: Option<PathBuf>,
    /// Decoder models: render each premise/hypothesis prompt as the user message of the model's
    /// chat template (GGUF `tokenizer.chat_template`, or the directory's chat_template.jinja /
    /// tokenizer_config.json) followed by the generation prompt; the default label words become
    /// "No,Yes" (the answer starts a line, without a leading space).
    #[arg(long)]
    pub chat: bool,
    /// Decoder language models: K in-context demonstrations (premise, hypothesis, answer word)
    /// in front of every premise/hypothesis prompt of the run — the same K for every record and
    /// both members of a near-miss pair — drawn seeded and label-balanced from --shots-from.
    /// 0: zero-shot. Recorded in meta.json (K, seed, ids, SHA-256); prompts that grow longer than
    /// the context are refused and counted, never cut.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub shots: usize,
    /// The labelled JSONL (a training file, never the evaluated one) the demonstrations are
    /// drawn from; required with --shots K > 0.
    #[arg(long, value_name = "FILE")]
    pub shots_from: Option<PathBuf>,
    /// Seed of the demonstrations' draw and order.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub shots_seed: u64,
}

impl DecoderArgs {
    /// The library options these flags name (the template file read and checked).
    ///
    /// # Errors
    /// `--label-words` that are not two words; an unreadable template or one without
    /// `{hypothesis}` (naming the file).
    pub fn options(&self) -> crate::Result<DecoderOptions> {
        let label_words = self.label_words.as_deref().map(parse_label_words).transpose()?;
        let template = self.prompt.as_deref().map(PromptTemplate::from_file).transpose()?;
        Ok(DecoderOptions { label_words, template, chat: self.chat, shots: self.shot_set()? })
    }

    /// The demonstrations `--shots K --shots-from FILE --shots-seed S` name (none for K = 0).
    ///
    /// # Errors
    /// `--shots K > 0` without `--shots-from`, `--shots-from` without `--shots`, an unreadable
    /// or malformed file, or a pool with too few labelled pairs of a class.
    pub fn shot_set(&self) -> crate::Result<ShotSet> {
        match (self.shots, &self.shots_from) {
            (0, None) => Ok(ShotSet::none()),
            (0, Some(_)) => Err(Error::invalid("--shots-from", "needs --shots K with K >= 1")),
            (k, None) => Err(Error::invalid(
                "--shots",
                format!("{k} demonstrations need --shots-from FILE (the labelled training file they are drawn from)"),
            )),
            (k, Some(path)) => {
                let pool =
                    JsonlReader::open(path)?.map(|r| r.map(|(_, rec)| rec)).collect::<crate::Result<Vec<_>>>()?;
                ShotSet::draw(&pool, k, self.shots_seed).map_err(|e| match e {
                    Error::InvalidSetting { reason, .. } => {
                        Error::invalid("--shots", format!("{reason} (in {})", path.display()))
                    }
                    other => other,
                })
            }
        }
    }

    /// The one-line refusal of these flags for an encoder classifier, if any is set.
    ///
    /// # Errors
    /// Naming the first flag set.
    pub fn refuse_for_encoder(&self) -> crate::Result<()> {
        if self.label_words.is_some() {
            return Err(Error::invalid("--label-words", "applies to decoder language models only"));
        }
        let used = [
            ("--prompt", self.prompt.is_some()),
            ("--chat", self.chat),
            ("--shots", self.shots > 0),
            ("--shots-from", self.shots_from.is_some()),
        ];
        match used.iter().find(|(_, on)| *on) {
            Some((flag, _)) => Err(Error::invalid(*flag, "applies to decoder models only")),
            None => Ok(()),
        }
    }

    /// Load `model` (encoder or decoder) with these flags on its inference (`autodiff = false`)
    /// or training device: the flags are checked first, so a bad flag or an encoder given
    /// decoder flags is one line and nothing is loaded.
    ///
    /// # Errors
    /// As [`DecoderArgs::options`], [`DecoderArgs::refuse_for_encoder`] and
    /// [`ModelArgs::load_any`].
    pub fn load(&self, model: &ModelArgs, seed: u64, autodiff: bool) -> crate::Result<(AnyModel, ComputeDevice)> {
        let options = self.options()?;
        if !ModelSpec::parse(&model.model)?.is_decoder() {
            self.refuse_for_encoder()?;
        }
        model.load_any(seed, autodiff, &options)
    }
}

/// `NO,YES` (one value) or `NO YES` (two values) → `[no, yes]`.
fn parse_label_words(values: &[String]) -> crate::Result<[String; 2]> {
    let words: Vec<&str> = match values {
        [one] => one.split(',').collect(),
        many => many.iter().map(String::as_str).collect(),
    };
    match words.as_slice() {
        [no, yes] if !no.is_empty() && !yes.is_empty() => Ok([no.to_string(), yes.to_string()]),
        _ => Err(Error::invalid("--label-words", format!("expected two words NO,YES, got {values:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_words_split_at_the_comma_and_keep_spaces() {
        let one = |s: &str| parse_label_words(&[s.to_string()]);
        assert_eq!(one(" No, Yes").unwrap(), [" No".to_string(), " Yes".to_string()]);
        assert_eq!(one("No,Yes").unwrap(), ["No".to_string(), "Yes".to_string()]);
        let two = parse_label_words(&["a,b".into(), "c".into()]).unwrap();
        assert_eq!(two, ["a,b".to_string(), "c".to_string()]);
        for bad in ["No", "No,Yes,Maybe", ",Yes", "No,"] {
            assert!(one(bad).unwrap_err().to_string().contains("--label-words"), "{bad}");
        }
    }
}
