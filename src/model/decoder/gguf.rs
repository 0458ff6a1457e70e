//! Loading a decoder from a GGUF file (llama.cpp's format): the file's Hugging Face view
//! ([`crate::gguf::hf::HfView`]: config, HF tensor names, Q/K rows un-permuted, GPT-2's Conv1D
//! weights transposed back) dequantized to f32, and the tokenizer its metadata describes
//! ([`crate::tokenize::gguf`], BOS as `tokenizer.ggml.add_bos_token` says) — then the same
//! construction as a safetensors directory ([`super::load::assemble`]).
//!
//! Architectures: `llama` (Llama, Mistral, SmolLM, TinyLlama, …), `qwen2`, `gpt2`. Tensor types:
//! F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K … Q6_K (bit-exact with gguf-py); every
//! other type is refused naming the tensor. Tokenizers: byte-level BPE (`tokenizer.ggml.model =
//! gpt2`) only; SentencePiece GGUFs are refused. A checkpoint saved from a GGUF-loaded model is
//! a Hugging Face directory: f32 safetensors, the view's config, the tokenizer serialized as
//! `tokenizer.json`, and a `tokenizer_config.json` carrying the chat template and BOS/EOS.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;

use crate::error::Result;
use crate::gguf::hf::HfView;
use crate::gguf::GgufFile;
use crate::model::decoder::config::DecoderConfig;
use crate::model::decoder::load::{assemble, require_chat, DecoderOptions, LoadedDecoder, Source};
use crate::model::decoder::save::DecoderFiles;
use crate::model::weights::{HostTensor, WeightMap};
use crate::tokenize::chat::ChatTemplate;

/// True when `spec` names a GGUF file (extension `.gguf`, any case).
pub fn is_gguf_path(spec: &Path) -> bool {
    spec.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// Load the GGUF decoder `path` on `device`.
///
/// # Errors
/// [`crate::Error::Io`] when the file cannot be opened; [`crate::Error::BadInput`] naming the
/// file, in one line, for a truncated or corrupt file (bad magic, unsupported version, unknown
/// tensor type, data past the end, …), a missing or mistyped metadata key, an architecture or
/// tokenizer ntkgap cannot build, a tensor type it cannot dequantize, or a config that does not
/// validate; as [`super::load::load_dir`] for label words and `chat`.
pub fn load_gguf(path: &Path, options: &DecoderOptions, device: &Device) -> Result<LoadedDecoder> {
    let file = GgufFile::open(path)?;
    let view = HfView::new(&file)?;
    let config = DecoderConfig::from_json(view.config()).map_err(|e| crate::Error::bad_input(path, e.to_string()))?;
    // Cheap failures first: the tokenizer and the chat template before any tensor is read.
    let tokenizer = crate::tokenize::gguf::tokenizer(&file)?;
    let chat = if options.chat { Some(require_chat(ChatTemplate::from_gguf(&file)?, path)?) } else { None };
    let mut weights = WeightMap::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for t in view.tensors() {
        let (shape, values) = view.read(&t.hf_name)?;
        weights.insert(t.hf_name.clone(), HostTensor::new(shape, values)?);
        if let Some(info) = file.tensor(&t.gguf_name) {
            *types.entry(info.ggml_type().to_string()).or_default() += 1;
        }
    }
    let counts: Vec<String> = types.iter().map(|(ty, n)| format!("{n} {ty}")).collect();
    let note = format!("note: dequantized {} GGUF tensors to f32 ({})", view.tensors().len(), counts.join(", "));
    let files = DecoderFiles {
        config_json: view.config().clone(),
        tokenizer_json: tokenizer.to_json()?,
        extra: tokenizer_config(&file)?.into_iter().collect(),
    };
    let source = Source {
        config,
        weights,
        weights_path: path.to_path_buf(),
        tokenizer,
        tokenizer_path: path.to_path_buf(),
        chat,
        files,
        notes: vec![note],
    };
    assemble(source, options, device)
}

/// A `tokenizer_config.json` with what a saved checkpoint needs to render chats again: the
/// GGUF's chat template and its BOS/EOS strings (None when the file has no chat template).
fn tokenizer_config(file: &GgufFile) -> Result<Option<(String, String)>> {
    let Some(template) = file.get_str("tokenizer.chat_template")? else { return Ok(None) };
    let tokens = file.get_array("tokenizer.ggml.tokens")?.and_then(|a| a.as_strs());
    let token = |key: &str| -> Result<Option<String>> {
        let id = file.get_u32(&format!("tokenizer.ggml.{key}"))?;
        Ok(id.and_then(|id| tokens.and_then(|t| t.get(id as usize))).cloned())
    };
    let config = serde_json::json!({
        "chat_template": template,
        "bos_token": token("bos_token_id")?,
        "eos_token": token("eos_token_id")?,
        "add_bos_token": file.get_bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false),
    });
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| crate::Error::Serialize { what: "tokenizer_config.json".into(), source: e })?;
    Ok(Some(("tokenizer_config.json".into(), text)))
}
