//! Mix: brush part of one sample into another.
//!
//! The user paints a *brush* mask over the part of sample B they like; [`mix`] blends B into
//! the current image A there, with a soft edge, **inside the hole only**: known pixels never
//! change. The blend weight is 1 on the brush and falls off with the Euclidean distance `d`
//! (in photo pixels) to the nearest brush pixel as `smoothstep(1 − d / feather_px)`, reaching
//! 0 at `feather_px`; so a larger feather widens the soft edge outward from the stroke and
//! `feather_px = 0` is a hard-edged brush. Successive steps stack ([`MixStack`]); dropping the
//! last step gives back the previous pixels exactly.

use image::RgbImage;

use crate::error::{Error, Result};
use crate::inference::ZSpec;
use crate::mask::Mask;

use super::{Window, same_size};

/// Largest feather a mix step may have, in photo pixels.
pub const MAX_FEATHER_PX: f32 = 1024.0;

/// The blend weights of one mix step over the only window where they can be non-zero.
#[derive(Debug, Clone, PartialEq)]
pub struct MixWeights {
    window: Window,
    weights: Vec<f32>,
}

impl MixWeights {
    /// The weight of the other sample at `(x, y)`: 1 = all other, 0 = all base.
    pub fn at(&self, x: u32, y: u32) -> f32 {
        let w = &self.window;
        if x < w.x0 || y < w.y0 || x >= w.x0 + w.width || y >= w.y0 + w.height {
            return 0.0;
        }
        self.weights[(y - w.y0) as usize * w.width as usize + (x - w.x0) as usize]
    }
}

/// Checks a feather width.
///
/// # Errors
/// [`Error::Input`] when it is not a number in `0..=MAX_FEATHER_PX`.
pub fn check_feather(feather_px: f32) -> Result<()> {
    if feather_px.is_finite() && (0.0..=MAX_FEATHER_PX).contains(&feather_px) {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "a mix feather must be 0–{MAX_FEATHER_PX} pixels, got {feather_px}"
        )))
    }
}

/// The weights of a mix step: 1 on the brush, `smoothstep(1 − d / feather_px)` at distance
/// `d < feather_px` from it, 0 beyond, and 0 wherever `hole` is known.
///
/// # Errors
/// [`Error::Shape`] when the masks differ in size; [`Error::Input`] for a bad feather.
pub fn mix_weights(hole: &Mask, brush: &Mask, feather_px: f32) -> Result<MixWeights> {
    same_size(
        "the mix brush",
        (hole.width, hole.height),
        (brush.width, brush.height),
    )?;
    check_feather(feather_px)?;
    let Some(bbox) = brush.bbox() else {
        return Ok(MixWeights {
            window: Window::around((0, 0, 0, 0), 0, 0, 0),
            weights: Vec::new(),
        });
    };
    let reach = feather_px.ceil() as u32;
    let window = Window::around(bbox, reach, hole.width, hole.height);
    let d2 = window.squared_distance_to_holes(brush);
    let f = f64::from(feather_px);
    let mut weights = Vec::with_capacity(window.len());
    for (i, &d2) in d2.iter().enumerate() {
        let x = window.x0 + (i % window.width as usize) as u32;
        let y = window.y0 + (i / window.width as usize) as u32;
        let w = if !hole.is_hole(x, y) {
            0.0
        } else if d2 == 0.0 {
            1.0
        } else if f > 0.0 && d2 < f * f {
            let s = 1.0 - d2.sqrt() / f;
            (s * s * (3.0 - 2.0 * s)) as f32
        } else {
            0.0
        };
        weights.push(w);
    }
    Ok(MixWeights { window, weights })
}

/// `base` with `other` blended in through `brush` (see the module docs): each channel is
/// `round(base + w·(other − base))`, so `w = 0` keeps `base` and `w = 1` takes `other` exactly.
///
/// # Errors
/// [`Error::Shape`] when the images and masks are not all one size; [`Error::Input`] for a bad
/// feather.
pub fn mix(
    base: &RgbImage,
    other: &RgbImage,
    hole: &Mask,
    brush: &Mask,
    feather_px: f32,
) -> Result<RgbImage> {
    let size = base.dimensions();
    same_size("the other sample", size, other.dimensions())?;
    same_size("the hole mask", size, (hole.width, hole.height))?;
    let weights = mix_weights(hole, brush, feather_px)?;
    let mut out = base.clone();
    let win = weights.window;
    for (i, &w) in weights.weights.iter().enumerate() {
        if w <= 0.0 {
            continue;
        }
        let x = win.x0 + (i % win.width as usize) as u32;
        let y = win.y0 + (i / win.width as usize) as u32;
        let o = other.get_pixel(x, y);
        let px = out.get_pixel_mut(x, y);
        if w >= 1.0 {
            *px = *o;
            continue;
        }
        for c in 0..3 {
            let (b, t) = (f32::from(px[c]), f32::from(o[c]));
            px[c] = (b + w * (t - b)).round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(out)
}

/// One step of a mix: which sample is brushed in, where, and how soft the edge is.
#[derive(Debug, Clone, PartialEq)]
pub struct MixStep {
    /// The sample whose pixels are brought in.
    pub other: ZSpec,
    /// Where (photo-sized; only its hole pixels matter).
    pub brush: Mask,
    /// Width of the soft edge in photo pixels.
    pub feather_px: f32,
}

/// A base sample with mix steps applied in order, each result kept so that undo (dropping
/// the last step) is immediate. Memory: one photo-sized image per step.
#[derive(Debug, Clone)]
pub struct MixStack {
    base_spec: ZSpec,
    base: RgbImage,
    hole: Mask,
    layers: Vec<(MixStep, RgbImage)>,
}

impl MixStack {
    /// Starts from the sample `base_spec` whose pixels are `base`, over `hole`.
    ///
    /// # Errors
    /// [`Error::Shape`] when the mask is not the image's size.
    pub fn new(base_spec: ZSpec, base: RgbImage, hole: Mask) -> Result<Self> {
        same_size(
            "the hole mask",
            base.dimensions(),
            (hole.width, hole.height),
        )?;
        Ok(Self {
            base_spec,
            base,
            hole,
            layers: Vec::new(),
        })
    }

    /// The sample the mix started from.
    pub fn base_spec(&self) -> ZSpec {
        self.base_spec
    }

    /// Applies `step` with `other` (the pixels of `step.other`) and returns the new image.
    ///
    /// # Errors
    /// As [`mix`].
    pub fn push(&mut self, step: MixStep, other: &RgbImage) -> Result<&RgbImage> {
        let img = mix(
            self.current(),
            other,
            &self.hole,
            &step.brush,
            step.feather_px,
        )?;
        self.layers.push((step, img));
        Ok(self.current())
    }

    /// Drops the last step (undo), returning it.
    pub fn pop(&mut self) -> Option<MixStep> {
        self.layers.pop().map(|(s, _)| s)
    }

    /// The image after every step so far.
    pub fn current(&self) -> &RgbImage {
        self.layers.last().map_or(&self.base, |(_, img)| img)
    }

    /// The steps so far, in order.
    pub fn steps(&self) -> impl Iterator<Item = &MixStep> {
        self.layers.iter().map(|(s, _)| s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use image::Rgb;

    fn hole() -> Mask {
        Mask::from_hole_fn(40, 30, |x, y| (5..35).contains(&x) && (5..25).contains(&y))
    }

    #[test]
    fn known_pixels_never_change_and_the_brush_takes_the_other_sample() {
        let base = RgbImage::from_pixel(40, 30, Rgb([10, 20, 30]));
        let other = RgbImage::from_pixel(40, 30, Rgb([200, 100, 50]));
        // A brush that spills over the known border.
        let brush = Mask::from_hole_fn(40, 30, |x, _| x < 15);
        let out = mix(&base, &other, &hole(), &brush, 6.0).unwrap();
        for (x, y, p) in out.enumerate_pixels() {
            if !hole().is_hole(x, y) {
                assert_eq!(*p, Rgb([10, 20, 30]), "known ({x},{y}) changed");
            } else if x < 15 {
                assert_eq!(*p, Rgb([200, 100, 50]), "brushed ({x},{y})");
            } else if x >= 15 + 6 {
                assert_eq!(*p, Rgb([10, 20, 30]), "beyond the feather ({x},{y})");
            }
        }
        // A hard brush has no ramp at all.
        let hard = mix(&base, &other, &hole(), &brush, 0.0).unwrap();
        assert_eq!(*hard.get_pixel(15, 10), Rgb([10, 20, 30]));
    }

    #[test]
    fn the_feather_falls_monotonically_with_distance() {
        let brush = Mask::from_hole_fn(40, 30, |x, y| (10..14).contains(&x) && y < 30);
        let w = mix_weights(&hole(), &brush, 8.0).unwrap();
        let row: Vec<f32> = (13..30).map(|x| w.at(x, 15)).collect();
        assert_eq!(row[0], 1.0);
        for pair in row.windows(2) {
            assert!(pair[1] <= pair[0], "{row:?}");
        }
        assert!(row[3] > 0.0 && row[3] < 1.0, "{row:?}");
        assert_eq!(w.at(13 + 8, 15), 0.0);
        // Outside the hole the weight is 0 even on the brush.
        assert_eq!(w.at(11, 2), 0.0);
        assert!(mix_weights(&hole(), &brush, -1.0).is_err());
        assert!(mix_weights(&hole(), &brush, f32::NAN).is_err());
    }

    #[test]
    fn undo_gives_back_the_previous_pixels() {
        let base = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8 * 5, y as u8 * 7, 90]));
        let b = RgbImage::from_pixel(40, 30, Rgb([255, 0, 0]));
        let c = RgbImage::from_pixel(40, 30, Rgb([0, 0, 255]));
        let mut st = MixStack::new(ZSpec::Seed(1), base.clone(), hole()).unwrap();
        let step = |x0: u32| MixStep {
            other: ZSpec::Seed(2),
            brush: Mask::from_hole_fn(40, 30, move |x, _| (x0..x0 + 8).contains(&x)),
            feather_px: 4.0,
        };
        let one = st.push(step(8), &b).unwrap().clone();
        assert_ne!(one, base);
        let two = st.push(step(20), &c).unwrap().clone();
        assert_ne!(two, one);
        assert_eq!(st.steps().count(), 2);
        assert!(st.pop().is_some());
        assert_eq!(*st.current(), one);
        assert!(st.pop().is_some());
        assert_eq!(*st.current(), base);
        assert!(st.pop().is_none());
    }

    #[test]
    fn sizes_must_match() {
        let base = RgbImage::new(40, 30);
        let other = RgbImage::new(20, 30);
        let brush = Mask::new_empty(40, 30);
        assert!(mix(&base, &other, &hole(), &brush, 2.0).is_err());
        assert!(mix(&base, &base, &hole(), &Mask::new_empty(4, 4), 2.0).is_err());
        // An empty brush changes nothing.
        assert_eq!(mix(&base, &base, &hole(), &brush, 2.0).unwrap(), base);
    }
}
