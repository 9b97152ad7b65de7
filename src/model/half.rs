//! Half-precision weight files (`*.f16`): how the shipped default model stays small.
//!
//! Layout: the magic `PDPF16v1`, a little-endian `u64` header length, a JSON header (a list of
//! `{path, shape}` in module order), then every tensor as IEEE binary16, little-endian, in
//! header order. Tensors are matched by **module path** (`generated.3.block.conv_0.weight`) and
//! checked by shape when loading; values are widened back to f32, so the network computes in
//! f32 exactly as with full-precision weights (only the stored values are rounded, relative
//! error ≤ 2⁻¹¹).

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use half::f16;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::tensor_to_vec;

const MAGIC: &[u8; 8] = b"PDPF16v1";

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    shape: Vec<usize>,
}

/// Encodes every float parameter of `m` (including buffers such as spectral-norm `u`, `v`) as
/// half precision. Fails if a value is outside the f16 range (it would become infinite).
pub fn to_bytes<M: Module>(m: &M) -> Result<Vec<u8>> {
    struct V {
        path: Vec<String>,
        entries: Vec<Entry>,
        tensors: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for V {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let n: usize = shape.iter().product();
            self.entries.push(Entry {
                path: self.path.join("."),
                shape,
            });
            self.tensors.push(t.reshape([n]));
        }
    }
    let mut v = V {
        path: Vec::new(),
        entries: Vec::new(),
        tensors: Vec::new(),
    };
    m.visit(&mut v);
    let header = serde_json::to_vec(&v.entries)
        .map_err(|e| Error::Config(format!("cannot encode weight header: {e}")))?;
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for (t, e) in v.tensors.into_iter().zip(&v.entries) {
        for x in tensor_to_vec(t)? {
            let h = f16::from_f32(x);
            if x.is_finite() && !h.is_finite() {
                return Err(Error::Config(format!(
                    "{} holds {x}, outside the half-precision range",
                    e.path
                )));
            }
            out.extend_from_slice(&h.to_le_bytes());
        }
    }
    Ok(out)
}

/// Writes [`to_bytes`] atomically.
pub fn save<M: Module>(m: &M, path: &Path) -> Result<()> {
    crate::fsutil::write_atomic(path, &to_bytes(m)?)
}

/// Loads half-precision weights into `m` (built with the right sizes, any values). Every
/// parameter must be present with its shape; `name` labels errors (a path, or "embedded …").
pub fn load_bytes<M: Module>(m: M, bytes: &[u8], name: &Path) -> Result<M> {
    let bad = |msg: String| Error::weights(msg, name);
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad("not a pdpaint half-precision weight file".into()));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&bytes[8..16]);
    let hlen =
        usize::try_from(u64::from_le_bytes(len8)).map_err(|_| bad("bad header length".into()))?;
    let header = bytes
        .get(16..16usize.saturating_add(hlen))
        .ok_or_else(|| bad("truncated header".into()))?;
    let entries: Vec<Entry> =
        serde_json::from_slice(header).map_err(|e| bad(format!("bad header: {e}")))?;
    let mut at = 16 + hlen;
    let mut table: HashMap<String, (Vec<usize>, usize)> = HashMap::new();
    for e in entries {
        let n: usize = e.shape.iter().product();
        table.insert(e.path, (e.shape, at));
        at += 2 * n;
    }
    if at != bytes.len() {
        return Err(bad(format!(
            "file is {} bytes, the header describes {at}",
            bytes.len()
        )));
    }
    struct L<'a> {
        path: Vec<String>,
        table: &'a HashMap<String, (Vec<usize>, usize)>,
        bytes: &'a [u8],
        error: Option<String>,
        used: usize,
    }
    impl ModuleMapper for L<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let key = self.path.join(".");
            let want = tensor.dims().to_vec();
            let tensor = match self.table.get(&key) {
                Some((shape, off)) if *shape == want => {
                    self.used += 1;
                    let n: usize = shape.iter().product();
                    let vals: Vec<f32> = self.bytes[*off..*off + 2 * n]
                        .chunks_exact(2)
                        .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect();
                    let require_grad = tensor.is_require_grad();
                    let mut t = Tensor::<D>::from_data(
                        TensorData::new(vals, want.clone()),
                        &tensor.device(),
                    );
                    if require_grad {
                        t = t.require_grad();
                    }
                    t
                }
                Some((shape, _)) => {
                    self.error.get_or_insert(format!(
                        "tensor {key} has shape {shape:?}, the model expects {want:?}"
                    ));
                    tensor
                }
                None => {
                    self.error.get_or_insert(format!("missing tensor {key}"));
                    tensor
                }
            };
            Param::from_mapped_value(id, tensor, mapper)
        }
    }
    let mut l = L {
        path: Vec::new(),
        table: &table,
        bytes,
        error: None,
        used: 0,
    };
    let m = m.map(&mut l);
    if let Some(e) = l.error {
        return Err(bad(format!("weights do not fit the model: {e}")));
    }
    if l.used != table.len() {
        return Err(bad(format!(
            "the file holds {} tensors, the model uses {}",
            table.len(),
            l.used
        )));
    }
    Ok(m)
}

/// Reads a `.f16` file into `m`.
pub fn load<M: Module>(m: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("could not read weights", path, e))?;
    load_bytes(m, &bytes, path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::params::ParamSource;
    use crate::model::prior::PriorNet;

    #[test]
    fn round_trip_is_within_half_precision_and_checks_shapes() {
        let dev = Device::flex();
        let cfg = crate::model::Preset::Tiny.config();
        let a =
            PriorNet::from_sources_single(&mut ParamSource::random(1, &dev), &cfg.prior).unwrap();
        let bytes = to_bytes(&a).unwrap();
        let zeros =
            PriorNet::from_sources_single(&mut ParamSource::zeros(&dev), &cfg.prior).unwrap();
        let b = load_bytes(zeros, &bytes, Path::new("mem.f16")).unwrap();
        let x = crate::model::tensor_from_vec(
            (0..3 * 64 * 64)
                .map(|i| ((i % 17) as f32) / 9.0 - 0.9)
                .collect(),
            [1, 3, 64, 64],
            &dev,
        );
        let k = crate::model::tensor_from_vec(
            (0..3 * 64 * 64)
                .map(|i| if (i % 4096) < 2000 { 1.0 } else { 0.0 })
                .collect(),
            [1, 3, 64, 64],
            &dev,
        );
        let ya = tensor_to_vec(a.forward(x.clone(), k.clone())).unwrap();
        let yb = tensor_to_vec(b.forward(x, k)).unwrap();
        let worst = ya
            .iter()
            .zip(&yb)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-2,
            "half-precision weights changed the output by {worst}"
        );
        // Another size does not load, and the error names the tensor.
        let mut other = cfg.prior.clone();
        other.ngf = 8;
        let wrong = PriorNet::from_sources_single(&mut ParamSource::zeros(&dev), &other).unwrap();
        let err = load_bytes(wrong, &bytes, Path::new("mem.f16")).unwrap_err();
        assert!(err.to_string().contains("shape"), "{err}");
        assert!(load_bytes(b_prior(&dev), b"junk", Path::new("j")).is_err());
        assert!(load_bytes(b_prior(&dev), &bytes[..bytes.len() - 2], Path::new("t")).is_err());
    }

    fn b_prior(dev: &Device) -> PriorNet {
        let cfg = crate::model::Preset::Tiny.config();
        PriorNet::from_sources_single(&mut ParamSource::zeros(dev), &cfg.prior).unwrap()
    }
}
