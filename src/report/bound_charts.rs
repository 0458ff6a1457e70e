//! The charts of `ntkgap bound --model` and `ntkgap sweep`, as [`Chart`] data (rendered to PNG
//! and SVG by [`crate::report::plot`]).
//!
//! * [`gap_vs_overlap`] — |gap| per pair against its shared-token fraction, with both bounds of
//!   the same pair drawn beside it (log y; zero bounds — δ ≤ 0 — cannot be drawn on a log axis
//!   and are counted in the title instead).
//! * [`overlap_vs_n`], [`delta_vs_n`], [`violations_vs_n`] — per number of variables.
//! * [`linearization`] — f_T − f₀ against its linearization per input, with the line y = x.

use crate::bound::table::{GroupSummary, PairRow};
use crate::report::plot::{Chart, Series, SeriesStyle};

/// |gap|, published and corrected bound per pair against the shared-token fraction.
pub fn gap_vs_overlap(rows: &[PairRow], predictor: &str) -> Chart {
    let pts =
        |f: &dyn Fn(&PairRow) -> f64| rows.iter().map(|r| (r.info.overlap.shared_fraction, f(r))).collect::<Vec<_>>();
    let zero_published = rows.iter().filter(|r| r.report.published_bound <= 0.0).count();
    let note =
        if zero_published > 0 { format!(" ({zero_published} zero published bounds not drawn)") } else { String::new() };
    Chart {
        title: format!("|gap| vs token overlap, {predictor}{note}"),
        x_label: "shared-token fraction of the pair".into(),
        y_label: "|s(x₊) − s(x₋)| and bounds (log)".into(),
        series: vec![
            Series::new("|gap|", pts(&|r| r.report.gap.abs()), SeriesStyle::Points),
            Series::new("published bound Bκ√(2δ)", pts(&|r| r.report.published_bound), SeriesStyle::Rings),
            Series::new("corrected bound B√((a−b)² + 2δab)", pts(&|r| r.report.corrected_bound), SeriesStyle::Points),
        ],
        log_y: true,
        ..Default::default()
    }
}

fn per_n(groups: &[GroupSummary], f: impl Fn(&GroupSummary) -> f64) -> Vec<(f64, f64)> {
    groups.iter().filter_map(|g| g.n_vars.map(|n| (n as f64, f(g)))).collect()
}

/// Mean shared-token fraction (and mean relative difference) of the pairs per n.
pub fn overlap_vs_n(groups: &[GroupSummary]) -> Chart {
    Chart {
        title: "Token overlap of near-miss pairs vs graph size".into(),
        x_label: "number of variables n".into(),
        y_label: "mean shared-token fraction".into(),
        series: vec![Series::new(
            "shared-token fraction",
            per_n(groups, |g| g.mean_shared_fraction),
            SeriesStyle::LinePoints,
        )],
        x_integer: true,
        ..Default::default()
    }
}

/// Mean and median δ = 1 − ρ per n (log y).
pub fn delta_vs_n(groups: &[GroupSummary]) -> Chart {
    Chart {
        title: "Kernel dissimilarity δ = 1 − ρ vs graph size".into(),
        x_label: "number of variables n".into(),
        y_label: "δ (log)".into(),
        series: vec![
            Series::new("mean δ", per_n(groups, |g| g.mean_delta), SeriesStyle::LinePoints),
            Series::new("median δ", per_n(groups, |g| g.median_delta), SeriesStyle::LinePoints),
        ],
        log_y: true,
        x_integer: true,
        ..Default::default()
    }
}

/// The norm needed to separate (docs/science.md "The norm needed to separate"): the median B_min
/// = 1/d_K per n (log y) beside the B the predictor actually has (its weight-norm bound). A
/// growing B_min is the paper's "representations must grow unboundedly", as a measured curve.
pub fn b_min_vs_n(groups: &[GroupSummary], kernel: &str, predictor: &str) -> Chart {
    Chart {
        title: format!("Norm needed to separate near misses by a margin of 1, {kernel}"),
        x_label: "number of variables n".into(),
        y_label: "‖w‖ (log)".into(),
        series: vec![
            Series::new("median B_min = 1/d_K", per_n(groups, |g| g.median_b_min), SeriesStyle::LinePoints),
            Series::new(format!("B of the {predictor}"), per_n(groups, |g| g.weight_norm_bound), SeriesStyle::Dashed),
        ],
        log_y: true,
        x_integer: true,
        ..Default::default()
    }
}

/// Violation rates of the published and the corrected bound per n.
pub fn violations_vs_n(groups: &[GroupSummary], predictor: &str) -> Chart {
    let mut series = vec![
        Series::new("published bound violated", per_n(groups, |g| g.published_violation_rate), SeriesStyle::LinePoints),
        Series::new("corrected bound violated", per_n(groups, |g| g.corrected_violation_rate), SeriesStyle::LinePoints),
    ];
    if groups.iter().any(|g| g.linearized_corrected_violations.is_some()) {
        let lin = per_n(groups, |g| g.linearized_corrected_violations.unwrap_or(0) as f64 / g.pairs.max(1) as f64);
        series.push(Series::new("corrected bound violated (linearized)", lin, SeriesStyle::Dashed));
    }
    Chart {
        title: format!("Fraction of pairs violating each bound, {predictor}"),
        x_label: "number of variables n".into(),
        y_label: "fraction of pairs".into(),
        series,
        y_range: Some((-0.05, 1.05)),
        x_integer: true,
        ..Default::default()
    }
}

/// f_T − f₀ (y) against ⟨∇f₀, θ_T − θ₀⟩ (x) per input, with y = x.
pub fn linearization(actual: &[f64], linear: &[f64]) -> Chart {
    let points: Vec<(f64, f64)> = linear.iter().copied().zip(actual.iter().copied()).collect();
    let (lo, hi) =
        points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (x, y)| (l.min(x.min(*y)), h.max(x.max(*y))));
    let diagonal = if lo.is_finite() { vec![(lo, lo), (hi, hi)] } else { Vec::new() };
    Chart {
        title: "Lazy regime: actual vs linearized output change".into(),
        x_label: "⟨∇f₀(x), θ_T − θ₀⟩".into(),
        y_label: "f_T(x) − f₀(x)".into(),
        series: vec![
            Series::new("inputs", points, SeriesStyle::Points),
            Series::new("y = x", diagonal, SeriesStyle::Dashed),
        ],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bound::table::{by_n_vars, PairInfo};
    use crate::bound::{pair_report, PairEntries};
    use crate::tokenize::overlap;

    #[test]
    fn charts_hold_one_point_per_pair_or_size() {
        let rows: Vec<PairRow> = (3..6)
            .map(|n| PairRow {
                report: pair_report(0, 1, PairEntries { k_ii: 1.0, k_jj: 0.25, k_ij: 0.5 }, (1.0, 0.5), 1.0, 1.0),
                info: PairInfo {
                    id_a: "a".into(),
                    id_b: "b".into(),
                    n_vars: Some(n),
                    kind: "same_premise".into(),
                    labels: (None, None),
                    overlap: overlap(&[1, 2], &[1, 3]),
                },
                model_gap: 0.0,
                linearized: None,
            })
            .collect();
        let g = gap_vs_overlap(&rows, "kernel-ridge");
        assert_eq!(g.series[0].points.len(), 3);
        assert!(g.title.contains("3 zero published bounds"), "{}", g.title);
        let groups = by_n_vars(&rows);
        assert_eq!(violations_vs_n(&groups, "x").series[0].points, vec![(3.0, 1.0), (4.0, 1.0), (5.0, 1.0)]);
        assert_eq!(overlap_vs_n(&groups).series[0].points.len(), 3);
        assert_eq!(delta_vs_n(&groups).series.len(), 2);
        assert_eq!(linearization(&[1.0, 2.0], &[1.5, 2.5]).series[1].points, vec![(1.0, 1.0), (2.5, 2.5)]);
    }
}
