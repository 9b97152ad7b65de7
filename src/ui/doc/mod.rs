//! The document the studio edits: a photo, its hole mask, and the undo history of mask edits
//! and applied fills.
//!
//! Every edit is kept as data ([`MaskOp`]) together with the pixels it changed (a [`Patch`] of
//! the smallest rectangle around the change), so undo and redo cost the size of the change, not
//! of the photo. Regions that changed since the last frame are collected ([`Document::take_dirty`])
//! so textures and overlays can update only those.

mod edit;
mod rect;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use image::RgbImage;

use crate::mask::Mask;

pub use edit::{Edit, EditKind, MaskOp, Patch, WholeMaskOp, fill_polygon, fill_rect};
pub use rect::PixelRect;

use edit::{crop_bytes, diff_rect, write_rgb};
use rect::add_dirty;

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
