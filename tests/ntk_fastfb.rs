//! The hand-written CPU signal path (`ntk::fastfb`) against its reference twin, burn's probed
//! forward + autodiff backward (`ntk::signals::block_signals`): layer by layer the same names,
//! kinds, rows and widths, identical ids, and activations and gradients within 1e-5 of the
//! layer's largest value — on BERT (builtin:tiny, random non-trivial weights), a RoBERTa-shaped
//! model (position offset, classification head, one token type), a three-label model (the
//! margin is a log-odds) and the tanh GELU; for every output mode, with padding of mixed
//! lengths. Also: bit-identical for 1 and 3 threads, and the Gram from either path agrees.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use ntkgap::model::weights::FreshInit;
use ntkgap::model::{load, BuiltinSize, Classifier, LoadOptions, ModelConfig, ModelSpec, WeightMap};
use ntkgap::ntk::fastfb::{self, HostModel};
use ntkgap::ntk::signals::{block_signals, keep_pooled_rows, BlockSignals, SignalInput};
use ntkgap::ntk::{gram, GramOptions, NtkModel, OutputMode, SignalPath};
use ntkgap::tokenize::Encoding;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const RECORDS: [(&str, &str); 4] = [
    ("Suppose there is a closed system of 3 variables, A, B and C. A correlates with B. B correlates with C. However, A is independent of C.", "A directly causes B."),
    ("A correlates with B.", "A causes B."),
    ("B correlates with C.", "C is a cause for A, but not a direct one."),
    ("A correlates with C. B correlates with C. However, A is independent of B.", "B directly causes C."),
];

const MODES: [OutputMode; 6] = [
    OutputMode::Margin,
    OutputMode::Logit(0),
    OutputMode::Logit(1),
    OutputMode::Trace,
    OutputMode::Full,
    OutputMode::Pntk,
];

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) model: Classifier,
    pub(crate) encodings: Vec<Encoding>,
    pub(crate) pad_id: u32,
}

fn device() -> Device {
    Device::flex().autodiff()
}

/// A fresh model of `config` whose every tensor (biases and LayerNorms included) is random, so
/// that no term of the forward or backward is trivially zero or one.
fn random_model(config: &ModelConfig, seed: u64) -> Classifier {
    let mut weights = WeightMap::new();
    weights.set_fresh_init(Some(FreshInit { seed, std: 0.1, only_prefixes: None }));
    let fresh = Classifier::from_weights(config, &mut weights, Path::new("test"), &device()).unwrap();
    let mut all = fresh.to_weights().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for name in all.names() {
        let mut t = all.get(&name).unwrap().clone();
        if name.ends_with(".bias") || name.contains("LayerNorm") {
            t.data.iter_mut().for_each(|v| *v += rng.random_range(-0.5..0.5));
        }
        all.insert(name, t);
    }
    Classifier::from_weights(config, &mut all, Path::new("test"), &device()).unwrap()
}

pub(crate) fn cases() -> Vec<Case> {
    let loaded =
        load(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 3, head_file: None }, &device()).unwrap();
    let pad_id = loaded.tokenizer.pad_id().unwrap();
    let mut encodings: Vec<Encoding> =
        RECORDS.iter().map(|(p, h)| loaded.tokenizer.encode_pair(p, h).unwrap()).collect();
    // One encoding arrives already padded (mask 0 at its end): only its real tokens count.
    let e = &mut encodings[1];
    e.ids.extend([pad_id; 3]);
    e.token_type_ids.extend([0; 3]);
    e.attention_mask.extend([0; 3]);
    let bert = loaded.classifier.config.clone();
    let mut tanh = bert.clone();
    tanh.hidden_act = "gelu_new".into();
    let mut three: ModelConfig = bert.clone();
    three.id2label = (0..3).map(|i| (i.to_string(), format!("L{i}"))).collect();
    let mut roberta = bert.clone();
    roberta.model_type = "roberta".into();
    roberta.type_vocab_size = 1;
    roberta.max_position_embeddings = 512 + pad_id as usize + 1;
    let roberta_encodings: Vec<Encoding> =
        encodings.iter().map(|e| Encoding { token_type_ids: vec![0; e.len()], ..e.clone() }).collect();
    vec![
        Case { name: "bert", model: random_model(&bert, 1), encodings: encodings.clone(), pad_id },
        Case { name: "bert gelu_new", model: random_model(&tanh, 2), encodings: encodings.clone(), pad_id },
        Case { name: "bert 3 labels", model: random_model(&three, 3), encodings: encodings.clone(), pad_id },
        Case { name: "roberta", model: random_model(&roberta, 4), encodings: roberta_encodings, pad_id },
    ]
}

/// max |Δ| / max |reference|.
pub(crate) fn relative(got: &[f32], reference: &[f32]) -> f64 {
    assert_eq!(got.len(), reference.len());
    let scale = reference.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    let worst = got.iter().zip(reference).map(|(a, b)| f64::from((a - b).abs())).fold(0.0, f64::max);
    if scale == 0.0 {
        worst
    } else {
        worst / scale
    }
}

/// `model`'s pooled layers (the last block above its attention, and its query) keep one row per virtual
/// example: every one of them is in `signals` per token, every other row's output gradient is
/// exactly zero (else `keep_pooled_rows` fails), the kept row's is not, and no other layer
/// changes.
pub(crate) fn assert_pooled_rows_kept(signals: &BlockSignals, model: &dyn NtkModel, what: &str) {
    let pooled = model.pooled_layers().unwrap_or_else(|| panic!("{what}: no pooled layers"));
    let mut layers = signals.layers.clone();
    keep_pooled_rows(&mut layers, &pooled).unwrap_or_else(|e| panic!("{what}: {e}"));
    for name in &pooled.names {
        let before = signals.layers.iter().find(|l| &l.name == name).unwrap_or_else(|| panic!("{what}: no {name}"));
        let after = layers.iter().find(|l| &l.name == name).unwrap();
        assert!(
            before.per_token && !after.per_token,
            "{what}, {name}: per_token {} → {}",
            before.per_token,
            after.per_token
        );
        assert!(after.rows.iter().all(|&r| r == 1), "{what}, {name}: rows {:?}", after.rows);
        assert_eq!(after.grad.len(), after.rows.len() * after.d_out, "{what}, {name}");
        for (v, row) in after.grad.chunks(after.d_out).enumerate() {
            assert!(row.iter().any(|&g| g != 0.0), "{what}, {name}: the kept row of virtual example {v} is zero");
        }
    }
    for (a, b) in layers.iter().zip(&signals.layers).filter(|(l, _)| !pooled.names.contains(&l.name)) {
        assert_eq!((&a.rows, a.per_token, &a.grad), (&b.rows, b.per_token, &b.grad), "{what}, {}", a.name);
    }
}

/// `signals` with `model`'s pooled layers kept at their pooled row ([`keep_pooled_rows`], as the
/// engine stores them).
pub(crate) fn pooled(signals: &BlockSignals, model: &dyn NtkModel) -> BlockSignals {
    let mut out = signals.clone();
    keep_pooled_rows(&mut out.layers, &model.pooled_layers().expect("pooled layers")).unwrap();
    out
}

/// The encoder's hand-written path runs its last layer above the attention on each example's
/// first token: those pooled layers come with one row per virtual example already (a block of
/// one-token examples aside, which `keep_pooled_rows` marks), the query (which the attention
/// needs at every row) and every other layer per token.
fn assert_upper_rows_pooled(fast: &BlockSignals, model: &dyn NtkModel, what: &str) {
    let names = model.pooled_layers().unwrap().names;
    let (compact, full): (Vec<_>, Vec<_>) =
        fast.layers.iter().filter(|l| names.contains(&l.name)).partition(|l| !l.per_token || fast.seq_len == 1);
    assert_eq!((compact.len(), full.len()), (5, 1), "{what}: pooled layers compact and per token");
    assert!(full[0].name.ends_with("attention.self.query"), "{what}: {} per token", full[0].name);
    for l in compact {
        assert!(l.rows.iter().all(|&r| r == 1), "{what}, {}: rows {:?}", l.name, l.rows);
        assert!(l.grad.iter().any(|&g| g != 0.0), "{what}, {}: all zero", l.name);
    }
}

/// Layer by layer: the same names, kinds, `per_token`, rows, widths and ids; inputs and
/// gradients within 1e-5 of each layer's largest value; burn's gradient not all zero. Returns
/// the largest relative difference.
pub(crate) fn assert_same_signals(fast: &BlockSignals, burn: &BlockSignals, what: &str) -> f64 {
    assert_signals_within(fast, burn, what, 1e-5)
}

/// [`assert_same_signals`] with inputs and gradients within `tolerance` of each layer's largest
/// value.
pub(crate) fn assert_signals_within(fast: &BlockSignals, burn: &BlockSignals, what: &str, tolerance: f64) -> f64 {
    let mut worst = 0.0f64;
    assert_eq!((fast.seq_len, fast.batch_rows), (burn.seq_len, burn.batch_rows), "{what}: block shape");
    assert_eq!(fast.layers.len(), burn.layers.len(), "{what}: layer count");
    for (f, b) in fast.layers.iter().zip(&burn.layers) {
        let at = format!("{what}, layer {}", b.name);
        assert_eq!((&f.name, f.kind, f.per_token), (&b.name, b.kind, b.per_token), "{at}");
        assert_eq!((&f.rows, f.d_in, f.d_out), (&b.rows, b.d_in, b.d_out), "{at}: rows and widths");
        match (&f.input, &b.input) {
            (SignalInput::Ids(x), SignalInput::Ids(y)) => assert_eq!(x, y, "{at}: ids"),
            (SignalInput::Activation(x), SignalInput::Activation(y)) => {
                let rel = relative(x, y);
                assert!(rel <= tolerance, "{at}: fast vs burn inputs differ by {rel:e} of the largest");
                worst = worst.max(rel);
            }
            _ => panic!("{at}: input kinds differ"),
        }
        let rel = relative(&f.grad, &b.grad);
        assert!(rel <= tolerance, "{at}: fast vs burn gradients differ by {rel:e} of the largest");
        assert!(b.grad.iter().any(|&g| g != 0.0), "{at}: burn's gradient is all zero (a vacuous comparison)");
        worst = worst.max(rel);
    }
    worst
}

#[test]
fn fast_signals_equal_burn_signals_for_every_model_and_mode() {
    for case in cases() {
        let host = HostModel::from_classifier(&case.model).unwrap();
        let frozen = case.model.clone().no_grad();
        let modes: Vec<OutputMode> = if case.name == "bert 3 labels" {
            vec![OutputMode::Margin, OutputMode::Logit(2), OutputMode::Full]
        } else {
            MODES.to_vec()
        };
        for mode in modes {
            for block in [&case.encodings[..], &case.encodings[1..2]] {
                let fast = fastfb::block_signals(&host, block, case.pad_id, mode).unwrap();
                let burn = block_signals(&frozen, block, case.pad_id, mode, &device()).unwrap();
                let what = format!("{} {mode} ({} examples)", case.name, block.len());
                assert_upper_rows_pooled(&fast, &frozen, &what);
                assert_same_signals(&pooled(&fast, &frozen), &pooled(&burn, &frozen), &what);
                assert_pooled_rows_kept(&burn, &frozen, &format!("{what}, burn"));
            }
        }
    }
}

#[test]
fn fast_signals_do_not_depend_on_the_thread_count() {
    let case = cases().remove(0);
    let host = HostModel::from_classifier(&case.model).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| fastfb::block_signals(&host, &case.encodings, case.pad_id, OutputMode::Trace).unwrap())
    };
    assert_bit_identical(&run(1), &run(3), case.name);
}

fn bits(s: &[f32]) -> Vec<u32> {
    s.iter().map(|v| v.to_bits()).collect()
}

/// The signals of two runs (1 and 3 threads) equal bit for bit, layer by layer.
pub(crate) fn assert_bit_identical(a: &BlockSignals, b: &BlockSignals, what: &str) {
    assert_eq!(a.layers.len(), b.layers.len());
    for (x, y) in a.layers.iter().zip(&b.layers) {
        assert_eq!(bits(&x.grad), bits(&y.grad), "{what} {}: gradients differ between 1 and 3 threads", x.name);
        if let (SignalInput::Activation(p), SignalInput::Activation(q)) = (&x.input, &y.input) {
            assert_eq!(bits(p), bits(q), "{what} {}: inputs differ between 1 and 3 threads", x.name);
        }
    }
}

#[test]
fn gram_from_either_signal_path_agrees_and_bad_inputs_are_refused() {
    let case = cases().remove(3);
    for output in MODES {
        let k = |signals| {
            gram(
                &case.model,
                &case.encodings,
                None,
                case.pad_id,
                &GramOptions { output, signals, block: 3, ..Default::default() },
                &device(),
                &mut |_| {},
            )
            .unwrap()
        };
        let (fast, burn) = (k(SignalPath::Fast), k(SignalPath::Burn));
        let scale = burn.as_slice().iter().map(|v| v.abs()).sum::<f64>() / burn.as_slice().len() as f64;
        let worst = fast.as_slice().iter().zip(burn.as_slice()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst / scale < 1e-5, "roberta {output}: Gram fast vs burn differ by {:e} of mean |K|", worst / scale);
    }
    let host = HostModel::from_classifier(&case.model).unwrap();
    let mut bad = case.encodings[0].clone();
    bad.ids[1] = 1_000_000;
    let e = fastfb::block_signals(&host, &[bad], case.pad_id, OutputMode::Margin).unwrap_err().to_string();
    assert!(e.contains("token id 1000000"), "{e}");
    let e = fastfb::block_signals(&host, &case.encodings, case.pad_id, OutputMode::Logit(2)).unwrap_err().to_string();
    assert!(e.contains("logit:2"), "{e}");
    let mut padded_first = case.encodings[0].clone();
    padded_first.attention_mask[0] = 0;
    assert!(!fastfb::fits(&[padded_first.clone()]));
    assert!(fastfb::block_signals(&host, &[padded_first], case.pad_id, OutputMode::Margin).is_err());
}
