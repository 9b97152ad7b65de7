//! Multi-scale sliced Wasserstein distance (SWD) between two sets of images, as described in
//! Karras et al., "Progressive Growing of GANs" (ICLR 2018), §5 and appendix D.
//!
//! 1. Each image is decomposed into a Laplacian pyramid ([`laplacian_pyramid`]): a 5-tap
//!    binomial filter `[1, 4, 6, 4, 1] / 16` with mirrored borders, decimation by 2, and
//!    `level − up(down(level))` as the band-pass level; the coarsest level (side 16, or the
//!    smallest side ≥ [`MIN_RESOLUTION`]) is the low-pass image itself.
//! 2. At every level, 7×7 neighbourhoods ([`PATCH`]) are cut out at chosen positions and
//!    flattened into descriptors of `3·7·7 = 147` values.
//! 3. Each descriptor *set* is normalised per colour channel: minus that channel's mean, over
//!    the standard deviation, both taken over all descriptors and patch pixels of the set
//!    ([`normalize_descriptors`]).
//! 4. The distance between two equally sized sets is approximated by random 1-D projections
//!    ([`sliced_wasserstein`]): [`DIR_REPEATS`]·[`DIRS_PER_REPEAT`] unit directions drawn from
//!    a seeded Gaussian, both sets projected, sorted, and the mean absolute difference of the
//!    sorted projections averaged over directions. Values are reported ×10³ ([`SCALE`]), as in
//!    the paper's tables, and averaged over levels.
//!
//! For inpainting, the patch positions are chosen inside the hole (at each level, a pixel is
//! hole when any full-resolution pixel under it is), and the *same* positions are used for the
//! real and the filled image, so the distance only sees what the method produced.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::metrics::Planes;
use crate::error::{Error, Result};

/// The coarsest pyramid level has a side of at least this many pixels.
pub const MIN_RESOLUTION: usize = 16;

/// Side of the square neighbourhoods.
pub const PATCH: usize = 7;

/// Neighbourhoods per image and level.
pub const DESCRIPTORS_PER_IMAGE: usize = 128;

/// Rounds of random directions.
pub const DIR_REPEATS: usize = 4;

/// Directions per round.
pub const DIRS_PER_REPEAT: usize = 128;

/// Directions per level of each bootstrap resample ([`SwdSets::bootstrap`]; the point
/// estimate uses all [`DIR_REPEATS`]·[`DIRS_PER_REPEAT`]).
pub const BOOTSTRAP_DIRS: usize = DIRS_PER_REPEAT;

/// Reported SWD values are multiplied by this (as in the ProGAN paper).
pub const SCALE: f64 = 1e3;

/// The 5-tap binomial kernel.
const KERNEL: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];

/// Mirror index `i` into `0..n` without repeating the edge sample (`-1 → 1`, `n → n−2`).
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    i as usize
}

/// Number of pyramid levels for an `h×w` image: halve while the smaller side stays at least
/// [`MIN_RESOLUTION`] (at least one level, and never a level smaller than a patch).
pub fn num_levels(h: usize, w: usize) -> usize {
    let mut s = h.min(w);
    let mut n = 1;
    while s.div_ceil(2) >= MIN_RESOLUTION.max(PATCH) {
        s = s.div_ceil(2);
        n += 1;
    }
    n
}

/// Blur and decimate by 2 (output side `⌈n/2⌉`).
pub fn pyr_down(img: &Planes) -> Planes {
    let (h, w) = (img.h, img.w);
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut out = Vec::with_capacity(img.c * oh * ow);
    let mut tmp = vec![0.0f32; h * ow];
    for k in 0..img.c {
        let p = img.plane(k);
        for y in 0..h {
            for ox in 0..ow {
                let mut s = 0.0;
                for (t, g) in KERNEL.iter().enumerate() {
                    s += g * p[y * w + reflect((2 * ox + t) as isize - 2, w)];
                }
                tmp[y * ow + ox] = s;
            }
        }
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = 0.0;
                for (t, g) in KERNEL.iter().enumerate() {
                    s += g * tmp[reflect((2 * oy + t) as isize - 2, h) * ow + ox];
                }
                out.push(s);
            }
        }
    }
    Planes {
        c: img.c,
        h: oh,
        w: ow,
        data: out,
    }
}

/// One axis of the 2× upsampling: output sample `i` of `m` is `Σ 2·g[t]·src[(i+t−2)/2]` over
/// the taps landing on even positions of the zero-interleaved, mirrored signal.
fn up_taps(i: usize, m: usize) -> impl Iterator<Item = (usize, f32)> {
    KERNEL.iter().enumerate().filter_map(move |(t, g)| {
        let p = reflect(i as isize + t as isize - 2, m);
        p.is_multiple_of(2).then_some((p / 2, 2.0 * g))
    })
}

/// Upsample by 2 to `h×w` (zero interleaving, then the binomial filter ×4).
pub fn pyr_up(img: &Planes, h: usize, w: usize) -> Planes {
    let (sh, sw) = (img.h, img.w);
    let mut tmp = vec![0.0f32; sh * w];
    let mut out = Vec::with_capacity(img.c * h * w);
    for k in 0..img.c {
        let p = img.plane(k);
        for y in 0..sh {
            for x in 0..w {
                tmp[y * w + x] = up_taps(x, w)
                    .map(|(j, g)| g * p[y * sw + j.min(sw - 1)])
                    .sum();
            }
        }
        for y in 0..h {
            for x in 0..w {
                out.push(
                    up_taps(y, h)
                        .map(|(j, g)| g * tmp[j.min(sh - 1) * w + x])
                        .sum(),
                );
            }
        }
    }
    Planes {
        c: img.c,
        h,
        w,
        data: out,
    }
}

/// The Laplacian pyramid with `levels` levels, finest first; the last is the low-pass image.
pub fn laplacian_pyramid(img: &Planes, levels: usize) -> Vec<Planes> {
    let mut out = Vec::with_capacity(levels);
    let mut cur = img.clone();
    for _ in 1..levels.max(1) {
        let down = pyr_down(&cur);
        let up = pyr_up(&down, cur.h, cur.w);
        let mut band = cur;
        band.data
            .iter_mut()
            .zip(&up.data)
            .for_each(|(a, b)| *a -= b);
        out.push(band);
        cur = down;
    }
    out.push(cur);
    out
}

/// The hole mask of each level (same `levels` as the pyramid): a level pixel is hole when any
/// full-resolution pixel it covers is.
pub fn hole_pyramid(
    hole: &[bool],
    h: usize,
    w: usize,
    levels: usize,
) -> Vec<(Vec<bool>, usize, usize)> {
    let mut out = Vec::with_capacity(levels);
    let mut cur = (hole.to_vec(), h, w);
    for _ in 1..levels.max(1) {
        let (m, ch, cw) = &cur;
        let (oh, ow) = (ch.div_ceil(2), cw.div_ceil(2));
        let mut next = vec![false; oh * ow];
        for y in 0..*ch {
            for x in 0..*cw {
                if m[y * cw + x] {
                    next[(y / 2) * ow + x / 2] = true;
                }
            }
        }
        out.push(cur);
        cur = (next, oh, ow);
    }
    out.push(cur);
    out
}

/// `count` top-left corners of `PATCH×PATCH` neighbourhoods in an `h×w` level, drawn uniformly
/// (with replacement) among the pixels where `region` is true (everywhere when `region` is
/// `None` or has no true pixel), each neighbourhood shifted to lie inside the level.
pub fn patch_positions(
    region: Option<&[bool]>,
    h: usize,
    w: usize,
    count: usize,
    rng: &mut impl Rng,
) -> Vec<(usize, usize)> {
    if h < PATCH || w < PATCH {
        return Vec::new();
    }
    let centres: Vec<usize> = region
        .map(|r| (0..r.len()).filter(|&i| r[i]).collect())
        .unwrap_or_default();
    let half = PATCH / 2;
    (0..count)
        .map(|_| {
            let i = if centres.is_empty() {
                rng.random_range(0..h * w)
            } else {
                centres[rng.random_range(0..centres.len())]
            };
            let (cx, cy) = (i % w, i / w);
            (
                cx.saturating_sub(half).min(w - PATCH),
                cy.saturating_sub(half).min(h - PATCH),
            )
        })
        .collect()
}

/// Appends the flattened neighbourhood (channel-major, then rows) at `(x0, y0)` to `out`.
pub fn push_descriptor(level: &Planes, (x0, y0): (usize, usize), out: &mut Vec<f32>) {
    for k in 0..level.c {
        let p = level.plane(k);
        for y in y0..y0 + PATCH {
            out.extend_from_slice(&p[y * level.w + x0..y * level.w + x0 + PATCH]);
        }
    }
}

/// Normalises a set of descriptors (`c·PATCH·PATCH` values each) per channel: minus the mean,
/// over the standard deviation, both over every descriptor and patch pixel of that channel.
pub fn normalize_descriptors(desc: &mut [f32], c: usize) {
    let per = PATCH * PATCH;
    let dim = c * per;
    if dim == 0 || desc.len() < dim {
        return;
    }
    for k in 0..c {
        let (mut s, mut s2, mut n) = (0.0f64, 0.0f64, 0usize);
        for d in desc.chunks_exact(dim) {
            for &v in &d[k * per..(k + 1) * per] {
                s += f64::from(v);
                s2 += f64::from(v) * f64::from(v);
                n += 1;
            }
        }
        let mean = s / n as f64;
        let std = (s2 / n as f64 - mean * mean).max(0.0).sqrt();
        let inv = if std > 1e-12 { 1.0 / std } else { 1.0 };
        for d in desc.chunks_exact_mut(dim) {
            for v in &mut d[k * per..(k + 1) * per] {
                *v = ((f64::from(*v) - mean) * inv) as f32;
            }
        }
    }
}

/// Unit random directions of dimension `dim`, seeded.
fn directions(dim: usize, count: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(dim * count);
    for _ in 0..count {
        let v: Vec<f32> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        out.extend(v.iter().map(|x| x / n));
    }
    out
}

/// Projections of `desc` (rows of `dim`) on each direction: one vector per direction, in row
/// order.
fn projections(desc: &[f32], dim: usize, dirs: &[f32]) -> Vec<Vec<f32>> {
    dirs.chunks_exact(dim)
        .map(|d| {
            desc.chunks_exact(dim)
                .map(|x| x.iter().zip(d).map(|(a, b)| a * b).sum())
                .collect()
        })
        .collect()
}

/// [`projections`], each vector sorted.
fn sorted_projections(desc: &[f32], dim: usize, dirs: &[f32]) -> Vec<Vec<f32>> {
    let mut p = projections(desc, dim, dirs);
    for v in &mut p {
        v.sort_by(f32::total_cmp);
    }
    p
}

/// Sliced Wasserstein distance between the descriptor set `real` and each set of `fakes`
/// (all already normalised, rows of `dim`, every set with the same number of rows):
/// the mean over [`DIR_REPEATS`]·[`DIRS_PER_REPEAT`] seeded unit directions of the mean
/// absolute difference of the sorted projections. Not scaled by [`SCALE`].
///
/// # Errors
/// [`Error::Shape`] when a set is empty, not a whole number of rows, or of another size than
/// `real`.
pub fn sliced_wasserstein(
    real: &[f32],
    fakes: &[&[f32]],
    dim: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    if dim == 0 || real.is_empty() || !real.len().is_multiple_of(dim) {
        return Err(Error::Shape(format!(
            "SWD: {} values are not a non-empty set of {dim}-dimensional descriptors",
            real.len()
        )));
    }
    if let Some(f) = fakes.iter().find(|f| f.len() != real.len()) {
        return Err(Error::Shape(format!(
            "SWD: descriptor sets differ in size ({} vs {} values)",
            f.len(),
            real.len()
        )));
    }
    let mut sums = vec![0.0f64; fakes.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..DIR_REPEATS {
        let dirs = directions(dim, DIRS_PER_REPEAT, rng.random());
        let pr = sorted_projections(real, dim, &dirs);
        for (sum, fake) in sums.iter_mut().zip(fakes) {
            let pf = sorted_projections(fake, dim, &dirs);
            for (a, b) in pr.iter().zip(&pf) {
                let d: f64 = a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).sum();
                *sum += d / a.len() as f64;
            }
        }
    }
    let total = (DIR_REPEATS * DIRS_PER_REPEAT) as f64;
    Ok(sums.into_iter().map(|s| s / total).collect())
}

/// SWD per level and its mean over levels, both ×[`SCALE`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SwdResult {
    /// Per level, finest first.
    pub levels: Vec<f64>,
    /// Mean over levels.
    pub mean: f64,
}

/// Descriptor sets of one real set and several "fake" sets (methods), level by level, filled
/// image by image at shared positions; [`SwdSets::finish`] gives one [`SwdResult`] per method.
#[derive(Debug, Clone)]
pub struct SwdSets {
    channels: usize,
    real: Vec<Vec<f32>>,
    fakes: Vec<Vec<Vec<f32>>>,
    /// Row counts at the end of each item ([`SwdSets::end_item`]): `[item][set][level]`, set 0
    /// the real set, set `1 + m` method `m`.
    item_ends: Vec<Vec<Vec<usize>>>,
}

impl SwdSets {
    /// Empty sets for `methods` methods over `levels` levels of `channels`-channel images.
    pub fn new(methods: usize, levels: usize, channels: usize) -> Self {
        Self {
            channels,
            real: vec![Vec::new(); levels],
            fakes: vec![vec![Vec::new(); levels]; methods],
            item_ends: Vec::new(),
        }
    }

    /// Marks the end of one item (one image and mask, with every method's fill added): the
    /// unit that [`SwdSets::bootstrap`] resamples.
    pub fn end_item(&mut self) {
        let dim = self.channels * PATCH * PATCH;
        let rows = |v: &Vec<Vec<f32>>| v.iter().map(|l| l.len() / dim.max(1)).collect();
        let mut ends = vec![rows(&self.real)];
        ends.extend(self.fakes.iter().map(rows));
        self.item_ends.push(ends);
    }

    /// Items marked by [`SwdSets::end_item`].
    pub fn items(&self) -> usize {
        self.item_ends.len()
    }

    /// Number of levels.
    pub fn levels(&self) -> usize {
        self.real.len()
    }

    /// Adds neighbourhoods at `positions[level]` of the real pyramid and of method `m`'s
    /// pyramid. Call it once per method with the same real pyramid and positions (the real
    /// descriptors are added for method 0 only).
    ///
    /// # Errors
    /// [`Error::Shape`] when the pyramids do not have [`Self::levels`] levels or `m` is out of
    /// range.
    pub fn add(
        &mut self,
        m: usize,
        real: &[Planes],
        fake: &[Planes],
        positions: &[Vec<(usize, usize)>],
    ) -> Result<()> {
        let levels = self.levels();
        if real.len() != levels || fake.len() != levels || positions.len() != levels {
            return Err(Error::Shape(format!(
                "SWD: expected {levels} pyramid levels, got {}, {} and {}",
                real.len(),
                fake.len(),
                positions.len()
            )));
        }
        if m >= self.fakes.len() {
            return Err(Error::Shape(format!("SWD: no method {m}")));
        }
        for l in 0..levels {
            for &p in &positions[l] {
                if m == 0 {
                    push_descriptor(&real[l], p, &mut self.real[l]);
                }
                push_descriptor(&fake[l], p, &mut self.fakes[m][l]);
            }
        }
        Ok(())
    }

    /// Normalises every set and computes the distances (directions seeded from `seed` and the
    /// level, so every method is measured along the same directions).
    ///
    /// # Errors
    /// [`Error::Shape`] when nothing was added or the sets differ in size.
    pub fn finish(mut self, seed: u64) -> Result<Vec<SwdResult>> {
        let dim = self.channels * PATCH * PATCH;
        let mut per_method = vec![Vec::with_capacity(self.levels()); self.fakes.len()];
        for l in 0..self.levels() {
            normalize_descriptors(&mut self.real[l], self.channels);
            for f in &mut self.fakes {
                normalize_descriptors(&mut f[l], self.channels);
            }
            let fakes: Vec<&[f32]> = self.fakes.iter().map(|f| f[l].as_slice()).collect();
            let d = sliced_wasserstein(
                &self.real[l],
                &fakes,
                dim,
                seed ^ (l as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )?;
            for (out, v) in per_method.iter_mut().zip(d) {
                out.push(v * SCALE);
            }
        }
        Ok(per_method
            .into_iter()
            .map(|levels| {
                let mean = levels.iter().sum::<f64>() / levels.len().max(1) as f64;
                SwdResult { levels, mean }
            })
            .collect())
    }

    /// A paired bootstrap over the items ([`SwdSets::end_item`]) of how much lower method 0's
    /// SWD is than each other method's. Each of `reps` resamples draws the items with
    /// replacement (one draw shared by every method and level) and measures the SWD
    /// ×[`SCALE`] (mean over levels) of the drawn pairs along [`BOOTSTRAP_DIRS`] seeded
    /// directions per level, every set normalised once with the statistics of the whole bin
    /// (the resample's own statistics would differ by little and cost a sort per resample and
    /// direction). One [`SwdContrast`] per other method; none when `reps` is 0, fewer than two
    /// items were marked, or there is only one method.
    ///
    /// # Errors
    /// [`Error::Shape`] when rows were added after the last [`SwdSets::end_item`] or an item's
    /// fill sets differ in size from its real set.
    pub fn bootstrap(&self, reps: usize, seed: u64) -> Result<Vec<SwdContrast>> {
        use rayon::prelude::*;
        let n = self.item_ends.len();
        let methods = self.fakes.len();
        if reps == 0 || n < 2 || methods < 2 {
            return Ok(Vec::new());
        }
        let dim = self.channels * PATCH * PATCH;
        let levels = self.levels();
        let sets = 1 + methods;
        let set = |s: usize, l: usize| -> &[f32] {
            if s == 0 {
                &self.real[l]
            } else {
                &self.fakes[s - 1][l]
            }
        };
        for l in 0..levels {
            if (0..sets).any(|s| self.item_ends[n - 1][s][l] * dim != set(s, l).len()) {
                return Err(Error::Shape(
                    "SWD bootstrap: descriptors were added after the last item".into(),
                ));
            }
        }
        // Per level, each item's number of rows (the same in every set) and each row's item.
        let mut rows_per_item = vec![Vec::with_capacity(n); levels];
        for (i, ends) in self.item_ends.iter().enumerate() {
            let count = |s: usize, l: usize| {
                ends[s][l] - i.checked_sub(1).map_or(0, |p| self.item_ends[p][s][l])
            };
            for (l, rows) in rows_per_item.iter_mut().enumerate() {
                let r = count(0, l);
                if (1..sets).any(|s| count(s, l) != r) {
                    return Err(Error::Shape(format!(
                        "SWD bootstrap: item {i} has fill sets of another size than its real \
                         set at level {l}"
                    )));
                }
                rows.push(r as u32);
            }
        }
        let item_of: Vec<Vec<u32>> = rows_per_item
            .iter()
            .map(|rows| {
                rows.iter()
                    .enumerate()
                    .flat_map(|(i, &r)| std::iter::repeat_n(i as u32, r as usize))
                    .collect()
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Per resample: how often each item was drawn.
        let weights: Vec<Vec<u32>> = (0..reps)
            .map(|_| {
                let mut w = vec![0u32; n];
                for _ in 0..n {
                    w[rng.random_range(0..n)] += 1;
                }
                w
            })
            .collect();
        // Per resample and method: the SWD ×SCALE, mean over levels (one level at a time, so
        // only one level's sorted lists are held).
        let mut swd = vec![vec![0.0f64; methods]; reps];
        for l in 0..levels {
            if item_of[l].is_empty() {
                continue;
            }
            let dirs = directions(
                dim,
                BOOTSTRAP_DIRS,
                seed ^ (l as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let fakes: Vec<&[f32]> = (1..sets).map(|s| set(s, l)).collect();
            let walks = LevelWalks::new(set(0, l), &fakes, &item_of[l], self.channels, &dirs);
            let per_rep: Vec<Vec<f64>> = weights
                .par_iter()
                .map(|w| walks.distances(w, &rows_per_item[l]))
                .collect();
            for (acc, d) in swd.iter_mut().zip(per_rep) {
                for (a, v) in acc.iter_mut().zip(d) {
                    *a += v * SCALE / levels as f64;
                }
            }
        }
        // Per resample: method 0's SWD minus each other method's.
        let diffs: Vec<Vec<f64>> = swd
            .iter()
            .map(|m| m[1..].iter().map(|o| m[0] - o).collect())
            .collect();
        Ok((1..methods)
            .map(|m| {
                let mut d: Vec<f64> = diffs.iter().map(|v| v[m - 1]).collect();
                d.sort_by(f64::total_cmp);
                SwdContrast {
                    method: m,
                    reps,
                    low: quantile(&d, 0.025),
                    high: quantile(&d, 0.975),
                    better: d.iter().filter(|&&v| v < 0.0).count() as f64 / reps as f64,
                }
            })
            .collect())
    }
}

/// Method 0 against another method under the paired bootstrap of [`SwdSets::bootstrap`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SwdContrast {
    /// Index of the other method.
    pub method: usize,
    /// Resamples.
    pub reps: usize,
    /// 2.5th percentile over the resamples of method 0's SWD minus the other's (×[`SCALE`],
    /// mean over levels; negative: method 0 closer to the real patches).
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
    /// Share of resamples in which method 0's SWD is lower than the other's.
    pub better: f64,
}

/// One level's sets for [`SwdSets::bootstrap`], normalised once over the whole bin (as
/// [`SwdSets::finish`] does) and projected on the bootstrap's directions: per method and
/// direction, the real and that method's projections merged into one sorted list. A resample
/// weights every row by how often its item was drawn, and the 1-D Wasserstein distance between
/// the weighted real and fill values is one walk along the list — ∫|F − G|, the gap to the next
/// value times the difference of the cumulative weights — with no sorting per resample.
struct LevelWalks {
    /// Directions.
    dirs: usize,
    /// Entries per list (real rows + fill rows).
    len: usize,
    /// Per (method, direction) list, in order: the gap from each value to the next (0 after
    /// the last).
    gaps: Vec<f32>,
    /// Per list entry: its row's item + 1, negated for fill rows.
    tags: Vec<i32>,
}

impl LevelWalks {
    /// `real` and each of `fakes`: rows of `channels·PATCH²` values, row `r` of every set
    /// belonging to item `item_of[r]`.
    fn new(real: &[f32], fakes: &[&[f32]], item_of: &[u32], channels: usize, dirs: &[f32]) -> Self {
        use rayon::prelude::*;
        let dim = channels * PATCH * PATCH;
        let ndirs = dirs.len() / dim;
        let project = |set: &[f32]| -> Vec<Vec<f32>> {
            let mut norm = set.to_vec();
            normalize_descriptors(&mut norm, channels);
            projections(&norm, dim, dirs)
        };
        let real_proj = project(real);
        let len = 2 * item_of.len();
        let mut gaps = Vec::with_capacity(fakes.len() * ndirs * len);
        let mut tags = Vec::with_capacity(fakes.len() * ndirs * len);
        for fake in fakes {
            let fake_proj = project(fake);
            let lists: Vec<(Vec<f32>, Vec<i32>)> = real_proj
                .par_iter()
                .zip(&fake_proj)
                .map(|(r, f)| {
                    let mut e: Vec<(f32, i32)> = r
                        .iter()
                        .zip(item_of)
                        .map(|(&v, &i)| (v, i as i32 + 1))
                        .chain(f.iter().zip(item_of).map(|(&v, &i)| (v, -(i as i32 + 1))))
                        .collect();
                    e.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let g = e
                        .windows(2)
                        .map(|w| w[1].0 - w[0].0)
                        .chain(std::iter::once(0.0))
                        .collect();
                    (g, e.into_iter().map(|(_, t)| t).collect())
                })
                .collect();
            for (g, t) in lists {
                gaps.extend(g);
                tags.extend(t);
            }
        }
        Self {
            dirs: ndirs,
            len,
            gaps,
            tags,
        }
    }

    /// The SWD (not scaled) between the real set and each method's when item `i` counts
    /// `weights[i]` times; `rows[i]` is its number of rows.
    fn distances(&self, weights: &[u32], rows: &[u32]) -> Vec<f64> {
        let total: f64 = weights
            .iter()
            .zip(rows)
            .map(|(&w, &r)| f64::from(w) * f64::from(r))
            .sum();
        let methods = self.gaps.len() / (self.dirs * self.len).max(1);
        (0..methods)
            .map(|m| {
                let mut sum = 0.0f64;
                for d in 0..self.dirs {
                    let at = (m * self.dirs + d) * self.len;
                    let (mut cum, mut acc) = (0i64, 0.0f64);
                    for (&g, &t) in self.gaps[at..at + self.len]
                        .iter()
                        .zip(&self.tags[at..at + self.len])
                    {
                        let w = i64::from(weights[t.unsigned_abs() as usize - 1]);
                        cum += if t > 0 { w } else { -w };
                        acc += f64::from(g) * cum.unsigned_abs() as f64;
                    }
                    sum += acc / total.max(1.0);
                }
                sum / self.dirs.max(1) as f64
            })
            .collect()
    }
}

/// The `p`-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// SWD between two equally long lists of same-sized images, neighbourhoods anywhere in the
/// image ([`DESCRIPTORS_PER_IMAGE`] per image and level, positions seeded).
///
/// # Errors
/// [`Error::Shape`] when the lists are empty, differ in length, or the images differ in size.
pub fn swd_images(real: &[Planes], fake: &[Planes], seed: u64) -> Result<SwdResult> {
    let Some(first) = real.first() else {
        return Err(Error::Shape("SWD of an empty image set".into()));
    };
    if real.len() != fake.len() {
        return Err(Error::Shape(format!(
            "SWD: {} real and {} fake images",
            real.len(),
            fake.len()
        )));
    }
    let levels = num_levels(first.h, first.w);
    let mut sets = SwdSets::new(1, levels, first.c);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (r, f) in real.iter().zip(fake) {
        if (r.c, r.h, r.w) != (first.c, first.h, first.w) || (f.c, f.h, f.w) != (r.c, r.h, r.w) {
            return Err(Error::Shape("SWD: images differ in size".into()));
        }
        let pr = laplacian_pyramid(r, levels);
        let pf = laplacian_pyramid(f, levels);
        let pos: Vec<_> = pr
            .iter()
            .map(|l| patch_positions(None, l.h, l.w, DESCRIPTORS_PER_IMAGE, &mut rng))
            .collect();
        sets.add(0, &pr, &pf, &pos)?;
    }
    let mut out = sets.finish(seed)?;
    out.pop()
        .ok_or_else(|| Error::Shape("SWD: no result".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn noise(seed: u64, n: usize) -> Planes {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Planes::new(
            3,
            n,
            n,
            (0..3 * n * n).map(|_| rng.random::<f32>()).collect(),
        )
        .unwrap()
    }

    fn stripes(n: usize, period: usize, phase: usize) -> Planes {
        let mut d = Vec::new();
        for k in 0..3 {
            for _y in 0..n {
                for x in 0..n {
                    let on = ((x + phase + k) / period).is_multiple_of(2);
                    d.push(if on { 0.8 } else { 0.2 });
                }
            }
        }
        Planes::new(3, n, n, d).unwrap()
    }

    #[test]
    fn levels_and_pyramid_shapes() {
        assert_eq!(num_levels(256, 256), 5); // 256, 128, 64, 32, 16
        assert_eq!(num_levels(64, 80), 3);
        assert_eq!(num_levels(16, 16), 1);
        assert_eq!(num_levels(8, 8), 1);
        let p = laplacian_pyramid(&noise(1, 64), 3);
        assert_eq!(
            p.iter().map(|l| (l.h, l.w)).collect::<Vec<_>>(),
            vec![(64, 64), (32, 32), (16, 16)]
        );
        let h = hole_pyramid(&vec![false; 64 * 64], 64, 64, 3);
        assert_eq!(h[2].1, 16);
    }

    #[test]
    fn pyramid_of_a_constant_is_flat_and_reconstructs() {
        let c = Planes::constant(3, 32, 32, 0.7);
        let p = laplacian_pyramid(&c, 2);
        assert!(p[0].data.iter().all(|v| v.abs() < 1e-6));
        assert!(p[1].data.iter().all(|v| (v - 0.7).abs() < 1e-6));
        // Band + up(low-pass) gives back the image.
        let x = noise(2, 32);
        let p = laplacian_pyramid(&x, 2);
        let up = pyr_up(&p[1], 32, 32);
        for ((a, b), c) in p[0].data.iter().zip(&up.data).zip(&x.data) {
            assert!((a + b - c).abs() < 1e-5);
        }
    }

    #[test]
    fn swd_is_zero_for_identical_sets_and_positive_for_other_textures() {
        let a: Vec<Planes> = (0..4).map(|s| noise(s, 64)).collect();
        let same = swd_images(&a, &a, 7).unwrap();
        assert_eq!(same.levels.len(), 3);
        assert!(same.mean.abs() < 1e-9, "{same:?}");
        // Another draw of the same texture: small. Stripes: large.
        let b: Vec<Planes> = (10..14).map(|s| noise(s, 64)).collect();
        let c: Vec<Planes> = (0..4).map(|s| stripes(64, 4, s as usize)).collect();
        let near = swd_images(&a, &b, 7).unwrap();
        let far = swd_images(&a, &c, 7).unwrap();
        println!("SWD noise/noise {near:?}, noise/stripes {far:?}");
        assert!(near.mean > 0.0);
        assert!(far.mean > 3.0 * near.mean, "{} vs {}", far.mean, near.mean);
        // Deterministic.
        assert_eq!(far, swd_images(&a, &c, 7).unwrap());
        assert!(swd_images(&a, &c[..2], 7).is_err());
        assert!(swd_images(&[], &[], 7).is_err());
    }

    #[test]
    fn sliced_wasserstein_of_shifted_1d_sets() {
        // In one dimension every direction is ±1: the distance of a set from its shift by t
        // is |t|.
        let a: Vec<f32> = (0..50).map(|i| i as f32).collect();
        let b: Vec<f32> = a.iter().map(|v| v + 2.5).collect();
        let d = sliced_wasserstein(&a, &[&b, &a], 1, 3).unwrap();
        assert!((d[0] - 2.5).abs() < 1e-5 && d[1] == 0.0, "{d:?}");
        assert!(sliced_wasserstein(&a, &[&b[1..]], 1, 3).is_err());
    }

    #[test]
    fn positions_stay_in_the_region_and_the_image() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (h, w) = (20, 30);
        let region: Vec<bool> = (0..h * w).map(|i| i % w == 29 && i / w == 0).collect();
        for (x, y) in patch_positions(Some(&region), h, w, 20, &mut rng) {
            assert_eq!((x, y), (w - PATCH, 0));
        }
        for (x, y) in patch_positions(None, h, w, 100, &mut rng) {
            assert!(x + PATCH <= w && y + PATCH <= h);
        }
        assert!(patch_positions(None, 5, 30, 3, &mut rng).is_empty());
    }

    /// Sets of `items` items at 32² (2 levels): the real images are noise; method 0 is
    /// another draw of noise, method 1 the same fills as method 0, method 2 stripes.
    fn three_method_sets(items: u64) -> SwdSets {
        let mut sets = SwdSets::new(3, 2, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for i in 0..items {
            let real = laplacian_pyramid(&noise(i, 32), 2);
            let near = laplacian_pyramid(&noise(100 + i, 32), 2);
            let far = laplacian_pyramid(&stripes(32, 3, i as usize), 2);
            let pos: Vec<_> = real
                .iter()
                .map(|l| patch_positions(None, l.h, l.w, 20, &mut rng))
                .collect();
            sets.add(0, &real, &near, &pos).unwrap();
            sets.add(1, &real, &near, &pos).unwrap();
            sets.add(2, &real, &far, &pos).unwrap();
            sets.end_item();
        }
        sets
    }

    #[test]
    fn bootstrap_walks_equal_the_direct_distance() {
        // Normalise once, then: with every item once, and with items drawn with repeats, the
        // walk along the merged sorted list equals sorting the drawn rows' projections.
        let sets = three_method_sets(3);
        let dim = 3 * PATCH * PATCH;
        let dirs = directions(dim, 16, 4);
        let rows = sets.real[0].len() / dim;
        let per_item = rows / 3;
        let item_of: Vec<u32> = (0..rows).map(|r| (r / per_item) as u32).collect();
        let fakes: Vec<&[f32]> = vec![&sets.fakes[0][0], &sets.fakes[2][0]];
        let walks = LevelWalks::new(&sets.real[0], &fakes, &item_of, 3, &dirs);
        let mut norm: Vec<Vec<f32>> = [&sets.real[0][..], fakes[0], fakes[1]]
            .iter()
            .map(|s| s.to_vec())
            .collect();
        for s in &mut norm {
            normalize_descriptors(s, 3);
        }
        let counts = [per_item as u32; 3];
        for weights in [[1u32, 1, 1], [2, 0, 1], [0, 3, 0]] {
            let got = walks.distances(&weights, &counts);
            let pick = |s: &[f32]| -> Vec<f32> {
                (0..rows)
                    .flat_map(|r| {
                        let w = weights[item_of[r] as usize] as usize;
                        std::iter::repeat_n(&s[r * dim..(r + 1) * dim], w)
                            .flatten()
                            .copied()
                    })
                    .collect()
            };
            let pr = sorted_projections(&pick(&norm[0]), dim, &dirs);
            for m in 0..2 {
                let pf = sorted_projections(&pick(&norm[m + 1]), dim, &dirs);
                let want: f64 = pr
                    .iter()
                    .zip(&pf)
                    .map(|(a, b)| {
                        a.iter()
                            .zip(b)
                            .map(|(x, y)| f64::from((x - y).abs()))
                            .sum::<f64>()
                            / a.len() as f64
                    })
                    .sum::<f64>()
                    / 16.0;
                assert!(
                    (got[m] - want).abs() < 1e-4 * want,
                    "{weights:?} {m}: {} vs {want}",
                    got[m]
                );
            }
        }
    }

    #[test]
    fn bootstrap_contrasts_identical_and_clearly_different_methods() {
        let sets = three_method_sets(6);
        assert_eq!(sets.items(), 6);
        let c = sets.bootstrap(50, 11).unwrap();
        assert_eq!(c.len(), 2);
        // Method 1 has method 0's fills: no difference in any resample.
        assert_eq!((c[0].method, c[0].reps), (1, 50));
        assert!(
            c[0].low.abs() < 1e-9 && c[0].high.abs() < 1e-9,
            "{:?}",
            c[0]
        );
        assert_eq!(c[0].better, 0.0);
        // Stripes against noise: method 0 is better in every resample.
        assert_eq!(c[1].method, 2);
        assert!(c[1].low <= c[1].high && c[1].high < 0.0, "{:?}", c[1]);
        assert_eq!(c[1].better, 1.0);
        // The point estimate lies inside the interval.
        let point = sets.clone().finish(11).unwrap();
        let d = point[0].mean - point[2].mean;
        assert!(
            d > c[1].low - 0.1 * d.abs() && d < c[1].high + 0.1 * d.abs(),
            "{d} {:?}",
            c[1]
        );
        // Deterministic.
        assert_eq!(c, sets.bootstrap(50, 11).unwrap());
        // Nothing to resample.
        assert!(sets.bootstrap(0, 11).unwrap().is_empty());
        assert!(three_method_sets(1).bootstrap(50, 11).unwrap().is_empty());
    }

    #[test]
    fn bootstrap_refuses_rows_outside_items() {
        let mut sets = three_method_sets(2);
        let real = laplacian_pyramid(&noise(50, 32), 2);
        let pos: Vec<_> = real
            .iter()
            .map(|l| patch_positions(None, l.h, l.w, 5, &mut ChaCha8Rng::seed_from_u64(1)))
            .collect();
        sets.add(0, &real, &real, &pos).unwrap();
        let e = sets.bootstrap(10, 1).unwrap_err().to_string();
        assert!(e.contains("after the last item"), "{e}");
        // An item whose fill sets differ in size from its real set.
        sets.end_item();
        let e = sets.bootstrap(10, 1).unwrap_err().to_string();
        assert!(e.contains("item 2") && e.contains("another size"), "{e}");
    }
}
