//! `ntkgap bound --model` and `ntkgap sweep` on decoders, as the real binary: `builtin:tiny-decoder`,
//! the `llama_tiny` fixture directory and its GGUF twin, on real Corr2Cause pairs rendered through
//! the default prompt template. The frozen model's readout (`--kernel last-layer`: K = φφᵀ,
//! B = ‖W_U[yes] − W_U[no]‖, checked against the fixture's tensors) and kernel ridge on the eNTK
//! never violate the corrected bound; every output has `b_min`; the network predictor of a briefly
//! trained decoder has a linearized gap within the corrected bound; bad flags are one line,
//! exit 2, nothing written.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{ntkgap, s, stderr};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Corr2Cause n = 3..4 (`c2c/dev.jsonl`, labelled) and its test split's same-premise pairs.
fn data(dir: &Path) -> (PathBuf, PathBuf) {
    let c2c = dir.join("c2c");
    let args = ["generate", "--kind", "corr2cause", "--nodes", "3..4", "--max-mecs", "4", "--seed", "1"];
    let out = ntkgap(&[&args[..], &["--out", s(&c2c)]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let pairs = dir.join("pairs.jsonl");
    let test = c2c.join("test.jsonl");
    let args = ["pairs", "--input", s(&test), "--min-overlap", "0", "--max-per-premise", "1", "--out", s(&pairs)];
    let out = ntkgap(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    (pairs, c2c.join("dev.jsonl"))
}

fn run_ok(args: &[&str]) -> String {
    let out = ntkgap(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// (header, rows) of a CSV file.
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (header, lines.map(|l| l.split(',').map(String::from).collect()).collect())
}

fn column(path: &Path, name: &str) -> Vec<String> {
    let (header, rows) = csv(path);
    let k = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{}: no column {name}", path.display()));
    rows.into_iter().map(|r| r[k].clone()).collect()
}

/// pairs.csv: no corrected violation, and b_min = 1/d_K > 0 on every row.
fn check_pairs_csv(dir: &Path, what: &str) -> usize {
    let path = dir.join("pairs.csv");
    let violated = column(&path, "corrected_violated");
    assert!(!violated.is_empty(), "{what}: no pairs");
    assert!(violated.iter().all(|v| v == "false"), "{what}: corrected bound violated");
    for b in column(&path, "b_min") {
        let b: f64 = b.parse().unwrap();
        assert!(b.is_finite() && b > 0.0, "{what}: b_min {b}");
    }
    violated.len()
}

/// ‖E[yes] − E[no]‖ of the tied `llama_tiny` fixture (label-word ids 412 and 411).
fn llama_tiny_readout_norm() -> f64 {
    let weights =
        ntkgap::model::WeightMap::read_safetensors(&fixture("decoders/llama_tiny/model.safetensors")).unwrap();
    let table = weights.get("model.embed_tokens.weight").unwrap();
    let h = table.shape[1];
    let row = |i: usize| &table.data[i * h..(i + 1) * h];
    row(412).iter().zip(row(411)).map(|(y, n)| (f64::from(*y) - f64::from(*n)).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn the_frozen_decoders_readout_never_violates_the_corrected_bound_and_b_is_the_label_word_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let (pairs, _) = data(tmp.path());
    let expected_b = llama_tiny_readout_norm();
    let dir_model = fixture("decoders/llama_tiny");
    let gguf_model = fixture("gguf/llama_tiny.gguf");
    for (name, model) in [("builtin", "builtin:tiny-decoder"), ("dir", s(&dir_model)), ("gguf", s(&gguf_model))] {
        let out = tmp.path().join(name);
        let stdout =
            run_ok(&["bound", "--model", model, "--pairs", s(&pairs), "--kernel", "last-layer", "--out", s(&out)]);
        assert!(stdout.contains("readout: B = |w|"), "{name}: {stdout}");
        let n = check_pairs_csv(&out, name);
        let summary = json(&out.join("summary.json"));
        assert_eq!(summary["predictor"], "readout", "{name}");
        assert_eq!(summary["gram_kernel"], "last-layer", "{name}");
        assert_eq!(summary["pairs"], n, "{name}");
        let readout = &summary["readout"];
        let b = summary["weight_norm_bound"].as_f64().unwrap();
        assert_eq!(b, readout["weight_norm"].as_f64().unwrap(), "{name}");
        // f(x) = ⟨w, φ(x)⟩ + c is an identity of the forward pass, checked, not assumed.
        let (error, scale) =
            (readout["max_identity_error"].as_f64().unwrap(), readout["max_abs_margin"].as_f64().unwrap());
        assert!(error <= 1e-4 * scale.max(1.0), "{name}: identity error {error} (max |f| {scale})");
        assert_eq!(readout["bias_difference"], 0.0, "{name}");
        // The directory's tied table exactly; the GGUF's is its Q8_0 quantization (8-bit blocks).
        let tolerance = match name {
            "dir" => 1e-6,
            "gguf" => 1e-2,
            _ => f64::INFINITY,
        };
        assert!((b - expected_b).abs() <= tolerance * expected_b, "{name}: B {b} vs |E[yes] - E[no]| {expected_b}");
        let meta = json(&out.join("meta.json"));
        let ids = &meta["extra"]["decoder"]["readout"]["label_words"]["ids"];
        assert!(name == "builtin" || *ids == serde_json::json!([411, 412]), "{name}: {ids}");
        assert_eq!(meta["extra"]["kernel"], "last-layer", "{name}");
    }
}

#[test]
fn kernel_ridge_on_a_decoders_entk_and_last_layer_kernel() {
    let tmp = tempfile::tempdir().unwrap();
    let (pairs, train) = data(tmp.path());
    let model = fixture("decoders/llama_tiny");
    for kernel in ["entk", "last-layer"] {
        let out = tmp.path().join(kernel);
        let args = ["bound", "--model", s(&model), "--pairs", s(&pairs), "--train", s(&train), "--max-train", "12"];
        run_ok(&[&args[..], &["--predictor", "kernel-ridge", "--kernel", kernel, "--out", s(&out)]].concat());
        check_pairs_csv(&out, kernel);
        let summary = json(&out.join("summary.json"));
        assert_eq!(summary["predictor"], "kernel-ridge", "{kernel}");
        assert_eq!(summary["gram_kernel"], kernel, "{kernel}");
        assert!(summary["kernel"]["fit"]["lambda"].as_f64().unwrap() > 0.0, "{kernel}");
        assert!(summary["overall"]["median_b_min"].as_f64().unwrap() > 0.0, "{kernel}");
    }
}

#[test]
fn sweep_runs_on_decoders_with_the_readout_and_with_kernel_ridge() {
    let tmp = tempfile::tempdir().unwrap();
    let base = ["--nodes", "3..4", "--pairs-per-size", "2"];
    let readout = tmp.path().join("readout");
    let args = ["sweep", "--model", "builtin:tiny-decoder", "--kernel", "last-layer", "--out", s(&readout)];
    let stdout = run_ok(&[&args[..], &base[..]].concat());
    assert!(stdout.starts_with("n_vars  pairs  shared") && stdout.contains("readout: "), "{stdout}");
    assert_eq!(column(&readout.join("table.csv"), "n_vars"), ["3", "4"]);
    assert!(column(&readout.join("table.csv"), "corrected_violations").iter().all(|v| v == "0"));
    for b in column(&readout.join("table.csv"), "median_b_min") {
        assert!(b.parse::<f64>().unwrap() > 0.0, "{b}");
    }
    check_pairs_csv(&readout, "sweep readout");
    assert!(readout.join("b_min_vs_n.svg").is_file());
    assert_eq!(json(&readout.join("summary.json"))["kernel"], "last-layer");
    let ridge = tmp.path().join("ridge");
    let model = fixture("decoders/llama_tiny");
    let args = ["sweep", "--model", s(&model), "--train-per-size", "6", "--out", s(&ridge)];
    run_ok(&[&args[..], &base[..]].concat());
    assert_eq!(column(&ridge.join("table.csv"), "n_vars"), ["3", "4"]);
    check_pairs_csv(&ridge, "sweep ridge");
}

#[test]
fn network_predictor_of_a_briefly_trained_decoder() {
    let tmp = tempfile::tempdir().unwrap();
    let (pairs, train) = data(tmp.path());
    let run = tmp.path().join("run");
    let args = ["train", "--model", "builtin:tiny-decoder", "--data", s(&train), "--epochs", "1", "--batch", "8"];
    run_ok(&[&args[..], &["--out", s(&run)]].concat());
    let out = tmp.path().join("net");
    let (last, theta0) = (run.join("last"), run.join("theta0"));
    let args = ["bound", "--model", s(&last), "--pairs", s(&pairs), "--predictor", "network", "--init", s(&theta0)];
    run_ok(&[&args[..], &["--out", s(&out)]].concat());
    check_pairs_csv(&out, "network");
    assert!(column(&out.join("pairs.csv"), "linearized_corrected_violated").iter().all(|v| v == "false"));
    let summary = json(&out.join("summary.json"));
    let diag = &summary["network"]["diagnostics"];
    assert!(diag["parameter_change"].as_f64().unwrap() > 0.0);
    assert!(diag["kernel_drift"].as_f64().unwrap().is_finite());
    // θ₀ of another family is refused before any work.
    let refused = tmp.path().join("refused");
    let args = ["bound", "--model", s(&last), "--pairs", s(&pairs), "--predictor", "network", "--init", "builtin:tiny"];
    assert_refused(&ntkgap(&[&args[..], &["--out", s(&refused)]].concat()), &refused, "--init");
}

fn assert_refused(out: &Output, out_dir: &Path, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("ntkgap: error: ") && err.contains(needle), "expected {needle:?} in {err}");
    assert!(!out_dir.exists(), "output directory left behind");
}

#[test]
fn bad_decoder_flags_of_bound_and_sweep_are_one_line_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (pairs, train) = data(tmp.path());
    let out = tmp.path().join("out");
    let no_hypothesis = tmp.path().join("template.txt");
    std::fs::write(&no_hypothesis, "Premise: {premise}\nAnswer:").unwrap();
    let model = fixture("decoders/llama_tiny");
    let bound = |model: &str, extra: &[&str]| {
        ntkgap(&[&["bound", "--model", model, "--pairs", s(&pairs), "--out", s(&out)][..], extra].concat())
    };
    let dec = s(&model);
    let cases: Vec<(Output, &str)> = vec![
        (bound(dec, &["--predictor", "readout", "--train", s(&train)]), "--predictor"),
        (bound(dec, &["--kernel", "last-layer", "--train", s(&train)]), "--train"),
        (bound(dec, &["--kernel", "last-layer", "--predictor", "network", "--init", dec]), "--kernel"),
        (bound(dec, &["--kernel", "last-layer", "--label-words", "No"]), "--label-words"),
        (bound(dec, &["--kernel", "last-layer", "--label-words", " No, Yes indeed"]), "Yes indeed"),
        (bound(dec, &["--kernel", "last-layer", "--prompt", s(&no_hypothesis)]), "{hypothesis}"),
        (bound("builtin:tiny", &["--kernel", "last-layer", "--label-words", " No, Yes"]), "--label-words"),
        (bound("builtin:tiny-decoder", &["--kernel", "last-layer", "--chat"]), "chat"),
    ];
    for (output, needle) in &cases {
        assert_refused(output, &out, needle);
    }
    let sweep = |extra: &[&str]| {
        ntkgap(
            &[&["sweep", "--model", "builtin:tiny-decoder", "--nodes", "3..3", "--out", s(&out)][..], extra].concat(),
        )
    };
    assert_refused(&sweep(&["--predictor", "readout"]), &out, "--predictor");
    assert_refused(&sweep(&["--kernel", "last-layer", "--label-words", "a,b,c"]), &out, "--label-words");
    assert_refused(
        &sweep(&["--kernel", "last-layer", "--predictor", "network", "--init", "builtin:tiny-decoder"]),
        &out,
        "--kernel",
    );
}
