//! # ntkgap-core
//!
//! The burn-free half of ntkgap: everything that needs no neural-network framework, so that a
//! user who wants the Corr2Cause generator, the Theorem 1 check or the A-CBO loop compiles in
//! seconds, not minutes.
//!
//! | module | owns |
//! |---|---|
//! | [`graph`] | DAG bitsets, d-separation, CPDAG, MEC enumeration, the six relations |
//! | [`corpus`] | Corr2Cause records, JSONL I/O, premises/hypotheses/labels/splits |
//! | [`tokenize`] | `Tokenizer` trait, HF `tokenizer.json`, built-in word vocabulary, overlap metrics, near-miss pairs |
//! | [`bound`] | the Theorem 1 check (published vs corrected bound per pair), kernel ridge/logistic predictors, lazy-regime diagnostics |
//! | [`acbo`] | A-CBO: MEC candidates, interventional queries, the `Oracle` trait and the burn-free oracles, log-space posterior, EIG, evaluation |
//! | [`seed`] | the one seed-derivation scheme (streams per size, item, trial, epoch, tensor) |
//! | [`files`] | atomic output files, `meta.json` provenance, `.npy` I/O, memory figures |
//! | [`gguf`] | GGUF model files: metadata, lazy tensor reads, dequantization to f32, a Hugging Face view |
//!
//! Library errors are one enum, [`Error`], with a [`Result`] alias.
//!
//! ## Theorem 1 on any Gram matrix
//!
//! ```
//! use ndarray::array;
//! let k = array![[1.0, 0.5], [0.5, 0.25]]; // φ₊ = 1, φ₋ = ½: similarity 1 (δ = 0)
//! let scores = array![1.0, 0.5]; // w = 1 separates them by ½
//! let (pairs, _) = ntkgap_core::bound::analyse(k.view(), scores.view(), &[(0, 1)], 1.0)?;
//! assert!(pairs[0].published_violated && !pairs[0].corrected_violated); // the corrected bound holds
//! # Ok::<(), ntkgap_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod acbo;
pub mod bound;
pub mod corpus;
pub mod error;
pub mod files;
pub mod gguf;
pub mod graph;
pub mod numeric;
pub mod seed;
pub mod tokenize;

pub use error::{Error, Result};
