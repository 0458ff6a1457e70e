//! Helpers shared by the CLI integration tests: run the real binary, read its stderr; and
//! ([`params`]) by the eNTK checks: parameters and gradients of any burn module.
#![allow(dead_code)] // each test binary uses a different subset

pub mod params;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
