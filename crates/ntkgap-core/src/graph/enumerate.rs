//! Exhaustive enumeration of every labelled DAG and every Markov equivalence class for n ≤ 6
//! (the original Corr2Cause range is n = 2..6).
//!
//! DAGs are generated depth-first by choosing node v's parent set after nodes 0..v−1 have
//! theirs: a set P closes a cycle iff it contains a descendant of v in the partial graph, so
//! the admissible P are exactly the subsets of "not v, not a descendant of v" — no rejection,
//! no allocation per DAG. Each DAG's Markov-equivalence key (skeleton + v-structures) is packed
//! into a `u128` (15 pair bits + 6 · 15 v-structure bits for n = 6) and counted in a hash map.
//!
//! The known counts (labelled DAGs, OEIS A003024: 1, 3, 25, 543, 29281, 3781503; MECs: 1, 2, 11,
//! 185, 8782, 1067825) are re-derived by the tests from an independent brute force over all
//! directed graphs for small n.
//!
//! Known gaps: single-threaded (the target machine has two shared cores).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use serde::Serialize;

use super::cpdag::{mec_key, MecKey};
use super::dag::{bits, full_set, Dag};
use crate::error::{Error, Result};

/// The largest node count [`for_each_dag`], [`enumerate_all`] and [`all_mecs`] accept.
pub const MAX_EXHAUSTIVE_NODES: usize = 6;

/// Counts of every labelled DAG and MEC on `nodes` nodes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnumerationSummary {
    /// The node count n.
    pub nodes: usize,
    /// Number of labelled DAGs on n nodes.
    pub dags: u64,
    /// Number of Markov equivalence classes.
    pub mecs: u64,
    /// Class size → number of classes of that size (ascending sizes).
    pub mec_size_histogram: BTreeMap<u64, u64>,
    /// Wall-clock seconds the enumeration took.
    pub seconds: f64,
}

fn check_exhaustive_nodes(n: usize) -> Result<()> {
    if n == 0 || n > MAX_EXHAUSTIVE_NODES {
        return Err(Error::invalid(
            "node count",
            format!("{n} is outside 1..={MAX_EXHAUSTIVE_NODES} (exhaustive enumeration grows super-exponentially)"),
        ));
    }
    Ok(())
}

/// Call `f` on every labelled DAG on `n` nodes, in a deterministic order (parent sets of node 0,
/// then node 1, … in increasing bitset order; the empty graph first).
///
/// # Errors
/// [`Error::InvalidArgument`] when `n` is outside 1..=6.
pub fn for_each_dag(n: usize, mut f: impl FnMut(&Dag)) -> Result<()> {
    check_exhaustive_nodes(n)?;
    let mut dag = Dag::empty(n)?;
    assign_parents(&mut dag, 0, &mut f);
    Ok(())
}

/// Choose parent sets for nodes `v..n` given those of `0..v`.
fn assign_parents(dag: &mut Dag, v: usize, f: &mut impl FnMut(&Dag)) {
    let n = dag.n;
    if v == n {
        f(dag);
        return;
    }
    // v and its descendants in the partial graph: choosing any of them as a parent of v would
    // close a cycle; every other choice keeps the graph acyclic.
    let forbidden = dag.descendants_within(1 << v, full_set(n));
    let allowed = full_set(n) & !forbidden;
    let mut subset = 0u64;
    loop {
        dag.parents[v] = subset;
        assign_parents(dag, v + 1, f);
        if subset == allowed {
            break;
        }
        subset = subset.wrapping_sub(allowed) & allowed;
    }
    dag.parents[v] = 0;
}

/// Index of the unordered pair a < b among the n(n−1)/2 pairs of n ≤ 6 nodes.
fn pair_index(a: usize, b: usize) -> u32 {
    // Row-major upper triangle of a 6 × 6 matrix; fixed layout independent of n.
    (a * (11 - a) / 2 + (b - a - 1)) as u32
}

/// Skeleton and v-structures of a DAG with n ≤ 6, packed: bit `pair(a, b)` for each edge,
/// bit `15 + 15·c + pair(a, b)` for each v-structure a → c ← b.
fn packed_key(parents: &[u64]) -> u128 {
    let mut key = 0u128;
    for (c, &p) in parents.iter().enumerate() {
        for a in bits(p) {
            let (lo, hi) = if a < c { (a, c) } else { (c, a) };
            key |= 1u128 << pair_index(lo, hi);
            for b in bits(p & !full_set(a + 1)) {
                let adjacent = (parents[a] >> b) & 1 != 0 || (parents[b] >> a) & 1 != 0;
                if !adjacent {
                    key |= 1u128 << (15 + 15 * c as u32 + pair_index(a, b));
                }
            }
        }
    }
    key
}

/// A fast multiplicative hasher for the packed `u128` keys (no HashDoS concern: keys are ours).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
}

type KeyMap<V> = HashMap<u128, V, BuildHasherDefault<KeyHasher>>;

/// Parent sets of n ≤ 6 nodes packed 8 bits each.
fn pack_parents(parents: &[u64]) -> u64 {
    parents.iter().enumerate().fold(0, |acc, (v, &p)| acc | (p << (8 * v)))
}

fn unpack_parents(n: usize, packed: u64) -> Vec<u64> {
    (0..n).map(|v| (packed >> (8 * v)) & 0xff).collect()
}

/// Every class keyed by its packed key: (first DAG met, packed; class size).
fn classes(n: usize) -> Result<KeyMap<(u64, u64)>> {
    let mut map: KeyMap<(u64, u64)> = KeyMap::default();
    for_each_dag(n, |dag| {
        map.entry(packed_key(&dag.parents)).or_insert_with(|| (pack_parents(&dag.parents), 0)).1 += 1;
    })?;
    Ok(map)
}

/// Count every labelled DAG and MEC on `n` nodes, with the class-size histogram.
///
/// # Errors
/// [`Error::InvalidArgument`] when `n` is outside 1..=6.
pub fn enumerate_all(n: usize) -> Result<EnumerationSummary> {
    let start = Instant::now();
    let mut sizes: KeyMap<u64> = KeyMap::default();
    let mut dags = 0u64;
    for_each_dag(n, |dag| {
        dags += 1;
        *sizes.entry(packed_key(&dag.parents)).or_insert(0) += 1;
    })?;
    let mut histogram = BTreeMap::new();
    for &size in sizes.values() {
        *histogram.entry(size).or_insert(0u64) += 1;
    }
    Ok(EnumerationSummary {
        nodes: n,
        dags,
        mecs: sizes.len() as u64,
        mec_size_histogram: histogram,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Every MEC on `n` nodes as (key, representative, class size), sorted by key. The
/// representative is the first member in [`for_each_dag`]'s order.
///
/// # Errors
/// [`Error::InvalidArgument`] when `n` is outside 1..=6.
pub fn all_mecs(n: usize) -> Result<Vec<(MecKey, Dag, u64)>> {
    let map = classes(n)?;
    let mut out = Vec::with_capacity(map.len());
    for (packed, size) in map.into_values() {
        let dag = Dag::from_parent_sets(unpack_parents(n, packed))?;
        out.push((mec_key(&dag), dag, size));
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_indices_are_a_bijection() {
        let mut seen = std::collections::BTreeSet::new();
        for a in 0..6 {
            for b in a + 1..6 {
                assert!(seen.insert(pair_index(a, b)));
            }
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), (0..15).collect::<Vec<_>>());
    }

    #[test]
    fn packed_key_agrees_with_mec_key() {
        let mut by_packed: HashMap<u128, MecKey> = HashMap::new();
        for_each_dag(4, |d| {
            let key = mec_key(d);
            let prev = by_packed.entry(packed_key(&d.parents)).or_insert_with(|| key.clone());
            assert_eq!(*prev, key);
        })
        .unwrap();
        // Injective both ways: distinct packed keys never share a MecKey.
        let packed_count = by_packed.len();
        let distinct: std::collections::HashSet<MecKey> = by_packed.into_values().collect();
        assert_eq!(distinct.len(), packed_count);
    }

    #[test]
    fn bad_node_counts() {
        assert!(enumerate_all(0).is_err());
        assert!(enumerate_all(7).is_err());
        assert!(for_each_dag(70, |_| {}).is_err());
    }
}
