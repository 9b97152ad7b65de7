//! The central panel: the photo on the canvas with the overlay and, when one is selected and
//! preview is on, the sample over it (the original while `\` or "Hold to compare" is held);
//! with "Wipe" on, the sample only left of a draggable line and the compared sample or the
//! original right of it (see [`crate::ui::gallery::wipe`]).

use egui::{Color32, Key, Pos2, Rect};

use crate::ui::app::Studio;
use crate::ui::canvas::{Brush, Tool, Xform};
use crate::ui::command::Command;
use crate::ui::doc::Document;
use crate::ui::gallery::wipe::{self, WipePointer, WipeRight};
use crate::ui::textures::photo_rect;
use crate::ui::theme;

impl Studio {
    /// Draws the canvas; returns a generation when a gesture ended with an edit and the user
    /// asked to generate then, and a mix step when a Mix stroke ended.
    #[must_use]
    pub(super) fn canvas_panel(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let ctx = ui.ctx().clone();
        let size = self.doc.as_ref().map(Document::size);
        // The selected sample, previewed over the photo, unless the user holds \ or the
        // gallery's "Hold to compare" to see the original.
        let holding = self.gallery.holding_original || ui.input(|i| i.key_down(Key::Backslash));
        // A steering brush paints over the selected sample: it is shown whatever the preview
        // setting.
        let tool = self.prefs.tool;
        let facts = self.steer_facts();
        let mix_selected = self
            .gallery
            .selected
            .and_then(|i| self.gallery.tiles.get(i))
            .is_some_and(|t| t.mix.is_some());
        let may_paint = match tool {
            Tool::Keep => facts.selected && !mix_selected,
            Tool::Mix => facts.selected && facts.compared && !facts.mixing,
            _ => false,
        };
        let preview = if (self.gallery.preview || tool.is_steering()) && !holding {
            self.gallery
                .selected
                .and_then(|i| self.gallery.region_texture(&ctx, i))
        } else {
            None
        };
        self.overlay.previewing = preview.is_some();
        // Wipe compare: the right side's texture (none for the original, already drawn), and
        // whether the line's handle holds the pointer (then the canvas starts no gesture).
        let wipe = self.gallery.wipe;
        let wiping = wipe.on && preview.is_some();
        let right = match self.gallery.wipe_right() {
            WipeRight::Sample(c) if wiping => self.gallery.region_texture(&ctx, c),
            _ => None,
        };
        let mut taken = false;
        // A gesture in progress keeps the pointer; the handle grabs only between gestures.
        if wiping
            && !self.canvas.busy()
            && let (Some((_, region)), Some(xf)) = (preview, self.status.xform)
        {
            let mut pointer = WipePointer::read(ui);
            // Outside the canvas (a panel over a zoomed photo) the handle grabs nothing.
            if !self.gallery.wipe.dragging && !pointer.pos.is_some_and(|q| xf.canvas.contains(q)) {
                pointer.pos = None;
            }
            let screen = xf.rect_to_screen(region);
            taken = self.gallery.wipe.follow(pointer, region, screen);
        } else {
            self.gallery.wipe.dragging = false;
        }
        self.canvas.pointer_taken = taken;
        let wipe = self.gallery.wipe;
        let photo_tex = &self.photo_tex;
        let overlay = &mut self.overlay;
        let settings = self.prefs.overlay;
        let brush = Brush {
            tool: self.prefs.tool,
            radius: self.prefs.brush_radius,
        };
        // With the Keep brush, what the pins keep shows faintly under the brush's own layer.
        let show_pinned = tool == Tool::Keep && facts.pins > 0;
        let crate::ui::steer::Steer {
            keep, mix, pinned, ..
        } = &mut self.steer;
        let layer = match tool {
            Tool::Keep if may_paint => Some(keep),
            Tool::Mix if may_paint => Some(mix),
            _ => None,
        };
        let out = self.canvas.show(
            ui,
            self.doc.as_mut(),
            layer,
            brush,
            |painter: &egui::Painter, xf: &Xform| {
                if let Some((w, h)) = size {
                    photo_tex.paint(painter, xf.rect_to_screen(photo_rect(w, h)), Color32::WHITE);
                    if let Some((tex, rect)) = preview {
                        let screen = xf.rect_to_screen(rect);
                        let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
                        if wiping {
                            let x = wipe.line_x(rect, screen);
                            let clip = painter.clip_rect();
                            let (left, right_side) = (
                                Rect::from_x_y_ranges(screen.left()..=x, screen.y_range()),
                                Rect::from_x_y_ranges(x..=screen.right(), screen.y_range()),
                            );
                            painter.with_clip_rect(left.intersect(clip)).image(
                                tex,
                                screen,
                                uv,
                                Color32::WHITE,
                            );
                            if let Some((rtex, rrect)) = right {
                                painter.with_clip_rect(right_side.intersect(clip)).image(
                                    rtex,
                                    xf.rect_to_screen(rrect),
                                    uv,
                                    Color32::WHITE,
                                );
                            }
                            wipe::paint_line(painter, x, screen);
                        } else {
                            painter.image(tex, screen, uv, Color32::WHITE);
                        }
                    }
                    overlay.paint(&ctx, painter, xf, (w, h), &settings);
                    if show_pinned {
                        pinned.paint(&ctx, painter, xf);
                    }
                }
            },
        );
        if taken {
            ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
        }
        self.status.hover = out.hover;
        self.status.xform = Some(out.xform);
        if holding && self.gallery.preview && self.gallery.selected.is_some() {
            ui.painter().text(
                out.canvas.left_top() + egui::vec2(10.0, 10.0),
                egui::Align2::LEFT_TOP,
                "Original",
                egui::FontId::proportional(18.0),
                theme::CANVAS_LABEL,
            );
        }
        if out.edited && self.gallery.preview {
            // Editing the mask shows the photo again.
            self.gallery.preview = false;
        }
        // A gesture ended with an edit: generate at once when the user asked for that.
        let generate = out.edited
            && !self.canvas.busy()
            && self.prefs.generate_on_stroke
            && self.model.info.is_some()
            && self.doc.as_ref().is_some_and(|d| d.mask().hole_count() > 0);
        let mut cmds = Vec::new();
        if generate {
            cmds.push(Command::Generate);
        }
        if out.layer_stroke_ended && tool == Tool::Mix {
            cmds.push(Command::MixStroke);
        }
        cmds
    }
}
