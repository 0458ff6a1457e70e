//! The eNTK of decoders (docs/ntk.md "Decoders"): `PerLayer` equals the `Naive` reference twin
//! on `builtin:tiny-decoder`, `llama_tiny` (tied, GQA), `llama_untied_tiny`, `qwen2_tiny`
//! (q/k/v biases), `gpt2_tiny` (Conv1D, LayerNorm, learned positions) and the two sequence
//! classifiers, for every output mode and parameter subset, with mixed lengths and encodings
//! that arrive left-padded inside right-padded blocks; the tied embedding's Gram term is
//! rebuilt from its four parts (input, output and the two cross terms); `ntk::gram` matches the
//! float64 `transformers` eNTK of `tests/data/decoders/ntk_parity_*.json`; padding changes
//! nothing; the Llama family takes the fast signal path and GPT-2 falls back to burn's, and the
//! statistics say which ran; the last-layer
//! kernel's φ gives the margin exactly as ⟨w, φ⟩ + c.

use burn::tensor::Device;
use ntkgap::model::decoder::{DecoderLm, LoadedDecoder};
use ntkgap::model::dense::tensor_to_host;
use ntkgap::model::{
    load, load_any, AnyModel, BuiltinSize, DecoderOptions, LoadOptions, ModelSpec, ProbeInput, ProbeSet,
};
use ntkgap::ntk::signals::block_signals;
use ntkgap::ntk::{gram, last_layer_gram, Gram, GramOptions, NtkMethod, NtkModel, OutputMode, ParamSubset, SignalPath};
use ntkgap::tokenize::{pad_batch, Encoding};

use crate::decoder_parity::load_decoder;
use crate::ntk_fastfb::assert_pooled_rows_kept;

/// Mixed lengths; label words (" Yes", " No") inside some prompts so that the tied embedding's
/// cross terms are non-zero.
pub(crate) const TEXTS: [&str; 4] = [
    "Does Z cause Y? Answer:",
    "Premise: Z correlates with Y. However, Z is independent of X.\nHypothesis: Z directly causes Y.\nIs the hypothesis true? Answer: No",
    "Yes or No? The quick brown fox jumps over the lazy dog. Answer:",
    "Z and X are independent given Y. Yes",
];

const SUBSETS: [ParamSubset; 4] =
    [ParamSubset::All, ParamSubset::ExcludeEmbeddings, ParamSubset::ExcludeHead, ParamSubset::OnlyBiases];

pub(crate) const MODES: [OutputMode; 6] = [
    OutputMode::Margin,
    OutputMode::Logit(0),
    OutputMode::Logit(1),
    OutputMode::Trace,
    OutputMode::Full,
    OutputMode::Pntk,
];

/// The decoders of the checks: (name, model on an autodiff flex device).
pub(crate) fn decoder(name: &str, device: &Device) -> LoadedDecoder {
    if name == "builtin:tiny-decoder" {
        let options = LoadOptions { seed: 5, head_file: None };
        match load_any(&ModelSpec::BuiltinDecoder, &options, &DecoderOptions::default(), device).unwrap() {
            AnyModel::Decoder(d) => *d,
            AnyModel::Encoder(_) => unreachable!("a decoder"),
        }
    } else {
        load_decoder(name, device)
    }
}

/// `encoding` with `k` padding positions in front (mask 0): it arrives left-padded.
pub(crate) fn left_padded(encoding: &Encoding, k: usize, pad: u32) -> Encoding {
    let mut e = encoding.clone();
    e.ids.splice(0..0, std::iter::repeat_n(pad, k));
    e.token_type_ids.splice(0..0, std::iter::repeat_n(0, k));
    e.attention_mask.splice(0..0, std::iter::repeat_n(0, k));
    e
}

/// The texts encoded verbatim; with `pad_some`, examples 1 and 3 arrive left-padded.
pub(crate) fn encodings(loaded: &LoadedDecoder, pad_some: bool) -> (Vec<Encoding>, u32) {
    let pad = loaded.tokenizer.pad_id().unwrap();
    let plain: Vec<Encoding> = TEXTS.iter().map(|t| loaded.tokenizer.encode(t).unwrap()).collect();
    let lengths: Vec<usize> = plain.iter().map(Encoding::len).collect();
    assert!(lengths.iter().min() < lengths.iter().max(), "mixed lengths: {lengths:?}");
    if !pad_some {
        return (plain, pad);
    }
    let padded = plain.iter().enumerate().map(|(i, e)| if i % 2 == 1 { left_padded(e, 3 + i, pad) } else { e.clone() });
    (padded.collect(), pad)
}

fn run(model: &DecoderLm, x: &[Encoding], pad: u32, options: GramOptions, device: &Device) -> Gram {
    gram(model, x, None, pad, &options, device, &mut |_| {}).unwrap()
}

/// max |Δ| / mean |K|.
pub(crate) fn relative_difference(got: &[f64], reference: &[f64]) -> f64 {
    assert_eq!(got.len(), reference.len());
    let scale = reference.iter().map(|v| v.abs()).sum::<f64>() / reference.len() as f64;
    assert!(scale > 0.0, "reference Gram is all zero");
    got.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale
}

const DECODERS: [&str; 7] = [
    "builtin:tiny-decoder",
    "llama_tiny",
    "llama_untied_tiny",
    "qwen2_tiny",
    "gpt2_tiny",
    "llama_seqcls_tiny",
    "gpt2_seqcls_tiny",
];

/// max |Δ| / mean |K| allowed between PerLayer and Naive: 1e-5, except
/// * on burn's signals, blocks of 3 on `qwen2_tiny`: 1e-4 — burn's f32 forward + backward of a
///   padded batch rounds differently from a batch of one, and that model (σ = 0.25 weights, q/k/v
///   biases: nearly one-hot attention) amplifies it — measured 5.6e-5 (block 3) against 1.5e-6
///   (block 1); on `llama_seqcls_tiny`: 2e-5 — the same effect, measured 1.07e-5 (block 3,
///   mode `full`) against 2.4e-7 (block 1) with the hand-written contraction kernels
///   (`ntk::small_gemm`), 9.5e-6 against 1.5e-6 with faer's products;
/// * on the hand-written fast path, the three σ = 0.25 Llama-family language models
///   (`llama_tiny`, `llama_untied_tiny`, `qwen2_tiny`): 2e-4 — its f32 rounding is independent of
///   `Naive`'s (burn's kernels), each ≈ 1e-5 of mean |K| from the float64 `transformers` eNTK
///   (`gram_matches_the_transformers_entk`), so the two differ by up to 2.4e-5, 5.5e-5 and 9.8e-5
///   of mean |K| (measured) where burn's PerLayer, sharing `Naive`'s kernels, stays within 1e-5.
///
/// In f64 arithmetic, blocks and padding change K by exactly 0 (`ntk_decoder_f64.rs`), and the
/// fast path's signals lie within 1e-5 of burn's float64 signals (`ntk_fastfb_decoder.rs`): the
/// differences are f32 rounding, not the method.
fn tolerance(name: &str, block: usize, signals: SignalPath) -> f64 {
    let sharp = ["llama_tiny", "llama_untied_tiny", "qwen2_tiny"].contains(&name);
    match signals {
        SignalPath::Burn if name == "qwen2_tiny" && block > 1 => 1e-4,
        SignalPath::Burn if name == "llama_seqcls_tiny" && block > 1 => 2e-5,
        SignalPath::Fast if sharp => 2e-4,
        _ => 1e-5,
    }
}

/// One `PerLayer` Gram against `Naive`'s, as a whole and per parameter group; the relative
/// difference.
fn check_against_naive(k: &Gram, naive: &Gram, scale: f64, tolerance: f64, what: &str) -> f64 {
    let rel = relative_difference(k.as_slice(), naive.as_slice());
    assert!(rel < tolerance, "{what}: {rel:e}");
    assert_eq!(k.groups.keys().collect::<Vec<_>>(), naive.groups.keys().collect::<Vec<_>>(), "{what}: same groups");
    for (param, reference) in &naive.groups {
        let d = k.groups[param].iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(d / scale < tolerance, "{what} {param}: {:e}", d / scale);
    }
    rel
}

#[test]
fn per_layer_equals_naive_on_decoders_for_every_mode_and_subset() {
    let device = Device::flex().autodiff();
    for name in DECODERS {
        let loaded = decoder(name, &device);
        let llama = loaded.model.config.family.uses_rope();
        let (x, pad) = encodings(&loaded, true);
        let mut worst = [[0.0f64; 2]; 2];
        for output in MODES {
            for subset in SUBSETS {
                let base = GramOptions { output, subset, breakdown: true, ..Default::default() };
                let naive = run(&loaded.model, &x, pad, GramOptions { method: NtkMethod::Naive, ..base }, &device);
                let scale = naive.as_slice().iter().map(|v| v.abs()).sum::<f64>() / naive.as_slice().len() as f64;
                for (p, signals) in [SignalPath::Burn, SignalPath::Fast].into_iter().enumerate() {
                    for (b, block) in [1, 3].into_iter().enumerate() {
                        let k = run(&loaded.model, &x, pad, GramOptions { block, signals, ..base }, &device);
                        let blocks = k.stats.signal_blocks;
                        let fast = signals == SignalPath::Fast && llama;
                        assert_eq!((blocks.fast > 0, blocks.burn > 0), (fast, !fast), "{name} {signals:?}: path");
                        if scale == 0.0 {
                            // No parameter in the subset (the Llama family has no biases): K = 0.
                            assert!(k.as_slice().iter().all(|&v| v == 0.0) && k.groups.is_empty(), "{name} {subset:?}");
                            continue;
                        }
                        let what =
                            format!("{name} PerLayer ({signals:?}, block {block}) vs Naive, {output} {subset:?}");
                        let rel = check_against_naive(&k, &naive, scale, tolerance(name, block, signals), &what);
                        worst[p][b] = worst[p][b].max(rel);
                    }
                }
            }
        }
        eprintln!(
            "{name}: PerLayer vs Naive, every mode × subset: worst {:.2e} / {:.2e} (burn's signals, blocks of 1 / 3), {:.2e} / {:.2e} (fast path)",
            worst[0][0], worst[0][1], worst[1][0], worst[1][1]
        );
    }
}

#[test]
fn subsets_pick_the_decoder_parameters_they_name() {
    let device = Device::flex().autodiff();
    let groups = |name: &str, subset| {
        let loaded = decoder(name, &device);
        let (x, pad) = encodings(&loaded, false);
        let k =
            run(&loaded.model, &x[..2], pad, GramOptions { subset, breakdown: true, ..Default::default() }, &device);
        k.groups.keys().cloned().collect::<Vec<_>>()
    };
    let all = groups("llama_untied_tiny", ParamSubset::All);
    assert!(all.contains(&"lm_head.weight".to_string()) && all.contains(&"model.embed_tokens.weight".to_string()));
    assert!(!all.iter().any(|n| n.ends_with(".bias")), "Llama has no biases: {all:?}");
    assert!(all.contains(&"model.norm.weight".to_string()) && all.len() == 2 + 2 * 9 + 1, "{all:?}");
    assert!(!groups("llama_untied_tiny", ParamSubset::ExcludeHead).contains(&"lm_head.weight".to_string()));
    let no_tables = groups("gpt2_tiny", ParamSubset::ExcludeEmbeddings);
    assert!(!no_tables.iter().any(|n| n.starts_with("transformer.wte") || n.starts_with("transformer.wpe")));
    let biases = groups("qwen2_tiny", ParamSubset::OnlyBiases);
    assert_eq!(biases.len(), 6, "q/k/v biases of two blocks: {biases:?}");
    let biases = groups("gpt2_tiny", ParamSubset::OnlyBiases);
    assert!(biases.iter().all(|n| n.ends_with(".bias")) && biases.contains(&"transformer.ln_f.bias".to_string()));
    assert!(!groups("llama_seqcls_tiny", ParamSubset::ExcludeHead).contains(&"score.weight".to_string()));
    // A tied table keeps its name (one parameter) under ExcludeHead: its input use stays.
    assert!(groups("llama_tiny", ParamSubset::ExcludeHead).contains(&"model.embed_tokens.weight".to_string()));
}

/// ⟨a, b⟩ in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&p, &q)| f64::from(p) * f64::from(q)).sum()
}

/// One example's tied-table signals from burn's probes: (token ids, g_t rows [T, H], φ [H],
/// u = ∂f/∂z at the label rows).
struct TiedSignals {
    ids: Vec<u32>,
    g: Vec<Vec<f32>>,
    phi: Vec<f32>,
    u: [f32; 2],
}

fn tied_signals(model: &DecoderLm, e: &Encoding, pad: u32, device: &Device) -> TiedSignals {
    let padded = pad_batch(std::slice::from_ref(e), pad).unwrap();
    let mut probes = ProbeSet::new();
    let f = NtkModel::margin(model, &padded, device, Some(&mut probes)).unwrap();
    let grads = f.sum().backward();
    let name = &model.embed.name;
    let table = probes.probes().iter().find(|p| &p.name == name && matches!(p.input, ProbeInput::TokenIds(_))).unwrap();
    let g = tensor_to_host(table.output_probe.grad(&grads).unwrap()).unwrap();
    let h = g.shape[2];
    let ids: Vec<u32> = e.ids.clone();
    let unembed =
        probes.probes().iter().find(|p| &p.name == name && matches!(p.input, ProbeInput::Activation(_))).unwrap();
    let ProbeInput::Activation(phi) = &unembed.input else { unreachable!() };
    let phi = tensor_to_host(phi.clone()).unwrap().data;
    let u_all = tensor_to_host(unembed.output_probe.grad(&grads).unwrap()).unwrap().data;
    let ntkgap::model::decoder::Readout::LabelWords { ids: label, .. } = &model.readout else { unreachable!() };
    TiedSignals {
        ids,
        g: g.data.chunks(h).map(<[f32]>::to_vec).collect(),
        phi,
        u: [u_all[label[0] as usize], u_all[label[1] as usize]],
    }
}

/// The tied embedding's Gram term is ONE parameter's: its input term, output term and both cross
/// terms, each rebuilt from burn's probes, sum to the group `PerLayer` and `Naive` report; the
/// cross terms are not zero when a label word occurs in a prompt; `ExcludeHead` keeps exactly
/// the input term.
#[test]
fn tied_embedding_term_is_input_output_and_cross_terms() {
    let device = Device::flex().autodiff();
    for name in ["llama_tiny", "gpt2_tiny", "builtin:tiny-decoder"] {
        let loaded = decoder(name, &device);
        let model = &loaded.model;
        let (x, pad) = encodings(&loaded, false);
        let table = format!("{}.weight", model.embed.name);
        let ids = match &model.readout {
            ntkgap::model::decoder::Readout::LabelWords { ids, .. } => *ids,
            other => panic!("{other:?}"),
        };
        let s: Vec<TiedSignals> = x.iter().map(|e| tied_signals(model, e, pad, &device)).collect();
        let n = x.len();
        let (mut input, mut output, mut cross) = (vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n]);
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (&s[i], &s[j]);
                for (t, &ta) in a.ids.iter().enumerate() {
                    for (u, &tb) in b.ids.iter().enumerate() {
                        if ta == tb {
                            input[i * n + j] += dot(&a.g[t], &b.g[u]);
                        }
                    }
                }
                let uu = f64::from(a.u[0]) * f64::from(b.u[0]) + f64::from(a.u[1]) * f64::from(b.u[1]);
                output[i * n + j] = uu * dot(&a.phi, &b.phi);
                // Σ_t u'_{tok_t} (g_t · φ') + Σ_s u_{tok'_s} (φ · g'_s).
                for (c, &label) in ids.iter().enumerate() {
                    for (t, &ta) in a.ids.iter().enumerate() {
                        if ta == label {
                            cross[i * n + j] += f64::from(b.u[c]) * dot(&a.g[t], &b.phi);
                        }
                    }
                    for (u, &tb) in b.ids.iter().enumerate() {
                        if tb == label {
                            cross[i * n + j] += f64::from(a.u[c]) * dot(&a.phi, &b.g[u]);
                        }
                    }
                }
            }
        }
        let total: Vec<f64> = (0..n * n).map(|k| input[k] + output[k] + cross[k]).collect();
        let cross_size = cross.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(cross_size > 1e-3 * total.iter().fold(0.0f64, |m, v| m.max(v.abs())), "{name}: cross terms vanish");
        // The terms above come from burn's probes: PerLayer on burn's signals checks the algebra
        // alone (the fast path's signals differ from burn's by f32 rounding, ≈ 1e-5 of mean |K|
        // on these σ = 0.25 fixtures; tests/ntk_fastfb_decoder.rs compares the two paths).
        let base = GramOptions { breakdown: true, signals: SignalPath::Burn, ..Default::default() };
        for method in [NtkMethod::PerLayer, NtkMethod::Naive] {
            let all = run(model, &x, pad, GramOptions { method, ..base }, &device);
            let got = all.groups[&table].as_slice().unwrap();
            let rel = relative_difference(got, &total);
            assert!(rel < 1e-5, "{name} {method:?}: tied group vs input + output + cross terms: {rel:e}");
            let options = GramOptions { method, subset: ParamSubset::ExcludeHead, ..base };
            let no_head = run(model, &x, pad, options, &device);
            let rel_in = relative_difference(no_head.groups[&table].as_slice().unwrap(), &input);
            assert!(rel_in < 1e-5, "{name} {method:?}: ExcludeHead's table term vs the input term: {rel_in:e}");
            eprintln!("{name} {method:?}: tied term within {rel:.2e} (cross terms up to {cross_size:.3e}), input term {rel_in:.2e}");
        }
    }
}

/// The untied `lm_head` term is (u·u')(φ·φ') (only the two readout rows have a gradient).
#[test]
fn untied_unembedding_term_is_the_readout_rows_term() {
    let device = Device::flex().autodiff();
    let loaded = decoder("llama_untied_tiny", &device);
    let (x, pad) = encodings(&loaded, false);
    let k = run(&loaded.model, &x, pad, GramOptions { breakdown: true, ..Default::default() }, &device);
    let padded = pad_batch(&x, pad).unwrap();
    let phi = tensor_to_host(NtkModel::features(&loaded.model, &padded, &device).unwrap()).unwrap();
    let h = phi.shape[1];
    let n = x.len();
    // margin: u = (−1, +1), u·u' = 2.
    let want: Vec<f64> = (0..n * n)
        .map(|k| 2.0 * dot(&phi.data[k / n * h..(k / n + 1) * h], &phi.data[k % n * h..(k % n + 1) * h]))
        .collect();
    let rel = relative_difference(k.groups["lm_head.weight"].as_slice().unwrap(), &want);
    assert!(rel < 1e-5, "lm_head term vs 2 φ·φ': {rel:e}");
}

/// `ntk::gram` (the default method and options, margin) on the fixtures' ids equals the float64
/// eNTK `transformers` computed (torch.func), within 1e-4 relative.
#[test]
fn gram_matches_the_transformers_entk() {
    let device = Device::flex().autodiff();
    for name in ["llama_tiny", "gpt2_tiny"] {
        let path = format!("{}/tests/data/decoders/ntk_parity_{name}.json", env!("CARGO_MANIFEST_DIR"));
        let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let loaded = decoder(name, &device);
        let x: Vec<Encoding> = fixture["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ids| {
                let ids: Vec<u32> = ids.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
                Encoding {
                    token_type_ids: vec![0; ids.len()],
                    attention_mask: vec![1; ids.len()],
                    ids,
                    truncated: false,
                }
            })
            .collect();
        let want: Vec<f64> = fixture["K"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
            .collect();
        for method in [NtkMethod::PerLayer, NtkMethod::Naive] {
            let k = run(&loaded.model, &x, 0, GramOptions { method, block: 4, ..Default::default() }, &device);
            let rel = relative_difference(k.as_slice(), &want);
            eprintln!(
                "{name} {method:?}: {n}×{n} eNTK vs transformers (float64): max |Δ| / mean |K| = {rel:.2e}",
                n = x.len()
            );
            assert!(rel < 1e-4, "{name} {method:?} vs transformers: {rel:e}");
        }
    }
}

/// Left-padded encodings (inside right-padded blocks) give the K of the unpadded ones, on both
/// signal paths; the fast path, requested, runs for the Llama family (`qwen2_tiny`: every block)
/// and falls back to burn's pass for GPT-2, and the statistics say which ran.
#[test]
fn padding_changes_nothing_and_only_gpt2_falls_back_to_burn() {
    let device = Device::flex().autodiff();
    for (name, path) in [("gpt2_tiny", "Burn"), ("qwen2_tiny", "Fast")] {
        let loaded = decoder(name, &device);
        let (plain, pad) = encodings(&loaded, false);
        let (padded, _) = encodings(&loaded, true);
        let options =
            GramOptions { output: OutputMode::Full, block: 4, signals: SignalPath::Fast, ..Default::default() };
        let a = run(&loaded.model, &plain, pad, options, &device);
        let b = run(&loaded.model, &padded, pad, GramOptions { block: 2, ..options }, &device);
        let rel = relative_difference(b.as_slice(), a.as_slice());
        assert!(rel < 1e-5, "{name}: left-padded vs unpadded: {rel:e}");
        let blocks = |k: &Gram| (k.stats.signal_blocks.fast, k.stats.signal_blocks.burn);
        let (one, two) = if path == "Fast" { ((1, 0), (2, 0)) } else { ((0, 1), (0, 2)) };
        assert_eq!((blocks(&a), blocks(&b)), (one, two), "{name}");
        assert_eq!(a.stats.signal_blocks.describe(), path);
        let burn = run(&loaded.model, &padded, pad, GramOptions { signals: SignalPath::Burn, ..options }, &device);
        assert_eq!(blocks(&burn), (0, 1), "{name}: --signals burn");
    }
}

/// Every decoder family (GPT-2's Conv1D blocks through burn's path included) keeps only the last
/// real token's row in its last block's maps above the attention (and a Llama block's `q_proj`),
/// padded on the left or not.
#[test]
fn every_decoder_keeps_one_row_above_its_last_attention() {
    let device = Device::flex().autodiff();
    for name in DECODERS {
        let loaded = decoder(name, &device);
        let frozen = loaded.model.frozen();
        for pad_some in [false, true] {
            let (x, pad) = encodings(&loaded, pad_some);
            for mode in [OutputMode::Margin, OutputMode::Full] {
                let signals = block_signals(frozen.as_ref(), &x, pad, mode, &device).unwrap();
                assert_pooled_rows_kept(&signals, frozen.as_ref(), &format!("{name} {mode} (left-padded: {pad_some})"));
            }
        }
    }
}

/// Passes over the data (each storing a run of layers: the tied token table's input and output
/// uses, the untied readout rows and GPT-2's burn path fall in different passes) give the one-pass
/// K bit for bit.
#[test]
fn signal_passes_change_no_bit_on_decoders() {
    let device = Device::flex().autodiff();
    for name in ["builtin:tiny-decoder", "llama_untied_tiny", "gpt2_tiny"] {
        let loaded = decoder(name, &device);
        let (x, pad) = encodings(&loaded, true);
        let options = GramOptions { output: OutputMode::Full, block: 2, ..Default::default() };
        let one = run(&loaded.model, &x, pad, options, &device);
        for passes in [2, 5] {
            let k = run(&loaded.model, &x, pad, GramOptions { signal_passes: Some(passes), ..options }, &device);
            assert_eq!(k.stats.signal_passes, passes, "{name}");
            let differing = k.as_slice().iter().zip(one.as_slice()).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            assert_eq!(differing, 0, "{name}: {passes} passes vs one");
        }
    }
}

/// The last-layer kernel: the margin is exactly ⟨w, φ⟩ + c (w = W₁ − W₀, c = b₁ − b₀), for
/// decoders (c = 0) and the encoder; K = Φ Φᵀ, symmetric, slabs are its rows.
#[test]
fn last_layer_features_give_the_margin_exactly() {
    let device = Device::flex().autodiff();
    let check = |what: &str, model: &dyn NtkModel, x: &[Encoding], pad: u32| {
        let (w, c) = model.readout_layer().unwrap().margin_direction().expect("two outputs");
        let padded = pad_batch(x, pad).unwrap();
        let phi = tensor_to_host(model.features(&padded, &device).unwrap()).unwrap();
        let margin = tensor_to_host(model.margin(&padded, &device, None).unwrap()).unwrap().data;
        let h = phi.shape[1];
        let mut worst = 0.0f64;
        for (i, f) in margin.iter().enumerate() {
            let linear = dot(w.as_slice().unwrap(), &phi.data[i * h..(i + 1) * h]) + f64::from(c);
            worst = worst.max((linear - f64::from(*f)).abs());
        }
        eprintln!("{what}: |⟨w, φ⟩ + c − f| ≤ {worst:.2e}");
        assert!(worst < 1e-6, "{what}: margin vs ⟨w, φ⟩ + c: {worst:e}");
        let k =
            last_layer_gram(model, x, None, pad, &GramOptions { block: 3, ..Default::default() }, &device, &mut |_| {})
                .unwrap();
        let n = x.len();
        for i in 0..n {
            for j in 0..n {
                let want = dot(&phi.data[i * h..(i + 1) * h], &phi.data[j * h..(j + 1) * h]);
                assert!((k.matrix()[[i, j]] - want).abs() <= 1e-5 * want.abs().max(1e-3), "{what}: K[{i},{j}]");
                assert_eq!(k.matrix()[[i, j]].to_bits(), k.matrix()[[j, i]].to_bits(), "{what}: symmetric");
            }
        }
        let slab = GramOptions { rows: Some((1, 3)), block: 3, ..Default::default() };
        let rows = last_layer_gram(model, x, None, pad, &slab, &device, &mut |_| {}).unwrap();
        assert_eq!((rows.row_start, rows.rows(), rows.cols()), (1, 2, n));
        assert!((rows.matrix()[[0, 2]] - k.matrix()[[1, 2]]).abs() <= 1e-6 * k.matrix()[[1, 1]].abs());
    };
    for name in ["llama_tiny", "llama_untied_tiny", "gpt2_tiny", "llama_seqcls_tiny", "builtin:tiny-decoder"] {
        let loaded = decoder(name, &device);
        let (x, pad) = encodings(&loaded, true);
        check(name, &loaded.model, &x, pad);
    }
    let encoder =
        load(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 5, head_file: None }, &device).unwrap();
    let x: Vec<Encoding> = TEXTS.iter().map(|t| encoder.tokenizer.encode(t).unwrap()).collect();
    check("builtin:tiny (encoder)", &encoder.classifier, &x, encoder.tokenizer.pad_id().unwrap());
}
