//! The rows of stage 4 (`kernel/summary.json`, `kernel/pairs.csv`): the stage's compact,
//! read-back view of each [`Analysis`] of [`crate::gap`] — per run (predictor × objective) the
//! fit or lazy-regime diagnostics and the violation counts by graph size, per pair the Theorem 1
//! quantities. NaN values (an undefined correlation) are stored as `null`.

use serde::{Deserialize, Serialize};

use crate::bound::table::GroupSummary;
use crate::files::csv::{optional, CsvTable};
use crate::gap::Analysis;

/// A value that may be NaN (written as `null`).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The kernel-ridge fit of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeFit {
    /// The absolute λ.
    pub lambda: f64,
    /// r in λ = r · mean(diag K_train).
    pub relative_ridge: f64,
    /// Training inputs.
    pub train_inputs: usize,
    /// Of those, labelled entailment.
    pub train_positives: usize,
    /// Training accuracy of sign s(x).
    pub train_accuracy: f64,
}

/// The lazy-regime diagnostics of a network run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LazyRow {
    /// ‖K_T − K₀‖_F / ‖K₀‖_F over the pair inputs.
    pub kernel_drift: f64,
    /// ‖θ_T − θ₀‖.
    pub parameter_change: f64,
    /// ‖θ_T − θ₀‖ / ‖θ₀‖.
    pub relative_parameter_change: f64,
    /// ‖Δf − Δf_lin‖ / ‖Δf‖ over the pair inputs.
    pub linearization_relative_error: Option<f64>,
    /// Pearson correlation of Δf and Δf_lin.
    pub linearization_correlation: Option<f64>,
    /// Share of inputs where Δf and Δf_lin have the same sign.
    pub sign_agreement: f64,
}

/// Aggregates of one run over a group of pairs (`n_vars` = `None`: all pairs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeRow {
    /// Number of variables.
    pub n_vars: Option<usize>,
    /// Pairs.
    pub pairs: usize,
    /// Mean shared-token fraction.
    pub mean_shared_fraction: f64,
    /// Mean δ = 1 − ρ.
    pub mean_delta: f64,
    /// Median δ.
    pub median_delta: f64,
    /// Mean |a − b| / max(a, b).
    pub mean_norm_asymmetry: f64,
    /// Mean |gap| of the predictor.
    pub mean_abs_gap: f64,
    /// Mean |f_T(x₊) − f_T(x₋)| of the model itself.
    pub mean_abs_model_gap: f64,
    /// Mean published bound.
    pub mean_published_bound: f64,
    /// Mean corrected bound.
    pub mean_corrected_bound: f64,
    /// Pairs whose gap violates the published bound.
    pub published_violations: usize,
    /// Pairs whose gap violates the corrected bound.
    pub corrected_violations: usize,
    /// Network runs: pairs whose linearized gap violates the published bound.
    pub linearized_published_violations: Option<usize>,
    /// Network runs: pairs whose linearized gap violates the corrected bound (must be 0).
    pub linearized_corrected_violations: Option<usize>,
    /// Median B_min = 1/d_K = 1/‖φ₊ − φ₋‖ over the pairs: the smallest weight norm with which any
    /// linear predictor on this kernel's features separates a pair by a margin of 1 (`None`
    /// when undefined: a pair with d_K = 0).
    #[serde(default)]
    pub median_b_min: Option<f64>,
}

/// One analysis: a predictor of one objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `sft-network`, `sft-kernel-ridge`, `dpo-network` (also the folder name).
    pub name: String,
    /// `sft` or `dpo`.
    pub objective: String,
    /// `network` or `kernel-ridge`.
    pub predictor: String,
    /// B of the predictor.
    pub weight_norm_bound: f64,
    /// κ = max √K(x, x) over the pair inputs.
    pub kappa: f64,
    /// Smallest and largest eigenvalue of the Gram matrix the predictor uses.
    pub gram_eigenvalue_range: (f64, f64),
    /// Kernel ridge only.
    pub ridge: Option<RidgeFit>,
    /// Network only.
    pub lazy: Option<LazyRow>,
    /// All pairs first, then one row per n.
    pub by_size: Vec<SizeRow>,
}

/// One pair under one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    /// The run's name.
    pub run: String,
    /// Pair index in `data/pairs.jsonl`.
    pub pair: usize,
    /// Rows of x₊ (entailed) and x₋ in K (`inputs.txt`).
    pub i: usize,
    /// Row of x₋.
    pub j: usize,
    /// Number of variables.
    pub n_vars: usize,
    /// Shared-token fraction of the two encodings.
    pub shared_fraction: f64,
    /// Tokens without a partner in the other encoding.
    pub differing_tokens: usize,
    /// Kernel similarity ρ.
    pub rho: f64,
    /// δ = 1 − ρ.
    pub delta: f64,
    /// a = √K₊₊.
    pub a: f64,
    /// b = √K₋₋.
    pub b: f64,
    /// The predictor's gap s(x₊) − s(x₋).
    pub gap: f64,
    /// The model's own margin gap f_T(x₊) − f_T(x₋).
    pub model_gap: f64,
    /// Bκ√(2δ).
    pub published_bound: f64,
    /// B√((a − b)² + 2δab).
    pub corrected_bound: f64,
    /// |gap| > published bound.
    pub published_violated: bool,
    /// |gap| > corrected bound.
    pub corrected_violated: bool,
    /// Network runs: the linearized gap.
    pub linearized_gap: Option<f64>,
    /// Network runs: |linearized gap| > corrected bound.
    pub linearized_corrected_violated: Option<bool>,
}

/// `kernel/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntkStageSummary {
    /// Distinct pair inputs (rows of K).
    pub inputs: usize,
    /// Pair inputs whose premise was truncated.
    pub truncated_inputs: usize,
    /// Analysed pairs.
    pub pairs: usize,
    /// Every run: the SFT network, SFT kernel ridge, then the other objectives' networks.
    pub runs: Vec<RunSummary>,
    /// Every pair under every run.
    pub rows: Vec<PairRow>,
}

impl EntkStageSummary {
    /// The run called `name`.
    pub fn run(&self, name: &str) -> Option<&RunSummary> {
        self.runs.iter().find(|r| r.name == name)
    }

    /// The rows of the run called `name`.
    pub fn rows_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PairRow> + 'a {
        self.rows.iter().filter(move |r| r.run == name)
    }
}

fn size_row(g: &GroupSummary, rows: &[crate::bound::table::PairRow]) -> SizeRow {
    let linear = rows.iter().any(|r| r.linearized.is_some());
    let members = rows.iter().filter(|r| g.n_vars.is_none() || r.info.n_vars == g.n_vars);
    SizeRow {
        n_vars: g.n_vars,
        pairs: g.pairs,
        mean_shared_fraction: g.mean_shared_fraction,
        mean_delta: g.mean_delta,
        median_delta: g.median_delta,
        mean_norm_asymmetry: g.mean_norm_asymmetry,
        mean_abs_gap: g.mean_abs_gap,
        mean_abs_model_gap: g.mean_abs_model_gap,
        mean_published_bound: g.mean_published_bound,
        mean_corrected_bound: g.mean_corrected_bound,
        published_violations: g.published_violations,
        corrected_violations: g.corrected_violations,
        linearized_published_violations: linear
            .then(|| members.filter(|r| r.linearized.is_some_and(|l| l.published_violated)).count()),
        linearized_corrected_violations: g.linearized_corrected_violations,
        median_b_min: finite(g.median_b_min),
    }
}

/// The stage's view of one [`Analysis`].
pub(crate) fn run_summary(name: &str, objective: &str, a: &Analysis) -> RunSummary {
    let s = &a.summary;
    let by_size = std::iter::once(&s.overall).chain(&s.by_n_vars).map(|g| size_row(g, &a.rows)).collect();
    RunSummary {
        name: name.into(),
        objective: objective.into(),
        predictor: s.predictor.as_str().into(),
        weight_norm_bound: s.weight_norm_bound,
        kappa: s.kappa,
        gram_eigenvalue_range: s.gram_eigenvalue_range,
        ridge: s.kernel.as_ref().map(|k| RidgeFit {
            lambda: k.fit.lambda,
            relative_ridge: k.relative_ridge,
            train_inputs: k.train_inputs,
            train_positives: k.train_positives,
            train_accuracy: k.fit.train_accuracy,
        }),
        lazy: s.network.as_ref().map(|n| LazyRow {
            kernel_drift: n.diagnostics.kernel_drift,
            parameter_change: n.diagnostics.parameter_change,
            relative_parameter_change: n.diagnostics.relative_parameter_change,
            linearization_relative_error: finite(n.diagnostics.linearization.relative_error),
            linearization_correlation: finite(n.diagnostics.linearization.correlation),
            sign_agreement: n.diagnostics.linearization.sign_agreement,
        }),
        by_size,
    }
}

pub(crate) fn pair_rows(name: &str, a: &Analysis) -> Vec<PairRow> {
    a.rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let (p, o) = (&r.report, &r.info.overlap);
            PairRow {
                run: name.into(),
                pair: k,
                i: p.i,
                j: p.j,
                n_vars: r.info.n_vars.unwrap_or(0),
                shared_fraction: o.shared_fraction,
                differing_tokens: o.differing_tokens,
                rho: p.rho,
                delta: p.delta,
                a: p.a,
                b: p.b,
                gap: p.gap,
                model_gap: r.model_gap,
                published_bound: p.published_bound,
                corrected_bound: p.corrected_bound,
                published_violated: p.published_violated,
                corrected_violated: p.corrected_violated,
                linearized_gap: r.linearized.map(|l| l.gap),
                linearized_corrected_violated: r.linearized.map(|l| l.corrected_violated),
            }
        })
        .collect()
}

pub(crate) fn pairs_csv(rows: &[PairRow]) -> String {
    let mut table = CsvTable::new(&[
        "run",
        "pair",
        "i",
        "j",
        "n_vars",
        "shared_fraction",
        "differing_tokens",
        "rho",
        "delta",
        "a",
        "b",
        "gap",
        "model_gap",
        "published_bound",
        "corrected_bound",
        "published_violated",
        "corrected_violated",
        "linearized_gap",
        "linearized_corrected_violated",
    ]);
    for r in rows {
        let mut fields =
            vec![r.run.clone(), r.pair.to_string(), r.i.to_string(), r.j.to_string(), r.n_vars.to_string()];
        fields.extend([r.shared_fraction.to_string(), r.differing_tokens.to_string()]);
        let numbers = [r.rho, r.delta, r.a, r.b, r.gap, r.model_gap, r.published_bound, r.corrected_bound];
        fields.extend(numbers.iter().map(f64::to_string));
        fields.extend([r.published_violated.to_string(), r.corrected_violated.to_string()]);
        fields.extend([optional(r.linearized_gap), optional(r.linearized_corrected_violated)]);
        table.row(&fields);
    }
    table.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_have_the_header_s_columns_and_empty_optional_fields() {
        let row = PairRow {
            run: "sft-network".into(),
            pair: 0,
            i: 0,
            j: 1,
            n_vars: 4,
            shared_fraction: 0.9,
            differing_tokens: 3,
            rho: 0.99,
            delta: 0.01,
            a: 1.0,
            b: 0.5,
            gap: 0.5,
            model_gap: 0.5,
            published_bound: 0.0,
            corrected_bound: 0.5,
            published_violated: true,
            corrected_violated: false,
            linearized_gap: None,
            linearized_corrected_violated: None,
        };
        let text = pairs_csv(&[
            row.clone(),
            PairRow { linearized_gap: Some(0.25), linearized_corrected_violated: Some(false), ..row },
        ]);
        let lines: Vec<&str> = text.lines().collect();
        let width = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == width), "{text}");
        assert!(lines[1].ends_with("true,false,,"), "{}", lines[1]);
        assert!(lines[2].ends_with("true,false,0.25,false"), "{}", lines[2]);
        assert_eq!(finite(f64::NAN), None);
        assert_eq!(finite(2.0), Some(2.0));
    }
}
