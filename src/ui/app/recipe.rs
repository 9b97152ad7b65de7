//! Recipes in the studio: File ▸ Save recipe… writes the gallery's `recipe.json` (the format
//! `pdpaint inpaint` writes, its mask, pin and mix masks beside it); File ▸ Open recipe… reads
//! one, checks its photo, mask and model against what is open (or opens its photo and mask
//! when no photo is) and asks the inference worker for exactly its samples: plain seeds as a
//! generation, pins, a mix or fills between seeds as a replay
//! ([`crate::inference::worker::ReplayRequest`]). Reading, writing and hashing run on
//! the file thread ([`crate::ui::workers::recipe`]).

use std::path::PathBuf;
use std::sync::Arc;

use super::{SaveKind, Studio};
use crate::detail::DetailMode;
use crate::inference::worker::{InferRequest, ModelSource, ReplayRequest};
use crate::inference::{InpaintOptions, ZSpec};
use crate::mask::Mask;
use crate::steer::pin::Pin;
use crate::steer::recipe::{Input, MixPlan, Plan};
use crate::ui::doc::{MaskOp, WholeMaskOp};
use crate::ui::gallery::MAX_SAMPLES;
use crate::ui::theme;
use crate::ui::workers::recipe::{OpenInputs, OpenedRecipe, RecipeDraft, open_recipe, save_recipe};
use crate::ui::workers::{DialogPurpose, FileTask, JobResult};

/// What the gallery's samples were made with (recorded when a generation starts).
#[derive(Debug, Clone)]
pub(super) struct Basis {
    /// The generation.
    pub generation: u64,
    /// The photo's file, when the samples were made from the photo as it was opened.
    pub photo: Option<PathBuf>,
    /// The mask as the user painted it (before any pin).
    pub mask: Arc<Mask>,
    /// The hole the samples filled (the mask minus the pins).
    pub hole: Arc<Mask>,
    /// The pins the samples were made under, in order.
    pub pins: Vec<Pin>,
    /// Whether every pin was made under the samples' settings (a recipe records one set).
    pub pins_consistent: bool,
    /// Every setting.
    pub opts: InpaintOptions,
    /// The model.
    pub model: ModelSource,
    /// Its resolution.
    pub resolution: usize,
}

/// Why the gallery's recipe cannot be saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoRecipe {
    /// No generation, or another one since.
    NoSamples,
    /// The generation is still running.
    Running,
    /// The photo was not opened from a file, or was edited before generating.
    NoPhotoFile,
    /// A pin was made under other settings than the samples (margin, feather, detail).
    PinSettings,
    /// A raw sample went into the mix while detail was on.
    RawMix,
    /// A mix step is being made.
    Mixing,
}

impl NoRecipe {
    fn message(self) -> &'static str {
        match self {
            Self::NoSamples => "Generate samples first: a recipe records the gallery's samples",
            Self::Running => "Wait until the samples are made, then save the recipe",
            Self::NoPhotoFile => {
                "A recipe names the photo file: save the edited photo, open it and generate \
                 again, then save the recipe"
            }
            Self::PinSettings => {
                "A pin was made under other settings than these samples, and a recipe records \
                 one set: keep the settings while pinning, or apply and save the image instead"
            }
            Self::RawMix => {
                "The mix has raw samples in it while detail was on, and a recipe replays the \
                 detailed ones: mix the detailed samples, or save the mix as an image"
            }
            Self::Mixing => "Wait until the mix step is made, then save the recipe",
        }
    }
}

impl Studio {
    /// The recipe of the gallery as it is now.
    fn recipe_draft(&self) -> Result<RecipeDraft, NoRecipe> {
        let basis = self
            .basis
            .as_ref()
            .filter(|b| self.gallery.generation == Some(b.generation))
            .ok_or(NoRecipe::NoSamples)?;
        if self.generation.running.is_some() {
            return Err(NoRecipe::Running);
        }
        let photo = basis.photo.clone().ok_or(NoRecipe::NoPhotoFile)?;
        let bx = self.gallery.bx.ok_or(NoRecipe::NoSamples)?;
        let samples: Vec<ZSpec> = self
            .gallery
            .tiles
            .iter()
            .filter(|t| t.photo.is_some() && t.mix.is_none())
            .map(|t| t.spec)
            .collect();
        if samples.is_empty() {
            return Err(NoRecipe::NoSamples);
        }
        if !basis.pins_consistent {
            return Err(NoRecipe::PinSettings);
        }
        let mix = match self
            .gallery
            .mix_slot()
            .and_then(|i| self.gallery.tiles[i].mix.as_ref())
        {
            None => None,
            Some(m) if m.raw_parts => return Err(NoRecipe::RawMix),
            Some(m) => {
                let stack = m.stack.as_ref().ok_or(NoRecipe::Mixing)?;
                Some(MixPlan {
                    base: stack.base_spec(),
                    steps: stack.steps().cloned().collect(),
                })
            }
        };
        Ok(RecipeDraft {
            photo,
            mask: basis.mask.clone(),
            model: basis.model.clone(),
            resolution: basis.resolution,
            samples,
            pins: basis.pins.clone(),
            mix,
            opts: basis.opts,
            backend: self
                .model
                .backend
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), |b| b.description.clone()),
            context_box: [bx.x0, bx.y0, bx.size as i64],
        })
    }

    /// File ▸ Save recipe…: asks where, when there is a recipe to save.
    pub(super) fn save_recipe_dialog(&mut self) {
        match self.recipe_draft() {
            Ok(_) => self.dialog(DialogPurpose::SaveRecipe, Some("recipe.json".into())),
            Err(why) => self.status.post(why.message(), true),
        }
    }

    /// Writes the gallery's recipe to `path` on the file thread.
    pub(super) fn save_recipe_to(&mut self, path: PathBuf) {
        let draft = match self.recipe_draft() {
            Ok(d) => d,
            Err(why) => {
                self.status.post(why.message(), true);
                return;
            }
        };
        let path = if path.extension().is_none() {
            path.with_extension("json")
        } else {
            path
        };
        if let Some(dir) = path.parent() {
            self.prefs.save_dir = Some(dir.to_path_buf());
        }
        self.saves.insert(path.clone(), SaveKind::Recipe);
        self.workers
            .run_job(move || match save_recipe(&draft, &path) {
                Ok(path) => JobResult::Saved { path },
                Err(e) => JobResult::Failed {
                    task: FileTask::SaveRecipe,
                    error: e.to_string(),
                },
            });
    }

    /// Reads and checks the recipe at `path` on the file thread.
    pub(super) fn open_recipe_from(&mut self, path: PathBuf) {
        let Some(model) = self.model.info.as_ref().map(|m| m.source.clone()) else {
            self.status.post(
                "No model is loaded: load the recipe's model first, then open the recipe",
                true,
            );
            return;
        };
        let open = self.doc.as_ref().map(|d| OpenInputs {
            photo: d.source.clone().filter(|_| !d.photo_unsaved()),
            mask: Arc::new(d.mask().clone()),
            size: d.size(),
        });
        self.status
            .post(format!("Opening the recipe {}", path.display()), false);
        self.workers
            .run_job(move || match open_recipe(&path, open.as_ref(), &model) {
                Ok(o) => JobResult::RecipeOpened(Box::new(o)),
                Err(e) => JobResult::Failed {
                    task: FileTask::OpenRecipe,
                    error: e.to_string(),
                },
            });
    }

    /// A recipe was read: refuses one made with other inputs, else opens its photo
    /// when none was open and regenerates its samples.
    pub(super) fn recipe_opened(&mut self, o: OpenedRecipe) {
        let r = &o.recipe;
        let name = o.path.display();
        if !o.differs.is_empty() {
            let what: Vec<String> = o
                .differs
                .iter()
                .map(|i| match i {
                    Input::Image => format!("photo ({})", r.image.path.display()),
                    Input::Mask => format!("mask ({})", r.mask.path.display()),
                    Input::Model => format!("model ({})", r.model.path.display()),
                })
                .collect();
            self.status.post(
                format!(
                    "This recipe was made with another {}; nothing was replayed: {name}",
                    what.join(", another ")
                ),
                true,
            );
            return;
        }
        let specs = r.specs();
        if specs.is_empty() || specs.len() > MAX_SAMPLES {
            self.status.post(
                format!(
                    "The studio's gallery holds 1–{MAX_SAMPLES} samples and this recipe has {}: {name}",
                    specs.len()
                ),
                true,
            );
            return;
        }
        let seeds: Option<Vec<u64>> = specs
            .iter()
            .map(|s| match s {
                ZSpec::Seed(seed) => Some(*seed),
                _ => None,
            })
            .collect();
        let opts = r.options();
        let n = specs.len();
        let path = o.path.clone();
        if let Some(inputs) = o.inputs {
            self.status.notes = inputs.notes;
            self.set_photo(inputs.image, Some(inputs.path));
            if let Some(doc) = &mut self.doc {
                doc.replace_mask(inputs.mask, MaskOp::Replace(WholeMaskOp::Import));
            }
        }
        let Some(doc) = &self.doc else {
            return;
        };
        let plain = o.plan.pins.is_empty() && o.plan.mix.is_none();
        let started = match seeds {
            // Plain seeds: a generation like any other (with the unit maps).
            Some(seeds) if plain => {
                let req = InferRequest {
                    photo: doc.photo().clone(),
                    mask: Arc::new(doc.mask().clone()),
                    seeds,
                    opts,
                    want_maps: true,
                    thumb_side: theme::THUMB_SIZE as u32,
                };
                self.pins = None;
                self.steer.pinned.clear();
                self.start_generation(req)
            }
            // Pins, a mix or fills between seeds: replayed as the command line does.
            _ => self.start_replay(o.plan, o.hole, &specs),
        };
        if started {
            self.status.post(
                format!("Replaying the recipe {}: {n} samples", path.display()),
                false,
            );
        }
    }

    /// Submits a recipe's replay to the inference worker and starts its gallery; `false`
    /// (reported) when the worker is down.
    fn start_replay(&mut self, plan: Plan, hole: Mask, specs: &[ZSpec]) -> bool {
        let Some(doc) = &self.doc else {
            return false;
        };
        let size = doc.size();
        let photo = doc.source.clone().filter(|_| !doc.photo_unsaved());
        let mask = Arc::new(doc.mask().clone());
        let opts = plan.options;
        let pins = plan.pins.clone();
        let req = ReplayRequest {
            photo: doc.photo().clone(),
            mask: mask.clone(),
            plan,
            thumb_side: theme::THUMB_SIZE as u32,
        };
        let g = match self.workers.submit_replay(req) {
            Ok(g) => g,
            Err(why) => {
                self.status.post(why, true);
                return false;
            }
        };
        // The pins arrive with the samples (`InferEvent::Pinned`).
        self.pins = None;
        self.steer.pinned.clear();
        self.gallery
            .begin_specs(g, specs, size, opts.detail == DetailMode::Patch);
        self.gallery.preview = true;
        self.generation = super::Generation {
            running: Some(g),
            ..super::Generation::default()
        };
        self.basis = self.model.info.as_ref().map(|m| Basis {
            generation: g,
            photo,
            mask,
            hole: Arc::new(hole),
            pins,
            pins_consistent: true,
            opts,
            model: m.source.clone(),
            resolution: m.resolution,
        });
        true
    }
}
