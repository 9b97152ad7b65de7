//! Pin and re-roll, and mix, applied to the studio (what [`crate::ui::steer`]'s brushes and
//! buttons ask for).
//!
//! Pins: the first re-roll starts a [`PinStack`] on the document's photo and hole; each pin
//! pastes the kept pixels of the selected sample and takes them out of the hole (on the file
//! thread: it copies the photo), and every generation after it (re-roll, Generate, the
//! interpolation strip) starts from the stack's photo and hole. The gallery a pin was brushed on is put aside, so "Undo pin" brings it
//! back (the last [`KEPT_GALLERIES`] of them; older ones are let go to bound memory). Editing
//! the photo or the mask drops the pins: they were made for the hole as it was.
//!
//! Mix: each Mix stroke is a step of the gallery's mix slot, computed on the file thread
//! (the stack travels there and back as plain data).

use std::sync::Arc;

use image::RgbImage;

use super::Studio;
use super::recipe::Basis;
use crate::detail::DetailMode;
use crate::inference::InpaintOptions;
use crate::inference::worker::make_thumb;
use crate::mask::Mask;
use crate::steer::mix::{MixStack, MixStep};
use crate::steer::pin::{Pin, PinStack};
use crate::steer::score::{Realism, SampleScores, SeamScorer};
use crate::ui::gallery::{DetailStatus, Gallery};
use crate::ui::steer::SteerFacts;
use crate::ui::theme;
use crate::ui::workers::JobResult;
use crate::ui::workers::jobs::{MixedImage, PinChange};

/// How many galleries put aside by pins are kept for "Undo pin".
pub const KEPT_GALLERIES: usize = 2;

/// A gallery put aside when a pin was made on it.
pub(super) struct Stashed {
    gallery: Gallery,
    basis: Option<Basis>,
}

/// The pins of the next generation.
pub(super) struct Pinned {
    /// The stack (away on the file thread while a pin is added or dropped).
    stack: Option<Box<PinStack>>,
    /// The document revision the stack was started on.
    revision: u64,
    /// Per pin, the settings of the generation it was brushed on (a recipe records one set:
    /// it can replay the pins only when they all match the samples').
    opts: Vec<InpaintOptions>,
    /// Per pin, the gallery it was brushed on (`None` once let go).
    stash: Vec<Option<Stashed>>,
    /// The pin on its way to the file thread, made on the gallery of this generation.
    pending_opts: Option<InpaintOptions>,
}

impl Pinned {
    /// How many pins (counting one being added).
    fn count(&self) -> usize {
        self.opts.len()
    }
}

impl Studio {
    /// The photo and hole the next generation starts from: the document's, or with the pins
    /// applied. Pins made before the photo or the mask changed are dropped (and said so);
    /// `None` (said so) while a pin is being added or dropped.
    pub(super) fn generation_inputs(&mut self) -> Option<(Arc<RgbImage>, Arc<Mask>)> {
        let doc = self.doc.as_ref()?;
        if let Some(p) = &self.pins {
            if p.revision == doc.revision() {
                let Some(stack) = &p.stack else {
                    self.status.post("Wait until the pin is made", true);
                    return None;
                };
                return Some(stack.current_shared());
            }
            self.pins = None;
            self.steer.pinned.clear();
            self.status.post(
                "The photo or the mask changed since the pins were made: they were dropped",
                false,
            );
        }
        Some((doc.photo().clone(), Arc::new(doc.mask().clone())))
    }

    /// The pins, the hole before them and the settings each was made under, for a
    /// generation's record.
    pub(super) fn pin_record(&self) -> Option<(Vec<Pin>, Arc<Mask>, Vec<InpaintOptions>)> {
        let p = self.pins.as_ref()?;
        let stack = p.stack.as_ref()?;
        Some((
            stack.pins().cloned().collect(),
            Arc::new(stack.base().1.clone()),
            p.opts.clone(),
        ))
    }

    /// What the steering section shows.
    pub(super) fn steer_facts(&self) -> SteerFacts {
        let g = &self.gallery;
        let ready = |i: Option<usize>| {
            i.and_then(|i| g.tiles.get(i))
                .is_some_and(|t| t.photo.is_some())
        };
        let mix = g.mix_slot().and_then(|i| g.tiles[i].mix.as_ref());
        SteerFacts {
            selected: ready(g.selected),
            compared: ready(g.compare) && g.compare != g.selected,
            pins: self.pins.as_ref().map_or(0, Pinned::count),
            pinning: self.pins.as_ref().is_some_and(|p| p.stack.is_none()),
            mix_steps: mix.map_or(0, |m| m.steps),
            mixing: mix.is_some_and(|m| m.stack.is_none()),
        }
    }

    /// Pins what the Keep brush painted over the selected sample (on the file thread); the
    /// re-roll follows when the pin is made ([`Studio::pins_changed`]).
    pub(super) fn reroll(&mut self) {
        let Some(tile) = self
            .gallery
            .selected
            .and_then(|i| self.gallery.tiles.get(i))
        else {
            self.status
                .post("Select the sample whose parts you want to keep", true);
            return;
        };
        let Some(kept) = tile.photo.clone() else {
            return;
        };
        if tile.mix.is_some() {
            self.status.post(
                "A mix cannot be pinned (a recipe could not make it again): apply it, or pin \
                 one of its samples",
                true,
            );
            return;
        }
        let detail = if tile.shows_detailed() {
            DetailMode::Patch
        } else {
            DetailMode::Off
        };
        let source = tile.spec;
        if self.steer.keep.painted() == 0 {
            self.status
                .post("Brush over the parts to keep first (Keep brush, K)", true);
            return;
        }
        let Some((photo, hole)) = self.generation_inputs() else {
            return;
        };
        let Some(revision) = self.doc.as_ref().map(|d| d.revision()) else {
            return;
        };
        let made_with = self
            .basis
            .as_ref()
            .filter(|b| Some(b.generation) == self.gallery.generation)
            .map(|b| b.opts);
        let pinned = self.pins.get_or_insert_with(|| Pinned {
            stack: None,
            revision,
            opts: Vec::new(),
            stash: Vec::new(),
            pending_opts: None,
        });
        let stack = match pinned.stack.take() {
            Some(s) => s,
            None => match PinStack::new_shared(photo, hole) {
                Ok(s) => Box::new(s),
                Err(e) => {
                    self.pins = None;
                    self.status.post(format!("Could not pin: {e}"), true);
                    return;
                }
            },
        };
        pinned.pending_opts = Some(made_with.unwrap_or(InpaintOptions {
            // Unknown settings never match: such a pin makes the recipe refuse to save.
            margin: f32::NAN,
            ..InpaintOptions::default()
        }));
        let keep = self.steer.keep.take();
        self.status.post("Pinning…", false);
        self.workers.run_job(move || {
            let mut stack = stack;
            let (outcome, brush) = match stack.push(source, detail, &kept, &keep) {
                Ok(()) => (Ok(stack.kept()), None),
                // The brush comes back with the refusal.
                Err(e) => (Err(e.to_string()), Some(keep)),
            };
            JobResult::PinsChanged {
                stack,
                change: PinChange::Pushed,
                outcome,
                brush,
            }
        });
    }

    /// Drops the last pin (on the file thread); the gallery it was brushed on comes back
    /// when that is done.
    pub(super) fn undo_pin(&mut self) {
        let Some(stack) = self.pins.as_mut().and_then(|p| p.stack.take()) else {
            return;
        };
        self.cancel_running();
        self.workers.run_job(move || {
            let mut stack = stack;
            stack.pop();
            let kept = stack.kept();
            JobResult::PinsChanged {
                stack,
                change: PinChange::Popped,
                outcome: Ok(kept),
                brush: None,
            }
        });
    }

    /// A pin was added or dropped on the file thread.
    pub(super) fn pins_changed(
        &mut self,
        stack: Box<PinStack>,
        change: PinChange,
        outcome: Result<Mask, String>,
        brush: Option<Mask>,
    ) {
        if let Some(b) = brush {
            self.steer.keep.set_mask(b);
        }
        let current = self.doc.as_ref().map(|d| d.revision());
        let Some(mut pinned) = self.pins.take() else {
            return;
        };
        if Some(pinned.revision) != current {
            self.steer.pinned.clear();
            self.status.post(
                "The photo or the mask changed while pinning: the pins were dropped",
                false,
            );
            return;
        }
        let kept = match outcome {
            Ok(k) => k,
            Err(e) => {
                pinned.pending_opts = None;
                if stack.pins().count() > 0 {
                    pinned.stack = Some(stack);
                    self.pins = Some(pinned);
                }
                self.status.post(format!("Could not pin: {e}"), true);
                return;
            }
        };
        self.steer.pinned.set_mask(kept);
        let count = stack.pins().count();
        pinned.stack = Some(stack);
        match change {
            PinChange::Pushed => {
                if let Some(o) = pinned.pending_opts.take() {
                    pinned.opts.push(o);
                }
                // The gallery the pin was brushed on, for "Undo pin".
                pinned.stash.push(Some(Stashed {
                    gallery: self.gallery.take(),
                    basis: self.basis.take(),
                }));
                let n = pinned.stash.len();
                for s in pinned
                    .stash
                    .iter_mut()
                    .take(n.saturating_sub(KEPT_GALLERIES))
                {
                    *s = None;
                }
                self.pins = Some(pinned);
                self.generate();
            }
            PinChange::Popped => {
                pinned.opts.pop();
                let stashed = pinned.stash.pop().flatten();
                if count > 0 {
                    self.pins = Some(pinned);
                }
                match stashed {
                    Some(s) => {
                        let view = self.gallery.take();
                        self.gallery = s.gallery;
                        self.gallery.preview = view.preview;
                        self.basis = s.basis;
                        self.status.post("Undid the last pin", false);
                    }
                    None => {
                        self.gallery.clear();
                        self.basis = None;
                        self.status.post(
                            "Undid the last pin; its samples were let go to save memory: \
                             Generate to make new ones",
                            false,
                        );
                    }
                }
            }
        }
    }

    /// A replayed recipe's pins arrived: they become the studio's, as if made here (without
    /// galleries to go back to).
    pub(super) fn replay_pinned(&mut self, generation: u64, stack: Box<PinStack>, kept: Mask) {
        let Some(basis) = self.basis.as_ref().filter(|b| b.generation == generation) else {
            return;
        };
        let Some(revision) = self.doc.as_ref().map(|d| d.revision()) else {
            return;
        };
        let n = stack.pins().count();
        self.pins = Some(Pinned {
            stack: Some(stack),
            revision,
            opts: vec![basis.opts; n],
            stash: (0..n).map(|_| None).collect(),
            pending_opts: None,
        });
        self.steer.pinned.set_mask(kept);
    }

    /// Drops every pin (the gallery stays).
    pub(super) fn drop_pins(&mut self) {
        if self.pins.take().is_some() {
            self.steer.pinned.clear();
            self.status.post(
                "Pins dropped: the next generation fills the whole hole",
                false,
            );
        }
    }

    fn cancel_running(&mut self) {
        if self.generation.running.take().is_some() {
            self.workers.cancel();
        }
    }

    /// The Mix brush's stroke ended: one mix step, computed on the file thread.
    pub(super) fn mix_stroke(&mut self) {
        let brush = self.steer.mix.take();
        let g = &self.gallery;
        let (Some(generation), Some(sel)) = (g.generation, g.selected) else {
            return;
        };
        let Some(other_i) = g.compare.filter(|&c| c != sel) else {
            self.status.post(
                "Shift-click the sample to bring in, then brush where it goes",
                true,
            );
            return;
        };
        let (Some(base_tile), Some(other_tile)) = (g.tiles.get(sel), g.tiles.get(other_i)) else {
            return;
        };
        let (Some(other), false) = (other_tile.photo.clone(), other_tile.mix.is_some()) else {
            self.status
                .post("Bring in a sample, not the mix itself", true);
            return;
        };
        let Some(hole) = self.hole_of(generation) else {
            return;
        };
        let detail_on =
            base_tile.detail != DetailStatus::Off || other_tile.detail != DetailStatus::Off;
        let raw_parts = detail_on
            && (!other_tile.shows_detailed()
                || (base_tile.mix.is_none() && !base_tile.shows_detailed()));
        let other_spec = other_tile.spec;
        let stack = if base_tile.mix.is_some() {
            match self.gallery.take_mix_stack() {
                Some(s) => s,
                None => {
                    self.status
                        .post("The last mix step is still being made", true);
                    return;
                }
            }
        } else if self.gallery.mix_slot().is_some() {
            self.status.post(
                "The gallery has a mix already: select it to go on mixing, or discard it",
                true,
            );
            return;
        } else {
            let Some(base) = base_tile.photo.as_ref() else {
                return;
            };
            match MixStack::new(base_tile.spec, base.as_ref().clone(), hole.as_ref().clone()) {
                Ok(s) => Box::new(s),
                Err(e) => {
                    self.status.post(format!("Could not mix: {e}"), true);
                    return;
                }
            }
        };
        let step = MixStep {
            other: other_spec,
            brush,
            feather_px: self.steer.feather_px,
        };
        let bx = self.gallery.bx;
        self.workers.run_job(move || {
            let mut stack = stack;
            let outcome = match stack.push(step, &other) {
                Ok(_) => Ok(mixed_image(&stack, &hole, bx, raw_parts)),
                Err(e) => Err(e.to_string()),
            };
            JobResult::Mixed {
                generation,
                stack,
                outcome,
            }
        });
        if self.gallery.mix_slot().is_none() {
            self.status.post("Mixing…", false);
        }
    }

    /// The hole the samples of `generation` filled (the mask minus the pins), while it is the
    /// gallery's.
    fn hole_of(&self, generation: u64) -> Option<Arc<Mask>> {
        self.basis
            .as_ref()
            .filter(|b| b.generation == generation)
            .map(|b| b.hole.clone())
    }

    /// Drops the mix's last step (on the file thread: the thumbnail is remade there).
    pub(super) fn undo_mix_step(&mut self) {
        let Some(generation) = self.gallery.generation else {
            return;
        };
        let Some(hole) = self.hole_of(generation) else {
            return;
        };
        let Some(stack) = self.gallery.take_mix_stack() else {
            return;
        };
        let bx = self.gallery.bx;
        self.workers.run_job(move || {
            let mut stack = stack;
            stack.pop();
            let outcome = Ok(mixed_image(&stack, &hole, bx, false));
            JobResult::Mixed {
                generation,
                stack,
                outcome,
            }
        });
    }

    /// A mix step came back from the file thread.
    pub(super) fn mixed(
        &mut self,
        ctx: &egui::Context,
        generation: u64,
        stack: Box<MixStack>,
        outcome: Result<MixedImage, String>,
    ) {
        match outcome {
            Ok(m) => {
                let steps = stack.steps().count();
                let slot = self.gallery.set_mix(
                    ctx,
                    generation,
                    stack,
                    m.image,
                    &m.thumb,
                    m.scores,
                    m.raw_parts,
                );
                if slot.is_some() {
                    self.gallery.preview = true;
                    self.status.post(
                        format!(
                            "Mix: {steps} step{} (Undo mix step drops the last)",
                            if steps == 1 { "" } else { "s" }
                        ),
                        false,
                    );
                }
            }
            Err(e) => {
                self.gallery.return_mix_stack(generation, stack);
                self.status.post(format!("Could not mix: {e}"), true);
            }
        }
    }
}

/// The mix as it is now: its photo, thumbnail and seam score.
fn mixed_image(
    stack: &MixStack,
    hole: &Mask,
    bx: Option<crate::imageops::ContextBox>,
    raw_parts: bool,
) -> MixedImage {
    let image = stack.current();
    let scores = SeamScorer::new(hole)
        .and_then(|s| s.score(image))
        .map(|seam| SampleScores {
            seam,
            realism: Realism::NotComputed,
        })
        .map_err(|e| e.to_string());
    MixedImage {
        thumb: make_thumb(image, bx, theme::THUMB_SIZE as u32),
        image: Arc::new(image.clone()),
        scores,
        raw_parts,
    }
}
