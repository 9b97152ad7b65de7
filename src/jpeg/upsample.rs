//! Chroma upsampling as libjpeg does it with its default "fancy" upsampling (`jdsample.c`).
//!
//! * 2:1 horizontally (`h2v1`): each output sample is ¾ of the nearer input sample plus ¼ of
//!   the next one, rounded with alternating biases (+1 towards the left neighbour, +2 towards
//!   the right).
//! * 2:1 vertically (`h1v2`): the same vertically (+1 with the row above, +2 with the row
//!   below).
//! * 2:1 both ways (`h2v2`): triangle filter: column sums `3·near + far` of the two rows, then
//!   `(3·this + neighbour + 8) >> 4` to the left and `+ 7` to the right.
//! * Any other whole ratio, and `h2v1`/`h2v2` of components at most 2 samples wide:
//!   replication.
//!
//! Edges replicate the outermost real sample (of the component's `width` × `height`, not of
//! the padded blocks), which is what libjpeg's special cases and context rows amount to.

/// How one component is brought to the full image size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Already full size.
    Full,
    /// Fancy 2:1 horizontal.
    H2V1Fancy,
    /// Fancy 2:1 vertical.
    H1V2Fancy,
    /// Fancy 2:1 in both directions.
    H2V2Fancy,
    /// Each sample repeated `h` times across and `v` times down.
    Replicate {
        /// Horizontal factor.
        h: usize,
        /// Vertical factor.
        v: usize,
    },
}

impl Method {
    /// libjpeg's choice (`jinit_upsampler`) for expansion factors `h` × `v` (whole numbers)
    /// of a component `width` samples wide.
    pub(crate) fn choose(h: usize, v: usize, width: usize) -> Method {
        match (h, v) {
            (1, 1) => Method::Full,
            (2, 1) if width > 2 => Method::H2V1Fancy,
            (1, 2) => Method::H1V2Fancy,
            (2, 2) if width > 2 => Method::H2V2Fancy,
            _ => Method::Replicate { h, v },
        }
    }

    /// Whether the method reads the component rows above and below (context rows).
    pub(crate) fn needs_context(self) -> bool {
        matches!(self, Method::H1V2Fancy | Method::H2V2Fancy)
    }

    /// The vertical expansion factor.
    pub(crate) fn v_factor(self) -> usize {
        match self {
            Method::Full | Method::H2V1Fancy => 1,
            Method::H1V2Fancy | Method::H2V2Fancy => 2,
            Method::Replicate { v, .. } => v,
        }
    }
}

/// Some consecutive rows of a component's samples.
pub(crate) struct Rows<'a> {
    /// The samples, `stride` per row.
    pub(crate) data: &'a [u8],
    /// Samples per row in `data` (at least `width`).
    pub(crate) stride: usize,
    /// The component row that `data` starts with.
    pub(crate) first: usize,
    /// The component's real width in samples.
    pub(crate) width: usize,
    /// The component's real height in samples.
    pub(crate) height: usize,
}

impl Rows<'_> {
    /// Component row `r`, clamped to the real rows (`r` = −1 means row 0).
    fn row(&self, r: isize) -> &[u8] {
        let r = r.clamp(0, self.height as isize - 1) as usize;
        let start = (r - self.first) * self.stride;
        &self.data[start..start + self.width]
    }
}

/// Writes output row `y` of a component upsampled with `method` into `out` (one sample per
/// image column). `scratch` is working space.
pub(crate) fn upsample_row(
    method: Method,
    rows: &Rows<'_>,
    y: usize,
    out: &mut [u8],
    scratch: &mut Vec<i32>,
) {
    let yi = y as isize;
    match method {
        Method::Full => out.copy_from_slice(&rows.row(yi)[..out.len()]),
        Method::H2V1Fancy => h2v1(rows.row(yi), out),
        Method::H1V2Fancy => {
            let near = rows.row(yi / 2);
            let (far, bias) = if y.is_multiple_of(2) {
                (rows.row(yi / 2 - 1), 1)
            } else {
                (rows.row(yi / 2 + 1), 2)
            };
            for ((o, &n), &f) in out.iter_mut().zip(near).zip(far) {
                *o = ((3 * u32::from(n) + u32::from(f) + bias) >> 2) as u8;
            }
        }
        Method::H2V2Fancy => {
            let near = rows.row(yi / 2);
            let far = if y.is_multiple_of(2) {
                rows.row(yi / 2 - 1)
            } else {
                rows.row(yi / 2 + 1)
            };
            scratch.clear();
            scratch.extend(
                near.iter()
                    .zip(far)
                    .map(|(&n, &f)| 3 * i32::from(n) + i32::from(f)),
            );
            h2v2(scratch, out);
        }
        Method::Replicate { h, v } => {
            let src = rows.row(yi / v as isize);
            for (chunk, &s) in out.chunks_mut(h).zip(src) {
                chunk.fill(s);
            }
        }
    }
}

/// Fancy 2:1 horizontal upsampling of `s` (at least 3 samples) into `out` (`2 · s.len()` or
/// one less).
fn h2v1(s: &[u8], out: &mut [u8]) {
    let w = s.len();
    let px = |v: u8| u32::from(v);
    let (first, rest) = out.split_at_mut(2);
    first[0] = s[0];
    first[1] = ((3 * px(s[0]) + px(s[1]) + 2) >> 2) as u8;
    let (mid, last) = rest.split_at_mut(2 * (w - 2));
    for (pair, win) in mid.chunks_exact_mut(2).zip(s.windows(3)) {
        let this = 3 * px(win[1]);
        pair[0] = ((this + px(win[0]) + 1) >> 2) as u8;
        pair[1] = ((this + px(win[2]) + 2) >> 2) as u8;
    }
    last[0] = ((3 * px(s[w - 1]) + px(s[w - 2]) + 1) >> 2) as u8;
    if let Some(o) = last.get_mut(1) {
        *o = s[w - 1];
    }
}

/// The horizontal half of the fancy 2:1 × 2:1 upsampling, from column sums `cs` (at least
/// 3) into `out` (`2 · cs.len()` samples or one less).
fn h2v2(cs: &[i32], out: &mut [u8]) {
    let w = cs.len();
    let (first, rest) = out.split_at_mut(2);
    first[0] = ((4 * cs[0] + 8) >> 4) as u8;
    first[1] = ((3 * cs[0] + cs[1] + 7) >> 4) as u8;
    let (mid, last) = rest.split_at_mut(2 * (w - 2));
    for (pair, win) in mid.chunks_exact_mut(2).zip(cs.windows(3)) {
        let this = 3 * win[1];
        pair[0] = ((this + win[0] + 8) >> 4) as u8;
        pair[1] = ((this + win[2] + 7) >> 4) as u8;
    }
    last[0] = ((3 * cs[w - 1] + cs[w - 2] + 8) >> 4) as u8;
    if let Some(o) = last.get_mut(1) {
        *o = ((4 * cs[w - 1] + 7) >> 4) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[u8], width: usize, height: usize) -> Rows<'_> {
        Rows {
            data,
            stride: width,
            first: 0,
            width,
            height,
        }
    }

    #[test]
    fn libjpeg_chooses_fancy_only_where_it_has_it() {
        assert_eq!(Method::choose(1, 1, 1), Method::Full);
        assert_eq!(Method::choose(2, 1, 3), Method::H2V1Fancy);
        assert_eq!(Method::choose(2, 1, 2), Method::Replicate { h: 2, v: 1 });
        assert_eq!(Method::choose(1, 2, 1), Method::H1V2Fancy);
        assert_eq!(Method::choose(2, 2, 5), Method::H2V2Fancy);
        assert_eq!(Method::choose(4, 1, 50), Method::Replicate { h: 4, v: 1 });
    }

    #[test]
    fn h2v1_biases_alternate_and_edges_replicate() {
        let s = [10u8, 20, 40];
        let mut out = [0u8; 6];
        let mut scratch = Vec::new();
        upsample_row(
            Method::H2V1Fancy,
            &rows(&s, 3, 1),
            0,
            &mut out,
            &mut scratch,
        );
        // 10; (30+20+2)/4=13; (60+10+1)/4=17; (60+40+2)/4=25; (120+20+1)/4=35; 40.
        assert_eq!(out, [10, 13, 17, 25, 35, 40]);
        // An odd image width drops the last sample.
        let mut out = [0u8; 5];
        upsample_row(
            Method::H2V1Fancy,
            &rows(&s, 3, 1),
            0,
            &mut out,
            &mut scratch,
        );
        assert_eq!(out, [10, 13, 17, 25, 35]);
    }

    #[test]
    fn h1v2_uses_the_rows_above_and_below() {
        let s = [0u8, 100, 200];
        let r = rows(&s, 1, 3);
        let mut scratch = Vec::new();
        let got: Vec<u8> = (0..6)
            .map(|y| {
                let mut o = [0u8];
                upsample_row(Method::H1V2Fancy, &r, y, &mut o, &mut scratch);
                o[0]
            })
            .collect();
        // Row 0: (0·3+0+1)/4, (0+100+2)/4; row 1: (300+0+1)/4, (300+200+2)/4; row 2: …
        assert_eq!(got, vec![0, 25, 75, 125, 175, 200]);
    }

    #[test]
    fn h2v2_triangle_filter() {
        // A 3×2 component; output row 1 blends row 0 (near) with row 1 (far).
        let s = [0u8, 40, 80, 120, 160, 200];
        let r = rows(&s, 3, 2);
        let mut out = [0u8; 6];
        let mut scratch = Vec::new();
        upsample_row(Method::H2V2Fancy, &r, 1, &mut out, &mut scratch);
        let cs = [120i32, 280, 440];
        let want: Vec<u8> = (0..6)
            .map(|x| {
                let i = x / 2;
                let v = if x % 2 == 0 {
                    3 * cs[i] + cs[i.saturating_sub(1)] + 8
                } else {
                    3 * cs[i] + cs[(i + 1).min(2)] + 7
                };
                (v >> 4) as u8
            })
            .collect();
        assert_eq!(out.to_vec(), want);
        // Flat input stays flat.
        let flat = [77u8; 6];
        upsample_row(
            Method::H2V2Fancy,
            &rows(&flat, 3, 2),
            0,
            &mut out,
            &mut scratch,
        );
        assert_eq!(out, [77; 6]);
    }

    #[test]
    fn replicate_repeats() {
        let s = [1u8, 2, 3, 4];
        let r = rows(&s, 2, 2);
        let mut out = [0u8; 7];
        let mut scratch = Vec::new();
        upsample_row(
            Method::Replicate { h: 4, v: 3 },
            &r,
            4,
            &mut out,
            &mut scratch,
        );
        assert_eq!(out, [3, 3, 3, 3, 4, 4, 4]);
    }
}
