//! `ntkgap demo`: the end-to-end story on the built-in default, as an HTML report. Thin: parses
//! the flags into a [`DemoConfig`], prints the expected duration, runs [`crate::demo::run`] with
//! progress on stderr, and prints where the report is.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::cli::decoder_args::DecoderArgs;
use crate::cli::model_args::DeviceArg;
use crate::demo::frozen::{FrozenConfig, ModelIdentity, Prompting};
use crate::demo::{check_out, DemoConfig, DemoMode, Reporter, StageStatus};

/// Run the whole argument end to end and write `OUT/index.html`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap demo --quick                 # about 1.5 minutes on 2 CPU cores, report/index.html\n  \
    ntkgap demo --out runs/demo-full    # SFT and DPO, larger corpora\n  \
    ntkgap demo --quick --fresh         # recompute every stage instead of reusing the cache\n  \
    ntkgap demo --model SmolLM2-135M-Instruct.Q4_1.gguf --quick --out report-smol   # a frozen model, nothing trained")]
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
    /// Run the story on this frozen model instead of the built-in one (a GGUF file or a Hugging
    /// Face checkpoint directory, encoder or decoder): no training stage; direct and in-context
    /// answers, the eNTK and last-layer kernels with B_min, the bound, and A-CBO with the model as
    /// its oracle. Default: the built-in `builtin:tiny`, trained by the demo.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Decoder prompting for --model (`--shots K` replaces the demo's list of K by 0 and K; the
    /// demonstrations are drawn from the demo's own dev records, so --shots-from is refused).
    #[command(flatten)]
    pub decoder: DecoderArgs,
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
    if let Some(model) = &args.model {
        return run_frozen(&args, model);
    }
    if let Some(flag) = decoder_flag(&args.decoder) {
        return Err(crate::Error::invalid(flag, "applies to `ntkgap demo --model PATH` only").into());
    }
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
    summarise(&run.stages, &run.peaks, started);
    println!("report: {}", run.out.join("index.html").display());
    Ok(())
}

/// The first decoder flag set, if any.
fn decoder_flag(d: &DecoderArgs) -> Option<&'static str> {
    [
        ("--label-words", d.label_words.is_some()),
        ("--prompt", d.prompt.is_some()),
        ("--chat", d.chat),
        ("--shots", d.shots > 0),
        ("--shots-from", d.shots_from.is_some()),
    ]
    .iter()
    .find_map(|(flag, on)| on.then_some(*flag))
}

/// `ntkgap demo --model PATH`: every input checked and the model loaded before anything is
/// written.
fn run_frozen(args: &DemoArgs, model: &std::path::Path) -> anyhow::Result<()> {
    let identity = ModelIdentity::of(model)?;
    if args.decoder.shots_from.is_some() {
        return Err(crate::Error::invalid(
            "--shots-from",
            "the demo draws demonstrations from its own dev records (data/shots_pool.jsonl)",
        )
        .into());
    }
    if !identity.decoder {
        args.decoder.refuse_for_encoder()?;
    }
    let options = args.decoder.options()?;
    let prompting = Prompting {
        label_words: options.label_words,
        template: options.template.map(|t| t.as_str().to_string()),
        chat: args.decoder.chat,
    };
    let compute = args.device.resolve()?;
    let mode = if args.quick { DemoMode::Quick } else { DemoMode::Full };
    let seeds = (args.seed, args.decoder.shots_seed);
    let config = FrozenConfig::new(mode, identity, prompting, compute.clone(), seeds, args.decoder.shots);
    let info = crate::demo::frozen::describe(&config)?;
    crate::cli::model_args::announce(&compute);
    let minutes = (config.expected_seconds(info.parameters) / 60.0).ceil();
    eprintln!(
        "ntkgap demo --model {} ({}, {} {} parameters): expected about {minutes:.0} min on 2 CPU cores when every stage runs (cached stages are skipped) -> {}",
        config.model.name(),
        if args.quick { "quick" } else { "full" },
        info.family,
        info.parameters,
        args.out.display()
    );
    let started = Instant::now();
    let run = crate::demo::frozen::run(&config, &info, &args.out, args.fresh, &Stderr)?;
    summarise(&run.stages, &run.peaks, started);
    println!("report: {}", crate::demo::frozen::index(&args.out).display());
    Ok(())
}

/// How many stages ran, the wall time and each stage's peak RSS, on stderr.
fn summarise(stages: &[(String, StageStatus)], peaks: &[(String, Option<u64>)], started: Instant) {
    let ran = stages.iter().filter(|(_, s)| *s == StageStatus::Ran).count();
    eprintln!(
        "{ran} of {} stages ran, the rest were cached; {:.0} s in all",
        stages.len(),
        started.elapsed().as_secs_f64()
    );
    let peaks: Vec<String> = peaks
        .iter()
        .filter_map(|(name, peak)| peak.map(|p| format!("{name} {}", crate::files::memory::format_bytes(p))))
        .collect();
    if !peaks.is_empty() {
        eprintln!("peak RSS by stage: {}", peaks.join(", "));
    }
}
