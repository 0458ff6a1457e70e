//! `ntkgap bench kernels`: achieved GFLOP/s of the Gram-assembly kernels ([`crate::gpu::bench`])
//! on the CPU reference twin or on the wgpu device, next to the device's own matmul rate. The
//! table goes to stdout; `--out FILE.json` also writes the rows (with `<stem>.meta.json`).
//! Timings are wall-clock and machine-dependent: they are never part of a reproducibility check.

use std::path::PathBuf;

use clap::Args;

use crate::cli::model_args::DeviceArg;
use crate::files::{write_json_atomic, Meta};
use crate::gpu::bench::{entk_rows, matmul_rate, render, resident_gemm, small_gemm_row, BenchRow, BenchSizes};
use crate::gpu::GemmChoice;
use crate::ntk::cpu_kernels::CpuKernels;
use crate::ntk::kernels::GramKernels;

/// Sizes and device of `ntkgap bench kernels`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    ntkgap bench kernels --device wgpu\n  \
    ntkgap bench kernels --device cpu --gemm-n 128 --out bench_cpu.json\n  \
    ntkgap bench kernels --device wgpu --gemm-n 4096 --gemm-k 32768 --matmul-n 4096 --no-check   # a GPU at N ≥ 1024")]
pub struct KernelsArgs {
    /// `cpu` (the multi-threaded `CpuKernels` and burn's flex matmul), `wgpu` (the WGSL
    /// kernels and burn's wgpu matmul on the same device) or `auto`.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Examples per side of the segmented kernels.
    #[arg(long, default_value_t = 8)]
    pub examples: usize,
    /// Tokens per example (ragged: 3/4 of it up to all of it).
    #[arg(long, default_value_t = 64)]
    pub tokens: usize,
    /// Activation width d_in.
    #[arg(long, default_value_t = 128)]
    pub d_in: usize,
    /// Gradient width d_out.
    #[arg(long, default_value_t = 256)]
    pub d_out: usize,
    /// Rows n of the GEMM problem (n×k · n×kᵀ).
    #[arg(long, default_value_t = 256)]
    pub gemm_n: usize,
    /// Inner size k of the GEMM problem.
    #[arg(long, default_value_t = 4096)]
    pub gemm_k: usize,
    /// Rows n of the small-output GEMM (n×k · n×kᵀ: a materialized Linear weight's Gram for a
    /// few records); on wgpu also timed with the 128 × 128-tile kernel forced.
    #[arg(long, default_value_t = 8)]
    pub small_n: usize,
    /// Inner size k of the small-output GEMM (default 384 · 1536, one MiniLM MLP weight).
    #[arg(long, default_value_t = 589_824)]
    pub small_k: usize,
    /// Edge of burn's square matmul (the device's reference rate).
    #[arg(long, default_value_t = 1024)]
    pub matmul_n: usize,
    /// Timed repetitions per row (median reported) after one warm-up.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Split-k slices of the resident GEMM, comma-separated: `auto` (what `gemm_nt` chooses) or
    /// a count; one row each (a sweep for tuning on a GPU).
    #[arg(long, value_delimiter = ',', default_value = "auto", value_parser = parse_slices)]
    pub gemm_slices: Vec<Option<usize>>,
    /// Skip the comparison with the plain-loop reference kernels (single-threaded loops: minutes
    /// for a large GEMM); rel.err then reads `-`.
    #[arg(long)]
    pub no_check: bool,
    /// Also write the rows as JSON (with `<stem>.meta.json` beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl KernelsArgs {
    fn sizes(&self) -> crate::Result<BenchSizes> {
        let sizes = BenchSizes {
            examples: self.examples,
            tokens: self.tokens,
            d_in: self.d_in,
            d_out: self.d_out,
            gemm_n: self.gemm_n,
            gemm_k: self.gemm_k,
            small_n: self.small_n,
            small_k: self.small_k,
            matmul_n: self.matmul_n,
            repeats: self.repeats,
            seed: self.seed,
            check: !self.no_check,
        };
        sizes.validate()?;
        if let Some(out) = &self.out {
            if out.extension().is_none_or(|e| e != "json") {
                return Err(crate::Error::invalid("--out", format!("{} must end in .json", out.display())));
            }
        }
        Ok(sizes)
    }
}

/// `auto` → None, a positive count → Some.
fn parse_slices(text: &str) -> Result<Option<usize>, String> {
    match text {
        "auto" => Ok(None),
        _ => match text.parse::<usize>() {
            Ok(s) if (1..=1024).contains(&s) => Ok(Some(s)),
            _ => Err(format!("`{text}` is neither auto nor a count from 1 to 1024")),
        },
    }
}

fn measure(
    device_line: &str,
    rows: &mut Vec<BenchRow>,
    what: &str,
    f: impl FnOnce() -> crate::Result<Vec<BenchRow>>,
) -> crate::Result<()> {
    let spinner = super::progress::spinner(&format!("{what} on {device_line}"));
    let result = f();
    spinner.finish_and_clear();
    rows.extend(result?);
    Ok(())
}

/// Run `ntkgap bench kernels`.
///
/// # Errors
/// A library error (exit 2) for a zero size, a bad `--out`, `--device wgpu` without an adapter,
/// or a device failure.
pub fn run_kernels(args: KernelsArgs) -> anyhow::Result<()> {
    let sizes = args.sizes()?;
    let compute = args.device.resolve()?;
    crate::cli::model_args::announce(&compute);
    let name = compute.describe();
    let mut rows = Vec::new();
    let device = compute.device(false);
    measure(&name, &mut rows, "burn matmul", || Ok(vec![matmul_rate(&device, sizes.matmul_n, sizes.repeats)?]))?;
    let gpu = compute.gram_kernels()?;
    let kernels: Box<dyn GramKernels> = match gpu {
        Some(gpu) => {
            let ctx = gpu.context();
            measure(&name, &mut rows, "resident gemm", || {
                resident_gemm(ctx, sizes.gemm_n, sizes.gemm_k, &args.gemm_slices, sizes.repeats, sizes.seed)
            })?;
            Box::new(gpu)
        }
        None => Box::new(CpuKernels::F32),
    };
    measure(&name, &mut rows, "kernels", || entk_rows(kernels.as_ref(), &sizes))?;
    if let Some(gpu) = gpu {
        // The same small-output GEMM with the 128 × 128-tile kernel forced: what the automatic
        // choice of gemm_nt_small saves.
        let tiled = gpu.with_gemm(GemmChoice::Tiled);
        measure(&name, &mut rows, "tiled gemm", || Ok(vec![small_gemm_row("gemm_nt (tiled)", &tiled, &sizes)?]))?;
    }
    println!("device: {name}; Gram kernels: {}", kernels.name());
    print!("{}", render(&rows));
    if let Some(out) = &args.out {
        write_json_atomic(
            out,
            &serde_json::json!({ "device": name, "kernels": kernels.name(), "sizes": sizes, "rows": rows }),
        )?;
        let mut meta = Meta::new(Some(sizes.seed));
        meta.set("device", &name).set("sizes", sizes);
        meta.write(super::meta_path(out))?;
    }
    Ok(())
}
