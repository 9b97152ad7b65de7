//! File I/O, slow mask operations and file dialogs, off the UI thread.
//!
//! [`Jobs`] runs closures on one named thread (`pdpaint-io`) and hands their results back
//! through a channel the app drains each frame. File dialogs block, so each runs on its own
//! short-lived thread; in tests a scripted [`DialogMode`] answers instead, so no dialog ever
//! opens. When the thread cannot be started, jobs run on the caller's thread and
//! [`Jobs::start_error`] says why (the studio shows it).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::mask::Mask;
use crate::train::worker::Waker;
use crate::ui::doc::WholeMaskOp;

/// Why a dialog was opened (what to do with its answer).
#[derive(Debug, Clone, PartialEq)]
pub enum DialogPurpose {
    /// Open a photo.
    OpenPhoto,
    /// Save the current photo.
    SaveImage,
    /// Export the mask as a PNG.
    ExportMask,
    /// Import a mask PNG.
    ImportMask,
    /// Choose a model folder.
    ModelFolder,
    /// Save gallery sample `i`.
    SaveSample(usize),
    /// Save every sample into a folder.
    SaveAllSamples,
    /// Training photo folder.
    TrainData,
    /// Training output folder.
    TrainOut,
    /// Save the gallery's recipe.
    SaveRecipe,
    /// Open a recipe and replay it.
    OpenRecipe,
}

impl DialogPurpose {
    fn title(&self) -> &'static str {
        match self {
            DialogPurpose::OpenPhoto => "Open photo",
            DialogPurpose::SaveImage => "Save image",
            DialogPurpose::ExportMask => "Export mask",
            DialogPurpose::ImportMask => "Import mask",
            DialogPurpose::ModelFolder => "Choose a model folder",
            DialogPurpose::SaveSample(_) => "Save sample",
            DialogPurpose::SaveAllSamples => "Choose a folder for the samples",
            DialogPurpose::TrainData => "Choose the training photo folder",
            DialogPurpose::TrainOut => "Choose the training output folder",
            DialogPurpose::SaveRecipe => "Save recipe",
            DialogPurpose::OpenRecipe => "Open recipe",
        }
    }
}

/// A dialog to show.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogRequest {
    /// What the answer is for.
    pub purpose: DialogPurpose,
    /// The folder to start in.
    pub start_dir: Option<PathBuf>,
    /// Suggested file name (save dialogs).
    pub file_name: Option<String>,
}

/// How dialogs are answered.
#[derive(Debug, Clone, Default)]
pub enum DialogMode {
    /// Native dialogs (rfd).
    #[default]
    Native,
    /// Answers taken from a queue, oldest first (`None` = cancelled); every request is
    /// recorded. For tests.
    Scripted {
        /// The answers.
        answers: Arc<Mutex<VecDeque<Option<PathBuf>>>>,
        /// The requests seen.
        seen: Arc<Mutex<Vec<DialogRequest>>>,
    },
}

/// A file task whose failure the studio reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTask {
    /// Reading a photo.
    OpenPhoto,
    /// Writing an image (the photo or a sample).
    SaveImage,
    /// Writing the mask.
    ExportMask,
    /// Reading a mask.
    ImportMask,
    /// Showing a file dialog.
    Dialog,
    /// Writing a recipe.
    SaveRecipe,
    /// Reading a recipe.
    OpenRecipe,
}

impl FileTask {
    /// How its failure begins, e.g. "Could not open the photo".
    pub fn failure(self) -> &'static str {
        match self {
            FileTask::OpenPhoto => "Could not open the photo",
            FileTask::SaveImage => "Could not save the image",
            FileTask::ExportMask => "Could not export the mask",
            FileTask::ImportMask => "Could not import the mask",
            FileTask::Dialog => "Could not show the file dialog",
            FileTask::SaveRecipe => "Could not save the recipe",
            FileTask::OpenRecipe => "Could not open the recipe",
        }
    }
}

/// What a job produced.
#[derive(Debug)]
pub enum JobResult {
    /// A dialog was answered (`None`: cancelled).
    Picked {
        /// The request.
        purpose: DialogPurpose,
        /// The chosen path.
        path: Option<PathBuf>,
    },
    /// A photo was decoded.
    PhotoLoaded {
        /// Its file.
        path: PathBuf,
        /// The pixels.
        image: RgbImage,
        /// What the conversion to 8-bit RGB lost (alpha, depth), one sentence each.
        notes: Vec<String>,
    },
    /// A mask was read (and resized to the photo when needed).
    MaskLoaded {
        /// Its file.
        path: PathBuf,
        /// The mask.
        mask: Mask,
        /// Whether it had to be resized.
        resized: bool,
    },
    /// A whole-mask operation finished.
    MaskComputed {
        /// What it was.
        op: WholeMaskOp,
        /// The document revision it started from (stale results are dropped).
        revision: u64,
        /// The new mask.
        mask: Mask,
    },
    /// A file was written.
    Saved {
        /// Where.
        path: PathBuf,
    },
    /// A mix step was computed (or undone) off the UI thread.
    Mixed {
        /// The generation whose gallery holds the mix.
        generation: u64,
        /// The mix with the step, or as it was when the step failed.
        stack: Box<crate::steer::mix::MixStack>,
        /// What came of it: the mixed photo, its thumbnail and scores, and whether a raw
        /// sample went in while detail was on; or why the step failed.
        outcome: std::result::Result<MixedImage, String>,
    },
    /// A pin was pushed onto the pin stack, or the last one popped, off the UI thread.
    PinsChanged {
        /// The stack after the change (as it was when a push failed).
        stack: Box<crate::steer::pin::PinStack>,
        /// Pushed or popped.
        change: PinChange,
        /// Every pixel the pins keep now; or why the pin was refused.
        outcome: std::result::Result<Mask, String>,
        /// The Keep brush's mask, given back when the pin was refused.
        brush: Option<Mask>,
    },
    /// A recipe was read and checked against the inputs.
    RecipeOpened(Box<super::recipe::OpenedRecipe>),
    /// A job failed.
    Failed {
        /// What was being done.
        task: FileTask,
        /// Why, with causes.
        error: String,
    },
}

/// What a [`JobResult::PinsChanged`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinChange {
    /// A pin was added ("Re-roll the rest").
    Pushed,
    /// The last pin was dropped ("Undo pin").
    Popped,
}

/// A mix as it is after a step.
#[derive(Debug)]
pub struct MixedImage {
    /// The mixed photo.
    pub image: Arc<RgbImage>,
    /// Its gallery thumbnail.
    pub thumb: RgbImage,
    /// Its seam score (the realism score needs the model: not computed for mixes).
    pub scores: std::result::Result<crate::steer::score::SampleScores, String>,
    /// A raw sample went into this step while detail was on.
    pub raw_parts: bool,
}

type Job = Box<dyn FnOnce() -> JobResult + Send>;

/// The job thread and the dialog launcher.
pub struct Jobs {
    tx: Option<Sender<Job>>,
    results_tx: Sender<JobResult>,
    results: Receiver<JobResult>,
    handle: Option<JoinHandle<()>>,
    waker: Option<Waker>,
    /// How dialogs are answered.
    pub dialogs: DialogMode,
    pending: usize,
    start_error: Option<String>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Jobs {
    /// Starts the job thread.
    pub fn new(dialogs: DialogMode, waker: Option<Waker>) -> Self {
        let (tx, rx) = channel::<Job>();
        let (results_tx, results) = channel::<JobResult>();
        let rtx = results_tx.clone();
        let w = waker.clone();
        let spawned = std::thread::Builder::new()
            .name("pdpaint-io".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let r = job();
                    if rtx.send(r).is_err() {
                        break;
                    }
                    if let Some(w) = &w {
                        w();
                    }
                }
            });
        let (handle, start_error) = match spawned {
            Ok(h) => (Some(h), None),
            Err(e) => (
                None,
                Some(format!(
                    "could not start the file thread ({e}): files are read and written on the \
                     window's thread, which may pause while they are"
                )),
            ),
        };
        Self {
            tx: handle.as_ref().map(|_| tx),
            results_tx,
            results,
            handle,
            waker,
            dialogs,
            pending: 0,
            start_error,
        }
    }

    /// Why the job thread could not be started, if it could not (jobs then run inline).
    pub fn start_error(&self) -> Option<&str> {
        self.start_error.as_deref()
    }

    /// Whether jobs or dialogs are still running.
    pub fn busy(&self) -> bool {
        self.pending > 0
    }

    /// Runs `job` on the job thread (or here, when the thread could not start).
    pub fn run(&mut self, job: impl FnOnce() -> JobResult + Send + 'static) {
        self.pending += 1;
        let job: Job = Box::new(job);
        match &self.tx {
            Some(tx) => {
                if let Err(e) = tx.send(job) {
                    let r = (e.0)();
                    let _ = self.results_tx.send(r);
                }
            }
            None => {
                let r = job();
                let _ = self.results_tx.send(r);
            }
        }
    }

    /// Shows a dialog; its answer arrives as [`JobResult::Picked`].
    pub fn dialog(&mut self, req: DialogRequest) {
        self.pending += 1;
        match &self.dialogs {
            DialogMode::Scripted { answers, seen } => {
                let path = answers
                    .lock()
                    .map(|mut a| a.pop_front().flatten())
                    .unwrap_or(None);
                if let Ok(mut s) = seen.lock() {
                    s.push(req.clone());
                }
                let _ = self.results_tx.send(JobResult::Picked {
                    purpose: req.purpose,
                    path,
                });
            }
            DialogMode::Native => {
                let tx = self.results_tx.clone();
                let waker = self.waker.clone();
                let spawned = std::thread::Builder::new()
                    .name("pdpaint-dialog".into())
                    .spawn(move || {
                        let path = native_dialog(&req);
                        let _ = tx.send(JobResult::Picked {
                            purpose: req.purpose,
                            path,
                        });
                        if let Some(w) = waker {
                            w();
                        }
                    });
                if let Err(e) = spawned {
                    let _ = self.results_tx.send(JobResult::Failed {
                        task: FileTask::Dialog,
                        error: format!("could not start its thread: {e}"),
                    });
                }
            }
        }
    }

    /// Finished results, taken until `budget` has passed.
    pub fn drain(&mut self, budget: Duration) -> Vec<JobResult> {
        let start = Instant::now();
        let mut out = Vec::new();
        while start.elapsed() < budget {
            match self.results.try_recv() {
                Ok(r) => {
                    self.pending = self.pending.saturating_sub(1);
                    out.push(r);
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        out
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

const PHOTO_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "PNG", "JPG"];

fn native_dialog(req: &DialogRequest) -> Option<PathBuf> {
    let mut d = rfd::FileDialog::new().set_title(req.purpose.title());
    if let Some(dir) = &req.start_dir {
        d = d.set_directory(dir);
    }
    if let Some(name) = &req.file_name {
        d = d.set_file_name(name);
    }
    match req.purpose {
        DialogPurpose::OpenPhoto => d.add_filter("Photos", &PHOTO_EXTENSIONS).pick_file(),
        DialogPurpose::ImportMask => d.add_filter("PNG masks", &["png", "PNG"]).pick_file(),
        DialogPurpose::SaveImage | DialogPurpose::ExportMask | DialogPurpose::SaveSample(_) => {
            d.add_filter("PNG", &["png"]).save_file()
        }
        DialogPurpose::OpenRecipe => d.add_filter("Recipes", &["json"]).pick_file(),
        DialogPurpose::SaveRecipe => d.add_filter("Recipes", &["json"]).save_file(),
        DialogPurpose::ModelFolder
        | DialogPurpose::SaveAllSamples
        | DialogPurpose::TrainData
        | DialogPurpose::TrainOut => d.pick_folder(),
    }
}

/// `path` with a `.png` extension when it has none.
pub fn with_png_extension(path: &Path) -> PathBuf {
    if path.extension().is_some() {
        path.to_path_buf()
    } else {
        path.with_extension("png")
    }
}

/// Whether two paths name the same file (by canonical path when both exist).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_off_thread_and_scripted_dialogs_answer_in_order() {
        let answers = Arc::new(Mutex::new(VecDeque::from([
            Some(PathBuf::from("a.png")),
            None,
        ])));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut jobs = Jobs::new(
            DialogMode::Scripted {
                answers,
                seen: seen.clone(),
            },
            None,
        );
        let main = std::thread::current().id();
        jobs.run(move || JobResult::Saved {
            path: format!("{}", std::thread::current().id() != main).into(),
        });
        for purpose in [DialogPurpose::OpenPhoto, DialogPurpose::SaveImage] {
            jobs.dialog(DialogRequest {
                purpose,
                start_dir: None,
                file_name: None,
            });
        }
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < 3 && Instant::now() < deadline {
            got.extend(jobs.drain(Duration::from_millis(5)));
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(got.len(), 3);
        assert!(!jobs.busy());
        assert_eq!(jobs.start_error(), None);
        let mut picked = Vec::new();
        for r in got {
            match r {
                JobResult::Saved { path } => assert_eq!(path, PathBuf::from("true")),
                JobResult::Picked { purpose, path } => picked.push((purpose, path)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            picked,
            vec![
                (DialogPurpose::OpenPhoto, Some(PathBuf::from("a.png"))),
                (DialogPurpose::SaveImage, None)
            ]
        );
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert_eq!(with_png_extension(Path::new("a")), PathBuf::from("a.png"));
    }
}
