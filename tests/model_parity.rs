//! Parity with Hugging Face `transformers` (eval mode): `ntkgap forward` logits equal the
//! logits `scripts/make_model_fixtures.py` recorded, within 1e-4 absolute, at max length 128.
//!
//! * BERT: the pretrained `sentence-transformers/all-MiniLM-L6-v2` (fetched by
//!   `scripts/fetch_models.sh` into `.cache/models/`; skipped with a message when absent) plus
//!   the seeded 2-label head `transformers` initialised, passed with `--head`.
//! * RoBERTa: a small random `RobertaForSequenceClassification` saved whole under
//!   `tests/data/roberta_tiny/`.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOLERANCE: f64 = 1e-4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("tests/data").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Run `ntkgap forward` and return the logits rows.
fn forward(model: &Path, head: Option<&Path>, batch: usize) -> Vec<Vec<f64>> {
    forward_on(model, head, batch, "auto")
}

/// [`forward`], with `NTKGAP_FORWARD` set to `engine` (`burn` pins burn's forward on the CPU).
fn forward_on(model: &Path, head: Option<&Path>, batch: usize, engine: &str) -> Vec<Vec<f64>> {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("logits.npy");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ntkgap"));
    cmd.env("NTKGAP_FORWARD", engine);
    cmd.arg("forward").arg("--model").arg(model).arg("--input").arg(root().join("tests/data/model_parity_pairs.jsonl"));
    cmd.args(["--max-len", "128", "--batch", &batch.to_string()]).arg("--out").arg(&out);
    if let Some(h) = head {
        cmd.arg("--head").arg(h);
    }
    let result = cmd.output().unwrap();
    assert!(result.status.success(), "forward failed: {}", String::from_utf8_lossy(&result.stderr));
    let array = ntkgap::files::npy::read(&out).unwrap();
    assert_eq!(array.shape().len(), 2);
    array.as_slice().chunks(array.shape()[1]).map(<[f64]>::to_vec).collect()
}

fn compare(name: &str, got: &[Vec<f64>], expected: &serde_json::Value) {
    let records = expected["records"].as_array().unwrap();
    assert!(records.len() >= 16, "{name}: fixture has {} records", records.len());
    assert_eq!(got.len(), records.len(), "{name}: row count");
    let mut worst = 0.0f64;
    for (i, (row, rec)) in got.iter().zip(records).enumerate() {
        let want: Vec<f64> = rec["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(row.len(), want.len(), "{name} record {i}: label count");
        for (a, b) in row.iter().zip(&want) {
            let d = (a - b).abs();
            worst = worst.max(d);
            assert!(d <= TOLERANCE, "{name} record {i}: ntkgap {row:?} vs transformers {want:?} (|Δ| = {d:.2e})");
        }
    }
    eprintln!("{name}: {} records, max |Δlogit| = {worst:.2e}", got.len());
}

fn check_tokenization(name: &str, tokenizer_dir: &Path, expected: &serde_json::Value) {
    let mut tok = ntkgap::tokenize::load(tokenizer_dir.to_str().unwrap()).unwrap();
    tok.set_max_length(128).unwrap();
    let pairs = std::fs::read_to_string(root().join("tests/data/model_parity_pairs.jsonl")).unwrap();
    for (line, rec) in pairs.lines().zip(expected["records"].as_array().unwrap()) {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let enc = tok.encode_pair(r["premise"].as_str().unwrap(), r["hypothesis"].as_str().unwrap()).unwrap();
        let want: Vec<u32> = rec["input_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(enc.ids, want, "{name}: tokenization of {}", r["id"]);
    }
}

#[test]
fn roberta_matches_transformers() {
    let dir = root().join("tests/data/roberta_tiny");
    let expected = fixture("model_parity_roberta.json");
    check_tokenization("roberta", &dir, &expected);
    compare("roberta (batch 1)", &forward(&dir, None, 1), &expected);
    compare("roberta (padded batches of 7)", &forward(&dir, None, 7), &expected);
}

/// On the CPU `forward` runs the hand-written encoder forward (`ntk::fastfb::forward::logits`);
/// its logits equal burn's (`NTKGAP_FORWARD=burn`) to f32 rounding, whole batches and single
/// examples alike.
#[test]
fn the_hand_written_cpu_forward_gives_burns_logits() {
    let dir = root().join("tests/data/roberta_tiny");
    for batch in [1, 7] {
        let (fast, burn) = (forward_on(&dir, None, batch, "auto"), forward_on(&dir, None, batch, "burn"));
        assert_eq!(fast.len(), burn.len());
        let mut worst = 0.0f64;
        for (i, (a, b)) in fast.iter().zip(&burn).enumerate() {
            for (x, y) in a.iter().zip(b) {
                worst = worst.max((x - y).abs());
                assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "record {i}, batch {batch}: {a:?} vs burn {b:?}");
            }
        }
        eprintln!("roberta_tiny, batch {batch}: hand-written vs burn max |Δlogit| = {worst:.2e}");
    }
}

#[test]
fn minilm_bert_matches_transformers() {
    let dir = root().join(".cache/models/all-MiniLM-L6-v2");
    if !dir.join("model.safetensors").is_file() {
        let reason = format!("{} is absent; run scripts/fetch_models.sh", dir.display());
        common::missing("minilm_bert_matches_transformers", &reason);
        return;
    }
    let expected = fixture("model_parity_minilm.json");
    check_tokenization("minilm", &dir, &expected);
    let head = root().join("tests/data/minilm_head_seed0.safetensors");
    compare("minilm (padded batches of 16)", &forward(&dir, Some(&head), 16), &expected);
}
