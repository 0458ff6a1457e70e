//! Tests that run in f64: burn's `flex` device with F64 as its default float dtype, which must be
//! set before any tensor of the process exists — so each such test runs in a fresh child process
//! of the test binary ([`in_fresh_process`]) on the one [`device`] of that process.

use std::sync::OnceLock;

use burn::tensor::{Device, FloatDType};

/// The environment variable that marks the child process of [`in_fresh_process`].
const CHILD: &str = "NTKGAP_F64_TEST_CHILD";

/// True in the child process, where the test body runs. In the parent, runs this binary again
/// on exactly `module::name` (`module` = the caller's `module_path!()`) with [`CHILD`] set,
/// echoes its output and requires success, then returns false.
pub fn in_fresh_process(module: &str, name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let test = format!("{}::{name}", module.trim_start_matches("main::"));
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    assert!(out.status.success(), "{test} failed in its child process");
    assert!(text.contains("1 passed"), "{test} did not run in its child process: {text}");
    false
}

/// The flex device with f64 as its default float dtype, with autodiff. Configured once per
/// process, before any tensor is created (every f64 test goes through here).
pub fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let mut base = Device::flex();
            base.configure(FloatDType::F64).expect("the flex backend accepts F64 as its default float dtype");
            base.autodiff()
        })
        .clone()
}
