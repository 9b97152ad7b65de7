//! Issue 20, hardening: bad files never crash the program or pass for good ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use burn::prelude::*;
use pdpaint::data::ImageFolder;
use pdpaint::imageops;
use pdpaint::model::weights::{
    FORMAT_TAG, FORMAT_VERSION, ModelFile, load_model_folder, read_model_file, save_model_folder,
    save_model_folder_half,
};
use pdpaint::model::{ModelConfig, PdGan, Preset};
use pdpaint::train::checkpoint;
use pdpaint::train::events::{Event, Stage, StopFlag};
use pdpaint::train::{TrainConfig, run};

// ---------------------------------------------------------------------------------------------
// 1. Model config sizes
// ---------------------------------------------------------------------------------------------

fn write_config(dir: &Path, cfg: &ModelConfig) {
    std::fs::create_dir_all(dir).unwrap();
    let file = ModelFile {
        format: FORMAT_TAG.into(),
        version: FORMAT_VERSION,
        config: cfg.clone(),
        source: "test".into(),
        has_discriminator: false,
    };
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string(&file).unwrap(),
    )
    .unwrap();
}

#[test]
fn absurd_model_sizes_are_refused_before_anything_is_allocated() {
    let t = tempfile::tempdir().unwrap();
    let official = Preset::Official.config();
    let mut cases: Vec<(&str, ModelConfig)> = Vec::new();
    let mut c = official.clone();
    c.generator.nf = 1 << 62;
    cases.push(("nf 2^62", c));
    let mut c = official.clone();
    c.generator.nf *= 100;
    cases.push(("nf x100", c));
    let mut c = official.clone();
    c.generator.nf *= 10_000;
    cases.push(("nf x10000", c));
    let mut c = official.clone();
    c.generator.z_dim = usize::MAX / 3;
    cases.push(("z_dim huge", c));
    let mut c = official.clone();
    c.generator.latent = 1 << 60;
    cases.push(("latent 2^60", c));
    let mut c = official.clone();
    c.prior.ngf *= 100;
    cases.push(("ngf x100", c));
    let mut c = official.clone();
    c.prior.res_num = 1 << 40;
    cases.push(("res_num 2^40", c));
    let mut c = official.clone();
    c.discriminator.ndf *= 10_000;
    cases.push(("ndf x10000", c));
    let mut c = official.clone();
    c.discriminator.num_d = 1 << 50;
    cases.push(("num_d 2^50", c));
    for (i, (what, cfg)) in cases.iter().enumerate() {
        let dir = t.path().join(format!("m{i}"));
        write_config(&dir, cfg);
        let err = read_model_file(&dir).expect_err(what);
        let msg = err.to_string();
        assert!(
            matches!(err, pdpaint::error::Error::Config(_)),
            "{what}: {msg}"
        );
        assert!(msg.contains("invalid configuration"), "{what}: {msg}");
    }
    // Real sizes still pass, including a model twice as wide as the authors'.
    for p in [Preset::Official, Preset::Small, Preset::Tiny] {
        p.config().validate().unwrap();
    }
    let mut wide = official;
    wide.generator.nf *= 2;
    wide.prior.ngf *= 2;
    wide.validate().unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3. Non-finite weights
// ---------------------------------------------------------------------------------------------

#[test]
fn nan_in_half_precision_weights_is_refused_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    let dev = Device::flex();
    let cfg = Preset::Tiny.config();
    let model = PdGan::random(&cfg, 3, &dev).unwrap();
    let dir = t.path().join("m");
    save_model_folder_half(&dir, &cfg, &model, None, "test").unwrap();
    load_model_folder(&dir, &dev).unwrap();
    let path = dir.join("generator.f16");
    let mut bytes = std::fs::read(&path).unwrap();
    let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let data = 16 + hlen;
    // Four half-precision NaNs (0x7E00), eight bytes.
    for k in 0..4 {
        bytes[data + 2 * k] = 0x00;
        bytes[data + 2 * k + 1] = 0x7E;
    }
    std::fs::write(&path, &bytes).unwrap();
    let Err(err) = load_model_folder(&dir, &dev) else {
        panic!("NaN weights loaded")
    };
    let msg = err.to_string();
    assert!(msg.contains("non-finite"), "{msg}");
    assert!(msg.ends_with("generator.f16"), "{msg}");
}

#[test]
fn nan_in_full_precision_weights_is_refused_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    let dev = Device::flex();
    let cfg = Preset::Tiny.config();
    let mut model = PdGan::random(&cfg, 4, &dev).unwrap();
    let mut done = false;
    model.prior = pdpaint::model::walk::replace_params(model.prior, |_, shape, current| {
        if done {
            return None;
        }
        done = true;
        let n: usize = shape.iter().product();
        let mut v = vec![0.5f32; n];
        v[0] = f32::INFINITY;
        Some(Tensor::<1>::from_data(
            TensorData::new(v, [n]),
            &current.device(),
        ))
    });
    let dir = t.path().join("m");
    save_model_folder(&dir, &cfg, &model, None, "test").unwrap();
    let Err(err) = load_model_folder(&dir, &dev) else {
        panic!("inf weights loaded")
    };
    let msg = err.to_string();
    assert!(msg.contains("non-finite"), "{msg}");
    assert!(msg.ends_with("prior.bpk"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// 4. Truncated photos
// ---------------------------------------------------------------------------------------------

fn test_photo() -> image::RgbImage {
    image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([
            ((x * 7 + y * 3) % 256) as u8,
            ((x * y) % 251) as u8,
            (((x / 9 + y / 7) % 2) * 200) as u8,
        ])
    })
}

fn jpeg_bytes(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(img)
        .unwrap();
    out
}

fn png_bytes(img: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn truncated_jpeg_and_png_are_refused_by_load_image() {
    let t = tempfile::tempdir().unwrap();
    let img = test_photo();
    let jpeg = jpeg_bytes(&img);
    let whole = t.path().join("whole.jpg");
    std::fs::write(&whole, &jpeg).unwrap();
    assert_eq!(
        imageops::load_image(&whole).unwrap().dimensions(),
        (160, 120)
    );
    // Data after the end-of-image marker (e.g. a motion photo's video) is fine.
    let mut tail = jpeg.clone();
    tail.extend_from_slice(b"\0\0appended video data\xff\xd8\xff");
    let tailed = t.path().join("tail.jpg");
    std::fs::write(&tailed, &tail).unwrap();
    imageops::load_image(&tailed).unwrap();

    for cut in [jpeg.len() * 6 / 10, jpeg.len() - 2, 300] {
        let p = t.path().join(format!("cut{cut}.jpg"));
        std::fs::write(&p, &jpeg[..cut]).unwrap();
        let err = imageops::load_image(&p)
            .err()
            .unwrap_or_else(|| panic!("JPEG cut at {cut} of {} accepted", jpeg.len()));
        let msg = err.to_string();
        assert!(msg.contains("truncated"), "{msg}");
        assert!(msg.ends_with(&format!("cut{cut}.jpg")), "{msg}");
    }

    let png = png_bytes(&img);
    let p = t.path().join("cut.png");
    std::fs::write(&p, &png[..png.len() * 6 / 10]).unwrap();
    let err = imageops::load_image(&p).expect_err("truncated PNG accepted");
    assert!(err.to_string().ends_with("cut.png"), "{err}");
}

#[test]
fn training_skips_a_truncated_photo_and_says_why() {
    let t = tempfile::tempdir().unwrap();
    let img = test_photo();
    std::fs::write(t.path().join("good.png"), png_bytes(&img)).unwrap();
    let jpeg = jpeg_bytes(&img);
    std::fs::write(t.path().join("t.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    let folder = ImageFolder::load(t.path()).unwrap();
    assert_eq!(folder.len(), 1);
    assert_eq!(folder.skipped.len(), 1, "{:?}", folder.skipped);
    assert!(folder.skipped[0].0.ends_with("t.jpg"));
    assert!(
        folder.skipped[0].1.contains("truncated"),
        "{:?}",
        folder.skipped
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Notes on what the conversion to 8-bit RGB drops
// ---------------------------------------------------------------------------------------------

#[test]
fn used_alpha_and_sixteen_bit_depth_are_noted() {
    let t = tempfile::tempdir().unwrap();
    let opaque = image::RgbaImage::from_fn(20, 10, |x, _| image::Rgba([x as u8, 9, 9, 255]));
    let p = t.path().join("opaque.png");
    opaque.save(&p).unwrap();
    let (img, notes) = imageops::load_image_with_notes(&p).unwrap();
    assert_eq!(img.dimensions(), (20, 10));
    assert!(notes.is_empty(), "{notes:?}");

    let mut see_through = opaque.clone();
    see_through.put_pixel(3, 4, image::Rgba([1, 2, 3, 0]));
    let p = t.path().join("alpha.png");
    see_through.save(&p).unwrap();
    let (_, notes) = imageops::load_image_with_notes(&p).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("transparent") && notes[0].ends_with("alpha.png"));

    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(8, 8, |x, y| {
        image::Rgb([x as u16 * 4000, y as u16 * 300, 7])
    });
    let p = t.path().join("deep.png");
    deep.save(&p).unwrap();
    let (_, notes) = imageops::load_image_with_notes(&p).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("16 bits") && notes[0].ends_with("deep.png"));
    // The plain loader stays silent and returns the same pixels.
    imageops::load_image(&p).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 6. `pdpaint maps` sizes
// ---------------------------------------------------------------------------------------------

#[test]
fn maps_refuses_a_huge_resolution_up_front() {
    let t = tempfile::tempdir().unwrap();
    let mask = image::GrayImage::from_fn(100, 80, |x, y| {
        image::Luma([if (30..60).contains(&x) && (20..50).contains(&y) {
            255
        } else {
            0
        }])
    });
    let mask_path = t.path().join("mask.png");
    mask.save(&mask_path).unwrap();
    for res in ["65536", "8192", "0"] {
        let o = Command::new(env!("CARGO_BIN_EXE_pdpaint"))
            .args(["maps", "--mask"])
            .arg(&mask_path)
            .arg("--out")
            .arg(t.path().join("out"))
            .args(["--res", res])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "--res {res} accepted");
        assert!(err.contains("--res") && err.contains("4096"), "{err}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_pdpaint"))
        .args(["maps", "--mask"])
        .arg(&mask_path)
        .arg("--out")
        .arg(t.path().join("out"))
        .args(["--res", "128"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

// ---------------------------------------------------------------------------------------------
// 7. Resume past a damaged checkpoint
// ---------------------------------------------------------------------------------------------

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
}

fn tiny_cfg(data: &Path, out: &Path) -> TrainConfig {
    let mut c = TrainConfig::new(data.to_path_buf(), out.to_path_buf(), Preset::Tiny.config());
    c.set_resolution(64).unwrap();
    c.prior_steps = 2;
    c.pdgan_steps = 2;
    c.batch = 1;
    c.seed = 11;
    c.vgg.config.width_div = 16;
    c.checkpoint_every = 1;
    c.keep_checkpoints = 3;
    c.preview_every = 0;
    c.preview_images = 1;
    c.preview_samples = 1;
    c
}

fn train(cfg: &TrainConfig) -> pdpaint::error::Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut sink = |e: Event| events.push(e);
    run(cfg, &Device::flex(), &mut sink, &StopFlag::new())?;
    Ok(events)
}

#[test]
fn resume_falls_back_past_a_truncated_newest_checkpoint_and_says_so() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("photos");
    photos(&data);
    let out = t.path().join("run");
    let cfg = tiny_cfg(&data, &out);
    train(&cfg).unwrap();
    let before = checkpoint::list(&out).unwrap();
    assert!(before.len() >= 2, "{before:?}");
    let (stage, step, newest) = before.last().unwrap().clone();
    let (pstage, pstep, _) = before[before.len() - 2].clone();
    let g = newest.join("generator.bpk");
    let bytes = std::fs::read(&g).unwrap();
    std::fs::write(&g, &bytes[..bytes.len() / 2]).unwrap();

    let mut more = cfg.clone();
    more.resume = true;
    more.pdgan_steps = 3;
    let events = train(&more).expect("resume past the damaged checkpoint");
    let logs: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Log(m) => Some(m),
            _ => None,
        })
        .collect();
    let name = newest.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        logs.iter()
            .any(|m| m.contains(&name) && m.contains("generator.bpk")),
        "{logs:?}"
    );
    let resumed = events.iter().find_map(|e| match e {
        Event::Started { resumed, .. } => Some(*resumed),
        _ => None,
    });
    assert_eq!(resumed, Some(Some((pstage, pstep))));
    assert_eq!((stage, step), (Stage::Pdgan, 2));
    // The damaged checkpoint was moved aside, not deleted, and no longer counts.
    // (the resumed run wrote that step again, complete this time).
    load_model_folder(&newest, &Device::flex()).unwrap();
    assert!(
        checkpoint::checkpoints_dir(&out)
            .join(format!("broken-{name}"))
            .join("generator.bpk")
            .exists()
    );
    let after = checkpoint::list(&out).unwrap();
    assert_eq!(
        (after.last().unwrap().0, after.last().unwrap().1),
        (Stage::Pdgan, 3)
    );
}
