//! A-CBO (Agentic Causal Bayesian Optimization): decide a causal hypothesis by asking
//! interventional questions of an oracle instead of asking a model the global question.
//!
//! Roy & Parbhoo (arXiv 2605.27567) keep the model frozen and move the decision outside it. The
//! paper's prior, likelihood, query wording and oracle are not public; this module is a stated
//! reconstruction (docs/science.md "A-CBO", "Oracles"):
//!
//! - candidates: the DAGs of the premise's Markov equivalence class, recovered from the premise's
//!   statements, enumerated up to a cap or else sampled (prior ∝ multiplicity) — the run reports
//!   whether the set is exhaustive ([`candidates`]);
//! - queries: "under do(X), does Y change?" or "which variables change under do(X)?" ([`query`]);
//! - likelihood: per answered variable, false-positive rate α and false-negative rate β
//!   ([`error_model`]); posterior in log space with a truth-missing alarm ([`posterior`]);
//! - selection by expected information gain ([`eig`], [`select`]); the loop and its trace
//!   ([`run`]); oracles ([`oracle`]: `noisy:η`, `experiment:S`, and the factory through which
//!   `model:DIR` plugs in); the local query text of the model oracle and its training records
//!   ([`local_query`]); the evaluation runner ([`evaluate`], [`settings`], [`summary`]).
//!
//! No burn here: the model oracle itself is `crate::model::oracle`, reached through
//! [`oracle::OracleFactory`].

pub mod candidates;
pub mod eig;
pub mod error_model;
pub mod evaluate;
pub mod local_query;
pub mod oracle;
pub mod posterior;
pub mod query;
pub mod run;
pub mod scm;
pub mod select;
pub mod settings;
pub mod stats;
pub mod summary;
pub mod table;

pub use candidates::{CandidateSettings, Candidates};
pub use error_model::{BitCounts, ErrorModel};
pub use oracle::{ExperimentOracle, NoisyOracle, Oracle, OracleFactory, OracleSpec};
pub use posterior::Posterior;
pub use query::{all_queries, Answer, Query, QueryKind};
pub use run::{run_loop, Goal, LoopConfig, Outcome, Round, StopReason};
pub use select::Selection;
pub use table::CandidateTable;
