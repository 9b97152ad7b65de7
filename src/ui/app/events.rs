//! Applying what the workers report: samples and maps into the gallery and the overlay, loaded
//! files into the document, training progress into the training panel, failures into the
//! error banner.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use super::{SaveKind, Studio};
use crate::inference::worker::{InferEvent, ModelSource};
use crate::ui::doc::{MaskOp, WholeMaskOp};
use crate::ui::gallery::DetailStatus;
use crate::ui::workers::{DialogPurpose, JobResult, WorkerEvent};

impl Studio {
    /// Takes one worker event.
    pub fn handle_event(&mut self, ctx: &egui::Context, e: WorkerEvent) {
        match e {
            WorkerEvent::Infer(e) => self.handle_infer_event(ctx, e),
            WorkerEvent::Job(r) => self.handle_job(ctx, r),
            WorkerEvent::Train(e) => self.training.handle_event(ctx, e),
            WorkerEvent::TrainingEnded => self.training.thread_ended(),
        }
    }

    /// Takes one inference event (public so tests can feed synthetic results).
    pub fn handle_infer_event(&mut self, ctx: &egui::Context, e: InferEvent) {
        let current = |s: &Self, generation: u64| s.gallery.generation == Some(generation);
        match e {
            InferEvent::Backend(info) => {
                if let Some(why) = &info.requested_failed {
                    self.status.post(
                        format!(
                            "The requested compute backend could not start, so the model runs \
                             on the CPU: {why}"
                        ),
                        true,
                    );
                }
                self.model.backend = Some(info);
            }
            InferEvent::Stopped { error } => {
                self.workers.inference_stopped(error.clone());
                self.model.loading = None;
                self.generation.running = None;
                self.status.post(
                    format!("The model worker stopped, so nothing can be generated: {error}"),
                    true,
                );
            }
            InferEvent::ModelLoaded(info) => {
                // Remember a chosen folder; the built-in model needs no remembering.
                self.prefs.model_dir = info.source.folder().map(Path::to_path_buf);
                self.overlay.res = info.resolution;
                self.overlay.decay = info.decay;
                self.status
                    .post(format!("Model loaded: {}", info.source.describe()), false);
                self.model.info = Some(info);
                self.model.loading = None;
                self.model.error = None;
            }
            InferEvent::ModelFailed { source, error } => {
                self.model.loading = None;
                self.status.post(
                    format!("Could not load the model {}", source.describe()),
                    true,
                );
                self.model.error = Some(error);
            }
            InferEvent::Prior {
                generation,
                bx,
                prior,
                took,
            } => {
                if current(self, generation) {
                    self.gallery.set_box(generation, bx);
                    self.status.timings.prior = Some(took);
                    self.generation.maps.bx = Some(bx);
                    self.generation.maps.prior = Some(prior);
                    self.overlay
                        .set_model_maps(ctx, self.generation.maps.clone());
                }
            }
            InferEvent::Sample {
                generation,
                index,
                seed,
                photo,
                thumb,
                took,
            } => {
                let secs = took.as_secs_f32();
                if self
                    .gallery
                    .add(ctx, generation, index, seed, photo, &thumb, secs)
                {
                    let g = &mut self.generation;
                    g.samples_done += 1;
                    g.sample_time += took;
                    self.status.timings.per_sample =
                        Some(g.sample_time / g.samples_done.max(1) as u32);
                }
            }
            InferEvent::Scored {
                generation,
                index,
                detailed,
                scores,
            } => {
                self.gallery.set_scores(generation, index, detailed, scores);
            }
            InferEvent::Pinned {
                generation,
                stack,
                kept,
            } => self.replay_pinned(generation, stack, kept),
            InferEvent::Mixed {
                generation,
                stack,
                photo,
                thumb,
                scores,
            } => {
                let slot = self
                    .gallery
                    .set_mix(ctx, generation, stack, photo, &thumb, scores, false);
                if slot.is_some() {
                    self.gallery.preview = true;
                }
            }
            InferEvent::StripSample {
                generation,
                spec,
                photo,
                thumb,
                scores,
                took: _,
            } => {
                self.strip.add(ctx, generation, spec, photo, &thumb, scores);
            }
            InferEvent::DetailProgress {
                generation,
                index,
                fraction,
            } => {
                self.gallery
                    .set_detail(generation, index, DetailStatus::Running(fraction));
            }
            InferEvent::Detailed {
                generation,
                index,
                seed,
                photo,
                thumb,
                took,
            } => {
                let secs = took.as_secs_f32();
                self.gallery
                    .add_detailed(ctx, generation, index, seed, photo, &thumb, secs);
            }
            InferEvent::DetailFailed {
                generation,
                index,
                error,
            } => {
                if current(self, generation) {
                    self.gallery
                        .set_detail(generation, index, DetailStatus::Failed(error.clone()));
                    self.status.post(
                        format!("Detail failed, the raw sample stays: {error}"),
                        true,
                    );
                }
            }
            InferEvent::Maps { generation, units } => {
                if current(self, generation) {
                    self.generation.maps.units = units;
                    self.overlay
                        .set_model_maps(ctx, self.generation.maps.clone());
                }
            }
            InferEvent::Diversity {
                generation,
                res,
                map,
            } => {
                if current(self, generation) {
                    self.generation.maps.diversity = Some((res, map));
                    self.overlay
                        .set_model_maps(ctx, self.generation.maps.clone());
                }
            }
            InferEvent::Finished { generation, total } => {
                self.strip.ended(generation, Ok(()));
                self.gallery.detail_stopped(generation);
                if self.generation.running == Some(generation) {
                    self.generation.running = None;
                    self.status.timings.total = Some(total);
                    self.status.post(
                        format!(
                            "{} samples in {:.1} s",
                            self.gallery.finished(),
                            total.as_secs_f32()
                        ),
                        false,
                    );
                }
            }
            InferEvent::Superseded { generation } => {
                self.strip.ended(generation, Err(None));
                self.gallery.detail_stopped(generation);
                if self.generation.running == Some(generation) {
                    self.generation.running = None;
                }
            }
            InferEvent::Failed { generation, error } => {
                self.strip.ended(generation, Err(Some(error.to_string())));
                self.gallery.detail_stopped(generation);
                if self.generation.running == Some(generation) || current(self, generation) {
                    self.generation.running = None;
                    self.status
                        .post(format!("Generation failed: {error}"), true);
                }
            }
        }
    }

    fn handle_job(&mut self, ctx: &egui::Context, r: JobResult) {
        match r {
            JobResult::Picked { path: None, .. } => {}
            JobResult::Picked {
                purpose,
                path: Some(path),
            } => self.picked(purpose, path),
            JobResult::PhotoLoaded { path, image, notes } => {
                let (w, h) = image.dimensions();
                if let Some(dir) = path.parent() {
                    self.prefs.photo_dir = Some(dir.to_path_buf());
                }
                self.status
                    .post(format!("Opened {} ({w}×{h})", path.display()), false);
                // What loading dropped stays on screen until dismissed (a new photo replaces
                // the notes of the last one).
                self.status.notes = notes;
                self.set_photo(image, Some(path));
            }
            JobResult::MaskLoaded {
                path,
                mask,
                resized,
            } => {
                if let Some(doc) = &mut self.doc {
                    doc.replace_mask(mask, MaskOp::Replace(WholeMaskOp::Import));
                    self.status.post(
                        format!(
                            "Imported the mask {}{}",
                            path.display(),
                            if resized {
                                " (resized to the photo, nearest neighbour)"
                            } else {
                                ""
                            }
                        ),
                        false,
                    );
                }
            }
            JobResult::MaskComputed { op, revision, mask } => {
                if let Some(doc) = &mut self.doc
                    && doc.revision() == revision
                {
                    doc.replace_mask(mask, MaskOp::Replace(op));
                }
            }
            JobResult::Saved { path } => {
                let what = match self.saves.remove(&path) {
                    Some(SaveKind::Photo(m)) => {
                        if let Some(d) = &mut self.doc {
                            d.set_photo_saved(m);
                        }
                        "image"
                    }
                    Some(SaveKind::Mask(m)) => {
                        if let Some(d) = &mut self.doc {
                            d.set_mask_saved(m);
                        }
                        "mask"
                    }
                    Some(SaveKind::Recipe) => "recipe",
                    Some(SaveKind::Sample) | None => "image",
                };
                self.status
                    .post(format!("Saved the {what} to {}", path.display()), false);
            }
            JobResult::RecipeOpened(o) => self.recipe_opened(*o),
            JobResult::PinsChanged {
                stack,
                change,
                outcome,
                brush,
            } => self.pins_changed(stack, change, outcome, brush),
            JobResult::Mixed {
                generation,
                stack,
                outcome,
            } => self.mixed(ctx, generation, stack, outcome),
            JobResult::Failed { task, error } => {
                self.status
                    .post(format!("{}: {error}", task.failure()), true);
            }
        }
    }

    /// A dialog was answered with `path`.
    pub(super) fn picked(&mut self, purpose: DialogPurpose, path: PathBuf) {
        match purpose {
            DialogPurpose::OpenPhoto => self.load_photo(path),
            DialogPurpose::SaveImage => {
                if let Some(d) = &self.doc {
                    let (img, m) = (d.photo().clone(), d.photo_marker());
                    self.save_image_to(path, img, SaveKind::Photo(m));
                }
            }
            DialogPurpose::ExportMask => self.export_mask_to(path),
            DialogPurpose::ImportMask => self.import_mask_from(path),
            DialogPurpose::ModelFolder => self.load_model(ModelSource::Folder(path)),
            DialogPurpose::SaveSample(i) => {
                if let Some(img) = self.gallery.tiles.get(i).and_then(|t| t.photo.clone()) {
                    self.save_image_to(path, img, SaveKind::Sample);
                }
            }
            DialogPurpose::SaveAllSamples => {
                let stem = self.stem();
                let tiles: Vec<(u64, Arc<RgbImage>)> = self
                    .gallery
                    .tiles
                    .iter()
                    .filter_map(|t| Some((t.seed, t.photo.clone()?)))
                    .collect();
                for (seed, img) in tiles {
                    let p = path.join(format!("{stem}-seed-{seed}.png"));
                    self.save_image_to(p, img, SaveKind::Sample);
                }
            }
            DialogPurpose::TrainData => self.prefs.train_data = Some(path),
            DialogPurpose::TrainOut => self.prefs.train_out = Some(path),
            DialogPurpose::SaveRecipe => self.save_recipe_to(path),
            DialogPurpose::OpenRecipe => self.open_recipe_from(path),
        }
    }
}
