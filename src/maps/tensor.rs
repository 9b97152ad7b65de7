//! The hard map and the strided nearest resampling as Burn tensor operations.

use burn::prelude::*;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::s;

use super::Decay;

/// The hard map D^h of a batch of known maps, on the tensors' device.
///
/// The same numbers as [`hard_map_cpu`](super::hard_map_cpu): the input is binarised (≥ 0.5 =
/// known), each dilation is a `ks`×`ks` max-pool with stride 1 and padding `(ks−1)/2` (the
/// window always holds its centre pixel, so the pooling's padding value never matters), and
/// `D = M0 + Σ_{i=1..n} c_i·(M_i − M_{i−1}) + c_n·(1 − M_n)` is evaluated in that order.
///
/// # Shapes
///
/// `known`: `[B, 1, h, w]` (1 = known, 0 = hole) → `[B, 1, h, w]`. Any channel count works;
/// channels are treated independently.
///
/// # Panics
///
/// If `ks` is even.
pub fn hard_map_tensor(known: Tensor<4>, n: usize, ks: usize, decay: Decay) -> Tensor<4> {
    assert!(
        ks % 2 == 1,
        "hard map: the window size must be odd, got {ks}"
    );
    let pad = (ks - 1) / 2;
    let m0 = known.greater_equal_elem(0.5).float();
    let mut d = m0.clone();
    let mut prev = m0;
    for i in 1..=n {
        let next = if pad == 0 {
            prev.clone()
        } else {
            let options = MaxPoolOptions::new([ks, ks])
                .with_stride([1, 1])
                .with_padding([pad, pad]);
            max_pool2d(prev.clone(), options)
        };
        d = d + (next.clone() - prev).mul_scalar(decay.coef(i));
        prev = next;
    }
    // 1 − M_n, exact for 0/1 values.
    let unreached = prev.neg().add_scalar(1.0);
    d + unreached.mul_scalar(decay.coef(n))
}

/// Strided nearest resampling `x[:, :, ::s, ::s]`: the top-left pixel of each `s`×`s` block,
/// which is PyTorch's legacy `nearest` for an integer factor (docs/network.md §3.4).
///
/// # Shapes
///
/// `[B, C, h, w]` → `[B, C, ceil(h/s), ceil(w/s)]`.
///
/// # Panics
///
/// If `s == 0`.
pub fn nearest_strided_tensor(x: Tensor<4>, s: usize) -> Tensor<4> {
    assert!(s > 0, "nearest_strided_tensor: the stride must be positive");
    if s == 1 {
        return x;
    }
    let step = isize::try_from(s).unwrap_or(isize::MAX);
    x.slice(s![.., .., ..;step, ..;step])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{OFFICIAL_UNITS, hard_map_cpu, nearest_strided, test_vectors};
    use super::*;
    use proptest::prelude::*;

    fn to_tensor(values: &[f32], b: usize, h: usize, w: usize) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [b, 1, h, w]),
            &Device::flex(),
        )
    }

    fn to_vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn spec_vectors_tensor() {
        for (h, w, n, ks, known, expect) in test_vectors::all() {
            let d = to_vec(hard_map_tensor(
                to_tensor(&known, 1, h, w),
                n,
                ks,
                Decay::Exp,
            ));
            assert_eq!(d.len(), expect.len());
            for (i, (g, e)) in d.iter().zip(&expect).enumerate() {
                assert!(
                    (g - e).abs() <= 1e-7,
                    "{h}x{w} index {i}: got {g}, want {e}"
                );
            }
            // Bit-identical to the CPU reference.
            assert_eq!(d, hard_map_cpu(&known, h, w, n, ks, Decay::Exp));
        }
    }

    #[test]
    fn all_hole_all_known_and_batch() {
        for unit in OFFICIAL_UNITS {
            let c_n = Decay::Exp.coef(unit.n);
            let mut v = vec![0.0; 2 * 6 * 5];
            v[30..].fill(1.0);
            let d = to_vec(hard_map_tensor(
                to_tensor(&v, 2, 6, 5),
                unit.n,
                unit.ks,
                Decay::Exp,
            ));
            assert!(d[..30].iter().all(|&x| x == c_n), "all hole, {unit:?}");
            assert!(d[30..].iter().all(|&x| x == 1.0), "all known, {unit:?}");
        }
    }

    #[test]
    fn strided_tensor_matches_cpu() {
        let (h, w) = (7, 10);
        let src: Vec<f32> = (0..h * w).map(|i| i as f32).collect();
        for s in 1..=4 {
            let got = nearest_strided_tensor(to_tensor(&src, 1, h, w), s);
            assert_eq!(got.dims(), [1, 1, h.div_ceil(s), w.div_ceil(s)]);
            assert_eq!(to_vec(got), nearest_strided(&src, h, w, s));
        }
        let src: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let got = to_vec(nearest_strided_tensor(to_tensor(&src, 1, 4, 4), 2));
        assert_eq!(got, vec![0.0, 2.0, 8.0, 10.0]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn tensor_equals_reference(
            (h, w) in (1usize..14, 1usize..14),
            seed in any::<u64>(),
            n in 1usize..8,
            ks in prop::sample::select(vec![3usize, 5]),
        ) {
            // A cheap deterministic pattern from the seed, about 10 % known.
            let mut state = seed | 1;
            let known: Vec<f32> = (0..h * w)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if state % 10 == 0 { 1.0 } else { 0.0 }
                })
                .collect();
            let d = to_vec(hard_map_tensor(to_tensor(&known, 1, h, w), n, ks, Decay::Exp));
            prop_assert_eq!(d, hard_map_cpu(&known, h, w, n, ks, Decay::Exp));
        }
    }
}
