//! Hole masks in memory and on disk.
//!
//! In memory a [`Mask`] says, per pixel, whether it is a **hole** (to be filled) or **known**.
//! The networks want the opposite polarity (1 = known), which [`Mask::known_f32`] gives.
//!
//! On disk a mask is an image the size of its photo with **white = hole** (the IOPaint / LaMa
//! convention): a value ≥ 128 counts as hole. See [`Mask::load`] for how colour and alpha are
//! read.

use std::path::Path;

use crate::error::{Error, Result};

/// A hole mask: `width`×`height` pixels, each a hole or known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major, 1 = hole, 0 = known; `width·height` entries.
    hole: Vec<u8>,
}

impl Mask {
    /// A mask with no holes.
    pub fn new_empty(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            hole: vec![0; width as usize * height as usize],
        }
    }

    /// A mask whose pixel `(x, y)` is a hole where `f(x, y)` is true.
    pub fn from_hole_fn(width: u32, height: u32, f: impl Fn(u32, u32) -> bool) -> Self {
        let mut hole = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            for x in 0..width {
                hole.push(u8::from(f(x, y)));
            }
        }
        Self {
            width,
            height,
            hole,
        }
    }

    /// A mask from row-major values (non-zero = hole).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `holes.len() != width·height`.
    pub fn from_holes(width: u32, height: u32, holes: Vec<u8>) -> Result<Self> {
        if holes.len() != width as usize * height as usize {
            return Err(Error::Shape(format!(
                "mask of {width}×{height} needs {} values, got {}",
                width as usize * height as usize,
                holes.len()
            )));
        }
        Ok(Self {
            width,
            height,
            hole: holes.into_iter().map(|v| u8::from(v != 0)).collect(),
        })
    }

    /// The row-major hole flags (1 = hole, 0 = known).
    pub fn holes(&self) -> &[u8] {
        &self.hole
    }

    fn index(&self, x: u32, y: u32) -> Option<usize> {
        (x < self.width && y < self.height).then(|| y as usize * self.width as usize + x as usize)
    }

    /// Whether `(x, y)` is a hole; `false` outside the mask.
    pub fn is_hole(&self, x: u32, y: u32) -> bool {
        self.index(x, y).is_some_and(|i| self.hole[i] != 0)
    }

    /// Makes `(x, y)` a hole (`true`) or known (`false`); ignored outside the mask.
    pub fn set_hole(&mut self, x: u32, y: u32, hole: bool) {
        if let Some(i) = self.index(x, y) {
            self.hole[i] = u8::from(hole);
        }
    }

    /// The number of hole pixels.
    pub fn hole_count(&self) -> usize {
        self.hole.iter().filter(|&&v| v != 0).count()
    }

    /// The fraction of pixels that are holes (0 for an empty mask).
    pub fn hole_ratio(&self) -> f32 {
        if self.hole.is_empty() {
            0.0
        } else {
            (self.hole_count() as f64 / self.hole.len() as f64) as f32
        }
    }

    /// The bounding box of the holes as `(x0, y0, x1, y1)` with exclusive ends, or `None` when
    /// there is no hole.
    pub fn bbox(&self) -> Option<(u32, u32, u32, u32)> {
        let w = self.width as usize;
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
        for (y, row) in self.hole.chunks_exact(w.max(1)).enumerate() {
            let Some(first) = row.iter().position(|&v| v != 0) else {
                continue;
            };
            let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
            let y = y as u32;
            x0 = x0.min(first as u32);
            x1 = x1.max(last as u32 + 1);
            y0 = y0.min(y);
            y1 = y + 1;
        }
        (x0 != u32::MAX).then_some((x0, y0, x1, y1))
    }

    /// Loads a mask image: white = hole.
    ///
    /// * An image with an alpha channel that is used (some pixel not fully opaque) is read from
    ///   its alpha: alpha ≥ 128 = hole. This covers strokes painted on a transparent layer.
    /// * Otherwise (grey, RGB, or RGBA that is opaque everywhere) the luminance decides:
    ///   luminance ≥ 128 (of 255) = hole. 16-bit images are reduced to 8 bits first.
    ///
    /// Decoding uses `image`'s default limits, so a huge file fails with an error rather than
    /// exhausting memory.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be opened, [`Error::Image`] when it cannot be
    /// decoded.
    pub fn load(path: &Path) -> Result<Mask> {
        let reader = image::ImageReader::open(path)
            .map_err(|e| Error::io("cannot open mask", path, e))?
            .with_guessed_format()
            .map_err(|e| Error::io("cannot read mask", path, e))?;
        let img = reader
            .decode()
            .map_err(|e| Error::image(format!("cannot decode mask ({e})"), path))?;
        let (width, height) = (img.width(), img.height());
        let hole: Vec<u8> = if img.color().has_alpha() {
            let la = img.to_luma_alpha8();
            let alpha_used = la.pixels().any(|p| p.0[1] != 255);
            la.pixels()
                .map(|p| {
                    let v = if alpha_used { p.0[1] } else { p.0[0] };
                    u8::from(v >= 128)
                })
                .collect()
        } else {
            img.to_luma8()
                .pixels()
                .map(|p| u8::from(p.0[0] >= 128))
                .collect()
        };
        Ok(Mask {
            width,
            height,
            hole,
        })
    }

    /// Saves the mask as an 8-bit grey PNG (255 = hole, 0 = known), atomically (a temporary
    /// file in the same folder, then a rename).
    ///
    /// # Errors
    ///
    /// [`Error::Image`] when the mask cannot be encoded (e.g. it is empty), [`Error::Io`] when
    /// the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        use image::ImageEncoder;
        let grey: Vec<u8> = self
            .hole
            .iter()
            .map(|&v| if v != 0 { 255 } else { 0 })
            .collect();
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(&grey, self.width, self.height, image::ExtendedColorType::L8)
            .map_err(|e| Error::image(format!("cannot encode mask as PNG ({e})"), path))?;
        crate::fsutil::write_atomic(path, &bytes)
    }

    /// Resizes with nearest-neighbour sampling at pixel centres: output pixel `x` reads source
    /// pixel `floor((x + 0.5)·src_w / w)`. Resizing an empty mask gives a mask without holes.
    pub fn resize_nearest(&self, width: u32, height: u32) -> Mask {
        if self.width == 0 || self.height == 0 {
            return Mask::new_empty(width, height);
        }
        let map = |d: u32, src: u32, dst: u32| -> usize {
            ((2 * d as u64 + 1) * src as u64 / (2 * dst as u64)) as usize
        };
        let xs: Vec<usize> = (0..width).map(|x| map(x, self.width, width)).collect();
        let sw = self.width as usize;
        let mut hole = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            let row = &self.hole[map(y, self.height, height) * sw..][..sw];
            hole.extend(xs.iter().map(|&x| row[x]));
        }
        Mask {
            width,
            height,
            hole,
        }
    }

    /// The mask with holes and known pixels swapped.
    pub fn invert(&self) -> Mask {
        Mask {
            width: self.width,
            height: self.height,
            hole: self.hole.iter().map(|&v| u8::from(v == 0)).collect(),
        }
    }

    /// Dilates the holes by a **disc** of radius `r`: a pixel becomes a hole when a hole pixel
    /// lies within Euclidean distance `r` (centre to centre). `grow(0)` is a copy.
    pub fn grow(&self, r: u32) -> Mask {
        if r == 0 {
            return self.clone();
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let holes: Vec<bool> = self.hole.iter().map(|&v| v != 0).collect();
        let d2 = squared_distance_transform(&holes, w, h);
        let r2 = (r as f64) * (r as f64);
        Mask {
            width: self.width,
            height: self.height,
            hole: d2.iter().map(|&d| u8::from(d <= r2)).collect(),
        }
    }

    /// Erodes the holes by a **disc** of radius `r`: a hole pixel stays a hole only when no
    /// known pixel lies within Euclidean distance `r`. Pixels outside the image do not erode
    /// (a hole touching the border keeps touching it). This is `invert().grow(r).invert()`.
    pub fn shrink(&self, r: u32) -> Mask {
        self.invert().grow(r).invert()
    }

    /// 1 = known, 0 = hole, row-major (the networks' polarity).
    pub fn known_f32(&self) -> Vec<f32> {
        self.hole
            .iter()
            .map(|&v| if v != 0 { 0.0 } else { 1.0 })
            .collect()
    }

    /// 1 = hole, 0 = known, row-major.
    pub fn hole_f32(&self) -> Vec<f32> {
        self.hole
            .iter()
            .map(|&v| if v != 0 { 1.0 } else { 0.0 })
            .collect()
    }

    /// A soft alpha for pasting a fill back into the photo: `out = alpha·fill + (1−alpha)·photo`.
    ///
    /// Every hole pixel gets 1 (nothing of the original hole content leaks through), and the
    /// alpha falls off linearly over `radius` pixels of the known surroundings:
    /// `alpha = max(0, 1 − d/radius)` with `d` the Euclidean distance to the nearest hole pixel.
    /// `radius ≤ 0` gives the hard mask ([`Mask::hole_f32`]).
    pub fn feather(&self, radius: f32) -> Vec<f32> {
        if radius.is_nan() || radius <= 0.0 {
            return self.hole_f32();
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let holes: Vec<bool> = self.hole.iter().map(|&v| v != 0).collect();
        let radius = radius as f64;
        squared_distance_transform(&holes, w, h)
            .iter()
            .map(|&d2| (1.0 - d2.sqrt() / radius).clamp(0.0, 1.0) as f32)
            .collect()
    }

    /// Paints a stroke with a round brush: every pixel whose centre `(x + 0.5, y + 0.5)` lies
    /// within `radius` of the polyline through `points` (a capsule between consecutive points;
    /// a single point paints a disc) becomes a hole (`value = true`) or known (`false`).
    ///
    /// Points are in pixel coordinates, `(0, 0)` being the top-left corner of the image.
    /// A negative or NaN radius paints nothing.
    pub fn rasterize_stroke(&mut self, points: &[(f32, f32)], radius: f32, value: bool) {
        if points.is_empty() || radius.is_nan() || radius < 0.0 {
            return;
        }
        let segments: Vec<((f32, f32), (f32, f32))> = if points.len() == 1 {
            vec![(points[0], points[0])]
        } else {
            points.windows(2).map(|p| (p[0], p[1])).collect()
        };
        let r2 = radius * radius;
        let (w, h) = (self.width as f32, self.height as f32);
        let v = u8::from(value);
        for (a, b) in segments {
            // The pixels whose centres can be within reach.
            let lo_x = (a.0.min(b.0) - radius - 0.5).floor().clamp(0.0, w) as u32;
            let hi_x = (a.0.max(b.0) + radius + 0.5).ceil().clamp(0.0, w) as u32;
            let lo_y = (a.1.min(b.1) - radius - 0.5).floor().clamp(0.0, h) as u32;
            let hi_y = (a.1.max(b.1) + radius + 0.5).ceil().clamp(0.0, h) as u32;
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            for y in lo_y..hi_y {
                for x in lo_x..hi_x {
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    let t = if len2 > 0.0 {
                        (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let (ex, ey) = (px - (a.0 + t * dx), py - (a.1 + t * dy));
                    if ex * ex + ey * ey <= r2 {
                        self.hole[y as usize * self.width as usize + x as usize] = v;
                    }
                }
            }
        }
    }

    /// Paints one segment of a pressure stroke: the union of the discs along `a → b` whose
    /// radius goes linearly from `ra` to `rb` (which is the convex hull of the two end discs: a
    /// tapered capsule). Every pixel whose centre lies inside becomes a hole (`value = true`) or
    /// known (`false`). With `ra == rb` it paints what [`Mask::rasterize_stroke`] paints for the
    /// segment. A negative or NaN radius paints nothing.
    pub fn rasterize_tapered_segment(
        &mut self,
        a: (f32, f32),
        ra: f32,
        b: (f32, f32),
        rb: f32,
        value: bool,
    ) {
        if ra.is_nan() || rb.is_nan() || ra < 0.0 || rb < 0.0 {
            return;
        }
        let reach = ra.max(rb);
        let (w, h) = (self.width as f32, self.height as f32);
        let lo_x = (a.0.min(b.0) - reach - 0.5).floor().clamp(0.0, w) as u32;
        let hi_x = (a.0.max(b.0) + reach + 0.5).ceil().clamp(0.0, w) as u32;
        let lo_y = (a.1.min(b.1) - reach - 0.5).floor().clamp(0.0, h) as u32;
        let hi_y = (a.1.max(b.1) + reach + 0.5).ceil().clamp(0.0, h) as u32;
        // The pixel centre p is covered when some t in [0, 1] has |p − c(t)| ≤ r(t), with
        // c(t) = a + t (b − a) and r(t) = ra + t (rb − ra) ≥ 0. Squaring both sides gives a
        // quadratic g(t) = q2 t² + q1 t + q0 ≤ 0; its minimum over [0, 1] is at an end or at the
        // vertex (only when q2 > 0).
        let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
        let (ra, dr) = (ra as f64, (rb - ra) as f64);
        let q2 = dx * dx + dy * dy - dr * dr;
        let v = u8::from(value);
        for y in lo_y..hi_y {
            for x in lo_x..hi_x {
                let ex = x as f64 + 0.5 - a.0 as f64;
                let ey = y as f64 + 0.5 - a.1 as f64;
                let q1 = -2.0 * (ex * dx + ey * dy) - 2.0 * ra * dr;
                let q0 = ex * ex + ey * ey - ra * ra;
                let g = |t: f64| (q2 * t + q1) * t + q0;
                let mut best = g(0.0).min(g(1.0));
                if q2 > 0.0 {
                    let t = (-q1 / (2.0 * q2)).clamp(0.0, 1.0);
                    best = best.min(g(t));
                }
                if best <= 0.0 {
                    self.hole[y as usize * self.width as usize + x as usize] = v;
                }
            }
        }
    }
}

/// "No feature pixel": larger than any real squared distance, finite to keep the lower-envelope
/// arithmetic free of `inf − inf`.
const FAR: f64 = 1e20;

/// Exact squared Euclidean distance from each pixel to the nearest `feature` pixel
/// (Felzenszwalb & Huttenlocher's separable lower-envelope algorithm); `FAR` (1e20) or more
/// where there is none.
pub(crate) fn squared_distance_transform(feature: &[bool], w: usize, h: usize) -> Vec<f64> {
    let mut d: Vec<f64> = feature.iter().map(|&f| if f { 0.0 } else { FAR }).collect();
    let n = w.max(h);
    let mut f = vec![0.0f64; n];
    let mut out = vec![0.0f64; n];
    let mut v = vec![0usize; n];
    let mut z = vec![0.0f64; n + 1];
    // Columns.
    for x in 0..w {
        for y in 0..h {
            f[y] = d[y * w + x];
        }
        edt_1d(&f[..h], &mut out[..h], &mut v, &mut z);
        for y in 0..h {
            d[y * w + x] = out[y];
        }
    }
    // Rows.
    for y in 0..h {
        let row = &mut d[y * w..(y + 1) * w];
        f[..w].copy_from_slice(row);
        edt_1d(&f[..w], &mut out[..w], &mut v, &mut z);
        row.copy_from_slice(&out[..w]);
    }
    d
}

/// 1-D squared distance transform of the sampled function `f`: `out[q] = min_p (q−p)² + f[p]`.
fn edt_1d(f: &[f64], out: &mut [f64], v: &mut [usize], z: &mut [f64]) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let mut k = 0usize;
    v[0] = 0;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in 1..n {
        let qf = q as f64;
        loop {
            let p = v[k] as f64;
            let s = ((f[q] + qf * qf) - (f[v[k]] + p * p)) / (2.0 * qf - 2.0 * p);
            if s <= z[k] && k > 0 {
                k -= 1;
            } else {
                k += 1;
                v[k] = q;
                z[k] = s;
                z[k + 1] = f64::INFINITY;
                break;
            }
        }
    }
    let mut k = 0usize;
    for (q, o) in out.iter_mut().enumerate() {
        let qf = q as f64;
        while z[k + 1] < qf {
            k += 1;
        }
        let p = v[k] as f64;
        *o = (qf - p) * (qf - p) + f[v[k]];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn square(w: u32, h: u32, x0: u32, y0: u32, x1: u32, y1: u32) -> Mask {
        Mask::from_hole_fn(w, h, |x, y| x >= x0 && x < x1 && y >= y0 && y < y1)
    }

    /// Brute-force disc dilation.
    fn grow_brute(m: &Mask, r: u32) -> Mask {
        let r2 = (r * r) as i64;
        Mask::from_hole_fn(m.width, m.height, |x, y| {
            (0..m.height).any(|yy| {
                (0..m.width).any(|xx| {
                    let (dx, dy) = (xx as i64 - x as i64, yy as i64 - y as i64);
                    m.is_hole(xx, yy) && dx * dx + dy * dy <= r2
                })
            })
        })
    }

    #[test]
    fn constructors_and_counts() {
        let m = Mask::new_empty(4, 3);
        assert_eq!(m.hole_count(), 0);
        assert_eq!(m.hole_ratio(), 0.0);
        assert_eq!(m.bbox(), None);
        let m = square(10, 10, 2, 3, 5, 7);
        assert_eq!(m.hole_count(), 12);
        assert!((m.hole_ratio() - 0.12).abs() < 1e-6);
        assert_eq!(m.bbox(), Some((2, 3, 5, 7)));
        assert!(m.is_hole(2, 3) && m.is_hole(4, 6) && !m.is_hole(5, 6) && !m.is_hole(1, 3));
        assert!(!m.is_hole(100, 100));
        assert_eq!(Mask::new_empty(0, 0).hole_ratio(), 0.0);
        assert!(
            Mask::from_holes(2, 2, vec![0, 3, 0, 0])
                .unwrap()
                .is_hole(1, 0)
        );
        assert!(Mask::from_holes(2, 2, vec![0; 3]).is_err());
        let mut m = Mask::new_empty(3, 3);
        m.set_hole(2, 2, true);
        m.set_hole(9, 9, true);
        assert_eq!(m.bbox(), Some((2, 2, 3, 3)));
    }

    #[test]
    fn polarity_helpers() {
        let m = square(3, 1, 1, 0, 2, 1);
        assert_eq!(m.known_f32(), vec![1.0, 0.0, 1.0]);
        assert_eq!(m.hole_f32(), vec![0.0, 1.0, 0.0]);
        assert_eq!(m.invert().hole_f32(), vec![1.0, 0.0, 1.0]);
        assert_eq!(m.invert().invert(), m);
    }

    #[test]
    fn png_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mask.png");
        let mut m = Mask::new_empty(37, 21);
        m.rasterize_stroke(&[(3.0, 3.0), (30.0, 15.0)], 2.5, true);
        m.save(&path).unwrap();
        let back = Mask::load(&path).unwrap();
        assert_eq!(back, m);
        // On disk: white = hole.
        let img = image::open(&path).unwrap().to_luma8();
        assert_eq!(img.get_pixel(3, 3).0[0], 255);
        assert_eq!(img.get_pixel(36, 0).0[0], 0);
        // Only the PNG is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn load_rules_luminance_alpha_threshold() {
        let dir = tempfile::tempdir().unwrap();
        // Grey: 127 is known, 128 is hole.
        let p = dir.path().join("grey.png");
        image::GrayImage::from_raw(3, 1, vec![0, 127, 128])
            .unwrap()
            .save(&p)
            .unwrap();
        let m = Mask::load(&p).unwrap();
        assert_eq!(m.hole_f32(), vec![0.0, 0.0, 1.0]);
        // RGB: luminance, so pure blue (dark) is known and white is a hole.
        let p = dir.path().join("rgb.png");
        image::RgbImage::from_raw(2, 1, vec![0, 0, 255, 255, 255, 255])
            .unwrap()
            .save(&p)
            .unwrap();
        assert_eq!(Mask::load(&p).unwrap().hole_f32(), vec![0.0, 1.0]);
        // RGBA with a used alpha: alpha decides, whatever the colour.
        let p = dir.path().join("rgba.png");
        image::RgbaImage::from_raw(2, 1, vec![255, 255, 255, 0, 0, 0, 0, 200])
            .unwrap()
            .save(&p)
            .unwrap();
        assert_eq!(Mask::load(&p).unwrap().hole_f32(), vec![0.0, 1.0]);
        // RGBA opaque everywhere: luminance decides.
        let p = dir.path().join("opaque.png");
        image::RgbaImage::from_raw(2, 1, vec![255, 255, 255, 255, 0, 0, 0, 255])
            .unwrap()
            .save(&p)
            .unwrap();
        assert_eq!(Mask::load(&p).unwrap().hole_f32(), vec![1.0, 0.0]);
    }

    #[test]
    fn load_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        let err = Mask::load(&missing).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(err.to_string().ends_with(&missing.display().to_string()));
        let junk = dir.path().join("junk.png");
        std::fs::write(&junk, b"not an image at all").unwrap();
        let err = Mask::load(&junk).unwrap_err();
        assert!(matches!(err, Error::Image { .. }), "{err}");
        assert!(err.to_string().ends_with(&junk.display().to_string()));
        assert!(
            Mask::new_empty(0, 0)
                .save(&dir.path().join("e.png"))
                .is_err()
        );
    }

    #[test]
    fn resize_nearest_samples_centres() {
        let m = square(4, 4, 0, 0, 2, 2);
        let up = m.resize_nearest(8, 8);
        assert_eq!(up, square(8, 8, 0, 0, 4, 4));
        assert_eq!(up.resize_nearest(4, 4), m);
        let down = square(4, 4, 1, 1, 2, 2).resize_nearest(2, 2);
        // Centres of 2×2 blocks sample source pixels 1 and 3.
        assert_eq!(down.hole_f32(), vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            Mask::new_empty(0, 0).resize_nearest(3, 2),
            Mask::new_empty(3, 2)
        );
        assert_eq!(m.resize_nearest(0, 5).hole_count(), 0);
    }

    #[test]
    fn grow_and_shrink_use_a_disc() {
        let mut m = Mask::new_empty(15, 15);
        m.set_hole(7, 7, true);
        let g = m.grow(2);
        // Disc of radius 2: 13 pixels (not the 25 of a square).
        assert_eq!(g.hole_count(), 13);
        assert!(g.is_hole(5, 7) && g.is_hole(6, 6) && !g.is_hole(5, 5));
        assert_eq!(m.grow(0), m);
        // Shrink undoes a grow for a disc-shaped hole.
        assert_eq!(g.shrink(2), m);
        // A hole at the border is not eroded from outside the image.
        let edge = square(10, 10, 0, 0, 10, 4);
        assert_eq!(edge.shrink(1), square(10, 10, 0, 0, 10, 3));
        // Matches brute force on an irregular mask.
        let irregular = Mask::from_hole_fn(23, 17, |x, y| (x * 7 + y * 13) % 11 == 0 || x == 20);
        for r in [1, 2, 3, 5] {
            assert_eq!(irregular.grow(r), grow_brute(&irregular, r), "r = {r}");
            assert_eq!(
                irregular.shrink(r),
                grow_brute(&irregular.invert(), r).invert(),
                "r = {r}"
            );
        }
        // No holes: growing changes nothing; all holes: shrinking changes nothing.
        assert_eq!(Mask::new_empty(5, 5).grow(3).hole_count(), 0);
        let full = Mask::new_empty(5, 5).invert();
        assert_eq!(full.shrink(3), full);
    }

    #[test]
    fn feather_is_one_on_holes_and_falls_off() {
        let m = square(20, 1, 5, 0, 8, 1);
        let a = m.feather(4.0);
        assert_eq!(&a[5..8], &[1.0, 1.0, 1.0]);
        assert!((a[8] - 0.75).abs() < 1e-6);
        assert!((a[9] - 0.5).abs() < 1e-6);
        assert!((a[4] - 0.75).abs() < 1e-6);
        assert_eq!(a[12], 0.0);
        assert_eq!(a[0], 0.0);
        assert!(a.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(m.feather(0.0), m.hole_f32());
        assert!(Mask::new_empty(4, 4).feather(3.0).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn tapered_segments_cover_the_hull_of_their_end_discs() {
        // Equal radii: the same pixels as the constant-radius capsule.
        for &(a, b, r) in &[
            ((2.5, 5.5), (15.5, 5.5), 1.5),
            ((3.2, 1.7), (17.9, 8.1), 2.3),
            ((10.0, 4.0), (10.0, 4.0), 3.0),
        ] {
            let mut m1 = Mask::new_empty(20, 10);
            m1.rasterize_stroke(&[a, b], r, true);
            let mut m2 = Mask::new_empty(20, 10);
            m2.rasterize_tapered_segment(a, r, b, r, true);
            assert_eq!(m1.holes(), m2.holes(), "{a:?} {b:?} {r}");
        }
        // Unequal radii against brute force: a pixel is covered exactly when some disc along
        // the segment (radius interpolated) contains its centre.
        let (a, ra, b, rb) = ((6.0f32, 12.0f32), 1.0f32, (30.0f32, 14.0f32), 7.0f32);
        let mut m = Mask::new_empty(40, 28);
        m.rasterize_tapered_segment(a, ra, b, rb, true);
        let mut ambiguous = 0;
        for y in 0..28u32 {
            for x in 0..40u32 {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let slack = (0..=4000)
                    .map(|i| {
                        let t = i as f32 / 4000.0;
                        let (cx, cy) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
                        ((px - cx).powi(2) + (py - cy).powi(2)).sqrt() - (ra + t * (rb - ra))
                    })
                    .fold(f32::INFINITY, f32::min);
                if slack.abs() < 1e-2 {
                    ambiguous += 1;
                    continue;
                }
                assert_eq!(m.is_hole(x, y), slack < 0.0, "pixel {x},{y} slack {slack}");
            }
        }
        assert!(ambiguous < 5);
        // Wider at the thick end than at the thin end.
        let col = |x: u32| (0..28).filter(|&y| m.is_hole(x, y)).count();
        assert_eq!(col(6), 2);
        assert!(col(29) >= 13);
        // One disc inside the other: the bigger disc.
        let mut m1 = Mask::new_empty(20, 20);
        m1.rasterize_tapered_segment((10.0, 10.0), 6.0, (11.0, 10.0), 1.0, true);
        let mut m2 = Mask::new_empty(20, 20);
        m2.rasterize_stroke(&[(10.0, 10.0)], 6.0, true);
        assert_eq!(m1.holes(), m2.holes());
        // Bad radii paint nothing.
        let mut m = Mask::new_empty(8, 8);
        m.rasterize_tapered_segment((2.0, 2.0), f32::NAN, (5.0, 5.0), 2.0, true);
        m.rasterize_tapered_segment((2.0, 2.0), 1.0, (5.0, 5.0), -2.0, true);
        assert_eq!(m.hole_count(), 0);
    }

    #[test]
    fn strokes_paint_capsules_and_erase() {
        let mut m = Mask::new_empty(20, 10);
        // A single point paints a disc around the pixel centre.
        m.rasterize_stroke(&[(10.5, 5.5)], 1.0, true);
        assert_eq!(m.hole_count(), 5);
        assert!(m.is_hole(10, 5) && m.is_hole(11, 5) && m.is_hole(10, 4) && !m.is_hole(11, 4));
        // A horizontal capsule of radius 1.5 between x = 2.5 and 15.5 on row 5.
        let mut m = Mask::new_empty(20, 10);
        m.rasterize_stroke(&[(2.5, 5.5), (15.5, 5.5)], 1.5, true);
        for x in 2..=15 {
            assert!(
                m.is_hole(x, 4) && m.is_hole(x, 5) && m.is_hole(x, 6),
                "x = {x}"
            );
            assert!(!m.is_hole(x, 3) && !m.is_hole(x, 7));
        }
        assert!(m.is_hole(1, 5) && m.is_hole(1, 4) && !m.is_hole(0, 5) && !m.is_hole(0, 4));
        // Erasing with value = false.
        m.rasterize_stroke(&[(8.5, 0.0), (8.5, 10.0)], 0.5, false);
        assert!(!m.is_hole(8, 5) && m.is_hole(7, 5) && m.is_hole(9, 5));
        // Strokes leaving the image are clipped; bad radii paint nothing.
        let mut m = Mask::new_empty(5, 5);
        m.rasterize_stroke(&[(-10.0, -10.0), (100.0, 100.0)], 0.8, true);
        assert!(m.is_hole(0, 0) && m.is_hole(4, 4) && !m.is_hole(4, 0));
        let before = m.clone();
        m.rasterize_stroke(&[(2.0, 2.0)], -1.0, true);
        m.rasterize_stroke(&[(2.0, 2.0)], f32::NAN, true);
        m.rasterize_stroke(&[], 3.0, true);
        assert_eq!(m, before);
    }
}
