//! The generate section of the tool column: the model (loading, loaded, failed, none), samples,
//! detail, seed and its lock, "generate when a stroke ends", the context margin, and the
//! Generate and Cancel buttons.

use crate::detail::DetailMode;
use crate::inference::worker::{BackendInfo, ModelInfo, ModelSource, default_model};
use crate::model::PriorSource;
use crate::ui::command::Command;
use crate::ui::gallery::MAX_SAMPLES;
use crate::ui::prefs::Prefs;
use crate::ui::theme;

/// The model as the window knows it (the generate section shows it).
#[derive(Debug, Clone, Default)]
pub struct ModelState {
    /// The loaded model.
    pub info: Option<ModelInfo>,
    /// A model being loaded.
    pub loading: Option<ModelSource>,
    /// Why the last model failed to load.
    pub error: Option<String>,
    /// The inference worker's backend, once it reports it.
    pub backend: Option<BackendInfo>,
}

/// What the generate section reads besides the preferences.
#[derive(Debug, Clone, Copy)]
pub struct GenerateFacts<'a> {
    /// The model side.
    pub model: &'a ModelState,
    /// A photo is open.
    pub has_doc: bool,
    /// A generation is running.
    pub running: bool,
}

/// Draws the generate section (writing `prefs`); returns what the user asked for.
#[must_use]
pub fn show(ui: &mut egui::Ui, prefs: &mut Prefs, facts: GenerateFacts<'_>) -> Vec<Command> {
    let mut out = Vec::new();
    ui.heading("Generate");
    model_ui(ui, facts.model, &mut out);
    ui.add(egui::Slider::new(&mut prefs.samples, 1..=MAX_SAMPLES).text("Samples"));
    egui::ComboBox::from_label("Detail")
        .selected_text(detail_label(prefs.detail))
        .show_ui(ui, |ui| {
            for mode in [DetailMode::Patch, DetailMode::Off] {
                ui.selectable_value(&mut prefs.detail, mode, detail_label(mode));
            }
        })
        .response
        .on_hover_text(
            "Full resolution: after the raw samples appear, each is re-synthesised at the \
             photo's resolution from the photo's own texture, keeping the sample's layout \
             and colours. Off: the generator's samples, resized into the hole",
        );
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut prefs.seed, 0..=99_999).text("Seed"));
        ui.checkbox(&mut prefs.seed_locked, "Lock").on_hover_text(
            "Locked: Generate reuses this first seed (the same fills again).\n\
             Unlocked: every Generate draws a new first seed.",
        );
    });
    if ui
        .button("Random seed")
        .on_hover_text("Pick a new first seed")
        .clicked()
    {
        out.push(Command::RandomSeed);
    }
    ui.checkbox(&mut prefs.generate_on_stroke, "Generate when a stroke ends")
        .on_hover_text("Starts a generation after each brush, eraser, rectangle or lasso edit");
    egui::CollapsingHeader::new("Options").show(ui, |ui| {
        ui.add(egui::Slider::new(&mut prefs.margin, 0.0..=2.0).text("Context margin"))
            .on_hover_text("Context around the hole, as a fraction of its longer side");
    });
    ui.horizontal(|ui| {
        let can = facts.has_doc && facts.model.info.is_some();
        if ui
            .add_enabled(can, egui::Button::new("Generate"))
            .on_hover_text("G or Ctrl+Enter")
            .clicked()
        {
            out.push(Command::Generate);
        }
        if facts.running {
            ui.spinner();
            if ui.button("Cancel").clicked() {
                out.push(Command::Cancel);
            }
        }
    });
    out
}

fn model_ui(ui: &mut egui::Ui, model: &ModelState, out: &mut Vec<Command>) {
    match (&model.info, &model.loading) {
        (_, Some(src)) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Loading the model {}", src.describe()));
            });
        }
        (Some(m), None) => {
            let prior = match m.prior_source {
                PriorSource::Network => "",
                PriorSource::Telea => ", Telea prior",
            };
            ui.label(format!(
                "Model: {} preset, {}×{}{prior}",
                m.preset, m.resolution, m.resolution
            ))
            .on_hover_text(format!(
                "{}\n{} generator parameters",
                m.source.describe(),
                m.params
            ));
            // The model file's own account of where its weights come from (e.g. "random
            // init …: untrained"), as the file says it.
            ui.colored_label(theme::HINT_TEXT, &m.note);
        }
        (None, None) => {
            ui.colored_label(theme::WARN_TEXT, "No model loaded");
            ui.label(
                "Masks and hard maps work without one. To fill holes, import the authors' \
                 weights with `pdpaint import …`, or train a model in the training panel \
                 (T), then open its folder.",
            );
        }
    }
    if let Some(e) = &model.error {
        ui.colored_label(theme::ERROR_TEXT, e);
    }
    ui.horizontal(|ui| {
        if ui.button("Open model folder…").clicked() {
            out.push(Command::ChooseModelFolder);
        }
        let default = default_model();
        let is_default = model.info.as_ref().map(|m| &m.source) == default.as_ref();
        if !is_default
            && model.loading.is_none()
            && let Some(d) = default
            && ui
                .button("Default model")
                .on_hover_text(format!("Load {}", d.describe()))
                .clicked()
        {
            out.push(Command::LoadModel(d));
        }
        if model.info.is_none() && ui.button("Training panel").clicked() {
            out.push(Command::ShowTraining(true));
        }
    });
}

/// The studio's name for a detail mode.
fn detail_label(mode: DetailMode) -> &'static str {
    match mode {
        DetailMode::Patch => "Full resolution",
        DetailMode::Off => "Off (raw samples)",
    }
}
