//! Corr2Cause premises: which d-separation statements a premise lists, their exact wording, and
//! how to recover the Markov equivalence class from them.
//!
//! Wording follows the original benchmark (Jin et al., arXiv 2306.05836,
//! `code/data_verbalize.py`, `symbol2nli`):
//!
//! ```text
//! Suppose there is a closed system of {n} variables, {Z, Y and X}. All the statistical
//! relations among these {n} variables are as follows: {correlations} However, {CI statements}
//! ```
//!
//! * a correlation `A correlates with B.` for every pair (i < j, index order) that is **not**
//!   unconditionally d-separated;
//! * a CI statement `A is independent of B.` (empty conditioning set) or
//!   `A and B are independent given C and D.`, ordered as the original's `sorted([i, j, set])`:
//!   by pair, then by the conditioning set's ascending index list compared lexicographically
//!   (`{}` < `{2}` < `{2,3}` < `{3}`);
//! * ` However, ` joins the two parts only when both are non-empty (as in the original: with no
//!   correlations the CI statements follow the colon directly).
//!
//! Which conditioning sets are listed ([`CiPolicy`], chosen by [`ci_policy_for`]):
//! * n ≤ 8 — [`CiPolicy::AllSets`]: every Z ⊆ V∖{x,y} with x ⟂ y | Z (the original's full list);
//! * 9 ≤ n ≤ 15 — [`CiPolicy::MaxSetSize`]`(3)`: every separating Z with |Z| ≤ 3;
//! * n ≥ 16 — [`CiPolicy::Neighbourhood`]: the separating sets among ∅, pa(x)∖{y}, pa(y)∖{x},
//!   adj(x)∖{y} and adj(y)∖{x}.
//!
//! **MEC guarantee.** Restricted policies could leave a non-adjacent pair without any listed
//! separating set, and then the premise would no longer determine the MEC. So for every
//! non-adjacent pair (x, y) with no listed separator we add pa(v), where v is whichever of the two
//! is not an ancestor of the other (v = y unless y is an ancestor of x): by the local Markov
//! property pa(v) separates v from every non-descendant. With at least one true separating set
//! per non-adjacent pair, [`Premise::cpdag`] recovers the CPDAG exactly (PC-style: a collider c of
//! a–c–b is in no separating set of (a, b), a non-collider is in all of them).
//!
//! Known gap: the restricted policies are our reading of the paper's one-sentence description
//! ("sets up to size 3", "neighbourhood-based"); its generator is not public.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::graph::{d_separated, enumerate_mec, Dag, Pdag};

use super::names::{join_list, names_of_set, variable_name};

/// Which conditioning sets a premise lists for each pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiPolicy {
    /// Every separating set (2^(n−2) candidates per pair; the original benchmark).
    AllSets,
    /// Every separating set of at most this many variables.
    MaxSetSize(usize),
    /// Separating sets among ∅, the parents and the neighbours of either variable.
    Neighbourhood,
}

/// The policy used for an `n`-variable system: all sets for n ≤ 8, sets of size ≤ 3 for
/// 9 ≤ n ≤ 15, neighbourhood-based sets above.
pub fn ci_policy_for(n: usize) -> CiPolicy {
    match n {
        0..=8 => CiPolicy::AllSets,
        9..=15 => CiPolicy::MaxSetSize(3),
        _ => CiPolicy::Neighbourhood,
    }
}

/// The statistical facts a premise states, by node index (names follow
/// [`variable_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Premise {
    /// Number of variables.
    pub n: usize,
    /// Correlated pairs `(i, j)`, in text order (generated premises: i < j, index order).
    pub correlations: Vec<(usize, usize)>,
    /// CI statements `(i, j, conditioning set as a bitset)`, in text order.
    pub independences: Vec<(usize, usize, u64)>,
}

/// Compare two conditioning sets as the original does: ascending index lists, lexicographically.
pub(crate) fn cmp_conditioning_sets(a: u64, b: u64) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a == 0, b == 0) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let (ia, ib) = (a.trailing_zeros(), b.trailing_zeros());
        if ia != ib {
            return ia.cmp(&ib);
        }
        a &= a - 1;
        b &= b - 1;
    }
}

fn bit(i: usize) -> u64 {
    1u64 << i
}

/// All subsets of `rest` with at most `max_size` elements.
fn subsets_up_to(rest: u64, max_size: usize, out: &mut Vec<u64>) {
    fn go(remaining: u64, chosen: u64, left: usize, out: &mut Vec<u64>) {
        out.push(chosen);
        if left == 0 {
            return;
        }
        let mut r = remaining;
        while r != 0 {
            let low = r & r.wrapping_neg();
            r &= r - 1;
            go(r, chosen | low, left - 1, out);
        }
    }
    go(rest, 0, max_size, out);
}

/// Candidate conditioning sets for the pair (x, y) under `policy`.
fn candidate_sets(dag: &Dag, x: usize, y: usize, policy: CiPolicy) -> Vec<u64> {
    let n = dag.n();
    let all = if n >= 64 { u64::MAX } else { bit(n) - 1 };
    let rest = all & !bit(x) & !bit(y);
    let mut sets = Vec::new();
    match policy {
        CiPolicy::AllSets => {
            // Every submask of `rest`, including ∅.
            let mut s = rest;
            loop {
                sets.push(s);
                if s == 0 {
                    break;
                }
                s = (s - 1) & rest;
            }
        }
        CiPolicy::MaxSetSize(k) => subsets_up_to(rest, k, &mut sets),
        CiPolicy::Neighbourhood => {
            let skeleton = dag.skeleton();
            for s in [0, dag.parents(x), dag.parents(y), skeleton[x], skeleton[y]] {
                sets.push(s & rest);
            }
        }
    }
    sets.sort_unstable_by(|a, b| cmp_conditioning_sets(*a, *b));
    sets.dedup();
    sets
}

/// The premise of `dag` under `policy` (see the module docs for the listed sets and the MEC
/// guarantee). Cost: one d-separation test per candidate set and pair.
pub fn premise_from_dag(dag: &Dag, policy: CiPolicy) -> Premise {
    let n = dag.n();
    let mut correlations = Vec::new();
    let mut independences = Vec::new();
    for x in 0..n {
        for y in x + 1..n {
            let before = independences.len();
            for z in candidate_sets(dag, x, y, policy) {
                if d_separated(dag, x, y, z) {
                    independences.push((x, y, z));
                }
            }
            let listed = &independences[before..];
            if !listed.iter().any(|&(_, _, z)| z == 0) {
                correlations.push((x, y));
            }
            if listed.is_empty() && !dag.adjacent(x, y) {
                let v = if dag.is_ancestor(y, x) { x } else { y };
                independences.push((x, y, dag.parents(v) & !bit(x) & !bit(y)));
            }
        }
    }
    Premise { n, correlations, independences }
}

impl Premise {
    /// The premise text, exactly as the original benchmark words it.
    pub fn text(&self) -> String {
        let n = self.n;
        let name = |i: usize| variable_name(i, n);
        let all: Vec<String> = (0..n).map(name).collect();
        let mut text = format!(
            "Suppose there is a closed system of {n} variables, {}. All the statistical relations \
             among these {n} variables are as follows: ",
            join_list(&all)
        );
        let corrs: Vec<String> =
            self.correlations.iter().map(|&(i, j)| format!("{} correlates with {}.", name(i), name(j))).collect();
        let cis: Vec<String> = self
            .independences
            .iter()
            .map(|&(i, j, z)| {
                if z == 0 {
                    format!("{} is independent of {}.", name(i), name(j))
                } else {
                    format!("{} and {} are independent given {}.", name(i), name(j), join_list(&names_of_set(z, n)))
                }
            })
            .collect();
        text.push_str(&corrs.join(" "));
        if !corrs.is_empty() && !cis.is_empty() {
            text.push_str(" However, ");
        }
        text.push_str(&cis.join(" "));
        text
    }

    /// Recover the Markov equivalence class (as its CPDAG) from the listed statements, PC-style:
    /// a pair is adjacent iff no listed statement separates it; a non-adjacent a, b with common
    /// neighbour c form the v-structure a→c←b iff c is in none of the listed separating sets of
    /// (a, b); then Meek's rules close the orientation.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `premise`) when the statements are inconsistent: an index
    /// out of range, a pair both correlated and unconditionally independent (or neither), a
    /// common neighbour in some but not all separating sets, v-structures no DAG has, or a listed
    /// statement that fails in the recovered class.
    pub fn cpdag(&self) -> Result<Pdag> {
        let n = self.n;
        let (separators, correlated) = self.checked_statements()?;
        let mut skeleton = vec![0u64; n];
        for a in 0..n {
            for b in a + 1..n {
                if separators[a * n + b].is_empty() {
                    skeleton[a] |= bit(b);
                    skeleton[b] |= bit(a);
                }
            }
        }
        let v_structures = v_structures(n, &skeleton, &separators)?;
        let pdag = Pdag::from_skeleton_and_v_structures(n, &skeleton, &v_structures)
            .map_err(|e| premise_error(format!("the statements describe no DAG ({e})")))?;
        self.check_against_class(&pdag, &correlated)?;
        Ok(pdag)
    }

    /// Validate indices and build, per unordered pair `a * n + b` (a < b), the listed separating
    /// sets and whether the pair is said to correlate.
    fn checked_statements(&self) -> Result<(Vec<Vec<u64>>, Vec<bool>)> {
        let n = self.n;
        if n == 0 || n > crate::graph::MAX_NODES {
            return Err(premise_error(format!("{n} variables (expected 1 to {})", crate::graph::MAX_NODES)));
        }
        let all = if n >= 64 { u64::MAX } else { bit(n) - 1 };
        let pair = |i: usize, j: usize| -> Result<usize> {
            if i >= n || j >= n || i == j {
                return Err(premise_error(format!("statement about nodes {i} and {j} in a {n}-variable system")));
            }
            Ok(i.min(j) * n + i.max(j))
        };
        let mut separators = vec![Vec::new(); n * n];
        let mut correlated = vec![false; n * n];
        for &(i, j) in &self.correlations {
            correlated[pair(i, j)?] = true;
        }
        for &(i, j, z) in &self.independences {
            let p = pair(i, j)?;
            if z & !all != 0 || z & (bit(i) | bit(j)) != 0 {
                return Err(premise_error(format!("conditioning set {z:#x} is not a set of other variables")));
            }
            separators[p].push(z);
        }
        for a in 0..n {
            for b in a + 1..n {
                let independent = separators[a * n + b].contains(&0);
                if independent == correlated[a * n + b] {
                    let how = if independent {
                        "both correlated and independent"
                    } else {
                        "neither correlated nor independent"
                    };
                    return Err(premise_error(format!(
                        "{} and {} are {how}",
                        variable_name(a, n),
                        variable_name(b, n)
                    )));
                }
            }
        }
        Ok((separators, correlated))
    }

    /// Every listed statement must hold in (one member of) the recovered class; d-separation
    /// statements are the same for all members.
    fn check_against_class(&self, pdag: &Pdag, correlated: &[bool]) -> Result<()> {
        let n = self.n;
        let members = enumerate_mec(pdag, 1);
        let Some(dag) = members.dags.first() else {
            return Err(premise_error("the statements describe no DAG (no consistent extension)"));
        };
        if crate::graph::cpdag(dag) != *pdag {
            return Err(premise_error(
                "the statements describe no DAG (its v-structures are not closed under Meek's rules)",
            ));
        }
        for a in 0..n {
            for b in a + 1..n {
                if correlated[a * n + b] == d_separated(dag, a, b, 0) {
                    return Err(premise_error(format!(
                        "the correlation statement about {} and {} contradicts the recovered class",
                        variable_name(a, n),
                        variable_name(b, n)
                    )));
                }
            }
        }
        for &(i, j, z) in &self.independences {
            if !d_separated(dag, i, j, z) {
                return Err(premise_error(format!(
                    "{} and {} are not independent given {{{}}} in the recovered class",
                    variable_name(i, n),
                    variable_name(j, n),
                    names_of_set(z, n).join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// v-structures a→c←b (a < b non-adjacent, c a common neighbour) whose c lies in none of the
/// listed separating sets of (a, b).
fn v_structures(n: usize, skeleton: &[u64], separators: &[Vec<u64>]) -> Result<Vec<(usize, usize, usize)>> {
    let mut found = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let seps = &separators[a * n + b];
            if seps.is_empty() {
                continue;
            }
            let mut common = skeleton[a] & skeleton[b];
            while common != 0 {
                let c = common.trailing_zeros() as usize;
                common &= common - 1;
                let containing = seps.iter().filter(|&&z| z & bit(c) != 0).count();
                if containing == 0 {
                    found.push((a, c, b));
                } else if containing < seps.len() {
                    let name = |v| variable_name(v, n);
                    return Err(premise_error(format!(
                        "{} is in some but not all listed separating sets of {} and {}",
                        name(c),
                        name(a),
                        name(b)
                    )));
                }
            }
        }
    }
    Ok(found)
}

pub(crate) fn premise_error(reason: impl Into<String>) -> Error {
    Error::invalid("premise", reason)
}
