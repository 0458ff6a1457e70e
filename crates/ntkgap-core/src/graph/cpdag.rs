//! Partially directed graphs, Meek's orientation rules R1–R4 and the CPDAG of a DAG.
//!
//! The CPDAG (essential graph) of a Markov equivalence class is obtained from the skeleton and
//! the v-structures by orienting the v-structures and closing under Meek's rules (Meek 1995,
//! "Causal inference and causal explanation with background knowledge"; R1–R3 already suffice
//! from a pattern, R4 matters only with extra orientations and is applied too). Two DAGs are
//! Markov equivalent iff they share skeleton and v-structures (Verma & Pearl 1990), which is
//! what [`MecKey`] stores.
//!
//! Rules, for an undirected edge a — b (oriented a → b when one applies):
//! - R1: some c → a with c, b non-adjacent;
//! - R2: some chain a → c → b;
//! - R3: two chains a — c → b, a — d → b with c, d non-adjacent;
//! - R4: a chain a — k → l → b with a, l adjacent and k, b non-adjacent.
//!
//! Known gaps: no background-knowledge API beyond building a [`Pdag`] by hand with [`Pdag::new`].

use super::dag::{bits, check_node_count, full_set, Dag};
use crate::error::{Error, Result};

/// A partially directed graph on nodes `0..n`: directed edges plus undirected edges.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Pdag {
    n: usize,
    /// `directed[v]` = bitset of nodes u with u → v.
    directed: Vec<u64>,
    /// `undirected[v]` = bitset of nodes u with u — v (symmetric).
    undirected: Vec<u64>,
}

/// The skeleton and v-structures of a DAG: equal keys ⇔ Markov equivalent DAGs.
///
/// Ordering is by node count, then skeleton, then the sorted v-structure list; it is only meant
/// to make outputs deterministic.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct MecKey {
    n: u8,
    skeleton: Box<[u64]>,
    v_structures: Box<[(u8, u8, u8)]>,
}

impl MecKey {
    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.n as usize
    }

    /// Undirected neighbour bitset per node.
    pub fn skeleton(&self) -> &[u64] {
        &self.skeleton
    }

    /// The v-structures `(a, c, b)` (a → c ← b, a < b), sorted.
    pub fn v_structures(&self) -> Vec<(usize, usize, usize)> {
        self.v_structures.iter().map(|&(a, c, b)| (a as usize, c as usize, b as usize)).collect()
    }

    /// The CPDAG of the class this key names.
    pub fn cpdag(&self) -> Pdag {
        let mut pdag = pattern(self.n(), &self.skeleton, &self.v_structures());
        pdag.meek_closure();
        pdag
    }
}

/// The Markov-equivalence key (skeleton + sorted v-structures) of a DAG.
pub fn mec_key(dag: &Dag) -> MecKey {
    let v_structures = dag.v_structures().into_iter().map(|(a, c, b)| (a as u8, c as u8, b as u8)).collect();
    MecKey { n: dag.n() as u8, skeleton: dag.skeleton().into_boxed_slice(), v_structures }
}

/// The CPDAG (essential graph) of a DAG's Markov equivalence class.
pub fn cpdag(dag: &Dag) -> Pdag {
    let mut pdag = pattern(dag.n(), &dag.skeleton(), &dag.v_structures());
    pdag.meek_closure();
    pdag
}

/// Skeleton undirected, v-structures oriented; inputs already validated.
fn pattern(n: usize, skeleton: &[u64], v_structures: &[(usize, usize, usize)]) -> Pdag {
    let mut pdag = Pdag { n, directed: vec![0; n], undirected: skeleton.to_vec() };
    for &(a, c, b) in v_structures {
        pdag.orient(a, c);
        pdag.orient(b, c);
    }
    pdag
}

impl Pdag {
    /// A partially directed graph with the given directed `(from, to)` and undirected `(a, b)`
    /// edges, taken as is (no closure). Useful for hand-made cases and background knowledge.
    ///
    /// # Errors
    /// [`Error::Graph`] on a bad node count, an endpoint ≥ n, a self loop, or a pair given twice
    /// with different kinds (both directions, or directed and undirected).
    pub fn new(n: usize, directed: &[(usize, usize)], undirected: &[(usize, usize)]) -> Result<Pdag> {
        check_node_count(n)?;
        let mut pdag = Pdag { n, directed: vec![0; n], undirected: vec![0; n] };
        for (i, &(a, b)) in directed.iter().chain(undirected).enumerate() {
            if a >= n || b >= n || a == b {
                return Err(Error::Graph(format!("edge ({a}, {b}) is a self loop or leaves 0..{n}")));
            }
            let duplicate = pdag.is_undirected(a, b) || pdag.is_directed(b, a);
            if duplicate || (i >= directed.len() && pdag.is_directed(a, b)) {
                return Err(Error::Graph(format!("nodes {a} and {b} are joined by two different edges")));
            }
            if i < directed.len() {
                pdag.directed[b] |= 1 << a;
            } else {
                pdag.undirected[a] |= 1 << b;
                pdag.undirected[b] |= 1 << a;
            }
        }
        Ok(pdag)
    }

    /// Skeleton + v-structures (a, c, b meaning a → c ← b), then Meek closure R1–R4: the CPDAG.
    ///
    /// # Errors
    /// [`Error::Graph`] on a bad node count, a skeleton that is not `n` symmetric loop-free
    /// bitsets inside `0..n`, or a v-structure whose edges are missing from the skeleton, whose
    /// endpoints are adjacent or equal, or that contradicts another v-structure.
    pub fn from_skeleton_and_v_structures(
        n: usize,
        skeleton: &[u64],
        v_structures: &[(usize, usize, usize)],
    ) -> Result<Pdag> {
        check_node_count(n)?;
        check_skeleton(n, skeleton)?;
        let mut pdag = Pdag { n, directed: vec![0; n], undirected: skeleton.to_vec() };
        for &(a, c, b) in v_structures {
            let bad = |why: &str| Error::Graph(format!("v-structure ({a}, {c}, {b}) {why}"));
            if a >= n || b >= n || c >= n || a == b {
                return Err(bad("has a node outside 0..n or a == b"));
            }
            if skeleton[c] & (1 << a) == 0 || skeleton[c] & (1 << b) == 0 || skeleton[a] & (1 << b) != 0 {
                return Err(bad("does not match the skeleton (needs a — c — b with a, b non-adjacent)"));
            }
            if pdag.is_directed(c, a) || pdag.is_directed(c, b) {
                return Err(bad("contradicts another v-structure"));
            }
            pdag.orient(a, c);
            pdag.orient(b, c);
        }
        pdag.meek_closure();
        Ok(pdag)
    }

    /// Apply Meek's rules R1–R4 until none applies (the maximally oriented graph).
    pub fn meek_closure(&mut self) {
        let adjacency: Vec<u64> = (0..self.n).map(|v| self.neighbours(v)).collect();
        let mut children: Vec<u64> = (0..self.n).map(|v| self.directed_children(v)).collect();
        loop {
            let mut changed = false;
            for a in 0..self.n {
                for b in bits(self.undirected[a]) {
                    if self.undirected[a] & (1 << b) != 0 && self.meek_rule_applies(&adjacency, &children, a, b) {
                        self.orient(a, b);
                        children[a] |= 1 << b;
                        changed = true;
                    }
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// True when one of R1–R4 orients the undirected edge a — b as a → b.
    fn meek_rule_applies(&self, adjacency: &[u64], children: &[u64], a: usize, b: usize) -> bool {
        let (bit_a, bit_b) = (1u64 << a, 1u64 << b);
        // R1: c → a, c and b non-adjacent.
        if self.directed[a] & !adjacency[b] & !bit_b != 0 {
            return true;
        }
        // R2: a → c → b.
        if children[a] & self.directed[b] != 0 {
            return true;
        }
        // R3: a — c → b and a — d → b, c and d non-adjacent.
        let middles = self.undirected[a] & self.directed[b];
        if bits(middles).any(|c| middles & !adjacency[c] & !(1 << c) != 0) {
            return true;
        }
        // R4: a — k → l → b, a and l adjacent, k and b non-adjacent.
        bits(self.directed[b] & adjacency[a] & !bit_a)
            .any(|l| self.directed[l] & self.undirected[a] & !adjacency[b] & !bit_b != 0)
    }

    /// Replace a — b (or nothing) by a → b.
    pub(super) fn orient(&mut self, a: usize, b: usize) {
        self.undirected[a] &= !(1 << b);
        self.undirected[b] &= !(1 << a);
        self.directed[b] |= 1 << a;
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.n
    }

    /// True when `from → to` is a directed edge.
    pub fn is_directed(&self, from: usize, to: usize) -> bool {
        from < self.n && to < self.n && self.directed[to] & (1 << from) != 0
    }

    /// True when `a — b` is an undirected edge.
    pub fn is_undirected(&self, a: usize, b: usize) -> bool {
        a < self.n && b < self.n && self.undirected[a] & (1 << b) != 0
    }

    /// True when a and b are joined by any edge.
    pub fn adjacent(&self, a: usize, b: usize) -> bool {
        self.is_directed(a, b) || self.is_directed(b, a) || self.is_undirected(a, b)
    }

    /// Bitset of u with u → v.
    pub fn directed_parents(&self, v: usize) -> u64 {
        self.directed.get(v).copied().unwrap_or(0)
    }

    /// Bitset of w with v → w.
    pub fn directed_children(&self, v: usize) -> u64 {
        (0..self.n).filter(|&w| self.is_directed(v, w)).fold(0, |acc, w| acc | 1 << w)
    }

    /// Bitset of u with u — v.
    pub fn undirected_neighbours(&self, v: usize) -> u64 {
        self.undirected.get(v).copied().unwrap_or(0)
    }

    /// Bitset of every node joined to v by any edge.
    pub fn neighbours(&self, v: usize) -> u64 {
        if v >= self.n {
            return 0;
        }
        self.directed[v] | self.undirected[v] | self.directed_children(v)
    }

    /// All directed edges `(from, to)`, sorted.
    pub fn directed_edges(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<_> = (0..self.n).flat_map(|to| bits(self.directed[to]).map(move |from| (from, to))).collect();
        out.sort_unstable();
        out
    }

    /// All undirected edges `(a, b)` with a < b, sorted.
    pub fn undirected_edges(&self) -> Vec<(usize, usize)> {
        (0..self.n).flat_map(|a| bits(self.undirected[a] & !full_set(a + 1)).map(move |b| (a, b))).collect()
    }

    /// The v-structures `(a, c, b)` formed by directed edges (a → c ← b, a < b, a and b
    /// non-adjacent), sorted.
    pub fn v_structures(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for c in 0..self.n {
            let p = self.directed[c];
            for a in bits(p) {
                for b in bits(p & !full_set(a + 1) & !self.neighbours(a)) {
                    out.push((a, c, b));
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Directed parent bitsets and undirected neighbour bitsets (for the MEC algorithms).
    pub(super) fn parts(&self) -> (&[u64], &[u64]) {
        (&self.directed, &self.undirected)
    }

    /// Build from raw parts without checks (for the MEC algorithms).
    pub(super) fn from_parts(directed: Vec<u64>, undirected: Vec<u64>) -> Pdag {
        Pdag { n: directed.len(), directed, undirected }
    }
}

/// `n` symmetric, loop-free neighbour bitsets inside `0..n`.
fn check_skeleton(n: usize, skeleton: &[u64]) -> Result<()> {
    if skeleton.len() != n {
        return Err(Error::Graph(format!("skeleton has {} rows, expected {n}", skeleton.len())));
    }
    for (v, &nb) in skeleton.iter().enumerate() {
        if nb & !full_set(n) != 0 || nb & (1 << v) != 0 {
            return Err(Error::Graph(format!("skeleton row {v} has a self loop or a node outside 0..{n}")));
        }
        if let Some(u) = bits(nb).find(|&u| skeleton[u] & (1 << v) == 0) {
            return Err(Error::Graph(format!("skeleton is not symmetric: {v} — {u} but not {u} — {v}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(n: usize, directed: &[(usize, usize)], undirected: &[(usize, usize)]) -> Pdag {
        let mut p = Pdag::new(n, directed, undirected).unwrap();
        p.meek_closure();
        p
    }

    #[test]
    fn rule_one_propagates_away_from_an_arrow() {
        // 0 → 1 — 2, 0 and 2 non-adjacent ⇒ 1 → 2.
        let p = closed(3, &[(0, 1)], &[(1, 2)]);
        assert!(p.is_directed(1, 2));
        // With 0 — 2 adjacent nothing happens by R1 (but R2 then needs 0 → 1 → 2: none here).
        let q = closed(3, &[(0, 1)], &[(1, 2), (0, 2)]);
        assert!(q.is_undirected(1, 2) && q.is_undirected(0, 2));
    }

    #[test]
    fn rule_two_avoids_cycles() {
        // 0 → 1 → 2, 0 — 2 ⇒ 0 → 2.
        let p = closed(3, &[(0, 1), (1, 2)], &[(0, 2)]);
        assert!(p.is_directed(0, 2));
    }

    #[test]
    fn rule_three_kite() {
        // 0 — 1, 0 — 2, 0 — 3, 1 → 3 ← 2 (1, 2 non-adjacent) ⇒ 0 → 3.
        let p = closed(4, &[(1, 3), (2, 3)], &[(0, 1), (0, 2), (0, 3)]);
        assert!(p.is_directed(0, 3));
        assert!(p.is_undirected(0, 1) && p.is_undirected(0, 2));
    }

    #[test]
    fn rule_four_with_background_knowledge() {
        // a=0 — b=3, a — k=1, k → l=2, l → b, a — l, k and b non-adjacent ⇒ a → b.
        let p = closed(4, &[(1, 2), (2, 3)], &[(0, 3), (0, 1), (0, 2)]);
        assert!(p.is_directed(0, 3), "{p:?}");
        // Nothing else is forced: 0 — 1 and 0 — 2 stay undirected.
        assert_eq!(p.undirected_edges(), vec![(0, 1), (0, 2)]);
    }

    #[test]
    fn chain_fork_collider() {
        let chain = Dag::from_edges(3, &[(0, 1), (1, 2)]).unwrap();
        let fork = Dag::from_edges(3, &[(1, 0), (1, 2)]).unwrap();
        let collider = Dag::from_edges(3, &[(0, 1), (2, 1)]).unwrap();
        assert_eq!(mec_key(&chain), mec_key(&fork));
        assert_eq!(cpdag(&chain), cpdag(&fork));
        assert_ne!(mec_key(&chain), mec_key(&collider));
        assert_eq!(cpdag(&chain).undirected_edges(), vec![(0, 1), (1, 2)]);
        assert_eq!(cpdag(&collider).directed_edges(), vec![(0, 1), (2, 1)]);
    }

    #[test]
    fn from_skeleton_validates() {
        assert!(Pdag::from_skeleton_and_v_structures(3, &[0b010, 0, 0], &[]).is_err());
        assert!(Pdag::from_skeleton_and_v_structures(3, &[0b001, 0, 0], &[]).is_err());
        assert!(Pdag::from_skeleton_and_v_structures(3, &[0b010, 0b101, 0b010], &[(0, 1, 2)]).is_ok());
        assert!(Pdag::from_skeleton_and_v_structures(3, &[0b110, 0b101, 0b011], &[(0, 1, 2)]).is_err());
        assert!(Pdag::from_skeleton_and_v_structures(2, &[0, 0, 0], &[]).is_err());
        assert!(Pdag::new(2, &[(0, 1)], &[(1, 0)]).is_err());
    }

    #[test]
    fn key_round_trips_to_the_cpdag() {
        let d = Dag::from_edges(4, &[(0, 1), (2, 1), (1, 3)]).unwrap();
        let key = mec_key(&d);
        assert_eq!(key.cpdag(), cpdag(&d));
        assert_eq!(key.v_structures(), vec![(0, 1, 2)]);
        // R1 orients 1 → 3 after the v-structure.
        assert!(cpdag(&d).is_directed(1, 3));
    }
}
