//! The `ntkgap` command line: clap definitions and dispatch. One file per subcommand; each
//! converts its raw arguments into validated library settings before doing any work.
//!
//! Exit codes: 0 success, 2 bad input (any [`crate::Error`] that [`crate::Error::is_bad_input`]),
//! 1 internal failure. Errors print as one line.

pub mod acbo;
pub mod bench;
pub mod bench_ceiling;
pub mod bench_kernels;
pub mod bound;
pub mod decoder_args;
pub mod demo;
pub mod devices;
pub mod enumerate;
pub mod eval;
pub mod flags;
pub mod forward;
pub mod gap_args;
pub mod generate;
pub mod gram;
pub mod gram_merge;
pub mod local_queries;
pub mod model_args;
pub mod overlap;
pub mod pairs;
pub mod progress;
pub mod stats;
pub mod sweep;
pub mod tokenizer;
pub mod train;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

/// ntkgap — empirical NTKs, the kernel obstruction on near-miss causal hypotheses, and A-CBO.
#[derive(Debug, Parser)]
#[command(name = "ntkgap", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a Corr2Cause or Extended Corr2Cause corpus (JSONL).
    Generate(generate::GenerateArgs),
    /// Counts, label shares and mean lengths of a JSONL corpus.
    Stats(stats::StatsArgs),
    /// Count every labelled DAG and Markov equivalence class on N ≤ 6 nodes.
    Enumerate(enumerate::EnumerateArgs),
    /// Mine near-miss pairs (same premise / same hypothesis) with their token overlap.
    Pairs(pairs::PairsArgs),
    /// Token overlap of mined pairs by number of variables (table, CSV).
    Overlap(overlap::OverlapArgs),
    /// Save the built-in tokenizer.json, or show how a tokenizer encodes a pair.
    Tokenizer(tokenizer::TokenizerArgs),
    /// Fine-tune a classifier or decoder (SFT or DPO) with dev evaluation and checkpoints.
    Train(train::TrainArgs),
    /// Accuracy, F1 and wrong-answer confidence of a model, by n_vars and relation.
    Eval(eval::EvalArgs),
    /// Logits of a model on a JSONL file, as an (N, num_labels) float32 .npy.
    Forward(forward::ForwardArgs),
    /// eNTK Gram matrix K(X₁, X₁) or K(X₁, X₂) (or a row slab) of a model's output, as a float64 .npy.
    Gram(gram::GramArgs),
    /// Stack Gram row slabs (from `gram --rows`) into one matrix, with shape, coverage and hash checks.
    GramMerge(gram_merge::GramMergeArgs),
    /// Benchmarks printing a table (`bench gram`: eNTK methods on a model; `bench kernels`: the
    /// Gram-assembly kernels on the CPU or the GPU).
    Bench(bench::BenchArgs),
    /// Theorem 1 per pair (published vs corrected bound) on a Gram matrix or a model's eNTK.
    Bound(bound::BoundArgs),
    /// Theorem 1 across graph sizes: generate, mine near-miss pairs, check, table and plots.
    Sweep(sweep::SweepArgs),
    /// Run the A-CBO interventional loop on a corpus and report accuracy and queries by size.
    Acbo(acbo::AcboArgs),
    /// List the wgpu adapters and the device `--device auto|wgpu` picks.
    Devices(devices::DevicesArgs),
    /// Write local query records (one simulated experiment each) for the model:PATH oracle (a trained classifier).
    LocalQueries(local_queries::LocalQueriesArgs),
    /// The whole story end to end on the built-in model: an HTML report with plots.
    Demo(demo::DemoArgs),
}

/// Parse the process arguments and run the chosen subcommand.
///
/// # Errors
/// Whatever the subcommand returns.
pub fn main_entry() -> anyhow::Result<()> {
    let cli = Cli::parse();
    run(cli)
}

/// Run a parsed command line.
///
/// # Errors
/// Whatever the subcommand returns.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Acbo(args) => acbo::run(args),
        Command::LocalQueries(args) => local_queries::run(args),
        Command::Bound(args) => bound::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Enumerate(args) => enumerate::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Pairs(args) => pairs::run(args),
        Command::Overlap(args) => overlap::run(args),
        Command::Tokenizer(args) => tokenizer::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Forward(args) => forward::run(args),
        Command::Gram(args) => gram::run(args),
        Command::GramMerge(args) => gram_merge::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Devices(args) => devices::run(args),
        Command::Sweep(args) => sweep::run(args),
    }
}

/// A clap value parser for a library enum that names its values (`T::NAMES`): the names are
/// clap's possible values (listed in `--help` and in the error for any other word).
pub(crate) fn choice<T: Copy + Send + Sync + 'static>(
    names: &'static [(&'static str, T)],
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(names.iter().map(|(name, _)| *name)).map(move |word: String| {
        names.iter().find(|(name, _)| *name == word).map(|(_, value)| *value).expect("clap admits only listed names")
    })
}

/// `dir/stem.meta.json` for an output `dir/stem.ext`.
pub fn meta_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    out.with_file_name(format!("{stem}.meta.json"))
}

/// The whole error chain on one line, outermost first, without repeating text a context already
/// contains; the settings that library errors name spelled as flags ([`flags::flagify`]).
pub fn error_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = match cause.downcast_ref::<crate::Error>() {
            Some(
                e @ (crate::Error::InvalidSetting { .. }
                | crate::Error::TooLarge { .. }
                | crate::Error::Numerical { .. }),
            ) => flags::flagify(&e.to_string()),
            _ => cause.to_string(),
        };
        if parts.last().is_some_and(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ").replace('\n', " ")
}

/// 2 for bad input, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|c| c.downcast_ref::<crate::Error>().is_some_and(|e| e.is_bad_input()));
    if bad_input {
        2
    } else {
        1
    }
}
