//! `ntkgap pairs` and `ntkgap overlap` on the hand-written corpus tests/data/pairs_small.jsonl
//! (n = 3 and 4; chain versus collider premises with labels read off their MECs).

use std::path::{Path, PathBuf};

use crate::common;
use common::{ntkgap, s, stderr};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pairs_small.jsonl")
}

fn minilm() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm").display().to_string()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn mines_both_kinds_with_opposite_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.jsonl");
    let o = ntkgap(&["pairs", "--input", s(&corpus()), "--kind", "both", "--min-overlap", "0", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pairs = lines(&out);
    let same_premise: Vec<_> = pairs.iter().filter(|p| p["kind"] == "same_premise").collect();
    let same_hyp: Vec<_> = pairs.iter().filter(|p| p["kind"] == "same_hypothesis").collect();
    // Only the collider premises entail something: 2 × 2 opposite pairs each for n = 3 and 4.
    assert_eq!(same_premise.len(), 8);
    // "Z directly causes Y." and the collider hypothesis flip between chain and collider, n = 3, 4.
    assert_eq!(same_hyp.len(), 4);
    for p in &pairs {
        assert_eq!(p["a"]["label"], "entailment", "a is the entailed record");
        assert_ne!(p["b"]["label"], "entailment");
        assert_eq!(p["a"]["n_vars"], p["b"]["n_vars"]);
        for key in [
            "shared_fraction",
            "jaccard",
            "levenshtein",
            "normalized_levenshtein",
            "differing_tokens",
            "relative_difference",
        ] {
            assert!(p["overlap"][key].is_number(), "{key} missing");
        }
        assert!(p["a"]["id"].is_string() && p["b"]["relation"].is_string());
    }
    for p in &same_hyp {
        assert_eq!(p["a"]["hypothesis"], p["b"]["hypothesis"]);
        assert_ne!(p["a"]["mec_id"], p["b"]["mec_id"]);
        assert!(p["premise_overlap"]["shared_fraction"].is_number());
    }
    for p in &same_premise {
        assert_eq!(p["a"]["premise"], p["b"]["premise"]);
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("pairs.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["extra"]["stats"]["pairs"], 12);
}

#[test]
fn threshold_and_limit_filter_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.jsonl");
    let o = ntkgap(&["pairs", "--input", s(&corpus()), "--min-overlap", "0.95", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pairs = lines(&out);
    assert!(!pairs.is_empty() && pairs.len() < 8);
    assert!(pairs.iter().all(|p| p["overlap"]["shared_fraction"].as_f64().unwrap() >= 0.95));
    let o =
        ntkgap(&["pairs", "--input", s(&corpus()), "--min-overlap", "0", "--max-per-premise", "1", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(lines(&out).len(), 2, "one pair per collider premise");
    let o = ntkgap(&["pairs", "--input", s(&corpus()), "--min-overlap", "0", "--opposite-labels", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(lines(&out).len(), 8, "bare --opposite-labels means true");
    let o = ntkgap(&[
        "pairs",
        "--input",
        s(&corpus()),
        "--min-overlap",
        "0",
        "--opposite-labels",
        "false",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success());
    assert_eq!(lines(&out).len(), 24, "4 premises × C(4, 2) pairs, any labels");
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = ntkgap(&[
            "pairs",
            "--input",
            s(&corpus()),
            "--kind",
            "both",
            "--min-overlap",
            "0",
            "--opposite-labels",
            "false",
            "--max-per-premise",
            "2",
            "--max-group",
            "3",
            "--seed",
            seed,
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("subsampled"), "{}", stderr(&o));
        std::fs::read(out).unwrap()
    };
    let a = run("a.jsonl", "7");
    assert_eq!(a, run("b.jsonl", "7"));
    let others: Vec<Vec<u8>> = (8..12).map(|k| run(&format!("c{k}.jsonl"), &k.to_string())).collect();
    assert!(others.iter().any(|o| *o != a), "the seed should matter when groups are subsampled");
}

#[test]
fn hf_tokenizer_and_overlap_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.jsonl");
    let o = ntkgap(&[
        "pairs",
        "--input",
        s(&corpus()),
        "--tokenizer",
        &minilm(),
        "--kind",
        "both",
        "--min-overlap",
        "0",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = dir.path().join("overlap.csv");
    let o = ntkgap(&["overlap", "--input", s(&out), "--csv", s(&csv)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.lines().next().unwrap().starts_with("kind"), "{table}");
    assert_eq!(table.lines().count(), 5, "{table}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 5);
    assert!(rows[1].starts_with("same_premise,3,4,"), "{text}");
    assert!(dir.path().join("overlap.meta.json").exists());
}

#[test]
fn truncation_is_reported_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.jsonl");
    let o = ntkgap(&["pairs", "--input", s(&corpus()), "--max-length", "40", "--min-overlap", "0", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let notes: Vec<String> = stderr(&o).lines().filter(|l| l.contains("truncated")).map(String::from).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("16 of 16 records were truncated to 40 tokens"), "{notes:?}");
    assert!(lines(&out).iter().all(|p| p["truncated_a"] == true));
}

fn assert_fails(args: &[&str], needle: &str, out: &Path) {
    let o = ntkgap(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error expected: {err}");
    assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    assert!(!out.exists(), "no partial output");
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("out"))
        .collect();
    assert!(leftovers.is_empty(), "leftover files {leftovers:?}");
}

#[test]
fn bad_inputs_exit_2_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let good = std::fs::read_to_string(corpus()).unwrap();
    let not_json = write(
        "bad1.jsonl",
        &format!("{}not json\n", good.lines().take(2).map(|l| format!("{l}\n")).collect::<String>()),
    );
    let no_hyp = write(
        "bad2.jsonl",
        &format!(
            "{}{{\"premise\": \"Z correlates with Y.\", \"label\": 1}}\n",
            good.lines().next().unwrap().to_owned() + "\n"
        ),
    );
    let empty = write("empty.jsonl", "");
    let corrupt_dir = dir.path().join("tok");
    std::fs::create_dir(&corrupt_dir).unwrap();
    std::fs::write(corrupt_dir.join("tokenizer.json"), "{ not a tokenizer").unwrap();
    assert_fails(&["pairs", "--input", s(&not_json), "--out", s(&out)], "bad1.jsonl:3:", &out);
    assert_fails(&["pairs", "--input", s(&no_hyp), "--out", s(&out)], "bad2.jsonl:2:", &out);
    assert_fails(&["pairs", "--input", s(&empty), "--out", s(&out)], "contains no records", &out);
    assert_fails(
        &["pairs", "--input", s(&corpus()), "--tokenizer", s(&dir.path().join("missing")), "--out", s(&out)],
        "no such file",
        &out,
    );
    assert_fails(
        &["pairs", "--input", s(&corpus()), "--tokenizer", s(&corrupt_dir), "--out", s(&out)],
        "not a valid tokenizer.json",
        &out,
    );
    assert_fails(&["pairs", "--input", s(&corpus()), "--min-overlap", "1.5", "--out", s(&out)], "--min-overlap", &out);
    assert_fails(
        &["pairs", "--input", s(&corpus()), "--max-length", "10", "--out", s(&out)],
        "leaves no room for the premise",
        &out,
    );
    assert_fails(&["pairs", "--input", s(&dir.path().join("absent.jsonl")), "--out", s(&out)], "absent.jsonl", &out);
    let unlabelled = write("unl.jsonl", "{\"premise\": \"Z correlates with Y.\", \"hypothesis\": \"Z directly causes Y.\"}\n{\"premise\": \"Z correlates with Y.\", \"hypothesis\": \"Y directly causes Z.\"}\n");
    assert_fails(&["pairs", "--input", s(&unlabelled), "--out", s(&out)], "no pairs found", &out);
    let csv = dir.path().join("out.csv");
    assert_fails(&["overlap", "--input", s(&not_json), "--csv", s(&csv)], "bad1.jsonl:1: not a mined pair", &csv);
    assert_fails(&["overlap", "--input", s(&empty), "--csv", s(&csv)], "contains no pairs", &csv);
}
