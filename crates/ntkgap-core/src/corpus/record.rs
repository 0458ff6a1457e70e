//! The JSONL record every ntkgap command reads and writes.
//!
//! Input records are either pair-encoded (`premise` + `hypothesis`) or single texts (`text`);
//! everything else is optional. Generated Corr2Cause records fill every field. See
//! docs/science.md "Conventions".

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::graph::Relation;

/// One example: a premise/hypothesis pair or a single text, with optional metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Record {
    /// Premise (first segment of a pair encoding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premise: Option<String>,
    /// Hypothesis (second segment; never truncated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypothesis: Option<String>,
    /// A single text (instead of premise + hypothesis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Three-way label (or a binary one read from `0`/`1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Which of the six Corr2Cause relations the hypothesis states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<Relation>,
    /// Number of variables in the premise's closed system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_vars: Option<usize>,
    /// The ordered variable pair `[X, Y]` the hypothesis is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<[String; 2]>,
    /// Identifier of the Markov equivalence class the premise describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mec_id: Option<String>,
    /// False when the label was derived from sampled MEC members rather than the full class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_exact: Option<bool>,
    /// Stable identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// What a record holds as model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordText<'a> {
    /// `[CLS] premise [SEP] hypothesis [SEP]`.
    Pair {
        /// First segment.
        premise: &'a str,
        /// Second segment.
        hypothesis: &'a str,
    },
    /// `[CLS] text [SEP]`.
    Single(&'a str),
}

impl Record {
    /// The record's model input, or a reason why it has none.
    ///
    /// # Errors
    /// A short reason string (the caller adds path and line) when neither a complete
    /// `premise`/`hypothesis` pair nor `text` is present, or when both are.
    pub fn input(&self) -> std::result::Result<RecordText<'_>, String> {
        match (&self.premise, &self.hypothesis, &self.text) {
            (Some(p), Some(h), None) => Ok(RecordText::Pair { premise: p, hypothesis: h }),
            (None, None, Some(t)) => Ok(RecordText::Single(t)),
            (Some(_), Some(_), Some(_)) => {
                Err("has both \"text\" and \"premise\"/\"hypothesis\"; give one form".into())
            }
            (Some(_), None, _) => Err("has \"premise\" but no \"hypothesis\"".into()),
            (None, Some(_), _) => Err("has \"hypothesis\" but no \"premise\"".into()),
            (None, None, None) => Err("needs \"premise\" and \"hypothesis\" (strings) or \"text\"".into()),
        }
    }

    /// Binary label (entailment → 1, anything else → 0), if labelled.
    pub fn binary_label(&self) -> Option<u8> {
        self.label.map(Label::binary)
    }
}

/// Corr2Cause label. Binary inputs (`0`/`1`, `true`/`false`) read as
/// [`Label::Entailment`] / [`Label::NotEntailment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// The relation holds in every DAG of the MEC.
    Entailment,
    /// The relation holds in some but not all DAGs of the MEC.
    Neutral,
    /// The relation holds in no DAG of the MEC.
    Contradiction,
    /// Binary-only label 0 (neutral or contradiction, unknown which).
    NotEntailment,
}

impl Label {
    /// Binary view: entailment → 1, else 0.
    pub fn binary(self) -> u8 {
        u8::from(self == Label::Entailment)
    }

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Entailment => "entailment",
            Label::Neutral => "neutral",
            Label::Contradiction => "contradiction",
            Label::NotEntailment => "not_entailment",
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        match &v {
            serde_json::Value::String(s) => match s.as_str() {
                "entailment" | "1" => Ok(Label::Entailment),
                "neutral" => Ok(Label::Neutral),
                "contradiction" => Ok(Label::Contradiction),
                "not_entailment" | "0" => Ok(Label::NotEntailment),
                other => Err(D::Error::custom(format!(
                    "unknown label {other:?} (expected entailment, neutral, contradiction, 0 or 1)"
                ))),
            },
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(1) => Ok(Label::Entailment),
                Some(0) => Ok(Label::NotEntailment),
                _ => Err(D::Error::custom(format!("label {n} is not 0 or 1"))),
            },
            serde_json::Value::Bool(b) => Ok(if *b { Label::Entailment } else { Label::NotEntailment }),
            other => Err(D::Error::custom(format!("label must be a string or 0/1, got {other}"))),
        }
    }
}
