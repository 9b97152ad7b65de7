//! `pdpaint inpaint`: fill the hole of a photo with N diverse samples.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use pdpaint::detail::{DetailMode, DetailParams};
use pdpaint::imageops::{
    self, ContextBox, chw_to_rgb, contact_sheet, save_png_atomic, sha256_file,
};
use pdpaint::inference::{InpaintOptions, Inpainter, Prepared, diversity_map};
use pdpaint::maps::colormap::{Colormap, to_rgb_image};
use pdpaint::mask::Mask;
use pdpaint::model::embedded;

use super::{BackendArgs, select_backend};

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
    /// Re-run a previous `recipe.json` (its inputs, model, seeds and settings).
    #[arg(long, conflicts_with_all = ["model", "image", "mask"])]
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

fn detail_off() -> DetailMode {
    DetailMode::Off
}

/// A file and its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HashedFile {
    /// Path as given.
    pub path: PathBuf,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Everything needed to reproduce an `inpaint` run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipe {
    /// pdpaint version that wrote it.
    pub pdpaint_version: String,
    /// The photo.
    pub image: HashedFile,
    /// The mask.
    pub mask: HashedFile,
    /// The model folder and a hash over its config and weights.
    pub model: HashedFile,
    /// Seeds of the samples, in order.
    pub seeds: Vec<u64>,
    /// Context margin.
    pub margin: f32,
    /// Seam correction width.
    pub feather_px: f32,
    /// Backend used (results are reproducible to float rounding across backends).
    pub backend: String,
    /// Context box `[x0, y0, size]` in photo pixels.
    pub context_box: [i64; 3],
    /// Full-resolution detail (recipes written before it existed had none: `off`).
    #[serde(default = "detail_off")]
    pub detail: DetailMode,
    /// The detail synthesis settings used (absent when detail is off).
    #[serde(default)]
    pub detail_params: Option<DetailParams>,
    /// Written files, one per seed (the detailed samples when detail is on).
    pub outputs: Vec<PathBuf>,
    /// The raw samples, one per seed, when detail is on (else empty).
    #[serde(default)]
    pub raw_outputs: Vec<PathBuf>,
}

/// SHA-256 over a model folder's files (config.json and *.bpk, by name).
pub fn hash_model_folder(dir: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("could not list model folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "bpk" || x == "f16" || x == "json")
        })
        .collect();
    names.sort();
    let mut h = Sha256::new();
    for p in names {
        h.update(
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        h.update(sha256_file(&p)?);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Runs `inpaint`.
pub fn run(a: Args) -> Result<()> {
    let (model_dir, image_path, mask_path, seeds, margin, feather, detail, expect) = match &a.recipe
    {
        Some(r) => {
            let text = std::fs::read_to_string(r)
                .with_context(|| format!("could not read recipe {}", r.display()))?;
            let rec: Recipe = serde_json::from_str(&text)
                .with_context(|| format!("not a pdpaint recipe: {}", r.display()))?;
            (
                rec.model.path.clone(),
                rec.image.path.clone(),
                rec.mask.path.clone(),
                rec.seeds.clone(),
                rec.margin,
                rec.feather_px,
                (rec.detail, rec.detail_params.unwrap_or_default()),
                Some(rec),
            )
        }
        None => {
            let seeds = (0..a.samples as u64)
                .map(|i| a.seed.wrapping_add(i))
                .collect();
            (
                a.model
                    .as_deref()
                    .map_or_else(|| PathBuf::from(embedded::NAME), super::resolve_model_dir),
                a.image.clone().context("--image is required")?,
                a.mask.clone().context("--mask is required")?,
                seeds,
                a.margin,
                a.feather,
                (
                    DetailMode::from(a.detail),
                    DetailParams {
                        guide_weight: a.guide_weight,
                        ..DetailParams::default()
                    },
                ),
                None,
            )
        }
    };
    if seeds.is_empty() || seeds.len() > MAX_SAMPLES {
        bail!(
            "a run makes 1–{MAX_SAMPLES} samples; the recipe lists {} seeds",
            seeds.len()
        );
    }
    if !margin.is_finite() || margin < 0.0 {
        bail!("--margin must be a non-negative number, got {margin}");
    }
    if !(detail.1.guide_weight.is_finite() && detail.1.guide_weight >= 0.0) {
        bail!(
            "--guide-weight must be a non-negative number, got {}",
            detail.1.guide_weight
        );
    }
    let (photo, notes) = imageops::load_image_with_notes(&image_path)?;
    for n in notes {
        eprintln!("note: {n}");
    }
    let mut mask = Mask::load(&mask_path)?;
    let (w, h) = photo.dimensions();
    if (mask.width, mask.height) != (w, h) {
        eprintln!(
            "note: mask is {}×{}, photo is {w}×{h}: resizing the mask (nearest neighbour)",
            mask.width, mask.height
        );
        mask = mask.resize_nearest(w, h);
    }
    let image_hash = sha256_file(&image_path)?;
    let mask_hash = sha256_file(&mask_path)?;
    let is_embedded = model_dir.as_os_str() == embedded::NAME;
    let model_hash = if is_embedded {
        embedded::sha256()
    } else {
        hash_model_folder(&model_dir)?
    };
    if let Some(rec) = &expect {
        for (what, got, want) in [
            ("image", &image_hash, &rec.image.sha256),
            ("mask", &mask_hash, &rec.mask.sha256),
            ("model", &model_hash, &rec.model.sha256),
        ] {
            if got != want {
                eprintln!("warning: the {what} differs from the one the recipe was made with");
            }
        }
    }
    let sel = select_backend(&a.backend)?;
    let inp = if is_embedded {
        let (file, model) = embedded::load(&sel.device)?;
        Inpainter::new(model, file, sel.device.clone())
    } else {
        Inpainter::load(&model_dir, &sel.device)?
    };
    eprintln!(
        "model: {} ({}), hole {:.1}% of the photo",
        model_dir.display(),
        inp.model_file().config.preset,
        100.0 * mask.hole_ratio()
    );
    let out = fresh_output_dir(&a.out)?;
    let (detail, detail_params) = detail;
    let opts = InpaintOptions {
        margin,
        feather_px: feather,
        detail,
        detail_params,
        ..InpaintOptions::default()
    };
    let detailed = detail == DetailMode::Patch;
    // Progress in hundredths of a sample (raw sample and its detail).
    let bar = indicatif::ProgressBar::new(100 * seeds.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:14} {bar:30} {percent:>3}%  {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let session = inp.session(&photo, &mask, &opts)?;
    let prep = session.prepared().clone();
    let prior = session.prior_chw()?;
    // Each sample is written as soon as it is made and only small copies are kept (a
    // contact-sheet thumbnail and a figure tile), so memory does not grow with --samples.
    let mut outputs = Vec::with_capacity(seeds.len());
    let mut raw_outputs = Vec::new();
    let mut thumbs = Vec::with_capacity(seeds.len());
    let mut tiles = Vec::with_capacity(seeds.len());
    let mut done = 0u64;
    for chunk in seeds.chunks(opts.batch.max(1)) {
        for s in session.samples(chunk)? {
            bar.set_message(format!("seed {}", s.seed));
            let raw_path = out.join(if detailed {
                format!("seed-{}-raw.png", s.seed)
            } else {
                format!("seed-{}.png", s.seed)
            });
            save_png_atomic(&s.photo, &raw_path)?;
            let fin = if detailed {
                raw_outputs.push(raw_path);
                let base = 100 * done;
                let img = session
                    .detail(&s, &mut |f| {
                        bar.set_position(base + (100.0 * f) as u64);
                        true
                    })
                    .with_context(|| format!("detail of seed {}", s.seed))?;
                let p = out.join(format!("seed-{}.png", s.seed));
                save_png_atomic(&img, &p)?;
                outputs.push(p);
                img
            } else {
                outputs.push(raw_path);
                s.photo
            };
            thumbs.push((thumbnail(&fin, CONTACT_THUMB), format!("seed {}", s.seed)));
            tiles.push((s.seed, figure_tile(&fin, &prep.bx)?));
            done += 1;
            bar.set_position(100 * done);
        }
    }
    bar.finish_and_clear();
    let r = prep.res as u32;
    save_png_atomic(&chw_to_rgb(&prior, r, r)?, &out.join("prior.png"))?;
    let cols = (thumbs.len() as f64).sqrt().ceil().max(1.0) as u32;
    save_png_atomic(
        &contact_sheet(&thumbs, cols, CONTACT_THUMB),
        &out.join("contact-sheet.png"),
    )?;
    save_png_atomic(
        &figure(&photo, &mask, &prep, &prior, &tiles)?,
        &out.join("figure.png"),
    )?;
    let recipe = Recipe {
        pdpaint_version: env!("CARGO_PKG_VERSION").into(),
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
        seeds,
        margin,
        feather_px: feather,
        backend: sel.description,
        context_box: [prep.bx.x0, prep.bx.y0, prep.bx.size as i64],
        detail,
        detail_params: detailed.then_some(detail_params),
        outputs: outputs.clone(),
        raw_outputs,
    };
    pdpaint::fsutil::write_atomic(
        &out.join("recipe.json"),
        serde_json::to_string_pretty(&recipe)?.as_bytes(),
    )?;
    println!(
        "wrote {} samples{}, prior.png, contact-sheet.png, figure.png and recipe.json to {}",
        outputs.len(),
        if detailed {
            " (full-resolution detail; the raw samples as seed-*-raw.png)"
        } else {
            ""
        },
        out.display()
    );
    Ok(())
}

/// Edge of a tile of the figure in pixels.
const FIGURE_TILE: u32 = 192;

/// Most samples one run makes (`--samples`, and the seeds of a recipe).
pub const MAX_SAMPLES: usize = 256;

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
    samples: &[(u64, image::RgbImage)],
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
    for (seed, tile) in samples {
        fills.push(imageops::rgb_to_chw(tile));
        tiles.push((tile.clone(), format!("seed {seed}")));
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
