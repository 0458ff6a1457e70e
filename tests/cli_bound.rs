//! `ntkgap bound` as the real binary: the audit counterexample end to end (pairs.csv, summary.json,
//! meta.json), f32 (n, 1) scores, and bad inputs (exit 2, one line, no output directory).

use std::path::Path;

use crate::common;
use common::{ntkgap, s, stderr};

fn write_counterexample(dir: &Path) {
    common::write_npy_f64(&dir.join("K.npy"), &[2, 2], &[1.0, 0.5, 0.5, 0.25]);
    common::write_npy_f64(&dir.join("s.npy"), &[2], &[1.0, 0.5]);
}

fn bound(dir: &Path, gram: &str, scores: &str, pairs: &str) -> std::process::Output {
    let (k, sc, out) = (dir.join(gram), dir.join(scores), dir.join("out"));
    ntkgap(&["bound", "--gram", s(&k), "--scores", s(&sc), "--pairs", pairs, "--weight-norm", "1", "--out", s(&out)])
}

#[test]
fn counterexample_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    write_counterexample(dir.path());
    let out = bound(dir.path(), "K.npy", "s.npy", "0,1");
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("out/pairs.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0]
        .starts_with("i,j,gap,delta,a,b,published_bound,corrected_bound,published_violated,corrected_violated,"));
    assert_eq!(lines[0].split(',').count(), 16);
    assert!(lines[0].ends_with(",b_min"), "{}", lines[0]);
    let row: Vec<&str> = lines[1].split(',').collect();
    // B_min = 1/d = 2: no linear predictor with ‖w‖ < 2 separates φ₊ = 1 from φ₋ = ½ by a margin of 1.
    assert!((row[15].parse::<f64>().unwrap() - 2.0).abs() < 1e-12, "{}", lines[1]);
    assert_eq!(&row[..4], ["0", "1", "0.5", "0"]);
    assert_eq!(row[6].parse::<f64>().unwrap(), 0.0);
    assert!((row[7].parse::<f64>().unwrap() - 0.5).abs() < 1e-12);
    assert_eq!((row[8], row[9]), ("true", "false"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["published_violations"], 1);
    assert_eq!(summary["corrected_violations"], 0);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/meta.json")).unwrap()).unwrap();
    assert_eq!(meta["inputs"].as_object().unwrap().len(), 2);
    assert!(String::from_utf8_lossy(&out.stdout).contains("published bound violated by 1, corrected bound by 0"));
}

#[test]
fn f32_column_scores_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    write_counterexample(dir.path());
    common::write_npy_f32(&dir.path().join("s32.npy"), &[2, 1], &[1.0, 0.5]);
    let out = bound(dir.path(), "K.npy", "s32.npy", "1,0");
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("out/pairs.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("1,0,-0.5,0,0.5,1,0,"), "{csv}");
}

fn assert_refused(out: &std::process::Output, dir: &Path, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(!dir.join("out").exists(), "output directory left behind");
}

#[test]
fn bad_inputs_exit_2_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_counterexample(d);
    common::write_npy_f64(&d.join("rect.npy"), &[2, 3], &[1.0; 6]);
    assert_refused(&bound(d, "rect.npy", "s.npy", "0,1"), d, "must be square");
    // The writer does not check finiteness, so a NaN Gram file is easy to make.
    common::write_npy_f64(&d.join("nan.npy"), &[2, 2], &[1.0, f64::NAN, 0.5, 0.25]);
    assert_refused(&bound(d, "nan.npy", "s.npy", "0,1"), d, "non-finite");
    assert_refused(&bound(d, "K.npy", "s.npy", "0,2"), d, "out of range");
    assert_refused(&bound(d, "K.npy", "s.npy", "0-1"), d, "--pairs");
    assert_refused(&bound(d, "K.npy", "s.npy", "0,1;x,y"), d, "--pairs");
    assert_refused(&bound(d, "K.npy", "s.npy", "0,0"), d, "must differ");
    common::write_npy_f64(&d.join("s3.npy"), &[3], &[1.0, 0.5, 0.0]);
    assert_refused(&bound(d, "K.npy", "s3.npy", "0,1"), d, "3 scores");
}
