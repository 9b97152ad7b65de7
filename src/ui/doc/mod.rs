//! The document the studio edits: a photo, its hole mask, and the undo history of mask edits
//! and applied fills.
//!
//! Every edit is kept as data ([`MaskOp`]) together with the pixels it changed (a [`Patch`] of
//! the smallest rectangle around the change), so undo and redo cost the size of the change, not
//! of the photo. Regions that changed since the last frame are collected ([`Document::take_dirty`])
//! so textures and overlays can update only those.

use std::path::PathBuf;
use std::sync::Arc;

use image::RgbImage;

use crate::mask::Mask;

/// A rectangle of photo pixels `x0..x1` × `y0..y1` (exclusive ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PixelRect {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl PixelRect {
    /// The whole `w`×`h` image.
    pub fn full(w: u32, h: u32) -> Self {
        Self {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        }
    }

    /// The pixels whose centres can lie within `r` of the float box `(x0, y0)–(x1, y1)`,
    /// clamped to a `w`×`h` image; `None` when nothing is left.
    pub fn around(x0: f32, y0: f32, x1: f32, y1: f32, r: f32, w: u32, h: u32) -> Option<Self> {
        let clamp = |v: f32, hi: u32| -> u32 {
            if v.is_nan() {
                0
            } else {
                v.clamp(0.0, hi as f32) as u32
            }
        };
        let rect = Self {
            x0: clamp((x0.min(x1) - r - 1.0).floor(), w),
            y0: clamp((y0.min(y1) - r - 1.0).floor(), h),
            x1: clamp((x0.max(x1) + r + 1.0).ceil(), w),
            y1: clamp((y0.max(y1) + r + 1.0).ceil(), h),
        };
        (!rect.is_empty()).then_some(rect)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.x1.saturating_sub(self.x0)
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.y1.saturating_sub(self.y0)
    }

    /// Whether the rectangle holds no pixel.
    pub fn is_empty(&self) -> bool {
        self.width() == 0 || self.height() == 0
    }

    /// The number of pixels.
    pub fn area(&self) -> usize {
        self.width() as usize * self.height() as usize
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, o: &PixelRect) -> PixelRect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        PixelRect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    /// Grown by `r` on every side, clamped to a `w`×`h` image.
    pub fn expand(&self, r: u32, w: u32, h: u32) -> PixelRect {
        PixelRect {
            x0: self.x0.saturating_sub(r),
            y0: self.y0.saturating_sub(r),
            x1: self.x1.saturating_add(r).min(w),
            y1: self.y1.saturating_add(r).min(h),
        }
    }

    /// Clamped to a `w`×`h` image.
    pub fn clamp(&self, w: u32, h: u32) -> PixelRect {
        PixelRect {
            x0: self.x0.min(w),
            y0: self.y0.min(h),
            x1: self.x1.min(w),
            y1: self.y1.min(h),
        }
    }
}

/// Accumulates a [`PixelRect`] union.
fn add_dirty(slot: &mut Option<PixelRect>, r: PixelRect) {
    if r.is_empty() {
        return;
    }
    *slot = Some(match slot {
        Some(old) => old.union(&r),
        None => r,
    });
}

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
    Replace {
        /// What it was, for the history list.
        what: String,
    },
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
            MaskOp::Replace { what } => what.clone(),
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
    fn bytes(&self) -> usize {
        self.before.len() + self.after.len()
    }
}

/// One step of the history.
#[derive(Debug, Clone)]
pub struct Edit {
    id: u64,
    /// What it was.
    pub kind: EditKind,
    mask: Option<Patch>,
    photo: Option<Patch>,
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

/// The lightest pen pressure counts as this much of the brush radius, so that a light touch
/// still paints a thin line instead of nothing.
pub const PRESSURE_FLOOR: f32 = 0.1;

/// Limits of the history.
const MAX_EDITS: usize = 200;
const MAX_HISTORY_BYTES: usize = 768 << 20;

/// Regions that changed since they were last taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dirty {
    /// Changed photo pixels.
    pub photo: Option<PixelRect>,
    /// Changed mask pixels.
    pub mask: Option<PixelRect>,
}

/// A stroke being drawn: the mask as it was when it began, and where it has painted so far.
#[derive(Debug)]
struct ActiveStroke {
    before: Vec<u8>,
    points: Vec<(f32, f32)>,
    /// Per-point pen pressure; empty while the device has reported none.
    pressures: Vec<f32>,
    radius: f32,
    hole: bool,
    touched: Option<PixelRect>,
}

/// A photo, its mask, and the history.
#[derive(Debug)]
pub struct Document {
    /// The file the photo came from (never overwritten by the studio).
    pub source: Option<PathBuf>,
    photo: Arc<RgbImage>,
    mask: Mask,
    undo: Vec<Edit>,
    redo: Vec<Edit>,
    next_id: u64,
    saved_photo: u64,
    saved_mask: u64,
    dirty: Dirty,
    revision: u64,
    stroke: Option<ActiveStroke>,
    /// Per row, the first and one-past-last hole column (`(0, 0)` = no hole): keeps
    /// [`Document::hole_bbox`] cheap while a brush moves over a large photo.
    rows: Vec<(u32, u32)>,
}

impl Document {
    /// A document for a photo, with an empty mask and no history.
    pub fn new(photo: RgbImage, source: Option<PathBuf>) -> Self {
        let (w, h) = photo.dimensions();
        Self {
            source,
            photo: Arc::new(photo),
            mask: Mask::new_empty(w, h),
            undo: Vec::new(),
            redo: Vec::new(),
            next_id: 1,
            saved_photo: 0,
            saved_mask: 0,
            dirty: Dirty {
                photo: Some(PixelRect::full(w, h)),
                mask: Some(PixelRect::full(w, h)),
            },
            revision: 0,
            stroke: None,
            rows: vec![(0, 0); h as usize],
        }
    }

    /// The photo (shared: cloning the `Arc` is how a request takes it to a worker).
    pub fn photo(&self) -> &Arc<RgbImage> {
        &self.photo
    }

    /// The hole mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// Photo width and height.
    pub fn size(&self) -> (u32, u32) {
        self.photo.dimensions()
    }

    fn rescan_rows(&mut self, y0: u32, y1: u32) {
        let w = self.mask.width as usize;
        if w == 0 {
            return;
        }
        let holes = self.mask.holes();
        for y in y0..y1.min(self.mask.height) {
            let row = &holes[y as usize * w..(y as usize + 1) * w];
            self.rows[y as usize] = match row.iter().position(|&v| v != 0) {
                Some(first) => {
                    let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
                    (first as u32, last as u32 + 1)
                }
                None => (0, 0),
            };
        }
    }

    /// The bounding box of the holes as `(x0, y0, x1, y1)` (exclusive ends), like
    /// [`Mask::bbox`] but from per-row extents kept up to date by every edit (O(height)).
    pub fn hole_bbox(&self) -> Option<(u32, u32, u32, u32)> {
        let mut out: Option<(u32, u32, u32, u32)> = None;
        for (y, &(a, b)) in self.rows.iter().enumerate() {
            if b > a {
                let y = y as u32;
                out = Some(match out {
                    None => (a, y, b, y + 1),
                    Some((x0, y0, x1, _)) => (x0.min(a), y0, x1.max(b), y + 1),
                });
            }
        }
        out
    }

    /// Increases with every change of the photo or the mask.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Takes the regions that changed since the last call.
    pub fn take_dirty(&mut self) -> Dirty {
        std::mem::take(&mut self.dirty)
    }

    fn latest(&self, photo: bool) -> u64 {
        self.undo
            .iter()
            .rev()
            .find(|e| {
                if photo {
                    e.photo.is_some()
                } else {
                    e.mask.is_some()
                }
            })
            .map_or(0, |e| e.id)
    }

    /// Whether fills were applied since the photo was opened or last saved.
    pub fn photo_unsaved(&self) -> bool {
        self.latest(true) != self.saved_photo
    }

    /// Whether the mask was edited since the photo was opened or the mask last exported.
    pub fn mask_unsaved(&self) -> bool {
        self.latest(false) != self.saved_mask
    }

    /// Whether closing the document would lose anything.
    pub fn has_unsaved_work(&self) -> bool {
        self.photo_unsaved() || self.mask_unsaved()
    }

    /// Records that the photo as it is now was saved.
    pub fn mark_photo_saved(&mut self) {
        self.saved_photo = self.latest(true);
    }

    /// Records that the mask as it is now was exported.
    pub fn mark_mask_saved(&mut self) {
        self.saved_mask = self.latest(false);
    }

    /// A marker of the photo's state now (pass it to [`Document::set_photo_saved`] once a
    /// save started now has finished).
    pub fn photo_marker(&self) -> u64 {
        self.latest(true)
    }

    /// A marker of the mask's state now (see [`Document::set_mask_saved`]).
    pub fn mask_marker(&self) -> u64 {
        self.latest(false)
    }

    /// Records that the photo as it was at `marker` is saved.
    pub fn set_photo_saved(&mut self, marker: u64) {
        self.saved_photo = marker;
    }

    /// Records that the mask as it was at `marker` is exported.
    pub fn set_mask_saved(&mut self, marker: u64) {
        self.saved_mask = marker;
    }

    /// Whether there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty() && self.stroke.is_none()
    }

    /// Whether there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty() && self.stroke.is_none()
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &Edit> {
        self.undo.iter()
    }

    fn changed(&mut self, mask: Option<PixelRect>, photo: Option<PixelRect>) {
        if let Some(r) = mask {
            add_dirty(&mut self.dirty.mask, r);
            self.rescan_rows(r.y0, r.y1);
        }
        if let Some(r) = photo {
            add_dirty(&mut self.dirty.photo, r);
        }
        self.revision += 1;
    }

    fn push(&mut self, kind: EditKind, mask: Option<Patch>, photo: Option<Patch>) {
        let id = self.next_id;
        self.next_id += 1;
        self.undo.push(Edit {
            id,
            kind,
            mask,
            photo,
        });
        self.redo.clear();
        // Keep the history bounded, dropping the oldest steps.
        let mut bytes: usize = self
            .undo
            .iter()
            .map(|e| {
                e.mask.as_ref().map_or(0, Patch::bytes) + e.photo.as_ref().map_or(0, Patch::bytes)
            })
            .sum();
        while self.undo.len() > 1 && (self.undo.len() > MAX_EDITS || bytes > MAX_HISTORY_BYTES) {
            let old = self.undo.remove(0);
            bytes -= old.mask.as_ref().map_or(0, Patch::bytes)
                + old.photo.as_ref().map_or(0, Patch::bytes);
        }
    }

    fn mask_bytes(&self, r: &PixelRect) -> Vec<u8> {
        crop_bytes(self.mask.holes(), self.mask.width as usize, 1, r)
    }

    fn write_mask(&mut self, r: &PixelRect, bytes: &[u8]) {
        let w = r.width() as usize;
        for (j, y) in (r.y0..r.y1).enumerate() {
            for (i, x) in (r.x0..r.x1).enumerate() {
                self.mask.set_hole(x, y, bytes[j * w + i] != 0);
            }
        }
    }

    /// Starts a brush (`hole = true`) or eraser stroke at `p` (photo pixels). `pressure` is the
    /// pen pressure (0–1) where the input device reports one: the brush is then
    /// `radius × max(pressure, PRESSURE_FLOOR)` wide at each point.
    pub fn begin_stroke(&mut self, p: (f32, f32), pressure: Option<f32>, radius: f32, hole: bool) {
        self.end_stroke();
        self.stroke = Some(ActiveStroke {
            before: self.mask.holes().to_vec(),
            points: Vec::new(),
            pressures: Vec::new(),
            radius,
            hole,
            touched: None,
        });
        self.extend_stroke(p, pressure);
    }

    /// Whether a stroke is being drawn.
    pub fn stroke_active(&self) -> bool {
        self.stroke.is_some()
    }

    /// Continues the stroke to `p` (with the pen pressure there, if reported), painting the new
    /// segment at once.
    pub fn extend_stroke(&mut self, p: (f32, f32), pressure: Option<f32>) {
        let Some(s) = self.stroke.as_mut() else {
            return;
        };
        if s.points.last() == Some(&p) {
            return;
        }
        let pressure = pressure
            .filter(|v| v.is_finite())
            .map(|v| v.clamp(0.0, 1.0));
        // Once a pressure arrives, every point has one: earlier points count as full pressure,
        // later points without a report keep the last one.
        match pressure {
            Some(v) => {
                s.pressures.resize(s.points.len(), 1.0);
                s.pressures.push(v);
            }
            None if !s.pressures.is_empty() => {
                let last = s.pressures.last().copied().unwrap_or(1.0);
                s.pressures.push(last);
            }
            None => {}
        }
        let prev = s.points.last().copied();
        s.points.push(p);
        let n = s.points.len();
        let radius_at = |i: usize| match s.pressures.get(i) {
            Some(&v) => s.radius * v.max(PRESSURE_FLOOR),
            None => s.radius,
        };
        // The new segment, from the previous point (a single disc at the first point).
        let rb = radius_at(n - 1);
        let (a, ra) = match prev {
            Some(q) => (q, radius_at(n - 2)),
            None => (p, rb),
        };
        let hole = s.hole;
        let (w, h) = (self.mask.width, self.mask.height);
        let rect = PixelRect::around(a.0, a.1, p.0, p.1, ra.max(rb), w, h);
        self.mask.rasterize_tapered_segment(a, ra, p, rb, hole);
        if let Some(r) = rect {
            if let Some(s) = self.stroke.as_mut() {
                add_dirty(&mut s.touched, r);
            }
            self.changed(Some(r), None);
        }
    }

    /// Ends the stroke being drawn (if any) and records it in the history.
    pub fn end_stroke(&mut self) {
        let Some(s) = self.stroke.take() else {
            return;
        };
        let Some(rect) = s.touched else {
            return;
        };
        let before = crop_bytes(&s.before, self.mask.width as usize, 1, &rect);
        let after = self.mask_bytes(&rect);
        if before == after {
            return;
        }
        self.push(
            EditKind::Mask(MaskOp::Stroke {
                points: s.points,
                radius: s.radius,
                pressures: s.pressures,
                hole: s.hole,
            }),
            Some(Patch {
                rect,
                bpp: 1,
                before,
                after,
            }),
            None,
        );
    }

    /// Applies a whole mask operation (rectangle, lasso, or a replacement mask) as one step.
    ///
    /// `new_mask` must be the photo's size; for [`MaskOp::Rect`] and [`MaskOp::Lasso`] use
    /// [`Document::apply_shape`].
    pub fn replace_mask(&mut self, new_mask: Mask, op: MaskOp) {
        self.end_stroke();
        if (new_mask.width, new_mask.height) != (self.mask.width, self.mask.height) {
            return;
        }
        let Some(rect) = diff_rect(self.mask.holes(), new_mask.holes(), self.mask.width, 1) else {
            return;
        };
        let before = self.mask_bytes(&rect);
        let after = crop_bytes(new_mask.holes(), new_mask.width as usize, 1, &rect);
        self.mask = new_mask;
        self.push(
            EditKind::Mask(op),
            Some(Patch {
                rect,
                bpp: 1,
                before,
                after,
            }),
            None,
        );
        self.changed(Some(rect), None);
    }

    /// Rasterises a rectangle or lasso op into the mask as one step; other ops are ignored.
    pub fn apply_shape(&mut self, op: MaskOp) {
        self.end_stroke();
        let mut m = self.mask.clone();
        let painted = match &op {
            MaskOp::Rect { a, b, hole } => fill_rect(&mut m, *a, *b, *hole),
            MaskOp::Lasso { points, hole } => fill_polygon(&mut m, points, *hole),
            _ => false,
        };
        if painted {
            self.replace_mask(m, op);
        }
    }

    /// Replaces the photo by a filled version (same size) and clears the mask, as one step.
    /// Returns `false` (and changes nothing) when the sizes differ.
    pub fn apply_fill(&mut self, filled: &RgbImage, seed: u64) -> bool {
        self.end_stroke();
        if filled.dimensions() != self.photo.dimensions() {
            return false;
        }
        let (w, h) = self.size();
        let photo_rect = diff_rect(self.photo.as_raw(), filled.as_raw(), w, 3);
        let cleared = Mask::new_empty(w, h);
        let mask_rect = diff_rect(self.mask.holes(), cleared.holes(), w, 1);
        if photo_rect.is_none() && mask_rect.is_none() {
            return true;
        }
        let photo_patch = photo_rect.map(|r| Patch {
            rect: r,
            bpp: 3,
            before: crop_bytes(self.photo.as_raw(), w as usize, 3, &r),
            after: crop_bytes(filled.as_raw(), w as usize, 3, &r),
        });
        let mask_patch = mask_rect.map(|r| Patch {
            rect: r,
            bpp: 1,
            before: self.mask_bytes(&r),
            after: vec![0; r.area()],
        });
        if let Some(p) = &photo_patch {
            write_rgb(Arc::make_mut(&mut self.photo), &p.rect, &p.after);
        }
        self.mask = cleared;
        self.push(EditKind::Fill { seed }, mask_patch, photo_patch);
        self.changed(mask_rect, photo_rect);
        true
    }

    /// Undoes the last step; returns its description.
    pub fn undo(&mut self) -> Option<String> {
        self.end_stroke();
        let e = self.undo.pop()?;
        self.apply_patches(&e, false);
        let d = e.describe();
        self.redo.push(e);
        Some(d)
    }

    /// Redoes the last undone step; returns its description.
    pub fn redo(&mut self) -> Option<String> {
        self.end_stroke();
        let e = self.redo.pop()?;
        self.apply_patches(&e, true);
        let d = e.describe();
        self.undo.push(e);
        Some(d)
    }

    fn apply_patches(&mut self, e: &Edit, forward: bool) {
        let pick = |p: &Patch| -> Vec<u8> {
            if forward {
                p.after.clone()
            } else {
                p.before.clone()
            }
        };
        let mut mask_rect = None;
        let mut photo_rect = None;
        if let Some(p) = &e.mask {
            let bytes = pick(p);
            self.write_mask(&p.rect, &bytes);
            mask_rect = Some(p.rect);
        }
        if let Some(p) = &e.photo {
            let bytes = pick(p);
            write_rgb(Arc::make_mut(&mut self.photo), &p.rect, &bytes);
            photo_rect = Some(p.rect);
        }
        self.changed(mask_rect, photo_rect);
    }
}

/// The bytes of `rect` from a row-major buffer `stride` pixels wide with `bpp` bytes a pixel.
fn crop_bytes(src: &[u8], stride: usize, bpp: usize, r: &PixelRect) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.area() * bpp);
    for y in r.y0..r.y1 {
        let start = (y as usize * stride + r.x0 as usize) * bpp;
        out.extend_from_slice(&src[start..start + r.width() as usize * bpp]);
    }
    out
}

fn write_rgb(img: &mut RgbImage, r: &PixelRect, bytes: &[u8]) {
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
fn diff_rect(a: &[u8], b: &[u8], w: u32, bpp: usize) -> Option<PixelRect> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn doc(w: u32, h: u32) -> Document {
        let mut d = Document::new(RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30])), None);
        d.take_dirty();
        d
    }

    #[test]
    fn stroke_undo_redo_restore_the_mask() {
        let mut d = doc(64, 48);
        d.begin_stroke((10.0, 10.0), None, 3.0, true);
        d.extend_stroke((30.0, 10.0), None);
        d.end_stroke();
        let painted = d.mask().clone();
        assert!(painted.is_hole(20, 10));
        assert!(!painted.is_hole(20, 20));
        assert!(d.mask_unsaved());
        let dirty = d.take_dirty().mask.unwrap();
        assert!(dirty.x0 <= 7 && dirty.x1 >= 33 && dirty.y0 <= 7 && dirty.y1 >= 13);
        // The eraser removes part of it.
        d.begin_stroke((20.0, 10.0), None, 4.0, false);
        d.end_stroke();
        assert!(!d.mask().is_hole(20, 10));
        assert!(d.mask().is_hole(10, 10));
        assert_eq!(d.undo().as_deref(), Some("eraser"));
        assert_eq!(d.mask(), &painted);
        assert_eq!(d.undo().as_deref(), Some("brush"));
        assert_eq!(d.mask().hole_count(), 0);
        assert!(!d.mask_unsaved());
        assert_eq!(d.redo().as_deref(), Some("brush"));
        assert_eq!(d.mask(), &painted);
        assert!(d.undo().is_some());
        assert!(d.undo().is_none());
    }

    #[test]
    fn the_kept_bbox_follows_every_edit() {
        let mut d = doc(80, 60);
        assert_eq!(d.hole_bbox(), None);
        d.begin_stroke((10.0, 10.0), None, 3.0, true);
        d.extend_stroke((50.0, 40.0), None);
        d.end_stroke();
        assert_eq!(d.hole_bbox(), d.mask().bbox());
        d.begin_stroke((10.0, 10.0), None, 8.0, false);
        d.end_stroke();
        assert_eq!(d.hole_bbox(), d.mask().bbox());
        d.apply_shape(MaskOp::Lasso {
            points: vec![(60.0, 5.0), (75.0, 5.0), (70.0, 20.0)],
            hole: true,
        });
        assert_eq!(d.hole_bbox(), d.mask().bbox());
        d.undo();
        d.undo();
        assert_eq!(d.hole_bbox(), d.mask().bbox());
        d.redo();
        assert_eq!(d.hole_bbox(), d.mask().bbox());
    }

    #[test]
    fn pen_pressure_sets_the_width_along_the_stroke_and_is_kept_as_data() {
        let mut d = doc(100, 40);
        // Light at the left, full at the right: a wedge from 1 px to 10 px radius.
        d.begin_stroke((10.0, 20.0), Some(0.1), 10.0, true);
        d.extend_stroke((50.0, 20.0), Some(0.55));
        d.extend_stroke((90.0, 20.0), Some(1.0));
        d.end_stroke();
        let col = |x: u32| (0..40).filter(|&y| d.mask().is_hole(x, y)).count();
        assert!(col(12) <= 3, "thin end {}", col(12));
        assert!((10..=12).contains(&col(50)), "middle {}", col(50));
        assert!(col(88) >= 19, "thick end {}", col(88));
        // Undo/redo restore it exactly; the history keeps the pressures.
        let painted = d.mask().clone();
        let ops: Vec<_> = d.history().map(|e| e.kind.clone()).collect();
        assert!(matches!(
            ops.last(),
            Some(EditKind::Mask(MaskOp::Stroke { pressures, .. })) if pressures == &[0.1, 0.55, 1.0]
        ));
        d.undo();
        assert_eq!(d.mask().hole_count(), 0);
        d.redo();
        assert_eq!(d.mask(), &painted);
        // No pressure reported: the plain brush; a pressure of 0 still paints the floor width.
        let mut e = doc(100, 40);
        e.begin_stroke((10.0, 20.0), None, 10.0, true);
        e.extend_stroke((90.0, 20.0), None);
        e.end_stroke();
        assert_eq!((0..40).filter(|&y| e.mask().is_hole(50, y)).count(), 20);
        let mut f = doc(100, 40);
        f.begin_stroke((10.0, 20.0), Some(0.0), 10.0, true);
        f.extend_stroke((90.0, 20.0), Some(f32::NAN));
        f.end_stroke();
        assert_eq!((0..40).filter(|&y| f.mask().is_hole(50, y)).count(), 2);
    }

    #[test]
    fn a_stroke_that_changes_nothing_is_not_recorded() {
        let mut d = doc(16, 16);
        d.begin_stroke((5.0, 5.0), None, 2.0, false);
        d.end_stroke();
        assert!(!d.can_undo());
    }

    #[test]
    fn fill_apply_is_one_undoable_step_and_clears_the_mask() {
        let mut d = doc(32, 32);
        d.apply_shape(MaskOp::Rect {
            a: (4.0, 4.0),
            b: (12.0, 10.0),
            hole: true,
        });
        assert_eq!(d.mask().hole_count(), 8 * 6);
        let before = d.photo().as_ref().clone();
        let mut filled = before.clone();
        for y in 4..10 {
            for x in 4..12 {
                filled.put_pixel(x, y, image::Rgb([200, 0, 0]));
            }
        }
        assert!(d.apply_fill(&filled, 7));
        assert_eq!(d.photo().as_ref(), &filled);
        assert_eq!(d.mask().hole_count(), 0);
        assert!(d.photo_unsaved());
        d.mark_photo_saved();
        assert!(!d.photo_unsaved());
        assert_eq!(d.undo().as_deref(), Some("apply fill (seed 7)"));
        assert_eq!(d.photo().as_ref(), &before);
        assert_eq!(d.mask().hole_count(), 48);
        assert!(d.photo_unsaved());
        d.redo();
        assert_eq!(d.photo().as_ref(), &filled);
        assert!(!d.photo_unsaved());
        assert!(!d.apply_fill(&RgbImage::new(3, 3), 1));
    }

    #[test]
    fn polygon_and_rect_fills_cover_pixel_centres() {
        let mut m = Mask::new_empty(10, 10);
        assert!(fill_polygon(
            &mut m,
            &[(2.0, 2.0), (8.0, 2.0), (8.0, 8.0), (2.0, 8.0)],
            true
        ));
        assert_eq!(m.hole_count(), 36);
        assert_eq!(m.bbox(), Some((2, 2, 8, 8)));
        let mut t = Mask::new_empty(10, 10);
        fill_polygon(&mut t, &[(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)], true);
        // The lower-left triangle of pixel centres: x + y + 1 < 10.
        assert_eq!(t.hole_count(), (1..=9).sum::<usize>());
        let mut r = Mask::new_empty(10, 10);
        assert!(fill_rect(&mut r, (8.0, 8.0), (2.0, 2.0), true));
        assert_eq!(r, m);
        assert!(!fill_rect(&mut r, (3.2, 3.2), (3.4, 3.4), true));
        assert!(!fill_polygon(&mut r, &[(0.0, 0.0), (1.0, 1.0)], true));
    }

    #[test]
    fn diff_rect_finds_the_changed_box() {
        let a = vec![0u8; 5 * 4];
        let mut b = a.clone();
        b[5 + 1] = 1;
        b[2 * 5 + 3] = 1;
        assert_eq!(
            diff_rect(&a, &b, 5, 1),
            Some(PixelRect {
                x0: 1,
                y0: 1,
                x1: 4,
                y1: 3
            })
        );
        assert_eq!(diff_rect(&a, &a, 5, 1), None);
    }
}
