//! An exponential moving average (EMA) of the generator's weights, kept beside the trained
//! generator: `ema ← d·ema + (1 − d)·g` after every generator step.
//!
//! Not part of the authors' code (they use the raw weights); it is off unless a run asks for it
//! (`TrainConfig::ema_decay`, `pdpaint train --ema`). Averaging the iterates of a GAN generator
//! smooths out the step-to-step oscillation of adversarial training (Yazıcı et al., "The Unusual
//! Effectiveness of Averaging in GAN Training", ICLR 2019); the network itself is unchanged.
//!
//! Every trainable float parameter is averaged. Parameters without a gradient — the
//! spectral-norm power-iteration vectors `weight_u`, `weight_v` — are state, not weights: they
//! are copied from the trained generator, and [`GeneratorEma::export`] refreshes them with
//! power iterations on the averaged weights so that `σ = uᵀWv` is the averaged weight's own
//! spectral norm.
//!
//! The average lives on the non-autodiff device and is keyed by parameter path (like
//! [`crate::train::adam`]), so a copy loaded from a checkpoint re-attaches exactly.

use std::collections::BTreeMap;

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::model::generator::Generator;
use crate::model::walk::{flat_params, replace_params};
use crate::train::stage2::power_iterate_generator;

/// Power iterations [`GeneratorEma::export`] runs on the averaged weights.
pub const EXPORT_POWER_ITERATIONS: usize = 10;

/// The averaged generator.
#[derive(Debug, Clone)]
pub struct GeneratorEma {
    decay: f64,
    model: Generator,
}

impl GeneratorEma {
    /// Starts the average at the weights of `g` (a training, autodiff-device generator).
    ///
    /// # Errors
    /// A decay outside `[0, 1)`.
    pub fn start(decay: f64, g: &Generator) -> Result<Self> {
        check_decay(decay)?;
        Ok(Self {
            decay,
            model: g.valid(),
        })
    }

    /// Continues an average saved earlier (`model` on the non-autodiff device).
    ///
    /// # Errors
    /// A decay outside `[0, 1)`.
    pub fn resume(decay: f64, model: Generator) -> Result<Self> {
        check_decay(decay)?;
        Ok(Self { decay, model })
    }

    /// The decay `d`.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// The averaged generator as it is (the spectral-norm vectors are the trained generator's).
    pub fn model(&self) -> &Generator {
        &self.model
    }

    /// Folds the weights of `g` (after a generator step) into the average.
    pub fn update(&mut self, g: &Generator) {
        let mut live: BTreeMap<String, (Tensor<1>, bool)> = flat_params(g)
            .into_iter()
            .map(|p| (p.path, (p.values.inner(), p.trained)))
            .collect();
        let d = self.decay;
        // Same architecture on both sides, so every path is found.
        self.model = replace_params(self.model.clone(), |path, _, avg| {
            let (x, trained) = live.remove(path)?;
            Some(if trained { avg * d + x * (1.0 - d) } else { x })
        });
    }

    /// The averaged generator for use and for saving: its spectral-norm vectors refreshed by
    /// [`EXPORT_POWER_ITERATIONS`] power iterations on the averaged weights.
    pub fn export(&self) -> Generator {
        refresh_spectral_norm(self.model.clone())
    }
}

/// Runs [`EXPORT_POWER_ITERATIONS`] power iterations on every spectral-normalised conv of `g`,
/// so that its stored `u`, `v` belong to its own weights (for an averaged generator, whose
/// vectors were copied from the trained one).
pub fn refresh_spectral_norm(mut g: Generator) -> Generator {
    for _ in 0..EXPORT_POWER_ITERATIONS {
        g = power_iterate_generator(g);
    }
    g
}

/// What a model's `source` says of a generator that is a moving average: decay and starting
/// step when known.
pub fn source_note(decay: Option<f64>, since: Option<u64>) -> String {
    match (decay, since) {
        (Some(d), Some(n)) => format!(
            ", generator = moving average of its weights (decay {d}, since stage-2 step {n})"
        ),
        _ => ", generator = moving average of its weights".to_string(),
    }
}

fn check_decay(decay: f64) -> Result<()> {
    if (0.0..1.0).contains(&decay) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "the EMA decay must be in [0, 1), got {decay}"
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Preset;
    use crate::model::params::ParamSource;
    use crate::model::tensor_to_vec;

    fn generator(seed: u64, dev: &Device) -> Generator {
        let cfg = Preset::Tiny.config();
        Generator::from_source(&mut ParamSource::random(seed, dev), &cfg.generator).unwrap()
    }

    fn values(g: &Generator) -> BTreeMap<String, Vec<f32>> {
        flat_params(g)
            .into_iter()
            .map(|p| (p.path, tensor_to_vec(p.values).unwrap()))
            .collect()
    }

    #[test]
    fn update_blends_weights_and_copies_spectral_norm_vectors() {
        let dev = Device::flex().autodiff();
        let a = generator(1, &dev);
        let b = generator(2, &dev);
        let mut ema = GeneratorEma::start(0.75, &a).unwrap();
        assert_eq!(values(ema.model()), values(&a.valid()));
        ema.update(&b);
        let (va, vb, ve) = (values(&a), values(&b), values(ema.model()));
        assert_eq!(va.len(), ve.len());
        let mut blended = 0;
        let mut copied = 0;
        for (k, e) in &ve {
            let (x, y) = (&va[k], &vb[k]);
            if k.ends_with("weight_u") || k.ends_with("weight_v") {
                assert_eq!(e, y, "{k} must be copied from the trained generator");
                copied += 1;
            } else {
                for i in 0..e.len() {
                    let want = 0.75 * x[i] + 0.25 * y[i];
                    assert!((e[i] - want).abs() <= 1e-6 * (1.0 + want.abs()), "{k}[{i}]");
                }
                blended += 1;
            }
        }
        assert!(
            blended > 10 && copied > 10,
            "{blended} blended, {copied} copied"
        );
        // Decay 0 follows the trained weights exactly.
        let mut follow = GeneratorEma::start(0.0, &a).unwrap();
        follow.update(&b);
        assert_eq!(values(follow.model()), values(&b.valid()));
    }

    #[test]
    fn export_refreshes_sigma_for_the_averaged_weights() {
        let dev = Device::flex().autodiff();
        let a = generator(3, &dev);
        let ema = GeneratorEma::start(0.9, &a).unwrap();
        let out = ema.export();
        let before = values(ema.model());
        let after = values(&out);
        let key = before
            .keys()
            .find(|k| k.ends_with("conv_0.weight_orig"))
            .unwrap()
            .clone();
        assert_eq!(before[&key], after[&key], "weights are not touched");
        let u = key.replace("weight_orig", "weight_u");
        assert_ne!(before[&u], after[&u], "u is refreshed");
    }

    #[test]
    fn decay_outside_zero_one_is_refused() {
        let dev = Device::flex().autodiff();
        let a = generator(4, &dev);
        for bad in [1.0, -0.1, f64::NAN] {
            let e = GeneratorEma::start(bad, &a).unwrap_err().to_string();
            assert!(e.contains("EMA decay"), "{e}");
        }
    }
}
