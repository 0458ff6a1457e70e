//! Arbitrary text as a premise: `Premise::parse`, and on success the round trip
//! `text() == input` and the MEC recovery `cpdag()` (which may refuse, never panic).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntkgap_core::corpus::premise::Premise;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(premise) = Premise::parse(text) {
        assert_eq!(premise.text(), text, "parse/text round trip");
        let _ = premise.cpdag();
    }
});
