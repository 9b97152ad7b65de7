//! Wipe compare: a vertical line across the filled region on the canvas, dragged left and
//! right; the selected sample shows left of it, the compared sample (Shift-click in the
//! gallery) or else the original photo right of it.
//!
//! The line's position is a fraction of the sample region's width, so it stays put when the
//! view zooms or pans; [`Wipe::split_px`] turns it into a photo column, which both the canvas
//! painting and [`compose`] use.

use egui::{Pos2, Rect};
use image::RgbImage;

/// How far (screen points) either side of the line a press grabs it.
pub const GRAB_POINTS: f32 = 8.0;

/// What is right of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeRight {
    /// Another gallery slot (its index).
    Sample(usize),
    /// The photo as it is.
    Original,
}

/// The wipe's state (owned by the gallery; the canvas panel draws it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wipe {
    /// The wipe is on (it shows while a sample is previewed).
    pub on: bool,
    /// Where the line is: 0 at the sample region's left edge, 1 at its right edge.
    pub split: f32,
    /// The line is being dragged.
    pub dragging: bool,
}

impl Default for Wipe {
    fn default() -> Self {
        Self {
            on: false,
            split: 0.5,
            dragging: false,
        }
    }
}

/// The pointer as the wipe reads it in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WipePointer {
    /// Where it is (screen points), if known.
    pub pos: Option<Pos2>,
    /// The primary button went down this frame.
    pub pressed: bool,
    /// The primary button is down.
    pub down: bool,
}

impl WipePointer {
    /// Reads the pointer from egui's input.
    pub fn read(ui: &egui::Ui) -> Self {
        ui.input(|i| Self {
            pos: i.pointer.latest_pos(),
            pressed: i.pointer.button_pressed(egui::PointerButton::Primary),
            down: i.pointer.primary_down(),
        })
    }
}

impl Wipe {
    /// The same setting for a new generation (not dragging).
    pub fn kept(&self) -> Self {
        Self {
            dragging: false,
            ..*self
        }
    }

    /// The photo column where the right image begins, for a sample region `region` (photo
    /// pixels): columns left of it show the selected sample.
    pub fn split_px(&self, region: Rect) -> u32 {
        let x = region.left() + self.split.clamp(0.0, 1.0) * region.width();
        x.round().max(0.0) as u32
    }

    /// The line's screen x for the region as drawn on screen (`screen_region`) when its photo
    /// rectangle is `region`.
    pub fn line_x(&self, region: Rect, screen_region: Rect) -> f32 {
        let f = (self.split_px(region) as f32 - region.left()) / region.width().max(1.0);
        screen_region.left() + f * screen_region.width()
    }

    /// The handle's grab area on screen.
    pub fn handle_rect(&self, region: Rect, screen_region: Rect) -> Rect {
        let x = self.line_x(region, screen_region);
        Rect::from_x_y_ranges(
            (x - GRAB_POINTS)..=(x + GRAB_POINTS),
            screen_region.y_range(),
        )
    }

    /// Follows the pointer: a press on the handle starts a drag, the line then follows the
    /// pointer (clamped to the region) until the button is released. Returns whether the
    /// handle holds the pointer this frame (the canvas must not start a gesture then).
    pub fn follow(&mut self, p: WipePointer, region: Rect, screen_region: Rect) -> bool {
        let handle = self.handle_rect(region, screen_region);
        let over = p.pos.is_some_and(|q| handle.contains(q));
        if p.pressed && over {
            self.dragging = true;
        }
        if self.dragging {
            if let Some(q) = p.pos {
                let w = screen_region.width().max(1.0);
                self.split = ((q.x - screen_region.left()) / w).clamp(0.0, 1.0);
            }
            if !p.down && !p.pressed {
                self.dragging = false;
            }
            return true;
        }
        over
    }
}

/// The wipe as an image: columns `x < split_x` from `left`, the rest from `right` (both the
/// photo's size; where they differ, the smaller size).
pub fn compose(left: &RgbImage, right: &RgbImage, split_x: u32) -> RgbImage {
    let w = left.width().min(right.width());
    let h = left.height().min(right.height());
    RgbImage::from_fn(w, h, |x, y| {
        if x < split_x {
            *left.get_pixel(x, y)
        } else {
            *right.get_pixel(x, y)
        }
    })
}

/// Draws the wipe line at screen x `x` across `screen` (the region on screen), with a knob
/// in the middle to grab.
pub fn paint_line(painter: &egui::Painter, x: f32, screen: Rect) {
    let shadow = egui::Stroke::new(3.0, egui::Color32::from_black_alpha(160));
    let line = egui::Stroke::new(1.5, egui::Color32::WHITE);
    let (top, bottom) = (Pos2::new(x, screen.top()), Pos2::new(x, screen.bottom()));
    painter.line_segment([top, bottom], shadow);
    painter.line_segment([top, bottom], line);
    let knob = Pos2::new(x, screen.center().y);
    painter.circle(
        knob,
        GRAB_POINTS,
        egui::Color32::from_black_alpha(160),
        line,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn the_line_splits_the_region_and_follows_a_drag() {
        let region = Rect::from_min_max(Pos2::new(10.0, 0.0), Pos2::new(30.0, 20.0));
        let screen = Rect::from_min_max(Pos2::new(100.0, 0.0), Pos2::new(300.0, 200.0));
        let mut w = Wipe::default();
        assert_eq!(w.split_px(region), 20);
        assert_eq!(w.line_x(region, screen), 200.0);
        let at = |x: f32, pressed: bool, down: bool| WipePointer {
            pos: Some(Pos2::new(x, 50.0)),
            pressed,
            down,
        };
        // A press away from the line is the canvas's.
        assert!(!w.follow(at(150.0, true, true), region, screen));
        assert!(!w.dragging);
        assert!(w.follow(at(203.0, true, true), region, screen));
        assert!(w.follow(at(150.0, false, true), region, screen));
        assert_eq!(w.split, 0.25);
        assert!(w.follow(at(50.0, false, false), region, screen));
        assert!(!w.dragging);
        assert_eq!(w.split, 0.0);
        assert_eq!(w.split_px(region), 10);
    }

    #[test]
    fn compose_takes_left_columns_from_the_left_image() {
        let a = RgbImage::from_pixel(6, 2, Rgb([1, 1, 1]));
        let b = RgbImage::from_pixel(6, 2, Rgb([2, 2, 2]));
        let c = compose(&a, &b, 4);
        assert_eq!(c.get_pixel(3, 1), &Rgb([1, 1, 1]));
        assert_eq!(c.get_pixel(4, 0), &Rgb([2, 2, 2]));
    }
}
