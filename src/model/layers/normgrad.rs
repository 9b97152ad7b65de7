//! Positional and instance normalisation, and SPDNorm's modulation, with hand-written gradients
//! for training on the flex CPU backend.
//!
//! Written with Burn's tensor ops, positional normalisation is eight passes over the tensor
//! (mean, centre, square, sum, scale, add ε, square root, divide) and SPDNorm's modulation
//! `x̂ ⊙ (1 + D⊙γ) + D⊙β` five more. On autodiff every pass allocates its result and records a
//! backward step that allocates again, and the generator runs three such norms per residual
//! block. Here each is one custom operation, registered like the convolutions of
//! [`super::grad`] through Burn's backend-extension mechanism ([`HostNormBackend`]):
//!
//! * **normalisation** `x̂ = (x − μ) / √(σ² + ε)`, over the channels at each pixel (positional,
//!   unbiased variance) or over each plane (instance, biased variance): one pass for the
//!   statistics, one for the output; the backward step keeps `x̂` and `1/σ` and computes
//!   `dx = (1/σ) · (g − Σg / N − x̂ · Σ(g·x̂) / D)` (N values per statistic, D = N − 1 for the
//!   unbiased variance, N for the biased one) in the same two passes;
//! * **modulation** `y = x̂ + x̂ ⊙ (D⊙γ) + D⊙β` (the order of Burn's expression, so the values
//!   are the same) with D one channel or as many as x̂: one pass forward, one pass backward for
//!   the gradients some parent needs (`dx̂ = g ⊙ (1 + D⊙γ)`, `dγ = g ⊙ x̂ ⊙ D`, `dβ = g ⊙ D`,
//!   `dD = g ⊙ (x̂⊙γ + β)`, summed over the channels for a one-channel D).
//!
//! The entry points [`norm`] and [`modulate`] take this path on an autodiff flex tensor with
//! matching shapes and otherwise return `None`, so the caller keeps Burn's ops (inference and
//! the parity traces never come here). Any failure inside the host path falls back to Burn's
//! ops on flex and is counted ([`super::grad::fallbacks`]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, Scalar, TensorMetadata, backend_extension};
use burn::prelude::*;
use rayon::prelude::*;

use super::NORM_EPS;
use super::grad::{contiguous, dims4, fell_back, flex_from, on_autodiff_flex};

/// What a normalisation reduces over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormAxis {
    /// Across the channels at each pixel, unbiased variance (positional normalisation).
    Pixel,
    /// Over each `[h, w]` plane, biased variance (instance normalisation).
    Plane,
}

/// Pixels per task of the per-pixel passes.
const CHUNK: usize = 2048;

/// Values below which a task is not worth splitting further.
const MIN_TASK: usize = 1 << 14;

/// The fewest planes of `plane` values per task of a per-plane pass.
fn min_planes(plane: usize) -> usize {
    (MIN_TASK / plane.max(1)).max(1)
}

/// The custom normalisations, routed by Burn's dispatch to flex or to autodiff-on-flex.
#[backend_extension(Flex, Autodiff)]
pub trait HostNormBackend: Backend {
    /// `x` normalised (ε = [`NORM_EPS`]): across channels at each pixel with the unbiased
    /// variance when `per_pixel`, over each plane with the biased variance otherwise.
    ///
    /// # Shapes
    /// `x [n, c, h, w] → [n, c, h, w]`.
    fn host_norm(x: FloatTensor<Self>, per_pixel: bool) -> FloatTensor<Self>;

    /// `xn + xn ⊙ (d ⊙ gamma) + d ⊙ beta`.
    ///
    /// # Shapes
    /// `xn, gamma, beta [n, c, h, w]`, `d [n, 1 or c, h, w]` → `[n, c, h, w]`.
    fn host_modulate(
        xn: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The number of values behind each statistic and the variance's divisor.
fn counts(axis: NormAxis, c: usize, plane: usize) -> (f32, f32) {
    match axis {
        NormAxis::Pixel => (c as f32, (c.max(2) - 1) as f32),
        NormAxis::Plane => (plane as f32, plane as f32),
    }
}

/// For each pixel chunk of each batch element: `f(b, p0, chunk)`, in parallel, over a
/// per-pixel buffer `[n, plane]` (`p0` is the chunk's first pixel within its plane).
fn per_pixel_chunks(a: &mut [f32], plane: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync) {
    a.par_chunks_mut(plane).enumerate().for_each(|(b, ab)| {
        ab.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(k, ac)| f(b, k * CHUNK, ac));
    });
}

/// [`per_pixel_chunks`] over two per-pixel buffers at once.
fn per_pixel_chunks2(
    a: &mut [f32],
    b: &mut [f32],
    plane: usize,
    f: impl Fn(usize, usize, &mut [f32], &mut [f32]) + Sync,
) {
    a.par_chunks_mut(plane)
        .zip(b.par_chunks_mut(plane))
        .enumerate()
        .for_each(|(bi, (ab, bb))| {
            ab.par_chunks_mut(CHUNK)
                .zip(bb.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(k, (ac, bc))| f(bi, k * CHUNK, ac, bc));
        });
}

/// Independent f32 accumulators of [`lane_sum`] and [`lane_dot`] (enough for the compiler to
/// vectorise and to hide the latency of the adds).
const LANES: usize = 16;

/// `Σ f(v)` over `xs`: [`LANES`] f32 partial sums, added up in f64.
fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut acc = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&v| f64::from(f(v))).sum();
    acc.iter().map(|&a| f64::from(a)).sum::<f64>() + tail
}

/// `Σ a·b` over two slices of equal length: [`LANES`] f32 partial sums, added up in f64.
fn lane_dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((s, &u), &v) in acc.iter_mut().zip(x).zip(y) {
            *s += u * v;
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&u, &v)| f64::from(u * v))
        .sum();
    acc.iter().map(|&s| f64::from(s)).sum::<f64>() + tail
}

/// `(x̂, 1/σ)` of `x [n, c, plane]`: `1/σ` is `[n, plane]` for [`NormAxis::Pixel`], `[n, c]`
/// for [`NormAxis::Plane`].
fn norm_forward(
    x: &[f32],
    [n, c, plane]: [usize; 3],
    axis: NormAxis,
) -> Option<(Vec<f32>, Vec<f32>)> {
    if x.len() != n.checked_mul(c)?.checked_mul(plane)? || x.is_empty() {
        return None;
    }
    let eps = NORM_EPS as f32;
    let (count, denom) = counts(axis, c, plane);
    let mut out = vec![0f32; x.len()];
    match axis {
        NormAxis::Pixel => {
            let mut mean = vec![0f32; n * plane];
            let mut inv = vec![0f32; n * plane];
            per_pixel_chunks2(&mut mean, &mut inv, plane, |b, p0, m, s| {
                let k = m.len();
                let rows = (0..c).map(|ch| &x[(b * c + ch) * plane + p0..][..k]);
                for row in rows.clone() {
                    m.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
                m.iter_mut().for_each(|a| *a /= count);
                for row in rows {
                    for ((a, v), mu) in s.iter_mut().zip(row).zip(m.iter()) {
                        let d = v - mu;
                        *a += d * d;
                    }
                }
                s.iter_mut()
                    .for_each(|a| *a = 1.0 / (*a / denom + eps).sqrt());
            });
            out.par_chunks_mut(plane)
                .zip(x.par_chunks(plane))
                .enumerate()
                .with_min_len(min_planes(plane))
                .for_each(|(bc, (o, xs))| {
                    let b = bc / c;
                    let (m, s) = (&mean[b * plane..][..plane], &inv[b * plane..][..plane]);
                    for (((o, v), mu), is) in o.iter_mut().zip(xs).zip(m).zip(s) {
                        *o = (v - mu) * is;
                    }
                });
            Some((out, inv))
        }
        NormAxis::Plane => {
            let mut inv = vec![0f32; n * c];
            out.par_chunks_mut(plane)
                .zip(x.par_chunks(plane))
                .zip(inv.par_iter_mut())
                .with_min_len(min_planes(plane))
                .for_each(|((o, xs), is)| {
                    let mean = (lane_sum(xs, |v| v) / plane as f64) as f32;
                    let var = lane_sum(xs, |v| (v - mean) * (v - mean)) / f64::from(denom);
                    *is = (1.0 / (var + NORM_EPS).sqrt()) as f32;
                    for (o, v) in o.iter_mut().zip(xs) {
                        *o = (v - mean) * *is;
                    }
                });
            Some((out, inv))
        }
    }
}

/// `dx` of the normalisation from the output gradient `g`, `x̂` and `1/σ` of [`norm_forward`].
fn norm_backward(
    g: &[f32],
    xhat: &[f32],
    inv: &[f32],
    [n, c, plane]: [usize; 3],
    axis: NormAxis,
) -> Option<Vec<f32>> {
    let len = n.checked_mul(c)?.checked_mul(plane)?;
    let stats = match axis {
        NormAxis::Pixel => n * plane,
        NormAxis::Plane => n * c,
    };
    if g.len() != len || xhat.len() != len || inv.len() != stats || len == 0 {
        return None;
    }
    let (count, denom) = counts(axis, c, plane);
    let mut dx = vec![0f32; len];
    match axis {
        NormAxis::Pixel => {
            let mut s1 = vec![0f32; n * plane];
            let mut s2 = vec![0f32; n * plane];
            per_pixel_chunks2(&mut s1, &mut s2, plane, |b, p0, a, q| {
                for ch in 0..c {
                    let at = (b * c + ch) * plane + p0;
                    let (gr, xr) = (&g[at..][..a.len()], &xhat[at..][..a.len()]);
                    for (((a, q), gv), xv) in a.iter_mut().zip(q.iter_mut()).zip(gr).zip(xr) {
                        *a += gv;
                        *q += gv * xv;
                    }
                }
                a.iter_mut().for_each(|v| *v /= count);
                q.iter_mut().for_each(|v| *v /= denom);
            });
            dx.par_chunks_mut(plane)
                .enumerate()
                .with_min_len(min_planes(plane))
                .for_each(|(bc, d)| {
                    let b = bc / c;
                    let (gr, xr) = (&g[bc * plane..][..plane], &xhat[bc * plane..][..plane]);
                    let at = b * plane;
                    let (a, q, s) = (&s1[at..][..plane], &s2[at..][..plane], &inv[at..][..plane]);
                    for i in 0..plane {
                        d[i] = s[i] * (gr[i] - a[i] - xr[i] * q[i]);
                    }
                });
        }
        NormAxis::Plane => {
            dx.par_chunks_mut(plane)
                .zip(g.par_chunks(plane))
                .zip(xhat.par_chunks(plane))
                .zip(inv.par_iter())
                .with_min_len(min_planes(plane))
                .for_each(|(((d, gr), xr), is)| {
                    let a = (lane_sum(gr, |v| v) / f64::from(count)) as f32;
                    let q = (lane_dot(gr, xr) / f64::from(denom)) as f32;
                    for ((d, gv), xv) in d.iter_mut().zip(gr).zip(xr) {
                        *d = is * (gv - a - xv * q);
                    }
                });
        }
    }
    Some(dx)
}

/// The modulation's operands as slices with their shape: `xn`, `gamma`, `beta` `[n, c, plane]`
/// and `d` `[n, dc, plane]`, `dc` 1 or `c`.
struct ModIn<'a> {
    xn: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    d: &'a [f32],
    n: usize,
    c: usize,
    dc: usize,
    plane: usize,
}

impl<'a> ModIn<'a> {
    fn new(
        [xn, gamma, beta, d]: [&'a FlexTensor; 4],
        hold: &'a mut Vec<FlexTensor>,
    ) -> Option<Self> {
        let [n, c, h, w] = dims4(xn)?;
        let [dn, dc, dh, dw] = dims4(d)?;
        if dims4(gamma)? != [n, c, h, w]
            || dims4(beta)? != [n, c, h, w]
            || [dn, dh, dw] != [n, h, w]
            || !(dc == 1 || dc == c)
        {
            return None;
        }
        for t in [xn, gamma, beta, d] {
            hold.push(contiguous(t.clone())?);
        }
        let s = |i: usize| hold.get(i).and_then(|t: &FlexTensor| t.as_slice::<f32>());
        Some(Self {
            xn: s(0)?,
            gamma: s(1)?,
            beta: s(2)?,
            d: s(3)?,
            n,
            c,
            dc,
            plane: h * w,
        })
    }

    /// The `D` plane of channel plane `bc` (`b·c + ch`).
    fn d_plane(&self, bc: usize) -> &'a [f32] {
        let (b, ch) = (bc / self.c, bc % self.c);
        let at = if self.dc == 1 { b } else { b * self.c + ch };
        &self.d[at * self.plane..][..self.plane]
    }

    /// Channel plane `bc` of a `[n, c, plane]` operand.
    fn plane<'b>(&self, v: &'b [f32], bc: usize) -> &'b [f32] {
        &v[bc * self.plane..][..self.plane]
    }
}

/// `xn + xn ⊙ (d ⊙ gamma) + d ⊙ beta`, in that order of operations.
fn modulate_forward(m: &ModIn<'_>) -> Vec<f32> {
    let mut out = vec![0f32; m.xn.len()];
    out.par_chunks_mut(m.plane)
        .enumerate()
        .with_min_len(min_planes(m.plane))
        .for_each(|(bc, o)| {
            let (x, g, b, d) = (
                m.plane(m.xn, bc),
                m.plane(m.gamma, bc),
                m.plane(m.beta, bc),
                m.d_plane(bc),
            );
            for i in 0..o.len() {
                o[i] = (x[i] + x[i] * (d[i] * g[i])) + d[i] * b[i];
            }
        });
    out
}

/// Which modulation gradients to compute: `xn`, `gamma`, `beta`, `d`.
type Want4 = [bool; 4];

/// The modulation's gradients from the output gradient `g` (`None` where not wanted).
fn modulate_backward(m: &ModIn<'_>, g: &[f32], want: Want4) -> [Option<Vec<f32>>; 4] {
    let (len, plane) = (m.xn.len(), m.plane);
    // One gradient over every channel plane: `f(out, g, xn, gamma, beta, d)` per plane.
    type PlaneFn<'f> = &'f (dyn Fn(&mut [f32], [&[f32]; 5]) + Sync);
    let per_plane = |f: PlaneFn<'_>| {
        let mut v = vec![0f32; len];
        v.par_chunks_mut(plane)
            .enumerate()
            .with_min_len(min_planes(plane))
            .for_each(|(bc, o)| {
                let ops = [
                    m.plane(g, bc),
                    m.plane(m.xn, bc),
                    m.plane(m.gamma, bc),
                    m.plane(m.beta, bc),
                    m.d_plane(bc),
                ];
                f(o, ops);
            });
        v
    };
    let dxn = want[0].then(|| {
        per_plane(&|o, [g, _, ga, _, d]| {
            for i in 0..o.len() {
                o[i] = g[i] + g[i] * (d[i] * ga[i]);
            }
        })
    });
    let dgamma = want[1].then(|| {
        per_plane(&|o, [g, x, _, _, d]| {
            for i in 0..o.len() {
                o[i] = g[i] * x[i] * d[i];
            }
        })
    });
    let dbeta = want[2].then(|| {
        per_plane(&|o, [g, _, _, _, d]| {
            for i in 0..o.len() {
                o[i] = g[i] * d[i];
            }
        })
    });
    let dd = want[3].then(|| {
        if m.dc == m.c {
            per_plane(&|o, [g, x, ga, be, _]| {
                for i in 0..o.len() {
                    o[i] = g[i] * (x[i] * ga[i] + be[i]);
                }
            })
        } else {
            let mut v = vec![0f32; m.n * plane];
            per_pixel_chunks(&mut v, plane, |b, p0, a| {
                for ch in 0..m.c {
                    let at = (b * m.c + ch) * plane + p0;
                    let k = a.len();
                    let (g, x) = (&g[at..][..k], &m.xn[at..][..k]);
                    let (ga, be) = (&m.gamma[at..][..k], &m.beta[at..][..k]);
                    for i in 0..k {
                        a[i] += g[i] * (x[i] * ga[i] + be[i]);
                    }
                }
            });
            v
        }
    });
    [dxn, dgamma, dbeta, dd]
}

/// Burn's ops on flex for the normalisation's statistics: `x` laid out for `axis` (`[n, c, h·w]`
/// for planes), its `x̂` and `σ = √(var + ε)`, and the reduced dimension.
fn stats_burn(
    x: FlexTensor,
    axis: NormAxis,
    [n, c, h, w]: [usize; 4],
) -> (FlexTensor, FlexTensor, usize) {
    let (x, dim) = match axis {
        NormAxis::Pixel => (x, 1),
        NormAxis::Plane => (Flex::float_reshape(x, [n, c, h * w].into()), 2),
    };
    let (_, denom) = counts(axis, c, h * w);
    let mean = Flex::float_mean_dim(x.clone(), dim);
    let centred = Flex::float_sub(x, mean);
    let sq = Flex::float_mul(centred.clone(), centred.clone());
    let var = Flex::float_div_scalar(
        Flex::float_sum_dim(sq, dim),
        Scalar::Float(f64::from(denom)),
    );
    let sd = Flex::float_sqrt(Flex::float_add_scalar(var, Scalar::Float(NORM_EPS)));
    (Flex::float_div(centred, sd.clone()), sd, dim)
}

/// Burn's ops for the normalisation on flex (the fallback).
fn norm_burn(x: FlexTensor, axis: NormAxis) -> FlexTensor {
    let Some(shape) = dims4(&x) else {
        return x;
    };
    let (xhat, _, _) = stats_burn(x, axis, shape);
    Flex::float_reshape(xhat, shape.into())
}

/// Burn's ops for the modulation on flex (the fallback).
fn modulate_burn(xn: FlexTensor, gamma: FlexTensor, beta: FlexTensor, d: FlexTensor) -> FlexTensor {
    let dg = Flex::float_mul(d.clone(), gamma);
    let t = Flex::float_add(xn.clone(), Flex::float_mul(xn, dg));
    Flex::float_add(t, Flex::float_mul(d, beta))
}

/// The normalisation on flex: `(x̂, 1/σ)` from the host kernel.
fn norm_flex(x: &FlexTensor, axis: NormAxis) -> Option<(FlexTensor, FlexTensor)> {
    let [n, c, h, w] = dims4(x)?;
    let x = contiguous(x.clone())?;
    let (out, inv) = norm_forward(x.as_slice::<f32>()?, [n, c, h * w], axis)?;
    let inv_len = inv.len();
    Some((
        flex_from(out, vec![n, c, h, w]),
        flex_from(inv, vec![inv_len]),
    ))
}

fn axis_of(per_pixel: bool) -> NormAxis {
    if per_pixel {
        NormAxis::Pixel
    } else {
        NormAxis::Plane
    }
}

impl HostNormBackend for Flex {
    fn host_norm(x: FlexTensor, per_pixel: bool) -> FlexTensor {
        let axis = axis_of(per_pixel);
        if let Some((out, _)) = norm_flex(&x, axis) {
            return out;
        }
        fell_back();
        norm_burn(x, axis)
    }

    fn host_modulate(
        xn: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        d: FlexTensor,
    ) -> FlexTensor {
        let mut hold = Vec::new();
        if let Some(m) = ModIn::new([&xn, &gamma, &beta, &d], &mut hold) {
            let out = modulate_forward(&m);
            return flex_from(out, xn.shape().dims::<4>().to_vec());
        }
        fell_back();
        modulate_burn(xn, gamma, beta, d)
    }
}

/// What the normalisation's backward step keeps: the input (for the fallback), `x̂` and `1/σ`
/// (`None` when the forward pass fell back), and the axis.
type NormState = (FlexTensor, Option<(FlexTensor, FlexTensor)>, bool);

/// The backward step of [`HostNormBackend::host_norm`] on autodiff-on-flex.
#[derive(Debug)]
struct NormGrad;

fn norm_grad_host(state: &NormState, g: &FlexTensor) -> Option<FlexTensor> {
    let (x, saved, per_pixel) = state;
    let (xhat, inv) = saved.as_ref()?;
    let [n, c, h, w] = dims4(x)?;
    let g = contiguous(g.clone())?;
    let dx = norm_backward(
        g.as_slice::<f32>()?,
        xhat.as_slice::<f32>()?,
        inv.as_slice::<f32>()?,
        [n, c, h * w],
        axis_of(*per_pixel),
    )?;
    Some(flex_from(dx, vec![n, c, h, w]))
}

/// Burn's gradient of the normalisation (the fallback): the generic formula on flex ops.
fn norm_grad_burn(state: NormState, g: FlexTensor) -> FlexTensor {
    let (x, _, per_pixel) = state;
    let axis = axis_of(per_pixel);
    let Some([n, c, h, w]) = dims4(&x) else {
        return g;
    };
    let (count, denom) = counts(axis, c, h * w);
    let (g, dim) = match axis {
        NormAxis::Pixel => (g, 1),
        NormAxis::Plane => (Flex::float_reshape(g, [n, c, h * w].into()), 2),
    };
    let (xhat, sd, _) = stats_burn(x, axis, [n, c, h, w]);
    let a = Flex::float_div_scalar(
        Flex::float_sum_dim(g.clone(), dim),
        Scalar::Float(f64::from(count)),
    );
    let q = Flex::float_div_scalar(
        Flex::float_sum_dim(Flex::float_mul(g.clone(), xhat.clone()), dim),
        Scalar::Float(f64::from(denom)),
    );
    let inner = Flex::float_sub(Flex::float_sub(g, a), Flex::float_mul(xhat, q));
    Flex::float_reshape(Flex::float_div(inner, sd), [n, c, h, w].into())
}

impl Backward<Flex, 1> for NormGrad {
    type State = NormState;

    fn backward(self, ops: Ops<NormState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let g = grads.consume::<Flex>(&ops.node);
        let Some(node_x) = node_x else {
            return;
        };
        let dx = match norm_grad_host(&ops.state, &g) {
            Some(dx) => dx,
            None => {
                fell_back();
                norm_grad_burn(ops.state, g)
            }
        };
        grads.register::<Flex>(node_x.id, dx);
    }
}

/// What the modulation's backward step keeps: its four operands.
type ModState = [FlexTensor; 4];

/// The backward step of [`HostNormBackend::host_modulate`] on autodiff-on-flex.
#[derive(Debug)]
struct ModGrad;

fn modulate_grad_host(
    state: &ModState,
    g: &FlexTensor,
    want: Want4,
) -> Option<[Option<FlexTensor>; 4]> {
    let [xn, gamma, beta, d] = state;
    let mut hold = Vec::new();
    let m = ModIn::new([xn, gamma, beta, d], &mut hold)?;
    let g = contiguous(g.clone())?;
    let g = g.as_slice::<f32>()?;
    if g.len() != m.xn.len() {
        return None;
    }
    let shapes = [dims4(xn)?, dims4(gamma)?, dims4(beta)?, dims4(d)?];
    let grads = modulate_backward(&m, g, want);
    let mut out: [Option<FlexTensor>; 4] = Default::default();
    for ((o, v), s) in out.iter_mut().zip(grads).zip(shapes) {
        *o = v.map(|v| flex_from(v, s.to_vec()));
    }
    Some(out)
}

/// Burn's gradients of the modulation (the fallback), for same-shape operands and a `d` of one
/// channel or all of them.
fn modulate_grad_burn(state: ModState, g: FlexTensor, want: Want4) -> [Option<FlexTensor>; 4] {
    let [xn, gamma, beta, d] = state;
    let d_channels = dims4(&d).map_or(1, |s| s[1]);
    let mul = Flex::float_mul;
    let dxn =
        want[0].then(|| Flex::float_add(g.clone(), mul(g.clone(), mul(d.clone(), gamma.clone()))));
    let dgamma = want[1].then(|| mul(mul(g.clone(), xn.clone()), d.clone()));
    let dbeta = want[2].then(|| mul(g.clone(), d.clone()));
    let dd = want[3].then(|| {
        let t = mul(g.clone(), Flex::float_add(mul(xn, gamma), beta));
        if d_channels == 1 {
            Flex::float_sum_dim(t, 1)
        } else {
            t
        }
    });
    [dxn, dgamma, dbeta, dd]
}

impl Backward<Flex, 4> for ModGrad {
    type State = ModState;

    fn backward(self, ops: Ops<ModState, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = grads.consume::<Flex>(&ops.node);
        let want = ops.parents.each_ref().map(Option::is_some);
        let got = match modulate_grad_host(&ops.state, &g, want) {
            Some(got) => got,
            None => {
                fell_back();
                modulate_grad_burn(ops.state, g, want)
            }
        };
        for (node, grad) in ops.parents.into_iter().zip(got) {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

impl<C: CheckpointStrategy> HostNormBackend for Autodiff<Flex, C> {
    fn host_norm(x: FloatTensor<Self>, per_pixel: bool) -> FloatTensor<Self> {
        let axis = axis_of(per_pixel);
        match NormGrad.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let xp = x.into_primitive();
                let saved = norm_flex(&xp, axis);
                let out = match &saved {
                    Some((out, _)) => out.clone(),
                    None => {
                        fell_back();
                        norm_burn(xp.clone(), axis)
                    }
                };
                prep.finish((xp, saved, per_pixel), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::host_norm(x.into_primitive(), per_pixel)),
        }
    }

    fn host_modulate(
        xn: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match ModGrad
            .prepare::<C>([xn.node(), gamma.node(), beta.node(), d.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = [
                    xn.primitive().clone(),
                    gamma.primitive().clone(),
                    beta.primitive().clone(),
                    d.primitive().clone(),
                ];
                let out = Flex::host_modulate(
                    xn.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    d.into_primitive(),
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::host_modulate(
                xn.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                d.into_primitive(),
            )),
        }
    }
}

/// `x` normalised along `axis` through the custom operation, on an autodiff flex tensor;
/// `None` anywhere else (the caller then uses Burn's ops).
///
/// # Shapes
/// `x [n, c, h, w] → [n, c, h, w]`.
pub fn norm(x: &Tensor<4>, axis: NormAxis) -> Option<Tensor<4>> {
    if !on_autodiff_flex(x) || x.dims().contains(&0) {
        return None;
    }
    let per_pixel = axis == NormAxis::Pixel;
    Some(Tensor::from_dispatch(
        <Dispatch as HostNormBackend>::host_norm(x.clone().into_dispatch(), per_pixel),
    ))
}

/// `xn + xn ⊙ (d ⊙ gamma) + d ⊙ beta` through the custom operation, on autodiff flex tensors of
/// matching shapes (`gamma`, `beta` as `xn`; `d` with one channel or as many as `xn`); `None`
/// for anything else (the caller then uses Burn's ops).
///
/// # Shapes
/// `xn, gamma, beta [n, c, h, w]`, `d [n, 1 or c, h, w]` → `[n, c, h, w]`.
pub fn modulate(
    xn: &Tensor<4>,
    gamma: &Tensor<4>,
    beta: &Tensor<4>,
    d: &Tensor<4>,
) -> Option<Tensor<4>> {
    let [n, c, h, w] = xn.dims();
    let [dn, dc, dh, dw] = d.dims();
    let fits = [xn, gamma, beta, d].into_iter().all(on_autodiff_flex)
        && gamma.dims() == [n, c, h, w]
        && beta.dims() == [n, c, h, w]
        && [dn, dh, dw] == [n, h, w]
        && (dc == 1 || dc == c)
        && n * c * h * w > 0;
    if !fits {
        return None;
    }
    Some(Tensor::from_dispatch(
        <Dispatch as HostNormBackend>::host_modulate(
            xn.clone().into_dispatch(),
            gamma.clone().into_dispatch(),
            beta.clone().into_dispatch(),
            d.clone().into_dispatch(),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::layers::grad::fallbacks;
    use crate::model::layers::grad::tests::{max_rel, rand};

    /// Burn's ops for the normalisation (the expressions of `layers::positional_norm` and
    /// `layers::instance_norm`).
    fn burn_norm(x: Tensor<4>, axis: NormAxis) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        match axis {
            NormAxis::Pixel => {
                let mean = x.clone().mean_dim(1);
                let centred = x - mean;
                let var = centred.clone().powi_scalar(2).sum_dim(1) / ((c.max(2) - 1) as f64);
                centred / (var + NORM_EPS).sqrt()
            }
            NormAxis::Plane => {
                let flat: Tensor<3> = x.reshape([b, c, h * w]);
                let mean = flat.clone().mean_dim(2);
                let centred = flat - mean;
                let var = centred.clone().powi_scalar(2).mean_dim(2);
                (centred / (var + NORM_EPS).sqrt()).reshape([b, c, h, w])
            }
        }
    }

    /// Output and input gradient of both normalisations against Burn's ops, on shapes that
    /// cross the pixel-chunk size and with one channel.
    #[test]
    fn norms_match_burns_ops_and_gradients() {
        let dev = Device::flex().autodiff();
        let before = fallbacks();
        for axis in [NormAxis::Pixel, NormAxis::Plane] {
            for shape in [[2, 5, 7, 9], [1, 3, 64, 40], [3, 1, 4, 4], [2, 16, 8, 8]] {
                let case = format!("{axis:?} {shape:?}");
                let run = |host: bool| {
                    let x = (rand(shape, 1, &dev) * 3.0 + 0.5).require_grad();
                    let y = if host {
                        match norm(&x, axis) {
                            Some(y) => y,
                            None => panic!("{case}: not routed"),
                        }
                    } else {
                        burn_norm(x.clone(), axis)
                    };
                    let up = rand(shape, 2, &dev);
                    let grads = (y.clone() * up).sum().backward();
                    let Some(gx) = x.grad(&grads) else {
                        panic!("{case}: no gradient");
                    };
                    (y, gx)
                };
                let (y0, g0) = run(false);
                let (y1, g1) = run(true);
                let e = max_rel(y1, y0);
                assert!(e < 1e-5, "{case}: output off by {e}");
                let e = max_rel(g1, g0);
                assert!(e < 1e-4, "{case}: gradient off by {e}");
            }
        }
        assert_eq!(fallbacks(), before, "the host path fell back");
    }

    /// Output and all four gradients of the modulation against Burn's ops, for a one-channel
    /// and a full-channel `d`, and a frozen `d` (no gradient asked for).
    #[test]
    fn modulation_matches_burns_ops_and_gradients() {
        let dev = Device::flex().autodiff();
        let before = fallbacks();
        for (shape, dc, d_grad) in [
            ([2, 4, 6, 5], 1, true),
            ([2, 4, 6, 5], 4, true),
            ([1, 8, 48, 50], 1, false),
        ] {
            let case = format!("{shape:?} d channels {dc} d grad {d_grad}");
            let run = |host: bool| {
                let x = rand(shape, 1, &dev).require_grad();
                let g = rand(shape, 2, &dev).require_grad();
                let b = rand(shape, 3, &dev).require_grad();
                let [n, _, h, w] = shape;
                let d = rand([n, dc, h, w], 4, &dev);
                let d = if d_grad { d.require_grad() } else { d };
                let y = if host {
                    match modulate(&x, &g, &b, &d) {
                        Some(y) => y,
                        None => panic!("{case}: not routed"),
                    }
                } else {
                    x.clone() + x.clone() * (d.clone() * g.clone()) + d.clone() * b.clone()
                };
                let up = rand(shape, 5, &dev);
                let grads = (y.clone() * up).sum().backward();
                let gd = d.grad(&grads);
                assert_eq!(gd.is_some(), d_grad, "{case}: d's gradient");
                let all = [x.grad(&grads), g.grad(&grads), b.grad(&grads), gd];
                (y, all)
            };
            let (y0, g0) = run(false);
            let (y1, g1) = run(true);
            assert!(max_rel(y1, y0) < 1e-6, "{case}: output");
            for (i, (a, b)) in g1.into_iter().zip(g0).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => {
                        let e = max_rel(a, b);
                        assert!(e < 1e-5, "{case}: gradient {i} off by {e}");
                    }
                    (None, None) => {}
                    _ => panic!("{case}: gradient {i} present on one side only"),
                }
            }
        }
        assert_eq!(fallbacks(), before, "the host path fell back");
    }

    /// Off autodiff, or with broadcast shapes, the operands come back unchanged.
    #[test]
    fn other_devices_and_shapes_are_not_routed() {
        let plain = Device::flex();
        assert!(norm(&rand([1, 2, 3, 3], 1, &plain), NormAxis::Pixel).is_none());
        let dev = Device::flex().autodiff();
        let x = rand([2, 3, 4, 4], 1, &dev);
        let g1 = rand([1, 3, 4, 4], 2, &dev);
        let d = rand([2, 1, 4, 4], 3, &dev);
        assert!(modulate(&x, &g1, &g1, &d).is_none());
        let d2 = rand([2, 2, 4, 4], 3, &dev);
        assert!(modulate(&x, &x, &x, &d2).is_none());
    }

    /// The lane sums agree with plain f64 sums, tails included.
    #[test]
    fn lane_sums_match_plain_sums() {
        for len in [0, 1, 15, 16, 17, 1000, 16_387] {
            let a: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let b: Vec<f32> = (0..len)
                .map(|i| ((i * 13 % 29) as f32 - 14.0) / 3.0)
                .collect();
            // Errors measured against the sum of magnitudes (f32 rounding of each partial sum).
            let want: f64 = a.iter().map(|&v| f64::from(v)).sum();
            let scale: f64 = a.iter().map(|&v| f64::from(v.abs())).sum::<f64>() + 1.0;
            assert!(
                (lane_sum(&a, |v| v) - want).abs() <= 1e-6 * scale,
                "sum {len}"
            );
            let want: f64 = a.iter().zip(&b).map(|(&u, &v)| f64::from(u * v)).sum();
            let scale: f64 = a
                .iter()
                .zip(&b)
                .map(|(&u, &v)| f64::from((u * v).abs()))
                .sum();
            assert!(
                (lane_dot(&a, &b) - want).abs() <= 1e-6 * (scale + 1.0),
                "dot {len}"
            );
        }
    }

    /// The kernels reject inconsistent lengths instead of indexing out of bounds.
    #[test]
    fn kernels_check_their_lengths() {
        assert!(norm_forward(&[0.0; 5], [1, 2, 3], NormAxis::Pixel).is_none());
        assert!(norm_forward(&[], [0, 2, 3], NormAxis::Plane).is_none());
        assert!(
            norm_backward(&[0.0; 6], &[0.0; 6], &[0.0; 2], [1, 2, 3], NormAxis::Pixel).is_none()
        );
        assert!(
            norm_backward(&[0.0; 6], &[0.0; 6], &[0.0; 2], [1, 2, 3], NormAxis::Plane).is_some()
        );
    }
}
