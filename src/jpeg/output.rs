//! From coefficients to RGB pixels: IDCT, upsampling and colour conversion, in horizontal
//! bands of whole MCU rows that are made in parallel. Each band inverse-transforms the block
//! rows it needs (plus the context rows of fancy vertical upsampling), so the bands are
//! independent and the result does not depend on the number of threads.

use rayon::prelude::*;

use super::color;
use super::idct::idct_islow;
use super::markers::{ColourSpace, Component, Frame};
use super::scan::Coefficients;
use super::upsample::{Method, Rows, upsample_row};

/// Image rows per band, at least (rounded up to whole MCU rows).
const BAND_ROWS: usize = 128;

/// Renders the image: `width · height · 3` bytes of RGB.
///
/// `quant` holds each component's quantisation table (natural order).
pub(crate) fn render(
    frame: &Frame,
    coefs: &Coefficients,
    quant: &[[u16; 64]],
    space: ColourSpace,
) -> Vec<u8> {
    let (w, h) = (frame.width, frame.height);
    let mcu_rows = 8 * frame.max_v;
    let band = BAND_ROWS.div_ceil(mcu_rows) * mcu_rows;
    let methods: Vec<Method> = frame
        .components
        .iter()
        .map(|c| Method::choose(frame.max_h / c.h, frame.max_v / c.v, c.width))
        .collect();
    let mut rgb = vec![0u8; w * h * 3];
    rgb.par_chunks_mut(band * w * 3)
        .enumerate()
        .for_each(|(b, out)| {
            let y0 = b * band;
            let y1 = (y0 + band).min(h);
            render_band(frame, coefs, quant, space, &methods, y0, y1, out);
        });
    rgb
}

/// The component rows that output rows `y0..y1` read, as block rows (inclusive range).
fn block_rows(comp: &Component, method: Method, y0: usize, y1: usize) -> (usize, usize) {
    let vf = method.v_factor();
    let (lo, hi) = if method.needs_context() {
        ((y0 / vf).saturating_sub(1), (y1 - 1) / vf + 1)
    } else {
        (y0 / vf, (y1 - 1) / vf)
    };
    let hi = hi.min(comp.height - 1);
    (lo / 8, hi / 8)
}

/// Renders output rows `y0..y1` into `out` (their RGB bytes).
#[allow(clippy::too_many_arguments)]
fn render_band(
    frame: &Frame,
    coefs: &Coefficients,
    quant: &[[u16; 64]],
    space: ColourSpace,
    methods: &[Method],
    y0: usize,
    y1: usize,
    out: &mut [u8],
) {
    let w = frame.width;
    // Inverse-transform the block rows each component needs.
    let mut planes: Vec<(Vec<u8>, usize, usize)> = Vec::with_capacity(frame.components.len());
    for (ci, comp) in frame.components.iter().enumerate() {
        let (b0, b1) = block_rows(comp, methods[ci], y0, y1);
        let stride = comp.blocks_w * 8;
        let mut plane = vec![0u8; (b1 - b0 + 1) * 8 * stride];
        let blocks = &coefs.comps[ci];
        for by in b0..=b1 {
            let row_start = (by - b0) * 8 * stride;
            for bx in 0..comp.blocks_w {
                let start = (by * comp.stride_blocks + bx) * 64;
                if let Some(block) = blocks[start..].first_chunk::<64>() {
                    idct_islow(block, &quant[ci], &mut plane[row_start + bx * 8..], stride);
                }
            }
        }
        planes.push((plane, stride, b0 * 8));
    }
    // Upsample and convert row by row.
    let mut rows: Vec<Vec<u8>> = vec![vec![0u8; w]; frame.components.len()];
    let mut scratch = Vec::new();
    for (y, dst) in (y0..y1).zip(out.chunks_exact_mut(w * 3)) {
        for (ci, comp) in frame.components.iter().enumerate() {
            let (plane, stride, first) = &planes[ci];
            let src = Rows {
                data: plane,
                stride: *stride,
                first: *first,
                width: comp.width,
                height: comp.height,
            };
            upsample_row(methods[ci], &src, y, &mut rows[ci], &mut scratch);
        }
        match (space, &rows[..]) {
            (ColourSpace::YCbCr, [y, cb, cr]) => color::ycc_to_rgb(y, cb, cr, dst),
            (ColourSpace::Rgb, [r, g, b]) => color::interleave(r, g, b, dst),
            (_, [grey, ..]) => color::grey_to_rgb(grey, dst),
            (_, []) => {}
        }
    }
}
