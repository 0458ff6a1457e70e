//! Causal graphs: DAG bitsets (≤ 64 nodes), d-separation, CPDAGs (Meek R1–R4), Markov
//! equivalence classes (enumeration, counting, sampling), exhaustive enumeration for n ≤ 6,
//! random DAGs and the six Corr2Cause relations. Pure Rust, no burn.
//!
//! Node sets are `u64` bitsets (bit i = node i). The API contract shared with the other modules
//! is `GRAPH_API.md`.

mod amo;
pub mod cpdag;
pub mod dag;
pub mod dsep;
pub mod mec;
pub mod random;
pub mod relation;

pub use cpdag::{cpdag, mec_key, MecKey, Pdag};
pub use dag::{Dag, MAX_NODES};
pub use dsep::d_separated;
pub use mec::{count_mec, enumerate_mec, sample_mec, MecMembers};
pub use random::{default_edge_probability, random_dag};
pub use relation::Relation;
