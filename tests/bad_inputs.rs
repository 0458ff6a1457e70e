//! The README's "Bad inputs" table, one test per row (issue 10).
//!
//! Every refusal must: exit with code 2, print exactly one stderr line starting
//! `ntkgap: error:` that names the offending input, print no panic text, and leave no output
//! (no file, no temporary file, no directory) behind — checked by listing the working directory
//! before and after. The one non-error row (texts beyond the maximum length) checks that the
//! truncation is counted instead.

use crate::common;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ntkgap");

/// A scratch directory holding only the inputs of one case.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write an input file (parents created); returns its path as a string.
    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// A small valid corpus (pairs can be mined from it).
    fn corpus(&self) -> String {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pairs_small.jsonl");
        self.file("corpus.jsonl", std::fs::read(src).unwrap())
    }

    fn out(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    fn listing(&self) -> BTreeSet<PathBuf> {
        fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                }
                out.insert(path);
            }
        }
        let mut out = BTreeSet::new();
        walk(self.dir.path(), &mut out);
        out
    }

    /// Run `ntkgap args` and check the refusal contract; `names` must appear in the message
    /// (the input's name), and so must `problem`.
    fn refuses(&self, args: &[&str], names: &str, problem: &str) -> String {
        let before = self.listing();
        let o = Command::new(BIN).args(args).current_dir(self.dir.path()).output().unwrap();
        let err = assert_refusal(&o, args, names, problem);
        assert_eq!(self.listing(), before, "{args:?} left files behind");
        err
    }
}

/// Exit 2 (bad input), one `ntkgap: error:` line naming `names` and `problem`, no panic; returns
/// the line.
fn assert_refusal(o: &Output, args: &[&str], names: &str, problem: &str) -> String {
    assert_one_line_error(o, args, 2, names, problem)
}

/// Exit `code`, one `ntkgap: error:` line naming `names` and `problem`, no panic; returns the line.
fn assert_one_line_error(o: &Output, args: &[&str], code: i32, names: &str, problem: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{args:?}: exit code, stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: expected one stderr line, got: {err}");
    assert!(err.starts_with("ntkgap: error: "), "{args:?}: {err}");
    assert!(err.contains(names), "{args:?}: the message must name {names:?}: {err}");
    assert!(err.contains(problem), "{args:?}: the message must say {problem:?}: {err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{args:?}: panic: {err}");
    err
}

#[test]
fn jsonl_line_that_is_not_json() {
    let c = Case::new();
    let input = c.file("bad.jsonl", "{\"text\":\"a\"}\nnope\n");
    c.refuses(
        &["pairs", "--input", &input, "--tokenizer", "builtin", "--out", &c.out("p.jsonl")],
        "bad.jsonl:2:",
        "not a valid record",
    );
    c.refuses(&["stats", "--input", &input], "bad.jsonl:2:", "not a valid record");
}

#[test]
fn jsonl_record_missing_fields() {
    let c = Case::new();
    let input = c.file("bad.jsonl", "{\"premise\":\"p\"}\n");
    c.refuses(
        &["pairs", "--input", &input, "--tokenizer", "builtin", "--out", &c.out("p.jsonl")],
        "bad.jsonl:1:",
        "no \"hypothesis\"",
    );
    let neither = c.file("none.jsonl", "{\"label\":1}\n");
    c.refuses(&["stats", "--input", &neither], "none.jsonl:1:", "text");
}

#[test]
fn jsonl_field_with_wrong_type() {
    let c = Case::new();
    let input = c.file("bad.jsonl", "{\"text\":5}\n");
    c.refuses(&["stats", "--input", &input], "bad.jsonl:1:", "invalid type");
    let label = c.file("label.jsonl", "{\"text\":\"a\",\"label\":\"maybe\"}\n");
    c.refuses(&["stats", "--input", &label], "label.jsonl:1:", "maybe");
}

#[test]
fn jsonl_empty_line() {
    let c = Case::new();
    let input = c.file("bad.jsonl", "{\"text\":\"a\"}\n\n{\"text\":\"b\"}\n");
    c.refuses(&["stats", "--input", &input], "bad.jsonl:2:", "empty line");
}

#[test]
fn jsonl_line_over_the_limit() {
    let c = Case::new();
    let input = c.file("long.jsonl", format!("{{\"text\":\"{}\"}}\n", "a".repeat(1 << 20)));
    let args = ["pairs", "--input", &input, "--tokenizer", "builtin", "--out", &c.out("p.jsonl")];
    c.refuses(&args, "long.jsonl:1:", "longer than the limit of 1048576 bytes");
}

#[test]
fn jsonl_not_utf8() {
    let c = Case::new();
    let input = c.file("bad.jsonl", b"{\"text\":\"\xff\xfe\"}\n");
    c.refuses(&["stats", "--input", &input], "bad.jsonl:1:", "not valid UTF-8");
}

#[test]
fn jsonl_empty_file() {
    let c = Case::new();
    let input = c.file("empty.jsonl", "");
    c.refuses(&["stats", "--input", &input], "empty.jsonl", "contains no records");
    c.refuses(
        &["pairs", "--input", &input, "--tokenizer", "builtin", "--out", &c.out("p.jsonl")],
        "empty.jsonl",
        "no records",
    );
    c.refuses(&["acbo", "--data", &input, "--oracle", "noisy:0.1", "--out", &c.out("a")], "empty.jsonl", "no records");
}

#[test]
fn input_missing_or_a_directory() {
    let c = Case::new();
    let missing = c.out("nope.jsonl");
    c.refuses(&["stats", "--input", &missing], "nope.jsonl", "No such file");
    std::fs::create_dir(c.path("adir")).unwrap();
    c.refuses(&["stats", "--input", &c.out("adir")], "adir", "is a directory");
}

#[test]
fn tokenizer_json_missing() {
    let c = Case::new();
    let corpus = c.corpus();
    let tok = c.out("nowhere/tokenizer.json");
    c.refuses(
        &["pairs", "--input", &corpus, "--tokenizer", &tok, "--out", &c.out("p.jsonl")],
        "nowhere/tokenizer.json",
        "no such file",
    );
    std::fs::create_dir(c.path("emptydir")).unwrap();
    c.refuses(&["tokenizer", "--tokenizer", &c.out("emptydir"), "--premise", "Z"], "emptydir", "tokenizer.json");
}

#[test]
fn tokenizer_json_corrupt() {
    let c = Case::new();
    let corpus = c.corpus();
    let truncated = c.file("trunc/tokenizer.json", "{\"version\":");
    c.refuses(
        &["pairs", "--input", &corpus, "--tokenizer", &truncated, "--out", &c.out("p.jsonl")],
        "trunc/tokenizer.json",
        "not a valid tokenizer.json",
    );
    let dir = c.path("wrong").to_str().unwrap().to_string();
    c.file("wrong/tokenizer.json", "{\"version\":\"1.0\",\"model\":{\"type\":\"NoSuchModel\"}}");
    c.refuses(
        &["tokenizer", "--tokenizer", &dir, "--premise", "Z"],
        "wrong/tokenizer.json",
        "not a valid tokenizer.json",
    );
    // A malformed "decoder" object made `tokenizers` 0.22 panic (found by fuzzing).
    let builtin =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/builtin/tokenizer.json"));
    let builtin_text = builtin.unwrap();
    let garbled = builtin_text.replace("\"cleanup\": true", "\"cleanup\"rstrip\": false");
    let decoder = c.file("decoder/tokenizer.json", garbled);
    c.refuses(
        &["tokenizer", "--tokenizer", &decoder, "--premise", "Z"],
        "decoder/tokenizer.json",
        "not a valid tokenizer.json",
    );
    // A template naming an undefined special token made `tokenizers` 0.22 panic on encoding (fuzzing).
    let mut json: serde_json::Value = serde_json::from_str(&builtin_text).unwrap();
    json["post_processor"]["single"][0]["SpecialToken"]["id"] = "_CLS]".into();
    let template = c.file("template/tokenizer.json", json.to_string());
    c.refuses(&["tokenizer", "--tokenizer", &template, "--premise", "Z"], "template/tokenizer.json", "\"_CLS]\"");
    let binary = c.file("bin/tokenizer.json", [0u8, 159, 146, 150]);
    c.refuses(&["tokenizer", "--tokenizer", &binary, "--premise", "Z"], "bin/tokenizer.json", "");
}

#[test]
fn texts_beyond_the_max_length_are_truncated_and_counted() {
    let c = Case::new();
    let corpus = c.corpus();
    let out = c.out("p.jsonl");
    let o = Command::new(BIN)
        .args([
            "pairs",
            "--input",
            &corpus,
            "--tokenizer",
            "builtin",
            "--max-length",
            "30",
            "--min-overlap",
            "0",
            "--out",
            &out,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("note: 16 of 16 records were truncated to 30 tokens (premise only"), "{err}");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(c.path("p.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["extra"]["encoding"]["truncated"], 16, "{meta}");
    let pairs = std::fs::read_to_string(&out).unwrap();
    assert!(pairs.lines().all(|l| l.contains("\"truncated_a\":true")), "each pair says it was truncated");
    // A hypothesis alone longer than the budget cannot be kept whole: refused, not cut.
    c.refuses(
        &["pairs", "--input", &corpus, "--tokenizer", "builtin", "--max-length", "8", "--out", &c.out("q.jsonl")],
        "corpus.jsonl:1:",
        "only the premise is ever truncated",
    );
}

#[test]
fn graph_with_more_than_64_variables() {
    let c = Case::new();
    let out = c.out("g");
    c.refuses(&["generate", "--kind", "extended", "--nodes", "70", "--out", &out], "--nodes", "outside 2..64");
    let premise = "Suppose there is a closed system of 65 variables, X1. All the statistical relations among these \
        65 variables are as follows: ";
    let line = serde_json::json!({"premise": premise, "hypothesis": "X1 directly causes X2.", "n_vars": 65});
    let input = c.file("big.jsonl", format!("{line}\n"));
    c.refuses(
        &["acbo", "--data", &input, "--oracle", "noisy:0.1", "--out", &c.out("a")],
        "big.jsonl:1:",
        "between 1 and 64",
    );
}

#[test]
fn premise_no_dag_satisfies() {
    // Every pair correlates, yet every pair is independent given the third: only a cyclic or
    // non-graphical model fits; the premise describes no DAG.
    let c = Case::new();
    let premise = "Suppose there is a closed system of 3 variables, Z, Y and X. All the statistical relations among \
        these 3 variables are as follows: Z correlates with Y. Z correlates with X. Y correlates with X. However, \
        Z and Y are independent given X. Z and X are independent given Y. Y and X are independent given Z.";
    let line =
        serde_json::json!({"premise": premise, "hypothesis": "Z directly causes Y.", "n_vars": 3, "label": "neutral"});
    let input = c.file("nodag.jsonl", format!("{line}\n"));
    c.refuses(
        &["acbo", "--data", &input, "--oracle", "noisy:0.1", "--out", &c.out("a")],
        "nodag.jsonl:1:",
        "invalid premise",
    );
    let garbled = serde_json::json!({"premise": "Suppose nothing.", "hypothesis": "Z directly causes Y.", "n_vars": 3});
    let input = c.file("garbled.jsonl", format!("{garbled}\n"));
    c.refuses(
        &["acbo", "--data", &input, "--oracle", "noisy:0.1", "--out", &c.out("a")],
        "garbled.jsonl:1:",
        "invalid premise",
    );
}

#[test]
fn output_under_a_regular_file() {
    let c = Case::new();
    let corpus = c.corpus();
    c.file("blocker", "x");
    let out = c.out("blocker/p.jsonl");
    c.refuses(
        &["pairs", "--input", &corpus, "--tokenizer", "builtin", "--min-overlap", "0", "--out", &out],
        "blocker/p.jsonl",
        "",
    );
    let dir_out = c.out("blocker/run");
    c.refuses(&["generate", "--nodes", "2..3", "--out", &dir_out], "blocker/run", "");
    c.refuses(&["acbo", "--data", &corpus, "--oracle", "noisy:0.1", "--out", &dir_out], "blocker/run", "");
}

#[test]
fn output_in_a_directory_that_cannot_be_written() {
    let c = Case::new();
    let corpus = c.corpus();
    // /proc refuses new files even to root.
    c.refuses(&["generate", "--nodes", "2..3", "--out", "/proc/ntkgap-test.jsonl"], "/proc/ntkgap-test.jsonl", "");
    c.refuses(
        &["pairs", "--input", &corpus, "--tokenizer", "builtin", "--min-overlap", "0", "--out", "/proc/p.jsonl"],
        "/proc/p.jsonl",
        "",
    );
    // A read-only directory (mode 0555). Root ignores the mode, so as root the command runs as
    // `nobody` through `setpriv` (skipped, with a message, where that is impossible).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        let ro = c.path("ro");
        std::fs::create_dir(&ro).unwrap();
        mode(&ro, 0o555);
        let out = c.out("ro/p.jsonl");
        let args = ["pairs", "--input", &corpus, "--tokenizer", "builtin", "--min-overlap", "0", "--out", &out];
        let before = c.listing();
        let as_root = std::fs::write(ro.join("probe"), b"").is_ok();
        let o = if as_root {
            std::fs::remove_file(ro.join("probe")).unwrap();
            mode(c.dir.path(), 0o755);
            let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups", BIN];
            Command::new("setpriv").args(nobody).args(args).output().ok().filter(|o| o.status.code() != Some(127))
        } else {
            Command::new(BIN).args(args).output().ok()
        };
        match o {
            Some(o) => {
                assert_refusal(&o, &args, "ro/p.jsonl", "Permission denied");
                assert_eq!(c.listing(), before, "the read-only case left files behind");
            }
            None => common::missing("read-only directory case", "running as root without setpriv"),
        }
        mode(&ro, 0o755);
    }
}

#[test]
#[cfg(unix)]
fn output_path_is_a_device() {
    use std::os::unix::fs::FileTypeExt;
    let c = Case::new();
    let corpus = c.corpus();
    let args = ["pairs", "--input", &corpus, "--tokenizer", "builtin", "--min-overlap", "0", "--out", "/dev/full"];
    c.refuses(&args, "/dev/full", "not a regular file");
    let pairs = c.out("pairs.jsonl");
    let mined = Command::new(BIN)
        .args(["pairs", "--input", &corpus, "--tokenizer", "builtin", "--min-overlap", "0", "--out", &pairs])
        .output()
        .unwrap();
    assert!(mined.status.success(), "{}", String::from_utf8_lossy(&mined.stderr));
    c.refuses(&["overlap", "--input", &pairs, "--csv", "/dev/full"], "/dev/full", "not a regular file");
    c.refuses(&["generate", "--nodes", "2..3", "--out", "/dev/full"], "/dev/full", "is a file");
    assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device(), "/dev/full was replaced");
}

/// Run `ntkgap args` with a 16 KiB tmpfs mounted at `mount` inside a private user and mount
/// namespace (`unshare -rm`); returns the output and what the tmpfs held afterwards, or `None`
/// when the namespace cannot be created here.
fn on_tiny_tmpfs(mount: &Path, args: &[&str]) -> Option<(Output, String)> {
    let script = format!(
        "mount -t tmpfs -o size=16k tmpfs '{m}' || exit 99; \"$0\" \"$@\"; rc=$?; \
         echo \"LEFT:$(ls -A '{m}')\"; exit $rc",
        m = mount.display()
    );
    let o = Command::new("unshare").args(["-rm", "sh", "-c", &script, BIN]).args(args).output().ok()?;
    if o.status.code() == Some(99) || !String::from_utf8_lossy(&o.stdout).contains("LEFT:") {
        return None;
    }
    let left = String::from_utf8_lossy(&o.stdout).lines().find_map(|l| l.strip_prefix("LEFT:")).unwrap().to_string();
    Some((o, left))
}

#[test]
fn full_disk() {
    let c = Case::new();
    let mount = c.path("tiny");
    std::fs::create_dir(&mount).unwrap();
    let file_out = mount.join("c.jsonl");
    let dir_out = mount.join("run");
    let cases: [Vec<&str>; 2] = [
        vec!["generate", "--nodes", "2..5", "--out", file_out.to_str().unwrap()],
        vec!["generate", "--nodes", "2..5", "--out", dir_out.to_str().unwrap()],
    ];
    for args in cases {
        let Some((o, left)) = on_tiny_tmpfs(&mount, &args) else {
            common::missing("full_disk", "cannot mount a tmpfs in a user namespace here (unshare -rm)");
            return;
        };
        // Running out of disk while writing is a runtime failure (exit 1), not bad input.
        assert_one_line_error(&o, &args, 1, mount.to_str().unwrap(), "No space left on device");
        assert_eq!(left, "", "{args:?} left files on the full disk");
    }
}

/// A copy of the committed tiny RoBERTa checkpoint under `name/`, with `file` replaced by `bytes`.
fn model_case(case: &Case, name: &str, file: &str, bytes: Vec<u8>) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/roberta_tiny");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        case.file(&format!("{name}/{f}"), std::fs::read(src.join(f)).unwrap());
    }
    case.file(&format!("{name}/{file}"), bytes);
    case.path(name).to_str().unwrap().to_string()
}

fn roberta_file(file: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/roberta_tiny").join(file)).unwrap()
}

/// Split a safetensors file into (header JSON, tensor bytes).
fn safetensors_parts() -> (serde_json::Value, Vec<u8>) {
    let bytes = roberta_file("model.safetensors");
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), bytes[8 + n..].to_vec())
}

fn safetensors_join(header: &serde_json::Value, data: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

fn forward_refuses(case: &Case, model: &str, names: &str, problem: &str) -> String {
    let input = case.file("in.jsonl", "{\"premise\":\"Suppose there is a closed system of 2 variables, Z and Y.\",\"hypothesis\":\"Z directly causes Y.\"}\n");
    case.refuses(&["forward", "--model", model, "--input", &input, "--out", &case.out("logits.npy")], names, problem)
}

#[test]
fn safetensors_truncated_oversized_header_wrong_dtype_non_finite() {
    let case = Case::new();
    let full = roberta_file("model.safetensors");
    let truncated = model_case(&case, "trunc", "model.safetensors", full[..1000].to_vec());
    forward_refuses(&case, &truncated, "trunc/model.safetensors", "not a valid safetensors file");

    let mut huge = full.clone();
    huge[..8].copy_from_slice(&(1u64 << 50).to_le_bytes());
    let oversized = model_case(&case, "hdr", "model.safetensors", huge);
    forward_refuses(&case, &oversized, "hdr/model.safetensors", "header too large");

    let (mut header, data) = safetensors_parts();
    header["classifier.dense.bias"]["dtype"] = "I32".into();
    let dtype = model_case(&case, "dtype", "model.safetensors", safetensors_join(&header, &data));
    forward_refuses(&case, &dtype, "dtype/model.safetensors", "classifier.dense.bias (I32)");

    let (header, mut data) = safetensors_parts();
    let start = header["classifier.out_proj.bias"]["data_offsets"][0].as_u64().unwrap() as usize;
    data[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let nan = model_case(&case, "nan", "model.safetensors", safetensors_join(&header, &data));
    forward_refuses(&case, &nan, "nan/model.safetensors", "non-finite values in: classifier.out_proj.bias");
}

#[test]
fn config_json_missing_fields_or_absurd_sizes() {
    let case = Case::new();
    let config: serde_json::Value = serde_json::from_slice(&roberta_file("config.json")).unwrap();
    let mut missing = config.clone();
    missing.as_object_mut().unwrap().remove("hidden_size");
    let model = model_case(&case, "missing", "config.json", serde_json::to_vec(&missing).unwrap());
    forward_refuses(&case, &model, "missing/config.json", "missing field `hidden_size`");

    let mut absurd = config;
    absurd["hidden_size"] = 1_000_000_000u64.into();
    let model = model_case(&case, "absurd", "config.json", serde_json::to_vec(&absurd).unwrap());
    forward_refuses(&case, &model, "absurd/config.json", "invalid hidden_size: 1000000000");
}

/// A version-1.0 .npy file of `shape` with raw little-endian `data` of type `descr`.
fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if shape.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn npy_not_square_not_finite_or_not_float() {
    let case = Case::new();
    let scores = case.file("s.npy", npy_bytes("<f8", &[2], &f64_bytes(&[1.0, 0.5])));
    let run = |gram: &str, problem: &str| {
        let args =
            ["bound", "--gram", gram, "--scores", &scores, "--pairs", "0,1", "--weight-norm", "1", "--out", "out"];
        case.refuses(&args, gram, problem);
    };
    let rect = case.file("rect.npy", npy_bytes("<f8", &[2, 3], &f64_bytes(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])));
    run(&rect, "must be square");
    let nan = case.file("nan.npy", npy_bytes("<f8", &[2, 2], &f64_bytes(&[1.0, f64::NAN, 0.5, 1.0])));
    run(&nan, "non-finite value at flat index 1");
    let ints: Vec<u8> = [1i32, 0, 0, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let int = case.file("int.npy", npy_bytes("<i4", &[2, 2], &ints));
    run(&int, "unsupported dtype");
}

/// A GGUF model cut, with a wrong magic, version, tensor type or key, or data past its end:
/// `forward`, `eval` and `train` refuse it before anything is written.
#[test]
fn gguf_truncated_bad_magic_version_type_data_past_the_end_missing_key() {
    use crate::decoder_gguf::{replace_once, tensor_type_offset, tiny_gguf_bytes};
    let c = Case::new();
    let input = c.file("in.jsonl", "{\"text\": \"Does Z cause Y? Answer:\", \"label\": 1}\n");
    let good = tiny_gguf_bytes();
    let mut magic = good.clone();
    magic[..4].copy_from_slice(b"GGUX");
    let mut version = good.clone();
    version[4..8].copy_from_slice(&1u32.to_le_bytes());
    let mut ty = good.clone();
    let at = tensor_type_offset(&ty, "token_embd.weight");
    ty[at..at + 4].copy_from_slice(&99u32.to_le_bytes());
    let mut key = good.clone();
    replace_once(&mut key, "llama.block_count", "llama.xlock_count");
    let cases = [
        ("trunc.gguf", good[..200].to_vec(), "truncated or corrupt file"),
        ("magic.gguf", magic, "not a GGUF file"),
        ("version.gguf", version, "unsupported GGUF version 1"),
        ("type.gguf", ty, "tensor token_embd.weight has unknown ggml type id 99"),
        ("past.gguf", good[..good.len() - 100].to_vec(), "runs past the end of the file"),
        ("key.gguf", key, "metadata key llama.block_count is missing"),
    ];
    for (name, bytes, problem) in cases {
        let model = c.file(name, bytes);
        c.refuses(&["forward", "--model", &model, "--input", &input, "--out", &c.out("l.npy")], name, problem);
    }
    let trunc = c.out("trunc.gguf");
    c.refuses(&["eval", "--model", &trunc, "--data", &input, "--out", &c.out("e.json")], "trunc.gguf", "truncated");
    c.refuses(&["train", "--model", &trunc, "--data", &input, "--out", &c.out("run")], "trunc.gguf", "truncated");
    let nope = c.out("nope.gguf");
    c.refuses(&["forward", "--model", &nope, "--input", &input, "--out", &c.out("l.npy")], "nope.gguf", "No such file");
}

/// Decoder prompting: a template without `{hypothesis}`, `--chat` without a chat template, label
/// words that are not one token each, decoder flags on an encoder, and prompts longer than the
/// context (counted, never truncated).
#[test]
fn decoder_prompting_flags_and_prompts_beyond_the_context() {
    let c = Case::new();
    let llama = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/decoders/llama_tiny");
    let llama = llama.to_str().unwrap();
    let input = c.file(
        "in.jsonl",
        concat!(
            "{\"premise\": \"Z correlates with Y.\", \"hypothesis\": \"Z causes Y.\", \"label\": 1}\n",
            "{\"text\": \"A\", \"label\": 0}\n",
            "{\"premise\": \"Z correlates with Y. Y correlates with X.\", \"hypothesis\": \"Y causes X.\", \"label\": 0}\n",
        ),
    );
    let out = c.out("l.npy");
    let forward = |model: &str, extra: &[&str], names: &str, problem: &str| {
        let mut args = vec!["forward", "--model", model, "--input", &input, "--out", &out];
        args.extend_from_slice(extra);
        c.refuses(&args, names, problem);
    };
    let template = c.file("t.txt", "Premise: {premise}\nAnswer:\n");
    forward(llama, &["--prompt", &template], "t.txt", "the prompt template has no {hypothesis} placeholder");
    forward("builtin:tiny-decoder", &["--chat"], "builtin:tiny-decoder", "has no chat template");
    forward(llama, &["--chat"], "llama_tiny", "invalid --chat");
    forward(llama, &["--label-words", "No,Maybe"], "--label-words", "\"Maybe\" is 5 tokens");
    forward(llama, &["--label-words", "No"], "--label-words", "expected two words NO,YES");
    forward("builtin:tiny", &["--chat"], "--chat", "applies to decoder models only");
    let good = c.file("good.txt", "{premise} {hypothesis}");
    c.refuses(
        &["eval", "--model", "builtin:tiny", "--prompt", &good, "--data", &input],
        "--prompt",
        "applies to decoder models only",
    );
    forward(llama, &["--max-len", "12"], "in.jsonl", "2 of 3 prompts are longer than the maximum input length of 12");
    c.refuses(
        &["eval", "--model", llama, "--max-len", "12", "--data", &input, "--out", &c.out("e.json")],
        "in.jsonl",
        "(the longest, line 3, has ",
    );
}
