//! `--device auto|cpu|wgpu` and `ntkgap devices` as the real binary: the model on burn's wgpu
//! backend equals the CPU (forward logits, training, the eNTK Gram on builtin:tiny and the
//! MiniLM fixture), no adapter is a CPU notice for `auto` and a one-line error for `wgpu`.
//!
//! The wgpu runs need an adapter (CI installs lavapipe, Mesa's CPU Vulkan driver); without one
//! they print `SKIPPED: no wgpu adapter …` and pass. Each prints its wall time: on lavapipe
//! most of it is compiling burn's shaders once per process.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use ntkgap::files::npy;

use crate::common;
use common::{ntkgap, s, stderr, three_records};

/// Environment that hides every Vulkan driver (and so every adapter on Linux).
const NO_DRIVER: [(&str, &str); 3] = [
    ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
    ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
    ("WGPU_BACKEND", "vulkan"),
];

fn ntkgap_without_driver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ntkgap")).args(args).envs(NO_DRIVER).output().expect("binary runs")
}

fn adapters() -> Vec<serde_json::Value> {
    let out = ntkgap(&["devices", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["adapters"].as_array().unwrap().clone()
}

/// True when a wgpu adapter exists; otherwise prints the skip reason.
fn have_adapter(test: &str) -> bool {
    let found = !adapters().is_empty();
    if !found {
        common::missing(test, "no wgpu adapter (install a Vulkan driver such as mesa-vulkan-drivers)");
    }
    found
}

/// Run `args` with `--device device --out out`, timed, and read the `.npy`.
fn npy_run(args: &[&str], device: &str, out: &Path) -> npy::NpyArray {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--device", device, "--out", s(out)]);
    let start = Instant::now();
    let run = ntkgap(&all);
    assert!(run.status.success(), "{}", stderr(&run));
    eprintln!("{} --device {device}: {:.1} s", args[0], start.elapsed().as_secs_f64());
    npy::read(out).unwrap()
}

/// `args` on the CPU and on wgpu (outputs in `dir`), compared at 1e-4 relative.
fn cpu_and_wgpu_agree(args: &[&str], dir: &Path, what: &str) {
    let cpu = npy_run(args, "cpu", &dir.join(format!("{}_cpu.npy", args[0])));
    let gpu = npy_run(args, "wgpu", &dir.join(format!("{}_wgpu.npy", args[0])));
    assert_close(&gpu, &cpu, 1e-4, what);
}

/// max |a − b| / mean |b| ≤ tol.
fn assert_close(a: &npy::NpyArray, b: &npy::NpyArray, tol: f64, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    let scale = b.as_slice().iter().map(|v| v.abs()).sum::<f64>() / b.as_slice().len() as f64;
    let worst = a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    eprintln!("{what}: max |Δ| / mean = {:.2e}", worst / scale);
    assert!(worst <= tol * scale, "{what}: max |Δ| {worst:e}, mean {scale:e}");
}

#[test]
fn devices_lists_adapters_and_says_what_auto_picks() {
    let out = ntkgap(&["devices"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "nothing on stderr (Mesa's device-select layer is off): {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let found = adapters();
    match found.first() {
        None => assert!(text.contains("no wgpu adapter found"), "{text}"),
        Some(a) if a["software"] == true => {
            assert!(text.contains("the CPU (flex)") && text.contains("software adapter"), "{text}")
        }
        Some(_) => assert!(text.contains("--device wgpu and --device auto: adapter 0"), "{text}"),
    }
    let none = ntkgap_without_driver(&["devices", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&none.stdout).unwrap();
    assert_eq!(v["adapters"], serde_json::json!([]));
    assert!(v["choice"].as_str().unwrap().contains("mesa-vulkan-drivers"), "{v}");
}

#[test]
fn no_adapter_is_a_cpu_notice_for_auto_and_a_one_line_error_for_wgpu() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_records(tmp.path());
    let out = tmp.path().join("K.npy");
    let forced = ntkgap_without_driver(&[
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--out",
        s(&out),
        "--device",
        "wgpu",
    ]);
    assert_eq!(forced.status.code(), Some(2), "{}", stderr(&forced));
    let err = stderr(&forced);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("ntkgap: error: invalid --device: wgpu: no wgpu adapter found"), "{err}");
    assert!(err.contains("mesa-vulkan-drivers") && err.contains("--device cpu"), "names the fix: {err}");
    assert!(!out.exists() && !tmp.path().join("K.meta.json").exists(), "no output");

    let fwd = ntkgap_without_driver(&[
        "forward",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--out",
        s(&tmp.path().join("L.npy")),
        "--device",
        "wgpu",
    ]);
    assert_eq!(fwd.status.code(), Some(2), "{}", stderr(&fwd));

    let auto = ntkgap_without_driver(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&out)]);
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert_eq!(
        stderr(&auto).lines().filter(|l| l.starts_with("note: --device auto: no wgpu adapter found")).count(),
        1,
        "{}",
        stderr(&auto)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("K.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["extra"]["device"], "cpu");
    // `--backend flex`, the flag's old spelling, still means the CPU.
    let old = ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&out), "--backend", "flex"]);
    assert!(old.status.success(), "{}", stderr(&old));
    assert!(!stderr(&old).contains("--device auto"), "an explicit device prints no notice: {}", stderr(&old));
    assert_eq!(
        ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&out), "--device", "tpu"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn gram_on_wgpu_equals_cpu_on_builtin_tiny() {
    if !have_adapter("gram --device wgpu, builtin:tiny") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = three_records(tmp.path());
    cpu_and_wgpu_agree(
        &["gram", "--model", "builtin:tiny", "--input", s(&a), "--block", "2"],
        tmp.path(),
        "gram builtin:tiny, wgpu vs cpu",
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("gram_wgpu.meta.json")).unwrap()).unwrap();
    assert!(meta["extra"]["device"].as_str().unwrap().starts_with("wgpu: "), "{meta}");
    // The hand-written signal pass is CPU code: on wgpu the library resolves it to burn's.
    assert_eq!(meta["extra"]["signals_requested"], "Fast");
    assert_eq!(meta["extra"]["signals"], "Burn", "{meta}");
}

#[test]
fn gram_on_wgpu_equals_cpu_on_minilm() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/models/all-MiniLM-L6-v2");
    if !model.join("model.safetensors").is_file() {
        common::missing(
            "gram --device wgpu on MiniLM",
            &format!("{} is absent (run scripts/fetch_models.sh)", model.display()),
        );
        return;
    }
    if !have_adapter("gram --device wgpu, MiniLM") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = three_records(tmp.path());
    let two = tmp.path().join("two.jsonl");
    std::fs::write(
        &two,
        std::fs::read_to_string(&a).unwrap().lines().take(2).map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    cpu_and_wgpu_agree(
        &["gram", "--model", s(&model), "--input", s(&two), "--max-len", "24"],
        tmp.path(),
        "gram MiniLM, wgpu vs cpu",
    );
}

#[test]
fn forward_and_training_on_wgpu_equal_cpu_on_builtin_tiny() {
    if !have_adapter("forward/train --device wgpu, builtin:tiny") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = three_records(tmp.path());
    cpu_and_wgpu_agree(
        &["forward", "--model", "builtin:tiny", "--input", s(&a)],
        tmp.path(),
        "logits builtin:tiny, wgpu vs cpu",
    );

    let data = tmp.path().join("train.jsonl");
    let records =
        [("A correlates with B.", "A causes B.", 1), ("A correlates with B. B correlates with C.", "C causes A.", 0)];
    let lines: String = (0..4)
        .flat_map(|_| records.iter())
        .map(|(p, h, y)| format!("{{\"premise\": \"{p}\", \"hypothesis\": \"{h}\", \"label\": {y}}}\n"))
        .collect();
    std::fs::write(&data, lines).unwrap();
    let summary = |device: &str| {
        let out = tmp.path().join(format!("run_{device}"));
        let start = Instant::now();
        let run = ntkgap(&[
            "train",
            "--data",
            s(&data),
            "--dev",
            s(&data),
            "--model",
            "builtin:tiny",
            "--out",
            s(&out),
            "--epochs",
            "1",
            "--batch",
            "4",
            "--seed",
            "1",
            "--device",
            device,
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        eprintln!("train --device {device}: {:.1} s", start.elapsed().as_secs_f64());
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        (v["history"][0]["train_loss"].as_f64().unwrap(), v["distance_from_initial"].as_f64().unwrap())
    };
    let ((loss_c, dist_c), (loss_w, dist_w)) = (summary("cpu"), summary("wgpu"));
    assert!((loss_c - loss_w).abs() <= 1e-5 * loss_c, "train loss: cpu {loss_c}, wgpu {loss_w}");
    assert!((dist_c - dist_w).abs() <= 1e-4 * dist_c, "‖θ − θ₀‖: cpu {dist_c}, wgpu {dist_w}");
}

#[test]
fn bench_kernels_reports_every_kernel_within_the_reference_tolerance() {
    let tmp = tempfile::tempdir().unwrap();
    let small = [
        "--gemm-n",
        "70",
        "--gemm-k",
        "100",
        "--small-n",
        "5",
        "--small-k",
        "3000",
        "--matmul-n",
        "64",
        "--examples",
        "3",
        "--tokens",
        "20",
        "--d-in",
        "24",
        "--d-out",
        "40",
        "--repeats",
        "1",
    ];
    let mut devices = vec!["cpu"];
    if have_adapter("bench kernels --device wgpu") {
        devices.push("wgpu");
    }
    for device in devices {
        let out = tmp.path().join(format!("bench_{device}.json"));
        let mut args = vec!["bench", "kernels", "--device", device, "--out", s(&out)];
        args.extend(small);
        if device == "wgpu" {
            args.extend(["--gemm-slices", "auto,2"]);
        }
        let run = ntkgap(&args);
        assert!(run.status.success(), "{}", stderr(&run));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let rows = v["rows"].as_array().unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r["kernel"].as_str().unwrap()).collect();
        for k in ["matmul (burn)", "gemm_nt", "gemm_nt (small C)", "structured", "token_match", "outer_sums"] {
            assert!(names.contains(&k), "{device}: no {k} row in {names:?}");
        }
        assert_eq!(
            names.contains(&"gemm_nt (tiled)"),
            device == "wgpu",
            "the forced tiled-kernel row is wgpu's: {names:?}"
        );
        for r in rows.iter().filter(|r| !r["rel_error"].is_null()) {
            assert!(r["rel_error"].as_f64().unwrap() <= 1e-5, "{device}: {r}");
            assert!(r["gflops"].as_f64().unwrap() > 0.0, "{device}: {r}");
        }
        assert!(tmp.path().join(format!("bench_{device}.meta.json")).is_file());
        let table = String::from_utf8_lossy(&run.stdout);
        assert!(table.contains("GFLOP/s") && table.contains("vs matmul"), "{table}");
        if device == "wgpu" {
            let resident: Vec<&str> = rows
                .iter()
                .filter(|r| r["kernel"] == "gemm_nt (resident)")
                .map(|r| r["shape"].as_str().unwrap())
                .collect();
            assert_eq!(resident.len(), 2, "one resident row per --gemm-slices entry: {resident:?}");
            assert!(resident[0].ends_with("(auto)") && resident[1].ends_with("2 slices (set)"), "{resident:?}");
        }
    }
    let unchecked = ntkgap(&[
        "bench",
        "kernels",
        "--device",
        "cpu",
        "--no-check",
        "--gemm-n",
        "16",
        "--gemm-k",
        "32",
        "--matmul-n",
        "16",
        "--examples",
        "2",
        "--tokens",
        "8",
        "--repeats",
        "1",
    ]);
    assert!(unchecked.status.success(), "{}", stderr(&unchecked));
    assert!(
        String::from_utf8_lossy(&unchecked.stdout)
            .lines()
            .filter(|l| l.starts_with("gemm_nt"))
            .all(|l| l.trim_end().ends_with(" -")),
        "--no-check leaves rel.err empty"
    );
    for bad in ["0", "two", "auto,-1"] {
        let run = ntkgap(&["bench", "kernels", "--device", "cpu", "--gemm-slices", bad]);
        assert_eq!(run.status.code(), Some(2), "--gemm-slices {bad}: {}", stderr(&run));
        assert!(stderr(&run).contains("--gemm-slices"), "{}", stderr(&run));
    }
    for flag in ["--examples", "--small-k"] {
        let zero = ntkgap(&["bench", "kernels", "--device", "cpu", flag, "0"]);
        assert_eq!(zero.status.code(), Some(2), "{}", stderr(&zero));
        assert!(stderr(&zero).contains(&format!("invalid {flag}")), "{}", stderr(&zero));
    }
    let bad_out = ntkgap(&["bench", "kernels", "--device", "cpu", "--out", s(&tmp.path().join("b.txt"))]);
    assert_eq!(bad_out.status.code(), Some(2), "{}", stderr(&bad_out));
}
