//! Scores to rank the samples of one photo and hole.
//!
//! * [`SeamScore`], always available: how continuous a filled photo is across the hole's
//!   edge, at full resolution, relative to how continuous the photo itself is across rings of
//!   known pixels a few pixels away. **Lower is better**; about 1 means the seam is as smooth
//!   as the photo's own texture there.
//! * [`Realism`]: the discriminator's opinion of the filled context box, when the model has a
//!   discriminator (`has_discriminator` in its `config.json`; the embedded default model's is
//!   a critic fitted to its generator, see its model card), else
//!   [`Realism::NoDiscriminator`]. **Higher is better.**
//!
//! Both compare samples of the *same* photo, hole and model; neither is an absolute quality.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::imageops;
use crate::inference::Session;
use crate::mask::Mask;
use crate::model::{tensor_from_vec, tensor_to_vec};

use super::{Window, same_size};

/// Distances (photo pixels) of the rings of known pixels whose continuity normalises the
/// seam: the photo's own pixel-to-pixel change across contours this far from the hole.
pub const REFERENCE_RINGS_PX: [f64; 2] = [4.0, 8.0];

/// Steps below this many grey levels count as this many when normalising, so a flat photo
/// (no texture around the hole) does not turn a tiny seam into a huge ratio.
pub const MIN_REFERENCE_STEP: f32 = 1.0;

/// How continuous a filled photo is across the hole's edge. **Lower is better.**
///
/// Over every pair of 4-neighbour pixels with one known and one in the hole:
/// * the *colour step* is `|I(hole side) − I(known side)|`, averaged over R, G, B (0–255);
/// * the *gradient step* is `|(I(hole+1) − I(hole)) − (I(known) − I(known−1))|`, the change of
///   slope across the edge, from the next pixel on each side along the same line.
///
/// The same two measures taken across the contours at [`REFERENCE_RINGS_PX`] from the hole,
/// where all four pixels are known, give the photo's own step sizes there (textured photos
/// have large ones). [`SeamScore::score`] is the mean of the two ratios (fill over photo),
/// each reference floored at [`MIN_REFERENCE_STEP`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeamScore {
    /// `(colour_step / reference_colour_step + gradient_step / reference_gradient_step) / 2`;
    /// lower is better, about 1 is as continuous as the photo around the hole.
    pub score: f32,
    /// Mean colour step across the hole's edge (0–255).
    pub colour_step: f32,
    /// Mean gradient step across the hole's edge (0–510).
    pub gradient_step: f32,
    /// Mean colour step across the reference rings (0–255).
    pub reference_colour_step: f32,
    /// Mean gradient step across the reference rings (0–510).
    pub reference_gradient_step: f32,
}

/// What the discriminator thinks of a sample. **Higher is better.**
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Realism {
    /// The model has no discriminator (e.g. a folder written by `pdpaint export`).
    NoDiscriminator,
    /// Not computed: a mix is blended from scored samples on the studio's file thread, away
    /// from the model.
    NotComputed,
    /// The mean of the discriminator's prediction maps over its scales, on the context box
    /// resized to the model resolution (with the hole map, as in training). Hinge-trained:
    /// about +1 and above for what it takes as real, −1 and below for fakes.
    Score {
        /// The mean prediction.
        value: f32,
    },
}

impl Realism {
    /// The score, when there is one.
    pub fn value(&self) -> Option<f32> {
        match self {
            Self::NoDiscriminator | Self::NotComputed => None,
            Self::Score { value } => Some(*value),
        }
    }
}

/// Both scores of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleScores {
    /// Continuity across the hole's edge (lower is better).
    pub seam: SeamScore,
    /// The discriminator's score (higher is better), when the model has one.
    pub realism: Realism,
}

/// The pixel pairs a [`SeamScore`] looks at, found once per hole (a distance transform over
/// the hole's neighbourhood) so that scoring each sample only reads those pixels.
#[derive(Debug, Clone)]
pub struct SeamScorer {
    width: u32,
    height: u32,
    /// `[a, b]`: a on the known (near) side, b on the hole (far) side; photo pixel indices.
    boundary_pairs: Vec<[usize; 2]>,
    /// `[a−1, a, b, b+1]` along one line.
    boundary_quads: Vec<[usize; 4]>,
    reference_pairs: Vec<[usize; 2]>,
    reference_quads: Vec<[usize; 4]>,
}

impl SeamScorer {
    /// Finds the edge pairs of `hole` and of the reference rings around it.
    ///
    /// # Errors
    /// [`Error::Input`] when the mask has no hole.
    pub fn new(hole: &Mask) -> Result<Self> {
        let bbox = hole
            .bbox()
            .ok_or_else(|| Error::Input("the mask has no hole: no seam to score".into()))?;
        let (w, h) = (hole.width, hole.height);
        let far = REFERENCE_RINGS_PX.iter().copied().fold(0.0, f64::max);
        let win = Window::around(bbox, far.ceil() as u32 + 2, w, h);
        let d2 = win.squared_distance_to_holes(hole);
        let (ww, wh) = (win.width as i64, win.height as i64);
        let to_photo = |i: i64| -> usize {
            let (x, y) = (i % ww, i / ww);
            (win.y0 as usize + y as usize) * w as usize + win.x0 as usize + x as usize
        };
        let mut s = Self {
            width: w,
            height: h,
            boundary_pairs: Vec::new(),
            boundary_quads: Vec::new(),
            reference_pairs: Vec::new(),
            reference_quads: Vec::new(),
        };
        let rings: Vec<f64> = REFERENCE_RINGS_PX.iter().map(|r| r * r).collect();
        for y in 0..wh {
            for x in 0..ww {
                let a = y * ww + x;
                let da = d2[a as usize];
                if da == 0.0 {
                    continue;
                }
                for (dx, dy) in [(1i64, 0i64), (-1, 0), (0, 1), (0, -1)] {
                    let inside = |k: i64| {
                        let (px, py) = (x + k * dx, y + k * dy);
                        (0..ww).contains(&px) && (0..wh).contains(&py)
                    };
                    if !inside(1) {
                        continue;
                    }
                    let b = a + dy * ww + dx;
                    let db = d2[b as usize];
                    let outer = (inside(-1)).then(|| a - dy * ww - dx);
                    let inner = (inside(2)).then(|| b + dy * ww + dx);
                    if db == 0.0 {
                        s.boundary_pairs.push([to_photo(a), to_photo(b)]);
                        if let (Some(o), Some(i)) = (outer, inner)
                            && d2[o as usize] > 0.0
                            && d2[i as usize] == 0.0
                        {
                            s.boundary_quads.push([
                                to_photo(o),
                                to_photo(a),
                                to_photo(b),
                                to_photo(i),
                            ]);
                        }
                        continue;
                    }
                    for &r2 in &rings {
                        if da <= r2 && db > r2 {
                            s.reference_pairs.push([to_photo(a), to_photo(b)]);
                            if let (Some(o), Some(i)) = (outer, inner) {
                                let (dod, did) = (d2[o as usize], d2[i as usize]);
                                if dod > 0.0 && dod <= r2 && did > r2 {
                                    s.reference_quads.push([
                                        to_photo(o),
                                        to_photo(a),
                                        to_photo(b),
                                        to_photo(i),
                                    ]);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(s)
    }

    /// Scores one filled photo (the hole's size).
    ///
    /// # Errors
    /// [`Error::Shape`] when the image is not the hole mask's size.
    pub fn score(&self, image: &RgbImage) -> Result<SeamScore> {
        same_size(
            "the scored image",
            (self.width, self.height),
            image.dimensions(),
        )?;
        let px = image.as_raw();
        let c = |i: usize, ch: usize| f64::from(px[3 * i + ch]);
        let colour = |pairs: &[[usize; 2]]| -> f64 {
            let sum: f64 = pairs
                .iter()
                .map(|&[a, b]| (0..3).map(|k| (c(b, k) - c(a, k)).abs()).sum::<f64>() / 3.0)
                .sum();
            sum / pairs.len().max(1) as f64
        };
        let gradient = |quads: &[[usize; 4]]| -> f64 {
            let sum: f64 = quads
                .iter()
                .map(|&[o, a, b, i]| {
                    (0..3)
                        .map(|k| ((c(i, k) - c(b, k)) - (c(a, k) - c(o, k))).abs())
                        .sum::<f64>()
                        / 3.0
                })
                .sum();
            sum / quads.len().max(1) as f64
        };
        let colour_step = colour(&self.boundary_pairs) as f32;
        let gradient_step = gradient(&self.boundary_quads) as f32;
        let reference_colour_step = colour(&self.reference_pairs) as f32;
        let reference_gradient_step = gradient(&self.reference_quads) as f32;
        let score = 0.5
            * (colour_step / reference_colour_step.max(MIN_REFERENCE_STEP)
                + gradient_step / reference_gradient_step.max(MIN_REFERENCE_STEP));
        Ok(SeamScore {
            score,
            colour_step,
            gradient_step,
            reference_colour_step,
            reference_gradient_step,
        })
    }
}

/// The seam score of one filled photo over `hole` (see [`SeamScorer`] to score many).
///
/// # Errors
/// As [`SeamScorer::new`] and [`SeamScorer::score`].
pub fn seam_score(image: &RgbImage, hole: &Mask) -> Result<SeamScore> {
    SeamScorer::new(hole)?.score(image)
}

/// The discriminator's score of a filled photo of `session` (its context box resized to the
/// model resolution, with the session's hole map), or [`Realism::NoDiscriminator`].
///
/// # Errors
/// [`Error::Shape`] when the image is not the session photo's size; [`Error::Backend`] when a
/// tensor cannot be read back.
pub fn realism(session: &Session<'_>, image: &RgbImage) -> Result<Realism> {
    let inp = session.inpainter();
    let Some(d) = inp.discriminator() else {
        return Ok(Realism::NoDiscriminator);
    };
    same_size(
        "the scored image",
        session.photo().dimensions(),
        image.dimensions(),
    )?;
    let p = session.prepared();
    let r = p.res;
    let crop = imageops::crop_resize_rgb(image, &p.bx, r as u32);
    let mut input = Vec::with_capacity(6 * r * r);
    for _ in 0..3 {
        input.extend_from_slice(&p.hole);
    }
    input.extend_from_slice(&crop);
    let x = tensor_from_vec(input, [1, 6, r, r], inp.device());
    let outs = d.forward(x);
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for scale in outs {
        if let Some(pred) = scale.last() {
            let v = tensor_to_vec(pred.clone().mean())?;
            sum += v.first().copied().map_or(0.0, f64::from);
            n += 1;
        }
    }
    Ok(Realism::Score {
        value: (sum / n.max(1) as f64) as f32,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A smooth ramp with a mild texture: its own steps are small and regular.
    fn textured(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let t = ((x * 7 + y * 13) % 5) as u8;
            Rgb([(x * 2) as u8 + t, (y * 3) as u8 + t, 100 + t])
        })
    }

    #[test]
    fn the_untouched_photo_scores_about_one_and_a_flat_fill_worse() {
        let img = textured(80, 60);
        let hole = Mask::from_hole_fn(80, 60, |x, y| {
            (30..50).contains(&x) && (20..40).contains(&y)
        });
        let sc = SeamScorer::new(&hole).unwrap();
        let truth = sc.score(&img).unwrap();
        assert!(
            (0.5..1.5).contains(&truth.score),
            "ground truth scores {truth:?}"
        );
        let mut flat = img.clone();
        for (x, y, p) in flat.enumerate_pixels_mut() {
            if hole.is_hole(x, y) {
                *p = Rgb([128, 128, 128]);
            }
        }
        let bad = sc.score(&flat).unwrap();
        assert!(bad.score > 2.0 * truth.score, "{bad:?} vs {truth:?}");
        assert_eq!(bad.reference_colour_step, truth.reference_colour_step);
        assert!(sc.score(&RgbImage::new(10, 10)).is_err());
        assert!(SeamScorer::new(&Mask::new_empty(8, 8)).is_err());
    }

    #[test]
    fn realism_serialises_as_a_tagged_value() {
        let none = serde_json::to_string(&Realism::NoDiscriminator).unwrap();
        assert_eq!(none, r#"{"kind":"no_discriminator"}"#);
        let some = serde_json::to_string(&Realism::Score { value: 0.5 }).unwrap();
        assert_eq!(some, r#"{"kind":"score","value":0.5}"#);
        assert_eq!(Realism::Score { value: 0.5 }.value(), Some(0.5));
        assert_eq!(Realism::NoDiscriminator.value(), None);
    }
}
