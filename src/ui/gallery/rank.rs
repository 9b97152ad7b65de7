//! Ranking the gallery: each thumbnail's score badge and the "Sort" control.
//!
//! The scores come from the inference worker ([`crate::steer::score`]), computed with the
//! samples, off the UI thread; this module only orders indices and draws labels.

use std::cmp::Ordering;

use crate::steer::score::{Realism, SampleScores};

use super::Tile;

/// What the seam badge means (its hover text).
pub const SEAM_HELP: &str = "seam: colour and gradient jump across the hole edge, normalised by \
                             the photo's own; lower is better (about 1 is as smooth as the \
                             photo around the hole)";

/// What the realism badge means (its hover text).
pub const REALISM_HELP: &str = "realism: the model's discriminator's mean score of the filled \
                                context box; higher is better (more like a real photo to it). \
                                Compare samples of one hole: the scale depends on the model";

/// The order the gallery's thumbnails are drawn in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortBy {
    /// Seed order, as generated.
    #[default]
    Order,
    /// Lowest seam score first; unscored samples last, in seed order.
    Seam,
    /// Highest realism score first; samples without one last, in seed order.
    Realism,
}

/// The seam score of a slot's shown version, if it has one.
fn seam(t: &Tile) -> Option<f32> {
    match &t.scores {
        Some(Ok(s)) => Some(s.seam.score),
        _ => None,
    }
}

/// The realism score of a slot's shown version, if it has one.
fn realism(t: &Tile) -> Option<f32> {
    match &t.scores {
        Some(Ok(s)) => s.realism.value(),
        _ => None,
    }
}

/// Slot indices in the order `by` draws them (a stable sort: ties keep seed order).
pub fn order(tiles: &[Tile], by: SortBy) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..tiles.len()).collect();
    // Smaller keys first; `None` (no score) after every score.
    let key = |i: usize| -> Option<f32> {
        match by {
            SortBy::Order => Some(0.0),
            SortBy::Seam => seam(&tiles[i]),
            SortBy::Realism => realism(&tiles[i]).map(|v| -v),
        }
    };
    idx.sort_by(|&a, &b| match (key(a), key(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    idx
}

/// Whether any slot has a realism score (the model has a discriminator).
pub fn any_realism(tiles: &[Tile]) -> bool {
    tiles.iter().any(|t| realism(t).is_some())
}

/// The badge text of one sample's scores: `seam 0.93`, with ` · realism 0.41` when the model
/// has a discriminator.
pub fn badge_text(s: &SampleScores) -> String {
    match s.realism.value() {
        Some(r) => format!("seam {:.2} · realism {r:.2}", s.seam.score),
        None => format!("seam {:.2}", s.seam.score),
    }
}

/// Draws a slot's score badge under its thumbnail.
pub fn badge(ui: &mut egui::Ui, scores: &Result<SampleScores, String>) {
    match scores {
        Ok(s) => {
            let help = match s.realism {
                Realism::Score { .. } => format!("{SEAM_HELP}\n{REALISM_HELP}"),
                Realism::NoDiscriminator => {
                    format!("{SEAM_HELP}\n(the model has no discriminator: no realism score)")
                }
                Realism::NotComputed => {
                    format!("{SEAM_HELP}\n(a mix has no realism score: its parts have theirs)")
                }
            };
            ui.small(badge_text(s)).on_hover_text(help);
        }
        Err(e) => {
            ui.small("no score")
                .on_hover_text(format!("The scores could not be computed: {e}"));
        }
    }
}

/// The "Sort: order / seam / realism" control (realism only when some sample has one).
pub fn sort_control(ui: &mut egui::Ui, sort: &mut SortBy, tiles: &[Tile]) {
    // Without realism scores, "realism" draws seed order (every key is missing).
    let realism_on = any_realism(tiles);
    ui.horizontal(|ui| {
        ui.label("Sort:");
        ui.selectable_value(sort, SortBy::Order, "order")
            .on_hover_text("Seed order, as generated");
        ui.selectable_value(sort, SortBy::Seam, "seam")
            .on_hover_text(format!("Best seam first. {SEAM_HELP}"));
        ui.add_enabled_ui(realism_on, |ui| {
            ui.selectable_value(sort, SortBy::Realism, "realism")
                .on_hover_text(format!("Most realistic first. {REALISM_HELP}"))
                .on_disabled_hover_text("The model has no discriminator: no realism scores");
        });
    });
}
