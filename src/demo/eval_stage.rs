//! Stage 3 (`eval/`): each fine-tuned model (`train/<objective>/best`) asked the global question
//! directly on `data/test.jsonl`, by graph size — accuracy, F1, the majority-class baseline, and
//! how confident the wrong answers are (the "confidently wrong" signature: accuracy at or below
//! the baseline with high confidence on the hard sizes, if it happens; reported either way).
//!
//! Files: `<objective>.json` (the [`EvalReport`] of `ntkgap eval`), `<objective>_margins.npy`
//! (float64, one margin per test record in file order), `predictions.csv` (one row per
//! objective × record) and `summary.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::demo::config::TrainPlan;
use crate::demo::train_stage::objective_name;
use crate::error::Result;
use crate::files::csv::{optional, CsvTable};
use crate::files::{npy, write_atomic, write_json_atomic};
use crate::gpu::ComputeDevice;
use crate::model::{load, LoadOptions, ModelSpec};
use crate::train::data::Examples;
use crate::train::eval::{evaluate, EvalReport, Metrics, Prediction};
use crate::train::trainer::predictions;

/// Metrics of one objective on one group of test records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    /// `sft` or `dpo`.
    pub objective: String,
    /// Number of variables (`None`: all test records).
    pub n_vars: Option<usize>,
    /// True for sizes above the training sizes.
    pub hard: bool,
    /// Records.
    pub count: usize,
    /// Accuracy of the direct answer (margin > 0 ⇔ entailment).
    pub accuracy: f64,
    /// Accuracy of always answering the majority class of this group.
    pub majority_accuracy: f64,
    /// F1 of the entailment class (`None` without predicted or true positives).
    pub f1: Option<f64>,
    /// Share of entailment records.
    pub positive_rate: f64,
    /// Share of records predicted entailment.
    pub predicted_positive_rate: f64,
    /// Mean σ(|margin|) over wrong answers.
    pub mean_wrong_confidence: Option<f64>,
    /// Mean cross-entropy.
    pub loss: f64,
}

/// `eval/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalStageSummary {
    /// Test records.
    pub test_records: usize,
    /// Rows: per objective, overall first, then by n.
    pub rows: Vec<EvalRow>,
    /// Objectives whose answers are degenerate (see [`degenerate`]): shown on the page as a
    /// warning, never as a finding.
    #[serde(default)]
    pub degenerate: Vec<Degenerate>,
}

/// A model whose direct answers do not depend on the record within each graph size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Degenerate {
    /// `sft` or `dpo`.
    pub objective: String,
    /// Sizes answered "entailment" on every record.
    pub all_entailment: Vec<usize>,
    /// Sizes answered "not entailed" on every record.
    pub all_not: Vec<usize>,
    /// Mean σ(|margin|) over all test records.
    pub mean_confidence: f64,
}

/// The degeneracy of one objective's rows: `Some` when, at every size, the model gives one and
/// the same answer to every record (a constant answer, or a rule keyed on the graph size — which
/// the premise's variable count gives away — rather than on the premise and hypothesis).
pub fn degenerate(objective: &str, rows: &[EvalRow], mean_confidence: f64) -> Option<Degenerate> {
    let sizes: Vec<&EvalRow> = rows.iter().filter(|r| r.objective == objective && r.n_vars.is_some()).collect();
    let constant = |r: &&EvalRow| r.predicted_positive_rate == 0.0 || r.predicted_positive_rate == 1.0;
    if sizes.is_empty() || !sizes.iter().all(constant) {
        return None;
    }
    let pick =
        |rate: f64| sizes.iter().filter(|r| r.predicted_positive_rate == rate).filter_map(|r| r.n_vars).collect();
    Some(Degenerate { objective: objective.into(), all_entailment: pick(1.0), all_not: pick(0.0), mean_confidence })
}

fn row(objective: &str, n_vars: Option<usize>, hard: bool, m: &Metrics, preds: &[&Prediction]) -> EvalRow {
    let predicted = preds.iter().filter(|p| p.margin > 0.0).count() as f64 / preds.len().max(1) as f64;
    EvalRow {
        objective: objective.to_string(),
        n_vars,
        hard,
        count: m.count,
        accuracy: m.accuracy,
        majority_accuracy: m.positive_rate.max(1.0 - m.positive_rate),
        f1: m.f1,
        positive_rate: m.positive_rate,
        predicted_positive_rate: predicted,
        mean_wrong_confidence: m.mean_wrong_confidence,
        loss: m.loss,
    }
}

pub(crate) fn rows_of(
    objective: &str,
    report: &EvalReport,
    preds: &[Prediction],
    largest_train: usize,
) -> Vec<EvalRow> {
    let all: Vec<&Prediction> = preds.iter().collect();
    let mut out = vec![row(objective, None, false, &report.overall, &all)];
    for (&n, m) in &report.by_n_vars {
        let group: Vec<&Prediction> = preds.iter().filter(|p| p.n_vars == Some(n)).collect();
        out.push(row(objective, Some(n), n > largest_train, m, &group));
    }
    out
}

pub(crate) fn predictions_csv(objective: &str, examples: &Examples, preds: &[Prediction], table: &mut CsvTable) {
    for (r, p) in examples.records.iter().zip(preds) {
        let predicted = u8::from(p.margin > 0.0);
        let confidence = 1.0 / (1.0 + (-p.margin.abs()).exp());
        let mut fields = vec![objective.to_string(), r.line.to_string(), r.record.id.clone().unwrap_or_default()];
        fields.extend([optional(p.n_vars), p.relation.clone().unwrap_or_default(), p.label.to_string()]);
        fields.extend([p.margin.to_string(), predicted.to_string(), u8::from(predicted == p.label).to_string()]);
        fields.push(confidence.to_string());
        table.row(&fields);
    }
}

/// Run stage 3 into `dir`.
///
/// # Errors
/// Model loading, encoding or write failures.
pub fn run(
    plan: &TrainPlan,
    device: &ComputeDevice,
    max_length: usize,
    largest_train: usize,
    paths: (&Path, &Path),
    dir: &Path,
) -> Result<EvalStageSummary> {
    let (data, trained) = paths;
    let header =
        ["objective", "line", "id", "n_vars", "relation", "label", "margin", "predicted", "correct", "confidence"];
    let mut csv = CsvTable::new(&header);
    let mut rows = Vec::new();
    let mut test_records = 0;
    let mut degenerate_runs = Vec::new();
    for &objective in &plan.objectives {
        let name = objective_name(objective);
        let spec = ModelSpec::Dir(trained.join(name).join("best"));
        let mut loaded = load(&spec, &LoadOptions { seed: plan.seed, head_file: None }, &device.device(false))?;
        loaded.tokenizer.set_max_length(max_length)?;
        let examples = Examples::load(&data.join("test.jsonl"), loaded.tokenizer.as_ref(), true)?;
        let preds = predictions(&loaded.classifier, &examples, loaded.tokenizer.pad_id()?, plan.batch_size)?;
        let report = evaluate(&preds);
        write_json_atomic(dir.join(format!("{name}.json")), &report)?;
        let margins: Vec<f64> = preds.iter().map(|p| p.margin).collect();
        npy::write(&dir.join(format!("{name}_margins.npy")), &ndarray::ArrayView1::from(&margins[..]))?;
        predictions_csv(name, &examples, &preds, &mut csv);
        rows.extend(rows_of(name, &report, &preds, largest_train));
        let confidence = preds.iter().map(|p| 1.0 / (1.0 + (-p.margin.abs()).exp())).sum::<f64>();
        degenerate_runs.extend(degenerate(name, &rows, confidence / preds.len().max(1) as f64));
        test_records = examples.len();
    }
    write_atomic(dir.join("predictions.csv"), csv.into_string().as_bytes())?;
    let summary = EvalStageSummary { test_records, rows, degenerate: degenerate_runs };
    write_json_atomic(dir.join("summary.json"), &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(objective: &str, n: usize, predicted_positive_rate: f64) -> EvalRow {
        EvalRow {
            objective: objective.into(),
            n_vars: Some(n),
            hard: n > 5,
            count: 10,
            accuracy: 0.5,
            majority_accuracy: 0.8,
            f1: None,
            positive_rate: 0.2,
            predicted_positive_rate,
            mean_wrong_confidence: Some(0.99),
            loss: 1.0,
        }
    }

    #[test]
    fn a_size_keyed_rule_is_flagged_and_a_model_that_reads_the_records_is_not() {
        // The collapse the full demo once showed: "entailment" on every n = 6 record, "not" elsewhere.
        let rows = vec![size("dpo", 5, 0.0), size("dpo", 6, 1.0), size("dpo", 7, 0.0), size("sft", 5, 0.3)];
        let d = degenerate("dpo", &rows, 0.9999999).expect("size-keyed rule");
        assert_eq!((d.all_entailment, d.all_not), (vec![6], vec![5, 7]));
        assert!(degenerate("sft", &rows, 0.8).is_none());
        let mixed = vec![size("dpo", 5, 0.0), size("dpo", 6, 0.5)];
        assert!(degenerate("dpo", &mixed, 0.9).is_none());
        assert!(degenerate("none", &rows, 0.9).is_none());
    }
}
