//! Per-example backprop signals of one block of examples (docs/science.md "The fast eNTK"), by burn:
//! [`crate::ntk::SignalPath::Burn`], the reference twin of the hand-written CPU path
//! [`crate::ntk::fastfb`] and the path on wgpu. [`BlockSignals`] is what both produce.
//!
//! One forward with a [`ProbeSet`] and one backward of L = Σᵣ f(rowᵣ) give, for every probed
//! layer, the recorded input (activation a or normalised x̂, or ids) and the output gradient
//! gᵣ,ₜ = ∂f(rowᵣ)/∂yᵣ,ₜ. The rows of the batch are *virtual examples* (example i, virtual
//! output v; see [`crate::ntk::outputs`]): each example of the block is repeated V times.
//! Only real (unpadded) tokens are kept, as f32 rows grouped by virtual example, so padding
//! contributes nothing by construction.

use burn::tensor::{Device, Int, Tensor};

use crate::error::{Error, Result};
use crate::model::dense::tensor_to_host;
use crate::model::{LayerKind, ProbeInput, ProbeSet};
use crate::ntk::family::NtkModel;
use crate::ntk::outputs::{objective, OutputMode};
use crate::tokenize::{pad_batch, Encoding};

/// What a layer received, real tokens only.
#[derive(Debug, Clone)]
pub enum SignalInput {
    /// Activation rows `[R, d_in]`.
    Activation(Vec<f32>),
    /// Row ids `[R]` (token, position or token-type ids).
    Ids(Vec<u32>),
}

/// The signals of one probed layer for a block of virtual examples.
#[derive(Debug, Clone)]
pub struct LayerSignals {
    /// The layer's Hugging Face name prefix.
    pub name: String,
    /// Linear (with or without bias), LayerNorm, RMSNorm or Embedding.
    pub kind: LayerKind,
    /// True when the layer sees every token; false for layers on one position only (head).
    pub per_token: bool,
    /// Rows (kept tokens) per virtual example.
    pub rows: Vec<usize>,
    /// Input width (0 for embeddings).
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// The recorded input.
    pub input: SignalInput,
    /// Output gradients `[R, d_out]`.
    pub grad: Vec<f32>,
}

/// Everything one block's forward + backward produced.
#[derive(Debug, Clone)]
pub struct BlockSignals {
    /// Every probed layer, in forward order.
    pub layers: Vec<LayerSignals>,
    /// The padded length T of the block.
    pub seq_len: usize,
    /// Rows of the batch (examples × virtual outputs).
    pub batch_rows: usize,
    /// What the forward + backward computed, for its FLOP count.
    pub work: BlockWork,
}

/// What one block's forward + backward computed ([`BlockSignals::forward_backward_flops`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockWork {
    /// A padded batch of `batch_rows` rows of `seq_len` positions (each example repeated once per
    /// virtual output), one forward and one activation backward (burn's probed pass).
    Padded,
    /// The packed real tokens of examples of these lengths: one forward, then `virtuals`
    /// activation backwards (the hand-written path, [`crate::ntk::fastfb`]).
    Packed {
        /// Real tokens of each example.
        lengths: Vec<usize>,
        /// Backward passes over the one forward.
        virtuals: usize,
    },
}

impl BlockSignals {
    /// FLOPs of this block's forward + activation backward, from the model's counts of one
    /// forward, each `(total, attention part)` ([`crate::ntk::cost`];
    /// [`crate::ntk::NtkModel::packed_forward_flops`]): a backward costs the forward plus its
    /// attention part again (dV, dP, dQ, dK against QKᵀ, PV). A padded batch of B rows runs one
    /// forward and one backward over B·T positions; a packed block one forward over the real
    /// tokens and V backwards: (1 + V)·F + V·A with F, A summed over the examples' lengths.
    /// (Counting the packed path by its padded shape overstated its rate when the lengths in a
    /// block differ.)
    pub fn forward_backward_flops(
        &self,
        forward_flops: impl Fn(usize, usize) -> (f64, f64),
        packed_forward_flops: impl Fn(usize) -> (f64, f64),
    ) -> f64 {
        match &self.work {
            BlockWork::Padded => {
                let (f, a) = forward_flops(self.batch_rows, self.seq_len);
                2.0 * f + a
            }
            BlockWork::Packed { lengths, virtuals } => {
                let (f, a) =
                    lengths.iter().map(|&t| packed_forward_flops(t)).fold((0.0, 0.0), |(f, a), (g, b)| (f + g, a + b));
                (1 + virtuals) as f64 * f + *virtuals as f64 * a
            }
        }
    }
}

/// Run `encodings` (each repeated `virtuals` times, example-major) through `model` (an encoder
/// or a decoder, on an autodiff `device`) as one block padded on the right (an encoding may
/// arrive padded on either side: its mask says which positions are real) and collect every
/// layer's signals, in forward order. Layers applied at one position only (the encoder's head
/// on the first token, a decoder's final norm and head on the last real token) keep that row.
///
/// # Errors
/// [`Error::InvalidArgument`] for encodings that do not fit the model; [`Error::Numerical`]
/// when a tensor cannot be read back or a probe received no gradient (not an autodiff device).
pub fn block_signals(
    model: &dyn NtkModel,
    encodings: &[Encoding],
    pad_id: u32,
    mode: OutputMode,
    device: &Device,
) -> Result<BlockSignals> {
    let virtuals = mode.virtual_outputs(model.num_outputs());
    let repeated: Vec<Encoding> = encodings.iter().flat_map(|e| std::iter::repeat_n(e.clone(), virtuals)).collect();
    let padded = pad_batch(&repeated, pad_id)?;
    let mut probes = ProbeSet::new();
    let grads = objective(model, &padded, mode, 0, Some(&mut probes), device)?.sum().backward();
    let mask = &padded.attention_mask;
    let layers = probes
        .probes()
        .iter()
        .map(|probe| {
            let g = probe.output_probe.grad(&grads).ok_or_else(|| Error::Numerical {
                context: "eNTK probes".into(),
                reason: format!("{} received no gradient (the model must be on an autodiff device)", probe.name),
            })?;
            let g = tensor_to_host(g)?;
            let (t, d_out) = (g.shape[1], g.shape[2]);
            let keep = kept_positions(mask, padded.batch_size, padded.seq_len, t);
            let rows: Vec<usize> = keep.iter().map(Vec::len).collect();
            let grad = gather(&g.data, &keep, t, d_out);
            let (input, d_in) = match &probe.input {
                ProbeInput::Activation(a) => {
                    let a = tensor_to_host(a.clone())?;
                    let d_in = a.shape[2];
                    (SignalInput::Activation(gather(&a.data, &keep, t, d_in)), d_in)
                }
                ProbeInput::TokenIds(ids) => (SignalInput::Ids(gather_ids(ids.clone(), &keep, t)?), 0),
            };
            let per_token = t == padded.seq_len;
            Ok(LayerSignals { name: probe.name.clone(), kind: probe.kind, per_token, rows, d_in, d_out, input, grad })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(BlockSignals { layers, seq_len: padded.seq_len, batch_rows: padded.batch_size, work: BlockWork::Padded })
}

/// Per row, the positions (< `t`) whose attention mask is 1; a layer applied to the first
/// token only (`t = 1`) keeps position 0.
fn kept_positions(mask: &[u32], n: usize, seq_len: usize, t: usize) -> Vec<Vec<usize>> {
    (0..n).map(|i| (0..t).filter(|&p| t < seq_len || mask[i * seq_len + p] != 0).collect()).collect()
}

fn gather(values: &[f32], keep: &[Vec<usize>], t: usize, d: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(keep.iter().map(Vec::len).sum::<usize>() * d);
    for (i, positions) in keep.iter().enumerate() {
        for &p in positions {
            let at = (i * t + p) * d;
            out.extend_from_slice(&values[at..at + d]);
        }
    }
    out
}

fn gather_ids(ids: Tensor<2, Int>, keep: &[Vec<usize>], t: usize) -> Result<Vec<u32>> {
    let ids: Vec<i64> = ids
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| Error::device("reading ids back", format!("{e:?}")))?;
    let ids = &ids;
    keep.iter()
        .enumerate()
        .flat_map(|(i, ps)| ps.iter().map(move |&p| ids[i * t + p]))
        .map(|id| {
            u32::try_from(id).map_err(|_| Error::Numerical {
                context: "reading ids back".into(),
                reason: format!("id {id} out of range"),
            })
        })
        .collect()
}

/// The one position per example at which a model reads its output: the encoder's first token
/// (the pooler / classification head), a decoder's last real token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooled {
    /// Each example's first kept row.
    First,
    /// Each example's last kept row.
    Last,
}

/// The probed layers whose output gradient is zero at every row but the pooled one
/// ([`crate::ntk::family::NtkModel::pooled_layers`]): the maps of the last block above its
/// attention, which feed only the pooled position's output, and its query projection (only
/// the pooled position's query reaches the output; every row's key and value do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledLayers {
    /// Where the output is read.
    pub at: Pooled,
    /// The layers' names.
    pub names: Vec<String>,
}

/// Keep only the pooled row of every virtual example in the per-token layers `pooled` names,
/// which then count as applied at one position (`per_token` false, as the head's layers).
///
/// Exact, not an approximation: every term of a layer's Gram (Σₜ gₜ aₜᵀ, Σₜ gₜ, Σₜ gₜ ⊙ x̂ₜ,
/// Σₜₛ (aₜ·a′ₛ)(gₜ·g′ₛ), the token match) vanishes where gₜ = 0, and every dropped row's
/// gradient is checked to be exactly zero. It spares the contraction T − 1 of every T rows of
/// those layers (the last block's feed-forward: an eighth of MiniLM's weight gradients).
///
/// # Errors
/// [`Error::Internal`] naming the layer when a dropped row's gradient is not zero (the model
/// reads more than the pooled position), or when the layer's shapes do not add up.
pub fn keep_pooled_rows(layers: &mut [LayerSignals], pooled: &PooledLayers) -> Result<()> {
    // Every named layer is marked, even in a block whose examples have one row each, so that
    // every block (and every row slab's first one) stores the layer alike.
    for layer in layers.iter_mut().filter(|l| l.per_token && pooled.names.contains(&l.name)) {
        let (d_in, d_out) = (layer.d_in, layer.d_out);
        let total: usize = layer.rows.iter().sum();
        let (input_len, input_width) = match &layer.input {
            SignalInput::Activation(a) => (a.len(), d_in),
            SignalInput::Ids(ids) => (ids.len(), 1),
        };
        if layer.grad.len() != total * d_out || input_len != total * input_width {
            return Err(Error::internal("pooled rows", format!("{}: shapes do not add up", layer.name)));
        }
        let mut kept = Vec::with_capacity(layer.rows.len());
        let mut start = 0;
        for &r in &layer.rows {
            if r > 0 {
                let pick = start + if pooled.at == Pooled::First { 0 } else { r - 1 };
                let non_zero = |t: &usize| layer.grad[t * d_out..(t + 1) * d_out].iter().any(|&v| v != 0.0);
                if let Some(t) = (start..start + r).filter(|&t| t != pick).find(non_zero) {
                    return Err(Error::internal(
                        "pooled rows",
                        format!(
                            "{}: row {} of a virtual example has a non-zero output gradient",
                            layer.name,
                            t - start
                        ),
                    ));
                }
                kept.push(pick);
            }
            start += r;
        }
        layer.grad = gather_rows(&layer.grad, &kept, d_out);
        layer.input = match &layer.input {
            SignalInput::Activation(a) => SignalInput::Activation(gather_rows(a, &kept, d_in)),
            SignalInput::Ids(ids) => SignalInput::Ids(gather_rows(ids, &kept, 1)),
        };
        layer.rows.iter_mut().for_each(|r| *r = (*r).min(1));
        layer.per_token = false;
    }
    Ok(())
}

/// Rows `rows` of `x` `[R, d]`, in that order.
pub(crate) fn gather_rows<T: Copy>(x: &[T], rows: &[usize], d: usize) -> Vec<T> {
    rows.iter().flat_map(|&r| x[r * d..(r + 1) * d].iter().copied()).collect()
}

/// Per-virtual-example sums Σₜ vₜ of `[R, d]` rows grouped by `rows`, accumulated in f64 and
/// returned as f32 `[n, d]`.
pub fn segment_sums(values: &[f32], rows: &[usize], d: usize) -> Vec<f32> {
    segment_sums_of(values, rows, d, |_, row, sum| {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += f64::from(v);
        }
    })
}

/// Per-virtual-example sums Σₜ gₜ ⊙ xₜ (LayerNorm γ), f64-accumulated, f32 `[n, d]`: each
/// product rounded to f32 first, as in [`segment_sums`] of the f32 products.
pub fn segment_hadamard_sums(g: &[f32], x: &[f32], rows: &[usize], d: usize) -> Vec<f32> {
    assert_eq!(g.len(), x.len(), "segment_hadamard_sums: g and x differ in length");
    segment_sums_of(g, rows, d, |at, row, sum| {
        for ((s, &a), &b) in sum.iter_mut().zip(row).zip(&x[at..at + row.len()]) {
            *s += f64::from(a * b);
        }
    })
}

/// The per-virtual-example f64 sums of `values`' rows grouped by `rows`, `add(at, row, sum)`
/// adding one row (its first element at index `at` of `values`) into the running sum.
fn segment_sums_of(values: &[f32], rows: &[usize], d: usize, add: impl Fn(usize, &[f32], &mut [f64])) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * d);
    let mut sum = vec![0.0f64; d];
    let mut start = 0;
    for &r in rows {
        sum.fill(0.0);
        for (k, row) in values[start * d..(start + r) * d].chunks(d.max(1)).enumerate() {
            add((start + k) * d, row, &mut sum);
        }
        out.extend(sum.iter().map(|&v| v as f32));
        start += r;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_blocks_count_the_real_tokens_and_one_forward() {
        // A forward costing rows·(t² + 10·t), the t² part attention (its backward costs twice).
        let forward = |rows: usize, t: usize| ((rows * (t * t + 10 * t)) as f64, (rows * t * t) as f64);
        let packed = |t: usize| forward(1, t);
        let block = |work| BlockSignals { layers: Vec::new(), seq_len: 4, batch_rows: 2, work };
        // Padded: forward 2·56, backward 2·56 + 2·16.
        assert_eq!(block(BlockWork::Padded).forward_backward_flops(forward, packed), 2.0 * (2.0 * 56.0 + 16.0));
        // Two examples of 4 tokens, one backward: the padded count.
        let equal = BlockWork::Packed { lengths: vec![4, 4], virtuals: 1 };
        assert_eq!(block(equal).forward_backward_flops(forward, packed), 2.0 * (2.0 * 56.0 + 16.0));
        // Lengths 4 and 1: forward 56 + 11, backward 67 + 16 + 1 — not the padded count.
        let unequal = BlockWork::Packed { lengths: vec![4, 1], virtuals: 1 };
        assert_eq!(block(unequal).forward_backward_flops(forward, packed), 2.0 * 67.0 + 17.0);
        // Three backwards over one forward.
        let three = BlockWork::Packed { lengths: vec![4, 1], virtuals: 3 };
        assert_eq!(block(three).forward_backward_flops(forward, packed), 4.0 * 67.0 + 3.0 * 17.0);
        // The packed count is the model's own (e.g. causal tiles), not the padded formula's.
        let tiles = BlockWork::Packed { lengths: vec![4], virtuals: 1 };
        assert_eq!(block(tiles).forward_backward_flops(forward, |_| (5.0, 1.0)), 11.0);
    }

    #[test]
    fn pooled_rows_keep_the_first_or_last_row_and_refuse_a_non_zero_dropped_one() {
        // Virtual examples of 3, 0, 1 and 2 rows; d_in 2, d_out 1; non-zero gradients at each
        // example's first (or last) row only.
        let rows = vec![3, 0, 1, 2];
        let input: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let layer = |grad: Vec<f32>, input: SignalInput| LayerSignals {
            name: "top".into(),
            kind: LayerKind::Linear,
            per_token: true,
            rows: rows.clone(),
            d_in: 2,
            d_out: 1,
            input,
            grad,
        };
        let other = |grad| LayerSignals { name: "below".into(), ..layer(grad, SignalInput::Ids(vec![7; 6])) };
        let first = PooledLayers { at: Pooled::First, names: vec!["top".into()] };
        let mut layers = vec![
            other(vec![1.0; 6]),
            layer(vec![1.0, 0.0, 0.0, 2.0, 3.0, 0.0], SignalInput::Activation(input.clone())),
        ];
        keep_pooled_rows(&mut layers, &first).unwrap();
        assert_eq!((layers[1].rows.clone(), layers[1].per_token), (vec![1, 0, 1, 1], false));
        assert_eq!(layers[1].grad, vec![1.0, 2.0, 3.0]);
        let SignalInput::Activation(a) = &layers[1].input else { panic!("activation") };
        assert_eq!(a, &vec![0.0, 1.0, 6.0, 7.0, 8.0, 9.0]);
        // The layer it does not name keeps every row.
        assert_eq!((layers[0].rows.clone(), layers[0].per_token), (rows.clone(), true));

        let last = PooledLayers { at: Pooled::Last, names: vec!["top".into()] };
        let mut layers = vec![layer(vec![0.0, -0.0, 1.0, 2.0, 0.0, 3.0], SignalInput::Ids(vec![5, 6, 7, 8, 9, 10]))];
        keep_pooled_rows(&mut layers, &last).unwrap();
        assert_eq!(layers[0].grad, vec![1.0, 2.0, 3.0]);
        let SignalInput::Ids(ids) = &layers[0].input else { panic!("ids") };
        assert_eq!(ids, &vec![7, 8, 10]);

        // A block whose examples have at most one row each is marked alike (rows unchanged).
        let single = LayerSignals { rows: vec![1, 0, 1], ..layer(vec![1.0, 2.0], SignalInput::Ids(vec![3, 4])) };
        let mut layers = vec![single];
        keep_pooled_rows(&mut layers, &last).unwrap();
        assert_eq!(
            (layers[0].rows.clone(), layers[0].per_token, layers[0].grad.clone()),
            (vec![1, 0, 1], false, vec![1.0, 2.0])
        );

        // A dropped row whose gradient is not zero: the model reads more than its pooled row.
        let mut layers = vec![layer(vec![1.0, 0.0, 0.5, 2.0, 3.0, 0.0], SignalInput::Activation(input))];
        let err = keep_pooled_rows(&mut layers, &first).unwrap_err().to_string();
        assert!(err.contains("top") && err.contains("row 2"), "{err}");
    }

    #[test]
    fn segment_sums_group_rows() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(segment_sums(&v, &[2, 1], 2), vec![4.0, 6.0, 5.0, 6.0]);
        assert_eq!(segment_sums(&v, &[0, 3], 2), vec![0.0, 0.0, 9.0, 12.0]);
        assert_eq!(segment_hadamard_sums(&[1.0, 2.0], &[3.0, 4.0], &[2], 1), vec![11.0]);
        // The fused Σ g ⊙ x is Σ of the f32 products, bit for bit.
        let g: Vec<f32> = (0..60).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.37).collect();
        let x: Vec<f32> = (0..60).map(|i| ((i * 53 % 13) as f32 - 6.0) * 1.13).collect();
        let product: Vec<f32> = g.iter().zip(&x).map(|(a, b)| a * b).collect();
        let rows = [3, 0, 5, 2];
        let (fused, plain) = (segment_hadamard_sums(&g, &x, &rows, 6), segment_sums(&product, &rows, 6));
        assert_eq!(
            fused.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            plain.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let keep = kept_positions(&[1, 1, 0, 1, 1, 1], 2, 3, 3);
        assert_eq!(keep, vec![vec![0, 1], vec![0, 1, 2]]);
        assert_eq!(kept_positions(&[1, 0, 0], 1, 3, 1), vec![vec![0]]);
    }
}
