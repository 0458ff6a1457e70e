//! The GPU path (docs/architecture.md: `gpu` + `kernels/`): one wgpu device for the process,
//! shared by burn (the model's forward and backward, the eNTK probes) and by the WGSL Gram
//! kernels of `kernels/`, with the CPU as the fallback.
//!
//! * [`context`](mod@context) — adapters ([`adapters`], `ntkgap devices`), the process-wide [`GpuContext`]
//!   (wgpu instance/adapter/device/queue + burn's `Device` on the same device).
//! * [`registry`] — every `kernels/*.wgsl` compiled in, validated by naga in a CPU-only test,
//!   pipelines built on first use.
//! * [`launch`] — buffers, dispatch, read-back, device errors as [`crate::Error`].
//! * [`kernels`] — [`WgpuKernels`], the [`crate::ntk::kernels::GramKernels`] on the GPU
//!   (tiled GEMM/SYRK, the structured per-layer term, the token-match term, per-example outer
//!   sums), each tested against `ReferenceKernels`.
//! * [`bench`] — achieved GFLOP/s of the kernels against the device's own matmul rate.
//!
//! * [`device`] — [`ComputeDevice`], the one device type: the CPU or wgpu, chosen explicitly or
//!   by [`ComputeDevice::auto`].
//!
//! Nothing here is needed by `cargo test` on a machine without a GPU: the GPU tests skip with a
//! printed reason (and fail under `CI`, where lavapipe is installed).
//!
//! Known gaps: one adapter (the best) per process; the real-GPU throughput target (≥ 50 % of the
//! device's matmul rate at N ≥ 1024) has not been measured (only lavapipe, a CPU Vulkan driver,
//! was available); f32 products on the device (see `kernels` for the accumulation).

pub mod bench;
pub mod context;
pub mod device;
pub mod kernels;
pub mod launch;
pub mod registry;

pub use context::{adapters, context, AdapterSummary, GpuContext};
pub use device::{AutoReason, ComputeDevice};
pub use kernels::{small_gemm, GemmChoice, WgpuKernels};
pub use registry::{validate_wgsl, Kernel};
