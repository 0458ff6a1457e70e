//! The `model:DIR` oracle end to end: local query records, a tiny model trained on a mix of the
//! global task and local queries, the A-CBO benchmark with that model (calibration, measured
//! error, direct accuracy, seeded reproducibility) and its refusals.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{ntkgap, s, stderr};

/// Data and a trained `builtin:tiny`, made once per test binary (training takes ~10–30 s).
struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn model(&self) -> PathBuf {
        self.root.join("model/last")
    }

    fn corpus(&self) -> PathBuf {
        self.root.join("ext.jsonl")
    }

    fn local(&self) -> PathBuf {
        self.root.join("local")
    }
}

fn ok(args: &[&str]) -> String {
    let o = ntkgap(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = tempfile::tempdir().unwrap().keep();
        let local = root.join("local");
        ok(&[
            "local-queries",
            "--nodes",
            "3..4",
            "--systems",
            "40",
            "--samples",
            "200",
            "--seed",
            "2",
            "--out",
            s(&local),
        ]);
        let global = root.join("c2c.jsonl");
        ok(&["generate", "--kind", "corr2cause", "--nodes", "3", "--out", s(&global)]);
        let mixed = root.join("mixed.jsonl");
        let mut text = std::fs::read_to_string(&global).unwrap();
        text.push_str(&std::fs::read_to_string(local.join("train.jsonl")).unwrap());
        std::fs::write(&mixed, text).unwrap();
        let model = root.join("model");
        ok(&[
            "train",
            "--data",
            s(&mixed),
            "--dev",
            s(&local.join("dev.jsonl")),
            "--model",
            "builtin:tiny",
            "--epochs",
            "3",
            "--patience",
            "3",
            "--seed",
            "1",
            "--out",
            s(&model),
        ]);
        let corpus = root.join("ext.jsonl");
        ok(&[
            "generate",
            "--kind",
            "extended",
            "--nodes",
            "3..4",
            "--per-size",
            "2",
            "--seed",
            "1",
            "--out",
            s(&corpus),
        ]);
        Fixture { root }
    })
}

fn acbo(f: &Fixture, out: &Path, extra: &[&str]) -> std::process::Output {
    let oracle = format!("model:{}", s(&f.model()));
    let corpus = f.corpus();
    let mut args =
        vec!["acbo", "--data", s(&corpus), "--oracle", &oracle, "--calibration-systems", "10", "--seed", "4"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", s(out)]);
    ntkgap(&args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn local_query_records_are_split_by_system_labelled_and_seeded() {
    let f = fixture();
    let train = std::fs::read_to_string(f.local().join("train.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(train.lines().next().unwrap()).unwrap();
    let text = first["text"].as_str().unwrap();
    assert!(text.starts_with("When we intervene on ") && text.ends_with("change?"), "{text}");
    assert!(["entailment", "contradiction"].contains(&first["label"].as_str().unwrap()), "{first}");
    // 40 systems per size: systems 0, 10, 20, 30 → test; 1, 11, 21, 31 → dev; 32 → train.
    let count =
        |split: &str| std::fs::read_to_string(f.local().join(format!("{split}.jsonl"))).unwrap().lines().count();
    assert_eq!((count("test"), count("dev"), count("train")), (4 * 18, 4 * 18, 32 * 18));
    let again = f.root.join("local-again.jsonl");
    ok(&["local-queries", "--nodes", "3..4", "--systems", "40", "--samples", "200", "--seed", "2", "--out", s(&again)]);
    let all = std::fs::read_to_string(&again).unwrap();
    assert!(all.contains(train.lines().next().unwrap()));
    assert_eq!(all.lines().count(), 40 * 18);
}

#[test]
fn the_trained_model_reads_local_queries_better_than_chance() {
    let f = fixture();
    let out = ok(&["eval", "--model", s(&f.model()), "--data", s(&f.local().join("test.jsonl"))]);
    let all = out.lines().find(|l| l.starts_with("all")).unwrap();
    let accuracy: f64 = all.split_whitespace().nth(2).unwrap().parse().unwrap();
    // The majority class ("no change") is ~62 % of these records; reading the number beats it.
    assert!(accuracy > 0.8, "{out}");
}

#[test]
fn model_oracle_runs_calibrates_reports_direct_accuracy_and_is_reproducible() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = acbo(f, &a, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.lines().nth(1).unwrap().ends_with("direct dir_F1"), "{stdout}");
    let summary = json(&a.join("summary.json"));
    for n in ["3", "4"] {
        let g = &summary["by_n_vars"][n];
        let err = g["oracle_error_measured"].as_f64().unwrap();
        assert!((0.0..0.5).contains(&err), "n={n}: {g}");
        for rate in ["false_positive_rate", "false_negative_rate"] {
            let r = g["likelihood_model"][rate].as_f64().unwrap();
            assert!((0.001..=0.49).contains(&r), "n={n}: {g}");
        }
        let direct = g["direct_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&direct), "n={n}: {g}");
    }
    let items = std::fs::read_to_string(a.join("items.jsonl")).unwrap();
    let records = std::fs::read_to_string(f.corpus()).unwrap().lines().count();
    assert_eq!(items.lines().count(), records);
    // The summary's direct accuracy is the items' direct answers against their labels.
    let (mut right, mut total) = (0, 0);
    for line in items.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let direct = v["direct_predicted_entailment"].as_bool().unwrap();
        right += usize::from(direct == (v["label"] == "entailment"));
        total += 1;
    }
    let want = right as f64 / total as f64;
    assert!((summary["overall"]["direct_accuracy"].as_f64().unwrap() - want).abs() < 1e-12);
    let meta = json(&a.join("meta.json"));
    assert!(meta["extra"]["calibration"]["3"]["true_yes"].as_u64().is_some(), "{meta}");
    assert!(acbo(f, &b, &[]).status.success());
    for file in ["items.jsonl", "summary.json"] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file} differs between seeded runs"
        );
    }
}

#[test]
fn bad_model_oracle_inputs_are_one_line_exit_2_and_leave_nothing() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let not_a_model = dir.path().join("empty");
    std::fs::create_dir(&not_a_model).unwrap();
    let out = dir.path().join("out");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--oracle".into(), format!("model:{}", s(&dir.path().join("missing")))], "model directory not found"),
        (vec!["--oracle".into(), format!("model:{}", s(&not_a_model))], "no config.json"),
        (vec!["--oracle".into(), "model:".into()], "names no model directory"),
        (
            vec!["--oracle".into(), format!("model:{}", s(&f.model())), "--calibration-systems".into(), "0".into()],
            "--calibration-systems",
        ),
        (
            vec![
                "--oracle".into(),
                format!("model:{}", s(&f.model())),
                "--calibration-systems".into(),
                "100001".into(),
            ],
            "exceeds",
        ),
        (
            vec!["--oracle".into(), format!("model:{}", s(&f.model())), "--local-samples".into(), "1".into()],
            "--local-samples",
        ),
    ];
    let corpus = f.corpus();
    for (flags, problem) in cases {
        let mut args = vec!["acbo", "--data", s(&corpus)];
        args.extend(flags.iter().map(String::as_str));
        args.extend_from_slice(&["--out", s(&out)]);
        let o = ntkgap(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ntkgap: error: ") && err.contains(problem), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} left output behind");
    }
    for (flags, problem) in
        [(["--systems", "0"], "--systems"), (["--samples", "1"], "--samples"), (["--nodes", "1..3"], "--nodes")]
    {
        let target = dir.path().join("lq");
        let mut args = vec!["local-queries"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["--out", s(&target)]);
        let o = ntkgap(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(problem), "{}", stderr(&o));
        assert!(!target.exists());
    }
}
