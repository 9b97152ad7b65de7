//! Stage 1: one optimisation step of the partial-conv prior (docs/network.md §2.4).
//!
//! The loss is
//! `6·L1_hole + L1_valid + 0.05·(Perc(out,gt) + Perc(comp,gt)) + 120·Style(out,gt) + 0.1·TV(comp)`
//! with VGG relu1_1…relu5_1 for the perceptual term and relu2_2, relu3_3, relu4_3 for the style
//! term; Adam with lr 1e-3 and betas (0, 0.999).

use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::error::{Error, Result};
use crate::model::prior::PriorNet;
use crate::model::tensor_from_vec;
use crate::model::vgg::{Vgg, VggLayer};
use crate::model::walk::to_plain;
use crate::train::adam::{Adam, AdamSettings};
use crate::train::losses::{
    Stage1Terms, Stage1Weights, TvRows, composite, masked_l1, perceptual, style, tv,
};
use crate::train::{lifted, plain};

/// Stage-1 optimisation settings; the defaults are the authors'.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage1Config {
    /// Adam learning rate.
    pub lr: f64,
    /// Adam β1.
    pub beta1: f32,
    /// Adam β2.
    pub beta2: f32,
    /// Adam ε (PyTorch's 1e-8).
    pub eps: f32,
    /// Loss weights.
    pub weights: Stage1Weights,
    /// TV row term.
    pub tv_rows: TvRows,
    /// How a new prior's partial-convolution mask kernels start (kept frozen).
    #[serde(default)]
    pub mask_conv: MaskConvInit,
}

/// The frozen mask kernels of a freshly initialised prior (docs/network.md §2.1, §9 #9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MaskConvInit {
    /// The authors' code: N(0, 0.02) like every conv (their `init_weights` overwrites the
    /// constructor's ones), so the renormaliser is a random weighted window sum that can come
    /// arbitrarily close to zero at hole edges.
    #[default]
    Code,
    /// The paper's partial convolution: ones, so the output is divided by the number of valid
    /// inputs under the window.
    Ones,
}

impl Default for Stage1Config {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.0,
            beta2: 0.999,
            eps: 1e-8,
            weights: Stage1Weights::default(),
            tv_rows: TvRows::Fixed,
            mask_conv: MaskConvInit::Code,
        }
    }
}

/// The loss values of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage1Losses {
    /// Weighted total.
    pub total: f32,
    /// L1 on holes.
    pub hole: f32,
    /// L1 on known pixels.
    pub valid: f32,
    /// Perceptual (output + composite).
    pub perceptual: f32,
    /// Style.
    pub style: f32,
    /// TV of the composite.
    pub tv: f32,
}

impl Stage1Losses {
    /// Whether every value is finite.
    pub fn is_finite(&self) -> bool {
        [
            self.total,
            self.hole,
            self.valid,
            self.perceptual,
            self.style,
            self.tv,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}

const PERC: [VggLayer; 5] = [
    VggLayer::Relu1_1,
    VggLayer::Relu2_1,
    VggLayer::Relu3_1,
    VggLayer::Relu4_1,
    VggLayer::Relu5_1,
];
const STYLE: [VggLayer; 3] = [VggLayer::Relu2_2, VggLayer::Relu3_3, VggLayer::Relu4_3];

/// Trains the prior one batch at a time.
pub struct Stage1Trainer {
    prior: Option<PriorNet>,
    optim: Adam,
    vgg: Vgg,
    /// `vgg` off the autodiff device, for the targets' features (no gradient; the inference
    /// kernels).
    vgg_plain: Vgg,
    cfg: Stage1Config,
    device: Device,
}

impl std::fmt::Debug for Stage1Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage1Trainer")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Stage1Trainer {
    /// A trainer for `prior` (built on an autodiff device) with the frozen feature network `vgg`.
    pub fn new(prior: PriorNet, vgg: Vgg, cfg: Stage1Config, device: &Device) -> Self {
        let optim = Adam::new(AdamSettings {
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
        });
        Self {
            prior: Some(prior),
            optim,
            vgg_plain: to_plain(vgg.clone()),
            vgg,
            cfg,
            device: device.clone(),
        }
    }

    /// The prior being trained.
    pub fn prior(&self) -> Option<&PriorNet> {
        self.prior.as_ref()
    }

    /// The optimiser (for checkpoints).
    pub fn optimizer(&self) -> &Adam {
        &self.optim
    }

    /// Replaces the prior and the optimiser state (resume, or restore after failures).
    pub fn restore(&mut self, prior: PriorNet, optim: Adam) {
        self.prior = Some(prior);
        self.optim = optim;
    }

    /// The settings.
    pub fn config(&self) -> &Stage1Config {
        &self.cfg
    }

    /// The unweighted loss terms for a batch (with gradients attached on an autodiff device).
    pub fn terms(&self, prior: &PriorNet, batch: &Batch) -> Stage1Terms {
        let (b, r) = (batch.size, batch.res);
        let gt = tensor_from_vec(batch.images.clone(), [b, 3, r, r], &self.device);
        let hole = tensor_from_vec(batch.holes.clone(), [b, 1, r, r], &self.device);
        let known3 = (hole.clone().neg() + 1.0).repeat_dim(1, 3);
        let out = prior.forward(gt.clone() * known3.clone(), known3);
        let (hole_l1, valid_l1) = masked_l1(out.clone(), gt.clone(), hole.clone());
        let comp = composite(out.clone(), gt.clone(), hole.clone());
        let taps: Vec<VggLayer> = PERC.iter().chain(STYLE.iter()).copied().collect();
        let ad = gt.is_autodiff();
        let f_gt: Vec<Tensor<4>> = (self.vgg_plain.features(plain(gt), &taps).into_iter())
            .map(|t| lifted(t, ad))
            .collect();
        let f_out = self.vgg.features(out, &taps);
        let f_comp = self.vgg.features(comp.clone(), &PERC);
        let n = PERC.len();
        let perc = perceptual(&f_out[..n], &f_gt[..n]) + perceptual(&f_comp, &f_gt[..n]);
        Stage1Terms {
            hole: hole_l1,
            valid: valid_l1,
            perceptual: perc,
            style: style(&f_out[n..], &f_gt[n..]),
            tv: tv(comp, hole, self.cfg.tv_rows),
        }
    }

    /// One optimisation step on `batch` at learning rate `cfg.lr · lr_factor`. A step whose
    /// loss is not finite is skipped (the model is left unchanged) and reported as an
    /// [`Error::NonFinite`].
    pub fn step(&mut self, batch: &Batch, lr_factor: f64) -> Result<Stage1Losses> {
        crate::train::on_pool(|| self.step_here(batch, lr_factor))
    }

    /// [`Self::step`] on the calling thread.
    fn step_here(&mut self, batch: &Batch, lr_factor: f64) -> Result<Stage1Losses> {
        let prior = self
            .prior
            .take()
            .ok_or_else(|| Error::Input("the trainer lost its model in a failed step".into()))?;
        let terms = self.terms(&prior, batch);
        let total = terms.total(&self.cfg.weights);
        let losses = Stage1Losses {
            total: crate::train::scalar(total.clone())?,
            hole: crate::train::scalar(terms.hole)?,
            valid: crate::train::scalar(terms.valid)?,
            perceptual: crate::train::scalar(terms.perceptual)?,
            style: crate::train::scalar(terms.style)?,
            tv: crate::train::scalar(terms.tv)?,
        };
        if !losses.is_finite() {
            self.prior = Some(prior);
            return Err(Error::NonFinite(format!("{losses:?}")));
        }
        let grads = GradientsParams::from_grads(total.backward(), &prior);
        self.prior = Some(self.optim.step(self.cfg.lr * lr_factor, prior, grads));
        Ok(losses)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::{Batcher, CropSampler, ImageFolder};
    use crate::masks::MaskKind;
    use crate::model::params::ParamSource;
    use crate::model::vgg::{VggConfig, VggKind};

    #[test]
    fn a_few_steps_on_one_batch_lower_the_loss() {
        let t = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_fn(160, 120, |x, y| {
            image::Rgb([
                (x * 255 / 160) as u8,
                (y * 255 / 120) as u8,
                ((x / 20 + y / 20) % 2 * 200) as u8,
            ])
        });
        img.save(t.path().join("a.png")).unwrap();
        let folder = ImageFolder::load(t.path()).unwrap();
        let batch = Batcher::new(3, CropSampler::new(64), MaskKind::Boxes, 2).next_batch(&folder);
        let dev = Device::flex().autodiff();
        let cfg = crate::model::Preset::Tiny.config();
        let prior =
            PriorNet::from_sources_single(&mut ParamSource::random(1, &dev), &cfg.prior).unwrap();
        let vgg = Vgg::random(
            VggConfig {
                kind: VggKind::Vgg16,
                width_div: 16,
            },
            2,
            &dev,
        )
        .unwrap();
        let mut tr = Stage1Trainer::new(prior, vgg, Stage1Config::default(), &dev);
        let first = tr.step(&batch, 1.0).unwrap();
        let mut last = first;
        for _ in 0..4 {
            last = tr.step(&batch, 1.0).unwrap();
            assert!(last.is_finite());
        }
        eprintln!("stage 1: total {:.4} -> {:.4}", first.total, last.total);
        assert!(last.total < first.total, "{first:?} -> {last:?}");
    }
}
