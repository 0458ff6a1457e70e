//! `ntkgap gram` and `ntkgap gram-merge` as the real binary on builtin:tiny: the .npy and its
//! meta, block-size and method invariance, the rectangular K(X₁, X₂), identical meta bytes on a
//! rerun, output modes, the per-parameter breakdown, row slabs merged back exactly, `--resume`, N = 1, bad
//! inputs (exit 2, one line, no output file) for gram and gram-merge.

use std::path::{Path, PathBuf};
use std::process::Output;

use ntkgap::files::npy;

use crate::common;
use common::{ntkgap, s, stderr, three_records};

fn write_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let a = three_records(dir);
    let b = dir.join("b.jsonl");
    std::fs::write(
        &b,
        concat!(
            r#"{"premise": "A correlates with C.", "hypothesis": "C causes A."}"#,
            "\n",
            r#"{"text": "A causes C."}"#,
            "\n"
        ),
    )
    .unwrap();
    (a, b)
}

/// Run `ntkgap gram ARGS` (must succeed) and read the K it wrote to `--out`.
pub(crate) fn gram(args: &[&str]) -> npy::NpyArray {
    let out = ntkgap(args);
    assert!(out.status.success(), "{}", stderr(&out));
    let at = args.iter().position(|a| *a == "--out").unwrap() + 1;
    npy::read(Path::new(args[at])).unwrap()
}

/// Same shape and max |Δ| ≤ 1e-5 · mean |b|.
pub(crate) fn close(a: &npy::NpyArray, b: &npy::NpyArray, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    let scale = b.as_slice().iter().map(|v| v.abs()).sum::<f64>() / b.as_slice().len() as f64;
    let worst = a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-5 * scale, "{what}: max |Δ| {worst:e}, mean |K| {scale:e}");
}

#[test]
fn gram_writes_a_symmetric_f64_matrix_with_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = write_inputs(tmp.path());
    let k_path = tmp.path().join("K.npy");
    let k = gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&k_path), "--block", "2"]);
    assert_eq!(k.shape(), vec![3, 3]);
    assert_eq!(k.dtype, npy::NpyDtype::F64);
    for i in 0..3 {
        assert!(k.as_slice()[i * 3 + i] > 0.0, "diagonal {i} positive");
        for j in 0..3 {
            assert!(
                (k.as_slice()[i * 3 + j] - k.as_slice()[j * 3 + i]).abs() <= 1e-12 * k.as_slice()[i * 3 + i],
                "symmetric"
            );
        }
    }
    let meta_path = tmp.path().join("K.meta.json");
    let meta_bytes = std::fs::read(&meta_path).unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta_bytes).unwrap();
    assert_eq!(meta["extra"]["method"], "PerLayer");
    assert_eq!(meta["extra"]["subset"], "All");
    assert_eq!(meta["extra"]["shape"], serde_json::json!([3, 3]));
    // Same inputs, same command → identical meta bytes (timings go to stderr only).
    let again = ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&k_path), "--block", "2"]);
    assert!(stderr(&again).contains("gram: 3 x 3 in"), "{}", stderr(&again));
    assert_eq!(std::fs::read(&meta_path).unwrap(), meta_bytes, "meta.json differs between identical runs");

    let k1 = gram(&[
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--out",
        s(&tmp.path().join("K1.npy")),
        "--block",
        "1",
    ]);
    close(&k1, &k, "block 1 vs block 2");
    let naive = gram(&[
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--out",
        s(&tmp.path().join("Kn.npy")),
        "--method",
        "naive",
    ]);
    close(&k, &naive, "per-layer vs naive");
    assert_eq!(meta["extra"]["signals"], "Fast");
    assert_eq!(meta["extra"]["signals_requested"], "Fast");
    let naive_meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("Kn.meta.json")).unwrap()).unwrap();
    assert_eq!(naive_meta["extra"]["signals"], "none", "Naive forms no per-layer signals");
    let burn = gram(&[
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--out",
        s(&tmp.path().join("Kb.npy")),
        "--block",
        "2",
        "--signals",
        "burn",
    ]);
    close(&k, &burn, "fast vs burn signals");
    let burn_meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("Kb.meta.json")).unwrap()).unwrap();
    assert_eq!(burn_meta["extra"]["signals"], "Burn");
    let heads = gram(&[
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--out",
        s(&tmp.path().join("Kh.npy")),
        "--exclude",
        "head",
    ]);
    assert!(heads.as_slice()[0] < k.as_slice()[0], "excluding the head lowers K[0,0]");

    let rect = gram(&[
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--input2",
        s(&b),
        "--out",
        s(&tmp.path().join("Kab.npy")),
    ]);
    assert_eq!(rect.shape(), vec![3, 2]);
}

fn assert_bad_input(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "expected exit 2, stderr: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(needle), "`{needle}` not in: {err}");
}

#[test]
fn bad_inputs_exit_2_without_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = write_inputs(tmp.path());
    let out = tmp.path().join("K.npy");
    let missing = tmp.path().join("missing.jsonl");
    let run = ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&missing), "--out", s(&out)]);
    assert_bad_input(&run, "missing.jsonl");
    assert_eq!(stderr(&run).trim_end().lines().count(), 1, "one line: {}", stderr(&run));
    assert_bad_input(
        &ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&out), "--block", "0"]),
        "--block",
    );
    assert_bad_input(
        &ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&tmp.path().join("K.txt"))]),
        ".npy",
    );
    assert_bad_input(&ntkgap(&["gram", "--model", "builtin:nope", "--input", s(&a), "--out", s(&out)]), "nope");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"premise\": \"A.\", \"hypothesis\": \"B.\"}\nnot json\n").unwrap();
    assert_bad_input(&ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&bad), "--out", s(&out)]), "bad.jsonl");
    assert_eq!(
        ntkgap(&[
            "gram",
            "--model",
            "builtin:tiny",
            "--input",
            s(&a),
            "--out",
            s(&out),
            "--exclude",
            "head",
            "--only",
            "biases"
        ])
        .status
        .code(),
        Some(2)
    );
    let flags = |extra: &[&str]| {
        ntkgap(&[&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&out)][..], extra].concat())
    };
    assert_bad_input(&flags(&["--rows", "2..9"]), "--rows");
    assert_bad_input(&flags(&["--rows", "2..2"]), "--rows");
    assert_bad_input(&flags(&["--rows", "x"]), "--rows");
    assert_bad_input(&flags(&["--output", "logit:7"]), "logit:7");
    assert_bad_input(&flags(&["--output", "softmax"]), "--output");
    assert_bad_input(&flags(&["--memory-budget", "12Q"]), "--memory-budget");
    assert_bad_input(&flags(&["--memory-budget", "1000"]), "--memory-budget");
    assert_bad_input(&flags(&["--signal-passes", "0"]), "--signal-passes");
    let merge = ntkgap(&["gram-merge", "--out", s(&out), s(&tmp.path().join("nope.npy"))]);
    assert_bad_input(&merge, "nope.npy");
    assert!(!out.exists() && !tmp.path().join("K.meta.json").exists(), "no partial output");
}

#[test]
fn output_modes_have_their_shapes_and_relations() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = write_inputs(tmp.path());
    let path = |name: &str| tmp.path().join(name);
    let k = |output: &str, name: &str| {
        gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&path(name)), "--output", output])
    };
    let full = k("full", "Kf.npy");
    assert_eq!(full.shape(), vec![3, 3, 2, 2]);
    let trace = k("trace", "Kt.npy");
    let l1 = k("logit:1", "Kl1.npy");
    assert_eq!(trace.shape(), vec![3, 3]);
    for i in 0..3 {
        for j in 0..3 {
            let at = |v: usize, w: usize| full.as_slice()[((i * 3 + j) * 2 + v) * 2 + w];
            assert!(
                (trace.as_slice()[i * 3 + j] - at(0, 0) - at(1, 1)).abs() <= 1e-6 * trace.as_slice()[0].abs(),
                "trace vs full"
            );
            assert!((l1.as_slice()[i * 3 + j] - at(1, 1)).abs() <= 1e-6 * trace.as_slice()[0].abs(), "logit:1 vs full");
        }
    }
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(path("Kf.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["extra"]["output"], "Full");
    assert_eq!(meta["extra"]["shape"], serde_json::json!([3, 3, 2, 2]));
    let help = ntkgap(&["gram", "--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("neural-tangents' trace_axes divides by the number of logits")
    );
}

#[test]
fn breakdown_directory_sums_to_k() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = write_inputs(tmp.path());
    let (k_path, dir) = (tmp.path().join("K.npy"), tmp.path().join("parts/deep"));
    let k = gram(&["gram", "--model", "builtin:tiny", "--input", s(&a), "--out", s(&k_path), "--breakdown", s(&dir)]);
    let mut sum = [0.0; 9];
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "npy") {
            let part = npy::read(&p).unwrap();
            assert_eq!(part.shape(), vec![3, 3]);
            sum.iter_mut().zip(part.as_slice()).for_each(|(t, v)| *t += v);
            files += 1;
        }
    }
    assert!(files > 20 && dir.join("bert.embeddings.word_embeddings.weight.npy").is_file(), "{files} files");
    assert!(dir.join("meta.json").is_file());
    let worst = sum.iter().zip(k.as_slice()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-12 * k.as_slice()[0], "breakdown sums to K within {worst:e}");
}

#[test]
fn slabs_merge_back_into_the_unsharded_gram_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = write_inputs(tmp.path());
    let p = |name: &str| tmp.path().join(name);
    let base = ["gram", "--model", "builtin:tiny", "--input", s(&a), "--block", "1"];
    let whole = gram(&[&base[..], &["--out", s(&p("K.npy"))]].concat());
    gram(&[&base[..], &["--rows", "1..3", "--out", s(&p("K_1.npy"))]].concat());
    let first = gram(&[&base[..], &["--rows", "0..1", "--out", s(&p("K_0.npy"))]].concat());
    assert_eq!(first.shape(), vec![1, 3]);
    let out = ntkgap(&["gram-merge", "--out", s(&p("M.npy")), s(&p("K_1.npy")), s(&p("K_0.npy"))]);
    assert!(out.status.success(), "{}", stderr(&out));
    let merged = npy::read(&p("M.npy")).unwrap();
    assert_eq!(merged.shape(), whole.shape());
    assert!(
        merged.as_slice().iter().zip(whole.as_slice()).all(|(x, y)| x.to_bits() == y.to_bits()),
        "merged slabs differ from the unsharded K"
    );
    assert!(p("M.meta.json").is_file());

    // Refusals: a gap, an overlap, a slab of other inputs; one line, exit 2, nothing written.
    let merge = |slabs: &[&str]| ntkgap(&[&["gram-merge", "--out", s(&p("X.npy"))][..], slabs].concat());
    assert_bad_input(&merge(&[s(&p("K_1.npy"))]), "rows 0..1 are in no slab");
    gram(&[&base[..], &["--rows", "0..2", "--out", s(&p("K_02.npy"))]].concat());
    assert_bad_input(&merge(&[s(&p("K_02.npy")), s(&p("K_1.npy"))]), "overlap rows 0..2");
    let other = p("other.jsonl");
    std::fs::write(&other, std::fs::read_to_string(&a).unwrap().replace("A causes B.", "B causes A.")).unwrap();
    gram(&[
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&other),
        "--block",
        "1",
        "--rows",
        "0..1",
        "--out",
        s(&p("O_0.npy")),
    ]);
    let run = merge(&[s(&p("O_0.npy")), s(&p("K_1.npy"))]);
    assert_bad_input(&run, "was computed from other inputs, model or settings");
    assert_eq!(stderr(&run).trim_end().lines().count(), 1, "{}", stderr(&run));
    gram(&[&base[..], &["--rows", "0..1", "--output", "trace", "--out", s(&p("T_0.npy"))]].concat());
    assert_bad_input(&merge(&[s(&p("T_0.npy")), s(&p("K_1.npy"))]), "differs in extra.output");
    assert!(!p("X.npy").exists() && !p("X.meta.json").exists(), "no partial output");
    // Rectangular slabs merge too.
    let rect = gram(&[&base[..], &["--input2", s(&b), "--out", s(&p("R.npy"))]].concat());
    gram(&[&base[..], &["--input2", s(&b), "--rows", "0..2", "--out", s(&p("R_0.npy"))]].concat());
    gram(&[&base[..], &["--input2", s(&b), "--rows", "2..3", "--out", s(&p("R_1.npy"))]].concat());
    assert!(ntkgap(&["gram-merge", "--out", s(&p("RM.npy")), s(&p("R_0.npy")), s(&p("R_1.npy"))]).status.success());
    assert_eq!(npy::read(&p("RM.npy")).unwrap(), rect);
}

#[test]
fn one_example_works_and_zero_examples_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one.jsonl");
    std::fs::write(&one, "{\"text\": \"A correlates with B.\"}\n").unwrap();
    let k = gram(&["gram", "--model", "builtin:tiny", "--input", s(&one), "--out", s(&tmp.path().join("K1.npy"))]);
    assert_eq!(k.shape(), vec![1, 1]);
    assert!(k.as_slice()[0] > 0.0);
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let out = tmp.path().join("K0.npy");
    let run = ntkgap(&["gram", "--model", "builtin:tiny", "--input", s(&empty), "--out", s(&out)]);
    assert_bad_input(&run, "no records");
    assert_eq!(stderr(&run).trim_end().lines().count(), 1, "{}", stderr(&run));
    assert!(!out.exists());
}

/// A head file whose classifier weights (3e38, finite) overflow the logits: every Gram row is
/// non-finite and the run stops naming the record ids, writing nothing.
#[test]
fn non_finite_model_output_stops_with_the_record_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = write_inputs(tmp.path());
    let values: Vec<f32> = (0..128).map(|i| if i < 64 { 3e38 } else { -3e38 }).collect();
    let header = serde_json::json!({"classifier.weight": {"dtype": "F32", "shape": [2, 64], "data_offsets": [0, 512]}});
    let header = serde_json::to_vec(&header).unwrap();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    let head = tmp.path().join("huge_head.safetensors");
    std::fs::write(&head, bytes).unwrap();
    let out = tmp.path().join("K.npy");
    for method in ["per-layer", "naive"] {
        let run = ntkgap(&[
            "gram",
            "--model",
            "builtin:tiny",
            "--head",
            s(&head),
            "--input",
            s(&a),
            "--out",
            s(&out),
            "--method",
            method,
        ]);
        assert_bad_input(&run, "numerical error in Gram matrix: non-finite values in rows r1, r2, r3");
        assert_eq!(stderr(&run).lines().filter(|l| l.contains("error")).count(), 1, "{}", stderr(&run));
    }
    assert!(!out.exists() && !tmp.path().join("K.meta.json").exists(), "no partial output");
}

#[test]
fn bench_gram_prints_a_table_with_every_method() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = write_inputs(tmp.path());
    let missing = tmp.path().join("no_such_script.py");
    let run = ntkgap(&[
        "bench",
        "gram",
        "--model",
        "builtin:tiny",
        "--input",
        s(&a),
        "--n",
        "2,3",
        "--max-len",
        "32",
        "--torch-script",
        s(&missing),
        "--methods",
        "per-layer,per-layer-burn,naive,torch,per-layer",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout).into_owned();
    // PerLayer listed twice: the second row is compared with the first, not with itself.
    for n in ["2", "3"] {
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with(&format!("| PerLayer | {n} | 32 |"))).collect();
        assert_eq!(rows.len(), 2, "{table}");
        assert!(rows[0].ends_with("(reference) |") && !rows[1].contains("(reference)"), "{table}");
    }
    assert!(
        table.contains("| method | N | T | seconds | × torch.func (f32) |")
            && table.contains("f32 GEMM rates measured in this run: faer (1024³)")
            && table.contains(" GFLOP/s before the rows and ")
            && table.contains("The contraction's hand-written kernels (ntkgap-simd): ")
            && table.contains("end to end GFLOP/s (%)")
            && table.contains("peak RSS"),
        "{table}"
    );
    for n in ["2", "3"] {
        assert!(
            table.lines().any(|l| l.starts_with(&format!("| PerLayer | {n} | 32 |"))
                && l.contains("(reference)")
                && l.matches(" %)").count() == 3),
            "{table}"
        );
        assert!(table.lines().any(|l| l.starts_with(&format!("| Naive | {n} | 32 |")) && l.contains("e-")), "{table}");
        assert!(
            table.lines().any(|l| l.starts_with(&format!("| PerLayerBurn | {n} | 32 |")) && l.contains("e-")),
            "{table}"
        );
        assert!(table.lines().any(|l| l.starts_with(&format!("| Torch | {n} | 32 | not available"))), "{table}");
    }
    let too_many = ntkgap(&["bench", "gram", "--model", "builtin:tiny", "--input", s(&a), "--n", "4"]);
    assert_bad_input(&too_many, "--n");
}

/// `--resume`: a rerun whose `--out` and meta.json hold its result is skipped (one line, exit 0,
/// the files untouched); another seed, model, input or row range, a deleted meta.json or a
/// damaged `.npy` is recomputed — to the same bytes a fresh run writes.
#[test]
fn resume_skips_a_finished_slab_and_recomputes_anything_else() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = write_inputs(tmp.path());
    let p = |name: &str| tmp.path().join(name);
    let (k, meta) = (p("K_1.npy"), p("K_1.meta.json"));
    let run = |extra: &[&str]| {
        let base = ["gram", "--input", s(&a), "--block", "1", "--rows", "1..3", "--out", s(&k), "--resume"];
        let model: &[&str] = if extra.contains(&"--model") { &[] } else { &["--model", "builtin:tiny"] };
        let out = ntkgap(&[&base[..], model, extra].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr(&out))
    };
    let computed = |(stdout, err): &(String, String)| {
        assert!(err.contains("gram: 2 x 3 in"), "expected a computation: {stdout}{err}");
        assert!(!stdout.contains("skipped"), "{stdout}");
    };
    let skipped = |(stdout, err): &(String, String)| {
        assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
        assert!(stdout.contains("already holds rows 1..3 of 3") && stdout.contains("skipped (--resume)"), "{stdout}");
        assert!(!err.contains("gram: 2 x 3 in"), "nothing computed: {err}");
    };
    let first = run(&[]);
    computed(&first);
    assert!(first.1.contains("K_1.meta.json does not exist"), "{}", first.1);
    let (bytes, meta_bytes) = (std::fs::read(&k).unwrap(), std::fs::read(&meta).unwrap());
    let modified = |path: &Path| std::fs::metadata(path).unwrap().modified().unwrap();
    let (when, meta_when) = (modified(&k), modified(&meta));
    skipped(&run(&[]));
    assert_eq!((std::fs::read(&k).unwrap(), std::fs::read(&meta).unwrap()), (bytes.clone(), meta_bytes.clone()));
    assert_eq!((modified(&k), modified(&meta)), (when, meta_when), "a skipped run rewrites nothing");

    // Another seed, model or row range: recomputed, the reason named, then skipped in turn.
    for (extra, reason) in
        [(&["--seed", "1"][..], "differs in seed"), (&["--model", "builtin:small"][..], "differs in extra.model")]
    {
        let again = run(extra);
        computed(&again);
        assert!(again.1.contains(reason), "{reason}: {}", again.1);
        skipped(&run(extra));
    }
    let base = ["gram", "--model", "builtin:tiny", "--input", s(&a), "--block", "1", "--resume", "--out", s(&k)];
    let other_rows = ntkgap(&[&base[..], &["--rows", "0..2"]].concat());
    assert!(stderr(&other_rows).contains("it holds rows 1..3 of 3, not 0..2 of 3"), "{}", stderr(&other_rows));
    assert!(stderr(&other_rows).contains("gram: 2 x 3 in"), "{}", stderr(&other_rows));
    // Back to the first run's settings: recomputed to the very same bytes.
    computed(&run(&[]));
    assert_eq!(std::fs::read(&k).unwrap(), bytes, "a recomputed slab has the same bytes");
    skipped(&run(&[]));

    // Another input: recomputed.
    let original = std::fs::read_to_string(&a).unwrap();
    std::fs::write(&a, original.replace("A causes B.", "B causes A.")).unwrap();
    let changed = run(&[]);
    computed(&changed);
    assert!(changed.1.contains("differs in inputs"), "{}", changed.1);
    std::fs::write(&a, &original).unwrap();
    computed(&run(&[]));
    assert_eq!(std::fs::read(&k).unwrap(), bytes);

    // A deleted meta.json, a damaged or reshaped .npy: recomputed.
    std::fs::remove_file(&meta).unwrap();
    computed(&run(&[]));
    assert_eq!(std::fs::read(&meta).unwrap(), meta_bytes);
    std::fs::write(&k, &bytes[..bytes.len() - 8]).unwrap();
    let damaged = run(&[]);
    computed(&damaged);
    assert!(damaged.1.contains("does not match shape"), "{}", damaged.1);
    common::write_npy_f64(&k, &[3, 2], &[1.0; 6]);
    let reshaped = run(&[]);
    computed(&reshaped);
    assert!(reshaped.1.contains("is not the [2,3] its meta.json records"), "{}", reshaped.1);
    assert_eq!(std::fs::read(&k).unwrap(), bytes);
    skipped(&run(&[]));

    // --resume with --breakdown is refused (the breakdown directory is not checked).
    let both = ntkgap(&[&base[..], &["--breakdown", s(&p("parts"))]].concat());
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    assert!(stderr(&both).contains("--breakdown"), "{}", stderr(&both));
}
