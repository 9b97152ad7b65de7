//! Stage 1: the authors' partial-convolution encoder/decoder that makes the coarse prior P
//! (docs/network.md §2).

use burn::nn::conv::ConvTranspose2d;
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, tanh};

use crate::error::Result;
use crate::model::config::PriorConfig;
use crate::model::layers::{InstanceNormAffine, PartialConv, conv_t_from, instance_norm};
use crate::model::params::ParamSource;

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
        let y = self.up.forward(relu(x));
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

    /// The prior P.
    ///
    /// # Shapes
    /// As [`Self::forward_trace`]: `→ [B, 3, R, R]`.
    pub fn forward(&self, image: Tensor<4>, known: Tensor<4>) -> Tensor<4> {
        self.forward_trace(image, known).prior
    }
}
