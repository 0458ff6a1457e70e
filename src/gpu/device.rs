//! [`ComputeDevice`]: where models run and where the eNTK blocks are assembled — burn's pure-Rust
//! CPU backend (`flex`) or its wgpu backend on the process's shared GPU device
//! ([`crate::gpu::context()`], which the WGSL Gram kernels share). burn 0.22 tensors carry no
//! backend type; the [`Device`] decides, so choosing a device is all it takes.
//!
//! [`ComputeDevice::auto`] takes a hardware adapter when one exists; a *software* adapter (a CPU
//! Vulkan driver such as lavapipe/llvmpipe) is not taken, because flex is much faster on the same
//! CPU (see docs/gpu.md) — [`ComputeDevice::wgpu`] still uses it, e.g. to test the GPU path in
//! CI. No adapter is never an error for `auto` (it says why, [`AutoReason`]); it is for `wgpu`.

use burn::tensor::Device;

use crate::error::Result;
use crate::gpu::{adapters, context, AdapterSummary, WgpuKernels};

/// A resolved compute device: the CPU, or wgpu on one adapter. Serializes as `"cpu"` or `"wgpu"`
/// (what stage keys and `meta.json` record); [`ComputeDevice::describe`] names the adapter.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    /// `None` on the CPU, else the adapter in use.
    adapter: Option<AdapterSummary>,
    /// Why [`ComputeDevice::auto`] chose this device (`None` for an explicit choice).
    auto_reason: Option<AutoReason>,
    device: Device,
}

/// Why [`ComputeDevice::auto`] picked what it picked — for the one line a front end prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoReason {
    /// A hardware adapter: wgpu on it.
    Hardware,
    /// wgpu sees no adapter: the CPU.
    NoAdapter,
    /// Only a software adapter (this one): the CPU, which is faster than it.
    SoftwareOnly(AdapterSummary),
    /// The best adapter could not be used (the error text): the CPU.
    Failed(String),
}

impl ComputeDevice {
    /// The CPU (`flex`) device.
    pub fn cpu() -> Self {
        Self { adapter: None, auto_reason: None, device: Device::flex() }
    }

    /// wgpu on the best adapter, software adapters (lavapipe) included.
    ///
    /// # Errors
    /// As [`crate::gpu::context()`]: [`crate::Error::InvalidSetting`] (`device`) naming the fix
    /// when no adapter exists or its device cannot be created.
    pub fn wgpu() -> Result<Self> {
        let ctx = context()?;
        Ok(Self { adapter: Some(ctx.adapter.clone()), auto_reason: None, device: ctx.burn_device.clone() })
    }

    /// A hardware GPU if wgpu finds one, else the CPU; never an error.
    pub fn auto() -> Self {
        let found = adapters();
        let (mut device, reason) = match found.first() {
            None => (Self::cpu(), AutoReason::NoAdapter),
            Some(best) if best.software => (Self::cpu(), AutoReason::SoftwareOnly(best.clone())),
            Some(_) => match Self::wgpu() {
                Ok(d) => (d, AutoReason::Hardware),
                Err(e) => (Self::cpu(), AutoReason::Failed(e.to_string())),
            },
        };
        device.auto_reason = Some(reason);
        device
    }

    /// Why [`ComputeDevice::auto`] chose this device; `None` for [`ComputeDevice::cpu`] and
    /// [`ComputeDevice::wgpu`].
    pub fn auto_reason(&self) -> Option<&AutoReason> {
        self.auto_reason.as_ref()
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

    /// True on the wgpu backend.
    pub fn is_wgpu(&self) -> bool {
        self.adapter.is_some()
    }

    /// The adapter in use (wgpu only).
    pub fn adapter(&self) -> Option<&AdapterSummary> {
        self.adapter.as_ref()
    }

    /// `cpu` or `wgpu: <adapter> (<backend>, <type>)`, for logs and `meta.json`.
    pub fn describe(&self) -> String {
        match &self.adapter {
            None => "cpu".into(),
            Some(a) => format!("wgpu: {}", a.describe()),
        }
    }

    /// The Gram-assembly kernels that belong to this device: the WGSL kernels on the same wgpu
    /// device, or `None` on the CPU (the eNTK then uses its CPU kernels).
    ///
    /// # Errors
    /// As [`crate::gpu::context()`] (cannot happen once the device is wgpu).
    pub fn gram_kernels(&self) -> Result<Option<WgpuKernels>> {
        if self.is_wgpu() {
            Ok(Some(WgpuKernels::new()?))
        } else {
            Ok(None)
        }
    }
}

impl Default for ComputeDevice {
    fn default() -> Self {
        Self::cpu()
    }
}

impl PartialEq for ComputeDevice {
    /// The same backend on the same adapter (how the device was chosen does not matter).
    fn eq(&self, other: &Self) -> bool {
        self.adapter == other.adapter
    }
}

impl serde::Serialize for ComputeDevice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.is_wgpu() { "wgpu" } else { "cpu" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_device_serializes_as_cpu_and_has_no_adapter() {
        let cpu = ComputeDevice::cpu();
        assert_eq!(serde_json::to_string(&cpu).unwrap(), "\"cpu\"");
        assert!(!cpu.is_wgpu() && cpu.adapter().is_none() && cpu.auto_reason().is_none());
        assert_eq!(cpu.describe(), "cpu");
        assert_eq!(cpu, ComputeDevice::default());
    }

    #[test]
    fn auto_always_gives_a_device_and_says_why() {
        let auto = ComputeDevice::auto();
        let reason = auto.auto_reason().expect("auto records its reason");
        assert_eq!(auto.is_wgpu(), *reason == AutoReason::Hardware);
    }
}
