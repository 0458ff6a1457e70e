//! `ntkgap acbo` end to end: a generated corpus, outputs, reproducibility, bad input.

use std::path::Path;
use std::process::Command;

fn ntkgap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ntkgap")).args(args).output().expect("binary runs")
}

fn corpus(dir: &Path) -> String {
    let out = dir.join("corpus.jsonl");
    let o = ntkgap(&[
        "generate",
        "--kind",
        "extended",
        "--nodes",
        "3..4",
        "--per-size",
        "2",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.to_str().unwrap().to_string()
}

fn run_acbo(data: &str, out: &Path, oracle: &str) -> std::process::Output {
    ntkgap(&["acbo", "--data", data, "--oracle", oracle, "--seed", "5", "--out", out.to_str().unwrap()])
}

#[test]
fn noiseless_run_writes_outputs_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path());
    let records = std::fs::read_to_string(&data).unwrap().lines().count();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run_acbo(&data, &a, "noisy:0");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("n_vars") && stdout.lines().any(|l| l.trim_start().starts_with("all")), "{stdout}");
    let items = std::fs::read_to_string(a.join("items.jsonl")).unwrap();
    assert_eq!(items.lines().count(), records);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("summary.json")).unwrap()).unwrap();
    for n in ["3", "4"] {
        let g = &summary["by_n_vars"][n];
        assert!((g["accuracy"].as_f64().unwrap() - 1.0).abs() < 1e-12, "n={n}: {g}");
        assert!(g["mean_log2_candidates"].as_f64().is_some());
    }
    assert!(a.join("meta.json").exists());
    assert!(run_acbo(&data, &b, "noisy:0").status.success());
    for f in ["items.jsonl", "summary.json"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between seeded runs"
        );
    }
}

#[test]
fn experiment_oracle_reports_its_measured_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path());
    let out = dir.path().join("exp");
    let o = ntkgap(&[
        "acbo",
        "--data",
        &data,
        "--oracle",
        "experiment:30",
        "--calibration-systems",
        "5",
        "--query",
        "binary",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let g = &summary["by_n_vars"]["4"];
    assert!(g["oracle_error_measured"].as_f64().is_some(), "{g}");
    let rate = g["likelihood_model"]["false_positive_rate"].as_f64().unwrap();
    assert!((0.001..=0.49).contains(&rate), "{rate}");
}

#[test]
fn unknown_oracles_missing_models_and_bad_records_are_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = corpus(dir.path());
    let out = dir.path().join("m");
    let o = run_acbo(&data, &out, "oracle:1");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--oracle")
            && err.contains("noisy:ETA")
            && err.contains("experiment:S")
            && err.contains("model:PATH"),
        "{err}"
    );
    assert!(!out.exists(), "outputs written despite a bad flag");
    let o = run_acbo(&data, &out, "model:runs/none");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("runs/none") && err.contains("model directory not found"), "{err}");
    assert!(!out.exists(), "outputs written despite a missing model");
    let bad = dir.path().join("bad.jsonl");
    let first = std::fs::read_to_string(&data).unwrap().lines().next().unwrap().to_string();
    std::fs::write(&bad, format!("{first}\n{{\"premise\":\"Suppose nothing.\",\"hypothesis\":\"Z causes Y.\"}}\n"))
        .unwrap();
    let o = run_acbo(bad.to_str().unwrap(), &out, "noisy:0");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.jsonl:2:") && err.contains("premise"), "{err}");
    assert!(!out.join("items.jsonl").exists());
}
