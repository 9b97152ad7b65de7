//! What is drawn over the photo: the mask tint and one map.
//!
//! Maps are single-channel fields quantised to 8 bits (`0` = the colormap's low end, `255` =
//! its high end) and coloured either on the GPU by the WGSL colormap shader (see
//! [`crate::ui::gpu`]) or, without a wgpu render state (e.g. in tests), on the CPU through the
//! same 256-entry table built from [`crate::maps::Colormap`].
//!
//! * **Hard map, unit resolution**: what generator unit k (0–5) sees: the model-resolution
//!   context crop around the hole, sampled with the unit's stride, with the unit's (N, ks).
//!   Recomputed whole on every mask change (it is at most 128×128; the crop dominates).
//! * **Hard map, full resolution**: the unit's rule on the photo-sized mask. A brush step
//!   changes the map only within `N·(ks−1)/2` pixels of the pixels it painted, so only that
//!   region is recomputed ([`update_hard_region`]); the first computation of a large photo runs
//!   on a background thread.
//! * **Soft map, prior, diversity**: data the inference worker returns, placed in the context
//!   box it used.
//!
//! Hard maps use the log scale of [`crate::maps::log_scale`] (every ring its own colour); soft
//! maps are linear in `[0, 1]`; the diversity map is linear from 0 to its maximum.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use egui::{Color32, ColorImage, Pos2, Rect, Vec2};
use serde::{Deserialize, Serialize};

use crate::imageops::{self, ContextBox};
use crate::inference::UnitMapData;
use crate::maps::{self, Colormap, Decay, OFFICIAL_UNITS, UnitMapSpec, hard_map_fast, log_scale};
use crate::mask::Mask;
use crate::ui::canvas::Xform;
use crate::ui::doc::{Document, PixelRect};
use crate::ui::textures::{NEAREST_OPTIONS, PixelTexture, PlacedTexture, photo_rect};
use crate::ui::theme;

/// Which map is drawn over the photo (also the window's `--overlay` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
pub enum MapKind {
    /// No map.
    #[default]
    None,
    /// The hard map of the chosen unit at the unit's own resolution (context crop).
    HardUnit,
    /// The hard map rule of the chosen unit on the full-resolution mask.
    HardFull,
    /// The soft map (channel mean) of the chosen unit, from the last generation.
    Soft,
    /// The prior (stage 1 output) of the last generation.
    Prior,
    /// Per-pixel spread of the last generation's samples.
    Diversity,
}

impl MapKind {
    /// All kinds, in menu order.
    pub const ALL: [MapKind; 6] = [
        MapKind::None,
        MapKind::HardUnit,
        MapKind::HardFull,
        MapKind::Soft,
        MapKind::Prior,
        MapKind::Diversity,
    ];

    /// The name shown in the menu.
    pub fn label(self) -> &'static str {
        match self {
            MapKind::None => "None",
            MapKind::HardUnit => "Hard map (unit resolution)",
            MapKind::HardFull => "Hard map (full resolution)",
            MapKind::Soft => "Soft map",
            MapKind::Prior => "Prior",
            MapKind::Diversity => "Diversity",
        }
    }

    /// Whether the map depends on the chosen unit.
    pub fn uses_unit(self) -> bool {
        matches!(self, MapKind::HardUnit | MapKind::HardFull | MapKind::Soft)
    }
}

/// The colormaps offered for maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MapColormap {
    /// Viridis.
    #[default]
    Viridis,
    /// Magma.
    Magma,
}

impl MapColormap {
    /// The library colormap.
    pub fn colormap(self) -> Colormap {
        match self {
            MapColormap::Viridis => Colormap::Viridis,
            MapColormap::Magma => Colormap::Magma,
        }
    }

    /// Its row in the GPU lookup table.
    pub fn index(self) -> u32 {
        match self {
            MapColormap::Viridis => 0,
            MapColormap::Magma => 1,
        }
    }

    /// The name shown in the menu.
    pub fn label(self) -> &'static str {
        match self {
            MapColormap::Viridis => "Viridis",
            MapColormap::Magma => "Magma",
        }
    }
}

/// The 256 colours of a colormap, entry `i` for the value `i/255` (shared by the CPU path and
/// the GPU lookup texture so both show the same colours).
pub fn lut(cmap: MapColormap) -> &'static [[u8; 3]; 256] {
    static TABLES: OnceLock<[[[u8; 3]; 256]; 2]> = OnceLock::new();
    let t = TABLES.get_or_init(|| {
        let build =
            |c: Colormap| -> [[u8; 3]; 256] { std::array::from_fn(|i| c.map(i as f32 / 255.0)) };
        [build(Colormap::Viridis), build(Colormap::Magma)]
    });
    &t[cmap.index() as usize]
}

/// Overlay settings (persisted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OverlaySettings {
    /// Tint the holes.
    pub mask_tint: bool,
    /// The map drawn over the photo.
    pub map: MapKind,
    /// The generator unit (0 = coarsest … 5 = finest) of unit-dependent maps.
    pub unit: usize,
    /// Opacity of the map, 0–1.
    pub opacity: f32,
    /// Colormap of the map.
    pub colormap: MapColormap,
    /// Outline the model's context box.
    pub context_box: bool,
}

impl Default for OverlaySettings {
    fn default() -> Self {
        Self {
            mask_tint: true,
            map: MapKind::None,
            unit: 5,
            opacity: theme::OVERLAY_OPACITY,
            colormap: MapColormap::Viridis,
            context_box: true,
        }
    }
}

impl OverlaySettings {
    /// Clamps out-of-range values.
    pub fn sanitized(mut self) -> Self {
        self.unit = self.unit.min(OFFICIAL_UNITS.len() - 1);
        if !self.opacity.is_finite() {
            self.opacity = theme::OVERLAY_OPACITY;
        }
        self.opacity = self.opacity.clamp(0.0, 1.0);
        self
    }
}

/// Quantises `t ∈ [0, 1]` to a level (NaN gives 0).
pub fn quantize(t: f32) -> u8 {
    if t.is_nan() {
        0
    } else {
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// How far (Chebyshev, in pixels) a mask change can move a unit's hard map: `N·(ks−1)/2`.
pub fn reach(spec: UnitMapSpec) -> u32 {
    (spec.n * (spec.ks.saturating_sub(1) / 2)) as u32
}

/// The known map (1 = known) of a rectangle of the mask, row-major.
fn known_crop(mask: &Mask, r: &PixelRect) -> Vec<f32> {
    let w = mask.width as usize;
    let holes = mask.holes();
    let mut out = Vec::with_capacity(r.area());
    for y in r.y0..r.y1 {
        let row = &holes[y as usize * w..][r.x0 as usize..r.x1 as usize];
        out.extend(row.iter().map(|&v| if v != 0 { 0.0 } else { 1.0 }));
    }
    out
}

/// The full-resolution hard map of a unit's rule on the mask, as levels (log scale).
pub fn hard_full_levels(mask: &Mask, spec: UnitMapSpec, decay: Decay) -> Vec<u8> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let map = hard_map_fast(&mask.known_f32(), h, w, spec.n, spec.ks, decay);
    let floor = decay.coef(spec.n);
    map.iter().map(|&v| quantize(log_scale(v, floor))).collect()
}

/// Recomputes the levels of a full-resolution hard map (`levels`, photo-sized) after the mask
/// changed within `dirty`, and returns the region that was rewritten.
///
/// The map can change only within [`reach`] of a changed pixel, and a value there depends only
/// on mask pixels within `reach` of it, so the map of `dirty` grown by `reach` is computed on the
/// mask crop grown by `2·reach` (clamped to the photo, where the zero padding of
/// [`hard_map_fast`] is the photo's own border) and copied in. The result equals
/// [`hard_full_levels`] of the new mask.
pub fn update_hard_region(
    mask: &Mask,
    spec: UnitMapSpec,
    decay: Decay,
    levels: &mut [u8],
    dirty: PixelRect,
) -> PixelRect {
    let (w, h) = (mask.width, mask.height);
    let reach = reach(spec);
    let out = dirty.clamp(w, h).expand(reach, w, h);
    if out.is_empty() || levels.len() != w as usize * h as usize {
        return PixelRect::full(0, 0);
    }
    let input = out.expand(reach, w, h);
    let known = known_crop(mask, &input);
    let (iw, ih) = (input.width() as usize, input.height() as usize);
    let map = hard_map_fast(&known, ih, iw, spec.n, spec.ks, decay);
    let floor = decay.coef(spec.n);
    let (dx, dy) = ((out.x0 - input.x0) as usize, (out.y0 - input.y0) as usize);
    let ow = out.width() as usize;
    for (j, y) in (out.y0..out.y1).enumerate() {
        let src = &map[(dy + j) * iw + dx..][..ow];
        let dst = &mut levels[y as usize * w as usize + out.x0 as usize..][..ow];
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = quantize(log_scale(v, floor));
        }
    }
    out
}

/// A unit's hard map at its own resolution over the context box.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitMap {
    /// The context box in photo pixels.
    pub bx: ContextBox,
    /// Side of the unit's grid.
    pub side: usize,
    /// Levels (log scale), `side·side`.
    pub levels: Vec<u8>,
}

/// The hard map generator unit `unit` sees for this mask when the model runs at resolution
/// `res` with context `margin` (as [`crate::inference::Inpainter::prepare`] crops it), or
/// `None` when the mask has no hole. `bbox` is the holes' bounding box (as [`Mask::bbox`]; pass
/// a kept one to save the scan).
pub fn unit_map(
    mask: &Mask,
    bbox: Option<(u32, u32, u32, u32)>,
    res: usize,
    margin: f32,
    unit: usize,
    decay: Decay,
) -> Option<UnitMap> {
    let bbox = bbox?;
    let spec = *OFFICIAL_UNITS.get(unit)?;
    let bx = imageops::context_box(bbox, mask.width, mask.height, res as u32, margin);
    let hole =
        imageops::crop_resize_mask(mask.holes(), mask.width, mask.height, &bx, res as u32).ok()?;
    let known: Vec<f32> = hole.iter().map(|v| 1.0 - v).collect();
    let stride = 1usize << (OFFICIAL_UNITS.len() - unit);
    let side = res.div_ceil(stride);
    let small = maps::nearest_strided(&known, res, res, stride);
    let map = hard_map_fast(&small, side, side, spec.n, spec.ks, decay);
    let floor = decay.coef(spec.n);
    Some(UnitMap {
        bx,
        side,
        levels: map.iter().map(|&v| quantize(log_scale(v, floor))).collect(),
    })
}

/// The photo-pixel rectangle of a context box.
pub fn box_rect(bx: &ContextBox) -> Rect {
    Rect::from_min_size(
        Pos2::new(bx.x0 as f32, bx.y0 as f32),
        Vec2::splat(bx.size as f32),
    )
}

/// A quantised single-channel field and what of it the GPU has not seen yet.
#[derive(Debug, Default)]
pub struct FieldData {
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
    /// Levels, row-major.
    pub levels: Vec<u8>,
    /// Changed region the GPU texture has not received.
    pub gpu_dirty: Option<PixelRect>,
    /// The GPU texture must be rebuilt whole.
    pub gpu_full: bool,
}

/// Shared between the UI (writes) and the GPU paint callback (uploads).
pub type SharedField = Arc<Mutex<FieldData>>;

/// Locks a field, recovering from a poisoned lock (the data is plain bytes).
pub fn lock(f: &SharedField) -> std::sync::MutexGuard<'_, FieldData> {
    f.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
                painter.add(crate::ui::gpu::field_callback(
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

fn alpha(opacity: f32) -> u8 {
    (opacity.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// What the inference worker returned about the last generation, for display.
#[derive(Debug, Clone, Default)]
pub struct ModelMaps {
    /// The context box it used.
    pub bx: Option<ContextBox>,
    /// The prior at model resolution.
    pub prior: Option<image::RgbImage>,
    /// Per unit: hard and soft maps of the first sample.
    pub units: Vec<UnitMapData>,
    /// Diversity `[R, R]` and R.
    pub diversity: Option<(usize, Vec<f32>)>,
}

/// Timings of the overlay maps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OverlayTimings {
    /// Last incremental update of the full-resolution hard map.
    pub hard_full_update: Option<Duration>,
    /// Last full computation of the full-resolution hard map.
    pub hard_full_build: Option<Duration>,
    /// Last computation of the unit-resolution hard map.
    pub hard_unit: Option<Duration>,
}

/// Which rule a full-resolution hard field was computed with.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HardKey {
    unit: usize,
    decay: Decay,
    size: (u32, u32),
}

struct HardJob {
    key: HardKey,
    rx: Receiver<(Vec<u8>, Duration)>,
}

/// Photos up to this many pixels get their full hard map computed on the UI thread.
const SYNC_PIXELS: usize = 1 << 20;

/// The mask tint and the map layers, kept up to date with the document.
pub struct Overlay {
    /// What to show.
    pub settings: OverlaySettings,
    /// Model resolution for the unit-resolution maps.
    pub res: usize,
    /// Context margin (as in inpainting).
    pub margin: f32,
    /// Hard-map decay rule (the model's when one is loaded).
    pub decay: Decay,
    /// Use the GPU colormap (a wgpu render state with the pipeline exists).
    pub gpu: bool,
    /// Last timings.
    pub timings: OverlayTimings,
    /// A sample is shown over the photo (the mask tint is then hidden).
    pub previewing: bool,
    mask_tex: PixelTexture,
    hard_full: FieldLayer,
    hard_full_key: Option<HardKey>,
    hard_full_pending: Option<PixelRect>,
    hard_job: Option<HardJob>,
    hard_unit: FieldLayer,
    hard_unit_box: Option<ContextBox>,
    hard_unit_stale: bool,
    unit_key: Option<(usize, usize, u32, Decay)>,
    soft: FieldLayer,
    soft_unit: Option<usize>,
    diversity: FieldLayer,
    diversity_max: f32,
    prior: PlacedTexture,
    /// The data of the last generation.
    pub model_maps: ModelMaps,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("settings", &self.settings)
            .field("gpu", &self.gpu)
            .finish_non_exhaustive()
    }
}

impl Overlay {
    /// An overlay with these settings.
    pub fn new(settings: OverlaySettings) -> Self {
        Self {
            settings: settings.sanitized(),
            res: 256,
            margin: 0.5,
            decay: Decay::Exp,
            gpu: false,
            timings: OverlayTimings::default(),
            previewing: false,
            diversity_max: 0.0,
            mask_tex: PixelTexture::new("mask", crate::ui::textures::PIXEL_OPTIONS),
            hard_full: FieldLayer::new("hard-full"),
            hard_full_key: None,
            hard_full_pending: None,
            hard_job: None,
            hard_unit: FieldLayer::new("hard-unit"),
            hard_unit_box: None,
            hard_unit_stale: true,
            unit_key: None,
            soft: FieldLayer::new("soft"),
            soft_unit: None,
            diversity: FieldLayer::new("diversity"),
            prior: PlacedTexture::default(),
            model_maps: ModelMaps::default(),
        }
    }

    /// Forgets everything tied to the previous document.
    pub fn reset(&mut self) {
        self.mask_tex.clear();
        self.hard_full.clear();
        self.hard_full_key = None;
        self.hard_full_pending = None;
        self.hard_job = None;
        self.hard_unit.clear();
        self.hard_unit_box = None;
        self.hard_unit_stale = true;
        self.clear_model_maps();
    }

    /// Forgets the last generation's maps.
    pub fn clear_model_maps(&mut self) {
        self.model_maps = ModelMaps::default();
        self.soft.clear();
        self.soft_unit = None;
        self.diversity.clear();
        self.prior.clear();
    }

    /// The context box of the unit-resolution hard map (the box the model would see now).
    pub fn context_box(&self) -> Option<ContextBox> {
        self.hard_unit_box
    }

    /// Whether a background computation is running (the caller should keep repainting).
    pub fn busy(&self) -> bool {
        self.hard_job.is_some()
    }

    /// A copy of the full-resolution hard map levels (tests and benchmarks).
    pub fn hard_full_levels(&self) -> Option<Vec<u8>> {
        self.hard_full.is_set().then(|| self.hard_full.levels())
    }

    /// A copy of the unit-resolution hard map (tests).
    pub fn hard_unit_levels(&self) -> Option<Vec<u8>> {
        self.hard_unit.is_set().then(|| self.hard_unit.levels())
    }

    /// Brings the mask tint and the hard maps up to date after the mask changed within
    /// `dirty` (`None`: unchanged).
    ///
    /// `bbox` is the holes' bounding box ([`Document::hole_bbox`]).
    pub fn sync_mask(
        &mut self,
        ctx: &egui::Context,
        mask: &Mask,
        bbox: Option<(u32, u32, u32, u32)>,
        dirty: Option<PixelRect>,
    ) {
        let (w, h) = (mask.width, mask.height);
        // Mask tint.
        let holes = mask.holes();
        let tint = Color32::from_rgba_unmultiplied(
            theme::MASK_TINT[0],
            theme::MASK_TINT[1],
            theme::MASK_TINT[2],
            theme::MASK_TINT_ALPHA,
        );
        self.mask_tex.update(ctx, w, h, dirty, |x, y| {
            if holes[y as usize * w as usize + x as usize] != 0 {
                tint
            } else {
                Color32::TRANSPARENT
            }
        });

        // Full-resolution hard map: collect the change, apply it when shown.
        if let Some(d) = dirty {
            self.hard_full_pending = Some(self.hard_full_pending.map_or(d, |o| o.union(&d)));
            self.hard_unit_stale = true;
        }
        self.poll_hard_job(mask);
        if self.settings.map == MapKind::HardFull {
            self.update_hard_full(mask);
        }
        if self.settings.map == MapKind::HardUnit || self.settings.context_box {
            self.update_hard_unit(mask, bbox);
        }
    }

    fn wanted_hard_key(&self, mask: &Mask) -> HardKey {
        HardKey {
            unit: self.settings.unit,
            decay: self.decay,
            size: (mask.width, mask.height),
        }
    }

    fn update_hard_full(&mut self, mask: &Mask) {
        let key = self.wanted_hard_key(mask);
        let spec = OFFICIAL_UNITS[key.unit.min(OFFICIAL_UNITS.len() - 1)];
        if self.hard_full_key == Some(key) {
            if let Some(d) = self.hard_full_pending.take() {
                let t = Instant::now();
                self.hard_full.edit(|levels, _, _| {
                    Some(update_hard_region(mask, spec, key.decay, levels, d))
                });
                self.timings.hard_full_update = Some(t.elapsed());
            }
            return;
        }
        if self.hard_job.as_ref().is_some_and(|j| j.key == key) {
            return;
        }
        let (w, h) = key.size;
        if (w as usize) * (h as usize) <= SYNC_PIXELS {
            let t = Instant::now();
            let levels = hard_full_levels(mask, spec, key.decay);
            self.timings.hard_full_build = Some(t.elapsed());
            self.hard_full.set(w, h, levels, photo_rect(w, h));
            self.hard_full_key = Some(key);
            self.hard_full_pending = None;
            return;
        }
        // Large photo: compute on a background thread from a snapshot; edits made meanwhile
        // are collected in `hard_full_pending` and applied when it arrives.
        let snapshot = mask.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("pdpaint-hardmap".into())
            .spawn(move || {
                let t = Instant::now();
                let levels = hard_full_levels(&snapshot, spec, key.decay);
                let _ = tx.send((levels, t.elapsed()));
            });
        if spawned.is_ok() {
            self.hard_full_pending = None;
            self.hard_job = Some(HardJob { key, rx });
        }
    }

    fn poll_hard_job(&mut self, mask: &Mask) {
        let Some(job) = &self.hard_job else {
            return;
        };
        match job.rx.try_recv() {
            Ok((levels, took)) => {
                let key = job.key;
                self.hard_job = None;
                if key == self.wanted_hard_key(mask) {
                    let (w, h) = key.size;
                    self.hard_full.set(w, h, levels, photo_rect(w, h));
                    self.hard_full_key = Some(key);
                    self.timings.hard_full_build = Some(took);
                }
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.hard_job = None,
        }
    }

    fn update_hard_unit(&mut self, mask: &Mask, bbox: Option<(u32, u32, u32, u32)>) {
        let key = (
            self.settings.unit,
            self.res,
            self.margin.to_bits(),
            self.decay,
        );
        if !self.hard_unit_stale && self.unit_key == Some(key) {
            return;
        }
        let t = Instant::now();
        match unit_map(
            mask,
            bbox,
            self.res,
            self.margin,
            self.settings.unit,
            self.decay,
        ) {
            Some(m) => {
                let side = m.side as u32;
                self.hard_unit.set(side, side, m.levels, box_rect(&m.bx));
                self.hard_unit_box = Some(m.bx);
            }
            None => {
                self.hard_unit.clear();
                self.hard_unit_box = None;
            }
        }
        self.timings.hard_unit = Some(t.elapsed());
        self.hard_unit_stale = false;
        self.unit_key = Some(key);
    }

    /// Installs the maps of a new generation.
    pub fn set_model_maps(&mut self, ctx: &egui::Context, maps: ModelMaps) {
        self.clear_model_maps();
        if let (Some(bx), Some(prior)) = (&maps.bx, &maps.prior) {
            self.prior.set(
                ctx,
                "prior",
                crate::ui::textures::color_image(prior),
                box_rect(bx),
                crate::ui::textures::PIXEL_OPTIONS,
            );
        }
        if let (Some(bx), Some((r, div))) = (&maps.bx, &maps.diversity) {
            let max = div.iter().copied().fold(0.0f32, f32::max);
            self.diversity_max = max;
            let levels = div
                .iter()
                .map(|&v| if max > 0.0 { quantize(v / max) } else { 0 })
                .collect();
            self.diversity
                .set(*r as u32, *r as u32, levels, box_rect(bx));
        }
        self.model_maps = maps;
    }

    fn refresh_soft(&mut self) {
        if self.soft_unit == Some(self.settings.unit) {
            return;
        }
        self.soft_unit = Some(self.settings.unit);
        let Some(bx) = self.model_maps.bx else {
            self.soft.clear();
            return;
        };
        match self.model_maps.units.get(self.settings.unit) {
            Some(u) if u.soft_mean.len() == u.side * u.side => {
                let levels = u.soft_mean.iter().map(|&v| quantize(v)).collect();
                self.soft
                    .set(u.side as u32, u.side as u32, levels, box_rect(&bx));
            }
            _ => self.soft.clear(),
        }
    }

    /// Whether the chosen map has anything to show.
    pub fn map_available(&self) -> bool {
        match self.settings.map {
            MapKind::None => true,
            MapKind::HardUnit => self.hard_unit.is_set(),
            MapKind::HardFull => self.hard_full.is_set(),
            MapKind::Soft => self.model_maps.units.get(self.settings.unit).is_some(),
            MapKind::Prior => self.prior.is_ready(),
            MapKind::Diversity => self.diversity.is_set(),
        }
    }

    /// Draws the mask tint and the chosen map.
    pub fn paint(
        &mut self,
        ctx: &egui::Context,
        painter: &egui::Painter,
        xform: &Xform,
        photo_size: (u32, u32),
    ) {
        let s = self.settings;
        let screen = xform.rect_to_screen(photo_rect(photo_size.0, photo_size.1));
        // While a sample is previewed the tint would hide it.
        if s.mask_tint && !self.previewing {
            self.mask_tex.paint(painter, screen, Color32::WHITE);
        }
        let gpu = self.gpu;
        match s.map {
            MapKind::None => {}
            MapKind::HardUnit => {
                self.hard_unit
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
            MapKind::HardFull => {
                self.hard_full
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
            MapKind::Soft => {
                self.refresh_soft();
                self.soft
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
            MapKind::Prior => {
                self.prior
                    .paint(painter, xform, Color32::from_white_alpha(alpha(s.opacity)));
            }
            MapKind::Diversity => {
                self.diversity
                    .paint(ctx, painter, xform, s.colormap, s.opacity, gpu);
            }
        }
        if s.context_box {
            let bx = match s.map {
                MapKind::Soft | MapKind::Prior | MapKind::Diversity => self.model_maps.bx,
                _ => self.hard_unit_box,
            };
            if let Some(bx) = bx {
                painter.rect_stroke(
                    xform.rect_to_screen(box_rect(&bx)),
                    0.0,
                    theme::CONTEXT_BOX,
                    egui::StrokeKind::Middle,
                );
            }
        }
    }

    /// The settings changed (unit, map kind): make sure the next sync recomputes.
    pub fn settings_changed(&mut self, ctx: &egui::Context, doc: Option<&Document>) {
        self.soft_unit = None;
        if let Some(d) = doc {
            self.sync_mask(ctx, d.mask(), d.hole_bbox(), None);
        }
    }

    /// What the ends (and the middle) of the legend's colour bar mean for the current map, or
    /// `None` when the map has no colour scale (none, prior).
    pub fn legend_labels(&self) -> Option<[String; 3]> {
        let s = self.settings;
        match s.map {
            MapKind::None | MapKind::Prior => None,
            MapKind::HardUnit | MapKind::HardFull => {
                let spec = OFFICIAL_UNITS.get(s.unit)?;
                let floor = self.decay.coef(spec.n);
                Some([
                    format!("{floor:.3} deep inside"),
                    format!("{} rings, log scale", spec.n),
                    "1 known".into(),
                ])
            }
            MapKind::Soft => Some([
                "0".into(),
                "soft map, mean over channels".into(),
                "1".into(),
            ]),
            MapKind::Diversity => Some([
                "0 samples agree".into(),
                "per-pixel std of the samples".into(),
                format!("{:.3}", self.diversity_max),
            ]),
        }
    }

    /// Draws the legend of the current map: a colour bar with what its ends mean.
    pub fn legend_ui(&self, ui: &mut egui::Ui) {
        let Some([lo, mid, hi]) = self.legend_labels() else {
            return;
        };
        let width = ui.available_width().clamp(80.0, theme::LEGEND_WIDTH);
        let (rect, _) =
            ui.allocate_exact_size(Vec2::new(width, theme::LEGEND_HEIGHT), egui::Sense::hover());
        let table = lut(self.settings.colormap);
        let steps = theme::LEGEND_STEPS;
        let step_w = rect.width() / steps as f32;
        for i in 0..steps {
            let [r, g, b] = table[i * (table.len() - 1) / (steps - 1)];
            let x0 = rect.left() + i as f32 * step_w;
            ui.painter().rect_filled(
                Rect::from_min_max(
                    Pos2::new(x0, rect.top()),
                    Pos2::new(x0 + step_w + 0.5, rect.bottom()),
                ),
                0.0,
                Color32::from_rgb(r, g, b),
            );
        }
        ui.horizontal(|ui| {
            ui.set_width(width);
            ui.small(lo);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.small(hi);
            });
        });
        ui.colored_label(theme::HINT_TEXT, egui::RichText::new(mid).small());
    }

    /// A colour bar image for the legend of the current colormap (256×1).
    pub fn legend_image(&self) -> ColorImage {
        let t = lut(self.settings.colormap);
        ColorImage::new(
            [256, 1],
            t.iter()
                .map(|&[r, g, b]| Color32::from_rgb(r, g, b))
                .collect(),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_says_what_the_colours_mean() {
        let mut o = Overlay::new(OverlaySettings {
            map: MapKind::HardUnit,
            unit: 4,
            ..OverlaySettings::default()
        });
        let [lo, mid, hi] = o.legend_labels().unwrap();
        assert_eq!(hi, "1 known");
        // Unit 4 has N = 6 rings; the interior gets e^-6 = 0.0025 with the code's decay.
        assert!(lo.starts_with("0.002"), "{lo}");
        assert!(mid.contains("6 rings"), "{mid}");
        o.settings.map = MapKind::Prior;
        assert!(o.legend_labels().is_none());
        o.settings.map = MapKind::Diversity;
        assert_eq!(o.legend_labels().unwrap()[2], "0.000");
    }

    fn blob_mask(w: u32, h: u32) -> Mask {
        Mask::from_hole_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - w as f32 * 0.4, y as f32 - h as f32 * 0.5);
            dx * dx + dy * dy < (w.min(h) as f32 * 0.2).powi(2)
        })
    }

    #[test]
    fn incremental_hard_map_equals_a_full_recompute() {
        let (w, h) = (160, 120);
        for unit in [0, 3, 5] {
            let spec = OFFICIAL_UNITS[unit];
            let mut mask = blob_mask(w, h);
            let mut levels = hard_full_levels(&mask, spec, Decay::Exp);
            // Paint and erase near the border and inside the hole, updating incrementally.
            type Stroke<'a> = (&'a [(f32, f32)], f32, bool);
            let strokes: [Stroke<'_>; 4] = [
                (&[(2.0, 3.0), (40.0, 10.0)], 6.0, true),
                (&[(64.0, 60.0)], 15.0, false),
                (&[(150.0, 110.0), (159.0, 119.0)], 4.0, true),
                (&[(100.0, 20.0), (120.0, 80.0)], 2.0, true),
            ];
            for (pts, r, hole) in strokes {
                let before = mask.clone();
                mask.rasterize_stroke(pts, r, hole);
                let dirty = diff(&before, &mask);
                if let Some(d) = dirty {
                    update_hard_region(&mask, spec, Decay::Exp, &mut levels, d);
                }
                assert_eq!(
                    levels,
                    hard_full_levels(&mask, spec, Decay::Exp),
                    "unit {unit}"
                );
            }
        }
    }

    fn diff(a: &Mask, b: &Mask) -> Option<PixelRect> {
        let w = a.width;
        let mut r: Option<PixelRect> = None;
        for (i, (p, q)) in a.holes().iter().zip(b.holes()).enumerate() {
            if p != q {
                let (x, y) = ((i as u32) % w, (i as u32) / w);
                let px = PixelRect {
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                };
                r = Some(r.map_or(px, |o| o.union(&px)));
            }
        }
        r
    }

    #[test]
    fn unit_map_matches_the_library_unit_maps() {
        let mask = blob_mask(300, 200);
        let res = 256;
        let bbox = mask.bbox().unwrap();
        let bx = imageops::context_box(bbox, 300, 200, res as u32, 0.5);
        let hole = imageops::crop_resize_mask(mask.holes(), 300, 200, &bx, res as u32).unwrap();
        let known: Vec<f32> = hole.iter().map(|v| 1.0 - v).collect();
        let all = maps::unit_hard_maps_cpu(&known, res, res, &OFFICIAL_UNITS, Decay::Exp);
        for (k, (side, _, map)) in all.iter().enumerate() {
            let m = unit_map(&mask, mask.bbox(), res, 0.5, k, Decay::Exp).unwrap();
            assert_eq!(m.side, *side);
            assert_eq!(m.bx, bx);
            let floor = Decay::Exp.coef(OFFICIAL_UNITS[k].n);
            let want: Vec<u8> = map.iter().map(|&v| quantize(log_scale(v, floor))).collect();
            assert_eq!(m.levels, want);
        }
        let empty = Mask::new_empty(10, 10);
        assert!(unit_map(&empty, empty.bbox(), 256, 0.5, 0, Decay::Exp).is_none());
    }

    #[test]
    fn lut_matches_the_library_colormap() {
        assert_eq!(lut(MapColormap::Viridis)[0], Colormap::Viridis.map(0.0));
        assert_eq!(lut(MapColormap::Magma)[255], Colormap::Magma.map(1.0));
        assert_eq!(quantize(0.5), 128);
        assert_eq!(quantize(f32::NAN), 0);
        assert_eq!(reach(OFFICIAL_UNITS[5]), 14);
    }

    /// Prints (does not assert) the time of one brush update of the full-resolution hard map
    /// on a 3840×2160 mask, against a full recompute measured in the same run.
    #[test]
    fn hard_map_update_timing_4k() {
        let (w, h) = (3840u32, 2160u32);
        let mut mask = blob_mask(w, h);
        let spec = OFFICIAL_UNITS[5];
        let t = Instant::now();
        let mut levels = hard_full_levels(&mask, spec, Decay::Exp);
        let full = t.elapsed();
        let mut worst = Duration::ZERO;
        let mut total = Duration::ZERO;
        let n = 20;
        for i in 0..n {
            let x = 400.0 + i as f32 * 40.0;
            let before = PixelRect::around(x - 40.0, 900.0, x, 900.0, 40.0, w, h).unwrap();
            mask.rasterize_stroke(&[(x - 40.0, 900.0), (x, 900.0)], 40.0, true);
            let t = Instant::now();
            update_hard_region(&mask, spec, Decay::Exp, &mut levels, before);
            let e = t.elapsed();
            worst = worst.max(e);
            total += e;
        }
        let bbox = mask.bbox();
        let t = Instant::now();
        let unit = unit_map(&mask, bbox, 256, 0.5, 5, Decay::Exp);
        let unit_time = t.elapsed();
        assert!(unit.is_some());
        println!(
            "hard map 3840×2160 (unit 5, N=7, ks=5): full {:.1} ms; brush update (r=40, 40 px step) \
             mean {:.2} ms, worst {:.2} ms; unit-resolution map {:.2} ms",
            full.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3 / n as f64,
            worst.as_secs_f64() * 1e3,
            unit_time.as_secs_f64() * 1e3
        );
    }
}
