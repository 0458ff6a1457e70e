//! `ntkgap train`, `eval` and `forward` run as the real binary on a tiny generated corpus:
//! outputs, formats, determinism, and bad inputs (exit 2, one line, nothing half-written).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common;
use common::{ntkgap, s, stderr};

/// A small labelled corpus: corr2cause n = 2..3 (51 dev and 51 test records; the tests train on dev).
fn corpus(dir: &Path) -> PathBuf {
    let out = dir.join("c2c");
    let run = ntkgap(&["generate", "--kind", "corr2cause", "--nodes", "2..3", "--out", s(&out)]);
    assert!(run.status.success(), "{}", stderr(&run));
    out
}

fn assert_bad_input(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "expected exit 2, stderr: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert_eq!(err.trim_end().lines().filter(|l| l.starts_with("ntkgap: error:")).count(), 1, "one error line: {err}");
}

#[test]
fn train_eval_forward_on_builtin_tiny() {
    let tmp = tempfile::tempdir().unwrap();
    let data = corpus(tmp.path());
    let run_dir = tmp.path().join("run");
    let train = ntkgap(&[
        "train",
        "--data",
        s(&data.join("dev.jsonl")),
        "--dev",
        s(&data.join("test.jsonl")),
        "--model",
        "builtin:tiny",
        "--out",
        s(&run_dir),
        "--epochs",
        "2",
        "--batch",
        "8",
        "--seed",
        "1",
    ]);
    assert!(train.status.success(), "{}", stderr(&train));
    for f in [
        "theta0/model.safetensors",
        "best/config.json",
        "last/tokenizer.json",
        "history.json",
        "meta.json",
        "summary.json",
    ] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("history.json")).unwrap()).unwrap();
    let epochs = history.as_array().unwrap();
    assert!(!epochs.is_empty() && epochs[0]["dev"]["accuracy"].is_number(), "dev evaluated every epoch: {history}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap();
    assert!(summary["distance_from_initial"].as_f64().unwrap() > 0.0, "parameters moved: {summary}");
    let epoch_lines = stderr(&train).lines().filter(|l| l.starts_with("epoch ")).count();
    assert_eq!(epoch_lines, epochs.len(), "one progress line per epoch: {}", stderr(&train));

    let report = tmp.path().join("test.json");
    let eval = ntkgap(&[
        "eval",
        "--model",
        s(&run_dir.join("best")),
        "--data",
        s(&data.join("test.jsonl")),
        "--out",
        s(&report),
    ]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let table = String::from_utf8_lossy(&eval.stdout);
    assert!(table.contains("accuracy") && table.contains("n_vars=3") && table.contains("relation="), "{table}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let accuracy = json["overall"]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert!(tmp.path().join("test.meta.json").is_file());

    let logits = tmp.path().join("logits.npy");
    let fwd = ntkgap(&[
        "forward",
        "--model",
        s(&run_dir.join("best")),
        "--input",
        s(&data.join("test.jsonl")),
        "--out",
        s(&logits),
    ]);
    assert!(fwd.status.success(), "{}", stderr(&fwd));
    let array = ntkgap::files::npy::read(&logits).unwrap();
    let n = std::fs::read_to_string(data.join("test.jsonl")).unwrap().lines().count();
    assert_eq!(array.shape(), vec![n, 2]);
    // The eval accuracy is the accuracy of these logits.
    let labels: Vec<u8> = ntkgap::corpus::read_records(data.join("test.jsonl"))
        .unwrap()
        .iter()
        .map(|r| r.binary_label().unwrap())
        .collect();
    let correct = array.as_slice().chunks(2).zip(&labels).filter(|(l, &y)| u8::from(l[1] - l[0] > 0.0) == y).count();
    assert!((correct as f64 / n as f64 - accuracy).abs() < 1e-9);
}

#[test]
fn dpo_trains_and_same_seed_gives_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = corpus(tmp.path());
    let run = |name: &str| {
        let out = tmp.path().join(name);
        let r = ntkgap(&[
            "train",
            "--data",
            s(&data.join("dev.jsonl")),
            "--dev",
            s(&data.join("dev.jsonl")),
            "--model",
            "builtin:tiny",
            "--objective",
            "dpo",
            "--epochs",
            "1",
            "--batch",
            "8",
            "--seed",
            "4",
            "--out",
            s(&out),
            "--device",
            "cpu",
        ]);
        assert!(r.status.success(), "{}", stderr(&r));
        std::fs::read(out.join("best/model.safetensors")).unwrap()
    };
    assert_eq!(run("a"), run("b"));
}

#[test]
fn headless_model_gets_a_seeded_head_saved_beside_the_logits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = corpus(tmp.path());
    let model = tmp.path().join("model");
    let train = ntkgap(&[
        "train",
        "--data",
        s(&data.join("dev.jsonl")),
        "--model",
        "builtin:tiny",
        "--epochs",
        "1",
        "--out",
        s(&model),
    ]);
    assert!(train.status.success(), "{}", stderr(&train));
    let base = model.join("theta0");
    let path = base.join("model.safetensors");
    let weights = ntkgap::model::WeightMap::read_safetensors(&path).unwrap();
    let mut headless = ntkgap::model::WeightMap::new();
    for n in weights.names().into_iter().filter(|n| !n.starts_with("classifier")) {
        headless.insert(n.clone(), weights.get(&n).unwrap().clone());
    }
    headless.write_safetensors(&path).unwrap();
    let out = tmp.path().join("l.npy");
    // Byte-identical outputs are promised on the CPU (`--device auto` would take a GPU if there is one).
    let fwd = ntkgap(&[
        "forward",
        "--model",
        s(&base),
        "--input",
        s(&data.join("test.jsonl")),
        "--out",
        s(&out),
        "--seed",
        "3",
        "--device",
        "cpu",
    ]);
    assert!(fwd.status.success(), "{}", stderr(&fwd));
    assert!(stderr(&fwd).contains("no classification head"), "{}", stderr(&fwd));
    let head = tmp.path().join("l.head.safetensors");
    let again = tmp.path().join("again.npy");
    let fwd2 = ntkgap(&[
        "forward",
        "--model",
        s(&base),
        "--head",
        s(&head),
        "--input",
        s(&data.join("test.jsonl")),
        "--out",
        s(&again),
        "--device",
        "cpu",
    ]);
    assert!(fwd2.status.success(), "{}", stderr(&fwd2));
    assert_eq!(ntkgap::files::npy::read(&out).unwrap(), ntkgap::files::npy::read(&again).unwrap());
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let data = corpus(tmp.path());
    let test = data.join("test.jsonl");
    let out = tmp.path().join("x.npy");
    let missing = tmp.path().join("nope");
    assert_bad_input(
        &ntkgap(&["forward", "--model", s(&missing), "--input", s(&test), "--out", s(&out)]),
        "model directory not found",
    );
    assert_bad_input(
        &ntkgap(&["forward", "--model", "builtin:huge", "--input", s(&test), "--out", s(&out)]),
        "builtin:tiny",
    );
    assert_bad_input(
        &ntkgap(&["forward", "--model", "builtin:tiny", "--input", s(&test), "--out", s(&tmp.path().join("x.txt"))]),
        "must end in .npy",
    );
    assert_bad_input(
        &ntkgap(&["forward", "--model", "builtin:tiny", "--input", s(&test), "--out", s(&out), "--max-len", "100000"]),
        "--max-len",
    );
    assert!(!out.exists(), "no output after errors");

    let corrupt = tmp.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        let t = ntkgap(&[
            "train",
            "--data",
            s(&data.join("dev.jsonl")),
            "--model",
            "builtin:tiny",
            "--epochs",
            "1",
            "--out",
            s(&tmp.path().join("t")),
        ]);
        assert!(t.status.success(), "{}", stderr(&t));
        std::fs::copy(tmp.path().join("t/best").join(f), corrupt.join(f)).unwrap();
    }
    std::fs::write(corrupt.join("model.safetensors"), b"garbage").unwrap();
    assert_bad_input(
        &ntkgap(&["forward", "--model", s(&corrupt), "--input", s(&test), "--out", s(&out)]),
        "not a valid safetensors",
    );
    assert!(!out.exists());

    let unlabelled = tmp.path().join("u.jsonl");
    std::fs::write(&unlabelled, "{\"premise\": \"A correlates with B.\", \"hypothesis\": \"A directly causes B.\"}\n")
        .unwrap();
    let report = tmp.path().join("r.json");
    assert_bad_input(
        &ntkgap(&["eval", "--model", "builtin:tiny", "--data", s(&unlabelled), "--out", s(&report)]),
        "no label",
    );
    assert!(!report.exists());

    let run_dir = tmp.path().join("never");
    assert_bad_input(
        &ntkgap(&["train", "--data", s(&test), "--model", "builtin:tiny", "--epochs", "0", "--out", s(&run_dir)]),
        "--epochs",
    );
    assert_bad_input(
        &ntkgap(&["train", "--data", s(&test), "--model", "builtin:tiny", "--lr", "nan", "--out", s(&run_dir)]),
        "--lr",
    );
    assert!(!run_dir.exists(), "nothing written for refused runs");
}
