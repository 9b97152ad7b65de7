//! Hole-ratio bins for evaluation, and seeded sampling of masks inside a bin.
//!
//! PD-GAN (like most irregular-mask inpainting papers) reports metrics per hole-ratio bin of
//! the NVIDIA irregular mask set: (0, 10 %], (10, 20 %], …, (50, 60 %]. [`sample_in_bin`]
//! draws masks for such a bin procedurally.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{MaskKind, paint};
use crate::error::{Error, Result};
use crate::mask::Mask;

/// A range of hole ratios: `lo < ratio ≤ hi` (fractions, not percent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioBin {
    /// Exclusive lower bound of the hole ratio.
    pub lo: f32,
    /// Inclusive upper bound of the hole ratio.
    pub hi: f32,
}

impl RatioBin {
    /// The bin `lo < ratio ≤ hi`.
    pub const fn new(lo: f32, hi: f32) -> Self {
        Self { lo, hi }
    }

    /// Whether `ratio` lies in the bin (`lo < ratio ≤ hi`; an empty mask is in no bin).
    pub fn contains(&self, ratio: f32) -> bool {
        ratio > self.lo && ratio <= self.hi
    }

    /// A short label in percent, e.g. `"10-20%"`, for tables and file names.
    pub fn label(&self) -> String {
        format!("{}-{}%", pct(self.lo), pct(self.hi))
    }
}

fn pct(v: f32) -> String {
    let p = f64::from(v) * 100.0;
    if (p - p.round()).abs() < 1e-3 {
        format!("{}", p.round() as i64)
    } else {
        format!("{p:.1}")
    }
}

impl std::fmt::Display for RatioBin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// The NVIDIA irregular-mask bins used for per-bin evaluation: 0–10 %, 10–20 %, …, 50–60 %.
pub const NVIDIA_BINS: [RatioBin; 6] = [
    RatioBin::new(0.0, 0.1),
    RatioBin::new(0.1, 0.2),
    RatioBin::new(0.2, 0.3),
    RatioBin::new(0.3, 0.4),
    RatioBin::new(0.4, 0.5),
    RatioBin::new(0.5, 0.6),
];

/// After this many component masks in a row overshoot the bin, start again from an empty mask.
const OVERSHOOTS_BEFORE_RESTART: usize = 16;

/// A `width`×`height` mask whose hole ratio lies in `bin`, drawn deterministically from `seed`.
///
/// The mask is a union of [`MaskKind::Mixed`] component masks drawn from a `ChaCha8Rng` seeded
/// with `seed`: start from an empty mask and add components one at a time. A component that
/// would push the ratio past `bin.hi` is discarded (after 16 such overshoots in a row the union
/// restarts from empty); as soon as the ratio enters the bin the union is returned. Low bins are
/// usually met by a single component, high bins (50–60 %) by several.
///
/// Each component drawn counts as one try; `max_tries` bounds the work. The same arguments
/// always give the same mask.
///
/// # Errors
///
/// [`Error::Input`] when the size is zero, the bin is not a sub-range of `[0, 1]` with
/// `lo < hi`, or no mask landed in the bin within `max_tries` components.
pub fn sample_in_bin(
    bin: RatioBin,
    width: u32,
    height: u32,
    seed: u64,
    max_tries: usize,
) -> Result<Mask> {
    if width == 0 || height == 0 {
        return Err(Error::Input(format!(
            "cannot sample a mask of {width}×{height} pixels"
        )));
    }
    if !(bin.lo >= 0.0 && bin.lo < bin.hi && bin.hi <= 1.0) {
        return Err(Error::Input(format!(
            "invalid hole-ratio bin lo = {}, hi = {}: need 0 ≤ lo < hi ≤ 1",
            bin.lo, bin.hi
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut union = Mask::new_empty(width, height);
    let mut overshoots = 0;
    for _ in 0..max_tries {
        let mut candidate = union.clone();
        paint(MaskKind::Mixed, &mut candidate, &mut rng);
        let ratio = candidate.hole_ratio();
        if bin.contains(ratio) {
            return Ok(candidate);
        }
        if ratio > bin.hi {
            overshoots += 1;
            if overshoots >= OVERSHOOTS_BEFORE_RESTART {
                union = Mask::new_empty(width, height);
                overshoots = 0;
            }
        } else {
            union = candidate;
            overshoots = 0;
        }
    }
    Err(Error::Input(format!(
        "no {width}×{height} mask with a hole ratio in {bin} after {max_tries} tries (seed {seed})"
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_zero_to_sixty_percent() {
        assert_eq!(NVIDIA_BINS[0].lo, 0.0);
        assert_eq!(NVIDIA_BINS[5].hi, 0.6);
        for pair in NVIDIA_BINS.windows(2) {
            assert_eq!(pair[0].hi, pair[1].lo);
        }
        let labels: Vec<String> = NVIDIA_BINS.iter().map(RatioBin::label).collect();
        assert_eq!(
            labels,
            ["0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%"]
        );
        assert!(!NVIDIA_BINS[0].contains(0.0));
        assert!(NVIDIA_BINS[0].contains(0.1) && !NVIDIA_BINS[1].contains(0.1));
        assert_eq!(RatioBin::new(0.125, 0.5).label(), "12.5-50%");
    }

    #[test]
    fn samples_land_in_every_bin_deterministically() {
        let mut tries_used = Vec::new();
        for bin in NVIDIA_BINS {
            for seed in 0..4 {
                let (w, h) = if seed == 0 { (256, 256) } else { (128, 96) };
                let m = sample_in_bin(bin, w, h, seed, 500).unwrap();
                assert!(bin.contains(m.hole_ratio()), "{bin} {}", m.hole_ratio());
                assert_eq!((m.width, m.height), (w, h));
                assert_eq!(m, sample_in_bin(bin, w, h, seed, 500).unwrap());
                // The fewest tries that succeed, to show the budget is generous.
                let need = (1..=500)
                    .find(|&t| sample_in_bin(bin, w, h, seed, t).is_ok())
                    .unwrap();
                tries_used.push(need);
            }
        }
        println!("tries needed per bin (4 seeds each): {tries_used:?}");
        assert_ne!(
            sample_in_bin(NVIDIA_BINS[2], 128, 128, 1, 500).unwrap(),
            sample_in_bin(NVIDIA_BINS[2], 128, 128, 2, 500).unwrap()
        );
    }

    #[test]
    fn errors_are_clear() {
        let err = sample_in_bin(NVIDIA_BINS[5], 64, 64, 1, 0).unwrap_err();
        assert!(matches!(err, Error::Input(_)));
        assert!(err.to_string().contains("50-60%"), "{err}");
        assert!(matches!(
            sample_in_bin(RatioBin::new(0.5, 0.2), 64, 64, 1, 10),
            Err(Error::Input(_))
        ));
        assert!(matches!(
            sample_in_bin(RatioBin::new(0.0, f32::NAN), 64, 64, 1, 10),
            Err(Error::Input(_))
        ));
        assert!(matches!(
            sample_in_bin(NVIDIA_BINS[0], 0, 64, 1, 10),
            Err(Error::Input(_))
        ));
        // A bin no 2×2 mask can reach (no multiple of 25 % in it).
        assert!(sample_in_bin(RatioBin::new(0.3, 0.4), 2, 2, 1, 50).is_err());
    }
}
