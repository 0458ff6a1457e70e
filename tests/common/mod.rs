//! Helpers shared by the CLI integration tests: run the real binary, read its stderr; and
//! ([`params`]) by the eNTK checks: parameters and gradients of any burn module.
#![allow(dead_code)] // each test binary uses a different subset

pub mod f64;
pub mod params;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// True under continuous integration (`CI` set to anything but ``, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// A test's prerequisite (a driver, a checkpoint, a package, a browser) is missing. Under `CI`
/// that is a failure — what the README calls tested must have run; elsewhere the test prints
/// `SKIPPED: <test>: <reason>` and the caller returns.
///
/// # Panics
/// Under `CI`, always (with the reason).
pub fn missing(test: &str, reason: &str) {
    assert!(!in_ci(), "{test}: prerequisite missing under CI (install it: scripts/setup.sh): {reason}");
    eprintln!("SKIPPED: {test}: {reason}");
}

/// The GPU kernels on the shared wgpu device, or `None` after [`missing`] when no adapter exists.
pub fn gpu_kernels_or_skip(test: &str) -> Option<ntkgap::gpu::WgpuKernels> {
    match ntkgap::gpu::context() {
        Ok(ctx) => Some(ntkgap::gpu::WgpuKernels::on(ctx)),
        Err(e) => {
            missing(test, &format!("no wgpu adapter ({e})"));
            None
        }
    }
}

/// Write `data` (row-major, `shape`) as an f64 `.npy` (a test input).
pub fn write_npy_f64(path: &Path, shape: &[usize], data: &[f64]) {
    let array = ndarray::ArrayD::from_shape_vec(shape, data.to_vec()).expect("shape matches the data");
    ntkgap::files::npy::write(path, &array).expect("writing a test .npy");
}

/// Write `data` (row-major, `shape`) as an f32 `.npy` (a test input).
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) {
    let array = ndarray::ArrayD::from_shape_vec(shape, data.to_vec()).expect("shape matches the data");
    ntkgap::files::npy::write(path, &array).expect("writing a test .npy");
}

/// Run `ntkgap args` and capture its output.
pub fn ntkgap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ntkgap")).args(args).output().expect("binary runs")
}

/// The captured stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A path as `&str` (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `dir/a.jsonl`: three short records (two premise/hypothesis pairs and one text), the eNTK
/// tests' X₁.
pub fn three_records(dir: &Path) -> PathBuf {
    let a = dir.join("a.jsonl");
    std::fs::write(
        &a,
        concat!(
            r#"{"id": "r1", "premise": "A correlates with B. B correlates with C. However, A is independent of C.", "hypothesis": "A directly causes B."}"#, "\n",
            r#"{"id": "r2", "premise": "A correlates with B.", "hypothesis": "A causes B."}"#, "\n",
            r#"{"id": "r3", "text": "B correlates with C."}"#, "\n",
        ),
    )
    .unwrap();
    a
}
