//! The automation driver (`--script`, `scripts/screenshots.sh`): each frame it looks at what
//! is ready and issues the same [`Command`]s a user's clicks would (import the mask, generate,
//! start a training run), then settles, takes the screenshot, writes the frame-time report and
//! quits. The script and its statistics are [`crate::ui::script`].

use std::time::Duration;

use super::Studio;
use crate::train::worker::Command as TrainCommand;
use crate::ui::command::{Command, TrainingRequest};
use crate::ui::gallery::MAX_SAMPLES;
use crate::ui::overlay::MapKind;
use crate::ui::script::{
    self, CompareProgress, CompareStep, FrameReport, Phase, Script, ScriptRun, Stage,
};
use crate::ui::strip::StripState;
use crate::ui::training_panel::RunState;
use crate::ui::workers::DialogPurpose;

/// Frames drawn between "ready" and the screenshot (textures and layout settle).
const SETTLE_FRAMES: u32 = 10;

impl Studio {
    /// Starts an automation script (see [`crate::ui::script`]): its settings go into the
    /// preferences at once, its steps run in [`Studio::step_script`].
    pub fn start_script(&mut self, script: Script) {
        let o = &mut self.prefs.overlay;
        if let Some(m) = script.map {
            o.map = m;
        }
        if let Some(t) = script.mask_tint {
            o.mask_tint = t;
        }
        if let Some(u) = script.unit {
            o.unit = u;
        }
        if let Some(v) = script.opacity {
            o.opacity = v;
        }
        *o = o.sanitized();
        if let Some(n) = script.samples {
            self.prefs.samples = n.clamp(1, MAX_SAMPLES);
        }
        if let Some(seed) = script.seed {
            self.prefs.seed = seed;
        }
        if script.train.is_some() {
            self.prefs.show_training = true;
        }
        self.script = Some(ScriptRun::new(script));
    }

    /// One frame of the automation script: `cpu` is eframe's CPU time of the previous frame.
    pub fn step_script(&mut self, ctx: &egui::Context, cpu: Option<f32>) {
        let Some(mut run) = self.script.take() else {
            return;
        };
        let strip = matches!(self.strip.state, StripState::Running(_));
        let phase = match Phase::of(self.generating(), self.training.running()) {
            Phase::Idle if strip => Phase::Strip,
            Phase::Generating if self.pin_count() > 0 => Phase::Reroll,
            p => p,
        };
        run.record_frame(cpu, phase);
        if run.script.frame_log.is_some() {
            // Measure a window that redraws all the time, like one being painted on.
            ctx.request_repaint();
        } else {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        if run.timed_out() && matches!(run.stage, Stage::Preparing | Stage::Settling(_)) {
            eprintln!(
                "script: gave up waiting after {:.0} s",
                run.started.elapsed().as_secs_f32()
            );
            run.stage = Stage::StoppingTraining;
        }
        match run.stage {
            Stage::Preparing => {
                let cmds = self.script_prepare(&mut run);
                self.apply_all(ctx, cmds);
            }
            Stage::Settling(0) => {
                run.stage = match run.script.screenshot.clone() {
                    Some(p) => {
                        script::capture(ctx, &run, &p);
                        Stage::Capturing
                    }
                    None => Stage::StoppingTraining,
                };
            }
            Stage::Settling(n) => run.stage = Stage::Settling(n - 1),
            Stage::Capturing => {
                if !run.writing() {
                    run.stage = Stage::StoppingTraining;
                }
            }
            Stage::StoppingTraining => {
                if run.script.quit && self.training.running() {
                    if !matches!(self.training.state, RunState::Stopping) {
                        let stop = TrainingRequest::Steer(TrainCommand::Stop);
                        self.apply(ctx, Command::Train(stop));
                    }
                } else {
                    if let Some(p) = run.script.frame_log.clone() {
                        self.write_frame_report(ctx, &run, p);
                    }
                    run.stage = Stage::Finishing;
                }
            }
            Stage::Finishing => {
                if !run.writing() {
                    let errors = match run.errors.lock() {
                        Ok(v) => v.clone(),
                        Err(p) => p.into_inner().clone(),
                    };
                    for e in &errors {
                        eprintln!("script: {e}");
                    }
                    eprintln!("script: done");
                    if run.script.quit {
                        self.allow_close = true;
                        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                    run.stage = Stage::Done;
                }
            }
            Stage::Done => {}
        }
        self.script = Some(run);
    }

    fn write_frame_report(&self, ctx: &egui::Context, run: &ScriptRun, path: std::path::PathBuf) {
        let report = FrameReport {
            measure: "eframe cpu_usage: App::logic + App::ui, tessellation and rendering of \
                      one frame, without the vsync wait",
            window: ctx.content_rect().size().into(),
            pixels_per_point: ctx.pixels_per_point(),
            renderer: self.renderer.clone(),
            backend: self.model.backend.as_ref().map(|b| b.description.clone()),
            phases: run.stats(),
        };
        for s in &report.phases {
            eprintln!(
                "frame time, {}: {} frames, mean {:.2} ms, p50 {:.2}, p99 {:.2}, max {:.2}, {} \
                 over 16 ms; app code p99 {:.2} ms ({} over 16); frame interval mean {:.1} ms, \
                 p99 {:.1}",
                s.phase,
                s.frames,
                s.mean_ms,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.over_16ms,
                s.app_p99_ms,
                s.app_over_16ms,
                s.interval_mean_ms,
                s.interval_p99_ms
            );
        }
        match serde_json::to_vec_pretty(&report) {
            Ok(bytes) => run.write_file(path, bytes),
            Err(e) => eprintln!("script: could not encode the frame report: {e}"),
        }
    }

    /// Waits for the photo, mask, model, samples, maps and training steps the script needs;
    /// returns what to do next (the commands a user would give).
    fn script_prepare(&mut self, run: &mut ScriptRun) -> Vec<Command> {
        let mut out = Vec::new();
        if let Some(m) = run.script.mask.clone()
            && !run.mask_requested
            && self.doc.is_some()
        {
            // As if the import dialog had been answered with this file.
            self.picked(DialogPurpose::ImportMask, m);
            run.mask_requested = true;
        }
        let has_holes = self.doc.as_ref().is_some_and(|d| d.mask().hole_count() > 0);
        let mask_ready = run.script.mask.is_none() || (run.mask_requested && has_holes);
        if let Some(t) = run.script.train.clone()
            && !run.training_started
        {
            run.training_started = true;
            self.prefs.train_data = Some(t.data);
            self.prefs.train_out = Some(t.out);
            let panel = &mut self.training;
            panel.prior_steps = t.prior_steps;
            panel.pdgan_steps = t.pdgan_steps;
            panel.resolution = t.resolution;
            panel.batch = t.batch;
            panel.resume = true;
            match panel.config(self.prefs.train_folders()) {
                Ok(mut cfg) => {
                    cfg.preview_every = t.every.max(1);
                    cfg.checkpoint_every = t.every.max(1);
                    out.push(Command::Train(TrainingRequest::Start(Box::new(cfg))));
                }
                Err(e) => eprintln!("script: could not start training: {e}"),
            }
        }
        let model_ready = self.model.info.is_some();
        let generated = !run.script.generate
            || (run.generations > 0 && !self.generating() && self.gallery.finished() > 0);
        if let Some(i) = run.script.select
            && generated
            && !run.selected
            && i < self.gallery.tiles.len()
        {
            self.gallery.selected = Some(i);
            self.gallery.preview = true;
            run.selected = true;
        }
        let compared = match run.script.compare {
            None => true,
            Some(step) => {
                let ready = generated && self.gallery.selected.is_some();
                self.script_compare(run, step, ready, &mut out);
                run.compare == CompareProgress::Done
            }
        };
        let map = &self.prefs.overlay;
        let maps_ready =
            map.map == MapKind::None || (self.overlay.map_available(map) && !self.overlay.busy());
        let trained = match &run.script.train {
            None => true,
            Some(t) => {
                self.training.steps_done(t.prior_steps) >= t.shot_after_steps
                    || !self.training.running()
            }
        };
        let files_busy = self.workers.files_busy();
        let photo_ready = self.doc.is_some() || (run.script.mask.is_none() && !run.script.generate);
        if photo_ready && mask_ready && model_ready && !files_busy {
            run.starting = false;
        }
        if photo_ready
            && mask_ready
            && generated
            && compared
            && maps_ready
            && trained
            && !files_busy
        {
            // Ready: nothing new starts while the frames settle for the screenshot.
            run.stage = Stage::Settling(SETTLE_FRAMES);
            return out;
        }
        // Generate once, or again each time a generation ends while training runs.
        if run.script.generate && mask_ready && model_ready && !self.generating() {
            let again = run.script.generate_while_training && self.training.running();
            if run.generations == 0 || again {
                out.push(Command::Generate);
                run.generations += 1;
            }
        }
        out
    }

    /// The compare step, once the samples exist and one is selected (`ready`): what the
    /// gallery's Shift-click, its "Wipe" checkbox, "In between…", the strip's slider and its
    /// "Make" button do.
    fn script_compare(
        &mut self,
        run: &mut ScriptRun,
        step: CompareStep,
        ready: bool,
        out: &mut Vec<Command>,
    ) {
        match run.compare {
            CompareProgress::Waiting => {
                if !ready {
                    return;
                }
                let with = step.with();
                if let CompareStep::Keep { fraction, .. } = step {
                    if with >= self.gallery.tiles.len() {
                        eprintln!("script: cannot keep parts of slot {with}");
                        run.compare = CompareProgress::Done;
                        return;
                    }
                    // Click the slot, pick the Keep brush, brush, "Re-roll the rest".
                    self.gallery.selected = Some(with);
                    self.prefs.tool = crate::ui::canvas::Tool::Keep;
                    self.script_brush(true, fraction);
                    out.push(Command::Reroll);
                    run.compare = CompareProgress::Picked;
                    return;
                }
                if with >= self.gallery.tiles.len() || self.gallery.selected == Some(with) {
                    eprintln!(
                        "script: cannot compare with slot {with} ({} samples, slot {:?} \
                         selected)",
                        self.gallery.tiles.len(),
                        self.gallery.selected
                    );
                    run.compare = CompareProgress::Done;
                    return;
                }
                // Shift-click on the slot.
                self.gallery.compare = Some(with);
                match step {
                    CompareStep::Wipe { split, .. } => {
                        // The "Wipe" checkbox, and the line dragged to `split`.
                        self.gallery.wipe.on = true;
                        self.gallery.wipe.split = split.clamp(0.0, 1.0);
                        run.compare = CompareProgress::Done;
                    }
                    CompareStep::Strip { .. } => {
                        out.push(Command::ShowBetween);
                        run.compare = CompareProgress::Picked;
                    }
                    CompareStep::Mix { fraction, .. } => {
                        // Pick the Mix brush and brush: one stroke is one mix step.
                        self.prefs.tool = crate::ui::canvas::Tool::Mix;
                        self.script_brush(false, fraction);
                        out.push(Command::MixStroke);
                        run.compare = CompareProgress::Making;
                    }
                    CompareStep::Keep { .. } => {}
                }
            }
            CompareProgress::Picked if matches!(step, CompareStep::Keep { .. }) => {
                // The re-roll was asked for: wait for it to start.
                if self.generating() {
                    run.compare = CompareProgress::Making;
                } else if self.pin_count() == 0 {
                    eprintln!("script: the re-roll did not start: {:?}", self.error());
                    run.compare = CompareProgress::Done;
                }
            }
            CompareProgress::Making if matches!(step, CompareStep::Keep { .. }) => {
                if !self.generating() {
                    run.compare = CompareProgress::Done;
                }
            }
            CompareProgress::Making if matches!(step, CompareStep::Mix { .. }) => {
                let made = self
                    .gallery
                    .mix_slot()
                    .and_then(|i| self.gallery.tiles[i].mix.as_ref())
                    .is_some_and(|m| m.stack.is_some());
                if made {
                    run.compare = CompareProgress::Done;
                } else if self.error().is_some() {
                    eprintln!("script: the mix failed: {:?}", self.error());
                    run.compare = CompareProgress::Done;
                }
            }
            CompareProgress::Picked => {
                let CompareStep::Strip { between, .. } = step else {
                    run.compare = CompareProgress::Done;
                    return;
                };
                let Some(ends) = self.strip.ends.filter(|_| self.strip.open) else {
                    eprintln!("script: the in-between strip did not open");
                    run.compare = CompareProgress::Done;
                    return;
                };
                if self.generating() || self.model.info.is_none() {
                    // "Make" is disabled until then.
                    return;
                }
                // The slider, then "Make".
                self.strip.between = between;
                out.push(Command::MakeBetween { ends, between });
                run.compare = CompareProgress::Making;
            }
            CompareProgress::Making => match &self.strip.state {
                StripState::Running(_) => {}
                StripState::Done => run.compare = CompareProgress::Done,
                StripState::Idle => {
                    eprintln!("script: the strip's fills were not started");
                    run.compare = CompareProgress::Done;
                }
                StripState::Stopped | StripState::Failed(_) => {
                    eprintln!("script: the strip ended early: {:?}", self.strip.state);
                    run.compare = CompareProgress::Done;
                }
            },
            CompareProgress::Done => {}
        }
    }
}

impl Studio {
    /// Brushes horizontal strokes over the left (`keep`) or right (mix) `fraction` of the
    /// hole's bounding box with the Keep or Mix brush, as a hand on the canvas would.
    fn script_brush(&mut self, keep: bool, fraction: f32) {
        let Some((x0, y0, x1, y1)) = self.doc.as_ref().and_then(|d| d.hole_bbox()) else {
            return;
        };
        let r = ((y1 - y0) as f32 / 12.0).max(3.0);
        let span = (x1 - x0) as f32 * fraction.clamp(0.0, 1.0);
        let (a, b) = if keep {
            (x0 as f32, x0 as f32 + span)
        } else {
            (x1 as f32 - span, x1 as f32)
        };
        let layer = if keep {
            &mut self.steer.keep
        } else {
            &mut self.steer.mix
        };
        let mut y = y0 as f32 + r;
        while y < y1 as f32 {
            layer.begin_stroke((a, y), r, true);
            layer.extend_stroke((b, y));
            layer.end_stroke();
            y += r;
        }
    }
}
