//! Decoding one scan's entropy-coded data into the coefficient buffer: the walk over MCUs
//! (interleaved) or blocks (one component), restart markers, and the sequential Huffman block
//! decoder. The progressive block decoders are in [`super::progressive`].

use super::error::Corrupt;
use super::huffman::{BitReader, HuffTable};
use super::markers::{Frame, NATURAL, ScanHeader};

/// The quantised DCT coefficients of every block of every component, in natural order.
pub(crate) struct Coefficients {
    /// Per component: `rows_blocks · stride_blocks` blocks of 64 coefficients.
    pub(crate) comps: Vec<Vec<i16>>,
}

impl Coefficients {
    /// Zeroed coefficients for `frame`.
    pub(crate) fn new(frame: &Frame) -> Self {
        Coefficients {
            comps: frame
                .components
                .iter()
                .map(|c| vec![0i16; c.stride_blocks * c.rows_blocks * 64])
                .collect(),
        }
    }
}

/// Decodes one block of a scan.
pub(crate) trait BlockDecoder {
    /// Decodes the next block of the scan's component `slot` (index in the scan header) into
    /// `block`.
    fn block(
        &mut self,
        r: &mut BitReader<'_>,
        slot: usize,
        block: &mut [i16; 64],
    ) -> Result<(), Corrupt>;

    /// Resets the decoder's state at a restart marker (DC predictions, end-of-band run).
    fn restart(&mut self);
}

/// Decodes the scan whose entropy-coded data starts at `data[pos]` with `dec`, and returns the
/// position where reading stopped (at or before the next marker).
///
/// A scan of one component covers the blocks that hold its samples, row by row; a scan of
/// several covers whole MCUs, each with `h × v` blocks of each component in scan order.
/// Every `restart_interval` MCUs (when not 0) a restart marker must follow.
pub(crate) fn decode_scan<D: BlockDecoder>(
    frame: &Frame,
    scan: &ScanHeader,
    coefs: &mut Coefficients,
    data: &[u8],
    pos: usize,
    restart_interval: usize,
    dec: &mut D,
) -> Result<usize, Corrupt> {
    let mut r = BitReader::new(data, pos);
    let mut next_restart = 0u8;
    let mut restart = |r: &mut BitReader<'_>, dec: &mut D, mcu: usize| -> Result<(), Corrupt> {
        if restart_interval > 0 && mcu > 0 && mcu.is_multiple_of(restart_interval) {
            r.restart(next_restart)?;
            next_restart = (next_restart + 1) & 7;
            dec.restart();
        }
        Ok(())
    };
    if let [ci] = scan.comps[..] {
        let comp = &frame.components[ci];
        let plane = &mut coefs.comps[ci];
        for by in 0..comp.blocks_h {
            for bx in 0..comp.blocks_w {
                restart(&mut r, dec, by * comp.blocks_w + bx)?;
                let block = block_at(plane, comp.stride_blocks, bx, by)?;
                dec.block(&mut r, 0, block)?;
            }
            if r.ran_out() {
                return Err(Corrupt::Truncated);
            }
        }
    } else {
        for my in 0..frame.mcus_y {
            for mx in 0..frame.mcus_x {
                restart(&mut r, dec, my * frame.mcus_x + mx)?;
                for (slot, &ci) in scan.comps.iter().enumerate() {
                    let comp = &frame.components[ci];
                    let plane = &mut coefs.comps[ci];
                    for j in 0..comp.v {
                        for i in 0..comp.h {
                            let block = block_at(
                                plane,
                                comp.stride_blocks,
                                mx * comp.h + i,
                                my * comp.v + j,
                            )?;
                            dec.block(&mut r, slot, block)?;
                        }
                    }
                }
            }
            if r.ran_out() {
                return Err(Corrupt::Truncated);
            }
        }
    }
    Ok(r.position())
}

/// The block at block column `bx`, block row `by` of a component's coefficients.
#[inline]
fn block_at(
    plane: &mut [i16],
    stride: usize,
    bx: usize,
    by: usize,
) -> Result<&mut [i16; 64], Corrupt> {
    let start = (by * stride + bx) * 64;
    plane
        .get_mut(start..)
        .and_then(|s| s.first_chunk_mut::<64>())
        .ok_or(Corrupt::Truncated)
}

/// The Huffman tables a scan component uses.
pub(crate) fn tables<'t>(
    ids: &[u8],
    tables: &'t [Option<HuffTable>; 4],
) -> Result<Vec<&'t HuffTable>, u8> {
    ids.iter()
        .map(|&id| tables[usize::from(id)].as_ref().ok_or(id))
        .collect()
}

/// The block decoder of sequential (baseline and extended) scans: a DC difference and the
/// run-length coded AC terms of each block.
pub(crate) struct Sequential<'t> {
    /// DC table of each scan component.
    pub(crate) dc: Vec<&'t HuffTable>,
    /// AC table of each scan component.
    pub(crate) ac: Vec<&'t HuffTable>,
    /// The DC prediction of each scan component.
    pub(crate) pred: [i32; 4],
}

impl BlockDecoder for Sequential<'_> {
    #[inline]
    fn block(
        &mut self,
        r: &mut BitReader<'_>,
        slot: usize,
        block: &mut [i16; 64],
    ) -> Result<(), Corrupt> {
        block.fill(0);
        r.ensure();
        let s = r.decode(self.dc[slot])?;
        let diff = r.extend(u32::from(s));
        self.pred[slot] = self.pred[slot].wrapping_add(diff);
        block[0] = self.pred[slot] as i16;
        let ac = self.ac[slot];
        let mut k = 1usize;
        while k < 64 {
            r.ensure();
            let fast = r.fast_ac(ac);
            if fast != 0 {
                k += ((fast >> 8) & 15) as usize;
                block[NATURAL[k]] = (fast >> 16) as i16;
                k += 1;
                continue;
            }
            let rs = r.decode(ac)?;
            let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
            if size != 0 {
                k += run;
                block[NATURAL[k]] = r.extend(size) as i16;
                k += 1;
            } else if run == 15 {
                k += 16;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn restart(&mut self) {
        self.pred = [0; 4];
    }
}
