//! The probe hook (docs/science.md "The fast eNTK"): per-example, per-token output gradients of every
//! Linear / LayerNorm / Embedding layer, contracted with the recorded inputs, reproduce the
//! batch parameter gradients of `score(batch).sum()`; and probing does not change the forward.

use burn::tensor::Tensor;
use ntkgap::model::dense::tensor_to_host;
use ntkgap::model::{load, Batch, BuiltinSize, Classifier, LayerKind, LoadOptions, ModelSpec, ProbeInput, ProbeSet};
use ntkgap::tokenize::{pad_batch, Tokenizer};

const PAIRS: [(&str, &str); 3] = [
    ("Suppose there is a closed system of 3 variables, A, B and C. All the statistical relations among these 3 variables are as follows: A correlates with B. B correlates with C. However, A is independent of C.", "A directly causes B."),
    ("Suppose there is a closed system of 2 variables, A and B. All the statistical relations among these 2 variables are as follows: A correlates with B.", "There exists at least one collider (i.e., common effect) of A and B."),
    ("Suppose there is a closed system of 3 variables, A, B and C. All the statistical relations among these 3 variables are as follows: A correlates with C. B correlates with C. However, A is independent of B.", "C is a cause for A, but not a direct one."),
];

fn setup(autodiff: bool) -> (Classifier, Box<dyn Tokenizer>, burn::tensor::Device) {
    let device = if autodiff { burn::tensor::Device::flex().autodiff() } else { burn::tensor::Device::flex() };
    let loaded =
        load(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 3, head_file: None }, &device).unwrap();
    (loaded.classifier, loaded.tokenizer, device)
}

fn batch_of(
    pairs: &[(&str, &str)],
    model: &Classifier,
    tokenizer: &dyn Tokenizer,
    device: &burn::tensor::Device,
) -> Batch {
    let encodings: Vec<_> = pairs.iter().map(|(p, h)| tokenizer.encode_pair(p, h).unwrap()).collect();
    Batch::new(&pad_batch(&encodings, tokenizer.pad_id().unwrap()).unwrap(), &model.config, device).unwrap()
}

fn host<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let h = tensor_to_host(t).unwrap();
    (h.shape, h.data)
}

fn assert_close(name: &str, got: &[f32], expected: &[f32]) {
    assert_eq!(got.len(), expected.len(), "{name}: length");
    let scale = expected.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let worst = got.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4 * scale + 1e-7, "{name}: probe-derived gradient differs by {worst} (scale {scale})");
}

/// Σᵢ Σₜ gᵢ,ₜ aᵢ,ₜᵀ as a PyTorch-layout `[d_out, d_in]` matrix, and Σ g.
fn contract(a: &[f32], g: &[f32], d_in: usize, d_out: usize) -> (Vec<f32>, Vec<f32>) {
    let rows = a.len() / d_in;
    let (mut w, mut b) = (vec![0.0f32; d_out * d_in], vec![0.0f32; d_out]);
    for r in 0..rows {
        for o in 0..d_out {
            let go = g[r * d_out + o];
            b[o] += go;
            for i in 0..d_in {
                w[o * d_in + i] += go * a[r * d_in + i];
            }
        }
    }
    (w, b)
}

#[test]
fn probe_gradients_reproduce_every_parameter_gradient() {
    let (model, tokenizer, device) = setup(true);
    let batch = batch_of(&PAIRS, &model, tokenizer.as_ref(), &device);
    let mut probes = ProbeSet::new();
    let grads = model.score(&batch, Some(&mut probes)).sum().backward();
    let reference = model.gradients(&grads).unwrap();
    let layers = 2;
    // 3 embeddings + 1 LN, per layer 4 attention linears + LN + 2 FFN linears + LN, head 2.
    assert_eq!(probes.probes().len(), 4 + layers * 8 + 2);
    let mut checked = 0;
    for probe in probes.probes() {
        let (gshape, g) = host(probe.output_probe.grad(&grads).expect("probe has a gradient"));
        let d_out = gshape[2];
        let weight = reference.get(&format!("{}.weight", probe.name)).unwrap();
        let bias = reference.get(&format!("{}.bias", probe.name));
        match (&probe.kind, &probe.input) {
            (LayerKind::Linear, ProbeInput::Activation(a)) => {
                let (ashape, a) = host(a.clone());
                let (w, b) = contract(&a, &g, ashape[2], d_out);
                assert_close(&format!("{}.weight", probe.name), &weight.data, &w);
                assert_close(&format!("{}.bias", probe.name), &bias.unwrap().data, &b);
            }
            (LayerKind::LayerNorm, ProbeInput::Activation(x_hat)) => {
                let (_, x) = host(x_hat.clone());
                let gamma: Vec<f32> = (0..d_out)
                    .map(|k| (0..g.len() / d_out).map(|r| g[r * d_out + k] * x[r * d_out + k]).sum())
                    .collect();
                let beta: Vec<f32> = (0..d_out).map(|k| (0..g.len() / d_out).map(|r| g[r * d_out + k]).sum()).collect();
                assert_close(&format!("{}.weight", probe.name), &weight.data, &gamma);
                assert_close(&format!("{}.bias", probe.name), &bias.unwrap().data, &beta);
            }
            (LayerKind::Embedding, ProbeInput::TokenIds(ids)) => {
                let ids: Vec<i64> = ids.clone().into_data().convert::<i64>().try_into_vec::<i64>().unwrap();
                let mut table = vec![0.0f32; weight.data.len()];
                for (r, &id) in ids.iter().enumerate() {
                    for k in 0..d_out {
                        table[id as usize * d_out + k] += g[r * d_out + k];
                    }
                }
                assert_close(&format!("{}.weight", probe.name), &weight.data, &table);
            }
            other => panic!("unexpected probe {other:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, probes.probes().len());
    assert!(probes.get("bert.encoder.layer.1.intermediate.dense").is_some());
}

#[test]
fn probes_are_per_example() {
    // The probe gradient of example 0 is its own: computing it alone gives the same values.
    let (model, tokenizer, device) = setup(true);
    let mut together = ProbeSet::new();
    let batch = batch_of(&PAIRS, &model, tokenizer.as_ref(), &device);
    let grads = model.score(&batch, Some(&mut together)).sum().backward();
    let mut alone = ProbeSet::new();
    let single = batch_of(&PAIRS[..1], &model, tokenizer.as_ref(), &device);
    let grads_alone = model.score(&single, Some(&mut alone)).sum().backward();
    let name = "bert.encoder.layer.0.output.dense";
    let (shape, g) = host(together.get(name).unwrap().output_probe.grad(&grads).unwrap());
    let (shape1, g1) = host(alone.get(name).unwrap().output_probe.grad(&grads_alone).unwrap());
    let t1 = shape1[1];
    let first: Vec<f32> = (0..t1 * shape[2]).map(|k| g[k]).collect();
    assert_close("example 0 output gradient", &first, &g1);
}

#[test]
fn probing_does_not_change_the_forward_and_padding_is_invisible() {
    let (model, tokenizer, device) = setup(false);
    let batch = batch_of(&PAIRS, &model, tokenizer.as_ref(), &device);
    let (_, plain) = host(model.score(&batch, None));
    let mut probes = ProbeSet::new();
    let (ad_model, _, ad_device) = setup(true);
    let ad_batch = batch_of(&PAIRS, &ad_model, tokenizer.as_ref(), &ad_device);
    let (_, probed) = host(ad_model.score(&ad_batch, Some(&mut probes)));
    assert_close("probed score", &probed, &plain);
    for (i, pair) in PAIRS.iter().enumerate() {
        let (_, alone) =
            host(model.score(&batch_of(std::slice::from_ref(pair), &model, tokenizer.as_ref(), &device), None));
        assert!((alone[0] - plain[i]).abs() < 1e-5, "example {i}: alone {} vs padded batch {}", alone[0], plain[i]);
    }
}
