//! eNTK Gram timings on `builtin:tiny` (CPU, flex), named by method and N, plus the contraction
//! kernels on their own (CpuKernels vs the ReferenceKernels twin; the per-example gradient
//! chunks of one SmolLM2-sized layer). Run with
//! `cargo bench -p ntkgap-benches --bench gram` (the project's one build profile). The MiniLM numbers
//! of docs/ntk.md come from `ntkgap bench gram`, not from here.

use std::hint::black_box;
use std::time::Duration;

use burn::tensor::Device;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ntkgap::model::{load, BuiltinSize, LoadOptions, ModelSpec};
use ntkgap::ntk::cpu_kernels::CpuKernels;
use ntkgap::ntk::kernels::{GramKernels, ReferenceKernels, Segmented};
use ntkgap::ntk::{gram, GramOptions, NtkMethod};
use ntkgap::tokenize::Encoding;

fn records(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let premise =
                "A correlates with B. B correlates with C. However, A is independent of C. ".repeat(1 + i % 3);
            (premise, format!("A directly causes {}.", ["B", "C"][i % 2]))
        })
        .collect()
}

fn gram_methods(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let loaded =
        load(&ModelSpec::Builtin(BuiltinSize::Tiny), &LoadOptions { seed: 0, head_file: None }, &device).unwrap();
    let pad = loaded.tokenizer.pad_id().unwrap();
    let mut group = c.benchmark_group("gram_tiny");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [8usize, 32] {
        let x: Vec<Encoding> = records(n).iter().map(|(p, h)| loaded.tokenizer.encode_pair(p, h).unwrap()).collect();
        for method in [NtkMethod::PerLayer, NtkMethod::Naive] {
            let options = GramOptions { method, ..Default::default() };
            group.bench_with_input(BenchmarkId::new(format!("{method:?}"), n), &x, |b, x| {
                b.iter(|| {
                    black_box(
                        gram(&loaded.classifier, x, None, pad, &options, &device, &mut |_| {}).unwrap().as_slice()[0],
                    )
                })
            });
        }
    }
    group.finish();
}

fn kernels(c: &mut Criterion) {
    let (n, k) = (32usize, 1 << 16);
    let x: Vec<f32> = (0..n * k).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 500.0).collect();
    let mut group = c.benchmark_group("gemm_nt_32x32x65536");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    let implementations: [(&str, &dyn GramKernels); 3] =
        [("cpu", &CpuKernels::F32), ("cpu-f64", &CpuKernels::F64), ("reference", &ReferenceKernels)];
    for (name, kernels) in implementations {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut out = vec![0.0; n * n];
                kernels.gemm_nt(&x, &x, k, &mut out).unwrap();
                black_box(out[1])
            })
        });
    }
    group.finish();
}

/// One materialized Linear weight's per-example gradients, chunk after chunk as the contraction
/// forms them ([`GramKernels::outer_sums_into`]): SmolLM2's `gate_proj` (576 → 1,536) on 32
/// prompts of docs/ntk.md's `x32_250` lengths (8,003 tokens, 14.2 GFLOP an iteration), 14 chunks
/// of ≈ 110 output channels — the formation step's rate on its own, without the Gram products,
/// the signal loads and the other layers of the engine's contraction phase.
fn outer_sums_chunks(c: &mut Criterion) {
    let lengths: Vec<usize> =
        [(13, 360), (3, 260), (16, 164)].iter().flat_map(|&(count, len)| std::iter::repeat_n(len, count)).collect();
    let (d_in, d_out, rows) = (576usize, 1536usize, lengths.iter().sum::<usize>());
    let values = |len: usize, seed: usize| -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed) % 1000) as f32 / 500.0 - 1.0).collect()
    };
    let (a, g) = (values(rows * d_in, 1), values(rows * d_out, 2));
    let a = Segmented::new(&a, d_in, &lengths).unwrap();
    let g = Segmented::new(&g, d_out, &lengths).unwrap();
    let step = d_out.div_ceil(14);
    let mut buf = vec![0.0f32; lengths.len() * step * d_in];
    let mut group = c.benchmark_group("outer_sums_gate_proj_32x250");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    group.bench_function("cpu", |b| {
        b.iter(|| {
            for c0 in (0..d_out).step_by(step) {
                let channels = c0..(c0 + step).min(d_out);
                let out = &mut buf[..lengths.len() * channels.len() * d_in];
                CpuKernels::F32.outer_sums_into(a, g, channels, out).unwrap();
            }
            black_box(buf[1])
        })
    });
    group.finish();
}

criterion_group!(benches, gram_methods, kernels, outer_sums_chunks);
criterion_main!(benches);
