//! `train` and `eval` with decoders, through the real binary: SFT and DPO on the label-word
//! margin z_yes − z_no of `builtin:tiny-decoder`, `llama_tiny` (with `--prompt` and
//! `--label-words`) and `llama_tiny.gguf` on a tiny separable set — finite, decreasing loss;
//! `theta0/` reloads to the initial model's logits exactly, `last/` to the dev metrics the run
//! recorded; `eval` prints the encoder's table.

use std::path::{Path, PathBuf};

use crate::common::{ntkgap, s, stderr};

/// Eight labelled records: "X directly causes Y." is entailed, "X causes something else which
/// causes Y." is not, over four premises.
fn separable(dir: &Path) -> PathBuf {
    let mut lines = String::new();
    for (a, b) in [("Z", "Y"), ("Y", "X"), ("Z", "X"), ("X", "W")] {
        let premise = format!("{a} correlates with {b}.");
        for (hypothesis, label) in
            [(format!("{a} directly causes {b}."), 1), (format!("{a} causes something else which causes {b}."), 0)]
        {
            let record = serde_json::json!({"premise": premise, "hypothesis": hypothesis, "label": label,
                                            "n_vars": 2, "relation": if label == 1 { "parent" } else { "non_parent_ancestor" }});
            lines.push_str(&format!("{record}\n"));
        }
    }
    let train = dir.join("train.jsonl");
    std::fs::write(&train, &lines).unwrap();
    std::fs::write(dir.join("dev.jsonl"), &lines).unwrap();
    train
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run_ok(args: &[&str]) -> String {
    let out = ntkgap(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Train `model` with `extra` flags; returns the per-epoch train losses after checking they are
/// finite and decreasing, and that `last/` reloads to the recorded dev metrics.
fn train_and_check(model: &str, tmp: &Path, name: &str, extra: &[&str]) -> Vec<f64> {
    let data = separable(tmp);
    let out = tmp.join(name);
    let mut args = vec!["train", "--model", model, "--data", s(&data), "--out", s(&out), "--batch", "4"];
    args.extend_from_slice(extra);
    run_ok(&args);
    let history = json(&out.join("history.json"));
    let losses: Vec<f64> = history.as_array().unwrap().iter().map(|e| e["train_loss"].as_f64().unwrap()).collect();
    assert!(losses.iter().all(|l| l.is_finite()), "{name}: {losses:?}");
    assert!(losses.last().unwrap() < &losses[0], "{name}: loss did not decrease: {losses:?}");
    // `last/` reloads to the model the run evaluated after its last epoch.
    let report = tmp.join(format!("{name}_eval.json"));
    let (last, dev) = (out.join("last"), data.with_file_name("dev.jsonl"));
    let mut eval = vec!["eval", "--model", s(&last), "--data", s(&dev)];
    eval.extend_from_slice(&["--out", s(&report)]);
    eval.extend_from_slice(extra);
    let table = run_ok(&strip_training_flags(&eval));
    assert!(table.starts_with("group") && table.contains("pos.rate") && table.contains("relation=parent"), "{table}");
    let last = history.as_array().unwrap().last().unwrap()["dev"].clone();
    let overall = &json(&report)["overall"];
    for key in ["accuracy", "loss"] {
        let (a, b) = (overall[key].as_f64().unwrap(), last[key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-5, "{name}: eval of last/ gives {key} {a}, the run recorded {b}");
    }
    losses
}

/// `args` without the flags only `train` takes (and their values).
fn strip_training_flags<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip = false;
    for &a in args {
        if skip {
            skip = false;
        } else if ["--epochs", "--lr", "--objective", "--seed"].contains(&a) {
            skip = true;
        } else {
            out.push(a);
        }
    }
    out
}

fn forward(model: &str, input: &Path, out: &Path, extra: &[&str]) -> Vec<f64> {
    let mut args = vec!["forward", "--model", model, "--input", s(input), "--out", s(out)];
    args.extend_from_slice(extra);
    run_ok(&args);
    ntkgap::files::npy::read(out).unwrap().as_slice().to_vec()
}

#[test]
fn builtin_tiny_decoder_trains_and_its_checkpoints_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let losses = train_and_check("builtin:tiny-decoder", tmp.path(), "run", &["--epochs", "6", "--seed", "1"]);
    eprintln!("builtin:tiny-decoder SFT train losses: {losses:?}");
    let data = tmp.path().join("train.jsonl");
    let initial = forward("builtin:tiny-decoder", &data, &tmp.path().join("a.npy"), &["--seed", "1"]);
    let theta0 = forward(s(&tmp.path().join("run/theta0")), &data, &tmp.path().join("b.npy"), &[]);
    assert_eq!(initial, theta0, "theta0/ reloads to the initial model");
    let meta = json(&tmp.path().join("run/meta.json"));
    assert_eq!(meta["extra"]["prompting"]["label_words"], serde_json::json!([" No", " Yes"]));
}

#[test]
fn llama_tiny_trains_with_prompting_flags_sft_and_dpo() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/decoders/llama_tiny");
    let template = tmp.path().join("prompt.txt");
    std::fs::write(&template, "Facts: {premise}\nClaim: {hypothesis}\nTrue? Answer:\n").unwrap();
    let flags = ["--prompt", s(&template), "--label-words", " No, Yes"];
    let mut sft = vec!["--epochs", "5", "--lr", "3e-3"];
    sft.extend_from_slice(&flags);
    let losses = train_and_check(s(&dir), tmp.path(), "sft", &sft);
    eprintln!("llama_tiny SFT train losses: {losses:?}");
    let meta = json(&tmp.path().join("sft/meta.json"));
    assert_eq!(meta["extra"]["prompting"]["template"], "Facts: {premise}\nClaim: {hypothesis}\nTrue? Answer:");
    let mut dpo = vec!["--objective", "dpo", "--epochs", "4", "--lr", "3e-3"];
    dpo.extend_from_slice(&flags);
    let losses = train_and_check(s(&dir), tmp.path(), "dpo", &dpo);
    assert!((losses[0] - std::f64::consts::LN_2).abs() < 0.05, "DPO starts near ln 2: {losses:?}");
    let data = tmp.path().join("train.jsonl");
    let initial = forward(s(&dir), &data, &tmp.path().join("a.npy"), &flags);
    let theta0 = forward(s(&tmp.path().join("sft/theta0")), &data, &tmp.path().join("b.npy"), &flags);
    assert_eq!(initial, theta0, "theta0/ reloads to llama_tiny");
}

#[test]
fn a_gguf_trains_and_saves_a_directory_with_its_tokenizer() {
    let tmp = tempfile::tempdir().unwrap();
    let gguf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/gguf/llama_tiny.gguf");
    train_and_check(s(&gguf), tmp.path(), "run", &["--epochs", "3", "--lr", "3e-3"]);
    let theta0 = tmp.path().join("run/theta0");
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        assert!(theta0.join(f).is_file(), "theta0/{f}");
    }
    let data = tmp.path().join("train.jsonl");
    let a = forward(s(&gguf), &data, &tmp.path().join("a.npy"), &[]);
    let b = forward(s(&theta0), &data, &tmp.path().join("b.npy"), &[]);
    assert_eq!(a, b, "theta0/ of a GGUF reloads to the GGUF's logits");
}
