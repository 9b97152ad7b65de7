//! The PD-GAN networks in Burn, faithful to the authors' code (see `docs/network.md`).
//!
//! * [`config`]: presets (`official`, `small`, `tiny`) and the generator's unit layout.
//! * [`params`]: where parameters come from (random init, zeros, the authors' state dicts).
//! * [`layers`]: spectral-normalised conv, positional/instance norm, partial conv.
//! * [`generator`]: SPDNorm, the SPD residual block and the generator.
//! * [`prior`]: the stage-1 partial-conv encoder/decoder.
//! * [`discriminator`]: the two-scale PatchGAN.
//! * [`vgg`]: the frozen VGG-16/19 feature network of the losses (torchvision weights or
//!   seeded random).
//! * [`walk`]: a module's float parameters by path (half-precision files, the moving average).
//! * [`weights`]: import of the authors' `.pth` files and our model folder (`config.json` +
//!   burnpack files).

pub mod config;
pub mod discriminator;
pub mod embedded;
pub mod generator;
pub mod half;
pub mod layers;
pub mod params;
pub mod prior;
pub mod vgg;
pub mod walk;
pub mod weights;

use burn::prelude::*;

pub use config::{ModelConfig, Preset, PriorSource};
pub use discriminator::Discriminator;
pub use generator::{Generator, UnitMaps};
pub use prior::PriorNet;

use crate::error::Result;
use crate::model::params::ParamSource;

/// The two inference networks of one model: the stage-1 prior and the stage-2 generator.
#[derive(Module, Debug)]
pub struct PdGan {
    /// Stage 1.
    pub prior: PriorNet,
    /// Stage 2.
    pub generator: Generator,
}

impl PdGan {
    /// Builds both networks of `cfg` from one source (random init or zeros).
    pub fn from_source(src: &mut ParamSource<'_>, cfg: &ModelConfig) -> Result<Self> {
        cfg.validate()?;
        let prior = PriorNet::from_sources_single(src, &cfg.prior)?;
        let generator = Generator::from_source(src, &cfg.generator)?;
        Ok(Self { prior, generator })
    }

    /// A randomly initialised model (the authors' N(0, 0.02) init), seeded.
    pub fn random(cfg: &ModelConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::from_source(&mut ParamSource::random(seed, device), cfg)
    }

    /// Runs the prior: `image ⊙ known` with `known` as its mask.
    ///
    /// # Shapes
    /// `image: [B, 3, R, R]` in [-1, 1], `known: [B, 1, R, R]` (1 = known) → `[B, 3, R, R]`.
    pub fn run_prior(&self, image: Tensor<4>, known: Tensor<4>) -> Tensor<4> {
        let k3 = known.clone().repeat_dim(1, 3);
        self.prior.forward(image * k3.clone(), k3)
    }
}

/// The prior stage 2 is conditioned on, from `source`: the network `net` on `image ⊙ known`, or
/// Telea's fill of the hole (computed on the host, one image at a time).
///
/// # Shapes
/// `image: [B, 3, R, R]` in [-1, 1], `known: [B, 1, R, R]` (1 = known) → `[B, 3, R, R]`.
///
/// # Errors
/// For Telea: [`crate::error::Error::Backend`] when a tensor cannot be read back,
/// [`crate::error::Error::Input`] when an image has no known pixel.
pub fn source_prior(
    source: PriorSource,
    net: &PriorNet,
    image: Tensor<4>,
    known: Tensor<4>,
) -> Result<Tensor<4>> {
    match source {
        PriorSource::Network => {
            let k3 = known.repeat_dim(1, 3);
            Ok(net.forward(image * k3.clone(), k3))
        }
        PriorSource::Telea => {
            let [b, _, h, w] = image.dims();
            let device = image.device();
            let img = tensor_to_vec(image)?;
            let hole: Vec<f32> = tensor_to_vec(known)?.iter().map(|k| 1.0 - k).collect();
            let plane = h * w;
            let mut out = Vec::with_capacity(img.len());
            for i in 0..b {
                out.extend(crate::telea::fill_chw(
                    &img[3 * plane * i..3 * plane * (i + 1)],
                    &hole[plane * i..plane * (i + 1)],
                    w,
                    h,
                    crate::telea::DEFAULT_RADIUS,
                )?);
            }
            Ok(tensor_from_vec(out, [b, 3, h, w], &device))
        }
    }
}

/// Reads a tensor back to the host as row-major f32 values.
pub fn tensor_to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(|e| {
        crate::error::Error::Backend(format!("could not read a tensor back: {e:?}"))
    })?;
    data.try_to_vec::<f32>()
        .map_err(|e| crate::error::Error::Backend(format!("tensor is not f32: {e:?}")))
}

/// Creates a tensor from row-major f32 values.
pub fn tensor_from_vec<const D: usize>(
    data: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// SHA-256 over a model folder's files (`config.json`, `*.bpk`, `*.f16` and other `*.json`,
/// by name): what `recipe.json` records as the model's hash.
///
/// # Errors
/// [`crate::error::Error::Io`] when the folder cannot be listed or a file cannot be read.
pub fn folder_sha256(dir: &std::path::Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| crate::error::Error::io("could not list model folder", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "bpk" || x == "f16" || x == "json")
        })
        .collect();
    names.sort();
    let mut h = Sha256::new();
    for p in names {
        h.update(
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        h.update(crate::imageops::sha256_file(&p)?);
    }
    Ok(format!("{:x}", h.finalize()))
}
