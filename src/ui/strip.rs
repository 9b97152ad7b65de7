//! The interpolation strip: the fills between two gallery samples.
//!
//! With two samples picked in the gallery (a click and a Shift-click), "In between…" opens
//! this window; "Make" asks the inference worker for K fills along the spherical path between
//! the two seeds' z ([`crate::inference::ZSpec::between`], as `pdpaint inpaint --between`),
//! which appear in the strip one by one as the worker sends them. "Keep" adds one to the
//! gallery, where it can be previewed, applied and saved like any sample.

use std::sync::Arc;

use egui::{Color32, Rect, TextureHandle, Vec2};
use image::RgbImage;

use crate::inference::ZSpec;
use crate::steer::score::SampleScores;
use crate::ui::command::Command;
use crate::ui::textures::{PIXEL_OPTIONS, color_image};
use crate::ui::theme;

/// The most fills a strip may ask for between its two ends.
pub const MAX_BETWEEN: u32 = 14;

/// One end of a strip: a gallery sample's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripEnds {
    /// The seed at the start (step 0).
    pub from: u64,
    /// The seed at the end.
    pub to: u64,
}

/// One fill of the strip.
pub struct StripItem {
    /// Which z it was made from.
    pub spec: ZSpec,
    /// The full photo with the hole filled.
    pub photo: Arc<RgbImage>,
    /// Its scores, or why they could not be computed.
    pub scores: Result<SampleScores, String>,
    /// Its thumbnail texture.
    pub thumb: TextureHandle,
}

impl std::fmt::Debug for StripItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripItem")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Where the strip's request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripState {
    /// Nothing asked yet.
    Idle,
    /// The worker is making the fills of this generation.
    Running(u64),
    /// All fills arrived.
    Done,
    /// A newer request stopped it.
    Stopped,
    /// It failed: why.
    Failed(String),
}

/// The strip window's state.
#[derive(Debug)]
pub struct Strip {
    /// The window is shown.
    pub open: bool,
    /// The two samples to interpolate between (the gallery's selected and compared ones).
    pub ends: Option<StripEnds>,
    /// How many fills to make between the ends.
    pub between: u32,
    /// The request's state.
    pub state: StripState,
    /// The gallery generation the ends belong to (keeping goes into that gallery only).
    pub source_generation: Option<u64>,
    /// The fills so far, in path order.
    pub items: Vec<StripItem>,
}

impl Default for Strip {
    fn default() -> Self {
        Self {
            open: false,
            ends: None,
            between: 6,
            state: StripState::Idle,
            source_generation: None,
            items: Vec::new(),
        }
    }
}

impl Strip {
    /// Opens the window for two samples of gallery generation `generation` (the fills of an
    /// earlier pair are dropped).
    pub fn open_for(&mut self, ends: StripEnds, generation: Option<u64>) {
        if self.ends != Some(ends) || self.source_generation != generation {
            self.items.clear();
            self.state = StripState::Idle;
        }
        self.ends = Some(ends);
        self.source_generation = generation;
        self.open = true;
    }

    /// A strip request of `generation` was submitted.
    pub fn begin(&mut self, generation: u64) {
        self.items.clear();
        self.state = StripState::Running(generation);
    }

    /// Whether `generation` is this strip's running request.
    pub fn owns(&self, generation: u64) -> bool {
        self.state == StripState::Running(generation)
    }

    /// Adds a fill (ignored for another request); returns whether it was taken.
    pub fn add(
        &mut self,
        ctx: &egui::Context,
        generation: u64,
        spec: ZSpec,
        photo: Arc<RgbImage>,
        thumb: &RgbImage,
        scores: Result<SampleScores, String>,
    ) -> bool {
        if !self.owns(generation) {
            return false;
        }
        let tex = ctx.load_texture(
            format!("strip-{}", spec.file_stem()),
            color_image(thumb),
            PIXEL_OPTIONS,
        );
        self.items.push(StripItem {
            spec,
            photo,
            scores,
            thumb: tex,
        });
        true
    }

    /// The request of `generation` ended: `Ok` when complete, `Err(None)` when superseded,
    /// `Err(Some(why))` when it failed. Ignored for another request.
    pub fn ended(&mut self, generation: u64, how: Result<(), Option<String>>) {
        if !self.owns(generation) {
            return;
        }
        self.state = match how {
            Ok(()) => StripState::Done,
            Err(None) => StripState::Stopped,
            Err(Some(why)) => StripState::Failed(why),
        };
    }

    /// Shows the window when open; `can_run` says whether a request may start now (a model
    /// is loaded and no generation runs). Returns what the user asked for.
    #[must_use]
    pub fn window(&mut self, ctx: &egui::Context, can_run: bool) -> Vec<Command> {
        let mut actions = Vec::new();
        let Some(ends) = self.ends.filter(|_| self.open) else {
            return actions;
        };
        let mut open = true;
        egui::Window::new("In between")
            .open(&mut open)
            .default_width(640.0)
            .show(ctx, |ui| {
                ui.label(format!("From seed {} to seed {}", ends.from, ends.to));
                ui.horizontal(|ui| {
                    ui.add(egui::Slider::new(&mut self.between, 1..=MAX_BETWEEN).text("fills"));
                    let running = matches!(self.state, StripState::Running(_));
                    if ui
                        .add_enabled(can_run && !running, egui::Button::new("Make"))
                        .on_hover_text(
                            "Fills along the spherical path between the two samples' noise \
                             (raw PD-GAN output, no full-resolution detail)",
                        )
                        .clicked()
                    {
                        actions.push(Command::MakeBetween {
                            ends,
                            between: self.between,
                        });
                    }
                });
                match &self.state {
                    StripState::Running(_) => {
                        ui.label(format!("{} of {} fills", self.items.len(), self.between));
                    }
                    StripState::Stopped => {
                        ui.label("Stopped by a newer request");
                    }
                    StripState::Failed(why) => {
                        ui.colored_label(theme::ERROR_TEXT, format!("Failed: {why}"));
                    }
                    StripState::Idle | StripState::Done => {}
                }
                egui::ScrollArea::horizontal().show(ui, |ui| {
                    ui.horizontal(|ui| {
                        for (i, item) in self.items.iter().enumerate() {
                            if item_ui(ui, item) {
                                actions.push(Command::KeepBetween(i));
                            }
                        }
                    });
                });
            });
        if !open {
            self.open = false;
        }
        actions
    }
}

/// Draws one fill with its label and a Keep button; returns whether Keep was clicked.
fn item_ui(ui: &mut egui::Ui, item: &StripItem) -> bool {
    let mut keep = false;
    ui.vertical(|ui| {
        let (rect, _) =
            ui.allocate_exact_size(Vec2::splat(theme::THUMB_SIZE), egui::Sense::hover());
        let size = item.thumb.size_vec2();
        let scale = (rect.width() / size.x).min(rect.height() / size.y);
        ui.painter().image(
            item.thumb.id(),
            Rect::from_center_size(rect.center(), size * scale),
            Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            Color32::WHITE,
        );
        ui.label(crate::ui::gallery::spec_label(&item.spec));
        if let Ok(s) = &item.scores {
            ui.small(crate::ui::gallery::rank::badge_text(s));
        }
        keep = ui
            .button(format!(
                "Keep {}",
                crate::ui::gallery::spec_label(&item.spec)
            ))
            .on_hover_text("Add this fill to the gallery")
            .clicked();
    });
    keep
}
