//! Adam (Kingma & Ba), as PyTorch's `torch.optim.Adam` computes it, with its state kept by
//! **parameter path** (`generated.3.block.conv_0.weight`), not by run-time parameter id.
//!
//! Keying by path makes a checkpoint's optimiser state re-attach to a model loaded from disk in
//! another process, and the state lives on host memory until the first step, on whatever
//! device the gradients are: a resumed run continues bit-for-bit (same float operations) on
//! any backend. Burn's own `ModuleOptimizer` materialises a loaded state on the default device
//! (wgpu first in this build), which a machine without a GPU cannot do.
//!
//! Update, per parameter `p` with gradient `g`, at step `t` (1-based):
//! `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
//! `p ← p − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + ε)`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::tensor_to_vec;

const MAGIC: &[u8; 8] = b"PDPADAM1";

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamSettings {
    /// β1 (the authors: 0).
    pub beta1: f32,
    /// β2 (the authors: 0.999 for the prior, 0.9 for PD-GAN).
    pub beta2: f32,
    /// ε (PyTorch's default, 1e-8).
    pub eps: f32,
}

// The device variant holds two tensor handles; both live as long as the optimiser.
#[allow(clippy::large_enum_variant)]
enum Moments {
    Host(Vec<f32>, Vec<f32>),
    Device(Tensor<1>, Tensor<1>),
}

struct Slot {
    moments: Moments,
    step: u64,
}

/// Adam over every float parameter of a module that has a gradient.
pub struct Adam {
    settings: AdamSettings,
    slots: BTreeMap<String, Slot>,
}

impl std::fmt::Debug for Adam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adam")
            .field("settings", &self.settings)
            .field("parameters", &self.slots.len())
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    settings: AdamSettings,
    entries: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    len: usize,
    step: u64,
}

impl Adam {
    /// A fresh optimiser (no state yet).
    pub fn new(settings: AdamSettings) -> Self {
        Self {
            settings,
            slots: BTreeMap::new(),
        }
    }

    /// Its hyper-parameters.
    pub fn settings(&self) -> AdamSettings {
        self.settings
    }

    /// Number of parameters with state.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no parameter has state yet.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Updates every parameter of `module` that has a gradient in `grads` with learning rate
    /// `lr`; parameters without a gradient are left as they are.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        let mut mapper = StepMapper {
            adam: self,
            grads,
            lr,
            path: Vec::new(),
        };
        module.map(&mut mapper)
    }

    /// The state as bytes: a magic, a JSON header (settings, paths, lengths, steps) and the
    /// moments as little-endian f32.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut entries = Vec::with_capacity(self.slots.len());
        let mut data: Vec<f32> = Vec::new();
        for (path, slot) in &self.slots {
            let (m, v) = match &slot.moments {
                Moments::Host(m, v) => (m.clone(), v.clone()),
                Moments::Device(m, v) => (tensor_to_vec(m.clone())?, tensor_to_vec(v.clone())?),
            };
            entries.push(Entry {
                path: path.clone(),
                len: m.len(),
                step: slot.step,
            });
            data.extend(m);
            data.extend(v);
        }
        let header = serde_json::to_vec(&Header {
            settings: self.settings,
            entries,
        })
        .map_err(|e| Error::Config(format!("could not encode optimiser state: {e}")))?;
        let mut out = Vec::with_capacity(16 + header.len() + data.len() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for x in data {
            out.extend_from_slice(&x.to_le_bytes());
        }
        Ok(out)
    }

    /// Reads a state written by [`Adam::to_bytes`]; `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |msg: &str| Error::weights(format!("not a pdpaint optimiser state: {msg}"), path);
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad("bad magic"));
        }
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&bytes[8..16]);
        let hlen = usize::try_from(u64::from_le_bytes(len8)).map_err(|_| bad("header length"))?;
        let body = bytes
            .get(16..16usize.saturating_add(hlen))
            .ok_or_else(|| bad("truncated header"))?;
        let header: Header =
            serde_json::from_slice(body).map_err(|e| bad(&format!("header: {e}")))?;
        let mut rest = &bytes[16 + hlen..];
        let total: usize = header.entries.iter().map(|e| 2 * e.len).sum();
        if rest.len() != total * 4 {
            return Err(bad(&format!(
                "expected {} bytes of moments, found {}",
                total * 4,
                rest.len()
            )));
        }
        let mut take = |n: usize| -> Vec<f32> {
            let (head, tail) = rest.split_at(n * 4);
            rest = tail;
            head.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let mut slots = BTreeMap::new();
        for e in header.entries {
            let m = take(e.len);
            let v = take(e.len);
            slots.insert(
                e.path,
                Slot {
                    moments: Moments::Host(m, v),
                    step: e.step,
                },
            );
        }
        Ok(Self {
            settings: header.settings,
            slots,
        })
    }

    /// Writes the state atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a state saved by [`Adam::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io("could not read optimiser state", path, e))?;
        Self::from_bytes(&bytes, path)
    }
}

struct StepMapper<'a> {
    adam: &'a mut Adam,
    grads: GradientsParams,
    lr: f64,
    path: Vec<String>,
}

impl ModuleMapper for StepMapper<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let key = self.path.join(".");
        let require_grad = tensor.is_require_grad();
        let shape = tensor.shape();
        let n = shape.num_elements();
        let dev = grad.device();
        let x = tensor.inner();
        let g: Tensor<1> = grad.reshape([n]);
        let s = self.adam.settings;
        let (m, v, step) = match self.adam.slots.remove(&key) {
            Some(Slot {
                moments: Moments::Host(m, v),
                step,
            }) if m.len() == n && v.len() == n => (
                Tensor::<1>::from_data(TensorData::new(m, [n]), &dev),
                Tensor::<1>::from_data(TensorData::new(v, [n]), &dev),
                step,
            ),
            Some(Slot {
                moments: Moments::Device(m, v),
                step,
            }) if m.shape().num_elements() == n => (m, v, step),
            _ => (g.zeros_like(), g.zeros_like(), 0),
        };
        let t = step + 1;
        let b1 = s.beta1 as f64;
        let b2 = s.beta2 as f64;
        let m = m * b1 + g.clone() * (1.0 - b1);
        let v = v * b2 + g.powi_scalar(2) * (1.0 - b2);
        let bc1 = 1.0 - b1.powi(t as i32);
        let bc2 = 1.0 - b2.powi(t as i32);
        let denom = v.clone().sqrt() / bc2.sqrt() + s.eps as f64;
        let update = (m.clone() / denom) * (self.lr / bc1);
        let x_new = x.reshape([n]) - update;
        self.adam.slots.insert(
            key,
            Slot {
                moments: Moments::Device(m, v),
                step: t,
            },
        );
        let mut out = Tensor::<D>::from_inner(x_new.reshape(shape));
        if require_grad {
            out = out.require_grad();
        }
        Param::from_mapped_value(id, out, mapper)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::tensor_from_vec;

    #[derive(Module, Debug)]
    struct Two {
        a: Param<Tensor<1>>,
        b: Param<Tensor<2>>,
    }

    fn two(dev: &Device) -> Two {
        Two {
            a: Param::from_tensor(tensor_from_vec(vec![1.0, -2.0], [2], dev).require_grad()),
            b: Param::from_tensor(
                tensor_from_vec(vec![0.5, 0.25, -1.0, 3.0], [2, 2], dev).require_grad(),
            ),
        }
    }

    fn loss(m: &Two) -> Tensor<1> {
        // sum(a²) + sum(b³)/3 : grads 2a and b².
        m.a.val().powi_scalar(2).sum() + m.b.val().powi_scalar(3).sum() / 3.0
    }

    fn reference(p: f64, g: f64, t: i32, m: f64, v: f64, s: AdamSettings, lr: f64) -> f64 {
        let (b1, b2) = (s.beta1 as f64, s.beta2 as f64);
        let m = b1 * m + (1.0 - b1) * g;
        let v = b2 * v + (1.0 - b2) * g * g;
        let denom = v.sqrt() / (1.0 - b2.powi(t)).sqrt() + s.eps as f64;
        p - lr / (1.0 - b1.powi(t)) * m / denom
    }

    #[test]
    fn first_step_matches_pytorch_formula_and_state_round_trips() {
        let dev = Device::flex().autodiff();
        let s = AdamSettings {
            beta1: 0.5,
            beta2: 0.9,
            eps: 1e-8,
        };
        let mut opt = Adam::new(s);
        let m = two(&dev);
        let grads = GradientsParams::from_grads(loss(&m).backward(), &m);
        let m = opt.step(0.1, m, grads);
        let a = tensor_to_vec(m.a.val()).unwrap();
        for (i, p0) in [1.0f64, -2.0].iter().enumerate() {
            let want = reference(*p0, 2.0 * p0, 1, 0.0, 0.0, s, 0.1);
            assert!((a[i] as f64 - want).abs() < 1e-6, "{} vs {want}", a[i]);
        }
        assert_eq!(opt.len(), 2);
        // Saved and reloaded state gives the same second step as the live one.
        let bytes = opt.to_bytes().unwrap();
        let mut back = Adam::from_bytes(&bytes, Path::new("mem")).unwrap();
        let m2 = Two {
            a: Param::from_tensor(m.a.val().detach().require_grad()),
            b: Param::from_tensor(m.b.val().detach().require_grad()),
        };
        let g1 = GradientsParams::from_grads(loss(&m).backward(), &m);
        let g2 = GradientsParams::from_grads(loss(&m2).backward(), &m2);
        let live = opt.step(0.1, m, g1);
        let resumed = back.step(0.1, m2, g2);
        assert_eq!(
            tensor_to_vec(live.b.val()).unwrap(),
            tensor_to_vec(resumed.b.val()).unwrap()
        );
        assert!(live.a.val().is_require_grad());
    }

    #[test]
    fn corrupt_state_is_an_error_naming_the_file() {
        let err = Adam::from_bytes(
            b"PDPADAM1\xff\xff\xff\xff\xff\xff\xff\x7f",
            Path::new("x.bin"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("x.bin"), "{err}");
        assert!(Adam::from_bytes(b"nope", Path::new("y")).is_err());
    }
}
