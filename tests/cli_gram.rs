//! `ntkgap gram` as the real binary on builtin:tiny: the .npy and its meta, block-size and
//! method invariance, the rectangular K(X₁, X₂), identical meta bytes on a rerun, bad inputs
//! (exit 2, one line, no output file).

use std::path::{Path, PathBuf};
use std::process::Output;

use ntkgap::report::npy;

mod common;
use common::{ntkgap, s, stderr, three_records};

fn write_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let a = three_records(dir);
    let b = dir.join("b.jsonl");
    std::fs::write(&b, concat!(r#"{"premise": "A correlates with C.", "hypothesis": "C causes A."}"#, "\n", r#"{"text": "A causes C."}"#, "\n")).unwrap();
    (a, b)
}

fn gram(args: &[&str]) -> npy::NpyArray {
    let out = ntkgap(args);
    assert!(out.status.success(), "{}", stderr(&out));
    let at = args.iter().position(|a| *a == "--out").unwrap() + 1;
    npy::read(Path::new(args[at])).unwrap()
}

fn close(a: &npy::NpyArray, b: &npy::NpyArray, what: &str) {
    assert_eq!(a.shape, b.shape, "{what}");
    let scale = b.data.iter().map(|v| v.abs()).sum::<f64>() / b.data.len() as f64;
    let worst = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-5 * scale, "{what}: max |Δ| {worst:e}, mean |K| {scale:e}");
}

#[test]
fn gram_writes_a_symmetric_f64_matrix_with_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = write_inputs(tmp.path());
    let k_path = tmp.path().join("K.npy");
    let k = gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&k_path), "--block", "2"]);
    assert_eq!(k.shape, vec![3, 3]);
    assert_eq!(k.dtype, npy::NpyDtype::F64);
    for i in 0..3 {
        assert!(k.data[i * 3 + i] > 0.0, "diagonal {i} positive");
        for j in 0..3 {
            assert!((k.data[i * 3 + j] - k.data[j * 3 + i]).abs() <= 1e-12 * k.data[i * 3 + i], "symmetric");
        }
    }
    let meta_path = tmp.path().join("K.meta.json");
    let meta_bytes = std::fs::read(&meta_path).unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta_bytes).unwrap();
    assert_eq!(meta["extra"]["method"], "PerLayer");
    assert_eq!(meta["extra"]["subset"], "All");
    assert_eq!(meta["extra"]["shape"], serde_json::json!([3, 3]));
    // Same inputs, same command → identical meta bytes (timings go to stderr only).
    let again = ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&k_path), "--block", "2"]);
    assert!(stderr(&again).contains("gram: 3 x 3 in"), "{}", stderr(&again));
    assert_eq!(std::fs::read(&meta_path).unwrap(), meta_bytes, "meta.json differs between identical runs");

    let k1 = gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&tmp.path().join("K1.npy")), "--block", "1"]);
    close(&k1, &k, "block 1 vs block 2");
    let naive = gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&tmp.path().join("Kn.npy")), "--method", "naive"]);
    close(&k, &naive, "per-layer vs naive");
    let heads = gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&tmp.path().join("Kh.npy")), "--exclude", "head"]);
    assert!(heads.data[0] < k.data[0], "excluding the head lowers K[0,0]");

    let rect = gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--input2", s(&b), "--out", s(&tmp.path().join("Kab.npy"))]);
    assert_eq!(rect.shape, vec![3, 2]);
}

fn assert_bad_input(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "expected exit 2, stderr: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(needle), "`{needle}` not in: {err}");
}

#[test]
fn bad_inputs_exit_2_without_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = write_inputs(tmp.path());
    let out = tmp.path().join("K.npy");
    let missing = tmp.path().join("missing.jsonl");
    let run = ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&missing), "--out", s(&out)]);
    assert_bad_input(&run, "missing.jsonl");
    assert_eq!(stderr(&run).trim_end().lines().count(), 1, "one line: {}", stderr(&run));
    assert_bad_input(&ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&out), "--block", "0"]), "--block");
    assert_bad_input(&ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&tmp.path().join("K.txt"))]), ".npy");
    assert_bad_input(&ntkgap(&["gram", "--model", "builtin:nope", "--input", s(&a), "--out", s(&out)]), "nope");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"premise\": \"A.\", \"hypothesis\": \"B.\"}\nnot json\n").unwrap();
    assert_bad_input(&ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&bad), "--out", s(&out)]), "bad.jsonl");
    assert_eq!(ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&out), "--exclude", "head", "--only", "biases"]).status.code(), Some(2));
    assert!(!out.exists() && !tmp.path().join("K.meta.json").exists(), "no partial output");
}
