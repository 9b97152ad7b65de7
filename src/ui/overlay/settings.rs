//! What the overlay shows (persisted in the preferences): the map kind, its unit, opacity and
//! colormap, the mask tint and the context box.

use serde::{Deserialize, Serialize};

use crate::maps::OFFICIAL_UNITS;
use crate::ui::field::MapColormap;
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
