use std::sync::OnceLock;

use super::*;
use crate::phantom::anatomy::{Anatomy, AnatomySpec, Export};

const ROWS: usize = 560;
const COLS: usize = 400;
const SPACING: f64 = 0.34;

/// A generated spine small enough to make quickly in a debug build (190 × 136 mm).
fn anatomy(seed: u64, export: Export) -> (Anatomy, Frame) {
    let a = Anatomy::generate(AnatomySpec {
        rows: ROWS,
        cols: COLS,
        spacing_mm: SPACING,
        export,
        seed,
    })
    .unwrap();
    let pixels = a.phantom.values.iter().map(|&v| v as u16).collect();
    let frame = Frame::new(ROWS, COLS, pixels).unwrap();
    (a, frame)
}

/// The display export every invariance test starts from, made once.
fn display() -> &'static (Anatomy, Frame) {
    static SPINE: OnceLock<(Anatomy, Frame)> = OnceLock::new();
    SPINE.get_or_init(|| anatomy(7, Export::Display))
}

/// Locates on a test image, its extremes as the pipeline reads them.
fn located(frame: &Frame, inverted: bool) -> Result<Location, String> {
    locate(
        frame,
        crate::region::extremes(frame),
        Some((SPACING, SPACING)),
        inverted,
    )
}

fn found(frame: &Frame) -> Location {
    located(frame, false).unwrap()
}

/// Intersection over union of two polygons on the test images' grid.
fn iou(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    let frame = Frame::new(ROWS, COLS, vec![0; ROWS * COLS]).unwrap();
    let mask = |p: &[(f64, f64)]| {
        let shape = crate::region::Shape::Polygon(p.to_vec());
        let patch = crate::region::Patch::cut(&frame, &shape, None).unwrap();
        let mut m = vec![false; ROWS * COLS];
        let inside = patch.kept.mask(&frame.pixels).expect("a polygon's mask");
        for (i, &v) in inside.as_bytes().iter().enumerate() {
            m[(patch.top + i / patch.cols) * COLS + patch.left + i % patch.cols] = v == 1;
        }
        m
    };
    let (ma, mb) = (mask(a), mask(b));
    let both = ma.iter().zip(&mb).filter(|(x, y)| **x && **y).count();
    let either = ma.iter().zip(&mb).filter(|(x, y)| **x || **y).count();
    both as f64 / either.max(1) as f64
}

/// The largest distance between corresponding vertices of two locations, `b`'s mapped back by
/// `back` into `a`'s image; vertices matched to the nearest, so a mirror's swapped corners match.
fn farthest(a: &Location, b: &Location, back: impl Fn((f64, f64)) -> (f64, f64)) -> f64 {
    let mut worst: f64 = 0.0;
    for (va, vb) in a.vertebrae.iter().zip(&b.vertebrae) {
        for &p in va {
            let nearest = vb
                .iter()
                .map(|&q| {
                    let q = back(q);
                    ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
                })
                .fold(f64::INFINITY, f64::min);
            worst = worst.max(nearest);
        }
    }
    worst
}

fn with_pixels(frame: &Frame, rows: usize, cols: usize, at: impl Fn(usize, usize) -> u16) -> Frame {
    let pixels = (0..rows * cols).map(|i| at(i / cols, i % cols)).collect();
    Frame::new(rows, cols, pixels).unwrap_or_else(|_| frame.clone())
}

#[test]
fn finds_each_vertebra_of_generated_spines_with_its_label() {
    for seed in [3, 11] {
        let (a, frame) = anatomy(seed, Export::Display);
        let location = found(&frame);
        for (k, (truth, got)) in a.vertebrae.iter().zip(&location.vertebrae).enumerate() {
            let overlap = iou(truth, got);
            assert!(overlap > 0.8, "seed {seed} {}: IoU {overlap}", LABELS[k]);
        }
        assert!(location.quality >= REVIEW_BELOW, "{}", location.quality);
        // Five disc lines, top to bottom, and the crests below the last but one.
        let rows: Vec<f64> = location
            .discs
            .iter()
            .map(|d| (d.0 .1 + d.1 .1) / 2.0)
            .collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        let crest = (location.crests.0 .1 + location.crests.1 .1) / 2.0;
        assert!(crest > rows[3], "crests at {crest}, discs {rows:?}");
    }
}

#[test]
fn a_mirrored_image_gives_the_same_vertebrae() {
    let (_, frame) = display();
    let mirrored = with_pixels(frame, ROWS, COLS, |r, c| {
        frame.pixels[r * COLS + COLS - 1 - c]
    });
    let d = farthest(&found(frame), &found(&mirrored), |(x, y)| {
        (COLS as f64 - x, y)
    });
    assert!(d <= 2.0, "{d} px");
}

#[test]
fn a_shifted_image_gives_the_same_vertebrae() {
    let (_, frame) = display();
    let (dx, dy) = (13, 7);
    let (rows, cols) = (ROWS + dy, COLS + dx);
    let shifted = with_pixels(frame, rows, cols, |r, c| {
        match (r.checked_sub(dy), c.checked_sub(dx)) {
            (Some(r), Some(c)) => frame.pixels[r * COLS + c],
            _ => 0,
        }
    });
    let d = farthest(&found(frame), &found(&shifted), |(x, y)| {
        (x - dx as f64, y - dy as f64)
    });
    assert!(d <= 2.0, "{d} px");
}

#[test]
fn an_image_cropped_by_20_rows_or_columns_gives_the_same_vertebrae() {
    let (_, frame) = display();
    let whole = found(frame);
    let rows = with_pixels(frame, ROWS - 20, COLS, |r, c| {
        frame.pixels[(r + 20) * COLS + c]
    });
    let d = farthest(&whole, &found(&rows), |(x, y)| (x, y + 20.0));
    assert!(d <= 2.0, "rows: {d} px");
    let cols = with_pixels(frame, ROWS, COLS - 20, |r, c| {
        frame.pixels[r * COLS + c + 20]
    });
    let d = farthest(&whole, &found(&cols), |(x, y)| (x + 20.0, y));
    assert!(d <= 2.0, "columns: {d} px");
}

#[test]
fn a_regraded_or_monochrome1_image_gives_the_same_vertebrae() {
    let (_, frame) = display();
    let whole = found(frame);
    let regraded = with_pixels(frame, ROWS, COLS, |r, c| {
        3 * frame.pixels[r * COLS + c] + 100
    });
    assert!(farthest(&whole, &found(&regraded), |p| p) <= 2.0);
    let inverted = with_pixels(frame, ROWS, COLS, |r, c| 4095 - frame.pixels[r * COLS + c]);
    let as_stored = located(&inverted, true).unwrap();
    assert!(farthest(&whole, &as_stored, |p| p) <= 2.0);
}

#[test]
fn a_12_bit_export_of_the_same_spine_gives_the_same_vertebrae() {
    let (_, frame) = display();
    let (_, raw) = anatomy(7, Export::Raw(12));
    let d = farthest(&found(frame), &found(&raw), |p| p);
    assert!(d <= 2.0, "{d} px");
}

#[test]
fn what_is_not_a_spine_fails_and_says_which_step() {
    let flat = Frame::new(ROWS, COLS, vec![100; ROWS * COLS]).unwrap();
    let e = located(&flat, false).unwrap_err();
    assert!(e.starts_with("no spine found"), "{e}");
    let small = Frame::new(100, 100, vec![100; 10_000]).unwrap();
    let e = located(&small, false).unwrap_err();
    assert!(e.contains("too small"), "{e}");
    // The spine's lower part cut away: the crests are gone.
    let (_, frame) = display();
    let top = with_pixels(frame, 400, COLS, |r, c| frame.pixels[r * COLS + c]);
    let e = located(&top, false).unwrap_err();
    assert!(e.contains("crests") || e.contains("discs"), "{e}");
}
