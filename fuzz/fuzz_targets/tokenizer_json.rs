//! Arbitrary bytes as a `tokenizer.json`: written to a temporary file and loaded through the
//! project's HF loader (`tokenize::load_with_max_length`, the path every subcommand takes); on
//! success one premise/hypothesis pair and one text are encoded. Note that most of the parsing
//! is the `tokenizers` crate's; a crash inside it is an upstream bug we must guard against.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use ntkgap_core::tokenize::load_with_max_length;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ntkgap-fuzz-tok-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("tokenizer.json");
    {
        let mut f = std::fs::File::create(&path).expect("temp file");
        f.write_all(data).expect("temp write");
    }
    if let Ok(tok) = load_with_max_length(path.to_str().expect("utf-8 temp path"), Some(32)) {
        let _ = tok.encode_pair("Z correlates with Y. However, Z is independent of X.", "Z directly causes Y.");
        let _ = tok.encode("Suppose there is a closed system of 3 variables.");
    }
});
