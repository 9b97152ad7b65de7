//! The menu bar: File, Edit and View.

use super::mask::MaskPanel;
use crate::ui::command::{Command, SaveTarget};
use crate::ui::doc::Document;
use crate::ui::prefs::Prefs;

/// Draws the menu bar; returns what the user asked for. The View menu's checkboxes write
/// `prefs.show_training` and `show_shortcuts` directly.
#[must_use]
pub fn show(
    ui: &mut egui::Ui,
    doc: Option<&Document>,
    prefs: &mut Prefs,
    mask_panel: &mut MaskPanel,
    show_shortcuts: &mut bool,
) -> Vec<Command> {
    let mut out = Vec::new();
    let has_doc = doc.is_some();
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("Open photo…").clicked() {
                out.push(Command::OpenPhoto);
            }
            if ui
                .add_enabled(has_doc, egui::Button::new("Save image…"))
                .clicked()
            {
                out.push(Command::Save(SaveTarget::Image));
            }
            ui.separator();
            if ui
                .add_enabled(has_doc, egui::Button::new("Import mask…"))
                .clicked()
            {
                out.push(Command::ImportMask);
            }
            if ui
                .add_enabled(has_doc, egui::Button::new("Export mask…"))
                .clicked()
            {
                out.push(Command::Save(SaveTarget::Mask));
            }
            ui.separator();
            if ui.button("Open recipe…").clicked() {
                out.push(Command::OpenRecipe);
            }
            if ui
                .add_enabled(has_doc, egui::Button::new("Save recipe…"))
                .clicked()
            {
                out.push(Command::Save(SaveTarget::Recipe));
            }
            ui.separator();
            if ui.button("Open model folder…").clicked() {
                out.push(Command::ChooseModelFolder);
            }
            ui.separator();
            if ui.button("Quit").clicked() {
                out.push(Command::Quit);
            }
        });
        ui.menu_button("Edit", |ui| {
            let (u, r) = doc.map_or((false, false), |d| (d.can_undo(), d.can_redo()));
            if ui.add_enabled(u, egui::Button::new("Undo")).clicked() {
                out.push(Command::Undo);
            }
            if ui.add_enabled(r, egui::Button::new("Redo")).clicked() {
                out.push(Command::Redo);
            }
            ui.separator();
            out.extend(mask_panel.ops(ui, prefs, has_doc));
        });
        ui.menu_button("View", |ui| {
            if ui.button("Fit to window").clicked() {
                out.push(Command::FitView);
            }
            if ui.button("Actual size").clicked() {
                out.push(Command::ActualSize);
            }
            ui.checkbox(&mut prefs.show_training, "Training panel");
            ui.checkbox(show_shortcuts, "Keyboard shortcuts");
        });
    });
    out
}
