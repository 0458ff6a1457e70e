//! `ntkgap bound --model` and `ntkgap sweep` as the real binary, on the built-in tiny model and
//! real Corr2Cause pairs: kernel ridge and kernel logistic never violate the corrected bound;
//! the network predictor of a briefly trained model has a linearized gap that never violates
//! it either, with finite lazy-regime diagnostics; bad inputs exit 2 with one line and leave
//! nothing behind.

use std::path::Path;
use std::process::Output;

use crate::common;
use common::{ntkgap, s, stderr};

/// n = 3..4 Corr2Cause (below 1,000 records per size the split rule gives half to test and the
/// rest to dev, no train items) and the same-premise pairs of its test split; `dev.jsonl` is the
/// training set of the tests.
fn data(dir: &Path) {
    let c2c = dir.join("c2c");
    let out = ntkgap(&[
        "generate",
        "--kind",
        "corr2cause",
        "--nodes",
        "3..4",
        "--max-mecs",
        "6",
        "--seed",
        "1",
        "--out",
        s(&c2c),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pairs = dir.join("pairs.jsonl");
    let out = ntkgap(&[
        "pairs",
        "--input",
        s(&c2c.join("test.jsonl")),
        "--min-overlap",
        "0",
        "--max-per-premise",
        "2",
        "--out",
        s(&pairs),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    (header, lines.map(|l| l.split(',').map(String::from).collect()).collect())
}

fn column<'a>(header: &[String], rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let k = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    rows.iter().map(|r| r[k].as_str()).collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn kernel_ridge_and_logistic_never_violate_the_corrected_bound_on_real_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    data(d);
    for predictor in ["kernel-ridge", "kernel-logistic"] {
        let out_dir = d.join(predictor);
        let out = ntkgap(&[
            "bound",
            "--model",
            "builtin:tiny",
            "--pairs",
            s(&d.join("pairs.jsonl")),
            "--train",
            s(&d.join("c2c/dev.jsonl")),
            "--max-train",
            "40",
            "--predictor",
            predictor,
            "--out",
            s(&out_dir),
        ]);
        assert!(out.status.success(), "{predictor}: {}", stderr(&out));
        let (header, rows) = csv_rows(&out_dir.join("pairs.csv"));
        assert!(header
            .join(",")
            .starts_with("i,j,gap,delta,a,b,published_bound,corrected_bound,published_violated,corrected_violated,"));
        assert!(rows.len() >= 4, "{predictor}: only {} pairs", rows.len());
        assert!(
            column(&header, &rows, "corrected_violated").iter().all(|v| *v == "false"),
            "{predictor}: corrected bound violated"
        );
        assert!(column(&header, &rows, "published_violated").iter().all(|v| *v == "true" || *v == "false"));
        for v in column(&header, &rows, "shared_fraction") {
            let x: f64 = v.parse().unwrap();
            assert!((0.5..=1.0).contains(&x), "{x}");
        }
        let summary = json(&out_dir.join("summary.json"));
        assert_eq!(summary["overall"]["corrected_violations"], 0);
        assert_eq!(summary["predictor"], predictor);
        assert!(summary["weight_norm_bound"].as_f64().unwrap() > 0.0);
        assert!(summary["kernel"]["fit"]["lambda"].as_f64().unwrap() > 0.0);
        let kappa = summary["kappa"].as_f64().unwrap();
        for a in column(&header, &rows, "a") {
            assert!(a.parse::<f64>().unwrap() <= kappa * (1.0 + 1e-12));
        }
        for f in ["gap_vs_overlap.png", "gap_vs_overlap.svg", "meta.json"] {
            assert!(out_dir.join(f).is_file(), "{predictor}: {f} missing");
        }
    }
}

#[test]
fn network_predictor_of_a_briefly_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    data(d);
    let run = d.join("run");
    let out = ntkgap(&[
        "train",
        "--data",
        s(&d.join("c2c/dev.jsonl")),
        "--model",
        "builtin:tiny",
        "--epochs",
        "1",
        "--out",
        s(&run),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out_dir = d.join("net");
    let out = ntkgap(&[
        "bound",
        "--model",
        s(&run.join("last")),
        "--pairs",
        s(&d.join("pairs.jsonl")),
        "--predictor",
        "network",
        "--init",
        s(&run.join("theta0")),
        "--out",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (header, rows) = csv_rows(&out_dir.join("pairs.csv"));
    assert!(column(&header, &rows, "linearized_corrected_violated").iter().all(|v| *v == "false"));
    let summary = json(&out_dir.join("summary.json"));
    let diag = &summary["network"]["diagnostics"];
    for key in ["kernel_drift", "parameter_change", "relative_parameter_change"] {
        let v = diag[key].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite() && v > 0.0, "{key} = {v}");
    }
    let rel = diag["linearization"]["relative_error"].as_f64().unwrap();
    assert!(rel.is_finite() && rel >= 0.0, "{rel}");
    // B is ‖θ_T − θ₀‖, the same number `train` reports for the last epoch.
    let b = summary["weight_norm_bound"].as_f64().unwrap();
    assert!((b - diag["parameter_change"].as_f64().unwrap()).abs() < 1e-12);
    assert!(out_dir.join("linearization.png").is_file() && out_dir.join("linearization.svg").is_file());
    // The same predictor in a sweep over two sizes.
    let sweep_dir = d.join("sweep");
    let out = ntkgap(&[
        "sweep",
        "--model",
        s(&run.join("last")),
        "--predictor",
        "network",
        "--init",
        s(&run.join("theta0")),
        "--nodes",
        "3..4",
        "--pairs-per-size",
        "2",
        "--out",
        s(&sweep_dir),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (header, rows) = csv_rows(&sweep_dir.join("table.csv"));
    assert_eq!(column(&header, &rows, "n_vars"), ["3", "4"]);
    assert!(column(&header, &rows, "kernel_drift").iter().all(|v| v.parse::<f64>().unwrap().is_finite()));
}

#[test]
fn sweep_on_a_tiny_range_writes_table_pairs_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let args = [
        "sweep",
        "--model",
        "builtin:tiny",
        "--nodes",
        "3..4",
        "--pairs-per-size",
        "2",
        "--train-per-size",
        "8",
        "--out",
        s(&out_dir),
    ];
    let out = ntkgap(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("n_vars  pairs  shared"), "{stdout}");
    let (header, rows) = csv_rows(&out_dir.join("table.csv"));
    assert_eq!(column(&header, &rows, "n_vars"), ["3", "4"]);
    assert!(column(&header, &rows, "corrected_violations").iter().all(|v| *v == "0"));
    let (pair_header, pair_rows) = csv_rows(&out_dir.join("pairs.csv"));
    assert_eq!(pair_rows.len(), 4);
    assert_eq!(column(&pair_header, &pair_rows, "n_vars"), ["3", "3", "4", "4"]);
    for stem in ["overlap_vs_n", "delta_vs_n", "gap_vs_overlap", "violations_vs_n"] {
        for ext in ["png", "svg"] {
            assert!(out_dir.join(format!("{stem}.{ext}")).is_file(), "{stem}.{ext}");
        }
    }
    // Same seed → byte-identical outputs.
    let again = dir.path().join("again");
    let mut args2 = args.to_vec();
    *args2.last_mut().unwrap() = s(&again);
    assert!(ntkgap(&args2).status.success());
    for f in ["table.csv", "pairs.csv", "summary.json", "gap_vs_overlap.svg"] {
        assert_eq!(std::fs::read(out_dir.join(f)).unwrap(), std::fs::read(again.join(f)).unwrap(), "{f} differs");
    }
}

fn assert_refused(out: &Output, out_dir: &Path, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("ntkgap: error: ") && err.contains(needle), "expected {needle:?} in {err}");
    assert!(!out_dir.exists(), "output directory left behind");
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    data(d);
    let out_dir = d.join("out");
    let (pairs, train) = (d.join("pairs.jsonl"), d.join("c2c/dev.jsonl"));
    let bound = |extra: &[&str]| {
        let mut args = vec!["bound", "--model", "builtin:tiny", "--out", s(&out_dir)];
        args.extend_from_slice(extra);
        ntkgap(&args)
    };
    assert_refused(&bound(&["--pairs", "nope.jsonl", "--train", s(&train)]), &out_dir, "nope.jsonl");
    assert_refused(&bound(&["--pairs", s(&pairs), "--train", "missing.jsonl"]), &out_dir, "missing.jsonl");
    assert_refused(&bound(&["--pairs", s(&pairs)]), &out_dir, "--train");
    assert_refused(
        &bound(&["--pairs", s(&pairs), "--predictor", "network"]),
        &out_dir,
        "--predictor network needs --init",
    );
    assert_refused(&bound(&["--pairs", s(&pairs), "--train", s(&train), "--ridge", "0"]), &out_dir, "--ridge");
    let roberta = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/roberta_tiny");
    assert_refused(
        &bound(&["--pairs", s(&pairs), "--predictor", "network", "--init", "builtin:small"]),
        &out_dir,
        "hidden_size",
    );
    assert_refused(
        &bound(&["--pairs", s(&pairs), "--predictor", "network", "--init", s(&roberta)]),
        &out_dir,
        "tokenizer",
    );
    // A pair file whose record id names two different texts.
    let text = std::fs::read_to_string(&pairs).unwrap();
    let mut lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let first_id = lines[0]["a"]["id"].clone();
    lines[1]["b"]["id"] = first_id;
    let clash = d.join("clash.jsonl");
    std::fs::write(&clash, lines.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
    assert_refused(&bound(&["--pairs", s(&clash), "--train", s(&train)]), &out_dir, "names two different texts");
    // Mixed modes and missing pieces.
    assert_refused(&bound(&["--pairs", s(&pairs), "--train", s(&train), "--weight-norm", "1"]), &out_dir, "--gram");
    let sweep = |extra: &[&str]| {
        let mut args = vec!["sweep", "--model", "builtin:tiny", "--out", s(&out_dir)];
        args.extend_from_slice(extra);
        ntkgap(&args)
    };
    assert_refused(&sweep(&["--nodes", "1..3"]), &out_dir, "--nodes");
    assert_refused(&sweep(&["--pairs-per-size", "0"]), &out_dir, "--pairs-per-size");
    assert_refused(&sweep(&["--predictor", "network"]), &out_dir, "--init");
}
