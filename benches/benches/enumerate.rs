//! Exhaustive DAG/MEC enumeration timings, named by node count. Run with
//! `cargo bench -p ntkgap-benches --bench enumerate` (the project's one build profile).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ntkgap::graph::enumerate_all;
use std::hint::black_box;
use std::time::Duration;

fn enumerate(c: &mut Criterion) {
    let mut group = c.benchmark_group("enumerate_all");
    for n in [4usize, 5] {
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| black_box(enumerate_all(n).unwrap()).mecs)
        });
    }
    group.sample_size(10).measurement_time(Duration::from_secs(12));
    group.bench_with_input(BenchmarkId::from_parameter(6), &6usize, |b, &n| {
        b.iter(|| black_box(enumerate_all(n).unwrap()).mecs)
    });
    group.finish();
}

criterion_group!(benches, enumerate);
criterion_main!(benches);
