//! The decoder eNTK in f64 (docs/ntk.md "Decoders", "Correctness checks"): the f64 trick of
//! `tests/ntk_finite_diff.rs` (burn's `flex` device with F64 as its default float dtype, set
//! before any tensor exists) works for the decoders unchanged — weights, masks, RoPE tables and
//! probes all become f64. Each test runs in a fresh child process of this binary.
//!
//! * K(xᵢ, xⱼ) = d/dt f(xᵢ; θ + t ∇f(xⱼ)) at t = 0: on `builtin:tiny-decoder` (tied embeddings,
//!   GQA) and `gpt2_tiny` (tied, learned positions, Conv1D), with prompts that contain the label
//!   words, f64 ⟨∇f(xᵢ), ∇f(xⱼ)⟩ and `ntk::gram` (`Naive` and `PerLayer`, blocks of 2, which
//!   merge the tied unembedding into the token table) against Richardson-extrapolated central
//!   differences (the tied table perturbed as one parameter, so both of its uses move).
//! * `PerLayer` = `Naive` on `qwen2_tiny` and `llama_untied_tiny` for every output mode, blocks
//!   of 3 with left-padded encodings: in f32 the two differ by burn's batched-vs-single f32
//!   rounding (up to ≈ 1.2e-5 of mean |K| on these σ = 0.25 models); in f64 arithmetic only the
//!   f32 read-back of the signals remains.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{DType, Tensor, TensorData};
use ntkgap::model::decoder::{DecoderLm, LoadedDecoder};
use ntkgap::model::{load_any, AnyModel, DecoderOptions, LoadOptions, ModelSpec};
use ntkgap::ntk::{gram, GramOptions, NtkMethod, NtkModel, OutputMode};
use ntkgap::tokenize::{pad_batch, Encoding};

use crate::common::f64::{device, in_fresh_process};
use crate::common::params::{dot, gradients, ParamVectors};

/// Central-difference step per unit RMS of the direction.
const STEP: f64 = 1e-6;

/// Prompts of mixed lengths holding the label words (so the tied cross terms are not zero).
const TEXTS: [&str; 3] =
    ["Does Z cause Y? Answer: Yes", "Z correlates with Y. No. Is the hypothesis true? Answer:", "Yes or No? Answer:"];

fn decoder(name: &str) -> LoadedDecoder {
    let spec = if name == "builtin:tiny-decoder" {
        ModelSpec::BuiltinDecoder
    } else {
        ModelSpec::Dir(format!("{}/tests/data/decoders/{name}", env!("CARGO_MANIFEST_DIR")).into())
    };
    let options = LoadOptions { seed: 5, head_file: None };
    match load_any(&spec, &options, &DecoderOptions::default(), &device()).unwrap() {
        AnyModel::Decoder(d) => *d,
        AnyModel::Encoder(_) => unreachable!("a decoder"),
    }
}

fn inputs(loaded: &LoadedDecoder) -> (Vec<Encoding>, u32) {
    (TEXTS.iter().map(|t| loaded.tokenizer.encode(t).unwrap()).collect(), loaded.tokenizer.pad_id().unwrap())
}

/// f(x) as an f64 scalar tensor `[1]`.
fn score(model: &DecoderLm, e: &Encoding, pad: u32) -> Tensor<1> {
    NtkModel::margin(model, &pad_batch(std::slice::from_ref(e), pad).unwrap(), &device(), None).unwrap()
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().try_into_vec::<f64>().unwrap()[0]
}

/// θ ↦ θ + step·direction, every parameter tensor in visiting order (a tied table once).
struct Displace<'a> {
    direction: &'a ParamVectors<f64>,
    step: f64,
    index: usize,
}

impl ModuleMapper for Displace<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.direction[self.index].clone();
        self.index += 1;
        let step = self.step;
        param.map(|theta| {
            let v = Tensor::<D>::from_data(TensorData::new(values, theta.dims()), &theta.device());
            theta.detach() + v * step
        })
    }
}

fn central_difference(model: &DecoderLm, e: &Encoding, pad: u32, v: &ParamVectors<f64>, h: f64) -> f64 {
    let at = |step: f64| scalar(score(&model.clone().map(&mut Displace { direction: v, step, index: 0 }), e, pad));
    (at(h) - at(-h)) / (2.0 * h)
}

/// (4 D(h) − D(2h)) / 3, O(h⁴).
fn extrapolated(model: &DecoderLm, e: &Encoding, pad: u32, v: &ParamVectors<f64>, h: f64) -> f64 {
    (4.0 * central_difference(model, e, pad, v, h) - central_difference(model, e, pad, v, 2.0 * h)) / 3.0
}

/// max |Δ| / mean |K|.
fn relative_difference(got: &[f64], reference: &[f64]) -> f64 {
    let scale = reference.iter().map(|v| v.abs()).sum::<f64>() / reference.len() as f64;
    got.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale
}

#[test]
fn decoder_gram_entries_are_central_differences() {
    if !in_fresh_process(module_path!(), "decoder_gram_entries_are_central_differences") {
        return;
    }
    for name in ["builtin:tiny-decoder", "gpt2_tiny"] {
        let loaded = decoder(name);
        let model = &loaded.model;
        let (x, pad) = inputs(&loaded);
        let f = score(model, &x[0], pad);
        assert_eq!(f.dtype(), DType::F64, "{name}: the forward runs in f64");
        let per_example: Vec<ParamVectors<f64>> =
            x.iter().map(|e| gradients(model, &score(model, e, pad).sum().backward())).collect();
        let n = x.len();
        let (mut by_differences, mut by_products) = (vec![0.0; n * n], vec![0.0; n * n]);
        for i in 0..n {
            for (j, u) in per_example.iter().enumerate() {
                let count: usize = u.iter().map(Vec::len).sum();
                let rms = (dot(u, u) / count as f64).sqrt();
                by_differences[i * n + j] = extrapolated(model, &x[i], pad, u, STEP / rms);
                by_products[i * n + j] = dot(&per_example[i], u);
            }
        }
        let rel = relative_difference(&by_products, &by_differences);
        eprintln!("{name}: f64 ⟨∇f(xᵢ), ∇f(xⱼ)⟩ vs central differences: {rel:.2e}");
        assert!(rel < 1e-9, "{name}: f64 inner products vs central differences: {rel:e}");
        for method in [NtkMethod::Naive, NtkMethod::PerLayer] {
            let options = GramOptions { method, block: 2, ..Default::default() };
            let k = gram(model, &x, None, pad, &options, &device(), &mut |_| {}).unwrap();
            let rel = relative_difference(k.as_slice(), &by_differences);
            eprintln!("{name}: ntk::gram ({method:?}) vs central differences: {rel:.2e}");
            assert!(rel < 1e-6, "{name}: ntk::gram ({method:?}) vs central differences: {rel:e}");
        }
    }
}

#[test]
fn per_layer_equals_naive_in_f64_with_padding_and_blocks() {
    if !in_fresh_process(module_path!(), "per_layer_equals_naive_in_f64_with_padding_and_blocks") {
        return;
    }
    for name in ["qwen2_tiny", "llama_untied_tiny"] {
        let loaded = decoder(name);
        let (plain, pad) = inputs(&loaded);
        // Example 1 arrives left-padded; blocks of 3 pad the others on the right.
        let mut x = plain.clone();
        let e = &mut x[1];
        e.ids.splice(0..0, [pad; 4]);
        e.token_type_ids.splice(0..0, [0; 4]);
        e.attention_mask.splice(0..0, [0; 4]);
        let (mut batching, mut methods) = (0.0f64, 0.0f64);
        for output in [OutputMode::Margin, OutputMode::Logit(0), OutputMode::Trace, OutputMode::Full, OutputMode::Pntk]
        {
            let run = |method, block, x: &[Encoding]| {
                let options = GramOptions { method, output, block, ..Default::default() };
                gram(&loaded.model, x, None, pad, &options, &device(), &mut |_| {}).unwrap()
            };
            let blocked = run(NtkMethod::PerLayer, 3, &x);
            let single = run(NtkMethod::PerLayer, 1, &plain);
            batching = batching.max(relative_difference(blocked.as_slice(), single.as_slice()));
            methods = methods.max(relative_difference(blocked.as_slice(), run(NtkMethod::Naive, 1, &x).as_slice()));
        }
        eprintln!(
            "{name}: f64, every mode: PerLayer blocks of 3 (padded) vs one by one {batching:.2e}; vs Naive {methods:.2e}"
        );
        assert!(batching < 1e-9, "{name}: f64 PerLayer, blocked vs one by one: {batching:e}");
        assert!(methods < 5e-6, "{name}: f64 PerLayer vs Naive: {methods:e}");
    }
}
