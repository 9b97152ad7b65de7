//! Every colour and size the studio uses, in one place.

use egui::{Color32, Stroke, Vec2};

/// Tint of hole pixels over the photo (premultiplied by [`MASK_TINT_ALPHA`] when drawn).
pub const MASK_TINT: [u8; 3] = [255, 64, 96];
/// Opacity of the mask tint, 0–255.
pub const MASK_TINT_ALPHA: u8 = 120;
/// Canvas background (outside the photo).
pub const CANVAS_BG: Color32 = Color32::from_gray(32);
/// Text drawn on the canvas (e.g. "Original" while comparing).
pub const CANVAS_LABEL: Color32 = Color32::from_rgb(255, 214, 10);
/// Border drawn around the photo.
pub const PHOTO_BORDER: Stroke = Stroke {
    width: 1.0,
    color: Color32::from_gray(90),
};
/// Brush cursor outline.
pub const BRUSH_CURSOR: Stroke = Stroke {
    width: 1.5,
    color: Color32::from_rgb(250, 250, 250),
};
/// Brush cursor inner outline (drawn under [`BRUSH_CURSOR`] so it shows on light photos).
pub const BRUSH_CURSOR_SHADOW: Stroke = Stroke {
    width: 3.0,
    color: Color32::from_rgba_premultiplied(0, 0, 0, 160),
};
/// Rectangle and lasso outlines while they are drawn.
pub const SHAPE_OUTLINE: Stroke = Stroke {
    width: 1.5,
    color: Color32::from_rgb(255, 214, 10),
};
/// Outline of the model's context box on the canvas.
pub const CONTEXT_BOX: Stroke = Stroke {
    width: 1.0,
    color: Color32::from_rgb(120, 200, 255),
};
/// Frame around the selected gallery tile.
pub const SELECTED_TILE: Stroke = Stroke {
    width: 3.0,
    color: Color32::from_rgb(255, 214, 10),
};
/// Frame around the gallery tile picked for comparison.
pub const COMPARE_TILE: Stroke = Stroke {
    width: 3.0,
    color: Color32::from_rgb(120, 200, 255),
};
/// Placeholder fill of a gallery tile still being computed.
pub const PENDING_TILE: Color32 = Color32::from_gray(48);
/// Height of the detail progress bar along the bottom of a gallery thumbnail.
pub const DETAIL_BAR_HEIGHT: f32 = 4.0;
/// Background of that bar.
pub const DETAIL_BAR_BACK: Color32 = Color32::from_black_alpha(160);
/// The done part of that bar.
pub const DETAIL_BAR_FILL: Color32 = Color32::from_rgb(90, 170, 255);
/// Error text.
pub const ERROR_TEXT: Color32 = Color32::from_rgb(255, 110, 110);
/// Warning text (e.g. "no model loaded").
pub const WARN_TEXT: Color32 = Color32::from_rgb(255, 200, 90);
/// Dimmed explanatory text.
pub const HINT_TEXT: Color32 = Color32::from_gray(160);
/// What the Keep brush painted, over the previewed sample (premultiplied green).
pub const KEEP_TINT: Color32 = Color32::from_rgba_premultiplied(30, 110, 40, 110);
/// What the pins keep, shown with the Keep brush (premultiplied, fainter green).
pub const PINNED_TINT: Color32 = Color32::from_rgba_premultiplied(15, 55, 20, 55);
/// The Mix brush's stroke in progress (premultiplied blue).
pub const MIX_TINT: Color32 = Color32::from_rgba_premultiplied(30, 60, 130, 110);
/// Backdrop of modal dialogs.
pub const MODAL_BACKDROP: Color32 = Color32::from_black_alpha(140);

/// Width of the left tool panel.
pub const TOOL_PANEL_WIDTH: f32 = 230.0;
/// Width of the right gallery panel.
pub const GALLERY_PANEL_WIDTH: f32 = 320.0;
/// Height of the training panel when open.
pub const TRAINING_PANEL_HEIGHT: f32 = 300.0;
/// Width of the training panel's settings column.
pub const TRAIN_SETTINGS_WIDTH: f32 = 320.0;
/// Side of a gallery thumbnail.
pub const THUMB_SIZE: f32 = 120.0;
/// Gap between gallery thumbnails.
pub const THUMB_GAP: f32 = 6.0;
/// Size of the preview image in the training panel.
pub const TRAIN_PREVIEW_SIZE: Vec2 = Vec2::new(260.0, 260.0);
/// Height of a loss plot.
pub const LOSS_PLOT_HEIGHT: f32 = 200.0;
/// Smallest and largest brush radius, in photo pixels.
pub const BRUSH_RADIUS_RANGE: std::ops::RangeInclusive<f32> = 1.0..=500.0;
/// Factor `[` and `]` change the brush radius by.
pub const BRUSH_STEP: f32 = 1.2;
/// Smallest and largest zoom (screen points per photo pixel).
pub const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.02..=64.0;
/// Zoom change per point of mouse-wheel movement (the zoom is multiplied by
/// `exp(delta · ZOOM_PER_POINT)`).
pub const ZOOM_PER_POINT: f32 = 0.0025;
/// Points per wheel "line" when the wheel reports lines.
pub const WHEEL_LINE_POINTS: f32 = 40.0;
/// Margin kept around the photo when fitting it to the window.
pub const FIT_MARGIN: f32 = 12.0;
/// Time budget for draining worker channels per frame.
pub const DRAIN_BUDGET: std::time::Duration = std::time::Duration::from_millis(10);
/// Default overlay opacity.
pub const OVERLAY_OPACITY: f32 = 0.6;
/// Number of loss points kept per term in the training plots.
pub const LOSS_HISTORY: usize = 5000;

/// Colour of loss curve `i` (cycled).
pub fn loss_colour(i: usize) -> Color32 {
    const COLOURS: [Color32; 8] = [
        Color32::from_rgb(255, 214, 10),
        Color32::from_rgb(120, 200, 255),
        Color32::from_rgb(255, 110, 110),
        Color32::from_rgb(140, 230, 140),
        Color32::from_rgb(220, 150, 255),
        Color32::from_rgb(255, 170, 90),
        Color32::from_rgb(90, 220, 220),
        Color32::from_rgb(200, 200, 200),
    ];
    COLOURS[i % COLOURS.len()]
}

/// Applies the studio's look to a context (called once at start).
pub fn apply(ctx: &egui::Context) {
    ctx.set_visuals(egui::Visuals::dark());
}

/// Widest legend colour bar in points.
pub const LEGEND_WIDTH: f32 = 260.0;
/// Height of the legend colour bar in points.
pub const LEGEND_HEIGHT: f32 = 12.0;
/// Colour steps drawn in the legend bar.
pub const LEGEND_STEPS: usize = 64;
