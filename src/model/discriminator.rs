//! The two-scale PatchGAN discriminator (pix2pixHD/SPADE style, docs/network.md §4.1).

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

use crate::error::Result;
use crate::model::config::DiscriminatorConfig;
use crate::model::layers::{SnConv2d, conv, conv2d_from, instance_norm};
use crate::model::params::ParamSource;

/// One scale: conv → [SN-conv → IN → LReLU]×(n_layers−1) → conv, kernel 4, padding 2.
#[derive(Module, Debug)]
pub struct NLayerDiscriminator {
    /// `model0.0`: conv 4×4 s2 p2 with bias, then LeakyReLU.
    pub model0: Conv2d,
    /// `model{1..n-1}.0.0`: spectral-normalised conv without bias, then IN and LeakyReLU.
    pub mid: Vec<SnConv2d>,
    /// `model{n}.0`: conv 4×4 s1 p2 to one channel.
    pub last: Conv2d,
}

impl NLayerDiscriminator {
    /// Builds one scale under `prefix` (e.g. `discriminator_0`).
    pub fn from_source(
        src: &mut ParamSource<'_>,
        prefix: &str,
        cfg: &DiscriminatorConfig,
    ) -> Result<Self> {
        let mut nf = cfg.ndf;
        let model0 = conv2d_from(
            src,
            &format!("{prefix}.model0.0"),
            cfg.input_nc,
            nf,
            4,
            2,
            2,
            true,
        )?;
        let mut mid = Vec::new();
        for n in 1..cfg.n_layers {
            let prev = nf;
            nf = (nf * 2).min(512);
            let stride = if n == cfg.n_layers - 1 { 1 } else { 2 };
            mid.push(SnConv2d::from_source(
                src,
                &format!("{prefix}.model{n}.0.0"),
                prev,
                nf,
                4,
                stride,
                2,
                false,
            )?);
        }
        let last = conv2d_from(
            src,
            &format!("{prefix}.model{}.0", cfg.n_layers),
            nf,
            1,
            4,
            1,
            2,
            true,
        )?;
        Ok(Self { model0, mid, last })
    }

    /// All group outputs; the last is the prediction, the others feed feature matching.
    ///
    /// # Shapes
    /// `[B, 6, H, W]` → `n_layers + 1` tensors.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut outs = Vec::with_capacity(self.mid.len() + 2);
        let mut y = leaky_relu(conv(&self.model0, x), 0.2);
        outs.push(y.clone());
        for conv in &self.mid {
            y = leaky_relu(instance_norm(conv.forward(y)), 0.2);
            outs.push(y.clone());
        }
        outs.push(conv(&self.last, y));
        outs
    }
}

/// `num_D` scales; scale s+1 sees the input average-pooled (k3 s2 p1, padding not counted).
#[derive(Module, Debug)]
pub struct Discriminator {
    /// `discriminator_0..`.
    pub scales: Vec<NLayerDiscriminator>,
}

impl Discriminator {
    /// Builds from keys `discriminator_{s}.…`.
    pub fn from_source(src: &mut ParamSource<'_>, cfg: &DiscriminatorConfig) -> Result<Self> {
        let scales = (0..cfg.num_d)
            .map(|s| NLayerDiscriminator::from_source(src, &format!("discriminator_{s}"), cfg))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { scales })
    }

    /// Outputs per scale (each a list of group outputs).
    ///
    /// # Shapes
    /// `[B, 6, H, W]` → `num_D × (n_layers + 1)` tensors.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Vec<Tensor<4>>> {
        let mut input = x;
        let mut outs = Vec::with_capacity(self.scales.len());
        for (s, d) in self.scales.iter().enumerate() {
            if s > 0 {
                let opts = AvgPoolOptions::new([3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_count_include_pad(false);
                input = avg_pool2d(input, opts);
            }
            outs.push(d.forward(input.clone()));
        }
        outs
    }
}
