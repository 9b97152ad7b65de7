//! LaMa-style training masks: random irregular strokes and random boxes.
//!
//! Follows the mask generators described with LaMa (Suvorov et al., "Resolution-robust Large
//! Mask Inpainting with Fourier Convolutions", WACV 2022) and the thin / medium / thick presets
//! of its public 256² training configuration; this implementation is our own.
//!
//! **Irregular strokes.** Draw `min_times..=max_times` strokes. Each starts at a random pixel
//! and has 1–5 segments. Segment `j` of stroke `i` heads at angle `0.01 + k` radians with
//! `k ∈ {0, …, max_angle − 1}` uniform, mirrored to `2π − angle` when `i` is even; its length
//! is `10 + U(0, max_len)` and its brush width `5 + U(0, max_width)`; the end point is clipped
//! to the image and the next segment starts there. Segments are round-capped lines.
//!
//! **Boxes.** Draw `min_times..=max_times` rectangles whose sides are uniform in
//! `bbox_min_size..=bbox_max_size` (capped to the image less twice the margin), placed
//! uniformly with at least `margin` pixels to the image border.
//!
//! **Presets** (lengths at 256², multiplied by `√(H·W)/256` for other sizes):
//!
//! | preset | strokes | max_len | max_width | boxes (p = 0.3)            |
//! |--------|---------|---------|-----------|----------------------------|
//! | thin   | 4–50    | 40      | 10        | none                       |
//! | medium | 4–5     | 100     | 50        | 1–5 of 10–50 px, margin 0  |
//! | thick  | 1–5     | 200     | 100       | 1–4 of 30–150 px, margin 10|
//!
//! One difference from LaMa's mixed generator, which picks *either* the strokes or the boxes
//! (weights 1 : 0.3) for each mask: here the boxes are *added* to the strokes with probability
//! 0.3, as the project's data notes specify, so every mask has strokes.

use std::f32::consts::PI;

use rand::Rng;

use super::{fill_rect, int_in, size_scale, uniform};
use crate::mask::Mask;

/// Random irregular strokes, LaMa style (lengths at 256²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IrregularStrokes {
    /// Fewest strokes.
    pub min_times: u32,
    /// Most strokes.
    pub max_times: u32,
    /// Segment directions are `0.01 + k` radians, `k < max_angle`.
    pub max_angle: u32,
    /// Segment length is `10 + U(0, max_len)` pixels.
    pub max_len: f32,
    /// Brush width is `5 + U(0, max_width)` pixels.
    pub max_width: f32,
}

/// Random axis-aligned boxes, LaMa style (sizes at 256²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomBoxes {
    /// Smallest distance from a box to the image border, in pixels.
    pub margin: f32,
    /// Smallest box side, in pixels.
    pub bbox_min_size: f32,
    /// Largest box side, in pixels.
    pub bbox_max_size: f32,
    /// Fewest boxes.
    pub min_times: u32,
    /// Most boxes.
    pub max_times: u32,
}

/// A LaMa preset: strokes, plus boxes with some probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LamaPreset {
    /// The strokes, always drawn.
    pub strokes: IrregularStrokes,
    /// The boxes, and the probability of adding them.
    pub boxes: Option<(RandomBoxes, f64)>,
}

/// The "thin" preset: many short thin strokes, no boxes.
pub const THIN: LamaPreset = LamaPreset {
    strokes: IrregularStrokes {
        min_times: 4,
        max_times: 50,
        max_angle: 4,
        max_len: 40.0,
        max_width: 10.0,
    },
    boxes: None,
};

/// The "medium" preset: 4–5 medium strokes, plus small boxes with probability 0.3.
pub const MEDIUM: LamaPreset = LamaPreset {
    strokes: IrregularStrokes {
        min_times: 4,
        max_times: 5,
        max_angle: 4,
        max_len: 100.0,
        max_width: 50.0,
    },
    boxes: Some((
        RandomBoxes {
            margin: 0.0,
            bbox_min_size: 10.0,
            bbox_max_size: 50.0,
            min_times: 1,
            max_times: 5,
        },
        0.3,
    )),
};

/// The "thick" preset: 1–5 long thick strokes, plus large boxes with probability 0.3.
pub const THICK: LamaPreset = LamaPreset {
    strokes: IrregularStrokes {
        min_times: 1,
        max_times: 5,
        max_angle: 4,
        max_len: 200.0,
        max_width: 100.0,
    },
    boxes: Some((
        RandomBoxes {
            margin: 10.0,
            bbox_min_size: 30.0,
            bbox_max_size: 150.0,
            min_times: 1,
            max_times: 4,
        },
        0.3,
    )),
};

impl LamaPreset {
    /// Paints the strokes, then (with the preset's probability) the boxes onto `mask`.
    pub fn paint<R: Rng + ?Sized>(&self, mask: &mut Mask, rng: &mut R) {
        self.strokes.paint(mask, rng);
        if let Some((boxes, p)) = &self.boxes
            && rng.random_bool(p.clamp(0.0, 1.0))
        {
            boxes.paint(mask, rng);
        }
    }
}

impl IrregularStrokes {
    /// Paints the strokes onto `mask` (see the module docs).
    pub fn paint<R: Rng + ?Sized>(&self, mask: &mut Mask, rng: &mut R) {
        if mask.width == 0 || mask.height == 0 {
            return;
        }
        let (w, h) = (mask.width as f32, mask.height as f32);
        let s = size_scale(mask.width, mask.height);
        let times = int_in(rng, i64::from(self.min_times), i64::from(self.max_times));
        for i in 0..times {
            let mut x = rng.random_range(0..mask.width) as f32 + 0.5;
            let mut y = rng.random_range(0..mask.height) as f32 + 0.5;
            let segments = 1 + rng.random_range(0..5);
            for _ in 0..segments {
                let k = int_in(rng, 0, i64::from(self.max_angle.max(1)) - 1);
                let mut angle = 0.01 + k as f32;
                if i % 2 == 0 {
                    angle = 2.0 * PI - angle;
                }
                let len = s * (10.0 + uniform(rng, 0.0, self.max_len));
                let brush = s * (5.0 + uniform(rng, 0.0, self.max_width));
                // LaMa steps by (sin, cos): angle is measured from the y axis.
                let ex = (x + len * angle.sin()).clamp(0.0, w);
                let ey = (y + len * angle.cos()).clamp(0.0, h);
                mask.rasterize_stroke(&[(x, y), (ex, ey)], (0.5 * brush).max(0.5), true);
                (x, y) = (ex, ey);
            }
        }
    }
}

impl RandomBoxes {
    /// Paints the boxes onto `mask` (see the module docs). Sizes and margin are scaled to the
    /// image; a margin that leaves no room is dropped.
    pub fn paint<R: Rng + ?Sized>(&self, mask: &mut Mask, rng: &mut R) {
        if mask.width == 0 || mask.height == 0 {
            return;
        }
        let (w, h) = (i64::from(mask.width), i64::from(mask.height));
        let s = size_scale(mask.width, mask.height);
        let mut margin = (self.margin * s).round() as i64;
        if w - 2 * margin < 1 || h - 2 * margin < 1 {
            margin = 0;
        }
        let max_size = ((self.bbox_max_size * s).round() as i64)
            .min(w - 2 * margin)
            .min(h - 2 * margin)
            .max(1);
        let min_size = ((self.bbox_min_size * s).round() as i64).clamp(1, max_size);
        let times = int_in(rng, i64::from(self.min_times), i64::from(self.max_times));
        for _ in 0..times {
            let bw = int_in(rng, min_size, max_size);
            let bh = int_in(rng, min_size, max_size);
            let x0 = int_in(rng, margin, w - margin - bw);
            let y0 = int_in(rng, margin, h - margin - bh);
            fill_rect(mask, x0, y0, x0 + bw, y0 + bh);
        }
    }
}

/// [`crate::masks::MaskKind::Boxes`]: 1–3 rectangles, each side uniform between 1/8 and 1/2 of
/// the image side (at least 1 pixel), placed uniformly inside the image.
pub fn paint_random_boxes<R: Rng + ?Sized>(mask: &mut Mask, rng: &mut R) {
    if mask.width == 0 || mask.height == 0 {
        return;
    }
    let (w, h) = (i64::from(mask.width), i64::from(mask.height));
    let n = rng.random_range(1..=3);
    for _ in 0..n {
        let bw = int_in(rng, (w / 8).max(1), (w / 2).max(1));
        let bh = int_in(rng, (h / 8).max(1), (h / 2).max(1));
        let x0 = int_in(rng, 0, w - bw);
        let y0 = int_in(rng, 0, h - bh);
        fill_rect(mask, x0, y0, x0 + bw, y0 + bh);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn boxes_respect_sizes_and_margin() {
        let boxes = RandomBoxes {
            margin: 10.0,
            bbox_min_size: 30.0,
            bbox_max_size: 150.0,
            min_times: 1,
            max_times: 1,
        };
        for seed in 0..20 {
            let mut m = Mask::new_empty(256, 256);
            boxes.paint(&mut m, &mut ChaCha8Rng::seed_from_u64(seed));
            let (x0, y0, x1, y1) = m.bbox().unwrap();
            assert!(x0 >= 10 && y0 >= 10 && x1 <= 246 && y1 <= 246);
            assert!((30..=150).contains(&(x1 - x0)) && (30..=150).contains(&(y1 - y0)));
            assert_eq!(m.hole_count() as u32, (x1 - x0) * (y1 - y0));
        }
        // An image smaller than the margins still gets a box.
        let mut m = Mask::new_empty(8, 5);
        boxes.paint(&mut m, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(m.hole_count() > 0);
    }
}
