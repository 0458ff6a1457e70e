//! # ntkgap
//!
//! Fine-tuned language models behave like *kernel predictors*, and a kernel predictor cannot
//! separate two causal hypotheses whose texts share almost all their tokens (Roy & Parbhoo,
//! arXiv 2605.27567, Theorem 1 — and its corrected form, see docs/science.md). ntkgap makes that
//! tangible: it generates Corr2Cause corpora, computes empirical NTK Gram matrices of
//! transformer classifiers, checks the bound per near-miss pair, and runs the A-CBO loop that
//! moves the causal decision outside the model.
//!
//! ## Module map
//!
//! | module | owns |
//! |---|---|
//! | [`graph`] | DAG bitsets, d-separation, CPDAG, MEC enumeration, the six relations |
//! | [`corpus`] | Corr2Cause records, JSONL I/O, premises/hypotheses/labels/splits |
//! | [`tokenize`] | `Tokenizer` trait, HF `tokenizer.json`, built-in word vocabulary, overlap metrics, near-miss pairs |
//! | [`acbo`] | A-CBO: MEC candidates, interventional queries, oracles, log-space posterior, EIG, benchmark |
//! | [`model`] | burn BERT/RoBERTa encoder classifier, the `score` margin, probes, HF checkpoint I/O |
//! | [`ntk`] | eNTK Gram matrices: `PerLayer` (one backward per block, f32 GEMM kernels, memory budget, row slabs) and the `Naive` reference twin; output modes |
//! | [`gpu`] | the wgpu device (shared with burn), WGSL Gram kernels from `kernels/`, CPU fallback |
//! | [`bound`] | the Theorem 1 check (published vs corrected bound per pair), kernel ridge/logistic predictors, lazy-regime diagnostics (burn-free) |
//! | [`gap`] | the model-driven check: eNTK, margins and θ₀ gradients → per-pair rows; the sweep over graph sizes |
//! | [`train`] | SFT/DPO fine-tuning, schedules, evaluation |
//! | [`report`] | atomic output files, `meta.json` provenance, `.npy` I/O, charts, HTML |
//! | [`demo`] | `ntkgap demo`: the six cached stages end to end and the HTML report |
//! | [`cli`] | the `ntkgap` subcommands (the binary is a thin wrapper) |
//!
//! Library errors are one enum, [`Error`], with a [`Result`] alias.

#![warn(missing_docs)]

pub use ntkgap_core::{acbo, bound, corpus, error, files, graph, numeric, seed, tokenize};

pub mod cli;
pub mod demo;
pub mod gap;
pub mod gpu;
pub mod model;
pub mod ntk;
pub mod report;
pub mod train;

pub use error::{Error, Result};
