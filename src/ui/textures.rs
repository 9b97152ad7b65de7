//! egui textures fed from photo-sized pixel sources, updated by dirty rectangle.
//!
//! A photo larger than the renderer's maximum texture side is shown at a reduced resolution
//! (every `step`-th pixel); edits still happen at full resolution.

use egui::{Color32, ColorImage, Pos2, Rect, TextureHandle, TextureOptions, Vec2};

use crate::ui::doc::PixelRect;

/// Nearest when magnified (pixels stay crisp), linear when minified.
pub const PIXEL_OPTIONS: TextureOptions = TextureOptions {
    magnification: egui::TextureFilter::Nearest,
    minification: egui::TextureFilter::Linear,
    wrap_mode: egui::TextureWrapMode::ClampToEdge,
    mipmap_mode: None,
};

/// Nearest both ways (maps whose cells must stay distinct).
pub const NEAREST_OPTIONS: TextureOptions = TextureOptions {
    magnification: egui::TextureFilter::Nearest,
    minification: egui::TextureFilter::Nearest,
    wrap_mode: egui::TextureWrapMode::ClampToEdge,
    mipmap_mode: None,
};

/// A texture showing a `w`×`h` pixel source.
#[derive(Default)]
pub struct PixelTexture {
    name: String,
    options: Option<TextureOptions>,
    handle: Option<TextureHandle>,
    src: (u32, u32),
    step: u32,
}

impl std::fmt::Debug for PixelTexture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PixelTexture")
            .field("name", &self.name)
            .field("src", &self.src)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl PixelTexture {
    /// An empty texture slot.
    pub fn new(name: &str, options: TextureOptions) -> Self {
        Self {
            name: name.to_owned(),
            options: Some(options),
            handle: None,
            src: (0, 0),
            step: 1,
        }
    }

    /// The egui texture, once uploaded.
    pub fn id(&self) -> Option<egui::TextureId> {
        self.handle.as_ref().map(TextureHandle::id)
    }

    /// Whether a texture is uploaded.
    pub fn is_ready(&self) -> bool {
        self.handle.is_some()
    }

    /// Drops the texture.
    pub fn clear(&mut self) {
        self.handle = None;
        self.src = (0, 0);
    }

    /// Source pixels per texel (1 unless the source exceeds the maximum texture side).
    pub fn step(&self) -> u32 {
        self.step
    }

    /// Brings the texture up to date with a `w`×`h` source whose pixels in `dirty` changed
    /// (`pixel(x, y)` gives the colour of source pixel `(x, y)`). The whole texture is rebuilt
    /// when there is none yet or the source size changed; otherwise only the texels covering
    /// `dirty`.
    pub fn update(
        &mut self,
        ctx: &egui::Context,
        w: u32,
        h: u32,
        dirty: Option<PixelRect>,
        pixel: impl Fn(u32, u32) -> Color32,
    ) {
        if w == 0 || h == 0 {
            self.clear();
            return;
        }
        let options = self.options.unwrap_or(PIXEL_OPTIONS);
        let full = self.handle.is_none() || self.src != (w, h);
        if full {
            let max_side = ctx.input(|i| i.max_texture_side).max(1) as u32;
            self.step = w.max(h).div_ceil(max_side).max(1);
            self.src = (w, h);
            let img = self.build(&PixelRect::full(w, h), &pixel);
            match &mut self.handle {
                Some(hdl) => hdl.set(img, options),
                None => self.handle = Some(ctx.load_texture(self.name.clone(), img, options)),
            }
            return;
        }
        let Some(d) = dirty.map(|d| d.clamp(w, h)).filter(|d| !d.is_empty()) else {
            return;
        };
        let s = self.step;
        // Texels whose sample pixel (i·s, j·s) lies in the dirty rectangle.
        let texels = PixelRect {
            x0: d.x0.div_ceil(s),
            y0: d.y0.div_ceil(s),
            x1: d.x1.div_ceil(s),
            y1: d.y1.div_ceil(s),
        };
        if texels.is_empty() {
            return;
        }
        let img = self.build_texels(&texels, &pixel);
        if let Some(hdl) = &mut self.handle {
            hdl.set_partial([texels.x0 as usize, texels.y0 as usize], img, options);
        }
    }

    fn build(&self, r: &PixelRect, pixel: &impl Fn(u32, u32) -> Color32) -> ColorImage {
        let s = self.step;
        let texels = PixelRect {
            x0: r.x0.div_ceil(s),
            y0: r.y0.div_ceil(s),
            x1: r.x1.div_ceil(s),
            y1: r.y1.div_ceil(s),
        };
        self.build_texels(&texels, pixel)
    }

    fn build_texels(&self, t: &PixelRect, pixel: &impl Fn(u32, u32) -> Color32) -> ColorImage {
        let s = self.step;
        let mut px = Vec::with_capacity(t.area());
        for j in t.y0..t.y1 {
            for i in t.x0..t.x1 {
                px.push(pixel(i * s, j * s));
            }
        }
        ColorImage::new([t.width() as usize, t.height() as usize], px)
    }

    /// Paints the texture over the photo rectangle `(0, 0)–(w, h)` mapped to `screen`.
    pub fn paint(&self, painter: &egui::Painter, screen: Rect, tint: Color32) {
        if let Some(id) = self.id() {
            // With step > 1 the last texel may cover less than `step` pixels: map UVs so each
            // texel i covers source pixels i·s … (i+1)·s.
            let (w, h) = self.src;
            let s = self.step as f32;
            let tw = (w as f32 / s).ceil();
            let th = (h as f32 / s).ceil();
            let uv = Rect::from_min_max(
                Pos2::ZERO,
                Pos2::new(w as f32 / (tw * s), h as f32 / (th * s)),
            );
            painter.image(id, screen, uv, tint);
        }
    }
}

/// A texture for a small image placed over part of the photo (e.g. the prior in the context
/// box): rebuilt whole when set.
pub struct PlacedTexture {
    handle: Option<TextureHandle>,
    /// Where it goes, in photo pixels.
    pub placement: Rect,
}

impl std::fmt::Debug for PlacedTexture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacedTexture")
            .field("placement", &self.placement)
            .finish_non_exhaustive()
    }
}

impl Default for PlacedTexture {
    fn default() -> Self {
        Self {
            handle: None,
            placement: Rect::NOTHING,
        }
    }
}

impl PlacedTexture {
    /// Replaces the image.
    pub fn set(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        img: ColorImage,
        placement: Rect,
        options: TextureOptions,
    ) {
        self.placement = placement;
        match &mut self.handle {
            Some(h) => h.set(img, options),
            None => self.handle = Some(ctx.load_texture(name, img, options)),
        }
    }

    /// Drops the image.
    pub fn clear(&mut self) {
        self.handle = None;
    }

    /// Whether an image is set.
    pub fn is_ready(&self) -> bool {
        self.handle.is_some()
    }

    /// The egui texture id.
    pub fn id(&self) -> Option<egui::TextureId> {
        self.handle.as_ref().map(TextureHandle::id)
    }

    /// Paints it at its placement.
    pub fn paint(&self, painter: &egui::Painter, xform: &crate::ui::canvas::Xform, tint: Color32) {
        if let Some(h) = &self.handle {
            painter.image(
                h.id(),
                xform.rect_to_screen(self.placement),
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                tint,
            );
        }
    }
}

/// The photo-pixel rectangle `(0, 0)–(w, h)`.
pub fn photo_rect(w: u32, h: u32) -> Rect {
    Rect::from_min_size(Pos2::ZERO, Vec2::new(w as f32, h as f32))
}

/// An RGB image as an egui image.
pub fn color_image(img: &image::RgbImage) -> ColorImage {
    ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw())
}
