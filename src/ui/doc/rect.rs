//! Rectangles of photo pixels: the unit of dirty-region tracking and of undo patches.

/// A rectangle of photo pixels `x0..x1` × `y0..y1` (exclusive ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PixelRect {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl PixelRect {
    /// The whole `w`×`h` image.
    pub fn full(w: u32, h: u32) -> Self {
        Self {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        }
    }

    /// The pixels whose centres can lie within `r` of the float box `(x0, y0)–(x1, y1)`,
    /// clamped to a `w`×`h` image; `None` when nothing is left.
    pub fn around(x0: f32, y0: f32, x1: f32, y1: f32, r: f32, w: u32, h: u32) -> Option<Self> {
        let clamp = |v: f32, hi: u32| -> u32 {
            if v.is_nan() {
                0
            } else {
                v.clamp(0.0, hi as f32) as u32
            }
        };
        let rect = Self {
            x0: clamp((x0.min(x1) - r - 1.0).floor(), w),
            y0: clamp((y0.min(y1) - r - 1.0).floor(), h),
            x1: clamp((x0.max(x1) + r + 1.0).ceil(), w),
            y1: clamp((y0.max(y1) + r + 1.0).ceil(), h),
        };
        (!rect.is_empty()).then_some(rect)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.x1.saturating_sub(self.x0)
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.y1.saturating_sub(self.y0)
    }

    /// Whether the rectangle holds no pixel.
    pub fn is_empty(&self) -> bool {
        self.width() == 0 || self.height() == 0
    }

    /// The number of pixels.
    pub fn area(&self) -> usize {
        self.width() as usize * self.height() as usize
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, o: &PixelRect) -> PixelRect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        PixelRect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    /// Grown by `r` on every side, clamped to a `w`×`h` image.
    pub fn expand(&self, r: u32, w: u32, h: u32) -> PixelRect {
        PixelRect {
            x0: self.x0.saturating_sub(r),
            y0: self.y0.saturating_sub(r),
            x1: self.x1.saturating_add(r).min(w),
            y1: self.y1.saturating_add(r).min(h),
        }
    }

    /// Clamped to a `w`×`h` image.
    pub fn clamp(&self, w: u32, h: u32) -> PixelRect {
        PixelRect {
            x0: self.x0.min(w),
            y0: self.y0.min(h),
            x1: self.x1.min(w),
            y1: self.y1.min(h),
        }
    }
}

/// Accumulates a [`PixelRect`] union.
pub(super) fn add_dirty(slot: &mut Option<PixelRect>, r: PixelRect) {
    if r.is_empty() {
        return;
    }
    *slot = Some(match slot {
        Some(old) => old.union(&r),
        None => r,
    });
}
