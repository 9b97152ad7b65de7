//! Hard maps for display, computed on the UI thread (or a helper thread for large photos):
//! the full-resolution map with dirty-region updates and a unit's map at its own resolution.
//! Pure functions of the mask; no egui.

use crate::imageops::{self, ContextBox};
use crate::maps::{self, Decay, OFFICIAL_UNITS, UnitMapSpec, hard_map_fast, log_scale};
use crate::mask::Mask;
use crate::ui::doc::PixelRect;

/// Quantises `t ∈ [0, 1]` to a level (NaN gives 0).
pub fn quantize(t: f32) -> u8 {
    if t.is_nan() {
        0
    } else {
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// How far (Chebyshev, in pixels) a mask change can move a unit's hard map: `N·(ks−1)/2`.
pub fn reach(spec: UnitMapSpec) -> u32 {
    (spec.n * (spec.ks.saturating_sub(1) / 2)) as u32
}

/// The known map (1 = known) of a rectangle of the mask, row-major.
fn known_crop(mask: &Mask, r: &PixelRect) -> Vec<f32> {
    let w = mask.width as usize;
    let holes = mask.holes();
    let mut out = Vec::with_capacity(r.area());
    for y in r.y0..r.y1 {
        let row = &holes[y as usize * w..][r.x0 as usize..r.x1 as usize];
        out.extend(row.iter().map(|&v| if v != 0 { 0.0 } else { 1.0 }));
    }
    out
}

/// The full-resolution hard map of a unit's rule on the mask, as levels (log scale).
pub fn hard_full_levels(mask: &Mask, spec: UnitMapSpec, decay: Decay) -> Vec<u8> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let map = hard_map_fast(&mask.known_f32(), h, w, spec.n, spec.ks, decay);
    let floor = decay.coef(spec.n);
    map.iter().map(|&v| quantize(log_scale(v, floor))).collect()
}

/// Recomputes the levels of a full-resolution hard map (`levels`, photo-sized) after the mask
/// changed within `dirty`, and returns the region that was rewritten.
///
/// The map can change only within [`reach`] of a changed pixel, and a value there depends only
/// on mask pixels within `reach` of it, so the map of `dirty` grown by `reach` is computed on the
/// mask crop grown by `2·reach` (clamped to the photo, where the zero padding of
/// [`hard_map_fast`] is the photo's own border) and copied in. The result equals
/// [`hard_full_levels`] of the new mask.
pub fn update_hard_region(
    mask: &Mask,
    spec: UnitMapSpec,
    decay: Decay,
    levels: &mut [u8],
    dirty: PixelRect,
) -> PixelRect {
    let (w, h) = (mask.width, mask.height);
    let reach = reach(spec);
    let out = dirty.clamp(w, h).expand(reach, w, h);
    if out.is_empty() || levels.len() != w as usize * h as usize {
        return PixelRect::full(0, 0);
    }
    let input = out.expand(reach, w, h);
    let known = known_crop(mask, &input);
    let (iw, ih) = (input.width() as usize, input.height() as usize);
    let map = hard_map_fast(&known, ih, iw, spec.n, spec.ks, decay);
    let floor = decay.coef(spec.n);
    let (dx, dy) = ((out.x0 - input.x0) as usize, (out.y0 - input.y0) as usize);
    let ow = out.width() as usize;
    for (j, y) in (out.y0..out.y1).enumerate() {
        let src = &map[(dy + j) * iw + dx..][..ow];
        let dst = &mut levels[y as usize * w as usize + out.x0 as usize..][..ow];
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = quantize(log_scale(v, floor));
        }
    }
    out
}

/// A unit's hard map at its own resolution over the context box.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitMap {
    /// The context box in photo pixels.
    pub bx: ContextBox,
    /// Side of the unit's grid.
    pub side: usize,
    /// Levels (log scale), `side·side`.
    pub levels: Vec<u8>,
}

/// The hard map generator unit `unit` sees for this mask when the model runs at resolution
/// `res` with context `margin` (as [`crate::inference::Inpainter::prepare`] crops it), or
/// `None` when the mask has no hole. `bbox` is the holes' bounding box (as [`Mask::bbox`]; pass
/// a kept one to save the scan).
pub fn unit_map(
    mask: &Mask,
    bbox: Option<(u32, u32, u32, u32)>,
    res: usize,
    margin: f32,
    unit: usize,
    decay: Decay,
) -> Option<UnitMap> {
    let bbox = bbox?;
    let spec = *OFFICIAL_UNITS.get(unit)?;
    let bx = imageops::context_box(bbox, mask.width, mask.height, res as u32, margin);
    let hole =
        imageops::crop_resize_mask(mask.holes(), mask.width, mask.height, &bx, res as u32).ok()?;
    let known: Vec<f32> = hole.iter().map(|v| 1.0 - v).collect();
    let stride = 1usize << (OFFICIAL_UNITS.len() - unit);
    let side = res.div_ceil(stride);
    let small = maps::nearest_strided(&known, res, res, stride);
    let map = hard_map_fast(&small, side, side, spec.n, spec.ks, decay);
    let floor = decay.coef(spec.n);
    Some(UnitMap {
        bx,
        side,
        levels: map.iter().map(|&v| quantize(log_scale(v, floor))).collect(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn blob_mask(w: u32, h: u32) -> Mask {
        Mask::from_hole_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - w as f32 * 0.4, y as f32 - h as f32 * 0.5);
            dx * dx + dy * dy < (w.min(h) as f32 * 0.2).powi(2)
        })
    }

    #[test]
    fn incremental_hard_map_equals_a_full_recompute() {
        let (w, h) = (160, 120);
        for unit in [0, 3, 5] {
            let spec = OFFICIAL_UNITS[unit];
            let mut mask = blob_mask(w, h);
            let mut levels = hard_full_levels(&mask, spec, Decay::Exp);
            // Paint and erase near the border and inside the hole, updating incrementally.
            type Stroke<'a> = (&'a [(f32, f32)], f32, bool);
            let strokes: [Stroke<'_>; 4] = [
                (&[(2.0, 3.0), (40.0, 10.0)], 6.0, true),
                (&[(64.0, 60.0)], 15.0, false),
                (&[(150.0, 110.0), (159.0, 119.0)], 4.0, true),
                (&[(100.0, 20.0), (120.0, 80.0)], 2.0, true),
            ];
            for (pts, r, hole) in strokes {
                let before = mask.clone();
                mask.rasterize_stroke(pts, r, hole);
                let dirty = diff(&before, &mask);
                if let Some(d) = dirty {
                    update_hard_region(&mask, spec, Decay::Exp, &mut levels, d);
                }
                assert_eq!(
                    levels,
                    hard_full_levels(&mask, spec, Decay::Exp),
                    "unit {unit}"
                );
            }
        }
    }

    fn diff(a: &Mask, b: &Mask) -> Option<PixelRect> {
        let w = a.width;
        let mut r: Option<PixelRect> = None;
        for (i, (p, q)) in a.holes().iter().zip(b.holes()).enumerate() {
            if p != q {
                let (x, y) = ((i as u32) % w, (i as u32) / w);
                let px = PixelRect {
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                };
                r = Some(r.map_or(px, |o| o.union(&px)));
            }
        }
        r
    }

    #[test]
    fn unit_map_matches_the_library_unit_maps() {
        let mask = blob_mask(300, 200);
        let res = 256;
        let bbox = mask.bbox().unwrap();
        let bx = imageops::context_box(bbox, 300, 200, res as u32, 0.5);
        let hole = imageops::crop_resize_mask(mask.holes(), 300, 200, &bx, res as u32).unwrap();
        let known: Vec<f32> = hole.iter().map(|v| 1.0 - v).collect();
        let all = maps::unit_hard_maps_cpu(&known, res, res, &OFFICIAL_UNITS, Decay::Exp);
        for (k, (side, _, map)) in all.iter().enumerate() {
            let m = unit_map(&mask, mask.bbox(), res, 0.5, k, Decay::Exp).unwrap();
            assert_eq!(m.side, *side);
            assert_eq!(m.bx, bx);
            let floor = Decay::Exp.coef(OFFICIAL_UNITS[k].n);
            let want: Vec<u8> = map.iter().map(|&v| quantize(log_scale(v, floor))).collect();
            assert_eq!(m.levels, want);
        }
        let empty = Mask::new_empty(10, 10);
        assert!(unit_map(&empty, empty.bbox(), 256, 0.5, 0, Decay::Exp).is_none());
    }

    #[test]
    fn levels_and_reach() {
        assert_eq!(quantize(0.5), 128);
        assert_eq!(quantize(f32::NAN), 0);
        assert_eq!(reach(OFFICIAL_UNITS[5]), 14);
    }

    /// Prints (does not assert) the time of one brush update of the full-resolution hard map
    /// on a 3840×2160 mask, against a full recompute measured in the same run.
    #[test]
    fn hard_map_update_timing_4k() {
        let (w, h) = (3840u32, 2160u32);
        let mut mask = blob_mask(w, h);
        let spec = OFFICIAL_UNITS[5];
        let t = Instant::now();
        let mut levels = hard_full_levels(&mask, spec, Decay::Exp);
        let full = t.elapsed();
        let mut worst = Duration::ZERO;
        let mut total = Duration::ZERO;
        let n = 20;
        for i in 0..n {
            let x = 400.0 + i as f32 * 40.0;
            let before = PixelRect::around(x - 40.0, 900.0, x, 900.0, 40.0, w, h).unwrap();
            mask.rasterize_stroke(&[(x - 40.0, 900.0), (x, 900.0)], 40.0, true);
            let t = Instant::now();
            update_hard_region(&mask, spec, Decay::Exp, &mut levels, before);
            let e = t.elapsed();
            worst = worst.max(e);
            total += e;
        }
        let bbox = mask.bbox();
        let t = Instant::now();
        let unit = unit_map(&mask, bbox, 256, 0.5, 5, Decay::Exp);
        let unit_time = t.elapsed();
        assert!(unit.is_some());
        println!(
            "hard map 3840×2160 (unit 5, N=7, ks=5): full {:.1} ms; brush update (r=40, 40 px step) \
             mean {:.2} ms, worst {:.2} ms; unit-resolution map {:.2} ms",
            full.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3 / n as f64,
            worst.as_secs_f64() * 1e3,
            unit_time.as_secs_f64() * 1e3
        );
    }
}
