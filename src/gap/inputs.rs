//! The analysed inputs of a pair list: every distinct input once (the rows of K), the pairs as
//! index pairs into them, and what each pair is ([`PairInfo`]), encoded with the *model's*
//! tokenizer so that the overlap metrics describe exactly what the kernel sees.
//!
//! Inputs are shared between pairs when their encodings are identical (a record in several
//! pairs is one row of K). A record id that names two different texts is refused: the pair
//! file is inconsistent and the analysis would silently mix them up.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::bound::table::PairInfo;
use crate::corpus::Record;
use crate::error::{Error, Result};
use crate::tokenize::pairs::NearMissPair;
use crate::tokenize::{overlap_encodings, Encoding, Tokenizer};

/// Distinct inputs, the pairs over them and their descriptions.
#[derive(Debug, Clone, Default)]
pub struct PairInputs {
    /// Distinct encoded inputs (rows of K), in first-appearance order.
    pub encodings: Vec<Encoding>,
    /// One id per input (record id, or `SOURCE:LINE:a|b`).
    pub ids: Vec<String>,
    /// Binary label per input (1 = entailment), when labelled.
    pub labels: Vec<Option<u8>>,
    /// (index of x₊, index of x₋) per pair.
    pub pairs: Vec<(usize, usize)>,
    /// What each pair is.
    pub info: Vec<PairInfo>,
    /// Inputs whose premise was truncated by the tokenizer.
    pub truncated: usize,
}

fn encode(record: &Record, tokenizer: &dyn Tokenizer, source: &Path, line: usize, side: &str) -> Result<Encoding> {
    let input = record.input().map_err(|reason| Error::Jsonl {
        path: source.into(),
        line,
        reason: format!("pair member {side}: {reason}"),
    })?;
    tokenizer.encode_input(input).map_err(|e| Error::Jsonl {
        path: source.into(),
        line,
        reason: format!("pair member {side}: {e}"),
    })
}

/// Which inputs and ids were seen already.
#[derive(Default)]
struct Seen {
    by_encoding: HashMap<Vec<u32>, usize>,
    by_id: HashMap<String, Vec<u32>>,
}

impl Seen {
    /// The row of `enc` in `out`, adding it when new; `at` = (source, line, side) for messages.
    fn index(
        &mut self,
        out: &mut PairInputs,
        record: &Record,
        enc: Encoding,
        at: (&Path, usize, &str),
    ) -> Result<usize> {
        let (source, line, side) = at;
        let id = record.id.clone().unwrap_or_else(|| format!("{}:{line}:{side}", source.display()));
        let key: Vec<u32> = enc.ids.iter().chain(&enc.token_type_ids).copied().collect();
        if self.by_id.get(&id).is_some_and(|previous| *previous != key) {
            return Err(Error::Jsonl {
                path: source.into(),
                line,
                reason: format!("record id {id:?} names two different texts"),
            });
        }
        self.by_id.insert(id.clone(), key.clone());
        Ok(*self.by_encoding.entry(key).or_insert_with(|| {
            out.truncated += usize::from(enc.truncated);
            out.encodings.push(enc);
            out.ids.push(id);
            out.labels.push(record.binary_label());
            out.encodings.len() - 1
        }))
    }
}

impl PairInputs {
    /// Encode every pair of `pairs` (read from `source`, line k + 1 for pair k) with
    /// `tokenizer` and deduplicate the inputs.
    ///
    /// # Errors
    /// [`Error::Jsonl`] naming the line of a pair whose member has no model input or cannot be
    /// encoded, or whose record id already named a different text; [`Error::BadInput`] when
    /// there is no pair.
    pub fn from_pairs(pairs: &[NearMissPair], source: &Path, tokenizer: &dyn Tokenizer) -> Result<Self> {
        if pairs.is_empty() {
            return Err(Error::bad_input(source, "contains no pairs"));
        }
        let encoded: Vec<(Encoding, Encoding)> = pairs
            .par_iter()
            .enumerate()
            .map(|(k, p)| {
                Ok((encode(&p.a, tokenizer, source, k + 1, "a")?, encode(&p.b, tokenizer, source, k + 1, "b")?))
            })
            .collect::<Result<_>>()?;
        let mut out = PairInputs::default();
        let mut seen = Seen::default();
        for (k, (p, (ea, eb))) in pairs.iter().zip(encoded).enumerate() {
            let line = k + 1;
            let ia = seen.index(&mut out, &p.a, ea, (source, line, "a"))?;
            let ib = seen.index(&mut out, &p.b, eb, (source, line, "b"))?;
            if ia == ib {
                return Err(Error::Jsonl {
                    path: source.into(),
                    line,
                    reason: "the two members of the pair are the same input".into(),
                });
            }
            let overlap = overlap_encodings(&out.encodings[ia], &out.encodings[ib]);
            out.pairs.push((ia, ib));
            out.info.push(PairInfo {
                id_a: out.ids[ia].clone(),
                id_b: out.ids[ib].clone(),
                n_vars: p.n_vars.or(p.a.n_vars),
                kind: p.kind.as_str().to_string(),
                labels: (out.labels[ia], out.labels[ib]),
                overlap,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Label;
    use crate::tokenize::pairs::PairKind;
    use crate::tokenize::{load, overlap};

    fn record(id: &str, hypothesis: &str, label: Label) -> Record {
        Record {
            premise: Some("Suppose there is a closed system of 3 variables, Z, Y and X.".into()),
            hypothesis: Some(hypothesis.into()),
            label: Some(label),
            n_vars: Some(3),
            id: Some(id.into()),
            ..Default::default()
        }
    }

    fn pair(a: Record, b: Record) -> NearMissPair {
        NearMissPair {
            kind: PairKind::SamePremise,
            n_vars: Some(3),
            a,
            b,
            line_a: 1,
            line_b: 2,
            truncated_a: false,
            truncated_b: false,
            overlap: overlap(&[], &[]),
            premise_overlap: None,
        }
    }

    #[test]
    fn shared_inputs_are_one_row_and_conflicting_ids_are_refused() {
        let tok = load("builtin").unwrap();
        let (x, y, z) = (
            record("x", "Z directly causes Y.", Label::Entailment),
            record("y", "Y directly causes Z.", Label::Contradiction),
            record("z", "Z directly causes X.", Label::Neutral),
        );
        let inputs = PairInputs::from_pairs(
            &[pair(x.clone(), y.clone()), pair(x.clone(), z)],
            Path::new("p.jsonl"),
            tok.as_ref(),
        )
        .unwrap();
        assert_eq!(inputs.encodings.len(), 3);
        assert_eq!(inputs.pairs, vec![(0, 1), (0, 2)]);
        assert_eq!(inputs.info[1].labels, (Some(1), Some(0)));
        assert!(inputs.info[0].overlap.shared_fraction > 0.8);
        let clash = record("x", "X directly causes Z.", Label::Neutral);
        let e =
            PairInputs::from_pairs(&[pair(x.clone(), y), pair(clash, x.clone())], Path::new("p.jsonl"), tok.as_ref())
                .unwrap_err();
        assert_eq!(e.to_string(), "p.jsonl:2: record id \"x\" names two different texts");
        let same = PairInputs::from_pairs(&[pair(x.clone(), x)], Path::new("p.jsonl"), tok.as_ref()).unwrap_err();
        assert!(same.to_string().contains("same input"), "{same}");
        assert!(PairInputs::from_pairs(&[], Path::new("p.jsonl"), tok.as_ref()).is_err());
    }
}
