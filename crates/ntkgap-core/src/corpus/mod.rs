//! Corr2Cause and Extended Corr2Cause corpora: records and JSONL I/O, variable names, premises
//! (text, parsing, MEC recovery), hypotheses and labels, relabelling classes of MECs, splits,
//! generation and statistics. Pure Rust, no burn.
//!
//! Wording follows the original benchmark (Jin et al., arXiv 2306.05836) exactly; the Extended
//! corpus follows the paper (arXiv 2605.27567) where it is specific and documents our choices
//! where it is not (see [`premise`] for the CI-statement policies).
//!
//! ```
//! use ntkgap_core::corpus::{generate, GenerateConfig, Premise};
//!
//! // Every 3-variable MEC up to relabelling, 18 items each, routed to splits in memory.
//! let config = GenerateConfig { nodes: 3..=3, ..GenerateConfig::default() };
//! let mut sink = Vec::new();
//! let summary = generate(&config, &mut sink)?;
//! assert_eq!(summary.records, 5 * 18);
//! // Every premise determines its Markov equivalence class.
//! let (_, first) = &sink[0];
//! let cpdag = Premise::parse(first.premise.as_deref().unwrap())?.cpdag()?;
//! assert_eq!(cpdag.n(), 3);
//! # Ok::<(), ntkgap_core::Error>(())
//! ```

pub mod config;
pub mod generate;
pub mod hypothesis;
pub mod iso;
pub mod jsonl;
pub mod names;
pub mod premise;
mod premise_parse;
pub mod record;
pub mod shots;
pub mod sink;
pub mod split;
pub mod stats;

pub use config::{parse_nodes, CorpusKind, Dedup, GenerateConfig};
pub use generate::{generate, records_per_mec, GenerateSummary, Plan, RecordSink, SizeSummary};
pub use hypothesis::{hypothesis_text, label_for, parse_hypothesis};
pub use jsonl::{read_records, JsonlReader, JsonlWriter};
pub use names::{variable_index, variable_name};
pub use premise::{ci_policy_for, premise_from_dag, CiPolicy, Premise};
pub use record::{Label, Record, RecordText};
pub use shots::{Demonstration, ShotSet, ShotSummary};
pub use sink::CorpusWriter;
pub use split::{Split, SplitSizes};
pub use stats::CorpusStats;
