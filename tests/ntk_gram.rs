//! The eNTK engine: `PerLayer` equals the `Naive` reference twin for every output mode,
//! parameter subset, block size, tile size, memory budget (spilled or not) and Linear
//! contraction form; the modes relate as they must (trace = Σ logit kernels, margin from the
//! full O×O blocks); K is symmetric, PSD, has squared gradient norms on its diagonal; the
//! rectangular K(X₁, X₂) is the matching block of K(X₁ ∪ X₂); row slabs reproduce the unsharded
//! rows bit for bit; the per-parameter breakdown sums to K; N = 1 works.

use burn::tensor::Device;
use ntkgap::model::{load, BuiltinSize, Classifier, LoadOptions, ModelSpec};
use ntkgap::ntk::{gram, Gram, GramOptions, KernelChoice, LinearForm, NtkMethod, OutputMode, ParamSubset};
use ntkgap::tokenize::{pad_batch, Encoding};

/// Mixed lengths (so blocks are padded), repeated words (so the token-match term is non-trivial).
const RECORDS: [(&str, &str); 5] = [
    ("Suppose there is a closed system of 3 variables, A, B and C. A correlates with B. B correlates with C. However, A is independent of C.", "A directly causes B."),
    ("A correlates with B.", "A causes B."),
    ("Suppose there is a closed system of 2 variables, A and B. All the statistical relations among these 2 variables are as follows: A correlates with B.", "There exists at least one collider (i.e., common effect) of A and B."),
    ("B correlates with C.", "C is a cause for A, but not a direct one."),
    ("A correlates with C. B correlates with C. However, A is independent of B.", "B directly causes C."),
];

struct Setup {
    model: Classifier,
    encodings: Vec<Encoding>,
    pad_id: u32,
    device: Device,
}

fn setup() -> Setup {
    let device = Device::flex().autodiff();
    let loaded =
        load(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 5, head_file: None }, &device).unwrap();
    let encodings: Vec<Encoding> = RECORDS.iter().map(|(p, h)| loaded.tokenizer.encode_pair(p, h).unwrap()).collect();
    let lengths: Vec<usize> = encodings.iter().map(Encoding::len).collect();
    assert!(lengths.iter().min() < lengths.iter().max(), "mixed lengths: {lengths:?}");
    let pad_id = loaded.tokenizer.pad_id().unwrap();
    Setup { model: loaded.classifier, encodings, pad_id, device }
}

fn run(s: &Setup, x1: &[Encoding], x2: Option<&[Encoding]>, options: GramOptions) -> Gram {
    gram(&s.model, x1, x2, s.pad_id, &options, &s.device, &mut |_| {}).unwrap()
}

/// max |Δ| / mean |K|.
fn relative_difference(got: &[f64], reference: &[f64]) -> f64 {
    assert_eq!(got.len(), reference.len());
    let scale = reference.iter().map(|v| v.abs()).sum::<f64>() / reference.len() as f64;
    assert!(scale > 0.0, "reference Gram is all zero");
    got.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale
}

const SUBSETS: [ParamSubset; 4] =
    [ParamSubset::All, ParamSubset::ExcludeEmbeddings, ParamSubset::ExcludeHead, ParamSubset::OnlyBiases];

const MODES: [OutputMode; 6] = [
    OutputMode::Margin,
    OutputMode::Logit(0),
    OutputMode::Logit(1),
    OutputMode::Trace,
    OutputMode::Full,
    OutputMode::Pntk,
];

#[test]
fn per_layer_equals_naive_for_every_mode_subset_and_block_size() {
    let s = setup();
    let n = s.encodings.len();
    for output in MODES {
        for subset in SUBSETS {
            let naive = run(
                &s,
                &s.encodings,
                None,
                GramOptions { method: NtkMethod::Naive, output, subset, breakdown: true, ..Default::default() },
            );
            assert_eq!(naive.outputs(), if output == OutputMode::Full { 2 } else { 1 });
            for block in [1, 2, 3, n] {
                let options = GramOptions {
                    method: NtkMethod::PerLayer,
                    output,
                    subset,
                    block,
                    breakdown: true,
                    ..Default::default()
                };
                let fast = run(&s, &s.encodings, None, options);
                let rel = relative_difference(fast.as_slice(), naive.as_slice());
                assert!(
                    rel < 1e-5,
                    "PerLayer (block {block}) vs Naive, {output} {subset:?}: max |Δ| / mean |K| = {rel:e}"
                );
                assert_eq!(
                    fast.groups.keys().collect::<Vec<_>>(),
                    naive.groups.keys().collect::<Vec<_>>(),
                    "{subset:?}: same parameter groups"
                );
            }
            // Per-parameter breakdown: each tensor's contribution agrees too (relative to the whole K).
            let fast = run(
                &s,
                &s.encodings,
                None,
                GramOptions { output, subset, block: 2, breakdown: true, ..Default::default() },
            );
            let scale = naive.as_slice().iter().map(|v| v.abs()).sum::<f64>() / naive.as_slice().len() as f64;
            for (name, k) in &naive.groups {
                let worst = fast.groups[name].iter().zip(k).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                assert!(
                    worst / scale < 1e-5,
                    "{output} {subset:?} {name}: PerLayer vs Naive differ by {worst:e} (mean |K| {scale:e})"
                );
            }
        }
    }
}

#[test]
fn output_modes_relate_as_their_definitions_say() {
    let s = setup();
    let n = s.encodings.len();
    let k = |output| run(&s, &s.encodings, None, GramOptions { output, block: 2, ..Default::default() });
    let (full, trace, pntk, margin) =
        (k(OutputMode::Full), k(OutputMode::Trace), k(OutputMode::Pntk), k(OutputMode::Margin));
    let logits = [k(OutputMode::Logit(0)), k(OutputMode::Logit(1))];
    assert_eq!(full.as_slice().len(), n * n * 4);
    let block = |i: usize, j: usize, v: usize, w: usize| full.as_slice()[((i * n + j) * 2 + v) * 2 + w];
    let (mut sum, mut from_full, mut margin_from_full, mut pntk_from_full) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        for j in 0..n {
            sum.push(logits[0].matrix()[[i, j]] + logits[1].matrix()[[i, j]]);
            from_full.push(block(i, j, 0, 0) + block(i, j, 1, 1));
            // ∇(f₁ − f₀)·∇(f₁ − f₀)' and ∇(f₀ + f₁)·∇(f₀ + f₁)' from the 2×2 blocks.
            margin_from_full.push(block(i, j, 1, 1) + block(i, j, 0, 0) - block(i, j, 0, 1) - block(i, j, 1, 0));
            pntk_from_full.push(block(i, j, 0, 0) + block(i, j, 1, 1) + block(i, j, 0, 1) + block(i, j, 1, 0));
            assert!(
                (block(i, j, 0, 1) - block(j, i, 1, 0)).abs() <= 1e-12 * block(i, i, 0, 0).abs(),
                "full K not symmetric"
            );
        }
    }
    assert!(relative_difference(trace.as_slice(), &sum) < 1e-5, "trace is not logit:0 + logit:1");
    assert!(relative_difference(trace.as_slice(), &from_full) < 1e-5, "trace is not the trace of the full blocks");
    assert!(
        relative_difference(margin.as_slice(), &margin_from_full) < 1e-5,
        "margin kernel does not follow from the full blocks"
    );
    assert!(relative_difference(pntk.as_slice(), &pntk_from_full) < 1e-5, "pntk does not follow from the full blocks");
    assert!(
        relative_difference(pntk.as_slice(), trace.as_slice()) > 1e-3,
        "pntk should differ from trace (cross terms)"
    );
}

/// Bit-exact equality of two value arrays.
fn assert_identical(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let differing = a.iter().zip(b).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
    assert_eq!(differing, 0, "{what}: {differing} values differ");
}

#[test]
fn row_slabs_reproduce_the_unsharded_rows_bit_for_bit() {
    let s = setup();
    let (x1, x2) = (&s.encodings[..], &s.encodings[..3]);
    for method in [NtkMethod::PerLayer, NtkMethod::Naive] {
        for output in [OutputMode::Margin, OutputMode::Full] {
            for (right, what) in [(None, "square"), (Some(x2), "rectangular")] {
                // Tiles of 2 examples: the slabs cut through tiles.
                let base = GramOptions { method, output, block: 1, tile: 2, ..Default::default() };
                let whole = run(&s, x1, right, base);
                let mut stacked = Vec::new();
                for rows in [(0, 1), (1, 4), (4, 5)] {
                    let slab = run(&s, x1, right, GramOptions { rows: Some(rows), ..base });
                    assert_eq!((slab.rows(), slab.row_start), (rows.1 - rows.0, rows.0));
                    stacked.extend(slab.as_slice());
                }
                assert_identical(
                    &stacked,
                    whole.as_slice(),
                    &format!("{method:?} {output} {what}: stacked slabs vs unsharded"),
                );
            }
        }
    }
    let e = gram(
        &s.model,
        x1,
        None,
        s.pad_id,
        &GramOptions { rows: Some((2, 9)), ..Default::default() },
        &s.device,
        &mut |_| {},
    );
    assert!(e.unwrap_err().to_string().contains("outside the 5 rows"));
}

#[test]
fn signal_passes_reproduce_the_one_pass_gram_bit_for_bit() {
    let s = setup();
    let (x1, x2) = (&s.encodings[..], &s.encodings[..3]);
    for output in [OutputMode::Margin, OutputMode::Full] {
        for (right, what) in [(None, "square"), (Some(x2), "rectangular")] {
            for rows in [None, Some((1, 4))] {
                // 3 passes in RAM; 2 passes spilled (a 1 MiB budget, which also changes the
                // feature chunks, hence the rounding: compared with one pass of the same budget);
                // more passes than layers.
                for (passes, budget, expected) in [(3, 3 << 30, 3), (2, 1 << 20, 2), (1000, 3 << 30, 0)] {
                    let base = GramOptions {
                        output,
                        block: 2,
                        breakdown: true,
                        rows,
                        memory_budget: budget,
                        ..Default::default()
                    };
                    let one = run(&s, x1, right, base);
                    assert_eq!(one.stats.signal_passes, 1);
                    let k = run(&s, x1, right, GramOptions { signal_passes: Some(passes), ..base });
                    let label = format!("{output} {what} rows {rows:?}, {passes} passes");
                    assert_identical(k.as_slice(), one.as_slice(), &label);
                    if expected > 0 {
                        assert_eq!(k.stats.signal_passes, expected, "{label}");
                    } else {
                        assert!(k.stats.signal_passes > 3, "{label}: one pass per stored layer");
                    }
                    assert_eq!(k.stats.spilled, budget == 1 << 20, "{label}");
                    assert_eq!(k.groups.keys().collect::<Vec<_>>(), one.groups.keys().collect::<Vec<_>>(), "{label}");
                    let blocks = k.stats.signal_blocks.fast + k.stats.signal_blocks.burn;
                    let one_blocks = one.stats.signal_blocks.fast + one.stats.signal_blocks.burn;
                    assert_eq!(blocks, one_blocks * k.stats.signal_passes, "{label}: every pass reruns every block");
                }
            }
        }
    }
}

#[test]
fn memory_budget_tiles_and_kernels_change_nothing_but_rounding() {
    let s = setup();
    let reference = run(
        &s,
        &s.encodings,
        None,
        GramOptions { method: NtkMethod::Naive, output: OutputMode::Trace, ..Default::default() },
    );
    // 1 MiB: the signals spill to disk and the weights are formed in several channel chunks.
    let variants = [
        GramOptions { memory_budget: 1 << 20, ..Default::default() },
        GramOptions { tile: 1, block: 1, ..Default::default() },
        GramOptions { kernels: KernelChoice::Reference, ..Default::default() },
    ];
    for options in variants {
        let k = run(&s, &s.encodings, None, GramOptions { output: OutputMode::Trace, ..options });
        let rel = relative_difference(k.as_slice(), reference.as_slice());
        assert!(rel < 1e-5, "{options:?}: {rel:e}");
        assert_eq!(k.stats.spilled, options.memory_budget == 1 << 20, "{options:?}");
        assert!(k.stats.contraction_flops > 0.0 && k.stats.forward_backward_flops > 0.0);
    }
}

#[test]
fn breakdown_sums_to_k_and_one_example_works() {
    let s = setup();
    let k = run(&s, &s.encodings, None, GramOptions { breakdown: true, ..Default::default() });
    let mut sum = vec![0.0; k.as_slice().len()];
    for part in k.groups.values() {
        for (t, v) in sum.iter_mut().zip(part) {
            *t += v;
        }
    }
    assert!(relative_difference(&sum, k.as_slice()) < 1e-12, "the per-parameter matrices do not sum to K");
    assert!(
        k.groups.contains_key("bert.embeddings.word_embeddings.weight") && k.groups.contains_key("classifier.bias")
    );
    for method in [NtkMethod::PerLayer, NtkMethod::Naive] {
        let one = run(&s, &s.encodings[..1], None, GramOptions { method, ..Default::default() });
        assert_eq!((one.rows(), one.cols(), one.as_slice().len()), (1, 1, 1));
        let norm = squared_gradient_norm(&s, &s.encodings[0]);
        assert!(
            (one.as_slice()[0] - norm).abs() <= 1e-5 * norm,
            "{method:?}: 1 x 1 K = {} vs ‖∇f‖² = {norm}",
            one.as_slice()[0]
        );
    }
}

#[test]
fn both_linear_forms_agree_with_naive() {
    let s = setup();
    let naive = run(&s, &s.encodings, None, GramOptions { method: NtkMethod::Naive, ..Default::default() });
    for linear_form in [LinearForm::Materialize, LinearForm::Structured] {
        let fast = run(&s, &s.encodings, None, GramOptions { linear_form, block: 3, ..Default::default() });
        let rel = relative_difference(fast.as_slice(), naive.as_slice());
        assert!(rel < 1e-5, "{linear_form:?} vs Naive: {rel:e}");
    }
}

/// Squared norm of ∇θ f(x) straight from `Classifier::gradients` (one backward, batch of one).
fn squared_gradient_norm(s: &Setup, encoding: &Encoding) -> f64 {
    let batch = ntkgap::model::Batch::new(
        &pad_batch(std::slice::from_ref(encoding), s.pad_id).unwrap(),
        &s.model.config,
        &s.device,
    )
    .unwrap();
    let grads = s.model.score(&batch, None).sum().backward();
    let map = s.model.gradients(&grads).unwrap();
    map.names().iter().flat_map(|n| map.get(n).unwrap().data.clone()).map(|v| f64::from(v) * f64::from(v)).sum()
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
fn jacobi_eigenvalues(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

#[test]
fn jacobi_finds_known_eigenvalues() {
    let mut e = jacobi_eigenvalues(vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, -1.0], 3);
    e.sort_by(f64::total_cmp);
    for (got, want) in e.iter().zip([-1.0, 1.0, 3.0]) {
        assert!((got - want).abs() < 1e-10, "{e:?}");
    }
}

#[test]
fn gram_is_symmetric_psd_with_squared_gradient_norms_on_the_diagonal() {
    let s = setup();
    let n = s.encodings.len();
    let k = run(&s, &s.encodings, None, GramOptions { block: 2, ..Default::default() });
    for i in 0..n {
        for j in 0..n {
            assert!(
                (k.matrix()[[i, j]] - k.matrix()[[j, i]]).abs() <= 1e-12 * k.matrix()[[i, i]].abs().max(1e-300),
                "K[{i},{j}] != K[{j},{i}]"
            );
        }
        let norm = squared_gradient_norm(&s, &s.encodings[i]);
        assert!(
            (k.matrix()[[i, i]] - norm).abs() <= 1e-5 * norm,
            "K[{i},{i}] = {} but ‖∇θ f‖² = {norm}",
            k.matrix()[[i, i]]
        );
    }
    let eigenvalues = jacobi_eigenvalues(k.as_slice().to_vec(), n);
    let max = eigenvalues.iter().copied().fold(f64::MIN, f64::max);
    let min = eigenvalues.iter().copied().fold(f64::MAX, f64::min);
    assert!(max > 0.0 && min >= -1e-6 * max, "not PSD: eigenvalues {eigenvalues:?}");
}

#[test]
fn rectangular_gram_is_the_block_of_the_joint_gram() {
    let s = setup();
    let (x1, x2) = s.encodings.split_at(3);
    let joint = run(&s, &s.encodings, None, GramOptions { block: 2, ..Default::default() });
    for method in [NtkMethod::PerLayer, NtkMethod::Naive] {
        let rect = run(&s, x1, Some(x2), GramOptions { method, block: 2, ..Default::default() });
        assert_eq!((rect.rows(), rect.cols()), (3, 2));
        let block: Vec<f64> =
            (0..3).flat_map(|i| (3..5).map(move |j| (i, j))).map(|(i, j)| joint.matrix()[[i, j]]).collect();
        let rel = relative_difference(rect.as_slice(), &block);
        assert!(rel < 1e-5, "{method:?} K(X1, X2) vs block of K(X1 ∪ X2): {rel:e}");
    }
}

#[test]
fn bad_options_and_empty_inputs_are_refused() {
    let s = setup();
    let e = gram(
        &s.model,
        &s.encodings,
        None,
        s.pad_id,
        &GramOptions { block: 0, ..Default::default() },
        &s.device,
        &mut |_| {},
    );
    assert!(e.unwrap_err().to_string().contains("block"));
    let e = gram(&s.model, &[], None, s.pad_id, &GramOptions::default(), &s.device, &mut |_| {});
    assert!(e.unwrap_err().to_string().contains("no examples"));
    let e = gram(
        &s.model,
        &s.encodings,
        None,
        s.pad_id,
        &GramOptions { output: OutputMode::Logit(2), ..Default::default() },
        &s.device,
        &mut |_| {},
    );
    assert!(e.unwrap_err().to_string().contains("logit:2 but the model has 2 labels"));
}
