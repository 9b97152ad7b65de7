//! `pdpaint export`: an inference-only copy of a model folder (prior and generator, no
//! discriminator), optionally with half-precision weights, as shipped in `models/default/`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::prelude::*;

use pdpaint::model::weights::{load_model_folder, save_model_folder, save_model_folder_half};

/// Arguments of `pdpaint export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder to read (e.g. a training run's `model/` or a checkpoint).
    #[arg(long)]
    pub model: PathBuf,
    /// Folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Store the weights in half precision (`*.f16`, half the size; computation stays f32).
    #[arg(long)]
    pub half: bool,
}

/// Runs `pdpaint export`.
pub fn run(a: Args) -> Result<()> {
    if a.out == a.model {
        bail!("--out must differ from --model");
    }
    let dev = Device::flex();
    let (file, model) = load_model_folder(&a.model, &dev)?;
    let source = if file.source.is_empty() {
        format!("exported from {}", a.model.display())
    } else {
        file.source.clone()
    };
    if a.half {
        save_model_folder_half(&a.out, &file.config, &model, &source)?;
    } else {
        save_model_folder(&a.out, &file.config, &model, None, &source)?;
    }
    let bytes: u64 = std::fs::read_dir(&a.out)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "wrote {} ({} preset, {}², {:.1} MB{})",
        a.out.display(),
        file.config.preset,
        file.config.resolution(),
        bytes as f64 / 1e6,
        if a.half { ", half precision" } else { "" }
    );
    Ok(())
}
