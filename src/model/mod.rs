//! The BERT/RoBERTa encoder classifier in burn 0.22, its one scalar path and its weights I/O.
//!
//! * [`Classifier`] — embeddings (word + position + token type, LayerNorm), L layers of
//!   multi-head self-attention + GELU feed-forward with post-LayerNorm, a `dense → tanh → linear`
//!   head on the first token. Reproduces Hugging Face `BertForSequenceClassification` and
//!   `RobertaForSequenceClassification` in eval mode (no dropout).
//! * [`Classifier::score`] — the margin logit₁ − logit₀, shared by inference, training and the
//!   eNTK (see [`classifier`] for other label counts).
//! * [`probe`] — the optional per-layer probe hook of the forward (docs/science.md "The fast eNTK").
//! * [`load()`] / [`save()`] — Hugging Face directories and `builtin:tiny|small`.
//! * [`decoder`] — decoder-only language models (Llama, Mistral, Qwen2, GPT-2) with the same
//!   probe hook: label-word logits, φ(x) and the margin z_yes − z_no at the last real token;
//!   [`load_any()`] returns an encoder or a decoder ([`AnyModel`]).
//! * [`MarginModel`] — the margin, host-side margins, weights and checkpoints of either family:
//!   what `train` and `eval` are written against.
//! * [`oracle`] — the frozen model as the A-CBO `model:PATH` oracle (local queries) and asked
//!   the global question directly; the only place the A-CBO loop meets burn.
//!
//! Tensors carry no backend type (`Tensor<D>`); the [`burn::tensor::Device`] decides. Nothing
//! user-supplied reaches a burn op unchecked: configs are validated before allocation
//! ([`ModelConfig::validate`]), weights by name and shape ([`weights`]), batches by id range
//! ([`Batch::new`]).
//!
//! Known gaps: absolute position embeddings and GELU only; f32 compute; no dropout (training
//! runs without it, documented in `train`).

pub mod attention;
pub mod batch;
pub mod builtin;
pub mod classifier;
pub mod config;
pub mod decoder;
pub mod dense;
pub mod embeddings;
pub mod encoder;
pub mod head;
pub mod infer;
pub mod layer;
pub mod load;
pub mod margin_model;
pub mod oracle;
pub mod oracle_prompt;
pub mod probe;
pub mod save;
pub mod weights;

pub use batch::Batch;
pub use builtin::BuiltinSize;
pub use classifier::{margin, Classifier, POSITIVE_LABEL};
pub use config::{Architecture, ModelConfig};
pub use decoder::{DecoderLm, DecoderOptions, LoadedDecoder};
pub use load::{load, load_any, AnyModel, LoadOptions, LoadedModel, ModelSpec};
pub use margin_model::MarginModel;
pub use probe::{LayerKind, Probe, ProbeInput, ProbeSet};
pub use save::save;
pub use weights::{HostTensor, WeightMap};
