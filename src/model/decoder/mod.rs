//! Decoder-only language models in burn 0.22: the Llama family (Llama, Mistral, Qwen2) and
//! GPT-2, as Hugging Face `…ForCausalLM` / `GPT2LMHeadModel` and `…ForSequenceClassification`
//! compute them in eval mode (docs/science.md "Decoders and the frozen-LLM side").
//!
//! * [`DecoderLm`] — embeddings, blocks ([`llama`]: RMSNorm, RoPE, grouped-query attention,
//!   SiLU-gated MLP; [`gpt2`]: learned positions, pre-LayerNorm, fused `c_attn`, GELU-tanh,
//!   Conv1D weights), final norm, and the head: the unembedding (`lm_head` or the tied token
//!   embedding) or a sequence-classification `score`.
//! * Outputs at each row's last real token, for left- and right-padded batches alike
//!   ([`DecoderBatch`]): φ(x) ([`DecoderLm::features`]), the next-token logits
//!   ([`DecoderLm::vocab_logits`]), the readout ([`DecoderLm::logits`]: the two label words'
//!   logits `[z_no, z_yes]`, or the class logits) and its margin f(x) = z_yes − z_no
//!   ([`DecoderLm::score`]), which is ⟨W_U\[yes\] − W_U\[no\], φ(x)⟩.
//! * The forward takes the encoder's probe hook ([`crate::model::ProbeSet`]): every linear
//!   layer, norm weight and embedding table is probed (see [`crate::model::probe`];
//!   [`crate::model::LayerKind::LinearNoBias`] and [`crate::model::LayerKind::RmsNorm`] are
//!   the decoders' additions).
//! * [`load`] — a Hugging Face directory (single or sharded safetensors), a GGUF file
//!   ([`mod@gguf`], dequantized to f32) or `builtin:tiny-decoder`, through one construction, with a
//!   [`prompt::PromptTokenizer`] (verbatim texts; premise/hypothesis records through a template,
//!   [`prompt::DEFAULT_TEMPLATE`] by default, optionally as the user message of the model's chat
//!   template; never truncated). [`save`] writes the Hugging Face layout back.
//!
//! * [`infer`] — batched inference; prompts sharing leading tokens (ICL demonstrations) run the
//!   shared prefix once and attend to its cached keys and values ([`PrefixCache`]).
//!
//! Known gaps: no RoPE scaling, no sliding-window attention (longer inputs are refused), no
//! generation, f32 compute, prompts are never truncated (longer ones are counted
//! and refused), SentencePiece GGUF tokenizers are not built.

pub mod batch;
pub mod config;
pub mod gguf;
pub mod gpt2;
mod hf_fields;
pub mod infer;
pub mod linear;
pub mod llama;
pub mod lm;
pub mod load;
pub mod prompt;
pub mod rope;
pub mod save;

pub use batch::{pad_batch_left, DecoderBatch, LayerKv, PrefixCache};
pub use config::{is_decoder_type, DecoderConfig, DecoderFamily, DecoderTask};
pub use lm::{DecoderLm, Readout};
pub use load::{DecoderOptions, LoadedDecoder, Prompting};
pub use prompt::{PromptTemplate, PromptTokenizer, CHAT_LABEL_WORDS, DEFAULT_LABEL_WORDS, DEFAULT_TEMPLATE};
pub use save::DecoderFiles;
