//! `ntkgap generate`: write a Corr2Cause or Extended Corr2Cause corpus as JSONL.
//!
//! The corpus is planned first (which MECs, how many records), refused above `--max-records`
//! unless `--force`, then streamed to `train.jsonl`/`dev.jsonl`/`test.jsonl` (split rule applied
//! per number of variables) or to one file, with a `meta.json` beside it.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::corpus::config::{parse_nodes, CorpusKind, Dedup, GenerateConfig, DEFAULT_MAX_RECORDS};
use crate::corpus::{CorpusWriter, Plan};
use crate::files::Meta;

/// Arguments of `ntkgap generate`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap generate --kind corr2cause --nodes 2..5 --out data/c2c\n  \
    ntkgap generate --kind extended --nodes 7..24 --per-size 10 --seed 1 --out data/extended\n  \
    ntkgap generate --kind corr2cause --nodes 6 --dedup none --max-mecs 500 --out n6.jsonl")]
pub struct GenerateArgs {
    /// Which corpus: the original benchmark's exhaustive MECs, or random DAGs (the paper's
    /// Extended Corr2Cause).
    #[arg(long, value_parser = super::choice(&CorpusKind::NAMES), default_value = "corr2cause")]
    pub kind: CorpusKind,
    /// Numbers of variables: N, A..B or A..=B (inclusive). corr2cause: 2..6; extended: 2..64.
    #[arg(long, default_value = "2..6")]
    pub nodes: String,
    /// corr2cause: one MEC per class of variable relabellings (iso, as the original) or every
    /// labelled MEC (none).
    #[arg(long, value_parser = super::choice(&Dedup::NAMES), default_value = "iso")]
    pub dedup: Dedup,
    /// corr2cause: keep a seeded sample of at most K MECs per number of variables.
    #[arg(long, value_name = "K")]
    pub max_mecs: Option<usize>,
    /// extended: distinct MECs (premises) per number of variables; each gives 6·n(n−1)/2 items.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub per_size: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Refuse when the estimated number of records exceeds this (unless --force).
    #[arg(long, default_value_t = DEFAULT_MAX_RECORDS)]
    pub max_records: u64,
    /// Generate even above --max-records.
    #[arg(long)]
    pub force: bool,
    /// extended: enumerate MECs with at most this many members; larger ones are labelled from
    /// samples (label_exact: false).
    #[arg(long, default_value_t = 10_000)]
    pub mec_cap: usize,
    /// extended: members sampled to label a MEC above --mec-cap.
    #[arg(long, default_value_t = 1000)]
    pub label_samples: usize,
    /// Output: a directory (train/dev/test.jsonl + meta.json; the split rule is applied per number
    /// of variables) or a file ending in .jsonl (all records, plus FILE.meta.json).
    #[arg(long)]
    pub out: PathBuf,
}

impl GenerateArgs {
    /// The validated library settings.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] naming the bad flag.
    pub fn config(&self) -> crate::Result<GenerateConfig> {
        let config = GenerateConfig {
            kind: self.kind,
            nodes: parse_nodes(&self.nodes)?,
            dedup: self.dedup,
            max_mecs: self.max_mecs,
            per_size: self.per_size,
            seed: self.seed,
            force: self.force,
            max_records: self.max_records,
            mec_cap: self.mec_cap,
            label_samples: self.label_samples,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Run `ntkgap generate`.
///
/// # Errors
/// Bad flags, a corpus above the limit, or an unwritable output (all exit code 2).
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let start = Instant::now();
    let plan = Plan::new(&config)?;
    plan.check_size()?;
    let mut writer = CorpusWriter::create(&args.out)?;
    let bar = super::progress::bar(plan.total_records(), "records");
    let summary = plan.generate(&mut writer, &mut |done| bar.set_position(done))?;
    bar.finish_and_clear();
    let meta_path = writer.meta_path().to_path_buf();
    let files = writer.finish()?;
    let mut meta = Meta::new(Some(config.seed));
    meta.set("config", &config).set("summary", &summary);
    meta.write(&meta_path)?;
    for s in &summary.sizes {
        let classes = s.mec_classes.map(|c| format!(", {c} relabelling classes")).unwrap_or_default();
        let labelled = s.labelled_mecs.map(|c| format!(", {c} labelled MECs")).unwrap_or_default();
        eprintln!("n={}: {} MECs{classes}{labelled}, {} records", s.n, s.mecs, s.records);
    }
    for (path, lines) in &files {
        eprintln!("wrote {} ({lines} records)", path.display());
    }
    eprintln!("{} records in {:.1} s", summary.records, start.elapsed().as_secs_f64());
    Ok(())
}
