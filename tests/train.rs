//! Training runs of the tiny preset on synthetic photos: events, stop, resume, checkpoints,
//! and a SIGKILL in the middle of a checkpoint write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod vggfile;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use burn::prelude::*;
use pdpaint::inference::Inpainter;
use pdpaint::model::{Preset, PriorSource, tensor_to_vec};
use pdpaint::train::checkpoint;
use pdpaint::train::events::{Event, Stage, StopFlag, VecSink};
use pdpaint::train::losses::DiversityLayers;
use pdpaint::train::{TrainConfig, run};

fn photos(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..3u32 {
        let img = image::RgbImage::from_fn(150 + 20 * i, 120, |x, y| {
            image::Rgb([
                ((x * (i + 2)) % 256) as u8,
                ((y * 3 + x) % 256) as u8,
                (((x / 12 + y / 12) % 2) * 180 + i * 20) as u8,
            ])
        });
        img.save(dir.join(format!("p{i}.png"))).unwrap();
    }
    std::fs::write(dir.join("broken.jpg"), b"not a jpeg").unwrap();
}

fn tiny_cfg(data: &Path, out: &Path) -> TrainConfig {
    let mut c = TrainConfig::new(data.to_path_buf(), out.to_path_buf(), Preset::Tiny.config());
    c.set_resolution(64).unwrap();
    c.prior_steps = 4;
    c.pdgan_steps = 4;
    c.batch = 2;
    c.seed = 7;
    c.vgg.config.width_div = 16;
    c.checkpoint_every = 3;
    c.preview_every = 0;
    c.preview_images = 2;
    c.preview_samples = 2;
    c
}

/// Stage, step and named losses of one Step event.
type StepLosses = (Stage, u64, Vec<(String, f32)>);

/// (stage, step) → losses of every Step event.
fn steps(events: &[Event]) -> Vec<StepLosses> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Step {
                stage,
                step,
                losses,
                ..
            } => Some((*stage, *step, losses.clone())),
            _ => None,
        })
        .collect()
}

/// The error of a run that must fail.
fn run_err(cfg: &TrainConfig) -> pdpaint::error::Error {
    run(
        cfg,
        &Device::flex(),
        &mut VecSink::default(),
        &StopFlag::new(),
    )
    .unwrap_err()
}

/// Runs `cfg`, stopping right after `stop_at` (stage, step) if given.
fn run_until(cfg: &TrainConfig, stop_at: Option<(Stage, u64)>) -> Vec<Event> {
    let stop = StopFlag::new();
    let flag = stop.clone();
    let mut events = Vec::new();
    let mut sink = |e: Event| {
        if let (Event::Step { stage, step, .. }, Some(at)) = (&e, stop_at)
            && (*stage, *step) == at
        {
            flag.stop();
        }
        events.push(e);
    };
    run(cfg, &Device::flex(), &mut sink, &stop).expect("training run");
    events
}

#[test]
fn both_stages_run_in_order_and_write_a_loadable_model() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let out = t.path().join("run");
    let cfg = tiny_cfg(&data, &out);
    let events = run_until(&cfg, None);

    // Events in order.
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::Started { .. } => "started",
            Event::StageStarted { .. } => "stage",
            Event::Step { .. } => "step",
            Event::Checkpoint { .. } => "ckpt",
            Event::Preview { .. } => "preview",
            Event::StageFinished { .. } => "done",
            Event::Finished { .. } => "finished",
            Event::Log(_) => "log",
            _ => "other",
        })
        .filter(|k| *k != "log")
        .collect();
    assert_eq!(
        kinds,
        vec![
            "started", "stage", "ckpt", "step", "step", "step", "ckpt", "step", "ckpt", "preview",
            "done", "stage", "ckpt", "step", "step", "step", "ckpt", "step", "ckpt", "preview",
            "done", "finished"
        ]
    );
    match events.iter().find(|e| !matches!(e, Event::Log(_))).unwrap() {
        Event::Started {
            photos,
            skipped,
            vgg,
            ..
        } => {
            assert_eq!((*photos, *skipped), (3, 1));
            assert!(vgg.contains("random"), "{vgg}");
        }
        e => panic!("first event {e:?}"),
    }
    let st = steps(&events);
    assert_eq!(st.len(), 8);
    for (stage, step, losses) in &st {
        for (k, v) in losses {
            assert!(v.is_finite(), "{stage} step {step}: {k} = {v}");
        }
    }
    // Loss log: one line per step, every term.
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["stage"], "prior");
    assert!(lines[0]["hole"].as_f64().unwrap() > 0.0);
    assert!(lines[7]["diversity"].as_f64().unwrap() > 0.0);
    // Preview grids on disk.
    assert!(out.join("previews/prior-00000004.png").is_file());
    let grid = image::open(out.join("previews/pdgan-00000004.png")).unwrap();
    assert!(grid.width() > 64 * 4, "{}", grid.width());
    // Two newest checkpoints kept; the result loads for inference.
    let ck = checkpoint::list(&out).unwrap();
    assert_eq!(ck.len(), 2);
    assert_eq!((ck[1].0, ck[1].1), (Stage::Pdgan, 4));
    let inp = Inpainter::load(&out.join("model"), &Device::flex()).unwrap();
    assert_eq!(inp.resolution(), 64);
    Inpainter::load(&ck[1].2, &Device::flex()).unwrap();
    // A second run into the same folder without --resume refuses to clobber it.
    // The library names no flag (the CLI adds "--resume" from the typed refusal).
    let err = run_err(&cfg);
    assert!(
        matches!(
            &err,
            pdpaint::error::Error::Refused(pdpaint::error::Refusal::RunExists { checkpoint })
                if checkpoint == &ck[1].2
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("--"), "{err}");
}

#[test]
fn stop_is_honoured_within_one_step_and_resume_reproduces_the_uninterrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);

    let full = run_until(&tiny_cfg(&data, &t.path().join("a")), None);
    let reference = steps(&full);

    // Interrupted twice: once in stage 1, once in stage 2.
    let out = t.path().join("b");
    let cfg = tiny_cfg(&data, &out);
    let first = run_until(&cfg, Some((Stage::Prior, 2)));
    let s1 = steps(&first);
    assert_eq!(s1.len(), 2, "stop not honoured within one step");
    assert!(matches!(
        first.last(),
        Some(Event::Finished { stopped: true, .. })
    ));
    let mut resume = cfg.clone();
    resume.resume = true;
    let second = run_until(&resume, Some((Stage::Pdgan, 1)));
    let third = run_until(&resume, None);
    let mut got = s1;
    got.extend(steps(&second));
    got.extend(steps(&third));
    assert_eq!(got.len(), reference.len(), "{got:?}");
    let mut worst = 0f32;
    for ((s_a, n_a, l_a), (s_b, n_b, l_b)) in reference.iter().zip(&got) {
        assert_eq!((s_a, n_a), (s_b, n_b));
        for ((k, a), (_, b)) in l_a.iter().zip(l_b) {
            let d = (a - b).abs() / a.abs().max(1.0);
            worst = worst.max(d);
            assert!(d <= 1e-5, "{s_a} step {n_a} {k}: {a} vs {b}");
        }
    }
    eprintln!("resume vs uninterrupted: worst relative difference {worst:e}");
    // The loss log has each step once.
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let n = log.lines().filter(|l| l.contains("\"step\"")).count();
    assert_eq!(n, 8, "{log}");
}

/// An `XDG_DATA_HOME` without a VGG file: `pdpaint train` run by these tests picks the random
/// VGG whatever this machine has fetched (the VGG-choice tests set their own).
const NO_DATA_HOME: &str = "/nonexistent-pdpaint-test-data";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pdpaint"));
    c.env("XDG_DATA_HOME", NO_DATA_HOME);
    c
}

fn train_cmd(data: &Path, out: &Path) -> Command {
    train_cmd_steps(data, out, 4)
}

fn train_cmd_steps(data: &Path, out: &Path, prior_steps: u64) -> Command {
    let mut c = bin();
    c.args(["train", "--preset", "tiny", "--res", "64", "--batch", "1"])
        .args([
            "--prior-steps",
            &prior_steps.to_string(),
            "--pdgan-steps",
            "2",
        ])
        .args(["--checkpoint-every", "1", "--preview-every", "0"])
        .args(["--backend", "cpu", "--seed", "3"])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out);
    c
}

fn wait_for(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn sigkill_during_a_checkpoint_write_then_resume_continues() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let out = t.path().join("run");
    let mut child = train_cmd(&data, &out)
        .env(checkpoint::STALL_ENV, "1500")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial: PathBuf = checkpoint::checkpoints_dir(&out).join(format!(
        ".partial-{}",
        checkpoint::checkpoint_name(Stage::Prior, 2)
    ));
    assert!(
        wait_for(&partial.join("generator.bpk"), Duration::from_secs(120)),
        "the step-2 checkpoint write never started"
    );
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Mid-write: the partial folder is there, the newest complete checkpoint is step 1.
    assert!(partial.exists());
    let latest = checkpoint::list(&out).unwrap();
    let (stage, step, dir) = latest.last().unwrap().clone();
    assert_eq!((stage, step), (Stage::Prior, 1));
    Inpainter::load(&dir, &Device::flex()).unwrap();

    let o = train_cmd(&data, &out).arg("--resume").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("resumed from the prior checkpoint at step 1"),
        "{err}"
    );
    assert!(!partial.exists(), "stale partial checkpoint not cleaned up");
    let ck = checkpoint::list(&out).unwrap();
    assert_eq!(
        (ck.last().unwrap().0, ck.last().unwrap().1),
        (Stage::Pdgan, 2)
    );
    Inpainter::load(&out.join("model"), &Device::flex()).unwrap();
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let prior_steps: Vec<u64> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["stage"] == "prior" && v.get("event").is_none())
        .filter_map(|v| v["step"].as_u64())
        .collect();
    assert_eq!(prior_steps, vec![1, 2, 3, 4]);
}

#[test]
fn train_cli_rejects_bad_input_clearly() {
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = train_cmd(&empty, &t.path().join("o")).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no readable photo"), "{err}");
    assert!(err.trim_end().ends_with("empty"), "path last: {err}");
    assert!(!err.contains("panicked"), "{err}");

    let o = train_cmd(&t.path().join("missing"), &t.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let o = bin()
        .args(["train", "--preset", "tiny", "--res", "100", "--out"])
        .arg(t.path().join("o"))
        .arg("--data")
        .arg(&empty)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("multiple of 64"), "{err}");
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `pdpaint train` of the tiny preset for `prior_steps` prior steps only, with
/// `XDG_DATA_HOME = data_home` and `extra` arguments; returns its stderr.
fn train_prior(
    data: &Path,
    out: &Path,
    data_home: &Path,
    prior_steps: u64,
    extra: &[&str],
) -> String {
    let o = bin()
        .env("XDG_DATA_HOME", data_home)
        .args(["train", "--preset", "tiny", "--res", "64", "--batch", "1"])
        .args([
            "--stage",
            "prior",
            "--prior-steps",
            &prior_steps.to_string(),
        ])
        .args(["--checkpoint-every", "1", "--preview-every", "0"])
        .args(["--backend", "cpu", "--seed", "3"])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "train failed: {err}");
    err
}

#[test]
fn train_uses_the_fetched_vgg_by_default_and_random_when_asked() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let home = t.path().join("data-home");
    let file = home.join("pdpaint/vgg16-imagenet.safetensors");
    // As scripts/fetch-vgg.sh writes it (Keras scale), but narrow and random.
    vggfile::write_small_vgg16(
        &file,
        16,
        9,
        Some("1.0 (every activation = Keras activation)"),
    );

    // Default: the file at the standard path, activations ÷127.5, said in the log, run.json
    // and the model's source.
    let out = t.path().join("imagenet");
    let err = train_prior(&data, &out, &home, 1, &[]);
    let line = format!(
        "loss network: VGG-16 /16 width, ImageNet weights from {} (sha256 {}), activations ÷127.5",
        file.display(),
        &vggfile::sha256_hex(&file)[..12]
    );
    assert!(err.contains(&line), "{err}");
    let run = read_json(&out.join("run.json"));
    let vgg = &run["vgg"];
    assert_eq!(vgg["selection"]["how"], "standard_file", "{vgg}");
    assert_eq!(vgg["network"]["kind"], "imagenet");
    assert_eq!(
        vgg["network"]["sha256"],
        vggfile::sha256_hex(&file).as_str()
    );
    assert_eq!(vgg["network"]["activation_divisor"], 127.5);
    let model = read_json(&out.join("model/config.json"));
    let source = model["source"].as_str().unwrap();
    assert!(
        source.contains("loss network VGG-16 /16 width, ImageNet weights from"),
        "{source}"
    );

    // --vgg random: the random VGG at the preset's width, even with the file there.
    let out = t.path().join("random");
    let err = train_prior(&data, &out, &home, 1, &["--vgg", "random"]);
    assert!(
        err.contains("loss network: VGG-16 /16 width, random seeded weights"),
        "{err}"
    );
    let run = read_json(&out.join("run.json"));
    assert_eq!(run["vgg"]["selection"]["how"], "explicit");
    assert_eq!(run["vgg"]["network"]["kind"], "random");
    let source = read_json(&out.join("model/config.json"))["source"].clone();
    assert!(
        source.as_str().unwrap().contains("not ImageNet features"),
        "{source}"
    );

    // No file at the standard path: random, and run.json says where it looked.
    let out = t.path().join("none");
    let empty_home = t.path().join("empty-home");
    let err = train_prior(&data, &out, &empty_home, 1, &[]);
    assert!(err.contains("random seeded weights"), "{err}");
    let run = read_json(&out.join("run.json"));
    assert_eq!(run["vgg"]["selection"]["how"], "no_standard_file");
    assert_eq!(
        run["vgg"]["selection"]["looked_for"],
        empty_home
            .join("pdpaint/vgg16-imagenet.safetensors")
            .display()
            .to_string()
    );

    // A weights file and --vgg-width-div together are refused.
    let o = bin()
        .args(["train", "--preset", "tiny", "--vgg-width-div", "4", "--vgg"])
        .arg(&file)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(t.path().join("bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--vgg-width-div"), "{err}");
}

#[test]
fn a_resumed_run_keeps_its_loss_network_unless_asked() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let home = t.path().join("data-home");
    let out = t.path().join("run");
    // Started with the random VGG (nothing fetched yet) …
    train_prior(&data, &out, &home, 1, &[]);
    assert_eq!(
        read_json(&out.join("run.json"))["vgg"]["network"]["kind"],
        "random"
    );
    // … then the ImageNet file appears: a resume without --vgg keeps the random one.
    let file = home.join("pdpaint/vgg16-imagenet.safetensors");
    vggfile::write_small_vgg16(
        &file,
        16,
        9,
        Some("1.0 (every activation = Keras activation)"),
    );
    let err = train_prior(&data, &out, &home, 2, &["--resume"]);
    assert!(
        err.contains("the resumed run keeps the loss network it was started with"),
        "{err}"
    );
    assert!(
        err.contains("loss network: VGG-16 /16 width, random seeded weights"),
        "{err}"
    );
    assert_eq!(
        read_json(&out.join("run.json"))["vgg"]["network"]["kind"],
        "random"
    );
    // Asked for with --vgg, the resumed run switches and says so.
    let err = train_prior(
        &data,
        &out,
        &home,
        3,
        &["--resume", "--vgg"]
            .iter()
            .copied()
            .chain([file.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert!(
        err.contains("the loss network differs from the one this run was started with"),
        "{err}"
    );
    assert_eq!(
        read_json(&out.join("run.json"))["vgg"]["network"]["kind"],
        "imagenet"
    );
}

#[test]
fn a_resume_needs_only_the_out_folder_and_changes_only_what_is_given() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let home = t.path().join("data-home");
    let out = t.path().join("run");
    // Started with options that are not the defaults …
    train_prior(
        &data,
        &out,
        &home,
        1,
        &["--lr-scale", "0.5", "--style-weight", "60", "--ema", "0.9"],
    );
    // … and resumed with nothing but the folder and a longer stage 1.
    let o = bin()
        .env("XDG_DATA_HOME", &home)
        .args([
            "train",
            "--resume",
            "--backend",
            "cpu",
            "--prior-steps",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(
            "resuming with the options the run was last started with, except --prior-steps \
             (given)"
        ),
        "{err}"
    );
    assert!(
        err.contains("resumed from the prior checkpoint at step 1"),
        "{err}"
    );
    assert!(err.contains("training tiny at 64²"), "{err}");
    assert!(err.contains("learning rates ×0.5 of the authors'"), "{err}");
    let run = read_json(&out.join("run.json"));
    assert_eq!(run["lr_scale"], 0.5);
    assert_eq!(run["stage1"]["weights"]["style"], 60.0);
    assert_eq!(run["ema_decay"], 0.9);
    assert_eq!(run["batch"], 1);
    assert_eq!(run["seed"], 3);
    assert_eq!(run["stages"], serde_json::json!(["prior"]));
    assert_eq!(run["prior_steps"], 2);
    assert_eq!(run["resume"], true);
    assert_eq!(
        std::path::PathBuf::from(run["data"].as_str().unwrap()),
        data
    );
    let (stage, step, _) = checkpoint::list(&out).unwrap().pop().unwrap();
    assert_eq!((stage, step), (Stage::Prior, 2));
    // A given option that contradicts the checkpoint is refused, not silently applied.
    let o = bin()
        .env("XDG_DATA_HOME", &home)
        .args(["train", "--resume", "--backend", "cpu", "--preset", "small"])
        .args(["--prior-steps", "3"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("network sizes differ"), "{err}");
    // Restarting the moving average only means something for a resume.
    let o = bin()
        .env("XDG_DATA_HOME", &home)
        .args(["train", "--backend", "cpu", "--restart-average"])
        .arg("--out")
        .arg(t.path().join("fresh"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(!t.path().join("fresh").exists());
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_the_model_before_exiting() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let out = t.path().join("run");
    let child = train_cmd_steps(&data, &out, 100_000)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let first =
        checkpoint::checkpoints_dir(&out).join(checkpoint::checkpoint_name(Stage::Prior, 1));
    assert!(wait_for(&first, Duration::from_secs(120)), "no checkpoint");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("stopped: model folder"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let (stage, step, _) = checkpoint::list(&out).unwrap().pop().unwrap();
    assert_eq!(stage, Stage::Prior);
    assert!((1..100_000).contains(&step));
    Inpainter::load(&out.join("model"), &Device::flex()).unwrap();
}

#[test]
fn nan_losses_are_skipped_then_the_checkpoint_is_restored_with_a_lower_lr() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let out = t.path().join("run");
    let mut cfg = tiny_cfg(&data, &out);
    cfg.stages = vec![Stage::Prior];
    // An absurd learning rate blows the weights up after the first step.
    cfg.stage1.lr = 1e30;
    cfg.max_bad_steps = 2;
    let mut events = Vec::new();
    let err = run(
        &cfg,
        &Device::flex(),
        &mut |e| events.push(e),
        &StopFlag::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("diverged"), "{err}");
    let skipped = events
        .iter()
        .filter(|e| matches!(e, Event::Skipped { .. }))
        .count();
    let backoffs: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Restored { lr_backoff, .. } => Some(*lr_backoff),
            _ => None,
        })
        .collect();
    assert!(skipped >= 2, "{skipped} skipped");
    assert_eq!(backoffs.len() as u64, pdpaint::train::run::MAX_RESTORES);
    assert!((backoffs[0] - 0.5).abs() < 1e-12 && (backoffs[1] - 0.25).abs() < 1e-12);
    // Only finite models were ever saved, and they still load.
    for (_, _, dir) in checkpoint::list(&out).unwrap() {
        let (_, m) = pdpaint::model::weights::load_model_folder(&dir, &Device::flex()).unwrap();
        assert!(pdpaint::train::run::module_is_finite(&m.prior).unwrap());
    }
}

/// The tiny run of one stage only, `steps` long.
fn one_stage(data: &Path, out: &Path, stage: Stage, steps: u64) -> TrainConfig {
    let mut c = tiny_cfg(data, out);
    c.stages = vec![stage];
    match stage {
        Stage::Prior => c.prior_steps = steps,
        Stage::Pdgan => c.pdgan_steps = steps,
    }
    c
}

/// A few weights that identify a model's prior and generator.
fn fingerprint(dir: &Path) -> (Vec<f32>, Vec<f32>) {
    let (_, m) = pdpaint::model::weights::load_model_folder(dir, &Device::flex()).unwrap();
    let mut prior = tensor_to_vec(m.prior.encoder[0].conv.input_conv.val()).unwrap();
    prior.extend(tensor_to_vec(m.prior.decoder[5].up.weight.val()).unwrap());
    let generator = tensor_to_vec(m.generator.fc.weight.val()).unwrap();
    (prior, generator)
}

/// A temp dir with the photo set (`photos/`) and a run `a/` of both stages on it.
fn photos_and_model_a() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let a = t.path().join("a");
    run_until(&tiny_cfg(&data, &a), None);
    (t, data, a)
}

#[test]
fn init_from_starts_from_a_model_and_prior_from_retargets_a_resumed_stage_2() {
    let (t, data, a) = photos_and_model_a();
    let (a_prior, a_gen) = fingerprint(&a.join("model"));

    // B: more stage 1 on A's prior (other seed, other crops); the paper's mask kernels are
    // asked for too, but a run that starts from weights takes the folder's as they are.
    let b = t.path().join("b");
    let mut cfg = one_stage(&data, &b, Stage::Prior, 2);
    cfg.seed = 99;
    cfg.init_from = Some(a.join("model"));
    cfg.stage1.mask_conv = pdpaint::train::stage1::MaskConvInit::Ones;
    let events = run_until(&cfg, None);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log(l) if l.contains("starting from the weights"))),
    );
    let ck = checkpoint::list(&b).unwrap();
    assert_eq!((ck[0].0, ck[0].1), (Stage::Prior, 0));
    assert_eq!(fingerprint(&ck[0].2), (a_prior.clone(), a_gen.clone()));
    let (b_prior, b_gen) = fingerprint(&b.join("model"));
    assert_ne!(b_prior, a_prior, "stage 1 did not train");
    assert_eq!(b_gen, a_gen, "stage 1 must not touch the generator");

    // A again: stage 2 resumed for two more steps, on B's prior.
    let mut more = tiny_cfg(&data, &a);
    more.resume = true;
    more.pdgan_steps = 6;
    more.prior_from = Some(b.join("model"));
    let events = run_until(&more, None);
    assert_eq!(
        steps(&events)
            .iter()
            .map(|(s, n, _)| (*s, *n))
            .collect::<Vec<_>>(),
        vec![(Stage::Pdgan, 5), (Stage::Pdgan, 6)]
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log(l) if l.contains("uses the prior of"))),
    );
    let (a2_prior, a2_gen) = fingerprint(&a.join("model"));
    assert_eq!(a2_prior, b_prior);
    assert_ne!(a2_gen, a_gen);

    // A new stage-2 run started from B keeps B's prior (no OUT/model exists yet to take one from).
    let e = t.path().join("e");
    let mut cfg = one_stage(&data, &e, Stage::Pdgan, 1);
    cfg.init_from = Some(b.join("model"));
    run_until(&cfg, None);
    let (e_prior, e_gen) = fingerprint(&e.join("model"));
    assert_eq!(e_prior, b_prior);
    assert_ne!(e_gen, b_gen);

    // A fresh run with the paper's mask kernels starts with ones, and keeps them.
    let c = t.path().join("c");
    let mut cfg = one_stage(&data, &c, Stage::Prior, 1);
    cfg.stage1.mask_conv = pdpaint::train::stage1::MaskConvInit::Ones;
    run_until(&cfg, None);
    let (_, m) =
        pdpaint::model::weights::load_model_folder(&c.join("model"), &Device::flex()).unwrap();
    for e in &m.prior.encoder {
        let w: Vec<f32> = tensor_to_vec(e.conv.mask_conv.val()).unwrap();
        assert!(w.iter().all(|&v| v == 1.0));
    }
    // Sizes that differ from the folder's are refused.
    let mut bad = tiny_cfg(&data, &t.path().join("d"));
    bad.init_from = Some(a.join("model"));
    bad.set_resolution(128).unwrap();
    let err = run_err(&bad);
    assert!(err.to_string().contains("differ"), "{err}");
}

/// One `stage` step from model A (`a`) into `out`, with `tweak` applied to the configuration:
/// the step's losses by name, the run's log lines and the saved model's source.
fn one_step_from(
    a: &Path,
    data: &Path,
    out: &Path,
    stage: Stage,
    tweak: impl FnOnce(&mut TrainConfig),
) -> (std::collections::HashMap<String, f32>, Vec<String>, String) {
    let mut cfg = one_stage(data, out, stage, 1);
    cfg.init_from = Some(a.join("model"));
    tweak(&mut cfg);
    let events = run_until(&cfg, None);
    let logs = events
        .iter()
        .filter_map(|e| match e {
            Event::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect();
    let losses = steps(&events)[0].2.iter().cloned().collect();
    let (file, _) =
        pdpaint::model::weights::load_model_folder(&out.join("model"), &Device::flex()).unwrap();
    (losses, logs, file.source)
}

#[test]
fn stage_2_loss_weights_are_applied_logged_and_recorded() {
    let (t, data, a) = photos_and_model_a();
    // Two one-step runs from A, alike but for the diversity weight, see the same first forward
    // pass; their totals differ by exactly the (unweighted) diversity term, and the changed run
    // says so in its log and its model's source.
    let first_step = |name: &str, w: f64| {
        let out = t.path().join(name);
        let (losses, logs, source) = one_step_from(&a, &data, &out, Stage::Pdgan, |c| {
            c.stage2.weights.diversity = w;
        });
        let said = logs
            .iter()
            .any(|l| l.contains("loss weights differ") && l.contains("diversity 0 (code 1)"));
        (losses, said, source, fingerprint(&out.join("model")).1)
    };
    let (code, code_said, code_source, code_gen) = first_step("w1", 1.0);
    let (off, off_said, off_source, off_gen) = first_step("w0", 0.0);
    assert!(!code_said && off_said);
    assert!(!code_source.contains("loss weights"), "{code_source}");
    assert!(
        off_source.contains("stage-2 loss weights diversity 0 (code 1)"),
        "{off_source}"
    );
    assert_eq!(code["diversity"], off["diversity"]);
    assert_eq!(code["perceptual"], off["perceptual"]);
    let gap = code["total"] - off["total"];
    assert!(
        (gap - code["diversity"]).abs() <= 1e-4 * code["total"].abs().max(1.0),
        "total {} vs {}: gap {gap}, diversity {}",
        code["total"],
        off["total"],
        code["diversity"]
    );
    assert_ne!(
        code_gen, off_gen,
        "the weight must change the generator's update"
    );
    // A negative weight is refused before anything is written.
    let mut neg = one_stage(&data, &t.path().join("neg"), Stage::Pdgan, 1);
    neg.stage2.weights.diversity = -1.0;
    let err = run_err(&neg);
    assert!(err.to_string().contains("diversity loss weight"), "{err}");
    assert!(!t.path().join("neg").exists());
}

#[test]
fn the_unit_perceptual_term_is_weighted_logged_and_recorded() {
    let (t, data, a) = photos_and_model_a();
    // Same start, batch and seeds: the weighted run's total is the plain run's plus 5 × its
    // unit term; the plain run does not compute the term (0) and says nothing of it.
    let first_step = |name: &str, w: f64| {
        let out = t.path().join(name);
        let (losses, logs, source) = one_step_from(&a, &data, &out, Stage::Pdgan, |c| {
            c.stage2.weights.unit_perceptual = w;
        });
        let said = logs
            .iter()
            .any(|l| l.contains("unit perceptual 5 (code 0)"));
        (losses, said, source)
    };
    let (plain, plain_said, plain_source) = first_step("u0", 0.0);
    let (unit, unit_said, unit_source) = first_step("u5", 5.0);
    assert!(!plain_said && unit_said);
    assert_eq!(plain["unit"], 0.0);
    assert!(unit["unit"] > 0.0 && unit["unit"] < 4.0, "{unit:?}");
    assert!(!plain_source.contains("unit perceptual"), "{plain_source}");
    assert!(
        unit_source.contains("unit perceptual 5 (code 0)"),
        "{unit_source}"
    );
    assert_eq!(plain["perceptual"], unit["perceptual"]);
    let gap = unit["total"] - plain["total"];
    assert!(
        (gap - 5.0 * unit["unit"]).abs() <= 1e-4 * unit["total"].abs().max(1.0),
        "gap {gap}, unit {}",
        unit["unit"]
    );
}

#[test]
fn stage_1_style_weight_is_applied_logged_and_recorded() {
    let (t, data, a) = photos_and_model_a();
    // Two one-step prior runs from A, alike but for the style weight: the same first forward
    // pass, totals apart by exactly 120 × the (unweighted) style term.
    let first_step = |name: &str, w: f64| {
        let (losses, logs, source) =
            one_step_from(&a, &data, &t.path().join(name), Stage::Prior, |c| {
                c.stage1.weights.style = w;
            });
        let said = logs
            .iter()
            .any(|l| l.contains("stage-1 loss weights differ") && l.contains("style 0 (code 120)"));
        (losses, said, source)
    };
    let (code, code_said, code_source) = first_step("s120", 120.0);
    let (off, off_said, off_source) = first_step("s0", 0.0);
    assert!(!code_said && off_said);
    assert!(!code_source.contains("loss weights"), "{code_source}");
    assert!(
        off_source.contains("stage-1 loss weights style 0 (code 120)"),
        "{off_source}"
    );
    assert_eq!(code["style"], off["style"]);
    assert!(code["style"] > 0.0);
    let gap = code["total"] - off["total"];
    assert!(
        (gap - 120.0 * code["style"]).abs() <= 1e-4 * code["total"].abs().max(1.0),
        "total {} vs {}: gap {gap}, style {}",
        code["total"],
        off["total"],
        code["style"]
    );
}

#[test]
fn the_papers_diversity_layers_change_only_the_diversity_term_and_are_recorded() {
    let (t, data, a) = photos_and_model_a();
    // Two one-step stage-2 runs from A, alike but for the diversity loss's features: the same
    // samples, so every other term is equal; the diversity term is not.
    let first_step = |name: &str, layers: DiversityLayers| {
        let (losses, logs, source) =
            one_step_from(&a, &data, &t.path().join(name), Stage::Pdgan, |c| {
                c.stage2.diversity_layers = layers;
            });
        let said = logs.iter().any(|l| {
            l.contains("stage-2 loss weights differ") && l.contains("diversity on relu1_1-relu5_1")
        });
        (losses, said, source)
    };
    let (code, code_said, code_source) = first_step("code", DiversityLayers::Code);
    let (paper, paper_said, paper_source) = first_step("paper", DiversityLayers::Paper);
    assert!(!code_said && paper_said);
    assert!(!code_source.contains("relu1_1"), "{code_source}");
    assert!(
        paper_source.contains("diversity on relu1_1-relu5_1 with the hole on the features"),
        "{paper_source}"
    );
    for k in ["adv", "feat", "perceptual", "tv", "d"] {
        assert!(
            (code[k] - paper[k]).abs() <= 1e-5 * code[k].abs().max(1.0),
            "{k}: {} vs {}",
            code[k],
            paper[k]
        );
    }
    let (dc, dp) = (code["diversity"], paper["diversity"]);
    assert!(dc.is_finite() && dp.is_finite() && dc > 0.0 && dp > 0.0);
    assert!((dc - dp).abs() > 1e-3 * dc.max(dp), "{dc} vs {dp}");
}

#[test]
fn a_telea_prior_conditions_stage_2_is_recorded_and_inpainting_uses_it() {
    let (t, data, a) = photos_and_model_a();
    // Two one-step stage-2 runs from A, alike but for the prior source: the generator sees
    // another prior, so its losses differ; the Telea run says so and its model records it.
    let first_step = |name: &str, source: PriorSource| {
        let out = t.path().join(name);
        let (losses, logs, _) = one_step_from(&a, &data, &out, Stage::Pdgan, |c| {
            c.model.prior_source = source;
        });
        let said = logs
            .iter()
            .any(|l| l.contains("prior is Telea's fill") && l.contains("not used"));
        (losses, said, out.join("model"))
    };
    let (net, net_said, net_dir) = first_step("network", PriorSource::Network);
    let (tel, tel_said, tel_dir) = first_step("telea", PriorSource::Telea);
    assert!(!net_said && tel_said);
    // (A's generator barely listens to its prior yet: the losses differ, but only a little.)
    assert_ne!(net["perceptual"], tel["perceptual"]);
    let dev = Device::flex();
    let (net_file, _) = pdpaint::model::weights::load_model_folder(&net_dir, &dev).unwrap();
    let (tel_file, _) = pdpaint::model::weights::load_model_folder(&tel_dir, &dev).unwrap();
    assert_eq!(net_file.config.prior_source, PriorSource::Network);
    assert_eq!(tel_file.config.prior_source, PriorSource::Telea);

    // Inference on the Telea model conditions on Telea's fill: the prior is the known pixels
    // unchanged and, in the hole, exactly the 8-bit Telea fill of the crop.
    let inp = Inpainter::load(&tel_dir, &dev).unwrap();
    let r = inp.resolution();
    let photo = image::RgbImage::from_fn(r as u32, r as u32, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 2) as u8, ((x + y) % 256) as u8])
    });
    let mask = pdpaint::mask::Mask::from_hole_fn(r as u32, r as u32, |x, y| {
        (r as u32 / 4..r as u32 / 2).contains(&x) && (r as u32 / 3..r as u32 / 2).contains(&y)
    });
    let p = inp
        .prepare(
            &photo,
            &mask,
            &pdpaint::inference::InpaintOptions::default(),
        )
        .unwrap();
    let prior = tensor_to_vec(inp.prior(&p).unwrap()).unwrap();
    let want =
        pdpaint::telea::fill_chw(&p.image, &p.hole, r, r, pdpaint::telea::DEFAULT_RADIUS).unwrap();
    assert_eq!(prior.len(), want.len());
    assert!(prior.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6));
    let plane = r * r;
    let hole_px: Vec<usize> = (0..plane).filter(|&i| p.hole[i] > 0.5).collect();
    assert!(!hole_px.is_empty());
    // The network's prior differs from it in the hole.
    let net_inp = Inpainter::load(&net_dir, &dev).unwrap();
    let net_prior = tensor_to_vec(net_inp.prior(&p).unwrap()).unwrap();
    let diff: f32 = hole_px
        .iter()
        .map(|&i| (net_prior[i] - prior[i]).abs())
        .sum::<f32>()
        / hole_px.len() as f32;
    assert!(diff > 1e-3, "{diff}");
}

#[test]
fn a_telea_prior_model_has_no_prior_stage_to_train() {
    let t = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig::new(
        t.path().join("photos"),
        t.path().join("out"),
        Preset::Tiny.config(),
    );
    cfg.model.prior_source = PriorSource::Telea;
    cfg.stages = vec![Stage::Prior, Stage::Pdgan];
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("--stage pdgan"), "{err}");
    cfg.stages = vec![Stage::Pdgan];
    cfg.validate().unwrap();
}

#[test]
fn lr_scale_shrinks_the_first_update_and_is_logged_and_recorded() {
    let (t, data, a) = photos_and_model_a();
    let (start, _) = fingerprint(&a.join("model"));
    // One prior step from A at the authors' rate and at a quarter of it. Adam's first step
    // moves each weight by about lr·sign(g), so the change shrinks by the scale.
    let one_step = |name: &str, scale: f64| {
        let out = t.path().join(name);
        let mut cfg = one_stage(&data, &out, Stage::Prior, 1);
        cfg.init_from = Some(a.join("model"));
        cfg.lr_scale = scale;
        let events = run_until(&cfg, None);
        let said = events.iter().any(
            |e| matches!(e, Event::Log(l) if l.contains("learning rates ×0.25 of the authors'")),
        );
        let (file, _) =
            pdpaint::model::weights::load_model_folder(&out.join("model"), &Device::flex())
                .unwrap();
        let (prior, _) = fingerprint(&out.join("model"));
        let moved: f64 = prior
            .iter()
            .zip(&start)
            .map(|(p, s)| f64::from((p - s).abs()))
            .sum();
        (moved, said, file.source)
    };
    let (full, full_said, full_source) = one_step("lr1", 1.0);
    let (quarter, quarter_said, quarter_source) = one_step("lr025", 0.25);
    assert!(full > 0.0, "the step must move the prior");
    let ratio = quarter / full;
    assert!((0.2..0.3).contains(&ratio), "moved {quarter} vs {full}");
    assert!(!full_said && quarter_said);
    assert!(!full_source.contains("learning rates"), "{full_source}");
    assert!(
        quarter_source.contains("learning rates ×0.25 of the authors' (prior 2.50e-4"),
        "{quarter_source}"
    );
}

#[test]
fn generator_moving_average_is_kept_checkpointed_resumed_and_shipped() {
    let (t, data, a) = photos_and_model_a();
    let fc = |path: &Path| {
        let (_, m) = pdpaint::model::weights::load_model_folder(path, &Device::flex()).unwrap();
        tensor_to_vec(m.generator.fc.weight.val()).unwrap()
    };
    let ema_cfg = |name: &str| {
        let mut cfg = one_stage(&data, &t.path().join(name), Stage::Pdgan, 3);
        cfg.init_from = Some(a.join("model"));
        cfg.ema_decay = 0.5;
        cfg.checkpoint_every = 1;
        cfg.keep_checkpoints = 10;
        cfg
    };

    // Uninterrupted: raw weights g0..g3 in the checkpoints; the result is the average
    // e0 = g0, e_k = ½ e_(k-1) + ½ g_k (fc is not spectral-normalised, so export keeps it).
    let u = ema_cfg("u");
    let events = run_until(&u, None);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log(l) if l.contains("moving average (decay 0.5) starts")))
    );
    let ck = checkpoint::list(&u.out).unwrap();
    assert_eq!(ck.len(), 4);
    assert!(
        ck.iter()
            .all(|(_, _, p)| p.join(checkpoint::EMA_FILE).is_file())
    );
    let raw: Vec<Vec<f32>> = ck.iter().map(|(_, _, p)| fc(p)).collect();
    // The average of decay ½ started at `raw[from]` and fed every later checkpoint's weights.
    let average_from = |from: usize| {
        let mut avg = raw[from].clone();
        for g in &raw[from + 1..] {
            for (w, x) in avg.iter_mut().zip(g) {
                *w = 0.5 * *w + 0.5 * x;
            }
        }
        avg
    };
    let max_abs_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    let want = average_from(0);
    let result = fc(&u.out.join("model"));
    assert_ne!(
        result, raw[3],
        "the result must be the average, not the last weights"
    );
    let worst = max_abs_diff(&result, &want);
    assert!(worst < 1e-6, "average off by {worst}");
    let (file, _) =
        pdpaint::model::weights::load_model_folder(&u.out.join("model"), &Device::flex()).unwrap();
    assert!(
        file.source
            .contains("moving average of its weights (decay 0.5, since stage-2 step 0)"),
        "{}",
        file.source
    );

    // `pdpaint export --average` makes the same model from the last checkpoint (spectral-norm
    // vectors refreshed the same way), and refuses a folder without an average.
    let exported = t.path().join("exported");
    let out = bin()
        .args(["export", "--average", "--model"])
        .arg(&ck[3].2)
        .arg("--out")
        .arg(&exported)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, m_exp) =
        pdpaint::model::weights::load_model_folder(&exported, &Device::flex()).unwrap();
    let (e_file, m_res) =
        pdpaint::model::weights::load_model_folder(&u.out.join("model"), &Device::flex()).unwrap();
    assert!(e_file.source.contains("moving average"));
    let u_of = |m: &pdpaint::model::PdGan| {
        tensor_to_vec(m.generator.generated[0].block.conv_0.weight_u.val()).unwrap()
    };
    assert_eq!(u_of(&m_exp), u_of(&m_res));
    assert_eq!(fc(&exported), result);
    let out = bin()
        .args(["export", "--average", "--model"])
        .arg(a.join("model"))
        .arg("--out")
        .arg(t.path().join("x"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no moving average"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("generator-ema.bpk"), "{err}");

    // Stopped after step 1 and resumed: the average continues from the checkpoint exactly.
    let r = ema_cfg("r");
    run_until(&r, Some((Stage::Pdgan, 1)));
    let mut more = r.clone();
    more.resume = true;
    let events = run_until(&more, None);
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Log(l) if l.contains("moving average (decay 0.5) continued"))
        )
    );
    assert_eq!(fc(&r.out.join("model")), result);

    // Resumed after step 1 with a restart asked for: the checkpoint's average is dropped and a
    // new one starts at the resumed weights g1, so the result is ½(½ g1 + ½ g2) + ½ g3.
    let rr = ema_cfg("rr");
    run_until(&rr, Some((Stage::Pdgan, 1)));
    let mut again = rr.clone();
    again.resume = true;
    again.restart_ema = true;
    let events = run_until(&again, None);
    let said = |needle: &str| {
        events
            .iter()
            .any(|e| matches!(e, Event::Log(l) if l.contains(needle)))
    };
    assert!(said("average (since stage-2 step 0) is dropped, as asked"));
    assert!(said(
        "moving average (decay 0.5) starts at the weights of stage-2 step 1"
    ));
    let got = fc(&rr.out.join("model"));
    let worst = max_abs_diff(&got, &average_from(1));
    assert!(worst < 1e-6, "restarted average off by {worst}");
    assert_ne!(got, result, "the restart must change the result");
    let last = checkpoint::latest(&rr.out).unwrap().unwrap();
    let state = checkpoint::read_state(&last).unwrap();
    assert_eq!(state.ema_since, Some(1));
    assert!(
        !state.config.restart_ema,
        "the request is not saved with the run"
    );

    // The same restart, but the steps after it blow up (absurd learning rates) before a new
    // checkpoint is written: the restore goes back to the resumed checkpoint, whose saved
    // average is the one the restart dropped, so a new average starts at its weights instead.
    let rn = ema_cfg("rn");
    run_until(&rn, Some((Stage::Pdgan, 1)));
    let mut nan = rn.clone();
    nan.resume = true;
    nan.restart_ema = true;
    nan.checkpoint_every = 100;
    nan.stage2.lr_g = 1e30;
    nan.stage2.lr_d = 1e30;
    nan.max_bad_steps = 1;
    let mut events = Vec::new();
    let err = run(
        &nan,
        &Device::flex(),
        &mut |e| events.push(e),
        &StopFlag::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("diverged"), "{err}");
    let restored_to: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Restored { step, .. } => Some(*step),
            _ => None,
        })
        .collect();
    assert!(
        !restored_to.is_empty() && restored_to.iter().all(|&s| s == 1),
        "{restored_to:?}"
    );
    let fresh = events
        .iter()
        .filter(|e| {
            matches!(e, Event::Log(l) if l.contains(
                "the restored checkpoint (stage-2 step 1) does not hold this run's moving \
                 average (since step 1); a new average starts at its weights"
            ))
        })
        .count();
    assert_eq!(
        fresh,
        restored_to.len(),
        "every restore restarts the average"
    );

    // A resume without a decay drops the average and says so; the result is the raw weights.
    let mut plain = r.clone();
    plain.resume = true;
    plain.ema_decay = 0.0;
    plain.pdgan_steps = 4;
    let events = run_until(&plain, None);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log(l) if l.contains("does not continue")))
    );
    let last = checkpoint::latest(&r.out).unwrap().unwrap();
    assert!(!last.join(checkpoint::EMA_FILE).exists());
    assert_eq!(fc(&r.out.join("model")), fc(&last));

    // A decay of 1 or more is refused before anything is written.
    let mut bad = ema_cfg("bad");
    bad.ema_decay = 1.0;
    let err = run_err(&bad);
    assert!(err.to_string().contains("EMA decay"), "{err}");
    assert!(!t.path().join("bad").exists());
}
