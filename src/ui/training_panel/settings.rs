//! The training panel's settings column: start, pause, stop, preview and save buttons, the
//! folders, preset, resolution, steps, batch, seed, backend and resume.

use std::path::Path;

use super::{Folders, RunState, TrainingPanel};
use crate::backend::BackendChoice;
use crate::model::Preset;
use crate::train::worker::Command as TrainCommand;
use crate::ui::command::{Command, TrainFolder, TrainingRequest};

impl TrainingPanel {
    pub(super) fn settings_ui(
        &mut self,
        ui: &mut egui::Ui,
        folders: Folders<'_>,
        out: &mut Vec<Command>,
    ) {
        let running = self.running();
        ui.horizontal(|ui| {
            let cfg = self.config(folders);
            let start = ui
                .add_enabled(!running && cfg.is_ok(), egui::Button::new("Start"))
                .on_disabled_hover_text(match &cfg {
                    Err(e) => e.clone(),
                    Ok(_) => "a run is in progress".into(),
                });
            if start.clicked()
                && let Ok(cfg) = cfg
            {
                out.push(Command::Train(TrainingRequest::Start(Box::new(cfg))));
            }
            let paused = self.state == RunState::Paused;
            if ui
                .add_enabled(
                    running && self.state != RunState::Stopping,
                    egui::Button::new(if paused { "Resume" } else { "Pause" }),
                )
                .clicked()
            {
                out.push(Command::Train(TrainingRequest::Steer(if paused {
                    TrainCommand::Resume
                } else {
                    TrainCommand::Pause
                })));
            }
            if ui
                .add_enabled(
                    running && self.state != RunState::Stopping,
                    egui::Button::new("Stop"),
                )
                .on_hover_text("Save a checkpoint and end the run")
                .clicked()
            {
                out.push(Command::Train(TrainingRequest::Steer(TrainCommand::Stop)));
            }
            if ui
                .add_enabled(running, egui::Button::new("Preview now"))
                .clicked()
            {
                out.push(Command::Train(TrainingRequest::Steer(
                    TrainCommand::PreviewNow,
                )));
            }
            if ui
                .add_enabled(running, egui::Button::new("Save now"))
                .clicked()
            {
                out.push(Command::Train(TrainingRequest::Steer(
                    TrainCommand::SaveNow,
                )));
            }
        });
        ui.add_enabled_ui(!running, |ui| {
            egui::Grid::new("train-settings")
                .num_columns(2)
                .show(ui, |ui| {
                    ui.label("Photos");
                    ui.horizontal(|ui| {
                        if ui.button("Choose…").clicked() {
                            out.push(Command::ChooseTrainFolder(TrainFolder::Data));
                        }
                        ui.add(egui::Label::new(folder_label(folders.data)).truncate())
                            .on_hover_text(full_label(folders.data));
                    });
                    ui.end_row();
                    ui.label("Output");
                    ui.horizontal(|ui| {
                        if ui.button("Choose…").clicked() {
                            out.push(Command::ChooseTrainFolder(TrainFolder::Out));
                        }
                        ui.add(egui::Label::new(folder_label(folders.out)).truncate())
                            .on_hover_text(full_label(folders.out));
                    });
                    ui.end_row();
                    ui.label("Preset");
                    egui::ComboBox::from_id_salt("train-preset")
                        .selected_text(self.preset.name())
                        .show_ui(ui, |ui| {
                            for p in [Preset::Tiny, Preset::Small, Preset::Official] {
                                ui.selectable_value(&mut self.preset, p, p.name());
                            }
                        });
                    ui.end_row();
                    ui.label("Resolution");
                    egui::ComboBox::from_id_salt("train-res")
                        .selected_text(format!("{0}×{0}", self.resolution))
                        .show_ui(ui, |ui| {
                            for r in [64, 128, 192, 256] {
                                ui.selectable_value(&mut self.resolution, r, format!("{r}×{r}"));
                            }
                        });
                    ui.end_row();
                    ui.label("Prior steps");
                    ui.add(egui::DragValue::new(&mut self.prior_steps).range(0..=10_000_000));
                    ui.end_row();
                    ui.label("PD-GAN steps");
                    ui.add(egui::DragValue::new(&mut self.pdgan_steps).range(0..=10_000_000));
                    ui.end_row();
                    ui.label("Batch");
                    ui.add(egui::DragValue::new(&mut self.batch).range(1..=256));
                    ui.end_row();
                    ui.label("Seed");
                    ui.add(egui::DragValue::new(&mut self.seed));
                    ui.end_row();
                    ui.label("Backend");
                    egui::ComboBox::from_id_salt("train-backend")
                        .selected_text(backend_name(self.backend))
                        .show_ui(ui, |ui| {
                            for b in [BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Wgpu]
                            {
                                ui.selectable_value(&mut self.backend, b, backend_name(b));
                            }
                        });
                    ui.end_row();
                });
            ui.checkbox(&mut self.resume, "Resume from the newest checkpoint");
        });
    }
}

/// A folder as the settings column shows it: its last components (`…/photos/train`), since
/// the column is narrow and the end of a path says most.
fn folder_label(p: Option<&Path>) -> String {
    let Some(p) = p else {
        return "not chosen".to_owned();
    };
    let parts: Vec<String> = p
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.len() <= 3 {
        return p.display().to_string();
    }
    format!("…/{}", parts[parts.len() - 2..].join("/"))
}

fn full_label(p: Option<&Path>) -> String {
    p.map_or_else(|| "not chosen".to_owned(), |p| p.display().to_string())
}

fn backend_name(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "Automatic",
        BackendChoice::Cpu => "CPU",
        BackendChoice::Wgpu => "GPU (wgpu)",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn config_needs_both_folders_and_labels_show_their_ends() {
        let p = TrainingPanel::default();
        assert!(p.config(Folders::default()).is_err());
        let both = Folders {
            data: Some(Path::new("d")),
            out: Some(Path::new("o")),
        };
        assert_eq!(p.config(both).unwrap().model.resolution(), 128);
        assert_eq!(
            folder_label(Some(Path::new("/root/.local/share/photos/train"))),
            "…/photos/train"
        );
        assert_eq!(folder_label(Some(Path::new("runs/a"))), "runs/a");
        assert_eq!(folder_label(None), "not chosen");
    }
}
