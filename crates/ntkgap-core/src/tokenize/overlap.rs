//! Token-overlap metrics between two encodings (near-miss pairs, docs/science.md "Near misses").
//!
//! For token-id sequences a (length |a|) and b (length |b|), with multiset intersection size
//! I = Σ_t min(count_a(t), count_b(t)) and token sets A, B:
//!
//! | field | formula | identical inputs |
//! |---|---|---|
//! | `shared_fraction` | I / max(\|a\|, \|b\|) | 1 |
//! | `jaccard` | \|A ∩ B\| / \|A ∪ B\| | 1 |
//! | `levenshtein` | edit distance on ids (insert/delete/substitute, cost 1; strsim `generic_levenshtein`) | 0 |
//! | `normalized_levenshtein` | levenshtein / max(\|a\|, \|b\|) | 0 |
//! | `differing_tokens` | (\|a\| − I) + (\|b\| − I), tokens without a partner in the other | 0 |
//! | `relative_difference` | differing_tokens / (\|a\| + \|b\|) = 1 − Dice | 0 |
//!
//! Two empty sequences count as identical. Metrics are computed on the unpadded ids, special
//! tokens included (they are part of what the model sees). Cost: O(n log n) for the multiset and
//! set metrics, O(|a|·|b|) for Levenshtein.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::tokenize::Encoding;

/// Every overlap metric of one pair of token sequences (formulas in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    /// |a|: tokens in the first sequence.
    pub len_a: usize,
    /// |b|: tokens in the second sequence.
    pub len_b: usize,
    /// I: size of the multiset intersection.
    pub shared_tokens: usize,
    /// I / max(|a|, |b|).
    pub shared_fraction: f64,
    /// |A ∩ B| / |A ∪ B| on the token sets.
    pub jaccard: f64,
    /// Levenshtein distance on the id sequences.
    pub levenshtein: usize,
    /// levenshtein / max(|a|, |b|).
    pub normalized_levenshtein: f64,
    /// (|a| − I) + (|b| − I).
    pub differing_tokens: usize,
    /// differing_tokens / (|a| + |b|).
    pub relative_difference: f64,
}

/// All overlap metrics of two id sequences.
pub fn overlap(a: &[u32], b: &[u32]) -> Overlap {
    let mut sorted_a = a.to_vec();
    let mut sorted_b = b.to_vec();
    sorted_a.sort_unstable();
    sorted_b.sort_unstable();
    let shared = multiset_intersection(&sorted_a, &sorted_b);
    let longest = a.len().max(b.len());
    let total = a.len() + b.len();
    let levenshtein = levenshtein(a, b);
    let differing = total - 2 * shared;
    Overlap {
        len_a: a.len(),
        len_b: b.len(),
        shared_tokens: shared,
        shared_fraction: ratio_or(shared, longest, 1.0),
        jaccard: jaccard(&sorted_a, &sorted_b),
        levenshtein,
        normalized_levenshtein: ratio_or(levenshtein, longest, 0.0),
        differing_tokens: differing,
        relative_difference: ratio_or(differing, total, 0.0),
    }
}

/// Levenshtein distance of two id sequences: strsim's `generic_levenshtein` on what is left
/// after their common prefix and suffix, which an edit path never needs to touch (the distance
/// is the same; near misses differ in a few tokens, so the O(|a|·|b|) table shrinks to a few
/// rows).
fn levenshtein(a: &[u32], b: &[u32]) -> usize {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    strsim::generic_levenshtein(&a[..a.len() - suffix].to_vec(), &b[..b.len() - suffix].to_vec())
}

/// [`overlap`] of two encodings' real (attention mask 1) token ids.
pub fn overlap_encodings(a: &Encoding, b: &Encoding) -> Overlap {
    overlap(&real_ids(a), &real_ids(b))
}

/// Shared-token fraction I / max(|a|, |b|) of two **sorted** id sequences (cheap ranking key).
pub(crate) fn shared_fraction_sorted(sorted_a: &[u32], sorted_b: &[u32]) -> f64 {
    ratio_or(multiset_intersection(sorted_a, sorted_b), sorted_a.len().max(sorted_b.len()), 1.0)
}

/// Size of the multiset intersection of two **sorted** sequences.
pub(crate) fn multiset_intersection(sorted_a: &[u32], sorted_b: &[u32]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < sorted_a.len() && j < sorted_b.len() {
        match sorted_a[i].cmp(&sorted_b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

fn jaccard(sorted_a: &[u32], sorted_b: &[u32]) -> f64 {
    let set_a: BTreeSet<u32> = sorted_a.iter().copied().collect();
    let set_b: BTreeSet<u32> = sorted_b.iter().copied().collect();
    let inter = set_a.intersection(&set_b).count();
    let union = set_a.len() + set_b.len() - inter;
    ratio_or(inter, union, 1.0)
}

fn real_ids(e: &Encoding) -> Vec<u32> {
    e.ids.iter().zip(&e.attention_mask).filter(|(_, &m)| m != 0).map(|(&id, _)| id).collect()
}

fn ratio_or(num: usize, den: usize, empty: f64) -> f64 {
    if den == 0 {
        empty
    } else {
        num as f64 / den as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn hand_computed_case() {
        // a = 1 2 3 4, b = 1 2 5 4 4: I = 3 (1, 2, 4); sets {1,2,3,4} vs {1,2,4,5}: 3/5;
        // edits: 3→5, insert 4 = 2; differing = 1 + 2 = 3 of 9.
        let o = overlap(&[1, 2, 3, 4], &[1, 2, 5, 4, 4]);
        assert_eq!((o.len_a, o.len_b, o.shared_tokens, o.levenshtein, o.differing_tokens), (4, 5, 3, 2, 3));
        assert_abs_diff_eq!(o.shared_fraction, 0.6, epsilon = 1e-12);
        assert_abs_diff_eq!(o.jaccard, 0.6, epsilon = 1e-12);
        assert_abs_diff_eq!(o.normalized_levenshtein, 0.4, epsilon = 1e-12);
        assert_abs_diff_eq!(o.relative_difference, 1.0 / 3.0, epsilon = 1e-12);
    }

    /// The trimmed distance equals strsim's on the whole sequences (random ids from a small
    /// alphabet, with and without shared prefixes and suffixes, one side empty).
    #[test]
    fn trimming_the_common_ends_keeps_the_distance() {
        let mut state = 0x9e37_79b9_u32;
        let mut next = |k: u32| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state % k
        };
        for case in 0..400 {
            let stem: Vec<u32> = (0..next(6)).map(|_| next(4)).collect();
            let tail: Vec<u32> = (0..next(6)).map(|_| next(4)).collect();
            let a: Vec<u32> = (0..next(9)).map(|_| next(4)).collect();
            let b: Vec<u32> = (0..next(9)).map(|_| next(4)).collect();
            let whole = |m: &[u32]| -> Vec<u32> { stem.iter().chain(m).chain(&tail).copied().collect() };
            let (a, b) = if case % 3 == 0 { (a, b) } else { (whole(&a), whole(&b)) };
            assert_eq!(levenshtein(&a, &b), strsim::generic_levenshtein(&a, &b), "{a:?} vs {b:?}");
        }
        assert_eq!(levenshtein(&[], &[1, 2]), 2);
        assert_eq!(levenshtein(&[1, 2, 1], &[1, 2, 1]), 0);
    }

    #[test]
    fn near_miss_hypotheses_share_most_tokens() {
        // [CLS] p p p p p p [SEP] x directly causes y . [SEP]  vs  ... x causes y . [SEP]
        let premise = [7, 8, 9, 10, 11, 12];
        let a: Vec<u32> = [2].iter().chain(&premise).chain(&[3, 40, 41, 42, 43, 5, 3]).copied().collect();
        let b: Vec<u32> = [2].iter().chain(&premise).chain(&[3, 40, 42, 43, 5, 3]).copied().collect();
        let o = overlap(&a, &b);
        assert_eq!((o.len_a, o.len_b, o.shared_tokens, o.levenshtein, o.differing_tokens), (14, 13, 13, 1, 1));
        assert_abs_diff_eq!(o.shared_fraction, 13.0 / 14.0, epsilon = 1e-12);
        assert_abs_diff_eq!(o.jaccard, 12.0 / 13.0, epsilon = 1e-12);
        assert_abs_diff_eq!(o.relative_difference, 1.0 / 27.0, epsilon = 1e-12);
    }

    #[test]
    fn identical_disjoint_and_empty() {
        let same = overlap(&[5, 5, 6], &[5, 5, 6]);
        assert_abs_diff_eq!(same.shared_fraction, 1.0);
        assert_eq!((same.levenshtein, same.differing_tokens), (0, 0));
        let disjoint = overlap(&[1, 2], &[3, 4, 5]);
        assert_abs_diff_eq!(disjoint.shared_fraction, 0.0);
        assert_abs_diff_eq!(disjoint.jaccard, 0.0);
        assert_abs_diff_eq!(disjoint.normalized_levenshtein, 1.0);
        assert_abs_diff_eq!(disjoint.relative_difference, 1.0);
        let empty = overlap(&[], &[]);
        assert_abs_diff_eq!(empty.shared_fraction, 1.0);
        assert_abs_diff_eq!(empty.relative_difference, 0.0);
    }

    #[test]
    fn padding_is_ignored_for_encodings() {
        let a = Encoding {
            ids: vec![2, 9, 3, 0, 0],
            token_type_ids: vec![0; 5],
            attention_mask: vec![1, 1, 1, 0, 0],
            truncated: false,
        };
        let b =
            Encoding { ids: vec![2, 9, 3], token_type_ids: vec![0; 3], attention_mask: vec![1; 3], truncated: false };
        assert_eq!(overlap_encodings(&a, &b), overlap(&[2, 9, 3], &[2, 9, 3]));
    }
}
