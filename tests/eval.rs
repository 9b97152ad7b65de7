//! `pdpaint eval` on real files: a tiny untrained model and two generated photos, and bad input
//! (a clear error and exit code 1, never a panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use image::{Rgb, RgbImage};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdpaint"))
        .args(args)
        .output()
        .expect("spawn pdpaint")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Exit code 1 (not a panic) with a message containing `needle`.
/// Runs `pdpaint eval --model MODEL --data DATA --out OUT` with `extra` arguments after them.
fn eval(model: &str, data: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["eval", "--model", model, "--data", data, "--out", s(out)];
    args.extend_from_slice(extra);
    run(&args)
}

fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit code 1; stderr: {err}"
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

fn tiny_model(dir: &Path) -> PathBuf {
    let m = dir.join("tiny");
    let o = run(&["init", "--preset", "tiny", "--seed", "1", "--out", s(&m)]);
    assert!(o.status.success(), "init failed: {}", stderr(&o));
    m
}

/// Two smooth photos (gradients, slow waves, rings) in `dir/photos`: Telea should fill them
/// well, an untrained network should not.
fn photos(dir: &Path) -> PathBuf {
    let d = dir.join("photos");
    std::fs::create_dir_all(&d).expect("mkdir");
    let a = RgbImage::from_fn(320, 280, |x, y| {
        let wave = 128.0 + 90.0 * ((x as f32 / 23.0).sin() * (y as f32 / 31.0).cos());
        Rgb([(x * 255 / 320) as u8, (y * 255 / 280) as u8, wave as u8])
    });
    a.save(d.join("a.png")).expect("save a");
    let b = RgbImage::from_fn(300, 300, |x, y| {
        let (dx, dy) = (x as f32 - 150.0, y as f32 - 140.0);
        let r = (dx * dx + dy * dy).sqrt();
        let v = (128.0 + 100.0 * (r / 11.0).sin()) as u8;
        Rgb([v, 255 - v, (60 + (x + y) / 3) as u8])
    });
    b.save(d.join("b.png")).expect("save b");
    d
}

#[test]
fn eval_writes_a_report_with_every_bin_and_method() {
    let t = tempfile::tempdir().expect("tempdir");
    let m = tiny_model(t.path());
    let data = photos(t.path());
    let out = t.path().join("reports/tiny-eval.json");
    let start = Instant::now();
    let o = eval(
        s(&m),
        s(&data),
        &out,
        &[
            "--per-bin",
            "2",
            "--samples",
            "2",
            "--seed",
            "5",
            "--bootstrap",
            "50",
            "--backend",
            "cpu",
        ],
    );
    println!(
        "pdpaint eval (tiny, 2 per bin, 2 samples): {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    let text = std::fs::read_to_string(&out).expect("report json");
    let md = std::fs::read_to_string(t.path().join("reports/tiny-eval.md")).expect("report md");
    let r: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    let bins = r["bins"].as_array().expect("bins");
    let labels: Vec<&str> = bins
        .iter()
        .map(|b| b["bin"].as_str().expect("label"))
        .collect();
    assert_eq!(
        labels,
        ["0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%"]
    );
    for b in bins {
        let (lo, hi) = (b["lo"].as_f64().expect("lo"), b["hi"].as_f64().expect("hi"));
        let ratio = b["mean_hole_ratio"].as_f64().expect("ratio");
        assert!(ratio > lo && ratio <= hi + 1e-6, "{b}");
        let methods: Vec<&str> = b["methods"]
            .as_array()
            .expect("methods")
            .iter()
            .map(|m| m["method"].as_str().expect("name"))
            .collect();
        assert_eq!(methods, ["pd-gan", "prior", "telea"]);
        for m in b["methods"].as_array().expect("methods") {
            for k in [
                "psnr_best",
                "psnr_mean",
                "ssim_best",
                "ssim_mean",
                "l1_best",
                "l1_mean",
            ] {
                let v = m[k].as_f64().unwrap_or(f64::NAN);
                assert!(v.is_finite(), "{k} of {m}");
            }
            assert!(m["psnr_best"].as_f64() >= m["psnr_mean"].as_f64(), "{m}");
            assert!(m["l1_best"].as_f64() <= m["l1_mean"].as_f64(), "{m}");
            let swd = m["swd"]["levels"].as_array().expect("swd levels");
            assert_eq!(swd.len(), 5, "256² → 256, 128, 64, 32, 16");
            assert!(m["swd"]["mean"].as_f64().expect("swd") > 0.0, "{m}");
        }
        let gan = &b["methods"][0];
        assert!(gan["diversity_l1"].as_f64().expect("div") > 0.0, "{gan}");
        assert!(
            gan["diversity_feature"].as_f64().expect("div") > 0.0,
            "{gan}"
        );
        assert_eq!(b["methods"][2]["diversity_l1"].as_f64(), Some(0.0));
        assert_eq!(b["edge_diversity"].as_array().expect("bands").len(), 6);
        // The paired bootstrap of PD-GAN's SWD against each baseline.
        let vs = b["swd_vs_baselines"].as_array().expect("contrasts");
        let names: Vec<&str> = vs
            .iter()
            .map(|c| c["baseline"].as_str().expect("baseline"))
            .collect();
        assert_eq!(names, ["prior", "telea"], "{b}");
        for (c, m) in vs.iter().zip(1..) {
            let f = |k: &str| c[k].as_f64().unwrap_or(f64::NAN);
            let want = gan["swd"]["mean"].as_f64().expect("swd")
                - b["methods"][m]["swd"]["mean"].as_f64().expect("swd");
            assert!((f("difference") - want).abs() < 1e-9, "{c}");
            assert!(f("low") <= f("high"), "{c}");
            assert!((0.0..=1.0).contains(&f("pdgan_better")), "{c}");
            assert_eq!(c["reps"], 50);
        }
    }
    assert_eq!(r["items"].as_array().expect("items").len(), 12);
    assert_eq!(r["settings"]["samples"], 2);
    assert_eq!(r["settings"]["bootstrap"], 50);
    assert!(
        r["settings"]["feature_net"]
            .as_str()
            .expect("vgg")
            .contains("random")
    );
    // Per photo, over the 30-60 % bins: two crops per bin alternate between the two photos,
    // so each has three, and its means are those of its items.
    let per_photo = r["per_photo"].as_array().expect("per_photo");
    assert_eq!(per_photo.len(), 2, "{per_photo:?}");
    for (p, name) in per_photo.iter().zip(["a.png", "b.png"]) {
        let photo = p["photo"].as_str().expect("photo");
        assert!(photo.ends_with(name), "{p}");
        assert_eq!(p["items"], 3);
        let large: Vec<&serde_json::Value> = r["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| {
                ["30-40%", "40-50%", "50-60%"].contains(&i["bin"].as_str().expect("bin"))
                    && i["photo"].as_str() == Some(photo)
            })
            .collect();
        assert_eq!(large.len(), 3);
        for (m, key) in p["methods"]
            .as_array()
            .expect("methods")
            .iter()
            .zip(["pdgan", "prior", "telea"])
        {
            let want = large
                .iter()
                .map(|i| i[key]["psnr_mean"].as_f64().expect("psnr"))
                .sum::<f64>()
                / 3.0;
            let got = m["psnr_mean"].as_f64().expect("psnr");
            assert!((got - want).abs() < 1e-9, "{key}: {got} vs {want}");
            assert!(m["swd"]["mean"].as_f64().expect("swd") > 0.0, "{m}");
        }
    }
    // Telea is a sensible fill: on these smooth photos it beats an untrained network.
    let telea_psnr: f64 = bins
        .iter()
        .map(|b| b["methods"][2]["psnr_mean"].as_f64().expect("psnr"))
        .sum();
    let gan_psnr: f64 = bins
        .iter()
        .map(|b| b["methods"][0]["psnr_mean"].as_f64().expect("psnr"))
        .sum();
    assert!(
        telea_psnr > gan_psnr,
        "telea {telea_psnr} vs untrained {gan_psnr}"
    );
    for needle in [
        "| 0-10% | pd-gan |",
        "| 50-60% | telea |",
        "| 30-40% | prior |",
        "Diversity against distance from the hole edge",
        "| all |",
        "untrained",
        "not comparable",
        "## Per held-out photo (bins from 30% pooled)",
        "| a.png | 3 |",
        "| b.png | 3 |",
        "## Is pd-gan's SWD lower than the baselines'? (paired bootstrap)",
        "| bin | vs prior | vs telea |",
    ] {
        assert!(md.contains(needle), "markdown lacks {needle:?}:\n{md}");
    }
}

#[test]
fn eval_bad_inputs_are_clear_errors() {
    let t = tempfile::tempdir().expect("tempdir");
    let data = photos(t.path());
    let out = t.path().join("r");
    // Missing model folder.
    let o = eval("/nonexistent/model", s(&data), &out, &["--backend", "cpu"]);
    assert_fails_with(&o, "/nonexistent/model");
    // A folder that is not a model.
    let o = eval(s(&data), s(&data), &out, &["--backend", "cpu"]);
    assert_fails_with(&o, s(&data));
    let m = tiny_model(t.path());
    // Empty data folder.
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::write(empty.join("notes.txt"), "not a photo").expect("write");
    let o = eval(s(&m), s(&empty), &out, &["--backend", "cpu"]);
    assert_fails_with(&o, "no readable photo");
    // Missing data folder.
    let o = eval(s(&m), "/nonexistent/photos", &out, &["--backend", "cpu"]);
    assert_fails_with(&o, "/nonexistent/photos");
    // Zero samples and an absurd number of bootstrap resamples are refused by the parser
    // (exit code 2), naming the option.
    for (flag, value) in [("--samples", "0"), ("--bootstrap", "100001")] {
        let o = eval(s(&m), s(&data), &out, &[flag, value]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{}", stderr(&o));
    }
    assert!(!out.with_extension("json").exists());
}
