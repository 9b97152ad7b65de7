//! `pdpaint forward`: the exact network on raw `.npy` arrays.
//!
//! Contract: image `[B,3,R,R]` in [-1,1], mask `[B,1,R,R]` with 1 = hole, z `[B,z_dim]`, all
//! little-endian f32 C-order. Writes the raw generator output `[B,3,R,R]` (not composited),
//! optionally the raw prior, and per unit k `hard_{k}.npy` `[B,1,h,w]` and `soft_{k}.npy`
//! `[B,C,h,w]`. The prior input is `image ⊙ (1−mask)` with `1−mask` as its mask.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use pdpaint::model::weights::load_model_folder;
use pdpaint::model::{tensor_from_vec, tensor_to_vec};
use pdpaint::npy::{read_npy, write_npy};

use super::{BackendArgs, select_backend};

/// Arguments of `pdpaint forward`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model folder.
    #[arg(long)]
    pub model: PathBuf,
    /// Image `[B,3,R,R]`, values in [-1,1].
    #[arg(long)]
    pub image: PathBuf,
    /// Mask `[B,1,R,R]`, 1 = hole.
    #[arg(long)]
    pub mask: PathBuf,
    /// Noise `[B,z_dim]`.
    #[arg(long)]
    pub z: PathBuf,
    /// Output `[B,3,R,R]`: the raw generator output.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the raw prior `[B,3,R,R]` here.
    #[arg(long)]
    pub prior_out: Option<PathBuf>,
    /// Also write `hard_{k}.npy` and `soft_{k}.npy` for each unit into this folder.
    #[arg(long)]
    pub maps_out: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Runs the forward pass.
pub fn run(a: Args) -> Result<()> {
    let image = read_npy(&a.image)?;
    let mask = read_npy(&a.mask)?;
    let z = read_npy(&a.z)?;
    let sel = select_backend(&a.backend)?;
    let (file, model) = load_model_folder(&super::resolve_model_dir(&a.model), &sel.device)?;
    let cfg = &file.config;
    let r = cfg.resolution();
    let zd = cfg.generator.z_dim;
    image.expect_shape("image", &[None, Some(3), Some(r), Some(r)])?;
    let b = image.shape[0];
    mask.expect_shape("mask", &[Some(b), Some(1), Some(r), Some(r)])?;
    z.expect_shape("z", &[Some(b), Some(zd)])?;
    if b == 0 {
        bail!("batch size is 0: nothing to do");
    }
    if image
        .data
        .iter()
        .chain(&mask.data)
        .chain(&z.data)
        .any(|v| !v.is_finite())
    {
        bail!("inputs contain NaN or infinite values");
    }
    if mask.data.iter().any(|&v| v != 0.0 && v != 1.0) {
        eprintln!("warning: mask is not binary (values other than 0 and 1); used as given");
    }
    let dev = &sel.device;
    let known: Vec<f32> = mask.data.iter().map(|m| 1.0 - m).collect();
    let image_t = tensor_from_vec(image.data, [b, 3, r, r], dev);
    let known_t = tensor_from_vec(known, [b, 1, r, r], dev);
    let z_t = tensor_from_vec(z.data, [b, zd], dev);
    let prior =
        pdpaint::model::source_prior(cfg.prior_source, &model.prior, image_t, known_t.clone())?;
    let want_maps = a.maps_out.is_some();
    let (out, maps) =
        model
            .generator
            .forward(z_t, prior.clone(), known_t, cfg.hard_map.decay(), want_maps);
    write_npy(&a.out, &[b, 3, r, r], &tensor_to_vec(out)?)?;
    if let Some(p) = &a.prior_out {
        write_npy(p, &[b, 3, r, r], &tensor_to_vec(prior)?)?;
    }
    if let Some(dir) = &a.maps_out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        for (k, m) in maps.into_iter().enumerate() {
            let hs = m.hard.dims();
            let ss = m.soft.dims();
            write_npy(
                &dir.join(format!("hard_{k}.npy")),
                &hs,
                &tensor_to_vec(m.hard)?,
            )?;
            write_npy(
                &dir.join(format!("soft_{k}.npy")),
                &ss,
                &tensor_to_vec(m.soft)?,
            )?;
        }
    }
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
