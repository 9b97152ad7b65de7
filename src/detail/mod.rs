//! Full-resolution detail for generated fills: guided example-based completion.
//!
//! PD-GAN makes each sample at the model's resolution (128² for the default model), and the
//! context box around a real hole is often ten times larger, so a sample scaled up into the
//! photo is a blur next to sharp surroundings. This module re-synthesises the hole at the
//! photo's own resolution from the photo's own known pixels, *guided* by the sample: the
//! sample fixes the low frequencies (what goes where, its colours), the photo supplies the
//! texture. Different seeds give different guides and so stay different after detailing.
//! Without a guide the same code is a plain patch-based completion (the classical
//! Content-Aware-Fill family), which [`synthesize`] also offers as a baseline.
//!
//! # Algorithm (completion by optimisation, coarse to fine)
//!
//! 1. **Work region.** A box around the hole (the hole's bounding box grown by
//!    [`DetailParams::context`] times its longer side, at least
//!    [`DetailParams::min_context_px`]) supplies the source patches.
//! 2. **Guide.** With a guide image (the photo with the raw sample pasted into the hole), both
//!    the sources and the targets get three extra channels: the guide low-passed at the
//!    sample's own scale (area average over blocks of [`Guide::scale`] pixels, then bilinear
//!    upsampling). For known pixels that is the photo as the model saw it, inside the hole it
//!    is the sample; the channels are scaled by `√guide_weight`, so the patch distance is
//!    `Σ‖colour_t − colour_s‖² + guide_weight · Σ‖guide_t − guide_s‖²`: a source patch is
//!    chosen for its texture *and* for agreeing with the sample at the sample's scale.
//! 3. **Pyramid.** Halving until the hole's longer side is at most
//!    [`DetailParams::coarsest_hole_px`]; a coarse pixel is known only if all its children
//!    are. The coarsest hole starts as the guide (or, without one, as a smooth pull–push fill
//!    of the surrounding colours).
//! 4. **Per level**, a few rounds of (a) PatchMatch search of the nearest-neighbour field
//!    ([`nnf`]) for every patch that touches the hole and (b) *voting*: each hole pixel
//!    becomes the average of the overlapping source patches' pixels, weighted by
//!    `exp(−d / 2σ²)` with σ² a low quantile of the patch distances, which favours the
//!    patches that fit (and keeps edges sharp where the sources disagree).
//!    A finer level starts from the coarser field (sources doubled) and votes once before
//!    searching, so texture appears at once.
//! 5. **Seam-free blend.** At the finest level the votes are also taken on the ring of known
//!    pixels around the hole; their difference to the photo is spread smoothly into the hole
//!    (pull–push interpolation, a cheap membrane) and added, fading to nothing
//!    [`DetailParams::seam_px`] pixels inside, so the fill meets the photo without an edge
//!    while a large mismatch does not tint the whole fill.
//!
//! Known pixels are never written: the output equals the photo outside the hole, byte for
//! byte. Every random draw comes from a seeded stream per (seed, level, pass, line), so the
//! same inputs, seed and parameters give the same pixels on any number of threads.
//!
//! References (read, not copied): Barnes et al., *PatchMatch*, SIGGRAPH 2009; Wexler,
//! Shechtman and Irani, *Space-Time Completion of Video*, PAMI 2007; Hertzmann et al., *Image
//! Analogies*, SIGGRAPH 2001 (guidance channels); Gortler et al., *The Lumigraph*, 1996
//! (pull–push).

pub mod level;
pub mod nnf;

use image::{Rgb, RgbImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::mask::Mask;
use level::{COLOUR, Level, distance_to, pull_push, valid_sources};
use nnf::{Nnf, SearchParams};

/// Whether generated samples get full-resolution detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetailMode {
    /// The raw PD-GAN sample, resized into the hole.
    Off,
    /// Guided patch synthesis at the photo's resolution (this module).
    #[default]
    Patch,
}

impl DetailMode {
    /// The name used on the command line and in recipes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Patch => "patch",
        }
    }
}

/// Settings of the synthesis. The defaults are the ones measured in `docs/detail.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetailParams {
    /// Patch radius: patches are `(2r+1)²` pixels.
    pub patch_radius: usize,
    /// Weight of the guide channels in the patch distance (ignored without a guide).
    pub guide_weight: f32,
    /// The pyramid stops halving once the hole's longer side is at most this many pixels.
    pub coarsest_hole_px: usize,
    /// Source region around the hole, as a fraction of the hole's longer side per side.
    pub context: f32,
    /// Smallest source margin around the hole in pixels.
    pub min_context_px: usize,
    /// Search-and-vote rounds at the coarsest level.
    pub coarse_rounds: usize,
    /// Search-and-vote rounds at each finer level except the finest.
    pub mid_rounds: usize,
    /// Search-and-vote rounds at the finest (photo) level.
    pub fine_rounds: usize,
    /// Voting weights are `exp(−d / 2σ²)` with σ² this quantile of the level's patch
    /// distances: lower favours the best-fitting patches more (sharper, less averaged).
    pub vote_quantile: f32,
    /// Width in photo pixels over which the seam correction fades into the hole.
    pub seam_px: f32,
    /// Largest random-search radius at levels finer than the coarsest, in that level's
    /// pixels (the coarsest searches the whole region).
    pub fine_radius: usize,
}

impl Default for DetailParams {
    fn default() -> Self {
        Self {
            patch_radius: 3,
            guide_weight: 0.1,
            coarsest_hole_px: 16,
            context: 0.75,
            min_context_px: 64,
            coarse_rounds: 6,
            mid_rounds: 3,
            fine_rounds: 1,
            fine_radius: 16,
            seam_px: 16.0,
            vote_quantile: 0.03,
        }
    }
}

/// The low-frequency guide of a synthesis.
#[derive(Debug, Clone, Copy)]
pub struct Guide<'a> {
    /// Photo-sized: the photo with the raw sample pasted into the hole.
    pub image: &'a RgbImage,
    /// Photo pixels per sample pixel (the context box side over the model resolution); the
    /// guide is low-passed over blocks of this many pixels (at least 2).
    pub scale: f32,
}

/// The region of the photo a synthesis works on (photo pixels, exclusive ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl Region {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        (self.x1 - self.x0) as usize
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        (self.y1 - self.y0) as usize
    }
}

/// The source region for a hole box `(x0, y0, x1, y1)` in a `w×h` photo.
pub fn work_region(hole_bbox: (u32, u32, u32, u32), w: u32, h: u32, p: &DetailParams) -> Region {
    let (x0, y0, x1, y1) = hole_bbox;
    let side = (x1 - x0).max(y1 - y0) as f32;
    let ctx = if p.context.is_finite() {
        p.context.max(0.0)
    } else {
        0.0
    };
    let m = ((side * ctx).ceil() as u64)
        .max(p.min_context_px as u64)
        .min(u64::from(u32::MAX)) as u32;
    Region {
        x0: x0.saturating_sub(m),
        y0: y0.saturating_sub(m),
        x1: x1.saturating_add(m).min(w),
        y1: y1.saturating_add(m).min(h),
    }
}

/// Fills the hole of `photo` (where `mask` is a hole) by patch synthesis at full resolution,
/// guided by `guide` when given; see the module docs.
///
/// `progress` is called with the fraction done (0–1) between rounds; returning `false`
/// cancels ([`Error::Cancelled`]).
///
/// # Errors
/// [`Error::Shape`] when the mask or guide is not the photo's size or the parameters are
/// unusable; [`Error::Input`] when there is no hole, the photo is smaller than a patch, or no
/// fully known patch exists near the hole to copy texture from; [`Error::Cancelled`].
pub fn synthesize(
    photo: &RgbImage,
    mask: &Mask,
    guide: Option<Guide<'_>>,
    params: &DetailParams,
    seed: u64,
    progress: &mut dyn FnMut(f32) -> bool,
) -> Result<RgbImage> {
    let (w, h) = photo.dimensions();
    if (mask.width, mask.height) != (w, h) {
        return Err(Error::Shape(format!(
            "detail: the mask is {}×{} but the photo is {w}×{h}",
            mask.width, mask.height
        )));
    }
    if let Some(g) = &guide {
        if g.image.dimensions() != (w, h) {
            let (gw, gh) = g.image.dimensions();
            return Err(Error::Shape(format!(
                "detail: the guide is {gw}×{gh} but the photo is {w}×{h}"
            )));
        }
        if !(g.scale.is_finite() && g.scale > 0.0) {
            return Err(Error::Shape(format!(
                "detail: guide scale must be positive, got {}",
                g.scale
            )));
        }
    }
    let r = params.patch_radius;
    if r == 0 || r > 16 {
        return Err(Error::Shape(format!(
            "detail: patch radius must be 1–16, got {r}"
        )));
    }
    let bbox = mask.bbox().ok_or_else(|| {
        Error::Input("the mask has no hole: nothing to fill (white = hole)".into())
    })?;
    let side = 2 * r + 1;
    if (w as usize) < side || (h as usize) < side {
        return Err(Error::Input(format!(
            "the photo ({w}×{h}) is smaller than one {side}×{side} patch: detail synthesis needs a larger photo"
        )));
    }
    let region = work_region(bbox, w, h, params);
    let whole = Region {
        x0: 0,
        y0: 0,
        x1: w,
        y1: h,
    };
    // A region with no fully known patch (a thin photo, a hole that leaves little around it)
    // falls back to the whole photo before giving up.
    for reg in [region, whole] {
        if let Some(levels) = build_levels(photo, mask, guide.as_ref(), params, reg) {
            return run_pyramid(photo, reg, levels, guide.is_some(), params, seed, progress);
        }
        if reg == whole {
            break;
        }
    }
    Err(no_source_error(side))
}

/// The pyramid over `region`, finest first; `None` when the region holds no fully known patch.
fn build_levels(
    photo: &RgbImage,
    mask: &Mask,
    guide: Option<&Guide<'_>>,
    params: &DetailParams,
    region: Region,
) -> Option<Vec<Level>> {
    let r = params.patch_radius;
    let side = 2 * r + 1;
    let fine = region_level(photo, mask, guide, params.guide_weight, region);
    if fine.w < side || fine.h < side || valid_sources(&fine, r).1 == 0 {
        return None;
    }
    let mut levels = vec![fine];
    while let Some(last) = levels.last() {
        let Some((x0, y0, x1, y1)) = last.hole_bbox() else {
            break;
        };
        if (x1 - x0).max(y1 - y0) <= params.coarsest_hole_px.max(1) {
            break;
        }
        let next = last.downsample();
        if next.w < 4 * side || next.h < 4 * side || valid_sources(&next, r).1 < 64 {
            break;
        }
        levels.push(next);
    }
    Some(levels)
}

fn no_source_error(side: usize) -> Error {
    Error::Input(format!(
        "too few known pixels to copy texture from: detail synthesis needs at least one fully \
         known {side}×{side} patch in the photo; use the raw samples (detail off) for this mask"
    ))
}

/// The finest level over `region`: colour in [0, 1] (hole pixels from the guide, or 0), and
/// with a guide three low-passed guide channels scaled by √weight.
fn region_level(
    photo: &RgbImage,
    mask: &Mask,
    guide: Option<&Guide<'_>>,
    guide_weight: f32,
    region: Region,
) -> Level {
    let (rw, rh) = (region.width(), region.height());
    let c = if guide.is_some() { 2 * COLOUR } else { COLOUR };
    let mut px = vec![0.0f32; rw * rh * c];
    let mut known = vec![true; rw * rh];
    let holes = mask.holes();
    let pw = photo.width() as usize;
    for y in 0..rh {
        for x in 0..rw {
            let (gx, gy) = (region.x0 as usize + x, region.y0 as usize + y);
            let hole = holes[gy * pw + gx] != 0;
            known[y * rw + x] = !hole;
            let src = match (hole, guide) {
                (false, _) => Some(photo.get_pixel(gx as u32, gy as u32)),
                (true, Some(g)) => Some(g.image.get_pixel(gx as u32, gy as u32)),
                (true, None) => None,
            };
            if let Some(p) = src {
                let o = (y * rw + x) * c;
                for k in 0..COLOUR {
                    px[o + k] = f32::from(p[k]) / 255.0;
                }
            }
        }
    }
    if let Some(g) = guide {
        let mut img = vec![0.0f32; rw * rh * COLOUR];
        for y in 0..rh {
            for x in 0..rw {
                let p = g
                    .image
                    .get_pixel(region.x0 + x as u32, region.y0 + y as u32);
                for k in 0..COLOUR {
                    img[(y * rw + x) * COLOUR + k] = f32::from(p[k]) / 255.0;
                }
            }
        }
        let k = (g.scale.round() as usize).max(2);
        let low = lowpass(&img, rw, rh, k);
        let s = guide_weight.max(0.0).sqrt();
        for i in 0..rw * rh {
            for ch in 0..COLOUR {
                px[i * c + COLOUR + ch] = low[i * COLOUR + ch] * s;
            }
        }
    }
    Level {
        w: rw,
        h: rh,
        c,
        px,
        known,
    }
}

/// Interleaved RGB low-passed at scale `k`: mean over `k×k` blocks, then bilinear upsampling.
pub fn lowpass(img: &[f32], w: usize, h: usize, k: usize) -> Vec<f32> {
    let k = k.max(1);
    let (bw, bh) = (w.div_ceil(k), h.div_ceil(k));
    let mut blocks = vec![0.0f32; bw * bh * COLOUR];
    let mut counts = vec![0.0f32; bw * bh];
    for y in 0..h {
        for x in 0..w {
            let b = (y / k) * bw + x / k;
            counts[b] += 1.0;
            for c in 0..COLOUR {
                blocks[b * COLOUR + c] += img[(y * w + x) * COLOUR + c];
            }
        }
    }
    for (b, n) in counts.iter().enumerate() {
        for c in 0..COLOUR {
            blocks[b * COLOUR + c] /= n.max(1.0);
        }
    }
    let mut out = vec![0.0f32; w * h * COLOUR];
    out.par_chunks_mut(w * COLOUR)
        .enumerate()
        .for_each(|(y, row)| {
            let fy = ((y as f32 + 0.5) / k as f32 - 0.5).clamp(0.0, (bh - 1) as f32);
            let y0 = fy.floor() as usize;
            let y1 = (y0 + 1).min(bh - 1);
            let ay = fy - y0 as f32;
            for x in 0..w {
                let fx = ((x as f32 + 0.5) / k as f32 - 0.5).clamp(0.0, (bw - 1) as f32);
                let x0 = fx.floor() as usize;
                let x1 = (x0 + 1).min(bw - 1);
                let ax = fx - x0 as f32;
                for c in 0..COLOUR {
                    let b = |xx: usize, yy: usize| blocks[(yy * bw + xx) * COLOUR + c];
                    let top = b(x0, y0) * (1.0 - ax) + b(x1, y0) * ax;
                    let bottom = b(x0, y1) * (1.0 - ax) + b(x1, y1) * ax;
                    row[x * COLOUR + c] = top * (1.0 - ay) + bottom * ay;
                }
            }
        });
    out
}

/// The votes of one level over the box covered by its target patches.
struct Votes {
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
    /// Colour per pixel of the box (meaningful where `has`).
    rgb: Vec<[f32; 3]>,
    has: Vec<bool>,
}

/// Every hole pixel (and, with `ring`, every known pixel next to the hole) as the weighted
/// average of the source pixels the overlapping target patches put there.
fn vote(level: &Level, nnf: &Nnf, quantile: f32, ring: bool) -> Votes {
    let r = nnf.r;
    // Weights exp(−d / 2σ²), σ² = the `quantile` of the distances.
    let mut ds: Vec<f32> = nnf
        .m
        .iter()
        .zip(&nnf.is_target)
        .filter(|(m, t)| **t && m.d.is_finite())
        .map(|(m, _)| m.d)
        .collect();
    let sigma2 = if ds.is_empty() {
        1.0
    } else {
        let q = quantile.clamp(0.0, 1.0);
        let mid = ((ds.len() as f32 * q) as usize).min(ds.len() - 1);
        let (_, m, _) = ds.select_nth_unstable_by(mid, f32::total_cmp);
        m.max(1e-6)
    };
    let wt: Vec<f32> = nnf
        .m
        .iter()
        .zip(&nnf.is_target)
        .map(|(m, &t)| {
            if t && m.d.is_finite() {
                (-(m.d / (2.0 * sigma2)).min(60.0)).exp()
            } else {
                0.0
            }
        })
        .collect();
    let (x0, y0) = (nnf.x0 - r, nnf.y0 - r);
    let (bw, bh) = (nnf.gw + 2 * r, nnf.gh + 2 * r);
    let mut rgb = vec![[0.0f32; 3]; bw * bh];
    let mut has = vec![false; bw * bh];
    let lw = level.w;
    rgb.par_chunks_mut(bw)
        .zip(has.par_chunks_mut(bw))
        .enumerate()
        .for_each(|(by, (row, hrow))| {
            let y = y0 + by;
            for bx in 0..bw {
                let x = x0 + bx;
                let i = y * lw + x;
                let want = !level.known[i]
                    || (ring && {
                        let n = |xx: usize, yy: usize| !level.known[yy * lw + xx];
                        (x > 0 && n(x - 1, y))
                            || (x + 1 < lw && n(x + 1, y))
                            || (y > 0 && n(x, y - 1))
                            || (y + 1 < level.h && n(x, y + 1))
                    });
                if !want {
                    continue;
                }
                let mut acc = [0.0f32; 3];
                let mut sum = 0.0f32;
                let mut plain = [0.0f32; 3];
                let mut count = 0.0f32;
                // Target centres t = p − o for every offset o of the patch.
                for oy in 0..=2 * r {
                    let ty = y as i64 + r as i64 - oy as i64;
                    let gy = ty - nnf.y0 as i64;
                    if gy < 0 || gy as usize >= nnf.gh {
                        continue;
                    }
                    for ox in 0..=2 * r {
                        let tx = x as i64 + r as i64 - ox as i64;
                        let gx = tx - nnf.x0 as i64;
                        if gx < 0 || gx as usize >= nnf.gw {
                            continue;
                        }
                        let g = gy as usize * nnf.gw + gx as usize;
                        if !nnf.is_target[g] || !nnf.m[g].d.is_finite() {
                            continue;
                        }
                        let m = nnf.m[g];
                        let sx = m.sx as usize + ox - r;
                        let sy = m.sy as usize + oy - r;
                        let si = level.at(sx, sy);
                        let wgt = wt[g];
                        for k in 0..3 {
                            let v = level.px[si + k];
                            acc[k] += wgt * v;
                            plain[k] += v;
                        }
                        sum += wgt;
                        count += 1.0;
                    }
                }
                if count > 0.0 {
                    row[bx] = if sum > 1e-30 {
                        acc.map(|a| a / sum)
                    } else {
                        plain.map(|a| a / count)
                    };
                    hrow[bx] = true;
                }
            }
        });
    Votes {
        x0,
        y0,
        w: bw,
        h: bh,
        rgb,
        has,
    }
}

/// Writes the votes of hole pixels into the level's colour channels.
fn apply_votes(level: &mut Level, v: &Votes) {
    for by in 0..v.h {
        for bx in 0..v.w {
            let (x, y) = (v.x0 + bx, v.y0 + by);
            let j = by * v.w + bx;
            if v.has[j] && !level.known[y * level.w + x] {
                let i = level.at(x, y);
                level.px[i..i + 3].copy_from_slice(&v.rgb[j]);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_pyramid(
    photo: &RgbImage,
    region: Region,
    mut levels: Vec<Level>,
    guided: bool,
    params: &DetailParams,
    seed: u64,
    progress: &mut dyn FnMut(f32) -> bool,
) -> Result<RgbImage> {
    let r = params.patch_radius;
    let n = levels.len();
    let rounds = |li: usize| {
        if li + 1 == n {
            params.coarse_rounds.max(1)
        } else if li == 0 {
            params.fine_rounds.max(1)
        } else {
            params.mid_rounds.max(1)
        }
    };
    // Work per level ≈ hole pixels × rounds, for the progress fraction.
    let work: Vec<f64> = levels
        .iter()
        .enumerate()
        .map(|(li, l)| (l.holes() as f64) * rounds(li) as f64)
        .collect();
    let total: f64 = work.iter().sum::<f64>().max(1.0);
    let mut done = 0.0f64;
    // Coarsest start: the guide, or a smooth fill of the known colours.
    {
        let top = &mut levels[n - 1];
        init_coarsest(top, guided, params.guide_weight);
    }
    let mut coarse_nnf: Option<Nnf> = None;
    let mut final_votes = None;
    for li in (0..n).rev() {
        let (lower, upper) = levels.split_at_mut(li + 1);
        let level = &mut lower[li];
        let coarser = upper.first();
        if let Some(c) = coarser {
            level.upsample_holes_from(c);
        }
        let (valid, _) = valid_sources(level, r);
        let sources: Vec<u32> = valid
            .iter()
            .enumerate()
            .filter(|(_, v)| **v)
            .map(|(i, _)| i as u32)
            .collect();
        let Some(mut nnf) = Nnf::targets(level, r) else {
            continue;
        };
        let lseed = [seed, li as u64];
        match &coarse_nnf {
            Some(c) => {
                nnf.init_from_coarse(level, &valid, &sources, c, mix(&lseed, 1));
                let v = vote(level, &nnf, params.vote_quantile, false);
                apply_votes(level, &v);
                nnf.refresh_distances(level);
            }
            None if guided => {
                // Match on the guide alone first: the first estimate of the hole is the
                // blurry guide itself, and matching its colour would pick flat sources.
                nnf.from_channel = COLOUR;
                nnf.init_random(level, &sources, mix(&lseed, 0));
                for round in 0..2u64 {
                    for (by_rows, forward) in [(true, round == 0), (false, round == 0)] {
                        let p = SearchParams {
                            max_radius: level.w.max(level.h),
                            seed: mix(&lseed, 50 + 2 * round + u64::from(by_rows)),
                        };
                        nnf.pass(level, &valid, by_rows, forward, p);
                    }
                }
                let v = vote(level, &nnf, params.vote_quantile, false);
                apply_votes(level, &v);
                nnf.from_channel = 0;
                nnf.refresh_distances(level);
            }
            None => nnf.init_random(level, &sources, mix(&lseed, 0)),
        }
        let max_radius = if coarser.is_none() {
            level.w.max(level.h)
        } else {
            params.fine_radius.max(1)
        };
        let k = rounds(li);
        for round in 0..k {
            for (pi, (by_rows, forward)) in [(true, round % 2 == 0), (false, round % 2 == 0)]
                .into_iter()
                .enumerate()
            {
                let p = SearchParams {
                    max_radius,
                    seed: mix(&lseed, 100 + (round * 2 + pi) as u64),
                };
                nnf.pass(level, &valid, by_rows, forward, p);
            }
            let last = li == 0 && round + 1 == k;
            let v = vote(level, &nnf, params.vote_quantile, last);
            apply_votes(level, &v);
            if last {
                final_votes = Some(v);
            } else {
                nnf.refresh_distances(level);
            }
            done += work[li] / k as f64;
            if !progress((done / total) as f32) {
                return Err(Error::Cancelled);
            }
        }
        coarse_nnf = Some(nnf);
    }
    let fine = &levels[0];
    let mut out = photo.clone();
    let Some(v) = final_votes else {
        return Err(no_source_error(2 * r + 1));
    };
    // Seam: differences photo − vote on the known ring, spread into the hole.
    let mut diff = vec![[0.0f32; 3]; v.w * v.h];
    let mut wt = vec![0.0f32; v.w * v.h];
    for by in 0..v.h {
        for bx in 0..v.w {
            let j = by * v.w + bx;
            let (x, y) = (v.x0 + bx, v.y0 + by);
            if v.has[j] && fine.known[y * fine.w + x] {
                let i = fine.at(x, y);
                for (k, d) in diff[j].iter_mut().enumerate() {
                    *d = fine.px[i + k] - v.rgb[j][k];
                }
                wt[j] = 1.0;
            }
        }
    }
    let any_ring = wt.iter().any(|&a| a > 0.0);
    let membrane = if any_ring {
        pull_push(v.w, v.h, &diff, &wt)
    } else {
        diff
    };
    // The correction fades from full at the hole's edge to nothing `seam_px` inside it, so a
    // large mismatch does not tint the whole fill.
    let depth = distance_to(v.w, v.h, |j| {
        let (x, y) = (v.x0 + j % v.w, v.y0 + j / v.w);
        fine.known[y * fine.w + x]
    });
    let band = params.seam_px.max(1.0);
    for by in 0..v.h {
        for bx in 0..v.w {
            let (x, y) = (v.x0 + bx, v.y0 + by);
            if fine.known[y * fine.w + x] {
                continue;
            }
            let (px, py) = (region.x0 as usize + x, region.y0 as usize + y);
            let i = fine.at(x, y);
            let j = by * v.w + bx;
            let t = (1.0 - (depth[j] - 1.0) / band).clamp(0.0, 1.0);
            let a = t * t * (3.0 - 2.0 * t);
            let val = [0, 1, 2].map(|k| to_byte(fine.px[i + k] + a * membrane[j][k]));
            out.put_pixel(px as u32, py as u32, Rgb(val));
        }
    }
    Ok(out)
}

fn to_byte(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

fn mix(parts: &[u64], extra: u64) -> u64 {
    let mut r = nnf::SplitMix::new(parts);
    r.next_u64() ^ extra.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// The coarsest level's first estimate of the hole.
fn init_coarsest(level: &mut Level, guided: bool, guide_weight: f32) {
    let n = level.w * level.h;
    if guided && guide_weight > 0.0 {
        let s = guide_weight.sqrt();
        for i in 0..n {
            if !level.known[i] {
                let o = i * level.c;
                for k in 0..COLOUR {
                    level.px[o + k] = level.px[o + COLOUR + k] / s;
                }
            }
        }
        return;
    }
    let val: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let o = i * level.c;
            [level.px[o], level.px[o + 1], level.px[o + 2]]
        })
        .collect();
    let wt: Vec<f32> = level
        .known
        .iter()
        .map(|&k| f32::from(u8::from(k)))
        .collect();
    let filled = pull_push(level.w, level.h, &val, &wt);
    for (i, f) in filled.iter().enumerate() {
        if !level.known[i] {
            let o = i * level.c;
            level.px[o..o + 3].copy_from_slice(f);
        }
    }
}

#[cfg(test)]
mod tests;
