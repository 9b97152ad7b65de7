//! The VGG distance between a fill and the ground truth, restricted to the hole.
//!
//! For a fill F and the truth T of the same hole H (both 8-bit images on the [0, 1] scale,
//! fed to the network as pdpaint feeds every VGG: `2v − 1`, no ImageNet normalisation, which
//! the ImageNet file folds into its first convolution):
//!
//! 1. F is composited onto T (pixels outside H are taken from T), so differences outside the
//!    hole cannot count.
//! 2. Both go through an ImageNet VGG-16 and five ReLU outputs are read: relu1_2, relu2_2,
//!    relu3_3, relu4_3, relu5_3 ([`LAYERS`]), at strides 1, 2, 4, 8, 16.
//! 3. At every position of a layer, the feature vector is divided by its Euclidean norm over
//!    the channels (plus [`EPS`]), as LPIPS does before its learned weights; a position whose
//!    channels are all 0 stays 0. The per-position distance is the squared difference summed
//!    over the channels, ‖f̂ − t̂‖² = 2 − 2·cos(f, t) for two non-zero ReLU vectors: 0 for the
//!    same direction, at most 2.
//! 4. **Where the hole is at that layer**: position (y, x) of a layer with stride s sits over
//!    the s×s pixel cell [s·y, s·y + s) × [s·x, s·x + s) (VGG's 2×2 max-pools floor the size, so
//!    every cell lies inside the image). Its weight is the share of that cell's pixels in the
//!    hole (the mask average-pooled like the network pools). The layer's distance is the
//!    weighted mean of the per-position distances: positions the hole does not touch weigh 0,
//!    a position half in the hole counts half. Unlike a ≥ 50 % threshold this never leaves a
//!    thin stroke without positions at the coarse layers (a 5 px stroke covers no half of a
//!    16 px cell), and unlike "any hole pixel" (max-pooling the mask) it does not let cells that
//!    are mostly known weigh as much as cells inside the hole. A layer at which no cell holds a
//!    hole pixel (possible only for holes in the few rows or columns the pooling drops) is left
//!    out.
//! 5. The distance is the mean over the layers, with equal weights.
//!
//! This is **not LPIPS**: there are no learned per-channel weights (LPIPS trains them on human
//! judgements), only the unit normalisation, and the mean is over the hole rather than the
//! image. It says how far the fill's VGG features are from the truth's inside the hole — a
//! fill can be plausible and still far from this one truth. 0 = the truth's features exactly.
//! Per-position normalisation makes it independent of the network's activation scale (see
//! [`crate::model::vgg`]).
//!
//! Cost: the truth's features are computed once per (truth, hole) and the fills go through the
//! network in batches ([`VggDistance::measure`]).

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::metrics::Planes;
use crate::error::{Error, Result};
use crate::model::vgg::{Vgg, VggKind, VggLayer, VggWeights};
use crate::model::{tensor_from_vec, tensor_to_vec};

/// The layers of the distance, shallowest first.
pub const LAYERS: [VggLayer; 5] = VggLayer::VGG16_BLOCK_ENDS;

/// Added to a feature vector's norm before dividing (LPIPS' value).
pub const EPS: f32 = 1e-10;

/// Images per network call are limited so that one call holds at most this many pixels
/// (relu1_x of a full-width VGG-16 takes 256 bytes per pixel and image).
pub const MAX_BATCH_PIXELS: usize = 1 << 20;

/// How the distance was measured: the typed record a report keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VggDistanceSettings {
    /// The network's weights.
    pub weights: VggWeights,
    /// The layers, shallowest first.
    pub layers: Vec<VggLayer>,
    /// Seconds spent on the distance (the network and the comparison) in this run.
    pub seconds: f64,
}

/// The VGG distance of one method on one item or averaged over items: the mean over its
/// outputs and the lowest (best) one. The two coincide for a method with one output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VggScore {
    /// Mean over the outputs.
    pub mean: f64,
    /// Lowest over the outputs.
    pub best: f64,
}

impl VggScore {
    /// The mean and lowest of `d` (`None` when empty).
    pub fn of(d: &[f64]) -> Option<Self> {
        if d.is_empty() {
            return None;
        }
        Some(Self {
            mean: d.iter().sum::<f64>() / d.len() as f64,
            best: d.iter().copied().fold(f64::INFINITY, f64::min),
        })
    }

    /// The means over items of the items' means and bests (`None` when empty).
    pub fn average(items: &[VggScore]) -> Option<Self> {
        if items.is_empty() {
            return None;
        }
        let n = items.len() as f64;
        Some(Self {
            mean: items.iter().map(|s| s.mean).sum::<f64>() / n,
            best: items.iter().map(|s| s.best).sum::<f64>() / n,
        })
    }
}

/// One fill's distance and its parts: the per-layer distances ([`LAYERS`] order; `None` for a
/// layer with no cell in the hole, left out of the mean).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillDistance {
    /// The mean over the layers that have a part.
    pub distance: f64,
    /// Per layer.
    pub layers: [Option<f64>; LAYERS.len()],
}

/// Per-layer means over many [`FillDistance`]s (or over per-item means of them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerMeans {
    sum: [f64; LAYERS.len()],
    n: [usize; LAYERS.len()],
}

impl LayerMeans {
    /// Adds one set of per-layer values.
    pub fn add(&mut self, layers: &[Option<f64>; LAYERS.len()]) {
        for (l, v) in layers.iter().enumerate() {
            if let Some(v) = v {
                self.sum[l] += v;
                self.n[l] += 1;
            }
        }
    }

    /// The means so far, per layer (`None` where nothing was added).
    pub fn means(&self) -> [Option<f64>; LAYERS.len()] {
        std::array::from_fn(|l| (self.n[l] > 0).then(|| self.sum[l] / self.n[l] as f64))
    }

    /// The per-layer means of `fills`.
    pub fn of(fills: &[FillDistance]) -> [Option<f64>; LAYERS.len()] {
        let mut m = Self::default();
        fills.iter().for_each(|f| m.add(&f.layers));
        m.means()
    }
}

/// Which per-item value of a sampled method a contrast uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleStat {
    /// The mean over the N samples (what a user gets from one sample, on average).
    MeanOfN,
    /// The lowest of the N samples (chosen with the truth in hand: an upper bound on what
    /// picking a sample could give).
    BestOfN,
}

impl SampleStat {
    /// Both, mean first.
    pub const ALL: [SampleStat; 2] = [SampleStat::MeanOfN, SampleStat::BestOfN];

    /// `"mean of N"` or `"best of N"`.
    pub fn label(self) -> &'static str {
        match self {
            SampleStat::MeanOfN => "mean of N",
            SampleStat::BestOfN => "best of N",
        }
    }

    /// This statistic of a score.
    pub fn of(self, s: &VggScore) -> f64 {
        match self {
            SampleStat::MeanOfN => s.mean,
            SampleStat::BestOfN => s.best,
        }
    }
}

/// A paired bootstrap of the difference of two methods' per-item values: `a − b` over the
/// same items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedContrast {
    /// Mean of `a` minus mean of `b` over all items.
    pub difference: f64,
    /// 2.5th percentile of that difference over the resamples.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
    /// Share of resamples in which `a`'s mean is lower than `b`'s.
    pub a_lower: f64,
    /// Resamples.
    pub reps: usize,
}

/// A paired bootstrap over items of `mean(a) − mean(b)`: each of `reps` resamples draws the
/// items with replacement (the same draw for both; the draws depend only on `seed`, the
/// number of items and `reps`, so contrasts made with one seed share them). `None` when
/// `reps` is 0, there are fewer than two items, or the lists differ in length.
pub fn paired_bootstrap(a: &[f64], b: &[f64], reps: usize, seed: u64) -> Option<PairedContrast> {
    let n = a.len();
    if reps == 0 || n < 2 || b.len() != n {
        return None;
    }
    let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..reps)
        .map(|_| (0..n).map(|_| diff[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let q = |p: f64| means[((reps - 1) as f64 * p).round() as usize];
    Some(PairedContrast {
        difference: diff.iter().sum::<f64>() / n as f64,
        low: q(0.025),
        high: q(0.975),
        a_lower: means.iter().filter(|&&v| v < 0.0).count() as f64 / reps as f64,
        reps,
    })
}

/// One layer's share of the hole: the positions it touches and their weights.
#[derive(Debug, Clone)]
struct LayerHole {
    /// Position indices (row-major in the layer's map).
    positions: Vec<usize>,
    /// The share of each position's cell in the hole.
    weights: Vec<f32>,
}

/// The hole weights of every layer of [`LAYERS`] for an `h×w` mask: block `b`'s map is the
/// mask average-pooled `2×2` `b` times with the floor sizes of VGG's max-pools.
fn layer_holes(hole: &[bool], h: usize, w: usize) -> Vec<LayerHole> {
    let mut cur: Vec<f32> = hole.iter().map(|&v| f32::from(u8::from(v))).collect();
    let (mut ch, mut cw) = (h, w);
    let mut per_block = Vec::with_capacity(5);
    for b in 0..5 {
        if b > 0 {
            let (nh, nw) = (ch / 2, cw / 2);
            let mut next = vec![0.0f32; nh * nw];
            for y in 0..nh {
                for x in 0..nw {
                    let at = |yy: usize, xx: usize| cur[yy * cw + xx];
                    next[y * nw + x] = 0.25
                        * (at(2 * y, 2 * x)
                            + at(2 * y, 2 * x + 1)
                            + at(2 * y + 1, 2 * x)
                            + at(2 * y + 1, 2 * x + 1));
                }
            }
            cur = next;
            (ch, cw) = (nh, nw);
        }
        let (positions, weights) = cur
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(i, v)| (i, *v))
            .unzip();
        per_block.push(LayerHole { positions, weights });
    }
    LAYERS
        .iter()
        .map(|l| per_block[l.block_and_index().0].clone())
        .collect()
}

/// The truth's side of one (truth, hole) pair: the image and, per layer, its unit-normalised
/// features at the hole's positions.
struct Reference {
    truth: Planes,
    hole: Vec<bool>,
    holes: Vec<LayerHole>,
    /// Per layer: `positions × channels`, position-major.
    feats: Vec<Vec<f32>>,
}

/// Unit-normalised features of image `k` of a `[B, C, H, W]` activation at `positions`,
/// position-major (`positions.len() × C`).
fn normalised_at(v: &[f32], k: usize, c: usize, plane: usize, positions: &[usize]) -> Vec<f32> {
    let base = k * c * plane;
    let mut out = Vec::with_capacity(positions.len() * c);
    for &p in positions {
        let start = out.len();
        let mut sq = 0.0f32;
        for ch in 0..c {
            let x = v[base + ch * plane + p];
            sq += x * x;
            out.push(x);
        }
        let norm = sq.sqrt() + EPS;
        out[start..].iter_mut().for_each(|x| *x /= norm);
    }
    out
}

/// The VGG distance's network (see the [module docs](self)).
#[derive(Debug)]
pub struct VggDistance {
    vgg: Vgg,
    device: Device,
    max_batch_pixels: usize,
    seconds: std::cell::Cell<f64>,
}

/// Receives one layer's activations of a batch: `(image k, layer, values, channels, plane)`
/// (see `VggDistance::run_batches`).
type FeatureSink<'a> = dyn FnMut(usize, usize, &[f32], usize, usize, usize) -> Result<()> + 'a;

impl VggDistance {
    /// The distance on `vgg` (a VGG-16 at any width; an ImageNet one for real measurements),
    /// run on `device`.
    pub fn new(vgg: Vgg, device: &Device) -> Self {
        Self {
            vgg,
            device: device.clone(),
            max_batch_pixels: MAX_BATCH_PIXELS,
            seconds: std::cell::Cell::new(0.0),
        }
    }

    /// Loads the VGG-16 weights at `path` ([`Vgg::from_file`]) onto `device`.
    ///
    /// # Errors
    /// As [`Vgg::from_file`].
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Ok(Self::new(
            Vgg::from_file(path, VggKind::Vgg16, device)?,
            device,
        ))
    }

    /// Limits the pixels per network call (tests; default [`MAX_BATCH_PIXELS`]).
    pub fn with_max_batch_pixels(mut self, pixels: usize) -> Self {
        self.max_batch_pixels = pixels.max(1);
        self
    }

    /// The network's weights.
    pub fn weights(&self) -> &VggWeights {
        self.vgg.weights()
    }

    /// The network.
    pub fn vgg(&self) -> &Vgg {
        &self.vgg
    }

    /// The record a report keeps, with the seconds spent so far.
    pub fn settings(&self) -> VggDistanceSettings {
        VggDistanceSettings {
            weights: self.vgg.weights().clone(),
            layers: LAYERS.to_vec(),
            seconds: self.seconds.get(),
        }
    }

    /// Seconds spent in [`VggDistance::measure`] so far.
    pub fn seconds(&self) -> f64 {
        self.seconds.get()
    }

    /// The features at [`LAYERS`] of `images` (same size), in batches of at most
    /// `max_batch_pixels`; `sink(k, layer, values, channels, plane)` receives image `k`'s
    /// batch activations (`values` holds the whole batch, image `k − first` of it).
    fn run_batches(&self, images: &[&Planes], sink: &mut FeatureSink<'_>) -> Result<()> {
        let Some(first) = images.first() else {
            return Ok(());
        };
        let (h, w) = (first.h, first.w);
        let per = (self.max_batch_pixels / (h * w).max(1)).max(1);
        let mut start = 0;
        for chunk in images.chunks(per) {
            let n = chunk.len();
            let mut x = Vec::with_capacity(n * 3 * h * w);
            for img in chunk {
                if (img.c, img.h, img.w) != (3, h, w) {
                    return Err(Error::Shape(format!(
                        "VGG distance: images differ in size: 3×{h}×{w} vs {}×{}×{}",
                        img.c, img.h, img.w
                    )));
                }
                x.extend(img.to_unit_range());
            }
            let feats = self
                .vgg
                .try_features(tensor_from_vec(x, [n, 3, h, w], &self.device), &LAYERS)?;
            for (l, f) in feats.into_iter().enumerate() {
                let [_, c, fh, fw] = f.dims();
                let v = tensor_to_vec(f)?;
                for k in 0..n {
                    sink(start + k, l, &v, c, fh * fw, k)?;
                }
            }
            start += n;
        }
        Ok(())
    }

    /// The distance of each fill in each group to `truth` inside `hole` (`h·w` flags): one
    /// list per group, in order. The truth's features are computed once; the fills go through
    /// the network in batches.
    ///
    /// # Errors
    /// [`Error::Shape`] when the images or the mask differ in size; [`Error::Input`] when the
    /// hole is empty; errors of the network.
    pub fn measure(
        &self,
        truth: &Planes,
        hole: &[bool],
        groups: &[&[Planes]],
    ) -> Result<Vec<Vec<f64>>> {
        Ok(self
            .measure_layers(truth, hole, groups)?
            .into_iter()
            .map(|g| g.into_iter().map(|f| f.distance).collect())
            .collect())
    }

    /// [`VggDistance::measure`] with each fill's per-layer parts.
    ///
    /// # Errors
    /// As [`VggDistance::measure`].
    pub fn measure_layers(
        &self,
        truth: &Planes,
        hole: &[bool],
        groups: &[&[Planes]],
    ) -> Result<Vec<Vec<FillDistance>>> {
        let start = Instant::now();
        let out = self.measure_inner(truth, hole, groups);
        self.seconds
            .set(self.seconds.get() + start.elapsed().as_secs_f64());
        out
    }

    fn measure_inner(
        &self,
        truth: &Planes,
        hole: &[bool],
        groups: &[&[Planes]],
    ) -> Result<Vec<Vec<FillDistance>>> {
        if truth.c != 3 || hole.len() != truth.h * truth.w {
            return Err(Error::Shape(format!(
                "VGG distance: a 3-channel truth and a mask of its size are needed, got \
                 {}×{}×{} and {} mask pixels",
                truth.c,
                truth.h,
                truth.w,
                hole.len()
            )));
        }
        if !hole.iter().any(|&v| v) {
            return Err(Error::Input(
                "the hole mask is empty: nothing to measure".into(),
            ));
        }
        let reference = self.reference(truth, hole)?;
        let composites: Vec<Planes> = groups
            .iter()
            .flat_map(|g| g.iter())
            .map(|f| composite(f, &reference.truth, &reference.hole))
            .collect::<Result<_>>()?;
        let refs: Vec<&Planes> = composites.iter().collect();
        // Per fill and layer: (weighted sum of distances, weight sum).
        let mut sums = vec![[(0.0f64, 0.0f64); LAYERS.len()]; composites.len()];
        self.run_batches(&refs, &mut |k, l, v, c, plane, in_batch| {
            let lh = &reference.holes[l];
            let f = normalised_at(v, in_batch, c, plane, &lh.positions);
            let t = &reference.feats[l];
            let mut acc = 0.0f64;
            let mut wsum = 0.0f64;
            for (i, &wt) in lh.weights.iter().enumerate() {
                let d: f32 = f[i * c..(i + 1) * c]
                    .iter()
                    .zip(&t[i * c..(i + 1) * c])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                acc += f64::from(wt) * f64::from(d);
                wsum += f64::from(wt);
            }
            sums[k][l] = (acc, wsum);
            Ok(())
        })?;
        let mut distances = sums.iter().map(|layers| {
            let parts: [Option<f64>; LAYERS.len()] =
                std::array::from_fn(|l| (layers[l].1 > 0.0).then(|| layers[l].0 / layers[l].1));
            let used: Vec<f64> = parts.iter().flatten().copied().collect();
            FillDistance {
                distance: used.iter().sum::<f64>() / used.len().max(1) as f64,
                layers: parts,
            }
        });
        Ok(groups
            .iter()
            .map(|g| distances.by_ref().take(g.len()).collect())
            .collect())
    }

    /// The truth's normalised features at the hole's positions.
    fn reference(&self, truth: &Planes, hole: &[bool]) -> Result<Reference> {
        let holes = layer_holes(hole, truth.h, truth.w);
        let mut feats = vec![Vec::new(); LAYERS.len()];
        self.run_batches(&[truth], &mut |_, l, v, c, plane, in_batch| {
            feats[l] = normalised_at(v, in_batch, c, plane, &holes[l].positions);
            Ok(())
        })?;
        Ok(Reference {
            truth: truth.clone(),
            hole: hole.to_vec(),
            holes,
            feats,
        })
    }

    /// The distance of one fill (see [`VggDistance::measure`]).
    ///
    /// # Errors
    /// As [`VggDistance::measure`].
    pub fn distance(&self, fill: &Planes, truth: &Planes, hole: &[bool]) -> Result<f64> {
        self.measure(truth, hole, &[std::slice::from_ref(fill)])?
            .first()
            .and_then(|g| g.first().copied())
            .ok_or_else(|| Error::Shape("VGG distance: no result".into()))
    }
}

/// `fill` inside `hole`, `truth` elsewhere.
fn composite(fill: &Planes, truth: &Planes, hole: &[bool]) -> Result<Planes> {
    if (fill.c, fill.h, fill.w) != (truth.c, truth.h, truth.w) {
        return Err(Error::Shape(format!(
            "VGG distance: the fill is {}×{}×{}, the truth {}×{}×{}",
            fill.c, fill.h, fill.w, truth.c, truth.h, truth.w
        )));
    }
    let plane = truth.plane_len();
    let mut out = truth.clone();
    for k in 0..truth.c {
        for (i, _) in hole.iter().enumerate().filter(|(_, m)| **m) {
            out.data[k * plane + i] = fill.data[k * plane + i];
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::vgg::VggConfig;

    fn tiny() -> VggDistance {
        let dev = Device::flex();
        let vgg = Vgg::random(
            VggConfig {
                kind: VggKind::Vgg16,
                width_div: 16,
            },
            11,
            &dev,
        )
        .unwrap();
        VggDistance::new(vgg, &dev)
    }

    /// A textured 64×64 image: stripes, a ring and a gradient.
    fn scene(w: usize, h: usize) -> Planes {
        let mut d = vec![0.0f32; 3 * w * h];
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32, y as f32);
                let r = ((fx - 30.0).powi(2) + (fy - 28.0).powi(2)).sqrt();
                d[y * w + x] = 0.5 + 0.4 * (fx / 3.0).sin() * (fy / 5.0).cos();
                d[w * h + y * w + x] = 0.5 + 0.45 * (r / 4.0).sin();
                d[2 * w * h + y * w + x] = (fx + fy) / (w + h) as f32;
            }
        }
        Planes::new(3, h, w, d).unwrap()
    }

    fn box_hole(w: usize, h: usize, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> Vec<bool> {
        (0..w * h)
            .map(|i| (x0..x1).contains(&(i % w)) && (y0..y1).contains(&(i / w)))
            .collect()
    }

    fn blur(p: &Planes, r: isize) -> Planes {
        let mut out = p.clone();
        let (w, h) = (p.w as isize, p.h as isize);
        for k in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let (mut s, mut n) = (0.0, 0.0);
                    for dy in -r..=r {
                        for dx in -r..=r {
                            let (xx, yy) = ((x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1));
                            s += p.data[(k * h * w + yy * w + xx) as usize];
                            n += 1.0;
                        }
                    }
                    out.data[(k * h * w + y * w + x) as usize] = s / n;
                }
            }
        }
        out
    }

    #[test]
    fn identical_images_are_at_distance_zero() {
        let m = tiny();
        let t = scene(64, 64);
        let hole = box_hole(64, 64, (16, 16, 48, 44));
        assert_eq!(m.distance(&t, &t, &hole).unwrap(), 0.0);
    }

    #[test]
    fn blur_is_worse_than_slight_noise_and_a_3px_shift_beats_a_flat_fill() {
        let m = tiny();
        let t = scene(64, 64);
        let hole = box_hole(64, 64, (12, 14, 50, 52));
        let blurred = blur(&t, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut noisy = t.clone();
        for v in &mut noisy.data {
            *v = (*v + rng.random_range(-0.02f32..0.02)).clamp(0.0, 1.0);
        }
        let mut shifted = t.clone();
        for k in 0..3 {
            for y in 0..64 {
                for x in 0..64 {
                    let sx = (x + 3).min(63);
                    shifted.data[k * 4096 + y * 64 + x] = t.data[k * 4096 + y * 64 + sx];
                }
            }
        }
        // The mean colour of the hole, flat.
        let mut flat = t.clone();
        let n = hole.iter().filter(|&&v| v).count() as f32;
        for k in 0..3 {
            let mean: f32 = (0..4096)
                .filter(|&i| hole[i])
                .map(|i| t.data[k * 4096 + i])
                .sum::<f32>()
                / n;
            for i in 0..4096 {
                flat.data[k * 4096 + i] = mean;
            }
        }
        let d = m
            .measure(
                &t,
                &hole,
                &[&[blurred, noisy], std::slice::from_ref(&shifted), &[flat]],
            )
            .unwrap();
        let (d_blur, d_noise, d_shift, d_flat) = (d[0][0], d[0][1], d[1][0], d[2][0]);
        eprintln!("blur {d_blur:.4}, noise {d_noise:.4}, shift {d_shift:.4}, flat {d_flat:.4}");
        assert!(d_noise > 0.0, "noise is not nothing");
        assert!(d_blur > d_noise, "blur {d_blur} vs noise {d_noise}");
        assert!(d_shift < d_flat, "shift {d_shift} vs flat {d_flat}");
        assert!(d.iter().flatten().all(|v| (0.0..=2.0).contains(v)));
        // One at a time gives the same numbers as the batched call.
        let one = m.distance(&d_fill(&t, 0.3), &t, &hole).unwrap();
        let batched = m.measure(&t, &hole, &[&[d_fill(&t, 0.3)]]).unwrap()[0][0];
        assert!((one - batched).abs() < 1e-9);
    }

    fn d_fill(t: &Planes, v: f32) -> Planes {
        Planes::constant(3, t.h, t.w, v)
    }

    #[test]
    fn differences_outside_the_hole_are_ignored() {
        let m = tiny();
        let t = scene(64, 48);
        let hole = box_hole(64, 48, (20, 10, 40, 30));
        // The same inside the hole, anything outside: distance 0.
        let mut outside = d_fill(&t, 0.9);
        for k in 0..3 {
            for (i, _) in hole.iter().enumerate().filter(|(_, h)| **h) {
                outside.data[k * 64 * 48 + i] = t.data[k * 64 * 48 + i];
            }
        }
        assert_eq!(m.distance(&outside, &t, &hole).unwrap(), 0.0);
        // A change inside the hole counts.
        let mut inside = t.clone();
        inside.data[25 * 64 + 30] = 1.0 - inside.data[25 * 64 + 30];
        assert!(m.distance(&inside, &t, &hole).unwrap() > 0.0);
        // Shape errors and empty holes are refused.
        assert!(m.distance(&d_fill(&t, 0.5), &t, &[false; 64 * 48]).is_err());
        assert!(m.distance(&scene(32, 32), &t, &hole).is_err());
    }

    #[test]
    fn batches_of_any_size_agree_and_the_scale_does_not_matter() {
        let dev = Device::flex();
        let m = tiny();
        let t = scene(48, 40);
        let hole = box_hole(48, 40, (5, 3, 30, 22));
        let fills: Vec<Planes> = [0.2f32, 0.5, 0.7]
            .iter()
            .map(|&v| blur(&d_fill(&t, v), 1))
            .chain([blur(&t, 2)])
            .collect();
        let all = m.measure(&t, &hole, &[&fills]).unwrap();
        let small = tiny().with_max_batch_pixels(1);
        let one_by_one = small
            .measure(&t, &hole, &[&fills[..2], &fills[2..]])
            .unwrap();
        let flat: Vec<f64> = one_by_one.into_iter().flatten().collect();
        for (a, b) in all[0].iter().zip(&flat) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Every activation ×1000 (the first conv's weights and every bias): same distances.
        let scaled = m.vgg().clone().divide_activations(1e-3);
        let ms = VggDistance::new(scaled, &dev);
        let again = ms.measure(&t, &hole, &[&fills]).unwrap();
        for (a, b) in all[0].iter().zip(&again[0]) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(m.seconds() > 0.0);
        assert_eq!(m.settings().layers, LAYERS.to_vec());
    }

    #[test]
    fn hole_weights_are_the_pooled_share_of_each_cell() {
        // A 4-pixel-wide vertical stroke at x = 6..10 of a 32×32 image.
        let hole = box_hole(32, 32, (6, 0, 10, 32));
        let l = layer_holes(&hole, 32, 32);
        // relu1_2: 4 × 32 positions of weight 1.
        assert_eq!(l[0].positions.len(), 128);
        assert!(l[0].weights.iter().all(|&w| w == 1.0));
        // relu2_2 (stride 2): cells x = 3, 4 fully in.
        assert_eq!(l[1].positions.len(), 32);
        assert!(l[1].weights.iter().all(|&w| w == 1.0));
        // relu3_3 (stride 4): cell 1 (px 4-7) half, cell 2 (px 8-11) half.
        assert_eq!(l[2].positions.len(), 16);
        assert!(l[2].weights.iter().all(|&w| w == 0.5));
        // relu4_3 (stride 8): cell 0 (px 0-7) 2/8, cell 1 (px 8-15) 2/8.
        assert!(l[3].weights.iter().all(|&w| w == 0.25));
        // relu5_3 (stride 16): cell 0 (px 0-15) 4/16.
        assert_eq!(l[4].positions.len(), 2);
        assert!(l[4].weights.iter().all(|&w| w == 0.25));
        // Odd sizes: the floored grid drops the last row; a hole only there touches no cell of
        // the coarse layers.
        let mut edge = vec![false; 33 * 33];
        edge[32 * 33 + 5] = true;
        let l = layer_holes(&edge, 33, 33);
        assert_eq!(l[0].positions, vec![32 * 33 + 5]);
        assert!(l[1].positions.is_empty());
    }

    #[test]
    fn bootstrap_of_paired_differences() {
        // a is lower than b by 1 on every item: difference −1, interval [−1, −1], always lower.
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [2.0, 3.0, 4.0, 5.0];
        let c = paired_bootstrap(&a, &b, 100, 3).unwrap();
        assert_eq!(c.difference, -1.0);
        assert_eq!((c.low, c.high, c.a_lower, c.reps), (-1.0, -1.0, 1.0, 100));
        // Mixed signs: the interval holds the difference, the share is between 0 and 1.
        let a = [0.1, 0.5, 0.2, 0.9, 0.3, 0.4];
        let b = [0.2, 0.3, 0.3, 0.5, 0.4, 0.45];
        let c = paired_bootstrap(&a, &b, 500, 4).unwrap();
        let want = (0.1 - 0.2 + 0.5 - 0.3 + 0.2 - 0.3 + 0.9 - 0.5 + 0.3 - 0.4 + 0.4 - 0.45) / 6.0;
        assert!((c.difference - want).abs() < 1e-12);
        assert!(c.low < c.difference && c.difference < c.high, "{c:?}");
        assert!(c.a_lower > 0.0 && c.a_lower < 1.0, "{c:?}");
        // The same seed gives the same resamples.
        assert_eq!(paired_bootstrap(&a, &b, 500, 4), Some(c));
        assert_eq!(paired_bootstrap(&a, &b, 0, 4), None);
        assert_eq!(paired_bootstrap(&a[..1], &b[..1], 10, 4), None);
        assert_eq!(paired_bootstrap(&a, &b[..3], 10, 4), None);
        let s = VggScore::of(&[0.3, 0.1, 0.2]).unwrap();
        assert!((s.mean - 0.2).abs() < 1e-12 && s.best == 0.1);
        assert_eq!(VggScore::of(&[]), None);
    }
}
