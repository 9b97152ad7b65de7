//! Stage 2: one PD-GAN step — a discriminator step, then a generator step (docs/network.md
//! §4.2–4.3, §5).
//!
//! The prior is frozen (its output is detached). Each image gets two noise vectors z_A, z_B;
//! the generator runs on both at once. Spectral norm runs in training mode: one power
//! iteration per step updates every u, v of G and D before the forward passes, as PyTorch's
//! `spectral_norm` does. Adam with betas (0, 0.9), G lr 5e-4, D lr 2e-3 (TTUR).

use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::error::{Error, Result};
use crate::inference::z_for_seed;
use crate::maps::Decay;
use crate::model::PriorSource;
use crate::model::discriminator::Discriminator;
use crate::model::generator::Generator;
use crate::model::prior::PriorNet;
use crate::model::tensor_from_vec;
use crate::model::vgg::{Vgg, VggLayer};
use crate::model::walk::to_plain;
use crate::train::adam::{Adam, AdamSettings};
use crate::train::losses::{
    DIVERSITY_BLUR_SIGMA, DiversityLayers, Stage2Weights, TvRows, UNIT_LAYERS, chroma_hf_l1,
    composite, diversity, diversity_paper, feature_matching, gaussian_blur, hinge_d_cells,
    hinge_g_cells, hole_weights, lowpass_l1, perceptual, spectrum_excess, tv, unit_perceptual,
};
use crate::train::{lifted, plain};

/// Stage-2 optimisation settings; the defaults are the authors'.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage2Config {
    /// Generator learning rate (the authors' lr/2).
    pub lr_g: f64,
    /// Discriminator learning rate (the authors' 2·lr).
    pub lr_d: f64,
    /// Adam β1.
    pub beta1: f32,
    /// Adam β2.
    pub beta2: f32,
    /// Adam ε (PyTorch's 1e-8).
    pub eps: f32,
    /// Loss weights.
    pub weights: Stage2Weights,
    /// TV row term.
    pub tv_rows: TvRows,
    /// Train only the discriminator, against the frozen generator: a realism critic for a
    /// model that has none (not in the authors' code). The generator's weights, including its
    /// spectral-norm vectors, do not change.
    #[serde(default)]
    pub critic_only: bool,
    /// The features the diversity loss compares: the authors' code's (relu4_1) or the
    /// paper's (relu1_1 … relu5_1).
    #[serde(default)]
    pub diversity_layers: DiversityLayers,
    /// Score the critic only where the fill is: its hinge losses (the discriminator's and the
    /// generator's) weight each prediction cell by its share of the hole
    /// ([`crate::train::losses::hinge_d_cells`] with
    /// [`crate::train::losses::hole_weights`]). Not in the authors' code; feature matching
    /// is unchanged.
    #[serde(default)]
    pub critic_hole: bool,
    /// Discriminator updates per step (the authors': 1). With K > 1 each step first makes
    /// K − 1 updates of the discriminator alone, each on a batch of its own against the current
    /// generator's fills, then the usual joint step: a critic kept ahead of the generator
    /// (Gulrajani et al.'s n_critic). Not in the authors' code.
    #[serde(default = "one")]
    pub critic_steps: u32,
}

/// The most discriminator updates per step [`Stage2Config::critic_steps`] may ask for.
pub const MAX_CRITIC_STEPS: u32 = 20;

/// The default of [`Stage2Config::critic_steps`] in run files written before it existed.
fn one() -> u32 {
    1
}

impl Default for Stage2Config {
    fn default() -> Self {
        Self {
            lr_g: 5e-4,
            lr_d: 2e-3,
            beta1: 0.0,
            beta2: 0.9,
            eps: 1e-8,
            weights: Stage2Weights::default(),
            tv_rows: TvRows::Fixed,
            critic_only: false,
            diversity_layers: DiversityLayers::Code,
            critic_hole: false,
            critic_steps: 1,
        }
    }
}

/// The loss values of one step (summed over the two samples per image, as the authors do).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage2Losses {
    /// Discriminator hinge loss.
    pub d: f32,
    /// Generator total.
    pub g_total: f32,
    /// Generator hinge loss.
    pub g_adv: f32,
    /// Feature matching (weighted by λ/num_D).
    pub g_feat: f32,
    /// Perceptual (unweighted).
    pub g_perceptual: f32,
    /// TV of the composites (unweighted).
    pub g_tv: f32,
    /// Diversity loss `1/(d + ε)`.
    pub g_diversity: f32,
    /// Unit-normalised perceptual loss of the composites (unweighted; 0 when its weight is 0,
    /// and then not computed).
    #[serde(default)]
    pub g_unit: f32,
    /// Low-pass L1 of the composites against the truth (unweighted; 0 when its weight is 0,
    /// and then not computed).
    #[serde(default)]
    pub g_lowpass: f32,
    /// Fine-chroma L1 of the composites against the truth (unweighted; 0 when its weight is
    /// 0, and then not computed).
    #[serde(default)]
    pub g_chroma: f32,
    /// Spectrum excess of the composites against the truth (unweighted; 0 when its weight is 0,
    /// and then not computed).
    #[serde(default)]
    pub g_spectrum: f32,
}

impl Stage2Losses {
    /// Whether every value is finite.
    pub fn is_finite(&self) -> bool {
        [
            self.d,
            self.g_total,
            self.g_adv,
            self.g_feat,
            self.g_perceptual,
            self.g_tv,
            self.g_diversity,
            self.g_unit,
            self.g_lowpass,
            self.g_chroma,
            self.g_spectrum,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}

const PERC: [VggLayer; 4] = [
    VggLayer::Relu1_1,
    VggLayer::Relu2_1,
    VggLayer::Relu3_1,
    VggLayer::Relu4_1,
];

/// One training-mode power iteration on every spectral-normalised conv of the generator.
pub fn power_iterate_generator(mut g: Generator) -> Generator {
    for unit in g.generated.iter_mut() {
        let b = &mut unit.block;
        b.conv_0 = b.conv_0.clone().power_iteration().0;
        b.conv_1 = b.conv_1.clone().power_iteration().0;
        b.conv_s = b.conv_s.clone().power_iteration().0;
    }
    g
}

/// One training-mode power iteration on every spectral-normalised conv of the discriminator.
pub fn power_iterate_discriminator(mut d: Discriminator) -> Discriminator {
    for scale in d.scales.iter_mut() {
        for conv in scale.mid.iter_mut() {
            *conv = conv.clone().power_iteration().0;
        }
    }
    d
}

/// Trains the generator and the discriminator against the frozen prior.
pub struct Stage2Trainer {
    prior: PriorNet,
    /// `prior` off the autodiff device: it is frozen, so it runs on the inference kernels.
    prior_plain: PriorNet,
    g: Option<Generator>,
    d: Option<Discriminator>,
    opt_g: Adam,
    opt_d: Adam,
    vgg: Vgg,
    /// `vgg` off the autodiff device, for the targets' features.
    vgg_plain: Vgg,
    cfg: Stage2Config,
    decay: Decay,
    prior_source: PriorSource,
    device: Device,
}

impl std::fmt::Debug for Stage2Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage2Trainer")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Stage2Trainer {
    /// A trainer; every network must live on `device` (an autodiff device).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        prior: PriorNet,
        g: Generator,
        d: Discriminator,
        vgg: Vgg,
        cfg: Stage2Config,
        decay: Decay,
        device: &Device,
    ) -> Self {
        let adam = || {
            Adam::new(AdamSettings {
                beta1: cfg.beta1,
                beta2: cfg.beta2,
                eps: cfg.eps,
            })
        };
        Self {
            prior_plain: to_plain(prior.clone()),
            prior,
            g: Some(g),
            d: Some(d),
            opt_g: adam(),
            opt_d: adam(),
            vgg_plain: to_plain(vgg.clone()),
            vgg,
            cfg,
            decay,
            prior_source: PriorSource::Network,
            device: device.clone(),
        }
    }

    /// The same trainer conditioning the generator on the prior of `source` (the network
    /// unless told otherwise).
    pub fn with_prior_source(mut self, source: PriorSource) -> Self {
        self.prior_source = source;
        self
    }

    /// The (frozen) prior the generator is conditioned on for `batch`, off the autodiff
    /// device: `[B, 3, R, R]` from the network or Telea, as [`Self::with_prior_source`] set.
    ///
    /// # Errors
    /// The errors of [`crate::model::source_prior`].
    pub fn batch_prior(&self, batch: &Batch) -> Result<Tensor<4>> {
        let (b, r) = (batch.size, batch.res);
        let dev = &self.device;
        let gt = tensor_from_vec(batch.images.clone(), [b, 3, r, r], dev);
        let hole = tensor_from_vec(batch.holes.clone(), [b, 1, r, r], dev);
        let known = hole.neg() + 1.0;
        crate::model::source_prior(
            self.prior_source,
            &self.prior_plain,
            plain(gt),
            plain(known),
        )
    }

    /// The generator being trained.
    pub fn generator(&self) -> Option<&Generator> {
        self.g.as_ref()
    }

    /// The discriminator being trained.
    pub fn discriminator(&self) -> Option<&Discriminator> {
        self.d.as_ref()
    }

    /// The frozen prior.
    pub fn prior(&self) -> &PriorNet {
        &self.prior
    }

    /// The optimisers of G and D (for checkpoints).
    pub fn optimizers(&self) -> (&Adam, &Adam) {
        (&self.opt_g, &self.opt_d)
    }

    /// Replaces both networks and their optimiser states (resume, or restore after failures).
    pub fn restore_all(&mut self, g: Generator, d: Discriminator, opt_g: Adam, opt_d: Adam) {
        self.g = Some(g);
        self.d = Some(d);
        self.opt_g = opt_g;
        self.opt_d = opt_d;
    }

    /// Takes the generator out for a step (a step that failed after taking it leaves none).
    fn take_generator(&mut self) -> Result<Generator> {
        self.g.take().ok_or_else(lost_generator)
    }

    /// Takes the discriminator out for a step, as [`Self::take_generator`].
    fn take_discriminator(&mut self) -> Result<Discriminator> {
        self.d
            .take()
            .ok_or_else(|| Error::Input("the trainer lost its discriminator".into()))
    }

    /// One D step and one G step on `batch`, with z drawn from `seeds` (two per image:
    /// `seeds[2i]` and `seeds[2i+1]`, so the noise is reproducible), at learning rates
    /// `lr_g · lr_factor` and `lr_d · lr_factor`. Non-finite losses skip the step (the networks
    /// keep their weights) with [`Error::NonFinite`].
    pub fn step(&mut self, batch: &Batch, seeds: &[u64], lr_factor: f64) -> Result<Stage2Losses> {
        crate::train::on_pool(|| self.step_here(batch, seeds, lr_factor))
    }

    /// [`Self::step`] on the calling thread.
    fn step_here(&mut self, batch: &Batch, seeds: &[u64], lr_factor: f64) -> Result<Stage2Losses> {
        let b = batch.size;
        let Inputs { gt, hole, known } = self.inputs(batch, seeds)?;
        let ad = gt.is_autodiff();
        // Before the networks are taken out: a prior that fails leaves the trainer whole.
        let prior = lifted(self.batch_prior(batch)?, ad);
        let g = self.take_generator()?;
        let d = self.take_discriminator()?;
        let g = if self.cfg.critic_only {
            // Frozen: no autodiff graph for its forward pass (one that is never walked back
            // would be kept, and memory would grow every step).
            g.no_grad()
        } else {
            power_iterate_generator(g)
        };
        let d = power_iterate_discriminator(d);
        let z = z_batch(seeds, b, g.z_dim, &self.device);
        // The conditioning depends on the prior and mask only: computed once per photo and
        // repeated for the two z (the same values as conditioning the repeated prior).
        let cond = g
            .condition(prior.clone(), known.clone(), self.decay)
            .repeat_batch(2);
        let (fake, _) = g.forward_cond(z, &cond, false);
        let fake_a = fake.clone().narrow(0, 0, b);
        let fake_b = fake.narrow(0, b, b);
        let hole3 = hole.clone().repeat_dim(1, 3);
        let d_in = |img: Tensor<4>| Tensor::cat(vec![hole3.clone(), img], 1);

        // Discriminator step.
        let (loss_d, cells) = critic_loss(&d, &gt, &hole, [&fake_a, &fake_b], self.cfg.critic_hole);
        let d_val = crate::train::scalar(loss_d.clone())?;
        if !d_val.is_finite() {
            self.restore(g, d);
            return Err(Error::NonFinite(format!("discriminator loss {d_val}")));
        }
        let grads_d = GradientsParams::from_grads(loss_d.backward(), &d);
        let d = self.opt_d.step(self.cfg.lr_d * lr_factor, d, grads_d);
        if self.cfg.critic_only {
            // The generator is not trained: its terms are not computed (reported as 0).
            self.restore(g, d);
            return Ok(Stage2Losses {
                d: d_val,
                g_total: 0.0,
                g_adv: 0.0,
                g_feat: 0.0,
                g_perceptual: 0.0,
                g_tv: 0.0,
                g_diversity: 0.0,
                g_unit: 0.0,
                g_lowpass: 0.0,
                g_chroma: 0.0,
                g_spectrum: 0.0,
            });
        }

        // Generator step (with the updated D, as the authors' order implies).
        let w = self.cfg.weights;
        let real_out: Vec<Vec<Tensor<4>>> = d
            .forward(d_in(gt.clone()))
            .into_iter()
            .map(|s| s.into_iter().map(|t| t.detach()).collect())
            .collect();
        let f_gt: Vec<Tensor<4>> = (self
            .vgg_plain
            .features(plain(gt.clone()), &PERC)
            .into_iter())
        .map(|t| lifted(t, ad))
        .collect();
        let mut adv = Vec::new();
        let mut feat = Vec::new();
        let mut perc = Vec::new();
        let mut tvs = Vec::new();
        for f in [&fake_a, &fake_b] {
            let fo = d.forward(d_in(f.clone()));
            adv.push(hinge_g_cells(&preds(&fo), cells.as_deref()));
            feat.push(feature_matching(&fo, &real_out, w.feature_matching));
            perc.push(perceptual(&self.vgg.features(f.clone(), &PERC), &f_gt));
            tvs.push(tv(
                composite(f.clone(), gt.clone(), hole.clone()),
                hole.clone(),
                self.cfg.tv_rows,
            ));
        }
        let sum = |v: Vec<Tensor<1>>| v.into_iter().reduce(|a, b| a + b);
        let (adv, feat, perc, tvs) = match (sum(adv), sum(feat), sum(perc), sum(tvs)) {
            (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
            _ => return Err(Error::Input("no fake samples".into())),
        };
        let comps = (w.unit_perceptual > 0.0
            || w.lowpass > 0.0
            || w.chroma_hf > 0.0
            || w.spectrum > 0.0)
            .then(|| [&fake_a, &fake_b].map(|f| composite(f.clone(), gt.clone(), hole.clone())));
        let div = match self.cfg.diversity_layers {
            DiversityLayers::Code => {
                let layers = DiversityLayers::Code.layers();
                let fa = self.vgg.features(fake_a * hole3.clone(), layers);
                let fb = self.vgg.features(fake_b * hole3, layers);
                match (fa.into_iter().next(), fb.into_iter().next()) {
                    (Some(a), Some(b)) => diversity(a, b, w.diversity_eps),
                    _ => return Err(Error::Input("feature network returned no relu4_1".into())),
                }
            }
            kind @ (DiversityLayers::Paper | DiversityLayers::Blurred) => {
                let layers = kind.layers();
                let (fake_a, fake_b) = if kind == DiversityLayers::Blurred {
                    (
                        gaussian_blur(fake_a, DIVERSITY_BLUR_SIGMA),
                        gaussian_blur(fake_b, DIVERSITY_BLUR_SIGMA),
                    )
                } else {
                    (fake_a, fake_b)
                };
                let fa = self.vgg.features(fake_a, layers);
                let fb = self.vgg.features(fake_b, layers);
                if fa.len() != layers.len() || fb.len() != layers.len() {
                    return Err(Error::Input(
                        "feature network returned too few diversity layers".into(),
                    ));
                }
                diversity_paper(&fa, &fb, hole.clone(), w.diversity_eps)
            }
        };
        let total = adv.clone() * w.adversarial
            + feat.clone()
            + perc.clone() * w.perceptual
            + tvs.clone() * w.tv
            + div.clone() * w.diversity;
        // The unit-normalised, low-pass, fine-chroma and spectrum terms on what the user sees
        // (the composites), each only when weighted.
        let (mut total, mut unit, mut lowpass, mut chroma, mut spectrum) =
            (total, None, None, None, None);
        if let Some(comps) = comps {
            if w.unit_perceptual > 0.0 {
                let f_gt: Vec<Tensor<4>> = self
                    .vgg_plain
                    .features(plain(gt.clone()), &UNIT_LAYERS)
                    .into_iter()
                    .map(|t| lifted(t, ad))
                    .collect();
                let [a, b] = comps
                    .clone()
                    .map(|c| unit_perceptual(&self.vgg.features(c, &UNIT_LAYERS), &f_gt));
                let u = a + b;
                total = total + u.clone() * w.unit_perceptual;
                unit = Some(u);
            }
            // A pixel term on both composites against the truth: their sum, weighted into the
            // total.
            let mut pixel_term = |f: fn(Tensor<4>, Tensor<4>) -> Tensor<1>, weight: f64| {
                let [a, b] = comps.clone().map(|c| f(c, gt.clone()));
                let l = a + b;
                total = total.clone() + l.clone() * weight;
                l
            };
            if w.lowpass > 0.0 {
                lowpass = Some(pixel_term(lowpass_l1, w.lowpass));
            }
            if w.chroma_hf > 0.0 {
                chroma = Some(pixel_term(chroma_hf_l1, w.chroma_hf));
            }
            if w.spectrum > 0.0 {
                spectrum = Some(pixel_term(spectrum_excess, w.spectrum));
            }
        }
        let losses = Stage2Losses {
            d: d_val,
            g_total: crate::train::scalar(total.clone())?,
            g_adv: crate::train::scalar(adv)?,
            g_feat: crate::train::scalar(feat)?,
            g_perceptual: crate::train::scalar(perc)?,
            g_tv: crate::train::scalar(tvs)?,
            g_diversity: crate::train::scalar(div)?,
            g_unit: scalar_or_zero(unit)?,
            g_lowpass: scalar_or_zero(lowpass)?,
            g_chroma: scalar_or_zero(chroma)?,
            g_spectrum: scalar_or_zero(spectrum)?,
        };
        if !losses.is_finite() {
            self.restore(g, d);
            return Err(Error::NonFinite(format!("{losses:?}")));
        }
        let grads_g = GradientsParams::from_grads(total.backward(), &g);
        let g = self.opt_g.step(self.cfg.lr_g * lr_factor, g, grads_g);
        self.restore(g, d);
        Ok(losses)
    }

    /// One discriminator update alone on `batch` (z from `seeds` as in [`Self::step`]) against
    /// the current generator, whose fills are made off the autodiff device (no graph, weights
    /// and spectral-norm vectors untouched): the extra critic updates of
    /// [`Stage2Config::critic_steps`]. Returns the critic's hinge loss before the update; a
    /// non-finite loss skips the update with [`Error::NonFinite`].
    pub fn critic_step(&mut self, batch: &Batch, seeds: &[u64], lr_factor: f64) -> Result<f32> {
        crate::train::on_pool(|| self.critic_step_here(batch, seeds, lr_factor))
    }

    /// [`Self::critic_step`] on the calling thread.
    fn critic_step_here(&mut self, batch: &Batch, seeds: &[u64], lr_factor: f64) -> Result<f32> {
        let b = batch.size;
        let Inputs { gt, hole, known } = self.inputs(batch, seeds)?;
        let ad = gt.is_autodiff();
        let prior = self.batch_prior(batch)?;
        let frozen = to_plain(self.g.clone().ok_or_else(lost_generator)?);
        let z = plain(z_batch(seeds, b, frozen.z_dim, &self.device));
        let cond = frozen
            .condition(prior, plain(known), self.decay)
            .repeat_batch(2);
        let (fake, _) = frozen.forward_cond(z, &cond, false);
        let fake = lifted(fake, ad);
        let fake_a = fake.clone().narrow(0, 0, b);
        let fake_b = fake.narrow(0, b, b);
        let d = power_iterate_discriminator(self.take_discriminator()?);
        let (loss_d, _) = critic_loss(&d, &gt, &hole, [&fake_a, &fake_b], self.cfg.critic_hole);
        let d_val = crate::train::scalar(loss_d.clone())?;
        if !d_val.is_finite() {
            self.d = Some(d);
            return Err(Error::NonFinite(format!("discriminator loss {d_val}")));
        }
        let grads_d = GradientsParams::from_grads(loss_d.backward(), &d);
        self.d = Some(self.opt_d.step(self.cfg.lr_d * lr_factor, d, grads_d));
        Ok(d_val)
    }

    /// A step's truth, hole and known maps on the trainer's device, once `seeds` is checked to
    /// hold two seeds per image.
    fn inputs(&self, batch: &Batch, seeds: &[u64]) -> Result<Inputs> {
        let (b, r) = (batch.size, batch.res);
        if seeds.len() != 2 * b {
            return Err(Error::Input(format!(
                "need {} seeds for a batch of {b}, got {}",
                2 * b,
                seeds.len()
            )));
        }
        let dev = &self.device;
        let hole = tensor_from_vec(batch.holes.clone(), [b, 1, r, r], dev);
        Ok(Inputs {
            gt: tensor_from_vec(batch.images.clone(), [b, 3, r, r], dev),
            known: hole.clone().neg() + 1.0,
            hole,
        })
    }

    /// Puts the networks back after a step (taken out so the optimisers can consume them).
    fn restore(&mut self, g: Generator, d: Discriminator) {
        self.g = Some(g);
        self.d = Some(d);
    }
}

/// A step's truth `[B, 3, R, R]`, hole map and known map (`[B, 1, R, R]`, 1 = hole / known).
struct Inputs {
    gt: Tensor<4>,
    hole: Tensor<4>,
    known: Tensor<4>,
}

/// The z of a step on `device`: z_A for every image, then z_B (the authors' cat order), from
/// `seeds[2i]` and `seeds[2i + 1]`.
fn z_batch(seeds: &[u64], b: usize, zd: usize, device: &Device) -> Tensor<2> {
    let z: Vec<f32> = (0..2)
        .flat_map(|k| (0..b).flat_map(move |i| z_for_seed(seeds[2 * i + k], zd)))
        .collect();
    tensor_from_vec(z, [2 * b, zd], device)
}

/// The critic's last-scale predictions of every scale's output.
fn preds(outs: &[Vec<Tensor<4>>]) -> Vec<Tensor<4>> {
    outs.iter().filter_map(|s| s.last().cloned()).collect()
}

/// The discriminator's hinge loss on the truth `gt` and two fills (detached: no gradient
/// reaches the generator), the input being the hole map and the image; with `critic_hole`,
/// each prediction cell weighted by its share of the hole. Also returns those weights (the
/// same for every critic call of a step: the shapes depend only on the input size) for the
/// generator's hinge term.
fn critic_loss(
    d: &Discriminator,
    gt: &Tensor<4>,
    hole: &Tensor<4>,
    fakes: [&Tensor<4>; 2],
    critic_hole: bool,
) -> (Tensor<1>, Option<Vec<Tensor<4>>>) {
    let hole3 = hole.clone().repeat_dim(1, 3);
    let d_in = |img: Tensor<4>| Tensor::cat(vec![hole3.clone(), img], 1);
    let real_out = d.forward(d_in(gt.clone()));
    let cells = critic_hole.then(|| hole_weights(hole, &preds(&real_out)));
    let [a, b] = fakes.map(|f| {
        let fo = d.forward(d_in(f.clone().detach()));
        hinge_d_cells(&preds(&fo), &preds(&real_out), cells.as_deref())
    });
    (a + b, cells)
}

/// The value of a term that was computed only when weighted; 0 when it was not.
fn scalar_or_zero(term: Option<Tensor<1>>) -> Result<f32> {
    term.map_or(Ok(0.0), crate::train::scalar)
}

/// The error of a trainer whose generator a failed step took out and did not put back.
fn lost_generator() -> Error {
    Error::Input("the trainer lost its generator".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::{Batcher, CropSampler, ImageFolder};
    use crate::masks::MaskKind;
    use crate::model::Preset;
    use crate::model::config::GeneratorConfig;
    use crate::model::params::ParamSource;
    use crate::model::tensor_to_vec;
    use crate::model::vgg::{VggConfig, VggKind};

    /// A trainer with small random networks (64² generator, latent 1) and one batch.
    fn trainer(s2: Stage2Config) -> (Stage2Trainer, Batch) {
        let t = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_fn(100, 90, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 2) as u8, 90])
        });
        img.save(t.path().join("a.png")).unwrap();
        let folder = ImageFolder::load(t.path()).unwrap();
        // A 64² generator: latent 1.
        let mut cfg = Preset::Tiny.config();
        cfg.generator = GeneratorConfig {
            latent: 1,
            ..cfg.generator
        };
        let dev = Device::flex().autodiff();
        let batch = Batcher::new(5, CropSampler::new(64), MaskKind::Boxes, 1).next_batch(&folder);
        let mut src = ParamSource::random(4, &dev);
        let prior = PriorNet::from_sources_single(&mut src, &cfg.prior).unwrap();
        let g = Generator::from_source(&mut src, &cfg.generator).unwrap();
        let d = Discriminator::from_source(&mut src, &cfg.discriminator).unwrap();
        let vgg = Vgg::random(
            VggConfig {
                kind: VggKind::Vgg16,
                width_div: 16,
            },
            2,
            &dev,
        )
        .unwrap();
        let tr = Stage2Trainer::new(prior, g, d, vgg, s2, Decay::Exp, &dev);
        (tr, batch)
    }

    #[test]
    fn a_telea_trainer_conditions_on_telea_fills_and_a_network_one_on_the_network() {
        let (tr, batch) = trainer(Stage2Config::default());
        let r = batch.res;
        let plane = r * r;
        let net = tensor_to_vec(tr.batch_prior(&batch).unwrap()).unwrap();
        let tr = tr.with_prior_source(PriorSource::Telea);
        let tel = tensor_to_vec(tr.batch_prior(&batch).unwrap()).unwrap();
        assert_eq!(net.len(), tel.len());
        let mut hole_diff = 0.0f32;
        for i in 0..batch.size {
            let img = &batch.images[3 * plane * i..3 * plane * (i + 1)];
            let hole = &batch.holes[plane * i..plane * (i + 1)];
            let want =
                crate::telea::fill_chw(img, hole, r, r, crate::telea::DEFAULT_RADIUS).unwrap();
            assert_eq!(&tel[3 * plane * i..3 * plane * (i + 1)], &want[..]);
            for (k, &h) in hole.iter().enumerate() {
                if h > 0.5 {
                    hole_diff += (net[3 * plane * i + k] - want[k]).abs();
                }
            }
        }
        assert!(hole_diff > 1.0, "{hole_diff}");
    }

    #[test]
    fn stage2_step_with_blurred_diversity_runs() {
        let cfg = Stage2Config {
            diversity_layers: DiversityLayers::Blurred,
            ..Stage2Config::default()
        };
        let (mut tr, batch) = trainer(cfg);
        let l = tr.step(&batch, &[10, 11], 1.0).unwrap();
        assert!(l.is_finite(), "{l:?}");
        assert!(l.g_diversity > 0.0, "{l:?}");
        // Blurring makes the two samples closer, so the inverse distance is larger than the
        // paper's on the same weights, batch and z.
        let (mut tp, batch) = trainer(Stage2Config {
            diversity_layers: DiversityLayers::Paper,
            ..Stage2Config::default()
        });
        let p = tp.step(&batch, &[10, 11], 1.0).unwrap();
        assert!(
            l.g_diversity > p.g_diversity,
            "{} vs {}",
            l.g_diversity,
            p.g_diversity
        );
    }

    #[test]
    fn stage2_steps_run_and_stay_finite() {
        let (mut tr, batch) = trainer(Stage2Config::default());
        let u_before = tensor_to_vec(
            tr.generator().unwrap().generated[0]
                .block
                .conv_0
                .weight_u
                .val(),
        )
        .unwrap();
        for step in 0..2 {
            let l = tr
                .step(&batch, &[10 + 2 * step, 11 + 2 * step], 1.0)
                .unwrap();
            eprintln!("stage 2 step {step}: {l:?}");
            assert!(l.is_finite());
            assert!(l.g_diversity > 0.0);
        }
        let u_after = tensor_to_vec(
            tr.generator().unwrap().generated[0]
                .block
                .conv_0
                .weight_u
                .val(),
        )
        .unwrap();
        assert_ne!(
            u_before, u_after,
            "spectral-norm u was not updated by the power iteration"
        );
        assert!(
            tr.step(&batch, &[1], 1.0).is_err(),
            "wrong seed count must be an error"
        );
    }

    #[test]
    fn critic_only_trains_the_discriminator_and_leaves_the_generator_alone() {
        let (mut tr, batch) = trainer(Stage2Config {
            critic_only: true,
            ..Stage2Config::default()
        });
        let g_params = |tr: &Stage2Trainer| {
            let g = tr.generator().unwrap();
            (
                tensor_to_vec(g.generated[0].block.conv_0.weight_u.val()).unwrap(),
                tensor_to_vec(g.generated[0].block.conv_0.weight_orig.val()).unwrap(),
            )
        };
        let d_param =
            |tr: &Stage2Trainer| crate::model::half::to_bytes(tr.discriminator().unwrap()).unwrap();
        let (g0, d0) = (g_params(&tr), d_param(&tr));
        let l = tr.step(&batch, &[10, 11], 1.0).unwrap();
        assert!(l.d.is_finite() && l.d > 0.0, "{l:?}");
        assert_eq!(l.g_total, 0.0);
        assert_eq!(g_params(&tr), g0, "the generator is untouched");
        assert_ne!(d_param(&tr), d0, "the discriminator learned");
    }

    #[test]
    fn a_critic_step_trains_the_discriminator_on_the_fills_a_joint_step_would_see() {
        let g_params = |tr: &Stage2Trainer| {
            let g = tr.generator().unwrap();
            (
                tensor_to_vec(g.generated[0].block.conv_0.weight_u.val()).unwrap(),
                tensor_to_vec(g.generated[0].block.conv_0.weight_orig.val()).unwrap(),
            )
        };
        let d_param =
            |tr: &Stage2Trainer| crate::model::half::to_bytes(tr.discriminator().unwrap()).unwrap();
        // Two identical trainers (seeded weights): one makes a critic step, the other a
        // critic-only step (the frozen generator on the autodiff device) on the same batch
        // and z. Same fills, same loss before the update.
        let (mut tr, batch) = trainer(Stage2Config::default());
        let (mut only, _) = trainer(Stage2Config {
            critic_only: true,
            ..Stage2Config::default()
        });
        let (g0, d0) = (g_params(&tr), d_param(&tr));
        let v = tr.critic_step(&batch, &[10, 11], 1.0).unwrap();
        let w = only.step(&batch, &[10, 11], 1.0).unwrap().d;
        assert!(v.is_finite() && v > 0.0, "{v}");
        assert!((v - w).abs() < 1e-4 * w.abs().max(1.0), "{v} vs {w}");
        assert_eq!(g_params(&tr), g0, "the generator is untouched");
        assert_ne!(d_param(&tr), d0, "the discriminator learned");
        // A joint step still runs after it, and bad seeds are refused.
        let l = tr.step(&batch, &[12, 13], 1.0).unwrap();
        assert!(l.is_finite() && l.g_total != 0.0, "{l:?}");
        assert!(matches!(
            tr.critic_step(&batch, &[1], 1.0),
            Err(Error::Input(_))
        ));
    }

    #[test]
    fn run_files_without_critic_steps_read_as_one() {
        let mut v = serde_json::to_value(Stage2Config::default()).unwrap();
        assert_eq!(v["critic_steps"], 1);
        v.as_object_mut().unwrap().remove("critic_steps");
        let c: Stage2Config = serde_json::from_value(v).unwrap();
        assert_eq!(c.critic_steps, 1);
    }

    /// One step of two trainers on the same batch and seeds: the default configuration and
    /// one with `set` applied to its loss weights.
    fn step_with_and_without(set: impl FnOnce(&mut Stage2Weights)) -> (Stage2Losses, Stage2Losses) {
        let (mut off, batch) = trainer(Stage2Config::default());
        let mut s2 = Stage2Config::default();
        set(&mut s2.weights);
        let (mut on, _) = trainer(s2);
        let a = off.step(&batch, &[10, 11], 1.0).unwrap();
        let b = on.step(&batch, &[10, 11], 1.0).unwrap();
        (a, b)
    }

    /// Same networks, batch and seeds, one extra term weighted in `b`: every other term is
    /// the same, and the total grows by exactly the weighted term.
    #[track_caller]
    fn assert_only_the_term_added(a: &Stage2Losses, b: &Stage2Losses, weight: f32, term: f32) {
        assert_eq!(
            (a.d, a.g_adv, a.g_perceptual),
            (b.d, b.g_adv, b.g_perceptual)
        );
        let want = a.g_total + weight * term;
        assert!((b.g_total - want).abs() < 1e-3 * want.abs(), "{a:?} {b:?}");
    }

    #[test]
    fn the_unit_perceptual_term_counts_only_when_weighted() {
        let (a, b) = step_with_and_without(|w| w.unit_perceptual = 3.0);
        assert_eq!(a.g_unit, 0.0, "not computed at weight 0");
        // Two composites, each a mean over five layers of a 0…2 distance.
        assert!(b.g_unit > 0.0 && b.g_unit < 4.0, "{b:?}");
        assert_only_the_term_added(&a, &b, 3.0, b.g_unit);
    }

    #[test]
    fn the_lowpass_term_counts_only_when_weighted() {
        let (a, b) = step_with_and_without(|w| w.lowpass = 5.0);
        assert_eq!(a.g_lowpass, 0.0, "not computed at weight 0");
        assert_eq!(b.g_unit, 0.0, "the unit term stays off");
        // Two composites of [-1, 1] images: each block mean differs by at most 2.
        assert!(b.g_lowpass > 0.0 && b.g_lowpass < 4.0, "{b:?}");
        assert_only_the_term_added(&a, &b, 5.0, b.g_lowpass);
    }

    #[test]
    fn the_fine_chroma_term_counts_only_when_weighted() {
        let (a, b) = step_with_and_without(|w| w.chroma_hf = 7.0);
        assert_eq!(a.g_chroma, 0.0, "not computed at weight 0");
        assert_eq!(
            (b.g_unit, b.g_lowpass),
            (0.0, 0.0),
            "the other extra terms stay off"
        );
        // Two composites; each chroma channel of a [-1, 1] image lies in [-2, 2].
        assert!(b.g_chroma > 0.0 && b.g_chroma < 8.0, "{b:?}");
        assert_only_the_term_added(&a, &b, 7.0, b.g_chroma);
    }

    #[test]
    fn the_spectrum_term_counts_only_when_weighted() {
        let (a, b) = step_with_and_without(|w| w.spectrum = 2.0);
        assert_eq!(a.g_spectrum, 0.0, "not computed at weight 0");
        assert_eq!(
            (b.g_unit, b.g_lowpass, b.g_chroma),
            (0.0, 0.0, 0.0),
            "the other extra terms stay off"
        );
        // Two composites; a log-amplitude difference is bounded by the logs' range, a few
        // units at most for [-1, 1] images.
        assert!(b.g_spectrum > 0.0 && b.g_spectrum < 20.0, "{b:?}");
        assert_only_the_term_added(&a, &b, 2.0, b.g_spectrum);
    }
}
