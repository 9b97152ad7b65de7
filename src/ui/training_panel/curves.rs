//! The loss curves of a training run: one series per stage and loss term, smoothed and on a
//! log scale as the user picks, plotted with egui_plot.

use std::collections::{BTreeMap, HashMap};

use egui_plot::{Corner, GridInput, GridMark, Legend, Line, Plot};

use crate::train::events::Stage;
use crate::ui::theme;

/// The loss history of a run and how it is plotted.
#[derive(Debug, Clone)]
pub struct LossCurves {
    /// Per stage, per loss term: `(step, value)` points, oldest first.
    pub series: HashMap<Stage, BTreeMap<String, Vec<[f64; 2]>>>,
    /// Whose curves the plot shows; `None` follows the running stage.
    pub pick: Option<Stage>,
    /// Loss curves on a log10 axis (values ≤ 0 are left out there).
    pub log_scale: bool,
    /// Exponential smoothing of the curves, 0 (raw) … 0.99.
    pub smoothing: f32,
}

impl Default for LossCurves {
    fn default() -> Self {
        Self {
            series: HashMap::new(),
            pick: None,
            log_scale: true,
            smoothing: 0.6,
        }
    }
}

impl LossCurves {
    /// Forgets every point (a new run).
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Whether any point has arrived.
    pub fn is_empty(&self) -> bool {
        self.series.values().all(BTreeMap::is_empty)
    }

    /// Whether `stage` has points.
    pub fn has(&self, stage: Stage) -> bool {
        self.series.get(&stage).is_some_and(|m| !m.is_empty())
    }

    /// The points of one term of one stage.
    pub fn points(&self, stage: Stage, term: &str) -> Option<&[[f64; 2]]> {
        Some(self.series.get(&stage)?.get(term)?.as_slice())
    }

    /// Adds the finite losses of one step (non-finite values are left out). A long series keeps
    /// every other old point: the curve's shape survives.
    pub fn push(&mut self, stage: Stage, step: u64, losses: Vec<(String, f32)>) {
        for (name, v) in losses {
            if v.is_finite() {
                let series = self
                    .series
                    .entry(stage)
                    .or_default()
                    .entry(name)
                    .or_default();
                series.push([step as f64, f64::from(v)]);
                if series.len() > theme::LOSS_HISTORY {
                    let half: Vec<[f64; 2]> = series.iter().step_by(2).copied().collect();
                    *series = half;
                }
            }
        }
    }

    /// The stage whose curves are shown: the user's pick, else the `running` (or last) stage.
    pub fn shown_stage(&self, running: Option<Stage>) -> Stage {
        self.pick.or(running).unwrap_or(Stage::Prior)
    }

    /// The curves of the shown stage as plotted: `(term, points)` with the smoothing and scale
    /// applied.
    pub fn shown_curves(&self, running: Option<Stage>) -> Vec<(String, Vec<[f64; 2]>)> {
        let Some(terms) = self.series.get(&self.shown_stage(running)) else {
            return Vec::new();
        };
        terms
            .iter()
            .map(|(term, pts)| {
                (
                    term.clone(),
                    plot_points(pts, self.smoothing, self.log_scale),
                )
            })
            .collect()
    }

    /// Draws the stage picker, the scale and smoothing controls and the plot. `running` is the
    /// running stage and `total` its number of steps (the x axis spans the whole stage).
    pub fn ui(&mut self, ui: &mut egui::Ui, running: Option<Stage>, total: u64) {
        let shown = self.shown_stage(running);
        ui.horizontal(|ui| {
            for stage in [Stage::Prior, Stage::Pdgan] {
                let r = ui.add_enabled(
                    self.has(stage),
                    egui::Button::selectable(shown == stage, stage.to_string()),
                );
                if r.clicked() {
                    // Picking the running stage goes back to following the run.
                    self.pick = (Some(stage) != running).then_some(stage);
                }
            }
            ui.separator();
            ui.checkbox(&mut self.log_scale, "log scale")
                .on_hover_text("log10 axis; values ≤ 0 (e.g. a negative hinge term) are not drawn");
            ui.add(
                egui::Slider::new(&mut self.smoothing, 0.0..=0.99)
                    .text("smoothing")
                    .fixed_decimals(2),
            )
            .on_hover_text("Exponential moving average of the curves (0 = raw values)");
        });
        let log = self.log_scale;
        let total = if running == Some(shown) { total } else { 0 };
        let mut plot = Plot::new("train-losses")
            .height(theme::LOSS_PLOT_HEIGHT)
            .legend(Legend::default().position(Corner::RightTop))
            .x_axis_label("step")
            .include_x(0.0)
            .label_formatter(move |pos| {
                let (name, p) = match pos {
                    egui_plot::HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => (*plot_name, *position),
                    egui_plot::HoverPosition::Elsewhere { position } => ("", *position),
                };
                let y = if log { 10f64.powf(p.y) } else { p.y };
                Some(format!("{name}\nstep {:.0}: {}", p.x, format_loss(y)))
            });
        if total > 0 {
            // The whole run on the x axis: progress reads left to right, and the legend sits
            // over the steps still to come.
            plot = plot.include_x(total as f64);
        }
        if log {
            plot = plot
                .y_grid_spacer(log_decades)
                .y_axis_formatter(|mark, _| format_loss(10f64.powf(mark.value)));
        }
        let curves = self.shown_curves(running);
        plot.show(ui, |plot| {
            for (i, (name, pts)) in curves.into_iter().enumerate() {
                plot.line(Line::new(name, pts).color(theme::loss_colour(i)));
            }
        });
    }
}

/// A loss curve as plotted: a bias-corrected exponential moving average with weight
/// `smoothing` on the past (0 = the raw values), then log10 of the values when `log` is set,
/// leaving out the values ≤ 0 (and any non-finite ones) there.
pub fn plot_points(pts: &[[f64; 2]], smoothing: f32, log: bool) -> Vec<[f64; 2]> {
    let a = f64::from(smoothing.clamp(0.0, 0.999));
    let mut ema = 0.0;
    let mut weight = 0.0;
    let mut out = Vec::with_capacity(pts.len());
    for &[x, y] in pts {
        if !y.is_finite() {
            continue;
        }
        ema = a * ema + (1.0 - a) * y;
        weight = a * weight + (1.0 - a);
        let v = ema / weight;
        if log {
            if v > 0.0 {
                out.push([x, v.log10()]);
            }
        } else {
            out.push([x, v]);
        }
    }
    out
}

/// Grid marks of a log10 axis: every decade (thick), with 2× and 5× between (thin) when the
/// axis spans few decades.
fn log_decades(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let fine = hi - lo < 3.0;
    let mut marks = Vec::new();
    let (first, last) = (lo.floor() as i64, hi.ceil() as i64);
    for k in first..=last.min(first + 40) {
        let k = k as f64;
        marks.push(GridMark {
            value: k,
            step_size: 1.0,
        });
        if fine {
            for m in [2f64, 5.0] {
                marks.push(GridMark {
                    value: k + m.log10(),
                    step_size: 0.1,
                });
            }
        }
    }
    marks.retain(|m| m.value >= lo && m.value <= hi);
    marks
}

/// A loss value with three significant digits (scientific outside 0.001 … 99 999).
pub fn format_loss(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_are_smoothed_logged_and_shown_per_stage() {
        let raw = [[1.0, 10.0], [2.0, 1000.0], [3.0, f64::NAN], [4.0, -5.0]];
        // Raw values, linear: unchanged apart from the non-finite one.
        assert_eq!(
            plot_points(&raw, 0.0, false),
            vec![[1.0, 10.0], [2.0, 1000.0], [4.0, -5.0]]
        );
        // Log: decades, non-positive values left out.
        assert_eq!(plot_points(&raw, 0.0, true), vec![[1.0, 1.0], [2.0, 3.0]]);
        // Smoothing is bias-corrected: the first point is the raw value, the second the
        // weighted mean (0.5·10 + 1000)/1.5 = 670.
        let s = plot_points(&raw[..2], 0.5, false);
        assert_eq!(s[0], [1.0, 10.0]);
        assert!((s[1][1] - 670.0).abs() < 1e-9);

        let mut c = LossCurves::default();
        for (stage, step, v) in [(Stage::Prior, 5, 2.0f32), (Stage::Pdgan, 3, 40.0)] {
            c.push(
                stage,
                step,
                vec![
                    ("total".into(), v),
                    ("tv".into(), 0.01),
                    ("l1".into(), f32::NAN),
                ],
            );
        }
        assert!(
            c.points(Stage::Prior, "l1").is_none(),
            "non-finite left out"
        );
        // Follows the running stage; one curve per term of that stage.
        assert_eq!(c.shown_stage(Some(Stage::Pdgan)), Stage::Pdgan);
        let shown = c.shown_curves(Some(Stage::Pdgan));
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].0, "total");
        assert!((shown[0].1[0][1] - 40f64.log10()).abs() < 1e-6);
        c.pick = Some(Stage::Prior);
        assert!((c.shown_curves(Some(Stage::Pdgan))[0].1[0][1] - 2f64.log10()).abs() < 1e-6);
        assert_eq!(format_loss(0.0123), "0.012");
        assert_eq!(format_loss(52.46), "52.5");
        assert_eq!(format_loss(2.5e-5), "2.50e-5");
        let marks = log_decades(GridInput {
            bounds: (-1.5, 1.2),
            base_step_size: 0.01,
        });
        assert!(marks.iter().any(|m| m.value == 0.0 && m.step_size == 1.0));
        assert!(marks.iter().any(|m| (m.value - 2f64.log10()).abs() < 1e-12));
        assert!(marks.iter().all(|m| (-1.5..=1.2).contains(&m.value)));
    }
}
