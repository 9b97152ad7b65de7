//! Options of the studio window (no subcommand): what to open, and automation for screenshots
//! and frame-time measurement (`scripts/screenshots.sh`).

use std::path::PathBuf;
use std::time::Duration;

use pdpaint::ui::overlay::MapKind;
use pdpaint::ui::script::{CompareStep, Script, ScriptTraining};

/// Window options (all optional).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Window")]
pub struct WindowArgs {
    /// Open the photo with this mask (PNG, white = hole; resized to the photo if needed).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Show this map over the photo.
    #[arg(long, value_enum)]
    pub overlay: Option<MapKind>,
    /// Tint the holes (true/false).
    #[arg(long)]
    pub mask_tint: Option<bool>,
    /// Generator unit of the map (0 = coarsest … 5 = finest).
    #[arg(long)]
    pub unit: Option<usize>,
    /// Opacity of the map, 0–1.
    #[arg(long)]
    pub opacity: Option<f32>,
    /// Number of samples (1–16).
    #[arg(long)]
    pub samples: Option<usize>,
    /// First seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Generate as soon as the photo, the mask and the model are ready.
    #[arg(long)]
    pub generate: bool,
    /// Select this sample (0-based) once generated and preview it on the canvas.
    #[arg(long)]
    pub select: Option<usize>,
    /// Then compare it with another sample: `wipe:<slot>:<split>` (wipe on, line at 0–1),
    /// `strip:<slot>:<fills>` (the in-between strip, waiting for its fills), or steer:
    /// `keep:<slot>:<fraction>` (keep the left part of that sample's fill, re-roll the rest and
    /// wait) or `mix:<slot>:<fraction>` (brush that sample into the right part of the selected
    /// one).
    #[arg(long, help_heading = "Window automation")]
    pub compare: Option<CompareStep>,
    /// Start a training run on this photo folder (shows the training panel).
    #[arg(long, help_heading = "Window automation")]
    pub train_data: Option<PathBuf>,
    /// Output folder of that run (resumed if it holds one).
    #[arg(long, help_heading = "Window automation", requires = "train_data")]
    pub train_out: Option<PathBuf>,
    /// Stage-1 steps of that run.
    #[arg(long, help_heading = "Window automation", default_value_t = 40)]
    pub train_prior_steps: u64,
    /// Stage-2 steps of that run.
    #[arg(long, help_heading = "Window automation", default_value_t = 40)]
    pub train_pdgan_steps: u64,
    /// Preview/checkpoint interval of that run.
    #[arg(long, help_heading = "Window automation", default_value_t = 10)]
    pub train_every: u64,
    /// Resolution of that run (multiple of 64).
    #[arg(long, help_heading = "Window automation", default_value_t = 128)]
    pub train_res: usize,
    /// Batch of that run.
    #[arg(long, help_heading = "Window automation", default_value_t = 2)]
    pub train_batch: usize,
    /// Screenshot once the run has done this many steps (both stages counted).
    #[arg(long, help_heading = "Window automation", default_value_t = 30)]
    pub shot_after_steps: u64,
    /// Keep generating while the run trains (frame-time load).
    #[arg(long, help_heading = "Window automation")]
    pub generate_while_training: bool,
    /// Write a PNG of the window once everything asked for is ready.
    #[arg(long, help_heading = "Window automation")]
    pub screenshot: Option<PathBuf>,
    /// Redraw continuously and write frame-time statistics (JSON) at the end.
    #[arg(long, help_heading = "Window automation")]
    pub frame_log: Option<PathBuf>,
    /// Close the window when done (a training run is stopped and saved first).
    #[arg(long, help_heading = "Window automation")]
    pub quit: bool,
    /// Stop waiting after this many seconds.
    #[arg(long, help_heading = "Window automation")]
    pub timeout: Option<f64>,
}

impl WindowArgs {
    /// The automation script these options describe.
    pub fn script(&self) -> Script {
        Script {
            mask: self.mask.clone(),
            map: self.overlay,
            mask_tint: self.mask_tint,
            unit: self.unit,
            opacity: self.opacity,
            samples: self.samples,
            seed: self.seed,
            generate: self.generate,
            select: self.select,
            compare: self.compare,
            train: self.train_data.clone().map(|data| ScriptTraining {
                out: self
                    .train_out
                    .clone()
                    .unwrap_or_else(|| std::env::temp_dir().join("pdpaint-window-run")),
                data,
                prior_steps: self.train_prior_steps,
                pdgan_steps: self.train_pdgan_steps,
                every: self.train_every,
                resolution: self.train_res,
                batch: self.train_batch,
                shot_after_steps: self.shot_after_steps,
            }),
            generate_while_training: self.generate_while_training,
            screenshot: self.screenshot.clone(),
            frame_log: self.frame_log.clone(),
            quit: self.quit,
            timeout: self
                .timeout
                .filter(|t| t.is_finite() && *t > 0.0)
                .map(Duration::from_secs_f64),
        }
    }
}
