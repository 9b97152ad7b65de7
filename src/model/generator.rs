//! Stage 2: SPDNorm, the SPD residual block and the PD-GAN generator (docs/network.md §3).

use burn::nn::Linear;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, sigmoid, tanh};

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::maps::{Decay, hard_map_fast, hard_map_tensor, nearest_strided_tensor};
use crate::model::config::{GeneratorConfig, UnitLayout};
use crate::model::layers::cpu::{
    self, HostConv, HostConvT, Planes, instance_norm_inplace, on_host, plain, spd_norm,
    spd_norm_pair,
};
use crate::model::layers::{
    INIT_STD, NORM_EPS, SnConv2d, conv, conv_t, conv_t_from, conv2d_from, instance_norm, normgrad,
    positional_norm,
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
        let a = relu(conv(&self.mlp_activate, prior));
        (conv(&self.mlp_gamma, a.clone()), conv(&self.mlp_beta, a))
    }

    /// γ and β on the host path in one GEMM (their two convolutions read the same input), each
    /// multiplied by `d` (`D⊙γ`, `D⊙β`) when given.
    ///
    /// # Shapes
    /// `prior: [B, 3, h, w]`, `d: [B or 1, 1, h, w]` → two `[B, C, h, w]`.
    fn modulation_host(&self, prior: &Planes, d: Option<&Planes>) -> Result<(Planes, Planes)> {
        let a = HostConv::from_conv2d(&self.mlp_activate)?.forward(prior, |_, _, _, seg| {
            seg.iter_mut().for_each(|v| *v = cpu::relu(*v))
        })?;
        let c = self.mlp_gamma.weight.dims()[0];
        let bias = |conv: &Conv2d| {
            conv.bias
                .as_ref()
                .map_or_else(|| Tensor::zeros([c], &Device::flex()), |b| b.val())
        };
        let both = HostConv::new(
            Tensor::cat(
                vec![self.mlp_gamma.weight.val(), self.mlp_beta.weight.val()],
                0,
            ),
            Some(Tensor::cat(
                vec![bias(&self.mlp_gamma), bias(&self.mlp_beta)],
                0,
            )),
            self.mlp_gamma.stride[0],
            1,
        )?;
        let gb = both.forward(&a, |b, _, off, seg| {
            if let Some(d) = d {
                let dp = &d.plane(b, 0)[off..];
                seg.iter_mut().zip(dp).for_each(|(v, dv)| *v *= dv);
            }
        })?;
        Ok(split_channels(gb, c))
    }

    /// `x̂ ⊙ (1 + D⊙γ) + D⊙β`, broadcasting γ, β, D over the batch when theirs is 1.
    ///
    /// # Shapes
    /// `x: [B, C, h, w]`, `gamma, beta: [B or 1, C, h, w]`, `d: [B or 1, 1 or C, h, w]`
    /// → `[B, C, h, w]`.
    pub fn apply(x: Tensor<4>, gamma: Tensor<4>, beta: Tensor<4>, d: Tensor<4>) -> Tensor<4> {
        Self::modulate(positional_norm(x), gamma, beta, d)
    }

    /// The modulation alone, `x̂ ⊙ (1 + D⊙γ) + D⊙β` of an already normalised `x̂` (training on
    /// flex takes one fused operation with its own gradient).
    ///
    /// # Shapes
    /// As [`Self::apply`].
    pub fn modulate(xn: Tensor<4>, gamma: Tensor<4>, beta: Tensor<4>, d: Tensor<4>) -> Tensor<4> {
        match normgrad::modulate(&xn, &gamma, &beta, &d) {
            Some(y) => y,
            None => xn.clone() + xn * (d.clone() * gamma) + d * beta,
        }
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
        conv(
            &self.conv_out,
            relu(instance_norm(conv(&self.conv_in, prior))),
        )
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
        BlockCond(CondRepr::Tensors(Box::new(self.tensor_cond(pr, mr, hard))))
    }

    /// The Burn-tensor conditioning from the resized prior, mask and hard map.
    fn tensor_cond(&self, pr: Tensor<4>, mr: Tensor<4>, hard: Tensor<4>) -> TensorCond {
        let fp = self.conv_to_f.forward(pr.clone());
        let (g0, b0) = self.norm_0.modulation(pr.clone());
        let (g1, b1) = self.norm_1.modulation(pr.clone());
        let (gs, bs) = self.norm_s.modulation(pr.clone());
        TensorCond {
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

    /// The host-path conditioning (flex inference): everything [`Self::condition`] computes,
    /// plus the attention's prior half (`conv(fp, W_att[:, :fin]) + b`), `D⊙γ`, `D⊙β` of the two
    /// hard SPDNorms and the spectral-normalised weights, once per photo.
    fn condition_host(
        &self,
        pr: Planes,
        mr: Planes,
        decay: Decay,
        up: &ConvTranspose2d,
    ) -> Result<HostBlockCond> {
        let eps = NORM_EPS as f32;
        let mut hard = Planes::zeros(mr.n, 1, mr.h, mr.w);
        for (dst, src) in hard.data.chunks_mut(mr.hw()).zip(mr.data.chunks(mr.hw())) {
            dst.copy_from_slice(&hard_map_fast(src, mr.h, mr.w, self.n, self.ks, decay));
        }
        let mut f1 = HostConv::from_conv2d(&self.conv_to_f.conv_in)?.forward(&pr, plain)?;
        instance_norm_inplace(&mut f1, eps, None, cpu::relu);
        let fp = HostConv::from_conv2d(&self.conv_to_f.conv_out)?.forward(&f1, plain)?;
        let w = self.attention.weight.val();
        let [fin, fin2, _, _] = w.dims();
        if fin2 != 2 * fin {
            return Err(Error::Backend(format!(
                "attention takes {fin2} channels, expected 2·{fin}"
            )));
        }
        // The two halves of the weight as column ranges of its [fin, 2·fin·9] matrix (views).
        let w2 = w.reshape([fin, 2 * fin * 9]);
        let att_bias = self.attention.bias.as_ref().map(|b| b.val());
        let afp = HostConv::from_matrix(w2.clone().narrow(1, 0, fin * 9), att_bias, fin, 3, 1, 1)?
            .forward(&fp, plain)?;
        let att_x = HostConv::from_matrix(w2.narrow(1, fin * 9, fin * 9), None, fin, 3, 1, 1)?;
        let (gs, bs) = self.norm_s.modulation_host(&pr, None)?;
        let (t0, w0) = self.norm_0.modulation_host(&pr, Some(&hard))?;
        let (t1, w1) = self.norm_1.modulation_host(&pr, Some(&hard))?;
        let sn = |c: &SnConv2d| {
            HostConv::new(
                c.weight(),
                c.bias.as_ref().map(|b| b.val()),
                c.stride,
                c.pad,
            )
        };
        Ok(HostBlockCond {
            pr,
            mr,
            hard,
            afp,
            gs,
            bs,
            t0,
            w0,
            t1,
            w1,
            att_x,
            conv_0: sn(&self.conv_0)?,
            conv_1: sn(&self.conv_1)?,
            conv_s: sn(&self.conv_s)?,
            up: HostConvT::from_conv_t(up)?,
        })
    }

    /// Runs the block with precomputed conditioning and keeps every intermediate: the soft
    /// map `Ds = (1 − Mr)⊙σ(conv([conv_to_f(Pr), x])) + Mr`, the three SPDNorm outputs and both
    /// branches. Tensors are shared handles, so keeping them costs no copies.
    ///
    /// # Shapes
    /// `x: [B, fin, h, w]`, conditioning of batch 1 or B → trace with `out: [B, fout, h, w]`.
    pub fn trace_cond(&self, x: Tensor<4>, c: &BlockCond) -> BlockTrace {
        let c = match &c.0 {
            CondRepr::Tensors(t) => t.as_ref().clone(),
            CondRepr::Host(hc) => self.tensor_cond(
                hc.pr.clone().into_tensor(),
                hc.mr.clone().into_tensor(),
                hc.hard.clone().into_tensor(),
            ),
        };
        let [b, fin, h, w] = x.dims();
        let fp = if c.fp.dims()[0] == b {
            c.fp.clone()
        } else {
            c.fp.clone().expand([b, fin, h, w])
        };
        let att = sigmoid(conv(&self.attention, Tensor::cat(vec![fp, x.clone()], 1)));
        let soft = (c.mr.clone().neg() + 1.0) * att + c.mr.clone();
        // Both SPDNorms of x normalise it the same way: once is enough.
        let xn = positional_norm(x);
        let norms = SpdNorm::modulate(xn.clone(), c.gs.clone(), c.bs.clone(), soft.clone());
        let soft_out = self.conv_s.forward(norms.clone());
        let norm0 = SpdNorm::modulate(xn, c.g0.clone(), c.b0.clone(), c.hard.clone());
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
        if let CondRepr::Host(hc) = &c.0
            && on_host(&x)
            && let Ok((y, maps)) =
                Planes::from_tensor(x.clone()).and_then(|xs| hc.forward(&xs, want_maps))
        {
            return (y.into_tensor(), maps);
        }
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

/// Splits `[n, c0 + c1, h, w]` after channel `c0`.
fn split_channels(p: Planes, c0: usize) -> (Planes, Planes) {
    let (n, c, hw) = (p.n, p.c, p.hw());
    let mut a = Vec::with_capacity(n * c0 * hw);
    let mut b = Vec::with_capacity(n * (c - c0) * hw);
    for chunk in p.data.chunks(c * hw) {
        a.extend_from_slice(&chunk[..c0 * hw]);
        b.extend_from_slice(&chunk[c0 * hw..]);
    }
    let mk = |data, c| Planes {
        data,
        n,
        c,
        h: p.h,
        w: p.w,
    };
    (mk(a, c0), mk(b, c - c0))
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

/// The z-independent part of one block's computation (see [`SpdResBlock::condition`]): Burn
/// tensors, or host buffers for the flex inference path.
#[derive(Debug, Clone)]
pub struct BlockCond(CondRepr);

#[derive(Debug, Clone)]
enum CondRepr {
    Tensors(Box<TensorCond>),
    Host(Arc<HostBlockCond>),
}

impl BlockCond {
    /// Whether the conditioning lives on the host path (flex inference).
    pub fn is_host(&self) -> bool {
        matches!(self.0, CondRepr::Host(_))
    }
}

/// The conditioning of one block as Burn tensors.
#[derive(Debug, Clone)]
struct TensorCond {
    /// Prior resized to the block's size `[B, 3, h, w]`.
    pr: Tensor<4>,
    /// Known map at the block's size `[B, 1, h, w]`.
    mr: Tensor<4>,
    /// Hard map `[B, 1, h, w]`.
    hard: Tensor<4>,
    /// `conv_to_f(Pr)` `[B, fin, h, w]`.
    fp: Tensor<4>,
    /// γ of `norm_0`.
    g0: Tensor<4>,
    /// β of `norm_0`.
    b0: Tensor<4>,
    /// γ of `norm_1`.
    g1: Tensor<4>,
    /// β of `norm_1`.
    b1: Tensor<4>,
    /// γ of `norm_s`.
    gs: Tensor<4>,
    /// β of `norm_s`.
    bs: Tensor<4>,
}

/// The conditioning of one block on the host path (maps batch 1 or B), with the unit's
/// convolutions ready for it.
#[derive(Debug, Clone)]
struct HostBlockCond {
    /// Prior at the block's size `[B, 3, h, w]`.
    pr: Planes,
    /// Known map `[B, 1, h, w]`.
    mr: Planes,
    /// Hard map `[B, 1, h, w]`.
    hard: Planes,
    /// The prior half of the attention conv plus its bias `[B, fin, h, w]`.
    afp: Planes,
    /// γ, β of `norm_s`.
    gs: Planes,
    bs: Planes,
    /// `D⊙γ`, `D⊙β` of `norm_0` and `norm_1` (D = hard map).
    t0: Planes,
    w0: Planes,
    t1: Planes,
    w1: Planes,
    /// The `x` half of the attention conv (no bias).
    att_x: HostConv,
    /// Effective (spectral-normalised) convolutions.
    conv_0: HostConv,
    conv_1: HostConv,
    conv_s: HostConv,
    /// The unit's upsampling.
    up: HostConvT,
}

impl HostBlockCond {
    /// The block for one batch of `x` (what [`SpdResBlock::trace_cond`] computes, without the
    /// intermediates): `[B, fin, h, w] → [B, fout, h, w]`, and `(hard, soft)` if asked.
    fn forward(
        &self,
        x: &Planes,
        want_maps: bool,
    ) -> Result<(Planes, Option<(Tensor<4>, Tensor<4>)>)> {
        let eps = NORM_EPS as f32;
        let (mr, afp) = (&self.mr, &self.afp);
        let soft = self.att_x.forward(x, |b, c, off, seg| {
            let a = &afp.plane(b, c)[off..];
            let m = &mr.plane(b, 0)[off..];
            for ((v, av), mv) in seg.iter_mut().zip(a).zip(m) {
                let att = cpu::sigmoid(*v + av);
                *v = (-mv + 1.0) * att + mv;
            }
        })?;
        let (norms, a0) = spd_norm_pair(x, &soft, &self.gs, &self.bs, &self.t0, &self.w0, eps);
        let soft_out = self.conv_s.forward_owned(norms, plain)?;
        let h1 = self.conv_0.forward(&a0, plain)?;
        drop(a0);
        let a1 = spd_norm(&h1, &self.t1, &self.w1, eps, cpu::leaky);
        drop(h1);
        let out = self.conv_1.forward(&a1, |b, c, off, seg| {
            let s = &soft_out.plane(b, c)[off..];
            seg.iter_mut().zip(s).for_each(|(v, sv)| *v += sv);
        })?;
        let maps = want_maps.then(|| (self.hard.clone().into_tensor(), soft.into_tensor()));
        Ok((out, maps))
    }
}

/// The z-independent conditioning of the whole generator for one prior and mask.
#[derive(Debug, Clone)]
pub struct GenCond {
    /// Per unit.
    pub blocks: Vec<BlockCond>,
    /// `conv_img` on the host path.
    host_img: Option<Arc<HostConv>>,
}

impl GenCond {
    /// The conditioning of a batch made of `times` copies of this one's batch, one after the
    /// other (`[p₀ … p_{B−1}, p₀ … p_{B−1}, …]`, the order of `repeat_dim(0, times)`): every Burn
    /// tensor is repeated along the batch, so on autodiff the gradients of all copies flow
    /// back into one computation of the conditioning. Training uses it for its two z per
    /// photo instead of conditioning the repeated prior twice. On the host path (flex
    /// inference) the maps are repeated the same way, except a batch-1 conditioning's, which
    /// already serves every image of a batch.
    pub fn repeat_batch(&self, times: usize) -> GenCond {
        let times = times.max(1);
        let blocks = self
            .blocks
            .iter()
            .map(|b| match &b.0 {
                CondRepr::Tensors(t) if times > 1 => {
                    let r = |x: &Tensor<4>| x.clone().repeat_dim(0, times);
                    BlockCond(CondRepr::Tensors(Box::new(TensorCond {
                        pr: r(&t.pr),
                        mr: r(&t.mr),
                        hard: r(&t.hard),
                        fp: r(&t.fp),
                        g0: r(&t.g0),
                        b0: r(&t.b0),
                        g1: r(&t.g1),
                        b1: r(&t.b1),
                        gs: r(&t.gs),
                        bs: r(&t.bs),
                    })))
                }
                CondRepr::Host(h) if times > 1 && h.pr.n > 1 => {
                    let mut c = HostBlockCond::clone(h);
                    for p in [
                        &mut c.pr,
                        &mut c.mr,
                        &mut c.hard,
                        &mut c.afp,
                        &mut c.gs,
                        &mut c.bs,
                        &mut c.t0,
                        &mut c.w0,
                        &mut c.t1,
                        &mut c.w1,
                    ] {
                        *p = p.repeat_batch(times);
                    }
                    BlockCond(CondRepr::Host(Arc::new(c)))
                }
                _ => b.clone(),
            })
            .collect();
        GenCond {
            blocks,
            host_img: self.host_img.clone(),
        }
    }
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
        if on_host(&prior)
            && let Ok(c) = self.condition_host(prior.clone(), known.clone(), decay)
        {
            return c;
        }
        let blocks = self
            .generated
            .iter()
            .enumerate()
            .map(|(k, u)| {
                u.block
                    .condition(prior.clone(), known.clone(), self.latent << k, decay)
            })
            .collect();
        GenCond {
            blocks,
            host_img: None,
        }
    }

    /// [`Self::condition`] on the host path (flex inference).
    fn condition_host(&self, prior: Tensor<4>, known: Tensor<4>, decay: Decay) -> Result<GenCond> {
        let r = prior.dims()[2];
        let mut blocks = Vec::with_capacity(self.generated.len());
        for (k, u) in self.generated.iter().enumerate() {
            let stride = (r / (self.latent << k)).max(1);
            let pr = Planes::from_tensor(nearest_strided_tensor(prior.clone(), stride))?;
            let mr = Planes::from_tensor(nearest_strided_tensor(known.clone(), stride))?;
            let hc = u.block.condition_host(pr, mr, decay, &u.up)?;
            blocks.push(BlockCond(CondRepr::Host(Arc::new(hc))));
        }
        Ok(GenCond {
            blocks,
            host_img: Some(Arc::new(HostConv::from_conv2d(&self.conv_img)?)),
        })
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
        let x = self.latent_grid(z);
        if on_host(&x)
            && let Some(r) = self.forward_cond_host(&x, cond, want_maps)
        {
            return r;
        }
        let mut x = x;
        let mut maps = Vec::new();
        for (unit, c) in self.generated.iter().zip(&cond.blocks) {
            let (y, m) = unit.block.forward_cond(x, c, want_maps);
            if let Some((hard, soft)) = m {
                maps.push(UnitMaps { hard, soft });
            }
            x = conv_t(&unit.up, y);
        }
        let out = tanh(conv(&self.conv_img, leaky_relu(x, 0.2)));
        (out, maps)
    }

    /// [`Self::forward_cond`] on the host path; `None` when the conditioning is not a host one
    /// (or a host kernel failed), and the caller takes the Burn path.
    fn forward_cond_host(
        &self,
        x: &Tensor<4>,
        cond: &GenCond,
        want_maps: bool,
    ) -> Option<(Tensor<4>, Vec<UnitMaps>)> {
        let img = cond.host_img.as_ref()?;
        let hosts: Vec<&HostBlockCond> = cond
            .blocks
            .iter()
            .map(|b| match &b.0 {
                CondRepr::Host(h) => Some(h.as_ref()),
                CondRepr::Tensors(_) => None,
            })
            .collect::<Option<_>>()?;
        let run = || -> Result<(Tensor<4>, Vec<UnitMaps>)> {
            let mut x = Planes::from_tensor(x.clone())?;
            let mut maps = Vec::new();
            for hc in hosts {
                let (y, m) = hc.forward(&x, want_maps)?;
                if let Some((hard, soft)) = m {
                    maps.push(UnitMaps { hard, soft });
                }
                x = hc.up.forward(y)?;
            }
            x.map_inplace(cpu::leaky);
            let out = img.forward(&x, |_, _, _, seg| {
                seg.iter_mut().for_each(|v| *v = v.tanh());
            })?;
            Ok((out.into_tensor(), maps))
        };
        run().ok()
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, PdGan, Preset, tensor_to_vec};

    /// The generator on the Burn ops only: every block conditioned with Burn tensors.
    fn burn_path(
        g: &Generator,
        z: Tensor<2>,
        prior: Tensor<4>,
        known: Tensor<4>,
        decay: Decay,
    ) -> (Tensor<4>, Vec<UnitMaps>) {
        let mut x = g.latent_grid(z);
        let mut maps = Vec::new();
        for unit in &g.generated {
            let (y, m) = unit
                .block
                .forward(x, prior.clone(), known.clone(), decay, true);
            let (hard, soft) = m.unwrap();
            maps.push(UnitMaps { hard, soft });
            x = conv_t(&unit.up, y);
        }
        (tanh(conv(&g.conv_img, leaky_relu(x, 0.2))), maps)
    }

    fn max_rel(a: Tensor<4>, b: Tensor<4>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let (a, b) = (tensor_to_vec(a).unwrap(), tensor_to_vec(b).unwrap());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        a.iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    #[test]
    fn host_path_matches_the_burn_path() {
        let dev = Device::flex();
        let mut cfg = Preset::Small.config();
        cfg.generator.latent = 2; // 128²
        let model = PdGan::random(&cfg, 5, &dev).unwrap();
        let g = &model.generator;
        let r = cfg.resolution();
        dev.seed(1);
        let prior: Tensor<4> = Tensor::random(
            [1, 3, r, r],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &dev,
        );
        let mut known = vec![1.0f32; r * r];
        for y in r / 4..r / 2 {
            for x in r / 3..3 * r / 4 {
                known[y * r + x] = 0.0;
            }
        }
        let known = Tensor::<4>::from_data(TensorData::new(known, [1, 1, r, r]), &dev);
        // Three samples against a batch-1 conditioning (the inference use).
        let z: Tensor<2> = Tensor::random(
            [3, cfg.generator.z_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let decay = cfg.hard_map.decay();
        let cond = g.condition(prior.clone(), known.clone(), decay);
        assert!(cond.blocks.iter().all(BlockCond::is_host));
        let (fast, fast_maps) = g.forward_cond(z.clone(), &cond, true);
        let (slow, slow_maps) =
            burn_path(g, z, prior.repeat_dim(0, 3), known.repeat_dim(0, 3), decay);
        let e = max_rel(fast, slow);
        assert!(e < 1e-4, "output rel err {e}");
        for (k, (f, s)) in fast_maps.into_iter().zip(slow_maps).enumerate() {
            let eh = max_rel(f.hard.repeat_dim(0, 3), s.hard);
            let es = max_rel(f.soft, s.soft);
            assert!(eh == 0.0 && es < 1e-4, "unit {k}: hard {eh}, soft {es}");
        }
    }

    /// A tiny model (latent 2, weights from `model_seed`) on `dev`, and from `data_seed` a
    /// random prior for two photos, their known maps (a box each, in different places) and
    /// four z: what the repeated-conditioning tests feed it.
    fn two_photos_four_z(
        model_seed: u64,
        data_seed: u64,
        dev: &Device,
    ) -> (ModelConfig, PdGan, Tensor<4>, Tensor<4>, Tensor<2>) {
        let mut cfg = Preset::Tiny.config();
        cfg.generator.latent = 2;
        let model = PdGan::random(&cfg, model_seed, dev).unwrap();
        let r = cfg.resolution();
        dev.seed(data_seed);
        let prior: Tensor<4> = Tensor::random(
            [2, 3, r, r],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            dev,
        );
        let mut known = vec![1.0f32; 2 * r * r];
        for (i, v) in known.iter_mut().enumerate() {
            let (b, y, x) = (i / (r * r), (i / r) % r, i % r);
            if y > r / 4 + 3 * b && y < r / 2 + 2 * b && x > r / 3 && x < 3 * r / 4 {
                *v = 0.0;
            }
        }
        let known = Tensor::<4>::from_data(TensorData::new(known, [2, 1, r, r]), dev);
        let z: Tensor<2> = Tensor::random(
            [4, cfg.generator.z_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            dev,
        );
        (cfg, model, prior, known, z)
    }

    /// Training conditions each photo once and repeats it for the two z: outputs and the
    /// gradients of a conditioning weight and a main-path weight match conditioning the
    /// repeated prior.
    #[test]
    fn repeated_conditioning_matches_the_repeated_prior_with_gradients() {
        let dev = Device::flex().autodiff();
        let (cfg, model, prior, known, z) = two_photos_four_z(11, 3, &dev);
        let g = &model.generator;
        let r = cfg.resolution();
        let up: Tensor<4> = Tensor::random(
            [4, 3, r, r],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let decay = cfg.hard_map.decay();
        let run = |once: bool| {
            let out = if once {
                let cond = g
                    .condition(prior.clone(), known.clone(), decay)
                    .repeat_batch(2);
                assert!(!cond.blocks.iter().any(BlockCond::is_host));
                g.forward_cond(z.clone(), &cond, false).0
            } else {
                let (p2, k2) = (
                    prior.clone().repeat_dim(0, 2),
                    known.clone().repeat_dim(0, 2),
                );
                g.forward(z.clone(), p2, k2, decay, false).0
            };
            let grads = (out.clone() * up.clone()).sum().backward();
            let block = &g.generated[1].block;
            let wg = block.norm_0.mlp_gamma.weight.val().grad(&grads).unwrap();
            let wa = block.attention.weight.val().grad(&grads).unwrap();
            (out, wg, wa)
        };
        let (o1, g1, a1) = run(true);
        let (o2, g2, a2) = run(false);
        let e = max_rel(o1, o2);
        assert!(e < 1e-5, "output rel err {e}");
        let e = max_rel(g1, g2);
        assert!(e < 1e-4, "conditioning weight gradient rel err {e}");
        let e = max_rel(a1, a2);
        assert!(e < 1e-4, "attention weight gradient rel err {e}");
    }

    /// The same on the host path (flex inference, batch 2 conditioned, 4 z): repeating the
    /// conditioning gives the fills of conditioning the repeated prior.
    #[test]
    fn a_repeated_host_conditioning_matches_the_repeated_prior() {
        let dev = Device::flex();
        let (cfg, model, prior, known, z) = two_photos_four_z(5, 4, &dev);
        let g = &model.generator;
        let decay = cfg.hard_map.decay();
        let cond = g.condition(prior.clone(), known.clone(), decay);
        assert!(cond.blocks.iter().all(BlockCond::is_host), "the host path");
        let once = g.forward_cond(z.clone(), &cond.repeat_batch(2), false).0;
        let twice = g
            .forward(
                z,
                prior.repeat_dim(0, 2),
                known.repeat_dim(0, 2),
                decay,
                false,
            )
            .0;
        let e = max_rel(once, twice);
        assert!(e < 1e-5, "output rel err {e}");
    }

    #[test]
    fn block_trace_works_from_a_host_conditioning() {
        let dev = Device::flex();
        let mut cfg = Preset::Tiny.config();
        cfg.generator.latent = 2;
        let model = PdGan::random(&cfg, 7, &dev).unwrap();
        let g = &model.generator;
        let r = cfg.resolution();
        let prior: Tensor<4> = Tensor::random(
            [1, 3, r, r],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &dev,
        );
        let known = Tensor::<4>::ones([1, 1, r, r], &dev);
        let cond = g.condition(prior.clone(), known.clone(), Decay::Exp);
        let unit = &g.generated[1];
        let x: Tensor<4> = Tensor::random(
            [1, cfg.generator.units()[1].fin, 4, 4],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let from_host = unit.block.trace_cond(x.clone(), &cond.blocks[1]).out;
        let direct = unit.block.forward_trace(x, prior, known, Decay::Exp).out;
        assert!(max_rel(from_host, direct) < 1e-6);
    }
}
