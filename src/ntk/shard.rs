//! Row slabs of K and their merge: `ntkgap gram --rows i..j` computes K[i..j, :] (against all
//! columns), `ntkgap gram-merge` stacks the slabs back into K. Slabs are bit-identical to the
//! same rows of the unsharded K (see [`crate::ntk::tiles`]), so the merge is exact.
//!
//! A merge is refused (one line naming the slab file) unless every slab has the shape its row
//! range says, the same trailing shape and total row count, the same fingerprint (hashes of the
//! inputs and model, and every setting that changes values — taken from the slabs' `meta.json`),
//! and the slabs cover every row exactly once. No burn here.
//!
//! [`slab_meta`] is the one reading of a Gram `meta.json` into rows and fingerprint: the merge
//! compares slabs with it, and `ntkgap gram --resume` compares an existing output with the run
//! it was asked for.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// One slab as read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Slab {
    /// The slab's `.npy` file (named in errors).
    pub source: PathBuf,
    /// Its rows `start..end` of K.
    pub rows: (usize, usize),
    /// Rows of the whole K.
    pub total_rows: usize,
    /// Shape of the slab's array: `[end − start, cols, …]`.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f64>,
    /// What must agree between slabs (input/model hashes and settings), as JSON.
    pub fingerprint: serde_json::Value,
}

/// Settings in a Gram's meta that may differ between the slabs of one Gram: their rows and shape,
/// and the signal path that actually ran (a block with leading padding falls back to burn's pass;
/// the values agree to f32 rounding, the requested path `signals_requested` must match).
pub const PER_SLAB: [&str; 3] = ["rows", "shape", "signals"];

/// What a Gram output's `meta.json` (as written by `ntkgap gram`) says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlabMeta {
    /// Its rows `start..end` of K.
    pub rows: (usize, usize),
    /// Rows of the whole K.
    pub total_rows: usize,
    /// What must agree between slabs of one K, and between a run and the output it resumes: the
    /// input hashes (sorted; not their paths, which may differ between machines), the seed, the
    /// crate version and every setting in `extra` but [`PER_SLAB`].
    pub fingerprint: serde_json::Value,
}

/// Read [`SlabMeta`] from a parsed `meta.json`.
///
/// # Errors
/// What the meta lacks (`"row range"`, `"total_rows"`, `"extra settings"`), for the caller to name.
pub fn slab_meta(meta: &serde_json::Value) -> std::result::Result<SlabMeta, &'static str> {
    let extra = meta.get("extra").and_then(|e| e.as_object()).ok_or("extra settings")?;
    let rows =
        extra.get("rows").and_then(|r| serde_json::from_value::<(usize, usize)>(r.clone()).ok()).ok_or("row range")?;
    let total_rows = extra.get("total_rows").and_then(serde_json::Value::as_u64).ok_or("total_rows")? as usize;
    let mut settings = extra.clone();
    for key in PER_SLAB {
        settings.remove(key);
    }
    let mut hashes: Vec<String> = meta
        .get("inputs")
        .and_then(|i| i.as_object())
        .map(|m| m.values().filter_map(|h| h.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    hashes.sort();
    let fingerprint = serde_json::json!({
        "inputs": hashes, "seed": meta.get("seed"), "extra": settings, "version": meta.get("version")
    });
    Ok(SlabMeta { rows, total_rows, fingerprint })
}

/// The first key (dotted path) at which two JSON values differ, if any.
pub fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => {
                    first_difference(p, q).map(|d| if d.is_empty() { k.clone() } else { format!("{k}.{d}") })
                }
                _ => Some(k.clone()),
            })
        }
        _ if a == b => None,
        _ => Some(String::new()),
    }
}

fn check_slab(s: &Slab, first: &Slab) -> Result<()> {
    let bad = |reason: String| Err(Error::bad_input(&s.source, reason));
    let (start, end) = s.rows;
    if start >= end || end > s.total_rows {
        return bad(format!("row range {start}..{end} is not inside 0..{}", s.total_rows));
    }
    if s.shape.first() != Some(&(end - start)) || s.shape.len() < 2 {
        return bad(format!("shape {:?} does not hold rows {start}..{end}", s.shape));
    }
    if s.total_rows != first.total_rows || s.shape[1..] != first.shape[1..] {
        let (a, b) = (first.source.display(), first.total_rows);
        return bad(format!(
            "is a slab of a {}-row K with rows shaped {:?}, but {a} is of a {b}-row K with rows shaped {:?}",
            s.total_rows,
            &s.shape[1..],
            &first.shape[1..]
        ));
    }
    if let Some(key) = first_difference(&s.fingerprint, &first.fingerprint) {
        let key = if key.is_empty() { "fingerprint".to_string() } else { key };
        return bad(format!(
            "was computed from other inputs, model or settings than {} (differs in {key})",
            first.source.display()
        ));
    }
    Ok(())
}

/// Stack `slabs` (any order) into K: (shape, values).
///
/// # Errors
/// [`Error::InvalidArgument`] when there is no slab; [`Error::BadInput`] naming a slab whose
/// shape, total size or fingerprint disagrees, that overlaps another, or before which rows are
/// missing (the missing range is named).
pub fn merge(mut slabs: Vec<Slab>) -> Result<(Vec<usize>, Vec<f64>)> {
    if slabs.is_empty() {
        return Err(Error::invalid("slabs", "no slab given"));
    }
    for s in &slabs {
        check_slab(s, &slabs[0])?;
    }
    slabs.sort_by_key(|s| s.rows);
    let mut covered = 0;
    for (k, s) in slabs.iter().enumerate() {
        let (start, end) = s.rows;
        if start < covered {
            let other = &slabs[k - 1];
            let (a, b) = other.rows;
            return Err(Error::bad_input(
                &s.source,
                format!("rows {start}..{end} overlap rows {a}..{b} of {}", other.source.display()),
            ));
        }
        if start > covered {
            return Err(Error::bad_input(
                &s.source,
                format!("rows {covered}..{start} are in no slab (this slab starts at {start})"),
            ));
        }
        covered = end;
    }
    let total = slabs[0].total_rows;
    if covered < total {
        let last = &slabs[slabs.len() - 1];
        return Err(Error::bad_input(
            &last.source,
            format!("rows {covered}..{total} are in no slab (this slab ends at {covered})"),
        ));
    }
    let mut shape = slabs[0].shape.clone();
    shape[0] = total;
    let values = slabs.into_iter().flat_map(|s| s.values).collect();
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slab(name: &str, rows: (usize, usize), fingerprint: serde_json::Value) -> Slab {
        let n = rows.1 - rows.0;
        Slab {
            source: PathBuf::from(name),
            rows,
            total_rows: 5,
            shape: vec![n, 5],
            values: (rows.0 * 5..rows.1 * 5).map(|v| v as f64).collect(),
            fingerprint,
        }
    }

    #[test]
    fn slab_meta_ignores_paths_rows_and_the_signal_path_that_ran() {
        let meta = |path: &str, rows: [usize; 2], signals: &str, block: usize| {
            json!({"version": "1", "command_line": [path], "seed": 0, "inputs": {path: "abc", "m": "def"},
                   "extra": {"rows": rows, "total_rows": 9, "shape": [rows[1] - rows[0], 9],
                             "signals": signals, "block": block}})
        };
        let a = slab_meta(&meta("x.jsonl", [0, 4], "Fast", 8)).unwrap();
        let b = slab_meta(&meta("/elsewhere/x.jsonl", [4, 9], "Burn", 8)).unwrap();
        assert_eq!((a.rows, b.rows, a.total_rows), ((0, 4), (4, 9), 9));
        assert_eq!(first_difference(&a.fingerprint, &b.fingerprint), None);
        let c = slab_meta(&meta("x.jsonl", [0, 4], "Fast", 4)).unwrap();
        assert_eq!(first_difference(&a.fingerprint, &c.fingerprint).as_deref(), Some("extra.block"));
        assert_eq!(slab_meta(&json!({"extra": {"rows": [0, 1]}})), Err("total_rows"));
        assert_eq!(slab_meta(&json!({"extra": {}})), Err("row range"));
        assert_eq!(slab_meta(&json!({})), Err("extra settings"));
    }

    #[test]
    fn slabs_in_any_order_stack_back() {
        let f = json!({"inputs": ["abc"], "extra": {"method": "PerLayer"}});
        let (shape, values) = merge(vec![slab("b", (2, 5), f.clone()), slab("a", (0, 2), f)]).unwrap();
        assert_eq!(shape, vec![5, 5]);
        assert_eq!(values, (0..25).map(|v| v as f64).collect::<Vec<_>>());
    }

    #[test]
    fn gaps_overlaps_and_mixed_slabs_are_refused() {
        let f = json!({"inputs": ["abc"], "extra": {"method": "PerLayer", "output": "Margin"}});
        let e = merge(vec![slab("a", (0, 2), f.clone()), slab("b", (3, 5), f.clone())]).unwrap_err().to_string();
        assert!(e.contains("b: rows 2..3 are in no slab"), "{e}");
        let e = merge(vec![slab("a", (0, 3), f.clone()), slab("b", (2, 5), f.clone())]).unwrap_err().to_string();
        assert!(e.contains("b: rows 2..5 overlap rows 0..3 of a"), "{e}");
        let e = merge(vec![slab("a", (0, 3), f.clone())]).unwrap_err().to_string();
        assert!(e.contains("rows 3..5 are in no slab"), "{e}");
        let other = json!({"inputs": ["abd"], "extra": {"method": "PerLayer", "output": "Margin"}});
        let e = merge(vec![slab("a", (0, 2), f.clone()), slab("b", (2, 5), other)]).unwrap_err().to_string();
        assert!(e.contains("b: was computed from other inputs") && e.contains("differs in inputs"), "{e}");
        let trace = json!({"inputs": ["abc"], "extra": {"method": "PerLayer", "output": "Trace"}});
        let e = merge(vec![slab("a", (0, 2), f.clone()), slab("b", (2, 5), trace)]).unwrap_err().to_string();
        assert!(e.contains("differs in extra.output"), "{e}");
        let mut wrong = slab("b", (2, 5), f.clone());
        wrong.shape = vec![2, 5];
        let e = merge(vec![slab("a", (0, 2), f), wrong]).unwrap_err().to_string();
        assert!(e.contains("does not hold rows 2..5"), "{e}");
        assert!(merge(Vec::new()).is_err());
    }
}
