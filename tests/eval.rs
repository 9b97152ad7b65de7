//! `pdpaint eval` on real files: a tiny untrained model and two generated photos, and bad input
//! (a clear error and exit code 1, never a panic). The VGG distance runs on a small random
//! VGG-16 file written here; the ImageNet one is used only by
//! `vgg_distance_with_the_imagenet_weights`, which is skipped (saying why) where it is absent.

mod vggfile;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use image::{Rgb, RgbImage};
use pdpaint::eval::metrics::Planes;
use pdpaint::eval::vggdist::VggDistance;
use pdpaint::model::vgg::{VggWeights, standard_weights_path};

/// An `XDG_DATA_HOME` with no VGG file in it, so the default lookup finds nothing whatever this
/// machine has fetched.
const NO_DATA_HOME: &str = "/nonexistent-pdpaint-test-data";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdpaint"))
        .args(args)
        .env("XDG_DATA_HOME", NO_DATA_HOME)
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

/// The tiny model (`dir/tiny`) evaluated on [`photos`] (`dir/photos`), one item per bin and
/// two samples on the CPU, with `extra` arguments; the report goes to `dir/name` (`.json`,
/// `.md`).
fn quick_eval(dir: &Path, name: &str, extra: &[&str]) -> (Output, PathBuf) {
    let m = tiny_model(dir);
    let data = photos(dir);
    let out = dir.join(name);
    let mut args = vec!["--per-bin", "1", "--samples", "2", "--backend", "cpu"];
    args.extend_from_slice(extra);
    let o = eval(s(&m), s(&data), &out, &args);
    (o, out)
}

/// A report's JSON.
fn report_json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).expect("json"))
        .expect("valid json")
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
    let vgg = t.path().join("vgg16-w16.safetensors");
    vggfile::write_small_vgg16(&vgg, 16, 3, None);
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
            "--vgg",
            s(&vgg),
            "--grid",
            "40-50%",
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
    // The grid of the 40-50 % bin: its 2 items (all there are) × input, prior, 2 samples,
    // Telea, truth, at the model's 256².
    let grid_file = t.path().join("reports/tiny-eval-grid-40-50.png");
    let grid = image::open(&grid_file).expect("grid figure").to_rgb8();
    assert_eq!(
        grid.dimensions(),
        pdpaint::imageops::contact_sheet_size(12, 6, 256)
    );
    assert_eq!(
        r["grids"],
        serde_json::json!([{"bin": "40-50%", "file": "tiny-eval-grid-40-50.png"}])
    );
    assert!(md.contains("(tiny-eval-grid-40-50.png)"), "{md}");
    // The input tile shows the hole in grey (40-50 % of it), the truth tile does not.
    let grey_in = |k: u32| {
        let x0 = pdpaint::imageops::SHEET_PAD + k * (256 + pdpaint::imageops::SHEET_PAD);
        let y0 = pdpaint::imageops::SHEET_PAD;
        (0..256)
            .flat_map(|y| (0..256).map(move |x| (x0 + x, y0 + y)))
            .filter(|&(x, y)| grid.get_pixel(x, y).0 == [128, 128, 128])
            .count() as f64
            / 65536.0
    };
    assert!((0.39..=0.51).contains(&grey_in(0)), "{}", grey_in(0));
    assert!(grey_in(5) < 0.05, "{}", grey_in(5));
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
        // The VGG distance: every method, PD-GAN's best ≤ its mean, within [0, 2].
        for m in b["methods"].as_array().expect("methods") {
            let (mean, best) = (
                m["vgg"]["mean"].as_f64().expect("vgg mean"),
                m["vgg"]["best"].as_f64().expect("vgg best"),
            );
            assert!((0.0..=2.0).contains(&mean) && best <= mean + 1e-12, "{m}");
        }
        let vv = b["vgg_vs_baselines"].as_array().expect("vgg contrasts");
        let keys: Vec<(&str, &str)> = vv
            .iter()
            .map(|c| {
                (
                    c["pdgan"].as_str().expect("stat"),
                    c["baseline"].as_str().expect("baseline"),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("mean_of_n", "prior"),
                ("mean_of_n", "telea"),
                ("best_of_n", "prior"),
                ("best_of_n", "telea")
            ]
        );
        for c in vv {
            let k = &c["contrast"];
            let f = |key: &str| k[key].as_f64().unwrap_or(f64::NAN);
            let stat = if c["pdgan"] == "mean_of_n" {
                "mean"
            } else {
                "best"
            };
            let m = if c["baseline"] == "prior" { 1 } else { 2 };
            let want = gan["vgg"][stat].as_f64().expect("vgg")
                - b["methods"][m]["vgg"]["mean"].as_f64().expect("vgg");
            assert!((f("difference") - want).abs() < 1e-9, "{c}");
            assert!(
                f("low") <= f("high") && (0.0..=1.0).contains(&f("a_lower")),
                "{c}"
            );
            assert_eq!(k["reps"], 50);
        }
        for (c, m) in vs.iter().zip(1..) {
            let f = |k: &str| c[k].as_f64().unwrap_or(f64::NAN);
            let want = gan["swd"]["mean"].as_f64().expect("swd")
                - b["methods"][m]["swd"]["mean"].as_f64().expect("swd");
            assert!((f("difference") - want).abs() < 1e-9, "{c}");
            assert!(f("low") <= f("high"), "{c}");
            assert!((0.0..=1.0).contains(&f("pdgan_better")), "{c}");
            assert_eq!(c["reps"], 50);
        }
        // The spectral excess: every method, ≥ 0, and the contrasts are PD-GAN's mean minus
        // the baseline's.
        for m in b["methods"].as_array().expect("methods") {
            let e = m["spectral_excess"].as_f64().expect("excess");
            assert!(e.is_finite() && e >= 0.0, "{m}");
        }
        let ve = b["excess_vs_baselines"]
            .as_array()
            .expect("excess contrasts");
        assert_eq!(ve.len(), 2, "{b}");
        for (c, m) in ve.iter().zip(1..) {
            assert_eq!(c["baseline"], b["methods"][m]["method"], "{c}");
            let want = gan["spectral_excess"].as_f64().expect("excess")
                - b["methods"][m]["spectral_excess"].as_f64().expect("excess");
            let k = &c["contrast"];
            let got = k["difference"].as_f64().unwrap_or(f64::NAN);
            assert!((got - want).abs() < 1e-9, "{c}");
            assert_eq!(k["reps"], 50);
        }
    }
    assert_eq!(r["items"].as_array().expect("items").len(), 12);
    // Each pair keeps its distances; a bin's mean is the mean of its pairs'.
    let items = r["items"].as_array().expect("items");
    let first_bin: Vec<&serde_json::Value> = items.iter().filter(|i| i["bin"] == "0-10%").collect();
    let want = first_bin
        .iter()
        .map(|i| i["vgg"]["telea"].as_f64().expect("telea vgg"))
        .sum::<f64>()
        / first_bin.len() as f64;
    let got = bins[0]["methods"][2]["vgg"]["mean"].as_f64().expect("vgg");
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert_eq!(
        items[0]["vgg"]["pdgan"]
            .as_array()
            .expect("per sample")
            .len(),
        2
    );
    assert_eq!(
        items[0]["spectral_excess"]["pdgan"]
            .as_array()
            .expect("per sample")
            .len(),
        2
    );
    let vd = &r["settings"]["vgg_distance"];
    assert_eq!(vd["weights"]["kind"], "imagenet", "{vd}");
    assert_eq!(
        vd["weights"]["sha256"].as_str(),
        Some(vggfile::sha256_hex(&vgg).as_str())
    );
    assert_eq!(vd["weights"]["activation_divisor"], 1.0);
    assert_eq!(
        vd["layers"],
        serde_json::json!(["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"])
    );
    assert!(vd["seconds"].as_f64().expect("seconds") > 0.0);
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
        "## VGG distance to the truth inside the hole (lower is closer)",
        "| bin | pd-gan mean of N | pd-gan best of N | prior | telea |",
        "| bin | pd-gan (mean of N) vs prior | pd-gan (mean of N) vs telea | pd-gan (best of N) vs \
         prior | pd-gan (best of N) vs telea |",
        "- VGG distance: VGG-16 ImageNet weights from",
        "## Spectral excess over the truth (lower: less energy the photo does not have)",
        "| bin | pd-gan | prior | telea | vs prior | vs telea |",
    ] {
        assert!(md.contains(needle), "markdown lacks {needle:?}:\n{md}");
    }
}

#[test]
fn eval_can_condition_a_network_prior_model_on_telea() {
    let t = tempfile::tempdir().expect("tempdir");
    let (o, out) = quick_eval(
        t.path(),
        "telea",
        &["--bootstrap", "20", "--prior-source", "telea"],
    );
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    assert!(stderr(&o).contains("prior telea"), "{}", stderr(&o));
    let r = report_json(&out);
    assert_eq!(r["model"]["prior_source"], "telea");
    let bins = r["bins"].as_array().expect("bins");
    assert_eq!(bins.len(), 6);
    for b in bins {
        let by = |name: &str| {
            b["methods"]
                .as_array()
                .expect("methods")
                .iter()
                .find(|m| m["method"] == name)
                .unwrap_or_else(|| panic!("no {name} row"))
                .clone()
        };
        // The prior is Telea's fill, so its row is Telea's.
        let (prior, telea) = (by("prior"), by("telea"));
        assert_eq!(prior["psnr_best"], telea["psnr_best"], "{}", b["bin"]);
        assert_eq!(prior["l1_best"], telea["l1_best"], "{}", b["bin"]);
    }
    let md = std::fs::read_to_string(t.path().join("telea.md")).expect("md");
    assert!(md.contains("prior telea"), "{md}");
}

#[test]
fn without_the_vgg_file_eval_runs_and_the_report_says_so() {
    let t = tempfile::tempdir().expect("tempdir");
    let (o, out) = quick_eval(t.path(), "r", &[]);
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "VGG distance: left out (no ImageNet VGG-16 at {NO_DATA_HOME}/pdpaint/vgg16-imagenet.safetensors"
        )),
        "{}",
        stderr(&o)
    );
    let r = report_json(&out);
    assert!(r["settings"]["vgg_distance"].is_null(), "{}", r["settings"]);
    for b in r["bins"].as_array().expect("bins") {
        assert!(b["methods"][0]["vgg"].is_null());
        assert_eq!(b["vgg_vs_baselines"].as_array().map(Vec::len), Some(0));
    }
    assert!(
        r["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.starts_with("No VGG distance"))),
        "{}",
        r["notes"]
    );
    let md = std::fs::read_to_string(out.with_extension("md")).expect("md");
    assert!(md.contains("## VGG distance\n\nNot measured"), "{md}");
    // A --vgg file that is not there is an error naming it.
    let (m, data) = (t.path().join("tiny"), t.path().join("photos"));
    let o = eval(
        s(&m),
        s(&data),
        &out,
        &["--per-bin", "1", "--vgg", "/nonexistent/vgg.safetensors"],
    );
    assert_fails_with(&o, "/nonexistent/vgg.safetensors");
}

/// The ImageNet VGG-16 that scripts/fetch-vgg.sh writes, when this machine has it (CI does not:
/// the test then says so and passes).
fn imagenet_vgg() -> Option<PathBuf> {
    let p = standard_weights_path().filter(|p| p.is_file());
    if p.is_none() {
        eprintln!(
            "skipped: no ImageNet VGG-16 at {} (scripts/fetch-vgg.sh makes it)",
            standard_weights_path()
                .map_or_else(|| "the standard path".into(), |p| p.display().to_string())
        );
    }
    p
}

/// A photo-like 96×96 test image: stripes, rings and a gradient.
fn scene() -> Planes {
    let (w, h) = (96usize, 96usize);
    let mut d = vec![0.0f32; 3 * w * h];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let r = ((fx - 40.0).powi(2) + (fy - 50.0).powi(2)).sqrt();
            d[y * w + x] = 0.5 + 0.4 * (fx / 3.0).sin() * (fy / 7.0).cos();
            d[w * h + y * w + x] = 0.5 + 0.45 * (r / 5.0).sin();
            d[2 * w * h + y * w + x] = (fx + 2.0 * fy) / (3 * w) as f32;
        }
    }
    Planes::new(3, h, w, d).expect("planes")
}

#[test]
fn vgg_distance_with_the_imagenet_weights() {
    let Some(path) = imagenet_vgg() else {
        return;
    };
    let dev = burn::tensor::Device::flex();
    let vd = VggDistance::load(&path, &dev).expect("load the ImageNet VGG-16");
    match vd.weights() {
        VggWeights::ImageNet {
            activation_divisor,
            sha256,
            ..
        } => {
            assert_eq!(sha256.len(), 64);
            assert!(*activation_divisor > 0.0);
        }
        other => panic!("not read as ImageNet weights: {other:?}"),
    }
    let t = scene();
    let (w, h) = (t.w, t.h);
    let hole: Vec<bool> = (0..w * h)
        .map(|i| (20..76).contains(&(i % w)) && (24..72).contains(&(i / w)))
        .collect();
    let at = |p: &Planes, k: usize, x: usize, y: usize| p.data[k * w * h + y * w + x];
    let mut blurred = t.clone();
    let mut shifted = t.clone();
    let mut noisy = t.clone();
    let mut flat = t.clone();
    let mut state = 7u32;
    for k in 0..3 {
        let n = hole.iter().filter(|&&v| v).count() as f32;
        let mean = (0..w * h)
            .filter(|&i| hole[i])
            .map(|i| t.data[k * w * h + i])
            .sum::<f32>()
            / n;
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0;
                for dy in -3i32..=3 {
                    for dx in -3i32..=3 {
                        let xx = (x as i32 + dx).clamp(0, w as i32 - 1) as usize;
                        let yy = (y as i32 + dy).clamp(0, h as i32 - 1) as usize;
                        s += at(&t, k, xx, yy);
                    }
                }
                let i = k * w * h + y * w + x;
                blurred.data[i] = s / 49.0;
                shifted.data[i] = at(&t, k, (x + 3).min(w - 1), y);
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let e = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                noisy.data[i] = (t.data[i] + 0.04 * e).clamp(0.0, 1.0);
                flat.data[i] = mean;
            }
        }
    }
    let d = vd
        .measure(&t, &hole, &[&[t.clone(), blurred, noisy, shifted, flat]])
        .expect("distances");
    let [same, blur, noise, shift, flat] = d[0][..] else {
        panic!("five distances expected: {d:?}");
    };
    eprintln!(
        "ImageNet VGG distance: identical {same:.5}, blurred {blur:.4}, noisy {noise:.4}, \
         shifted 3 px {shift:.4}, flat mean colour {flat:.4}"
    );
    assert!(same.abs() < 1e-6, "{same}");
    assert!(blur > noise, "blur {blur} vs noise {noise}");
    assert!(shift < flat, "shift {shift} vs flat {flat}");
    // And through the command line, on the tiny model.
    let tdir = tempfile::tempdir().expect("tempdir");
    let (o, out) = quick_eval(tdir.path(), "r", &["--vgg", s(&path)]);
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    let r = report_json(&out);
    assert_eq!(r["settings"]["vgg_distance"]["weights"]["kind"], "imagenet");
    for b in r["bins"].as_array().expect("bins") {
        for m in b["methods"].as_array().expect("methods") {
            let v = m["vgg"]["mean"].as_f64().expect("vgg");
            assert!(v > 0.0 && v <= 2.0, "{m}");
        }
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
    for (flag, value) in [
        ("--samples", "0"),
        ("--bootstrap", "100001"),
        ("--grid", "45-50"),
    ] {
        let o = eval(s(&m), s(&data), &out, &[flag, value]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{}", stderr(&o));
    }
    assert!(!out.with_extension("json").exists());
}
