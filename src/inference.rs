//! The user path: a photo of any size and a hole mask in, N diverse filled photos out.
//!
//! 1. A square context box around the hole ([`imageops::context_box`]) is cropped and resized
//!    to the model resolution R (the mask with max-pool semantics, so no hole pixel is lost).
//! 2. The prior runs once on `crop ⊙ known`, and so does everything of the generator that
//!    depends only on the prior and the mask (SPDNorm γ/β, hard maps, prior features): about 44%
//!    of its work at the official sizes, shared by all samples.
//! 3. For each seed, z is drawn on the CPU from `ChaCha8(seed)` (identical on every backend)
//!    and the generator makes a raw R×R fill, composited with the known crop pixels.
//! 4. The fill is resized back and pasted into the photo: every known pixel stays
//!    byte-identical; the seam is corrected inside the hole only ([`imageops::paste_back`]).

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};
use crate::imageops::{self, ContextBox};
use crate::mask::Mask;
use crate::model::generator::GenCond;
use crate::model::weights::{ModelFile, load_model_folder};
use crate::model::{PdGan, tensor_from_vec, tensor_to_vec};

/// How to run an inpainting request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InpaintOptions {
    /// Context on each side of the hole, as a fraction of the hole's longer side.
    pub margin: f32,
    /// Seam correction width in photo pixels (0 = plain replacement).
    pub feather_px: f32,
    /// Samples per generator call.
    pub batch: usize,
}

impl Default for InpaintOptions {
    fn default() -> Self {
        Self {
            margin: 0.5,
            feather_px: 8.0,
            batch: 4,
        }
    }
}

/// A request cropped and resized to the model: everything the networks need.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The context box in photo pixels.
    pub bx: ContextBox,
    /// Model resolution R.
    pub res: usize,
    /// Crop `[3, R, R]` in [-1, 1].
    pub image: Vec<f32>,
    /// Hole map `[R, R]`, 1 = hole.
    pub hole: Vec<f32>,
    /// Fraction of the crop that is hole.
    pub crop_hole_ratio: f32,
}

/// One finished sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The seed z was drawn from.
    pub seed: u64,
    /// The full photo with the hole filled.
    pub photo: RgbImage,
    /// The composited fill at model resolution `[3, R, R]` in [-1, 1].
    pub fill: Vec<f32>,
}

/// The noise vector for `seed`: `z_dim` draws of N(0, 1) from `ChaCha8Rng::seed_from_u64(seed)`.
pub fn z_for_seed(seed: u64, z_dim: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..z_dim)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}

/// A loaded model ready to fill holes.
#[derive(Debug)]
pub struct Inpainter {
    model: PdGan,
    file: ModelFile,
    device: Device,
}

impl Inpainter {
    /// Wraps a model.
    pub fn new(model: PdGan, file: ModelFile, device: Device) -> Self {
        Self {
            model,
            file,
            device,
        }
    }

    /// Loads a model folder.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (file, model) = load_model_folder(dir, device)?;
        Ok(Self::new(model, file, device.clone()))
    }

    /// The model's `config.json`.
    pub fn model_file(&self) -> &ModelFile {
        &self.file
    }

    /// The networks.
    pub fn model(&self) -> &PdGan {
        &self.model
    }

    /// The device the networks run on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Model resolution R.
    pub fn resolution(&self) -> usize {
        self.file.config.resolution()
    }

    /// Crops and resizes a photo and its mask (same size) for the model.
    ///
    /// # Errors
    /// [`Error::Shape`] when the mask is not the photo's size; [`Error::Input`] when the mask
    /// has no hole (nothing to fill) or no known pixel (nothing to fill from).
    pub fn prepare(
        &self,
        photo: &RgbImage,
        mask: &Mask,
        opts: &InpaintOptions,
    ) -> Result<Prepared> {
        let (w, h) = photo.dimensions();
        if (mask.width, mask.height) != (w, h) {
            return Err(Error::Shape(format!(
                "mask is {}×{} but the photo is {w}×{h}",
                mask.width, mask.height
            )));
        }
        let bbox = mask.bbox().ok_or_else(|| {
            Error::Input("the mask has no hole: nothing to fill (white = hole)".into())
        })?;
        if mask.hole_count() == (w as usize) * (h as usize) {
            return Err(Error::Input(
                "the mask covers the whole photo: there is no known pixel to fill from".into(),
            ));
        }
        let res = self.resolution();
        let bx = imageops::context_box(bbox, w, h, res as u32, opts.margin);
        let image = imageops::crop_resize_rgb(photo, &bx, res as u32);
        let hole = imageops::crop_resize_mask(mask.holes(), w, h, &bx, res as u32)?;
        let holes = hole.iter().filter(|&&v| v > 0.5).count();
        if holes == hole.len() {
            return Err(Error::Input(
                "the hole covers the whole context window: there is no known pixel to fill from"
                    .into(),
            ));
        }
        Ok(Prepared {
            bx,
            res,
            image,
            hole,
            crop_hole_ratio: holes as f32 / (res * res) as f32,
        })
    }

    fn known_tensor(&self, p: &Prepared, b: usize) -> Tensor<4> {
        let known: Vec<f32> = (0..b)
            .flat_map(|_| p.hole.iter().map(|v| 1.0 - v))
            .collect();
        tensor_from_vec(known, [b, 1, p.res, p.res], &self.device)
    }

    /// Runs the prior on a prepared request: `[3, R, R]` in [-1, 1] (raw, not composited).
    pub fn prior(&self, p: &Prepared) -> Result<Tensor<4>> {
        let image = tensor_from_vec(p.image.clone(), [1, 3, p.res, p.res], &self.device);
        Ok(self.model.run_prior(image, self.known_tensor(p, 1)))
    }

    /// The generator's z-independent conditioning for a prepared request and its prior
    /// `[1, 3, R, R]`: compute it once, then [`Self::generate_raw`] any number of seeds.
    pub fn condition(&self, p: &Prepared, prior: &Tensor<4>) -> GenCond {
        self.model.generator.condition(
            prior.clone(),
            self.known_tensor(p, 1),
            self.file.config.hard_map.decay(),
        )
    }

    /// Raw generator outputs `[3, R, R]` for `seeds` under the conditioning of one request.
    pub fn generate_raw(
        &self,
        p: &Prepared,
        cond: &GenCond,
        seeds: &[u64],
    ) -> Result<Vec<Vec<f32>>> {
        let b = seeds.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let zd = self.file.config.generator.z_dim;
        let z: Vec<f32> = seeds.iter().flat_map(|&s| z_for_seed(s, zd)).collect();
        let z = tensor_from_vec(z, [b, zd], &self.device);
        let (out, _) = self.model.generator.forward_cond(z, cond, false);
        let flat = tensor_to_vec(out)?;
        let n = 3 * p.res * p.res;
        Ok(flat.chunks(n).map(|c| c.to_vec()).collect())
    }

    /// Composites a raw output with the known crop pixels.
    pub fn composite(&self, p: &Prepared, raw: &[f32]) -> Result<Vec<f32>> {
        imageops::composite_chw(raw, &p.image, &p.hole, 3, p.res, p.res)
    }

    /// Fills the hole once per seed, calling `on_sample` as each sample finishes.
    pub fn run(
        &self,
        photo: &RgbImage,
        mask: &Mask,
        seeds: &[u64],
        opts: &InpaintOptions,
        mut on_sample: impl FnMut(&Sample),
    ) -> Result<(Prepared, Vec<f32>, Vec<Sample>)> {
        let p = self.prepare(photo, mask, opts)?;
        let prior = self.prior(&p)?;
        let prior_vec = tensor_to_vec(prior.clone())?;
        let cond = self.condition(&p, &prior);
        let mut samples = Vec::with_capacity(seeds.len());
        for chunk in seeds.chunks(opts.batch.max(1)) {
            let raws = self.generate_raw(&p, &cond, chunk)?;
            for (&seed, raw) in chunk.iter().zip(raws) {
                let fill = self.composite(&p, &raw)?;
                let photo_out = imageops::paste_back(
                    photo,
                    mask.holes(),
                    &fill,
                    p.res as u32,
                    &p.bx,
                    opts.feather_px,
                )?;
                let s = Sample {
                    seed,
                    photo: photo_out,
                    fill,
                };
                on_sample(&s);
                samples.push(s);
            }
        }
        Ok((p, prior_vec, samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_is_deterministic_and_seed_dependent() {
        assert_eq!(z_for_seed(7, 16), z_for_seed(7, 16));
        assert_ne!(z_for_seed(7, 16), z_for_seed(8, 16));
        let z = z_for_seed(1, 4096);
        let mean = z.iter().sum::<f32>() / z.len() as f32;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / z.len() as f32;
        assert!(
            mean.abs() < 0.1 && (var - 1.0).abs() < 0.1,
            "mean {mean} var {var}"
        );
    }
}
