//! Query selection strategies (`--select`).

use rand::Rng;
use serde::Serialize;

use crate::acbo::eig::{expected_information_gain, hypothesis_information_gain};
use crate::acbo::posterior::Posterior;
use crate::acbo::query::Query;
use crate::acbo::table::CandidateTable;
use crate::error::{Error, Result};

/// Gains at or below this many bits count as "no information" (float noise).
pub const EIG_TOLERANCE_BITS: f64 = 1e-12;

/// How the next query is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Maximum expected information gain about the DAG under the current posterior and the
    /// oracle's error model; ties go to the first query in [`crate::acbo::all_queries`] order.
    /// Cost per round: one EIG per query (exact up to 12 targets). Default.
    Eig,
    /// Maximum expected information gain about the hypothesis indicator h
    /// ([`crate::acbo::eig::hypothesis_information_gain`]); falls back to [`Selection::Eig`] when
    /// no single query is informative about h. Cost: three answer entropies per query.
    EigHypothesis,
    /// Uniformly random over all queries of the family (the naive ablation; may repeat or ask
    /// an answer the posterior already knows).
    Random,
    /// Cycle through the queries in fixed order (ablation).
    RoundRobin,
}

impl Selection {
    /// Parse `eig`, `random` or `round-robin`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `--select`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "eig" => Ok(Selection::Eig),
            "eig-hypothesis" => Ok(Selection::EigHypothesis),
            "random" => Ok(Selection::Random),
            "round-robin" => Ok(Selection::RoundRobin),
            other => Err(Error::setting(
                "select",
                format!("{other:?} is not one of: eig, eig-hypothesis, random, round-robin"),
            )),
        }
    }

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::Eig => "eig",
            Selection::EigHypothesis => "eig-hypothesis",
            Selection::Random => "random",
            Selection::RoundRobin => "round-robin",
        }
    }
}

/// A chosen query with its expected information gain (bits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// Index into the query list.
    pub index: usize,
    /// EIG of the chosen query under the posterior it was chosen from.
    pub eig_bits: f64,
}

/// Choose the next query (`hypothesis[c]`: whether h holds in candidate c), or `None` when no query has positive EIG (the candidates with
/// positive posterior mass agree on every answer) — then asking is pointless for every strategy.
/// `asked` is the number of queries asked so far (round-robin position).
pub(crate) fn choose(
    selection: Selection,
    queries: &[Query],
    posterior: &Posterior,
    table: &CandidateTable,
    hypothesis: &[bool],
    asked: usize,
    rng: &mut impl Rng,
) -> Option<Choice> {
    let probs = posterior.probabilities();
    let gains: Vec<f64> =
        queries.iter().map(|q| expected_information_gain(&probs, table, q, posterior.model(), rng)).collect();
    let (best, best_gain) = argmax(&gains);
    if best_gain <= EIG_TOLERANCE_BITS {
        return None;
    }
    let index = match selection {
        Selection::Eig => best,
        Selection::EigHypothesis => {
            let about_h: Vec<f64> = queries
                .iter()
                .map(|q| hypothesis_information_gain(&probs, table, q, posterior.model(), hypothesis, rng))
                .collect();
            let (best_h, gain_h) = argmax(&about_h);
            if gain_h > EIG_TOLERANCE_BITS {
                best_h
            } else {
                best
            }
        }
        Selection::Random => rng.random_range(0..queries.len()),
        Selection::RoundRobin => asked % queries.len(),
    };
    Some(Choice { index, eig_bits: gains[index] })
}

/// First index of the maximum (later values must exceed it by the tolerance).
fn argmax(values: &[f64]) -> (usize, f64) {
    values.iter().enumerate().fold(
        (0, f64::NEG_INFINITY),
        |acc, (i, &g)| {
            if g > acc.1 + EIG_TOLERANCE_BITS {
                (i, g)
            } else {
                acc
            }
        },
    )
}
