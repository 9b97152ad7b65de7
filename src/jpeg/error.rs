//! What can stop [`decode`](super::decode): a file it does not decode exactly (to be handed to
//! another decoder), a corrupt file, or one over the size limits.

/// Why [`decode`](super::decode) gave up on a JPEG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    /// A valid JPEG that this decoder does not handle; another decoder may.
    #[error("unsupported JPEG: {0}")]
    Unsupported(Unsupported),
    /// The data breaks the JPEG format.
    #[error("corrupt JPEG: {0}")]
    Corrupt(Corrupt),
    /// The image is larger than the limits allow.
    #[error(
        "image too large ({width}×{height} pixels; at most {max_side} per side and {max_bytes} \
         bytes of decoded data)"
    )]
    TooLarge {
        /// The width in the frame header.
        width: u32,
        /// The height in the frame header.
        height: u32,
        /// The largest side allowed.
        max_side: u32,
        /// The most bytes the decoded RGB image may take.
        max_bytes: u64,
    },
}

/// A JPEG feature outside what this decoder reproduces exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// Arithmetic entropy coding (SOF9–SOF15, DAC).
    #[error("arithmetic coding")]
    Arithmetic,
    /// Lossless coding (SOF3).
    #[error("lossless coding")]
    Lossless,
    /// Hierarchical coding (SOF5–SOF7).
    #[error("hierarchical coding")]
    Hierarchical,
    /// A sample precision other than 8 bits.
    #[error("{0}-bit samples")]
    Precision(u8),
    /// A component count other than 1 (grey) or 3 (YCbCr or RGB), e.g. 4 for CMYK/YCCK.
    #[error("{0} colour components")]
    Components(u8),
    /// Sampling factors whose ratios are not whole numbers (libjpeg refuses these too).
    #[error("fractional chroma sampling")]
    FractionalSampling,
    /// A progressive file whose scans leave low-frequency coefficients unsent or unrefined,
    /// which libjpeg would smooth.
    #[error("incomplete progressive scans")]
    IncompleteProgressive,
    /// A height of zero, to be given by a DNL marker after the first scan.
    #[error("height defined by a DNL marker")]
    DefineNumberOfLines,
    /// A Huffman table used before any was defined (Motion-JPEG frames rely on the standard
    /// tables).
    #[error("Huffman table {0} used but not defined")]
    MissingHuffmanTable(u8),
}

/// How a JPEG file breaks the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Corrupt {
    /// The data does not start with the start-of-image marker.
    #[error("no start-of-image marker")]
    NoStartOfImage,
    /// The data ends before the end-of-image marker.
    #[error("the data ends before the end-of-image marker")]
    Truncated,
    /// A marker segment's length does not fit its content or the file.
    #[error("bad length in marker segment {0:#04X}")]
    SegmentLength(u8),
    /// A marker that may not appear here.
    #[error("unexpected marker {0:#04X}")]
    UnexpectedMarker(u8),
    /// A second frame header.
    #[error("more than one frame header")]
    DuplicateFrame,
    /// A scan before the frame header.
    #[error("scan before the frame header")]
    ScanBeforeFrame,
    /// No scan at all before the end of the image.
    #[error("no image data")]
    NoScan,
    /// A width of zero.
    #[error("image width is zero")]
    ZeroWidth,
    /// A sampling factor outside 1..=4.
    #[error("bad sampling factor")]
    BadSampling,
    /// A scan whose minimum coded unit has more than 10 blocks.
    #[error("too many blocks in a minimum coded unit")]
    McuTooLarge,
    /// A quantisation table id outside 0..=3 or a bad precision.
    #[error("bad quantisation table definition")]
    BadQuantTable,
    /// A component refers to a quantisation table that was never defined.
    #[error("quantisation table {0} used but not defined")]
    MissingQuantTable(u8),
    /// A Huffman table that is not a valid prefix code, or has a bad id or symbol.
    #[error("bad Huffman table definition")]
    BadHuffmanTable,
    /// A bit sequence that is no code of the Huffman table in use.
    #[error("bad Huffman code in the image data")]
    BadHuffmanCode,
    /// A scan header naming a component that is not in the frame, or one twice.
    #[error("bad component in a scan header")]
    BadScanComponent,
    /// Spectral selection or successive approximation values outside what the mode allows.
    #[error("bad progressive scan parameters")]
    BadProgression,
    /// More scans than any real encoder writes.
    #[error("too many scans")]
    TooManyScans,
    /// A restart marker missing or out of sequence.
    #[error("restart marker missing or out of sequence")]
    BadRestart,
}

impl From<Unsupported> for JpegError {
    fn from(u: Unsupported) -> Self {
        JpegError::Unsupported(u)
    }
}

impl From<Corrupt> for JpegError {
    fn from(c: Corrupt) -> Self {
        JpegError::Corrupt(c)
    }
}
