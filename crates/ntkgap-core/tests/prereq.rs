//! Prerequisites of tests that need files the repository does not hold (a downloaded model).
//!
//! [`require`] returns false — and the test returns early, passing — after printing
//! `SKIPPED: <reason>` when the file is missing; under `CI` (the environment variable set) it
//! panics with the reason instead, so that what the README calls tested has really run.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True when `path` exists; otherwise skip (print) or, under `CI`, fail, naming `what`.
pub fn require(what: &str, path: &Path) -> bool {
    if path.exists() {
        return true;
    }
    let reason = format!("{what} needs {} (run scripts/fetch_models.sh)", path.display());
    if std::env::var_os("CI").is_some() {
        panic!("prerequisite missing under CI: {reason}");
    }
    println!("SKIPPED: {reason}");
    false
}

/// The SmolLM2-135M-Instruct Q4_1 GGUF that `scripts/fetch_models.sh` downloads.
pub fn smollm2_gguf() -> PathBuf {
    root().join(".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
}
