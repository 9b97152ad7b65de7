//! JPEG loading through `imageops::load_image`: byte-identical to PIL (libjpeg-turbo) on the
//! fixtures of `tests/fixtures/jpeg/` (made by `scripts/make_jpeg_fixtures.py`), EXIF
//! orientation, the fallback decoder for what ours leaves alone, and (ignored, needs
//! reference decodes made outside the repository) real photos with timings.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;
use pdpaint::imageops::{load_image, load_image_with_notes};
use pdpaint::jpeg;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg")
}

/// Pixels whose RGB differ between two images of the same size.
fn differing_pixels(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len());
    a.chunks_exact(3)
        .zip(b.chunks_exact(3))
        .filter(|(p, q)| p != q)
        .count()
}

/// The previous decode path: the `image` crate (zune-jpeg), no orientation; `None` where it
/// fails.
fn old_decode(data: &[u8]) -> Option<RgbImage> {
    image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
        .ok()
        .map(|i| i.into_rgb8())
}

/// The previous path's differing pixels against `reference`, in words.
fn old_diff(data: &[u8], reference: &[u8]) -> String {
    match old_decode(data) {
        Some(old) if old.as_raw().len() == reference.len() => {
            differing_pixels(old.as_raw(), reference).to_string()
        }
        Some(old) => format!("(wrong size {}×{})", old.width(), old.height()),
        None => "(fails)".to_string(),
    }
}

#[test]
fn loaded_jpegs_are_byte_identical_to_pil() {
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    pngs.sort();
    assert!(pngs.len() >= 20, "{} fixtures", pngs.len());
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for png in &pngs {
        let name = png.file_stem().unwrap().to_string_lossy().into_owned();
        let jpg = png.with_extension("jpg");
        let reference = image::open(png).unwrap().into_rgb8();
        let (ours, notes) = load_image_with_notes(&jpg).unwrap();
        assert!(notes.is_empty(), "{name}: {notes:?}");
        assert_eq!(ours.dimensions(), reference.dimensions(), "{name}");
        let new_diff = differing_pixels(ours.as_raw(), reference.as_raw());
        if new_diff != 0 {
            failures.push(format!("{name}: {new_diff} pixels differ"));
        }
        if name != "exif_rotate90" {
            let old_diff = old_diff(&std::fs::read(&jpg).unwrap(), reference.as_raw());
            let total = reference.width() * reference.height();
            report.push(format!(
                "{name:32} {:>4}×{:<4} new {new_diff} / old {old_diff} of {total} pixels differ",
                reference.width(),
                reference.height()
            ));
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn exif_orientation_is_applied() {
    let img = load_image(&fixtures().join("exif_rotate90.jpg")).unwrap();
    // Stored 96×80 with orientation 6: shown (and loaded) 80×96.
    assert_eq!(img.dimensions(), (80, 96));
    let reference = image::open(fixtures().join("exif_rotate90.png"))
        .unwrap()
        .into_rgb8();
    assert_eq!(img, reference);
}

#[test]
fn unsupported_jpegs_load_with_the_fallback_and_say_so() {
    for name in ["cmyk.jpg", "incomplete_progressive.jpg"] {
        let path = fixtures().join(name);
        let (img, notes) = load_image_with_notes(&path).unwrap();
        assert_eq!(img.dimensions(), (96, 80), "{name}");
        assert!(
            notes.first().is_some_and(
                |n| n.starts_with("decoded with the fallback decoder") && n.ends_with(name)
            ),
            "{name}: {notes:?}"
        );
    }
}

#[test]
fn truncated_jpegs_are_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixtures().join("q75_420.jpg")).unwrap();
    let p = dir.path().join("cut.jpg");
    std::fs::write(&p, &data[..data.len() / 2]).unwrap();
    let msg = load_image(&p).unwrap_err().to_string();
    assert!(
        msg.contains("truncated") && msg.ends_with("cut.jpg"),
        "{msg}"
    );
}

#[test]
fn too_large_jpegs_are_refused_before_decoding() {
    // A frame header claiming 20000×8 pixels (over the 16384 limit), then nothing useful.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.jpg");
    let mut data = vec![0xFF, 0xD8];
    data.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 8, 0x4E, 0x20, 1, 1, 0x11, 0]);
    data.extend_from_slice(&[0xFF, 0xD9]);
    std::fs::write(&p, &data).unwrap();
    let msg = load_image(&p).unwrap_err().to_string();
    assert!(
        msg.contains("too large") && msg.ends_with("wide.jpg"),
        "{msg}"
    );
}

/// Real photos against PIL: set `PDPAINT_JPEG_REFS` to a folder made with
/// `scripts/make_jpeg_fixtures.py --refs DIR PHOTO...` (NAME.jpg with PIL's decode NAME.rgb).
/// Prints the differing pixels of our decoder and of the previous path, and both decode times.
#[test]
#[ignore = "needs reference decodes made outside the repository (PDPAINT_JPEG_REFS)"]
fn real_photos_match_pil() {
    let dir = PathBuf::from(std::env::var("PDPAINT_JPEG_REFS").expect("PDPAINT_JPEG_REFS"));
    let mut jpgs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg") && p.with_extension("rgb").exists())
        .collect();
    jpgs.sort();
    assert!(
        !jpgs.is_empty(),
        "no NAME.jpg + NAME.rgb pairs in {}",
        dir.display()
    );
    let limits = jpeg::Limits {
        max_side: pdpaint::imageops::MAX_IMAGE_SIDE,
        max_bytes: pdpaint::imageops::MAX_DECODE_BYTES,
    };
    let mut failures = Vec::new();
    for jpg in &jpgs {
        let reference = std::fs::read(jpg.with_extension("rgb")).unwrap();
        let data = std::fs::read(jpg).unwrap();
        let t = Instant::now();
        let ours = jpeg::decode(&data, limits).unwrap().image;
        let new_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let old = old_decode(&data);
        let old_ms = t.elapsed().as_secs_f64() * 1e3;
        let new_diff = differing_pixels(ours.as_raw(), &reference);
        let total = ours.width() as usize * ours.height() as usize;
        let old_diff = match old {
            Some(old) if old.as_raw().len() == reference.len() => {
                let d = differing_pixels(old.as_raw(), &reference);
                format!("{d} ({:.1} %)", 100.0 * d as f64 / total as f64)
            }
            _ => "(fails)".to_string(),
        };
        println!(
            "{:60} {:>5}×{:<5} differing pixels: new {new_diff}, old {old_diff}; \
             decode ms: new {new_ms:.0}, old {old_ms:.0}",
            jpg.file_name().unwrap().to_string_lossy(),
            ours.width(),
            ours.height(),
        );
        if new_diff != 0 {
            failures.push(jpg.display().to_string());
        }
    }
    assert!(failures.is_empty(), "differ from PIL: {failures:#?}");
}

#[test]
fn inpaint_keeps_the_known_pixels_of_a_jpeg_as_libjpeg_turbo_decodes_them() {
    let t = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_pdpaint");
    let model = t.path().join("tiny");
    let o = std::process::Command::new(bin)
        .args(["init", "--preset", "tiny", "--seed", "3", "--out"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in ["q75_420", "odd_101x67_422", "progressive_420"] {
        let jpg = fixtures().join(format!("{name}.jpg"));
        let reference = image::open(fixtures().join(format!("{name}.png")))
            .unwrap()
            .into_rgb8();
        let (w, h) = reference.dimensions();
        let hole =
            |x: u32, y: u32| (w / 3..2 * w / 3).contains(&x) && (h / 3..2 * h / 3).contains(&y);
        let mask = t.path().join(format!("{name}-mask.png"));
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([if hole(x, y) { 255 } else { 0 }]))
            .save(&mask)
            .unwrap();
        let out = t.path().join(name);
        let o = std::process::Command::new(bin)
            .args([
                "inpaint",
                "--samples",
                "2",
                "--detail",
                "off",
                "--backend",
                "cpu",
            ])
            .arg("--model")
            .arg(&model)
            .arg("--image")
            .arg(&jpg)
            .arg("--mask")
            .arg(&mask)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut samples = 0;
        for e in std::fs::read_dir(&out).unwrap() {
            let p = e.unwrap().path();
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            if !(file.starts_with("seed-") && file.ends_with(".png")) {
                continue;
            }
            samples += 1;
            let got = image::open(&p).unwrap().into_rgb8();
            assert_eq!(got.dimensions(), (w, h), "{file}");
            let mut changed = 0;
            let mut filled = 0;
            for (x, y, px) in got.enumerate_pixels() {
                if hole(x, y) {
                    filled += usize::from(px != reference.get_pixel(x, y));
                } else if px != reference.get_pixel(x, y) {
                    changed += 1;
                }
            }
            assert_eq!(
                changed, 0,
                "{name}/{file}: known pixels differ from PIL's decode"
            );
            assert!(filled > 0, "{name}/{file}: the hole was not filled");
        }
        assert_eq!(samples, 2, "{name}");
    }
}
