//! Convolutions with hand-written gradients for training on the flex CPU backend.
//!
//! Burn 0.22 trains a convolution on flex through its generic backward: the input gradient is a
//! transposed convolution (flex runs it as direct loops) and the weight gradient a convolution
//! whose "kernel" is the whole output map, both re-laid out per call; a transposed convolution
//! is the mirror image. A training step of the default model spent most of its time there
//! (docs/performance.md). This module registers two custom operations through Burn's
//! backend-extension mechanism ([`HostConvBackend`]) built from three kernels of one
//! convolution `x [n, cin, h, w] → y [n, cout, ho, wo]` with weight `W [cout, cin·k·k]`:
//!
//! * **forward** `y = W · im2col(x)`: im2col in NCHW row order (the inference kernels'
//!   [`im2col`]) per batch element and tile of output rows, one GEMM per tile;
//! * **input gradient** `col2im(Wᵀ · dy)`: one GEMM per tile, scattered back onto the input
//!   (parallel over input channels, so no two threads write the same plane);
//! * **weight gradient** `Σ dy · im2col(x)ᵀ`: one GEMM per tile, computed as its transpose
//!   `im2col(x) · dyᵀ` with each tile of `dy` transposed first (the layout gemm is fast on).
//!
//! A convolution uses them as forward / input gradient / weight gradient; with stride 1 its
//! input gradient is instead the forward kernel run on the output gradient with the kernel
//! turned by 180° and its channels swapped (padding `k − 1 − p`): the GEMM then reduces over
//! `cout·k·k` instead of writing `k·k` times the input's size for col2im to read back (at 16
//! channels and 128², forward + backward took 29–45 ms instead of 81). A transposed
//! convolution is the input gradient of the convolution with the same weight, so its forward
//! is the input-gradient kernel, its input gradient the forward kernel and its weight gradient
//! the weight-gradient kernel with the roles of input and output swapped. Bias gradients are
//! per-channel sums. Only gradients that some parent needs are computed (a frozen network's
//! weights get none). The GEMMs ([`super::gemm`]) write straight into the result (forward: on
//! top of the bias; weight gradient: accumulating tile by tile), results are vectors handed to
//! flex without a copy, and the im2col buffer is recycled from tile to tile and call to call
//! (a thread's scratch pool; a pointwise convolution reads its input in place instead).
//!
//! [`conv2d`] and [`conv_transpose2d`] are the entry points the networks call: on an autodiff
//! flex tensor they take this path, anywhere else Burn's own ops. Any failure inside the host
//! path (it has none for valid shapes) falls back to Burn's op, so training never panics here.

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
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::cpu::{Window, at_least, col2im_add, give_scratch, im2col, take_scratch};
use super::gemm::{Mat, gemm};

/// How often the host path fell back to Burn's op (forward or backward) in this process.
static FALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// How often the host path of [`conv2d`] or [`conv_transpose2d`] fell back to Burn's op in
/// this process (0 for valid shapes; the tests check it).
pub fn fallbacks() -> usize {
    FALLBACKS.load(Ordering::Relaxed)
}

pub(super) fn fell_back() {
    FALLBACKS.fetch_add(1, Ordering::Relaxed);
}

/// Floats of im2col per GEMM tile (16 MiB), as in the inference kernels.
const TILE_FLOATS: usize = 1 << 22;

/// The custom convolutions, routed by Burn's dispatch to flex or to autodiff-on-flex.
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

    /// `conv_transpose2d(x, weight) + bias` with a square kernel, equal strides, symmetric
    /// padding, no output padding, dilation or groups.
    ///
    /// # Shapes
    /// `x [n, cin, h, w]`, `weight [cin, cout, k, k]`, `bias [cout]` →
    /// `[n, cout, (h − 1)·stride − 2·pad + k, …]`.
    fn host_conv_transpose2d(
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

fn options_t(stride: usize, pad: usize) -> ConvTransposeOptions<2> {
    ConvTransposeOptions::new([stride; 2], [pad; 2], [0, 0], [1, 1], 1)
}

/// A flex primitive whose values are one contiguous `f32` run (a copy only for a strided view).
pub(super) fn contiguous(t: FlexTensor) -> Option<FlexTensor> {
    if t.dtype() != DType::F32 {
        return None;
    }
    if t.as_slice::<f32>().is_some() {
        Some(t)
    } else {
        Some(t.to_contiguous())
    }
}

pub(super) fn dims4(t: &FlexTensor) -> Option<[usize; 4]> {
    let s = t.shape();
    (s.num_dims() == 4).then(|| s.dims::<4>())
}

/// A flex tensor over `data` (no copy: the vector becomes its storage).
pub(super) fn flex_from(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// The shapes of one convolution `[n, cin, h, w] → [n, cout, ho, wo]`, checked.
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
    fn new(
        [n, cin, h, w]: [usize; 4],
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Option<Self> {
        if k == 0 || stride == 0 || h + 2 * pad < k || w + 2 * pad < k {
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

    /// The convolution of `x` by `weight [cout, cin, k, k]`.
    fn conv(x: &FlexTensor, weight: &FlexTensor, stride: usize, pad: usize) -> Option<Self> {
        let [n, cin, h, w] = dims4(x)?;
        let [cout, wc, k, k2] = dims4(weight)?;
        if wc != cin || k != k2 {
            return None;
        }
        Self::new([n, cin, h, w], cout, k, stride, pad)
    }

    /// The convolution whose input gradient is the transposed convolution of `x` by
    /// `weight [cin_t, cout_t, k, k]`: input `[n, cout_t, h_t, w_t]` (the transposed
    /// convolution's output), output `x`'s shape, the same weight.
    fn transposed(x: &FlexTensor, weight: &FlexTensor, stride: usize, pad: usize) -> Option<Self> {
        let [n, cin_t, h, w] = dims4(x)?;
        let [wc, cout_t, k, k2] = dims4(weight)?;
        if wc != cin_t || k != k2 || h == 0 || w == 0 {
            return None;
        }
        let size = |s: usize| ((s - 1) * stride + k).checked_sub(2 * pad);
        let g = Self::new([n, cout_t, size(h)?, size(w)?], cin_t, k, stride, pad)?;
        (g.ho == h && g.wo == w).then_some(g)
    }

    /// For a stride-1 convolution: the convolution that maps its output gradient to its input
    /// gradient (`cout → cin` channels, padding `k − 1 − p`, the same kernel size; see
    /// [`flipped`]).
    fn flipped(&self) -> Option<Self> {
        let Window { k, s, p } = self.win;
        if s != 1 || p >= k {
            return None;
        }
        let g = Self::new(
            [self.n, self.cout, self.ho, self.wo],
            self.cin,
            k,
            1,
            k - 1 - p,
        )?;
        (g.ho == self.h && g.wo == self.w).then_some(g)
    }

    /// Rows of the im2col matrix: `cin·k·k`.
    fn kk(&self) -> usize {
        self.cin * self.win.k * self.win.k
    }

    /// Pixels per output plane.
    fn hwo(&self) -> usize {
        self.ho * self.wo
    }

    /// Runs `f(b, r0, r1)` over batch elements and tiles of output rows.
    fn tiles(&self, mut f: impl FnMut(usize, usize, usize) -> Option<()>) -> Option<()> {
        let tile = (TILE_FLOATS / (self.kk() * self.wo).max(1)).clamp(1, self.ho.max(1));
        for b in 0..self.n {
            let mut r0 = 0;
            while r0 < self.ho {
                let r1 = (r0 + tile).min(self.ho);
                f(b, r0, r1)?;
                r0 = r1;
            }
        }
        Some(())
    }

    /// A 1×1 convolution with stride 1 and no padding: its im2col matrix is the input itself.
    fn pointwise(&self) -> bool {
        self.win == Window { k: 1, s: 1, p: 0 }
    }

    /// The im2col matrix (`[kk, (r1 − r0)·wo]`) of output rows `r0..r1` of batch element `b`:
    /// written into `buf` (grown when too short, never shrunk), or for a pointwise convolution
    /// a view of `xs` itself.
    fn cols<'b>(
        &self,
        buf: &'b mut Vec<f32>,
        xs: &'b [f32],
        b: usize,
        r0: usize,
        r1: usize,
    ) -> Option<Mat<'b>> {
        let ncols = (r1 - r0) * self.wo;
        if self.pointwise() {
            let hw = self.h * self.w;
            let from = (b * self.cin * hw + r0 * self.w).min(xs.len());
            return Mat::new(&xs[from..], self.cin, ncols, hw, 1);
        }
        let len = self.kk() * ncols;
        let span = (b * self.ho + r0, b * self.ho + r1);
        im2col(
            at_least(buf, len),
            xs,
            (self.cin, self.h, self.w),
            self.win,
            span,
            (self.ho, self.wo),
        );
        Mat::rows(buf, self.kk(), ncols)
    }

    /// Rows `r0..r1` of batch element `b` of the `[n, cout, ho, wo]` values `ys`, as a
    /// `[cout, (r1 − r0)·wo]` view.
    fn out_rows<'b>(&self, ys: &'b [f32], b: usize, r0: usize, r1: usize) -> Option<Mat<'b>> {
        let hwo = self.hwo();
        let from = (b * self.cout * hwo + r0 * self.wo).min(ys.len());
        Mat::new(&ys[from..], self.cout, (r1 - r0) * self.wo, hwo, 1)
    }
}

/// Forward kernel: `W [cout, kk] · im2col(x)` (+ bias) as `[n, cout, ho, wo]` values, the
/// GEMM writing each tile straight into place (on top of the bias).
fn conv_forward(xs: &[f32], w: Mat<'_>, bias: Option<&[f32]>, g: &Geometry) -> Option<Vec<f32>> {
    let hwo = g.hwo();
    let mut out = vec![0.0f32; g.n * g.cout * hwo];
    if let Some(bv) = bias.filter(|bv| bv.len() == g.cout) {
        out.par_chunks_mut(hwo)
            .enumerate()
            .for_each(|(i, plane)| plane.fill(bv[i % g.cout]));
    }
    let mut buf = take_scratch(0);
    let done = g.tiles(|b, r0, r1| {
        let cols = g.cols(&mut buf, xs, b, r0, r1)?;
        let at = b * g.cout * hwo + r0 * g.wo;
        gemm(out.get_mut(at..)?, hwo, w, cols, bias.is_some())
    });
    give_scratch(buf);
    done.map(|()| out)
}

/// The weight of [`Geometry::flipped`]: `W'[ci, (co, ky, kx)] = W[co, ci, k−1−ky, k−1−kx]`
/// (channels swapped, kernel turned by 180°), as `[cin, cout·k·k]` values.
fn flipped(ws: &[f32], g: &Geometry) -> Option<Vec<f32>> {
    let (cin, cout, k) = (g.cin, g.cout, g.win.k);
    let kk = k * k;
    if ws.len() != cout * cin * kk {
        return None;
    }
    let mut out = vec![0.0f32; cin * cout * kk];
    for ci in 0..cin {
        for co in 0..cout {
            let src = &ws[(co * cin + ci) * kk..][..kk];
            let dst = &mut out[(ci * cout + co) * kk..][..kk];
            dst.iter_mut()
                .zip(src.iter().rev())
                .for_each(|(d, v)| *d = *v);
        }
    }
    Some(out)
}

/// Input-gradient kernel: `col2im(Wᵀ · dy)` as `[n, cin, h, w]` values; `wt` is `Wᵀ
/// [kk, cout]`, `dys` the output gradient's `[n, cout, ho, wo]` values.
fn conv_input_grad(wt: Mat<'_>, dys: &[f32], g: &Geometry) -> Option<Vec<f32>> {
    let plane = g.cin * g.h * g.w;
    let mut dx = vec![0.0f32; g.n * plane];
    let mut dcols = take_scratch(0);
    let done = g.tiles(|b, r0, r1| {
        let ncols = (r1 - r0) * g.wo;
        let cols = at_least(&mut dcols, g.kk() * ncols);
        gemm(cols, ncols, wt, g.out_rows(dys, b, r0, r1)?, false)?;
        let dst = &mut dx[b * plane..][..plane];
        col2im_add(dst, cols, (g.h, g.w), g.win, (r0, r1), g.wo);
        Some(())
    });
    give_scratch(dcols);
    done.map(|()| dx)
}

/// Weight-gradient kernel: `Σ dy · im2col(x)ᵀ` as `[cout, kk]` values.
///
/// Computed transposed, `dWᵀ [kk, cout] = Σ im2col(x) · dyᵀ` accumulated tile by tile, with
/// each tile of `dy` copied into a row-major `dyᵀ` first: both GEMM operands then have the
/// layout gemm's kernels are fastest on (the straight form, two operands contiguous along the
/// summed dimension, ran 1.5–3.2× slower with the AVX2 kernels and 2.5–10× slower with the
/// AVX-512 ones on this project's training shapes). The transposes move `cout·ncols` and `cout·kk` values, small against the
/// product's `cout·kk·ncols`.
fn conv_weight_grad(xs: &[f32], dys: &[f32], g: &Geometry) -> Option<Vec<f32>> {
    let (cout, kk, hwo) = (g.cout, g.kk(), g.hwo());
    let mut dwt = vec![0.0f32; kk * cout];
    let mut buf = take_scratch(0);
    let mut dyt = take_scratch(0);
    let mut first = true;
    let done = g.tiles(|b, r0, r1| {
        let ncols = (r1 - r0) * g.wo;
        let from = b * cout * hwo + r0 * g.wo;
        let dyt_tile = at_least(&mut dyt, ncols * cout);
        transpose_into(dyt_tile, dys.get(from..)?, cout, ncols, hwo)?;
        let cols = g.cols(&mut buf, xs, b, r0, r1)?;
        gemm(
            &mut dwt,
            cout,
            cols,
            Mat::rows(dyt_tile, ncols, cout)?,
            !first,
        )?;
        first = false;
        Some(())
    });
    give_scratch(buf);
    give_scratch(dyt);
    done?;
    let mut dw = vec![0.0f32; cout * kk];
    transpose_into(&mut dw, &dwt, kk, cout, cout)?;
    Some(dw)
}

/// Writes into `dst` (`cols × rows`, row-major) the transpose of the `rows × cols` matrix
/// whose row `i` is `src[i·rs..][..cols]`; `None` when the shapes do not fit the slices.
/// Parallel over blocks of 64 columns (one block of `dst` stays in cache while it fills).
fn transpose_into(dst: &mut [f32], src: &[f32], rows: usize, cols: usize, rs: usize) -> Option<()> {
    const BLOCK: usize = 64;
    if rows == 0 || cols == 0 {
        return Some(());
    }
    let need = (rows - 1).checked_mul(rs)?.checked_add(cols)?;
    if dst.len() != rows.checked_mul(cols)? || src.len() < need || rs < cols {
        return None;
    }
    dst.par_chunks_mut(BLOCK * rows)
        .enumerate()
        .for_each(|(jb, out)| {
            let (j0, w) = (jb * BLOCK, out.len() / rows);
            for i in 0..rows {
                let row = &src[i * rs + j0..][..w];
                for (j, &v) in row.iter().enumerate() {
                    out[j * rows + i] = v;
                }
            }
        });
    Some(())
}

/// Per-channel sums of `[n, c, plane]` values (in f64), as a flex `[c]` tensor.
fn channel_sums(vs: &[f32], n: usize, c: usize) -> FlexTensor {
    let plane = vs.len() / (n * c).max(1);
    let sums: Vec<f32> = (0..c)
        .into_par_iter()
        .map(|ch| {
            (0..n)
                .map(|b| {
                    vs[(b * c + ch) * plane..][..plane]
                        .iter()
                        .map(|&v| f64::from(v))
                        .sum::<f64>()
                })
                .sum::<f64>() as f32
        })
        .collect();
    flex_from(sums, vec![c])
}

fn forward_flex(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    stride: usize,
    pad: usize,
) -> Option<FlexTensor> {
    let g = Geometry::conv(x, weight, stride, pad)?;
    let x = contiguous(x.clone())?;
    let weight = contiguous(weight.clone())?;
    let wm = Mat::rows(weight.as_slice::<f32>()?, g.cout, g.kk())?;
    let bias = contiguous(bias.clone())?;
    let bs = bias.as_slice::<f32>().filter(|b| b.len() == g.cout)?;
    let out = conv_forward(x.as_slice::<f32>()?, wm, Some(bs), &g)?;
    Some(flex_from(out, vec![g.n, g.cout, g.ho, g.wo]))
}

fn forward_t_flex(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    stride: usize,
    pad: usize,
) -> Option<FlexTensor> {
    let g = Geometry::transposed(x, weight, stride, pad)?;
    let x = contiguous(x.clone())?;
    let weight = contiguous(weight.clone())?;
    let wt = Mat::rows(weight.as_slice::<f32>()?, g.cout, g.kk())?.t();
    let bias = contiguous(bias.clone())?;
    let bs = bias.as_slice::<f32>().filter(|b| b.len() == g.cin)?;
    let mut out = conv_input_grad(wt, x.as_slice::<f32>()?, &g)?;
    out.par_chunks_mut(g.h * g.w)
        .enumerate()
        .for_each(|(i, plane)| {
            let bc = bs[i % g.cin];
            plane.iter_mut().for_each(|v| *v += bc);
        });
    Some(flex_from(out, vec![g.n, g.cin, g.h, g.w]))
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
        fell_back();
        Flex::conv2d(x, weight, Some(bias), options(stride, pad))
    }

    fn host_conv_transpose2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        pad: usize,
    ) -> FlexTensor {
        if let Some(out) = forward_t_flex(&x, &weight, &bias, stride, pad) {
            return out;
        }
        fell_back();
        Flex::conv_transpose2d(x, weight, Some(bias), options_t(stride, pad))
    }
}

/// Which gradients to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wanted {
    x: bool,
    w: bool,
    b: bool,
}

/// `(dx, dW, db)`, each `None` where not wanted.
type FlexGrads = (Option<FlexTensor>, Option<FlexTensor>, Option<FlexTensor>);

/// What a backward step keeps: the input and weight (flex primitives), stride and padding.
type ConvState = (FlexTensor, FlexTensor, usize, usize);

/// The gradients of `conv(x) + b` given the output gradient `grad`.
fn conv_backward(
    (x, weight, stride, pad): &ConvState,
    grad: &FlexTensor,
    want: Wanted,
) -> Option<FlexGrads> {
    let g = Geometry::conv(x, weight, *stride, *pad)?;
    if dims4(grad)? != [g.n, g.cout, g.ho, g.wo] {
        return None;
    }
    let grad = contiguous(grad.clone())?;
    let gs = grad.as_slice::<f32>()?;
    let db = want.b.then(|| channel_sums(gs, g.n, g.cout));
    let weight = contiguous(weight.clone())?;
    let ws = weight.as_slice::<f32>()?;
    let wm = Mat::rows(ws, g.cout, g.kk())?;
    let dx = match want.x {
        true if g.win.s == 1 && g.win.p < g.win.k => {
            let f = g.flipped()?;
            let wf = flipped(ws, &g)?;
            let v = conv_forward(gs, Mat::rows(&wf, f.cout, f.kk())?, None, &f)?;
            Some(flex_from(v, vec![g.n, g.cin, g.h, g.w]))
        }
        true => {
            let v = conv_input_grad(wm.t(), gs, &g)?;
            Some(flex_from(v, vec![g.n, g.cin, g.h, g.w]))
        }
        false => None,
    };
    let dw = match want.w {
        true => {
            let x = contiguous(x.clone())?;
            let dw = conv_weight_grad(x.as_slice::<f32>()?, gs, &g)?;
            Some(flex_from(dw, dims4(&weight)?.to_vec()))
        }
        false => None,
    };
    Some((dx, dw, db))
}

/// The gradients of `convT(x) + b` given the output gradient `grad` (see the module docs).
fn conv_t_backward(
    (x, weight, stride, pad): &ConvState,
    grad: &FlexTensor,
    want: Wanted,
) -> Option<FlexGrads> {
    let g = Geometry::transposed(x, weight, *stride, *pad)?;
    if dims4(grad)? != [g.n, g.cin, g.h, g.w] {
        return None;
    }
    let grad = contiguous(grad.clone())?;
    let gs = grad.as_slice::<f32>()?;
    let db = want.b.then(|| channel_sums(gs, g.n, g.cin));
    let dx = match want.x {
        true => {
            let weight = contiguous(weight.clone())?;
            let wm = Mat::rows(weight.as_slice::<f32>()?, g.cout, g.kk())?;
            let v = conv_forward(gs, wm, None, &g)?;
            Some(flex_from(v, vec![g.n, g.cout, g.ho, g.wo]))
        }
        false => None,
    };
    let dw = match want.w {
        true => {
            let x = contiguous(x.clone())?;
            let dw = conv_weight_grad(gs, x.as_slice::<f32>()?, &g)?;
            Some(flex_from(dw, dims4(weight)?.to_vec()))
        }
        false => None,
    };
    Some((dx, dw, db))
}

/// Burn's own gradients of a convolution (the fallback).
fn conv_backward_burn(
    (x, weight, stride, pad): ConvState,
    grad: FlexTensor,
    want: Wanted,
) -> FlexGrads {
    let o = options(stride, pad);
    let dx = want
        .x
        .then(|| Flex::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), o.clone()));
    let dw = want
        .w
        .then(|| Flex::conv2d_weight_backward(x.clone(), weight.clone(), grad.clone(), o.clone()));
    let db = want.b.then(|| sum_but_channels(grad));
    (dx, dw, db)
}

/// Burn's own gradients of a transposed convolution (the fallback).
fn conv_t_backward_burn(
    (x, weight, stride, pad): ConvState,
    grad: FlexTensor,
    want: Wanted,
) -> FlexGrads {
    let o = options_t(stride, pad);
    let dx = want
        .x
        .then(|| Flex::conv_transpose2d_x_backward(weight.clone(), grad.clone(), o.clone()));
    let dw = want.w.then(|| {
        Flex::conv_transpose2d_weight_backward(x.clone(), weight.clone(), grad.clone(), o.clone())
    });
    let db = want.b.then(|| sum_but_channels(grad));
    (dx, dw, db)
}

/// `[n, c, h, w] → [c]` by summing.
fn sum_but_channels(grad: FlexTensor) -> FlexTensor {
    let c = grad.shape().dims::<4>()[1];
    let summed = Flex::float_sum_dim(Flex::float_sum_dim(Flex::float_sum_dim(grad, 3), 2), 0);
    Flex::float_reshape(summed, [c].into())
}

/// Registers the gradients a backward step computed (or its fallback's).
fn register(
    ops: Ops<ConvState, 3>,
    grads: &mut Gradients,
    host: fn(&ConvState, &FlexTensor, Wanted) -> Option<FlexGrads>,
    burn: fn(ConvState, FlexTensor, Wanted) -> FlexGrads,
) {
    let [node_x, node_w, node_b] = ops.parents;
    let grad = grads.consume::<Flex>(&ops.node);
    let want = Wanted {
        x: node_x.is_some(),
        w: node_w.is_some(),
        b: node_b.is_some(),
    };
    let (dx, dw, db) = match host(&ops.state, &grad, want) {
        Some(g) => g,
        None => {
            fell_back();
            burn(ops.state, grad, want)
        }
    };
    for (node, g) in [(node_x, dx), (node_w, dw), (node_b, db)] {
        if let (Some(node), Some(g)) = (node, g) {
            grads.register::<Flex>(node.id, g);
        }
    }
}

/// The backward step of [`HostConvBackend::host_conv2d`] on autodiff-on-flex.
#[derive(Debug)]
struct ConvGrad;

impl Backward<Flex, 3> for ConvGrad {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        register(ops, grads, conv_backward, conv_backward_burn);
    }
}

/// The backward step of [`HostConvBackend::host_conv_transpose2d`] on autodiff-on-flex.
#[derive(Debug)]
struct ConvTGrad;

impl Backward<Flex, 3> for ConvTGrad {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        register(ops, grads, conv_t_backward, conv_t_backward_burn);
    }
}

/// Records `forward(x, weight, bias)` on the autodiff graph with `step` as its backward.
fn tracked<C: CheckpointStrategy, S: Backward<Flex, 3, State = ConvState>>(
    step: S,
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    bias: FloatTensor<Autodiff<Flex, C>>,
    (stride, pad): (usize, usize),
    forward: fn(FlexTensor, FlexTensor, FlexTensor, usize, usize) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>> {
    match step
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = (
                x.primitive().clone(),
                weight.primitive().clone(),
                stride,
                pad,
            );
            let out = forward(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                stride,
                pad,
            );
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            stride,
            pad,
        )),
    }
}

impl<C: CheckpointStrategy> HostConvBackend for Autodiff<Flex, C> {
    fn host_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        tracked::<C, _>(ConvGrad, x, weight, bias, (stride, pad), Flex::host_conv2d)
    }

    fn host_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        tracked::<C, _>(
            ConvTGrad,
            x,
            weight,
            bias,
            (stride, pad),
            Flex::host_conv_transpose2d,
        )
    }
}

/// Whether `x` is an autodiff tensor on flex (where the custom operations apply).
pub(super) fn on_autodiff_flex(x: &Tensor<4>) -> bool {
    x.is_autodiff() && x.device() == Device::flex().autodiff()
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
    let [cout, cin, _, _] = weight.dims();
    let burn = |x, w, b| burn::tensor::module::conv2d(x, w, b, options(stride, pad));
    route(
        Conv::Plain,
        x,
        weight,
        bias,
        (cin, cout),
        (stride, pad),
        burn,
    )
}

/// `conv_transpose2d(x, weight) + bias` (square kernel, equal strides, symmetric padding, no
/// output padding, dilation or groups). On an autodiff flex device: the host kernels with the
/// gradients above; on any other device Burn's `conv_transpose2d`.
///
/// # Shapes
/// `x [n, cin, h, w]`, `weight [cin, cout, k, k]` → `[n, cout, (h − 1)·stride − 2·pad + k, …]`.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    pad: usize,
) -> Tensor<4> {
    let [cin, cout, _, _] = weight.dims();
    let burn = |x, w, b| burn::tensor::module::conv_transpose2d(x, w, b, options_t(stride, pad));
    route(
        Conv::Transposed,
        x,
        weight,
        bias,
        (cin, cout),
        (stride, pad),
        burn,
    )
}

/// Which custom operation [`route`] calls.
#[derive(Debug, Clone, Copy)]
enum Conv {
    Plain,
    Transposed,
}

/// The custom operation `op` on an autodiff flex tensor with a square kernel and `cin` input
/// channels (a zero bias when there is none), `burn(x, weight, bias)` anywhere else.
fn route(
    op: Conv,
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    (cin, cout): (usize, usize),
    (stride, pad): (usize, usize),
    burn: impl FnOnce(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
) -> Tensor<4> {
    let [_, _, kh, kw] = weight.dims();
    if !(on_autodiff_flex(&x) && kh == kw && x.dims()[1] == cin && stride > 0) {
        return burn(x, weight, bias);
    }
    let bias = bias.unwrap_or_else(|| Tensor::zeros([cout], &x.device()));
    let (x, w, b) = (
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    );
    Tensor::from_dispatch(match op {
        Conv::Plain => <Dispatch as HostConvBackend>::host_conv2d(x, w, b, stride, pad),
        Conv::Transposed => {
            <Dispatch as HostConvBackend>::host_conv_transpose2d(x, w, b, stride, pad)
        }
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1) (the Burn RNG is shared between tests).
    pub(in crate::model::layers) fn rand(shape: [usize; 4], seed: u64, dev: &Device) -> Tensor<4> {
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

    pub(in crate::model::layers) fn max_rel<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
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

    /// A convolution-like op: `(host path?, x, weight, bias) → y`.
    type Op<'a> = &'a dyn Fn(bool, Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4>;

    /// Runs `op` with Burn's op and with the host path on the same inputs (input shape `x`,
    /// weight shape `w`, a bias of `bias_len`), compares the outputs and the gradients of
    /// input, weight and bias, and returns the output's shape.
    fn compare(case: &str, x: [usize; 4], w: [usize; 4], bias_len: usize, op: Op) -> [usize; 4] {
        let dev = Device::flex().autodiff();
        let run = |host: bool| {
            let xt = rand(x, 1, &dev).require_grad();
            let wt = rand(w, 2, &dev).require_grad();
            let b = rand([1, 1, 1, bias_len], 3, &dev)
                .reshape([bias_len])
                .require_grad();
            let y = op(host, xt.clone(), wt.clone(), b.clone());
            let up = rand(y.dims(), 4, &dev);
            let grads = (y.clone() * up).sum().backward();
            (y, xt.grad(&grads), wt.grad(&grads), b.grad(&grads))
        };
        let (y0, gx0, gw0, gb0) = run(false);
        let (y1, gx1, gw1, gb1) = run(true);
        let dims = y1.dims();
        assert!(max_rel(y1, y0) < 1e-5, "{case}: output");
        for (name, a, b) in [("x", gx1, gx0), ("w", gw1, gw0)] {
            let (Some(a), Some(b)) = (a, b) else {
                panic!("{case}: no gradient for {name}");
            };
            let e = max_rel(a, b);
            assert!(e < 1e-5, "{case}: gradient of {name} off by {e}");
        }
        let (Some(a), Some(b)) = (gb1, gb0) else {
            panic!("{case}: no gradient for the bias");
        };
        let e = max_rel(a, b);
        assert!(e < 1e-5, "{case}: gradient of the bias off by {e}");
        dims
    }

    /// Output and all three gradients against Burn's own conv2d on autodiff flex.
    #[test]
    fn gradients_match_burns_conv2d() {
        // The large cases come first: the smaller ones after them then run on recycled
        // scratch buffers longer than they need (holding the large cases' values).
        for (cin, cout, k, s, p, h, w, n) in [
            // im2col of 576 rows × 128 columns: three tiles of output rows.
            (64, 4, 3, 1, 1, 128, 128, 1),
            // Pointwise (the input read in place as the im2col matrix), over two tiles.
            (256, 3, 1, 1, 0, 128, 130, 2),
            (3, 5, 3, 1, 1, 9, 7, 2),
            (4, 6, 4, 2, 1, 8, 10, 1),
            (8, 3, 1, 1, 0, 5, 6, 2),
            (2, 4, 3, 1, 0, 6, 6, 1),
            (6, 4, 3, 2, 1, 9, 9, 3),
            (5, 7, 7, 1, 3, 8, 8, 1),
        ] {
            let case = format!("cin {cin} cout {cout} k {k} s {s} p {p} {h}x{w} n {n}");
            compare(
                &case,
                [n, cin, h, w],
                [cout, cin, k, k],
                cout,
                &|host, x, wt, b| {
                    if host {
                        conv2d(x, wt, Some(b), s, p)
                    } else {
                        burn::tensor::module::conv2d(x, wt, Some(b), options(s, p))
                    }
                },
            );
        }
        assert_eq!(fallbacks(), 0, "the host path fell back to Burn's op");
    }

    /// Output and all three gradients of the transposed convolution against Burn's own.
    #[test]
    fn transposed_gradients_match_burns_conv_transpose2d() {
        for (cin, cout, k, s, p, h, w, n) in [
            (4, 3, 4, 2, 1, 5, 6, 2),
            (3, 5, 3, 1, 1, 7, 5, 1),
            (6, 2, 4, 2, 0, 4, 4, 3),
            (2, 4, 5, 3, 2, 3, 4, 1),
            // The official generator's last upsampling at a small size.
            (32, 16, 4, 2, 1, 32, 32, 2),
        ] {
            let case = format!("cin {cin} cout {cout} k {k} s {s} p {p} {h}x{w} n {n}");
            let dims = compare(
                &case,
                [n, cin, h, w],
                [cin, cout, k, k],
                cout,
                &|host, x, wt, b| {
                    if host {
                        conv_transpose2d(x, wt, Some(b), s, p)
                    } else {
                        burn::tensor::module::conv_transpose2d(x, wt, Some(b), options_t(s, p))
                    }
                },
            );
            let (ho, wo) = ((h - 1) * s + k - 2 * p, (w - 1) * s + k - 2 * p);
            assert_eq!(dims, [n, cout, ho, wo], "{case}");
        }
        assert_eq!(fallbacks(), 0, "the host path fell back to Burn's op");
    }

    /// The transpose of a strided matrix, across and inside column blocks; shapes that do not
    /// fit the slices are refused.
    #[test]
    fn transposes_strided_rows() {
        for (rows, cols, rs) in [(3, 5, 5), (7, 130, 141), (1, 64, 64), (65, 1, 3)] {
            let src: Vec<f32> = (0..(rows - 1) * rs + cols).map(|v| v as f32).collect();
            let mut dst = vec![f32::NAN; rows * cols];
            assert_eq!(transpose_into(&mut dst, &src, rows, cols, rs), Some(()));
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(
                        dst[j * rows + i],
                        src[i * rs + j],
                        "{rows}x{cols} ({i}, {j})"
                    );
                }
            }
        }
        let src = vec![0.0f32; 10];
        assert_eq!(
            transpose_into(&mut [0.0; 6], &src, 2, 3, 8),
            None,
            "past the end"
        );
        assert_eq!(
            transpose_into(&mut [0.0; 5], &src, 2, 3, 3),
            None,
            "wrong output size"
        );
        assert_eq!(
            transpose_into(&mut [0.0; 6], &src, 2, 3, 2),
            None,
            "overlapping rows"
        );
        assert_eq!(transpose_into(&mut [], &src, 0, 3, 3), Some(()));
    }

    /// A frozen weight (no gradient wanted) still passes the input's gradient through.
    #[test]
    fn frozen_weight_gives_input_gradient_only() {
        let dev = Device::flex().autodiff();
        let x = rand([2, 3, 6, 6], 5, &dev).require_grad();
        let wt = rand([4, 3, 3, 3], 6, &dev);
        let want = burn::tensor::module::conv2d(x.clone(), wt.clone(), None, options(1, 1));
        let gw = (want.sum()).backward();
        let gx_want = x.grad(&gw);
        let got = conv2d(x.clone(), wt.clone(), None, 1, 1);
        let g = got.sum().backward();
        let gx = x.grad(&g);
        assert!(wt.grad(&g).is_none());
        let (Some(a), Some(b)) = (gx, gx_want) else {
            panic!("no input gradient");
        };
        assert!(max_rel(a, b) < 1e-5);
    }
}
