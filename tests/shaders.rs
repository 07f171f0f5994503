//! Every WGSL kernel parses and validates with naga (the front end wgpu
//! uses), for the specialisations the backend compiles, without a GPU. A
//! shader error here would otherwise surface only on a machine with an
//! adapter, as a refused pipeline.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use segmint::backend::gpu::shaders::{Kernel, Specialisation, source};

fn validate(kernel: Kernel, spec: Specialisation) {
    let code = source(kernel, spec);
    let module = naga::front::wgsl::parse_str(&code).unwrap_or_else(|e| {
        panic!(
            "{} ({spec:?}) does not parse:\n{}",
            kernel.name(),
            e.emit_to_string(&code)
        )
    });
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| {
            panic!(
                "{} ({spec:?}) does not validate:\n{}",
                kernel.name(),
                e.emit_to_string(&code)
            )
        });
    // One entry point, `main`, a compute shader with 64 invocations.
    assert_eq!(module.entry_points.len(), 1, "{}", kernel.name());
    let entry = &module.entry_points[0];
    assert_eq!(entry.name, "main");
    assert_eq!(entry.stage, naga::ShaderStage::Compute);
    assert_eq!(entry.workgroup_size, [64, 1, 1], "{}", kernel.name());
    drop(info);
}

#[test]
fn every_kernel_validates_for_the_specialisations_used() {
    let specs = [
        Specialisation::new(1),
        Specialisation {
            d: 3,
            r: 9,
            pt: 2,
            t: 4,
            nacc: 54,
            k: 8,
        },
        Specialisation {
            d: 8,
            r: 1,
            pt: 32,
            t: 15,
            nacc: 256,
            k: 40,
        },
        Specialisation {
            d: 60,
            r: 2,
            pt: 1,
            t: 2,
            nacc: 3,
            k: 2,
        },
    ];
    for kernel in Kernel::ALL {
        for spec in specs {
            validate(kernel, spec);
        }
    }
}

#[test]
fn workgroup_memory_fits_the_default_limit() {
    // 16 KiB: tiles of 64 points x D plus labels (and distances) per run;
    // for a mixture, plus K responsibilities and a log-likelihood per
    // point (the most components its plan allows: D + K + 1 = 64).
    let limit = 16 * 1024;
    for kernel in Kernel::ALL {
        for (d, r) in [(8, 28), (60, 1), (30, 17), (1, 31)] {
            let spec = Specialisation {
                d,
                r,
                k: 63 - d,
                ..Specialisation::new(d)
            };
            let code = source(kernel, spec);
            let module = naga::front::wgsl::parse_str(&code).unwrap();
            let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
                .validate(&module)
                .unwrap();
            // What the entry point uses counts, as WebGPU counts it.
            let used = info.get_entry_point(0);
            let bytes: u32 = module
                .global_variables
                .iter()
                .filter(|(h, v)| v.space == naga::AddressSpace::WorkGroup && !used[*h].is_empty())
                .map(|(_, v)| module.types[v.ty].inner.size(module.to_ctx()))
                .sum();
            assert!(
                bytes <= limit,
                "{} with D = {d}, R = {r} uses {bytes} bytes of workgroup memory",
                kernel.name()
            );
        }
    }
}
