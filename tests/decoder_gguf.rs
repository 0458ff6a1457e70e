//! Decoders from GGUF files: SmolLM2-135M-Instruct (Q4_1) against the logits transformers
//! computes from the same file (`tests/data/decoders/smollm2_logits.json`: 20 prompts of 150 to
//! 503 tokens, the label words' logits, the top 10 and 16 fixed ids), its chat prompt ids, the
//! tiny GGUF fixtures against their safetensors twins, and a GGUF-loaded model saved as a
//! Hugging Face directory and reloaded.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use ntkgap::gguf::GgufFile;
use ntkgap::model::decoder::gguf::load_gguf;
use ntkgap::model::decoder::load::load_dir;
use ntkgap::model::decoder::{DecoderBatch, LoadedDecoder, PromptTemplate, PromptTokenizer};
use ntkgap::model::dense::tensor_to_host;
use ntkgap::model::DecoderOptions;
use ntkgap::tokenize::chat::ChatTemplate;
use ntkgap::tokenize::{pad_batch, Tokenizer};

use crate::common::{missing, ntkgap, s, stderr};

/// Label-word logits must agree with transformers within this (absolute).
const TOLERANCE: f64 = 1e-3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn smollm2() -> PathBuf {
    root().join(".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The SmolLM2 GGUF, or `None` after [`missing`] (a failure under `CI`).
fn smollm2_or_skip(test: &str) -> Option<PathBuf> {
    let path = smollm2();
    if path.is_file() {
        return Some(path);
    }
    missing(test, &format!("{} is absent (scripts/fetch_models.sh fetches it)", path.display()));
    None
}

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("tests/data/decoders/smollm2_logits.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// Next-token logits `[N][V]` of `texts` (verbatim), in their order: φ through
/// `infer::features` in batches of 4 (on the CPU the hand-written forward on packed tokens,
/// sharing the prompts' common prefix; the lengths within a batch differ), then the tied
/// unembedding (`DecoderLm::vocab_logits_of`).
fn vocab_logits(loaded: &LoadedDecoder, texts: &[&str], device: &Device) -> Vec<Vec<f32>> {
    let pad = loaded.tokenizer.pad_id().unwrap();
    let encodings: Vec<_> = texts.iter().map(|t| loaded.tokenizer.encode(t).unwrap()).collect();
    let phi = ntkgap::model::decoder::infer::features(&loaded.model, &encodings, pad, 4, device).unwrap();
    let logits = tensor_to_host(loaded.model.vocab_logits_of(phi.as_slice().unwrap(), device).unwrap()).unwrap();
    logits.data.chunks(logits.shape[1]).map(<[f32]>::to_vec).collect()
}

fn top10(logits: &[f32]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..logits.len() as u32).collect();
    order.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
    order.truncate(10);
    order
}

#[test]
fn smollm2_gguf_gives_the_label_word_logits_of_transformers() {
    let Some(path) = smollm2_or_skip("smollm2_gguf_gives_the_label_word_logits_of_transformers") else { return };
    let expected = fixture();
    let device = Device::flex();
    let started = Instant::now();
    let loaded = load_gguf(&path, &DecoderOptions::default(), &device).unwrap();
    let load_seconds = started.elapsed().as_secs_f64();
    let label_ids = ids(&expected["label_ids"]);
    let ntkgap::model::decoder::Readout::LabelWords { ids: readout_ids, .. } = loaded.model.readout.clone() else {
        panic!("SmolLM2 reads out label words")
    };
    assert_eq!(readout_ids.to_vec(), label_ids, "\" No\" / \" Yes\" token ids");
    let records = expected["records"].as_array().unwrap();
    let texts: Vec<&str> = records.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let mut long = 0;
    for (r, text) in records.iter().zip(&texts) {
        let encoded = loaded.tokenizer.encode(text).unwrap();
        assert_eq!(encoded.ids, ids(&r["input_ids"]), "{}: tokenization (no BOS)", r["query_id"]);
        long += usize::from((150..=600).contains(&encoded.len()));
    }
    assert!(long >= 16, "only {long} prompts of 150-600 tokens");
    let started = Instant::now();
    let logits = vocab_logits(&loaded, &texts, &device);
    let per_prompt = started.elapsed().as_secs_f64() / texts.len() as f64;
    let fixed = ids(&expected["fixed_ids"]);
    let (mut worst_label, mut worst_fixed) = (0.0f64, 0.0f64);
    for (i, (r, z)) in records.iter().zip(&logits).enumerate() {
        for (k, want) in floats(&r["logits_label"]).iter().enumerate() {
            let d = (f64::from(z[label_ids[k] as usize]) - want).abs();
            assert!(d <= TOLERANCE, "prompt {i}: label word {k}: {} vs transformers {want}", z[label_ids[k] as usize]);
            worst_label = worst_label.max(d);
        }
        for (id, want) in fixed.iter().zip(floats(&r["fixed_logits"])) {
            let d = (f64::from(z[*id as usize]) - want).abs();
            assert!(d <= TOLERANCE, "prompt {i}: id {id}: {} vs transformers {want}", z[*id as usize]);
            worst_fixed = worst_fixed.max(d);
        }
        let (ours, want) = (top10(z), ids(&r["top10_ids"]));
        for (k, (&a, &b)) in ours.iter().zip(&want).enumerate() {
            // Equal ids, or a near tie (their logits within the tolerance) that may swap.
            let tie = (z[a as usize] - z[b as usize]).abs() as f64 <= TOLERANCE;
            assert!(a == b || tie, "prompt {i}: top-10 rank {k}: id {a} vs transformers {b} ({ours:?} vs {want:?})");
        }
    }
    eprintln!(
        "smollm2 Q4_1 GGUF: 20 prompts ({long} of 150-600 tokens): max |Δ label logit| = {worst_label:.2e}, \
         max |Δ fixed-id logit| = {worst_fixed:.2e}, top-10 ids agree; load {load_seconds:.1} s, \
         {per_prompt:.2} s per prompt (batches of 4, CPU: the hand-written forward)"
    );
}

#[test]
fn smollm2_chat_prompts_are_the_ids_transformers_renders() {
    let Some(path) = smollm2_or_skip("smollm2_chat_prompts_are_the_ids_transformers_renders") else { return };
    let expected = fixture();
    let file = GgufFile::open(&path).unwrap();
    let chat = ChatTemplate::from_gguf(&file).unwrap().unwrap();
    let tokenizer = ntkgap::tokenize::gguf::tokenizer(&file).unwrap();
    let prompts = PromptTokenizer::new(tokenizer, PromptTemplate::default(), Some(chat), 8192, 2);
    // The second fixture chat is one record through the default template, as the user message.
    let case = &expected["chats"][1];
    let content = case["messages"][0]["content"].as_str().unwrap();
    let (premise, rest) = content.strip_prefix("Premise: ").unwrap().split_once("\nHypothesis: ").unwrap();
    let hypothesis = rest.split_once("\nIs the hypothesis true?").unwrap().0;
    assert_eq!(prompts.prompt(premise, hypothesis).unwrap(), case["rendered"].as_str().unwrap());
    let encoded = prompts.encode_pair(premise, hypothesis).unwrap();
    assert_eq!(encoded.ids, ids(&case["ids_add_special_tokens_false"]), "chat prompt ids");
    // After `<|im_start|>assistant\n` the answer has no leading space; both spellings are one token.
    assert_eq!((prompts.single_token("No").unwrap(), prompts.single_token("Yes").unwrap()), (5230, 10539));
    assert_eq!((prompts.single_token(" No").unwrap(), prompts.single_token(" Yes").unwrap()), (2838, 9230));
    // Through the binary: --chat takes "No"/"Yes" by default and records the prompting in meta.json.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.jsonl");
    let record = serde_json::json!({"premise": premise, "hypothesis": hypothesis});
    std::fs::write(&input, format!("{record}\n")).unwrap();
    let out = tmp.path().join("chat.npy");
    let run = ntkgap(&["forward", "--model", s(&path), "--chat", "--input", s(&input), "--out", s(&out)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("chat.meta.json")).unwrap()).unwrap();
    let prompting = &meta["extra"]["prompting"];
    assert_eq!(prompting["chat"], true);
    assert_eq!(prompting["label_words"], serde_json::json!(["No", "Yes"]));
    assert_eq!(prompting["label_ids"], serde_json::json!([5230, 10539]));
    assert!(prompting["chat_template"].as_str().unwrap().contains("<|im_start|>"));
}

fn gguf_fixture(name: &str) -> PathBuf {
    root().join("tests/data/gguf").join(name)
}

fn decoder_dir(name: &str) -> PathBuf {
    root().join("tests/data/decoders").join(name)
}

const TEXTS: [&str; 3] = [
    "Does Z cause Y? Answer:",
    "Premise: Z correlates with Y.\nHypothesis: Z directly causes Y.\nIs the hypothesis true? Answer:",
    "A B C",
];

fn label_logits(loaded: &LoadedDecoder, device: &Device) -> Vec<f32> {
    let pad = loaded.tokenizer.pad_id().unwrap();
    let encodings: Vec<_> = TEXTS.iter().map(|t| loaded.tokenizer.encode(t).unwrap()).collect();
    let batch = DecoderBatch::new(&pad_batch(&encodings, pad).unwrap(), &loaded.model.config, device).unwrap();
    tensor_to_host(loaded.model.logits(&batch, None)).unwrap().data
}

#[test]
fn tiny_ggufs_load_as_their_safetensors_twins() {
    // The GGUFs hold the same models with most tensors in Q8_0 / F16: the tokenizers agree exactly;
    // every parameter of the built model (Q/K un-permuted, Conv1D layouts) is within the
    // quantization error transformers measured for that tensor (tests/data/gguf/*_hf.json), and the
    // logits within a loose bound (random weights of σ 0.25 amplify the rounding).
    let device = Device::flex();
    for (gguf, dir, bound) in [("llama_tiny.gguf", "llama_tiny", 0.5), ("gpt2_tiny.gguf", "gpt2_tiny", 0.5)] {
        let from_gguf = load_gguf(&gguf_fixture(gguf), &DecoderOptions::default(), &device).unwrap();
        let from_dir = load_dir(&decoder_dir(dir), &DecoderOptions::default(), &device).unwrap();
        let stem = gguf.trim_end_matches(".gguf");
        let text = std::fs::read_to_string(gguf_fixture(&format!("{stem}_hf.json"))).unwrap();
        let measured: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (ours, theirs) = (from_gguf.model.to_weights().unwrap(), from_dir.model.to_weights().unwrap());
        assert_eq!(ours.names(), theirs.names(), "{gguf}: parameter names");
        for name in ours.names() {
            let (a, b) = (ours.get(&name).unwrap(), theirs.get(&name).unwrap());
            assert_eq!(a.shape, b.shape, "{gguf}: {name}");
            let worst = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            let allowed = measured["tensors"][&name]["max_abs_diff_vs_safetensors"].as_f64().unwrap();
            assert!(f64::from(worst) <= allowed + 1e-7, "{gguf}: {name}: max |Δ| {worst} > {allowed} (transformers)");
        }
        for t in TEXTS {
            let (a, b) = (from_gguf.tokenizer.encode(t).unwrap(), from_dir.tokenizer.encode(t).unwrap());
            assert_eq!(a.ids, b.ids, "{gguf}: {t:?}");
        }
        assert_eq!(from_gguf.model.readout, from_dir.model.readout, "{gguf}: label words");
        let (a, b) = (label_logits(&from_gguf, &device), label_logits(&from_dir, &device));
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(f64::from(worst) < bound, "{gguf}: max |Δ| = {worst} vs the safetensors model");
        eprintln!("{gguf}: max |Δ label logit| vs {dir} = {worst:.2e}");
        assert!(
            from_gguf.notes.iter().any(|n| n.contains("dequantized") && n.contains("Q8_0")),
            "{:?}",
            from_gguf.notes
        );
    }
    // qwen2_tiny.gguf carries no tokenizer: refused in one line naming the file and the key.
    let e = load_gguf(&gguf_fixture("qwen2_tiny.gguf"), &DecoderOptions::default(), &device).err().unwrap().to_string();
    assert!(e.contains("qwen2_tiny.gguf") && e.contains("tokenizer.ggml.model is missing"), "{e}");
}

fn same_prompt(a: &LoadedDecoder, b: &LoadedDecoder) {
    let (p, h) = ("Z correlates with Y.", "Z directly causes Y.");
    assert_eq!(a.tokenizer.encode_pair(p, h).unwrap(), b.tokenizer.encode_pair(p, h).unwrap());
}

#[test]
fn a_gguf_loaded_model_saves_as_a_directory_that_reloads_to_the_same_logits() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("saved");
    let gguf = gguf_fixture("llama_tiny.gguf");
    let loaded = load_gguf(&gguf, &DecoderOptions::default(), &device).unwrap();
    ntkgap::model::decoder::save::save(&loaded.model, &loaded.files, &dir).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        assert!(dir.join(f).is_file(), "{f} not saved");
    }
    let reloaded = load_dir(&dir, &DecoderOptions::default(), &device).unwrap();
    assert_eq!(label_logits(&reloaded, &device), label_logits(&loaded, &device), "reloaded logits");
    same_prompt(&loaded, &reloaded);
    // The chat template travels in tokenizer_config.json: --chat renders the same prompt.
    // ("Yes" without a space is two tokens in this tiny BPE, so the label words are given.)
    let words = Some([" No".to_string(), " Yes".to_string()]);
    let chat = DecoderOptions { chat: true, label_words: words, ..Default::default() };
    let (a, b) = (load_gguf(&gguf, &chat, &device).unwrap(), load_dir(&dir, &chat, &device).unwrap());
    same_prompt(&a, &b);
    assert_eq!(a.prompting, b.prompting);
    assert!(a.prompting.chat && a.prompting.chat_template.is_some());
    let e = load_gguf(&gguf, &DecoderOptions { chat: true, ..Default::default() }, &device).err().unwrap();
    assert!(e.to_string().contains("\"Yes\" is 2 tokens"), "{e}");
}

/// `bytes` of the committed llama_tiny.gguf.
pub(crate) fn tiny_gguf_bytes() -> Vec<u8> {
    std::fs::read(gguf_fixture("llama_tiny.gguf")).unwrap()
}

/// The byte offset of tensor `name`'s ggml type field in a GGUF image (after its name, dims count
/// and dims).
pub(crate) fn tensor_type_offset(bytes: &[u8], name: &str) -> usize {
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(name.as_bytes());
    let start = bytes.windows(needle.len()).position(|w| w == needle.as_slice()).expect("tensor info present");
    let dims_at = start + needle.len();
    let n_dims = u32::from_le_bytes(bytes[dims_at..dims_at + 4].try_into().unwrap()) as usize;
    dims_at + 4 + 8 * n_dims
}

/// `bytes` with `from` replaced by `to` (same length) once.
pub(crate) fn replace_once(bytes: &mut [u8], from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let at = bytes.windows(from.len()).position(|w| w == from.as_bytes()).expect("key present");
    bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
}
