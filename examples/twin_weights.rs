//! Writes the weights that `scripts/gpu/twin_train.py` (the PyTorch twin of `pdpaint train`,
//! for a lent GPU machine) cannot read from a model folder: a checkpoint's discriminator and
//! the run's seeded random VGG, both as half-precision `*.f16` files (see `model::half`).
//!
//! ```text
//! cargo run --example twin_weights -- MODEL_DIR CHECKPOINT_DIR VGG_SEED OUT_DIR
//! ```
//! `MODEL_DIR` gives `config.json`; `CHECKPOINT_DIR` holds `discriminator.bpk`; `VGG_SEED` is
//! `vgg.seed` of the run's `run.json` (VGG-16, width ÷4, as `pdpaint train` builds it).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use pdpaint::model::half;
use pdpaint::model::vgg::{Vgg, VggConfig, VggKind};
use pdpaint::model::weights::{load_discriminator, read_model_file};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, ckpt, seed, out] = args.as_slice() else {
        bail!("usage: twin_weights MODEL_DIR CHECKPOINT_DIR VGG_SEED OUT_DIR");
    };
    let (model, ckpt, out) = (
        PathBuf::from(model),
        PathBuf::from(ckpt),
        PathBuf::from(out),
    );
    let seed: u64 = seed.parse().context("VGG_SEED must be an integer")?;
    let device = Device::flex();
    let file = read_model_file(&model)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let d = load_discriminator(&ckpt, &file.config, &device)?;
    half::save(&d, &out.join("discriminator.f16"))?;
    let vgg = Vgg::random(
        VggConfig {
            kind: VggKind::Vgg16,
            width_div: 4,
        },
        seed,
        &device,
    )?;
    half::save(&vgg, &out.join("vgg.f16"))?;
    println!("wrote discriminator.f16 and vgg.f16 to {}", out.display());
    Ok(())
}
