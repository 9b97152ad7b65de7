//! The studio: the eframe app that ties the document, canvas, overlays, gallery, workers and
//! training panel together.
//!
//! The UI thread owns the document, the textures and the worker handles. `logic` drains the
//! workers' channels within a time budget and asks for another frame when more is pending;
//! `ui` draws. Everything slow (decoding, saving, the model, training, large hard maps) runs
//! on other threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, Key, KeyboardShortcut, Modifiers, Pos2, Rect};
use image::RgbImage;

use crate::backend::BackendChoice;
use crate::detail::DetailMode;
use crate::imageops;
use crate::inference::InpaintOptions;
use crate::mask::Mask;
use crate::train::events::Stage as TrainStage;
use crate::train::worker::Command as TrainCommand;
use crate::ui::canvas::{Canvas, Tool, Xform};
use crate::ui::doc::{Document, MaskOp};
use crate::ui::gallery::{DetailStatus, Gallery, GalleryAction, MAX_SAMPLES};
use crate::ui::infer_worker::{
    InferEvent, InferRequest, InferWorker, ModelInfo, ModelSource, Waker, default_model,
};
use crate::ui::jobs::{
    DialogMode, DialogPurpose, DialogRequest, JobResult, Jobs, same_file, with_png_extension,
};
use crate::ui::overlay::{MapColormap, MapKind, ModelMaps, Overlay};
use crate::ui::prefs::Prefs;
use crate::ui::script::{self, FrameReport, Phase, Script, ScriptRun, Stage};
use crate::ui::textures::{PIXEL_OPTIONS, PixelTexture, photo_rect};
use crate::ui::theme;
use crate::ui::training_panel::{Launch, RunState, TrainAction, TrainingPanel};

/// How the studio starts.
#[derive(Debug, Clone, Default)]
pub struct StudioOptions {
    /// A photo to open at start.
    pub photo: Option<PathBuf>,
    /// A model to load at start (default: the last one used, else [`default_model`]).
    pub model: Option<ModelSource>,
    /// Compute backend of the inference worker.
    pub backend: BackendChoice,
    /// Start the inference worker (off in tests: requests are recorded instead).
    pub offline: bool,
    /// How file dialogs are answered.
    pub dialogs: DialogMode,
    /// Whether the training panel starts real runs.
    pub train_launch: Launch,
    /// Automation (screenshots, frame-time measurement); empty for normal use.
    pub script: Script,
}

/// The inference worker, or a recorder standing in for it.
enum InferLink {
    Worker(InferWorker),
    Offline {
        submitted: Vec<InferRequest>,
        loads: Vec<ModelSource>,
        next: u64,
    },
}

impl InferLink {
    fn submit(&mut self, req: InferRequest) -> u64 {
        match self {
            InferLink::Worker(w) => w.submit(req),
            InferLink::Offline {
                submitted, next, ..
            } => {
                submitted.push(req);
                *next += 1;
                *next
            }
        }
    }

    fn load(&mut self, source: ModelSource) {
        match self {
            InferLink::Worker(w) => w.load_model(source),
            InferLink::Offline { loads, .. } => loads.push(source),
        }
    }

    fn cancel(&mut self) {
        if let InferLink::Worker(w) = self {
            w.cancel();
        }
    }

    fn drain(&mut self, budget: Duration) -> Vec<InferEvent> {
        match self {
            InferLink::Worker(w) => w.drain(budget),
            InferLink::Offline { .. } => Vec::new(),
        }
    }
}

/// Timings shown in the status bar.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Prior and conditioning of the last request.
    pub prior: Option<Duration>,
    /// Mean time per sample of the last request.
    pub per_sample: Option<Duration>,
    /// Whole last request.
    pub total: Option<Duration>,
}

/// A message in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
    /// When it was posted.
    pub at: Instant,
}

/// Something waiting for the user to confirm discarding unsaved work.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    /// Open this photo.
    Open(PathBuf),
    /// Show the open dialog.
    OpenDialog,
    /// Close the window.
    Quit,
}

/// What a save in flight was for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SaveKind {
    Photo(u64),
    Mask(u64),
    Other,
}

/// The studio window's state.
pub struct Studio {
    /// Remembered settings.
    pub prefs: Prefs,
    /// The open photo and mask, if any.
    pub doc: Option<Document>,
    /// View and tools.
    pub canvas: Canvas,
    /// Mask tint and maps.
    pub overlay: Overlay,
    /// Samples of the last generation.
    pub gallery: Gallery,
    /// The training panel.
    pub training: TrainingPanel,
    /// The compute backend, once the worker reports it.
    pub backend: Option<String>,
    /// The loaded model.
    pub model: Option<ModelInfo>,
    /// A model being loaded.
    pub model_loading: Option<ModelSource>,
    /// Why the last model failed to load.
    pub model_error: Option<String>,
    /// Last timings.
    pub timings: Timings,
    /// The last status message (transient: the next message replaces it).
    pub message: Option<Message>,
    /// The last error: shown in a banner until the user dismisses it (or a newer error
    /// replaces it), so news such as "Model loaded" cannot hide it.
    pub error: Option<Message>,
    /// The generation in flight.
    pub running: Option<u64>,
    /// Show the keyboard shortcuts.
    pub show_shortcuts: bool,
    /// Grow/shrink amount in photo pixels.
    pub grow_px: u32,
    /// The window's renderer, for reports (e.g. "wgpu: Vulkan, llvmpipe").
    pub renderer: String,
    infer: InferLink,
    jobs: Jobs,
    photo_tex: PixelTexture,
    pending_maps: ModelMaps,
    saves: HashMap<PathBuf, SaveKind>,
    confirm: Option<Pending>,
    allow_close: bool,
    waker: Option<Waker>,
    samples_done: usize,
    sample_time: Duration,
    last_hover: Option<Pos2>,
    last_xform: Option<Xform>,
    script: Option<ScriptRun>,
    frame_began: Instant,
}

impl std::fmt::Debug for Studio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Studio")
            .field("doc", &self.doc.as_ref().map(Document::size))
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

fn message(text: impl Into<String>, error: bool) -> Option<Message> {
    Some(Message {
        text: text.into(),
        error,
        at: Instant::now(),
    })
}

impl Studio {
    /// A studio with these options and preferences. `waker` is called by the workers when
    /// they have news (eframe passes `ctx.request_repaint`).
    pub fn new(opts: StudioOptions, prefs: Prefs, waker: Option<Waker>) -> Self {
        let prefs = prefs.sanitized();
        let infer = if opts.offline {
            InferLink::Offline {
                submitted: Vec::new(),
                loads: Vec::new(),
                next: 0,
            }
        } else {
            match InferWorker::spawn(opts.backend, waker.clone()) {
                Ok(w) => InferLink::Worker(w),
                Err(_) => InferLink::Offline {
                    submitted: Vec::new(),
                    loads: Vec::new(),
                    next: 0,
                },
            }
        };
        let mut overlay = Overlay::new(prefs.overlay);
        overlay.margin = prefs.margin;
        let mut training = TrainingPanel::default();
        training.data = prefs.train_data.clone();
        training.out = prefs.train_out.clone();
        training.launch = opts.train_launch;
        let mut s = Self {
            canvas: Canvas::new(prefs.tool, prefs.brush_radius),
            overlay,
            gallery: Gallery {
                preview: true,
                ..Gallery::default()
            },
            training,
            doc: None,
            backend: None,
            model: None,
            model_loading: None,
            model_error: None,
            timings: Timings::default(),
            message: None,
            error: None,
            running: None,
            show_shortcuts: false,
            grow_px: 8,
            renderer: "none".into(),
            infer,
            jobs: Jobs::new(opts.dialogs.clone(), waker.clone()),
            photo_tex: PixelTexture::new("photo", PIXEL_OPTIONS),
            pending_maps: ModelMaps::default(),
            saves: HashMap::new(),
            confirm: None,
            allow_close: false,
            waker,
            samples_done: 0,
            sample_time: Duration::ZERO,
            last_hover: None,
            last_xform: None,
            script: None,
            frame_began: Instant::now(),
            prefs,
        };
        // The model: the one asked for, else the last one used, else the default.
        let model = opts.model.clone().or_else(|| {
            s.prefs
                .model_dir
                .clone()
                .filter(|p| p.join("config.json").is_file())
                .map(ModelSource::Folder)
                .or_else(default_model)
        });
        if let Some(m) = model {
            s.load_model(m);
        }
        if let Some(p) = opts.photo {
            s.load_photo(p);
        }
        if !opts.script.is_empty() {
            s.start_script(opts.script);
        }
        s
    }

    /// Enables the GPU colormap (eframe calls this when its wgpu render state is set up).
    pub fn set_gpu(&mut self, on: bool) {
        self.overlay.gpu = on;
    }

    /// The preferences as they are now (tools and overlay included).
    pub fn prefs_snapshot(&self) -> Prefs {
        let mut p = self.prefs.clone();
        p.tool = self.canvas.tool;
        p.brush_radius = self.canvas.brush_radius;
        p.overlay = self.overlay.settings;
        p.train_data = self.training.data.clone();
        p.train_out = self.training.out.clone();
        p
    }

    /// The requests sent to the inference worker (offline mode only; tests).
    pub fn submitted_requests(&self) -> &[InferRequest] {
        match &self.infer {
            InferLink::Offline { submitted, .. } => submitted,
            InferLink::Worker(_) => &[],
        }
    }

    /// The model loads asked of the inference worker (offline mode only; tests).
    pub fn requested_models(&self) -> &[ModelSource] {
        match &self.infer {
            InferLink::Offline { loads, .. } => loads,
            InferLink::Worker(_) => &[],
        }
    }

    /// Replaces the document by a photo (discarding the current one without asking).
    pub fn set_photo(&mut self, image: RgbImage, source: Option<PathBuf>) {
        self.infer.cancel();
        self.running = None;
        self.doc = Some(Document::new(image, source));
        self.canvas.request_fit();
        self.overlay.reset();
        self.gallery.clear();
        self.photo_tex.clear();
        self.pending_maps = ModelMaps::default();
    }

    /// Loads a model on the inference worker.
    pub fn load_model(&mut self, source: ModelSource) {
        self.model_loading = Some(source.clone());
        self.model_error = None;
        self.infer.load(source);
    }

    /// Posts a status message; an error also stays in the error banner until dismissed.
    fn post(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        if error {
            self.error = message(text.clone(), true);
        }
        self.message = message(text, error);
    }

    /// Hides the error banner.
    pub fn dismiss_error(&mut self) {
        self.error = None;
    }

    /// The error banner: the last error with a dismiss button.
    fn error_ui(&mut self, ui: &mut egui::Ui) {
        let Some(e) = &self.error else {
            return;
        };
        let text = e.text.clone();
        let mut dismiss = false;
        ui.horizontal(|ui| {
            if ui
                .small_button("×")
                .on_hover_text("Dismiss this error")
                .clicked()
            {
                dismiss = true;
            }
            ui.colored_label(theme::ERROR_TEXT, text);
        });
        if dismiss {
            self.dismiss_error();
        }
    }

    fn unsaved(&self) -> bool {
        self.doc.as_ref().is_some_and(Document::has_unsaved_work)
    }

    /// Opens a photo file (asking first when there is unsaved work).
    pub fn open_path(&mut self, path: PathBuf) {
        if self.unsaved() {
            self.confirm = Some(Pending::Open(path));
        } else {
            self.load_photo(path);
        }
    }

    fn open_dialog(&mut self) {
        if self.unsaved() {
            self.confirm = Some(Pending::OpenDialog);
        } else {
            self.dialog(DialogPurpose::OpenPhoto, None);
        }
    }

    fn dialog(&mut self, purpose: DialogPurpose, file_name: Option<String>) {
        let start_dir = match purpose {
            DialogPurpose::OpenPhoto | DialogPurpose::ImportMask => self.prefs.photo_dir.clone(),
            DialogPurpose::SaveImage
            | DialogPurpose::ExportMask
            | DialogPurpose::SaveSample(_)
            | DialogPurpose::SaveAllSamples => self
                .prefs
                .save_dir
                .clone()
                .or_else(|| self.prefs.photo_dir.clone()),
            DialogPurpose::ModelFolder => self
                .prefs
                .model_dir
                .as_ref()
                .and_then(|p| p.parent().map(Path::to_path_buf)),
            DialogPurpose::TrainData => self.training.data.clone(),
            DialogPurpose::TrainOut => self.training.out.clone(),
        };
        self.jobs.dialog(DialogRequest {
            purpose,
            start_dir,
            file_name,
        });
    }

    fn load_photo(&mut self, path: PathBuf) {
        if path.is_dir() {
            self.post(
                format!(
                    "Could not open the photo: this is a folder, not an image file: {}",
                    path.display()
                ),
                true,
            );
            return;
        }
        self.post(format!("Opening {}", path.display()), false);
        self.jobs.run(move || match imageops::load_image(&path) {
            Ok(image) => JobResult::PhotoLoaded { path, image },
            Err(e) => JobResult::Failed {
                what: "could not open the photo".into(),
                error: e.to_string(),
            },
        });
    }

    fn stem(&self) -> String {
        self.doc
            .as_ref()
            .and_then(|d| d.source.as_ref())
            .and_then(|p| p.file_stem())
            .map_or_else(|| "photo".to_owned(), |s| s.to_string_lossy().into_owned())
    }

    fn save_image_to(&mut self, path: PathBuf, image: Arc<RgbImage>, kind: SaveKind) {
        let path = with_png_extension(&path);
        if let Some(src) = self.doc.as_ref().and_then(|d| d.source.as_ref())
            && same_file(&path, src)
        {
            self.post(
                "pdpaint never overwrites the photo you opened: choose another file name",
                true,
            );
            return;
        }
        if let Some(dir) = path.parent() {
            self.prefs.save_dir = Some(dir.to_path_buf());
        }
        self.saves.insert(path.clone(), kind);
        self.jobs
            .run(move || match imageops::save_png_atomic(&image, &path) {
                Ok(()) => JobResult::Saved {
                    what: "image".into(),
                    path,
                },
                Err(e) => JobResult::Failed {
                    what: "could not save the image".into(),
                    error: e.to_string(),
                },
            });
    }

    /// Starts a generation with the current photo, mask, seeds and options.
    pub fn generate(&mut self) {
        let Some(doc) = &self.doc else {
            self.post("Open a photo first", true);
            return;
        };
        if self.model.is_none() {
            self.post("No model is loaded: open a model folder first", true);
            return;
        }
        let mask = doc.mask();
        let holes = mask.hole_count();
        if holes == 0 {
            self.post("Paint the area to fill first (the mask is empty)", true);
            return;
        }
        if holes == mask.holes().len() {
            self.post(
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
            photo: doc.photo().clone(),
            mask: Arc::new(mask.clone()),
            seeds: seeds.clone(),
            opts: InpaintOptions {
                margin: self.prefs.margin,
                feather_px: self.prefs.feather_px,
                detail: self.prefs.detail,
                ..InpaintOptions::default()
            },
            want_maps: true,
        };
        let size = doc.size();
        let g = self.infer.submit(req);
        self.gallery
            .begin(g, &seeds, size, self.prefs.detail == DetailMode::Patch);
        self.gallery.preview = true;
        self.running = Some(g);
        self.pending_maps = ModelMaps::default();
        self.samples_done = 0;
        self.sample_time = Duration::ZERO;
        self.post(format!("Generating {n} samples"), false);
    }

    /// Stops the running generation between samples.
    pub fn cancel_generation(&mut self) {
        if self.running.take().is_some() {
            self.infer.cancel();
            self.post("Generation cancelled", false);
        }
    }

    /// Applies gallery sample `i` to the photo (one undoable step).
    pub fn apply_sample(&mut self, i: usize) {
        let Some(tile) = self.gallery.tiles.get(i) else {
            return;
        };
        let (Some(photo), seed) = (tile.photo.clone(), tile.seed) else {
            return;
        };
        let Some(doc) = &mut self.doc else {
            return;
        };
        if doc.apply_fill(&photo, seed) {
            self.gallery.preview = false;
            self.post(format!("Applied seed {seed} (Ctrl+Z to undo)"), false);
        } else {
            self.post("That sample was made for another photo size", true);
        }
    }

    /// Takes one inference event (public so tests can feed synthetic results).
    pub fn handle_infer_event(&mut self, ctx: &egui::Context, e: InferEvent) {
        match e {
            InferEvent::Backend { description } => self.backend = Some(description),
            InferEvent::ModelLoaded(info) => {
                // Remember a chosen folder; the built-in model needs no remembering.
                self.prefs.model_dir = info.source.folder().map(Path::to_path_buf);
                self.overlay.res = info.resolution;
                self.overlay.decay = info.decay;
                self.overlay.settings_changed(ctx, self.doc.as_ref());
                self.post(format!("Model loaded: {}", info.source.describe()), false);
                self.model = Some(info);
                self.model_loading = None;
                self.model_error = None;
            }
            InferEvent::ModelFailed { source, error } => {
                self.model_loading = None;
                self.post(
                    format!("Could not load the model {}", source.describe()),
                    true,
                );
                self.model_error = Some(error);
            }
            InferEvent::Prior {
                generation,
                bx,
                prior,
                took,
            } => {
                if self.gallery.generation == Some(generation) {
                    self.gallery.set_box(generation, bx);
                    self.timings.prior = Some(took);
                    self.pending_maps.bx = Some(bx);
                    self.pending_maps.prior = Some(prior);
                    self.overlay.set_model_maps(ctx, self.pending_maps.clone());
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
                if self.gallery.add(
                    ctx,
                    generation,
                    index,
                    seed,
                    photo,
                    &thumb,
                    took.as_secs_f32(),
                ) {
                    self.samples_done += 1;
                    self.sample_time += took;
                    self.timings.per_sample = Some(self.sample_time / self.samples_done as u32);
                }
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
                self.gallery.add_detailed(
                    ctx,
                    generation,
                    index,
                    seed,
                    photo,
                    &thumb,
                    took.as_secs_f32(),
                );
            }
            InferEvent::DetailFailed {
                generation,
                index,
                error,
            } => {
                if self.gallery.generation == Some(generation) {
                    self.gallery
                        .set_detail(generation, index, DetailStatus::Failed(error.clone()));
                    self.post(
                        format!("Detail failed, the raw sample stays: {error}"),
                        true,
                    );
                }
            }
            InferEvent::Maps { generation, units } => {
                if self.gallery.generation == Some(generation) {
                    self.pending_maps.units = units;
                    self.overlay.set_model_maps(ctx, self.pending_maps.clone());
                }
            }
            InferEvent::Diversity {
                generation,
                res,
                map,
            } => {
                if self.gallery.generation == Some(generation) {
                    self.pending_maps.diversity = Some((res, map));
                    self.overlay.set_model_maps(ctx, self.pending_maps.clone());
                }
            }
            InferEvent::Finished { generation, total } => {
                self.gallery.detail_stopped(generation);
                if self.running == Some(generation) {
                    self.running = None;
                    self.timings.total = Some(total);
                    self.post(
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
                self.gallery.detail_stopped(generation);
                if self.running == Some(generation) {
                    self.running = None;
                }
            }
            InferEvent::Failed { generation, error } => {
                self.gallery.detail_stopped(generation);
                if self.running == Some(generation) || self.gallery.generation == Some(generation) {
                    self.running = None;
                    self.post(format!("Generation failed: {error}"), true);
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
            JobResult::PhotoLoaded { path, image } => {
                let (w, h) = image.dimensions();
                if let Some(dir) = path.parent() {
                    self.prefs.photo_dir = Some(dir.to_path_buf());
                }
                self.post(format!("Opened {} ({w}×{h})", path.display()), false);
                self.set_photo(image, Some(path));
            }
            JobResult::MaskLoaded {
                path,
                mask,
                resized,
            } => {
                if let Some(doc) = &mut self.doc {
                    doc.replace_mask(
                        mask,
                        MaskOp::Replace {
                            what: "import mask".into(),
                        },
                    );
                    self.post(
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
            JobResult::MaskComputed {
                what,
                revision,
                mask,
            } => {
                if let Some(doc) = &mut self.doc
                    && doc.revision() == revision
                {
                    doc.replace_mask(mask, MaskOp::Replace { what });
                }
            }
            JobResult::Saved { what, path } => {
                match self.saves.remove(&path) {
                    Some(SaveKind::Photo(m)) => {
                        if let Some(d) = &mut self.doc {
                            d.set_photo_saved(m);
                        }
                    }
                    Some(SaveKind::Mask(m)) => {
                        if let Some(d) = &mut self.doc {
                            d.set_mask_saved(m);
                        }
                    }
                    Some(SaveKind::Other) | None => {}
                }
                self.post(format!("Saved the {what} to {}", path.display()), false);
            }
            JobResult::Failed { what, error } => {
                self.post(format!("{}: {error}", capitalise(&what)), true);
            }
        }
        let _ = ctx;
    }

    fn picked(&mut self, purpose: DialogPurpose, path: PathBuf) {
        match purpose {
            DialogPurpose::OpenPhoto => self.load_photo(path),
            DialogPurpose::SaveImage => {
                if let Some(d) = &self.doc {
                    let (img, m) = (d.photo().clone(), d.photo_marker());
                    self.save_image_to(path, img, SaveKind::Photo(m));
                }
            }
            DialogPurpose::ExportMask => {
                if let Some(d) = &self.doc {
                    let path = with_png_extension(&path);
                    if d.source.as_ref().is_some_and(|s| same_file(&path, s)) {
                        self.post("Choose another file name than the photo's", true);
                        return;
                    }
                    let mask = d.mask().clone();
                    self.saves
                        .insert(path.clone(), SaveKind::Mask(d.mask_marker()));
                    self.jobs.run(move || match mask.save(&path) {
                        Ok(()) => JobResult::Saved {
                            what: "mask".into(),
                            path,
                        },
                        Err(e) => JobResult::Failed {
                            what: "could not export the mask".into(),
                            error: e.to_string(),
                        },
                    });
                }
            }
            DialogPurpose::ImportMask => {
                let Some(size) = self.doc.as_ref().map(Document::size) else {
                    return;
                };
                self.jobs.run(move || match Mask::load(&path) {
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
                        what: "could not import the mask".into(),
                        error: e.to_string(),
                    },
                });
            }
            DialogPurpose::ModelFolder => self.load_model(ModelSource::Folder(path)),
            DialogPurpose::SaveSample(i) => {
                if let Some(img) = self.gallery.tiles.get(i).and_then(|t| t.photo.clone()) {
                    self.save_image_to(path, img, SaveKind::Other);
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
                    self.save_image_to(p, img, SaveKind::Other);
                }
            }
            DialogPurpose::TrainData => self.training.data = Some(path),
            DialogPurpose::TrainOut => self.training.out = Some(path),
        }
    }

    fn mask_job(&mut self, what: String, f: impl FnOnce(&Mask) -> Mask + Send + 'static) {
        let Some(doc) = &self.doc else {
            return;
        };
        let mask = doc.mask().clone();
        let revision = doc.revision();
        self.jobs.run(move || JobResult::MaskComputed {
            mask: f(&mask),
            what,
            revision,
        });
    }

    /// Per-frame work that draws nothing: drain the workers, handle the window closing.
    pub fn logic(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        let budget = theme::DRAIN_BUDGET;
        let events = self.infer.drain(budget);
        let mut drained = !events.is_empty();
        for e in events {
            self.handle_infer_event(ctx, e);
        }
        let left = budget.saturating_sub(start.elapsed());
        let results = self.jobs.drain(left.max(Duration::from_millis(1)));
        drained |= !results.is_empty();
        for r in results {
            self.handle_job(ctx, r);
        }
        let left = budget.saturating_sub(start.elapsed());
        drained |= self.training.drain(ctx, left.max(Duration::from_millis(1)));
        if drained {
            // The budget may have left events queued: look again next frame.
            ctx.request_repaint();
        }

        // Files dropped on the window.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if let Some(p) = dropped.into_iter().next() {
            self.open_path(p);
        }

        // Closing with unsaved work asks first.
        if ctx.input(|i| i.viewport().close_requested()) && self.unsaved() && !self.allow_close {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }

        if self.running.is_some()
            || self.jobs.busy()
            || self.overlay.busy()
            || self.training.running()
        {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let cmd = Modifiers::COMMAND;
        let shift_cmd = Modifiers::COMMAND | Modifiers::SHIFT;
        let consume = |m: Modifiers, k: Key| {
            ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)))
        };
        if consume(shift_cmd, Key::Z) || consume(cmd, Key::Y) {
            self.redo();
        }
        if consume(cmd, Key::Z) {
            self.undo();
        }
        if consume(cmd, Key::O) {
            self.open_dialog();
        }
        if consume(cmd, Key::S) && self.doc.is_some() {
            let name = format!("{}-filled.png", self.stem());
            self.dialog(DialogPurpose::SaveImage, Some(name));
        }
        if consume(cmd, Key::Enter) {
            self.generate();
        }
        if consume(Modifiers::NONE, Key::F1)
            || consume(Modifiers::NONE, Key::Questionmark)
            || consume(Modifiers::SHIFT, Key::Slash)
        {
            self.show_shortcuts = !self.show_shortcuts;
        }
        if self.canvas.busy() {
            return;
        }
        for t in Tool::ALL {
            if consume(Modifiers::NONE, t.key()) {
                self.canvas.tool = t;
            }
        }
        if consume(Modifiers::NONE, Key::OpenBracket) {
            self.canvas.scale_brush(1.0 / theme::BRUSH_STEP);
        }
        if consume(Modifiers::NONE, Key::CloseBracket) {
            self.canvas.scale_brush(theme::BRUSH_STEP);
        }
        if consume(Modifiers::NONE, Key::F) {
            self.canvas.request_fit();
        }
        if consume(Modifiers::NONE, Key::Num1) {
            self.canvas.actual_size();
        }
        if consume(Modifiers::NONE, Key::G) {
            self.generate();
        }
        if consume(Modifiers::NONE, Key::M) {
            self.overlay.settings.mask_tint = !self.overlay.settings.mask_tint;
        }
        if consume(Modifiers::NONE, Key::P) {
            self.gallery.preview = !self.gallery.preview;
        }
        if consume(Modifiers::NONE, Key::T) {
            self.prefs.show_training = !self.prefs.show_training;
        }
        if consume(Modifiers::NONE, Key::Enter)
            && let Some(i) = self.gallery.selected
        {
            self.apply_sample(i);
        }
        if consume(Modifiers::NONE, Key::Escape) {
            if self.show_shortcuts {
                self.show_shortcuts = false;
            } else {
                self.cancel_generation();
            }
        }
    }

    /// Undoes the last edit.
    pub fn undo(&mut self) {
        if let Some(d) = &mut self.doc {
            match d.undo() {
                Some(what) => self.post(format!("Undid {what}"), false),
                None => self.post("Nothing to undo", false),
            }
        }
    }

    /// Redoes the last undone edit.
    pub fn redo(&mut self) {
        if let Some(d) = &mut self.doc {
            match d.redo() {
                Some(what) => self.post(format!("Redid {what}"), false),
                None => self.post("Nothing to redo", false),
            }
        }
    }

    /// Brings textures and overlays up to date with the document.
    fn sync_document(&mut self, ctx: &egui::Context) {
        let Some(doc) = &mut self.doc else {
            return;
        };
        let dirty = doc.take_dirty();
        let photo = doc.photo().clone();
        let (w, h) = photo.dimensions();
        if dirty.photo.is_some() || !self.photo_tex.is_ready() {
            self.photo_tex.update(ctx, w, h, dirty.photo, |x, y| {
                let p = photo.get_pixel(x, y).0;
                Color32::from_rgb(p[0], p[1], p[2])
            });
        }
        let bbox = doc.hole_bbox();
        self.overlay.sync_mask(ctx, doc.mask(), bbox, dirty.mask);
    }

    /// Draws the studio.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.shortcuts(&ctx);
        self.sync_document(&ctx);

        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        if self.error.is_some() {
            egui::Panel::top("error").show(ui, |ui| self.error_ui(ui));
        }
        egui::Panel::bottom("status")
            .show_separator_line(true)
            .show(ui, |ui| self.status_ui(ui));
        if self.prefs.show_training {
            egui::Panel::bottom("training")
                .resizable(true)
                .default_size(theme::TRAINING_PANEL_HEIGHT)
                .show(ui, |ui| {
                    egui::ScrollArea::both()
                        .id_salt("training-scroll")
                        .show(ui, |ui| {
                            let actions = self.training.ui(ui);
                            for a in actions {
                                self.train_action(a);
                            }
                        });
                });
        }
        egui::Panel::left("tools")
            .resizable(true)
            .default_size(theme::TOOL_PANEL_WIDTH)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("tools-scroll")
                    .show(ui, |ui| self.tools_ui(ui));
            });
        egui::Panel::right("gallery")
            .resizable(true)
            .default_size(theme::GALLERY_PANEL_WIDTH)
            .show(ui, |ui| {
                ui.heading("Samples");
                let actions = self.gallery.ui(ui);
                for a in actions {
                    self.gallery_action(&ctx, a);
                }
            });
        egui::CentralPanel::no_frame().show(ui, |ui| self.canvas_ui(ui));

        // Changes made this frame (strokes) reach the textures before rendering.
        self.sync_document(&ctx);
        self.gallery.compare_window(&ctx);
        self.shortcuts_window(&ctx);
        self.confirm_modal(&ctx);
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

    fn canvas_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let size = self.doc.as_ref().map(Document::size);
        // The selected sample, previewed over the photo, unless the user holds \ or the
        // gallery's "Hold to compare" to see the original.
        let holding = self.gallery.holding_original || ui.input(|i| i.key_down(Key::Backslash));
        let preview = if self.gallery.preview && !holding {
            self.gallery
                .selected
                .and_then(|i| self.gallery.region_texture(&ctx, i))
        } else {
            None
        };
        let photo_tex = &self.photo_tex;
        self.overlay.previewing = preview.is_some();
        let overlay = &mut self.overlay;
        let out = self.canvas.show(
            ui,
            self.doc.as_mut(),
            |painter: &egui::Painter, xf: &Xform| {
                if let Some((w, h)) = size {
                    photo_tex.paint(painter, xf.rect_to_screen(photo_rect(w, h)), Color32::WHITE);
                    if let Some((tex, rect)) = preview {
                        painter.image(
                            tex,
                            xf.rect_to_screen(rect),
                            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                            Color32::WHITE,
                        );
                    }
                    overlay.paint(&ctx, painter, xf, (w, h));
                }
            },
        );
        self.last_hover = out.hover;
        self.last_xform = Some(out.xform);
        if holding && self.gallery.preview && self.gallery.selected.is_some() {
            let r = out.canvas;
            ui.painter().text(
                r.left_top() + egui::vec2(10.0, 10.0),
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
        if out.edited
            && !self.canvas.busy()
            && self.prefs.generate_on_stroke
            && self.model.is_some()
            && self.doc.as_ref().is_some_and(|d| d.mask().hole_count() > 0)
        {
            self.generate();
        }
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open photo…").clicked() {
                    self.open_dialog();
                }
                let has_doc = self.doc.is_some();
                if ui
                    .add_enabled(has_doc, egui::Button::new("Save image…"))
                    .clicked()
                {
                    let name = format!("{}-filled.png", self.stem());
                    self.dialog(DialogPurpose::SaveImage, Some(name));
                }
                ui.separator();
                if ui
                    .add_enabled(has_doc, egui::Button::new("Import mask…"))
                    .clicked()
                {
                    self.dialog(DialogPurpose::ImportMask, None);
                }
                if ui
                    .add_enabled(has_doc, egui::Button::new("Export mask…"))
                    .clicked()
                {
                    let name = format!("{}-mask.png", self.stem());
                    self.dialog(DialogPurpose::ExportMask, Some(name));
                }
                ui.separator();
                if ui.button("Open model folder…").clicked() {
                    self.dialog(DialogPurpose::ModelFolder, None);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                let (u, r) = self
                    .doc
                    .as_ref()
                    .map_or((false, false), |d| (d.can_undo(), d.can_redo()));
                if ui.add_enabled(u, egui::Button::new("Undo")).clicked() {
                    self.undo();
                }
                if ui.add_enabled(r, egui::Button::new("Redo")).clicked() {
                    self.redo();
                }
                ui.separator();
                self.mask_ops_ui(ui);
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit to window").clicked() {
                    self.canvas.request_fit();
                }
                if ui.button("Actual size").clicked() {
                    self.canvas.actual_size();
                }
                ui.checkbox(&mut self.prefs.show_training, "Training panel");
                ui.checkbox(&mut self.show_shortcuts, "Keyboard shortcuts");
            });
        });
    }

    fn mask_ops_ui(&mut self, ui: &mut egui::Ui) {
        let has = self.doc.is_some();
        ui.add_enabled_ui(has, |ui| {
            ui.horizontal(|ui| {
                if ui.button("Clear mask").clicked()
                    && let Some(d) = &mut self.doc
                {
                    let (w, h) = d.size();
                    d.replace_mask(
                        Mask::new_empty(w, h),
                        MaskOp::Replace {
                            what: "clear mask".into(),
                        },
                    );
                }
                if ui.button("Invert mask").clicked()
                    && let Some(d) = &mut self.doc
                {
                    let m = d.mask().invert();
                    d.replace_mask(
                        m,
                        MaskOp::Replace {
                            what: "invert mask".into(),
                        },
                    );
                }
            });
            ui.horizontal(|ui| {
                let r = self.grow_px;
                if ui.button("Grow").clicked() {
                    self.mask_job(format!("grow {r} px"), move |m| m.grow(r));
                }
                if ui.button("Shrink").clicked() {
                    self.mask_job(format!("shrink {r} px"), move |m| m.shrink(r));
                }
                ui.add(
                    egui::DragValue::new(&mut self.grow_px)
                        .range(1..=256)
                        .suffix(" px"),
                );
            });
        });
        // Feathering softens the mask's edge where the fill meets the photo: the model fills
        // the whole hole, and the fill fades into the photo over this band when it is pasted.
        ui.add(egui::Slider::new(&mut self.prefs.feather_px, 0.0..=64.0).text("Feather (px)"))
            .on_hover_text(
                "Soft mask edge: the fill fades into the photo over this many pixels \
                 inside the hole (0 = hard edge)",
            );
    }

    fn tools_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Mask");
        ui.horizontal_wrapped(|ui| {
            for t in Tool::ALL {
                ui.selectable_value(&mut self.canvas.tool, t, t.label())
                    .on_hover_text(format!("Shortcut: {:?}", t.key()));
            }
        });
        ui.add(
            egui::Slider::new(&mut self.canvas.brush_radius, theme::BRUSH_RADIUS_RANGE)
                .logarithmic(true)
                .text("Brush size"),
        )
        .on_hover_text("Radius in photo pixels ([ and ] change it)");
        self.mask_ops_ui(ui);
        if let Some(d) = &self.doc {
            let m = d.mask();
            ui.colored_label(
                theme::HINT_TEXT,
                format!("{:.1}% of the photo is hole", m.hole_ratio() * 100.0),
            );
        }

        ui.separator();
        ui.heading("Overlay");
        let before = self.overlay.settings;
        let s = &mut self.overlay.settings;
        ui.checkbox(&mut s.mask_tint, "Tint the mask");
        egui::ComboBox::from_label("Map")
            .selected_text(s.map.label())
            .show_ui(ui, |ui| {
                for k in MapKind::ALL {
                    ui.selectable_value(&mut s.map, k, k.label());
                }
            });
        if s.map.uses_unit() {
            ui.add(egui::Slider::new(&mut s.unit, 0..=5).text("Unit"))
                .on_hover_text("Generator unit: 0 is the coarsest (R/64), 5 the finest (R/2)");
        }
        if s.map != MapKind::None {
            ui.add(egui::Slider::new(&mut s.opacity, 0.0..=1.0).text("Opacity"));
            ui.horizontal(|ui| {
                for c in [MapColormap::Viridis, MapColormap::Magma] {
                    ui.selectable_value(&mut s.colormap, c, c.label());
                }
            });
        }
        ui.checkbox(&mut s.context_box, "Show the context box");
        let changed = *s != before;
        if changed {
            let ctx = ui.ctx().clone();
            self.overlay.settings_changed(&ctx, self.doc.as_ref());
        }
        if self.overlay.map_available() {
            self.overlay.legend_ui(ui);
        }
        if self.overlay.settings.map != MapKind::None && !self.overlay.map_available() {
            let why = match self.overlay.settings.map {
                MapKind::Soft | MapKind::Prior | MapKind::Diversity => {
                    "Generate once to see this map"
                }
                MapKind::HardFull if self.overlay.busy() => "Computing…",
                _ => "Paint a mask to see this map",
            };
            ui.colored_label(theme::HINT_TEXT, why);
        }

        ui.separator();
        ui.heading("Generate");
        self.model_ui(ui);
        ui.add(egui::Slider::new(&mut self.prefs.samples, 1..=MAX_SAMPLES).text("Samples"));
        egui::ComboBox::from_label("Detail")
            .selected_text(detail_label(self.prefs.detail))
            .show_ui(ui, |ui| {
                for mode in [DetailMode::Patch, DetailMode::Off] {
                    ui.selectable_value(&mut self.prefs.detail, mode, detail_label(mode));
                }
            })
            .response
            .on_hover_text(
                "Full resolution: after the raw samples appear, each is re-synthesised at the \
                 photo's resolution from the photo's own texture, keeping the sample's layout \
                 and colours. Off: the generator's samples, resized into the hole",
            );
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut self.prefs.seed, 0..=99_999).text("Seed"));
            ui.checkbox(&mut self.prefs.seed_locked, "Lock")
                .on_hover_text(
                    "Locked: Generate reuses this first seed (the same fills again).\n\
                 Unlocked: every Generate draws a new first seed.",
                );
        });
        if ui
            .button("Random seed")
            .on_hover_text("Pick a new first seed")
            .clicked()
        {
            self.prefs.seed = random_seed();
        }
        ui.checkbox(
            &mut self.prefs.generate_on_stroke,
            "Generate when a stroke ends",
        )
        .on_hover_text("Starts a generation after each brush, eraser, rectangle or lasso edit");
        egui::CollapsingHeader::new("Options").show(ui, |ui| {
            ui.add(egui::Slider::new(&mut self.prefs.margin, 0.0..=2.0).text("Context margin"))
                .on_hover_text("Context around the hole, as a fraction of its longer side");
        });
        if (self.overlay.margin - self.prefs.margin).abs() > f32::EPSILON {
            self.overlay.margin = self.prefs.margin;
            let ctx = ui.ctx().clone();
            self.overlay.settings_changed(&ctx, self.doc.as_ref());
        }
        ui.horizontal(|ui| {
            let can = self.doc.is_some() && self.model.is_some();
            if ui
                .add_enabled(can, egui::Button::new("Generate"))
                .on_hover_text("G or Ctrl+Enter")
                .clicked()
            {
                self.generate();
            }
            if self.running.is_some() {
                ui.spinner();
                if ui.button("Cancel").clicked() {
                    self.cancel_generation();
                }
            }
        });
    }

    fn model_ui(&mut self, ui: &mut egui::Ui) {
        match (&self.model, &self.model_loading) {
            (_, Some(src)) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Loading the model {}", src.describe()));
                });
            }
            (Some(m), None) => {
                ui.label(format!(
                    "Model: {} preset, {}×{}",
                    m.preset, m.resolution, m.resolution
                ))
                .on_hover_text(format!(
                    "{}\n{}\n{} generator parameters",
                    m.source.describe(),
                    m.provenance,
                    m.params
                ));
                if m.provenance.contains("untrained") {
                    ui.colored_label(
                        theme::WARN_TEXT,
                        "This model is untrained: fills will be noise",
                    );
                }
            }
            (None, None) => {
                ui.colored_label(theme::WARN_TEXT, "No model loaded");
                ui.label(
                    "Masks and hard maps work without one. To fill holes, import the authors' \
                     weights with `pdpaint import …`, or train a model in the training panel \
                     (T), then open its folder.",
                );
            }
        }
        if let Some(e) = &self.model_error {
            ui.colored_label(theme::ERROR_TEXT, e);
        }
        ui.horizontal(|ui| {
            if ui.button("Open model folder…").clicked() {
                self.dialog(DialogPurpose::ModelFolder, None);
            }
            let is_default = self.model.as_ref().map(|m| &m.source) == default_model().as_ref();
            if !is_default
                && self.model_loading.is_none()
                && let Some(d) = default_model()
                && ui
                    .button("Default model")
                    .on_hover_text(format!("Load {}", d.describe()))
                    .clicked()
            {
                self.load_model(d);
            }
            if self.model.is_none() && ui.button("Training panel").clicked() {
                self.prefs.show_training = true;
            }
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            // The message first: it is what the user needs after an action. Errors are shown
            // in the error banner instead, until dismissed.
            if let Some(m) = self.message.as_ref().filter(|m| !m.error) {
                ui.label(&m.text);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(p) = self.last_hover {
                    ui.label(format!("{:.0}, {:.0}", p.x.floor(), p.y.floor()));
                }
                if let Some(x) = self.last_xform {
                    ui.label(format!("{:.0}%", x.zoom * 100.0));
                }
                let mut parts = Vec::new();
                if let Some(t) = self.timings.prior {
                    parts.push(format!("prior {:.0} ms", t.as_secs_f64() * 1e3));
                }
                if let Some(t) = self.timings.per_sample {
                    parts.push(format!("{:.0} ms/sample", t.as_secs_f64() * 1e3));
                }
                let hard = match self.overlay.settings.map {
                    MapKind::HardFull => self.overlay.timings.hard_full_update,
                    MapKind::HardUnit => self.overlay.timings.hard_unit,
                    _ => None,
                };
                if let Some(t) = hard {
                    parts.push(format!("hard map {:.2} ms", t.as_secs_f64() * 1e3));
                }
                if !parts.is_empty() {
                    ui.separator();
                    ui.label(parts.join(", "));
                }
                ui.separator();
                match &self.model {
                    Some(m) => ui
                        .label(format!("model: {}", m.preset))
                        .on_hover_text(m.source.describe()),
                    None => ui.colored_label(theme::WARN_TEXT, "no model"),
                };
                ui.separator();
                match &self.backend {
                    Some(d) => {
                        // "cpu (flex, 2 threads): why…" → the part before the reason.
                        let short = d.find("): ").map_or(d.as_str(), |i| &d[..=i]);
                        ui.label(short).on_hover_text(d);
                    }
                    None => {
                        ui.label("selecting the compute backend…");
                    }
                }
            });
        });
    }

    fn shortcuts_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_shortcuts;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for (k, what) in SHORTCUTS {
                        ui.monospace(*k);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        self.show_shortcuts = open;
    }

    fn confirm_modal(&mut self, ctx: &egui::Context) {
        let Some(pending) = self.confirm.clone() else {
            return;
        };
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
                        choice = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        choice = Some(false);
                    }
                });
            });
        match choice {
            Some(true) => {
                self.confirm = None;
                match pending {
                    Pending::Open(p) => self.load_photo(p),
                    Pending::OpenDialog => self.dialog(DialogPurpose::OpenPhoto, None),
                    Pending::Quit => {
                        self.allow_close = true;
                        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                }
            }
            Some(false) => self.confirm = None,
            None => {}
        }
    }

    /// The canvas transform of the last frame (photo pixels ↔ screen points).
    pub fn canvas_xform(&self) -> Option<Xform> {
        self.last_xform
    }

    /// Whether a "discard unsaved changes?" question is showing.
    pub fn confirming(&self) -> bool {
        self.confirm.is_some()
    }

    fn gallery_action(&mut self, ctx: &egui::Context, a: GalleryAction) {
        match a {
            GalleryAction::Apply(i) => self.apply_sample(i),
            GalleryAction::Save(i) => {
                let name = self
                    .gallery
                    .tiles
                    .get(i)
                    .map(|t| format!("{}-seed-{}.png", self.stem(), t.seed));
                self.dialog(DialogPurpose::SaveSample(i), name);
            }
            GalleryAction::SaveAll => self.dialog(DialogPurpose::SaveAllSamples, None),
            GalleryAction::CopySeed(seed) => {
                ctx.copy_text(seed.to_string());
                self.post(format!("Copied seed {seed}"), false);
            }
            GalleryAction::UseSeed(seed) => self.prefs.seed = seed,
        }
    }

    fn train_action(&mut self, a: TrainAction) {
        match &a {
            TrainAction::PickData => self.dialog(DialogPurpose::TrainData, None),
            TrainAction::PickOut => self.dialog(DialogPurpose::TrainOut, None),
            TrainAction::UseModel(p) => self.load_model(ModelSource::Folder(p.clone())),
            TrainAction::Start(_) | TrainAction::Send(_) => {
                self.training.perform(&a, self.waker.clone());
            }
        }
    }
}

impl Studio {
    /// Starts an automation script (see [`crate::ui::script`]).
    pub fn start_script(&mut self, script: Script) {
        if let Some(m) = script.map {
            self.overlay.settings.map = m;
        }
        if let Some(t) = script.mask_tint {
            self.overlay.settings.mask_tint = t;
        }
        if let Some(u) = script.unit {
            self.overlay.settings.unit = u;
        }
        if let Some(o) = script.opacity {
            self.overlay.settings.opacity = o;
        }
        self.overlay.settings = self.overlay.settings.sanitized();
        if let Some(n) = script.samples {
            self.prefs.samples = n.clamp(1, MAX_SAMPLES);
        }
        if let Some(seed) = script.seed {
            self.prefs.seed = seed;
        }
        if script.train.is_some() {
            self.prefs.show_training = true;
        }
        self.script = Some(ScriptRun::new(script));
    }

    /// Whether an automation script is running (or has run).
    pub fn script_stage(&self) -> Option<Stage> {
        self.script.as_ref().map(|r| r.stage)
    }

    /// One frame of the automation script: `cpu` is eframe's CPU time of the previous frame.
    pub fn step_script(&mut self, ctx: &egui::Context, cpu: Option<f32>) {
        let Some(mut run) = self.script.take() else {
            return;
        };
        let phase = Phase::of(self.running.is_some(), self.training.running());
        if run.last_phase.is_none() {
            self.overlay.settings_changed(ctx, self.doc.as_ref());
        }
        run.record_frame(cpu, phase);
        if run.script.frame_log.is_some() {
            // Measure a window that redraws all the time, like one being painted on.
            ctx.request_repaint();
        } else {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        if run.timed_out() && matches!(run.stage, Stage::Preparing | Stage::Settling(_)) {
            eprintln!(
                "script: gave up waiting after {:.0} s",
                run.started.elapsed().as_secs_f32()
            );
            run.stage = Stage::StoppingTraining;
        }
        match run.stage {
            Stage::Preparing => self.script_prepare(&mut run),
            Stage::Settling(0) => {
                run.stage = match run.script.screenshot.clone() {
                    Some(p) => {
                        script::capture(ctx, &run, &p);
                        Stage::Capturing
                    }
                    None => Stage::StoppingTraining,
                };
            }
            Stage::Settling(n) => run.stage = Stage::Settling(n - 1),
            Stage::Capturing => {
                if !run.writing() {
                    run.stage = Stage::StoppingTraining;
                }
            }
            Stage::StoppingTraining => {
                if run.script.quit && self.training.running() {
                    if !matches!(self.training.state, RunState::Stopping) {
                        self.train_action(TrainAction::Send(TrainCommand::Stop));
                    }
                } else {
                    if let Some(p) = run.script.frame_log.clone() {
                        let report = FrameReport {
                            measure: "eframe cpu_usage: App::logic + App::ui, tessellation and \
                                      rendering of one frame, without the vsync wait",
                            window: ctx.content_rect().size().into(),
                            pixels_per_point: ctx.pixels_per_point(),
                            renderer: self.renderer.clone(),
                            backend: self.backend.clone(),
                            phases: run.stats(),
                        };
                        for s in &report.phases {
                            eprintln!(
                                "frame time, {}: {} frames, mean {:.2} ms, p50 {:.2}, p99 {:.2}, \
                                 max {:.2}, {} over 16 ms; app code p99 {:.2} ms ({} over 16); \
                                 frame interval mean {:.1} ms, p99 {:.1}",
                                s.phase,
                                s.frames,
                                s.mean_ms,
                                s.p50_ms,
                                s.p99_ms,
                                s.max_ms,
                                s.over_16ms,
                                s.app_p99_ms,
                                s.app_over_16ms,
                                s.interval_mean_ms,
                                s.interval_p99_ms
                            );
                        }
                        match serde_json::to_vec_pretty(&report) {
                            Ok(bytes) => run.write_file(p, bytes),
                            Err(e) => eprintln!("script: could not encode the frame report: {e}"),
                        }
                    }
                    run.stage = Stage::Finishing;
                }
            }
            Stage::Finishing => {
                if !run.writing() {
                    let errors = match run.errors.lock() {
                        Ok(v) => v.clone(),
                        Err(p) => p.into_inner().clone(),
                    };
                    for e in &errors {
                        eprintln!("script: {e}");
                    }
                    eprintln!("script: done");
                    if run.script.quit {
                        self.allow_close = true;
                        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                    run.stage = Stage::Done;
                }
            }
            Stage::Done => {}
        }
        self.script = Some(run);
    }

    fn script_prepare(&mut self, run: &mut ScriptRun) {
        if let Some(m) = run.script.mask.clone()
            && !run.mask_requested
            && self.doc.is_some()
        {
            self.picked(DialogPurpose::ImportMask, m);
            run.mask_requested = true;
        }
        let has_holes = self.doc.as_ref().is_some_and(|d| d.mask().hole_count() > 0);
        let mask_ready = run.script.mask.is_none() || (run.mask_requested && has_holes);
        if let Some(t) = run.script.train.clone()
            && !run.training_started
        {
            run.training_started = true;
            self.training.data = Some(t.data);
            self.training.out = Some(t.out);
            self.training.prior_steps = t.prior_steps;
            self.training.pdgan_steps = t.pdgan_steps;
            self.training.resolution = t.resolution;
            self.training.batch = t.batch;
            self.training.resume = true;
            match self.training.config() {
                Ok(mut cfg) => {
                    cfg.preview_every = t.every.max(1);
                    cfg.checkpoint_every = t.every.max(1);
                    self.train_action(TrainAction::Start(Box::new(cfg)));
                }
                Err(e) => eprintln!("script: could not start training: {e}"),
            }
        }
        let model_ready = self.model.is_some();
        let generated = !run.script.generate
            || (run.generations > 0 && self.running.is_none() && self.gallery.finished() > 0);
        if let Some(i) = run.script.select
            && generated
            && i < self.gallery.tiles.len()
            && self.gallery.selected != Some(i)
        {
            self.gallery.selected = Some(i);
            self.gallery.preview = true;
        }
        let maps_ready = self.overlay.settings.map == MapKind::None
            || (self.overlay.map_available() && !self.overlay.busy());
        let trained = match &run.script.train {
            None => true,
            Some(t) => {
                let p = &self.training.progress;
                let done = match p.stage {
                    Some(TrainStage::Prior) => p.step,
                    Some(TrainStage::Pdgan) => t.prior_steps + p.step,
                    None => 0,
                };
                done >= t.shot_after_steps || !self.training.running()
            }
        };
        let photo_ready = self.doc.is_some() || (run.script.mask.is_none() && !run.script.generate);
        if photo_ready && mask_ready && model_ready && !self.jobs.busy() {
            run.starting = false;
        }
        if photo_ready && mask_ready && generated && maps_ready && trained && !self.jobs.busy() {
            // Ready: nothing new starts while the frames settle for the screenshot.
            run.stage = Stage::Settling(SCRIPT_SETTLE_FRAMES);
            return;
        }
        // Generate once, or again each time a generation ends while training runs.
        if run.script.generate && mask_ready && model_ready && self.running.is_none() {
            let again = run.script.generate_while_training && self.training.running();
            if run.generations == 0 || again {
                self.generate();
                run.generations += 1;
            }
        }
    }
}

/// Frames drawn between "ready" and the screenshot (textures and layout settle).
const SCRIPT_SETTLE_FRAMES: u32 = 10;

/// The shortcuts overlay's rows.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl+O", "Open a photo"),
    ("Ctrl+S", "Save the image"),
    ("Ctrl+Z", "Undo"),
    ("Ctrl+Shift+Z, Ctrl+Y", "Redo"),
    ("B, E, R, L", "Brush, eraser, rectangle, lasso"),
    ("[  ]", "Smaller, larger brush"),
    ("Right drag", "Erase with any tool"),
    ("Wheel", "Zoom about the cursor"),
    ("Space+drag, middle drag", "Pan"),
    ("F, 1", "Fit to window, actual size"),
    ("G, Ctrl+Enter", "Generate"),
    ("Esc", "Cancel the generation"),
    ("Enter", "Apply the selected sample"),
    ("Shift+click", "Compare a sample with the selected one"),
    ("P", "Preview the selected sample on the canvas"),
    (
        "Hold \\",
        "Show the original photo under the previewed sample",
    ),
    ("M", "Show or hide the mask tint"),
    ("T", "Show or hide the training panel"),
    ("F1, ?", "This list"),
];

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() % 100_000
}

impl eframe::App for Studio {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        self.frame_began = Instant::now();
        Studio::logic(self, ctx);
        if self.script.is_some() {
            self.step_script(ctx, frame.info().cpu_usage);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        Studio::ui(self, ui);
        if let Some(run) = &mut self.script {
            run.record_app(self.frame_began.elapsed().as_secs_f32());
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.prefs_snapshot().save(storage);
    }
}

/// The studio's name for a detail mode.
fn detail_label(mode: DetailMode) -> &'static str {
    match mode {
        DetailMode::Patch => "Full resolution",
        DetailMode::Off => "Off (raw samples)",
    }
}
