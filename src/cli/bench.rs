//! `ntkgap bench gram`: time the eNTK methods on one model (an encoder classifier or a decoder)
//! and print a Markdown table.
//!
//! Each method runs as a child process (`ntkgap gram …`, or `python3 scripts/ntk_torch.py …`
//! for torch.func) so that its peak RSS is its own: ntkgap children report VmHWM themselves;
//! the torch child's VmHWM is polled from `/proc/<pid>/status` every 20 ms (a spike in its last
//! 20 ms could be missed). Each child's CPU time (user + system, loading included) comes from
//! this process's `cutime`/`cstime`: on a shared machine it compares methods more fairly than
//! wall time. In the same run the machine's f32 GEMM rate is measured with the GEMM
//! the contraction uses ([`crate::ntk::cpu_kernels::gemm_rate`]), before the first row and after
//! the last, and the higher counts (a rate measured in a moment the machine was busy would inflate
//! every percentage). After the table, the GEMMs each ntkgap row's hand-written forward +
//! backward issued are timed alone ([`super::bench_ceiling`]): how much of that phase the
//! products take at faer's own rate on their shapes, and how much goes to everything else.
//! Inputs: the first N records of
//! `--input`, or of a freshly generated Corr2Cause corpus (n = 4 variables, seed 0, 720 records).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::bench_ceiling::Phase;
use crate::corpus::{CorpusKind, CorpusWriter, GenerateConfig, Plan};
use crate::files::memory::{format_bytes, parse_bytes, vm_hwm};
use crate::files::npy;
use crate::ntk::cpu_kernels::gemm_rate;
use crate::ntk::fastfb::tally::Count;

/// `ntkgap bench …`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to benchmark.
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// eNTK Gram methods (PerLayer, Naive, torch.func) on one model: seconds, GFLOP/s, peak RSS.
    Gram(BenchGramArgs),
    /// The Gram-assembly kernels (gemm_nt, structured, token_match, outer_sums) on the CPU or
    /// the GPU, against the device's matmul rate.
    Kernels(super::bench_kernels::KernelsArgs),
}

/// A method row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMethod {
    /// `ntkgap gram --method per-layer` (signals by the hand-written CPU path).
    PerLayer,
    /// `ntkgap gram --method per-layer --signals burn` (signals by burn's autodiff pass).
    PerLayerBurn,
    /// `ntkgap gram --method naive`.
    Naive,
    /// `python3 scripts/ntk_torch.py` (torch.func vmap(grad); J Jᵀ as f32 GEMMs summed in f64,
    /// the fair peer of ntkgap's f32 products), when torch imports.
    Torch,
    /// The same with J Jᵀ as f64 GEMMs (`--products f64`).
    TorchF64,
}

/// Options of `ntkgap bench gram`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ntkgap bench gram --model .cache/models/all-MiniLM-L6-v2 --head tests/data/minilm_head_seed0.safetensors --n 32 --max-len 128"
)]
pub struct BenchGramArgs {
    /// Model directory (encoder or decoder), a decoder's `.gguf` file (the torch row loads it with
    /// `from_pretrained(dir, gguf_file=…)`), or builtin:NAME.
    #[arg(long, default_value = ".cache/models/all-MiniLM-L6-v2")]
    pub model: String,
    /// Classification-head safetensors passed to every method (the torch script needs one for a
    /// checkpoint without a head, e.g. tests/data/minilm_head_seed0.safetensors for MiniLM).
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
    /// Input JSONL (default: a generated Corr2Cause corpus on 4 variables).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Numbers of examples (comma-separated); each uses the first N records.
    #[arg(long, value_delimiter = ',', default_value = "32")]
    pub n: Vec<usize>,
    /// Maximum length in tokens.
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Methods (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "per-layer,per-layer-burn,naive,torch")]
    pub methods: Vec<BenchMethod>,
    /// Examples per forward/backward block.
    #[arg(long, default_value_t = 8)]
    pub block: usize,
    /// Memory budget passed to `ntkgap gram`.
    #[arg(long, default_value = "3G", value_parser = parse_bytes)]
    pub memory_budget: usize,
    /// Passes over the data, passed to `ntkgap gram --signal-passes` (default: gram's own choice).
    #[arg(long, value_name = "P")]
    pub signal_passes: Option<usize>,
    /// Device of the ntkgap rows (`auto`, `cpu`, `wgpu`), passed to `ntkgap gram --device`.
    #[arg(long, value_enum, default_value_t = crate::cli::model_args::DeviceArg::Cpu)]
    pub device: crate::cli::model_args::DeviceArg,
    /// The torch.func script.
    #[arg(long, default_value = "scripts/ntk_torch.py")]
    pub torch_script: PathBuf,
    /// Decoder language models: the two label words `NO YES` (default " No" " Yes"), passed to
    /// every method.
    #[arg(long, num_args = 2, value_names = ["NO", "YES"], allow_hyphen_values = true)]
    pub label_words: Option<Vec<String>>,
}

/// One measured (or unavailable) row.
struct Row {
    method: BenchMethod,
    n: usize,
    result: Result<Measured, String>,
}

struct Measured {
    seconds: f64,
    cpu_seconds: Option<f64>,
    /// (forward+backward seconds, contraction seconds, their FLOPs where counted).
    split: Option<Split>,
    /// The f32 GEMM rate the method's own process measured (torch rows), GFLOP/s.
    sgemm: Option<f64>,
    peak_rss: Option<u64>,
    k: Option<PathBuf>,
    /// Where an ntkgap row kept its signals, when not in RAM in one pass.
    signals: Option<String>,
    /// The GEMMs an ntkgap row's hand-written forward + backward issued, by shape.
    products: Vec<Count>,
}

/// The two phases of a method: seconds, and FLOPs where the method counts them.
#[derive(Clone, Copy)]
struct Split {
    forward_backward: (f64, Option<f64>),
    contraction: (f64, Option<f64>),
}

/// A temporary directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn corpus(args: &BenchGramArgs, dir: &Path) -> anyhow::Result<Vec<String>> {
    let path = match &args.input {
        Some(p) => p.clone(),
        None => {
            let config = GenerateConfig { kind: CorpusKind::Corr2cause, nodes: 4..=4, ..Default::default() };
            let path = dir.join("corr2cause4.jsonl");
            let mut writer = CorpusWriter::create(&path)?;
            Plan::new(&config)?.generate(&mut writer, &mut |_| {})?;
            writer.finish()?;
            path
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| crate::Error::io(&path, e))?;
    Ok(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
}

/// CPU seconds (user + system) of this process's waited-for children so far, from
/// `/proc/self/stat` (fields cutime, cstime; 100 ticks per second on Linux).
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// What a child process left behind.
struct ChildRun {
    stdout: String,
    stderr: String,
    ok: bool,
    peak: Option<u64>,
    cpu_seconds: Option<f64>,
}

/// Run `command`, polling its VmHWM and measuring its CPU time.
fn run_measured(command: &mut Command) -> anyhow::Result<ChildRun> {
    let dir = std::env::temp_dir().join(format!("ntkgap-bench-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let _guard = Scratch(dir.clone());
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let cpu_before = children_cpu_seconds();
    let mut child = command
        .stdout(Stdio::from(std::fs::File::create(&out)?))
        .stderr(Stdio::from(std::fs::File::create(&err)?))
        .spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = None;
    let status = loop {
        if let Some(hwm) = std::fs::read_to_string(&status_path).ok().as_deref().and_then(vm_hwm) {
            peak = peak.max(Some(hwm));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let cpu_seconds = children_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    Ok(ChildRun {
        stdout: std::fs::read_to_string(out)?,
        stderr: std::fs::read_to_string(err)?,
        ok: status.success(),
        peak,
        cpu_seconds,
    })
}

fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").to_string()
}

fn run_ntkgap(
    args: &BenchGramArgs,
    method: BenchMethod,
    input: &Path,
    dir: &Path,
) -> anyhow::Result<Result<Measured, String>> {
    let (name, signals) = match method {
        BenchMethod::Naive => ("naive", "fast"),
        BenchMethod::PerLayerBurn => ("per-layer", "burn"),
        _ => ("per-layer", "fast"),
    };
    let tag = format!("{name}-{signals}");
    let (k, stats) = (dir.join(format!("K_{tag}.npy")), dir.join(format!("stats_{tag}.json")));
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["gram", "--model", &args.model, "--max-len", &args.max_len.to_string(), "--method", name]);
    command.args(["--block", &args.block.to_string(), "--memory-budget", &args.memory_budget.to_string()]);
    command.args(["--device", args.device.flag(), "--signals", signals]);
    if let Some(p) = args.signal_passes {
        command.args(["--signal-passes", &p.to_string()]);
    }
    command.arg("--input").arg(input).arg("--out").arg(&k).arg("--stats-json").arg(&stats);
    if let Some(head) = &args.head {
        command.arg("--head").arg(head);
    }
    if let Some(words) = &args.label_words {
        command.arg("--label-words").args(words);
    }
    let run = run_measured(&mut command)?;
    if !run.ok {
        return Ok(Err(format!("failed: {}", last_line(&run.stderr))));
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats)?)?;
    let f = |key: &str| v["stats"][key].as_f64().unwrap_or(0.0);
    let split = Some(Split {
        forward_backward: (f("forward_backward_seconds"), Some(f("forward_backward_flops"))),
        contraction: (f("contraction_seconds"), Some(f("contraction_flops"))),
    });
    let peak = v["peak_rss_bytes"].as_u64().or(run.peak);
    let passes = v["stats"]["signal_passes"].as_u64().unwrap_or(1);
    let spilled = v["stats"]["spilled"].as_bool().unwrap_or(false);
    let bytes = format_bytes(v["stats"]["signal_bytes"].as_u64().unwrap_or(0));
    let signals = match (spilled, passes) {
        (false, 0 | 1) => None,
        (true, 0 | 1) => Some(format!("signals {bytes} spilled to $TMPDIR")),
        (spilled, p) => Some(format!(
            "{p} passes over the data (the forward + backward {p} times), the largest pass's signals {bytes} {}",
            if spilled { "spilled to $TMPDIR" } else { "in RAM" }
        )),
    };
    Ok(Ok(Measured {
        seconds: v["seconds"].as_f64().unwrap_or(0.0),
        cpu_seconds: run.cpu_seconds,
        split,
        sgemm: None,
        peak_rss: peak,
        k: Some(k),
        signals,
        products: serde_json::from_value(v["products"].clone()).unwrap_or_default(),
    }))
}

fn run_torch(
    args: &BenchGramArgs,
    products: &str,
    input: &Path,
    dir: &Path,
) -> anyhow::Result<Result<Measured, String>> {
    if !args.torch_script.is_file() {
        return Ok(Err(format!("not available: {} is absent", args.torch_script.display())));
    }
    let probe = Command::new("python3").args(["-c", "import torch"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        return Ok(Err("not available: `python3 -c \"import torch\"` fails".to_string()));
    }
    let k = dir.join(format!("K_torch_{products}.npy"));
    let mut command = Command::new("python3");
    command.arg(&args.torch_script).args(["--products", products]);
    // A GGUF file goes to the script as its directory plus `--gguf NAME`.
    let model = Path::new(&args.model);
    match (model.extension().is_some_and(|e| e == "gguf"), model.parent(), model.file_name()) {
        (true, Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            command.arg("--model").arg(dir).arg("--gguf").arg(name)
        }
        _ => command.args(["--model", &args.model]),
    };
    command.args(["--max-len", &args.max_len.to_string()]);
    command.arg("--input").arg(input).arg("--out").arg(&k);
    if let Some(head) = &args.head {
        command.arg("--head").arg(head);
    }
    if let Some(words) = &args.label_words {
        command.arg("--label-words").args(words);
    }
    let run = run_measured(&mut command)?;
    if !run.ok {
        return Ok(Err(format!("failed: {}", last_line(&run.stderr))));
    }
    let line = last_line(&run.stdout);
    let v: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| anyhow::anyhow!("torch script printed `{line}`: {e}"))?;
    let seconds =
        v["seconds"].as_f64().ok_or_else(|| anyhow::anyhow!("torch script printed no \"seconds\": {line}"))?;
    let split = match (v["gradient_seconds"].as_f64(), v["contraction_seconds"].as_f64()) {
        (Some(g), Some(c)) => {
            Some(Split { forward_backward: (g, None), contraction: (c, v["contraction_flops"].as_f64()) })
        }
        _ => None,
    };
    let sgemm = v["sgemm_gflops"].as_f64();
    Ok(Ok(Measured {
        seconds,
        cpu_seconds: run.cpu_seconds,
        split,
        sgemm,
        peak_rss: run.peak,
        k: Some(k),
        signals: None,
        products: Vec::new(),
    }))
}

/// max |Δ| / mean |K_ref|.
fn relative_difference(k: &Path, reference: &Path) -> Option<f64> {
    let (a, b) = (npy::read(k).ok()?, npy::read(reference).ok()?);
    if a.shape() != b.shape() {
        return None;
    }
    let scale = b.values.iter().map(|v| v.abs()).sum::<f64>() / b.values.len().max(1) as f64;
    Some(a.values.iter().zip(&b.values).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale)
}

/// Seconds over which each faer GEMM rate is timed (its best product counts).
const GEMM_RATE_SECONDS: f64 = 0.25;

/// faer's f32 GEMM rate (GFLOP/s), measured before the first row and after the last.
#[derive(Debug, Clone, Copy)]
struct FaerRate {
    before: f64,
    after: f64,
}

/// The run's machine rate: the highest of the f32 GEMM rates measured in it (faer's here, before
/// and after the rows; torch's by the torch rows' own processes).
fn machine_rate(rows: &[Row], faer: FaerRate) -> f64 {
    rows.iter().filter_map(|r| r.result.as_ref().ok().and_then(|m| m.sgemm)).fold(faer.before.max(faer.after), f64::max)
}

fn print_table(rows: &[Row], args: &BenchGramArgs, faer: FaerRate) {
    let machine = machine_rate(rows, faer);
    let torch_sgemm: Vec<String> =
        rows.iter().filter_map(|r| r.result.as_ref().ok().and_then(|m| m.sgemm)).map(|g| format!("{g:.1}")).collect();
    println!(
        "f32 GEMM rates measured in this run: faer (1024³) {:.1} GFLOP/s before the rows and {:.1} after{}; percentages are of {machine:.1} GFLOP/s, the highest.",
        faer.before,
        faer.after,
        if torch_sgemm.is_empty() { String::new() } else { format!(", torch (2048³) {}", torch_sgemm.join(" / ")) }
    );
    println!(
        "The contraction's hand-written kernels (ntkgap-simd): {}.",
        ntkgap_simd::level_name().unwrap_or(
            "not running, faer's products instead (NTKGAP_SIMD=off, or a CPU with neither AVX-512F nor AVX2 + FMA)"
        )
    );
    println!();
    let rate = |flops: Option<f64>, s: f64| match flops {
        Some(f) if s > 0.0 => format!("{:.1} ({:.0} %)", f / s / 1e9, 100.0 * f / s / 1e9 / machine),
        _ => "—".into(),
    };
    println!("| method | N | T | seconds | × torch.func (f32) | CPU s (process) | fwd+bwd s | contraction s | fwd+bwd GFLOP/s (% of GEMM rate) | contraction GFLOP/s (%) | end to end GFLOP/s (%) | peak RSS | max\\|ΔK\\|/mean\\|K\\| vs first row |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let name = format!("{:?}", row.method);
        match &row.result {
            Err(why) => println!("| {name} | {} | {} | {why} | | | | | | | | | |", row.n, args.max_len),
            Ok(m) => {
                let (fb, c, rfb, rc, total) = match m.split {
                    Some(Split { forward_backward: (fs, ff), contraction: (cs, cf) }) => {
                        let total = ff.zip(cf).map(|(a, b)| a + b);
                        (format!("{fs:.2}"), format!("{cs:.2}"), rate(ff, fs), rate(cf, cs), rate(total, m.seconds))
                    }
                    None => ("—".into(), "—".into(), "—".into(), "—".into(), "—".into()),
                };
                let reference =
                    rows.iter().filter(|r| r.n == row.n).find_map(|r| r.result.as_ref().ok().and_then(|m| m.k.clone()));
                let delta = match (&m.k, reference) {
                    (Some(k), Some(r)) if *k != r => {
                        relative_difference(k, &r).map_or("—".into(), |d| format!("{d:.1e}"))
                    }
                    _ => "(reference)".into(),
                };
                let torch = rows.iter().find(|r| r.n == row.n && r.method == BenchMethod::Torch);
                let speedup = match torch.and_then(|r| r.result.as_ref().ok()) {
                    Some(t) if m.seconds > 0.0 => format!("{:.2}×", t.seconds / m.seconds),
                    _ => "—".into(),
                };
                let peak = m.peak_rss.map_or("—".into(), format_bytes);
                let cpu = m.cpu_seconds.map_or("—".into(), |c| format!("{c:.1}"));
                println!(
                    "| {name} | {} | {} | {:.2} | {speedup} | {cpu} | {fb} | {c} | {rfb} | {rc} | {total} | {peak} | {delta} |",
                    row.n, args.max_len, m.seconds
                );
            }
        }
    }
    let notes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok()?.signals.as_ref().map(|s| format!("{:?}, N = {}: {s}", r.method, r.n)))
        .collect();
    if !notes.is_empty() {
        println!();
        for note in notes {
            println!("{note}.");
        }
    }
}

/// Run `ntkgap bench`.
///
/// # Errors
/// Bad flags, an unreadable input, or fewer records than the largest N.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let args = match args.what {
        BenchWhat::Gram(args) => args,
        BenchWhat::Kernels(args) => return super::bench_kernels::run_kernels(args),
    };
    let dir = std::env::temp_dir().join(format!("ntkgap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::write(&dir, e))?;
    let scratch = Scratch(dir);
    let records = corpus(&args, &scratch.0)?;
    if let Some(&n) = args.n.iter().find(|&&n| n == 0 || n > records.len()) {
        return Err(
            crate::Error::invalid("--n", format!("{n} is outside 1..={} (records available)", records.len())).into()
        );
    }
    let measure = || gemm_rate(1024, 1024, 1024, 3, GEMM_RATE_SECONDS);
    let before = measure();
    eprintln!(
        "bench: {} threads, f32 GEMM (faer matmul as in CpuKernels, 1024³): {before:.1} GFLOP/s",
        rayon::current_num_threads()
    );
    let mut rows = Vec::new();
    for &n in &args.n {
        let run_dir = scratch.0.join(format!("n{n}"));
        std::fs::create_dir_all(&run_dir)?;
        let input = run_dir.join("x.jsonl");
        std::fs::write(&input, records[..n].join("\n") + "\n")?;
        for (position, &method) in args.methods.iter().enumerate() {
            eprintln!("bench: {method:?}, N = {n} …");
            // Each row writes its K into its own folder, so a method listed twice (timed before and
            // after another) is compared with the first row rather than with itself.
            let dir = run_dir.join(format!("row{position}"));
            std::fs::create_dir_all(&dir)?;
            let result = match method {
                BenchMethod::Torch => run_torch(&args, "f32", &input, &dir)?,
                BenchMethod::TorchF64 => run_torch(&args, "f64", &input, &dir)?,
                _ => run_ntkgap(&args, method, &input, &dir)?,
            };
            rows.push(Row { method, n, result });
        }
    }
    let after = measure();
    eprintln!("bench: f32 GEMM after the last row: {after:.1} GFLOP/s");
    let faer = FaerRate { before, after };
    print_table(&rows, &args, faer);
    let phases: Vec<Phase<'_>> = rows
        .iter()
        .filter_map(|r| {
            let m = r.result.as_ref().ok()?;
            let (seconds, flops) = m.split?.forward_backward;
            Some(Phase {
                label: format!("{:?}, N = {}", r.method, r.n),
                seconds,
                counted_flops: flops?,
                products: &m.products,
            })
        })
        .collect();
    super::bench_ceiling::print(&phases, machine_rate(&rows, faer));
    Ok(())
}
