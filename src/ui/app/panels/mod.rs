//! The window's layout: which panel goes where, in which order they draw, and the floating
//! windows (comparison, shortcuts, the discard question, the drop hint). Each panel draws
//! itself and returns [`Command`]s, applied right after it so the next panel sees the result.
//!
//! * [`menu`]: the menu bar. * [`mask`], [`overlay_settings`], [`generate`]: the tool column.
//! * [`status`]: the status bar and the banners. * [`canvas`]: the central canvas.
//! * The gallery ([`crate::ui::gallery`]) and the training panel
//!   ([`crate::ui::training_panel`]) are panels of their own modules.

mod canvas;
pub mod generate;
pub mod mask;
mod menu;
mod overlay_settings;
pub mod status;

use egui::Color32;

use crate::ui::app::Studio;
use crate::ui::command::Command;
use crate::ui::theme;

impl Studio {
    /// Draws the docked panels in layout order, applying each one's commands after it.
    pub(super) fn draw_panels(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();

        let cmds = egui::Panel::top("menu")
            .show(ui, |ui| {
                menu::show(
                    ui,
                    self.doc.as_ref(),
                    &mut self.prefs,
                    &mut self.mask_panel,
                    &mut self.show_shortcuts,
                )
            })
            .inner;
        self.apply_all(&ctx, cmds);

        if self.status.error.is_some() {
            let cmds = egui::Panel::top("error")
                .show(ui, |ui| self.status.error_banner(ui))
                .inner;
            self.apply_all(&ctx, cmds);
        }
        if !self.status.notes.is_empty() {
            let cmds = egui::Panel::top("notes")
                .show(ui, |ui| self.status.notes_banner(ui))
                .inner;
            self.apply_all(&ctx, cmds);
        }
        egui::Panel::bottom("status")
            .show_separator_line(true)
            .show(ui, |ui| {
                self.status.show(
                    ui,
                    self.model.info.as_ref(),
                    self.model.backend.as_ref(),
                    self.prefs.overlay.map,
                    &self.overlay.timings,
                );
            });

        if self.prefs.show_training {
            let folders = self.prefs.train_folders();
            let training = &mut self.training;
            let cmds = egui::Panel::bottom("training")
                .resizable(true)
                .default_size(theme::TRAINING_PANEL_HEIGHT)
                .show(ui, |ui| {
                    egui::ScrollArea::both()
                        .id_salt("training-scroll")
                        .show(ui, |ui| training.show(ui, folders))
                        .inner
                })
                .inner;
            self.apply_all(&ctx, cmds);
        }

        let cmds = egui::Panel::left("tools")
            .resizable(true)
            .default_size(theme::TOOL_PANEL_WIDTH)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("tools-scroll")
                    .show(ui, |ui| self.tool_column(ui))
                    .inner
            })
            .inner;
        self.apply_all(&ctx, cmds);
        // The overlay settings or the margin may have changed: the canvas below paints with
        // maps brought up to date.
        self.sync_document(&ctx);

        let cmds = egui::Panel::right("gallery")
            .resizable(true)
            .default_size(theme::GALLERY_PANEL_WIDTH)
            .show(ui, |ui| {
                ui.heading("Samples");
                self.gallery.show(ui)
            })
            .inner;
        self.apply_all(&ctx, cmds);

        let cmds = egui::CentralPanel::no_frame()
            .show(ui, |ui| self.canvas_panel(ui))
            .inner;
        self.apply_all(&ctx, cmds);
    }

    /// The left column: mask, overlay, generate and steer sections.
    fn tool_column(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut out = self.mask_panel.show(ui, &mut self.prefs, self.doc.as_ref());
        ui.separator();
        overlay_settings::show(ui, &mut self.prefs, &self.overlay);
        ui.separator();
        let facts = generate::GenerateFacts {
            model: &self.model,
            has_doc: self.doc.is_some(),
            running: self.generating(),
        };
        out.extend(generate::show(ui, &mut self.prefs, facts));
        ui.separator();
        let facts = self.steer_facts();
        out.extend(self.steer.show(ui, &mut self.prefs.tool, facts));
        out
    }

    /// The floating windows: sample comparison, shortcuts, the discard question, the drop
    /// hint.
    pub(super) fn draw_windows(&mut self, ctx: &egui::Context) {
        self.gallery
            .compare_window(ctx, self.prefs.tool == crate::ui::canvas::Tool::Mix);
        let can_run = self.model.info.is_some() && !self.generating();
        let cmds = self.strip.window(ctx, can_run);
        self.apply_all(ctx, cmds);
        let mut open = self.show_shortcuts;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for (k, what) in super::SHORTCUTS {
                        ui.monospace(*k);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        self.show_shortcuts = open;
        if let Some(c) = self.confirm_modal(ctx) {
            self.apply(ctx, c);
        }
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            let screen = ctx.content_rect();
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("drop"),
            ));
            painter.rect_filled(screen, 0.0, theme::MODAL_BACKDROP);
            painter.text(
                screen.center(),
                egui::Align2::CENTER_CENTER,
                "Drop the photo to open it",
                egui::FontId::proportional(24.0),
                Color32::WHITE,
            );
        }
    }

    /// "Discard unsaved changes?", while something waits for the answer.
    fn confirm_modal(&self, ctx: &egui::Context) -> Option<Command> {
        self.confirm.as_ref()?;
        let (photo, mask) = self
            .doc
            .as_ref()
            .map_or((false, false), |d| (d.photo_unsaved(), d.mask_unsaved()));
        let what = match (photo, mask) {
            (true, true) => "The filled photo and the mask are not saved.",
            (true, false) => "The filled photo is not saved.",
            _ => "The mask is not exported.",
        };
        let mut choice = None;
        egui::Modal::new(egui::Id::unique("confirm-discard"))
            .backdrop_color(theme::MODAL_BACKDROP)
            .show(ctx, |ui| {
                ui.heading("Discard unsaved changes?");
                ui.label(what);
                ui.horizontal(|ui| {
                    if ui.button("Discard").clicked() {
                        choice = Some(Command::Discard(true));
                    }
                    if ui.button("Cancel").clicked() {
                        choice = Some(Command::Discard(false));
                    }
                });
            });
        choice
    }
}
