//! `pdpaint eval`: measure a model on held-out photos (see [`pdpaint::eval`]).
//!
//! Two modes:
//!
//! * **Model resolution** (the default): R×R crops per hole-ratio bin ([`pdpaint::eval`]).
//!   Options: `--per-bin`, `--samples`, `--seed`, `--telea-radius`, `--bootstrap`.
//! * **Full resolution** (`--full-res`): whole photos, object-sized holes drawn at the photo's
//!   scale, Telea, patch-only, raw PD-GAN and PD-GAN + detail measured in the hole at the
//!   photo's resolution ([`pdpaint::eval::fullres`]). Options: `--max-side`, `--holes`,
//!   `--figures`, `--samples`, `--seed`, `--telea-radius`, `--bootstrap`; `--per-bin` is
//!   refused. Writes a figure per chosen item beside the report (`REPORT-fig-<item>.png`).
//!
//! `--model` defaults to the embedded default model in both modes.
//!
//! The model-resolution mode also measures each output's spectral excess over the truth
//! ([`pdpaint::eval::spectrum`]: energy at spatial frequencies the photo does not have, which
//! is what a lattice of marks or speckle adds), per bin with a paired bootstrap against the
//! baselines; the full-resolution mode does not.
//!
//! Both modes measure the VGG distance ([`pdpaint::eval::vggdist`]) with the ImageNet VGG-16 at
//! `--vgg FILE`, by default the file `scripts/fetch-vgg.sh` writes
//! ([`pdpaint::model::vgg::standard_weights_path`]). When that default file is absent the
//! evaluation runs without it and the report says so (`settings.vgg_distance` is `null`); a
//! `--vgg FILE` that cannot be read is an error.
//!
//! `--out REPORT` writes `REPORT.json` and `REPORT.md`; a path ending in `.json` (or `.md`)
//! has that extension replaced, so `--out results/eval.json` writes `results/eval.json` and
//! `results/eval.md`. Missing parent folders are created.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use pdpaint::data::ImageFolder;
use pdpaint::detail::DetailParams;
use pdpaint::eval::fullres::{
    self, FigureRecord, FullResOptions, evaluate_full_res, figure_path, load_photos,
};
use pdpaint::eval::report::{GridRecord, grid_path};
use pdpaint::eval::vggdist::VggDistance;
use pdpaint::eval::{EvalOptions, evaluate, report_paths};
use pdpaint::imageops::save_png_atomic;
use pdpaint::inference::{InpaintOptions, Inpainter};
use pdpaint::masks::{NVIDIA_BINS, RatioBin};
use pdpaint::model::embedded;
use pdpaint::model::vgg::standard_weights_path;

use super::{BackendArgs, select_backend};

/// Arguments of `pdpaint eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder (see `pdpaint import` / `pdpaint init`); default: the embedded default
    /// model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Folder of held-out photos (jpg, png, webp; searched recursively).
    #[arg(long)]
    pub data: PathBuf,
    /// Samples per image and mask (per item with --full-res).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub samples: u32,
    /// Images × masks per hole-ratio bin (six bins: 0-10 % … 50-60 %); not with --full-res.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_bin: u32,
    /// Master seed of the crops (or holes), masks, z and SWD projections.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Neighbourhood radius of the Telea baseline, in pixels.
    #[arg(long, default_value_t = pdpaint::eval::telea::DEFAULT_RADIUS)]
    pub telea_radius: f32,
    /// Resamples of the paired bootstrap that says how sure each SWD difference is (per bin:
    /// PD-GAN against a baseline; with --full-res: PD-GAN + detail against each other method;
    /// 0: leave it out).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub bootstrap: u32,
    /// Evaluate at the photo's resolution: whole photos, object-sized holes, Telea,
    /// patch-only, raw PD-GAN and PD-GAN + detail (see `pdpaint::eval::fullres`).
    #[arg(long, conflicts_with = "per_bin")]
    pub full_res: bool,
    /// With --full-res: photos whose longer side exceeds this are downscaled to it first.
    #[arg(long, default_value_t = fullres::DEFAULT_MAX_SIDE, requires = "full_res",
          value_parser = clap::value_parser!(u32).range(i64::from(fullres::MIN_PHOTO_SIDE)..=16384))]
    pub max_side: u32,
    /// With --full-res: holes per photo (one item per hole).
    #[arg(long, default_value_t = fullres::DEFAULT_HOLES as u32, requires = "full_res",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub holes: u32,
    /// With --full-res: the items that get a comparison figure (comma-separated indices,
    /// photo-major: item = photo × holes + hole); default: each photo's first hole.
    #[arg(long, value_delimiter = ',', requires = "full_res")]
    pub figures: Option<Vec<usize>>,
    /// Grid figures of these hole-ratio bins (comma-separated, e.g. `40-50` or `30-40,50-60`):
    /// each shows the bin's first 4 items, one row each: input, prior, 4 samples, Telea, truth;
    /// written beside the report as REPORT-grid-<bin>.png.
    #[arg(long, value_delimiter = ',', value_parser = parse_grid_bin, conflicts_with = "full_res")]
    pub grid: Vec<usize>,
    /// Condition stage 2 on this prior instead of the one the model's `config.json` names
    /// (`network` or `telea`; e.g. a network-prior model given Telea's fill). The report says
    /// which was used.
    #[arg(long, value_enum)]
    pub prior_source: Option<pdpaint::model::PriorSource>,
    /// With --full-res: weight of the sample (the guide) in the detail synthesis's patch
    /// distance (see `inpaint --guide-weight`).
    #[arg(long, default_value_t = DetailParams::default().guide_weight, requires = "full_res")]
    pub guide_weight: f32,
    /// ImageNet VGG-16 weights for the VGG distance (default: the file scripts/fetch-vgg.sh
    /// writes, $XDG_DATA_HOME/pdpaint/vgg16-imagenet.safetensors, else
    /// ~/.local/share/pdpaint/vgg16-imagenet.safetensors; when that is absent the distance is
    /// left out and the report says so).
    #[arg(long, value_name = "FILE")]
    pub vgg: Option<PathBuf>,
    /// Report path: writes REPORT.json and REPORT.md (a .json or .md extension is replaced).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Parses a `--grid` bin label (`40-50` or `40-50%`) to its index in [`NVIDIA_BINS`].
fn parse_grid_bin(s: &str) -> std::result::Result<usize, String> {
    let want = s.trim().trim_end_matches('%');
    NVIDIA_BINS
        .iter()
        .position(|b| b.label().trim_end_matches('%') == want)
        .ok_or_else(|| {
            let all: Vec<String> = NVIDIA_BINS
                .iter()
                .map(|b| b.label().trim_end_matches('%').to_string())
                .collect();
            format!("not a hole-ratio bin (one of {})", all.join(", "))
        })
}

/// Loads `--model` (a folder) or the embedded default model, conditioned on `prior_source`
/// when one is given; returns it and the path the report names.
fn load_model(
    model: Option<&Path>,
    prior_source: Option<pdpaint::model::PriorSource>,
    device: &burn::tensor::Device,
) -> Result<(Inpainter, PathBuf)> {
    let (inp, path) = load_model_as_saved(model, device)?;
    Ok(match prior_source {
        Some(source) => (inp.with_prior_source(source), path),
        None => (inp, path),
    })
}

/// [`load_model`] with the prior its `config.json` names.
fn load_model_as_saved(
    model: Option<&Path>,
    device: &burn::tensor::Device,
) -> Result<(Inpainter, PathBuf)> {
    match model {
        Some(dir) => {
            let dir = &super::resolve_model_dir(dir);
            if !dir.is_dir() {
                anyhow::bail!("model folder not found: {}", dir.display());
            }
            let inp = Inpainter::load(dir, device)
                .with_context(|| format!("could not load the model {}", dir.display()))?;
            Ok((inp, dir.to_path_buf()))
        }
        None => {
            let (file, model) =
                embedded::load(device).context("could not load the embedded default model")?;
            Ok((
                Inpainter::new(model, file, device.clone()),
                PathBuf::from(embedded::NAME),
            ))
        }
    }
}

/// The VGG distance's network: `--vgg FILE` (an error when it cannot be read), else the
/// standard file when it is there. The second value is the default path looked at and not
/// found (for the report's note).
fn load_vgg(
    arg: Option<&Path>,
    device: &burn::tensor::Device,
) -> Result<(Option<VggDistance>, Option<PathBuf>)> {
    if let Some(path) = arg {
        let vd = VggDistance::load(path, device)
            .with_context(|| format!("could not load the VGG weights {}", path.display()))?;
        return Ok((Some(vd), None));
    }
    match standard_weights_path() {
        Some(path) if path.is_file() => {
            let vd = VggDistance::load(&path, device).with_context(|| {
                format!(
                    "could not load the ImageNet VGG-16 at the standard path {} (remake it with \
                     scripts/fetch-vgg.sh)",
                    path.display()
                )
            })?;
            Ok((Some(vd), None))
        }
        other => Ok((None, other)),
    }
}

/// Says on stderr which network the VGG distance uses, or that it is left out.
fn say_vgg(vgg: Option<&VggDistance>, missing: Option<&Path>) {
    match (vgg, missing) {
        (Some(v), _) => eprintln!("VGG distance: {}", v.vgg().describe()),
        (None, Some(p)) => eprintln!(
            "VGG distance: left out (no ImageNet VGG-16 at {}; make it with scripts/fetch-vgg.sh \
             or pass --vgg FILE)",
            p.display()
        ),
        (None, None) => eprintln!(
            "VGG distance: left out (no data folder to look for the ImageNet VGG-16 in: set HOME \
             or XDG_DATA_HOME, or pass --vgg FILE)"
        ),
    }
}

/// The report note when the VGG distance was left out.
fn vgg_note(missing: Option<&Path>) -> String {
    format!(
        "No VGG distance: no ImageNet VGG-16 weights at {} (scripts/fetch-vgg.sh makes them; \
         --vgg FILE names another file).",
        missing.map_or_else(
            || "the standard path".to_string(),
            |p| p.display().to_string()
        )
    )
}

/// Creates the parent folders of `paths`.
fn create_parents(paths: &[&Path]) -> Result<()> {
    for p in paths {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
    }
    Ok(())
}

/// Runs `eval`.
pub fn run(a: Args) -> Result<()> {
    if !a.telea_radius.is_finite() || a.telea_radius <= 0.0 {
        anyhow::bail!(
            "--telea-radius must be a positive number, got {}",
            a.telea_radius
        );
    }
    if let Some(dir) = a.model.as_deref().filter(|d| !d.is_dir()) {
        anyhow::bail!("model folder not found: {}", dir.display());
    }
    if !a.data.is_dir() {
        anyhow::bail!("data folder not found: {}", a.data.display());
    }
    if a.full_res {
        return run_full_res(a);
    }
    let (json, md) = report_paths(&a.out);
    let data = ImageFolder::load(&a.data)
        .with_context(|| format!("could not load held-out photos from {}", a.data.display()))?;
    for (p, why) in &data.skipped {
        eprintln!("warning: skipped {}: {why}", p.display());
    }
    let sel = select_backend(&a.backend)?;
    let (model, model_path) = load_model(a.model.as_deref(), a.prior_source, &sel.device)?;
    let (vgg, vgg_missing) = load_vgg(a.vgg.as_deref(), &sel.device)?;
    say_vgg(vgg.as_ref(), vgg_missing.as_deref());
    eprintln!(
        "model: {} ({}, {}², prior {}); {} photos; {} samples × {} per bin × 6 bins",
        model_path.display(),
        model.model_file().config.preset,
        model.resolution(),
        model.model_file().config.prior_source.name(),
        data.len(),
        a.samples,
        a.per_bin
    );
    create_parents(&[&json, &md])?;
    let opts = EvalOptions {
        samples: a.samples as usize,
        per_bin: a.per_bin as usize,
        seed: a.seed,
        telea_radius: a.telea_radius,
        bootstrap: a.bootstrap as usize,
        grids: a.grid.clone(),
        ..EvalOptions::default()
    };
    let bar = indicatif::ProgressBar::new(6 * u64::from(a.per_bin));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} images  bin {msg}  {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = evaluate(
        &model,
        &model_path,
        &data,
        &sel.description,
        &opts,
        vgg.as_ref(),
        &mut |done, _total, bin| {
            bar.set_message(bin.to_string());
            bar.set_position(done as u64);
        },
    );
    bar.finish_and_clear();
    let run = report?;
    let mut report = run.report;
    if vgg.is_none() {
        report.notes.push(vgg_note(vgg_missing.as_deref()));
    }
    for (b, img) in &run.grids {
        let label = NVIDIA_BINS
            .get(*b)
            .map_or_else(String::new, RatioBin::label);
        let path = grid_path(&a.out, &label);
        save_png_atomic(img, &path)
            .with_context(|| format!("could not write the grid figure {}", path.display()))?;
        eprintln!("grid: {}", path.display());
        report.grids.push(GridRecord {
            bin: label,
            file: path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        });
    }
    report.write(&json, &md)?;
    println!(
        "evaluated {} images × 6 bins in {:.1} s{}; wrote {} and {}",
        a.per_bin,
        report.elapsed_s,
        vgg.as_ref().map_or_else(String::new, |v| format!(
            " (VGG distance {:.1} s of it)",
            v.seconds()
        )),
        json.display(),
        md.display()
    );
    Ok(())
}

/// Runs `eval --full-res`.
fn run_full_res(a: Args) -> Result<()> {
    let (json, md) = report_paths(&a.out);
    let photos = load_photos(&a.data, a.max_side)
        .with_context(|| format!("could not load held-out photos from {}", a.data.display()))?;
    for (p, why) in &photos.skipped {
        eprintln!("warning: skipped {}: {why}", p.display());
    }
    let sel = select_backend(&a.backend)?;
    let (model, model_path) = load_model(a.model.as_deref(), a.prior_source, &sel.device)?;
    let (vgg, vgg_missing) = load_vgg(a.vgg.as_deref(), &sel.device)?;
    say_vgg(vgg.as_ref(), vgg_missing.as_deref());
    let downscaled = photos
        .photos
        .iter()
        .filter(|p| p.image.dimensions() != p.original)
        .count();
    eprintln!(
        "model: {} ({}, {}², prior {}); {} photos ({downscaled} downscaled to at most {} px); \
         {} holes each; {} samples per item; full resolution",
        model_path.display(),
        model.model_file().config.preset,
        model.resolution(),
        model.model_file().config.prior_source.name(),
        photos.photos.len(),
        a.max_side,
        a.holes,
        a.samples
    );
    create_parents(&[&json, &md])?;
    let opts = FullResOptions {
        samples: a.samples as usize,
        holes: a.holes as usize,
        seed: a.seed,
        telea_radius: a.telea_radius,
        bootstrap: a.bootstrap as usize,
        figures: a.figures.clone(),
        inpaint: InpaintOptions {
            detail_params: DetailParams {
                guide_weight: a.guide_weight,
                ..DetailParams::default()
            },
            ..InpaintOptions::default()
        },
    };
    let run = evaluate_full_res(
        &model,
        &model_path,
        &photos,
        &sel.description,
        &opts,
        vgg.as_ref(),
        &mut |done, total, line| eprintln!("[{done}/{total}] {line}"),
    )?;
    let mut report = run.report;
    if vgg.is_none() {
        report.notes.push(vgg_note(vgg_missing.as_deref()));
    }
    for (item, img) in &run.figures {
        let path = figure_path(&a.out, *item);
        save_png_atomic(img, &path)
            .with_context(|| format!("could not write the figure {}", path.display()))?;
        report.figures.push(FigureRecord {
            item: *item,
            file: path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        });
    }
    report.write(&json, &md)?;
    println!(
        "evaluated {} items ({} photos × {} holes) at full resolution in {:.1} s{}; wrote {}, {} \
         and {} figures",
        report.items.len(),
        photos.photos.len(),
        a.holes,
        report.elapsed_s,
        vgg.as_ref().map_or_else(String::new, |v| format!(
            " (VGG distance {:.1} s of it)",
            v.seconds()
        )),
        json.display(),
        md.display(),
        report.figures.len()
    );
    Ok(())
}
