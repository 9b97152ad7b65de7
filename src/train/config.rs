//! The configuration of a training run: every number of the authors' set-up is a field here,
//! with their value as the default (docs/network.md §2.4, §5).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::masks::MaskKind;
use crate::model::vgg::{VggConfig, VggKind, VggWeights};
use crate::model::{ModelConfig, PriorSource};
use crate::train::events::Stage;
use crate::train::stage1::Stage1Config;
use crate::train::stage2::Stage2Config;

/// Which feature network the losses use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VggChoice {
    /// VGG weights under torchvision's names (`.pth` or `.safetensors`: the ImageNet VGG-16 of
    /// `scripts/fetch-vgg.sh` or a torchvision state dict); `None` = a frozen, seeded, random
    /// VGG.
    pub weights: Option<PathBuf>,
    /// Architecture and width (the width divisor only applies to random weights).
    pub config: VggConfig,
    /// Seed of the random weights.
    pub seed: u64,
    /// How the choice was made: asked for, or the default lookup (a resumed run keeps its
    /// checkpoint's network unless one was asked for).
    #[serde(default)]
    pub selection: VggSelection,
    /// The network the run used (with the file's sha256 and activation divisor): filled in
    /// when the run starts, so `run.json` and the checkpoints say exactly which it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<VggWeights>,
}

/// How a [`VggChoice`] was made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum VggSelection {
    /// Asked for: `pdpaint train --vgg FILE` / `--vgg random` / `--vgg-width-div`, or set by a
    /// library caller.
    #[default]
    Explicit,
    /// No `--vgg`: the ImageNet VGG-16 found at the standard path
    /// ([`crate::model::vgg::standard_weights_path`]).
    StandardFile,
    /// No `--vgg` and no file at the standard path: the random VGG.
    NoStandardFile {
        /// Where the file was looked for (`None`: neither `XDG_DATA_HOME` nor `HOME` is set).
        looked_for: Option<PathBuf>,
    },
}

impl Default for VggChoice {
    fn default() -> Self {
        Self {
            weights: None,
            config: VggConfig {
                kind: VggKind::Vgg16,
                width_div: 1,
            },
            seed: 0x0005_EED0_F766,
            selection: VggSelection::Explicit,
            network: None,
        }
    }
}

impl VggChoice {
    /// `pdpaint train`'s default: the ImageNet VGG-16 at `standard` (the standard path) when it
    /// is a file, else the random VGG at width divisor `random_width_div`.
    pub fn standard(standard: Option<PathBuf>, random_width_div: usize) -> Self {
        let mut c = Self::default();
        match standard {
            Some(path) if path.is_file() => {
                c.weights = Some(path);
                c.selection = VggSelection::StandardFile;
            }
            looked_for => {
                c.config.width_div = random_width_div;
                c.selection = VggSelection::NoStandardFile { looked_for };
            }
        }
        c
    }

    /// Whether the default lookup made this choice (no network was asked for).
    pub fn by_default(&self) -> bool {
        self.selection != VggSelection::Explicit
    }

    /// Whether `self` and `other` build the same network: the same file, or random weights of
    /// the same kind, width and seed.
    pub fn same_network(&self, other: &VggChoice) -> bool {
        match (&self.weights, &other.weights) {
            (Some(a), Some(b)) => a == b && self.config.kind == other.config.kind,
            (None, None) => self.config == other.config && self.seed == other.seed,
            _ => false,
        }
    }
}

/// Learning-rate schedule: constant, then linear decay towards zero (the authors' LambdaLR:
/// 20 constant epochs then 100 decaying, i.e. `constant_fraction = 1/6`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Fraction of a stage's steps at the full learning rate.
    pub constant_fraction: f64,
}

impl Default for LrSchedule {
    fn default() -> Self {
        Self {
            constant_fraction: 20.0 / 120.0,
        }
    }
}

impl LrSchedule {
    /// The factor on the base learning rate at `step` (0-based) of `total`: 1 during the
    /// constant part, then `1 − (step + 1 − c)/(total − c + 1)`, as the authors' rule.
    pub fn factor(&self, step: u64, total: u64) -> f64 {
        let c = (self.constant_fraction.clamp(0.0, 1.0) * total as f64).round() as u64;
        if step < c {
            return 1.0;
        }
        let decay = (total.saturating_sub(c) + 1) as f64;
        (1.0 - (step + 1 - c) as f64 / decay).max(0.0)
    }
}

/// A whole training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Folder of training photos (searched recursively).
    pub data: PathBuf,
    /// Output folder: `model/` (the result), `checkpoints/`, `previews/`, `log.jsonl`.
    pub out: PathBuf,
    /// Network sizes; the training resolution is `model.resolution()` (set it with
    /// [`TrainConfig::set_resolution`]).
    pub model: ModelConfig,
    /// The stages to run, in order.
    pub stages: Vec<Stage>,
    /// Stage-1 steps.
    pub prior_steps: u64,
    /// Stage-2 steps.
    pub pdgan_steps: u64,
    /// Images per batch (stage 2 runs the generator on twice as many: two z per image).
    pub batch: usize,
    /// Seed of everything random in the run (initialisation, crops, masks, z).
    pub seed: u64,
    /// Training masks.
    pub masks: MaskKind,
    /// Feature network of the losses.
    pub vgg: VggChoice,
    /// Stage-1 optimiser and loss weights.
    pub stage1: Stage1Config,
    /// Stage-2 optimisers and loss weights.
    pub stage2: Stage2Config,
    /// Learning-rate schedule (per stage).
    pub schedule: LrSchedule,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between preview grids (0 = only at checkpoints and on request).
    pub preview_every: u64,
    /// Checkpoints kept on disk (the newest ones; at least 1).
    pub keep_checkpoints: usize,
    /// Consecutive non-finite steps before the last checkpoint is restored.
    pub max_bad_steps: u32,
    /// Factor on the learning rate after each restore.
    pub lr_backoff: f64,
    /// Images in the preview grid.
    pub preview_images: usize,
    /// Samples (seeds) per image in stage-2 previews.
    pub preview_samples: usize,
    /// Continue from the newest complete checkpoint in `out/checkpoints` if there is one.
    pub resume: bool,
    /// For a run of stage 2 alone: the model folder whose prior is used (default: `out/model`).
    pub prior_from: Option<PathBuf>,
    /// A new (not resumed) run starts from this model folder's weights instead of a random
    /// initialisation (the discriminator too when the folder has one); optimiser moments start
    /// at zero. The folder's network sizes must be the run's.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Decay of an exponential moving average of the generator's weights, kept during stage 2
    /// and written as the result's generator (0 = none, the authors' behaviour; see
    /// [`crate::train::ema`]).
    #[serde(default)]
    pub ema_decay: f64,
    /// Factor on both stages' base learning rates (1 = the authors'). Fine-tuning a trained
    /// model wants a smaller one: Adam's first steps after its moments restart at zero move
    /// every weight by about the learning rate, which at the from-scratch rate undoes much of
    /// what the model had learned.
    #[serde(default = "one")]
    pub lr_scale: f64,
    /// With `resume`: drop the checkpoint's moving average of the generator and start a new
    /// one at the resumed weights (e.g. after the run has left a bad phase the average still
    /// holds). A one-off request of this invocation, never saved with the run.
    #[serde(skip)]
    pub restart_ema: bool,
}

fn one() -> f64 {
    1.0
}

/// `"name value (code c)"` for each weight that differs from the code's, comma-separated.
fn changes<const N: usize>(
    run: [(&'static str, f64); N],
    code: [(&'static str, f64); N],
) -> Option<String> {
    let changed: Vec<String> = run
        .into_iter()
        .zip(code)
        .filter(|((_, v), (_, c))| v != c)
        .map(|((n, v), (_, c))| format!("{n} {v} (code {c})"))
        .collect();
    (!changed.is_empty()).then(|| changed.join(", "))
}

impl TrainConfig {
    /// A run of `model` on `data` writing to `out`, with the authors' settings.
    pub fn new(data: PathBuf, out: PathBuf, model: ModelConfig) -> Self {
        Self {
            data,
            out,
            model,
            stages: vec![Stage::Prior, Stage::Pdgan],
            prior_steps: 1000,
            pdgan_steps: 1000,
            batch: 8,
            seed: 0,
            masks: MaskKind::Mixed,
            vgg: VggChoice::default(),
            stage1: Stage1Config::default(),
            stage2: Stage2Config::default(),
            schedule: LrSchedule::default(),
            checkpoint_every: 200,
            preview_every: 200,
            keep_checkpoints: 2,
            max_bad_steps: 3,
            lr_backoff: 0.5,
            preview_images: 4,
            preview_samples: 4,
            resume: false,
            prior_from: None,
            init_from: None,
            ema_decay: 0.0,
            lr_scale: 1.0,
            restart_ema: false,
        }
    }

    /// Sets the training resolution (a multiple of 64: the generator grows a `res/64` latent
    /// grid through six ×2 units).
    pub fn set_resolution(&mut self, res: usize) -> Result<()> {
        if res < 64 || !res.is_multiple_of(64) {
            return Err(Error::Config(format!(
                "training resolution must be a multiple of 64 (at least 64), got {res}"
            )));
        }
        self.model.generator.latent = res / 64;
        Ok(())
    }

    /// Steps of `stage`.
    pub fn steps(&self, stage: Stage) -> u64 {
        match stage {
            Stage::Prior => self.prior_steps,
            Stage::Pdgan => self.pdgan_steps,
        }
    }

    /// The stage-2 loss weights that differ from the authors' code, e.g.
    /// `"diversity 0.1 (code 1)"`; `None` when all are the code's.
    pub fn stage2_weight_changes(&self) -> Option<String> {
        let weights = changes(
            self.stage2.weights.named(),
            crate::train::losses::Stage2Weights::default().named(),
        );
        use crate::train::losses::{DIVERSITY_BLUR_SIGMA, DiversityLayers};
        let layers = match self.stage2.diversity_layers {
            DiversityLayers::Code => None,
            DiversityLayers::Paper => Some(
                "diversity on relu1_1-relu5_1 with the hole on the features (the paper; code \
                 relu4_1 of the hole-masked samples)"
                    .to_string(),
            ),
            DiversityLayers::Blurred => Some(format!(
                "diversity on relu1_1-relu5_1 of the samples blurred by a Gaussian of σ = \
                 {DIVERSITY_BLUR_SIGMA} px, the hole on the features (code relu4_1 of the \
                 hole-masked samples)"
            )),
        };
        let critic = self
            .stage2
            .critic_hole
            .then(|| "the critic scored on the hole's cells only (code: every cell)".to_string());
        let parts: Vec<String> = [weights, layers, critic].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// The stage-1 loss weights that differ from the authors' code, e.g.
    /// `"style 12 (code 120)"`; `None` when all are the code's.
    pub fn stage1_weight_changes(&self) -> Option<String> {
        changes(
            self.stage1.weights.named(),
            crate::train::losses::Stage1Weights::default().named(),
        )
    }

    /// The learning-rate factor at `step` (0-based) of a stage's `total` steps: the
    /// schedule's, times [`TrainConfig::lr_scale`], times `backoff` (the restores' cut).
    pub fn lr_factor(&self, step: u64, total: u64, backoff: f64) -> f64 {
        self.schedule.factor(step, total) * self.lr_scale * backoff
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.vgg.config.validate()?;
        if self.stages.is_empty() {
            return Err(Error::Config("no stage to train".into()));
        }
        if self.model.prior_source == PriorSource::Telea && self.stages.contains(&Stage::Prior) {
            return Err(Error::Config(
                "a model whose prior is Telea's fill has no prior network to train: train \
                 stage 2 only (--stage pdgan)"
                    .into(),
            ));
        }
        if self.batch == 0 {
            return Err(Error::Config("batch size must be at least 1".into()));
        }
        if self.checkpoint_every == 0 {
            return Err(Error::Config(
                "checkpoint interval must be at least 1".into(),
            ));
        }
        if !(self.lr_backoff > 0.0 && self.lr_backoff <= 1.0) {
            return Err(Error::Config(format!(
                "lr back-off must be in (0, 1], got {}",
                self.lr_backoff
            )));
        }
        if self.max_bad_steps == 0 {
            return Err(Error::Config("max_bad_steps must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(Error::Config(format!(
                "the EMA decay must be in [0, 1) (0 = no average), got {}",
                self.ema_decay
            )));
        }
        if !(self.lr_scale.is_finite() && self.lr_scale > 0.0 && self.lr_scale <= 10.0) {
            return Err(Error::Config(format!(
                "the learning-rate scale must be in (0, 10], got {}",
                self.lr_scale
            )));
        }
        let k = self.stage2.critic_steps;
        if !(1..=crate::train::stage2::MAX_CRITIC_STEPS).contains(&k) {
            return Err(Error::Config(format!(
                "stage 2's critic steps per step must be in 1–{}, got {k}",
                crate::train::stage2::MAX_CRITIC_STEPS
            )));
        }
        for (stage, name, v) in (self.stage1.weights.named().map(|(n, v)| (1, n, v)))
            .into_iter()
            .chain(self.stage2.weights.named().map(|(n, v)| (2, n, v)))
        {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!(
                    "the stage-{stage} {name} loss weight must be a finite number ≥ 0, got {v}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_constant_then_linear_like_the_authors_lambda() {
        // 120 "epochs", 20 constant: epoch e (0-based) gets 1 - max(0, e + 1 - 20)/101.
        let s = LrSchedule::default();
        for e in 0..120u64 {
            let want = 1.0 - ((e + 1) as f64 - 20.0).max(0.0) / 101.0;
            assert!((s.factor(e, 120) - want).abs() < 1e-12, "epoch {e}");
        }
        assert_eq!(s.factor(0, 120), 1.0);
        assert!(s.factor(119, 120) > 0.0 && s.factor(119, 120) < 0.02);
        let flat = LrSchedule {
            constant_fraction: 1.0,
        };
        assert_eq!(flat.factor(99, 100), 1.0);
    }

    #[test]
    fn resolution_sets_the_latent_grid() {
        let mut c = TrainConfig::new("d".into(), "o".into(), crate::model::Preset::Small.config());
        c.set_resolution(128).expect("128 is valid");
        assert_eq!(c.model.resolution(), 128);
        assert!(c.set_resolution(100).is_err());
        assert!(c.validate().is_ok());
        c.batch = 0;
        assert!(c.validate().is_err());
        c.batch = 1;
        c.ema_decay = 0.999;
        assert!(c.validate().is_ok());
        for bad in [1.0, -0.5, f64::NAN] {
            c.ema_decay = bad;
            let e = c.validate().expect_err("refused").to_string();
            assert!(e.contains("EMA decay"), "{e}");
        }
    }

    #[test]
    fn the_standard_vgg_is_used_when_present_and_old_configs_still_read() {
        let t = std::env::temp_dir().join(format!("pdpaint-vggchoice-{}", std::process::id()));
        std::fs::create_dir_all(&t).expect("mkdir");
        let file = t.join("vgg16-imagenet.safetensors");
        let absent = VggChoice::standard(Some(file.clone()), 4);
        assert_eq!(absent.weights, None);
        assert_eq!(absent.config.width_div, 4);
        assert_eq!(
            absent.selection,
            VggSelection::NoStandardFile {
                looked_for: Some(file.clone())
            }
        );
        assert!(absent.by_default());
        std::fs::write(&file, b"x").expect("write");
        let present = VggChoice::standard(Some(file.clone()), 4);
        assert_eq!(present.weights.as_deref(), Some(file.as_path()));
        assert_eq!(present.selection, VggSelection::StandardFile);
        assert!(!present.same_network(&absent));
        assert!(absent.same_network(&VggChoice::standard(None, 4)));
        assert!(!absent.same_network(&VggChoice::standard(None, 16)));
        assert!(!VggChoice::default().by_default());
        std::fs::remove_dir_all(&t).expect("clean up");
        // A run.json written before these fields existed reads as an explicit choice.
        let old = r#"{"weights":null,"config":{"kind":"vgg16","width_div":4},"seed":7}"#;
        let c: VggChoice = serde_json::from_str(old).expect("old VggChoice");
        assert_eq!(c.selection, VggSelection::Explicit);
        assert_eq!(c.network, None);
        let back: VggChoice =
            serde_json::from_str(&serde_json::to_string(&present).expect("json")).expect("read");
        assert_eq!(back, present);
    }

    #[test]
    fn lr_scale_multiplies_the_schedule_and_bad_scales_are_refused() {
        let mut c = TrainConfig::new("d".into(), "o".into(), crate::model::Preset::Small.config());
        assert_eq!(c.lr_factor(0, 600, 1.0), 1.0);
        c.lr_scale = 0.1;
        assert!((c.lr_factor(0, 600, 1.0) - 0.1).abs() < 1e-12);
        assert!((c.lr_factor(0, 600, 0.5) - 0.05).abs() < 1e-12);
        let decayed = c.schedule.factor(599, 600);
        assert!((c.lr_factor(599, 600, 1.0) - 0.1 * decayed).abs() < 1e-12);
        assert!(c.validate().is_ok());
        for bad in [0.0, -1.0, 11.0, f64::NAN, f64::INFINITY] {
            c.lr_scale = bad;
            let e = c.validate().expect_err("refused").to_string();
            assert!(e.contains("learning-rate scale"), "{e}");
        }
        // A run.json from before the field existed reads as the authors' rates.
        let mut v = serde_json::to_value(TrainConfig::new(
            "d".into(),
            "o".into(),
            crate::model::Preset::Small.config(),
        ))
        .expect("encodes");
        v.as_object_mut().expect("object").remove("lr_scale");
        let back: TrainConfig = serde_json::from_value(v).expect("decodes");
        assert_eq!(back.lr_scale, 1.0);
    }

    #[test]
    fn stage2_weight_changes_name_each_departure_and_bad_weights_are_refused() {
        let mut c = TrainConfig::new("d".into(), "o".into(), crate::model::Preset::Small.config());
        assert_eq!(c.stage2_weight_changes(), None);
        c.stage2.weights.diversity = 0.1;
        assert_eq!(
            c.stage2_weight_changes().as_deref(),
            Some("diversity 0.1 (code 1)")
        );
        c.stage2.weights.perceptual = 20.0;
        assert_eq!(
            c.stage2_weight_changes().as_deref(),
            Some("perceptual 20 (code 10), diversity 0.1 (code 1)")
        );
        c.stage2.diversity_layers = crate::train::losses::DiversityLayers::Paper;
        assert!(
            c.stage2_weight_changes().is_some_and(|s| s.starts_with(
                "perceptual 20 (code 10), diversity 0.1 (code 1), \
                                                diversity on relu1_1-relu5_1"
            )),
            "{:?}",
            c.stage2_weight_changes()
        );
        c.stage2.diversity_layers = crate::train::losses::DiversityLayers::Blurred;
        assert!(
            c.stage2_weight_changes().is_some_and(|s| s.contains(
                "diversity on relu1_1-relu5_1 of the samples blurred by a Gaussian of σ = 2 px"
            )),
            "{:?}",
            c.stage2_weight_changes()
        );
        c.stage2.diversity_layers = crate::train::losses::DiversityLayers::Code;
        assert!(c.validate().is_ok());
        c.stage2.weights.diversity = 0.0;
        assert!(c.validate().is_ok(), "0 switches a term off");
        for bad in [-0.5, f64::NAN, f64::INFINITY] {
            c.stage2.weights.diversity = bad;
            let e = c.validate().expect_err("refused").to_string();
            assert!(e.contains("diversity loss weight"), "{e}");
        }
        c.stage2.weights.diversity = 1.0;
        c.stage2.weights.perceptual = 10.0;
        c.stage2.weights.tv = 0.5;
        assert_eq!(
            c.stage2_weight_changes().as_deref(),
            Some("TV 0.5 (code 0.1)")
        );
        c.stage2.weights.tv = -1.0;
        let e = c.validate().expect_err("refused").to_string();
        assert!(e.contains("stage-2 TV loss weight"), "{e}");
        c.stage2.weights.tv = 0.1;
        c.stage2.critic_hole = true;
        assert!(
            c.stage2_weight_changes()
                .is_some_and(|s| s
                    .ends_with("the critic scored on the hole's cells only (code: every cell)")),
            "{:?}",
            c.stage2_weight_changes()
        );
        c.stage2.critic_hole = false;
        assert_eq!(c.stage1_weight_changes(), None);
        c.stage1.weights.style = 12.0;
        assert_eq!(
            c.stage1_weight_changes().as_deref(),
            Some("style 12 (code 120)")
        );
        assert!(c.validate().is_ok());
        c.stage1.weights.style = -1.0;
        let e = c.validate().expect_err("refused").to_string();
        assert!(e.contains("stage-1 style loss weight"), "{e}");
    }
}
