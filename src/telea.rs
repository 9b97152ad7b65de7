//! Classical inpainting by the fast marching method: A. Telea, "An Image Inpainting Technique
//! Based on the Fast Marching Method", Journal of Graphics Tools 9(1), 2004.
//!
//! Written from the paper's description, in plain Rust (the baseline of `pdpaint eval`, and the
//! prior of a model whose prior source is Telea):
//!
//! * **Marching.** Every pixel has a flag: `Known` (fixed value, arrival time T = 0), `Band`
//!   (in the narrow band, tentative T) or `Inside` (still to fill, T = ∞). The band starts as
//!   the known pixels 4-adjacent to the hole. Repeatedly the band pixel of smallest T is
//!   frozen (`Known`); each of its 4 neighbours that is not yet known gets an updated T from
//!   the upwind solution of the eikonal equation |∇T| = 1 ([`solve_eikonal`]), and one that was
//!   `Inside` is filled the moment it enters the band. Pixels are thus filled in order of
//!   distance from the hole boundary, boundary first.
//! * **Filling a pixel p.** A weighted mean over the pixels q with a value (not `Inside`)
//!   within distance ε of p of the first-order estimate `I(q) + ∇I(q)·(p − q)`, with weight
//!   `dir · dst · lev`:
//!   `dir = |(p − q)·N(p)| / |p − q|` (N = the normalised ∇T at p: contributions along the
//!   normal of the front count most), `dst = 1 / |p − q|²` (d0 = 1) and
//!   `lev = 1 / (1 + |T(p) − T(q)|)` (T0 = 1).
//!   ∇T(p) is the central difference over the 4-neighbours that have values (one-sided where
//!   only one side has, zero where neither).
//!
//! Choices the paper leaves open:
//!
//! * ∇I(q) uses the **minmod slope limiter** (of the backward and forward differences, the one
//!   of smaller magnitude when they agree in sign, else 0) instead of the plain central
//!   difference; one-sided where only one side has a value. Filled pixels feed the gradients
//!   of later ones, and with plain central differences the extrapolation `∇I(q)·(p − q)`
//!   (over up to ε pixels) amplified overshoots at strong edges into black and white blotches
//!   on real photos. Minmod is exact on linear ramps and gives 0 at steps and extrema, so it
//!   does not create new extremes.
//! * `dir` is taken in absolute value and floored at 10⁻⁶, so every weight is positive (the
//!   weighted mean stays a convex combination of the estimates, and a pixel whose neighbours
//!   all lie perpendicular to N still gets a value).
//! * T(p) is computed *before* p is filled, so ∇T(p) is available.
//!
//! * ∇I(q) is *measured* only at pixels known in the input. A filled pixel stores the weighted
//!   mean of the gradients it was extrapolated with and passes that on; beyond 12 pixels from
//!   the hole's edge the passed-on gradient fades by 0.9 per pixel. Re-measuring gradients on
//!   extrapolated values amplified them layer after layer: large holes filled with radial
//!   black-and-white streaks. Linear ramps are still continued exactly near the edge.
//!
//! Values are kept in `f32` while marching and rounded to bytes (clamped to 0..=255) at the
//! end.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use image::RgbImage;

use crate::error::{Error, Result};
use crate::mask::Mask;

/// Arrival time (≈ distance from the hole's edge, pixels) up to which filled pixels pass on
/// the full gradient they were extrapolated with.
const GRADIENT_DEPTH: f32 = 12.0;

/// Factor on the carried gradient per pixel filled beyond [`GRADIENT_DEPTH`].
const GRADIENT_FADE: f32 = 0.9;

/// Default neighbourhood radius ε in pixels.
pub const DEFAULT_RADIUS: f32 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Known,
    Band,
    Inside,
}

/// A heap entry ordered by arrival time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    t: f32,
    idx: usize,
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.t
            .total_cmp(&other.t)
            .then_with(|| self.idx.cmp(&other.idx))
    }
}

/// The upwind solution of |∇T| = 1 at a pixel from one horizontal and one vertical
/// neighbour's arrival times (`None` = that neighbour is not frozen yet): with both,
/// `(t1 + t2 + √(2 − (t1 − t2)²)) / 2` when `|t1 − t2| < 1`, else `1 + min(t1, t2)`; with
/// one, `1 + t`; with none, `+∞`.
pub fn solve_eikonal(t1: Option<f32>, t2: Option<f32>) -> f32 {
    match (t1, t2) {
        (Some(a), Some(b)) => {
            let d = a - b;
            if d.abs() < 1.0 {
                (a + b + (2.0 - d * d).sqrt()) / 2.0
            } else {
                1.0 + a.min(b)
            }
        }
        (Some(a), None) | (None, Some(a)) => 1.0 + a,
        (None, None) => f32::INFINITY,
    }
}

/// The argument of smaller magnitude when both have the same sign, else 0 (the minmod slope
/// limiter).
fn minmod(a: f32, b: f32) -> f32 {
    if a * b <= 0.0 {
        0.0
    } else if a.abs() < b.abs() {
        a
    } else {
        b
    }
}

struct State {
    w: usize,
    h: usize,
    flag: Vec<Flag>,
    t: Vec<f32>,
    /// Interleaved RGB, `f32`.
    img: Vec<f32>,
    /// Offsets `(dx, dy)` within the radius, without (0, 0).
    disc: Vec<(isize, isize)>,
    /// Whether the pixel was known in the input (its gradient is measured there).
    original: Vec<bool>,
    /// Per filled pixel, the gradient `[∂x, ∂y]` per channel it was extrapolated with.
    grad: Vec<[[f32; 2]; 3]>,
}

impl State {
    fn at(&self, x: isize, y: isize) -> Option<usize> {
        (x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h)
            .then(|| y as usize * self.w + x as usize)
    }

    /// Arrival time at `(x, y)` when frozen.
    fn frozen_t(&self, x: isize, y: isize) -> Option<f32> {
        self.at(x, y)
            .filter(|&i| self.flag[i] == Flag::Known)
            .map(|i| self.t[i])
    }

    /// The new arrival time of pixel `(x, y)`: the best of the four quadrant solutions.
    fn update_t(&self, x: isize, y: isize) -> f32 {
        let mut best = f32::INFINITY;
        for dx in [-1, 1] {
            for dy in [-1, 1] {
                let s = solve_eikonal(self.frozen_t(x + dx, y), self.frozen_t(x, y + dy));
                best = best.min(s);
            }
        }
        best
    }

    fn has_value(&self, x: isize, y: isize) -> Option<usize> {
        self.at(x, y).filter(|&i| self.flag[i] != Flag::Inside)
    }

    /// Difference of `f` along one axis at `(x, y)` over the neighbours with values: with
    /// both, the central difference (`limit` = false) or the minmod of the backward and
    /// forward differences (`limit` = true); with one, the one-sided difference; else 0.
    fn diff(
        &self,
        x: isize,
        y: isize,
        (ax, ay): (isize, isize),
        limit: bool,
        f: impl Fn(usize) -> f32,
    ) -> f32 {
        let Some(c) = self.at(x, y) else { return 0.0 };
        let prev = self.has_value(x - ax, y - ay);
        let next = self.has_value(x + ax, y + ay);
        match (prev, next) {
            (Some(p), Some(n)) if limit => minmod(f(c) - f(p), f(n) - f(c)),
            (Some(p), Some(n)) => (f(n) - f(p)) / 2.0,
            (Some(p), None) => f(c) - f(p),
            (None, Some(n)) => f(n) - f(c),
            (None, None) => 0.0,
        }
    }

    /// Fills pixel `(x, y)` from the pixels with values within the radius.
    fn inpaint(&mut self, x: isize, y: isize) {
        let Some(p) = self.at(x, y) else { return };
        let tp = self.t[p];
        // Normal of the front: ∇T at p (T of the pixels with values, p's own included).
        let gx = self.diff(x, y, (1, 0), false, |i| self.t[i]);
        let gy = self.diff(x, y, (0, 1), false, |i| self.t[i]);
        let gn = (gx * gx + gy * gy).sqrt();
        let normal = (gn > 1e-6 && gn.is_finite()).then(|| (gx / gn, gy / gn));
        let mut acc = [0.0f32; 3];
        let mut gacc = [[0.0f32; 2]; 3];
        let mut wsum = 0.0f32;
        for &(dx, dy) in &self.disc {
            let (qx, qy) = (x + dx, y + dy);
            let Some(q) = self.has_value(qx, qy) else {
                continue;
            };
            // r = p − q.
            let (rx, ry) = (-dx as f32, -dy as f32);
            let len2 = rx * rx + ry * ry;
            let len = len2.sqrt();
            let dir = match normal {
                Some((nx, ny)) => ((rx * nx + ry * ny) / len).abs().max(1e-6),
                None => 1.0,
            };
            let dst = 1.0 / len2;
            let lev = 1.0 / (1.0 + (tp - self.t[q]).abs());
            let wgt = dir * dst * lev;
            for (c, a) in acc.iter_mut().enumerate() {
                // Measured at known pixels; a filled pixel carries the gradient it was filled
                // with, so gradients are only ever averaged, never re-measured from
                // extrapolated values (which grew without bound into large holes).
                let [ix, iy] = if self.original[q] {
                    [
                        self.diff(qx, qy, (1, 0), true, |i| self.img[3 * i + c]),
                        self.diff(qx, qy, (0, 1), true, |i| self.img[3 * i + c]),
                    ]
                } else {
                    self.grad[q][c]
                };
                *a += wgt * (self.img[3 * q + c] + ix * rx + iy * ry);
                gacc[c][0] += wgt * ix;
                gacc[c][1] += wgt * iy;
            }
            wsum += wgt;
        }
        if wsum > 0.0 {
            for (c, a) in acc.iter().enumerate() {
                self.img[3 * p + c] = a / wsum;
                // Beyond GRADIENT_DEPTH pixels from the boundary the carried gradient fades
                // (×GRADIENT_FADE per pixel filled), so a boundary slope is not drawn out as a
                // ray across a large hole.
                let fade = if tp > GRADIENT_DEPTH {
                    GRADIENT_FADE
                } else {
                    1.0
                };
                self.grad[p][c] = [fade * gacc[c][0] / wsum, fade * gacc[c][1] / wsum];
            }
        }
    }
}

/// Telea's fill of a CHW image in `[-1, 1]` (`3·w·h` values) whose hole is `hole` (`w·h`
/// values, above 0.5 = hole): the 8-bit fill ([`inpaint`] at `radius`) inside the hole, the
/// input unchanged outside it. This is the prior of a model whose prior source is Telea.
///
/// # Errors
/// [`Error::Shape`] when the lengths do not match `w·h`; the errors of [`inpaint`].
pub fn fill_chw(image: &[f32], hole: &[f32], w: usize, h: usize, radius: f32) -> Result<Vec<f32>> {
    let plane = w * h;
    if hole.len() != plane || image.len() != 3 * plane {
        return Err(Error::Shape(format!(
            "Telea prior: a {w}×{h} image needs {} values and {plane} mask values, got {} and {}",
            3 * plane,
            image.len(),
            hole.len()
        )));
    }
    let holes: Vec<u8> = hole.iter().map(|&v| u8::from(v > 0.5)).collect();
    let mask = Mask::from_holes(w as u32, h as u32, holes)?;
    let rgb = crate::imageops::chw_to_rgb(image, w as u32, h as u32)?;
    let filled = crate::imageops::rgb_to_chw(&inpaint(&rgb, &mask, radius)?);
    let mut out = image.to_vec();
    for (i, &v) in hole.iter().enumerate() {
        if v > 0.5 {
            for c in 0..3 {
                out[c * plane + i] = filled[c * plane + i];
            }
        }
    }
    Ok(out)
}

/// Fills the hole of `img` (mask: 1 = hole, same size) by Telea's method with neighbourhood
/// radius `radius` (ε, in pixels; [`DEFAULT_RADIUS`] is a good default). Known pixels are
/// returned unchanged.
///
/// # Errors
/// [`Error::Shape`] when the sizes differ; [`Error::Input`] when the mask has no known pixel or
/// the radius is not a positive number.
pub fn inpaint(img: &RgbImage, mask: &Mask, radius: f32) -> Result<RgbImage> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if (mask.width, mask.height) != (img.width(), img.height()) {
        return Err(Error::Shape(format!(
            "Telea: mask is {}×{} but the image is {w}×{h}",
            mask.width, mask.height
        )));
    }
    if !(radius.is_finite() && radius > 0.0) {
        return Err(Error::Input(format!(
            "Telea: the radius must be a positive number, got {radius}"
        )));
    }
    let holes = mask.holes();
    if mask.hole_count() == 0 {
        return Ok(img.clone());
    }
    if holes.iter().all(|&v| v != 0) {
        return Err(Error::Input(
            "Telea: the mask covers the whole image: there is no known pixel to fill from".into(),
        ));
    }
    let r = radius.ceil() as isize;
    let mut disc = Vec::new();
    for dy in -r..=r {
        for dx in -r..=r {
            if (dx, dy) != (0, 0) && ((dx * dx + dy * dy) as f32) <= radius * radius {
                disc.push((dx, dy));
            }
        }
    }
    let mut st = State {
        w,
        h,
        flag: holes
            .iter()
            .map(|&v| if v != 0 { Flag::Inside } else { Flag::Known })
            .collect(),
        t: holes
            .iter()
            .map(|&v| if v != 0 { f32::INFINITY } else { 0.0 })
            .collect(),
        // Hole pixels start at 0: their original content must never be read.
        img: img
            .as_raw()
            .iter()
            .enumerate()
            .map(|(i, &v)| if holes[i / 3] != 0 { 0.0 } else { f32::from(v) })
            .collect(),
        disc,
        original: holes.iter().map(|&v| v == 0).collect(),
        grad: vec![[[0.0; 2]; 3]; w * h],
    };
    const N4: [(isize, isize); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];
    let mut heap = BinaryHeap::new();
    for y in 0..h as isize {
        for x in 0..w as isize {
            let Some(i) = st.at(x, y) else { continue };
            if st.flag[i] == Flag::Known
                && N4.iter().any(|&(dx, dy)| {
                    st.at(x + dx, y + dy)
                        .is_some_and(|j| st.flag[j] == Flag::Inside)
                })
            {
                st.flag[i] = Flag::Band;
                heap.push(Reverse(Entry { t: 0.0, idx: i }));
            }
        }
    }
    while let Some(Reverse(Entry { t, idx })) = heap.pop() {
        if st.flag[idx] != Flag::Band || t > st.t[idx] {
            continue; // already frozen, or a stale entry
        }
        st.flag[idx] = Flag::Known;
        let (x, y) = ((idx % w) as isize, (idx / w) as isize);
        for (dx, dy) in N4 {
            let (nx, ny) = (x + dx, y + dy);
            let Some(j) = st.at(nx, ny) else { continue };
            if st.flag[j] == Flag::Known {
                continue;
            }
            let newt = st.update_t(nx, ny);
            if st.flag[j] == Flag::Inside {
                // T first (∇T(p) needs it), then fill while p is still `Inside`, so its own
                // (unknown) value never enters a gradient.
                st.t[j] = newt;
                st.inpaint(nx, ny);
                st.flag[j] = Flag::Band;
                heap.push(Reverse(Entry { t: newt, idx: j }));
            } else if newt < st.t[j] {
                st.t[j] = newt;
                heap.push(Reverse(Entry { t: newt, idx: j }));
            }
        }
    }
    let mut out = img.clone();
    for (i, (o, &m)) in out.pixels_mut().zip(holes).enumerate() {
        if m != 0 {
            for c in 0..3 {
                o[c] = st.img[3 * i + c].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use image::Rgb;

    fn box_mask(w: u32, h: u32, x0: u32, y0: u32, x1: u32, y1: u32) -> Mask {
        Mask::from_hole_fn(w, h, |x, y| (x0..x1).contains(&x) && (y0..y1).contains(&y))
    }

    #[test]
    fn the_chw_fill_is_the_8_bit_fill_in_the_hole_and_the_input_elsewhere() {
        let (w, h) = (24usize, 20usize);
        let plane = w * h;
        // Off-grid values: known pixels must come back exactly, not quantised.
        let image: Vec<f32> = (0..3 * plane)
            .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * 0.999)
            .collect();
        let mask = box_mask(w as u32, h as u32, 6, 5, 15, 12);
        let hole = mask.hole_f32();
        let out = fill_chw(&image, &hole, w, h, DEFAULT_RADIUS).unwrap();
        let rgb = crate::imageops::chw_to_rgb(&image, w as u32, h as u32).unwrap();
        let want = crate::imageops::rgb_to_chw(&inpaint(&rgb, &mask, DEFAULT_RADIUS).unwrap());
        for (i, &hv) in hole.iter().enumerate() {
            for c in 0..3 {
                let k = c * plane + i;
                if hv > 0.5 {
                    assert_eq!(out[k], want[k]);
                } else {
                    assert_eq!(out[k], image[k]);
                }
            }
        }
        assert!(matches!(
            fill_chw(&image[1..], &hole, w, h, DEFAULT_RADIUS),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            fill_chw(&image, &hole[1..], w, h, DEFAULT_RADIUS),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            fill_chw(&image, &vec![1.0; plane], w, h, DEFAULT_RADIUS),
            Err(Error::Input(_))
        ));
    }

    #[test]
    fn eikonal_solutions() {
        assert_eq!(solve_eikonal(None, None), f32::INFINITY);
        assert_eq!(solve_eikonal(Some(2.0), None), 3.0);
        assert_eq!(solve_eikonal(Some(0.0), Some(5.0)), 1.0);
        // Equal neighbours: T = t + 1/√2.
        let t = solve_eikonal(Some(1.0), Some(1.0));
        assert!((t - (1.0 + std::f32::consts::FRAC_1_SQRT_2)).abs() < 1e-6);
    }

    #[test]
    fn a_constant_image_is_filled_with_the_constant() {
        let img = RgbImage::from_pixel(40, 30, Rgb([17, 130, 250]));
        for mask in [
            box_mask(40, 30, 10, 5, 30, 25),
            box_mask(40, 30, 0, 0, 12, 30), // touching the border
            Mask::from_hole_fn(40, 30, |x, y| (x + 2 * y) % 7 == 0),
        ] {
            let out = inpaint(&img, &mask, DEFAULT_RADIUS).unwrap();
            assert_eq!(out, img);
        }
    }

    #[test]
    fn a_linear_ramp_is_continued() {
        let (w, h) = (48u32, 40u32);
        let img = RgbImage::from_fn(w, h, |x, y| {
            Rgb([(4 * x) as u8, (3 * y + 20) as u8, (2 * x + 2 * y) as u8])
        });
        let mask = box_mask(w, h, 14, 10, 34, 30);
        let out = inpaint(&img, &mask, DEFAULT_RADIUS).unwrap();
        let mut worst = 0i32;
        for (x, y, p) in out.enumerate_pixels() {
            let q = img.get_pixel(x, y);
            if !mask.is_hole(x, y) {
                assert_eq!(p, q);
            }
            for c in 0..3 {
                worst = worst.max((i32::from(p[c]) - i32::from(q[c])).abs());
            }
        }
        assert!(worst <= 2, "worst error {worst} grey levels");
    }

    #[test]
    fn beats_a_flat_grey_fill_on_a_smooth_image() {
        let (w, h) = (64u32, 64u32);
        let f = |x: u32, y: u32| {
            let (xf, yf) = (x as f32 / 64.0, y as f32 / 64.0);
            (128.0 + 100.0 * (3.0 * xf).sin() * (2.0 * yf).cos()) as u8
        };
        let img = RgbImage::from_fn(w, h, |x, y| Rgb([f(x, y), f(y, x), 128]));
        let mask = Mask::from_hole_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - 30.0, y as f32 - 34.0);
            dx * dx + dy * dy < 100.0
        });
        let out = inpaint(&img, &mask, DEFAULT_RADIUS).unwrap();
        let (mut e_telea, mut e_grey) = (0.0f64, 0.0f64);
        for (x, y, p) in out.enumerate_pixels() {
            if mask.is_hole(x, y) {
                let q = img.get_pixel(x, y);
                for c in 0..3 {
                    e_telea += (f64::from(p[c]) - f64::from(q[c])).abs();
                    e_grey += (128.0 - f64::from(q[c])).abs();
                }
            }
        }
        assert!(e_telea < 0.25 * e_grey, "telea {e_telea} grey {e_grey}");
    }

    #[test]
    fn bad_inputs() {
        let img = RgbImage::new(8, 8);
        assert!(matches!(
            inpaint(&img, &Mask::new_empty(8, 7), 5.0),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            inpaint(&img, &box_mask(8, 8, 0, 0, 8, 8), 5.0),
            Err(Error::Input(_))
        ));
        assert!(matches!(
            inpaint(&img, &box_mask(8, 8, 2, 2, 4, 4), 0.0),
            Err(Error::Input(_))
        ));
        assert_eq!(inpaint(&img, &Mask::new_empty(8, 8), 5.0).unwrap(), img);
    }
}
