//! eNTK Gram timings on `builtin:tiny` (CPU, flex), named by method and N, plus the contraction
//! kernels on their own (CpuKernels vs the ReferenceKernels twin). Run with
//! `cargo bench -p ntkgap-benches --bench gram` (the project's one build profile). The MiniLM numbers
//! of docs/ntk.md come from `ntkgap bench gram`, not from here.

use std::hint::black_box;
use std::time::Duration;

use burn::tensor::Device;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ntkgap::model::{load, BuiltinSize, LoadOptions, ModelSpec};
use ntkgap::ntk::cpu_kernels::CpuKernels;
use ntkgap::ntk::kernels::{GramKernels, ReferenceKernels};
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

criterion_group!(benches, gram_methods, kernels);
criterion_main!(benches);
