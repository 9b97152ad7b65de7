//! `pdpaint export`: a copy of a model folder for inference (prior and generator, and with
//! `--critic` the discriminator as the realism critic), optionally with half-precision
//! weights, as shipped in `models/default/`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::prelude::*;

use pdpaint::model::weights::{
    has_discriminator_file, load_discriminator, load_generator_like, load_model_folder,
    save_model_folder, save_model_folder_half,
};
use pdpaint::train::checkpoint::{self, EMA_FILE};
use pdpaint::train::ema::{refresh_spectral_norm, source_note};

/// Arguments of `pdpaint export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder to read (e.g. a training run's `model/` or a checkpoint).
    #[arg(long)]
    pub model: PathBuf,
    /// Folder to write: new or empty (an existing model folder only with --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing pdpaint model folder at --out (atomically; never the --model
    /// folder itself).
    #[arg(long)]
    pub force: bool,
    /// Store the weights in half precision (`*.f16`, half the size; computation stays f32).
    #[arg(long)]
    pub half: bool,
    /// Take the generator from the checkpoint's moving average (`generator-ema.bpk`, written by
    /// `pdpaint train --ema`) instead of its trained weights; `--model` must be a checkpoint
    /// folder of such a run.
    #[arg(long)]
    pub average: bool,
    /// Keep the folder's discriminator as the copy's realism critic (the studio's realism
    /// badges and sorting, `inpaint --sort-by realism`); an error when the folder has none.
    /// Without it the copy has no critic.
    #[arg(long)]
    pub critic: bool,
}

/// Runs `pdpaint export`.
pub fn run(a: Args) -> Result<()> {
    let model_dir = super::resolve_model_dir(&a.model);
    let dev = Device::flex();
    let (file, mut model) = load_model_folder(&model_dir, &dev)?;
    let mut source = if file.source.is_empty() {
        format!("exported from {}", model_dir.display())
    } else {
        file.source.clone()
    };
    if a.average {
        let path = model_dir.join(EMA_FILE);
        if !path.is_file() {
            bail!(
                "--average needs a checkpoint of a run trained with --ema, and this folder has \
                 no moving average: {}",
                path.display()
            );
        }
        let avg = load_generator_like(&model.generator, &path)?;
        model.generator = refresh_spectral_norm(avg);
        let state = checkpoint::read_state(&model_dir).ok();
        source.push_str(&source_note(
            state.as_ref().map(|s| s.config.ema_decay),
            state.as_ref().and_then(|s| s.ema_since),
        ));
    }
    let critic = if a.critic {
        if !has_discriminator_file(&model_dir) {
            bail!(
                "--critic needs a folder with a discriminator (discriminator.bpk or .f16), and \
                 this one has none: {}",
                model_dir.display()
            );
        }
        Some(load_discriminator(&model_dir, &file.config, &dev)?)
    } else {
        None
    };
    super::write_out_folder(&a.out, a.force, &[&model_dir], |dir| {
        if a.half {
            save_model_folder_half(dir, &file.config, &model, critic.as_ref(), &source)
        } else {
            save_model_folder(dir, &file.config, &model, critic.as_ref(), &source)
        }
    })?;
    let bytes: u64 = std::fs::read_dir(&a.out)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "wrote {} ({} preset, {}², {:.1} MB{}{})",
        a.out.display(),
        file.config.preset,
        file.config.resolution(),
        bytes as f64 / 1e6,
        if a.half { ", half precision" } else { "" },
        if critic.is_some() {
            ", with its realism critic"
        } else {
            ""
        }
    );
    Ok(())
}
