//! In-context demonstrations (`--shots K --shots-from FILE --shots-seed S`): one prefix for every
//! prompt of a run, both members of a near-miss pair included; seeded and label-balanced;
//! recorded in meta.json; refused without a training file and for encoders; prompts that grow
//! past the context refused and counted, never cut.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use ntkgap::corpus::{Record, ShotSet};
use ntkgap::model::{load_any, AnyModel, DecoderOptions, LoadOptions, ModelSpec};

use crate::common::{ntkgap, s, stderr};

const PREMISE: &str = "Suppose there is a closed system of 3 variables, Z, Y and X. Z correlates with Y.";

/// `count` labelled records over `premises` distinct premises, every other one entailed.
fn pool(dir: &Path, name: &str, count: usize, premise_repeat: usize) -> PathBuf {
    let mut lines = String::new();
    for i in 0..count {
        let premise = format!("{PREMISE} ").repeat(premise_repeat) + &format!("Y correlates with X{i}.");
        let (hypothesis, label) = if i % 2 == 0 { ("Z directly causes Y.", 1) } else { ("Y directly causes Z.", 0) };
        let record = serde_json::json!({"premise": premise, "hypothesis": hypothesis, "label": label,
                                        "n_vars": 3, "relation": "parent", "id": format!("r{i}")});
        lines.push_str(&format!("{record}\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, lines).unwrap();
    path
}

fn records(path: &Path) -> Vec<Record> {
    ntkgap::corpus::read_records(path).unwrap()
}

#[test]
fn every_prompt_and_both_pair_members_start_with_the_same_balanced_demonstrations() {
    let tmp = tempfile::tempdir().unwrap();
    let train = pool(tmp.path(), "train.jsonl", 12, 1);
    let shots = ShotSet::draw(&records(&train), 4, 7).unwrap();
    assert_eq!(shots.demonstrations().iter().filter(|d| d.entailed).count(), 2, "balanced");
    assert_eq!(shots, ShotSet::draw(&records(&train), 4, 7).unwrap(), "seeded");
    let options = DecoderOptions { shots: shots.clone(), ..Default::default() };
    let spec = ModelSpec::parse("builtin:tiny-decoder").unwrap();
    let AnyModel::Decoder(loaded) = load_any(&spec, &LoadOptions::default(), &options, &Device::flex()).unwrap() else {
        panic!("builtin:tiny-decoder loaded as an encoder")
    };
    let summary = loaded.prompting.shots.clone().expect("shots recorded in the prompting");
    assert_eq!((summary.k, summary.entailed, summary.seed), (4, 2, 7));
    assert!(loaded.prompting.shots_tokens > 0);
    let tok = loaded.tokenizer.as_ref();
    // A near-miss pair (same premise, two hypotheses) and an unrelated record.
    let plus = tok.encode_pair(PREMISE, "Z directly causes Y.").unwrap().ids;
    let minus = tok.encode_pair(PREMISE, "Z causes something else which causes Y.").unwrap().ids;
    let other = tok.encode_pair("X correlates with W.", "X directly causes W.").unwrap().ids;
    let zero = {
        let AnyModel::Decoder(d) =
            load_any(&spec, &LoadOptions::default(), &DecoderOptions::default(), &Device::flex()).unwrap()
        else {
            panic!()
        };
        d.tokenizer.encode_pair(PREMISE, "Z directly causes Y.").unwrap().ids
    };
    let shared = |a: &[u32], b: &[u32]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let k_tokens = plus.len() - zero.len();
    assert!(k_tokens >= loaded.prompting.shots_tokens.saturating_sub(1), "{k_tokens} prefix tokens");
    assert!(shared(&plus, &minus) >= k_tokens + 10, "the pair shares the prefix and the premise");
    assert!(shared(&plus, &other) >= k_tokens.saturating_sub(2), "every record shares the prefix");
    // A different seed draws different demonstrations (different metadata hash).
    let other_set = ShotSet::draw(&records(&train), 4, 8).unwrap();
    assert_ne!(other_set.summary().sha256, summary.sha256);
}

#[test]
fn eval_records_the_shots_in_meta_and_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let train = pool(tmp.path(), "train.jsonl", 10, 1);
    let test = pool(tmp.path(), "test.jsonl", 4, 1);
    let run = |seed: &str, name: &str| {
        let out = tmp.path().join(name);
        let args = ["eval", "--model", "builtin:tiny-decoder", "--data", s(&test), "--shots", "4"];
        let more = ["--shots-from", s(&train), "--shots-seed", seed, "--out", s(&out)];
        let o = ntkgap(&[&args[..], &more[..]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let table = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(table.contains("majority") && table.contains("yes.rate") && table.contains("n_vars=3"), "{table}");
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.with_extension("meta.json")).unwrap()).unwrap();
        let report = std::fs::read_to_string(&out).unwrap();
        (meta["extra"]["prompting"]["shots"].clone(), report)
    };
    let (a, report_a) = run("3", "a.json");
    let (b, report_b) = run("3", "b.json");
    let (c, _) = run("4", "c.json");
    assert_eq!(a["k"], 4);
    assert_eq!(a["entailed"], 2);
    assert_eq!(a["ids"].as_array().unwrap().len(), 4);
    assert_eq!(a, b, "same seed, same demonstrations");
    assert_eq!(report_a, report_b, "same seed, same margins");
    assert_ne!(a["sha256"], c["sha256"], "another seed, other demonstrations");
}

#[test]
fn shots_are_refused_without_a_training_file_for_encoders_and_past_the_context() {
    let tmp = tempfile::tempdir().unwrap();
    let test = pool(tmp.path(), "test.jsonl", 4, 1);
    let refused = |args: &[&str], needle: &str| {
        let o = ntkgap(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle) && err.trim().lines().count() == 1, "{args:?}: {err}");
    };
    let base = ["eval", "--model", "builtin:tiny-decoder", "--data", s(&test)];
    refused(&[&base[..], &["--shots", "2"]].concat(), "--shots-from");
    refused(&[&base[..], &["--shots-from", s(&test)]].concat(), "--shots-from");
    let short = pool(tmp.path(), "short.jsonl", 3, 1);
    refused(&[&base[..], &["--shots", "4", "--shots-from", s(&short)]].concat(), "--shots");
    let encoder = ["eval", "--model", "builtin:tiny", "--data", s(&test), "--shots", "2", "--shots-from", s(&test)];
    refused(&encoder, "--shots");
    // builtin:tiny-decoder has a 512-token context: 8 long demonstrations overflow every prompt.
    let long = pool(tmp.path(), "long.jsonl", 16, 8);
    let o = ntkgap(&[&base[..], &["--shots", "8", "--shots-from", s(&long)]].concat());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("4 of 4 prompts are longer than the maximum input length of 512"), "{err}");
}
