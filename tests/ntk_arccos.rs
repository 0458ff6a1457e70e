//! Analytic check of the eNTK (eNTK issue, "Correctness"): the empirical NTK of a wide ReLU MLP
//! in NTK parameterization approaches the infinite-width ReLU NTK from the arc-cosine recursion,
//! with the error shrinking like 1/√width.
//!
//! The network ([`ReluMlp`], a small burn module built for this test), depth L = 1 or 2 hidden
//! layers of width n, inputs x ∈ ℝ^d on the unit sphere, every weight i.i.d. N(0, 1) (seeded),
//! no biases:
//!
//! ```text
//! h¹ = W¹ x,   hˡ = Wˡ σ(hˡ⁻¹) / √n  (l = 2..L),   f(x) = vᵀ σ(hᴸ) / √n,   σ = ReLU
//! ```
//!
//! Its eNTK Θₙ(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ over all weights is computed like the `Naive`
//! method: one burn autodiff backward per example, gradients flattened, inner products in f64.
//! As n → ∞ it converges to the deterministic NTK (Jacot, Gabriel & Hongler 2018, Thm 1;
//! Arora et al. 2019, "On exact computation with an infinitely wide neural net", Thm 3.1 —
//! here without their c_σ = 2 normalisation, hence the halving of Σ(x, x) per layer):
//!
//! ```text
//! Σ⁰(x, x') = xᵀx',   Θ⁰ = Σ⁰
//! Λˡ = [[Σˡ⁻¹(x, x), Σˡ⁻¹(x, x')], [Σˡ⁻¹(x', x), Σˡ⁻¹(x', x')]],  c = Λ₁₂ / √(Λ₁₁Λ₂₂),  t = arccos c
//! Σˡ(x, x')  = E_{(u,w)~N(0,Λˡ)}[σ(u)σ(w)]   = √(Λ₁₁Λ₂₂) (sin t + (π − t) cos t) / 2π
//! Σ̇ˡ(x, x')  = E_{(u,w)~N(0,Λˡ)}[σ'(u)σ'(w)] = (π − t) / 2π
//! Θˡ = Θˡ⁻¹ Σ̇ˡ + Σˡ,   Θ = Θᴸ
//! ```
//!
//! (the degree-1 and degree-0 arc-cosine kernels of Cho & Saul 2009). For L = 1 this is
//! Θ = xᵀx' (π − t)/2π + (sin t + (π − t) cos t)/2π: the W gradient gives the first term,
//! the v gradient the second.
//!
//! Measured (mean over 4 seeds of ‖Θₙ − Θ‖_F / ‖Θ‖_F on 6 inputs, d = 8, printed by the test):
//!
//! | width | 64 | 256 | 1024 | 4096 | log-log slope |
//! |---|---|---|---|---|---|
//! | L = 1 | 0.308 | 0.096 | 0.038 | 0.023 | −0.62 |
//! | L = 2 | 0.405 | 0.200 | 0.099 | 0.037 | −0.58 |
//!
//! The test asserts that the error falls at every ×4 in width, that the log-log slope from 64
//! to 4096 lies in [−0.75, −0.35] (1/√n is −0.5), and a final relative error below 0.06.
//! Single seeds scatter widely at small width (0.14–0.67 at n = 64, L = 1), hence the average.

use crate::common;

use std::f64::consts::PI;

use burn::module::{Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use common::params::{dot, gradients, ParamVectors};
use ntkgap::numeric::standard_normal;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Input dimension.
const DIM: usize = 8;
/// Widths of the sweep (×4 each).
const WIDTHS: [usize; 4] = [64, 256, 1024, 4096];
/// Initialisation seeds averaged over.
const SEEDS: [u64; 4] = [11, 12, 13, 14];

/// A bias-free ReLU MLP in NTK parameterization (module docs).
#[derive(Module, Debug)]
struct ReluMlp {
    /// W¹ `[d, n]`, then Wˡ `[n, n]` (burn layout: `h = a · W`).
    hidden: Vec<Param<Tensor<2>>>,
    /// v `[n, 1]`.
    readout: Param<Tensor<2>>,
}

fn gaussian(rows: usize, cols: usize, rng: &mut ChaCha8Rng, device: &Device) -> Param<Tensor<2>> {
    let values: Vec<f32> = (0..rows * cols).map(|_| standard_normal(rng) as f32).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, [rows, cols]), device))
}

impl ReluMlp {
    /// `depth` hidden layers of `width` units, weights N(0, 1) from `seed`.
    fn new(depth: usize, width: usize, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let hidden = (0..depth).map(|l| gaussian(if l == 0 { DIM } else { width }, width, &mut rng, device)).collect();
        let readout = gaussian(width, 1, &mut rng, device);
        Self { hidden, readout }
    }

    /// f(x) `[1, 1]` for one input `[1, d]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let scale = 1.0 / (self.readout.val().dims()[0] as f64).sqrt();
        let mut h = x.matmul(self.hidden[0].val());
        for w in &self.hidden[1..] {
            h = relu(h).matmul(w.val()) * scale;
        }
        relu(h).matmul(self.readout.val()) * scale
    }
}

/// `count` seeded points on the unit sphere of ℝ^d, with a near pair (cos ≈ 0.95) and an
/// antipodal pair so that the angles span [0, π].
fn inputs(count: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(2019);
    let mut xs: Vec<Vec<f64>> = (0..count - 2).map(|_| (0..DIM).map(|_| standard_normal(&mut rng)).collect()).collect();
    let near: Vec<f64> = xs[0].iter().map(|&a| a + 0.3 * standard_normal(&mut rng)).collect();
    let opposite: Vec<f64> = xs[1].iter().map(|&a| -a).collect();
    xs.extend([near, opposite]);
    // Normalise in f32 precision, so the network sees exactly the vectors the formula uses.
    xs.into_iter()
        .map(|x| {
            let norm = x.iter().map(|a| a * a).sum::<f64>().sqrt();
            x.iter().map(|a| f64::from((a / norm) as f32)).collect()
        })
        .collect()
}

/// The infinite-width NTK Θ(x, y) of the depth-`depth` network (module docs).
fn relu_ntk(x: &[f64], y: &[f64], depth: usize) -> f64 {
    let inner = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let (mut sxx, mut syy, mut sxy) = (inner(x, x), inner(y, y), inner(x, y));
    let mut theta = sxy;
    for _ in 0..depth {
        let scale = (sxx * syy).sqrt();
        let t = (sxy / scale).clamp(-1.0, 1.0).acos();
        let derivative = (PI - t) / (2.0 * PI);
        sxy = scale * (t.sin() + (PI - t) * t.cos()) / (2.0 * PI);
        sxx /= 2.0;
        syy /= 2.0;
        theta = theta * derivative + sxy;
    }
    theta
}

/// Θₙ on `xs`: one backward per example, f32 gradients, f64 inner products.
fn empirical_ntk(model: &ReluMlp, xs: &[Vec<f64>], device: &Device) -> Vec<f64> {
    let per_example: Vec<ParamVectors<f32>> = xs
        .iter()
        .map(|x| {
            let values: Vec<f32> = x.iter().map(|&a| a as f32).collect();
            let input = Tensor::<2>::from_data(TensorData::new(values, [1, DIM]), device);
            let grads = model.forward(input).sum().backward();
            gradients(model, &grads)
        })
        .collect();
    let n = xs.len();
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let v = dot(&per_example[i], &per_example[j]);
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
    }
    k
}

/// ‖a − b‖_F / ‖b‖_F.
fn relative_frobenius(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    (diff / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

/// Mean relative error over the seeds, per width.
fn sweep(depth: usize) -> Vec<f64> {
    let device = Device::flex().autodiff();
    let xs = inputs(6);
    let n = xs.len();
    let exact: Vec<f64> = (0..n * n).map(|ij| relu_ntk(&xs[ij / n], &xs[ij % n], depth)).collect();
    WIDTHS
        .iter()
        .map(|&width| {
            let errors: Vec<f64> = SEEDS
                .iter()
                .map(|&seed| {
                    relative_frobenius(&empirical_ntk(&ReluMlp::new(depth, width, seed, &device), &xs, &device), &exact)
                })
                .collect();
            let mean = errors.iter().sum::<f64>() / errors.len() as f64;
            eprintln!("depth {depth}, width {width:>4}: ‖Θₙ − Θ‖_F / ‖Θ‖_F = {mean:.4} (seeds: {errors:.4?})");
            mean
        })
        .collect()
}

fn assert_converges_like_inverse_sqrt_width(depth: usize) {
    let errors = sweep(depth);
    for (pair, e) in WIDTHS.windows(2).zip(errors.windows(2)) {
        assert!(
            e[1] < e[0],
            "depth {depth}: error did not fall from width {} ({:.4}) to {} ({:.4})",
            pair[0],
            e[0],
            pair[1],
            e[1]
        );
    }
    let (first, last) = (errors[0], errors[errors.len() - 1]);
    let slope = (last / first).ln() / (WIDTHS[WIDTHS.len() - 1] as f64 / WIDTHS[0] as f64).ln();
    eprintln!("depth {depth}: log-log slope {slope:.3} (1/√n: −0.5)");
    assert!((-0.75..=-0.35).contains(&slope), "depth {depth}: error ∝ width^{slope:.3}, expected ≈ width^−0.5");
    assert!(last < 0.06, "depth {depth}: relative error {last:.4} at width {}", WIDTHS[WIDTHS.len() - 1]);
}

#[test]
fn the_recursion_matches_the_closed_form_for_one_hidden_layer() {
    let unit = |x: &Vec<f64>| {
        let norm = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        x.iter().map(|a| a / norm).collect::<Vec<f64>>()
    };
    let xs: Vec<Vec<f64>> = inputs(6).iter().map(unit).collect();
    for x in &xs {
        for y in &xs {
            let c: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>().clamp(-1.0, 1.0);
            let t = c.acos();
            let closed = c * (PI - t) / (2.0 * PI) + (t.sin() + (PI - t) * c) / (2.0 * PI);
            // arccos near c = 1 turns one rounding of c (≈ 1e-16) into t ≈ 1e-8.
            assert!((relu_ntk(x, y, 1) - closed).abs() < 1e-7, "depth-1 recursion vs closed form at cos {c}");
        }
        // On the unit sphere (t = 0): Σ̇ = 1/2 per layer, Σ¹ = 1/2, Σ² = 1/4.
        assert!((relu_ntk(x, x, 1) - 1.0).abs() < 1e-7, "Θ¹(x, x) = 1·1/2 + 1/2");
        assert!((relu_ntk(x, x, 2) - 0.75).abs() < 1e-7, "Θ²(x, x) = 1·1/2 + 1/4");
    }
}

#[test]
fn one_hidden_layer_entk_approaches_the_arc_cosine_ntk() {
    assert_converges_like_inverse_sqrt_width(1);
}

#[test]
fn two_hidden_layer_entk_approaches_the_arc_cosine_ntk() {
    assert_converges_like_inverse_sqrt_width(2);
}
