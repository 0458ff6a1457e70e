//! Arbitrary bytes as a JSONL file: every line through `JsonlReader` (with a small line limit so
//! the over-long-line path is reached), every record through `Record::input()` and
//! `binary_label()`. Errors are expected; panics, hangs and leaks are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntkgap_core::corpus::jsonl::JsonlReader;

fuzz_target!(|data: &[u8]| {
    for limit in [256, ntkgap_core::corpus::jsonl::MAX_LINE_BYTES] {
        let reader = JsonlReader::from_reader("fuzz.jsonl", std::io::Cursor::new(data.to_vec())).max_line_bytes(limit);
        for item in reader.take(10_000) {
            if let Ok((line, record)) = item {
                assert!(line >= 1);
                let _ = record.input();
                let _ = record.binary_label();
            }
        }
        let lenient = JsonlReader::from_reader("fuzz.jsonl", std::io::Cursor::new(data.to_vec())).any_fields();
        for (_, record) in lenient.take(10_000).flatten() {
            let _ = record.input();
        }
    }
});
