//! `pdpaint bench --detail`: the full-resolution detail stage on large photos.
//!
//! Two cases from the detail issue: a 512×512 hole in a 12 Mpx (4000×3000) photo and a
//! 1500×1000 hole in a 24 Mpx (6000×4000) photo. Each runs the whole `inpaint` path with the
//! embedded default model (prior, one sample, paste back, detail) and reports the medians of
//! the generator's time per sample, the paste-back and the detail synthesis, the ratio of
//! detail to generator, and the process's peak resident memory during the case (Linux:
//! `VmHWM`, reset before each case).
//!
//! The photo is a procedural texture (coloured multi-octave value noise), or `--detail-photo`
//! resized to the case's size: the synthesis time depends on the hole and region sizes, not on
//! the content.

use std::time::Instant;

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};
use serde::Serialize;

use pdpaint::detail::DetailParams;
use pdpaint::imageops;
use pdpaint::inference::{InpaintOptions, Inpainter};
use pdpaint::mask::Mask;
use pdpaint::model::embedded;

use super::bench::median;

/// One timed case.
#[derive(Debug, Serialize)]
pub struct DetailCase {
    /// Photo width × height.
    pub photo: [u32; 2],
    /// Hole bounding box width × height.
    pub hole: [u32; 2],
    /// Median generator time per sample (excluding the prior), ms.
    pub generator_ms: f64,
    /// Median time to paste the raw sample into the photo, ms.
    pub paste_ms: f64,
    /// Median detail synthesis time per sample, ms.
    pub detail_ms: f64,
    /// `detail_ms / generator_ms`.
    pub detail_over_generator: f64,
    /// Peak resident memory of the process during the case, MiB (None off Linux).
    pub peak_rss_mib: Option<f64>,
}

/// Coloured value noise with four octaves: a deterministic stand-in for a photo.
fn noise_photo(w: u32, h: u32) -> RgbImage {
    let hash = |x: i64, y: i64, o: u64| -> f32 {
        let mut z = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ o.wrapping_mul(0x1656_67B1_9E37_79F9);
        z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        ((z >> 40) as f32) / ((1u64 << 24) as f32)
    };
    let value = |fx: f32, fy: f32, o: u64| -> f32 {
        let (x0, y0) = (fx.floor(), fy.floor());
        let (ax, ay) = (fx - x0, fy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let top = hash(x0, y0, o) * (1.0 - ax) + hash(x0 + 1, y0, o) * ax;
        let bottom = hash(x0, y0 + 1, o) * (1.0 - ax) + hash(x0 + 1, y0 + 1, o) * ax;
        top * (1.0 - ay) + bottom * ay
    };
    RgbImage::from_fn(w, h, |x, y| {
        let mut c = [0.0f32; 3];
        for (k, ch) in c.iter_mut().enumerate() {
            let mut amp = 0.5;
            let mut period = 400.0;
            for oct in 0..4u64 {
                *ch += amp * value(x as f32 / period, y as f32 / period, oct * 3 + k as u64);
                amp *= 0.5;
                period /= 4.0;
            }
        }
        Rgb(c.map(|v| (v * 255.0 / 0.94).clamp(0.0, 255.0) as u8))
    })
}

/// Resets the peak resident memory counter (Linux) so the next read covers one case.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory since the last reset, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs both cases with `repeats` timed detail runs each (after one warm-up sample).
pub fn run(
    device: &burn::tensor::Device,
    photo_path: Option<&std::path::Path>,
    repeats: usize,
) -> Result<Vec<DetailCase>> {
    let (file, model) = embedded::load(device)?;
    let inp = Inpainter::new(model, file, device.clone());
    let source = match photo_path {
        Some(p) => Some(imageops::load_image(p)?),
        None => None,
    };
    let mut cases = Vec::new();
    for (w, h, hw, hh) in [(4000u32, 3000u32, 512u32, 512u32), (6000, 4000, 1500, 1000)] {
        eprintln!("detail: {hw}×{hh} hole in a {w}×{h} photo…");
        let photo = match &source {
            Some(s) => image::imageops::resize(s, w, h, image::imageops::FilterType::Triangle),
            None => noise_photo(w, h),
        };
        let (x0, y0) = ((w - hw) / 2, (h - hh) / 2);
        let mask = Mask::from_hole_fn(w, h, |x, y| {
            x >= x0 && x < x0 + hw && y >= y0 && y < y0 + hh
        });
        reset_peak_rss();
        let opts = InpaintOptions::default();
        let session = inp.session(&photo, &mask, &opts)?;
        let params = DetailParams::default();
        let (mut gen_ms, mut paste_ms, mut detail_ms) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..repeats.max(1) + 1 {
            let seed = k as u64;
            let t = Instant::now();
            let raw = session.raw_fills(&[seed])?;
            let g = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let sample = session.finish_raw(seed, &raw[0])?;
            let p = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let out = pdpaint::inference::detail_sample(
                &photo,
                &mask,
                &sample.photo,
                session.scale(),
                seed,
                &params,
                &mut |_| true,
            )
            .context("detail synthesis")?;
            let d = t.elapsed().as_secs_f64() * 1e3;
            std::hint::black_box(out);
            if k > 0 {
                gen_ms.push(g);
                paste_ms.push(p);
                detail_ms.push(d);
            }
        }
        let (g, p, d) = (median(gen_ms), median(paste_ms), median(detail_ms));
        cases.push(DetailCase {
            photo: [w, h],
            hole: [hw, hh],
            generator_ms: g,
            paste_ms: p,
            detail_ms: d,
            detail_over_generator: d / g,
            peak_rss_mib: peak_rss_mib(),
        });
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_noise_photo_is_deterministic_and_textured() {
        let a = noise_photo(64, 48);
        assert_eq!(a, noise_photo(64, 48));
        let first = *a.get_pixel(0, 0);
        assert!(a.pixels().any(|p| *p != first));
        // Neighbouring pixels differ (there is fine texture).
        let diffs = (0..63)
            .filter(|&x| a.get_pixel(x, 10) != a.get_pixel(x + 1, 10))
            .count();
        assert!(diffs > 20, "{diffs}");
    }
}
