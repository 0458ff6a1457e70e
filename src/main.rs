//! The `ntkgap` binary: parse, run, print the error chain on one line, exit.

use std::process::ExitCode;

fn main() -> ExitCode {
    // SAFETY: the first statement of `main`; no other thread exists yet.
    unsafe { ntkgap::gpu::context::quiet_vulkan_layers() };
    ntkgap_core::files::memory::keep_freed_memory();
    match ntkgap::cli::main_entry() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ntkgap: error: {}", ntkgap::cli::error_line(&err));
            ExitCode::from(ntkgap::cli::exit_code(&err))
        }
    }
}
