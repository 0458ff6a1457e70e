//! [`crate::ntk::NtkMethod::Naive`]: the reference twin. One backward pass per example (a batch
//! of one, so no padding at all), every parameter gradient read through
//! [`Classifier::gradients`] and flattened, K = J₁ J₂ᵀ accumulated in f64 per parameter tensor.

use std::collections::BTreeMap;

use burn::tensor::Device;

use crate::error::Result;
use crate::model::{Batch, Classifier};
use crate::ntk::options::ParamSubset;
use crate::ntk::GramBlocks;
use crate::tokenize::{pad_batch, Encoding};

/// The gradient of f(x) for one example: (parameter name, flattened values), sorted by name,
/// restricted to `subset`.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] for an encoding that does not fit the model; a read-back
/// failure.
pub fn example_gradient(
    model: &Classifier,
    encoding: &Encoding,
    pad_id: u32,
    subset: ParamSubset,
    device: &Device,
) -> Result<Vec<(String, Vec<f32>)>> {
    let arch = model.config.architecture()?;
    let batch = Batch::new(&pad_batch(std::slice::from_ref(encoding), pad_id)?, &model.config, device)?;
    let grads = model.score(&batch, None).sum().backward();
    let map = model.gradients(&grads)?;
    Ok(map
        .names()
        .into_iter()
        .filter(|name| subset.includes(name, arch))
        .filter_map(|name| map.get(&name).map(|t| (name, t.data.clone())))
        .collect())
}

type Jacobian = Vec<Vec<(String, Vec<f32>)>>;

fn jacobian(
    model: &Classifier,
    encodings: &[Encoding],
    pad_id: u32,
    subset: ParamSubset,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<Jacobian> {
    encodings
        .iter()
        .map(|e| {
            let g = example_gradient(model, e, pad_id, subset, device);
            progress(1);
            g
        })
        .collect()
}

/// K(X₁, X₂) per parameter tensor, `[n₁, n₂]` each (X₂ = X₁ when `x2` is `None`).
///
/// # Errors
/// As [`example_gradient`].
pub fn naive_blocks(
    model: &Classifier,
    x1: &[Encoding],
    x2: Option<&[Encoding]>,
    pad_id: u32,
    subset: ParamSubset,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<GramBlocks> {
    let j1 = jacobian(model, x1, pad_id, subset, device, progress)?;
    let j2 = match x2 {
        Some(x2) => Some(jacobian(model, x2, pad_id, subset, device, progress)?),
        None => None,
    };
    let right = j2.as_ref().unwrap_or(&j1);
    let (n1, n2) = (j1.len(), right.len());
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, gi) in j1.iter().enumerate() {
        for (j, gj) in right.iter().enumerate() {
            for ((name, a), (_, b)) in gi.iter().zip(gj) {
                let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
                groups.entry(name.clone()).or_insert_with(|| vec![0.0; n1 * n2])[i * n2 + j] = dot;
            }
        }
    }
    Ok(GramBlocks { rows: n1, cols: n2, groups })
}
