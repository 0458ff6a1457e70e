//! Run-time device selection (`--device auto|cpu|wgpu`). burn 0.22 tensors carry no backend
//! type; the [`Device`] decides, so choosing a device is all it takes to run the model on the
//! CPU (burn's pure-Rust `flex` backend) or on a GPU (burn's wgpu backend, on the device of
//! [`crate::gpu::context()`], which the WGSL Gram kernels share).
//!
//! `auto` takes a hardware adapter when one exists and says which; a *software* adapter (a CPU
//! Vulkan driver such as lavapipe/llvmpipe) is not taken, because flex is much faster on the same
//! CPU (lavapipe measured ~20× slower) — `--device wgpu` still uses it, e.g. to test the GPU path
//! in CI. No adapter is never an error for `auto` (one notice line, CPU); it is for `wgpu`.

use burn::tensor::Device;

use crate::error::Result;
use crate::gpu::{adapters, context, AdapterSummary, WgpuKernels};

/// `--device`: where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
pub enum DeviceChoice {
    /// A hardware GPU adapter if wgpu finds one, else the CPU (default). Prints one line saying
    /// which; a software adapter (lavapipe) is skipped in favour of the faster CPU backend.
    #[default]
    Auto,
    /// burn's pure-Rust CPU backend (`flex`): always available (`flex` is accepted as an alias).
    #[value(alias = "flex")]
    Cpu,
    /// burn's wgpu backend on the best adapter (Vulkan, Metal or DX12), software adapters
    /// included; an error naming the fix when there is none.
    Wgpu,
}

impl DeviceChoice {
    /// The `--device` value naming this choice.
    pub fn flag(self) -> &'static str {
        match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Wgpu => "wgpu",
        }
    }
}

/// What a [`DeviceChoice`] resolved to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ComputeKind {
    /// burn's `flex` CPU backend.
    Cpu,
    /// burn's wgpu backend on this adapter.
    Wgpu(AdapterSummary),
}

/// A resolved device, plus the line to print about the choice (`auto` only).
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    /// CPU or which adapter.
    pub kind: ComputeKind,
    /// The line for stderr (`device: …` or `note: …`), when the choice was `auto`.
    pub notice: Option<String>,
    device: Device,
}

impl ComputeDevice {
    /// The CPU (`flex`) device.
    pub fn cpu() -> Self {
        Self { kind: ComputeKind::Cpu, notice: None, device: Device::flex() }
    }

    /// The inference device (`autodiff = false`) or the same device with autodiff (training,
    /// eNTK probes).
    pub fn device(&self, autodiff: bool) -> Device {
        if autodiff {
            self.device.clone().autodiff()
        } else {
            self.device.clone()
        }
    }

    /// `cpu` or `wgpu: <adapter> (<backend>, <type>)`, for logs and `meta.json`.
    pub fn describe(&self) -> String {
        match &self.kind {
            ComputeKind::Cpu => "cpu".into(),
            ComputeKind::Wgpu(a) => format!("wgpu: {}", a.describe()),
        }
    }

    /// Print the `--device auto` line (if any) on stderr.
    pub fn announce(&self) {
        if let Some(line) = &self.notice {
            eprintln!("{line}");
        }
    }

    /// True on the wgpu backend.
    pub fn is_wgpu(&self) -> bool {
        matches!(self.kind, ComputeKind::Wgpu(_))
    }

    /// The Gram-assembly kernels that belong to this device: the WGSL kernels on the same wgpu
    /// device, or `None` on the CPU (the caller's CPU kernels). The per-layer eNTK takes them
    /// as its `&dyn GramKernels`.
    ///
    /// # Errors
    /// As [`crate::gpu::context()`] (cannot happen once the device resolved to wgpu).
    pub fn gram_kernels(&self) -> Result<Option<WgpuKernels>> {
        if self.is_wgpu() {
            Ok(Some(WgpuKernels::new()?))
        } else {
            Ok(None)
        }
    }
}

fn on_wgpu(notice: Option<String>) -> Result<ComputeDevice> {
    let ctx = context()?;
    Ok(ComputeDevice { kind: ComputeKind::Wgpu(ctx.adapter.clone()), notice, device: ctx.burn_device.clone() })
}

fn cpu_with(note: String) -> ComputeDevice {
    ComputeDevice { notice: Some(note), ..ComputeDevice::cpu() }
}

impl DeviceChoice {
    /// Resolve the choice (enumerating adapters and creating the GPU device when needed).
    ///
    /// # Errors
    /// For [`DeviceChoice::Wgpu`] only: [`crate::Error::InvalidArgument`] (name `--device`) when
    /// no adapter exists or its device cannot be created, naming the fix (install a Vulkan
    /// driver, or use `--device cpu`).
    pub fn resolve(self) -> Result<ComputeDevice> {
        match self {
            DeviceChoice::Cpu => Ok(ComputeDevice::cpu()),
            DeviceChoice::Wgpu => on_wgpu(None),
            DeviceChoice::Auto => Ok(resolve_auto()),
        }
    }
}

fn resolve_auto() -> ComputeDevice {
    let found = adapters();
    let Some(best) = found.first() else {
        return cpu_with("note: `device` auto: no wgpu adapter found; running on the CPU (flex)".into());
    };
    if best.software {
        return cpu_with(format!(
            "note: `device` auto: only a software adapter, {}, found; running on the CPU (flex), which is faster on this machine (`device` wgpu forces the adapter)",
            best.describe()
        ));
    }
    match on_wgpu(None) {
        Ok(mut d) => {
            d.notice = Some(format!("device: {}", d.describe()));
            d
        }
        Err(e) => cpu_with(format!("note: `device` auto: {e}; running on the CPU (flex)")),
    }
}
