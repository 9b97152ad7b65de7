//! The hard probability map D^h of SPDNorm (docs/network.md §3.4), usable without any
//! network, and colormaps to look at it.
//!
//! For a known-pixel map `M0` (1 = known, 0 = hole) at one generator resolution, with
//! `M_i = dil_ks(M_{i-1})` (a binary ks×ks dilation with zero padding):
//!
//! ```text
//! D^h = M0 + Σ_{i=1..N} c_i·(M_i − M_{i−1}) + c_N·(1 − M_N)
//! ```
//!
//! Known pixels get 1, a hole pixel first reached at dilation step `i ≤ N` gets `c_i`, and hole
//! pixels still unreached after `N` steps get `c_N` (the same value as the last ring).
//! The authors' code uses `c_i = 1/e^i` ([`Decay::Exp`]); the paper writes `1/k^i` with `k = 4`
//! ([`Decay::Paper`]).
//!
//! Three implementations compute the same numbers and are tested equal:
//! * [`hard_map_cpu`]: the obvious reference (repeated dilations, the formula in `f32`);
//! * [`hard_map_fast`]: a chessboard distance transform, linear time whatever `N` and `ks`;
//! * [`hard_map_tensor`]: the Burn version used inside the generator (max-pool dilations).
//!
//! Each generator unit samples the full-resolution mask with a stride
//! ([`nearest_strided`], [`nearest_strided_tensor`]: the top-left pixel of each block, which is
//! what PyTorch's legacy `nearest` does for integer factors) and uses its own `(N, ks)`
//! ([`OFFICIAL_UNITS`], [`unit_hard_maps_cpu`]).

pub mod colormap;
mod hard;
mod tensor;

pub use colormap::{Colormap, log_scale, to_rgb_image};
pub use hard::{hard_map_cpu, hard_map_fast, nearest_strided, unit_hard_maps_cpu};
pub use tensor::{hard_map_tensor, nearest_strided_tensor};

/// The f32 bit patterns of `1/e^i` for `i = 1..=7`, as PyTorch computes
/// `1/torch.exp(torch.tensor(i))` (docs/network.md §3.4).
const EXP_DECAY_BITS: [u32; 7] = [
    0x3EBC_5AB2,
    0x3E0A_9555,
    0x3D4B_ED86,
    0x3C96_0AAE,
    0x3BDC_C9FF,
    0x3B22_728F,
    0x3A6F_0B5D,
];

/// How the hard map decays with the dilation step (the ring index) `i`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Decay {
    /// The authors' code: `c_i = 1/e^i` in `f32` (docs/network.md §3.4). For `i = 1..=7` these
    /// are exactly the constants of the table there; beyond that, `1.0f32 / (i as f32).exp()`.
    #[default]
    Exp,
    /// The paper: `c_i = 1/k^i` (the paper uses `k = 4`, see [`Decay::paper`]).
    Paper {
        /// The base of the decay.
        k: f32,
    },
}

impl Decay {
    /// The paper's decay, `1/4^i`.
    pub fn paper() -> Self {
        Decay::Paper { k: 4.0 }
    }

    /// The coefficient `c_i` for ring `i`; `c_0 = 1` (known pixels).
    pub fn coef(&self, i: usize) -> f32 {
        if i == 0 {
            return 1.0;
        }
        match *self {
            Decay::Exp => match EXP_DECAY_BITS.get(i - 1) {
                Some(&bits) => f32::from_bits(bits),
                None => 1.0f32 / (i as f32).exp(),
            },
            Decay::Paper { k } => {
                let e = i32::try_from(i).unwrap_or(i32::MAX);
                1.0f32 / k.powi(e)
            }
        }
    }
}

/// The hard-map parameters of one generator unit: `n` dilation steps of a `ks`×`ks` window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitMapSpec {
    /// The number of dilation steps N (rings); the interior beyond gets `c_N`.
    pub n: usize,
    /// The (odd) dilation window size.
    pub ks: usize,
}

/// The official `(N, ks)` of the six generator units, coarsest first: they run at
/// `res/64, res/32, …, res/2` (4…128 for a 256² input).
pub const OFFICIAL_UNITS: [UnitMapSpec; 6] = [
    UnitMapSpec { n: 2, ks: 3 },
    UnitMapSpec { n: 3, ks: 3 },
    UnitMapSpec { n: 4, ks: 3 },
    UnitMapSpec { n: 5, ks: 3 },
    UnitMapSpec { n: 6, ks: 5 },
    UnitMapSpec { n: 7, ks: 5 },
];

#[cfg(test)]
pub(crate) mod test_vectors {
    //! The test vectors of docs/network.md §3.4, shared by the CPU and tensor tests.

    /// `(h, w, n, ks, known, expected)`.
    pub type Vector = (usize, usize, usize, usize, Vec<f32>, Vec<f32>);

    const C1: f32 = 0.367_879_45;
    const C2: f32 = 0.135_335_28;
    const C3: f32 = 0.049_787_067;

    /// 8×8, N = 3, ks = 3, known = a 1-pixel border.
    pub fn border_8x8() -> Vector {
        let (h, w) = (8, 8);
        let mut known = vec![0.0; h * w];
        let mut expect = vec![0.0; h * w];
        for y in 0..h {
            for x in 0..w {
                // Chebyshev distance to the border ring.
                let d = y.min(x).min(h - 1 - y).min(w - 1 - x);
                known[y * w + x] = if d == 0 { 1.0 } else { 0.0 };
                expect[y * w + x] = [1.0, C1, C2, C3][d];
            }
        }
        (h, w, 3, 3, known, expect)
    }

    /// 4×4, N = 2, ks = 3, known only at (0, 0).
    pub fn corner_4x4() -> Vector {
        let mut known = vec![0.0; 16];
        known[0] = 1.0;
        #[rustfmt::skip]
        let expect = vec![
            1.0, C1, C2, C2,
            C1,  C1, C2, C2,
            C2,  C2, C2, C2,
            C2,  C2, C2, C2,
        ];
        (4, 4, 2, 3, known, expect)
    }

    /// 12×12, N = 2, ks = 5, known = rows 0-1 and cols 0-1.
    pub fn lshape_12x12() -> Vector {
        let (h, w) = (12, 12);
        let mut known = vec![0.0; h * w];
        let mut expect = vec![0.0; h * w];
        for y in 0..h {
            for x in 0..w {
                let m = y.min(x);
                known[y * w + x] = if m < 2 { 1.0 } else { 0.0 };
                expect[y * w + x] = if m < 2 {
                    1.0
                } else if m < 4 {
                    C1
                } else {
                    C2
                };
            }
        }
        (h, w, 2, 5, known, expect)
    }

    /// All three.
    pub fn all() -> Vec<Vector> {
        vec![border_8x8(), corner_4x4(), lshape_12x12()]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exp_decay_matches_spec_bits() {
        for (i, &bits) in EXP_DECAY_BITS.iter().enumerate() {
            let i = i + 1;
            assert_eq!(Decay::Exp.coef(i).to_bits(), bits, "c_{i}");
            // The computed formula agrees on this platform (informative: the table is used).
            let computed = 1.0f32 / (i as f32).exp();
            assert!((computed - f32::from_bits(bits)).abs() <= f32::EPSILON * computed);
        }
        assert_eq!(Decay::Exp.coef(0), 1.0);
        assert_eq!(Decay::Exp.coef(8), 1.0f32 / 8.0f32.exp());
    }

    #[test]
    fn spec_table_values() {
        let table = [
            0.367_879_45,
            0.135_335_28,
            0.049_787_067,
            0.018_315_64, // docs/network.md §3.4 prints 0.018315639: the same f32
            0.006_737_947,
            0.002_478_752,
            0.000_911_882, // docs/network.md §3.4 prints 0.00091188197: the same f32
        ];
        for (i, v) in table.iter().enumerate() {
            assert_eq!(Decay::Exp.coef(i + 1), *v);
        }
    }

    #[test]
    fn paper_decay() {
        let d = Decay::paper();
        assert_eq!(d.coef(0), 1.0);
        assert_eq!(d.coef(1), 0.25);
        assert_eq!(d.coef(2), 0.0625);
        assert_eq!(Decay::default(), Decay::Exp);
    }

    #[test]
    fn official_units() {
        let n: Vec<usize> = OFFICIAL_UNITS.iter().map(|u| u.n).collect();
        let ks: Vec<usize> = OFFICIAL_UNITS.iter().map(|u| u.ks).collect();
        assert_eq!(n, [2, 3, 4, 5, 6, 7]);
        assert_eq!(ks, [3, 3, 3, 3, 5, 5]);
    }
}
