//! `pdpaint bench --train`: training steps per second of each stage.
//!
//! The `small` preset (or the ones asked for), batch 4 by default, at 128² and 256², on the
//! chosen backend with autodiff. The loss network is a seeded random VGG-16 narrowed by
//! `--vgg-width-div` (default 4; 1 = torchvision widths). Crops come from synthetic photos, so
//! no data is needed. Median of the timed steps after one warm-up step.

use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use serde::Serialize;

use pdpaint::data::{Batcher, CropSampler, ImageFolder};
use pdpaint::maps::Decay;
use pdpaint::masks::MaskKind;
use pdpaint::model::Preset;
use pdpaint::model::config::GeneratorConfig;
use pdpaint::model::discriminator::Discriminator;
use pdpaint::model::generator::Generator;
use pdpaint::model::params::ParamSource;
use pdpaint::model::prior::PriorNet;
use pdpaint::model::vgg::{Vgg, VggConfig, VggKind};
use pdpaint::train::stage1::{Stage1Config, Stage1Trainer};
use pdpaint::train::stage2::{Stage2Config, Stage2Trainer};

/// One measured configuration.
#[derive(Debug, Serialize)]
pub struct TrainTiming {
    preset: String,
    resolution: usize,
    batch: usize,
    vgg_width_div: usize,
    stage1_steps_per_s: f64,
    stage2_steps_per_s: f64,
}

/// The median (mean of the middle two for an even count; NaN when empty). Shared by the
/// `bench` modes (`bench` and `bench_detail` use it from here).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn synthetic_folder() -> Result<(tempfile_dir::Dir, ImageFolder)> {
    let dir = tempfile_dir::Dir::new()?;
    for i in 0..3u32 {
        let img = image::RgbImage::from_fn(384, 320, |x, y| {
            image::Rgb([
                ((x * (i + 1)) % 256) as u8,
                ((y * 3 + x) % 256) as u8,
                ((x / 16 + y / 16) % 2 * 200) as u8,
            ])
        });
        img.save(dir.path().join(format!("p{i}.png")))?;
    }
    let f = ImageFolder::load(dir.path())?;
    Ok((dir, f))
}

/// Times both stages for each preset and resolution.
pub fn run(
    presets: &[Preset],
    resolutions: &[usize],
    batch: usize,
    steps: usize,
    vgg_width_div: usize,
    device: &Device,
) -> Result<Vec<TrainTiming>> {
    let dev = device.clone().autodiff();
    let (_dir, folder) = synthetic_folder()?;
    let mut out = Vec::new();
    for p in presets {
        for &res in resolutions {
            let mut cfg = p.config();
            cfg.generator = GeneratorConfig {
                latent: (res / 64).max(1),
                ..cfg.generator
            };
            let res = cfg.resolution();
            eprintln!("timing training of {} at {res}² (batch {batch})…", p.name());
            let vgg = Vgg::random(
                VggConfig {
                    kind: VggKind::Vgg16,
                    width_div: vgg_width_div,
                },
                1,
                &dev,
            )?;
            let mut batcher = Batcher::new(0, CropSampler::new(res as u32), MaskKind::Mixed, batch);
            let mut src = ParamSource::random(0, &dev);
            let prior = PriorNet::from_sources_single(&mut src, &cfg.prior)?;
            let mut t1 = Stage1Trainer::new(prior, vgg.clone(), Stage1Config::default(), &dev);
            let mut s1 = Vec::new();
            for i in 0..=steps {
                let b = batcher.next_batch(&folder);
                let t = Instant::now();
                t1.step(&b, 1.0)?;
                if i > 0 {
                    s1.push(t.elapsed().as_secs_f64());
                }
            }
            let prior = PriorNet::from_sources_single(&mut src, &cfg.prior)?;
            let g = Generator::from_source(&mut src, &cfg.generator)?;
            let d = Discriminator::from_source(&mut src, &cfg.discriminator)?;
            let mut t2 =
                Stage2Trainer::new(prior, g, d, vgg, Stage2Config::default(), Decay::Exp, &dev);
            let mut s2 = Vec::new();
            for i in 0..=steps {
                let b = batcher.next_batch(&folder);
                let seeds: Vec<u64> = (0..2 * batch as u64).map(|k| 1000 * i as u64 + k).collect();
                let t = Instant::now();
                t2.step(&b, &seeds, 1.0)?;
                if i > 0 {
                    s2.push(t.elapsed().as_secs_f64());
                }
            }
            out.push(TrainTiming {
                preset: p.name().into(),
                resolution: res,
                batch,
                vgg_width_div,
                stage1_steps_per_s: 1.0 / median(s1),
                stage2_steps_per_s: 1.0 / median(s2),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }
}

/// A temporary folder removed on drop (no dev-dependency in the binary).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    /// The folder.
    pub struct Dir(PathBuf);

    impl Dir {
        /// Creates a fresh folder under the system temp dir.
        pub fn new() -> std::io::Result<Self> {
            let p = std::env::temp_dir().join(format!("pdpaint-bench-{}", std::process::id()));
            std::fs::create_dir_all(&p)?;
            Ok(Self(p))
        }

        /// Its path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
