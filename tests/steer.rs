//! The steering engine and its command line on real files: interpolation between seeds, pins,
//! mixes, rank scores and recipes (limits, old recipes, bit-for-bit replay). The samples come
//! from the embedded default model on a 160×120 crop of `assets/coffee.png`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
use pdpaint::inference::{InpaintOptions, Inpainter, ZSpec};
use pdpaint::mask::Mask;
use pdpaint::steer::score::{Realism, SeamScorer, realism};
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `pdpaint ARGS` run from the repository root (recipes name their inputs relative to it).
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdpaint"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("spawn pdpaint")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "pdpaint failed: {}", stderr(o));
}

/// Fails (non-zero, not a panic) with a message containing `needle`.
fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure; stderr: {err}");
    assert_ne!(o.status.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

const PHOTO: &str = "tests/fixtures/steer/old/photo.png";
const MASK: &str = "tests/fixtures/steer/old/mask.png";

fn photo() -> RgbImage {
    image::open(root().join(PHOTO)).expect("photo").to_rgb8()
}

fn hole() -> Mask {
    Mask::load(&root().join(MASK)).expect("mask")
}

fn open(p: &Path) -> RgbImage {
    image::open(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .to_rgb8()
}

/// SHA-256 of the decoded pixels (not the PNG bytes).
fn pixel_hash(p: &Path) -> String {
    format!("{:x}", Sha256::digest(open(p).as_raw()))
}

/// `pdpaint inpaint` on the fixture photo and mask into `out`, on the CPU.
fn inpaint(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "inpaint",
        "--image",
        PHOTO,
        "--mask",
        MASK,
        "--out",
        s(out),
        "--backend",
        "cpu",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn replay(recipe: &Path, out: &Path) -> Output {
    run(&[
        "inpaint",
        "--recipe",
        s(recipe),
        "--out",
        s(out),
        "--backend",
        "cpu",
    ])
}

fn pngs(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".png") && !n.ends_with("-raw.png"))
        .collect();
    v.sort();
    v
}

fn write_mask(path: &Path, f: impl Fn(u32, u32) -> bool) {
    Mask::from_hole_fn(160, 120, f).save(path).expect("mask");
}

#[test]
fn between_writes_the_fills_in_order_detailed_and_replays_them_bit_for_bit() {
    let t = tempfile::tempdir().expect("tempdir");
    let out = t.path().join("between");
    ok(&inpaint(&out, &["--between", "3", "8", "--steps", "2"]));
    let names = pngs(&out, "between-");
    assert_eq!(
        names,
        [
            "between-00-seed-3.png",
            "between-01-slerp-3-8-1of3.png",
            "between-02-slerp-3-8-2of3.png",
            "between-03-seed-8.png",
        ]
    );
    // Detail applied to each (the raw ones are beside them and differ).
    for n in &names {
        let raw = out.join(n.replace(".png", "-raw.png"));
        assert_ne!(pixel_hash(&out.join(n)), pixel_hash(&raw), "{n}");
    }
    // The ends are exactly the plain seeds' samples.
    let plain = t.path().join("plain");
    ok(&inpaint(&plain, &["--samples", "1", "--seed", "3"]));
    assert_eq!(
        pixel_hash(&out.join(&names[0])),
        pixel_hash(&plain.join("seed-3.png"))
    );
    // Neighbours differ: the strip moves.
    assert_ne!(
        pixel_hash(&out.join(&names[1])),
        pixel_hash(&out.join(&names[2]))
    );
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("recipe.json")).expect("recipe"))
            .expect("json");
    assert_eq!(rec["naming"], "between");
    assert_eq!(rec["samples"][1]["slerp"]["step"], 1);
    assert_eq!(rec["samples"][1]["slerp"]["steps"], 3);
    let again = t.path().join("again");
    ok(&replay(&out.join("recipe.json"), &again));
    assert_eq!(pngs(&again, "between-"), names);
    for n in &names {
        assert_eq!(
            pixel_hash(&out.join(n)),
            pixel_hash(&again.join(n)),
            "{n} not reproduced"
        );
    }
}

#[test]
fn pins_keep_their_pixels_in_every_new_sample_and_replay_bit_for_bit() {
    let t = tempfile::tempdir().expect("tempdir");
    // The hole is x 64..104, y 44..80; keep its left 16 columns from seed 3.
    let keep = t.path().join("keep.png");
    write_mask(&keep, |x, _| x < 80);
    let source = t.path().join("source");
    ok(&inpaint(&source, &["--samples", "1", "--seed", "3"]));
    let kept = open(&source.join("seed-3.png"));
    let pin = format!("3:{}", s(&keep));
    let out = t.path().join("pinned");
    ok(&inpaint(
        &out,
        &["--samples", "3", "--seed", "20", "--pin", &pin],
    ));
    let h = hole();
    let samples: Vec<RgbImage> = (20..23)
        .map(|sd| open(&out.join(format!("seed-{sd}.png"))))
        .collect();
    let mut kept_px = 0;
    for (x, y, p) in kept.enumerate_pixels() {
        if h.is_hole(x, y) && x < 80 {
            kept_px += 1;
            for (k, smp) in samples.iter().enumerate() {
                assert_eq!(smp.get_pixel(x, y), p, "sample {k} lost kept ({x},{y})");
            }
        }
    }
    assert_eq!(kept_px, 16 * 36);
    // The rest of the hole is re-rolled: the seeds disagree there.
    let rest_differs = |a: &RgbImage, b: &RgbImage| {
        a.enumerate_pixels()
            .filter(|(x, y, _)| h.is_hole(*x, *y) && *x >= 80)
            .filter(|(x, y, p)| b.get_pixel(*x, *y) != *p)
            .count()
    };
    assert!(rest_differs(&samples[0], &samples[1]) > 100);
    assert!(rest_differs(&samples[1], &samples[2]) > 100);
    // The mask is stored beside the recipe with its hash, and the replay is bit-identical.
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("recipe.json")).expect("recipe"))
            .expect("json");
    assert_eq!(rec["pins"][0]["mask"]["path"], "pins/pin-1.png");
    assert_eq!(rec["pins"][0]["source"]["seed"], 3);
    assert_eq!(rec["pins"][0]["detail"], "patch");
    assert!(out.join("pins/pin-1.png").exists());
    let again = t.path().join("again");
    ok(&replay(&out.join("recipe.json"), &again));
    for sd in 20..23 {
        let n = format!("seed-{sd}.png");
        assert_eq!(
            pixel_hash(&out.join(&n)),
            pixel_hash(&again.join(&n)),
            "{n}"
        );
    }
    // A stored mask that was changed is refused.
    write_mask(&out.join("pins/pin-1.png"), |x, _| x < 70);
    assert_fails_with(
        &replay(&out.join("recipe.json"), &t.path().join("bad")),
        "SHA-256 differs",
    );
}

#[test]
fn stacked_pins_apply_in_order_and_a_pin_that_leaves_nothing_is_refused() {
    let t = tempfile::tempdir().expect("tempdir");
    let left = t.path().join("left.png");
    write_mask(&left, |x, _| x < 76);
    let right = t.path().join("right.png");
    write_mask(&right, |x, _| x >= 92);
    let (p1, p2) = (format!("3:{}", s(&left)), format!("9:{}", s(&right)));
    let out = t.path().join("two");
    ok(&inpaint(
        &out,
        &[
            "--samples",
            "2",
            "--seed",
            "30",
            "--detail",
            "off",
            "--pin",
            &p1,
            "--pin",
            &p2,
        ],
    ));
    let (a, b) = (
        open(&out.join("seed-30.png")),
        open(&out.join("seed-31.png")),
    );
    let h = hole();
    for (x, y, p) in a.enumerate_pixels() {
        if h.is_hole(x, y) && !(76..92).contains(&x) {
            assert_eq!(b.get_pixel(x, y), p, "pinned ({x},{y}) differs");
        }
    }
    assert_ne!(a, b);
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("recipe.json")).expect("recipe"))
            .expect("json");
    assert_eq!(rec["pins"].as_array().map(Vec::len), Some(2));
    let again = t.path().join("again");
    ok(&replay(&out.join("recipe.json"), &again));
    assert_eq!(
        pixel_hash(&out.join("seed-31.png")),
        pixel_hash(&again.join("seed-31.png"))
    );
    // Undo = drop the last pin from the recipe: the one-pin run's pixels come back.
    let one = t.path().join("one");
    ok(&inpaint(
        &one,
        &[
            "--samples",
            "1",
            "--seed",
            "30",
            "--detail",
            "off",
            "--pin",
            &p1,
        ],
    ));
    let mut undo = rec.clone();
    if let Some(p) = undo["pins"].as_array_mut() {
        p.pop();
    }
    let undo_path = out.join("undo.json");
    std::fs::write(&undo_path, serde_json::to_vec(&undo).expect("json")).expect("write");
    let undone = t.path().join("undone");
    ok(&replay(&undo_path, &undone));
    assert_eq!(
        pixel_hash(&undone.join("seed-30.png")),
        pixel_hash(&one.join("seed-30.png"))
    );
    // Pins that together keep the whole hole leave nothing to fill.
    let all = t.path().join("all.png");
    write_mask(&all, |x, _| x >= 70);
    let p3 = format!("4:{}", s(&all));
    let o = inpaint(
        &t.path().join("none"),
        &["--samples", "1", "--pin", &p1, "--pin", &p3],
    );
    assert_fails_with(&o, "pin 2");
    assert!(!t.path().join("none").exists(), "nothing was written");
}

#[test]
fn a_mix_changes_only_the_brushed_hole_and_undo_reproduces_the_previous_pixels() {
    let t = tempfile::tempdir().expect("tempdir");
    let b1 = t.path().join("b1.png");
    write_mask(&b1, |x, y| x < 80 && y < 60);
    let b2 = t.path().join("b2.png");
    write_mask(&b2, |x, y| x >= 90 && y >= 65);
    let m1 = format!("41:{}", s(&b1));
    let m2 = format!("42:{}", s(&b2));
    let common = [
        "--samples",
        "3",
        "--seed",
        "40",
        "--detail",
        "off",
        "--mix-base",
        "40",
        "--mix-feather",
        "4",
    ];
    let one = t.path().join("one");
    let mut args = common.to_vec();
    args.extend(["--mix", &m1]);
    ok(&inpaint(&one, &args));
    let two = t.path().join("two");
    args.extend(["--mix", &m2]);
    ok(&inpaint(&two, &args));
    let (base, other, mixed) = (
        open(&two.join("seed-40.png")),
        open(&two.join("seed-41.png")),
        open(&two.join("mix.png")),
    );
    let orig = photo();
    let h = hole();
    for (x, y, p) in mixed.enumerate_pixels() {
        if !h.is_hole(x, y) {
            assert_eq!(p, orig.get_pixel(x, y), "known ({x},{y}) changed");
        } else if x < 80 && y < 60 {
            assert_eq!(p, other.get_pixel(x, y), "brushed ({x},{y})");
        } else if x < 80 + 4 && y < 60 + 4 || x >= 90 - 4 && y >= 65 - 4 {
            // the soft edges
        } else {
            assert_eq!(p, base.get_pixel(x, y), "unbrushed ({x},{y})");
        }
    }
    // Replay is bit-identical; dropping the last step gives the one-step mix exactly.
    let again = t.path().join("again");
    ok(&replay(&two.join("recipe.json"), &again));
    assert_eq!(
        pixel_hash(&two.join("mix.png")),
        pixel_hash(&again.join("mix.png"))
    );
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(two.join("recipe.json")).expect("recipe"))
            .expect("json");
    assert_eq!(rec["mix"]["steps"].as_array().map(Vec::len), Some(2));
    if let Some(st) = rec["mix"]["steps"].as_array_mut() {
        st.pop();
    }
    let undo = two.join("undo.json");
    std::fs::write(&undo, serde_json::to_vec(&rec).expect("json")).expect("write");
    let undone = t.path().join("undone");
    ok(&replay(&undo, &undone));
    assert_eq!(
        pixel_hash(&undone.join("mix.png")),
        pixel_hash(&one.join("mix.png"))
    );
    assert_ne!(
        pixel_hash(&one.join("mix.png")),
        pixel_hash(&two.join("mix.png"))
    );
}

#[test]
fn the_seam_score_ranks_flat_and_shifted_fills_worse_than_the_truth_on_a_real_photo() {
    // A 200×150 crop of the coffee photo (cup rim, saucer and table) with an object-sized hole.
    let full = image::open(root().join("assets/coffee.png"))
        .expect("coffee")
        .to_rgb8();
    let img = image::imageops::crop_imm(&full, 150, 150, 200, 150).to_image();
    let hole = Mask::from_hole_fn(200, 150, |x, y| {
        let (dx, dy) = (x as f32 - 100.0, y as f32 - 75.0);
        dx * dx / (30.0 * 30.0) + dy * dy / (22.0 * 22.0) <= 1.0
    });
    let scorer = SeamScorer::new(&hole).expect("scorer");
    let truth = scorer.score(&img).expect("score");
    // Flat: the mean colour of the hole.
    let n = hole.hole_count() as u64;
    let mut sum = [0u64; 3];
    for (x, y, p) in img.enumerate_pixels() {
        if hole.is_hole(x, y) {
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
        }
    }
    let mean = Rgb([(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]);
    let fill = |f: &dyn Fn(u32, u32) -> Rgb<u8>| {
        let mut out = img.clone();
        for (x, y, p) in out.enumerate_pixels_mut() {
            if hole.is_hole(x, y) {
                *p = f(x, y);
            }
        }
        out
    };
    let flat = scorer.score(&fill(&|_, _| mean)).expect("flat");
    // Shifted: the right content, 12 px off.
    let shifted = scorer
        .score(&fill(&|x, y| *img.get_pixel(x + 12, y + 6)))
        .expect("shifted");
    assert!(
        truth.score < flat.score && truth.score < shifted.score,
        "truth {truth:?} flat {flat:?} shifted {shifted:?}"
    );
    assert!(
        (0.5..1.6).contains(&truth.score),
        "the untouched photo should score near 1: {truth:?}"
    );
    assert!(flat.score > 1.5 * truth.score, "{flat:?} vs {truth:?}");
}

#[test]
fn realism_is_scored_with_a_discriminator_and_typed_absent_without_one() {
    let dev = burn::tensor::Device::flex();
    // The default model's critic scores its samples.
    let inp = Inpainter::embedded(&dev).expect("embedded");
    assert!(inp.model_file().has_discriminator);
    let (img, h) = (photo(), hole());
    let opts = InpaintOptions::default();
    let session = inp.session(&img, &h, &opts).expect("session");
    let smp = session.sample_for(ZSpec::Seed(1)).expect("sample");
    let r = realism(&session, &smp.photo).expect("realism");
    assert!(
        matches!(r, Realism::Score { value } if value.is_finite()),
        "{r:?}"
    );
    // The tiny fixture imported with its discriminator: Inpainter::load reads it.
    let t = tempfile::tempdir().expect("tempdir");
    let f = root().join("tests/fixtures/tiny");
    let m = t.path().join("m");
    ok(&run(&[
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
    ]));
    let inp = Inpainter::load(&m, &dev).expect("load");
    assert!(inp.model_file().has_discriminator);
    assert!(inp.discriminator().is_some());
    let session = inp.session(&img, &h, &opts).expect("session");
    let a = session.sample_for(ZSpec::Seed(1)).expect("sample");
    let ra = realism(&session, &a.photo).expect("realism");
    let Realism::Score { value } = ra else {
        panic!("no score with a discriminator: {ra:?}");
    };
    assert!(value.is_finite());
    // Deterministic, and it looks at the pixels: a blanked hole scores differently.
    assert_eq!(realism(&session, &a.photo).expect("again"), ra);
    let mut blank = a.photo.clone();
    for (x, y, p) in blank.enumerate_pixels_mut() {
        if h.is_hole(x, y) {
            *p = Rgb([255, 0, 255]);
        }
    }
    assert_ne!(realism(&session, &blank).expect("blank"), ra);
    // An exported copy has no discriminator: realism is typed absent, and the command line
    // refuses to sort by a score the model cannot give.
    let bare = t.path().join("bare");
    ok(&run(&["export", "--model", s(&m), "--out", s(&bare)]));
    let inp = Inpainter::load(&bare, &dev).expect("load");
    assert!(inp.discriminator().is_none());
    let session = inp.session(&img, &h, &opts).expect("session");
    let b = session.sample_for(ZSpec::Seed(1)).expect("sample");
    assert_eq!(
        realism(&session, &b.photo).expect("realism"),
        Realism::NoDiscriminator
    );
    let o = inpaint(
        &t.path().join("o"),
        &["--model", s(&bare), "--sort-by", "realism"],
    );
    assert_fails_with(&o, "needs a model with a discriminator");
    // `--critic` keeps it: in full precision the copy scores exactly as the original, in half
    // precision (`discriminator.f16`, as shipped) within rounding.
    let critic_score = |dir: &std::path::Path| {
        let inp = Inpainter::load(dir, &dev).expect("load");
        assert!(inp.discriminator().is_some(), "{}", dir.display());
        let session = inp.session(&img, &h, &opts).expect("session");
        match realism(&session, &a.photo).expect("realism") {
            Realism::Score { value } => value,
            other => panic!("{other:?}"),
        }
    };
    let full = t.path().join("full");
    ok(&run(&[
        "export",
        "--critic",
        "--model",
        s(&m),
        "--out",
        s(&full),
    ]));
    let Realism::Score { value: original } = ra else {
        unreachable!()
    };
    assert_eq!(critic_score(&full), original);
    let half = t.path().join("half");
    ok(&run(&[
        "export",
        "--critic",
        "--half",
        "--model",
        s(&m),
        "--out",
        s(&half),
    ]));
    assert!(half.join("discriminator.f16").is_file());
    let v = critic_score(&half);
    assert!(
        (v - original).abs() <= 0.02 * original.abs().max(1.0),
        "{v} vs {original}"
    );
    // A folder without one is refused, naming it.
    let o = run(&[
        "export",
        "--critic",
        "--model",
        s(&bare),
        "--out",
        s(&t.path().join("x")),
    ]);
    assert_fails_with(&o, "--critic needs a folder with a discriminator");
    assert!(!t.path().join("x").exists());
}

#[test]
fn a_sample_does_not_depend_on_the_batch_it_was_made_in() {
    // Pins regenerate their source sample alone; the studio may have made it in a batch.
    let dev = burn::tensor::Device::flex();
    let (file, model) = pdpaint::model::embedded::load(&dev).expect("embedded");
    let inp = Inpainter::new(model, file, dev);
    let (img, h) = (photo(), hole());
    let session = inp
        .session(&img, &h, &InpaintOptions::default())
        .expect("session");
    let specs: Vec<ZSpec> = [4, 5, 6, 7].into_iter().map(ZSpec::Seed).collect();
    let batch = session.samples_for(&specs).expect("batch");
    let alone = session.sample_for(ZSpec::Seed(6)).expect("alone");
    assert_eq!(batch[2].photo, alone.photo);
    assert_eq!(batch[2].spec, ZSpec::Seed(6));
}

#[test]
fn a_recipe_written_before_specs_pins_and_mixes_replays_identically() {
    let t = tempfile::tempdir().expect("tempdir");
    let fixture = root().join("tests/fixtures/steer/old");
    let text = std::fs::read_to_string(fixture.join("recipe.json")).expect("recipe");
    assert!(text.contains("\"seeds\"") && !text.contains("\"samples\""));
    let out = t.path().join("out");
    ok(&replay(&fixture.join("recipe.json"), &out));
    for n in [
        "seed-5.png",
        "seed-6.png",
        "seed-5-raw.png",
        "seed-6-raw.png",
    ] {
        assert_eq!(
            open(&out.join(n)),
            open(&fixture.join(n)),
            "{n} differs from the one the old recipe made"
        );
    }
    // The new recipe lists the same samples as specs.
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("recipe.json")).expect("recipe"))
            .expect("json");
    assert_eq!(rec["format"], 2);
    assert_eq!(
        rec["samples"],
        serde_json::json!([{"seed": 5}, {"seed": 6}])
    );
}

#[test]
fn recipe_limits_refuse_huge_lists_and_paths_outside_the_recipe_folder() {
    let t = tempfile::tempdir().expect("tempdir");
    let keep = t.path().join("keep.png");
    write_mask(&keep, |x, _| x < 80);
    let out = t.path().join("out");
    let pin = format!("3:{}", s(&keep));
    ok(&inpaint(
        &out,
        &["--samples", "1", "--detail", "off", "--pin", &pin],
    ));
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("recipe.json")).expect("recipe"))
            .expect("json");
    let write = |v: &serde_json::Value, name: &str| {
        let p = out.join(name);
        std::fs::write(&p, serde_json::to_vec(v).expect("json")).expect("write");
        p
    };
    let mut big = rec.clone();
    big["samples"] = (0..100_000u64)
        .map(|i| serde_json::json!({ "seed": i }))
        .collect();
    let o = replay(&write(&big, "big.json"), &t.path().join("o1"));
    assert_fails_with(&o, "100000 samples");
    assert!(!t.path().join("o1").exists(), "nothing was written");
    for bad in ["../x.png", "/etc/passwd", "pins/../../x.png"] {
        let mut evil = rec.clone();
        evil["pins"][0]["mask"]["path"] = serde_json::Value::from(bad);
        let o = replay(&write(&evil, "evil.json"), &t.path().join("o2"));
        assert_fails_with(&o, "plain names inside the recipe's folder");
        assert!(!t.path().join("o2").exists(), "nothing was written");
    }
    let mut many = rec.clone();
    many["pins"] = serde_json::Value::Array(vec![rec["pins"][0].clone(); 33]);
    let o = replay(&write(&many, "many.json"), &t.path().join("o3"));
    assert_fails_with(&o, "33 pins");
    // A huge file is refused before it is parsed.
    let huge = out.join("huge.json");
    std::fs::write(&huge, vec![b' '; 9 << 20]).expect("write");
    assert_fails_with(&replay(&huge, &t.path().join("o4")), "bytes, more than");
}

/// The cost of ranking a gallery of 16 at 12 Mpx (4000×3000): the seam scorer is built once
/// per hole and reads only the pixels near the hole's edge; realism runs a discriminator of
/// the embedded model's architecture (random weights: the default model ships none) once per
/// sample on the context box at model resolution. Run with
/// `cargo test --test steer -- --ignored --nocapture score_cost`.
#[test]
#[ignore = "a measurement: prints timings at 12 Mpx"]
fn score_cost_at_12_mpx() {
    use std::time::Instant;
    let (w, h) = (4000u32, 3000u32);
    let full = image::open(root().join("assets/coffee.png"))
        .expect("coffee")
        .to_rgb8();
    let img = image::imageops::resize(&full, w, h, image::imageops::FilterType::Triangle);
    for (name, rx, ry) in [("object", 300.0f32, 220.0f32), ("large", 900.0, 650.0)] {
        let hole = Mask::from_hole_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - 2000.0, y as f32 - 1500.0);
            dx * dx / (rx * rx) + dy * dy / (ry * ry) <= 1.0
        });
        let samples: Vec<RgbImage> = (0..16u8)
            .map(|k| {
                let mut s = img.clone();
                for (x, y, p) in s.enumerate_pixels_mut() {
                    if hole.is_hole(x, y) {
                        *p = Rgb([k * 10, 100, 200 - k * 10]);
                    }
                }
                s
            })
            .collect();
        let t0 = Instant::now();
        let scorer = SeamScorer::new(&hole).expect("scorer");
        let build = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let scores: Vec<f32> = samples
            .iter()
            .map(|s| scorer.score(s).expect("score").score)
            .collect();
        let each = t1.elapsed().as_secs_f64() / 16.0;
        assert!(scores.iter().all(|v| v.is_finite()));
        assert_eq!(scorer.score(&samples[3]).expect("again").score, scores[3]);
        println!(
            "seam, {name} hole ({:.1}% of 12 Mpx): scorer {:.0} ms once, {:.2} ms per sample, 16 samples {:.0} ms",
            100.0 * hole.hole_ratio(),
            1e3 * build,
            1e3 * each,
            1e3 * (build + 16.0 * each)
        );
    }
    // The embedded model's architecture with a randomly initialised discriminator.
    let dev = burn::tensor::Device::flex();
    let (file, model) = pdpaint::model::embedded::load(&dev).expect("embedded");
    let disc = pdpaint::model::Discriminator::from_source(
        &mut pdpaint::model::params::ParamSource::random(1, &dev),
        &file.config.discriminator,
    )
    .expect("discriminator");
    let inp = Inpainter::new(model, file, dev).with_discriminator(disc);
    let hole = Mask::from_hole_fn(w, h, |x, y| {
        (1700..2300).contains(&x) && (1280..1720).contains(&y)
    });
    let session = inp
        .session(&img, &hole, &InpaintOptions::default())
        .expect("session");
    let t2 = Instant::now();
    let mut vals = Vec::new();
    for _ in 0..16 {
        vals.push(realism(&session, &img).expect("realism"));
    }
    let each = t2.elapsed().as_secs_f64() / 16.0;
    assert!(vals.iter().all(|r| r.value().is_some_and(f32::is_finite)));
    assert!(vals.windows(2).all(|p| p[0] == p[1]));
    println!(
        "realism (default architecture, R = {}): {:.1} ms per sample, 16 samples {:.0} ms",
        inp.resolution(),
        1e3 * each,
        1e3 * 16.0 * each
    );
}
