//! Evaluation on held-out photos (`pdpaint eval`): quality per hole-ratio bin, SWD, diversity,
//! and two baselines on the same images and masks.
//!
//! [`evaluate`] does, for a loaded model of resolution R:
//!
//! 1. **Crops.** `per_bin` square crops, crop `i` from photo `i mod K` of the folder (sorted by
//!    path), side 50–100 % of the photo's shorter side, position seeded, resized to R×R, no
//!    flip ([`crate::data::CropSampler`]). The same crops are used in every bin, so the bins
//!    differ only by their masks.
//! 2. **Masks.** For each of the six NVIDIA bins ([`crate::masks::NVIDIA_BINS`], 0–10 % …
//!    50–60 %) and each crop, a seeded procedural mask rejection-sampled into the bin
//!    ([`crate::masks::sample_in_bin`]).
//! 3. **Methods.** PD-GAN: the prior once, the z-independent conditioning once, then N samples
//!    (z seeds derived from the master seed, bin and crop), each composited with the known
//!    pixels. Baselines: the stage-1 prior composited with the known pixels, and Telea's
//!    fast-marching inpainting ([`telea`]). Every output is rounded to 8 bits, as a user would
//!    get it, before it is measured.
//! 4. **Measures** ([`metrics`], [`swd`]): hole PSNR, SSIM over the hole's bounding box and
//!    hole L1, for the best of N (chosen per measure) and the mean of N; multi-scale SWD
//!    between filled and real 7×7 neighbourhoods inside the holes; diversity as the mean
//!    pairwise L1 of the samples inside the hole and the mean pairwise distance of their
//!    relu3_1 features in a seeded *random*, ¼-width VGG-16 (kept random so that numbers stay
//!    comparable with earlier reports); and the per-pixel spread of the samples against
//!    distance from the hole edge. How sure each bin's SWD comparison is: a paired bootstrap
//!    over its (image, mask) pairs of PD-GAN's SWD minus each baseline's
//!    ([`swd::SwdSets::bootstrap`]).
//! 5. **VGG distance** ([`vggdist`], when an ImageNet VGG-16 is given): per pair, each output's
//!    distance to the truth's features inside the hole (the truth's features once per pair, the
//!    fills batched); PD-GAN's mean of N and best of N, each baseline's one value; per bin the
//!    means and a paired bootstrap of PD-GAN's minus each baseline's
//!    ([`vggdist::paired_bootstrap`]).
//! 6. **Spectral excess** ([`spectrum`]): per pair, how far each output's log spectral
//!    envelope rises above the truth's (the grid and the speckle, not fidelity); per bin the
//!    means and a paired bootstrap of PD-GAN's mean of N minus each baseline's.
//!
//! The model crop is already R×R, so the [`Prepared`] request is built directly (context box =
//! the whole crop, hole = the mask), with no resampling.
//!
//! Every random choice comes from the master seed, so a run is reproducible; the report
//! ([`report::EvalReport`]) lists every crop, mask and z seed.

pub mod fullres;
pub mod metrics;
pub mod report;
pub mod spectrum;
pub mod swd;
/// Telea's method, the baseline (moved to the crate root; also a prior source).
pub use crate::telea;
pub mod vggdist;

use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{CropSampler, ImageFolder};
use crate::error::{Error, Result};
use crate::imageops::{ContextBox, chw_to_rgb, rgb_to_chw};
use crate::inference::{Inpainter, Prepared};
use crate::mask::Mask;
use crate::masks::{NVIDIA_BINS, sample_in_bin};
use crate::model::vgg::{Vgg, VggConfig, VggKind, VggLayer};
use crate::model::{tensor_from_vec, tensor_to_vec};

use metrics::{BandStats, EDGE_BANDS, Planes};
use report::{
    BandRow, BinReport, DataInfo, EvalReport, ExcessContrastRow, ItemExcess, ItemRecord,
    ItemScores, ItemVgg, METHOD_PDGAN, METHOD_PRIOR, METHOD_TELEA, MethodRow, ModelInfo,
    PhotoMethodRow, PhotoReport, Settings, SwdContrastRow, VggContrastRow,
};
use swd::SwdSets;
use vggdist::{LayerMeans, SampleStat, VggDistance, VggScore, paired_bootstrap};

pub use report::report_paths;

/// Seed of the random VGG-16 behind the feature diversity (fixed, so the numbers of different
/// runs and models are comparable).
pub const FEATURE_VGG_SEED: u64 = 2021;

/// The VGG layer of the feature diversity.
pub const FEATURE_LAYER: VggLayer = VggLayer::Relu3_1;

/// Width divisor of that VGG-16: with random weights a full-width network measures nothing a
/// narrower one does not, and /4 makes it 16× cheaper (at full width it took most of the
/// evaluation time of a small model on the CPU).
pub const FEATURE_VGG_WIDTH_DIV: usize = 4;

/// The per-photo table pools the bins whose lower bound is at least this hole ratio (the
/// large holes, 30-60 %).
pub const PHOTO_TABLE_FROM: f32 = 0.3;

/// Settings of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Samples N per (image, mask).
    pub samples: usize,
    /// (image, mask) pairs per bin.
    pub per_bin: usize,
    /// Master seed.
    pub seed: u64,
    /// Telea neighbourhood radius in pixels.
    pub telea_radius: f32,
    /// Samples per generator call.
    pub batch: usize,
    /// Component masks tried per bin mask before giving up ([`sample_in_bin`]).
    pub mask_tries: usize,
    /// Resamples of the paired bootstrap of PD-GAN's SWD against each baseline per bin
    /// ([`swd::SwdSets::bootstrap`]); 0 leaves it out.
    pub bootstrap: usize,
    /// Indices into [`NVIDIA_BINS`] of the bins that get a grid figure ([`EvalRun::grids`]).
    pub grids: Vec<usize>,
}

/// Items (rows) of a grid figure: a bin's first crops, from different photos.
pub const GRID_ITEMS: usize = 4;
/// PD-GAN samples shown per row of a grid figure (fewer when fewer were made).
pub const GRID_SAMPLES: usize = 4;

/// The result of [`evaluate`]: the report and the grid figures asked for.
#[derive(Debug, Clone)]
pub struct EvalRun {
    /// The report.
    pub report: EvalReport,
    /// `(bin index, figure)`: per bin of [`EvalOptions::grids`], its first [`GRID_ITEMS`]
    /// measured items, one row each: the input (hole grey), the prior, the first
    /// [`GRID_SAMPLES`] PD-GAN samples, Telea, the truth. Exactly the 8-bit composites that
    /// were scored.
    pub grids: Vec<(usize, RgbImage)>,
}

/// The input of a grid row: the crop with its hole painted mid-grey.
fn grid_input(crop: &RgbImage, hole: &[bool]) -> RgbImage {
    let mut img = crop.clone();
    for (p, &h) in img.pixels_mut().zip(hole) {
        if h {
            *p = image::Rgb([128, 128, 128]);
        }
    }
    img
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            samples: 8,
            per_bin: 50,
            seed: 0,
            telea_radius: telea::DEFAULT_RADIUS,
            batch: 4,
            mask_tries: 2000,
            bootstrap: 200,
            grids: Vec::new(),
        }
    }
}

/// Purposes a seed is derived for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Crop = 1,
    Mask = 2,
    Z = 3,
    Swd = 4,
    SwdDirections = 5,
    Bootstrap = 6,
    VggBootstrap = 7,
    ExcessBootstrap = 8,
}

/// One step of SplitMix64 (a strong 64-bit mixer).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seed for `purpose` and indices `a`, `b`, derived from the master seed.
fn derive(seed: u64, purpose: Purpose, a: u64, b: u64) -> u64 {
    splitmix(
        splitmix(splitmix(seed ^ splitmix(purpose as u64)) ^ a)
            ^ b.wrapping_mul(0x2545_F491_4F6C_DD1D),
    )
}

/// A composited model output `[3, R, R]` in [-1, 1], rounded to 8 bits, as planes in [0, 1].
fn quantised(chw: &[f32], res: usize) -> Result<Planes> {
    Ok(Planes::from_rgb(&chw_to_rgb(chw, res as u32, res as u32)?))
}

/// Best and mean of hole PSNR, bounding-box SSIM and hole L1 over `outputs`.
fn score(
    outputs: &[Planes],
    real: &Planes,
    hole: &[bool],
    bbox: (usize, usize, usize, usize),
) -> Result<ItemScores> {
    let n = outputs.len().max(1) as f64;
    let mut s = ItemScores {
        psnr_best: f64::NEG_INFINITY,
        psnr_mean: 0.0,
        ssim_best: f64::NEG_INFINITY,
        ssim_mean: 0.0,
        l1_best: f64::INFINITY,
        l1_mean: 0.0,
    };
    for o in outputs {
        let p = metrics::hole_psnr(o, real, hole)?;
        let q = metrics::ssim_in_box(o, real, bbox)?;
        let l = metrics::hole_l1(o, real, hole)?;
        s.psnr_best = s.psnr_best.max(p);
        s.ssim_best = s.ssim_best.max(q);
        s.l1_best = s.l1_best.min(l);
        s.psnr_mean += p / n;
        s.ssim_mean += q / n;
        s.l1_mean += l / n;
    }
    Ok(s)
}

/// Mean pairwise L1 of the samples' features at positions whose receptive block (the feature
/// map's stride) holds a hole pixel; `None` with fewer than two samples.
fn feature_diversity(
    vgg: &Vgg,
    samples: &[Planes],
    hole: &[bool],
    device: &burn::tensor::Device,
) -> Result<Option<f64>> {
    let n = samples.len();
    let Some(first) = samples.first() else {
        return Ok(None);
    };
    if n < 2 {
        return Ok(None);
    }
    let (h, w) = (first.h, first.w);
    let x: Vec<f32> = samples.iter().flat_map(|s| s.to_unit_range()).collect();
    let x = tensor_from_vec(x, [n, 3, h, w], device);
    let f = vgg
        .features(x, &[FEATURE_LAYER])
        .pop()
        .ok_or_else(|| Error::Shape("the VGG returned no features".into()))?;
    let [_, c, fh, fw] = f.dims();
    let v = tensor_to_vec(f)?;
    if fh == 0 || fw == 0 {
        return Ok(None);
    }
    let (sy, sx) = (h.div_ceil(fh), w.div_ceil(fw));
    let mut at = vec![false; fh * fw];
    for (i, _) in hole.iter().enumerate().filter(|(_, m)| **m) {
        let (y, x) = ((i / w) / sy, (i % w) / sx);
        if y < fh && x < fw {
            at[y * fw + x] = true;
        }
    }
    let positions: Vec<usize> = (0..fh * fw).filter(|&i| at[i]).collect();
    if positions.is_empty() {
        return Ok(None);
    }
    let per = c * fh * fw;
    let plane = fh * fw;
    let mut sum = 0.0f64;
    let mut pairs = 0usize;
    for a in 0..n {
        for b in a + 1..n {
            let (fa, fb) = (&v[a * per..(a + 1) * per], &v[b * per..(b + 1) * per]);
            let mut d = 0.0f64;
            for k in 0..c {
                for &p in &positions {
                    d += f64::from((fa[k * plane + p] - fb[k * plane + p]).abs());
                }
            }
            sum += d / (c * positions.len()) as f64;
            pairs += 1;
        }
    }
    Ok(Some(sum / pairs as f64))
}

/// Mean of `f` over `items` (NaN when empty).
fn mean_of(items: &[ItemScores], f: impl Fn(&ItemScores) -> f64) -> f64 {
    items.iter().map(f).sum::<f64>() / items.len() as f64
}

/// Mean of optional values: `None` when any is `None` or there are none.
fn mean_opt(v: &[Option<f64>]) -> Option<f64> {
    let s: Option<Vec<f64>> = v.iter().copied().collect();
    s.filter(|s| !s.is_empty())
        .map(|s| s.iter().sum::<f64>() / s.len() as f64)
}

fn band_rows(stats: &BandStats) -> Vec<BandRow> {
    (0..EDGE_BANDS.len())
        .map(|k| BandRow {
            band: metrics::band_label(k),
            pixels: stats.pixels[k],
            std: stats.mean_std(k),
            pairwise_l1: stats.mean_pairwise(k),
        })
        .collect()
}

/// Measures `model` on the photos of `data` (see the [module docs](self)), with the VGG
/// distance when `vgg` is given. `progress` is called after every (image, mask) pair with
/// `(done, total, bin label)`.
///
/// # Errors
/// [`Error::Input`] when `samples` or `per_bin` is 0 or no mask fits a bin; errors of the
/// networks, the backend or the photos otherwise.
pub fn evaluate(
    model: &Inpainter,
    model_dir: &Path,
    data: &ImageFolder,
    backend: &str,
    opts: &EvalOptions,
    vgg_distance: Option<&VggDistance>,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<EvalRun> {
    let start = Instant::now();
    if let Some(b) = opts.grids.iter().find(|&&b| b >= NVIDIA_BINS.len()) {
        return Err(Error::Input(format!(
            "grid bin {b}: there are only {} bins",
            NVIDIA_BINS.len()
        )));
    }
    if opts.samples == 0 || opts.per_bin == 0 {
        return Err(Error::Input(format!(
            "--samples and --per-bin must be at least 1 (got {} and {})",
            opts.samples, opts.per_bin
        )));
    }
    if data.images.is_empty() {
        return Err(Error::Input(format!(
            "no photo to evaluate on in {}",
            data.root.display()
        )));
    }
    let res = model.resolution();
    let device = model.device().clone();
    let vgg = Vgg::random(
        VggConfig {
            kind: VggKind::Vgg16,
            width_div: FEATURE_VGG_WIDTH_DIV,
        },
        FEATURE_VGG_SEED,
        &device,
    )?;

    // 1. Crops, shared by every bin.
    let sampler = CropSampler {
        res: res as u32,
        min_scale: 0.5,
        max_scale: 1.0,
        hflip: false,
    };
    let mut crops: Vec<(usize, u64, RgbImage)> = Vec::with_capacity(opts.per_bin);
    for i in 0..opts.per_bin {
        let photo = i % data.images.len();
        let crop_seed = derive(opts.seed, Purpose::Crop, i as u64, 0);
        let chw = sampler.sample(
            &data.images[photo].1,
            &mut ChaCha8Rng::seed_from_u64(crop_seed),
        );
        crops.push((photo, crop_seed, chw_to_rgb(&chw, res as u32, res as u32)?));
    }

    let levels = swd::num_levels(res, res);
    // Per held-out photo, over the large-hole bins: which kind of photo each method wins on.
    let mut photo_sets: Vec<SwdSets> = (0..data.images.len())
        .map(|_| SwdSets::new(3, levels, 3))
        .collect();
    let mut photo_scores: Vec<[Vec<ItemScores>; 3]> =
        (0..data.images.len()).map(|_| Default::default()).collect();
    let total = NVIDIA_BINS.len() * opts.per_bin;
    let mut done = 0;
    let mut bins = Vec::with_capacity(NVIDIA_BINS.len());
    let mut items = Vec::with_capacity(total);
    let mut all_bands = BandStats::default();
    let mut grids = Vec::new();
    for (b, bin) in NVIDIA_BINS.iter().enumerate() {
        let label = bin.label();
        let mut grid_tiles: Vec<(RgbImage, String)> = Vec::new();
        let mut sets = SwdSets::new(3, levels, 3);
        let mut bands = BandStats::default();
        let mut scores: [Vec<ItemScores>; 3] = Default::default();
        let mut div_l1 = Vec::with_capacity(opts.per_bin);
        let mut div_feat = Vec::with_capacity(opts.per_bin);
        let mut vgg_scores: [Vec<VggScore>; 3] = Default::default();
        let mut vgg_layers: [LayerMeans; 3] = Default::default();
        // Spectral excess per pair: PD-GAN's mean over its samples, the baselines' one value.
        let mut excess: [Vec<f64>; 3] = Default::default();
        let mut ratio_sum = 0.0f64;
        for (i, (photo, crop_seed, crop)) in crops.iter().enumerate() {
            let mask_seed = derive(opts.seed, Purpose::Mask, b as u64, i as u64);
            let mask: Mask =
                sample_in_bin(*bin, res as u32, res as u32, mask_seed, opts.mask_tries)?;
            let hole: Vec<bool> = mask.holes().iter().map(|&v| v != 0).collect();
            let bbox = metrics::bool_bbox(&hole, res)
                .ok_or_else(|| Error::Input(format!("the {label} mask has no hole")))?;
            ratio_sum += f64::from(mask.hole_ratio());
            let real = Planes::from_rgb(crop);
            let prepared = Prepared {
                bx: ContextBox {
                    x0: 0,
                    y0: 0,
                    size: res as u32,
                },
                res,
                image: rgb_to_chw(crop),
                hole: mask.hole_f32(),
                crop_hole_ratio: mask.hole_ratio(),
            };

            // The prior (baseline and conditioning) and the samples.
            let prior = model.prior(&prepared)?;
            let prior_raw = tensor_to_vec(prior.clone())?;
            let prior_fill = quantised(&model.composite(&prepared, &prior_raw)?, res)?;
            let cond = model.condition(&prepared, &prior);
            let z_base = derive(opts.seed, Purpose::Z, b as u64, i as u64);
            let z_seeds: Vec<u64> = (0..opts.samples as u64)
                .map(|k| z_base.wrapping_add(k))
                .collect();
            let mut samples = Vec::with_capacity(opts.samples);
            for chunk in z_seeds.chunks(opts.batch.max(1)) {
                for raw in model.generate_raw(&prepared, &cond, chunk)? {
                    samples.push(quantised(&model.composite(&prepared, &raw)?, res)?);
                }
            }
            let telea_fill = Planes::from_rgb(&telea::inpaint(crop, &mask, opts.telea_radius)?);
            if opts.grids.contains(&b) && i < GRID_ITEMS {
                grid_tiles.push((
                    grid_input(crop, &hole),
                    format!("input (hole {:.2})", mask.hole_ratio()),
                ));
                grid_tiles.push((prior_fill.to_rgb()?, "prior".into()));
                for (k, s) in samples.iter().take(GRID_SAMPLES).enumerate() {
                    grid_tiles.push((s.to_rgb()?, format!("sample {}", k + 1)));
                }
                grid_tiles.push((telea_fill.to_rgb()?, "telea".into()));
                grid_tiles.push((crop.clone(), "truth".into()));
            }

            // Quality.
            let s_gan = score(&samples, &real, &hole, bbox)?;
            let s_prior = score(std::slice::from_ref(&prior_fill), &real, &hole, bbox)?;
            let s_telea = score(std::slice::from_ref(&telea_fill), &real, &hole, bbox)?;
            scores[0].push(s_gan);
            scores[1].push(s_prior);
            scores[2].push(s_telea);

            // VGG distance: the truth's features once, the fills batched.
            let item_vgg = match vgg_distance {
                Some(vd) => {
                    let fills = vd.measure_layers(
                        &real,
                        &hole,
                        &[
                            &samples,
                            std::slice::from_ref(&prior_fill),
                            std::slice::from_ref(&telea_fill),
                        ],
                    )?;
                    let mut d: Vec<Vec<f64>> = Vec::with_capacity(3);
                    for (m, per) in fills.iter().enumerate() {
                        let dist: Vec<f64> = per.iter().map(|f| f.distance).collect();
                        let sc = VggScore::of(&dist)
                            .ok_or_else(|| Error::Shape("VGG distance: no output".into()))?;
                        vgg_scores[m].push(sc);
                        vgg_layers[m].add(&LayerMeans::of(per));
                        d.push(dist);
                    }
                    Some(ItemVgg {
                        prior: d[1].first().copied().unwrap_or(f64::NAN),
                        telea: d[2].first().copied().unwrap_or(f64::NAN),
                        pdgan: d.into_iter().next().unwrap_or_default(),
                    })
                }
                None => None,
            };

            // Spectral excess of every output, one batch.
            let ex = spectrum::spectral_excess(
                &[
                    &samples,
                    std::slice::from_ref(&prior_fill),
                    std::slice::from_ref(&telea_fill),
                ],
                &real,
                &device,
            )?;
            let one = |v: &[f64]| v.first().copied().unwrap_or(f64::NAN);
            let item_excess = ItemExcess {
                pdgan: ex[0].clone(),
                prior: one(&ex[1]),
                telea: one(&ex[2]),
            };
            excess[0].push(ex[0].iter().sum::<f64>() / ex[0].len().max(1) as f64);
            excess[1].push(item_excess.prior);
            excess[2].push(item_excess.telea);

            // Diversity.
            let d_l1 = metrics::mean_pairwise_l1(&samples, &hole)?;
            let d_feat = feature_diversity(&vgg, &samples, &hole, &device)?;
            div_l1.push(d_l1);
            div_feat.push(d_feat);
            let dist = metrics::hole_edge_distance(&hole, res, res);
            let mut item_bands = BandStats::default();
            item_bands.add(&samples, &dist)?;
            bands.merge(&item_bands);

            // SWD: the same neighbourhoods inside the hole for every method; PD-GAN's are
            // shared round-robin among its samples.
            let holes = swd::hole_pyramid(&hole, res, res, levels);
            let mut rng =
                ChaCha8Rng::seed_from_u64(derive(opts.seed, Purpose::Swd, b as u64, i as u64));
            let positions: Vec<Vec<(usize, usize)>> = holes
                .iter()
                .map(|(m, h, w)| {
                    swd::patch_positions(Some(m), *h, *w, swd::DESCRIPTORS_PER_IMAGE, &mut rng)
                })
                .collect();
            let real_pyr = swd::laplacian_pyramid(&real, levels);
            let large = bin.lo >= PHOTO_TABLE_FROM - 1e-6;
            for (k, s) in samples.iter().enumerate() {
                let mine: Vec<Vec<(usize, usize)>> = positions
                    .iter()
                    .map(|p| p.iter().copied().skip(k).step_by(samples.len()).collect())
                    .collect();
                let pyr = swd::laplacian_pyramid(s, levels);
                sets.add(0, &real_pyr, &pyr, &mine)?;
                if large {
                    photo_sets[*photo].add(0, &real_pyr, &pyr, &mine)?;
                }
            }
            for (m, fill) in [(1, &prior_fill), (2, &telea_fill)] {
                let pyr = swd::laplacian_pyramid(fill, levels);
                sets.add(m, &real_pyr, &pyr, &positions)?;
                if large {
                    photo_sets[*photo].add(m, &real_pyr, &pyr, &positions)?;
                }
            }
            sets.end_item();
            if large {
                photo_sets[*photo].end_item();
                for (m, sc) in [s_gan, s_prior, s_telea].into_iter().enumerate() {
                    photo_scores[*photo][m].push(sc);
                }
            }

            items.push(ItemRecord {
                bin: label.clone(),
                photo: data.images[*photo].0.clone(),
                crop_seed: *crop_seed,
                mask_seed,
                hole_ratio: f64::from(mask.hole_ratio()),
                z_seeds,
                pdgan: s_gan,
                prior: s_prior,
                telea: s_telea,
                diversity_l1: d_l1,
                diversity_feature: d_feat,
                vgg: item_vgg,
                spectral_excess: Some(item_excess),
            });
            done += 1;
            progress(done, total, &label);
        }
        if !grid_tiles.is_empty() {
            let cols = 4 + opts.samples.min(GRID_SAMPLES);
            grids.push((
                b,
                crate::imageops::contact_sheet(&grid_tiles, cols as u32, res as u32),
            ));
        }
        let contrasts = sets.bootstrap(
            opts.bootstrap,
            derive(opts.seed, Purpose::Bootstrap, b as u64, 0),
        )?;
        let swd = sets.finish(derive(opts.seed, Purpose::SwdDirections, b as u64, 0))?;
        let names = [METHOD_PDGAN, METHOD_PRIOR, METHOD_TELEA];
        // The VGG distance's paired bootstrap: one seed per bin, so every contrast of the bin
        // resamples the same pairs.
        let vgg_seed = derive(opts.seed, Purpose::VggBootstrap, b as u64, 0);
        let mut vgg_vs_baselines = Vec::new();
        for stat in SampleStat::ALL {
            let gan: Vec<f64> = vgg_scores[0].iter().map(|s| stat.of(s)).collect();
            for m in 1..3 {
                let base: Vec<f64> = vgg_scores[m].iter().map(|s| s.mean).collect();
                if let Some(contrast) = paired_bootstrap(&gan, &base, opts.bootstrap, vgg_seed) {
                    vgg_vs_baselines.push(VggContrastRow {
                        baseline: names[m].to_string(),
                        pdgan: stat,
                        contrast,
                    });
                }
            }
        }
        let excess_seed = derive(opts.seed, Purpose::ExcessBootstrap, b as u64, 0);
        let excess_vs_baselines = (1..3)
            .filter_map(|m| {
                paired_bootstrap(&excess[0], &excess[m], opts.bootstrap, excess_seed).map(
                    |contrast| ExcessContrastRow {
                        baseline: names[m].to_string(),
                        contrast,
                    },
                )
            })
            .collect();
        let swd_vs_baselines = contrasts
            .iter()
            .filter_map(|c| {
                Some(SwdContrastRow {
                    baseline: (*names.get(c.method)?).to_string(),
                    difference: swd.first()?.mean - swd.get(c.method)?.mean,
                    low: c.low,
                    high: c.high,
                    pdgan_better: c.better,
                    reps: c.reps,
                })
            })
            .collect();
        let methods = names
            .iter()
            .zip(&scores)
            .zip(swd)
            .enumerate()
            .map(|(m, ((name, sc), swd))| MethodRow {
                method: (*name).to_string(),
                psnr_best: mean_of(sc, |s| s.psnr_best),
                psnr_mean: mean_of(sc, |s| s.psnr_mean),
                ssim_best: mean_of(sc, |s| s.ssim_best),
                ssim_mean: mean_of(sc, |s| s.ssim_mean),
                l1_best: mean_of(sc, |s| s.l1_best),
                l1_mean: mean_of(sc, |s| s.l1_mean),
                swd,
                diversity_l1: if m == 0 { mean_opt(&div_l1) } else { Some(0.0) },
                diversity_feature: if m == 0 {
                    mean_opt(&div_feat)
                } else {
                    Some(0.0)
                },
                vgg: VggScore::average(&vgg_scores[m]),
                spectral_excess: (!excess[m].is_empty())
                    .then(|| excess[m].iter().sum::<f64>() / excess[m].len() as f64),
                vgg_layers: if vgg_scores[m].is_empty() {
                    Vec::new()
                } else {
                    vgg_layers[m].means().to_vec()
                },
            })
            .collect();
        all_bands.merge(&bands);
        bins.push(BinReport {
            bin: label,
            lo: bin.lo,
            hi: bin.hi,
            items: opts.per_bin,
            mean_hole_ratio: ratio_sum / opts.per_bin as f64,
            methods,
            swd_vs_baselines,
            vgg_vs_baselines,
            excess_vs_baselines,
            edge_diversity: band_rows(&bands),
        });
    }

    let mut per_photo = Vec::new();
    for (p, (sets, scores)) in photo_sets.into_iter().zip(&photo_scores).enumerate() {
        if scores[0].is_empty() {
            continue;
        }
        let swd = sets.finish(derive(
            opts.seed,
            Purpose::SwdDirections,
            u64::MAX,
            p as u64,
        ))?;
        let methods = [METHOD_PDGAN, METHOD_PRIOR, METHOD_TELEA]
            .iter()
            .zip(scores)
            .zip(swd)
            .map(|((name, sc), swd)| PhotoMethodRow {
                method: (*name).to_string(),
                psnr_mean: mean_of(sc, |s| s.psnr_mean),
                l1_mean: mean_of(sc, |s| s.l1_mean),
                swd,
            })
            .collect();
        per_photo.push(PhotoReport {
            photo: data.images[p].0.clone(),
            items: scores[0].len(),
            methods,
        });
    }

    let file = model.model_file();
    let mut notes = vec![
        "Masks are procedural (pdpaint masks, mixed kinds, rejection-sampled into the bins), \
         not the NVIDIA irregular mask set."
            .to_string(),
        format!(
            "Crops: crop i comes from photo i mod {} (sorted by path), side 50-100% of its \
             shorter side, resized to {res}²; the same crops in every bin.",
            data.images.len()
        ),
        "No FID: no Inception weights are available offline. The paper's Places2 FIDs \
         (19.98 / 34.84 / 44.24 / 52.68 for the 10-50% bins) are not comparable with anything \
         in this report."
            .to_string(),
        "Baselines give one output: their best and mean coincide and their diversity is 0."
            .to_string(),
    ];
    if opts.samples < 2 {
        notes.push("One sample per image: diversity is not defined (–).".into());
    }
    if file.source.contains("untrained") {
        notes.push(format!(
            "The model is untrained ({}): these numbers only exercise the pipeline.",
            file.source
        ));
    }
    if let Some(vd) = vgg_distance.filter(|v| v.weights().is_random()) {
        notes.push(format!(
            "The VGG distance used {}: not a perceptual measure.",
            vd.vgg().describe()
        ));
    }
    let report = EvalReport {
        pdpaint_version: env!("CARGO_PKG_VERSION").into(),
        model: ModelInfo {
            path: model_dir.to_path_buf(),
            preset: file.config.preset.clone(),
            prior_source: file.config.prior_source,
            resolution: res,
            source: file.source.clone(),
        },
        data: DataInfo {
            path: data.root.clone(),
            photos: data.images.len(),
            skipped: data.skipped.len(),
        },
        backend: backend.to_string(),
        settings: Settings {
            samples: opts.samples,
            per_bin: opts.per_bin,
            seed: opts.seed,
            telea_radius: opts.telea_radius,
            quality: format!(
                "hole PSNR (peak 1, capped at {} dB) and hole L1 on the [0, 1] scale over the \
                 hole pixels of the 8-bit composite; SSIM (11×11 Gaussian window, σ 1.5, edge \
                 replication, mean over RGB) averaged over the hole's bounding box; best of N \
                 chosen per measure independently (max PSNR, max SSIM, min L1), mean of N = the \
                 average of the per-sample values; bin values are means over its images.",
                metrics::PSNR_CAP_DB
            ),
            swd: format!(
                "multi-scale sliced Wasserstein distance ×10³ (Karras et al. 2018): Laplacian \
                 pyramid of {levels} levels down to {}², {p}×{p} neighbourhoods ({} per image \
                 and level, centred inside the hole, the same positions in the real and the \
                 filled crop; PD-GAN's spread over its samples), descriptors normalised per \
                 channel and set, {} seeded random directions; the mean over levels.",
                res >> (levels - 1),
                swd::DESCRIPTORS_PER_IMAGE,
                swd::DIR_REPEATS * swd::DIRS_PER_REPEAT,
                p = swd::PATCH,
            ),
            bootstrap: opts.bootstrap,
            bootstrap_dirs: swd::BOOTSTRAP_DIRS,
            feature_net: format!(
                "mean pairwise L1 of {FEATURE_LAYER} features at the hole positions, {}: a \
                 seeded random network (kept so that it compares with earlier reports), so it \
                 measures structure and texture, not perceptual distance; compare it only \
                 between runs of pdpaint eval.",
                vgg.describe()
            ),
            vgg_distance: vgg_distance.map(VggDistance::settings),
            edge_bands: (0..EDGE_BANDS.len()).map(metrics::band_label).collect(),
        },
        bins,
        edge_diversity_all: band_rows(&all_bands),
        per_photo_from: PHOTO_TABLE_FROM,
        per_photo,
        items,
        notes,
        grids: Vec::new(),
        elapsed_s: start.elapsed().as_secs_f64(),
    };
    Ok(EvalRun { report, grids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_purpose_and_index() {
        let a = derive(1, Purpose::Mask, 0, 0);
        assert_eq!(a, derive(1, Purpose::Mask, 0, 0));
        assert_ne!(a, derive(1, Purpose::Z, 0, 0));
        assert_ne!(a, derive(1, Purpose::Mask, 1, 0));
        assert_ne!(a, derive(1, Purpose::Mask, 0, 1));
        assert_ne!(
            derive(1, Purpose::Mask, 1, 0),
            derive(1, Purpose::Mask, 0, 1)
        );
        assert_ne!(a, derive(2, Purpose::Mask, 0, 0));
    }

    #[test]
    fn optional_means() {
        assert_eq!(mean_opt(&[Some(1.0), Some(3.0)]), Some(2.0));
        assert_eq!(mean_opt(&[Some(1.0), None]), None);
        assert_eq!(mean_opt(&[]), None);
    }
}
