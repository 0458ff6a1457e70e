//! The `ntkgap` binary: parse, run, print the error chain on one line, exit.

use std::process::ExitCode;

fn main() -> ExitCode {
    match ntkgap::cli::main_entry() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ntkgap: error: {}", ntkgap::cli::error_line(&err));
            ExitCode::from(ntkgap::cli::exit_code(&err))
        }
    }
}
