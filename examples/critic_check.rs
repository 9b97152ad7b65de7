//! Does a model's discriminator tell real photos from the model's fills, and does its realism
//! score agree with closeness to the truth? For each photo of a held-out folder and a few
//! seeded masks, it scores the real photo and `SAMPLES` fills ([`pdpaint::steer::score`]'s
//! realism, exactly what the studio ranks by) and reports:
//!
//! * the mean realism of real photos and of fills, and the fraction of (real, fill) pairs of
//!   the same photo and mask where the real one scores higher (a paired AUC; 0.5 = chance);
//! * the mean, over photo–mask cases, of the Spearman correlation between a fill's realism and
//!   its PSNR to the truth inside the hole (0 = unrelated);
//! * the same between a fill's realism and its spectral excess over the truth on the model's
//!   crop ([`pdpaint::eval::spectrum`], the number `pdpaint eval` gives the lattice of marks and
//!   the speckle): negative when the critic scores marked fills as less real, which it must do
//!   for the adversarial loss to train the marks away;
//!
//! each with a 95 % bootstrap interval over the cases (2000 resamples).
//!
//! ```text
//! cargo run --release --example critic_check -- MODEL_DIR PHOTOS_DIR [MASKS_PER_PHOTO] [SAMPLES] [MASK_SEED] [raw|detail|guide]
//! ```
//!
//! `detail` scores each fill after the full-resolution detail stage (what the studio ranks
//! when detail is on): realism and PSNR of the detailed photo, the spectral excess of its
//! context box resized to the model's resolution. `guide` scores the raw fill's realism
//! against the detailed fill's PSNR and excess: whether the critic's view of a sample's guide
//! predicts how good its detailed fill is.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use image::RgbImage;
use pdpaint::data::ImageFolder;
use pdpaint::eval::metrics::Planes;
use pdpaint::eval::spectrum::spectral_excess;
use pdpaint::inference::{InpaintOptions, Inpainter};
use pdpaint::masks::{MaskKind, generate};
use pdpaint::steer::score::realism;
use rand::SeedableRng;

/// Photos are scored at this longer side (the studio's context box is resized to the model's
/// resolution anyway).
const SIDE: u32 = 512;

fn psnr_in_hole(a: &RgbImage, b: &RgbImage, mask: &pdpaint::mask::Mask) -> f64 {
    let mut se = 0.0f64;
    let mut n = 0usize;
    for (x, y, p) in a.enumerate_pixels() {
        if mask.is_hole(x, y) {
            let q = b.get_pixel(x, y);
            for c in 0..3 {
                let d = f64::from(p[c]) - f64::from(q[c]);
                se += d * d;
            }
            n += 3;
        }
    }
    let mse = se / n.max(1) as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-10)).log10()
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    for (rank, &i) in idx.iter().enumerate() {
        r[i] = rank as f64;
    }
    r
}

fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: critic_check MODEL_DIR PHOTOS_DIR [MASKS_PER_PHOTO] [SAMPLES] [MASK_SEED] [raw|detail|guide]";
    let (model, photos, masks_per, samples, mask_seed, mode) = match args.as_slice() {
        [m, p] => (m, p, 4usize, 4usize, 2026u64, "raw"),
        [m, p, k] => (m, p, k.parse()?, 4, 2026, "raw"),
        [m, p, k, s] => (m, p, k.parse()?, s.parse()?, 2026, "raw"),
        [m, p, k, s, r] => (m, p, k.parse()?, s.parse()?, r.parse()?, "raw"),
        [m, p, k, s, r, d] => (m, p, k.parse()?, s.parse()?, r.parse()?, d.as_str()),
        _ => bail!(usage),
    };
    // (score the detailed fill's realism, measure the detailed fill)
    let (score_detailed, detailed) = match mode {
        "raw" => (false, false),
        "detail" => (true, true),
        "guide" => (false, true),
        _ => bail!(usage),
    };
    let device = Device::flex();
    let inp = Inpainter::load(&PathBuf::from(model), &device)
        .with_context(|| format!("loading {model}"))?;
    if inp.discriminator().is_none() {
        bail!("{model} has no discriminator");
    }
    let folder = ImageFolder::load(&PathBuf::from(photos))?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(mask_seed);
    let (mut real_sum, mut fake_sum, mut n_real, mut n_fake) = (0.0f64, 0.0f64, 0usize, 0usize);
    let (mut wins, mut pairs) = (0.0f64, 0usize);
    let mut rhos = Vec::new();
    let mut rhos_excess = Vec::new();
    let (mut excess_sum, mut n_excess) = (0.0f64, 0usize);
    let res = inp.resolution();
    let unit = |v: &[f32]| -> Result<Planes> {
        Ok(Planes::new(
            3,
            res,
            res,
            v.iter().map(|x| 0.5 * (x + 1.0)).collect(),
        )?)
    };
    // Per case: (wins, pairs) for the bootstrap.
    let mut per_case: Vec<(f64, usize)> = Vec::new();
    for (path, img) in &folder.images {
        let (w, h) = img.dimensions();
        let s = f64::from(SIDE) / f64::from(w.max(h));
        let img = if s < 1.0 {
            image::imageops::resize(
                img,
                (f64::from(w) * s).round() as u32,
                (f64::from(h) * s).round() as u32,
                image::imageops::FilterType::Triangle,
            )
        } else {
            img.clone()
        };
        let (w, h) = img.dimensions();
        for k in 0..masks_per {
            let mask = generate(MaskKind::Mixed, w, h, &mut rng);
            if mask.hole_count() == 0 {
                continue;
            }
            let session = inp.session(&img, &mask, &InpaintOptions::default())?;
            let real = f64::from(realism(&session, &img)?.value().unwrap_or(f32::NAN));
            let seeds: Vec<u64> = (0..samples as u64).map(|i| 1000 * k as u64 + i).collect();
            let mut fr = Vec::new();
            let mut ps = Vec::new();
            let mut fills = Vec::new();
            let (mut case_wins, mut case_pairs) = (0.0f64, 0usize);
            for smp in session.samples(&seeds)? {
                // The raw fill's realism only where it is the score (the detail stage below
                // consumes the sample).
                let raw_realism = if score_detailed {
                    None
                } else {
                    Some(realism(&session, &smp.photo)?)
                };
                let (photo, fill) = if detailed {
                    let d = session.detail(&smp, &mut |_| true)?;
                    let f =
                        pdpaint::imageops::crop_resize_rgb(&d, &session.prepared().bx, res as u32);
                    (d, f)
                } else {
                    (smp.photo, smp.fill)
                };
                let r = match raw_realism {
                    Some(r) => r,
                    None => realism(&session, &photo)?,
                };
                let v = f64::from(r.value().unwrap_or(f32::NAN));
                fr.push(v);
                ps.push(psnr_in_hole(&photo, &img, &mask));
                fills.push(unit(&fill)?);
                let w = if real > v {
                    1.0
                } else if real == v {
                    0.5
                } else {
                    0.0
                };
                wins += w;
                pairs += 1;
                case_wins += w;
                case_pairs += 1;
            }
            per_case.push((case_wins, case_pairs));
            real_sum += real;
            n_real += 1;
            fake_sum += fr.iter().sum::<f64>();
            n_fake += fr.len();
            if let Some(r) = spearman(&fr, &ps) {
                rhos.push(r);
            }
            let truth = unit(&session.prepared().image)?;
            let ex = spectral_excess(&[&fills], &truth, &device)?
                .into_iter()
                .next()
                .unwrap_or_default();
            excess_sum += ex.iter().sum::<f64>();
            n_excess += ex.len();
            if let Some(r) = spearman(&fr, &ex) {
                rhos_excess.push(r);
            }
        }
        eprintln!("{}: done", path.display());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let rho = mean(&rhos);
    // 95 % bootstrap intervals over the cases.
    let mut boot = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut auc_b, mut rho_b, mut rho_xb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2000 {
        use rand::Rng;
        let (mut w, mut p) = (0.0, 0usize);
        for _ in 0..per_case.len() {
            let (cw, cp) = per_case[boot.random_range(0..per_case.len())];
            w += cw;
            p += cp;
        }
        auc_b.push(100.0 * w / p.max(1) as f64);
        // One resample's mean of a list of per-case correlations (none when it is empty).
        let mut resampled = |v: &[f64]| {
            (!v.is_empty()).then(|| {
                (0..v.len())
                    .map(|_| v[boot.random_range(0..v.len())])
                    .sum::<f64>()
                    / v.len() as f64
            })
        };
        rho_b.extend(resampled(&rhos));
        rho_xb.extend(resampled(&rhos_excess));
    }
    let ci = |v: &mut Vec<f64>| -> (f64, f64) {
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        (
            v[v.len() * 25 / 1000],
            v[(v.len() * 975 / 1000).min(v.len() - 1)],
        )
    };
    let (auc_lo, auc_hi) = ci(&mut auc_b);
    let (rho_lo, rho_hi) = ci(&mut rho_b);
    let (rx_lo, rx_hi) = ci(&mut rho_xb);
    let rho_x = mean(&rhos_excess);
    println!(
        "cases {n_real}, fills {n_fake}: realism real {:.3}, fills {:.3}; real > fill in {:.1} % \
         of {pairs} pairs [95 % CI {auc_lo:.1}–{auc_hi:.1}]; mean Spearman(realism, PSNR in hole) \
         {rho:.3} [{rho_lo:.3}–{rho_hi:.3}] over {} cases; mean spectral excess of the fills \
         {:.4}, mean Spearman(realism, spectral excess) {rho_x:.3} [{rx_lo:.3}–{rx_hi:.3}] over \
         {} cases",
        real_sum / n_real.max(1) as f64,
        fake_sum / n_fake.max(1) as f64,
        100.0 * wins / pairs.max(1) as f64,
        rhos.len(),
        excess_sum / n_excess.max(1) as f64,
        rhos_excess.len()
    );
    Ok(())
}
