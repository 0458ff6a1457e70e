//! One kernel launch: upload the inputs and the info buffer, dispatch, read the output back.
//!
//! [`Prepared`] keeps the buffers and bind group of a launch so that a benchmark can dispatch it
//! repeatedly with the data resident; [`run`] is prepare + one dispatch + read back. Validation
//! and out-of-memory errors of the device are caught in error scopes and returned as
//! [`Error::Numerical`] naming the kernel, never a panic.

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::registry::Kernel;

/// The largest storage binding this device accepts, in bytes.
pub fn max_binding_bytes(ctx: &GpuContext) -> u64 {
    ctx.limits.max_storage_buffer_binding_size.min(ctx.limits.max_buffer_size)
}

/// A launch with its buffers on the device.
pub struct Prepared {
    kernel: Kernel,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
    out: wgpu::Buffer,
    staging: wgpu::Buffer,
    out_bytes: u64,
}

fn device_error(kernel: Kernel, what: impl std::fmt::Display) -> Error {
    Error::Numerical { context: format!("wgpu kernel {}", kernel.file()), reason: what.to_string() }
}

fn check_launch(ctx: &GpuContext, kernel: Kernel, sizes: &[u64], groups: [u32; 3]) -> Result<()> {
    if kernel.bindings() != sizes.len() {
        return Err(device_error(kernel, format!("{} bindings given, {} expected", sizes.len(), kernel.bindings())));
    }
    let limit = max_binding_bytes(ctx);
    if let Some(big) = sizes.iter().find(|&&s| s > limit) {
        return Err(device_error(
            kernel,
            format!("a buffer of {big} bytes exceeds the device's binding limit of {limit} bytes"),
        ));
    }
    check_groups(ctx, kernel, groups)
}

fn check_groups(ctx: &GpuContext, kernel: Kernel, groups: [u32; 3]) -> Result<()> {
    let most = ctx.limits.max_compute_workgroups_per_dimension;
    if groups.iter().any(|&g| g > most) {
        return Err(device_error(
            kernel,
            format!("dispatch {groups:?} exceeds the device's {most} workgroups per dimension"),
        ));
    }
    Ok(())
}

impl Prepared {
    /// Upload `inputs` (raw bytes, bindings 0..m), allocate an f32 output of `out_len` values
    /// (binding m) and upload `info` (binding m + 1) for a dispatch of `groups` workgroups.
    ///
    /// # Errors
    /// [`Error::Numerical`] when a buffer or the dispatch exceeds the device's limits or the
    /// device refuses the kernel.
    pub fn new(
        ctx: &GpuContext,
        kernel: Kernel,
        inputs: &[&[u8]],
        info: &[u32],
        out_len: usize,
        groups: [u32; 3],
    ) -> Result<Self> {
        let out_bytes = (out_len.max(1) * 4) as u64;
        let mut sizes: Vec<u64> = inputs.iter().map(|b| b.len() as u64).collect();
        sizes.extend([out_bytes, (info.len() * 4) as u64]);
        check_launch(ctx, kernel, &sizes, groups)?;
        let pipeline = ctx.pipelines.get(&ctx.device, kernel)?.clone();
        let dev = &ctx.device;
        let storage = |bytes: &[u8]| {
            let contents: &[u8] = if bytes.is_empty() { &[0u8; 4] } else { bytes };
            dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        // An input given twice (the same bytes, e.g. X and Y of X Xᵀ) is uploaded once and bound
        // twice (both bindings are read-only).
        let mut buffers: Vec<wgpu::Buffer> = Vec::with_capacity(inputs.len() + 1);
        for (i, bytes) in inputs.iter().enumerate() {
            let earlier = inputs[..i]
                .iter()
                .position(|b| b.as_ptr() == bytes.as_ptr() && b.len() == bytes.len() && !bytes.is_empty());
            let buffer = match earlier {
                Some(j) => buffers[j].clone(),
                None => storage(bytes),
            };
            buffers.push(buffer);
        }
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let out = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("out"),
            size: out_bytes,
            usage,
            mapped_at_creation: false,
        });
        let staging_usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let staging = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: out_bytes,
            usage: staging_usage,
            mapped_at_creation: false,
        });
        buffers.push(storage(bytemuck::cast_slice(info)));
        let layout = pipeline.get_bind_group_layout(0);
        let mut entries: Vec<wgpu::BindGroupEntry> = buffers[..inputs.len()]
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        entries.push(wgpu::BindGroupEntry { binding: inputs.len() as u32, resource: out.as_entire_binding() });
        entries.push(wgpu::BindGroupEntry {
            binding: inputs.len() as u32 + 1,
            resource: buffers[inputs.len()].as_entire_binding(),
        });
        let bind_group =
            dev.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &layout, entries: &entries });
        Ok(Self { kernel, pipeline, bind_group, groups, out, staging, out_bytes })
    }

    /// Dispatch `groups` workgroups from now on, keeping the uploaded buffers (the kernel must
    /// stay within the output allocated by [`Prepared::new`]).
    ///
    /// # Errors
    /// [`Error::Numerical`] when `groups` exceeds the device's workgroups per dimension.
    pub fn set_groups(&mut self, ctx: &GpuContext, groups: [u32; 3]) -> Result<()> {
        check_groups(ctx, self.kernel, groups)?;
        self.groups = groups;
        Ok(())
    }

    /// Dispatch the kernel `repeats` times (one submission) and wait for the device.
    ///
    /// # Errors
    /// [`Error::Numerical`] when the device reports a validation or out-of-memory error.
    pub fn dispatch(&self, ctx: &GpuContext, repeats: usize) -> Result<()> {
        let validation = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            for _ in 0..repeats {
                if self.groups.iter().all(|&g| g > 0) {
                    pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
                }
            }
        }
        ctx.queue.submit([encoder.finish()]);
        ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| device_error(self.kernel, e))?;
        match pollster::block_on(validation.pop()) {
            Some(e) => Err(device_error(self.kernel, e)),
            None => Ok(()),
        }
    }

    /// Copy the output back to the host.
    ///
    /// # Errors
    /// [`Error::Numerical`] when the copy or the mapping fails.
    pub fn read(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_buffer_to_buffer(&self.out, 0, &self.staging, 0, self.out_bytes);
        ctx.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        self.staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| device_error(self.kernel, e))?;
        rx.recv()
            .map_err(|e| device_error(self.kernel, e))?
            .map_err(|e| device_error(self.kernel, format!("reading the output back: {e}")))?;
        let values = {
            let view = self.staging.get_mapped_range(..).map_err(|e| device_error(self.kernel, format!("{e:?}")))?;
            bytemuck::pod_collect_to_vec::<u8, f32>(&view)
        };
        self.staging.unmap();
        Ok(values)
    }
}

/// Prepare, dispatch once and read back `out_len` f32 values.
///
/// # Errors
/// As [`Prepared::new`], [`Prepared::dispatch`] and [`Prepared::read`].
pub fn run(
    ctx: &GpuContext,
    kernel: Kernel,
    inputs: &[&[u8]],
    info: &[u32],
    out_len: usize,
    groups: [u32; 3],
) -> Result<Vec<f32>> {
    let prepared = Prepared::new(ctx, kernel, inputs, info, out_len, groups)?;
    prepared.dispatch(ctx, 1)?;
    let mut values = prepared.read(ctx)?;
    values.truncate(out_len);
    Ok(values)
}
