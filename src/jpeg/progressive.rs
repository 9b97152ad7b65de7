//! The block decoders of progressive scans (`jdphuff.c`): DC first and refinement scans, AC
//! first scans with end-of-band runs, and AC refinement scans with their correction bits.
//! Coefficients accumulate in the full-image buffer; the image is made after the last scan.

use super::error::Corrupt;
use super::huffman::{BitReader, HuffTable};
use super::markers::NATURAL;
use super::scan::BlockDecoder;

/// The first scan of the DC coefficients (point transform `al`), possibly interleaved.
pub(crate) struct DcFirst<'t> {
    /// DC table of each scan component.
    pub(crate) dc: Vec<&'t HuffTable>,
    /// The DC prediction of each scan component.
    pub(crate) pred: [i32; 4],
    /// Point transform.
    pub(crate) al: u8,
}

impl BlockDecoder for DcFirst<'_> {
    #[inline]
    fn block(
        &mut self,
        r: &mut BitReader<'_>,
        slot: usize,
        block: &mut [i16; 64],
    ) -> Result<(), Corrupt> {
        r.ensure();
        let s = r.decode(self.dc[slot])?;
        let diff = r.extend(u32::from(s));
        self.pred[slot] = self.pred[slot].wrapping_add(diff);
        block[0] = self.pred[slot].wrapping_mul(1 << self.al) as i16;
        Ok(())
    }

    fn restart(&mut self) {
        self.pred = [0; 4];
    }
}

/// A DC refinement scan: one more bit of each DC coefficient.
pub(crate) struct DcRefine {
    /// Point transform (the bit being sent).
    pub(crate) al: u8,
}

impl BlockDecoder for DcRefine {
    #[inline]
    fn block(
        &mut self,
        r: &mut BitReader<'_>,
        _slot: usize,
        block: &mut [i16; 64],
    ) -> Result<(), Corrupt> {
        r.ensure();
        if r.bit() {
            block[0] |= 1 << self.al;
        }
        Ok(())
    }

    fn restart(&mut self) {}
}

/// The first scan of AC coefficients `ss..=se` of one component.
pub(crate) struct AcFirst<'t> {
    /// The AC table.
    pub(crate) ac: &'t HuffTable,
    /// Start of spectral selection.
    pub(crate) ss: usize,
    /// End of spectral selection.
    pub(crate) se: usize,
    /// Point transform.
    pub(crate) al: u8,
    /// Blocks left in the current end-of-band run.
    pub(crate) eobrun: u32,
}

impl BlockDecoder for AcFirst<'_> {
    #[inline]
    fn block(
        &mut self,
        r: &mut BitReader<'_>,
        _slot: usize,
        block: &mut [i16; 64],
    ) -> Result<(), Corrupt> {
        if self.eobrun > 0 {
            self.eobrun -= 1;
            return Ok(());
        }
        let mut k = self.ss;
        while k <= self.se {
            r.ensure();
            let rs = r.decode(self.ac)?;
            let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
            if size != 0 {
                k += run as usize;
                block[NATURAL[k]] = r.extend(size).wrapping_mul(1 << self.al) as i16;
            } else if run == 15 {
                k += 15;
            } else {
                self.eobrun = 1 << run;
                if run != 0 {
                    self.eobrun += r.bits(run);
                }
                self.eobrun -= 1;
                break;
            }
            k += 1;
        }
        Ok(())
    }

    fn restart(&mut self) {
        self.eobrun = 0;
    }
}

/// A refinement scan of AC coefficients `ss..=se` of one component: one more bit of the
/// coefficients already non-zero, and the coefficients that become non-zero (±1 at this bit).
pub(crate) struct AcRefine<'t> {
    /// The AC table.
    pub(crate) ac: &'t HuffTable,
    /// Start of spectral selection.
    pub(crate) ss: usize,
    /// End of spectral selection.
    pub(crate) se: usize,
    /// Point transform (the bit being sent).
    pub(crate) al: u8,
    /// Blocks left in the current end-of-band run.
    pub(crate) eobrun: u32,
}

impl AcRefine<'_> {
    /// Adds a correction bit to the non-zero coefficient at natural position `pos`.
    #[inline]
    fn correct(&self, r: &mut BitReader<'_>, block: &mut [i16; 64], pos: usize) {
        let p1: i16 = 1 << self.al;
        let c = block[pos];
        r.ensure();
        if r.bit() && c & p1 == 0 {
            block[pos] = if c >= 0 {
                c.wrapping_add(p1)
            } else {
                c.wrapping_sub(p1)
            };
        }
    }
}

impl BlockDecoder for AcRefine<'_> {
    fn block(
        &mut self,
        r: &mut BitReader<'_>,
        _slot: usize,
        block: &mut [i16; 64],
    ) -> Result<(), Corrupt> {
        let p1: i16 = 1 << self.al;
        let mut k = self.ss;
        if self.eobrun == 0 {
            while k <= self.se {
                r.ensure();
                let rs = r.decode(self.ac)?;
                let (mut run, size) = (i32::from(rs >> 4), rs & 15);
                let mut value = 0i16;
                if size != 0 {
                    // The size should be 1 (libjpeg warns otherwise and goes on).
                    value = if r.bit() { p1 } else { -p1 };
                } else if run != 15 {
                    self.eobrun = 1 << run;
                    if run != 0 {
                        self.eobrun += r.bits(run as u32);
                    }
                    break;
                }
                // Skip the already non-zero coefficients (refining them) and `run` zero ones.
                loop {
                    let pos = NATURAL[k];
                    if block[pos] != 0 {
                        self.correct(r, block, pos);
                    } else {
                        run -= 1;
                        if run < 0 {
                            break;
                        }
                    }
                    k += 1;
                    if k > self.se {
                        break;
                    }
                }
                if value != 0 {
                    block[NATURAL[k]] = value;
                }
                k += 1;
            }
        }
        if self.eobrun > 0 {
            // The rest of the band: refine the non-zero coefficients only.
            while k <= self.se {
                let pos = NATURAL[k];
                if block[pos] != 0 {
                    self.correct(r, block, pos);
                }
                k += 1;
            }
            self.eobrun -= 1;
        }
        Ok(())
    }

    fn restart(&mut self) {
        self.eobrun = 0;
    }
}
