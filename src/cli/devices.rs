//! `ntkgap devices`: the adapters wgpu sees (best first) and what `--device auto` and
//! `--device wgpu` would use on this machine. Never an error: no adapter is a normal answer.

use clap::Args;

use crate::error::Error;
use crate::gpu::{adapters, context::NO_ADAPTER_FIX, AdapterSummary};

/// List the wgpu adapters and the device `--device auto|wgpu` picks.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ntkgap devices\n  \
index  type           backend  name                              driver\n  \
0      Cpu            Vulkan   llvmpipe (LLVM 15.0.6, 256 bits)  llvmpipe Mesa 22.3.6 (LLVM 15.0.6)\n  \
--device wgpu: adapter 0; --device auto: the CPU (flex), adapter 0 is a software adapter")]
pub struct DevicesArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What `--device auto` and `--device wgpu` resolve to, given the adapters (best first).
pub fn choice_line(found: &[AdapterSummary]) -> String {
    match found.first() {
        None => {
            let fix = crate::cli::flags::flagify(NO_ADAPTER_FIX);
            format!("no wgpu adapter found: --device auto uses the CPU (flex), --device wgpu fails; {fix}")
        }
        Some(a) if a.software => {
            format!(
                "--device wgpu: adapter {}; --device auto: the CPU (flex), adapter {} is a software adapter",
                a.index, a.index
            )
        }
        Some(a) => format!("--device wgpu and --device auto: adapter {} ({})", a.index, a.describe()),
    }
}

/// The adapters as an aligned table.
pub fn table(found: &[AdapterSummary]) -> String {
    let name_width = found.iter().map(|a| a.name.chars().count()).max().unwrap_or(4).max(4);
    let mut s = format!("{:<6} {:<14} {:<8} {:<name_width$}  driver\n", "index", "type", "backend", "name");
    for a in found {
        s.push_str(&format!(
            "{:<6} {:<14} {:<8} {:<name_width$}  {}\n",
            a.index, a.device_type, a.backend, a.name, a.driver
        ));
    }
    s
}

/// Run `ntkgap devices`.
///
/// # Errors
/// Only a serialization failure (a bug).
pub fn run(args: DevicesArgs) -> anyhow::Result<()> {
    let found = adapters();
    if args.json {
        let value = serde_json::json!({ "adapters": found, "choice": choice_line(&found) });
        let line =
            serde_json::to_string(&value).map_err(|source| Error::Serialize { what: "adapter list".into(), source })?;
        println!("{line}");
    } else {
        if !found.is_empty() {
            print!("{}", table(&found));
        }
        println!("{}", choice_line(&found));
    }
    Ok(())
}
