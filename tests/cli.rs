//! The `pdpaint` binary on real files: the happy paths and bad input (a clear error and a
//! non-zero exit code, never a panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
use pdpaint::npy::write_npy;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pdpaint"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn pdpaint")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails (non-zero, not a panic) with a message containing `needle`.
fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert_ne!(o.status.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// `pdpaint inpaint --model M --image I --mask K --out O` plus `extra`.
fn inpaint(m: &str, image: &str, mask: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "inpaint", "--model", m, "--image", image, "--mask", mask, "--out", out,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// `pdpaint forward` on the CPU with the given model and arrays.
fn forward(m: &str, image: &str, mask: &str, z: &str, out: &str) -> Output {
    run(&[
        "forward",
        "--model",
        m,
        "--image",
        image,
        "--mask",
        mask,
        "--z",
        z,
        "--out",
        out,
        "--backend",
        "cpu",
    ])
}

fn tiny_model(dir: &Path) -> PathBuf {
    let m = dir.join("tiny");
    let o = run(&[
        "init",
        "--preset",
        "tiny",
        "--seed",
        "3",
        "--out",
        m.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "init failed: {}", stderr(&o));
    m
}

fn photo(dir: &Path, w: u32, h: u32) -> PathBuf {
    let img = RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let p = dir.join(format!("photo-{w}x{h}.png"));
    img.save(&p).expect("save photo");
    p
}

fn mask_png(dir: &Path, name: &str, w: u32, h: u32, hole: impl Fn(u32, u32) -> bool) -> PathBuf {
    let img =
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([if hole(x, y) { 255 } else { 0 }]));
    let p = dir.join(name);
    img.save(&p).expect("save mask");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

#[test]
fn inpaint_writes_samples_and_keeps_known_pixels() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let img = photo(t.path(), 300, 200);
    let mask = mask_png(t.path(), "mask.png", 300, 200, |x, y| {
        (120..180).contains(&x) && (60..140).contains(&y)
    });
    let out = t.path().join("out");
    let o = inpaint(
        s(&m),
        s(&img),
        s(&mask),
        s(&out),
        &["--samples", "3", "--seed", "10", "--backend", "cpu"],
    );
    assert!(o.status.success(), "inpaint failed: {}", stderr(&o));
    let orig = image::open(&img).expect("open").to_rgb8();
    let mut fills = Vec::new();
    for seed in 10..13 {
        let p = out.join(format!("seed-{seed}.png"));
        let got = image::open(&p).expect("sample png").to_rgb8();
        assert_eq!(got.dimensions(), orig.dimensions());
        for (x, y, px) in got.enumerate_pixels() {
            let in_hole = (120..180).contains(&x) && (60..140).contains(&y);
            if !in_hole {
                assert_eq!(px, orig.get_pixel(x, y), "known pixel ({x},{y}) changed");
            }
        }
        fills.push(got);
    }
    assert_ne!(fills[0], fills[1], "different seeds gave identical fills");
    for f in [
        "prior.png",
        "contact-sheet.png",
        "figure.png",
        "recipe.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // The figure: photo, mask, prior, 3 samples, diversity = 7 tiles in 2 rows of 4.
    let fig = image::open(out.join("figure.png"))
        .expect("figure")
        .to_rgb8();
    let sheet = pdpaint::imageops::contact_sheet_size(7, 4, 192);
    assert_eq!(fig.dimensions(), sheet, "figure layout");
    // The recipe reproduces the samples exactly.
    let out2 = t.path().join("out2");
    let o = run(&[
        "inpaint",
        "--recipe",
        s(&out.join("recipe.json")),
        "--out",
        s(&out2),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "recipe re-run failed: {}", stderr(&o));
    for seed in 10..13 {
        let a = std::fs::read(out.join(format!("seed-{seed}.png"))).expect("a");
        let b = std::fs::read(out2.join(format!("seed-{seed}.png"))).expect("b");
        assert_eq!(a, b, "seed {seed} not reproduced");
    }
}

#[test]
fn inpaint_detail_is_recorded_and_off_gives_the_raw_samples() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let img = photo(t.path(), 240, 160);
    let mask = mask_png(t.path(), "mask.png", 240, 160, |x, y| {
        (100..150).contains(&x) && (50..110).contains(&y)
    });
    let common = ["--samples", "2", "--seed", "4", "--backend", "cpu"];
    // Default: detailed samples, raw ones beside them, the recipe says so.
    let on = t.path().join("on");
    let o = inpaint(s(&m), s(&img), s(&mask), s(&on), &common);
    assert!(o.status.success(), "inpaint failed: {}", stderr(&o));
    let recipe: serde_json::Value =
        serde_json::from_slice(&std::fs::read(on.join("recipe.json")).expect("recipe"))
            .expect("json");
    assert_eq!(recipe["detail"], "patch");
    assert!(recipe["detail_params"]["guide_weight"].is_number());
    assert_eq!(recipe["raw_outputs"].as_array().map(Vec::len), Some(2));
    let detailed = std::fs::read(on.join("seed-4.png")).expect("detailed");
    let raw_on = std::fs::read(on.join("seed-4-raw.png")).expect("raw");
    assert_ne!(detailed, raw_on, "detail changed nothing");
    // Off: the raw samples as seed-*.png, identical to the raw ones of the detailed run.
    let off = t.path().join("off");
    let mut args = common.to_vec();
    args.extend(["--detail", "off"]);
    let o = inpaint(s(&m), s(&img), s(&mask), s(&off), &args);
    assert!(o.status.success(), "inpaint failed: {}", stderr(&o));
    assert!(!off.join("seed-4-raw.png").exists());
    assert_eq!(std::fs::read(off.join("seed-4.png")).expect("off"), raw_on);
    // A recipe written before detail existed has no `detail`: it means off.
    let mut old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(off.join("recipe.json")).expect("recipe"))
            .expect("json");
    assert_eq!(old["detail"], "off");
    if let Some(o) = old.as_object_mut() {
        o.remove("detail");
        o.remove("detail_params");
        o.remove("raw_outputs");
    }
    let old_path = t.path().join("old-recipe.json");
    std::fs::write(&old_path, serde_json::to_vec(&old).expect("json")).expect("write");
    let again = t.path().join("again");
    let o = run(&[
        "inpaint",
        "--recipe",
        s(&old_path),
        "--out",
        s(&again),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "old recipe failed: {}", stderr(&o));
    assert_eq!(
        std::fs::read(again.join("seed-4.png")).expect("again"),
        raw_on
    );
    // A negative guide weight is refused, naming the option.
    let mut args = common.to_vec();
    args.push("--guide-weight=-1");
    let o = inpaint(s(&m), s(&img), s(&mask), s(&t.path().join("neg")), &args);
    assert_fails_with(&o, "--guide-weight");
}

#[test]
fn inpaint_never_overwrites_what_is_in_its_output_folder() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let out = t.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    // The user's photo sits in the output folder under a name a sample would take.
    let img = photo(&out, 120, 90);
    let named = out.join("seed-0.png");
    std::fs::rename(&img, &named).expect("rename");
    let before = std::fs::read(&named).expect("read");
    let mask = mask_png(t.path(), "mask.png", 120, 90, |x, y| {
        (40..80).contains(&x) && (30..60).contains(&y)
    });
    let args = [
        "--samples",
        "2",
        "--seed",
        "0",
        "--detail",
        "off",
        "--backend",
        "cpu",
    ];
    let o = inpaint(s(&m), s(&named), s(&mask), s(&out), &args);
    assert!(o.status.success(), "inpaint failed: {}", stderr(&o));
    assert!(stderr(&o).contains("run-2"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&named).expect("read"),
        before,
        "the input was overwritten"
    );
    assert!(out.join("run-2").join("seed-0.png").exists());
    assert!(out.join("run-2").join("recipe.json").exists());
    // A second run into the same folder leaves the first run alone.
    let first = std::fs::read(out.join("run-2").join("seed-1.png")).expect("first");
    let o = inpaint(
        s(&m),
        s(&named),
        s(&mask),
        s(&out),
        &[
            "--samples",
            "1",
            "--seed",
            "9",
            "--detail",
            "off",
            "--backend",
            "cpu",
        ],
    );
    assert!(o.status.success(), "inpaint failed: {}", stderr(&o));
    assert!(out.join("run-3").join("seed-9.png").exists());
    assert!(!out.join("run-2").join("seed-9.png").exists());
    assert_eq!(
        std::fs::read(out.join("run-2").join("seed-1.png")).expect("again"),
        first
    );
    // A file as --out is refused.
    let o = inpaint(s(&m), s(&named), s(&mask), s(&mask), &args);
    assert_fails_with(&o, "must be a folder");
}

#[test]
fn a_recipe_cannot_ask_for_more_samples_than_the_command_line() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let img = photo(t.path(), 120, 90);
    let mask = mask_png(t.path(), "mask.png", 120, 90, |x, y| {
        (40..80).contains(&x) && (30..60).contains(&y)
    });
    let out = t.path().join("out");
    let o = inpaint(
        s(&m),
        s(&img),
        s(&mask),
        s(&out),
        &["--samples", "1", "--detail", "off", "--backend", "cpu"],
    );
    assert!(o.status.success(), "inpaint failed: {}", stderr(&o));
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("recipe.json")).expect("recipe"))
            .expect("json");
    rec["seeds"] = serde_json::Value::from((0..100_000u64).collect::<Vec<_>>());
    let big = t.path().join("big.json");
    std::fs::write(&big, serde_json::to_vec(&rec).expect("json")).expect("write");
    let o = run(&[
        "inpaint",
        "--recipe",
        s(&big),
        "--out",
        s(&t.path().join("o2")),
        "--backend",
        "cpu",
    ]);
    assert_fails_with(&o, "100000 seeds");
    assert!(!t.path().join("o2").exists(), "nothing was written");
}

#[test]
fn inpaint_bad_inputs_are_clear_errors() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let img = photo(t.path(), 64, 48);
    let out = t.path().join("out");
    let hole = mask_png(t.path(), "hole.png", 64, 48, |x, y| {
        x > 20 && x < 40 && y > 10 && y < 30
    });
    // Missing photo.
    let o = inpaint(s(&m), "/nonexistent/p.png", s(&hole), s(&out), &[]);
    assert_fails_with(&o, "/nonexistent/p.png");
    // Corrupt photo.
    let bad = t.path().join("corrupt.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nthis is not really a png").expect("write");
    let o = inpaint(s(&m), s(&bad), s(&hole), s(&out), &[]);
    assert_fails_with(&o, "corrupt.png");
    // Empty mask.
    let empty = mask_png(t.path(), "empty.png", 64, 48, |_, _| false);
    let o = inpaint(s(&m), s(&img), s(&empty), s(&out), &[]);
    assert_fails_with(&o, "nothing to fill");
    // All-hole mask.
    let all = mask_png(t.path(), "all.png", 64, 48, |_, _| true);
    let o = inpaint(s(&m), s(&img), s(&all), s(&out), &[]);
    assert_fails_with(&o, "no known pixel");
    // Missing model folder.
    let o = inpaint("/nonexistent/model", s(&img), s(&hole), s(&out), &[]);
    assert_fails_with(&o, "/nonexistent/model");
}

#[test]
fn mask_of_another_size_is_resized_and_said() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let img = photo(t.path(), 64, 48);
    let small = mask_png(t.path(), "small.png", 32, 24, |x, y| {
        (10..20).contains(&x) && (5..15).contains(&y)
    });
    let out = t.path().join("out");
    let o = inpaint(
        s(&m),
        s(&img),
        s(&small),
        s(&out),
        &["--samples", "1", "--backend", "cpu"],
    );
    assert!(o.status.success(), "failed: {}", stderr(&o));
    assert!(
        stderr(&o).contains("resizing the mask"),
        "no note: {}",
        stderr(&o)
    );
}

#[test]
fn forward_rejects_wrong_shapes() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let img = t.path().join("image.npy");
    let mask = t.path().join("mask.npy");
    let z = t.path().join("z.npy");
    write_npy(&img, &[1, 4, 256, 256], &vec![0.0; 4 * 256 * 256]).expect("npy");
    write_npy(&mask, &[1, 1, 256, 256], &vec![0.0; 256 * 256]).expect("npy");
    write_npy(&z, &[1, 8], &[0.0; 8]).expect("npy");
    let out = t.path().join("out.npy");
    let o = forward(s(&m), s(&img), s(&mask), s(&z), s(&out));
    assert_fails_with(&o, "image");
    // z of the wrong length.
    write_npy(&img, &[1, 3, 256, 256], &vec![0.0; 3 * 256 * 256]).expect("npy");
    write_npy(&z, &[1, 7], &[0.0; 7]).expect("npy");
    let o = forward(s(&m), s(&img), s(&mask), s(&z), s(&out));
    assert_fails_with(&o, "z");
    // Not an npy file.
    std::fs::write(&z, b"hello").expect("write");
    let o = forward(s(&m), s(&img), s(&mask), s(&z), s(&out));
    assert_fails_with(&o, "z.npy");
}

#[test]
fn import_rejects_truncated_and_foreign_files() {
    let t = tempfile::tempdir().expect("tempdir");
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny");
    let gen_bytes = std::fs::read(f.join("generator.pth")).expect("fixture");
    let trunc = t.path().join("truncated.pth");
    std::fs::write(&trunc, &gen_bytes[..gen_bytes.len() / 2]).expect("write");
    let out = t.path().join("m");
    let o = run(&[
        "import",
        "--encoder",
        s(&f.join("encoder.pth")),
        "--decoder",
        s(&f.join("decoder.pth")),
        "--generator",
        s(&trunc),
        "--out",
        s(&out),
    ]);
    assert_fails_with(&o, "truncated.pth");
    let foreign = t.path().join("notes.pth");
    std::fs::write(&foreign, "just some text, not a checkpoint").expect("write");
    let o = run(&[
        "import",
        "--encoder",
        s(&foreign),
        "--decoder",
        s(&f.join("decoder.pth")),
        "--generator",
        s(&f.join("generator.pth")),
        "--out",
        s(&out),
    ]);
    assert_fails_with(&o, "notes.pth");
    // Encoder and generator swapped: a missing key is named.
    let o = run(&[
        "import",
        "--encoder",
        s(&f.join("generator.pth")),
        "--decoder",
        s(&f.join("decoder.pth")),
        "--generator",
        s(&f.join("encoder.pth")),
        "--out",
        s(&out),
    ]);
    assert_fails_with(&o, "missing tensor");
    assert!(!out.exists(), "a failed import left a model folder behind");
}

#[test]
fn maps_writes_pngs_and_legend() {
    let t = tempfile::tempdir().expect("tempdir");
    let mask = mask_png(t.path(), "mask.png", 200, 120, |x, y| {
        (50..120).contains(&x) && (30..90).contains(&y)
    });
    let out = t.path().join("maps");
    let o = run(&["maps", "--mask", s(&mask), "--out", s(&out)]);
    assert!(o.status.success(), "maps failed: {}", stderr(&o));
    for k in 0..6 {
        let h = image::open(out.join(format!("hard_{k}.png"))).expect("hard png");
        assert_eq!((h.width(), h.height()), (256, 256));
        let f = image::open(out.join(format!("hard_full_{k}.png"))).expect("full png");
        assert_eq!((f.width(), f.height()), (200, 120));
    }
    let legend: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("maps.json")).expect("legend"))
            .expect("json");
    assert_eq!(legend["units"].as_array().map(|a| a.len()), Some(6));
}

#[test]
fn auto_backend_says_what_it_picked() {
    let t = tempfile::tempdir().expect("tempdir");
    let mask = mask_png(t.path(), "mask.png", 64, 64, |x, y| {
        (20..40).contains(&x) && (20..40).contains(&y)
    });
    let m = tiny_model(t.path());
    let img = photo(t.path(), 64, 64);
    let o = run(&[
        "maps",
        "--mask",
        s(&mask),
        "--out",
        s(&t.path().join("o")),
        "--model",
        s(&m),
        "--image",
        s(&img),
    ]);
    assert!(o.status.success(), "maps with model failed: {}", stderr(&o));
    assert!(
        stderr(&o).contains("backend: "),
        "backend not reported: {}",
        stderr(&o)
    );
    assert!(t.path().join("o/soft_5.png").exists());
}

/// The external parity flow: `pdpaint import` the authors'-format files, then `pdpaint forward`
/// on raw arrays, and compare every output with the PyTorch reference.
#[test]
fn import_and_forward_cli_match_the_reference() {
    use pdpaint::npy::read_npy;
    let t = tempfile::tempdir().expect("tempdir");
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny");
    let m = t.path().join("m");
    let o = run(&[
        "import",
        "--encoder",
        s(&f.join("encoder.pth")),
        "--decoder",
        s(&f.join("decoder.pth")),
        "--generator",
        s(&f.join("generator.pth")),
        "--discriminator",
        s(&f.join("discriminator.pth")),
        "--out",
        s(&m),
    ]);
    assert!(o.status.success(), "import failed: {}", stderr(&o));
    let out = t.path().join("out.npy");
    let prior = t.path().join("prior.npy");
    let maps = t.path().join("maps");
    let o = run(&[
        "forward",
        "--model",
        s(&m),
        "--image",
        s(&f.join("image.npy")),
        "--mask",
        s(&f.join("mask.npy")),
        "--z",
        s(&f.join("z.npy")),
        "--out",
        s(&out),
        "--prior-out",
        s(&prior),
        "--maps-out",
        s(&maps),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "forward failed: {}", stderr(&o));
    let rel = |got: &Path, want: &Path| {
        let (a, b) = (read_npy(got).expect("got"), read_npy(want).expect("want"));
        assert_eq!(a.shape, b.shape, "{}", got.display());
        let num = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        let den = b
            .data
            .iter()
            .map(|y| y.abs())
            .fold(0f32, f32::max)
            .max(1e-12);
        num / den
    };
    assert!(rel(&out, &f.join("out.npy")) <= 1e-4);
    assert!(rel(&prior, &f.join("prior.npy")) <= 1e-4);
    for k in 0..6 {
        for kind in ["hard", "soft"] {
            let name = format!("{kind}_{k}.npy");
            let e = rel(&maps.join(&name), &f.join(&name));
            assert!(e <= 1e-4, "{name}: {e}");
        }
    }
}

#[test]
fn bench_train_reports_steps_per_second() {
    let o = run(&[
        "bench",
        "--train",
        "--presets",
        "tiny",
        "--train-res",
        "64",
        "--train-batch",
        "1",
        "--repeats",
        "1",
        "--vgg-width-div",
        "16",
        "--json",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "bench --train failed: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let t = &v["train"][0];
    assert_eq!(t["resolution"], 64);
    assert!(t["stage1_steps_per_s"].as_f64().is_some_and(|x| x > 0.0));
    assert!(t["stage2_steps_per_s"].as_f64().is_some_and(|x| x > 0.0));
}

/// Runs `cmd` and returns its output and its peak resident memory in KiB (VmHWM, read from
/// /proc while it runs; the last reading before it exits).
fn run_with_peak_rss(mut cmd: Command) -> (Output, u64) {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pdpaint");
    let status = format!("/proc/{}/status", child.id());
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let o = child.wait_with_output().expect("wait");
        let _ = tx.send(());
        o
    });
    let mut peak = 0u64;
    while rx.try_recv().is_err() {
        if let Ok(s) = std::fs::read_to_string(&status)
            && let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (waiter.join().expect("join"), peak)
}

#[test]
fn inpaint_memory_does_not_grow_with_the_number_of_samples() {
    // A 2400x1800 photo: every full-size sample kept in memory would cost 13 MB as RGB
    // (52 MB as float planes), so 12 more samples would add at least 155 MB.
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let (w, h) = (2400, 1800);
    let img = photo(t.path(), w, h);
    let mask = mask_png(t.path(), "mask.png", w, h, |x, y| {
        (900..1500).contains(&x) && (600..1200).contains(&y)
    });
    let peak = |n: &str, out: &str| {
        let mut cmd = bin();
        cmd.args([
            "inpaint",
            "--model",
            s(&m),
            "--image",
            s(&img),
            "--mask",
            s(&mask),
            "--out",
            out,
            "--samples",
            n,
            "--detail",
            "off",
            "--backend",
            "cpu",
        ]);
        let (o, kib) = run_with_peak_rss(cmd);
        assert!(o.status.success(), "inpaint failed: {}", stderr(&o));
        kib
    };
    let two = peak("2", s(&t.path().join("a")));
    let fourteen = peak("14", s(&t.path().join("b")));
    assert!(t.path().join("b").join("seed-13.png").is_file());
    let grown_mib = fourteen.saturating_sub(two) as f64 / 1024.0;
    eprintln!("peak RSS: 2 samples {two} KiB, 14 samples {fourteen} KiB (+{grown_mib:.1} MiB)");
    assert!(
        grown_mib < 60.0,
        "12 more samples grew the peak by {grown_mib:.1} MiB ({two} -> {fourteen} KiB)"
    );
}
