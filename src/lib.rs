//! # ntkgap
//!
//! Fine-tuned language models behave like *kernel predictors*, and a kernel predictor cannot
//! separate two causal hypotheses whose texts share almost all their tokens (Roy & Parbhoo,
//! arXiv 2605.27567, Theorem 1 — and its corrected form, see docs/science.md). ntkgap makes that
//! tangible: it generates Corr2Cause corpora, computes empirical NTK Gram matrices of
//! transformer classifiers, checks the bound per near-miss pair, and runs the A-CBO loop that
//! moves the causal decision outside the model.
//!
//! ## The eNTK of your own model, in ten lines
//!
//! Any Hugging Face BERT/RoBERTa directory (`config.json`, `model.safetensors`,
//! `tokenizer.json`; here the tiny RoBERTa the tests ship):
//!
//! ```
//! use ntkgap::{gpu::ComputeDevice, model, ntk};
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/roberta_tiny");
//! let device = ComputeDevice::cpu().device(true); // autodiff: the eNTK differentiates
//! let loaded = model::load(&model::ModelSpec::parse(dir)?, &model::LoadOptions::default(), &device)?;
//! let texts = ["A correlates with B.", "B correlates with C."];
//! let x = texts.iter().map(|t| loaded.tokenizer.encode(t)).collect::<ntkgap::Result<Vec<_>>>()?;
//! let pad = loaded.tokenizer.pad_id()?;
//! let k = ntk::gram(&loaded.classifier, &x, None, pad, &ntk::GramOptions::default(), &device, &mut |_| {})?;
//! assert_eq!(k.matrix().dim(), (2, 2)); // K(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩, f = logit₁ − logit₀
//! # Ok::<(), ntkgap::Error>(())
//! ```
//!
//! ## Theorem 1 on any Gram matrix
//!
//! The audit's counterexample: features φ₊ = 1 and φ₋ = ½ are perfectly similar (δ = 0), so the
//! published bound allows no gap, yet w = 1 separates them by ½; the corrected bound holds.
//!
//! ```
//! use ndarray::array;
//! let k = array![[1.0, 0.5], [0.5, 0.25]]; // K = φφᵀ
//! let scores = array![1.0, 0.5]; // s = ⟨w, φ⟩ with w = 1
//! let (pairs, _) = ntkgap::bound::analyse(k.view(), scores.view(), &[(0, 1)], 1.0)?;
//! assert!(pairs[0].published_violated && !pairs[0].corrected_violated);
//! # Ok::<(), ntkgap::Error>(())
//! ```
//!
//! ## Module map
//!
//! The burn-free half lives in the `ntkgap-core` crate and is re-exported here (docs/architecture.md).
//!
//! | module | owns |
//! |---|---|
//! | [`graph`] | DAG bitsets, d-separation, CPDAG, MEC enumeration, the six relations |
//! | [`corpus`] | Corr2Cause records, JSONL I/O, premises/hypotheses/labels/splits |
//! | [`tokenize`] | `Tokenizer` trait, HF `tokenizer.json`, GGUF tokenizers, chat templates, built-in word vocabulary, overlap metrics, near-miss pairs |
//! | [`gguf`] | GGUF files: metadata, tensors dequantized to f32, the Hugging Face view of Llama/Qwen2/GPT-2 checkpoints |
//! | [`acbo`] | A-CBO: MEC candidates, interventional queries, oracles, log-space posterior, EIG, evaluation |
//! | [`bound`] | the Theorem 1 check (published vs corrected bound per pair), kernel ridge/logistic predictors, lazy-regime diagnostics |
//! | [`files`], [`seed`] | atomic outputs, `meta.json`, `.npy`, CSV; the one seed-derivation scheme |
//! | [`model`] | burn BERT/RoBERTa encoder classifier, the `score` margin, probes, HF checkpoint I/O |
//! | [`ntk`] | eNTK Gram matrices: `PerLayer` (one backward per block, f32 GEMM kernels, memory budget, row slabs) and the `Naive` reference twin; output modes |
//! | [`gpu`] | the one device type (`ComputeDevice`), the wgpu device shared with burn, WGSL Gram kernels from `kernels/` |
//! | [`gap`] | the model-driven check: eNTK, margins and θ₀ gradients → per-pair rows; the sweep over graph sizes |
//! | [`train`] | SFT/DPO fine-tuning, schedules, evaluation |
//! | [`report`] | charts (PNG + SVG) and HTML pages |
//! | [`demo`] | `ntkgap demo`: the six cached stages end to end and the HTML report |
//! | [`cli`] | the `ntkgap` subcommands (the binary is a thin wrapper) |
//!
//! Library errors are one enum, [`Error`], with a [`Result`] alias.

#![warn(missing_docs)]

pub use ntkgap_core::{acbo, bound, corpus, error, files, gguf, graph, numeric, seed, tokenize};

pub mod cli;
pub mod demo;
pub mod gap;
pub mod gpu;
pub mod model;
pub mod ntk;
pub mod report;
pub mod train;

pub use error::{Error, Result};
