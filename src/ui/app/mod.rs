//! The studio: the eframe app, a thin shell around the document, the panels and the workers.
//!
//! A frame: [`Studio::logic`] drains the workers within a time budget and applies their events
//! ([`events`]); [`Studio::ui`] reads the shortcuts, lets every panel draw itself and applies
//! the [`Command`]s they return ([`apply`]), the one place where the document, the workers
//! and the preferences change. Everything slow (decoding, saving, the model, training, large
//! hard maps) runs on other threads.
//!
//! * [`panels`]: the menu, the left tool column (mask, overlay, generate), the status bar and
//!   banners, the canvas and the floating windows. The stateful panels live in their own
//!   modules: [`crate::ui::canvas`], [`crate::ui::gallery`], [`crate::ui::overlay`],
//!   [`crate::ui::training_panel`].
//! * [`shortcuts`]: keys to commands, and the list the shortcuts window shows.
//! * [`automation`]: the `--script` driver (screenshots, frame times).

mod apply;
mod automation;
mod events;
mod panels;
mod recipe;
mod shortcuts;
mod steering;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::Color32;
use image::RgbImage;

use crate::backend::BackendChoice;
use crate::inference::worker::{InferRequest, ModelInfo, ModelSource, default_model};
use crate::ui::canvas::{Canvas, Xform};
use crate::ui::command::Command;
use crate::ui::doc::Document;
use crate::ui::gallery::Gallery;
use crate::ui::overlay::{ModelMaps, Overlay};
use crate::ui::prefs::Prefs;
use crate::ui::script::{Script, ScriptRun, Stage};
use crate::ui::steer::Steer;
use crate::ui::strip::Strip;
use crate::ui::textures::{PIXEL_OPTIONS, PixelTexture};
use crate::ui::theme;
use crate::ui::training_panel::TrainingPanel;
use crate::ui::workers::{DialogMode, Waker, Workers};

pub use panels::generate::ModelState;
pub use panels::status::{Message, StatusBar, Timings};
pub use shortcuts::SHORTCUTS;

/// How the studio starts.
#[derive(Debug, Clone, Default)]
pub struct StudioOptions {
    /// A photo to open at start.
    pub photo: Option<PathBuf>,
    /// A model to load at start (default: the last one used, else [`default_model`]).
    pub model: Option<ModelSource>,
    /// Compute backend of the inference worker.
    pub backend: BackendChoice,
    /// How file dialogs are answered.
    pub dialogs: DialogMode,
    /// Automation (screenshots, frame-time measurement); empty for normal use.
    pub script: Script,
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

/// What a save in flight is of.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SaveKind {
    /// The photo, as it was at this history marker.
    Photo(u64),
    /// The mask, as it was at this history marker.
    Mask(u64),
    /// A gallery sample.
    Sample,
    /// The gallery's recipe.
    Recipe,
}

/// The generation in flight and what it has delivered so far.
#[derive(Debug, Clone, Default)]
struct Generation {
    running: Option<u64>,
    maps: ModelMaps,
    samples_done: usize,
    sample_time: Duration,
}

/// The studio window's state.
pub struct Studio {
    /// Remembered settings: the one copy, which the panels read and write.
    pub prefs: Prefs,
    /// The open photo and mask, if any.
    pub doc: Option<Document>,
    /// The canvas panel: view and gesture.
    pub canvas: Canvas,
    /// Mask tint and maps.
    pub overlay: Overlay,
    /// Samples of the last generation.
    pub gallery: Gallery,
    /// The interpolation strip window.
    pub strip: Strip,
    /// The steering brushes (keep, mix) and their settings.
    pub steer: Steer,
    /// The training panel.
    pub training: TrainingPanel,
    /// The status bar and banners (messages, errors, photo notes, timings).
    pub status: StatusBar,
    /// The model and backend.
    pub model: ModelState,
    /// The window's renderer, for reports (e.g. "wgpu Vulkan: llvmpipe").
    pub renderer: String,
    mask_panel: panels::mask::MaskPanel,
    show_shortcuts: bool,
    confirm: Option<Pending>,
    allow_close: bool,
    generation: Generation,
    workers: Workers,
    photo_tex: PixelTexture,
    saves: HashMap<PathBuf, SaveKind>,
    basis: Option<recipe::Basis>,
    pins: Option<steering::Pinned>,
    script: Option<ScriptRun>,
    frame_began: Instant,
}

impl std::fmt::Debug for Studio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Studio")
            .field("doc", &self.doc.as_ref().map(Document::size))
            .field("model", &self.model.info)
            .finish_non_exhaustive()
    }
}

impl Studio {
    /// A studio with these options and preferences, its workers started. `waker` is called by
    /// the workers when they have news (eframe passes `ctx.request_repaint`). A worker that
    /// cannot start is reported in the error banner.
    pub fn new(opts: StudioOptions, prefs: Prefs, waker: Option<Waker>) -> Self {
        let workers = Workers::start(opts.backend, opts.dialogs.clone(), waker);
        Self::with_workers(opts, prefs, workers)
    }

    /// For tests: a studio whose model loads, generations and training runs are only recorded
    /// ([`Workers::recording_for_tests`]); tests feed it worker events instead.
    pub fn for_tests(opts: StudioOptions, prefs: Prefs) -> Self {
        let workers = Workers::recording_for_tests(opts.dialogs.clone());
        Self::with_workers(opts, prefs, workers)
    }

    fn with_workers(opts: StudioOptions, prefs: Prefs, mut workers: Workers) -> Self {
        let mut status = StatusBar::default();
        for p in workers.take_problems() {
            status.post(p, true);
        }
        let mut s = Self {
            prefs: prefs.sanitized(),
            doc: None,
            canvas: Canvas::default(),
            overlay: Overlay::new(),
            gallery: Gallery {
                preview: true,
                ..Gallery::default()
            },
            strip: Strip::default(),
            steer: Steer::default(),
            training: TrainingPanel::default(),
            status,
            model: ModelState::default(),
            renderer: "none".into(),
            mask_panel: panels::mask::MaskPanel::default(),
            show_shortcuts: false,
            confirm: None,
            allow_close: false,
            generation: Generation::default(),
            workers,
            photo_tex: PixelTexture::new("photo", PIXEL_OPTIONS),
            saves: HashMap::new(),
            basis: None,
            pins: None,
            script: None,
            frame_began: Instant::now(),
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

    /// The loaded model, if any.
    pub fn model_info(&self) -> Option<&ModelInfo> {
        self.model.info.as_ref()
    }

    /// The error banner's message, until the user dismisses it.
    pub fn error(&self) -> Option<&Message> {
        self.status.error.as_ref()
    }

    /// The requests sent to the inference worker (recording workers only; tests).
    pub fn submitted_requests(&self) -> &[InferRequest] {
        self.workers.submitted_requests()
    }

    /// The model loads asked of the inference worker (recording workers only; tests).
    pub fn requested_models(&self) -> &[ModelSource] {
        self.workers.requested_models()
    }

    /// How many pins the next generation starts from.
    pub fn pin_count(&self) -> usize {
        self.steer_facts().pins
    }

    /// The workers (what a recording one was asked to do, in tests).
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Whether a generation is running.
    pub fn generating(&self) -> bool {
        self.generation.running.is_some()
    }

    /// The canvas transform of the last frame (photo pixels ↔ screen points).
    pub fn canvas_xform(&self) -> Option<Xform> {
        self.status.xform
    }

    /// Whether a "discard unsaved changes?" question is showing.
    pub fn confirming(&self) -> bool {
        self.confirm.is_some()
    }

    /// Whether an automation script is running (or has run), and where it is.
    pub fn script_stage(&self) -> Option<Stage> {
        self.script.as_ref().map(|r| r.stage)
    }

    /// Per-frame work that draws nothing: drain the workers, handle dropped files and the
    /// window closing.
    pub fn logic(&mut self, ctx: &egui::Context) {
        let events = self.workers.drain(theme::DRAIN_BUDGET);
        if !events.is_empty() {
            // The budget may have left events queued: look again next frame.
            ctx.request_repaint();
        }
        for e in events {
            self.handle_event(ctx, e);
        }
        for p in self.workers.take_problems() {
            self.status.post(p, true);
        }

        // Files dropped on the window.
        let dropped = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(p) = dropped {
            self.apply(ctx, Command::OpenPath(p));
        }

        // Closing with unsaved work asks first.
        if ctx.input(|i| i.viewport().close_requested()) && self.unsaved() && !self.allow_close {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }

        if self.generating()
            || self.workers.files_busy()
            || self.overlay.busy()
            || self.training.running()
        {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    /// Draws the studio: shortcuts first, then every panel, applying what each asks for.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let keys = shortcuts::read(&ctx, &self.shortcut_context());
        self.apply_all(&ctx, keys);
        self.sync_document(&ctx);
        self.draw_panels(ui);
        // Changes made this frame (strokes) reach the textures before rendering.
        self.sync_document(&ctx);
        self.draw_windows(&ctx);
    }

    /// Applies commands in order.
    pub fn apply_all(&mut self, ctx: &egui::Context, cmds: Vec<Command>) {
        for c in cmds {
            self.apply(ctx, c);
        }
    }

    fn shortcut_context(&self) -> shortcuts::Context {
        shortcuts::Context {
            canvas_busy: self.canvas.busy(),
            shortcuts_shown: self.show_shortcuts,
            has_doc: self.doc.is_some(),
            selected: self.gallery.selected,
            training_shown: self.prefs.show_training,
        }
    }

    fn unsaved(&self) -> bool {
        self.doc.as_ref().is_some_and(Document::has_unsaved_work)
    }

    /// Replaces the document by a photo (discarding the current one without asking).
    pub fn set_photo(&mut self, image: RgbImage, source: Option<PathBuf>) {
        self.workers.cancel();
        self.generation = Generation::default();
        self.basis = None;
        self.pins = None;
        let (w, h) = image.dimensions();
        for layer in [
            &mut self.steer.keep,
            &mut self.steer.mix,
            &mut self.steer.pinned,
        ] {
            layer.fit(w, h);
            layer.clear();
        }
        self.doc = Some(Document::new(image, source));
        self.canvas.request_fit();
        self.overlay.reset();
        self.gallery.clear();
        self.strip = Strip::default();
        self.photo_tex.clear();
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
        self.overlay.sync_mask(
            ctx,
            &self.prefs.overlay,
            self.prefs.margin,
            doc.mask(),
            bbox,
            dirty.mask,
        );
    }
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
        self.prefs.save(storage);
    }
}
