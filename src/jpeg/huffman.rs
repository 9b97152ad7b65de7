//! Huffman tables and the bit reader of the entropy-coded data.
//!
//! The reader follows libjpeg's rules where they decide pixels: `FF 00` is a stuffed `FF`
//! (extra `FF` fill bytes before it are skipped), and a marker (or the end of the data) stops
//! the reading: from there on the reader supplies zero bits, as libjpeg does for a segment
//! that ends early.

use super::error::Corrupt;

/// Codes up to this many bits are decoded with one table look-up.
const LOOKAHEAD: u32 = 9;

/// A Huffman decoding table (canonical code, as JPEG defines it).
#[derive(Debug, Clone)]
pub(crate) struct HuffTable {
    /// Indexed by the next [`LOOKAHEAD`] bits: `length << 8 | symbol`, or 0 for a longer code.
    lookup: Vec<u16>,
    /// The largest code of each length (index = length, 1..=16), −1 when there is none.
    maxcode: [i32; 18],
    /// Added to a code of each length to index [`Self::symbols`].
    valoffset: [i32; 18],
    /// The symbols in code order.
    symbols: Vec<u8>,
    /// For AC tables, indexed like [`Self::lookup`]: when a code and its extra bits fit in
    /// [`LOOKAHEAD`] bits, `value << 16 | run << 8 | bits used`; else 0.
    fast_ac: Vec<i32>,
}

impl HuffTable {
    /// Builds a table from a DHT segment's 16 counts (codes of length 1..=16) and symbols.
    ///
    /// Refuses tables that are not a prefix code (too many codes of a length), and DC tables
    /// with a symbol over 15 (a DC difference has at most 15 bits for 8-bit samples; libjpeg
    /// refuses those too).
    pub(crate) fn new(counts: &[u8; 16], symbols: &[u8], is_dc: bool) -> Result<Self, Corrupt> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total != symbols.len() {
            return Err(Corrupt::BadHuffmanTable);
        }
        if is_dc && symbols.iter().any(|&s| s > 15) {
            return Err(Corrupt::BadHuffmanTable);
        }
        let mut lookup = vec![0u16; 1 << LOOKAHEAD];
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 18];
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            // The codes of `len` bits must fit in `len` bits, and (as libjpeg insists) none
            // may be all ones.
            if code + n as u32 >= (1 << len) && n > 0 {
                return Err(Corrupt::BadHuffmanTable);
            }
            if n > 0 {
                valoffset[len as usize] = k as i32 - code as i32;
                for _ in 0..n {
                    if len <= LOOKAHEAD {
                        let shift = LOOKAHEAD - len;
                        let first = (code << shift) as usize;
                        let entry = ((len as u16) << 8) | u16::from(symbols[k]);
                        lookup[first..first + (1 << shift)].fill(entry);
                    }
                    code += 1;
                    k += 1;
                }
                maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        let fast_ac = if is_dc {
            Vec::new()
        } else {
            lookup
                .iter()
                .enumerate()
                .map(|(idx, &entry)| fast_ac_entry(idx as u32, entry))
                .collect()
        };
        Ok(HuffTable {
            lookup,
            maxcode,
            valoffset,
            symbols: symbols.to_vec(),
            fast_ac,
        })
    }
}

/// The [`HuffTable::fast_ac`] entry for the look-ahead bits `idx` whose code is `entry`.
fn fast_ac_entry(idx: u32, entry: u16) -> i32 {
    let (len, symbol) = (u32::from(entry >> 8), u32::from(entry & 0xFF));
    let (run, size) = (symbol >> 4, symbol & 15);
    if entry == 0 || size == 0 || len + size > LOOKAHEAD {
        return 0;
    }
    let raw = ((idx >> (LOOKAHEAD - len - size)) & ((1 << size) - 1)) as i32;
    let value = if raw < (1 << (size - 1)) {
        raw + (-1 << size) + 1
    } else {
        raw
    };
    (value << 16) | (run << 8) as i32 | (len + size) as i32
}

/// Whether any byte of `v` is `0xFF`.
#[inline(always)]
fn has_ff_byte(v: u64) -> bool {
    let x = !v;
    x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0
}

/// Reads the entropy-coded data of one scan, bit by bit, most significant first.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// The next byte to read.
    pos: usize,
    /// Buffered bits, left-aligned: the next bit is bit 63.
    bits: u64,
    /// How many bits of [`Self::bits`] are valid.
    nbits: u32,
    /// A marker or the end of the data was reached: only zero bits follow.
    stopped: bool,
    /// How many of the buffered bits (the last ones) are such zeros.
    padding: u32,
}

impl<'a> BitReader<'a> {
    /// A reader of `data` starting at byte `pos`.
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader {
            data,
            pos,
            bits: 0,
            nbits: 0,
            stopped: false,
            padding: 0,
        }
    }

    /// Whether zero bits past the end of the segment's data have been taken: the data ended
    /// before the scan did (libjpeg warns and goes on with zeros).
    pub(crate) fn ran_out(&self) -> bool {
        self.padding > self.nbits
    }

    /// The position of the first byte not yet taken into the bit buffer.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Fills the buffer to at least 57 bits.
    #[inline]
    fn refill(&mut self) {
        // Fast path: the next 8 bytes hold no 0xFF (no stuffing, no marker).
        if !self.stopped
            && let Some(chunk) = self.data.get(self.pos..self.pos + 8)
            && let Ok(bytes) = <[u8; 8]>::try_from(chunk)
        {
            let v = u64::from_be_bytes(bytes);
            if !has_ff_byte(v) {
                let take = (64 - self.nbits) / 8;
                self.bits |= (v >> (64 - 8 * take)) << (64 - self.nbits - 8 * take);
                self.nbits += 8 * take;
                self.pos += take as usize;
                return;
            }
        }
        while self.nbits <= 56 {
            let byte = if self.stopped { 0 } else { self.next_byte() };
            if self.stopped {
                self.padding += 8;
            }
            self.bits |= u64::from(byte) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    /// The next data byte, resolving byte stuffing; 0 from a marker on.
    #[inline]
    fn next_byte(&mut self) -> u8 {
        let Some(&b) = self.data.get(self.pos) else {
            self.stopped = true;
            return 0;
        };
        if b != 0xFF {
            self.pos += 1;
            return b;
        }
        let mut p = self.pos + 1;
        while self.data.get(p) == Some(&0xFF) {
            p += 1;
        }
        if self.data.get(p) == Some(&0) {
            self.pos = p + 1;
            0xFF
        } else {
            // A marker: leave it for the marker reader.
            self.stopped = true;
            0
        }
    }

    /// Makes sure at least 32 bits are buffered (enough for a code and its extra bits).
    #[inline]
    pub(crate) fn ensure(&mut self) {
        if self.nbits < 32 {
            self.refill();
        }
    }

    /// Takes `n` bits (0..=16) as an unsigned number. Call [`Self::ensure`] first.
    #[inline]
    pub(crate) fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let v = (self.bits >> (64 - n)) as u32;
        self.bits <<= n;
        self.nbits -= n;
        v
    }

    /// Takes one bit. Call [`Self::ensure`] first.
    #[inline]
    pub(crate) fn bit(&mut self) -> bool {
        self.bits(1) != 0
    }

    /// Takes `s` bits (0..=15) and sign-extends them the JPEG way (`HUFF_EXTEND`).
    #[inline]
    pub(crate) fn extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.bits(s) as i32;
        if v < (1 << (s - 1)) {
            v + (-1 << s) + 1
        } else {
            v
        }
    }

    /// Decodes an AC code and its extra bits in one look-up when they are short: returns
    /// `value << 16 | run << 8 | bits used` (see [`HuffTable::fast_ac`]), or 0 (nothing taken)
    /// for [`Self::decode`] to handle. Call [`Self::ensure`] first.
    #[inline]
    pub(crate) fn fast_ac(&mut self, t: &HuffTable) -> i32 {
        let e = t
            .fast_ac
            .get((self.bits >> (64 - LOOKAHEAD)) as usize)
            .copied()
            .unwrap_or(0);
        if e != 0 {
            let n = (e & 0xFF) as u32;
            self.bits <<= n;
            self.nbits -= n;
        }
        e
    }

    /// Decodes one Huffman symbol. Call [`Self::ensure`] first.
    #[inline]
    pub(crate) fn decode(&mut self, t: &HuffTable) -> Result<u8, Corrupt> {
        let look = (self.bits >> (64 - LOOKAHEAD)) as usize;
        let entry = t.lookup[look];
        if entry != 0 {
            let len = u32::from(entry >> 8);
            self.bits <<= len;
            self.nbits -= len;
            return Ok(entry as u8);
        }
        for len in LOOKAHEAD + 1..=16 {
            let code = (self.bits >> (64 - len)) as i32;
            if code <= t.maxcode[len as usize] {
                self.bits <<= len;
                self.nbits -= len;
                let idx = code + t.valoffset[len as usize];
                return usize::try_from(idx)
                    .ok()
                    .and_then(|i| t.symbols.get(i).copied())
                    .ok_or(Corrupt::BadHuffmanCode);
            }
        }
        Err(Corrupt::BadHuffmanCode)
    }

    /// Drops the buffered bits and reads the restart marker `RST{expected}` that must follow;
    /// after it, data is read again.
    pub(crate) fn restart(&mut self, expected: u8) -> Result<(), Corrupt> {
        if self.ran_out() {
            return Err(Corrupt::Truncated);
        }
        self.bits = 0;
        self.nbits = 0;
        self.stopped = false;
        self.padding = 0;
        // libjpeg skips whatever precedes the marker (with a warning).
        while self.pos < self.data.len() {
            if self.data[self.pos] == 0xFF {
                let mut p = self.pos + 1;
                while self.data.get(p) == Some(&0xFF) {
                    p += 1;
                }
                match self.data.get(p) {
                    Some(0) => self.pos = p + 1,
                    Some(&code) if code == 0xD0 + expected => {
                        self.pos = p + 1;
                        return Ok(());
                    }
                    _ => return Err(Corrupt::BadRestart),
                }
            } else {
                self.pos += 1;
            }
        }
        Err(Corrupt::BadRestart)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The table of JPEG Annex K.3 for luminance DC differences.
    fn dc_luma() -> HuffTable {
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        let symbols: Vec<u8> = (0..12).collect();
        HuffTable::new(&counts, &symbols, true).unwrap()
    }

    #[test]
    fn decodes_canonical_codes_and_extends() {
        let t = dc_luma();
        // Codes: 0 → "00", 1 → "010", 2 → "011", 5 → "110", 11 → "111111110".
        // Bits: 00 | 010 1 | 011 00 | 110 10110 | 111111110 + padding.
        let bits = "00010101100110101101111111100";
        let mut bytes = Vec::new();
        let mut padded = bits.to_string();
        while !padded.len().is_multiple_of(8) {
            padded.push('1');
        }
        for chunk in padded.as_bytes().chunks(8) {
            bytes.push(u8::from_str_radix(std::str::from_utf8(chunk).unwrap(), 2).unwrap());
        }
        let mut r = BitReader::new(&bytes, 0);
        r.ensure();
        assert_eq!(r.decode(&t).unwrap(), 0);
        assert_eq!(r.decode(&t).unwrap(), 1);
        assert_eq!(r.extend(1), 1);
        assert_eq!(r.decode(&t).unwrap(), 2);
        assert_eq!(r.extend(2), -3);
        assert_eq!(r.decode(&t).unwrap(), 5);
        assert_eq!(r.extend(5), 22);
        assert_eq!(r.decode(&t).unwrap(), 11);
    }

    #[test]
    fn stuffed_bytes_and_markers() {
        // FF 00 is a data byte FF; FF FF 00 too; FF D9 stops the data (zeros follow).
        let bytes = [0xFF, 0x00, 0xFF, 0xFF, 0x00, 0x81, 0xFF, 0xD9, 0x12];
        let mut r = BitReader::new(&bytes, 0);
        r.ensure();
        assert_eq!(r.bits(16), 0xFFFF);
        assert_eq!(r.bits(8), 0x81);
        assert_eq!(r.bits(16), 0);
        assert_eq!(r.position(), 6);
        assert!(r.ran_out());
    }

    #[test]
    fn restart_marker_must_match() {
        let bytes = [0xAB, 0xFF, 0xD3, 0x55];
        let mut r = BitReader::new(&bytes, 0);
        r.ensure();
        assert_eq!(r.bits(4), 0xA);
        r.restart(3).unwrap();
        r.ensure();
        assert_eq!(r.bits(8), 0x55);
        let mut r = BitReader::new(&bytes, 0);
        assert_eq!(r.restart(4), Err(Corrupt::BadRestart));
    }

    #[test]
    fn bad_tables_are_refused() {
        // Three codes of length 1 do not fit.
        let mut counts = [0u8; 16];
        counts[0] = 3;
        assert!(HuffTable::new(&counts, &[1, 2, 3], false).is_err());
        // Two codes of length 1: the second is all ones.
        counts[0] = 2;
        assert!(HuffTable::new(&counts, &[1, 2], false).is_err());
        // Counts and symbols disagree.
        counts[0] = 0;
        counts[1] = 2;
        assert!(HuffTable::new(&counts, &[1], false).is_err());
        // A DC symbol over 15.
        assert!(HuffTable::new(&counts, &[1, 16], true).is_err());
        assert!(HuffTable::new(&counts, &[1, 16], false).is_ok());
    }

    #[test]
    fn fast_ac_agrees_with_the_slow_path() {
        // AC luminance-like table: symbols with various runs and sizes on short codes.
        let counts = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
        let mut symbols: Vec<u8> = Vec::new();
        for r in 0..16u8 {
            for s in 0..11u8 {
                if symbols.len() < 162 && (s != 0 || r == 0 || r == 15) {
                    symbols.push(r << 4 | s);
                }
            }
        }
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        symbols.truncate(total);
        let t = HuffTable::new(&counts, &symbols, false).unwrap();
        let mut seed = 7u32;
        let bytes: Vec<u8> = (0..4000)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((seed >> 24) as u8).min(0xFE)
            })
            .collect();
        let (mut fast, mut slow) = (BitReader::new(&bytes, 0), BitReader::new(&bytes, 0));
        let mut hits = 0;
        for _ in 0..2000 {
            fast.ensure();
            slow.ensure();
            let f = fast.fast_ac(&t);
            let want = match slow.decode(&t) {
                Ok(rs) => (u32::from(rs >> 4), slow.extend(u32::from(rs & 15))),
                Err(_) => break,
            };
            if f != 0 {
                hits += 1;
                assert_eq!((((f >> 8) & 15) as u32, f >> 16), want);
            } else {
                let rs = fast.decode(&t).unwrap();
                assert_eq!((u32::from(rs >> 4), fast.extend(u32::from(rs & 15))), want);
            }
            assert_eq!(fast.bits(3), slow.bits(3));
        }
        assert!(hits > 100, "{hits}");
    }

    #[test]
    fn unknown_code_is_an_error() {
        // Only code "0" exists; "1111..." is no code.
        let mut counts = [0u8; 16];
        counts[0] = 1;
        let t = HuffTable::new(&counts, &[7], false).unwrap();
        let bytes = [0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00];
        let mut r = BitReader::new(&bytes, 0);
        r.ensure();
        assert_eq!(r.decode(&t), Err(Corrupt::BadHuffmanCode));
    }
}
