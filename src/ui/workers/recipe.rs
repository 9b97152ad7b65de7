//! Recipes on the file thread: writing the gallery's `recipe.json` (with its mask beside it)
//! and reading one back, hashing the inputs it names. Plain data in, plain data out; the
//! studio decides what to do with the result (`app::recipe`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use crate::error::{Error, Result};
use crate::imageops::{self, sha256_file};
use crate::inference::worker::ModelSource;
use crate::inference::{InpaintOptions, ZSpec};
use crate::mask::Mask;
use crate::model::embedded;
use crate::steer::pin::{Pin, hole_after};
use crate::steer::recipe::{
    FORMAT, HashedFile, Input, MixPlan, MixRecord, MixStepRecord, Naming, PinRecord, Plan, Recipe,
};

/// What the studio knows about the gallery whose recipe is saved.
#[derive(Debug, Clone)]
pub struct RecipeDraft {
    /// The photo file the samples were made from.
    pub photo: PathBuf,
    /// The mask the samples were made with.
    pub mask: Arc<Mask>,
    /// The model.
    pub model: ModelSource,
    /// Its resolution.
    pub resolution: usize,
    /// The samples, in gallery order.
    pub samples: Vec<ZSpec>,
    /// The pins the samples were made under, in order.
    pub pins: Vec<Pin>,
    /// The gallery's mix, if it has one.
    pub mix: Option<MixPlan>,
    /// Every setting of the generation.
    pub opts: InpaintOptions,
    /// The backend's description.
    pub backend: String,
    /// The samples' context box `[x0, y0, size]`.
    pub context_box: [i64; 3],
}

/// The inputs open in the studio when a recipe is opened.
#[derive(Debug, Clone)]
pub struct OpenInputs {
    /// The photo's file, when the photo came from one and has not been edited since.
    pub photo: Option<PathBuf>,
    /// The mask as it is now.
    pub mask: Arc<Mask>,
    /// The photo's size.
    pub size: (u32, u32),
}

/// A photo and mask read from a recipe's folder (nothing was open).
#[derive(Debug)]
pub struct RecipeInputs {
    /// The photo's file.
    pub path: PathBuf,
    /// The photo.
    pub image: RgbImage,
    /// What loading it dropped, one sentence each.
    pub notes: Vec<String>,
    /// The recipe's mask.
    pub mask: Mask,
}

/// A recipe read and checked against the inputs.
#[derive(Debug)]
pub struct OpenedRecipe {
    /// The recipe's file.
    pub path: PathBuf,
    /// The recipe (validated).
    pub recipe: Recipe,
    /// Which inputs differ from the ones the recipe was made with.
    pub differs: Vec<Input>,
    /// The photo and mask read from the recipe's folder, when no photo was open.
    pub inputs: Option<RecipeInputs>,
    /// Its work with the pin and mix masks loaded and checked.
    pub plan: Plan,
    /// The hole its samples fill: the mask minus every pin.
    pub hole: Mask,
}

/// The SHA-256 a recipe records for `model`.
///
/// # Errors
/// When a model folder cannot be read.
pub fn model_sha256(model: &ModelSource) -> Result<String> {
    match model {
        ModelSource::Embedded => Ok(embedded::sha256()),
        ModelSource::Folder(dir) => crate::model::folder_sha256(dir),
    }
}

/// How a recipe names `model`: the folder, or the embedded model's name (as `inpaint` does).
fn model_path(model: &ModelSource) -> PathBuf {
    match model {
        ModelSource::Embedded => PathBuf::from(embedded::NAME),
        ModelSource::Folder(dir) => dir.clone(),
    }
}

/// Writes the recipe of `draft` to `path` (format 2, as `pdpaint inpaint` writes it) and its
/// masks beside it: `<name>-mask.png`, and `<name>-pin-N.png` and `<name>-mix-N.png` for the
/// pins and mix steps; returns the recipe's path.
///
/// # Errors
/// When the photo or model cannot be hashed or a file cannot be written.
pub fn save_recipe(draft: &RecipeDraft, path: &Path) -> Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .map_or_else(|| "recipe".to_owned(), |s| s.to_string_lossy().into_owned());
    let mask_name = PathBuf::from(format!("{stem}-mask.png"));
    let mask_path = dir.join(&mask_name);
    draft.mask.save(&mask_path)?;
    let photo = std::path::absolute(&draft.photo)
        .map_err(|e| Error::io("cannot resolve the photo's path", &draft.photo, e))?;
    let detailed = draft.opts.detail == crate::detail::DetailMode::Patch;
    let beside_mask = |name: String, mask: &Mask| -> Result<HashedFile> {
        let file = dir.join(&name);
        mask.save(&file)?;
        Ok(HashedFile {
            sha256: sha256_file(&file)?,
            path: PathBuf::from(name),
        })
    };
    let pins = draft
        .pins
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(PinRecord {
                source: p.source,
                detail: p.detail,
                mask: beside_mask(format!("{stem}-pin-{}.png", i + 1), &p.keep)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mix = match &draft.mix {
        None => None,
        Some(m) => Some(MixRecord {
            base: m.base,
            steps: m
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    Ok(MixStepRecord {
                        other: s.other,
                        brush: beside_mask(format!("{stem}-mix-{}.png", i + 1), &s.brush)?,
                        feather_px: s.feather_px,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            output: None,
        }),
    };
    let recipe = Recipe {
        pdpaint_version: env!("CARGO_PKG_VERSION").into(),
        format: FORMAT,
        image: HashedFile {
            sha256: sha256_file(&photo)?,
            path: photo,
        },
        mask: HashedFile {
            sha256: sha256_file(&mask_path)?,
            path: mask_name,
        },
        model: HashedFile {
            path: model_path(&draft.model),
            sha256: model_sha256(&draft.model)?,
        },
        resolution: Some(draft.resolution),
        seeds: Vec::new(),
        samples: draft.samples.clone(),
        naming: Naming::Between,
        margin: draft.opts.margin,
        feather_px: draft.opts.feather_px,
        batch: Some(draft.opts.batch),
        backend: draft.backend.clone(),
        context_box: draft.context_box,
        detail: draft.opts.detail,
        detail_params: detailed.then_some(draft.opts.detail_params),
        pins,
        mix,
        outputs: Vec::new(),
        raw_outputs: Vec::new(),
    };
    recipe.validate()?;
    recipe.save(path)?;
    Ok(path.to_path_buf())
}

/// A recipe's input path: as written when absolute, else in the recipe's folder (by its
/// name alone when the relative path is not there).
fn beside(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let joined = dir.join(p);
    match p.file_name() {
        Some(name) if !joined.exists() => dir.join(name),
        _ => joined,
    }
}

/// Reads the recipe at `path` ([`Recipe::load`]: validated, with its limits) and checks it
/// against `open` (the studio's photo and mask) and `model`. With nothing open, the photo and
/// mask are read from the recipe's folder and hashed.
///
/// # Errors
/// When the recipe cannot be read or is refused, or an input cannot be read or hashed.
pub fn open_recipe(
    path: &Path,
    open: Option<&OpenInputs>,
    model: &ModelSource,
) -> Result<OpenedRecipe> {
    let recipe = Recipe::load(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let model_sha = model_sha256(model)?;
    let (image_sha, mask_sha, inputs, size, mask) = match open {
        Some(o) => {
            let image_sha = match &o.photo {
                Some(p) => sha256_file(p)?,
                None => String::new(),
            };
            // The mask is compared by its pixels: the recipe's file, when it is the one
            // recorded, against the mask as it is now.
            let mask_file = beside(dir, &recipe.mask.path);
            let same_mask = sha256_file(&mask_file).is_ok_and(|s| s == recipe.mask.sha256)
                && Mask::load(&mask_file).is_ok_and(|m| m == *o.mask);
            let mask_sha = if same_mask {
                recipe.mask.sha256.clone()
            } else {
                String::new()
            };
            (image_sha, mask_sha, None, o.size, o.mask.as_ref().clone())
        }
        None => {
            let photo = beside(dir, &recipe.image.path);
            let mask_file = beside(dir, &recipe.mask.path);
            let (image, notes) = imageops::load_image_with_notes(&photo)?;
            let mask = Mask::load(&mask_file)?;
            if (mask.width, mask.height) != image.dimensions() {
                return Err(Error::Shape(format!(
                    "the recipe's mask is {}×{} but its photo is {}×{}: {}",
                    mask.width,
                    mask.height,
                    image.width(),
                    image.height(),
                    mask_file.display()
                )));
            }
            let (size, hole) = (image.dimensions(), mask.clone());
            let inputs = RecipeInputs {
                path: photo.clone(),
                image,
                notes,
                mask,
            };
            (
                sha256_file(&photo)?,
                sha256_file(&mask_file)?,
                Some(inputs),
                size,
                hole,
            )
        }
    };
    let plan = recipe.plan(dir, size)?;
    let keeps: Vec<Mask> = plan.pins.iter().map(|p| p.keep.clone()).collect();
    let hole = hole_after(&mask, &keeps)?;
    Ok(OpenedRecipe {
        path: path.to_path_buf(),
        differs: recipe.mismatches(&image_sha, &mask_sha, &model_sha),
        recipe,
        inputs,
        plan,
        hole,
    })
}
