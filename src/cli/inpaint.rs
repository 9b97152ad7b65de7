//! `pdpaint inpaint`: fill the hole of a photo with N diverse samples, an interpolation
//! between two samples, pins (keep part of a sample, re-roll the rest) and a mix; every run is
//! a [`Plan`] replayed by [`pdpaint::steer::recipe::replay`] and recorded in `recipe.json`,
//! so `--recipe` makes the same pixels.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use pdpaint::detail::{DetailMode, DetailParams};
use pdpaint::imageops::{
    self, ContextBox, chw_to_rgb, contact_sheet, save_png_atomic, sha256_file,
};
use pdpaint::inference::{InpaintOptions, Inpainter, Prepared, ZSpec, diversity_map};
use pdpaint::maps::colormap::{Colormap, to_rgb_image};
use pdpaint::mask::Mask;
use pdpaint::model::embedded;
use pdpaint::steer::mix::{MixStep, check_feather};
use pdpaint::steer::pin::{Pin, effective_keeps};
use pdpaint::steer::recipe::{
    FORMAT, HashedFile, MixPlan, MixRecord, MixStepRecord, Naming, PinRecord, Plan, Recipe,
    ReplayEvent, Stage, replay,
};
use pdpaint::steer::score::SampleScores;

use super::{BackendArgs, select_backend};

pub use pdpaint::steer::recipe::MAX_SAMPLES;

/// Arguments of `pdpaint inpaint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder (see `pdpaint train`, `import`); default: the embedded default model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The photo (PNG, JPEG or WebP, any size).
    #[arg(long, required_unless_present = "recipe")]
    pub image: Option<PathBuf>,
    /// Hole mask PNG: white (≥128) = hole. A mask of another size is resized (nearest).
    #[arg(long, required_unless_present = "recipe")]
    pub mask: Option<PathBuf>,
    /// Number of samples.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=MAX_SAMPLES as i64))]
    pub samples: u32,
    /// First seed; sample i uses seed S+i.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Interpolate between two seeds instead: the fill of S1, --steps fills on the way
    /// (spherical interpolation of their noise vectors) and the fill of S2, written as
    /// `between-NN-….png` in order.
    #[arg(long, num_args = 2, value_names = ["S1", "S2"], conflicts_with_all = ["samples", "seed"])]
    pub between: Option<Vec<u64>>,
    /// Number of fills strictly between the two seeds of --between.
    #[arg(long, default_value_t = 6, requires = "between", value_parser = clap::value_parser!(u32).range(1..=(MAX_SAMPLES as i64 - 2)))]
    pub steps: u32,
    /// Keep part of a sample and fill the rest again: SAMPLE:MASK.png where SAMPLE is a seed
    /// (7) or an interpolated sample (3..7@2/5) and MASK.png is white where the pixels are
    /// kept. Repeatable: pins apply in order, each to a sample made under the pins before it
    /// (detailed as --detail says). The run's samples then fill what is left of the hole.
    #[arg(long = "pin", value_name = "SAMPLE:MASK.png")]
    pub pins: Vec<String>,
    /// Start a mix from this sample (a seed or FROM..TO@STEP/STEPS); see --mix.
    #[arg(long, value_name = "SAMPLE", requires = "mixes")]
    pub mix_base: Option<ZSpec>,
    /// Brush another sample into the mix: SAMPLE:BRUSH.png, white where it is brought in
    /// (inside the hole only). Repeatable, applied in order; writes `mix.png`.
    #[arg(long = "mix", value_name = "SAMPLE:BRUSH.png", requires = "mix_base")]
    pub mixes: Vec<String>,
    /// Soft edge of each --mix brush, in photo pixels.
    #[arg(long, default_value_t = 16.0)]
    pub mix_feather: f32,
    /// Order of the contact sheet, the figure and the printed scores: `order` as made,
    /// `seam` best seam first, `realism` most realistic first (needs a model with a
    /// discriminator).
    #[arg(long, value_enum, default_value_t = SortBy::Order)]
    pub sort_by: SortBy,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Context around the hole as a fraction of its longer side.
    #[arg(long, default_value_t = 0.5)]
    pub margin: f32,
    /// Seam correction width in photo pixels (0 = none).
    #[arg(long, default_value_t = 8.0)]
    pub feather: f32,
    /// Full-resolution detail: `patch` re-synthesises each sample's hole at the photo's
    /// resolution from the photo's own pixels, guided by the sample; `off` keeps the raw
    /// sample resized into the hole.
    #[arg(long, value_enum, default_value_t = DetailArg::Patch)]
    pub detail: DetailArg,
    /// How closely detail follows each sample: the weight of the sample (low-passed at its
    /// own scale) against the texture in the patch distance. Higher keeps more of the
    /// sample's layout and colours (more diversity), lower copies the photo's texture more
    /// freely (sharper, closer to a plain patch fill).
    #[arg(long, default_value_t = DetailParams::default().guide_weight)]
    pub guide_weight: f32,
    /// Re-run a previous `recipe.json` (its inputs, model, samples, pins, mix and settings;
    /// its pin and mix masks are read from beside it).
    #[arg(long, conflicts_with_all = ["model", "image", "mask", "between", "pins", "mix_base", "mixes"])]
    pub recipe: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// `--detail` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DetailArg {
    /// The raw samples.
    Off,
    /// Guided patch synthesis at full resolution.
    Patch,
}

impl From<DetailArg> for DetailMode {
    fn from(a: DetailArg) -> Self {
        match a {
            DetailArg::Off => DetailMode::Off,
            DetailArg::Patch => DetailMode::Patch,
        }
    }
}

/// `--sort-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// As made.
    Order,
    /// Lowest seam score first.
    Seam,
    /// Highest realism score first.
    Realism,
}

/// SHA-256 over a model folder's files (config.json and *.bpk, by name).
pub fn hash_model_folder(dir: &Path) -> Result<String> {
    Ok(pdpaint::model::folder_sha256(dir)?)
}

/// Splits `SAMPLE:FILE` (the sample has no colon, the file may).
fn sample_and_file(arg: &str, flag: &str) -> Result<(ZSpec, PathBuf)> {
    let (spec, file) = arg.split_once(':').with_context(|| {
        format!(
            "{flag} wants SAMPLE:MASK.png (such as 7:keep.png or 3..7@2/5:keep.png), got {arg:?}"
        )
    })?;
    let spec: ZSpec = spec.parse().with_context(|| format!("{flag} {arg:?}"))?;
    if file.is_empty() {
        bail!("{flag} {arg:?} names no mask file");
    }
    Ok((spec, PathBuf::from(file)))
}

/// A mask file at the photo's size (resized nearest with a note when it is not).
fn load_mask_for(path: &Path, w: u32, h: u32, what: &str) -> Result<Mask> {
    let m = Mask::load(path)?;
    if (m.width, m.height) != (w, h) {
        eprintln!(
            "note: {what} is {}×{}, photo is {w}×{h}: resizing {what} (nearest neighbour): {}",
            m.width,
            m.height,
            path.display()
        );
        return Ok(m.resize_nearest(w, h));
    }
    Ok(m)
}

/// The plan of a fresh run from its command line.
fn plan_from_args(a: &Args, hole: &Mask) -> Result<Plan> {
    let (w, h) = (hole.width, hole.height);
    let (specs, naming) = match &a.between {
        Some(ends) => {
            let [from, to] = ends[..] else {
                bail!("--between wants two seeds");
            };
            (ZSpec::between(from, to, a.steps + 1)?, Naming::Between)
        }
        None => (
            (0..u64::from(a.samples))
                .map(|i| ZSpec::Seed(a.seed.wrapping_add(i)))
                .collect(),
            Naming::BySpec,
        ),
    };
    let detail = DetailMode::from(a.detail);
    let mut sources = Vec::with_capacity(a.pins.len());
    let mut keeps = Vec::with_capacity(a.pins.len());
    for arg in &a.pins {
        let (spec, file) = sample_and_file(arg, "--pin")?;
        sources.push(spec);
        keeps.push(load_mask_for(&file, w, h, "the pin mask")?);
    }
    let keeps = effective_keeps(hole, &keeps)?;
    let pins = sources
        .into_iter()
        .zip(keeps)
        .map(|(source, keep)| Pin {
            source,
            detail,
            keep,
        })
        .collect();
    let mix = match a.mix_base {
        None => None,
        Some(base) => {
            check_feather(a.mix_feather).context("--mix-feather")?;
            let mut steps = Vec::with_capacity(a.mixes.len());
            for arg in &a.mixes {
                let (other, file) = sample_and_file(arg, "--mix")?;
                steps.push(MixStep {
                    other,
                    brush: load_mask_for(&file, w, h, "the mix brush")?,
                    feather_px: a.mix_feather,
                });
            }
            Some(MixPlan { base, steps })
        }
    };
    Ok(Plan {
        specs,
        options: InpaintOptions {
            margin: a.margin,
            feather_px: a.feather,
            detail,
            detail_params: DetailParams {
                guide_weight: a.guide_weight,
                ..DetailParams::default()
            },
            ..InpaintOptions::default()
        },
        pins,
        mix,
        naming,
    })
}

/// A sample's label on the contact sheet and the figure (whose font has no `@`):
/// `seed 7`, `3-7 at 2/5`.
fn label(spec: &ZSpec) -> String {
    match spec.normalized() {
        ZSpec::Seed(s) => format!("seed {s}"),
        ZSpec::Slerp {
            from,
            to,
            step,
            steps,
        } => format!("{from}-{to} at {step}/{steps}"),
    }
}

/// One sample as the run reports it.
struct Made {
    spec: ZSpec,
    file: PathBuf,
    scores: SampleScores,
    thumb: image::RgbImage,
    tile: image::RgbImage,
}

/// Runs `inpaint`.
pub fn run(a: Args) -> Result<()> {
    let recipe = match &a.recipe {
        Some(r) => Some(Recipe::load(r)?),
        None => None,
    };
    let (model_dir, image_path, mask_path) = match &recipe {
        Some(rec) => (
            rec.model.path.clone(),
            rec.image.path.clone(),
            rec.mask.path.clone(),
        ),
        None => (
            a.model
                .as_deref()
                .map_or_else(|| PathBuf::from(embedded::NAME), super::resolve_model_dir),
            a.image.clone().context("--image is required")?,
            a.mask.clone().context("--mask is required")?,
        ),
    };
    if recipe.is_none() {
        if !a.margin.is_finite() || a.margin < 0.0 {
            bail!("--margin must be a non-negative number, got {}", a.margin);
        }
        if !(a.guide_weight.is_finite() && a.guide_weight >= 0.0) {
            bail!(
                "--guide-weight must be a non-negative number, got {}",
                a.guide_weight
            );
        }
    }
    let (photo, notes) = imageops::load_image_with_notes(&image_path)?;
    for n in notes {
        eprintln!("note: {n}");
    }
    let (w, h) = photo.dimensions();
    let mask = load_mask_for(&mask_path, w, h, "the mask")?;
    let plan = match (&recipe, &a.recipe) {
        (Some(rec), Some(path)) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            rec.plan(dir, (w, h))?
        }
        _ => plan_from_args(&a, &mask)?,
    };
    let image_hash = sha256_file(&image_path)?;
    let mask_hash = sha256_file(&mask_path)?;
    let is_embedded = model_dir.as_os_str() == embedded::NAME;
    let model_hash = if is_embedded {
        embedded::sha256()
    } else {
        hash_model_folder(&model_dir)?
    };
    if let Some(rec) = &recipe {
        for what in rec.mismatches(&image_hash, &mask_hash, &model_hash) {
            eprintln!(
                "warning: the {} differs from the one the recipe was made with",
                what.name()
            );
        }
    }
    let sel = select_backend(&a.backend)?;
    let inp = if is_embedded {
        Inpainter::embedded(&sel.device)?
    } else {
        Inpainter::load(&model_dir, &sel.device)?
    };
    if a.sort_by == SortBy::Realism && inp.discriminator().is_none() {
        bail!(
            "--sort-by realism needs a model with a discriminator, and {} has none (try --sort-by seam)",
            model_dir.display()
        );
    }
    if let Some(rec) = &recipe
        && rec.resolution.is_some_and(|r| r != inp.resolution())
    {
        eprintln!(
            "warning: the recipe was made at resolution {:?}, this model runs at {}",
            rec.resolution,
            inp.resolution()
        );
    }
    eprintln!(
        "model: {} ({}), hole {:.1}% of the photo",
        model_dir.display(),
        inp.model_file().config.preset,
        100.0 * mask.hole_ratio()
    );
    let out = fresh_output_dir(&a.out)?;
    // The masks of pins and mix steps, stored losslessly beside the recipe.
    let mut pin_records = Vec::with_capacity(plan.pins.len());
    for (i, p) in plan.pins.iter().enumerate() {
        pin_records.push(PinRecord {
            source: p.source,
            detail: p.detail,
            mask: save_mask(&out, &format!("pins/pin-{}.png", i + 1), &p.keep)?,
        });
    }
    let mut mix_record = match &plan.mix {
        None => None,
        Some(m) => {
            let mut steps = Vec::with_capacity(m.steps.len());
            for (i, s) in m.steps.iter().enumerate() {
                steps.push(MixStepRecord {
                    other: s.other,
                    brush: save_mask(&out, &format!("mixes/mix-{}.png", i + 1), &s.brush)?,
                    feather_px: s.feather_px,
                });
            }
            Some(MixRecord {
                base: m.base,
                steps,
                output: None,
            })
        }
    };
    let opts = plan.options;
    let detailed = opts.detail == DetailMode::Patch;
    let n = plan.specs.len();
    let n_pins = plan.pins.len();
    let units = n_pins + n + usize::from(plan.mix.is_some());
    // Progress in hundredths of a unit (a pin's sample, a sample and its detail, the mix).
    let bar = indicatif::ProgressBar::new(100 * units as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:18} {bar:30} {percent:>3}%  {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Each sample is written as soon as it is made and only small copies are kept (a
    // contact-sheet thumbnail and a figure tile), so memory does not grow with --samples.
    let mut made: Vec<Made> = Vec::with_capacity(n);
    let mut raw_outputs = Vec::new();
    let mut bx: Option<ContextBox> = None;
    let mut mix_out: Option<(PathBuf, SampleScores)> = None;
    let mut failure: Option<anyhow::Error> = None;
    let mut on_event = |ev: ReplayEvent<'_>| -> bool {
        let mut step = || -> Result<()> {
            match ev {
                ReplayEvent::Pinned { index, .. } => {
                    bar.set_position(100 * (index as u64 + 1));
                }
                ReplayEvent::Ready { prepared, prior } => {
                    bx = Some(prepared.bx);
                    let r = prepared.res as u32;
                    save_png_atomic(&chw_to_rgb(prior, r, r)?, &out.join("prior.png"))?;
                }
                ReplayEvent::Raw { index, sample } => {
                    bar.set_message(format!("sample {}", sample.spec));
                    let stem = plan.naming.stem(index, n, &sample.spec);
                    let raw_path = out.join(if detailed {
                        format!("{stem}-raw.png")
                    } else {
                        format!("{stem}.png")
                    });
                    save_png_atomic(&sample.photo, &raw_path)?;
                    if detailed {
                        raw_outputs.push(raw_path);
                    }
                }
                ReplayEvent::Progress { stage, fraction } => {
                    let base = match stage {
                        Stage::Pin(i) => i,
                        Stage::Sample(i) => n_pins + i,
                        Stage::Mix => n_pins + n,
                    };
                    bar.set_position(100 * base as u64 + (100.0 * fraction) as u64);
                }
                ReplayEvent::Done {
                    index,
                    spec,
                    image,
                    scores,
                } => {
                    let stem = plan.naming.stem(index, n, &spec);
                    let file = out.join(format!("{stem}.png"));
                    if detailed {
                        save_png_atomic(image, &file)?;
                    }
                    let bx = bx.context("a sample arrived before its context box")?;
                    made.push(Made {
                        spec,
                        file,
                        scores: *scores,
                        thumb: thumbnail(image, CONTACT_THUMB),
                        tile: figure_tile(image, &bx)?,
                    });
                    bar.set_position(100 * (n_pins + index + 1) as u64);
                }
                ReplayEvent::Mixed { image, scores, .. } => {
                    let p = out.join("mix.png");
                    save_png_atomic(image, &p)?;
                    mix_out = Some((p, *scores));
                    bar.set_position(100 * units as u64);
                }
            }
            Ok(())
        };
        match step() {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    };
    let outcome = replay(&inp, &photo, &mask, &plan, &mut on_event);
    if let Some(e) = failure {
        return Err(e);
    }
    let outcome = outcome?;
    bar.finish_and_clear();
    let outputs: Vec<PathBuf> = made.iter().map(|m| m.file.clone()).collect();
    // Presentation order.
    let mut order: Vec<usize> = (0..made.len()).collect();
    match a.sort_by {
        SortBy::Order => {}
        SortBy::Seam => order.sort_by(|&i, &j| {
            made[i]
                .scores
                .seam
                .score
                .total_cmp(&made[j].scores.seam.score)
        }),
        SortBy::Realism => order.sort_by(|&i, &j| {
            let v = |k: usize| made[k].scores.realism.value().unwrap_or(f32::NEG_INFINITY);
            v(j).total_cmp(&v(i))
        }),
    }
    let thumbs: Vec<(image::RgbImage, String)> = order
        .iter()
        .map(|&i| (made[i].thumb.clone(), label(&made[i].spec)))
        .collect();
    let cols = (thumbs.len() as f64).sqrt().ceil().max(1.0) as u32;
    save_png_atomic(
        &contact_sheet(&thumbs, cols, CONTACT_THUMB),
        &out.join("contact-sheet.png"),
    )?;
    let tiles: Vec<(String, image::RgbImage)> = order
        .iter()
        .map(|&i| (label(&made[i].spec), made[i].tile.clone()))
        .collect();
    save_png_atomic(
        &figure(
            &outcome.photo,
            &outcome.hole,
            &outcome.prepared,
            &outcome.prior,
            &tiles,
        )?,
        &out.join("figure.png"),
    )?;
    write_scores(&out, a.sort_by, &order, &made, mix_out.as_ref())?;
    if let (Some(rec), Some((p, _))) = (mix_record.as_mut(), &mix_out) {
        rec.output = Some(p.clone());
    }
    let bx = outcome.prepared.bx;
    let recipe_out = Recipe {
        pdpaint_version: env!("CARGO_PKG_VERSION").into(),
        format: FORMAT,
        image: HashedFile {
            path: image_path,
            sha256: image_hash,
        },
        mask: HashedFile {
            path: mask_path,
            sha256: mask_hash,
        },
        model: HashedFile {
            path: model_dir,
            sha256: model_hash,
        },
        resolution: Some(inp.resolution()),
        seeds: Vec::new(),
        samples: plan.specs.clone(),
        naming: plan.naming,
        margin: opts.margin,
        feather_px: opts.feather_px,
        batch: Some(opts.batch),
        backend: sel.description,
        context_box: [bx.x0, bx.y0, bx.size as i64],
        detail: opts.detail,
        detail_params: detailed.then_some(opts.detail_params),
        pins: pin_records,
        mix: mix_record,
        outputs: outputs.clone(),
        raw_outputs,
    };
    recipe_out.save(&out.join("recipe.json"))?;
    print_scores(&order, &made, mix_out.as_ref(), &out);
    println!(
        "wrote {} samples{}{}, prior.png, contact-sheet.png, figure.png, scores.json and recipe.json to {}",
        outputs.len(),
        if detailed {
            " (full-resolution detail; the raw samples as *-raw.png)"
        } else {
            ""
        },
        if mix_out.is_some() { ", mix.png" } else { "" },
        out.display()
    );
    Ok(())
}

/// Saves a pin or mix mask losslessly at `rel` inside `out` and returns its record.
fn save_mask(out: &Path, rel: &str, m: &Mask) -> Result<HashedFile> {
    let path = out.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    m.save(&path)?;
    Ok(HashedFile {
        path: PathBuf::from(rel),
        sha256: sha256_file(&path)?,
    })
}

/// One sample in `scores.json`.
#[derive(serde::Serialize)]
struct ScoreEntry<'a> {
    /// 0-based position in the run.
    index: usize,
    spec: ZSpec,
    file: &'a Path,
    #[serde(flatten)]
    scores: SampleScores,
}

/// `scores.json`: every sample's scores in presentation order, and the mix's.
#[derive(serde::Serialize)]
struct ScoresFile<'a> {
    sorted_by: SortBy,
    samples: Vec<ScoreEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mix: Option<ScoreEntryMix<'a>>,
}

#[derive(serde::Serialize)]
struct ScoreEntryMix<'a> {
    file: &'a Path,
    #[serde(flatten)]
    scores: SampleScores,
}

fn write_scores(
    out: &Path,
    sort_by: SortBy,
    order: &[usize],
    made: &[Made],
    mix: Option<&(PathBuf, SampleScores)>,
) -> Result<()> {
    let f = ScoresFile {
        sorted_by: sort_by,
        samples: order
            .iter()
            .map(|&i| ScoreEntry {
                index: i,
                spec: made[i].spec,
                file: &made[i].file,
                scores: made[i].scores,
            })
            .collect(),
        mix: mix.map(|(p, s)| ScoreEntryMix {
            file: p,
            scores: *s,
        }),
    };
    pdpaint::fsutil::write_atomic(
        &out.join("scores.json"),
        serde_json::to_string_pretty(&f)?.as_bytes(),
    )?;
    Ok(())
}

fn print_scores(order: &[usize], made: &[Made], mix: Option<&(PathBuf, SampleScores)>, out: &Path) {
    let realism = |s: &SampleScores| {
        s.realism
            .value()
            .map_or_else(|| "n/a".to_string(), |v| format!("{v:+.3}"))
    };
    println!("sample            seam (lower is better)  realism (higher is better)  file");
    let name = |p: &Path| p.strip_prefix(out).unwrap_or(p).display().to_string();
    for &i in order {
        let m = &made[i];
        println!(
            "{:<17} {:>22.3}  {:>26}  {}",
            m.spec.to_string(),
            m.scores.seam.score,
            realism(&m.scores),
            name(&m.file)
        );
    }
    if let Some((p, s)) = mix {
        println!(
            "{:<17} {:>22.3}  {:>26}  {}",
            "mix",
            s.seam.score,
            realism(s),
            name(p)
        );
    }
    if made
        .first()
        .is_some_and(|m| m.scores.realism.value().is_none())
    {
        println!("(realism: the model has no discriminator)");
    }
}

/// Edge of a tile of the figure in pixels.
const FIGURE_TILE: u32 = 192;

/// Longer side of a contact-sheet thumbnail.
const CONTACT_THUMB: u32 = 256;

/// `img` shrunk to fit in `side`×`side` (kept as it is when it already fits).
fn thumbnail(img: &image::RgbImage, side: u32) -> image::RgbImage {
    let (w, h) = img.dimensions();
    if w <= side && h <= side {
        return img.clone();
    }
    let scale = side as f32 / w.max(h) as f32;
    let tw = ((w as f32 * scale).round() as u32).max(1);
    let th = ((h as f32 * scale).round() as u32).max(1);
    image::imageops::resize(img, tw, th, image::imageops::FilterType::Triangle)
}

/// The context box of `img` resized to a [`FIGURE_TILE`]² tile of the figure.
fn figure_tile(img: &image::RgbImage, bx: &ContextBox) -> Result<image::RgbImage> {
    let t = FIGURE_TILE;
    Ok(chw_to_rgb(&imageops::crop_resize_rgb(img, bx, t), t, t)?)
}

/// Where `inpaint` writes: `out` itself when it does not exist or is empty, else a fresh
/// numbered sub-folder `out/run-N` (said on stderr), so earlier results and any other file
/// there (an input photo named `seed-0.png`, a user's `figure.png`) are never overwritten and
/// no stale sample sits beside a recipe that does not list it.
fn fresh_output_dir(out: &Path) -> Result<PathBuf> {
    let is_empty = |p: &Path| -> Result<bool> {
        Ok(std::fs::read_dir(p)
            .with_context(|| format!("could not read the output folder {}", p.display()))?
            .next()
            .is_none())
    };
    let dir = if !out.exists() || (out.is_dir() && is_empty(out)?) {
        out.to_path_buf()
    } else if out.is_dir() {
        let fresh = (2u32..10_000)
            .map(|n| out.join(format!("run-{n}")))
            .find(|p| !p.exists())
            .with_context(|| format!("no free run-N sub-folder in {}", out.display()))?;
        eprintln!(
            "note: {} already holds files; writing this run to {} instead",
            out.display(),
            fresh.display()
        );
        fresh
    } else {
        bail!(
            "--out must be a folder, but this is a file: {}",
            out.display()
        );
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    Ok(dir)
}

/// The figure of a run over the context box, each tile [`FIGURE_TILE`] pixels: the photo, the
/// photo with the hole blanked, the stage-1 prior, every sample as the user gets it (detailed
/// when detail is on; `tiles` from [`figure_tile`]), and the diversity map of those samples
/// (per-pixel standard deviation, magma, scaled to its maximum), each labelled.
pub fn figure(
    photo: &image::RgbImage,
    mask: &Mask,
    prep: &Prepared,
    prior: &[f32],
    samples: &[(String, image::RgbImage)],
) -> Result<image::RgbImage> {
    let r = prep.res as u32;
    let t = FIGURE_TILE;
    let bx: ContextBox = prep.bx;
    let crop = figure_tile(photo, &bx)?;
    let hole = imageops::crop_resize_mask(mask.holes(), photo.width(), photo.height(), &bx, t)?;
    let mut masked = crop.clone();
    for (px, &h) in masked.pixels_mut().zip(&hole) {
        if h > 0.5 {
            *px = image::Rgb([255, 255, 255]);
        }
    }
    let prior_img = image::imageops::resize(
        &chw_to_rgb(prior, r, r)?,
        t,
        t,
        image::imageops::FilterType::Triangle,
    );
    let mut tiles = vec![
        (crop, "photo".to_string()),
        (masked, "mask".to_string()),
        (prior_img, "prior".to_string()),
    ];
    let mut fills = Vec::with_capacity(samples.len());
    for (label, tile) in samples {
        fills.push(imageops::rgb_to_chw(tile));
        tiles.push((tile.clone(), label.clone()));
    }
    let refs: Vec<&[f32]> = fills.iter().map(Vec::as_slice).collect();
    let spread = diversity_map(&refs, t as usize)?;
    let hi = spread.iter().copied().fold(0.0f32, f32::max);
    tiles.push((
        to_rgb_image(&spread, t, t, Colormap::Magma, 0.0, hi.max(1e-6)),
        format!("spread 0-{hi:.2}"),
    ));
    let cols = tiles.len().div_ceil(2).max(1) as u32;
    Ok(contact_sheet(&tiles, cols, t))
}
