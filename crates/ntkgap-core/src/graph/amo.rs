//! Acyclic moral orientations (AMOs) of the undirected chain components of a CPDAG: counting
//! and uniform sampling by rooting (He, Jia & Yu 2015, "Counting and exploring sizes of Markov
//! equivalence classes of directed acyclic graphs", JMLR 16).
//!
//! A connected chordal graph G has #AMO(G) = Σ_v #AMO(G rooted at v): every AMO has exactly one
//! source; rooting orients every edge at v away from v, Meek's rules then force more edges, and
//! what stays undirected splits into chordal components whose AMOs combine freely. Counts are
//! memoized by node subset and saturate at a cap; complete components use m! directly.
//!
//! The MEC of a CPDAG is the product of its components' AMOs (Andersson, Madigan & Perlman
//! 1997). [`is_chain_cpdag`] checks the conditions that make this product exact; callers fall
//! back to a generic search otherwise.
//!
//! Known gaps: dense chordal components that are not cliques can exhaust the memo budget
//! ([`MEMO_BUDGET`] subsets); the caller then reports "unknown" or samples heuristically.

use std::collections::HashMap;

use rand::Rng;

use super::cpdag::Pdag;
use super::dag::{bits, parent_sets_acyclic};

/// Most node subsets whose AMO count is memoized before giving up.
pub(super) const MEMO_BUDGET: usize = 1 << 20;

/// Connected components (as bitsets, ≥ 2 nodes each) of the undirected graph `undirected`
/// restricted to `set`.
pub(super) fn undirected_components(undirected: &[u64], set: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut left = set;
    while left != 0 {
        let start = left & left.wrapping_neg();
        let mut comp = start;
        let mut frontier = start;
        while frontier != 0 {
            let next = bits(frontier).fold(0u64, |acc, v| acc | undirected[v]) & set & !comp;
            comp |= next;
            frontier = next;
        }
        left &= !comp;
        if comp.count_ones() >= 2 {
            out.push(comp);
        }
    }
    out
}

/// True when the graph `adjacency` restricted to `set` is chordal (maximum cardinality search:
/// the neighbours of each vertex visited before it must form a clique).
pub(super) fn is_chordal(adjacency: &[u64], set: u64) -> bool {
    let mut visited = 0u64;
    let mut weight: HashMap<usize, u32> = bits(set).map(|v| (v, 0)).collect();
    while visited != set {
        let Some(v) = bits(set & !visited).max_by_key(|v| (weight[v], std::cmp::Reverse(*v))) else {
            break;
        };
        let earlier = adjacency[v] & visited;
        if bits(earlier).any(|u| earlier & !adjacency[u] & !(1 << u) != 0) {
            return false;
        }
        visited |= 1 << v;
        for u in bits(adjacency[v] & set & !visited) {
            *weight.entry(u).or_default() += 1;
        }
    }
    true
}

/// True when the PDAG is a chain graph whose MEC is exactly the product of its undirected
/// components' AMOs: no directed edge inside a component, components acyclically ordered, every
/// component chordal, and no induced `a → b — c`.
pub(super) fn is_chain_cpdag(pdag: &Pdag) -> bool {
    let n = pdag.n();
    let (directed, undirected) = pdag.parts();
    let comps = undirected_components(undirected, if n >= 64 { u64::MAX } else { (1 << n) - 1 });
    let mut comp_of: Vec<usize> = (0..n).collect();
    for (i, &c) in comps.iter().enumerate() {
        bits(c).for_each(|v| comp_of[v] = n + i);
    }
    // Component-level graph: ids are compacted below 64 by ranking the distinct ids.
    let mut ids: Vec<usize> = comp_of.clone();
    ids.sort_unstable();
    ids.dedup();
    let rank = |id: usize| ids.binary_search(&id).unwrap_or(0);
    let mut comp_parents = vec![0u64; ids.len()];
    for b in 0..n {
        for a in bits(directed[b]) {
            if comp_of[a] == comp_of[b] {
                return false;
            }
            comp_parents[rank(comp_of[b])] |= 1 << rank(comp_of[a]);
            let adjacency_a = pdag.neighbours(a);
            if undirected[b] & !adjacency_a & !(1 << a) != 0 {
                return false;
            }
        }
    }
    parent_sets_acyclic(&comp_parents) && comps.iter().all(|&c| is_chordal(undirected, c))
}

/// Memoized AMO counter over one undirected graph, saturating at `cap + 1`.
pub(super) struct AmoCounter<'a> {
    undirected: &'a [u64],
    cap: u128,
    memo: HashMap<u64, u128>,
    /// Set once the memo budget is exhausted: counts are then meaningless.
    pub(super) gave_up: bool,
}

impl<'a> AmoCounter<'a> {
    /// A counter for the components of `undirected`; counts above `cap` read as `cap + 1`.
    pub(super) fn new(undirected: &'a [u64], cap: u128) -> Self {
        AmoCounter { undirected, cap: cap.min(u128::MAX - 1), memo: HashMap::new(), gave_up: false }
    }

    fn saturate(&self, x: Option<u128>) -> u128 {
        x.map_or(self.cap + 1, |v| v.min(self.cap + 1))
    }

    /// Product of `a` and `b`, saturated.
    pub(super) fn mul(&self, a: u128, b: u128) -> u128 {
        self.saturate(a.checked_mul(b))
    }

    /// The undirected components left after rooting the component `set` at `root` (orient
    /// every edge at root away from it, then Meek closure), plus the closed local PDAG.
    pub(super) fn rooted(&self, set: u64, root: usize) -> (Vec<u64>, Pdag) {
        let n = self.undirected.len();
        let und: Vec<u64> = (0..n).map(|v| if set & (1 << v) != 0 { self.undirected[v] & set } else { 0 }).collect();
        let mut local = Pdag::from_parts(vec![0; n], und);
        for w in bits(self.undirected[root] & set) {
            local.orient(root, w);
        }
        local.meek_closure();
        (undirected_components(local.parts().1, set), local)
    }

    fn is_clique(&self, set: u64) -> bool {
        bits(set).all(|v| self.undirected[v] & set == set & !(1 << v))
    }

    /// #AMO of the connected chordal component `set` (saturated).
    pub(super) fn count(&mut self, set: u64) -> u128 {
        let size = set.count_ones() as u128;
        if size <= 1 || self.gave_up {
            return 1;
        }
        if self.is_clique(set) {
            return (2..=size).fold(1u128, |acc, k| self.mul(acc, k));
        }
        if let Some(&c) = self.memo.get(&set) {
            return c;
        }
        if self.memo.len() >= MEMO_BUDGET {
            self.gave_up = true;
            return 1;
        }
        let mut total = 0u128;
        for root in bits(set) {
            let rooted = self.count_rooted(set, root);
            total = self.saturate(total.checked_add(rooted));
            if total > self.cap {
                break;
            }
        }
        self.memo.insert(set, total);
        total
    }

    /// #AMO of component `set` whose unique source is `root` (saturated).
    pub(super) fn count_rooted(&mut self, set: u64, root: usize) -> u128 {
        let (comps, _) = self.rooted(set, root);
        let mut product = 1u128;
        for c in comps {
            let count = self.count(c);
            product = self.mul(product, count);
            if product > self.cap {
                break;
            }
        }
        product
    }

    /// Orient the component `set` by a uniformly drawn AMO (exactly uniform while counts stay
    /// below the cap and the memo budget holds; otherwise roots are drawn uniformly), adding
    /// each oriented edge u → v as bit u of `parents[v]`.
    pub(super) fn sample(&mut self, set: u64, parents: &mut [u64], rng: &mut impl Rng) {
        if set.count_ones() <= 1 {
            return;
        }
        let roots: Vec<usize> = bits(set).collect();
        let weights: Vec<u128> = roots.iter().map(|&r| self.count_rooted(set, r)).collect();
        let total = weights.iter().try_fold(0u128, |acc, &w| acc.checked_add(w));
        let exact = !self.gave_up && total.is_some_and(|t| t > 0 && t <= self.cap);
        let root = match total {
            Some(t) if exact => {
                let mut draw = rng.random_range(0..t);
                let i = weights.iter().position(|&w| {
                    if draw < w {
                        true
                    } else {
                        draw -= w;
                        false
                    }
                });
                roots[i.unwrap_or(0)]
            }
            _ => roots[rng.random_range(0..roots.len())],
        };
        let (comps, local) = self.rooted(set, root);
        for v in bits(set) {
            parents[v] |= local.directed_parents(v);
        }
        for c in comps {
            self.sample(c, parents, rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undirected(n: usize, edges: &[(usize, usize)]) -> Vec<u64> {
        let mut adj = vec![0u64; n];
        for &(a, b) in edges {
            adj[a] |= 1 << b;
            adj[b] |= 1 << a;
        }
        adj
    }

    #[test]
    fn chordality() {
        let square = undirected(4, &[(0, 1), (1, 2), (2, 3), (3, 0)]);
        assert!(!is_chordal(&square, 0b1111));
        let chorded = undirected(4, &[(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)]);
        assert!(is_chordal(&chorded, 0b1111));
    }

    #[test]
    fn known_amo_counts() {
        // Path on m nodes: m AMOs (choose the source). Clique on m: m!. Star K_{1,3}: 4.
        let path = undirected(5, &[(0, 1), (1, 2), (2, 3), (3, 4)]);
        assert_eq!(AmoCounter::new(&path, u128::MAX).count(0b11111), 5);
        let star = undirected(4, &[(0, 1), (0, 2), (0, 3)]);
        assert_eq!(AmoCounter::new(&star, u128::MAX).count(0b1111), 4);
        let k4: Vec<(usize, usize)> = (0..4).flat_map(|a| (a + 1..4).map(move |b| (a, b))).collect();
        assert_eq!(AmoCounter::new(&undirected(4, &k4), u128::MAX).count(0b1111), 24);
        // Two triangles sharing an edge (diamond with chord): 6 + 6 − ... = 10 by brute force.
        let diamond = undirected(4, &[(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]);
        assert_eq!(AmoCounter::new(&diamond, u128::MAX).count(0b1111), 10);
        // Saturation.
        assert_eq!(AmoCounter::new(&undirected(4, &k4), 5).count(0b1111), 6);
    }
}
