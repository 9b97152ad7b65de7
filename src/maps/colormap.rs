//! Colormaps for looking at probability maps.
//!
//! Viridis and magma are sampled from matplotlib's tables (Stéfan van der Walt and Nathaniel
//! Smith, released under CC0) at every 15th of their 256 entries, giving 18 evenly spaced stops
//! that are interpolated linearly; the result is within a few levels of the full tables.
//!
//! Hard maps span `1 … e^−N` (down to about 0.0009), so on a linear scale every ring but the
//! first looks black. [`log_scale`] spreads them evenly:
//!
//! ```
//! use pdpaint::maps::{Colormap, Decay, log_scale};
//! let floor = Decay::Exp.coef(7);
//! // With c_i = e^−i, ring i lands at 1 − i/7.
//! assert!((log_scale(Decay::Exp.coef(2), floor) - 5.0 / 7.0).abs() < 1e-6);
//! let rgb = Colormap::Viridis.map(log_scale(1.0, floor));
//! assert_eq!(rgb, [253, 231, 37]);
//! ```

/// A colormap from `[0, 1]` to 8-bit RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Perceptually uniform dark blue → green → yellow.
    #[default]
    Viridis,
    /// Perceptually uniform black → purple → orange → light yellow.
    Magma,
    /// Black → white.
    Grey,
}

/// Viridis at entries 0, 15, 30, …, 255 of matplotlib's 256-entry table.
const VIRIDIS: [[u8; 3]; 18] = [
    [68, 1, 84],
    [72, 23, 105],
    [71, 42, 122],
    [67, 61, 132],
    [61, 78, 138],
    [53, 94, 141],
    [46, 109, 142],
    [41, 123, 142],
    [35, 137, 142],
    [31, 151, 139],
    [33, 165, 133],
    [46, 179, 124],
    [70, 192, 111],
    [101, 203, 94],
    [137, 213, 72],
    [176, 221, 47],
    [216, 226, 25],
    [253, 231, 37],
];

/// Magma at entries 0, 15, 30, …, 255 of matplotlib's 256-entry table.
const MAGMA: [[u8; 3]; 18] = [
    [0, 0, 4],
    [9, 7, 32],
    [26, 16, 66],
    [49, 17, 101],
    [74, 16, 121],
    [98, 25, 128],
    [121, 34, 130],
    [145, 43, 129],
    [170, 51, 125],
    [194, 59, 117],
    [217, 70, 107],
    [236, 88, 96],
    [247, 114, 92],
    [252, 142, 100],
    [254, 170, 116],
    [254, 198, 138],
    [253, 226, 163],
    [252, 253, 191],
];

impl Colormap {
    /// The colour of `v`, clamped to `[0, 1]` (NaN maps like 0).
    pub fn map(&self, v: f32) -> [u8; 3] {
        let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        let stops: &[[u8; 3]; 18] = match self {
            Colormap::Grey => {
                let g = (v * 255.0).round() as u8;
                return [g, g, g];
            }
            Colormap::Viridis => &VIRIDIS,
            Colormap::Magma => &MAGMA,
        };
        let pos = v * (stops.len() - 1) as f32;
        let i = (pos.floor() as usize).min(stops.len() - 2);
        let t = pos - i as f32;
        let (a, b) = (stops[i], stops[i + 1]);
        std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * t).round() as u8)
    }
}

/// Renders a row-major `w`×`h` field of values as an RGB image, mapping `lo` → 0 and `hi` → 1
/// (`hi < lo` reverses the colormap; `hi == lo` maps everything like 0).
///
/// # Panics
///
/// If `values.len() != w·h`.
pub fn to_rgb_image(
    values: &[f32],
    w: u32,
    h: u32,
    cmap: Colormap,
    lo: f32,
    hi: f32,
) -> image::RgbImage {
    assert_eq!(
        values.len(),
        w as usize * h as usize,
        "to_rgb_image: {} values for a {w}×{h} image",
        values.len()
    );
    let range = hi - lo;
    let mut img = image::RgbImage::new(w, h);
    for (px, &v) in img.pixels_mut().zip(values) {
        let t = if range != 0.0 { (v - lo) / range } else { 0.0 };
        *px = image::Rgb(cmap.map(t));
    }
    img
}

/// Log scale for hard maps: maps `[floor, 1]` to `[0, 1]` by `ln(v/floor) / ln(1/floor)`.
///
/// Values below `floor` (and NaN) give 0, values above 1 give 1. With the code's decay
/// (`c_i = e^−i`) and `floor = e^−N`, known pixels land at 1 and ring `i` at `1 − i/N`, so the
/// rings are evenly spaced in colour; the interior (which also gets `e^−N`) lands at 0.
/// A `floor` outside `(0, 1)` has no log range: the value is just clamped to `[0, 1]`.
pub fn log_scale(v: f32, floor: f32) -> f32 {
    if v.is_nan() {
        return 0.0;
    }
    if !(floor > 0.0 && floor < 1.0) {
        return v.clamp(0.0, 1.0);
    }
    let t = (v.max(floor) / floor).ln() / (1.0 / floor).ln();
    t.clamp(0.0, 1.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_clamping() {
        assert_eq!(Colormap::Viridis.map(0.0), [68, 1, 84]);
        assert_eq!(Colormap::Viridis.map(1.0), [253, 231, 37]);
        assert_eq!(Colormap::Magma.map(0.0), [0, 0, 4]);
        assert_eq!(Colormap::Magma.map(1.0), [252, 253, 191]);
        assert_eq!(Colormap::Grey.map(0.5), [128, 128, 128]);
        assert_eq!(Colormap::Viridis.map(-3.0), Colormap::Viridis.map(0.0));
        assert_eq!(Colormap::Magma.map(7.0), Colormap::Magma.map(1.0));
        assert_eq!(Colormap::Grey.map(f32::NAN), [0, 0, 0]);
    }

    #[test]
    fn hits_stops_and_matches_known_midpoint() {
        // Stop 9 is entry 135; viridis(0.5) in matplotlib is about (33, 145, 140).
        assert_eq!(Colormap::Viridis.map(9.0 / 17.0), [31, 151, 139]);
        let mid = Colormap::Viridis.map(0.5);
        for (c, want) in mid.iter().zip([33u8, 145, 140]) {
            assert!(c.abs_diff(want) <= 3, "{mid:?}");
        }
    }

    #[test]
    fn grey_is_monotonic_and_magma_brightens() {
        let lum = |c: [u8; 3]| c.iter().map(|&x| x as u32).sum::<u32>();
        let mut last = 0;
        for i in 0..=100 {
            let v = i as f32 / 100.0;
            let g = lum(Colormap::Grey.map(v));
            assert!(g >= last);
            last = g;
        }
        assert!(lum(Colormap::Magma.map(0.9)) > lum(Colormap::Magma.map(0.1)));
    }

    #[test]
    fn image_and_log_scale() {
        let img = to_rgb_image(&[0.0, 0.5, 1.0, 2.0], 2, 2, Colormap::Grey, 0.0, 2.0);
        assert_eq!(img.dimensions(), (2, 2));
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(1, 1).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(0, 1).0, [128, 128, 128]);
        let rev = to_rgb_image(&[0.0], 1, 1, Colormap::Grey, 1.0, 0.0);
        assert_eq!(rev.get_pixel(0, 0).0, [255, 255, 255]);

        let floor = (-7.0f32).exp();
        assert_eq!(log_scale(1.0, floor), 1.0);
        assert_eq!(log_scale(floor, floor), 0.0);
        assert_eq!(log_scale(0.0, floor), 0.0);
        assert!((log_scale((-3.5f32).exp(), floor) - 0.5).abs() < 1e-6);
        assert_eq!(log_scale(0.3, 0.0), 0.3);
        assert_eq!(log_scale(f32::NAN, floor), 0.0);
    }
}
