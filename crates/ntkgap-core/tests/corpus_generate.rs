//! Library-level generation: MEC counts against the graph module's exhaustive enumeration,
//! split routing, seeded sampling, and sampled (inexact) labels of the Extended corpus.

use std::collections::HashMap;

use ntkgap_core::corpus::{
    generate, records_per_mec, CorpusKind, Dedup, GenerateConfig, Label, Plan, Record, Split, SplitSizes,
};
use ntkgap_core::graph::enumerate_all;

fn config(kind: CorpusKind, nodes: std::ops::RangeInclusive<usize>) -> GenerateConfig {
    GenerateConfig { kind, nodes, ..GenerateConfig::default() }
}

#[test]
fn labelled_mec_counts_match_exhaustive_enumeration_up_to_six_nodes() {
    let plan = Plan::new(&config(CorpusKind::Corr2cause, 2..=6)).unwrap();
    let none = Plan::new(&GenerateConfig { dedup: Dedup::None, force: true, ..config(CorpusKind::Corr2cause, 2..=6) })
        .unwrap();
    for ((n, iso_records), (_, all_records)) in plan.records_by_size().into_iter().zip(none.records_by_size()) {
        let exhaustive = enumerate_all(n).unwrap();
        assert_eq!(all_records, exhaustive.mecs * records_per_mec(n), "n={n}: every labelled MEC once");
        assert!(iso_records < all_records || n == 2, "n={n}: relabelling classes are fewer");
    }
}

#[test]
fn records_route_to_splits_in_order_per_size() {
    let mut sink: Vec<(Split, Record)> = Vec::new();
    let summary = generate(&config(CorpusKind::Corr2cause, 3..=5), &mut sink).unwrap();
    for size in &summary.sizes {
        let sizes = SplitSizes::for_total(size.records);
        let splits: Vec<Split> = sink.iter().filter(|(_, r)| r.n_vars == Some(size.n)).map(|(s, _)| *s).collect();
        let expected: Vec<Split> = (0..size.records).map(|i| sizes.split_of(i)).collect();
        assert_eq!(splits, expected, "n={}", size.n);
        assert_eq!(size.splits, Some(sizes));
    }
}

#[test]
fn max_mecs_is_a_seeded_sample_of_whole_premises() {
    let sample = |seed| {
        let cfg = GenerateConfig { max_mecs: Some(4), seed, ..config(CorpusKind::Corr2cause, 5..=5) };
        let mut sink = Vec::new();
        generate(&cfg, &mut sink).unwrap();
        sink.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
    };
    let (a, b, c) = (sample(1), sample(1), sample(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mut per_mec: HashMap<String, usize> = HashMap::new();
    for r in &a {
        *per_mec.entry(r.mec_id.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(per_mec.len(), 4);
    assert!(per_mec.values().all(|&k| k as u64 == records_per_mec(5)));
}

#[test]
fn sampled_labels_never_contradict_exact_ones() {
    let exact_cfg = GenerateConfig { per_size: 6, ..config(CorpusKind::Extended, 8..=8) };
    let sampled_cfg = GenerateConfig { mec_cap: 1, label_samples: 5, ..exact_cfg.clone() };
    let (mut exact, mut sampled) = (Vec::new(), Vec::new());
    generate(&exact_cfg, &mut exact).unwrap();
    let summary = generate(&sampled_cfg, &mut sampled).unwrap();
    assert!(summary.sizes[0].inexact_labels > 0, "some MEC has more than one member");
    assert_eq!(exact.len(), sampled.len());
    for ((_, e), (_, s)) in exact.iter().zip(&sampled) {
        assert_eq!((&e.premise, &e.id), (&s.premise, &s.id), "same MECs, same order");
        assert_eq!(e.label_exact, Some(true));
        // Sampled members are members: whatever holds in all (none) of them holds in all (none) sampled.
        if e.label != Some(Label::Neutral) {
            assert_eq!(e.label, s.label, "{:?}", e.id);
        }
        if s.label_exact == Some(true) {
            assert_eq!(e.label, s.label);
        }
    }
}

#[test]
fn extended_small_sizes_stop_when_mecs_run_out() {
    let cfg = GenerateConfig { per_size: 50, ..config(CorpusKind::Extended, 2..=3) };
    let mut sink = Vec::new();
    let summary = generate(&cfg, &mut sink).unwrap();
    // n = 2 has 2 MECs and n = 3 has 11; the random generator finds every one of them.
    let found: Vec<u64> = summary.sizes.iter().map(|s| s.mecs).collect();
    let exhaustive: Vec<u64> = (2..=3).map(|n| enumerate_all(n).unwrap().mecs).collect();
    assert_eq!(found, exhaustive);
}
