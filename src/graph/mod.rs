//! Causal graphs: DAG bitsets (≤ 64 nodes), d-separation, CPDAGs, Markov equivalence classes,
//! random DAGs and the six Corr2Cause relations. Pure Rust, no burn.

pub mod relation;

pub use relation::Relation;
