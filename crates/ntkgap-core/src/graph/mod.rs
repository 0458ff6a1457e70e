//! Causal graphs: DAG bitsets (≤ 64 nodes), d-separation, CPDAGs (Meek R1–R4), Markov
//! equivalence classes (enumeration, counting, sampling), exhaustive enumeration for n ≤ 6,
//! random DAGs and the six Corr2Cause relations. Pure Rust, no burn.
//!
//! Node sets are `u64` bitsets (bit i = node i).
//!
//! ```
//! use ntkgap_core::graph::{count_mec, cpdag, d_separated, enumerate_mec, mec_key, Dag, Relation};
//!
//! // Z=0 → Y=1 → X=2 (a chain) and the fork Z ← Y → X are Markov equivalent; the collider is not.
//! let chain = Dag::from_edges(3, &[(0, 1), (1, 2)])?;
//! let fork = Dag::from_edges(3, &[(1, 0), (1, 2)])?;
//! let collider = Dag::from_edges(3, &[(0, 1), (2, 1)])?;
//! assert_eq!(mec_key(&chain), mec_key(&fork));
//! assert_ne!(mec_key(&chain), mec_key(&collider));
//! assert!(d_separated(&chain, 0, 2, 0b010) && !d_separated(&collider, 0, 2, 0b010));
//!
//! // The chain's class: all three orientations without a collider.
//! let class = enumerate_mec(&cpdag(&chain), 100);
//! assert_eq!((class.dags.len(), class.exhaustive), (3, true));
//! assert_eq!(count_mec(&cpdag(&chain), 100), Some(3));
//! assert!(Relation::NonParentAncestor.holds(&chain, 0, 2));
//! # Ok::<(), ntkgap_core::Error>(())
//! ```

mod amo;
pub mod cpdag;
pub mod dag;
pub mod dsep;
pub mod enumerate;
pub mod mec;
pub mod random;
pub mod relation;

pub use cpdag::{cpdag, mec_key, MecKey, Pdag};
pub use dag::{Dag, MAX_NODES};
pub use dsep::d_separated;
pub use enumerate::{all_mecs, enumerate_all, for_each_dag, EnumerationSummary, MAX_EXHAUSTIVE_NODES};
pub use mec::{count_mec, enumerate_mec, sample_mec, MecMembers};
pub use random::{default_edge_probability, random_dag};
pub use relation::Relation;
