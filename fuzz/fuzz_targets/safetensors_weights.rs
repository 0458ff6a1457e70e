//! Arbitrary bytes as a `model.safetensors`, through `WeightMap::read_safetensors` (header
//! parsing, dtype conversion to f32) and then the model loader's checks (`WeightMap::take` and
//! `finish`). On success every tensor's shape product equals its number of values, and taking
//! every tensor at its own shape fails in `finish` exactly when some tensor holds a NaN or ±∞,
//! with the message naming such a tensor (the reader keeps non-finite values; the loader refuses
//! them, naming every offending tensor in one line).
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use ntkgap::model::WeightMap;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ntkgap-fuzz-st-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("model.safetensors");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("temp write");
    if let Ok(mut map) = WeightMap::read_safetensors(&path) {
        let mut non_finite = Vec::new();
        for name in map.names() {
            let shape = {
                let t = map.get(&name).expect("listed name");
                assert_eq!(t.shape.iter().product::<usize>(), t.data.len(), "{name}");
                if t.data.iter().any(|v| !v.is_finite()) {
                    non_finite.push(name.clone());
                }
                t.shape.clone()
            };
            map.take(&name, &shape);
        }
        match map.finish(&path) {
            Ok(()) => assert!(non_finite.is_empty(), "non-finite tensors accepted: {non_finite:?}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(non_finite.iter().any(|n| msg.contains(n.as_str())), "{msg}");
                assert!(!msg.contains('\n'), "one line: {msg}");
            }
        }
    }
});
