//! Directed acyclic graphs over at most 64 nodes, stored as one parent bitset per node.
//!
//! Node sets are `u64` bitsets (bit i = node i, 0-based). Every constructor checks range,
//! self loops and acyclicity, so a [`Dag`] value is always a DAG. Queries (children, ancestors,
//! descendants, topological order) are computed from the parent bitsets on demand; with n ≤ 64
//! they cost a few dozen word operations.
//!
//! Known gaps: no node names (the corpus decides them), no multi-graphs.

use crate::error::{Error, Result};

/// The largest number of nodes a [`Dag`] can have (one `u64` bitset per node set).
pub const MAX_NODES: usize = 64;

/// A directed acyclic graph on nodes `0..n`, n ≤ [`MAX_NODES`].
///
/// Equality, hashing and ordering compare the node count and the parent bitsets, so two values
/// are equal exactly when they have the same labelled edges.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Dag {
    pub(super) n: usize,
    /// `parents[v]` = bitset of v's parents.
    pub(super) parents: Vec<u64>,
}

/// Bitset with the lowest `n` bits set.
pub(crate) fn full_set(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Iterate the members of a bitset in increasing order.
pub(crate) fn bits(mut set: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if set == 0 {
            return None;
        }
        let i = set.trailing_zeros() as usize;
        set &= set - 1;
        Some(i)
    })
}

/// Check a node count: 1 ≤ n ≤ 64.
pub(crate) fn check_node_count(n: usize) -> Result<()> {
    if n == 0 || n > MAX_NODES {
        return Err(Error::Graph(format!("node count {n} is outside 1..={MAX_NODES}")));
    }
    Ok(())
}

/// True when the parent bitsets (over `parents.len()` nodes) contain no directed cycle.
pub(crate) fn parent_sets_acyclic(parents: &[u64]) -> bool {
    let mut remaining = full_set(parents.len());
    while remaining != 0 {
        // Sources among the remaining nodes: no parent left in `remaining`.
        let sources = bits(remaining).filter(|&v| parents[v] & remaining == 0).fold(0u64, |acc, v| acc | 1 << v);
        if sources == 0 {
            return false;
        }
        remaining &= !sources;
    }
    true
}

impl Dag {
    /// The graph on `n` nodes with no edges.
    ///
    /// # Errors
    /// [`Error::Graph`] if `n == 0` or `n > 64`.
    pub fn empty(n: usize) -> Result<Dag> {
        check_node_count(n)?;
        Ok(Dag { n, parents: vec![0; n] })
    }

    /// The graph on `n` nodes with the given `(from, to)` edges (duplicates are merged).
    ///
    /// # Errors
    /// [`Error::Graph`] on a bad node count, an endpoint ≥ n, a self loop or a directed cycle.
    pub fn from_edges(n: usize, edges: &[(usize, usize)]) -> Result<Dag> {
        check_node_count(n)?;
        let mut parents = vec![0u64; n];
        for &(from, to) in edges {
            if from >= n || to >= n {
                return Err(Error::Graph(format!("edge ({from}, {to}) has a node outside 0..{n}")));
            }
            if from == to {
                return Err(Error::Graph(format!("self loop at node {from}")));
            }
            parents[to] |= 1 << from;
        }
        Dag::from_parent_sets(parents)
    }

    /// The graph whose node v has parent bitset `parents[v]`; n = `parents.len()`.
    ///
    /// # Errors
    /// [`Error::Graph`] on a bad node count, a parent bit ≥ n, a self loop or a directed cycle.
    pub fn from_parent_sets(parents: Vec<u64>) -> Result<Dag> {
        let n = parents.len();
        check_node_count(n)?;
        let all = full_set(n);
        for (v, &p) in parents.iter().enumerate() {
            if p & !all != 0 {
                return Err(Error::Graph(format!("node {v} has a parent outside 0..{n}")));
            }
            if p & (1 << v) != 0 {
                return Err(Error::Graph(format!("self loop at node {v}")));
            }
        }
        if !parent_sets_acyclic(&parents) {
            return Err(Error::Graph("the edges contain a directed cycle".to_string()));
        }
        Ok(Dag { n, parents })
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.n
    }

    /// True when the edge `from → to` exists (false for out-of-range nodes).
    pub fn has_edge(&self, from: usize, to: usize) -> bool {
        from < self.n && to < self.n && self.parents[to] & (1 << from) != 0
    }

    /// True when `a → b` or `b → a`.
    pub fn adjacent(&self, a: usize, b: usize) -> bool {
        self.has_edge(a, b) || self.has_edge(b, a)
    }

    /// Bitset of v's parents (0 for an out-of-range node).
    pub fn parents(&self, v: usize) -> u64 {
        self.parents.get(v).copied().unwrap_or(0)
    }

    /// All parent bitsets, indexed by node.
    pub fn parent_sets(&self) -> &[u64] {
        &self.parents
    }

    /// Bitset of v's children (0 for an out-of-range node).
    pub fn children(&self, v: usize) -> u64 {
        if v >= self.n {
            return 0;
        }
        let bit = 1u64 << v;
        self.parents.iter().enumerate().filter(|(_, &p)| p & bit != 0).fold(0, |acc, (w, _)| acc | 1 << w)
    }

    /// Every node with a directed path into some member of `set`, plus `set` itself, using only
    /// nodes of `allowed` (members of `set` outside `allowed` are still starting points).
    pub fn ancestors_within(&self, set: u64, allowed: u64) -> u64 {
        let mut reached = set;
        let mut frontier = set;
        while frontier != 0 {
            let next = bits(frontier).fold(0u64, |acc, v| acc | self.parents[v]) & allowed & !reached;
            reached |= next;
            frontier = next;
        }
        reached
    }

    /// Every node reachable by a directed path from some member of `set`, plus `set` itself,
    /// using only nodes of `allowed`.
    pub fn descendants_within(&self, set: u64, allowed: u64) -> u64 {
        let mut reached = set;
        loop {
            let next =
                bits(allowed & !reached).filter(|&w| self.parents[w] & reached != 0).fold(0u64, |a, w| a | 1 << w);
            if next == 0 {
                return reached;
            }
            reached |= next;
        }
    }

    /// Strict ancestors of v (v excluded).
    pub fn ancestors(&self, v: usize) -> u64 {
        if v >= self.n {
            return 0;
        }
        self.ancestors_within(1 << v, full_set(self.n)) & !(1 << v)
    }

    /// Strict descendants of v (v excluded).
    pub fn descendants(&self, v: usize) -> u64 {
        if v >= self.n {
            return 0;
        }
        self.descendants_within(1 << v, full_set(self.n)) & !(1 << v)
    }

    /// True when a directed path `x ⇝ y` of length ≥ 1 exists.
    pub fn is_ancestor(&self, x: usize, y: usize) -> bool {
        x < self.n && y < self.n && self.ancestors(y) & (1 << x) != 0
    }

    /// All edges `(from, to)`, sorted.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> =
            (0..self.n).flat_map(|to| bits(self.parents[to]).map(move |from| (from, to))).collect();
        out.sort_unstable();
        out
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.parents.iter().map(|p| p.count_ones() as usize).sum()
    }

    /// A topological order (parents before children); among ready nodes the smallest index goes
    /// first, so the order is deterministic.
    pub fn topological_order(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.n);
        let mut placed = 0u64;
        while order.len() < self.n {
            let ready = (0..self.n).find(|&v| placed & (1 << v) == 0 && self.parents[v] & !placed == 0);
            // The graph is acyclic, so some node is always ready.
            let Some(v) = ready else { break };
            placed |= 1 << v;
            order.push(v);
        }
        order
    }

    /// Undirected neighbour bitset per node.
    pub fn skeleton(&self) -> Vec<u64> {
        let mut nb = self.parents.clone();
        for (to, &p) in self.parents.iter().enumerate() {
            for from in bits(p) {
                nb[from] |= 1 << to;
            }
        }
        nb
    }

    /// Every v-structure `(a, c, b)`: `a → c ← b`, `a < b`, a and b non-adjacent; sorted.
    pub fn v_structures(&self) -> Vec<(usize, usize, usize)> {
        let nb = self.skeleton();
        let mut out = Vec::new();
        for c in 0..self.n {
            let p = self.parents[c];
            for a in bits(p) {
                let above = if a >= 63 { 0 } else { !full_set(a + 1) };
                for b in bits(p & above & !nb[a]) {
                    out.push((a, c, b));
                }
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_reject_bad_input() {
        assert!(Dag::empty(0).is_err());
        assert!(Dag::empty(65).is_err());
        assert!(Dag::empty(64).is_ok());
        assert!(Dag::from_edges(3, &[(0, 3)]).is_err());
        assert!(Dag::from_edges(3, &[(1, 1)]).is_err());
        assert!(Dag::from_edges(3, &[(0, 1), (1, 2), (2, 0)]).is_err());
        assert!(Dag::from_parent_sets(vec![0, 0b100, 0]).is_ok());
        assert!(Dag::from_parent_sets(vec![0b1000, 0, 0]).is_err());
    }

    #[test]
    fn queries_on_a_small_graph() {
        // 0 → 1 → 2, 0 → 2, 3 → 2, 4 isolated
        let d = Dag::from_edges(5, &[(0, 1), (1, 2), (0, 2), (3, 2)]).unwrap();
        assert_eq!(d.children(0), 0b110);
        assert_eq!(d.parents(2), 0b1011);
        assert_eq!(d.ancestors(2), 0b1011);
        assert_eq!(d.descendants(0), 0b110);
        assert!(d.is_ancestor(0, 2) && !d.is_ancestor(2, 0) && !d.is_ancestor(4, 4));
        assert_eq!(d.edges(), vec![(0, 1), (0, 2), (1, 2), (3, 2)]);
        assert_eq!(d.num_edges(), 4);
        assert_eq!(d.topological_order(), vec![0, 1, 3, 2, 4]);
        assert_eq!(d.v_structures(), vec![(0, 2, 3), (1, 2, 3)]);
        assert_eq!(d.skeleton()[2], 0b1011);
    }

    #[test]
    fn topological_order_respects_every_edge() {
        let d = Dag::from_edges(6, &[(5, 0), (4, 5), (3, 1), (1, 0), (2, 4)]).unwrap();
        let order = d.topological_order();
        let pos: Vec<usize> = (0..6).map(|v| order.iter().position(|&w| w == v).unwrap()).collect();
        for (a, b) in d.edges() {
            assert!(pos[a] < pos[b], "edge {a}->{b} violates {order:?}");
        }
    }

    #[test]
    fn sixty_four_nodes_work() {
        let edges: Vec<(usize, usize)> = (0..63).map(|i| (i, i + 1)).collect();
        let d = Dag::from_edges(64, &edges).unwrap();
        assert_eq!(d.descendants(0), !1);
        assert_eq!(d.ancestors(63), u64::MAX >> 1);
        assert!(d.is_ancestor(0, 63));
        assert!(Dag::from_edges(64, &[(63, 0), (0, 63)]).is_err());
    }
}
