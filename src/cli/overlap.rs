//! `ntkgap overlap`: token overlap of mined pairs by number of variables (mean, min, max), as a
//! table on stdout and optionally as CSV. See [`crate::tokenize::summary`].

use std::path::PathBuf;

use clap::Args;

use crate::files::{write_atomic, Meta};
use crate::tokenize::summary::{read_pairs, render_table, summarize, to_csv};

/// Summarise a pairs file by n_vars.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ntkgap overlap --input pairs.jsonl --csv overlap.csv")]
pub struct OverlapArgs {
    /// Pairs JSONL written by `ntkgap pairs`.
    #[arg(long)]
    pub input: PathBuf,
    /// Also write the table as CSV here (atomically; `<stem>.meta.json` beside it).
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

/// Run `ntkgap overlap`.
///
/// # Errors
/// A library error (exit 2) naming the bad line or file.
pub fn run(args: OverlapArgs) -> anyhow::Result<()> {
    let pairs = read_pairs(&args.input)?;
    let rows = summarize(&pairs);
    if let Some(csv) = &args.csv {
        write_atomic(csv, to_csv(&rows).as_bytes())?;
        let mut meta = Meta::new(None);
        meta.add_input(&args.input)?;
        meta.set("pairs", pairs.len()).set("rows", rows.len());
        meta.write(super::meta_path(csv))?;
    }
    print!("{}", render_table(&rows));
    Ok(())
}
