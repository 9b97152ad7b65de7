//! Output folders and `--model` folders: `import`, `init` and `export --out` never replace
//! a folder a user owns (issue 20), and `--model RUN` means a training run's `RUN/model`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdpaint"))
        .args(args)
        .output()
        .expect("spawn pdpaint")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure; stderr: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "failed: {}", stderr(o));
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

/// The sorted file names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn init(out: &Path, seed: &str, force: bool) -> Output {
    let mut args = vec!["init", "--preset", "tiny", "--seed", seed, "--out", s(out)];
    if force {
        args.push("--force");
    }
    run(&args)
}

#[test]
fn import_into_the_folder_of_its_inputs_is_refused_and_deletes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    std::fs::create_dir(&d).unwrap();
    for f in ["encoder.pth", "decoder.pth", "generator.pth"] {
        std::fs::copy(fixture(f), d.join(f)).unwrap();
    }
    for force in [false, true] {
        let (en, de, ge) = (
            d.join("encoder.pth"),
            d.join("decoder.pth"),
            d.join("generator.pth"),
        );
        let mut args = vec![
            "import",
            "--encoder",
            s(&en),
            "--decoder",
            s(&de),
            "--generator",
            s(&ge),
            "--out",
            s(&d),
        ];
        if force {
            args.push("--force");
        }
        let o = run(&args);
        assert_fails_with(&o, s(&d));
        assert_eq!(
            names(&d),
            ["decoder.pth", "encoder.pth", "generator.pth"],
            "force={force}"
        );
    }
    assert_eq!(names(t.path()), ["d"], "no staging folder left behind");
}

#[test]
fn import_writes_a_new_or_empty_folder() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("empty");
    std::fs::create_dir(&out).unwrap();
    let o = run(&[
        "import",
        "--encoder",
        s(&fixture("encoder.pth")),
        "--decoder",
        s(&fixture("decoder.pth")),
        "--generator",
        s(&fixture("generator.pth")),
        "--out",
        s(&out),
    ]);
    assert_ok(&o);
    assert!(out.join("config.json").is_file());
    assert_eq!(names(t.path()), ["empty"]);
}

#[test]
fn init_refuses_a_folder_with_other_files_even_with_force() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("holiday.jpg"), b"precious").unwrap();
    for force in [false, true] {
        let o = init(&d, "0", force);
        assert_fails_with(&o, "holiday.jpg");
        assert!(stderr(&o).trim_end().ends_with(s(&d)), "{}", stderr(&o));
    }
    assert_eq!(names(&d), ["holiday.jpg"]);
    assert_eq!(std::fs::read(d.join("holiday.jpg")).unwrap(), b"precious");
    assert_eq!(names(t.path()), ["photos"]);
}

#[test]
fn init_replaces_a_model_folder_only_with_force() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("m");
    assert_ok(&init(&m, "1", false));
    let before = std::fs::read(m.join("generator.bpk")).unwrap();
    assert_fails_with(&init(&m, "2", false), "--force");
    assert_eq!(std::fs::read(m.join("generator.bpk")).unwrap(), before);
    assert_ok(&init(&m, "2", true));
    assert_ne!(std::fs::read(m.join("generator.bpk")).unwrap(), before);
    assert_eq!(
        names(t.path()),
        ["m"],
        "no staging or old folder left behind"
    );
}

#[test]
fn export_refuses_its_own_model_folder_and_other_folders() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("m");
    assert_ok(&init(&m, "1", false));
    let before = names(&m);
    // The --model folder itself, spelled differently, even with --force.
    let same = t.path().join(".").join("m");
    let o = run(&["export", "--model", s(&m), "--out", s(&same), "--force"]);
    assert_fails_with(&o, "input");
    assert_eq!(names(&m), before);
    // A folder with a user's files.
    let other = t.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"mine").unwrap();
    let o = run(&["export", "--model", s(&m), "--out", s(&other), "--force"]);
    assert_fails_with(&o, "notes.txt");
    assert_eq!(names(&other), ["notes.txt"]);
    // An existing export: only with --force.
    let e = t.path().join("e");
    assert_ok(&run(&[
        "export",
        "--model",
        s(&m),
        "--out",
        s(&e),
        "--half",
    ]));
    assert!(e.join("generator.f16").is_file());
    let o = run(&["export", "--model", s(&m), "--out", s(&e)]);
    assert_fails_with(&o, "--force");
    assert!(e.join("generator.f16").is_file());
    assert_ok(&run(&[
        "export",
        "--model",
        s(&m),
        "--out",
        s(&e),
        "--force",
    ]));
    assert!(e.join("generator.bpk").is_file() && !e.join("generator.f16").exists());
    assert_eq!(names(t.path()), ["e", "m", "other"]);
}

#[test]
fn model_of_a_training_run_folder_is_its_model_subfolder() {
    let t = tempfile::tempdir().unwrap();
    let run_dir = t.path().join("run");
    assert_ok(&init(&run_dir.join("model"), "1", false));
    std::fs::create_dir(run_dir.join("checkpoints")).unwrap();
    std::fs::write(run_dir.join("log.jsonl"), b"").unwrap();
    std::fs::write(run_dir.join("run.json"), b"{}").unwrap();
    let out = t.path().join("exported");
    let o = run(&["export", "--model", s(&run_dir), "--out", s(&out)]);
    assert_ok(&o);
    let want = format!("using {}", run_dir.join("model").display());
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    assert!(out.join("config.json").is_file());
}

// The studio: a photo named on the command line that cannot be opened (a broken file, a
// folder) keeps its error on screen until the user dismisses it.

mod studio {
    use std::path::{Path, PathBuf};

    use egui::Vec2;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use pdpaint::inference::worker::{InferEvent, ModelInfo, ModelPreset, ModelSource};
    use pdpaint::maps::Decay;
    use pdpaint::model::Preset;
    use pdpaint::ui::Studio;
    use pdpaint::ui::app::StudioOptions;
    use pdpaint::ui::prefs::Prefs;

    /// A studio with recording workers, opened like `pdpaint PHOTO`.
    fn window(photo: &Path) -> Harness<'static, Studio> {
        let opts = StudioOptions {
            photo: Some(photo.to_path_buf()),
            model: Some(ModelSource::Folder(PathBuf::from("synthetic"))),
            dialogs: pdpaint::ui::workers::DialogMode::Scripted {
                answers: Default::default(),
                seen: Default::default(),
            },
            ..StudioOptions::default()
        };
        Harness::builder()
            .with_size(Vec2::new(1600.0, 1200.0))
            .with_step_dt(1.0 / 60.0)
            .build_ui_state(
                |ui, s: &mut Studio| {
                    let ctx = ui.ctx().clone();
                    s.logic(&ctx);
                    s.ui(ui);
                },
                Studio::for_tests(opts, Prefs::default()),
            )
    }

    /// Steps until the studio has an error (the photo is read on the job thread).
    fn wait_for_error(h: &mut Harness<'static, Studio>) {
        for _ in 0..300 {
            h.run_steps(1);
            if h.state().error().is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no error was shown");
    }

    /// The model finishes loading after the error; the error stays until dismissed.
    fn error_survives_the_model_and_is_dismissed(mut h: Harness<'static, Studio>, needle: &str) {
        wait_for_error(&mut h);
        let ctx = h.ctx.clone();
        h.state_mut().handle_infer_event(
            &ctx,
            InferEvent::ModelLoaded(ModelInfo {
                source: ModelSource::Folder("synthetic".into()),
                preset: ModelPreset::Known(Preset::Tiny),
                resolution: 64,
                note: "synthetic test model".into(),
                decay: Decay::Exp,
                prior_source: pdpaint::model::PriorSource::Network,
                params: 1,
            }),
        );
        h.run_steps(3);
        std::thread::sleep(std::time::Duration::from_millis(600));
        h.run_steps(3);
        h.get_by_label_contains(needle);
        h.get_by_label("×").click();
        h.run_steps(3);
        assert!(h.state().error().is_none());
        assert!(h.query_by_label_contains(needle).is_none());
    }

    #[test]
    fn a_broken_photo_keeps_its_error_until_dismissed() {
        let t = tempfile::tempdir().unwrap();
        let bad = t.path().join("bad.jpg");
        std::fs::write(&bad, b"not a jpeg at all").unwrap();
        error_survives_the_model_and_is_dismissed(window(&bad), "bad.jpg");
    }

    #[test]
    fn a_folder_named_as_the_photo_shows_an_error() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("holiday");
        std::fs::create_dir(&dir).unwrap();
        error_survives_the_model_and_is_dismissed(window(&dir), "not an image file");
    }
}
