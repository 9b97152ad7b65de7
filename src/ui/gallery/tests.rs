//! Gallery unit tests.
#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn samples_of_other_generations_are_ignored_and_the_first_is_selected() {
    let ctx = egui::Context::default();
    let mut g = Gallery::default();
    g.begin(3, &[10, 11, 12], (64, 48), false);
    let img = Arc::new(RgbImage::new(64, 48));
    assert!(!g.add(&ctx, 2, 0, 10, img.clone(), &img, 0.1));
    assert!(!g.add(&ctx, 3, 0, 99, img.clone(), &img, 0.1));
    assert!(g.add(&ctx, 3, 1, 11, img.clone(), &img, 0.1));
    assert_eq!(g.selected, Some(1));
    assert_eq!(g.finished(), 1);
    assert_eq!(g.selected_sample().unwrap().0, 11);
}

#[test]
fn detailed_versions_replace_the_raw_ones_unless_raw_is_asked_for() {
    let ctx = egui::Context::default();
    let mut g = Gallery::default();
    g.begin(1, &[5, 6], (64, 48), true);
    let raw = Arc::new(RgbImage::new(64, 48));
    let fine = Arc::new(RgbImage::from_pixel(64, 48, image::Rgb([9, 9, 9])));
    assert!(g.add(&ctx, 1, 0, 5, raw.clone(), &raw, 0.1));
    assert_eq!(g.tiles[0].detail, DetailStatus::Waiting);
    g.set_detail(1, 0, DetailStatus::Running(0.5));
    assert_eq!(g.tiles[0].detail, DetailStatus::Running(0.5));
    assert!(!g.add_detailed(&ctx, 2, 0, 5, fine.clone(), &fine, 1.0));
    assert!(g.add_detailed(&ctx, 1, 0, 5, fine.clone(), &fine, 1.0));
    assert!(Arc::ptr_eq(&g.selected_sample().unwrap().1, &fine));
    g.set_show_raw(true);
    assert!(Arc::ptr_eq(&g.selected_sample().unwrap().1, &raw));
    g.set_show_raw(false);
    assert!(Arc::ptr_eq(&g.selected_sample().unwrap().1, &fine));
    assert_eq!(g.detailed(), 1);
    // A finished slot keeps Done; the unfinished one stops waiting when the request ends.
    g.set_detail(1, 0, DetailStatus::Running(0.1));
    assert_eq!(g.tiles[0].detail, DetailStatus::Done);
    g.detail_stopped(1);
    assert_eq!(g.tiles[1].detail, DetailStatus::Off);
}

fn scores(seam: f32, realism: Option<f32>) -> Result<SampleScores, String> {
    use crate::steer::score::{Realism, SeamScore};
    Ok(SampleScores {
        seam: SeamScore {
            score: seam,
            colour_step: 0.0,
            gradient_step: 0.0,
            reference_colour_step: 1.0,
            reference_gradient_step: 1.0,
        },
        realism: realism.map_or(Realism::NoDiscriminator, |value| Realism::Score { value }),
    })
}

#[test]
fn sorting_orders_slots_by_the_shown_versions_scores_and_keeps_indices() {
    let ctx = egui::Context::default();
    let mut g = Gallery::default();
    g.begin(1, &[10, 11, 12, 13], (64, 48), true);
    let img = Arc::new(RgbImage::new(64, 48));
    for i in 0..3 {
        assert!(g.add(&ctx, 1, i, 10 + i as u64, img.clone(), &img, 0.1));
    }
    assert!(g.set_scores(1, 0, false, scores(3.0, Some(0.1))));
    assert!(g.set_scores(1, 1, false, scores(1.0, Some(-1.0))));
    assert!(g.set_scores(1, 2, false, Err("no".into())));
    assert!(!g.set_scores(2, 0, false, scores(0.1, None)));
    assert_eq!(g.display_order(), vec![0, 1, 2, 3]);
    g.sort = SortBy::Seam;
    assert_eq!(g.display_order(), vec![1, 0, 2, 3]);
    g.sort = SortBy::Realism;
    assert_eq!(g.display_order(), vec![0, 1, 2, 3]);
    // The detailed version's scores count once it is shown.
    assert!(g.add_detailed(&ctx, 1, 0, 10, img.clone(), &img, 1.0));
    assert!(g.set_scores(1, 0, true, scores(0.5, Some(-2.0))));
    g.sort = SortBy::Seam;
    assert_eq!(g.display_order(), vec![0, 1, 2, 3]);
    g.set_show_raw(true);
    assert_eq!(g.display_order(), vec![1, 0, 2, 3]);
}
