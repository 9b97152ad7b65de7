//! One level of the synthesis pyramid: pixels with their channels side by side, which pixels
//! are known, which patch centres may serve as sources, and the resampling between levels.

/// Colour channels per pixel (RGB in `[0, 1]`).
pub const COLOUR: usize = 3;

/// One pyramid level over the work region.
///
/// Every pixel stores `c` floats side by side: the colour (current estimate inside the hole)
/// followed, in guided mode, by the guide's colour scaled by `√guide_weight`, so that a plain
/// sum of squared differences over all channels is the weighted patch distance.
#[derive(Debug, Clone)]
pub struct Level {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    /// Floats per pixel: 3 (colour) or 6 (colour + guide).
    pub c: usize,
    /// Row-major `w·h·c` values.
    pub px: Vec<f32>,
    /// Row-major `w·h`: `true` = known pixel of the photo.
    pub known: Vec<bool>,
}

impl Level {
    /// Index of pixel `(x, y)`'s first channel.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> usize {
        (y * self.w + x) * self.c
    }

    /// The number of hole pixels.
    pub fn holes(&self) -> usize {
        self.known.iter().filter(|&&k| !k).count()
    }

    /// The bounding box `(x0, y0, x1, y1)` (exclusive ends) of the hole, if any.
    pub fn hole_bbox(&self) -> Option<(usize, usize, usize, usize)> {
        let mut b: Option<(usize, usize, usize, usize)> = None;
        for y in 0..self.h {
            let row = &self.known[y * self.w..(y + 1) * self.w];
            let Some(first) = row.iter().position(|&k| !k) else {
                continue;
            };
            let last = row.iter().rposition(|&k| !k).unwrap_or(first);
            b = Some(match b {
                None => (first, y, last + 1, y + 1),
                Some((x0, y0, x1, _)) => (x0.min(first), y0, x1.max(last + 1), y + 1),
            });
        }
        b
    }

    /// The next coarser level: half the size (rounded up), each pixel the mean of its (up to
    /// four) children in every channel; known only when every child is known, so a coarse
    /// source patch never reaches into the hole.
    pub fn downsample(&self) -> Level {
        let (w, h, c) = (self.w.div_ceil(2), self.h.div_ceil(2), self.c);
        let mut px = vec![0.0f32; w * h * c];
        let mut known = vec![true; w * h];
        for y in 0..h {
            for x in 0..w {
                let o = (y * w + x) * c;
                let mut n = 0.0f32;
                for fy in 2 * y..(2 * y + 2).min(self.h) {
                    for fx in 2 * x..(2 * x + 2).min(self.w) {
                        let i = self.at(fx, fy);
                        for k in 0..c {
                            px[o + k] += self.px[i + k];
                        }
                        known[y * w + x] &= self.known[fy * self.w + fx];
                        n += 1.0;
                    }
                }
                for v in &mut px[o..o + c] {
                    *v /= n;
                }
            }
        }
        Level { w, h, c, px, known }
    }

    /// Sets every hole pixel's colour to the bilinear upsampling of `coarse`'s colour (the
    /// level this one was downsampled to); known pixels and the guide are left alone.
    pub fn upsample_holes_from(&mut self, coarse: &Level) {
        for y in 0..self.h {
            for x in 0..self.w {
                if self.known[y * self.w + x] {
                    continue;
                }
                let v = coarse
                    .bilinear_colour((x as f32 + 0.5) / 2.0 - 0.5, (y as f32 + 0.5) / 2.0 - 0.5);
                let i = self.at(x, y);
                self.px[i..i + COLOUR].copy_from_slice(&v);
            }
        }
    }

    /// The colour at a real-valued position (pixel centres at integers), edge-clamped.
    pub fn bilinear_colour(&self, fx: f32, fy: f32) -> [f32; COLOUR] {
        let fx = fx.clamp(0.0, (self.w - 1) as f32);
        let fy = fy.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let mut out = [0.0f32; COLOUR];
        for (k, o) in out.iter_mut().enumerate() {
            let p = |x: usize, y: usize| self.px[self.at(x, y) + k];
            let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
            let bottom = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
            *o = top * (1.0 - ay) + bottom * ay;
        }
        out
    }
}

/// Which patch centres may be sources: the whole `(2r+1)²` patch lies inside the level and
/// every pixel of it is known. Returns the flags (row-major) and their count.
pub fn valid_sources(level: &Level, r: usize) -> (Vec<bool>, usize) {
    let (w, h) = (level.w, level.h);
    let mut valid = vec![false; w * h];
    if w < 2 * r + 1 || h < 2 * r + 1 {
        return (valid, 0);
    }
    // Summed-area table of hole pixels.
    let mut sat = vec![0u32; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0u32;
        for x in 0..w {
            row += u32::from(!level.known[y * w + x]);
            sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + row;
        }
    }
    let side = 2 * r + 1;
    let mut count = 0;
    for y in r..h - r {
        for x in r..w - r {
            let (x0, y0, x1, y1) = (x - r, y - r, x - r + side, y - r + side);
            let holes = sat[y1 * (w + 1) + x1] + sat[y0 * (w + 1) + x0]
                - sat[y0 * (w + 1) + x1]
                - sat[y1 * (w + 1) + x0];
            if holes == 0 {
                valid[y * w + x] = true;
                count += 1;
            }
        }
    }
    (valid, count)
}

/// A smooth interpolation of sparse values: `val` (3 channels) is trusted where `wt > 0` and
/// filled in elsewhere from a pull–push pyramid (Gortler et al.'s scheme: weights summed
/// 2×2 and capped at 1 on the way down, the coarser result blended in where a level's weight
/// is below 1 on the way up). A cheap stand-in for a membrane (Laplace) interpolation.
pub fn pull_push(w: usize, h: usize, val: &[[f32; 3]], wt: &[f32]) -> Vec<[f32; 3]> {
    // Premultiplied values with weights capped at 1.
    let mut pre: Vec<[f32; 3]> = val
        .iter()
        .zip(wt)
        .map(|(v, &a)| {
            let a = a.clamp(0.0, 1.0);
            [v[0] * a, v[1] * a, v[2] * a]
        })
        .collect();
    let mut a: Vec<f32> = wt.iter().map(|&a| a.clamp(0.0, 1.0)).collect();
    pull_push_rec(w, h, &mut pre, &mut a);
    pre
}

/// Fills `pre` in place so that every pixel holds a value (weights are consumed).
fn pull_push_rec(w: usize, h: usize, pre: &mut [[f32; 3]], a: &mut [f32]) {
    if a.iter().all(|&x| x >= 1.0) || a.iter().all(|&x| x <= 0.0) {
        // Nothing to fill, or nothing to fill from (left as zeros).
        return;
    }
    if w <= 1 && h <= 1 {
        return;
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut cpre = vec![[0.0f32; 3]; cw * ch];
    let mut ca = vec![0.0f32; cw * ch];
    for y in 0..h {
        for x in 0..w {
            let (i, j) = (y * w + x, (y / 2) * cw + x / 2);
            ca[j] += a[i];
            for k in 0..3 {
                cpre[j][k] += pre[i][k];
            }
        }
    }
    for (p, s) in cpre.iter_mut().zip(ca.iter_mut()) {
        if *s > 1.0 {
            for v in p.iter_mut() {
                *v /= *s;
            }
            *s = 1.0;
        }
    }
    pull_push_rec(cw, ch, &mut cpre, &mut ca);
    // Coarse values, normalised (after the recursion every coarse pixel with ca>0 holds a
    // value premultiplied by its weight, and the filled-in part has been added).
    let coarse: Vec<[f32; 3]> = cpre
        .iter()
        .zip(&ca)
        .map(|(p, &s)| {
            if s > 0.0 {
                p.map(|v| v / s.max(1.0))
            } else {
                *p
            }
        })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if a[i] >= 1.0 {
                continue;
            }
            // Bilinear sample of the coarse level at this pixel's centre.
            let fx = ((x as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (cw - 1) as f32);
            let fy = ((y as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (ch - 1) as f32);
            let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(cw - 1), (y0 + 1).min(ch - 1));
            let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
            let rest = 1.0 - a[i];
            for k in 0..3 {
                let c = |xx: usize, yy: usize| coarse[yy * cw + xx][k];
                let top = c(x0, y0) * (1.0 - ax) + c(x1, y0) * ax;
                let bottom = c(x0, y1) * (1.0 - ax) + c(x1, y1) * ax;
                pre[i][k] += rest * (top * (1.0 - ay) + bottom * ay);
            }
            a[i] = 1.0;
        }
    }
}

/// Chamfer (3–4) distance in pixels from every pixel of a `w×h` grid to the nearest pixel
/// where `is_source` holds (0 there; `f32::INFINITY` everywhere when there is none).
pub fn distance_to(w: usize, h: usize, is_source: impl Fn(usize) -> bool) -> Vec<f32> {
    const FAR: u32 = u32::MAX / 2;
    let mut d: Vec<u32> = (0..w * h)
        .map(|i| if is_source(i) { 0 } else { FAR })
        .collect();
    let relax = |d: &mut Vec<u32>, i: usize, j: usize, step: u32| {
        let v = d[j].saturating_add(step);
        if v < d[i] {
            d[i] = v;
        }
    };
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if x > 0 {
                relax(&mut d, i, i - 1, 3);
            }
            if y > 0 {
                relax(&mut d, i, i - w, 3);
                if x > 0 {
                    relax(&mut d, i, i - w - 1, 4);
                }
                if x + 1 < w {
                    relax(&mut d, i, i - w + 1, 4);
                }
            }
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = y * w + x;
            if x + 1 < w {
                relax(&mut d, i, i + 1, 3);
            }
            if y + 1 < h {
                relax(&mut d, i, i + w, 3);
                if x + 1 < w {
                    relax(&mut d, i, i + w + 1, 4);
                }
                if x > 0 {
                    relax(&mut d, i, i + w - 1, 4);
                }
            }
        }
    }
    d.into_iter()
        .map(|v| {
            if v >= FAR {
                f32::INFINITY
            } else {
                v as f32 / 3.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(w: usize, h: usize, hole: impl Fn(usize, usize) -> bool) -> Level {
        let mut px = Vec::with_capacity(w * h * 3);
        let mut known = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                px.extend_from_slice(&[x as f32 / w as f32, y as f32 / h as f32, 0.5]);
                known.push(!hole(x, y));
            }
        }
        Level {
            w,
            h,
            c: 3,
            px,
            known,
        }
    }

    #[test]
    fn downsample_averages_children_and_known_needs_all_children() {
        let l = level(5, 3, |x, y| x == 4 && y == 2);
        let c = l.downsample();
        assert_eq!((c.w, c.h), (3, 2));
        // Pixel (0,0) averages x∈{0,1}, y∈{0,1}: red mean 0.5/5 = 0.1.
        assert!((c.px[0] - 0.1).abs() < 1e-6, "{}", c.px[0]);
        // (2,1) has one child, (4,2), which is a hole.
        assert!(!c.known[c.w + 2]);
        assert_eq!(c.known.iter().filter(|&&k| !k).count(), 1);
        // (2,0) averages (4,0) and (4,1) only.
        assert!((c.px[c.at(2, 0)] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn valid_sources_exclude_patches_touching_the_hole_or_the_border() {
        let l = level(9, 9, |x, y| x == 4 && y == 4);
        let (v, n) = valid_sources(&l, 1);
        // Centres 1..8 in each axis (7×7 = 49), minus the 3×3 around the hole.
        assert_eq!(n, 49 - 9);
        assert!(!v[4 * 9 + 4] && !v[3 * 9 + 3] && v[2 * 9 + 2] && !v[0]);
        let (_, none) = valid_sources(&level(2, 9, |_, _| false), 1);
        assert_eq!(none, 0);
    }

    #[test]
    fn pull_push_keeps_trusted_values_and_fills_smoothly_between_them() {
        let (w, h) = (16, 1);
        let mut val = vec![[0.0f32; 3]; w];
        let mut wt = vec![0.0f32; w];
        val[0] = [0.0; 3];
        wt[0] = 1.0;
        val[15] = [1.0; 3];
        wt[15] = 1.0;
        let out = pull_push(w, h, &val, &wt);
        assert_eq!(out[0], [0.0; 3]);
        assert_eq!(out[15], [1.0; 3]);
        for x in 1..w {
            assert!(
                out[x][0] >= out[x - 1][0] - 1e-6,
                "not monotone at {x}: {out:?}"
            );
            assert!((0.0..=1.0).contains(&out[x][0]));
        }
        // A constant field stays constant.
        let out = pull_push(5, 4, &vec![[0.3, 0.6, 0.9]; 20], &[1.0, 0.0].repeat(10));
        for v in out {
            for (a, b) in v.iter().zip([0.3, 0.6, 0.9]) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn chamfer_distance_is_close_to_euclidean() {
        let d = distance_to(9, 9, |i| i == 4 * 9 + 4);
        assert_eq!(d[4 * 9 + 4], 0.0);
        assert_eq!(d[4 * 9 + 8], 4.0);
        assert!((d[8 * 9 + 8] - 4.0 * 4.0 / 3.0).abs() < 1e-6);
        assert!(distance_to(3, 3, |_| false).iter().all(|v| v.is_infinite()));
    }

    #[test]
    fn upsampling_touches_only_holes() {
        let coarse = level(3, 3, |_, _| false);
        let mut fine = level(6, 6, |x, y| x == 2 && y == 3);
        let before = fine.px.clone();
        fine.upsample_holes_from(&coarse);
        for y in 0..6 {
            for x in 0..6 {
                let i = fine.at(x, y);
                if (x, y) == (2, 3) {
                    let want = coarse.bilinear_colour(0.75, 1.25);
                    assert_eq!(&fine.px[i..i + 3], &want);
                } else {
                    assert_eq!(&fine.px[i..i + 3], &before[i..i + 3]);
                }
            }
        }
    }
}
