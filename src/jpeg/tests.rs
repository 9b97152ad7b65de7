//! Tests of the whole decoder against the reference decodes in `tests/fixtures/jpeg/` (made by
//! `scripts/make_jpeg_fixtures.py` with PIL, i.e. libjpeg-turbo), and robustness against
//! damaged files.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use super::*;

const LIMITS: Limits = Limits {
    max_side: 16384,
    max_bytes: 512 * 1024 * 1024,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg")
}

/// Every fixture that has a reference decode beside it (`NAME.png`), except the EXIF one
/// (whose reference is rotated).
fn exact_fixtures() -> Vec<(String, Vec<u8>, RgbImage)> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    names.sort();
    for png in names {
        let name = png.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "exif_rotate90" {
            continue;
        }
        let jpg = std::fs::read(png.with_extension("jpg")).unwrap();
        let reference = image::open(&png).unwrap().into_rgb8();
        out.push((name, jpg, reference));
    }
    out
}

#[test]
fn every_fixture_is_byte_identical_to_libjpeg_turbo() {
    let cases = exact_fixtures();
    assert!(cases.len() >= 20, "only {} fixtures", cases.len());
    let mut failures = Vec::new();
    for (name, jpg, reference) in &cases {
        let got = decode(jpg, LIMITS).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.image.dimensions(), reference.dimensions(), "{name}");
        let differing = got
            .image
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .filter(|(a, b)| a != b)
            .count();
        if differing != 0 {
            failures.push(format!("{name}: {differing} bytes differ"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_whole_rocket_photo_matches_its_reference_hash() {
    use sha2::{Digest, Sha256};
    let jpg = std::fs::read(fixtures().join("photo_rocket.jpg")).unwrap();
    let want = std::fs::read_to_string(fixtures().join("photo_rocket.sha256")).unwrap();
    let got = decode(&jpg, LIMITS).unwrap();
    assert_eq!(got.image.dimensions(), (640, 427));
    let hash: String = Sha256::digest(got.image.as_raw())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hash, want.trim());
}

#[test]
fn files_outside_the_exact_path_are_refused_as_unsupported() {
    let read = |n: &str| std::fs::read(fixtures().join(n)).unwrap();
    let cases = [
        ("cmyk.jpg", Unsupported::Components(4)),
        ("arithmetic.jpg", Unsupported::Arithmetic),
        (
            "incomplete_progressive.jpg",
            Unsupported::IncompleteProgressive,
        ),
    ];
    for (name, want) in cases {
        match decode(&read(name), LIMITS) {
            Err(JpegError::Unsupported(u)) => assert_eq!(u, want, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn exif_is_returned_for_the_caller() {
    let jpg = std::fs::read(fixtures().join("exif_rotate90.jpg")).unwrap();
    let got = decode(&jpg, LIMITS).unwrap();
    let exif = got.exif.expect("the fixture has EXIF data");
    assert_eq!(
        image::metadata::Orientation::from_exif_chunk(&exif),
        Some(image::metadata::Orientation::Rotate90)
    );
    // Stored, not rotated: 96×80.
    assert_eq!(got.image.dimensions(), (96, 80));
}

#[test]
fn limits_are_checked_before_decoding() {
    let jpg = std::fs::read(fixtures().join("q75_420.jpg")).unwrap();
    let small = Limits {
        max_side: 95,
        max_bytes: u64::MAX,
    };
    assert!(matches!(
        decode(&jpg, small),
        Err(JpegError::TooLarge {
            width: 96,
            height: 80,
            ..
        })
    ));
    let few_bytes = Limits {
        max_side: 1000,
        max_bytes: 96 * 80 * 3 - 1,
    };
    assert!(matches!(
        decode(&jpg, few_bytes),
        Err(JpegError::TooLarge { .. })
    ));
}

#[test]
fn not_a_jpeg_and_empty_files_are_corrupt() {
    assert_eq!(
        decode(b"", LIMITS).unwrap_err(),
        JpegError::Corrupt(Corrupt::NoStartOfImage)
    );
    assert_eq!(
        decode(b"\x89PNG\r\n", LIMITS).unwrap_err(),
        JpegError::Corrupt(Corrupt::NoStartOfImage)
    );
    assert_eq!(
        decode(&[0xFF, 0xD8, 0xFF, 0xD9], LIMITS).unwrap_err(),
        JpegError::Corrupt(Corrupt::NoScan)
    );
}

/// A small deterministic generator (xorshift) for the damage tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn damaged_files_never_panic() {
    // Flipped bytes, overwritten runs and truncations of every fixture: each try must end in
    // an image or an error, without panicking (a panic fails the test).
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut files: Vec<Vec<u8>> = exact_fixtures().into_iter().map(|(_, j, _)| j).collect();
    for n in ["cmyk.jpg", "arithmetic.jpg", "incomplete_progressive.jpg"] {
        files.push(std::fs::read(fixtures().join(n)).unwrap());
    }
    let (mut decoded, mut refused) = (0usize, 0usize);
    for jpg in &files {
        for trial in 0..60 {
            let mut bad = jpg.clone();
            match trial % 4 {
                0 => {
                    let i = rng.below(bad.len());
                    bad[i] ^= 1 << rng.below(8);
                }
                1 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(bad.len());
                        bad[i] = rng.next() as u8;
                    }
                }
                2 => bad.truncate(rng.below(bad.len())),
                _ => {
                    let i = rng.below(bad.len());
                    let len = rng.below(16).min(bad.len() - i);
                    bad[i..i + len].fill(0xFF);
                }
            }
            match decode(&bad, LIMITS) {
                Ok(d) => {
                    assert!(d.image.width() > 0 && d.image.height() > 0);
                    decoded += 1;
                }
                Err(_) => refused += 1,
            }
        }
    }
    assert_eq!(decoded + refused, files.len() * 60);
    assert!(refused > 0, "no damage was noticed");
}
