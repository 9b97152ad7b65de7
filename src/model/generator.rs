//! Stage 2: SPDNorm, the SPD residual block and the PD-GAN generator (docs/network.md §3).

use burn::nn::Linear;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, sigmoid, tanh};

use crate::error::Result;
use crate::maps::{Decay, hard_map_fast, hard_map_tensor, nearest_strided_tensor};
use crate::model::config::{GeneratorConfig, UnitLayout};
use crate::model::layers::{
    INIT_STD, SnConv2d, conv_t_from, conv2d_from, instance_norm, positional_norm,
};
use crate::model::params::{Init, ParamSource};

/// Spatially-probabilistic diversity normalisation:
/// `x̂ ⊙ (1 + D⊙γ(P)) + D⊙β(P)` with `x̂` the positional norm of `x` and γ, β from a small
/// conv MLP on the resized RGB prior `P`.
#[derive(Module, Debug)]
pub struct SpdNorm {
    /// `mlp_activate.0`: conv 3×3, 3 → nhidden, followed by ReLU.
    pub mlp_activate: Conv2d,
    /// `mlp_gamma`: conv 3×3, nhidden → C.
    pub mlp_gamma: Conv2d,
    /// `mlp_beta`: conv 3×3, nhidden → C.
    pub mlp_beta: Conv2d,
}

impl SpdNorm {
    /// Builds from `{prefix}.mlp_activate.0`, `{prefix}.mlp_gamma`, `{prefix}.mlp_beta`.
    pub fn from_source(
        src: &mut ParamSource<'_>,
        prefix: &str,
        c: usize,
        nhidden: usize,
    ) -> Result<Self> {
        Ok(Self {
            mlp_activate: conv2d_from(
                src,
                &format!("{prefix}.mlp_activate.0"),
                3,
                nhidden,
                3,
                1,
                1,
                true,
            )?,
            mlp_gamma: conv2d_from(
                src,
                &format!("{prefix}.mlp_gamma"),
                nhidden,
                c,
                3,
                1,
                1,
                true,
            )?,
            mlp_beta: conv2d_from(
                src,
                &format!("{prefix}.mlp_beta"),
                nhidden,
                c,
                3,
                1,
                1,
                true,
            )?,
        })
    }

    /// γ and β from the resized prior: they depend on the prior only, not on z, so they can be
    /// computed once and reused for every sample.
    ///
    /// # Shapes
    /// `prior: [B, 3, h, w]` → `(γ, β)`, each `[B, C, h, w]`.
    pub fn modulation(&self, prior: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let a = relu(self.mlp_activate.forward(prior));
        (self.mlp_gamma.forward(a.clone()), self.mlp_beta.forward(a))
    }

    /// `x̂ ⊙ (1 + D⊙γ) + D⊙β`, broadcasting γ, β, D over the batch when theirs is 1.
    ///
    /// # Shapes
    /// `x: [B, C, h, w]`, `gamma, beta: [B or 1, C, h, w]`, `d: [B or 1, 1 or C, h, w]`
    /// → `[B, C, h, w]`.
    pub fn apply(x: Tensor<4>, gamma: Tensor<4>, beta: Tensor<4>, d: Tensor<4>) -> Tensor<4> {
        let xn = positional_norm(x);
        xn.clone() + xn * (d.clone() * gamma) + d * beta
    }

    /// # Shapes
    /// `x: [B, C, h, w]`, `prior: [B, 3, h, w]`, `d: [B, 1 or C, h, w]` → `[B, C, h, w]`.
    pub fn forward(&self, x: Tensor<4>, prior: Tensor<4>, d: Tensor<4>) -> Tensor<4> {
        let (gamma, beta) = self.modulation(prior);
        Self::apply(x, gamma, beta, d)
    }
}

/// `conv_to_f`: conv 3×3 (3 → nhidden) → InstanceNorm (no affine) → ReLU → conv 3×3
/// (nhidden → fin); keys `conv_to_f.0` and `conv_to_f.3`.
#[derive(Module, Debug)]
pub struct ConvToF {
    /// `conv_to_f.0`.
    pub conv_in: Conv2d,
    /// `conv_to_f.3`.
    pub conv_out: Conv2d,
}

impl ConvToF {
    /// # Shapes
    /// `[B, 3, h, w] → [B, fin, h, w]`.
    pub fn forward(&self, prior: Tensor<4>) -> Tensor<4> {
        self.conv_out
            .forward(relu(instance_norm(self.conv_in.forward(prior))))
    }
}

/// Everything one residual block computes, for parity tests and for researchers.
#[derive(Debug, Clone)]
pub struct BlockTrace {
    /// Prior resized to the block's size `[B, 3, h, w]`.
    pub pr: Tensor<4>,
    /// Known-map resized to the block's size `[B, 1, h, w]` (1 = known).
    pub mr: Tensor<4>,
    /// Hard map `[B, 1, h, w]`.
    pub hard: Tensor<4>,
    /// Soft map `[B, fin, h, w]`.
    pub soft: Tensor<4>,
    /// `norm_0` output.
    pub norm0: Tensor<4>,
    /// `norm_1` output.
    pub norm1: Tensor<4>,
    /// `norm_s` output.
    pub norms: Tensor<4>,
    /// Shortcut branch output.
    pub soft_out: Tensor<4>,
    /// Main branch output.
    pub hard_out: Tensor<4>,
    /// Block output `soft_out + hard_out`.
    pub out: Tensor<4>,
}

/// The SPDNorm residual block (`SPDNormResnetBlock`).
#[derive(Module, Debug)]
pub struct SpdResBlock {
    /// Main path conv 3×3, fin → fmid (spectral norm).
    pub conv_0: SnConv2d,
    /// Main path conv 3×3, fmid → fout (spectral norm).
    pub conv_1: SnConv2d,
    /// Shortcut conv 1×1, fin → fout, no bias (spectral norm).
    pub conv_s: SnConv2d,
    /// Hard SPDNorm before `conv_0`.
    pub norm_0: SpdNorm,
    /// Hard SPDNorm before `conv_1`.
    pub norm_1: SpdNorm,
    /// Soft SPDNorm on the shortcut.
    pub norm_s: SpdNorm,
    /// Prior features for the soft map.
    pub conv_to_f: ConvToF,
    /// `attention.0`: conv 3×3, 2·fin → fin (then sigmoid).
    pub attention: Conv2d,
    /// Hard-map dilation count N.
    pub n: usize,
    /// Hard-map dilation kernel size.
    pub ks: usize,
}

impl SpdResBlock {
    /// Builds the block of `layout` from keys under `prefix` (e.g. `generated.0.block`).
    ///
    /// The unused `v` parameter and the `mask_conv` weight (only its non-zero pattern matters,
    /// and the dilation is computed exactly without it) are read and checked, then dropped.
    pub fn from_source(
        src: &mut ParamSource<'_>,
        prefix: &str,
        u: &UnitLayout,
        nhidden: usize,
    ) -> Result<Self> {
        let (fin, fout, fmid, ks) = (u.fin, u.fout, u.fmid, u.map.ks);
        let _unused_v: Tensor<1> = src.tensor(&format!("{prefix}.v"), [1], Init::Zeros)?;
        let _mask_get: Tensor<4> = src.tensor(
            &format!("{prefix}.mask_conv.mask_conv.weight"),
            [1, 1, ks, ks],
            Init::Normal(INIT_STD),
        )?;
        Ok(Self {
            conv_0: SnConv2d::from_source(
                src,
                &format!("{prefix}.conv_0"),
                fin,
                fmid,
                3,
                1,
                1,
                true,
            )?,
            conv_1: SnConv2d::from_source(
                src,
                &format!("{prefix}.conv_1"),
                fmid,
                fout,
                3,
                1,
                1,
                true,
            )?,
            conv_s: SnConv2d::from_source(
                src,
                &format!("{prefix}.conv_s"),
                fin,
                fout,
                1,
                1,
                0,
                false,
            )?,
            norm_0: SpdNorm::from_source(src, &format!("{prefix}.norm_0"), fin, nhidden)?,
            norm_1: SpdNorm::from_source(src, &format!("{prefix}.norm_1"), fmid, nhidden)?,
            norm_s: SpdNorm::from_source(src, &format!("{prefix}.norm_s"), fin, nhidden)?,
            conv_to_f: ConvToF {
                conv_in: conv2d_from(
                    src,
                    &format!("{prefix}.conv_to_f.0"),
                    3,
                    nhidden,
                    3,
                    1,
                    1,
                    true,
                )?,
                conv_out: conv2d_from(
                    src,
                    &format!("{prefix}.conv_to_f.3"),
                    nhidden,
                    fin,
                    3,
                    1,
                    1,
                    true,
                )?,
            },
            attention: conv2d_from(
                src,
                &format!("{prefix}.attention.0"),
                2 * fin,
                fin,
                3,
                1,
                1,
                true,
            )?,
            n: u.map.n,
            ks,
        })
    }

    /// Runs the block and returns every intermediate.
    ///
    /// # Shapes
    /// `x: [B, fin, h, w]`, `prior: [B, 3, R, R]`, `known: [B, 1, R, R]` (1 = known, R a
    /// multiple of h) → trace with `out: [B, fout, h, w]`.
    pub fn forward_trace(
        &self,
        x: Tensor<4>,
        prior: Tensor<4>,
        known: Tensor<4>,
        decay: Decay,
    ) -> BlockTrace {
        let h = x.dims()[2];
        let c = self.condition(prior, known, h, decay);
        self.trace_cond(x, &c)
    }

    /// Everything of the block that depends only on the prior and the mask (not on z): the
    /// resized prior and mask, the hard map, the prior features of the soft map and γ, β of
    /// the three SPDNorms. About 44% of the generator's FLOPs at the official sizes: computed
    /// once, it serves every sample of the same photo.
    ///
    /// # Shapes
    /// `prior: [B, 3, R, R]`, `known: [B, 1, R, R]` (1 = known), block size `h`.
    pub fn condition(
        &self,
        prior: Tensor<4>,
        known: Tensor<4>,
        h: usize,
        decay: Decay,
    ) -> BlockCond {
        let stride = (prior.dims()[2] / h).max(1);
        let pr = nearest_strided_tensor(prior, stride);
        let mr = nearest_strided_tensor(known, stride);
        let hard = hard_map_exact(mr.clone(), self.n, self.ks, decay);
        let fp = self.conv_to_f.forward(pr.clone());
        let (g0, b0) = self.norm_0.modulation(pr.clone());
        let (g1, b1) = self.norm_1.modulation(pr.clone());
        let (gs, bs) = self.norm_s.modulation(pr.clone());
        BlockCond {
            pr,
            mr,
            hard,
            fp,
            g0,
            b0,
            g1,
            b1,
            gs,
            bs,
        }
    }

    /// Runs the block with precomputed conditioning and keeps every intermediate: the soft
    /// map `Ds = (1 − Mr)⊙σ(conv([conv_to_f(Pr), x])) + Mr`, the three SPDNorm outputs and both
    /// branches. Tensors are shared handles, so keeping them costs no copies.
    ///
    /// # Shapes
    /// `x: [B, fin, h, w]`, conditioning of batch 1 or B → trace with `out: [B, fout, h, w]`.
    pub fn trace_cond(&self, x: Tensor<4>, c: &BlockCond) -> BlockTrace {
        let [b, fin, h, w] = x.dims();
        let fp = if c.fp.dims()[0] == b {
            c.fp.clone()
        } else {
            c.fp.clone().expand([b, fin, h, w])
        };
        let att = sigmoid(self.attention.forward(Tensor::cat(vec![fp, x.clone()], 1)));
        let soft = (c.mr.clone().neg() + 1.0) * att + c.mr.clone();
        let norms = SpdNorm::apply(x.clone(), c.gs.clone(), c.bs.clone(), soft.clone());
        let soft_out = self.conv_s.forward(norms.clone());
        let norm0 = SpdNorm::apply(x, c.g0.clone(), c.b0.clone(), c.hard.clone());
        let h1 = self.conv_0.forward(leaky_relu(norm0.clone(), 0.2));
        let norm1 = SpdNorm::apply(h1, c.g1.clone(), c.b1.clone(), c.hard.clone());
        let hard_out = self.conv_1.forward(leaky_relu(norm1.clone(), 0.2));
        let out = soft_out.clone() + hard_out.clone();
        BlockTrace {
            pr: c.pr.clone(),
            mr: c.mr.clone(),
            hard: c.hard.clone(),
            soft,
            norm0,
            norm1,
            norms,
            soft_out,
            hard_out,
            out,
        }
    }

    /// Runs the block with precomputed conditioning (batch 1 or the batch of `x`).
    ///
    /// # Shapes
    /// `x: [B, fin, h, w]` → `[B, fout, h, w]` and, if asked, `(hard [B|1,1,h,w], soft [B,fin,h,w])`.
    pub fn forward_cond(
        &self,
        x: Tensor<4>,
        c: &BlockCond,
        want_maps: bool,
    ) -> (Tensor<4>, Option<(Tensor<4>, Tensor<4>)>) {
        let t = self.trace_cond(x, c);
        let maps = want_maps.then_some((t.hard, t.soft));
        (t.out, maps)
    }

    /// Runs the block; also returns `(hard, soft)` maps when `want_maps`.
    ///
    /// # Shapes
    /// As [`Self::forward_trace`].
    pub fn forward(
        &self,
        x: Tensor<4>,
        prior: Tensor<4>,
        known: Tensor<4>,
        decay: Decay,
        want_maps: bool,
    ) -> (Tensor<4>, Option<(Tensor<4>, Tensor<4>)>) {
        let h = x.dims()[2];
        let c = self.condition(prior, known, h, decay);
        self.forward_cond(x, &c, want_maps)
    }
}

/// The hard map of a batch of known maps `[B, 1, h, w]`, computed on the host with the exact
/// CPU algorithm ([`hard_map_fast`], bit-identical to the reference) and uploaded.
///
/// The map depends on the mask only (no gradient flows through it) and is at most 128² per
/// sample, so the round trip is cheap. It also sidesteps a Burn 0.22 wgpu fusion bug: the
/// max-pool formulation ([`hard_map_tensor`], exact on the CPU backend) returns wrong rings on
/// wgpu when the pooled map and its input meet in one fused element-wise kernel
/// (`tests/wgpu.rs`). Falls back to the tensor version if the read-back fails.
pub fn hard_map_exact(mr: Tensor<4>, n: usize, ks: usize, decay: Decay) -> Tensor<4> {
    let [b, c, h, w] = mr.dims();
    let device = mr.device();
    match crate::model::tensor_to_vec(mr.clone()) {
        Ok(v) => {
            let mut out = Vec::with_capacity(v.len());
            for plane in v.chunks(h * w) {
                out.extend(hard_map_fast(plane, h, w, n, ks, decay));
            }
            Tensor::from_data(TensorData::new(out, [b, c, h, w]), &device)
        }
        Err(_) => hard_map_tensor(mr, n, ks, decay),
    }
}

/// The z-independent part of one block's computation (see [`SpdResBlock::condition`]).
#[derive(Debug, Clone)]
pub struct BlockCond {
    /// Prior resized to the block's size `[B, 3, h, w]`.
    pub pr: Tensor<4>,
    /// Known map at the block's size `[B, 1, h, w]`.
    pub mr: Tensor<4>,
    /// Hard map `[B, 1, h, w]`.
    pub hard: Tensor<4>,
    /// `conv_to_f(Pr)` `[B, fin, h, w]`.
    pub fp: Tensor<4>,
    /// γ of `norm_0`.
    pub g0: Tensor<4>,
    /// β of `norm_0`.
    pub b0: Tensor<4>,
    /// γ of `norm_1`.
    pub g1: Tensor<4>,
    /// β of `norm_1`.
    pub b1: Tensor<4>,
    /// γ of `norm_s`.
    pub gs: Tensor<4>,
    /// β of `norm_s`.
    pub bs: Tensor<4>,
}

/// The z-independent conditioning of the whole generator for one prior and mask.
#[derive(Debug, Clone)]
pub struct GenCond {
    /// Per unit.
    pub blocks: Vec<BlockCond>,
}

/// One generator unit: residual block, then a learned 2× upsampling.
#[derive(Module, Debug)]
pub struct GenUnit {
    /// `generated.{k}.block`.
    pub block: SpdResBlock,
    /// `generated.{k}.up`: ConvTranspose2d(fout, fout, 4, 2, 1).
    pub up: ConvTranspose2d,
}

/// The maps one unit used, for inspection.
#[derive(Debug, Clone)]
pub struct UnitMaps {
    /// Hard map given to `norm_0` and `norm_1`: `[B, 1, h, w]`.
    pub hard: Tensor<4>,
    /// Soft map given to `norm_s`: `[B, fin, h, w]`.
    pub soft: Tensor<4>,
}

/// The PD-GAN generator (`SPDNormGenerator`): fc → 6 units → LeakyReLU → conv → tanh.
#[derive(Module, Debug)]
pub struct Generator {
    /// `fc`: z → 16·nf·latent².
    pub fc: Linear,
    /// `generated.0..5`.
    pub generated: Vec<GenUnit>,
    /// `conv_img`: conv 3×3, nf → 3.
    pub conv_img: Conv2d,
    /// fc output channels.
    pub fc_channels: usize,
    /// Latent grid side.
    pub latent: usize,
    /// Length of z.
    pub z_dim: usize,
}

impl Generator {
    /// Builds the generator of `cfg` with keys as in the authors' state dict.
    pub fn from_source(src: &mut ParamSource<'_>, cfg: &GeneratorConfig) -> Result<Self> {
        let fc_out = cfg.fc_channels() * cfg.latent * cfg.latent;
        let fc = Linear {
            weight: src.linear_weight("fc.weight", cfg.z_dim, fc_out, Init::Normal(INIT_STD))?,
            bias: Some(src.param("fc.bias", [fc_out], Init::Zeros)?),
        };
        let mut generated = Vec::with_capacity(6);
        for (k, u) in cfg.units().iter().enumerate() {
            generated.push(GenUnit {
                block: SpdResBlock::from_source(
                    src,
                    &format!("generated.{k}.block"),
                    u,
                    cfg.nhidden,
                )?,
                up: conv_t_from(src, &format!("generated.{k}.up"), u.fout, u.fout)?,
            });
        }
        let conv_img = conv2d_from(src, "conv_img", cfg.nf, 3, 3, 1, 1, true)?;
        Ok(Self {
            fc,
            generated,
            conv_img,
            fc_channels: cfg.fc_channels(),
            latent: cfg.latent,
            z_dim: cfg.z_dim,
        })
    }

    /// The fc layer reshaped to the latent grid.
    ///
    /// # Shapes
    /// `z: [B, z_dim] → [B, 16·nf, latent, latent]`.
    pub fn latent_grid(&self, z: Tensor<2>) -> Tensor<4> {
        let b = z.dims()[0];
        self.fc
            .forward(z)
            .reshape([b, self.fc_channels, self.latent, self.latent])
    }

    /// Precomputes everything that depends only on the prior and the mask (see
    /// [`SpdResBlock::condition`]); pass the result to [`Self::forward_cond`] for any number of
    /// z. With batch-1 inputs it serves batches of any size.
    ///
    /// # Shapes
    /// `prior: [B, 3, R, R]`, `known: [B, 1, R, R]` (1 = known).
    pub fn condition(&self, prior: Tensor<4>, known: Tensor<4>, decay: Decay) -> GenCond {
        let blocks = self
            .generated
            .iter()
            .enumerate()
            .map(|(k, u)| {
                u.block
                    .condition(prior.clone(), known.clone(), self.latent << k, decay)
            })
            .collect();
        GenCond { blocks }
    }

    /// The raw output for `z` under precomputed conditioning.
    ///
    /// # Shapes
    /// `z: [B, z_dim]` → `[B, 3, R, R]` in [-1, 1]; maps per unit if asked.
    pub fn forward_cond(
        &self,
        z: Tensor<2>,
        cond: &GenCond,
        want_maps: bool,
    ) -> (Tensor<4>, Vec<UnitMaps>) {
        let mut x = self.latent_grid(z);
        let mut maps = Vec::new();
        for (unit, c) in self.generated.iter().zip(&cond.blocks) {
            let (y, m) = unit.block.forward_cond(x, c, want_maps);
            if let Some((hard, soft)) = m {
                maps.push(UnitMaps { hard, soft });
            }
            x = unit.up.forward(y);
        }
        let out = tanh(self.conv_img.forward(leaky_relu(x, 0.2)));
        (out, maps)
    }

    /// The raw generator output (tanh, not composited) and, if asked, every unit's maps.
    ///
    /// # Shapes
    /// `z: [B, z_dim]`, `prior: [B, 3, R, R]` in [-1, 1], `known: [B, 1, R, R]` (1 = known)
    /// → `[B, 3, R, R]` in [-1, 1].
    pub fn forward(
        &self,
        z: Tensor<2>,
        prior: Tensor<4>,
        known: Tensor<4>,
        decay: Decay,
        want_maps: bool,
    ) -> (Tensor<4>, Vec<UnitMaps>) {
        let cond = self.condition(prior, known, decay);
        self.forward_cond(z, &cond, want_maps)
    }
}
