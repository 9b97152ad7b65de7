//! The side-by-side comparison window of two gallery samples.

use egui::Vec2;

use super::Gallery;

impl Gallery {
    /// Shows the side-by-side comparison window when two samples are picked, unless the wipe
    /// is on: then the canvas itself compares them, and the window would only cover it.
    pub fn compare_window(&mut self, ctx: &egui::Context, mixing: bool) {
        // The wipe compares on the canvas; the Mix brush paints there: no window over it.
        if self.wipe.on || mixing {
            return;
        }
        let (Some(a), Some(b)) = (self.selected, self.compare) else {
            return;
        };
        let (Some(ta), Some(tb)) = (self.region_texture(ctx, a), self.region_texture(ctx, b))
        else {
            return;
        };
        let (sa, sb) = (self.tiles[a].label(), self.tiles[b].label());
        let mut open = true;
        egui::Window::new("Compare")
            .open(&mut open)
            .default_size([720.0, 400.0])
            .show(ctx, |ui| {
                let avail = ui.available_size();
                let side = ((avail.x - 16.0) / 2.0).min(avail.y - 24.0).max(64.0);
                ui.columns(2, |cols| {
                    for (col, (tex, rect), seed) in
                        [(0usize, ta, sa), (1usize, tb, sb)].map(|(c, t, s)| (c, t, s))
                    {
                        let ui = &mut cols[col];
                        ui.label(seed);
                        let aspect = rect.width() / rect.height().max(1.0);
                        let size = if aspect >= 1.0 {
                            Vec2::new(side, side / aspect)
                        } else {
                            Vec2::new(side * aspect, side)
                        };
                        ui.image((tex, size));
                    }
                });
            });
        if !open {
            self.compare = None;
        }
    }
}
