//! The hard map on the CPU: the obvious reference, a fast distance-transform version and the
//! strided (top-left) nearest resampling of the generator units.

use super::{Decay, UnitMapSpec};

/// The hard map D^h of one `h`×`w` map, computed the obvious way: the reference.
///
/// `known` is row-major with 1 = known, 0 = hole (values ≥ 0.5 count as known). It runs `n`
/// binary dilations with a `ks`×`ks` window and zero padding (`(ks−1)/2` pixels: 1 for ks = 3,
/// 2 for ks = 5) and evaluates, in `f32` and in this order,
/// `D = M0 + Σ_{i=1..n} c_i·(M_i − M_{i−1}) + c_n·(1 − M_n)`.
/// Known pixels get 1, ring `i` gets `c_i`, the interior beyond `n` rings gets `c_n`.
///
/// Cost: `O(n·ks²·h·w)`; use [`hard_map_fast`] for large maps (the results are identical).
///
/// # Panics
///
/// If `known.len() != h·w` or `ks` is even.
pub fn hard_map_cpu(
    known: &[f32],
    h: usize,
    w: usize,
    n: usize,
    ks: usize,
    decay: Decay,
) -> Vec<f32> {
    check_args(known, h, w, ks);
    let r = (ks - 1) / 2;
    let mut prev: Vec<f32> = known
        .iter()
        .map(|&v| if v >= 0.5 { 1.0 } else { 0.0 })
        .collect();
    let mut d = prev.clone();
    for i in 1..=n {
        // M_i(y, x) = 1 if any pixel of M_{i−1} in the window around (y, x) is 1.
        let mut next = vec![0.0f32; h * w];
        for y in 0..h {
            for x in 0..w {
                let mut any = false;
                for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                        any |= prev[yy * w + xx] == 1.0;
                    }
                }
                next[y * w + x] = if any { 1.0 } else { 0.0 };
            }
        }
        let c = decay.coef(i);
        for j in 0..h * w {
            d[j] += c * (next[j] - prev[j]);
        }
        prev = next;
    }
    let c_n = decay.coef(n);
    for j in 0..h * w {
        d[j] += c_n * (1.0 - prev[j]);
    }
    d
}

/// The hard map D^h, identical to [`hard_map_cpu`] but in linear time whatever `n` and `ks`.
///
/// `n` dilations by a `ks`×`ks` square reach exactly the pixels within Chebyshev distance
/// `n·r` (`r = (ks−1)/2`) of a known pixel (squares are convex, and so is the image, so zero
/// padding changes nothing). A hole pixel at Chebyshev distance `d` from the nearest known pixel
/// is therefore first reached at step `⌈d/r⌉` and gets `c_min(⌈d/r⌉, n)`. The distance comes
/// from the classic two-pass chessboard distance transform, clamped at `n·r`.
///
/// # Panics
///
/// If `known.len() != h·w` or `ks` is even.
pub fn hard_map_fast(
    known: &[f32],
    h: usize,
    w: usize,
    n: usize,
    ks: usize,
    decay: Decay,
) -> Vec<f32> {
    check_args(known, h, w, ks);
    let r = (ks - 1) / 2;
    let c_n = decay.coef(n);
    if n == 0 || r == 0 || h == 0 || w == 0 {
        // No ring ever grows: holes get c_n (= 1 when n = 0).
        return known
            .iter()
            .map(|&v| if v >= 0.5 { 1.0 } else { c_n })
            .collect();
    }
    // Distances at or beyond `cap` all mean "not reached within n steps" (or never reached).
    // Reachable distances are < max(h, w), so capping there too keeps the numbers small.
    let cap = n.saturating_mul(r).min(h.max(w));
    let lut: Vec<f32> = (0..=cap)
        .map(|d| {
            if d == cap {
                c_n
            } else {
                decay.coef(d.div_ceil(r).min(n))
            }
        })
        .collect();
    if cap < u8::MAX as usize {
        let dist = chessboard_dt::<u8>(known, h, w, cap as u8);
        dist.iter().map(|&d| lut[d as usize]).collect()
    } else {
        let cap = u32::try_from(cap).unwrap_or(u32::MAX - 1);
        let dist = chessboard_dt::<u32>(known, h, w, cap);
        dist.iter().map(|&d| lut[d as usize]).collect()
    }
}

/// The small unsigned types the distance transform runs in.
trait Dist: Copy + Ord + From<u8> + std::ops::Add<Output = Self> {}
impl Dist for u8 {}
impl Dist for u32 {}

/// `min(chebyshev distance to the nearest known pixel, cap)` per pixel (two raster passes,
/// 8-neighbourhood, unit weights: exact for the chessboard metric). `cap` must be below the
/// type's maximum.
fn chessboard_dt<T: Dist>(known: &[f32], h: usize, w: usize, cap: T) -> Vec<T> {
    let zero = T::from(0u8);
    let one = T::from(1u8);
    let inc = |a: T| (a + one).min(cap);
    let mut d: Vec<T> = known
        .iter()
        .map(|&v| if v >= 0.5 { zero } else { cap })
        .collect();
    // Forward pass: neighbours above (NW, N, NE), then W.
    for y in 0..h {
        let (done, rest) = d.split_at_mut(y * w);
        let cur = &mut rest[..w];
        if y > 0 {
            let above = &done[(y - 1) * w..];
            relax_from_row(cur, above, inc);
        }
        for x in 1..w {
            cur[x] = cur[x].min(inc(cur[x - 1]));
        }
    }
    // Backward pass: neighbours below (SW, S, SE), then E.
    for y in (0..h).rev() {
        let (head, below) = d.split_at_mut((y + 1) * w);
        let cur = &mut head[y * w..];
        if y + 1 < h {
            relax_from_row(cur, &below[..w], inc);
        }
        for x in (0..w.saturating_sub(1)).rev() {
            cur[x] = cur[x].min(inc(cur[x + 1]));
        }
    }
    d
}

/// `cur[x] = min(cur[x], inc(min(other[x−1], other[x], other[x+1])))`.
#[inline]
fn relax_from_row<T: Dist>(cur: &mut [T], other: &[T], inc: impl Fn(T) -> T) {
    let w = cur.len();
    if w == 1 {
        cur[0] = cur[0].min(inc(other[0]));
        return;
    }
    cur[0] = cur[0].min(inc(other[0].min(other[1])));
    cur[w - 1] = cur[w - 1].min(inc(other[w - 2].min(other[w - 1])));
    for (c, win) in cur[1..w - 1].iter_mut().zip(other.windows(3)) {
        *c = (*c).min(inc(win[0].min(win[1]).min(win[2])));
    }
}

fn check_args(known: &[f32], h: usize, w: usize, ks: usize) {
    assert_eq!(
        known.len(),
        h * w,
        "hard map: known has {} values, expected {h}×{w}",
        known.len()
    );
    assert!(
        ks % 2 == 1,
        "hard map: the window size must be odd, got {ks}"
    );
}

/// Strided nearest resampling `X[::s, ::s]`: the top-left pixel of each `s`×`s` block.
///
/// This is what PyTorch's legacy `nearest` interpolation does for an integer factor
/// (docs/network.md §3.4).
/// The output is `ceil(h/s)`×`ceil(w/s)`, row-major (exactly `h/s`×`w/s` when `s` divides).
///
/// # Panics
///
/// If `s == 0` or `src.len() != h·w`.
pub fn nearest_strided(src: &[f32], h: usize, w: usize, s: usize) -> Vec<f32> {
    assert!(s > 0, "nearest_strided: the stride must be positive");
    assert_eq!(src.len(), h * w, "nearest_strided: src is not {h}×{w}");
    let mut out = Vec::with_capacity(h.div_ceil(s) * w.div_ceil(s));
    for y in (0..h).step_by(s) {
        out.extend(src[y * w..(y + 1) * w].iter().step_by(s));
    }
    out
}

/// The hard maps of all generator units from one full-resolution known map (1 = known).
///
/// With `L = units.len()` (6 for [`OFFICIAL_UNITS`](super::OFFICIAL_UNITS)), unit `k`
/// (coarsest first) runs at `1/2^(L−k)` of the input resolution: for a 256² input, 4, 8, …,
/// 128. Each unit samples the full-resolution map with stride `s = 2^(L−k)`
/// ([`nearest_strided`]) and computes its map at that resolution with its own `(n, ks)`
/// ([`hard_map_fast`]). Returns `(h_k, w_k, map)` per unit; `h` and `w` should be multiples of
/// `2^L` (otherwise the sizes round up, like `X[::s, ::s]`).
///
/// # Panics
///
/// If `known_full.len() != h·w` or a unit's `ks` is even.
pub fn unit_hard_maps_cpu(
    known_full: &[f32],
    h: usize,
    w: usize,
    units: &[UnitMapSpec],
    decay: Decay,
) -> Vec<(usize, usize, Vec<f32>)> {
    let l = units.len();
    units
        .iter()
        .enumerate()
        .map(|(k, unit)| {
            let s = u32::try_from(l - k)
                .ok()
                .and_then(|e| 1usize.checked_shl(e))
                .unwrap_or(usize::MAX);
            let (hk, wk) = (h.div_ceil(s), w.div_ceil(s));
            let small = nearest_strided(known_full, h, w, s);
            let map = hard_map_fast(&small, hk, wk, unit.n, unit.ks, decay);
            (hk, wk, map)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{OFFICIAL_UNITS, test_vectors};
    use super::*;
    use proptest::prelude::*;

    fn assert_close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len());
        for (i, (g, e)) in got.iter().zip(want).enumerate() {
            assert!((g - e).abs() <= tol, "index {i}: got {g}, want {e}");
        }
    }

    #[test]
    fn spec_vectors_reference_and_fast() {
        for (h, w, n, ks, known, expect) in test_vectors::all() {
            assert_close(
                &hard_map_cpu(&known, h, w, n, ks, Decay::Exp),
                &expect,
                1e-7,
            );
            assert_close(
                &hard_map_fast(&known, h, w, n, ks, Decay::Exp),
                &expect,
                1e-7,
            );
        }
    }

    #[test]
    fn all_hole_and_all_known() {
        for unit in OFFICIAL_UNITS {
            let c_n = Decay::Exp.coef(unit.n);
            let holes = vec![0.0; 9 * 7];
            let known = vec![1.0; 9 * 7];
            for f in [hard_map_cpu, hard_map_fast] {
                let d = f(&holes, 9, 7, unit.n, unit.ks, Decay::Exp);
                assert!(d.iter().all(|&v| v == c_n));
                let d = f(&known, 9, 7, unit.n, unit.ks, Decay::Exp);
                assert!(d.iter().all(|&v| v == 1.0));
            }
        }
    }

    #[test]
    fn paper_decay_and_degenerate_cases() {
        let (h, w, n, ks, known, _) = test_vectors::corner_4x4();
        let d = hard_map_fast(&known, h, w, n, ks, Decay::paper());
        assert_eq!(&d[..4], &[1.0, 0.25, 0.0625, 0.0625]);
        assert_eq!(d, hard_map_cpu(&known, h, w, n, ks, Decay::paper()));
        // n = 0: everything 1; ks = 1: holes never shrink, so they get c_n.
        assert!(
            hard_map_fast(&known, h, w, 0, 3, Decay::Exp)
                .iter()
                .all(|&v| v == 1.0)
        );
        let d = hard_map_fast(&known, h, w, 3, 1, Decay::Exp);
        assert_eq!(d, hard_map_cpu(&known, h, w, 3, 1, Decay::Exp));
        assert_eq!(d[1], Decay::Exp.coef(3));
        // Empty maps.
        assert!(hard_map_fast(&[], 0, 5, 3, 3, Decay::Exp).is_empty());
        assert!(hard_map_cpu(&[], 5, 0, 3, 3, Decay::Exp).is_empty());
    }

    #[test]
    fn large_distances_use_the_wide_path() {
        // n·r ≥ 255 takes the u32 distance path: a 1×600 strip with one known pixel.
        let mut known = vec![0.0; 600];
        known[0] = 1.0;
        let fast = hard_map_fast(&known, 1, 600, 300, 3, Decay::paper());
        let reference = hard_map_cpu(&known, 1, 600, 300, 3, Decay::paper());
        assert_eq!(fast, reference);
    }

    #[test]
    fn nearest_strided_takes_top_left() {
        // 4×4 → 2×2 picks rows/cols 0 and 2.
        let src: Vec<f32> = (0..16).map(|i| i as f32).collect();
        assert_eq!(nearest_strided(&src, 4, 4, 2), vec![0.0, 2.0, 8.0, 10.0]);
        assert_eq!(nearest_strided(&src, 4, 4, 1), src);
        // Not divisible: ceil, like X[::3, ::3].
        assert_eq!(nearest_strided(&src, 4, 4, 3), vec![0.0, 3.0, 12.0, 15.0]);
        let src: Vec<f32> = (0..6).map(|i| i as f32).collect();
        assert_eq!(nearest_strided(&src, 2, 3, 2), vec![0.0, 2.0]);
    }

    #[test]
    fn unit_maps_resolutions() {
        let res = 256;
        let known: Vec<f32> = (0..res * res)
            .map(|i| if (i / res) < 100 { 1.0 } else { 0.0 })
            .collect();
        let maps = unit_hard_maps_cpu(&known, res, res, &OFFICIAL_UNITS, Decay::Exp);
        let sizes: Vec<usize> = maps.iter().map(|m| m.0).collect();
        assert_eq!(sizes, [4, 8, 16, 32, 64, 128]);
        for ((hk, wk, map), unit) in maps.iter().zip(OFFICIAL_UNITS) {
            let s = res / hk;
            let small = nearest_strided(&known, res, res, s);
            assert_eq!(map.len(), hk * wk);
            assert_eq!(
                *map,
                hard_map_cpu(&small, *hk, *wk, unit.n, unit.ks, Decay::Exp)
            );
        }
    }

    #[test]
    fn thin_hole_can_vanish_at_coarse_scales() {
        // A 1-pixel hole row at an odd row is never sampled by stride 2.
        let res = 64;
        let known: Vec<f32> = (0..res * res)
            .map(|i| if i / res == 33 { 0.0 } else { 1.0 })
            .collect();
        let maps = unit_hard_maps_cpu(&known, res, res, &OFFICIAL_UNITS, Decay::Exp);
        assert!(maps.iter().all(|(_, _, m)| m.iter().all(|&v| v == 1.0)));
    }

    #[test]
    fn timing_4096_fast() {
        // Prints, never asserts, the time (tests run in the dev profile).
        let n = 4096;
        let mut known = vec![1.0f32; n * n];
        for y in 0..n {
            for x in 0..n {
                let (dx, dy) = (x as f32 - 2048.0, y as f32 - 1800.0);
                if dx * dx + dy * dy < 900.0f32.powi(2) || (x / 97 + y / 53) % 7 == 0 {
                    known[y * n + x] = 0.0;
                }
            }
        }
        for unit in [UnitMapSpec { n: 7, ks: 5 }, UnitMapSpec { n: 2, ks: 3 }] {
            let t = std::time::Instant::now();
            let d = hard_map_fast(&known, n, n, unit.n, unit.ks, Decay::Exp);
            let secs = t.elapsed().as_secs_f64();
            println!(
                "hard_map_fast 4096x4096 n={} ks={}: {secs:.3} s",
                unit.n, unit.ks
            );
            assert_eq!(d.len(), n * n);
        }
    }

    fn mask_strategy() -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
        (1usize..20, 1usize..20).prop_flat_map(|(h, w)| {
            // Mostly holes, so rings matter; sometimes none known at all.
            (
                Just(h),
                Just(w),
                prop::collection::vec(prop::bool::weighted(0.08), h * w)
                    .prop_map(|v| v.into_iter().map(|b| if b { 1.0 } else { 0.0 }).collect()),
            )
        })
    }

    proptest! {
        #[test]
        fn fast_equals_reference(
            (h, w, known) in mask_strategy(),
            n in 1usize..8,
            ks in prop::sample::select(vec![3usize, 5]),
            paper in any::<bool>(),
        ) {
            let decay = if paper { Decay::paper() } else { Decay::Exp };
            let reference = hard_map_cpu(&known, h, w, n, ks, decay);
            let fast = hard_map_fast(&known, h, w, n, ks, decay);
            prop_assert_eq!(fast, reference);
        }
    }
}
