//! Preferences kept between sessions with eframe's persistence: brush, overlay, folders and
//! generation settings. Never images or models.
//!
//! This is the one copy: the studio holds one [`Prefs`], the panels read and write it, and it
//! is what eframe stores. No panel keeps its own copy of a preference.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::detail::DetailMode;
use crate::ui::canvas::Tool;
use crate::ui::overlay::OverlaySettings;
use crate::ui::training_panel::Folders;

/// The key the preferences are stored under.
pub const STORAGE_KEY: &str = "pdpaint.prefs";

/// What the studio remembers between sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    /// The active mask tool.
    pub tool: Tool,
    /// Brush (and eraser) radius in photo pixels.
    pub brush_radius: f32,
    /// What is drawn over the photo.
    pub overlay: OverlaySettings,
    /// Folder of the last opened photo (the open dialog starts there).
    pub photo_dir: Option<PathBuf>,
    /// Folder of the last saved result.
    pub save_dir: Option<PathBuf>,
    /// The last model folder loaded (reloaded at start when it still exists).
    pub model_dir: Option<PathBuf>,
    /// Samples per generation.
    pub samples: usize,
    /// First seed of a generation.
    pub seed: u64,
    /// Context margin (fraction of the hole's longer side).
    pub margin: f32,
    /// Seam feathering in photo pixels.
    pub feather_px: f32,
    /// Training photo folder.
    pub train_data: Option<PathBuf>,
    /// Training output folder.
    pub train_out: Option<PathBuf>,
    /// Whether the training panel is open.
    pub show_training: bool,
    /// Keep the first seed between generations (unlocked: every Generate draws a new one).
    pub seed_locked: bool,
    /// Generate as soon as a brush, eraser, rectangle or lasso gesture ends.
    pub generate_on_stroke: bool,
    /// Full-resolution detail of the samples.
    pub detail: DetailMode,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            tool: Tool::Brush,
            brush_radius: 24.0,
            overlay: OverlaySettings::default(),
            photo_dir: None,
            save_dir: None,
            model_dir: None,
            samples: 4,
            seed: 0,
            margin: 0.5,
            feather_px: 8.0,
            train_data: None,
            train_out: None,
            show_training: false,
            seed_locked: true,
            generate_on_stroke: false,
            detail: DetailMode::Patch,
        }
    }
}

impl Prefs {
    /// Loads the preferences from eframe's storage (defaults when absent or unreadable).
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        storage
            .and_then(|s| eframe::get_value::<Prefs>(s, STORAGE_KEY))
            .unwrap_or_default()
            .sanitized()
    }

    /// The training folders, for the training panel.
    pub fn train_folders(&self) -> Folders<'_> {
        Folders {
            data: self.train_data.as_deref(),
            out: self.train_out.as_deref(),
        }
    }

    /// Stores the preferences.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, self);
    }

    /// Clamps values a hand-edited or older file could have out of range.
    pub fn sanitized(mut self) -> Self {
        let (lo, hi) = (
            *crate::ui::theme::BRUSH_RADIUS_RANGE.start(),
            *crate::ui::theme::BRUSH_RADIUS_RANGE.end(),
        );
        if !self.brush_radius.is_finite() {
            self.brush_radius = Prefs::default().brush_radius;
        }
        self.brush_radius = self.brush_radius.clamp(lo, hi);
        self.samples = self.samples.clamp(1, crate::ui::gallery::MAX_SAMPLES);
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            self.margin = Prefs::default().margin;
        }
        if !(self.feather_px.is_finite() && self.feather_px >= 0.0) {
            self.feather_px = Prefs::default().feather_px;
        }
        self.overlay = self.overlay.sanitized();
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_fills_missing_fields() {
        let mut p = Prefs {
            brush_radius: 40.0,
            samples: 6,
            ..Prefs::default()
        };
        p.model_dir = Some("m".into());
        let s = serde_json::to_string(&p).unwrap();
        let back: Prefs = serde_json::from_str(&s).unwrap();
        assert_eq!(back, p);
        let partial: Prefs = serde_json::from_str(r#"{"brush_radius": 3.0}"#).unwrap();
        assert_eq!(partial.brush_radius, 3.0);
        assert_eq!(partial.samples, Prefs::default().samples);
    }

    #[test]
    fn sanitizes_out_of_range_values() {
        let p = Prefs {
            brush_radius: f32::NAN,
            samples: 0,
            margin: -1.0,
            ..Prefs::default()
        }
        .sanitized();
        assert_eq!(p.brush_radius, Prefs::default().brush_radius);
        assert_eq!(p.samples, 1);
        assert_eq!(p.margin, 0.5);
    }
}
