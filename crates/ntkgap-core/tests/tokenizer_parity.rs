//! Token-for-token parity with Python `tokenizers` on Corr2Cause-style texts.
//!
//! The fixtures are written by `scripts/make_tokenizer_fixture.py` (see tests/data/README.md):
//! 24 premise/hypothesis pairs (n = 2..10, 12, 30 and edge cases) at maximum lengths 512, 128
//! and 48 with `only_first` truncation, including truncated inputs and one refused input, plus
//! padded batches. This test reads only the JSON fixtures.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use ntkgap_core::files::meta::sha256_file;
use ntkgap_core::tokenize::{builtin, pad_batch, HfTokenizer, Tokenizer};

#[derive(Deserialize)]
struct Text {
    premise: String,
    hypothesis: String,
}

#[derive(Deserialize)]
struct Expected {
    case: usize,
    max_length: usize,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    ids: Vec<u32>,
    #[serde(default)]
    token_type_ids: Vec<u32>,
    #[serde(default)]
    attention_mask: Vec<u32>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct Batch {
    max_length: usize,
    cases: Vec<usize>,
    ids: Vec<Vec<u32>>,
    token_type_ids: Vec<Vec<u32>>,
    attention_mask: Vec<Vec<u32>>,
}

#[derive(Deserialize)]
struct Single {
    text: String,
    ids: Vec<u32>,
}

#[derive(Deserialize)]
struct Fixture {
    tokenizer: String,
    tokenizer_sha256: String,
    texts: Vec<Text>,
    encodings: Vec<Expected>,
    batches: Vec<Batch>,
    singles: Vec<Single>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> Fixture {
    let path = root().join("tests/data").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn check_encodings(fx: &Fixture, tok: &mut HfTokenizer) -> (usize, usize) {
    let (mut truncated, mut refused) = (0, 0);
    for e in &fx.encodings {
        tok.set_max_length(e.max_length).unwrap();
        let text = &fx.texts[e.case];
        let got = tok.encode_pair(&text.premise, &text.hypothesis);
        let what = format!("case {} at max length {}", e.case, e.max_length);
        if let Some(py_err) = &e.error {
            let err = got.expect_err(&format!("{what}: Python refused ({py_err}), Rust encoded"));
            assert!(err.to_string().contains("leaves no room for the premise"), "{what}: {err}");
            refused += 1;
            continue;
        }
        let got = got.unwrap_or_else(|err| panic!("{what}: {err}"));
        assert_eq!(got.ids, e.ids, "{what}: ids differ\nrust:   {:?}", tok.tokens(&got.ids));
        assert_eq!(got.token_type_ids, e.token_type_ids, "{what}: type ids");
        assert_eq!(got.attention_mask, e.attention_mask, "{what}: attention mask");
        assert_eq!(got.truncated, e.truncated, "{what}: truncated flag");
        assert!(got.len() <= e.max_length, "{what}: longer than the max length");
        truncated += usize::from(e.truncated);
    }
    (truncated, refused)
}

fn check_batches(fx: &Fixture, tok: &mut HfTokenizer) {
    for b in &fx.batches {
        tok.set_max_length(b.max_length).unwrap();
        let encs: Vec<_> =
            b.cases.iter().map(|&k| tok.encode_pair(&fx.texts[k].premise, &fx.texts[k].hypothesis).unwrap()).collect();
        let batch = pad_batch(&encs, tok.pad_id().unwrap()).unwrap();
        assert_eq!(batch.batch_size, b.ids.len());
        assert_eq!(batch.ids, b.ids.concat(), "padded ids at max length {}", b.max_length);
        assert_eq!(batch.token_type_ids, b.token_type_ids.concat(), "padded type ids");
        assert_eq!(batch.attention_mask, b.attention_mask.concat(), "padded attention mask");
    }
}

fn check_singles(fx: &Fixture, tok: &mut HfTokenizer) {
    tok.set_max_length(512).unwrap();
    for s in &fx.singles {
        assert_eq!(tok.encode(&s.text).unwrap().ids, s.ids, "single text {:?}", s.text);
    }
}

fn check_all(fx: &Fixture, tok: &mut HfTokenizer) {
    assert!(fx.texts.len() >= 20, "fixture needs at least 20 texts");
    let (truncated, refused) = check_encodings(fx, tok);
    assert!(truncated >= 10, "fixture should exercise truncation, got {truncated}");
    assert!(refused >= 1, "fixture should exercise a refused input");
    check_batches(fx, tok);
    check_singles(fx, tok);
}

#[test]
fn minilm_bert_matches_python_tokenizers() {
    let fx = fixture("tokenizer_parity_minilm.json");
    let file = root().join(&fx.tokenizer);
    assert_eq!(sha256_file(&file).unwrap(), fx.tokenizer_sha256, "fixture made from another tokenizer.json");
    let mut tok = HfTokenizer::from_path(&file).unwrap();
    assert_eq!(tok.max_length(), 128, "default max length comes from the file's truncation");
    check_all(&fx, &mut tok);
}

#[test]
fn builtin_matches_python_tokenizers_loading_the_saved_file() {
    let fx = fixture("tokenizer_parity_builtin.json");
    let file = root().join(&fx.tokenizer);
    assert_eq!(sha256_file(&file).unwrap(), fx.tokenizer_sha256, "fixture made from another tokenizer.json");
    // The committed file is exactly what the built-in tokenizer saves today.
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(saved, builtin::tokenizer_file_text().unwrap() + "\n", "regenerate tests/data/builtin (see README)");
    let mut tok = builtin::tokenizer().unwrap();
    check_all(&fx, &mut tok);
}

#[test]
fn directory_spec_finds_tokenizer_json() {
    let tok = ntkgap_core::tokenize::load(root().join("tests/data/minilm").to_str().unwrap()).unwrap();
    assert_eq!(tok.vocab_size(), 30522);
    let sp = tok.special_ids();
    assert_eq!((sp.pad, sp.unk, sp.cls, sp.sep, sp.mask), (Some(0), Some(100), Some(101), Some(102), Some(103)));
    assert!(Path::new(&tok.source()).ends_with("minilm/tokenizer.json"));
}
