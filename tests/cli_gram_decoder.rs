//! `ntkgap gram` on decoders as the real binary: `builtin:tiny-decoder` and the tiny Hugging
//! Face decoders of `tests/data/decoders/`, premise/hypothesis records through the default
//! prompt template and `{"text"}` records verbatim; shapes of every output mode, method
//! invariance, `--exclude`/`--only`, `--breakdown` summing to K, `--rows` slabs merged back
//! byte for byte, meta.json recording the kernel, readout, label words and template,
//! `--label-words`, `--kernel last-layer` (and what it refuses), `bench gram` on a decoder (with
//! its GEMMs-alone table), `--stats-json`'s product tally against the FLOP count, and bad flags
//! (exit 2, one line, nothing written).

use std::path::{Path, PathBuf};

use ntkgap::files::npy;

use crate::cli_gram::{close, gram};
use crate::common::{ntkgap, s, stderr};

fn decoder_dir(name: &str) -> String {
    format!("{}/tests/data/decoders/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn write_records(dir: &Path) -> PathBuf {
    let path = dir.join("x.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"id": "r0", "premise": "Suppose there is a closed system of 2 variables, Z and Y. Z correlates with Y.", "hypothesis": "Z directly causes Y."}"#,
            "\n",
            r#"{"id": "r1", "premise": "Z correlates with Y.", "hypothesis": "Y causes Z."}"#,
            "\n",
            r#"{"id": "r2", "text": "Does Z cause Y? Answer:"}"#,
            "\n"
        ),
    )
    .unwrap();
    path
}

fn meta(npy_path: &Path) -> serde_json::Value {
    let path = npy_path.with_extension("meta.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn gram_on_decoders_writes_k_with_the_readout_in_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let x = write_records(tmp.path());
    let p = |name: &str| tmp.path().join(name);
    for model in ["builtin:tiny-decoder".to_string(), decoder_dir("llama_tiny"), decoder_dir("gpt2_tiny")] {
        let base = ["gram", "--model", &model, "--input", s(&x)];
        let k = gram(&[&base[..], &["--out", s(&p("K.npy"))]].concat());
        assert_eq!(k.shape(), vec![3, 3]);
        let v = k.as_slice();
        for i in 0..3 {
            assert!(v[i * 3 + i] > 0.0, "{model}: K[{i},{i}] > 0");
            for j in 0..3 {
                assert_eq!(v[i * 3 + j].to_bits(), v[j * 3 + i].to_bits(), "{model}: symmetric");
            }
        }
        let m = meta(&p("K.npy"));
        let extra = &m["extra"];
        assert_eq!(extra["kernel"], "entk", "{model}");
        assert_eq!(extra["readout"]["label_words"]["words"], serde_json::json!([" No", " Yes"]), "{m}");
        assert!(extra["prompting"]["template"].as_str().unwrap().contains("{premise}"), "{m}");
        // The Llama family takes the hand-written fast signal path; GPT-2 runs burn's.
        let path = if model.contains("gpt2") { "Burn" } else { "Fast" };
        assert_eq!(extra["signals"], path, "{m}");
        let naive = gram(&[&base[..], &["--method", "naive", "--block", "2", "--out", s(&p("N.npy"))]].concat());
        close(&naive, &k, &format!("{model}: naive vs per-layer"));
        let full = gram(&[&base[..], &["--output", "full", "--out", s(&p("F.npy"))]].concat());
        assert_eq!(full.shape(), vec![3, 3, 2, 2]);
        for mode in ["logit:0", "logit:1", "trace", "pntk"] {
            assert_eq!(gram(&[&base[..], &["--output", mode, "--out", s(&p("M.npy"))]].concat()).shape(), vec![3, 3]);
        }
    }
}

#[test]
fn label_words_subsets_and_breakdown_on_decoders() {
    let tmp = tempfile::tempdir().unwrap();
    let x = write_records(tmp.path());
    let p = |name: &str| tmp.path().join(name);
    let gpt2 = decoder_dir("gpt2_tiny");
    let base = ["gram", "--model", gpt2.as_str(), "--input", s(&x)];
    let k = gram(&[&base[..], &["--breakdown", s(&p("bd")), "--out", s(&p("K.npy"))]].concat());
    let names: Vec<String> = std::fs::read_dir(p("bd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".npy"))
        .collect();
    assert!(names.contains(&"transformer.wte.weight.npy".to_string()), "{names:?}");
    let mut sum = [0.0; 9];
    for name in &names {
        for (t, v) in sum.iter_mut().zip(npy::read(&p("bd").join(name)).unwrap().as_slice()) {
            *t += v;
        }
    }
    let worst = sum.iter().zip(k.as_slice()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-12 * k.as_slice()[0], "breakdown sums to K within {worst:e}");
    for (flag, value) in [("--exclude", "head"), ("--exclude", "embeddings"), ("--only", "biases")] {
        let part = gram(&[&base[..], &[flag, value, "--out", s(&p("S.npy"))]].concat());
        assert!(part.as_slice()[0] > 0.0 && part.as_slice()[0] < k.as_slice()[0], "{flag} {value}");
        assert!(meta(&p("S.npy"))["extra"]["subset"].is_string());
    }
    let other = gram(&[&base[..], &["--label-words", " A", " Yes", "--out", s(&p("L.npy"))]].concat());
    assert!(other.as_slice() != k.as_slice(), "other label words, other f");
    assert_eq!(meta(&p("L.npy"))["extra"]["readout"]["label_words"]["words"], serde_json::json!([" A", " Yes"]));
}

#[test]
fn decoder_slabs_merge_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let x = write_records(tmp.path());
    let p = |name: &str| tmp.path().join(name);
    for kernel in ["entk", "last-layer"] {
        let base = ["gram", "--model", "builtin:tiny-decoder", "--input", s(&x), "--block", "1", "--kernel", kernel];
        let whole = gram(&[&base[..], &["--out", s(&p("K.npy"))]].concat());
        gram(&[&base[..], &["--rows", "0..1", "--out", s(&p("K_0.npy"))]].concat());
        gram(&[&base[..], &["--rows", "1..3", "--out", s(&p("K_1.npy"))]].concat());
        let out = ntkgap(&["gram-merge", "--out", s(&p("M.npy")), s(&p("K_1.npy")), s(&p("K_0.npy"))]);
        assert!(out.status.success(), "{}", stderr(&out));
        let merged = npy::read(&p("M.npy")).unwrap();
        assert!(
            merged.as_slice().iter().zip(whole.as_slice()).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{kernel}: merged slabs differ from the unsharded K"
        );
    }
}

#[test]
fn last_layer_kernel_is_the_feature_gram() {
    let tmp = tempfile::tempdir().unwrap();
    let x = write_records(tmp.path());
    let p = |name: &str| tmp.path().join(name);
    let llama = decoder_dir("llama_untied_tiny");
    for model in [llama.as_str(), "builtin:tiny"] {
        let k = gram(&["gram", "--model", model, "--input", s(&x), "--kernel", "last-layer", "--out", s(&p("K.npy"))]);
        assert_eq!(k.shape(), vec![3, 3]);
        let v = k.as_slice();
        // A Gram of vectors: symmetric, Cauchy–Schwarz.
        for i in 0..3 {
            for j in 0..3 {
                assert_eq!(v[i * 3 + j].to_bits(), v[j * 3 + i].to_bits());
                assert!(v[i * 3 + j].powi(2) <= v[i * 3 + i] * v[j * 3 + j] * (1.0 + 1e-12));
            }
        }
        let m = meta(&p("K.npy"));
        assert_eq!(m["extra"]["kernel"], "last-layer", "{m}");
        assert!(m["extra"]["method"].is_null(), "{m}");
    }
    for (flag, value) in [("--output", "trace"), ("--method", "naive"), ("--exclude", "head")] {
        let out = ntkgap(&[
            "gram",
            "--model",
            "builtin:tiny-decoder",
            "--input",
            s(&x),
            "--kernel",
            "last-layer",
            flag,
            value,
            "--out",
            s(&p("X.npy")),
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains("does not apply to --kernel last-layer"), "{}", stderr(&out));
        assert!(!p("X.npy").exists());
    }
}

#[test]
fn decoder_gram_refuses_bad_flags_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let x = write_records(tmp.path());
    let out_path = tmp.path().join("K.npy");
    let run = |args: &[&str]| ntkgap(&[&["gram", "--input", s(&x), "--out", s(&out_path)][..], args].concat());
    let cases: [(&[&str], &str); 3] = [
        (&["--model", "builtin:tiny", "--label-words", " No", " Yes"], "--label-words"),
        (&["--model", "builtin:tiny-decoder", "--label-words", " No", "not one token at all"], "exactly one token"),
        (&["--model", "builtin:tiny-decoder", "--output", "logit:2"], "logit:2"),
    ];
    for (args, needle) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.lines().filter(|l| l.contains("error")).count(), 1, "{err}");
        assert!(!out_path.exists());
    }
}

#[test]
fn bench_gram_runs_on_a_decoder() {
    let tmp = tempfile::tempdir().unwrap();
    let x = write_records(tmp.path());
    let missing = tmp.path().join("no_such_script.py");
    let llama = decoder_dir("llama_tiny");
    let run = ntkgap(&[
        "bench",
        "gram",
        "--model",
        &llama,
        "--input",
        s(&x),
        "--n",
        "3",
        "--max-len",
        "128",
        "--methods",
        "per-layer,naive,torch",
        "--torch-script",
        s(&missing),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(table.lines().any(|l| l.starts_with("| PerLayer | 3 | 128 |") && l.contains("(reference)")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("| Naive | 3 | 128 |") && l.contains("e-")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("| Torch | 3 | 128 | not available")), "{table}");
    // The forward + backward's GEMMs timed alone: a row for PerLayer (the hand-written path), none
    // for Naive (burn's pass issues no counted product).
    assert!(table.lines().any(|l| l.starts_with("| PerLayer, N = 3 |")), "{table}");
    assert!(!table.lines().any(|l| l.starts_with("| Naive, N = 3 |")), "{table}");
}

#[test]
fn stats_json_tallies_the_products_the_count_describes() {
    // `gram --stats-json` records the GEMMs the hand-written path issued; their FLOPs must match
    // the forward + backward count (real tokens, causal tiles, attention's backward twice its
    // forward) up to the readout, which the count takes at full width. Counting the padded
    // shape, as before 2026-12-07, put these records of unequal length at ≈ 0.6; counting the
    // encoder's last layer above its attention on every row, as before 2026-12-08, MiniLM at
    // 0.949 and `builtin:tiny` at 0.855.
    let tmp = tempfile::tempdir().unwrap();
    let x = write_records(tmp.path());
    let models = ["builtin:tiny", "builtin:tiny-decoder"].map(String::from);
    for model in models.into_iter().chain([decoder_dir("llama_tiny"), decoder_dir("qwen2_tiny")]) {
        let stats = tmp.path().join("stats.json");
        let out = tmp.path().join("K.npy");
        let run = ntkgap(&["gram", "--model", &model, "--input", s(&x), "--out", s(&out), "--stats-json", s(&stats)]);
        assert!(run.status.success(), "{}", stderr(&run));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
        let products = v["products"].as_array().expect("a products tally");
        assert!(products.iter().any(|c| c["product"]["parallel"] == false), "{model}: no attention products");
        let issued: f64 = products
            .iter()
            .map(|c| {
                let p = &c["product"];
                let dim = |k: &str| p[k].as_f64().unwrap();
                2.0 * dim("m") * dim("k") * dim("n") * c["count"].as_f64().unwrap()
            })
            .sum();
        let counted = v["stats"]["forward_backward_flops"].as_f64().unwrap();
        let ratio = issued / counted;
        // The encoder's head has no full-width readout: its count is the products, exactly.
        let expected = if model == "builtin:tiny" { 1.0..=1.0 } else { 0.95..=1.0 };
        assert!(expected.contains(&ratio), "{model}: products {issued} against the count {counted} ({ratio})");
    }
}
