//! `pdpaint eval --full-res` on real files: two small textured photos and the embedded default
//! model, and bad input (a clear error, never a panic). The VGG distance runs on a small random
//! VGG-16 file written here (the default lookup is pointed at an empty place, so the ImageNet
//! file of this machine, if any, is not used).

mod vggfile;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use image::{Rgb, RgbImage};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdpaint"))
        .args(args)
        .env("XDG_DATA_HOME", "/nonexistent-pdpaint-test-data")
        .output()
        .expect("spawn pdpaint")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Exit code `code` (not a panic) with a message containing `needle`.
fn assert_fails_with(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// A deterministic hash in [0, 1).
fn hash(x: u32, y: u32, k: u32) -> f32 {
    let mut z = u64::from(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(y).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ u64::from(k).wrapping_mul(0x1656_67B1_9E37_79F9);
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    ((z >> 40) as f32) / ((1u64 << 24) as f32)
}

/// Two 200×160 textured photos (waves, stripes and grain) in `dir/photos`, plus a 240×200
/// one in a sub-folder that `--max-side 200` scales down.
fn photos(dir: &Path) -> PathBuf {
    let d = dir.join("photos");
    std::fs::create_dir_all(d.join("sub")).expect("mkdir");
    let a = RgbImage::from_fn(200, 160, |x, y| {
        let wave = 0.5 + 0.35 * ((x as f32 / 7.0).sin() * (y as f32 / 11.0).cos());
        let g = hash(x, y, 1) * 0.3;
        Rgb([
            (255.0 * (wave * 0.8 + g)).min(255.0) as u8,
            (x * 255 / 200) as u8,
            (255.0 * (0.3 + g)) as u8,
        ])
    });
    a.save(d.join("a.png")).expect("save a");
    let b = RgbImage::from_fn(240, 200, |x, y| {
        let stripe = if ((x + 2 * y) / 6) % 2 == 0 {
            180.0
        } else {
            70.0
        };
        let g = 60.0 * hash(x, y, 2);
        Rgb([
            (stripe + g) as u8,
            (100.0 + g) as u8,
            (255.0 - stripe) as u8,
        ])
    });
    b.save(d.join("sub/b.png")).expect("save b");
    d
}

#[test]
fn full_res_eval_writes_a_report_with_the_four_methods_and_figures() {
    let t = tempfile::tempdir().expect("tempdir");
    let data = photos(t.path());
    let out = t.path().join("reports/full.json");
    let vgg = t.path().join("vgg16-w16.safetensors");
    vggfile::write_small_vgg16(
        &vgg,
        16,
        5,
        Some("1.0 (every activation = Keras activation)"),
    );
    let start = Instant::now();
    let o = run(&[
        "eval",
        "--full-res",
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--samples",
        "2",
        "--holes",
        "1",
        "--max-side",
        "200",
        "--seed",
        "3",
        "--bootstrap",
        "30",
        "--vgg",
        s(&vgg),
        "--backend",
        "cpu",
    ]);
    println!(
        "pdpaint eval --full-res (2 photos, 1 hole, 2 samples): {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let err = stderr(&o);
    assert!(o.status.success(), "eval failed: {err}");
    assert!(err.contains("[1/2]") && err.contains("[2/2]"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("json")).expect("valid json");
    let md = std::fs::read_to_string(t.path().join("reports/full.md")).expect("md");
    assert_eq!(r["kind"], "full-res");
    assert_eq!(r["model"]["path"], pdpaint::model::embedded::NAME);
    // The 240×200 photo was scaled to 200×167.
    let ph = r["data"]["photos"].as_array().expect("photos");
    assert_eq!(ph.len(), 2);
    assert_eq!(ph[1]["original"], serde_json::json!([240, 200]));
    assert_eq!(ph[1]["evaluated"], serde_json::json!([200, 167]));
    let names: Vec<&str> = r["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m["method"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["telea", "patch-only", "pd-gan", "pd-gan+detail"]);
    for m in r["methods"].as_array().expect("methods") {
        for k in ["psnr_best", "psnr_mean", "ms_per_output"] {
            assert!(m[k].as_f64().is_some_and(f64::is_finite), "{k} of {m}");
        }
        assert!(m["psnr_best"].as_f64() >= m["psnr_mean"].as_f64(), "{m}");
        let levels = m["swd"]["levels"].as_array().expect("levels");
        assert_eq!(levels.len(), 4, "160 px → 4 levels");
        assert!(m["swd"]["mean"].as_f64().expect("swd") > 0.0, "{m}");
        let sharp = m["sharpness_mean"].as_f64().expect("sharpness");
        assert!(sharp > 0.0 && sharp < 5.0, "{m}");
        assert!(
            m["sharpness_geomean"].as_f64().is_some() && m["sharpness_median"].as_f64().is_some()
        );
    }
    let raw = &r["methods"][2];
    let det = &r["methods"][3];
    assert_eq!(raw["outputs_per_item"], 2);
    assert!(raw["diversity_l1"].as_f64().expect("div") > 0.0, "{raw}");
    assert!(det["diversity_l1"].as_f64().expect("div") > 0.0, "{det}");
    assert_eq!(r["methods"][0]["diversity_l1"].as_f64(), Some(0.0));
    assert!(r["diversity_kept_pct"].as_f64().expect("kept") > 0.0);
    let vs = r["swd_vs_detail"].as_array().expect("contrasts");
    assert_eq!(vs.len(), 3);
    for c in vs {
        assert_eq!(c["reps"], 30);
        assert!(c["low"].as_f64() <= c["high"].as_f64(), "{c}");
    }
    // The VGG distance: every method, best ≤ mean; single-output methods' coincide.
    for (k, m) in r["methods"].as_array().expect("methods").iter().enumerate() {
        let (mean, best) = (
            m["vgg"]["mean"].as_f64().expect("vgg mean"),
            m["vgg"]["best"].as_f64().expect("vgg best"),
        );
        assert!(mean > 0.0 && mean <= 2.0 && best <= mean + 1e-12, "{m}");
        if k < 2 {
            assert_eq!(mean, best, "{m}");
        }
    }
    let vv = r["vgg_vs_detail"].as_array().expect("vgg contrasts");
    let keys: Vec<(&str, &str)> = vv
        .iter()
        .map(|c| {
            (
                c["stat"].as_str().expect("stat"),
                c["other"].as_str().expect("other"),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("mean_of_n", "pd-gan"),
            ("mean_of_n", "telea"),
            ("mean_of_n", "patch-only"),
            ("best_of_n", "pd-gan"),
            ("best_of_n", "telea"),
            ("best_of_n", "patch-only")
        ]
    );
    for c in vv {
        let other = ["telea", "patch-only", "pd-gan"]
            .iter()
            .position(|n| c["other"] == *n)
            .expect("known method");
        let stat = if c["stat"] == "mean_of_n" {
            "mean"
        } else {
            "best"
        };
        let want = r["methods"][3]["vgg"][stat].as_f64().expect("vgg")
            - r["methods"][other]["vgg"][stat].as_f64().expect("vgg");
        let k = &c["contrast"];
        assert!(
            (k["difference"].as_f64().expect("d") - want).abs() < 1e-9,
            "{c}"
        );
        assert_eq!(k["reps"], 30);
    }
    // The spectral excess: every output of every method, its mean per method, and detail's
    // paired contrasts with the others (detail − other, the means' difference).
    let items = r["items"].as_array().expect("items");
    for (k, m) in r["methods"].as_array().expect("methods").iter().enumerate() {
        let per_item: Vec<f64> = items
            .iter()
            .map(|it| {
                let v: Vec<f64> = it["methods"][k]["spectral_excess"]
                    .as_array()
                    .expect("per-output excess")
                    .iter()
                    .map(|x| x.as_f64().expect("excess"))
                    .collect();
                assert_eq!(v.len(), if k < 2 { 1 } else { 2 }, "{it}");
                assert!(v.iter().all(|x| x.is_finite() && *x >= 0.0), "{v:?}");
                v.iter().sum::<f64>() / v.len() as f64
            })
            .collect();
        let want = per_item.iter().sum::<f64>() / per_item.len() as f64;
        let got = m["spectral_excess"].as_f64().expect("method excess");
        assert!((got - want).abs() < 1e-9, "{m}: {got} vs {want}");
    }
    let ev = r["excess_vs_detail"].as_array().expect("excess contrasts");
    let others: Vec<&str> = ev
        .iter()
        .map(|c| c["other"].as_str().expect("other"))
        .collect();
    assert_eq!(others, ["pd-gan", "telea", "patch-only"]);
    for c in ev {
        let other = ["telea", "patch-only", "pd-gan"]
            .iter()
            .position(|n| c["other"] == *n)
            .expect("known method");
        let want = r["methods"][3]["spectral_excess"].as_f64().expect("excess")
            - r["methods"][other]["spectral_excess"]
                .as_f64()
                .expect("excess");
        let k = &c["contrast"];
        assert!(
            (k["difference"].as_f64().expect("d") - want).abs() < 1e-9,
            "{c}"
        );
        assert!(k["low"].as_f64() <= k["high"].as_f64(), "{c}");
        assert_eq!(k["reps"], 30);
    }
    assert!(md.contains("spectral excess") && md.contains("## PD-GAN + detail's spectral excess"));
    let vd = &r["settings"]["vgg_distance"];
    assert_eq!(vd["weights"]["kind"], "imagenet");
    assert_eq!(vd["weights"]["activation_divisor"], 127.5, "{vd}");
    assert_eq!(
        vd["weights"]["sha256"].as_str(),
        Some(vggfile::sha256_hex(&vgg).as_str())
    );
    // The VGG crop holds the hole's box and lies inside the SWD crop.
    for it in r["items"].as_array().expect("items") {
        let (c, v) = (&it["measured_crop"], &it["vgg_crop"]);
        let f = |o: &serde_json::Value, k: &str| o[k].as_u64().expect("rect");
        assert!(f(v, "x0") >= f(c, "x0") && f(v, "y0") >= f(c, "y0"), "{it}");
        assert!(f(v, "x0") + f(v, "w") <= f(c, "x0") + f(c, "w"), "{it}");
        assert!(f(v, "y0") + f(v, "h") <= f(c, "y0") + f(c, "h"), "{it}");
    }
    assert!(md.contains("VGG dist. mean / best"), "{md}");
    assert!(
        md.contains("## PD-GAN + detail's VGG distance against the others"),
        "{md}"
    );
    let items = r["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for it in items {
        let cov = it["box_coverage"].as_f64().expect("coverage");
        assert!((0.05..=0.40).contains(&cov), "{it}");
        assert_eq!(it["z_seeds"].as_array().expect("z").len(), 2);
        assert_eq!(it["methods"].as_array().expect("m").len(), 4);
    }
    // One figure per photo (its first hole), beside the report and listed in it.
    let figs = r["figures"].as_array().expect("figures");
    assert_eq!(figs.len(), 2);
    for (f, item) in figs.iter().zip([0, 1]) {
        assert_eq!(f["item"], item);
        let file = t
            .path()
            .join("reports")
            .join(f["file"].as_str().expect("file"));
        assert_eq!(file, t.path().join(format!("reports/full-fig-{item}.png")));
        let img = image::open(&file).expect("figure").to_rgb8();
        // 4 columns × 2 rows of 256 px tiles (truth, hole, 4 methods, 2 detailed seeds).
        assert!(
            img.width() > 4 * 256 && img.height() > 2 * 256,
            "{:?}",
            img.dimensions()
        );
    }
    for name in [
        "telea",
        "patch-only",
        "pd-gan",
        "pd-gan+detail",
        "full-fig-0.png",
    ] {
        assert!(md.contains(name), "the markdown lacks {name}:\n{md}");
    }
    assert!(
        md.contains("keeps") && md.contains("% of raw PD-GAN's diversity"),
        "{md}"
    );

    // The same seed gives the same numbers (timings aside).
    let out2 = t.path().join("again");
    let o = run(&[
        "eval",
        "--full-res",
        "--data",
        s(&data),
        "--out",
        s(&out2),
        "--samples",
        "2",
        "--holes",
        "1",
        "--max-side",
        "200",
        "--seed",
        "3",
        "--bootstrap",
        "30",
        "--vgg",
        s(&vgg),
        "--backend",
        "cpu",
        "--figures",
        "1",
    ]);
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    let r2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("again.json")).expect("json"))
            .expect("valid json");
    for m in 0..4 {
        for k in ["psnr_best", "psnr_mean", "sharpness_mean", "diversity_l1"] {
            assert_eq!(r["methods"][m][k], r2["methods"][m][k], "{k}");
        }
        assert_eq!(r["methods"][m]["swd"], r2["methods"][m]["swd"]);
        assert_eq!(r["methods"][m]["vgg"], r2["methods"][m]["vgg"]);
        assert_eq!(
            r["methods"][m]["spectral_excess"],
            r2["methods"][m]["spectral_excess"]
        );
    }
    assert_eq!(r2["figures"].as_array().expect("figures").len(), 1);
    assert!(t.path().join("again-fig-1.png").is_file());
}

#[test]
fn full_res_eval_rejects_bad_input_clearly() {
    let t = tempfile::tempdir().expect("tempdir");
    let out = t.path().join("r");
    let missing = t.path().join("no-such-folder");
    let o = run(&[
        "eval",
        "--full-res",
        "--data",
        s(&missing),
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ]);
    assert_fails_with(&o, 1, "data folder not found");
    // A folder without photos.
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::write(empty.join("notes.txt"), "not a photo").expect("write");
    let o = run(&[
        "eval",
        "--full-res",
        "--data",
        s(&empty),
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ]);
    assert_fails_with(&o, 1, "no usable photo");
    // A photo too small for the holes is skipped; with nothing else left it is an error.
    RgbImage::from_pixel(50, 40, Rgb([9, 9, 9]))
        .save(empty.join("tiny.png"))
        .expect("save");
    let o = run(&[
        "eval",
        "--full-res",
        "--data",
        s(&empty),
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ]);
    assert_fails_with(&o, 1, "no usable photo");
    // A figure item that does not exist.
    RgbImage::from_fn(120, 100, |x, y| Rgb([(x * 2) as u8, (y * 2) as u8, 7]))
        .save(empty.join("ok.png"))
        .expect("save");
    let o = run(&[
        "eval",
        "--full-res",
        "--data",
        s(&empty),
        "--out",
        s(&out),
        "--holes",
        "1",
        "--figures",
        "5",
        "--backend",
        "cpu",
    ]);
    assert_fails_with(&o, 1, "--figures 5");
    // Options of the other mode are refused rather than ignored.
    let o = run(&[
        "eval",
        "--full-res",
        "--per-bin",
        "3",
        "--data",
        s(&empty),
        "--out",
        s(&out),
    ]);
    assert_fails_with(&o, 2, "--per-bin");
    let o = run(&[
        "eval",
        "--holes",
        "2",
        "--data",
        s(&empty),
        "--out",
        s(&out),
    ]);
    assert_fails_with(&o, 2, "--full-res");
    assert!(!t.path().join("r.json").exists());
}
