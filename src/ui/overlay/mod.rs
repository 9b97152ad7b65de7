//! What is drawn over the photo: the mask tint and one map.
//!
//! Maps are single-channel fields quantised to 8 bits (`0` = the colormap's low end, `255` =
//! its high end) and coloured either on the GPU by the WGSL colormap shader (see
//! [`crate::ui::gpu`]) or, without a wgpu render state (e.g. in tests), on the CPU through the
//! same 256-entry table built from [`crate::maps::Colormap`].
//!
//! * **Hard map, unit resolution**: what generator unit k (0–5) sees: the model-resolution
//!   context crop around the hole, sampled with the unit's stride, with the unit's (N, ks).
//!   Recomputed whole on every mask change (it is at most 128×128; the crop dominates).
//! * **Hard map, full resolution**: the unit's rule on the photo-sized mask. A brush step
//!   changes the map only within `N·(ks−1)/2` pixels of the pixels it painted, so only that
//!   region is recomputed ([`update_hard_region`]); the first computation of a large photo runs
//!   on a background thread.
//! * **Soft map, prior, diversity**: data the inference worker returns, placed in the context
//!   box it used.
//!
//! Hard maps use the log scale of [`crate::maps::log_scale`] (every ring its own colour); soft
//! maps are linear in `[0, 1]`; the diversity map is linear from 0 to its maximum.

mod hard;
mod layer;
mod settings;

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use egui::{Color32, Pos2, Rect, Vec2};

use crate::imageops::ContextBox;
use crate::inference::UnitMapData;
use crate::maps::{Decay, OFFICIAL_UNITS};
use crate::mask::Mask;
use crate::ui::canvas::Xform;
use crate::ui::doc::PixelRect;
use crate::ui::field::lut;
use crate::ui::textures::{PixelTexture, PlacedTexture, photo_rect};
use crate::ui::theme;

pub use crate::ui::field::MapColormap;
pub use hard::{UnitMap, hard_full_levels, quantize, reach, unit_map, update_hard_region};
pub use layer::FieldLayer;
pub use settings::{MapKind, OverlaySettings};

/// What the inference worker returned about the last generation, for display.
#[derive(Debug, Clone, Default)]
pub struct ModelMaps {
    /// The context box it used.
    pub bx: Option<ContextBox>,
    /// The prior at model resolution.
    pub prior: Option<image::RgbImage>,
    /// Per unit: hard and soft maps of the first sample.
    pub units: Vec<UnitMapData>,
    /// Diversity `[R, R]` and R.
    pub diversity: Option<(usize, Vec<f32>)>,
}

/// Timings of the overlay maps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OverlayTimings {
    /// Last incremental update of the full-resolution hard map.
    pub hard_full_update: Option<Duration>,
    /// Last full computation of the full-resolution hard map.
    pub hard_full_build: Option<Duration>,
    /// Last computation of the unit-resolution hard map.
    pub hard_unit: Option<Duration>,
}

/// Which rule a full-resolution hard field was computed with.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HardKey {
    unit: usize,
    decay: Decay,
    size: (u32, u32),
}

struct HardJob {
    key: HardKey,
    rx: Receiver<(Vec<u8>, Duration)>,
}

/// Photos up to this many pixels get their full hard map computed on the UI thread.
const SYNC_PIXELS: usize = 1 << 20;

/// The mask tint and the map layers, kept up to date with the document.
///
/// What to show ([`OverlaySettings`]) and the context margin are the preferences'; every method
/// that depends on them takes them, so there is no copy to keep in sync. The layers remember
/// which settings they were computed for and recompute when those change.
pub struct Overlay {
    /// Model resolution for the unit-resolution maps.
    pub res: usize,
    /// Hard-map decay rule (the model's when one is loaded).
    pub decay: Decay,
    /// Use the GPU colormap (a wgpu render state with the pipeline exists).
    pub gpu: bool,
    /// Last timings.
    pub timings: OverlayTimings,
    /// A sample is shown over the photo (the mask tint is then hidden).
    pub previewing: bool,
    mask_tex: PixelTexture,
    hard_full: FieldLayer,
    hard_full_key: Option<HardKey>,
    hard_full_pending: Option<PixelRect>,
    hard_job: Option<HardJob>,
    hard_unit: FieldLayer,
    hard_unit_box: Option<ContextBox>,
    hard_unit_stale: bool,
    unit_key: Option<UnitKey>,
    soft: FieldLayer,
    soft_unit: Option<usize>,
    diversity: FieldLayer,
    diversity_max: f32,
    prior: PlacedTexture,
    /// The data of the last generation.
    pub model_maps: ModelMaps,
}

/// What a unit-resolution hard map was computed for (the margin by its bits: a cache key).
#[derive(Debug, Clone, Copy, PartialEq)]
struct UnitKey {
    unit: usize,
    res: usize,
    margin_bits: u32,
    decay: Decay,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("res", &self.res)
            .field("gpu", &self.gpu)
            .finish_non_exhaustive()
    }
}

impl Default for Overlay {
    fn default() -> Self {
        Self::new()
    }
}

impl Overlay {
    /// An empty overlay (no document yet, the official model resolution).
    pub fn new() -> Self {
        Self {
            res: 256,
            decay: Decay::Exp,
            gpu: false,
            timings: OverlayTimings::default(),
            previewing: false,
            diversity_max: 0.0,
            mask_tex: PixelTexture::new("mask", crate::ui::textures::PIXEL_OPTIONS),
            hard_full: FieldLayer::new("hard-full"),
            hard_full_key: None,
            hard_full_pending: None,
            hard_job: None,
            hard_unit: FieldLayer::new("hard-unit"),
            hard_unit_box: None,
            hard_unit_stale: true,
            unit_key: None,
            soft: FieldLayer::new("soft"),
            soft_unit: None,
            diversity: FieldLayer::new("diversity"),
            prior: PlacedTexture::default(),
            model_maps: ModelMaps::default(),
        }
    }

    /// Forgets everything tied to the previous document.
    pub fn reset(&mut self) {
        self.mask_tex.clear();
        self.hard_full.clear();
        self.hard_full_key = None;
        self.hard_full_pending = None;
        self.hard_job = None;
        self.hard_unit.clear();
        self.hard_unit_box = None;
        self.hard_unit_stale = true;
        self.clear_model_maps();
    }

    /// Forgets the last generation's maps.
    pub fn clear_model_maps(&mut self) {
        self.model_maps = ModelMaps::default();
        self.soft.clear();
        self.soft_unit = None;
        self.diversity.clear();
        self.prior.clear();
    }

    /// The context box of the unit-resolution hard map (the box the model would see now).
    pub fn context_box(&self) -> Option<ContextBox> {
        self.hard_unit_box
    }

    /// Whether a background computation is running (the caller should keep repainting).
    pub fn busy(&self) -> bool {
        self.hard_job.is_some()
    }

    /// A copy of the full-resolution hard map levels (tests and benchmarks).
    pub fn hard_full_levels(&self) -> Option<Vec<u8>> {
        self.hard_full.is_set().then(|| self.hard_full.levels())
    }

    /// A copy of the unit-resolution hard map (tests).
    pub fn hard_unit_levels(&self) -> Option<Vec<u8>> {
        self.hard_unit.is_set().then(|| self.hard_unit.levels())
    }

    /// Brings the mask tint and the hard maps up to date: after the mask changed within
    /// `dirty` (`None`: unchanged), or the settings `s` or the context `margin` changed since
    /// the last call (each map remembers what it was computed for).
    ///
    /// `bbox` is the holes' bounding box ([`crate::ui::doc::Document::hole_bbox`]).
    pub fn sync_mask(
        &mut self,
        ctx: &egui::Context,
        s: &OverlaySettings,
        margin: f32,
        mask: &Mask,
        bbox: Option<(u32, u32, u32, u32)>,
        dirty: Option<PixelRect>,
    ) {
        let (w, h) = (mask.width, mask.height);
        // Mask tint.
        let holes = mask.holes();
        let tint = Color32::from_rgba_unmultiplied(
            theme::MASK_TINT[0],
            theme::MASK_TINT[1],
            theme::MASK_TINT[2],
            theme::MASK_TINT_ALPHA,
        );
        self.mask_tex.update(ctx, w, h, dirty, |x, y| {
            if holes[y as usize * w as usize + x as usize] != 0 {
                tint
            } else {
                Color32::TRANSPARENT
            }
        });

        // Full-resolution hard map: collect the change, apply it when shown.
        if let Some(d) = dirty {
            self.hard_full_pending = Some(self.hard_full_pending.map_or(d, |o| o.union(&d)));
            self.hard_unit_stale = true;
        }
        self.poll_hard_job(s, mask);
        if s.map == MapKind::HardFull {
            self.update_hard_full(s, mask);
        }
        if s.map == MapKind::HardUnit || s.context_box {
            self.update_hard_unit(s, margin, mask, bbox);
        }
    }

    fn wanted_hard_key(&self, s: &OverlaySettings, mask: &Mask) -> HardKey {
        HardKey {
            unit: s.unit,
            decay: self.decay,
            size: (mask.width, mask.height),
        }
    }

    fn update_hard_full(&mut self, s: &OverlaySettings, mask: &Mask) {
        let key = self.wanted_hard_key(s, mask);
        let spec = OFFICIAL_UNITS[key.unit.min(OFFICIAL_UNITS.len() - 1)];
        if self.hard_full_key == Some(key) {
            if let Some(d) = self.hard_full_pending.take() {
                let t = Instant::now();
                self.hard_full.edit(|levels, _, _| {
                    Some(update_hard_region(mask, spec, key.decay, levels, d))
                });
                self.timings.hard_full_update = Some(t.elapsed());
            }
            return;
        }
        if self.hard_job.as_ref().is_some_and(|j| j.key == key) {
            return;
        }
        let (w, h) = key.size;
        if (w as usize) * (h as usize) <= SYNC_PIXELS {
            let t = Instant::now();
            let levels = hard_full_levels(mask, spec, key.decay);
            self.timings.hard_full_build = Some(t.elapsed());
            self.hard_full.set(w, h, levels, photo_rect(w, h));
            self.hard_full_key = Some(key);
            self.hard_full_pending = None;
            return;
        }
        // Large photo: compute on a background thread from a snapshot; edits made meanwhile
        // are collected in `hard_full_pending` and applied when it arrives.
        let snapshot = mask.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("pdpaint-hardmap".into())
            .spawn(move || {
                let t = Instant::now();
                let levels = hard_full_levels(&snapshot, spec, key.decay);
                let _ = tx.send((levels, t.elapsed()));
            });
        if spawned.is_ok() {
            self.hard_full_pending = None;
            self.hard_job = Some(HardJob { key, rx });
        } else {
            // No helper thread: compute it here (slow for one frame, but the map appears).
            let t = Instant::now();
            let levels = hard_full_levels(mask, spec, key.decay);
            self.timings.hard_full_build = Some(t.elapsed());
            self.hard_full.set(w, h, levels, photo_rect(w, h));
            self.hard_full_key = Some(key);
            self.hard_full_pending = None;
        }
    }

    fn poll_hard_job(&mut self, s: &OverlaySettings, mask: &Mask) {
        let Some(job) = &self.hard_job else {
            return;
        };
        match job.rx.try_recv() {
            Ok((levels, took)) => {
                let key = job.key;
                self.hard_job = None;
                if key == self.wanted_hard_key(s, mask) {
                    let (w, h) = key.size;
                    self.hard_full.set(w, h, levels, photo_rect(w, h));
                    self.hard_full_key = Some(key);
                    self.timings.hard_full_build = Some(took);
                }
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.hard_job = None,
        }
    }

    fn update_hard_unit(
        &mut self,
        s: &OverlaySettings,
        margin: f32,
        mask: &Mask,
        bbox: Option<(u32, u32, u32, u32)>,
    ) {
        let key = UnitKey {
            unit: s.unit,
            res: self.res,
            margin_bits: margin.to_bits(),
            decay: self.decay,
        };
        if !self.hard_unit_stale && self.unit_key == Some(key) {
            return;
        }
        let t = Instant::now();
        match unit_map(mask, bbox, self.res, margin, s.unit, self.decay) {
            Some(m) => {
                let side = m.side as u32;
                self.hard_unit.set(side, side, m.levels, box_rect(&m.bx));
                self.hard_unit_box = Some(m.bx);
            }
            None => {
                self.hard_unit.clear();
                self.hard_unit_box = None;
            }
        }
        self.timings.hard_unit = Some(t.elapsed());
        self.hard_unit_stale = false;
        self.unit_key = Some(key);
    }

    /// Installs the maps of a new generation.
    pub fn set_model_maps(&mut self, ctx: &egui::Context, maps: ModelMaps) {
        self.clear_model_maps();
        if let (Some(bx), Some(prior)) = (&maps.bx, &maps.prior) {
            self.prior.set(
                ctx,
                "prior",
                crate::ui::textures::color_image(prior),
                box_rect(bx),
                crate::ui::textures::PIXEL_OPTIONS,
            );
        }
        if let (Some(bx), Some((r, div))) = (&maps.bx, &maps.diversity) {
            let max = div.iter().copied().fold(0.0f32, f32::max);
            self.diversity_max = max;
            let levels = div
                .iter()
                .map(|&v| if max > 0.0 { quantize(v / max) } else { 0 })
                .collect();
            self.diversity
                .set(*r as u32, *r as u32, levels, box_rect(bx));
        }
        self.model_maps = maps;
    }

    fn refresh_soft(&mut self, unit: usize) {
        if self.soft_unit == Some(unit) {
            return;
        }
        self.soft_unit = Some(unit);
        let Some(bx) = self.model_maps.bx else {
            self.soft.clear();
            return;
        };
        match self.model_maps.units.get(unit) {
            Some(u) if u.soft_mean.len() == u.side * u.side => {
                let levels = u.soft_mean.iter().map(|&v| quantize(v)).collect();
                self.soft
                    .set(u.side as u32, u.side as u32, levels, box_rect(&bx));
            }
            _ => self.soft.clear(),
        }
    }

    /// Whether the map `s` asks for has anything to show.
    pub fn map_available(&self, s: &OverlaySettings) -> bool {
        match s.map {
            MapKind::None => true,
            MapKind::HardUnit => self.hard_unit.is_set(),
            MapKind::HardFull => self.hard_full.is_set(),
            MapKind::Soft => self.model_maps.units.get(s.unit).is_some(),
            MapKind::Prior => self.prior.is_ready(),
            MapKind::Diversity => self.diversity.is_set(),
        }
    }

    /// Why the map `s` asks for shows nothing yet, when it does not (a hint for the user).
    pub fn unavailable_hint(&self, s: &OverlaySettings) -> Option<&'static str> {
        if s.map == MapKind::None || self.map_available(s) {
            return None;
        }
        Some(match s.map {
            MapKind::Soft | MapKind::Prior | MapKind::Diversity => "Generate once to see this map",
            MapKind::HardFull if self.busy() => "Computing…",
            _ => "Paint a mask to see this map",
        })
    }

    /// Draws the mask tint and the map `s` asks for.
    pub fn paint(
        &mut self,
        ctx: &egui::Context,
        painter: &egui::Painter,
        xform: &Xform,
        photo_size: (u32, u32),
        s: &OverlaySettings,
    ) {
        let screen = xform.rect_to_screen(photo_rect(photo_size.0, photo_size.1));
        // While a sample is previewed the tint would hide it.
        if s.mask_tint && !self.previewing {
            self.mask_tex.paint(painter, screen, Color32::WHITE);
        }
        let gpu = self.gpu;
        match s.map {
            MapKind::None => {}
            MapKind::HardUnit => {
                self.hard_unit
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
            MapKind::HardFull => {
                self.hard_full
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
            MapKind::Soft => {
                self.refresh_soft(s.unit);
                self.soft
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
            MapKind::Prior => {
                self.prior.paint(
                    painter,
                    xform,
                    Color32::from_white_alpha(layer::alpha(s.opacity)),
                );
            }
            MapKind::Diversity => {
                self.diversity
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
        }
        if s.context_box {
            let bx = match s.map {
                MapKind::Soft | MapKind::Prior | MapKind::Diversity => self.model_maps.bx,
                _ => self.hard_unit_box,
            };
            if let Some(bx) = bx {
                painter.rect_stroke(
                    xform.rect_to_screen(box_rect(&bx)),
                    0.0,
                    theme::CONTEXT_BOX,
                    egui::StrokeKind::Middle,
                );
            }
        }
    }

    /// What the ends (and the middle) of the legend's colour bar mean for the map `s` asks
    /// for, or `None` when the map has no colour scale (none, prior).
    pub fn legend_labels(&self, s: &OverlaySettings) -> Option<[String; 3]> {
        match s.map {
            MapKind::None | MapKind::Prior => None,
            MapKind::HardUnit | MapKind::HardFull => {
                let spec = OFFICIAL_UNITS.get(s.unit)?;
                let floor = self.decay.coef(spec.n);
                Some([
                    format!("{floor:.3} deep inside"),
                    format!("{} rings, log scale", spec.n),
                    "1 known".into(),
                ])
            }
            MapKind::Soft => Some([
                "0".into(),
                "soft map, mean over channels".into(),
                "1".into(),
            ]),
            MapKind::Diversity => Some([
                "0 samples agree".into(),
                "per-pixel std of the samples".into(),
                format!("{:.3}", self.diversity_max),
            ]),
        }
    }

    /// Draws the legend of the map `s` asks for: a colour bar with what its ends mean.
    pub fn legend_ui(&self, ui: &mut egui::Ui, s: &OverlaySettings) {
        let Some([lo, mid, hi]) = self.legend_labels(s) else {
            return;
        };
        let width = ui.available_width().clamp(80.0, theme::LEGEND_WIDTH);
        let (rect, _) =
            ui.allocate_exact_size(Vec2::new(width, theme::LEGEND_HEIGHT), egui::Sense::hover());
        let table = lut(s.colormap);
        let steps = theme::LEGEND_STEPS;
        let step_w = rect.width() / steps as f32;
        for i in 0..steps {
            let [r, g, b] = table[i * (table.len() - 1) / (steps - 1)];
            let x0 = rect.left() + i as f32 * step_w;
            ui.painter().rect_filled(
                Rect::from_min_max(
                    Pos2::new(x0, rect.top()),
                    Pos2::new(x0 + step_w + 0.5, rect.bottom()),
                ),
                0.0,
                Color32::from_rgb(r, g, b),
            );
        }
        ui.horizontal(|ui| {
            ui.set_width(width);
            ui.small(lo);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.small(hi);
            });
        });
        ui.colored_label(theme::HINT_TEXT, egui::RichText::new(mid).small());
    }
}

/// The photo-pixel rectangle of a context box.
pub fn box_rect(bx: &ContextBox) -> Rect {
    Rect::from_min_size(
        Pos2::new(bx.x0 as f32, bx.y0 as f32),
        Vec2::splat(bx.size as f32),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_says_what_the_colours_mean() {
        let o = Overlay::new();
        let mut s = OverlaySettings {
            map: MapKind::HardUnit,
            unit: 4,
            ..OverlaySettings::default()
        };
        let [lo, mid, hi] = o.legend_labels(&s).unwrap();
        assert_eq!(hi, "1 known");
        // Unit 4 has N = 6 rings; the interior gets e^-6 = 0.0025 with the code's decay.
        assert!(lo.starts_with("0.002"), "{lo}");
        assert!(mid.contains("6 rings"), "{mid}");
        s.map = MapKind::Prior;
        assert!(o.legend_labels(&s).is_none());
        s.map = MapKind::Diversity;
        assert_eq!(o.legend_labels(&s).unwrap()[2], "0.000");
    }
}
