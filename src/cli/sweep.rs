//! `ntkgap sweep`: the Theorem 1 check across graph sizes ([`crate::gap::sweep`]). Writes
//! `table.csv` (one row per n: overlap, δ, gaps, bounds, violation rates), `pairs.csv` (every
//! analysed pair), `summary.json`, the four charts (PNG + SVG) and `meta.json` into `--out`, and
//! prints the table.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::bound::table::{by_n_vars, csv, render_table, GroupSummary, PairRow};
use crate::bound::Predictor;
use crate::cli::bound::predictor_name;
use crate::cli::gap_args::{bars, PredictorArgs};
use crate::corpus::parse_nodes;
use crate::error::Error;
use crate::files::csv::{optional, CsvTable};
use crate::files::{write_atomic, write_json_atomic, Meta, OutputDir};
use crate::gap::analysis::AnalysisSummary;
use crate::gap::sweep::{sweep, SizeResult, SweepConfig, SweepPredictor};
use crate::gap::GapKernel;
use crate::report::bound_charts as charts;

/// Sweep graph sizes: generate data, mine near-miss pairs, check both bounds per pair.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap sweep --model runs/tiny/best --nodes 3..12 --out runs/sweep\n  \
    ntkgap sweep --model runs/tiny/best --predictor network --init runs/tiny/theta0 --nodes 3..8 --out runs/sweep_net\n  \
    ntkgap sweep --model builtin:tiny-decoder --kernel last-layer --nodes 3..5 --out runs/sweep_readout")]
pub struct SweepArgs {
    /// `builtin:tiny|small|tiny-decoder`, a Hugging Face model directory (BERT, RoBERTa, Llama,
    /// Mistral, Qwen2, GPT-2) or a GGUF file (θ_T for the network).
    #[arg(long)]
    pub model: String,
    /// Graph sizes: N, A..B or A..=B (inclusive); Corr2Cause for n ≤ 6, Extended above.
    #[arg(long, default_value = "3..12")]
    pub nodes: String,
    /// Pairs analysed per size (a uniform seeded sample of the mined pairs).
    #[arg(long, default_value_t = 8)]
    pub pairs_per_size: usize,
    /// Kernel predictors: labelled training records per size (never pair members).
    #[arg(long, default_value_t = 24)]
    pub train_per_size: usize,
    /// Corr2Cause sizes (n ≤ 6): MECs sampled per size.
    #[arg(long, default_value_t = 8)]
    pub max_mecs: usize,
    /// Extended sizes (n ≥ 7): random DAGs per size.
    #[arg(long, default_value_t = 2)]
    pub per_size: usize,
    /// Mine at most K pairs per premise, best overlap first (0 = every pair, the default).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub max_per_premise: usize,
    /// Predictor, eNTK and length options.
    #[command(flatten)]
    pub predictor: PredictorArgs,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// One size in `summary.json`.
#[derive(Debug, Serialize)]
struct SizeEntry<'a> {
    n_vars: usize,
    corpus: &'a str,
    records: usize,
    pairs_mined: usize,
    truncated_inputs: usize,
    skipped: Option<&'a str>,
    analysis: Option<&'a AnalysisSummary>,
}

fn table_csv(results: &[SizeResult]) -> String {
    let mut table = CsvTable::new(&[
        "n_vars",
        "corpus",
        "records",
        "pairs_mined",
        "pairs",
        "truncated_inputs",
        "mean_shared_fraction",
        "mean_differing_tokens",
        "mean_delta",
        "median_delta",
        "mean_norm_asymmetry",
        "mean_abs_gap",
        "mean_published_bound",
        "mean_corrected_bound",
        "published_violations",
        "published_violation_rate",
        "corrected_violations",
        "corrected_violation_rate",
        "mean_abs_model_gap",
        "ordered_fraction",
        "weight_norm_bound",
        "kappa",
        "kernel_drift",
        "linearization_relative_error",
        "linearized_corrected_violations",
        "median_b_min",
    ]);
    for r in results {
        let Some(a) = &r.analysis else { continue };
        let g = &a.summary.overall;
        let net = a.summary.network.as_ref();
        let mut fields = vec![r.n_vars.to_string(), r.corpus.to_string(), r.records.to_string()];
        fields.extend([r.pairs_mined.to_string(), g.pairs.to_string(), r.truncated_inputs.to_string()]);
        let means =
            [g.mean_shared_fraction, g.mean_differing_tokens, g.mean_delta, g.median_delta, g.mean_norm_asymmetry];
        fields.extend(means.iter().map(f64::to_string));
        fields.extend([g.mean_abs_gap, g.mean_published_bound, g.mean_corrected_bound].iter().map(f64::to_string));
        fields.extend([g.published_violations.to_string(), g.published_violation_rate.to_string()]);
        fields.extend([g.corrected_violations.to_string(), g.corrected_violation_rate.to_string()]);
        fields.extend(
            [g.mean_abs_model_gap, g.ordered_fraction, g.weight_norm_bound, g.kappa].iter().map(f64::to_string),
        );
        fields.push(optional(net.map(|n| n.diagnostics.kernel_drift)));
        fields.push(optional(net.map(|n| n.diagnostics.linearization.relative_error)));
        fields.push(optional(net.map(|n| n.linearized_corrected_violations)));
        fields.push(g.median_b_min.to_string());
        table.row(&fields);
    }
    table.into_string()
}

fn write_outputs(
    out: &std::path::Path,
    results: &[SizeResult],
    rows: &[PairRow],
    groups: &[GroupSummary],
    (name, last_layer): (&str, bool),
    summary: &serde_json::Value,
    meta: &Meta,
) -> crate::Result<PathBuf> {
    let dir = OutputDir::create(out)?;
    write_atomic(dir.path().join("table.csv"), table_csv(results).as_bytes())?;
    write_atomic(dir.path().join("pairs.csv"), csv(rows).as_bytes())?;
    write_json_atomic(dir.path().join("summary.json"), summary)?;
    charts::overlap_vs_n(groups).save(dir.path().join("overlap_vs_n"))?;
    charts::delta_vs_n(groups).save(dir.path().join("delta_vs_n"))?;
    charts::gap_vs_overlap(rows, name).save(dir.path().join("gap_vs_overlap"))?;
    charts::violations_vs_n(groups, name).save(dir.path().join("violations_vs_n"))?;
    let kernel = match name {
        "network" => "eNTK at θ₀ (--init)",
        _ if last_layer => "last-layer kernel φφᵀ of --model",
        _ => "eNTK of --model",
    };
    charts::b_min_vs_n(groups, kernel, name).save(dir.path().join("b_min_vs_n"))?;
    meta.write(dir.path().join("meta.json"))?;
    Ok(dir.keep())
}

fn config(args: &SweepArgs) -> crate::Result<SweepConfig> {
    let config = SweepConfig {
        nodes: parse_nodes(&args.nodes)?,
        seed: args.seed,
        max_mecs: args.max_mecs,
        per_size: args.per_size,
        pairs_per_size: args.pairs_per_size,
        max_per_premise: (args.max_per_premise > 0).then_some(args.max_per_premise),
        train_per_size: args.train_per_size,
    };
    config.validate()?;
    Ok(config)
}

/// Run `ntkgap sweep`.
///
/// # Errors
/// A library error (exit 2) for bad flags, a bad model or `--init`; nothing is written then.
pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let resolved = args.predictor.resolve()?;
    let loaded = args.predictor.load(&args.model, args.seed)?;
    let predictor = match (loaded.gap_init(), resolved.predictor) {
        (Some(init), _) => SweepPredictor::Network { init, source: args.predictor.init.as_deref().unwrap_or_default() },
        (None, Predictor::Readout) => SweepPredictor::Readout,
        (None, _) => SweepPredictor::Kernel(resolved.kernel),
    };
    let device = loaded.compute.device(true);
    crate::cli::model_args::announce(&loaded.compute);
    let tokenizer = loaded.model.tokenizer();
    let results = sweep(loaded.gap_model(), tokenizer, &predictor, &config, &resolved.analysis, &device, &mut bars())?;
    let rows: Vec<PairRow> =
        results.iter().filter_map(|r| r.analysis.as_ref()).flat_map(|a| a.rows.iter().cloned()).collect();
    if rows.is_empty() {
        return Err(Error::invalid(
            "--nodes",
            format!("no size in {} yielded a near-miss pair with opposite labels", args.nodes),
        )
        .into());
    }
    let groups: Vec<GroupSummary> = by_n_vars(&rows);
    let name = predictor_name(resolved.predictor);
    let entries: Vec<SizeEntry<'_>> = results
        .iter()
        .map(|r| SizeEntry {
            n_vars: r.n_vars,
            corpus: r.corpus,
            records: r.records,
            pairs_mined: r.pairs_mined,
            truncated_inputs: r.truncated_inputs,
            skipped: r.skipped.as_deref(),
            analysis: r.analysis.as_ref().map(|a| &a.summary),
        })
        .collect();
    let all: Vec<&PairRow> = rows.iter().collect();
    let summary = serde_json::json!({ "predictor": resolved.predictor, "kernel": resolved.analysis.kernel, "config": &config, "overall": crate::bound::table::summarize(None, &all), "sizes": entries });
    let mut meta = Meta::new(Some(args.seed));
    args.predictor.add_inputs(&mut meta, &args.model)?;
    meta.set("model", &args.model)
        .set("init", &args.predictor.init)
        .set("predictor", resolved.predictor)
        .set("config", &config);
    meta.set("kernel", resolved.analysis.kernel).set("gram", resolved.analysis.gram);
    meta.set("max_length", tokenizer.max_length()).set("decoder", loaded.prompting());
    let last_layer = resolved.analysis.kernel == GapKernel::LastLayer;
    let out = write_outputs(&args.out, &results, &rows, &groups, (name, last_layer), &summary, &meta)?;
    for r in &results {
        if let Some(why) = &r.skipped {
            eprintln!("note: n={} skipped: {why}", r.n_vars);
        } else if r.truncated_inputs > 0 {
            eprintln!(
                "note: n={}: {} analysed inputs truncated to {} tokens (premise only)",
                r.n_vars,
                r.truncated_inputs,
                tokenizer.max_length()
            );
        }
    }
    print!("{}", render_table(&groups));
    let o = crate::bound::table::summarize(None, &all);
    println!(
        "{name}: {} pairs over {} sizes; published bound violated by {} ({:.1} %), corrected bound by {} ({:.1} %) -> {}",
        o.pairs, groups.len(), o.published_violations, 100.0 * o.published_violation_rate, o.corrected_violations, 100.0 * o.corrected_violation_rate, out.display()
    );
    Ok(())
}
