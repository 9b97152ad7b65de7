//! Procedural hole masks for training and evaluation (pure Rust, seeded).
//!
//! No package ships the NVIDIA irregular-mask set the PD-GAN authors trained on, so masks are
//! drawn procedurally. Strokes are painted with [`Mask::rasterize_stroke`] (round brush),
//! boxes are filled rectangles, everything is clipped to the image, and every generator takes
//! its randomness from the caller's RNG, so a seeded RNG gives the same mask on every machine.
//!
//! * [`MaskKind::DeepFill`]: DeepFill v2 free-form strokes (Yu et al., ICCV 2019), see
//!   [`deepfill`].
//! * [`MaskKind::LamaThin`], [`MaskKind::LamaMedium`], [`MaskKind::LamaThick`]: the LaMa
//!   training presets (Suvorov et al., WACV 2022), see [`lama`].
//! * [`MaskKind::Boxes`]: 1–3 random rectangles.
//! * [`MaskKind::Mixed`]: one of the above, chosen uniformly per mask.
//!
//! The algorithms follow the descriptions in the papers and their public configurations; the
//! code is our own. For evaluation, [`sample_in_bin`] draws masks whose hole ratio lies in one
//! of the NVIDIA bins ([`NVIDIA_BINS`]: 0–10 %, 10–20 %, …, 50–60 %).
//!
//! ```
//! use pdpaint::masks::{MaskKind, generate_seeded};
//! let m = generate_seeded(MaskKind::DeepFill, 256, 256, 7);
//! assert_eq!((m.width, m.height), (256, 256));
//! assert!(m.hole_count() > 0);
//! assert_eq!(m, generate_seeded(MaskKind::DeepFill, 256, 256, 7));
//! ```

pub mod bins;
pub mod deepfill;
pub mod lama;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::mask::Mask;

pub use bins::{NVIDIA_BINS, RatioBin, sample_in_bin};

/// Which procedural mask generator to use.
///
/// Names on the command line and in configuration files (clap and serde): `deepfill`,
/// `lama-thin`, `lama-medium`, `lama-thick`, `boxes`, `mixed`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum MaskKind {
    /// DeepFill v2 free-form strokes (1–3 zig-zag strokes of 4–11 vertices); ≈15 % hole at
    /// 256². See [`deepfill`].
    #[serde(rename = "deepfill")]
    #[value(name = "deepfill")]
    DeepFill,
    /// LaMa "thin" preset: 4–50 short thin strokes. See [`lama::THIN`].
    LamaThin,
    /// LaMa "medium" preset: 4–5 medium strokes, plus small boxes with probability 0.3. See
    /// [`lama::MEDIUM`].
    LamaMedium,
    /// LaMa "thick" preset: 1–5 long thick strokes, plus large boxes with probability 0.3. See
    /// [`lama::THICK`].
    LamaThick,
    /// 1–3 axis-aligned rectangles, each side between 1/8 and 1/2 of the image side.
    Boxes,
    /// One of the other kinds, chosen uniformly for each mask (the default).
    #[default]
    Mixed,
}

impl MaskKind {
    /// Every kind, in declaration order.
    pub const ALL: [MaskKind; 6] = [
        MaskKind::DeepFill,
        MaskKind::LamaThin,
        MaskKind::LamaMedium,
        MaskKind::LamaThick,
        MaskKind::Boxes,
        MaskKind::Mixed,
    ];

    /// The kinds [`MaskKind::Mixed`] chooses from (all but `Mixed`).
    pub const CONCRETE: [MaskKind; 5] = [
        MaskKind::DeepFill,
        MaskKind::LamaThin,
        MaskKind::LamaMedium,
        MaskKind::LamaThick,
        MaskKind::Boxes,
    ];

    /// The name used on the command line and in configuration files, e.g. `lama-thin`.
    pub fn name(self) -> &'static str {
        match self {
            MaskKind::DeepFill => "deepfill",
            MaskKind::LamaThin => "lama-thin",
            MaskKind::LamaMedium => "lama-medium",
            MaskKind::LamaThick => "lama-thick",
            MaskKind::Boxes => "boxes",
            MaskKind::Mixed => "mixed",
        }
    }
}

impl std::fmt::Display for MaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How often [`generate`] redraws a mask that came out empty or all hole before giving up.
const MAX_REDRAWS: usize = 16;

/// Draws a `width`×`height` mask of `kind` from `rng` (1 = hole).
///
/// Sizes other than 256² are handled by scaling every length in pixels (stroke widths and
/// lengths, box sizes) by `√(width·height) / 256`, so the hole *ratio* stays about the same.
/// Everything is clipped to the image.
///
/// A draw that comes out empty or entirely hole is redrawn (up to 16 times, after which the last
/// draw is returned; only images of a few pixels get that far), so the mask has at least one
/// hole pixel and at least one known pixel whenever the image has two or more pixels.
/// A zero-sized image gives an empty mask. The result is a pure function of `kind`, the size
/// and the RNG's state.
pub fn generate(kind: MaskKind, width: u32, height: u32, rng: &mut impl Rng) -> Mask {
    let total = width as usize * height as usize;
    let mut mask = Mask::new_empty(width, height);
    if total == 0 {
        return mask;
    }
    for _ in 0..MAX_REDRAWS {
        mask = Mask::new_empty(width, height);
        paint(kind, &mut mask, rng);
        let n = mask.hole_count();
        if n > 0 && (n < total || total == 1) {
            break;
        }
    }
    mask
}

/// [`generate`] with a `ChaCha8Rng` seeded from `seed`: the same arguments give the same mask
/// everywhere.
pub fn generate_seeded(kind: MaskKind, width: u32, height: u32, seed: u64) -> Mask {
    generate(kind, width, height, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// Paints one mask of `kind` onto `mask` (adds holes, never removes any).
pub(crate) fn paint<R: Rng + ?Sized>(kind: MaskKind, mask: &mut Mask, rng: &mut R) {
    match kind {
        MaskKind::DeepFill => deepfill::paint(mask, rng),
        MaskKind::LamaThin => lama::THIN.paint(mask, rng),
        MaskKind::LamaMedium => lama::MEDIUM.paint(mask, rng),
        MaskKind::LamaThick => lama::THICK.paint(mask, rng),
        MaskKind::Boxes => lama::paint_random_boxes(mask, rng),
        MaskKind::Mixed => {
            let k = MaskKind::CONCRETE[rng.random_range(0..MaskKind::CONCRETE.len())];
            paint(k, mask, rng);
        }
    }
}

/// The factor from the 256² reference size to a `width`×`height` image: `√(width·height) / 256`.
pub(crate) fn size_scale(width: u32, height: u32) -> f32 {
    ((width as f64 * height as f64).sqrt() / 256.0) as f32
}

/// A uniform draw from `[lo, hi)` (`lo` when the interval is empty); never panics.
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    let u: f32 = rng.random();
    if hi > lo { lo + (hi - lo) * u } else { lo }
}

/// A uniform integer from `lo..=hi` (`lo` when `hi < lo`); never panics.
pub(crate) fn int_in<R: Rng + ?Sized>(rng: &mut R, lo: i64, hi: i64) -> i64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

/// Fills the pixels `x0..x1` × `y0..y1` (clipped to the mask) with holes.
pub(crate) fn fill_rect(mask: &mut Mask, x0: i64, y0: i64, x1: i64, y1: i64) {
    let (w, h) = (i64::from(mask.width), i64::from(mask.height));
    for y in y0.clamp(0, h)..y1.clamp(0, h) {
        for x in x0.clamp(0, w)..x1.clamp(0, w) {
            mask.set_hole(x as u32, y as u32, true);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mean_ratio(kind: MaskKind, w: u32, h: u32, n: u64) -> f32 {
        (0..n)
            .map(|s| generate_seeded(kind, w, h, 1000 + s).hole_ratio())
            .sum::<f32>()
            / n as f32
    }

    #[test]
    fn deterministic_per_seed_and_seeds_differ() {
        for kind in MaskKind::ALL {
            let a = generate_seeded(kind, 256, 256, 42);
            assert_eq!(a, generate_seeded(kind, 256, 256, 42), "{kind}");
            // Some seed among a few gives a different mask (Boxes could in principle repeat).
            assert!(
                (43..48).any(|s| generate_seeded(kind, 256, 256, s) != a),
                "{kind}"
            );
            assert_ne!(
                generate_seeded(kind, 256, 256, 1),
                generate_seeded(kind, 256, 256, 2),
                "{kind}"
            );
        }
        // A caller's RNG advances: two draws in a row differ.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let a = generate(MaskKind::DeepFill, 64, 64, &mut rng);
        let b = generate(MaskKind::DeepFill, 64, 64, &mut rng);
        assert_ne!(a, b);
    }

    #[test]
    fn every_kind_non_empty_and_sized_for_several_sizes() {
        for (w, h) in [(256, 256), (128, 96), (512, 512)] {
            for kind in MaskKind::ALL {
                for seed in 0..3 {
                    let m = generate_seeded(kind, w, h, seed);
                    assert_eq!((m.width, m.height), (w, h));
                    assert_eq!(m.holes().len(), (w * h) as usize);
                    let n = m.hole_count();
                    assert!(n > 0 && n < (w * h) as usize, "{kind} {w}×{h} seed {seed}");
                    let (x0, y0, x1, y1) = m.bbox().unwrap();
                    assert!(x0 < x1 && x1 <= w && y0 < y1 && y1 <= h);
                }
            }
        }
        // Degenerate sizes do not panic.
        assert_eq!(generate_seeded(MaskKind::Mixed, 0, 5, 1).hole_count(), 0);
        for kind in MaskKind::ALL {
            assert_eq!(generate_seeded(kind, 1, 1, 3).hole_count(), 1, "{kind}");
            let m = generate_seeded(kind, 3, 2, 3);
            assert!(m.hole_count() > 0 && m.hole_count() < 6, "{kind}");
        }
    }

    #[test]
    fn mean_hole_ratios_are_plausible() {
        let deepfill = mean_ratio(MaskKind::DeepFill, 256, 256, 200);
        // Thin and medium differ by only ≈1 point in expectation (≈28 % vs ≈29 %; thin masks
        // have many more strokes), so these means use more samples.
        let thin = mean_ratio(MaskKind::LamaThin, 256, 256, 300);
        let medium = mean_ratio(MaskKind::LamaMedium, 256, 256, 300);
        let thick = mean_ratio(MaskKind::LamaThick, 256, 256, 300);
        let boxes = mean_ratio(MaskKind::Boxes, 256, 256, 100);
        let mixed = mean_ratio(MaskKind::Mixed, 256, 256, 100);
        println!(
            "mean hole ratio at 256²: deepfill {deepfill:.3}, lama-thin {thin:.3}, \
             lama-medium {medium:.3}, lama-thick {thick:.3}, boxes {boxes:.3}, mixed {mixed:.3}"
        );
        assert!((0.05..0.30).contains(&deepfill), "{deepfill}");
        assert!(thin < medium && medium < thick, "{thin} {medium} {thick}");
        assert!(thin > 0.01 && thick < 0.6);
        assert!((0.05..0.35).contains(&boxes), "{boxes}");
        // The clearer difference is the stroke width: the share of hole pixels that survive an
        // erosion by 6 px (≈0.14 thin, ≈0.67 medium, ≈0.83 thick over 100 seeds).
        let eroded = |kind| {
            (0..30)
                .map(|s| {
                    let m = generate_seeded(kind, 256, 256, 2000 + s);
                    m.shrink(6).hole_count() as f32 / m.hole_count() as f32
                })
                .sum::<f32>()
                / 30.0
        };
        let (e_thin, e_medium, e_thick) = (
            eroded(MaskKind::LamaThin),
            eroded(MaskKind::LamaMedium),
            eroded(MaskKind::LamaThick),
        );
        println!("share surviving a 6 px erosion: {e_thin:.2}, {e_medium:.2}, {e_thick:.2}");
        assert!(e_thin < 0.3 && e_thin < e_medium && e_medium < e_thick);
        // Scaling keeps the ratio roughly size-independent.
        let deepfill_128 = mean_ratio(MaskKind::DeepFill, 128, 128, 100);
        assert!((deepfill_128 - deepfill).abs() < 0.05, "{deepfill_128}");
    }

    #[test]
    fn names_for_clap_and_serde() {
        use clap::ValueEnum;
        let names = [
            "deepfill",
            "lama-thin",
            "lama-medium",
            "lama-thick",
            "boxes",
            "mixed",
        ];
        for (kind, name) in MaskKind::ALL.iter().zip(names) {
            assert_eq!(kind.name(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(kind.to_possible_value().unwrap().get_name(), name);
            assert_eq!(MaskKind::from_str(name, false).unwrap(), *kind);
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<MaskKind>(&json).unwrap(), *kind);
        }
        assert_eq!(MaskKind::value_variants(), &MaskKind::ALL);
        assert_eq!(MaskKind::default(), MaskKind::Mixed);
        assert!(serde_json::from_str::<MaskKind>("\"deep-fill\"").is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]

            #[test]
            fn any_seed_and_size_gives_a_proper_mask(
                seed in any::<u64>(),
                w in 16u32..=320,
                h in 16u32..=320,
                k in 0usize..6,
            ) {
                let kind = MaskKind::ALL[k];
                let m = generate_seeded(kind, w, h, seed);
                prop_assert_eq!((m.width, m.height), (w, h));
                prop_assert_eq!(m.holes().len(), (w * h) as usize);
                let r = m.hole_ratio();
                prop_assert!((0.0..1.0).contains(&r), "{} ratio {}", kind, r);
                prop_assert!(m.hole_count() > 0);
                let d = generate_seeded(MaskKind::DeepFill, w, h, seed);
                prop_assert!(d.hole_count() > 0 && d.hole_ratio() < 1.0);
            }
        }
    }
}
