//! The hand-written CPU signal path of the Llama-family decoders (`ntk::fastfb::llama`) against
//! its reference twin, burn's probed forward + autodiff backward (`ntk::signals::block_signals`),
//! before `finish_signals`: layer by layer the same names, kinds, `per_token` flags, rows and
//! widths, identical ids, and activations and gradients within 1e-5 of the layer's largest
//! value — on `llama_tiny` (tied, GQA), `llama_untied_tiny`, `qwen2_tiny` (q/k/v biases), Llama
//! with every bias (`attention_bias`, `mlp_bias`), `builtin:tiny-decoder`, `llama_seqcls_tiny`
//! and a three-class `score` head (the margin is a log-odds), all with every RMSNorm weight and
//! bias randomised; every output mode; blocks mixing lengths and encodings padded on the left
//! and on the right; prompts of one, two and three causal tiles of query rows in one block. Also:
//! the fast signals lie within 1e-5 of burn's float64 ones (so their
//! difference from burn's f32 ones is f32 rounding), bit-identical for 1 and 3 threads, the Gram
//! from either path agrees (and the fast path ran), bad inputs give burn's errors, and
//! SmolLM2-135M's GGUF (when present) gives burn's signals.

use std::path::Path;

use burn::tensor::Device;
use ntkgap::model::decoder::gguf::load_gguf;
use ntkgap::model::decoder::{DecoderConfig, DecoderLm, DecoderOptions, DecoderTask, LoadedDecoder};
use ntkgap::model::weights::FreshInit;
use ntkgap::model::WeightMap;
use ntkgap::ntk::fastfb::llama::{self, HostLlama};
use ntkgap::ntk::signals::block_signals;
use ntkgap::ntk::{gram, GramOptions, NtkModel, OutputMode, SignalPath};
use ntkgap::tokenize::Encoding;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::missing;
use crate::ntk_decoder::{decoder, encodings, MODES};
use crate::ntk_fastfb::{assert_bit_identical, assert_pooled_rows_kept, assert_same_signals, assert_signals_within};

fn device() -> Device {
    Device::flex().autodiff()
}

struct Case {
    name: &'static str,
    model: DecoderLm,
    encodings: Vec<Encoding>,
    pad: u32,
}

/// `loaded`'s weights under `config` (tensors it lacks drawn from `seed`), with every norm
/// weight and bias shifted by U(−0.5, 0.5): no term of the forward or backward is trivially
/// one or zero.
fn randomised(loaded: &LoadedDecoder, config: &DecoderConfig, seed: u64) -> DecoderLm {
    randomised_on(loaded, config, seed, &device())
}

fn randomised_on(loaded: &LoadedDecoder, config: &DecoderConfig, seed: u64, device: &Device) -> DecoderLm {
    let all = loaded.model.to_weights().unwrap();
    let mut weights = WeightMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for name in all.names() {
        if name.starts_with("score.") && config.num_labels() != loaded.model.config.num_labels() {
            continue;
        }
        let mut t = all.get(&name).unwrap().clone();
        if name.ends_with(".bias") || name.contains("norm") {
            t.data.iter_mut().for_each(|v| *v += rng.random_range(-0.5..0.5));
        }
        weights.insert(name, t);
    }
    weights.set_fresh_init(Some(FreshInit { seed, std: 0.2, only_prefixes: None }));
    let model = DecoderLm::from_weights(config, loaded.model.readout.clone(), &mut weights, Path::new("test"), device);
    model.unwrap()
}

/// `e` with `k` padding positions after it (mask 0): it arrives right-padded.
fn right_padded(e: &Encoding, k: usize, pad: u32) -> Encoding {
    let mut e = e.clone();
    e.ids.extend(std::iter::repeat_n(pad, k));
    e.token_type_ids.extend(std::iter::repeat_n(0, k));
    e.attention_mask.extend(std::iter::repeat_n(0, k));
    e
}

fn case(name: &'static str, source: &str, seed: u64, edit: impl Fn(&mut DecoderConfig)) -> Case {
    let loaded = decoder(source, &device());
    let mut config = loaded.model.config.clone();
    edit(&mut config);
    let (mut x, pad) = encodings(&loaded, true);
    x[2] = right_padded(&x[2], 2, pad);
    Case { name, model: randomised(&loaded, &config, seed), encodings: x, pad }
}

fn cases() -> Vec<Case> {
    vec![
        case("llama_tiny", "llama_tiny", 1, |_| {}),
        case("llama_untied_tiny", "llama_untied_tiny", 2, |_| {}),
        case("qwen2_tiny", "qwen2_tiny", 3, |_| {}),
        case("llama every bias", "llama_tiny", 4, |c| {
            (c.qkv_bias, c.output_bias, c.mlp_bias) = (true, true, true);
        }),
        case("builtin:tiny-decoder", "builtin:tiny-decoder", 5, |_| {}),
        case("llama_seqcls_tiny", "llama_seqcls_tiny", 6, |_| {}),
        case("llama_seqcls 3 classes", "llama_seqcls_tiny", 7, |c| {
            c.task = DecoderTask::SequenceClassification { num_labels: 3 };
            c.id2label = (0..3).map(|i| (i.to_string(), format!("L{i}"))).collect();
        }),
    ]
}

fn modes(model: &DecoderLm) -> Vec<OutputMode> {
    if model.num_outputs() == 3 {
        vec![OutputMode::Margin, OutputMode::Logit(2), OutputMode::Trace, OutputMode::Full]
    } else {
        MODES.to_vec()
    }
}

fn host(model: &DecoderLm) -> HostLlama {
    HostLlama::from_decoder(model).unwrap()
}

#[test]
fn fast_decoder_signals_equal_burn_signals_for_every_model_and_mode() {
    for case in cases() {
        let host = host(&case.model);
        let frozen = case.model.frozen();
        let mut worst = 0.0f64;
        for mode in modes(&case.model) {
            let x = &case.encodings;
            for block in [&x[..], &x[1..2], &x[2..3]] {
                let fast = llama::block_signals(&host, block, case.pad, mode).unwrap();
                let burn = block_signals(frozen.as_ref(), block, case.pad, mode, &device()).unwrap();
                let what = format!("{} {mode} ({} examples)", case.name, block.len());
                worst = worst.max(assert_same_signals(&fast, &burn, &what));
                assert_pooled_rows_kept(&fast, frozen.as_ref(), &format!("{what}, fast"));
                assert_pooled_rows_kept(&burn, frozen.as_ref(), &format!("{what}, burn"));
            }
        }
        eprintln!("{}: fast vs burn signals, every mode: ≤ {worst:.2e} of each layer's largest value", case.name);
    }
}

#[test]
fn causal_tiles_give_burn_signals_on_prompts_longer_than_a_tile() {
    // The causal attention runs by tiles of CAUSAL_TILE query rows (and key columns for dV,
    // dK): prompts of one tile, of a tile and a ragged part, and of several tiles, in one block.
    use ntkgap::ntk::fastfb::attention::CAUSAL_TILE;
    for case in [&cases()[0], &cases()[2], &cases()[5]] {
        let tokenizer = &decoder(case_source(case.name), &device()).tokenizer;
        let text = |words: usize| (0..words).map(|i| ["Z", " causes", " Y", ".", " X"][i % 5]).collect::<String>();
        let x: Vec<Encoding> = [30, CAUSAL_TILE + 6, 2 * CAUSAL_TILE + 12]
            .iter()
            .map(|&w| tokenizer.encode(&(text(w) + " Answer:")).unwrap())
            .collect();
        let lengths: Vec<usize> = x.iter().map(Encoding::real_tokens).collect();
        let tiles = |t: usize| t.div_ceil(CAUSAL_TILE);
        assert!(tiles(lengths[1]) == 2 && tiles(lengths[2]) >= 3 && lengths[2] <= 256, "{}: {lengths:?}", case.name);
        let host = host(&case.model);
        for mode in [OutputMode::Margin, OutputMode::Trace] {
            let fast = llama::block_signals(&host, &x, case.pad, mode).unwrap();
            let burn = block_signals(case.model.frozen().as_ref(), &x, case.pad, mode, &device()).unwrap();
            let what = format!("{} {mode}, lengths {lengths:?}", case.name);
            let worst = assert_same_signals(&fast, &burn, &what);
            eprintln!("{what}: fast vs burn ≤ {worst:.2e} of each layer's largest value");
        }
    }
}

/// The checkpoint a case of [`cases`] was made from.
fn case_source(name: &str) -> &'static str {
    match name {
        "qwen2_tiny" => "qwen2_tiny",
        "llama_seqcls_tiny" => "llama_seqcls_tiny",
        _ => "llama_tiny",
    }
}

#[test]
fn fast_decoder_signals_do_not_depend_on_the_thread_count() {
    for case in cases().into_iter().filter(|c| ["llama_tiny", "qwen2_tiny"].contains(&c.name)) {
        let host = host(&case.model);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| llama::block_signals(&host, &case.encodings, case.pad, OutputMode::Trace).unwrap())
        };
        assert_bit_identical(&run(1), &run(3), case.name);
    }
}

/// The Gram matrices of both paths, every mode, blocks of 3: max |ΔK| ≤ 1e-5 · max |K| on every
/// model, and ≤ 1e-5 · mean |K| on the well-conditioned `builtin:tiny-decoder` (σ = 0.02). The
/// fixtures (σ = 0.25, nearly one-hot attention, norms shifted further here) amplify f32 rounding:
/// either path is ≈ 1e-5 of mean |K| from the float64 truth there (`gram_matches_the_transformers_entk`,
/// `fast_decoder_signals_match_float64_burn`), so the two differ by up to 1.5e-4 of mean |K| in
/// the `full` mode, whose off-diagonal output pairs are small (measured; 6.4e-6 of max |K|).
#[test]
fn gram_from_either_decoder_signal_path_agrees() {
    for case in cases() {
        for output in modes(&case.model) {
            let k = |signals| {
                let options = GramOptions { output, signals, block: 3, ..Default::default() };
                gram(&case.model, &case.encodings, None, case.pad, &options, &device(), &mut |_| {}).unwrap()
            };
            let (fast, burn) = (k(SignalPath::Fast), k(SignalPath::Burn));
            let (f, b) = (fast.stats.signal_blocks, burn.stats.signal_blocks);
            assert_eq!((f.fast, f.burn, b.fast, b.burn), (2, 0, 0, 2), "{}: the fast path ran", case.name);
            let values = burn.as_slice().iter().map(|v| v.abs());
            let (max, mean) = (values.clone().fold(0.0, f64::max), values.sum::<f64>() / burn.as_slice().len() as f64);
            let worst = fast.as_slice().iter().zip(burn.as_slice()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            let what = format!("{} {output}: Gram fast vs burn", case.name);
            eprintln!("{what}: max |ΔK| = {:.2e} of max |K|, {:.2e} of mean |K|", worst / max, worst / mean);
            assert!(worst / max < 1e-5, "{what} differ by {:e} of max |K|", worst / max);
            if case.name == "builtin:tiny-decoder" {
                assert!(worst / mean < 1e-5, "{what} differ by {:e} of mean |K|", worst / mean);
            }
        }
    }
}

/// The hand-written path runs a block in parts of at most `fast_part_rows` token rows: parts of
/// one example (every block split) give K as whole blocks do — bit for bit on every case and
/// mode but the 3-class sequence classifier's margin (measured 2.45e-6 of mean |K|: the
/// readout's product, whose rounding depends on the part's size, sets its seeds), 1e-5 required.
#[test]
fn parts_of_a_block_give_the_same_gram_bit_for_bit() {
    for case in cases() {
        for output in modes(&case.model) {
            let k = |rows| {
                let options = GramOptions { output, block: 3, fast_part_rows: rows, ..Default::default() };
                gram(&case.model, &case.encodings, None, case.pad, &options, &device(), &mut |_| {}).unwrap()
            };
            let (whole, parts) = (k(usize::MAX), k(1));
            let (w, p) = (whole.stats.signal_blocks, parts.stats.signal_blocks);
            let n = case.encodings.len();
            assert_eq!((w.fast, p.fast, p.burn), (n.div_ceil(3), n, 0), "{}: one part per example", case.name);
            let rel = crate::ntk_decoder::relative_difference(parts.as_slice(), whole.as_slice());
            eprintln!("{} {output}: parts of one example vs blocks of 3: {rel:.2e} of mean |K|", case.name);
            assert!(rel < 1e-5, "{} {output}: parts of a block changed K by {rel:e} of mean |K|", case.name);
        }
    }
    let zero = GramOptions { fast_part_rows: 0, ..Default::default() };
    assert!(zero.validate().unwrap_err().to_string().contains("fast_part_rows"));
}

/// In f64 arithmetic (burn's flex device with F64 as its default float dtype, in a child
/// process), burn's probed pass is the truth to ≈ 1e-15; the fast path's f32 signals (from the
/// same weights, exactly representable in f32) lie within 1e-5 of each layer's largest value
/// of it, as burn's f32 signals do: their differences from each other are f32 rounding.
#[test]
fn fast_decoder_signals_match_float64_burn() {
    if !crate::common::f64::in_fresh_process(module_path!(), "fast_decoder_signals_match_float64_burn") {
        return;
    }
    let f64_device = crate::common::f64::device();
    for (name, seed) in [("llama_tiny", 1), ("llama_untied_tiny", 2), ("qwen2_tiny", 3)] {
        let loaded = decoder(name, &f64_device);
        let model = randomised_on(&loaded, &loaded.model.config, seed, &f64_device);
        let (mut x, pad) = encodings(&loaded, true);
        x[2] = right_padded(&x[2], 2, pad);
        for mode in [OutputMode::Margin, OutputMode::Full] {
            let exact = block_signals(model.frozen().as_ref(), &x, pad, mode, &f64_device).unwrap();
            let fast = llama::block_signals(&host(&model), &x, pad, mode).unwrap();
            let worst = assert_same_signals(&fast, &exact, &format!("{name} {mode}: fast (f32) vs burn (f64)"));
            eprintln!("{name} {mode}: fast (f32) vs burn (f64) signals: ≤ {worst:.2e} of each layer's largest value");
        }
    }
}

#[test]
fn fast_decoder_path_refuses_what_burn_refuses() {
    let case = cases().remove(0);
    let host = host(&case.model);
    let frozen = case.model.frozen();
    let both = |x: &[Encoding], mode| {
        let fast = llama::block_signals(&host, x, case.pad, mode).unwrap_err().to_string();
        let burn = block_signals(frozen.as_ref(), x, case.pad, mode, &device()).unwrap_err().to_string();
        assert_eq!(fast, burn, "the same error");
        fast
    };
    let mut bad = case.encodings[0].clone();
    bad.ids[1] = 1_000_000;
    assert!(both(&[bad], OutputMode::Margin).contains("token id 1000000"));
    assert!(both(&case.encodings, OutputMode::Logit(2)).contains("logit:2"));
    let mut empty = case.encodings[0].clone();
    empty.attention_mask.fill(0);
    assert!(both(&[case.encodings[1].clone(), empty], OutputMode::Margin).contains("row 1"));
}

#[test]
fn smollm2_gguf_fast_signals_equal_burn_signals() {
    let test = "smollm2_gguf_fast_signals_equal_burn_signals";
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.is_file() {
        missing(test, &format!("{} is absent (scripts/fetch_models.sh fetches it)", path.display()));
        return;
    }
    let loaded = load_gguf(&path, &DecoderOptions::default(), &device()).unwrap();
    let pad = loaded.tokenizer.pad_id().unwrap();
    let x: Vec<Encoding> = ["Does Z cause Y? Answer:", "Premise: Z correlates with Y.\nIs it true? Answer: No"]
        .iter()
        .map(|t| loaded.tokenizer.encode(t).unwrap())
        .collect();
    let fast = llama::block_signals(&host(&loaded.model), &x, pad, OutputMode::Margin).unwrap();
    let burn = block_signals(loaded.model.frozen().as_ref(), &x, pad, OutputMode::Margin, &device()).unwrap();
    // 30 blocks: either path's f32 signals are up to ≈ 1.5e-5 of the largest from the float64
    // truth (measured by burn's pass on the f64 device: fast 1.5e-5, burn 1.5e-5), so they
    // differ by up to 2.2e-5 from each other (measured).
    let worst = assert_signals_within(&fast, &burn, "SmolLM2-135M (Q4_1) margin", 5e-5);
    eprintln!("SmolLM2-135M (Q4_1), 2 prompts: fast vs burn signals ≤ {worst:.2e} of each layer's largest value");
}
