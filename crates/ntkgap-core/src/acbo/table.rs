//! Candidate truth tables: for every candidate DAG, the descendant set of every node, computed
//! once per item so a query's truth under a candidate is one AND (`descendants[x] & targets`).
//! This is all the loop needs to know about a candidate; the DAGs themselves stay in
//! [`crate::acbo::Candidates`].

use crate::error::{Error, Result};

/// Per-candidate descendant bitsets and prior weights.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateTable {
    n: usize,
    descendants: Vec<Vec<u64>>,
    log_prior: Vec<f64>,
}

impl CandidateTable {
    /// Build from descendant sets (`descendants[c][v]` = bitset of v's strict descendants in
    /// candidate c) and prior weights (positive, unnormalized; e.g. sample multiplicities).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when there is no candidate, the lengths disagree, a set has the
    /// wrong node count, or a weight is not positive and finite.
    pub fn new(n: usize, descendants: Vec<Vec<u64>>, prior_weights: &[f64]) -> Result<Self> {
        if descendants.is_empty() {
            return Err(Error::invalid("candidates", "the candidate set is empty"));
        }
        if descendants.len() != prior_weights.len() {
            return Err(Error::invalid("candidates", "one prior weight per candidate is required"));
        }
        if descendants.iter().any(|d| d.len() != n) {
            return Err(Error::invalid("candidates", format!("every candidate needs {n} descendant sets")));
        }
        if prior_weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
            return Err(Error::invalid("candidates", "prior weights must be positive and finite"));
        }
        let log_prior = prior_weights.iter().map(|w| w.ln()).collect();
        Ok(Self { n, descendants, log_prior })
    }

    /// Uniform prior over the given candidates.
    ///
    /// # Errors
    /// As [`CandidateTable::new`].
    pub fn uniform(n: usize, descendants: Vec<Vec<u64>>) -> Result<Self> {
        let weights = vec![1.0; descendants.len()];
        Self::new(n, descendants, &weights)
    }

    /// Number of variables.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.descendants.len()
    }

    /// Always false (a table has at least one candidate).
    pub fn is_empty(&self) -> bool {
        self.descendants.is_empty()
    }

    /// Descendant sets of candidate `c`.
    pub fn descendants(&self, c: usize) -> &[u64] {
        &self.descendants[c]
    }

    /// Unnormalized log prior weights.
    pub fn log_prior(&self) -> &[f64] {
        &self.log_prior
    }

    /// A copy without candidate `c` (used to test the truth-missing alarm).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if nothing would remain or `c` is out of range.
    pub fn without(&self, c: usize) -> Result<Self> {
        if c >= self.len() || self.len() == 1 {
            return Err(Error::invalid("candidates", "cannot remove that candidate"));
        }
        let mut out = self.clone();
        out.descendants.remove(c);
        out.log_prior.remove(c);
        Ok(out)
    }
}
