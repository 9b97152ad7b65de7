//! The inference worker: a long-lived named thread that keeps the model loaded and fills
//! holes on request, off the UI thread.
//!
//! * A request is a photo, a mask and seeds. The worker prepares it once (prior and the
//!   generator's z-independent conditioning, see [`crate::inference::Session`]) and then makes
//!   one sample per seed, sending each as it finishes, so the gallery fills progressively.
//! * A recipe with pins, a mix or interpolated samples is replayed as the command line replays
//!   it ([`ReplayRequest`]).
//! * A newer request supersedes the running one: [`InferWorker::submit`] bumps a generation
//!   counter that the worker checks between samples.
//! * Events go out through a **bounded** channel; a waker (the UI passes
//!   `ctx.request_repaint`) is called after each one. Only plain data crosses: images, numbers,
//!   paths and seeds.
//! * What the worker reports about itself is typed: the backend it runs on ([`BackendInfo`],
//!   saying when the requested one failed and the CPU took over), the model it loaded
//!   ([`ModelInfo`]), and that it stopped for good ([`InferEvent::Stopped`]), so the window can
//!   say so instead of waiting forever. No GUI code: the studio drives it through
//!   `crate::ui::workers`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::backend::{self, BackendChoice, BackendKind};
use crate::detail::DetailMode;
use crate::error::{Error, Result};
use crate::imageops::{self, ContextBox};
use crate::inference::{self, InpaintOptions, Inpainter, UnitMapData, ZSpec};
use crate::maps::Decay;
use crate::mask::Mask;
use crate::model::Preset;
use crate::steer::mix::MixStack;
use crate::steer::pin::PinStack;
use crate::steer::recipe::Plan;
use crate::steer::score::{self, SampleScores, SeamScorer};
use crate::train::worker::{Waker, error_chain};

mod replay;

/// Capacity of the event channel.
pub const EVENT_CAPACITY: usize = 16;

/// The compute backend the worker runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// Which backend.
    pub kind: BackendKind,
    /// The backend's own account of the choice, for a tooltip or a report (e.g. "cpu (flex,
    /// 2 threads): no wgpu adapter found").
    pub description: String,
    /// Why the requested backend could not be used, when the worker fell back to the CPU.
    pub requested_failed: Option<String>,
}

impl BackendInfo {
    /// A short name for a status bar.
    pub fn label(&self) -> String {
        match self.kind {
            BackendKind::Cpu => format!(
                "cpu (flex, {} threads)",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            BackendKind::Wgpu => "wgpu".to_owned(),
        }
    }
}

/// A model's size preset as its `config.json` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelPreset {
    /// One of the presets this build knows.
    Known(Preset),
    /// A name this build does not know (a hand-made configuration).
    Other(String),
}

impl ModelPreset {
    /// The preset a configuration names.
    pub fn from_config_name(name: &str) -> Self {
        [Preset::Official, Preset::Small, Preset::Tiny]
            .into_iter()
            .find(|p| p.name() == name)
            .map_or_else(|| ModelPreset::Other(name.to_owned()), ModelPreset::Known)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            ModelPreset::Known(p) => p.name(),
            ModelPreset::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ModelPreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a request produced no samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InferFailure {
    /// No model is loaded.
    NoModel,
    /// The model failed; the error with its causes.
    Error(String),
}

impl std::fmt::Display for InferFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InferFailure::NoModel => f.write_str("no model is loaded"),
            InferFailure::Error(e) => f.write_str(e),
        }
    }
}

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A model folder (`config.json` + burnpack files).
    Folder(PathBuf),
    /// The default model built into the binary (`models/default`).
    Embedded,
}

impl ModelSource {
    /// The model folder, when it is one.
    pub fn folder(&self) -> Option<&std::path::Path> {
        match self {
            ModelSource::Folder(p) => Some(p),
            ModelSource::Embedded => None,
        }
    }

    /// How to name it to the user.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Folder(p) => p.display().to_string(),
            ModelSource::Embedded => crate::model::embedded::NAME.to_string(),
        }
    }
}

/// The model the studio loads when the user has not chosen one: `$PDPAINT_MODEL` if it names
/// a model folder, else the default model built into the binary (works from any folder,
/// offline). This is the single place that decides it.
pub fn default_model() -> Option<ModelSource> {
    let from_env: Vec<PathBuf> = std::env::var_os("PDPAINT_MODEL")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    Some(
        first_model_folder(from_env)
            .map(ModelSource::Folder)
            .unwrap_or(ModelSource::Embedded),
    )
}

/// The first of `candidates` that is a model folder (has a `config.json`).
pub fn first_model_folder(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    candidates
        .into_iter()
        .find(|p| p.join("config.json").is_file())
}

/// What the studio shows about a loaded model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Where it came from.
    pub source: ModelSource,
    /// Size preset.
    pub preset: ModelPreset,
    /// Model resolution R.
    pub resolution: usize,
    /// The model file's own provenance note (`config.json`'s `source`, e.g. "imported from
    /// …", "random init …: untrained"), shown as it is: the file records no typed origin.
    pub note: String,
    /// Its hard-map rule.
    pub decay: Decay,
    /// Where its prior comes from.
    pub prior_source: crate::model::PriorSource,
    /// Generator parameters.
    pub params: usize,
}

/// One inpainting request.
#[derive(Debug, Clone)]
pub struct InferRequest {
    /// The photo.
    pub photo: Arc<RgbImage>,
    /// Its hole mask (same size).
    pub mask: Arc<Mask>,
    /// One sample per seed, in this order.
    pub seeds: Vec<u64>,
    /// Cropping and pasting options.
    pub opts: InpaintOptions,
    /// Also return the soft and hard maps of the first sample.
    pub want_maps: bool,
    /// Longer side of the gallery thumbnails the worker makes, in pixels.
    pub thumb_side: u32,
}

/// A request for the samples between two seeds (the studio's interpolation strip): the
/// `steps - 1` fills strictly between `from` (step 0) and `to` (step `steps`), along the
/// spherical path of [`ZSpec::between`], each sent as it is made. Raw samples: no
/// full-resolution detail.
#[derive(Debug, Clone)]
pub struct StripRequest {
    /// The photo.
    pub photo: Arc<RgbImage>,
    /// Its hole mask (same size).
    pub mask: Arc<Mask>,
    /// The seed at step 0.
    pub from: u64,
    /// The seed at step `steps`.
    pub to: u64,
    /// Intervals of the path (at least 2 for one sample in between).
    pub steps: u32,
    /// Cropping and pasting options (detail is ignored).
    pub opts: InpaintOptions,
    /// Longer side of the thumbnails, in pixels.
    pub thumb_side: u32,
}

/// A recipe's samples with their pins and mix, made as `pdpaint inpaint --recipe` makes them
/// ([`crate::steer::recipe::replay`]): the studio's replay of a recipe it cannot ask for as
/// plain seeds. The samples arrive as a generation's do; the pin stack and the mix follow as
/// [`InferEvent::Pinned`] and [`InferEvent::Mixed`].
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The photo (before any pin).
    pub photo: Arc<RgbImage>,
    /// Its hole mask (before any pin).
    pub mask: Arc<Mask>,
    /// The recipe's work, its masks loaded.
    pub plan: Plan,
    /// Longer side of the thumbnails, in pixels.
    pub thumb_side: u32,
}

/// What the worker reports.
#[derive(Debug, Clone)]
pub enum InferEvent {
    /// The compute backend is ready.
    Backend(BackendInfo),
    /// The worker could not start any backend and has stopped: nothing sent to it will be
    /// answered.
    Stopped {
        /// Why, with causes.
        error: String,
    },
    /// A model was loaded.
    ModelLoaded(ModelInfo),
    /// A model could not be loaded (the previous one, if any, stays).
    ModelFailed {
        /// What was asked for.
        source: ModelSource,
        /// Why, with causes.
        error: String,
    },
    /// The prior of a request is ready (samples follow).
    Prior {
        /// The request's generation.
        generation: u64,
        /// The context box in photo pixels.
        bx: ContextBox,
        /// The prior at model resolution R×R.
        prior: RgbImage,
        /// Time to prepare and run the prior and the conditioning.
        took: Duration,
    },
    /// One sample is ready.
    Sample {
        /// The request's generation.
        generation: u64,
        /// Position in the request's seed list.
        index: usize,
        /// Its seed.
        seed: u64,
        /// The full photo with the hole filled.
        photo: Arc<RgbImage>,
        /// Its gallery thumbnail (made here, off the UI thread; see [`make_thumb`]).
        thumb: RgbImage,
        /// Time for this sample.
        took: Duration,
    },
    /// A sample's scores, computed here right after the sample (or its detailed version) was
    /// sent: the seam score always, the discriminator's realism when the model has one.
    Scored {
        /// The request's generation.
        generation: u64,
        /// Position in the request's seed list.
        index: usize,
        /// Whether these are the scores of the detailed version (else of the raw sample).
        detailed: bool,
        /// The scores, or why they could not be computed (with causes).
        scores: std::result::Result<SampleScores, String>,
    },
    /// One sample of an interpolation strip ([`StripRequest`]) is ready, with its scores.
    /// The strip ends with [`InferEvent::Finished`], [`InferEvent::Superseded`] or
    /// [`InferEvent::Failed`] of its generation.
    StripSample {
        /// The strip request's generation.
        generation: u64,
        /// Which z it was made from (a [`ZSpec::Slerp`] step).
        spec: ZSpec,
        /// The full photo with the hole filled.
        photo: Arc<RgbImage>,
        /// Its thumbnail.
        thumb: RgbImage,
        /// Its scores, or why they could not be computed.
        scores: std::result::Result<SampleScores, String>,
        /// Time for this sample.
        took: Duration,
    },
    /// A replay's pins are applied ([`ReplayRequest`]); its samples follow.
    Pinned {
        /// The replay's generation.
        generation: u64,
        /// The photo and hole with every pin applied, and the pins.
        stack: Box<PinStack>,
        /// Every pixel the pins keep.
        kept: Mask,
    },
    /// A replay's mix is made ([`ReplayRequest`]).
    Mixed {
        /// The replay's generation.
        generation: u64,
        /// The mix, its base and steps.
        stack: Box<MixStack>,
        /// The mixed photo.
        photo: Arc<RgbImage>,
        /// Its thumbnail.
        thumb: RgbImage,
        /// Its scores.
        scores: std::result::Result<SampleScores, String>,
    },
    /// Full-resolution detail of a sample is under way.
    DetailProgress {
        /// The request's generation.
        generation: u64,
        /// Position in the request's seed list.
        index: usize,
        /// Fraction done, 0–1.
        fraction: f32,
    },
    /// A sample's full-resolution detail is ready (the raw sample stays as it was sent).
    Detailed {
        /// The request's generation.
        generation: u64,
        /// Position in the request's seed list.
        index: usize,
        /// Its seed.
        seed: u64,
        /// The full photo with the detailed fill.
        photo: Arc<RgbImage>,
        /// Its gallery thumbnail.
        thumb: RgbImage,
        /// Time for the detail synthesis.
        took: Duration,
    },
    /// A sample's detail could not be made (the raw sample stays usable).
    DetailFailed {
        /// The request's generation.
        generation: u64,
        /// Position in the request's seed list.
        index: usize,
        /// Why.
        error: String,
    },
    /// The maps every unit used for the first sample.
    Maps {
        /// The request's generation.
        generation: u64,
        /// Per unit, coarsest first.
        units: Vec<UnitMapData>,
    },
    /// The per-pixel spread of the samples at model resolution.
    Diversity {
        /// The request's generation.
        generation: u64,
        /// R.
        res: usize,
        /// `[R, R]`.
        map: Vec<f32>,
    },
    /// All samples of a request are done.
    Finished {
        /// The request's generation.
        generation: u64,
        /// Time for the whole request.
        total: Duration,
    },
    /// A newer request (or a cancel) stopped this one between samples.
    Superseded {
        /// The request's generation.
        generation: u64,
    },
    /// The request failed.
    Failed {
        /// The request's generation.
        generation: u64,
        /// Why.
        error: InferFailure,
    },
}

enum Msg {
    Load(ModelSource),
    Infer(u64, Job),
    Shutdown,
}

/// A request the worker runs (the newest supersedes the others).
enum Job {
    Samples(InferRequest),
    Strip(StripRequest),
    Replay(Box<ReplayRequest>),
}

/// The worker thread's handle. Dropping it cancels the running request and joins the thread.
pub struct InferWorker {
    tx: Sender<Msg>,
    events: Option<Receiver<InferEvent>>,
    generation: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for InferWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferWorker")
            .field("generation", &self.generation.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl InferWorker {
    /// Starts the worker thread (`pdpaint-infer`); it selects the backend first and reports it.
    ///
    /// # Errors
    /// [`Error::Backend`] when the thread cannot be started.
    pub fn spawn(choice: BackendChoice, waker: Option<Waker>) -> Result<Self> {
        let (tx, rx) = channel::<Msg>();
        let (etx, erx) = sync_channel::<InferEvent>(EVENT_CAPACITY);
        let generation = Arc::new(AtomicU64::new(0));
        let gen_worker = generation.clone();
        let handle = std::thread::Builder::new()
            .name("pdpaint-infer".into())
            .spawn(move || {
                crate::threads::lower_priority();
                let out = Out { tx: etx, waker };
                worker_loop(choice, &rx, &out, &gen_worker);
            })
            .map_err(|e| Error::Backend(format!("could not start the inference thread: {e}")))?;
        Ok(Self {
            tx,
            events: Some(erx),
            generation,
            handle: Some(handle),
        })
    }

    /// Loads a model (replacing the current one once it has loaded).
    pub fn load_model(&self, source: ModelSource) {
        let _ = self.tx.send(Msg::Load(source));
    }

    /// Submits a request, superseding any running one; returns its generation.
    pub fn submit(&self, req: InferRequest) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.tx.send(Msg::Infer(generation, Job::Samples(req)));
        generation
    }

    /// Submits an interpolation strip, superseding any running request; returns its
    /// generation.
    pub fn submit_strip(&self, req: StripRequest) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.tx.send(Msg::Infer(generation, Job::Strip(req)));
        generation
    }

    /// Submits a recipe's replay, superseding any running request; returns its generation.
    pub fn submit_replay(&self, req: ReplayRequest) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self
            .tx
            .send(Msg::Infer(generation, Job::Replay(Box::new(req))));
        generation
    }

    /// Stops the running request between samples.
    pub fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Pending events, taken until `budget` has passed; the rest stay queued.
    pub fn drain(&self, budget: Duration) -> Vec<InferEvent> {
        let mut out = Vec::new();
        let Some(rx) = &self.events else {
            return out;
        };
        let start = Instant::now();
        while start.elapsed() < budget {
            match rx.try_recv() {
                Ok(e) => out.push(e),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        out
    }
}

impl Drop for InferWorker {
    fn drop(&mut self) {
        self.cancel();
        let _ = self.tx.send(Msg::Shutdown);
        // Dropping the receiver makes any blocked send fail, so the thread can end.
        self.events = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The sending side with its waker.
struct Out {
    tx: SyncSender<InferEvent>,
    waker: Option<Waker>,
}

impl Out {
    /// Sends an event; `false` when the UI has gone.
    fn send(&self, e: InferEvent) -> bool {
        let ok = self.tx.send(e).is_ok();
        if ok && let Some(w) = &self.waker {
            w();
        }
        ok
    }
}

fn worker_loop(choice: BackendChoice, rx: &Receiver<Msg>, out: &Out, generation: &AtomicU64) {
    let (sel, requested_failed) = match backend::select(choice) {
        Ok(s) => (s, None),
        Err(e) => match backend::select(BackendChoice::Cpu) {
            Ok(s) => (s, Some(error_chain(&e))),
            Err(e2) => {
                out.send(InferEvent::Stopped {
                    error: format!("no compute backend could be started: {}", error_chain(&e2)),
                });
                return;
            }
        },
    };
    if !out.send(InferEvent::Backend(BackendInfo {
        kind: sel.kind,
        description: sel.description.clone(),
        requested_failed,
    })) {
        return;
    }
    let mut model: Option<Inpainter> = None;
    while let Ok(first) = rx.recv() {
        // Take everything queued: loads in order, only the newest request.
        let mut msgs = vec![first];
        while let Ok(m) = rx.try_recv() {
            msgs.push(m);
        }
        let mut request = None;
        for m in msgs {
            match m {
                Msg::Shutdown => return,
                Msg::Load(source) => {
                    let ev = match load(&source, &sel.device) {
                        Ok((inp, info)) => {
                            model = Some(inp);
                            InferEvent::ModelLoaded(info)
                        }
                        Err(e) => InferEvent::ModelFailed {
                            source,
                            error: error_chain(&e),
                        },
                    };
                    if !out.send(ev) {
                        return;
                    }
                }
                Msg::Infer(g, r) => {
                    if let Some((old, _)) = request.replace((g, r)) {
                        out.send(InferEvent::Superseded { generation: old });
                    }
                }
            }
        }
        if let Some((g, req)) = request {
            if g != generation.load(Ordering::SeqCst) {
                if !out.send(InferEvent::Superseded { generation: g }) {
                    return;
                }
                continue;
            }
            let ev = match &model {
                None => Some(InferEvent::Failed {
                    generation: g,
                    error: InferFailure::NoModel,
                }),
                Some(inp) => match match &req {
                    Job::Samples(r) => run_request(inp, g, r, out, generation),
                    Job::Strip(r) => run_strip(inp, g, r, out, generation),
                    Job::Replay(r) => replay::run(inp, g, r, out, generation),
                } {
                    Ok(()) => None,
                    Err(e) => Some(InferEvent::Failed {
                        generation: g,
                        error: InferFailure::Error(error_chain(&e)),
                    }),
                },
            };
            if let Some(ev) = ev
                && !out.send(ev)
            {
                return;
            }
        }
    }
}

fn load(source: &ModelSource, device: &burn::tensor::Device) -> Result<(Inpainter, ModelInfo)> {
    let inp = match source {
        // A training run's output folder means the model it wrote (`RUN/model`).
        ModelSource::Folder(dir) => Inpainter::load(
            &crate::fsutil::training_run_model(dir).unwrap_or_else(|| dir.clone()),
            device,
        )?,
        ModelSource::Embedded => Inpainter::embedded(device)?,
    };
    let file = inp.model_file();
    let info = ModelInfo {
        source: source.clone(),
        preset: ModelPreset::from_config_name(&file.config.preset),
        resolution: inp.resolution(),
        note: file.source.clone(),
        decay: file.config.hard_map.decay(),
        prior_source: file.config.prior_source,
        params: file.config.generator.num_params(),
    };
    Ok((inp, info))
}

fn run_request(
    inp: &Inpainter,
    g: u64,
    req: &InferRequest,
    out: &Out,
    generation: &AtomicU64,
) -> Result<()> {
    let current = || generation.load(Ordering::SeqCst) == g;
    let t0 = Instant::now();
    let session = inp.session(&req.photo, &req.mask, &req.opts)?;
    let p = session.prepared();
    let res = p.res;
    let prior = imageops::chw_to_rgb(&session.prior_chw()?, res as u32, res as u32)?;
    if !out.send(InferEvent::Prior {
        generation: g,
        bx: p.bx,
        prior,
        took: t0.elapsed(),
    }) {
        return Err(Error::Cancelled);
    }
    // The hole's edge pairs are found once; each sample then only reads those pixels.
    let scorer = SeamScorer::new(&req.mask).map_err(|e| error_chain(&e));
    let mut fills: Vec<Vec<f32>> = Vec::new();
    let mut raws = Vec::with_capacity(req.seeds.len());
    for (index, &seed) in req.seeds.iter().enumerate() {
        if !current() {
            out.send(InferEvent::Superseded { generation: g });
            return Ok(());
        }
        let t = Instant::now();
        let sample = if index == 0 && req.want_maps {
            let (s, units) = session.sample_with_maps(seed)?;
            if !out.send(InferEvent::Maps {
                generation: g,
                units,
            }) {
                return Err(Error::Cancelled);
            }
            s
        } else {
            session
                .samples(&[seed])?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Shape("the generator returned no sample".into()))?
        };
        let thumb = make_thumb(&sample.photo, Some(p.bx), req.thumb_side);
        if !out.send(InferEvent::Sample {
            generation: g,
            index,
            seed,
            photo: Arc::new(sample.photo.clone()),
            thumb,
            took: t.elapsed(),
        }) {
            return Err(Error::Cancelled);
        }
        if !out.send(InferEvent::Scored {
            generation: g,
            index,
            detailed: false,
            scores: score_sample(&session, scorer.as_ref(), &sample.photo),
        }) {
            return Err(Error::Cancelled);
        }
        fills.push(sample.fill.clone());
        raws.push(sample);
    }
    send_diversity(out, g, &fills, res)?;
    if req.opts.detail == DetailMode::Patch {
        // The raw gallery is complete; now each sample gets its detail, in order, and the
        // diversity map follows what the user sees.
        let mut detailed = Vec::with_capacity(raws.len());
        for (index, sample) in raws.iter().enumerate() {
            if !current() {
                out.send(InferEvent::Superseded { generation: g });
                return Ok(());
            }
            let t = Instant::now();
            let mut last = 0.0f32;
            let result = session.detail(sample, &mut |fraction| {
                if fraction - last >= 0.05 {
                    last = fraction;
                    out.send(InferEvent::DetailProgress {
                        generation: g,
                        index,
                        fraction,
                    });
                }
                current()
            });
            match result {
                Ok(photo) => {
                    detailed.push(imageops::crop_resize_rgb(&photo, &p.bx, res as u32));
                    let thumb = make_thumb(&photo, Some(p.bx), req.thumb_side);
                    let scores = score_sample(&session, scorer.as_ref(), &photo);
                    if !out.send(InferEvent::Detailed {
                        generation: g,
                        index,
                        seed: sample.seed,
                        photo: Arc::new(photo),
                        thumb,
                        took: t.elapsed(),
                    }) {
                        return Err(Error::Cancelled);
                    }
                    if !out.send(InferEvent::Scored {
                        generation: g,
                        index,
                        detailed: true,
                        scores,
                    }) {
                        return Err(Error::Cancelled);
                    }
                }
                Err(Error::Cancelled) => {
                    out.send(InferEvent::Superseded { generation: g });
                    return Ok(());
                }
                Err(e) => {
                    out.send(InferEvent::DetailFailed {
                        generation: g,
                        index,
                        error: error_chain(&e),
                    });
                }
            }
        }
        send_diversity(out, g, &detailed, res)?;
    }
    out.send(InferEvent::Finished {
        generation: g,
        total: t0.elapsed(),
    });
    Ok(())
}

fn run_strip(
    inp: &Inpainter,
    g: u64,
    req: &StripRequest,
    out: &Out,
    generation: &AtomicU64,
) -> Result<()> {
    let t0 = Instant::now();
    let opts = InpaintOptions {
        detail: DetailMode::Off,
        ..req.opts
    };
    let session = inp.session(&req.photo, &req.mask, &opts)?;
    let bx = session.prepared().bx;
    let scorer = SeamScorer::new(&req.mask).map_err(|e| error_chain(&e));
    let specs = ZSpec::between(req.from, req.to, req.steps)?;
    let inner = specs.len().saturating_sub(1);
    for spec in specs.into_iter().take(inner).skip(1) {
        if generation.load(Ordering::SeqCst) != g {
            out.send(InferEvent::Superseded { generation: g });
            return Ok(());
        }
        let t = Instant::now();
        let sample = session.sample_for(spec)?;
        let thumb = make_thumb(&sample.photo, Some(bx), req.thumb_side);
        let scores = score_sample(&session, scorer.as_ref(), &sample.photo);
        if !out.send(InferEvent::StripSample {
            generation: g,
            spec,
            photo: Arc::new(sample.photo),
            thumb,
            scores,
            took: t.elapsed(),
        }) {
            return Err(Error::Cancelled);
        }
    }
    out.send(InferEvent::Finished {
        generation: g,
        total: t0.elapsed(),
    });
    Ok(())
}

/// The seam and realism scores of one filled photo of `session` (`scorer` is the request's
/// seam scorer, or why it could not be made).
fn score_sample(
    session: &inference::Session<'_>,
    scorer: std::result::Result<&SeamScorer, &String>,
    photo: &RgbImage,
) -> std::result::Result<SampleScores, String> {
    let seam = scorer
        .map_err(Clone::clone)?
        .score(photo)
        .map_err(|e| error_chain(&e))?;
    let realism = score::realism(session, photo).map_err(|e| error_chain(&e))?;
    Ok(SampleScores { seam, realism })
}

/// Sends the per-pixel spread of `fills` (each `[3, R, R]`) when there are at least two.
fn send_diversity(out: &Out, g: u64, fills: &[Vec<f32>], res: usize) -> Result<()> {
    if fills.len() >= 2 {
        let refs: Vec<&[f32]> = fills.iter().map(Vec::as_slice).collect();
        let map = inference::diversity_map(&refs, res)?;
        out.send(InferEvent::Diversity {
            generation: g,
            res,
            map,
        });
    }
    Ok(())
}

/// The part of the photo a sample changed: the context box clamped to the photo (the whole
/// photo when unknown), as `(x0, y0, x1, y1)`.
pub fn sample_region((w, h): (u32, u32), bx: Option<ContextBox>) -> (u32, u32, u32, u32) {
    let Some(bx) = bx else {
        return (0, 0, w.max(1), h.max(1));
    };
    let clamp = |v: i64, hi: u32| v.clamp(0, i64::from(hi)) as u32;
    let x0 = clamp(bx.x0, w);
    let y0 = clamp(bx.y0, h);
    let x1 = clamp(bx.x0 + i64::from(bx.size), w)
        .max(x0 + 1)
        .min(w.max(1));
    let y1 = clamp(bx.y0 + i64::from(bx.size), h)
        .max(y0 + 1)
        .min(h.max(1));
    (x0.min(x1 - 1), y0.min(y1 - 1), x1, y1)
}

/// The gallery thumbnail of a sample: its context box (or the whole photo) fitted into
/// `side`×`side`. Made on the worker: resizing a crop of a large photo takes milliseconds that
/// a frame cannot spare.
pub fn make_thumb(photo: &RgbImage, bx: Option<ContextBox>, side: u32) -> RgbImage {
    let (x0, y0, x1, y1) = sample_region(photo.dimensions(), bx);
    let crop = image::imageops::crop_imm(photo, x0, y0, x1 - x0, y1 - y0).to_image();
    let side = side.max(1);
    let (w, h) = crop.dimensions();
    if w <= side && h <= side {
        return crop;
    }
    let scale = side as f32 / w.max(h) as f32;
    let tw = ((w as f32 * scale).round() as u32).max(1);
    let th = ((h as f32 * scale).round() as u32).max(1);
    image::imageops::thumbnail(&crop, tw, th)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_with_a_config_are_models() {
        let empty = tempfile::tempdir().unwrap();
        let model = tempfile::tempdir().unwrap();
        std::fs::write(model.path().join("config.json"), "{}").unwrap();
        let found =
            first_model_folder(vec![empty.path().to_path_buf(), model.path().to_path_buf()]);
        assert_eq!(found.as_deref(), Some(model.path()));
        assert_eq!(first_model_folder(vec![empty.path().to_path_buf()]), None);
    }

    #[test]
    fn requests_without_a_model_fail_plainly_and_newer_requests_supersede() {
        let w = InferWorker::spawn(BackendChoice::Cpu, None).unwrap();
        let req = InferRequest {
            photo: Arc::new(RgbImage::new(8, 8)),
            mask: Arc::new(Mask::from_hole_fn(8, 8, |x, _| x < 2)),
            seeds: vec![1, 2],
            opts: InpaintOptions::default(),
            want_maps: false,
            thumb_side: 120,
        };
        let g = w.submit(req);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut failed = None;
        while Instant::now() < deadline && failed.is_none() {
            for e in w.drain(Duration::from_millis(5)) {
                if let InferEvent::Failed { generation, error } = e {
                    failed = Some((generation, error));
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let (gen_failed, error) = failed.unwrap();
        assert_eq!(gen_failed, g);
        assert_eq!(error, InferFailure::NoModel);
    }

    #[test]
    fn each_sample_is_followed_by_its_scores_from_the_worker() {
        let w = InferWorker::spawn(BackendChoice::Cpu, None).unwrap();
        w.load_model(ModelSource::Embedded);
        let photo = RgbImage::from_fn(96, 80, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8])
        });
        let req = InferRequest {
            photo: Arc::new(photo),
            mask: Arc::new(Mask::from_hole_fn(96, 80, |x, y| {
                (30..60).contains(&x) && (25..50).contains(&y)
            })),
            seeds: vec![1, 2],
            opts: InpaintOptions::default(),
            want_maps: false,
            thumb_side: 64,
        };
        let g = w.submit(req);
        let deadline = Instant::now() + Duration::from_secs(300);
        let (mut samples, mut scored) = (Vec::new(), Vec::new());
        let mut finished = false;
        while Instant::now() < deadline && !finished {
            for e in w.drain(Duration::from_millis(5)) {
                match e {
                    InferEvent::Sample { index, .. } => samples.push(index),
                    InferEvent::Scored {
                        generation,
                        index,
                        detailed,
                        scores,
                    } => {
                        assert_eq!(generation, g);
                        assert!(samples.contains(&index), "scores come after their sample");
                        scored.push((index, detailed, scores.unwrap()));
                    }
                    InferEvent::Finished { .. } => finished = true,
                    InferEvent::Failed { error, .. } => panic!("{error}"),
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(finished);
        // Raw samples first, then (detail is on by default) each detailed version.
        let order: Vec<(usize, bool)> = scored.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(order, vec![(0, false), (1, false), (0, true), (1, true)]);
        for (_, _, s) in scored {
            assert!(s.seam.score.is_finite() && s.seam.score >= 0.0, "{s:?}");
            // The embedded model ships with its critic.
            assert!(
                matches!(s.realism, score::Realism::Score { value } if value.is_finite()),
                "{:?}",
                s.realism
            );
        }
    }

    #[test]
    fn a_strip_sends_the_fills_between_two_seeds_then_finishes() {
        let w = InferWorker::spawn(BackendChoice::Cpu, None).unwrap();
        w.load_model(ModelSource::Embedded);
        let g = w.submit_strip(StripRequest {
            photo: Arc::new(RgbImage::from_fn(80, 64, |x, y| {
                image::Rgb([(x * 3) as u8, (y * 2) as u8, 77])
            })),
            mask: Arc::new(Mask::from_hole_fn(80, 64, |x, y| {
                (20..50).contains(&x) && (20..40).contains(&y)
            })),
            from: 4,
            to: 9,
            steps: 3,
            opts: InpaintOptions::default(),
            thumb_side: 32,
        });
        let deadline = Instant::now() + Duration::from_secs(300);
        let (mut specs, mut finished) = (Vec::new(), false);
        while Instant::now() < deadline && !finished {
            for e in w.drain(Duration::from_millis(5)) {
                match e {
                    InferEvent::StripSample {
                        generation,
                        spec,
                        photo,
                        thumb,
                        scores,
                        ..
                    } => {
                        assert_eq!(generation, g);
                        assert_eq!(photo.dimensions(), (80, 64));
                        assert!(thumb.width() <= 32 && thumb.height() <= 32);
                        assert!(scores.is_ok());
                        specs.push(spec);
                    }
                    InferEvent::Finished { generation, .. } => {
                        assert_eq!(generation, g);
                        finished = true;
                    }
                    InferEvent::Failed { error, .. } => panic!("{error}"),
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(finished);
        let slerp = |step| ZSpec::Slerp {
            from: 4,
            to: 9,
            step,
            steps: 3,
        };
        assert_eq!(specs, vec![slerp(1), slerp(2)]);
    }

    #[test]
    fn presets_are_named_by_their_config_names() {
        assert_eq!(
            ModelPreset::from_config_name("small"),
            ModelPreset::Known(Preset::Small)
        );
        assert_eq!(
            ModelPreset::from_config_name("mine"),
            ModelPreset::Other("mine".into())
        );
        assert_eq!(ModelPreset::Known(Preset::Tiny).to_string(), "tiny");
    }

    #[test]
    fn the_region_is_the_box_clamped_to_the_photo() {
        let bx = ContextBox {
            x0: -10,
            y0: 5,
            size: 40,
        };
        assert_eq!(sample_region((30, 100), Some(bx)), (0, 5, 30, 45));
        assert_eq!(sample_region((30, 100), None), (0, 0, 30, 100));
        let t = make_thumb(&RgbImage::new(600, 300), None, 120);
        assert_eq!(t.dimensions(), (120, 60));
    }
}
