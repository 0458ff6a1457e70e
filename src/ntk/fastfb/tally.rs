//! A tally of the GEMMs the hand-written forward + backward issues, by shape, for the ceiling
//! `ntkgap bench gram` prints: how long faer takes for the same products alone, against how long
//! the phase took in place (what the element-wise passes, the copies and the products' cold
//! operands cost). Off unless [`start`] was called; a disabled [`record`] is one relaxed load.
//!
//! Process-wide (the products are issued deep inside the path, from rayon's threads): the
//! counts of two Gram computations running at once in one process would mix, so only a
//! command that runs one computation ([`crate::cli`]'s `gram`) turns it on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use faer::Par;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ntk::fastfb::ops::{gemm, view, view_mut};

/// One GEMM shape: `out [m, n] (+)= a [m, k] · b [k, n]`, out row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Product {
    /// Rows of the output.
    pub m: usize,
    /// The inner dimension.
    pub k: usize,
    /// Columns of the output.
    pub n: usize,
    /// True when `a` is stored row-major (false: the transpose of a row-major matrix).
    pub a_row_major: bool,
    /// True when `b` is stored row-major.
    pub b_row_major: bool,
    /// True for a product run on the whole thread pool; false for one run on a single thread
    /// (the attention's, several at once across examples).
    pub parallel: bool,
}

impl Product {
    /// Multiply-adds ×2.
    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }
}

/// A shape and how many times it was issued.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Count {
    /// The shape.
    pub product: Product,
    /// Times issued.
    pub count: u64,
}

static ON: AtomicBool = AtomicBool::new(false);
static COUNTS: Mutex<BTreeMap<Product, u64>> = Mutex::new(BTreeMap::new());

/// Clear the tally and start counting.
pub fn start() {
    COUNTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    ON.store(true, Ordering::Relaxed);
}

/// Stop counting and return the tally, by shape (sorted).
pub fn finish() -> Vec<Count> {
    ON.store(false, Ordering::Relaxed);
    let mut counts = COUNTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *counts).into_iter().map(|(product, count)| Count { product, count }).collect()
}

/// Count one product (nothing when the tally is off).
pub fn record(product: Product) {
    if ON.load(Ordering::Relaxed) {
        *COUNTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(product).or_insert(0) += 1;
    }
}

/// One product's operands, laid out as `p` says.
struct Operands {
    a: Vec<f32>,
    b: Vec<f32>,
    out: Vec<f32>,
}

impl Operands {
    fn new(p: &Product, seed: usize) -> Self {
        let fill = |len: usize, salt: usize| -> Vec<f32> {
            (0..len).map(|i| ((i * 7 + salt * 13 + seed) % 17) as f32 / 17.0 - 0.5).collect()
        };
        Self { a: fill(p.m * p.k, 1), b: fill(p.k * p.n, 2), out: vec![0.0; p.m * p.n] }
    }

    fn run(&mut self, p: &Product, par: Par) {
        let a = if p.a_row_major { view(&self.a, p.m, p.k, p.k) } else { view(&self.a, p.k, p.m, p.m).transpose() };
        let b = if p.b_row_major { view(&self.b, p.k, p.n, p.n) } else { view(&self.b, p.n, p.k, p.k).transpose() };
        gemm(view_mut(&mut self.out, p.m, p.n, p.n), a, b, false, par);
    }
}

/// Seconds faer takes for one product of shape `p` alone: the best of repeated runs after a
/// warm-up, repeated for at least `min_seconds`, on operands that stay in cache between runs.
/// A parallel product runs on the whole thread pool; a single-threaded one on every thread of
/// the pool at once, each with its own operands (as the attention's products run, example by
/// example), its wall time divided by the threads.
pub fn seconds_alone(p: &Product, min_seconds: f64) -> f64 {
    let copies = if p.parallel { 1 } else { rayon::current_num_threads().max(1) };
    let mut operands: Vec<Operands> = (0..copies).map(|c| Operands::new(p, c)).collect();
    let once = |operands: &mut [Operands]| match operands {
        [one] if p.parallel => one.run(p, Par::rayon(0)),
        many => many.par_iter_mut().with_max_len(1).for_each(|o| o.run(p, Par::Seq)),
    };
    once(&mut operands);
    let (started, mut best, mut runs) = (Instant::now(), f64::INFINITY, 0);
    while runs < 3 || started.elapsed().as_secs_f64() < min_seconds {
        let t = Instant::now();
        once(&mut operands);
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    std::hint::black_box(&operands.iter().map(|o| o.out[0]).sum::<f32>());
    best / copies as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_between_start_and_finish() {
        let p = Product { m: 2, k: 3, n: 4, a_row_major: true, b_row_major: false, parallel: true };
        record(p);
        start();
        record(p);
        record(p);
        record(Product { parallel: false, ..p });
        let tally = finish();
        record(p);
        // Other tests of this process may issue products meanwhile: look at this shape only.
        let ours: Vec<&Count> = tally.iter().filter(|c| (c.product.m, c.product.k, c.product.n) == (2, 3, 4)).collect();
        assert_eq!(ours.len(), 2);
        assert_eq!(ours.iter().find(|c| c.product == p).map(|c| c.count), Some(2));
        assert_eq!(ours.iter().map(|c| c.count).sum::<u64>(), 3);
        assert_eq!(p.flops(), 48.0);
        assert!(!finish().iter().any(|c| c.product == p), "counted after finish");
    }

    #[test]
    fn a_product_alone_is_timed_in_every_layout() {
        for (a_row_major, b_row_major, parallel) in [(true, true, true), (false, true, false), (true, false, false)] {
            let p = Product { m: 33, k: 17, n: 9, a_row_major, b_row_major, parallel };
            let mut o = Operands::new(&p, 0);
            o.run(&p, Par::Seq);
            // out[r][c] = Σ_j a(r, j)·b(j, c), with a and b read in their stored layouts.
            let a = |r: usize, j: usize| if a_row_major { o.a[r * 17 + j] } else { o.a[j * 33 + r] };
            let b = |j: usize, c: usize| if b_row_major { o.b[j * 9 + c] } else { o.b[c * 17 + j] };
            for (r, c) in [(0, 0), (32, 8), (5, 3)] {
                let want: f32 = (0..17).map(|j| a(r, j) * b(j, c)).sum();
                assert!((o.out[r * 9 + c] - want).abs() < 1e-5, "{p:?} ({r}, {c})");
            }
            let seconds = seconds_alone(&p, 0.0);
            assert!(seconds.is_finite() && seconds > 0.0, "{p:?}: {seconds}");
        }
    }
}
