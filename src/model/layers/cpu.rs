//! Host kernels for inference on Burn's flex CPU backend (docs/performance.md#where-the-time-goes).
//!
//! Burn 0.22's flex convolution re-lays every input out as NHWC in a scalar loop, flattens the
//! weights again on every call, fills its im2col tiles one element at a time with a bounds check
//! each, allocates a result per tile and scatters it back to NCHW; a convolution at 4×4 or 8×8
//! runs its GEMM on one thread. The SPDNorm and positional-norm chains are a dozen tensor
//! passes with an allocation each. At inference (no autodiff) on flex, the generator and the
//! prior run on host buffers instead:
//!
//! * convolutions: im2col in NCHW row order (a row is a shifted copy of an input row) for a
//!   tile of output rows, one GEMM per tile (the gemm crate that flex's `matmul` uses, called
//!   directly on recycled buffers: [`super::gemm`]) and a write back that adds the bias and
//!   applies the layer's element-wise tail in the same pass;
//! * transposed 4×4 stride-2 convolutions: four sub-pixel GEMMs (each output parity sees a 2×2
//!   part of the kernel), no column scatter;
//! * normalisations: one statistics pass and one output pass.
//!
//! Training (autodiff) and wgpu keep Burn's ops; the trace functions used by the parity tests
//! too. Every kernel computes its element-wise maths in the same order as the Burn ops it
//! replaces; only the summation order of the reductions and GEMMs differs.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use rayon::prelude::*;

use super::gemm::{Mat, gemm};
use crate::error::{Error, Result};

/// Floats of im2col per GEMM tile (16 MiB): bounds the extra memory of a convolution.
const TILE_FLOATS: usize = 1 << 22;

/// Output planes of at least this many pixels are tiled per batch element, the GEMM writing
/// into the output in place; smaller ones share tiles across the batch (a GEMM of a few
/// hundred columns wastes more than the copy out of a shared result costs).
const DIRECT_FROM: usize = 1024;

/// Whether `t` is a plain (no autodiff) tensor on the flex CPU backend, where the host kernels
/// apply.
pub fn on_host(t: &Tensor<4>) -> bool {
    !t.is_autodiff() && t.device() == Device::flex()
}

fn backend_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Backend(format!("host kernel: {what}: {e:?}"))
}

/// Reads a tensor's values (zero-copy when the tensor is not shared).
fn to_host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.try_into_data()
        .map_err(|e| backend_err("read back", e))?
        .try_into_vec::<f32>()
        .map_err(|e| backend_err("read back as f32", e))
}

/// Runs `f` on the values of a plain (no autodiff) f32 flex tensor in place, without copying
/// them (a weight shared with its module is otherwise copied, allocation and all, on every
/// read); `None` on any other backend, dtype or a strided view.
pub fn with_values<const D: usize, R>(t: &Tensor<D>, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    with_flex(t, |ft| ft.as_slice::<f32>().map(f))
}

/// Runs `f` on the flex primitive of a plain float tensor on the flex backend; `None` on any
/// other backend.
fn with_flex<const D: usize, R>(
    t: &Tensor<D>,
    f: impl FnOnce(&burn::backend::flex::FlexTensor) -> Option<R>,
) -> Option<R> {
    use burn::backend::{BackendTensor, DispatchTensorKind};
    let d = t.clone().into_dispatch();
    match &d.kind {
        DispatchTensorKind::Flex(BackendTensor::Float(ft)) => f(ft),
        _ => None,
    }
}

/// Runs `f` on a plain f32 flex matrix as a [`Mat`] view of its storage, strided views (a
/// transpose, a column range) included, without copying; `None` on any other backend or dtype,
/// or with negative strides.
pub fn with_matrix<R>(t: &Tensor<2>, f: impl FnOnce(Mat<'_>) -> R) -> Option<R> {
    let [rows, cols] = t.dims();
    with_flex(t, |ft| {
        if ft.dtype() != burn::tensor::DType::F32 {
            return None;
        }
        let layout = ft.layout();
        let [rs, cs] = match layout.strides() {
            [rs, cs] => [usize::try_from(*rs).ok()?, usize::try_from(*cs).ok()?],
            _ => return None,
        };
        let data = ft.storage::<f32>().get(layout.start_offset()..)?;
        Mat::new(data, rows, cols, rs, cs).map(f)
    })
}

/// `dst = w · rhs` (rows of `dst` `dst_rs` apart), the weight read in place where it can be
/// (else copied once).
fn gemm_by(w: &Tensor<2>, dst: &mut [f32], dst_rs: usize, rhs: Mat<'_>) -> Result<()> {
    let bad = || Error::Backend("host kernel: GEMM shapes disagree".into());
    match with_matrix(w, |lhs| gemm(dst, dst_rs, lhs, rhs, false)) {
        Some(done) => done.ok_or_else(bad),
        None => {
            let [m, k] = w.dims();
            let values = to_host(w.clone())?;
            let lhs = Mat::rows(&values, m, k).ok_or_else(bad)?;
            gemm(dst, dst_rs, lhs, rhs, false).ok_or_else(bad)
        }
    }
}

/// `rows × cols` values of `data` from `at` on, row-major, as a matrix.
fn mat_at(data: &[f32], at: usize, rows: usize, cols: usize) -> Result<Mat<'_>> {
    data.get(at..)
        .and_then(|d| Mat::rows(d, rows, cols))
        .ok_or_else(|| Error::Backend(format!("host kernel: {rows}x{cols} values past the end")))
}

/// A batch of NCHW feature maps on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Planes {
    /// Values, row-major `[n, c, h, w]`.
    pub data: Vec<f32>,
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Planes {
    /// All zeros.
    pub fn zeros(n: usize, c: usize, h: usize, w: usize) -> Self {
        Self {
            data: vec![0.0; n * c * h * w],
            n,
            c,
            h,
            w,
        }
    }

    /// Takes a tensor's values (zero-copy when the tensor is not shared).
    pub fn from_tensor(t: Tensor<4>) -> Result<Self> {
        let [n, c, h, w] = t.dims();
        Ok(Self {
            data: to_host(t)?,
            n,
            c,
            h,
            w,
        })
    }

    /// A flex tensor holding these values (no copy).
    pub fn into_tensor(self) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(self.data, [self.n, self.c, self.h, self.w]),
            &Device::flex(),
        )
    }

    /// Pixels per plane.
    pub fn hw(&self) -> usize {
        self.h * self.w
    }

    /// `times` copies of the batch one after the other (the order of `repeat_dim(0, times)`);
    /// a batch-1 map, which serves every `b`, stays as it is.
    pub fn repeat_batch(&self, times: usize) -> Planes {
        if self.n == 1 || times <= 1 {
            return self.clone();
        }
        Planes {
            data: self.data.repeat(times),
            n: self.n * times,
            ..*self
        }
    }

    /// Plane `(b, c)`; a batch-1 map serves every `b`.
    pub fn plane(&self, b: usize, c: usize) -> &[f32] {
        let b = if self.n == 1 { 0 } else { b };
        let hw = self.hw();
        &self.data[(b * self.c + c) * hw..][..hw]
    }

    /// Applies `f` to every value in place.
    pub fn map_inplace(&mut self, f: impl Fn(f32) -> f32 + Sync + Send) {
        self.data
            .par_chunks_mut(1 << 14)
            .for_each(|c| c.iter_mut().for_each(|v| *v = f(*v)));
    }
}

/// A mask whose channels all agree, as one plane (the partial convolution's fast path); any
/// other mask unchanged.
pub fn shared_mask(m: Planes) -> Planes {
    let hw = m.hw();
    let same = (0..m.n).all(|b| (1..m.c).all(|c| m.plane(b, c) == m.plane(b, 0)));
    if !same || m.c == 1 {
        return m;
    }
    let mut data = Vec::with_capacity(m.n * hw);
    for b in 0..m.n {
        data.extend_from_slice(m.plane(b, 0));
    }
    Planes {
        data,
        n: m.n,
        c: 1,
        h: m.h,
        w: m.w,
    }
}

/// `max(x, 0)`.
#[inline]
pub fn relu(x: f32) -> f32 {
    x.max(0.0)
}

/// Burn's (and PyTorch's) LeakyReLU with slope 0.2.
#[inline]
pub fn leaky(x: f32) -> f32 {
    if x >= 0.0 { x } else { 0.2 * x }
}

/// Burn flex's sigmoid.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// No element-wise tail. A convolution's write-back step (`epi`) is run on every finished
/// output segment with `(batch, channel, offset of the segment in its plane, values with the
/// bias already added)`.
pub fn plain(_: usize, _: usize, _: usize, _: &mut [f32]) {}

/// A convolution (square kernel, symmetric zero padding, no dilation or groups) ready for the
/// host path: the weight as the `[cout, cin·k·k]` GEMM operand (possibly a strided view).
#[derive(Debug, Clone)]
pub struct HostConv {
    w: Tensor<2>,
    bias: Option<Vec<f32>>,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

thread_local! {
    /// im2col buffers handed back after their GEMM, for the next tile or convolution (a fresh
    /// allocation of this size is zeroed page by page by the kernel).
    static SCRATCH: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer of **at least** `len` values with unspecified contents (a recycled one when there
/// is one; only growth is zero-filled, so a recycled buffer keeps its longest length). Callers
/// use `&v[..len]`.
pub(super) fn take_scratch(len: usize) -> Vec<f32> {
    let mut v = SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    at_least(&mut v, len);
    v
}

/// The first `len` values of `v`, grown (zero-filled) first when it is shorter; never shrunk,
/// so a scratch buffer keeps its longest length.
pub(super) fn at_least(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len {
        v.resize(len, 0.0);
    }
    &mut v[..len]
}

/// Returns a buffer to the pool (at most two are kept).
pub(super) fn give_scratch(v: Vec<f32>) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < 2 {
            s.push(v);
        }
    });
}

impl HostConv {
    /// From a weight `[cout, cin, k, k]`, an optional bias `[cout]`, stride and padding.
    pub fn new(
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
        stride: usize,
        pad: usize,
    ) -> Result<Self> {
        let [cout, cin, kh, kw] = weight.dims();
        if kh != kw {
            return Err(Error::Backend(format!(
                "host conv: kernel {kh}x{kw} not supported"
            )));
        }
        Self::from_matrix(
            weight.reshape([cout, cin * kh * kw]),
            bias,
            cin,
            kh,
            stride,
            pad,
        )
    }

    /// From the weight as a `[cout, cin·k·k]` matrix (rows `(ci, ky, kx)`; a strided view, e.g.
    /// a column range of a wider weight, is used as it is).
    pub fn from_matrix(
        w: Tensor<2>,
        bias: Option<Tensor<1>>,
        cin: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Result<Self> {
        let [cout, kk] = w.dims();
        if kk != cin * k * k || stride == 0 || k == 0 {
            return Err(Error::Backend(format!(
                "host conv: weight [{cout}, {kk}] for {cin} channels, kernel {k}, stride {stride}"
            )));
        }
        Ok(Self {
            w,
            bias: bias.map(to_host).transpose()?,
            cin,
            cout,
            k,
            stride,
            pad,
        })
    }

    /// From a Burn `Conv2d` with symmetric explicit padding, equal strides, no dilation, one
    /// group.
    pub fn from_conv2d(c: &Conv2d) -> Result<Self> {
        let pad = match c.padding {
            PaddingConfig2d::Explicit(t, l, b, r) if t == l && l == b && b == r => t,
            PaddingConfig2d::Valid => 0,
            _ => {
                return Err(Error::Backend(
                    "host conv: only symmetric explicit padding".into(),
                ));
            }
        };
        if c.stride[0] != c.stride[1] || c.dilation != [1, 1] || c.groups != 1 {
            return Err(Error::Backend(
                "host conv: strided/dilated/grouped variant not supported".into(),
            ));
        }
        Self::new(
            c.weight.val(),
            c.bias.as_ref().map(|b| b.val()),
            c.stride[0],
            pad,
        )
    }

    /// Output channels.
    pub fn cout(&self) -> usize {
        self.cout
    }

    /// Kernel size.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Stride.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Symmetric zero padding.
    pub fn pad(&self) -> usize {
        self.pad
    }

    /// Output size for an `h × w` input.
    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        let o = |n: usize| (n + 2 * self.pad).saturating_sub(self.k) / self.stride + 1;
        (o(h), o(w))
    }

    fn check(&self, x: &Planes) -> Result<()> {
        if x.c != self.cin {
            return Err(Error::Backend(format!(
                "host conv: {} input channels, weight has {}",
                x.c, self.cin
            )));
        }
        Ok(())
    }

    /// Like [`Self::forward`], taking the input: a pointwise convolution then reads it in
    /// place instead of copying it.
    pub fn forward_owned(
        &self,
        x: Planes,
        epi: impl Fn(usize, usize, usize, &mut [f32]) + Sync,
    ) -> Result<Planes> {
        if !(self.k == 1 && self.stride == 1 && self.pad == 0) {
            return self.forward(&x, epi);
        }
        self.check(&x)?;
        let (n, c, h, w, hw) = (x.n, x.c, x.h, x.w, x.hw());
        let cout = self.cout;
        let mut out = Planes::zeros(n, cout, h, w);
        for (b, dst) in out.data.chunks_mut(cout * hw).enumerate() {
            gemm_by(&self.w, dst, hw, mat_at(&x.data, b * c * hw, c, hw)?)?;
        }
        self.finish(&mut out.data, 0, n, &epi);
        Ok(out)
    }

    /// `conv(x) + bias`, then `epi` on every output segment.
    ///
    /// # Shapes
    /// `[n, cin, h, w] → [n, cout, h', w']`.
    pub fn forward(
        &self,
        x: &Planes,
        epi: impl Fn(usize, usize, usize, &mut [f32]) + Sync,
    ) -> Result<Planes> {
        self.check(x)?;
        if self.k == 1 && self.stride == 1 && self.pad == 0 {
            return self.forward_owned(x.clone(), epi);
        }
        let (ho, wo) = self.out_size(x.h, x.w);
        let kk = self.cin * self.k * self.k;
        let rows = x.n * ho;
        let tile_rows = (TILE_FLOATS / (kk * wo).max(1)).clamp(1, rows.max(1));
        if x.n == 1 && tile_rows >= rows {
            // One tile holding the whole image: the GEMM result is the output.
            let mut cols = take_scratch(kk * rows * wo);
            self.im2col(&mut cols[..kk * rows * wo], x, 0, rows, ho, wo);
            let mut res = vec![0.0f32; self.cout * rows * wo];
            gemm_by(
                &self.w,
                &mut res,
                rows * wo,
                mat_at(&cols, 0, kk, rows * wo)?,
            )?;
            give_scratch(cols);
            self.finish(&mut res, 0, 1, &epi);
            return Ok(Planes {
                data: res,
                n: 1,
                c: self.cout,
                h: ho,
                w: wo,
            });
        }
        let mut out = Planes::zeros(x.n, self.cout, ho, wo);
        if ho * wo >= DIRECT_FROM {
            // Tiles of one batch element each: the GEMM writes its rows straight into the
            // output planes (rows `ho·wo` apart), and bias and epilogue run there in place.
            let (hwo, tile) = (ho * wo, tile_rows.min(ho));
            let mut cols = take_scratch(kk * tile * wo);
            for b in 0..x.n {
                let mut r0 = 0;
                while r0 < ho {
                    let r1 = (r0 + tile).min(ho);
                    let ncols = (r1 - r0) * wo;
                    self.im2col(&mut cols[..kk * ncols], x, b * ho + r0, b * ho + r1, ho, wo);
                    let dst = &mut out.data[b * self.cout * hwo..][..self.cout * hwo];
                    gemm_by(
                        &self.w,
                        &mut dst[r0 * wo..],
                        hwo,
                        mat_at(&cols, 0, kk, ncols)?,
                    )?;
                    self.finish_rows(dst, b, (r0 * wo, r1 * wo), &epi);
                    r0 = r1;
                }
            }
            give_scratch(cols);
            return Ok(out);
        }
        let mut g0 = 0;
        while g0 < rows {
            let g1 = (g0 + tile_rows).min(rows);
            let ncols = (g1 - g0) * wo;
            let mut cols = take_scratch(kk * ncols);
            self.im2col(&mut cols[..kk * ncols], x, g0, g1, ho, wo);
            let mut res = take_scratch(self.cout * ncols);
            gemm_by(&self.w, &mut res, ncols, mat_at(&cols, 0, kk, ncols)?)?;
            give_scratch(cols);
            self.write_back(&mut out, &res, g0, g1, &epi);
            give_scratch(res);
            g0 = g1;
        }
        Ok(out)
    }

    /// Rows `(ci, ky, kx)` × columns (global output rows `g0..g1` × `wo`); every value is
    /// written (the buffer may be recycled).
    fn im2col(&self, cols: &mut [f32], x: &Planes, g0: usize, g1: usize, ho: usize, wo: usize) {
        let win = Window {
            k: self.k,
            s: self.stride,
            p: self.pad,
        };
        im2col(cols, &x.data, (x.c, x.h, x.w), win, (g0, g1), (ho, wo));
    }

    /// Adds the bias and runs `epi` on whole output planes `[n, cout, plane]` in place
    /// (`data` holds batch elements `b0..b0 + n`).
    fn finish(
        &self,
        data: &mut [f32],
        b0: usize,
        n: usize,
        epi: &(impl Fn(usize, usize, usize, &mut [f32]) + Sync),
    ) {
        let cout = self.cout;
        let bias = self.bias.as_deref();
        let plane = data.len() / (n * cout).max(1);
        data.par_chunks_mut(plane.max(1))
            .enumerate()
            .for_each(|(idx, seg)| {
                let (b, co) = (b0 + idx / cout, idx % cout);
                if let Some(bv) = bias {
                    let bc = bv[co];
                    seg.iter_mut().for_each(|d| *d += bc);
                }
                epi(b, co, 0, seg);
            });
    }

    /// Adds the bias to positions `from..to` of each output plane of batch element `b`
    /// (`planes`: that element's `[cout, plane]` values) and runs `epi` on them.
    fn finish_rows(
        &self,
        planes: &mut [f32],
        b: usize,
        (from, to): (usize, usize),
        epi: &(impl Fn(usize, usize, usize, &mut [f32]) + Sync),
    ) {
        let plane = planes.len() / self.cout.max(1);
        let bias = self.bias.as_deref();
        planes
            .par_chunks_mut(plane.max(1))
            .enumerate()
            .for_each(|(co, p)| {
                let seg = &mut p[from..to];
                if let Some(bv) = bias {
                    let bc = bv[co];
                    seg.iter_mut().for_each(|d| *d += bc);
                }
                epi(b, co, from, seg);
            });
    }

    /// Copies GEMM rows `[cout, (g1 − g0)·wo]` into `out`, adding the bias, then runs `epi`.
    fn write_back(
        &self,
        out: &mut Planes,
        res: &[f32],
        g0: usize,
        g1: usize,
        epi: &(impl Fn(usize, usize, usize, &mut [f32]) + Sync),
    ) {
        let (ho, wo) = (out.h, out.w);
        let ncols = (g1 - g0) * wo;
        let cout = self.cout;
        let bias = self.bias.as_deref();
        out.data
            .par_chunks_mut(ho * wo)
            .enumerate()
            .for_each(|(idx, plane)| {
                let (b, co) = (idx / cout, idx % cout);
                let (r0, r1) = (g0.max(b * ho), g1.min((b + 1) * ho));
                if r0 >= r1 {
                    return;
                }
                let off = (r0 - b * ho) * wo;
                let seg = &mut plane[off..(r1 - b * ho) * wo];
                let src = &res[co * ncols + (r0 - g0) * wo..][..seg.len()];
                match bias {
                    Some(bv) => {
                        let bc = bv[co];
                        seg.iter_mut().zip(src).for_each(|(d, s)| *d = s + bc);
                    }
                    None => seg.copy_from_slice(src),
                }
                epi(b, co, off, seg);
            });
    }
}

/// A square convolution window: kernel size, stride and symmetric zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Kernel size.
    pub k: usize,
    /// Stride.
    pub s: usize,
    /// Padding on every side.
    pub p: usize,
}

impl Window {
    /// The first and one-past-last output columns `ox` whose input column `ox·s + kx − p`
    /// lies inside an image `w` wide (an empty range clamps to `wo`).
    pub fn col_range(&self, kx: usize, w: usize, wo: usize) -> (usize, usize) {
        let (s, p) = (self.s, self.p);
        let lo = if kx >= p { 0 } else { (p - kx).div_ceil(s) }.min(wo);
        let hi = (w + p).saturating_sub(kx).div_ceil(s).clamp(lo, wo);
        (lo, hi)
    }
}

/// im2col of `x` (`[n, c, h, w]` values): rows `(ci, ky, kx)`, columns the global output rows
/// `g0..g1` (row `g` is output row `g % ho` of batch element `g / ho`) times `wo`. Every value
/// of `cols` is written (the buffer may be recycled).
pub fn im2col(
    cols: &mut [f32],
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    win: Window,
    (g0, g1): (usize, usize),
    (ho, wo): (usize, usize),
) {
    let Window { k, s, p } = win;
    let ncols = (g1 - g0) * wo;
    cols.par_chunks_mut(ncols.max(1))
        .enumerate()
        .for_each(|(r, row)| {
            let (ci, ky, kx) = (r / (k * k), (r / k) % k, r % k);
            let (lo, hi) = win.col_range(kx, w, wo);
            for g in g0..g1 {
                let (b, oy) = (g / ho, g % ho);
                let dst = &mut row[(g - g0) * wo..][..wo];
                let iy = (oy * s + ky) as isize - p as isize;
                if iy < 0 || iy >= h as isize {
                    dst.fill(0.0);
                    continue;
                }
                let src = &x[((b * c + ci) * h + iy as usize) * w..][..w];
                dst[..lo].fill(0.0);
                dst[hi..].fill(0.0);
                if s == 1 {
                    let off = lo + kx - p;
                    dst[lo..hi].copy_from_slice(&src[off..off + (hi - lo)]);
                } else {
                    for (ox, d) in dst.iter_mut().enumerate().take(hi).skip(lo) {
                        *d = src[ox * s + kx - p];
                    }
                }
            }
        });
}

/// The transpose of [`im2col`] for one batch element: adds `cols` (rows `(ci, ky, kx)`,
/// columns output rows `r0..r1` × `wo`) onto `dx` (`[c, h, w]` values of that element).
/// Parallel over input channels, so no two threads write the same plane.
pub fn col2im_add(
    dx: &mut [f32],
    cols: &[f32],
    (h, w): (usize, usize),
    win: Window,
    (r0, r1): (usize, usize),
    wo: usize,
) {
    let Window { k, s, p } = win;
    let hw = h * w;
    let ncols = (r1 - r0) * wo;
    dx.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(ci, plane)| {
            for ky in 0..k {
                for kx in 0..k {
                    let row = &cols[((ci * k + ky) * k + kx) * ncols..][..ncols];
                    let (lo, hi) = win.col_range(kx, w, wo);
                    for oy in r0..r1 {
                        let iy = (oy * s + ky) as isize - p as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        let dst = &mut plane[iy as usize * w..][..w];
                        let src = &row[(oy - r0) * wo..][..wo];
                        if s == 1 {
                            let off = lo + kx - p;
                            dst[off..off + (hi - lo)]
                                .iter_mut()
                                .zip(&src[lo..hi])
                                .for_each(|(d, v)| *d += v);
                        } else {
                            for ox in lo..hi {
                                dst[ox * s + kx - p] += src[ox];
                            }
                        }
                    }
                }
            }
        });
}

/// A transposed convolution 4×4, stride 2, padding 1 (doubles the size): one GEMM
/// `Wᵀ [cout·16, cin] · x [cin, h·w]` (the weight read in place, transposed) gives every
/// kernel tap's contribution; each output pixel `(2y + py, 2x + px)` then gathers its four
/// taps (kernel rows `py + 1` at input row `y` and `py + 3` / `py − 1` at `y ∓ 1`, the same for
/// columns) in one pass.
#[derive(Debug, Clone)]
pub struct HostConvT {
    /// `[cout·16, cin]`, a transposed view of the `[cin, cout, 4, 4]` weight.
    wt: Tensor<2>,
    bias: Option<Vec<f32>>,
    cin: usize,
    cout: usize,
}

/// Input offset of tap `t` (0, 1) for output parity `p` and the kernel index it uses:
/// `out = 2·in − 1 + kernel`.
fn convt_tap(p: usize, t: usize) -> (isize, usize) {
    match (p, t) {
        (0, 0) => (0, 1),
        (0, _) => (-1, 3),
        (_, 0) => (0, 2),
        (_, _) => (1, 0),
    }
}

impl HostConvT {
    /// From a Burn `ConvTranspose2d` 4×4, stride 2, padding 1, no output padding, dilation or
    /// groups.
    pub fn from_conv_t(c: &ConvTranspose2d) -> Result<Self> {
        if c.kernel_size != [4, 4]
            || c.stride != [2, 2]
            || c.padding != [1, 1]
            || c.padding_out != [0, 0]
            || c.dilation != [1, 1]
            || c.groups != 1
        {
            return Err(Error::Backend(
                "host transposed conv: only 4x4 stride 2 padding 1".into(),
            ));
        }
        let [cin, cout, _, _] = c.weight.dims();
        Ok(Self {
            wt: c.weight.val().reshape([cin, cout * 16]).transpose(),
            bias: c.bias.as_ref().map(|b| to_host(b.val())).transpose()?,
            cin,
            cout,
        })
    }

    /// `convT(x) + bias` (takes the input: the GEMM reads it in place).
    ///
    /// # Shapes
    /// `[n, cin, h, w] → [n, cout, 2h, 2w]`.
    pub fn forward(&self, x: Planes) -> Result<Planes> {
        if x.c != self.cin {
            return Err(Error::Backend(format!(
                "host transposed conv: {} input channels, weight has {}",
                x.c, self.cin
            )));
        }
        let (n, h, w, cin, cout, hw) = (x.n, x.h, x.w, self.cin, self.cout, x.hw());
        let (ho, wo) = (2 * h, 2 * w);
        let mut out = Planes::zeros(n, cout, ho, wo);
        let bias = self.bias.as_deref();
        let mut cols = take_scratch(cout * 16 * hw);
        for b in 0..n {
            // Row co·16 + ky·4 + kx: tap (ky, kx) of output channel co at every input pixel.
            gemm_by(
                &self.wt,
                &mut cols,
                hw,
                mat_at(&x.data, b * cin * hw, cin, hw)?,
            )?;
            out.data[b * cout * ho * wo..][..cout * ho * wo]
                .par_chunks_mut(ho * wo)
                .enumerate()
                .for_each(|(co, plane)| {
                    let taps = &cols[co * 16 * hw..][..16 * hw];
                    let bc = bias.map_or(0.0, |bv| bv[co]);
                    let mut acc = vec![0.0f32; w];
                    for oy in 0..ho {
                        let (y, py) = (oy / 2, oy % 2);
                        let row = &mut plane[oy * wo..][..wo];
                        for px in 0..2 {
                            acc.iter_mut().for_each(|a| *a = 0.0);
                            for ty in 0..2 {
                                let (dy, ky) = convt_tap(py, ty);
                                let iy = y as isize + dy;
                                if iy < 0 || iy >= h as isize {
                                    continue;
                                }
                                for tx in 0..2 {
                                    let (dx, kx) = convt_tap(px, tx);
                                    let src = &taps[(ky * 4 + kx) * hw + iy as usize * w..][..w];
                                    match dx {
                                        0 => acc.iter_mut().zip(src).for_each(|(a, v)| *a += v),
                                        -1 => acc[1..]
                                            .iter_mut()
                                            .zip(&src[..w - 1])
                                            .for_each(|(a, v)| *a += v),
                                        _ => acc[..w - 1]
                                            .iter_mut()
                                            .zip(&src[1..])
                                            .for_each(|(a, v)| *a += v),
                                    }
                                }
                            }
                            for (xx, a) in acc.iter().enumerate() {
                                row[2 * xx + px] = a + bc;
                            }
                        }
                    }
                });
        }
        give_scratch(cols);
        Ok(out)
    }
}

/// Per-pixel mean and `sqrt(var + eps)` across channels with the **unbiased** variance (the
/// positional norm's statistics), `[n, h·w]` each.
pub fn posnorm_stats(x: &Planes, eps: f32) -> (Vec<f32>, Vec<f32>) {
    let (n, c, hw) = (x.n, x.c, x.hw());
    let chunk = gcd(hw, 256).max(1);
    let mut mean = vec![0.0f32; n * hw];
    let mut sd = vec![0.0f32; n * hw];
    let denom = (c.max(2) - 1) as f64;
    mean.par_chunks_mut(chunk)
        .zip(sd.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(i, (m, s))| {
            let p0 = i * chunk;
            let (b, off) = (p0 / hw, p0 % hw);
            // f64 accumulators: up to 1024 channels.
            let mut acc = vec![0f64; chunk];
            for ch in 0..c {
                let src = &x.plane(b, ch)[off..off + chunk];
                acc.iter_mut()
                    .zip(src)
                    .for_each(|(a, &v)| *a += f64::from(v));
            }
            m.iter_mut()
                .zip(&acc)
                .for_each(|(mu, a)| *mu = (a / c as f64) as f32);
            acc.iter_mut().for_each(|a| *a = 0.0);
            for ch in 0..c {
                let src = &x.plane(b, ch)[off..off + chunk];
                acc.iter_mut()
                    .zip(src)
                    .zip(m.iter())
                    .for_each(|((a, v), mu)| {
                        let d = v - mu;
                        *a += f64::from(d * d);
                    });
            }
            s.iter_mut()
                .zip(&acc)
                .for_each(|(sd, a)| *sd = ((a / denom) as f32 + eps).sqrt());
        });
    (mean, sd)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Instance normalisation (biased variance) with an optional per-channel affine `x̂·γ + β`,
/// then `f`, in place.
pub fn instance_norm_inplace(
    x: &mut Planes,
    eps: f32,
    affine: Option<(&[f32], &[f32])>,
    f: impl Fn(f32) -> f32 + Sync + Send,
) {
    let (hw, c) = (x.hw(), x.c);
    x.data.par_chunks_mut(hw).enumerate().for_each(|(idx, p)| {
        // f64 accumulators: a plane holds up to 256² values.
        let mean = (p.iter().map(|&v| f64::from(v)).sum::<f64>() / hw as f64) as f32;
        let var = p
            .iter()
            .map(|v| f64::from((v - mean) * (v - mean)))
            .sum::<f64>()
            / hw as f64;
        let sd = (var as f32 + eps).sqrt();
        match affine {
            Some((g, b)) => {
                let (g, b) = (g[idx % c], b[idx % c]);
                p.iter_mut().for_each(|v| *v = f((*v - mean) / sd * g + b));
            }
            None => p.iter_mut().for_each(|v| *v = f((*v - mean) / sd)),
        }
    });
}

/// Runs `f(b, c, x̂ plane, out planes…)` for every plane of a positional-norm consumer: `x̂ =
/// (x − mean) / sd` is computed into a scratch row per plane and handed over.
fn per_plane_xhat(
    x: &Planes,
    eps: f32,
    outs: usize,
    f: impl Fn(usize, usize, &[f32], &mut [&mut [f32]]) + Sync,
) -> Vec<Planes> {
    let (mean, sd) = posnorm_stats(x, eps);
    let hw = x.hw();
    let mut planes: Vec<Planes> = (0..outs)
        .map(|_| Planes::zeros(x.n, x.c, x.h, x.w))
        .collect();
    let mut iters: Vec<_> = planes.iter_mut().map(|p| p.data.chunks_mut(hw)).collect();
    // Gather the k-th plane of every output into one work item.
    let mut items: Vec<Vec<&mut [f32]>> = Vec::with_capacity(x.n * x.c);
    for _ in 0..x.n * x.c {
        items.push(iters.iter_mut().filter_map(|it| it.next()).collect());
    }
    items.par_iter_mut().enumerate().for_each(|(idx, outs)| {
        let (b, c) = (idx / x.c, idx % x.c);
        let src = x.plane(b, c);
        let (m, s) = (&mean[b * hw..][..hw], &sd[b * hw..][..hw]);
        let xh: Vec<f32> = src
            .iter()
            .zip(m)
            .zip(s)
            .map(|((v, mu), sd)| (v - mu) / sd)
            .collect();
        f(b, c, &xh, outs);
    });
    planes
}

/// The SPDNorm tail `x̂ + x̂·t + w` (`t = D⊙γ`, `w = D⊙β`, computed in that order by the caller
/// as the Burn path does), then `act`, with `x̂` the positional norm of `x`.
///
/// # Shapes
/// `x: [n, c, h, w]`, `t, w: [n or 1, c, h, w]` → `[n, c, h, w]`.
pub fn spd_norm(x: &Planes, t: &Planes, w: &Planes, eps: f32, act: fn(f32) -> f32) -> Planes {
    let mut outs = per_plane_xhat(x, eps, 1, |b, c, xh, outs| {
        let (tp, wp) = (t.plane(b, c), w.plane(b, c));
        for (((o, xv), tv), wv) in outs[0].iter_mut().zip(xh).zip(tp).zip(wp) {
            *o = act(xv + xv * tv + wv);
        }
    });
    outs.pop()
        .unwrap_or_else(|| Planes::zeros(x.n, x.c, x.h, x.w))
}

/// Both SPDNorms of a block input at once (they share `x̂`): the soft one
/// `x̂ + x̂·(soft·gs) + soft·bs` and the hard one `leaky(x̂ + x̂·t0 + w0)`.
///
/// # Shapes
/// `x, soft: [n, c, h, w]`, `gs, bs, t0, w0: [n or 1, c, h, w]` → two `[n, c, h, w]`.
#[allow(clippy::too_many_arguments)]
pub fn spd_norm_pair(
    x: &Planes,
    soft: &Planes,
    gs: &Planes,
    bs: &Planes,
    t0: &Planes,
    w0: &Planes,
    eps: f32,
) -> (Planes, Planes) {
    let mut outs = per_plane_xhat(x, eps, 2, |b, c, xh, outs| {
        let (d, g, be) = (soft.plane(b, c), gs.plane(b, c), bs.plane(b, c));
        let (tp, wp) = (t0.plane(b, c), w0.plane(b, c));
        let (o_s, rest) = outs.split_at_mut(1);
        let o_h = &mut rest[0];
        for i in 0..xh.len() {
            let xv = xh[i];
            o_s[0][i] = xv + xv * (d[i] * g[i]) + d[i] * be[i];
            o_h[i] = leaky(xv + xv * tp[i] + wp[i]);
        }
    });
    let hard = outs
        .pop()
        .unwrap_or_else(|| Planes::zeros(x.n, x.c, x.h, x.w));
    let soft_n = outs
        .pop()
        .unwrap_or_else(|| Planes::zeros(x.n, x.c, x.h, x.w));
    (soft_n, hard)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::tensor::module::{conv_transpose2d, conv2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

    fn rand(shape: [usize; 4], seed: u64) -> Tensor<4> {
        let dev = Device::flex();
        dev.seed(seed);
        Tensor::random(shape, burn::tensor::Distribution::Normal(0.0, 1.0), &dev)
    }

    fn max_rel(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    #[test]
    fn host_conv_matches_burn_conv2d() {
        for (cin, cout, k, s, p, h, w, n) in [
            (3, 5, 3, 1, 1, 9, 7, 2),
            (4, 6, 4, 2, 1, 8, 10, 1),
            (8, 3, 1, 1, 0, 5, 6, 2),
            (2, 4, 3, 1, 0, 6, 6, 1),
            (16, 8, 3, 1, 1, 4, 4, 3),
            // Planes of ≥ DIRECT_FROM pixels: per-element tiles written in place.
            (3, 5, 3, 1, 1, 40, 36, 3),
            (4, 6, 3, 2, 1, 70, 66, 2),
        ] {
            let x = rand([n, cin, h, w], 1);
            let wt = rand([cout, cin, k, k], 2);
            let bias = rand([1, 1, 1, cout], 3).reshape([cout]);
            let want = conv2d(
                x.clone(),
                wt.clone(),
                Some(bias.clone()),
                ConvOptions::new([s, s], [p, p], [1, 1], 1),
            );
            let conv = HostConv::new(wt, Some(bias), s, p).unwrap();
            let got = conv
                .forward(&Planes::from_tensor(x).unwrap(), plain)
                .unwrap();
            let want = Planes::from_tensor(want).unwrap();
            assert_eq!(
                (got.n, got.c, got.h, got.w),
                (want.n, want.c, want.h, want.w)
            );
            let e = max_rel(&got.data, &want.data);
            assert!(e < 1e-5, "cin {cin} k {k} s {s} p {p}: rel err {e}");
        }
    }

    #[test]
    fn host_conv_tiles_agree_with_one_tile() {
        // A large enough im2col forces several tiles; the epilogue sees every position once,
        // with its batch element, channel and offset (one image and a batch of two).
        let (cin, h, w) = (64, 130, 70);
        for n in [1, 2] {
            let x = rand([n, cin, h, w], 4);
            let wt = rand([2, cin, 3, 3], 5);
            let conv = HostConv::new(wt.clone(), None, 1, 1).unwrap();
            let xs = Planes::from_tensor(x.clone()).unwrap();
            assert!(cin * 9 * h * w > TILE_FLOATS, "test must span tiles");
            let count = std::sync::atomic::AtomicUsize::new(0);
            let tag = |b: usize, co: usize, at: usize| (b * 2 + co) as f32 * 10.0 + at as f32;
            let got = conv
                .forward(&xs, |b, co, off, seg: &mut [f32]| {
                    count.fetch_add(seg.len(), std::sync::atomic::Ordering::Relaxed);
                    for (i, v) in seg.iter_mut().enumerate() {
                        *v += tag(b, co, off + i);
                    }
                })
                .unwrap();
            assert_eq!(count.into_inner(), n * 2 * h * w);
            let want = conv2d(x, wt, None, ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
            // Each value less the tag it should have been given: a wrong (b, co, offset) in
            // the epilogue leaves an error of at least 1.
            let mut got = got.data;
            for (i, v) in got.iter_mut().enumerate() {
                let (b, co, at) = (i / (2 * h * w), (i / (h * w)) % 2, i % (h * w));
                *v -= tag(b, co, at);
            }
            let e = max_rel(&got, &Planes::from_tensor(want).unwrap().data);
            assert!(e < 1e-5, "n {n}: rel err {e}");
        }
    }

    #[test]
    fn host_conv_t_matches_burn() {
        for (cin, cout, h, w, n) in [(3, 4, 5, 6, 2), (8, 2, 4, 4, 1), (2, 3, 1, 1, 1)] {
            let x = rand([n, cin, h, w], 6);
            let wt = rand([cin, cout, 4, 4], 7);
            let bias = rand([1, 1, 1, cout], 8).reshape([cout]);
            let want = conv_transpose2d(
                x.clone(),
                wt.clone(),
                Some(bias.clone()),
                ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1),
            );
            let ct = crate::model::layers::up_conv_t(
                burn::module::Param::from_tensor(wt),
                Some(burn::module::Param::from_tensor(bias)),
            );
            let got = HostConvT::from_conv_t(&ct)
                .unwrap()
                .forward(Planes::from_tensor(x).unwrap())
                .unwrap();
            let e = max_rel(&got.data, &Planes::from_tensor(want).unwrap().data);
            assert!(e < 1e-5, "{cin}->{cout} {h}x{w}: rel err {e}");
        }
    }

    #[test]
    fn spd_norm_matches_the_tensor_formula() {
        let x = rand([2, 5, 3, 4], 9);
        let t = rand([1, 5, 3, 4], 10);
        let w = rand([1, 5, 3, 4], 11);
        let xn = crate::model::layers::positional_norm(x.clone());
        let want =
            burn::tensor::activation::leaky_relu(xn.clone() + xn * t.clone() + w.clone(), 0.2);
        let got = spd_norm(
            &Planes::from_tensor(x).unwrap(),
            &Planes::from_tensor(t).unwrap(),
            &Planes::from_tensor(w).unwrap(),
            crate::model::layers::NORM_EPS as f32,
            leaky,
        );
        let e = max_rel(&got.data, &Planes::from_tensor(want).unwrap().data);
        assert!(e < 1e-6, "rel err {e}");
    }

    #[test]
    fn instance_norm_matches_the_tensor_version() {
        let x = rand([2, 3, 5, 7], 12);
        let want = crate::model::layers::instance_norm(x.clone());
        let mut got = Planes::from_tensor(x).unwrap();
        instance_norm_inplace(&mut got, crate::model::layers::NORM_EPS as f32, None, |v| v);
        let e = max_rel(&got.data, &Planes::from_tensor(want).unwrap().data);
        assert!(e < 1e-6, "rel err {e}");
    }
}
