//! Interventional queries and their answers.
//!
//! A query intervenes on one variable X and asks which of a set of target variables change.
//! The paper's query, "under do(X), does Y change?", has the single target Y
//! ([`QueryKind::Binary`]); the richer "which variables change under do(X)?" targets every other
//! variable ([`QueryKind::Set`]). In both, a target changes iff X is an ancestor of it in the true
//! DAG (an intervention moves exactly the descendants — assuming faithfulness, which a
//! simulated experiment can violate by near-cancelling paths; see `oracle::experiment`).

use serde::Serialize;

use crate::error::{Error, Result};

/// Which query family the loop asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// "Under do(X), does Y change?" — n(n−1) queries, one answered bit each.
    Binary,
    /// "Which variables change under do(X)?" — n queries, n−1 answered bits each (default).
    Set,
}

impl QueryKind {
    /// Parse `binary` or `set`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `--query` for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "binary" => Ok(QueryKind::Binary),
            "set" => Ok(QueryKind::Set),
            other => Err(Error::setting("query", format!("{other:?} is not one of: binary, set"))),
        }
    }

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Binary => "binary",
            QueryKind::Set => "set",
        }
    }
}

/// One interventional query: do(`intervene`), observe the variables in `targets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Query {
    /// The intervened variable X (0-based index).
    pub intervene: usize,
    /// Bitset of the variables whose change is asked about (never contains X).
    pub targets: u64,
}

/// An oracle's answer: the subset of the query's targets reported as changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Answer {
    /// Bitset ⊆ the query's targets.
    pub changed: u64,
}

impl Query {
    /// The true answer under a DAG whose strict descendant sets are `descendants`
    /// (`descendants[v]` = bitset of v's descendants).
    pub fn truth(&self, descendants: &[u64]) -> u64 {
        descendants[self.intervene] & self.targets
    }

    /// Number of answered target variables.
    pub fn width(&self) -> u32 {
        self.targets.count_ones()
    }
}

/// Every query of one kind on `n` variables, in a fixed order (by X, then by Y).
pub fn all_queries(n: usize, kind: QueryKind) -> Vec<Query> {
    let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let mut queries = Vec::new();
    for x in 0..n {
        match kind {
            QueryKind::Set => queries.push(Query { intervene: x, targets: all & !(1u64 << x) }),
            QueryKind::Binary => {
                for y in (0..n).filter(|&y| y != x) {
                    queries.push(Query { intervene: x, targets: 1u64 << y });
                }
            }
        }
    }
    queries
}

/// Strict descendant sets from parent bitsets (`parents[v]` = bitset of v's parents).
///
/// # Errors
/// [`Error::Graph`] if the parent sets contain a cycle or point outside `0..parents.len()`.
pub fn descendant_sets(parents: &[u64]) -> Result<Vec<u64>> {
    let order = topological_order(parents)?;
    let n = parents.len();
    let mut desc = vec![0u64; n];
    for &v in order.iter().rev() {
        for c in (0..n).filter(|&c| parents[c] >> v & 1 == 1) {
            desc[v] |= desc[c] | (1u64 << c);
        }
    }
    Ok(desc)
}

/// A topological order of the DAG given by parent bitsets (Kahn, smallest index first).
///
/// # Errors
/// [`Error::Graph`] on a cycle or an out-of-range parent.
pub(crate) fn topological_order(parents: &[u64]) -> Result<Vec<usize>> {
    let n = parents.len();
    if n == 0 || n > 64 || (n < 64 && parents.iter().any(|&p| p >> n != 0)) {
        return Err(Error::Graph(format!("parent sets for {n} nodes are out of range")));
    }
    let mut placed = 0u64;
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&v| placed >> v & 1 == 0 && parents[v] & !placed == 0);
        let Some(v) = next else {
            return Err(Error::Graph("parent sets contain a cycle".into()));
        };
        placed |= 1u64 << v;
        order.push(v);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_families_have_the_right_sizes() {
        assert_eq!(all_queries(4, QueryKind::Binary).len(), 12);
        let set = all_queries(4, QueryKind::Set);
        assert_eq!(set.len(), 4);
        assert_eq!(set[1].targets, 0b1101);
        assert!(all_queries(4, QueryKind::Binary).iter().all(|q| q.width() == 1 && q.targets >> q.intervene & 1 == 0));
    }

    #[test]
    fn descendants_of_a_chain_and_truths() {
        // 0 → 1 → 2, 3 isolated
        let desc = descendant_sets(&[0, 0b1, 0b10, 0]).unwrap();
        assert_eq!(desc, vec![0b110, 0b100, 0, 0]);
        let q = Query { intervene: 0, targets: 0b1110 };
        assert_eq!(q.truth(&desc), 0b110);
        assert!(descendant_sets(&[0b10, 0b1]).is_err());
        assert!(QueryKind::parse("sets").unwrap_err().to_string().contains("binary, set"));
    }
}
