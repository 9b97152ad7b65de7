//! The overlay section of the tool column: mask tint, which map, its unit, opacity and
//! colormap, the context box, and the map's legend. The settings are preferences; the overlay
//! notices changes by itself on its next sync.

use crate::ui::overlay::{MapColormap, MapKind, Overlay};
use crate::ui::prefs::Prefs;

/// Draws the overlay settings (writing `prefs.overlay`) and the legend of the chosen map.
pub fn show(ui: &mut egui::Ui, prefs: &mut Prefs, overlay: &Overlay) {
    ui.heading("Overlay");
    let s = &mut prefs.overlay;
    ui.checkbox(&mut s.mask_tint, "Tint the mask");
    egui::ComboBox::from_label("Map")
        .selected_text(s.map.label())
        .show_ui(ui, |ui| {
            for k in MapKind::ALL {
                ui.selectable_value(&mut s.map, k, k.label());
            }
        });
    if s.map.uses_unit() {
        ui.add(egui::Slider::new(&mut s.unit, 0..=5).text("Unit"))
            .on_hover_text("Generator unit: 0 is the coarsest (R/64), 5 the finest (R/2)");
    }
    if s.map != MapKind::None {
        ui.add(egui::Slider::new(&mut s.opacity, 0.0..=1.0).text("Opacity"));
        ui.horizontal(|ui| {
            for c in [MapColormap::Viridis, MapColormap::Magma] {
                ui.selectable_value(&mut s.colormap, c, c.label());
            }
        });
    }
    ui.checkbox(&mut s.context_box, "Show the context box");
    let s = &prefs.overlay;
    if overlay.map_available(s) {
        overlay.legend_ui(ui, s);
    }
    if let Some(why) = overlay.unavailable_hint(s) {
        ui.colored_label(crate::ui::theme::HINT_TEXT, why);
    }
}
