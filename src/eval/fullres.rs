//! Evaluation at the photo's own resolution (`pdpaint eval --full-res`): whole held-out photos,
//! object-sized holes, and four ways to fill them, measured inside the hole where a user sees
//! the result.
//!
//! The model-resolution evaluation ([`super::evaluate`]) measures PD-GAN on 128² crops, where
//! its samples are as sharp as the crop. A real photo is larger: the sample is made at 128² and
//! scaled up into the hole, and [`crate::detail`] re-synthesises it at the photo's resolution.
//! This module measures that path honestly:
//!
//! 1. **Photos** ([`load_photos`]): every photo below the folder (recursively, sorted by path);
//!    a photo whose longer side exceeds `max_side` is downscaled to it (Lanczos 3) first, so an
//!    evaluation stays within minutes on a few CPU cores. "Full resolution" means that photo.
//! 2. **Holes** ([`draw_hole`]): per photo, `holes` seeded holes drawn at the photo's scale. A
//!    square *box* with a side of [`BOX_MIN`]–[`BOX_MAX`] of the photo's shorter side is placed
//!    inside the photo (a share [`BORDER_SHARE`] of the boxes touch a photo edge, and their
//!    hole reaches that edge); inside it a free-form shape: a thick brush stroke, a blob (a
//!    wobbly rotated ellipse) or the union of both, rejection-sampled until it covers
//!    [`COVER_MIN`]–[`COVER_MAX`] of the box. One hole per item: an item is (photo, hole).
//! 3. **Methods** ([`METHODS`]): Telea's fast marching ([`super::telea`]); patch-only completion
//!    ([`crate::detail::synthesize`] without a guide, seeded with the item's seed: the classical
//!    Content-Aware-Fill family); raw PD-GAN (N samples made at the model's resolution and
//!    pasted into the photo, [`crate::inference::Sample::photo`]); PD-GAN + detail (each of those
//!    N samples re-synthesised at the photo's resolution, [`crate::inference::Session::detail`]).
//! 4. **Measures**, inside the hole at the photo's resolution, on the 8-bit outputs:
//!    * hole PSNR (best and mean of N for the sampled methods);
//!    * multi-scale SWD ([`super::swd`]) between the method's and the truth's 7×7
//!      neighbourhoods centred inside the hole, on [`SWD_LEVELS`] Laplacian-pyramid levels of a
//!      crop around the hole (level 0 = the photo's own pixels), pooled over all items per
//!      method like the model-resolution evaluation; the sampled methods share the positions
//!      round-robin among their samples;
//!    * sharpness ([`sharpness`]): the mean luminance gradient inside the hole over the truth's
//!      in the same hole (1 = as detailed as the photo, below 1 = blurrier);
//!    * diversity: the mean pairwise L1 inside the hole among the N outputs
//!      ([`super::metrics::mean_pairwise_l1`]);
//!    * wall time per output.
//!
//!    * VGG distance ([`super::vggdist`], when an ImageNet VGG-16 is given): each output's
//!      distance to the truth's features inside the hole, at the photo's resolution, on the
//!      hole's bounding box with [`VGG_MARGIN`] pixels of context on each side (within the SWD
//!      crop; a full-width VGG-16 on the larger SWD crop would cost minutes per item on a
//!      CPU); the truth's features once per item, the outputs batched; mean and best of N per
//!      item.
//!
//!    * spectral excess ([`super::spectrum`]): how far each output's log spectral envelope
//!      rises above the truth's, on the same hole box as the VGG distance (the hole's
//!      bounding box with [`VGG_MARGIN`] pixels of context); a lattice of marks or speckle
//!      raises it, blur does not. Per item the mean over its outputs.
//!
//!    How sure the SWD comparison is: a paired bootstrap over items of PD-GAN + detail's SWD
//!    minus each other method's ([`super::swd::SwdSets::bootstrap`]); the same for the VGG
//!    distance ([`super::vggdist::paired_bootstrap`], mean of N against mean of N, and best of N
//!    against best of N); the same for the spectral excess (mean of N against mean of N).
//! 5. **Figures**: for chosen items, the crop around the hole ([`FIGURE_CROP`] × the box)
//!    from the truth, the hole, every method and three detailed seeds, as a contact sheet.
//!
//! Every random choice derives from the master seed, so a run is reproducible (the timings
//! are not).

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::metrics::{self, Planes};
use super::report::ModelInfo;
use super::spectrum;
use super::swd::{self, SwdResult, SwdSets};
use super::telea;
use super::vggdist::{
    FillDistance, LayerMeans, PairedContrast, SampleStat, VggDistance, VggDistanceSettings,
    VggScore, paired_bootstrap,
};
use crate::data::list_photos;
use crate::detail::{self, DetailParams};
use crate::error::{Error, Result};
use crate::imageops;
use crate::inference::{InpaintOptions, Inpainter};
use crate::mask::Mask;

/// Telea's fast-marching inpainting.
pub const METHOD_TELEA: &str = "telea";
/// Patch-based completion without a guide.
pub const METHOD_PATCH: &str = "patch-only";
/// PD-GAN samples scaled up into the hole.
pub const METHOD_RAW: &str = "pd-gan";
/// PD-GAN samples re-synthesised at the photo's resolution.
pub const METHOD_DETAIL: &str = "pd-gan+detail";
/// The methods, in the order of the report's tables.
pub const METHODS: [&str; 4] = [METHOD_TELEA, METHOD_PATCH, METHOD_RAW, METHOD_DETAIL];

/// Default longer side photos are downscaled to.
pub const DEFAULT_MAX_SIDE: u32 = 1600;
/// Default holes per photo.
pub const DEFAULT_HOLES: usize = 4;
/// Smallest hole box side, as a fraction of the photo's shorter side.
pub const BOX_MIN: f32 = 0.15;
/// Largest hole box side, as a fraction of the photo's shorter side.
pub const BOX_MAX: f32 = 0.35;
/// Smallest share of its box a hole covers.
pub const COVER_MIN: f32 = 0.05;
/// Largest share of its box a hole covers.
pub const COVER_MAX: f32 = 0.40;
/// Share of the boxes placed against a photo edge (their hole then touches that edge).
pub const BORDER_SHARE: f32 = 0.2;
/// Shapes tried per hole before giving up.
pub const HOLE_TRIES: usize = 2000;
/// Photos with a shorter side below this are skipped.
pub const MIN_PHOTO_SIDE: u32 = 64;
/// SWD pyramid levels (photo resolution, ½, ¼, ⅛); fewer when the smallest photo is too
/// small for them.
pub const SWD_LEVELS: usize = 4;
/// The figure's crop side over the hole box's side.
pub const FIGURE_CROP: f32 = 1.6;
/// Side of a figure's tiles in pixels.
pub const FIGURE_TILE: u32 = 256;
/// Detailed seeds shown in a figure.
pub const FIGURE_DETAIL_SEEDS: usize = 3;
/// Context (photo pixels) kept around the hole's bounding box for the VGG distance.
pub const VGG_MARGIN: usize = 32;
/// A hole whose truth has a mean luminance gradient below this has no sharpness ratio (a flat
/// sky would divide by almost nothing).
pub const SHARPNESS_FLOOR: f64 = 1e-3;

// --- Seeds ---------------------------------------------------------------------------------

/// Purposes a seed is derived for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Hole = 11,
    Z = 12,
    Swd = 13,
    SwdDirections = 14,
    Bootstrap = 15,
    VggBootstrap = 16,
    ExcessBootstrap = 17,
}

/// One SplitMix64 step.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The seed for `purpose` of photo `photo`, hole `hole`, from the master seed.
fn derive(seed: u64, purpose: Purpose, photo: u64, hole: u64) -> u64 {
    mix(mix(mix(seed ^ mix(purpose as u64)) ^ photo) ^ hole.wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

// --- Photos --------------------------------------------------------------------------------

/// One held-out photo, at the size it is evaluated at.
#[derive(Debug, Clone)]
pub struct HeldOutPhoto {
    /// Its file.
    pub path: PathBuf,
    /// Its size on disk (width, height).
    pub original: (u32, u32),
    /// The photo evaluated (downscaled when its longer side exceeded the limit).
    pub image: RgbImage,
}

/// The photos of a held-out folder.
#[derive(Debug, Clone)]
pub struct HeldOutPhotos {
    /// The folder.
    pub root: PathBuf,
    /// The longer-side limit they were loaded with.
    pub max_side: u32,
    /// Usable photos, sorted by path.
    pub photos: Vec<HeldOutPhoto>,
    /// Files skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// The size `(w, h)` scaled so the longer side is at most `max_side` (unchanged when it is).
pub fn fit_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let longest = w.max(h);
    if longest <= max_side || longest == 0 {
        return (w, h);
    }
    let f = f64::from(max_side) / f64::from(longest);
    (
        ((f64::from(w) * f).round() as u32).clamp(1, max_side),
        ((f64::from(h) * f).round() as u32).clamp(1, max_side),
    )
}

/// Loads every photo below `root` (jpg, png, webp; recursively, sorted by path), downscaling
/// those whose longer side exceeds `max_side`. Unreadable photos and photos with a shorter side
/// below [`MIN_PHOTO_SIDE`] are skipped with the reason.
///
/// # Errors
/// [`Error::Input`] when `root` is not a folder, `max_side` is below [`MIN_PHOTO_SIDE`], or no
/// usable photo is found; [`Error::Io`] when the folder cannot be listed.
pub fn load_photos(root: &Path, max_side: u32) -> Result<HeldOutPhotos> {
    if !root.is_dir() {
        return Err(Error::Input(format!(
            "data folder not found: {} (--data must be a folder of held-out photos)",
            root.display()
        )));
    }
    if max_side < MIN_PHOTO_SIDE {
        return Err(Error::Input(format!(
            "--max-side must be at least {MIN_PHOTO_SIDE}, got {max_side}"
        )));
    }
    let paths = list_photos(root)?;
    let mut photos = Vec::with_capacity(paths.len());
    let mut skipped = Vec::new();
    for path in paths {
        let img = match imageops::load_image(&path) {
            Ok(img) => img,
            Err(e) => {
                skipped.push((path, e.to_string()));
                continue;
            }
        };
        let (w, h) = img.dimensions();
        let (nw, nh) = fit_size(w, h, max_side);
        if nw.min(nh) < MIN_PHOTO_SIDE {
            skipped.push((
                path,
                format!("{w}×{h} is too small (shorter side below {MIN_PHOTO_SIDE} px)"),
            ));
            continue;
        }
        let image = if (nw, nh) == (w, h) {
            img
        } else {
            image::imageops::resize(&img, nw, nh, FilterType::Lanczos3)
        };
        photos.push(HeldOutPhoto {
            path,
            original: (w, h),
            image,
        });
    }
    if photos.is_empty() {
        return Err(Error::Input(format!(
            "no usable photo (jpg, png, webp, shorter side at least {MIN_PHOTO_SIDE} px; {} \
             skipped) in {}",
            skipped.len(),
            root.display()
        )));
    }
    Ok(HeldOutPhotos {
        root: root.to_path_buf(),
        max_side,
        photos,
        skipped,
    })
}

// --- Holes ---------------------------------------------------------------------------------

/// The kind of a drawn hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoleShape {
    /// A thick brush stroke: a polyline of 3–6 vertices.
    Stroke,
    /// A rotated ellipse with a wobbly outline.
    Blob,
    /// A blob and a stroke.
    Union,
}

impl HoleShape {
    /// The name used in the report (as in the JSON).
    pub fn name(self) -> &'static str {
        match self {
            Self::Stroke => "stroke",
            Self::Blob => "blob",
            Self::Union => "union",
        }
    }
}

/// A square box in photo pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoleBox {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Side.
    pub side: u32,
}

/// A rectangle in photo pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// One hole drawn by [`draw_hole`].
#[derive(Debug, Clone)]
pub struct DrawnHole {
    /// Photo-sized, white = hole.
    pub mask: Mask,
    /// The box the hole was drawn in (inside the photo).
    pub bx: HoleBox,
    /// Its shape.
    pub shape: HoleShape,
    /// Hole pixels over the box's area.
    pub coverage: f32,
    /// Whether a hole pixel lies on the photo's edge.
    pub touches_border: bool,
    /// Shapes drawn until one covered [`COVER_MIN`]–[`COVER_MAX`] of its box.
    pub tries: usize,
}

/// Which edge of the box the shape must reach (the box lies on that photo edge).
#[derive(Debug, Clone, Copy)]
enum Edge {
    Left,
    Top,
    Right,
    Bottom,
}

fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// A point on `edge` of an `s`-sided box, away from the corners.
fn edge_point(edge: Edge, s: f32, rng: &mut impl Rng) -> (f32, f32) {
    let t = uniform(rng, 0.25 * s, 0.75 * s);
    match edge {
        Edge::Left => (0.0, t),
        Edge::Right => (s, t),
        Edge::Top => (t, 0.0),
        Edge::Bottom => (t, s),
    }
}

/// A thick brush stroke of 3–6 vertices inside an `s`-sided box, starting at `start` when
/// given.
fn paint_stroke(local: &mut Mask, s: f32, start: Option<(f32, f32)>, rng: &mut impl Rng) {
    let r = uniform(rng, 0.05, 0.12) * s;
    let (lo, hi) = (r, (s - r).max(r));
    let mut p = start.unwrap_or_else(|| (uniform(rng, lo, hi), uniform(rng, lo, hi)));
    let mut dir = uniform(rng, 0.0, std::f32::consts::TAU);
    let mut pts = vec![p];
    for _ in 0..rng.random_range(2..=5) {
        dir += uniform(rng, -1.2, 1.2);
        let len = uniform(rng, 0.2, 0.5) * s;
        p = (
            (p.0 + len * dir.cos()).clamp(lo, hi),
            (p.1 + len * dir.sin()).clamp(lo, hi),
        );
        pts.push(p);
    }
    local.rasterize_stroke(&pts, r, true);
}

/// A rotated ellipse whose radius wobbles with three low harmonics; returns its centre.
fn paint_blob(local: &mut Mask, s: f32, rng: &mut impl Rng) -> (f32, f32) {
    let c = (uniform(rng, 0.35, 0.65) * s, uniform(rng, 0.35, 0.65) * s);
    let (a, b) = (uniform(rng, 0.15, 0.42) * s, uniform(rng, 0.15, 0.42) * s);
    let th = uniform(rng, 0.0, std::f32::consts::PI);
    let (ct, st) = (th.cos(), th.sin());
    let wobble: Vec<(f32, f32, f32)> = (2..=4)
        .map(|k| {
            (
                k as f32,
                uniform(rng, 0.0, 0.12),
                uniform(rng, 0.0, std::f32::consts::TAU),
            )
        })
        .collect();
    let n = local.width;
    for y in 0..n {
        for x in 0..n {
            let (dx, dy) = (x as f32 + 0.5 - c.0, y as f32 + 0.5 - c.1);
            let u = (dx * ct + dy * st) / a;
            let v = (-dx * st + dy * ct) / b;
            let phi = v.atan2(u);
            let edge: f32 = 1.0
                + wobble
                    .iter()
                    .map(|(k, amp, ph)| amp * (k * phi + ph).cos())
                    .sum::<f32>();
            if (u * u + v * v).sqrt() <= edge {
                local.set_hole(x, y, true);
            }
        }
    }
    c
}

/// Draws the hole for seed `seed` in a `w×h` photo (see the [module docs](self)): a box with a
/// side of [`BOX_MIN`]–[`BOX_MAX`] of the shorter side, inside the photo (a share
/// [`BORDER_SHARE`] against one of its edges, the hole reaching that edge), holding a stroke,
/// a blob or both that covers [`COVER_MIN`]–[`COVER_MAX`] of the box.
///
/// # Errors
/// [`Error::Input`] when the photo's shorter side is below [`MIN_PHOTO_SIDE`] or no shape fits
/// in [`HOLE_TRIES`] tries.
pub fn draw_hole(w: u32, h: u32, seed: u64) -> Result<DrawnHole> {
    let short = w.min(h);
    if short < MIN_PHOTO_SIDE {
        return Err(Error::Input(format!(
            "a {w}×{h} photo is too small for a full-resolution hole (shorter side below \
             {MIN_PHOTO_SIDE} px)"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for tries in 1..=HOLE_TRIES {
        let side =
            ((uniform(&mut rng, BOX_MIN, BOX_MAX) * short as f32).round() as u32).clamp(8, short);
        let mut x0 = rng.random_range(0..=w - side);
        let mut y0 = rng.random_range(0..=h - side);
        let edge = (rng.random::<f32>() < BORDER_SHARE).then(|| match rng.random_range(0..4) {
            0 => Edge::Left,
            1 => Edge::Top,
            2 => Edge::Right,
            _ => Edge::Bottom,
        });
        match edge {
            Some(Edge::Left) => x0 = 0,
            Some(Edge::Right) => x0 = w - side,
            Some(Edge::Top) => y0 = 0,
            Some(Edge::Bottom) => y0 = h - side,
            None => {}
        }
        let s = side as f32;
        let mut local = Mask::new_empty(side, side);
        let shape = match rng.random_range(0..3) {
            0 => HoleShape::Stroke,
            1 => HoleShape::Blob,
            _ => HoleShape::Union,
        };
        match shape {
            HoleShape::Stroke => {
                let start = edge.map(|e| edge_point(e, s, &mut rng));
                paint_stroke(&mut local, s, start, &mut rng);
            }
            HoleShape::Blob | HoleShape::Union => {
                let c = paint_blob(&mut local, s, &mut rng);
                if let Some(e) = edge {
                    // A neck from the blob to the photo edge.
                    let p = edge_point(e, s, &mut rng);
                    let r = uniform(&mut rng, 0.05, 0.1) * s;
                    local.rasterize_stroke(&[c, p], r, true);
                }
                if shape == HoleShape::Union {
                    paint_stroke(&mut local, s, None, &mut rng);
                }
            }
        }
        let coverage = local.hole_count() as f32 / (s * s);
        if !(COVER_MIN..=COVER_MAX).contains(&coverage) {
            continue;
        }
        let mask = Mask::from_hole_fn(w, h, |x, y| {
            x >= x0 && y >= y0 && x < x0 + side && y < y0 + side && local.is_hole(x - x0, y - y0)
        });
        let touches_border = mask
            .bbox()
            .is_some_and(|(a, b, c, d)| a == 0 || b == 0 || c == w || d == h);
        return Ok(DrawnHole {
            mask,
            bx: HoleBox { x0, y0, side },
            shape,
            coverage,
            touches_border,
            tries,
        });
    }
    Err(Error::Input(format!(
        "no hole covering {:.0}–{:.0} % of its box in {HOLE_TRIES} tries (seed {seed})",
        COVER_MIN * 100.0,
        COVER_MAX * 100.0
    )))
}

/// A rectangle of side `side` (each side at most the photo's) centred on the box and shifted
/// to lie inside the `w×h` photo; it holds the whole box when `side` ≥ the box side.
pub fn crop_around(bx: &HoleBox, side: u32, w: u32, h: u32) -> Rect {
    let place = |lo: u32, extent: u32, limit: u32| -> (u32, u32) {
        let e = side.max(extent).min(limit);
        let centre = 2 * u64::from(lo) + u64::from(extent);
        let start = (centre.saturating_sub(u64::from(e)) / 2).min(u64::from(limit - e)) as u32;
        (start, e)
    };
    let (x0, cw) = place(bx.x0, bx.side, w);
    let (y0, ch) = place(bx.y0, bx.side, h);
    Rect {
        x0,
        y0,
        w: cw,
        h: ch,
    }
}

fn crop_rgb(img: &RgbImage, r: &Rect) -> RgbImage {
    image::imageops::crop_imm(img, r.x0, r.y0, r.w, r.h).to_image()
}

fn crop_hole(mask: &Mask, r: &Rect) -> Vec<bool> {
    let mut out = Vec::with_capacity(r.w as usize * r.h as usize);
    for y in r.y0..r.y0 + r.h {
        for x in r.x0..r.x0 + r.w {
            out.push(mask.is_hole(x, y));
        }
    }
    out
}

// --- Sharpness -----------------------------------------------------------------------------

/// Mean absolute luminance gradient inside the hole: the mean of `|L(x+1, y) − L(x, y)|` over
/// horizontal neighbour pairs with both pixels in the hole plus the same for vertical pairs,
/// with `L = 0.299 R + 0.587 G + 0.114 B` on the [0, 1] scale (three-channel images; the mean
/// of the channels otherwise). `None` when the hole has no neighbour pair.
///
/// # Errors
/// [`Error::Shape`] when `hole` is not the image's size.
pub fn gradient_energy(img: &Planes, hole: &[bool]) -> Result<Option<f64>> {
    let (w, h) = (img.w, img.h);
    if hole.len() != w * h {
        return Err(Error::Shape(format!(
            "hole mask has {} pixels, image has {w}×{h}",
            hole.len()
        )));
    }
    let lum: Vec<f32> = if img.c == 3 {
        let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2));
        (0..w * h)
            .map(|i| 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i])
            .collect()
    } else {
        (0..w * h)
            .map(|i| (0..img.c).map(|k| img.plane(k)[i]).sum::<f32>() / img.c.max(1) as f32)
            .collect()
    };
    let (mut sx, mut nx, mut sy, mut ny) = (0.0f64, 0usize, 0.0f64, 0usize);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !hole[i] {
                continue;
            }
            if x + 1 < w && hole[i + 1] {
                sx += f64::from((lum[i + 1] - lum[i]).abs());
                nx += 1;
            }
            if y + 1 < h && hole[i + w] {
                sy += f64::from((lum[i + w] - lum[i]).abs());
                ny += 1;
            }
        }
    }
    if nx == 0 && ny == 0 {
        return Ok(None);
    }
    let part = |s: f64, n: usize| if n > 0 { s / n as f64 } else { 0.0 };
    Ok(Some(part(sx, nx) + part(sy, ny)))
}

/// The sharpness of `out` against the truth in the same hole: `gradient_energy(out) /
/// gradient_energy(truth)` (1 = as detailed as the photo, below 1 = blurrier). `None` when the
/// truth's gradient is below [`SHARPNESS_FLOOR`] (a flat region) or the hole has no neighbour
/// pair.
///
/// # Errors
/// [`Error::Shape`] when the images or the hole differ in size.
pub fn sharpness(out: &Planes, truth: &Planes, hole: &[bool]) -> Result<Option<f64>> {
    if (out.c, out.h, out.w) != (truth.c, truth.h, truth.w) {
        return Err(Error::Shape(format!(
            "images differ in size: {}×{}×{} vs {}×{}×{}",
            out.c, out.h, out.w, truth.c, truth.h, truth.w
        )));
    }
    let Some(t) = gradient_energy(truth, hole)? else {
        return Ok(None);
    };
    if t < SHARPNESS_FLOOR {
        return Ok(None);
    }
    Ok(gradient_energy(out, hole)?.map(|o| o / t))
}

// --- Statistics ----------------------------------------------------------------------------

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn geomean(v: &[f64]) -> Option<f64> {
    let pos: Vec<f64> = v.iter().copied().filter(|x| *x > 0.0).collect();
    (!pos.is_empty() && pos.len() == v.len())
        .then(|| (pos.iter().map(|x| x.ln()).sum::<f64>() / pos.len() as f64).exp())
}

fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some(0.5 * (s[n / 2 - 1] + s[n / 2])),
    }
}

// --- Report --------------------------------------------------------------------------------

/// Settings of [`evaluate_full_res`].
#[derive(Debug, Clone, PartialEq)]
pub struct FullResOptions {
    /// Samples N per item (raw PD-GAN and PD-GAN + detail).
    pub samples: usize,
    /// Holes per photo.
    pub holes: usize,
    /// Master seed.
    pub seed: u64,
    /// Telea neighbourhood radius in pixels.
    pub telea_radius: f32,
    /// Resamples of the paired SWD bootstrap (0 leaves it out).
    pub bootstrap: usize,
    /// Items that get a figure; `None`: each photo's first hole.
    pub figures: Option<Vec<usize>>,
    /// The inpainting settings (context margin, seam, detail parameters; the patch-only
    /// baseline uses the same detail parameters).
    pub inpaint: InpaintOptions,
}

impl Default for FullResOptions {
    fn default() -> Self {
        Self {
            samples: 8,
            holes: DEFAULT_HOLES,
            seed: 0,
            telea_radius: telea::DEFAULT_RADIUS,
            bootstrap: 200,
            figures: None,
            inpaint: InpaintOptions::default(),
        }
    }
}

/// One photo of the evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoInfo {
    /// Its file.
    pub path: PathBuf,
    /// Width and height on disk.
    pub original: [u32; 2],
    /// Width and height evaluated.
    pub evaluated: [u32; 2],
}

/// The held-out photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResData {
    /// The folder.
    pub path: PathBuf,
    /// The longer-side limit.
    pub max_side: u32,
    /// The photos evaluated, in order.
    pub photos: Vec<PhotoInfo>,
    /// Files skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// How the evaluation was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResSettings {
    /// Samples N per item.
    pub samples: usize,
    /// Holes per photo.
    pub holes_per_photo: usize,
    /// Items (photos × holes).
    pub items: usize,
    /// Master seed.
    pub seed: u64,
    /// Telea radius in pixels.
    pub telea_radius: f32,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// SWD pyramid levels.
    pub swd_levels: usize,
    /// The context margin of PD-GAN's box (fraction of the hole's longer side).
    pub margin: f32,
    /// PD-GAN's seam correction width in photo pixels.
    pub feather_px: f32,
    /// The detail and patch-only synthesis settings.
    pub detail: DetailParams,
    /// How holes are drawn.
    pub holes: String,
    /// How quality is measured.
    pub quality: String,
    /// How SWD is measured.
    pub swd: String,
    /// How sharpness is measured.
    pub sharpness: String,
    /// How diversity is measured.
    pub diversity: String,
    /// How time is measured.
    pub timing: String,
    /// How the VGG distance was measured; `None`: it was not (no ImageNet VGG-16 file).
    #[serde(default)]
    pub vgg_distance: Option<VggDistanceSettings>,
    /// How the spectral excess is measured (empty in reports written before it was).
    #[serde(default)]
    pub spectral_excess: String,
}

/// One method's numbers over all items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResMethod {
    /// Method name ([`METHODS`]).
    pub method: String,
    /// Outputs per item (N for the sampled methods, else 1).
    pub outputs_per_item: usize,
    /// Mean over items of the best hole PSNR of the item's outputs (dB).
    pub psnr_best: f64,
    /// Mean over items of the mean hole PSNR of the item's outputs (dB).
    pub psnr_mean: f64,
    /// SWD ×10³ per level and mean, pooled over items.
    pub swd: SwdResult,
    /// Mean over items of the sharpness ratio (per item the mean over its outputs).
    pub sharpness_mean: Option<f64>,
    /// Geometric mean over items of the sharpness ratio.
    pub sharpness_geomean: Option<f64>,
    /// Median over items of the sharpness ratio.
    pub sharpness_median: Option<f64>,
    /// Items with a sharpness ratio (the truth's hole not flat).
    pub sharpness_items: usize,
    /// Mean over items of the mean pairwise hole L1 among the outputs (sampled methods).
    pub diversity_l1: Option<f64>,
    /// Mean wall time per output in ms.
    pub ms_per_output: f64,
    /// VGG distance to the truth inside the hole: means over items of the item's mean and
    /// lowest over its outputs (`None` when not measured).
    #[serde(default)]
    pub vgg: Option<VggScore>,
    /// Its parts per layer ([`super::vggdist::LAYERS`] order): mean over items of the mean
    /// over the outputs (empty when not measured).
    #[serde(default)]
    pub vgg_layers: Vec<Option<f64>>,
    /// Spectral excess over the truth on the hole box: mean over items of the mean over the
    /// outputs (`None` in reports written before it was measured).
    #[serde(default)]
    pub spectral_excess: Option<f64>,
}

/// PD-GAN + detail's VGG distance against another method's under a paired bootstrap over items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResVggContrast {
    /// The other method.
    pub other: String,
    /// Which per-item value of each method is compared (for a method with one output, mean
    /// and best coincide).
    pub stat: SampleStat,
    /// PD-GAN + detail minus the other (negative: detail closer to the truth's features), its
    /// interval, and the share of resamples in which detail's is lower.
    pub contrast: PairedContrast,
}

/// PD-GAN + detail's spectral excess against another method's under a paired bootstrap over
/// items (each item's mean over its outputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResExcessContrast {
    /// The other method.
    pub other: String,
    /// PD-GAN + detail minus the other (negative: detail's fills add less energy the photo
    /// does not have), its interval, and the share of resamples in which detail's is lower.
    pub contrast: PairedContrast,
}

/// PD-GAN + detail's SWD against another method's under the paired bootstrap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResContrast {
    /// The other method.
    pub other: String,
    /// PD-GAN + detail's SWD minus the other's (×10³, mean over levels; negative: detail
    /// closer to the truth's patches).
    pub difference: f64,
    /// 2.5th percentile of the difference over resamples.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
    /// Share of resamples in which PD-GAN + detail's SWD is lower.
    pub detail_better: f64,
    /// Resamples.
    pub reps: usize,
}

/// One method on one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemMethod {
    /// Method name.
    pub method: String,
    /// Best hole PSNR of the outputs (dB).
    pub psnr_best: f64,
    /// Mean hole PSNR of the outputs (dB).
    pub psnr_mean: f64,
    /// Mean sharpness ratio of the outputs.
    pub sharpness: Option<f64>,
    /// Mean pairwise hole L1 among the outputs.
    pub diversity_l1: Option<f64>,
    /// Wall time per output in ms.
    pub ms_per_output: f64,
    /// VGG distance of the outputs: mean and lowest (`None` when not measured).
    #[serde(default)]
    pub vgg: Option<VggScore>,
    /// Spectral excess of each output over the truth on the hole box, in output order
    /// (empty in reports written before it was measured).
    #[serde(default)]
    pub spectral_excess: Vec<f64>,
}

/// One (photo, hole) item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResItem {
    /// Index (photo-major).
    pub index: usize,
    /// The photo.
    pub photo: PathBuf,
    /// Hole number within the photo.
    pub hole: usize,
    /// The seed of the hole and of the patch-only synthesis.
    pub seed: u64,
    /// The box the hole was drawn in.
    pub hole_box: HoleBox,
    /// Its shape.
    pub shape: HoleShape,
    /// Hole pixels.
    pub hole_pixels: usize,
    /// Hole pixels over the box's area.
    pub box_coverage: f32,
    /// Hole pixels over the photo's area.
    pub photo_ratio: f32,
    /// Whether the hole touches the photo's edge.
    pub touches_border: bool,
    /// PD-GAN's context box side in photo pixels over the model resolution.
    pub pdgan_scale: f32,
    /// The crop the measures were taken on.
    pub measured_crop: Rect,
    /// The crop the VGG distance was taken on (`None` when not measured).
    #[serde(default)]
    pub vgg_crop: Option<Rect>,
    /// PD-GAN's z seeds (also the detail seeds).
    pub z_seeds: Vec<u64>,
    /// Per method, in [`METHODS`] order.
    pub methods: Vec<ItemMethod>,
}

/// A figure written beside the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureRecord {
    /// The item shown.
    pub item: usize,
    /// The file name (beside the report).
    pub file: String,
}

/// Everything `pdpaint eval --full-res` measured, as written to `REPORT.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullResReport {
    /// What kind of report this is (`"full-res"`).
    pub kind: String,
    /// pdpaint version that wrote it.
    pub pdpaint_version: String,
    /// The model.
    pub model: ModelInfo,
    /// The photos.
    pub data: FullResData,
    /// The backend the networks ran on.
    pub backend: String,
    /// How the evaluation was made.
    pub settings: FullResSettings,
    /// One row per method, in [`METHODS`] order.
    pub methods: Vec<FullResMethod>,
    /// PD-GAN + detail's mean pairwise L1 over raw PD-GAN's, in percent.
    pub diversity_kept_pct: Option<f64>,
    /// The paired SWD bootstrap of PD-GAN + detail against each other method.
    pub swd_vs_detail: Vec<FullResContrast>,
    /// The paired VGG-distance bootstrap of PD-GAN + detail against each other method (empty
    /// when the distance was not measured or the bootstrap was off).
    #[serde(default)]
    pub vgg_vs_detail: Vec<FullResVggContrast>,
    /// The paired spectral-excess bootstrap of PD-GAN + detail against each other method
    /// (empty when the bootstrap was off, or in reports written before it was measured).
    #[serde(default)]
    pub excess_vs_detail: Vec<FullResExcessContrast>,
    /// Every item.
    pub items: Vec<FullResItem>,
    /// Figures written beside the report (filled in by the writer).
    pub figures: Vec<FigureRecord>,
    /// Caveats.
    pub notes: Vec<String>,
    /// Wall-clock seconds of the whole evaluation.
    pub elapsed_s: f64,
}

/// The result of [`evaluate_full_res`]: the report and the figures (item index, image).
#[derive(Debug, Clone)]
pub struct FullResRun {
    /// The report.
    pub report: FullResReport,
    /// The figures, by item.
    pub figures: Vec<(usize, RgbImage)>,
}

/// Where the figure of item `item` goes for a report at `out` (as for
/// [`super::report_paths`]): `REPORT-fig-<item>.png` beside `REPORT.json`.
pub fn figure_path(out: &Path, item: usize) -> PathBuf {
    let (json, _) = super::report_paths(out);
    let mut s = json.with_extension("").into_os_string();
    s.push(format!("-fig-{item}.png"));
    PathBuf::from(s)
}

// --- Evaluation ----------------------------------------------------------------------------

/// Per-method accumulators over the items.
#[derive(Default)]
struct Acc {
    psnr_best: Vec<f64>,
    psnr_mean: Vec<f64>,
    sharp: Vec<f64>,
    div: Vec<f64>,
    ms: Vec<f64>,
    vgg: Vec<VggScore>,
    vgg_layers: LayerMeans,
    excess: Vec<f64>,
}

/// Best and mean hole PSNR of `outs`.
fn psnr_of(outs: &[Planes], truth: &Planes, hole: &[bool]) -> Result<(f64, f64)> {
    let mut best = f64::NEG_INFINITY;
    let mut sum = 0.0;
    for o in outs {
        let p = metrics::hole_psnr(o, truth, hole)?;
        best = best.max(p);
        sum += p;
    }
    Ok((best, sum / outs.len().max(1) as f64))
}

/// Mean sharpness of `outs` (`None` when the truth's hole is flat).
fn sharp_of(outs: &[Planes], truth: &Planes, hole: &[bool]) -> Result<Option<f64>> {
    let mut v = Vec::with_capacity(outs.len());
    for o in outs {
        match sharpness(o, truth, hole)? {
            Some(s) => v.push(s),
            None => return Ok(None),
        }
    }
    Ok(mean(&v))
}

/// The part of `p` (a `p.w`-wide image) inside `(x0, y0, x1, y1)` (exclusive ends).
fn sub_planes(p: &Planes, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> Result<Planes> {
    let mut data = Vec::with_capacity(p.c * (x1 - x0) * (y1 - y0));
    for k in 0..p.c {
        let plane = p.plane(k);
        for y in y0..y1 {
            data.extend_from_slice(&plane[y * p.w + x0..y * p.w + x1]);
        }
    }
    Planes::new(p.c, y1 - y0, x1 - x0, data)
}

/// The hole's bounding box in the measured crop plus [`VGG_MARGIN`] pixels (clamped to the
/// crop), cut out of the truth, the hole and every output: what the VGG distance and the
/// spectral excess are measured on.
struct HoleBoxCut {
    /// `(x0, y0, x1, y1)` in crop pixels (exclusive ends).
    r: (usize, usize, usize, usize),
    truth: Planes,
    hole: Vec<bool>,
    outs: Vec<Vec<Planes>>,
}

impl HoleBoxCut {
    fn new(truth: &Planes, hole: &[bool], outs: &[&[Planes]]) -> Result<Self> {
        let (x0, y0, x1, y1) = metrics::bool_bbox(hole, truth.w)
            .ok_or_else(|| Error::Input("the hole is empty: nothing to measure".into()))?;
        let r = (
            x0.saturating_sub(VGG_MARGIN),
            y0.saturating_sub(VGG_MARGIN),
            (x1 + VGG_MARGIN).min(truth.w),
            (y1 + VGG_MARGIN).min(truth.h),
        );
        let hole = (r.1..r.3)
            .flat_map(|y| (r.0..r.2).map(move |x| (x, y)))
            .map(|(x, y)| hole[y * truth.w + x])
            .collect();
        let outs = outs
            .iter()
            .map(|o| o.iter().map(|p| sub_planes(p, r)).collect::<Result<_>>())
            .collect::<Result<_>>()?;
        Ok(Self {
            r,
            truth: sub_planes(truth, r)?,
            hole,
            outs,
        })
    }

    /// The outputs, grouped by method.
    fn groups(&self) -> Vec<&[Planes]> {
        self.outs.iter().map(Vec::as_slice).collect()
    }

    /// The box in photo pixels, for a measured crop at `crop`.
    fn rect(&self, crop: &Rect) -> Rect {
        let r = self.r;
        Rect {
            x0: crop.x0 + r.0 as u32,
            y0: crop.y0 + r.1 as u32,
            w: (r.2 - r.0) as u32,
            h: (r.3 - r.1) as u32,
        }
    }
}

/// The [`SwdSets`] method of each [`METHODS`] entry: PD-GAN + detail is method 0, the one the
/// bootstrap contrasts with the others.
const SWD_ORDER: [usize; 4] = [3, 2, 1, 0];

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// The SWD levels of a run: [`SWD_LEVELS`], fewer when the smallest photo's shorter side does
/// not allow them.
fn swd_levels(photos: &HeldOutPhotos) -> usize {
    let short = photos
        .photos
        .iter()
        .map(|p| p.image.width().min(p.image.height()) as usize)
        .min()
        .unwrap_or(0);
    swd::num_levels(short, short).clamp(1, SWD_LEVELS)
}

/// The figure of one item: truth, hole, Telea, patch-only, raw PD-GAN (first seed) and up to
/// [`FIGURE_DETAIL_SEEDS`] detailed seeds, cropped to [`FIGURE_CROP`] × the hole box.
fn figure(tiles: Vec<(RgbImage, String)>, mask: &Mask, crop: &Rect, truth: &RgbImage) -> RgbImage {
    let mut hole = crop_rgb(truth, crop);
    for (x, y, p) in hole.enumerate_pixels_mut() {
        if mask.is_hole(crop.x0 + x, crop.y0 + y) {
            *p = Rgb([255, 255, 255]);
        }
    }
    let mut all = vec![
        (crop_rgb(truth, crop), "truth".to_string()),
        (hole, "hole".to_string()),
    ];
    all.extend(tiles);
    imageops::contact_sheet(&all, 4, FIGURE_TILE)
}

/// Measures the four methods on every (photo, hole) item (see the [module docs](self)), with
/// the VGG distance when `vgg` is given. `progress` is called after every item with `(done,
/// total, a line about it)`.
///
/// # Errors
/// [`Error::Input`] when `samples` or `holes` is 0 or a figure item is out of range; errors
/// of the holes, the networks, the synthesis or the measures otherwise.
pub fn evaluate_full_res(
    model: &Inpainter,
    model_path: &Path,
    photos: &HeldOutPhotos,
    backend: &str,
    opts: &FullResOptions,
    vgg_distance: Option<&VggDistance>,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<FullResRun> {
    let start = Instant::now();
    if opts.samples == 0 || opts.holes == 0 {
        return Err(Error::Input(format!(
            "--samples and --holes must be at least 1 (got {} and {})",
            opts.samples, opts.holes
        )));
    }
    if photos.photos.is_empty() {
        return Err(Error::Input(format!(
            "no photo to evaluate on in {}",
            photos.root.display()
        )));
    }
    let n = opts.samples;
    let total = photos.photos.len() * opts.holes;
    let figure_items: Vec<usize> = match &opts.figures {
        Some(f) => {
            if let Some(bad) = f.iter().find(|&&i| i >= total) {
                return Err(Error::Input(format!(
                    "--figures {bad}: there are only {total} items (0–{})",
                    total - 1
                )));
            }
            f.clone()
        }
        None => (0..photos.photos.len()).map(|p| p * opts.holes).collect(),
    };
    let levels = swd_levels(photos);
    let min_crop = (swd::MIN_RESOLUTION << (levels - 1)) as u32;
    let mut sets = SwdSets::new(4, levels, 3);
    let mut acc: [Acc; 4] = Default::default();
    let mut items = Vec::with_capacity(total);
    let mut figures = Vec::new();
    let params = opts.inpaint.detail_params;

    for (p, ph) in photos.photos.iter().enumerate() {
        let photo = &ph.image;
        let (w, h) = photo.dimensions();
        for k in 0..opts.holes {
            let index = p * opts.holes + k;
            let seed = derive(opts.seed, Purpose::Hole, p as u64, k as u64);
            let hole = draw_hole(w, h, seed)?;
            let mask = &hole.mask;
            let side = hole.bx.side;
            let crop = crop_around(
                &hole.bx,
                ((side as f32 * FIGURE_CROP).ceil() as u32).max(min_crop),
                w,
                h,
            );
            let hole_c = crop_hole(mask, &crop);
            let truth = Planes::from_rgb(&crop_rgb(photo, &crop));
            let want_fig = figure_items.contains(&index);
            let fig_crop = crop_around(&hole.bx, (side as f32 * FIGURE_CROP).ceil() as u32, w, h);
            let mut tiles: Vec<(RgbImage, String)> = Vec::new();

            // Telea.
            let t = Instant::now();
            let telea_out = telea::inpaint(photo, mask, opts.telea_radius)?;
            let telea_ms = ms(t);
            // Patch-only.
            let t = Instant::now();
            let patch_out = detail::synthesize(photo, mask, None, &params, seed, &mut |_| true)?;
            let patch_ms = ms(t);
            // Raw PD-GAN.
            let t = Instant::now();
            let session = model.session(photo, mask, &opts.inpaint)?;
            let z_base = derive(opts.seed, Purpose::Z, p as u64, k as u64);
            let z_seeds: Vec<u64> = (0..n as u64).map(|i| z_base.wrapping_add(i)).collect();
            let samples = session.samples(&z_seeds)?;
            let raw_ms = ms(t) / n as f64;
            let scale = session.scale();
            // PD-GAN + detail.
            let mut raw = Vec::with_capacity(n);
            let mut det = Vec::with_capacity(n);
            let mut det_ms = 0.0;
            if want_fig {
                tiles.push((crop_rgb(&telea_out, &fig_crop), "telea".into()));
                tiles.push((crop_rgb(&patch_out, &fig_crop), "patch-only".into()));
            }
            for (i, s) in samples.iter().enumerate() {
                let t = Instant::now();
                let d = session.detail(s, &mut |_| true)?;
                det_ms += ms(t);
                if want_fig && i == 0 {
                    tiles.push((crop_rgb(&s.photo, &fig_crop), "pd-gan z0".into()));
                }
                if want_fig && i < FIGURE_DETAIL_SEEDS {
                    tiles.push((crop_rgb(&d, &fig_crop), format!("pd-gan+detail z{i}")));
                }
                raw.push(Planes::from_rgb(&crop_rgb(&s.photo, &crop)));
                det.push(Planes::from_rgb(&crop_rgb(&d, &crop)));
            }
            drop(samples);
            drop(session);
            let det_ms = raw_ms + det_ms / n as f64;
            let telea_p = vec![Planes::from_rgb(&crop_rgb(&telea_out, &crop))];
            let patch_p = vec![Planes::from_rgb(&crop_rgb(&patch_out, &crop))];
            if want_fig {
                figures.push((index, figure(tiles, mask, &fig_crop, photo)));
            }

            // Measures, in METHODS order.
            let outs: [&[Planes]; 4] = [&telea_p, &patch_p, &raw, &det];
            let times = [telea_ms, patch_ms, raw_ms, det_ms];
            let cut = HoleBoxCut::new(&truth, &hole_c, &outs)?;
            let vgg_d: Option<Vec<Vec<FillDistance>>> = vgg_distance
                .map(|vd| vd.measure_layers(&cut.truth, &cut.hole, &cut.groups()))
                .transpose()?;
            let vgg_crop = vgg_d.as_ref().map(|_| cut.rect(&crop));
            let excess = spectrum::spectral_excess(&cut.groups(), &cut.truth, model.device())?;
            drop(cut);
            let mut per = Vec::with_capacity(4);
            for (m, o) in outs.iter().enumerate() {
                let fills = vgg_d.as_ref().and_then(|d| d.get(m));
                let vgg = fills
                    .and_then(|d| VggScore::of(&d.iter().map(|f| f.distance).collect::<Vec<_>>()));
                let (best, avg) = psnr_of(o, &truth, &hole_c)?;
                let sh = sharp_of(o, &truth, &hole_c)?;
                let div = metrics::mean_pairwise_l1(o, &hole_c)?;
                let ex = excess.get(m).cloned().unwrap_or_default();
                let a = &mut acc[m];
                a.excess.extend(mean(&ex));
                a.psnr_best.push(best);
                a.psnr_mean.push(avg);
                a.sharp.extend(sh);
                a.div.extend(div);
                a.ms.push(times[m]);
                a.vgg.extend(vgg);
                if let Some(f) = fills {
                    a.vgg_layers.add(&LayerMeans::of(f));
                }
                per.push(ItemMethod {
                    method: METHODS[m].to_string(),
                    psnr_best: best,
                    psnr_mean: avg,
                    sharpness: sh,
                    diversity_l1: div,
                    ms_per_output: times[m],
                    vgg,
                    spectral_excess: ex,
                });
            }

            // SWD: the same hole positions for every method, the sampled methods' shared
            // round-robin among their outputs.
            let holes = swd::hole_pyramid(&hole_c, truth.h, truth.w, levels);
            let mut rng =
                ChaCha8Rng::seed_from_u64(derive(opts.seed, Purpose::Swd, p as u64, k as u64));
            let positions: Vec<Vec<(usize, usize)>> = holes
                .iter()
                .map(|(m, hh, ww)| {
                    swd::patch_positions(Some(m), *hh, *ww, swd::DESCRIPTORS_PER_IMAGE, &mut rng)
                })
                .collect();
            let real_pyr = swd::laplacian_pyramid(&truth, levels);
            // Method 0 first: it adds the real descriptors.
            for m in [3usize, 2, 1, 0] {
                let o = outs[m];
                for (i, img) in o.iter().enumerate() {
                    let mine: Vec<Vec<(usize, usize)>> = positions
                        .iter()
                        .map(|ps| ps.iter().copied().skip(i).step_by(o.len()).collect())
                        .collect();
                    let pyr = swd::laplacian_pyramid(img, levels);
                    sets.add(SWD_ORDER[m], &real_pyr, &pyr, &mine)?;
                }
            }
            sets.end_item();

            let name = ph.path.file_name().map_or_else(
                || ph.path.display().to_string(),
                |s| s.to_string_lossy().into(),
            );
            let line = format!(
                "{name} hole {k}: {} {:.0} % of a {side} px box{}; telea {:.0} ms, patch-only \
                 {:.1} s, pd-gan {:.2} s/sample, +detail {:.1} s/sample",
                hole.shape.name(),
                hole.coverage * 100.0,
                if hole.touches_border {
                    ", at the edge"
                } else {
                    ""
                },
                telea_ms,
                patch_ms / 1e3,
                raw_ms / 1e3,
                (det_ms - raw_ms) / 1e3,
            );
            items.push(FullResItem {
                index,
                photo: ph.path.clone(),
                hole: k,
                seed,
                hole_box: hole.bx,
                shape: hole.shape,
                hole_pixels: mask.hole_count(),
                box_coverage: hole.coverage,
                photo_ratio: mask.hole_ratio(),
                touches_border: hole.touches_border,
                pdgan_scale: scale,
                measured_crop: crop,
                vgg_crop,
                z_seeds,
                methods: per,
            });
            progress(index + 1, total, &line);
        }
    }

    let contrasts = sets.bootstrap(opts.bootstrap, derive(opts.seed, Purpose::Bootstrap, 0, 0))?;
    let swd = sets.finish(derive(opts.seed, Purpose::SwdDirections, 0, 0))?;
    let swd_of = |m: usize| -> Result<SwdResult> {
        swd.get(SWD_ORDER[m])
            .cloned()
            .ok_or_else(|| Error::Shape("SWD: a method is missing".into()))
    };
    let mut methods = Vec::with_capacity(4);
    for (m, a) in acc.iter().enumerate() {
        methods.push(FullResMethod {
            method: METHODS[m].to_string(),
            outputs_per_item: if m >= 2 { n } else { 1 },
            psnr_best: mean(&a.psnr_best).unwrap_or(f64::NAN),
            psnr_mean: mean(&a.psnr_mean).unwrap_or(f64::NAN),
            swd: swd_of(m)?,
            sharpness_mean: mean(&a.sharp),
            sharpness_geomean: geomean(&a.sharp),
            sharpness_median: median(&a.sharp),
            sharpness_items: a.sharp.len(),
            diversity_l1: if m >= 2 {
                mean(&a.div).filter(|_| a.div.len() == total)
            } else {
                Some(0.0)
            },
            ms_per_output: mean(&a.ms).unwrap_or(f64::NAN),
            vgg: VggScore::average(&a.vgg).filter(|_| a.vgg.len() == total),
            vgg_layers: if a.vgg.len() == total {
                a.vgg_layers.means().to_vec()
            } else {
                Vec::new()
            },
            spectral_excess: mean(&a.excess).filter(|_| a.excess.len() == total),
        });
    }
    let diversity_kept_pct = match (methods[2].diversity_l1, methods[3].diversity_l1) {
        (Some(r), Some(d)) if r > 0.0 => Some(100.0 * d / r),
        _ => None,
    };
    let detail_swd = swd_of(3)?.mean;
    let swd_vs_detail = contrasts
        .iter()
        .filter_map(|c| {
            // SwdSets method c.method → METHODS index.
            let m = SWD_ORDER.iter().position(|&s| s == c.method)?;
            Some(FullResContrast {
                other: METHODS[m].to_string(),
                difference: detail_swd - swd_of(m).ok()?.mean,
                low: c.low,
                high: c.high,
                detail_better: c.better,
                reps: c.reps,
            })
        })
        .collect();

    // The VGG distance's paired bootstrap: detail (METHODS[3]) against each other method, one
    // seed, so every contrast resamples the same items.
    let mut vgg_vs_detail = Vec::new();
    if vgg_distance.is_some() && acc.iter().all(|a| a.vgg.len() == total) {
        let seed = derive(opts.seed, Purpose::VggBootstrap, 0, 0);
        for stat in SampleStat::ALL {
            let of = |m: usize| -> Vec<f64> { acc[m].vgg.iter().map(|s| stat.of(s)).collect() };
            let detail = of(3);
            for m in [2usize, 0, 1] {
                if let Some(contrast) = paired_bootstrap(&detail, &of(m), opts.bootstrap, seed) {
                    vgg_vs_detail.push(FullResVggContrast {
                        other: METHODS[m].to_string(),
                        stat,
                        contrast,
                    });
                }
            }
        }
    }

    // The spectral excess's: the same, mean of N against mean of N.
    let mut excess_vs_detail = Vec::new();
    if acc.iter().all(|a| a.excess.len() == total) {
        let seed = derive(opts.seed, Purpose::ExcessBootstrap, 0, 0);
        for m in [2usize, 0, 1] {
            if let Some(contrast) =
                paired_bootstrap(&acc[3].excess, &acc[m].excess, opts.bootstrap, seed)
            {
                excess_vs_detail.push(FullResExcessContrast {
                    other: METHODS[m].to_string(),
                    contrast,
                });
            }
        }
    }

    let file = model.model_file();
    let res = model.resolution();
    let downscaled = photos
        .photos
        .iter()
        .filter(|p| p.image.dimensions() != p.original)
        .count();
    let mut notes = vec![
        format!(
            "Photos whose longer side exceeded {} px were downscaled to it (Lanczos 3) before \
             anything else ({downscaled} of {}): \"full resolution\" means that photo, so the \
             evaluation stays within minutes on a few CPU cores.",
            photos.max_side,
            photos.photos.len()
        ),
        format!(
            "PD-GAN makes each sample at {res}² from a context box around the hole and it is \
             scaled up into the photo (a mean of {:.1} photo pixels per model pixel here); \
             pd-gan+detail re-synthesises each of those samples at the photo's resolution \
             from the photo's own pixels, guided by the sample.",
            mean(
                &items
                    .iter()
                    .map(|i| f64::from(i.pdgan_scale))
                    .collect::<Vec<_>>()
            )
            .unwrap_or(f64::NAN)
        ),
        "Telea and patch-only give one output per item: their best and mean coincide and \
         their diversity is 0. Patch-only is seeded with the item's seed."
            .to_string(),
        "Timings are wall-clock on this machine (all cores) and vary between runs; every \
         other number is reproducible from the seed."
            .to_string(),
    ];
    if n < 2 {
        notes.push("One sample per item: diversity is not defined (–).".into());
    }
    if let Some(vd) = vgg_distance.filter(|v| v.weights().is_random()) {
        notes.push(format!(
            "The VGG distance used {}: not a perceptual measure.",
            vd.vgg().describe()
        ));
    }
    if file.source.contains("untrained") {
        notes.push(format!(
            "The model is untrained ({}): these numbers only exercise the pipeline.",
            file.source
        ));
    }
    let report = FullResReport {
        kind: "full-res".into(),
        pdpaint_version: env!("CARGO_PKG_VERSION").into(),
        model: ModelInfo {
            path: model_path.to_path_buf(),
            preset: file.config.preset.clone(),
            prior_source: file.config.prior_source,
            resolution: res,
            source: file.source.clone(),
        },
        data: FullResData {
            path: photos.root.clone(),
            max_side: photos.max_side,
            photos: photos
                .photos
                .iter()
                .map(|p| PhotoInfo {
                    path: p.path.clone(),
                    original: [p.original.0, p.original.1],
                    evaluated: [p.image.width(), p.image.height()],
                })
                .collect(),
            skipped: photos.skipped.clone(),
        },
        backend: backend.to_string(),
        settings: FullResSettings {
            samples: n,
            holes_per_photo: opts.holes,
            items: total,
            seed: opts.seed,
            telea_radius: opts.telea_radius,
            bootstrap: opts.bootstrap,
            swd_levels: levels,
            margin: opts.inpaint.margin,
            feather_px: opts.inpaint.feather_px,
            detail: params,
            holes: format!(
                "one hole per item, drawn at the photo's scale: a square box with a side of \
                 {:.0}–{:.0} % of the photo's shorter side, inside the photo ({:.0} % of the \
                 boxes against an edge, their hole reaching it), holding a thick brush stroke \
                 (3–6 vertices, radius 5–12 % of the box), a blob (a rotated ellipse with a \
                 wobbly outline, semi-axes 15–42 % of the box) or both, rejection-sampled to \
                 cover {:.0}–{:.0} % of the box.",
                BOX_MIN * 100.0,
                BOX_MAX * 100.0,
                BORDER_SHARE * 100.0,
                COVER_MIN * 100.0,
                COVER_MAX * 100.0
            ),
            quality: format!(
                "hole PSNR (peak 1, capped at {} dB) over the hole pixels of the 8-bit output at \
                 the photo's resolution; best of N = the highest of the item's outputs; method \
                 values are means over items.",
                metrics::PSNR_CAP_DB
            ),
            swd: format!(
                "multi-scale sliced Wasserstein distance ×10³ between the output's and the \
                 truth's {p}×{p} neighbourhoods centred inside the hole, the same positions for \
                 both ({} per item and level, spread round-robin over a sampled method's \
                 outputs), on a Laplacian pyramid of {levels} levels (level 0 = the photo's \
                 pixels, then ½, ¼, …) of a crop around the hole ({FIGURE_CROP} × its box, at \
                 least {min_crop} px, inside the photo); descriptors pooled over all items per \
                 method and normalised per channel, {} seeded random directions; the mean over \
                 levels.",
                swd::DESCRIPTORS_PER_IMAGE,
                swd::DIR_REPEATS * swd::DIRS_PER_REPEAT,
                p = swd::PATCH,
            ),
            sharpness: format!(
                "mean |∂x L| + |∂y L| of the luminance L (Rec. 601 weights, [0, 1] scale) over \
                 neighbour pairs inside the hole, divided by the truth's in the same hole: 1 = \
                 as detailed as the photo, below 1 blurrier, above 1 noisier; per item the mean \
                 over its outputs; items whose truth has a gradient below {SHARPNESS_FLOOR} \
                 (flat) are left out. The mean is sensitive to nearly flat holes, where any \
                 noise or seam gives a large ratio: the geometric mean and the median are the \
                 robust summaries."
            ),
            diversity: "mean pairwise L1 ([0, 1] scale, all channels) inside the hole among an \
                        item's N outputs; mean over items."
                .into(),
            timing: "ms per output: Telea and patch-only per call; pd-gan = (prior and \
                     conditioning + one generator call for the N samples + paste-back) / N; \
                     pd-gan+detail = pd-gan's + the detail synthesis of one sample; the VGG \
                     distance is not included (its total is in vgg_distance.seconds)."
                .into(),
            vgg_distance: vgg_distance.map(VggDistance::settings),
            spectral_excess: format!(
                "on the VGG distance's box (the hole's bounding box with {VGG_MARGIN} px of \
                 context on each side, inside the SWD crop, at the photo's resolution): each \
                 colour channel of the output and of the truth through an orthonormal 2-D DFT, \
                 amplitudes averaged over each frequency's 3×3 neighbours, log(0.01 + ·); the \
                 mean over channels and frequencies of the output's excess over the truth's \
                 (0 where it is below). Marks on a lattice and speckle raise it; blur and where \
                 content sits do not, so it is not a fidelity measure (a flat fill scores \
                 about 0): read it next to SWD and the VGG distance. Per item the mean over its \
                 outputs; method values are means over items."
            ),
        },
        methods,
        diversity_kept_pct,
        swd_vs_detail,
        vgg_vs_detail,
        excess_vs_detail,
        items,
        figures: Vec::new(),
        notes,
        elapsed_s: start.elapsed().as_secs_f64(),
    };
    Ok(FullResRun { report, figures })
}

// --- Markdown ------------------------------------------------------------------------------

fn num(v: f64, prec: usize) -> String {
    if v.is_finite() {
        format!("{v:.prec$}")
    } else {
        "–".into()
    }
}

/// A paired contrast's table cells: the difference, its interval and the share of resamples in
/// which the first method's value is lower.
fn contrast_cells(k: &PairedContrast) -> String {
    format!(
        "{} | [{}, {}] | {:.0} %",
        num(k.difference, 4),
        num(k.low, 4),
        num(k.high, 4),
        k.a_lower * 100.0
    )
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "–".into(), |v| num(v, prec))
}

impl FullResReport {
    /// The Markdown rendering: the method table, SWD per level, the bootstrap, the items, the
    /// figures and the notes.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let m = &self.model;
        let st = &self.settings;
        let _ = writeln!(s, "# pdpaint full-resolution evaluation\n");
        let _ = writeln!(
            s,
            "Model `{}` (preset {}, {}², {}); data `{}` ({} photos, longer side at most {} px); \
             backend {}; seed {}; {} holes per photo → {} items; N = {} samples; {:.1} s.\n",
            m.path.display(),
            m.preset,
            m.resolution,
            if m.source.is_empty() {
                "no source"
            } else {
                &m.source
            },
            self.data.path.display(),
            self.data.photos.len(),
            self.data.max_side,
            self.backend,
            st.seed,
            st.holes_per_photo,
            st.items,
            st.samples,
            self.elapsed_s
        );
        let _ = writeln!(
            s,
            "| method | outputs/item | PSNR best | PSNR mean | SWD ×10³ | VGG dist. mean / best | \
             spectral excess | sharpness mean | sharpness geo-mean | sharpness median | \
             diversity L1 | ms/output |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &self.methods {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.method,
                r.outputs_per_item,
                num(r.psnr_best, 2),
                num(r.psnr_mean, 2),
                num(r.swd.mean, 1),
                r.vgg.map_or_else(
                    || "–".to_string(),
                    |v| format!("{} / {}", num(v.mean, 4), num(v.best, 4))
                ),
                opt(r.spectral_excess, 4),
                opt(r.sharpness_mean, 3),
                opt(r.sharpness_geomean, 3),
                opt(r.sharpness_median, 3),
                opt(r.diversity_l1, 4),
                num(r.ms_per_output, 0)
            );
        }
        s.push('\n');
        if let Some(k) = self.diversity_kept_pct {
            let _ = writeln!(
                s,
                "PD-GAN + detail keeps {k:.0} % of raw PD-GAN's diversity (mean pairwise L1 in \
                 the hole).\n"
            );
        }
        let levels = self.methods.first().map_or(0, |r| r.swd.levels.len());
        let _ = writeln!(s, "## SWD ×10³ per pyramid level\n");
        let _ = write!(s, "| method |");
        for l in 0..levels {
            let _ = write!(s, " 1/{} |", 1u64 << l);
        }
        let _ = writeln!(s, " mean |");
        let _ = writeln!(s, "|---|{}---:|", "---:|".repeat(levels));
        for r in &self.methods {
            let _ = write!(s, "| {} |", r.method);
            for v in &r.swd.levels {
                let _ = write!(s, " {} |", num(*v, 1));
            }
            let _ = writeln!(s, " {} |", num(r.swd.mean, 1));
        }
        s.push('\n');
        if !self.swd_vs_detail.is_empty() {
            let _ = writeln!(
                s,
                "## PD-GAN + detail against the others (paired bootstrap over items, {} \
                 resamples)\n",
                self.swd_vs_detail.first().map_or(0, |c| c.reps)
            );
            let _ = writeln!(
                s,
                "| other | SWD difference (detail − other) | 95 % interval | detail better in |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|");
            for c in &self.swd_vs_detail {
                let _ = writeln!(
                    s,
                    "| {} | {} | [{}, {}] | {:.0} % |",
                    c.other,
                    num(c.difference, 1),
                    num(c.low, 1),
                    num(c.high, 1),
                    c.detail_better * 100.0
                );
            }
            s.push('\n');
        }
        match &st.vgg_distance {
            None => {
                let _ = writeln!(
                    s,
                    "VGG distance: not measured (no ImageNet VGG-16 weights were found; make them \
                     with scripts/fetch-vgg.sh or pass --vgg FILE).\n"
                );
            }
            Some(_) if !self.vgg_vs_detail.is_empty() => {
                let _ = writeln!(
                    s,
                    "## PD-GAN + detail's VGG distance against the others (paired bootstrap over \
                     items, {} resamples)\n",
                    self.vgg_vs_detail.first().map_or(0, |c| c.contrast.reps)
                );
                let _ = writeln!(
                    s,
                    "| other | per item | VGG difference (detail − other) | 95 % interval | \
                     detail lower in |"
                );
                let _ = writeln!(s, "|---|---|---:|---:|---:|");
                for c in &self.vgg_vs_detail {
                    let cells = contrast_cells(&c.contrast);
                    let _ = writeln!(s, "| {} | {} | {cells} |", c.other, c.stat.label());
                }
                s.push('\n');
            }
            Some(_) => {}
        }
        if !self.excess_vs_detail.is_empty() {
            let _ = writeln!(
                s,
                "## PD-GAN + detail's spectral excess against the others (paired bootstrap over \
                 items, {} resamples)\n",
                self.excess_vs_detail.first().map_or(0, |c| c.contrast.reps)
            );
            let _ = writeln!(
                s,
                "| other | excess difference (detail − other) | 95 % interval | detail lower in |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|");
            for c in &self.excess_vs_detail {
                let _ = writeln!(s, "| {} | {} |", c.other, contrast_cells(&c.contrast));
            }
            s.push('\n');
        }
        if let Some(v) = &st.vgg_distance {
            let names: Vec<String> = v.layers.iter().map(|l| l.name()).collect();
            let _ = writeln!(
                s,
                "VGG distance per layer (the distance is their mean; sampled methods: mean of \
                 N):\n"
            );
            let _ = writeln!(s, "| method | {} |", names.join(" | "));
            let _ = writeln!(s, "|---|{}", "---:|".repeat(names.len()));
            for r in &self.methods {
                let _ = write!(s, "| {} |", r.method);
                for x in &r.vgg_layers {
                    let _ = write!(s, " {} |", opt(*x, 4));
                }
                let _ = writeln!(s);
            }
            s.push('\n');
        }
        let _ = writeln!(s, "## Items\n");
        let _ = write!(s, "| # | photo | hole | box | coverage | shape |");
        for name in METHODS {
            let _ = write!(s, " PSNR {name} |");
        }
        for name in METHODS {
            let _ = write!(s, " sharp. {name} |");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "|---|---|---:|---|---:|---|{}", "---:|".repeat(8));
        for it in &self.items {
            let name = it
                .photo
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let _ = write!(
                s,
                "| {} | {} | {} | {} px at ({}, {}){} | {:.0} % | {} |",
                it.index,
                name,
                it.hole,
                it.hole_box.side,
                it.hole_box.x0,
                it.hole_box.y0,
                if it.touches_border { ", edge" } else { "" },
                it.box_coverage * 100.0,
                it.shape.name()
            );
            for r in &it.methods {
                let _ = write!(s, " {} |", num(r.psnr_mean, 2));
            }
            for r in &it.methods {
                let _ = write!(s, " {} |", opt(r.sharpness, 3));
            }
            let _ = writeln!(s);
        }
        s.push('\n');
        if !self.figures.is_empty() {
            let _ = writeln!(s, "## Figures\n");
            let _ = writeln!(
                s,
                "Crops of {FIGURE_CROP} × the hole box: truth, hole (white), telea, patch-only, \
                 pd-gan (first seed), pd-gan+detail (first {FIGURE_DETAIL_SEEDS} seeds).\n"
            );
            for f in &self.figures {
                let _ = writeln!(s, "- item {}: [`{}`]({})", f.item, f.file, f.file);
            }
            s.push('\n');
        }
        let _ = writeln!(s, "## How it is measured\n");
        for (k, v) in [
            ("holes", &st.holes),
            ("quality", &st.quality),
            ("SWD", &st.swd),
            ("sharpness", &st.sharpness),
            ("diversity", &st.diversity),
            ("time", &st.timing),
            ("spectral excess", &st.spectral_excess),
        ] {
            if !v.is_empty() {
                let _ = writeln!(s, "- **{k}**: {v}");
            }
        }
        if let Some(v) = &st.vgg_distance {
            let _ = writeln!(
                s,
                "- **VGG distance**: VGG-16 {} at {}, on the hole's bounding box with {VGG_MARGIN} \
                 px of context on each side (inside the SWD crop); features unit-normalised \
                 over channels at every position, squared difference summed over channels, \
                 averaged over the hole's positions at each layer (each weighted by the share of \
                 its cell in the hole), then over the layers; no learned weights (not LPIPS). \
                 {:.1} s in this run.",
                v.weights,
                v.layers
                    .iter()
                    .map(|l| l.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                v.seconds
            );
        }
        s.push('\n');
        if !self.notes.is_empty() {
            let _ = writeln!(s, "## Notes\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }

    /// Writes `json` and `md` (atomically).
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be written.
    pub fn write(&self, json: &Path, md: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Input(format!("could not serialise the report: {e}")))?;
        crate::fsutil::write_atomic(json, text.as_bytes())?;
        crate::fsutil::write_atomic(md, self.to_markdown().as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn textured(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = ((x * 37 + y * 91) ^ (x * y)) % 256;
            Rgb([v as u8, ((x * 5 + y * 3) % 256) as u8, (255 - v) as u8])
        })
    }

    #[test]
    fn holes_fill_their_box_share_and_stay_inside() {
        let mut touching = 0;
        let mut shapes = [0usize; 3];
        for (w, h) in [(200u32, 160u32), (640, 480), (300, 900)] {
            let short = w.min(h) as f32;
            for seed in 0..60u64 {
                let d = draw_hole(w, h, seed).unwrap();
                assert_eq!((d.mask.width, d.mask.height), (w, h));
                let b = d.bx;
                assert!(b.x0 + b.side <= w && b.y0 + b.side <= h, "{b:?}");
                let f = b.side as f32 / short;
                assert!(
                    f >= BOX_MIN - 1.0 / short && f <= BOX_MAX + 1.0 / short,
                    "box side {f}"
                );
                assert!(
                    (COVER_MIN..=COVER_MAX).contains(&d.coverage),
                    "{}",
                    d.coverage
                );
                let count = d.mask.hole_count() as f32;
                assert!((count / (b.side * b.side) as f32 - d.coverage).abs() < 1e-6);
                let (x0, y0, x1, y1) = d.mask.bbox().unwrap();
                assert!(x0 >= b.x0 && y0 >= b.y0 && x1 <= b.x0 + b.side && y1 <= b.y0 + b.side);
                touching += usize::from(d.touches_border);
                shapes[d.shape as usize] += 1;
                // Deterministic.
                assert_eq!(draw_hole(w, h, seed).unwrap().mask, d.mask);
            }
        }
        // About a fifth touch an edge; every shape occurs.
        assert!(
            (10..=80).contains(&touching),
            "{touching} of 180 touch the edge"
        );
        assert!(shapes.iter().all(|&c| c > 20), "{shapes:?}");
        assert!(draw_hole(50, 400, 1).is_err());
    }

    #[test]
    fn crops_hold_the_box_and_stay_inside() {
        let bx = HoleBox {
            x0: 5,
            y0: 100,
            side: 40,
        };
        let r = crop_around(&bx, 64, 200, 160);
        assert_eq!((r.w, r.h), (64, 64));
        assert_eq!(r.x0, 0);
        assert!(r.y0 + r.h <= 160 && r.y0 <= 100 && r.y0 + r.h >= 140);
        let r = crop_around(&bx, 500, 200, 160);
        assert_eq!(
            r,
            Rect {
                x0: 0,
                y0: 0,
                w: 200,
                h: 160
            }
        );
        let r = crop_around(&bx, 10, 200, 160);
        assert_eq!(
            r,
            Rect {
                x0: 5,
                y0: 100,
                w: 40,
                h: 40
            }
        );
    }

    #[test]
    fn sharpness_is_one_for_the_truth_and_lower_when_blurred() {
        let img = textured(96, 80);
        let truth = Planes::from_rgb(&img);
        let hole: Vec<bool> = (0..96 * 80)
            .map(|i| (20..70).contains(&(i % 96)) && (15..60).contains(&(i / 96)))
            .collect();
        let same = sharpness(&truth, &truth, &hole).unwrap().unwrap();
        assert!((same - 1.0).abs() < 1e-12, "{same}");
        let blurred = Planes::from_rgb(&image::imageops::blur(&img, 2.0));
        let b = sharpness(&blurred, &truth, &hole).unwrap().unwrap();
        assert!(b < 0.7, "{b}");
        // A flat truth has no ratio; a size mismatch is an error.
        let flat = Planes::constant(3, 80, 96, 0.5);
        assert_eq!(sharpness(&truth, &flat, &hole).unwrap(), None);
        assert!(sharpness(&truth, &Planes::constant(3, 8, 8, 0.5), &hole).is_err());
        assert!(gradient_energy(&truth, &hole[1..]).is_err());
    }

    #[test]
    fn statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert!((geomean(&[1.0, 4.0]).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(geomean(&[1.0, 0.0]), None);
        assert_eq!(mean(&[1.0, 2.0]), Some(1.5));
    }

    #[test]
    fn sizes_fit_and_figures_sit_beside_the_report() {
        assert_eq!(fit_size(4000, 3000, 1600), (1600, 1200));
        assert_eq!(fit_size(300, 200, 1600), (300, 200));
        assert_eq!(
            figure_path(Path::new("r/eval.json"), 3),
            PathBuf::from("r/eval-fig-3.png")
        );
        assert_eq!(
            figure_path(Path::new("r/eval"), 0),
            PathBuf::from("r/eval-fig-0.png")
        );
    }

    #[test]
    fn seeds_differ_by_purpose_and_index() {
        let a = derive(1, Purpose::Hole, 0, 0);
        assert_ne!(a, derive(1, Purpose::Z, 0, 0));
        assert_ne!(a, derive(1, Purpose::Hole, 1, 0));
        assert_ne!(a, derive(1, Purpose::Hole, 0, 1));
        assert_ne!(a, derive(2, Purpose::Hole, 0, 0));
    }
}
