//! `recipe.json`: everything needed to make the same samples again, bit for bit.
//!
//! A [`Recipe`] names the photo, the mask and the model (each with a SHA-256), the samples
//! ([`ZSpec`]s), every setting, and the pins and mix steps with their masks. The masks live
//! beside the recipe (`pins/pin-N.png`, `mixes/mix-N.png`), stored losslessly, each with its
//! SHA-256 in the recipe; a file that does not match is refused. [`Recipe::load`] treats the
//! file as untrusted: it caps the file size and every count, and refuses mask paths that are
//! not plain names inside the recipe's folder. [`Recipe::plan`] turns a recipe into a
//! [`Plan`] (the masks loaded), and [`replay`] makes the samples of a plan one by one, which
//! is also how a fresh `pdpaint inpaint` run makes them. See `docs/recipe.md`.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detail::{DetailMode, DetailParams};
use crate::error::{Error, Result};
use crate::imageops::sha256_file;
use crate::inference::{InpaintOptions, Inpainter, Prepared, Sample, ZSpec};
use crate::mask::Mask;

use super::mix::{MixStack, MixStep, check_feather};
use super::pin::{Pin, apply_pin};
use super::score::{SampleScores, SeamScorer, realism};

/// The recipe format this version writes (recipes without the field are format 1).
pub const FORMAT: u32 = 2;
/// Largest recipe file [`Recipe::load`] reads.
pub const MAX_RECIPE_BYTES: u64 = 8 << 20;
/// Most samples one run makes.
pub const MAX_SAMPLES: usize = 256;
/// Most pins a recipe may stack.
pub const MAX_PINS: usize = 32;
/// Most mix steps a recipe may have.
pub const MAX_MIX_STEPS: usize = 64;
/// Largest number of samples per generator call a recipe may ask for.
pub const MAX_BATCH: usize = 64;
/// Samples per generator call of recipes that do not say (what `inpaint` always used).
pub const DEFAULT_BATCH: usize = 4;

fn format_one() -> u32 {
    1
}

fn detail_off() -> DetailMode {
    DetailMode::Off
}

/// A file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedFile {
    /// Path as given (pin and mix masks: relative to the recipe's folder).
    pub path: PathBuf,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// How the sample files of a run are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// After the sample: `seed-7.png`, `slerp-3-7-2of5.png`.
    #[default]
    BySpec,
    /// In order along an interpolation: `between-00-seed-3.png`, `between-01-slerp-….png`, …
    Between,
}

impl Naming {
    /// The file name (without `.png`) of sample `index` of `count`.
    pub fn stem(self, index: usize, count: usize, spec: &ZSpec) -> String {
        match self {
            Self::BySpec => spec.file_stem(),
            Self::Between => {
                let digits = count.saturating_sub(1).max(1).to_string().len().max(2);
                format!("between-{index:0digits$}-{}", spec.file_stem())
            }
        }
    }
}

/// One pin as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinRecord {
    /// The sample the kept pixels come from.
    pub source: ZSpec,
    /// Whether that sample was detailed.
    pub detail: DetailMode,
    /// The kept pixels (white = keep), `pins/pin-N.png` beside the recipe.
    pub mask: HashedFile,
}

/// One mix step as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixStepRecord {
    /// The sample brushed in.
    pub other: ZSpec,
    /// The brush (white = brushed), `mixes/mix-N.png` beside the recipe.
    pub brush: HashedFile,
    /// Soft edge width in photo pixels.
    pub feather_px: f32,
}

/// A mix as recorded: a base sample and steps applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixRecord {
    /// The sample the mix starts from.
    pub base: ZSpec,
    /// The steps.
    pub steps: Vec<MixStepRecord>,
    /// The written result.
    #[serde(default)]
    pub output: Option<PathBuf>,
}

/// Everything needed to reproduce an `inpaint` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// pdpaint version that wrote it.
    pub pdpaint_version: String,
    /// Recipe format ([`FORMAT`]; 1 when absent).
    #[serde(default = "format_one")]
    pub format: u32,
    /// The photo.
    pub image: HashedFile,
    /// The mask.
    pub mask: HashedFile,
    /// The model folder (or the embedded model's name) and a hash over its config and
    /// weights.
    pub model: HashedFile,
    /// Model resolution the samples were made at (absent in format 1).
    #[serde(default)]
    pub resolution: Option<usize>,
    /// Format 1's samples: one seed each. Empty when `samples` is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// The samples, in order (format 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<ZSpec>,
    /// How the sample files are named.
    #[serde(default)]
    pub naming: Naming,
    /// Context margin.
    pub margin: f32,
    /// Seam correction width.
    pub feather_px: f32,
    /// Samples per generator call ([`DEFAULT_BATCH`] when absent).
    #[serde(default)]
    pub batch: Option<usize>,
    /// Backend used (results are reproducible to float rounding across backends).
    pub backend: String,
    /// Context box `[x0, y0, size]` in photo pixels (of the samples, after any pins).
    pub context_box: [i64; 3],
    /// Full-resolution detail (recipes written before it existed had none: `off`).
    #[serde(default = "detail_off")]
    pub detail: DetailMode,
    /// The detail synthesis settings used (absent when detail is off).
    #[serde(default)]
    pub detail_params: Option<DetailParams>,
    /// Pins applied before the samples, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<PinRecord>,
    /// A mix made from the samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<MixRecord>,
    /// Written files, one per sample (the detailed samples when detail is on).
    pub outputs: Vec<PathBuf>,
    /// The raw samples, one per sample, when detail is on (else empty).
    #[serde(default)]
    pub raw_outputs: Vec<PathBuf>,
}

/// One of a recipe's inputs, for [`Recipe::mismatches`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The photo.
    Image,
    /// The hole mask.
    Mask,
    /// The model.
    Model,
}

impl Input {
    /// `image`, `mask` or `model`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Mask => "mask",
            Self::Model => "model",
        }
    }
}

/// A mix with its brushes loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct MixPlan {
    /// The sample the mix starts from.
    pub base: ZSpec,
    /// The steps, in order.
    pub steps: Vec<MixStep>,
}

/// A recipe's work, with its masks loaded: what [`replay`] makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The samples, in order.
    pub specs: Vec<ZSpec>,
    /// Margin, seam feather, batch and detail settings.
    pub options: InpaintOptions,
    /// Pins applied before the samples, in order (effective masks: inside the hole each is
    /// made on).
    pub pins: Vec<Pin>,
    /// A mix of the samples.
    pub mix: Option<MixPlan>,
    /// How the sample files are named.
    pub naming: Naming,
}

/// Checks that a pin or mix mask path is a plain relative name (at most one folder deep,
/// no `..`, no root) and returns it joined to `dir`.
///
/// # Errors
/// [`Error::Input`] naming the path.
pub fn resolve_plain(dir: &Path, rel: &Path) -> Result<PathBuf> {
    let comps: Vec<Component<'_>> = rel.components().collect();
    let plain = !comps.is_empty()
        && comps.len() <= 2
        && comps.iter().all(|c| matches!(c, Component::Normal(_)))
        && rel
            .to_str()
            .is_some_and(|s| !s.contains('\\') && !s.contains('\0'));
    if !plain {
        return Err(Error::Input(format!(
            "a recipe's mask files must be plain names inside the recipe's folder (such as pins/pin-1.png), not {}",
            rel.display()
        )));
    }
    Ok(dir.join(rel))
}

fn check_sha(s: &str, what: &str) -> Result<()> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "{what}: the SHA-256 must be 64 hex digits, got {s:?}"
        )))
    }
}

impl Recipe {
    /// Reads and checks a recipe ([`Self::validate`]).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Input`] when it is larger than
    /// [`MAX_RECIPE_BYTES`], is not a recipe or fails validation (messages end with the path).
    pub fn load(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io("cannot read recipe", path, e))?;
        if meta.len() > MAX_RECIPE_BYTES {
            return Err(Error::Input(format!(
                "the recipe is {} bytes, more than the {MAX_RECIPE_BYTES} a recipe may have: {}",
                meta.len(),
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read recipe", path, e))?;
        let rec: Self = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Input(format!("not a pdpaint recipe ({e}): {}", path.display())))?;
        rec.validate().map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("{m}: {}", path.display())),
            other => other,
        })?;
        Ok(rec)
    }

    /// Writes the recipe as pretty JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Input(format!("cannot encode the recipe: {e}")))?;
        crate::fsutil::write_atomic(path, &bytes)
    }

    /// Checks counts, numbers and names: at most [`MAX_SAMPLES`] samples, [`MAX_PINS`] pins
    /// and [`MAX_MIX_STEPS`] mix steps; valid specs (no sample twice when files are named
    /// after their samples); finite, non-negative settings; plain mask file names.
    ///
    /// # Errors
    /// [`Error::Input`] saying what is wrong.
    pub fn validate(&self) -> Result<()> {
        for (n, what) in [(self.seeds.len(), "seeds"), (self.samples.len(), "samples")] {
            if n > MAX_SAMPLES {
                return Err(Error::Input(format!(
                    "a run makes 1–{MAX_SAMPLES} samples; the recipe lists {n} {what}"
                )));
            }
        }
        if !self.seeds.is_empty() && !self.samples.is_empty() {
            return Err(Error::Input(
                "the recipe lists both seeds and samples (one or the other)".into(),
            ));
        }
        if self.seeds.is_empty() && self.samples.is_empty() {
            return Err(Error::Input(format!(
                "a run makes 1–{MAX_SAMPLES} samples; the recipe lists none"
            )));
        }
        if self.pins.len() > MAX_PINS {
            return Err(Error::Input(format!(
                "the recipe stacks {} pins; at most {MAX_PINS} are allowed",
                self.pins.len()
            )));
        }
        let specs = self.specs();
        for s in &specs {
            s.validate()?;
        }
        if self.naming == Naming::BySpec {
            let mut seen = std::collections::HashSet::new();
            for s in &specs {
                if !seen.insert(s.normalized()) {
                    return Err(Error::Input(format!("sample {s} is listed twice")));
                }
            }
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(Error::Input(format!(
                "the margin must be a non-negative number, got {}",
                self.margin
            )));
        }
        if !self.feather_px.is_finite() {
            return Err(Error::Input(format!(
                "the seam feather must be a number, got {}",
                self.feather_px
            )));
        }
        if let Some(b) = self.batch
            && !(1..=MAX_BATCH).contains(&b)
        {
            return Err(Error::Input(format!(
                "the batch must be 1–{MAX_BATCH}, got {b}"
            )));
        }
        if let Some(p) = &self.detail_params
            && !(p.guide_weight.is_finite() && p.guide_weight >= 0.0)
        {
            return Err(Error::Input(format!(
                "the guide weight must be a non-negative number, got {}",
                p.guide_weight
            )));
        }
        for (i, p) in self.pins.iter().enumerate() {
            p.source.validate()?;
            resolve_plain(Path::new("."), &p.mask.path)?;
            check_sha(&p.mask.sha256, &format!("pin {}", i + 1))?;
        }
        if let Some(m) = &self.mix {
            if m.steps.len() > MAX_MIX_STEPS {
                return Err(Error::Input(format!(
                    "the mix has {} steps; at most {MAX_MIX_STEPS} are allowed",
                    m.steps.len()
                )));
            }
            m.base.validate()?;
            for (i, s) in m.steps.iter().enumerate() {
                s.other.validate()?;
                resolve_plain(Path::new("."), &s.brush.path)?;
                check_sha(&s.brush.sha256, &format!("mix step {}", i + 1))?;
                check_feather(s.feather_px)?;
            }
        }
        Ok(())
    }

    /// The samples in order (format 1's seeds as [`ZSpec::Seed`]).
    pub fn specs(&self) -> Vec<ZSpec> {
        if self.samples.is_empty() {
            self.seeds.iter().map(|&s| ZSpec::Seed(s)).collect()
        } else {
            self.samples.clone()
        }
    }

    /// The inpainting options the recipe was made with.
    pub fn options(&self) -> InpaintOptions {
        InpaintOptions {
            margin: self.margin,
            feather_px: self.feather_px,
            batch: self.batch.unwrap_or(DEFAULT_BATCH),
            detail: self.detail,
            detail_params: self.detail_params.unwrap_or_default(),
        }
    }

    /// Which inputs differ from the ones the recipe was made with, given their hashes.
    pub fn mismatches(&self, image_sha: &str, mask_sha: &str, model_sha: &str) -> Vec<Input> {
        [
            (Input::Image, image_sha, &self.image.sha256),
            (Input::Mask, mask_sha, &self.mask.sha256),
            (Input::Model, model_sha, &self.model.sha256),
        ]
        .into_iter()
        .filter(|(_, got, want)| got != want)
        .map(|(i, _, _)| i)
        .collect()
    }

    /// The recipe's work with its pin and mix masks loaded from `dir` (the recipe's folder),
    /// each checked against its SHA-256 and against the photo size `size`.
    ///
    /// # Errors
    /// [`Error::Input`] for a bad name or a SHA-256 mismatch; [`Error::Shape`] for a mask of
    /// another size; [`Error::Io`]/[`Error::Image`] when a mask cannot be read.
    pub fn plan(&self, dir: &Path, size: (u32, u32)) -> Result<Plan> {
        let load = |f: &HashedFile, what: &str| -> Result<Mask> {
            let path = resolve_plain(dir, &f.path)?;
            let got = sha256_file(&path)?;
            if got != f.sha256 {
                return Err(Error::Input(format!(
                    "the {what} mask is not the one the recipe was made with (SHA-256 differs): {}",
                    path.display()
                )));
            }
            let m = Mask::load(&path)?;
            if (m.width, m.height) != size {
                return Err(Error::Shape(format!(
                    "the {what} mask is {}×{} but the photo is {}×{}: {}",
                    m.width,
                    m.height,
                    size.0,
                    size.1,
                    path.display()
                )));
            }
            Ok(m)
        };
        let pins = self
            .pins
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(Pin {
                    source: p.source,
                    detail: p.detail,
                    keep: load(&p.mask, &format!("pin {}", i + 1))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mix = match &self.mix {
            None => None,
            Some(m) => Some(MixPlan {
                base: m.base,
                steps: m
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        Ok(MixStep {
                            other: s.other,
                            brush: load(&s.brush, &format!("mix step {}", i + 1))?,
                            feather_px: s.feather_px,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            }),
        };
        Ok(Plan {
            specs: self.specs(),
            options: self.options(),
            pins,
            mix,
            naming: self.naming,
        })
    }
}

/// Which part of a replay a [`ReplayEvent::Progress`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Making the sample that pin `i` (0-based) keeps pixels from.
    Pin(usize),
    /// Sample `i` of the plan.
    Sample(usize),
    /// A sample the mix needs that is not one of the plan's samples.
    Mix,
}

/// What [`replay`] reports as it goes.
#[derive(Debug)]
pub enum ReplayEvent<'a> {
    /// Pin `index` is applied: the photo and hole the next generation starts from.
    Pinned {
        /// 0-based.
        index: usize,
        /// The photo with every pin so far pasted in.
        photo: &'a RgbImage,
        /// The hole minus every pin so far.
        hole: &'a Mask,
    },
    /// The samples' request is prepared (context box) and its prior computed.
    Ready {
        /// The prepared request.
        prepared: &'a Prepared,
        /// The prior `[3, R, R]` in [-1, 1].
        prior: &'a [f32],
    },
    /// Sample `index` is made at model resolution and pasted (before any detail).
    Raw {
        /// 0-based position in the plan.
        index: usize,
        /// The sample.
        sample: &'a Sample,
    },
    /// Progress within a stage (detail synthesis), 0–1.
    Progress {
        /// What is being made.
        stage: Stage,
        /// Fraction done.
        fraction: f32,
    },
    /// Sample `index` is finished (detailed when detail is on) and scored.
    Done {
        /// 0-based position in the plan.
        index: usize,
        /// The sample.
        spec: ZSpec,
        /// The finished photo.
        image: &'a RgbImage,
        /// Its scores.
        scores: &'a SampleScores,
    },
    /// The mix is made.
    Mixed {
        /// The mix, its base and every step (for going on mixing).
        stack: &'a MixStack,
        /// The mixed photo.
        image: &'a RgbImage,
        /// Its scores.
        scores: &'a SampleScores,
    },
}

/// What a finished [`replay`] leaves for figures and records.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    /// The samples' prepared request (after the pins).
    pub prepared: Prepared,
    /// The prior `[3, R, R]` in [-1, 1].
    pub prior: Vec<f32>,
    /// The photo the samples were made from (the input photo with the pins pasted in).
    pub photo: RgbImage,
    /// The hole the samples filled (the input hole minus the pins).
    pub hole: Mask,
    /// Each sample's scores, in plan order.
    pub scores: Vec<SampleScores>,
    /// The mix's scores, when the plan has a mix.
    pub mix_scores: Option<SampleScores>,
}

/// Makes the finished sample `spec` of `session` (detailed when `detail` is on).
fn finished(
    session: &crate::inference::Session<'_>,
    spec: ZSpec,
    detail: DetailMode,
    stage: Stage,
    on_event: &mut dyn FnMut(ReplayEvent<'_>) -> bool,
) -> Result<RgbImage> {
    let s = session.sample_for(spec)?;
    detailed(session, s, detail, stage, on_event)
}

fn detailed(
    session: &crate::inference::Session<'_>,
    s: Sample,
    detail: DetailMode,
    stage: Stage,
    on_event: &mut dyn FnMut(ReplayEvent<'_>) -> bool,
) -> Result<RgbImage> {
    match detail {
        DetailMode::Off => Ok(s.photo),
        DetailMode::Patch => session.detail(&s, &mut |fraction| {
            on_event(ReplayEvent::Progress { stage, fraction })
        }),
    }
}

/// Makes a plan's samples from `photo` and `mask` with `inp`, reporting each step to
/// `on_event` (return `false` to stop: [`Error::Cancelled`]):
///
/// 1. each pin in order: its source sample is made under the pins before it (a generator
///    call of one sample, detailed as the pin says), and its kept pixels pasted;
/// 2. the samples, [`InpaintOptions::batch`] per generator call, each detailed when detail is
///    on, each scored ([`SampleScores`]);
/// 3. the mix, from the finished samples (making any it names that the plan does not list).
///
/// The same plan, inputs and model give the same pixels every time.
///
/// # Errors
/// As [`Inpainter::session`], [`apply_pin`], [`crate::steer::mix::mix`] and the detail
/// synthesis; [`Error::Input`] when the plan has no sample; [`Error::Cancelled`].
pub fn replay(
    inp: &Inpainter,
    photo: &RgbImage,
    mask: &Mask,
    plan: &Plan,
    on_event: &mut dyn FnMut(ReplayEvent<'_>) -> bool,
) -> Result<ReplayOutcome> {
    if plan.specs.is_empty() || plan.specs.len() > MAX_SAMPLES {
        return Err(Error::Input(format!(
            "a run makes 1–{MAX_SAMPLES} samples, not {}",
            plan.specs.len()
        )));
    }
    let opts = &plan.options;
    let mut cur_photo = photo.clone();
    let mut cur_hole = mask.clone();
    for (i, pin) in plan.pins.iter().enumerate() {
        let kept = {
            let session = inp.session(&cur_photo, &cur_hole, opts)?;
            finished(&session, pin.source, pin.detail, Stage::Pin(i), on_event)?
        };
        let (p, h) = apply_pin(&cur_photo, &cur_hole, &kept, &pin.keep).map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("pin {}: {m}", i + 1)),
            other => other,
        })?;
        cur_photo = p;
        cur_hole = h;
        if !on_event(ReplayEvent::Pinned {
            index: i,
            photo: &cur_photo,
            hole: &cur_hole,
        }) {
            return Err(Error::Cancelled);
        }
    }
    let session = inp.session(&cur_photo, &cur_hole, opts)?;
    let prepared = session.prepared().clone();
    let prior = session.prior_chw()?;
    if !on_event(ReplayEvent::Ready {
        prepared: &prepared,
        prior: &prior,
    }) {
        return Err(Error::Cancelled);
    }
    let scorer = SeamScorer::new(&cur_hole)?;
    let score = |img: &RgbImage| -> Result<SampleScores> {
        Ok(SampleScores {
            seam: scorer.score(img)?,
            realism: realism(&session, img)?,
        })
    };
    // Finished pixels of the samples the mix needs, kept as they are made.
    let wanted: Vec<ZSpec> = plan.mix.as_ref().map_or_else(Vec::new, |m| {
        std::iter::once(m.base.normalized())
            .chain(m.steps.iter().map(|s| s.other.normalized()))
            .collect()
    });
    let mut kept: HashMap<ZSpec, RgbImage> = HashMap::new();
    let mut scores = Vec::with_capacity(plan.specs.len());
    let mut index = 0usize;
    for chunk in plan.specs.chunks(opts.batch.max(1)) {
        for s in session.samples_for(chunk)? {
            if !on_event(ReplayEvent::Raw { index, sample: &s }) {
                return Err(Error::Cancelled);
            }
            let spec = s.spec;
            let img = detailed(&session, s, opts.detail, Stage::Sample(index), on_event)?;
            let sc = score(&img)?;
            if !on_event(ReplayEvent::Done {
                index,
                spec,
                image: &img,
                scores: &sc,
            }) {
                return Err(Error::Cancelled);
            }
            scores.push(sc);
            if wanted.contains(&spec.normalized()) {
                kept.insert(spec.normalized(), img);
            }
            index += 1;
        }
    }
    let mut mix_scores = None;
    if let Some(m) = &plan.mix {
        for spec in &wanted {
            if !kept.contains_key(spec) {
                let img = finished(&session, *spec, opts.detail, Stage::Mix, on_event)?;
                kept.insert(*spec, img);
            }
        }
        let get = |s: &ZSpec| {
            kept.get(&s.normalized())
                .ok_or_else(|| Error::Input(format!("the mix lost sample {s}")))
        };
        let mut stack = MixStack::new(m.base, get(&m.base)?.clone(), cur_hole.clone())?;
        for step in &m.steps {
            stack.push(step.clone(), get(&step.other)?)?;
        }
        let sc = score(stack.current())?;
        if !on_event(ReplayEvent::Mixed {
            stack: &stack,
            image: stack.current(),
            scores: &sc,
        }) {
            return Err(Error::Cancelled);
        }
        mix_scores = Some(sc);
    }
    drop(session);
    Ok(ReplayOutcome {
        prepared,
        prior,
        photo: cur_photo,
        hole: cur_hole,
        scores,
        mix_scores,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn recipe() -> Recipe {
        let f = |p: &str| HashedFile {
            path: p.into(),
            sha256: "0".repeat(64),
        };
        Recipe {
            pdpaint_version: "test".into(),
            format: FORMAT,
            image: f("photo.png"),
            mask: f("mask.png"),
            model: f("model"),
            resolution: Some(128),
            seeds: Vec::new(),
            samples: vec![ZSpec::Seed(1), "1..2@1/2".parse().unwrap()],
            naming: Naming::BySpec,
            margin: 0.5,
            feather_px: 8.0,
            batch: Some(4),
            backend: "cpu".into(),
            context_box: [0, 0, 10],
            detail: DetailMode::Off,
            detail_params: None,
            pins: vec![PinRecord {
                source: ZSpec::Seed(1),
                detail: DetailMode::Off,
                mask: f("pins/pin-1.png"),
            }],
            mix: None,
            outputs: Vec::new(),
            raw_outputs: Vec::new(),
        }
    }

    #[test]
    fn limits_and_names_are_enforced() {
        assert!(recipe().validate().is_ok());
        let mut r = recipe();
        r.samples = (0..100_000).map(ZSpec::Seed).collect();
        let e = r.validate().unwrap_err().to_string();
        assert!(e.contains("100000 samples"), "{e}");
        let mut r = recipe();
        r.pins[0].mask.path = "../x.png".into();
        assert!(r.validate().is_err());
        for bad in [
            "/etc/passwd",
            "a/b/c.png",
            "pins/../../x.png",
            "",
            "./x.png",
        ] {
            assert!(
                resolve_plain(Path::new("d"), Path::new(bad)).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            resolve_plain(Path::new("d"), Path::new("pins/pin-1.png")).unwrap(),
            Path::new("d/pins/pin-1.png")
        );
        let mut r = recipe();
        r.samples.push(ZSpec::Seed(1));
        assert!(r.validate().unwrap_err().to_string().contains("twice"));
        r.naming = Naming::Between;
        assert!(r.validate().is_ok());
        let mut r = recipe();
        r.seeds = vec![3];
        assert!(r.validate().is_err());
        let mut r = recipe();
        r.pins = vec![r.pins[0].clone(); MAX_PINS + 1];
        assert!(r.validate().is_err());
        let mut r = recipe();
        r.pins[0].mask.sha256 = "nothex".into();
        assert!(r.validate().is_err());
        let mut r = recipe();
        r.batch = Some(0);
        assert!(r.validate().is_err());
    }

    #[test]
    fn format_one_recipes_read_with_defaults() {
        let old = r#"{"pdpaint_version":"0.1.0",
            "image":{"path":"p.png","sha256":"a"},"mask":{"path":"m.png","sha256":"b"},
            "model":{"path":"m","sha256":"c"},"seeds":[5,6],"margin":0.5,"feather_px":8.0,
            "backend":"cpu","context_box":[0,0,64],"outputs":[]}"#;
        let r: Recipe = serde_json::from_str(old).unwrap();
        assert_eq!(r.format, 1);
        assert_eq!(r.specs(), vec![ZSpec::Seed(5), ZSpec::Seed(6)]);
        assert_eq!(r.detail, DetailMode::Off);
        assert_eq!(r.options().batch, DEFAULT_BATCH);
        assert!(r.pins.is_empty() && r.mix.is_none());
        assert_eq!(r.naming, Naming::BySpec);
        r.validate().unwrap();
    }

    #[test]
    fn save_and_load_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("recipe.json");
        recipe().save(&p).unwrap();
        assert_eq!(Recipe::load(&p).unwrap(), recipe());
        std::fs::write(&p, b"{\"not\": 1}").unwrap();
        let e = Recipe::load(&p).unwrap_err().to_string();
        assert!(e.ends_with(&p.display().to_string()), "{e}");
    }

    #[test]
    fn between_names_sort_in_order() {
        let specs = ZSpec::between(3, 7, 11).unwrap();
        let names: Vec<String> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| Naming::Between.stem(i, specs.len(), s))
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names[0], "between-00-seed-3");
        assert_eq!(names[1], "between-01-slerp-3-7-1of11");
        assert_eq!(names[11], "between-11-seed-7");
    }
}
