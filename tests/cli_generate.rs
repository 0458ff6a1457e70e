//! `ntkgap generate` and `ntkgap stats` run as the real binary on tiny corpora.

use std::path::Path;

use ntkgap::corpus::{parse_nodes, read_records, CorpusKind, GenerateConfig, Plan, SplitSizes};

use crate::common;
use common::{ntkgap, stderr};

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

#[test]
fn corr2cause_two_to_five_writes_splits_per_size_and_stats_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c2c");
    let run = ntkgap(&["generate", "--kind", "corr2cause", "--nodes", "2..5", "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    let config = GenerateConfig { nodes: parse_nodes("2..5").unwrap(), ..GenerateConfig::default() };
    let plan = Plan::new(&config).unwrap();
    let mut expected = SplitSizes { test: 0, dev: 0, train: 0 };
    for (_, records) in plan.records_by_size() {
        let s = SplitSizes::for_total(records);
        expected =
            SplitSizes { test: expected.test + s.test, dev: expected.dev + s.dev, train: expected.train + s.train };
    }
    assert_eq!(lines(&out.join("test.jsonl")) as u64, expected.test);
    assert_eq!(lines(&out.join("dev.jsonl")) as u64, expected.dev);
    assert_eq!(lines(&out.join("train.jsonl")) as u64, expected.train);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["extra"]["summary"]["records"].as_u64(), Some(plan.total_records()));
    let test = read_records(out.join("test.jsonl")).unwrap();
    for n in 2..=5 {
        assert!(test.iter().any(|r| r.n_vars == Some(n)), "test split has items with n={n}");
    }

    let stats = ntkgap(&["stats", "--input", out.join("train.jsonl").to_str().unwrap(), "--json"]);
    assert!(stats.status.success(), "{}", stderr(&stats));
    let json: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(json["total"]["records"].as_u64(), Some(expected.train));
    let share: f64 = ["entailment", "neutral", "contradiction"]
        .iter()
        .map(|l| json["total"]["label_shares"][l].as_f64().unwrap_or(0.0))
        .sum();
    assert!((share - 1.0).abs() < 1e-9, "label shares sum to {share}");
    let table = ntkgap(&["stats", "--input", out.join("test.jsonl").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success() && text.contains("entail%") && text.lines().count() == 6, "{text}");
}

#[test]
fn same_seed_same_bytes_other_seed_other_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (name, seed) in [("a.jsonl", "3"), ("b.jsonl", "3"), ("c.jsonl", "4")] {
        let run = ntkgap(&["generate", "--nodes", "3..4", "--seed", seed, "--out", &path(name)]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let read = |name: &str| std::fs::read(path(name)).unwrap();
    assert_eq!(read("a.jsonl"), read("b.jsonl"));
    assert_ne!(read("a.jsonl"), read("c.jsonl"));
    assert!(dir.path().join("a.meta.json").exists());
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let blocker = dir.path().join("plain-file");
    std::fs::write(&blocker, b"x").unwrap();
    let missing_parent = dir.path().join("no/such/dir");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--nodes", "0"], "invalid --nodes"),
        (vec!["--nodes", "70", "--kind", "extended"], "invalid --nodes"),
        (vec!["--nodes", "9..3", "--kind", "extended"], "is empty"),
        (vec!["--nodes", "7"], "outside 2..6"),
        (vec!["--nodes", "2..3", "--max-records", "10"], "above the limit of 10 records"),
        (vec!["--nodes", "6", "--dedup", "none"], "above the limit"),
        (vec!["--nodes", "2", "--per-size", "0", "--kind", "extended"], "invalid --per-size"),
    ];
    for (args, needle) in cases {
        let mut all = vec!["generate", "--out", out.to_str().unwrap()];
        all.extend(args.iter().copied());
        let run = ntkgap(&all);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("ntkgap: error:") && err.contains(needle) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(!out.exists(), "{args:?} left {out:?} behind");
    }
    for bad_out in [blocker.join("sub"), missing_parent.join("x.jsonl"), blocker.clone()] {
        let run = ntkgap(&["generate", "--nodes", "2..3", "--out", bad_out.to_str().unwrap()]);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{bad_out:?}: {err}");
        assert!(err.lines().count() == 1 && err.contains(bad_out.to_str().unwrap()), "{err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the blocker file remains");
    // A directory output is created with its missing ancestors (like `mkdir -p`).
    let run = ntkgap(&["generate", "--nodes", "2..3", "--out", missing_parent.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(missing_parent.join("test.jsonl").is_file());
    let run = ntkgap(&["stats", "--input", dir.path().join("missing.jsonl").to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn force_and_max_mecs_override_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small.jsonl");
    let run =
        ntkgap(&["generate", "--nodes", "2..3", "--max-records", "10", "--force", "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    let sampled = dir.path().join("sampled.jsonl");
    let run = ntkgap(&["generate", "--nodes", "4", "--max-mecs", "3", "--out", sampled.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    let records = read_records(&sampled).unwrap();
    let mecs: std::collections::HashSet<_> = records.iter().map(|r| r.mec_id.clone()).collect();
    assert_eq!((mecs.len(), records.len()), (3, 3 * 36));
}

#[test]
fn extended_corpus_has_restricted_premises_and_label_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ext.jsonl");
    let run = ntkgap(&[
        "generate",
        "--kind",
        "extended",
        "--nodes",
        "9..10",
        "--per-size",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let records = read_records(&out).unwrap();
    let config = GenerateConfig { kind: CorpusKind::Extended, nodes: 9..=10, per_size: 2, ..GenerateConfig::default() };
    assert_eq!(records.len() as u64, Plan::new(&config).unwrap().total_records());
    assert_eq!(records.len(), 2 * 6 * 36 + 2 * 6 * 45);
    for r in &records {
        let premise = ntkgap::corpus::Premise::parse(r.premise.as_deref().unwrap()).unwrap();
        assert!(premise.cpdag().is_ok());
        assert!(r.label_exact.is_some());
        // MaxSetSize(3) for n = 9, 10: a larger set only as the lone parent-set fallback.
        for &(i, j, z) in premise.independences.iter().filter(|s| s.2.count_ones() > 3) {
            let for_pair = premise.independences.iter().filter(|s| (s.0, s.1) == (i, j)).count();
            assert_eq!(for_pair, 1, "set {z:#b} of size > 3 listed beside others");
        }
    }
}
