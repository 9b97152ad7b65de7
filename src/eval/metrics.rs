//! Image quality and diversity measures on CHW float images in [0, 1].
//!
//! * [`hole_psnr`], [`hole_l1`]: over the hole pixels only (all three channels), on the
//!   [0, 1] scale (so L1 is a fraction of the full range and PSNR uses a peak of 1).
//! * [`ssim_map`] / [`ssim_in_box`]: SSIM of Wang et al. (2004) with the usual 11×11 Gaussian
//!   window (σ = 1.5), K1 = 0.01, K2 = 0.03, dynamic range 1, computed per channel and
//!   averaged over channels. The window is evaluated at every pixel with edge replication at
//!   the image border. The evaluation reports the SSIM map averaged over the hole's bounding
//!   box (the known pixels outside it are identical by construction and would only dilute the
//!   number towards 1).
//! * [`mean_pairwise_l1`]: diversity of N samples inside the hole.
//! * [`hole_edge_distance`] and [`BandStats`]: diversity as a function of the Euclidean
//!   distance of a hole pixel to the nearest known pixel, in the bands of [`EDGE_BANDS`].

use image::RgbImage;

use crate::error::{Error, Result};

/// PSNR is capped here (identical images would otherwise give +∞ and break the means).
pub const PSNR_CAP_DB: f64 = 100.0;

/// Side of the SSIM Gaussian window.
pub const SSIM_WINDOW: usize = 11;

/// Standard deviation of the SSIM Gaussian window.
pub const SSIM_SIGMA: f64 = 1.5;

/// A CHW float image: `c` planes of `h×w` values, row-major, normally in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Planes {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// `c·h·w` values.
    pub data: Vec<f32>,
}

impl Planes {
    /// Wraps `data`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `data.len() != c·h·w`.
    pub fn new(c: usize, h: usize, w: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != c * h * w {
            return Err(Error::Shape(format!(
                "expected {c}×{h}×{w} = {} values, got {}",
                c * h * w,
                data.len()
            )));
        }
        Ok(Self { c, h, w, data })
    }

    /// An 8-bit RGB image as three planes in [0, 1] (`byte / 255`).
    pub fn from_rgb(img: &RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let plane = w * h;
        let mut data = vec![0.0f32; 3 * plane];
        for (i, p) in img.pixels().enumerate() {
            for c in 0..3 {
                data[c * plane + i] = f32::from(p[c]) / 255.0;
            }
        }
        Self { c: 3, h, w, data }
    }

    /// Back to an 8-bit RGB image (each value clamped to [0, 1], ×255, rounded).
    ///
    /// # Errors
    /// [`Error::Shape`] unless there are exactly three planes.
    pub fn to_rgb(&self) -> Result<RgbImage> {
        if self.c != 3 {
            return Err(Error::Shape(format!(
                "an RGB image needs 3 planes, got {}",
                self.c
            )));
        }
        let n = self.plane_len();
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let w = u32::try_from(self.w).map_err(|_| Error::Shape("image too wide".into()))?;
        let h = u32::try_from(self.h).map_err(|_| Error::Shape("image too tall".into()))?;
        Ok(RgbImage::from_fn(w, h, |x, y| {
            let i = y as usize * self.w + x as usize;
            image::Rgb([
                byte(self.data[i]),
                byte(self.data[n + i]),
                byte(self.data[2 * n + i]),
            ])
        }))
    }

    /// One constant plane-set, e.g. for tests.
    pub fn constant(c: usize, h: usize, w: usize, v: f32) -> Self {
        Self {
            c,
            h,
            w,
            data: vec![v; c * h * w],
        }
    }

    /// Pixels per plane.
    pub fn plane_len(&self) -> usize {
        self.h * self.w
    }

    /// Plane `k`.
    pub fn plane(&self, k: usize) -> &[f32] {
        let n = self.plane_len();
        &self.data[k * n..(k + 1) * n]
    }

    /// The values mapped to the model's [-1, 1] range (`2v − 1`).
    pub fn to_unit_range(&self) -> Vec<f32> {
        self.data.iter().map(|v| 2.0 * v - 1.0).collect()
    }
}

fn check_pair(a: &Planes, b: &Planes) -> Result<()> {
    if (a.c, a.h, a.w) != (b.c, b.h, b.w) {
        return Err(Error::Shape(format!(
            "images differ in size: {}×{}×{} vs {}×{}×{}",
            a.c, a.h, a.w, b.c, b.h, b.w
        )));
    }
    Ok(())
}

fn check_hole(a: &Planes, hole: &[bool]) -> Result<usize> {
    if hole.len() != a.plane_len() {
        return Err(Error::Shape(format!(
            "hole mask has {} pixels, image has {}×{}",
            hole.len(),
            a.h,
            a.w
        )));
    }
    let n = hole.iter().filter(|&&h| h).count();
    if n == 0 {
        return Err(Error::Input(
            "the hole mask is empty: nothing to measure".into(),
        ));
    }
    Ok(n)
}

/// Mean over hole pixels and channels of `f(a − b)`.
fn hole_mean(a: &Planes, b: &Planes, hole: &[bool], f: impl Fn(f64) -> f64) -> Result<f64> {
    check_pair(a, b)?;
    let n = check_hole(a, hole)?;
    let mut sum = 0.0f64;
    for k in 0..a.c {
        for ((&x, &y), &m) in a.plane(k).iter().zip(b.plane(k)).zip(hole) {
            if m {
                sum += f(f64::from(x) - f64::from(y));
            }
        }
    }
    Ok(sum / (n * a.c) as f64)
}

/// Mean squared error over the hole pixels (all channels).
///
/// # Errors
/// [`Error::Shape`] on mismatched sizes; [`Error::Input`] for an empty hole.
pub fn hole_mse(a: &Planes, b: &Planes, hole: &[bool]) -> Result<f64> {
    hole_mean(a, b, hole, |d| d * d)
}

/// PSNR in dB for a mean squared error on the [0, 1] scale: `10·log10(1 / mse)`, capped at
/// [`PSNR_CAP_DB`].
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        return PSNR_CAP_DB;
    }
    (10.0 * (1.0 / mse).log10()).min(PSNR_CAP_DB)
}

/// PSNR over the hole pixels (peak 1, capped at [`PSNR_CAP_DB`]).
///
/// # Errors
/// As [`hole_mse`].
pub fn hole_psnr(a: &Planes, b: &Planes, hole: &[bool]) -> Result<f64> {
    Ok(psnr_from_mse(hole_mse(a, b, hole)?))
}

/// Mean absolute error over the hole pixels (all channels), on the [0, 1] scale.
///
/// # Errors
/// As [`hole_mse`].
pub fn hole_l1(a: &Planes, b: &Planes, hole: &[bool]) -> Result<f64> {
    hole_mean(a, b, hole, f64::abs)
}

/// The normalised 1-D Gaussian of the SSIM window.
fn gaussian_window() -> [f64; SSIM_WINDOW] {
    let mut g = [0.0; SSIM_WINDOW];
    let r = (SSIM_WINDOW / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        let x = i as f64 - r;
        *v = (-x * x / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let s: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= s);
    g
}

/// Separable Gaussian blur with edge replication.
fn blur(x: &[f64], h: usize, w: usize, g: &[f64; SSIM_WINDOW]) -> Vec<f64> {
    let r = (SSIM_WINDOW / 2) as isize;
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut tmp = vec![0.0f64; h * w];
    for y in 0..h {
        for xx in 0..w {
            let mut s = 0.0;
            for (t, gv) in g.iter().enumerate() {
                s += gv * x[y * w + clamp(xx as isize + t as isize - r, w)];
            }
            tmp[y * w + xx] = s;
        }
    }
    let mut out = vec![0.0f64; h * w];
    for y in 0..h {
        for xx in 0..w {
            let mut s = 0.0;
            for (t, gv) in g.iter().enumerate() {
                s += gv * tmp[clamp(y as isize + t as isize - r, h) * w + xx];
            }
            out[y * w + xx] = s;
        }
    }
    out
}

/// The SSIM map (one value per pixel, the mean over channels).
///
/// # Errors
/// [`Error::Shape`] on mismatched or empty images.
pub fn ssim_map(a: &Planes, b: &Planes) -> Result<Vec<f64>> {
    check_pair(a, b)?;
    let (h, w) = (a.h, a.w);
    if h == 0 || w == 0 || a.c == 0 {
        return Err(Error::Shape("SSIM of an empty image".into()));
    }
    let c1 = (0.01f64).powi(2);
    let c2 = (0.03f64).powi(2);
    let g = gaussian_window();
    let mut map = vec![0.0f64; h * w];
    for k in 0..a.c {
        let x: Vec<f64> = a.plane(k).iter().map(|&v| f64::from(v)).collect();
        let y: Vec<f64> = b.plane(k).iter().map(|&v| f64::from(v)).collect();
        let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
        let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
        let xy: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p * q).collect();
        let (mx, my) = (blur(&x, h, w, &g), blur(&y, h, w, &g));
        let (sxx, syy, sxy) = (
            blur(&xx, h, w, &g),
            blur(&yy, h, w, &g),
            blur(&xy, h, w, &g),
        );
        for i in 0..h * w {
            let vx = sxx[i] - mx[i] * mx[i];
            let vy = syy[i] - my[i] * my[i];
            let cxy = sxy[i] - mx[i] * my[i];
            let num = (2.0 * mx[i] * my[i] + c1) * (2.0 * cxy + c2);
            let den = (mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2);
            map[i] += num / den;
        }
    }
    map.iter_mut().for_each(|v| *v /= a.c as f64);
    Ok(map)
}

/// Mean SSIM over the whole image.
///
/// # Errors
/// As [`ssim_map`].
pub fn ssim(a: &Planes, b: &Planes) -> Result<f64> {
    let m = ssim_map(a, b)?;
    Ok(m.iter().sum::<f64>() / m.len() as f64)
}

/// Mean of the SSIM map over the box `(x0, y0, x1, y1)` (exclusive ends, clamped to the image).
///
/// # Errors
/// As [`ssim_map`]; [`Error::Input`] when the clamped box is empty.
pub fn ssim_in_box(a: &Planes, b: &Planes, bbox: (usize, usize, usize, usize)) -> Result<f64> {
    let m = ssim_map(a, b)?;
    let (x0, y0) = (bbox.0.min(a.w), bbox.1.min(a.h));
    let (x1, y1) = (bbox.2.min(a.w), bbox.3.min(a.h));
    if x0 >= x1 || y0 >= y1 {
        return Err(Error::Input("SSIM over an empty box".into()));
    }
    let mut s = 0.0;
    for y in y0..y1 {
        s += m[y * a.w + x0..y * a.w + x1].iter().sum::<f64>();
    }
    Ok(s / ((x1 - x0) * (y1 - y0)) as f64)
}

/// The bounding box `(x0, y0, x1, y1)` (exclusive ends) of the `true` pixels of a `w`-wide
/// mask, or `None` when there are none.
pub fn bool_bbox(hole: &[bool], w: usize) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for (i, _) in hole.iter().enumerate().filter(|(_, h)| **h) {
        let (x, y) = (i % w.max(1), i / w.max(1));
        b = Some(match b {
            None => (x, y, x + 1, y + 1),
            Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)),
        });
    }
    b
}

/// Mean over all pairs of samples of their mean absolute difference inside the hole (all
/// channels, [0, 1] scale); `None` for fewer than two samples.
///
/// # Errors
/// As [`hole_l1`].
pub fn mean_pairwise_l1(samples: &[Planes], hole: &[bool]) -> Result<Option<f64>> {
    if samples.len() < 2 {
        return Ok(None);
    }
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for i in 0..samples.len() {
        for j in i + 1..samples.len() {
            sum += hole_l1(&samples[i], &samples[j], hole)?;
            pairs += 1;
        }
    }
    Ok(Some(sum / pairs as f64))
}

/// Bands of distance (in pixels, Euclidean) from a hole pixel to the nearest known pixel:
/// `(lo, hi]`; a hole pixel next to a known one has distance 1.
pub const EDGE_BANDS: [(f64, f64); 6] = [
    (0.0, 2.0),
    (2.0, 4.0),
    (4.0, 8.0),
    (8.0, 16.0),
    (16.0, 32.0),
    (32.0, f64::INFINITY),
];

/// A label for band `k` of [`EDGE_BANDS`], e.g. `"1-2 px"`, `">32 px"`.
pub fn band_label(k: usize) -> String {
    match EDGE_BANDS.get(k) {
        Some((lo, hi)) if hi.is_finite() => format!("{}-{} px", *lo as i64 + 1, *hi as i64),
        Some((lo, _)) => format!(">{} px", *lo as i64),
        None => String::from("?"),
    }
}

/// The band of [`EDGE_BANDS`] that distance `d` falls in (`None` for `d ≤ 0`, a known pixel).
pub fn band_of(d: f64) -> Option<usize> {
    EDGE_BANDS.iter().position(|&(lo, hi)| d > lo && d <= hi)
}

/// Euclidean distance from each pixel to the nearest known pixel (0 on known pixels;
/// `f64::INFINITY` everywhere when there is no known pixel).
pub fn hole_edge_distance(hole: &[bool], w: usize, h: usize) -> Vec<f64> {
    let known: Vec<bool> = hole.iter().map(|&v| !v).collect();
    if !known.iter().any(|&k| k) {
        return vec![f64::INFINITY; hole.len()];
    }
    crate::mask::squared_distance_transform(&known, w, h)
        .into_iter()
        .map(f64::sqrt)
        .collect()
}

/// Per-band diversity of samples, accumulated over images: the per-pixel standard deviation
/// over samples and the per-pixel mean pairwise absolute difference, each averaged over
/// channels and then over the band's pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BandStats {
    /// Hole pixels seen per band.
    pub pixels: [u64; EDGE_BANDS.len()],
    /// Sum over those pixels of the per-pixel standard deviation.
    pub std_sum: [f64; EDGE_BANDS.len()],
    /// Sum over those pixels of the per-pixel mean pairwise absolute difference.
    pub pairwise_sum: [f64; EDGE_BANDS.len()],
}

impl BandStats {
    /// Adds the samples of one image with its hole-edge distances (see
    /// [`hole_edge_distance`]). Fewer than two samples add nothing.
    ///
    /// # Errors
    /// [`Error::Shape`] when the samples or `dist` differ in size.
    pub fn add(&mut self, samples: &[Planes], dist: &[f64]) -> Result<()> {
        let Some(first) = samples.first() else {
            return Ok(());
        };
        for s in samples {
            check_pair(first, s)?;
        }
        if dist.len() != first.plane_len() {
            return Err(Error::Shape(format!(
                "distance map has {} pixels, samples have {}×{}",
                dist.len(),
                first.h,
                first.w
            )));
        }
        let n = samples.len();
        if n < 2 {
            return Ok(());
        }
        let plane = first.plane_len();
        let pairs = (n * (n - 1) / 2) as f64;
        let mut vals = vec![0.0f64; n];
        for (i, &d) in dist.iter().enumerate() {
            let Some(b) = band_of(d) else { continue };
            let (mut sd, mut pw) = (0.0, 0.0);
            for k in 0..first.c {
                for (v, s) in vals.iter_mut().zip(samples) {
                    *v = f64::from(s.data[k * plane + i]);
                }
                let mean = vals.iter().sum::<f64>() / n as f64;
                sd += (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
                let mut p = 0.0;
                for a in 0..n {
                    for c in a + 1..n {
                        p += (vals[a] - vals[c]).abs();
                    }
                }
                pw += p / pairs;
            }
            self.pixels[b] += 1;
            self.std_sum[b] += sd / first.c as f64;
            self.pairwise_sum[b] += pw / first.c as f64;
        }
        Ok(())
    }

    /// Merges another accumulator into this one.
    pub fn merge(&mut self, o: &BandStats) {
        for k in 0..EDGE_BANDS.len() {
            self.pixels[k] += o.pixels[k];
            self.std_sum[k] += o.std_sum[k];
            self.pairwise_sum[k] += o.pairwise_sum[k];
        }
    }

    /// Mean per-pixel standard deviation in band `k` (`None` when the band is empty).
    pub fn mean_std(&self, k: usize) -> Option<f64> {
        (self.pixels[k] > 0).then(|| self.std_sum[k] / self.pixels[k] as f64)
    }

    /// Mean per-pixel pairwise absolute difference in band `k` (`None` when empty).
    pub fn mean_pairwise(&self, k: usize) -> Option<f64> {
        (self.pixels[k] > 0).then(|| self.pairwise_sum[k] / self.pixels[k] as f64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn rgb_round_trips_through_planes() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 50, y as u8 * 90, 7]));
        assert_eq!(Planes::from_rgb(&img).to_rgb().unwrap(), img);
        let mut p = Planes::constant(3, 1, 2, 0.5);
        p.data[0] = -0.2;
        p.data[1] = 1.7;
        let back = p.to_rgb().unwrap();
        assert_eq!(back.get_pixel(0, 0).0, [0, 128, 128]);
        assert_eq!(back.get_pixel(1, 0).0, [255, 128, 128]);
        assert!(Planes::constant(1, 2, 2, 0.0).to_rgb().is_err());
    }

    fn noise(seed: u64, h: usize, w: usize) -> Planes {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let data = (0..3 * h * w).map(|_| rng.random::<f32>()).collect();
        Planes::new(3, h, w, data).unwrap()
    }

    fn smooth(h: usize, w: usize) -> Planes {
        let mut d = Vec::new();
        for k in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    d.push(
                        0.5 + 0.4 * ((x as f32 * 0.2 + k as f32).sin() * (y as f32 * 0.15).cos()),
                    );
                }
            }
        }
        Planes::new(3, h, w, d).unwrap()
    }

    #[test]
    fn psnr_and_l1_of_a_known_error() {
        let (h, w) = (4, 5);
        let a = Planes::constant(3, h, w, 0.5);
        let mut b = a.clone();
        // Hole = the first two rows; error 0.1 there, and a large error outside the hole.
        let hole: Vec<bool> = (0..h * w).map(|i| i < 2 * w).collect();
        for k in 0..3 {
            for (v, &m) in b.data[k * h * w..(k + 1) * h * w].iter_mut().zip(&hole) {
                *v += if m { 0.1 } else { 0.4 };
            }
        }
        let mse = hole_mse(&a, &b, &hole).unwrap();
        assert!((mse - 0.01).abs() < 1e-7, "{mse}");
        assert!((hole_psnr(&a, &b, &hole).unwrap() - 20.0).abs() < 1e-4);
        assert!((hole_l1(&a, &b, &hole).unwrap() - 0.1).abs() < 1e-6);
        assert_eq!(hole_psnr(&a, &a, &hole).unwrap(), PSNR_CAP_DB);
        assert!((psnr_from_mse(1e-4) - 40.0).abs() < 1e-9);
        // Errors, not panics.
        assert!(matches!(
            hole_psnr(&a, &b, &vec![false; h * w]),
            Err(Error::Input(_))
        ));
        assert!(matches!(hole_l1(&a, &b, &hole[1..]), Err(Error::Shape(_))));
        assert!(matches!(
            hole_l1(&a, &Planes::constant(3, h, w + 1, 0.0), &hole),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn ssim_is_one_on_identical_images_and_drops_with_noise() {
        let x = smooth(32, 40);
        assert!((ssim(&x, &x).unwrap() - 1.0).abs() < 1e-9);
        assert!((ssim_in_box(&x, &x, (5, 5, 20, 20)).unwrap() - 1.0).abs() < 1e-9);
        let mut prev = 1.0;
        for amp in [0.02f32, 0.05, 0.1, 0.3] {
            let n = noise(3, 32, 40);
            let mut y = x.clone();
            for (v, e) in y.data.iter_mut().zip(&n.data) {
                *v = (*v + amp * (e - 0.5)).clamp(0.0, 1.0);
            }
            let s = ssim(&x, &y).unwrap();
            assert!(s < prev && s > -1.0, "amp {amp}: {s} !< {prev}");
            prev = s;
        }
        assert!(prev < 0.6, "{prev}");
        // Symmetric.
        let y = noise(4, 32, 40);
        assert!((ssim(&x, &y).unwrap() - ssim(&y, &x).unwrap()).abs() < 1e-12);
        // A box only sees its own area: noise outside the box does not matter.
        let mut z = x.clone();
        for k in 0..3 {
            for yy in 0..32 {
                for xx in 20..40 {
                    z.data[k * 32 * 40 + yy * 40 + xx] = 0.0;
                }
            }
        }
        assert!((ssim_in_box(&x, &z, (0, 0, 10, 32)).unwrap() - 1.0).abs() < 1e-9);
        assert!(ssim_in_box(&x, &z, (30, 0, 40, 32)).unwrap() < 0.5);
        assert!(ssim_in_box(&x, &z, (40, 0, 50, 32)).is_err());
    }

    #[test]
    fn pairwise_l1() {
        let hole = vec![true; 4];
        let s = [
            Planes::constant(3, 2, 2, 0.0),
            Planes::constant(3, 2, 2, 0.5),
            Planes::constant(3, 2, 2, 1.0),
        ];
        // Pairs: 0.5, 1.0, 0.5 → mean 2/3.
        let d = mean_pairwise_l1(&s, &hole).unwrap().unwrap();
        assert!((d - 2.0 / 3.0).abs() < 1e-7);
        assert_eq!(mean_pairwise_l1(&s[..1], &hole).unwrap(), None);
    }

    #[test]
    fn edge_distance_bands_on_a_box() {
        // A 40×40 hole at (10, 10) in a 60×60 image.
        let (w, h) = (60usize, 60usize);
        let hole: Vec<bool> = (0..w * h)
            .map(|i| (10..50).contains(&(i % w)) && (10..50).contains(&(i / w)))
            .collect();
        let d = hole_edge_distance(&hole, w, h);
        for y in 0..h {
            for x in 0..w {
                let want = if hole[y * w + x] {
                    // The nearest known pixel is straight out through the nearest side.
                    (x - 9).min(50 - x).min(y - 9).min(50 - y) as f64
                } else {
                    0.0
                };
                assert!(
                    (d[y * w + x] - want).abs() < 1e-9,
                    "({x},{y}) {}",
                    d[y * w + x]
                );
            }
        }
        assert_eq!(band_of(0.0), None);
        assert_eq!(band_of(1.0), Some(0));
        assert_eq!(band_of(2.0), Some(0));
        assert_eq!(band_of(3.0), Some(1));
        assert_eq!(band_of(8.0), Some(2));
        assert_eq!(band_of(16.5), Some(4));
        assert_eq!(band_of(33.0), Some(5));
        assert_eq!(band_label(0), "1-2 px");
        assert_eq!(band_label(5), ">32 px");
        // Ring k (1-based from the edge) of a 40×40 box has 4·(40 − 2(k−1)) − 4 pixels.
        let ring = |k: usize| 4 * (40 - 2 * (k - 1)) - 4;
        let mut stats = BandStats::default();
        let mut a = Planes::constant(3, h, w, 0.2);
        let b = Planes::constant(3, h, w, 0.6);
        a.data[0] = 0.6; // a known pixel: ignored
        stats.add(&[a, b], &d).unwrap();
        let want_pixels = [
            ring(1) + ring(2),
            ring(3) + ring(4),
            (5..=8).map(ring).sum::<usize>(),
            (9..=16).map(ring).sum::<usize>(),
            (17..=20).map(ring).sum::<usize>(),
            0,
        ];
        for (k, want) in want_pixels.iter().enumerate() {
            assert_eq!(stats.pixels[k], *want as u64, "band {k}");
        }
        assert_eq!(stats.pixels.iter().sum::<u64>(), 1600);
        // Two samples 0.4 apart: std 0.2, pairwise 0.4, in every band.
        for k in 0..5 {
            assert!((stats.mean_std(k).unwrap() - 0.2).abs() < 1e-6);
            assert!((stats.mean_pairwise(k).unwrap() - 0.4).abs() < 1e-6);
        }
        assert_eq!(stats.mean_std(5), None);
        // No known pixel at all.
        assert!(
            hole_edge_distance(&[true; 4], 2, 2)
                .iter()
                .all(|d| d.is_infinite())
        );
    }

    #[test]
    fn bbox_of_bools() {
        let m = [false, false, false, false, true, true, false, true, false];
        assert_eq!(bool_bbox(&m, 3), Some((1, 1, 3, 3)));
        assert_eq!(bool_bbox(&[false; 4], 2), None);
    }
}
