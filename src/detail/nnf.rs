//! The nearest-neighbour field (NNF) of one pyramid level and its PatchMatch search.
//!
//! Target patches are the `(2r+1)²` patches whose centre lies inside the level (at least `r`
//! from its edge) and that contain at least one hole pixel. For each, the field holds the
//! centre of a *source* patch (entirely known, see [`super::level::valid_sources`]) and their
//! distance: the sum of squared differences over all channels of the two patches, the target
//! patch read from the current estimate of the hole.
//!
//! The search is PatchMatch (Barnes et al. 2009): random initialisation (or the coarser
//! level's field, upsampled), then passes of *propagation* (a neighbour's source, shifted by
//! one pixel, is tried) and *random search* (candidates around the current source at
//! halving radii). To use both cores and stay deterministic, a pass scans every row (or every
//! column) independently and in parallel: along its own line a pass sees the neighbour it
//! just updated; across lines it sees the field as it was when the pass began. Row and
//! column passes alternate, and so do the scan directions. Every random draw comes from a
//! generator seeded by (seed, level, pass, line), so the result does not depend on thread
//! timing.

use rayon::prelude::*;

use super::level::Level;

/// One entry of the field: source centre and patch distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Source centre x.
    pub sx: u32,
    /// Source centre y.
    pub sy: u32,
    /// Patch distance (sum of squared differences over all channels).
    pub d: f32,
}

/// The field over the bounding box of the target centres.
#[derive(Debug, Clone)]
pub struct Nnf {
    /// Patch radius.
    pub r: usize,
    /// Left edge of the grid in level pixels.
    pub x0: usize,
    /// Top edge of the grid in level pixels.
    pub y0: usize,
    /// Grid width.
    pub gw: usize,
    /// Grid height.
    pub gh: usize,
    /// `gw·gh`: whether the grid cell is a target centre.
    pub is_target: Vec<bool>,
    /// `gw·gh` matches (meaningful only for target centres).
    pub m: Vec<Match>,
    /// Distances use the channels `from_channel..` of each pixel (0: all).
    pub from_channel: usize,
}

/// A small, fast, seedable generator (SplitMix64); only used for search candidates.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator for a stream identified by `parts` (hashed together).
    pub fn new(parts: &[u64]) -> Self {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for &p in parts {
            s = Self::mix(s ^ p.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        }
        Self(s)
    }

    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        Self::mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`; a negligible modulo bias is accepted).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `-rad..=rad`.
    pub fn offset(&mut self, rad: usize) -> i64 {
        self.below(2 * rad + 1) as i64 - rad as i64
    }
}

/// Sum of squared differences of the patches centred at `t` and `s`, stopping early once it
/// reaches `limit` (the returned value is then only known to be ≥ `limit`).
#[inline]
pub fn patch_distance(
    level: &Level,
    r: usize,
    t: (usize, usize),
    s: (usize, usize),
    limit: f32,
) -> f32 {
    let c = level.c;
    let len = (2 * r + 1) * c;
    let mut acc = 0.0f32;
    for dy in 0..=2 * r {
        let ti = level.at(t.0 - r, t.1 - r + dy);
        let si = level.at(s.0 - r, s.1 - r + dy);
        acc += row_ssd(&level.px[ti..ti + len], &level.px[si..si + len]);
        if acc >= limit {
            return acc;
        }
    }
    acc
}

/// [`patch_distance`] over the channels `from..c` of every pixel only (`from = 0`: all).
/// Guided synthesis first matches on the guide channels alone, so that the blurry first
/// estimate of the hole does not favour flat source patches.
#[inline]
pub fn patch_distance_from(
    level: &Level,
    r: usize,
    t: (usize, usize),
    s: (usize, usize),
    limit: f32,
    from: usize,
) -> f32 {
    if from == 0 {
        return patch_distance(level, r, t, s, limit);
    }
    let c = level.c;
    let mut acc = 0.0f32;
    for dy in 0..=2 * r {
        for dx in 0..=2 * r {
            let ti = level.at(t.0 - r + dx, t.1 - r + dy);
            let si = level.at(s.0 - r + dx, s.1 - r + dy);
            for k in from..c {
                let d = level.px[ti + k] - level.px[si + k];
                acc += d * d;
            }
        }
        if acc >= limit {
            return acc;
        }
    }
    acc
}

/// Sum of squared differences of two equally long slices, in eight lanes so it vectorises.
#[inline]
fn row_ssd(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let d = x[k] - y[k];
            lanes[k] += d * d;
        }
    }
    let mut s: f32 = lanes.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// What a search pass may do.
#[derive(Debug, Clone, Copy)]
pub struct SearchParams {
    /// Largest random-search radius in level pixels (halved down to 1).
    pub max_radius: usize,
    /// Seed of this pass's random streams.
    pub seed: u64,
}

impl Nnf {
    /// The target centres of a level: inside `[r, w−r)×[r, h−r)` with a hole pixel within
    /// the patch. `None` when there is none (no hole, or the level is smaller than a patch).
    pub fn targets(level: &Level, r: usize) -> Option<Nnf> {
        let (w, h) = (level.w, level.h);
        if w < 2 * r + 1 || h < 2 * r + 1 {
            return None;
        }
        let (hx0, hy0, hx1, hy1) = level.hole_bbox()?;
        let x0 = hx0.saturating_sub(r).max(r);
        let y0 = hy0.saturating_sub(r).max(r);
        let x1 = (hx1 + r).min(w - r);
        let y1 = (hy1 + r).min(h - r);
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        let (gw, gh) = (x1 - x0, y1 - y0);
        // A centre is a target when its patch holds a hole pixel: dilate the hole by r
        // (separably: rows, then columns).
        let ry0 = hy0.saturating_sub(r);
        let ry1 = (hy1 + r).min(h);
        let mut rows = vec![false; gw * (ry1 - ry0)];
        for y in ry0..ry1 {
            for gx in 0..gw {
                let x = x0 + gx;
                let lo = x.saturating_sub(r);
                let hi = (x + r + 1).min(w);
                rows[(y - ry0) * gw + gx] = level.known[y * w + lo..y * w + hi].iter().any(|&k| !k);
            }
        }
        let mut is_target = vec![false; gw * gh];
        for gy in 0..gh {
            let y = y0 + gy;
            let lo = y.saturating_sub(r).max(ry0);
            let hi = (y + r + 1).min(ry1);
            for gx in 0..gw {
                is_target[gy * gw + gx] = (lo..hi).any(|yy| rows[(yy - ry0) * gw + gx]);
            }
        }
        if !is_target.iter().any(|&t| t) {
            return None;
        }
        Some(Nnf {
            r,
            x0,
            y0,
            gw,
            gh,
            is_target,
            m: vec![
                Match {
                    sx: 0,
                    sy: 0,
                    d: f32::INFINITY
                };
                gw * gh
            ],
            from_channel: 0,
        })
    }

    /// The number of target centres.
    pub fn target_count(&self) -> usize {
        self.is_target.iter().filter(|&&t| t).count()
    }

    /// Gives every target a uniformly random valid source (from `sources`, the valid centres'
    /// indices `y·w + x`) and computes its distance.
    pub fn init_random(&mut self, level: &Level, sources: &[u32], seed: u64) {
        let (r, x0, y0, gw, from) = (self.r, self.x0, self.y0, self.gw, self.from_channel);
        let w = level.w;
        let is_target = &self.is_target;
        self.m.par_chunks_mut(gw).enumerate().for_each(|(gy, row)| {
            let mut rng = SplitMix::new(&[seed, 0x1417, gy as u64]);
            for (gx, m) in row.iter_mut().enumerate() {
                if !is_target[gy * gw + gx] || sources.is_empty() {
                    continue;
                }
                let s = sources[rng.below(sources.len())] as usize;
                let (sx, sy) = (s % w, s / w);
                let d = patch_distance_from(
                    level,
                    r,
                    (x0 + gx, y0 + gy),
                    (sx, sy),
                    f32::INFINITY,
                    from,
                );
                *m = Match {
                    sx: sx as u32,
                    sy: sy as u32,
                    d,
                };
            }
        });
    }

    /// Takes the field of the coarser level (`coarse`, for the level this one was
    /// downsampled to): each fine target keeps its coarse target's source, scaled by 2 and
    /// shifted by the same sub-offset; a source that is not valid here is replaced by a
    /// random valid one. Distances are recomputed on `level`.
    pub fn init_from_coarse(
        &mut self,
        level: &Level,
        valid: &[bool],
        sources: &[u32],
        coarse: &Nnf,
        seed: u64,
    ) {
        let (r, x0, y0, gw, from) = (self.r, self.x0, self.y0, self.gw, self.from_channel);
        let (w, h) = (level.w, level.h);
        let is_target = &self.is_target;
        self.m.par_chunks_mut(gw).enumerate().for_each(|(gy, row)| {
            let mut rng = SplitMix::new(&[seed, 0x0c0a, gy as u64]);
            for (gx, m) in row.iter_mut().enumerate() {
                if !is_target[gy * gw + gx] {
                    continue;
                }
                let (tx, ty) = (x0 + gx, y0 + gy);
                let coarse_match = coarse.lookup_clamped(tx / 2, ty / 2);
                let mut pick = None;
                if let Some(cm) = coarse_match {
                    let sx = 2 * cm.sx as i64 + (tx % 2) as i64;
                    let sy = 2 * cm.sy as i64 + (ty % 2) as i64;
                    if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                        let (sx, sy) = (sx as usize, sy as usize);
                        if valid[sy * w + sx] {
                            pick = Some((sx, sy));
                        } else {
                            // Try the three other children of the coarse source.
                            pick = [(0, 0), (1, 0), (0, 1), (1, 1)]
                                .into_iter()
                                .map(|(ox, oy)| (2 * cm.sx as usize + ox, 2 * cm.sy as usize + oy))
                                .find(|&(x, y)| x < w && y < h && valid[y * w + x]);
                        }
                    }
                }
                let (sx, sy) = match pick {
                    Some(p) => p,
                    None if !sources.is_empty() => {
                        let s = sources[rng.below(sources.len())] as usize;
                        (s % w, s / w)
                    }
                    None => continue,
                };
                let d = patch_distance_from(level, r, (tx, ty), (sx, sy), f32::INFINITY, from);
                *m = Match {
                    sx: sx as u32,
                    sy: sy as u32,
                    d,
                };
            }
        });
    }

    /// The match of the target nearest to level pixel `(x, y)` on this grid (clamped into it),
    /// searching a small neighbourhood for a target cell.
    fn lookup_clamped(&self, x: usize, y: usize) -> Option<Match> {
        let gx = x.saturating_sub(self.x0).min(self.gw - 1);
        let gy = y.saturating_sub(self.y0).min(self.gh - 1);
        for rad in 0..=2usize {
            for dy in -(rad as i64)..=rad as i64 {
                for dx in -(rad as i64)..=rad as i64 {
                    let (ix, iy) = (gx as i64 + dx, gy as i64 + dy);
                    if ix < 0 || iy < 0 || ix as usize >= self.gw || iy as usize >= self.gh {
                        continue;
                    }
                    let i = iy as usize * self.gw + ix as usize;
                    if self.is_target[i] && self.m[i].d.is_finite() {
                        return Some(self.m[i]);
                    }
                }
            }
        }
        None
    }

    /// Recomputes every target's distance on `level` (after the hole estimate changed).
    pub fn refresh_distances(&mut self, level: &Level) {
        let (r, x0, y0, gw, from) = (self.r, self.x0, self.y0, self.gw, self.from_channel);
        let is_target = &self.is_target;
        self.m.par_chunks_mut(gw).enumerate().for_each(|(gy, row)| {
            for (gx, m) in row.iter_mut().enumerate() {
                if is_target[gy * gw + gx] && m.d.is_finite() {
                    m.d = patch_distance_from(
                        level,
                        r,
                        (x0 + gx, y0 + gy),
                        (m.sx as usize, m.sy as usize),
                        f32::INFINITY,
                        from,
                    );
                }
            }
        });
    }

    /// One PatchMatch pass along rows (`by_rows`) or columns, forwards or backwards.
    pub fn pass(
        &mut self,
        level: &Level,
        valid: &[bool],
        by_rows: bool,
        forward: bool,
        p: SearchParams,
    ) {
        let snapshot = self.m.clone();
        let (gw, gh) = (self.gw, self.gh);
        let lines = if by_rows { gh } else { gw };
        let len = if by_rows { gw } else { gh };
        let this = &*self;
        let results: Vec<Vec<Match>> = (0..lines)
            .into_par_iter()
            .map(|line| {
                let mut rng =
                    SplitMix::new(&[p.seed, u64::from(by_rows), u64::from(forward), line as u64]);
                let cell = |k: usize| {
                    if by_rows {
                        line * gw + k
                    } else {
                        k * gw + line
                    }
                };
                let mut out: Vec<Match> = (0..len).map(|k| snapshot[cell(k)]).collect();
                for step in 0..len {
                    let k = if forward { step } else { len - 1 - step };
                    let i = cell(k);
                    if !this.is_target[i] {
                        continue;
                    }
                    let (gx, gy) = (i % gw, i / gw);
                    let t = (this.x0 + gx, this.y0 + gy);
                    let mut best = out[k];
                    let try_src = |sx: i64, sy: i64, best: &mut Match| {
                        if sx < 0 || sy < 0 || sx as usize >= level.w || sy as usize >= level.h {
                            return;
                        }
                        let (sx, sy) = (sx as usize, sy as usize);
                        if !valid[sy * level.w + sx] || (sx as u32, sy as u32) == (best.sx, best.sy)
                        {
                            return;
                        }
                        let d = patch_distance_from(
                            level,
                            this.r,
                            t,
                            (sx, sy),
                            best.d,
                            this.from_channel,
                        );
                        if d < best.d {
                            *best = Match {
                                sx: sx as u32,
                                sy: sy as u32,
                                d,
                            };
                        }
                    };
                    // Propagation along the line from the cell just updated.
                    let prev = if forward {
                        k.checked_sub(1)
                    } else {
                        (k + 1 < len).then_some(k + 1)
                    };
                    if let Some(pk) = prev
                        && this.is_target[cell(pk)]
                        && out[pk].d.is_finite()
                    {
                        let delta = k as i64 - pk as i64;
                        let (dx, dy) = if by_rows { (delta, 0) } else { (0, delta) };
                        try_src(out[pk].sx as i64 + dx, out[pk].sy as i64 + dy, &mut best);
                    }
                    // Propagation across lines, from the field as the pass began.
                    for nl in [line.wrapping_sub(1), line + 1] {
                        if nl >= lines {
                            continue;
                        }
                        let j = if by_rows { nl * gw + k } else { k * gw + nl };
                        if this.is_target[j] && snapshot[j].d.is_finite() {
                            let delta = line as i64 - nl as i64;
                            let (dx, dy) = if by_rows { (0, delta) } else { (delta, 0) };
                            try_src(
                                snapshot[j].sx as i64 + dx,
                                snapshot[j].sy as i64 + dy,
                                &mut best,
                            );
                        }
                    }
                    // Random search around the current best at halving radii.
                    let mut rad = p.max_radius;
                    while rad >= 1 {
                        let (cx, cy) = (best.sx as i64, best.sy as i64);
                        try_src(cx + rng.offset(rad), cy + rng.offset(rad), &mut best);
                        rad /= 2;
                    }
                    out[k] = best;
                }
                out
            })
            .collect();
        for (line, vals) in results.into_iter().enumerate() {
            for (k, m) in vals.into_iter().enumerate() {
                let i = if by_rows {
                    line * gw + k
                } else {
                    k * gw + line
                };
                self.m[i] = m;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::level::valid_sources;
    use super::*;

    /// A level whose colour is a smooth function of position, with a square hole.
    fn ramp(w: usize, h: usize, hole: (usize, usize, usize, usize)) -> Level {
        let mut px = Vec::new();
        let mut known = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let v = ((x * 7 + y * 13) % 17) as f32 / 17.0;
                px.extend_from_slice(&[v, 1.0 - v, (x % 5) as f32 / 5.0]);
                known.push(!(x >= hole.0 && x < hole.2 && y >= hole.1 && y < hole.3));
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
    fn row_ssd_matches_the_plain_sum() {
        let a: Vec<f32> = (0..42).map(|i| i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..42).map(|i| (i as f32 * 0.37).sin()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((row_ssd(&a, &b) - plain).abs() < 1e-3 * plain.max(1.0));
    }

    #[test]
    fn targets_are_exactly_the_centres_whose_patch_holds_a_hole_pixel() {
        let l = ramp(20, 16, (8, 6, 10, 9));
        let r = 2;
        let n = Nnf::targets(&l, r).unwrap();
        for y in r..l.h - r {
            for x in r..l.w - r {
                let want =
                    (y - r..=y + r).any(|yy| (x - r..=x + r).any(|xx| !l.known[yy * l.w + xx]));
                let inside = x >= n.x0 && x < n.x0 + n.gw && y >= n.y0 && y < n.y0 + n.gh;
                let got = inside && n.is_target[(y - n.y0) * n.gw + x - n.x0];
                assert_eq!(got, want, "({x},{y})");
            }
        }
    }

    #[test]
    fn patchmatch_finds_exact_copies_of_a_periodic_texture() {
        // The texture repeats with period 17 along x+... so every target patch whose hole
        // pixels were filled with the truth has an exact (zero-distance) source.
        let mut l = ramp(64, 48, (28, 20, 36, 28));
        let truth = ramp(64, 48, (0, 0, 0, 0));
        l.px.copy_from_slice(&truth.px);
        let r = 3;
        let (valid, count) = valid_sources(&l, r);
        assert!(count > 100);
        let sources: Vec<u32> = valid
            .iter()
            .enumerate()
            .filter(|(_, v)| **v)
            .map(|(i, _)| i as u32)
            .collect();
        let mut n = Nnf::targets(&l, r).unwrap();
        n.init_random(&l, &sources, 1);
        let before: f32 =
            n.m.iter()
                .zip(&n.is_target)
                .filter(|(_, t)| **t)
                .map(|(m, _)| m.d)
                .sum();
        for it in 0..6 {
            let p = SearchParams {
                max_radius: 64,
                seed: it,
            };
            n.pass(&l, &valid, it % 2 == 0, it % 4 < 2, p);
        }
        let after: Vec<f32> =
            n.m.iter()
                .zip(&n.is_target)
                .filter(|(_, t)| **t)
                .map(|(m, _)| m.d)
                .collect();
        let total: f32 = after.iter().sum();
        assert!(total < 0.01 * before, "{total} vs {before}");
        let exact = after.iter().filter(|&&d| d < 1e-6).count();
        assert!(exact * 10 >= after.len() * 9, "{exact} of {}", after.len());
        // Every match is a valid source and its stored distance is the true distance.
        for (i, m) in n.m.iter().enumerate() {
            if n.is_target[i] {
                assert!(valid[m.sy as usize * l.w + m.sx as usize]);
                let t = (n.x0 + i % n.gw, n.y0 + i / n.gw);
                let d = patch_distance(&l, r, t, (m.sx as usize, m.sy as usize), f32::INFINITY);
                assert!((d - m.d).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn passes_are_deterministic() {
        let l = ramp(40, 30, (15, 10, 25, 20));
        let r = 2;
        let (valid, _) = valid_sources(&l, r);
        let sources: Vec<u32> = valid
            .iter()
            .enumerate()
            .filter(|(_, v)| **v)
            .map(|(i, _)| i as u32)
            .collect();
        let run = || {
            let mut n = Nnf::targets(&l, r).unwrap();
            n.init_random(&l, &sources, 9);
            for it in 0..3 {
                n.pass(
                    &l,
                    &valid,
                    it % 2 == 0,
                    true,
                    SearchParams {
                        max_radius: 40,
                        seed: it,
                    },
                );
            }
            n.m
        };
        assert_eq!(run(), run());
    }
}
