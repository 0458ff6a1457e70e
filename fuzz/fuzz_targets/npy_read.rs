//! Arbitrary bytes as an `.npy` file, through `files::npy::read` (the reader of `bound --gram`,
//! `--scores`, the demo's stage files). On success the array is consistent: the shape's product
//! equals the number of values, every value is finite, and writing it back as f64 and reading it
//! again gives the same array.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use ntkgap_core::files::npy;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ntkgap-fuzz-npy-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("in.npy");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("temp write");
    if let Ok(a) = npy::read(&path) {
        assert_eq!(a.shape().iter().product::<usize>(), a.values.len());
        assert!(a.values.iter().all(|v| v.is_finite()));
        let back = dir.join("back.npy");
        npy::write(&back, &a.values).expect("write back");
        let b = npy::read(&back).expect("read back");
        assert_eq!(a.values, b.values);
    }
});
