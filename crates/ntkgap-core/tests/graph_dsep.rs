//! d-separation against the path definition on seeded random small DAGs.

use crate::graph_support;

use graph_support::{d_separated_brute_force, members};
use ntkgap_core::graph::{d_separated, random_dag, Dag};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn d_separation_matches_path_blocking_on_random_dags() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut checked = 0usize;
    let mut separated = 0usize;
    for trial in 0..60 {
        let n = 3 + trial % 5; // 3..=7 nodes
        let p = [0.3, 0.5, 0.7][trial % 3];
        let dag = random_dag(n, p, &mut rng).unwrap();
        let parents = dag.parent_sets().to_vec();
        for x in 0..n {
            for y in x + 1..n {
                let others = ((1u64 << n) - 1) & !(1 << x) & !(1 << y);
                // All conditioning sets for n ≤ 5, 12 random ones above.
                let sets: Vec<u64> = if n <= 5 {
                    (0..1u64 << n).filter(|z| z & !others == 0).collect()
                } else {
                    (0..12).map(|_| rng.random::<u64>() & others).collect()
                };
                for z in sets {
                    let fast = d_separated(&dag, x, y, z);
                    let slow = d_separated_brute_force(&parents, x, y, &members(z));
                    assert_eq!(fast, slow, "{:?}: {x} vs {y} given {:?}", dag.edges(), members(z));
                    assert_eq!(fast, d_separated(&dag, y, x, z), "symmetry");
                    checked += 1;
                    separated += usize::from(fast);
                }
            }
        }
    }
    // Both outcomes must be exercised for the comparison to mean anything.
    assert!(separated > 100 && checked - separated > 100, "{separated} of {checked}");
}

#[test]
fn chain_fork_collider_independences() {
    let chain = Dag::from_edges(3, &[(0, 1), (1, 2)]).unwrap();
    let fork = Dag::from_edges(3, &[(1, 0), (1, 2)]).unwrap();
    let collider = Dag::from_edges(3, &[(0, 1), (2, 1)]).unwrap();
    let statements = |d: &Dag| [d_separated(d, 0, 2, 0), d_separated(d, 0, 2, 0b010)];
    assert_eq!(statements(&chain), statements(&fork));
    assert_ne!(statements(&chain), statements(&collider));
}
