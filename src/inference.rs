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
//! 5. Optionally ([`DetailMode::Patch`], [`Session::detail`]) the hole is re-synthesised at
//!    the photo's own resolution from the photo's known pixels, guided by the pasted sample
//!    ([`crate::detail`]): the sample keeps its layout and colours, the photo gives texture.

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::detail::{self, DetailMode, DetailParams, Guide};
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
    /// Whether samples get full-resolution detail ([`Session::detail`]).
    pub detail: DetailMode,
    /// Settings of the detail synthesis.
    pub detail_params: DetailParams,
}

impl Default for InpaintOptions {
    fn default() -> Self {
        Self {
            margin: 0.5,
            feather_px: 8.0,
            batch: 4,
            detail: DetailMode::default(),
            detail_params: DetailParams::default(),
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
        let session = self.session(photo, mask, opts)?;
        let prior_vec = session.prior_chw()?;
        let mut samples = Vec::with_capacity(seeds.len());
        for chunk in seeds.chunks(opts.batch.max(1)) {
            for s in session.samples(chunk)? {
                on_sample(&s);
                samples.push(s);
            }
        }
        Ok((session.prepared, prior_vec, samples))
    }

    /// Prepares a photo and mask, runs the prior and the generator's z-independent
    /// conditioning once: the returned [`Session`] then makes samples one seed (or one batch)
    /// at a time, so a caller can stop between samples.
    ///
    /// # Errors
    /// As [`Self::prepare`]; [`Error::Backend`] when a tensor cannot be read back.
    pub fn session<'a>(
        &'a self,
        photo: &'a RgbImage,
        mask: &'a Mask,
        opts: &InpaintOptions,
    ) -> Result<Session<'a>> {
        let prepared = self.prepare(photo, mask, opts)?;
        let prior = self.prior(&prepared)?;
        let cond = self.condition(&prepared, &prior);
        Ok(Session {
            inp: self,
            photo,
            mask,
            feather_px: opts.feather_px,
            detail_params: opts.detail_params,
            prepared,
            prior,
            cond,
        })
    }
}

/// The maps one generator unit used for one sample, as plain numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitMapData {
    /// Side of the unit's square grid (`R/64 · 2^k` for unit `k`).
    pub side: usize,
    /// The hard map `[side, side]`, row-major.
    pub hard: Vec<f32>,
    /// The soft map's mean over its channels `[side, side]`, row-major.
    pub soft_mean: Vec<f32>,
}

/// One photo and mask, prepared, with the prior and the generator's conditioning computed
/// once (see [`Inpainter::session`]).
pub struct Session<'a> {
    inp: &'a Inpainter,
    photo: &'a RgbImage,
    mask: &'a Mask,
    feather_px: f32,
    detail_params: DetailParams,
    prepared: Prepared,
    prior: Tensor<4>,
    cond: GenCond,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("bx", &self.prepared.bx)
            .field("res", &self.prepared.res)
            .finish_non_exhaustive()
    }
}

impl Session<'_> {
    /// The prepared request (context box, crop, hole at model resolution).
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The raw prior `[3, R, R]` in [-1, 1].
    ///
    /// # Errors
    /// [`Error::Backend`] when the tensor cannot be read back.
    pub fn prior_chw(&self) -> Result<Vec<f32>> {
        tensor_to_vec(self.prior.clone())
    }

    /// Raw generator outputs `[3, R, R]` for `seeds` (one generator call, not composited).
    ///
    /// # Errors
    /// [`Error::Backend`] when a tensor cannot be read back.
    pub fn raw_fills(&self, seeds: &[u64]) -> Result<Vec<Vec<f32>>> {
        self.inp.generate_raw(&self.prepared, &self.cond, seeds)
    }

    /// A raw output of [`Self::raw_fills`] composited and pasted into the photo.
    ///
    /// # Errors
    /// [`Error::Shape`] when `raw` is not `3·R·R` long.
    pub fn finish_raw(&self, seed: u64, raw: &[f32]) -> Result<Sample> {
        self.finish(seed, raw)
    }

    fn finish(&self, seed: u64, raw: &[f32]) -> Result<Sample> {
        let p = &self.prepared;
        let fill = self.inp.composite(p, raw)?;
        let photo = imageops::paste_back(
            self.photo,
            self.mask.holes(),
            &fill,
            p.res as u32,
            &p.bx,
            self.feather_px,
        )?;
        Ok(Sample { seed, photo, fill })
    }

    /// Photo pixels per model pixel (the context box side over R).
    pub fn scale(&self) -> f32 {
        self.prepared.bx.size as f32 / self.prepared.res as f32
    }

    /// The sample with its hole re-synthesised at the photo's resolution, guided by the raw
    /// sample (see [`detail_sample`]); `progress` as in [`detail::synthesize`].
    ///
    /// # Errors
    /// As [`detail::synthesize`].
    pub fn detail(
        &self,
        sample: &Sample,
        progress: &mut dyn FnMut(f32) -> bool,
    ) -> Result<RgbImage> {
        detail_sample(
            self.photo,
            self.mask,
            &sample.photo,
            self.scale(),
            sample.seed,
            &self.detail_params,
            progress,
        )
    }

    /// Finished samples for `seeds`, in one generator call.
    ///
    /// # Errors
    /// [`Error::Backend`] when a tensor cannot be read back; [`Error::Shape`] from compositing.
    pub fn samples(&self, seeds: &[u64]) -> Result<Vec<Sample>> {
        let raws = self.raw_fills(seeds)?;
        seeds
            .iter()
            .zip(raws)
            .map(|(&seed, raw)| self.finish(seed, &raw))
            .collect()
    }

    /// One finished sample and the hard and soft maps every unit used for it (the soft maps
    /// depend on the features, hence on z).
    ///
    /// # Errors
    /// As [`Self::samples`].
    pub fn sample_with_maps(&self, seed: u64) -> Result<(Sample, Vec<UnitMapData>)> {
        let zd = self.inp.file.config.generator.z_dim;
        let z = tensor_from_vec(z_for_seed(seed, zd), [1, zd], &self.inp.device);
        let (out, maps) = self.inp.model.generator.forward_cond(z, &self.cond, true);
        let raw = tensor_to_vec(out)?;
        let mut data = Vec::with_capacity(maps.len());
        for m in maps {
            let side = m.hard.dims()[2];
            data.push(UnitMapData {
                side,
                hard: tensor_to_vec(m.hard)?,
                soft_mean: tensor_to_vec(m.soft.mean_dim(1))?,
            });
        }
        Ok((self.finish(seed, &raw)?, data))
    }
}

/// Full-resolution detail for one raw sample: `raw` is the photo with the sample pasted into
/// the hole (a [`Sample::photo`]), `scale` the photo pixels per model pixel. The synthesis is
/// seeded with the sample's seed, so a sample always details the same way.
///
/// # Errors
/// As [`detail::synthesize`].
pub fn detail_sample(
    photo: &RgbImage,
    mask: &Mask,
    raw: &RgbImage,
    scale: f32,
    seed: u64,
    params: &DetailParams,
    progress: &mut dyn FnMut(f32) -> bool,
) -> Result<RgbImage> {
    let guide = Guide { image: raw, scale };
    detail::synthesize(photo, mask, Some(guide), params, seed, progress)
}

/// Per-pixel diversity of `fills` (each `[3, R, R]`): the standard deviation across samples,
/// averaged over the three channels, `[R, R]` row-major. Fewer than two samples give zeros.
///
/// # Errors
/// [`Error::Shape`] when a fill is not `3·res·res` long.
pub fn diversity_map(fills: &[&[f32]], res: usize) -> Result<Vec<f32>> {
    let plane = res * res;
    if let Some(bad) = fills.iter().find(|f| f.len() != 3 * plane) {
        return Err(Error::Shape(format!(
            "diversity_map: a fill has {} values, expected 3×{res}×{res}",
            bad.len()
        )));
    }
    let mut out = vec![0.0f32; plane];
    let n = fills.len();
    if n < 2 {
        return Ok(out);
    }
    for c in 0..3 {
        for (i, o) in out.iter_mut().enumerate() {
            let idx = c * plane + i;
            let mean = fills.iter().map(|f| f[idx]).sum::<f32>() / n as f32;
            let var = fills.iter().map(|f| (f[idx] - mean).powi(2)).sum::<f32>() / n as f32;
            *o += var.sqrt() / 3.0;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn diversity_is_the_per_pixel_spread_of_the_fills() {
        // Two 1×1 fills: channel values differ by 2, 0 and 1 → std 1, 0, 0.5 → mean 0.5.
        let a = [1.0f32, 0.5, 0.0];
        let b = [-1.0f32, 0.5, 1.0];
        let d = diversity_map(&[&a, &b], 1).unwrap();
        assert!((d[0] - 0.5).abs() < 1e-6, "{d:?}");
        assert_eq!(diversity_map(&[&a], 1).unwrap(), vec![0.0]);
        assert!(diversity_map(&[&a[..2]], 1).is_err());
    }

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
