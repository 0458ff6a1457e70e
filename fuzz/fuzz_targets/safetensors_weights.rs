//! Arbitrary bytes as a `model.safetensors`, through `WeightMap::read_safetensors` (header
//! parsing, dtype conversion to f32, the non-finite check). On success every tensor's shape
//! product equals its number of values and every value is finite.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use ntkgap::model::WeightMap;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ntkgap-fuzz-st-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("model.safetensors");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("temp write");
    if let Ok(map) = WeightMap::read_safetensors(&path) {
        for name in map.names() {
            let t = map.get(&name).expect("listed name");
            assert_eq!(t.shape.iter().product::<usize>(), t.data.len(), "{name}");
            assert!(t.data.iter().all(|v| v.is_finite()), "{name}");
        }
    }
});
