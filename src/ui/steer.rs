//! Steering among fills in the studio: pin and re-roll, and mix.
//!
//! * **Keep** (`K`): brush over the selected sample what you want to keep, then "Re-roll the
//!   rest". The kept pixels become known pixels of the next generation (pasted into the photo,
//!   taken out of the hole, so the hard map treats them as context), and every new sample
//!   keeps them exactly. Pins stack; "Undo pin" drops the last one and brings back the samples
//!   it was brushed on.
//! * **Mix** (`X`): with a sample selected and another compared (Shift-click), brush over the
//!   canvas: where you paint, the compared sample comes in, with a soft edge "Feather" pixels
//!   wide, inside the hole only. Each stroke is one step of the gallery's "Mix" slot, which
//!   then stays selected so the next stroke adds to it; "Undo mix step" drops the last one.
//!
//! The brushes paint [`BrushLayer`]s (photo-sized masks of their own, never the hole mask),
//! drawn tinted over the previewed sample. What a brush leads to is returned to the studio as
//! [`Command`]s; the pin stack and the mix live in the studio and the gallery
//! (`app::steering`).

use egui::Color32;

use crate::mask::Mask;
use crate::steer::mix::MAX_FEATHER_PX;
use crate::ui::canvas::{Tool, Xform};
use crate::ui::command::Command;
use crate::ui::doc::PixelRect;
use crate::ui::textures::{NEAREST_OPTIONS, PixelTexture, photo_rect};
use crate::ui::theme;

/// A photo-sized mask painted by a steering brush, with its tinted texture.
#[derive(Debug)]
pub struct BrushLayer {
    mask: Mask,
    /// The last point and radius of the stroke in progress, and whether it paints (else
    /// erases).
    stroke: Option<((f32, f32), f32, bool)>,
    dirty: Option<PixelRect>,
    /// Painted pixels, kept up to date per segment (counting the whole mask each frame would
    /// cost tens of milliseconds on a large photo).
    count: usize,
    tex: PixelTexture,
    tint: Color32,
}

impl BrushLayer {
    /// An empty layer drawn in `tint` where painted.
    pub fn new(name: &str, tint: Color32) -> Self {
        Self {
            mask: Mask::new_empty(0, 0),
            stroke: None,
            dirty: None,
            count: 0,
            tex: PixelTexture::new(name, NEAREST_OPTIONS),
            tint,
        }
    }

    /// Makes the layer `w`×`h`, clearing it when its size changes.
    pub fn fit(&mut self, w: u32, h: u32) {
        if (self.mask.width, self.mask.height) != (w, h) {
            self.mask = Mask::new_empty(w, h);
            self.stroke = None;
            self.count = 0;
            self.dirty = Some(PixelRect::full(w, h));
        }
    }

    /// The painted pixels (white = painted).
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// How many pixels are painted.
    pub fn painted(&self) -> usize {
        self.count
    }

    /// Clears every painted pixel.
    pub fn clear(&mut self) {
        let (w, h) = (self.mask.width, self.mask.height);
        if self.count > 0 {
            self.mask = Mask::new_empty(w, h);
            self.dirty = Some(PixelRect::full(w, h));
        }
        self.count = 0;
        self.stroke = None;
    }

    /// Replaces the painted mask (ignored when its size differs).
    pub fn set_mask(&mut self, mask: Mask) {
        if (mask.width, mask.height) != (self.mask.width, self.mask.height) {
            return;
        }
        self.count = mask.hole_count();
        self.dirty = Some(PixelRect::full(mask.width, mask.height));
        self.stroke = None;
        self.mask = mask;
    }

    /// Takes the painted mask, leaving the layer empty.
    pub fn take(&mut self) -> Mask {
        let (w, h) = (self.mask.width, self.mask.height);
        self.stroke = None;
        self.count = 0;
        self.dirty = Some(PixelRect::full(w, h));
        std::mem::replace(&mut self.mask, Mask::new_empty(w, h))
    }

    /// Starts a stroke at `p` (photo pixels): painting, or erasing when `paint` is false.
    pub fn begin_stroke(&mut self, p: (f32, f32), radius: f32, paint: bool) {
        self.stroke = Some((p, radius, paint));
        self.segment(p, p, radius, paint);
    }

    /// Continues the stroke to `p`.
    pub fn extend_stroke(&mut self, p: (f32, f32)) {
        if let Some((last, radius, paint)) = self.stroke
            && last != p
        {
            self.segment(last, p, radius, paint);
            self.stroke = Some((p, radius, paint));
        }
    }

    /// Ends the stroke.
    pub fn end_stroke(&mut self) {
        self.stroke = None;
    }

    fn segment(&mut self, a: (f32, f32), b: (f32, f32), radius: f32, paint: bool) {
        let (w, h) = (self.mask.width, self.mask.height);
        let Some(r) = PixelRect::around(a.0, a.1, b.0, b.1, radius, w, h) else {
            return;
        };
        let before = self.count_in(&r);
        self.mask
            .rasterize_tapered_segment(a, radius, b, radius, paint);
        let after = self.count_in(&r);
        self.count = (self.count + after).saturating_sub(before);
        self.dirty = Some(self.dirty.map_or(r, |d| d.union(&r)));
    }

    fn count_in(&self, r: &PixelRect) -> usize {
        let w = self.mask.width as usize;
        let holes = self.mask.holes();
        (r.y0..r.y1)
            .map(|y| {
                let row = y as usize * w;
                holes[row + r.x0 as usize..row + r.x1 as usize]
                    .iter()
                    .filter(|&&v| v != 0)
                    .count()
            })
            .sum()
    }

    /// Brings the texture up to date and paints it over the photo.
    pub fn paint(&mut self, ctx: &egui::Context, painter: &egui::Painter, xf: &Xform) {
        let (w, h) = (self.mask.width, self.mask.height);
        let dirty = self.dirty.take();
        if dirty.is_some() || !self.tex.is_ready() {
            let (mask, tint) = (&self.mask, self.tint);
            self.tex.update(ctx, w, h, dirty, |x, y| {
                if mask.is_hole(x, y) {
                    tint
                } else {
                    Color32::TRANSPARENT
                }
            });
        }
        self.tex
            .paint(painter, xf.rect_to_screen(photo_rect(w, h)), Color32::WHITE);
    }
}

/// The studio's steering brushes and their settings.
#[derive(Debug)]
pub struct Steer {
    /// What the Keep brush painted (kept at the next re-roll).
    pub keep: BrushLayer,
    /// The Mix brush's stroke in progress (each finished stroke is one mix step).
    pub mix: BrushLayer,
    /// What the pins keep (shown with the Keep brush; not painted by hand).
    pub pinned: BrushLayer,
    /// The mix's soft edge, in photo pixels.
    pub feather_px: f32,
}

impl Default for Steer {
    fn default() -> Self {
        Self {
            keep: BrushLayer::new("keep-brush", theme::KEEP_TINT),
            mix: BrushLayer::new("mix-brush", theme::MIX_TINT),
            pinned: BrushLayer::new("pinned", theme::PINNED_TINT),
            feather_px: 16.0,
        }
    }
}

/// What the steering section shows about the studio (read-only facts, gathered each frame).
#[derive(Debug, Clone, Copy, Default)]
pub struct SteerFacts {
    /// A finished sample is selected.
    pub selected: bool,
    /// A second finished sample is compared.
    pub compared: bool,
    /// Pins applied to the next generation.
    pub pins: usize,
    /// A pin is being added or dropped.
    pub pinning: bool,
    /// Steps of the gallery's mix (0: no mix).
    pub mix_steps: usize,
    /// A mix step is being computed.
    pub mixing: bool,
}

impl Steer {
    /// The steering section of the tool column.
    #[must_use]
    pub fn show(&mut self, ui: &mut egui::Ui, tool: &mut Tool, f: SteerFacts) -> Vec<Command> {
        let mut out = Vec::new();
        ui.heading("Steer");
        ui.horizontal_wrapped(|ui| {
            for t in Tool::STEER {
                ui.selectable_value(tool, t, t.label())
                    .on_hover_text(format!("{} (shortcut: {:?})", t.hint(), t.key()));
            }
        });
        let hint = |ui: &mut egui::Ui, s: &str| {
            ui.colored_label(theme::HINT_TEXT, s);
        };
        if !f.selected {
            hint(ui, "Select a sample to keep parts of it or to mix into it");
        } else if *tool == Tool::Keep {
            let painted = self.keep.painted();
            if painted == 0 {
                hint(ui, "Brush over the parts of the sample to keep");
            }
        } else if *tool == Tool::Mix && !f.compared {
            hint(
                ui,
                "Shift-click the sample to bring in, then brush where it goes",
            );
        }
        ui.horizontal_wrapped(|ui| {
            let can_reroll = f.selected && self.keep.painted() > 0 && !f.pinning;
            if ui
                .add_enabled(can_reroll, egui::Button::new("Re-roll the rest"))
                .on_hover_text(
                    "Keep what you brushed (it becomes known pixels) and generate new fills \
                     for the rest of the hole",
                )
                .clicked()
            {
                out.push(Command::Reroll);
            }
            if ui
                .add_enabled(self.keep.painted() > 0, egui::Button::new("Clear keep"))
                .clicked()
            {
                self.keep.clear();
            }
        });
        if f.pins > 0 {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "{} pin{}: new fills keep them",
                    f.pins,
                    if f.pins == 1 { "" } else { "s" }
                ));
                if ui
                    .add_enabled(!f.pinning, egui::Button::new("Undo pin"))
                    .on_hover_text("Drop the last pin and show the samples it was made on")
                    .clicked()
                {
                    out.push(Command::UndoPin);
                }
                if ui
                    .button("Drop pins")
                    .on_hover_text("Generate from the whole hole again")
                    .clicked()
                {
                    out.push(Command::DropPins);
                }
            });
        }
        ui.add(
            egui::Slider::new(&mut self.feather_px, 0.0..=MAX_FEATHER_PX.min(128.0))
                .text("Mix feather")
                .suffix(" px"),
        )
        .on_hover_text("Width of the soft edge around a mix stroke, in photo pixels");
        if f.mix_steps > 0 || f.mixing {
            ui.horizontal_wrapped(|ui| {
                let label = if f.mixing {
                    "Mixing…".to_owned()
                } else {
                    format!(
                        "Mix: {} step{}",
                        f.mix_steps,
                        if f.mix_steps == 1 { "" } else { "s" }
                    )
                };
                ui.label(label);
                if ui
                    .add_enabled(!f.mixing, egui::Button::new("Undo mix step"))
                    .clicked()
                {
                    out.push(Command::UndoMixStep);
                }
                if ui
                    .add_enabled(!f.mixing, egui::Button::new("Discard mix"))
                    .clicked()
                {
                    out.push(Command::DiscardMix);
                }
            });
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_paints_erases_and_is_taken_empty() {
        let mut l = BrushLayer::new("t", Color32::RED);
        l.fit(40, 30);
        l.begin_stroke((10.0, 10.0), 3.0, true);
        l.extend_stroke((20.0, 10.0));
        l.end_stroke();
        assert!(l.mask().is_hole(15, 10) && !l.mask().is_hole(30, 20));
        let painted = l.painted();
        assert_eq!(painted, l.mask().hole_count());
        assert!(painted > 40, "{painted}");
        l.begin_stroke((15.0, 10.0), 2.0, false);
        l.end_stroke();
        assert!(!l.mask().is_hole(15, 10));
        assert!(l.painted() < painted);
        assert_eq!(l.painted(), l.mask().hole_count());
        let m = l.take();
        assert!(m.hole_count() > 0);
        assert_eq!(l.painted(), 0);
        assert_eq!((l.mask().width, l.mask().height), (40, 30));
        // A new size starts empty.
        l.begin_stroke((5.0, 5.0), 2.0, true);
        l.fit(10, 10);
        assert_eq!(l.painted(), 0);
    }
}
