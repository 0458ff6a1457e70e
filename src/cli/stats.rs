//! `ntkgap stats`: counts by number of variables, label shares and mean premise/hypothesis
//! lengths (words) of a JSONL corpus, streamed.

use std::path::PathBuf;

use clap::Args;

use crate::corpus::{CorpusStats, JsonlReader};
use crate::error::Error;

/// Premises of large Extended systems run to megabytes; allow lines up to 256 MiB.
const STATS_MAX_LINE_BYTES: usize = 256 << 20;

/// Arguments of `ntkgap stats`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ntkgap stats --input data/c2c/test.jsonl\n  ntkgap stats --input corpus.jsonl --json"
)]
pub struct StatsArgs {
    /// A JSONL corpus (records with premise/hypothesis or text).
    #[arg(long)]
    pub input: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Run `ntkgap stats`.
///
/// # Errors
/// A missing or malformed input (exit code 2), naming the file and line.
pub fn run(args: StatsArgs) -> anyhow::Result<()> {
    let mut stats = CorpusStats::new();
    for item in JsonlReader::open(&args.input)?.max_line_bytes(STATS_MAX_LINE_BYTES) {
        let (_, record) = item?;
        stats.add(&record);
    }
    if stats.total.records == 0 {
        return Err(Error::bad_input(&args.input, "contains no records").into());
    }
    stats.finish();
    if args.json {
        let text = serde_json::to_string_pretty(&stats)
            .map_err(|source| Error::Serialize { what: "statistics".into(), source })?;
        println!("{text}");
    } else {
        print!("{}", stats.table());
    }
    Ok(())
}
