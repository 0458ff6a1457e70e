//! Nothing but the criterion benchmarks in `benches/` (`cargo bench -p ntkgap-benches`).
