//! `ntkgap demo`: the end-to-end story on the built-in default, as an HTML report. Thin: parses
//! the flags into a [`DemoConfig`], prints the expected duration, runs [`crate::demo::run`] with
//! progress on stderr, and prints where the report is.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::cli::model_args::DeviceArg;
use crate::demo::{check_out, DemoConfig, DemoMode, Reporter, StageStatus};

/// Run the whole argument end to end and write `OUT/index.html`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap demo --quick                 # about 1.5 minutes on 2 CPU cores, report/index.html\n  \
    ntkgap demo --out runs/demo-full    # SFT and DPO, larger corpora\n  \
    ntkgap demo --quick --fresh         # recompute every stage instead of reusing the cache")]
pub struct DemoArgs {
    /// The quick demo (SFT only, small corpora; under 10 minutes on 2 CPU cores).
    #[arg(long)]
    pub quick: bool,
    /// Output folder (created if missing); completed stages in it are reused.
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
    /// Where the model stages run: `auto` (a hardware GPU if wgpu finds one, else the CPU), `cpu` or
    /// `wgpu` (any adapter, lavapipe included). The eNTK Gram products stay on the CPU in f64.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Recompute every stage even when its cached result is current.
    #[arg(long)]
    pub fresh: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

struct Stderr;

impl Reporter for Stderr {
    fn line(&self, text: &str) {
        eprintln!("{text}");
    }

    fn bar(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        super::model_args::bar(len as usize, what)
    }
}

/// Run `ntkgap demo`.
///
/// # Errors
/// A library error (exit 2) for an unusable `--out`; any stage's failure.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.out.is_file() {
        let reason = "is a file; --out must be a directory (created if missing)";
        return Err(crate::Error::bad_input(&args.out, reason).into());
    }
    check_out(&args.out)?;
    let compute = args.device.resolve()?;
    crate::cli::model_args::announce(&compute);
    let mode = if args.quick { DemoMode::Quick } else { DemoMode::Full };
    let config = DemoConfig::new(mode, args.seed, compute);
    let minutes = (config.expected_seconds() / 60.0).ceil();
    eprintln!(
        "ntkgap demo ({}): expected about {minutes:.0} min on 2 CPU cores when every stage runs (cached stages are skipped) -> {}",
        if args.quick { "quick" } else { "full" },
        args.out.display()
    );
    let started = Instant::now();
    let run = crate::demo::run(&config, &args.out, args.fresh, &Stderr)?;
    let ran = run.stages.iter().filter(|(_, s)| *s == StageStatus::Ran).count();
    eprintln!(
        "{ran} of {} stages ran, the rest were cached; {:.0} s in all",
        run.stages.len(),
        started.elapsed().as_secs_f64()
    );
    let peaks: Vec<String> = run
        .peaks
        .iter()
        .filter_map(|(name, peak)| peak.map(|p| format!("{name} {}", crate::files::memory::format_bytes(p))))
        .collect();
    if !peaks.is_empty() {
        eprintln!("peak RSS by stage: {}", peaks.join(", "));
    }
    println!("report: {}", run.out.join("index.html").display());
    Ok(())
}
