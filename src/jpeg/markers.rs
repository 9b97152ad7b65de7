//! Marker segments: finding markers, and parsing frame and scan headers, quantisation and
//! Huffman tables, restart intervals and the application segments (JFIF, Adobe, Exif).

use super::error::{Corrupt, JpegError, Unsupported};
use super::huffman::HuffTable;

/// Start of image.
pub(crate) const SOI: u8 = 0xD8;
/// End of image.
pub(crate) const EOI: u8 = 0xD9;
/// Start of scan.
pub(crate) const SOS: u8 = 0xDA;
/// Define quantisation tables.
pub(crate) const DQT: u8 = 0xDB;
/// Define number of lines.
pub(crate) const DNL: u8 = 0xDC;
/// Define restart interval.
pub(crate) const DRI: u8 = 0xDD;
/// Define Huffman tables.
pub(crate) const DHT: u8 = 0xC4;
/// Define arithmetic coding conditioning.
pub(crate) const DAC: u8 = 0xCC;
/// Comment.
pub(crate) const COM: u8 = 0xFE;

/// The zigzag position → natural (row-major) position of each coefficient, with 16 extra
/// entries so that a corrupt run past the end of a block lands on the last coefficient (as in
/// libjpeg).
pub(crate) const NATURAL: [usize; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 63, 63, 63,
];

/// Finds markers and reads marker segments in the whole file.
pub(crate) struct Markers<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Markers<'a> {
    /// Checks the start-of-image marker.
    pub(crate) fn new(data: &'a [u8]) -> Result<Self, Corrupt> {
        if data.len() < 2 || data[0] != 0xFF || data[1] != SOI {
            return Err(Corrupt::NoStartOfImage);
        }
        Ok(Markers { data, pos: 2 })
    }

    /// The position of the next byte to read.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Continues reading at `pos` (after a scan's entropy-coded data).
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }

    /// The next marker code, skipping any other bytes before it (libjpeg does too, with a
    /// warning); `None` at the end of the data.
    pub(crate) fn next_marker(&mut self) -> Option<u8> {
        loop {
            while *self.data.get(self.pos)? != 0xFF {
                self.pos += 1;
            }
            while *self.data.get(self.pos)? == 0xFF {
                self.pos += 1;
            }
            let code = *self.data.get(self.pos)?;
            self.pos += 1;
            if code != 0 {
                return Some(code);
            }
        }
    }

    /// The payload of the segment of `marker` that starts here (after its length field).
    pub(crate) fn segment(&mut self, marker: u8) -> Result<&'a [u8], Corrupt> {
        let len = match self.data.get(self.pos..self.pos + 2) {
            Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
            None => return Err(Corrupt::Truncated),
        };
        if len < 2 {
            return Err(Corrupt::SegmentLength(marker));
        }
        let start = self.pos + 2;
        let end = self.pos + len;
        let payload = self.data.get(start..end).ok_or(Corrupt::Truncated)?;
        self.pos = end;
        Ok(payload)
    }
}

/// One colour component of the frame.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    /// The component id that scans refer to.
    pub(crate) id: u8,
    /// Horizontal sampling factor (1..=4).
    pub(crate) h: usize,
    /// Vertical sampling factor (1..=4).
    pub(crate) v: usize,
    /// The quantisation table id (0..=3).
    pub(crate) tq: usize,
    /// Width of the component's samples: `ceil(width · h / max_h)`.
    pub(crate) width: usize,
    /// Height of the component's samples: `ceil(height · v / max_v)`.
    pub(crate) height: usize,
    /// Blocks per row that hold samples: `ceil(width / 8)`.
    pub(crate) blocks_w: usize,
    /// Block rows that hold samples: `ceil(height / 8)`.
    pub(crate) blocks_h: usize,
    /// Blocks per row in the coefficient buffer (whole MCUs): `mcus_x · h`.
    pub(crate) stride_blocks: usize,
    /// Block rows in the coefficient buffer (whole MCUs): `mcus_y · v`.
    pub(crate) rows_blocks: usize,
}

/// The frame header (SOF0, SOF1 or SOF2) and what follows from it.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// Progressive (SOF2) rather than sequential.
    pub(crate) progressive: bool,
    /// Image width in pixels.
    pub(crate) width: usize,
    /// Image height in pixels.
    pub(crate) height: usize,
    /// The components, in frame order.
    pub(crate) components: Vec<Component>,
    /// The largest horizontal sampling factor.
    pub(crate) max_h: usize,
    /// The largest vertical sampling factor.
    pub(crate) max_v: usize,
    /// MCUs per row of an interleaved scan.
    pub(crate) mcus_x: usize,
    /// MCU rows of an interleaved scan.
    pub(crate) mcus_y: usize,
}

/// Parses a frame header of marker `marker` (`0xC0..=0xCF` except DHT, JPG and DAC).
pub(crate) fn parse_frame(marker: u8, p: &[u8]) -> Result<Frame, JpegError> {
    match marker {
        0xC0..=0xC2 => {}
        0xC3 => return Err(Unsupported::Lossless.into()),
        0xC5..=0xC7 => return Err(Unsupported::Hierarchical.into()),
        _ => return Err(Unsupported::Arithmetic.into()),
    }
    if p.len() < 6 {
        return Err(Corrupt::SegmentLength(marker).into());
    }
    let precision = p[0];
    let height = usize::from(u16::from_be_bytes([p[1], p[2]]));
    let width = usize::from(u16::from_be_bytes([p[3], p[4]]));
    let n = p[5];
    if p.len() != 6 + 3 * usize::from(n) || n == 0 {
        return Err(Corrupt::SegmentLength(marker).into());
    }
    if precision != 8 {
        return Err(Unsupported::Precision(precision).into());
    }
    if n != 1 && n != 3 {
        return Err(Unsupported::Components(n).into());
    }
    if height == 0 {
        return Err(Unsupported::DefineNumberOfLines.into());
    }
    if width == 0 {
        return Err(Corrupt::ZeroWidth.into());
    }
    let mut components = Vec::with_capacity(usize::from(n));
    for c in p[6..].chunks_exact(3) {
        let (h, v, tq) = (
            usize::from(c[1] >> 4),
            usize::from(c[1] & 15),
            usize::from(c[2]),
        );
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(Corrupt::BadSampling.into());
        }
        if tq > 3 {
            return Err(Corrupt::BadQuantTable.into());
        }
        if components.iter().any(|k: &Component| k.id == c[0]) {
            return Err(Corrupt::BadScanComponent.into());
        }
        components.push(Component {
            id: c[0],
            h,
            v,
            tq,
            width: 0,
            height: 0,
            blocks_w: 0,
            blocks_h: 0,
            stride_blocks: 0,
            rows_blocks: 0,
        });
    }
    let max_h = components.iter().map(|c| c.h).max().unwrap_or(1);
    let max_v = components.iter().map(|c| c.v).max().unwrap_or(1);
    let mcus_x = width.div_ceil(8 * max_h);
    let mcus_y = height.div_ceil(8 * max_v);
    for c in &mut components {
        if max_h % c.h != 0 || max_v % c.v != 0 {
            return Err(Unsupported::FractionalSampling.into());
        }
        c.width = (width * c.h).div_ceil(max_h);
        c.height = (height * c.v).div_ceil(max_v);
        c.blocks_w = c.width.div_ceil(8);
        c.blocks_h = c.height.div_ceil(8);
        c.stride_blocks = mcus_x * c.h;
        c.rows_blocks = mcus_y * c.v;
    }
    Ok(Frame {
        progressive: marker == 0xC2,
        width,
        height,
        components,
        max_h,
        max_v,
        mcus_x,
        mcus_y,
    })
}

/// A scan header.
#[derive(Debug, Clone)]
pub(crate) struct ScanHeader {
    /// Indices into the frame's components, in scan order.
    pub(crate) comps: Vec<usize>,
    /// DC table id of each scan component.
    pub(crate) dc: Vec<u8>,
    /// AC table id of each scan component.
    pub(crate) ac: Vec<u8>,
    /// Start of spectral selection.
    pub(crate) ss: u8,
    /// End of spectral selection.
    pub(crate) se: u8,
    /// Successive approximation: the previous scan's point transform.
    pub(crate) ah: u8,
    /// Successive approximation: this scan's point transform.
    pub(crate) al: u8,
}

/// Parses a scan header against the frame.
pub(crate) fn parse_scan(p: &[u8], frame: &Frame) -> Result<ScanHeader, Corrupt> {
    let n = usize::from(*p.first().ok_or(Corrupt::SegmentLength(SOS))?);
    if !(1..=4).contains(&n) || p.len() != 4 + 2 * n {
        return Err(Corrupt::SegmentLength(SOS));
    }
    let mut comps = Vec::with_capacity(n);
    let mut dc = Vec::with_capacity(n);
    let mut ac = Vec::with_capacity(n);
    for s in p[1..1 + 2 * n].chunks_exact(2) {
        let ci = frame
            .components
            .iter()
            .position(|c| c.id == s[0])
            .ok_or(Corrupt::BadScanComponent)?;
        if comps.contains(&ci) {
            return Err(Corrupt::BadScanComponent);
        }
        let (td, ta) = (s[1] >> 4, s[1] & 15);
        if td > 3 || ta > 3 {
            return Err(Corrupt::BadHuffmanTable);
        }
        comps.push(ci);
        dc.push(td);
        ac.push(ta);
    }
    let tail = &p[1 + 2 * n..];
    let scan = ScanHeader {
        comps,
        dc,
        ac,
        ss: tail[0],
        se: tail[1],
        ah: tail[2] >> 4,
        al: tail[2] & 15,
    };
    if scan.comps.len() > 1 {
        let blocks: usize = scan
            .comps
            .iter()
            .map(|&ci| frame.components[ci].h * frame.components[ci].v)
            .sum();
        if blocks > 10 {
            return Err(Corrupt::McuTooLarge);
        }
    }
    if frame.progressive {
        // The rules libjpeg enforces (jdphuff.c).
        let ok_band = if scan.ss == 0 {
            scan.se == 0
        } else {
            scan.se >= scan.ss && scan.se <= 63 && scan.comps.len() == 1
        };
        let ok_approx = (scan.ah == 0 || scan.al + 1 == scan.ah) && scan.al <= 13;
        if !ok_band || !ok_approx {
            return Err(Corrupt::BadProgression);
        }
    }
    Ok(scan)
}

/// Parses a DQT segment into `tables` (natural order).
pub(crate) fn parse_dqt(mut p: &[u8], tables: &mut [Option<[u16; 64]>; 4]) -> Result<(), Corrupt> {
    while let Some((&pq_tq, rest)) = p.split_first() {
        let (precision, id) = (pq_tq >> 4, usize::from(pq_tq & 15));
        if id > 3 || precision > 1 {
            return Err(Corrupt::BadQuantTable);
        }
        let bytes = if precision == 0 { 64 } else { 128 };
        let values = rest.get(..bytes).ok_or(Corrupt::SegmentLength(DQT))?;
        let mut table = [0u16; 64];
        for (k, &pos) in NATURAL[..64].iter().enumerate() {
            table[pos] = if precision == 0 {
                u16::from(values[k])
            } else {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
            };
        }
        tables[id] = Some(table);
        p = &rest[bytes..];
    }
    Ok(())
}

/// Huffman tables by id: DC (index 0) and AC (index 1).
pub(crate) type HuffTables = [[Option<HuffTable>; 4]; 2];

/// Parses a DHT segment into `tables`.
pub(crate) fn parse_dht(mut p: &[u8], tables: &mut HuffTables) -> Result<(), Corrupt> {
    while let Some((&tc_th, rest)) = p.split_first() {
        let (class, id) = (usize::from(tc_th >> 4), usize::from(tc_th & 15));
        if class > 1 || id > 3 {
            return Err(Corrupt::BadHuffmanTable);
        }
        let counts: [u8; 16] = rest
            .get(..16)
            .and_then(|c| c.try_into().ok())
            .ok_or(Corrupt::SegmentLength(DHT))?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = rest
            .get(16..16 + total)
            .ok_or(Corrupt::SegmentLength(DHT))?;
        tables[class][id] = Some(HuffTable::new(&counts, symbols, class == 0)?);
        p = &rest[16 + total..];
    }
    Ok(())
}

/// Parses a DRI segment: the restart interval in MCUs (0 = none).
pub(crate) fn parse_dri(p: &[u8]) -> Result<usize, Corrupt> {
    match p {
        [hi, lo] => Ok(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => Err(Corrupt::SegmentLength(DRI)),
    }
}

/// What the application segments seen so far say.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppInfo {
    /// A JFIF APP0 segment was seen.
    pub(crate) jfif: bool,
    /// The transform flag of an Adobe APP14 segment, if one was seen.
    pub(crate) adobe_transform: Option<u8>,
    /// The TIFF data of the last Exif APP1 segment (after `Exif\0\0`).
    pub(crate) exif: Option<Vec<u8>>,
}

impl AppInfo {
    /// Takes note of an APPn segment (`marker` = `0xE0..=0xEF`), as libjpeg examines them.
    pub(crate) fn note(&mut self, marker: u8, p: &[u8]) {
        match marker {
            0xE0 if p.len() >= 14 && p.starts_with(b"JFIF\0") => self.jfif = true,
            0xE1 if p.starts_with(b"Exif\0\0") => self.exif = Some(p[6..].to_vec()),
            0xEE if p.len() >= 12 && p.starts_with(b"Adobe") => {
                self.adobe_transform = Some(p[11]);
            }
            _ => {}
        }
    }
}

/// The colour space of a frame's samples, as libjpeg decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColourSpace {
    /// One component.
    Grey,
    /// Luma and two chroma components.
    YCbCr,
    /// Red, green, blue, stored as they are.
    Rgb,
}

/// libjpeg's choice (`default_decompress_parms`): for three components JFIF means YCbCr, else
/// an Adobe transform flag of 0 means RGB (any other YCbCr), else component ids `R`, `G`, `B`
/// mean RGB, else YCbCr.
pub(crate) fn colour_space(frame: &Frame, app: &AppInfo) -> ColourSpace {
    if frame.components.len() == 1 {
        return ColourSpace::Grey;
    }
    let ids: Vec<u8> = frame.components.iter().map(|c| c.id).collect();
    if app.jfif {
        ColourSpace::YCbCr
    } else if let Some(t) = app.adobe_transform {
        if t == 0 {
            ColourSpace::Rgb
        } else {
            ColourSpace::YCbCr
        }
    } else if ids == b"RGB" {
        ColourSpace::Rgb
    } else {
        ColourSpace::YCbCr
    }
}
