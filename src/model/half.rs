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

use burn::module::Module;
use burn::prelude::*;
use half::f16;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::tensor_to_vec;
use crate::model::walk::{flat_params, replace_params};

const MAGIC: &[u8; 8] = b"PDPF16v1";

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    shape: Vec<usize>,
}

/// Encodes every float parameter of `m` (including buffers such as spectral-norm `u`, `v`) as
/// half precision. Fails if a value is outside the f16 range (it would become infinite).
pub fn to_bytes<M: Module>(m: &M) -> Result<Vec<u8>> {
    let params = flat_params(m);
    let entries: Vec<Entry> = params
        .iter()
        .map(|p| Entry {
            path: p.path.clone(),
            shape: p.shape.clone(),
        })
        .collect();
    let header = serde_json::to_vec(&entries)
        .map_err(|e| Error::Config(format!("cannot encode weight header: {e}")))?;
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for (p, e) in params.into_iter().zip(&entries) {
        for x in tensor_to_vec(p.values)? {
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
    // Every size is checked against the file's length before anything is allocated, with
    // checked arithmetic: a damaged header cannot overflow or ask for terabytes.
    let mut at = 16 + hlen;
    let mut table: HashMap<String, (Vec<usize>, usize)> = HashMap::new();
    for e in entries {
        let end = e
            .shape
            .iter()
            .try_fold(2usize, |acc, &d| acc.checked_mul(d))
            .and_then(|len| at.checked_add(len))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                bad(format!(
                    "tensor {} of shape {:?} does not fit in the file's {} bytes (truncated or \
                     damaged header)",
                    e.path,
                    e.shape,
                    bytes.len()
                ))
            })?;
        table.insert(e.path, (e.shape, at));
        at = end;
    }
    if at != bytes.len() {
        return Err(bad(format!(
            "file is {} bytes, the header describes {at}",
            bytes.len()
        )));
    }
    let mut error: Option<String> = None;
    let mut used = 0usize;
    let m = replace_params(m, |key, want, current| match table.get(key) {
        Some((shape, off)) if shape.as_slice() == want => {
            used += 1;
            let n: usize = shape.iter().product();
            let vals: Vec<f32> = bytes
                .get(*off..off.saturating_add(2 * n))
                .unwrap_or_default()
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect();
            if vals.len() != n {
                error.get_or_insert(format!("tensor {key} lies outside the file"));
                return None;
            }
            if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
                error.get_or_insert(format!(
                    "tensor {key} holds a non-finite value ({} at index {i})",
                    vals[i]
                ));
                return None;
            }
            Some(Tensor::<1>::from_data(
                TensorData::new(vals, [n]),
                &current.device(),
            ))
        }
        Some((shape, _)) => {
            error.get_or_insert(format!(
                "tensor {key} has shape {shape:?}, the model expects {want:?}"
            ));
            None
        }
        None => {
            error.get_or_insert(format!("missing tensor {key}"));
            None
        }
    });
    if let Some(e) = error {
        return Err(bad(if e.contains("non-finite") {
            format!("damaged weights: {e}")
        } else {
            format!("weights do not fit the model: {e}")
        }));
    }
    if used != table.len() {
        return Err(bad(format!(
            "the file holds {} tensors, the model uses {used}",
            table.len(),
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

    /// A file whose header is `entries`, followed by `data_len` bytes of zeros.
    fn file_with(entries: &str, data_len: usize) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        out.extend_from_slice(entries.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data_len));
        out
    }

    #[test]
    fn overflowing_or_oversized_shapes_are_refused_without_allocating() {
        let dev = Device::flex();
        let huge = 1u64 << 32;
        for header in [
            format!(r#"[{{"path":"a","shape":[{huge},{huge}]}}]"#),
            format!(r#"[{{"path":"a","shape":[{huge},{huge},{huge}]}}]"#),
            format!(r#"[{{"path":"a","shape":[{}]}}]"#, u64::MAX / 2),
            r#"[{"path":"a","shape":[4]},{"path":"b","shape":[1000000]}]"#.to_string(),
        ] {
            let bytes = file_with(&header, 8);
            let err = load_bytes(b_prior(&dev), &bytes, Path::new("big.f16")).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("does not fit"), "{msg}");
            assert!(msg.ends_with("big.f16"), "{msg}");
        }
    }

    #[test]
    fn non_finite_values_are_refused_naming_the_tensor() {
        let dev = Device::flex();
        let cfg = crate::model::Preset::Tiny.config();
        let a =
            PriorNet::from_sources_single(&mut ParamSource::random(2, &dev), &cfg.prior).unwrap();
        let mut bytes = to_bytes(&a).unwrap();
        let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        let entries: Vec<Entry> = serde_json::from_slice(&bytes[16..16 + hlen]).unwrap();
        let at = 16 + hlen;
        bytes[at..at + 8].copy_from_slice(&[0x00, 0x7e, 0x00, 0x7e, 0x00, 0x7c, 0x00, 0xfc]);
        let err = load_bytes(b_prior(&dev), &bytes, Path::new("nan.f16")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("non-finite"), "{msg}");
        assert!(msg.contains(&entries[0].path), "{msg}");
        assert!(msg.ends_with("nan.f16"), "{msg}");
    }

    fn b_prior(dev: &Device) -> PriorNet {
        let cfg = crate::model::Preset::Tiny.config();
        PriorNet::from_sources_single(&mut ParamSource::zeros(dev), &cfg.prior).unwrap()
    }
}
