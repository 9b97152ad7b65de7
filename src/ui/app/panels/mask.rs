//! The mask section of the tool column (tools, brush size, whole-mask operations, feathering)
//! and the same operations in the Edit menu.

use crate::ui::canvas::Tool;
use crate::ui::command::Command;
use crate::ui::doc::{Document, WholeMaskOp};
use crate::ui::prefs::Prefs;
use crate::ui::theme;

/// The mask panel's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskPanel {
    /// Grow/shrink amount in photo pixels.
    pub grow_px: u32,
}

impl Default for MaskPanel {
    fn default() -> Self {
        Self { grow_px: 8 }
    }
}

impl MaskPanel {
    /// The mask section: tool buttons, brush size, mask operations, the hole ratio.
    #[must_use]
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        prefs: &mut Prefs,
        doc: Option<&Document>,
    ) -> Vec<Command> {
        ui.heading("Mask");
        ui.horizontal_wrapped(|ui| {
            for t in Tool::MASK {
                ui.selectable_value(&mut prefs.tool, t, t.label())
                    .on_hover_text(format!("{} (shortcut: {:?})", t.hint(), t.key()));
            }
        });
        ui.add(
            egui::Slider::new(&mut prefs.brush_radius, theme::BRUSH_RADIUS_RANGE)
                .logarithmic(true)
                .text("Brush size"),
        )
        .on_hover_text("Radius in photo pixels ([ and ] change it)");
        let out = self.ops(ui, prefs, doc.is_some());
        if let Some(d) = doc {
            ui.colored_label(
                theme::HINT_TEXT,
                format!("{:.1}% of the photo is hole", d.mask().hole_ratio() * 100.0),
            );
        }
        out
    }

    /// Clear, invert, grow and shrink (enabled with a photo), and the feather slider.
    #[must_use]
    pub fn ops(&mut self, ui: &mut egui::Ui, prefs: &mut Prefs, has_doc: bool) -> Vec<Command> {
        let mut out = Vec::new();
        ui.add_enabled_ui(has_doc, |ui| {
            ui.horizontal(|ui| {
                if ui.button("Clear mask").clicked() {
                    out.push(Command::EditMask(WholeMaskOp::Clear));
                }
                if ui.button("Invert mask").clicked() {
                    out.push(Command::EditMask(WholeMaskOp::Invert));
                }
            });
            ui.horizontal(|ui| {
                let r = self.grow_px;
                if ui.button("Grow").clicked() {
                    out.push(Command::EditMask(WholeMaskOp::Grow(r)));
                }
                if ui.button("Shrink").clicked() {
                    out.push(Command::EditMask(WholeMaskOp::Shrink(r)));
                }
                ui.add(
                    egui::DragValue::new(&mut self.grow_px)
                        .range(1..=256)
                        .suffix(" px"),
                );
            });
        });
        // Feathering softens the mask's edge where the fill meets the photo: the model fills
        // the whole hole, and the fill fades into the photo over this band when it is pasted.
        ui.add(egui::Slider::new(&mut prefs.feather_px, 0.0..=64.0).text("Feather (px)"))
            .on_hover_text(
                "Soft mask edge: the fill fades into the photo over this many pixels \
                 inside the hole (0 = hard edge)",
            );
        out
    }
}
