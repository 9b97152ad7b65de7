//! Applying [`Command`]s: the one place where what the user asked for changes the document,
//! the workers, the preferences and the panels ([`events`](super::events) does the same for
//! what the workers report).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;

use super::{Generation, Pending, SaveKind, Studio};
use crate::detail::DetailMode;
use crate::imageops;
use crate::inference::worker::{InferRequest, ModelSource, StripRequest};
use crate::inference::{InpaintOptions, ZSpec};
use crate::mask::Mask;
use crate::ui::canvas::scaled_radius;
use crate::ui::command::{Command, SaveTarget, TrainFolder, TrainingRequest};
use crate::ui::doc::{MaskOp, WholeMaskOp};
use crate::ui::gallery::wipe::WipeRight;
use crate::ui::gallery::{MAX_SAMPLES, spec_label};
use crate::ui::overlay::ModelMaps;
use crate::ui::strip::{MAX_BETWEEN, StripEnds};
use crate::ui::theme;
use crate::ui::workers::{
    DialogPurpose, DialogRequest, FileTask, JobResult, same_file, with_png_extension,
};

impl Studio {
    /// Carries out one command.
    pub fn apply(&mut self, ctx: &egui::Context, cmd: Command) {
        match cmd {
            Command::OpenPhoto => {
                if self.unsaved() {
                    self.confirm = Some(Pending::OpenDialog);
                } else {
                    self.dialog(DialogPurpose::OpenPhoto, None);
                }
            }
            Command::OpenRecipe => self.dialog(DialogPurpose::OpenRecipe, None),
            Command::OpenPath(path) => {
                if self.unsaved() {
                    self.confirm = Some(Pending::Open(path));
                } else {
                    self.load_photo(path);
                }
            }
            Command::Save(target) => self.save_dialog(target),
            Command::ImportMask => {
                if self.doc.is_some() {
                    self.dialog(DialogPurpose::ImportMask, None);
                }
            }
            Command::ChooseModelFolder => self.dialog(DialogPurpose::ModelFolder, None),
            Command::LoadModel(source) => self.load_model(source),
            Command::ChooseTrainFolder(TrainFolder::Data) => {
                self.dialog(DialogPurpose::TrainData, None);
            }
            Command::ChooseTrainFolder(TrainFolder::Out) => {
                self.dialog(DialogPurpose::TrainOut, None);
            }
            Command::Generate => self.generate(),
            Command::Cancel => self.cancel_generation(),
            Command::Apply(i) => self.apply_sample(i),
            Command::ShowBetween => self.show_between(),
            Command::MakeBetween { ends, between } => self.make_between(ends, between),
            Command::KeepBetween(i) => self.keep_between(i),
            Command::Reroll => self.reroll(),
            Command::UndoPin => self.undo_pin(),
            Command::DropPins => self.drop_pins(),
            Command::MixStroke => self.mix_stroke(),
            Command::UndoMixStep => self.undo_mix_step(),
            Command::DiscardMix => {
                self.gallery.discard_mix();
                self.status.post("Mix discarded", false);
            }
            Command::CopySeed(seed) => {
                ctx.copy_text(seed.to_string());
                self.status.post(format!("Copied seed {seed}"), false);
            }
            Command::UseSeed(seed) => self.prefs.seed = seed,
            Command::RandomSeed => self.prefs.seed = random_seed(),
            Command::Undo => self.undo(),
            Command::Redo => self.redo(),
            Command::EditMask(op) => self.edit_mask(op),
            Command::SetTool(t) => self.prefs.tool = t,
            Command::ScaleBrush(f) => {
                self.prefs.brush_radius = scaled_radius(self.prefs.brush_radius, f);
            }
            Command::FitView => self.canvas.request_fit(),
            Command::ActualSize => self.canvas.actual_size(),
            Command::ToggleMaskTint => {
                self.prefs.overlay.mask_tint = !self.prefs.overlay.mask_tint;
            }
            Command::TogglePreview => self.gallery.preview = !self.gallery.preview,
            Command::ShowTraining(on) => self.prefs.show_training = on,
            Command::ShowShortcuts(on) => self.show_shortcuts = on,
            Command::Train(TrainingRequest::Start(cfg)) => {
                match self
                    .workers
                    .start_training(cfg.as_ref().clone(), self.training.backend)
                {
                    Ok(()) => self.training.started(&cfg),
                    Err(e) => {
                        self.status
                            .post(format!("Could not start the training run: {e}"), true);
                        self.training.start_failed(e);
                    }
                }
            }
            Command::Train(TrainingRequest::Steer(c)) => {
                self.workers.steer_training(c);
                self.training.steered(c);
            }
            Command::DismissError => self.status.error = None,
            Command::DismissNotes => self.status.notes.clear(),
            Command::Discard(discard) => {
                let pending = self.confirm.take();
                if discard {
                    match pending {
                        Some(Pending::Open(p)) => self.load_photo(p),
                        Some(Pending::OpenDialog) => self.dialog(DialogPurpose::OpenPhoto, None),
                        Some(Pending::Quit) => {
                            self.allow_close = true;
                            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                        }
                        None => {}
                    }
                }
            }
            Command::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    /// Loads a model on the inference worker.
    pub(super) fn load_model(&mut self, source: ModelSource) {
        match self.workers.load_model(source.clone()) {
            Ok(()) => {
                self.model.loading = Some(source);
                self.model.error = None;
            }
            Err(why) => {
                self.model.loading = None;
                self.status.post(
                    format!("Could not load the model {}", source.describe()),
                    true,
                );
                self.model.error = Some(why);
            }
        }
    }

    /// Reads a photo on the file thread (it replaces the document when it arrives).
    pub(super) fn load_photo(&mut self, path: PathBuf) {
        if path.is_dir() {
            self.status.post(
                format!(
                    "Could not open the photo: this is a folder, not an image file: {}",
                    path.display()
                ),
                true,
            );
            return;
        }
        self.status
            .post(format!("Opening {}", path.display()), false);
        self.workers
            .run_job(move || match imageops::load_image_with_notes(&path) {
                Ok((image, notes)) => JobResult::PhotoLoaded { path, image, notes },
                Err(e) => JobResult::Failed {
                    task: FileTask::OpenPhoto,
                    error: e.to_string(),
                },
            });
    }

    /// Shows a file dialog starting in the folder that fits `purpose`.
    pub(super) fn dialog(&mut self, purpose: DialogPurpose, file_name: Option<String>) {
        let p = &self.prefs;
        let start_dir = match purpose {
            DialogPurpose::OpenPhoto | DialogPurpose::ImportMask => p.photo_dir.clone(),
            DialogPurpose::SaveImage
            | DialogPurpose::ExportMask
            | DialogPurpose::SaveSample(_)
            | DialogPurpose::SaveAllSamples
            | DialogPurpose::SaveRecipe
            | DialogPurpose::OpenRecipe => p.save_dir.clone().or_else(|| p.photo_dir.clone()),
            DialogPurpose::ModelFolder => p
                .model_dir
                .as_ref()
                .and_then(|d| d.parent().map(Path::to_path_buf)),
            DialogPurpose::TrainData => p.train_data.clone(),
            DialogPurpose::TrainOut => p.train_out.clone(),
        };
        self.workers.dialog(DialogRequest {
            purpose,
            start_dir,
            file_name,
        });
    }

    /// The open photo's file stem ("photo" when it has none), for suggested file names.
    pub(super) fn stem(&self) -> String {
        self.doc
            .as_ref()
            .and_then(|d| d.source.as_ref())
            .and_then(|p| p.file_stem())
            .map_or_else(|| "photo".to_owned(), |s| s.to_string_lossy().into_owned())
    }

    fn save_dialog(&mut self, target: SaveTarget) {
        if self.doc.is_none() {
            return;
        }
        let stem = self.stem();
        match target {
            SaveTarget::Image => {
                self.dialog(DialogPurpose::SaveImage, Some(format!("{stem}-filled.png")));
            }
            SaveTarget::Mask => {
                self.dialog(DialogPurpose::ExportMask, Some(format!("{stem}-mask.png")));
            }
            SaveTarget::Sample(i) => {
                let name = self
                    .gallery
                    .tiles
                    .get(i)
                    .map(|t| format!("{stem}-seed-{}.png", t.seed));
                self.dialog(DialogPurpose::SaveSample(i), name);
            }
            SaveTarget::AllSamples => self.dialog(DialogPurpose::SaveAllSamples, None),
            SaveTarget::Recipe => self.save_recipe_dialog(),
        }
    }

    /// Writes an image on the file thread (never over the photo that was opened).
    pub(super) fn save_image_to(&mut self, path: PathBuf, image: Arc<RgbImage>, kind: SaveKind) {
        let path = with_png_extension(&path);
        if let Some(src) = self.doc.as_ref().and_then(|d| d.source.as_ref())
            && same_file(&path, src)
        {
            self.status.post(
                "pdpaint never overwrites the photo you opened: choose another file name",
                true,
            );
            return;
        }
        if let Some(dir) = path.parent() {
            self.prefs.save_dir = Some(dir.to_path_buf());
        }
        self.saves.insert(path.clone(), kind);
        self.workers
            .run_job(move || match imageops::save_png_atomic(&image, &path) {
                Ok(()) => JobResult::Saved { path },
                Err(e) => JobResult::Failed {
                    task: FileTask::SaveImage,
                    error: e.to_string(),
                },
            });
    }

    /// Writes the mask as a PNG on the file thread.
    pub(super) fn export_mask_to(&mut self, path: PathBuf) {
        let Some(d) = &self.doc else {
            return;
        };
        let path = with_png_extension(&path);
        if d.source.as_ref().is_some_and(|s| same_file(&path, s)) {
            self.status
                .post("Choose another file name than the photo's", true);
            return;
        }
        let mask = d.mask().clone();
        self.saves
            .insert(path.clone(), SaveKind::Mask(d.mask_marker()));
        self.workers.run_job(move || match mask.save(&path) {
            Ok(()) => JobResult::Saved { path },
            Err(e) => JobResult::Failed {
                task: FileTask::ExportMask,
                error: e.to_string(),
            },
        });
    }

    /// Reads a mask on the file thread, resized to the photo when it has another size.
    pub(super) fn import_mask_from(&mut self, path: PathBuf) {
        let Some(size) = self.doc.as_ref().map(|d| d.size()) else {
            return;
        };
        self.workers.run_job(move || match Mask::load(&path) {
            Ok(m) => {
                let resized = (m.width, m.height) != size;
                let mask = if resized {
                    m.resize_nearest(size.0, size.1)
                } else {
                    m
                };
                JobResult::MaskLoaded {
                    path,
                    mask,
                    resized,
                }
            }
            Err(e) => JobResult::Failed {
                task: FileTask::ImportMask,
                error: e.to_string(),
            },
        });
    }

    /// Starts a generation with the current photo, mask, seeds and options.
    /// Opens the interpolation strip for the selected and the compared samples.
    fn show_between(&mut self) {
        let g = &self.gallery;
        let spec = |i: usize| g.tiles.get(i).filter(|t| t.mix.is_none()).map(|t| t.spec);
        let pair = match (g.selected, g.wipe_right()) {
            (Some(a), WipeRight::Sample(b)) => (spec(a), spec(b)),
            _ => (None, None),
        };
        match pair {
            (Some(ZSpec::Seed(from)), Some(ZSpec::Seed(to))) => {
                let generation = g.generation;
                self.strip.open_for(StripEnds { from, to }, generation);
            }
            (Some(_), Some(_)) => self.status.post(
                "Pick two samples made from seeds (not fills kept from a strip)",
                true,
            ),
            _ if g.selected.is_some() && g.compare.is_some() => self
                .status
                .post("Pick two samples made from seeds (not the mix)", true),
            _ => self.status.post(
                "Pick two samples first: click one, Shift-click the other",
                true,
            ),
        }
    }

    /// Asks the inference worker for the fills between two seeds.
    fn make_between(&mut self, ends: StripEnds, between: u32) {
        if self.doc.is_none() {
            self.status.post("Open a photo first", true);
            return;
        }
        if self.model.info.is_none() {
            self.status
                .post("No model is loaded: open a model folder first", true);
            return;
        }
        let Some((photo, mask)) = self.generation_inputs() else {
            return;
        };
        let req = StripRequest {
            photo,
            mask,
            from: ends.from,
            to: ends.to,
            steps: between.clamp(1, MAX_BETWEEN) + 1,
            opts: InpaintOptions {
                margin: self.prefs.margin,
                feather_px: self.prefs.feather_px,
                detail: DetailMode::Off,
                ..InpaintOptions::default()
            },
            thumb_side: theme::THUMB_SIZE as u32,
        };
        match self.workers.submit_strip(req) {
            Ok(g) => {
                self.strip.begin(g);
                self.status.post(
                    format!(
                        "Making {between} fills between seeds {} and {}",
                        ends.from, ends.to
                    ),
                    false,
                );
            }
            Err(why) => self.status.post(why, true),
        }
    }

    /// Adds fill `i` of the strip to the gallery and selects it.
    fn keep_between(&mut self, i: usize) {
        let Some(item) = self.strip.items.get(i) else {
            return;
        };
        let kept = self.gallery.keep(
            self.strip.source_generation,
            item.spec,
            item.photo.clone(),
            item.thumb.clone(),
            item.scores.clone(),
        );
        match kept {
            Some(_) => {
                self.gallery.preview = true;
                self.status.post(
                    format!("Kept {} in the gallery", spec_label(&item.spec)),
                    false,
                );
            }
            None => self.status.post(
                "The gallery has new samples since this strip was made: make it again",
                true,
            ),
        }
    }

    pub(super) fn generate(&mut self) {
        if self.doc.is_none() {
            self.status.post("Open a photo first", true);
            return;
        }
        if self.model.info.is_none() {
            self.status
                .post("No model is loaded: open a model folder first", true);
            return;
        }
        // The document's photo and hole, or with the pins applied.
        let Some((photo, mask)) = self.generation_inputs() else {
            return;
        };
        let holes = mask.hole_count();
        if holes == 0 {
            self.status
                .post("Paint the area to fill first (the mask is empty)", true);
            return;
        }
        if holes == mask.holes().len() {
            self.status.post(
                "The mask covers the whole photo: leave something to fill from",
                true,
            );
            return;
        }
        if !self.prefs.seed_locked {
            self.prefs.seed = random_seed();
        }
        let n = self.prefs.samples.clamp(1, MAX_SAMPLES) as u64;
        let seeds: Vec<u64> = (0..n).map(|i| self.prefs.seed.wrapping_add(i)).collect();
        let req = InferRequest {
            photo,
            mask,
            seeds,
            opts: InpaintOptions {
                margin: self.prefs.margin,
                feather_px: self.prefs.feather_px,
                detail: self.prefs.detail,
                ..InpaintOptions::default()
            },
            want_maps: true,
            thumb_side: theme::THUMB_SIZE as u32,
        };
        if self.start_generation(req) {
            self.status.post(format!("Generating {n} samples"), false);
        }
    }

    /// Submits `req` to the inference worker and starts a gallery for it, remembering what
    /// it was made with (for its recipe); `false` (reported) when the worker is down.
    pub(super) fn start_generation(&mut self, req: InferRequest) -> bool {
        let Some(doc) = &self.doc else {
            return false;
        };
        let size = doc.size();
        // The photo's file, when the samples are made from it as it was opened.
        let photo = doc.source.clone().filter(|_| !doc.photo_unsaved());
        let (seeds, mask, opts) = (req.seeds.clone(), req.mask.clone(), req.opts);
        let g = match self.workers.submit(req) {
            Ok(g) => g,
            Err(why) => {
                self.status.post(why, true);
                return false;
            }
        };
        self.gallery
            .begin(g, &seeds, size, opts.detail == DetailMode::Patch);
        self.gallery.preview = true;
        self.generation = Generation {
            running: Some(g),
            maps: ModelMaps::default(),
            samples_done: 0,
            sample_time: Duration::ZERO,
        };
        let (pins, base_mask, pins_consistent) = match self.pin_record() {
            Some((pins, base, pin_opts)) => {
                let same = pin_opts.iter().all(|o| *o == opts);
                (pins, base, same)
            }
            None => (Vec::new(), mask.clone(), true),
        };
        self.basis = self.model.info.as_ref().map(|m| super::recipe::Basis {
            generation: g,
            photo,
            mask: base_mask,
            hole: mask,
            pins,
            pins_consistent,
            opts,
            model: m.source.clone(),
            resolution: m.resolution,
        });
        true
    }

    /// Stops the running generation between samples.
    fn cancel_generation(&mut self) {
        if self.generation.running.take().is_some() {
            self.workers.cancel();
            self.status.post("Generation cancelled", false);
        }
    }

    /// Applies gallery sample `i` to the photo (one undoable step).
    fn apply_sample(&mut self, i: usize) {
        let Some(tile) = self.gallery.tiles.get(i) else {
            return;
        };
        let (Some(photo), seed, name) = (tile.photo.clone(), tile.seed, spec_label(&tile.spec))
        else {
            return;
        };
        let Some(doc) = &mut self.doc else {
            return;
        };
        if doc.apply_fill(&photo, seed) {
            self.gallery.preview = false;
            self.status
                .post(format!("Applied {name} (Ctrl+Z to undo)"), false);
        } else {
            self.status
                .post("That sample was made for another photo size", true);
        }
    }

    fn edit_mask(&mut self, op: WholeMaskOp) {
        let Some(doc) = &mut self.doc else {
            return;
        };
        if op.is_slow() {
            // Grow and shrink scan the whole mask: off the UI thread, dropped when the mask
            // changed meanwhile.
            let mask = doc.mask().clone();
            let revision = doc.revision();
            self.workers.run_job(move || JobResult::MaskComputed {
                mask: op.apply(&mask),
                op,
                revision,
            });
        } else {
            let m = op.apply(doc.mask());
            doc.replace_mask(m, MaskOp::Replace(op));
        }
    }

    fn undo(&mut self) {
        if let Some(d) = &mut self.doc {
            match d.undo() {
                Some(what) => self.status.post(format!("Undid {what}"), false),
                None => self.status.post("Nothing to undo", false),
            }
        }
    }

    fn redo(&mut self) {
        if let Some(d) = &mut self.doc {
            match d.redo() {
                Some(what) => self.status.post(format!("Redid {what}"), false),
                None => self.status.post("Nothing to redo", false),
            }
        }
    }
}

/// A new first seed (0–99 999) from the clock and the process's random hasher keys.
pub(super) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() % 100_000
}
