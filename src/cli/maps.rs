//! `pdpaint maps`: look at the probability maps of a mask (and, with a model, its soft maps).
//!
//! Writes, for each generator unit k (0..5):
//! * `hard_{k}.png`: the hard map the unit sees, computed on the model-resolution context crop
//!   (as `inpaint` feeds it), at the unit's own resolution, enlarged (nearest) to R×R;
//! * `hard_full_{k}.png`: the same rule (N, ks of unit k) applied to the full-resolution mask;
//! * with `--model` and `--image`: `soft_{k}.png`, the soft map's channel mean, enlarged;
//! * `maps.json`: sizes, (N, ks), colour scales: a legend for the PNGs.
//!
//! Hard maps are drawn on a log scale (viridis) from `c_N` (dark) to 1 (bright), so every ring
//! gets its own colour; soft maps are drawn linearly from 0 to 1.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use pdpaint::imageops::{self, save_png_atomic};
use pdpaint::inference::{InpaintOptions, Inpainter, z_for_seed};
use pdpaint::maps::{Colormap, Decay, hard_map_fast, log_scale, to_rgb_image, unit_hard_maps_cpu};
use pdpaint::mask::Mask;
use pdpaint::model::config::UNIT_MAP_SPECS;
use pdpaint::model::{tensor_from_vec, tensor_to_vec};

use super::{BackendArgs, select_backend};

/// Arguments of `pdpaint maps`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Hole mask PNG (white = hole).
    #[arg(long)]
    pub mask: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Model resolution used for the per-unit maps when no model is given: a multiple of 64,
    /// at most 4096 (the largest model resolution).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(64..=4096))]
    pub res: u32,
    /// Use the paper's decay 1/k^i instead of the code's e^-i.
    #[arg(long)]
    pub paper: bool,
    /// Base k of the paper's decay.
    #[arg(long, default_value_t = 4.0)]
    pub k: f32,
    /// Model folder: adds soft maps (needs --image).
    #[arg(long, requires = "image")]
    pub model: Option<PathBuf>,
    /// The photo (for soft maps).
    #[arg(long, requires = "model")]
    pub image: Option<PathBuf>,
    /// Seed of z for the soft maps (they depend on the features, hence on z).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Context margin, as in `inpaint`.
    #[arg(long, default_value_t = 0.5)]
    pub margin: f32,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Serialize)]
struct UnitLegend {
    unit: usize,
    size: usize,
    n: usize,
    ks: usize,
    hard_floor: f32,
    hard_scale: &'static str,
    soft_scale: &'static str,
}

#[derive(Serialize)]
struct Legend {
    mask: PathBuf,
    decay: String,
    resolution: u32,
    context_box: [i64; 3],
    colormap: &'static str,
    units: Vec<UnitLegend>,
}

fn enlarge(v: &[f32], s: usize, r: usize) -> Vec<f32> {
    let f = (r / s).max(1);
    let mut out = vec![0.0; r * r];
    for y in 0..r {
        for x in 0..r {
            out[y * r + x] = v[(y / f).min(s - 1) * s + (x / f).min(s - 1)];
        }
    }
    out
}

/// Runs `maps`.
pub fn run(a: Args) -> Result<()> {
    let mask = Mask::load(&a.mask)?;
    let bbox = mask
        .bbox()
        .context("the mask has no hole: nothing to map (white = hole)")?;
    let mut decay = if a.paper {
        if !(a.k > 1.0 && a.k.is_finite()) {
            bail!("--k must be > 1, got {}", a.k);
        }
        Decay::Paper { k: a.k }
    } else {
        Decay::Exp
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("could not create {}", a.out.display()))?;
    // Soft maps need the model; its resolution then wins.
    let mut soft_means: Option<Vec<(usize, Vec<f32>)>> = None;
    let mut res = a.res;
    if let (Some(model_dir), Some(image_path)) = (&a.model, &a.image) {
        let (photo, notes) = imageops::load_image_with_notes(image_path)?;
        for n in notes {
            eprintln!("note: {n}");
        }
        let mask_img = if (mask.width, mask.height) != photo.dimensions() {
            eprintln!(
                "note: mask size differs from the photo: resizing the mask (nearest neighbour)"
            );
            mask.resize_nearest(photo.width(), photo.height())
        } else {
            mask.clone()
        };
        let sel = select_backend(&a.backend)?;
        let inp = Inpainter::load(&super::resolve_model_dir(model_dir), &sel.device)?;
        res = inp.resolution() as u32;
        let opts = InpaintOptions {
            margin: a.margin,
            ..InpaintOptions::default()
        };
        let p = inp.prepare(&photo, &mask_img, &opts)?;
        let prior = inp.prior(&p)?;
        let zd = inp.model_file().config.generator.z_dim;
        let z = tensor_from_vec(z_for_seed(a.seed, zd), [1, zd], inp.device());
        let known = tensor_from_vec(
            p.hole.iter().map(|v| 1.0 - v).collect(),
            [1, 1, p.res, p.res],
            inp.device(),
        );
        // The model's own rule, unless --paper overrides it.
        if !a.paper {
            decay = inp.model_file().config.hard_map.decay();
        }
        let (_, maps) = inp.model().generator.forward(z, prior, known, decay, true);
        let mut v = Vec::new();
        for m in maps {
            let h = m.soft.dims()[2];
            let mean = tensor_to_vec(m.soft.mean_dim(1))?;
            v.push((h, mean));
        }
        soft_means = Some(v);
    }
    if res < 64 || !res.is_multiple_of(64) {
        bail!("--res must be a multiple of 64 (the generator has six 2x upsamplings), got {res}");
    }
    let bx = imageops::context_box(bbox, mask.width, mask.height, res, a.margin);
    let hole = imageops::crop_resize_mask(mask.holes(), mask.width, mask.height, &bx, res)?;
    let known: Vec<f32> = hole.iter().map(|v| 1.0 - v).collect();
    let r = res as usize;
    let units = unit_hard_maps_cpu(&known, r, r, &UNIT_MAP_SPECS, decay);
    let full_known = mask.known_f32();
    let (fw, fh) = (mask.width, mask.height);
    let mut legend = Vec::new();
    for (k, (hk, _, map)) in units.iter().enumerate() {
        let spec = UNIT_MAP_SPECS[k];
        let floor = decay.coef(spec.n);
        let scaled: Vec<f32> = map.iter().map(|&v| log_scale(v, floor)).collect();
        let big = enlarge(&scaled, *hk, r);
        save_png_atomic(
            &to_rgb_image(&big, res, res, Colormap::Viridis, 0.0, 1.0),
            &a.out.join(format!("hard_{k}.png")),
        )?;
        let full = hard_map_fast(
            &full_known,
            fh as usize,
            fw as usize,
            spec.n,
            spec.ks,
            decay,
        );
        let full_scaled: Vec<f32> = full.iter().map(|&v| log_scale(v, floor)).collect();
        save_png_atomic(
            &to_rgb_image(&full_scaled, fw, fh, Colormap::Viridis, 0.0, 1.0),
            &a.out.join(format!("hard_full_{k}.png")),
        )?;
        if let Some(soft) = &soft_means {
            let (s, mean) = &soft[k];
            let big = enlarge(mean, *s, r);
            save_png_atomic(
                &to_rgb_image(&big, res, res, Colormap::Viridis, 0.0, 1.0),
                &a.out.join(format!("soft_{k}.png")),
            )?;
        }
        legend.push(UnitLegend {
            unit: k,
            size: *hk,
            n: spec.n,
            ks: spec.ks,
            hard_floor: floor,
            hard_scale: "log: ln(v/floor)/ln(1/floor), 0 = floor (interior), 1 = known",
            soft_scale: "linear 0..1, channel mean",
        });
    }
    let legend = Legend {
        mask: a.mask.clone(),
        decay: match decay {
            Decay::Exp => "code: e^-i".into(),
            Decay::Paper { k } => format!("paper: 1/{k}^i"),
        },
        resolution: res,
        context_box: [bx.x0, bx.y0, bx.size as i64],
        colormap: "viridis",
        units: legend,
    };
    let json = serde_json::to_string_pretty(&legend)?;
    pdpaint::fsutil::write_atomic(&a.out.join("maps.json"), json.as_bytes())?;
    println!(
        "wrote hard maps{} for 6 units to {}",
        if soft_means.is_some() {
            " and soft maps"
        } else {
            ""
        },
        a.out.display()
    );
    Ok(())
}
