//! GGUF reading: dequantization bit-exact with gguf-py for every supported type, metadata of
//! every value type, shapes, alignment, version 2, and the refusal of an unsupported type.
//!
//! Fixtures: tests/data/gguf/ (`scripts/make_gguf_fixtures.py --part types`).

use std::path::PathBuf;

use serde::Deserialize;

use ntkgap_core::gguf::{GgmlType, GgufFile, MetadataArray, MetadataValue};

use crate::prereq::root;

fn data(name: &str) -> PathBuf {
    root().join("tests/data/gguf").join(name)
}

#[derive(Deserialize)]
struct TypeCase {
    #[serde(rename = "type")]
    ty: String,
    file: String,
    expected: String,
    shape: Vec<usize>,
}

#[derive(Deserialize)]
struct Types {
    tensors: Vec<TypeCase>,
}

#[test]
fn every_supported_type_dequantizes_bit_exactly_like_gguf_py() {
    let types: Types = serde_json::from_str(&std::fs::read_to_string(data("types.json")).unwrap()).unwrap();
    let mut seen = Vec::new();
    for case in &types.tensors {
        let file = GgufFile::open(data(&case.file)).unwrap();
        let info = file.tensor("weight").unwrap();
        assert_eq!(info.ggml_type().name(), case.ty);
        assert_eq!(info.shape(), case.shape.as_slice(), "{}", case.ty);
        let (shape, values) = file.read_f32("weight").unwrap();
        assert_eq!(shape, case.shape);
        let bytes = std::fs::read(data(&case.expected)).unwrap();
        let expected: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values.len(), expected.len(), "{}", case.ty);
        for (i, (got, want)) in values.iter().zip(&expected).enumerate() {
            assert_eq!(got.to_bits(), *want, "{} value {i}: {got} vs {}", case.ty, f32::from_bits(*want));
        }
        seen.push(info.ggml_type());
    }
    for ty in GgmlType::SUPPORTED {
        assert!(seen.contains(&ty), "no fixture for {ty}");
    }
}

#[test]
fn unsupported_type_is_refused_in_one_line_naming_tensor_and_type() {
    let path = data("iq2_xxs.gguf");
    let file = GgufFile::open(&path).unwrap();
    assert_eq!(file.tensor("weight").unwrap().ggml_type(), GgmlType::IQ2_XXS);
    assert_eq!(file.read_raw("weight").unwrap().len(), 66);
    let err = file.read_f32("weight").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: tensor weight has type IQ2_XXS, which ntkgap cannot read (supported: F32, F16, BF16, Q4_0, Q4_1, \
             Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
            path.display()
        )
    );
}

#[test]
fn metadata_of_every_value_type_matches_gguf_py() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("metadata.json")).unwrap()).unwrap();
    let file = GgufFile::open(data("metadata.gguf")).unwrap();
    assert_eq!(file.version(), 3);
    let values = expected["values"].as_object().unwrap();
    assert_eq!(file.metadata().len(), values.len());
    for (key, want) in values {
        let got = file.get(key).unwrap_or_else(|| panic!("{key} missing")).to_json();
        assert_eq!(&got, want, "{key}");
    }
    // Typed getters and their refusals.
    assert_eq!(file.get_u64("t.u16").unwrap(), Some(60000));
    assert!(file.get_u32("t.u64").unwrap_err().to_string().contains("t.u64 is a u64"));
    assert!(file.get_u64("t.i8").is_err(), "negative values are not u64");
    assert_eq!(file.get_f32("t.f32").unwrap(), Some(0.1));
    assert_eq!(file.get_f64("t.f64").unwrap(), Some(2.5e-300));
    assert_eq!(file.get_bool("t.bool").unwrap(), Some(true));
    assert_eq!(file.require_str("t.str").unwrap(), "naïve café 日本語 🎉");
    assert_eq!(file.get_str("absent").unwrap(), None);
    let err = file.require_u64("llama.block_count").unwrap_err().to_string();
    assert!(err.ends_with("metadata.gguf: metadata key llama.block_count is missing"), "{err}");
    let err = file.require_str("t.u8").unwrap_err().to_string();
    assert!(err.ends_with("metadata key t.u8 is a u8 (200), expected a string"), "{err}");
    let strs = file.require_array("a.str").unwrap();
    assert_eq!(strs.as_strs().unwrap(), ["", "a b", "Ġworld", "<|im_start|>"]);
    assert_eq!(file.require_array("a.i32").unwrap().to_ints().unwrap(), [-1, 3, 2147483647]);
    match file.get("a.nested2") {
        Some(MetadataValue::Array(MetadataArray::Array(outer))) => {
            assert_eq!(outer.len(), 2);
            assert!(matches!(&outer[0], MetadataArray::Array(inner) if inner.len() == 2));
        }
        other => panic!("a.nested2: {other:?}"),
    }
    assert_eq!(file.get("a.nested").unwrap().type_name(), "array of array");
}

#[test]
fn shapes_offsets_alignment_and_lazy_reads() {
    let f16 = GgufFile::open(data("f16.gguf")).unwrap();
    let info = f16.tensor("weight").unwrap();
    assert_eq!(info.shape(), [2, 3, 8]); // the file lists ne = [8, 3, 2]
    assert_eq!((info.n_elements(), info.n_bytes()), (48, 96));
    assert_eq!(f16.alignment(), 32);
    assert_eq!(f16.data_offset() % 32, 0);
    assert_eq!(info.offset(), f16.data_offset());
    assert!(f16.data_offset() + 96 <= f16.file_len());

    let q8 = GgufFile::open(data("q8_0.gguf")).unwrap();
    assert_eq!(q8.alignment(), 64, "general.alignment = 64");
    assert_eq!(q8.data_offset() % 64, 0);
    assert_eq!(q8.get_u32("general.alignment").unwrap(), Some(64));
    let raw = q8.read_raw("weight").unwrap();
    assert_eq!(raw.len(), 8 * 34);
    let bytes = std::fs::read(data("q8_0.gguf")).unwrap();
    let at = q8.data_offset() as usize;
    assert_eq!(raw, bytes[at..at + raw.len()]);
    assert!(q8.read_f32("nope").unwrap_err().to_string().ends_with("no tensor named nope"));
}

#[test]
fn version_2_files_read_like_version_3() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data("q4_k.gguf")).unwrap();
    bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
    let path = dir.path().join("v2.gguf");
    std::fs::write(&path, bytes).unwrap();
    let v2 = GgufFile::open(&path).unwrap();
    let v3 = GgufFile::open(data("q4_k.gguf")).unwrap();
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.read_f32("weight").unwrap(), v3.read_f32("weight").unwrap());
}

#[test]
fn big_tensors_dequantize_in_parallel_chunks_identically() {
    // Many blocks (more than one rayon task) give the same values as block-by-block reads.
    let file = GgufFile::open(data("q6_k.gguf")).unwrap();
    let raw = file.read_raw("weight").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (blocks, have) = (2000usize, raw.len() / 210);
    let mut big = Vec::with_capacity(blocks * 210);
    for b in 0..blocks {
        big.extend_from_slice(&raw[(b % have) * 210..(b % have + 1) * 210]);
    }
    let path = dir.path().join("big.gguf");
    crate::gguf_errors::GgufBuilder::new().tensor("w", &[blocks as u64 * 256], GgmlType::Q6_K.id(), big).write(&path);
    let (_, values) = GgufFile::open(&path).unwrap().read_f32("w").unwrap();
    let (_, small) = file.read_f32("weight").unwrap();
    for b in 0..blocks {
        let want = &small[(b % have) * 256..(b % have + 1) * 256];
        assert_eq!(&values[b * 256..(b + 1) * 256], want, "block {b}");
    }
}
