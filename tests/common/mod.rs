//! Shared by the test binaries: the backends under test.
//!
//! GPU tests run on any adapter wgpu finds, lavapipe (Mesa's software
//! Vulkan) included. Without one they print why and pass, unless
//! `SEGMINT_REQUIRE_GPU=1` (set by CI), where a missing adapter fails.

#![allow(dead_code)]

use std::sync::OnceLock;

use segmint::backend::{Backend, DeviceChoice, GpuBackend, GpuOptions};

/// A GPU backend with `options`, or `None` (with a message) when there is
/// no adapter and none is required.
pub fn gpu_with(options: &GpuOptions) -> Option<Backend> {
    match GpuBackend::open(DeviceChoice::Gpu, options) {
        Ok(gpu) => Some(Backend::Gpu(gpu)),
        Err(e) => {
            if std::env::var("SEGMINT_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("SEGMINT_REQUIRE_GPU=1 but the GPU backend cannot run: {e}");
            }
            eprintln!("skipping a GPU test: {e} (SEGMINT_REQUIRE_GPU=1 makes this a failure)");
            None
        }
    }
}

/// The GPU backend with the device's own limits, opened once per test
/// binary.
pub fn gpu() -> Option<Backend> {
    static GPU: OnceLock<Option<Backend>> = OnceLock::new();
    GPU.get_or_init(|| gpu_with(&GpuOptions::default())).clone()
}

pub fn cpu() -> Option<Backend> {
    Some(Backend::Cpu)
}
