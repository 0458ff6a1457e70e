//! The shared-prefix cache of decoder inference: prompts that share their first tokens (ICL
//! demonstrations) give the same readout logits whether the prefix runs once and is attended to
//! from the cache, or every prompt runs whole — for the Llama family (RoPE, grouped-query
//! attention, Qwen2's biases) and GPT-2 (learned positions), at batch sizes that mix lengths.

use burn::tensor::Device;
use ntkgap::model::decoder::infer::{
    features, logits, logits_with, margins, margins_with, shared_prefix, PrefixMemo, MIN_SHARED_PREFIX,
};
use ntkgap::model::decoder::{DecoderBatch, LoadedDecoder};
use ntkgap::model::dense::tensor_to_host;
use ntkgap::tokenize::{pad_batch, Encoding};

use crate::decoder_parity::load_decoder;

fn encoding(ids: Vec<u32>) -> Encoding {
    let n = ids.len();
    Encoding { ids, token_type_ids: vec![0; n], attention_mask: vec![1; n], truncated: false }
}

/// Prompts of a 24-token shared prefix and 1..=7 tokens of their own (the lengths differ, so
/// the batches are right-padded), ids drawn from the vocabulary deterministically.
fn prompts(vocab: u32) -> Vec<Encoding> {
    let id = |i: u32| (i * 7919 + 13) % vocab;
    let prefix: Vec<u32> = (0..24).map(id).collect();
    (1..=7u32)
        .map(|own| {
            let mut ids = prefix.clone();
            ids.extend((0..own).map(|j| id(100 + 31 * own + j)));
            encoding(ids)
        })
        .collect()
}

/// Each prompt alone, no cache.
fn whole(loaded: &LoadedDecoder, encodings: &[Encoding], device: &Device) -> Vec<Vec<f32>> {
    encodings
        .iter()
        .map(|e| {
            let batch =
                DecoderBatch::new(&pad_batch(std::slice::from_ref(e), 0).unwrap(), &loaded.model.config, device);
            tensor_to_host(loaded.model.logits(&batch.unwrap(), None)).unwrap().data
        })
        .collect()
}

#[test]
fn cached_prefix_gives_the_logits_of_whole_prompts() {
    let device = Device::flex();
    for name in ["llama_tiny", "llama_untied_tiny", "qwen2_tiny", "gpt2_tiny", "llama_seqcls_tiny", "gpt2_seqcls_tiny"]
    {
        let loaded = load_decoder(name, &device);
        let encodings = prompts(loaded.model.config.vocab_size as u32);
        assert_eq!(shared_prefix(&encodings), 24, "{name}");
        const { assert!(24 >= MIN_SHARED_PREFIX, "the test must exercise the cache") };
        let reference = whole(&loaded, &encodings, &device);
        for batch_size in [1, 3, 7] {
            let cached = logits(&loaded.model, &encodings, 0, batch_size, &device, |_| {}).unwrap();
            for (i, row) in reference.iter().enumerate() {
                for (j, &want) in row.iter().enumerate() {
                    let got = cached[[i, j]];
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "{name}, batch {batch_size}, prompt {i}, logit {j}: cached {got} vs whole {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_shared_prefix_leaves_each_prompt_a_token_and_ignores_short_overlaps() {
    let e = |ids: &[u32]| encoding(ids.to_vec());
    // Identical prompts: all but the last token is shared.
    assert_eq!(shared_prefix(&[e(&[1, 2, 3]), e(&[1, 2, 3])]), 2);
    // One prompt is a prefix of the other: the shorter keeps its last token.
    assert_eq!(shared_prefix(&[e(&[1, 2, 3, 4]), e(&[1, 2])]), 1);
    assert_eq!(shared_prefix(&[e(&[5, 2]), e(&[1, 2])]), 0);
    assert_eq!(shared_prefix(&[]), 0);
}

/// Three batches behind the same 24 demonstration tokens, each with its own 3-token question
/// stem shared inside the batch: the memo first caches 27 tokens, narrows to the 24 the
/// batches share, then reuses them; every margin equals the whole prompt's.
#[test]
fn a_memo_settles_on_the_prefix_every_call_shares() {
    let device = Device::flex();
    let loaded = load_decoder("llama_tiny", &device);
    let vocab = loaded.model.config.vocab_size as u32;
    let demos: Vec<u32> = (0..24).map(|i| (i * 7919 + 13) % vocab).collect();
    let call = |stem: u32| -> Vec<Encoding> {
        (1..=4u32)
            .map(|own| {
                let mut ids = demos.clone();
                ids.extend([stem, stem + 1, stem + 2]);
                ids.extend((0..own).map(|j| (stem * 31 + own * 17 + j) % vocab));
                encoding(ids)
            })
            .collect()
    };
    let memo = PrefixMemo::default();
    for (stem, cached) in [(40, 27), (50, 24), (60, 24)] {
        let encodings = call(stem);
        let got = margins_with(&loaded.model, &encodings, 0, (2, &device), &memo).unwrap();
        assert_eq!(memo.len(), cached, "stem {stem}");
        let whole: Vec<f32> = encodings
            .iter()
            .map(|e| margins(&loaded.model, std::slice::from_ref(e), 0, 1, &device).unwrap()[0])
            .collect();
        for (g, w) in got.iter().zip(&whole) {
            assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "stem {stem}: memo {g} vs whole {w}");
        }
    }
}

/// Prompts of 1 to 150 tokens sharing nothing (lengths across the causal tiles of 64), two of
/// them left-padded to 150 (padding first, as `generate` batches are).
fn unrelated(vocab: u32) -> Vec<Encoding> {
    let mut out: Vec<Encoding> = [1u32, 2, 9, 63, 64, 65, 130, 150]
        .iter()
        .map(|&len| encoding((0..len).map(|j| (j * 104_729 + len * 7 + 3) % vocab).collect()))
        .collect();
    for len in [5u32, 90] {
        let pad = 150 - len as usize;
        let mut e = encoding((0..len).map(|j| (j * 31 + len) % vocab).collect());
        e.ids.splice(0..0, std::iter::repeat_n(0, pad));
        e.token_type_ids = vec![0; 150];
        e.attention_mask.splice(0..0, std::iter::repeat_n(0, pad));
        out.push(e);
    }
    out
}

/// On the CPU the Llama family runs the hand-written forward (`ntk::fastfb::llama::infer`);
/// its logits, margins and φ equal burn's (`PrefixMemo::burn`, `DecoderLm::features`) to f32
/// rounding, with and without a shared prefix, at batch sizes that mix lengths and padding sides.
#[test]
fn the_hand_written_cpu_forward_gives_burns_outputs() {
    let device = Device::flex();
    let close = |what: &str, got: f32, want: f32| {
        assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "{what}: hand-written {got} vs burn {want}");
    };
    for name in ["llama_tiny", "llama_untied_tiny", "qwen2_tiny", "llama_seqcls_tiny"] {
        let loaded = load_decoder(name, &device);
        let model = &loaded.model;
        let vocab = model.config.vocab_size as u32;
        assert!(ntkgap::ntk::fastfb::llama::HostLlama::supports(model), "{name} takes the hand-written path");
        for (set, encodings) in [("shared prefix", prompts(vocab)), ("unrelated", unrelated(vocab))] {
            for batch_size in [1, 4, 16] {
                let what = format!("{name}, {set}, batch {batch_size}");
                let host =
                    logits_with(model, &encodings, 0, (batch_size, &device), &PrefixMemo::default(), |_| {}).unwrap();
                let burn =
                    logits_with(model, &encodings, 0, (batch_size, &device), &PrefixMemo::burn(), |_| {}).unwrap();
                assert_eq!(host.dim(), burn.dim(), "{what}");
                for ((i, j), &want) in burn.indexed_iter() {
                    close(&format!("{what}, prompt {i}, logit {j}"), host[[i, j]], want);
                }
                let host = margins(model, &encodings, 0, batch_size, &device).unwrap();
                let burn = margins_with(model, &encodings, 0, (batch_size, &device), &PrefixMemo::burn()).unwrap();
                for (i, (&got, &want)) in host.iter().zip(&burn).enumerate() {
                    close(&format!("{what}, prompt {i}, margin"), got, want);
                }
            }
            let phi = features(model, &encodings, 0, 4, &device).unwrap();
            for (i, e) in encodings.iter().enumerate() {
                let batch = DecoderBatch::new(&pad_batch(std::slice::from_ref(e), 0).unwrap(), &model.config, &device);
                let want = tensor_to_host(model.features(&batch.unwrap(), None)).unwrap().data;
                for (j, (&got, &want)) in phi.row(i).iter().zip(&want).enumerate() {
                    close(&format!("{name}, {set}, prompt {i}, φ {j}"), got, want);
                }
            }
        }
    }
}
