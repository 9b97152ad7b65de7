#![allow(clippy::unwrap_used)]

use super::*;

/// A photo of two noisy textures: reddish on the left half, bluish on the right, with a
/// fixed pseudo-random grain so patches are distinguishable.
fn two_textures(w: u32, h: u32) -> RgbImage {
    let mut rng = nnf::SplitMix::new(&[42]);
    RgbImage::from_fn(w, h, |x, _| {
        let g = rng.below(60) as u8;
        if x < w / 2 {
            Rgb([170 + g, 40 + g / 2, 30])
        } else {
            Rgb([30, 60 + g / 2, 160 + g])
        }
    })
}

/// A periodic texture (period 9 × 7) that patches can reproduce exactly.
fn stripes(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let a = ((x % 9) * 25) as u8;
        let b = ((y % 7) * 30) as u8;
        Rgb([a, b, a / 2 + b / 2])
    })
}

fn square_mask(w: u32, h: u32, x0: u32, y0: u32, x1: u32, y1: u32) -> Mask {
    Mask::from_hole_fn(w, h, |x, y| x >= x0 && x < x1 && y >= y0 && y < y1)
}

fn run(photo: &RgbImage, mask: &Mask, guide: Option<Guide<'_>>, seed: u64) -> Result<RgbImage> {
    synthesize(
        photo,
        mask,
        guide,
        &DetailParams::default(),
        seed,
        &mut |_| true,
    )
}

fn assert_known_unchanged(photo: &RgbImage, mask: &Mask, out: &RgbImage) {
    assert_eq!(photo.dimensions(), out.dimensions());
    for (i, (a, b)) in photo.pixels().zip(out.pixels()).enumerate() {
        if mask.holes()[i] == 0 {
            assert_eq!(a, b, "known pixel {i} changed");
        }
    }
}

fn hole_mean(img: &RgbImage, mask: &Mask) -> [f64; 3] {
    let mut s = [0.0f64; 3];
    let mut n = 0.0;
    for (i, p) in img.pixels().enumerate() {
        if mask.holes()[i] != 0 {
            for k in 0..3 {
                s[k] += f64::from(p[k]);
            }
            n += 1.0;
        }
    }
    s.map(|v| v / n)
}

#[test]
fn known_pixels_stay_byte_identical_with_and_without_a_guide() {
    let photo = two_textures(96, 80);
    let mask = square_mask(96, 80, 30, 20, 60, 50);
    let out = run(&photo, &mask, None, 0).unwrap();
    assert_known_unchanged(&photo, &mask, &out);
    let guide_img = RgbImage::from_pixel(96, 80, Rgb([200, 50, 40]));
    let g = Guide {
        image: &guide_img,
        scale: 4.0,
    };
    let out = run(&photo, &mask, Some(g), 0).unwrap();
    assert_known_unchanged(&photo, &mask, &out);
}

#[test]
fn a_periodic_texture_is_continued_exactly() {
    let photo = stripes(120, 100);
    let mask = square_mask(120, 100, 45, 35, 75, 65);
    let out = run(&photo, &mask, None, 3).unwrap();
    let mut se = 0.0f64;
    let mut n = 0.0;
    for (i, (a, b)) in photo.pixels().zip(out.pixels()).enumerate() {
        if mask.holes()[i] != 0 {
            for k in 0..3 {
                se += (f64::from(a[k]) - f64::from(b[k])).powi(2);
            }
            n += 3.0;
        }
    }
    let psnr = 10.0 * (255.0f64.powi(2) / (se / n).max(1e-9)).log10();
    assert!(psnr > 30.0, "hole PSNR {psnr:.1} dB on a periodic texture");
}

#[test]
fn the_guide_decides_which_texture_fills_the_hole() {
    // The hole straddles both textures; a red guide fills it with the red texture, a blue
    // guide with the blue one: different samples stay different after detailing.
    let (w, h) = (128, 96);
    let photo = two_textures(w, h);
    let mask = square_mask(w, h, 44, 28, 84, 68);
    let mut means = Vec::new();
    for colour in [Rgb([190u8, 55, 30]), Rgb([30u8, 75, 190])] {
        let mut gi = photo.clone();
        for (i, p) in gi.pixels_mut().enumerate() {
            if mask.holes()[i] != 0 {
                *p = colour;
            }
        }
        let g = Guide {
            image: &gi,
            scale: 8.0,
        };
        let out = run(&photo, &mask, Some(g), 1).unwrap();
        assert_known_unchanged(&photo, &mask, &out);
        means.push(hole_mean(&out, &mask));
    }
    let (red, blue) = (means[0], means[1]);
    assert!(red[0] > red[2] + 80.0, "red guide gave {red:?}");
    assert!(blue[2] > blue[0] + 80.0, "blue guide gave {blue:?}");
}

#[test]
fn the_fill_is_real_texture_not_a_blur() {
    // Gradient energy inside the hole is close to the photo's (a blur would be far below).
    let photo = two_textures(128, 96);
    let mask = square_mask(128, 96, 10, 30, 50, 70);
    let smooth = RgbImage::from_pixel(128, 96, Rgb([185, 55, 30]));
    let out = run(
        &photo,
        &mask,
        Some(Guide {
            image: &smooth,
            scale: 8.0,
        }),
        5,
    )
    .unwrap();
    let energy = |img: &RgbImage| {
        let mut e = 0.0f64;
        for y in 30..69 {
            for x in 10..49 {
                let a = img.get_pixel(x, y);
                let b = img.get_pixel(x + 1, y);
                let c = img.get_pixel(x, y + 1);
                for k in 0..3 {
                    e += (f64::from(a[k]) - f64::from(b[k])).abs()
                        + (f64::from(a[k]) - f64::from(c[k])).abs();
                }
            }
        }
        e
    };
    let ratio = energy(&out) / energy(&photo);
    assert!((0.6..1.4).contains(&ratio), "sharpness ratio {ratio:.2}");
}

#[test]
fn the_same_seed_gives_the_same_pixels_and_other_seeds_may_differ() {
    let photo = two_textures(96, 80);
    let mask = square_mask(96, 80, 30, 20, 60, 50);
    let a = run(&photo, &mask, None, 11).unwrap();
    let b = run(&photo, &mask, None, 11).unwrap();
    assert_eq!(a, b);
    let c = run(&photo, &mask, None, 12).unwrap();
    assert_ne!(a, c, "a different seed searched the same way");
    // Also on one thread: the result does not depend on the thread count.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let d = pool.install(|| run(&photo, &mask, None, 11).unwrap());
    assert_eq!(a, d);
}

#[test]
fn holes_touching_the_border_and_corner_are_filled() {
    let photo = two_textures(100, 90);
    for mask in [
        square_mask(100, 90, 0, 20, 25, 60),   // left edge
        square_mask(100, 90, 70, 60, 100, 90), // bottom-right corner
        square_mask(100, 90, 20, 0, 80, 12),   // top edge, wide
    ] {
        let out = run(&photo, &mask, None, 0).unwrap();
        assert_known_unchanged(&photo, &mask, &out);
        // Every hole pixel was written with a texture colour (not left as it was: the photo
        // had real pixels there, so check plausibility instead: within the photo's range).
        for (i, p) in out.pixels().enumerate() {
            if mask.holes()[i] != 0 {
                assert!(p[0] >= 25 && p[2] >= 25, "implausible fill {p:?} at {i}");
            }
        }
    }
}

#[test]
fn a_one_pixel_wide_stroke_is_filled() {
    let photo = stripes(80, 60);
    let mask = Mask::from_hole_fn(80, 60, |x, y| x == y + 10);
    let out = run(&photo, &mask, None, 0).unwrap();
    assert_known_unchanged(&photo, &mask, &out);
    let mut bad = 0;
    for (i, (a, b)) in photo.pixels().zip(out.pixels()).enumerate() {
        if mask.holes()[i] != 0 && (0..3).any(|k| a[k].abs_diff(b[k]) > 40) {
            bad += 1;
        }
    }
    assert!(
        bad * 10 < mask.hole_count(),
        "{bad} of {} stroke pixels off",
        mask.hole_count()
    );
}

#[test]
fn a_hole_leaving_one_known_row_is_refused_with_a_clear_message() {
    let photo = stripes(64, 48);
    let mask = Mask::from_hole_fn(64, 48, |_, y| y != 0);
    let err = run(&photo, &mask, None, 0).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Input(_)), "{err:?}");
    assert!(
        msg.contains("too few known pixels") && msg.contains("7×7"),
        "{msg}"
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let photo = stripes(64, 48);
    let empty = Mask::new_empty(64, 48);
    assert!(matches!(run(&photo, &empty, None, 0), Err(Error::Input(_))));
    let wrong = Mask::new_empty(10, 10);
    assert!(matches!(run(&photo, &wrong, None, 0), Err(Error::Shape(_))));
    let tiny = stripes(5, 5);
    let m = square_mask(5, 5, 1, 1, 3, 3);
    assert!(matches!(run(&tiny, &m, None, 0), Err(Error::Input(_))));
    let small_guide = stripes(8, 8);
    let m = square_mask(64, 48, 10, 10, 20, 20);
    let g = Guide {
        image: &small_guide,
        scale: 2.0,
    };
    assert!(matches!(run(&photo, &m, Some(g), 0), Err(Error::Shape(_))));
}

#[test]
fn progress_rises_to_one_and_false_cancels() {
    let photo = two_textures(96, 80);
    let mask = square_mask(96, 80, 30, 20, 60, 50);
    let mut seen = Vec::new();
    synthesize(&photo, &mask, None, &DetailParams::default(), 0, &mut |f| {
        seen.push(f);
        true
    })
    .unwrap();
    assert!(seen.windows(2).all(|w| w[1] >= w[0]), "{seen:?}");
    assert!(
        (seen.last().copied().unwrap_or(0.0) - 1.0).abs() < 1e-4,
        "{seen:?}"
    );
    let r = synthesize(
        &photo,
        &mask,
        None,
        &DetailParams::default(),
        0,
        &mut |_| false,
    );
    assert!(matches!(r, Err(Error::Cancelled)));
}

#[test]
fn lowpass_of_a_constant_is_the_constant() {
    let img = [0.2f32, 0.4, 0.6].repeat(35);
    let out = lowpass(&img, 7, 5, 3);
    for v in out.chunks(3) {
        assert!((v[0] - 0.2).abs() < 1e-6 && (v[2] - 0.6).abs() < 1e-6);
    }
}
