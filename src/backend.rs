//! Backend selection: the only module that names Burn backends.
//!
//! * `cpu`: Burn's pure-Rust **flex** backend (multi-threaded, SIMD).
//! * `wgpu`: Burn's wgpu backend on the best adapter wgpu finds (Vulkan, Metal, DX12, GL).
//! * `auto`: a *hardware* wgpu adapter if there is one, else flex. A software adapter
//!   (llvmpipe/lavapipe, device type `Cpu`) is slower than flex, so auto never picks it.

use burn::tensor::{Device, DeviceKind};

use crate::error::{Error, Refusal, Result};

/// What the user asked for (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackendChoice {
    /// A hardware GPU through wgpu if available, else the CPU.
    #[default]
    Auto,
    /// The CPU (Burn flex backend).
    Cpu,
    /// wgpu on the best adapter (even a software one).
    Wgpu,
}

/// The kind of backend that was selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Burn flex on the CPU.
    Cpu,
    /// Burn wgpu.
    Wgpu,
}

/// A ready device and a human-readable account of the choice.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The device to create tensors on.
    pub device: Device,
    /// Which backend it is.
    pub kind: BackendKind,
    /// E.g. "wgpu: NVIDIA H100 (Vulkan, DiscreteGpu)" or "cpu (flex): no hardware GPU adapter".
    pub description: String,
}

/// A wgpu adapter as seen by enumeration.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    /// Adapter name.
    pub name: String,
    /// Graphics API.
    pub backend: String,
    /// Device type (DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other).
    pub device_type: String,
    /// Whether it is real hardware (not a software rasteriser).
    pub hardware: bool,
}

/// Lists the wgpu adapters on this machine (may be empty).
pub fn wgpu_adapters() -> Vec<AdapterSummary> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .iter()
        .map(|a| {
            let info = a.get_info();
            let hardware = matches!(
                info.device_type,
                wgpu::DeviceType::DiscreteGpu
                    | wgpu::DeviceType::IntegratedGpu
                    | wgpu::DeviceType::VirtualGpu
            );
            AdapterSummary {
                name: info.name.clone(),
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                hardware,
            }
        })
        .collect()
}

fn cpu(reason: &str) -> Selected {
    Selected {
        device: Device::flex(),
        kind: BackendKind::Cpu,
        description: format!(
            "cpu (flex, {} threads){reason}",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ),
    }
}

/// Selects a device for `choice`.
pub fn select(choice: BackendChoice) -> Result<Selected> {
    match choice {
        BackendChoice::Cpu => Ok(cpu("")),
        BackendChoice::Wgpu => {
            let adapters = wgpu_adapters();
            let best = adapters
                .iter()
                .find(|a| a.hardware)
                .or(adapters.first())
                .ok_or(Error::Refused(Refusal::NoWgpuAdapter))?;
            Ok(Selected {
                device: Device::wgpu(DeviceKind::DefaultDevice),
                kind: BackendKind::Wgpu,
                description: format!(
                    "wgpu: {} ({}, {})",
                    best.name, best.backend, best.device_type
                ),
            })
        }
        BackendChoice::Auto => {
            let adapters = wgpu_adapters();
            match adapters.iter().find(|a| a.hardware) {
                Some(a) => Ok(Selected {
                    device: Device::wgpu(DeviceKind::DefaultDevice),
                    kind: BackendKind::Wgpu,
                    description: format!("wgpu: {} ({}, {})", a.name, a.backend, a.device_type),
                }),
                None if adapters.is_empty() => Ok(cpu(": no wgpu adapter found")),
                None => Ok(cpu(&format!(
                    ": only software wgpu adapters found ({}), which are slower than the CPU backend",
                    adapters
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
    }
}
