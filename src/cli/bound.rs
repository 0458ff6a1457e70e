//! `ntkgap bound`: the Theorem 1 check (published vs corrected bound) on a user-given Gram matrix
//! `.npy`, scores `.npy` and index pairs. Writes `pairs.csv`, `summary.json` and `meta.json` into
//! `--out`; nothing is left behind on bad input. Formulas: [`crate::bound`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::bound::{analyse, parse_pairs, GramView, PairReport};
use crate::error::{Error, Result};
use crate::report::{npy, write_atomic, write_json_atomic, Meta, OutputDir};

/// Check the published and the corrected kernel bound per pair on a Gram matrix.
#[derive(Debug, Args)]
#[command(after_help = "Example (the 1-D counterexample φ = (1, ½), w = 1):\n  \
    ntkgap bound --gram K.npy --scores s.npy --pairs \"0,1\" --weight-norm 1 --out bound_out\n\
    with K = [[1, 0.5], [0.5, 0.25]] and s = [1, 0.5]: δ = 0, the published bound is 0 and is\n\
    violated by the gap 0.5; the corrected bound is 0.5 and holds.")]
pub struct BoundArgs {
    /// Gram matrix K, an (n, n) float32/float64 `.npy`.
    #[arg(long, value_name = "K.npy")]
    pub gram: PathBuf,
    /// Scores s, a float32/float64 `.npy` of shape (n,) or (n, 1).
    #[arg(long, value_name = "s.npy")]
    pub scores: PathBuf,
    /// Pairs of indices into K, e.g. "0,1;2,3".
    #[arg(long, value_name = "i,j;k,l")]
    pub pairs: String,
    /// B, the bound on the weight norm ‖w‖ (finite, ≥ 0).
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    pub weight_norm: f64,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The CSV columns, in order.
pub const CSV_HEADER: &str = "i,j,gap,delta,a,b,published_bound,corrected_bound,published_violated,corrected_violated,\
rho,distance,cauchy_schwarz,kappa,weight_norm_bound";

fn read_gram(path: &Path) -> Result<(usize, Vec<f64>)> {
    let array = npy::read(path)?;
    match array.shape[..] {
        [rows, cols] if rows == cols => Ok((rows, array.data)),
        _ => Err(Error::bad_input(path, format!("Gram matrix must be square (n, n), got shape {:?}", array.shape))),
    }
}

fn read_scores(path: &Path) -> Result<Vec<f64>> {
    let array = npy::read(path)?;
    match array.shape[..] {
        [_] | [_, 1] => Ok(array.data),
        _ => Err(Error::bad_input(path, format!("scores must have shape (n,) or (n, 1), got {:?}", array.shape))),
    }
}

fn csv(reports: &[PairReport]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for r in reports {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.i, r.j, r.gap, r.delta, r.a, r.b, r.published_bound, r.corrected_bound, r.published_violated,
            r.corrected_violated, r.rho, r.distance, r.cauchy_schwarz, r.kappa, r.weight_norm_bound
        );
    }
    out
}

/// Run `ntkgap bound`.
///
/// # Errors
/// A library error (exit 2) for an unreadable or malformed `.npy`, a non-square K, a score count
/// that is not n, bad `--pairs` syntax, an invalid pair or B; nothing is written then.
pub fn run(args: BoundArgs) -> anyhow::Result<()> {
    let pairs = parse_pairs(&args.pairs)?;
    let (n, values) = read_gram(&args.gram)?;
    let scores = read_scores(&args.scores)?;
    let gram = GramView { rows: n, cols: n, values: &values };
    let (reports, summary) = analyse(&gram, &scores, &pairs, args.weight_norm)?;
    let mut meta = Meta::new(None);
    meta.add_input(&args.gram)?.add_input(&args.scores)?;
    meta.set("pairs", &pairs).set("weight_norm_bound", args.weight_norm).set("n", n).set("summary", &summary);
    let dir = OutputDir::create(&args.out)?;
    write_atomic(dir.path().join("pairs.csv"), csv(&reports).as_bytes())?;
    write_json_atomic(dir.path().join("summary.json"), &summary)?;
    meta.write(dir.path().join("meta.json"))?;
    let out = dir.keep();
    for r in reports.iter().take(20) {
        println!(
            "pair ({}, {}): gap {:.6}  delta {:.6}  published {:.6}{}  corrected {:.6}{}",
            r.i, r.j, r.gap, r.delta, r.published_bound, if r.published_violated { " VIOLATED" } else { "" },
            r.corrected_bound, if r.corrected_violated { " VIOLATED" } else { "" }
        );
    }
    println!(
        "{} pairs, kappa {:.6}: published bound violated by {}, corrected bound by {} -> {}",
        summary.pairs, summary.kappa, summary.published_violations, summary.corrected_violations, out.display()
    );
    Ok(())
}
