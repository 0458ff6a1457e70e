//! Parsing premise text back into a [`Premise`] — the exact inverse of [`Premise::text`].
//!
//! The A-CBO loop recovers its candidate DAGs from a record's premise through
//! `Premise::parse(text)?.cpdag()`. Parsing is strict: anything [`Premise::text`] would not have
//! written (extra spaces, unknown names, a list joined differently) is an error naming the
//! offending statement. It never panics (the parser is fuzzed in the tests).

use super::names::{split_list, variable_index, variable_name};
use super::premise::{premise_error, Premise};
use crate::error::Result;

const OPENING: &str = "Suppose there is a closed system of ";
const HOWEVER: &str = " However, ";

/// One parsed sentence.
enum Statement {
    Correlation(usize, usize),
    Independence(usize, usize, u64),
}

impl Premise {
    /// Parse a premise written by [`Premise::text`].
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] (name `premise`) naming the first malformed part: the
    /// opening sentence, the variable list, an unknown variable, a sentence that is not one of
    /// the three statement forms, a correlation after the CI statements, or text that is not in
    /// the canonical form `text()` writes.
    pub fn parse(text: &str) -> Result<Premise> {
        let rest =
            text.strip_prefix(OPENING).ok_or_else(|| premise_error(format!("does not start with {OPENING:?}")))?;
        let (count, rest) = rest
            .split_once(" variables, ")
            .ok_or_else(|| premise_error("expected \"{n} variables, \" after the opening words"))?;
        let n = parse_count(count)?;
        let names: Vec<String> = (0..n).map(|i| variable_name(i, n)).collect();
        let header = format!(
            "{}. All the statistical relations among these {n} variables are as follows: ",
            super::names::join_list(&names)
        );
        let body = rest.strip_prefix(header.as_str()).ok_or_else(|| {
            premise_error(format!("expected the variable list and statistical-relations sentence {header:?}"))
        })?;
        let premise = parse_body(body, n)?;
        if premise.text() != text {
            return Err(premise_error("not in the canonical form (spacing or punctuation differs)"));
        }
        Ok(premise)
    }
}

fn parse_count(count: &str) -> Result<usize> {
    if count.is_empty() || count.len() > 2 || !count.bytes().all(|b| b.is_ascii_digit()) || count.starts_with('0') {
        return Err(premise_error(format!("variable count {count:?} is not a number from 1 to 64")));
    }
    let n: usize = count.parse().map_err(|_| premise_error(format!("variable count {count:?} is not a number")))?;
    if !(1..=crate::graph::MAX_NODES).contains(&n) {
        return Err(premise_error(format!("variable count {n} is not between 1 and {}", crate::graph::MAX_NODES)));
    }
    Ok(n)
}

/// The statements after the colon: correlations, then (after " However, " when both parts are
/// present) CI statements.
fn parse_body(body: &str, n: usize) -> Result<Premise> {
    let mut premise = Premise { n, correlations: Vec::new(), independences: Vec::new() };
    let (first, second) = match body.split_once(HOWEVER) {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    let mut in_ci_part = false;
    for (part_index, part) in std::iter::once(first).chain(second).enumerate() {
        if part_index == 1 {
            if premise.correlations.is_empty() || !premise.independences.is_empty() {
                return Err(premise_error("\"However,\" must separate correlations from CI statements"));
            }
            if part.is_empty() {
                return Err(premise_error("nothing follows \"However,\""));
            }
            in_ci_part = true;
        }
        for sentence in sentences(part)? {
            match parse_statement(sentence, n)? {
                Statement::Correlation(i, j) => {
                    if in_ci_part || !premise.independences.is_empty() {
                        return Err(premise_error(format!("correlation {sentence:?} after the CI statements")));
                    }
                    premise.correlations.push((i, j));
                }
                Statement::Independence(i, j, z) => {
                    if !in_ci_part && !premise.correlations.is_empty() {
                        return Err(premise_error(format!("CI statement {sentence:?} before \"However,\"")));
                    }
                    premise.independences.push((i, j, z));
                }
            }
        }
    }
    Ok(premise)
}

/// Split `"A. B. C."` into `["A", "B", "C"]` (an empty part has no sentences).
fn sentences(part: &str) -> Result<Vec<&str>> {
    if part.is_empty() {
        return Ok(Vec::new());
    }
    let inner =
        part.strip_suffix('.').ok_or_else(|| premise_error(format!("statement {part:?} does not end with '.'")))?;
    Ok(inner.split(". ").collect())
}

fn parse_statement(sentence: &str, n: usize) -> Result<Statement> {
    if let Some((a, b)) = sentence.split_once(" correlates with ") {
        let (i, j) = (name(a, n, sentence)?, name(b, n, sentence)?);
        return distinct(i, j, sentence).map(|_| Statement::Correlation(i, j));
    }
    if let Some((a, b)) = sentence.split_once(" is independent of ") {
        let (i, j) = (name(a, n, sentence)?, name(b, n, sentence)?);
        return distinct(i, j, sentence).map(|_| Statement::Independence(i, j, 0));
    }
    if let Some((pair, given)) = sentence.split_once(" are independent given ") {
        let (a, b) =
            pair.split_once(" and ").ok_or_else(|| premise_error(format!("expected \"A and B\" in {sentence:?}")))?;
        let (i, j) = (name(a, n, sentence)?, name(b, n, sentence)?);
        distinct(i, j, sentence)?;
        let mut set = 0u64;
        for item in split_list(given) {
            let k = name(item, n, sentence)?;
            if k == i || k == j || set >> k & 1 == 1 {
                return Err(premise_error(format!("conditioning set repeats a variable in {sentence:?}")));
            }
            set |= 1u64 << k;
        }
        return Ok(Statement::Independence(i, j, set));
    }
    Err(premise_error(format!("{sentence:?} is not a correlation or independence statement")))
}

fn name(text: &str, n: usize, sentence: &str) -> Result<usize> {
    variable_index(text, n)
        .ok_or_else(|| premise_error(format!("{text:?} is not one of the {n} variables (in {sentence:?})")))
}

fn distinct(i: usize, j: usize, sentence: &str) -> Result<()> {
    if i == j {
        return Err(premise_error(format!("a variable is related to itself in {sentence:?}")));
    }
    Ok(())
}
