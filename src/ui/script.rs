//! Window automation: open with a mask, pick an overlay, generate, start a training run,
//! record frame times, take a screenshot of the real window and quit.
//!
//! `scripts/screenshots.sh` drives the real binary with these options under Xvfb to make the
//! README's screenshots and to measure frame times while samples generate and while training
//! runs. Everything here goes through the same code paths a user's clicks take (mask import,
//! [`Command::Generate`](crate::ui::command::Command::Generate), the training panel's start).
//!
//! Frame time is eframe's own per-frame CPU figure ([`eframe::IntegrationInfo::cpu_usage`]):
//! `App::logic` + `App::ui`, tessellation and rendering, without the wait for vsync. Frames are
//! tagged with what was running on the workers while they were drawn.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fsutil;
use crate::ui::overlay::MapKind;

/// A training run started by the script (small numbers: it only has to be mid-run).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptTraining {
    /// Photo folder.
    pub data: PathBuf,
    /// Output folder (resumed if it holds a run).
    pub out: PathBuf,
    /// Stage-1 steps.
    pub prior_steps: u64,
    /// Stage-2 steps.
    pub pdgan_steps: u64,
    /// Preview and checkpoint interval in steps.
    pub every: u64,
    /// Training resolution.
    pub resolution: usize,
    /// Batch size.
    pub batch: usize,
    /// Take the screenshot once this many steps (all stages) are done.
    pub shot_after_steps: u64,
}

/// A comparison step, taken once the samples exist and the selected one is previewed: the
/// same state and [`Command`](crate::ui::command::Command)s the gallery's and the strip's
/// widgets give.
///
/// On the command line (`--compare`): `wipe:<slot>:<split>`, `strip:<slot>:<fills>`,
/// `keep:<slot>:<fraction>` or `mix:<slot>:<fraction>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CompareStep {
    /// Shift-click gallery slot `with` (the compared sample) and tick "Wipe" with the line at
    /// `split` (0–1 of the sample region's width).
    Wipe {
        /// The compared slot (0-based).
        with: usize,
        /// Where the line is.
        split: f32,
    },
    /// Shift-click slot `with`, press "In between…", set the slider to `between` fills,
    /// press "Make" and wait until all fills have arrived.
    Strip {
        /// The compared slot (0-based).
        with: usize,
        /// Fills strictly between the two samples (1–[`MAX_BETWEEN`](crate::ui::strip::MAX_BETWEEN)).
        between: u32,
    },
    /// Select slot `with`, brush the left `fraction` of the hole's bounding box with the Keep
    /// brush, press "Re-roll the rest" and wait until the re-rolled samples have arrived.
    Keep {
        /// The slot whose pixels are kept (0-based).
        with: usize,
        /// How much of the hole's width is kept, from the left (0–1).
        fraction: f32,
    },
    /// Shift-click slot `with` and brush the right `fraction` of the hole's bounding box with
    /// the Mix brush, waiting until the mix is made.
    Mix {
        /// The slot brought in (0-based).
        with: usize,
        /// How much of the hole's width is brushed, from the right (0–1).
        fraction: f32,
    },
}

impl CompareStep {
    /// The compared slot.
    pub fn with(&self) -> usize {
        match *self {
            CompareStep::Wipe { with, .. }
            | CompareStep::Strip { with, .. }
            | CompareStep::Keep { with, .. }
            | CompareStep::Mix { with, .. } => with,
        }
    }
}

impl std::str::FromStr for CompareStep {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [kind, with, arg] = parts[..] else {
            return Err(format!(
                "expected wipe:<slot>:<split>, strip:<slot>:<fills>, keep:<slot>:<fraction> \
                 or mix:<slot>:<fraction>, got {s:?}"
            ));
        };
        let with: usize = with
            .trim()
            .parse()
            .map_err(|e| format!("bad slot {with:?}: {e}"))?;
        match kind.trim() {
            "wipe" => {
                let split: f32 = arg
                    .trim()
                    .parse()
                    .map_err(|e| format!("bad split {arg:?}: {e}"))?;
                if !(0.0..=1.0).contains(&split) {
                    return Err(format!("the split must be within 0–1, got {split}"));
                }
                Ok(CompareStep::Wipe { with, split })
            }
            "strip" => {
                let between: u32 = arg
                    .trim()
                    .parse()
                    .map_err(|e| format!("bad number of fills {arg:?}: {e}"))?;
                let max = crate::ui::strip::MAX_BETWEEN;
                if !(1..=max).contains(&between) {
                    return Err(format!("fills must be within 1–{max}, got {between}"));
                }
                Ok(CompareStep::Strip { with, between })
            }
            "keep" | "mix" => {
                let fraction: f32 = arg
                    .trim()
                    .parse()
                    .map_err(|e| format!("bad fraction {arg:?}: {e}"))?;
                if !(fraction > 0.0 && fraction < 1.0) {
                    return Err(format!("the fraction must be within 0–1, got {fraction}"));
                }
                Ok(if kind.trim() == "keep" {
                    CompareStep::Keep { with, fraction }
                } else {
                    CompareStep::Mix { with, fraction }
                })
            }
            k => Err(format!(
                "unknown compare step {k:?} (wipe, strip, keep or mix)"
            )),
        }
    }
}

/// Where a [`CompareStep`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareProgress {
    /// Waiting for the samples (or nothing asked).
    Waiting,
    /// The compared sample is picked (and the wipe set); a strip was asked to open.
    Picked,
    /// The strip's fills were asked for.
    Making,
    /// Done: the wipe is on, or the strip's request ended.
    Done,
}

/// What the script does, all optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// Import this mask once the photo is open.
    pub mask: Option<PathBuf>,
    /// Show this map.
    pub map: Option<MapKind>,
    /// Tint the holes (on by default).
    pub mask_tint: Option<bool>,
    /// Generator unit of unit-dependent maps.
    pub unit: Option<usize>,
    /// Map opacity, 0–1.
    pub opacity: Option<f32>,
    /// Number of samples.
    pub samples: Option<usize>,
    /// First seed.
    pub seed: Option<u64>,
    /// Generate once photo, mask and model are ready.
    pub generate: bool,
    /// Select this gallery sample (previewed on the canvas) once it exists.
    pub select: Option<usize>,
    /// Compare the selected sample with another (wipe or interpolation strip).
    pub compare: Option<CompareStep>,
    /// Start a training run (the training panel is shown).
    pub train: Option<ScriptTraining>,
    /// Generate again each time a generation ends while training runs (frame-time load).
    pub generate_while_training: bool,
    /// Write the window as a PNG once everything asked for is ready.
    pub screenshot: Option<PathBuf>,
    /// Write frame-time statistics (JSON) here when the script ends.
    pub frame_log: Option<PathBuf>,
    /// Close the window when the script ends.
    pub quit: bool,
    /// Give up (and quit, if asked) after this long.
    pub timeout: Option<Duration>,
}

impl Script {
    /// Whether the script asks for anything at all.
    pub fn is_empty(&self) -> bool {
        *self == Script::default()
    }
}

/// What the workers were doing while a frame was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Until the photo, the mask and the model are loaded (fonts, first textures, maps).
    Startup,
    /// Nothing running.
    Idle,
    /// Samples generating.
    Generating,
    /// A training run stepping.
    Training,
    /// Both.
    GeneratingAndTraining,
    /// The interpolation strip's fills generating (nothing else running).
    Strip,
    /// A re-roll's samples generating (a generation under pins, nothing else running).
    Reroll,
}

impl Phase {
    /// From what runs.
    pub fn of(generating: bool, training: bool) -> Self {
        match (generating, training) {
            (false, false) => Phase::Idle,
            (true, false) => Phase::Generating,
            (false, true) => Phase::Training,
            (true, true) => Phase::GeneratingAndTraining,
        }
    }

    /// Name in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Startup => "startup",
            Phase::Idle => "idle",
            Phase::Generating => "generating",
            Phase::Training => "training",
            Phase::GeneratingAndTraining => "generating+training",
            Phase::Strip => "strip",
            Phase::Reroll => "re-roll",
        }
    }
}

/// Frame-time statistics of one phase, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FrameStats {
    /// The phase.
    pub phase: String,
    /// Frames measured.
    pub frames: usize,
    /// Mean CPU time per frame.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst frame.
    pub max_ms: f64,
    /// Frames over 16 ms.
    pub over_16ms: usize,
    /// Mean wall time from one frame to the next (includes presenting and any wait).
    pub interval_mean_ms: f64,
    /// 99th percentile of that interval.
    pub interval_p99_ms: f64,
    /// The slowest frames: `[seconds since the start, ms]`, slowest first (at most 5).
    pub worst: Vec<[f64; 2]>,
    /// Mean time in the app's own code per frame (`App::logic` + `App::ui`, no rendering).
    pub app_mean_ms: f64,
    /// 99th percentile of that time.
    pub app_p99_ms: f64,
    /// Frames of it over 16 ms.
    pub app_over_16ms: usize,
}

/// The `q`-quantile (0–1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted_ms(secs: &[f32]) -> Vec<f64> {
    let mut ms: Vec<f64> = secs
        .iter()
        .filter(|s| s.is_finite())
        .map(|&s| f64::from(s) * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Statistics of the frame CPU times and frame intervals (seconds) of one phase; `at` holds
/// each frame's time since the start (seconds), parallel to `secs`.
pub fn frame_stats(
    phase: Phase,
    secs: &[f32],
    at: &[f32],
    intervals: &[f32],
    app: &[f32],
) -> FrameStats {
    let app = sorted_ms(app);
    let mut worst: Vec<[f64; 2]> = at
        .iter()
        .zip(secs)
        .filter(|(_, s)| s.is_finite())
        .map(|(&t, &s)| [f64::from(t), f64::from(s) * 1000.0])
        .collect();
    worst.sort_by(|a, b| b[1].total_cmp(&a[1]));
    worst.truncate(5);
    let ms = sorted_ms(secs);
    let iv = sorted_ms(intervals);
    let n = ms.len();
    FrameStats {
        phase: phase.name().into(),
        frames: n,
        mean_ms: mean(&ms),
        p50_ms: quantile(&ms, 0.5),
        p95_ms: quantile(&ms, 0.95),
        p99_ms: quantile(&ms, 0.99),
        max_ms: ms.last().copied().unwrap_or(f64::NAN),
        over_16ms: ms.iter().filter(|&&m| m > 16.0).count(),
        interval_mean_ms: mean(&iv),
        interval_p99_ms: quantile(&iv, 0.99),
        worst,
        app_mean_ms: mean(&app),
        app_p99_ms: quantile(&app, 0.99),
        app_over_16ms: app.iter().filter(|&&m| m > 16.0).count(),
    }
}

/// The frame-time report written to `--frame-log`.
#[derive(Debug, Clone, Serialize)]
pub struct FrameReport {
    /// What eframe measures: see the module docs.
    pub measure: &'static str,
    /// Window size in points.
    pub window: [f32; 2],
    /// Pixels per point.
    pub pixels_per_point: f32,
    /// The renderer.
    pub renderer: String,
    /// The inference backend.
    pub backend: Option<String>,
    /// Per phase.
    pub phases: Vec<FrameStats>,
}

/// Where the script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for photo, mask, model, samples, maps, training steps.
    Preparing,
    /// Ready: letting a few frames settle before the screenshot.
    Settling(u32),
    /// Screenshot requested; waiting for it to be written.
    Capturing,
    /// Stopping the training run before quitting.
    StoppingTraining,
    /// Writing the report, then closing.
    Finishing,
    /// Done.
    Done,
}

/// The script's running state (owned by the studio).
#[derive(Debug)]
pub struct ScriptRun {
    /// What to do.
    pub script: Script,
    /// Where it is.
    pub stage: Stage,
    /// The mask import was asked for.
    pub mask_requested: bool,
    /// Generations started by the script.
    pub generations: u32,
    /// The training run was started.
    pub training_started: bool,
    /// Where the compare step is.
    pub compare: CompareProgress,
    /// The `select` step was done (once: later steps may select another slot).
    pub selected: bool,
    /// Frame CPU times by phase (seconds).
    pub frames: Vec<(Phase, f32)>,
    /// When each of those frames ran (seconds since the start).
    pub frame_at: Vec<f32>,
    /// Still starting up (photo, mask or model not loaded yet).
    pub starting: bool,
    /// Wall time between consecutive frames by phase (seconds).
    pub intervals: Vec<(Phase, f32)>,
    /// When the previous frame ran.
    pub last_frame: Option<Instant>,
    /// Time in the app's own code (logic + ui) by phase (seconds).
    pub app: Vec<(Phase, f32)>,
    /// Phase of the previous frame (eframe reports the previous frame's time).
    pub last_phase: Option<Phase>,
    /// Files being written by helper threads.
    pub writes: Arc<AtomicUsize>,
    /// Errors of those writes.
    pub errors: Arc<std::sync::Mutex<Vec<String>>>,
    /// When the script started.
    pub started: Instant,
}

impl ScriptRun {
    /// A run of `script`.
    pub fn new(script: Script) -> Self {
        Self {
            script,
            stage: Stage::Preparing,
            mask_requested: false,
            generations: 0,
            training_started: false,
            compare: CompareProgress::Waiting,
            selected: false,
            frames: Vec::new(),
            frame_at: Vec::new(),
            starting: true,
            intervals: Vec::new(),
            last_frame: None,
            app: Vec::new(),
            last_phase: None,
            writes: Arc::new(AtomicUsize::new(0)),
            errors: Arc::new(std::sync::Mutex::new(Vec::new())),
            started: Instant::now(),
        }
    }

    /// Records the previous frame's CPU time under the previous frame's phase.
    pub fn record_frame(&mut self, cpu: Option<f32>, phase: Phase) {
        self.record_frame_at(cpu, phase, Instant::now());
    }

    /// [`Self::record_frame`] at a given time (tests).
    pub fn record_frame_at(&mut self, cpu: Option<f32>, phase: Phase, now: Instant) {
        let phase = if self.starting { Phase::Startup } else { phase };
        if let (Some(s), Some(p)) = (cpu, self.last_phase) {
            self.frames.push((p, s));
            // The reported time is the previous frame's.
            let t = self.last_frame.unwrap_or(now);
            self.frame_at
                .push(t.saturating_duration_since(self.started).as_secs_f32());
        }
        if let (Some(t), Some(p)) = (self.last_frame, self.last_phase) {
            self.intervals
                .push((p, now.saturating_duration_since(t).as_secs_f32()));
        }
        self.last_frame = Some(now);
        self.last_phase = Some(phase);
    }

    /// Records the time the app's own code took this frame (phase: this frame's).
    pub fn record_app(&mut self, secs: f32) {
        if let Some(p) = self.last_phase {
            self.app.push((p, secs));
        }
    }

    /// Statistics per phase that has frames, in phase order.
    pub fn stats(&self) -> Vec<FrameStats> {
        let mut phases: Vec<Phase> = self.frames.iter().map(|f| f.0).collect();
        phases.sort();
        phases.dedup();
        phases
            .into_iter()
            .map(|p| {
                let of = |v: &[(Phase, f32)]| -> Vec<f32> {
                    v.iter().filter(|f| f.0 == p).map(|f| f.1).collect()
                };
                let at: Vec<f32> = self
                    .frames
                    .iter()
                    .zip(&self.frame_at)
                    .filter(|(f, _)| f.0 == p)
                    .map(|(_, &t)| t)
                    .collect();
                frame_stats(
                    p,
                    &of(&self.frames),
                    &at,
                    &of(&self.intervals),
                    &of(&self.app),
                )
            })
            .collect()
    }

    /// Whether the time limit passed.
    pub fn timed_out(&self) -> bool {
        self.script
            .timeout
            .is_some_and(|t| self.started.elapsed() > t)
    }

    /// Writes `bytes` to `path` atomically on a helper thread (counted in `writes`).
    pub fn write_file(&self, path: PathBuf, bytes: Vec<u8>) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let (writes, errors) = (self.writes.clone(), self.errors.clone());
        std::thread::spawn(move || finish_write(&writes, &errors, &path, Ok(bytes)));
    }

    /// Whether helper threads are still writing.
    pub fn writing(&self) -> bool {
        self.writes.load(Ordering::SeqCst) > 0
    }
}

/// Writes `bytes` (or records why there are none), counts the write as done and returns
/// whether the file was written.
fn finish_write(
    writes: &AtomicUsize,
    errors: &std::sync::Mutex<Vec<String>>,
    path: &Path,
    bytes: Result<Vec<u8>, String>,
) -> bool {
    let result = bytes.and_then(|b| fsutil::write_atomic(path, &b).map_err(|e| e.to_string()));
    let ok = result.is_ok();
    if let Err(e) = result {
        push_error(errors, format!("could not write {}: {e}", path.display()));
    }
    writes.fetch_sub(1, Ordering::SeqCst);
    ok
}

fn push_error(errors: &std::sync::Mutex<Vec<String>>, e: String) {
    match errors.lock() {
        Ok(mut v) => v.push(e),
        Err(p) => p.into_inner().push(e),
    }
}

/// Encodes an egui screenshot as PNG bytes.
///
/// # Errors
/// When the encoder fails.
pub fn screenshot_png(img: &egui::ColorImage) -> Result<Vec<u8>, String> {
    let [w, h] = img.size;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for c in &img.pixels {
        let [r, g, b, _] = c.to_srgba_unmultiplied();
        rgb.extend_from_slice(&[r, g, b]);
    }
    let image = image::RgbImage::from_raw(w as u32, h as u32, rgb)
        .ok_or_else(|| "the screenshot has the wrong number of pixels".to_string())?;
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Requests a screenshot of the next frame, written to `path` on a helper thread.
pub fn capture(ctx: &egui::Context, run: &ScriptRun, path: &Path) {
    let writes = run.writes.clone();
    let errors = run.errors.clone();
    let path = path.to_path_buf();
    let waker = ctx.clone();
    writes.fetch_add(1, Ordering::SeqCst);
    ctx.request_screenshot(move |img| {
        std::thread::spawn(move || {
            if finish_write(&writes, &errors, &path, screenshot_png(&img)) {
                let [w, h] = img.size;
                eprintln!("screenshot: {} ({w}×{h})", path.display());
            }
            waker.request_repaint();
        });
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn frames_are_tagged_with_the_phase_they_were_drawn_in() {
        let mut run = ScriptRun::new(Script::default());
        run.starting = false;
        let t0 = run.started;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // eframe reports the previous frame's time: the first report has no frame before it.
        run.record_frame_at(Some(0.5), Phase::Idle, at(0));
        run.record_frame_at(Some(0.002), Phase::Generating, at(10));
        run.record_frame_at(Some(0.004), Phase::Generating, at(40));
        run.record_frame_at(Some(0.020), Phase::Idle, at(50));
        run.record_frame_at(None, Phase::Idle, at(60));
        run.record_app(0.001);
        let stats = run.stats();
        assert_eq!(stats.len(), 2);
        assert_eq!(stats[0].phase, "idle");
        assert_eq!(stats[0].frames, 1);
        assert!((stats[0].max_ms - 2.0).abs() < 1e-6);
        assert_eq!(stats[1].phase, "generating");
        assert_eq!(stats[1].frames, 2);
        assert!((stats[1].mean_ms - 12.0).abs() < 1e-4);
        assert_eq!(stats[1].over_16ms, 1);
        assert!((stats[1].p99_ms - 20.0).abs() < 1e-4);
        // Intervals: idle 10 + 10 ms, generating 30 + 10 ms.
        assert!((stats[0].interval_mean_ms - 10.0).abs() < 1e-3);
        assert!((stats[1].interval_mean_ms - 20.0).abs() < 1e-3);
        assert!((stats[1].interval_p99_ms - 30.0).abs() < 1e-3);
        assert!((stats[0].app_p99_ms - 1.0).abs() < 1e-4);
        assert!(
            stats[1].app_p99_ms.is_nan(),
            "no app time recorded while generating"
        );
        // The slowest generating frame was drawn at 40 ms.
        assert!((stats[1].worst[0][0] - 0.04).abs() < 1e-6);
        assert!((stats[1].worst[0][1] - 20.0).abs() < 1e-4);
    }

    #[test]
    fn compare_steps_parse() {
        assert_eq!(
            "wipe:3:0.45".parse::<CompareStep>().unwrap(),
            CompareStep::Wipe {
                with: 3,
                split: 0.45
            }
        );
        assert_eq!(
            "strip:1:6".parse::<CompareStep>().unwrap(),
            CompareStep::Strip {
                with: 1,
                between: 6
            }
        );
        assert_eq!("strip:5:6".parse::<CompareStep>().unwrap().with(), 5);
        assert_eq!(
            "keep:0:0.5".parse::<CompareStep>().unwrap(),
            CompareStep::Keep {
                with: 0,
                fraction: 0.5
            }
        );
        assert_eq!(
            "mix:2:0.4".parse::<CompareStep>().unwrap(),
            CompareStep::Mix {
                with: 2,
                fraction: 0.4
            }
        );
        for bad in [
            "wipe:3",
            "wipe:3:1.5",
            "wipe:x:0.5",
            "strip:1:0",
            "strip:1:99",
            "strip:1:six",
            "keep:0:1.0",
            "mix:1:0",
            "split:1:2",
            "",
        ] {
            assert!(bad.parse::<CompareStep>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn screenshots_encode_as_png() {
        let img = egui::ColorImage::new([3, 2], vec![egui::Color32::from_rgb(10, 20, 30); 6]);
        let bytes = screenshot_png(&img).unwrap();
        let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.get_pixel(2, 1).0, [10, 20, 30]);
    }
}
