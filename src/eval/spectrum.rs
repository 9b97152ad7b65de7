//! Spectral excess: how much energy a fill puts at spatial frequencies beyond what the photo
//! has there. It is the number behind the question "are the grid and the speckle gone?".
//!
//! For an output `o` and the truth `t` (both the whole composited crop, [-1, 1]), the measure
//! is the mean over colour channels and frequencies of `max(0, E(o) − E(t))`, the training
//! term's measure ([`crate::train::losses::spectrum_excess_each`]; `E` is the log spectral
//! envelope: the orthonormal 2-D DFT's amplitude, averaged over each frequency's 3×3
//! neighbours, `log(0.01 + ·)`). The known pixels are the truth's,
//! so only the fill (and its seam) can add anything. A lattice of marks a fixed number of
//! pixels apart is a peak at its period and harmonics, speckle raises the whole high-frequency
//! band; both count. A smooth or blurry fill, or one whose content sits elsewhere than the
//! truth's, counts nothing: the amplitude spectrum does not depend on where things are. So it
//! is not a fidelity measure (a flat grey fill scores 0): read it next to SWD and the VGG
//! distance. On the eval grids of this project's models a clean fill scores about what Telea
//! does (0.01–0.03) and a fill with the lattice three to five times that.

use crate::error::{Error, Result};
use crate::eval::metrics::Planes;
use crate::model::{tensor_from_vec, tensor_to_vec};
use crate::train::losses::spectrum_excess_each;

/// The spectral excess of every output of every method over the truth, in the order given:
/// `methods[m][k]` → `result[m][k]`. All outputs of one call go through the transform as one
/// batch.
///
/// # Errors
/// [`Error::Shape`] when an output's size differs from the truth's; errors of the backend.
pub fn spectral_excess(
    methods: &[&[Planes]],
    real: &Planes,
    device: &burn::tensor::Device,
) -> Result<Vec<Vec<f64>>> {
    let (c, h, w) = (real.c, real.h, real.w);
    let mut x: Vec<f32> = Vec::new();
    let mut n = 0usize;
    for o in methods.iter().flat_map(|m| m.iter()) {
        if (o.c, o.h, o.w) != (c, h, w) {
            return Err(Error::Shape(format!(
                "spectral excess: an output of {}×{}×{} against a truth of {c}×{h}×{w}",
                o.c, o.h, o.w
            )));
        }
        x.extend(o.to_unit_range());
        n += 1;
    }
    if n == 0 {
        return Ok(methods.iter().map(|_| Vec::new()).collect());
    }
    let excess = spectrum_excess_each(
        tensor_from_vec(x, [n, c, h, w], device),
        tensor_from_vec(real.to_unit_range(), [1, c, h, w], device),
    );
    let v = tensor_to_vec(excess)?;
    let mut it = v.into_iter().map(f64::from);
    Ok(methods
        .iter()
        .map(|m| it.by_ref().take(m.len()).collect())
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::prelude::*;

    fn planes(f: &dyn Fn(usize, usize, usize) -> f32, n: usize) -> Planes {
        let mut img = image::RgbImage::new(n as u32, n as u32);
        for (x, y, p) in img.enumerate_pixels_mut() {
            for c in 0..3 {
                p[c] = (f(c, y as usize, x as usize).clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
        Planes::from_rgb(&img)
    }

    #[test]
    fn a_lattice_counts_and_a_blur_or_a_move_does_not() {
        let n = 32;
        let photo = |c: usize, y: usize, x: usize| {
            0.5 + 0.2 * (std::f32::consts::TAU * x as f32 / n as f32).sin()
                + 0.1 * (std::f32::consts::TAU * (2 * y) as f32 / n as f32).cos()
                + 0.05 * c as f32
        };
        let truth = planes(&photo, n);
        let moved = planes(&|c, y, x| photo(c, (y + 3) % n, (x + 7) % n), n);
        let flat = planes(&|c, _, _| 0.5 + 0.05 * c as f32, n);
        let lattice = planes(
            &|c, y, x| photo(c, y, x) - if y % 8 < 2 && x % 8 < 2 { 0.3 } else { 0.0 },
            n,
        );
        let dev = Device::flex();
        let got = spectral_excess(
            &[
                &[truth.clone(), moved, flat],
                std::slice::from_ref(&lattice),
            ],
            &truth,
            &dev,
        )
        .unwrap();
        assert_eq!((got.len(), got[0].len(), got[1].len()), (2, 3, 1));
        assert!(got[0][0].abs() < 1e-9, "the truth itself: {}", got[0][0]);
        assert!(got[0][1] < 0.01, "moved: {}", got[0][1]);
        assert!(got[0][2] < 0.01, "flat: {}", got[0][2]);
        assert!(got[1][0] > 0.05, "lattice: {}", got[1][0]);
        let wrong = planes(&photo, 16);
        assert!(spectral_excess(&[std::slice::from_ref(&wrong)], &truth, &dev).is_err());
        assert_eq!(
            spectral_excess(&[&[]], &truth, &dev).unwrap(),
            vec![Vec::<f64>::new()]
        );
    }
}
