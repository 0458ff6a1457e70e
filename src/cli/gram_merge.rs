//! `ntkgap gram-merge`: stack row slabs written by `ntkgap gram --rows i..j` back into K, after
//! checking shapes, coverage (every row exactly once) and that every slab comes from the same
//! inputs, model and settings (hashes and settings from each slab's `meta.json`).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::files::{npy, Meta};
use crate::ntk::shard::{merge, slab_meta, Slab, SlabMeta};

/// Merge Gram row slabs into one matrix.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap gram --model DIR --input x.jsonl --rows 0..256 --out K_0.npy\n  \
    ntkgap gram --model DIR --input x.jsonl --rows 256..512 --out K_1.npy\n  \
    ntkgap gram-merge --out K.npy K_0.npy K_1.npy")]
pub struct GramMergeArgs {
    /// The merged `.npy` (float64); `<stem>.meta.json` beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Slab `.npy` files written by `ntkgap gram --rows` (any order), each with its `.meta.json`.
    #[arg(required = true, value_name = "SLAB")]
    pub slabs: Vec<PathBuf>,
}

fn read_slab(path: &Path) -> crate::Result<Slab> {
    let array = npy::read(path)?;
    let meta_path = super::meta_path(path);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| crate::Error::io(&meta_path, e))?;
    let meta: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| crate::Error::bad_input(&meta_path, format!("not JSON: {e}")))?;
    let SlabMeta { rows, total_rows, fingerprint } = slab_meta(&meta)
        .map_err(|what| crate::Error::bad_input(&meta_path, format!("has no {what} (not written by ntkgap gram?)")))?;
    Ok(Slab {
        source: path.to_path_buf(),
        rows,
        total_rows,
        shape: array.shape().to_vec(),
        values: array.values.into_raw_vec_and_offset().0,
        fingerprint,
    })
}

/// Run `ntkgap gram-merge`.
///
/// # Errors
/// A library error (exit 2) naming the slab that is unreadable, misshapen, overlapping,
/// missing rows, or from other inputs/model/settings; nothing is written then.
pub fn run(args: GramMergeArgs) -> anyhow::Result<()> {
    if args.out.extension().is_none_or(|e| e != "npy") {
        return Err(crate::Error::invalid("--out", format!("{} must end in .npy", args.out.display())).into());
    }
    let slabs = args.slabs.iter().map(|p| read_slab(p)).collect::<crate::Result<Vec<_>>>()?;
    let fingerprint = slabs[0].fingerprint.clone();
    let ranges: Vec<(String, (usize, usize))> =
        slabs.iter().map(|s| (s.source.display().to_string(), s.rows)).collect();
    let (shape, values) = merge(slabs)?;
    let mut meta = Meta::new(fingerprint.get("seed").and_then(serde_json::Value::as_u64));
    for p in &args.slabs {
        meta.add_input(p)?;
    }
    if let Some(settings) = fingerprint.get("extra").and_then(|e| e.as_object()) {
        for (k, v) in settings {
            meta.set(k.clone(), v);
        }
    }
    meta.set("slabs", &ranges)
        .set("source_inputs", &fingerprint["inputs"])
        .set("rows", [0, shape[0]])
        .set("shape", &shape);
    let merged = ndarray::ArrayD::from_shape_vec(shape.clone(), values).expect("merge fills its shape");
    npy::write(&args.out, &merged)?;
    meta.write(super::meta_path(&args.out))?;
    eprintln!("gram-merge: {} slabs -> {shape:?}", ranges.len());
    println!("{shape:?} Gram -> {}", args.out.display());
    Ok(())
}
