//! Steering a diverse fill: the explorations of the studio and of `pdpaint inpaint` beyond
//! "N seeds", as plain data in and plain data out (images, masks, specs; no tensors, no UI).
//!
//! * **Interpolation** between two samples: [`crate::inference::ZSpec::between`] lists the
//!   samples of a strip, [`crate::inference::Session::sample_for`] makes one at a time.
//! * [`pin`]: keep part of a sample (a *pin*) and re-roll the rest: the kept pixels become
//!   known pixels of the next generation.
//! * [`mix`]: brush part of one sample into another, inside the hole, with a soft edge.
//! * [`score`]: rank samples by how well they meet the photo at the hole's edge (always) and
//!   by the discriminator's opinion (when the model has one).
//! * [`recipe`]: everything above recorded in `recipe.json`, loaded with limits (it is an
//!   untrusted file), saved atomically and replayed bit for bit.

pub mod mix;
pub mod pin;
pub mod recipe;
pub mod score;

use crate::mask::Mask;

/// A rectangle of pixels `[x0, x0 + width) × [y0, y0 + height)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub x0: u32,
    pub y0: u32,
    pub width: u32,
    pub height: u32,
}

impl Window {
    /// The bounding box `(x0, y0, x1, y1)` (exclusive ends) grown by `by` pixels on every
    /// side, clipped to a `w`×`h` image.
    pub fn around(bbox: (u32, u32, u32, u32), by: u32, w: u32, h: u32) -> Self {
        let (x0, y0, x1, y1) = bbox;
        let (gx0, gy0) = (x0.saturating_sub(by), y0.saturating_sub(by));
        let (gx1, gy1) = (x1.saturating_add(by).min(w), y1.saturating_add(by).min(h));
        Self {
            x0: gx0,
            y0: gy0,
            width: gx1.saturating_sub(gx0),
            height: gy1.saturating_sub(gy0),
        }
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Squared Euclidean distance from each window pixel to the nearest hole pixel of `mask`
    /// inside the window (row-major over the window; 1e20 or more when there is none).
    pub fn squared_distance_to_holes(&self, mask: &Mask) -> Vec<f64> {
        let mut feature = Vec::with_capacity(self.len());
        for y in self.y0..self.y0 + self.height {
            for x in self.x0..self.x0 + self.width {
                feature.push(mask.is_hole(x, y));
            }
        }
        crate::mask::squared_distance_transform(&feature, self.width as usize, self.height as usize)
    }
}

/// Checks that two images (or an image and a mask) have the same size.
pub(crate) fn same_size(what: &str, a: (u32, u32), b: (u32, u32)) -> crate::error::Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(crate::error::Error::Shape(format!(
            "{what}: {}×{} does not match the photo's {}×{}",
            b.0, b.1, a.0, a.1
        )))
    }
}
