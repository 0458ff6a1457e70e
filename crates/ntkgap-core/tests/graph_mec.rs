//! CPDAGs, Markov-equivalence keys and MEC members against brute force over all DAGs of
//! n ≤ 4 (and n = 5 for the essential-graph check), plus sampling and counting on random DAGs.

use crate::graph_support;

use std::collections::{BTreeMap, BTreeSet};

use graph_support::{all_dags_brute_force, key_brute_force, BruteKey};
use ntkgap_core::graph::{count_mec, cpdag, d_separated, enumerate_mec, mec_key, random_dag, sample_mec, Dag};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Brute-force classes: independent key → set of member parent vectors.
fn brute_force_classes(n: usize) -> BTreeMap<BruteKey, BTreeSet<Vec<u64>>> {
    let mut classes: BTreeMap<BruteKey, BTreeSet<Vec<u64>>> = BTreeMap::new();
    for parents in all_dags_brute_force(n) {
        classes.entry(key_brute_force(&parents)).or_default().insert(parents);
    }
    classes
}

#[test]
fn cpdag_and_members_match_brute_force_classes_up_to_four_nodes() {
    for n in 1..=4 {
        for class in brute_force_classes(n).values() {
            let dags: Vec<Dag> = class.iter().map(|p| Dag::from_parent_sets(p.clone()).unwrap()).collect();
            let first = cpdag(&dags[0]);
            for d in &dags {
                assert_eq!(cpdag(d), first, "same class, different CPDAG");
                assert_eq!(mec_key(d), mec_key(&dags[0]));
            }
            let found = enumerate_mec(&first, usize::MAX);
            assert!(found.exhaustive);
            let found: BTreeSet<Vec<u64>> = found.dags.iter().map(|d| d.parent_sets().to_vec()).collect();
            assert_eq!(&found, class, "enumerate_mec differs from the brute-force class");
            assert_eq!(count_mec(&first, u64::MAX), Some(class.len() as u64));
            let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
            for s in sample_mec(&first, 5, &mut rng) {
                assert!(class.contains(&s.parent_sets().to_vec()));
            }
        }
    }
}

#[test]
fn distinct_classes_have_distinct_keys_and_cpdags() {
    let classes = brute_force_classes(4);
    let reps: Vec<Dag> = classes.values().map(|c| Dag::from_parent_sets(c.first().unwrap().clone()).unwrap()).collect();
    let keys: BTreeSet<_> = reps.iter().map(mec_key).collect();
    assert_eq!(keys.len(), classes.len());
    let cpdags: std::collections::HashSet<_> = reps.iter().map(cpdag).collect();
    assert_eq!(cpdags.len(), classes.len());
}

/// The essential graph: an edge is directed iff every member orients it the same way.
#[test]
fn cpdag_directs_exactly_the_compelled_edges_and_counts_match_up_to_five_nodes() {
    for n in 2..=5 {
        for class in brute_force_classes(n).values() {
            let rep = Dag::from_parent_sets(class.first().unwrap().clone()).unwrap();
            let pdag = cpdag(&rep);
            assert_eq!(count_mec(&pdag, u64::MAX), Some(class.len() as u64));
            for (a, b) in rep.edges() {
                let compelled = class.iter().all(|p| p[b] >> a & 1 == 1);
                assert_eq!(pdag.is_directed(a, b), compelled, "edge {a}->{b} in {:?}", rep.edges());
                assert_eq!(pdag.is_undirected(a, b), !compelled);
            }
        }
    }
}

/// Verma–Pearl: same d-separation statements ⇔ same key, over all DAGs on 4 nodes.
#[test]
fn independence_statements_determine_the_key() {
    let mut by_statements: BTreeMap<Vec<bool>, BTreeSet<ntkgap_core::graph::MecKey>> = BTreeMap::new();
    let mut classes = 0;
    for parents in all_dags_brute_force(4) {
        let dag = Dag::from_parent_sets(parents).unwrap();
        let mut statements = Vec::new();
        for x in 0..4 {
            for y in x + 1..4 {
                for z in 0..16u64 {
                    if z >> x & 1 == 0 && z >> y & 1 == 0 {
                        statements.push(d_separated(&dag, x, y, z));
                    }
                }
            }
        }
        by_statements.entry(statements).or_default().insert(mec_key(&dag));
        classes += 1;
    }
    assert_eq!(classes, 543);
    assert!(by_statements.values().all(|keys| keys.len() == 1));
    assert_eq!(by_statements.len(), brute_force_classes(4).len());
}

#[test]
fn sampled_members_share_the_key_and_counts_match_enumeration() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for trial in 0..40 {
        let n = 5 + trial % 16; // 5..=20 nodes
        let dag = random_dag(n, [0.15, 0.3, 0.5][trial % 3], &mut rng).unwrap();
        let key = mec_key(&dag);
        let pdag = cpdag(&dag);
        let samples = sample_mec(&pdag, 20, &mut rng);
        assert_eq!(samples.len(), 20);
        assert!(samples.iter().all(|s| mec_key(s) == key), "sample outside the class of {:?}", dag.edges());
        let found = enumerate_mec(&pdag, 2000);
        assert!(found.dags.iter().all(|d| mec_key(d) == key));
        assert!(found.dags.contains(&dag) || !found.exhaustive);
        match count_mec(&pdag, 2000) {
            Some(c) => assert_eq!((c as usize, true), (found.dags.len(), found.exhaustive)),
            None => assert!(!found.exhaustive),
        }
    }
}

#[test]
fn sampling_is_uniform_on_a_mixed_class() {
    // Two undirected components: a diamond (triangles 0-1-2 and 1-2-3 sharing 1 — 2; 10
    // members, rooted counts 2, 3, 3, 2 so a uniform choice of source would be biased) and a
    // triangle 4 — 5 — 6 (6 members): 60 members in all.
    let dag = Dag::from_edges(7, &[(1, 0), (1, 2), (1, 3), (2, 0), (2, 3), (4, 5), (4, 6), (5, 6)]).unwrap();
    let pdag = cpdag(&dag);
    let class = enumerate_mec(&pdag, 1000).dags;
    assert_eq!(class.len(), 60);
    assert_eq!(count_mec(&pdag, 1000), Some(60));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let draws = 60_000;
    let mut counts: BTreeMap<Dag, usize> = BTreeMap::new();
    for s in sample_mec(&pdag, draws, &mut rng) {
        *counts.entry(s).or_default() += 1;
    }
    assert_eq!(counts.len(), 60);
    // Expected 1000 each, sd ≈ 31; 5 sd bounds.
    for (d, c) in &counts {
        assert!((845..=1155).contains(c), "{c} draws of {:?}", d.edges());
    }
    // Same seed, same draws.
    let again = sample_mec(&pdag, 10, &mut ChaCha8Rng::seed_from_u64(5));
    assert_eq!(again, sample_mec(&pdag, 10, &mut ChaCha8Rng::seed_from_u64(5)));
}

#[test]
fn large_graphs_up_to_sixty_four_nodes() {
    let mut rng = ChaCha8Rng::seed_from_u64(64);
    for (n, p) in [(64usize, ntkgap_core::graph::default_edge_probability(64)), (40, 0.3), (24, 0.25)] {
        let dag = random_dag(n, p, &mut rng).unwrap();
        let pdag = cpdag(&dag);
        let key = mec_key(&dag);
        let samples = sample_mec(&pdag, 5, &mut rng);
        assert_eq!(samples.len(), 5);
        assert!(samples.iter().all(|s| mec_key(s) == key));
        let found = enumerate_mec(&pdag, 500);
        if let Some(count) = count_mec(&pdag, 500) {
            assert_eq!(count as usize, found.dags.len());
            assert!(found.exhaustive && found.dags.contains(&dag));
        } else {
            assert!(!found.exhaustive && found.dags.len() == 500);
        }
    }
}
