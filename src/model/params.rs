//! Where module parameters come from: a seeded random initialiser, zeros (a shell to load our own
//! burnpack files into), or a PyTorch state dict read from the authors' checkpoints.
//!
//! Every constructor in [`crate::model`] takes a [`ParamSource`] and asks it for each tensor by
//! its key in the authors' state dict, with the shape it expects. That makes import a key map
//! checked tensor by tensor: a missing key or a wrong shape is an error naming the key and both
//! shapes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::prelude::*;
use burn::store::pytorch_reader::{DType, PytorchReader};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};

/// How a freshly initialised parameter is filled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// N(0, std²): the authors' `init_weights` uses std 0.02 for every conv and linear weight.
    Normal(f32),
    /// All zeros (biases).
    Zeros,
    /// All ones (norm scales).
    Ones,
    /// A random unit vector (spectral-norm `u`, `v`, as `torch.nn.utils.spectral_norm` does).
    UnitVector,
}

/// A tensor read from a checkpoint: its shape and values as f32.
#[derive(Debug, Clone)]
pub struct RawTensor {
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// A state dict loaded into memory, with a record of which keys were used.
#[derive(Debug)]
pub struct StateDict {
    tensors: HashMap<String, RawTensor>,
    path: PathBuf,
    used: HashSet<String>,
}

impl StateDict {
    /// Reads a PyTorch checkpoint: `{"net": state_dict}` (the authors' format) or a bare state
    /// dict. Tensors of any float dtype are converted to f32.
    pub fn read_pytorch(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::weights("checkpoint not found", path));
        }
        let reader = match PytorchReader::with_top_level_key(path, "net") {
            Ok(r) => r,
            Err(_) => PytorchReader::new(path).map_err(|e| {
                Error::weights(
                    format!(
                        "not a readable PyTorch checkpoint (truncated or another format?): {e}"
                    ),
                    path,
                )
            })?,
        };
        let mut tensors = HashMap::new();
        for (name, t) in reader.tensors() {
            let bytes = t.read().map_err(|e| {
                Error::weights(
                    format!("tensor {name} could not be read (truncated file?): {e}"),
                    path,
                )
            })?;
            let data = bytes_to_f32(&bytes, t.dtype()).ok_or_else(|| {
                Error::weights(
                    format!("tensor {name} has unsupported dtype {:?}", t.dtype()),
                    path,
                )
            })?;
            if data.len() != t.num_elements() {
                return Err(Error::weights(
                    format!(
                        "tensor {name}: {} values for shape {:?}",
                        data.len(),
                        t.shape()
                    ),
                    path,
                ));
            }
            tensors.insert(
                name.clone(),
                RawTensor {
                    shape: t.shape().to_vec(),
                    data,
                },
            );
        }
        if tensors.is_empty() {
            return Err(Error::weights("checkpoint holds no tensors", path));
        }
        Ok(Self {
            tensors,
            path: path.to_path_buf(),
            used: HashSet::new(),
        })
    }

    /// Reads a `.safetensors` file (the format of Hugging Face `safetensors`: an 8-byte
    /// little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}}`, then
    /// the raw little-endian data). F32, F16, BF16 and F64 tensors are converted to f32; other
    /// dtypes are an error naming the tensor.
    pub fn read_safetensors(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::io("could not read weights", path, e))?;
        Self::parse_safetensors(&bytes, path)
    }

    /// Parses the bytes of a `.safetensors` file; `path` names it in errors.
    pub fn parse_safetensors(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |m: String| Error::weights(format!("not a safetensors file: {m}"), path);
        if bytes.len() < 8 {
            return Err(bad("too short".into()));
        }
        let mut n8 = [0u8; 8];
        n8.copy_from_slice(&bytes[..8]);
        let hlen = usize::try_from(u64::from_le_bytes(n8)).map_err(|_| bad("header".into()))?;
        let header = bytes
            .get(8..8usize.saturating_add(hlen))
            .ok_or_else(|| bad("truncated header".into()))?;
        let data = &bytes[8 + hlen..];
        let json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
        let mut tensors = HashMap::new();
        for (name, v) in json {
            if name == "__metadata__" {
                continue;
            }
            let dtype = v["dtype"].as_str().unwrap_or("");
            let ints = |key: &str| -> Vec<usize> {
                v[key]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_u64())
                            .map(|x| x as usize)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let shape = ints("shape");
            let (start, end) = match ints("data_offsets").as_slice() {
                [a, b] if a <= b && *b <= data.len() => (*a, *b),
                _ => return Err(bad(format!("bad data offsets for {name}"))),
            };
            let raw = &data[start..end];
            let n: usize = shape.iter().product();
            let (width, conv): (usize, fn(&[u8]) -> f32) = match dtype {
                "F32" => (4, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                "F16" => (2, |c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()),
                "BF16" => (2, |c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()),
                "F64" => (8, |c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                }),
                other => return Err(bad(format!("tensor {name} has unsupported dtype {other}"))),
            };
            if raw.len() != n * width {
                return Err(bad(format!(
                    "tensor {name}: {} bytes for shape {shape:?}",
                    raw.len()
                )));
            }
            let data = raw.chunks_exact(width).map(conv).collect();
            tensors.insert(name, RawTensor { shape, data });
        }
        Ok(Self::from_tensors(tensors, path))
    }

    /// A state dict from tensors already in memory (tests, fixtures).
    pub fn from_tensors(tensors: HashMap<String, RawTensor>, path: impl Into<PathBuf>) -> Self {
        Self {
            tensors,
            path: path.into(),
            used: HashSet::new(),
        }
    }

    /// The file this state dict came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keys present in the file but never asked for, sorted.
    pub fn unused_keys(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| !self.used.contains(*k))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The shape of `key`, if present.
    pub fn shape_of(&self, key: &str) -> Option<&[usize]> {
        self.tensors.get(key).map(|t| t.shape.as_slice())
    }

    /// All keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tensors.keys().cloned().collect();
        v.sort();
        v
    }

    /// Takes the tensor `key`, checking its shape.
    pub fn take(&mut self, key: &str, shape: &[usize]) -> Result<RawTensor> {
        let t = self.tensors.get(key).ok_or_else(|| {
            Error::weights(
                format!("missing tensor {key} (expected shape {shape:?})"),
                &self.path,
            )
        })?;
        if t.shape != shape {
            return Err(Error::weights(
                format!(
                    "tensor {key} has shape {:?} but the model expects {shape:?}",
                    t.shape
                ),
                &self.path,
            ));
        }
        self.used.insert(key.to_string());
        Ok(t.clone())
    }
}

fn bytes_to_f32(bytes: &[u8], dtype: DType) -> Option<Vec<f32>> {
    Some(match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b) as f32
            })
            .collect(),
        DType::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        DType::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => return None,
    })
}

enum Kind<'a> {
    Random(Box<ChaCha8Rng>),
    Zeros,
    StateDict(&'a mut StateDict),
}

/// Supplies every parameter of a model under construction.
pub struct ParamSource<'a> {
    kind: Kind<'a>,
    device: Device,
}

impl<'a> ParamSource<'a> {
    /// Seeded random initialisation as the authors' `init_weights` does it.
    pub fn random(seed: u64, device: &Device) -> Self {
        Self {
            kind: Kind::Random(Box::new(ChaCha8Rng::seed_from_u64(seed))),
            device: device.clone(),
        }
    }

    /// All-zero parameters: a cheap shell to load saved weights into.
    pub fn zeros(device: &Device) -> Self {
        Self {
            kind: Kind::Zeros,
            device: device.clone(),
        }
    }

    /// Parameters taken from a state dict, by key, with shapes checked.
    pub fn state_dict(sd: &'a mut StateDict, device: &Device) -> Self {
        Self {
            kind: Kind::StateDict(sd),
            device: device.clone(),
        }
    }

    /// The device tensors are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn values(&mut self, key: &str, shape: &[usize], init: Init) -> Result<Vec<f32>> {
        let n: usize = shape.iter().product();
        match &mut self.kind {
            Kind::Zeros => Ok(vec![0.0; n]),
            Kind::StateDict(sd) => Ok(sd.take(key, shape)?.data),
            Kind::Random(rng) => Ok(match init {
                Init::Zeros => vec![0.0; n],
                Init::Ones => vec![1.0; n],
                Init::Normal(std) => (0..n)
                    .map(|_| {
                        let x: f32 = StandardNormal.sample(rng.as_mut());
                        x * std
                    })
                    .collect(),
                Init::UnitVector => {
                    let mut v: Vec<f32> = (0..n)
                        .map(|_| StandardNormal.sample(rng.as_mut()))
                        .collect();
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                    v
                }
            }),
        }
    }

    /// A tensor `key` of `shape`.
    pub fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<D>> {
        let data = self.values(key, &shape, init)?;
        Ok(Tensor::from_data(
            TensorData::new(data, shape),
            &self.device,
        ))
    }

    /// A trainable parameter `key` of `shape`.
    pub fn param<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Param<Tensor<D>>> {
        // `from_tensor` marks it as requiring gradients (effective on autodiff devices).
        Ok(Param::from_tensor(self.tensor(key, shape, init)?))
    }

    /// A parameter that never receives gradients (spectral-norm vectors, frozen mask convs).
    pub fn buffer<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Param<Tensor<D>>> {
        Ok(self.param(key, shape, init)?.set_require_grad(false))
    }

    /// A linear weight stored by PyTorch as `[out, in]`, returned in Burn's `[in, out]` layout.
    pub fn linear_weight(
        &mut self,
        key: &str,
        d_in: usize,
        d_out: usize,
        init: Init,
    ) -> Result<Param<Tensor<2>>> {
        // Transpose on the host so the parameter is contiguous (a transposed view would make
        // the matmul take another kernel path, and a reloaded model differ in the last bits).
        let src = self.values(key, &[d_out, d_in], init)?;
        let mut data = vec![0.0f32; src.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                data[i * d_out + o] = src[o * d_in + i];
            }
        }
        Ok(Param::from_tensor(Tensor::from_data(
            TensorData::new(data, [d_in, d_out]),
            &self.device,
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_files_are_read_and_checked() {
        let mut header = serde_json::json!({
            "__metadata__": {"format": "pt"},
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F16", "shape": [1, 2], "data_offsets": [8, 12]},
        })
        .to_string()
        .into_bytes();
        while !header.len().is_multiple_of(8) {
            header.push(b' ');
        }
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(&header);
        bytes.extend(1.5f32.to_le_bytes());
        bytes.extend((-2.0f32).to_le_bytes());
        bytes.extend(half::f16::from_f32(0.25).to_le_bytes());
        bytes.extend(half::f16::from_f32(4.0).to_le_bytes());
        let sd = StateDict::parse_safetensors(&bytes, Path::new("w.safetensors")).unwrap();
        assert_eq!(sd.shape_of("a"), Some(&[2usize][..]));
        assert_eq!(sd.shape_of("b"), Some(&[1usize, 2][..]));
        assert_eq!(sd.tensors["a"].data, vec![1.5, -2.0]);
        assert_eq!(sd.tensors["b"].data, vec![0.25, 4.0]);
        let err =
            StateDict::parse_safetensors(&bytes[..bytes.len() - 1], Path::new("t.st")).unwrap_err();
        assert!(err.to_string().contains("t.st"), "{err}");
        assert!(StateDict::parse_safetensors(b"abc", Path::new("x")).is_err());
    }
}
