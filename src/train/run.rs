//! [`run`]: one training run, the loop the CLI and the GUI share.
//!
//! Output folder layout:
//!
//! | path | what |
//! |---|---|
//! | `model/` | the result: a model folder `inpaint`, `forward` and `maps` load (written at the end and on stop) |
//! | `checkpoints/<n>-<stage>-<step>/` | complete checkpoints (see [`crate::train::checkpoint`]) |
//! | `log.jsonl` | one JSON object per step: stage, step, lr factor, seconds, every loss term |
//! | `previews/<stage>-<step>.png` | fixed-z preview grids (same photos, masks and seeds every time) |
//! | `run.json` | the configuration of the latest start |
//!
//! Reproducibility: initialisation, crops, masks and z all come from `cfg.seed`; the data RNG
//! state is checkpointed, and stage-2 z seeds are a function of (seed, step), so a resumed run
//! computes exactly the steps an uninterrupted one would.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use image::RgbImage;

use crate::data::{Batch, Batcher, CropSampler, ImageFolder};
use crate::error::{Error, Refusal, Result};
use crate::imageops;
use crate::model::discriminator::Discriminator;
use crate::model::generator::Generator;
use crate::model::params::ParamSource;
use crate::model::vgg::Vgg;
use crate::model::weights::{
    load_discriminator, load_generator_like, load_model_folder, save_model_folder,
};
use crate::model::{PdGan, tensor_from_vec, tensor_to_vec};
use crate::train::adam::Adam;
use crate::train::checkpoint::{self, CheckpointData, EMA_FILE, TrainState};
use crate::train::config::{TrainConfig, VggChoice};
use crate::train::ema::GeneratorEma;
use crate::train::events::{Event, ProgressSink, Stage, StopFlag};
use crate::train::stage1::{MaskConvInit, Stage1Losses, Stage1Trainer};
use crate::train::stage2::{Stage2Losses, Stage2Trainer};

/// Seed offsets so the streams of a run never overlap.
const STAGE1_DATA: u64 = 0x0001_DA7A;
const STAGE2_DATA: u64 = 0x0002_DA7A;
const PREVIEW_DATA: u64 = 0x0003_DA7A;
const DISC_INIT: u64 = 0x0004_D15C;

impl Stage1Losses {
    /// The terms by name, `total` first (the log's keys).
    pub fn named(&self) -> Vec<(String, f32)> {
        [
            ("total", self.total),
            ("hole", self.hole),
            ("valid", self.valid),
            ("perceptual", self.perceptual),
            ("style", self.style),
            ("tv", self.tv),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect()
    }
}

impl Stage2Losses {
    /// The terms by name, `total` (of G) first (the log's keys).
    pub fn named(&self) -> Vec<(String, f32)> {
        [
            ("total", self.g_total),
            ("d", self.d),
            ("adv", self.g_adv),
            ("feat", self.g_feat),
            ("perceptual", self.g_perceptual),
            ("tv", self.g_tv),
            ("diversity", self.g_diversity),
            ("unit", self.g_unit),
            ("lowpass", self.g_lowpass),
            ("chroma", self.g_chroma),
            ("spectrum", self.g_spectrum),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect()
    }
}

/// The two z seeds of image `i` at stage-2 step `step` (a fixed function, so resumes agree).
pub fn z_seeds(run_seed: u64, step: u64, batch: usize) -> Vec<u64> {
    (0..2 * batch as u64)
        .map(|k| splitmix(run_seed ^ splitmix(step.wrapping_mul(0x9E37_79B9) ^ k)))
        .collect()
}

/// The z seeds of the extra critic update `k` (1 ≤ k < K, [`Stage2Config::critic_steps`])
/// of stage-2 step `step`: a fixed function like [`z_seeds`], different from the joint step's.
///
/// [`Stage2Config::critic_steps`]: crate::train::stage2::Stage2Config::critic_steps
pub fn critic_z_seeds(run_seed: u64, step: u64, k: u32, batch: usize) -> Vec<u64> {
    z_seeds(
        splitmix(run_seed ^ splitmix(0xC0FF_EE00 ^ u64::from(k))),
        step,
        batch,
    )
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Builds the losses' feature network: the weights file of `cfg.vgg` (at the file's width; a
/// Keras-scale ImageNet file with its activations divided, see [`crate::model::vgg`]), or the
/// seeded random VGG.
pub fn build_vgg(cfg: &TrainConfig, device: &Device) -> Result<Vgg> {
    match &cfg.vgg.weights {
        Some(path) => Vgg::from_file(path, cfg.vgg.config.kind, device),
        None => Vgg::random(cfg.vgg.config, cfg.vgg.seed, device),
    }
    .map(|v| v.no_grad())
}

/// Whether every float parameter of a module is finite (a poisoned model is never saved).
pub fn module_is_finite<M: Module>(m: &M) -> Result<bool> {
    struct V {
        sums: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.sums.push(param.val().abs().sum());
        }
    }
    let mut v = V { sums: Vec::new() };
    m.visit(&mut v);
    if v.sums.is_empty() {
        return Ok(true);
    }
    let total = Tensor::cat(v.sums, 0);
    Ok(tensor_to_vec(total)?.iter().all(|x| x.is_finite()))
}

struct Log {
    file: fs::File,
    path: PathBuf,
}

impl Log {
    /// Opens `log.jsonl`, dropping entries after `(stage, step)` when resuming (those steps
    /// are about to be computed again).
    fn open(out: &Path, keep_until: Option<(Stage, u64)>) -> Result<Self> {
        let path = out.join("log.jsonl");
        let order = |s: Stage| match s {
            Stage::Prior => 1,
            Stage::Pdgan => 2,
        };
        if let Some((stage, step)) = keep_until {
            if path.exists() {
                let text = fs::read_to_string(&path)
                    .map_err(|e| Error::io("cannot read the loss log", &path, e))?;
                let mut kept = String::new();
                for line in text.lines() {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                        continue; // a line cut by a kill
                    };
                    let s = match v.get("stage").and_then(|s| s.as_str()) {
                        Some("prior") => Stage::Prior,
                        Some("pdgan") => Stage::Pdgan,
                        _ => continue,
                    };
                    let n = v.get("step").and_then(|n| n.as_u64()).unwrap_or(0);
                    if (order(s), n) <= (order(stage), step) {
                        kept.push_str(line);
                        kept.push('\n');
                    }
                }
                crate::fsutil::write_atomic(&path, kept.as_bytes())?;
            }
        } else if path.exists() {
            fs::remove_file(&path).map_err(|e| Error::io("cannot reset the loss log", &path, e))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io("cannot open the loss log", &path, e))?;
        Ok(Self { file, path })
    }

    fn write(&mut self, value: serde_json::Value) -> Result<()> {
        writeln!(self.file, "{value}").map_err(|e| Error::io("cannot write", &self.path, e))
    }
}

/// The state that survives stages: networks, counters, the sink and the control flag.
struct Ctx<'a> {
    cfg: &'a TrainConfig,
    base: Device,
    ad: Device,
    folder: ImageFolder,
    vgg: Vgg,
    model: PdGan,
    disc: Discriminator,
    state: TrainState,
    log: Log,
    sink: &'a mut dyn ProgressSink,
    stop: &'a StopFlag,
    preview: Batch,
    started: Instant,
    seconds_before: f64,
    /// The generator's moving average (stage 2 of a run with `ema_decay > 0`).
    ema: Option<GeneratorEma>,
}

impl Ctx<'_> {
    fn seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }

    /// Waits while paused; returns true when a stop was requested.
    fn wait_or_stop(&mut self) -> bool {
        if self.stop.is_paused() && !self.stop.is_stopped() {
            self.sink.event(Event::Paused);
            let paused_at = Instant::now();
            while self.stop.is_paused() && !self.stop.is_stopped() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            // Paused time is not training time.
            self.seconds_before -= paused_at.elapsed().as_secs_f64();
            self.sink.event(Event::Resumed);
        }
        self.stop.is_stopped()
    }

    fn save(&mut self, optimizers: Vec<(&str, &Adam)>) -> Result<()> {
        for (name, finite) in [
            ("prior", module_is_finite(&self.model.prior)?),
            ("generator", module_is_finite(&self.model.generator)?),
            ("discriminator", module_is_finite(&self.disc)?),
            (
                "generator average",
                match &self.ema {
                    Some(e) => module_is_finite(e.model())?,
                    None => true,
                },
            ),
        ] {
            if !finite {
                return Err(Error::NonFinite(format!(
                    "the {name} has NaN or infinite weights; checkpoint not written"
                )));
            }
        }
        self.state.train_seconds = self.seconds();
        let path = checkpoint::write(
            &self.cfg.out,
            &CheckpointData {
                model: &self.model,
                disc: &self.disc,
                optimizers,
                state: &self.state,
                ema: self.ema.as_ref().map(|e| e.model()),
            },
            self.cfg.keep_checkpoints,
        )?;
        self.sink.event(Event::Checkpoint {
            stage: self.state.stage,
            step: self.state.step,
            path,
        });
        Ok(())
    }

    fn preview_path(&self) -> PathBuf {
        self.cfg
            .out
            .join("previews")
            .join(format!("{}-{:08}.png", self.state.stage, self.state.step))
    }

    fn emit_preview(&mut self, grid: RgbImage) -> Result<()> {
        let path = self.preview_path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("cannot create folder", dir, e))?;
        }
        imageops::save_png_atomic(&grid, &path)?;
        self.sink.event(Event::Preview {
            stage: self.state.stage,
            step: self.state.step,
            path,
            image: grid,
        });
        Ok(())
    }

    /// Whether a checkpoint is due after this step (interval or "save now").
    fn save_due(&self) -> bool {
        self.state.step.is_multiple_of(self.cfg.checkpoint_every) || self.stop.take_save()
    }

    /// Whether a preview grid is due after this step (interval or "preview now").
    fn preview_due(&self) -> bool {
        (self.cfg.preview_every > 0 && self.state.step.is_multiple_of(self.cfg.preview_every))
            || self.stop.take_preview()
    }

    /// Books a restore of the checkpoint at `step`: counters, lr back-off, event.
    fn restored(&mut self, stage: Stage, step: u64) {
        self.state.step = step;
        self.state.restores += 1;
        self.state.lr_backoff *= self.cfg.lr_backoff;
        self.sink.event(Event::Restored {
            stage,
            step,
            lr_backoff: self.state.lr_backoff,
        });
    }

    /// Counts a completed step, logs it and reports it.
    fn step_done(
        &mut self,
        stage: Stage,
        total: u64,
        lr: f64,
        named: Vec<(String, f32)>,
        rate: &mut Rate,
    ) -> Result<()> {
        self.state.step += 1;
        self.log_step(stage, lr, &named)?;
        self.sink.event(Event::Step {
            stage,
            step: self.state.step,
            total,
            lr_factor: lr,
            losses: named,
            steps_per_sec: rate.tick(),
        });
        Ok(())
    }

    fn log_step(&mut self, stage: Stage, lr: f64, named: &[(String, f32)]) -> Result<()> {
        let mut obj = serde_json::Map::new();
        obj.insert("stage".into(), stage.name().into());
        obj.insert("step".into(), self.state.step.into());
        obj.insert("lr_factor".into(), lr.into());
        obj.insert("seconds".into(), self.seconds().into());
        for (k, v) in named {
            obj.insert(k.clone(), (*v as f64).into());
        }
        self.log.write(serde_json::Value::Object(obj))
    }
}

fn to_rgb(chw: &[f32], res: usize) -> Result<RgbImage> {
    imageops::chw_to_rgb(chw, res as u32, res as u32)
}

/// Masked input for display: holes grey.
fn masked_view(image: &[f32], hole: &[f32], res: usize) -> Vec<f32> {
    let n = res * res;
    (0..3 * n)
        .map(|i| if hole[i % n] > 0.5 { 0.0 } else { image[i] })
        .collect()
}

/// The preview grid: one row per preview photo.
fn preview_grid(ctx: &Ctx<'_>, stage: Stage) -> Result<RgbImage> {
    let b = &ctx.preview;
    let (n, r) = (b.size, b.res);
    let dev = &ctx.base;
    let prior = ctx.model.prior.valid();
    let gt = tensor_from_vec(b.images.clone(), [n, 3, r, r], dev);
    let hole = tensor_from_vec(b.holes.clone(), [n, 1, r, r], dev);
    let known = hole.neg() + 1.0;
    let p = crate::model::source_prior(ctx.cfg.model.prior_source, &prior, gt, known.clone())?;
    let p_vec = tensor_to_vec(p.clone())?;
    let k = ctx.cfg.preview_samples.max(1);
    let samples: Option<Vec<f32>> = if stage == Stage::Pdgan {
        // The previews show what the run's result will be: the average when there is one.
        let g = match &ctx.ema {
            Some(e) => e.export(),
            None => ctx.model.generator.valid(),
        };
        let zd = g.z_dim;
        // Sample j of every photo uses seed j: the same z every time.
        let z: Vec<f32> = (0..k)
            .flat_map(|j| (0..n).flat_map(move |_| crate::inference::z_for_seed(j as u64, zd)))
            .collect();
        let z = tensor_from_vec(z, [k * n, zd], dev);
        let (out, _) = g.forward(
            z,
            p.repeat_dim(0, k),
            known.repeat_dim(0, k),
            ctx.cfg.model.hard_map.decay(),
            false,
        );
        Some(tensor_to_vec(out)?)
    } else {
        None
    };
    let plane = 3 * r * r;
    let mut tiles = Vec::new();
    for i in 0..n {
        let img = &b.images[i * plane..(i + 1) * plane];
        let hole = &b.holes[i * r * r..(i + 1) * r * r];
        let comp = |raw: &[f32]| imageops::composite_chw(raw, img, hole, 3, r, r);
        tiles.push((to_rgb(&masked_view(img, hole, r), r)?, "input".to_string()));
        let pr = &p_vec[i * plane..(i + 1) * plane];
        tiles.push((to_rgb(&comp(pr)?, r)?, "prior".to_string()));
        match &samples {
            Some(s) => {
                for j in 0..k {
                    let at = (j * n + i) * plane;
                    tiles.push((to_rgb(&comp(&s[at..at + plane])?, r)?, format!("seed {j}")));
                }
            }
            None => tiles.push((to_rgb(pr, r)?, "prior raw".to_string())),
        }
        tiles.push((to_rgb(img, r)?, "real".to_string()));
    }
    let cols = tiles.len() / n.max(1);
    Ok(imageops::contact_sheet(&tiles, cols as u32, r as u32))
}

/// A checkpoint read back completely for resuming.
struct Resumed {
    /// Its folder.
    dir: PathBuf,
    /// The network sizes it was written with.
    config: crate::model::ModelConfig,
    /// Prior and generator.
    model: PdGan,
    /// Discriminator.
    disc: Discriminator,
    /// Its training state.
    state: TrainState,
}

/// Reads every file of checkpoint `dir` (state, weights, optimiser states, moving average), so
/// a damaged file shows up before the run commits to this checkpoint.
fn load_checkpoint(dir: &Path, ad: &Device) -> Result<Resumed> {
    let state = checkpoint::read_state(dir)?;
    let (file, model) = load_model_folder(dir, ad)?;
    let disc = load_discriminator(dir, &file.config, ad)?;
    checkpoint::verify_optimizers(dir, state.stage)?;
    let ema = dir.join(EMA_FILE);
    if ema.exists() {
        load_generator_like(&model.generator.valid(), &ema)?;
    }
    Ok(Resumed {
        dir: dir.to_path_buf(),
        config: file.config,
        model,
        disc,
        state,
    })
}

/// The newest checkpoint of `out` that reads back completely. Newer damaged ones (e.g. a file
/// truncated by a full disk) are reported through `sink` and moved aside with
/// [`checkpoint::set_aside`], so later checkpoint pruning never keeps them in place of good
/// ones. When every checkpoint is damaged, the newest one's error is returned and nothing is
/// moved.
fn newest_intact_checkpoint(
    out: &Path,
    ad: &Device,
    sink: &mut dyn ProgressSink,
) -> Result<Option<Resumed>> {
    let mut damaged: Vec<(PathBuf, Error)> = Vec::new();
    for (_, _, dir) in checkpoint::list(out)?.into_iter().rev() {
        match load_checkpoint(&dir, ad) {
            Ok(r) => {
                for (bad, why) in damaged {
                    let name = bad
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let aside = checkpoint::set_aside(&bad)?;
                    sink.event(Event::Log(format!(
                        "checkpoint {name} is damaged and was skipped ({why}); moved aside to {}",
                        aside.display()
                    )));
                }
                return Ok(Some(r));
            }
            Err(e) => damaged.push((dir, e)),
        }
    }
    match damaged.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(None),
    }
}

/// Runs `cfg` on `device` (any backend; autodiff is added here), reporting to `sink` and
/// obeying `stop`. On stop, a checkpoint and the model folder are written before it returns.
///
/// # Errors
/// Bad configuration, an unreadable or empty data folder, an existing run in `out` without
/// `resume`, unreadable checkpoints, I/O failures. A NaN loss is not an error: the step is
/// skipped, and after `max_bad_steps` in a row the last checkpoint is restored with a lower
/// learning rate.
pub fn run(
    cfg: &TrainConfig,
    device: &Device,
    sink: &mut dyn ProgressSink,
    stop: &StopFlag,
) -> Result<()> {
    cfg.validate()?;
    let base = device.clone();
    let ad = device.clone().autodiff();
    let folder = ImageFolder::load(&cfg.data)?;
    for (_, why) in &folder.skipped {
        sink.event(Event::Log(format!("skipped unreadable file: {why}")));
    }
    fs::create_dir_all(&cfg.out).map_err(|e| Error::io("cannot create folder", &cfg.out, e))?;

    let mut resumed = if cfg.resume {
        newest_intact_checkpoint(&cfg.out, &ad, sink)?
    } else {
        if let Some(existing) = checkpoint::latest(&cfg.out)? {
            return Err(Error::Refused(Refusal::RunExists {
                checkpoint: existing,
            }));
        }
        None
    };
    let resume_from = resumed.as_ref().map(|r| r.dir.clone());

    // The loss network. A resumed run keeps the one it was started with unless one was asked
    // for: the default lookup may find another (the ImageNet file fetched since, or gone), and
    // a resume must continue the same optimisation.
    let mut run_cfg = cfg.clone();
    if let Some(was) = resumed.as_ref().map(|r| &r.state.config.vgg)
        && !run_cfg.vgg.same_network(was)
    {
        if run_cfg.vgg.by_default() {
            sink.event(Event::Log(format!(
                "the resumed run keeps the loss network it was started with ({}; name another \
                     one explicitly to change it)",
                was.network.as_ref().map_or_else(
                    || match &was.weights {
                        Some(p) => p.display().to_string(),
                        None => "the random VGG".to_string(),
                    },
                    ToString::to_string
                )
            )));
            run_cfg.vgg = VggChoice {
                network: None,
                ..was.clone()
            };
        } else {
            sink.event(Event::Log(
                "the loss network differs from the one this run was started with (asked for)"
                    .to_string(),
            ));
        }
    }
    let vgg = build_vgg(&run_cfg, &ad)?;
    run_cfg.vgg.network = Some(vgg.weights().clone());
    let cfg = &run_cfg;
    let (model, disc, state) = match resumed.take() {
        Some(r) => {
            if !r.config.same_networks(&cfg.model) {
                return Err(Error::weights(
                    "the checkpoint's network sizes differ from this run's (preset or \
                     resolution changed?)",
                    &r.dir,
                ));
            }
            let mut st2 = r.state;
            st2.config = cfg.clone();
            (r.model, r.disc, st2)
        }
        None => {
            let random_disc = || {
                Discriminator::from_source(
                    &mut ParamSource::random(cfg.seed ^ DISC_INIT, &ad),
                    &cfg.model.discriminator,
                )
            };
            let (model, disc) = match &cfg.init_from {
                Some(dir) => {
                    let (file, model) = load_model_folder(dir, &ad)?;
                    if !file.config.same_networks(&cfg.model) {
                        return Err(Error::weights(
                            "this model folder's network sizes differ from the run's (preset \
                             or resolution?), so the run cannot start from it",
                            dir,
                        ));
                    }
                    let disc = if crate::model::weights::has_discriminator_file(dir) {
                        load_discriminator(dir, &cfg.model, &ad)?
                    } else {
                        random_disc()?
                    };
                    (model, disc)
                }
                None => {
                    let mut model = PdGan::random(&cfg.model, cfg.seed, &ad)?;
                    if cfg.stage1.mask_conv == MaskConvInit::Ones {
                        model.prior = model.prior.with_unit_mask_convs();
                    }
                    (model, random_disc()?)
                }
            };
            let first = cfg.stages.first().copied().unwrap_or(Stage::Prior);
            let st = TrainState {
                stage: first,
                step: 0,
                rng_seed: String::new(),
                rng_word_pos: String::new(),
                lr_backoff: 1.0,
                skipped_steps: 0,
                restores: 0,
                train_seconds: 0.0,
                config: cfg.clone(),
                ema_since: None,
            };
            (model, disc, st)
        }
    };
    let run_json = serde_json::to_string_pretty(cfg)
        .map_err(|e| Error::Config(format!("cannot encode the run config: {e}")))?;
    crate::fsutil::write_atomic(&cfg.out.join("run.json"), run_json.as_bytes())?;
    let log = Log::open(
        &cfg.out,
        resume_from.as_ref().map(|_| (state.stage, state.step)),
    )?;
    let res = cfg.model.resolution() as u32;
    let preview = Batcher::new(
        cfg.seed ^ PREVIEW_DATA,
        CropSampler::new(res),
        cfg.masks,
        cfg.preview_images.max(1),
    )
    .next_batch(&folder);
    sink.event(Event::Started {
        out: cfg.out.join("model"),
        photos: folder.len(),
        skipped: folder.skipped.len(),
        vgg: vgg.describe(),
        resumed: resume_from.as_ref().map(|_| (state.stage, state.step)),
    });
    // Departures from the authors' loss weights of the stages this run trains, said at the
    // start and kept in the model's source.
    let weight_changes: Vec<String> = [
        (Stage::Prior, cfg.stage1_weight_changes()),
        (Stage::Pdgan, cfg.stage2_weight_changes()),
    ]
    .into_iter()
    .filter(|(stage, _)| cfg.stages.contains(stage))
    .filter_map(|(stage, c)| {
        let n = if stage == Stage::Prior { 1 } else { 2 };
        c.map(|c| {
            sink.event(Event::Log(format!(
                "stage-{n} loss weights differ from the authors' code: {c}"
            )));
            format!(", stage-{n} loss weights {c}")
        })
    })
    .collect();
    let lr_note = (cfg.lr_scale != 1.0).then(|| {
        format!(
            "learning rates ×{} of the authors' (prior {:.2e}, generator {:.2e}, discriminator \
             {:.2e})",
            cfg.lr_scale,
            cfg.stage1.lr * cfg.lr_scale,
            cfg.stage2.lr_g * cfg.lr_scale,
            cfg.stage2.lr_d * cfg.lr_scale
        )
    });
    if let Some(n) = &lr_note {
        sink.event(Event::Log(n.clone()));
    }
    let seconds_before = state.train_seconds;
    let mut ctx = Ctx {
        cfg,
        base,
        ad,
        folder,
        vgg,
        model,
        disc,
        state,
        log,
        sink,
        stop,
        preview,
        started: Instant::now(),
        seconds_before,
        ema: None,
    };

    if let Some(dir) = cfg.init_from.as_ref().filter(|_| resume_from.is_none()) {
        ctx.sink.event(Event::Log(format!(
            "starting from the weights of {}",
            dir.display()
        )));
    }
    let resumed_stage = resume_from.as_ref().map(|_| ctx.state.stage);
    if let Some(rs) = resumed_stage
        && !cfg.stages.contains(&rs)
    {
        return Err(Error::Config(format!(
            "the newest checkpoint is from stage {rs}, which this run does not include \
             (use --stage {rs} or --stage both)"
        )));
    }
    let mut stopped = false;
    for (i, &stage) in cfg.stages.iter().enumerate() {
        // Stages before the one a resumed run was in are done.
        if let Some(rs) = resumed_stage
            && cfg
                .stages
                .iter()
                .position(|&s| s == rs)
                .is_some_and(|p| p > i)
        {
            continue;
        }
        let resume_here = resume_from
            .as_deref()
            .filter(|_| resumed_stage == Some(stage));
        if resume_here.is_none() {
            ctx.state.stage = stage;
            ctx.state.step = 0;
            ctx.state.lr_backoff = 1.0;
            ctx.state.skipped_steps = 0;
            ctx.state.restores = 0;
        }
        // A stage-2 run takes its prior from a model folder (unless it started from one with
        // `init_from` and names no other); a resumed one only when a folder is named (to
        // continue stage 2 on a retrained prior).
        let swap_prior = if resume_here.is_some() {
            cfg.prior_from.is_some()
        } else {
            !cfg.stages.contains(&Stage::Prior)
                && (cfg.prior_from.is_some() || cfg.init_from.is_none())
        };
        let telea = cfg.model.prior_source == crate::model::PriorSource::Telea;
        if stage == Stage::Pdgan && telea {
            ctx.sink.event(Event::Log(
                "stage 2's prior is Telea's fill of the hole (prior source telea); the prior \
                 network is not used"
                    .into(),
            ));
        }
        if stage == Stage::Pdgan && swap_prior && !telea {
            let from = cfg
                .prior_from
                .clone()
                .unwrap_or_else(|| cfg.out.join("model"));
            let (file, trained) = load_model_folder(&from, &ctx.ad)?;
            if file.config.prior != cfg.model.prior {
                return Err(Error::weights(
                    "the prior of this model folder has other sizes than the run's preset",
                    &from,
                ));
            }
            ctx.model.prior = trained.prior;
            ctx.sink.event(Event::Log(format!(
                "stage 2 uses the prior of {}",
                from.display()
            )));
        }
        stopped = match stage {
            Stage::Prior => run_stage1(&mut ctx, resume_here)?,
            Stage::Pdgan => run_stage2(&mut ctx, resume_here)?,
        };
        if stopped {
            break;
        }
        ctx.sink.event(Event::StageFinished { stage });
    }
    let model_dir = cfg.out.join("model");
    let ema_note = ctx.ema.as_ref().map_or_else(String::new, |e| {
        crate::train::ema::source_note(Some(e.decay()), ctx.state.ema_since)
    });
    let source = format!(
        "trained by pdpaint {} ({} step {}, {:.0} s){}{}{}{ema_note}; loss network {}",
        env!("CARGO_PKG_VERSION"),
        ctx.state.stage,
        ctx.state.step,
        ctx.seconds(),
        if stopped { ", stopped early" } else { "" },
        weight_changes.concat(),
        lr_note
            .as_ref()
            .map_or_else(String::new, |n| format!(", {n}")),
        ctx.vgg.describe()
    );
    // With an average, the result's generator is the average.
    let averaged = ctx.ema.as_ref().map(|e| PdGan {
        prior: ctx.model.prior.clone(),
        generator: e.export(),
    });
    let result = averaged.as_ref().unwrap_or(&ctx.model);
    save_model_folder(&model_dir, &cfg.model, result, Some(&ctx.disc), &source)?;
    ctx.sink.event(Event::Finished {
        model: model_dir,
        stopped,
    });
    Ok(())
}

/// Outcome of a failed step: whether to restore the last checkpoint now.
fn on_bad_step(ctx: &mut Ctx<'_>, stage: Stage, reason: String, bad: &mut u32) -> bool {
    ctx.state.skipped_steps += 1;
    *bad += 1;
    let _ = ctx.log.write(serde_json::json!({
        "stage": stage.name(), "step": ctx.state.step, "event": "skipped", "reason": reason,
    }));
    ctx.sink.event(Event::Skipped {
        stage,
        step: ctx.state.step,
        reason,
    });
    *bad >= ctx.cfg.max_bad_steps
}

/// Restores before a run is declared diverged (each one halves the learning rate again).
pub const MAX_RESTORES: u64 = 8;

/// Ends the run with an error when restoring keeps failing.
fn give_up_if_diverged(ctx: &Ctx<'_>, stage: Stage) -> Result<()> {
    if ctx.state.restores >= MAX_RESTORES {
        return Err(Error::NonFinite(format!(
            "training of the {stage} diverged: still NaN/Inf after {MAX_RESTORES} restores with \
             the learning rate down to ×{}; the last good checkpoint is kept",
            ctx.state.lr_backoff
        )));
    }
    Ok(())
}

/// The checkpoint folder and step to go back to after repeated failures, or the "diverged"
/// error when restoring has not helped.
fn restore_point(ctx: &Ctx<'_>, stage: Stage) -> Result<(PathBuf, u64)> {
    give_up_if_diverged(ctx, stage)?;
    let dir = last_checkpoint_of(ctx, stage)?;
    let step = checkpoint::read_state(&dir)?.step;
    Ok((dir, step))
}

/// The newest checkpoint of `stage` (to restore after repeated failures).
fn last_checkpoint_of(ctx: &Ctx<'_>, stage: Stage) -> Result<PathBuf> {
    checkpoint::list(&ctx.cfg.out)?
        .into_iter()
        .rev()
        .find(|(s, _, _)| *s == stage)
        .map(|(_, _, p)| p)
        .ok_or_else(|| {
            Error::io(
                "no checkpoint of this stage to restore",
                checkpoint::checkpoints_dir(&ctx.cfg.out),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })
}

/// Steps per second, smoothed.
struct Rate {
    last: Instant,
    ema: f64,
}

impl Rate {
    fn new() -> Self {
        Self {
            last: Instant::now(),
            ema: 0.0,
        }
    }
    fn tick(&mut self) -> f64 {
        let dt = self.last.elapsed().as_secs_f64().max(1e-9);
        self.last = Instant::now();
        let r = 1.0 / dt;
        self.ema = if self.ema == 0.0 {
            r
        } else {
            0.9 * self.ema + 0.1 * r
        };
        self.ema
    }
}

fn batcher_for(ctx: &Ctx<'_>, offset: u64, resume: Option<&Path>) -> Result<Batcher> {
    let mut b = Batcher::new(
        ctx.cfg.seed ^ offset,
        CropSampler::new(ctx.cfg.model.resolution() as u32),
        ctx.cfg.masks,
        ctx.cfg.batch,
    );
    if resume.is_some() {
        let (seed, pos) = ctx.state.rng()?;
        b.set_rng_state(seed, pos);
    }
    Ok(b)
}

/// Stage 1. Returns whether the run was stopped.
fn run_stage1(ctx: &mut Ctx<'_>, resume: Option<&Path>) -> Result<bool> {
    let stage = Stage::Prior;
    let total = ctx.cfg.prior_steps;
    let mut batcher = batcher_for(ctx, STAGE1_DATA, resume)?;
    let mut trainer = Stage1Trainer::new(
        ctx.model.prior.clone(),
        ctx.vgg.clone(),
        ctx.cfg.stage1,
        &ctx.ad,
    );
    if let Some(dir) = resume {
        let opt = Adam::load(&dir.join("optim-prior.bin"))?;
        trainer.restore(ctx.model.prior.clone(), opt);
    }
    ctx.sink.event(Event::StageStarted {
        stage,
        step: ctx.state.step,
        total,
    });
    let save = |ctx: &mut Ctx<'_>, trainer: &Stage1Trainer, batcher: &Batcher| -> Result<()> {
        if let Some(p) = trainer.prior() {
            ctx.model.prior = p.clone();
        }
        ctx.state.set_rng(batcher.rng_state());
        ctx.save(vec![("prior", trainer.optimizer())])
    };
    if resume.is_none() {
        // A restore point before the first step.
        save(ctx, &trainer, &batcher)?;
    }
    let mut rate = Rate::new();
    let mut bad = 0u32;
    let mut last_saved = ctx.state.step;
    while ctx.state.step < total {
        if ctx.wait_or_stop() {
            break;
        }
        let batch = batcher.next_batch(&ctx.folder);
        let lr = ctx
            .cfg
            .lr_factor(ctx.state.step, total, ctx.state.lr_backoff);
        match trainer.step(&batch, lr) {
            Ok(losses) => {
                bad = 0;
                ctx.step_done(stage, total, lr, losses.named(), &mut rate)?;
            }
            Err(Error::NonFinite(reason)) => {
                if on_bad_step(ctx, stage, reason, &mut bad) {
                    let (dir, step) = restore_point(ctx, stage)?;
                    let (_, m) = load_model_folder(&dir, &ctx.ad)?;
                    trainer.restore(m.prior, Adam::load(&dir.join("optim-prior.bin"))?);
                    ctx.restored(stage, step);
                    bad = 0;
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        if ctx.save_due() {
            save(ctx, &trainer, &batcher)?;
            last_saved = ctx.state.step;
        }
        if ctx.preview_due() {
            if let Some(p) = trainer.prior() {
                ctx.model.prior = p.clone();
            }
            let grid = preview_grid(ctx, stage)?;
            ctx.emit_preview(grid)?;
        }
    }
    let stopped = ctx.state.step < total;
    if let Some(p) = trainer.prior() {
        ctx.model.prior = p.clone();
    }
    if ctx.state.step != last_saved {
        save(ctx, &trainer, &batcher)?;
    }
    if !stopped {
        let grid = preview_grid(ctx, stage)?;
        ctx.emit_preview(grid)?;
    }
    Ok(stopped)
}

/// Sets up the generator's moving average for stage 2: continued from the checkpoint being
/// resumed when it holds one (unless `restart_ema` asks for a new one), else started at the
/// current weights (and said so).
fn start_ema(ctx: &mut Ctx<'_>, resume: Option<&Path>) -> Result<()> {
    let decay = ctx.cfg.ema_decay;
    let saved = resume.map(|d| d.join(EMA_FILE)).filter(|p| p.exists());
    if decay <= 0.0 {
        if saved.is_some() {
            ctx.sink.event(Event::Log(
                "the checkpoint holds a moving average of the generator, which this run does \
                 not continue (no EMA decay given); the result will be the trained weights"
                    .into(),
            ));
        }
        ctx.ema = None;
        ctx.state.ema_since = None;
        return Ok(());
    }
    if ctx.cfg.restart_ema
        && let (Some(_), Some(since)) = (&saved, ctx.state.ema_since)
    {
        ctx.sink.event(Event::Log(format!(
            "the checkpoint's moving average (since stage-2 step {since}) is dropped, as \
             asked; a new one restarts at the resumed weights"
        )));
    }
    match (saved.filter(|_| !ctx.cfg.restart_ema), ctx.state.ema_since) {
        (Some(path), Some(since)) => {
            let avg = load_generator_like(&ctx.model.generator.valid(), &path)?;
            ctx.ema = Some(GeneratorEma::resume(decay, avg)?);
            ctx.sink.event(Event::Log(format!(
                "generator moving average (decay {decay}) continued, started at stage-2 step \
                 {since}"
            )));
        }
        _ => {
            ctx.ema = Some(GeneratorEma::start(decay, &ctx.model.generator)?);
            ctx.state.ema_since = Some(ctx.state.step);
            ctx.sink.event(Event::Log(format!(
                "generator moving average (decay {decay}) starts at the weights of stage-2 step \
                 {}; the result's generator will be the average",
                ctx.state.step
            )));
        }
    }
    Ok(())
}

/// After a restore of the stage-2 checkpoint `dir` (at `step`, generator `restored`): the
/// moving average goes back to the checkpoint's when that is the average this run keeps (same
/// start step); otherwise (the checkpoint predates a `--restart-average`, or holds none) a new
/// average starts at the restored weights, as the run's own average did.
fn restore_ema(ctx: &mut Ctx<'_>, dir: &Path, step: u64, restored: &Generator) -> Result<()> {
    let Some(ema) = &ctx.ema else {
        return Ok(());
    };
    let decay = ema.decay();
    let saved_since = checkpoint::read_state(dir)?.ema_since;
    let file = dir.join(EMA_FILE);
    if saved_since.is_some() && saved_since == ctx.state.ema_since && file.exists() {
        let avg = load_generator_like(ema.model(), &file)?;
        ctx.ema = Some(GeneratorEma::resume(decay, avg)?);
        return Ok(());
    }
    ctx.sink.event(Event::Log(format!(
        "the restored checkpoint (stage-2 step {step}) does not hold this run's moving average \
         (since step {}); a new average starts at its weights",
        ctx.state
            .ema_since
            .map_or_else(|| "?".to_string(), |s| s.to_string())
    )));
    ctx.ema = Some(GeneratorEma::start(decay, restored)?);
    ctx.state.ema_since = Some(step);
    Ok(())
}

/// Stage 2. Returns whether the run was stopped.
fn run_stage2(ctx: &mut Ctx<'_>, resume: Option<&Path>) -> Result<bool> {
    let stage = Stage::Pdgan;
    let total = ctx.cfg.pdgan_steps;
    let mut batcher = batcher_for(ctx, STAGE2_DATA, resume)?;
    let mut trainer = Stage2Trainer::new(
        ctx.model.prior.clone().no_grad(),
        ctx.model.generator.clone(),
        ctx.disc.clone(),
        ctx.vgg.clone(),
        ctx.cfg.stage2,
        ctx.cfg.model.hard_map.decay(),
        &ctx.ad,
    )
    .with_prior_source(ctx.cfg.model.prior_source);
    if let Some(dir) = resume {
        trainer.restore_all(
            ctx.model.generator.clone(),
            ctx.disc.clone(),
            Adam::load(&dir.join("optim-g.bin"))?,
            Adam::load(&dir.join("optim-d.bin"))?,
        );
    }
    ctx.sink.event(Event::StageStarted {
        stage,
        step: ctx.state.step,
        total,
    });
    let sync = |ctx: &mut Ctx<'_>, trainer: &Stage2Trainer| {
        if let Some(g) = trainer.generator() {
            ctx.model.generator = g.clone();
        }
        if let Some(d) = trainer.discriminator() {
            ctx.disc = d.clone();
        }
    };
    let save = |ctx: &mut Ctx<'_>, trainer: &Stage2Trainer, batcher: &Batcher| -> Result<()> {
        sync(ctx, trainer);
        ctx.state.set_rng(batcher.rng_state());
        let (og, od) = trainer.optimizers();
        ctx.save(vec![("g", og), ("d", od)])
    };
    start_ema(ctx, resume)?;
    if resume.is_none() {
        save(ctx, &trainer, &batcher)?;
    }
    let mut rate = Rate::new();
    let mut bad = 0u32;
    let mut last_saved = ctx.state.step;
    while ctx.state.step < total {
        if ctx.wait_or_stop() {
            break;
        }
        let lr = ctx
            .cfg
            .lr_factor(ctx.state.step, total, ctx.state.lr_backoff);
        // The extra critic updates first (each on a batch of its own), then the joint step;
        // the logged critic loss is the mean over all of the step's critic updates.
        let mut critic = Vec::new();
        let mut extra = Ok(());
        for k in 1..ctx.cfg.stage2.critic_steps.max(1) {
            let batch = batcher.next_batch(&ctx.folder);
            let seeds = critic_z_seeds(ctx.cfg.seed, ctx.state.step, k, batch.size);
            match trainer.critic_step(&batch, &seeds, lr) {
                Ok(v) => critic.push(v),
                Err(e) => {
                    extra = Err(e);
                    break;
                }
            }
        }
        let batch = batcher.next_batch(&ctx.folder);
        let seeds = z_seeds(ctx.cfg.seed, ctx.state.step, batch.size);
        let result = extra
            .and_then(|()| trainer.step(&batch, &seeds, lr))
            .map(|mut l| {
                critic.push(l.d);
                l.d = critic.iter().sum::<f32>() / critic.len() as f32;
                l
            });
        match result {
            Ok(losses) => {
                bad = 0;
                if let (Some(ema), Some(g)) = (ctx.ema.as_mut(), trainer.generator()) {
                    ema.update(g);
                }
                ctx.step_done(stage, total, lr, losses.named(), &mut rate)?;
            }
            Err(Error::NonFinite(reason)) => {
                if on_bad_step(ctx, stage, reason, &mut bad) {
                    let (dir, step) = restore_point(ctx, stage)?;
                    let (_, m) = load_model_folder(&dir, &ctx.ad)?;
                    let d = load_discriminator(&dir, &ctx.cfg.model, &ctx.ad)?;
                    restore_ema(ctx, &dir, step, &m.generator)?;
                    trainer.restore_all(
                        m.generator,
                        d,
                        Adam::load(&dir.join("optim-g.bin"))?,
                        Adam::load(&dir.join("optim-d.bin"))?,
                    );
                    ctx.restored(stage, step);
                    bad = 0;
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        if ctx.save_due() {
            save(ctx, &trainer, &batcher)?;
            last_saved = ctx.state.step;
        }
        if ctx.preview_due() {
            sync(ctx, &trainer);
            let grid = preview_grid(ctx, stage)?;
            ctx.emit_preview(grid)?;
        }
    }
    let stopped = ctx.state.step < total;
    sync(ctx, &trainer);
    if ctx.state.step != last_saved {
        save(ctx, &trainer, &batcher)?;
    }
    if !stopped {
        let grid = preview_grid(ctx, stage)?;
        ctx.emit_preview(grid)?;
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_seeds_are_a_fixed_function_of_seed_and_step() {
        assert_eq!(z_seeds(1, 5, 3), z_seeds(1, 5, 3));
        assert_ne!(z_seeds(1, 5, 3), z_seeds(1, 6, 3));
        assert_ne!(z_seeds(1, 5, 3), z_seeds(2, 5, 3));
        let s = z_seeds(0, 0, 4);
        let mut u = s.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), 8);
    }
}
