//! Pin and re-roll: keep the part of a sample the user likes and fill the rest again.
//!
//! A *pin* is a mask over part of the hole (what the user brushed to keep) and the sample it
//! keeps pixels from. Applying it gives the next generation's inputs: the photo with the kept
//! pixels pasted in, and the hole minus the pin. The kept pixels are then known pixels like
//! any other, so every new sample keeps them byte for byte and the hard map (computed from
//! the mask) treats them as context. Pins stack: the second is brushed over a sample of the
//! first re-roll, and so on ([`PinStack`]); undo drops the last one.

use std::sync::Arc;

use image::RgbImage;

use crate::detail::DetailMode;
use crate::error::{Error, Result};
use crate::inference::ZSpec;
use crate::mask::Mask;

use super::same_size;

/// One pin: the sample it keeps pixels from, whether that sample was detailed, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    /// The sample the kept pixels come from (made under the pins before this one).
    pub source: ZSpec,
    /// Whether the kept pixels are the detailed sample ([`DetailMode::Patch`]) or the raw one.
    pub detail: DetailMode,
    /// The kept pixels (photo-sized; inside the hole the pin was made on).
    pub keep: Mask,
}

/// `keep` restricted to `hole` (a brush stroke may spill over known pixels).
///
/// # Errors
/// [`Error::Shape`] when the masks differ in size; [`Error::Input`] when the pin keeps no hole
/// pixel, or keeps all of them (nothing would be left to re-roll).
pub fn effective_keep(hole: &Mask, keep: &Mask) -> Result<Mask> {
    same_size(
        "the pin mask",
        (hole.width, hole.height),
        (keep.width, keep.height),
    )?;
    let flags: Vec<u8> = hole
        .holes()
        .iter()
        .zip(keep.holes())
        .map(|(&h, &k)| u8::from(h != 0 && k != 0))
        .collect();
    let kept = flags.iter().filter(|&&v| v != 0).count();
    if kept == 0 {
        return Err(Error::Input(
            "the pin keeps no pixel of the hole (white = keep, over the hole)".into(),
        ));
    }
    if kept == hole.hole_count() {
        return Err(Error::Input(
            "the pin keeps the whole hole: nothing would be left to fill".into(),
        ));
    }
    Mask::from_holes(hole.width, hole.height, flags)
}

/// The effective masks of pins applied in order to `hole` ([`effective_keep`] against the hole
/// each one is made on). Needs no model: it says up front whether a list of pins can apply.
///
/// # Errors
/// As [`effective_keep`], for the first pin that fails.
pub fn effective_keeps(hole: &Mask, keeps: &[Mask]) -> Result<Vec<Mask>> {
    let mut h = hole.clone();
    let mut out = Vec::with_capacity(keeps.len());
    for (i, k) in keeps.iter().enumerate() {
        let e = effective_keep(&h, k).map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("pin {}: {m}", i + 1)),
            other => other,
        })?;
        h = remaining_hole(&h, &e);
        out.push(e);
    }
    Ok(out)
}

/// The hole left after pins that keep `keeps` in order (each restricted to the hole it is
/// made on, as [`effective_keeps`]).
///
/// # Errors
/// As [`effective_keeps`].
pub fn hole_after(hole: &Mask, keeps: &[Mask]) -> Result<Mask> {
    let mut h = hole.clone();
    for k in effective_keeps(hole, keeps)? {
        h = remaining_hole(&h, &k);
    }
    Ok(h)
}

fn remaining_hole(hole: &Mask, keep: &Mask) -> Mask {
    let flags: Vec<u8> = hole
        .holes()
        .iter()
        .zip(keep.holes())
        .map(|(&h, &k)| u8::from(h != 0 && k == 0))
        .collect();
    Mask::from_holes(hole.width, hole.height, flags).unwrap_or_else(|_| hole.clone())
}

/// The next generation's inputs: `photo` with the pixels of `kept` (a finished sample of
/// `photo` and `hole`, at full resolution) pasted where `keep` covers the hole, and `hole`
/// without them.
///
/// # Errors
/// [`Error::Shape`] when the sizes differ; [`Error::Input`] as [`effective_keep`].
pub fn apply_pin(
    photo: &RgbImage,
    hole: &Mask,
    kept: &RgbImage,
    keep: &Mask,
) -> Result<(RgbImage, Mask)> {
    let size = photo.dimensions();
    same_size("the hole mask", size, (hole.width, hole.height))?;
    same_size("the kept sample", size, kept.dimensions())?;
    let keep = effective_keep(hole, keep)?;
    let mut out = photo.clone();
    for ((o, k), &f) in out.pixels_mut().zip(kept.pixels()).zip(keep.holes()) {
        if f != 0 {
            *o = *k;
        }
    }
    Ok((out, remaining_hole(hole, &keep)))
}

/// A photo and hole with pins applied in order; each layer keeps its inputs so that undo
/// (dropping the last pin) is immediate. Memory: one photo and one mask per pin. The images
/// are shared ([`PinStack::current_shared`]) so a request can take them without a copy.
#[derive(Debug, Clone)]
pub struct PinStack {
    photo: Arc<RgbImage>,
    hole: Arc<Mask>,
    layers: Vec<(Pin, Arc<RgbImage>, Arc<Mask>)>,
}

impl PinStack {
    /// Starts from the photo and its hole.
    ///
    /// # Errors
    /// [`Error::Shape`] when the mask is not the photo's size.
    pub fn new(photo: RgbImage, hole: Mask) -> Result<Self> {
        Self::new_shared(Arc::new(photo), Arc::new(hole))
    }

    /// [`PinStack::new`] from shared images.
    ///
    /// # Errors
    /// [`Error::Shape`] when the mask is not the photo's size.
    pub fn new_shared(photo: Arc<RgbImage>, hole: Arc<Mask>) -> Result<Self> {
        same_size(
            "the hole mask",
            photo.dimensions(),
            (hole.width, hole.height),
        )?;
        Ok(Self {
            photo,
            hole,
            layers: Vec::new(),
        })
    }

    /// Pins the part `keep` of `kept` (the finished sample `source` of the current inputs,
    /// detailed or not as `detail` says); the stored pin holds the effective mask.
    ///
    /// # Errors
    /// As [`apply_pin`].
    pub fn push(
        &mut self,
        source: ZSpec,
        detail: DetailMode,
        kept: &RgbImage,
        keep: &Mask,
    ) -> Result<()> {
        let (photo, hole) = self.current();
        let eff = effective_keep(hole, keep)?;
        let (p, h) = apply_pin(photo, hole, kept, &eff)?;
        let pin = Pin {
            source,
            detail,
            keep: eff,
        };
        self.layers.push((pin, Arc::new(p), Arc::new(h)));
        Ok(())
    }

    /// Drops the last pin (undo), returning it.
    pub fn pop(&mut self) -> Option<Pin> {
        self.layers.pop().map(|(p, _, _)| p)
    }

    /// The photo and hole the next generation starts from.
    pub fn current(&self) -> (&RgbImage, &Mask) {
        self.layers
            .last()
            .map_or((&self.photo, &self.hole), |(_, p, h)| (p, h))
    }

    /// [`PinStack::current`], shared.
    pub fn current_shared(&self) -> (Arc<RgbImage>, Arc<Mask>) {
        let (p, h) = self
            .layers
            .last()
            .map_or((&self.photo, &self.hole), |(_, p, h)| (p, h));
        (p.clone(), h.clone())
    }

    /// The photo and hole before any pin.
    pub fn base(&self) -> (&RgbImage, &Mask) {
        (&self.photo, &self.hole)
    }

    /// The pixels the pins keep, all together (white = kept): the hole before any pin minus
    /// the hole now.
    pub fn kept(&self) -> Mask {
        let now = self.current().1;
        let flags: Vec<u8> = self
            .hole
            .holes()
            .iter()
            .zip(now.holes())
            .map(|(&a, &b)| u8::from(a != 0 && b == 0))
            .collect();
        Mask::from_holes(self.hole.width, self.hole.height, flags)
            .unwrap_or_else(|_| Mask::new_empty(self.hole.width, self.hole.height))
    }

    /// The pins so far, in order.
    pub fn pins(&self) -> impl Iterator<Item = &Pin> {
        self.layers.iter().map(|(p, _, _)| p)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use image::Rgb;

    fn hole() -> Mask {
        Mask::from_hole_fn(20, 10, |x, _| (5..15).contains(&x))
    }

    #[test]
    fn a_pin_pastes_the_kept_pixels_and_shrinks_the_hole() {
        let photo = RgbImage::from_pixel(20, 10, Rgb([1, 2, 3]));
        let sample = RgbImage::from_pixel(20, 10, Rgb([9, 9, 9]));
        // The brush spills over known pixels (x < 5): they are not taken.
        let keep = Mask::from_hole_fn(20, 10, |x, _| x < 8);
        let (p, h) = apply_pin(&photo, &hole(), &sample, &keep).unwrap();
        for x in 0..20 {
            let want = if (5..8).contains(&x) { 9 } else { 1 };
            assert_eq!(p.get_pixel(x, 4)[0], want, "x {x}");
            assert_eq!(h.is_hole(x, 4), (8..15).contains(&x), "x {x}");
        }
    }

    #[test]
    fn pins_that_keep_nothing_or_everything_are_refused() {
        let photo = RgbImage::new(20, 10);
        let none = Mask::from_hole_fn(20, 10, |x, _| x < 5);
        assert!(apply_pin(&photo, &hole(), &photo, &none).is_err());
        let all = Mask::from_hole_fn(20, 10, |_, _| true);
        assert!(apply_pin(&photo, &hole(), &photo, &all).is_err());
        // Two pins that together cover the hole: the second is refused, naming it.
        let a = Mask::from_hole_fn(20, 10, |x, _| x < 10);
        let b = Mask::from_hole_fn(20, 10, |x, _| x >= 10);
        let e = effective_keeps(&hole(), &[a.clone(), b]).unwrap_err();
        assert!(e.to_string().starts_with("pin 2:"), "{e}");
        assert_eq!(
            effective_keeps(&hole(), std::slice::from_ref(&a))
                .unwrap()
                .len(),
            1
        );
        let left = hole_after(&hole(), &[a]).unwrap();
        assert_eq!(left.hole_count(), 5 * 10, "x 10..15 is left");
        assert!(left.is_hole(12, 3) && !left.is_hole(7, 3));
    }

    #[test]
    fn pins_stack_and_undo() {
        let photo = RgbImage::from_pixel(20, 10, Rgb([0, 0, 0]));
        let mut st = PinStack::new(photo.clone(), hole()).unwrap();
        let s1 = RgbImage::from_pixel(20, 10, Rgb([100, 0, 0]));
        let s2 = RgbImage::from_pixel(20, 10, Rgb([0, 100, 0]));
        st.push(
            ZSpec::Seed(1),
            DetailMode::Off,
            &s1,
            &Mask::from_hole_fn(20, 10, |x, _| x < 7),
        )
        .unwrap();
        st.push(
            ZSpec::Seed(2),
            DetailMode::Patch,
            &s2,
            &Mask::from_hole_fn(20, 10, |x, _| x >= 12),
        )
        .unwrap();
        let (p, h) = st.current();
        assert_eq!(p.get_pixel(6, 0)[0], 100);
        assert_eq!(p.get_pixel(13, 0)[1], 100);
        assert_eq!(h.hole_count(), 5 * 10);
        assert_eq!(st.pins().count(), 2);
        assert_eq!(st.kept().hole_count(), 5 * 10, "what the two pins keep");
        assert_eq!(st.pop().map(|p| p.source), Some(ZSpec::Seed(2)));
        assert_eq!(st.current().1.hole_count(), 8 * 10);
        st.pop();
        assert_eq!(st.current().0, &photo);
        assert_eq!(st.current().1, &hole());
    }
}
