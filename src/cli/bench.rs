//! `pdpaint bench`: median timings of the prior, the generator (per sample) and the hard map.
//!
//! "G ms/sample (full)" runs the whole generator for one z (what the authors' code does per
//! sample); "G ms/extra sample" reuses the prior-only conditioning, as `inpaint` does for every
//! sample after the first.
//!
//! Models are randomly initialised (timings do not depend on the weights). Each measurement
//! runs once to warm up (shader compilation on wgpu), then `--repeats` times; the median is
//! reported. Results are read back to the host inside the timed region, so GPU work is
//! included.

use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use serde::Serialize;

use pdpaint::maps::{Decay, hard_map_cpu, hard_map_fast};
use pdpaint::model::{PdGan, Preset, tensor_from_vec, tensor_to_vec};

use super::{BackendArgs, select_backend};

/// Arguments of `pdpaint bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Presets to time (default: official and small).
    #[arg(long, value_enum, num_args = 1.., default_values_t = [Preset::Official, Preset::Small])]
    pub presets: Vec<Preset>,
    /// Samples per generator call (batch); time is reported per sample.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Timed repetitions (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Side of the square mask for the hard-map timing.
    #[arg(long, default_value_t = 4096)]
    pub map_size: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Time the full-resolution detail stage instead (12 Mpx and 24 Mpx photos, the embedded
    /// model).
    #[arg(long, conflicts_with = "train")]
    pub detail: bool,
    /// A photo to resize for --detail (default: a procedural texture).
    #[arg(long, requires = "detail")]
    pub detail_photo: Option<std::path::PathBuf>,
    /// Time training steps per second of both stages instead (small preset unless --presets).
    #[arg(long)]
    pub train: bool,
    /// Time single layers at the official generator's sizes instead: Burn's flex op against
    /// the host kernel that replaces it at inference (wall and process CPU ms).
    #[arg(long, conflicts_with_all = ["train", "detail"])]
    pub ops: bool,
    /// Training resolutions for --train.
    #[arg(long, num_args = 1.., default_values_t = [128usize, 256])]
    pub train_res: Vec<usize>,
    /// Batch size for --train.
    #[arg(long, default_value_t = 4)]
    pub train_batch: usize,
    /// Width divisor of the random VGG-16 used by the losses in --train.
    #[arg(long, default_value_t = 4)]
    pub vgg_width_div: usize,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Serialize)]
struct PresetTiming {
    preset: String,
    resolution: usize,
    generator_params: usize,
    prior_ms: f64,
    generator_ms_per_sample: f64,
    generator_ms_per_extra_sample: f64,
    /// Prior, conditioning and 8 samples in two batches of 4 (what `inpaint` runs for 8
    /// samples of one photo): `small` only, the default model's preset.
    eight_samples_ms: Option<f64>,
    batch: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    backend: String,
    /// Worker threads of the CPU backend (rayon's global pool; `RAYON_NUM_THREADS`).
    threads: usize,
    repeats: usize,
    presets: Vec<PresetTiming>,
    hard_map_size: usize,
    hard_map_fast_ms: f64,
    hard_map_reference_ms: Option<f64>,
    hard_map_speedup: Option<f64>,
}

/// The median of the timings (defined with the training benchmark, which must not depend on
/// this module).
pub(super) use super::bench_train::median;

fn time_it(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?; // warm-up
    let mut v = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(v))
}

/// Wall and process CPU time of one measurement (medians).
#[derive(Debug, Serialize)]
struct Times {
    wall_ms: f64,
    cpu_ms: f64,
}

/// One layer timed on Burn's op and on the host kernel.
#[derive(Debug, Serialize)]
struct OpTiming {
    op: String,
    gflop: f64,
    burn: Times,
    host: Times,
}

/// CPU time of this process (all threads) in ms, from `/proc/self/stat` (clock ticks of
/// 10 ms; `None` off Linux).
fn process_cpu_ms() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

fn time_both(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<Times> {
    f()?; // warm-up
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let (t, c) = (Instant::now(), process_cpu_ms());
        f()?;
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        if let (Some(c0), Some(c1)) = (c, process_cpu_ms()) {
            cpu.push(c1 - c0);
        }
    }
    Ok(Times {
        wall_ms: median(wall),
        cpu_ms: median(cpu),
    })
}

/// Layers of the official generator: Burn's flex op against the host kernel.
fn time_ops(dev: &Device, repeats: usize) -> Result<Vec<OpTiming>> {
    use burn::tensor::Distribution::Normal;
    use burn::tensor::module::{conv_transpose2d, conv2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
    use pdpaint::model::layers::cpu::{HostConv, HostConvT, Planes, plain, spd_norm_pair};
    use pdpaint::model::layers::positional_norm;

    let mut out = Vec::new();
    let rnd = |shape: [usize; 4]| Tensor::<4>::random(shape, Normal(0.0, 1.0), dev);
    // conv 3×3 (cin, cout, side): attention x-half at units 5 and 2, conv_0 at unit 4, an
    // SPDNorm γβ pair at unit 5.
    for (cin, cout, side) in [
        (128, 128, 128),
        (1024, 1024, 16),
        (256, 128, 64),
        (128, 256, 128),
    ] {
        let x = rnd([1, cin, side, side]);
        let w = rnd([cout, cin, 3, 3]);
        let b: Tensor<1> = Tensor::zeros([cout], dev);
        let opts = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let burn = time_both(repeats, || {
            tensor_to_vec(conv2d(x.clone(), w.clone(), Some(b.clone()), opts.clone()))?;
            Ok(())
        })?;
        let conv = HostConv::new(w.clone(), Some(b.clone()), 1, 1)?;
        let xs = Planes::from_tensor(x.clone())?;
        let host = time_both(repeats, || {
            conv.forward(&xs, plain)?;
            Ok(())
        })?;
        out.push(OpTiming {
            op: format!("conv3x3 {cin}->{cout} @{side}²"),
            gflop: 2.0 * (cin * cout * 9 * side * side) as f64 / 1e9,
            burn,
            host,
        });
    }
    // The units' upsampling (transposed 4×4 stride 2).
    for (c, side) in [(64, 128), (1024, 8)] {
        let x = rnd([1, c, side, side]);
        let w = rnd([c, c, 4, 4]);
        let b: Tensor<1> = Tensor::zeros([c], dev);
        let opts = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
        let burn = time_both(repeats, || {
            tensor_to_vec(conv_transpose2d(
                x.clone(),
                w.clone(),
                Some(b.clone()),
                opts.clone(),
            ))?;
            Ok(())
        })?;
        let ct = pdpaint::model::layers::up_conv_t(
            burn::module::Param::from_tensor(w.clone()),
            Some(burn::module::Param::from_tensor(b.clone())),
        );
        let hct = HostConvT::from_conv_t(&ct)?;
        let xs = Planes::from_tensor(x.clone())?;
        let host = time_both(repeats, || {
            hct.forward(xs.clone())?;
            Ok(())
        })?;
        out.push(OpTiming {
            op: format!("convT4x4s2 {c}->{c} @{side}²"),
            gflop: 2.0 * (c * c * 16 * side * side) as f64 / 1e9,
            burn,
            host,
        });
    }
    // Both SPDNorms of a block input (unit 5): positional norm + modulation.
    let (c, side) = (128, 128);
    let [x, soft, gs, bs, t0, w0] = [0; 6].map(|_| rnd([1, c, side, side]));
    let burn = time_both(repeats, || {
        let xn = positional_norm(x.clone());
        let norms =
            xn.clone() + xn.clone() * (soft.clone() * gs.clone()) + soft.clone() * bs.clone();
        let n0 =
            burn::tensor::activation::leaky_relu(xn.clone() + xn * t0.clone() + w0.clone(), 0.2);
        tensor_to_vec(norms)?;
        tensor_to_vec(n0)?;
        Ok(())
    })?;
    let p = |t: &Tensor<4>| Planes::from_tensor(t.clone());
    let (xs, ss, gss, bss, t0s, w0s) = (p(&x)?, p(&soft)?, p(&gs)?, p(&bs)?, p(&t0)?, p(&w0)?);
    let host = time_both(repeats, || {
        std::hint::black_box(spd_norm_pair(&xs, &ss, &gss, &bss, &t0s, &w0s, 1e-5));
        Ok(())
    })?;
    out.push(OpTiming {
        op: format!("two SPDNorms {c} @{side}²"),
        gflop: 0.0,
        burn,
        host,
    });
    Ok(out)
}

/// A centred square hole covering about a quarter of the image, as 1 = known.
fn known_square(r: usize) -> Vec<f32> {
    let (a, b) = (r / 4, 3 * r / 4);
    let mut k = vec![1.0f32; r * r];
    for y in a..b {
        for x in a..b {
            k[y * r + x] = 0.0;
        }
    }
    k
}

/// Runs the benchmark.
pub fn run(a: Args) -> Result<()> {
    let sel = select_backend(&a.backend)?;
    let dev = sel.device.clone();
    if a.detail {
        let cases = super::bench_detail::run(&dev, a.detail_photo.as_deref(), a.repeats.min(3))?;
        if a.json {
            println!(
                "{}",
                serde_json::json!({"backend": sel.description, "detail": cases})
            );
        } else {
            println!(
                "backend: {}  (median of {} samples after one warm-up)",
                sel.description,
                a.repeats.clamp(1, 3)
            );
            println!(
                "{:<11} {:<10} {:>8} {:>9} {:>10} {:>12} {:>9}",
                "photo", "hole", "G ms", "paste ms", "detail ms", "detail / G", "peak MiB"
            );
            for c in &cases {
                println!(
                    "{:<11} {:<10} {:>8.0} {:>9.0} {:>10.0} {:>12.1} {:>9}",
                    format!("{}x{}", c.photo[0], c.photo[1]),
                    format!("{}x{}", c.hole[0], c.hole[1]),
                    c.generator_ms,
                    c.paste_ms,
                    c.detail_ms,
                    c.detail_over_generator,
                    c.peak_rss_mib
                        .map_or_else(|| "n/a".to_string(), |m| format!("{m:.0}"))
                );
            }
        }
        return Ok(());
    }
    if a.ops {
        let ops = time_ops(&dev, a.repeats.max(1))?;
        if a.json {
            println!(
                "{}",
                serde_json::json!({"backend": sel.description, "threads": rayon::current_num_threads(), "ops": ops})
            );
        } else {
            println!(
                "backend: {}, {} threads (median of {}; CPU = process CPU time)",
                sel.description,
                rayon::current_num_threads(),
                a.repeats.max(1)
            );
            println!(
                "{:<34} {:>7} {:>10} {:>10} {:>10} {:>10}",
                "op", "GFLOP", "Burn ms", "Burn CPU", "host ms", "host CPU"
            );
            for o in &ops {
                println!(
                    "{:<34} {:>7.2} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                    o.op, o.gflop, o.burn.wall_ms, o.burn.cpu_ms, o.host.wall_ms, o.host.cpu_ms
                );
            }
        }
        return Ok(());
    }
    if a.train {
        let presets = if a.presets == [Preset::Official, Preset::Small] {
            vec![Preset::Small]
        } else {
            a.presets.clone()
        };
        let t = super::bench_train::run(
            &presets,
            &a.train_res,
            a.train_batch.max(1),
            a.repeats.max(1),
            a.vgg_width_div,
            &dev,
        )?;
        if a.json {
            println!(
                "{}",
                serde_json::json!({"backend": sel.description, "train": t})
            );
        } else {
            println!(
                "backend: {}  (median of {} steps after one warm-up)",
                sel.description,
                a.repeats.max(1)
            );
            println!("{}", serde_json::to_string_pretty(&t)?);
        }
        return Ok(());
    }
    let mut presets = Vec::new();
    for p in &a.presets {
        let cfg = p.config();
        let r = cfg.resolution();
        let b = a.batch.max(1);
        eprintln!(
            "timing preset {} ({} generator parameters)…",
            p.name(),
            cfg.generator.num_params()
        );
        let model = PdGan::random(&cfg, 0, &dev)?;
        let image: Tensor<4> = Tensor::random(
            [b, 3, r, r],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &dev,
        );
        let known1 = known_square(r);
        let known_b: Vec<f32> = (0..b).flat_map(|_| known1.iter().copied()).collect();
        let known = tensor_from_vec(known_b, [b, 1, r, r], &dev);
        let prior_ms = time_it(a.repeats, || {
            let p = model.run_prior(image.clone().narrow(0, 0, 1), known.clone().narrow(0, 0, 1));
            tensor_to_vec(p)?;
            Ok(())
        })?;
        let prior = model.run_prior(image.clone(), known.clone());
        let z: Tensor<2> = Tensor::random(
            [b, cfg.generator.z_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let gen_ms = time_it(a.repeats, || {
            let (out, _) = model.generator.forward(
                z.clone(),
                prior.clone(),
                known.clone(),
                cfg.hard_map.decay(),
                false,
            );
            tensor_to_vec(out)?;
            Ok(())
        })? / b as f64;
        // Further samples of the same photo reuse the z-independent conditioning.
        let cond = model
            .generator
            .condition(prior.clone(), known.clone(), cfg.hard_map.decay());
        let extra_ms = time_it(a.repeats, || {
            let (out, _) = model.generator.forward_cond(z.clone(), &cond, false);
            tensor_to_vec(out)?;
            Ok(())
        })? / b as f64;
        // What `inpaint` runs for 8 samples of one photo with its default batch of 4.
        let eight_samples_ms = if *p == Preset::Small {
            let z4: Tensor<2> = Tensor::random(
                [4, cfg.generator.z_dim],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &dev,
            );
            let image1 = image.clone().narrow(0, 0, 1);
            let known1 = known.clone().narrow(0, 0, 1);
            Some(time_it(a.repeats, || {
                let prior = model.run_prior(image1.clone(), known1.clone());
                let cond = model
                    .generator
                    .condition(prior, known1.clone(), cfg.hard_map.decay());
                for _ in 0..2 {
                    let (out, _) = model.generator.forward_cond(z4.clone(), &cond, false);
                    tensor_to_vec(out)?;
                }
                Ok(())
            })?)
        } else {
            None
        };
        presets.push(PresetTiming {
            preset: p.name().into(),
            resolution: r,
            generator_params: cfg.generator.num_params(),
            prior_ms,
            generator_ms_per_sample: gen_ms,
            generator_ms_per_extra_sample: extra_ms,
            eight_samples_ms,
            batch: b,
        });
    }
    let s = a.map_size;
    let known = known_square(s);
    let fast_ms = time_it(a.repeats, || {
        std::hint::black_box(hard_map_fast(&known, s, s, 7, 5, Decay::Exp));
        Ok(())
    })?;
    // The obvious reference is O(N·ks²) per pixel; time it on the same mask only when small
    // enough to finish quickly, for the speed-up ratio.
    let (reference_ms, speedup) = if s <= 4096 {
        let r = time_it(1, || {
            std::hint::black_box(hard_map_cpu(&known, s, s, 7, 5, Decay::Exp));
            Ok(())
        })?;
        (Some(r), Some(r / fast_ms))
    } else {
        (None, None)
    };
    let report = Report {
        backend: sel.description.clone(),
        threads: rayon::current_num_threads(),
        repeats: a.repeats,
        presets,
        hard_map_size: s,
        hard_map_fast_ms: fast_ms,
        hard_map_reference_ms: reference_ms,
        hard_map_speedup: speedup,
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "backend: {}  (median of {} runs)",
            report.backend, report.repeats
        );
        println!(
            "{:<10} {:>6} {:>13} {:>10} {:>20} {:>20}",
            "preset", "res", "G params", "prior ms", "G ms/sample (full)", "G ms/extra sample"
        );
        for p in &report.presets {
            println!(
                "{:<10} {:>6} {:>13} {:>10.1} {:>20.1} {:>20.1}",
                p.preset,
                p.resolution,
                p.generator_params,
                p.prior_ms,
                p.generator_ms_per_sample,
                p.generator_ms_per_extra_sample
            );
        }
        for p in &report.presets {
            if let Some(ms) = p.eight_samples_ms {
                println!(
                    "{}: prior + conditioning + 8 samples (2 batches of 4, as inpaint): {ms:.1} ms",
                    p.preset
                );
            }
        }
        print!(
            "hard map {s}x{s} (N=7, ks=5): {:.1} ms",
            report.hard_map_fast_ms
        );
        if let (Some(r), Some(x)) = (report.hard_map_reference_ms, report.hard_map_speedup) {
            print!("  (reference {r:.1} ms, {x:.1}x faster)");
        }
        println!();
    }
    Ok(())
}
