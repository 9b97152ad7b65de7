//! The status bar and the banners above the canvas: the last message, the error banner (until
//! dismissed), the notes on the open photo (until dismissed), timings, zoom and the pointer.

use std::time::{Duration, Instant};

use egui::Pos2;

use crate::inference::worker::{BackendInfo, ModelInfo};
use crate::ui::canvas::Xform;
use crate::ui::command::Command;
use crate::ui::overlay::{MapKind, OverlayTimings};
use crate::ui::theme;

/// Timings shown in the status bar.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Prior and conditioning of the last request.
    pub prior: Option<Duration>,
    /// Mean time per sample of the last request.
    pub per_sample: Option<Duration>,
    /// Whole last request.
    pub total: Option<Duration>,
}

/// A message in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
    /// When it was posted.
    pub at: Instant,
}

/// The status bar's and the banners' state.
#[derive(Debug, Clone, Default)]
pub struct StatusBar {
    /// The last status message (transient: the next message replaces it).
    pub message: Option<Message>,
    /// The last error: shown in a banner until the user dismisses it (or a newer error
    /// replaces it), so news such as "Model loaded" cannot hide it.
    pub error: Option<Message>,
    /// What loading the open photo dropped (alpha, bit depth): shown until dismissed.
    pub notes: Vec<String>,
    /// Last timings.
    pub timings: Timings,
    /// The photo position under the pointer in the last frame.
    pub hover: Option<Pos2>,
    /// The canvas transform of the last frame.
    pub xform: Option<Xform>,
}

impl StatusBar {
    /// Posts a status message; an error also stays in the error banner until dismissed.
    pub fn post(&mut self, text: impl Into<String>, error: bool) {
        let m = Message {
            text: text.into(),
            error,
            at: Instant::now(),
        };
        if error {
            self.error = Some(m.clone());
        }
        self.message = Some(m);
    }

    /// The error banner: the last error with a dismiss button.
    #[must_use]
    pub fn error_banner(&self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut out = Vec::new();
        if let Some(e) = &self.error {
            ui.horizontal(|ui| {
                if ui
                    .small_button("×")
                    .on_hover_text("Dismiss this error")
                    .clicked()
                {
                    out.push(Command::DismissError);
                }
                ui.colored_label(theme::ERROR_TEXT, &e.text);
            });
        }
        out
    }

    /// The notes banner: what loading the photo dropped, with a dismiss button.
    #[must_use]
    pub fn notes_banner(&self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut out = Vec::new();
        if self.notes.is_empty() {
            return out;
        }
        ui.horizontal(|ui| {
            if ui
                .small_button("×")
                .on_hover_text("Dismiss these notes")
                .clicked()
            {
                out.push(Command::DismissNotes);
            }
            ui.vertical(|ui| {
                for n in &self.notes {
                    ui.colored_label(theme::WARN_TEXT, n);
                }
            });
        });
        out
    }

    /// The status bar: the last message on the left; pointer, zoom, timings, model and backend
    /// on the right.
    pub fn show(
        &self,
        ui: &mut egui::Ui,
        model: Option<&ModelInfo>,
        backend: Option<&BackendInfo>,
        map: MapKind,
        overlay_timings: &OverlayTimings,
    ) {
        ui.horizontal(|ui| {
            // The message first: it is what the user needs after an action. Errors are shown
            // in the error banner instead, until dismissed.
            if let Some(m) = self.message.as_ref().filter(|m| !m.error) {
                ui.label(&m.text);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(p) = self.hover {
                    ui.label(format!("{:.0}, {:.0}", p.x.floor(), p.y.floor()));
                }
                if let Some(x) = self.xform {
                    ui.label(format!("{:.0}%", x.zoom * 100.0));
                }
                let mut parts = Vec::new();
                if let Some(t) = self.timings.prior {
                    parts.push(format!("prior {:.0} ms", t.as_secs_f64() * 1e3));
                }
                if let Some(t) = self.timings.per_sample {
                    parts.push(format!("{:.0} ms/sample", t.as_secs_f64() * 1e3));
                }
                let hard = match map {
                    MapKind::HardFull => overlay_timings.hard_full_update,
                    MapKind::HardUnit => overlay_timings.hard_unit,
                    _ => None,
                };
                if let Some(t) = hard {
                    parts.push(format!("hard map {:.2} ms", t.as_secs_f64() * 1e3));
                }
                if !parts.is_empty() {
                    ui.separator();
                    ui.label(parts.join(", "));
                }
                ui.separator();
                match model {
                    Some(m) => ui
                        .label(format!("model: {}", m.preset))
                        .on_hover_text(m.source.describe()),
                    None => ui.colored_label(theme::WARN_TEXT, "no model"),
                };
                ui.separator();
                match backend {
                    Some(b) => {
                        ui.label(b.label()).on_hover_text(&b.description);
                    }
                    None => {
                        ui.label("selecting the compute backend…");
                    }
                }
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_in_the_banner_until_a_newer_one() {
        let mut s = StatusBar::default();
        s.post("broken", true);
        s.post("Model loaded", false);
        assert_eq!(
            s.message.as_ref().map(|m| m.text.as_str()),
            Some("Model loaded")
        );
        assert_eq!(s.error.as_ref().map(|m| m.text.as_str()), Some("broken"));
        s.post("worse", true);
        assert_eq!(s.error.as_ref().map(|m| m.text.as_str()), Some("worse"));
    }
}
