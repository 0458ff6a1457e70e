//! The report's charts, drawn from [`DemoSummary`] only, each saved as `img/<name>.png` and
//! `img/<name>.svg` ([`Chart::save`]). [`CHARTS`] fixes the names the page embeds.

use std::path::Path;

use crate::demo::entk_stage::PairRow;
use crate::demo::entk_stage::{NETWORK_RUN, RIDGE_RUN};
use crate::demo::summary::DemoSummary;
use crate::error::Result;
use crate::report::plot::{Chart, Series, SeriesStyle};

/// Every chart name, in page order.
pub const CHARTS: [&str; 11] = [
    "training_curves",
    "accuracy_by_size",
    "wrong_confidence_by_size",
    "overlap_by_size",
    "delta_vs_overlap",
    "gap_vs_bounds",
    "ridge_gap_vs_bounds",
    "violations_by_size",
    "b_min_by_size",
    "acbo_accuracy_by_size",
    "acbo_queries_by_size",
];

fn objectives(s: &DemoSummary) -> Vec<String> {
    s.train.runs.iter().map(|r| r.objective.clone()).collect()
}

fn by_n(
    s: &DemoSummary,
    objective: &str,
    f: impl Fn(&crate::demo::eval_stage::EvalRow) -> Option<f64>,
) -> Vec<(f64, f64)> {
    s.eval.rows.iter().filter(|r| r.objective == objective).filter_map(|r| Some((r.n_vars? as f64, f(r)?))).collect()
}

fn chart(title: &str, x: &str, y: &str, series: Vec<Series>) -> Chart {
    Chart { title: title.into(), x_label: x.into(), y_label: y.into(), series, ..Chart::default() }
}

fn training_curves(s: &DemoSummary) -> Chart {
    let mut series = Vec::new();
    for run in &s.train.runs {
        let up = run.objective.to_uppercase();
        series.push(Series::new(
            format!("{up} train loss"),
            run.epochs.iter().map(|e| (e.epoch as f64, e.train_loss)).collect(),
            SeriesStyle::LinePoints,
        ));
        let dev = run.epochs.iter().filter_map(|e| Some((e.epoch as f64, e.dev_loss?))).collect();
        series.push(Series::new(format!("{up} dev loss"), dev, SeriesStyle::Dashed));
    }
    chart("Fine-tuning: loss per epoch", "epoch", "mean loss", series)
}

fn accuracy_by_size(s: &DemoSummary) -> Chart {
    let mut series: Vec<Series> = objectives(s)
        .iter()
        .map(|o| {
            Series::new(
                format!("{} asked directly", o.to_uppercase()),
                by_n(s, o, |r| Some(r.accuracy)),
                SeriesStyle::LinePoints,
            )
        })
        .collect();
    series.push(Series::new("majority class", by_n(s, "sft", |r| Some(r.majority_accuracy)), SeriesStyle::Dashed));
    let xs = by_n(s, "sft", |_| Some(0.5));
    series.push(Series::new("chance (50 %)", xs, SeriesStyle::Dashed));
    let mut c = chart("Direct answers by graph size", "number of variables n", "accuracy", series);
    // Head room above 1.0 keeps the legend (drawn in the upper left) off the data.
    c.y_range = Some((0.0, 1.3));
    c
}

fn wrong_confidence_by_size(s: &DemoSummary) -> Chart {
    let series = objectives(s)
        .iter()
        .map(|o| {
            Series::new(
                format!("{} wrong answers", o.to_uppercase()),
                by_n(s, o, |r| r.mean_wrong_confidence),
                SeriesStyle::LinePoints,
            )
        })
        .collect();
    let mut c = chart(
        "How confident are the wrong answers?",
        "number of variables n",
        "mean confidence σ(|margin|) of wrong answers",
        series,
    );
    c.y_range = Some((0.5, 1.0));
    c
}

fn overlap_by_size(s: &DemoSummary) -> Chart {
    let shared =
        s.data.sizes.iter().filter(|c| c.pairs_mined > 0).map(|c| (c.n_vars as f64, c.mean_shared_fraction)).collect();
    let rho = s.kernel.run(NETWORK_RUN).map_or(Vec::new(), |r| {
        r.by_size.iter().filter_map(|g| Some((g.n_vars? as f64, 1.0 - g.mean_delta))).collect()
    });
    let series = vec![
        Series::new("shared-token fraction (all mined pairs)", shared, SeriesStyle::LinePoints),
        Series::new("eNTK similarity ρ at θ₀ (analysed pairs)", rho, SeriesStyle::LinePoints),
    ];
    chart(
        "Near misses by graph size: token overlap and kernel similarity",
        "number of variables n",
        "mean over pairs",
        series,
    )
}

fn delta_vs_overlap(s: &DemoSummary) -> Chart {
    let pts = s.kernel.rows_of(NETWORK_RUN).map(|p| (p.shared_fraction, p.delta.max(1e-12))).collect();
    let mut c = chart(
        "Token overlap versus kernel dissimilarity δ = 1 − ρ (eNTK at θ₀)",
        "shared-token fraction of the pair",
        "δ (log scale)",
        vec![Series::new("pairs", pts, SeriesStyle::Points)],
    );
    c.log_y = true;
    c
}

/// Per pair of `run`, sorted by (n, pair): the named quantities as point series (log scale).
fn per_pair(s: &DemoSummary, run: &str, title: &str, quantities: &[(&str, &dyn Fn(&PairRow) -> Option<f64>)]) -> Chart {
    let mut rows: Vec<&PairRow> = s.kernel.rows_of(run).collect();
    rows.sort_by_key(|p| (p.n_vars, p.pair));
    let series = quantities
        .iter()
        .map(|(name, f)| {
            Series::new(
                *name,
                rows.iter().enumerate().filter_map(|(i, p)| Some((i as f64, f(p)?.max(1e-12)))).collect(),
                SeriesStyle::Points,
            )
        })
        .collect();
    let mut c = chart(title, "pair (sorted by n)", "value (log scale)", series);
    c.log_y = true;
    // Two decades of head room above the data keep the legend (upper left) off the points.
    let ys: Vec<f64> =
        c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|y| *y > 0.0 && y.is_finite()).collect();
    if let (Some(lo), Some(hi)) = (ys.iter().copied().reduce(f64::min), ys.iter().copied().reduce(f64::max)) {
        c.y_range = Some((lo / 2.0, hi * 300.0));
    }
    c
}

fn gap_vs_bounds(s: &DemoSummary) -> Chart {
    per_pair(
        s,
        NETWORK_RUN,
        "Fine-tuned SFT network: gap of f_T − f₀ versus both bounds",
        &[
            ("|gap| of f_T − f₀", &|p| Some(p.gap.abs())),
            ("|linearized gap| ⟨∇f₀(x₊) − ∇f₀(x₋), θ_T − θ₀⟩", &|p| {
                p.linearized_gap.map(f64::abs)
            }),
            ("published bound Bκ√(2δ)", &|p| Some(p.published_bound)),
            ("corrected bound B√((a−b)²+2δab)", &|p| Some(p.corrected_bound)),
        ],
    )
}

fn ridge_gap_vs_bounds(s: &DemoSummary) -> Chart {
    per_pair(
        s,
        RIDGE_RUN,
        "Kernel ridge on the fine-tuned eNTK: gap versus both bounds",
        &[
            ("|gap| of the kernel-ridge predictor", &|p| Some(p.gap.abs())),
            ("published bound Bκ√(2δ)", &|p| Some(p.published_bound)),
            ("corrected bound B√((a−b)²+2δab)", &|p| Some(p.corrected_bound)),
        ],
    )
}

fn violations_by_size(s: &DemoSummary) -> Chart {
    let mut series = Vec::new();
    for run in s.kernel.runs.iter().filter(|r| r.objective == "sft") {
        let rate = |f: &dyn Fn(&crate::demo::entk_stage::SizeRow) -> usize| -> Vec<(f64, f64)> {
            run.by_size.iter().filter_map(|g| Some((g.n_vars? as f64, f(g) as f64 / g.pairs.max(1) as f64))).collect()
        };
        series.push(Series::new(
            format!("{}: published bound", run.predictor),
            rate(&|g| g.published_violations),
            SeriesStyle::LinePoints,
        ));
        series.push(Series::new(
            format!("{}: corrected bound", run.predictor),
            rate(&|g| g.corrected_violations),
            SeriesStyle::Dashed,
        ));
    }
    let mut c = chart(
        "Share of pairs violating each bound, by graph size (SFT)",
        "number of variables n",
        "violation rate",
        series,
    );
    c.y_range = Some((0.0, 1.5));
    c.x_integer = true;
    c
}

/// The norm needed to separate (docs/science.md "The norm needed to separate"): per kernel of
/// stage 4 the median B_min = 1/d_K by n, beside the B its predictor has (dashed).
fn b_min_by_size(s: &DemoSummary) -> Chart {
    let mut series = Vec::new();
    for run in &s.kernel.runs {
        let kernel = if run.predictor == "network" && run.objective == "sft" {
            "eNTK at θ₀".to_string()
        } else if run.predictor == "network" {
            format!("eNTK at {}'s start (the SFT model)", run.objective.to_uppercase())
        } else {
            format!("fine-tuned {} eNTK", run.objective.to_uppercase())
        };
        let points: Vec<(f64, f64)> =
            run.by_size.iter().filter_map(|g| Some((g.n_vars? as f64, g.median_b_min?))).collect();
        let flat = points.iter().map(|(x, _)| (*x, run.weight_norm_bound)).collect();
        series.push(Series::new(format!("median B_min, {kernel}"), points, SeriesStyle::LinePoints));
        series.push(Series::new(format!("B of {}", run.name), flat, SeriesStyle::Dashed));
    }
    let mut c = chart(
        "Norm needed to separate near misses by a margin of 1, by graph size",
        "number of variables n",
        "‖w‖ (log)",
        series,
    );
    c.log_y = true;
    c.x_integer = true;
    c
}

fn acbo_accuracy_by_size(s: &DemoSummary) -> Chart {
    let rows: Vec<_> = s.acbo.rows.iter().filter(|r| r.n_vars.is_some()).collect();
    let x = |r: &crate::demo::acbo_stage::AcboSizeRow| r.n_vars.unwrap_or(0) as f64;
    let mut series = vec![Series::new(
        "SFT asked directly (vs label)",
        rows.iter().map(|r| (x(r), r.direct_accuracy_vs_label)).collect(),
        SeriesStyle::LinePoints,
    )];
    let oracles = rows.first().map_or(0, |r| r.oracles.len());
    for k in 0..oracles {
        let name = rows[0].oracles[k].oracle.clone();
        series.push(Series::new(
            format!("A-CBO {name} (vs label)"),
            rows.iter().map(|r| (x(r), r.oracles[k].accuracy_vs_label)).collect(),
            SeriesStyle::LinePoints,
        ));
        series.push(Series::new(
            format!("A-CBO {name} (vs drawn DAG)"),
            rows.iter().map(|r| (x(r), r.oracles[k].accuracy_vs_truth)).collect(),
            SeriesStyle::Dashed,
        ));
    }
    let mut c = chart("Direct answer versus A-CBO, by graph size", "number of variables n", "accuracy", series);
    // Head room above 1.0 for the legend's seven entries.
    c.y_range = Some((0.0, 1.8));
    c.x_integer = true;
    c
}

fn acbo_queries_by_size(s: &DemoSummary) -> Chart {
    let rows: Vec<_> = s.acbo.rows.iter().filter(|r| r.n_vars.is_some()).collect();
    let x = |r: &crate::demo::acbo_stage::AcboSizeRow| r.n_vars.unwrap_or(0) as f64;
    let oracles = rows.first().map_or(0, |r| r.oracles.len());
    let mut series: Vec<Series> = (0..oracles)
        .map(|k| {
            Series::new(
                format!("queries, {}", rows[0].oracles[k].oracle),
                rows.iter().map(|r| (x(r), r.oracles[k].mean_queries)).collect(),
                SeriesStyle::LinePoints,
            )
        })
        .collect();
    if oracles > 0 {
        series.push(Series::new(
            "⌈log₂ |candidates|⌉",
            rows.iter().map(|r| (x(r), r.oracles[0].mean_log2_candidates)).collect(),
            SeriesStyle::Dashed,
        ));
    }
    chart("A-CBO: queries asked per item", "number of variables n", "mean per item", series)
}

/// Build every chart of [`CHARTS`], in that order.
pub fn build(s: &DemoSummary) -> Vec<(&'static str, Chart)> {
    let charts = [
        training_curves(s),
        accuracy_by_size(s),
        wrong_confidence_by_size(s),
        overlap_by_size(s),
        delta_vs_overlap(s),
        gap_vs_bounds(s),
        ridge_gap_vs_bounds(s),
        violations_by_size(s),
        b_min_by_size(s),
        acbo_accuracy_by_size(s),
        acbo_queries_by_size(s),
    ];
    CHARTS.into_iter().zip(charts).collect()
}

/// Save every chart into `dir` as PNG and SVG.
///
/// # Errors
/// Drawing failures or unwritable files (named).
pub fn write_all(s: &DemoSummary, dir: &Path) -> Result<()> {
    for (name, c) in build(s) {
        c.save(dir.join(name))?;
    }
    Ok(())
}
