//! `ntkgap demo` end to end (issue 9): the quick demo from nothing, the report it writes, the
//! cache on a rerun, the notebooks executed on its outputs, and the report rendered in headless
//! Chromium without missing images.
//!
//! The notebooks need python3 with the packages of `notebooks/requirements.txt` (installed by
//! `scripts/setup.sh`) and the rendering check needs `chromium` (installed by `.ci/run`); where
//! they are missing the corresponding part prints `SKIPPED: …` and the rest still runs.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{ntkgap, s, stderr};
use ntkgap::demo::charts::CHARTS;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `src="…"` of the page, unescaped enough for our own file names.
fn image_sources(html: &str) -> Vec<String> {
    html.split("src=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
}

fn check_report_files(report: &Path) {
    for f in [
        "index.html",
        "summary.json",
        "meta.json",
        "data/test.jsonl",
        "data/pairs.jsonl",
        "data/chain_vs_fork.json",
        "kernel/K_theta0.npy",
        "kernel/K_sft.npy",
        "kernel/pairs.csv",
        "kernel/sft-network/pairs.csv",
        "kernel/sft-kernel-ridge/summary.json",
        "data/train_mixed.jsonl",
        "data/local_test.jsonl",
        "acbo/model-sft/items.jsonl",
        "acbo/direct_vs_acbo.csv",
        "eval/sft_margins.npy",
        "train/sft/theta0/model.safetensors",
        "train/sft/best/model.safetensors",
    ] {
        assert!(report.join(f).is_file(), "missing {f}");
    }
    for stage in ["data", "train", "eval", "kernel", "acbo", "img"] {
        assert!(report.join(stage).join("meta.json").is_file(), "stage {stage} has no meta.json");
        assert!(report.join(stage).join("stage.json").is_file(), "stage {stage} has no stage.json");
        assert!(!report.join(format!(".{stage}.partial")).exists(), "partial directory of {stage} left behind");
    }
    for c in CHARTS {
        for ext in ["png", "svg"] {
            assert!(report.join("img").join(format!("{c}.{ext}")).is_file(), "missing img/{c}.{ext}");
        }
    }
    assert!(
        report.join("acbo").read_dir().unwrap().filter_map(|e| e.ok()).any(|e| e.path().join("trace.csv").is_file()),
        "no per-round A-CBO trace"
    );
}

/// The run summary names every stage's peak resident size, and each stays bounded: the quick
/// demo's kernel stage once held 4 GB (autodiff graphs of forward-only passes never freed).
fn check_peaks(err: &str) {
    let line = err.lines().find(|l| l.starts_with("peak RSS by stage: ")).unwrap_or_else(|| panic!("no peaks: {err}"));
    let peaks: Vec<(&str, f64)> = line["peak RSS by stage: ".len()..]
        .split(", ")
        .map(|item| {
            let mut words = item.split(' ');
            let (stage, value, unit) = (words.next().unwrap(), words.next().unwrap(), words.next().unwrap());
            let scale = match unit {
                "kB" => 1e3,
                "MB" => 1e6,
                "GB" => 1e9,
                other => panic!("unit {other} in {line}"),
            };
            (stage, value.parse::<f64>().unwrap() * scale)
        })
        .collect();
    let stages: Vec<&str> = peaks.iter().map(|(s, _)| *s).collect();
    assert_eq!(stages, ["data", "train", "eval", "kernel", "acbo", "img"], "{line}");
    for (stage, bytes) in peaks {
        assert!(bytes < 2e9, "stage {stage} peaked at {:.2} GB: {line}", bytes / 1e9);
    }
}

fn check_page(report: &Path) {
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let sources = image_sources(&html);
    assert_eq!(sources.len(), CHARTS.len(), "{sources:?}");
    for src in &sources {
        assert!(!src.starts_with('/') && !src.contains("://"), "image {src} is not relative to the page");
        assert!(report.join(src).is_file(), "index.html refers to a missing image {src}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap()).unwrap();
    let h = &summary["headline"];
    for key in ["mean_shared_fraction", "mean_rho"] {
        assert!(h[key].as_f64().is_some_and(f64::is_finite), "headline {key} = {}", h[key]);
    }
    for predictor in ["network", "kernel_ridge"] {
        assert!(
            h[predictor]["weight_norm_bound"].as_f64().is_some_and(|b| b.is_finite() && b > 0.0),
            "headline {predictor} = {}",
            h[predictor]
        );
    }
    // Theorem 1, corrected: a kernel predictor (B = √(αᵀKα)) can never violate it (Cauchy–Schwarz).
    assert_eq!(
        h["kernel_ridge"]["corrected_violations"].as_u64(),
        Some(0),
        "kernel ridge violated the corrected bound: {}",
        h["kernel_ridge"]
    );
    // The linearized network predictor is exact for the corrected bound too.
    assert_eq!(
        h["network"]["linearized_violations"][1].as_u64(),
        Some(0),
        "linearized gap violated the corrected bound: {}",
        h["network"]
    );
    let model = h["acbo_overall"]["oracles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["oracle"] == "model:sft")
        .expect("no model oracle in the A-CBO table");
    assert!(
        model["oracle_error_measured"].as_f64().is_some_and(|e| (0.0..=1.0).contains(&e)),
        "model oracle error not measured: {model}"
    );
    assert!(h["pairs"].as_u64().unwrap() > 0);
    let acc = h["sft_hard"]["accuracy"].as_f64().unwrap();
    assert!(html.contains(&format!("{:.1} %", 100.0 * acc)), "the page does not show the headline hard accuracy {acc}");
    assert!(html.contains(&format!("{:.6}", h["mean_rho"].as_f64().unwrap())), "the page does not show mean ρ");
    for section in ["published", "corrected", "A-CBO", "Assumptions", "measured"] {
        assert!(html.contains(section), "the page lacks {section:?}");
    }
}

fn python_with_nbclient() -> bool {
    Command::new("python3")
        .args(["-c", "import nbclient, nbformat, numpy, pandas, matplotlib, ipykernel"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_notebooks(report: &Path) {
    if !python_with_nbclient() {
        common::missing(
            "notebooks",
            "python3 with the packages of notebooks/requirements.txt is absent; run scripts/setup.sh",
        );
        return;
    }
    let started = Instant::now();
    let out = Command::new("python3")
        .current_dir(root())
        .args(["scripts/run_notebooks.py", "--report", s(report)])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "a notebook failed:\n{text}");
    println!("notebooks executed in {:.0} s:\n{text}", started.elapsed().as_secs_f64());
}

pub(crate) fn render_in_chromium(report: &Path, shot: &Path) {
    let has = |b: &str| {
        Command::new("sh").args(["-c", &format!("command -v {b}")]).output().is_ok_and(|o| o.status.success())
    };
    if !["chromium", "chromium-browser", "google-chrome"].iter().any(|b| has(b)) {
        common::missing("rendering check", "no chromium on PATH (apt-get install chromium)");
        return;
    }
    let out = Command::new("bash")
        .current_dir(root())
        .args(["scripts/check_report.sh", s(report), s(shot)])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the report did not render cleanly:\n{text}");
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000, "screenshot suspiciously small");
    println!("{text}");
}

#[test]
fn quick_demo_writes_the_report_reuses_its_cache_and_feeds_the_notebooks() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let started = Instant::now();
    let out = ntkgap(&["demo", "--quick", "--device", "cpu", "--out", s(&report)]);
    let first = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    assert!(stderr(&out).contains("expected about"), "no duration estimate up front: {}", stderr(&out));
    println!("demo --quick: {first:.0} s");
    check_peaks(&stderr(&out));
    check_report_files(&report);
    check_page(&report);
    let page = std::fs::read(report.join("index.html")).unwrap();
    let summary = std::fs::read(report.join("summary.json")).unwrap();

    let again = Instant::now();
    let out = ntkgap(&["demo", "--quick", "--device", "cpu", "--out", s(&report)]);
    assert!(out.status.success(), "rerun failed: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches(": cached").count(), 6, "every stage must be reused: {err}");
    println!("demo --quick, every stage cached: {:.1} s", again.elapsed().as_secs_f64());
    assert_eq!(std::fs::read(report.join("index.html")).unwrap(), page, "rerun changed index.html");
    assert_eq!(std::fs::read(report.join("summary.json")).unwrap(), summary, "rerun changed summary.json");

    run_notebooks(&report);
    render_in_chromium(&report, &dir.path().join("shot.png"));
}

#[test]
fn an_out_path_that_is_a_file_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, b"keep me").unwrap();
    let out = ntkgap(&["demo", "--quick", "--out", s(&file)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ntkgap: error: ") && err.contains("taken") && err.contains("--out must be a directory"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    let out = ntkgap(&["demo", "--quick", "--device", "tpu", "--out", s(&dir.path().join("r"))]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!dir.path().join("r").exists(), "a refused run must not create its output folder");
}
