//! `pdpaint train`: both stages headless, with a progress bar; Ctrl-C saves a checkpoint and
//! the model folder before exiting (press it twice to quit at once).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use pdpaint::masks::MaskKind;
use pdpaint::model::Preset;
use pdpaint::model::PriorSource;
use pdpaint::model::vgg::standard_weights_path;
use pdpaint::train::config::{TrainConfig, VggChoice};
use pdpaint::train::events::{Event, Stage, StopFlag};
use pdpaint::train::losses::DiversityLayers;
use pdpaint::train::stage1::MaskConvInit;
use pdpaint::train::stage2::MAX_CRITIC_STEPS;

use super::BackendArgs;

/// Which stages to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StageArg {
    /// Stage 1 only: the partial-conv prior.
    Prior,
    /// Stage 2 only: PD-GAN on a trained prior (`--prior-from`, default OUT/model).
    Pdgan,
    /// Stage 1, then stage 2.
    Both,
}

/// The value of `--vgg`: a weights file, or `random`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VggArg {
    /// The frozen, seeded, random VGG-16 (e.g. for an ablation against ImageNet features).
    Random,
    /// VGG weights under torchvision's names (`.pth` or `.safetensors`).
    File(PathBuf),
}

/// Parses `--vgg`: `random`, else a path (a file named `random` is `./random`).
fn parse_vgg_arg(s: &str) -> std::result::Result<VggArg, String> {
    match s {
        "" => Err("expected a weights file or `random`".into()),
        "random" => Ok(VggArg::Random),
        path => Ok(VggArg::File(PathBuf::from(path))),
    }
}

/// Arguments of `pdpaint train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages to train.
    #[arg(long, value_enum, default_value_t = StageArg::Both)]
    pub stage: StageArg,
    /// Folder of training photos, searched recursively (default: the set
    /// scripts/fetch-photos.sh builds, ~/.local/share/pdpaint/photos/train).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output folder: model/, checkpoints/, previews/, log.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Network size preset.
    #[arg(long, value_enum, default_value_t = Preset::Small)]
    pub preset: Preset,
    /// Training resolution (a multiple of 64; default: the preset's, 256).
    #[arg(long)]
    pub res: Option<usize>,
    /// Steps of each stage (overridden per stage by --prior-steps / --pdgan-steps).
    #[arg(long, default_value_t = 1000)]
    pub steps: u64,
    /// Steps of stage 1.
    #[arg(long)]
    pub prior_steps: Option<u64>,
    /// Steps of stage 2.
    #[arg(long)]
    pub pdgan_steps: Option<u64>,
    /// Photos per batch (the authors use 8; stage 2 runs the generator on twice as many).
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Seed of initialisation, crops, masks and z.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training masks.
    #[arg(long, value_enum, default_value_t = MaskKind::Mixed)]
    pub masks: MaskKind,
    /// Continue from the newest complete checkpoint in OUT.
    #[arg(long)]
    pub resume: bool,
    /// The losses' VGG-16: a weights file (.pth or .safetensors, torchvision names), or
    /// `random` for a frozen, seeded, random VGG-16. Default: the ImageNet VGG-16 that
    /// scripts/fetch-vgg.sh writes ($XDG_DATA_HOME/pdpaint/vgg16-imagenet.safetensors, else
    /// ~/.local/share/pdpaint/vgg16-imagenet.safetensors) when it is there, else the random one.
    /// The log, run.json and the model's source say which. A resumed run keeps the network it
    /// was started with unless --vgg is given.
    #[arg(long, value_name = "FILE|random", value_parser = parse_vgg_arg)]
    pub vgg: Option<VggArg>,
    /// Width divisor of the random VGG (default: 1 for official, 4 for small, 16 for tiny);
    /// given without --vgg, it selects the random VGG.
    #[arg(long)]
    pub vgg_width_div: Option<usize>,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 200)]
    pub checkpoint_every: u64,
    /// Steps between preview grids (0: only at the end of a stage and on stop).
    #[arg(long, default_value_t = 200)]
    pub preview_every: u64,
    /// Stage 2 takes its prior from this model folder: for --stage pdgan (default: the
    /// --init-from folder, else OUT/model),
    /// or, with --resume, to continue stage 2 on a retrained prior.
    #[arg(long)]
    pub prior_from: Option<PathBuf>,
    /// Start a new run from this model folder's weights (fine-tuning) instead of random ones.
    #[arg(long, conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Mask kernels of a new prior's partial convolutions: `code` = the authors' (random
    /// N(0, 0.02), frozen), `ones` = the paper's (divide by the number of valid inputs).
    #[arg(long, value_enum, default_value_t = MaskConvInit::Code)]
    pub prior_mask_conv: MaskConvInit,
    /// Weight of stage 2's perceptual diversity loss `1/(d + 1e-5)` (the authors' code: 1). Its
    /// pull grows as 1/d², and d is measured in the loss network's feature units, which a
    /// random VGG does not share with ImageNet's: see docs/training.md.
    #[arg(long, default_value_t = 1.0)]
    pub diversity_weight: f64,
    /// Features of stage 2's diversity loss: `code` = the authors' code (relu4_1 of the
    /// hole-masked samples), `paper` = the paper's (relu1_1, relu2_1, relu3_1, relu4_1 and
    /// relu5_1, the hole applied to each feature map), `blurred` = the paper's on the samples
    /// blurred by a Gaussian of σ = 2 px, so specks of a few pixels barely count. See
    /// docs/training.md.
    #[arg(long, value_enum, default_value_t = DiversityLayers::Code)]
    pub diversity_layers: DiversityLayers,
    /// Where stage 2's prior comes from: `network` = the stage-1 network (the authors'
    /// pipeline), `telea` = Telea's fill of the hole (no prior network; stage 2 only). Default:
    /// the --init-from folder's, else the network. See docs/training.md.
    #[arg(long, value_enum)]
    pub prior_source: Option<PriorSource>,
    /// Weight of stage 1's style (Gram) loss (the authors' code: 120). With the ImageNet VGG
    /// it is most of the prior's loss; see docs/training.md.
    #[arg(long, default_value_t = 120.0)]
    pub style_weight: f64,
    /// Weight of stage 2's perceptual (reconstruction) loss (the authors' code: 10).
    #[arg(long, default_value_t = 10.0)]
    pub perceptual_weight: f64,
    /// Weight of stage 2's total-variation loss on the composite's hole and its rim (the
    /// authors' code: 0.1): it charges every step between neighbouring pixels, so a higher
    /// weight makes specks and grid patterns of a pixel or two cost more. See
    /// docs/training.md.
    #[arg(long, default_value_t = 0.1)]
    pub tv_weight: f64,
    /// Weight of stage 2's unit-normalised perceptual loss on the composites (not in the
    /// authors' code; 0 = off): relu1_2…relu5_3 of the ImageNet VGG, each position's features
    /// divided by their norm, so the deep layers count as much as the shallow ones. See
    /// docs/training.md.
    #[arg(long, default_value_t = 0.0)]
    pub unit_perceptual_weight: f64,
    /// Weight of stage 2's hinge adversarial loss for the generator (the authors' code: 1;
    /// feature matching keeps its own weight). See docs/training.md.
    #[arg(long, default_value_t = 1.0)]
    pub adversarial_weight: f64,
    /// Score stage 2's critic only where the fill is: the hinge losses weight each prediction
    /// cell by its share of the hole, so the photo around it (the same in real and fake, which
    /// no critic can tell apart) does not dilute them. Not in the authors' code. See
    /// docs/training.md. `--critic-hole=false` turns it off again on a resume.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub critic_hole: bool,
    /// Weight of stage 2's low-pass L1 on the composites (not in the authors' code; 0 = off):
    /// the mean colour of every 4×4-pixel block against the truth's, so blotches of a few
    /// pixels and more cost in full while finer texture stays free to vary between samples.
    /// See docs/training.md.
    #[arg(long, default_value_t = 0.0)]
    pub lowpass_weight: f64,
    /// Weight of stage 2's fine-chroma L1 on the composites (not in the authors' code; 0 =
    /// off): colour that changes from pixel to pixel (opponent colours minus their 3×3 mean)
    /// against the truth's, so colour speckle costs while brightness texture stays free. See
    /// docs/training.md.
    #[arg(long, default_value_t = 0.0)]
    pub chroma_weight: f64,
    /// Weight of stage 2's spectrum-excess term on the composites (not in the authors' code;
    /// 0 = off): how far each colour channel's log-amplitude spectrum rises above the truth's,
    /// so a lattice of marks or speckle (energy at frequencies the photo does not have) costs,
    /// while where a fill puts its content, or a fill with less detail, does not. See
    /// docs/training.md.
    #[arg(long, default_value_t = 0.0)]
    pub spectrum_weight: f64,
    /// Factor on both stages' learning rates (the authors': 1). For fine-tuning a trained
    /// model (`--init-from`) use a smaller one, e.g. 0.1: restarted Adam moves every weight by
    /// about the learning rate per step, which at the from-scratch rate undoes the model.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub lr_scale: f64,
    /// Stage 2's discriminator learning rate before `--lr-scale` and the schedule multiply it
    /// (the authors' 2e-3, four times the generator's). Raise it when a fine-tuning run's
    /// critic cannot keep up with the generator (its hinge loss back near 4). See
    /// docs/training.md.
    #[arg(long, default_value_t = 2e-3, value_name = "LR")]
    pub critic_lr: f64,
    /// Stage 2's discriminator updates per step (the authors': 1). With K > 1 every step first
    /// updates the critic alone K − 1 times, each on a batch of its own against the current
    /// generator, then trains both as usual: a critic kept ahead of the generator. Each extra
    /// update costs a generator forward pass and the critic's, far less than a joint step. Not
    /// in the authors' code. See docs/training.md.
    #[arg(long, default_value_t = 1, value_name = "K",
          value_parser = clap::value_parser!(u32).range(1..=MAX_CRITIC_STEPS as i64))]
    pub critic_steps: u32,
    /// Keep an exponential moving average of the generator's weights with this decay (e.g.
    /// 0.998) and make it the result's generator; 0 = none (the authors' code). Not in the
    /// authors' code: it smooths the step-to-step oscillation of GAN training. A resumed run
    /// continues the checkpoint's average, or starts one at the resumed weights.
    #[arg(long, default_value_t = 0.0, value_name = "DECAY")]
    pub ema: f64,
    /// With --resume: drop the checkpoint's moving average and start a new one at the resumed
    /// weights (when the average still holds a phase of the run you want out of the result).
    #[arg(long, requires = "resume")]
    pub restart_average: bool,
    /// Stage 2 trains only the discriminator, against the frozen generator (from
    /// `--init-from`): gives a model without a discriminator a realism critic for ranking
    /// samples. The generator's weights do not change. Not in the authors' code.
    /// `--critic-only=false` on a resume goes back to training both (e.g. after fitting the
    /// critic alone first).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub critic_only: bool,
    /// Backend.
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Ids of the options given on the command line (filled in after parsing; see
    /// [`given_ids`]). A resumed run takes these from the command line and every other option
    /// from its newest checkpoint.
    #[arg(skip)]
    pub given: Vec<String>,
}

/// The ids of the arguments in `m` that were given on the command line (not defaults).
pub fn given_ids(m: &clap::ArgMatches) -> Vec<String> {
    m.ids()
        .filter(|id| m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

/// Where `scripts/fetch-photos.sh` puts the training photos.
pub fn default_data_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .map(|h| h.join(".local/share/pdpaint/photos/train"))
}

/// The run configuration these arguments describe. With `--resume` and a checkpoint in OUT,
/// that is the configuration the run was last started with (read from its newest readable
/// checkpoint), with the options given on the command line changed: a resume needs only
/// `--resume --out OUT`. Returns the configuration and, for such a resume, the options the
/// command line changed.
pub fn config(a: &Args) -> Result<(TrainConfig, Option<Vec<String>>)> {
    if a.resume
        && let Some(saved) = saved_config(&a.out)?
    {
        let (cfg, changed) = resumed_config(a, saved)?;
        return Ok((cfg, Some(changed)));
    }
    Ok((fresh_config(a, None)?, None))
}

/// The configuration of the newest checkpoint in `out` whose state can be read (`None`: no
/// checkpoint, or none readable; the run then reports that itself).
fn saved_config(out: &std::path::Path) -> Result<Option<TrainConfig>> {
    let list = pdpaint::train::checkpoint::list(out)?;
    Ok(list
        .iter()
        .rev()
        .find_map(|(_, _, dir)| pdpaint::train::checkpoint::read_state(dir).ok())
        .map(|s| s.config))
}

/// `saved` with the options given on the command line applied, and their names.
fn resumed_config(a: &Args, saved: TrainConfig) -> Result<(TrainConfig, Vec<String>)> {
    let given = |id: &str| a.given.iter().any(|g| g == id);
    let data = if given("data") {
        a.data.clone()
    } else {
        Some(saved.data.clone())
    };
    let fresh = fresh_config(a, data)?;
    let mut cfg = saved;
    let mut changed = Vec::new();
    let mut take = |ids: &[&str], apply: &mut dyn FnMut(&mut TrainConfig)| {
        if ids.iter().any(|id| given(id)) {
            apply(&mut cfg);
            for id in ids.iter().filter(|id| given(id)) {
                let flag = id.replace('_', "-");
                if !changed.contains(&flag) {
                    changed.push(flag);
                }
            }
        }
    };
    take(&["data"], &mut |c| c.data = fresh.data.clone());
    take(&["preset", "res"], &mut |c| {
        let source = c.model.prior_source;
        c.model = fresh.model.clone();
        c.model.prior_source = source;
    });
    take(&["prior_source"], &mut |c| {
        c.model.prior_source = fresh.model.prior_source;
    });
    take(&["stage"], &mut |c| c.stages = fresh.stages.clone());
    take(&["steps", "prior_steps"], &mut |c| {
        c.prior_steps = fresh.prior_steps
    });
    take(&["steps", "pdgan_steps"], &mut |c| {
        c.pdgan_steps = fresh.pdgan_steps
    });
    take(&["batch"], &mut |c| c.batch = fresh.batch);
    take(&["seed"], &mut |c| c.seed = fresh.seed);
    take(&["masks"], &mut |c| c.masks = fresh.masks);
    take(&["checkpoint_every"], &mut |c| {
        c.checkpoint_every = fresh.checkpoint_every;
    });
    take(&["preview_every"], &mut |c| {
        c.preview_every = fresh.preview_every
    });
    take(&["prior_mask_conv"], &mut |c| {
        c.stage1.mask_conv = fresh.stage1.mask_conv;
    });
    take(&["diversity_weight"], &mut |c| {
        c.stage2.weights.diversity = fresh.stage2.weights.diversity;
    });
    take(&["diversity_layers"], &mut |c| {
        c.stage2.diversity_layers = fresh.stage2.diversity_layers;
    });
    take(&["perceptual_weight"], &mut |c| {
        c.stage2.weights.perceptual = fresh.stage2.weights.perceptual;
    });
    take(&["tv_weight"], &mut |c| {
        c.stage2.weights.tv = fresh.stage2.weights.tv;
    });
    take(&["unit_perceptual_weight"], &mut |c| {
        c.stage2.weights.unit_perceptual = fresh.stage2.weights.unit_perceptual;
    });
    take(&["adversarial_weight"], &mut |c| {
        c.stage2.weights.adversarial = fresh.stage2.weights.adversarial;
    });
    take(&["critic_hole"], &mut |c| {
        c.stage2.critic_hole = fresh.stage2.critic_hole;
    });
    take(&["lowpass_weight"], &mut |c| {
        c.stage2.weights.lowpass = fresh.stage2.weights.lowpass;
    });
    take(&["chroma_weight"], &mut |c| {
        c.stage2.weights.chroma_hf = fresh.stage2.weights.chroma_hf;
    });
    take(&["spectrum_weight"], &mut |c| {
        c.stage2.weights.spectrum = fresh.stage2.weights.spectrum;
    });
    take(&["style_weight"], &mut |c| {
        c.stage1.weights.style = fresh.stage1.weights.style;
    });
    take(&["ema"], &mut |c| c.ema_decay = fresh.ema_decay);
    take(&["lr_scale"], &mut |c| c.lr_scale = fresh.lr_scale);
    take(&["critic_lr"], &mut |c| c.stage2.lr_d = fresh.stage2.lr_d);
    take(&["critic_steps"], &mut |c| {
        c.stage2.critic_steps = fresh.stage2.critic_steps;
    });
    take(&["critic_only"], &mut |c| {
        c.stage2.critic_only = fresh.stage2.critic_only;
    });
    // The loss network follows its own rule (the run keeps the one it was started with
    // unless one is named; the run itself says which), so it always comes from the
    // arguments. A prior folder only when named: a resumed stage 2 swaps its prior for a
    // named folder's and otherwise keeps the checkpoint's.
    cfg.vgg = fresh.vgg;
    cfg.prior_from = fresh.prior_from;
    cfg.out = fresh.out;
    cfg.resume = true;
    cfg.restart_ema = a.restart_average;
    cfg.validate()?;
    Ok((cfg, changed))
}

/// The configuration of a new run (or of a resume with no readable checkpoint), on `data`
/// if given, else `--data` or the default photo set.
fn fresh_config(a: &Args, data: Option<PathBuf>) -> Result<TrainConfig> {
    let data = match data.or_else(|| a.data.clone()) {
        Some(d) => d,
        None => match default_data_dir().filter(|d| d.is_dir()) {
            Some(d) => d,
            None => bail!(
                "no --data given and the default photo set is missing; build it with \
                 scripts/fetch-photos.sh or pass --data DIR"
            ),
        },
    };
    let mut cfg = TrainConfig::new(data, a.out.clone(), a.preset.config());
    if let Some(r) = a.res {
        cfg.set_resolution(r)?;
    }
    cfg.stages = match a.stage {
        StageArg::Prior => vec![Stage::Prior],
        StageArg::Pdgan => vec![Stage::Pdgan],
        StageArg::Both => vec![Stage::Prior, Stage::Pdgan],
    };
    cfg.prior_steps = a.prior_steps.unwrap_or(a.steps);
    cfg.pdgan_steps = a.pdgan_steps.unwrap_or(a.steps);
    cfg.batch = a.batch;
    cfg.seed = a.seed;
    cfg.masks = a.masks;
    cfg.resume = a.resume;
    cfg.vgg = match (&a.vgg, a.vgg_width_div) {
        (Some(VggArg::File(path)), Some(_)) => bail!(
            "--vgg-width-div sets the width of the random VGG; {} is used at its own width \
             (drop one of the two)",
            path.display()
        ),
        (Some(VggArg::File(path)), None) => VggChoice {
            weights: Some(path.clone()),
            ..VggChoice::default()
        },
        (Some(VggArg::Random), width) | (None, width @ Some(_)) => {
            let mut c = VggChoice::default();
            c.config.width_div = width.unwrap_or(a.preset.vgg_width_div());
            c
        }
        (None, None) => VggChoice::standard(standard_weights_path(), a.preset.vgg_width_div()),
    };
    cfg.checkpoint_every = a.checkpoint_every;
    cfg.preview_every = a.preview_every;
    cfg.prior_from = a.prior_from.clone();
    cfg.stage1.mask_conv = a.prior_mask_conv;
    cfg.init_from = a.init_from.clone();
    cfg.stage2.weights.diversity = a.diversity_weight;
    cfg.stage2.weights.perceptual = a.perceptual_weight;
    cfg.stage2.weights.tv = a.tv_weight;
    cfg.stage2.weights.unit_perceptual = a.unit_perceptual_weight;
    cfg.stage2.weights.lowpass = a.lowpass_weight;
    cfg.stage2.weights.chroma_hf = a.chroma_weight;
    cfg.stage2.weights.spectrum = a.spectrum_weight;
    cfg.stage2.weights.adversarial = a.adversarial_weight;
    cfg.stage2.critic_hole = a.critic_hole;
    cfg.stage2.diversity_layers = a.diversity_layers;
    match (a.prior_source, &a.init_from) {
        (Some(source), _) => cfg.model.prior_source = source,
        // A fine-tuning run keeps its model's prior (an unreadable folder is reported when
        // the run loads it).
        (None, Some(dir)) => {
            if let Ok(file) = pdpaint::model::weights::read_model_file(dir) {
                cfg.model.prior_source = file.config.prior_source;
            }
        }
        (None, None) => {}
    }
    cfg.stage1.weights.style = a.style_weight;
    cfg.ema_decay = a.ema;
    cfg.lr_scale = a.lr_scale;
    // Checked here rather than in `TrainConfig::validate`: tests set absurd rates on purpose.
    if !(a.critic_lr.is_finite() && a.critic_lr > 0.0 && a.critic_lr <= 1.0) {
        bail!(
            "--critic-lr: the discriminator learning rate must be in (0, 1], got {}",
            a.critic_lr
        );
    }
    cfg.stage2.lr_d = a.critic_lr;
    cfg.stage2.critic_steps = a.critic_steps;
    cfg.stage2.critic_only = a.critic_only;
    cfg.validate()?;
    Ok(cfg)
}

fn fmt_losses(losses: &[(String, f32)]) -> String {
    losses
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Runs `pdpaint train`.
pub fn run(a: Args) -> Result<()> {
    let (cfg, changed) = config(&a)?;
    if let Some(changed) = changed {
        eprintln!(
            "resuming with the options the run was last started with{}",
            if changed.is_empty() {
                String::new()
            } else {
                format!(", except --{} (given)", changed.join(", --"))
            }
        );
    }
    let sel = super::select_backend(&a.backend)?;
    let stop = StopFlag::new();
    {
        let stop = stop.clone();
        let mut presses = 0u32;
        let handler = ctrlc::set_handler(move || {
            presses += 1;
            if presses > 1 {
                eprintln!("\ninterrupted twice: exiting without saving");
                std::process::exit(130);
            }
            eprintln!("\nstopping: saving a checkpoint and the model (Ctrl-C again to quit now)…");
            stop.stop();
        });
        if let Err(e) = handler {
            eprintln!("warning: Ctrl-C will not save before exiting: {e}");
        }
    }
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta}\n  {msg}",
    )
    .context("progress bar template")?
    .progress_chars("=> ");
    let mut bar: Option<ProgressBar> = None;
    let mut finished = None;
    let mut last_line = std::time::Instant::now();
    let mut sink = |e: Event| match e {
        Event::Started {
            out,
            photos,
            skipped,
            vgg,
            resumed,
        } => {
            eprintln!(
                "training {} at {}²: {photos} photos ({skipped} skipped) from {}",
                cfg.model.preset,
                cfg.model.resolution(),
                cfg.data.display()
            );
            eprintln!("loss network: {vgg}");
            if let Some((s, n)) = resumed {
                eprintln!("resumed from the {s} checkpoint at step {n}");
            }
            eprintln!("result: {}", out.display());
        }
        Event::StageStarted { stage, step, total } => {
            let b = ProgressBar::new(total).with_style(style.clone());
            b.set_prefix(format!("{stage:>5}"));
            b.set_position(step);
            b.enable_steady_tick(Duration::from_millis(500));
            bar = Some(b);
        }
        Event::Step {
            stage,
            step,
            total,
            losses,
            steps_per_sec,
            ..
        } => {
            if let Some(b) = &bar {
                b.set_position(step);
                b.set_message(fmt_losses(&losses));
                // Not a terminal (a log file): a plain line every 30 s and at the end.
                if b.is_hidden() && (last_line.elapsed().as_secs() >= 30 || step == total) {
                    last_line = std::time::Instant::now();
                    eprintln!(
                        "{stage} {step}/{total} ({steps_per_sec:.2} steps/s): {}",
                        fmt_losses(&losses)
                    );
                }
            }
        }
        Event::StageFinished { stage } => {
            if let Some(b) = bar.take() {
                b.finish();
            }
            eprintln!("stage {stage} done");
        }
        other => {
            let line = match other {
                Event::Skipped {
                    stage,
                    step,
                    reason,
                } => format!("warning: {stage} step {step} skipped: {reason}"),
                Event::Restored {
                    stage,
                    step,
                    lr_backoff,
                } => format!(
                    "warning: repeated non-finite losses: restored the {stage} checkpoint at step \
                     {step}, learning rate ×{lr_backoff}"
                ),
                Event::Checkpoint { path, .. } => format!("checkpoint: {}", path.display()),
                Event::Preview { path, .. } => format!("preview: {}", path.display()),
                Event::Log(m) => m,
                Event::Failed { error } => format!("error: {error}"),
                Event::Finished { model, stopped } => {
                    finished = Some((model.clone(), stopped));
                    format!(
                        "{}: model folder {}",
                        if stopped { "stopped" } else { "finished" },
                        model.display()
                    )
                }
                _ => String::new(),
            };
            if !line.is_empty() {
                // A hidden bar (stderr not a terminal) drops println: print plainly then.
                match &bar {
                    Some(b) if !b.is_hidden() => b.println(line),
                    _ => eprintln!("{line}"),
                }
            }
        }
    };
    pdpaint::train::run(&cfg, &sel.device, &mut sink, &stop)?;
    if let Some(b) = bar.take() {
        b.abandon();
    }
    match finished {
        Some((model, true)) => {
            eprintln!(
                "continue with: pdpaint train --resume --out {}",
                cfg.out.display()
            );
            println!("{}", model.display());
        }
        Some((model, false)) => println!("{}", model.display()),
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args as _, FromArgMatches};

    /// `pdpaint train ARGV…` parsed as main.rs does it, with the given ids recorded.
    fn parse(argv: &[&str]) -> Args {
        let cmd = Args::augment_args(clap::Command::new("train").no_binary_name(true));
        let m = cmd.try_get_matches_from(argv).expect("arguments parse");
        let mut a = Args::from_arg_matches(&m).expect("arguments");
        a.given = given_ids(&m);
        a
    }

    #[test]
    fn a_resume_takes_a_given_tv_weight_and_keeps_the_saved_one_otherwise() {
        let fresh = parse(&["--data", "photos", "--out", "run"]);
        let mut saved = fresh_config(&fresh, None).expect("fresh config");
        assert_eq!(
            saved.stage2.weights.tv, 0.1,
            "the authors' weight by default"
        );
        saved.stage2.weights.tv = 0.3;
        let (kept, changed) =
            resumed_config(&parse(&["--out", "run", "--resume"]), saved.clone()).expect("resume");
        assert_eq!(kept.stage2.weights.tv, 0.3);
        assert!(changed.is_empty(), "{changed:?}");
        let (cfg, changed) = resumed_config(
            &parse(&["--out", "run", "--resume", "--tv-weight", "1"]),
            saved,
        )
        .expect("resume");
        assert_eq!(cfg.stage2.weights.tv, 1.0);
        assert_eq!(changed, vec!["tv-weight".to_string()]);
        let bad = parse(&["--data", "photos", "--out", "run", "--tv-weight=-1"]);
        let e = format!("{:#}", fresh_config(&bad, None).expect_err("refused"));
        assert!(e.contains("TV loss weight"), "{e}");
    }

    #[test]
    fn a_resume_takes_given_lowpass_and_adversarial_weights_and_keeps_the_saved_ones_otherwise() {
        let fresh = parse(&["--data", "photos", "--out", "run"]);
        let mut saved = fresh_config(&fresh, None).expect("fresh config");
        assert_eq!(saved.stage2.weights.lowpass, 0.0, "off by default");
        saved.stage2.weights.lowpass = 4.0;
        let (kept, changed) =
            resumed_config(&parse(&["--out", "run", "--resume"]), saved.clone()).expect("resume");
        assert_eq!(kept.stage2.weights.lowpass, 4.0);
        assert!(changed.is_empty(), "{changed:?}");
        let (cfg, changed) = resumed_config(
            &parse(&["--out", "run", "--resume", "--lowpass-weight", "10"]),
            saved,
        )
        .expect("resume");
        assert_eq!(cfg.stage2.weights.lowpass, 10.0);
        assert_eq!(changed, vec!["lowpass-weight".to_string()]);
        let (cfg, changed) = resumed_config(
            &parse(&["--out", "run", "--resume", "--adversarial-weight", "5"]),
            kept,
        )
        .expect("resume");
        assert_eq!(cfg.stage2.weights.adversarial, 5.0);
        assert_eq!(
            cfg.stage2.weights.lowpass, 4.0,
            "the saved low-pass weight is kept"
        );
        assert_eq!(changed, vec!["adversarial-weight".to_string()]);
        let bad = parse(&["--data", "photos", "--out", "run", "--lowpass-weight=-1"]);
        let e = format!("{:#}", fresh_config(&bad, None).expect_err("refused"));
        assert!(e.contains("low-pass loss weight"), "{e}");
    }

    /// A stage-2 weight flag that is off by default: given to a fresh run it is saved, a plain
    /// resume keeps it, a resume that gives it again changes it (and names it), and a
    /// negative value is refused with an error naming `error_name`.
    #[track_caller]
    fn check_resumable_weight_flag(
        flag: &str,
        (first, on_resume): (&str, &str),
        get: fn(&TrainConfig) -> f64,
        error_name: &str,
    ) {
        let value = |v: &str| v.parse::<f64>().expect("a number");
        let fresh = parse(&["--data", "photos", "--out", "run", flag, first]);
        let saved = fresh_config(&fresh, None).expect("fresh config");
        assert_eq!(get(&saved), value(first));
        let off = fresh_config(&parse(&["--data", "photos", "--out", "run"]), None)
            .expect("fresh config");
        assert_eq!(get(&off), 0.0, "off by default");
        let (kept, changed) =
            resumed_config(&parse(&["--out", "run", "--resume"]), saved.clone()).expect("resume");
        assert_eq!(get(&kept), value(first));
        assert!(changed.is_empty(), "{changed:?}");
        let (cfg, changed) = resumed_config(
            &parse(&["--out", "run", "--resume", flag, on_resume]),
            saved,
        )
        .expect("resume");
        assert_eq!(get(&cfg), value(on_resume), "changed on a resume");
        assert_eq!(changed, vec![flag.trim_start_matches('-').to_string()]);
        let bad = parse(&["--data", "photos", "--out", "run", &format!("{flag}=-1")]);
        let e = format!("{:#}", fresh_config(&bad, None).expect_err("refused"));
        assert!(e.contains(error_name), "{e}");
    }

    #[test]
    fn a_resume_takes_a_given_chroma_weight_and_keeps_the_saved_one_otherwise() {
        // Switched off on a resume.
        check_resumable_weight_flag(
            "--chroma-weight",
            ("50", "0"),
            |c| c.stage2.weights.chroma_hf,
            "fine chroma loss weight",
        );
    }

    #[test]
    fn a_resume_takes_a_given_spectrum_weight_and_keeps_the_saved_one_otherwise() {
        check_resumable_weight_flag(
            "--spectrum-weight",
            ("3", "8"),
            |c| c.stage2.weights.spectrum,
            "spectrum loss weight",
        );
    }

    #[test]
    fn a_resume_can_switch_critic_only_and_critic_hole_off_again() {
        let fresh = parse(&[
            "--data",
            "photos",
            "--out",
            "run",
            "--critic-only",
            "--critic-hole",
        ]);
        let saved = fresh_config(&fresh, None).expect("fresh config");
        assert!(saved.stage2.critic_only && saved.stage2.critic_hole);
        let (kept, changed) =
            resumed_config(&parse(&["--out", "run", "--resume"]), saved.clone()).expect("resume");
        assert!(
            kept.stage2.critic_only && kept.stage2.critic_hole,
            "kept when not named"
        );
        assert!(changed.is_empty(), "{changed:?}");
        let (cfg, changed) = resumed_config(
            &parse(&["--out", "run", "--resume", "--critic-only=false"]),
            saved.clone(),
        )
        .expect("resume");
        assert!(!cfg.stage2.critic_only, "switched off");
        assert!(cfg.stage2.critic_hole, "the other flag is kept");
        assert_eq!(changed, vec!["critic-only".to_string()]);
        let (cfg, _) = resumed_config(
            &parse(&[
                "--out",
                "run",
                "--resume",
                "--critic-hole=false",
                "--critic-only=true",
            ]),
            saved,
        )
        .expect("resume");
        assert!(cfg.stage2.critic_only && !cfg.stage2.critic_hole);
        let plain = parse(&["--data", "photos", "--out", "run"]);
        assert!(!plain.critic_only && !plain.critic_hole, "off by default");
        let cmd = Args::augment_args(clap::Command::new("train").no_binary_name(true));
        assert!(
            cmd.try_get_matches_from(["--out", "run", "--critic-only=maybe"])
                .is_err(),
            "only true or false"
        );
    }

    #[test]
    fn a_resume_takes_a_given_critic_learning_rate_and_bad_ones_are_refused() {
        let fresh = parse(&["--data", "photos", "--out", "run"]);
        let saved = fresh_config(&fresh, None).expect("fresh config");
        assert_eq!(saved.stage2.lr_d, 2e-3, "the authors' rate by default");
        let (kept, changed) =
            resumed_config(&parse(&["--out", "run", "--resume"]), saved.clone()).expect("resume");
        assert_eq!(kept.stage2.lr_d, 2e-3);
        assert!(changed.is_empty(), "{changed:?}");
        let (cfg, changed) = resumed_config(
            &parse(&["--out", "run", "--resume", "--critic-lr", "0.02"]),
            saved,
        )
        .expect("resume");
        assert_eq!(cfg.stage2.lr_d, 0.02);
        assert_eq!(cfg.stage2.lr_g, 5e-4, "the generator's rate is untouched");
        assert_eq!(changed, vec!["critic-lr".to_string()]);
        for bad in ["0", "-1", "2", "NaN"] {
            let arg = format!("--critic-lr={bad}");
            let a = parse(&["--data", "photos", "--out", "run", &arg]);
            let e = format!("{:#}", fresh_config(&a, None).expect_err("refused"));
            assert!(e.contains("discriminator learning rate"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_resume_takes_a_given_number_of_critic_steps_and_bad_ones_are_refused() {
        let fresh = parse(&["--data", "photos", "--out", "run"]);
        let saved = fresh_config(&fresh, None).expect("fresh config");
        assert_eq!(saved.stage2.critic_steps, 1, "the authors' one by default");
        let (kept, changed) =
            resumed_config(&parse(&["--out", "run", "--resume"]), saved.clone()).expect("resume");
        assert_eq!(kept.stage2.critic_steps, 1);
        assert!(changed.is_empty(), "{changed:?}");
        let (cfg, changed) = resumed_config(
            &parse(&["--out", "run", "--resume", "--critic-steps", "5"]),
            saved,
        )
        .expect("resume");
        assert_eq!(cfg.stage2.critic_steps, 5);
        assert_eq!(changed, vec!["critic-steps".to_string()]);
        let cmd = Args::augment_args(clap::Command::new("train").no_binary_name(true));
        for bad in ["0", "21", "-1", "two"] {
            let arg = format!("--critic-steps={bad}");
            assert!(
                cmd.clone()
                    .try_get_matches_from(["--out", "run", &arg])
                    .is_err(),
                "{bad}"
            );
        }
        let mut c = cfg;
        c.stage2.critic_steps = 0;
        assert!(
            c.validate().is_err(),
            "a hand-edited run file is checked too"
        );
    }
}
