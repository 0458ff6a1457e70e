//! Pair templates, the premise-only truncation rule, tokenizer loading errors and streaming
//! corpus tokenization.

use std::io::Write;

use ntkgap_core::tokenize::stream::{encode_file, EncodedRecord};
use ntkgap_core::tokenize::{builtin, load, HfTokenizer, Tokenizer};

const PREMISE: &str = "Suppose there is a closed system of 3 variables, Z, Y and X. All the statistical \
relations among these 3 variables are as follows: Z correlates with Y. Y correlates with X. However, Z is \
independent of X.";
const HYPOTHESIS: &str = "There exists at least one collider (i.e., common effect) of Z and X.";

fn word_ids(tok: &dyn Tokenizer, text: &str) -> Vec<u32> {
    let e = tok.encode(text).unwrap();
    e.ids[1..e.ids.len() - 1].to_vec() // strip [CLS] … [SEP]
}

#[test]
fn bert_pair_template_and_type_ids() {
    let tok = builtin::tokenizer().unwrap();
    let sp = tok.special_ids();
    let (cls, sep) = (sp.cls.unwrap(), sp.sep.unwrap());
    let p = word_ids(&tok, PREMISE);
    let h = word_ids(&tok, HYPOTHESIS);
    let e = tok.encode_pair(PREMISE, HYPOTHESIS).unwrap();
    let expected: Vec<u32> = [cls].iter().chain(&p).chain(&[sep]).chain(&h).chain(&[sep]).copied().collect();
    assert_eq!(e.ids, expected);
    let types: Vec<u32> = std::iter::repeat_n(0, p.len() + 2).chain(std::iter::repeat_n(1, h.len() + 1)).collect();
    assert_eq!(e.token_type_ids, types);
    assert!(e.attention_mask.iter().all(|&m| m == 1));
    assert!(!e.truncated);
}

fn roberta_file(dir: &std::path::Path) -> std::path::PathBuf {
    let words = ["<s>", "<pad>", "</s>", "<unk>", "Z", "directly", "causes", "Y", "correlates", "with", "."];
    let vocab: serde_json::Map<String, serde_json::Value> =
        words.iter().enumerate().map(|(i, w)| (w.to_string(), serde_json::json!(i))).collect();
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [], "normalizer": null,
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                           "trim_offsets": true, "add_prefix_space": false},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
    });
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

#[test]
fn roberta_pair_template_has_double_separator_and_zero_types() {
    let dir = tempfile::tempdir().unwrap();
    roberta_file(dir.path());
    let mut tok = HfTokenizer::from_path(dir.path()).unwrap();
    assert_eq!(tok.max_length(), 512, "no length in file or config: default 512");
    let e = tok.encode_pair("Z correlates with Y.", "Z directly causes Y.").unwrap();
    assert_eq!(e.ids, vec![0, 4, 8, 9, 7, 10, 2, 2, 4, 5, 6, 7, 10, 2]);
    assert!(e.token_type_ids.iter().all(|&t| t == 0));
    let sp = tok.special_ids();
    assert_eq!((sp.cls, sp.sep, sp.pad, sp.unk, sp.mask), (Some(0), Some(2), Some(1), Some(3), None));
    // Premise-only truncation with four specials: <s> Z correlates </s></s> h </s> = 4 + 2 + 5.
    tok.set_max_length(11).unwrap();
    let t = tok.encode_pair("Z correlates with Y.", "Z directly causes Y.").unwrap();
    assert_eq!(t.ids, vec![0, 4, 8, 2, 2, 4, 5, 6, 7, 10, 2]);
    assert!(t.truncated);
    // A tokenizer_config.json beside the file supplies the default maximum length.
    std::fs::write(dir.path().join("tokenizer_config.json"), "{\"model_max_length\": 64}").unwrap();
    assert_eq!(HfTokenizer::from_path(dir.path()).unwrap().max_length(), 64);
    std::fs::write(dir.path().join("tokenizer_config.json"), "{\"model_max_length\": 1000000000000000019884624838656}")
        .unwrap();
    assert_eq!(HfTokenizer::from_path(dir.path()).unwrap().max_length(), 512, "HF's 'no limit' sentinel is ignored");
}

#[test]
fn truncation_cuts_the_premise_only_and_is_flagged() {
    let mut tok = builtin::tokenizer().unwrap();
    let h = word_ids(&tok, HYPOTHESIS);
    let full = tok.encode_pair(PREMISE, HYPOTHESIS).unwrap();
    // Exactly the full length: nothing cut.
    tok.set_max_length(full.len()).unwrap();
    assert!(!tok.encode_pair(PREMISE, HYPOTHESIS).unwrap().truncated);
    // One premise token left.
    let max = h.len() + 4;
    tok.set_max_length(max).unwrap();
    let e = tok.encode_pair(PREMISE, HYPOTHESIS).unwrap();
    assert_eq!(e.len(), max);
    assert!(e.truncated);
    assert_eq!(&e.ids[3..3 + h.len()], &h[..], "hypothesis must survive whole");
    assert_eq!(e.ids[1], full.ids[1], "the premise keeps its beginning");
    assert_eq!(e.token_type_ids.iter().filter(|&&t| t == 1).count(), h.len() + 1);
    // No room for any premise token: an error naming the rule, never a cut hypothesis.
    tok.set_max_length(h.len() + 3).unwrap();
    let err = tok.encode_pair(PREMISE, HYPOTHESIS).unwrap_err().to_string();
    assert!(err.contains("leaves no room for the premise"), "{err}");
    assert!(err.contains(&format!("needs {} tokens", h.len())), "{err}");
    tok.set_max_length(8).unwrap();
    let err = tok.encode_pair(PREMISE, HYPOTHESIS).unwrap_err().to_string();
    assert!(err.contains(&format!("needs {} tokens plus 3 special tokens; max length 8", h.len())), "{err}");
    // Too small for the template itself.
    assert!(tok.set_max_length(4).unwrap_err().to_string().contains("`max_length`"));
    // A single text is cut at its end.
    tok.set_max_length(6).unwrap();
    let s = tok.encode(PREMISE).unwrap();
    assert_eq!((s.len(), s.truncated), (6, true));
}

#[test]
fn decode_and_tokens() {
    let tok = builtin::tokenizer().unwrap();
    let e = tok.encode_pair("Z correlates with Y.", "Z directly causes Y.").unwrap();
    assert_eq!(tok.decode(&e.ids, true).unwrap(), "Z correlates with Y. Z directly causes Y.");
    assert_eq!(tok.tokens(&e.ids[..2]), vec!["[CLS]".to_string(), "Z".to_string()]);
    assert!(tok.decode(&[1_000_000], true).is_err());
}

#[test]
fn bad_tokenizer_specs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = load(missing.to_str().unwrap()).err().unwrap().to_string();
    assert!(err.contains("nope") && err.contains("no such file"), "{err}");
    let err = load(dir.path().to_str().unwrap()).err().unwrap().to_string();
    assert!(err.contains("holds no tokenizer.json"), "{err}");
    let corrupt = dir.path().join("tokenizer.json");
    std::fs::write(&corrupt, "{\"version\": \"1.0\", \"model\": ").unwrap();
    let err = load(dir.path().to_str().unwrap()).err().unwrap();
    assert!(err.is_bad_input());
    let msg = err.to_string();
    assert!(msg.contains("tokenizer.json") && msg.contains("not a valid tokenizer.json"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn corpus_streams_in_order_and_counts_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for k in 0..7 {
        let premise = format!("{PREMISE} {}", "Z correlates with Y. ".repeat(k * 3));
        writeln!(
            f,
            "{}",
            serde_json::json!({"premise": premise, "hypothesis": "Z directly causes Y.", "id": format!("r{k}")})
        )
        .unwrap();
    }
    drop(f);
    let mut tok = builtin::tokenizer().unwrap();
    tok.set_max_length(64).unwrap();
    let mut seen: Vec<EncodedRecord> = Vec::new();
    let mut chunks = 0;
    let summary = encode_file(&path, &tok, 3, |chunk| {
        chunks += 1;
        seen.extend(chunk);
        Ok(())
    })
    .unwrap();
    assert_eq!(chunks, 3);
    assert_eq!(seen.iter().map(|r| r.line).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>());
    let truncated = seen.iter().filter(|r| r.encoding.truncated).count();
    assert!(truncated > 0 && truncated < 7);
    assert_eq!((summary.records, summary.truncated, summary.max_length), (7, truncated, 64));
    assert!(summary.truncation_line().unwrap().contains(&format!("{truncated} of 7 records")));
    // A hypothesis that cannot fit names its line and record.
    tok.set_max_length(8).unwrap();
    let err = encode_file(&path, &tok, 3, |_| Ok(())).unwrap_err().to_string();
    assert!(err.contains("c.jsonl:1:") && err.contains("record r0"), "{err}");
}

/// Regression (fuzz target `tokenizer_json`): `tokenizers` 0.22 panics on a "decoder" object
/// that is not valid JSON; the loader must refuse the file with an error instead.
#[test]
fn malformed_decoder_json_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/builtin/tokenizer.json"))
        .unwrap();
    assert!(good.contains("\"cleanup\": true"), "fixture changed: update this test");
    let bad = good.replace("\"cleanup\": true", "\"cleanup\"rstrip\": false");
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, bad).unwrap();
    let result = std::panic::catch_unwind(|| ntkgap_core::tokenize::load(path.to_str().unwrap()).map(|_| ()));
    let err = result.expect("loading must not panic").expect_err("a malformed file must be refused");
    assert!(err.to_string().contains("not a valid tokenizer.json"), "{err}");
}

/// Regression (fuzz target `tokenizer_json`): a TemplateProcessing template naming a special
/// token that `special_tokens` lacks loads in `tokenizers` 0.22 and then panics on encoding; the
/// loader must refuse it.
#[test]
fn template_with_undefined_special_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/builtin/tokenizer.json"))
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&good).unwrap();
    let first = &mut json["post_processor"]["single"][0]["SpecialToken"]["id"];
    assert_eq!(first, "[CLS]", "fixture changed: update this test");
    *first = serde_json::Value::from("_CLS]");
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let result = std::panic::catch_unwind(|| {
        ntkgap_core::tokenize::load(path.to_str().unwrap()).and_then(|t| t.encode("Z correlates with Y.")).map(|_| ())
    });
    let err = result.expect("must not panic").expect_err("an inconsistent template must be refused");
    assert!(err.to_string().contains("\"_CLS]\""), "{err}");
}
