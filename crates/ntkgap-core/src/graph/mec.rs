//! Members of a Markov equivalence class, given its CPDAG: exact enumeration (with a cap),
//! counting, and seeded sampling.
//!
//! A *member* (consistent extension, Dor & Tarsi 1992) of a PDAG is a DAG with the same
//! skeleton, every directed edge of the PDAG, and exactly the PDAG's v-structures.
//!
//! - Enumeration: depth-first; orient one undirected edge each way and close under Meek's
//!   rules. For a CPDAG (or any maximally oriented PDAG) both choices always extend (Meek 1995),
//!   so the search never dead-ends and costs O(members · closure). Every leaf is re-checked
//!   (acyclic, same v-structures), so a PDAG that is not a CPDAG still yields only true members.
//! - Counting and sampling: product over the undirected chain components of their acyclic moral
//!   orientations, counted by rooting (see `amo.rs`, He, Jia & Yu 2015). Sampling draws each
//!   component's source with probability proportional to its rooted count, which is exactly
//!   uniform over the class. For inputs that are not chain-graph CPDAGs, counting falls back to
//!   the enumeration search and sampling to a randomized search (valid members, not uniform).
//!
//! Known gaps: [`count_mec`] also answers `None` when a dense non-clique component exhausts the
//! memo budget (2^20 subsets) — never seen for Corr2Cause-sized graphs.

use rand::Rng;

use super::amo::{is_chain_cpdag, undirected_components, AmoCounter};
use super::cpdag::Pdag;
use super::dag::{full_set, Dag};

/// DAGs of a Markov equivalence class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MecMembers {
    /// The members found, in the search's deterministic order.
    pub dags: Vec<Dag>,
    /// True when `dags` is the whole class; false when the cap cut the search.
    pub exhaustive: bool,
}

/// All members of the class of `cpdag`, at most `cap` of them (`exhaustive` is false when more
/// exist). Deterministic order.
pub fn enumerate_mec(cpdag: &Pdag, cap: usize) -> MecMembers {
    let mut search = Search { target: cpdag.v_structures(), cap, found: 0, dags: Vec::new(), keep: true };
    let complete = search.visit(cpdag.clone());
    MecMembers { dags: search.dags, exhaustive: complete }
}

/// The number of members of the class of `cpdag`, or `None` when it exceeds `cap` (or, for a
/// dense component, cannot be established within the memo budget — see the module docs).
pub fn count_mec(cpdag: &Pdag, cap: u64) -> Option<u64> {
    if !is_chain_cpdag(cpdag) {
        let capped = usize::try_from(cap).unwrap_or(usize::MAX);
        let mut search = Search { target: cpdag.v_structures(), cap: capped, found: 0, dags: Vec::new(), keep: false };
        return search.visit(cpdag.clone()).then_some(search.found as u64);
    }
    let (_, undirected) = cpdag.parts();
    let mut counter = AmoCounter::new(undirected, u128::from(cap));
    let mut product = 1u128;
    for comp in undirected_components(undirected, full_set(cpdag.n())) {
        let count = counter.count(comp);
        product = counter.mul(product, count);
        if counter.gave_up || product > u128::from(cap) {
            return None;
        }
    }
    u64::try_from(product).ok()
}

/// `k` members of the class of `cpdag`, drawn independently (with replacement) from the seeded
/// `rng`. Exactly uniform for CPDAGs whose class has fewer than 2^127 members and whose
/// components fit the memo budget; otherwise valid members drawn by a randomized search
/// ("uniform-ish"). Empty when the class is empty (a PDAG with no consistent extension).
pub fn sample_mec(cpdag: &Pdag, k: usize, rng: &mut impl Rng) -> Vec<Dag> {
    if !is_chain_cpdag(cpdag) {
        return sample_by_search(cpdag, k, rng);
    }
    let (directed, undirected) = cpdag.parts();
    let comps = undirected_components(undirected, full_set(cpdag.n()));
    let mut counter = AmoCounter::new(undirected, u128::MAX / 2);
    let mut out = Vec::with_capacity(k);
    for _ in 0..k {
        let mut parents = directed.to_vec();
        for &comp in &comps {
            counter.sample(comp, &mut parents, rng);
        }
        match Dag::from_parent_sets(parents) {
            Ok(dag) => out.push(dag),
            Err(_) => return sample_by_search(cpdag, k, rng),
        }
    }
    out
}

/// Random depth-first search: orient a random undirected edge a random way, close, repeat;
/// restart on a dead end. Gives up (returns what it has) after `50 · (k + 1)` dead ends.
fn sample_by_search(pdag: &Pdag, k: usize, rng: &mut impl Rng) -> Vec<Dag> {
    let target = pdag.v_structures();
    let mut out = Vec::with_capacity(k);
    let mut dead_ends = 0usize;
    while out.len() < k && dead_ends < 50 * (k + 1) {
        let mut current = pdag.clone();
        loop {
            let edges = current.undirected_edges();
            if edges.is_empty() {
                match member(&current, &target) {
                    Some(dag) => out.push(dag),
                    None => dead_ends += 1,
                }
                break;
            }
            let (a, b) = edges[rng.random_range(0..edges.len())];
            let (from, to) = if rng.random::<bool>() { (a, b) } else { (b, a) };
            current.orient(from, to);
            current.meek_closure();
        }
    }
    out
}

/// The DAG of a fully directed PDAG, if it is acyclic and has exactly the `target` v-structures.
fn member(pdag: &Pdag, target: &[(usize, usize, usize)]) -> Option<Dag> {
    let dag = Dag::from_parent_sets(pdag.parts().0.to_vec()).ok()?;
    (dag.v_structures() == target).then_some(dag)
}

/// Depth-first enumeration state.
struct Search {
    target: Vec<(usize, usize, usize)>,
    cap: usize,
    found: usize,
    dags: Vec<Dag>,
    keep: bool,
}

impl Search {
    /// Visit every member below `pdag`; false once more than `cap` members were seen.
    fn visit(&mut self, pdag: Pdag) -> bool {
        let Some(&(a, b)) = pdag.undirected_edges().first() else {
            if let Some(dag) = member(&pdag, &self.target) {
                if self.found == self.cap {
                    return false;
                }
                self.found += 1;
                if self.keep {
                    self.dags.push(dag);
                }
            }
            return true;
        };
        for (from, to) in [(a, b), (b, a)] {
            let mut next = pdag.clone();
            next.orient(from, to);
            next.meek_closure();
            if !self.visit(next) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::cpdag::cpdag;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn chain_class_has_three_members() {
        let chain = Dag::from_edges(3, &[(0, 1), (1, 2)]).unwrap();
        let members = enumerate_mec(&cpdag(&chain), 100);
        assert!(members.exhaustive);
        assert_eq!(members.dags.len(), 3);
        assert!(members.dags.contains(&chain));
        assert_eq!(count_mec(&cpdag(&chain), 100), Some(3));
        assert_eq!(count_mec(&cpdag(&chain), 2), None);
        let capped = enumerate_mec(&cpdag(&chain), 2);
        assert!(!capped.exhaustive);
        assert_eq!(capped.dags.len(), 2);
    }

    #[test]
    fn complete_graph_class_is_all_orders() {
        let edges: Vec<(usize, usize)> = (0..5).flat_map(|a| (a + 1..5).map(move |b| (a, b))).collect();
        let d = Dag::from_edges(5, &edges).unwrap();
        assert_eq!(count_mec(&cpdag(&d), u64::MAX), Some(120));
        assert_eq!(enumerate_mec(&cpdag(&d), 1000).dags.len(), 120);
        // 30 nodes complete: 30! members, beyond u64.
        let big: Vec<(usize, usize)> = (0..30).flat_map(|a| (a + 1..30).map(move |b| (a, b))).collect();
        let big = Dag::from_edges(30, &big).unwrap();
        assert_eq!(count_mec(&cpdag(&big), u64::MAX), None);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let samples = sample_mec(&cpdag(&big), 3, &mut rng);
        assert_eq!(samples.len(), 3);
        assert!(samples.iter().all(|s| s.num_edges() == 435));
    }

    #[test]
    fn non_cpdag_input_still_gives_true_members() {
        // 0 → 1 — 2 with 0, 2 non-adjacent is not closed; its members must orient 1 → 2.
        let p = Pdag::new(3, &[(0, 1)], &[(1, 2)]).unwrap();
        let members = enumerate_mec(&p, 10);
        assert_eq!(members.dags, vec![Dag::from_edges(3, &[(0, 1), (1, 2)]).unwrap()]);
        assert_eq!(count_mec(&p, 10), Some(1));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(sample_mec(&p, 2, &mut rng).len(), 2);
        // An undirected 4-cycle has no member without a v-structure.
        let square = Pdag::new(4, &[], &[(0, 1), (1, 2), (2, 3), (0, 3)]).unwrap();
        assert_eq!(enumerate_mec(&square, 100).dags.len(), 0);
        assert_eq!(count_mec(&square, 100), Some(0));
        assert!(sample_mec(&square, 3, &mut rng).is_empty());
    }
}
