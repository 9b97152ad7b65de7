//! The training panel: set up a run, start it on the training worker, watch it.
//!
//! The panel never trains itself: it returns [`TrainAction`]s (start, pause, stop, …) that the
//! app performs through [`TrainingPanel::perform`] (a [`TrainWorker`] on its own thread) and
//! records them in [`TrainingPanel::actions`], so tests can check what the panel asked for
//! without starting a run ([`Launch::Record`]). Events are drained with a time budget; step
//! events feed the progress bar (steps/s, ETA) and one loss curve per term; preview grids and
//! checkpoints are listed as they arrive.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use egui::TextureHandle;
use egui_plot::{Corner, GridInput, GridMark, Legend, Line, Plot};

use crate::backend::BackendChoice;
use crate::model::Preset;
use crate::train::config::TrainConfig;
use crate::train::events::{Event, Stage};
use crate::train::worker::{Command, TrainWorker, Waker};
use crate::ui::textures::{PIXEL_OPTIONS, color_image};
use crate::ui::theme;

/// What the panel asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainAction {
    /// Start a run.
    Start(Box<TrainConfig>),
    /// Steer the running run.
    Send(Command),
    /// Choose the photo folder (opens a dialog).
    PickData,
    /// Choose the output folder (opens a dialog).
    PickOut,
    /// Load a checkpoint or the final model into the generator.
    UseModel(PathBuf),
}

/// Whether actions start real runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Launch {
    /// Start a [`TrainWorker`].
    #[default]
    Real,
    /// Only record the actions (tests).
    Record,
}

/// Where the run is.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RunState {
    /// Nothing started.
    #[default]
    Idle,
    /// Starting or stepping.
    Running,
    /// Paused.
    Paused,
    /// Stopping (saving a checkpoint first).
    Stopping,
    /// Ended.
    Finished {
        /// The final model folder.
        model: PathBuf,
        /// Whether it was stopped early.
        stopped: bool,
    },
    /// Failed.
    Failed(String),
}

/// The newest progress of the run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    /// The current stage.
    pub stage: Option<Stage>,
    /// Steps done in it.
    pub step: u64,
    /// Steps of it in all.
    pub total: u64,
    /// Steps per second (moving average).
    pub steps_per_sec: f64,
    /// Learning-rate factor.
    pub lr_factor: f64,
}

/// A checkpoint that arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointEntry {
    /// Its stage.
    pub stage: Stage,
    /// Its step.
    pub step: u64,
    /// Its folder.
    pub path: PathBuf,
}

/// The training panel's state.
pub struct TrainingPanel {
    /// Photo folder.
    pub data: Option<PathBuf>,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Size preset.
    pub preset: Preset,
    /// Training resolution (multiple of 64).
    pub resolution: usize,
    /// Stage-1 steps.
    pub prior_steps: u64,
    /// Stage-2 steps.
    pub pdgan_steps: u64,
    /// Batch size.
    pub batch: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Resume from the newest checkpoint in the output folder.
    pub resume: bool,
    /// Backend of the run.
    pub backend: BackendChoice,
    /// Real runs or recording only.
    pub launch: Launch,
    /// Every action the panel produced, oldest first (the last 256).
    pub actions: Vec<TrainAction>,
    /// Where the run is.
    pub state: RunState,
    /// Newest progress.
    pub progress: Progress,
    /// Loss history per `stage/term`: `(global step, value)`.
    pub losses: BTreeMap<String, Vec<[f64; 2]>>,
    /// Checkpoints, newest last.
    pub checkpoints: Vec<CheckpointEntry>,
    /// Log lines, newest last.
    pub log: Vec<String>,
    /// Steps of stages finished before the current one (for the ETA).
    stages_left: Vec<(Stage, u64)>,
    preview: Option<(TextureHandle, Stage, u64)>,
    worker: Option<TrainWorker>,
    error: Option<String>,
    /// Whose curves the plot shows; `None` follows the running stage.
    pub curve_stage: Option<Stage>,
    /// Loss curves on a log10 axis (values ≤ 0 are left out there).
    pub log_scale: bool,
    /// Exponential smoothing of the curves, 0 (raw) … 0.99.
    pub smoothing: f32,
}

impl std::fmt::Debug for TrainingPanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingPanel")
            .field("state", &self.state)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl Default for TrainingPanel {
    fn default() -> Self {
        Self {
            data: None,
            out: None,
            preset: Preset::Small,
            resolution: 128,
            prior_steps: 1000,
            pdgan_steps: 1000,
            batch: 4,
            seed: 0,
            resume: false,
            backend: BackendChoice::Auto,
            launch: Launch::Real,
            actions: Vec::new(),
            state: RunState::Idle,
            progress: Progress::default(),
            losses: BTreeMap::new(),
            checkpoints: Vec::new(),
            log: Vec::new(),
            stages_left: Vec::new(),
            preview: None,
            worker: None,
            error: None,
            curve_stage: None,
            log_scale: true,
            smoothing: 0.6,
        }
    }
}

const MAX_LOG: usize = 500;
const MAX_ACTIONS: usize = 256;

impl TrainingPanel {
    /// Whether a run is in progress.
    pub fn running(&self) -> bool {
        matches!(
            self.state,
            RunState::Running | RunState::Paused | RunState::Stopping
        )
    }

    /// The run's configuration from the panel's fields.
    ///
    /// # Errors
    /// A message when a folder is missing or a number is invalid.
    pub fn config(&self) -> Result<TrainConfig, String> {
        let data = self.data.clone().ok_or("choose a photo folder first")?;
        let out = self.out.clone().ok_or("choose an output folder first")?;
        let mut cfg = TrainConfig::new(data, out, self.preset.config());
        cfg.set_resolution(self.resolution)
            .map_err(|e| e.to_string())?;
        cfg.vgg.config.width_div = self.preset.vgg_width_div();
        cfg.prior_steps = self.prior_steps;
        cfg.pdgan_steps = self.pdgan_steps;
        cfg.batch = self.batch;
        cfg.seed = self.seed;
        cfg.resume = self.resume;
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    fn record(&mut self, a: TrainAction) -> TrainAction {
        self.actions.push(a.clone());
        if self.actions.len() > MAX_ACTIONS {
            self.actions.remove(0);
        }
        a
    }

    fn push_log(&mut self, line: String) {
        self.log.push(line);
        if self.log.len() > MAX_LOG {
            self.log.remove(0);
        }
    }

    /// Performs a start or steering action (other actions are the app's). `waker` wakes the
    /// UI when the run reports.
    pub fn perform(&mut self, action: &TrainAction, waker: Option<Waker>) {
        match action {
            TrainAction::Start(cfg) => {
                self.state = RunState::Running;
                self.progress = Progress::default();
                self.losses.clear();
                self.checkpoints.clear();
                self.preview = None;
                self.error = None;
                self.stages_left = cfg.stages.iter().map(|&s| (s, cfg.steps(s))).collect();
                self.push_log(format!(
                    "starting: {} preset at {}², batch {}, {} + {} steps",
                    self.preset.name(),
                    self.resolution,
                    cfg.batch,
                    cfg.prior_steps,
                    cfg.pdgan_steps
                ));
                if self.launch == Launch::Real {
                    match TrainWorker::spawn(cfg.as_ref().clone(), self.backend, waker) {
                        Ok(w) => self.worker = Some(w),
                        Err(e) => {
                            self.state = RunState::Failed(e.to_string());
                        }
                    }
                }
            }
            TrainAction::Send(cmd) => {
                if let Some(w) = &self.worker {
                    w.send(*cmd);
                }
                match cmd {
                    Command::Pause => self.state = RunState::Paused,
                    Command::Resume => self.state = RunState::Running,
                    Command::Stop => self.state = RunState::Stopping,
                    Command::PreviewNow | Command::SaveNow => {}
                }
            }
            TrainAction::PickData | TrainAction::PickOut | TrainAction::UseModel(_) => {}
        }
    }

    /// Takes the run's pending events (within `budget`) into the panel. Returns whether any
    /// arrived.
    pub fn drain(&mut self, ctx: &egui::Context, budget: Duration) -> bool {
        let Some(w) = &self.worker else {
            return false;
        };
        let events = w.drain(budget);
        let finished = w.is_finished();
        let any = !events.is_empty();
        for e in events {
            self.handle_event(ctx, e);
        }
        // Drop the worker once its thread has ended and its channel is empty.
        if finished && !any {
            self.worker = None;
            if self.running() {
                self.state = RunState::Failed("the training thread ended without a result".into());
            }
        }
        any
    }

    /// Takes one event into the panel (public so tests can feed events).
    pub fn handle_event(&mut self, ctx: &egui::Context, e: Event) {
        match e {
            Event::Started {
                out,
                photos,
                skipped,
                vgg,
                resumed,
            } => {
                self.push_log(format!(
                    "{photos} photos ({skipped} skipped); losses use {vgg}; writing to {}",
                    out.display()
                ));
                if let Some((stage, step)) = resumed {
                    self.push_log(format!("resumed {stage} at step {step}"));
                }
            }
            Event::StageStarted { stage, step, total } => {
                self.progress = Progress {
                    stage: Some(stage),
                    step,
                    total,
                    ..self.progress
                };
                self.stages_left.retain(|(s, _)| *s != stage);
                self.push_log(format!("{stage}: step {step} of {total}"));
            }
            Event::Step {
                stage,
                step,
                total,
                lr_factor,
                losses,
                steps_per_sec,
            } => {
                self.progress = Progress {
                    stage: Some(stage),
                    step,
                    total,
                    steps_per_sec,
                    lr_factor,
                };
                for (name, v) in losses {
                    if v.is_finite() {
                        let series = self.losses.entry(format!("{stage}/{name}")).or_default();
                        series.push([step as f64, f64::from(v)]);
                        if series.len() > theme::LOSS_HISTORY {
                            // Keep every other old point: the curve's shape survives.
                            let half: Vec<[f64; 2]> = series.iter().step_by(2).copied().collect();
                            *series = half;
                        }
                    }
                }
            }
            Event::Skipped {
                stage,
                step,
                reason,
            } => self.push_log(format!("{stage} step {step} skipped: {reason}")),
            Event::Restored {
                stage,
                step,
                lr_backoff,
            } => self.push_log(format!(
                "{stage}: restored the checkpoint of step {step}, learning rate ×{lr_backoff}"
            )),
            Event::Checkpoint { stage, step, path } => {
                self.push_log(format!("checkpoint {stage} {step}: {}", path.display()));
                self.checkpoints.push(CheckpointEntry { stage, step, path });
            }
            Event::Preview {
                stage,
                step,
                path: _,
                image,
            } => {
                let tex = ctx.load_texture("train-preview", color_image(&image), PIXEL_OPTIONS);
                self.preview = Some((tex, stage, step));
            }
            Event::Paused => self.state = RunState::Paused,
            Event::Resumed => self.state = RunState::Running,
            Event::StageFinished { stage } => self.push_log(format!("{stage} finished")),
            Event::Log(line) => self.push_log(line),
            Event::Failed { error } => {
                self.push_log(format!("failed: {error}"));
                self.state = RunState::Failed(error);
            }
            Event::Finished { model, stopped } => {
                self.push_log(format!(
                    "{} model in {}",
                    if stopped { "stopped; saved" } else { "done;" },
                    model.display()
                ));
                self.state = RunState::Finished { model, stopped };
            }
        }
    }

    /// Seconds left, from the current stage's rate and the steps of the stages still to come.
    pub fn eta(&self) -> Option<f64> {
        let p = &self.progress;
        if p.steps_per_sec <= 0.0 || p.stage.is_none() {
            return None;
        }
        let later: u64 = self.stages_left.iter().map(|(_, n)| n).sum();
        Some((p.total.saturating_sub(p.step) + later) as f64 / p.steps_per_sec)
    }

    /// Shows the panel; returns the actions the user took (also recorded in
    /// [`Self::actions`]).
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Vec<TrainAction> {
        let mut out = Vec::new();
        // Three columns that fit the panel: settings and results at fixed widths, the progress
        // and curves in between taking what is left (never pushing the results off-screen).
        let results_w = theme::TRAIN_PREVIEW_SIZE.x + 8.0;
        let separators = 2.0 * (ui.spacing().item_spacing.x * 2.0 + 1.0);
        let middle_w =
            (ui.available_width() - theme::TRAIN_SETTINGS_WIDTH - results_w - separators)
                .max(300.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(theme::TRAIN_SETTINGS_WIDTH);
                self.settings_ui(ui, &mut out);
            });
            ui.separator();
            ui.vertical(|ui| {
                ui.set_width(middle_w);
                self.progress_ui(ui, &mut out);
            });
            ui.separator();
            ui.vertical(|ui| {
                ui.set_width(results_w);
                self.results_ui(ui, &mut out);
            });
        });
        out.into_iter().map(|a| self.record(a)).collect()
    }

    fn settings_ui(&mut self, ui: &mut egui::Ui, out: &mut Vec<TrainAction>) {
        let running = self.running();
        ui.horizontal(|ui| {
            let cfg = self.config();
            let start = ui
                .add_enabled(!running && cfg.is_ok(), egui::Button::new("Start"))
                .on_disabled_hover_text(match &cfg {
                    Err(e) => e.clone(),
                    Ok(_) => "a run is in progress".into(),
                });
            if start.clicked()
                && let Ok(cfg) = cfg
            {
                out.push(TrainAction::Start(Box::new(cfg)));
            }
            let paused = self.state == RunState::Paused;
            if ui
                .add_enabled(
                    running && self.state != RunState::Stopping,
                    egui::Button::new(if paused { "Resume" } else { "Pause" }),
                )
                .clicked()
            {
                out.push(TrainAction::Send(if paused {
                    Command::Resume
                } else {
                    Command::Pause
                }));
            }
            if ui
                .add_enabled(
                    running && self.state != RunState::Stopping,
                    egui::Button::new("Stop"),
                )
                .on_hover_text("Save a checkpoint and end the run")
                .clicked()
            {
                out.push(TrainAction::Send(Command::Stop));
            }
            if ui
                .add_enabled(running, egui::Button::new("Preview now"))
                .clicked()
            {
                out.push(TrainAction::Send(Command::PreviewNow));
            }
            if ui
                .add_enabled(running, egui::Button::new("Save now"))
                .clicked()
            {
                out.push(TrainAction::Send(Command::SaveNow));
            }
        });
        ui.add_enabled_ui(!running, |ui| {
            egui::Grid::new("train-settings")
                .num_columns(2)
                .show(ui, |ui| {
                    ui.label("Photos");
                    ui.horizontal(|ui| {
                        if ui.button("Choose…").clicked() {
                            out.push(TrainAction::PickData);
                        }
                        ui.add(egui::Label::new(folder_label(self.data.as_ref())).truncate())
                            .on_hover_text(full_label(self.data.as_ref()));
                    });
                    ui.end_row();
                    ui.label("Output");
                    ui.horizontal(|ui| {
                        if ui.button("Choose…").clicked() {
                            out.push(TrainAction::PickOut);
                        }
                        ui.add(egui::Label::new(folder_label(self.out.as_ref())).truncate())
                            .on_hover_text(full_label(self.out.as_ref()));
                    });
                    ui.end_row();
                    ui.label("Preset");
                    egui::ComboBox::from_id_salt("train-preset")
                        .selected_text(self.preset.name())
                        .show_ui(ui, |ui| {
                            for p in [Preset::Tiny, Preset::Small, Preset::Official] {
                                ui.selectable_value(&mut self.preset, p, p.name());
                            }
                        });
                    ui.end_row();
                    ui.label("Resolution");
                    egui::ComboBox::from_id_salt("train-res")
                        .selected_text(format!("{0}×{0}", self.resolution))
                        .show_ui(ui, |ui| {
                            for r in [64, 128, 192, 256] {
                                ui.selectable_value(&mut self.resolution, r, format!("{r}×{r}"));
                            }
                        });
                    ui.end_row();
                    ui.label("Prior steps");
                    ui.add(egui::DragValue::new(&mut self.prior_steps).range(0..=10_000_000));
                    ui.end_row();
                    ui.label("PD-GAN steps");
                    ui.add(egui::DragValue::new(&mut self.pdgan_steps).range(0..=10_000_000));
                    ui.end_row();
                    ui.label("Batch");
                    ui.add(egui::DragValue::new(&mut self.batch).range(1..=256));
                    ui.end_row();
                    ui.label("Seed");
                    ui.add(egui::DragValue::new(&mut self.seed));
                    ui.end_row();
                    ui.label("Backend");
                    egui::ComboBox::from_id_salt("train-backend")
                        .selected_text(backend_name(self.backend))
                        .show_ui(ui, |ui| {
                            for b in [BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Wgpu]
                            {
                                ui.selectable_value(&mut self.backend, b, backend_name(b));
                            }
                        });
                    ui.end_row();
                });
            ui.checkbox(&mut self.resume, "Resume from the newest checkpoint");
        });
        if let Some(e) = &self.error {
            ui.colored_label(theme::ERROR_TEXT, e);
        }
    }

    fn progress_ui(&mut self, ui: &mut egui::Ui, _out: &mut Vec<TrainAction>) {
        let p = self.progress;
        let state = match &self.state {
            RunState::Idle => "Not started".to_owned(),
            RunState::Running => "Running".to_owned(),
            RunState::Paused => "Paused".to_owned(),
            RunState::Stopping => "Stopping (saving a checkpoint)".to_owned(),
            RunState::Finished { stopped, .. } => {
                if *stopped { "Stopped" } else { "Finished" }.to_owned()
            }
            RunState::Failed(e) => format!("Failed: {e}"),
        };
        ui.label(state);
        if let Some(stage) = p.stage {
            let frac = if p.total > 0 {
                p.step as f32 / p.total as f32
            } else {
                0.0
            };
            let eta = self
                .eta()
                .map(|s| format!(", about {} left", format_duration(s)))
                .unwrap_or_default();
            ui.add(egui::ProgressBar::new(frac).text(format!(
                "{stage}: {} / {} ({:.2} it/s{eta})",
                p.step, p.total, p.steps_per_sec
            )));
        }
        if self.losses.is_empty() {
            ui.colored_label(theme::HINT_TEXT, "Loss curves appear once steps run");
        } else {
            self.curves_ui(ui);
        }
        egui::ScrollArea::vertical()
            .id_salt("train-log")
            .max_height(80.0)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for line in &self.log {
                    ui.label(line);
                }
            });
    }

    /// The stage whose curves are shown: the user's pick, else the running (or last) stage.
    pub fn shown_stage(&self) -> Stage {
        self.curve_stage
            .or(self.progress.stage)
            .unwrap_or(Stage::Prior)
    }

    /// The curves of the shown stage as plotted: `(term, points)` with the panel's smoothing
    /// and scale applied.
    pub fn shown_curves(&self) -> Vec<(String, Vec<[f64; 2]>)> {
        let prefix = format!("{}/", self.shown_stage());
        self.losses
            .iter()
            .filter_map(|(name, pts)| {
                let term = name.strip_prefix(&prefix)?;
                Some((
                    term.to_owned(),
                    plot_points(pts, self.smoothing, self.log_scale),
                ))
            })
            .collect()
    }

    fn curves_ui(&mut self, ui: &mut egui::Ui) {
        let shown = self.shown_stage();
        ui.horizontal(|ui| {
            for stage in [Stage::Prior, Stage::Pdgan] {
                let has = self
                    .losses
                    .keys()
                    .any(|k| k.starts_with(&format!("{stage}/")));
                let r = ui.add_enabled(
                    has,
                    egui::Button::selectable(shown == stage, stage.to_string()),
                );
                if r.clicked() {
                    // Picking the running stage goes back to following the run.
                    self.curve_stage = (Some(stage) != self.progress.stage).then_some(stage);
                }
            }
            ui.separator();
            ui.checkbox(&mut self.log_scale, "log scale")
                .on_hover_text("log10 axis; values ≤ 0 (e.g. a negative hinge term) are not drawn");
            ui.add(
                egui::Slider::new(&mut self.smoothing, 0.0..=0.99)
                    .text("smoothing")
                    .fixed_decimals(2),
            )
            .on_hover_text("Exponential moving average of the curves (0 = raw values)");
        });
        let log = self.log_scale;
        let total = match self.progress.stage {
            Some(s) if s == shown => self.progress.total,
            _ => 0,
        };
        let mut plot = Plot::new("train-losses")
            .height(theme::LOSS_PLOT_HEIGHT)
            .legend(Legend::default().position(Corner::RightTop))
            .x_axis_label("step")
            .include_x(0.0)
            .label_formatter(move |pos| {
                let (name, p) = match pos {
                    egui_plot::HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => (*plot_name, *position),
                    egui_plot::HoverPosition::Elsewhere { position } => ("", *position),
                };
                let y = if log { 10f64.powf(p.y) } else { p.y };
                Some(format!("{name}\nstep {:.0}: {}", p.x, format_loss(y)))
            });
        if total > 0 {
            // The whole run on the x axis: progress reads left to right, and the legend sits
            // over the steps still to come.
            plot = plot.include_x(total as f64);
        }
        if log {
            plot = plot
                .y_grid_spacer(log_decades)
                .y_axis_formatter(|mark, _| format_loss(10f64.powf(mark.value)));
        }
        let curves = self.shown_curves();
        plot.show(ui, |plot| {
            for (i, (name, pts)) in curves.into_iter().enumerate() {
                plot.line(Line::new(name, pts).color(theme::loss_colour(i)));
            }
        });
    }

    fn results_ui(&mut self, ui: &mut egui::Ui, out: &mut Vec<TrainAction>) {
        match &self.preview {
            Some((tex, stage, step)) => {
                ui.label(format!("Preview: {stage}, step {step}"));
                let size = tex.size_vec2();
                // Leave room below for the checkpoint list in the visible part of the panel.
                let visible = ui.clip_rect().bottom() - ui.cursor().top() - 90.0;
                let max_h = theme::TRAIN_PREVIEW_SIZE.y.min(visible.max(80.0));
                let scale = (theme::TRAIN_PREVIEW_SIZE.x / size.x)
                    .min(max_h / size.y)
                    .min(1.0);
                ui.image((tex.id(), size * scale));
            }
            None => {
                ui.colored_label(theme::HINT_TEXT, "Preview grids appear here");
            }
        }
        ui.add_space(4.0);
        ui.label("Checkpoints");
        if let RunState::Finished { model, .. } = &self.state
            && ui
                .button("Use the trained model in the generator")
                .clicked()
        {
            out.push(TrainAction::UseModel(model.clone()));
        }
        egui::ScrollArea::vertical()
            .id_salt("train-checkpoints")
            .max_height(120.0)
            .show(ui, |ui| {
                for c in self.checkpoints.iter().rev() {
                    ui.horizontal(|ui| {
                        ui.label(format!("{} step {}", c.stage, c.step));
                        if ui.small_button("Use in the generator").clicked() {
                            out.push(TrainAction::UseModel(c.path.clone()));
                        }
                    });
                }
            });
    }
}

/// A loss curve as plotted: a bias-corrected exponential moving average with weight
/// `smoothing` on the past (0 = the raw values), then log10 of the values when `log` is set,
/// leaving out the values ≤ 0 (and any non-finite ones) there.
pub fn plot_points(pts: &[[f64; 2]], smoothing: f32, log: bool) -> Vec<[f64; 2]> {
    let a = f64::from(smoothing.clamp(0.0, 0.999));
    let mut ema = 0.0;
    let mut weight = 0.0;
    let mut out = Vec::with_capacity(pts.len());
    for &[x, y] in pts {
        if !y.is_finite() {
            continue;
        }
        ema = a * ema + (1.0 - a) * y;
        weight = a * weight + (1.0 - a);
        let v = ema / weight;
        if log {
            if v > 0.0 {
                out.push([x, v.log10()]);
            }
        } else {
            out.push([x, v]);
        }
    }
    out
}

/// Grid marks of a log10 axis: every decade (thick), with 2× and 5× between (thin) when the
/// axis spans few decades.
fn log_decades(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let fine = hi - lo < 3.0;
    let mut marks = Vec::new();
    let (first, last) = (lo.floor() as i64, hi.ceil() as i64);
    for k in first..=last.min(first + 40) {
        let k = k as f64;
        marks.push(GridMark {
            value: k,
            step_size: 1.0,
        });
        if fine {
            for m in [2f64, 5.0] {
                marks.push(GridMark {
                    value: k + m.log10(),
                    step_size: 0.1,
                });
            }
        }
    }
    marks.retain(|m| m.value >= lo && m.value <= hi);
    marks
}

/// A loss value with three significant digits (scientific outside 0.001 … 99 999).
pub fn format_loss(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A folder as the settings column shows it: its last components (`…/photos/train`), since
/// the column is narrow and the end of a path says most.
fn folder_label(p: Option<&PathBuf>) -> String {
    let Some(p) = p else {
        return "not chosen".to_owned();
    };
    let parts: Vec<String> = p
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.len() <= 3 {
        return p.display().to_string();
    }
    format!("…/{}", parts[parts.len() - 2..].join("/"))
}

fn full_label(p: Option<&PathBuf>) -> String {
    p.map_or_else(|| "not chosen".to_owned(), |p| p.display().to_string())
}

fn backend_name(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "Automatic",
        BackendChoice::Cpu => "CPU",
        BackendChoice::Wgpu => "GPU (wgpu)",
    }
}

/// "1 h 02 min", "3 min 05 s", "12 s".
pub fn format_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn step_events_build_progress_losses_and_eta() {
        let ctx = egui::Context::default();
        let mut p = TrainingPanel {
            data: Some("d".into()),
            out: Some("o".into()),
            launch: Launch::Record,
            prior_steps: 100,
            pdgan_steps: 50,
            ..TrainingPanel::default()
        };
        let cfg = p.config().unwrap();
        p.perform(&TrainAction::Start(Box::new(cfg)), None);
        assert!(p.running());
        p.handle_event(
            &ctx,
            Event::StageStarted {
                stage: Stage::Prior,
                step: 0,
                total: 100,
            },
        );
        p.handle_event(
            &ctx,
            Event::Step {
                stage: Stage::Prior,
                step: 10,
                total: 100,
                lr_factor: 1.0,
                losses: vec![("total".into(), 2.0), ("l1".into(), f32::NAN)],
                steps_per_sec: 2.0,
            },
        );
        assert_eq!(p.progress.step, 10);
        assert_eq!(p.losses["prior/total"], vec![[10.0, 2.0]]);
        assert!(!p.losses.contains_key("prior/l1"));
        // 90 steps of the prior and 50 of stage 2 at 2 it/s.
        assert!((p.eta().unwrap() - 70.0).abs() < 1e-9);
        p.handle_event(
            &ctx,
            Event::Finished {
                model: "o/model".into(),
                stopped: true,
            },
        );
        assert!(!p.running());
        assert_eq!(format_duration(3725.0), "1 h 02 min");
        assert_eq!(format_duration(65.0), "1 min 05 s");
    }

    #[test]
    fn curves_are_smoothed_logged_and_shown_per_stage() {
        let raw = [[1.0, 10.0], [2.0, 1000.0], [3.0, f64::NAN], [4.0, -5.0]];
        // Raw values, linear: unchanged apart from the non-finite one.
        assert_eq!(
            plot_points(&raw, 0.0, false),
            vec![[1.0, 10.0], [2.0, 1000.0], [4.0, -5.0]]
        );
        // Log: decades, non-positive values left out.
        assert_eq!(plot_points(&raw, 0.0, true), vec![[1.0, 1.0], [2.0, 3.0]]);
        // Smoothing is bias-corrected: the first point is the raw value, the second the
        // weighted mean (0.5·10 + 1000)/1.5 = 670.
        let s = plot_points(&raw[..2], 0.5, false);
        assert_eq!(s[0], [1.0, 10.0]);
        assert!((s[1][1] - 670.0).abs() < 1e-9);

        let ctx = egui::Context::default();
        let mut p = TrainingPanel::default();
        for (stage, step, v) in [(Stage::Prior, 5, 2.0f32), (Stage::Pdgan, 3, 40.0)] {
            p.handle_event(
                &ctx,
                Event::Step {
                    stage,
                    step,
                    total: 10,
                    lr_factor: 1.0,
                    losses: vec![("total".into(), v), ("tv".into(), 0.01)],
                    steps_per_sec: 1.0,
                },
            );
        }
        // Follows the running stage; terms without the stage prefix.
        assert_eq!(p.shown_stage(), Stage::Pdgan);
        let c = p.shown_curves();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].0, "total");
        assert!((c[0].1[0][1] - 40f64.log10()).abs() < 1e-6);
        p.curve_stage = Some(Stage::Prior);
        assert!((p.shown_curves()[0].1[0][1] - 2f64.log10()).abs() < 1e-6);
        assert_eq!(format_loss(0.0123), "0.012");
        assert_eq!(
            folder_label(Some(&PathBuf::from("/root/.local/share/photos/train"))),
            "…/photos/train"
        );
        assert_eq!(folder_label(Some(&PathBuf::from("runs/a"))), "runs/a");
        assert_eq!(folder_label(None), "not chosen");
        assert_eq!(format_loss(52.46), "52.5");
        assert_eq!(format_loss(2.5e-5), "2.50e-5");
        let marks = log_decades(GridInput {
            bounds: (-1.5, 1.2),
            base_step_size: 0.01,
        });
        assert!(marks.iter().any(|m| m.value == 0.0 && m.step_size == 1.0));
        assert!(marks.iter().any(|m| (m.value - 2f64.log10()).abs() < 1e-12));
        assert!(marks.iter().all(|m| (-1.5..=1.2).contains(&m.value)));
    }

    #[test]
    fn config_needs_both_folders() {
        let mut p = TrainingPanel::default();
        assert!(p.config().is_err());
        p.data = Some("d".into());
        p.out = Some("o".into());
        assert_eq!(p.config().unwrap().model.resolution(), 128);
    }
}
