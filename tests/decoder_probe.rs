//! The probe hook on the decoders (docs/science.md "The fast eNTK", "Decoders and the frozen-LLM
//! side"): after one backward pass of Σᵢ f(xᵢ), f = z_yes − z_no (or the classifier margin),
//! the per-example per-token output gradients of every probed layer, contracted with the
//! recorded inputs, reproduce burn's batch gradient of every parameter — Linear with and without
//! bias (GPT-2's Conv1D layout included), RMSNorm and LayerNorm weights, token and position
//! embeddings, and the tied embedding as the sum of its input and output uses. Probing does not
//! change the forward, probes are per example, and padding positions get no signal. The
//! per-example gradients give the eNTK `transformers` computed (`ntk_parity_*.json`).

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor};
use ntkgap::model::decoder::{pad_batch_left, DecoderBatch, LoadedDecoder};
use ntkgap::model::dense::tensor_to_host;
use ntkgap::model::{LayerKind, ProbeInput, ProbeSet};
use ntkgap::tokenize::pad_batch;

use crate::decoder_parity::load_decoder;

const TEXTS: [&str; 3] = [
    "Does Z cause Y? Answer:",
    "Premise: Suppose there is a closed system of 2 variables, Z and Y. All the statistical relations among these 2 variables are as follows: Z correlates with Y.\nHypothesis: Z directly causes Y.\nIs the hypothesis true? Answer:",
    "The quick brown fox jumps over the lazy dog.",
];

fn host<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let h = tensor_to_host(t).unwrap();
    (h.shape, h.data)
}

fn batch(loaded: &LoadedDecoder, texts: &[&str], left: bool, device: &Device) -> DecoderBatch {
    let encodings: Vec<_> = texts.iter().map(|t| loaded.tokenizer.encode(t).unwrap()).collect();
    let pad = loaded.tokenizer.pad_id().unwrap();
    let padded = if left { pad_batch_left(&encodings, pad) } else { pad_batch(&encodings, pad) }.unwrap();
    DecoderBatch::new(&padded, &loaded.model.config, device).unwrap()
}

/// Σ over rows of g ⊗ a as a `[d_out, d_in]` matrix.
fn outer_sum(a: &[f32], g: &[f32], d_in: usize, d_out: usize) -> Vec<f32> {
    let mut w = vec![0.0f32; d_out * d_in];
    for r in 0..a.len() / d_in {
        for o in 0..d_out {
            let go = g[r * d_out + o];
            for i in 0..d_in {
                w[o * d_in + i] += go * a[r * d_in + i];
            }
        }
    }
    w
}

fn column_sums(g: &[f32], d: usize) -> Vec<f32> {
    (0..d).map(|k| g.chunks(d).map(|row| row[k]).sum()).collect()
}

fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols * rows).map(|k| m[(k % rows) * cols + k / rows]).collect()
}

fn add(into: &mut BTreeMap<String, Vec<f32>>, name: String, values: Vec<f32>) {
    let slot = into.entry(name).or_insert_with(|| vec![0.0; values.len()]);
    slot.iter_mut().zip(values).for_each(|(s, v)| *s += v);
}

/// Every parameter gradient rebuilt from the probes, in checkpoint layout.
fn from_probes(probes: &ProbeSet, grads: &burn::tensor::Gradients, vocab: usize) -> BTreeMap<String, Vec<f32>> {
    let mut out = BTreeMap::new();
    for probe in probes.probes() {
        let (gshape, g) = host(probe.output_probe.grad(grads).expect("probe has a gradient"));
        let d_out = gshape[2];
        let weight = format!("{}.weight", probe.name);
        match (&probe.input, probe.kind) {
            (ProbeInput::Activation(a), LayerKind::Linear | LayerKind::LinearNoBias) => {
                let (ashape, a) = host(a.clone());
                let w = outer_sum(&a, &g, ashape[2], d_out);
                let conv1d = probe.name.contains(".attn.c_") || probe.name.contains(".mlp.c_");
                add(&mut out, weight, if conv1d { transpose(&w, d_out, ashape[2]) } else { w });
                if probe.kind.has_bias() {
                    add(&mut out, format!("{}.bias", probe.name), column_sums(&g, d_out));
                }
            }
            (ProbeInput::Activation(x_hat), LayerKind::LayerNorm | LayerKind::RmsNorm) => {
                let (_, x) = host(x_hat.clone());
                let gx: Vec<f32> = g.iter().zip(&x).map(|(a, b)| a * b).collect();
                add(&mut out, weight, column_sums(&gx, d_out));
                if probe.kind.has_bias() {
                    add(&mut out, format!("{}.bias", probe.name), column_sums(&g, d_out));
                }
            }
            (ProbeInput::TokenIds(ids), LayerKind::Embedding) => {
                let ids: Vec<i64> = ids.clone().into_data().convert::<i64>().try_into_vec::<i64>().unwrap();
                let rows = if probe.name.ends_with("wpe") { 256 } else { vocab };
                let mut table = vec![0.0f32; rows * d_out];
                for (r, &id) in ids.iter().enumerate() {
                    for k in 0..d_out {
                        table[id as usize * d_out + k] += g[r * d_out + k];
                    }
                }
                add(&mut out, weight, table);
            }
            other => panic!("unexpected probe {} {other:?}", probe.name),
        }
    }
    out
}

fn check_probes(name: &str, left: bool) {
    let device = Device::flex().autodiff();
    let loaded = load_decoder(name, &device);
    let b = batch(&loaded, &TEXTS, left, &device);
    let mut probes = ProbeSet::new();
    let grads = loaded.model.score(&b, Some(&mut probes)).sum().backward();
    let reference = loaded.model.gradients(&grads).unwrap();
    let rebuilt = from_probes(&probes, &grads, loaded.model.config.vocab_size);
    assert_eq!(
        rebuilt.keys().cloned().collect::<Vec<_>>(),
        reference.names(),
        "{name}: every parameter is probed, nothing else"
    );
    for (param, got) in &rebuilt {
        let want = &reference.get(param).unwrap().data;
        let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "{name} {param}: probe-derived gradient differs by {worst} (scale {scale})");
    }
    eprintln!("{name}: {} probes reproduce {} parameter gradients", probes.probes().len(), rebuilt.len());
}

#[test]
fn llama_tied_probes_reproduce_every_gradient() {
    check_probes("llama_tiny", true);
    let device = Device::flex().autodiff();
    let loaded = load_decoder("llama_tiny", &device);
    let mut probes = ProbeSet::new();
    let _ = loaded.model.score(&batch(&loaded, &TEXTS, false, &device), Some(&mut probes));
    let uses: Vec<LayerKind> =
        probes.probes().iter().filter(|p| p.name == "model.embed_tokens").map(|p| p.kind).collect();
    assert_eq!(uses, [LayerKind::Embedding, LayerKind::LinearNoBias], "tied embedding: input and output use");
}

#[test]
fn untied_qwen2_and_classifier_probes_reproduce_every_gradient() {
    for name in ["llama_untied_tiny", "qwen2_tiny", "llama_seqcls_tiny"] {
        check_probes(name, false);
    }
}

#[test]
fn gpt2_probes_reproduce_every_gradient() {
    check_probes("gpt2_tiny", true);
    check_probes("gpt2_seqcls_tiny", false);
}

#[test]
fn probes_are_per_example_and_padding_gets_no_signal() {
    let device = Device::flex().autodiff();
    let loaded = load_decoder("llama_tiny", &device);
    let layer = "model.layers.0.self_attn.q_proj";
    let signal = |texts: &[&str], left: bool| {
        let b = batch(&loaded, texts, left, &device);
        let mut probes = ProbeSet::new();
        let grads = loaded.model.score(&b, Some(&mut probes)).sum().backward();
        host(probes.get(layer).unwrap().output_probe.grad(&grads).unwrap())
    };
    let (shape, together) = signal(&TEXTS, true);
    let (t, d) = (shape[1], shape[2]);
    let (alone_shape, alone) = signal(&TEXTS[..1], false);
    let len = alone_shape[1];
    // Row 0 is left-padded: its real tokens are the last `len` positions.
    let row0 = &together[..t * d];
    let (pads, real) = row0.split_at((t - len) * d);
    assert!(pads.iter().all(|&v| v == 0.0), "padding positions carry signal");
    let worst = real.iter().zip(&alone).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "example 0 in a left-padded batch vs alone: {worst}");
    // Every position carries signal (causal attention), except the first query, which sees
    // one key only (its softmax is 1 whatever the query).
    assert!(alone.chunks(d).skip(1).all(|row| row.iter().any(|&v| v != 0.0)), "a position without signal");
}

#[test]
fn probing_does_not_change_the_forward() {
    let plain_device = Device::flex();
    let plain = load_decoder("qwen2_tiny", &plain_device);
    let (_, expected) = host(plain.model.score(&batch(&plain, &TEXTS, true, &plain_device), None));
    let device = Device::flex().autodiff();
    let loaded = load_decoder("qwen2_tiny", &device);
    let mut probes = ProbeSet::new();
    let (_, probed) = host(loaded.model.score(&batch(&loaded, &TEXTS, true, &device), Some(&mut probes)));
    for (a, b) in probed.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-5, "probed {a} vs plain {b}");
    }
}

/// The eNTK of f = z_yes − z_no over all parameters, one backward pass per example (the Naive
/// reference), equals the float64 Gram matrix `transformers` gave
/// (`tests/data/decoders/ntk_parity_*.json`), per parameter block too; so do f and φ.
#[test]
fn per_example_gradients_give_the_transformers_entk() {
    let device = Device::flex().autodiff();
    for name in ["llama_tiny", "gpt2_tiny"] {
        let path = format!("{}/tests/data/decoders/ntk_parity_{name}.json", env!("CARGO_MANIFEST_DIR"));
        let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let loaded = load_decoder(name, &device);
        let mut grads = Vec::new();
        for (i, ids) in expected["input_ids"].as_array().unwrap().iter().enumerate() {
            let ids: Vec<u32> = ids.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            let encoding = ntkgap::tokenize::Encoding {
                token_type_ids: vec![0; ids.len()],
                attention_mask: vec![1; ids.len()],
                ids,
                truncated: false,
            };
            let b = DecoderBatch::new(&pad_batch(&[encoding], 0).unwrap(), &loaded.model.config, &device).unwrap();
            let (_, phi) = host(loaded.model.features(&b, None));
            let want_phi: Vec<f64> =
                expected["phi_last"][i].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let phi_err = phi.iter().zip(&want_phi).map(|(a, b)| (f64::from(*a) - b).abs()).fold(0.0, f64::max);
            assert!(phi_err < 1e-4, "{name} example {i}: φ differs by {phi_err}");
            let score = loaded.model.score(&b, None);
            let f = f64::from(host(score.clone()).1[0]);
            assert!((f - expected["f_values"][i].as_f64().unwrap()).abs() < 1e-4, "{name} example {i}: f = {f}");
            grads.push(loaded.model.gradients(&score.sum().backward()).unwrap());
        }
        let names = grads[0].names();
        assert_eq!(names.len(), expected["parameter_names"].as_array().unwrap().len(), "{name}: parameter count");
        let n = grads.len();
        let mut k = vec![0.0f64; n * n];
        let mut worst_block = 0.0f64;
        for param in &names {
            let block = &expected["K_blocks"][param];
            assert!(block.is_array(), "{name}: no transformers block for {param}");
            let scale = block
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap())
                .fold(1e-12f64, |m, v| m.max(v.as_f64().unwrap().abs()));
            for i in 0..n {
                for j in 0..n {
                    let (a, b) = (&grads[i].get(param).unwrap().data, &grads[j].get(param).unwrap().data);
                    let v: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
                    k[i * n + j] += v;
                    worst_block = worst_block.max((v - block[i][j].as_f64().unwrap()).abs() / scale);
                }
            }
        }
        assert!(
            worst_block < 1e-4,
            "{name}: a parameter block of K differs by {worst_block:.2e} (relative to its largest entry)"
        );
        let want: Vec<f64> = expected["K"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
            .collect();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let worst = k.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
        assert!(worst < 1e-5, "{name}: K differs from transformers by {worst:.2e} (relative)");
        eprintln!("{name}: eNTK {n}×{n} within {worst:.2e} of transformers (relative; worst block {worst_block:.2e})");
    }
}
