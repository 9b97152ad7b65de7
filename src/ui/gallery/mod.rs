//! The gallery: the samples of the last generation, filled in as they arrive.
//!
//! With full-resolution detail on, each slot first shows the raw PD-GAN sample (as fast as
//! the generator makes it), then its detailed version once the worker has synthesised it (a
//! progress bar on the thumbnail meanwhile). "Raw PD-GAN output" shows the raw samples
//! instead, everywhere (thumbnails, canvas preview, comparison, apply and save).
//!
//! A click selects a sample and previews it on the canvas; Shift- or Ctrl-click picks a second
//! one to compare side by side. The actions (apply, save, copy seed) are returned to the studio
//! as [`Command`]s, which it performs (applying is an undoable document edit).
//!
//! Each thumbnail carries its scores once the worker has sent them (seam always, realism when
//! the model has a discriminator; see [`rank`]); "Sort" reorders the thumbnails by them. The
//! slots themselves never move: selection, compare, apply and save name a slot by its index in
//! seed order, whatever order the thumbnails are drawn in. [`wipe`] is the canvas's split
//! comparison of the selected sample with a second one or the original.

mod compare;
mod mix;
pub mod rank;
pub mod wipe;

use std::sync::Arc;

use egui::{Color32, Rect, Sense, StrokeKind, TextureHandle, Vec2};
use image::RgbImage;

use crate::imageops::ContextBox;
use crate::inference::ZSpec;
use crate::inference::worker::sample_region;
use crate::steer::score::SampleScores;
use crate::ui::command::{Command, SaveTarget};
use crate::ui::textures::{PIXEL_OPTIONS, color_image};
use crate::ui::theme;

pub use mix::MixSlot;
pub use rank::SortBy;
pub use wipe::Wipe;

/// The most samples one generation may ask for.
pub const MAX_SAMPLES: usize = 16;

/// Where a slot's full-resolution detail stands.
#[derive(Debug, Clone, PartialEq)]
pub enum DetailStatus {
    /// Detail is off for this generation.
    Off,
    /// Waiting for its turn.
    Waiting,
    /// Being synthesised (fraction done).
    Running(f32),
    /// Ready.
    Done,
    /// It failed (the raw sample stays usable).
    Failed(String),
}

/// A sample's name: `Seed 7`, or `Seed 3..7@2/6` for a fill between two seeds (the
/// command line's syntax, see [`ZSpec`]'s `Display`).
pub fn spec_label(spec: &ZSpec) -> String {
    format!("Seed {}", spec.normalized())
}

/// One gallery slot.
pub struct Tile {
    /// Its seed (for a kept interpolation fill, the seed its detail would use).
    pub seed: u64,
    /// Which z it was made from.
    pub spec: ZSpec,
    /// The filled photo as shown (the detailed one when it exists and raw is not asked for).
    pub photo: Option<Arc<RgbImage>>,
    /// Seconds the sample took.
    pub took: Option<f32>,
    /// Its full-resolution detail.
    pub detail: DetailStatus,
    /// Seconds the detail took.
    pub detail_took: Option<f32>,
    /// The scores of the shown version (raw or detailed), once the worker has sent them, or
    /// why they could not be computed.
    pub scores: Option<Result<SampleScores, String>>,
    raw_scores: Option<Result<SampleScores, String>>,
    detailed_scores: Option<Result<SampleScores, String>>,
    raw: Option<(Arc<RgbImage>, TextureHandle)>,
    detailed: Option<(Arc<RgbImage>, TextureHandle)>,
    thumb: Option<TextureHandle>,
    /// The filled region (the context box within the photo) as a texture, for the canvas
    /// preview and the comparison; made on demand.
    region: Option<(TextureHandle, Rect)>,
    /// Set for the gallery's mix slot (its `spec` and `seed` are the mix's base sample's).
    pub mix: Option<MixSlot>,
}

impl Tile {
    fn new(seed: u64, spec: ZSpec, detail: DetailStatus) -> Self {
        Self {
            seed,
            spec,
            photo: None,
            took: None,
            detail,
            detail_took: None,
            scores: None,
            raw_scores: None,
            detailed_scores: None,
            raw: None,
            detailed: None,
            thumb: None,
            region: None,
            mix: None,
        }
    }

    /// Whether the version shown is the full-resolution detailed one.
    pub fn shows_detailed(&self) -> bool {
        self.photo.is_some()
            && matches!((&self.photo, &self.detailed), (Some(p), Some((d, _))) if Arc::ptr_eq(p, d))
    }

    /// The slot's name: `Seed 7`, `Seed 3..7@2/6`, or `Mix (2 steps)`.
    pub fn label(&self) -> String {
        match &self.mix {
            Some(m) => format!(
                "Mix ({} step{})",
                m.steps,
                if m.steps == 1 { "" } else { "s" }
            ),
            None => spec_label(&self.spec),
        }
    }

    /// Makes the raw or the detailed version the shown one (the detailed only when it exists
    /// and `raw` is false).
    fn show(&mut self, raw: bool) {
        let pick = match (&self.detailed, &self.raw) {
            (Some(d), _) if !raw => Some(d),
            (_, Some(r)) => Some(r),
            (d, None) => d.as_ref(),
        };
        let (photo, thumb) = match pick {
            Some((p, t)) => (Some(p.clone()), Some(t.clone())),
            None => (None, None),
        };
        self.scores = if self.detailed.is_some() && !raw {
            self.detailed_scores.clone()
        } else {
            self.raw_scores.clone()
        };
        let changed = match (&photo, &self.photo) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (a, b) => a.is_some() != b.is_some(),
        };
        self.photo = photo;
        self.thumb = thumb;
        if changed {
            self.region = None;
        }
    }
}

impl std::fmt::Debug for Tile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tile")
            .field("seed", &self.seed)
            .field("ready", &self.photo.is_some())
            .finish_non_exhaustive()
    }
}

/// The samples of one generation.
#[derive(Debug, Default)]
pub struct Gallery {
    /// The generation these samples belong to.
    pub generation: Option<u64>,
    /// The slots, in seed order.
    pub tiles: Vec<Tile>,
    /// The selected slot (previewed on the canvas).
    pub selected: Option<usize>,
    /// The slot compared with the selected one.
    pub compare: Option<usize>,
    /// Show the selected sample on the canvas instead of the photo.
    pub preview: bool,
    /// The "Hold to compare" button is held this frame: the canvas shows the original.
    pub holding_original: bool,
    /// The context box the samples were made in.
    pub bx: Option<ContextBox>,
    /// Photo size of the generation.
    pub photo_size: (u32, u32),
    /// Show the raw PD-GAN samples even where a detailed one exists.
    pub show_raw: bool,
    /// The order the thumbnails are drawn in.
    pub sort: SortBy,
    /// The canvas's split comparison.
    pub wipe: Wipe,
}

impl Gallery {
    /// Starts a new generation with one empty slot per seed; `detail` says whether detailed
    /// versions will follow.
    pub fn begin(&mut self, generation: u64, seeds: &[u64], photo_size: (u32, u32), detail: bool) {
        self.generation = Some(generation);
        let status = if detail {
            DetailStatus::Waiting
        } else {
            DetailStatus::Off
        };
        self.tiles = seeds
            .iter()
            .map(|&seed| Tile::new(seed, ZSpec::Seed(seed), status.clone()))
            .collect();
        self.selected = None;
        self.compare = None;
        self.bx = None;
        self.photo_size = photo_size;
    }

    /// Starts a new generation with one empty slot per sample (a recipe's replay, whose
    /// samples may be fills between seeds); `detail` says whether detailed versions follow.
    pub fn begin_specs(
        &mut self,
        generation: u64,
        specs: &[ZSpec],
        photo_size: (u32, u32),
        detail: bool,
    ) {
        self.begin(generation, &[], photo_size, detail);
        let status = if detail {
            DetailStatus::Waiting
        } else {
            DetailStatus::Off
        };
        self.tiles = specs
            .iter()
            .map(|s| Tile::new(s.detail_seed(), *s, status.clone()))
            .collect();
    }

    /// Empties the gallery.
    pub fn clear(&mut self) {
        drop(self.take());
    }

    /// Sets the context box of the current generation.
    pub fn set_box(&mut self, generation: u64, bx: ContextBox) {
        if self.generation == Some(generation) {
            self.bx = Some(bx);
        }
    }

    /// Stores a finished sample (ignored when it belongs to another generation).
    /// The first sample to arrive is selected.
    #[allow(clippy::too_many_arguments)] // the fields of one `InferEvent::Sample`
    pub fn add(
        &mut self,
        ctx: &egui::Context,
        generation: u64,
        index: usize,
        seed: u64,
        photo: Arc<RgbImage>,
        thumb: &RgbImage,
        took: f32,
    ) -> bool {
        if self.generation != Some(generation) {
            return false;
        }
        let Some(tile) = self.tiles.get_mut(index) else {
            return false;
        };
        if tile.seed != seed {
            return false;
        }
        let tex = ctx.load_texture(format!("sample-{seed}"), color_image(thumb), PIXEL_OPTIONS);
        tile.raw = Some((photo, tex));
        tile.took = Some(took);
        tile.show(self.show_raw);
        if self.selected.is_none() {
            self.selected = Some(index);
        }
        true
    }

    /// Adds a fill kept from the interpolation strip as a new slot of `generation` (ignored
    /// for another generation) and selects it; returns its index.
    pub fn keep(
        &mut self,
        generation: Option<u64>,
        spec: ZSpec,
        photo: Arc<RgbImage>,
        thumb: TextureHandle,
        scores: Result<SampleScores, String>,
    ) -> Option<usize> {
        if generation.is_none() || self.generation != generation {
            return None;
        }
        let mut tile = Tile::new(spec.detail_seed(), spec, DetailStatus::Off);
        tile.raw_scores = Some(scores);
        tile.raw = Some((photo, thumb));
        self.tiles.push(tile);
        let i = self.tiles.len() - 1;
        self.tiles[i].show(self.show_raw);
        self.selected = Some(i);
        Some(i)
    }

    /// Takes the gallery out, leaving an empty one with the same view settings (preview, raw,
    /// sort, wipe).
    pub fn take(&mut self) -> Gallery {
        let view = Gallery {
            preview: self.preview,
            show_raw: self.show_raw,
            sort: self.sort,
            wipe: self.wipe.kept(),
            ..Gallery::default()
        };
        std::mem::replace(self, view)
    }

    /// Stores a sample's detailed version (ignored for another generation or seed).
    #[allow(clippy::too_many_arguments)] // the fields of one `InferEvent::Detailed`
    pub fn add_detailed(
        &mut self,
        ctx: &egui::Context,
        generation: u64,
        index: usize,
        seed: u64,
        photo: Arc<RgbImage>,
        thumb: &RgbImage,
        took: f32,
    ) -> bool {
        let show_raw = self.show_raw;
        let Some(tile) = self.tile_mut(generation, index) else {
            return false;
        };
        if tile.seed != seed {
            return false;
        }
        let tex = ctx.load_texture(format!("detail-{seed}"), color_image(thumb), PIXEL_OPTIONS);
        tile.detailed = Some((photo, tex));
        tile.detail = DetailStatus::Done;
        tile.detail_took = Some(took);
        tile.show(show_raw);
        true
    }

    /// Stores a sample's scores (of its detailed version when `detailed`); ignored for another
    /// generation.
    pub fn set_scores(
        &mut self,
        generation: u64,
        index: usize,
        detailed: bool,
        scores: Result<SampleScores, String>,
    ) -> bool {
        let show_raw = self.show_raw;
        let Some(tile) = self.tile_mut(generation, index) else {
            return false;
        };
        if detailed {
            tile.detailed_scores = Some(scores);
        } else {
            tile.raw_scores = Some(scores);
        }
        tile.show(show_raw);
        true
    }

    /// What the wipe shows right of its line: the compared slot once it has arrived, else
    /// the original photo.
    pub fn wipe_right(&self) -> wipe::WipeRight {
        match self.compare {
            Some(c) if self.tiles.get(c).is_some_and(|t| t.photo.is_some()) => {
                wipe::WipeRight::Sample(c)
            }
            _ => wipe::WipeRight::Original,
        }
    }

    /// The slot indices in the order the thumbnails are drawn (see [`SortBy`]).
    pub fn display_order(&self) -> Vec<usize> {
        rank::order(&self.tiles, self.sort)
    }

    /// Updates a slot's detail status (progress or failure).
    pub fn set_detail(&mut self, generation: u64, index: usize, status: DetailStatus) {
        if let Some(tile) = self.tile_mut(generation, index)
            && tile.detail != DetailStatus::Done
        {
            tile.detail = status;
        }
    }

    /// Marks every slot whose detail has not finished as not coming (the request ended).
    pub fn detail_stopped(&mut self, generation: u64) {
        if self.generation != Some(generation) {
            return;
        }
        for t in &mut self.tiles {
            if matches!(t.detail, DetailStatus::Waiting | DetailStatus::Running(_)) {
                t.detail = DetailStatus::Off;
            }
        }
    }

    /// Shows the raw samples (`true`) or the detailed ones where they exist.
    pub fn set_show_raw(&mut self, raw: bool) {
        self.show_raw = raw;
        for t in &mut self.tiles {
            t.show(raw);
        }
    }

    /// The number of slots whose detail is done.
    pub fn detailed(&self) -> usize {
        self.tiles
            .iter()
            .filter(|t| t.detail == DetailStatus::Done)
            .count()
    }

    fn tile_mut(&mut self, generation: u64, index: usize) -> Option<&mut Tile> {
        if self.generation != Some(generation) {
            return None;
        }
        self.tiles.get_mut(index)
    }

    /// The number of finished samples.
    pub fn finished(&self) -> usize {
        self.tiles.iter().filter(|t| t.photo.is_some()).count()
    }

    /// The selected sample's seed and photo, if it has arrived.
    pub fn selected_sample(&self) -> Option<(u64, Arc<RgbImage>)> {
        let t = self.tiles.get(self.selected?)?;
        Some((t.seed, t.photo.clone()?))
    }

    /// The filled region of sample `i` as a texture and its photo rectangle (made on first
    /// use).
    pub fn region_texture(
        &mut self,
        ctx: &egui::Context,
        i: usize,
    ) -> Option<(egui::TextureId, Rect)> {
        let bx = self.bx;
        let t = self.tiles.get_mut(i)?;
        if t.region.is_none() {
            let photo = t.photo.as_ref()?;
            let (x0, y0, x1, y1) = sample_region(photo.dimensions(), bx);
            let crop =
                image::imageops::crop_imm(photo.as_ref(), x0, y0, x1 - x0, y1 - y0).to_image();
            let tex = ctx.load_texture(
                format!("region-{}", t.seed),
                color_image(&crop),
                PIXEL_OPTIONS,
            );
            let rect = Rect::from_min_max(
                egui::pos2(x0 as f32, y0 as f32),
                egui::pos2(x1 as f32, y1 as f32),
            );
            t.region = Some((tex, rect));
        }
        t.region.as_ref().map(|(h, r)| (h.id(), *r))
    }

    /// Shows the gallery; returns what the user asked for.
    #[must_use]
    pub fn show(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut actions = Vec::new();
        if self.tiles.is_empty() {
            ui.colored_label(
                theme::HINT_TEXT,
                "Samples appear here as they are generated",
            );
            return actions;
        }
        let done = self.finished();
        ui.label(format!("{done} of {} samples", self.tiles.len()));
        ui.horizontal_wrapped(|ui| {
            let sel = self.selected.filter(|&i| self.tiles[i].photo.is_some());
            if ui
                .add_enabled(sel.is_some(), egui::Button::new("Apply"))
                .on_hover_text("Replace the photo by the selected sample (Enter; undo with Ctrl+Z)")
                .clicked()
                && let Some(i) = sel
            {
                actions.push(Command::Apply(i));
            }
            if ui
                .add_enabled(sel.is_some(), egui::Button::new("Save…"))
                .clicked()
                && let Some(i) = sel
            {
                actions.push(Command::Save(SaveTarget::Sample(i)));
            }
            if ui
                .add_enabled(done > 0, egui::Button::new("Save all…"))
                .clicked()
            {
                actions.push(Command::Save(SaveTarget::AllSamples));
            }
            if let Some(i) = self.selected
                && self.tiles[i].mix.is_none()
                && ui.button("Copy seed").clicked()
            {
                actions.push(Command::CopySeed(self.tiles[i].seed));
            }
            let pair = self
                .selected
                .is_some_and(|i| self.tiles.get(i).is_some_and(|t| t.mix.is_none()))
                && self.wipe_right() != wipe::WipeRight::Original;
            if ui
                .add_enabled(pair, egui::Button::new("In between…"))
                .on_hover_text(
                    "Fills between the selected sample and the compared one (Shift-click picks \
                     it), along the path between their noise",
                )
                .clicked()
            {
                actions.push(Command::ShowBetween);
            }
        });
        if self.tiles.iter().any(|t| t.detail != DetailStatus::Off) {
            let mut raw = self.show_raw;
            let detailed = self.detailed();
            let with_detail = self
                .tiles
                .iter()
                .filter(|t| t.detail != DetailStatus::Off)
                .count();
            let label = if detailed < with_detail && !raw {
                format!("Raw PD-GAN output ({detailed} of {with_detail} detailed)")
            } else {
                "Raw PD-GAN output".to_string()
            };
            if ui
                .checkbox(&mut raw, label)
                .on_hover_text(
                    "Show the generator's own samples, resized into the hole, instead of the \
                     full-resolution detail made from them",
                )
                .changed()
            {
                self.set_show_raw(raw);
            }
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.preview, "Preview on canvas");
            let hold = ui
                .add_enabled(
                    self.preview && self.selected.is_some(),
                    egui::Button::new("Hold to compare"),
                )
                .on_hover_text("Shows the original photo while held (or hold \\)");
            self.holding_original = hold.is_pointer_button_down_on();
            ui.add_enabled(
                self.preview && self.selected.is_some(),
                egui::Checkbox::new(&mut self.wipe.on, "Wipe"),
            )
            .on_hover_text(
                "Split the canvas: the selected sample left of a line you drag, the compared \
                 sample (Shift-click) or else the original photo right of it",
            );
        });
        rank::sort_control(ui, &mut self.sort, &self.tiles);
        ui.separator();
        let modifiers = ui.input(|i| i.modifiers);
        egui::ScrollArea::vertical().show(ui, |ui| {
            let cols = ((ui.available_width() + theme::THUMB_GAP)
                / (theme::THUMB_SIZE + theme::THUMB_GAP))
                .floor()
                .max(1.0) as usize;
            egui::Grid::new("gallery-grid")
                .spacing(Vec2::splat(theme::THUMB_GAP))
                .show(ui, |ui| {
                    for (pos, i) in self.display_order().into_iter().enumerate() {
                        let clicked = self.tile_ui(ui, i, &mut actions);
                        if clicked {
                            if modifiers.shift || modifiers.command {
                                if self.selected != Some(i) {
                                    self.compare = Some(i);
                                }
                            } else {
                                self.selected = Some(i);
                                if self.compare == Some(i) {
                                    self.compare = None;
                                }
                            }
                        }
                        if (pos + 1) % cols == 0 {
                            ui.end_row();
                        }
                    }
                });
        });
        actions
    }

    fn tile_ui(&mut self, ui: &mut egui::Ui, i: usize, actions: &mut Vec<Command>) -> bool {
        let selected = self.selected == Some(i);
        let compared = self.compare == Some(i);
        let tile = &self.tiles[i];
        let seed = tile.seed;
        let is_mix = tile.mix.is_some();
        let mut clicked = false;
        ui.vertical(|ui| {
            let (rect, resp) =
                ui.allocate_exact_size(Vec2::splat(theme::THUMB_SIZE), Sense::click());
            match &tile.thumb {
                Some(t) => {
                    let size = t.size_vec2();
                    let scale = (rect.width() / size.x).min(rect.height() / size.y);
                    let r = Rect::from_center_size(rect.center(), size * scale);
                    ui.painter().image(
                        t.id(),
                        r,
                        Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                        Color32::WHITE,
                    );
                }
                None => {
                    ui.painter().rect_filled(rect, 4.0, theme::PENDING_TILE);
                    ui.painter().text(
                        rect.center(),
                        egui::Align2::CENTER_CENTER,
                        "…",
                        egui::FontId::proportional(24.0),
                        theme::HINT_TEXT,
                    );
                }
            }
            match &tile.detail {
                DetailStatus::Running(_) | DetailStatus::Waiting if tile.photo.is_some() => {
                    let f = if let DetailStatus::Running(f) = tile.detail {
                        f.clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let bar = Rect::from_min_max(
                        egui::pos2(rect.left(), rect.bottom() - theme::DETAIL_BAR_HEIGHT),
                        rect.right_bottom(),
                    );
                    ui.painter().rect_filled(bar, 0.0, theme::DETAIL_BAR_BACK);
                    let done = Rect::from_min_max(
                        bar.min,
                        egui::pos2(bar.left() + bar.width() * f, bar.bottom()),
                    );
                    ui.painter().rect_filled(done, 0.0, theme::DETAIL_BAR_FILL);
                }
                _ => {}
            }
            if selected {
                ui.painter()
                    .rect_stroke(rect, 2.0, theme::SELECTED_TILE, StrokeKind::Outside);
            } else if compared {
                ui.painter()
                    .rect_stroke(rect, 2.0, theme::COMPARE_TILE, StrokeKind::Outside);
            }
            let name = tile.label();
            let text = match &tile.detail {
                DetailStatus::Failed(_) => format!("{name} (raw)"),
                DetailStatus::Running(f) => format!("{name} · {:.0} %", 100.0 * f),
                _ => name,
            };
            let label = ui.selectable_label(selected, text);
            let label = match &tile.detail {
                DetailStatus::Failed(e) => label.on_hover_text(format!("Detail failed: {e}")),
                DetailStatus::Done if !self.show_raw => label.on_hover_text(format!(
                    "Full-resolution detail ({:.1} s)",
                    tile.detail_took.unwrap_or(0.0)
                )),
                _ => label,
            };
            if let Some(scores) = &tile.scores {
                rank::badge(ui, scores);
            }
            let ready = tile.photo.is_some();
            let resp = resp.union(label);
            clicked = ready && resp.clicked();
            if ready && resp.double_clicked() {
                actions.push(Command::Apply(i));
            }
            resp.context_menu(|ui| {
                if ui.add_enabled(ready, egui::Button::new("Apply")).clicked() {
                    actions.push(Command::Apply(i));
                }
                if ui.add_enabled(ready, egui::Button::new("Save…")).clicked() {
                    actions.push(Command::Save(SaveTarget::Sample(i)));
                }
                if is_mix {
                    if ui.button("Discard mix").clicked() {
                        actions.push(Command::DiscardMix);
                    }
                    return;
                }
                if ui.button("Copy seed").clicked() {
                    actions.push(Command::CopySeed(seed));
                }
                if ui.button("Use as first seed").clicked() {
                    actions.push(Command::UseSeed(seed));
                }
            });
        });
        clicked
    }
}

#[cfg(test)]
mod tests;
