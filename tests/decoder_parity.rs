//! Parity of the burn decoders with Hugging Face `transformers` (eval mode, float32, eager
//! attention): the fixtures of `scripts/make_decoder_fixtures.py` (tests/data/README.md) hold
//! the input ids and the logits at the last real token of 8 texts per model and of a right- and
//! a left-padded batch. Logits must agree within 1e-4 absolute: the full 512-entry next-token
//! vectors and the margins z[" Yes"] − z[" No"] of `llama_tiny` (GQA, tied), `llama_untied_tiny`
//! (MQA, untied, top-level `rope_theta`), `qwen2_tiny` (q/k/v biases) and `gpt2_tiny`, and
//! the class logits of the two sequence classifiers. `ntkgap forward` writes the N × 2
//! label-word logits of the same cases (records verbatim or through the default template).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use ntkgap::model::decoder::{DecoderBatch, DecoderLm, LoadedDecoder};
use ntkgap::model::dense::tensor_to_host;
use ntkgap::model::{load_any, AnyModel, DecoderOptions, LoadOptions, ModelSpec};
use ntkgap::tokenize::PaddedBatch;

use crate::common::{ntkgap, s, stderr};

const TOLERANCE: f64 = 1e-4;
const LANGUAGE_MODELS: [&str; 4] = ["llama_tiny", "llama_untied_tiny", "qwen2_tiny", "gpt2_tiny"];
const CLASSIFIERS: [&str; 2] = ["llama_seqcls_tiny", "gpt2_seqcls_tiny"];

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/decoders")
}

fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(data().join(format!("parity_{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn load_decoder(name: &str, device: &Device) -> LoadedDecoder {
    let spec = ModelSpec::Dir(data().join(name));
    match load_any(&spec, &LoadOptions::default(), &DecoderOptions::default(), device).unwrap() {
        AnyModel::Decoder(d) => *d,
        AnyModel::Encoder(_) => panic!("{name} loaded as an encoder"),
    }
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// Largest |a − b|, asserting it is within the tolerance.
fn compare(what: &str, got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got.iter().zip(want).map(|(a, b)| (f64::from(*a) - b).abs()).fold(0.0, f64::max);
    assert!(worst <= TOLERANCE, "{what}: max |Δ| = {worst:.2e} vs transformers");
    worst
}

/// A padded batch exactly as the fixture holds it (left or right padding).
fn fixture_batch(batch: &serde_json::Value) -> PaddedBatch {
    let rows: Vec<Vec<u32>> = batch["input_ids"].as_array().unwrap().iter().map(ids).collect();
    let masks: Vec<Vec<u32>> = batch["attention_mask"].as_array().unwrap().iter().map(ids).collect();
    let (n, t) = (rows.len(), rows[0].len());
    PaddedBatch {
        batch_size: n,
        seq_len: t,
        ids: rows.concat(),
        token_type_ids: vec![0; n * t],
        attention_mask: masks.concat(),
        lengths: vec![t; n],
    }
}

fn single(model: &DecoderLm, ids: &[u32], device: &Device) -> DecoderBatch {
    let padded = PaddedBatch {
        batch_size: 1,
        seq_len: ids.len(),
        ids: ids.to_vec(),
        token_type_ids: vec![0; ids.len()],
        attention_mask: vec![1; ids.len()],
        lengths: vec![ids.len()],
    };
    DecoderBatch::new(&padded, &model.config, device).unwrap()
}

/// The readout of a model on one fixture case: full vocabulary logits (language models) or
/// class logits.
fn outputs(model: &DecoderLm, batch: &DecoderBatch, classifier: bool) -> Vec<f32> {
    let t = if classifier { model.logits(batch, None) } else { model.vocab_logits(batch, None).unwrap() };
    tensor_to_host(t).unwrap().data
}

fn check_model(name: &str, classifier: bool) {
    let device = Device::flex();
    let loaded = load_decoder(name, &device);
    let expected = fixture(name);
    let key = if classifier { "logits" } else { "logits_last" };
    let (mut worst, mut worst_margin) = (0.0f64, 0.0f64);
    for (i, case) in expected["cases"].as_array().unwrap().iter().enumerate() {
        let text = case["text"].as_str().unwrap();
        let encoded = loaded.tokenizer.encode(text).unwrap();
        assert_eq!(encoded.ids, ids(&case["input_ids"]), "{name} case {i}: tokenization");
        let batch = single(&loaded.model, &encoded.ids, &device);
        worst = worst.max(compare(
            &format!("{name} case {i}"),
            &outputs(&loaded.model, &batch, classifier),
            &floats(&case[key]),
        ));
        if !classifier {
            let margin = tensor_to_host(loaded.model.score(&batch, None)).unwrap().data[0];
            let d = (f64::from(margin) - case["margin"].as_f64().unwrap()).abs();
            assert!(d <= TOLERANCE, "{name} case {i}: margin {margin} vs {}", case["margin"]);
            worst_margin = worst_margin.max(d);
        }
    }
    let batches = &expected["batches"];
    for (side, variant) in [("right", "default"), ("left", "generate")] {
        let b = &batches[side];
        let batch = DecoderBatch::new(&fixture_batch(b), &loaded.model.config, &device).unwrap();
        let got = outputs(&loaded.model, &batch, classifier);
        let want_key = if classifier { "logits" } else { "logits_last_real" };
        let want: Vec<f64> = b[variant][want_key].as_array().unwrap().iter().flat_map(floats).collect();
        worst = worst.max(compare(&format!("{name} {side}-padded batch"), &got, &want));
    }
    eprintln!("{name}: max |Δlogit| = {worst:.2e}, max |Δmargin| = {worst_margin:.2e} (8 cases, 2 padded batches)");
}

#[test]
fn llama_tiny_matches_transformers() {
    check_model("llama_tiny", false);
}

#[test]
fn llama_untied_tiny_matches_transformers() {
    check_model("llama_untied_tiny", false);
}

#[test]
fn qwen2_tiny_matches_transformers() {
    check_model("qwen2_tiny", false);
}

#[test]
fn gpt2_tiny_matches_transformers() {
    check_model("gpt2_tiny", false);
}

#[test]
fn sequence_classifiers_match_transformers() {
    for name in CLASSIFIERS {
        check_model(name, true);
    }
}

/// The fixture cases as JSONL records: verbatim texts as `{"text"}`, templated ones split
/// back into `{"premise", "hypothesis"}` (so the default template is exercised).
fn records(expected: &serde_json::Value) -> String {
    let mut out = String::new();
    for case in expected["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let record = if case["kind"] == "template" {
            let body =
                text.strip_prefix("Premise: ").unwrap().strip_suffix("\nIs the hypothesis true? Answer:").unwrap();
            let (premise, hypothesis) = body.split_once("\nHypothesis: ").unwrap();
            serde_json::json!({"premise": premise, "hypothesis": hypothesis})
        } else {
            serde_json::json!({"text": text})
        };
        out.push_str(&record.to_string());
        out.push('\n');
    }
    out
}

fn forward(dir: &Path, input: &Path, out: &Path, batch: &str) {
    let run = ntkgap(&["forward", "--model", s(dir), "--input", s(input), "--out", s(out), "--batch", batch]);
    assert!(run.status.success(), "forward failed: {}", stderr(&run));
}

#[test]
fn forward_writes_label_word_logits() {
    let tmp = tempfile::tempdir().unwrap();
    for name in LANGUAGE_MODELS {
        let expected = fixture(name);
        let [no, yes] = [0, 1].map(|k| expected["label_ids"][k].as_u64().unwrap() as usize);
        assert_eq!((no, yes), (411, 412));
        let input = tmp.path().join(format!("{name}.jsonl"));
        std::fs::write(&input, records(&expected)).unwrap();
        for batch in ["1", "3"] {
            let out = tmp.path().join(format!("{name}-{batch}.npy"));
            forward(&data().join(name), &input, &out, batch);
            let array = ntkgap::files::npy::read(&out).unwrap();
            assert_eq!(array.shape(), vec![8, 2], "{name}");
            let want: Vec<f64> = expected["cases"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| {
                    let l = floats(&c["logits_last"]);
                    [l[no], l[yes]]
                })
                .collect();
            let got: Vec<f32> = array.as_slice().iter().map(|&v| v as f32).collect();
            compare(&format!("{name} forward --batch {batch}"), &got, &want);
        }
    }
}

#[test]
fn forward_writes_class_logits_of_sequence_classifiers() {
    let tmp = tempfile::tempdir().unwrap();
    for name in CLASSIFIERS {
        let expected = fixture(name);
        let input = tmp.path().join(format!("{name}.jsonl"));
        std::fs::write(&input, records(&expected)).unwrap();
        let out = tmp.path().join(format!("{name}.npy"));
        forward(&data().join(name), &input, &out, "4");
        let array = ntkgap::files::npy::read(&out).unwrap();
        assert_eq!(array.shape(), vec![8, 2], "{name}");
        let want: Vec<f64> = expected["cases"].as_array().unwrap().iter().flat_map(|c| floats(&c["logits"])).collect();
        let got: Vec<f32> = array.as_slice().iter().map(|&v| v as f32).collect();
        compare(&format!("{name} forward"), &got, &want);
    }
}
