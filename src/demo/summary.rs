//! `summary.json`: every number the report shows, read back from the stages' own
//! `summary.json` files (so cached stages and fresh ones render the same way), plus the headline
//! numbers derived from them. The HTML page and the charts are drawn from this struct only.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::demo::acbo_stage::{AcboSizeRow, AcboStageSummary};
use crate::demo::config::DemoConfig;
use crate::demo::data::DataSummary;
use crate::demo::entk_stage::{EntkStageSummary, NETWORK_RUN, RIDGE_RUN};
use crate::demo::eval_stage::{EvalRow, EvalStageSummary};
use crate::demo::train_stage::TrainStageSummary;
use crate::error::{Error, Result};

/// Direct accuracy of one objective on a group of sizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupAccuracy {
    /// Records.
    pub count: usize,
    /// Accuracy of the direct answer.
    pub accuracy: f64,
    /// Accuracy of always answering the group's majority class.
    pub majority_accuracy: f64,
    /// Mean confidence of the wrong answers.
    pub mean_wrong_confidence: Option<f64>,
    /// F1 of the entailment class over the whole group (`None` without true or predicted
    /// positives): the majority-class answer scores 0, whatever its accuracy.
    pub f1: Option<f64>,
}

/// One predictor's Theorem 1 counts over all analysed pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundCounts {
    /// The run (`sft-network`, `sft-kernel-ridge`).
    pub run: String,
    /// B of the predictor.
    pub weight_norm_bound: f64,
    /// Pairs whose gap violates the published bound.
    pub published_violations: usize,
    /// Pairs whose gap violates the corrected bound.
    pub corrected_violations: usize,
    /// Network only: pairs whose linearized gap violates the published / corrected bound.
    pub linearized_violations: Option<(usize, usize)>,
    /// Network only: ‖K_T − K₀‖_F/‖K₀‖_F.
    pub kernel_drift: Option<f64>,
    /// Network only: ‖Δf − Δf_lin‖/‖Δf‖.
    pub linearization_relative_error: Option<f64>,
}

/// The numbers the README and the top of the report quote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    /// SFT on the training sizes' test records.
    pub sft_in_distribution: GroupAccuracy,
    /// SFT on the larger (hard) sizes.
    pub sft_hard: GroupAccuracy,
    /// Near-miss pairs analysed.
    pub pairs: usize,
    /// Mean shared-token fraction of those pairs.
    pub mean_shared_fraction: f64,
    /// Mean eNTK similarity ρ at θ₀ over the pairs.
    pub mean_rho: f64,
    /// Smallest ρ at θ₀.
    pub min_rho: f64,
    /// The fine-tuned SFT network (gap of f_T − f₀ on K₀, B = ‖θ_T − θ₀‖).
    pub network: BoundCounts,
    /// Kernel ridge on the fine-tuned SFT eNTK (B = √(αᵀKα)).
    pub kernel_ridge: BoundCounts,
    /// The A-CBO table's overall row.
    pub acbo_overall: AcboSizeRow,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoSummary {
    /// The settings of the run.
    pub config: DemoConfig,
    /// The headline numbers.
    pub headline: Headline,
    /// Stage 1.
    pub data: DataSummary,
    /// Stage 2.
    pub train: TrainStageSummary,
    /// Stage 3.
    pub eval: EvalStageSummary,
    /// Stage 4.
    pub kernel: EntkStageSummary,
    /// Stage 5.
    pub acbo: AcboStageSummary,
}

/// Read a JSON file written by a stage.
///
/// # Errors
/// [`Error::Io`] or [`Error::BadInput`] naming the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::bad_input(path, format!("not a demo summary: {e}")))
}

/// Count-weighted accuracy of `rows` (one objective, several sizes).
pub fn group_accuracy(rows: &[&EvalRow]) -> GroupAccuracy {
    let count: usize = rows.iter().map(|r| r.count).sum();
    let w = |f: &dyn Fn(&EvalRow) -> f64| rows.iter().map(|r| f(r) * r.count as f64).sum::<f64>() / count.max(1) as f64;
    let positive = w(&|r| r.positive_rate);
    let wrong: f64 = rows.iter().map(|r| (1.0 - r.accuracy) * r.count as f64).sum();
    let wrong_conf: f64 =
        rows.iter().map(|r| r.mean_wrong_confidence.unwrap_or(0.0) * (1.0 - r.accuracy) * r.count as f64).sum();
    // Per row: TP + TN = correct, TP + FN = P, TP + FP = PP, all four sum to the count, so
    // 2·TP = correct − count + P + PP; and F1 = 2·TP / (P + PP).
    let (mut two_tp, mut p_plus_pp) = (0.0, 0.0);
    for r in rows {
        let n = r.count as f64;
        let (p, pp) = (r.positive_rate * n, r.predicted_positive_rate * n);
        two_tp += (r.accuracy * n - n + p + pp).max(0.0);
        p_plus_pp += p + pp;
    }
    GroupAccuracy {
        count,
        accuracy: w(&|r| r.accuracy),
        majority_accuracy: positive.max(1.0 - positive),
        mean_wrong_confidence: (wrong > 0.5).then(|| wrong_conf / wrong),
        f1: (p_plus_pp > 0.5).then(|| two_tp / p_plus_pp),
    }
}

fn counts(kernel: &EntkStageSummary, run: &str) -> Result<BoundCounts> {
    let r = kernel.run(run).ok_or_else(|| Error::internal("kernel summary", format!("has no run {run}")))?;
    let all = r
        .by_size
        .iter()
        .find(|g| g.n_vars.is_none())
        .ok_or_else(|| Error::internal("kernel summary", format!("{run} has no overall row")))?;
    Ok(BoundCounts {
        run: run.into(),
        weight_norm_bound: r.weight_norm_bound,
        published_violations: all.published_violations,
        corrected_violations: all.corrected_violations,
        linearized_violations: all.linearized_published_violations.zip(all.linearized_corrected_violations),
        kernel_drift: r.lazy.as_ref().map(|l| l.kernel_drift),
        linearization_relative_error: r.lazy.as_ref().and_then(|l| l.linearization_relative_error),
    })
}

fn headline(eval: &EvalStageSummary, kernel: &EntkStageSummary, acbo: &AcboStageSummary) -> Result<Headline> {
    let sft: Vec<&EvalRow> = eval.rows.iter().filter(|r| r.objective == "sft" && r.n_vars.is_some()).collect();
    let (hard, easy): (Vec<&EvalRow>, Vec<&EvalRow>) = sft.iter().copied().partition(|r| r.hard);
    let pairs: Vec<_> = kernel.rows_of(NETWORK_RUN).collect();
    let k = pairs.len().max(1) as f64;
    let acbo_overall = acbo
        .rows
        .iter()
        .find(|r| r.n_vars.is_none())
        .cloned()
        .ok_or_else(|| Error::internal("acbo summary", "has no overall row"))?;
    Ok(Headline {
        sft_in_distribution: group_accuracy(&easy),
        sft_hard: group_accuracy(&hard),
        pairs: pairs.len(),
        mean_shared_fraction: pairs.iter().map(|p| p.shared_fraction).sum::<f64>() / k,
        mean_rho: pairs.iter().map(|p| p.rho).sum::<f64>() / k,
        min_rho: pairs.iter().map(|p| p.rho).fold(f64::INFINITY, f64::min),
        network: counts(kernel, NETWORK_RUN)?,
        kernel_ridge: counts(kernel, RIDGE_RUN)?,
        acbo_overall,
    })
}

impl DemoSummary {
    /// Read every stage's summary under `out`.
    ///
    /// # Errors
    /// A missing or malformed stage summary (the file named).
    pub fn read(out: &Path, config: &DemoConfig) -> Result<Self> {
        let data: DataSummary = read_json(&out.join("data/summary.json"))?;
        let train: TrainStageSummary = read_json(&out.join("train/summary.json"))?;
        let eval: EvalStageSummary = read_json(&out.join("eval/summary.json"))?;
        let kernel: EntkStageSummary = read_json(&out.join("kernel/summary.json"))?;
        let acbo: AcboStageSummary = read_json(&out.join("acbo/summary.json"))?;
        let headline = headline(&eval, &kernel, &acbo)?;
        Ok(Self { config: config.clone(), headline, data, train, eval, kernel, acbo })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, count: usize, accuracy: f64, positive_rate: f64, conf: Option<f64>) -> EvalRow {
        EvalRow {
            objective: "sft".into(),
            n_vars: Some(n),
            hard: n > 5,
            count,
            accuracy,
            majority_accuracy: positive_rate.max(1.0 - positive_rate),
            f1: None,
            positive_rate,
            predicted_positive_rate: 0.0,
            mean_wrong_confidence: conf,
            loss: 0.0,
        }
    }

    #[test]
    fn group_accuracy_weights_by_count_and_by_wrong_answers() {
        let a = row(6, 100, 0.9, 0.1, Some(0.8));
        let b = row(7, 300, 0.5, 0.3, Some(0.6));
        let g = group_accuracy(&[&a, &b]);
        assert_eq!(g.count, 400);
        assert!((g.accuracy - (90.0 + 150.0) / 400.0).abs() < 1e-12);
        assert!((g.majority_accuracy - (1.0 - (10.0 + 90.0) / 400.0)).abs() < 1e-12);
        let wrong = (10.0 * 0.8 + 150.0 * 0.6) / 160.0;
        assert!((g.mean_wrong_confidence.unwrap() - wrong).abs() < 1e-12);
        assert_eq!(group_accuracy(&[&row(3, 10, 1.0, 0.0, None)]).mean_wrong_confidence, None);
        // F1 pooled from the rows' counts: 15 + 10 true positives, 20 + 10 positives, 30 + 10 predicted.
        let c = EvalRow { predicted_positive_rate: 0.3, ..row(4, 100, 0.8, 0.2, Some(0.7)) };
        let d = EvalRow { predicted_positive_rate: 0.1, ..row(5, 100, 1.0, 0.1, None) };
        assert!((group_accuracy(&[&c, &d]).f1.unwrap() - 50.0 / 70.0).abs() < 1e-12);
        assert_eq!(group_accuracy(&[&a]).f1, Some(0.0), "the majority answer scores F1 = 0");
        assert_eq!(group_accuracy(&[&row(3, 10, 1.0, 0.0, None)]).f1, None);
    }
}
