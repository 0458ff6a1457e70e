//! Arbitrary text as a hypothesis of an n-variable system (n from the first byte, 0..=70 so
//! that out-of-range sizes are covered): `parse_hypothesis` must return indices below n, two
//! distinct variables, or an error — never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntkgap_core::corpus::hypothesis::parse_hypothesis;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let n = usize::from(first % 71);
    if let Ok((_, a, b)) = parse_hypothesis(text, n) {
        assert!(a < n && b < n && a != b, "parse_hypothesis({text:?}, {n}) gave ({a}, {b})");
    }
});
