//! Rotary position embeddings as Hugging Face applies them (`LlamaRotaryEmbedding`, default
//! type, `rotate_half` convention — not the interleaved pairs of the original paper):
//!
//! inv_freqᵢ = 1/θ^(2i/d) for i < d/2, angle(p, i) = p·inv_freqᵢ, and for a head vector x,
//! x' = x ⊙ cos + rotate_half(x) ⊙ sin with cos/sin = [cos angle, cos angle] (the half repeated)
//! and rotate_half(x) = [−x_{d/2..d}, x_{0..d/2}].
//!
//! The tables are computed on the host in f32 the way transformers does (f32 inverse
//! frequencies and products; cos/sin of the f32 angle correctly rounded), once per batch, and
//! shared by every layer. They are constants: no gradient flows into them.

use burn::tensor::{Device, Tensor, TensorData};

/// cos/sin tables `[N, 1, T, d]` for a batch's position ids.
#[derive(Debug, Clone)]
pub struct RopeTables {
    /// cos(angle), `[N, 1, T, d]`.
    pub cos: Tensor<4>,
    /// sin(angle), `[N, 1, T, d]`.
    pub sin: Tensor<4>,
}

/// cos and sin of the angles of `positions`, one row of `head_dim` per position (the half
/// repeated), on the host: `[P, d]` each (what [`RopeTables`] holds, and what the hand-written
/// CPU signal path of `ntk::fastfb::llama` applies).
pub fn rope_rows(positions: &[u32], head_dim: usize, theta: f64) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let inv_freq: Vec<f32> = (0..half).map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32)).collect();
    let mut cos = Vec::with_capacity(positions.len() * head_dim);
    let mut sin = Vec::with_capacity(positions.len() * head_dim);
    for &p in positions {
        let angles: Vec<f32> = inv_freq.iter().map(|f| p as f32 * f).collect();
        for _ in 0..2 {
            cos.extend(angles.iter().map(|&a| f64::from(a).cos() as f32));
            sin.extend(angles.iter().map(|&a| f64::from(a).sin() as f32));
        }
    }
    (cos, sin)
}

impl RopeTables {
    /// Tables for `positions` (`[N·T]`, row-major) with head size `head_dim` (even) and base
    /// `theta`.
    pub fn new(positions: &[u32], (n, t): (usize, usize), head_dim: usize, theta: f64, device: &Device) -> Self {
        let (cos, sin) = rope_rows(positions, head_dim, theta);
        let table = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [n, 1, t, head_dim]), device);
        Self { cos: table(cos), sin: table(sin) }
    }

    /// Rotate `x` `[N, heads, T, d]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, h, t, d] = x.dims();
        let first = x.clone().slice([0..n, 0..h, 0..t, 0..d / 2]);
        let second = x.clone().slice([0..n, 0..h, 0..t, d / 2..d]);
        let rotated = Tensor::cat(vec![second.neg(), first], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dense::tensor_to_host;

    #[test]
    fn rotation_keeps_norms_and_position_zero_is_identity() {
        let device = Device::flex();
        let tables = RopeTables::new(&[0, 5], (1, 2), 4, 10_000.0, &device);
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, -0.5, 3.0, 1.0, 2.0, -0.5, 3.0], [1, 1, 2, 4]),
            &device,
        );
        let y = tensor_to_host(tables.apply(x)).unwrap().data;
        assert_eq!(&y[..4], &[1.0, 2.0, -0.5, 3.0]);
        let norm = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>();
        assert!((norm(&y[4..]) - norm(&y[..4])).abs() < 1e-4);
        // Pair (0, 2) rotates by angle 5·1: (1, −0.5) → (cos5 + 0.5 sin5, sin5 − 0.5 cos5).
        let (c, s) = (5.0f32.cos(), 5.0f32.sin());
        assert!((y[4] - (c + 0.5 * s)).abs() < 1e-5 && (y[6] - (s - 0.5 * c)).abs() < 1e-5);
    }
}
