//! Convolutions with hand-written gradients for training on the flex CPU backend.
//!
//! Burn 0.22 trains a convolution on flex through its generic backward: the input gradient is a
//! transposed convolution (flex runs it as direct loops) and the weight gradient a convolution
//! whose "kernel" is the whole output map, both re-laid out per call. A training step of the
//! default model spent most of its time there (docs/performance.md). This module registers one
//! custom operation through Burn's backend-extension mechanism, [`HostConvBackend::host_conv2d`]:
//!
//! * forward: im2col in NCHW row order (the inference kernels' [`im2col`]) per batch element
//!   and tile of output rows, one GEMM per tile, the bias added on the write-back;
//! * backward, per batch element and tile of output rows, with the same im2col columns:
//!   `dW += dY · colsᵀ` (one GEMM, the transpose read in place), `dcols = Wᵀ · dY` (one GEMM)
//!   scattered back onto the input (col2im, parallel over input channels so no two threads
//!   write the same plane), and `db = Σ dY`.
//!
//! Every buffer is flex storage or a vector handed to flex without a copy; the im2col buffer is
//! reused from tile to tile. Only gradients that some parent needs are computed (a frozen network's weights get none).
//! [`conv2d`] is the entry point the networks call: on an autodiff flex tensor it takes this
//! path, anywhere else Burn's own `conv2d`. Any failure inside the host path (it has none for
//! valid shapes) falls back to Burn's op, so training never panics here.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::cpu::{Window, col2im_add, im2col};

/// How often the host path fell back to Burn's op (forward or backward) in this process.
static FALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// How often [`conv2d`]'s host path fell back to Burn's op in this process (0 for valid
/// shapes; the tests check it).
pub fn fallbacks() -> usize {
    FALLBACKS.load(Ordering::Relaxed)
}

/// Floats of im2col per backward tile (16 MiB), as in the forward pass.
const TILE_FLOATS: usize = 1 << 22;

/// The custom convolution, routed by Burn's dispatch to flex or to autodiff-on-flex.
#[backend_extension(Flex, Autodiff)]
pub trait HostConvBackend: Backend {
    /// `conv2d(x, weight) + bias` with a square kernel, equal strides `stride`, symmetric zero
    /// padding `pad`, no dilation or groups.
    ///
    /// # Shapes
    /// `x [n, cin, h, w]`, `weight [cout, cin, k, k]`, `bias [cout]` → `[n, cout, h', w']`.
    fn host_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self>;
}

fn options(stride: usize, pad: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1)
}

/// A flex primitive whose values are one contiguous `f32` run (a copy only for a strided view).
fn contiguous(t: FlexTensor) -> Option<FlexTensor> {
    if t.dtype() != DType::F32 {
        return None;
    }
    if t.as_slice::<f32>().is_some() {
        Some(t)
    } else {
        Some(t.to_contiguous())
    }
}

fn dims4(t: &FlexTensor) -> Option<[usize; 4]> {
    let s = t.shape();
    (s.num_dims() == 4).then(|| s.dims::<4>())
}

/// A flex tensor over `data` (no copy: the vector becomes its storage).
fn flex_from(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// Takes a (unique) flex tensor's storage back as a vector, for reuse as the next tile's
/// buffer; a fresh buffer when it cannot.
fn reclaim(t: FlexTensor, len: usize) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .unwrap_or_else(|_| vec![0.0; len])
}

/// The shapes of one convolution, checked against each other.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    win: Window,
    ho: usize,
    wo: usize,
}

impl Geometry {
    fn of(x: &FlexTensor, weight: &FlexTensor, stride: usize, pad: usize) -> Option<Self> {
        let [n, cin, h, w] = dims4(x)?;
        let [cout, wc, k, k2] = dims4(weight)?;
        if wc != cin || k != k2 || k == 0 || stride == 0 || h + 2 * pad < k || w + 2 * pad < k {
            return None;
        }
        Some(Self {
            n,
            cin,
            h,
            w,
            cout,
            win: Window {
                k,
                s: stride,
                p: pad,
            },
            ho: (h + 2 * pad - k) / stride + 1,
            wo: (w + 2 * pad - k) / stride + 1,
        })
    }

    /// Rows of the im2col matrix: `cin·k·k`.
    fn kk(&self) -> usize {
        self.cin * self.win.k * self.win.k
    }

    /// Output rows per GEMM tile.
    fn tile_rows(&self) -> usize {
        (TILE_FLOATS / (self.kk() * self.wo).max(1)).clamp(1, self.ho.max(1))
    }
}

/// `conv(x) + bias` on flex storage: per batch element and tile of output rows, im2col then
/// one GEMM `W [cout, cin·k·k] · cols`, written into the output with the bias added.
fn forward_flex(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    stride: usize,
    pad: usize,
) -> Option<FlexTensor> {
    let g = Geometry::of(x, weight, stride, pad)?;
    let (kk, hwo) = (g.kk(), g.ho * g.wo);
    let x = contiguous(x.clone())?;
    let xs = x.as_slice::<f32>()?;
    let wm = contiguous(weight.clone())?.reshape([g.cout, kk].into());
    let bias = contiguous(bias.clone())?;
    let bs = bias.as_slice::<f32>()?;
    if bs.len() != g.cout {
        return None;
    }
    let mut out = vec![0.0f32; g.n * g.cout * hwo];
    let tile = g.tile_rows();
    let mut cols = Vec::new();
    for b in 0..g.n {
        let mut r0 = 0;
        while r0 < g.ho {
            let r1 = (r0 + tile).min(g.ho);
            let ncols = (r1 - r0) * g.wo;
            cols.resize(kk * ncols, 0.0);
            let span = (b * g.ho + r0, b * g.ho + r1);
            im2col(&mut cols, xs, (g.cin, g.h, g.w), g.win, span, (g.ho, g.wo));
            let ct = flex_from(std::mem::take(&mut cols), vec![kk, ncols]);
            let res = Flex::float_matmul(wm.clone(), ct.clone());
            cols = reclaim(ct, kk * ncols);
            let rs = res.as_slice::<f32>()?;
            out[b * g.cout * hwo..][..g.cout * hwo]
                .par_chunks_mut(hwo)
                .zip(bs.par_iter())
                .enumerate()
                .for_each(|(co, (plane, &bc))| {
                    let dst = &mut plane[r0 * g.wo..r1 * g.wo];
                    let src = &rs[co * ncols..][..ncols];
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d = v + bc);
                });
            r0 = r1;
        }
    }
    Some(flex_from(out, vec![g.n, g.cout, g.ho, g.wo]))
}

impl HostConvBackend for Flex {
    fn host_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        pad: usize,
    ) -> FlexTensor {
        if let Some(out) = forward_flex(&x, &weight, &bias, stride, pad) {
            return out;
        }
        FALLBACKS.fetch_add(1, Ordering::Relaxed);
        Flex::conv2d(x, weight, Some(bias), options(stride, pad))
    }
}

/// Which gradients of a convolution to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wanted {
    x: bool,
    w: bool,
    b: bool,
}

/// `(dx, dW, db)`, each `None` where not wanted.
type FlexGrads = (Option<FlexTensor>, Option<FlexTensor>, Option<FlexTensor>);

/// The gradients of `conv(x) + b` given the output gradient `grad`, on flex storage (see the
/// module docs for the method).
fn backward_flex(
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    stride: usize,
    pad: usize,
    want: Wanted,
) -> Option<FlexGrads> {
    let g = Geometry::of(x, weight, stride, pad)?;
    let (kk, hwo, cout) = (g.kk(), g.ho * g.wo, g.cout);
    if dims4(grad)? != [g.n, cout, g.ho, g.wo] {
        return None;
    }
    let grad = contiguous(grad.clone())?;
    let gs = grad.as_slice::<f32>()?;
    let db = want.b.then(|| {
        let sums: Vec<f32> = (0..cout)
            .into_par_iter()
            .map(|co| {
                (0..g.n)
                    .map(|b| {
                        gs[(b * cout + co) * hwo..][..hwo]
                            .iter()
                            .map(|&v| f64::from(v))
                            .sum::<f64>()
                    })
                    .sum::<f64>() as f32
            })
            .collect();
        flex_from(sums, vec![cout])
    });
    if !want.x && !want.w {
        return Some((None, None, db));
    }
    let x = contiguous(x.clone())?;
    let xs = x.as_slice::<f32>()?;
    let wt = contiguous(weight.clone())?
        .reshape([cout, kk].into())
        .transpose(0, 1);
    let rows = grad.reshape([g.n * cout, hwo].into());
    let mut dw: Option<FlexTensor> = None;
    let mut dx = want.x.then(|| vec![0.0f32; g.n * g.cin * g.h * g.w]);
    let tile = g.tile_rows();
    let mut cols = Vec::new();
    for b in 0..g.n {
        let mut r0 = 0;
        while r0 < g.ho {
            let r1 = (r0 + tile).min(g.ho);
            let ncols = (r1 - r0) * g.wo;
            let dy = rows.narrow(0, b * cout, cout).narrow(1, r0 * g.wo, ncols);
            if want.w {
                cols.resize(kk * ncols, 0.0);
                let span = (b * g.ho + r0, b * g.ho + r1);
                im2col(&mut cols, xs, (g.cin, g.h, g.w), g.win, span, (g.ho, g.wo));
                let ct = flex_from(std::mem::take(&mut cols), vec![kk, ncols]);
                let part = Flex::float_matmul(dy.clone(), ct.transpose(0, 1));
                cols = reclaim(ct, kk * ncols);
                dw = Some(match dw {
                    None => part,
                    Some(acc) => Flex::float_add(acc, part),
                });
            }
            if let Some(dx) = dx.as_mut() {
                let dcols = Flex::float_matmul(wt.clone(), dy);
                let plane = g.cin * g.h * g.w;
                col2im_add(
                    &mut dx[b * plane..][..plane],
                    dcols.as_slice::<f32>()?,
                    (g.h, g.w),
                    g.win,
                    (r0, r1),
                    g.wo,
                );
            }
            r0 = r1;
        }
    }
    let wshape = dims4(weight)?;
    Some((
        dx.map(|v| flex_from(v, vec![g.n, g.cin, g.h, g.w])),
        dw.map(|t| Flex::float_reshape(t, wshape.to_vec().into())),
        db,
    ))
}

/// The backward step of [`HostConvBackend::host_conv2d`] on autodiff-on-flex.
#[derive(Debug)]
struct HostConvGrad;

impl Backward<Flex, 3> for HostConvGrad {
    /// The input and weight (flex primitives), stride and padding.
    type State = (FlexTensor, FlexTensor, usize, usize);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight, stride, pad) = ops.state;
        let want = Wanted {
            x: node_x.is_some(),
            w: node_w.is_some(),
            b: node_b.is_some(),
        };
        let (dx, dw, db) = match backward_flex(&x, &weight, &grad, stride, pad, want) {
            Some(g) => g,
            None => {
                FALLBACKS.fetch_add(1, Ordering::Relaxed);
                backward_burn(x, weight, grad, stride, pad, want)
            }
        };
        if let (Some(node), Some(g)) = (node_x, dx) {
            grads.register::<Flex>(node.id, g);
        }
        if let (Some(node), Some(g)) = (node_w, dw) {
            grads.register::<Flex>(node.id, g);
        }
        if let (Some(node), Some(g)) = (node_b, db) {
            grads.register::<Flex>(node.id, g);
        }
    }
}

/// Burn's own gradients (the fallback).
fn backward_burn(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    stride: usize,
    pad: usize,
    want: Wanted,
) -> FlexGrads {
    let o = options(stride, pad);
    let dx = want
        .x
        .then(|| Flex::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), o.clone()));
    let dw = want
        .w
        .then(|| Flex::conv2d_weight_backward(x.clone(), weight.clone(), grad.clone(), o.clone()));
    let db = want.b.then(|| {
        let [_, cout, _, _] = grad.shape().dims::<4>();
        let summed = Flex::float_sum_dim(Flex::float_sum_dim(Flex::float_sum_dim(grad, 3), 2), 0);
        Flex::float_reshape(summed, [cout].into())
    });
    (dx, dw, db)
}

impl<C: CheckpointStrategy> HostConvBackend for Autodiff<Flex, C> {
    fn host_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        match HostConvGrad
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let xp = x.primitive().clone();
                let wp = weight.primitive().clone();
                let out = Flex::host_conv2d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    stride,
                    pad,
                );
                prep.finish((xp, wp, stride, pad), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::host_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                stride,
                pad,
            )),
        }
    }
}

/// `conv2d(x, weight) + bias` (square kernel, equal strides, symmetric padding, no dilation or
/// groups). On an autodiff flex device: the host kernels with the gradients above; on any other
/// device Burn's `conv2d`.
///
/// # Shapes
/// `x [n, cin, h, w]`, `weight [cout, cin, k, k]` → `[n, cout, h', w']`.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    pad: usize,
) -> Tensor<4> {
    let [cout, cin, kh, kw] = weight.dims();
    let dev = x.device();
    let host = x.is_autodiff()
        && dev == Device::flex().autodiff()
        && kh == kw
        && x.dims()[1] == cin
        && stride > 0;
    if !host {
        return burn::tensor::module::conv2d(x, weight, bias, options(stride, pad));
    }
    let bias = bias.unwrap_or_else(|| Tensor::zeros([cout], &dev));
    Tensor::from_dispatch(<Dispatch as HostConvBackend>::host_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        stride,
        pad,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1) (the Burn RNG is shared between tests).
    fn rand(shape: [usize; 4], seed: u64, dev: &Device) -> Tensor<4> {
        let len: usize = shape.iter().product();
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let data: Vec<f32> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect();
        Tensor::from_data(TensorData::new(data, shape), dev)
    }

    fn max_rel(a: Tensor<4>, b: Tensor<4>) -> f32 {
        let (a, b) = (
            a.into_data().try_to_vec::<f32>(),
            b.into_data().try_to_vec::<f32>(),
        );
        let (Ok(a), Ok(b)) = (a, b) else {
            panic!("read back");
        };
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        a.iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    /// Output and all three gradients against Burn's own conv2d on autodiff flex.
    #[test]
    fn gradients_match_burns_conv2d() {
        let dev = Device::flex().autodiff();
        for (cin, cout, k, s, p, h, w, n) in [
            (3, 5, 3, 1, 1, 9, 7, 2),
            (4, 6, 4, 2, 1, 8, 10, 1),
            (8, 3, 1, 1, 0, 5, 6, 2),
            (2, 4, 3, 1, 0, 6, 6, 1),
            (6, 4, 3, 2, 1, 9, 9, 3),
            (5, 7, 7, 1, 3, 8, 8, 1),
            // im2col of 576 rows × 128 columns: three tiles of output rows.
            (64, 4, 3, 1, 1, 128, 128, 1),
        ] {
            let case = format!("cin {cin} cout {cout} k {k} s {s} p {p} {h}x{w} n {n}");
            let run = |host: bool| {
                let x = rand([n, cin, h, w], 1, &dev).require_grad();
                let wt = rand([cout, cin, k, k], 2, &dev).require_grad();
                let b = rand([1, 1, 1, cout], 3, &dev)
                    .reshape([cout])
                    .require_grad();
                let up = rand(
                    [n, cout, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1],
                    4,
                    &dev,
                );
                let y = if host {
                    conv2d(x.clone(), wt.clone(), Some(b.clone()), s, p)
                } else {
                    burn::tensor::module::conv2d(
                        x.clone(),
                        wt.clone(),
                        Some(b.clone()),
                        options(s, p),
                    )
                };
                let grads = (y.clone() * up).sum().backward();
                let gx = x
                    .grad(&grads)
                    .map(|g| Tensor::<4>::from_data(g.into_data(), &dev));
                let gw = wt
                    .grad(&grads)
                    .map(|g| Tensor::<4>::from_data(g.into_data(), &dev));
                let gb = b
                    .grad(&grads)
                    .map(|g| Tensor::<1>::from_data(g.into_data(), &dev).reshape([1, 1, 1, cout]));
                (y, gx, gw, gb)
            };
            let (y0, gx0, gw0, gb0) = run(false);
            let (y1, gx1, gw1, gb1) = run(true);
            assert!(max_rel(y1, y0) < 1e-5, "{case}: output");
            for (name, a, b) in [("x", gx1, gx0), ("w", gw1, gw0), ("b", gb1, gb0)] {
                let (Some(a), Some(b)) = (a, b) else {
                    panic!("{case}: no gradient for {name}");
                };
                let e = max_rel(a, b);
                assert!(e < 1e-5, "{case}: gradient of {name} off by {e}");
            }
        }
        assert_eq!(fallbacks(), 0, "the host path fell back to Burn's op");
    }

    /// A frozen weight (no gradient wanted) still passes the input's gradient through.
    #[test]
    fn frozen_weight_gives_input_gradient_only() {
        let dev = Device::flex().autodiff();
        let x = rand([2, 3, 6, 6], 5, &dev).require_grad();
        let wt = rand([4, 3, 3, 3], 6, &dev);
        let want = burn::tensor::module::conv2d(x.clone(), wt.clone(), None, options(1, 1));
        let gw = (want.sum()).backward();
        let gx_want = x
            .grad(&gw)
            .map(|g| Tensor::<4>::from_data(g.into_data(), &dev));
        let got = conv2d(x.clone(), wt.clone(), None, 1, 1);
        let g = got.sum().backward();
        let gx = x
            .grad(&g)
            .map(|g| Tensor::<4>::from_data(g.into_data(), &dev));
        assert!(wt.grad(&g).is_none());
        let (Some(a), Some(b)) = (gx, gx_want) else {
            panic!("no input gradient");
        };
        assert!(max_rel(a, b) < 1e-5);
    }
}
