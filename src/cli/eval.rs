//! `pdpaint eval`: measure a model on held-out photos (see [`pdpaint::eval`]).
//!
//! `--out REPORT` writes `REPORT.json` and `REPORT.md`; a path ending in `.json` (or `.md`)
//! has that extension replaced, so `--out results/eval.json` writes `results/eval.json` and
//! `results/eval.md`. Missing parent folders are created.

use std::path::PathBuf;

use anyhow::{Context, Result};

use pdpaint::data::ImageFolder;
use pdpaint::eval::{EvalOptions, evaluate, report_paths};
use pdpaint::inference::Inpainter;

use super::{BackendArgs, select_backend};

/// Arguments of `pdpaint eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder (see `pdpaint import` / `pdpaint init`).
    #[arg(long)]
    pub model: PathBuf,
    /// Folder of held-out photos (jpg, png, webp; searched recursively).
    #[arg(long)]
    pub data: PathBuf,
    /// Samples per image and mask.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub samples: u32,
    /// Images × masks per hole-ratio bin (six bins: 0-10 % … 50-60 %).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_bin: u32,
    /// Master seed of the crops, masks, z and SWD projections.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Neighbourhood radius of the Telea baseline, in pixels.
    #[arg(long, default_value_t = pdpaint::eval::telea::DEFAULT_RADIUS)]
    pub telea_radius: f32,
    /// Resamples of the paired bootstrap that says how sure each bin's SWD difference between
    /// PD-GAN and a baseline is (0: leave it out).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub bootstrap: u32,
    /// Report path: writes REPORT.json and REPORT.md (a .json or .md extension is replaced).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Runs `eval`.
pub fn run(a: Args) -> Result<()> {
    if !a.telea_radius.is_finite() || a.telea_radius <= 0.0 {
        anyhow::bail!(
            "--telea-radius must be a positive number, got {}",
            a.telea_radius
        );
    }
    let (json, md) = report_paths(&a.out);
    if !a.model.is_dir() {
        anyhow::bail!("model folder not found: {}", a.model.display());
    }
    if !a.data.is_dir() {
        anyhow::bail!("data folder not found: {}", a.data.display());
    }
    let data = ImageFolder::load(&a.data)
        .with_context(|| format!("could not load held-out photos from {}", a.data.display()))?;
    for (p, why) in &data.skipped {
        eprintln!("warning: skipped {}: {why}", p.display());
    }
    let sel = select_backend(&a.backend)?;
    let model = Inpainter::load(&a.model, &sel.device)
        .with_context(|| format!("could not load the model {}", a.model.display()))?;
    eprintln!(
        "model: {} ({}, {}²); {} photos; {} samples × {} per bin × 6 bins",
        a.model.display(),
        model.model_file().config.preset,
        model.resolution(),
        data.len(),
        a.samples,
        a.per_bin
    );
    for p in [&json, &md] {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
    }
    let opts = EvalOptions {
        samples: a.samples as usize,
        per_bin: a.per_bin as usize,
        seed: a.seed,
        telea_radius: a.telea_radius,
        bootstrap: a.bootstrap as usize,
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
        &a.model,
        &data,
        &sel.description,
        &opts,
        &mut |done, _total, bin| {
            bar.set_message(bin.to_string());
            bar.set_position(done as u64);
        },
    );
    bar.finish_and_clear();
    let report = report?;
    report.write(&json, &md)?;
    println!(
        "evaluated {} images × 6 bins in {:.1} s; wrote {} and {}",
        a.per_bin,
        report.elapsed_s,
        json.display(),
        md.display()
    );
    Ok(())
}
