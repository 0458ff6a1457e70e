//! Reproducibility (issue 10): the same command line with the same seed and inputs gives
//! byte-identical outputs — data files *and* their `meta.json` — on CPU (generate, pairs,
//! overlap, acbo, tokenizer, gram, gram slabs and gram-merge, bound on the model's eNTK).
//!
//! Each pipeline runs twice, in two fresh working directories, with identical (relative)
//! arguments, so the recorded command lines and input paths are the same; then every file of
//! the two trees is compared byte for byte. A different seed must change the seeded outputs
//! (otherwise the comparison proves nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run `ntkgap args` in `cwd`; panics with stderr on failure.
fn ntkgap_in(cwd: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ntkgap")).current_dir(cwd).args(args).output().expect("binary runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "ntkgap {args:?} failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every regular file under `root`, relative path → bytes.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Run the whole pipeline with `seed` in a fresh directory; return the directory.
fn pipeline(seed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let minilm = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm/tokenizer.json");
    std::fs::copy(minilm, cwd.join("tokenizer.json")).unwrap();
    let run = |args: &[&str]| ntkgap_in(cwd, args);
    run(&[
        "generate",
        "--kind",
        "corr2cause",
        "--nodes",
        "2..4",
        "--max-mecs",
        "6",
        "--seed",
        seed,
        "--out",
        "c2c.jsonl",
    ]);
    run(&["generate", "--kind", "extended", "--nodes", "3..5", "--per-size", "3", "--seed", seed, "--out", "ext"]);
    run(&[
        "pairs",
        "--input",
        "c2c.jsonl",
        "--tokenizer",
        "tokenizer.json",
        "--max-length",
        "64",
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
        "pairs.jsonl",
    ]);
    run(&["overlap", "--input", "pairs.jsonl", "--csv", "overlap.csv"]);
    run(&[
        "acbo",
        "--data",
        "ext/test.jsonl",
        "--oracle",
        "noisy:0.2",
        "--trials",
        "2",
        "--seed",
        seed,
        "--out",
        "acbo",
    ]);
    run(&["acbo", "--data", "ext/test.jsonl", "--oracle", "experiment:50", "--seed", seed, "--out", "acbo-exp"]);
    run(&["tokenizer", "--save", "builtin-tok"]);
    // eNTK Gram (issue 5): the whole K, two row slabs and their merge.
    let six: String =
        std::fs::read_to_string(cwd.join("c2c.jsonl")).unwrap().lines().take(6).map(|l| format!("{l}\n")).collect();
    std::fs::write(cwd.join("six.jsonl"), six).unwrap();
    let gram = ["gram", "--model", "builtin:tiny", "--input", "six.jsonl", "--seed", seed, "--block", "4"];
    run(&[&gram[..], &["--out", "K.npy"]].concat());
    run(&[&gram[..], &["--rows", "0..4", "--out", "K_0.npy"]].concat());
    run(&[&gram[..], &["--rows", "4..6", "--out", "K_1.npy"]].concat());
    run(&["gram-merge", "--out", "K_merged.npy", "K_0.npy", "K_1.npy"]);
    // Theorem 1 check on the model's eNTK (issue 7): kernel ridge on a seeded training sample.
    run(&[
        "bound",
        "--model",
        "builtin:tiny",
        "--pairs",
        "pairs.jsonl",
        "--train",
        "c2c.jsonl",
        "--max-train",
        "12",
        "--device",
        "cpu",
        "--seed",
        seed,
        "--out",
        "bound",
    ]);
    dir
}

#[test]
fn same_seed_and_inputs_give_byte_identical_outputs_and_meta() {
    let (a, b) = (pipeline("11"), pipeline("11"));
    let (ta, tb) = (tree(a.path()), tree(b.path()));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "same files");
    for meta in [
        "c2c.meta.json",
        "ext/meta.json",
        "pairs.meta.json",
        "overlap.meta.json",
        "acbo/meta.json",
        "K.meta.json",
        "K_merged.meta.json",
        "bound/meta.json",
        "bound/pairs.csv",
    ] {
        assert!(ta.contains_key(Path::new(meta)), "no {meta}: {:?}", ta.keys());
    }
    // `tokenizer --save` writes a plain tokenizer.json (no meta.json: it is a fixed artifact of
    // the binary's version, not of inputs or a seed); it is still compared below.
    assert!(ta.contains_key(Path::new("builtin-tok")));
    for (path, bytes) in &ta {
        assert!(!bytes.is_empty() || path.ends_with("train.jsonl"), "{path:?} is empty");
        assert!(*bytes == tb[path], "{path:?} differs between two identical runs");
    }
    let meta: serde_json::Value = serde_json::from_slice(&ta[Path::new("pairs.meta.json")]).unwrap();
    assert_eq!(meta["seed"], 11);
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    assert!(meta["inputs"]["c2c.jsonl"].as_str().is_some_and(|h| h.len() == 64), "{meta}");
    // The merged slabs are the unsharded K, byte for byte.
    assert_eq!(ta[Path::new("K.npy")], ta[Path::new("K_merged.npy")], "merged slabs differ from K.npy");
    let text = String::from_utf8_lossy(&ta[Path::new("acbo/meta.json")]).into_owned();
    assert!(!text.contains(&a.path().display().to_string()), "meta.json holds an absolute temp path: {text}");
}

#[test]
fn another_seed_changes_the_seeded_outputs() {
    let (a, c) = (pipeline("11"), pipeline("12"));
    let (ta, tc) = (tree(a.path()), tree(c.path()));
    for seeded in ["c2c.jsonl", "ext/test.jsonl", "pairs.jsonl", "acbo/items.jsonl", "K.npy", "bound/pairs.csv"] {
        assert_ne!(ta[Path::new(seeded)], tc[Path::new(seeded)], "{seeded} ignores the seed");
    }
}
