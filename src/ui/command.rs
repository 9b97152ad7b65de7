//! What the panels ask the studio to do.
//!
//! Every panel owns its state and draws itself; what it cannot do alone (anything touching the
//! document, the workers, another panel or the window) it returns as [`Command`]s. The studio
//! applies them in one place (`app::apply`), where worker events are applied too. Widgets that
//! only edit a preference (a slider, a checkbox) write the one [`crate::ui::prefs::Prefs`]
//! directly; commands are for everything with consequences.
//!
//! To add a feature: add a variant here, emit it from the panel's `show`, handle it in
//! `app::apply`.

use std::path::PathBuf;

use crate::inference::worker::ModelSource;
use crate::train::config::TrainConfig;
use crate::train::worker::Command as TrainCommand;
use crate::ui::canvas::Tool;
use crate::ui::doc::WholeMaskOp;
use crate::ui::strip::StripEnds;

/// One thing the user asked for.
#[must_use = "a command does nothing until the studio applies it"]
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show the open dialog (asks first when there is unsaved work).
    OpenPhoto,
    /// Open this photo file (asks first when there is unsaved work).
    OpenPath(PathBuf),
    /// Save something: a save dialog opens with a suggested name.
    Save(SaveTarget),
    /// Open a `recipe.json` (a dialog opens) and replay its samples.
    OpenRecipe,
    /// Import a mask PNG (a dialog opens).
    ImportMask,
    /// Choose a model folder (a dialog opens), then load it.
    ChooseModelFolder,
    /// Load this model on the inference worker.
    LoadModel(ModelSource),
    /// Choose a training folder (a dialog opens).
    ChooseTrainFolder(TrainFolder),
    /// Start a generation with the current photo, mask, seeds and options.
    Generate,
    /// Stop the running generation between samples.
    Cancel,
    /// Apply gallery sample `i` to the photo (one undoable step).
    Apply(usize),
    /// Open the interpolation strip for the selected and the compared gallery samples.
    ShowBetween,
    /// Ask the inference worker for `between` fills between two samples' seeds.
    MakeBetween {
        /// The two seeds.
        ends: StripEnds,
        /// How many fills strictly between them.
        between: u32,
    },
    /// Add fill `i` of the interpolation strip to the gallery.
    KeepBetween(usize),
    /// Pin what the Keep brush painted over the selected sample and generate the rest again.
    Reroll,
    /// Drop the last pin (and bring back the samples it was brushed on).
    UndoPin,
    /// Drop every pin: the next generation fills the whole hole again.
    DropPins,
    /// The Mix brush's stroke ended: bring the compared sample in where it painted.
    MixStroke,
    /// Drop the mix's last step.
    UndoMixStep,
    /// Remove the mix from the gallery.
    DiscardMix,
    /// Copy a seed to the clipboard.
    CopySeed(u64),
    /// Make this the first seed of the next generation.
    UseSeed(u64),
    /// Draw a new first seed.
    RandomSeed,
    /// Undo the last edit.
    Undo,
    /// Redo the last undone edit.
    Redo,
    /// Replace the whole mask (clear, invert, grow, shrink).
    EditMask(WholeMaskOp),
    /// Pick a mask tool.
    SetTool(Tool),
    /// Multiply the brush radius by this factor.
    ScaleBrush(f32),
    /// Fit the photo to the window.
    FitView,
    /// Show photo pixels 1:1.
    ActualSize,
    /// Show or hide the mask tint.
    ToggleMaskTint,
    /// Show or hide the selected sample over the photo.
    TogglePreview,
    /// Show (`true`) or hide the training panel.
    ShowTraining(bool),
    /// Show or hide the keyboard shortcuts.
    ShowShortcuts(bool),
    /// Start or steer a training run.
    Train(TrainingRequest),
    /// Hide the error banner.
    DismissError,
    /// Hide the photo notes (what loading the photo dropped).
    DismissNotes,
    /// Answer the "discard unsaved changes?" question: `true` discards and goes on.
    Discard(bool),
    /// Close the window (asks first when there is unsaved work).
    Quit,
}

/// What a save is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveTarget {
    /// The photo as edited.
    Image,
    /// The mask, as a PNG.
    Mask,
    /// Gallery sample `i`.
    Sample(usize),
    /// Every finished sample, into a folder.
    AllSamples,
    /// The gallery's `recipe.json` (with its mask beside it).
    Recipe,
}

/// Which training folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainFolder {
    /// The photos.
    Data,
    /// The output.
    Out,
}

/// What the training panel asks of the training worker.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingRequest {
    /// Start a run.
    Start(Box<TrainConfig>),
    /// Steer the running run.
    Steer(TrainCommand),
}
