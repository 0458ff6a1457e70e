//! Exhaustive enumeration against an independent brute force (all directed graphs, DFS cycle
//! check, key by triple loop) for n ≤ 5, and the published counts for n = 6.

use crate::graph_support;

use std::collections::{BTreeMap, BTreeSet};

use graph_support::{all_dags_brute_force, key_brute_force};
use ntkgap_core::graph::{all_mecs, enumerate_all, for_each_dag, mec_key};

#[test]
fn for_each_dag_yields_exactly_the_brute_force_dags() {
    for n in 1..=5 {
        let mut seen = BTreeSet::new();
        let mut calls = 0usize;
        for_each_dag(n, |d| {
            seen.insert(d.parent_sets().to_vec());
            calls += 1;
        })
        .unwrap();
        let brute: BTreeSet<Vec<u64>> = all_dags_brute_force(n).into_iter().collect();
        assert_eq!(calls, seen.len(), "n = {n}: a DAG was produced twice");
        assert_eq!(seen, brute, "n = {n}");
    }
}

#[test]
fn summary_matches_brute_force_grouping() {
    for n in 1..=5 {
        let mut sizes: BTreeMap<_, u64> = BTreeMap::new();
        let brute = all_dags_brute_force(n);
        for parents in &brute {
            *sizes.entry(key_brute_force(parents)).or_default() += 1;
        }
        let mut histogram: BTreeMap<u64, u64> = BTreeMap::new();
        for &s in sizes.values() {
            *histogram.entry(s).or_default() += 1;
        }
        let summary = enumerate_all(n).unwrap();
        assert_eq!(summary.nodes, n);
        assert_eq!(summary.dags, brute.len() as u64, "n = {n}");
        assert_eq!(summary.mecs, sizes.len() as u64, "n = {n}");
        assert_eq!(summary.mec_size_histogram, histogram, "n = {n}");
        assert!(summary.seconds >= 0.0);
    }
}

#[test]
fn all_mecs_is_sorted_complete_and_consistent() {
    for n in 1..=4 {
        let mecs = all_mecs(n).unwrap();
        let summary = enumerate_all(n).unwrap();
        assert_eq!(mecs.len() as u64, summary.mecs);
        assert_eq!(mecs.iter().map(|m| m.2).sum::<u64>(), summary.dags);
        assert!(mecs.windows(2).all(|w| w[0].0 < w[1].0), "not strictly sorted by key");
        for (key, rep, size) in &mecs {
            assert_eq!(&mec_key(rep), key);
            let members = ntkgap_core::graph::enumerate_mec(&key.cpdag(), usize::MAX);
            assert_eq!(members.dags.len() as u64, *size);
        }
        assert_eq!(all_mecs(n).unwrap(), mecs, "deterministic");
    }
}

/// n = 6 against the published counts (labelled DAGs: OEIS A003024); about a second in the dev
/// profile. Smaller n are covered by the brute force above.
#[test]
fn six_nodes_give_the_known_counts() {
    let summary = enumerate_all(6).unwrap();
    assert_eq!(summary.dags, 3_781_503);
    assert_eq!(summary.mecs, 1_067_825);
    assert_eq!(summary.mec_size_histogram.values().sum::<u64>(), summary.mecs);
    assert_eq!(summary.mec_size_histogram.iter().map(|(s, c)| s * c).sum::<u64>(), summary.dags);
    assert_eq!(summary.mec_size_histogram.keys().last(), Some(&720), "the complete graph's class is 6!");
}

#[test]
fn out_of_range_node_counts_are_refused() {
    for n in [0, 7, 70] {
        assert!(enumerate_all(n).is_err());
        assert!(all_mecs(n).is_err());
        assert!(for_each_dag(n, |_| {}).is_err());
    }
}
