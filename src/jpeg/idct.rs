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

const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

/// Eight lanes: the same step for eight columns (pass 1) or eight rows (pass 2) at once,
/// which the compiler turns into vector instructions.
type Lanes = [i32; 8];

#[inline(always)]
fn add(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i].wrapping_add(b[i]))
}

#[inline(always)]
fn sub(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i].wrapping_sub(b[i]))
}

#[inline(always)]
fn mul(a: Lanes, c: i32) -> Lanes {
    std::array::from_fn(|i| a[i].wrapping_mul(c))
}

#[inline(always)]
fn shl(a: Lanes, n: u32) -> Lanes {
    std::array::from_fn(|i| a[i].wrapping_shl(n))
}

/// `x / 2^n`, rounded (libjpeg's `DESCALE`).
#[inline(always)]
fn descale(a: Lanes, n: u32) -> Lanes {
    std::array::from_fn(|i| a[i].wrapping_add(1 << (n - 1)) >> n)
}

/// libjpeg's post-IDCT range limit: `v + 128` clamped to 0..=255 after wrapping `v` into
/// −512..=511 (the table is indexed with `v & 1023`).
#[inline(always)]
fn range_limit(v: i32) -> u8 {
    let wrapped = (v.wrapping_add(512) & 1023) - 512;
    (wrapped + 128).clamp(0, 255) as u8
}

/// The 1-D IDCT of libjpeg's `jpeg_idct_islow`, on eight lanes: `x[k]` holds input `k` of
/// each lane; returns the eight outputs of each lane before descaling, in order.
///
/// The arithmetic is 32-bit and wraps like libjpeg-turbo's vector code; for the coefficients
/// of any real image it never comes near the limits, so the results equal libjpeg's C code
/// with its 64-bit intermediates.
#[inline(always)]
fn idct_1d(x: [Lanes; 8]) -> [Lanes; 8] {
    // Even part.
    let (z2, z3) = (x[2], x[6]);
    let z1 = mul(add(z2, z3), FIX_0_541196100);
    let tmp2 = add(z1, mul(z3, -FIX_1_847759065));
    let tmp3 = add(z1, mul(z2, FIX_0_765366865));
    let tmp0 = shl(add(x[0], x[4]), CONST_BITS);
    let tmp1 = shl(sub(x[0], x[4]), CONST_BITS);
    let tmp10 = add(tmp0, tmp3);
    let tmp13 = sub(tmp0, tmp3);
    let tmp11 = add(tmp1, tmp2);
    let tmp12 = sub(tmp1, tmp2);

    // Odd part.
    let (t0, t1, t2, t3) = (x[7], x[5], x[3], x[1]);
    let z1 = add(t0, t3);
    let z2 = add(t1, t2);
    let z3 = add(t0, t2);
    let z4 = add(t1, t3);
    let z5 = mul(add(z3, z4), FIX_1_175875602);
    let t0 = mul(t0, FIX_0_298631336);
    let t1 = mul(t1, FIX_2_053119869);
    let t2 = mul(t2, FIX_3_072711026);
    let t3 = mul(t3, FIX_1_501321110);
    let z1 = mul(z1, -FIX_0_899976223);
    let z2 = mul(z2, -FIX_2_562915447);
    let z3 = add(mul(z3, -FIX_1_961570560), z5);
    let z4 = add(mul(z4, -FIX_0_390180644), z5);
    let t0 = add(t0, add(z1, z3));
    let t1 = add(t1, add(z2, z4));
    let t2 = add(t2, add(z2, z3));
    let t3 = add(t3, add(z1, z4));

    [
        add(tmp10, t3),
        add(tmp11, t2),
        add(tmp12, t1),
        add(tmp13, t0),
        sub(tmp13, t0),
        sub(tmp12, t1),
        sub(tmp11, t2),
        sub(tmp10, t3),
    ]
}

/// Inverse-transforms one block of coefficients (natural order) with its quantisation table
/// (natural order) into 8 rows of 8 samples at `out[row * stride ..]`.
///
/// libjpeg skips the arithmetic for columns and rows whose AC terms are zero; its shortcut
/// gives the same values as the full computation, which is what this does (except for a block
/// with no AC term at all, filled with its one value).
pub(crate) fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    if coef[1..].iter().fold(0, |acc, &c| acc | c) == 0 {
        let dc = i32::from(coef[0]).wrapping_mul(i32::from(quant[0])) << PASS1_BITS;
        let v = range_limit(dc.wrapping_add(1 << (PASS1_BITS + 2)) >> (PASS1_BITS + 3));
        for row in 0..8 {
            out[row * stride..row * stride + 8].fill(v);
        }
        return;
    }
    // Pass 1: columns (one per lane), dequantised coefficients → workspace rows.
    let x: [Lanes; 8] = std::array::from_fn(|k| {
        std::array::from_fn(|col| {
            i32::from(coef[k * 8 + col]).wrapping_mul(i32::from(quant[k * 8 + col]))
        })
    });
    let y = idct_1d(x);
    let ws: [Lanes; 8] = std::array::from_fn(|row| descale(y[row], CONST_BITS - PASS1_BITS));
    // Pass 2: rows (one per lane); input k of row r is ws[r][k].
    let x: [Lanes; 8] = std::array::from_fn(|k| std::array::from_fn(|row| ws[row][k]));
    let y = idct_1d(x);
    for (col, lanes) in y.iter().enumerate() {
        let v = descale(*lanes, CONST_BITS + PASS1_BITS + 3);
        for (row, &v) in v.iter().enumerate() {
            out[row * stride + col] = range_limit(v);
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

    #[test]
    fn dc_only_fast_path_equals_the_full_transform() {
        // A DC-only block is filled with one value; the full lane code must agree with it.
        for dc in [-1024i16, -77, -1, 0, 1, 5, 63, 500, 1023] {
            for q in [1u16, 3, 16, 99] {
                let mut coef = [0i16; 64];
                coef[0] = dc;
                let quant = [q; 64];
                let mut fast = [0u8; 64];
                idct_islow(&coef, &quant, &mut fast, 8);
                // A zero quantiser on an AC term makes the block take the full path with the
                // same dequantised values.
                coef[63] = 1;
                let mut quant_full = quant;
                quant_full[63] = 0;
                let mut full = [0u8; 64];
                idct_islow(&coef, &quant_full, &mut full, 8);
                assert_eq!(fast, full, "dc {dc} q {q}");
            }
        }
    }
}
