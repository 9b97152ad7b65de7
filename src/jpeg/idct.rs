//! The inverse DCT that libjpeg uses by default: the accurate integer "islow" IDCT
//! (`jidctint.c`, the Loeffler–Ligtenberg–Moschytz algorithm with 13-bit constants).
//!
//! The arithmetic is libjpeg's on a 64-bit platform: products and sums in 64 bits, the
//! intermediate workspace in 32 bits, two descaling shifts with rounding, and the
//! post-IDCT range limit (which wraps values far outside the sample range, as libjpeg's table
//! does). Columns and rows whose AC terms are all zero take libjpeg's shortcut, which gives the
//! same result as the full computation.

/// Fractional bits of the constants.
const CONST_BITS: u32 = 13;
/// Extra precision kept between the two passes.
const PASS1_BITS: u32 = 2;

const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;

/// `x / 2^n`, rounded (libjpeg's `DESCALE`).
#[inline(always)]
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// libjpeg's post-IDCT range limit: `v + 128` clamped to 0..=255 after wrapping `v` into
/// −512..=511 (the table is indexed with `v & 1023`).
#[inline(always)]
fn range_limit(v: i64) -> u8 {
    let wrapped = ((v + 512) & 1023) - 512;
    (wrapped + 128).clamp(0, 255) as u8
}

/// The even and odd halves of the 1-D IDCT shared by both passes, on 8 inputs that are
/// already dequantised (pass 1) or the workspace row (pass 2). Returns the 8 outputs before
/// descaling, in order.
#[inline(always)]
fn idct_1d(x: [i64; 8]) -> [i64; 8] {
    // Even part.
    let z2 = x[2];
    let z3 = x[6];
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    let tmp0 = (x[0] + x[4]) << CONST_BITS;
    let tmp1 = (x[0] - x[4]) << CONST_BITS;
    let tmp10 = tmp0 + tmp3;
    let tmp13 = tmp0 - tmp3;
    let tmp11 = tmp1 + tmp2;
    let tmp12 = tmp1 - tmp2;

    // Odd part.
    let (mut t0, mut t1, mut t2, mut t3) = (x[7], x[5], x[3], x[1]);
    let z1 = t0 + t3;
    let z2 = t1 + t2;
    let z3 = t0 + t2;
    let z4 = t1 + t3;
    let z5 = (z3 + z4) * FIX_1_175875602;
    t0 *= FIX_0_298631336;
    t1 *= FIX_2_053119869;
    t2 *= FIX_3_072711026;
    t3 *= FIX_1_501321110;
    let z1 = z1 * -FIX_0_899976223;
    let z2 = z2 * -FIX_2_562915447;
    let z3 = z3 * -FIX_1_961570560 + z5;
    let z4 = z4 * -FIX_0_390180644 + z5;
    t0 += z1 + z3;
    t1 += z2 + z4;
    t2 += z2 + z3;
    t3 += z1 + z4;

    [
        tmp10 + t3,
        tmp11 + t2,
        tmp12 + t1,
        tmp13 + t0,
        tmp13 - t0,
        tmp12 - t1,
        tmp11 - t2,
        tmp10 - t3,
    ]
}

/// Inverse-transforms one block of coefficients (natural order) with its quantisation table
/// (natural order) into 8 rows of 8 samples at `out[row * stride ..]`.
pub(crate) fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    let mut ws = [0i32; 64];
    // Pass 1: columns, from the coefficients into the workspace.
    for col in 0..8 {
        let deq = |row: usize| i64::from(coef[row * 8 + col]) * i64::from(quant[row * 8 + col]);
        if (1..8).all(|row| coef[row * 8 + col] == 0) {
            let dc = (deq(0) << PASS1_BITS) as i32;
            for row in 0..8 {
                ws[row * 8 + col] = dc;
            }
            continue;
        }
        let y = idct_1d([
            deq(0),
            deq(1),
            deq(2),
            deq(3),
            deq(4),
            deq(5),
            deq(6),
            deq(7),
        ]);
        for (row, v) in y.into_iter().enumerate() {
            ws[row * 8 + col] = descale(v, CONST_BITS - PASS1_BITS) as i32;
        }
    }
    // Pass 2: rows, from the workspace into samples.
    for (row, w) in ws.chunks_exact(8).enumerate() {
        let dst = &mut out[row * stride..row * stride + 8];
        if w[1..].iter().all(|&v| v == 0) {
            dst.fill(range_limit(descale(i64::from(w[0]), PASS1_BITS + 3)));
            continue;
        }
        let y = idct_1d([
            i64::from(w[0]),
            i64::from(w[1]),
            i64::from(w[2]),
            i64::from(w[3]),
            i64::from(w[4]),
            i64::from(w[5]),
            i64::from(w[6]),
            i64::from(w[7]),
        ]);
        for (d, v) in dst.iter_mut().zip(y) {
            *d = range_limit(descale(v, CONST_BITS + PASS1_BITS + 3));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference 2-D IDCT in floating point, level-shifted and clamped.
    fn float_idct(coef: &[i16; 64], quant: &[u16; 64]) -> [f64; 64] {
        let mut out = [0.0; 64];
        let c = |u: usize| if u == 0 { 1.0 / 2f64.sqrt() } else { 1.0 };
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        let f = f64::from(coef[v * 8 + u]) * f64::from(quant[v * 8 + u]);
                        s += c(u)
                            * c(v)
                            * f
                            * (((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI) / 16.0).cos()
                            * (((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI) / 16.0).cos();
                    }
                }
                out[y * 8 + x] = (s / 4.0 + 128.0).clamp(0.0, 255.0);
            }
        }
        out
    }

    #[test]
    fn dc_only_block_is_flat() {
        let mut coef = [0i16; 64];
        coef[0] = -13;
        let quant = [16u16; 64];
        let mut out = [0u8; 64];
        idct_islow(&coef, &quant, &mut out, 8);
        // -13·16 / 8 + 128 = 102.
        assert!(out.iter().all(|&v| v == 102), "{out:?}");
    }

    #[test]
    fn close_to_the_float_idct() {
        // Deterministic pseudo-random blocks with a few AC terms.
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as i32
        };
        for _ in 0..200 {
            let mut coef = [0i16; 64];
            let mut quant = [0u16; 64];
            for k in 0..64 {
                quant[k] = 1 + (next() % 20) as u16;
                if next() % 3 == 0 {
                    coef[k] = ((next() % 41) - 20) as i16;
                }
            }
            coef[0] = ((next() % 81) - 40) as i16;
            let mut out = [0u8; 64];
            idct_islow(&coef, &quant, &mut out, 8);
            let reference = float_idct(&coef, &quant);
            for (a, b) in out.iter().zip(reference) {
                assert!((f64::from(*a) - b).abs() <= 1.0, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn range_limit_wraps_like_libjpeg() {
        assert_eq!(range_limit(0), 128);
        assert_eq!(range_limit(127), 255);
        assert_eq!(range_limit(500), 255);
        assert_eq!(range_limit(-128), 0);
        assert_eq!(range_limit(-400), 0);
        // Beyond ±512 libjpeg's table wraps around.
        assert_eq!(range_limit(1024 + 5), 133);
        assert_eq!(range_limit(-1024 - 3), 125);
    }
}
