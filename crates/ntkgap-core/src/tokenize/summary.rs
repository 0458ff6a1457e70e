//! Overlap by number of variables: reading a mined pairs file and summarising each metric per
//! (pair kind, `n_vars`) as mean, minimum and maximum — the table behind the claim that
//! near-miss inputs share more of their tokens as n grows (docs/science.md "Near misses").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::csv::{optional, CsvTable};
use crate::tokenize::overlap::Overlap;
use crate::tokenize::pairs::{NearMissPair, PairKind};

/// Mean, minimum and maximum of one metric over a group of pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    /// Arithmetic mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stat {
    fn of(values: &[f64]) -> Stat {
        let n = values.len().max(1) as f64;
        Stat {
            mean: values.iter().sum::<f64>() / n,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Reads one metric out of an [`Overlap`].
pub type MetricFn = fn(&Overlap) -> f64;

/// The metrics summarised, with their column names (`tokens` = the longer encoding's length).
pub const METRICS: [(&str, MetricFn); 6] = [
    ("shared_fraction", |o| o.shared_fraction),
    ("jaccard", |o| o.jaccard),
    ("normalized_levenshtein", |o| o.normalized_levenshtein),
    ("differing_tokens", |o| o.differing_tokens as f64),
    ("relative_difference", |o| o.relative_difference),
    ("tokens", |o| o.len_a.max(o.len_b) as f64),
];

/// One row of the table: a pair kind and a variable count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverlapRow {
    /// Pair kind.
    pub kind: PairKind,
    /// Number of variables (`None` for pairs without `n_vars`).
    pub n_vars: Option<usize>,
    /// Number of pairs.
    pub pairs: usize,
    /// One [`Stat`] per entry of [`METRICS`], in that order.
    pub stats: Vec<Stat>,
}

/// Read every pair of a pairs JSONL file (as written by `ntkgap pairs`).
///
/// # Errors
/// [`Error::Jsonl`] naming the first line that is not a pair, [`Error::BadInput`] when the file
/// holds none, [`Error::Io`] when it cannot be read.
pub fn read_pairs(path: &Path) -> Result<Vec<NearMissPair>> {
    if path.is_dir() {
        return Err(Error::bad_input(path, "is a directory, expected a pairs JSONL file"));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut pairs = Vec::new();
    for (k, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let err = |reason: String| Error::Jsonl { path: path.into(), line: k + 1, reason };
        if line.trim().is_empty() {
            return Err(err("empty line (expected one JSON object per line)".into()));
        }
        pairs.push(serde_json::from_str(&line).map_err(|e| err(format!("not a mined pair: {e}")))?);
    }
    if pairs.is_empty() {
        return Err(Error::bad_input(path, "contains no pairs"));
    }
    Ok(pairs)
}

/// Summarise pairs per (kind, `n_vars`), rows sorted by kind then `n_vars` (missing last).
pub fn summarize(pairs: &[NearMissPair]) -> Vec<OverlapRow> {
    let mut groups: BTreeMap<(PairKind, usize), Vec<&Overlap>> = BTreeMap::new();
    for p in pairs {
        groups.entry((p.kind, p.n_vars.unwrap_or(usize::MAX))).or_default().push(&p.overlap);
    }
    groups
        .into_iter()
        .map(|((kind, n), overlaps)| OverlapRow {
            kind,
            n_vars: (n != usize::MAX).then_some(n),
            pairs: overlaps.len(),
            stats: METRICS.iter().map(|(_, f)| Stat::of(&overlaps.iter().map(|o| f(o)).collect::<Vec<_>>())).collect(),
        })
        .collect()
}

fn n_label(n: Option<usize>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// A fixed-width text table: shared fraction mean/min/max, then the means of the other metrics.
pub fn render_table(rows: &[OverlapRow]) -> String {
    let mut out = format!(
        "{:<16} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7}\n",
        "kind", "n_vars", "pairs", "shared", "min", "max", "jaccard", "lev_norm", "differing", "rel_diff", "tokens"
    );
    for r in rows {
        let s = &r.stats;
        let _ = writeln!(
            out,
            "{:<16} {:>6} {:>6} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>9.2} {:>8.4} {:>7.1}",
            r.kind.as_str(),
            n_label(r.n_vars),
            r.pairs,
            s[0].mean,
            s[0].min,
            s[0].max,
            s[1].mean,
            s[2].mean,
            s[3].mean,
            s[4].mean,
            s[5].mean
        );
    }
    out
}

/// CSV with a header: `kind,n_vars,pairs`, then `<metric>_mean,<metric>_min,<metric>_max` for
/// every metric of [`METRICS`]. Missing `n_vars` is an empty field.
pub fn to_csv(rows: &[OverlapRow]) -> String {
    let mut header = vec!["kind".to_string(), "n_vars".into(), "pairs".into()];
    for (name, _) in METRICS {
        header.extend([format!("{name}_mean"), format!("{name}_min"), format!("{name}_max")]);
    }
    let mut table = CsvTable::new(&header);
    for r in rows {
        let mut fields = vec![r.kind.as_str().to_string(), optional(r.n_vars), r.pairs.to_string()];
        for s in &r.stats {
            fields.extend([s.mean.to_string(), s.min.to_string(), s.max.to_string()]);
        }
        table.row(&fields);
    }
    table.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Record;
    use crate::tokenize::overlap::overlap;
    use approx::assert_abs_diff_eq;

    fn pair(n: usize, a: &[u32], b: &[u32]) -> NearMissPair {
        NearMissPair {
            kind: PairKind::SamePremise,
            n_vars: Some(n),
            a: Record::default(),
            b: Record::default(),
            line_a: 1,
            line_b: 2,
            truncated_a: false,
            truncated_b: false,
            overlap: overlap(a, b),
            premise_overlap: None,
        }
    }

    #[test]
    fn groups_by_n_vars_with_mean_min_max() {
        let pairs = [pair(3, &[1, 2, 3, 4], &[1, 2, 3, 5]), pair(3, &[1, 2], &[1, 3]), pair(2, &[1], &[1])];
        let rows = summarize(&pairs);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].n_vars, rows[0].pairs), (Some(2), 1));
        assert_eq!((rows[1].n_vars, rows[1].pairs), (Some(3), 2));
        assert_abs_diff_eq!(rows[1].stats[0].mean, (0.75 + 0.5) / 2.0, epsilon = 1e-12);
        assert_abs_diff_eq!(rows[1].stats[0].min, 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(rows[1].stats[0].max, 0.75, epsilon = 1e-12);
        let csv = to_csv(&rows);
        assert!(csv.starts_with("kind,n_vars,pairs,shared_fraction_mean,"), "{csv}");
        assert!(csv.lines().nth(2).unwrap().starts_with("same_premise,3,2,0.625,0.5,0.75,"), "{csv}");
        assert!(render_table(&rows).lines().count() == 3);
    }
}
