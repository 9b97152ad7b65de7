//! Stage 1: the authors' partial-convolution encoder/decoder that makes the coarse prior P
//! (docs/network.md §2).

use burn::nn::conv::ConvTranspose2d;
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, tanh};

use crate::error::Result;
use crate::model::config::PriorConfig;
use crate::model::layers::cpu::{self, HostConvT, Planes, instance_norm_inplace, on_host};
use crate::model::layers::{
    InstanceNormAffine, NORM_EPS, PartialConv, conv_t, conv_t_from, instance_norm,
};
use crate::model::params::ParamSource;
use crate::model::tensor_to_vec;

/// A partial-conv residual block of the bottleneck: PConv 3×3 → IN → ReLU → PConv 3×3 → IN,
/// plus the block input; the mask is propagated through both convs.
#[derive(Module, Debug)]
pub struct PResBlock {
    /// `middle.{i}.conv_1`.
    pub conv_1: PartialConv,
    /// `middle.{i}.conv_2`.
    pub conv_2: PartialConv,
}

impl PResBlock {
    /// # Shapes
    /// `x, m: [B, C, h, w]` → `(x', m')` of the same shape.
    pub fn forward(&self, x: Tensor<4>, m: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let (y, m1) = self.conv_1.forward(x.clone(), m);
        let y = relu(instance_norm(y));
        let (y, m2) = self.conv_2.forward(y, m1);
        (x + instance_norm(y), m2)
    }
}

/// One encoder stage `Encoder_k`: (LeakyReLU 0.2) → PConv 4×4 s2 → (InstanceNorm affine).
#[derive(Module, Debug)]
pub struct EncoderStage {
    /// `Encoder_k.conv`.
    pub conv: PartialConv,
    /// `Encoder_k.norm` (stages 2–5 only).
    pub norm: Option<InstanceNormAffine>,
    /// Whether the stage starts with LeakyReLU (all but the first).
    pub activate: bool,
}

impl EncoderStage {
    /// # Shapes
    /// `[B, cin, H, W]` (feature and mask) → `[B, cout, H/2, W/2]`.
    pub fn forward(&self, x: Tensor<4>, m: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let x = if self.activate { leaky_relu(x, 0.2) } else { x };
        let (y, m) = self.conv.forward(x, m);
        let y = match &self.norm {
            Some(n) => n.forward(y),
            None => y,
        };
        (y, m)
    }
}

/// One decoder stage `Decoder_k`: ReLU → ConvTranspose 4×4 s2 → InstanceNorm(affine), or Tanh
/// for the outermost stage.
#[derive(Module, Debug)]
pub struct DecoderStage {
    /// `Decoder_k.model.1`.
    pub up: ConvTranspose2d,
    /// `Decoder_k.model.2` (absent on the outermost stage, which ends in tanh).
    pub norm: Option<InstanceNormAffine>,
}

impl DecoderStage {
    /// # Shapes
    /// `[B, cin, h, w] → [B, cout, 2h, 2w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = conv_t(&self.up, relu(x));
        match &self.norm {
            Some(n) => n.forward(y),
            None => tanh(y),
        }
    }
}

/// Every intermediate of the prior network, for parity tests.
#[derive(Debug, Clone)]
pub struct PriorTrace {
    /// Encoder outputs `out_1..out_6` (features only).
    pub enc: Vec<Tensor<4>>,
    /// Bottleneck output `out_7`.
    pub middle: Tensor<4>,
    /// Decoder outputs `y_1..y_5`.
    pub dec: Vec<Tensor<4>>,
    /// The prior P (tanh output, not composited).
    pub prior: Tensor<4>,
}

/// The prior network: `netEN` + `netDE` (docs/network.md §2.2–2.3).
#[derive(Module, Debug)]
pub struct PriorNet {
    /// `Encoder_1..Encoder_6`.
    pub encoder: Vec<EncoderStage>,
    /// `middle.0..`.
    pub middle: Vec<PResBlock>,
    /// `Decoder_1..Decoder_6`.
    pub decoder: Vec<DecoderStage>,
}

impl PriorNet {
    /// Builds the encoder from `enc` (keys `Encoder_k…`, `middle.i…`) and the decoder from `dec`
    /// (keys `Decoder_k…`): the authors keep them in two files.
    pub fn from_sources(
        enc: &mut ParamSource<'_>,
        dec: &mut ParamSource<'_>,
        cfg: &PriorConfig,
    ) -> Result<Self> {
        Self::build(enc, Some(dec), cfg)
    }

    /// The same network with every partial convolution's mask kernel set to ones (see
    /// [`PartialConv::with_unit_mask`]): the paper's prior, for training from scratch.
    pub fn with_unit_mask_convs(self) -> Self {
        Self {
            encoder: self
                .encoder
                .into_iter()
                .map(|e| EncoderStage {
                    conv: e.conv.with_unit_mask(),
                    ..e
                })
                .collect(),
            middle: self
                .middle
                .into_iter()
                .map(|b| PResBlock {
                    conv_1: b.conv_1.with_unit_mask(),
                    conv_2: b.conv_2.with_unit_mask(),
                })
                .collect(),
            decoder: self.decoder,
        }
    }

    fn build(
        enc: &mut ParamSource<'_>,
        dec: Option<&mut ParamSource<'_>>,
        cfg: &PriorConfig,
    ) -> Result<Self> {
        let (encoder, middle) = Self::build_encoder(enc, cfg)?;
        let decoder = match dec {
            Some(d) => Self::build_decoder(d, cfg)?,
            None => Self::build_decoder(enc, cfg)?,
        };
        Ok(Self {
            encoder,
            middle,
            decoder,
        })
    }

    fn build_encoder(
        enc: &mut ParamSource<'_>,
        cfg: &PriorConfig,
    ) -> Result<(Vec<EncoderStage>, Vec<PResBlock>)> {
        let ch = cfg.encoder_channels();
        let mut encoder = Vec::with_capacity(6);
        let mut cin = 3;
        for (k, &cout) in ch.iter().enumerate() {
            let i = k + 1;
            let conv =
                PartialConv::from_source(enc, &format!("Encoder_{i}.conv"), cin, cout, 4, 2, 1)?;
            let norm = if (2..=5).contains(&i) {
                Some(InstanceNormAffine::from_source(
                    enc,
                    &format!("Encoder_{i}.norm"),
                    cout,
                )?)
            } else {
                None
            };
            encoder.push(EncoderStage {
                conv,
                norm,
                activate: i > 1,
            });
            cin = cout;
        }
        let c = ch[5];
        let mut middle = Vec::with_capacity(cfg.res_num);
        for i in 0..cfg.res_num {
            middle.push(PResBlock {
                conv_1: PartialConv::from_source(
                    enc,
                    &format!("middle.{i}.conv_1"),
                    c,
                    c,
                    3,
                    1,
                    1,
                )?,
                conv_2: PartialConv::from_source(
                    enc,
                    &format!("middle.{i}.conv_2"),
                    c,
                    c,
                    3,
                    1,
                    1,
                )?,
            });
        }
        Ok((encoder, middle))
    }

    fn build_decoder(dec: &mut ParamSource<'_>, cfg: &PriorConfig) -> Result<Vec<DecoderStage>> {
        // Decoder_k input: y_{k-1} (or out_7) concatenated with the skip out_{6-k}.
        let g = cfg.ngf;
        let dims = [
            (8 * g, 8 * g),
            (16 * g, 8 * g),
            (16 * g, 4 * g),
            (8 * g, 2 * g),
            (4 * g, g),
            (2 * g, 3),
        ];
        let mut decoder = Vec::with_capacity(6);
        for (k, &(din, dout)) in dims.iter().enumerate() {
            let i = k + 1;
            let up = conv_t_from(dec, &format!("Decoder_{i}.model.1"), din, dout)?;
            let norm = if i < 6 {
                Some(InstanceNormAffine::from_source(
                    dec,
                    &format!("Decoder_{i}.model.2"),
                    dout,
                )?)
            } else {
                None
            };
            decoder.push(DecoderStage { up, norm });
        }
        Ok(decoder)
    }

    /// Builds encoder and decoder from one source whose keys hold both (`Encoder_*`, `middle.*`,
    /// `Decoder_*`); used for random init and our own files.
    pub fn from_sources_single(src: &mut ParamSource<'_>, cfg: &PriorConfig) -> Result<Self> {
        Self::build(src, None, cfg)
    }

    /// Runs the prior and keeps every intermediate.
    ///
    /// # Shapes
    /// `image: [B, 3, R, R]` (holes already zeroed or not: they are masked inside),
    /// `known: [B, 1 or 3, R, R]` (1 = known) → trace with `prior: [B, 3, R, R]`.
    pub fn forward_trace(&self, image: Tensor<4>, known: Tensor<4>) -> PriorTrace {
        let known = if known.dims()[1] == 1 {
            known.repeat_dim(1, 3)
        } else {
            known
        };
        let mut x = image;
        let mut m = known;
        let mut enc = Vec::with_capacity(6);
        for stage in &self.encoder {
            let (y, m2) = stage.forward(x, m);
            enc.push(y.clone());
            x = y;
            m = m2;
        }
        for block in &self.middle {
            let (y, m2) = block.forward(x, m);
            x = y;
            m = m2;
        }
        let middle = x.clone();
        let mut dec = Vec::with_capacity(5);
        let mut y = self.decoder[0].forward(x);
        for (k, stage) in self.decoder.iter().enumerate().skip(1) {
            dec.push(y.clone());
            let skip = enc[5 - k].clone();
            y = stage.forward(Tensor::cat(vec![y, skip], 1));
        }
        PriorTrace {
            enc,
            middle,
            dec,
            prior: y,
        }
    }

    /// The prior P (on flex without autodiff: the host path, see [`cpu`]).
    ///
    /// # Shapes
    /// As [`Self::forward_trace`]: `→ [B, 3, R, R]`.
    pub fn forward(&self, image: Tensor<4>, known: Tensor<4>) -> Tensor<4> {
        if on_host(&image)
            && let Ok(p) = self.forward_host(image.clone(), known.clone())
        {
            return p;
        }
        self.forward_trace(image, known).prior
    }

    /// [`Self::forward`] on host buffers.
    fn forward_host(&self, image: Tensor<4>, known: Tensor<4>) -> Result<Tensor<4>> {
        let eps = NORM_EPS as f32;
        let mut x = Planes::from_tensor(image)?;
        let mut m = cpu::shared_mask(Planes::from_tensor(known)?);
        if m.c != 1 && m.c != x.c {
            return Err(crate::error::Error::Backend(format!(
                "prior: mask with {} channels for {} image channels",
                m.c, x.c
            )));
        }
        let mut enc = Vec::with_capacity(self.encoder.len());
        for stage in &self.encoder {
            let pre = if stage.activate { cpu::leaky } else { identity };
            let (mut y, m2) = stage.conv.forward_host(&x, &m, pre)?;
            if let Some(n) = &stage.norm {
                let (g, b) = (tensor_to_vec(n.weight.val())?, tensor_to_vec(n.bias.val())?);
                instance_norm_inplace(&mut y, eps, Some((&g, &b)), identity);
            }
            enc.push(y.clone());
            x = y;
            m = m2;
        }
        for block in &self.middle {
            let (mut y, m1) = block.conv_1.forward_host(&x, &m, identity)?;
            instance_norm_inplace(&mut y, eps, None, cpu::relu);
            let (mut y, m2) = block.conv_2.forward_host(&y, &m1, identity)?;
            instance_norm_inplace(&mut y, eps, None, identity);
            y.data.iter_mut().zip(&x.data).for_each(|(v, xv)| *v += xv);
            x = y;
            m = m2;
        }
        let mut y = x;
        for (k, stage) in self.decoder.iter().enumerate() {
            let input = if k == 0 {
                y.map_inplace(cpu::relu);
                y
            } else {
                cat_relu(&y, &enc[5 - k])
            };
            let mut out = HostConvT::from_conv_t(&stage.up)?.forward(input)?;
            match &stage.norm {
                Some(n) => {
                    let (g, b) = (tensor_to_vec(n.weight.val())?, tensor_to_vec(n.bias.val())?);
                    instance_norm_inplace(&mut out, eps, Some((&g, &b)), identity);
                }
                None => out.map_inplace(f32::tanh),
            }
            y = out;
        }
        Ok(y.into_tensor())
    }
}

fn identity(v: f32) -> f32 {
    v
}

/// `relu(cat([a, b], channels))`.
fn cat_relu(a: &Planes, b: &Planes) -> Planes {
    let hw = a.hw();
    let c = a.c + b.c;
    let mut out = Planes::zeros(a.n, c, a.h, a.w);
    for (idx, dst) in out.data.chunks_mut(hw).enumerate() {
        let (n, ch) = (idx / c, idx % c);
        let src = if ch < a.c {
            a.plane(n, ch)
        } else {
            b.plane(n, ch - a.c)
        };
        dst.iter_mut()
            .zip(src)
            .for_each(|(d, v)| *d = cpu::relu(*v));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Preset;
    use crate::model::params::ParamSource;

    fn max_rel(a: Tensor<4>, b: Tensor<4>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let (a, b) = (tensor_to_vec(a).unwrap(), tensor_to_vec(b).unwrap());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        a.iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    fn inputs(b: usize, r: usize, dev: &Device) -> (Tensor<4>, Tensor<4>) {
        dev.seed(3);
        let image: Tensor<4> = Tensor::random(
            [b, 3, r, r],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            dev,
        );
        let mut known = vec![1.0f32; b * r * r];
        for (i, v) in known.iter_mut().enumerate() {
            let (n, y, x) = (i / (r * r), (i / r) % r, i % r);
            if y > r / 4 + n * 5 && y < r / 2 + n * 9 && x > r / 5 && x < 2 * r / 3 {
                *v = 0.0;
            }
        }
        let known = Tensor::<4>::from_data(TensorData::new(known, [b, 1, r, r]), dev);
        let k3 = known.repeat_dim(1, 3);
        (image * k3.clone(), k3)
    }

    #[test]
    fn host_prior_matches_the_burn_trace() {
        let dev = Device::flex();
        let cfg = Preset::Small.config().prior;
        for unit_mask in [false, true] {
            let net =
                PriorNet::from_sources_single(&mut ParamSource::random(2, &dev), &cfg).unwrap();
            let net = if unit_mask {
                net.with_unit_mask_convs()
            } else {
                net
            };
            let (image, k3) = inputs(2, 128, &dev);
            let fast = net.forward(image.clone(), k3.clone());
            let slow = net.forward_trace(image, k3).prior;
            let e = max_rel(fast, slow);
            // With the authors' signed random mask kernels the window sums `s` can nearly
            // cancel and `o / s` amplifies the summation order (docs/performance.md): 1e-4 here;
            // with the paper's unit kernels the host path agrees to 2e-6.
            let tol = if unit_mask { 1e-5 } else { 1e-3 };
            assert!(e < tol, "unit mask {unit_mask}: rel err {e}");
        }
    }

    #[test]
    fn host_prior_takes_a_per_channel_mask() {
        // Masks that differ between channels take the full mask convolution.
        let dev = Device::flex();
        let cfg = Preset::Tiny.config().prior;
        let net = PriorNet::from_sources_single(&mut ParamSource::random(4, &dev), &cfg).unwrap();
        let (image, k3) = inputs(1, 64, &dev);
        let k3 = Tensor::cat(
            vec![k3.clone().narrow(1, 0, 2), k3.narrow(1, 2, 1).ones_like()],
            1,
        );
        let fast = net.forward(image.clone(), k3.clone());
        let slow = net.forward_trace(image, k3).prior;
        let e = max_rel(fast, slow);
        assert!(e < 1e-5, "rel err {e}");
    }
}
