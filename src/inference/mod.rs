//! The user path: a photo of any size and a hole mask in, N diverse filled photos out.
//!
//! 1. A square context box around the hole ([`imageops::context_box`]) is cropped and resized
//!    to the model resolution R (the mask with max-pool semantics, so no hole pixel is lost).
//! 2. The prior runs once on `crop ⊙ known`, and so does everything of the generator that
//!    depends only on the prior and the mask (SPDNorm γ/β, hard maps, prior features): about 44%
//!    of its work at the official sizes, shared by all samples.
//! 3. For each sample, z is drawn on the CPU (identical on every backend) from its
//!    [`ZSpec`]: `ChaCha8(seed)` for a seed, a spherical interpolation between two seeds' z
//!    for an interpolated sample ([`z_for`]); the generator makes a raw R×R fill, composited
//!    with the known crop pixels.
//! 4. The fill is resized back and pasted into the photo: every known pixel stays
//!    byte-identical; the seam is corrected inside the hole only ([`imageops::paste_back`]).
//! 5. Optionally ([`DetailMode::Patch`], [`Session::detail`]) the hole is re-synthesised at
//!    the photo's own resolution from the photo's known pixels, guided by the pasted sample
//!    ([`crate::detail`]): the sample keeps its layout and colours, the photo gives texture.

pub mod worker;

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::detail::{self, DetailMode, DetailParams, Guide};
use crate::error::{Error, Result};
use crate::imageops::{self, ContextBox};
use crate::mask::Mask;
use crate::model::discriminator::Discriminator;
use crate::model::generator::GenCond;
use crate::model::weights::{ModelFile, load_discriminator, load_model_folder};
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
    /// Which z the sample was made from.
    pub spec: ZSpec,
    /// The seed of a plain sample; for an interpolated one, the seed its detail synthesis is
    /// seeded with ([`ZSpec::detail_seed`]).
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

/// Which noise vector z a sample is made from: its identity, recorded in recipes.
///
/// Serialised as `{"seed": 7}` or
/// `{"slerp": {"from": 3, "to": 7, "step": 2, "steps": 5}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZSpec {
    /// z drawn from one seed ([`z_for_seed`]).
    Seed(u64),
    /// The point `step/steps` of the way from `from`'s z to `to`'s z along a spherical
    /// interpolation ([`slerp_z`]). The fraction is kept as two integers so a replay computes
    /// exactly the same z. `step = 0` is `from`'s z and `step = steps` is `to`'s z, bit for
    /// bit.
    Slerp {
        /// The seed at `step = 0`.
        from: u64,
        /// The seed at `step = steps`.
        to: u64,
        /// Position along the path, `0..=steps`.
        step: u32,
        /// Number of intervals of the path (at least 1).
        steps: u32,
    },
}

impl ZSpec {
    /// Checks that an interpolation's fraction is in `[0, 1]` with a non-zero denominator.
    ///
    /// # Errors
    /// [`Error::Input`] naming the bad fraction.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Seed(_) => Ok(()),
            Self::Slerp { step, steps, .. } if steps > 0 && step <= steps => Ok(()),
            Self::Slerp { step, steps, .. } => Err(Error::Input(format!(
                "an interpolated sample needs 0 ≤ step ≤ steps and steps ≥ 1, got step {step} of {steps}"
            ))),
        }
    }

    /// The same z written in its simplest form: an interpolation at either end is that end's
    /// seed (`3..7@0/4` is seed 3), so both forms name one sample, file and detail.
    pub fn normalized(self) -> Self {
        match self {
            Self::Slerp { from, step: 0, .. } => Self::Seed(from),
            Self::Slerp {
                to, step, steps, ..
            } if step == steps => Self::Seed(to),
            other => other,
        }
    }

    /// The seed of the sample's detail synthesis: the seed itself, or for an interpolation the
    /// nearer end's seed (`from` up to and including the midpoint), so neighbouring samples
    /// of a strip share their patch search and the ends equal the plain seeds' samples.
    pub fn detail_seed(&self) -> u64 {
        match self.normalized() {
            Self::Seed(s) => s,
            Self::Slerp {
                from,
                to,
                step,
                steps,
            } => {
                if 2 * u64::from(step) <= u64::from(steps) {
                    from
                } else {
                    to
                }
            }
        }
    }

    /// A short name usable in file names that sorts nowhere in particular:
    /// `seed-7` or `slerp-3-7-2of5`.
    pub fn file_stem(&self) -> String {
        match self.normalized() {
            Self::Seed(s) => format!("seed-{s}"),
            Self::Slerp {
                from,
                to,
                step,
                steps,
            } => format!("slerp-{from}-{to}-{step}of{steps}"),
        }
    }

    /// The `steps + 1` samples from `from` to `to` inclusive (the ends as plain seeds).
    ///
    /// # Errors
    /// [`Error::Input`] when `steps` is 0.
    pub fn between(from: u64, to: u64, steps: u32) -> Result<Vec<Self>> {
        if steps == 0 {
            return Err(Error::Input(
                "an interpolation needs at least one step".into(),
            ));
        }
        Ok((0..=steps)
            .map(|step| {
                Self::Slerp {
                    from,
                    to,
                    step,
                    steps,
                }
                .normalized()
            })
            .collect())
    }
}

impl std::fmt::Display for ZSpec {
    /// `7` for a seed, `3..7@2/5` for an interpolation (the command-line syntax).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Seed(s) => write!(f, "{s}"),
            Self::Slerp {
                from,
                to,
                step,
                steps,
            } => write!(f, "{from}..{to}@{step}/{steps}"),
        }
    }
}

impl std::str::FromStr for ZSpec {
    type Err = Error;

    /// Parses `7` (a seed) or `3..7@2/5` (step 2 of 5 from seed 3 to seed 7).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Input(format!(
                "not a sample: {s:?} (expected a seed such as 7, or FROM..TO@STEP/STEPS such as 3..7@2/5)"
            ))
        };
        let s = s.trim();
        let spec = match s.split_once("..") {
            None => Self::Seed(s.parse().map_err(|_| bad())?),
            Some((from, rest)) => {
                let (to, frac) = rest.split_once('@').ok_or_else(bad)?;
                let (step, steps) = frac.split_once('/').ok_or_else(bad)?;
                Self::Slerp {
                    from: from.parse().map_err(|_| bad())?,
                    to: to.parse().map_err(|_| bad())?,
                    step: step.parse().map_err(|_| bad())?,
                    steps: steps.parse().map_err(|_| bad())?,
                }
            }
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// The noise vector of a sample: [`z_for_seed`] for a seed, [`slerp_z`] between the two
/// seeds' z for an interpolation (its ends exactly the seeds' z).
///
/// # Errors
/// [`Error::Input`] for an invalid interpolation ([`ZSpec::validate`]).
pub fn z_for(spec: &ZSpec, z_dim: usize) -> Result<Vec<f32>> {
    spec.validate()?;
    Ok(match spec.normalized() {
        ZSpec::Seed(s) => z_for_seed(s, z_dim),
        ZSpec::Slerp {
            from,
            to,
            step,
            steps,
        } => slerp_z(
            &z_for_seed(from, z_dim),
            &z_for_seed(to, z_dim),
            f64::from(step) / f64::from(steps),
        ),
    })
}

/// Spherical interpolation of two noise vectors at `t` in [0, 1], in f64: the direction
/// moves along the great circle from `a`'s to `b`'s at constant angular speed and the length
/// goes linearly from `|a|` to `|b|`, so every point has the length of a typical Gaussian z
/// (a straight line would pass through shorter vectors, which the generator rarely saw).
///
/// Nearly parallel directions (angle below 1e-6 rad) fall back to a normalised linear
/// interpolation of the directions; nearly opposite ones (within 1e-6 rad of π, where the
/// great circle is not unique) go through a fixed direction orthogonal to `a`. `t = 0` gives
/// `a` and `t = 1` gives `b` exactly. A zero vector at either end interpolates linearly.
/// Vectors of different lengths use the shorter length.
pub fn slerp_z(a: &[f32], b: &[f32], t: f64) -> Vec<f32> {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    if t <= 0.0 {
        return a.to_vec();
    }
    if t >= 1.0 {
        return b.to_vec();
    }
    let na = a.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    let nb = b.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return a
            .iter()
            .zip(b)
            .map(|(&x, &y)| ((1.0 - t) * f64::from(x) + t * f64::from(y)) as f32)
            .collect();
    }
    let ua: Vec<f64> = a.iter().map(|&v| f64::from(v) / na).collect();
    let mut ub: Vec<f64> = b.iter().map(|&v| f64::from(v) / nb).collect();
    let mut cos = ua.iter().zip(&ub).map(|(x, y)| x * y).sum::<f64>();
    const EPS: f64 = 1e-6;
    let mut angle_scale = 1.0;
    if cos.clamp(-1.0, 1.0).acos() > std::f64::consts::PI - EPS {
        // Opposite directions: go via a unit vector orthogonal to `a` (Gram–Schmidt of the
        // basis vector where `a` is smallest), covering the half-turn in two quarter-turns.
        let k = ua
            .iter()
            .enumerate()
            .min_by(|x, y| x.1.abs().total_cmp(&y.1.abs()))
            .map_or(0, |(i, _)| i);
        let mut o: Vec<f64> = ua.iter().map(|&v| -ua[k] * v).collect();
        o[k] += 1.0;
        let no = o
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        o.iter_mut().for_each(|v| *v /= no);
        ub = o;
        cos = ua.iter().zip(&ub).map(|(x, y)| x * y).sum::<f64>();
        angle_scale = 2.0;
    }
    let omega = cos.clamp(-1.0, 1.0).acos();
    let len = (1.0 - t) * na + t * nb;
    let dir: Vec<f64> = if omega < EPS {
        let mut d: Vec<f64> = ua
            .iter()
            .zip(&ub)
            .map(|(x, y)| (1.0 - t) * x + t * y)
            .collect();
        let nd = d
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        d.iter_mut().for_each(|v| *v /= nd);
        d
    } else {
        // Along the great circle through ua and ub; with `angle_scale` 2 (opposite ends) the
        // path continues past the orthogonal midpoint to −ua = ub.
        let theta = t * omega * angle_scale;
        let s = omega.sin();
        let (wa, wb) = (((omega - theta).sin()) / s, theta.sin() / s);
        ua.iter().zip(&ub).map(|(x, y)| wa * x + wb * y).collect()
    };
    dir.iter().map(|d| (d * len) as f32).collect()
}

/// A loaded model ready to fill holes.
#[derive(Debug)]
pub struct Inpainter {
    model: PdGan,
    file: ModelFile,
    device: Device,
    discriminator: Option<Discriminator>,
}

impl Inpainter {
    /// Wraps a model (without a discriminator; see [`Self::with_discriminator`]).
    pub fn new(model: PdGan, file: ModelFile, device: Device) -> Self {
        Self {
            model,
            file,
            device,
            discriminator: None,
        }
    }

    /// The same inpainter with a discriminator, which scores realism
    /// ([`crate::steer::score::realism`]).
    pub fn with_discriminator(mut self, d: Discriminator) -> Self {
        self.discriminator = Some(d);
        self
    }

    /// Loads a model folder, with its discriminator when `config.json` says it has one
    /// (`has_discriminator`).
    ///
    /// # Errors
    /// As [`load_model_folder`] and [`load_discriminator`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (file, model) = load_model_folder(dir, device)?;
        let disc = if file.has_discriminator {
            Some(load_discriminator(dir, &file.config, device)?)
        } else {
            None
        };
        let inp = Self::new(model, file, device.clone());
        Ok(match disc {
            Some(d) => inp.with_discriminator(d),
            None => inp,
        })
    }

    /// The embedded default model with its discriminator (its realism critic).
    ///
    /// # Errors
    /// As [`crate::model::embedded::load`] and [`crate::model::embedded::load_discriminator`].
    pub fn embedded(device: &Device) -> Result<Self> {
        let (file, model) = crate::model::embedded::load(device)?;
        let disc = crate::model::embedded::load_discriminator(device)?;
        let inp = Self::new(model, file, device.clone());
        Ok(match disc {
            Some(d) => inp.with_discriminator(d),
            None => inp,
        })
    }

    /// The discriminator, when the model has one.
    pub fn discriminator(&self) -> Option<&Discriminator> {
        self.discriminator.as_ref()
    }

    /// The model's `config.json`.
    pub fn model_file(&self) -> &ModelFile {
        &self.file
    }

    /// The same model conditioned on the prior of `source`, whatever its `config.json` says
    /// (the stage-1 weights stay loaded; [`Self::model_file`] reports the source in use).
    pub fn with_prior_source(mut self, source: crate::model::PriorSource) -> Self {
        self.file.config.prior_source = source;
        self
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

    /// Runs the prior on a prepared request (the network or Telea, as the model's configuration
    /// says): `[1, 3, R, R]` in [-1, 1] (raw, not composited).
    pub fn prior(&self, p: &Prepared) -> Result<Tensor<4>> {
        let image = tensor_from_vec(p.image.clone(), [1, 3, p.res, p.res], &self.device);
        crate::model::source_prior(
            self.file.config.prior_source,
            &self.model.prior,
            image,
            self.known_tensor(p, 1),
        )
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
    ///
    /// # Errors
    /// [`Error::Backend`] when a tensor cannot be read back.
    pub fn generate_raw(
        &self,
        p: &Prepared,
        cond: &GenCond,
        seeds: &[u64],
    ) -> Result<Vec<Vec<f32>>> {
        let specs: Vec<ZSpec> = seeds.iter().map(|&s| ZSpec::Seed(s)).collect();
        self.generate_raw_specs(p, cond, &specs)
    }

    /// Raw generator outputs `[3, R, R]` for the samples `specs` (one generator call) under
    /// the conditioning of one request.
    ///
    /// # Errors
    /// [`Error::Input`] for an invalid spec; [`Error::Backend`] when a tensor cannot be read
    /// back.
    pub fn generate_raw_specs(
        &self,
        p: &Prepared,
        cond: &GenCond,
        specs: &[ZSpec],
    ) -> Result<Vec<Vec<f32>>> {
        let b = specs.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let zd = self.file.config.generator.z_dim;
        let mut z = Vec::with_capacity(b * zd);
        for spec in specs {
            z.extend(z_for(spec, zd)?);
        }
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

    /// Raw generator outputs `[3, R, R]` for `specs` (one generator call, not composited).
    ///
    /// # Errors
    /// As [`Inpainter::generate_raw_specs`].
    pub fn raw_fills_for(&self, specs: &[ZSpec]) -> Result<Vec<Vec<f32>>> {
        self.inp
            .generate_raw_specs(&self.prepared, &self.cond, specs)
    }

    /// A raw output of [`Self::raw_fills`] composited and pasted into the photo.
    ///
    /// # Errors
    /// [`Error::Shape`] when `raw` is not `3·R·R` long.
    pub fn finish_raw(&self, seed: u64, raw: &[f32]) -> Result<Sample> {
        self.finish(ZSpec::Seed(seed), raw)
    }

    /// A raw output of [`Self::raw_fills_for`] composited and pasted into the photo.
    ///
    /// # Errors
    /// [`Error::Shape`] when `raw` is not `3·R·R` long.
    pub fn finish_raw_for(&self, spec: ZSpec, raw: &[f32]) -> Result<Sample> {
        self.finish(spec, raw)
    }

    /// The photo this session fills.
    pub fn photo(&self) -> &RgbImage {
        self.photo
    }

    /// The hole mask of this session, at the photo's size.
    pub fn mask(&self) -> &Mask {
        self.mask
    }

    /// The model this session runs.
    pub fn inpainter(&self) -> &Inpainter {
        self.inp
    }

    fn finish(&self, spec: ZSpec, raw: &[f32]) -> Result<Sample> {
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
        Ok(Sample {
            spec,
            seed: spec.detail_seed(),
            photo,
            fill,
        })
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
        let specs: Vec<ZSpec> = seeds.iter().map(|&s| ZSpec::Seed(s)).collect();
        self.samples_for(&specs)
    }

    /// Finished samples for `specs`, in one generator call.
    ///
    /// # Errors
    /// As [`Self::samples`]; [`Error::Input`] for an invalid spec.
    pub fn samples_for(&self, specs: &[ZSpec]) -> Result<Vec<Sample>> {
        let raws = self.raw_fills_for(specs)?;
        specs
            .iter()
            .zip(raws)
            .map(|(&spec, raw)| self.finish(spec, &raw))
            .collect()
    }

    /// One finished sample (a generator call of batch 1; the studio's strip calls this as
    /// each sample of an interpolation is wanted).
    ///
    /// # Errors
    /// As [`Self::samples_for`].
    pub fn sample_for(&self, spec: ZSpec) -> Result<Sample> {
        self.samples_for(&[spec])?
            .pop()
            .ok_or_else(|| Error::Input("the generator returned no sample".into()))
    }

    /// One finished sample and the hard and soft maps every unit used for it (the soft maps
    /// depend on the features, hence on z).
    ///
    /// # Errors
    /// As [`Self::samples`].
    pub fn sample_with_maps(&self, seed: u64) -> Result<(Sample, Vec<UnitMapData>)> {
        self.sample_with_maps_for(ZSpec::Seed(seed))
    }

    /// [`Self::sample_with_maps`] for any sample spec.
    ///
    /// # Errors
    /// As [`Self::samples_for`].
    pub fn sample_with_maps_for(&self, spec: ZSpec) -> Result<(Sample, Vec<UnitMapData>)> {
        let zd = self.inp.file.config.generator.z_dim;
        let z = tensor_from_vec(z_for(&spec, zd)?, [1, zd], &self.inp.device);
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
        Ok((self.finish(spec, &raw)?, data))
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

    fn norm(v: &[f32]) -> f64 {
        v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn slerp_ends_are_the_seeds_z_exactly() {
        let zd = 256;
        let (a, b) = (z_for_seed(3, zd), z_for_seed(7, zd));
        for steps in [1u32, 2, 5, 16] {
            let all = ZSpec::between(3, 7, steps).unwrap();
            assert_eq!(all.len(), steps as usize + 1);
            assert_eq!(all[0], ZSpec::Seed(3));
            assert_eq!(all[steps as usize], ZSpec::Seed(7));
            let raw_start = ZSpec::Slerp {
                from: 3,
                to: 7,
                step: 0,
                steps,
            };
            let raw_end = ZSpec::Slerp {
                from: 3,
                to: 7,
                step: steps,
                steps,
            };
            assert_eq!(z_for(&raw_start, zd).unwrap(), a);
            assert_eq!(z_for(&raw_end, zd).unwrap(), b);
        }
        assert_eq!(slerp_z(&a, &b, 0.0), a);
        assert_eq!(slerp_z(&a, &b, 1.0), b);
    }

    #[test]
    fn slerp_keeps_the_length_of_a_gaussian_z_where_a_line_would_shrink() {
        let zd = 256;
        let (a, b) = (z_for_seed(11, zd), z_for_seed(12, zd));
        let (na, nb) = (norm(&a), norm(&b));
        let mut prev = a.clone();
        for step in 1..8u32 {
            let t = f64::from(step) / 8.0;
            let z = z_for(
                &ZSpec::Slerp {
                    from: 11,
                    to: 12,
                    step,
                    steps: 8,
                },
                zd,
            )
            .unwrap();
            let want = (1.0 - t) * na + t * nb;
            assert!((norm(&z) - want).abs() < 1e-4 * want, "t {t}");
            // A straight line through two near-orthogonal Gaussian vectors is ~30% shorter in
            // the middle; the sphere path is not.
            let line: Vec<f32> = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| ((1.0 - t) * f64::from(x) + t * f64::from(y)) as f32)
                .collect();
            if step == 4 {
                assert!(norm(&line) < 0.8 * want, "{} vs {want}", norm(&line));
            }
            // Constant angular speed: each step turns by the same angle.
            let cos = |u: &[f32], v: &[f32]| {
                u.iter()
                    .zip(v)
                    .map(|(&x, &y)| f64::from(x) * f64::from(y))
                    .sum::<f64>()
                    / (norm(u) * norm(v))
            };
            let total = cos(&a, &b).acos();
            assert!(
                (cos(&prev, &z).acos() - total / 8.0).abs() < 1e-5,
                "step {step}"
            );
            prev = z;
        }
    }

    #[test]
    fn slerp_is_deterministic_and_handles_parallel_and_opposite_vectors() {
        let spec = ZSpec::Slerp {
            from: 1,
            to: 2,
            step: 3,
            steps: 7,
        };
        assert_eq!(z_for(&spec, 64).unwrap(), z_for(&spec, 64).unwrap());
        // The same seed at both ends: every step is that z (to float rounding).
        let a = z_for_seed(5, 64);
        let same = z_for(
            &ZSpec::Slerp {
                from: 5,
                to: 5,
                step: 1,
                steps: 3,
            },
            64,
        )
        .unwrap();
        for (x, y) in same.iter().zip(&a) {
            assert!((x - y).abs() < 1e-5);
        }
        // Opposite vectors: finite, of the same length, orthogonal to both at the midpoint.
        let neg: Vec<f32> = a.iter().map(|v| -v).collect();
        let mid = slerp_z(&a, &neg, 0.5);
        assert!(mid.iter().all(|v| v.is_finite()));
        assert!((norm(&mid) - norm(&a)).abs() < 1e-4 * norm(&a));
        let dot: f64 = mid
            .iter()
            .zip(&a)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        assert!(dot.abs() < 1e-3 * norm(&a).powi(2), "{dot}");
        // Near the end the distance to −a is the chord of the remaining angle (0.001·π).
        let near_end = slerp_z(&a, &neg, 0.999);
        let chord = 2.0 * (0.0005 * std::f64::consts::PI).sin() * norm(&a);
        let dist: f64 = near_end
            .iter()
            .zip(&neg)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            (dist - chord).abs() < 1e-3 * chord + 1e-5,
            "{dist} vs {chord}"
        );
    }

    #[test]
    fn specs_parse_print_validate_and_name() {
        let s: ZSpec = "3..7@2/5".parse().unwrap();
        assert_eq!(
            s,
            ZSpec::Slerp {
                from: 3,
                to: 7,
                step: 2,
                steps: 5
            }
        );
        assert_eq!(s.to_string(), "3..7@2/5");
        assert_eq!("42".parse::<ZSpec>().unwrap(), ZSpec::Seed(42));
        for bad in ["", "x", "3..7", "3..7@6/5", "3..7@0/0", "3..@1/2", "-1"] {
            assert!(bad.parse::<ZSpec>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(s.file_stem(), "slerp-3-7-2of5");
        assert_eq!("3..7@5/5".parse::<ZSpec>().unwrap().file_stem(), "seed-7");
        assert_eq!(s.detail_seed(), 3);
        assert_eq!("3..7@3/5".parse::<ZSpec>().unwrap().detail_seed(), 7);
        let json = serde_json::to_string(&[ZSpec::Seed(4), s]).unwrap();
        assert_eq!(
            json,
            r#"[{"seed":4},{"slerp":{"from":3,"to":7,"step":2,"steps":5}}]"#
        );
        let back: Vec<ZSpec> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![ZSpec::Seed(4), s]);
        assert!(ZSpec::between(1, 2, 0).is_err());
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
