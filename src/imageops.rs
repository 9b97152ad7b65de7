//! Plain image code for the user path: decoding with limits, atomic PNG writes, the square
//! context box around a hole, crop + resize to the model resolution, compositing, pasting the
//! result back into the full photo without touching a single known pixel, contact sheets with a
//! built-in bitmap font, and file hashes for recipes.
//!
//! No tensors here: model-resolution arrays are `Vec<f32>` in CHW order with values in
//! `[-1, 1]` (`x / 127.5 - 1` for a byte `x`). Hole masks are `&[u8]` (non-zero = hole,
//! normally `1`) or `&[f32]` (`1.0` = hole), row-major, with explicit width and height.
//!
//! # The user path
//!
//! 1. [`load_image`] the photo, find the hole's bounding box ([`hole_bbox`]).
//! 2. [`context_box`] picks a square box around the hole; [`crop_resize_rgb`] and
//!    [`crop_resize_mask`] bring it to the model resolution `R`.
//! 3. The model (elsewhere) produces `3×R×R` results; [`composite_chw`] keeps the known pixels.
//! 4. [`paste_back`] resizes a result to the box size and writes it into the hole of the full
//!    photo, with an optional seam correction; every known pixel stays byte-identical.
//! 5. [`save_png_atomic`] writes it; [`contact_sheet`] lays several results out side by side.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use image::imageops::FilterType;
use image::{
    DynamicImage, ExtendedColorType, GenericImageView, ImageDecoder, ImageEncoder, ImageError,
    ImageReader, Limits, Rgb, RgbImage, RgbaImage,
};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::jpeg::{self, JpegError};

/// The largest width or height [`load_image`] accepts, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16384;

/// The most memory [`load_image`] lets a decoder allocate, in bytes (512 MiB).
///
/// The decoded image counts towards it at its stored colour type, so an RGBA8 photo may have
/// at most 128 Mi pixels (e.g. 11585×11585) even though [`MAX_IMAGE_SIDE`] is larger.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Width of the band (in photo pixels) on each side of the hole boundary that
/// [`paste_back`]'s seam correction measures colours on.
pub const SEAM_BAND_PX: u32 = 3;

// ---------------------------------------------------------------------------------------------
// Loading, saving, hashing
// ---------------------------------------------------------------------------------------------

/// Loads a PNG, JPEG or WebP photo as 8-bit RGB.
///
/// * The format is detected from the file's content, not its extension.
/// * Any colour type is converted to RGB8: grey is expanded, 16-bit is scaled down, and an
///   **alpha channel is dropped** (not composited over any background: the colour stored under
///   transparent pixels is kept as it is).
/// * An EXIF orientation tag (JPEG, WebP), when present, is applied, so the pixels come out the
///   way viewers show the photo; images without EXIF data are returned as stored.
/// * Decoding is limited to [`MAX_IMAGE_SIDE`] pixels per side and [`MAX_DECODE_BYTES`] of
///   decoder memory.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be opened or read (e.g. it does not exist);
/// [`Error::Image`] when the format is not recognised or not supported, the data is corrupt,
/// or the image exceeds the limits. Every message names the path last.
pub fn load_image(path: &Path) -> Result<RgbImage> {
    load_image_with_notes(path).map(|(img, _)| img)
}

/// [`load_image`], plus notes on what the conversion to 8-bit RGB lost, for the caller to show:
/// an alpha channel that is actually used (some pixel not opaque) and a depth of more than 8
/// bits per channel. Each note ends with the path. Nothing is printed.
///
/// A JPEG that ends before its end-of-image marker (a truncated download or copy) is refused
/// rather than decoded with grey filling; data after the marker (e.g. the video of a motion
/// photo) is allowed.
///
/// JPEGs are decoded with [`crate::jpeg`], byte-identical to libjpeg-turbo (what PIL, GIMP and
/// browsers show). The few it leaves to the `image` crate (CMYK/YCCK, arithmetic coding,
/// 12-bit, lossless, damaged data) get a note that starts "decoded with the fallback decoder".
///
/// # Errors
/// As [`load_image`]; truncated files give [`Error::Image`] with "truncated" in the message.
pub fn load_image_with_notes(path: &Path) -> Result<(RgbImage, Vec<String>)> {
    let file = File::open(path).map_err(|e| Error::io("cannot open image", path, e))?;
    let reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| Error::io("cannot read image", path, e))?;
    if reader.format().is_none() {
        return Err(Error::image(
            "unrecognised image format (expected PNG, JPEG or WebP)",
            path,
        ));
    }
    if reader.format() == Some(image::ImageFormat::Jpeg) {
        return load_jpeg(path);
    }
    decode_with_image_crate(reader, path)
}

/// Decodes with the `image` crate (PNG, WebP, and the JPEGs that [`crate::jpeg`] leaves to
/// it), applying the EXIF orientation.
fn decode_with_image_crate(
    mut reader: ImageReader<impl std::io::BufRead + std::io::Seek>,
    path: &Path,
) -> Result<(RgbImage, Vec<String>)> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits.clone());

    let mut decoder = reader.into_decoder().map_err(|e| decode_error(e, path))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // `ImageReader::decode` does this too: the output buffer counts towards the allocation limit.
    limits
        .reserve(decoder.total_bytes())
        .map_err(|e| decode_error(e, path))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, path))?;
    img.apply_orientation(orientation);
    let notes = conversion_notes(&img, path);
    Ok((img.into_rgb8(), notes))
}

/// Loads a JPEG with our own decoder ([`crate::jpeg`], byte-identical to libjpeg-turbo), or,
/// for what it does not handle (CMYK, arithmetic coding, 12-bit, …) or refuses as damaged,
/// with the `image` crate, saying so in a note.
fn load_jpeg(path: &Path) -> Result<(RgbImage, Vec<String>)> {
    let data = std::fs::read(path).map_err(|e| Error::io("cannot read image", path, e))?;
    let complete =
        jpeg_reaches_eoi(&data[..]).map_err(|e| Error::io("cannot read image", path, e))?;
    if !complete {
        return Err(Error::image(
            "JPEG file is truncated (its data ends before the end-of-image marker; the \
             missing part would come out grey)",
            path,
        ));
    }
    let limits = jpeg::Limits {
        max_side: MAX_IMAGE_SIDE,
        max_bytes: MAX_DECODE_BYTES,
    };
    match jpeg::decode(&data, limits) {
        Ok(decoded) => {
            let orientation = decoded
                .exif
                .as_deref()
                .and_then(image::metadata::Orientation::from_exif_chunk)
                .unwrap_or(image::metadata::Orientation::NoTransforms);
            let mut img = DynamicImage::ImageRgb8(decoded.image);
            img.apply_orientation(orientation);
            Ok((img.into_rgb8(), Vec::new()))
        }
        Err(JpegError::TooLarge { width, height, .. }) => Err(Error::image(
            format!(
                "image too large ({width}×{height} pixels; at most {MAX_IMAGE_SIDE}×\
                 {MAX_IMAGE_SIDE} pixels and {} MiB of decoded data)",
                MAX_DECODE_BYTES / (1024 * 1024)
            ),
            path,
        )),
        Err(reason) => {
            let reader =
                ImageReader::with_format(std::io::Cursor::new(&data[..]), image::ImageFormat::Jpeg);
            let (img, mut notes) = decode_with_image_crate(reader, path)?;
            notes.insert(
                0,
                format!(
                    "decoded with the fallback decoder ({reason}); colours may differ from \
                     other tools by a level: {}",
                    path.display()
                ),
            );
            Ok((img, notes))
        }
    }
}

/// What converting `img` to 8-bit RGB loses, in words (see [`load_image_with_notes`]).
fn conversion_notes(img: &DynamicImage, path: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    let color = img.color();
    let bits = 8 * u16::from(color.bytes_per_pixel()) / u16::from(color.channel_count().max(1));
    if bits > 8 {
        notes.push(format!(
            "the photo has {bits} bits per channel; it is reduced to 8 bits: {}",
            path.display()
        ));
    }
    let translucent = match img {
        DynamicImage::ImageLumaA8(i) => i.pixels().any(|p| p[1] != u8::MAX),
        DynamicImage::ImageRgba8(i) => i.pixels().any(|p| p[3] != u8::MAX),
        DynamicImage::ImageLumaA16(i) => i.pixels().any(|p| p[1] != u16::MAX),
        DynamicImage::ImageRgba16(i) => i.pixels().any(|p| p[3] != u16::MAX),
        DynamicImage::ImageRgba32F(i) => i.pixels().any(|p| p[3] < 1.0),
        _ => false,
    };
    if translucent {
        notes.push(format!(
            "the photo has transparent pixels; its alpha channel is dropped and the colours \
             stored under them are used as they are: {}",
            path.display()
        ));
    }
    notes
}

/// Reads bytes one at a time from a buffered reader.
struct ByteStream<R> {
    inner: R,
}

impl<R: std::io::BufRead> ByteStream<R> {
    /// The next byte, `None` at the end of the data.
    fn next(&mut self) -> std::io::Result<Option<u8>> {
        let byte = self.inner.fill_buf()?.first().copied();
        if byte.is_some() {
            self.inner.consume(1);
        }
        Ok(byte)
    }

    /// Skips `n` bytes; false when the data ends first.
    fn skip(&mut self, n: u64) -> std::io::Result<bool> {
        let skipped = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())?;
        Ok(skipped == n)
    }

    /// The marker code after a `0xFF` (fill bytes skipped), `None` at the end of the data.
    fn marker_code(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            match self.next()? {
                Some(0xFF) => {}
                other => return Ok(other),
            }
        }
    }
}

/// Whether a JPEG stream reaches its end-of-image marker (`FF D9`).
///
/// Walks the marker segments by their lengths (so an EXIF thumbnail's own end marker is not
/// mistaken for the image's) and the entropy-coded data after each start-of-scan (where `FF 00`
/// is a stuffed byte and `FF D0..D7` a restart marker). Data that does not start with the JPEG
/// start marker, or a malformed segment length, counts as complete: the decoder reports those.
fn jpeg_reaches_eoi(file: impl Read) -> std::io::Result<bool> {
    let mut s = ByteStream {
        inner: BufReader::new(file),
    };
    if s.next()? != Some(0xFF) || s.next()? != Some(0xD8) {
        return Ok(true);
    }
    let mut pending: Option<u8> = None;
    loop {
        let code = match pending.take() {
            Some(code) => code,
            None => match s.next()? {
                None => return Ok(false),
                Some(0xFF) => match s.marker_code()? {
                    None => return Ok(false),
                    Some(code) => code,
                },
                // Stray bytes between segments: keep looking for a marker.
                Some(_) => continue,
            },
        };
        match code {
            0xD9 => return Ok(true),
            // Markers without a length.
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {
                let (Some(hi), Some(lo)) = (s.next()?, s.next()?) else {
                    return Ok(false);
                };
                let len = u16::from_be_bytes([hi, lo]);
                if len < 2 {
                    return Ok(true);
                }
                if !s.skip(u64::from(len) - 2)? {
                    return Ok(false);
                }
                if code == 0xDA {
                    // Entropy-coded data runs to the next real marker.
                    loop {
                        match s.next()? {
                            None => return Ok(false),
                            Some(0xFF) => match s.marker_code()? {
                                None => return Ok(false),
                                Some(0x00 | 0xD0..=0xD7) => {}
                                Some(code) => {
                                    pending = Some(code);
                                    break;
                                }
                            },
                            Some(_) => {}
                        }
                    }
                }
            }
        }
    }
}

/// Turns a decoding error into our error, naming the path.
fn decode_error(e: ImageError, path: &Path) -> Error {
    match e {
        ImageError::IoError(source) => Error::io("cannot read image", path, source),
        ImageError::Limits(l) => Error::image(
            format!(
                "image too large ({l}; at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} pixels and {} MiB \
                 of decoded data)",
                MAX_DECODE_BYTES / (1024 * 1024)
            ),
            path,
        ),
        ImageError::Unsupported(u) => Error::image(format!("unsupported image: {u}"), path),
        ImageError::Decoding(d) => {
            Error::image(format!("cannot decode image (corrupt file?): {d}"), path)
        }
        other => Error::image(format!("cannot decode image: {other}"), path),
    }
}

/// Writes an RGB image as PNG, atomically.
///
/// The PNG is written to a temporary file in the same directory, flushed to disk, then renamed
/// over `path`, so `path` either keeps its old content or has the complete new file, never a
/// partial one. An existing file at `path` is replaced: callers must not pass the user's input
/// image.
///
/// # Errors
///
/// [`Error::Io`] when the temporary file cannot be created, written or renamed;
/// [`Error::Image`] when the image cannot be encoded (e.g. it is empty).
pub fn save_png_atomic(img: &RgbImage, path: &Path) -> Result<()> {
    write_png_atomic(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgb8,
        path,
    )
}

/// Writes an RGBA image as PNG, atomically; see [`save_png_atomic`].
///
/// # Errors
///
/// As [`save_png_atomic`].
pub fn save_rgba_png_atomic(img: &RgbaImage, path: &Path) -> Result<()> {
    write_png_atomic(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgba8,
        path,
    )
}

/// Encodes `buf` as PNG in memory, then writes it with [`crate::fsutil::write_atomic`].
fn write_png_atomic(
    buf: &[u8],
    width: u32,
    height: u32,
    colour: ExtendedColorType,
    path: &Path,
) -> Result<()> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(buf, width, height, colour)
        .map_err(|e| Error::image(format!("cannot encode PNG: {e}"), path))?;
    crate::fsutil::write_atomic(path, &bytes)
}

/// The SHA-256 of a file's content as 64 lower-case hex digits (for recipes).
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be opened or read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io("cannot open file to hash", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read file to hash", path, e)),
        };
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

/// Byte → model value: `x / 127.5 - 1`, so 0 → -1 and 255 → 1.
#[inline]
fn byte_to_unit(x: u8) -> f32 {
    f32::from(x) / 127.5 - 1.0
}

/// Model value → byte: `round((v + 1) · 127.5)`, clamped to 0..=255 (NaN → 0).
#[inline]
fn unit_to_byte(v: f32) -> u8 {
    level_to_byte((v + 1.0) * 127.5)
}

/// A float on the 0..=255 scale → byte, rounded and clamped (NaN → 0).
#[inline]
fn level_to_byte(v: f32) -> u8 {
    // `as` saturates and maps NaN to 0.
    v.round().clamp(0.0, 255.0) as u8
}

/// An RGB image → CHW `f32` in `[-1, 1]` (`x / 127.5 - 1`), length `3·w·h`.
pub fn rgb_to_chw(img: &RgbImage) -> Vec<f32> {
    let (w, h) = img.dimensions();
    let plane = w as usize * h as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = byte_to_unit(p[c]);
        }
    }
    out
}

/// CHW `f32` in `[-1, 1]` (length `3·w·h`) → an RGB image: `round((v + 1) · 127.5)`, clamped
/// to 0..=255 (NaN → 0). Inverse of [`rgb_to_chw`] on bytes.
///
/// # Errors
///
/// [`Error::Shape`] when `chw.len() != 3·w·h`.
pub fn chw_to_rgb(chw: &[f32], w: u32, h: u32) -> Result<RgbImage> {
    let plane = w as usize * h as usize;
    if chw.len() != 3 * plane {
        return Err(Error::Shape(format!(
            "chw_to_rgb: expected 3×{h}×{w} = {} values, got {}",
            3 * plane,
            chw.len()
        )));
    }
    let mut img = RgbImage::new(w, h);
    for (i, p) in img.pixels_mut().enumerate() {
        *p = Rgb([
            unit_to_byte(chw[i]),
            unit_to_byte(chw[plane + i]),
            unit_to_byte(chw[2 * plane + i]),
        ]);
    }
    Ok(img)
}

/// The bounding box `(x0, y0, x1, y1)` (exclusive ends) of the non-zero pixels of a row-major
/// `w×h` mask, or `None` when there are none (or the slice is shorter than `w·h`, in which
/// case only whole rows present are looked at).
pub fn hole_bbox(hole: &[u8], w: u32, h: u32) -> Option<(u32, u32, u32, u32)> {
    if w == 0 {
        return None;
    }
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    for (y, row) in hole.chunks_exact(w as usize).take(h as usize).enumerate() {
        let Some(first) = row.iter().position(|&v| v != 0) else {
            continue;
        };
        let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
        let y = y as u32;
        let (first, last) = (first as u32, last as u32);
        bbox = Some(match bbox {
            None => (first, y, last + 1, y + 1),
            Some((x0, y0, x1, _)) => (x0.min(first), y0, x1.max(last + 1), y + 1),
        });
    }
    bbox
}

// ---------------------------------------------------------------------------------------------
// Context box
// ---------------------------------------------------------------------------------------------

/// A square region of the photo around the hole that is fed to the model.
///
/// It covers photo pixels `x0..x0+size` × `y0..y0+size` and may extend outside the photo (only
/// when the photo is too narrow for the square, see [`context_box`]). Pixels outside the photo
/// are filled by **edge replication** (the nearest photo pixel), for the image and the mask
/// alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContextBox {
    /// Left edge in photo pixels (may be negative).
    pub x0: i64,
    /// Top edge in photo pixels (may be negative).
    pub y0: i64,
    /// Side length in photo pixels (at least 1).
    pub size: u32,
}

impl ContextBox {
    /// Whether the box lies entirely inside a `img_w×img_h` photo.
    pub fn is_inside(&self, img_w: u32, img_h: u32) -> bool {
        self.x0 >= 0
            && self.y0 >= 0
            && self.x0 + i64::from(self.size) <= i64::from(img_w)
            && self.y0 + i64::from(self.size) <= i64::from(img_h)
    }
}

/// Chooses the square context box for a hole.
///
/// `hole_bbox` is `(x0, y0, x1, y1)` with exclusive ends (see [`hole_bbox`]); it is clamped to
/// the photo, and an empty box is treated as the single pixel at its (clamped) top-left corner.
/// `margin` is the context on each side as a fraction of the hole's longer side (the default
/// 0.5 makes the hole take at most half the box side); negative or non-finite values count
/// as 0.
///
/// # The rule
///
/// With `hole` = the longer side of the hole box and `short` = the photo's shorter side:
///
/// 1. `want = max(ceil(hole · (1 + 2·margin)), model_res)`: enough context, and never smaller
///    than the model so a small hole in a big photo is processed at 1:1 (no resampling).
/// 2. `size = min(want, short)`: prefer real pixels to invented ones, so the box fits inside
///    the photo when it can. Consequently the crop is **upscaled only when the photo's shorter
///    side is smaller than `model_res`**; otherwise it is 1:1 or downscaled.
/// 3. `size = max(size, hole, 1)`: the box always contains the whole hole, even when the hole
///    is longer than the photo's shorter side.
///
/// Placement, per axis: when `size` fits in the photo, the box is centred on the hole and then
/// shifted to lie inside the photo (it still contains the hole). When it does not fit (only
/// possible for the shorter axis, case 3), it is centred on the photo, so it covers the whole
/// axis and sticks out equally on both sides; that part is filled by edge replication.
pub fn context_box(
    hole_bbox: (u32, u32, u32, u32),
    img_w: u32,
    img_h: u32,
    model_res: u32,
    margin: f32,
) -> ContextBox {
    let (bx0, bx1) = clamp_span(hole_bbox.0, hole_bbox.2, img_w);
    let (by0, by1) = clamp_span(hole_bbox.1, hole_bbox.3, img_h);
    let hole_side = u64::from((bx1 - bx0).max(by1 - by0).max(1));
    let margin = if margin.is_finite() && margin > 0.0 {
        f64::from(margin)
    } else {
        0.0
    };
    let with_context = (hole_side as f64 * (1.0 + 2.0 * margin)).ceil();
    let with_context = if with_context >= u32::MAX as f64 {
        u64::from(u32::MAX)
    } else {
        with_context as u64
    };
    let want = with_context.max(u64::from(model_res));
    let short = u64::from(img_w.min(img_h));
    let size = want.min(short).max(hole_side).max(1);
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    ContextBox {
        x0: place_axis(bx0, bx1, img_w, size),
        y0: place_axis(by0, by1, img_h, size),
        size,
    }
}

/// Clamps the span `lo..hi` to `0..dim`; an empty span becomes one pixel (when `dim > 0`).
fn clamp_span(lo: u32, hi: u32, dim: u32) -> (u32, u32) {
    if dim == 0 {
        return (0, 0);
    }
    let lo = lo.min(dim - 1);
    let hi = hi.clamp(lo, dim);
    if hi == lo { (lo, lo + 1) } else { (lo, hi) }
}

/// The start of a box of side `size` along an axis of length `dim` holding the span `lo..hi`.
fn place_axis(lo: u32, hi: u32, dim: u32, size: u32) -> i64 {
    let (lo, hi, dim, size) = (
        i64::from(lo),
        i64::from(hi),
        i64::from(dim),
        i64::from(size),
    );
    if size >= dim {
        -(size - dim) / 2
    } else {
        // Centred on the span (floor), then shifted inside the photo. Both keep the span
        // inside the box because size ≥ hi − lo.
        (lo + hi - size).div_euclid(2).clamp(0, dim - size)
    }
}

// ---------------------------------------------------------------------------------------------
// Crop and resize to the model resolution
// ---------------------------------------------------------------------------------------------

/// A view of a context box over a photo, edge-replicated outside it, as `Rgb<f32>` in `[0, 1]`.
struct BoxView<'a> {
    img: &'a RgbImage,
    bx: ContextBox,
}

impl GenericImageView for BoxView<'_> {
    type Pixel = Rgb<f32>;

    fn dimensions(&self) -> (u32, u32) {
        (self.bx.size, self.bx.size)
    }

    fn get_pixel(&self, x: u32, y: u32) -> Rgb<f32> {
        let sx = clamp_coord(self.bx.x0 + i64::from(x), self.img.width());
        let sy = clamp_coord(self.bx.y0 + i64::from(y), self.img.height());
        let p = self.img.get_pixel(sx, sy);
        Rgb([
            f32::from(p[0]) / 255.0,
            f32::from(p[1]) / 255.0,
            f32::from(p[2]) / 255.0,
        ])
    }
}

/// Clamps a coordinate into `0..dim` (`dim > 0`): edge replication.
#[inline]
fn clamp_coord(v: i64, dim: u32) -> u32 {
    v.clamp(0, i64::from(dim) - 1) as u32
}

/// Crops the context box out of the photo and resizes it to `res×res`, as CHW `f32` in
/// `[-1, 1]` (`x / 127.5 - 1`), length `3·res·res`.
///
/// Pixels of the box outside the photo are the nearest photo pixel (edge replication). When
/// the box side equals `res` the pixels are copied exactly. Otherwise the crop is resampled in
/// floating point with [`FilterType::Triangle`]: `image` widens the kernel by the scale
/// factor when shrinking, so downscaling is a tent-weighted area average (no aliasing), and
/// upscaling is plain bilinear. Unlike Lanczos3 it never overshoots, so there are no ringing
/// halos along strong edges, which would otherwise show up right where the model has to
/// continue the known content into the hole.
///
/// An empty photo gives zeros (mid-grey); `res = 0` gives an empty vector.
pub fn crop_resize_rgb(img: &RgbImage, bx: &ContextBox, res: u32) -> Vec<f32> {
    let plane = res as usize * res as usize;
    if img.width() == 0 || img.height() == 0 || res == 0 || bx.size == 0 {
        return vec![0.0; 3 * plane];
    }
    let view = BoxView { img, bx: *bx };
    let mut out = vec![0.0f32; 3 * plane];
    if bx.size == res {
        for y in 0..res {
            for x in 0..res {
                let sx = clamp_coord(bx.x0 + i64::from(x), img.width());
                let sy = clamp_coord(bx.y0 + i64::from(y), img.height());
                let p = img.get_pixel(sx, sy);
                let i = (y * res + x) as usize;
                for c in 0..3 {
                    out[c * plane + i] = byte_to_unit(p[c]);
                }
            }
        }
        return out;
    }
    let resized = image::imageops::resize(&view, res, res, FilterType::Triangle);
    for (i, p) in resized.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = p[c].clamp(0.0, 1.0) * 2.0 - 1.0;
        }
    }
    out
}

/// For each of `res` output pixels along an axis of `size` box pixels, the box pixels it takes
/// its mask value from: the covered range when shrinking (max pooling), the nearest pixel when
/// enlarging.
fn mask_ranges(size: u32, res: u32) -> Vec<(u32, u32)> {
    let (s, r) = (u64::from(size), u64::from(res));
    (0..r)
        .map(|j| {
            if s >= r {
                let a = j * s / r;
                let b = ((j + 1) * s).div_ceil(r);
                (a as u32, (b.max(a + 1)).min(s) as u32)
            } else {
                let n = ((2 * j + 1) * s) / (2 * r);
                (n as u32, n as u32 + 1)
            }
        })
        .collect()
}

/// Crops the context box out of a hole mask (`w×h`, row-major, non-zero = hole) and resizes it
/// to `res×res`, as `f32` with 1 = hole, 0 = known (length `res·res`).
///
/// * Shrinking uses **max pooling**: a model pixel is hole if *any* photo pixel it covers is
///   hole, so no hole pixel is lost (the hole may grow by up to one model pixel, which the
///   model then fills; known photo pixels stay untouched anyway, see [`paste_back`]).
/// * Enlarging uses nearest neighbour, which also keeps every hole pixel.
/// * Outside the photo the mask is **edge-replicated** like the image in
///   [`crop_resize_rgb`], rather than counted as known: when the hole touches the photo's edge,
///   the replicated pixels beyond it are copies of hole pixels (the content being removed), and
///   labelling them known would feed that content to the model as context. Where the nearest
///   photo pixel is known, the outside pixel is known.
///
/// # Errors
///
/// [`Error::Shape`] when `hole.len() != w·h`, the mask is empty or the box has side 0.
pub fn crop_resize_mask(
    hole: &[u8],
    w: u32,
    h: u32,
    bx: &ContextBox,
    res: u32,
) -> Result<Vec<f32>> {
    check_mask_len(hole.len(), w, h, "crop_resize_mask")?;
    if bx.size == 0 {
        return Err(Error::Shape("crop_resize_mask: empty context box".into()));
    }
    let r = res as usize;
    if r == 0 {
        return Ok(Vec::new());
    }
    let ranges = mask_ranges(bx.size, res);
    let wu = w as usize;
    let x_inside = bx.x0 >= 0 && bx.x0 + i64::from(bx.size) <= i64::from(w);
    // Rows of the box that any output row needs, pooled along x first (separable max).
    let mut pooled_rows: Vec<Option<Vec<u8>>> = vec![None; bx.size as usize];
    let pool_row = |by: u32| -> Vec<u8> {
        let sy = clamp_coord(bx.y0 + i64::from(by), h) as usize;
        let row = &hole[sy * wu..(sy + 1) * wu];
        if x_inside {
            // The box's columns are photo columns: pool contiguous slices.
            let base = bx.x0 as usize;
            if !row[base..base + bx.size as usize].iter().any(|&v| v != 0) {
                return vec![0; r];
            }
            return ranges
                .iter()
                .map(|&(a, b)| {
                    u8::from(
                        row[base + a as usize..base + b as usize]
                            .iter()
                            .any(|&v| v != 0),
                    )
                })
                .collect();
        }
        ranges
            .iter()
            .map(|&(a, b)| {
                let any =
                    (a..b).any(|bxp| row[clamp_coord(bx.x0 + i64::from(bxp), w) as usize] != 0);
                u8::from(any)
            })
            .collect()
    };
    let mut out = vec![0.0f32; r * r];
    for (j, &(a, b)) in ranges.iter().enumerate() {
        let out_row = &mut out[j * r..(j + 1) * r];
        for by in a..b {
            let pooled = pooled_rows[by as usize].get_or_insert_with(|| pool_row(by));
            for (o, &p) in out_row.iter_mut().zip(pooled.iter()) {
                if p != 0 {
                    *o = 1.0;
                }
            }
        }
    }
    Ok(out)
}

/// Checks a `w×h` mask slice's length.
fn check_mask_len(len: usize, w: u32, h: u32, who: &str) -> Result<()> {
    let want = w as usize * h as usize;
    if len != want || want == 0 {
        return Err(Error::Shape(format!(
            "{who}: mask has {len} values, expected {w}×{h} = {want} (non-empty)"
        )));
    }
    Ok(())
}

/// Keeps the known pixels: `out · hole + known · (1 − hole)`, all CHW with `c·h·w` values.
///
/// `hole` (1 = hole) is either one `h×w` plane shared by all channels or a full `c×h×w` array.
///
/// # Errors
///
/// [`Error::Shape`] when the lengths do not match `c·h·w` (or `h·w` for `hole`).
pub fn composite_chw(
    out: &[f32],
    known_img: &[f32],
    hole: &[f32],
    c: usize,
    h: usize,
    w: usize,
) -> Result<Vec<f32>> {
    let plane = h * w;
    let n = c * plane;
    if out.len() != n || known_img.len() != n || (hole.len() != plane && hole.len() != n) {
        return Err(Error::Shape(format!(
            "composite_chw: expected {c}×{h}×{w} images and a {h}×{w} or {c}×{h}×{w} hole, got \
             lengths {}, {} and {}",
            out.len(),
            known_img.len(),
            hole.len()
        )));
    }
    let per_channel = hole.len() == n;
    Ok(out
        .iter()
        .zip(known_img)
        .enumerate()
        .map(|(i, (&o, &k))| {
            let m = if per_channel {
                hole[i]
            } else {
                hole[i % plane]
            };
            o * m + k * (1.0 - m)
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Paste back
// ---------------------------------------------------------------------------------------------

/// For each of `size` box pixels along an axis, the `(index, weight)` taps into an axis of
/// `res` fill pixels: bilinear (half-pixel centres, clamped) when the box is at least as large
/// as the fill, exact area average when it is smaller. Weights sum to 1.
fn fill_taps(size: u32, res: u32) -> Vec<Vec<(usize, f32)>> {
    let (s, r) = (f64::from(size), f64::from(res));
    (0..size)
        .map(|u| {
            let u = f64::from(u);
            if size >= res {
                let src = ((u + 0.5) * r / s - 0.5).clamp(0.0, r - 1.0);
                let i0 = src.floor();
                let frac = (src - i0) as f32;
                let i0 = i0 as usize;
                let i1 = (i0 + 1).min(res as usize - 1);
                if frac == 0.0 || i1 == i0 {
                    vec![(i0, 1.0)]
                } else {
                    vec![(i0, 1.0 - frac), (i1, frac)]
                }
            } else {
                let a = u * r / s;
                let b = (u + 1.0) * r / s;
                let mut taps = Vec::new();
                let mut i = a.floor();
                while i < b {
                    let overlap = b.min(i + 1.0) - a.max(i);
                    if overlap > 0.0 {
                        taps.push((i as usize, (overlap / (b - a)) as f32));
                    }
                    i += 1.0;
                }
                taps
            }
        })
        .collect()
}

/// Chamfer distance (1, √2) from every pixel of a `w×h` grid to the nearest source pixel;
/// infinity when there is none.
fn chamfer_distance(w: usize, h: usize, is_source: impl Fn(usize) -> bool) -> Vec<f32> {
    const D: f32 = std::f32::consts::SQRT_2;
    let mut d: Vec<f32> = (0..w * h)
        .map(|i| if is_source(i) { 0.0 } else { f32::INFINITY })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let mut v = d[i];
            if x > 0 {
                v = v.min(d[i - 1] + 1.0);
            }
            if y > 0 {
                v = v.min(d[i - w] + 1.0);
                if x > 0 {
                    v = v.min(d[i - w - 1] + D);
                }
                if x + 1 < w {
                    v = v.min(d[i - w + 1] + D);
                }
            }
            d[i] = v;
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = y * w + x;
            let mut v = d[i];
            if x + 1 < w {
                v = v.min(d[i + 1] + 1.0);
            }
            if y + 1 < h {
                v = v.min(d[i + w] + 1.0);
                if x + 1 < w {
                    v = v.min(d[i + w + 1] + D);
                }
                if x > 0 {
                    v = v.min(d[i + w - 1] + D);
                }
            }
            d[i] = v;
        }
    }
    d
}

/// Sums of `src` (a `w×h` grid) over `(2r+1)²` windows, clipped at the borders.
fn box_sum(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut prefix = vec![0.0f64; w + 1];
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            prefix[x + 1] = prefix[x] + f64::from(row[x]);
        }
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r + 1).min(w));
            tmp[y * w + x] = (prefix[b] - prefix[a]) as f32;
        }
    }
    // Vertical pass row by row (cache friendly): a running sum of rows y-r..=y+r.
    let mut out = vec![0.0f32; w * h];
    let mut col = vec![0.0f64; w];
    let add_row = |col: &mut [f64], row: &[f32], sign: f64| {
        for (c, &v) in col.iter_mut().zip(row) {
            *c += sign * f64::from(v);
        }
    };
    for y in 0..r.min(h) {
        add_row(&mut col, &tmp[y * w..(y + 1) * w], 1.0);
    }
    for y in 0..h {
        if y + r < h {
            add_row(&mut col, &tmp[(y + r) * w..(y + r + 1) * w], 1.0);
        }
        if y > r {
            let old = y - r - 1;
            add_row(&mut col, &tmp[old * w..(old + 1) * w], -1.0);
        }
        for (o, &c) in out[y * w..(y + 1) * w].iter_mut().zip(&col) {
            *o = c as f32;
        }
    }
    out
}

/// Writes a model result into the hole of the full photo.
///
/// `hole` is the photo-sized mask (`w×h`, non-zero = hole); `fill_chw` is `3×res×res` in
/// `[-1, 1]` for the context box `bx` (normally composited with [`composite_chw`]).
///
/// 1. The fill is resized to the box size in floating point: bilinear when enlarging, exact
///    area average when shrinking. Hole pixels outside the box (only if `bx` does not contain
///    the hole) take the nearest box pixel.
/// 2. Blending uses alpha = 1 on every hole pixel and 0 on every known pixel, so **every known
///    pixel of the output is byte-identical to `photo`** and every hole pixel is replaced.
/// 3. Seam correction (when `feather_px > 0`), a cheap stand-in for Poisson blending: the
///    low-frequency colour difference across the hole boundary is measured and removed inside
///    the hole, fading out with depth. With `band` = [`SEAM_BAND_PX`] and `r = ceil(feather_px)`:
///    * inner band = hole pixels within `band` of a known pixel, outer band = known pixels
///      within `band` of a hole pixel (chamfer distances);
///    * at each hole pixel, `e` = mean of the fill over the inner band − mean of the photo over
///      the outer band, both over the `(2r+1)²` window around it (normalised box filters);
///    * the output is `fill − a(d) · e`, where `d` is the pixel's distance to the nearest known
///      pixel (1 next to the boundary) and `a` falls smoothly (smoothstep) from 1 at `d = 1` to
///      0 at `d = 1 + feather_px`.
///
///    So a fill whose colour is slightly off meets the photo without a visible edge, the hole's
///    interior beyond `feather_px` is the fill unchanged, and known pixels are never touched.
///    `feather_px = 0` (or negative, or NaN) is plain replacement. A few pixels (e.g. 4–16, at
///    photo scale) is a sensible value.
///
/// The output has the photo's size.
///
/// # Errors
///
/// [`Error::Shape`] when `hole` is not `w×h`, `fill_chw` is not `3×res×res`, `res` is 0 or the
/// box is empty.
pub fn paste_back(
    photo: &RgbImage,
    hole: &[u8],
    fill_chw: &[f32],
    res: u32,
    bx: &ContextBox,
    feather_px: f32,
) -> Result<RgbImage> {
    let (w, h) = photo.dimensions();
    check_mask_len(hole.len(), w, h, "paste_back")?;
    let plane = res as usize * res as usize;
    if res == 0 || bx.size == 0 || fill_chw.len() != 3 * plane {
        return Err(Error::Shape(format!(
            "paste_back: expected a 3×{res}×{res} fill (res > 0) and a non-empty box, got {} \
             values and box side {}",
            fill_chw.len(),
            bx.size
        )));
    }
    let mut out = photo.clone();
    let Some((hx0, hy0, hx1, hy1)) = hole_bbox(hole, w, h) else {
        return Ok(out);
    };

    let taps = fill_taps(bx.size, res);
    let last = i64::from(bx.size) - 1;
    // The resized fill at photo pixel (px, py), on the 0..=255 scale.
    let sample = |px: u32, py: u32| -> [f32; 3] {
        let u = (i64::from(px) - bx.x0).clamp(0, last) as usize;
        let v = (i64::from(py) - bx.y0).clamp(0, last) as usize;
        let mut acc = [0.0f32; 3];
        for &(iy, wy) in &taps[v] {
            for &(ix, wx) in &taps[u] {
                let wgt = wy * wx;
                let i = iy * res as usize + ix;
                for (c, a) in acc.iter_mut().enumerate() {
                    *a += wgt * fill_chw[c * plane + i];
                }
            }
        }
        acc.map(|v| (v + 1.0) * 127.5)
    };

    let feather = if feather_px.is_finite() && feather_px > 0.0 {
        feather_px
    } else {
        0.0
    };
    if feather == 0.0 {
        for py in hy0..hy1 {
            for px in hx0..hx1 {
                if hole[(py * w + px) as usize] != 0 {
                    out.put_pixel(px, py, Rgb(sample(px, py).map(level_to_byte)));
                }
            }
        }
        return Ok(out);
    }

    // Seam correction on a region around the hole, large enough that every pixel within the
    // feather distance and the averaging window is inside it.
    let r = (feather.ceil() as u32).max(1);
    let pad = r + SEAM_BAND_PX + 1;
    let (rx0, ry0) = (hx0.saturating_sub(pad), hy0.saturating_sub(pad));
    let (rx1, ry1) = (
        hx1.saturating_add(pad).min(w),
        hy1.saturating_add(pad).min(h),
    );
    let (rw, rh) = ((rx1 - rx0) as usize, (ry1 - ry0) as usize);
    let n = rw * rh;
    let photo_idx = |i: usize| -> (u32, u32) { (rx0 + (i % rw) as u32, ry0 + (i / rw) as u32) };
    let is_hole: Vec<bool> = (0..n)
        .map(|i| {
            let (px, py) = photo_idx(i);
            hole[(py * w + px) as usize] != 0
        })
        .collect();
    let to_known = chamfer_distance(rw, rh, |i| !is_hole[i]);
    let to_hole = chamfer_distance(rw, rh, |i| is_hole[i]);
    let band = SEAM_BAND_PX as f32;
    let inner: Vec<f32> = (0..n)
        .map(|i| f32::from(u8::from(is_hole[i] && to_known[i] <= band)))
        .collect();
    let outer: Vec<f32> = (0..n)
        .map(|i| f32::from(u8::from(!is_hole[i] && to_hole[i] <= band)))
        .collect();
    let fill: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            if is_hole[i] {
                let (px, py) = photo_idx(i);
                sample(px, py)
            } else {
                [0.0; 3]
            }
        })
        .collect();
    let ru = r as usize;
    let inner_count = box_sum(&inner, rw, rh, ru);
    let outer_count = box_sum(&outer, rw, rh, ru);
    let mut correction = vec![[0.0f32; 3]; n];
    for c in 0..3 {
        let inner_val: Vec<f32> = (0..n).map(|i| inner[i] * fill[i][c]).collect();
        let outer_val: Vec<f32> = (0..n)
            .map(|i| {
                if outer[i] > 0.0 {
                    let (px, py) = photo_idx(i);
                    f32::from(photo.get_pixel(px, py)[c])
                } else {
                    0.0
                }
            })
            .collect();
        let inner_sum = box_sum(&inner_val, rw, rh, ru);
        let outer_sum = box_sum(&outer_val, rw, rh, ru);
        for i in 0..n {
            if is_hole[i] && inner_count[i] > 0.5 && outer_count[i] > 0.5 {
                correction[i][c] = inner_sum[i] / inner_count[i] - outer_sum[i] / outer_count[i];
            }
        }
    }
    for i in 0..n {
        if !is_hole[i] {
            continue;
        }
        let t = 1.0 - (to_known[i] - 1.0) / feather;
        let a = if t.is_finite() {
            let t = t.clamp(0.0, 1.0);
            t * t * (3.0 - 2.0 * t)
        } else {
            0.0
        };
        let (px, py) = photo_idx(i);
        let px_val = [0, 1, 2].map(|c| level_to_byte(fill[i][c] - a * correction[i][c]));
        out.put_pixel(px, py, Rgb(px_val));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Contact sheet and bitmap font
// ---------------------------------------------------------------------------------------------

/// Width of a glyph of the built-in font, in font pixels.
const GLYPH_W: u32 = 5;
/// Height of a glyph of the built-in font, in font pixels.
const GLYPH_H: u32 = 7;
/// Horizontal advance per character, in font pixels (glyph + 1 column of spacing).
const GLYPH_ADVANCE: u32 = GLYPH_W + 1;

/// The 5×7 bitmap of a character: 7 rows, bit 4 is the leftmost column. Lower-case letters are
/// drawn as upper case; characters without a glyph are drawn as `?`.
fn glyph(ch: char) -> [u8; 7] {
    match ch.to_ascii_uppercase() {
        ' ' => [0x00; 7],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04], // '?'
    }
}

/// Width in pixels of `text` drawn by [`draw_text`] at `scale` (no trailing spacing).
pub fn text_width(text: &str, scale: u32) -> u32 {
    let n = text.chars().count() as u32;
    if n == 0 {
        0
    } else {
        (n * GLYPH_ADVANCE - 1) * scale
    }
}

/// Draws `text` with the built-in 5×7 bitmap font, each font pixel a `scale×scale` square, with
/// its top-left corner at `(x, y)`; parts outside the image are clipped.
///
/// Digits, letters (lower case is drawn as upper case), space and `- _ = : . , # + / ( )` have
/// glyphs; anything else is drawn as `?`. Characters advance by 6 font pixels.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, colour: Rgb<u8>) {
    let scale = scale.max(1);
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let s = i64::from(scale);
    for (k, ch) in text.chars().enumerate() {
        let gx = x + k as i64 * i64::from(GLYPH_ADVANCE) * s;
        if gx >= w {
            break;
        }
        for (row, bits) in glyph(ch).iter().enumerate() {
            for col in 0..GLYPH_W {
                if (bits >> (GLYPH_W - 1 - col)) & 1 == 0 {
                    continue;
                }
                let px = gx + i64::from(col) * s;
                let py = y + row as i64 * s;
                for dy in 0..s {
                    for dx in 0..s {
                        let (qx, qy) = (px + dx, py + dy);
                        if (0..w).contains(&qx) && (0..h).contains(&qy) {
                            img.put_pixel(qx as u32, qy as u32, colour);
                        }
                    }
                }
            }
        }
    }
}

/// Margin around and between cells of a contact sheet, in pixels.
pub const SHEET_PAD: u32 = 8;
/// The largest thumbnail side a contact sheet uses; larger requests are reduced to it.
pub const MAX_THUMB: u32 = 4096;
/// Background colour of a contact sheet.
pub const SHEET_BACKGROUND: Rgb<u8> = Rgb([24, 24, 24]);
/// Label colour of a contact sheet.
pub const SHEET_LABEL: Rgb<u8> = Rgb([235, 235, 235]);

/// The font scale of labels on a contact sheet with `thumb`-pixel thumbnails: 1 below 192, else 2.
fn sheet_label_scale(thumb: u32) -> u32 {
    if thumb >= 192 { 2 } else { 1 }
}

/// The height of the label strip under each thumbnail: the text plus 3 pixels above and below.
fn sheet_label_height(thumb: u32) -> u32 {
    GLYPH_H * sheet_label_scale(thumb) + 6
}

/// The size `(width, height)` of the [`contact_sheet`] of `n` images.
///
/// With `cols' = clamp(cols, 1, max(n, 1))`, `rows = ceil(n / cols')`, `label` = 7 × scale + 6
/// (scale 1 for `thumb < 192`, else 2) and `thumb' = clamp(thumb, 1, MAX_THUMB)`:
/// width = `cols' · (thumb' + SHEET_PAD) + SHEET_PAD`,
/// height = `rows · (thumb' + label + SHEET_PAD) + SHEET_PAD`.
pub fn contact_sheet_size(n: usize, cols: u32, thumb: u32) -> (u32, u32) {
    let thumb = thumb.clamp(1, MAX_THUMB);
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols);
    let cell_w = thumb + SHEET_PAD;
    let cell_h = thumb + sheet_label_height(thumb) + SHEET_PAD;
    (
        cols.saturating_mul(cell_w).saturating_add(SHEET_PAD),
        rows.saturating_mul(cell_h).saturating_add(SHEET_PAD),
    )
}

/// Lays images out in a grid, each fitted into a `thumb×thumb` square (aspect ratio kept,
/// centred, resized with a triangle filter) with its label centred underneath (e.g.
/// `"seed 42"`), drawn with the built-in font and cut to the thumbnail's width.
///
/// Images fill rows left to right, `cols` per row; the size is [`contact_sheet_size`]. The
/// background is [`SHEET_BACKGROUND`], labels are [`SHEET_LABEL`].
pub fn contact_sheet(images: &[(RgbImage, String)], cols: u32, thumb: u32) -> RgbImage {
    let thumb = thumb.clamp(1, MAX_THUMB);
    let (sw, sh) = contact_sheet_size(images.len(), cols, thumb);
    let mut sheet = RgbImage::from_pixel(sw, sh, SHEET_BACKGROUND);
    let n = u32::try_from(images.len()).unwrap_or(u32::MAX);
    let cols = cols.clamp(1, n.max(1));
    let scale = sheet_label_scale(thumb);
    let cell_w = thumb + SHEET_PAD;
    let cell_h = thumb + sheet_label_height(thumb) + SHEET_PAD;
    let max_chars = ((thumb + scale) / (GLYPH_ADVANCE * scale)) as usize;
    for (k, (img, label)) in images.iter().enumerate() {
        let k = k as u32;
        let (cx, cy) = (
            SHEET_PAD + (k % cols) * cell_w,
            SHEET_PAD + (k / cols) * cell_h,
        );
        let (iw, ih) = img.dimensions();
        if iw > 0 && ih > 0 {
            let (tw, th) = if iw >= ih {
                (
                    thumb,
                    ((u64::from(thumb) * u64::from(ih) + u64::from(iw) / 2) / u64::from(iw)).max(1)
                        as u32,
                )
            } else {
                (
                    ((u64::from(thumb) * u64::from(iw) + u64::from(ih) / 2) / u64::from(ih)).max(1)
                        as u32,
                    thumb,
                )
            };
            let small = if (tw, th) == (iw, ih) {
                img.clone()
            } else {
                image::imageops::resize(img, tw, th, FilterType::Triangle)
            };
            image::imageops::replace(
                &mut sheet,
                &small,
                i64::from(cx + (thumb - tw) / 2),
                i64::from(cy + (thumb - th) / 2),
            );
        }
        let text: String = label.chars().take(max_chars).collect();
        let tx = i64::from(cx) + (i64::from(thumb) - i64::from(text_width(&text, scale))) / 2;
        let ty = i64::from(cy + thumb + 3);
        draw_text(&mut sheet, tx, ty, &text, scale, SHEET_LABEL);
    }
    sheet
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A deterministic, textured test photo.
    fn test_photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                ((x * 7 + y * 3) % 256) as u8,
                ((x * x + y * 11) % 256) as u8,
                (((x * 5) ^ (y * 13)) % 256) as u8,
            ])
        })
    }

    fn rect_mask(w: u32, h: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> Vec<u8> {
        let mut m = vec![0u8; (w * h) as usize];
        for y in y0..y1 {
            for x in x0..x1 {
                m[(y * w + x) as usize] = 1;
            }
        }
        m
    }

    fn assert_contains_hole(b: &ContextBox, hole: (u32, u32, u32, u32)) {
        let s = i64::from(b.size);
        assert!(
            b.x0 <= i64::from(hole.0) && b.x0 + s >= i64::from(hole.2),
            "{b:?} {hole:?}"
        );
        assert!(
            b.y0 <= i64::from(hole.1) && b.y0 + s >= i64::from(hole.3),
            "{b:?} {hole:?}"
        );
    }

    // ---- load / save / hash ----

    #[test]
    fn png_roundtrip_and_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        let img = test_photo(37, 21);
        save_png_atomic(&img, &path).unwrap();
        assert_eq!(load_image(&path).unwrap(), img);
        // Overwriting works and leaves no temporary files behind.
        let img2 = test_photo(5, 6);
        save_png_atomic(&img2, &path).unwrap();
        assert_eq!(load_image(&path).unwrap(), img2);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.png")]);
    }

    #[test]
    fn failed_save_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.png");
        // A 0×0 image cannot be encoded as PNG.
        let err = save_png_atomic(&RgbImage::new(0, 0), &path);
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // Missing directory: an Io error naming the path.
        let bad = dir.path().join("no/such/dir/x.png");
        let msg = save_png_atomic(&test_photo(2, 2), &bad)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("x.png"), "{msg}");
    }

    #[test]
    fn rgba_is_saved_and_alpha_dropped_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rgba.png");
        let img = RgbaImage::from_fn(4, 3, |x, y| image::Rgba([x as u8 * 10, y as u8 * 20, 7, 0]));
        save_rgba_png_atomic(&img, &path).unwrap();
        let loaded = load_image(&path).unwrap();
        assert_eq!(loaded.dimensions(), (4, 3));
        assert_eq!(loaded.get_pixel(2, 1), &Rgb([20, 20, 7]));
    }

    #[test]
    fn loads_grey_jpeg_and_webp() {
        let dir = tempfile::tempdir().unwrap();
        // 16-bit grey PNG.
        let grey = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(3, 2, |x, _| {
            image::Luma([if x == 0 { 0 } else { 65535 }])
        });
        let p = dir.path().join("grey.png");
        grey.save(&p).unwrap();
        let g = load_image(&p).unwrap();
        assert_eq!(g.get_pixel(0, 0), &Rgb([0, 0, 0]));
        assert_eq!(g.get_pixel(1, 1), &Rgb([255, 255, 255]));
        // JPEG (lossy: only the size and rough colour).
        let flat = RgbImage::from_pixel(16, 8, Rgb([200, 100, 50]));
        let p = dir.path().join("photo.jpg");
        flat.save(&p).unwrap();
        let j = load_image(&p).unwrap();
        assert_eq!(j.dimensions(), (16, 8));
        let px = j.get_pixel(8, 4);
        assert!((i32::from(px[0]) - 200).abs() < 8 && (i32::from(px[2]) - 50).abs() < 8);
        // Lossless WebP, with a misleading extension: the format comes from the content.
        let p = dir.path().join("photo.png");
        let img = test_photo(9, 7);
        let mut f = File::create(&p).unwrap();
        image::codecs::webp::WebPEncoder::new_lossless(&mut f)
            .write_image(img.as_raw(), 9, 7, ExtendedColorType::Rgb8)
            .unwrap();
        drop(f);
        assert_eq!(load_image(&p).unwrap(), img);
    }

    #[test]
    fn load_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        let e = load_image(&missing).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(e.to_string().ends_with("missing.png"), "{e}");

        let junk = dir.path().join("junk.png");
        std::fs::write(&junk, b"this is not an image at all").unwrap();
        let e = load_image(&junk).unwrap_err();
        assert!(matches!(e, Error::Image { .. }), "{e}");
        assert!(e.to_string().ends_with("junk.png"), "{e}");

        // A valid PNG signature followed by garbage: corrupt.
        let corrupt = dir.path().join("corrupt.png");
        let mut bytes = Vec::new();
        let mut enc = std::io::Cursor::new(&mut bytes);
        test_photo(8, 8)
            .write_to(&mut enc, image::ImageFormat::Png)
            .unwrap();
        bytes.truncate(40);
        std::fs::write(&corrupt, &bytes).unwrap();
        let e = load_image(&corrupt).unwrap_err();
        assert!(e.to_string().ends_with("corrupt.png"), "{e}");
    }

    #[test]
    fn too_large_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wide.png");
        save_png_atomic(&RgbImage::new(MAX_IMAGE_SIDE + 1, 1), &p).unwrap();
        let e = load_image(&p).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Image { .. }), "{msg}");
        assert!(
            msg.contains("too large") && msg.ends_with("wide.png"),
            "{msg}"
        );
    }

    #[test]
    fn sha256_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc.txt");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(matches!(
            sha256_file(&dir.path().join("nope")),
            Err(Error::Io { .. })
        ));
    }

    // ---- conversions ----

    #[test]
    fn chw_roundtrip_is_exact_for_every_byte() {
        let img = RgbImage::from_fn(256, 2, |x, y| {
            Rgb([x as u8, 255 - x as u8, (x as u8) ^ (y as u8)])
        });
        let chw = rgb_to_chw(&img);
        assert_eq!(chw.len(), 3 * 256 * 2);
        assert_eq!(chw[0], -1.0);
        assert_eq!(chw[255], 1.0);
        assert_eq!(chw_to_rgb(&chw, 256, 2).unwrap(), img);
    }

    #[test]
    fn chw_to_rgb_clamps_and_checks_length() {
        let chw = [-3.0, 5.0, f32::NAN, 0.0, 0.0, 0.0];
        let img = chw_to_rgb(&chw, 2, 1).unwrap();
        // Planes: R = [-3, 5], G = [NaN, 0], B = [0, 0].
        assert_eq!(img.get_pixel(0, 0), &Rgb([0, 0, 128]));
        assert_eq!(img.get_pixel(1, 0), &Rgb([255, 128, 128]));
        assert!(matches!(chw_to_rgb(&chw, 3, 1), Err(Error::Shape(_))));
    }

    #[test]
    fn hole_bbox_finds_extent() {
        let mut m = vec![0u8; 6 * 5];
        assert_eq!(hole_bbox(&m, 6, 5), None);
        m[6 + 4] = 1;
        m[3 * 6 + 2] = 1;
        assert_eq!(hole_bbox(&m, 6, 5), Some((2, 1, 5, 4)));
    }

    // ---- context box ----

    #[test]
    fn small_hole_in_big_photo_is_one_to_one() {
        let hole = (1000, 800, 1010, 820);
        let b = context_box(hole, 4000, 3000, 256, 0.5);
        assert_eq!(b.size, 256);
        assert!(b.is_inside(4000, 3000));
        assert_contains_hole(&b, hole);
        // Centred on the hole (centre 1005, 810).
        assert_eq!(b.x0, 1005 - 128);
        assert_eq!(b.y0, 810 - 128);
    }

    #[test]
    fn big_hole_gets_margin_and_is_downscaled() {
        let hole = (100, 100, 500, 300); // 400 wide
        let b = context_box(hole, 2000, 2000, 256, 0.5);
        assert_eq!(b.size, 800);
        assert!(b.is_inside(2000, 2000));
        assert_contains_hole(&b, hole);
        // Margin 0: the hole's longer side, but never below the model.
        assert_eq!(context_box(hole, 2000, 2000, 256, 0.0).size, 400);
        assert_eq!(context_box(hole, 2000, 2000, 256, f32::NAN).size, 400);
        assert_eq!(context_box((0, 0, 10, 10), 2000, 2000, 256, -1.0).size, 256);
    }

    #[test]
    fn hole_near_edge_shifts_box_inside() {
        let hole = (0, 590, 30, 600);
        let b = context_box(hole, 800, 600, 256, 0.5);
        assert_eq!((b.x0, b.y0, b.size), (0, 600 - 256, 256));
        assert_contains_hole(&b, hole);
        let hole = (790, 0, 800, 5);
        let b = context_box(hole, 800, 600, 256, 0.5);
        assert_eq!((b.x0, b.y0), (800 - 256, 0));
    }

    #[test]
    fn box_is_capped_by_the_short_side() {
        // 1000×300 photo, 200-pixel hole: wants 400, gets the full height.
        let hole = (400, 50, 600, 250);
        let b = context_box(hole, 1000, 300, 256, 0.5);
        assert_eq!(b.size, 300);
        assert!(b.is_inside(1000, 300));
        assert_contains_hole(&b, hole);
    }

    #[test]
    fn hole_longer_than_short_side_sticks_out_symmetrically() {
        let hole = (10, 2, 510, 98); // 500 wide in a 1000×100 photo
        let b = context_box(hole, 1000, 100, 256, 0.5);
        assert_eq!(b.size, 500);
        assert_contains_hole(&b, hole);
        assert!(!b.is_inside(1000, 100));
        assert_eq!(b.y0, -200);
        assert!(b.x0 >= 0 && b.x0 + 500 <= 1000);
        // Hole larger than half the photo in a square photo: box = whole photo.
        let b = context_box((10, 10, 190, 190), 200, 200, 256, 0.5);
        assert_eq!((b.x0, b.y0, b.size), (0, 0, 200));
    }

    #[test]
    fn tiny_photo_is_upscaled() {
        let b = context_box((3, 3, 5, 6), 40, 30, 256, 0.5);
        assert_eq!(b.size, 30);
        assert!(b.is_inside(40, 30));
        assert_contains_hole(&b, (3, 3, 5, 6));
        // Non-square tiny photo, hole spanning its width.
        let b = context_box((0, 10, 40, 12), 40, 30, 256, 0.5);
        assert_eq!(b.size, 40);
        assert_eq!((b.x0, b.y0), (0, -5));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let b = context_box((50, 50, 50, 50), 10, 10, 256, 0.5);
        assert_eq!(b.size, 10);
        assert_contains_hole(&b, (9, 9, 10, 10));
        let b = context_box((0, 0, 1, 1), 0, 0, 256, 0.5);
        assert_eq!(b.size, 1);
        let b = context_box((0, 0, u32::MAX, u32::MAX), 16384, 16384, 256, 1e30);
        assert_eq!((b.x0, b.y0, b.size), (0, 0, 16384));
    }

    #[test]
    fn context_box_always_contains_hole() {
        // A small exhaustive sweep over photo shapes and hole placements.
        for &(w, h) in &[(7u32, 5u32), (64, 64), (300, 40), (40, 300), (1000, 700)] {
            for &res in &[16u32, 64, 256] {
                for k in 0..25u32 {
                    let x0 = (k * 37) % w;
                    let y0 = (k * 53) % h;
                    let x1 = (x0 + 1 + (k * 29) % w).min(w);
                    let y1 = (y0 + 1 + (k * 31) % h).min(h);
                    let b = context_box((x0, y0, x1, y1), w, h, res, 0.5);
                    assert_contains_hole(&b, (x0, y0, x1, y1));
                    if b.size <= w.min(h) {
                        assert!(b.is_inside(w, h), "{b:?} in {w}×{h}");
                    }
                    assert!(b.size >= res.min(w.min(h)));
                }
            }
        }
    }

    // ---- crop and resize ----

    #[test]
    fn crop_one_to_one_is_exact() {
        let img = test_photo(50, 40);
        let b = ContextBox {
            x0: 10,
            y0: 5,
            size: 16,
        };
        let chw = crop_resize_rgb(&img, &b, 16);
        let back = chw_to_rgb(&chw, 16, 16).unwrap();
        for y in 0..16 {
            for x in 0..16 {
                assert_eq!(back.get_pixel(x, y), img.get_pixel(x + 10, y + 5));
            }
        }
    }

    #[test]
    fn crop_outside_replicates_edges() {
        let img = test_photo(10, 10);
        let b = ContextBox {
            x0: -3,
            y0: -2,
            size: 16,
        };
        let chw = crop_resize_rgb(&img, &b, 16);
        let back = chw_to_rgb(&chw, 16, 16).unwrap();
        assert_eq!(back.get_pixel(0, 0), img.get_pixel(0, 0));
        assert_eq!(back.get_pixel(15, 1), img.get_pixel(9, 0));
        assert_eq!(back.get_pixel(5, 15), img.get_pixel(2, 9));
    }

    #[test]
    fn crop_downscale_averages_and_stays_in_range() {
        // Checkerboard averages to mid-grey, no aliasing.
        let img = RgbImage::from_fn(64, 64, |x, y| {
            if (x + y) % 2 == 0 {
                Rgb([255; 3])
            } else {
                Rgb([0; 3])
            }
        });
        let chw = crop_resize_rgb(
            &img,
            &ContextBox {
                x0: 0,
                y0: 0,
                size: 64,
            },
            16,
        );
        assert_eq!(chw.len(), 3 * 16 * 16);
        for &v in &chw {
            assert!(v.abs() < 0.05, "{v}");
        }
        // Upscaling keeps values in range.
        let chw = crop_resize_rgb(
            &test_photo(8, 8),
            &ContextBox {
                x0: 0,
                y0: 0,
                size: 8,
            },
            32,
        );
        assert!(chw.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn mask_downscale_keeps_every_hole_pixel() {
        let (w, h) = (100, 100);
        let mut hole = vec![0u8; 100 * 100];
        hole[37 * 100 + 61] = 1; // a single pixel
        let b = ContextBox {
            x0: 0,
            y0: 0,
            size: 100,
        };
        let m = crop_resize_mask(&hole, w, h, &b, 16).unwrap();
        // Column 61 lies in output column 9 (56..63) only; row 37 straddles output rows 5
        // (31..38) and 6 (37..44), so both are hole.
        assert_eq!(m.iter().filter(|&&v| v == 1.0).count(), 2);
        assert_eq!(m[5 * 16 + 9], 1.0);
        assert_eq!(m[6 * 16 + 9], 1.0);
        assert!(m.iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn mask_one_to_one_and_upscale() {
        let (w, h) = (20, 10);
        let hole = rect_mask(w, h, (4, 2, 7, 5));
        let b = ContextBox {
            x0: 2,
            y0: 0,
            size: 10,
        };
        let m = crop_resize_mask(&hole, w, h, &b, 10).unwrap();
        for y in 0..10 {
            for x in 0..10 {
                let want = f32::from(hole[(y * 20 + x + 2) as usize]);
                assert_eq!(m[(y * 10 + x) as usize], want);
            }
        }
        // ×3 nearest: each hole pixel becomes a 3×3 block.
        let m = crop_resize_mask(&hole, w, h, &b, 30).unwrap();
        assert_eq!(m.iter().filter(|&&v| v == 1.0).count(), 9 * 9);
        assert!(crop_resize_mask(&hole, w, h + 1, &b, 10).is_err());
        let empty = ContextBox { size: 0, ..b };
        assert!(crop_resize_mask(&hole, w, h, &empty, 10).is_err());
    }

    #[test]
    fn mask_outside_photo_is_replicated() {
        let (w, h) = (10, 10);
        // Hole touching the top edge; box sticks out above it.
        let hole = rect_mask(w, h, (4, 0, 6, 2));
        let b = ContextBox {
            x0: 0,
            y0: -4,
            size: 14,
        };
        let m = crop_resize_mask(&hole, w, h, &b, 14).unwrap();
        // Above the hole (rows 0..4 of the box) is hole too; above known pixels is known.
        for y in 0..4 {
            assert_eq!(m[y * 14 + 4], 1.0);
            assert_eq!(m[y * 14 + 5], 1.0);
            assert_eq!(m[y * 14], 0.0);
        }
        assert_eq!(m[6 * 14 + 4], 0.0);
    }

    #[test]
    fn composite_keeps_known() {
        let out = vec![1.0; 2 * 2 * 2];
        let known = vec![-1.0; 8];
        let hole = [1.0, 0.0, 0.0, 0.5];
        let c = composite_chw(&out, &known, &hole, 2, 2, 2).unwrap();
        assert_eq!(c, vec![1.0, -1.0, -1.0, 0.0, 1.0, -1.0, -1.0, 0.0]);
        let full = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let c = composite_chw(&out, &known, &full, 2, 2, 2).unwrap();
        assert_eq!(c, vec![1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0]);
        assert!(composite_chw(&out, &known, &hole[..3], 2, 2, 2).is_err());
    }

    // ---- paste back ----

    fn constant_fill(res: u32, rgb: [u8; 3]) -> Vec<f32> {
        rgb_to_chw(&RgbImage::from_pixel(res, res, Rgb(rgb)))
    }

    fn assert_known_identical(photo: &RgbImage, out: &RgbImage, hole: &[u8]) {
        assert_eq!(out.dimensions(), photo.dimensions());
        for (i, (a, b)) in photo.pixels().zip(out.pixels()).enumerate() {
            if hole[i] == 0 {
                assert_eq!(a, b, "known pixel {i} changed");
            }
        }
    }

    #[test]
    fn paste_back_replaces_hole_only() {
        let (w, h) = (120, 90);
        let photo = test_photo(w, h);
        let mut hole = rect_mask(w, h, (40, 30, 70, 50));
        hole[60 * w as usize + 80] = 1; // a stray pixel
        let bbox = hole_bbox(&hole, w, h).unwrap();
        let b = context_box(bbox, w, h, 64, 0.5);
        let fill = constant_fill(64, [255, 0, 255]);
        for feather in [0.0, 6.0] {
            let out = paste_back(&photo, &hole, &fill, 64, &b, feather).unwrap();
            assert_known_identical(&photo, &out, &hole);
            if feather == 0.0 {
                for (i, p) in out.pixels().enumerate() {
                    if hole[i] != 0 {
                        assert_eq!(p, &Rgb([255, 0, 255]));
                    }
                }
            }
        }
    }

    #[test]
    fn paste_back_one_to_one_puts_fill_pixels() {
        let (w, h) = (40, 40);
        let photo = RgbImage::from_pixel(w, h, Rgb([10, 20, 30]));
        let hole = rect_mask(w, h, (10, 12, 20, 18));
        let b = ContextBox {
            x0: 5,
            y0: 5,
            size: 32,
        };
        let fill_img = test_photo(32, 32);
        let fill = rgb_to_chw(&fill_img);
        let out = paste_back(&photo, &hole, &fill, 32, &b, 0.0).unwrap();
        assert_known_identical(&photo, &out, &hole);
        for y in 12..18 {
            for x in 10..20 {
                assert_eq!(out.get_pixel(x, y), fill_img.get_pixel(x - 5, y - 5));
            }
        }
    }

    #[test]
    fn paste_back_box_outside_photo() {
        // A hole longer than the photo is tall: the box sticks out above and below.
        let (w, h) = (60, 12);
        let photo = test_photo(w, h);
        let hole = rect_mask(w, h, (5, 0, 45, 12));
        let b = context_box(hole_bbox(&hole, w, h).unwrap(), w, h, 16, 0.5);
        assert!(!b.is_inside(w, h));
        let fill = constant_fill(16, [0, 255, 0]);
        for feather in [0.0, 4.0] {
            let out = paste_back(&photo, &hole, &fill, 16, &b, feather).unwrap();
            assert_known_identical(&photo, &out, &hole);
            for (i, p) in out.pixels().enumerate() {
                let x = i as u32 % w;
                // Away from the seam the hole is the fill exactly.
                if hole[i] != 0 && (feather == 0.0 || (15..35).contains(&x)) {
                    assert_eq!(p, &Rgb([0, 255, 0]));
                }
            }
        }
        // Up- and downscaled fills keep the colour of a constant fill.
        let out = paste_back(
            &photo,
            &hole,
            &constant_fill(100, [0, 255, 0]),
            100,
            &b,
            0.0,
        )
        .unwrap();
        assert_eq!(out.get_pixel(20, 6), &Rgb([0, 255, 0]));
    }

    #[test]
    fn seam_correction_fades_into_the_fill() {
        let (w, h) = (100, 100);
        let photo = RgbImage::from_pixel(w, h, Rgb([100, 100, 100]));
        let hole = rect_mask(w, h, (20, 20, 80, 80));
        let b = context_box((20, 20, 80, 80), w, h, 128, 0.5);
        let fill = constant_fill(128, [160, 160, 160]);
        let feather = 10.0;
        let out = paste_back(&photo, &hole, &fill, 128, &b, feather).unwrap();
        assert_known_identical(&photo, &out, &hole);
        let v = |x: u32| i32::from(out.get_pixel(x, 50)[0]);
        // Next to the boundary: close to the photo; deep inside: the fill exactly.
        assert!((v(20) - 100).abs() <= 3, "{}", v(20));
        assert_eq!(v(50), 160);
        assert_eq!(v(20 + feather as u32 + 1), 160);
        // Monotone ramp in between.
        for x in 20..35 {
            assert!(v(x) <= v(x + 1), "{x}: {} > {}", v(x), v(x + 1));
        }
        // A fill that matches the photo is left as it is.
        let same = paste_back(
            &photo,
            &hole,
            &constant_fill(128, [100; 3]),
            128,
            &b,
            feather,
        )
        .unwrap();
        assert_eq!(same, photo);
    }

    #[test]
    fn paste_back_checks_shapes() {
        let photo = test_photo(10, 10);
        let hole = vec![0u8; 100];
        let b = ContextBox {
            x0: 0,
            y0: 0,
            size: 10,
        };
        assert!(paste_back(&photo, &hole[..99], &constant_fill(8, [0; 3]), 8, &b, 0.0).is_err());
        assert!(paste_back(&photo, &hole, &constant_fill(8, [0; 3]), 9, &b, 0.0).is_err());
        // No hole: unchanged.
        let out = paste_back(&photo, &hole, &constant_fill(8, [0; 3]), 8, &b, 3.0).unwrap();
        assert_eq!(out, photo);
    }

    #[test]
    fn box_sum_matches_naive_reference() {
        let (w, h) = (13usize, 9usize);
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32 - 3.5).collect();
        for r in [0usize, 1, 2, 5, 20] {
            let fast = box_sum(&src, w, h, r);
            for y in 0..h {
                for x in 0..w {
                    let mut want = 0.0f32;
                    for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                        for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                            want += src[yy * w + xx];
                        }
                    }
                    let got = fast[y * w + x];
                    assert!(
                        (got - want).abs() < 1e-3,
                        "r={r} ({x},{y}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn chamfer_distance_is_close_to_euclidean() {
        let (w, h) = (21usize, 21usize);
        let d = chamfer_distance(w, h, |i| i == 10 * w + 10);
        assert_eq!(d[10 * w + 10], 0.0);
        assert_eq!(d[10 * w + 11], 1.0);
        assert_eq!(d[10 * w + 20], 10.0);
        let diag = d[20 * w + 20];
        assert!((diag - 200f32.sqrt()).abs() < 1e-4, "{diag}");
        // (13, 18) is at sqrt(9 + 64) = 8.54 from the source; chamfer gives 3√2 + 5 = 9.24.
        assert!((d[18 * w + 13] - 73f32.sqrt()).abs() < 1.0);
        assert!(
            chamfer_distance(3, 3, |_| false)
                .iter()
                .all(|v| v.is_infinite())
        );
    }

    // ---- contact sheet ----

    #[test]
    fn contact_sheet_layout_and_labels() {
        let imgs: Vec<(RgbImage, String)> = (0..5)
            .map(|k| (test_photo(40 + k * 10, 30), format!("seed {k}")))
            .collect();
        let thumb = 64;
        let sheet = contact_sheet(&imgs, 3, thumb);
        let label_h = 7 + 6;
        let want = (
            3 * (thumb + SHEET_PAD) + SHEET_PAD,
            2 * (thumb + label_h + SHEET_PAD) + SHEET_PAD,
        );
        assert_eq!(sheet.dimensions(), want);
        assert_eq!(contact_sheet_size(5, 3, thumb), want);
        // Each label strip has label-coloured pixels; cell 5 (empty) has none.
        let cell_w = thumb + SHEET_PAD;
        let cell_h = thumb + label_h + SHEET_PAD;
        let label_pixels = |k: u32| {
            let (cx, cy) = (SHEET_PAD + (k % 3) * cell_w, SHEET_PAD + (k / 3) * cell_h);
            let mut n = 0;
            for y in cy + thumb..cy + thumb + label_h {
                for x in cx..cx + thumb {
                    if sheet.get_pixel(x, y) == &SHEET_LABEL {
                        n += 1;
                    }
                }
            }
            n
        };
        for k in 0..5 {
            assert!(label_pixels(k) > 20, "label {k}");
        }
        assert_eq!(label_pixels(5), 0);
        // Thumbnails are drawn: the centre of cell 0 is not background.
        assert_ne!(
            sheet.get_pixel(SHEET_PAD + thumb / 2, SHEET_PAD + thumb / 2),
            &SHEET_BACKGROUND
        );
        // Large thumbnails use double-size labels; more columns than images are dropped.
        assert_eq!(
            contact_sheet_size(2, 10, 256),
            (2 * 264 + 8, 256 + 14 + 6 + 8 + 8)
        );
        assert_eq!(
            contact_sheet(&[], 4, 32).dimensions(),
            contact_sheet_size(0, 4, 32)
        );
    }

    #[test]
    fn font_draws_known_glyphs() {
        let mut img = RgbImage::new(40, 9);
        draw_text(&mut img, 1, 1, "1-a", 1, Rgb([255; 3]));
        let lit = |x: u32, y: u32| img.get_pixel(x, y)[0] == 255;
        // '1' has its stem at column 2, rows 0..7.
        assert!((1..8).all(|y| lit(3, y)));
        // '-' is the middle row of the second cell.
        assert!((7..12).all(|x| lit(x, 4)) && !lit(7, 1));
        // Lower case is drawn as upper case.
        let mut a = RgbImage::new(6, 7);
        let mut upper = RgbImage::new(6, 7);
        draw_text(&mut a, 0, 0, "a", 1, Rgb([255; 3]));
        draw_text(&mut upper, 0, 0, "A", 1, Rgb([255; 3]));
        assert_eq!(a, upper);
        assert_eq!(text_width("abc", 2), (3 * 6 - 1) * 2);
        // Clipping at the borders does not panic.
        draw_text(&mut img, -4, -3, "#:=._ZZZZZZZZ", 3, Rgb([1; 3]));
    }
}
