//! The gallery's mix slot (see [`crate::ui::steer`]): one per gallery, holding the mix's
//! stack, made and changed on the file thread and stored here as it comes back.

use std::sync::Arc;

use image::RgbImage;

use super::{DetailStatus, Gallery, Tile};
use crate::steer::mix::MixStack;
use crate::steer::score::SampleScores;
use crate::ui::textures::{PIXEL_OPTIONS, color_image};

/// The gallery's mix slot: the steps so far (see [`crate::ui::steer`]).
#[derive(Debug)]
pub struct MixSlot {
    /// The mix, its base and every step's pixels (away while a step is being computed).
    pub stack: Option<Box<MixStack>>,
    /// How many steps it has.
    pub steps: usize,
    /// Whether a raw sample went into it while detail was on (a recipe, which replays
    /// detailed samples, could not make it again).
    pub raw_parts: bool,
}

impl Gallery {
    /// The mix slot's index, if the gallery has one.
    pub fn mix_slot(&self) -> Option<usize> {
        self.tiles.iter().position(|t| t.mix.is_some())
    }

    /// Takes the mix's stack out of its slot (to compute a step off the UI thread); `None`
    /// when there is no mix or a step is under way.
    pub fn take_mix_stack(&mut self) -> Option<Box<MixStack>> {
        let i = self.mix_slot()?;
        self.tiles[i].mix.as_mut()?.stack.take()
    }

    /// Stores the mix of `generation` as it is now (ignored for another generation), making
    /// its slot when there is none and selecting it; a mix without steps removes the slot and
    /// selects its base sample. Returns the slot's index.
    #[allow(clippy::too_many_arguments)] // the fields of one `JobResult::Mixed`
    pub fn set_mix(
        &mut self,
        ctx: &egui::Context,
        generation: u64,
        stack: Box<MixStack>,
        image: Arc<RgbImage>,
        thumb: &RgbImage,
        scores: Result<SampleScores, String>,
        raw_parts: bool,
    ) -> Option<usize> {
        if self.generation != Some(generation) {
            return None;
        }
        let steps = stack.steps().count();
        let base = stack.base_spec();
        let existing = self.mix_slot();
        if steps == 0 {
            if let Some(i) = existing {
                self.remove_slot(i);
            }
            self.selected = self
                .tiles
                .iter()
                .position(|t| t.mix.is_none() && t.spec == base)
                .or(self.selected);
            return None;
        }
        let i = match existing {
            Some(i) => i,
            None => {
                let seed = base.detail_seed();
                self.tiles.push(Tile::new(seed, base, DetailStatus::Off));
                self.tiles.len() - 1
            }
        };
        let tex = ctx.load_texture(format!("mix-{steps}"), color_image(thumb), PIXEL_OPTIONS);
        let tile = &mut self.tiles[i];
        let raw_parts = raw_parts || tile.mix.as_ref().is_some_and(|m| m.raw_parts);
        tile.mix = Some(MixSlot {
            stack: Some(stack),
            steps,
            raw_parts,
        });
        tile.raw = Some((image, tex));
        tile.raw_scores = Some(scores);
        tile.show(self.show_raw);
        self.selected = Some(i);
        if self.compare == Some(i) {
            self.compare = None;
        }
        Some(i)
    }

    /// Gives a mix stack back to its slot after a step failed.
    pub fn return_mix_stack(&mut self, generation: u64, stack: Box<MixStack>) {
        if self.generation != Some(generation) {
            return;
        }
        if let Some(i) = self.mix_slot()
            && let Some(m) = self.tiles[i].mix.as_mut()
        {
            m.stack = Some(stack);
        }
    }

    /// Removes the mix slot.
    pub fn discard_mix(&mut self) {
        if let Some(i) = self.mix_slot() {
            let base = self.tiles[i].spec;
            self.remove_slot(i);
            if self.selected.is_none() {
                self.selected = self
                    .tiles
                    .iter()
                    .position(|t| t.photo.is_some() && t.spec == base);
            }
        }
    }

    fn remove_slot(&mut self, i: usize) {
        if i >= self.tiles.len() {
            return;
        }
        self.tiles.remove(i);
        let shift = |v: Option<usize>| match v {
            Some(j) if j == i => None,
            Some(j) if j > i => Some(j - 1),
            other => other,
        };
        self.selected = shift(self.selected);
        self.compare = shift(self.compare);
    }
}
