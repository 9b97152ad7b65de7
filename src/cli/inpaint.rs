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
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(embedded::NAME)),
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
    if !margin.is_finite() || margin < 0.0 {
        bail!("--margin must be a non-negative number, got {margin}");
    }
    if !(detail.1.guide_weight.is_finite() && detail.1.guide_weight >= 0.0) {
        bail!(
            "--guide-weight must be a non-negative number, got {}",
            detail.1.guide_weight
        );
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
    let (detail, detail_params) = detail;
    let opts = InpaintOptions {
        margin,
        feather_px: feather,
        detail,
        detail_params,
        ..InpaintOptions::default()
    };
    let style = indicatif::ProgressStyle::with_template(
        "{msg:8} {bar:30} {pos}/{len}  {elapsed} (eta {eta})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let bar = indicatif::ProgressBar::new(seeds.len() as u64);
    bar.set_style(style.clone());
    bar.set_message("samples");
    let session = inp.session(&photo, &mask, &opts)?;
    let prep = session.prepared().clone();
    let prior = session.prior_chw()?;
    let detailed = detail == DetailMode::Patch;
    let raw_name = |seed: u64| {
        if detailed {
            format!("seed-{seed}-raw.png")
        } else {
            format!("seed-{seed}.png")
        }
    };
    let mut raws = Vec::with_capacity(seeds.len());
    let mut raw_outputs = Vec::new();
    for chunk in seeds.chunks(opts.batch.max(1)) {
        for s in session.samples(chunk)? {
            let p = a.out.join(raw_name(s.seed));
            save_png_atomic(&s.photo, &p)?;
            raw_outputs.push(p);
            bar.inc(1);
            raws.push(s);
        }
    }
    bar.finish_and_clear();
    let mut finals = Vec::with_capacity(raws.len());
    let mut outputs = Vec::new();
    if detailed {
        // Progress in hundredths of a sample.
        let dbar = indicatif::ProgressBar::new(100 * raws.len() as u64);
        dbar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:8} {bar:30} {percent:>3}%  {elapsed} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        dbar.set_message("detail");
        for (k, s) in raws.iter().enumerate() {
            let base = 100 * k as u64;
            let img = session
                .detail(s, &mut |f| {
                    dbar.set_position(base + (100.0 * f) as u64);
                    true
                })
                .with_context(|| format!("detail of seed {}", s.seed))?;
            let p = a.out.join(format!("seed-{}.png", s.seed));
            save_png_atomic(&img, &p)?;
            outputs.push(p);
            finals.push((s.seed, img));
        }
        dbar.finish_and_clear();
    } else {
        outputs = std::mem::take(&mut raw_outputs);
        finals = raws.iter().map(|s| (s.seed, s.photo.clone())).collect();
    }
    let r = prep.res as u32;
    save_png_atomic(&chw_to_rgb(&prior, r, r)?, &a.out.join("prior.png"))?;
    let thumbs: Vec<_> = finals
        .iter()
        .map(|(seed, img)| (img.clone(), format!("seed {seed}")))
        .collect();
    let cols = (thumbs.len() as f64).sqrt().ceil().max(1.0) as u32;
    save_png_atomic(
        &contact_sheet(&thumbs, cols, 256),
        &a.out.join("contact-sheet.png"),
    )?;
    save_png_atomic(
        &figure(&photo, &mask, &prep, &prior, &finals)?,
        &a.out.join("figure.png"),
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
        &a.out.join("recipe.json"),
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
        a.out.display()
    );
    Ok(())
}

/// Edge of a tile of the figure in pixels.
const FIGURE_TILE: u32 = 192;

/// The figure of a run over the context box, each tile [`FIGURE_TILE`] pixels: the photo, the
/// photo with the hole blanked, the stage-1 prior, every sample as the user gets it (detailed
/// when detail is on), and the diversity map of those samples (per-pixel standard deviation,
/// magma, scaled to its maximum), each labelled.
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
    let tile = |img: &image::RgbImage| -> Result<(Vec<f32>, image::RgbImage)> {
        let chw = imageops::crop_resize_rgb(img, &bx, t);
        let rgb = chw_to_rgb(&chw, t, t)?;
        Ok((chw, rgb))
    };
    let (_, crop) = tile(photo)?;
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
    for (seed, img) in samples {
        let (chw, rgb) = tile(img)?;
        fills.push(chw);
        tiles.push((rgb, format!("seed {seed}")));
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
