//! Parity of the eNTK with PyTorch (eNTK issue, "Correctness"): ntkgap's default method
//! (`GramOptions::default()`) on the pretrained all-MiniLM-L6-v2 plus the seed-0 head
//! (`tests/data/minilm_head_seed0.safetensors`) reproduces the Gram matrix that
//! `scripts/ntk_torch.py` computed with `torch.func` (`vmap(grad)` of the margin
//! logit₁ − logit₀ over all 22.7 M parameters, eval mode) on the 20 pairs of
//! `tests/data/model_parity_pairs.jsonl` at max length 128, stored in
//! `tests/data/ntk_parity_minilm.json`: max |Δ| / mean |K| below 1e-4 (measured 6.5e-7).
//!
//! The checkpoint is fetched by `scripts/fetch_models.sh` into `.cache/models/`; without it the
//! test prints a `SKIPPED: …` line and passes (as `tests/model_parity.rs` does). Python is never
//! run here: the fixture is read as JSON.

use crate::common;
use std::path::PathBuf;

use ntkgap::gpu::ComputeDevice;
use ntkgap::model::{load, LoadOptions, ModelSpec};
use ntkgap::ntk::{gram, GramOptions};

const TOLERANCE: f64 = 1e-4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture's K (rows) and its recorded input ids and token-type ids per example.
struct Fixture {
    k: Vec<Vec<f64>>,
    input_ids: Vec<Vec<u32>>,
    token_type_ids: Vec<Vec<u32>>,
}

fn ids(value: &serde_json::Value) -> Vec<u32> {
    value.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect()
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(root().join("tests/data/ntk_parity_minilm.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let k = json["K"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
        .collect();
    let inputs = json["inputs"].as_array().unwrap();
    Fixture {
        k,
        input_ids: inputs.iter().map(|r| ids(&r["input_ids"])).collect(),
        token_type_ids: inputs.iter().map(|r| ids(&r["token_type_ids"])).collect(),
    }
}

#[test]
fn minilm_gram_matches_torch_func() {
    let dir = root().join(".cache/models/all-MiniLM-L6-v2");
    if !dir.join("model.safetensors").is_file() {
        let reason = format!("{} is absent; run scripts/fetch_models.sh", dir.display());
        common::missing("minilm_gram_matches_torch_func", &reason);
        return;
    }
    let expected = fixture();
    let n = expected.k.len();
    assert!(n >= 16 && expected.k.iter().all(|row| row.len() == n), "fixture K must be square with ≥ 16 rows, got {n}");

    let device = ComputeDevice::cpu().device(true);
    let options = LoadOptions { seed: 0, head_file: Some(root().join("tests/data/minilm_head_seed0.safetensors")) };
    let mut loaded = load(&ModelSpec::Dir(dir), &options, &device).unwrap();
    loaded.tokenizer.set_max_length(128).unwrap();
    let pairs = std::fs::read_to_string(root().join("tests/data/model_parity_pairs.jsonl")).unwrap();
    let encodings: Vec<_> = pairs
        .lines()
        .map(|line| {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            loaded.tokenizer.encode_pair(r["premise"].as_str().unwrap(), r["hypothesis"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(encodings.len(), n, "one fixture row per pair");
    for (i, e) in encodings.iter().enumerate() {
        assert_eq!(e.ids, expected.input_ids[i], "record {i}: ntkgap and the fixture tokenize differently");
        assert_eq!(e.token_type_ids, expected.token_type_ids[i], "record {i}: token-type ids");
    }

    let pad_id = loaded.tokenizer.pad_id().unwrap();
    let k = gram(&loaded.classifier, &encodings, None, pad_id, &GramOptions::default(), &device, &mut |_| {}).unwrap();
    let reference: Vec<f64> = expected.k.concat();
    let scale = reference.iter().map(|v| v.abs()).sum::<f64>() / reference.len() as f64;
    let worst = k.as_slice().iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    eprintln!("{n} x {n} MiniLM eNTK: max |Δ| = {worst:.3e}, mean |K| = {scale:.4}, relative {:.2e}", worst / scale);
    assert!(
        worst / scale < TOLERANCE,
        "ntkgap ({:?}) vs torch.func: max |Δ| / mean |K| = {:e}",
        GramOptions::default().method,
        worst / scale
    );
}
