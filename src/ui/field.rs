//! What the CPU and the GPU paths of a map layer share: the quantised field itself (written by
//! the UI thread, uploaded by the GPU paint callback) and the colormap tables both colour it
//! with. A small module of its own so that the overlay and the GPU callback both depend on it
//! and never on each other.

use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::maps::Colormap;
use crate::ui::doc::PixelRect;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lut_matches_the_library_colormap() {
        assert_eq!(lut(MapColormap::Viridis)[0], Colormap::Viridis.map(0.0));
        assert_eq!(lut(MapColormap::Magma)[255], Colormap::Magma.map(1.0));
    }
}
