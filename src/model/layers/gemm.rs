//! A checked, safe `f32` matrix product over slices, on the `gemm` crate (the same GEMM that
//! Burn's flex backend calls for `matmul`).
//!
//! Going through Burn's `matmul` costs the convolution kernels more than the product: every call
//! allocates its output twice (flex's `FlexTensor::empty` zeroes a byte vector, then copies it
//! to re-align it; docs/performance.md), the kernels then copied the result into place (adding
//! the bias) and a weight gradient was summed tile by tile with one more allocation per tile.
//! [`gemm`] writes straight into a caller's buffer, optionally accumulating, so none of that
//! happens.
//!
//! This is the only module of the crate that uses `unsafe`: one call into `gemm::gemm`, which
//! takes raw pointers and strides. [`Mat`] and [`gemm`] check every bound that call relies on
//! (shapes agree, every element a stride reaches lies inside its slice, output rows do not
//! overlap); the borrow checker guarantees the output does not alias an input.
#![allow(unsafe_code)]

/// Multiply-adds below which the product runs on the calling thread (rayon's fork-join
/// costs more than it saves on small products); the value flex uses.
const PARALLEL_FROM: usize = 192 * 192 * 192;

/// A read-only matrix view: `rows × cols` elements of `data`, element `(i, j)` at
/// `i·rs + j·cs`.
#[derive(Debug, Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// A strided view, or `None` when an element it addresses lies outside `data` (or an
    /// offset overflows).
    pub fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Option<Self> {
        if rows > 0 && cols > 0 {
            let last = (rows - 1)
                .checked_mul(rs)?
                .checked_add((cols - 1).checked_mul(cs)?)?;
            if last >= data.len() {
                return None;
            }
        }
        Some(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// The first `rows · cols` elements of `data` in row-major order.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Option<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Rows × columns.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`, where `dst` holds the
/// `lhs.rows × rhs.cols` result in rows `dst_rs` apart (`dst_rs ≥` the row length, so rows do
/// not overlap), each row contiguous. Multi-threaded (rayon) for large products. `None` (and
/// `dst` untouched) when the shapes disagree or `dst` is too short.
pub fn gemm(
    dst: &mut [f32],
    dst_rs: usize,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    accumulate: bool,
) -> Option<()> {
    let (m, k) = lhs.shape();
    let (k2, n) = rhs.shape();
    if k != k2 {
        return None;
    }
    if m == 0 || n == 0 {
        return Some(());
    }
    if dst_rs < n || (m - 1).checked_mul(dst_rs)?.checked_add(n)? > dst.len() {
        return None;
    }
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_rs).take(m) {
                row[..n].fill(0.0);
            }
        }
        return Some(());
    }
    let threads = match m.saturating_mul(n).saturating_mul(k) >= PARALLEL_FROM {
        true => gemm::Parallelism::Rayon(0),
        false => gemm::Parallelism::None,
    };
    let [dst_rs, lhs_rs, lhs_cs, rhs_rs, rhs_cs] =
        [dst_rs, lhs.rs, lhs.cs, rhs.rs, rhs.cs].map(|s| isize::try_from(s).ok());
    // SAFETY: `Mat::new` checked that every element `(i, j)` of `lhs` (`i < m`, `j < k`) and of
    // `rhs` (`i < k`, `j < n`) lies inside its slice, and the check above that every element
    // `(i, j)` of the `m × n` output, at `i·dst_rs + j`, lies inside `dst`; `dst_rs ≥ n`, so no
    // two output elements share an address and the threads gemm starts write disjoint
    // elements. `dst` is borrowed mutably, so it cannot alias `lhs` or `rhs`. The strides fit
    // in `isize` (checked by the conversions). With `read_dst` false gemm never reads `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs?,
            accumulate,
            lhs.data.as_ptr(),
            lhs_cs?,
            lhs_rs?,
            rhs.data.as_ptr(),
            rhs_cs?,
            rhs_rs?,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            threads,
        );
    }
    Some(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0
                    - 1.0
            })
            .collect()
    }

    /// The plain triple loop.
    fn naive(lhs: Mat<'_>, rhs: Mat<'_>) -> Vec<f64> {
        let ((m, k), (_, n)) = (lhs.shape(), rhs.shape());
        let at = |a: &Mat<'_>, i: usize, j: usize| f64::from(a.data[i * a.rs + j * a.cs]);
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| at(&lhs, i, p) * at(&rhs, p, j)).sum();
            }
        }
        out
    }

    #[test]
    fn products_of_strided_views_match_the_triple_loop() {
        // Small (one thread) and large (rayon) products, transposed operands, a strided output
        // with padding between rows, and accumulation on top of existing values.
        for &(m, k, n) in &[(3, 5, 7), (16, 144, 300), (200, 200, 220)] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let lhs = Mat::rows(&a, m, k).unwrap();
            // `b` stored transposed: read it back through `t()`.
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let rhs = Mat::rows(&bt, n, k).unwrap().t();
            let want = naive(lhs, Mat::rows(&b, k, n).unwrap());
            let rs = n + 3;
            let mut dst = vec![7.0f32; m * rs];
            gemm(&mut dst, rs, lhs, rhs, false).unwrap();
            let mut acc = vec![0.5f32; m * rs];
            gemm(&mut acc, rs, lhs, rhs, true).unwrap();
            for i in 0..m {
                for j in 0..n {
                    let w = want[i * n + j];
                    let tol = 1e-4 * (1.0 + w.abs());
                    assert!((f64::from(dst[i * rs + j]) - w).abs() < tol, "{m}x{k}x{n}");
                    assert!((f64::from(acc[i * rs + j]) - (w + 0.5)).abs() < tol);
                }
                // The padding between rows is never written.
                assert!(dst[i * rs + n..(i + 1) * rs].iter().all(|&v| v == 7.0));
            }
        }
    }

    #[test]
    fn bad_shapes_and_bounds_are_refused() {
        let a = values(12, 3);
        assert!(Mat::new(&a, 3, 4, 4, 1).is_some());
        assert!(Mat::new(&a, 3, 5, 4, 1).is_none());
        assert!(Mat::new(&a, 4, 4, 4, 1).is_none());
        assert!(Mat::new(&a, 2, 2, usize::MAX, 1).is_none());
        assert!(Mat::new(&[], 0, 4, 4, 1).is_some());
        let lhs = Mat::rows(&a, 3, 4).unwrap();
        let rhs = Mat::rows(&a, 4, 3).unwrap();
        let mut dst = vec![1.0f32; 9];
        // Inner dimensions disagree.
        assert!(gemm(&mut dst, 3, lhs, lhs, false).is_none());
        // Output too short, or rows overlapping.
        assert!(gemm(&mut dst[..8], 3, lhs, rhs, false).is_none());
        assert!(gemm(&mut dst, 2, lhs, rhs, false).is_none());
        assert!(dst.iter().all(|&v| v == 1.0));
        // An empty inner dimension gives zeros, or leaves an accumulator as it is.
        let e = Mat::rows(&[], 3, 0).unwrap();
        let f = Mat::rows(&[], 0, 3).unwrap();
        gemm(&mut dst, 3, e, f, true).unwrap();
        assert!(dst.iter().all(|&v| v == 1.0));
        gemm(&mut dst, 3, e, f, false).unwrap();
        assert!(dst.iter().all(|&v| v == 0.0));
    }
}
