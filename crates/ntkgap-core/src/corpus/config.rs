//! Settings of corpus generation ([`GenerateConfig`]) and their validation.
//!
//! Two corpora (see docs/science.md "Corr2Cause"):
//! * [`CorpusKind::Corr2cause`] — the original benchmark: every MEC on n = 2..6 variables (one per
//!   class of relabellings by default, [`Dedup::Iso`]), full CI lists;
//! * [`CorpusKind::Extended`] — the paper's Extended Corr2Cause: `per_size` random DAGs per n
//!   (random order, edge probability min(0.5, 6/(n−1))), distinct MECs, restricted CI lists for
//!   n ≥ 9 (see [`super::premise`]).

use std::ops::RangeInclusive;

use serde::Serialize;

use crate::error::{Error, Result};

/// Largest n of the exhaustive corpus (the original stops at 6; n = 7 has ~10⁹ labelled DAGs).
pub const MAX_CORR2CAUSE_NODES: usize = 6;

/// Default refusal threshold on the estimated number of records (override with `force`).
pub const DEFAULT_MAX_RECORDS: u64 = 1_000_000;

/// Which corpus to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorpusKind {
    /// Every MEC on 2 ≤ n ≤ 6 variables (the original benchmark).
    Corr2cause,
    /// Random DAGs on 2 ≤ n ≤ 64 variables, `per_size` distinct MECs per n (the paper's 7..24).
    Extended,
}

/// How the exhaustive corpus treats MECs that differ only by variable names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedup {
    /// One MEC per class of relabellings (what the original benchmark effectively did).
    Iso,
    /// Every labelled MEC (n = 6: ~10⁶ premises, ~10⁸ items).
    None,
}

impl CorpusKind {
    /// Every kind by its name (`corr2cause`, `extended`), the order of the CLI's choices.
    pub const NAMES: [(&'static str, CorpusKind); 2] =
        [("corr2cause", CorpusKind::Corr2cause), ("extended", CorpusKind::Extended)];
}

impl Dedup {
    /// Every mode by its name (`iso`, `none`).
    pub const NAMES: [(&'static str, Dedup); 2] = [("iso", Dedup::Iso), ("none", Dedup::None)];
}

/// Everything [`generate`](super::generate::generate) needs; build it, then
/// [`validate`](GenerateConfig::validate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateConfig {
    /// Corpus kind. Default: Corr2Cause.
    pub kind: CorpusKind,
    /// Numbers of variables, inclusive. Default 2..=6.
    pub nodes: RangeInclusive<usize>,
    /// Relabelling dedup for Corr2Cause. Default: [`Dedup::Iso`].
    pub dedup: Dedup,
    /// Corr2Cause: keep a seeded sample of at most this many MECs per n. Default: all.
    pub max_mecs: Option<usize>,
    /// Extended: distinct MECs (premises) per n; each gives 6·n(n−1)/2 items. Default 10.
    pub per_size: usize,
    /// Seed of every random choice (MEC order, random DAGs, wording, sampled members). Default 0.
    pub seed: u64,
    /// Generate even when the estimate exceeds `max_records`. Default false.
    pub force: bool,
    /// Refuse above this many estimated records unless `force`. Default 1,000,000.
    pub max_records: u64,
    /// Extended: enumerate a MEC exactly when it has at most this many members, otherwise label
    /// from sampled members (`label_exact: false`). Default 10,000.
    pub mec_cap: usize,
    /// Extended: members sampled for labels when the MEC exceeds `mec_cap`. Default 1000.
    pub label_samples: usize,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            kind: CorpusKind::Corr2cause,
            nodes: 2..=MAX_CORR2CAUSE_NODES,
            dedup: Dedup::Iso,
            max_mecs: None,
            per_size: 10,
            seed: 0,
            force: false,
            max_records: DEFAULT_MAX_RECORDS,
            mec_cap: 10_000,
            label_samples: 1000,
        }
    }
}

impl GenerateConfig {
    /// Largest number of variables `kind` supports.
    pub fn max_nodes(&self) -> usize {
        match self.kind {
            CorpusKind::Corr2cause => MAX_CORR2CAUSE_NODES,
            CorpusKind::Extended => crate::graph::MAX_NODES,
        }
    }

    /// Check every field.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the flag (`--nodes`, `--per-size`, `--max-mecs`,
    /// `--mec-cap`, `--label-samples`) and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let (lo, hi, max) = (*self.nodes.start(), *self.nodes.end(), self.max_nodes());
        let kind = match self.kind {
            CorpusKind::Corr2cause => "corr2cause",
            CorpusKind::Extended => "extended",
        };
        if lo > hi {
            return Err(Error::setting("nodes", format!("{lo}..{hi} is empty (the start must not exceed the end)")));
        }
        if lo < 2 || hi > max {
            return Err(Error::setting(
                "nodes",
                format!("{lo}..{hi} is outside 2..{max}, the sizes `kind` {kind} supports (a hypothesis needs a pair)"),
            ));
        }
        let positive = [
            ("per_size", self.per_size),
            ("max_mecs", self.max_mecs.unwrap_or(1)),
            ("mec_cap", self.mec_cap),
            ("label_samples", self.label_samples),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::setting(name, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Parse a `--nodes` value: `N`, `A..B` or `A..=B` (both inclusive).
///
/// # Errors
/// [`Error::InvalidSetting`] (`nodes`) when the text is not of that form.
pub fn parse_nodes(text: &str) -> Result<RangeInclusive<usize>> {
    let number = |s: &str| -> Result<usize> {
        s.trim()
            .parse::<usize>()
            .map_err(|_| Error::setting("nodes", format!("{text:?} is not N, A..B or A..=B with whole numbers")))
    };
    match text.split_once("..") {
        None => {
            let n = number(text)?;
            Ok(n..=n)
        }
        Some((a, b)) => Ok(number(a)?..=number(b.strip_prefix('=').unwrap_or(b))?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_nodes(kind: CorpusKind, nodes: &str) -> Result<()> {
        GenerateConfig { kind, nodes: parse_nodes(nodes)?, ..GenerateConfig::default() }.validate()
    }

    #[test]
    fn nodes_ranges_are_checked() {
        assert!(with_nodes(CorpusKind::Corr2cause, "2..6").is_ok());
        assert!(with_nodes(CorpusKind::Corr2cause, "4").is_ok());
        assert!(with_nodes(CorpusKind::Extended, "7..=24").is_ok());
        for (kind, bad, needle) in [
            (CorpusKind::Corr2cause, "0", "outside 2..6"),
            (CorpusKind::Corr2cause, "7", "outside 2..6"),
            (CorpusKind::Extended, "70", "outside 2..64"),
            (CorpusKind::Extended, "9..3", "is empty"),
            (CorpusKind::Extended, "a..3", "whole numbers"),
            (CorpusKind::Extended, "", "whole numbers"),
        ] {
            let err = with_nodes(kind, bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid `nodes`:") && err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn zero_counts_are_refused() {
        let config = GenerateConfig { per_size: 0, ..GenerateConfig::default() };
        assert!(config.validate().unwrap_err().to_string().contains("`per_size`"));
        let config = GenerateConfig { max_mecs: Some(0), ..GenerateConfig::default() };
        assert!(config.validate().unwrap_err().to_string().contains("`max_mecs`"));
    }
}
