//! `ntkgap pairs`: mine near-miss pairs (same premise and/or same hypothesis) from a corpus and
//! write them, with every overlap metric, as JSONL. See [`crate::tokenize::pairs`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::corpus::JsonlWriter;
use crate::error::Error;
use crate::files::Meta;
use crate::tokenize::load_with_max_length;
use crate::tokenize::pairs::{mine, MinerConfig, PairKind};
use crate::tokenize::stream::encode_all;

/// Which pairs to mine (command-line spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Two hypotheses under one premise.
    SamePremise,
    /// One hypothesis under two minimally different premises.
    SameHypothesis,
    /// Both kinds.
    Both,
}

impl From<KindArg> for PairKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::SamePremise => PairKind::SamePremise,
            KindArg::SameHypothesis => PairKind::SameHypothesis,
            KindArg::Both => PairKind::Both,
        }
    }
}

/// Mine near-miss pairs from a JSONL corpus.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ntkgap pairs --input corpus.jsonl --tokenizer builtin --kind both --out pairs.jsonl\n  \
ntkgap overlap --input pairs.jsonl --csv overlap.csv"
)]
pub struct PairsArgs {
    /// Corpus JSONL (records with premise, hypothesis, label; n_vars, relation, id optional).
    #[arg(long)]
    pub input: PathBuf,
    /// `builtin`, a tokenizer.json, or a directory holding one.
    #[arg(long, default_value = "builtin")]
    pub tokenizer: String,
    /// Maximum encoded length (default: the tokenizer's own; only premises are truncated).
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Which pairs to mine.
    #[arg(long, value_enum, default_value_t = KindArg::SamePremise)]
    pub kind: KindArg,
    /// Minimum shared-token fraction of the two full encodings, in [0, 1].
    #[arg(long, default_value_t = 0.9)]
    pub min_overlap: f64,
    /// Require opposite binary labels (the default; `--opposite-labels false` pairs any labels).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_name = "BOOL")]
    pub opposite_labels: bool,
    /// At most K pairs per premise (same-premise) or per record (same-hypothesis); 0 = no limit.
    #[arg(long, default_value_t = 10)]
    pub max_per_premise: usize,
    /// Groups with more records than this are subsampled (seeded) before pairing.
    #[arg(long, default_value_t = 200)]
    pub max_group: usize,
    /// Seed for tie-breaking and subsampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output JSONL (written atomically; `<stem>.meta.json` beside it).
    #[arg(long)]
    pub out: PathBuf,
}

impl PairsArgs {
    fn config(&self) -> crate::Result<MinerConfig> {
        let config = MinerConfig {
            kind: self.kind.into(),
            min_overlap: self.min_overlap,
            opposite_labels: self.opposite_labels,
            max_per_premise: (self.max_per_premise > 0).then_some(self.max_per_premise),
            max_group: self.max_group,
            seed: self.seed,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Run `ntkgap pairs`.
///
/// # Errors
/// A library [`Error`] (exit 2) for bad flags, a bad tokenizer, a malformed corpus or no pairs.
pub fn run(args: PairsArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let tokenizer = load_with_max_length(&args.tokenizer, args.max_length)?;
    let spinner = super::progress::spinner("encoding records");
    let (records, summary) = encode_all(&args.input, tokenizer.as_ref())?;
    spinner.set_message("mining pairs");
    let (pairs, stats) = mine(&records, tokenizer.as_ref(), &config)?;
    spinner.finish_and_clear();
    if pairs.is_empty() {
        return Err(Error::bad_input(
            &args.input,
            format!(
                "no pairs found among {} records ({} unlabelled; opposite labels required: {}, min overlap {}); \
                 try --kind both, --min-overlap 0 or --opposite-labels false",
                stats.records, stats.unlabelled, config.opposite_labels, config.min_overlap
            ),
        )
        .into());
    }
    let mut writer = JsonlWriter::create(&args.out)?;
    for p in &pairs {
        writer.write(p)?;
    }
    writer.finish()?;
    let mut meta = Meta::new(Some(config.seed));
    meta.add_input(&args.input)?;
    if args.tokenizer != "builtin" {
        meta.add_input(tokenizer.source())?;
    }
    meta.set("tokenizer", tokenizer.source()).set("max_length", tokenizer.max_length());
    meta.set("config", &config).set("stats", stats).set("encoding", summary);
    meta.write(super::meta_path(&args.out))?;
    if let Some(line) = summary.truncation_line() {
        eprintln!("{line}");
    }
    if stats.subsampled_groups > 0 {
        eprintln!(
            "note: {} groups had more than {} records and were subsampled (seed {})",
            stats.subsampled_groups, config.max_group, config.seed
        );
    }
    println!(
        "{} pairs from {} records ({} candidates) -> {}",
        stats.pairs,
        stats.records,
        stats.candidates,
        args.out.display()
    );
    Ok(())
}
