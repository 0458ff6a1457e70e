//! The kernel registry: every WGSL file of `kernels/` compiled into the binary (`include_str!`),
//! its binding count, and the compute pipelines built from it on first use (one per kernel and
//! device, cached in the [`crate::gpu::GpuContext`]).
//!
//! Each file's header comment is its binding contract (bindings, element types, the info
//! buffer); [`validate_wgsl`] parses and validates a source with naga, which the CPU-only test
//! runs on every kernel so that a shader error fails `cargo test` without any GPU.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// One WGSL kernel of `kernels/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `kernels/gemm_nt.wgsl`: C = X Yᵀ (128 × 128 register-blocked tiles, split-k slices).
    GemmNt,
    /// `kernels/gemm_nt_small.wgsl`: C = X Yᵀ for small C (8 × 8 blocks, k split over 256 threads).
    GemmNtSmall,
    /// `kernels/structured.wgsl`: Σₜₛ (a₁ₜ·a₂ₛ)(g₁ₜ·g₂ₛ) per example pair.
    Structured,
    /// `kernels/token_match.wgsl`: Σₜₛ [id₁ₜ = id₂ₛ] (g₁ₜ·g₂ₛ) per example pair.
    TokenMatch,
    /// `kernels/outer_sums.wgsl`: per-example Σₜ gₜ aₜᵀ (128 × 128 register-blocked tiles).
    OuterSums,
}

impl Kernel {
    /// Every kernel, in registry order.
    pub const ALL: [Kernel; 5] =
        [Kernel::GemmNt, Kernel::GemmNtSmall, Kernel::Structured, Kernel::TokenMatch, Kernel::OuterSums];

    /// The file name under `kernels/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::GemmNt => "gemm_nt.wgsl",
            Kernel::GemmNtSmall => "gemm_nt_small.wgsl",
            Kernel::Structured => "structured.wgsl",
            Kernel::TokenMatch => "token_match.wgsl",
            Kernel::OuterSums => "outer_sums.wgsl",
        }
    }

    /// The WGSL source (compiled into the binary).
    pub fn source(self) -> &'static str {
        match self {
            Kernel::GemmNt => include_str!("../../kernels/gemm_nt.wgsl"),
            Kernel::GemmNtSmall => include_str!("../../kernels/gemm_nt_small.wgsl"),
            Kernel::Structured => include_str!("../../kernels/structured.wgsl"),
            Kernel::TokenMatch => include_str!("../../kernels/token_match.wgsl"),
            Kernel::OuterSums => include_str!("../../kernels/outer_sums.wgsl"),
        }
    }

    /// Number of bindings in group 0 (inputs, then the output, then the info buffer).
    pub fn bindings(self) -> usize {
        match self {
            Kernel::GemmNt | Kernel::GemmNtSmall | Kernel::OuterSums => 4,
            Kernel::Structured | Kernel::TokenMatch => 6,
        }
    }

    fn index(self) -> usize {
        Kernel::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// Parse and validate a WGSL source with naga (no device needed).
///
/// # Errors
/// [`Error::BadInput`] naming `file` with naga's message (line and column included).
pub fn validate_wgsl(file: &str, source: &str) -> Result<naga::Module> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| Error::bad_input(format!("kernels/{file}"), e.emit_to_string(source).replace('\n', " ")))?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
        .validate(&module)
        .map_err(|e| Error::bad_input(format!("kernels/{file}"), format!("{e:?}")))?;
    Ok(module)
}

/// The compiled pipelines of one device (built lazily).
#[derive(Default)]
pub(crate) struct Pipelines {
    slots: [OnceLock<std::result::Result<wgpu::ComputePipeline, String>>; Kernel::ALL.len()],
}

impl Pipelines {
    /// The pipeline of `kernel` on `device`, compiled on first use.
    pub(crate) fn get(&self, device: &wgpu::Device, kernel: Kernel) -> Result<&wgpu::ComputePipeline> {
        self.slots[kernel.index()].get_or_init(|| compile(device, kernel)).as_ref().map_err(|reason| Error::Numerical {
            context: format!("kernels/{}", kernel.file()),
            reason: reason.clone(),
        })
    }
}

fn compile(device: &wgpu::Device, kernel: Kernel) -> std::result::Result<wgpu::ComputePipeline, String> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(kernel.file()),
        source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(kernel.file()),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    match pollster::block_on(scope.pop()) {
        Some(e) => Err(format!("the device refused the kernel: {e}")),
        None => Ok(pipeline),
    }
}
