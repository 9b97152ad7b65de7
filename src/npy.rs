//! Little-endian `f32` NumPy `.npy` arrays, the file format of the `forward` contract.
//!
//! Only C-order (row-major) arrays of `'<f4'` are the native format. `'<f8'` (float64) is also
//! accepted on reading and converted to `f32` (rounding to nearest), because NumPy produces
//! float64 by default and it is an easy mistake to save one. Everything else (big-endian data,
//! integers, `fortran_order: True`, object arrays) is refused with an error that says why.
//! Headers of format versions 1.0, 2.0 and 3.0 are read; we write version 1.0 (or 2.0 when the
//! header does not fit in 65535 bytes).
//!
//! ```
//! # fn main() -> pdpaint::Result<()> {
//! use pdpaint::npy::{read_npy_bytes, write_npy_bytes};
//! let bytes = write_npy_bytes(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])?;
//! let a = read_npy_bytes(&bytes)?;
//! assert_eq!(a.shape, vec![2, 3]);
//! a.expect_shape("a.npy", &[Some(2), None])?;
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use crate::error::{Error, Result};

/// The 6-byte magic string that starts every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// An n-dimensional `f32` array in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The dimensions, outermost first. Empty for a 0-d (scalar) array.
    pub shape: Vec<usize>,
    /// The elements in C order; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

impl NpyArray {
    /// Checks the rank and the dimensions that are fixed.
    ///
    /// `expected` has one entry per dimension: `Some(n)` requires exactly `n`, `None` accepts
    /// any size. `name` (usually the file name) starts the error message, e.g.
    /// `image.npy: expected [?,3,?,?], got [2,4,256,256]` (`?` = any size).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the rank differs or a fixed dimension does not match.
    pub fn expect_shape(&self, name: &str, expected: &[Option<usize>]) -> Result<()> {
        let ok = self.shape.len() == expected.len()
            && self
                .shape
                .iter()
                .zip(expected)
                .all(|(&got, want)| want.is_none_or(|w| w == got));
        if ok {
            return Ok(());
        }
        let want: Vec<String> = expected
            .iter()
            .map(|d| d.map_or_else(|| "?".to_string(), |n| n.to_string()))
            .collect();
        let got: Vec<String> = self.shape.iter().map(|n| n.to_string()).collect();
        Err(Error::Shape(format!(
            "{name}: expected [{}], got [{}]",
            want.join(","),
            got.join(",")
        )))
    }

    /// The number of elements (the product of the shape; 1 for a 0-d array).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the array has no elements (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The element types we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F4,
    F8,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::F8 => 8,
        }
    }
}

/// Reads a `.npy` file of `'<f4'` (or `'<f8'`, converted to `f32`) in C order.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read; [`Error::Shape`] when it is not a `.npy` file,
/// has an unsupported dtype or Fortran order, or is truncated. Messages end with the path.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read .npy file", path, e))?;
    read_npy_bytes(&bytes).map_err(|e| match e {
        Error::Shape(msg) => Error::Shape(format!("{msg}: {}", path.display())),
        other => other,
    })
}

/// Parses the bytes of a `.npy` file (see [`read_npy`]).
///
/// # Errors
///
/// [`Error::Shape`] when the bytes are not a supported `.npy` array.
pub fn read_npy_bytes(bytes: &[u8]) -> Result<NpyArray> {
    let bad = |msg: String| Error::Shape(msg);
    if bytes.len() < 8 || &bytes[..6] != MAGIC {
        return Err(bad("not a .npy file (missing \\x93NUMPY magic)".into()));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, header_start): (usize, usize) = match major {
        1 => {
            if bytes.len() < 10 {
                return Err(bad("truncated .npy header".into()));
            }
            (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
        }
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("truncated .npy header".into()));
            }
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (n as usize, 12)
        }
        _ => {
            return Err(bad(format!(
                "unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are supported)"
            )));
        }
    };
    let header_end = header_start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| bad("truncated .npy header".into()))?;
    let header_bytes = &bytes[header_start..header_end];
    // Version 1 and 2 headers are latin-1 (in practice ASCII); version 3 is UTF-8.
    let header: String = if major == 3 {
        std::str::from_utf8(header_bytes)
            .map_err(|_| bad("the .npy header is not valid UTF-8".into()))?
            .to_string()
    } else {
        header_bytes.iter().map(|&b| b as char).collect()
    };
    let header = parse_header(&header)?;

    let dtype = match header.descr.as_str() {
        "<f4" => Dtype::F4,
        "<f8" => Dtype::F8,
        d if d.starts_with('>') => {
            return Err(bad(format!(
                "big-endian .npy data ('{d}') is not supported; save little-endian '<f4'"
            )));
        }
        d => {
            return Err(bad(format!(
                "unsupported .npy dtype '{d}'; expected little-endian float32 '<f4' (or '<f8')"
            )));
        }
    };
    if header.fortran_order {
        return Err(bad(
            "Fortran-order .npy arrays are not supported; save a C-order array \
             (np.ascontiguousarray)"
                .into(),
        ));
    }
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("the .npy shape {:?} is too large", header.shape)))?;
    let nbytes = count
        .checked_mul(dtype.size())
        .ok_or_else(|| bad(format!("the .npy shape {:?} is too large", header.shape)))?;
    let payload = &bytes[header_end..];
    if payload.len() < nbytes {
        return Err(bad(format!(
            "truncated .npy data: shape {:?} needs {nbytes} bytes, the file has {}",
            header.shape,
            payload.len()
        )));
    }
    if payload.len() > nbytes {
        return Err(bad(format!(
            "the .npy file has {} bytes after the data of shape {:?}",
            payload.len() - nbytes,
            header.shape
        )));
    }
    let data: Vec<f32> = match dtype {
        Dtype::F4 => payload
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F8 => payload
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
    };
    Ok(NpyArray {
        shape: header.shape,
        data,
    })
}

/// Writes a `'<f4'` C-order `.npy` file atomically (a temporary file in the same folder, then
/// a rename), so readers never see a half-written file.
///
/// # Errors
///
/// [`Error::Shape`] when `data.len()` is not the product of `shape`; [`Error::Io`] when the
/// file cannot be written.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let bytes = write_npy_bytes(shape, data).map_err(|e| match e {
        Error::Shape(msg) => Error::Shape(format!("{msg}: {}", path.display())),
        other => other,
    })?;
    crate::fsutil::write_atomic(path, &bytes)
}

/// Encodes an `f32` array as the bytes of a `'<f4'` C-order `.npy` file (format 1.0, or 2.0
/// for a header longer than 65535 bytes).
///
/// # Errors
///
/// [`Error::Shape`] when `data.len()` is not the product of `shape`.
pub fn write_npy_bytes(shape: &[usize], data: &[f32]) -> Result<Vec<u8>> {
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::Shape(format!("shape {shape:?} is too large")))?;
    if count != data.len() {
        return Err(Error::Shape(format!(
            "cannot write .npy: shape {shape:?} has {count} elements but {} values were given",
            data.len()
        )));
    }
    let shape_str = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        dims => {
            let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_str}, }}");
    // Pad with spaces and a final newline so the data starts on a 64-byte boundary.
    let (version, prefix) = if header.len() + 1 + 64 <= u16::MAX as usize {
        (1u8, 10usize)
    } else {
        (2u8, 12usize)
    };
    let total = (prefix + header.len() + 1).div_ceil(64) * 64;
    let pad = total - prefix - header.len() - 1;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');

    let mut out = Vec::with_capacity(total + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.push(version);
    out.push(0);
    if version == 1 {
        // Checked above: the header fits in u16.
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        let len = u32::try_from(header.len())
            .map_err(|_| Error::Shape(format!("shape {shape:?} gives a too long .npy header")))?;
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// The three fields of a `.npy` header.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the Python dict literal of a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header(text: &str) -> Result<Header> {
    let bad = |what: &str| Error::Shape(format!("malformed .npy header ({what}): {}", text.trim()));
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    p.ws();
    if !p.eat(b'{') {
        return Err(bad("no '{'"));
    }
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string().ok_or_else(|| bad("expected a quoted key"))?;
        p.ws();
        if !p.eat(b':') {
            return Err(bad("expected ':'"));
        }
        p.ws();
        match key.as_str() {
            "descr" => descr = Some(p.string().ok_or_else(|| bad("descr is not a string"))?),
            "fortran_order" => {
                fortran = Some(
                    p.boolean()
                        .ok_or_else(|| bad("fortran_order is not a bool"))?,
                )
            }
            "shape" => shape = Some(p.tuple().ok_or_else(|| bad("shape is not a tuple"))?),
            _ => return Err(bad("unknown key")),
        }
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.ws();
        if p.eat(b'}') {
            break;
        }
        return Err(bad("expected ',' or '}'"));
    }
    Ok(Header {
        descr: descr.ok_or_else(|| bad("no 'descr'"))?,
        fortran_order: fortran.ok_or_else(|| bad("no 'fortran_order'"))?,
        shape: shape.ok_or_else(|| bad("no 'shape'"))?,
    })
}

/// A tiny cursor over the header bytes.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Option<String> {
        let q = self.peek().filter(|&c| c == b'\'' || c == b'"')?;
        self.i += 1;
        let start = self.i;
        while self.peek()? != q {
            self.i += 1;
        }
        let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Some(s)
    }

    fn boolean(&mut self) -> Option<bool> {
        let rest = &self.s[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            Some(true)
        } else if rest.starts_with(b"False") {
            self.i += 5;
            Some(false)
        } else {
            None
        }
    }

    fn int(&mut self) -> Option<usize> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        let n = digits.parse().ok()?;
        // Python 2 era files may write long integers as `3L`.
        let _ = self.eat(b'L');
        Some(n)
    }

    fn tuple(&mut self) -> Option<Vec<usize>> {
        if !self.eat(b'(') {
            return None;
        }
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Some(dims);
            }
            dims.push(self.int()?);
            self.ws();
            if self.eat(b',') {
                continue;
            }
            self.ws();
            if self.eat(b')') {
                return Some(dims);
            }
            return None;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw_npy(header: &str, payload: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn round_trip_bytes() {
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        let bytes = write_npy_bytes(&[2, 3, 4], &data).unwrap();
        assert_eq!(bytes.len() % 64, (24 * 4) % 64);
        let a = read_npy_bytes(&bytes).unwrap();
        assert_eq!(a.shape, vec![2, 3, 4]);
        assert_eq!(a.data, data);
    }

    #[test]
    fn header_matches_numpy_layout() {
        let bytes = write_npy_bytes(&[3], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"));
        assert!(header.ends_with('\n'));
    }

    #[test]
    fn scalar_and_empty_shapes() {
        let a = read_npy_bytes(&write_npy_bytes(&[], &[7.5]).unwrap()).unwrap();
        assert_eq!(a.shape, Vec::<usize>::new());
        assert_eq!(a.data, vec![7.5]);
        let b = read_npy_bytes(&write_npy_bytes(&[0, 5], &[]).unwrap()).unwrap();
        assert_eq!(b.shape, vec![0, 5]);
        assert!(b.is_empty());
    }

    #[test]
    fn round_trip_file_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        write_npy(&path, &[2, 2], &[1.0, -2.0, 3.5, f32::MIN_POSITIVE]).unwrap();
        // Overwrite in place: still one file, no temporary left behind.
        write_npy(&path, &[1, 4], &[4.0, 3.0, 2.0, 1.0]).unwrap();
        let a = read_npy(&path).unwrap();
        assert_eq!(a.shape, vec![1, 4]);
        assert_eq!(a.data, vec![4.0, 3.0, 2.0, 1.0]);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn write_rejects_wrong_count() {
        let err = write_npy_bytes(&[2, 3], &[0.0; 5]).unwrap_err();
        assert!(matches!(err, Error::Shape(_)), "{err}");
    }

    #[test]
    fn truncated_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npy");
        let bytes = write_npy_bytes(&[4, 4], &[1.0; 16]).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = read_npy(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Shape(_)));
        assert!(msg.contains("truncated"), "{msg}");
        assert!(msg.ends_with(&path.display().to_string()), "{msg}");
        // A truncated header, too.
        assert!(read_npy_bytes(&bytes[..20]).is_err());
    }

    #[test]
    fn not_npy_and_missing_file() {
        let err = read_npy_bytes(b"PK\x03\x04 this is a zip").unwrap_err();
        assert!(err.to_string().contains("not a .npy"), "{err}");
        let err = read_npy(Path::new("/nonexistent/dir/a.npy")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn rejects_big_endian_ints_and_fortran() {
        let be = raw_npy(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
            &[0; 4],
        );
        assert!(
            read_npy_bytes(&be)
                .unwrap_err()
                .to_string()
                .contains("big-endian")
        );
        let int = raw_npy(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
            &[0; 8],
        );
        assert!(
            read_npy_bytes(&int)
                .unwrap_err()
                .to_string()
                .contains("'<i8'")
        );
        let fort = raw_npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
            &[0; 16],
        );
        assert!(
            read_npy_bytes(&fort)
                .unwrap_err()
                .to_string()
                .contains("Fortran")
        );
    }

    #[test]
    fn reads_f8_and_key_order_and_trailing_bytes() {
        let payload: Vec<u8> = [1.5f64, -0.25, 1e-3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f8 = raw_npy(
            "{'shape': (3,), 'fortran_order': False, 'descr': '<f8'}",
            &payload,
        );
        let a = read_npy_bytes(&f8).unwrap();
        assert_eq!(a.data, vec![1.5, -0.25, 1e-3f64 as f32]);
        let mut extra = write_npy_bytes(&[1], &[1.0]).unwrap();
        extra.push(0);
        assert!(read_npy_bytes(&extra).is_err());
    }

    #[test]
    fn reads_version_2_and_3_headers() {
        for version in [2u8, 3] {
            let mut h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".to_string();
            while !(12 + h.len() + 1).is_multiple_of(64) {
                h.push(' ');
            }
            h.push('\n');
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&[version, 0]);
            bytes.extend_from_slice(&(h.len() as u32).to_le_bytes());
            bytes.extend_from_slice(h.as_bytes());
            bytes.extend_from_slice(&1.0f32.to_le_bytes());
            bytes.extend_from_slice(&2.0f32.to_le_bytes());
            let a = read_npy_bytes(&bytes).unwrap();
            assert_eq!(a.data, vec![1.0, 2.0]);
        }
    }

    #[test]
    fn expect_shape_messages() {
        let a = NpyArray {
            shape: vec![2, 4, 8, 8],
            data: vec![0.0; 2 * 4 * 64],
        };
        a.expect_shape("image.npy", &[None, Some(4), None, None])
            .unwrap();
        let err = a
            .expect_shape("image.npy", &[None, Some(3), None, None])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "image.npy: expected [?,3,?,?], got [2,4,8,8]"
        );
        let err = a.expect_shape("z.npy", &[None, Some(256)]).unwrap_err();
        assert_eq!(err.to_string(), "z.npy: expected [?,256], got [2,4,8,8]");
    }
}
