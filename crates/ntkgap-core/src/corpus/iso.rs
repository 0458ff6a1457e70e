//! Markov equivalence classes up to variable relabelling, for the exhaustive Corr2Cause corpus
//! (n ≤ 6).
//!
//! The original benchmark (`code/data_gen.cpp` + `data_verbalize.py`, `generate_MEC`) emits one
//! MEC per class of relabellings: two MECs whose member DAGs are isomorphic yield one premise.
//! We reproduce that with a canonical form of the CPDAG under all n! relabellings:
//!
//! * a CPDAG on n ≤ 8 nodes is encoded in 2 bits per pair (none, i→j, j→i, i—j), pairs (i < j) in
//!   index order — a `u64` [`MecPattern::code`];
//! * the canonical code is the smallest code over the relabellings that respect a
//!   relabelling-invariant ordering of the nodes (directed in/out degree and undirected degree,
//!   refined twice by the neighbours' values), so only permutations inside equal-invariant
//!   cells are tried (720 only for edge-transitive patterns such as the empty graph);
//! * every MEC has a member whose topological order is the identity, so the classes are found by
//!   walking the 2^(n(n−1)/2) "upper-triangular" DAGs (32,768 for n = 6) instead of all labelled
//!   DAGs;
//! * the labelled MECs of a class (its orbit, n!/|Aut| of them) are the distinct relabellings.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::graph::{cpdag, Dag, Pdag};

/// Largest n for which patterns fit the 2-bit `u64` encoding.
pub const MAX_PATTERN_NODES: usize = 8;

/// A CPDAG as small bitsets: `out[i]` holds j for i→j, `undirected[i]` holds j for i—j.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MecPattern {
    n: usize,
    out: [u8; MAX_PATTERN_NODES],
    undirected: [u8; MAX_PATTERN_NODES],
}

impl MecPattern {
    /// The pattern of a CPDAG.
    ///
    /// # Errors
    /// [`Error::Graph`] when the CPDAG has more than [`MAX_PATTERN_NODES`] nodes.
    pub fn from_pdag(pdag: &Pdag) -> Result<Self> {
        let n = pdag.n();
        if n > MAX_PATTERN_NODES {
            return Err(Error::Graph(format!("relabelling classes need at most {MAX_PATTERN_NODES} nodes, got {n}")));
        }
        let mut pattern = MecPattern { n, out: [0; MAX_PATTERN_NODES], undirected: [0; MAX_PATTERN_NODES] };
        for (a, b) in pdag.directed_edges() {
            pattern.out[a] |= 1 << b;
        }
        for (a, b) in pdag.undirected_edges() {
            pattern.undirected[a] |= 1 << b;
            pattern.undirected[b] |= 1 << a;
        }
        Ok(pattern)
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The labelled encoding: 2 bits per pair (i < j) in index order — 0 none, 1 i→j, 2 j→i,
    /// 3 undirected.
    pub fn code(&self) -> u64 {
        let mut code = 0u64;
        for i in 0..self.n {
            for j in i + 1..self.n {
                let v = if self.undirected[i] >> j & 1 == 1 {
                    3
                } else if self.out[i] >> j & 1 == 1 {
                    1
                } else if self.out[j] >> i & 1 == 1 {
                    2
                } else {
                    0
                };
                code = code << 2 | v;
            }
        }
        code
    }

    /// The pattern with node v renamed `perm[v]` (`perm` must be a permutation of 0..n).
    pub fn permuted(&self, perm: &[usize]) -> MecPattern {
        let mut p = MecPattern { n: self.n, out: [0; MAX_PATTERN_NODES], undirected: [0; MAX_PATTERN_NODES] };
        for v in 0..self.n {
            p.out[perm[v]] = map_bits(self.out[v], perm);
            p.undirected[perm[v]] = map_bits(self.undirected[v], perm);
        }
        p
    }

    /// The canonical code: the smallest [`code`](Self::code) over all invariant-respecting
    /// relabellings. Two patterns are relabellings of each other iff their canonical codes match.
    pub fn canonical_code(&self) -> u64 {
        let cells = self.invariant_cells();
        let mut best = u64::MAX;
        let mut perm = vec![usize::MAX; self.n];
        let mut used = 0u8;
        self.search(&cells, 0, &mut perm, &mut used, &mut best);
        best
    }

    /// `cell_of_position[p]` = the cell whose nodes may take position p; plus each node's cell.
    fn invariant_cells(&self) -> (Vec<usize>, Vec<usize>) {
        let n = self.n;
        let mut label: Vec<u64> = (0..n)
            .map(|v| {
                let indeg = (0..n).filter(|&u| self.out[u] >> v & 1 == 1).count() as u64;
                (indeg << 16) | (u64::from(self.out[v].count_ones()) << 8) | u64::from(self.undirected[v].count_ones())
            })
            .collect();
        for _ in 0..2 {
            let keys: Vec<Vec<u64>> = (0..n).map(|v| self.refined_key(v, &label)).collect();
            let mut distinct: Vec<&Vec<u64>> = keys.iter().collect();
            distinct.sort();
            distinct.dedup();
            label = keys.iter().map(|k| distinct.binary_search(&k).unwrap_or(0) as u64).collect();
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&v| label[v]);
        let cell_of_position = order.iter().map(|&v| label[v] as usize).collect();
        (cell_of_position, label.iter().map(|&l| l as usize).collect())
    }

    fn refined_key(&self, v: usize, label: &[u64]) -> Vec<u64> {
        let mut key: Vec<u64> = (0..self.n)
            .filter_map(|u| {
                let kind = if self.undirected[v] >> u & 1 == 1 {
                    1
                } else if self.out[v] >> u & 1 == 1 {
                    2
                } else if self.out[u] >> v & 1 == 1 {
                    3
                } else {
                    return None;
                };
                Some(kind << 32 | label[u])
            })
            .collect();
        key.sort_unstable();
        key.insert(0, label[v]);
        key
    }

    fn search(
        &self,
        cells: &(Vec<usize>, Vec<usize>),
        position: usize,
        perm: &mut [usize],
        used: &mut u8,
        best: &mut u64,
    ) {
        if position == self.n {
            *best = (*best).min(self.permuted(perm).code());
            return;
        }
        for v in 0..self.n {
            if *used >> v & 1 == 0 && cells.1[v] == cells.0[position] {
                *used |= 1 << v;
                perm[v] = position;
                self.search(cells, position + 1, perm, used, best);
                *used &= !(1 << v);
            }
        }
    }
}

fn map_bits(bits: u8, perm: &[usize]) -> u8 {
    (0..perm.len()).filter(|&u| bits >> u & 1 == 1).fold(0u8, |acc, u| acc | 1 << perm[u])
}

/// `dag` with node v renamed `perm[v]`.
///
/// # Errors
/// [`Error::Graph`] when `perm` is not a permutation of the DAG's nodes.
pub(crate) fn relabel_dag(dag: &Dag, perm: &[usize]) -> Result<Dag> {
    let n = dag.n();
    if perm.len() != n || perm.iter().collect::<HashSet<_>>().len() != n || perm.iter().any(|&p| p >= n) {
        return Err(Error::Graph(format!("{perm:?} is not a permutation of {n} nodes")));
    }
    let mut parents = vec![0u64; n];
    for v in 0..n {
        let pa = dag.parents(v);
        parents[perm[v]] = (0..n).filter(|&u| pa >> u & 1 == 1).fold(0u64, |acc, u| acc | 1u64 << perm[u]);
    }
    Dag::from_parent_sets(parents)
}

/// One class of MECs under relabelling.
#[derive(Debug, Clone)]
pub struct IsoClass {
    /// A member DAG of the class's representative MEC: the first upper-triangular DAG found (its
    /// topological order is the identity, as in the original's canonical graphs).
    pub dag: Dag,
    /// The representative MEC's pattern.
    pub pattern: MecPattern,
    /// The canonical code shared by every MEC of the class.
    pub canonical: u64,
}

/// All classes of n-node MECs under relabelling, in order of discovery (upper-triangular DAGs
/// by increasing edge mask), each with a representative.
///
/// # Errors
/// [`Error::Graph`] when n is 0 or above [`MAX_PATTERN_NODES`].
pub fn iso_classes(n: usize) -> Result<Vec<IsoClass>> {
    if n == 0 || n > MAX_PATTERN_NODES {
        return Err(Error::Graph(format!("relabelling classes need 1 to {MAX_PATTERN_NODES} nodes, got {n}")));
    }
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
    let mut seen = HashSet::new();
    let mut classes = Vec::new();
    for mask in 0u64..1 << pairs.len() {
        let edges: Vec<(usize, usize)> =
            pairs.iter().enumerate().filter(|(k, _)| mask >> k & 1 == 1).map(|(_, &e)| e).collect();
        let dag = Dag::from_edges(n, &edges)?;
        let pattern = MecPattern::from_pdag(&cpdag(&dag))?;
        let canonical = pattern.canonical_code();
        if seen.insert(canonical) {
            classes.push(IsoClass { dag, pattern, canonical });
        }
    }
    Ok(classes)
}

/// Every permutation of 0..n in lexicographic order.
pub(crate) fn all_permutations(n: usize) -> Vec<Vec<usize>> {
    let mut perm: Vec<usize> = (0..n).collect();
    let mut out = vec![perm.clone()];
    loop {
        let Some(i) = (1..n).rev().find(|&i| perm[i - 1] < perm[i]) else { return out };
        let j = (i..n).rev().find(|&j| perm[j] > perm[i - 1]).unwrap_or(i);
        perm.swap(i - 1, j);
        perm[i..].reverse();
        out.push(perm.clone());
    }
}

/// Indices into `perms` of the relabellings that give the distinct labelled MECs of `pattern`'s
/// class (the first permutation producing each one), so the orbit size is the result's length.
pub(crate) fn orbit(pattern: &MecPattern, perms: &[Vec<usize>]) -> Vec<u32> {
    let mut seen = HashSet::new();
    perms.iter().enumerate().filter(|(_, p)| seen.insert(pattern.permuted(p).code())).map(|(k, _)| k as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{mec_key, random_dag};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Distinct labelled MECs by brute force over all 3^(n(n−1)/2) orientations.
    fn labelled_mecs_brute_force(n: usize) -> usize {
        let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
        let mut keys = HashSet::new();
        for code in 0..3usize.pow(pairs.len() as u32) {
            let (mut c, mut edges) = (code, Vec::new());
            for &(i, j) in &pairs {
                match c % 3 {
                    1 => edges.push((i, j)),
                    2 => edges.push((j, i)),
                    _ => {}
                }
                c /= 3;
            }
            if let Ok(dag) = Dag::from_edges(n, &edges) {
                keys.insert(mec_key(&dag));
            }
        }
        keys.len()
    }

    #[test]
    fn orbits_cover_every_labelled_mec() {
        for n in 1..=5 {
            let perms = all_permutations(n);
            let classes = iso_classes(n).unwrap();
            let labelled: usize = classes.iter().map(|c| orbit(&c.pattern, &perms).len()).sum();
            assert_eq!(labelled, labelled_mecs_brute_force(n), "n={n}");
        }
    }

    #[test]
    fn canonical_code_is_relabelling_invariant_and_separating() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [4, 6] {
            let perms = all_permutations(n);
            let mut patterns = Vec::new();
            for _ in 0..40 {
                let dag = random_dag(n, rng.random_range(0.1..0.8), &mut rng).unwrap();
                let pattern = MecPattern::from_pdag(&cpdag(&dag)).unwrap();
                let perm = &perms[rng.random_range(0..perms.len())];
                let moved = MecPattern::from_pdag(&cpdag(&relabel_dag(&dag, perm).unwrap())).unwrap();
                assert_eq!(moved, pattern.permuted(perm), "relabelling commutes with the CPDAG");
                assert_eq!(moved.canonical_code(), pattern.canonical_code());
                patterns.push(pattern);
            }
            // Equal canonical codes exactly when some relabelling maps one pattern onto the other
            // (decided by trying all n! relabellings).
            for a in &patterns {
                for b in &patterns {
                    let related = perms.iter().any(|p| a.permuted(p).code() == b.code());
                    assert_eq!(a.canonical_code() == b.canonical_code(), related, "n={n}");
                }
            }
        }
    }

    #[test]
    fn permutations_are_lexicographic_and_complete() {
        let perms = all_permutations(4);
        assert_eq!(perms.len(), 24);
        assert!(perms.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(perms[0], [0, 1, 2, 3]);
        assert!(relabel_dag(&Dag::empty(3).unwrap(), &[0, 0, 1]).is_err());
    }
}
