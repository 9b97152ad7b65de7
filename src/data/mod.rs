//! Training data: a folder of photos, seeded random crops and a batcher that pairs each crop
//! with a procedural mask.
//!
//! * [`ImageFolder`] finds every `.jpg`/`.jpeg`/`.png`/`.webp` below a folder (recursively,
//!   sorted, so the order is reproducible) and decodes them once; unreadable files are skipped
//!   with a warning and counted, never a crash.
//! * [`CropSampler`] draws square crops at random scale and position, optionally flipped, and
//!   resizes them to the training resolution.
//! * [`Batcher`] turns a seed into batches of `[B, 3, R, R]` images in [-1, 1] and
//!   `[B, 1, R, R]` masks (1 = hole) from [`crate::masks`].

use std::path::{Path, PathBuf};

use image::RgbImage;
use image::imageops::FilterType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::imageops;
use crate::masks::{MaskKind, generate};

/// Extensions recognised as photos (case-insensitive).
pub const PHOTO_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

/// Photos are downscaled on load so their longer side is at most this (keeps a folder of large
/// wallpapers in memory; crops are at most this big anyway).
pub const MAX_LOADED_SIDE: u32 = 1536;

/// The decoded photos of a folder.
#[derive(Debug)]
pub struct ImageFolder {
    /// The folder scanned.
    pub root: PathBuf,
    /// Decoded photos (RGB), with their paths.
    pub images: Vec<(PathBuf, RgbImage)>,
    /// Files that looked like photos but could not be decoded, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Every photo file (by extension, [`PHOTO_EXTENSIONS`]) under `root`, recursively, sorted by
/// path.
///
/// # Errors
/// [`Error::Io`] when a folder cannot be listed.
pub fn list_photos(root: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    collect(root, &mut paths)?;
    paths.sort();
    Ok(paths)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list folder", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list folder", dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        {
            out.push(path);
        }
    }
    Ok(())
}

impl ImageFolder {
    /// Scans `root` recursively and decodes every photo, downscaling large ones to
    /// [`MAX_LOADED_SIDE`]. Unreadable files are skipped (see [`Self::skipped`]).
    ///
    /// # Errors
    /// [`Error::Io`] when the folder cannot be listed; [`Error::Input`] when it holds no
    /// readable photo.
    pub fn load(root: &Path) -> Result<Self> {
        let paths = list_photos(root)?;
        let mut images = Vec::with_capacity(paths.len());
        let mut skipped = Vec::new();
        for p in paths {
            match imageops::load_image(&p) {
                Ok(img) => {
                    let (w, h) = img.dimensions();
                    let longest = w.max(h);
                    let img = if longest > MAX_LOADED_SIDE {
                        let f = f64::from(MAX_LOADED_SIDE) / f64::from(longest);
                        let nw = ((f64::from(w) * f).round() as u32).max(1);
                        let nh = ((f64::from(h) * f).round() as u32).max(1);
                        image::imageops::resize(&img, nw, nh, FilterType::Triangle)
                    } else {
                        img
                    };
                    images.push((p, img));
                }
                Err(e) => skipped.push((p, e.to_string())),
            }
        }
        if images.is_empty() {
            return Err(Error::Input(format!(
                "no readable photo (jpg, png, webp; {} unreadable) in {}",
                skipped.len(),
                root.display()
            )));
        }
        Ok(Self {
            root: root.to_path_buf(),
            images,
            skipped,
        })
    }

    /// Number of usable photos.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there is no usable photo (never true for a loaded folder).
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// How crops are drawn.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CropSampler {
    /// Output side R.
    pub res: u32,
    /// Smallest crop side as a fraction of the photo's shorter side.
    pub min_scale: f32,
    /// Largest crop side as a fraction of the photo's shorter side.
    pub max_scale: f32,
    /// Flip horizontally with probability 1/2.
    pub hflip: bool,
}

impl CropSampler {
    /// Crops of side `res` covering 25–100% of the shorter side, with horizontal flips.
    pub fn new(res: u32) -> Self {
        Self {
            res,
            min_scale: 0.25,
            max_scale: 1.0,
            hflip: true,
        }
    }

    /// One crop of `img` as CHW f32 in [-1, 1], length `3·R·R`.
    pub fn sample(&self, img: &RgbImage, rng: &mut impl Rng) -> Vec<f32> {
        let (w, h) = img.dimensions();
        let short = w.min(h).max(1);
        let lo = (self.min_scale.clamp(0.01, 1.0) * short as f32).max(1.0);
        let hi = (self.max_scale.clamp(0.01, 1.0) * short as f32).max(lo);
        let side = (rng.random_range(lo..=hi).round() as u32).clamp(1, short);
        let x0 = rng.random_range(0..=(w - side.min(w)));
        let y0 = rng.random_range(0..=(h - side.min(h)));
        let crop = image::imageops::crop_imm(img, x0, y0, side, side).to_image();
        let mut out = if side == self.res {
            crop
        } else {
            image::imageops::resize(&crop, self.res, self.res, FilterType::Triangle)
        };
        if self.hflip && rng.random_bool(0.5) {
            out = image::imageops::flip_horizontal(&out);
        }
        imageops::rgb_to_chw(&out)
    }
}

/// One training batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Batch size B.
    pub size: usize,
    /// Side R.
    pub res: usize,
    /// `[B, 3, R, R]` in [-1, 1].
    pub images: Vec<f32>,
    /// `[B, 1, R, R]`, 1 = hole.
    pub holes: Vec<f32>,
}

/// Seeded batches of crops and masks.
#[derive(Debug)]
pub struct Batcher {
    rng: ChaCha8Rng,
    /// How crops are drawn.
    pub crops: CropSampler,
    /// Which masks are drawn.
    pub masks: MaskKind,
    /// Batch size.
    pub batch_size: usize,
}

impl Batcher {
    /// A batcher whose whole stream is fixed by `seed`.
    pub fn new(seed: u64, crops: CropSampler, masks: MaskKind, batch_size: usize) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            crops,
            masks,
            batch_size: batch_size.max(1),
        }
    }

    /// The RNG state, for checkpoints: `(seed, word position)`.
    pub fn rng_state(&self) -> ([u8; 32], u128) {
        (self.rng.get_seed(), self.rng.get_word_pos())
    }

    /// Restores an RNG state saved by [`Self::rng_state`].
    pub fn set_rng_state(&mut self, seed: [u8; 32], word_pos: u128) {
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_word_pos(word_pos);
        self.rng = rng;
    }

    /// The next batch: photos chosen uniformly at random, one crop and one mask each.
    pub fn next_batch(&mut self, folder: &ImageFolder) -> Batch {
        let r = self.crops.res as usize;
        let b = self.batch_size;
        let mut images = Vec::with_capacity(b * 3 * r * r);
        let mut holes = Vec::with_capacity(b * r * r);
        for _ in 0..b {
            let i = self.rng.random_range(0..folder.len());
            images.extend(self.crops.sample(&folder.images[i].1, &mut self.rng));
            let m = generate(self.masks, r as u32, r as u32, &mut self.rng);
            holes.extend(m.hole_f32());
        }
        Batch {
            size: b,
            res: r,
            images,
            holes,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn folder_with_photos() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let sub = t.path().join("nested/deeper");
        std::fs::create_dir_all(&sub).unwrap();
        for (i, (w, h)) in [(300u32, 200u32), (120, 160), (2000, 1000)]
            .iter()
            .enumerate()
        {
            let img = RgbImage::from_fn(*w, *h, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, (i * 80) as u8])
            });
            let dir = if i == 1 {
                sub.clone()
            } else {
                t.path().to_path_buf()
            };
            img.save(dir.join(format!("p{i}.PNG"))).unwrap();
        }
        std::fs::write(t.path().join("broken.jpg"), b"not a jpeg").unwrap();
        std::fs::write(t.path().join("notes.txt"), b"ignored").unwrap();
        t
    }

    #[test]
    fn folder_is_recursive_sorted_and_skips_unreadable_files() {
        let t = folder_with_photos();
        let f = ImageFolder::load(t.path()).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f.skipped.len(), 1);
        assert!(f.skipped[0].0.ends_with("broken.jpg"));
        // The 2000-px photo is downscaled on load.
        assert!(
            f.images
                .iter()
                .all(|(_, i)| i.width().max(i.height()) <= MAX_LOADED_SIDE)
        );
        let names: Vec<_> = f.images.iter().map(|(p, _)| p.clone()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn empty_folder_is_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let e = ImageFolder::load(t.path()).unwrap_err().to_string();
        assert!(e.contains("no readable photo"), "{e}");
    }

    #[test]
    fn batches_are_seeded_shaped_and_valued() {
        let t = folder_with_photos();
        let f = ImageFolder::load(t.path()).unwrap();
        let mk = |seed| Batcher::new(seed, CropSampler::new(64), MaskKind::Mixed, 3);
        let (mut a, mut b, mut c) = (mk(7), mk(7), mk(8));
        let (ba, bb, bc) = (a.next_batch(&f), b.next_batch(&f), c.next_batch(&f));
        assert_eq!(ba, bb);
        assert_ne!(ba, bc);
        assert_eq!(ba.images.len(), 3 * 3 * 64 * 64);
        assert_eq!(ba.holes.len(), 3 * 64 * 64);
        assert!(ba.images.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert!(ba.holes.iter().all(|&v| v == 0.0 || v == 1.0));
        assert!(ba.holes.contains(&1.0));
        // The stream continues differently, and an RNG state restores it exactly.
        let state = a.rng_state();
        let next = a.next_batch(&f);
        assert_ne!(next, ba);
        let mut d = mk(99);
        d.set_rng_state(state.0, state.1);
        assert_eq!(d.next_batch(&f), next);
    }
}
