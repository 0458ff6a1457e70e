//! [`crate::ntk::NtkMethod::Naive`]: the reference twin. One backward pass per example and
//! virtual output (a batch of one, so no padding beyond what an encoding brings), every parameter
//! gradient read through [`NtkModel::gradients`] (Hugging Face names) and flattened, K = J₁ J₂ᵀ accumulated in f64 per parameter tensor.
//! Memory: the flattened gradients of every example, N·V·P f32 (≈ 91 MB per MiniLM example).

use std::time::Instant;

use burn::tensor::Device;
use rayon::prelude::*;

use crate::error::Result;
use crate::ntk::family::NtkModel;
use crate::ntk::options::{GramOptions, ParamSubset};
use crate::ntk::outputs::{objective, Layout, OutputMode};
use crate::ntk::{GramParts, GramStats, SignalBlocks};
use crate::tokenize::{pad_batch, Encoding};

/// The gradient of f_v(x) (virtual output `v` of `mode`) for one example: (parameter name,
/// flattened values), sorted by name, restricted to `subset` (for a tied decoder under
/// [`ParamSubset::ExcludeHead`], the token table's input use alone; see
/// [`NtkModel::naive_model`]).
///
/// # Errors
/// [`crate::Error::InvalidArgument`] for an encoding that does not fit the model or a mode that
/// does not fit its labels; a read-back failure.
pub fn example_gradient(
    model: &dyn NtkModel,
    encoding: &Encoding,
    pad_id: u32,
    subset: ParamSubset,
    (mode, v): (OutputMode, usize),
    device: &Device,
) -> Result<Vec<(String, Vec<f32>)>> {
    let owned = model.naive_model(subset);
    let model = owned.as_deref().unwrap_or(model);
    gradient_of(model, encoding, pad_id, subset, (mode, v), device)
}

/// [`example_gradient`] of the model Naive differentiates.
fn gradient_of(
    model: &dyn NtkModel,
    encoding: &Encoding,
    pad_id: u32,
    subset: ParamSubset,
    (mode, v): (OutputMode, usize),
    device: &Device,
) -> Result<Vec<(String, Vec<f32>)>> {
    let padded = pad_batch(std::slice::from_ref(encoding), pad_id)?;
    let grads = objective(model, &padded, mode, v, None, device)?.sum().backward();
    let map = model.gradients(&grads)?;
    Ok(map
        .names()
        .into_iter()
        .filter(|name| subset.keeps(name, model.param_role(name)))
        .filter_map(|name| map.get(&name).map(|t| (name, t.data.clone())))
        .collect())
}

/// Flattened gradients of every (example, virtual output), example-major.
type Jacobian = Vec<Vec<(String, Vec<f32>)>>;

fn jacobian(
    model: &dyn NtkModel,
    encodings: &[Encoding],
    pad_id: u32,
    options: &GramOptions,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<(Jacobian, f64)> {
    let virtuals = options.output.virtual_outputs(model.num_outputs());
    let owned = model.naive_model(options.subset);
    let model = owned.as_deref().unwrap_or(model);
    let mut out = Vec::with_capacity(encodings.len() * virtuals);
    let mut flops = 0.0;
    for e in encodings {
        for v in 0..virtuals {
            out.push(gradient_of(model, e, pad_id, options.subset, (options.output, v), device)?);
            flops += 3.0 * model.forward_flops(1, e.len());
        }
        progress(1);
    }
    Ok((out, flops))
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}

/// Parameter tensor `g`'s `[rows, cols, entry]` contribution: f64 dot products of the flattened
/// gradients for every needed (i, j, v, w).
fn group_values(
    rows: &Jacobian,
    cols: &Jacobian,
    g: usize,
    entries: &[(usize, usize, usize, usize)],
    layout: &Layout,
    n_rows: usize,
) -> Vec<f64> {
    let vs = layout.virtuals;
    let values: Vec<f64> =
        entries.par_iter().map(|&(i, j, v, w)| dot(&rows[i * vs + v][g].1, &cols[j * vs + w][g].1)).collect();
    let mut k = vec![0.0; n_rows * layout.cols * layout.entry()];
    for (&(i, j, v, w), value) in entries.iter().zip(values) {
        k[layout.index(i, j, v, w)] += value;
    }
    k
}

/// K(X₁, X₂) (or its row slab) per parameter tensor, sorted by name.
///
/// # Errors
/// As [`example_gradient`].
pub fn naive_parts(
    model: &dyn NtkModel,
    x1: &[Encoding],
    x2: Option<&[Encoding]>,
    pad_id: u32,
    options: &GramOptions,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<GramParts> {
    let (n1, n2) = (x1.len(), x2.map_or(x1.len(), <[Encoding]>::len));
    let slab = options.row_range(n1)?;
    let layout = Layout::new(options.output, model.num_outputs(), n2);
    let vs = layout.virtuals;
    let started = Instant::now();
    let (rows, f1) = jacobian(model, &x1[slab.clone()], pad_id, options, device, progress)?;
    let (cols, f2) = match x2 {
        Some(x2) => jacobian(model, x2, pad_id, options, device, progress)?,
        None if slab == (0..n1) => (Vec::new(), 0.0),
        None => jacobian(model, x1, pad_id, options, device, progress)?,
    };
    let cols = if cols.is_empty() { &rows } else { &cols };
    let forward_backward_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let entries: Vec<(usize, usize, usize, usize)> = (0..slab.len())
        .flat_map(|i| (0..n2).flat_map(move |j| (0..vs).flat_map(move |v| (0..vs).map(move |w| (i, j, v, w)))))
        .filter(|&(_, _, v, w)| layout.needs(v, w))
        .collect();
    let groups = (0..rows[0].len())
        .map(|g| (rows[0][g].0.clone(), group_values(&rows, cols, g, &entries, &layout, slab.len())))
        .collect();
    let parameters: usize = rows[0].iter().map(|(_, t)| t.len()).sum();
    let stats = GramStats {
        forward_backward_seconds,
        contraction_seconds: started.elapsed().as_secs_f64(),
        forward_backward_flops: f1 + f2,
        contraction_flops: 2.0 * (entries.len() * parameters) as f64,
        signal_bytes: 4 * parameters * (rows.len() + if std::ptr::eq(cols, &rows) { 0 } else { cols.len() }),
        spilled: false,
        signal_blocks: SignalBlocks::default(),
        signal_passes: 0,
    };
    Ok(GramParts { slab, cols: n2, layout, groups, stats })
}
