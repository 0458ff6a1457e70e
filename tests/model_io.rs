//! Loading and saving models: round trips, and one clear error per kind of bad checkpoint
//! (unsupported architecture, missing tensors, wrong shapes, non-finite weights, oversized
//! configs) naming every offending tensor.

use std::path::Path;

use ntkgap::model::dense::tensor_to_host;
use ntkgap::model::{load, save, Batch, BuiltinSize, LoadOptions, ModelSpec, WeightMap};
use ntkgap::tokenize::pad_batch;

const PREMISE: &str = "Suppose there is a closed system of 3 variables, A, B and C. All the statistical relations among these 3 variables are as follows: A correlates with B. However, A is independent of C.";

fn device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

fn logits_of(spec: &ModelSpec, options: &LoadOptions) -> Vec<f32> {
    let loaded = load(spec, options, &device()).unwrap();
    let tokenizer = loaded.tokenizer.as_ref();
    let encodings = vec![
        tokenizer.encode_pair(PREMISE, "A directly causes B.").unwrap(),
        tokenizer.encode_pair(PREMISE, "B directly causes A.").unwrap(),
    ];
    let batch =
        Batch::new(&pad_batch(&encodings, tokenizer.pad_id().unwrap()).unwrap(), &loaded.classifier.config, &device())
            .unwrap();
    tensor_to_host(loaded.classifier.logits(&batch, None)).unwrap().data
}

fn saved_tiny(dir: &Path, seed: u64) {
    let loaded =
        load(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed, head_file: None }, &device()).unwrap();
    save(&loaded.classifier, &loaded.tokenizer_json, dir).unwrap();
}

fn load_err(dir: &Path) -> String {
    match load(&ModelSpec::Dir(dir.to_path_buf()), &LoadOptions::default(), &device()) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn edit_weights(dir: &Path, edit: impl FnOnce(&mut WeightMap)) {
    let path = dir.join("model.safetensors");
    let mut w = WeightMap::read_safetensors(&path).unwrap();
    edit(&mut w);
    w.write_safetensors(&path).unwrap();
}

#[test]
fn builtin_is_seeded_and_save_load_round_trips_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let a = logits_of(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 5, head_file: None });
    let b = logits_of(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 5, head_file: None });
    let c = logits_of(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 6, head_file: None });
    assert_eq!(a, b);
    assert_ne!(a, c);
    saved_tiny(tmp.path(), 5);
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(tmp.path().join(f).is_file(), "{f} written");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["model_type"], "bert");
    let reloaded = logits_of(&ModelSpec::Dir(tmp.path().to_path_buf()), &LoadOptions::default());
    assert_eq!(reloaded, a, "saved and reloaded logits are bit-identical");
    // Saving twice gives identical bytes.
    let first = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
    let again = tempfile::tempdir().unwrap();
    saved_tiny(again.path(), 5);
    assert_eq!(first, std::fs::read(again.path().join("model.safetensors")).unwrap());
}

#[test]
fn missing_head_is_initialised_from_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    saved_tiny(tmp.path(), 1);
    edit_weights(tmp.path(), |w| {
        let mut kept = WeightMap::new();
        for n in w.names().into_iter().filter(|n| !n.starts_with("classifier")) {
            kept.insert(n.clone(), w.get(&n).unwrap().clone());
        }
        *w = kept;
    });
    let spec = ModelSpec::Dir(tmp.path().to_path_buf());
    let loaded = load(&spec, &LoadOptions { seed: 9, head_file: None }, &device()).unwrap();
    assert_eq!(loaded.initialised, vec!["classifier.weight".to_string(), "classifier.bias".to_string()]);
    assert!(loaded.notes[0].contains("no classification head"), "{:?}", loaded.notes);
    let a = logits_of(&spec, &LoadOptions { seed: 9, head_file: None });
    assert_eq!(a, logits_of(&spec, &LoadOptions { seed: 9, head_file: None }));
    assert_ne!(a, logits_of(&spec, &LoadOptions { seed: 10, head_file: None }));
}

#[test]
fn missing_and_misshapen_and_non_finite_tensors_are_all_named() {
    let tmp = tempfile::tempdir().unwrap();
    saved_tiny(tmp.path(), 1);
    edit_weights(tmp.path(), |w| {
        let mut out = WeightMap::new();
        for n in w.names() {
            let mut t = w.get(&n).unwrap().clone();
            if n.contains("layer.1.attention.self.key") || n == "bert.pooler.dense.bias" {
                continue;
            }
            if n == "bert.encoder.layer.0.intermediate.dense.weight" {
                t.shape = vec![t.shape[1], t.shape[0]];
            }
            if n == "bert.embeddings.LayerNorm.weight" {
                t.data[3] = f32::NAN;
            }
            out.insert(n, t);
        }
        *w = out;
    });
    let e = load_err(tmp.path());
    for expected in [
        "missing tensors: bert.encoder.layer.1.attention.self.key.weight, bert.encoder.layer.1.attention.self.key.bias, bert.pooler.dense.bias",
        "bert.encoder.layer.0.intermediate.dense.weight (expected [256, 64], found [64, 256])",
        "non-finite values in: bert.embeddings.LayerNorm.weight",
        "model.safetensors",
    ] {
        assert!(e.contains(expected), "`{expected}` not in: {e}");
    }
}

#[test]
fn unsupported_architecture_and_oversized_config_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    saved_tiny(tmp.path(), 1);
    let path = tmp.path().join("config.json");
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut other = original.clone();
    other["model_type"] = "falcon".into();
    std::fs::write(&path, other.to_string()).unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("unsupported architecture `falcon`"), "{e}");
    // A decoder type is refused by the encoder loader (`model::load_any` loads decoders).
    other["model_type"] = "gpt2".into();
    std::fs::write(&path, other.to_string()).unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("decoder-only model (`gpt2`)"), "{e}");
    let mut huge = original.clone();
    huge["hidden_size"] = 1_000_000_000u64.into();
    std::fs::write(&path, huge.to_string()).unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("hidden_size") && e.contains("outside"), "{e}");
    std::fs::remove_file(tmp.path().join("tokenizer.json")).unwrap();
    std::fs::write(&path, original.to_string()).unwrap();
    assert!(load_err(tmp.path()).contains("no tokenizer.json"));
}

#[test]
fn head_file_replaces_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    saved_tiny(tmp.path(), 1);
    let other = tempfile::tempdir().unwrap();
    saved_tiny(other.path(), 2);
    let all = WeightMap::read_safetensors(&other.path().join("model.safetensors")).unwrap();
    let mut head = WeightMap::new();
    for n in ["classifier.weight", "classifier.bias"] {
        head.insert(n, all.get(n).unwrap().clone());
    }
    let head_path = tmp.path().join("head.safetensors");
    head.write_safetensors(&head_path).unwrap();
    let spec = ModelSpec::Dir(tmp.path().to_path_buf());
    let with_head = logits_of(&spec, &LoadOptions { seed: 0, head_file: Some(head_path) });
    assert_ne!(with_head, logits_of(&spec, &LoadOptions::default()));
    let mut bad = WeightMap::new();
    bad.insert("bert.embeddings.LayerNorm.weight", all.get("bert.embeddings.LayerNorm.weight").unwrap().clone());
    let bad_path = tmp.path().join("bad_head.safetensors");
    bad.write_safetensors(&bad_path).unwrap();
    let e = load(&spec, &LoadOptions { seed: 0, head_file: Some(bad_path) }, &device()).err().unwrap().to_string();
    assert!(e.contains("unexpected tensors bert.embeddings.LayerNorm.weight"), "{e}");
}

#[test]
fn roberta_without_head_gets_dense_and_out_proj_from_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/roberta_tiny");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(source.join(f), tmp.path().join(f)).unwrap();
    }
    edit_weights(tmp.path(), |w| {
        let mut kept = WeightMap::new();
        for n in w.names().into_iter().filter(|n| !n.starts_with("classifier")) {
            kept.insert(n.clone(), w.get(&n).unwrap().clone());
        }
        *w = kept;
    });
    let loaded =
        load(&ModelSpec::Dir(tmp.path().to_path_buf()), &LoadOptions { seed: 2, head_file: None }, &device()).unwrap();
    let mut names = loaded.initialised.clone();
    names.sort();
    assert_eq!(
        names,
        ["classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias", "classifier.out_proj.weight"]
    );
    assert_eq!(loaded.classifier.config.architecture().unwrap(), ntkgap::model::Architecture::Roberta);
}
