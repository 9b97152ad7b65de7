//! The training panel: set up a run, start it, watch it.
//!
//! The panel never trains itself: it returns [`Command`]s (start, pause, stop, choose a
//! folder, use a checkpoint) and the studio starts and steers the run on the training worker
//! (`crate::ui::workers`). The run's events come back through [`TrainingPanel::handle_event`]:
//! step events feed the progress bar (steps/s, ETA) and one loss curve per stage and term
//! ([`LossCurves`]); preview grids and checkpoints are listed as they arrive. The photo and
//! output folders are preferences; the panel reads them as [`Folders`].

mod curves;
mod settings;

use std::path::{Path, PathBuf};

use egui::TextureHandle;

use crate::backend::BackendChoice;
use crate::inference::worker::ModelSource;
use crate::model::Preset;
use crate::train::config::TrainConfig;
use crate::train::events::{Event, Stage};
use crate::train::worker::Command as TrainCommand;
use crate::ui::command::Command;
use crate::ui::textures::{PIXEL_OPTIONS, color_image};
use crate::ui::theme;

pub use curves::{LossCurves, format_loss, plot_points};

/// The run's folders (kept in the preferences).
#[derive(Debug, Clone, Copy, Default)]
pub struct Folders<'a> {
    /// The training photos.
    pub data: Option<&'a Path>,
    /// Where the run writes.
    pub out: Option<&'a Path>,
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
    /// Where the run is.
    pub state: RunState,
    /// Newest progress.
    pub progress: Progress,
    /// The loss curves.
    pub curves: LossCurves,
    /// Checkpoints, newest last.
    pub checkpoints: Vec<CheckpointEntry>,
    /// Log lines, newest last.
    pub log: Vec<String>,
    /// Steps of stages finished before the current one (for the ETA).
    stages_left: Vec<(Stage, u64)>,
    preview: Option<(TextureHandle, Stage, u64)>,
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
            preset: Preset::Small,
            resolution: 128,
            prior_steps: 1000,
            pdgan_steps: 1000,
            batch: 4,
            seed: 0,
            resume: false,
            backend: BackendChoice::Auto,
            state: RunState::Idle,
            progress: Progress::default(),
            curves: LossCurves::default(),
            checkpoints: Vec::new(),
            log: Vec::new(),
            stages_left: Vec::new(),
            preview: None,
        }
    }
}

const MAX_LOG: usize = 500;

impl TrainingPanel {
    /// Whether a run is in progress.
    pub fn running(&self) -> bool {
        matches!(
            self.state,
            RunState::Running | RunState::Paused | RunState::Stopping
        )
    }

    /// The run's configuration from the panel's fields and the `folders`.
    ///
    /// # Errors
    /// A message when a folder is missing or a number is invalid.
    pub fn config(&self, folders: Folders<'_>) -> Result<TrainConfig, String> {
        let data = folders.data.ok_or("choose a photo folder first")?;
        let out = folders.out.ok_or("choose an output folder first")?;
        let mut cfg = TrainConfig::new(data.to_path_buf(), out.to_path_buf(), self.preset.config());
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

    fn push_log(&mut self, line: String) {
        self.log.push(line);
        if self.log.len() > MAX_LOG {
            self.log.remove(0);
        }
    }

    /// A run of `cfg` was started on the training worker: the panel starts following it.
    pub fn started(&mut self, cfg: &TrainConfig) {
        self.state = RunState::Running;
        self.progress = Progress::default();
        self.curves.clear();
        self.checkpoints.clear();
        self.preview = None;
        self.stages_left = cfg.stages.iter().map(|&s| (s, cfg.steps(s))).collect();
        self.push_log(format!(
            "starting: {} preset at {}², batch {}, {} + {} steps",
            self.preset.name(),
            self.resolution,
            cfg.batch,
            cfg.prior_steps,
            cfg.pdgan_steps
        ));
    }

    /// The run could not be started.
    pub fn start_failed(&mut self, why: String) {
        self.push_log(format!("could not start: {why}"));
        self.state = RunState::Failed(why);
    }

    /// A steering command was sent to the run.
    pub fn steered(&mut self, cmd: TrainCommand) {
        match cmd {
            TrainCommand::Pause => self.state = RunState::Paused,
            TrainCommand::Resume => self.state = RunState::Running,
            TrainCommand::Stop => self.state = RunState::Stopping,
            TrainCommand::PreviewNow | TrainCommand::SaveNow => {}
        }
    }

    /// The training thread ended and all its events were taken.
    pub fn thread_ended(&mut self) {
        if self.running() {
            self.state = RunState::Failed("the training thread ended without a result".into());
        }
    }

    /// Takes one event of the run into the panel.
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
                self.curves.push(stage, step, losses);
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

    /// Steps done in all stages so far (a finished first stage counts whole).
    pub fn steps_done(&self, prior_steps: u64) -> u64 {
        match self.progress.stage {
            Some(Stage::Prior) => self.progress.step,
            Some(Stage::Pdgan) => prior_steps + self.progress.step,
            None => 0,
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

    /// Shows the panel; returns what the user asked for.
    #[must_use]
    pub fn show(&mut self, ui: &mut egui::Ui, folders: Folders<'_>) -> Vec<Command> {
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
                self.settings_ui(ui, folders, &mut out);
            });
            ui.separator();
            ui.vertical(|ui| {
                ui.set_width(middle_w);
                self.progress_ui(ui);
            });
            ui.separator();
            ui.vertical(|ui| {
                ui.set_width(results_w);
                self.results_ui(ui, &mut out);
            });
        });
        out
    }

    fn progress_ui(&mut self, ui: &mut egui::Ui) {
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
        if self.curves.is_empty() {
            ui.colored_label(theme::HINT_TEXT, "Loss curves appear once steps run");
        } else {
            self.curves.ui(ui, p.stage, p.total);
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

    fn results_ui(&mut self, ui: &mut egui::Ui, out: &mut Vec<Command>) {
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
            out.push(Command::LoadModel(ModelSource::Folder(model.clone())));
        }
        egui::ScrollArea::vertical()
            .id_salt("train-checkpoints")
            .max_height(120.0)
            .show(ui, |ui| {
                for c in self.checkpoints.iter().rev() {
                    ui.horizontal(|ui| {
                        ui.label(format!("{} step {}", c.stage, c.step));
                        if ui.small_button("Use in the generator").clicked() {
                            out.push(Command::LoadModel(ModelSource::Folder(c.path.clone())));
                        }
                    });
                }
            });
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

    fn folders() -> Folders<'static> {
        Folders {
            data: Some(Path::new("d")),
            out: Some(Path::new("o")),
        }
    }

    #[test]
    fn step_events_build_progress_losses_and_eta() {
        let ctx = egui::Context::default();
        let mut p = TrainingPanel {
            prior_steps: 100,
            pdgan_steps: 50,
            ..TrainingPanel::default()
        };
        let cfg = p.config(folders()).unwrap();
        p.started(&cfg);
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
        assert_eq!(p.steps_done(100), 10);
        assert_eq!(
            p.curves.points(Stage::Prior, "total"),
            Some(&[[10.0, 2.0]][..])
        );
        assert!(p.curves.points(Stage::Prior, "l1").is_none());
        // 90 steps of the prior and 50 of stage 2 at 2 it/s.
        assert!((p.eta().unwrap() - 70.0).abs() < 1e-9);
        p.steered(TrainCommand::Pause);
        assert_eq!(p.state, RunState::Paused);
        p.handle_event(
            &ctx,
            Event::Finished {
                model: "o/model".into(),
                stopped: true,
            },
        );
        assert!(!p.running());
        p.thread_ended();
        assert!(matches!(p.state, RunState::Finished { stopped: true, .. }));
        assert_eq!(format_duration(3725.0), "1 h 02 min");
        assert_eq!(format_duration(65.0), "1 min 05 s");
    }

    #[test]
    fn a_thread_that_ends_mid_run_is_a_failure() {
        let mut p = TrainingPanel::default();
        let cfg = p.config(folders()).unwrap();
        p.started(&cfg);
        p.thread_ended();
        assert!(matches!(p.state, RunState::Failed(_)));
    }
}
