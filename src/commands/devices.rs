//! `segmint devices`: the GPU adapters wgpu sees (Vulkan, Metal, DX12) and
//! what `--device auto` does with them.

use serde::Serialize;

use crate::cli::{DevicesArgs, Format};
use segmint::Error;
use segmint::backend::gpu::{AdapterSummary, adapters, pick_adapter};
use segmint::backend::{DeviceChoice, GpuBackend};

use super::emit::{say, say_json};
use super::{Session, gpu_options};

#[derive(Serialize)]
struct Devices {
    adapters: Vec<AdapterSummary>,
    /// The adapter `--device auto` uses, by index; none: the CPU.
    auto: Option<usize>,
    /// Why `auto` uses the CPU, when it does.
    auto_reason: Option<String>,
    /// The adapter `--device gpu` uses.
    gpu: Option<usize>,
}

pub fn run(args: &DevicesArgs, session: &Session) -> Result<(), Error> {
    let options = gpu_options()?;
    let found = adapters();
    let asked = options.adapter.as_deref();
    let gpu = pick_adapter(&found, DeviceChoice::Gpu, asked).ok();
    let (auto, auto_reason) = match pick_adapter(&found, DeviceChoice::Auto, asked) {
        // Listed is not enough: the device must also open.
        Ok(index) => match GpuBackend::open(DeviceChoice::Auto, &options) {
            Ok(_) => (Some(index), None),
            Err(e) => (None, Some(e.to_string())),
        },
        Err(reason) => (None, Some(reason)),
    };
    let devices = Devices {
        adapters: found,
        auto,
        auto_reason,
        gpu,
    };
    match args.format {
        Format::Json => say_json(&devices),
        Format::Table if session.quiet => Ok(()),
        Format::Table => say(describe(&devices)),
    }
}

fn describe(d: &Devices) -> String {
    let mut text = String::new();
    if d.adapters.is_empty() {
        text.push_str("no Vulkan, Metal or DX12 adapter found\n");
    } else {
        text.push_str(&format!(
            "{:>3}  {:<40} {:<8} {:<16} driver\n",
            "#", "adapter", "backend", "type"
        ));
        for a in &d.adapters {
            text.push_str(&format!(
                "{:>3}  {:<40} {:<8} {:<16} {}\n",
                a.index, a.name, a.backend, a.device_type, a.driver
            ));
        }
    }
    let name = |i: usize| format!("#{i} {}", d.adapters[i].name);
    match (d.auto, &d.auto_reason) {
        (Some(i), _) => text.push_str(&format!("--device auto uses {}\n", name(i))),
        (None, reason) => text.push_str(&format!(
            "--device auto uses the CPU backend: {}\n",
            reason.as_deref().unwrap_or("no adapter")
        )),
    }
    match d.gpu {
        Some(i) => text.push_str(&format!("--device gpu uses {}", name(i))),
        None => text.push_str("--device gpu fails: no adapter"),
    }
    text
}
