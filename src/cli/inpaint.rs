//! `pdpaint inpaint`: fill the hole of a photo with N diverse samples.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use pdpaint::imageops::{self, chw_to_rgb, contact_sheet, save_png_atomic, sha256_file};
use pdpaint::inference::{InpaintOptions, Inpainter, Prepared, Sample, diversity_map};
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
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
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
    /// Re-run a previous `recipe.json` (its inputs, model, seeds and settings).
    #[arg(long, conflicts_with_all = ["model", "image", "mask"])]
    pub recipe: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
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
    /// Written files, one per seed.
    pub outputs: Vec<PathBuf>,
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
    let (model_dir, image_path, mask_path, seeds, margin, feather, expect) = match &a.recipe {
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
                Some(rec),
            )
        }
        None => {
            let seeds = (0..a.samples as u64)
                .map(|i| a.seed.wrapping_add(i))
                .collect();
            (
                a.model
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(embedded::NAME)),
                a.image.clone().context("--image is required")?,
                a.mask.clone().context("--mask is required")?,
                seeds,
                a.margin,
                a.feather,
                None,
            )
        }
    };
    if !margin.is_finite() || margin < 0.0 {
        bail!("--margin must be a non-negative number, got {margin}");
    }
    let photo = imageops::load_image(&image_path)?;
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
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("could not create {}", a.out.display()))?;
    let opts = InpaintOptions {
        margin,
        feather_px: feather,
        ..InpaintOptions::default()
    };
    let bar = indicatif::ProgressBar::new(seeds.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} samples  {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut outputs = Vec::new();
    let mut save_err = None;
    let (prep, prior, samples) = inp.run(&photo, &mask, &seeds, &opts, |s| {
        let p = a.out.join(format!("seed-{}.png", s.seed));
        if let Err(e) = save_png_atomic(&s.photo, &p) {
            save_err.get_or_insert(e);
        }
        outputs.push(p);
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    if let Some(e) = save_err {
        return Err(e.into());
    }
    let r = prep.res as u32;
    save_png_atomic(&chw_to_rgb(&prior, r, r)?, &a.out.join("prior.png"))?;
    let thumbs: Vec<_> = samples
        .iter()
        .map(|s| (s.photo.clone(), format!("seed {}", s.seed)))
        .collect();
    let cols = (thumbs.len() as f64).sqrt().ceil().max(1.0) as u32;
    save_png_atomic(
        &contact_sheet(&thumbs, cols, 256),
        &a.out.join("contact-sheet.png"),
    )?;
    save_png_atomic(&figure(&prep, &prior, &samples)?, &a.out.join("figure.png"))?;
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
        outputs: outputs.clone(),
    };
    pdpaint::fsutil::write_atomic(
        &a.out.join("recipe.json"),
        serde_json::to_string_pretty(&recipe)?.as_bytes(),
    )?;
    println!(
        "wrote {} samples, prior.png, contact-sheet.png, figure.png and recipe.json to {}",
        outputs.len(),
        a.out.display()
    );
    Ok(())
}

/// Edge of a tile of the figure in pixels.
const FIGURE_TILE: u32 = 192;

/// The figure of a run, at the model's resolution inside the context box: the photo, the photo
/// with the hole blanked, the stage-1 prior, every sample, and the diversity map (per-pixel
/// standard deviation across the samples, magma, scaled to its maximum), each labelled.
pub fn figure(prep: &Prepared, prior: &[f32], samples: &[Sample]) -> Result<image::RgbImage> {
    let r = prep.res as u32;
    let photo = chw_to_rgb(&prep.image, r, r)?;
    let mut masked = photo.clone();
    for (px, &h) in masked.pixels_mut().zip(&prep.hole) {
        if h > 0.5 {
            *px = image::Rgb([255, 255, 255]);
        }
    }
    let mut tiles = vec![
        (photo, "photo".to_string()),
        (masked, "mask".to_string()),
        (chw_to_rgb(prior, r, r)?, "prior".to_string()),
    ];
    for s in samples {
        tiles.push((chw_to_rgb(&s.fill, r, r)?, format!("seed {}", s.seed)));
    }
    let fills: Vec<&[f32]> = samples.iter().map(|s| s.fill.as_slice()).collect();
    let spread = diversity_map(&fills, prep.res)?;
    let hi = spread.iter().copied().fold(0.0f32, f32::max);
    tiles.push((
        to_rgb_image(&spread, r, r, Colormap::Magma, 0.0, hi.max(1e-6)),
        format!("spread 0-{hi:.2}"),
    ));
    let cols = tiles.len().div_ceil(2).max(1) as u32;
    Ok(contact_sheet(&tiles, cols, FIGURE_TILE))
}
