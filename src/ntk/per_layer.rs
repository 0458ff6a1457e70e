//! [`crate::ntk::NtkMethod::PerLayer`]: one probed forward + backward per block of examples,
//! then the exact per-parameter contractions of [`crate::ntk::contract`] for every pair of
//! blocks. For a square K(X, X) only block pairs on or above the diagonal are contracted.

use std::collections::BTreeMap;

use burn::tensor::Device;

use crate::error::Result;
use crate::model::Classifier;
use crate::ntk::contract::{contract_layer, ContractSettings};
use crate::ntk::options::GramOptions;
use crate::ntk::signals::{block_signals, LayerSignals};
use crate::ntk::GramBlocks;
use crate::tokenize::Encoding;

fn all_signals(
    model: &Classifier,
    x: &[Encoding],
    pad_id: u32,
    block: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Vec<LayerSignals>>> {
    x.chunks(block)
        .map(|chunk| {
            let s = block_signals(model, chunk, pad_id, device);
            progress(chunk.len());
            s
        })
        .collect()
}

/// K(X₁, X₂) per parameter tensor, `[n₁, n₂]` each (X₂ = X₁ when `x2` is `None`).
///
/// # Errors
/// As [`block_signals`].
pub fn per_layer_blocks(
    model: &Classifier,
    x1: &[Encoding],
    x2: Option<&[Encoding]>,
    pad_id: u32,
    options: &GramOptions,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<GramBlocks> {
    let arch = model.config.architecture()?;
    let settings = ContractSettings { subset: options.subset, arch, linear_form: options.linear_form, same_block: false };
    let left = all_signals(model, x1, pad_id, options.block, device, progress)?;
    let right_owned = match x2 {
        Some(x2) => Some(all_signals(model, x2, pad_id, options.block, device, progress)?),
        None => None,
    };
    let square = right_owned.is_none();
    let right = right_owned.as_ref().unwrap_or(&left);
    let (n1, n2) = (x1.len(), x2.map_or(x1.len(), <[Encoding]>::len));
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let block = options.block;
    for (bi, p) in left.iter().enumerate() {
        for (bj, q) in right.iter().enumerate().skip(if square { bi } else { 0 }) {
            let settings = ContractSettings { same_block: square && bi == bj, ..settings };
            for (lp, lq) in p.iter().zip(q) {
                for c in contract_layer(lp, lq, settings) {
                    let k = groups.entry(c.param).or_insert_with(|| vec![0.0; n1 * n2]);
                    let width = lq.rows.len();
                    for (r, row) in c.values.chunks(width).enumerate() {
                        let at = (bi * block + r) * n2 + bj * block;
                        k[at..at + width].copy_from_slice(row);
                    }
                }
            }
        }
    }
    if square {
        for k in groups.values_mut() {
            mirror_upper(k, n1);
        }
    }
    Ok(GramBlocks { rows: n1, cols: n2, groups })
}

/// Copy the upper triangle (diagonal blocks included) onto the lower one: exact symmetry.
fn mirror_upper(k: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..i {
            k[i * n + j] = k[j * n + i];
        }
    }
}
