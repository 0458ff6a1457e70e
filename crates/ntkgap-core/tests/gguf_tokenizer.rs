//! The tokenizer and chat template a GGUF describes: token-for-token parity with transformers
//! (SmolLM2's 24 texts and rendered chats; the pre-tokenizer families), equality with the
//! `tokenizer.json` a tiny GGUF was converted from (single texts, pairs, truncation, decoding),
//! and one-line refusals.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use ntkgap_core::gguf::GgufFile;
use ntkgap_core::tokenize::chat::{render_chat, ChatMessage, ChatTemplate};
use ntkgap_core::tokenize::{gguf, load, HfTokenizer, Tokenizer};

use crate::gguf_errors::GgufBuilder;
use crate::prereq::{require, root, smollm2_gguf};

fn read_json(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[derive(Deserialize)]
struct Item {
    text: String,
    ids: Vec<u32>,
    ids_add_special_tokens_false: Vec<u32>,
}

#[test]
fn smollm2_tokenizer_matches_transformers_on_all_24_texts() {
    let path = smollm2_gguf();
    if !require("the SmolLM2 tokenizer parity test", &path) {
        return;
    }
    let file = GgufFile::open(&path).unwrap();
    let tok = gguf::tokenizer(&file).unwrap();
    let fx = read_json(root().join("tests/data/decoders/smollm2_tokenizer_parity.json"));
    let items: Vec<Item> = serde_json::from_value(fx["items"].clone()).unwrap();
    assert_eq!(items.len(), 24);
    for item in &items {
        assert_eq!(tok.encode(&item.text).unwrap().ids, item.ids, "{:?}", item.text);
        let plain = tok.inner().encode(item.text.as_str(), false).unwrap();
        assert_eq!(plain.get_ids(), item.ids_add_special_tokens_false, "{:?}", item.text);
    }
    let facts = &read_json(root().join("tests/data/decoders/smollm2_logits.json"))["tokenizer"];
    let sp = tok.special_ids();
    assert_eq!((sp.cls, sp.sep, sp.pad, sp.unk), (Some(1), Some(2), Some(2), Some(0)));
    assert_eq!(facts["bos_token_id"], 1);
    assert_eq!(tok.vocab_size(), 49152);
    assert_eq!(tok.max_length(), 8192);
    assert_eq!(tok.pad_id().unwrap(), facts["pad_token_id"].as_u64().unwrap() as u32);
    for (word, id) in facts["ids_of"].as_object().unwrap() {
        let text = word.trim_matches('\'').replace("\\n", "\n");
        assert_eq!(tok.encode(&text).unwrap().ids, [id.as_u64().unwrap() as u32], "{word}");
    }
    // Through `tokenize::load`, as the CLI loads `--tokenizer model.gguf`.
    let loaded = load(path.to_str().unwrap()).unwrap();
    assert_eq!(loaded.encode("Hello world").unwrap().ids, [19556, 905]);
}

#[test]
fn smollm2_chat_template_renders_as_transformers() {
    let path = smollm2_gguf();
    if !require("the SmolLM2 chat template test", &path) {
        return;
    }
    let file = GgufFile::open(&path).unwrap();
    let template = ChatTemplate::from_gguf(&file).unwrap().expect("SmolLM2 has a chat template");
    let tok = gguf::tokenizer(&file).unwrap();
    let fx = read_json(root().join("tests/data/decoders/smollm2_logits.json"));
    assert_eq!(template.source(), fx["chat_template"].as_str().unwrap());
    for chat in fx["chats"].as_array().unwrap() {
        let messages: Vec<ChatMessage> = serde_json::from_value(chat["messages"].clone()).unwrap();
        let rendered = template.render(&messages, chat["add_generation_prompt"].as_bool().unwrap()).unwrap();
        assert_eq!(rendered, chat["rendered"].as_str().unwrap());
        let ids: Vec<u32> = serde_json::from_value(chat["ids_add_special_tokens_false"].clone()).unwrap();
        assert_eq!(tok.encode(&rendered).unwrap().ids, ids);
    }
}

/// A tokenizer-only GGUF with the vocabulary of tests/data/decoders/llama_tiny/tokenizer.json.
fn tiny_vocab_gguf(pre: &str, model: &str) -> GgufBuilder {
    let tj = read_json(root().join("tests/data/decoders/llama_tiny/tokenizer.json"));
    let vocab = tj["model"]["vocab"].as_object().unwrap();
    let mut tokens = vec![""; vocab.len()];
    for (t, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = t;
    }
    let merges: Vec<String> = tj["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m.as_str().map_or_else(|| format!("{} {}", m[0].as_str().unwrap(), m[1].as_str().unwrap()), String::from)
        })
        .collect();
    let merges: Vec<&str> = merges.iter().map(String::as_str).collect();
    let mut types = vec![1; tokens.len()];
    types[..3].fill(3);
    GgufBuilder::new()
        .kv_str("general.architecture", "llama")
        .kv_str("tokenizer.ggml.model", model)
        .kv_str("tokenizer.ggml.pre", pre)
        .kv_strs("tokenizer.ggml.tokens", &tokens)
        .kv_i32s("tokenizer.ggml.token_type", &types)
        .kv_strs("tokenizer.ggml.merges", &merges)
        .kv_u32("tokenizer.ggml.bos_token_id", 1)
        .kv_u32("tokenizer.ggml.eos_token_id", 0)
        .kv_u32("tokenizer.ggml.padding_token_id", 2)
        .kv_bool("tokenizer.ggml.add_bos_token", false)
}

#[test]
fn pre_tokenizer_families_match_transformers() {
    let fx = read_json(root().join("tests/data/gguf/pre_tokenizer_ids.json"));
    let texts: Vec<String> = serde_json::from_value(fx["texts"].clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (pre, want) in fx["ids"].as_object().unwrap() {
        let path = dir.path().join(format!("{pre}.gguf"));
        tiny_vocab_gguf(pre, "gpt2").write(&path);
        let tok = gguf::tokenizer(&GgufFile::open(&path).unwrap()).unwrap();
        let want: Vec<Vec<u32>> = serde_json::from_value(want.clone()).unwrap();
        for (text, ids) in texts.iter().zip(&want) {
            assert_eq!(&tok.encode(text).unwrap().ids, ids, "pre {pre}, text {text:?}");
        }
    }
}

#[test]
fn tiny_gguf_tokenizers_equal_their_tokenizer_json() {
    let parity = read_json(root().join("tests/data/decoders/parity_llama_tiny.json"));
    let mut texts: Vec<String> =
        parity["cases"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap().to_string()).collect();
    texts.extend(["<s>hi</s><|endoftext|> <pad>", "", "  x\n\ny "].map(String::from));
    for (name, bos) in [("llama_tiny", true), ("gpt2_tiny", false)] {
        let file = GgufFile::open(root().join(format!("tests/data/gguf/{name}.gguf"))).unwrap();
        let mut from_gguf = gguf::tokenizer(&file).unwrap();
        let mut from_json = HfTokenizer::from_path(&root().join(format!("tests/data/decoders/{name}"))).unwrap();
        assert_eq!(from_gguf.vocab_size(), from_json.vocab_size());
        assert_eq!(from_gguf.special_ids().pad, Some(2));
        let path = root().join(format!("tests/data/gguf/{name}.gguf"));
        let loaded = load(path.to_str().unwrap()).unwrap();
        assert_eq!(
            loaded.encode("Z causes Y.").unwrap(),
            from_json.encode("Z causes Y.").unwrap(),
            "load({name}.gguf)"
        );
        assert_eq!(from_gguf.special_ids().cls, Some(if bos { 1 } else { 0 }));
        for max_length in [512, 24] {
            from_gguf.set_max_length(max_length).unwrap();
            from_json.set_max_length(max_length).unwrap();
            for text in &texts {
                let (a, b) = (from_gguf.encode(text).unwrap(), from_json.encode(text).unwrap());
                assert_eq!(a, b, "{name} {text:?}");
                if bos {
                    assert_eq!(a.ids[0], 1, "{name} adds BOS");
                }
                let (p, q) = (from_gguf.encode_pair(text, "Z causes Y."), from_json.encode_pair(text, "Z causes Y."));
                match (p, q) {
                    (Ok(p), Ok(q)) => assert_eq!(p, q, "{name} pair {text:?}"),
                    (Err(p), Err(q)) => assert_eq!(p.to_string(), q.to_string()),
                    (p, q) => panic!("{name} {text:?}: {p:?} vs {q:?}"),
                }
                assert_eq!(from_gguf.decode(&a.ids, true).unwrap(), from_json.decode(&b.ids, true).unwrap());
            }
        }
    }
}

#[test]
fn tiny_chat_template_and_hf_config_templates() {
    let file = GgufFile::open(root().join("tests/data/gguf/llama_tiny.gguf")).unwrap();
    let template = ChatTemplate::from_gguf(&file).unwrap().unwrap();
    let messages = [ChatMessage::new("system", "  Be brief. "), ChatMessage::new("user", "Does Z cause Y?")];
    assert_eq!(
        template.render(&messages, true).unwrap(),
        "<|endoftext|>system: Be brief.\nuser: Does Z cause Y?\nassistant:"
    );
    assert_eq!(template.render(&messages[1..], false).unwrap(), "<|endoftext|>user: Does Z cause Y?\n");

    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "bos_token": {"content": "<s>", "lstrip": false},
        "eos_token": "</s>",
        "chat_template": [
            {"name": "tool_use", "template": "unused"},
            {"name": "default", "template": "{{ bos_token }}{% for m in messages %}{% generation %}[{{ m.role | upper }}] \
                {{ m.content.strip() }}{% if m.content.strip().startswith('Q') %}?{% endif %}{% endgeneration %}\n{% endfor %}\
                {% if add_generation_prompt %}{{ eos_token }}{% endif %}"},
        ],
    });
    std::fs::write(dir.path().join("tokenizer_config.json"), config.to_string()).unwrap();
    let hf = ChatTemplate::from_hf_dir(dir.path()).unwrap().unwrap();
    let rendered = hf.render(&[ChatMessage::new("user", " Q1 "), ChatMessage::new("assistant", "A")], true).unwrap();
    assert_eq!(rendered, "<s>[USER] Q1?[ASSISTANT] A</s>", "trim_blocks eats the newline after a block tag");
    std::fs::write(dir.path().join("chat_template.jinja"), "{{ messages | length }}\n").unwrap();
    assert_eq!(ChatTemplate::from_hf_dir(dir.path()).unwrap().unwrap().render(&messages, false).unwrap(), "2");
    assert!(ChatTemplate::from_hf_dir(&dir.path().join("nothing")).unwrap().is_none());

    let raise = "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be user') }}{% endif %}";
    let err = render_chat(raise, &messages, false, None, None).unwrap_err().to_string();
    assert!(err.contains("the template raised: first message must be user") && !err.contains('\n'), "{err}");
    let err = ChatTemplate::new("{% for %}", None, None).unwrap_err().to_string();
    assert!(err.starts_with("invalid chat template: syntax error"), "{err}");
    let err = render_chat(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        &[],
        false,
        None,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("fuel"), "{err}");
    let err = render_chat("{{ 'x' * 100000000000000000000 }}", &[], false, None, None).unwrap_err().to_string();
    assert!(err.starts_with("invalid chat template:"), "{err}");
    let date = render_chat("{{ strftime_now('%Y') }}", &[], false, None, None).unwrap();
    assert!(date.len() == 4 && date.as_str() >= "2024", "{date}");
}

#[test]
fn tokenizer_refusals_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, b: GgufBuilder, want: &str| {
        let path = dir.path().join(name);
        b.write(&path);
        let err = gguf::tokenizer(&GgufFile::open(&path).unwrap()).unwrap_err().to_string();
        assert_eq!(err, format!("{}: {want}", path.display()));
    };
    check(
        "spm.gguf",
        tiny_vocab_gguf("default", "llama"),
        "tokenizer.ggml.model is \"llama\" (SentencePiece), which ntkgap cannot build (supported: gpt2, byte-level BPE)",
    );
    check("none.gguf", GgufBuilder::new(), "metadata key tokenizer.ggml.model is missing");
    let base = || GgufBuilder::new().kv_str("tokenizer.ggml.model", "gpt2");
    check("notokens.gguf", base(), "metadata key tokenizer.ggml.tokens is missing");
    check(
        "inttokens.gguf",
        base().kv_i32s("tokenizer.ggml.tokens", &[1]),
        "metadata key tokenizer.ggml.tokens is an array of i32, expected strings",
    );
    check(
        "nomerges.gguf",
        base().kv_strs("tokenizer.ggml.tokens", &["a"]),
        "metadata key tokenizer.ggml.merges is missing",
    );
    let ab = || base().kv_strs("tokenizer.ggml.tokens", &["a", "b", "ab"]);
    check(
        "merge3.gguf",
        ab().kv_strs("tokenizer.ggml.merges", &["a b c"]),
        "tokenizer.ggml.merges entry \"a b c\" is not two tokens separated by a space",
    );
    let err_prefix = "the tokenizer in the metadata is inconsistent: ";
    let path = dir.path().join("oov.gguf");
    ab().kv_strs("tokenizer.ggml.merges", &["a z"]).write(&path);
    let err = gguf::tokenizer(&GgufFile::open(&path).unwrap()).unwrap_err().to_string();
    assert!(err.contains(err_prefix) && !err.contains('\n'), "{err}");
    check(
        "types.gguf",
        ab().kv_strs("tokenizer.ggml.merges", &["a b"]).kv_i32s("tokenizer.ggml.token_type", &[1, 1]),
        "tokenizer.ggml.token_type has 2 i32 values for 3 tokens (expected one integer per token)",
    );
    check(
        "bos.gguf",
        ab().kv_strs("tokenizer.ggml.merges", &["a b"]).kv_u32("tokenizer.ggml.bos_token_id", 3),
        "tokenizer.ggml.bos_token_id is 3, outside the vocabulary of 3 tokens",
    );
}
