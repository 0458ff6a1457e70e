//! Seeded random DAGs as in Extended Corr2Cause (Roy & Parbhoo 2026): a uniformly random
//! topological order, then each forward pair becomes an edge independently with probability p.
//!
//! Known gaps: no other random-graph models (scale-free, fixed in-degree).

use rand::Rng;

use super::dag::{check_node_count, Dag};
use crate::error::{Error, Result};

/// The paper's default edge probability min(0.5, 6/(n − 1)) (0.5 for n ≤ 1).
pub fn default_edge_probability(n: usize) -> f64 {
    if n <= 1 {
        return 0.5;
    }
    (6.0 / (n as f64 - 1.0)).min(0.5)
}

/// A random DAG on `n` nodes: a uniformly random order (Fisher–Yates), then every pair
/// (earlier, later) in that order becomes an edge earlier → later with probability `p`.
/// The same `rng` state gives the same graph.
///
/// # Errors
/// [`Error::Graph`] if `n` is outside 1..=64; [`Error::InvalidArgument`] if `p` is not a finite
/// probability in \[0, 1\].
pub fn random_dag(n: usize, p: f64, rng: &mut impl Rng) -> Result<Dag> {
    check_node_count(n)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid("edge probability", format!("{p} is not in [0, 1]")));
    }
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut parents = vec![0u64; n];
    for (i, &from) in order.iter().enumerate() {
        for &to in &order[i + 1..] {
            if rng.random::<f64>() < p {
                parents[to] |= 1 << from;
            }
        }
    }
    Dag::from_parent_sets(parents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn default_probability_matches_the_paper() {
        assert_eq!(default_edge_probability(2), 0.5);
        assert_eq!(default_edge_probability(13), 0.5);
        assert!((default_edge_probability(25) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn same_seed_same_graph_and_bad_input_rejected() {
        let a = random_dag(20, 0.3, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        let b = random_dag(20, 0.3, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        let c = random_dag(20, 0.3, &mut ChaCha8Rng::seed_from_u64(4)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(random_dag(0, 0.5, &mut rng).is_err());
        assert!(random_dag(65, 0.5, &mut rng).is_err());
        assert!(random_dag(5, 1.5, &mut rng).is_err());
        assert!(random_dag(5, f64::NAN, &mut rng).is_err());
        assert_eq!(random_dag(10, 1.0, &mut rng).unwrap().num_edges(), 45);
        assert_eq!(random_dag(10, 0.0, &mut rng).unwrap().num_edges(), 0);
    }

    #[test]
    fn edge_density_is_close_to_p() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (n, p, reps) = (30usize, 0.2, 50);
        let edges: usize = (0..reps).map(|_| random_dag(n, p, &mut rng).unwrap().num_edges()).sum();
        let expected = p * (n * (n - 1) / 2 * reps) as f64;
        // 50 · 435 Bernoulli(0.2) trials: sd ≈ 59; allow 5 sd.
        assert!((edges as f64 - expected).abs() < 300.0, "{edges} vs {expected}");
    }
}
