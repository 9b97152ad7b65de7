//! Tests of the document: strokes, shapes, fills, undo and the kept hole extents.
#![allow(clippy::unwrap_used)]

use super::*;

fn doc(w: u32, h: u32) -> Document {
    let mut d = Document::new(RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30])), None);
    d.take_dirty();
    d
}

#[test]
fn stroke_undo_redo_restore_the_mask() {
    let mut d = doc(64, 48);
    d.begin_stroke((10.0, 10.0), None, 3.0, true);
    d.extend_stroke((30.0, 10.0), None);
    d.end_stroke();
    let painted = d.mask().clone();
    assert!(painted.is_hole(20, 10));
    assert!(!painted.is_hole(20, 20));
    assert!(d.mask_unsaved());
    let dirty = d.take_dirty().mask.unwrap();
    assert!(dirty.x0 <= 7 && dirty.x1 >= 33 && dirty.y0 <= 7 && dirty.y1 >= 13);
    // The eraser removes part of it.
    d.begin_stroke((20.0, 10.0), None, 4.0, false);
    d.end_stroke();
    assert!(!d.mask().is_hole(20, 10));
    assert!(d.mask().is_hole(10, 10));
    assert_eq!(d.undo().as_deref(), Some("eraser"));
    assert_eq!(d.mask(), &painted);
    assert_eq!(d.undo().as_deref(), Some("brush"));
    assert_eq!(d.mask().hole_count(), 0);
    assert!(!d.mask_unsaved());
    assert_eq!(d.redo().as_deref(), Some("brush"));
    assert_eq!(d.mask(), &painted);
    assert!(d.undo().is_some());
    assert!(d.undo().is_none());
}

#[test]
fn the_kept_bbox_follows_every_edit() {
    let mut d = doc(80, 60);
    assert_eq!(d.hole_bbox(), None);
    d.begin_stroke((10.0, 10.0), None, 3.0, true);
    d.extend_stroke((50.0, 40.0), None);
    d.end_stroke();
    assert_eq!(d.hole_bbox(), d.mask().bbox());
    d.begin_stroke((10.0, 10.0), None, 8.0, false);
    d.end_stroke();
    assert_eq!(d.hole_bbox(), d.mask().bbox());
    d.apply_shape(MaskOp::Lasso {
        points: vec![(60.0, 5.0), (75.0, 5.0), (70.0, 20.0)],
        hole: true,
    });
    assert_eq!(d.hole_bbox(), d.mask().bbox());
    d.undo();
    d.undo();
    assert_eq!(d.hole_bbox(), d.mask().bbox());
    d.redo();
    assert_eq!(d.hole_bbox(), d.mask().bbox());
}

#[test]
fn pen_pressure_sets_the_width_along_the_stroke_and_is_kept_as_data() {
    let mut d = doc(100, 40);
    // Light at the left, full at the right: a wedge from 1 px to 10 px radius.
    d.begin_stroke((10.0, 20.0), Some(0.1), 10.0, true);
    d.extend_stroke((50.0, 20.0), Some(0.55));
    d.extend_stroke((90.0, 20.0), Some(1.0));
    d.end_stroke();
    let col = |x: u32| (0..40).filter(|&y| d.mask().is_hole(x, y)).count();
    assert!(col(12) <= 3, "thin end {}", col(12));
    assert!((10..=12).contains(&col(50)), "middle {}", col(50));
    assert!(col(88) >= 19, "thick end {}", col(88));
    // Undo/redo restore it exactly; the history keeps the pressures.
    let painted = d.mask().clone();
    let ops: Vec<_> = d.history().map(|e| e.kind.clone()).collect();
    assert!(matches!(
        ops.last(),
        Some(EditKind::Mask(MaskOp::Stroke { pressures, .. })) if pressures == &[0.1, 0.55, 1.0]
    ));
    d.undo();
    assert_eq!(d.mask().hole_count(), 0);
    d.redo();
    assert_eq!(d.mask(), &painted);
    // No pressure reported: the plain brush; a pressure of 0 still paints the floor width.
    let mut e = doc(100, 40);
    e.begin_stroke((10.0, 20.0), None, 10.0, true);
    e.extend_stroke((90.0, 20.0), None);
    e.end_stroke();
    assert_eq!((0..40).filter(|&y| e.mask().is_hole(50, y)).count(), 20);
    let mut f = doc(100, 40);
    f.begin_stroke((10.0, 20.0), Some(0.0), 10.0, true);
    f.extend_stroke((90.0, 20.0), Some(f32::NAN));
    f.end_stroke();
    assert_eq!((0..40).filter(|&y| f.mask().is_hole(50, y)).count(), 2);
}

#[test]
fn a_stroke_that_changes_nothing_is_not_recorded() {
    let mut d = doc(16, 16);
    d.begin_stroke((5.0, 5.0), None, 2.0, false);
    d.end_stroke();
    assert!(!d.can_undo());
}

#[test]
fn fill_apply_is_one_undoable_step_and_clears_the_mask() {
    let mut d = doc(32, 32);
    d.apply_shape(MaskOp::Rect {
        a: (4.0, 4.0),
        b: (12.0, 10.0),
        hole: true,
    });
    assert_eq!(d.mask().hole_count(), 8 * 6);
    let before = d.photo().as_ref().clone();
    let mut filled = before.clone();
    for y in 4..10 {
        for x in 4..12 {
            filled.put_pixel(x, y, image::Rgb([200, 0, 0]));
        }
    }
    assert!(d.apply_fill(&filled, 7));
    assert_eq!(d.photo().as_ref(), &filled);
    assert_eq!(d.mask().hole_count(), 0);
    assert!(d.photo_unsaved());
    d.mark_photo_saved();
    assert!(!d.photo_unsaved());
    assert_eq!(d.undo().as_deref(), Some("apply fill (seed 7)"));
    assert_eq!(d.photo().as_ref(), &before);
    assert_eq!(d.mask().hole_count(), 48);
    assert!(d.photo_unsaved());
    d.redo();
    assert_eq!(d.photo().as_ref(), &filled);
    assert!(!d.photo_unsaved());
    assert!(!d.apply_fill(&RgbImage::new(3, 3), 1));
}

#[test]
fn polygon_and_rect_fills_cover_pixel_centres() {
    let mut m = Mask::new_empty(10, 10);
    assert!(fill_polygon(
        &mut m,
        &[(2.0, 2.0), (8.0, 2.0), (8.0, 8.0), (2.0, 8.0)],
        true
    ));
    assert_eq!(m.hole_count(), 36);
    assert_eq!(m.bbox(), Some((2, 2, 8, 8)));
    let mut t = Mask::new_empty(10, 10);
    fill_polygon(&mut t, &[(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)], true);
    // The lower-left triangle of pixel centres: x + y + 1 < 10.
    assert_eq!(t.hole_count(), (1..=9).sum::<usize>());
    let mut r = Mask::new_empty(10, 10);
    assert!(fill_rect(&mut r, (8.0, 8.0), (2.0, 2.0), true));
    assert_eq!(r, m);
    assert!(!fill_rect(&mut r, (3.2, 3.2), (3.4, 3.4), true));
    assert!(!fill_polygon(&mut r, &[(0.0, 0.0), (1.0, 1.0)], true));
}

#[test]
fn diff_rect_finds_the_changed_box() {
    let a = vec![0u8; 5 * 4];
    let mut b = a.clone();
    b[5 + 1] = 1;
    b[2 * 5 + 3] = 1;
    assert_eq!(
        diff_rect(&a, &b, 5, 1),
        Some(PixelRect {
            x0: 1,
            y0: 1,
            x1: 4,
            y1: 3
        })
    );
    assert_eq!(diff_rect(&a, &a, 5, 1), None);
}
