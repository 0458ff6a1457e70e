//! Arbitrary bytes as a `.gguf` file, through `GgufFile::open` (the reader every GGUF path takes),
//! then every tensor through `read_f32` (at most 4 Mi values in all, so one input stays fast),
//! the Hugging Face view (config, names, un-permuted/transposed reads), the tokenizer when the
//! metadata describes a `gpt2` one (a pair and a text encoded, decoded back), and the chat template
//! rendered. On success every read's shape product equals its value count; every error is one
//! line; nothing panics.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use ntkgap_core::gguf::hf::HfView;
use ntkgap_core::gguf::GgufFile;
use ntkgap_core::tokenize::chat::{ChatMessage, ChatTemplate};
use ntkgap_core::tokenize::{gguf, Tokenizer};

const BUDGET: u64 = 4 << 20;

fn one_line(e: &ntkgap_core::Error) {
    assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
}

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ntkgap-fuzz-gguf-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("in.gguf");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("temp write");
    let file = match GgufFile::open(&path) {
        Ok(f) => f,
        Err(e) => return one_line(&e),
    };
    let mut budget = BUDGET;
    for t in file.tensors() {
        assert!(t.offset() + t.n_bytes() <= file.file_len());
        if t.n_elements() > budget {
            continue;
        }
        budget -= t.n_elements();
        match file.read_f32(t.name()) {
            Ok((shape, values)) => {
                assert_eq!(shape.iter().product::<usize>(), values.len());
                assert_eq!(values.len() as u64, t.n_elements());
            }
            Err(e) => {
                one_line(&e);
                assert!(!t.ggml_type().is_supported(), "{} ({}) failed: {e}", t.name(), t.ggml_type());
            }
        }
    }
    for (_, value) in file.metadata() {
        let _ = value.to_json();
    }
    match HfView::new(&file) {
        Ok(view) => {
            let _ = serde_json::to_string(view.config()).expect("config serializes");
            let mut budget = BUDGET;
            for t in view.tensors() {
                let n = t.shape.iter().product::<usize>() as u64;
                if n > budget {
                    continue;
                }
                budget -= n;
                if let Ok((shape, values)) = view.read(&t.hf_name) {
                    assert_eq!(shape, t.shape);
                    assert_eq!(shape.iter().product::<usize>(), values.len());
                }
            }
        }
        Err(e) => one_line(&e),
    }
    if matches!(file.get_str("tokenizer.ggml.model"), Ok(Some("gpt2"))) {
        match gguf::tokenizer(&file) {
            Ok(tok) => {
                if let Ok(e) = tok.encode_pair("Z correlates with Y. However, Z is independent of X.", "Z causes Y.") {
                    assert_eq!(e.ids.len(), e.attention_mask.len());
                    let _ = tok.decode(&e.ids, true);
                }
                if let Ok(e) = tok.encode("<s>a b\nab é 12") {
                    let _ = tok.decode(&e.ids, false);
                    let _ = tok.tokens(&e.ids);
                }
            }
            Err(e) => one_line(&e),
        }
    }
    match ChatTemplate::from_gguf(&file) {
        Ok(Some(t)) => {
            let messages = [ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "Does Z cause Y?")];
            if let Err(e) = t.render(&messages, true) {
                one_line(&e);
            }
        }
        Ok(None) => {}
        Err(e) => one_line(&e),
    }
});
