//! Edits as data: what a mask edit did ([`MaskOp`]), the pixels it changed ([`Patch`]), one
//! history step ([`Edit`]), and the rasterisers of the rectangle and lasso tools.

use image::RgbImage;

use super::rect::PixelRect;
use crate::mask::Mask;

/// What a mask edit did, as data.
#[derive(Debug, Clone, PartialEq)]
pub enum MaskOp {
    /// A round-brush stroke through `points` (photo pixels).
    Stroke {
        /// The polyline.
        points: Vec<(f32, f32)>,
        /// Brush radius in photo pixels (at full pressure).
        radius: f32,
        /// Pen pressure at each point (0–1), when the device reported it; empty otherwise.
        /// The radius at a point is `radius × max(pressure, PRESSURE_FLOOR)`.
        pressures: Vec<f32>,
        /// `true` paints holes, `false` erases them.
        hole: bool,
    },
    /// An axis-aligned rectangle between two corners.
    Rect {
        /// One corner.
        a: (f32, f32),
        /// The opposite corner.
        b: (f32, f32),
        /// `true` paints holes, `false` erases them.
        hole: bool,
    },
    /// A closed polygon (even-odd fill).
    Lasso {
        /// The vertices.
        points: Vec<(f32, f32)>,
        /// `true` paints holes, `false` erases them.
        hole: bool,
    },
    /// A whole-mask operation (clear, invert, grow, shrink, import).
    Replace(WholeMaskOp),
}

/// An operation that replaces the whole mask at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WholeMaskOp {
    /// Every pixel known.
    Clear,
    /// Holes become known and known pixels holes.
    Invert,
    /// The holes grown by this many pixels.
    Grow(u32),
    /// The holes shrunk by this many pixels.
    Shrink(u32),
    /// A mask file imported (resized to the photo when needed).
    Import,
}

impl WholeMaskOp {
    /// The new mask this operation makes from `mask` (`Import` keeps it: the imported mask
    /// replaces it from outside).
    pub fn apply(self, mask: &Mask) -> Mask {
        match self {
            WholeMaskOp::Clear => Mask::new_empty(mask.width, mask.height),
            WholeMaskOp::Invert => mask.invert(),
            WholeMaskOp::Grow(r) => mask.grow(r),
            WholeMaskOp::Shrink(r) => mask.shrink(r),
            WholeMaskOp::Import => mask.clone(),
        }
    }

    /// Whether it is slow enough on a large photo to run off the UI thread.
    pub fn is_slow(self) -> bool {
        matches!(self, WholeMaskOp::Grow(_) | WholeMaskOp::Shrink(_))
    }

    /// A short description for the history.
    pub fn describe(self) -> String {
        match self {
            WholeMaskOp::Clear => "clear mask".into(),
            WholeMaskOp::Invert => "invert mask".into(),
            WholeMaskOp::Grow(r) => format!("grow {r} px"),
            WholeMaskOp::Shrink(r) => format!("shrink {r} px"),
            WholeMaskOp::Import => "import mask".into(),
        }
    }
}

impl MaskOp {
    /// A short description for the history.
    pub fn describe(&self) -> String {
        match self {
            MaskOp::Stroke { hole, .. } => if *hole { "brush" } else { "eraser" }.into(),
            MaskOp::Rect { hole, .. } => if *hole {
                "rectangle"
            } else {
                "erase rectangle"
            }
            .into(),
            MaskOp::Lasso { hole, .. } => if *hole { "lasso" } else { "erase lasso" }.into(),
            MaskOp::Replace(op) => op.describe(),
        }
    }
}

/// The pixels of a rectangle before and after an edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    /// Where.
    pub rect: PixelRect,
    /// Bytes per pixel (1 for masks, 3 for RGB).
    pub bpp: usize,
    /// Row-major bytes before the edit.
    pub before: Vec<u8>,
    /// Row-major bytes after the edit.
    pub after: Vec<u8>,
}

impl Patch {
    pub(super) fn bytes(&self) -> usize {
        self.before.len() + self.after.len()
    }
}

/// One step of the history.
#[derive(Debug, Clone)]
pub struct Edit {
    pub(super) id: u64,
    /// What it was.
    pub kind: EditKind,
    pub(super) mask: Option<Patch>,
    pub(super) photo: Option<Patch>,
}

/// What kind of step an [`Edit`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum EditKind {
    /// A mask edit.
    Mask(MaskOp),
    /// A generated fill applied to the photo (and the mask cleared).
    Fill {
        /// The seed of the fill.
        seed: u64,
    },
}

impl Edit {
    /// A short description for the history.
    pub fn describe(&self) -> String {
        match &self.kind {
            EditKind::Mask(op) => op.describe(),
            EditKind::Fill { seed } => format!("apply fill (seed {seed})"),
        }
    }
}

/// The bytes of `rect` from a row-major buffer `stride` pixels wide with `bpp` bytes a pixel.
pub(super) fn crop_bytes(src: &[u8], stride: usize, bpp: usize, r: &PixelRect) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.area() * bpp);
    for y in r.y0..r.y1 {
        let start = (y as usize * stride + r.x0 as usize) * bpp;
        out.extend_from_slice(&src[start..start + r.width() as usize * bpp]);
    }
    out
}

pub(super) fn write_rgb(img: &mut RgbImage, r: &PixelRect, bytes: &[u8]) {
    let stride = img.width() as usize * 3;
    let row = r.width() as usize * 3;
    let raw: &mut [u8] = img.as_mut();
    for (j, y) in (r.y0..r.y1).enumerate() {
        let start = y as usize * stride + r.x0 as usize * 3;
        raw[start..start + row].copy_from_slice(&bytes[j * row..(j + 1) * row]);
    }
}

/// The smallest rectangle holding every pixel where `a` and `b` differ (`w` pixels a row,
/// `bpp` bytes a pixel), or `None` when they are equal.
pub(super) fn diff_rect(a: &[u8], b: &[u8], w: u32, bpp: usize) -> Option<PixelRect> {
    let row = w as usize * bpp;
    if row == 0 || a.len() != b.len() {
        return None;
    }
    let mut rect: Option<PixelRect> = None;
    for (y, (ra, rb)) in a.chunks_exact(row).zip(b.chunks_exact(row)).enumerate() {
        if ra == rb {
            continue;
        }
        let first = ra.iter().zip(rb).position(|(p, q)| p != q).unwrap_or(0) / bpp;
        let last = ra.iter().zip(rb).rposition(|(p, q)| p != q).unwrap_or(0) / bpp;
        let r = PixelRect {
            x0: first as u32,
            y0: y as u32,
            x1: last as u32 + 1,
            y1: y as u32 + 1,
        };
        rect = Some(rect.map_or(r, |o| o.union(&r)));
    }
    rect
}

/// Paints the rectangle between corners `a` and `b` (pixels whose centres lie inside).
/// Returns whether any pixel is covered.
pub fn fill_rect(m: &mut Mask, a: (f32, f32), b: (f32, f32), hole: bool) -> bool {
    let (lo_x, hi_x) = (a.0.min(b.0), a.0.max(b.0));
    let (lo_y, hi_y) = (a.1.min(b.1), a.1.max(b.1));
    if !(lo_x.is_finite() && hi_x.is_finite() && lo_y.is_finite() && hi_y.is_finite()) {
        return false;
    }
    // Pixel x is inside when lo ≤ x + 0.5 < hi.
    let first = |lo: f32, n: u32| -> u32 { (lo - 0.5).ceil().clamp(0.0, n as f32) as u32 };
    let x0 = first(lo_x, m.width);
    let x1 = first(hi_x, m.width);
    let y0 = first(lo_y, m.height);
    let y1 = first(hi_y, m.height);
    for y in y0..y1 {
        for x in x0..x1 {
            m.set_hole(x, y, hole);
        }
    }
    x1 > x0 && y1 > y0
}

/// Paints the pixels whose centres lie inside the closed polygon `points` (even-odd rule).
/// Returns whether any pixel is covered.
pub fn fill_polygon(m: &mut Mask, points: &[(f32, f32)], hole: bool) -> bool {
    if points.len() < 3 || points.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
        return false;
    }
    let lo_y = points.iter().map(|p| p.1).fold(f32::INFINITY, f32::min);
    let hi_y = points.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max);
    let y0 = (lo_y - 0.5).ceil().clamp(0.0, m.height as f32) as u32;
    let y1 = (hi_y - 0.5).floor().clamp(-1.0, m.height as f32 - 1.0) as i64 + 1;
    let mut any = false;
    let mut xs: Vec<f32> = Vec::new();
    for y in i64::from(y0)..y1 {
        let cy = y as f32 + 0.5;
        xs.clear();
        for (i, &a) in points.iter().enumerate() {
            let b = points[(i + 1) % points.len()];
            // Half-open rule on y so shared vertices count once.
            if (a.1 <= cy) != (b.1 <= cy) {
                let t = (cy - a.1) / (b.1 - a.1);
                xs.push(a.0 + t * (b.0 - a.0));
            }
        }
        xs.sort_by(f32::total_cmp);
        for pair in xs.chunks_exact(2) {
            let x0 = (pair[0] - 0.5).ceil().clamp(0.0, m.width as f32) as u32;
            let x1 = (pair[1] - 0.5).ceil().clamp(0.0, m.width as f32) as u32;
            for x in x0..x1 {
                m.set_hole(x, y as u32, hole);
                any = true;
            }
        }
    }
    any
}
