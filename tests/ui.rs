//! Studio window behaviour, driven through egui_kittest without a GPU: painting in photo
//! space under zoom and pan, eraser and undo, the seed slider, the gallery and the training
//! panel. No model and no training thread are needed: the studio runs with recording workers
//! (requests are recorded) and the tests feed it synthetic results.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::accesskit::Role;
use egui::{Event, Key, Modifiers, PointerButton, Pos2, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use image::{Rgb, RgbImage};

use pdpaint::detail::DetailMode;
use pdpaint::inference::ZSpec;
use pdpaint::inference::worker::{InferEvent, ModelInfo, ModelPreset, ModelSource};
use pdpaint::maps::{Decay, OFFICIAL_UNITS};
use pdpaint::model::Preset;
use pdpaint::steer::score::{Realism, SampleScores, SeamScore};
use pdpaint::train::events::Stage;
use pdpaint::train::worker::Command as TrainCommand;
use pdpaint::ui::Studio;
use pdpaint::ui::app::StudioOptions;
use pdpaint::ui::canvas::Tool;
use pdpaint::ui::command::{Command, TrainingRequest};
use pdpaint::ui::doc::MaskOp;
use pdpaint::ui::gallery::wipe::{self, WipeRight};
use pdpaint::ui::gallery::{DetailStatus, SortBy};
use pdpaint::ui::overlay::{MapKind, hard_full_levels};
use pdpaint::ui::prefs::Prefs;
use pdpaint::ui::strip::{StripEnds, StripState};
use pdpaint::ui::workers::DialogMode;

/// A studio with recording workers (no model or training thread), scripted dialogs and a
/// model folder that does not exist.
fn studio() -> Studio {
    let opts = StudioOptions {
        model: Some(ModelSource::Folder(PathBuf::from("no-such-model"))),
        dialogs: DialogMode::Scripted {
            answers: Default::default(),
            seen: Default::default(),
        },
        ..StudioOptions::default()
    };
    Studio::for_tests(opts, Prefs::default())
}

fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]))
}

fn harness(s: Studio) -> Harness<'static, Studio> {
    Harness::builder()
        .with_size(Vec2::new(1600.0, 1200.0))
        // Frames as a 60 Hz display makes them (kittest's default step is 0.25 s); kittest
        // also runs one frame per queued event, so a pen's touch and press are a frame apart.
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(
            |ui, s: &mut Studio| {
                let ctx = ui.ctx().clone();
                s.logic(&ctx);
                s.ui(ui);
            },
            s,
        )
}

/// A large window that runs the studio's automation script each frame (2 ms frames).
fn scripted_harness(s: Studio) -> Harness<'static, Studio> {
    Harness::builder()
        .with_size(Vec2::new(1600.0, 1200.0))
        .build_ui_state(
            |ui, s: &mut Studio| {
                let ctx = ui.ctx().clone();
                s.logic(&ctx);
                s.ui(ui);
                s.step_script(&ctx, Some(0.002));
            },
            s,
        )
}

fn settle(h: &mut Harness<'static, Studio>) {
    h.run_steps(3);
}

fn model_info() -> ModelInfo {
    ModelInfo {
        source: ModelSource::Folder("synthetic".into()),
        preset: ModelPreset::Known(Preset::Tiny),
        resolution: 64,
        note: "synthetic test model".into(),
        decay: Decay::Exp,
        prior_source: pdpaint::model::PriorSource::Network,
        params: 1,
    }
}

/// A window with a `size` photo and the brush tool at `radius` photo pixels, settled.
fn brush_window(size: (u32, u32), radius: f32) -> Harness<'static, Studio> {
    let mut s = studio();
    s.set_photo(photo(size.0, size.1), None);
    s.prefs.tool = Tool::Brush;
    s.prefs.brush_radius = radius;
    let mut h = harness(s);
    settle(&mut h);
    h
}

/// A window with a `size` photo, a rectangular hole between the corners `hole`, `samples`
/// per generation and the synthetic model loaded, settled.
fn ready(
    size: (u32, u32),
    hole: ((f32, f32), (f32, f32)),
    samples: usize,
) -> Harness<'static, Studio> {
    let mut s = studio();
    s.set_photo(photo(size.0, size.1), None);
    s.doc.as_mut().unwrap().apply_shape(MaskOp::Rect {
        a: hole.0,
        b: hole.1,
        hole: true,
    });
    s.prefs.samples = samples;
    let mut h = harness(s);
    settle(&mut h);
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle_infer_event(&ctx, InferEvent::ModelLoaded(model_info()));
    settle(&mut h);
    h
}

/// Feeds the photo itself as samples `seeds` (indices 0, 1, …) of `generation`.
fn send_samples(
    h: &mut Harness<'static, Studio>,
    generation: u64,
    seeds: &[u64],
    img: &Arc<RgbImage>,
    took: Duration,
) {
    let ctx = h.ctx.clone();
    for (index, &seed) in seeds.iter().enumerate() {
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::Sample {
                generation,
                index,
                seed,
                thumb: img.as_ref().clone(),
                photo: img.clone(),
                took,
            },
        );
    }
}

/// Drags with the primary button through photo points (converted with the current view).
fn drag_photo(h: &mut Harness<'static, Studio>, pts: &[(f32, f32)]) {
    let xf = h.state().canvas_xform().unwrap();
    let screen: Vec<Pos2> = pts
        .iter()
        .map(|&(x, y)| xf.to_screen(Pos2::new(x, y)))
        .collect();
    h.hover_at(screen[0]);
    h.step();
    h.drag_at(screen[0]);
    h.step();
    for &p in &screen[1..] {
        h.hover_at(p);
        h.step();
    }
    h.drop_at(*screen.last().unwrap());
    h.step();
    h.step();
}

#[test]
fn a_drag_paints_where_the_pointer_went_after_zoom_and_pan() {
    let mut h = brush_window((200, 100), 4.0);
    let fit = h.state().canvas_xform().unwrap();

    // Zoom in about a point with the wheel, then pan with a middle-button drag.
    let anchor = fit.to_screen(Pos2::new(60.0, 40.0));
    h.hover_at(anchor);
    h.event(Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: Vec2::new(0.0, 200.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: Modifiers::NONE,
    });
    h.step();
    let zoomed = h.state().canvas_xform().unwrap();
    assert!(
        zoomed.zoom > fit.zoom * 1.2,
        "{} vs {}",
        zoomed.zoom,
        fit.zoom
    );
    let a = zoomed.to_image(anchor);
    assert!(
        (a - Pos2::new(60.0, 40.0)).length() < 0.05,
        "zoom is about the cursor: {a:?}"
    );

    let start = zoomed.to_screen(Pos2::new(100.0, 50.0));
    h.event(Event::PointerButton {
        pos: start,
        button: PointerButton::Middle,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.hover_at(start + Vec2::new(-70.0, 30.0));
    h.step();
    h.event(Event::PointerButton {
        pos: start + Vec2::new(-70.0, 30.0),
        button: PointerButton::Middle,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
    let panned = h.state().canvas_xform().unwrap();
    assert!((panned.origin - zoomed.origin - Vec2::new(-70.0, 30.0)).length() < 0.5);
    assert_eq!(
        h.state().doc.as_ref().unwrap().mask().hole_count(),
        0,
        "panning paints nothing"
    );

    // Paint a horizontal line from (70, 50) to (130, 50) in photo pixels.
    drag_photo(&mut h, &[(70.0, 50.0), (100.0, 50.0), (130.0, 50.0)]);
    let mask = h.state().doc.as_ref().unwrap().mask().clone();
    for x in [70, 85, 100, 115, 129] {
        assert!(mask.is_hole(x, 50), "({x}, 50) painted");
    }
    assert!(!mask.is_hole(100, 60), "10 px below the line is untouched");
    assert!(
        !mask.is_hole(60, 50) && !mask.is_hole(140, 50),
        "ends stay near the pointer"
    );
    let bbox = mask.bbox().unwrap();
    assert!(
        bbox.0 >= 64 && bbox.2 <= 136 && bbox.1 >= 44 && bbox.3 <= 56,
        "{bbox:?}"
    );
}

/// A pen event as egui reports it: a touch with a force, plus the pointer events egui-winit
/// derives from the first touch.
fn pen(h: &mut Harness<'static, Studio>, pos: Pos2, phase: egui::TouchPhase, force: f32) {
    h.event(Event::Touch {
        device_id: egui::TouchDeviceId(1),
        id: egui::TouchId(0),
        phase,
        pos,
        force: Some(force),
    });
    match phase {
        egui::TouchPhase::Start => {
            h.event(Event::PointerMoved(pos));
            h.event(Event::PointerButton {
                pos,
                button: PointerButton::Primary,
                pressed: true,
                modifiers: Modifiers::NONE,
            });
        }
        egui::TouchPhase::Move => h.event(Event::PointerMoved(pos)),
        egui::TouchPhase::End | egui::TouchPhase::Cancel => h.event(Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed: false,
            modifiers: Modifiers::NONE,
        }),
    }
    h.step();
}

#[test]
fn pen_pressure_sets_the_brush_width_along_the_stroke() {
    let mut h = brush_window((200, 100), 12.0);
    let xf = h.state().canvas_xform().unwrap();
    let at = |x: f32| xf.to_screen(Pos2::new(x, 50.0));
    // Light pressure on the left, firm on the right.
    pen(&mut h, at(20.0), egui::TouchPhase::Start, 0.15);
    for (i, x) in [40.0, 60.0, 80.0, 100.0, 120.0, 140.0, 160.0, 180.0]
        .into_iter()
        .enumerate()
    {
        let force = 0.15 + 0.85 * (i + 1) as f32 / 8.0;
        pen(&mut h, at(x), egui::TouchPhase::Move, force);
    }
    pen(&mut h, at(180.0), egui::TouchPhase::End, 1.0);
    h.step();
    let mask = h.state().doc.as_ref().unwrap().mask().clone();
    let col = |x: u32| (0..100).filter(|&y| mask.is_hole(x, y)).count();
    assert!(col(22) <= 5, "light end is thin: {}", col(22));
    assert!(col(178) >= 21, "firm end is the full brush: {}", col(178));
    assert!(col(22) < col(100) && col(100) < col(178));
    // A mouse stroke afterwards paints the full width again (no stale pressure).
    drag_photo(&mut h, &[(30.0, 85.0), (60.0, 85.0)]);
    let mask = h.state().doc.as_ref().unwrap().mask().clone();
    assert_eq!((70..100).filter(|&y| mask.is_hole(45, y)).count(), 24);
    // Also after a pen gesture that was not a brush stroke (a rectangle drawn with the pen).
    h.state_mut().prefs.tool = Tool::Rect;
    pen(&mut h, at(150.0), egui::TouchPhase::Start, 0.2);
    pen(
        &mut h,
        xf.to_screen(Pos2::new(170.0, 70.0)),
        egui::TouchPhase::Move,
        0.2,
    );
    pen(
        &mut h,
        xf.to_screen(Pos2::new(170.0, 70.0)),
        egui::TouchPhase::End,
        0.2,
    );
    h.state_mut().prefs.tool = Tool::Brush;
    for _ in 0..10 {
        h.step();
    }
    drag_photo(&mut h, &[(100.0, 20.0), (130.0, 20.0)]);
    let mask = h.state().doc.as_ref().unwrap().mask().clone();
    assert_eq!((0..40).filter(|&y| mask.is_hole(115, y)).count(), 24);
}

#[test]
fn eraser_and_undo_restore_the_mask() {
    let mut s = studio();
    s.set_photo(photo(160, 120), None);
    s.prefs.brush_radius = 6.0;
    let mut h = harness(s);
    settle(&mut h);
    drag_photo(&mut h, &[(30.0, 60.0), (130.0, 60.0)]);
    let painted = h.state().doc.as_ref().unwrap().mask().clone();
    assert!(painted.is_hole(80, 60));

    h.key_press(Key::E);
    h.step();
    assert_eq!(h.state().prefs.tool, Tool::Eraser);
    drag_photo(&mut h, &[(80.0, 40.0), (80.0, 80.0)]);
    let erased = h.state().doc.as_ref().unwrap().mask().clone();
    assert!(!erased.is_hole(80, 60), "the eraser removed the crossing");
    assert!(erased.is_hole(40, 60), "and nothing else");

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.step();
    assert_eq!(h.state().doc.as_ref().unwrap().mask(), &painted);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.step();
    assert_eq!(h.state().doc.as_ref().unwrap().mask().hole_count(), 0);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.step();
    assert_eq!(h.state().doc.as_ref().unwrap().mask(), &painted);
}

#[test]
fn the_seed_slider_sets_the_seeds_of_the_request() {
    let mut h = ready((120, 90), ((40.0, 30.0), (70.0, 60.0)), 3);

    h.get_by_role_and_label(Role::Slider, "Seed")
        .set_value_accesskit(4242.0);
    settle(&mut h);
    assert_eq!(h.state().prefs.seed, 4242);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let reqs = h.state().submitted_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].seeds, vec![4242, 4243, 4244]);
    assert_eq!(reqs[0].mask.hole_count(), 30 * 30);
}

#[test]
fn a_gallery_click_selects_and_apply_changes_the_photo_undoably() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 2);
    let ctx = h.ctx.clone();
    h.state_mut().prefs.seed = 7;
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let g = 1;
    let original = h.state().doc.as_ref().unwrap().photo().as_ref().clone();
    // Two synthetic samples: the hole filled red (seed 7) or green (seed 8).
    for (index, (seed, colour)) in [(7u64, [200u8, 0, 0]), (8, [0, 200, 0])]
        .into_iter()
        .enumerate()
    {
        let mut img = original.clone();
        for y in 20..40 {
            for x in 20..40 {
                img.put_pixel(x, y, Rgb(colour));
            }
        }
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::Sample {
                generation: g,
                index,
                seed,
                thumb: img.clone(),
                photo: Arc::new(img),
                took: Duration::from_millis(5),
            },
        );
    }
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: g,
            total: Duration::from_millis(10),
        },
    );
    settle(&mut h);
    assert_eq!(
        h.state().gallery.selected,
        Some(0),
        "the first sample is selected"
    );

    h.get_by_label("Seed 8").click();
    settle(&mut h);
    assert_eq!(h.state().gallery.selected, Some(1));

    h.get_by_label("Apply").click();
    settle(&mut h);
    let doc = h.state().doc.as_ref().unwrap();
    assert_eq!(doc.photo().get_pixel(30, 30).0, [0, 200, 0]);
    assert_eq!(doc.photo().get_pixel(5, 5), original.get_pixel(5, 5));
    assert_eq!(doc.mask().hole_count(), 0, "applying clears the mask");
    assert!(doc.photo_unsaved());

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut h);
    let doc = h.state().doc.as_ref().unwrap();
    assert_eq!(doc.photo().as_ref(), &original);
    assert_eq!(doc.mask().hole_count(), 400);
}

/// The photo with the test hole (20..40)² filled with one colour.
fn filled(original: &RgbImage, colour: [u8; 3]) -> RgbImage {
    let mut img = original.clone();
    for y in 20..40 {
        for x in 20..40 {
            img.put_pixel(x, y, Rgb(colour));
        }
    }
    img
}

#[test]
fn detailed_samples_replace_the_raw_ones_and_raw_is_one_click_away() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 1);
    let ctx = h.ctx.clone();
    h.state_mut().prefs.seed = 3;
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let req = h.state().submitted_requests().last().unwrap().clone();
    assert_eq!(
        req.opts.detail,
        DetailMode::Patch,
        "full resolution by default"
    );
    let original = h.state().doc.as_ref().unwrap().photo().as_ref().clone();
    let (raw, fine) = (
        filled(&original, [200, 0, 0]),
        filled(&original, [0, 0, 200]),
    );
    let g = 1;
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Sample {
            generation: g,
            index: 0,
            seed: 3,
            thumb: raw.clone(),
            photo: Arc::new(raw.clone()),
            took: Duration::from_millis(5),
        },
    );
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::DetailProgress {
            generation: g,
            index: 0,
            fraction: 0.4,
        },
    );
    settle(&mut h);
    // The raw sample is there at once, with its detail under way.
    h.get_by_label("Seed 3 · 40 %");
    assert_eq!(
        h.state().gallery.selected_sample().unwrap().1.as_ref(),
        &raw
    );
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Detailed {
            generation: g,
            index: 0,
            seed: 3,
            thumb: fine.clone(),
            photo: Arc::new(fine.clone()),
            took: Duration::from_millis(50),
        },
    );
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: g,
            total: Duration::from_millis(60),
        },
    );
    settle(&mut h);
    h.get_by_label("Seed 3");
    h.get_by_label("Apply").click();
    settle(&mut h);
    assert_eq!(
        h.state().doc.as_ref().unwrap().photo().get_pixel(30, 30).0,
        [0, 0, 200],
        "Apply takes the detailed sample"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut h);
    // One click shows (and applies) the raw PD-GAN output instead.
    h.get_by_label("Raw PD-GAN output").click();
    settle(&mut h);
    assert!(h.state().gallery.show_raw);
    h.get_by_label("Apply").click();
    settle(&mut h);
    assert_eq!(
        h.state().doc.as_ref().unwrap().photo().get_pixel(30, 30).0,
        [200, 0, 0],
        "Apply takes the raw sample"
    );
}

#[test]
fn the_detail_control_turns_detail_off_for_the_next_generation() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 1);
    h.get_by_role_and_label(Role::ComboBox, "Detail").click();
    settle(&mut h);
    h.get_by_label("Off (raw samples)").click();
    settle(&mut h);
    assert_eq!(h.state().prefs.detail, DetailMode::Off);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let req = h.state().submitted_requests().last().unwrap().clone();
    assert_eq!(req.opts.detail, DetailMode::Off);
    // No detail is expected: no slot waits for one.
    assert!(
        h.state()
            .gallery
            .tiles
            .iter()
            .all(|t| t.detail == DetailStatus::Off)
    );
}

#[test]
fn an_unlocked_seed_draws_a_new_first_seed_per_generation() {
    let mut h = ready((120, 90), ((40.0, 30.0), (70.0, 60.0)), 2);
    h.state_mut().prefs.seed = 11;
    // Locked (the default): the same seeds twice.
    for _ in 0..2 {
        h.get_by_role_and_label(Role::Button, "Generate").click();
        settle(&mut h);
    }
    // Unlocked: new first seeds, and the slider shows the one used.
    h.get_by_role_and_label(Role::CheckBox, "Lock").click();
    settle(&mut h);
    assert!(!h.state().prefs.seed_locked);
    for _ in 0..2 {
        h.get_by_role_and_label(Role::Button, "Generate").click();
        settle(&mut h);
    }
    let seeds: Vec<Vec<u64>> = h
        .state()
        .submitted_requests()
        .iter()
        .map(|r| r.seeds.clone())
        .collect();
    assert_eq!(seeds.len(), 4);
    assert_eq!(seeds[0], vec![11, 12]);
    assert_eq!(seeds[1], vec![11, 12]);
    assert_ne!(seeds[2], seeds[3], "a new draw each time");
    assert_eq!(seeds[3][1], seeds[3][0] + 1);
    assert_eq!(h.state().prefs.seed, seeds[3][0]);
}

#[test]
fn generate_when_a_stroke_ends_submits_once_on_release() {
    let mut h = brush_window((200, 100), 5.0);
    h.state_mut().prefs.generate_on_stroke = true;
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle_infer_event(&ctx, InferEvent::ModelLoaded(model_info()));
    settle(&mut h);
    let xf = h.state().canvas_xform().unwrap();
    let a = xf.to_screen(Pos2::new(50.0, 50.0));
    h.hover_at(a);
    h.step();
    h.drag_at(a);
    h.step();
    for x in [70.0, 90.0, 110.0] {
        h.hover_at(xf.to_screen(Pos2::new(x, 50.0)));
        h.step();
    }
    assert!(
        h.state().submitted_requests().is_empty(),
        "nothing while the stroke goes on"
    );
    h.drop_at(xf.to_screen(Pos2::new(110.0, 50.0)));
    h.step();
    h.step();
    let reqs = h.state().submitted_requests();
    assert_eq!(reqs.len(), 1, "one request when the stroke ends");
    assert!(reqs[0].mask.is_hole(80, 50));
    // An eraser stroke that empties the mask does not ask for a fill of nothing.
    h.state_mut().prefs.tool = Tool::Eraser;
    h.state_mut().prefs.brush_radius = 30.0;
    drag_photo(&mut h, &[(40.0, 50.0), (120.0, 50.0)]);
    assert_eq!(h.state().doc.as_ref().unwrap().mask().hole_count(), 0);
    assert_eq!(h.state().submitted_requests().len(), 1);
}

#[test]
fn holding_backslash_shows_the_original_under_the_preview() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 1);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let img = Arc::new(h.state().doc.as_ref().unwrap().photo().as_ref().clone());
    send_samples(&mut h, 1, &[0], &img, Duration::from_millis(5));
    settle(&mut h);
    assert!(h.state().overlay.previewing, "the sample is previewed");
    h.event(Event::Key {
        key: Key::Backslash,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.step();
    assert!(!h.state().overlay.previewing, "the original while held");
    assert!(h.state().gallery.preview, "the preview setting is kept");
    h.event(Event::Key {
        key: Key::Backslash,
        physical_key: None,
        pressed: false,
        repeat: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.step();
    assert!(h.state().overlay.previewing, "the sample again on release");
}

#[test]
fn start_in_the_training_panel_sends_the_start_command() {
    let mut s = studio();
    s.prefs.show_training = true;
    s.prefs.train_data = Some(PathBuf::from("photos"));
    s.prefs.train_out = Some(PathBuf::from("runs/a"));
    s.training.prior_steps = 12;
    let mut h = harness(s);
    settle(&mut h);
    h.get_by_label("Start").click();
    settle(&mut h);
    let asked = h.state().workers().recorded_training();
    assert_eq!(asked.len(), 1, "{asked:?}");
    match &asked[0] {
        TrainingRequest::Start(cfg) => {
            assert_eq!(cfg.data, PathBuf::from("photos"));
            assert_eq!(cfg.out, PathBuf::from("runs/a"));
            assert_eq!(cfg.prior_steps, 12);
        }
        other => panic!("expected a start, got {other:?}"),
    }
    assert!(h.state().training.running());
    h.get_by_label("Pause").click();
    settle(&mut h);
    assert_eq!(
        h.state().workers().recorded_training().last(),
        Some(&TrainingRequest::Steer(TrainCommand::Pause))
    );
    assert_eq!(
        h.state().training.state,
        pdpaint::ui::training_panel::RunState::Paused
    );
}

#[test]
fn the_full_resolution_hard_map_follows_the_brush() {
    let mut s = studio();
    s.set_photo(photo(300, 200), None);
    s.prefs.overlay.map = MapKind::HardFull;
    s.prefs.overlay.unit = 5;
    s.prefs.brush_radius = 10.0;
    let mut h = harness(s);
    settle(&mut h);
    drag_photo(&mut h, &[(50.0, 50.0), (150.0, 120.0), (250.0, 60.0)]);
    drag_photo(&mut h, &[(100.0, 150.0), (110.0, 20.0)]);
    settle(&mut h);
    let st = h.state();
    let mask = st.doc.as_ref().unwrap().mask();
    assert!(mask.hole_count() > 0);
    let want = hard_full_levels(mask, OFFICIAL_UNITS[5], Decay::Exp);
    assert_eq!(st.overlay.hard_full_levels().unwrap(), want);
    assert!(st.overlay.timings.hard_full_update.is_some());
}

#[test]
fn without_a_model_the_window_says_how_to_get_one() {
    let mut s = studio();
    s.set_photo(photo(64, 64), None);
    let mut h = harness(s);
    settle(&mut h);
    h.get_by_label_contains("Loading the model");
    let ctx = h.ctx.clone();
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::ModelFailed {
            source: ModelSource::Folder(PathBuf::from("no-such-model")),
            error: "could not read model config: no-such-model/config.json".into(),
        },
    );
    settle(&mut h);
    assert!(h.state().model_info().is_none());
    h.get_by_label("No model loaded");
    assert!(
        h.get_by_role_and_label(Role::Button, "Generate")
            .accesskit_node()
            .is_disabled(),
        "Generate waits for a model"
    );
    h.get_by_label_contains("pdpaint import");
    assert_eq!(
        h.state().requested_models(),
        &[ModelSource::Folder(PathBuf::from("no-such-model"))]
    );
}

#[test]
fn opening_another_photo_with_unsaved_work_asks_first() {
    let mut s = studio();
    s.set_photo(photo(64, 48), None);
    s.doc.as_mut().unwrap().apply_shape(MaskOp::Rect {
        a: (4.0, 4.0),
        b: (20.0, 20.0),
        hole: true,
    });
    let mut h = harness(s);
    settle(&mut h);
    let coffee = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/coffee.png");
    let ctx = h.ctx.clone();
    h.state_mut().apply(&ctx, Command::OpenPath(coffee.clone()));
    settle(&mut h);
    assert!(h.state().confirming());
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert!(!h.state().confirming());
    assert_eq!(h.state().doc.as_ref().unwrap().size(), (64, 48));

    h.state_mut().apply(&ctx, Command::OpenPath(coffee.clone()));
    settle(&mut h);
    h.get_by_label("Discard").click();
    // The photo is decoded on the I/O thread; wait for it.
    for _ in 0..200 {
        h.step();
        if h.state().doc.as_ref().unwrap().source.as_ref() == Some(&coffee) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let doc = h.state().doc.as_ref().unwrap();
    assert_eq!(doc.source.as_ref(), Some(&coffee));
    assert_eq!(doc.mask().hole_count(), 0);
    assert!(!doc.has_unsaved_work());
}

#[test]
fn shift_click_picks_a_second_sample_to_compare() {
    let mut h = ready((80, 60), ((10.0, 10.0), (30.0, 30.0)), 3);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let img = Arc::new(h.state().doc.as_ref().unwrap().photo().as_ref().clone());
    send_samples(&mut h, 1, &[0, 1, 2], &img, Duration::from_millis(1));
    settle(&mut h);
    h.get_by_label("Seed 2").click_modifiers(Modifiers::SHIFT);
    settle(&mut h);
    assert_eq!(h.state().gallery.selected, Some(0));
    assert_eq!(h.state().gallery.compare, Some(2));
    h.get_by_label("Compare");
}

#[test]
fn rectangle_and_lasso_tools_fill_their_shapes() {
    let mut s = studio();
    s.set_photo(photo(120, 80), None);
    let mut h = harness(s);
    settle(&mut h);
    h.key_press(Key::R);
    h.step();
    assert_eq!(h.state().prefs.tool, Tool::Rect);
    drag_photo(&mut h, &[(10.0, 10.0), (25.0, 20.0), (40.0, 30.0)]);
    let m = h.state().doc.as_ref().unwrap().mask().clone();
    assert_eq!(m.bbox(), Some((10, 10, 40, 30)));
    assert_eq!(m.hole_count(), 30 * 20);

    h.key_press(Key::L);
    h.step();
    drag_photo(
        &mut h,
        &[(60.0, 10.0), (100.0, 10.0), (100.0, 50.0), (60.0, 50.0)],
    );
    let m = h.state().doc.as_ref().unwrap().mask().clone();
    assert!(m.is_hole(80, 30) && m.is_hole(61, 11) && m.is_hole(98, 48));
    assert!(!m.is_hole(80, 55) && !m.is_hole(55, 30));
    // Both are single undo steps.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.step();
    assert_eq!(h.state().doc.as_ref().unwrap().mask().hole_count(), 600);
}

/// The panel following a real training worker: a tiny run on generated photos reports
/// progress, losses, checkpoints and the final model.
#[test]
fn the_training_panel_follows_a_real_tiny_run() {
    use pdpaint::ui::training_panel::{Folders, RunState, TrainingPanel};
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    for i in 0..3u32 {
        RgbImage::from_fn(96, 80, |x, y| {
            Rgb([(x * (i + 2) % 256) as u8, (y * 3 % 256) as u8, 90])
        })
        .save(data.path().join(format!("p{i}.png")))
        .unwrap();
    }
    let mut panel = TrainingPanel::default();
    panel.preset = Preset::Tiny;
    panel.resolution = 64;
    panel.prior_steps = 2;
    panel.pdgan_steps = 2;
    panel.batch = 1;
    let folders = Folders {
        data: Some(data.path()),
        out: Some(out.path()),
    };
    let mut cfg = panel.config(folders).unwrap();
    cfg.vgg.config.width_div = 16;
    cfg.checkpoint_every = 2;
    cfg.preview_every = 0;
    cfg.preview_images = 1;
    cfg.preview_samples = 1;
    let worker = pdpaint::train::worker::TrainWorker::spawn(
        cfg.clone(),
        pdpaint::backend::BackendChoice::Cpu,
        None,
    )
    .unwrap();
    panel.started(&cfg);
    let ctx = egui::Context::default();
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while panel.running() && std::time::Instant::now() < deadline {
        for e in worker.drain(Duration::from_millis(10)) {
            panel.handle_event(&ctx, e);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    match &panel.state {
        RunState::Finished { model, stopped } => {
            assert!(!stopped);
            assert!(model.join("config.json").is_file());
        }
        other => panic!(
            "the run did not finish: {other:?}\n{}",
            panel.log.join("\n")
        ),
    }
    assert!(!panel.checkpoints.is_empty(), "checkpoints are listed");
    assert!(panel.curves.has(Stage::Prior), "prior losses are plotted");
}

#[test]
fn closing_with_unsaved_work_is_cancelled_and_asks_first() {
    let mut s = studio();
    s.set_photo(photo(40, 30), None);
    s.doc.as_mut().unwrap().apply_shape(MaskOp::Rect {
        a: (2.0, 2.0),
        b: (9.0, 9.0),
        hole: true,
    });
    let mut h = harness(s);
    settle(&mut h);
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
    let cancelled = h
        .output()
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .is_some_and(|v| v.commands.contains(&egui::ViewportCommand::CancelClose));
    assert!(cancelled, "the close is cancelled");
    assert!(h.state().confirming());
    h.step();
    h.get_by_label("Discard").click();
    h.step();
    h.step();
    assert!(!h.state().confirming());
}

#[test]
fn a_script_imports_the_mask_generates_selects_and_reports_frame_times() {
    use pdpaint::mask::Mask;
    use pdpaint::ui::script::{Script, Stage};

    let t = tempfile::tempdir().unwrap();
    let mask_path = t.path().join("mask.png");
    Mask::from_hole_fn(96, 64, |x, y| {
        (30..50).contains(&x) && (20..40).contains(&y)
    })
    .save(&mask_path)
    .unwrap();
    let log = t.path().join("frames.json");
    let mut s = studio();
    s.set_photo(photo(96, 64), None);
    s.start_script(Script {
        mask: Some(mask_path),
        map: Some(MapKind::HardFull),
        unit: Some(2),
        samples: Some(2),
        seed: Some(5),
        generate: true,
        select: Some(1),
        frame_log: Some(log.clone()),
        ..Script::default()
    });
    let mut h = scripted_harness(s);
    let holes = |h: &Harness<'static, Studio>| h.state().doc.as_ref().unwrap().mask().hole_count();
    for _ in 0..200 {
        h.step();
        if holes(&h) > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(holes(&h), 20 * 20, "the mask was imported");
    settle(&mut h);
    assert!(
        h.state().submitted_requests().is_empty(),
        "nothing is generated before a model is loaded"
    );
    assert_ne!(h.state().script_stage(), Some(Stage::Done));

    let ctx = h.ctx.clone();
    h.state_mut()
        .handle_infer_event(&ctx, InferEvent::ModelLoaded(model_info()));
    settle(&mut h);
    let reqs = h.state().submitted_requests();
    assert_eq!(reqs.len(), 1, "one generation");
    assert_eq!(reqs[0].seeds, vec![5, 6]);
    assert_eq!(reqs[0].mask.hole_count(), 400);
    let img = Arc::new(h.state().doc.as_ref().unwrap().photo().as_ref().clone());
    send_samples(&mut h, 1, &[5, 6], &img, Duration::from_millis(5));
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: 1,
            total: Duration::from_millis(10),
        },
    );
    for _ in 0..300 {
        h.step();
        if h.state().script_stage() == Some(Stage::Done) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(h.state().script_stage(), Some(Stage::Done));
    assert_eq!(h.state().gallery.selected, Some(1), "sample 1 selected");
    assert_eq!(h.state().prefs.overlay.map, MapKind::HardFull);
    assert_eq!(h.state().prefs.overlay.unit, 2);
    assert_eq!(h.state().submitted_requests().len(), 1, "generated once");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    let phases = report["phases"].as_array().unwrap();
    let names: Vec<&str> = phases
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"startup"), "{names:?}");
    assert!(names.contains(&"generating"), "{names:?}");
    for p in phases {
        assert!(p["frames"].as_u64().unwrap() > 0);
        assert!((p["p99_ms"].as_f64().unwrap() - 2.0).abs() < 1e-3, "{p}");
    }
}

/// Steps until `done` holds (files are read on the file thread), at most ~4 s.
fn wait_until(h: &mut Harness<'static, Studio>, done: impl Fn(&Studio) -> bool) {
    for _ in 0..200 {
        h.step();
        if done(h.state()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting");
}

#[test]
fn notes_on_a_loaded_photo_stay_until_dismissed() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("glass.png");
    // A photo with see-through pixels: loading drops its alpha channel, and says so.
    image::RgbaImage::from_fn(40, 30, |x, _| {
        image::Rgba([200, 100, 50, if x < 20 { 255 } else { 90 }])
    })
    .save(&path)
    .unwrap();
    let mut h = harness(studio());
    settle(&mut h);
    let ctx = h.ctx.clone();
    h.state_mut().apply(&ctx, Command::OpenPath(path.clone()));
    wait_until(&mut h, |s| s.doc.is_some());
    settle(&mut h);
    assert_eq!(
        h.state().status.notes.len(),
        1,
        "{:?}",
        h.state().status.notes
    );
    assert!(h.state().error().is_none(), "a note is not an error");
    h.get_by_label_contains("transparent pixels");
    // News such as "Model loaded" does not hide it.
    h.state_mut()
        .handle_infer_event(&ctx, InferEvent::ModelLoaded(model_info()));
    settle(&mut h);
    h.get_by_label_contains("transparent pixels");
    h.get_by_label("×").click();
    settle(&mut h);
    assert!(h.state().status.notes.is_empty());
    assert!(h.query_by_label_contains("transparent pixels").is_none());
}

#[test]
fn a_stopped_model_worker_and_a_backend_fallback_are_reported() {
    use pdpaint::backend::BackendKind;
    use pdpaint::inference::worker::BackendInfo;
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 1);
    let ctx = h.ctx.clone();
    // The requested backend failed and the worker fell back to the CPU: the user is told.
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Backend(BackendInfo {
            kind: BackendKind::Cpu,
            description: "cpu (flex, 2 threads)".into(),
            requested_failed: Some("no wgpu adapter found".into()),
        }),
    );
    settle(&mut h);
    let e = h.state().error().unwrap().text.clone();
    assert!(
        e.contains("on the CPU") && e.contains("no wgpu adapter"),
        "{e}"
    );
    h.get_by_label_contains("cpu (flex");
    h.get_by_label("×").click();
    settle(&mut h);
    // The worker stops for good: the banner says why, and generating says so again instead
    // of waiting for samples that never come.
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Stopped {
            error: "no compute backend could be started: no device".into(),
        },
    );
    settle(&mut h);
    assert!(h.state().error().unwrap().text.contains("no device"));
    h.get_by_label("×").click();
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    assert!(!h.state().generating());
    assert!(h.state().submitted_requests().is_empty());
    assert!(h.state().error().unwrap().text.contains("no device"));
}

#[test]
fn menu_mask_operations_edit_the_mask_undoably() {
    let mut h = ready((64, 48), ((10.0, 10.0), (20.0, 20.0)), 1);
    let ctx = h.ctx.clone();
    h.state_mut().apply(
        &ctx,
        Command::EditMask(pdpaint::ui::doc::WholeMaskOp::Invert),
    );
    settle(&mut h);
    assert_eq!(
        h.state().doc.as_ref().unwrap().mask().hole_count(),
        64 * 48 - 100
    );
    // Grow runs on the file thread and arrives as one more undoable step.
    h.state_mut().apply(
        &ctx,
        Command::EditMask(pdpaint::ui::doc::WholeMaskOp::Invert),
    );
    let grown = h.state().doc.as_ref().unwrap().mask().grow(2);
    assert!(grown.hole_count() > 100);
    h.state_mut().apply(
        &ctx,
        Command::EditMask(pdpaint::ui::doc::WholeMaskOp::Grow(2)),
    );
    wait_until(&mut h, |s| s.doc.as_ref().unwrap().mask() == &grown);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut h);
    assert_eq!(h.state().doc.as_ref().unwrap().mask().hole_count(), 100);
}

#[test]
fn a_bad_photo_or_a_folder_shows_an_error_that_stays_until_dismissed() {
    let t = tempfile::tempdir().unwrap();
    // A truncated JPEG: its end would come out grey, so it is refused.
    let mut jpg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 90)
        .encode_image(&photo(64, 48))
        .unwrap();
    let bad = t.path().join("cut.jpg");
    std::fs::write(&bad, &jpg[..jpg.len() / 2]).unwrap();
    let folder = t.path().join("a folder");
    std::fs::create_dir(&folder).unwrap();
    for (path, needle) in [(&bad, "truncated"), (&folder, "a folder")] {
        let mut h = harness(studio());
        settle(&mut h);
        let ctx = h.ctx.clone();
        h.state_mut().apply(&ctx, Command::OpenPath(path.clone()));
        wait_until(&mut h, |s| s.error().is_some());
        settle(&mut h);
        let e = h.state().error().unwrap().text.clone();
        assert!(e.contains(needle), "{e}");
        assert!(h.state().doc.is_none());
        // News such as "Model loaded" does not replace it.
        h.state_mut()
            .handle_infer_event(&ctx, InferEvent::ModelLoaded(model_info()));
        for _ in 0..30 {
            h.step();
        }
        assert_eq!(h.state().error().map(|e| e.text.clone()), Some(e));
        h.get_by_label("×").click();
        settle(&mut h);
        assert!(h.state().error().is_none());
    }
}

/// Scores as the inference worker sends them.
fn scores(seam: f32, realism: Option<f32>) -> Result<SampleScores, String> {
    Ok(SampleScores {
        seam: SeamScore {
            score: seam,
            colour_step: seam,
            gradient_step: seam,
            reference_colour_step: 1.0,
            reference_gradient_step: 1.0,
        },
        realism: realism.map_or(Realism::NoDiscriminator, |value| Realism::Score { value }),
    })
}

/// Feeds samples of generation 1 with the test hole (20..40)² filled with `colours`, each
/// followed by its scores `(seam, realism)`; returns the photos.
fn send_scored_samples(
    h: &mut Harness<'static, Studio>,
    colours: &[[u8; 3]],
    scored: &[(f32, Option<f32>)],
) -> Vec<RgbImage> {
    let ctx = h.ctx.clone();
    let original = h.state().doc.as_ref().unwrap().photo().as_ref().clone();
    let mut out = Vec::new();
    for (index, (&colour, &(seam, realism))) in colours.iter().zip(scored).enumerate() {
        let img = filled(&original, colour);
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::Sample {
                generation: 1,
                index,
                seed: index as u64,
                thumb: img.clone(),
                photo: Arc::new(img.clone()),
                took: Duration::from_millis(5),
            },
        );
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::Scored {
                generation: 1,
                index,
                detailed: false,
                scores: scores(seam, realism),
            },
        );
        out.push(img);
    }
    settle(h);
    out
}

/// Where a node is drawn, as (top, left), to compare reading order.
fn at(h: &Harness<'static, Studio>, label: &str) -> (f32, f32) {
    let r = h.get_by_label(label).rect();
    (r.top(), r.left())
}

#[test]
fn score_badges_show_and_sorting_by_seam_puts_the_best_sample_first() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 3);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let colours = [[200, 0, 0], [0, 200, 0], [0, 0, 200]];
    send_scored_samples(
        &mut h,
        &colours,
        &[(2.0, Some(-0.5)), (0.5, Some(0.25)), (1.25, Some(0.75))],
    );
    // Each thumbnail shows its scores.
    h.get_by_label("seam 2.00 · realism -0.50");
    h.get_by_label("seam 0.50 · realism 0.25");
    h.get_by_label("seam 1.25 · realism 0.75");
    assert_eq!(h.state().gallery.display_order(), vec![0, 1, 2]);
    assert!(at(&h, "Seed 0") < at(&h, "Seed 1"));
    assert_eq!(h.state().gallery.selected, Some(0));

    h.get_by_label("seam").click();
    settle(&mut h);
    assert_eq!(h.state().gallery.sort, SortBy::Seam);
    assert_eq!(h.state().gallery.display_order(), vec![1, 2, 0]);
    // The thumbnails are drawn in that order; the first one is the best seam (seed 1).
    let mut drawn = ["Seed 0", "Seed 1", "Seed 2"].map(|l| (at(&h, l), l));
    drawn.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert_eq!(drawn.map(|d| d.1), ["Seed 1", "Seed 2", "Seed 0"]);
    h.get_by_label(drawn[0].1).click();
    settle(&mut h);
    assert_eq!(h.state().gallery.selected, Some(1));
    // Apply acts on the sample the user clicked.
    h.get_by_label("Apply").click();
    settle(&mut h);
    let doc = h.state().doc.as_ref().unwrap();
    assert_eq!(doc.photo().get_pixel(30, 30).0, [0, 200, 0]);

    h.get_by_label("realism").click();
    settle(&mut h);
    assert_eq!(h.state().gallery.display_order(), vec![2, 1, 0]);
    assert!(at(&h, "Seed 2") < at(&h, "Seed 1"));
}

#[test]
fn without_a_discriminator_the_badge_shows_the_seam_only() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    send_scored_samples(
        &mut h,
        &[[9, 9, 9], [90, 90, 90]],
        &[(1.5, None), (0.75, None)],
    );
    h.get_by_label("seam 1.50");
    h.get_by_label("seam 0.75");
    // "realism" orders nothing without scores: seed order stays.
    h.state_mut().gallery.sort = SortBy::Realism;
    settle(&mut h);
    assert_eq!(h.state().gallery.display_order(), vec![0, 1]);
}

#[test]
fn the_wipe_line_follows_a_drag_and_splits_sample_and_comparison() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let original = h.state().doc.as_ref().unwrap().photo().as_ref().clone();
    let imgs = send_scored_samples(
        &mut h,
        &[[200, 0, 0], [0, 200, 0]],
        &[(1.0, None), (1.0, None)],
    );
    h.get_by_label("Wipe").click();
    settle(&mut h);
    assert!(h.state().gallery.wipe.on);
    assert_eq!(h.state().gallery.wipe_right(), WipeRight::Original);
    h.get_by_label("Seed 1").click_modifiers(Modifiers::SHIFT);
    settle(&mut h);
    assert_eq!(h.state().gallery.wipe_right(), WipeRight::Sample(1));
    // The canvas compares them: no floating window covers it.
    assert!(h.query_by_label("Compare").is_none());

    // No context box was sent: the sample region is the whole photo; the line starts halfway.
    let region = egui::Rect::from_min_max(Pos2::ZERO, Pos2::new(96.0, 64.0));
    let xf = h.state().canvas_xform().unwrap();
    let screen = xf.rect_to_screen(region);
    let wipe = h.state().gallery.wipe;
    assert_eq!(wipe.split_px(region), 48);
    let start = Pos2::new(wipe.line_x(region, screen), screen.center().y);
    let end = Pos2::new(xf.to_screen(Pos2::new(30.0, 32.0)).x, start.y + 5.0);
    let holes = h.state().doc.as_ref().unwrap().mask().hole_count();
    h.hover_at(start);
    h.step();
    h.drag_at(start);
    h.step();
    assert!(
        h.state().gallery.wipe.dragging,
        "a press on the line grabs it"
    );
    h.hover_at(Pos2::new((start.x + end.x) / 2.0, start.y));
    h.step();
    h.hover_at(end);
    h.step();
    h.drop_at(end);
    h.step();
    h.step();
    let wipe = h.state().gallery.wipe;
    assert!(!wipe.dragging);
    assert!(
        (wipe.split - 30.0 / 96.0).abs() < 0.01,
        "the line follows the pointer: {}",
        wipe.split
    );
    assert_eq!(wipe.split_px(region), 30);
    assert_eq!(
        h.state().doc.as_ref().unwrap().mask().hole_count(),
        holes,
        "dragging the line paints nothing"
    );

    // Left of the line the selected sample (red), right of it the compared one (green).
    let c = wipe::compose(&imgs[0], &imgs[1], wipe.split_px(region));
    assert_eq!(c.get_pixel(25, 30).0, [200, 0, 0]);
    assert_eq!(c.get_pixel(35, 30).0, [0, 200, 0]);
    // Against the original once no sample is compared.
    let c = wipe::compose(&imgs[0], &original, wipe.split_px(region));
    assert_eq!(c.get_pixel(29, 30).0, [200, 0, 0]);
    assert_eq!(c.get_pixel(30, 30), original.get_pixel(30, 30));
    // With the wipe off, the side-by-side window compares the two picked samples.
    h.get_by_label("Wipe").click();
    settle(&mut h);
    assert!(!h.state().gallery.wipe.on);
    h.get_by_label("Compare");
}

#[test]
fn the_strip_shows_fills_between_two_samples_as_they_arrive_and_keeps_one() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let original = h.state().doc.as_ref().unwrap().photo().as_ref().clone();
    send_scored_samples(
        &mut h,
        &[[200, 0, 0], [0, 0, 200]],
        &[(1.0, None), (1.0, None)],
    );
    let ctx = h.ctx.clone();
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: 1,
            total: Duration::from_millis(10),
        },
    );
    settle(&mut h);
    h.get_by_label("Seed 1").click_modifiers(Modifiers::SHIFT);
    settle(&mut h);
    assert_eq!(h.state().gallery.compare, Some(1));
    h.get_by_label("In between…").click();
    settle(&mut h);
    assert!(
        h.state().strip.open,
        "{:?} {:?} {:?} {:?}",
        h.state().status.message,
        h.state().status.error,
        h.state().gallery.selected,
        h.state().gallery.compare
    );
    assert_eq!(h.state().strip.ends, Some(StripEnds { from: 0, to: 1 }));
    h.state_mut().strip.between = 3;
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Make").click();
    settle(&mut h);
    let req = h
        .state()
        .workers()
        .submitted_strips()
        .last()
        .unwrap()
        .clone();
    assert_eq!((req.from, req.to, req.steps), (0, 1, 4));
    let StripState::Running(g) = h.state().strip.state.clone() else {
        panic!("the strip runs: {:?}", h.state().strip.state);
    };

    // The fills show one by one as the worker sends them.
    for step in 1..=3u32 {
        let img = filled(&original, [0, 60 * step as u8, 0]);
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::StripSample {
                generation: g,
                spec: ZSpec::Slerp {
                    from: 0,
                    to: 1,
                    step,
                    steps: 4,
                },
                thumb: img.clone(),
                photo: Arc::new(img),
                scores: scores(step as f32, None),
                took: Duration::from_millis(5),
            },
        );
        settle(&mut h);
        assert_eq!(h.state().strip.items.len(), step as usize);
        h.get_by_label(&format!("Seed 0..1@{step}/4"));
    }
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: g,
            total: Duration::from_millis(15),
        },
    );
    settle(&mut h);
    assert_eq!(h.state().strip.state, StripState::Done);

    // Keep the middle one: it joins the gallery, selected, and Apply uses it.
    h.get_by_label("Keep Seed 0..1@2/4").click();
    settle(&mut h);
    let gallery = &h.state().gallery;
    assert_eq!(gallery.tiles.len(), 3);
    assert_eq!(gallery.selected, Some(2));
    assert!(gallery.tiles[2].scores.is_some(), "its scores come along");
    // In the strip, in the gallery, and in the Compare window (it is compared with slot 1).
    assert_eq!(h.get_all_by_label("Seed 0..1@2/4").count(), 3);
    h.get_by_label("Apply").click();
    settle(&mut h);
    let doc = h.state().doc.as_ref().unwrap();
    assert_eq!(doc.photo().get_pixel(30, 30).0, [0, 120, 0]);
}

/// A studio with the real workers on the CPU, the embedded model and scripted dialogs
/// answered from `answers`.
fn real_studio(answers: &Answers) -> Studio {
    let opts = StudioOptions {
        model: Some(ModelSource::Embedded),
        backend: pdpaint::backend::BackendChoice::Cpu,
        dialogs: DialogMode::Scripted {
            answers: answers.clone(),
            seen: Default::default(),
        },
        ..StudioOptions::default()
    };
    let prefs = Prefs {
        samples: 2,
        seed: 11,
        seed_locked: true,
        detail: DetailMode::Off,
        ..Prefs::default()
    };
    Studio::new(opts, prefs, None)
}

/// Steps until `done` holds, at most `secs` seconds (the real model on slow cores).
fn wait_long(h: &mut Harness<'static, Studio>, secs: u64, done: impl Fn(&Studio) -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        h.step();
        if done(h.state()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting; error banner: {:?}", h.state().error());
}

/// SHA-256 of each finished gallery sample's pixels, in gallery order.
fn gallery_hashes(s: &Studio) -> Vec<String> {
    use sha2::{Digest, Sha256};
    s.gallery
        .tiles
        .iter()
        .map(|t| format!("{:x}", Sha256::digest(t.photo.as_ref().unwrap().as_raw())))
        .collect()
}

/// The scripted dialogs' answers of [`real_studio`].
type Answers = Arc<std::sync::Mutex<std::collections::VecDeque<Option<PathBuf>>>>;

/// A studio with the real workers and a 96×64 photo saved at `photo_path` open, a hole at
/// (30..50, 20..40), and its two samples (seeds 11, 12) generated.
fn real_gallery(photo_path: &std::path::Path, answers: &Answers) -> Harness<'static, Studio> {
    photo(96, 64).save(photo_path).unwrap();
    let mut s = real_studio(answers);
    s.set_photo(photo(96, 64), Some(photo_path.to_path_buf()));
    s.doc.as_mut().unwrap().apply_shape(MaskOp::Rect {
        a: (30.0, 20.0),
        b: (50.0, 40.0),
        hole: true,
    });
    let mut h = harness(s);
    wait_long(&mut h, 120, |s| s.model_info().is_some());
    let ctx = h.ctx.clone();
    h.state_mut().apply(&ctx, Command::Generate);
    wait_long(&mut h, 300, |s| {
        !s.generating() && s.gallery.finished() == 2
    });
    h
}

/// What the library replay `pdpaint inpaint --recipe` runs makes of `rec` (its masks in
/// `dir`) on the embedded model: each sample's SHA-256 in order, and the mix's.
fn library_replay(
    rec: &pdpaint::steer::recipe::Recipe,
    dir: &std::path::Path,
) -> (Vec<String>, Option<String>) {
    use pdpaint::steer::recipe::{ReplayEvent, replay};
    use sha2::{Digest, Sha256};
    let sel = pdpaint::backend::select(pdpaint::backend::BackendChoice::Cpu).unwrap();
    let (file, model) = pdpaint::model::embedded::load(&sel.device).unwrap();
    let inp = pdpaint::inference::Inpainter::new(model, file, sel.device.clone());
    let photo_img = image::open(&rec.image.path).unwrap().to_rgb8();
    let mask = pdpaint::mask::Mask::load(&dir.join(&rec.mask.path)).unwrap();
    let plan = rec.plan(dir, (96, 64)).unwrap();
    let (mut hashes, mut mix_hash) = (Vec::new(), None);
    replay(&inp, &photo_img, &mask, &plan, &mut |ev| {
        match ev {
            ReplayEvent::Done { image, .. } => {
                hashes.push(format!("{:x}", Sha256::digest(image.as_raw())));
            }
            ReplayEvent::Mixed { image, .. } => {
                mix_hash = Some(format!("{:x}", Sha256::digest(image.as_raw())));
            }
            _ => {}
        }
        true
    })
    .unwrap();
    (hashes, mix_hash)
}

/// Opens the recipe at `path` in a fresh studio with the real workers and nothing open, and
/// steps until `done` holds or an error shows.
fn open_in_fresh_studio(
    answers: &Answers,
    path: &std::path::Path,
    done: impl Fn(&Studio) -> bool,
) -> Harness<'static, Studio> {
    let mut h = harness(real_studio(answers));
    wait_long(&mut h, 120, |s| s.model_info().is_some());
    answers.lock().unwrap().push_back(Some(path.to_path_buf()));
    let ctx = h.ctx.clone();
    h.state_mut().apply(&ctx, Command::OpenRecipe);
    wait_long(&mut h, 300, |s| s.error().is_some() || done(s));
    h
}

#[test]
fn a_saved_recipe_opened_in_a_fresh_studio_rebuilds_the_gallery_bit_for_bit() {
    use pdpaint::steer::recipe::Recipe;
    use pdpaint::ui::command::SaveTarget;

    let t = tempfile::tempdir().unwrap();
    let photo_path = t.path().join("photo.png");
    let answers = Answers::default();
    let mut h = real_gallery(&photo_path, &answers);
    let ctx = h.ctx.clone();
    assert_eq!(h.state().error(), None);
    let first = gallery_hashes(h.state());
    assert_eq!(first.len(), 2);

    let recipe_path = t.path().join("recipe.json");
    answers.lock().unwrap().push_back(Some(recipe_path.clone()));
    h.state_mut().apply(&ctx, Command::Save(SaveTarget::Recipe));
    wait_long(&mut h, 60, |s| {
        !s.workers().files_busy() && recipe_path.is_file()
    });
    let rec = Recipe::load(&recipe_path).unwrap();
    assert_eq!(rec.format, 2);
    assert_eq!(rec.samples, vec![ZSpec::Seed(11), ZSpec::Seed(12)]);
    assert_eq!(rec.detail, DetailMode::Off);
    assert_eq!(rec.model.sha256, pdpaint::model::embedded::sha256());
    assert!(
        t.path().join("recipe-mask.png").is_file(),
        "the mask beside it"
    );
    drop(h);

    // The library replay `pdpaint inpaint --recipe` runs makes the same pixels.
    let (hashes, _) = library_replay(&rec, t.path());
    assert_eq!(hashes, first, "the CLI's replay makes the same pixels");

    // A fresh studio with nothing open: the recipe opens its photo and mask and replays.
    let h = open_in_fresh_studio(&answers, &recipe_path, |s| {
        s.gallery.finished() == 2 && !s.generating()
    });
    assert_eq!(h.state().error(), None);
    assert_eq!(
        h.state().doc.as_ref().unwrap().source.as_deref(),
        Some(photo_path.as_path())
    );
    assert_eq!(h.state().doc.as_ref().unwrap().mask().hole_count(), 20 * 20);
    assert_eq!(gallery_hashes(h.state()), first, "the same pixels");
}

/// Opens a recipe for a 96×64 photo (`other-photo.png` when `other_photo`, else the open
/// photo `mine.png`), changed by `edit`, in a studio with `mine.png` open (recording workers);
/// returns once it is refused (error banner) or something was submitted.
fn open_recipe_in_test(
    other_photo: bool,
    edit: impl FnOnce(&mut pdpaint::steer::recipe::Recipe),
) -> Harness<'static, Studio> {
    use pdpaint::imageops::sha256_file;
    use pdpaint::mask::Mask;
    use pdpaint::steer::recipe::{FORMAT, HashedFile, Naming, Recipe};

    let t = tempfile::tempdir().unwrap();
    let other = t.path().join("other-photo.png");
    RgbImage::from_pixel(96, 64, Rgb([9, 9, 9]))
        .save(&other)
        .unwrap();
    let mine = t.path().join("mine.png");
    photo(96, 64).save(&mine).unwrap();
    let mask = Mask::from_hole_fn(96, 64, |x, y| {
        (30..50).contains(&x) && (20..40).contains(&y)
    });
    mask.save(&t.path().join("mask.png")).unwrap();
    let f = |p: &std::path::Path| HashedFile {
        path: p.to_path_buf(),
        sha256: sha256_file(p).unwrap(),
    };
    let mut recipe = Recipe {
        pdpaint_version: "test".into(),
        format: FORMAT,
        image: f(if other_photo { &other } else { &mine }),
        mask: HashedFile {
            path: "mask.png".into(),
            sha256: sha256_file(&t.path().join("mask.png")).unwrap(),
        },
        model: HashedFile {
            path: pdpaint::model::embedded::NAME.into(),
            sha256: pdpaint::model::embedded::sha256(),
        },
        resolution: Some(64),
        seeds: Vec::new(),
        samples: vec![ZSpec::Seed(1)],
        naming: Naming::Between,
        margin: 0.5,
        feather_px: 8.0,
        batch: Some(4),
        backend: "cpu".into(),
        context_box: [0, 0, 64],
        detail: DetailMode::Off,
        detail_params: None,
        pins: Vec::new(),
        mix: None,
        outputs: Vec::new(),
        raw_outputs: Vec::new(),
    };
    edit(&mut recipe);
    let recipe_path = t.path().join("recipe.json");
    recipe.save(&recipe_path).unwrap();

    let answers = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    answers.lock().unwrap().push_back(Some(recipe_path));
    let mut s = Studio::for_tests(
        StudioOptions {
            model: Some(ModelSource::Embedded),
            dialogs: DialogMode::Scripted {
                answers,
                seen: Default::default(),
            },
            ..StudioOptions::default()
        },
        Prefs::default(),
    );
    s.set_photo(photo(96, 64), Some(mine));
    s.doc
        .as_mut()
        .unwrap()
        .replace_mask(mask, MaskOp::Replace(pdpaint::ui::doc::WholeMaskOp::Import));
    let mut h = harness(s);
    settle(&mut h);
    let ctx = h.ctx.clone();
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::ModelLoaded(ModelInfo {
            source: ModelSource::Embedded,
            ..model_info()
        }),
    );
    h.state_mut().apply(&ctx, Command::OpenRecipe);
    wait_until(&mut h, |s| {
        s.error().is_some()
            || !s.submitted_requests().is_empty()
            || !s.workers().submitted_replays().is_empty()
    });
    h
}

/// [`open_recipe_in_test`] for a recipe that must be refused: the error banner's text,
/// asserting nothing was replayed.
fn open_refused_recipe(
    other_photo: bool,
    edit: impl FnOnce(&mut pdpaint::steer::recipe::Recipe),
) -> String {
    let h = open_recipe_in_test(other_photo, edit);
    assert!(
        h.state().submitted_requests().is_empty()
            && h.state().workers().submitted_replays().is_empty(),
        "nothing replayed"
    );
    h.state().error().expect("refused").text.clone()
}

#[test]
fn a_recipe_for_another_photo_is_refused_naming_the_photo() {
    let e = open_refused_recipe(true, |_| {});
    assert!(e.contains("another photo"), "{e}");
    assert!(e.contains("other-photo.png"), "{e}");
    assert!(!e.contains("another mask"), "{e}");
}

#[test]
fn a_recipe_with_a_missing_pin_mask_is_refused_and_one_with_fills_between_seeds_replays() {
    use pdpaint::steer::recipe::{HashedFile, PinRecord};
    let e = open_refused_recipe(false, |r| {
        r.pins.push(PinRecord {
            source: ZSpec::Seed(1),
            detail: DetailMode::Off,
            mask: HashedFile {
                path: "pins/pin-1.png".into(),
                sha256: "0".repeat(64),
            },
        });
    });
    assert!(e.contains("pin-1.png"), "{e}");
    // Fills between seeds go to the worker as a replay of the recipe's own samples.
    let h = open_recipe_in_test(false, |r| r.samples.push("1..2@1/2".parse().unwrap()));
    assert_eq!(h.state().error(), None);
    let replays = h.state().workers().submitted_replays();
    assert_eq!(replays.len(), 1);
    assert_eq!(
        replays[0].plan.specs,
        vec![ZSpec::Seed(1), "1..2@1/2".parse().unwrap()]
    );
    let g = &h.state().gallery;
    assert_eq!(g.tiles.len(), 2);
    assert_eq!(g.tiles[1].label(), "Seed 1..2@1/2");
}

#[test]
fn a_script_compares_with_a_second_sample_under_the_wipe() {
    use pdpaint::ui::script::{CompareStep, Script, Stage};

    let mut s = studio();
    s.set_photo(photo(96, 64), None);
    s.doc.as_mut().unwrap().apply_shape(MaskOp::Rect {
        a: (30.0, 20.0),
        b: (50.0, 40.0),
        hole: true,
    });
    s.start_script(Script {
        samples: Some(3),
        seed: Some(5),
        generate: true,
        select: Some(0),
        compare: Some(CompareStep::Wipe {
            with: 2,
            split: 0.3,
        }),
        ..Script::default()
    });
    let mut h = scripted_harness(s);
    settle(&mut h);
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle_infer_event(&ctx, InferEvent::ModelLoaded(model_info()));
    settle(&mut h);
    assert_eq!(h.state().submitted_requests().len(), 1, "one generation");
    assert!(!h.state().gallery.wipe.on, "no wipe before the samples");
    let img = Arc::new(h.state().doc.as_ref().unwrap().photo().as_ref().clone());
    send_samples(&mut h, 1, &[5, 6, 7], &img, Duration::from_millis(5));
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: 1,
            total: Duration::from_millis(10),
        },
    );
    for _ in 0..300 {
        h.step();
        if h.state().script_stage() == Some(Stage::Done) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(h.state().script_stage(), Some(Stage::Done));
    let g = &h.state().gallery;
    assert_eq!(g.selected, Some(0));
    assert_eq!(g.compare, Some(2), "slot 2 picked as if Shift-clicked");
    assert!(g.wipe.on, "Wipe ticked");
    assert!((g.wipe.split - 0.3).abs() < 1e-6);
    assert_eq!(
        g.wipe_right(),
        pdpaint::ui::gallery::wipe::WipeRight::Sample(2)
    );
}

#[test]
fn a_script_makes_the_strip_between_two_samples_and_waits_for_its_fills() {
    use pdpaint::ui::script::{CompareStep, Script, Stage};

    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("frames.json");
    let mut s = studio();
    s.set_photo(photo(96, 64), None);
    s.doc.as_mut().unwrap().apply_shape(MaskOp::Rect {
        a: (30.0, 20.0),
        b: (50.0, 40.0),
        hole: true,
    });
    s.start_script(Script {
        samples: Some(3),
        seed: Some(5),
        generate: true,
        select: Some(0),
        compare: Some(CompareStep::Strip {
            with: 2,
            between: 2,
        }),
        frame_log: Some(log.clone()),
        ..Script::default()
    });
    let mut h = scripted_harness(s);
    settle(&mut h);
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle_infer_event(&ctx, InferEvent::ModelLoaded(model_info()));
    settle(&mut h);
    let img = Arc::new(h.state().doc.as_ref().unwrap().photo().as_ref().clone());
    send_samples(&mut h, 1, &[5, 6, 7], &img, Duration::from_millis(5));
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: 1,
            total: Duration::from_millis(10),
        },
    );
    for _ in 0..50 {
        h.step();
        if h.state().workers().submitted_strips().len() == 1 {
            break;
        }
    }
    assert_eq!(h.state().gallery.compare, Some(2));
    assert!(h.state().strip.open, "In between… pressed");
    let req = h.state().workers().submitted_strips()[0].clone();
    assert_eq!(
        (req.from, req.to, req.steps),
        (5, 7, 3),
        "Make with 2 fills"
    );
    let StripState::Running(g) = h.state().strip.state.clone() else {
        panic!("the strip runs: {:?}", h.state().strip.state);
    };
    for _ in 0..5 {
        h.step();
    }
    assert_ne!(
        h.state().script_stage(),
        Some(Stage::Done),
        "waits for the fills"
    );
    for step in 1..=2u32 {
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::StripSample {
                generation: g,
                spec: ZSpec::Slerp {
                    from: 5,
                    to: 7,
                    step,
                    steps: 3,
                },
                thumb: img.as_ref().clone(),
                photo: img.clone(),
                scores: scores(step as f32, None),
                took: Duration::from_millis(5),
            },
        );
        h.step();
    }
    h.state_mut().handle_infer_event(
        &ctx,
        InferEvent::Finished {
            generation: g,
            total: Duration::from_millis(15),
        },
    );
    for _ in 0..300 {
        h.step();
        if h.state().script_stage() == Some(Stage::Done) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(h.state().script_stage(), Some(Stage::Done));
    assert_eq!(h.state().strip.items.len(), 2);
    assert_eq!(h.state().workers().submitted_strips().len(), 1, "made once");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    let names: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"strip"), "{names:?}");
}

/// Feeds `colours` as the samples `seeds` of `generation`, filling the hole of the request the
/// studio sent for it (pins included), each followed by a seam score; returns the photos.
fn send_request_samples(
    h: &mut Harness<'static, Studio>,
    generation: u64,
    colours: &[[u8; 3]],
) -> Vec<RgbImage> {
    let ctx = h.ctx.clone();
    let req = h.state().submitted_requests()[generation as usize - 1].clone();
    let mut out = Vec::new();
    for (index, (&colour, &seed)) in colours.iter().zip(&req.seeds).enumerate() {
        let mut img = req.photo.as_ref().clone();
        for (x, y, p) in img.enumerate_pixels_mut() {
            if req.mask.is_hole(x, y) {
                *p = Rgb(colour);
            }
        }
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::Sample {
                generation,
                index,
                seed,
                thumb: img.clone(),
                photo: Arc::new(img.clone()),
                took: Duration::from_millis(5),
            },
        );
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::Scored {
                generation,
                index,
                detailed: false,
                scores: scores(1.0, None),
            },
        );
        out.push(img);
    }
    settle(h);
    out
}

#[test]
fn the_keep_brush_pins_part_of_a_sample_and_the_reroll_fills_only_the_rest_undoably() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let hole = h.state().submitted_requests()[0].mask.as_ref().clone();
    let first = send_request_samples(&mut h, 1, &[[200, 0, 0], [0, 200, 0]]);
    assert_eq!(h.state().gallery.selected, Some(0));
    // Nothing to re-roll before anything is kept.
    assert!(
        h.get_by_label("Re-roll the rest")
            .accesskit_node()
            .is_disabled()
    );

    // The Keep tool (its button in the Steer section) paints a layer, never the mask.
    h.get_by_label("Keep").click();
    settle(&mut h);
    assert_eq!(h.state().prefs.tool, Tool::Keep);
    h.state_mut().prefs.brush_radius = 3.0;
    drag_photo(&mut h, &[(22.0, 30.0), (26.0, 30.0), (28.0, 30.0)]);
    assert_eq!(
        h.state().doc.as_ref().unwrap().mask(),
        &hole,
        "the keep brush does not touch the hole mask"
    );
    let kept = h.state().steer.keep.mask().clone();
    assert!(kept.is_hole(25, 30) && !kept.is_hole(35, 30));

    h.get_by_label("Re-roll the rest").click();
    // The pin is made on the file thread, then the re-roll is submitted.
    wait_until(&mut h, |s| s.submitted_requests().len() >= 2);
    let reqs = h.state().submitted_requests().to_vec();
    assert_eq!(reqs.len(), 2, "the re-roll is one new generation");
    let (photo, mask) = (&reqs[1].photo, &reqs[1].mask);
    // The kept pixels are known pixels of the re-roll, with the sample's colour; the rest of
    // the hole is still a hole; nothing outside the hole changed.
    for (x, y, p) in photo.enumerate_pixels() {
        let (was_hole, keep) = (hole.is_hole(x, y), kept.is_hole(x, y));
        if was_hole && keep {
            assert!(!mask.is_hole(x, y), "kept ({x},{y}) is known");
            assert_eq!(p, first[0].get_pixel(x, y), "kept ({x},{y})");
        } else {
            assert_eq!(mask.is_hole(x, y), was_hole, "({x},{y})");
            assert_eq!(
                p,
                reqs[0].photo.get_pixel(x, y),
                "({x},{y}) as in the photo"
            );
        }
    }
    let kept_in_hole = hole
        .holes()
        .iter()
        .zip(kept.holes())
        .filter(|(a, b)| **a != 0 && **b != 0)
        .count();
    assert!(kept_in_hole > 20, "{kept_in_hole}");
    assert_eq!(mask.hole_count(), hole.hole_count() - kept_in_hole);
    assert_eq!(h.state().pin_count(), 1);
    assert_eq!(
        h.state().steer.keep.painted(),
        0,
        "the keep brush starts afresh"
    );
    assert_eq!(
        h.state().steer.pinned.painted(),
        kept_in_hole,
        "the Keep brush shows what is pinned"
    );

    // The re-roll's samples keep what was pinned.
    let second = send_request_samples(&mut h, 2, &[[0, 0, 200], [0, 200, 200]]);
    assert_eq!(second[0].get_pixel(25, 30).0, [200, 0, 0]);
    assert_eq!(second[0].get_pixel(35, 30).0, [0, 0, 200]);
    let g = &h.state().gallery;
    assert_eq!(g.generation, Some(2));
    assert_eq!(g.finished(), 2);

    // Generate again: still from the pinned inputs.
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    assert_eq!(
        h.state().submitted_requests()[2].mask.as_ref(),
        mask.as_ref()
    );
    send_request_samples(&mut h, 3, &[[9, 9, 9], [8, 8, 8]]);

    // Undo pin: the gallery the pin was brushed on comes back, and the next generation
    // fills the whole hole again.
    h.get_by_label("Undo pin").click();
    wait_until(&mut h, |s| s.gallery.generation == Some(1));
    assert_eq!(h.state().pin_count(), 0);
    assert_eq!(h.state().steer.pinned.painted(), 0);
    let g = &h.state().gallery;
    assert_eq!(g.generation, Some(1));
    assert_eq!(
        g.tiles[0].photo.as_deref(),
        Some(&first[0]),
        "the first gallery is back"
    );
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let reqs = h.state().submitted_requests();
    assert_eq!(reqs.last().unwrap().mask.as_ref(), &hole);
    assert_eq!(
        reqs.last().unwrap().photo.as_ref(),
        h.state().doc.as_ref().unwrap().photo().as_ref()
    );
}

#[test]
fn editing_the_mask_drops_the_pins() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 1);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    send_request_samples(&mut h, 1, &[[200, 0, 0]]);
    h.key_press(Key::K);
    h.step();
    h.state_mut().prefs.brush_radius = 3.0;
    drag_photo(&mut h, &[(22.0, 30.0), (28.0, 30.0)]);
    h.get_by_label("Re-roll the rest").click();
    wait_until(&mut h, |s| s.submitted_requests().len() == 2);
    assert_eq!(h.state().pin_count(), 1);
    h.key_press(Key::B);
    h.step();
    drag_photo(&mut h, &[(60.0, 10.0), (70.0, 10.0)]);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    assert_eq!(h.state().pin_count(), 0);
    let req = h.state().submitted_requests().last().unwrap().clone();
    assert_eq!(&*req.mask, h.state().doc.as_ref().unwrap().mask());
}

#[test]
fn the_mix_brush_brings_the_compared_sample_in_and_undo_steps_back() {
    use pdpaint::steer::mix::mix;
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 2);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    let hole = h.state().submitted_requests()[0].mask.as_ref().clone();
    let imgs = send_request_samples(&mut h, 1, &[[200, 0, 0], [0, 200, 0]]);
    h.get_by_label("Seed 1").click_modifiers(Modifiers::SHIFT);
    settle(&mut h);
    h.get_by_label("Mix").click();
    settle(&mut h);
    assert_eq!(h.state().prefs.tool, Tool::Mix);
    h.state_mut().prefs.brush_radius = 3.0;
    h.state_mut().steer.feather_px = 4.0;
    drag_photo(&mut h, &[(22.0, 25.0), (30.0, 25.0)]);
    wait_until(&mut h, |s| {
        s.gallery
            .mix_slot()
            .is_some_and(|i| s.gallery.tiles[i].photo.is_some())
    });
    assert_eq!(h.state().doc.as_ref().unwrap().mask(), &hole);
    let g = &h.state().gallery;
    let i = g.mix_slot().unwrap();
    assert_eq!(
        g.selected,
        Some(i),
        "the mix is selected: the next stroke adds to it"
    );
    let tile = &g.tiles[i];
    let stack = tile.mix.as_ref().unwrap().stack.as_ref().unwrap();
    let step = stack.steps().next().unwrap();
    assert_eq!(step.other, ZSpec::Seed(1));
    assert_eq!(step.feather_px, 4.0);
    let want = mix(&imgs[0], &imgs[1], &hole, &step.brush, 4.0).unwrap();
    let one = tile.photo.as_deref().unwrap().clone();
    assert_eq!(
        one, want,
        "the slot holds exactly the mix of the two samples"
    );
    assert_eq!(
        one.get_pixel(26, 25).0,
        [0, 200, 0],
        "brushed: the other sample"
    );
    assert_eq!(
        one.get_pixel(30, 36).0,
        [200, 0, 0],
        "far from the brush: the base"
    );
    assert_eq!(
        one.get_pixel(10, 10),
        imgs[0].get_pixel(10, 10),
        "known pixels stay"
    );
    assert!(h.query_by_label("Mix (1 step)").is_some());

    // A second stroke is a second step; undo gives back the first exactly.
    drag_photo(&mut h, &[(24.0, 35.0), (34.0, 35.0)]);
    wait_until(&mut h, |s| {
        s.gallery.mix_slot().is_some_and(|i| {
            s.gallery.tiles[i]
                .mix
                .as_ref()
                .is_some_and(|m| m.steps == 2 && m.stack.is_some())
        })
    });
    let i = h.state().gallery.mix_slot().unwrap();
    let two = h.state().gallery.tiles[i].photo.as_deref().unwrap().clone();
    assert_eq!(two.get_pixel(29, 35).0, [0, 200, 0]);
    h.get_by_label("Undo mix step").click();
    wait_until(&mut h, |s| {
        s.gallery.mix_slot().is_some_and(|i| {
            s.gallery.tiles[i]
                .mix
                .as_ref()
                .is_some_and(|m| m.steps == 1 && m.stack.is_some())
        })
    });
    let i = h.state().gallery.mix_slot().unwrap();
    assert_eq!(h.state().gallery.tiles[i].photo.as_deref(), Some(&one));

    // Applying the mix is one undoable step like any sample.
    h.key_press(Key::Enter);
    settle(&mut h);
    assert_eq!(h.state().doc.as_ref().unwrap().photo().as_ref(), &one);

    // Discarding removes the slot and selects its base.
    h.get_by_label("Discard mix").click();
    settle(&mut h);
    assert!(h.state().gallery.mix_slot().is_none());
    assert_eq!(h.state().gallery.selected, Some(0));
}

#[test]
fn a_recipe_saved_after_a_pin_and_a_mix_replays_to_the_same_pixels() {
    use pdpaint::steer::recipe::Recipe;
    use pdpaint::ui::command::SaveTarget;

    let t = tempfile::tempdir().unwrap();
    let photo_path = t.path().join("photo.png");
    let answers = Answers::default();
    let mut h = real_gallery(&photo_path, &answers);
    let ctx = h.ctx.clone();

    let first_generation = h.state().gallery.generation;
    // Keep the left part of sample 11 and re-roll the rest.
    h.state_mut().apply(&ctx, Command::SetTool(Tool::Keep));
    h.state_mut().prefs.brush_radius = 4.0;
    settle(&mut h);
    drag_photo(&mut h, &[(32.0, 24.0), (36.0, 30.0), (34.0, 37.0)]);
    h.state_mut().apply(&ctx, Command::Reroll);
    wait_long(&mut h, 300, |s| {
        s.gallery.generation != first_generation && !s.generating() && s.gallery.finished() == 2
    });
    assert_eq!(h.state().pin_count(), 1);
    assert!(
        h.state().steer.keep.painted() == 0,
        "the keep brush was used"
    );
    let rerolled = gallery_hashes(h.state());

    // Mix sample 12 of the re-roll into sample 11.
    h.state_mut().gallery.selected = Some(0);
    h.state_mut().gallery.compare = Some(1);
    h.state_mut().apply(&ctx, Command::SetTool(Tool::Mix));
    settle(&mut h);
    drag_photo(&mut h, &[(44.0, 22.0), (46.0, 30.0)]);
    wait_long(&mut h, 60, |s| {
        s.gallery.mix_slot().is_some_and(|i| {
            s.gallery.tiles[i]
                .mix
                .as_ref()
                .is_some_and(|m| m.stack.is_some())
        })
    });
    let mixed = gallery_hashes(h.state()).pop().unwrap();

    let recipe_path = t.path().join("steered.json");
    answers.lock().unwrap().push_back(Some(recipe_path.clone()));
    h.state_mut().apply(&ctx, Command::Save(SaveTarget::Recipe));
    wait_long(&mut h, 60, |s| {
        s.error().is_some() || (!s.workers().files_busy() && recipe_path.is_file())
    });
    assert_eq!(h.state().error(), None);
    let rec = Recipe::load(&recipe_path).unwrap();
    assert_eq!(rec.pins.len(), 1);
    assert_eq!(rec.pins[0].source, ZSpec::Seed(11));
    assert_eq!(rec.samples, vec![ZSpec::Seed(11), ZSpec::Seed(12)]);
    let mix = rec.mix.as_ref().unwrap();
    assert_eq!((mix.base, mix.steps.len()), (ZSpec::Seed(11), 1));
    assert!(t.path().join("steered-pin-1.png").is_file());
    assert!(t.path().join("steered-mix-1.png").is_file());
    drop(h);

    // What `pdpaint inpaint --recipe` runs makes the same re-rolled samples and mix.
    let (hashes, mix_hash) = library_replay(&rec, t.path());
    assert_eq!(hashes, rerolled[..2], "the re-rolled samples, bit for bit");
    assert_eq!(
        mix_hash.as_deref(),
        Some(mixed.as_str()),
        "the mix, bit for bit"
    );
    // A fresh studio with nothing open replays it: its photo and mask, the pin, the re-rolled
    // samples and the mix, bit for bit.
    let h = open_in_fresh_studio(&answers, &recipe_path, |s| {
        !s.generating() && s.gallery.mix_slot().is_some()
    });
    assert_eq!(h.state().error(), None);
    assert_eq!(h.state().pin_count(), 1, "the pin is the studio's again");
    let got = gallery_hashes(h.state());
    assert_eq!(got[..2], rerolled[..2], "the same samples");
    assert_eq!(got[2], mixed, "the same mix");
    let i = h.state().gallery.mix_slot().unwrap();
    assert_eq!(h.state().gallery.tiles[i].label(), "Mix (1 step)");
}

#[test]
fn a_pin_that_keeps_the_whole_hole_is_refused_and_the_brush_stays() {
    let mut h = ready((96, 64), ((20.0, 20.0), (40.0, 40.0)), 1);
    h.get_by_role_and_label(Role::Button, "Generate").click();
    settle(&mut h);
    send_request_samples(&mut h, 1, &[[200, 0, 0]]);
    h.key_press(Key::K);
    h.step();
    h.state_mut().prefs.brush_radius = 30.0;
    drag_photo(&mut h, &[(30.0, 30.0), (31.0, 30.0)]);
    let painted = h.state().steer.keep.painted();
    h.get_by_label("Re-roll the rest").click();
    wait_until(&mut h, |s| s.error().is_some());
    let e = format!("{:?}", h.state().error());
    assert!(e.contains("keeps the whole hole"), "{e}");
    assert_eq!(h.state().pin_count(), 0);
    assert_eq!(h.state().submitted_requests().len(), 1, "nothing re-rolled");
    assert_eq!(
        h.state().steer.keep.painted(),
        painted,
        "the brush is given back"
    );
}
