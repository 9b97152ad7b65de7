//! The studio's background work behind one handle, [`Workers`]: the inference worker (the
//! model on its own thread), the training worker (one run at a time) and the file thread with
//! its dialogs. No egui here: the window calls these methods and drains [`Workers::drain`] once
//! a frame, then applies the [`WorkerEvent`]s to its document and panels.
//!
//! Nothing fails silently: a worker that cannot start is reported ([`Workers::take_problems`],
//! [`Workers::load_model`] and [`Workers::submit`] say when the inference worker is down), and
//! the only stand-in for the real workers is the recorder of [`Workers::recording_for_tests`].

pub mod jobs;
pub mod recipe;

use std::time::{Duration, Instant};

use crate::backend::BackendChoice;
use crate::inference::worker::{
    InferEvent, InferRequest, InferWorker, ModelSource, ReplayRequest, StripRequest,
};
use crate::train::config::TrainConfig;
use crate::train::events::Event as TrainEvent;
use crate::train::worker::{Command as TrainCommand, TrainWorker, error_chain};
use crate::ui::command::TrainingRequest;

pub use crate::train::worker::Waker;
pub use jobs::{
    DialogMode, DialogPurpose, DialogRequest, FileTask, JobResult, Jobs, same_file,
    with_png_extension,
};

/// Something a worker reported.
#[derive(Debug)]
pub enum WorkerEvent {
    /// From the inference worker.
    Infer(InferEvent),
    /// A file job or dialog finished.
    Job(JobResult),
    /// From the training run.
    Train(TrainEvent),
    /// The training thread has ended and every event it sent has been delivered.
    TrainingEnded,
}

/// What the inference side is.
enum InferLink {
    /// The worker thread.
    Running(InferWorker),
    /// It could not start, or stopped for good: why.
    Down(String),
    /// Tests: requests are recorded, nothing runs.
    Recording(Recorded),
}

/// What a recording [`Workers`] was asked to do.
#[derive(Debug, Default)]
struct Recorded {
    requests: Vec<InferRequest>,
    strips: Vec<StripRequest>,
    replays: Vec<ReplayRequest>,
    loads: Vec<ModelSource>,
    generation: u64,
}

/// The workers of one studio window.
pub struct Workers {
    infer: InferLink,
    jobs: Jobs,
    train: Option<TrainWorker>,
    record_training: bool,
    recorded_training: Vec<TrainingRequest>,
    waker: Option<Waker>,
    problems: Vec<String>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("jobs", &self.jobs)
            .field("training", &self.train.is_some())
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts the inference worker on `backend` and the file thread. `waker` is called when
    /// any of them has news (the window passes `ctx.request_repaint`). A worker that cannot
    /// start is listed by [`Workers::take_problems`].
    pub fn start(backend: BackendChoice, dialogs: DialogMode, waker: Option<Waker>) -> Self {
        let mut problems = Vec::new();
        let infer = match InferWorker::spawn(backend, waker.clone()) {
            Ok(w) => InferLink::Running(w),
            Err(e) => {
                let why = format!(
                    "The model worker could not start, so nothing can be generated: {}",
                    error_chain(&e)
                );
                problems.push(why.clone());
                InferLink::Down(why)
            }
        };
        let jobs = Jobs::new(dialogs, waker.clone());
        problems.extend(jobs.start_error().map(str::to_owned));
        Self {
            infer,
            jobs,
            train: None,
            record_training: false,
            recorded_training: Vec::new(),
            waker,
            problems,
        }
    }

    /// For tests: no model or training thread; model loads, inference requests and training
    /// starts are only recorded (see [`Workers::submitted_requests`]). Files are still read
    /// and written on the file thread; dialogs are answered by `dialogs`.
    pub fn recording_for_tests(dialogs: DialogMode) -> Self {
        Self {
            infer: InferLink::Recording(Recorded::default()),
            jobs: Jobs::new(dialogs, None),
            train: None,
            record_training: true,
            recorded_training: Vec::new(),
            waker: None,
            problems: Vec::new(),
        }
    }

    /// Problems found since the last call (a worker that could not start), one sentence each.
    pub fn take_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.problems)
    }

    /// Loads a model on the inference worker.
    ///
    /// # Errors
    /// Why, when the inference worker is down.
    pub fn load_model(&mut self, source: ModelSource) -> Result<(), String> {
        match &mut self.infer {
            InferLink::Running(w) => {
                w.load_model(source);
                Ok(())
            }
            InferLink::Down(why) => Err(why.clone()),
            InferLink::Recording(r) => {
                r.loads.push(source);
                Ok(())
            }
        }
    }

    /// Submits an inference request (superseding the running one); returns its generation.
    ///
    /// # Errors
    /// Why, when the inference worker is down.
    pub fn submit(&mut self, req: InferRequest) -> Result<u64, String> {
        match &mut self.infer {
            InferLink::Running(w) => Ok(w.submit(req)),
            InferLink::Down(why) => Err(why.clone()),
            InferLink::Recording(r) => {
                r.requests.push(req);
                r.generation += 1;
                Ok(r.generation)
            }
        }
    }

    /// Submits an interpolation strip (superseding the running request); returns its
    /// generation.
    ///
    /// # Errors
    /// Why, when the inference worker is down.
    pub fn submit_strip(&mut self, req: StripRequest) -> Result<u64, String> {
        match &mut self.infer {
            InferLink::Running(w) => Ok(w.submit_strip(req)),
            InferLink::Down(why) => Err(why.clone()),
            InferLink::Recording(r) => {
                r.strips.push(req);
                r.generation += 1;
                Ok(r.generation)
            }
        }
    }

    /// Submits a recipe's replay (superseding the running request); returns its generation.
    ///
    /// # Errors
    /// Why, when the inference worker is down.
    pub fn submit_replay(&mut self, req: ReplayRequest) -> Result<u64, String> {
        match &mut self.infer {
            InferLink::Running(w) => Ok(w.submit_replay(req)),
            InferLink::Down(why) => Err(why.clone()),
            InferLink::Recording(r) => {
                r.replays.push(req);
                r.generation += 1;
                Ok(r.generation)
            }
        }
    }

    /// The replays a recording [`Workers`] received (empty for real workers).
    pub fn submitted_replays(&self) -> &[ReplayRequest] {
        match &self.infer {
            InferLink::Recording(r) => &r.replays,
            _ => &[],
        }
    }

    /// The strip requests a recording [`Workers`] received (empty for real workers).
    pub fn submitted_strips(&self) -> &[StripRequest] {
        match &self.infer {
            InferLink::Recording(r) => &r.strips,
            _ => &[],
        }
    }

    /// Stops the running inference request between samples.
    pub fn cancel(&mut self) {
        if let InferLink::Running(w) = &self.infer {
            w.cancel();
        }
    }

    /// The inference worker reported that it stopped for good: later loads and requests are
    /// refused with `why`.
    pub fn inference_stopped(&mut self, why: String) {
        self.infer = InferLink::Down(why);
    }

    /// The requests a recording [`Workers`] received (empty for real workers).
    pub fn submitted_requests(&self) -> &[InferRequest] {
        match &self.infer {
            InferLink::Recording(r) => &r.requests,
            _ => &[],
        }
    }

    /// The model loads a recording [`Workers`] received (empty for real workers).
    pub fn requested_models(&self) -> &[ModelSource] {
        match &self.infer {
            InferLink::Recording(r) => &r.loads,
            _ => &[],
        }
    }

    /// Runs a file job on the file thread.
    pub fn run_job(&mut self, job: impl FnOnce() -> JobResult + Send + 'static) {
        self.jobs.run(job);
    }

    /// Shows a file dialog; the answer arrives as [`JobResult::Picked`].
    pub fn dialog(&mut self, req: DialogRequest) {
        self.jobs.dialog(req);
    }

    /// Whether file jobs or dialogs are still running.
    pub fn files_busy(&self) -> bool {
        self.jobs.busy()
    }

    /// Starts a training run on `backend` (a recording [`Workers`] only records it).
    ///
    /// # Errors
    /// Why, when the training thread cannot be started or a run is already going.
    pub fn start_training(
        &mut self,
        cfg: TrainConfig,
        backend: BackendChoice,
    ) -> Result<(), String> {
        if self.train.is_some() {
            return Err("a training run is already going".into());
        }
        if self.record_training {
            self.recorded_training
                .push(TrainingRequest::Start(Box::new(cfg)));
            return Ok(());
        }
        let w =
            TrainWorker::spawn(cfg, backend, self.waker.clone()).map_err(|e| error_chain(&e))?;
        self.train = Some(w);
        Ok(())
    }

    /// Steers the training run (takes effect between steps; nothing when none runs).
    pub fn steer_training(&mut self, cmd: TrainCommand) {
        if let Some(w) = &self.train {
            w.send(cmd);
        } else if self.record_training {
            self.recorded_training.push(TrainingRequest::Steer(cmd));
        }
    }

    /// What a recording [`Workers`] was asked to do with training runs, oldest first.
    pub fn recorded_training(&self) -> &[TrainingRequest] {
        &self.recorded_training
    }

    /// Pending events of all workers, taken until `budget` has passed (inference first, then
    /// files, then training); the rest stay queued for the next call.
    pub fn drain(&mut self, budget: Duration) -> Vec<WorkerEvent> {
        let start = Instant::now();
        let left = || {
            budget
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1))
        };
        let mut out: Vec<WorkerEvent> = match &self.infer {
            InferLink::Running(w) => w
                .drain(budget)
                .into_iter()
                .map(WorkerEvent::Infer)
                .collect(),
            _ => Vec::new(),
        };
        out.extend(self.jobs.drain(left()).into_iter().map(WorkerEvent::Job));
        if let Some(w) = &self.train {
            let events = w.drain(left());
            let finished = w.is_finished();
            let none = events.is_empty();
            out.extend(events.into_iter().map(WorkerEvent::Train));
            // Drop the worker once its thread has ended and its channel is empty.
            if finished && none {
                self.train = None;
                out.push(WorkerEvent::TrainingEnded);
            }
        }
        out
    }
}
