//! Every call to wgpu lives here (the rest of the GPU backend speaks in
//! this file's [`Context`], [`Buffer`], [`Pipeline`] and [`Dispatch`]), so
//! that wgpu's API churn between versions touches one file. wgpu is
//! pinned in Cargo.toml.
//!
//! - Adapters: Vulkan, Metal and DX12 only. wgpu would otherwise fall back
//!   to OpenGL (on a software rasteriser, seconds per dispatch) without a
//!   word.
//! - Device: the default limits, so that what runs here runs on any GPU;
//!   work past them (128 MiB per binding, 65,535 workgroups per dimension)
//!   is split by the callers using [`Context::limits`]. No optional
//!   feature is required.
//! - Errors: wgpu's default handler panics on a validation error. Every
//!   buffer and pipeline creation and every submission runs inside error
//!   scopes whose errors become [`BackendError`]s; anything that escapes a
//!   scope is recorded and reported at the next check.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};

use super::params::Params;
use super::shaders::{Kernel, Specialisation, source};
use super::{AdapterSummary, GpuOptions};
use crate::backend::BackendError;

/// The limits the kernels are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceLimits {
    /// Bytes per storage binding (a buffer is bound whole).
    pub max_binding: u64,
    /// Bytes per buffer (read-back buffers are split to fit).
    pub max_buffer: u64,
    /// Workgroups per dispatch dimension.
    pub max_workgroups: u32,
    /// Pairwise distances per silhouette dispatch, so that no dispatch
    /// runs long enough to trip a display driver's watchdog.
    pub pairs_per_dispatch: u64,
    /// Loop iterations one invocation may run (see [`super::bounds`]).
    pub max_loop: u64,
}

#[cfg(test)]
impl DeviceLimits {
    /// WebGPU's default limits (128 MiB bindings), with `max_loop`: what
    /// planning tests cut work by.
    pub(super) fn with_max_loop(max_loop: u64) -> Self {
        DeviceLimits {
            max_binding: 128 << 20,
            max_buffer: 256 << 20,
            max_workgroups: 65_535,
            pairs_per_dispatch: 1 << 32,
            max_loop,
        }
    }
}

/// See [`DeviceLimits::pairs_per_dispatch`]: about 4.3e9 distances, tens of
/// milliseconds on a current GPU.
const PAIRS_PER_DISPATCH: u64 = 1 << 32;

/// See [`DeviceLimits::max_loop`]: llvmpipe stops an invocation after
/// 65,535 loop iterations in all; a little margin below it.
const SOFTWARE_MAX_LOOP: u64 = 60_000;

/// See [`DeviceLimits::max_loop`]: on a GPU, a millisecond or so.
const GPU_MAX_LOOP: u64 = 1 << 20;

/// An open device.
pub struct Context {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: DeviceLimits,
    pipelines: Mutex<HashMap<(Kernel, Specialisation), Arc<Pipeline>>>,
    /// An error that no scope caught (should not happen), reported at the
    /// next scope check.
    stray: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("adapter", &self.summary.name)
            .field("limits", &self.limits)
            .finish()
    }
}

/// A storage buffer on the device.
#[derive(Debug)]
pub struct Buffer {
    raw: wgpu::Buffer,
}

impl Buffer {
    pub fn size(&self) -> u64 {
        self.raw.size()
    }
}

/// A compute pipeline and the layout of its bind group.
#[derive(Debug)]
pub struct Pipeline {
    raw: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// One dispatch: a kernel, its parameters (binding 0) and its storage
/// buffers (bindings 1, 2, ... in order), over `workgroups` workgroups
/// laid out on a 2D grid of `grid` (see [`Context::grid`]).
pub struct Dispatch<'a> {
    pub pipeline: &'a Pipeline,
    pub params: Params,
    pub buffers: Vec<&'a Buffer>,
    pub grid: (u32, u32),
}

/// A region of a buffer to read back: (buffer, byte offset, bytes).
pub type Region<'a> = (&'a Buffer, u64, u64);

const BACKENDS: wgpu::Backends = wgpu::Backends::VULKAN
    .union(wgpu::Backends::METAL)
    .union(wgpu::Backends::DX12);

fn instance() -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = BACKENDS;
    wgpu::Instance::new(descriptor)
}

fn summary(index: usize, info: &wgpu::AdapterInfo) -> AdapterSummary {
    use wgpu::DeviceType;
    AdapterSummary {
        index,
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: match info.device_type {
            DeviceType::DiscreteGpu => "discrete GPU",
            DeviceType::IntegratedGpu => "integrated GPU",
            DeviceType::VirtualGpu => "virtual GPU",
            DeviceType::Cpu => "software (CPU)",
            DeviceType::Other => "other",
        }
        .to_string(),
        software: info.device_type == DeviceType::Cpu,
        rank: match info.device_type {
            DeviceType::DiscreteGpu => 0,
            DeviceType::IntegratedGpu => 1,
            DeviceType::VirtualGpu => 2,
            DeviceType::Other => 3,
            DeviceType::Cpu => 4,
        },
        driver: [info.driver.as_str(), info.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The adapters wgpu sees on Vulkan, Metal and DX12, in its order.
pub fn adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(BACKENDS))
        .iter()
        .enumerate()
        .map(|(i, a)| summary(i, &a.get_info()))
        .collect()
}

impl Context {
    /// Opens the adapter that `pick` chooses among those wgpu sees.
    pub fn open(
        pick: impl FnOnce(&[AdapterSummary]) -> Result<usize, BackendError>,
        options: &GpuOptions,
    ) -> Result<Context, BackendError> {
        let instance = instance();
        let adapters = pollster::block_on(instance.enumerate_adapters(BACKENDS));
        let summaries: Vec<AdapterSummary> = adapters
            .iter()
            .enumerate()
            .map(|(i, a)| summary(i, &a.get_info()))
            .collect();
        let index = pick(&summaries)?;
        let adapter = &adapters[index];
        let summary = summaries[index].clone();
        let required_limits = wgpu::Limits::default();
        let device_error = |message: String| BackendError::Device {
            adapter: summary.name.clone(),
            message,
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("segmint"),
            required_features: wgpu::Features::empty(),
            required_limits: required_limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| device_error(e.to_string()))?;
        let stray = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&stray);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock()
                .expect("error sink")
                .get_or_insert_with(|| e.to_string());
        }));
        let max_binding = options
            .max_binding
            .unwrap_or(required_limits.max_storage_buffer_binding_size)
            .min(required_limits.max_storage_buffer_binding_size)
            .min(required_limits.max_buffer_size);
        let limits = DeviceLimits {
            max_binding,
            max_buffer: options
                .max_buffer
                .unwrap_or(required_limits.max_buffer_size)
                .clamp(max_binding, required_limits.max_buffer_size),
            max_workgroups: options
                .max_workgroups
                .unwrap_or(required_limits.max_compute_workgroups_per_dimension)
                .min(required_limits.max_compute_workgroups_per_dimension),
            pairs_per_dispatch: options
                .max_pairs_per_dispatch
                .unwrap_or(PAIRS_PER_DISPATCH)
                .max(1),
            max_loop: options
                .max_loop
                .unwrap_or(if summary.software {
                    SOFTWARE_MAX_LOOP
                } else {
                    GPU_MAX_LOOP
                })
                .max(1),
        };
        Ok(Context {
            device,
            queue,
            summary,
            limits,
            pipelines: Mutex::new(HashMap::new()),
            stray,
        })
    }

    /// Runs `f` inside validation and out-of-memory error scopes.
    fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, BackendError> {
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let invalid = pollster::block_on(validation.pop());
        let out_of_memory = pollster::block_on(memory.pop());
        if out_of_memory.is_some() {
            return Err(BackendError::OutOfMemory {
                adapter: self.summary.name.clone(),
                what: what.to_string(),
            });
        }
        if let Some(e) = invalid {
            return Err(self.refused(what, e.to_string()));
        }
        if let Some(message) = self.stray.lock().expect("error sink").take() {
            return Err(self.refused(what, message));
        }
        Ok(value)
    }

    fn refused(&self, what: &str, message: String) -> BackendError {
        BackendError::Refused {
            adapter: self.summary.name.clone(),
            what: what.to_string(),
            message,
        }
    }

    /// The 2D grid for `workgroups` workgroups: x up to the per-dimension
    /// limit, y as many rows as needed. Kernels skip the excess.
    pub fn grid(&self, workgroups: u32) -> (u32, u32) {
        let x = workgroups.clamp(1, self.limits.max_workgroups);
        (x, workgroups.div_ceil(x).max(1))
    }

    /// A storage buffer holding `data` (at least 4 bytes are allocated).
    /// Created, then written through the queue: a buffer that failed to be
    /// created (out of memory) is an error of the scope, never a panic of
    /// mapping an invalid buffer.
    pub fn buffer(&self, label: &str, data: &[u8]) -> Result<Buffer, BackendError> {
        let buffer = self.zeroed(label, data.len() as u64)?;
        if !data.is_empty() {
            // Whole words: the queue writes multiples of 4 bytes.
            if data.len().is_multiple_of(4) {
                self.write(&buffer, 0, data)?;
            } else {
                let mut padded = data.to_vec();
                padded.resize(data.len().next_multiple_of(4), 0);
                self.write(&buffer, 0, &padded)?;
            }
        }
        Ok(buffer)
    }

    /// A zero-filled storage buffer of `size` bytes.
    pub fn zeroed(&self, label: &str, size: u64) -> Result<Buffer, BackendError> {
        let size = size.max(4).next_multiple_of(4);
        self.scoped(label, || Buffer {
            raw: self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        })
    }

    /// Writes `data` into `buffer` at `offset` (before the next dispatch).
    pub fn write(&self, buffer: &Buffer, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        self.scoped("a buffer write", || {
            self.queue.write_buffer(&buffer.raw, offset, data)
        })
    }

    /// The pipeline of `kernel` with the constants of `spec`, compiled once.
    pub fn pipeline(
        &self,
        kernel: Kernel,
        spec: Specialisation,
    ) -> Result<Arc<Pipeline>, BackendError> {
        let spec = spec.for_kernel(kernel);
        let key = (kernel, spec);
        if let Some(p) = self.pipelines.lock().expect("pipelines").get(&key) {
            return Ok(Arc::clone(p));
        }
        let code = source(kernel, spec);
        let what = format!("the {} kernel", kernel.name());
        let pipeline = self.scoped(&what, || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.name()),
                    source: wgpu::ShaderSource::Wgsl(Cow::Owned(code)),
                });
            let raw = self
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.name()),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                });
            let layout = raw.get_bind_group_layout(0);
            Pipeline { raw, layout }
        })?;
        let pipeline = Arc::new(pipeline);
        self.pipelines
            .lock()
            .expect("pipelines")
            .insert(key, Arc::clone(&pipeline));
        Ok(pipeline)
    }

    /// Encodes `dispatches` in order (each sees the writes of those before
    /// it), then copies `reads` out, in one submission, and waits for it.
    /// Returns the bytes of each region.
    pub fn run(
        &self,
        what: &str,
        dispatches: &[Dispatch<'_>],
        reads: &[Region<'_>],
    ) -> Result<Vec<Vec<u8>>, BackendError> {
        // Read-back buffers of at most `max_buffer` bytes each: where each
        // region lands (buffer, offset).
        let mut sizes: Vec<u64> = Vec::new();
        let mut places = Vec::with_capacity(reads.len());
        for &(_, _, size) in reads {
            let last = sizes.len().wrapping_sub(1);
            match sizes.last_mut() {
                Some(used) if *used + size <= self.limits.max_buffer => {
                    places.push((last, *used));
                    *used += size;
                }
                _ => {
                    places.push((sizes.len(), 0));
                    sizes.push(size);
                }
            }
        }
        let staging = self.scoped(what, || {
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(what) });
            let uniforms: Vec<wgpu::Buffer> = dispatches
                .iter()
                .map(|d| {
                    let raw = self.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("params"),
                        size: std::mem::size_of::<Params>() as u64,
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    self.queue
                        .write_buffer(&raw, 0, bytemuck::bytes_of(&d.params));
                    raw
                })
                .collect();
            let groups: Vec<wgpu::BindGroup> = dispatches
                .iter()
                .zip(&uniforms)
                .map(|(d, uniform)| {
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: uniform.as_entire_binding(),
                    }];
                    entries.extend(d.buffers.iter().enumerate().map(|(i, b)| {
                        wgpu::BindGroupEntry {
                            binding: i as u32 + 1,
                            resource: b.raw.as_entire_binding(),
                        }
                    }));
                    self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(what),
                        layout: &d.pipeline.layout,
                        entries: &entries,
                    })
                })
                .collect();
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(what),
                    timestamp_writes: None,
                });
                for (d, group) in dispatches.iter().zip(&groups) {
                    pass.set_pipeline(&d.pipeline.raw);
                    pass.set_bind_group(0, group, &[]);
                    pass.dispatch_workgroups(d.grid.0, d.grid.1, 1);
                }
            }
            let staging: Vec<wgpu::Buffer> = sizes
                .iter()
                .map(|&size| {
                    self.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("read back"),
                        size,
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    })
                })
                .collect();
            for (&(buffer, offset, size), &(to, at)) in reads.iter().zip(&places) {
                encoder.copy_buffer_to_buffer(&buffer.raw, offset, &staging[to], at, size);
            }
            self.queue.submit([encoder.finish()]);
            staging
        })?;
        let (sender, receiver) = mpsc::channel();
        for buffer in &staging {
            let sender = sender.clone();
            buffer
                .slice(..)
                .map_async(wgpu::MapMode::Read, move |result| {
                    let _ = sender.send(result);
                });
        }
        self.wait(what)?;
        for _ in &staging {
            receiver
                .recv()
                .map_err(|e| self.refused(what, e.to_string()))?
                .map_err(|e| self.refused(what, e.to_string()))?;
        }
        let mut out = Vec::with_capacity(reads.len());
        {
            let views = staging
                .iter()
                .map(|b| b.slice(..).get_mapped_range())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.refused(what, e.to_string()))?;
            for (&(_, _, size), &(from, at)) in reads.iter().zip(&places) {
                out.push(views[from][at as usize..(at + size) as usize].to_vec());
            }
        }
        for buffer in &staging {
            buffer.unmap();
        }
        Ok(out)
    }

    /// Waits until the device has finished all submitted work.
    fn wait(&self, what: &str) -> Result<(), BackendError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| self.refused(what, e.to_string()))
    }

    /// Reads regions of buffers (one submission).
    pub fn read(&self, what: &str, regions: &[Region<'_>]) -> Result<Vec<Vec<u8>>, BackendError> {
        self.run(what, &[], regions)
    }
}
