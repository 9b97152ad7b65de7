//! Our own JPEG decoder, byte-identical to libjpeg-turbo with its default settings (what PIL,
//! GIMP and web browsers show), so that pixels a user did not touch come back unchanged.
//!
//! libjpeg-turbo's defaults, reproduced exactly:
//!
//! * the accurate integer IDCT, "islow" ([`idct`]);
//! * "fancy" (triangle) chroma upsampling for 2:1 ratios, replication for the others
//!   ([`upsample`]);
//! * fixed-point YCbCr → RGB tables ([`color`]);
//! * the colour-space decision from JFIF and Adobe markers and component ids.
//!
//! Handled: baseline, extended sequential (8-bit, Huffman) and progressive (Huffman) files,
//! 8- and 16-bit quantisation tables, restart intervals, one (grey, returned as R = G = B) or
//! three components (YCbCr or RGB) with any whole-ratio sampling factors.
//!
//! Everything else is refused with [`JpegError::Unsupported`], for the caller to decode
//! otherwise: four components (CMYK/YCCK), arithmetic coding, 12-bit samples, lossless and
//! hierarchical files, and progressive files whose scans leave low-frequency coefficients
//! incomplete (libjpeg smooths those blocks). Corrupt data gives [`JpegError::Corrupt`], never
//! a panic; sizes are checked against [`Limits`] before anything large is allocated.
//!
//! Memory: the quantised coefficients of the whole image are kept (2 bytes per sample of each
//! component, i.e. at most twice the RGB output) besides the output itself.

mod color;
mod error;
mod huffman;
mod idct;
mod markers;
mod output;
mod progressive;
mod scan;
mod upsample;

#[cfg(test)]
mod tests;

use image::RgbImage;

pub use error::{Corrupt, JpegError, Unsupported};
use markers::{AppInfo, ColourSpace, Frame, HuffTables, Markers, ScanHeader};
use progressive::{AcFirst, AcRefine, DcFirst, DcRefine};
use scan::{Coefficients, Sequential, decode_scan, tables};

/// Scans allowed in one file; real encoders write at most a few dozen.
const MAX_SCANS: usize = 1000;

/// Coefficients libjpeg looks at when it decides to smooth a progressive image (DC and the
/// first nine AC terms in zigzag order, libjpeg-turbo 2.1 and later).
const SMOOTHING_COEFS: usize = 10;

/// Size limits checked before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest width or height, in pixels.
    pub max_side: u32,
    /// The most bytes the RGB output may take.
    pub max_bytes: u64,
}

/// A decoded JPEG.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The pixels as stored (no EXIF orientation applied).
    pub image: RgbImage,
    /// The TIFF data of the file's Exif segment (after `Exif\0\0`), if it has one.
    pub exif: Option<Vec<u8>>,
}

/// What the scans decoded so far know about the image.
struct Image {
    frame: Frame,
    coefs: Coefficients,
    /// Each component's quantisation table, latched at its first scan (as libjpeg does).
    quant: Vec<Option<[u16; 64]>>,
    /// Per component and coefficient (natural order): the point transform of the last scan
    /// that sent it, −1 if none did (libjpeg's `coef_bits`).
    coef_bits: Vec<[i8; 64]>,
    /// The colour space, decided at the first scan.
    space: ColourSpace,
    /// Scans decoded.
    scans: usize,
}

/// Decodes a JPEG file held in memory to 8-bit RGB, exactly as libjpeg-turbo does with its
/// default settings.
///
/// # Errors
///
/// [`JpegError::Unsupported`] for files outside what this decoder reproduces (see the module
/// documentation), [`JpegError::Corrupt`] for data that breaks the format, and
/// [`JpegError::TooLarge`] when the image exceeds `limits`.
pub fn decode(data: &[u8], limits: Limits) -> Result<Decoded, JpegError> {
    let t0 = std::time::Instant::now();
    let mut m = Markers::new(data)?;
    let mut quant: [Option<[u16; 64]>; 4] = [None; 4];
    let mut huff: HuffTables = Default::default();
    let mut restart_interval = 0usize;
    let mut app = AppInfo::default();
    let mut img: Option<Image> = None;
    loop {
        let marker = m.next_marker().ok_or(Corrupt::Truncated)?;
        match marker {
            markers::EOI => break,
            markers::SOI => return Err(Corrupt::UnexpectedMarker(marker).into()),
            // Restart markers between scans and TEM carry nothing.
            0xD0..=0xD7 | 0x01 => {}
            markers::DHT => markers::parse_dht(m.segment(marker)?, &mut huff)?,
            markers::DAC => return Err(Unsupported::Arithmetic.into()),
            0xC0..=0xCF => {
                let p = m.segment(marker)?;
                if img.is_some() {
                    return Err(Corrupt::DuplicateFrame.into());
                }
                let frame = markers::parse_frame(marker, p)?;
                check_limits(&frame, limits)?;
                let n = frame.components.len();
                img = Some(Image {
                    coefs: Coefficients::new(&frame),
                    quant: vec![None; n],
                    coef_bits: vec![[-1; 64]; n],
                    space: ColourSpace::Grey,
                    scans: 0,
                    frame,
                });
            }
            markers::DQT => markers::parse_dqt(m.segment(marker)?, &mut quant)?,
            markers::DRI => restart_interval = markers::parse_dri(m.segment(marker)?)?,
            0xE0..=0xEF => {
                let p = m.segment(marker)?;
                app.note(marker, p);
            }
            markers::COM | markers::DNL => {
                m.segment(marker)?;
            }
            markers::SOS => {
                let p = m.segment(marker)?;
                let img = img.as_mut().ok_or(Corrupt::ScanBeforeFrame)?;
                let scan = markers::parse_scan(p, &img.frame)?;
                if img.scans == 0 {
                    img.space = markers::colour_space(&img.frame, &app);
                }
                img.scans += 1;
                if img.scans > MAX_SCANS {
                    return Err(Corrupt::TooManyScans.into());
                }
                for &ci in &scan.comps {
                    let tq = img.frame.components[ci].tq;
                    if img.quant[ci].is_none() {
                        img.quant[ci] =
                            Some(quant[tq].ok_or(Corrupt::MissingQuantTable(tq as u8))?);
                    }
                }
                let end = run_scan(img, &scan, &huff, data, m.position(), restart_interval)?;
                m.seek(end);
                // libjpeg makes the image from a sequential file's first scan when it holds
                // every component, and reads nothing after it.
                if !img.frame.progressive
                    && img.scans == 1
                    && scan.comps.len() == img.frame.components.len()
                {
                    break;
                }
            }
            _ => return Err(Corrupt::UnexpectedMarker(marker).into()),
        }
    }
    let img = img.ok_or(Corrupt::NoScan)?;
    if img.scans == 0 {
        return Err(Corrupt::NoScan.into());
    }
    let mut tables = Vec::with_capacity(img.quant.len());
    for q in &img.quant {
        // A component that no scan sent.
        tables.push(q.ok_or(Unsupported::IncompleteProgressive)?);
    }
    if img.frame.progressive {
        let zigzag = &markers::NATURAL[..SMOOTHING_COEFS];
        if img
            .coef_bits
            .iter()
            .any(|bits| zigzag.iter().any(|&k| bits[k] != 0))
        {
            return Err(Unsupported::IncompleteProgressive.into());
        }
    }
    let t1 = std::time::Instant::now();
    let rgb = output::render(&img.frame, &img.coefs, &tables, img.space);
    if std::env::var_os("JPEG_TIMING").is_some() {
        eprintln!("entropy {:?} render {:?}", t1 - t0, t1.elapsed());
    }
    let image = RgbImage::from_raw(img.frame.width as u32, img.frame.height as u32, rgb)
        .ok_or(Corrupt::ZeroWidth)?;
    Ok(Decoded {
        image,
        exif: app.exif,
    })
}

/// Refuses frames over the limits, before their buffers are allocated.
fn check_limits(frame: &Frame, limits: Limits) -> Result<(), JpegError> {
    let (w, h) = (frame.width as u64, frame.height as u64);
    if w > u64::from(limits.max_side)
        || h > u64::from(limits.max_side)
        || w * h * 3 > limits.max_bytes
    {
        return Err(JpegError::TooLarge {
            width: frame.width as u32,
            height: frame.height as u32,
            max_side: limits.max_side,
            max_bytes: limits.max_bytes,
        });
    }
    Ok(())
}

/// Decodes one scan into the coefficients; returns where its data ended.
fn run_scan(
    img: &mut Image,
    scan: &ScanHeader,
    huff: &HuffTables,
    data: &[u8],
    pos: usize,
    restart_interval: usize,
) -> Result<usize, JpegError> {
    let missing = |id: u8| JpegError::from(Unsupported::MissingHuffmanTable(id));
    let (frame, coefs) = (&img.frame, &mut img.coefs);
    if !frame.progressive {
        let mut dec = Sequential {
            dc: tables(&scan.dc, &huff[0]).map_err(missing)?,
            ac: tables(&scan.ac, &huff[1]).map_err(missing)?,
            pred: [0; 4],
        };
        for &ci in &scan.comps {
            img.coef_bits[ci] = [0; 64];
        }
        return Ok(decode_scan(
            frame,
            scan,
            coefs,
            data,
            pos,
            restart_interval,
            &mut dec,
        )?);
    }
    for &ci in &scan.comps {
        for k in usize::from(scan.ss)..=usize::from(scan.se) {
            img.coef_bits[ci][markers::NATURAL[k]] = scan.al as i8;
        }
    }
    let (ss, se, al) = (usize::from(scan.ss), usize::from(scan.se), scan.al);
    let end = match (ss == 0, scan.ah == 0) {
        (true, true) => {
            let mut dec = DcFirst {
                dc: tables(&scan.dc, &huff[0]).map_err(missing)?,
                pred: [0; 4],
                al,
            };
            decode_scan(frame, scan, coefs, data, pos, restart_interval, &mut dec)?
        }
        (true, false) => {
            let mut dec = DcRefine { al };
            decode_scan(frame, scan, coefs, data, pos, restart_interval, &mut dec)?
        }
        (false, first) => {
            let ac = *tables(&scan.ac, &huff[1])
                .map_err(missing)?
                .first()
                .ok_or(Corrupt::BadScanComponent)?;
            if first {
                let mut dec = AcFirst {
                    ac,
                    ss,
                    se,
                    al,
                    eobrun: 0,
                };
                decode_scan(frame, scan, coefs, data, pos, restart_interval, &mut dec)?
            } else {
                let mut dec = AcRefine {
                    ac,
                    ss,
                    se,
                    al,
                    eobrun: 0,
                };
                decode_scan(frame, scan, coefs, data, pos, restart_interval, &mut dec)?
            }
        }
    };
    Ok(end)
}
