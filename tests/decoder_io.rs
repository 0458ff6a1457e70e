//! Loading decoders: bad configs and label words refused in one line (exit 2), decoders refused
//! by the encoder-only subcommands, sharded and bare checkpoints, φ(x) as the input of the
//! unembedding (f = ⟨W_U[yes] − W_U[no], φ⟩), and `builtin:tiny-decoder`.

use std::path::{Path, PathBuf};
use std::process::Output;

use burn::tensor::Device;
use ntkgap::model::decoder::{DecoderBatch, LoadedDecoder, Readout};
use ntkgap::model::dense::tensor_to_host;
use ntkgap::model::{load_any, AnyModel, DecoderOptions, LoadOptions, ModelSpec, WeightMap};
use ntkgap::tokenize::pad_batch;

use crate::common::{ntkgap, s, stderr};
use crate::decoder_parity::load_decoder;

fn llama_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/decoders/llama_tiny")
}

fn assert_bad_input(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "expected exit 2, stderr: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

/// A copy of `llama_tiny` whose config.json went through `edit`.
fn edited_copy(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let out = dir.join("model");
    std::fs::create_dir_all(&out).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(llama_dir().join(f), out.join(f)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(llama_dir().join("config.json")).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(out.join("config.json"), config.to_string()).unwrap();
    out
}

fn input(dir: &Path) -> PathBuf {
    let path = dir.join("in.jsonl");
    std::fs::write(&path, "{\"text\": \"Does Z cause Y? Answer:\"}\n{\"premise\": \"Z correlates with Y.\", \"hypothesis\": \"Z causes Y.\"}\n").unwrap();
    path
}

fn forward(model: &str, input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["forward", "--model", model, "--input", s(input), "--out", s(out)];
    args.extend_from_slice(extra);
    ntkgap(&args)
}

/// An edit of a config.json.
type Edit = fn(&mut serde_json::Value);

#[test]
fn bad_configs_are_refused_in_one_line() {
    let cases: [(&str, Edit, &str); 5] = [
        ("unknown model type", |c| c["model_type"] = "falcon".into(), "unsupported architecture `falcon`"),
        (
            "scaled RoPE",
            |c| c["rope_parameters"] = serde_json::json!({"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0}),
            "RoPE type `yarn` is not supported",
        ),
        (
            "heads not dividing hidden",
            |c| {
                c["num_attention_heads"] = 5.into();
                c.as_object_mut().unwrap().remove("head_dim");
            },
            "5 does not divide hidden_size 32",
        ),
        (
            "kv heads not dividing heads",
            |c| c["num_key_value_heads"] = 3.into(),
            "3 does not divide num_attention_heads 4",
        ),
        ("old-style scaling", |c| c["rope_scaling"] = serde_json::json!({"type": "linear", "factor": 2.0}), "`linear`"),
    ];
    for (what, edit, needle) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = edited_copy(tmp.path(), edit);
        let out = forward(s(&dir), &input(tmp.path()), &tmp.path().join("l.npy"), &[]);
        assert_bad_input(&out, needle);
        assert!(!tmp.path().join("l.npy").exists(), "{what}: output written");
    }
}

#[test]
fn label_words_must_be_one_token_each() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("l.npy");
    let run = forward(s(&llama_dir()), &input(tmp.path()), &out, &["--label-words", " No", " Maybe"]);
    assert_bad_input(&run, "\" Maybe\" is 6 tokens");
    let seqcls = llama_dir().with_file_name("llama_seqcls_tiny");
    let run = forward(s(&seqcls), &input(tmp.path()), &out, &["--label-words", " No", " Yes"]);
    assert_bad_input(&run, "sequence-classification head");
    let run = forward("builtin:tiny", &input(tmp.path()), &out, &["--label-words", " No", " Yes"]);
    assert_bad_input(&run, "decoder language models only");
    // Other one-token words work: "No" without the space is token 'No'.
    let run = forward(s(&llama_dir()), &input(tmp.path()), &out, &["--label-words", "No", " Yes"]);
    assert!(run.status.success(), "{}", stderr(&run));
}

#[test]
fn eval_loads_a_decoder_and_refuses_unlabelled_data_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = input(tmp.path());
    // `eval` takes decoders (tests/decoder_train.rs): it loads this one and reads the data.
    let out = ntkgap(&["eval", "--model", s(&llama_dir()), "--data", s(&data), "--out", s(&tmp.path().join("e.json"))]);
    assert_bad_input(&out, "record has no label");
}

fn logits_of(loaded: &LoadedDecoder, device: &Device) -> Vec<f32> {
    let texts = ["Does Z cause Y? Answer:", "Z correlates with Y."];
    let encodings: Vec<_> = texts.iter().map(|t| loaded.tokenizer.encode(t).unwrap()).collect();
    let padded = pad_batch(&encodings, loaded.tokenizer.pad_id().unwrap()).unwrap();
    let batch = DecoderBatch::new(&padded, &loaded.model.config, device).unwrap();
    tensor_to_host(loaded.model.vocab_logits(&batch, None).unwrap()).unwrap().data
}

fn load_dir(dir: &Path, device: &Device) -> LoadedDecoder {
    let spec = ModelSpec::Dir(dir.to_path_buf());
    match load_any(&spec, &LoadOptions::default(), &DecoderOptions::default(), device).unwrap() {
        AnyModel::Decoder(d) => *d,
        AnyModel::Encoder(_) => panic!("loaded as an encoder"),
    }
}

#[test]
fn sharded_and_bare_checkpoints_load_the_same_model() {
    let device = Device::flex();
    let reference = logits_of(&load_decoder("llama_tiny", &device), &device);
    let weights = WeightMap::read_safetensors(&llama_dir().join("model.safetensors")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Sharded: layer 1 in a second file, listed by an index.
    let sharded = tmp.path().join("sharded");
    std::fs::create_dir_all(&sharded).unwrap();
    let (mut first, mut second, mut index) = (WeightMap::new(), WeightMap::new(), serde_json::Map::new());
    for name in weights.names() {
        let (map, file) =
            if name.contains("layers.1.") { (&mut second, "b.safetensors") } else { (&mut first, "a.safetensors") };
        map.insert(name.clone(), weights.get(&name).unwrap().clone());
        index.insert(name, file.into());
    }
    first.write_safetensors(&sharded.join("a.safetensors")).unwrap();
    second.write_safetensors(&sharded.join("b.safetensors")).unwrap();
    let index = serde_json::json!({"metadata": {}, "weight_map": index});
    std::fs::write(sharded.join("model.safetensors.index.json"), index.to_string()).unwrap();
    // Bare: `LlamaModel` names without the `model.` prefix.
    let bare = tmp.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    let mut renamed = WeightMap::new();
    for name in weights.names() {
        renamed.insert(name.strip_prefix("model.").unwrap().to_string(), weights.get(&name).unwrap().clone());
    }
    renamed.write_safetensors(&bare.join("model.safetensors")).unwrap();
    for dir in [&sharded, &bare] {
        for f in ["config.json", "tokenizer.json"] {
            std::fs::copy(llama_dir().join(f), dir.join(f)).unwrap();
        }
        assert_eq!(logits_of(&load_dir(dir, &device), &device), reference, "{}", dir.display());
    }
    // A missing shard is named.
    std::fs::remove_file(sharded.join("b.safetensors")).unwrap();
    let spec = ModelSpec::Dir(sharded.clone());
    let e = load_any(&spec, &LoadOptions::default(), &DecoderOptions::default(), &device).err().unwrap().to_string();
    assert!(e.contains("shard b.safetensors is missing"), "{e}");
}

#[test]
fn the_margin_is_linear_in_phi() {
    // f(x) = z_yes − z_no = ⟨W_U[yes] − W_U[no], φ(x)⟩ for a tied (GPT-2) and an untied model.
    let device = Device::flex();
    for name in ["gpt2_tiny", "llama_untied_tiny"] {
        let loaded = load_decoder(name, &device);
        let Readout::LabelWords { ids, .. } = loaded.model.readout.clone() else { panic!("{name}: no label words") };
        let encodings: Vec<_> =
            ["Does Z cause Y? Answer:", "A B C"].iter().map(|t| loaded.tokenizer.encode(t).unwrap()).collect();
        let padded = pad_batch(&encodings, loaded.tokenizer.pad_id().unwrap()).unwrap();
        let batch = DecoderBatch::new(&padded, &loaded.model.config, &device).unwrap();
        let phi = tensor_to_host(loaded.model.features(&batch, None)).unwrap();
        let score = tensor_to_host(loaded.model.score(&batch, None)).unwrap().data;
        let weights = loaded.model.to_weights().unwrap();
        let table = weights.get("lm_head.weight").or_else(|| weights.get("transformer.wte.weight")).unwrap();
        let h = phi.shape[1];
        let row = |id: u32| &table.data[id as usize * h..(id as usize + 1) * h];
        for (i, f) in score.iter().enumerate() {
            let phi_i = &phi.data[i * h..(i + 1) * h];
            let linear: f32 = row(ids[1]).iter().zip(row(ids[0])).zip(phi_i).map(|((y, n), p)| (y - n) * p).sum();
            assert!((linear - f).abs() < 1e-4, "{name} row {i}: ⟨w, φ⟩ = {linear} vs f = {f}");
        }
    }
}

#[test]
fn builtin_tiny_decoder_is_seeded_and_forwards() {
    let tmp = tempfile::tempdir().unwrap();
    let data = input(tmp.path());
    let run = |seed: &str, name: &str| {
        let out = tmp.path().join(name);
        let r = forward("builtin:tiny-decoder", &data, &out, &["--seed", seed]);
        assert!(r.status.success(), "{}", stderr(&r));
        ntkgap::files::npy::read(&out).unwrap()
    };
    let (a, b, c) = (run("1", "a.npy"), run("1", "b.npy"), run("2", "c.npy"));
    assert_eq!(a.shape(), vec![2, 2]);
    assert_eq!(a.as_slice(), b.as_slice());
    assert_ne!(a.as_slice(), c.as_slice());
    let spec = ModelSpec::parse("builtin:tiny-decoder").unwrap();
    let options = LoadOptions { seed: 1, head_file: None };
    let Ok(AnyModel::Decoder(loaded)) = load_any(&spec, &options, &DecoderOptions::default(), &Device::flex()) else {
        panic!("builtin:tiny-decoder is a decoder")
    };
    let encoding = loaded.tokenizer.encode("Is Z a cause of Y ? Answer :").unwrap();
    assert_eq!(loaded.tokenizer.tokens(&encoding.ids[..2]), ["[CLS]", "Is"], "BOS-style [CLS], no [SEP]");
    assert_eq!(loaded.tokenizer.tokens(&encoding.ids[encoding.len() - 1..]), [":"]);
    assert!(loaded.model.config.tie_word_embeddings && loaded.initialised.len() > 10);
}

#[test]
fn mistral_is_the_llama_layout_with_a_window_on_the_input_length() {
    let device = Device::flex();
    let reference = logits_of(&load_decoder("llama_tiny", &device), &device);
    let tmp = tempfile::tempdir().unwrap();
    let dir = edited_copy(tmp.path(), |c| {
        c["model_type"] = "mistral".into();
        c["sliding_window"] = 10.into();
    });
    let mistral = load_dir(&dir, &device);
    assert_eq!(logits_of(&mistral, &device), reference);
    // Prompts are never cut: a longer one encodes whole, and a batch refuses it (a JSONL file
    // holding any is refused with a count, see bad_inputs.rs).
    let encoded = mistral.tokenizer.encode("Does Z cause Y? Answer: No").unwrap();
    assert!(encoded.len() > 10 && mistral.tokenizer.max_length() == 10, "{encoded:?}");
    let padded = pad_batch(&[encoded], mistral.tokenizer.pad_id().unwrap()).unwrap();
    let e = DecoderBatch::new(&padded, &mistral.model.config, &device).unwrap_err().to_string();
    assert!(e.contains("exceed the model's maximum input length 10"), "{e}");
}
