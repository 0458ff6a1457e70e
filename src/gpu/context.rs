//! The one wgpu instance / adapter / device / queue of the process, and the burn device that
//! runs on it.
//!
//! * [`adapters`] — every adapter wgpu sees on the primary APIs (Vulkan, Metal, DX12; the
//!   `WGPU_BACKEND` environment variable narrows the list, e.g. `WGPU_BACKEND=vulkan`), best
//!   first (discrete > integrated > virtual > other > CPU, ties in enumeration order).
//! * [`context`] — the process-wide [`GpuContext`] on the best adapter, created once: our own
//!   wgpu device (features and limits as burn's WGSL runtime requests them) shared with burn
//!   through `Device::wgpu_options().setup(..)`, so the model and the Gram kernels use one device
//!   and one queue.
//!
//! Known gaps: always the best adapter (no per-index selection); no multi-GPU.

use std::sync::OnceLock;

use burn::tensor::wgpu::WgpuSetup;
use burn::tensor::Device;

use crate::error::{Error, Result};

/// What `ntkgap devices` shows about one adapter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdapterSummary {
    /// Position in [`adapters`] (0 = the one `--device wgpu` uses).
    pub index: usize,
    /// The adapter's name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// Graphics API: `Vulkan`, `Metal`, `Dx12`, …
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
    pub device_type: String,
    /// Driver name and version, as the driver reports them.
    pub driver: String,
    /// True for a software rasterizer on the CPU (lavapipe/llvmpipe, WARP, SwiftShader).
    pub software: bool,
}

impl AdapterSummary {
    fn new(index: usize, info: &wgpu::AdapterInfo) -> Self {
        Self {
            index,
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
            software: info.device_type == wgpu::DeviceType::Cpu,
        }
    }

    /// `name (backend, type)`, the form of the device lines on stderr.
    pub fn describe(&self) -> String {
        format!("{} ({}, {})", self.name, self.backend, self.device_type)
    }
}

/// The wgpu handles of the process plus burn's device on them.
pub struct GpuContext {
    /// The adapter in use.
    pub adapter: AdapterSummary,
    /// The logical device (shared with burn).
    pub device: wgpu::Device,
    /// The queue (shared with burn).
    pub queue: wgpu::Queue,
    /// The device's limits (buffer sizes, workgroup counts), as requested.
    pub limits: wgpu::Limits,
    /// burn's device on the same wgpu device (no autodiff; call `.autodiff()` for training).
    pub burn_device: Device,
    /// The compiled kernels, built on first use.
    pub(crate) pipelines: crate::gpu::registry::Pipelines,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext").field("adapter", &self.adapter).finish_non_exhaustive()
    }
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = instance_backends();
    wgpu::Instance::new(desc)
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn ranked_adapters(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    let mut all = pollster::block_on(instance.enumerate_adapters(instance_backends()));
    all.sort_by_key(|a| rank(a.get_info().device_type)); // stable: ties keep wgpu's order
    all
}

fn instance_backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY)
}

/// Every adapter wgpu sees, best first. Empty when no driver is installed (never an error).
pub fn adapters() -> Vec<AdapterSummary> {
    ranked_adapters(&instance()).iter().enumerate().map(|(i, a)| AdapterSummary::new(i, &a.get_info())).collect()
}

/// Switch off Mesa's `VK_LAYER_MESA_device_select` implicit Vulkan layer for this process
/// (`NODEVICE_SELECT=1`, unless the variable is already set). ntkgap ranks adapters itself, and
/// the layer probes for a Wayland display on every instance creation, printing
/// `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` twice on machines without
/// one (every `--device auto` run would show it).
///
/// # Safety
/// It sets an environment variable, which is undefined behaviour while another thread may read
/// or write the environment: call it at the very start of `main`, before any thread exists.
pub unsafe fn quiet_vulkan_layers() {
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

/// The fix to print when no adapter can be used (the setting in backticks, see [`crate::Error`]).
pub const NO_ADAPTER_FIX: &str =
    "install a Vulkan driver (on Debian/Ubuntu: apt-get install mesa-vulkan-drivers) or run on the CPU (`device` cpu)";

fn create() -> std::result::Result<GpuContext, String> {
    let instance = instance();
    let adapter = ranked_adapters(&instance).into_iter().next().ok_or_else(|| "no wgpu adapter found".to_string())?;
    let info = adapter.get_info();
    let summary = AdapterSummary::new(0, &info);
    let limits = adapter.limits();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("ntkgap"),
        // As burn's WGSL runtime requests its device (cubecl-wgpu `backend/wgsl.rs`), so that
        // burn accepts the shared setup.
        required_features: adapter.features().difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
        required_limits: limits.clone(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        trace: wgpu::Trace::Off,
        // SAFETY: wgpu's experimental features (passthrough shaders) are only enabled, never used
        // by ntkgap itself; burn's own device request enables them the same way.
        experimental_features: unsafe { wgpu::ExperimentalFeatures::enabled() },
    }))
    .map_err(|e| format!("{}: could not create a device: {e}", summary.describe()))?;
    let setup = WgpuSetup { instance, adapter, device: device.clone(), queue: queue.clone(), backend: info.backend };
    let burn_device = Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| format!("{}: burn could not use the device: {e}", summary.describe()))?;
    Ok(GpuContext { adapter: summary, device, queue, limits, burn_device, pipelines: Default::default() })
}

static CONTEXT: OnceLock<std::result::Result<GpuContext, String>> = OnceLock::new();

/// The process-wide GPU context on the best adapter, created on first call.
///
/// # Errors
/// [`Error::InvalidSetting`] (`device`) when no adapter exists or the device cannot be
/// created, with the reason and [`NO_ADAPTER_FIX`]; the same error on every later call.
pub fn context() -> Result<&'static GpuContext> {
    CONTEXT
        .get_or_init(create)
        .as_ref()
        .map_err(|reason| Error::setting("device", format!("wgpu: {reason}; {NO_ADAPTER_FIX}")))
}
