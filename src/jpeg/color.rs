//! Colour conversion to interleaved RGB, with libjpeg's fixed-point YCbCr tables
//! (`jdcolor.c`: 16 fractional bits, rounding by adding one half, results clamped).

/// Fractional bits of the fixed-point factors.
const SCALEBITS: u32 = 16;
/// One half in fixed point.
const ONE_HALF: i32 = 1 << (SCALEBITS - 1);

/// `x` in fixed point, rounded (libjpeg's `FIX`).
const fn fix(x: f64) -> i32 {
    (x * (1 << SCALEBITS) as f64 + 0.5) as i32
}

/// The four lookup tables of libjpeg's `build_ycc_rgb_table`, indexed by the chroma sample.
struct Tables {
    /// Cr → R: the nearest integer to 1.402·(Cr − 128).
    cr_r: [i32; 256],
    /// Cb → B: the nearest integer to 1.772·(Cb − 128).
    cb_b: [i32; 256],
    /// Cr → G, scaled up: −0.71414·(Cr − 128)·2^16.
    cr_g: [i32; 256],
    /// Cb → G, scaled up, with the rounding half: −0.34414·(Cb − 128)·2^16 + 2^15.
    cb_g: [i32; 256],
}

const fn tables() -> Tables {
    let mut t = Tables {
        cr_r: [0; 256],
        cb_b: [0; 256],
        cr_g: [0; 256],
        cb_g: [0; 256],
    };
    let mut i = 0;
    while i < 256 {
        let x = i as i32 - 128;
        t.cr_r[i] = (fix(1.40200) * x + ONE_HALF) >> SCALEBITS;
        t.cb_b[i] = (fix(1.77200) * x + ONE_HALF) >> SCALEBITS;
        t.cr_g[i] = -fix(0.71414) * x;
        t.cb_g[i] = -fix(0.34414) * x + ONE_HALF;
        i += 1;
    }
    t
}

static TABLES: Tables = tables();

#[inline(always)]
fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Converts one row of Y, Cb and Cr samples to RGB (`out` holds 3 bytes per sample).
pub(crate) fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    let t = &TABLES;
    for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        let y = i32::from(y);
        let (cb, cr) = (usize::from(cb), usize::from(cr));
        px[0] = clamp(y + t.cr_r[cr]);
        px[1] = clamp(y + ((t.cb_g[cb] + t.cr_g[cr]) >> SCALEBITS));
        px[2] = clamp(y + t.cb_b[cb]);
    }
}

/// Interleaves one row of R, G and B samples (an RGB JPEG needs no conversion).
pub(crate) fn interleave(r: &[u8], g: &[u8], b: &[u8], out: &mut [u8]) {
    for (((px, &r), &g), &b) in out.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
        px[0] = r;
        px[1] = g;
        px[2] = b;
    }
}

/// Replicates one row of grey samples into RGB (R = G = B, as PIL's `convert("RGB")` does).
pub(crate) fn grey_to_rgb(y: &[u8], out: &mut [u8]) {
    for (px, &y) in out.chunks_exact_mut(3).zip(y) {
        px.fill(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_libjpegs() {
        assert_eq!(fix(1.40200), 91881);
        assert_eq!(fix(1.77200), 116130);
        assert_eq!(fix(0.71414), 46802);
        assert_eq!(fix(0.34414), 22554);
    }

    #[test]
    fn neutral_chroma_is_grey_and_extremes_clamp() {
        let mut out = [0u8; 9];
        ycc_to_rgb(&[0, 77, 255], &[128, 128, 255], &[128, 128, 255], &mut out);
        assert_eq!(&out[..6], &[0, 0, 0, 77, 77, 77]);
        // Y 255 with maximal chroma: R and B clamp, G = 255 − 91 − 44 (rounded).
        assert_eq!(out[6], 255);
        assert_eq!(out[8], 255);
        let g = 255.0 - 0.34414 * 127.0 - 0.71414 * 127.0;
        assert!((f64::from(out[7]) - g).abs() <= 0.5, "{}", out[7]);
    }

    #[test]
    fn close_to_the_float_formula() {
        for y in (0..256).step_by(17) {
            for cb in (0..256).step_by(13) {
                for cr in (0..256).step_by(11) {
                    let mut out = [0u8; 3];
                    ycc_to_rgb(&[y as u8], &[cb as u8], &[cr as u8], &mut out);
                    let (yf, cbf, crf) =
                        (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
                    let want = [
                        yf + 1.402 * crf,
                        yf - 0.34414 * cbf - 0.71414 * crf,
                        yf + 1.772 * cbf,
                    ];
                    for (o, w) in out.iter().zip(want) {
                        assert!((f64::from(*o) - w.clamp(0.0, 255.0)).abs() <= 1.0);
                    }
                }
            }
        }
    }
}
