//! Aggregating A-CBO benchmark results by number of variables, and the printed table.
//!
//! `accuracy`/`f1` are judged against the relation in the drawn true DAG (what interventions can
//! decide); `accuracy_vs_label`/`f1_vs_label` against the benchmark label (entailment vs not).
//! F1 treats "holds"/"entailment" as the positive class and is `null` when there is no positive
//! and no predicted positive. `mean_log2_candidates` is the mean of ⌈log₂ |candidates|⌉ and
//! `queries_per_log2_candidates` the ratio of the two means. `direct_accuracy`/`direct_f1` (the
//! same frozen model asked the global question — premise + hypothesis — directly, judged against
//! the label like `accuracy_vs_label`) and `direct_accuracy_vs_truth` appear only with the model
//! oracle, whose runs carry `direct_predicted_entailment`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::acbo::error_model::{BitCounts, ErrorModel};
use crate::acbo::evaluate::ItemResult;
use crate::corpus::Label;

/// Accuracy of the items that carry one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelSummary {
    /// Items with this label.
    pub items: usize,
    /// Accuracy against the label.
    pub accuracy_vs_label: f64,
    /// Accuracy against the drawn DAG.
    pub accuracy_vs_truth: f64,
    /// Share of items whose relation holds in the drawn DAG.
    pub holds_in_truth: f64,
}

/// Aggregates over a group of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// Results (records × trials).
    pub items: usize,
    /// Accuracy against the relation in the drawn true DAG.
    pub accuracy: f64,
    /// F1 against the drawn DAG (positive: the relation holds).
    pub f1: Option<f64>,
    /// Accuracy against the label (entailment vs not).
    pub accuracy_vs_label: Option<f64>,
    /// F1 against the label (positive: entailment).
    pub f1_vs_label: Option<f64>,
    /// Share of results whose final MAP candidate is the true DAG.
    pub dag_accuracy: f64,
    /// Mean non-audit queries.
    pub mean_queries: f64,
    /// Mean ⌈log₂ |candidates|⌉.
    pub mean_log2_candidates: f64,
    /// mean_queries / mean_log2_candidates.
    pub queries_per_log2_candidates: Option<f64>,
    /// Results whose prior left the hypothesis undecided (the only ones that need queries).
    pub undecided_items: usize,
    /// Mean queries over those.
    pub mean_queries_undecided: Option<f64>,
    /// Mean ⌈log₂ |candidates|⌉ over those.
    pub mean_log2_candidates_undecided: Option<f64>,
    /// Accuracy against the drawn DAG over those (the runs where the oracle's answers decide).
    pub accuracy_undecided: Option<f64>,
    /// Measured oracle error rate per answered variable.
    pub oracle_error_measured: Option<f64>,
    /// Measured false-positive rate (changes reported for non-descendants).
    pub oracle_false_positive_rate: Option<f64>,
    /// Measured false-negative rate (missed descendants).
    pub oracle_false_negative_rate: Option<f64>,
    /// Share of items whose candidates are the whole class.
    pub exhaustive_fraction: f64,
    /// Share of items whose true DAG is among the candidates.
    pub truth_in_candidates_fraction: f64,
    /// Items on which the truth-missing alarm fired.
    pub alarms: usize,
    /// Items whose true DAG is not among the candidates.
    pub truth_missing: usize,
    /// Alarms on items whose true DAG is missing (the rest are false alarms).
    pub alarms_with_truth_missing: usize,
    /// Count per stop reason.
    pub stop_reasons: BTreeMap<String, usize>,
    /// Accuracies per benchmark label.
    pub by_label: BTreeMap<String, LabelSummary>,
    /// The error model the likelihood used (per size only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub likelihood_model: Option<ErrorModel>,
    /// The same model asked the global question directly: accuracy against the label
    /// (entailment vs not; model oracle only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_accuracy: Option<f64>,
    /// F1 of the direct answers against the label (positive: entailment; model oracle only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_f1: Option<f64>,
    /// Accuracy of the direct answers against the relation in the drawn DAG (model oracle only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_accuracy_vs_truth: Option<f64>,
}

/// The whole `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Per number of variables.
    pub by_n_vars: BTreeMap<usize, GroupSummary>,
    /// All results.
    pub overall: GroupSummary,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (s, k) = values.fold((0.0, 0usize), |(s, k), v| (s + v, k + 1));
    if k == 0 {
        0.0
    } else {
        s / k as f64
    }
}

/// Accuracy and F1 of (predicted, actual) pairs.
fn accuracy_f1(pairs: &[(bool, bool)]) -> (f64, Option<f64>) {
    let acc = mean(pairs.iter().map(|(p, a)| f64::from(u8::from(p == a))));
    let tp = pairs.iter().filter(|(p, a)| *p && *a).count();
    let wrong = pairs.iter().filter(|(p, a)| p != a).count();
    (acc, crate::numeric::binary_f1(tp, wrong))
}

fn rate(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Summarize a group of results.
pub fn summarize_group(results: &[&ItemResult], model: Option<ErrorModel>) -> GroupSummary {
    let truth_pairs: Vec<(bool, bool)> = results.iter().map(|r| (r.predicted_holds, r.truth_holds)).collect();
    let label_pairs: Vec<(bool, bool)> =
        results.iter().filter_map(|r| r.label.map(|l| (r.predicted_holds, l == Label::Entailment))).collect();
    let (accuracy, f1) = accuracy_f1(&truth_pairs);
    let (acc_l, f1_l) = accuracy_f1(&label_pairs);
    let errors = total_oracle_errors(results);
    let mean_queries = mean(results.iter().map(|r| r.queries as f64));
    let mean_log2 = mean(results.iter().map(|r| f64::from(r.ceil_log2_candidates)));
    let undecided: Vec<&&ItemResult> = results.iter().filter(|r| r.prior_undecided).collect();
    let undecided_mean =
        |f: &dyn Fn(&ItemResult) -> f64| (!undecided.is_empty()).then(|| mean(undecided.iter().map(|r| f(r))));
    let (direct_accuracy, direct_f1, direct_accuracy_vs_truth) = direct_summary(results);
    GroupSummary {
        items: results.len(),
        accuracy,
        f1,
        accuracy_vs_label: (!label_pairs.is_empty()).then_some(acc_l),
        f1_vs_label: if label_pairs.is_empty() { None } else { f1_l },
        dag_accuracy: mean(results.iter().map(|r| f64::from(u8::from(r.dag_identified)))),
        mean_queries,
        mean_log2_candidates: mean_log2,
        queries_per_log2_candidates: (mean_log2 > 0.0).then(|| mean_queries / mean_log2),
        undecided_items: undecided.len(),
        mean_queries_undecided: undecided_mean(&|r| r.queries as f64),
        mean_log2_candidates_undecided: undecided_mean(&|r| f64::from(r.ceil_log2_candidates)),
        accuracy_undecided: undecided_mean(&|r| f64::from(u8::from(r.correct_vs_truth))),
        oracle_error_measured: rate(errors.disagreements(), errors.positives() + errors.negatives()),
        oracle_false_positive_rate: rate(errors.false_yes, errors.negatives()),
        oracle_false_negative_rate: rate(errors.true_no, errors.positives()),
        exhaustive_fraction: mean(results.iter().map(|r| f64::from(u8::from(r.exhaustive)))),
        truth_in_candidates_fraction: mean(results.iter().map(|r| f64::from(u8::from(r.true_dag_in_candidates)))),
        alarms: results.iter().filter(|r| r.alarm_round.is_some()).count(),
        truth_missing: results.iter().filter(|r| !r.true_dag_in_candidates).count(),
        alarms_with_truth_missing: results
            .iter()
            .filter(|r| r.alarm_round.is_some() && !r.true_dag_in_candidates)
            .count(),
        stop_reasons: stop_reason_counts(results),
        by_label: by_label(results),
        likelihood_model: model,
        direct_accuracy,
        direct_f1,
        direct_accuracy_vs_truth,
    }
}

/// The direct answers' (accuracy vs label, F1 vs label, accuracy vs truth); all `None` unless
/// the group's runs carry direct answers.
fn direct_summary(results: &[&ItemResult]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let vs_label: Vec<(bool, bool)> =
        results.iter().filter_map(|r| Some((r.direct_predicted_entailment?, r.label? == Label::Entailment))).collect();
    let vs_truth: Vec<(bool, bool)> =
        results.iter().filter_map(|r| Some((r.direct_predicted_entailment?, r.truth_holds))).collect();
    let (acc, f1) = accuracy_f1(&vs_label);
    let nonempty = !vs_label.is_empty();
    (
        nonempty.then_some(acc),
        if nonempty { f1 } else { None },
        (!vs_truth.is_empty()).then(|| accuracy_f1(&vs_truth).0),
    )
}

fn total_oracle_errors(results: &[&ItemResult]) -> BitCounts {
    let mut errors = BitCounts::default();
    for e in results.iter().filter_map(|r| r.oracle_errors) {
        errors.merge(&e);
    }
    errors
}

fn stop_reason_counts(results: &[&ItemResult]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in results {
        let key =
            serde_json::to_value(r.stop_reason).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn by_label(results: &[&ItemResult]) -> BTreeMap<String, LabelSummary> {
    let mut groups: BTreeMap<String, Vec<&ItemResult>> = BTreeMap::new();
    for r in results {
        if let Some(l) = r.label {
            groups.entry(l.as_str().to_string()).or_default().push(r);
        }
    }
    groups
        .into_iter()
        .map(|(k, rs)| {
            let s = LabelSummary {
                items: rs.len(),
                accuracy_vs_label: mean(rs.iter().map(|r| f64::from(u8::from(r.correct_vs_label == Some(true))))),
                accuracy_vs_truth: mean(rs.iter().map(|r| f64::from(u8::from(r.correct_vs_truth)))),
                holds_in_truth: mean(rs.iter().map(|r| f64::from(u8::from(r.truth_holds)))),
            };
            (k, s)
        })
        .collect()
}

/// Summarize all results by number of variables; `models` gives each size's likelihood model.
pub fn summarize(results: &[ItemResult], models: &BTreeMap<usize, ErrorModel>) -> Summary {
    let mut groups: BTreeMap<usize, Vec<&ItemResult>> = BTreeMap::new();
    for r in results {
        groups.entry(r.n_vars).or_default().push(r);
    }
    let by_n_vars = groups.iter().map(|(&n, rs)| (n, summarize_group(rs, models.get(&n).copied()))).collect();
    let all: Vec<&ItemResult> = results.iter().collect();
    Summary { by_n_vars, overall: summarize_group(&all, None) }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.1}", 100.0 * v))
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

fn row(name: &str, g: &GroupSummary, direct: bool) -> String {
    let mut line = format!(
        "{:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6} {:>7.2} {:>7.2} {:>5} {:>6} {:>6} {:>7} {:>7} {:>5} {:>6}",
        name,
        g.items,
        pct(Some(g.accuracy)),
        pct(g.f1),
        pct(g.accuracy_vs_label),
        pct(g.f1_vs_label),
        pct(Some(g.dag_accuracy)),
        g.mean_queries,
        g.mean_log2_candidates,
        num(g.queries_per_log2_candidates),
        g.undecided_items,
        num(g.mean_queries_undecided),
        num(g.mean_log2_candidates_undecided),
        pct(g.oracle_error_measured),
        pct(Some(g.exhaustive_fraction)),
        g.alarms,
    );
    if direct {
        line.push_str(&format!(" {:>6} {:>6}", pct(g.direct_accuracy), pct(g.direct_f1)));
    }
    line
}

/// The printed table: one row per number of variables plus the overall row. Columns: items;
/// accuracy and F1 against the drawn DAG (`acc`, `F1`) and against the label (`acc_lbl`,
/// `F1_lbl`); share of runs whose MAP candidate is the true DAG (`dag`); mean queries; mean
/// ⌈log₂ |C|⌉; their ratio; runs the prior left undecided (`undec`) with their mean queries and
/// mean ⌈log₂ |C|⌉; measured oracle error; share of exhaustive candidate sets (`exh`); alarms;
/// with the model oracle also the same model's direct accuracy and F1 against the label
/// (`direct`, `dir_F1`). Rates in percent.
pub fn format_table(summary: &Summary) -> String {
    let direct = summary.overall.direct_accuracy.is_some();
    let mut out = format!(
        "{:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6} {:>7} {:>7} {:>5} {:>6} {:>6} {:>7} {:>7} {:>5} {:>6}\n",
        "n_vars",
        "items",
        "acc",
        "F1",
        "acc_lbl",
        "F1_lbl",
        "dag",
        "queries",
        "log2|C|",
        "ratio",
        "undec",
        "q_und",
        "log2_un",
        "orc_err",
        "exh",
        "alarms"
    );
    if direct {
        out.insert_str(out.len() - 1, &format!(" {:>6} {:>6}", "direct", "dir_F1"));
    }
    for (n, g) in &summary.by_n_vars {
        out.push_str(&row(&n.to_string(), g, direct));
        out.push('\n');
    }
    out.push_str(&row("all", &summary.overall, direct));
    out.push('\n');
    out
}
