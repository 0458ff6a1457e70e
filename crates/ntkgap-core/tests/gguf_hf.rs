//! The Hugging Face view of GGUF files equals what transformers loads from them, exactly: every
//! tensor's float32 bytes (SHA-256) and the config values, for tiny Llama (Q/K un-permuted), Qwen2
//! (biases, no permutation) and GPT-2 (Conv1D transposes) conversions and for the real SmolLM2
//! Q4_1 file. Also the view's refusals.
//!
//! Fixtures: tests/data/gguf/*_tiny.gguf + *_tiny_hf.json and smollm2_hf.json
//! (`scripts/make_gguf_fixtures.py`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use ntkgap_core::gguf::hf::{HfArchitecture, HfView};
use ntkgap_core::gguf::GgufFile;

use crate::gguf_errors::GgufBuilder;
use crate::prereq::{require, root, smollm2_gguf};

#[derive(Deserialize)]
struct Expected {
    shape: Vec<usize>,
    sha256: String,
    #[serde(default)]
    rows_first16: BTreeMap<String, Vec<f32>>,
}

#[derive(Deserialize)]
struct Fixture {
    config: Value,
    tensors: BTreeMap<String, Expected>,
}

fn data(name: &str) -> PathBuf {
    root().join("tests/data/gguf").join(name)
}

fn fixture(path: &Path) -> Fixture {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sha256_f32(values: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every expected tensor read through the view hashes the same; returns how many were compared.
fn compare_tensors(view: &HfView<'_>, fx: &Fixture, all_view_tensors_expected: bool) -> usize {
    let tied = view.config()["tie_word_embeddings"] == Value::Bool(true);
    let mut compared = 0;
    for (name, want) in &fx.tensors {
        if name == "lm_head.weight" && tied {
            assert!(view.tensor(name).is_none(), "tied, yet the view has {name}");
            continue;
        }
        let (shape, values) = view.read(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(shape, want.shape, "{name}");
        assert_eq!(sha256_f32(&values), want.sha256, "{name}: first values {:?}", &values[..4.min(values.len())]);
        for (row, first) in &want.rows_first16 {
            let r: usize = row.parse().unwrap();
            assert_eq!(&values[r * shape[1]..r * shape[1] + 16], first.as_slice(), "{name} row {r}");
        }
        compared += 1;
    }
    if all_view_tensors_expected {
        for t in view.tensors() {
            assert!(fx.tensors.contains_key(&t.hf_name), "{} is not a transformers parameter", t.hf_name);
        }
    }
    compared
}

fn check_config(view: &HfView<'_>, fx: &Fixture, keys: &[&str]) {
    for key in keys {
        assert_eq!(view.config()[key], fx.config[key], "config {key}");
    }
}

#[test]
fn tiny_llama_view_equals_transformers() {
    let file = GgufFile::open(data("llama_tiny.gguf")).unwrap();
    let view = HfView::new(&file).unwrap();
    assert_eq!(view.architecture(), HfArchitecture::Llama);
    let fx = fixture(&data("llama_tiny_hf.json"));
    check_config(&view, &fx, &LLAMA_KEYS);
    assert_eq!(view.config()["rope_theta"], fx.config["rope_parameters"]["rope_theta"]);
    assert_eq!(view.config()["tie_word_embeddings"], true);
    assert_eq!(view.config()["bos_token_id"], 1);
    let q = view.tensor("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!((q.gguf_name.as_str(), q.shape.as_slice()), ("blk.0.attn_q.weight", &[32, 32][..]));
    assert_eq!(compare_tensors(&view, &fx, true), 20);
}

const LLAMA_KEYS: [&str; 11] = [
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "rms_norm_eps",
    "max_position_embeddings",
    "vocab_size",
    "tie_word_embeddings",
    "model_type",
];

#[test]
fn tiny_qwen2_view_equals_transformers() {
    let file = GgufFile::open(data("qwen2_tiny.gguf")).unwrap();
    let view = HfView::new(&file).unwrap();
    assert_eq!(view.architecture(), HfArchitecture::Qwen2);
    let fx = fixture(&data("qwen2_tiny_hf.json"));
    let keys: Vec<&str> = LLAMA_KEYS.iter().copied().filter(|k| *k != "head_dim").collect();
    check_config(&view, &fx, &keys);
    assert_eq!(view.config()["rope_theta"], 1e6);
    assert!(view.tensor("model.layers.1.self_attn.v_proj.bias").is_some());
    assert_eq!(compare_tensors(&view, &fx, true), 26);
}

#[test]
fn tiny_gpt2_view_equals_transformers() {
    let file = GgufFile::open(data("gpt2_tiny.gguf")).unwrap();
    let view = HfView::new(&file).unwrap();
    assert_eq!(view.architecture(), HfArchitecture::Gpt2);
    let fx = fixture(&data("gpt2_tiny_hf.json"));
    check_config(&view, &fx, &["n_embd", "n_layer", "n_head", "n_positions", "layer_norm_epsilon", "vocab_size"]);
    let c_attn = view.tensor("transformer.h.0.attn.c_attn.weight").unwrap();
    assert_eq!(c_attn.shape, [32, 96], "Conv1D layout [in, out]");
    assert_eq!(file.tensor("blk.0.attn_qkv.weight").unwrap().shape(), [96, 32]);
    assert_eq!(compare_tensors(&view, &fx, true), 28);
}

#[test]
fn smollm2_view_equals_transformers() {
    let path = smollm2_gguf();
    if !require("the SmolLM2 HF-view test", &path) {
        return;
    }
    let file = GgufFile::open(&path).unwrap();
    let view = HfView::new(&file).unwrap();
    let fx = fixture(&data("smollm2_hf.json"));
    // The config recorded by the decoder fixtures (transformers' own config of this file).
    let logits: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/data/decoders/smollm2_logits.json")).unwrap())
            .unwrap();
    let want = &logits["config"];
    for key in
        LLAMA_KEYS.iter().filter(|k| **k != "model_type").chain(&["bos_token_id", "eos_token_id", "pad_token_id"])
    {
        assert_eq!(view.config()[key], want[key], "config {key}");
    }
    assert_eq!(view.config()["rope_theta"], want["rope_parameters"]["rope_theta"]);
    assert_eq!(compare_tensors(&view, &fx, false), 20);
    // The decoder fixture's probes: HF rows after un-permutation, and GGUF rows as stored.
    let probes = &logits["weight_probes"]["model.layers.0.self_attn.q_proj.weight"];
    let (_, q) = view.read("model.layers.0.self_attn.q_proj.weight").unwrap();
    let (_, raw) = file.read_f32("blk.0.attn_q.weight").unwrap();
    let first16 =
        |v: &[f32], row: usize| v[row * 576..row * 576 + 16].iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let as_f64 =
        |v: &Value| v.as_array().unwrap().iter().map(|x| f64::from(x.as_f64().unwrap() as f32)).collect::<Vec<_>>();
    assert_eq!(first16(&q, 1), as_f64(&probes["row1_first16"]));
    assert_eq!(first16(&raw, 1), as_f64(&probes["gguf_raw"]["row1_first16"]));
    assert_eq!(first16(&q, 1), first16(&raw, 2), "HF row 1 = GGUF row 2 (i = 1, j = 0)");
}

#[test]
fn view_refusals_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, b: GgufBuilder, want: &str| {
        let path = dir.path().join(name);
        b.write(&path);
        let file = GgufFile::open(&path).unwrap();
        let err = HfView::new(&file).unwrap_err().to_string();
        assert_eq!(err, format!("{}: {want}", path.display()));
    };
    let llama = || {
        GgufBuilder::new()
            .kv_str("general.architecture", "llama")
            .kv_u32("llama.embedding_length", 8)
            .kv_u32("llama.attention.head_count", 2)
            .kv_u32("llama.feed_forward_length", 16)
            .kv_u32("llama.block_count", 1)
            .kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
            .kv_u32("llama.context_length", 64)
            .kv_u32("llama.vocab_size", 4)
    };
    check(
        "mamba.gguf",
        GgufBuilder::new().kv_str("general.architecture", "mamba"),
        "architecture mamba is not supported (supported: llama, qwen2, gpt2)",
    );
    check(
        "nokey.gguf",
        GgufBuilder::new().kv_str("general.architecture", "llama"),
        "metadata key llama.embedding_length is missing",
    );
    check("noarch.gguf", GgufBuilder::new(), "metadata key general.architecture is missing");
    check(
        "yarn.gguf",
        llama().kv_str("llama.rope.scaling.type", "yarn"),
        "llama.rope.scaling.type is \"yarn\": scaled rope is not supported (only unscaled rope)",
    );
    check(
        "linear.gguf",
        llama().kv_f32("llama.rope.scaling.factor", 4.0),
        "llama.rope.scaling.factor is 4: scaled rope is not supported (only unscaled rope)",
    );
    check(
        "freqs.gguf",
        llama().tensor("rope_freqs.weight", &[2], 0, vec![0; 8]),
        "tensor rope_freqs.weight holds rope frequency factors (Llama 3.1-style rope scaling), which ntkgap does not \
         support",
    );
    check(
        "partial.gguf",
        llama().kv_u32("llama.rope.dimension_count", 2),
        "llama.rope.dimension_count is 2 but the head dimension is 4: partial rotary is not supported",
    );
    check(
        "unknown.gguf",
        llama().tensor("blk.0.ssm_a", &[4], 0, vec![0; 16]),
        "tensor blk.0.ssm_a has no Hugging Face name in a llama model",
    );
    check(
        "oddq.gguf",
        llama().tensor("blk.0.attn_q.weight", &[8, 6], 0, vec![0; 192]),
        "tensor blk.0.attn_q.weight has shape [6, 8]: its rows cannot be split into 2 heads of even size",
    );
    check(
        "vocab.gguf",
        llama().tensor("token_embd.weight", &[8, 5], 0, vec![0; 160]),
        "vocabulary size 4 (llama.vocab_size or the token list) differs from token_embd.weight's 5 rows",
    );
    check(
        "heads.gguf",
        llama().kv_u32("llama.attention.head_count_kv", 3),
        "2 attention heads cannot be shared by 3 key-value heads",
    );
    check(
        "theta.gguf",
        llama().kv_str("llama.rope.freq_base", "x"),
        "metadata key llama.rope.freq_base is a string (\"x\"), expected a float",
    );
}
