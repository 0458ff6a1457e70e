//! Corpus statistics: counts by number of variables, label shares and mean premise/hypothesis
//! lengths in whitespace-separated words (the original reports NLTK tokens, which also split
//! off punctuation, so its "≈ 424 tokens per premise" runs higher than our word counts).
//!
//! Statistics accumulate record by record, so a corpus is streamed, never held in memory.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::corpus::record::{Label, Record};

/// Statistics of one group of records (one n, or all).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupStats {
    /// Number of records.
    pub records: u64,
    /// Records per label (`entailment`, `neutral`, `contradiction`, `not_entailment`,
    /// `unlabelled`).
    pub labels: BTreeMap<String, u64>,
    /// Share of each label among the records (0 to 1).
    pub label_shares: BTreeMap<String, f64>,
    /// Share of records with binary label 1 (entailment).
    pub entailment_share: f64,
    /// Mean premise length in words (records with a premise; `text` records count as premise).
    pub mean_premise_words: f64,
    /// Mean hypothesis length in words (records with a hypothesis).
    pub mean_hypothesis_words: f64,
    /// Records whose label came from sampled MEC members (`label_exact: false`).
    pub inexact_labels: u64,
    #[serde(skip)]
    premise_words: u64,
    #[serde(skip)]
    premises: u64,
    #[serde(skip)]
    hypothesis_words: u64,
    #[serde(skip)]
    hypotheses: u64,
}

impl GroupStats {
    fn add(&mut self, record: &Record) {
        self.records += 1;
        let label = record.label.map_or("unlabelled", Label::as_str);
        *self.labels.entry(label.to_string()).or_default() += 1;
        if let Some(p) = record.premise.as_deref().or(record.text.as_deref()) {
            self.premise_words += p.split_whitespace().count() as u64;
            self.premises += 1;
        }
        if let Some(h) = &record.hypothesis {
            self.hypothesis_words += h.split_whitespace().count() as u64;
            self.hypotheses += 1;
        }
        if record.label_exact == Some(false) {
            self.inexact_labels += 1;
        }
    }

    fn finish(&mut self) {
        let total = self.records.max(1) as f64;
        self.label_shares = self.labels.iter().map(|(k, &v)| (k.clone(), v as f64 / total)).collect();
        self.entailment_share = self.labels.get(Label::Entailment.as_str()).copied().unwrap_or(0) as f64 / total;
        self.mean_premise_words = self.premise_words as f64 / self.premises.max(1) as f64;
        self.mean_hypothesis_words = self.hypothesis_words as f64 / self.hypotheses.max(1) as f64;
    }
}

/// Statistics by number of variables and overall.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CorpusStats {
    /// Per `n_vars` (records without `n_vars` are counted under key 0).
    pub by_n: BTreeMap<usize, GroupStats>,
    /// All records.
    pub total: GroupStats,
}

impl CorpusStats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one record.
    pub fn add(&mut self, record: &Record) {
        self.by_n.entry(record.n_vars.unwrap_or(0)).or_default().add(record);
        self.total.add(record);
    }

    /// Compute shares and means (call once after the last [`add`](Self::add)).
    pub fn finish(&mut self) {
        self.by_n.values_mut().for_each(GroupStats::finish);
        self.total.finish();
    }

    /// A plain-text table: one row per n, then the total.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:>6} {:>10} {:>8} {:>8} {:>8} {:>12} {:>12}\n",
            "n", "records", "entail%", "neutral%", "contra%", "premise_w", "hypothesis_w"
        );
        let rows = self.by_n.iter().map(|(n, g)| (if *n == 0 { "?".to_string() } else { n.to_string() }, g));
        for (name, g) in rows.chain(std::iter::once(("all".to_string(), &self.total))) {
            let pct = |label: Label| 100.0 * g.label_shares.get(label.as_str()).copied().unwrap_or(0.0);
            out.push_str(&format!(
                "{:>6} {:>10} {:>8.2} {:>8.2} {:>8.2} {:>12.1} {:>12.1}\n",
                name,
                g.records,
                pct(Label::Entailment),
                pct(Label::Neutral),
                pct(Label::Contradiction),
                g.mean_premise_words,
                g.mean_hypothesis_words
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn rec(n: usize, label: Label, premise: &str, hypothesis: &str) -> Record {
        Record {
            premise: Some(premise.into()),
            hypothesis: Some(hypothesis.into()),
            label: Some(label),
            n_vars: Some(n),
            ..Record::default()
        }
    }

    #[test]
    fn counts_shares_and_means() {
        let mut stats = CorpusStats::new();
        stats.add(&rec(2, Label::Entailment, "a b c", "x y"));
        stats.add(&rec(2, Label::Contradiction, "a b c d e", "x"));
        stats.add(&rec(3, Label::Neutral, "a", "x y z"));
        stats.finish();
        assert_eq!(stats.total.records, 3);
        assert_eq!(stats.by_n[&2].records, 2);
        assert_abs_diff_eq!(stats.by_n[&2].mean_premise_words, 4.0, epsilon = 1e-12);
        assert_abs_diff_eq!(stats.by_n[&2].mean_hypothesis_words, 1.5, epsilon = 1e-12);
        assert_abs_diff_eq!(stats.total.entailment_share, 1.0 / 3.0, epsilon = 1e-12);
        assert_abs_diff_eq!(stats.by_n[&3].label_shares["neutral"], 1.0, epsilon = 1e-12);
        let table = stats.table();
        assert!(table.lines().count() == 4 && table.contains("all"), "{table}");
    }
}
