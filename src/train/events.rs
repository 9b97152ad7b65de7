//! What a training run tells the outside world, and how the outside world steers it.
//!
//! [`crate::train::run`] reports through a [`ProgressSink`] (the CLI prints and draws a progress
//! bar; the GUI's worker forwards to a bounded channel) and obeys a [`StopFlag`] (stop, pause,
//! preview now, save now), checked between steps. Only plain data crosses: numbers, strings,
//! paths and small RGB images.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

/// The two training stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Stage 1: the partial-conv prior.
    Prior,
    /// Stage 2: the PD-GAN generator and discriminator (prior frozen).
    Pdgan,
}

impl Stage {
    /// The stage's name as used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Prior => "prior",
            Stage::Pdgan => "pdgan",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One event of a training run, in the order they happen.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run has loaded its data and networks.
    Started {
        /// Model folder the run writes at the end.
        out: PathBuf,
        /// Photos found in the data folder.
        photos: usize,
        /// Files skipped as unreadable.
        skipped: usize,
        /// What the losses' feature network is (says plainly when it is random).
        vgg: String,
        /// Step and stage of the checkpoint the run resumed from, if any.
        resumed: Option<(Stage, u64)>,
    },
    /// A stage begins (or resumes) at `step` of `total`.
    StageStarted {
        /// The stage.
        stage: Stage,
        /// First step to run (0 unless resumed).
        step: u64,
        /// Steps of this stage in all.
        total: u64,
    },
    /// A completed optimisation step (may be dropped when the receiver is slow).
    Step {
        /// The stage.
        stage: Stage,
        /// Steps done in this stage after this one.
        step: u64,
        /// Steps of this stage in all.
        total: u64,
        /// Learning-rate factor of the schedule (times the NaN back-off) at this step.
        lr_factor: f64,
        /// Loss terms by name (`total` first).
        losses: Vec<(String, f32)>,
        /// Steps per second (moving average).
        steps_per_sec: f64,
    },
    /// A step was skipped because a loss was NaN or infinite.
    Skipped {
        /// The stage.
        stage: Stage,
        /// The step that was skipped.
        step: u64,
        /// What went wrong.
        reason: String,
    },
    /// Repeated failures: the last checkpoint was restored and the learning rate lowered.
    Restored {
        /// The stage.
        stage: Stage,
        /// Step of the restored checkpoint.
        step: u64,
        /// The new learning-rate back-off factor.
        lr_backoff: f64,
    },
    /// A checkpoint was written completely.
    Checkpoint {
        /// The stage.
        stage: Stage,
        /// Step of the checkpoint.
        step: u64,
        /// Its folder (a model folder that inference can load).
        path: PathBuf,
    },
    /// A fixed-z preview grid was written.
    Preview {
        /// The stage.
        stage: Stage,
        /// Step of the preview.
        step: u64,
        /// The PNG on disk.
        path: PathBuf,
        /// The grid itself.
        image: image::RgbImage,
    },
    /// Paused (no steps run until resumed or stopped).
    Paused,
    /// Running again after a pause.
    Resumed,
    /// A stage finished all its steps.
    StageFinished {
        /// The stage.
        stage: Stage,
    },
    /// A message for the log.
    Log(String),
    /// The run failed with an error (nothing after the last checkpoint was saved).
    Failed {
        /// The error, with its causes.
        error: String,
    },
    /// The run ended: either all steps done, or stopped (then a checkpoint was saved first).
    Finished {
        /// The final model folder.
        model: PathBuf,
        /// Whether the run was stopped before all steps were done.
        stopped: bool,
    },
}

/// Receives the events of a run.
pub trait ProgressSink {
    /// Called for every event, on the training thread; must not block for long.
    fn event(&mut self, event: Event);
}

/// A sink that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl ProgressSink for NullSink {
    fn event(&mut self, _event: Event) {}
}

/// A sink that keeps every event (tests, scripts).
#[derive(Debug, Default)]
pub struct VecSink(pub Vec<Event>);

impl ProgressSink for VecSink {
    fn event(&mut self, event: Event) {
        self.0.push(event);
    }
}

impl<F: FnMut(Event)> ProgressSink for F {
    fn event(&mut self, event: Event) {
        self(event)
    }
}

#[derive(Debug, Default)]
struct Flags {
    stop: AtomicBool,
    pause: AtomicBool,
    preview: AtomicBool,
    save: AtomicBool,
}

/// Shared control of a run: stop, pause/resume, preview now, save now. Cheap to clone; every
/// clone steers the same run. The run checks it between steps, so a stop takes effect within
/// one step.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<Flags>);

impl StopFlag {
    /// A fresh flag (running, not paused).
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to save a checkpoint and end.
    pub fn stop(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn is_stopped(&self) -> bool {
        self.0.stop.load(Ordering::SeqCst)
    }

    /// Pauses (`true`) or resumes (`false`) the run.
    pub fn set_paused(&self, paused: bool) {
        self.0.pause.store(paused, Ordering::SeqCst);
    }

    /// Whether the run is asked to pause.
    pub fn is_paused(&self) -> bool {
        self.0.pause.load(Ordering::SeqCst)
    }

    /// Asks for a preview grid after the current step.
    pub fn request_preview(&self) {
        self.0.preview.store(true, Ordering::SeqCst);
    }

    /// Asks for a checkpoint after the current step.
    pub fn request_save(&self) {
        self.0.save.store(true, Ordering::SeqCst);
    }

    /// Takes (and clears) a pending preview request.
    pub fn take_preview(&self) -> bool {
        self.0.preview.swap(false, Ordering::SeqCst)
    }

    /// Takes (and clears) a pending save request.
    pub fn take_save(&self) -> bool {
        self.0.save.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_shared_between_clones_and_requests_are_taken_once() {
        let a = StopFlag::new();
        let b = a.clone();
        assert!(!b.is_stopped());
        a.stop();
        assert!(b.is_stopped());
        b.request_preview();
        assert!(a.take_preview());
        assert!(!a.take_preview());
        a.set_paused(true);
        assert!(b.is_paused());
        a.set_paused(false);
        assert!(!b.is_paused());
        b.request_save();
        assert!(a.take_save());
        assert!(!b.take_save());
    }

    #[test]
    fn closures_are_sinks() {
        let mut n = 0;
        {
            let mut sink = |_e: Event| n += 1;
            sink.event(Event::Paused);
            sink.event(Event::Resumed);
        }
        assert_eq!(n, 2);
    }
}
