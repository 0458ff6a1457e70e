//! Query selection strategies (`--select`).

use rand::Rng;
use serde::Serialize;

use crate::acbo::eig::expected_information_gain;
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
            "random" => Ok(Selection::Random),
            "round-robin" => Ok(Selection::RoundRobin),
            other => Err(Error::invalid(
                "--select",
                format!("{other:?} is not one of: eig, random, round-robin"),
            )),
        }
    }

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::Eig => "eig",
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

/// Choose the next query, or `None` when no query has positive EIG (the candidates with
/// positive posterior mass agree on every answer) — then asking is pointless for every strategy.
/// `asked` is the number of queries asked so far (round-robin position).
pub fn choose(
    selection: Selection,
    queries: &[Query],
    posterior: &Posterior,
    table: &CandidateTable,
    asked: usize,
    rng: &mut impl Rng,
) -> Option<Choice> {
    let probs = posterior.probabilities();
    let gains: Vec<f64> = queries
        .iter()
        .map(|q| expected_information_gain(&probs, table, q, posterior.model(), rng))
        .collect();
    let (best, best_gain) = gains.iter().enumerate().fold((0, f64::NEG_INFINITY), |acc, (i, &g)| {
        if g > acc.1 + EIG_TOLERANCE_BITS {
            (i, g)
        } else {
            acc
        }
    });
    if best_gain <= EIG_TOLERANCE_BITS {
        return None;
    }
    let index = match selection {
        Selection::Eig => best,
        Selection::Random => rng.random_range(0..queries.len()),
        Selection::RoundRobin => asked % queries.len(),
    };
    Some(Choice {
        index,
        eig_bits: gains[index],
    })
}
