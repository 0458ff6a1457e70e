//! Arbitrary bytes as a model `config.json`, through `ModelConfig::from_file` (the path every
//! model-loading subcommand takes). On success the validated config must allow every derived size
//! to be computed without overflow or panic (`parameter_count`, `head_size`, `max_input_length`,
//! `architecture`, `activation`) and must serialize back to Hugging Face JSON. Nothing is ever
//! allocated from the sizes: that is the point of validating first.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use ntkgap::model::ModelConfig;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ntkgap-fuzz-config-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("config.json");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("temp write");
    if let Ok(config) = ModelConfig::from_file(&path) {
        assert!(config.architecture().is_ok() && config.activation().is_ok());
        assert!(config.parameter_count() > 0);
        assert!(config.head_size() > 0);
        let _ = config.max_input_length();
        let json = config.to_hf_json().expect("a validated config serializes");
        let again: ModelConfig = serde_json::from_value(json).expect("and parses back");
        assert!(again.validate().is_ok(), "round trip of a valid config became invalid");
    }
});
