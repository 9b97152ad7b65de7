//! Building blocks shared by the networks: plain and spectral-normalised convolutions,
//! positional and instance normalisation, and the partial convolution.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use rayon::prelude::*;

use crate::error::Result;
use crate::model::params::{Init, ParamSource};

pub mod cpu;
pub mod gemm;
pub mod grad;
pub mod normgrad;

/// Standard deviation of the authors' `init_weights` (normal, 0.02).
pub const INIT_STD: f32 = 0.02;

/// Epsilon of positional and instance normalisation.
pub const NORM_EPS: f64 = 1e-5;

/// A mask window of [`PartialConv::mask_sums_exact`] with every tap inside the image on a 1.
const WINDOW_FULL: u8 = 1;
/// A mask window with every tap inside the image on a 0.
const WINDOW_EMPTY: u8 = 2;
/// Any other mask window (border, mixed or fractional values).
const WINDOW_MIXED: u8 = 0;

/// A plain 2-D convolution (stride `stride`, symmetric zero padding `pad`) with PyTorch keys
/// `{prefix}.weight` `[cout, cin, k, k]` and `{prefix}.bias` `[cout]`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_from(
    src: &mut ParamSource<'_>,
    prefix: &str,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    bias: bool,
) -> Result<Conv2d> {
    let weight = src.param(
        &format!("{prefix}.weight"),
        [cout, cin, k, k],
        Init::Normal(INIT_STD),
    )?;
    let bias = if bias {
        Some(src.param(&format!("{prefix}.bias"), [cout], Init::Zeros)?)
    } else {
        None
    };
    Ok(Conv2d {
        weight,
        bias,
        stride: [stride, stride],
        kernel_size: [k, k],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(pad, pad, pad, pad),
    })
}

/// Applies a Burn `Conv2d` through [`grad::conv2d`] (the host kernels with hand-written
/// gradients when training on flex) when it is square with equal strides, symmetric explicit
/// padding, no dilation and one group; any other configuration runs Burn's own forward.
///
/// # Shapes
/// `[B, cin, H, W] → [B, cout, H', W']`.
pub fn conv(c: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let pad = match c.padding {
        PaddingConfig2d::Explicit(t, l, b, r) if t == l && l == b && b == r => Some(t),
        PaddingConfig2d::Valid => Some(0),
        _ => None,
    };
    match pad {
        Some(pad)
            if c.stride[0] == c.stride[1]
                && c.dilation == [1, 1]
                && c.groups == 1
                && c.kernel_size[0] == c.kernel_size[1] =>
        {
            grad::conv2d(
                x,
                c.weight.val(),
                c.bias.as_ref().map(|b| b.val()),
                c.stride[0],
                pad,
            )
        }
        _ => c.forward(x),
    }
}

/// Applies a Burn `ConvTranspose2d` through [`grad::conv_transpose2d`] (the host kernels with
/// hand-written gradients when training on flex) when it is square with equal strides and
/// paddings, no output padding, dilation or groups; otherwise Burn's own forward.
///
/// # Shapes
/// `[B, cin, H, W] → [B, cout, H', W']`.
pub fn conv_t(c: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let plain = c.stride[0] == c.stride[1]
        && c.padding[0] == c.padding[1]
        && c.kernel_size[0] == c.kernel_size[1]
        && c.padding_out == [0, 0]
        && c.dilation == [1, 1]
        && c.groups == 1;
    if !plain {
        return c.forward(x);
    }
    grad::conv_transpose2d(
        x,
        c.weight.val(),
        c.bias.as_ref().map(|b| b.val()),
        c.stride[0],
        c.padding[0],
    )
}

/// A transposed convolution `k4 s2 p1` with bias (doubles the spatial size). PyTorch stores the
/// weight as `[cin, cout, k, k]`, which is Burn's layout too.
pub fn conv_t_from(
    src: &mut ParamSource<'_>,
    prefix: &str,
    cin: usize,
    cout: usize,
) -> Result<ConvTranspose2d> {
    let weight = src.param(
        &format!("{prefix}.weight"),
        [cin, cout, 4, 4],
        Init::Normal(INIT_STD),
    )?;
    let bias = Some(src.param(&format!("{prefix}.bias"), [cout], Init::Zeros)?);
    Ok(up_conv_t(weight, bias))
}

/// The units' upsampling layer, `k4 s2 p1`, from a `[cin, cout, 4, 4]` weight and its bias.
pub fn up_conv_t(weight: Param<Tensor<4>>, bias: Option<Param<Tensor<1>>>) -> ConvTranspose2d {
    let [cin, cout, _, _] = weight.dims();
    ConvTranspose2d {
        weight,
        bias,
        stride: [2, 2],
        kernel_size: [4, 4],
        dilation: [1, 1],
        groups: 1,
        padding: [1, 1],
        padding_out: [0, 0],
        channels: [cin, cout],
    }
}

/// A convolution wrapped in PyTorch's spectral norm: stores `weight_orig`, `weight_u` `[cout]`
/// and `weight_v` `[cin·k·k]`; the effective weight is `weight_orig / σ` with
/// `σ = uᵀ (W v)` (W = `weight_orig` reshaped to `[cout, cin·k·k]`).
#[derive(Module, Debug)]
pub struct SnConv2d {
    /// The unnormalised weight `[cout, cin, k, k]`.
    pub weight_orig: Param<Tensor<4>>,
    /// Left singular vector estimate `[cout]` (no gradient).
    pub weight_u: Param<Tensor<1>>,
    /// Right singular vector estimate `[cin·k·k]` (no gradient).
    pub weight_v: Param<Tensor<1>>,
    /// Optional bias `[cout]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Stride.
    pub stride: usize,
    /// Symmetric zero padding.
    pub pad: usize,
}

/// PyTorch's `F.normalize` with eps 1e-12.
fn normalize(x: Tensor<1>) -> Tensor<1> {
    let norm = x.clone().powi_scalar(2).sum().sqrt().clamp_min(1e-12);
    x / norm
}

impl SnConv2d {
    /// Builds from `{prefix}.weight_orig`, `.weight_u`, `.weight_v` and (if `bias`) `.bias`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_source(
        src: &mut ParamSource<'_>,
        prefix: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
        bias: bool,
    ) -> Result<Self> {
        Ok(Self {
            weight_orig: src.param(
                &format!("{prefix}.weight_orig"),
                [cout, cin, k, k],
                Init::Normal(INIT_STD),
            )?,
            weight_u: src.buffer(&format!("{prefix}.weight_u"), [cout], Init::UnitVector)?,
            weight_v: src.buffer(
                &format!("{prefix}.weight_v"),
                [cin * k * k],
                Init::UnitVector,
            )?,
            bias: if bias {
                Some(src.param(&format!("{prefix}.bias"), [cout], Init::Zeros)?)
            } else {
                None
            },
            stride,
            pad,
        })
    }

    /// The eval-mode effective weight `W_orig / (uᵀ W v)` with the stored u and v.
    pub fn weight(&self) -> Tensor<4> {
        let w = self.weight_orig.val();
        let [o, i, kh, kw] = w.dims();
        let wm: Tensor<2> = w.clone().reshape([o, i * kh * kw]);
        let u = self.weight_u.val().detach();
        let v = self.weight_v.val().detach();
        let sigma = sigma_of(wm, u, v);
        w / sigma.reshape([1, 1, 1, 1])
    }

    /// One train-mode power iteration (PyTorch's spectral norm in training): returns the updated
    /// module (new u, v) and `σ` computed with them.
    ///
    /// `v ← normalize(Wᵀu)`, `u ← normalize(W v)`, `σ = uᵀ W v`.
    pub fn power_iteration(mut self) -> (Self, Tensor<1>) {
        let w = self.weight_orig.val().detach();
        let [o, i, kh, kw] = w.dims();
        let wm: Tensor<2> = w.reshape([o, i * kh * kw]);
        let u = self.weight_u.val().detach();
        let v = normalize(
            wm.clone()
                .transpose()
                .matmul(u.reshape([o, 1]))
                .reshape([i * kh * kw]),
        );
        let u = normalize(
            wm.clone()
                .matmul(v.clone().reshape([i * kh * kw, 1]))
                .reshape([o]),
        );
        let sigma = sigma_of(wm, u.clone(), v.clone());
        self.weight_u = self.weight_u.map(|_| u);
        self.weight_v = self.weight_v.map(|_| v);
        (self, sigma)
    }

    /// Applies the convolution with the eval-mode weight.
    ///
    /// # Shapes
    /// `[B, cin, H, W] → [B, cout, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        grad::conv2d(
            x,
            self.weight(),
            self.bias.as_ref().map(|b| b.val()),
            self.stride,
            self.pad,
        )
    }
}

fn sigma_of(wm: Tensor<2>, u: Tensor<1>, v: Tensor<1>) -> Tensor<1> {
    let [o, n] = wm.dims();
    let wv = wm.matmul(v.reshape([n, 1])).reshape([o]);
    (u * wv).sum()
}

/// Positional normalisation (Li et al.): at each pixel, normalise across channels with the
/// mean and the **unbiased** variance, eps 1e-5. No parameters.
///
/// # Shapes
/// `[B, C, H, W] → [B, C, H, W]` (C ≥ 2).
pub fn positional_norm(x: Tensor<4>) -> Tensor<4> {
    // Training on flex: one fused operation with its own gradient (normgrad).
    if let Some(y) = normgrad::norm(&x, normgrad::NormAxis::Pixel) {
        return y;
    }
    let c = x.dims()[1];
    let mean = x.clone().mean_dim(1);
    let centred = x - mean;
    let var = centred.clone().powi_scalar(2).sum_dim(1) / ((c.max(2) - 1) as f64);
    centred / (var + NORM_EPS).sqrt()
}

/// Instance normalisation without affine parameters (biased variance, eps 1e-5), as
/// `nn.InstanceNorm2d(affine=False)`.
///
/// # Shapes
/// `[B, C, H, W] → [B, C, H, W]`.
pub fn instance_norm(x: Tensor<4>) -> Tensor<4> {
    if let Some(y) = normgrad::norm(&x, normgrad::NormAxis::Plane) {
        return y;
    }
    let [b, c, h, w] = x.dims();
    let flat: Tensor<3> = x.reshape([b, c, h * w]);
    let mean = flat.clone().mean_dim(2);
    let centred = flat - mean;
    let var = centred.clone().powi_scalar(2).mean_dim(2);
    (centred / (var + NORM_EPS).sqrt()).reshape([b, c, h, w])
}

/// `nn.InstanceNorm2d(C, affine=True)`: keys `{prefix}.weight`, `{prefix}.bias` `[C]`.
#[derive(Module, Debug)]
pub struct InstanceNormAffine {
    /// Scale `[C]`.
    pub weight: Param<Tensor<1>>,
    /// Shift `[C]`.
    pub bias: Param<Tensor<1>>,
}

impl InstanceNormAffine {
    /// Builds from `{prefix}.weight` and `{prefix}.bias`.
    pub fn from_source(src: &mut ParamSource<'_>, prefix: &str, c: usize) -> Result<Self> {
        Ok(Self {
            weight: src.param(&format!("{prefix}.weight"), [c], Init::Ones)?,
            bias: src.param(&format!("{prefix}.bias"), [c], Init::Zeros)?,
        })
    }

    /// # Shapes
    /// `[B, C, H, W] → [B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = x.dims()[1];
        let y = instance_norm(x);
        y * self.weight.val().reshape([1, c, 1, 1]) + self.bias.val().reshape([1, c, 1, 1])
    }
}

/// The authors' partial convolution (no bias): `o = conv(x⊙m, W_in)`, `s = conv(m, W_mask)`,
/// output `o / s` where `s ≠ 0`, else 0; new mask 1 where `s ≠ 0`.
///
/// `W_mask` is used exactly as stored: the authors' init re-randomises it, so `s` is a random
/// weighted window sum, not a pixel count (docs/network.md §2.1).
#[derive(Module, Debug)]
pub struct PartialConv {
    /// `input_conv.weight` `[cout, cin, k, k]`.
    pub input_conv: Param<Tensor<4>>,
    /// `mask_conv.weight` `[cout, cin, k, k]` (frozen).
    pub mask_conv: Param<Tensor<4>>,
    /// Stride.
    pub stride: usize,
    /// Symmetric zero padding.
    pub pad: usize,
}

impl PartialConv {
    /// Builds from `{prefix}.input_conv.weight` and `{prefix}.mask_conv.weight`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_source(
        src: &mut ParamSource<'_>,
        prefix: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Result<Self> {
        Ok(Self {
            input_conv: src.param(
                &format!("{prefix}.input_conv.weight"),
                [cout, cin, k, k],
                Init::Normal(INIT_STD),
            )?,
            mask_conv: src.buffer(
                &format!("{prefix}.mask_conv.weight"),
                [cout, cin, k, k],
                Init::Normal(INIT_STD),
            )?,
            stride,
            pad,
        })
    }

    /// The same convolution with an all-ones mask kernel: `s` becomes the number of valid
    /// inputs under the window, the renormalisation of the paper's partial convolution
    /// (Liu et al. 2018, as naoto0804 writes it: no window-size factor) that the authors'
    /// constructor meant before their `init_weights` re-randomised the kernel
    /// (docs/network.md §2.1, §9 #9).
    pub fn with_unit_mask(self) -> Self {
        Self {
            mask_conv: self.mask_conv.map(|w| w.ones_like()),
            ..self
        }
    }

    /// # Shapes
    /// `x: [B, cin, H, W]`, `m: [B, cin, H, W]` (1 = valid) → `(out, new_mask)`, both
    /// `[B, cout, H', W']`.
    pub fn forward(&self, x: Tensor<4>, m: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let (st, pad) = (self.stride, self.pad);
        let s = self.mask_sums_training(&m);
        let o = grad::conv2d(x * m.clone(), self.input_conv.val(), None, st, pad);
        let s = match s {
            Some(s) => s,
            None => grad::conv2d(m, self.mask_conv.val().detach(), None, st, pad).detach(),
        };
        let hole = s.clone().equal_elem(0.0);
        let divisor = s.mask_fill(hole.clone(), 1.0);
        let out = (o / divisor).mask_fill(hole.clone(), 0.0);
        let new_mask = hole.bool_not().float();
        (out, new_mask)
    }

    /// The host path of [`Self::forward`] (flex inference), with `pre` applied to `x` first
    /// (the encoder's LeakyReLU). A mask whose channels all agree is kept as one plane
    /// (`m.c == 1`): its convolution then runs on one channel with the mask kernel summed over
    /// the input channels, in f64 (see [`Self::mask_sums_exact`]). The new mask is one plane again when
    /// every output channel has the same holes (always, unless the mask kernel has exact zeros).
    ///
    /// # Shapes
    /// `x: [B, cin, H, W]`, `m: [B, cin or 1, H, W]` → `(out [B, cout, H', W'], mask [B, cout
    /// or 1, H', W'])`.
    pub fn forward_host(
        &self,
        x: &cpu::Planes,
        m: &cpu::Planes,
        pre: fn(f32) -> f32,
    ) -> Result<(cpu::Planes, cpu::Planes)> {
        let hw = x.hw();
        let mut xm = x.clone();
        xm.data.par_chunks_mut(hw).enumerate().for_each(|(idx, p)| {
            let mp = m.plane(idx / x.c, if m.c == 1 { 0 } else { idx % x.c });
            p.iter_mut().zip(mp).for_each(|(v, mv)| *v = pre(*v) * mv);
        });
        let s = if m.c == 1 {
            self.mask_sums_exact(m)?
        } else {
            cpu::HostConv::new(self.mask_conv.val(), None, self.stride, self.pad)?
                .forward(m, cpu::plain)?
        };
        let out = cpu::HostConv::new(self.input_conv.val(), None, self.stride, self.pad)?.forward(
            &xm,
            |b, c, off, seg| {
                let sp = &s.plane(b, c)[off..];
                seg.iter_mut().zip(sp).for_each(|(v, sv)| {
                    *v = if *sv == 0.0 { 0.0 } else { *v / sv };
                });
            },
        )?;
        let shw = s.hw();
        let same = (0..s.n).all(|b| {
            let p0 = s.plane(b, 0);
            (1..s.c).all(|c| {
                s.plane(b, c)
                    .iter()
                    .zip(p0)
                    .all(|(a, z)| (*a == 0.0) == (*z == 0.0))
            })
        });
        let planes = if same { 1 } else { s.c };
        let mut mask = cpu::Planes::zeros(s.n, planes, s.h, s.w);
        for (idx, dst) in mask.data.chunks_mut(shw).enumerate() {
            let (b, c) = (idx / planes, idx % planes);
            dst.iter_mut()
                .zip(s.plane(b, c))
                .for_each(|(d, sv)| *d = if *sv == 0.0 { 0.0 } else { 1.0 });
        }
        Ok((out, mask))
    }

    /// The mask convolution `s` when training on flex with a mask whose channels all agree (the
    /// networks' masks always do): [`Self::mask_sums_exact`] on one plane, as a constant on
    /// `m`'s device, instead of a full convolution of every mask channel (as costly as the
    /// input convolution itself). `None` elsewhere (Burn's convolution then runs).
    fn mask_sums_training(&self, m: &Tensor<4>) -> Option<Tensor<4>> {
        let dev = m.device();
        if !(m.is_autodiff() && dev == Device::flex().autodiff()) {
            return None;
        }
        let planes = cpu::Planes::from_tensor(m.clone().inner()).ok()?;
        let one = cpu::shared_mask(planes);
        if one.c != 1 || self.mask_conv.dims()[1] != m.dims()[1] {
            return None;
        }
        let s = self.mask_sums_exact(&one).ok()?;
        Some(Tensor::from_data(
            TensorData::new(s.data, [s.n, s.c, s.h, s.w]),
            &dev,
        ))
    }

    /// The mask convolution of a one-plane mask, summed in f64 and rounded once: the window
    /// sums of the (signed) mask kernel can nearly cancel, and `o / s` then amplifies any
    /// rounding of `s`, so `s` is computed as exactly as f32 can hold it rather than in yet
    /// another float32 order.
    fn mask_sums_exact(&self, m: &cpu::Planes) -> Result<cpu::Planes> {
        let [cout, cin, k, _] = self.mask_conv.dims();
        let kk = k * k;
        // Σ over input channels, per output channel and tap, in f64.
        let sums = |w: &[f32]| -> Vec<f64> {
            (0..cout * kk)
                .into_par_iter()
                .map(|i| {
                    let (co, t) = (i / kk, i % kk);
                    (0..cin).fold(0f64, |a, ci| a + f64::from(w[(co * cin + ci) * kk + t]))
                })
                .collect()
        };
        let wv = self.mask_conv.val();
        let wsum = match cpu::with_values(&wv, sums) {
            Some(ws) => ws,
            None => sums(&crate::model::tensor_to_vec(wv)?),
        };
        // Each window's total over all taps, summed in tap order as the loop below would.
        let full: Vec<f64> = (0..cout)
            .map(|co| wsum[co * kk..][..kk].iter().fold(0f64, |a, w| a + w))
            .collect();
        let (st, p) = (self.stride, self.pad as isize);
        let ho = (m.h + 2 * self.pad).saturating_sub(k) / st + 1;
        let wo = (m.w + 2 * self.pad).saturating_sub(k) / st + 1;
        // Per batch element and output pixel: every tap inside the image and on a 1 (the sum is
        // the window total), every tap inside on a 0 (the sum is 0), or anything else.
        let class: Vec<u8> = (0..m.n * ho * wo)
            .into_par_iter()
            .map(|i| {
                let (b, oy, ox) = (i / (ho * wo), (i / wo) % ho, i % wo);
                let mp = m.plane(b, 0);
                let (mut ones, mut zeros) = (0, 0);
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = (oy * st + ky) as isize - p;
                        let ix = (ox * st + kx) as isize - p;
                        if iy < 0 || iy >= m.h as isize || ix < 0 || ix >= m.w as isize {
                            continue;
                        }
                        match mp[iy as usize * m.w + ix as usize] {
                            1.0 => ones += 1,
                            0.0 => zeros += 1,
                            _ => {}
                        }
                    }
                }
                if ones == kk {
                    WINDOW_FULL
                } else if zeros == kk {
                    WINDOW_EMPTY
                } else {
                    WINDOW_MIXED
                }
            })
            .collect();
        let mut s = cpu::Planes::zeros(m.n, cout, ho, wo);
        s.data
            .par_chunks_mut(ho * wo)
            .enumerate()
            .for_each(|(idx, plane)| {
                let (b, co) = (idx / cout, idx % cout);
                let (mp, ws) = (m.plane(b, 0), &wsum[co * kk..][..kk]);
                let class = &class[b * ho * wo..][..ho * wo];
                for oy in 0..ho {
                    for ox in 0..wo {
                        let acc = match class[oy * wo + ox] {
                            WINDOW_FULL => full[co],
                            WINDOW_EMPTY => 0.0,
                            _ => {
                                let mut acc = 0f64;
                                for ky in 0..k {
                                    let iy = (oy * st + ky) as isize - p;
                                    if iy < 0 || iy >= m.h as isize {
                                        continue;
                                    }
                                    for kx in 0..k {
                                        let ix = (ox * st + kx) as isize - p;
                                        if ix < 0 || ix >= m.w as isize {
                                            continue;
                                        }
                                        let mv = mp[iy as usize * m.w + ix as usize];
                                        acc += ws[ky * k + kx] * f64::from(mv);
                                    }
                                }
                                acc
                            }
                        };
                        plane[oy * wo + ox] = acc as f32;
                    }
                }
            });
        Ok(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::params::ParamSource;
    use crate::model::tensor_to_vec;

    fn sn_with(w: Vec<f32>, u: Vec<f32>, v: Vec<f32>, shape: [usize; 4]) -> SnConv2d {
        let dev = Device::flex();
        let [o, i, kh, kw] = shape;
        let mut conv =
            SnConv2d::from_source(&mut ParamSource::zeros(&dev), "c", i, o, kh, 1, 0, false)
                .unwrap();
        conv.weight_orig = conv
            .weight_orig
            .map(|_| Tensor::from_data(TensorData::new(w, shape), &dev));
        conv.weight_u = conv
            .weight_u
            .map(|_| Tensor::from_data(TensorData::new(u, [o]), &dev));
        conv.weight_v = conv
            .weight_v
            .map(|_| Tensor::from_data(TensorData::new(v, [i * kh * kw]), &dev));
        let _ = kw;
        conv
    }

    #[test]
    fn eval_weight_divides_by_u_w_v() {
        // W = [[3, 0], [0, 1]] as a 2→2 1×1 conv; u = (0.6, 0.8), v = (1, 0): σ = 0.6·3 = 1.8.
        let conv = sn_with(
            vec![3.0, 0.0, 0.0, 1.0],
            vec![0.6, 0.8],
            vec![1.0, 0.0],
            [2, 2, 1, 1],
        );
        let w = tensor_to_vec(conv.weight()).unwrap();
        let want = [3.0 / 1.8, 0.0, 0.0, 1.0 / 1.8];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn power_iteration_converges_to_the_largest_singular_value() {
        let mut conv = sn_with(
            vec![3.0, 1.0, 0.0, 2.0],
            vec![0.6, 0.8],
            vec![0.8, 0.6],
            [2, 2, 1, 1],
        );
        // One step by hand: v = norm(Wᵀu) = norm(1.8, 2.2); u = norm(W v).
        let (c1, s1) = conv.clone().power_iteration();
        let v = tensor_to_vec(c1.weight_v.val()).unwrap();
        let n = (1.8f32 * 1.8 + 2.2 * 2.2).sqrt();
        assert!(
            (v[0] - 1.8 / n).abs() < 1e-6 && (v[1] - 2.2 / n).abs() < 1e-6,
            "{v:?}"
        );
        assert!(tensor_to_vec(s1).unwrap()[0] > 0.0);
        let mut sigma = 0.0;
        for _ in 0..50 {
            let (c, s) = conv.power_iteration();
            conv = c;
            sigma = tensor_to_vec(s).unwrap()[0];
        }
        // Singular values of [[3,1],[0,2]]: sqrt((14 ± sqrt(196-144))/2) → largest ≈ 3.4351.
        let want = ((14.0f32 + (52.0f32).sqrt()) / 2.0).sqrt();
        assert!((sigma - want).abs() < 1e-4, "σ = {sigma}, want {want}");
    }

    #[test]
    fn positional_norm_uses_unbiased_variance() {
        let dev = Device::flex();
        // Channels (1, 2, 3, 6) at one pixel: mean 3, unbiased var 14/3.
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 6.0], [1, 4, 1, 1]),
            &dev,
        );
        let y = tensor_to_vec(positional_norm(x)).unwrap();
        let sd = (14.0f32 / 3.0 + 1e-5).sqrt();
        for (a, v) in y.iter().zip([1.0f32, 2.0, 3.0, 6.0]) {
            assert!((a - (v - 3.0) / sd).abs() < 1e-6);
        }
    }

    /// The window sums with the full/empty shortcuts are bit for bit the plain f64 loop over
    /// every tap, on a mask with holes, borders, a fractional value and strides 1 and 2.
    #[test]
    fn mask_sums_match_the_plain_loop_bit_for_bit() {
        let dev = Device::flex();
        for (cin, cout, k, st, pad) in [(5, 4, 3, 1, 1), (3, 6, 5, 2, 2), (2, 3, 7, 2, 3)] {
            let conv = PartialConv::from_source(
                &mut ParamSource::random(9, &dev),
                "p",
                cin,
                cout,
                k,
                st,
                pad,
            )
            .unwrap();
            let (n, h, w) = (2, 13, 11);
            let mut data = vec![1.0f32; n * h * w];
            for (i, v) in data.iter_mut().enumerate() {
                let (b, y, x) = (i / (h * w), (i / w) % h, i % w);
                if (3 + b..8 + b).contains(&y) && (2..7).contains(&x) {
                    *v = 0.0;
                }
            }
            data[5] = 0.5;
            let m = cpu::Planes {
                data,
                n,
                c: 1,
                h,
                w,
            };
            let got = conv.mask_sums_exact(&m).unwrap();
            let wv = tensor_to_vec(conv.mask_conv.val()).unwrap();
            let (ho, wo) = ((h + 2 * pad - k) / st + 1, (w + 2 * pad - k) / st + 1);
            assert_eq!((got.h, got.w, got.c), (ho, wo, cout));
            for b in 0..n {
                for co in 0..cout {
                    for oy in 0..ho {
                        for ox in 0..wo {
                            let mut acc = 0f64;
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (oy * st + ky) as isize - pad as isize;
                                    let ix = (ox * st + kx) as isize - pad as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let ws = (0..cin).fold(0f64, |a, ci| {
                                        a + f64::from(wv[((co * cin + ci) * k + ky) * k + kx])
                                    });
                                    acc += ws
                                        * f64::from(m.plane(b, 0)[iy as usize * w + ix as usize]);
                                }
                            }
                            let v = got.plane(b, co)[oy * wo + ox];
                            assert_eq!(
                                v.to_bits(),
                                (acc as f32).to_bits(),
                                "b {b} co {co} ({oy}, {ox})"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Training on flex takes the one-plane mask sums and the host convolution: output, new
    /// mask and the input weight's gradient agree with Burn's ops on the same values.
    #[test]
    fn partial_conv_training_path_matches_burn_ops() {
        let plain = Device::flex();
        let ad = plain.clone().autodiff();
        let conv =
            PartialConv::from_source(&mut ParamSource::random(4, &plain), "p", 3, 5, 3, 2, 1)
                .unwrap();
        let (n, h, w) = (2, 9, 8);
        let x: Vec<f32> = (0..n * 3 * h * w)
            .map(|i| ((i * 37) % 23) as f32 / 11.0 - 1.0)
            .collect();
        let mut m = vec![1.0f32; n * h * w];
        for (i, v) in m.iter_mut().enumerate() {
            let (b, y, xx) = (i / (h * w), (i / w) % h, i % w);
            if (2 + b..6).contains(&y) && (1..5 + b).contains(&xx) {
                *v = 0.0;
            }
        }
        let run = |dev: &Device| {
            let c = PartialConv {
                input_conv: Param::from_tensor(Tensor::from_data(
                    conv.input_conv.val().into_data(),
                    dev,
                )),
                mask_conv: Param::from_tensor(Tensor::from_data(
                    conv.mask_conv.val().into_data(),
                    dev,
                )),
                ..conv.clone()
            };
            let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [n, 3, h, w]), dev);
            let mt = Tensor::<4>::from_data(TensorData::new(m.clone(), [n, 1, h, w]), dev)
                .repeat_dim(1, 3);
            let (out, new_mask) = c.forward(xt, mt);
            let gw = dev.is_autodiff().then(|| {
                let grads = out.clone().sum().backward();
                tensor_to_vec(c.input_conv.val().grad(&grads).unwrap()).unwrap()
            });
            (
                tensor_to_vec(out.inner()).unwrap(),
                tensor_to_vec(new_mask.inner()).unwrap(),
                gw,
            )
        };
        let (o0, m0, _) = run(&plain);
        let (o1, m1, g1) = run(&ad);
        assert_eq!(m0, m1);
        let scale = o0.iter().fold(0f32, |a, v| a.max(v.abs()));
        let err = o0
            .iter()
            .zip(&o1)
            .fold(0f32, |a, (p, q)| a.max((p - q).abs()));
        assert!(err <= 1e-5 * scale, "output off by {err}");
        assert!(g1.is_some_and(|g| g.iter().all(|v| v.is_finite()) && g.iter().any(|v| *v != 0.0)));
    }

    #[test]
    fn partial_conv_with_unit_mask_averages_the_valid_inputs() {
        let dev = Device::flex();
        // 1→1 channel, 3×3, stride 1, pad 1; input weights all ones.
        let conv = PartialConv::from_source(&mut ParamSource::random(3, &dev), "p", 1, 1, 3, 1, 1)
            .unwrap()
            .with_unit_mask();
        let conv = PartialConv {
            input_conv: conv.input_conv.map(|w| w.ones_like()),
            ..conv
        };
        assert!(
            tensor_to_vec(conv.mask_conv.val())
                .unwrap()
                .iter()
                .all(|&w| w == 1.0)
        );
        // A 1×4 row: x = (2, 5, 7, 9), valid = (1, 1, 0, 0).
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![2.0f32, 5.0, 7.0, 9.0], [1, 1, 1, 4]),
            &dev,
        );
        let m = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 1.0, 0.0, 0.0], [1, 1, 1, 4]),
            &dev,
        );
        let (out, new_mask) = conv.forward(x, m);
        let out = tensor_to_vec(out).unwrap();
        // Windows: {2,5} → 3.5; {2,5,·} → 3.5; {5,·,·} → 5; {·,·} → 0 (no valid input).
        let want = [3.5f32, 3.5, 5.0, 0.0];
        for (a, b) in out.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{out:?}");
        }
        assert_eq!(tensor_to_vec(new_mask).unwrap(), vec![1.0, 1.0, 1.0, 0.0]);
    }
}
