//! Per-pair rows of the model-driven Theorem 1 check (`ntkgap bound --model`, `ntkgap sweep`):
//! the [`PairReport`] of the pair plus what it is (ids, `n_vars`, labels, token overlap), the
//! network's own output gap and, for the `network` predictor, the linearized check; the CSV
//! writer and the summary by number of variables.
//!
//! The CSV header starts with the 15 columns of the `--gram` mode ([`GRAM_CSV_HEADER`]), so
//! `i,j,gap,delta,a,b,published_bound,corrected_bound,published_violated,corrected_violated`
//! come first in both modes, flags as `true`/`false`. Known gaps: none beyond the predictors'.

use std::collections::BTreeMap;

use std::fmt::Write as _;

use serde::Serialize;

use crate::bound::pair::violates;
use crate::bound::PairReport;
use crate::files::csv::{optional, CsvTable};
use crate::tokenize::Overlap;

/// The columns of `--gram` mode, in order (also the first columns of the model-driven CSV).
pub const GRAM_CSV_HEADER: &str =
    "i,j,gap,delta,a,b,published_bound,corrected_bound,published_violated,corrected_violated,\
rho,distance,cauchy_schwarz,kappa,weight_norm_bound,b_min";

/// What a pair is, independent of any kernel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairInfo {
    /// Id of x₊ (the record id, or `pairs.jsonl:LINE:a` when the record has none).
    pub id_a: String,
    /// Id of x₋.
    pub id_b: String,
    /// Number of variables of the premise, when known.
    pub n_vars: Option<usize>,
    /// `same_premise` or `same_hypothesis`.
    pub kind: String,
    /// Binary labels of x₊ and x₋ (1 = entailment), when labelled.
    pub labels: (Option<u8>, Option<u8>),
    /// Token overlap of the two encodings, as the model's tokenizer encodes them.
    pub overlap: Overlap,
}

/// The linearized predictor Δf_lin(x) = ⟨∇f₀(x), θ_T − θ₀⟩ on one pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinearizedCheck {
    /// Δf_lin(x₊) − Δf_lin(x₋).
    pub gap: f64,
    /// gap − linearized gap (the linearization error of the pair's gap).
    pub error: f64,
    /// |linearized gap| exceeds the corrected bound (must never happen).
    pub corrected_violated: bool,
    /// |linearized gap| exceeds the published bound.
    pub published_violated: bool,
}

impl LinearizedCheck {
    /// The check of `linearized_gap` against `report`'s bounds.
    pub fn new(report: &PairReport, linearized_gap: f64) -> Self {
        Self {
            gap: linearized_gap,
            error: report.gap - linearized_gap,
            corrected_violated: violates(linearized_gap.abs(), report.corrected_bound),
            published_violated: violates(linearized_gap.abs(), report.published_bound),
        }
    }
}

/// One analysed pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairRow {
    /// The Theorem 1 check of the predictor's gap.
    pub report: PairReport,
    /// What the pair is.
    pub info: PairInfo,
    /// The analysed model's own margin gap s(x₊) − s(x₋).
    pub model_gap: f64,
    /// The linearized check (`network` predictor only).
    pub linearized: Option<LinearizedCheck>,
}

/// The columns of the model-driven mode; the linearized columns only when `linearized`.
pub(crate) fn csv_header(linearized: bool) -> Vec<&'static str> {
    let mut h: Vec<&str> = GRAM_CSV_HEADER.split(',').collect();
    h.extend([
        "id_a",
        "id_b",
        "n_vars",
        "kind",
        "label_a",
        "label_b",
        "len_a",
        "len_b",
        "shared_fraction",
        "jaccard",
        "normalized_levenshtein",
        "differing_tokens",
        "relative_difference",
        "model_gap",
    ]);
    if linearized {
        h.extend([
            "linearized_gap",
            "linearization_error",
            "linearized_corrected_violated",
            "linearized_published_violated",
        ]);
    }
    h
}

/// The 15 `--gram` columns of one report.
pub(crate) fn gram_csv_fields(r: &PairReport) -> Vec<String> {
    let numbers = [r.gap, r.delta, r.a, r.b, r.published_bound, r.corrected_bound];
    let mut fields = vec![r.i.to_string(), r.j.to_string()];
    fields.extend(numbers.iter().map(f64::to_string));
    fields.extend([r.published_violated.to_string(), r.corrected_violated.to_string()]);
    fields.extend(
        [r.rho, r.distance, r.cauchy_schwarz, r.kappa, r.weight_norm_bound, r.b_min].iter().map(f64::to_string),
    );
    fields
}

/// The `--gram` mode's CSV text of `reports` (header included).
pub fn gram_csv(reports: &[PairReport]) -> String {
    let mut table = CsvTable::new(&GRAM_CSV_HEADER.split(',').collect::<Vec<_>>());
    for r in reports {
        table.row(&gram_csv_fields(r));
    }
    table.into_string()
}

/// The CSV text of `rows` (header included); linearized columns when any row has them.
pub fn csv(rows: &[PairRow]) -> String {
    let linearized = rows.iter().any(|r| r.linearized.is_some());
    let mut table = CsvTable::new(&csv_header(linearized));
    for row in rows {
        let (info, o) = (&row.info, &row.info.overlap);
        let mut fields = gram_csv_fields(&row.report);
        fields.extend([info.id_a.clone(), info.id_b.clone(), optional(info.n_vars), info.kind.to_string()]);
        fields.extend([optional(info.labels.0), optional(info.labels.1), o.len_a.to_string(), o.len_b.to_string()]);
        fields.extend([o.shared_fraction, o.jaccard, o.normalized_levenshtein].iter().map(f64::to_string));
        fields.extend([o.differing_tokens.to_string(), o.relative_difference.to_string(), row.model_gap.to_string()]);
        if linearized {
            let l = row.linearized;
            fields.extend([optional(l.map(|l| l.gap)), optional(l.map(|l| l.error))]);
            fields.extend([optional(l.map(|l| l.corrected_violated)), optional(l.map(|l| l.published_violated))]);
        }
        table.row(&fields);
    }
    table.into_string()
}

/// Violation counts and means over a group of pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// Number of variables (`None`: pairs without `n_vars`, or all pairs).
    pub n_vars: Option<usize>,
    /// Pairs in the group.
    pub pairs: usize,
    /// Pairs whose |gap| exceeds Bκ√(2δ).
    pub published_violations: usize,
    /// published_violations / pairs.
    pub published_violation_rate: f64,
    /// Pairs whose |gap| exceeds B√((a − b)² + 2δab).
    pub corrected_violations: usize,
    /// corrected_violations / pairs.
    pub corrected_violation_rate: f64,
    /// Pairs whose |gap| exceeds B·d (equals the corrected count up to rounding).
    pub cauchy_schwarz_violations: usize,
    /// Pairs whose linearized gap exceeds the corrected bound (`network` only).
    pub linearized_corrected_violations: Option<usize>,
    /// Mean shared-token fraction.
    pub mean_shared_fraction: f64,
    /// Mean number of differing tokens.
    pub mean_differing_tokens: f64,
    /// Mean δ = 1 − ρ.
    pub mean_delta: f64,
    /// Median δ.
    pub median_delta: f64,
    /// Mean |a − b| / max(a, b), how unequal the two feature norms are.
    pub mean_norm_asymmetry: f64,
    /// Mean |gap| of the predictor.
    pub mean_abs_gap: f64,
    /// Mean published bound.
    pub mean_published_bound: f64,
    /// Mean corrected bound.
    pub mean_corrected_bound: f64,
    /// Mean |s(x₊) − s(x₋)| of the model itself.
    pub mean_abs_model_gap: f64,
    /// Fraction of pairs with gap > 0 (x₊, the entailed input, scored higher).
    pub ordered_fraction: f64,
    /// Mean B over the group's pairs.
    pub weight_norm_bound: f64,
    /// Mean κ over the group's pairs.
    pub kappa: f64,
    /// Median B_min = 1/d over the group's pairs (+∞ when more than half have d = 0): the norm a
    /// linear predictor on these features needs to separate a typical pair by a margin of 1.
    #[serde(with = "crate::bound::pair::infinite_as_null")]
    pub median_b_min: f64,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    if values.len() % 2 == 1 {
        values[m]
    } else {
        0.5 * (values[m - 1] + values[m])
    }
}

/// The summary of one group of rows (`n_vars` as given).
pub fn summarize(n_vars: Option<usize>, rows: &[&PairRow]) -> GroupSummary {
    let n = rows.len();
    let count = |f: &dyn Fn(&PairRow) -> bool| rows.iter().filter(|r| f(r)).count();
    let rate = |k: usize| if n == 0 { f64::NAN } else { k as f64 / n as f64 };
    let published = count(&|r| r.report.published_violated);
    let corrected = count(&|r| r.report.corrected_violated);
    let linear = rows
        .iter()
        .any(|r| r.linearized.is_some())
        .then(|| count(&|r| r.linearized.is_some_and(|l| l.corrected_violated)));
    let m = |f: &dyn Fn(&PairRow) -> f64| mean(rows.iter().map(|r| f(r)));
    GroupSummary {
        n_vars,
        pairs: n,
        published_violations: published,
        published_violation_rate: rate(published),
        corrected_violations: corrected,
        corrected_violation_rate: rate(corrected),
        cauchy_schwarz_violations: count(&|r| violates(r.report.gap.abs(), r.report.cauchy_schwarz)),
        linearized_corrected_violations: linear,
        mean_shared_fraction: m(&|r| r.info.overlap.shared_fraction),
        mean_differing_tokens: m(&|r| r.info.overlap.differing_tokens as f64),
        mean_delta: m(&|r| r.report.delta),
        median_delta: median(rows.iter().map(|r| r.report.delta).collect()),
        mean_norm_asymmetry: m(&|r| (r.report.a - r.report.b).abs() / r.report.a.max(r.report.b)),
        mean_abs_gap: m(&|r| r.report.gap.abs()),
        mean_published_bound: m(&|r| r.report.published_bound),
        mean_corrected_bound: m(&|r| r.report.corrected_bound),
        mean_abs_model_gap: m(&|r| r.model_gap.abs()),
        ordered_fraction: rate(count(&|r| r.report.gap > 0.0)),
        weight_norm_bound: m(&|r| r.report.weight_norm_bound),
        kappa: m(&|r| r.report.kappa),
        median_b_min: median(rows.iter().map(|r| r.report.b_min).collect()),
    }
}

/// One [`GroupSummary`] per `n_vars` value (pairs without one last), in increasing order.
pub fn by_n_vars(rows: &[PairRow]) -> Vec<GroupSummary> {
    let mut groups: BTreeMap<(bool, usize), Vec<&PairRow>> = BTreeMap::new();
    for r in rows {
        groups.entry((r.info.n_vars.is_none(), r.info.n_vars.unwrap_or(0))).or_default().push(r);
    }
    groups.into_values().map(|members| summarize(members[0].info.n_vars, &members)).collect()
}

/// The overlap-versus-gap table printed by `sweep` and `bound --model`, one line per group.
pub fn render_table(groups: &[GroupSummary]) -> String {
    let mut out = String::from(
        "n_vars  pairs  shared  differ  mean_delta  median_delta       |gap|  published  corrected  pub_viol  cor_viol  |model_gap|      b_min\n",
    );
    for g in groups {
        let n = g.n_vars.map_or("-".to_string(), |n| n.to_string());
        let _ =
            writeln!(
            out,
            "{n:>6} {:>6} {:>7.4} {:>7.1} {:>11.3e} {:>13.3e} {:>11.3e} {:>10.3e} {:>10.3e} {:>9.3} {:>9.3} {:>12.3e} {:>10.3e}",
            g.pairs, g.mean_shared_fraction, g.mean_differing_tokens, g.mean_delta, g.median_delta, g.mean_abs_gap,
            g.mean_published_bound, g.mean_corrected_bound, g.published_violation_rate, g.corrected_violation_rate,
            g.mean_abs_model_gap, g.median_b_min
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bound::{pair_report, PairEntries};
    use crate::tokenize::overlap;

    fn row(n_vars: Option<usize>, gap: (f64, f64)) -> PairRow {
        let report = pair_report(0, 1, PairEntries { k_ii: 1.0, k_jj: 0.25, k_ij: 0.5 }, gap, 1.0, 1.0);
        let info = PairInfo {
            id_a: "a,1".into(),
            id_b: "b".into(),
            n_vars,
            kind: "same_premise".into(),
            labels: (Some(1), Some(0)),
            overlap: overlap(&[1, 2, 3], &[1, 2, 4]),
        };
        PairRow { report, info, model_gap: -0.25, linearized: None }
    }

    #[test]
    fn csv_starts_with_the_gram_columns_and_quotes_ids() {
        let text = csv(&[row(Some(3), (1.0, 0.5))]);
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(header
            .starts_with("i,j,gap,delta,a,b,published_bound,corrected_bound,published_violated,corrected_violated,"));
        assert!(!header.contains("linearized"));
        let line = lines.next().unwrap();
        assert!(line.starts_with("0,1,0.5,0,1,0.5,0,0.5,true,false,"), "{line}");
        assert!(line.contains(",\"a,1\",b,3,same_premise,1,0,3,3,"), "{line}");
        assert!(line.ends_with(",-0.25"), "{line}");
    }

    #[test]
    fn linearized_columns_and_groups() {
        let mut r = row(Some(4), (1.0, 0.5));
        r.linearized = Some(LinearizedCheck::new(&r.report, 0.4));
        let rows = vec![row(Some(3), (1.0, 0.5)), row(None, (0.5, 0.5)), r];
        let text = csv(&rows);
        assert!(text.lines().next().unwrap().ends_with("linearized_published_violated"));
        assert!(text.lines().nth(3).unwrap().ends_with(",0.4,0.09999999999999998,false,true"), "{text}");
        let groups = by_n_vars(&rows);
        assert_eq!(groups.iter().map(|g| g.n_vars).collect::<Vec<_>>(), vec![Some(3), Some(4), None]);
        assert_eq!((groups[0].published_violations, groups[0].corrected_violations), (1, 0));
        assert_eq!(groups[2].published_violations, 0);
        assert_eq!(groups[1].linearized_corrected_violations, Some(0));
        assert!((groups[0].mean_norm_asymmetry - 0.5).abs() < 1e-12);
        assert!(render_table(&groups).lines().count() == 4);
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
