//! `ntkgap bench gram`'s ceiling for the forward + backward phase: the GEMMs the hand-written
//! path issued in a row's run (counted by shape, [`crate::ntk::fastfb::tally`]) timed with faer
//! alone in this process, each shape on warm operands. Their sum is the least time the phase's
//! products take at faer's rate on those shapes; what the phase took beyond it went to
//! everything else (the element-wise passes, copies, storing signals, and the products running
//! slower in place than alone on cold operands).

use std::collections::HashMap;

use crate::ntk::fastfb::tally::{seconds_alone, Count, Product};

/// Seconds each distinct shape is timed for at least (its best run counts).
const SECONDS_PER_SHAPE: f64 = 0.02;

/// One row's forward + backward phase.
pub struct Phase<'a> {
    /// The row's name, e.g. "PerLayer, N = 32".
    pub label: String,
    /// Seconds the phase took in the run.
    pub seconds: f64,
    /// The phase's FLOPs as [`crate::ntk::cost`] counts them.
    pub counted_flops: f64,
    /// The GEMMs its hand-written path issued.
    pub products: &'a [Count],
}

/// Time every shape of `phases` alone (once per distinct shape) and print one Markdown table
/// row per phase; `machine` is the run's GEMM rate (GFLOP/s). Prints nothing when no phase
/// issued a counted product (burn's pass, `Naive`, the GPU).
pub fn print(phases: &[Phase<'_>], machine: f64) {
    let phases: Vec<&Phase<'_>> = phases.iter().filter(|p| !p.products.is_empty()).collect();
    if phases.is_empty() {
        return;
    }
    let mut alone: HashMap<Product, f64> = HashMap::new();
    for c in phases.iter().flat_map(|p| p.products) {
        alone.entry(c.product).or_insert_with(|| seconds_alone(&c.product, SECONDS_PER_SHAPE));
    }
    println!();
    println!(
        "The forward + backward's GEMMs, timed alone (faer, each shape on warm operands, this process; % of {machine:.1} GFLOP/s):"
    );
    println!();
    println!("| row | GEMMs (shapes) | their GFLOP (% of the phase's count) | alone s | alone GFLOP/s (%) | phase s | phase s beyond the GEMMs alone (%) |");
    println!("|---|---|---|---|---|---|---|");
    for p in phases {
        let calls: u64 = p.products.iter().map(|c| c.count).sum();
        let flops: f64 = p.products.iter().map(|c| c.count as f64 * c.product.flops()).sum();
        let seconds: f64 = p.products.iter().map(|c| c.count as f64 * alone[&c.product]).sum();
        let rate = flops / seconds.max(f64::MIN_POSITIVE) / 1e9;
        let beyond = p.seconds - seconds;
        println!(
            "| {} | {calls} ({}) | {:.1} ({:.0} %) | {seconds:.2} | {rate:.1} ({:.0} %) | {:.2} | {beyond:.2} ({:.0} %) |",
            p.label,
            p.products.len(),
            flops / 1e9,
            100.0 * flops / p.counted_flops.max(f64::MIN_POSITIVE),
            100.0 * rate / machine,
            p.seconds,
            100.0 * beyond / p.seconds.max(f64::MIN_POSITIVE),
        );
    }
}
