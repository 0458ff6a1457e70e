//! `ntkgap local-queries`: write local query records for the `model:PATH` oracle — one short text
//! per (random system, intervention, target) carrying the outcome of one simulated experiment,
//! labelled with the truth — as `train.jsonl`/`dev.jsonl`/`test.jsonl` (split by system) or one
//! file, with `meta.json`. Mixed with a Corr2Cause training file, they train one model that can
//! be asked both the global question and local queries. Also reports, per size, how much
//! near-miss local queries (opposite answers) share of their built-in tokens. Template and choices:
//! [`crate::acbo::local_query`], `docs/acbo.md`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::acbo::local_query::{generate_local_corpus, LocalCorpusConfig};
use crate::acbo::oracle::ExperimentSettings;
use crate::corpus::config::parse_nodes;
use crate::corpus::CorpusWriter;
use crate::files::Meta;

/// Arguments of `ntkgap local-queries`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    ntkgap local-queries --nodes 3..12 --systems 20 --samples 200 --seed 1 --out data/local\n  \
    cat data/c2c/train.jsonl data/local/train.jsonl > data/mixed-train.jsonl")]
pub struct LocalQueriesArgs {
    /// Numbers of variables: N, A..B or A..=B (inclusive), within 2..64.
    #[arg(long, default_value = "3..8")]
    pub nodes: String,
    /// Random systems per size; each gives n(n−1) records (every tenth system goes to test,
    /// the next to dev).
    #[arg(long, default_value_t = 20)]
    pub systems: usize,
    /// Samples per intervention arm of each simulated experiment (S; the model oracle's
    /// `--local-samples` must match).
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Seed of DAGs, SCM weights and noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output: a directory (train/dev/test.jsonl + meta.json) or a file ending in .jsonl.
    #[arg(long)]
    pub out: PathBuf,
}

impl LocalQueriesArgs {
    /// The validated library settings.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] naming the bad flag.
    pub fn config(&self) -> crate::Result<LocalCorpusConfig> {
        if self.samples < 2 {
            return Err(crate::Error::invalid("--samples", format!("{} < 2", self.samples)));
        }
        let config = LocalCorpusConfig {
            nodes: parse_nodes(&self.nodes)?,
            systems: self.systems,
            experiment: ExperimentSettings::new(self.samples)?,
            seed: self.seed,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Run `ntkgap local-queries`.
///
/// # Errors
/// Bad flags or an unwritable output (exit code 2).
pub fn run(args: LocalQueriesArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let start = Instant::now();
    let mut writer = CorpusWriter::create(&args.out)?;
    let bar = super::progress::bar(config.total_records(), "records");
    let tokenizer = crate::tokenize::builtin::tokenizer()?;
    let sizes = generate_local_corpus(&config, &tokenizer, &mut writer, &mut |done| bar.set_position(done))?;
    bar.finish_and_clear();
    let meta_path = writer.meta_path().to_path_buf();
    let files = writer.finish()?;
    let mut meta = Meta::new(Some(config.seed));
    meta.set("config", &config).set("sizes", &sizes);
    meta.write(&meta_path)?;
    for s in &sizes {
        let share = if s.records == 0 { 0.0 } else { 100.0 * s.changes as f64 / s.records as f64 };
        let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1} %", 100.0 * v));
        let m = &s.near_misses;
        eprintln!(
            "n={}: {} records ({share:.1} % changes; train {}, dev {}, test {}); near misses share {} (same do, {} pairs) / {} (same question, {} pairs) of their tokens, max {}, {} pairs >= 97 %; {} identical texts with opposite answers",
            s.n, s.records, s.train, s.dev, s.test,
            pct(m.same_intervention_mean_shared), m.same_intervention_pairs,
            pct(m.same_question_mean_shared), m.same_question_pairs,
            pct(m.max_shared), m.pairs_at_least_97, m.identical_texts
        );
    }
    for (path, lines) in &files {
        eprintln!("wrote {} ({lines} records)", path.display());
    }
    eprintln!("{} records in {:.1} s", config.total_records(), start.elapsed().as_secs_f64());
    Ok(())
}
