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
