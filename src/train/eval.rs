//! Evaluation metrics of margins against binary labels: accuracy, F1 (positive = entailment),
//! mean confidence of wrong answers and mean cross-entropy, overall, by number of variables and
//! by relation.
//!
//! The predicted label is 1 iff the margin is positive; the confidence of a prediction is the
//! probability of the predicted binary class, σ(|m|) (= the larger softmax probability for
//! two labels).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::train::objective::sft_loss_host;

/// One evaluated example.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The margin m.
    pub margin: f64,
    /// The true binary label.
    pub label: u8,
    /// Number of variables of the record, when known.
    pub n_vars: Option<usize>,
    /// Relation of the hypothesis, when known.
    pub relation: Option<String>,
}

/// Metrics of a group of examples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Number of examples.
    pub count: usize,
    /// Fraction predicted correctly.
    pub accuracy: f64,
    /// Binary F1 of the entailment class; `None` when there are neither predicted nor true
    /// positives.
    pub f1: Option<f64>,
    /// Share of true positives among examples (base rate).
    pub positive_rate: f64,
    /// Share of examples answered "yes" (entailment; margin > 0).
    pub predicted_yes_rate: f64,
    /// Accuracy of always answering the group's majority class, max(p, 1 − p) with p the
    /// base rate: the baseline a direct answer must beat, per size.
    pub majority_accuracy: f64,
    /// Mean confidence σ(|m|) over wrong answers; `None` when nothing is wrong.
    pub mean_wrong_confidence: Option<f64>,
    /// Mean cross-entropy of the two-label softmax.
    pub loss: f64,
}

/// Metrics overall and by group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// All examples.
    pub overall: Metrics,
    /// By number of variables (records without `n_vars` are left out here).
    pub by_n_vars: BTreeMap<usize, Metrics>,
    /// By relation (records without `relation` are left out here).
    pub by_relation: BTreeMap<String, Metrics>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Metrics of `predictions` (an empty slice gives zero counts).
pub fn metrics(predictions: &[&Prediction]) -> Metrics {
    let count = predictions.len();
    let (mut tp, mut fp, mut fn_, mut correct, mut positives) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut wrong_conf, mut wrong, mut loss, mut yes) = (0.0f64, 0usize, 0.0f64, 0usize);
    for p in predictions {
        let predicted = u8::from(p.margin > 0.0);
        yes += usize::from(predicted);
        positives += usize::from(p.label == 1);
        loss += sft_loss_host(p.margin, p.label);
        match (predicted, p.label) {
            (1, 1) => tp += 1,
            (1, _) => fp += 1,
            (_, 1) => fn_ += 1,
            _ => {}
        }
        if predicted == p.label {
            correct += 1;
        } else {
            wrong += 1;
            wrong_conf += sigmoid(p.margin.abs());
        }
    }
    let denom = (count.max(1)) as f64;
    let positive_rate = positives as f64 / denom;
    Metrics {
        count,
        accuracy: correct as f64 / denom,
        f1: crate::numeric::binary_f1(tp, fp + fn_),
        positive_rate,
        predicted_yes_rate: yes as f64 / denom,
        majority_accuracy: if count == 0 { 0.0 } else { positive_rate.max(1.0 - positive_rate) },
        mean_wrong_confidence: (wrong > 0).then(|| wrong_conf / wrong as f64),
        loss: loss / denom,
    }
}

/// Evaluate overall, by `n_vars` and by relation.
pub fn evaluate(predictions: &[Prediction]) -> EvalReport {
    let all: Vec<&Prediction> = predictions.iter().collect();
    let mut by_n: BTreeMap<usize, Vec<&Prediction>> = BTreeMap::new();
    let mut by_rel: BTreeMap<String, Vec<&Prediction>> = BTreeMap::new();
    for p in predictions {
        if let Some(n) = p.n_vars {
            by_n.entry(n).or_default().push(p);
        }
        if let Some(r) = &p.relation {
            by_rel.entry(r.clone()).or_default().push(p);
        }
    }
    EvalReport {
        overall: metrics(&all),
        by_n_vars: by_n.into_iter().map(|(k, v)| (k, metrics(&v))).collect(),
        by_relation: by_rel.into_iter().map(|(k, v)| (k, metrics(&v))).collect(),
    }
}

fn row(name: &str, m: &Metrics) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
    format!(
        "{name:<30} {:>6} {:>8.3} {:>8.3} {:>6} {:>8.3} {:>9.3} {:>10} {:>7.3}\n",
        m.count,
        m.accuracy,
        m.majority_accuracy,
        opt(m.f1),
        m.predicted_yes_rate,
        m.positive_rate,
        opt(m.mean_wrong_confidence),
        m.loss
    )
}

/// The report as a text table.
pub fn render_table(report: &EvalReport) -> String {
    let mut s = format!(
        "{:<30} {:>6} {:>8} {:>8} {:>6} {:>8} {:>9} {:>10} {:>7}\n",
        "group", "count", "accuracy", "majority", "F1", "yes.rate", "pos.rate", "wrong.conf", "loss"
    );
    s.push_str(&row("all", &report.overall));
    for (n, m) in &report.by_n_vars {
        s.push_str(&row(&format!("n_vars={n}"), m));
    }
    for (r, m) in &report.by_relation {
        s.push_str(&row(&format!("relation={r}"), m));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(margin: f64, label: u8, n: usize) -> Prediction {
        Prediction { margin, label, n_vars: Some(n), relation: Some("parent".into()) }
    }

    #[test]
    fn metrics_by_hand() {
        // predictions: TP, FP, FN, TN
        let preds = vec![p(2.0, 1, 3), p(1.0, 0, 3), p(-3.0, 1, 4), p(-0.5, 0, 4)];
        let r = evaluate(&preds);
        assert_eq!(r.overall.count, 4);
        assert!((r.overall.accuracy - 0.5).abs() < 1e-12);
        assert!((r.overall.f1.unwrap() - 0.5).abs() < 1e-12);
        let wrong = (sigmoid(1.0) + sigmoid(3.0)) / 2.0;
        assert!((r.overall.mean_wrong_confidence.unwrap() - wrong).abs() < 1e-12);
        assert_eq!(r.by_n_vars[&3].count, 2);
        assert!((r.by_n_vars[&4].accuracy - 0.5).abs() < 1e-12);
        assert!(r.by_n_vars[&4].f1.unwrap().abs() < 1e-12);
        assert_eq!(r.by_relation["parent"].count, 4);
        assert!((r.overall.predicted_yes_rate - 0.5).abs() < 1e-12);
        let three = evaluate(&[p(1.0, 0, 3), p(2.0, 0, 3), p(3.0, 1, 3)]).overall;
        assert!((three.majority_accuracy - 2.0 / 3.0).abs() < 1e-12 && (three.predicted_yes_rate - 1.0).abs() < 1e-12);
        assert!(render_table(&r).contains("n_vars=4"));
    }

    #[test]
    fn undefined_values_are_none() {
        let r = evaluate(&[p(-1.0, 0, 3)]);
        assert_eq!(r.overall.f1, None);
        assert_eq!(r.overall.mean_wrong_confidence, None);
    }
}
