//! One map layer: a quantised field placed over part of the photo, coloured by the GPU
//! colormap callback when there is one, else on the CPU into a texture.

use std::sync::{Arc, Mutex};

use egui::{Color32, Rect};

use crate::ui::canvas::Xform;
use crate::ui::doc::PixelRect;
use crate::ui::field::{FieldData, MapColormap, SharedField, lock, lut};
use crate::ui::gpu;
use crate::ui::textures::{NEAREST_OPTIONS, PixelTexture};

static NEXT_FIELD_KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A field drawn over part of the photo.
pub struct FieldLayer {
    key: u64,
    shared: SharedField,
    /// Where the field goes, in photo pixels.
    pub placement: Rect,
    cpu: PixelTexture,
    cpu_dirty: Option<PixelRect>,
    cpu_full: bool,
    cpu_cmap: Option<MapColormap>,
    set: bool,
}

impl std::fmt::Debug for FieldLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldLayer")
            .field("key", &self.key)
            .field("placement", &self.placement)
            .field("set", &self.set)
            .finish_non_exhaustive()
    }
}

impl FieldLayer {
    /// An empty layer.
    pub fn new(name: &str) -> Self {
        Self {
            key: NEXT_FIELD_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            shared: Arc::new(Mutex::new(FieldData::default())),
            placement: Rect::NOTHING,
            cpu: PixelTexture::new(name, NEAREST_OPTIONS),
            cpu_dirty: None,
            cpu_full: true,
            cpu_cmap: None,
            set: false,
        }
    }

    /// Whether the layer holds a field.
    pub fn is_set(&self) -> bool {
        self.set
    }

    /// Replaces the field.
    pub fn set(&mut self, w: u32, h: u32, levels: Vec<u8>, placement: Rect) {
        {
            let mut d = lock(&self.shared);
            d.w = w;
            d.h = h;
            d.levels = levels;
            d.gpu_full = true;
            d.gpu_dirty = None;
        }
        self.placement = placement;
        self.cpu_full = true;
        self.cpu_dirty = None;
        self.set = true;
    }

    /// Empties the layer.
    pub fn clear(&mut self) {
        *lock(&self.shared) = FieldData::default();
        self.cpu.clear();
        self.set = false;
    }

    /// Edits the levels in place; `edit` returns the region it changed.
    pub fn edit(&mut self, edit: impl FnOnce(&mut [u8], u32, u32) -> Option<PixelRect>) {
        let changed = {
            let mut d = lock(&self.shared);
            let (w, h) = (d.w, d.h);
            let r = edit(&mut d.levels, w, h);
            if let Some(r) = r {
                d.gpu_dirty = Some(d.gpu_dirty.map_or(r, |o| o.union(&r)));
            }
            r
        };
        if let Some(r) = changed {
            self.cpu_dirty = Some(self.cpu_dirty.map_or(r, |o| o.union(&r)));
        }
    }

    /// A copy of the levels (tests and benchmarks).
    pub fn levels(&self) -> Vec<u8> {
        lock(&self.shared).levels.clone()
    }

    /// Draws the field with the colormap at `opacity`.
    pub fn paint(
        &mut self,
        ctx: &egui::Context,
        painter: &egui::Painter,
        xform: &Xform,
        cmap: MapColormap,
        opacity: f32,
        gpu: bool,
    ) {
        if !self.set {
            return;
        }
        let screen = xform.rect_to_screen(self.placement);
        // Fields larger than a texture may be are coloured on the CPU (which subsamples).
        let (fw, fh) = {
            let d = lock(&self.shared);
            (d.w, d.h)
        };
        let max_side = ctx.input(|i| i.max_texture_side) as u32;
        if gpu && fw.max(fh) <= max_side {
            let visible = screen.intersect(painter.clip_rect());
            if visible.is_positive() {
                painter.add(gpu::field_callback(
                    self.key,
                    self.shared.clone(),
                    screen,
                    visible,
                    cmap,
                    opacity,
                ));
            }
            return;
        }
        let full = self.cpu_full || self.cpu_cmap != Some(cmap);
        let d = lock(&self.shared);
        if full {
            self.cpu.clear();
        }
        let table = lut(cmap);
        let dirty = self.cpu_dirty.take();
        let (w, h) = (d.w, d.h);
        self.cpu.update(ctx, w, h, dirty, |x, y| {
            let v = d.levels[y as usize * w as usize + x as usize];
            let [r, g, b] = table[v as usize];
            Color32::from_rgb(r, g, b)
        });
        drop(d);
        self.cpu_full = false;
        self.cpu_cmap = Some(cmap);
        self.cpu
            .paint(painter, screen, Color32::from_white_alpha(alpha(opacity)));
    }
}

/// An opacity 0–1 as an alpha byte.
pub(super) fn alpha(opacity: f32) -> u8 {
    (opacity.clamp(0.0, 1.0) * 255.0).round() as u8
}
