//! Candidate DAGs for one premise: the members of its Markov equivalence class.
//!
//! The class is recovered from the premise's own statements (`Premise::parse(text)?.cpdag()`),
//! never from a record's metadata. Members are enumerated exactly when the class has at most
//! `cap` of them; otherwise `samples` members are drawn (seeded, with replacement), duplicates
//! are merged, and the prior weight of a distinct member is its multiplicity (an empirical
//! stand-in for the uniform prior over the class). The set then is *not exhaustive* and the true
//! DAG may be missing — reported per item, and watched by the truth-missing alarm.

use rand::Rng;

use crate::acbo::table::CandidateTable;
use crate::error::{Error, Result};
use crate::graph::{count_mec, enumerate_mec, sample_mec, Dag, Pdag, Relation};

/// Largest class size [`count_mec`] is asked to establish for reporting.
pub const CLASS_SIZE_COUNT_CAP: u64 = 1 << 40;

/// How candidates are gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CandidateSettings {
    /// Enumerate the class when it has at most this many members. Default 20 000.
    pub cap: usize,
    /// Otherwise draw this many members (with replacement). Default 2 000.
    pub samples: usize,
}

impl Default for CandidateSettings {
    fn default() -> Self {
        Self { cap: 20_000, samples: 2_000 }
    }
}

/// The candidate DAGs of one item, their prior weights and truth tables.
#[derive(Debug, Clone)]
pub struct Candidates {
    dags: Vec<Dag>,
    weights: Vec<f64>,
    exhaustive: bool,
    class_size: Option<u64>,
    table: CandidateTable,
}

impl Candidates {
    /// Gather the members of the class of `cpdag`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the class is empty or a setting is 0.
    pub fn from_cpdag(cpdag: &Pdag, settings: CandidateSettings, rng: &mut impl Rng) -> Result<Self> {
        if settings.cap == 0 || settings.samples == 0 {
            return Err(Error::invalid("candidates", "cap and samples must be positive"));
        }
        let members = enumerate_mec(cpdag, settings.cap);
        let (dags, weights, exhaustive) = if members.exhaustive {
            let k = members.dags.len();
            (members.dags, vec![1.0; k], true)
        } else {
            let mut drawn = sample_mec(cpdag, settings.samples, rng);
            drawn.sort();
            let mut dags: Vec<Dag> = Vec::new();
            let mut weights: Vec<f64> = Vec::new();
            for dag in drawn {
                if dags.last() == Some(&dag) {
                    *weights.last_mut().expect("weights track dags") += 1.0;
                } else {
                    dags.push(dag);
                    weights.push(1.0);
                }
            }
            (dags, weights, false)
        };
        if dags.is_empty() {
            return Err(Error::invalid("premise", "its equivalence class has no member DAG"));
        }
        let class_size = if exhaustive { Some(dags.len() as u64) } else { count_mec(cpdag, CLASS_SIZE_COUNT_CAP) };
        Self::from_dags(dags, &weights, exhaustive, class_size)
    }

    /// Wrap explicit candidates (all on the same node count) with prior weights.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if empty, mixed sizes, or bad weights.
    pub fn from_dags(dags: Vec<Dag>, weights: &[f64], exhaustive: bool, class_size: Option<u64>) -> Result<Self> {
        let n = dags.first().map(Dag::n).ok_or_else(|| Error::invalid("candidates", "the candidate set is empty"))?;
        if dags.iter().any(|d| d.n() != n) {
            return Err(Error::invalid("candidates", "candidates have different numbers of nodes"));
        }
        let descendants = dags.iter().map(|d| (0..n).map(|v| d.descendants(v)).collect()).collect();
        let table = CandidateTable::new(n, descendants, weights)?;
        Ok(Self { dags, weights: weights.to_vec(), exhaustive, class_size, table })
    }

    /// The distinct candidate DAGs.
    pub fn dags(&self) -> &[Dag] {
        &self.dags
    }

    /// Prior weight (multiplicity) per candidate.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// True when the candidates are the whole class.
    pub fn exhaustive(&self) -> bool {
        self.exhaustive
    }

    /// The class size when known (always when exhaustive).
    pub fn class_size(&self) -> Option<u64> {
        self.class_size
    }

    /// The precomputed truth tables.
    pub fn table(&self) -> &CandidateTable {
        &self.table
    }

    /// Number of distinct candidates.
    pub fn len(&self) -> usize {
        self.dags.len()
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.dags.is_empty()
    }

    /// ⌈log₂ |candidates|⌉ (0 for a single candidate).
    pub fn ceil_log2(&self) -> u32 {
        (self.len() as u64).next_power_of_two().trailing_zeros()
    }

    /// Whether `relation(x, y)` holds in each candidate.
    pub fn hypothesis(&self, relation: Relation, x: usize, y: usize) -> Vec<bool> {
        self.dags.iter().map(|d| relation.holds(d, x, y)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::cpdag;
    use rand::SeedableRng;

    #[test]
    fn chain_class_is_enumerated_or_sampled() {
        let chain = Dag::from_edges(3, &[(0, 1), (1, 2)]).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let all = Candidates::from_cpdag(&cpdag(&chain), CandidateSettings::default(), &mut rng).unwrap();
        assert!(all.exhaustive());
        assert_eq!(all.len(), 3);
        assert_eq!(all.ceil_log2(), 2);
        assert!(all.dags().contains(&chain));
        let sampled =
            Candidates::from_cpdag(&cpdag(&chain), CandidateSettings { cap: 2, samples: 300 }, &mut rng).unwrap();
        assert!(!sampled.exhaustive());
        assert_eq!(sampled.class_size(), Some(3));
        assert_eq!(sampled.len(), 3);
        assert!((sampled.weights().iter().sum::<f64>() - 300.0).abs() < 1e-9);
    }
}
