//! The canvas: the photo under a zoomable, pannable view, and the mask tools.
//!
//! * View: the mouse wheel (or a pinch) zooms about the cursor; a middle-button drag, or a
//!   drag with space held, pans; [`View::fit`] fits the photo to the window.
//! * Tools: brush and eraser (round, radius in photo pixels, `[` and `]` resize), rectangle and
//!   lasso (a primary drag paints holes, a secondary drag erases). A secondary drag with the
//!   brush erases too. The steering brushes (keep, mix) paint a layer of their own with the
//!   same round brush ([`crate::ui::steer`]).
//!
//! Strokes are kept as data and rasterised into the [`Document`]'s mask at photo resolution
//! as the pointer moves (see [`crate::ui::doc`]), so the mask is exact whatever the zoom.

use egui::{Color32, PointerButton, Pos2, Rect, Sense, Shape, StrokeKind, Vec2};
use serde::{Deserialize, Serialize};

use crate::ui::doc::{Document, MaskOp, PRESSURE_FLOOR};
use crate::ui::theme;

/// The mask tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tool {
    /// Paint holes with a round brush.
    #[default]
    Brush,
    /// Erase holes with a round brush.
    Eraser,
    /// Drag a rectangle.
    Rect,
    /// Draw a free-hand closed outline.
    Lasso,
    /// Brush over the selected sample what the next re-roll keeps (see [`crate::ui::steer`]).
    Keep,
    /// Brush the compared sample into the selected one (see [`crate::ui::steer`]).
    Mix,
}

impl Tool {
    /// Every tool (each has a shortcut).
    pub const ALL: [Tool; 6] = [
        Tool::Brush,
        Tool::Eraser,
        Tool::Rect,
        Tool::Lasso,
        Tool::Keep,
        Tool::Mix,
    ];
    /// The mask tools, in toolbar order.
    pub const MASK: [Tool; 4] = [Tool::Brush, Tool::Eraser, Tool::Rect, Tool::Lasso];
    /// The steering brushes, which paint over the previewed sample, never the mask.
    pub const STEER: [Tool; 2] = [Tool::Keep, Tool::Mix];

    /// What it does, for tooltips.
    pub fn hint(self) -> &'static str {
        match self {
            Tool::Brush => "Paint the hole",
            Tool::Eraser => "Erase the hole",
            Tool::Rect => "Drag a rectangular hole",
            Tool::Lasso => "Draw the outline of a hole",
            Tool::Keep => "Brush over the selected sample what to keep, then re-roll the rest",
            Tool::Mix => "Brush the compared sample into the selected one",
        }
    }

    /// Whether it paints a steering layer instead of the mask.
    pub fn is_steering(self) -> bool {
        matches!(self, Tool::Keep | Tool::Mix)
    }

    /// The name shown in the toolbar.
    pub fn label(self) -> &'static str {
        match self {
            Tool::Brush => "Brush",
            Tool::Eraser => "Eraser",
            Tool::Rect => "Rectangle",
            Tool::Lasso => "Lasso",
            Tool::Keep => "Keep",
            Tool::Mix => "Mix",
        }
    }

    /// Its keyboard shortcut.
    pub fn key(self) -> egui::Key {
        match self {
            Tool::Brush => egui::Key::B,
            Tool::Eraser => egui::Key::E,
            Tool::Rect => egui::Key::R,
            Tool::Lasso => egui::Key::L,
            Tool::Keep => egui::Key::K,
            Tool::Mix => egui::Key::X,
        }
    }
}

/// Maps photo pixels to screen points and back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Xform {
    /// The canvas area on screen.
    pub canvas: Rect,
    /// Where photo pixel `(0, 0)`'s corner is on screen.
    pub origin: Pos2,
    /// Screen points per photo pixel.
    pub zoom: f32,
}

impl Xform {
    /// The screen position of a photo position (pixel corners at integers).
    pub fn to_screen(&self, p: Pos2) -> Pos2 {
        self.origin + p.to_vec2() * self.zoom
    }

    /// The photo position of a screen position.
    pub fn to_image(&self, p: Pos2) -> Pos2 {
        Pos2::ZERO + (p - self.origin) / self.zoom
    }

    /// The screen rectangle of a photo rectangle.
    pub fn rect_to_screen(&self, r: Rect) -> Rect {
        Rect::from_min_max(self.to_screen(r.min), self.to_screen(r.max))
    }
}

/// Zoom and pan of the canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Screen points per photo pixel.
    pub zoom: f32,
    /// Offset of the photo's top-left corner from the canvas's top-left corner, in points.
    pub pan: Vec2,
    /// Fit the photo to the canvas at the next frame.
    pub fit_pending: bool,
}

impl Default for View {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            pan: Vec2::ZERO,
            fit_pending: true,
        }
    }
}

impl View {
    /// The transform for a canvas rectangle.
    pub fn xform(&self, canvas: Rect) -> Xform {
        Xform {
            canvas,
            origin: canvas.min + self.pan,
            zoom: self.zoom,
        }
    }

    /// Fits a `w`×`h` photo into `canvas` (centred, with a margin).
    pub fn fit(&mut self, canvas: Rect, w: u32, h: u32) {
        let avail = (canvas.size() - Vec2::splat(2.0 * theme::FIT_MARGIN)).max(Vec2::splat(1.0));
        let (w, h) = (w.max(1) as f32, h.max(1) as f32);
        let zoom = (avail.x / w).min(avail.y / h);
        self.zoom = zoom.clamp(*theme::ZOOM_RANGE.start(), *theme::ZOOM_RANGE.end());
        self.pan = (canvas.size() - Vec2::new(w, h) * self.zoom) / 2.0;
        self.fit_pending = false;
    }

    /// Shows photo pixels 1:1, keeping the canvas centre fixed.
    pub fn actual_size(&mut self, canvas: Rect) {
        self.zoom_about(canvas, canvas.center(), 1.0 / self.zoom);
    }

    /// Multiplies the zoom by `factor`, keeping the photo point under `screen` fixed.
    pub fn zoom_about(&mut self, canvas: Rect, screen: Pos2, factor: f32) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let new_zoom =
            (self.zoom * factor).clamp(*theme::ZOOM_RANGE.start(), *theme::ZOOM_RANGE.end());
        let anchor = screen - canvas.min;
        self.pan = anchor - (anchor - self.pan) * (new_zoom / self.zoom);
        self.zoom = new_zoom;
    }
}

/// What the pointer is doing on the canvas.
#[derive(Debug, Clone, PartialEq, Default)]
enum Gesture {
    #[default]
    Idle,
    /// A brush or eraser stroke (the document holds its state).
    Stroke,
    /// A rectangle from `a` to `b` (photo pixels).
    Rect { a: Pos2, b: Pos2, hole: bool },
    /// A lasso outline (photo pixels).
    Lasso { points: Vec<Pos2>, hole: bool },
    /// A stroke of a steering brush on its layer.
    Layer,
    /// Panning with the pointer.
    Pan,
}

/// What happened on the canvas this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanvasOutput {
    /// The canvas area on screen.
    pub canvas: Rect,
    /// The transform used this frame.
    pub xform: Xform,
    /// The photo position under the pointer, if it is over the canvas.
    pub hover: Option<Pos2>,
    /// Whether the mask was edited.
    pub edited: bool,
    /// Whether a stroke is in progress (the mask keeps changing).
    pub stroking: bool,
    /// A steering brush's stroke ended this frame.
    pub layer_stroke_ended: bool,
}

/// The tool and brush a frame paints with (the preferences hold them; the canvas reads them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Brush {
    /// The active tool.
    pub tool: Tool,
    /// Brush and eraser radius in photo pixels.
    pub radius: f32,
}

/// A brush radius multiplied by `factor`, clamped to the allowed range.
pub fn scaled_radius(radius: f32, factor: f32) -> f32 {
    (radius * factor).clamp(
        *theme::BRUSH_RADIUS_RANGE.start(),
        *theme::BRUSH_RADIUS_RANGE.end(),
    )
}

/// The canvas state: the view and the gesture in progress.
#[derive(Debug, Default)]
pub struct Canvas {
    /// Zoom and pan.
    pub view: View,
    gesture: Gesture,
    last_canvas: Option<Rect>,
    /// The latest pen pressure of the stroke in progress (kept between the pen's events).
    pressure: Option<f32>,
    /// When (egui input time, s) that pressure was reported.
    pressure_time: f64,
    /// Something drawn over the canvas (the wipe handle) holds the pointer this frame: no
    /// gesture starts and the brush ring is not drawn. Set before each [`Canvas::show`].
    pub pointer_taken: bool,
}

impl Canvas {
    /// Fits the photo at the next frame.
    pub fn request_fit(&mut self) {
        self.view.fit_pending = true;
    }

    /// Shows photo pixels 1:1 about the canvas centre.
    pub fn actual_size(&mut self) {
        if let Some(c) = self.last_canvas {
            self.view.actual_size(c);
        }
    }

    /// Whether a gesture is in progress.
    pub fn busy(&self) -> bool {
        self.gesture != Gesture::Idle
    }

    /// Shows the canvas filling the available space, painting with `brush`. `paint_layers`
    /// draws the photo and its overlays (in this order) with the frame's transform; the canvas
    /// then draws `layer` (the steering brush's, when its tool is active and it may paint), the
    /// cursor and any shape in progress on top. A steering tool paints only `layer`, never the
    /// document.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        mut doc: Option<&mut Document>,
        mut layer: Option<&mut crate::ui::steer::BrushLayer>,
        brush: Brush,
        paint_layers: impl FnOnce(&egui::Painter, &Xform),
    ) -> CanvasOutput {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let canvas = response.rect;
        self.last_canvas = Some(canvas);
        painter.rect_filled(canvas, 0.0, theme::CANVAS_BG);
        let size = doc.as_ref().map(|d| d.size());
        if let Some((w, h)) = size
            && self.view.fit_pending
        {
            self.view.fit(canvas, w, h);
        }

        let input = ui.input(|i| {
            let mut wheel = 0.0f32;
            let mut pressure = None;
            for e in &i.events {
                match e {
                    egui::Event::MouseWheel { unit, delta, .. } => {
                        wheel += match unit {
                            egui::MouseWheelUnit::Point => delta.y,
                            egui::MouseWheelUnit::Line => delta.y * theme::WHEEL_LINE_POINTS,
                            egui::MouseWheelUnit::Page => delta.y * canvas.height(),
                        };
                    }
                    // Pens and force-sensing touch screens report a force with each touch
                    // event (egui's only pressure channel); the last one of the frame counts.
                    egui::Event::Touch {
                        force: Some(f),
                        phase: egui::TouchPhase::Start | egui::TouchPhase::Move,
                        ..
                    } => pressure = Some(*f),
                    _ => {}
                }
            }
            PointerInput {
                latest: i.pointer.latest_pos(),
                primary_pressed: i.pointer.button_pressed(PointerButton::Primary),
                secondary_pressed: i.pointer.button_pressed(PointerButton::Secondary),
                middle_pressed: i.pointer.button_pressed(PointerButton::Middle),
                any_down: i.pointer.any_down(),
                space: i.key_down(egui::Key::Space),
                wheel,
                pinch: i.multi_touch().map(|t| t.zoom_delta),
                delta: i.pointer.delta(),
                pressure,
                time: i.time,
            }
        });
        if input.pressure.is_some() {
            self.pressure = input.pressure;
            self.pressure_time = input.time;
        }
        let over = response.contains_pointer() && !self.pointer_taken;

        // Zoom about the cursor.
        if over && let Some(p) = input.latest {
            let factor = if input.wheel != 0.0 {
                (input.wheel * theme::ZOOM_PER_POINT).exp()
            } else {
                input.pinch.unwrap_or(1.0)
            };
            if factor != 1.0 {
                self.view.zoom_about(canvas, p, factor);
            }
        }

        let mut edited = false;
        let xform = self.view.xform(canvas);
        let to_img = |p: Pos2| xform.to_image(p);

        // Start a gesture.
        let idle_before = self.gesture == Gesture::Idle;
        if idle_before
            && over
            && let Some(p) = input.latest
        {
            let erase = input.secondary_pressed;
            if input.middle_pressed || (input.space && input.primary_pressed) {
                self.gesture = Gesture::Pan;
            } else if (input.primary_pressed || input.secondary_pressed)
                && let Some(d) = doc.as_deref_mut()
            {
                let ip = to_img(p);
                match brush.tool {
                    Tool::Brush | Tool::Eraser => {
                        let hole = brush.tool == Tool::Brush && !erase;
                        // Only a pressure reported just now belongs to this press (a pen's touch
                        // and press come together); an older one is from an earlier pen gesture
                        // and must not thin a mouse stroke.
                        if input.time - self.pressure_time > PEN_PRESS_WINDOW_S {
                            self.pressure = None;
                        }
                        d.begin_stroke((ip.x, ip.y), self.pressure, brush.radius, hole);
                        self.gesture = Gesture::Stroke;
                        edited = true;
                    }
                    Tool::Rect => {
                        self.gesture = Gesture::Rect {
                            a: ip,
                            b: ip,
                            hole: !erase,
                        }
                    }
                    Tool::Lasso => {
                        self.gesture = Gesture::Lasso {
                            points: vec![ip],
                            hole: !erase,
                        }
                    }
                    Tool::Keep | Tool::Mix => {
                        if let Some(l) = layer.as_deref_mut() {
                            l.begin_stroke((ip.x, ip.y), brush.radius, !erase);
                            self.gesture = Gesture::Layer;
                        }
                    }
                }
            }
        }

        // Continue or finish it.
        let still_down = input.any_down;
        let mut layer_stroke_ended = false;
        match &mut self.gesture {
            Gesture::Idle => {}
            Gesture::Layer => {
                if let Some(l) = layer.as_deref_mut() {
                    if let Some(p) = input.latest {
                        let ip = to_img(p);
                        l.extend_stroke((ip.x, ip.y));
                    }
                    if !still_down {
                        l.end_stroke();
                    }
                }
                if !still_down {
                    self.gesture = Gesture::Idle;
                    layer_stroke_ended = true;
                }
            }
            Gesture::Pan => {
                // The press frame's delta is the jump to where the button went down.
                if !idle_before {
                    self.view.pan += input.delta;
                }
                if !still_down {
                    self.gesture = Gesture::Idle;
                }
            }
            Gesture::Stroke => {
                if let Some(d) = doc.as_deref_mut() {
                    if let Some(p) = input.latest {
                        let ip = to_img(p);
                        d.extend_stroke((ip.x, ip.y), self.pressure);
                        edited = true;
                    }
                    if !still_down {
                        d.end_stroke();
                    }
                }
                if !still_down {
                    self.gesture = Gesture::Idle;
                    // The next stroke may come from the mouse: no stale pressure.
                    self.pressure = None;
                }
            }
            Gesture::Rect { a, b, hole } => {
                if let Some(p) = input.latest {
                    *b = to_img(p);
                }
                if !still_down {
                    let op = MaskOp::Rect {
                        a: (a.x, a.y),
                        b: (b.x, b.y),
                        hole: *hole,
                    };
                    if let Some(d) = doc.as_deref_mut() {
                        d.apply_shape(op);
                        edited = true;
                    }
                    self.gesture = Gesture::Idle;
                }
            }
            Gesture::Lasso { points, hole } => {
                if let Some(p) = input.latest {
                    let ip = to_img(p);
                    // Keep points at least half a screen point apart.
                    if points
                        .last()
                        .is_none_or(|l| (*l - ip).length() * xform.zoom >= 0.5)
                    {
                        points.push(ip);
                    }
                }
                if !still_down {
                    let op = MaskOp::Lasso {
                        points: points.iter().map(|p| (p.x, p.y)).collect(),
                        hole: *hole,
                    };
                    if let Some(d) = doc {
                        d.apply_shape(op);
                        edited = true;
                    }
                    self.gesture = Gesture::Idle;
                }
            }
        }

        // Paint.
        let painter = painter.with_clip_rect(canvas);
        if let Some((w, h)) = size {
            let photo = xform.rect_to_screen(Rect::from_min_size(
                Pos2::ZERO,
                Vec2::new(w as f32, h as f32),
            ));
            paint_layers(&painter, &xform);
            if let Some(l) = layer {
                l.paint(ui.ctx(), &painter, &xform);
            }
            painter.rect_stroke(photo, 0.0, theme::PHOTO_BORDER, StrokeKind::Outside);
        }
        match &self.gesture {
            Gesture::Rect { a, b, .. } => {
                let r = Rect::from_two_pos(xform.to_screen(*a), xform.to_screen(*b));
                painter.rect_stroke(r, 0.0, theme::SHAPE_OUTLINE, StrokeKind::Middle);
            }
            Gesture::Lasso { points, .. } if points.len() > 1 => {
                let mut pts: Vec<Pos2> = points.iter().map(|p| xform.to_screen(*p)).collect();
                if let Some(&first) = pts.first() {
                    pts.push(first);
                }
                painter.add(Shape::line(pts, theme::SHAPE_OUTLINE));
            }
            _ => {}
        }
        let hover = if over { input.latest } else { None };
        if let Some(p) = hover
            && matches!(
                brush.tool,
                Tool::Brush | Tool::Eraser | Tool::Keep | Tool::Mix
            )
            && !matches!(self.gesture, Gesture::Pan)
            && size.is_some()
        {
            // While a pen presses, the ring shows the width it paints at.
            let scale = match self.pressure {
                Some(v) if self.gesture == Gesture::Stroke => v.clamp(PRESSURE_FLOOR, 1.0),
                _ => 1.0,
            };
            let r = brush.radius * scale * xform.zoom;
            painter.circle_stroke(p, r, theme::BRUSH_CURSOR_SHADOW);
            painter.circle_stroke(p, r, theme::BRUSH_CURSOR);
            ui.ctx().set_cursor_icon(egui::CursorIcon::None);
        } else if matches!(self.gesture, Gesture::Pan) || (over && input.space) {
            ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
        } else if over && matches!(brush.tool, Tool::Rect | Tool::Lasso) {
            ui.ctx().set_cursor_icon(egui::CursorIcon::Crosshair);
        }
        if size.is_none() {
            painter.text(
                canvas.center(),
                egui::Align2::CENTER_CENTER,
                "Open a photo (Ctrl+O), drop one here, or pass it on the command line",
                egui::FontId::proportional(16.0),
                Color32::from_gray(170),
            );
        }

        CanvasOutput {
            canvas,
            xform,
            hover: hover.map(to_img),
            edited,
            stroking: matches!(self.gesture, Gesture::Stroke | Gesture::Layer),
            layer_stroke_ended,
        }
    }
}

/// The pointer input the canvas reads each frame.
#[derive(Debug, Clone, Copy)]
struct PointerInput {
    latest: Option<Pos2>,
    primary_pressed: bool,
    secondary_pressed: bool,
    middle_pressed: bool,
    any_down: bool,
    space: bool,
    wheel: f32,
    pinch: Option<f32>,
    delta: Vec2,
    /// The pen pressure reported this frame, if any.
    pressure: Option<f32>,
    /// egui's input time of the frame, in seconds.
    time: f64,
}

/// How long (s) before a brush press a pen pressure report still counts as that press's.
const PEN_PRESS_WINDOW_S: f64 = 0.1;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zoom_about_keeps_the_point_under_the_cursor() {
        let canvas = Rect::from_min_size(Pos2::new(100.0, 50.0), Vec2::new(800.0, 600.0));
        let mut v = View::default();
        v.fit(canvas, 400, 300);
        let x = v.xform(canvas);
        let want = ((800.0 - 2.0 * theme::FIT_MARGIN) / 400.0)
            .min((600.0 - 2.0 * theme::FIT_MARGIN) / 300.0);
        assert!((x.zoom - want).abs() < 1e-4);
        let cursor = Pos2::new(321.0, 222.0);
        let under = x.to_image(cursor);
        v.zoom_about(canvas, cursor, 2.5);
        let y = v.xform(canvas);
        let back = y.to_screen(under);
        assert!((back - cursor).length() < 1e-3, "{back:?}");
        assert!((y.zoom - x.zoom * 2.5).abs() < 1e-4);
        // Round trip.
        let p = Pos2::new(12.5, 99.0);
        assert!((y.to_image(y.to_screen(p)) - p).length() < 1e-3);
    }

    #[test]
    fn fit_centres_the_photo() {
        let canvas = Rect::from_min_size(Pos2::ZERO, Vec2::new(500.0, 500.0));
        let mut v = View::default();
        v.fit(canvas, 100, 50);
        let x = v.xform(canvas);
        let r = x.rect_to_screen(Rect::from_min_size(Pos2::ZERO, Vec2::new(100.0, 50.0)));
        assert!((r.center() - canvas.center()).length() < 1e-3);
        assert!(!v.fit_pending);
    }

    #[test]
    fn brush_scaling_is_clamped() {
        let r = scaled_radius(10.0, theme::BRUSH_STEP);
        assert!((r - 12.0).abs() < 1e-4);
        assert_eq!(scaled_radius(r, 1e9), *theme::BRUSH_RADIUS_RANGE.end());
        assert_eq!(scaled_radius(r, 1e-9), *theme::BRUSH_RADIUS_RANGE.start());
    }
}
